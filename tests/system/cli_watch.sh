#!/bin/bash
# What a user at a terminal sees while a daemon works (about 30 s): the join's progress
# line counts down the time left; 'status --watch' at an 80-column terminal draws no line
# wider than the terminal, and keeps watching when sync_managerd dies, saying it is down,
# until it is back.
export SM_TEST_TMPDIR=/var/tmp # O_DIRECT volume, short socket path
source "$(dirname "$0")/lib.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (the daemon's run directory)"; exit 77; }
command -v script >/dev/null || { echo "needs script(1)"; exit 77; }
export SYNC_MANAGER_RUN_DIR=$T_DIR/run
mkdir -m 0755 "$SYNC_MANAGER_RUN_DIR"
printf 'watchdog = none\nhost_name = a-rather-long-host-name-for-the-table\n' > "$T_DIR/d.conf"
start_daemon() {
	SYNC_MANAGERD_CONFIG=$T_DIR/d.conf "$SMD" -D >> "$T_DIR/daemon.log" 2>&1 &
	DPID=$!
	T_PIDS+=("$DPID")
	for ((i = 0; i < 100; i++)); do [[ -S $SYNC_MANAGER_RUN_DIR/sync_managerd.sock ]] && return 0; sleep 0.1; done
	t_fail "the daemon did not start: $(cat "$T_DIR/daemon.log")"
}
start_daemon
V=$T_DIR/a-volume-with-a-long-name-so-that-the-volume-column-is-wide/leases
mkdir -p "${V%/*}"
t_run "format (d = 4 s: the join waits 8.1 s)" -- "$SM" init "$V" --lockspace watched --max-hosts 4 --resources 4 \
	--io-timeout 4 --watchdog-timeout 3 --resource vm-0123456789abcdef0123456789abcdef0123
t_run "join" -- "$SM" join "$V"
mapfile -t left < <(grep -oE 'at most [0-9.]+ s left' <<<"$T_OUT" | grep -oE '[0-9.]+')
if ((${#left[@]} >= 2)) && awk -v a="${left[0]}" -v b="${left[-1]}" 'BEGIN { exit !(b <= a - 4) }'; then
	t_ok "the progress line counts down: ${left[*]} s left"
else
	t_fail "the time left does not count down (${left[*]}): $T_OUT"
fi
"$SM" run -l watched:vm-0123456789abcdef0123456789abcdef0123 --name a-holder-with-a-long-name -- sleep 300 \
	> "$T_DIR/run.log" 2>&1 &
T_PIDS+=("$!")
for ((i = 0; i < 100; i++)); do grep -q acquired "$T_DIR/run.log" && break; sleep 0.1; done

# status --watch at an 80-column terminal; the daemon dies after 3 s and is back after 6 s
script -qec "stty cols 80 rows 50; timeout --foreground -s INT 10 '$SM' status --watch=0.5" /dev/null \
	< <(sleep 12) > "$T_DIR/watch.tty" 2>&1 &
WPID=$!
sleep 3
kill -KILL "$DPID"
sleep 3
start_daemon
wait "$WPID"; rc=$?
((rc == 0)) && t_ok "the watch ran until Ctrl-C (exit 0)" || t_fail "the watch ended with $rc: $(tail -n 5 "$T_DIR/watch.tty")"
# the frames as seen: escape sequences split frames
frames=$(sed 's/\x1b\[H\x1b\[J/\n@@FRAME@@\n/g; s/\r$//' "$T_DIR/watch.tty")
wide=$(awk 'length($0) > 80' <<<"$frames")
[[ -z $wide ]] && t_ok "no line is wider than the 80-column terminal" || t_fail "lines wider than 80: $wide"
t_match "frames show the lockspace" "^  watched +joined" "$frames"
t_match "while the daemon was dead the watch said so" "^sync_managerd is down since [0-9:]+ \(not running\); watching until it is back" "$frames"
last=$(awk '/@@FRAME@@/ {f = ""} {f = f $0 "\n"} END {printf "%s", f}' <<<"$frames")
t_match "and showed it again once it was back" "^sync_managerd pid $DPID, up" "$last"
t_done
