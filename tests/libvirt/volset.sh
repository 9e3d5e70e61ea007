#!/bin/bash
# The libvirt lock driver with its lease volume on a volume set (issue 18):
# `volumes = [ "/A,/B,/C" ]`.  Two emulated libvirt hosts (env.sh) with real
# libvirtd and QEMU; the automatic domain and disk leases are created on the
# set and keep guests exclusive with one member failing.  d = 1 s, W = 3 s.
# Exit 77 (skipped) when libvirt or QEMU cannot be installed here.
source "$(dirname "$0")/../system/lib.sh"
[[ $(id -u) -eq 0 ]] || { echo "libvirt tests need root: skipped"; exit 77; }
if ! "$SM_SRC/scripts/deps" libvirt >/dev/null 2>&1 || ! command -v libvirtd >/dev/null; then
	echo "libvirt tests: libvirtd/QEMU packages unavailable: skipped"
	exit 77
fi
[[ -x $SM_BIN/lock-driver/sync_manager.so && -x $SM_BIN/sync_manager-fence-libvirt ]] ||
	{ echo "plugin not built: skipped"; exit 77; }
source "$(dirname "$0")/env.sh"

chmod 755 "$T_DIR"
SET="$T_DIR/m1,$T_DIR/m2,$T_DIR/m3"
t_run "format a volume set (no resources: the plugin adds them)" -- "$SM" init "$T_DIR/m1" "$T_DIR/m2" "$T_DIR/m3" \
	--lockspace lvset --max-hosts 8 --resources 64 --io-timeout 1 --watchdog-timeout 3

cat > "$T_DIR/qemu-sync_manager.conf" <<EOF
# written by tests/libvirt/volset.sh
volumes = [ "$SET" ]
auto_disk_leases = 1
vm_lease = 1
host_name = "lvhost@HOST@"
join_wait = 30
fence_program = "$SM_BIN/sync_manager-fence-libvirt"
# the daemons here run with watchdog = none (no watchdog to give them)
allow_unprotected_guests = 1
EOF
LV_LOCK_MANAGER=sync_manager
LV_LOCK_PLUGIN_DIR=$SM_BIN/lock-driver
LV_LOCK_CONF=$T_DIR/qemu-sync_manager.conf
LV_LIBVIRTD_ENV=(SYNC_MANAGER_RUN_DIR=/run/sync_manager)
LV_TMPDIR=$T_DIR
t_cleanup_lv() { lv_teardown >/dev/null 2>&1; t_cleanup; }
trap t_cleanup_lv EXIT

lv_setup || { t_fail "libvirt hosts did not come up"; t_done; }
t_ok "two libvirt hosts with the sync_manager plugin are up"

sm_on() { local h=$1; shift; lv_host_exec "$h" env SYNC_MANAGER_RUN_DIR=/run/sync_manager "$SM" "$@"; }
for h in 1 2; do
	printf 'watchdog = none\nhost_name = lvhost%s\nlog_level = info\n' "$h" > "$LV_RUN/h$h/smd.conf"
	lv_host_spawn "$h" "$LV_RUN/h$h/smd.log" env SYNC_MANAGER_RUN_DIR=/run/sync_manager \
		SYNC_MANAGERD_CONFIG="$LV_RUN/h$h/smd.conf" SYNC_MANAGER_TEST_FAULTS="$LV_RUN/h$h/faults" \
		"$SMD" -D >/dev/null || t_fail "daemon on host $h"
	lv_poll 10 0.1 lv_host_exec "$h" test -S /run/sync_manager/sync_managerd.sock || t_fail "no daemon socket on $h"
	t_run "host $h joins the set (members named in another order on each host)" -- \
		sm_on "$h" join "$( ((h == 1)) && echo "$SET" || echo "$T_DIR/m3,$T_DIR/m1,$T_DIR/m2")" --host-id "$h"
done
sleep 4 # let each host see the other renew (liveness is observed, never assumed)
held() { sm_on "$1" status --json | python3 -c '
import json,sys
d=json.load(sys.stdin)
print(" ".join(sorted("%s:%s:%s" % (l["resource"], l["mode"], l["lver"]) for l in d["leases"] if l["state"] == "held")))'; }
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
