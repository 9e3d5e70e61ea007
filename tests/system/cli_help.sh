#!/bin/bash
# The CLI's help and usage errors, as a new user meets them (no daemon needed; a few
# seconds): 'COMMAND --help' explains every option of its synopsis, '-v' is explained,
# an unknown option is a usage error (exit 2) for every command before it does anything,
# and init says each error once.
source "$(dirname "$0")/lib.sh"
export SYNC_MANAGER_RUN_DIR=$T_DIR/run # no daemon here
CMDS=(status join leave hosts renewals run acquire release inquire convert request metrics shutdown daemon init dump
	resource timeouts direct)

t_run "sync_manager --help" -- "$SM" --help
t_match "explains -v" "^  -v, --verbose +also print .*info" "$T_OUT"
t_match "and -v -v" "twice \(-v -v\) also debug" "$T_OUT"
for c in "${CMDS[@]}"; do
	t_run "$c --help" -- "$SM" "$c" --help || continue
	help=$T_OUT
	# the options of the synopsis (the usage lines up to the first blank line)
	syn=$(awk 'NR == 1, /^$/' <<<"$help" | grep -oE -- '(^|[ [|])--?[a-z][a-z-]*' | sed 's/^[ [|]//' | sort -u)
	missing=()
	for o in $syn; do
		grep -qE -- "^  (-[a-z], )?$o([ ,=[]|$)|^  --[a-z-]+, $o " <<<"$help" || missing+=("$o")
	done
	if ((${#missing[@]})); then t_fail "$c --help does not explain: ${missing[*]}"$'\n'"$help"
	else t_ok "$c --help explains each of its ${syn//$'\n'/ } options"; fi
	t_match "$c --help has an Options section" "^Options:$" "$help"
done
t_run "init --help names the defaults" -- "$SM" init --help
t_match "io-timeout default" "--io-timeout SEC +io_timeout d \(default 10\)" "$T_OUT"
t_match "max-hosts default" "--max-hosts N +host slots \(default 128\)" "$T_OUT"
t_run "daemon --help documents -r and the 60 s wait" -- "$SM" daemon --help
t_match "-r" "^  -r, --receive-lease +receive the one lease" "$T_OUT"
t_match "60 s" "^Waits up to 60 s" "$T_OUT"

# an unknown option is bad usage, for every command, before it does anything
for c in "${CMDS[@]}"; do
	T_OUT=$("$SM" "$c" --bogus 2>&1); rc=$?
	((rc == 2)) && t_ok "$c --bogus: exit 2" || t_fail "$c --bogus: exit $rc, expected 2: $T_OUT"
done
T_OUT=$("$SM" metrics --json 2>&1); rc=$?
((rc == 2)) && t_ok "metrics --json (no such option): exit 2" || t_fail "metrics --json: exit $rc: $T_OUT"
T_OUT=$("$SM" shutdown now 2>&1); rc=$?
((rc == 2)) && t_ok "shutdown with an argument: exit 2" || t_fail "shutdown now: exit $rc: $T_OUT"
# --help after '--' belongs to the command that run starts
T_OUT=$("$SM" run -l ls:r -- grep --help 2>&1); rc=$?
[[ $T_OUT != *"Options:"* && $T_OUT == *"sync_managerd is not running"* ]] && t_ok "run ... -- CMD --help runs CMD" ||
	t_fail "run ... -- CMD --help: $T_OUT"

# init: each error once
V=$T_DIR/v
t_run "init" -- "$SM" init "$V" --lockspace a --max-hosts 2 --resources 1
for args in "--lockspace a" "--lockspace bad:name" "--lockspace a --resource bad/name --force-live"; do
	T_OUT=$("$SM" init "$V" $args 2>&1); rc=$?
	n=$(grep -c '^sync_manager' <<<"$T_OUT")
	((rc == 1 && n == 1)) && t_ok "init $args: one error line: $T_OUT" || t_fail "init $args: exit $rc, $n lines: $T_OUT"
done
t_done
