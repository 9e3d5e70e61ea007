#!/bin/bash
# bash completion of sync_manager, driven the way bash drives it.
source "$(dirname "$0")/lib.sh"
[[ -r /usr/share/bash-completion/bash_completion ]] || { echo "bash-completion not installed: skipped"; exit 77; }
# complete_line LINE [FUNCTION]: what FUNCTION (default _sync_manager) offers for LINE.
complete_line() {
	bash --norc -c '
		source /usr/share/bash-completion/bash_completion
		source "$1"
		read -ra COMP_WORDS <<< "$2"
		[[ $2 == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
		COMP_LINE=$2; COMP_POINT=${#COMP_LINE}
		"$3"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$SM_SRC/dist/bash-completion/sync_manager" "$1" "${2:-_sync_manager}"
}
t_match "commands" "^status$" "$(complete_line "sync_manager sta")"
t_match "run options" "^--receive$" "$(complete_line "sync_manager run --rec")"
t_match "resource actions" "^add$" "$(complete_line "sync_manager resource ")"
t_match "direct actions" "^acquire$" "$(complete_line "sync_manager direct ac")"
t_match "sector sizes" "^4096$" "$(complete_line "sync_manager init x --sector-size ")"
t_match "init --force-live" "^--force-live$" "$(complete_line "sync_manager init x --force-l")"
t_match "timeouts --json" "^--json$" "$(complete_line "sync_manager timeouts --j")"
t_match "sync_managerd options" "^--check-config$" "$(complete_line "sync_managerd --che" _sync_managerd)"
t_match "sync_managerd log levels" "^debug$" "$(complete_line "sync_managerd -l " _sync_managerd)"

# run -l: the lockspaces of the running daemon, as LOCKSPACE:
if [[ $(id -u) -eq 0 ]]; then
	export SYNC_MANAGER_RUN_DIR=$T_DIR/run PATH=$SM_BIN:$PATH
	mkdir -p "$SYNC_MANAGER_RUN_DIR"
	printf 'watchdog = none\nlog_level = warn\n' > "$T_DIR/d.conf"
	SYNC_MANAGERD_CONFIG=$T_DIR/d.conf "$SMD" -D >> "$T_DIR/daemon.log" 2>&1 &
	T_PIDS+=("$!")
	for ((i = 0; i < 100; i++)); do "$SM" status >/dev/null 2>&1 && break; sleep 0.1; done
	t_run "format a volume" -- "$SM" init "$T_DIR/v" --lockspace vmstore --max-hosts 2 --resources 1 --io-timeout 0.1
	t_run "join it" -- "$SM" join "$T_DIR/v" --host-id 1
	t_match "run -l offers the joined lockspace" "^vmstore:$" "$(complete_line "sync_manager run -l vm")"
	t_match "run --lease too" "^vmstore:$" "$(complete_line "sync_manager run --lease ")"
	"$SM" leave vmstore >/dev/null 2>&1
	"$SM" shutdown >/dev/null 2>&1
else
	t_log "not root: run -l completion against a daemon not checked"
fi
t_done
