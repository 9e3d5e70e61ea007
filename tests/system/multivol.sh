#!/bin/bash
# Leases on several volumes are refused (issue 18, section 1).  Three volumes
# formatted with the same lockspace name and a resource r1; host 1 joins vol1
# as host_id 1, host 2 joins vol2 as host_id 1.  Each host would take its
# host_id and liveness from the volume it names first, so both could hold r1
# "on a majority of three" at once.  Until volume sets exist every way of
# asking for such a lease fails, says why, and leaves nothing held on any
# volume.  Emulated hosts as in daemon_hosts.sh (d = 1 s, W = 3 s).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (namespaces)"; exit 77; }

V1=$T_DIR/vol1 V2=$T_DIR/vol2 V3=$T_DIR/vol3
WHY="several volumes.*not safe in this version.*host ids and liveness.*one volume per lease"
for v in "$V1" "$V2" "$V3"; do
	t_run "format $(basename "$v") with lockspace ls and r1" -- "$SM" init "$v" --lockspace ls --max-hosts 4 \
		--resources 4 --io-timeout 1 --watchdog-timeout 3 --resource r1
done

# nothing_held WHAT: r1 is free (lver 0, no owner) on all three volumes.
nothing_held() {
	local v
	for v in "$V1" "$V2" "$V3"; do
		t_run "inquire r1 on $(basename "$v") $1" -- "$SM" direct inquire "$v:r1"
		t_match "r1 on $(basename "$v") is free and never granted $1" "^r1: lver 0, no exclusive owner$" "$T_OUT"
	done
}

for n in 1 2; do h_start "$n" || t_done; done
t_run "host 1 joins vol1 as host_id 1" -- h_sm 1 join "$V1" --host-id 1
t_run "host 2 joins vol2 as host_id 1" -- h_sm 2 join "$V2" --host-id 1

# The issue's reproduction.  Host 1 asks first and would keep the lease.
log1=$T_DIR/host1.log
h_bg 1 "$log1" "$SM" run -l "$V1:r1,$V2:r1,$V3:r1" -- sleep 1000 >/dev/null
retry_until 20 grep -Eq "acquired|cannot acquire" "$log1"
if grep -q "acquired" "$log1"; then
	t_fail "host 1 was granted r1 on three volumes: $(cat "$log1")"
else
	t_match "host 1 is refused, naming the lease and why" "cannot acquire.*r1 names 3 volumes.*$WHY.*e\.g\. .*/vol1:0:r1" \
		"$(cat "$log1")"
fi
out=$(h_sm 2 run -l "$V2:r1,$V1:r1,$V3:r1" -- echo host2-ran 2>&1)
rc=$?
if [[ $rc -eq 0 ]] || grep -q "host2-ran" <<<"$out"; then
	t_fail "host 2 was granted r1 on three volumes while host 1 asked for it: $out"
else
	t_match "host 2 is refused as well, with the reason" "$WHY" "$out"
fi
t_run "status on host 1" -- h_sm 1 status
t_match "host 1 holds no lease" "^leases: *none|none held" "$T_OUT"
t_run "status on host 2" -- h_sm 2 status
t_match "host 2 holds no lease" "^leases: *none|none held" "$T_OUT"
nothing_held "after the refused runs"

# Through the library a client may name a lockspace and a volume: host 1's
# host_id in ls (vol1) must not be used for r1 on vol2.
t_run "a lease on vol2 with the host_id of vol1's lockspace is refused (SM_EMULTI_VOLUME)" -- \
	h_exec 1 "$SM_BIN/tests/sm_clients" lockspace-on ls "$V2:r1"
t_match "the refusal names both volumes" "r1 is on volume .*vol2:0 but lockspace ls is on .*vol1:0" "$T_OUT"

# The seed form takes one volume per lease and says why.
t_refused "seed form with three volumes is refused with the reason" "-l .*vol1:r1,.*vol3:r1 on 3 volumes.*$WHY" -- \
	h_sm 1 daemon -i 1 -n seed -l "$V1:r1,$V2:r1,$V3:r1" -c echo seed-ran

# The daemon-less CLI: acquire and request would write the lease; both refused.
t_run "host_id 3 joins vol1 without a daemon" -- "$SM" direct join "$V1" --host-id 3
t_refused "direct acquire on three volumes is refused with the reason" "direct acquire of .*vol1:r1 on 3 volumes.*$WHY" -- \
	"$SM" direct acquire "$V1:r1" "$V2:r1" "$V3:r1" --host-id 3
t_refused "direct request on three volumes is refused with the reason" "$WHY" -- \
	"$SM" direct request "$V1:r1" "$V2:r1" "$V3:r1" --host-id 3 --handoff
nothing_held "after the refused direct commands"
t_run "direct inquire still reads three volumes" -- "$SM" direct inquire "$V1:r1" "$V2:r1" "$V3:r1"
t_match "majority view: free" "^r1: lver 0, no exclusive owner$" "$T_OUT"

# One volume per lease keeps working, and is exclusive within its volume.
log2=$T_DIR/single.log
holder=$(h_bg 1 "$log2" "$SM" run -l "$V1:r1" -- sleep 1000)
retry_until 20 grep -q "acquired ls:r1" "$log2" && t_ok "host 1 acquires r1 on vol1 alone" \
	|| t_fail "single volume: $(cat "$log2")"
t_run "r1 on vol1 is owned now" -- "$SM" direct inquire "$V1:r1"
t_match "owned by host_id 1" "lver 1, exclusive owner host_id 1" "$T_OUT"
kill "$holder" 2>/dev/null
h_exec 1 pkill -f "sleep 1000"
retry_until 10 bash -c "\"$SM\" direct inquire '$V1:r1' | grep -q 'no exclusive owner'" \
	&& t_ok "r1 on vol1 released when its holder exited" || t_fail "r1 still held: $T_OUT"

h_stop_all
t_done
