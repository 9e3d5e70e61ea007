#!/bin/bash
# Volume sets (issue 18, section 1): three volumes formatted together as one
# lockspace, delta and resource leases on a majority of them.  Driven the
# way a user would: init with three paths, join naming the members in any
# order, run -l LOCKSPACE:RESOURCE, storage faults injected into one member
# and then two.  Emulated hosts as in daemon_hosts.sh (d = 1 s, W = 3 s:
# F = 8 s, H = 11 s).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (namespaces)"; exit 77; }

V1=$T_DIR/v1 V2=$T_DIR/v2 V3=$T_DIR/v3
t_run "init formats a volume set from three paths" -- "$SM" init "$V1" "$V2" "$V3" --lockspace ls --max-hosts 4 \
	--resources 4 --io-timeout 1 --watchdog-timeout 3 --resource r1
t_match "init says how to join it" "volume set of 3 members.*join .*v1,.*v2,.*v3" "$(tr '\n' ' ' <<<"$T_OUT")"
t_refused "init with two paths is refused" "one PATH.*or three for a volume set" -- "$SM" init "$T_DIR/a" "$T_DIR/b" -l x
t_refused "init --force over one member alone is refused" "member 2 of the volume set of lockspace 'ls'.*together" -- \
	"$SM" init "$V2" --lockspace other --force
t_run "init --force over the whole set watches it once and formats it again" -- "$SM" init "$V3" "$V1" "$V2" \
	--lockspace ls --max-hosts 4 --resources 4 --io-timeout 1 --watchdog-timeout 3 --resource r1 --force
V1=$T_DIR/v3 V3=$T_DIR/v1 # member order as formatted now

for n in 1 2; do h_start "$n" || t_done; done
t_refused "joining one member alone is refused and says how to name the set" \
	"not the members of one volume set: name all three members" -- h_sm 1 join "$V2" --host-id 1
t_run "host 1 joins the set as host_id 1" -- h_sm 1 join "$V1,$V2,$V3" --host-id 1

# The issue's two holders: host 2 names the members in another order and
# asks for host_id 1.  It must wait for host 1's death (more than H), not
# share host_id 1.
jlog=$T_DIR/join2.log
jpid=$(h_bg 2 "$jlog" "$SM" join "$V3,$V1,$V2" --host-id 1)
sleep 14
if grep -q "joined lockspace" "$jlog"; then
	t_fail "host 2 joined host_id 1 while host 1 renews it: $(cat "$jlog")"
else
	t_match "host 2 waits for host_id 1: it is renewed" "host_id 1 was last held by 'host1'" "$(cat "$jlog")"
fi
kill -INT "$jpid" 2>/dev/null
t_run "host 2 leaves the lockspace it was joining" -- h_sm 2 leave ls
t_run "host 2 joins the set as host_id 2 (members in another order)" -- h_sm 2 join "$V2,$V3,$V1" --host-id 2

log1=$T_DIR/run1.log
h_bg 1 "$log1" "$SM" run -l ls:r1 -- sleep 1000 >/dev/null
retry_until 20 grep -q "acquired ls:r1" "$log1" && t_ok "host 1 acquires ls:r1 on the set" \
	|| t_fail "host 1: $(cat "$log1")"
t_refused "host 2 is refused, naming host 1" "ls:r1 is held by host 1 \(host1, live\)" -- \
	h_sm 2 run -l ls:r1 -- echo ran
t_run "the lease is on every member" -- "$SM" direct inquire "$V1:r1" "$V2:r1" "$V3:r1"
t_match "majority view: host 1 owns r1" "lver 1, exclusive owner host_id 1" "$T_OUT"

# A daemon crash (SIGKILL) and restart: the set is resumed from the state
# file, with its lease and holder (docs/restart.md).
h_restart_daemon 1 KILL
for ((i = 0; i < 150; i++)); do
	h_sm 1 status 2>/dev/null | grep -q '^  ls  *joined ' && break
	sleep 0.1
done
t_run "status after the restart" -- h_sm 1 status
echo "$T_OUT" | grep -q "down for" && t_fail "a member is down after the restart: $T_OUT"
t_match "the set is joined again (resumed, same generation)" "ls +joined +1 +1 " "$T_OUT"
t_match "and ls:r1 is still held" "ls +r1 +EX +1 " "$T_OUT"
t_refused "host 2 is still refused after host 1's restart" "ls:r1 is held by host 1" -- h_sm 2 run -l ls:r1 -- echo ran

# One member fails on both hosts: everything keeps working, status and
# metrics say which member is down.
h_fault 1 "any eio v2"
h_fault 2 "any eio v2"
for ((i = 0; i < 100; i++)); do
	h_sm 1 status 2>/dev/null | grep -q 'member [1-3] .*v2:0) down' && break
	sleep 0.1
done
t_run "status on host 1 with member 2 failing" -- h_sm 1 status
t_match "status names the member that is down" "ls: volume set works on the other two members: member [1-3] \(.*v2:0\) down for .*(I/O|EIO|Input/output)" "$T_OUT"
t_match "host 1 still holds ls:r1" "ls +r1 +EX +1 " "$T_OUT"
t_run "metrics on host 1" -- h_sm 1 metrics
t_match "metric: one member down" 'sync_manager_lockspace_members_down\{lockspace="ls"\} 1' "$T_OUT"
t_refused "host 2 is still refused with member 2 down" "held by host 1 \(host1, live\)" -- h_sm 2 run -l ls:r1 -- echo ran
h_exec 1 pkill -f "sleep 1000"
retry_until 20 bash -c "\"$SM\" direct inquire '$V1:r1' '$V2:r1' '$V3:r1' | grep -q 'no exclusive owner'" \
	&& t_ok "host 1 released r1 with member 2 down" || t_fail "r1 not released: $T_OUT"
t_run "host 2 acquires r1 with member 2 down" -- h_sm 2 run -l ls:r1 -- echo host2-ran
t_match "host 2's command ran" "host2-ran" "$T_OUT"
t_run "resource add on the set through the daemon, member 2 down" -- h_sm 1 resource add "$V1,$V2,$V3" r2
t_run "resource ls on the set" -- "$SM" resource ls "$V3,$V1,$V2"
t_match "r2 is listed" "^r2$" "$T_OUT"
t_run "host 2 runs under ls:r2" -- h_sm 2 run -l ls:r2 -- echo r2-ran
t_match "host 2's command ran under r2" "r2-ran" "$T_OUT"
# The seed form names the set by its members (RESOURCE:/A,/B,/C).
t_run "seed form with a volume set" -- h_sm 1 daemon -i 1 -n seed -l "r2:$V2,$V3,$V1" -c echo seed-ran
t_match "the seed form's command ran" "seed-ran" "$T_OUT"

# A member that hangs instead (each I/O to it times out after d).
h_fault 1 "any hang v3"
h_fault 2 "any hang v3"
log1=$T_DIR/run1b.log
h_bg 1 "$log1" "$SM" run -l ls:r1 -- sleep 1000 >/dev/null
retry_until 30 grep -q "acquired ls:r1" "$log1" && t_ok "host 1 acquires r1 with member 3 hanging" \
	|| t_fail "host 1 with member 3 hanging: $(cat "$log1")"
t_refused "host 2 refused with member 3 hanging" "held by host 1" -- h_sm 2 run -l ls:r1 -- echo ran
sleep 10
t_run "host 1 still holds r1 after more than F with member 3 hanging" -- h_sm 1 status
t_match "r1 held" "ls +r1 +EX +[0-9]+ " "$T_OUT"
t_match "renewals go on: the lockspace is joined" "ls +joined +1 " "$T_OUT"
h_fault 1 ""
h_fault 2 ""

# Two members fail on host 1 while it holds r1: it fails closed, its holder
# is killed by F (+ G), and host 2 (which reads every member) takes over
# after H.
h_fault 1 "any eio v1
any eio v3"
t0=$(now_ms)
for ((i = 0; i < 150; i++)); do
	h_exec 1 pgrep -f 'sleep 1000' >/dev/null || break
	sleep 0.2
done
took=$(( $(now_ms) - t0 ))
if h_exec 1 pgrep -f 'sleep 1000' >/dev/null; then
	t_fail "host 1's holder still runs 30 s after two members failed"
elif (( took < 4000 )); then
	# the last good renewal began at most about R = 2 s before the faults: F - R = 6 s
	t_fail "host 1's holder was killed after $took ms: too early for F = 8 s after its last renewal"
else
	t_ok "host 1's holder was killed $took ms after losing the majority (F = 8 s from the last renewal)"
fi
retry_until 30 h_sm 2 run -l ls:r1 -- echo host2-took-over && t_ok "host 2 takes r1 over after H" \
	|| t_fail "host 2 could not take r1 over: $T_OUT"
h_fault 1 ""

h_stop_all
t_done
