#!/bin/bash
# A run directory that fills up (issue 10, item 4; docs/restart.md "When
# the state cannot be written"): a lease is granted only once it is recorded
# in RUN_DIR/state.  The run directory is a 8 KiB tmpfs (in a private mount
# namespace, so nothing leaks); d = 3 s, so F = 24 s covers the steps between
# the last recorded renewal and the restart.
#  (a) acquiring until the state file is full: the acquire that cannot be
#      recorded is refused with the reason, and the lease is not held, in
#      the daemon or on disk;
#  (b) a release that cannot be recorded is refused and the lease stays
#      ours on disk (the file still names its holder);
#  (c) a daemon killed and restarted meanwhile comes back with what the file
#      recorded, fencing nobody;
#  (d) once there is room again, the daemon saves and grants again.
[[ $(id -u) -eq 0 ]] || { echo "needs root"; exit 77; }
if [[ -z ${SM_STATE_NS:-} ]]; then
	SM_STATE_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"

RUN=$T_DIR/run
export SYNC_MANAGER_RUN_DIR=$RUN
mkdir -m 0700 "$RUN"
mount -t tmpfs -o size=8k,mode=0700 tmpfs "$RUN" || { echo "cannot mount a tmpfs"; exit 77; }
holder=
trap 'kill -9 $holder 2>/dev/null; umount -l "$RUN"; t_cleanup' EXIT
LOG=$T_DIR/daemon.log
printf 'watchdog = none\nlog_level = info\n' > "$T_DIR/d.conf"

DPID=
d_start() {
	LOG_MARK=$(cat "$LOG" 2>/dev/null | wc -l)
	SYNC_MANAGERD_CONFIG=$T_DIR/d.conf "$SMD" -D >> "$LOG" 2>&1 &
	DPID=$!
	T_PIDS+=("$DPID")
	retry_until 10 "$SM" status >/dev/null || return 1
	[[ ${1:-} == resumed ]] || return 0
	retry_until 30 bash -c "'$SM' status | grep -q '^  ls  *joined '"
}
d_kill9() { kill -9 "$DPID"; wait "$DPID" 2>/dev/null; }
d_log() { tail -n +$((LOG_MARK + 1)) "$LOG"; }
# "RESOURCE:PID,PID..." per lease, sorted
lease_table() {
	"$SM" status --json | python3 -c '
import json, sys
for l in sorted(json.load(sys.stdin)["leases"], key=lambda l: l["resource"]):
    print("%s:%s" % (l["resource"], ",".join(str(p) for p in sorted(l["pids"]))))'
}
owner_of() { "$SM" direct inquire "$V:$1" 2>&1; }

V=$T_DIR/leases
t_run "format a volume" -- "$SM" init "$V" --lockspace ls --max-hosts 4 --resources 300 --io-timeout 3 \
	--watchdog-timeout 3
d_start && t_ok "daemon up on an 8 KiB run directory" || { t_fail "daemon: $(tail -5 "$LOG")"; t_done; }
t_run "join" -- "$SM" join "$V" --host-id 1
sleep 1000 &
holder=$!

# ---- (a) acquire until the state cannot be written ----------------------------
failed=0 out=
for ((i = 1; i <= 250; i++)); do
	if ! out=$("$SM" acquire "ls:r$i" --pid "$holder" --create 2>&1); then
		failed=$i
		break
	fi
done
if ((failed > 1)); then
	t_ok "acquire r$failed failed after $((failed - 1)) granted"
else
	t_fail "acquires never failed on a full run directory (or the first did): $out"
	t_done
fi
t_match "the refusal says why" "cannot record the lease in $RUN/state: No space left on device" "$out"
t_run "inquire the holder" -- "$SM" inquire --pid "$holder"
t_match "it holds r1" "ls:r1 EX" "$T_OUT"
grep -q "ls:r$failed " <<<"$T_OUT" && t_fail "r$failed is reported held: $T_OUT" || t_ok "r$failed is not held by it"
retry_until 30 bash -c "'$SM' direct inquire '$V:r$failed' | grep -q 'no exclusive owner'" \
	&& t_ok "r$failed was released again on disk" || t_fail "r$failed still held on disk: $(owner_of "r$failed")"
lease_table > "$T_DIR/before"
grep -q "^r$failed:" "$T_DIR/before" && t_fail "the daemon still lists r$failed: $(cat "$T_DIR/before")" \
	|| t_ok "the daemon does not list r$failed"

# ---- (b) a release that cannot be recorded -------------------------------------
t_refused "release r1 while the state cannot be written" \
	"cannot record the release in $RUN/state: No space left on device" -- "$SM" release ls:r1 --pid "$holder"
t_match "r1 stays ours on disk" "owner.*host 1|host_id 1|owner 1" "$(owner_of r1)"

# ---- (c) a restart comes back with what was recorded -----------------------------
d_kill9
d_start resumed && t_ok "a new daemon starts on the full run directory" || t_fail "no daemon: $(d_log | tail -5)"
lease_table > "$T_DIR/after"
diff "$T_DIR/before" "$T_DIR/after" > "$T_DIR/diff" && t_ok "the same leases and holders came back" \
	|| t_fail "after the restart: $(cat "$T_DIR/diff")"
sleep 2
kill -0 "$holder" && t_ok "the holder was not fenced" || t_fail "the holder was killed"
d_log | grep -qi "fencing" && t_fail "the new daemon fenced: $(d_log | grep -m3 -i fenc)" || t_ok "nothing was fenced"
t_match "r$failed is still free on disk" "no exclusive owner" "$(owner_of "r$failed")"

# ---- (d) room again ---------------------------------------------------------------
mount -o remount,size=1m "$RUN" && t_ok "the run directory grew"
retry_until 10 "$SM" acquire "ls:r$failed" --pid "$holder" && t_ok "r$failed is granted now" \
	|| t_fail "acquire after making room: $T_OUT"
grep -q "^lease ls r$failed " "$RUN/state" && t_ok "and recorded" || t_fail "state: $(tail -3 "$RUN/state")"
t_run "release r1" -- "$SM" release ls:r1 --pid "$holder"
retry_until 15 bash -c "'$SM' direct inquire '$V:r1' | grep -q 'no exclusive owner'" \
	&& t_ok "r1 is free on disk" || t_fail "r1: $(owner_of r1)"
t_done
