#!/bin/bash
# bash completion of sync_manager, driven the way bash drives it.
source "$(dirname "$0")/lib.sh"
[[ -r /usr/share/bash-completion/bash_completion ]] || { echo "bash-completion not installed: skipped"; exit 77; }
complete_line() {
	bash --norc -c '
		source /usr/share/bash-completion/bash_completion
		source "$1"
		read -ra COMP_WORDS <<< "$2"
		[[ $2 == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
		COMP_LINE=$2; COMP_POINT=${#COMP_LINE}
		_sync_manager
		printf "%s\n" "${COMPREPLY[@]}"' _ "$SM_SRC/dist/bash-completion/sync_manager" "$1"
}
t_match "commands" "^status$" "$(complete_line "sync_manager sta")"
t_match "run options" "^--receive$" "$(complete_line "sync_manager run --rec")"
t_match "resource actions" "^add$" "$(complete_line "sync_manager resource ")"
t_match "direct actions" "^acquire$" "$(complete_line "sync_manager direct ac")"
t_match "sector sizes" "^4096$" "$(complete_line "sync_manager init x --sector-size ")"
t_match "init --force-live" "^--force-live$" "$(complete_line "sync_manager init x --force-l")"
t_done
