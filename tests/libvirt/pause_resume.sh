#!/bin/bash
# A guest paused by <on_lockfailure>pause</on_lockfailure> resumes once its
# host has its storage back (issue 11 item 2), and the plugin refuses guests
# under a sync_managerd without a watchdog unless allow_unprotected_guests = 1
# (issue 11 item 3), with real libvirtd and QEMU on two emulated hosts
# (tests/libvirt/env.sh), each with its own sync_managerd (watchdog = none:
# there is none to give them here).  d = 1 s, W = 10 s: F = 8 s, G = 5 s,
# H = 18 s.
#
# 1. Guests gk and gt (on_lockfailure pause) run on host 1.  Host 1's lease
#    storage fails for longer than F: both are paused, not killed, and their
#    QEMUs are not left "fencing" in sync_managerd.  The storage comes back
#    and host 1 joins again.
# 2. Meanwhile host 2 takes gt's domain lease.
# 3. `virsh resume gk` succeeds: gk holds its leases again, each one version
#    up from the version it was paused at.
# 4. `virsh resume gt` is refused, naming host 2 as the holder; gt stays paused.
# 5. Without allow_unprotected_guests, host 2 (watchdog = none) refuses to
#    start a guest, naming the missing watchdog and the fixes.
# Exit 77 (skipped) when libvirt or QEMU are unavailable.
source "$(dirname "$0")/../system/lib.sh"
source "$(dirname "$0")/plugin_env.sh"
pe_require

F=8 H=18
VOL=$T_DIR/leases
chmod 755 "$T_DIR"
t_run "format the shared lease volume" -- "$SM" init "$VOL" --lockspace lv --max-hosts 8 --resources 64 \
	--io-timeout 1 --watchdog-timeout 10
plugin_conf() { pe_plugin_conf pause_resume.sh "volumes = [ \"$VOL\" ]" "$1"; }
plugin_conf "allow_unprotected_guests = 1" > "$T_DIR/qemu-sync_manager.conf"
pe_setup "$T_DIR/qemu-sync_manager.conf"
pe_start_daemons
pe_join "$VOL"

# held H: "resource:mode:lver ..." held on host H
# of_pid H PID: "resource:lver ..." PID holds on host H (sorted)
of_pid() { sm_on "$1" inquire --pid "$2" --json | python3 -c '
import json,sys
print(" ".join(sorted("%s:%s" % (l["resource"], l["lver"]) for l in json.load(sys.stdin))))'; }
# proc_state H PID: PID's state in host H's status ("" if not listed)
proc_state() { sm_on "$1" status --json | python3 -c "
import json,sys
print(''.join(p['state'] for p in json.load(sys.stdin)['processes'] if p['pid'] == $2))"; }
bump() { local x out=(); for x in $1; do out+=("${x%:*}:$((${x##*:} + 1))"); done; echo "${out[*]}"; }
uuid_of() { lv_virsh "$1" domuuid "$2" | tr -d '[:space:]'; }
state_is() { [[ $(lv_domstate "$1" "$2" 2>/dev/null) == "$3" ]]; }
joined() { sm_on "$1" status 2>/dev/null | grep -Eq '^  lv +joined '; }

# ---- 1. storage lost for longer than F: both guests are paused -----------------------
for g in gk gt; do
	qemu-img create -q -f qcow2 "$LV_RUN/images/$g.qcow2" 16M
	sed "s|<on_lockfailure>poweroff</on_lockfailure>|<on_lockfailure>pause</on_lockfailure>|" \
		<(lv_guest_xml "$g" "$LV_RUN/images/$g.qcow2" "") > "$LV_RUN/xml/$g.xml"
	lv_virsh 1 define "$LV_RUN/xml/$g.xml" >/dev/null || t_fail "define $g"
	t_run "start $g (on_lockfailure pause) on host 1" -- lv_virsh 1 start "$g"
done
UK=$(uuid_of 1 gk) UT=$(uuid_of 1 gt)
PK=$(lv_qemu_pid 1 gk) PT=$(lv_qemu_pid 1 gt)
hk=$(of_pid 1 "$PK") ht=$(of_pid 1 "$PT")
t_match "gk holds its domain and disk leases" "^disk-file-[0-9a-f]{16}:[0-9]+ vm-$UK:[0-9]+$" "$hk"
t_match "gt too" "^disk-file-[0-9a-f]{16}:[0-9]+ vm-$UT:[0-9]+$" "$ht"
vt=$(grep -o "vm-$UT:[0-9]*" <<<"$ht" | cut -d: -f2) vk=$(grep -o "vm-$UK:[0-9]*" <<<"$hk" | cut -d: -f2)

printf 'any eio\n' > "$LV_RUN/h1/faults"
t0=$(date +%s%3N)
lv_poll $((F + 20)) 0.2 state_is 1 gk paused
lv_poll 10 0.2 state_is 1 gt paused
[[ $(lv_domstate 1 gk) == paused ]] && t_ok "gk was paused ($(( $(date +%s%3N) - t0 )) ms after the storage failed)" \
	|| t_fail "gk: $(lv_domstate 1 gk)"
[[ $(lv_domstate 1 gt) == paused ]] && t_ok "gt was paused" || t_fail "gt: $(lv_domstate 1 gt)"
[[ $(lv_qemu_pid 1 gk) == "$PK" && $(lv_qemu_pid 1 gt) == "$PT" ]] && t_ok "their QEMUs still run" \
	|| t_fail "QEMU pids: gk $(lv_qemu_pid 1 gk) (was $PK), gt $(lv_qemu_pid 1 gt) (was $PT)"
not_fencing() { local s; s=$(proc_state 1 "$1"); [[ -n $s && $s != fencing ]]; }
lv_poll 15 0.2 not_fencing "$PK"
t_match "gk's QEMU is not left 'fencing' once paused" "^alive$" "$(proc_state 1 "$PK")"
t_match "gk's QEMU holds nothing while paused" "^$" "$(of_pid 1 "$PK" 2>&1)"
rm -f "$LV_RUN/h1/faults"
lv_poll $((H + 30)) 0.5 joined 1 && t_ok "storage back: host 1 joined the lockspace again" \
	|| t_fail "host 1 did not rejoin: $(sm_on 1 status 2>&1)"
grep -q SIGKILL "$LV_RUN/h1/smd.log" && t_fail "a QEMU was SIGKILLed: $(grep SIGKILL "$LV_RUN/h1/smd.log")" \
	|| t_ok "nothing was SIGKILLed"

# ---- 2. host 2 takes gt's domain lease meanwhile ------------------------------------------
lv_host_spawn 2 "$LV_RUN/thief.log" env SYNC_MANAGER_RUN_DIR=/run/sync_manager "$SM" run -l "lv:vm-$UT" \
	--name thief --wait 60 -- sleep 1000 >/dev/null
lv_poll 70 0.5 grep -q "acquired lv:vm-$UT" "$LV_RUN/thief.log" \
	&& t_ok "host 2 takes gt's domain lease (host 1's old generation is dead)" \
	|| t_fail "host 2 could not take vm-$UT: $(cat "$LV_RUN/thief.log")"

# ---- 3. gk resumes at the versions it was paused at ------------------------------------
t_run "virsh resume gk" -- lv_virsh 1 resume gk
[[ $(lv_domstate 1 gk) == running ]] && t_ok "gk runs" || t_fail "gk: $(lv_domstate 1 gk)"
t_match "gk holds its leases again, each one version up ($(bump "$hk"))" "^$(bump "$hk")$" "$(of_pid 1 "$PK")"
grep -q "domain gk: acquired the domain lease (lv:vm-$UK) exclusive at lver $((vk + 1))" "$LV_RUN/h1/libvirtd.out" &&
	t_ok "the plugin logged the re-acquire" || t_fail "no re-acquire in $LV_RUN/h1/libvirtd.out"

# ---- 4. gt cannot: host 2 holds its lease now ----------------------------------------------
t_refused "virsh resume gt is refused, naming host 2" \
	"vm-$UT is at lease version $((vt + 1)), not $vt: held by host 2 \(lvhost2, live\)" -- lv_virsh 1 resume gt
[[ $(lv_domstate 1 gt) == paused ]] && t_ok "gt stays paused" || t_fail "gt: $(lv_domstate 1 gt)"
t_match "gt's QEMU holds nothing" "^$" "$(of_pid 1 "$PT" 2>&1)"
lv_virsh 1 destroy gt >/dev/null 2>&1
lv_virsh 1 destroy gk >/dev/null 2>&1

# ---- 5. a daemon without a watchdog: guests are refused without the switch -------------
plugin_conf "" | sed "s/@HOST@/2/g" > "$LV_RUN/h2/etc/qemu-sync_manager.conf"
t_run "restart libvirtd on host 2 without allow_unprotected_guests" -- lv_restart_libvirtd 2
lv_define_guest 2 gu "$LV_RUN/images/gu.qcow2" || t_fail "define gu"
t_refused "host 2 (sync_managerd with watchdog = none) refuses to start gu, naming the watchdog and the fixes" \
	"refusing to run it under leases nothing enforces: sync_managerd runs without a watchdog.*modprobe softdog.*allow_unprotected_guests = 1" \
	-- lv_virsh 2 start gu
[[ $(lv_domstate 2 gu) == "shut off" ]] && t_ok "gu did not start" || t_fail "gu: $(lv_domstate 2 gu)"
t_match "nothing of gu is held on host 2" "^vm-$UT:EX:[0-9]+$" "$(held 2)"

t_done
