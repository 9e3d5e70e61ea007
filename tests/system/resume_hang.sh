#!/bin/bash
# A daemon restart must not hang on a volume that does not answer (issue 10,
# item 2; docs/restart.md).  One emulated host (d = 1 s, W = 3 s: F = 8 s,
# G = 1.5 s) holds a lease in lockspace 'good' and one in 'sick'.  Its
# daemon is killed (SIGKILL: the watchdog stays armed) and started again
# while every read of the sick volume hangs (fault table: 'read hang
# vol-sick').  Resuming 'sick' must read its header; done on the thread that
# pets the watchdog before the event loop runs, that read takes the 10 s
# header timeout: nobody answers status and the watchdog resets the host
# (3 s), killing the holder of 'good' with it.
# Expected: status answers at once after the restart, 'good' is resumed
# with its holder and lease, the holder of 'sick' is fenced by F after the
# last renewal the state file recorded, the host is not reset, and once
# the volume answers again 'sick' is rejoined.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (namespaces)"; exit 77; }

F_MS=8000 G_MS=1500
# 'vol-' never occurs in T_DIR's random suffix, so the fault filter matches
# only the volume meant.
VG=$T_DIR/vol-good VS=$T_DIR/vol-sick
fmt() { t_run "format $1 ($2)" -- "$SM" init "$1" --lockspace "$2" --max-hosts 4 --resources 4 \
	--io-timeout 1 --watchdog-timeout 3 --resource r1; }
fmt "$VG" good
fmt "$VS" sick
h_start 1 || t_done
D=$(_h_dir 1)
HL=$D/hostemu.log DL2=$D/daemon2.log

t_run "join good" -- h_sm 1 join "$VG" --host-id 1
t_run "join sick" -- h_sm 1 join "$VS" --host-id 1
LG=$T_DIR/good.log LS=$T_DIR/sick.log
h_bg 1 "$LG" "$SM" run -l good:r1 --name goodholder -- sleep 1000 >/dev/null
h_bg 1 "$LS" "$SM" run -l sick:r1 --name sickholder -- sleep 1000 >/dev/null
retry_until 10 grep -q "acquired good:r1" "$LG" && t_ok "a process holds good:r1" || t_fail "good:r1: $(cat "$LG")"
retry_until 10 grep -q "acquired sick:r1" "$LS" && t_ok "a process holds sick:r1" || t_fail "sick:r1: $(cat "$LS")"
gpid=$(grep -o 'as pid [0-9]*' "$LG" | awk '{ print $3 }')
spid=$(grep -o 'as pid [0-9]*' "$LS" | awk '{ print $3 }')
[[ -n $gpid && -n $spid ]] || t_fail "no holder pids: $(cat "$LG" "$LS")"

# The crash, and a restart while the sick volume hangs.
old=$(h_daemon_pid 1)
h_fault 1 "read hang vol-sick"
t0=$(now_ms)
h_exec 1 kill -KILL "$old"
for ((i = 0; i < 100; i++)); do h_exec 1 kill -0 "$old" 2>/dev/null || break; sleep 0.05; done
h_exec 1 env SYNC_MANAGERD_CONFIG="$D/sync_managerd.conf" SYNC_MANAGER_TEST_FAULTS="$D/faults" \
	setsid "$SMD" -D >> "$DL2" 2>&1 &
T_PIDS+=("$!")
a=$(now_ms)
# The socket of the killed daemon is still there: wait for an answer.
first=
for ((i = 0; i < 150; i++)); do
	if h_exec 1 timeout --foreground 5 "$SM" status > "$T_DIR/status1" 2>&1; then first=$(( $(now_ms) - a )); break; fi
	h_alive 1 || break
	sleep 0.1
done
[[ -n $first ]] && t_ok "status answers $first ms after the restart" \
	|| t_fail "no status answer after the restart: $(tail -5 "$DL2"; tail -3 "$HL")"
(( ${first:-99999} < 2000 )) && t_ok "within 2 s, while the sick header read hangs" \
	|| t_fail "status took ${first:-forever} ms after the restart"
t_match "sick is listed while its header is read" "sick" "$(cat "$T_DIR/status1")"

# status every 0.1 s until the sick holder is fenced: "START_MS TOOK_MS EXIT"
LAT=$T_DIR/status.lat
(
	while [[ ! -e $T_DIR/stop ]]; do
		b=$(now_ms)
		h_exec 1 timeout --foreground 30 "$SM" status >/dev/null 2>&1
		rc=$?
		echo "$b $(( $(now_ms) - b )) $rc" >> "$LAT"
		sleep 0.1
	done
) &
poller=$!
T_PIDS+=("$poller")

retry_until 25 grep -q "lockspace sick: fencing complete" "$DL2" \
	&& t_ok "sick was fenced (+$(( $(now_ms) - t0 )) ms after the kill)" \
	|| t_fail "sick was not fenced: $(tail -8 "$DL2")"
fenced=$(( $(now_ms) - t0 ))
# The last recorded renewal is at most R before the kill: its holder must be
# gone by F + G after the kill (plus slack for a loaded machine).
(( fenced < F_MS + G_MS + 4000 )) && t_ok "by F + G after the kill ($fenced ms)" \
	|| t_fail "fencing completed only $fenced ms after the kill"
h_exec 1 kill -0 "$spid" 2>/dev/null && t_fail "the holder of sick:r1 (pid $spid) still runs" \
	|| t_ok "the holder of sick:r1 is gone"
grep -q "its volume header could not be read within F" "$DL2" \
	&& t_ok "the daemon says why it fenced sick" || t_fail "no reason logged: $(grep sick "$DL2" | tail -5)"
sleep 4 # more than W after the fencing: a host not petted is reset by now
touch "$T_DIR/stop"
wait "$poller"

h_alive 1 && ! grep -q "resetting" "$HL" && t_ok "the host was not reset" \
	|| t_fail "the host was reset: $(tail -3 "$HL")"
h_exec 1 kill -0 "$gpid" 2>/dev/null && t_ok "the holder of good:r1 (pid $gpid) still runs" \
	|| t_fail "the holder of good:r1 is gone: $(cat "$LG")"
T_OUT=$(h_sm 1 status 2>&1)
t_match "good is resumed" "good .*joined" "$T_OUT"
t_match "good:r1 is still held" "good +r1 +EX .*held" "$T_OUT"
t_match "by its holder" "goodholder +alive +1" "$T_OUT"
n=$(wc -l < "$LAT")
bad=$(awk '$3 != 0' "$LAT" | wc -l)
max=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$LAT")
t_log "status after the restart: $n calls, max $max ms"
(( n >= 20 && bad == 0 )) && t_ok "$n status calls while sick hung, all answered" \
	|| t_fail "status: $n calls, $bad failed"
(( max < 2000 )) && t_ok "each within 2 s (max $max ms)" || t_fail "status took up to $max ms"

# The storage answers again: sick is rejoined by itself.
h_fault 1 ""
retry_until 45 bash -c "nsenter --target ${H_INIT[1]} --pid --mount -- env SYNC_MANAGER_RUN_DIR=$D \
	'$SM' status | grep -Eq '^ *sick +.*joined'" \
	&& t_ok "sick is rejoined once its volume answers" || t_fail "sick not rejoined: $(tail -5 "$DL2")"

h_stop_all
t_done
