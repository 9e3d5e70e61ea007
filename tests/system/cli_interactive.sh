#!/bin/bash
# The CLI as someone at a terminal uses it: Ctrl-C (SIGINT to the CLI
# process, as the terminal sends it to the foreground process) during a long
# `init`, during `join` while it waits its 2d, and during `direct join`; and
# `status --watch` refreshing into a file until Ctrl-C.  About 20 s.
#
# Volumes and the run directory live on /var/tmp: a disk file system (lease
# I/O uses O_DIRECT, which tmpfs lacks) with a path short enough for a socket.
export SM_TEST_TMPDIR=/var/tmp
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root"; exit 77; }

# wait_for SECONDS PID FILE PATTERN: until FILE matches PATTERN (grep -E);
# fails at once if PID has exited.
wait_for() {
	local secs=$1 pid=$2 file=$3 pat=$4
	local end=$(( $(now_ms) + secs * 1000 ))
	while (( $(now_ms) < end )); do
		grep -Eq -- "$pat" "$file" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || { grep -Eq -- "$pat" "$file" 2>/dev/null; return; }
		sleep 0.1
	done
	return 1
}
# interrupt PID: SIGINT, then wait for it; sets RC and INT_MS (ms until it exited).
interrupt() {
	local t0; t0=$(now_ms)
	kill -INT "$1"
	wait "$1"; RC=$?
	INT_MS=$(( $(now_ms) - t0 ))
}
# host_state VOLUME ID: "state generation name" of a host record in the dump
# (HOST_ID NAME GENERATION TIMESTAMP IO_TIMEOUT STATE, the timeout as "3 s").
host_state() {
	"$SM" dump "$1" | awk -v id="$2" '
		/^Resources$/ { exit }
		$1 == id && NF == 7 && $6 == "s" { print $7, $3, $2; found = 1 }
		END { if (!found) print "unused" }'
}

# ---- 1. Ctrl-C during init of a large volume -------------------------------------
# 40000 named resources: one O_DIRECT area write each, seconds even on fast storage.
V1=$T_DIR/big
NAMES=()
for ((i = 1; i <= 40000; i++)); do NAMES+=(--resource "r$i"); done
"$SM" init "$V1" --lockspace big --max-hosts 16 --resources 40000 --io-timeout 1 "${NAMES[@]}" \
	> "$T_DIR/init.out" 2> "$T_DIR/init.err" &
IPID=$!
T_PIDS+=("$IPID")
PROGRESS="^sync_manager: formatting $V1 \(40000 named resources\): [0-9.]+ [KMG]?i?B of [0-9.]+ MiB written \([0-9]+%"
wait_for 60 "$IPID" "$T_DIR/init.err" "^sync_manager: formatting" \
	&& t_ok "init reports progress after 2 s" || t_fail "no progress line: $(cat "$T_DIR/init.err")"
# the next line (2 s later) has had time to measure the write rate
wait_for 15 "$IPID" "$T_DIR/init.err" "$PROGRESS, about [0-9]+ (s|min) left; Ctrl-C stops, leaving no volume\)$" \
	&& t_ok "init prints what it formats, bytes written, percent and the time left" \
	|| t_fail "no progress line with a time-left estimate: $(cat "$T_DIR/init.err")"
kill -0 "$IPID" 2>/dev/null && t_ok "init was still running after its first estimate (> 2 s)" \
	|| t_fail "init ended before it could be interrupted: $(cat "$T_DIR/init.out" "$T_DIR/init.err")"
interrupt "$IPID"
ERR=$(cat "$T_DIR/init.err")
[[ $RC -eq 1 ]] && t_ok "interrupted init exits 1" || t_fail "interrupted init exited $RC: $ERR"
(( INT_MS < 5000 )) && t_ok "and stops at once (${INT_MS} ms)" || t_fail "init took ${INT_MS} ms to stop"
t_match "it says it was interrupted and that nothing was formatted" \
	"^sync_manager: init interrupted after [0-9.]+ s: $V1 is left unformatted \\(it reads as not a lease volume; run init again" "$ERR"
[[ ! -s $T_DIR/init.out ]] && t_ok "and does not claim to have formatted it" || t_fail "stdout: $(cat "$T_DIR/init.out")"
grep -q $'[\r\e]' "$T_DIR/init.err" && t_fail "progress output holds carriage returns or escapes" \
	|| t_ok "progress output is plain lines (stderr is a file)"
bad=$(grep -Ev "$PROGRESS|^sync_manager: init interrupted" "$T_DIR/init.err")
[[ -z $bad ]] && t_ok "stderr holds only progress lines and the interrupt message" || t_fail "unexpected stderr: $bad"
t_refused "dump: the interrupted volume is not formatted" "not a sync_manager lease volume" -- "$SM" dump "$V1"
t_run "init without --force succeeds on it (nothing valid was left to protect)" -- \
	"$SM" init "$V1" --lockspace big2 --max-hosts 2 --resources 2 --io-timeout 1
rm -f "$V1"

# ---- a daemon (d = 3 s: the 2d join wait is 6 s) ----------------------------------
export SYNC_MANAGER_RUN_DIR=$T_DIR/run
mkdir -p "$SYNC_MANAGER_RUN_DIR"
printf 'watchdog = none\nlog_level = warn\nhost_name = ihost1\n' > "$T_DIR/d.conf"
SYNC_MANAGERD_CONFIG=$T_DIR/d.conf "$SMD" -D >> "$T_DIR/daemon.log" 2>&1 &
DPID=$!
T_PIDS+=("$DPID")
retry_until 20 "$SM" status >/dev/null && t_ok "daemon up" || { t_fail "daemon did not start: $(cat "$T_DIR/daemon.log")"; t_done; }
V=$T_DIR/leases
t_run "init a volume with d = 3 s" -- "$SM" init "$V" --lockspace jls --max-hosts 8 --resources 8 \
	--io-timeout 3 --watchdog-timeout 3 --resource r1

# ---- 2. Ctrl-C during join while it waits 2d --------------------------------------
"$SM" join "$V" --host-id 3 > "$T_DIR/join.out" 2> "$T_DIR/join.err" &
JPID=$!
T_PIDS+=("$JPID")
wait_for 20 "$JPID" "$T_DIR/join.err" "claimed host_id 3 \(generation 1\); waiting 2d" \
	&& t_ok "join says it claimed host_id 3 and waits 2d" || t_fail "no claim progress: $(cat "$T_DIR/join.err")"
[[ $(host_state "$V" 3) == "held 1 ihost1" ]] && t_ok "during the wait host_id 3 is claimed on disk" \
	|| t_fail "host 3 during the wait: $(host_state "$V" 3)"
t_run "status during the wait" -- "$SM" status
t_match "status shows the lockspace joining" "jls +joining" "$T_OUT"
interrupt "$JPID"
ERR=$(cat "$T_DIR/join.err")
[[ $RC -eq 1 ]] && t_ok "interrupted join exits 1" || t_fail "interrupted join exited $RC: $ERR"
(( INT_MS < 5000 )) && t_ok "before its 2d wait ended (${INT_MS} ms)" || t_fail "join took ${INT_MS} ms to stop"
t_match "it says it cancelled the join" "interrupted: cancelling the join" "$ERR"
t_match "and that the join was interrupted" "^sync_manager: join: .*interrupted" "$ERR"
grep -q "joined lockspace" <<<"$ERR" && t_fail "it claims to have joined: $ERR" || t_ok "it does not claim to have joined"
t_run "status after the cancelled join" -- "$SM" status --json
python3 -c '
import json, sys
ls = [l for l in json.loads(sys.argv[1])["lockspaces"] if l["name"] == "jls"]
assert not ls, ls' "$T_OUT" && t_ok "status no longer lists lockspace jls" || t_fail "status still lists jls: $T_OUT"
[[ $(host_state "$V" 3) == "free 1 ihost1" ]] && t_ok "the claim was withdrawn: host_id 3 is free on disk" \
	|| t_fail "host 3 after the cancel: $(host_state "$V" 3)"

# ---- 3. Ctrl-C during direct join (no daemon involved) ----------------------------
"$SM" direct join "$V" --host-id 4 --host-name direct4 > "$T_DIR/djoin.out" 2> "$T_DIR/djoin.err" &
JPID=$!
T_PIDS+=("$JPID")
wait_for 20 "$JPID" "$T_DIR/djoin.err" "claimed host_id 4 \(generation 1\); waiting 2d.*Ctrl-C to stop" \
	&& t_ok "direct join says it claimed host_id 4, waits 2d, and that Ctrl-C stops it" \
	|| t_fail "no claim progress: $(cat "$T_DIR/djoin.err")"
[[ $(host_state "$V" 4) == "held 1 direct4" ]] && t_ok "during the wait host_id 4 is claimed on disk" \
	|| t_fail "host 4 during the wait: $(host_state "$V" 4)"
interrupt "$JPID"
ERR=$(cat "$T_DIR/djoin.err" "$T_DIR/djoin.out")
[[ $RC -eq 1 ]] && t_ok "interrupted direct join exits 1" || t_fail "interrupted direct join exited $RC: $ERR"
(( INT_MS < 5000 )) && t_ok "before its 2d wait ended (${INT_MS} ms)" || t_fail "direct join took ${INT_MS} ms to stop"
t_match "it says the join was interrupted" "cannot join lockspace on $V: operation interrupted" "$ERR"
grep -q "joined lockspace" <<<"$ERR" && t_fail "it claims to have joined: $ERR" || t_ok "it does not claim to have joined"
[[ $(host_state "$V" 4) == "free 1 direct4" ]] && t_ok "the claim was withdrawn: host_id 4 is free on disk" \
	|| t_fail "host 4 after the cancel: $(host_state "$V" 4)"

# ---- 4. status --watch ------------------------------------------------------------
t_run "join host_id 3 again" -- "$SM" join "$V" --host-id 3
t_match "joined at once: the cancelled claim left nothing to wait H for" \
	"joined lockspace jls as host_id 3 generation 2 \(([0-9]|1[0-9])\.[0-9] s\)" "$T_OUT"
grep -q "not been renewed for H" <<<"$T_OUT" && t_fail "the rejoin waited for H: $T_OUT" || t_ok "the rejoin did not wait for H"
"$SM" run -l jls:r1 --name holder -- sleep 1000 > "$T_DIR/holder.log" 2>&1 &
T_PIDS+=("$!")
retry_until 20 grep -q "acquired jls:r1" "$T_DIR/holder.log" && t_ok "a holder takes jls:r1" \
	|| t_fail "holder: $(cat "$T_DIR/holder.log")"
holder=$(sed -n 's/.*running sleep as pid \([0-9]*\).*/\1/p' "$T_DIR/holder.log" | head -n1)
[[ -n $holder ]] && T_PIDS+=("$holder")

t_refused "status --watch=SECONDS with a bad interval is refused" "--watch=SECONDS must be seconds" -- \
	"$SM" status --watch=soon
t_refused "status --watch 1 (no '=') is refused rather than ignored" "given as --watch=SECONDS" -- \
	"$SM" status --watch 1
t0=$(now_ms)
timeout --foreground --preserve-status -s INT -k 10 3.5 "$SM" status --watch=1 > "$T_DIR/watch.out" 2> "$T_DIR/watch.err"
RC=$? el=$(( $(now_ms) - t0 ))
W=$(cat "$T_DIR/watch.out")
[[ $RC -eq 0 ]] && t_ok "status --watch exits 0 on Ctrl-C" || t_fail "status --watch exited $RC: $(cat "$T_DIR/watch.err")"
(( el < 8000 )) && t_ok "and stops at once (${el} ms for a 3.5 s watch)" || t_fail "watch took ${el} ms"
[[ ! -s $T_DIR/watch.err ]] && t_ok "nothing on stderr" || t_fail "stderr: $(cat "$T_DIR/watch.err")"
grep -q $'[\r\e]' "$T_DIR/watch.out" && t_fail "escape codes or carriage returns in a non-terminal watch" \
	|| t_ok "no escape codes: refreshes are plain lines in a file"
n=$(grep -Ec "^Every 1 s: sync_manager status, [0-9-]+ [0-9:]+ \(Ctrl-C stops\)$" <<<"$W")
(( n >= 2 )) && t_ok "it refreshed $n times in 3.5 s" || t_fail "refreshed $n times: $W"
[[ $(grep -c "^Lockspaces$" <<<"$W") -eq $n && $(grep -c "^Hosts of jls$" <<<"$W") -eq $n ]] \
	&& t_ok "every refresh is complete (lockspaces and hosts each time)" || t_fail "incomplete refreshes: $W"
t_match "lockspace table with renewal age, latency and worst latency" \
	"^  LOCKSPACE +STATE +HOST_ID +GEN +RENEWED +TOOK +MAX TOOK +EXPIRES IN" "$W"
t_match "jls joined as host_id 3 generation 2 with those values" \
	"^  jls +joined +3 +2 +[0-9.]+ s ago +[0-9.]+ m?s +[0-9.]+ m?s +[0-9.]+ s" "$W"
t_match "hosts with state and the age of the last renewal seen" "^  HOST_ID +NAME +GEN +STATE +LAST CHANGE SEEN" "$W"
t_match "this host is live" "^  3 +ihost1 +2 +live \(this host, unprotected: no watchdog\) +[0-9.]+ s ago +ok" "$W"
t_match "the cancelled direct join shows as a free slot" "^  4 +direct4 +1 +free " "$W"
t_match "lease table with owner and lease version" "^  LOCKSPACE +RESOURCE +MODE +LVER +OWNER +PIDS +STATE" "$W"
t_match "the lease row names the owning host and the holder's pid" \
	"^  jls +r1 +EX +1 +host_id 3 \(ihost1\) +$holder +held" "$W"

# ---- clean up ---------------------------------------------------------------------
kill "$holder" 2>/dev/null
retry_until 20 bash -c "'$SM' status --json | grep -q '\"leases\": 0'" && t_ok "the lease is released" || t_fail "release"
t_run "leave" -- "$SM" leave jls
t_run "shutdown" -- "$SM" shutdown
retry_until 20 bash -c "! kill -0 $DPID 2>/dev/null" && t_ok "daemon exited" || t_fail "daemon still running"
t_done
