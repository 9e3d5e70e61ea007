#!/bin/bash
# A kill program that stops its process without ending it (as libvirt's
# <on_lockfailure>pause</on_lockfailure> does, issue 11 item 2), on emulated
# hosts: d = 1 s, W = 6 s, so F = 8 s, G = 3 s, H = 14 s (a G that leaves the
# kill programs time on a loaded machine).
#
# Host 1 runs two holders, each with the kill program below: it releases the
# holder's leases (as libvirt's pause does through the plugin), stops it with
# SIGSTOP and exits 0.  Host 1 is cut off its storage for longer than F, so
# both are fenced; then the storage comes back and host 1 rejoins.
#  - Neither holder stays "fencing" once its kill program is done: they are
#    alive, hold nothing, and nothing SIGKILLs them.
#  - "kept": nobody took it meanwhile: acquiring it again at the version it
#    held succeeds, one version up.
#  - "taken": host 2 took it meanwhile: acquiring it at the old version is
#    refused, naming host 2 as the holder.
#  - A holder whose kill program failed (exit 1) stays fenced: it cannot
#    acquire again.
source "$(dirname "$0")/lib.sh"
H_WATCHDOG_MS=6000
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (namespaces)"; exit 77; }

V=$T_DIR/leases
H=14

t_run "format the shared volume" -- "$SM" init "$V" --lockspace ls --max-hosts 8 --resources 8 \
	--io-timeout 1 --watchdog-timeout 6 --resource kept --resource taken --resource failed --resource other
for n in 1 2; do h_start "$n" || t_done; done
for n in 1 2; do t_run "host $n joins" -- h_sm "$n" join "$V" --host-id "$n"; done

EV=$T_DIR/events
# The "pause" kill program: release every lease of PID, stop it, exit 0.
cat > "$T_DIR/pause.sh" <<EOF
#!/bin/bash
pid=\${@: -1}
out=\$("$SM" release --all --pid "\$pid" 2>&1); rc=\$?
kill -STOP "\$pid"
echo "paused \$pid \$(date +%s%3N) rc=\$rc \$out" >> "$EV"
exit 0
EOF
# A kill program that fails (could not pause): it still released the leases.
cat > "$T_DIR/pause-fails.sh" <<EOF
#!/bin/bash
pid=\${@: -1}
"$SM" release --all --pid "\$pid" >/dev/null 2>&1
kill -STOP "\$pid"
echo "failed \$pid \$(date +%s%3N)" >> "$EV"
exit 1
EOF
chmod +x "$T_DIR/pause.sh" "$T_DIR/pause-fails.sh"

# start_holder NAME KILLPROG: a holder of ls:NAME on host 1; sets PID_NAME (as seen on host 1)
start_holder() {
	local log=$T_DIR/$1.log
	h_bg 1 "$log" "$SM" run -l "ls:$1" --name "$1" --kill-program "$2" -- sleep 1000 >/dev/null
	retry_until 20 grep -q "acquired ls:$1" "$log" || { t_fail "holder $1: $(cat "$log")"; t_done; }
	local p; p=$(grep -o 'as pid [0-9]*' "$log" | awk '{ print $3 }')
	printf -v "PID_$1" '%s' "$p"
}
start_holder kept "$T_DIR/pause.sh"
start_holder taken "$T_DIR/pause.sh"
start_holder failed "$T_DIR/pause-fails.sh"
t_ok "host 1 runs holders kept ($PID_kept), taken ($PID_taken), failed ($PID_failed)"

# lver_of PID RESOURCE: the version PID holds RESOURCE at on host 1
lver_of() { h_sm 1 inquire --pid "$1" --json | python3 -c "
import json,sys
print(''.join(str(l['lver']) for l in json.load(sys.stdin) if l['resource'] == '$2'))"; }
# proc_field PID FIELD: a field of PID's record in host 1's status --json ('' if not listed)
proc_field() { h_sm 1 status --json | python3 -c "
import json,sys
print(''.join(str(p['$2']) for p in json.load(sys.stdin)['processes'] if p['pid'] == $1))"; }
v_kept=$(lver_of "$PID_kept" kept) v_taken=$(lver_of "$PID_taken" taken)
[[ -n $v_kept && -n $v_taken ]] && t_ok "held at lver kept $v_kept, taken $v_taken" || t_fail "lvers '$v_kept' '$v_taken'"

# ---- storage lost for longer than F ---------------------------------------------
h_fault 1 "any eio"
all_ran() { (( $(grep -Ec '^(paused|failed) ' "$EV" 2>/dev/null) >= 3 )); }
retry_until $((H + 10)) all_ran \
	&& t_ok "the kill programs ran" || t_fail "kill programs: $(cat "$EV" 2>/dev/null)"
t_match "the pause program released kept's leases" "^paused $PID_kept [0-9]+ rc=0 released every lease" "$(cat "$EV")"
t_match "and taken's" "^paused $PID_taken [0-9]+ rc=0 released every lease" "$(cat "$EV")"
not_fencing() { local s; s=$(proc_field "$1" state); [[ -n $s && $s != fencing ]]; }
retry_until 10 not_fencing "$PID_kept" && t_ok "kept is no longer 'fencing' once its kill program is done" \
	|| t_fail "kept's state: $(proc_field "$PID_kept" state)"
t_match "kept is alive (stopped, not ended), with no lease" "^alive 0$" \
	"$(proc_field "$PID_kept" state) $(proc_field "$PID_kept" leases)"
t_match "so is taken" "^alive 0$" "$(proc_field "$PID_taken" state) $(proc_field "$PID_taken" leases)"
t_match "failed (its kill program failed) stays fencing" "^fencing$" "$(proc_field "$PID_failed" state)"
h_fault 1 ""
dl1=$(_h_dir 1)/daemon.log
for ((i = 0; i < (H + 20) * 5; i++)); do
	h_sm 1 status 2>/dev/null | grep -Eq '^  ls +joined ' && break
	sleep 0.2
done
h_sm 1 status | grep -Eq '^  ls +joined ' && t_ok "storage back: host 1 joined the lockspace again" \
	|| t_fail "host 1 did not rejoin: $(h_sm 1 status 2>&1)"
grep -q "SIGKILL" "$dl1" && t_fail "a holder was SIGKILLed: $(grep SIGKILL "$dl1")" || t_ok "nothing was SIGKILLed"
h_alive 1 && t_ok "host 1 was not reset" || t_fail "host 1 was reset"

# ---- host 2 takes 'taken' meanwhile ----------------------------------------------
L2=$T_DIR/thief.log
h_bg 2 "$L2" "$SM" run -l ls:taken --name thief --wait 30 -- sleep 1000 >/dev/null
retry_until 40 grep -q "acquired ls:taken" "$L2" && t_ok "host 2 takes 'taken' (host 1's old generation is dead)" \
	|| t_fail "host 2 could not take 'taken': $(cat "$L2")"

# ---- resume: acquire again at the versions held --------------------------------------
t_run "kept acquires its lease again at lver $v_kept" -- h_sm 1 acquire ls:kept --pid "$PID_kept" --version "$v_kept"
t_match "at lver $((v_kept + 1))" "acquired ls:kept exclusive at lver $((v_kept + 1)) for pid $PID_kept" "$T_OUT"
t_match "status: kept alive with its lease" "^alive 1$" "$(proc_field "$PID_kept" state) $(proc_field "$PID_kept" leases)"
h_exec 1 kill -CONT "$PID_kept"
t_refused "taken cannot: host 2 holds it at a later version, and is named" \
	"ls:taken is at lease version $((v_taken + 1)), not $v_taken: held by host 2 \(host2, live\)" \
	-- h_sm 1 acquire ls:taken --pid "$PID_taken" --version "$v_taken"
t_match "taken holds nothing" "^alive 0$" "$(proc_field "$PID_taken" state) $(proc_field "$PID_taken" leases)"
t_refused "failed (its kill program failed) cannot acquire at all" "process $PID_failed is not registered" \
	-- h_sm 1 acquire ls:other --pid "$PID_failed"

h_stop_all
t_done
