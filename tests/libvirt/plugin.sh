#!/bin/bash
# The libvirt lock driver with real libvirtd and QEMU: two emulated libvirt
# hosts (tests/libvirt/env.sh), each with its own sync_managerd, sharing one
# lease volume.  d = 1 s, W = 3 s: F = 8 s, H = 11 s.  Exit 77 (skipped)
# when libvirt or QEMU cannot be installed here.
source "$(dirname "$0")/../system/lib.sh"
source "$(dirname "$0")/plugin_env.sh"
pe_require

H=11
VOL=$T_DIR/leases
chmod 755 "$T_DIR"
t_run "format the shared lease volume" -- "$SM" init "$VOL" --lockspace lv --max-hosts 8 --resources 64 \
	--io-timeout 1 --watchdog-timeout 3

pe_plugin_conf plugin.sh "volumes = [ \"$VOL\" ]" "auto_disk_leases = 1" "vm_lease = 1" \
	"# the daemons here run with watchdog = none (no watchdog to give them)" "allow_unprotected_guests = 1" \
	> "$T_DIR/qemu-sync_manager.conf"
pe_setup "$T_DIR/qemu-sync_manager.conf"
pe_start_daemons
pe_join "$VOL"

lease_xml() { printf "    <lease>\n      <lockspace>lv</lockspace>\n      <key>%s</key>\n      <target path='%s' offset='0'/>\n    </lease>\n" "$1" "$VOL"; }
uuid_of() { lv_virsh "$1" domuuid "$2" | tr -d '[:space:]'; }
state_is() { [[ $(lv_domstate "$1" "$2" 2>/dev/null) == "$3" ]]; }
state_not() { ! state_is "$@"; }

# 1. Starting a guest takes its leases: the domain, its disk, its <lease>.
scsi="    <controller type='scsi' model='virtio-scsi'/>"
lv_define_guest 1 g1 "$LV_RUN/images/g1.qcow2" "$(lease_xml app1)$scsi" || t_fail "define g1"
t_run "start g1 on host 1" -- lv_virsh 1 start g1
U1=$(uuid_of 1 g1)
leases=$(held 1)
t_match "g1's domain lease is held" "vm-$U1:EX:" "$leases"
t_match "g1's disk lease is held (named after the file)" "disk-file-[0-9a-f]{16}:EX:" "$leases"
t_match "g1's <lease> is held" "app1:EX:" "$leases"
qpid=$(lv_qemu_pid 1 g1)
t_run "status names QEMU's pid as the holder" -- sm_on 1 status
t_match "QEMU pid listed" "$qpid" "$T_OUT"

# 2. Another guest (other disk) with the same <lease> on host 2 is refused, naming host 1.
lv_define_guest 2 g2 "$LV_RUN/images/g2.qcow2" "$(lease_xml app1)" || t_fail "define g2"
t_refused "g2 sharing app1 on host 2 is refused" "app1 is held by host 1 \(lvhost1" -- lv_virsh 2 start g2
grep -q "app1 is held by host 1" "$(lv_libvirtd_log 2)" "$LV_RUN/h2/libvirtd.out" 2>/dev/null &&
	t_ok "libvirtd's log says why" || t_ok "(libvirtd log check skipped)"
[[ $(lv_domstate 2 g2) == "shut off" ]] && t_ok "g2 did not start" || t_fail "g2 state: $(lv_domstate 2 g2)"

# 3. Suspend releases (twice, idempotently); resume re-acquires at the same version.
before=$(held 1)
t_run "suspend g1" -- lv_virsh 1 suspend g1
t_match "suspend released the leases" "^$" "$(held 1)"
t_run "resume g1" -- lv_virsh 1 resume g1
after=$(held 1)
t_match "leases held again after resume" "vm-$U1:EX:" "$after"
v0=$(grep -o "vm-$U1:EX:[0-9]*" <<<"$before" | cut -d: -f3); v1=$(grep -o "vm-$U1:EX:[0-9]*" <<<"$after" | cut -d: -f3)
(( v1 == v0 + 1 )) && t_ok "resume acquired at the suspended version (lver $v0 -> $v1)" || t_fail "lver $v0 -> $v1"

# 4. Disk hot-plug takes a lease; unplug releases it.
qemu-img create -q -f qcow2 "$LV_RUN/images/extra.qcow2" 8M
n_before=$(wc -w <<<"$(held 1)")
t_run "hot-plug a disk into g1" -- lv_virsh 1 attach-disk g1 "$LV_RUN/images/extra.qcow2" sdb --live \
	--targetbus scsi --subdriver qcow2 --cache none
(( $(wc -w <<<"$(held 1)") == n_before + 1 )) && t_ok "the new disk has a lease" || t_fail "leases: $(held 1)"
t_run "unplug it" -- lv_virsh 1 detach-disk g1 sdb --live
for i in $(seq 1 50); do (( $(wc -w <<<"$(held 1)") == n_before )) && break; sleep 0.2; done
(( $(wc -w <<<"$(held 1)") == n_before )) && t_ok "its lease was released" || t_fail "leases after unplug: $(held 1)"
t_match "the domain's own leases stayed" "vm-$U1:EX:" "$(held 1)"

# 5. destroy and a QEMU crash release the leases (libvirt calls nothing: the daemon notices).
t_run "virsh destroy g1" -- lv_virsh 1 destroy g1
for i in $(seq 1 50); do [[ -z $(held 1) ]] && break; sleep 0.2; done
[[ -z $(held 1) ]] && t_ok "destroy released everything" || t_fail "after destroy: $(held 1)"
t_run "start g1 again" -- lv_virsh 1 start g1
kill -9 "$(lv_qemu_pid 1 g1)"
for i in $(seq 1 50); do [[ -z $(held 1) ]] && break; sleep 0.2; done
[[ -z $(held 1) ]] && t_ok "a QEMU crash (kill -9) released everything" || t_fail "after crash: $(held 1)"
lv_wait_state 1 g1 "shut off" 20 >/dev/null 2>&1
t_run "start g1 once more" -- lv_virsh 1 start g1

# 6. Live migration moves the leases and bumps lver, both ways.
v=$(grep -o "vm-$U1:EX:[0-9]*" <<<"$(held 1)" | cut -d: -f3)
t_run "migrate g1 to host 2 (client-managed)" -- lv_migrate 1 2 g1
t_match "host 2 holds g1's lease, one version up" "vm-$U1:EX:$((v + 1))" "$(held 2)"
t_match "host 1 holds nothing" "^$" "$(held 1)"
t_run "migrate g1 back (--p2p)" -- lv_migrate 2 1 g1 --p2p
t_match "back on host 1, lver +1 again" "vm-$U1:EX:$((v + 2))" "$(held 1)"
[[ $(lv_domstate 1 g1) == running ]] && t_ok "g1 runs on host 1" || t_fail "g1: $(lv_domstate 1 g1)"

# 7. The destination cannot acquire (its storage fails): the guest keeps running on the source.
v7=$(held 1 | grep -o "vm-$U1:EX:[0-9]*" | cut -d: -f3)
printf 'any eio\n' > "$LV_RUN/h2/faults"
t_refused "migration fails when host 2 cannot acquire" "." -- lv_migrate 1 2 g1
rm -f "$LV_RUN/h2/faults"
[[ $(lv_domstate 1 g1) == running ]] && t_ok "g1 still runs on host 1" || t_fail "g1: $(lv_domstate 1 g1)"
t_match "host 1 still holds g1's lease (at its version, or re-acquired at it: +1)" \
	"vm-$U1:EX:($v7|$((v7 + 1)))( |$)" "$(held 1)"
sleep 3

# 8. A third party takes the lease during the hand-off and gives it back: the
#    lease is free again, but one version up, so neither side may resume
#    (the "only at that lver" rule, not plain exclusivity, refuses them).
#    Host 2 rejoins so that its acquire waits ~2 s for the join: the window.
t_run "a third party joins (direct, host_id 7)" -- "$SM" direct join "$VOL" --host-id 7 --host-name third
v8=$(held 1 | grep -o "vm-$U1:EX:[0-9]*" | cut -d: -f3)
sm_on 2 leave lv >/dev/null
sm_on 2 join "$VOL" --host-id 2 --no-wait >/dev/null
( for i in $(seq 1 600); do
	if "$SM" direct acquire "$VOL:vm-$U1" --host-id 7 >/dev/null 2>&1; then
		"$SM" direct release "$VOL:vm-$U1" --host-id 7 >/dev/null 2>&1 && echo "taken and released" ||
			echo "taken, release failed"
		exit 0
	fi
	sleep 0.01
  done; echo missed ) > "$T_DIR/third.out" &
third=$!
t_refused "migration fails: the lease changed hands in between" "." -- lv_migrate 1 2 g1
migrate_out=$T_OUT
wait $third
t_match "the third party took the lease and released it" "taken and released" "$(cat "$T_DIR/third.out")"
lv_poll 10 0.2 state_not 1 g1 running
st1=$(lv_domstate 1 g1); st2=$(lv_domstate 2 g1 2>/dev/null || echo none)
[[ $st1 != running ]] && t_ok "the source did not resume (g1 is $st1 on host 1)" || t_fail "source resumed"
[[ $st2 != running ]] && t_ok "the destination did not resume" || t_fail "destination runs g1"
# Who refused, and why: the lease is free at a higher version than the
# state the guest carries.
why=$(printf '%s\n' "$migrate_out"; cat "$(lv_libvirtd_log 1)" "$(lv_libvirtd_log 2)" \
	"$LV_RUN/h1/libvirtd.out" "$LV_RUN/h2/libvirtd.out" 2>/dev/null)
t_match "refused by the version rule (vm-$U1 is at a later lease version than $v8)" \
	"vm-$U1 is at lease version [0-9]+, not $v8" "$why"
"$SM" direct inquire "$VOL:vm-$U1" > "$T_DIR/inq8" 2>&1
t_match "the lease is free, nobody resumed on it" "vm-$U1: lver [0-9]+, no exclusive owner" "$(cat "$T_DIR/inq8")"
lv_virsh 1 destroy g1 >/dev/null 2>&1
for i in $(seq 1 100); do sm_on 2 status | grep -q " joined " && break; sleep 0.2; done

# 9. libvirtd restarts with a running guest: its leases stay.
t_run "start g1" -- lv_virsh 1 start g1
before=$(held 1)
t_run "restart libvirtd on host 1" -- lv_restart_libvirtd 1
[[ $(held 1) == "$before" ]] && t_ok "leases unchanged across the libvirtd restart" || t_fail "$(held 1) vs $before"
[[ $(lv_domstate 1 g1) == running ]] && t_ok "g1 still runs" || t_fail "g1: $(lv_domstate 1 g1)"

# 9b. libvirtd restarts while g1 is paused: the resume is still held to the
#     version g1 was paused at (the plugin keeps its release record in
#     RUN_DIR/libvirt/, not only in libvirtd's memory).
vp=$(held 1 | grep -o "vm-$U1:EX:[0-9]*" | cut -d: -f3)
t_run "suspend g1" -- lv_virsh 1 suspend g1
t_run "restart libvirtd on host 1 (g1 paused)" -- lv_restart_libvirtd 1
t_run "resume g1 after the restart" -- lv_virsh 1 resume g1
t_match "resumed at the version it was paused at" "vm-$U1:EX:$((vp + 1))( |$)" "$(held 1)"
vp=$((vp + 1))
t_run "suspend g1 again" -- lv_virsh 1 suspend g1
t_run "restart libvirtd on host 1 (g1 paused)" -- lv_restart_libvirtd 1
t_run "meanwhile host 2 takes and gives back g1's lease" -- sm_on 2 run -l "lv:vm-$U1" -- true
t_refused "resume is refused: the lease moved on while g1 was paused" "vm-$U1 is at lease version $((vp + 1)), not $vp" \
	-- lv_virsh 1 resume g1
[[ $(lv_domstate 1 g1) == paused ]] && t_ok "g1 stays paused" || t_fail "g1: $(lv_domstate 1 g1)"
lv_virsh 1 destroy g1 >/dev/null 2>&1
t_run "a cold start of g1 takes the lease afresh" -- lv_virsh 1 start g1
t_match "... one version up" "vm-$U1:EX:$((vp + 2))( |$)" "$(held 1)"

# 10. Host 1 loses its storage: at F its guests get their <on_lockfailure> action,
#     before another host could take over (H).
sed "s|<on_lockfailure>poweroff</on_lockfailure>|<on_lockfailure>pause</on_lockfailure>|" \
	<(lv_guest_xml gp "$LV_RUN/images/gp.qcow2" "") > "$LV_RUN/xml/gp.xml"
qemu-img create -q -f qcow2 "$LV_RUN/images/gp.qcow2" 16M
lv_virsh 1 define "$LV_RUN/xml/gp.xml" >/dev/null && t_run "start gp (on_lockfailure pause)" -- lv_virsh 1 start gp
t0=$(date +%s%3N)
printf 'any eio\n' > "$LV_RUN/h1/faults"
lv_poll $((H + 5)) 0.1 state_is 1 g1 "shut off"
t1=$(date +%s%3N)
[[ $(lv_domstate 1 g1) == "shut off" ]] && t_ok "g1 was powered off $((t1 - t0)) ms after storage loss" || t_fail "g1: $(lv_domstate 1 g1)"
(( t1 - t0 < H * 1000 )) && t_ok "before H" || t_fail "too late: $((t1 - t0)) ms"
lv_poll 10 0.2 state_is 1 gp paused
[[ $(lv_domstate 1 gp) == paused ]] && t_ok "gp was paused (its on_lockfailure)" || t_fail "gp: $(lv_domstate 1 gp)"
rm -f "$LV_RUN/h1/faults"
# after H the lease of g1 can be taken elsewhere: start g2 (shares app1) on host 2
if retry_until=$(( $(date +%s) + H + 15 )); then
	ok=0
	while (( $(date +%s) < retry_until )); do
		lv_virsh 2 start g2 >/dev/null 2>&1 && { ok=1; break; }
		sleep 1
	done
	(( ok )) && t_ok "after H host 2 takes app1 over and starts g2" || t_fail "g2 never started on host 2"
fi
lv_virsh 2 destroy g2 >/dev/null 2>&1
lv_virsh 1 destroy gp >/dev/null 2>&1

t_done
