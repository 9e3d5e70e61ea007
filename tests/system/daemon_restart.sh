#!/bin/bash
# Restarting sync_managerd after a crash (SIGKILL) from its journaled state
# file (docs/restart.md): one daemon, watchdog = none, d = 1 s, W = 3 s:
# R = 2 s, F = 8 s.
#  (a) ~200 leases of many processes survive a SIGKILL + start; the lease of
#      a process that died while no daemon ran is released;
#  (b) renewals are persisted: a restart more than F after the last lease
#      change (but within F of the last renewal) fences nobody;
#  (c) a torn last line is ignored;
#  (d) the journal is compacted: many changes keep the file bounded;
#  (e) lockspace records carry the header's name and timeouts (a new daemon
#      reads the header in the lockspace's thread), and records of older
#      daemons without them still resume.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root"; exit 77; }

export SYNC_MANAGER_RUN_DIR=$T_DIR/run
mkdir -p "$SYNC_MANAGER_RUN_DIR"
STATE=$SYNC_MANAGER_RUN_DIR/state
LOG=$T_DIR/daemon.log
CLIENTS=$SM_BIN/tests/sm_clients
printf 'watchdog = none\nmax_clients = 1000\nlog_level = info\n' > "$T_DIR/d.conf"
# sm_clients leaves its children behind when it fails: each runs in its own
# session, killed on exit.
SIDS=()
trap 'for s in "${SIDS[@]}"; do pkill -9 -s "$s"; done; t_cleanup' EXIT

DPID=
d_start() {
	LOG_MARK=$(wc -l < "$LOG" 2>/dev/null || echo 0)
	SYNC_MANAGERD_CONFIG=$T_DIR/d.conf "$SMD" -D >> "$LOG" 2>&1 &
	DPID=$!
	T_PIDS+=("$DPID")
	retry_until 10 "$SM" status >/dev/null || return 1
	# a joined lockspace resumes in the background: wait until it did
	[[ -e $T_DIR/leases ]] || return 0
	retry_until 10 bash -c "'$SM' status | grep -q '^  ls  *joined '"
}
d_kill9() { kill -9 "$DPID"; wait "$DPID" 2>/dev/null; }
# the current daemon's log lines
d_log() { tail -n +$((LOG_MARK + 1)) "$LOG"; }
status_leases() { "$SM" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["daemon"]["leases"])'; }
# pid of the command started by `sync_manager run` (from its output)
run_child() { sed -n 's/.*running .* as pid \([0-9]*\).*/\1/p' "$1" | head -n1; }

d_start && t_ok "daemon up" || { t_fail "daemon did not start: $(tail -5 "$LOG")"; t_done; }
V=$T_DIR/leases
t_run "format a volume" -- "$SM" init "$V" --lockspace ls --max-hosts 8 --resources 400 --io-timeout 1 \
	--watchdog-timeout 3 --resource keep --resource doomed
t_run "join" -- "$SM" join "$V" --host-id 1

# ---- (a) ~200 leases and their holders survive a SIGKILL -------------------
"$SM" run -l ls:keep --name keeper -- sleep 1000 > "$T_DIR/keeper.log" 2>&1 &
T_PIDS+=("$!")
retry_until 10 grep -q "acquired ls:keep" "$T_DIR/keeper.log" && t_ok "a holder keeps ls:keep" || t_fail "keeper"
keeper=$(run_child "$T_DIR/keeper.log")
T_PIDS+=("$keeper")
coproc MANY { exec setsid "$CLIENTS" many 200 ls m 2>&1; }
many_in=${MANY[1]} many_out=${MANY[0]} many_pid=$MANY_PID
SIDS+=("$many_pid")
read -r -t 120 line <&"$many_out"
t_match "200 more processes hold a lease each" "200 processes registered and 200 leases" "$line"
# (after the helper counted its base: it checks that exactly its leases go)
"$SM" run -l ls:doomed --name doomed -- sleep 1000 > "$T_DIR/doomed.log" 2>&1 &
T_PIDS+=("$!")
retry_until 10 grep -q "acquired ls:doomed" "$T_DIR/doomed.log" && t_ok "a holder keeps ls:doomed" || t_fail "doomed"
doomed=$(run_child "$T_DIR/doomed.log")
T_PIDS+=("$doomed")
[[ $(status_leases) == 202 ]] && t_ok "the daemon holds 202 leases" || t_fail "lease count: $(status_leases)"
journal_lines=$(wc -l < "$STATE")
(( journal_lines > 400 )) && t_ok "the changes were appended ($journal_lines lines)" || t_fail "state: $journal_lines lines"

d_kill9
kill -9 "$doomed"
d_start && t_ok "a new daemon starts after a SIGKILL" || t_fail "no new daemon: $(d_log | tail -5)"
t_run "status after the restart" -- "$SM" status --json
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
alive = [p for p in d["processes"] if p["state"] == "alive"]
assert len(alive) == 201, len(alive)
held = {l["resource"] for l in d["leases"] if l["pids"]}
assert "keep" in held and all("m%d" % i in held for i in range(200)), sorted(held)
assert "doomed" not in held
' "$T_OUT" && t_ok "all 201 living holders and their leases are back" || t_fail "after restart: $T_OUT"
t_run "inquire the keeper" -- "$SM" inquire --pid "$keeper"
t_match "it still holds ls:keep" "ls:keep EX" "$T_OUT"
retry_until 15 bash -c "'$SM' direct inquire '$V:doomed' | grep -q 'no exclusive owner'" \
	&& t_ok "the lease of the process that died meanwhile was released" || t_fail "doomed still held: $T_OUT"
exec {many_in}>&-
read -r -t 120 line <&"$many_out"
t_match "the new daemon releases the re-attached holders' leases when they die" "all 200 leases released" "$line"
wait "$many_pid" && t_ok "many-clients helper succeeded" || t_fail "many-clients helper failed"

# ---- (b) renewals are persisted --------------------------------------------
# No lease changes for more than F = 8 s, only renewals (every R = 2 s).
sleep 10
d_kill9
d_start && t_ok "restarted at once after > F without lease changes" || t_fail "no daemon: $(d_log | tail -5)"
sleep 2
kill -0 "$keeper" 2>/dev/null && t_ok "the holder was not fenced" || t_fail "the holder was killed"
t_run "status" -- "$SM" status
t_match "the lockspace was resumed, not failed" "ls +joined " "$T_OUT"
t_match "keep is still held" "ls +keep +EX .*held" "$T_OUT"
d_log | grep -q "fencing\|expired while no daemon" && t_fail "the new daemon fenced: $(d_log | grep -m3 fenc)" \
	|| t_ok "nothing was fenced"

# ---- (c) a torn last line is ignored ----------------------------------------
d_kill9
printf 'proc- %s' "$keeper" >> "$STATE" # would forget the keeper if applied
d_start && t_ok "a state file with a torn last line loads" || t_fail "no daemon: $(d_log | tail -5)"
d_log | grep -q "ignoring a torn last line" && t_ok "the torn line was reported" || t_fail "no report"
t_run "inquire the keeper" -- "$SM" inquire --pid "$keeper"
t_match "the keeper still holds ls:keep" "ls:keep EX" "$T_OUT"
[[ $(tail -c1 "$STATE" | od -An -c | tr -d ' ') == '\n' ]] && ! grep -q '^proc-' "$STATE" \
	&& t_ok "the new daemon wrote a fresh snapshot" || t_fail "state: $(tail -3 "$STATE")"

# ---- (d) compaction ----------------------------------------------------------
snap_lines=$(wc -l < "$STATE")
rounds=4 n=150
for ((r = 0; r < rounds; r++)); do
	setsid "$CLIENTS" many $n ls c < /dev/null > "$T_DIR/many$r.log" 2>&1 &
	SIDS+=("$!")
	wait "$!" || t_fail "round $r: $(cat "$T_DIR/many$r.log")"
done
# Each process added at least 4 lines (proc, lease, lease-, proc-).
changes=$((rounds * n * 4))
lines=$(wc -l < "$STATE") bytes=$(stat -c %s "$STATE")
# (Not by inode number: ext4 hands a freed inode number out again, so two
# compactions can bring the old one back.)
(( lines < snap_lines + changes )) && t_ok "the file was rewritten as a snapshot meanwhile ($lines lines," \
	"appending alone would make >= $((snap_lines + changes)))" || t_fail "never compacted: $lines lines"
# at most the live records, 1024 journal lines and one last batch
(( lines < changes - 600 && bytes < 100000 )) \
	&& t_ok "bounded: $lines lines ($bytes bytes) after >= $changes changes" \
	|| t_fail "not bounded: $lines lines, $bytes bytes after $changes changes"
[[ $(status_leases) == 1 ]] && t_ok "only ls:keep is held" || t_fail "lease count: $(status_leases)"
d_kill9
d_start && t_ok "a compacted and appended file loads" || t_fail "no daemon: $(d_log | tail -5)"
t_run "status --json" -- "$SM" status --json
python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert [l["resource"] for l in d["leases"]] == ["keep"], d["leases"]
assert [p["name"] for p in d["processes"]] == ["keeper"], d["processes"]
' "$T_OUT" && t_ok "exactly the keeper and its lease are back" || t_fail "after restart: $T_OUT"

# A clean restart (shutdown --restart) leaves just a snapshot.
t_run "shutdown --restart" -- "$SM" shutdown --restart
retry_until 10 bash -c "! kill -0 $DPID 2>/dev/null" && t_ok "the daemon exited" || t_fail "still running"
[[ $(wc -l < "$STATE") -eq 4 ]] && t_ok "the state is a snapshot of 3 records" || t_fail "state: $(cat "$STATE")"
d_start && t_ok "and a new daemon resumes" || t_fail "no daemon"
t_run "inquire the keeper" -- "$SM" inquire --pid "$keeper"
t_match "it holds ls:keep" "ls:keep EX" "$T_OUT"

# ---- (e) lockspace records carry the header's name and timeouts -------------
grep -Eq '^lockspace [^ ]+ 1 [0-9]+ [0-9a-f]{32} [0-9]+ 0 ls 1000 3000$' "$STATE" \
	&& t_ok "the lockspace record names the lockspace and its timeouts" || t_fail "state: $(grep ^lockspace "$STATE")"
# A file of an older daemon (lockspace records without them) still resumes.
d_kill9
sed -i -E 's/^(lockspace [^ ]+ [0-9]+ [0-9]+ [0-9a-f]{32} [0-9]+ [01]) [^ ]+ [0-9]+ [0-9]+$/\1/' "$STATE"
grep -Eq '^lockspace ([^ ]+ ){5}[01]$' "$STATE" && t_ok "the state file now has an older daemon's record" \
	|| t_fail "no older record: $(grep ^lockspace "$STATE")"
d_start && t_ok "a state file of an older daemon loads" || t_fail "no daemon: $(d_log | tail -5)"
t_run "inquire the keeper" -- "$SM" inquire --pid "$keeper"
t_match "it still holds ls:keep" "ls:keep EX" "$T_OUT"
grep -Eq '^lockspace [^ ]+ 1 [0-9]+ [0-9a-f]{32} [0-9]+ 0 ls 1000 3000$' "$STATE" \
	&& t_ok "and the new snapshot has the new record" || t_fail "state: $(grep ^lockspace "$STATE")"

kill "$keeper"
retry_until 10 bash -c "\"$SM\" status --json | grep -q '\"leases\": 0'" && t_ok "released when the keeper exits" \
	|| t_fail "keep not released"
t_run "clean shutdown" -- "$SM" shutdown
retry_until 10 bash -c "! kill -0 $DPID 2>/dev/null" && t_ok "daemon exited" || t_fail "daemon still running"
[[ ! -e $STATE ]] && t_ok "a clean shutdown removes the state file" || t_fail "state left behind"
t_done
