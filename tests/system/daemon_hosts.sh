#!/bin/bash
# Three emulated hosts (PID namespaces with an emulated watchdog), each with
# its own sync_managerd, sharing one lease volume file.  d = 1 s, W = 3 s:
# R = 2 s, F = 8 s, H = 11 s.  Everything goes through the CLI.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (namespaces)"; exit 77; }

V=$T_DIR/leases
H=11
t_run "format the shared volume" -- "$SM" init "$V" --lockspace ls --max-hosts 8 --resources 32 \
	--io-timeout 1 --watchdog-timeout 3 --resource vm1 --resource vm2 --resource disk1

for n in 1 2 3; do h_start "$n" || t_done; done
for n in 1 2 3; do
	t_run "host $n joins as host_id $n" -- h_sm "$n" join "$V" --host-id "$n"
done
t_match "the join reports host_id and generation" "joined lockspace ls as host_id 3 generation 1" "$T_OUT"

# Liveness: after a few renewals every host sees the others live.
sleep 5
t_run "hosts listing on host 2" -- h_sm 2 hosts ls
t_match "host 1 is live as seen from host 2" "^1 +host1 +1 +live " "$T_OUT"
t_match "host 3 is live as seen from host 2" "^3 +host3 +1 +live " "$T_OUT"
t_match "host 2 is this host" "^2 +host2 +1 +live \(this host\)" "$T_OUT"
t_run "hosts --json" -- h_sm 2 hosts ls --json
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert len(d["hosts"]) == 3, d' "$T_OUT" \
	&& t_ok "hosts --json lists three hosts" || t_fail "hosts --json: $T_OUT"

# A lease held on host 1 is refused on host 2, naming host 1.
log1=$T_DIR/holder1.log
holder=$(h_bg 1 "$log1" "$SM" run -l ls:vm1 --name guest1 -- sleep 1000)
retry_until 10 grep -q "acquired ls:vm1" "$log1" && t_ok "host 1 runs a holder of vm1" || t_fail "holder: $(cat "$log1")"
t_run "status on host 1 shows the lease" -- h_sm 1 status
t_match "lease line" "ls +vm1 +EX +1 " "$T_OUT"
t_refused "host 2 is refused, naming host 1" "held by host 1 \(host1, live\)" -- h_sm 2 run -l ls:vm1 -- true
t_refused "host 3 as well (all-or-nothing with vm2)" "held by host 1" -- h_sm 3 run -l ls:vm2 -l ls:vm1 -- true
t_run "vm2 stayed free (all or nothing)" -- "$SM" direct inquire "$V:vm2"
t_match "vm2 free" "no exclusive owner" "$T_OUT"
t_refused "a second holder on the same host is refused too" "held by this host" -- h_sm 1 run -l ls:vm1 -- true

# The holder exits: host 2 acquires at once.
kill "$holder"; wait "$holder" 2>/dev/null
h_exec 1 pkill -f "sleep 1000"
retry_until 5 h_sm 1 status --json
retry_until 10 bash -c "\"$SM\" direct inquire '$V:vm1' | grep -q 'no exclusive owner'" \
	&& t_ok "vm1 released when its holder exited" || t_fail "vm1 still held: $T_OUT"
t_run "host 2 acquires vm1 right away" -- h_sm 2 run -l ls:vm1 -- true
t_match "lver grew" "at lver 2" "$T_OUT"

# Shared leases: two hosts share, exclusive is refused.
logs=$T_DIR/shared.log
s1=$(h_bg 1 "$logs" "$SM" run --shared -l ls:disk1 -- sleep 1000)
s2=$(h_bg 2 "$logs" "$SM" run --shared -l ls:disk1 -- sleep 1000)
retry_until 10 bash -c "[[ \$(grep -c 'acquired ls:disk1 shared' '$logs') -eq 2 ]]" \
	&& t_ok "hosts 1 and 2 hold disk1 shared" || t_fail "shared: $(cat "$logs")"
t_refused "exclusive disk1 is refused on host 3" "held shared by host" -- h_sm 3 run -l ls:disk1 -- true
h_exec 1 pkill -f "sleep 1000"; h_exec 2 pkill -f "sleep 1000"

# The seed's form, with a resource it creates.
t_run "seed form: sync_manager daemon -i -n -l -c" -- h_sm 3 daemon -i 3 -n vm7 -l "vm7:$V:0" -c sh -c 'echo seed-ok'
t_match "the command ran" "seed-ok" "$T_OUT"
t_run "vm7 exists now" -- "$SM" resource ls "$V"
t_match "vm7 listed" "^vm7$" "$T_OUT"

# Host 1's daemon is SIGKILLed while its holder runs: the emulated watchdog
# resets host 1 (killing the holder) before host 2 can take over.  Host 2
# tries from the moment of the kill, every 0.2 s: each attempt that started
# before host 1 was gone, or before H - 2.5 s after the kill (the last renewal
# started at most R + a little before it), must be refused, and one succeeds
# within H + 2.5 s.
log1=$T_DIR/holder2.log
h_bg 1 "$log1" "$SM" run -l ls:vm1 -- sleep 1000 >/dev/null
retry_until 10 grep -q "acquired ls:vm1" "$log1" || t_fail "vm1 on host 1: $(cat "$log1")"
sleep 1
down=$T_DIR/h1.down
( h_wait_down 1 $((H + 10)) && now_ms > "$down" ) &
watcher=$!
t0=$(now_ms)
h_exec 1 kill -9 "$(h_daemon_pid 1)"
t_acq= t_try= tries=0 gap=0 prev=$t0 bad=
while (( $(now_ms) - t0 < (H + 8) * 1000 )); do
	t_try=$(now_ms)
	(( t_try - prev > gap )) && gap=$((t_try - prev))
	prev=$t_try
	tries=$((tries + 1))
	if out=$(h_sm 2 run -l ls:vm1 -- true 2>&1); then
		t_acq=$(now_ms)
		break
	fi
	grep -q "held by host 1" <<<"$out" || bad=$out
	sleep 0.2
done
wait "$watcher"
t_reset=$(cat "$down" 2>/dev/null)
[[ -n $t_reset ]] && t_ok "host 1 was reset by its watchdog $((t_reset - t0)) ms after the kill" \
	|| t_fail "host 1 still up"
[[ -z $bad ]] && t_ok "host 2's refused attempts named host 1 as the holder" || t_fail "unexpected refusal: $bad"
(( gap <= 1500 )) && t_ok "host 2 tried $tries times, at most $gap ms apart" || t_fail "attempts $gap ms apart"
if [[ -n $t_acq && -n $t_reset ]]; then
	t_ok "host 2 took vm1 over $((t_acq - t0)) ms after the kill (attempt started at +$((t_try - t0)) ms, H = ${H}000 ms)"
	(( t_try > t_reset )) && t_ok "every attempt before host 1's reset (+$((t_reset - t0)) ms) was refused" \
		|| t_fail "an attempt started at +$((t_try - t0)) ms, before host 1 was gone (+$((t_reset - t0)) ms), succeeded"
	(( t_try - t0 >= H * 1000 - 2500 )) && t_ok "every attempt before H - 2.5 s was refused" \
		|| t_fail "takeover too early: attempt started at +$((t_try - t0)) ms"
	(( t_acq - t0 <= H * 1000 + 2500 )) && t_ok "takeover within H + 2.5 s" \
		|| t_fail "takeover took $((t_acq - t0)) ms"
else
	t_fail "host 2 never took vm1 over: $out"
fi

# Host 3 loses its storage: its holders are killed before H (at F + at most G).
log3=$T_DIR/holder3.log
h_bg 3 "$log3" "$SM" run -l ls:vm2 -- sleep 1000 >/dev/null
retry_until 10 grep -q "acquired ls:vm2" "$log3" || t_fail "vm2 on host 3: $(cat "$log3")"
t0=$(now_ms)
h_fault 3 "any eio"
retry_until 30 bash -c "grep -q 'killed by signal' '$log3'" \
	&& t_ok "host 3's holder was killed after $(( $(now_ms) - t0 )) ms without storage (F = 8000, H = ${H}000)" \
	|| t_fail "holder of vm2 not killed: $(cat "$log3")"
(( $(now_ms) - t0 < H * 1000 )) && t_ok "killed before H" || t_fail "killed too late"
grep -q "fencing" "$(_h_dir 3)/daemon.log" && t_ok "host 3's daemon logged the fencing" || t_fail "no fencing log"
sleep 4
h_alive 3 && t_ok "host 3 itself survives (holders dead: the watchdog is petted again)" || t_fail "host 3 was reset"
h_fault 3 ""

# A daemon restart keeps leases and their holders.
log2=$T_DIR/holder4.log
h_bg 2 "$log2" "$SM" run -l ls:vm2 --name keeper --wait $((H + 8)) -- sleep 1000 >/dev/null
retry_until $((H + 8)) grep -q "acquired ls:vm2" "$log2" && t_ok "host 2 holds vm2" || t_fail "vm2 on host 2: $(cat "$log2")"
h_restart_daemon 2 TERM
retry_until 10 h_sm 2 status && t_ok "a new daemon runs on host 2" || t_fail "no new daemon: $(tail "$(_h_dir 2)/daemon2.log")"
retry_until 10 bash -c "'$SM' status 2>/dev/null | true; [[ 1 ]]"
sleep 3
t_run "status after the restart" -- h_sm 2 status
t_match "the lease is still held" "ls +vm2 +EX .*held" "$T_OUT"
t_match "by the same process" "keeper +alive +1" "$T_OUT"
h_exec 2 pgrep -f "sleep 1000" >/dev/null && t_ok "the holder still runs" || t_fail "holder died"
h_alive 2 && t_ok "host 2 was not reset" || t_fail "host 2 reset"
retry_until $((H + 10)) bash -c "nsenter --target ${H_INIT[3]} --pid --mount -- env SYNC_MANAGER_RUN_DIR=$(_h_dir 3) '$SM' status | grep -q ' joined '" \
	&& t_ok "host 3 rejoined by itself after its storage came back (new generation)" || t_fail "host 3 did not rejoin"
t_refused "vm2 is still refused elsewhere" "held by host 2" -- h_sm 3 run -l ls:vm2 -- true
h_exec 2 pkill -f "sleep 1000"
retry_until 10 bash -c "\"$SM\" direct inquire '$V:vm2' | grep -q 'no exclusive owner'" \
	&& t_ok "the restarted daemon released vm2 when its holder exited" || t_fail "vm2 not released"

h_stop_all
t_done
