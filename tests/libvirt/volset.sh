#!/bin/bash
# The libvirt lock driver with its lease volume on a volume set (issue 18):
# `volumes = [ "/A,/B,/C" ]`.  Two emulated libvirt hosts (env.sh) with real
# libvirtd and QEMU; the automatic domain and disk leases are created on the
# set and keep guests exclusive with one member failing.  d = 1 s, W = 3 s.
# Exit 77 (skipped) when libvirt or QEMU cannot be installed here.
source "$(dirname "$0")/../system/lib.sh"
source "$(dirname "$0")/plugin_env.sh"
pe_require

chmod 755 "$T_DIR"
SET="$T_DIR/m1,$T_DIR/m2,$T_DIR/m3"
t_run "format a volume set (no resources: the plugin adds them)" -- "$SM" init "$T_DIR/m1" "$T_DIR/m2" "$T_DIR/m3" \
	--lockspace lvset --max-hosts 8 --resources 64 --io-timeout 1 --watchdog-timeout 3

pe_plugin_conf volset.sh "volumes = [ \"$SET\" ]" "auto_disk_leases = 1" "vm_lease = 1" \
	"# the daemons here run with watchdog = none (no watchdog to give them)" "allow_unprotected_guests = 1" \
	> "$T_DIR/qemu-sync_manager.conf"
pe_setup "$T_DIR/qemu-sync_manager.conf"
pe_start_daemons
pe_join "$SET" "$T_DIR/m3,$T_DIR/m1,$T_DIR/m2" # members named in another order on each host
uuid_of() { lv_virsh "$1" domuuid "$2" | tr -d '[:space:]'; }

lease_xml() { printf "    <lease>\n      <lockspace>lvset</lockspace>\n      <key>%s</key>\n      <target path='%s' offset='0'/>\n    </lease>\n" "$1" "$SET"; }
lv_define_guest 1 g1 "$LV_RUN/images/g1.qcow2" "$(lease_xml app1)" || t_fail "define g1"
t_run "start g1 on host 1 (the plugin creates its leases on the set)" -- lv_virsh 1 start g1
U1=$(uuid_of 1 g1)
t_match "g1's domain lease is held" "vm-$U1:EX:" "$(held 1)"
t_match "g1's disk lease is held" "disk-file-[0-9a-f]{16}:EX:" "$(held 1)"
t_run "the resources were added to the set" -- "$SM" resource ls "$SET"
t_match "vm-$U1 is in the set's index" "^vm-$U1$" "$T_OUT"
t_match "g1's <lease> is held" "app1:EX:" "$(held 1)"
# Another guest with the same <lease> on host 2: refused while host 1 runs g1.
lv_define_guest 2 g2 "$LV_RUN/images/g2.qcow2" "$(lease_xml app1)" || t_fail "define g2 on host 2"
t_refused "g2 on host 2 is refused while host 1 runs g1" "app1 is held by host 1 \(lvhost1" -- lv_virsh 2 start g2

# One member fails on both hosts: g1 keeps running, host 2 is still refused.
printf 'any eio m2\n' > "$LV_RUN/h1/faults"
printf 'any eio m2\n' > "$LV_RUN/h2/faults"
sleep 10 # more than F
[[ $(lv_domstate 1 g1) == running ]] && t_ok "g1 still runs with member 2 failing for more than F" \
	|| t_fail "g1: $(lv_domstate 1 g1)"
t_run "status on host 1" -- sm_on 1 status
t_match "status names the failed member" "volume set works on the other two members: member 2" "$T_OUT"
t_refused "g2 on host 2 is still refused" "app1 is held by host 1 \(lvhost1" -- lv_virsh 2 start g2
t_run "destroy g1 on host 1" -- lv_virsh 1 destroy g1
for i in $(seq 1 50); do [[ -z $(held 1) ]] && break; sleep 0.2; done
t_run "g2 starts on host 2 with member 2 still failing" -- lv_virsh 2 start g2
t_match "host 2 holds app1, one version up" "app1:EX:2" "$(held 2)"
rm -f "$LV_RUN/h1/faults" "$LV_RUN/h2/faults"
t_run "destroy g2 on host 2" -- lv_virsh 2 destroy g2
t_done
