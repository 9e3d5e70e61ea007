#!/bin/bash
# A client whose replies the daemon cannot buffer (out of memory) is
# disconnected for real: its descriptor is closed, its process's leases are
# released, and the daemon does not spin on it.  The memory shortage is real:
# RLIMIT_DATA of the running daemon (prlimit) is set a little above what it
# uses, and a registered client holding a lease sends status requests without
# ever reading a reply, so the daemon's reply buffer for it outgrows the limit.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh" # retry_until
[[ $(id -u) -eq 0 ]] || { echo "needs root (prlimit on the daemon)"; exit 77; }
command -v prlimit > /dev/null || { echo "needs prlimit"; exit 77; }

export SYNC_MANAGER_RUN_DIR=$T_DIR/run
mkdir -p "$SYNC_MANAGER_RUN_DIR"
printf 'watchdog = none\nlog_level = info\n' > "$T_DIR/d.conf"
SYNC_MANAGERD_CONFIG=$T_DIR/d.conf "$SMD" -D >> "$T_DIR/daemon.log" 2>&1 &
DPID=$!
T_PIDS+=("$DPID")
retry_until 10 "$SM" status >/dev/null && t_ok "daemon up" || t_fail "daemon did not start"

V=$T_DIR/leases
t_run "format" -- "$SM" init "$V" --lockspace ls --max-hosts 8 --resources 4 --io-timeout 1 \
	--watchdog-timeout 3 --resource r1
t_run "join" -- "$SM" join "$V" --host-id 1

socks() { find "/proc/$DPID/fd" -lname "socket:*" | wc -l; } # the listening socket and connections
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$DPID/stat"; }
socks0=$(socks)
vmdata_kb=$(awk '/^VmData:/ { print $2 }' "/proc/$DPID/status")
# 48 MiB above today's use: the reply buffer (doubling) fails at 64 MiB,
# while everything else the daemon allocates still fits.
t_run "limit the daemon's data to $((vmdata_kb / 1024 + 48)) MiB" -- \
	prlimit --pid "$DPID" --data=$(((vmdata_kb + 48 * 1024) * 1024)):

FL=$T_DIR/flood.log
python3 "$(dirname "$0")/reply_flood.py" "$SYNC_MANAGER_RUN_DIR/sync_managerd.sock" ls r1 30 > "$FL" 2>&1 &
FPID=$!
T_PIDS+=("$FPID")
retry_until 10 grep -q "^holding" "$FL" && t_ok "a registered client holds ls:r1 and floods the daemon" \
	|| t_fail "flood client: $(cat "$FL")"
wait "$FPID"
kill -0 "$FPID" 2>/dev/null && t_fail "the flood client still runs"
t_match "the daemon closed the connection" "^closed by the daemon" "$(cat "$FL")"
t_match "and said why" "connection [0-9]+ \(pid $FPID\): out of memory for its replies \([0-9]+ bytes queued\); closing it" \
	"$(cat "$T_DIR/daemon.log")"
t_run "lift the limit" -- prlimit --pid "$DPID" --data=unlimited:

retry_until 10 bash -c "'$SM' status | grep -q 'none held'" && t_ok "the client's lease was released" \
	|| t_fail "lease still held: $("$SM" status 2>&1)"
t_match "the daemon logged the release" "process $FPID \(flood\) is gone: releasing its 1 lease" \
	"$(cat "$T_DIR/daemon.log")"
retry_until 10 bash -c "(( \$(find /proc/$DPID/fd -lname 'socket:*' | wc -l) <= $socks0 ))" \
	&& t_ok "the daemon's sockets are back to $socks0 (the connection's descriptor is closed)" \
	|| t_fail "sockets: $(socks), before: $socks0"
c0=$(cpu_ticks)
sleep 2
c1=$(cpu_ticks)
# a loop spinning on the half-closed connection burns all of it (about 200 ticks)
(( c1 - c0 < 100 )) && t_ok "the daemon is idle ($((c1 - c0)) ticks of CPU in 2 s)" \
	|| t_fail "the daemon is busy: $((c1 - c0)) ticks of CPU in 2 s"
t_run "a new client can take ls:r1" -- "$SM" run -l ls:r1 -- true

t_done
