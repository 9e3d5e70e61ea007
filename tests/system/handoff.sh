#!/bin/bash
# The seed's hand-off (run --receive, request --handoff, daemon -r) on three
# emulated hosts sharing one volume.  d = 1 s, W = 3 s: R = 2 s, F = 8 s,
# H = 11 s.  Everything goes through the CLI (issue 18, section 2).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (namespaces)"; exit 77; }

V=$T_DIR/leases
H=11
# T_LEASE_IO=caw (ctest system/handoff-caw): the same on a volume of leases by
# COMPARE AND WRITE, emulated on the file for the daemons and the CLI.
LEASE_IO=()
if [[ ${T_LEASE_IO:-} == caw ]]; then
	export SYNC_MANAGER_TEST_CAW_FILES=1
	LEASE_IO=(--lease-io caw)
	truncate -s 16M "$V" # init probes the device it formats: it must exist
fi
t_run "format the shared volume" -- "$SM" init "$V" --lockspace ls --max-hosts 8 --resources 16 \
	--io-timeout 1 --watchdog-timeout 3 --resource vm1 --resource vm2 --resource vm3 --resource vm4 --resource disk1 \
	"${LEASE_IO[@]}"
if [[ ${T_LEASE_IO:-} == caw ]]; then
	t_run "dump the volume" -- "$SM" dump "$V"
	t_match "its leases use COMPARE AND WRITE" "lease I/O +caw" "$T_OUT"
fi

for n in 1 2 3; do h_start "$n" || t_done; done
for n in 1 2 3; do
	t_run "host $n joins as host_id $n" -- h_sm "$n" join "$V" --host-id "$n"
done
if [[ ${T_LEASE_IO:-} == caw ]]; then
	t_run "status --json on host 1" -- h_sm 1 status --json
	t_match "the lockspace's leases use COMPARE AND WRITE" '"lease_io": ?"caw"' "$T_OUT"
fi
sleep 5 # every host sees the others live

# holder N RES TAG: a holder of RES on host N that exits 0 once $T_DIR/TAG.go exists.
holder() {
	local n=$1 res=$2 tag=$3
	HPID=$(h_bg "$n" "$T_DIR/$tag.log" "$SM" run -l "ls:$res" -- \
		sh -c "while [ ! -e '$T_DIR/$tag.go' ]; do sleep 0.1; done")
	retry_until 15 grep -q "acquired ls:$res" "$T_DIR/$tag.log" \
		|| t_fail "$res on host $n: $(cat "$T_DIR/$tag.log")"
}
inquire() { "$SM" direct inquire "$V:$1" 2>&1; }
free_or_owner() { inquire "$1" | grep -Eo "no exclusive owner|owner host [0-9]+|held by host [0-9]+" | head -n1; }

# ---- 1. the normal hand-off -------------------------------------------------------------
holder 1 vm1 h1
rlog=$T_DIR/recv1.log
h_bg 2 "$rlog" "$SM" run --receive -l ls:vm1 --wait 60 -- true >/dev/null
sleep 2
touch "$T_DIR/h1.go"
retry_until 20 grep -q "received ls:vm1 exclusive at lver 2" "$rlog" \
	&& t_ok "host 2 received vm1 at lver 2 when host 1's holder exited" || t_fail "no hand-off: $(cat "$rlog")"
retry_until 10 bash -c "'$SM' direct inquire '$V:vm1' | grep -q 'no exclusive owner'" \
	&& t_ok "host 2 released vm1 when its command ended" || t_fail "vm1 after the receiver ended: $(inquire vm1)"

# ---- 2. the receiver gives up: the source must release, not hand off -------------------
holder 1 vm2 h2
t_refused "a receiver with --wait 3 gives up" "did not hand it over|in time" -- \
	h_sm 2 run --receive -l ls:vm2 --wait 3 -- true
touch "$T_DIR/h2.go"
gone() { ! kill -0 "$1" 2>/dev/null; }
retry_until 20 gone "$HPID" && t_ok "the source's run exited" || t_fail "the source's run still runs"
t_run "inquire vm2 after the source's holder exited" -- "$SM" direct inquire "$V:vm2"
t_match "vm2 is free, not owned by the receiver that gave up" "no exclusive owner" "$T_OUT"
t_run "host 3 acquires vm2" -- h_sm 3 run -l ls:vm2 -- true
t_run "status on host 2" -- h_sm 2 status
grep -Eq "ls +vm2 " <<<"$T_OUT" && t_fail "host 2 lists vm2: $T_OUT" || t_ok "host 2 holds nothing of vm2"

# ---- 3. a bare request --handoff with no receiver expires --------------------------------
holder 1 vm3 h3
t_run "host 2 asks for a hand-off and does not wait" -- h_sm 2 request ls:vm3 --handoff
touch "$T_DIR/h3.go"
retry_until 20 gone "$HPID" && t_ok "the source's run exited" || t_fail "the source's run still runs"
retry_until 15 bash -c "'$SM' direct inquire '$V:vm3' | grep -q 'no exclusive owner'" \
	&& t_ok "vm3 is free after its holder exited (nobody was waiting)" || t_fail "vm3: $(inquire vm3)"
t_run "host 3 acquires vm3" -- h_sm 3 run -l ls:vm3 -- true

# ---- 5. (issue 18, section 3) a refused convert to exclusive names the other shared holder
h_bg 2 "$T_DIR/s2.log" "$SM" run --shared -l ls:disk1 -- sleep 1001 >/dev/null
h_bg 3 "$T_DIR/s3.log" "$SM" run --shared -l ls:disk1 -- sleep 1002 >/dev/null
retry_until 15 grep -q "acquired ls:disk1 shared" "$T_DIR/s2.log" || t_fail "disk1 on host 2: $(cat "$T_DIR/s2.log")"
retry_until 15 grep -q "acquired ls:disk1 shared" "$T_DIR/s3.log" || t_fail "disk1 on host 3: $(cat "$T_DIR/s3.log")"
spid=$(h_exec 2 pgrep -f "^sleep 1001")
t_refused "host 2's convert to exclusive is refused, naming host 3" "held shared by host 3" -- \
	h_sm 2 convert ls:disk1 --pid "$spid" --exclusive
grep -q "held shared by host 2" <<<"$T_OUT" && t_fail "the refusal names the asking host: $T_OUT" \
	|| t_ok "the refusal does not name the asking host"
h_exec 2 pkill -f "sleep 1001"; h_exec 3 pkill -f "sleep 1002"

# ---- 4. the source host dies during a hand-off: the receiver takes over after H ---------
h_bg 1 "$T_DIR/h4.log" "$SM" run -l ls:vm4 -- sleep 1000 >/dev/null
retry_until 15 grep -q "acquired ls:vm4" "$T_DIR/h4.log" || t_fail "vm4 on host 1: $(cat "$T_DIR/h4.log")"
rlog=$T_DIR/recv4.log
h_bg 2 "$rlog" "$SM" run --receive -l ls:vm4 --wait $((H * 3)) -- true >/dev/null
sleep 2
t0=$(now_ms)
h_exec 1 kill -9 "$(h_daemon_pid 1)"
h_wait_down 1 $((H + 10)) && t_ok "host 1 was reset by its watchdog" || t_fail "host 1 still up"
if retry_until $((H * 3)) grep -q "received ls:vm4 exclusive" "$rlog"; then
	t_acq=$(now_ms)
	t_ok "host 2 took vm4 over $((t_acq - t0)) ms after host 1's daemon was killed (H = ${H}000 ms)"
	(( t_acq - t0 >= H * 1000 - 2500 )) && t_ok "not before H - 2.5 s" || t_fail "taken over too early"
else
	t_fail "host 2 never took vm4 over: $(cat "$rlog")"
fi

h_stop_all
t_done
