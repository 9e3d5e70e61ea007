#!/bin/bash
# Disk leases are named after the storage, not after per-host paths, and the
# plugin fails closed (issue 11, items 1 and 3), with real libvirtd and QEMU on
# two emulated hosts (tests/libvirt/env.sh), each with its own sync_managerd.
#
# 1. One backing file, two loop devices over it (one per host), and on each host
#    the same path /run/sm-disks/shared, a symlink to that host's loop device
#    (/run is private per host): as /dev/disk/by-id/... resolves to /dev/sdb on
#    one host and /dev/sdc on another.  A guest on host 1 uses it; a different
#    guest on host 2 with the same disk is refused, naming host 1.  So is one
#    using the backing file itself.
# 2. A loop device over a deleted file has no identity: refused, naming the fix.
# 3. A plugin configuration without volumes refuses guests unless
#    allow_unprotected_guests = 1.
# Exit 77 (skipped) when libvirt, QEMU or loop devices are unavailable.
source "$(dirname "$0")/../system/lib.sh"
source "$(dirname "$0")/plugin_env.sh"
pe_require
command -v losetup >/dev/null && losetup -f >/dev/null 2>&1 || { echo "no loop devices: skipped"; exit 77; }

VOL=$T_DIR/leases
chmod 755 "$T_DIR"
t_run "format the shared lease volume" -- "$SM" init "$VOL" --lockspace lv --max-hosts 8 --resources 64 \
	--io-timeout 1 --watchdog-timeout 3
plugin_conf() { pe_plugin_conf disk_identity.sh "$1"; }
# (the daemons here run with watchdog = none: the switch lets guests run under them)
plugin_conf "volumes = [ \"$VOL\" ]
allow_unprotected_guests = 1" > "$T_DIR/qemu-sync_manager.conf"
LOOPS=()
drop_loops() { local l; for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done; }
pe_setup "$T_DIR/qemu-sync_manager.conf" drop_loops
pe_start_daemons
pe_join "$VOL"

# a guest with its own boot disk plus the block disk DEV (or a file disk with type=file)
extra_disk() {
	local type=$1 path=$2 attr=dev
	[[ $type == file ]] && attr=file
	printf "    <disk type='%s' device='disk'>\n      <driver name='qemu' type='raw' cache='none'/>\n" "$type"
	printf "      <source %s='%s'/>\n      <target dev='vdb' bus='virtio'/>\n    </disk>\n" "$attr" "$path"
}

# 1. Same storage, per-host paths that resolve to different device nodes.
SHARED=$LV_RUN/images/shared.img
truncate -s 16M "$SHARED"
for h in 1 2; do
	loop=$(losetup -f --show "$SHARED") || { t_fail "losetup for host $h"; t_done; }
	LOOPS+=("$loop")
	mkdir -p "$LV_RUN/h$h/run/sm-disks"
	ln -s "$loop" "$LV_RUN/h$h/run/sm-disks/shared"
done
[[ ${LOOPS[0]} != "${LOOPS[1]}" ]] && t_ok "two loop devices over one file: ${LOOPS[*]}" || t_fail "loops ${LOOPS[*]}"
r1=$(lv_host_exec 1 readlink -f /run/sm-disks/shared); r2=$(lv_host_exec 2 readlink -f /run/sm-disks/shared)
[[ $r1 == "${LOOPS[0]}" && $r2 == "${LOOPS[1]}" ]] && t_ok "/run/sm-disks/shared is $r1 on host 1, $r2 on host 2" ||
	t_fail "per-host symlinks resolve to '$r1' and '$r2'"

lv_define_guest 1 g1 "$LV_RUN/images/g1.qcow2" "$(extra_disk block /run/sm-disks/shared)" || t_fail "define g1"
t_run "start g1 on host 1 with the shared disk" -- lv_virsh 1 start g1
disk=$(held 1 | grep -oE "disk-[a-z0-9]+-[0-9a-f]{16}:EX" | sort -u)
n=$(wc -w <<<"$disk")
t_match "g1 holds two disk leases (boot disk, shared disk), named by identity" "^2$" "$n"

lv_define_guest 2 g2 "$LV_RUN/images/g2.qcow2" "$(extra_disk block /run/sm-disks/shared)" || t_fail "define g2"
t_refused "g2 on host 2, same storage through another loop device, is refused naming host 1" \
	"disk-file-[0-9a-f]{16} is held by host 1 \(lvhost1" -- lv_virsh 2 start g2
[[ $(lv_domstate 2 g2) == "shut off" ]] && t_ok "g2 did not start" || t_fail "g2 state: $(lv_domstate 2 g2)"
t_match "nothing of g2 is held on host 2" "^$" "$(held 2)"

# the backing file itself is the same storage, too
lv_define_guest 2 g3 "$LV_RUN/images/g3.qcow2" "$(extra_disk file "$SHARED")" || t_fail "define g3"
t_refused "g3 on host 2 using the backing file itself is refused too" \
	"disk-file-[0-9a-f]{16} is held by host 1 \(lvhost1" -- lv_virsh 2 start g3
lv_virsh 1 destroy g1 >/dev/null 2>&1
lv_poll 20 0.2 test -z "$(held 1)" || t_fail "g1's leases not released after destroy: $(held 1)"
t_run "once g1 is gone, g2 starts on host 2" -- lv_virsh 2 start g2
lv_virsh 2 destroy g2 >/dev/null 2>&1

# 2. No stable identity: a loop device over a file that was deleted.
GONE=$LV_RUN/images/gone.img
truncate -s 16M "$GONE"
loop=$(losetup -f --show "$GONE") || t_fail "losetup gone.img"
LOOPS+=("$loop")
rm -f "$GONE"
lv_define_guest 1 g4 "$LV_RUN/images/g4.qcow2" "$(extra_disk block "$loop")" || t_fail "define g4"
t_refused "a disk without a stable identity is refused, naming the disk and the fixes" \
	"cannot name a lease for disk $loop .*deleted file.*give the domain a <lease>.*disk_identity_fallback" \
	-- lv_virsh 1 start g4
[[ $(lv_domstate 1 g4) == "shut off" ]] && t_ok "g4 did not start" || t_fail "g4 state: $(lv_domstate 1 g4)"

# 3. No volumes configured: guests are refused unless allow_unprotected_guests = 1.
plugin_conf "" | sed "s/@HOST@/2/g" > "$LV_RUN/h2/etc/qemu-sync_manager.conf"
t_run "restart libvirtd on host 2 with a plugin configuration without volumes" -- lv_restart_libvirtd 2
t_refused "a guest is refused on a host without lease volumes" \
	"refusing to start it without any lease: no lease volumes are configured in /etc/libvirt/qemu-sync_manager.conf" \
	-- lv_virsh 2 start g2
[[ $(lv_domstate 2 g2) == "shut off" ]] && t_ok "g2 did not start" || t_fail "g2 state: $(lv_domstate 2 g2)"
plugin_conf "allow_unprotected_guests = 1" | sed "s/@HOST@/2/g" > "$LV_RUN/h2/etc/qemu-sync_manager.conf"
t_run "restart libvirtd on host 2 with allow_unprotected_guests = 1" -- lv_restart_libvirtd 2
t_run "with the switch, the guest starts (unprotected, as asked)" -- lv_virsh 2 start g2
t_match "and holds no lease" "^$" "$(held 2)"
lv_virsh 2 destroy g2 >/dev/null 2>&1

t_done
