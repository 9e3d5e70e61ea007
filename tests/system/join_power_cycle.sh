#!/bin/bash
# `join V --host-id 1` right after the host was power-cycled must return, and
# Ctrl-C must stop its wait (issue 18, section 3).  One emulated host, d = 1 s,
# W = 3 s (R = 2 s, F = 8 s, H = 11 s).  A power cycle: the daemon is killed
# (SIGKILL), the emulated watchdog resets the host (every process dies), and
# the host is started again:
#  (a) with its state file, within F of the last renewal: the daemon resumes
#      the lockspace by itself; the join returns with host_id 1 (same
#      generation);
#  (b) as (a), but the volume's reads hang at the restart (and answer again
#      after F): the resume fails, the daemon rejoins by itself; the join
#      waits for that rejoin and returns with host_id 1;
#  (c) with its state file, after F: the resume is expired, the daemon fences
#      and rejoins by itself (waiting H for its old record); the join waits
#      for that rejoin and returns with host_id 1;
#  (d) without a state file (its run directory on tmpfs), with the volume
#      under `join` in sync_managerd.conf: the daemon joins by itself at start;
#      the join returns with host_id 1;
#  (e) as (d), and (f) as (c): the user presses Ctrl-C while the join waits;
#      it stops within a few seconds.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (namespaces)"; exit 77; }

V=$T_DIR/leases
H=11 BOUND=$((2 * H + 15)) # s: a join must be answered by then
t_run "format" -- "$SM" init "$V" --lockspace ls --max-hosts 8 --resources 4 --io-timeout 1 --watchdog-timeout 3 \
	--resource r1
D=$(_h_dir 1)

# power_cycle [keep-state|no-state] [extra config lines...]: reset host 1 and start it again
power_cycle() {
	local how=$1 i from; shift
	# The daemon arms the watchdog at its first loop tick after the start
	# (or the resume): kill it only once it has, or nothing resets the host.
	for ((i = 0; i < 200; i++)); do
		from=$(grep -n 'ready: run directory' "$D/daemon.log" | tail -n1 | cut -d: -f1)
		tail -n +"${from:-1}" "$D/daemon.log" | grep -q 'watchdog armed' && break
		sleep 0.05
	done
	h_exec 1 kill -KILL "$(h_daemon_pid 1)"
	h_wait_down 1 15 && t_ok "host 1 was reset by its watchdog" || t_fail "host 1 still up"
	rm -f "$D/sync_managerd.sock" # (h_start waits for the new daemon's socket)
	[[ $how == no-state ]] && rm -f "$D/state"
	[[ -n ${WAIT_BEFORE_START:-} ]] && sleep "$WAIT_BEFORE_START"
	h_start 1 "$@"
}

# join_bounded DESC: `join V --host-id 1` on host 1 must end within BOUND with host_id 1
join_bounded() {
	local t0; t0=$(now_ms)
	T_OUT=$(h_exec 1 timeout --foreground -s KILL "$BOUND" "$SM" join "$V" --host-id 1 2>&1)
	local rc=$? took=$(( $(now_ms) - t0 ))
	if (( rc == 137 )); then
		t_fail "$1: join did not return within $BOUND s: $T_OUT; $(tail -5 "$D/daemon.log")"
		return 1
	fi
	t_log "$1: join returned $rc after $took ms: $(tail -n1 <<<"$T_OUT")"
	(( rc == 0 )) && t_ok "$1: join succeeded ($took ms)" || t_fail "$1: join failed (exit $rc): $T_OUT"
	T_OUT=$(h_sm 1 status 2>&1)
	t_match "$1: ls joined as host_id 1" "^ *ls +.*joined.* 1 " "$T_OUT"
}

# ---- (a) state kept, restarted within F -------------------------------------------------
h_start 1 || t_done
t_run "host 1 joins as host_id 1" -- h_sm 1 join "$V" --host-id 1
power_cycle keep-state || t_done
join_bounded "(a) state kept, within F"

# ---- (b) state kept, within F, but the volume's reads hang at the restart ------------------
# The resume cannot read the header: the lockspace fails at F and the daemon
# rejoins it by itself once the storage answers.  The join, asked for while
# the resume hangs, must be answered by that rejoin.
h_fault 1 "read hang leases"
power_cycle keep-state || t_done
h_exec 1 timeout --foreground -s KILL 60 "$SM" join "$V" --host-id 1 > "$T_DIR/b.log" 2>&1 &
jpid=$!
T_PIDS+=("$jpid")
sleep 12 # past F: the resume failed, the rejoin retries
h_fault 1 ""
t0=$(now_ms)
wait "$jpid"
rc=$?
t_log "(b) join returned $rc $(( $(now_ms) - t0 )) ms after the storage answered: $(tail -n1 "$T_DIR/b.log")"
(( rc == 0 )) && t_ok "(b) state kept, reads hang: join succeeded" \
	|| t_fail "(b) join exit $rc (137: did not return within 60 s): $(cat "$T_DIR/b.log"); $(tail -5 "$D/daemon.log")"
t_match "(b) ls joined as host_id 1" "^ *ls +.*joined.* 1 " "$(h_sm 1 status 2>&1)"

# ---- (c) state kept, restarted after F --------------------------------------------------
WAIT_BEFORE_START=9 power_cycle keep-state || t_done
join_bounded "(c) state kept, after F"
grep -q "rejoin" "$D/daemon.log" && t_ok "(c) the daemon rejoined by itself" || t_log "(c) no rejoin logged"

# ---- (d) no state, the volume in the configuration --------------------------------------
power_cycle no-state "join = $V" || t_done
join_bounded "(d) no state, join = V configured"
# A join the daemon starts by itself is paced (issue 19: a whole site starting
# at once must not read the host area all at the same moment).
from=$(grep -n 'ready: run directory' "$D/daemon.log" | tail -n1 | cut -d: -f1)
t_match "(d) the configured join waited a random 0 .. R first" \
	"joining in [0-9]+ ms \(start-up pacing: a random 0 \.\. R = 2000 ms\)" "$(tail -n +"${from:-1}" "$D/daemon.log")"

# join_interrupted DESC: `join V --host-id 1`, Ctrl-C 2 s later: it must end within 10 s
join_interrupted() {
	local log; log=$T_DIR/int.$RANDOM.log
	h_exec 1 "$SM" join "$V" --host-id 1 > "$log" 2>&1 &
	local jpid=$! i t0
	T_PIDS+=("$jpid")
	sleep 2
	kill -0 "$jpid" 2>/dev/null || { t_fail "$1: the join ended before Ctrl-C: $(cat "$log")"; return 1; }
	local cpid; cpid=$(pgrep -P "$jpid" | head -n1) # nsenter's child: sync_manager
	kill -INT "${cpid:-$jpid}"
	t0=$(now_ms)
	for ((i = 0; i < 200; i++)); do kill -0 "$jpid" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$jpid" 2>/dev/null; then
		t_fail "$1: join still waits 10 s after Ctrl-C: $(cat "$log")"
	else
		t_ok "$1: Ctrl-C stopped the join after $(( $(now_ms) - t0 )) ms: $(tail -n1 "$log")"
	fi
}

# ---- (e) as (d), Ctrl-C while the join waits --------------------------------------------
power_cycle no-state "join = $V" || t_done
join_interrupted "(e) no state, join = V configured"

# ---- (f) as (c), Ctrl-C while the join waits for the daemon's rejoin ----------------------
power_cycle no-state || t_done # (e) cancelled the join: a state file without ls
t_run "(f) join as host_id 1 again" -- h_sm 1 join "$V" --host-id 1
WAIT_BEFORE_START=9 power_cycle keep-state || t_done
join_interrupted "(f) state kept, after F"

h_stop_all
t_done
