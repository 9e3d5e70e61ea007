#!/bin/bash
# A lease owned on disk by a live host that does not hold it must be noticed
# and released (issue 18, section 2).  Two emulated hosts, d = 1 s, W = 3 s
# (R = 2 s, F = 8 s, H = 11 s).
#
# How such an orphan comes about, through the CLI: host 2 runs a command
# with two leases, ls:vm1 and aux:r1, while the writes to aux's volume hang
# (aux has d = 5 s: a hung write fails after 5 s, then vm1 would be given back).
# vm1 is acquired on disk (its leader names host 2), the acquire of r1 hangs,
# and the daemon is killed there (SIGKILL, as a crash or an admin killing a
# stuck daemon) and started again from its state file within F: it resumes
# both lockspaces with the same generation, but its state file never named
# vm1 (an acquire is recorded when it completes).  Nothing local holds vm1;
# on disk host 2 owns it, live, for as long as host 2 lives: host 3 is
# refused.  Expected: host 2's daemon finds it (a check of every resource of a
# lockspace it resumed), releases it, logs it and counts it; host 3 gets vm1
# within a bounded time; a lease host 2 really holds is left alone.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (namespaces)"; exit 77; }

# 'vol-' never occurs in T_DIR's random suffix: the fault filter matches aux's volume only.
V=$T_DIR/vol-ls VA=$T_DIR/vol-aux
BOUND=30 # s: host 3 must get vm1 within this after host 2's daemon restarted
t_run "format ls" -- "$SM" init "$V" --lockspace ls --max-hosts 8 --resources 16 --io-timeout 1 \
	--watchdog-timeout 3 --resource vm1 --resource vm2
t_run "format aux" -- "$SM" init "$VA" --lockspace aux --max-hosts 8 --resources 4 --io-timeout 5 \
	--watchdog-timeout 3 --resource r1
for n in 2 3; do h_start "$n" || t_done; done
t_run "host 2 joins ls" -- h_sm 2 join "$V" --host-id 2
t0=$(now_ms)
t_run "host 2 joins aux" -- h_sm 2 join "$VA" --host-id 2
t_log "joining aux (d = 5 s) took $(( $(now_ms) - t0 )) ms"
t_run "host 3 joins ls" -- h_sm 3 join "$V" --host-id 3
D2=$(_h_dir 2)

# A lease host 2 really holds, across the restart: it must stay held.
h_bg 2 "$T_DIR/vm2.log" "$SM" run -l ls:vm2 --name keeper -- sleep 1000 >/dev/null
retry_until 15 grep -q "acquired ls:vm2" "$T_DIR/vm2.log" && t_ok "host 2 holds vm2" \
	|| t_fail "vm2: $(cat "$T_DIR/vm2.log")"

# ---- the orphan ---------------------------------------------------------------------------
h_fault 2 "write hang vol-aux"
h_bg 2 "$T_DIR/two.log" "$SM" run -l ls:vm1 -l aux:r1 --name two -- sleep 1000 >/dev/null
retry_until 15 bash -c "'$SM' direct inquire '$V:vm1' | grep -q 'exclusive owner host_id 2 '" \
	&& t_ok "vm1 is owned by host 2 on disk while aux:r1's acquire hangs" \
	|| t_fail "vm1 not acquired: $(cat "$T_DIR/two.log"; "$SM" direct inquire "$V:vm1")"
old=$(h_daemon_pid 2)
h_exec 2 kill -KILL "$old"
for ((i = 0; i < 100; i++)); do h_exec 2 kill -0 "$old" 2>/dev/null || break; sleep 0.05; done
h_fault 2 ""
h_exec 2 env SYNC_MANAGERD_CONFIG="$D2/sync_managerd.conf" SYNC_MANAGER_TEST_FAULTS="$D2/faults" \
	setsid "$SMD" -D >> "$D2/daemon2.log" 2>&1 &
T_PIDS+=("$!")
t_restart=$(now_ms)
retry_until 15 bash -c "nsenter --target ${H_INIT[2]} --pid --mount -- env SYNC_MANAGER_RUN_DIR=$D2 \
	'$SM' status | grep -Eq '^ *ls +.*joined'" && t_ok "host 2's new daemon resumed ls" \
	|| t_fail "ls not resumed: $(tail -5 "$D2/daemon2.log")"
h_alive 2 && t_ok "host 2 was not reset" || t_fail "host 2 was reset"
T_OUT=$(h_sm 2 status 2>&1)
grep -Eq "ls +vm1 " <<<"$T_OUT" && t_fail "host 2 lists vm1: $T_OUT" || t_ok "host 2's daemon holds no vm1"
t_match "host 2 still holds vm2" "ls +vm2 +EX" "$T_OUT"

# ---- host 3 asks for vm1 until it gets it (or BOUND passes) ------------------------------
first_refusal= got=
while (( $(now_ms) - t_restart < BOUND * 1000 )); do
	if out=$(h_sm 3 run -l ls:vm1 -- true 2>&1); then got=$(( $(now_ms) - t_restart )); break; fi
	[[ -z $first_refusal ]] && first_refusal=$out
	sleep 0.5
done
[[ -n $first_refusal ]] && t_log "host 3 was first refused: $first_refusal"
[[ -n $got ]] && t_ok "host 3 acquired vm1 $got ms after host 2's daemon restarted (bound ${BOUND} s)" \
	|| t_fail "host 3 was refused vm1 for ${BOUND} s while host 2 holds nothing: $first_refusal; $("$SM" direct inquire "$V:vm1")"
t_run "inquire vm1" -- "$SM" direct inquire "$V:vm1"
t_match "vm1 is free again after host 3's command" "no exclusive owner" "$T_OUT"
grep -Eq "ls:vm1.*(orphan|held by no process)" "$D2/daemon2.log" && t_ok "host 2's daemon logged the orphan" \
	|| t_fail "no log line about vm1: $(grep vm1 "$D2/daemon2.log" | tail -5)"
T_OUT=$(h_sm 2 metrics 2>&1)
t_match "the metrics count it" "^sync_manager_lockspace_orphans_released_total\{lockspace=\"ls\"\} 1$" "$T_OUT"

# ---- what host 2 holds stays held ----------------------------------------------------------
T_OUT=$(h_sm 2 status 2>&1)
t_match "host 2 still holds vm2 after the check" "ls +vm2 +EX" "$T_OUT"
t_refused "host 3 is refused vm2" "held by host 2" -- h_sm 3 run -l ls:vm2 -- true
kpid=$(h_exec 2 pgrep -f "^sleep 1000" | head -n1)
[[ -n $kpid ]] && t_ok "vm2's holder still runs" || t_fail "vm2's holder is gone"

h_stop_all
t_done
