#!/bin/bash
# sync_managerd at its file descriptor limit (issue 19 item 3): with
# RLIMIT_NOFILE lowered (prlimit) it checks the limit against max_clients at
# start and says so; clients register until the limit, then a registration
# is refused with the reason (not "No such process"); the daemon stops
# polling its listening socket instead of spinning on accept4, logs it once,
# counts it (sync_manager_fd_limit_total); when the clients go, it serves
# again.  Needs root (about 20 s).
source "$(dirname "$0")/lib.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root"; exit 77; }
retry_until() { local n=$1 i; shift; for ((i = 0; i < n * 5; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }

export SYNC_MANAGER_RUN_DIR=$T_DIR/run
mkdir -p "$SYNC_MANAGER_RUN_DIR"
printf 'watchdog = none\nmax_clients = 1000\nlog_level = info\n' > "$T_DIR/d.conf"
NOFILE=48

# The start-up check names the setting and the limit.
t_run "--check-config under a low fd limit" -- \
	env SYNC_MANAGERD_CONFIG="$T_DIR/d.conf" timeout --foreground 20 prlimit --nofile=$NOFILE:$NOFILE -- "$SMD" --check-config
t_match "it names max_clients and the limit" "max_clients = 1000 needs about [0-9]+ file descriptors.*RLIMIT_NOFILE.* 48" "$T_OUT"
t_run "--check-config with a limit that covers max_clients" -- \
	env SYNC_MANAGERD_CONFIG="$T_DIR/d.conf" timeout --foreground 20 prlimit --nofile=4096:4096 -- "$SMD" --check-config
t_match "says it is covered" "file descriptors: RLIMIT_NOFILE 4096 covers max_clients = 1000" "$T_OUT"

SYNC_MANAGERD_CONFIG=$T_DIR/d.conf timeout --foreground 300 prlimit --nofile=$NOFILE:$NOFILE -- "$SMD" -D \
	>> "$T_DIR/daemon.log" 2>&1 &
T_PIDS+=("$!")
retry_until 10 "$SM" status && t_ok "daemon up" || { t_fail "daemon did not start: $(cat "$T_DIR/daemon.log")"; t_done; }
DPID=$(cat "$SYNC_MANAGER_RUN_DIR/sync_managerd.pid")
T_PIDS+=("$DPID") # (killing timeout would leave the daemon running)
t_match "the start-up log says the fd limit does not cover max_clients" \
	"max_clients = 1000 needs about [0-9]+ file descriptors.*RLIMIT_NOFILE.* 48" "$(cat "$T_DIR/daemon.log")"

# Register processes (each costs the daemon a connection and a pidfd) until
# the daemon runs out; stop at the second refusal.
coproc REG { SYNC_MANAGER_TIMEOUT=3 timeout --foreground 200 "$SM_BIN/tests/sm_clients" register 40 2 2>&1; }
T_PIDS+=("$REG_PID")
out=""
while read -r -t 60 line <&"${REG[0]}"; do
	out+="$line"$'\n'
	[[ $line == registered* ]] && break
done
echo "$out" | sed 's/^/    /'
t_match "some processes registered" "registered [1-9][0-9]* of 40" "$out"
t_match "the first refusal names the fd limit, not 'No such process'" \
	"refused [0-9]+: cannot register pid [0-9]+: sync_managerd is at its file descriptor limit \(RLIMIT_NOFILE 48" "$out"
if grep -q "No such process" <<<"$out"; then t_fail "a refusal said 'No such process'"; else t_ok "no 'No such process'"; fi

# While at the limit: no busy loop on accept4.
ticks() { awk '{print $14 + $15}' "/proc/$DPID/stat"; }
t0=$(ticks); sleep 2; t1=$(ticks)
echo "    daemon CPU at the limit: $((t1 - t0)) ticks in 2 s"
if (( t1 - t0 < 40 )); then t_ok "the daemon does not spin at the fd limit (< 20 % of a core)"; else t_fail "daemon used $((t1 - t0)) ticks in 2 s"; fi
n=$(grep -c "at its file descriptor limit" "$T_DIR/daemon.log")
[[ $n -eq 1 ]] && t_ok "the fd limit is logged once" || t_fail "logged $n times: $(tail -5 "$T_DIR/daemon.log")"
t_refused "a new client gives up with a clear error while the daemon cannot accept" \
	"did not (answer|accept)" -- env SYNC_MANAGER_TIMEOUT=2 timeout --foreground 30 "$SM" status

# The clients go: the daemon serves again and counted the episode.
exec {REG[1]}>&-
wait "$REG_PID"
retry_until 10 "$SM" status && t_ok "the daemon serves again once fds are freed" || t_fail "no service after the clients left"
t_run "metrics" -- timeout --foreground 30 "$SM" metrics
t_match "the fd limit was counted" "^sync_manager_fd_limit_total [1-9]" "$T_OUT"
t_match "accepting again" "^sync_manager_accept_paused 0" "$T_OUT"
t_match "the resumption is logged" "accepting connections" "$(cat "$T_DIR/daemon.log")"
t_run "a process registers again" -- env SYNC_MANAGER_TIMEOUT=5 timeout --foreground 60 "$SM_BIN/tests/sm_clients" register 1 1 </dev/null
t_match "registered" "registered 1 of 1" "$T_OUT"

t_done
