# The sync_manager lock plugin on the emulated libvirt hosts of env.sh: what
# every libvirt test of the plugin sets up alike.  Source after lib.sh:
#
#   pe_require                   exit 77 (skipped) unless libvirt, QEMU and the plugin are here
#   pe_plugin_conf NAME LINES... print a qemu-sync_manager.conf (host names, fencing, LINES)
#   pe_setup CONF [CLEANUP_FN]   start the two libvirt hosts with the plugin configured by CONF
#   pe_start_daemons             a sync_managerd (watchdog = none) on each host, faults file
#                                $LV_RUN/hN/faults
#   pe_join LOCATION...          host N joins LOCATION N (one location: both join it), host_id N
#   sm_on H ARGS...              sync_manager ARGS on host H
#   held H                       "resource:mode:lver ..." held on host H

pe_require() {
	[[ $(id -u) -eq 0 ]] || { echo "libvirt tests need root: skipped"; exit 77; }
	if ! "$SM_SRC/scripts/deps" libvirt >/dev/null 2>&1 || ! command -v libvirtd >/dev/null; then
		echo "libvirt tests: libvirtd/QEMU packages unavailable: skipped"
		exit 77
	fi
	[[ -x $SM_BIN/lock-driver/sync_manager.so && -x $SM_BIN/sync_manager-fence-libvirt ]] ||
		{ echo "plugin not built: skipped"; exit 77; }
	source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
}

pe_plugin_conf() {
	local name=$1; shift
	printf '# written by tests/libvirt/%s\nhost_name = "lvhost@HOST@"\njoin_wait = 30\n' "$name"
	printf 'fence_program = "%s"\n' "$SM_BIN/sync_manager-fence-libvirt"
	local l; for l in "$@"; do printf '%s\n' "$l"; done
}

pe_setup() {
	LV_LOCK_MANAGER=sync_manager
	LV_LOCK_PLUGIN_DIR=$SM_BIN/lock-driver
	LV_LOCK_CONF=$1
	LV_LIBVIRTD_ENV=(SYNC_MANAGER_RUN_DIR=/run/sync_manager)
	LV_TMPDIR=$T_DIR
	PE_CLEANUP=${2:-}
	trap _pe_cleanup EXIT
	lv_setup || { t_fail "libvirt hosts did not come up"; t_done; }
	t_ok "two libvirt hosts with the sync_manager plugin are up"
}

_pe_cleanup() {
	lv_teardown >/dev/null 2>&1
	[[ -n $PE_CLEANUP ]] && "$PE_CLEANUP"
	t_cleanup
}

sm_on() { local h=$1; shift; lv_host_exec "$h" env SYNC_MANAGER_RUN_DIR=/run/sync_manager "$SM" "$@"; }

pe_start_daemons() {
	local h
	for h in 1 2; do
		printf 'watchdog = none\nhost_name = lvhost%s\nlog_level = info\n' "$h" > "$LV_RUN/h$h/smd.conf"
		lv_host_spawn "$h" "$LV_RUN/h$h/smd.log" env SYNC_MANAGER_RUN_DIR=/run/sync_manager \
			SYNC_MANAGERD_CONFIG="$LV_RUN/h$h/smd.conf" SYNC_MANAGER_TEST_FAULTS="$LV_RUN/h$h/faults" \
			"$SMD" -D >/dev/null || t_fail "daemon on host $h"
		lv_poll 10 0.1 lv_host_exec "$h" test -S /run/sync_manager/sync_managerd.sock ||
			t_fail "no daemon socket on $h"
	done
}

pe_join() {
	local h loc
	for h in 1 2; do
		loc=${*:$(( $# == 1 ? 1 : h )):1}
		t_run "host $h joins the lockspace of $loc" -- sm_on "$h" join "$loc" --host-id "$h"
	done
	sleep 4 # let each host see the other renew (liveness is observed, never assumed)
}

held() { sm_on "$1" status --json | python3 -c '
import json,sys
d=json.load(sys.stdin)
print(" ".join(sorted("%s:%s:%s" % (l["resource"], l["mode"], l["lver"]) for l in d["leases"] if l["state"] == "held")))'; }
