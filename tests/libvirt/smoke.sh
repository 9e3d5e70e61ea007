#!/bin/bash
# tests/libvirt/smoke.sh — proves the two-host libvirt test environment (env.sh) works:
# setup, guest start/suspend/resume, live migration 1->2 (client-managed) and 2->1 (p2p),
# destroy, libvirtd restart with a running guest, teardown.  No lock plugin: libvirt's
# default "nop" lock manager (set LV_LOCK_MANAGER / LV_LOCK_PLUGIN_DIR to try a plugin).
# Prints the time of every step; exits non-zero on the first failure (logs are dumped and
# the run directory is kept when LV_KEEP_ON_FAIL=1).  Needs root, Debian 12 libvirt/QEMU.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
source "$HERE/env.sh"

PASSED=0
T_START=$(_lv_now_us)

fmt_us() { printf '%d.%03d' $(($1 / 1000000)) $((($1 / 1000) % 1000)); }

dump_logs() {
	local h f
	[[ -n $LV_RUN && -d $LV_RUN ]] || return 0
	for h in 1 2; do
		for f in "$LV_RUN/h$h/libvirtd.out" "$LV_RUN/h$h/log/libvirtd.log" "$LV_RUN/h$h/log/qemu/"*.log; do
			[[ -f $f ]] || continue
			echo "----- tail of $f"
			tail -n 25 "$f"
		done
	done
}

finish() {
	local rc=$?
	trap - EXIT INT TERM
	if ((rc != 0)); then
		dump_logs >&2
		[[ ${LV_KEEP_ON_FAIL:-0} == 1 ]] && LV_KEEP=1
	fi
	if [[ -n $LV_RUN ]]; then
		local t0; t0=$(_lv_now_us)
		lv_teardown || rc=1
		printf 'teardown (after failure): %ss\n' "$(fmt_us $(($(_lv_now_us) - t0)))"
	fi
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# step DESC CMD...: run CMD (a function), print its duration; abort the test on failure.
step() {
	local desc=$1; shift
	local t0 dt rc=0
	t0=$(_lv_now_us)
	"$@" || rc=$?
	dt=$(($(_lv_now_us) - t0))
	if ((rc != 0)); then
		printf 'FAIL  %-58s %8ss (exit %d)\n' "$desc" "$(fmt_us "$dt")" "$rc"
		echo "smoke: $PASSED passed, 1 failed"
		exit 1
	fi
	PASSED=$((PASSED + 1))
	printf 'ok    %-58s %8ss\n' "$desc" "$(fmt_us "$dt")"
}

fail() { echo "  error: $*" >&2; return 1; }

# expect_running N NAME: running per libvirt, QEMU alive in host N, monitor says running.
expect_running() {
	local h=$1 name=$2 st pid hmp
	st=$(lv_domstate "$h" "$name") || fail "host $h does not know $name" || return 1
	[[ $st == running ]] || fail "host $h: $name is '$st', expected running" || return 1
	pid=$(lv_qemu_pid "$h" "$name") || fail "host $h: no live QEMU for $name" || return 1
	hmp=$(lv_virsh "$h" qemu-monitor-command "$name" --hmp 'info status') || fail "monitor: $hmp" || return 1
	[[ $hmp == *"VM status: running"* ]] || fail "host $h: QEMU says '$hmp'" || return 1
	# the subreaper must have adopted QEMU (else its exit leaves a zombie libvirt waits on)
	local ppid; ppid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status")
	[[ $ppid == "$(cat "$LV_RUN/state/h$h.holder")" ]] ||
		fail "host $h: QEMU $pid has parent $ppid, not the host's holder" || return 1
	return 0
}

# expect_gone PID: the process has exited and been reaped (no zombie).
expect_gone() {
	lv_poll 10 0.05 eval "! [ -e /proc/$1 ]" || fail "process $1 still exists: $(cat /proc/"$1"/stat 2>/dev/null)"
}

# check_job N NAME Outgoing|Incoming: host N's last completed job for NAME must be that
#   kind of migration; prints its duration, downtime and amount of RAM transferred.
#   (A transient guest is gone from the source afterwards: ask the destination then.)
check_job() {
	local j
	j=$(lv_virsh "$1" domjobinfo --completed "$2") || fail "no completed job on host $1" || return 1
	grep -Eq "^Operation: +$3 migration" <<<"$j" || fail "host $1 job is not an $3 migration: $j" || return 1
	echo "  $3 job on host $1: $(tr -s ' ' <<<"$j" | awk -F': ' '/^Time elapsed:/ {e=$2} /^Total downtime:/ {d=$2} /^Memory processed:/ {m=$2} END {printf "elapsed %s, downtime %s, memory %s", e, d, m}')"
}

s_setup() {
	lv_setup || return 1
	echo "  run dir $LV_RUN, netns $LV_NETNS, guest type $LV_VIRT_TYPE"
}

s_versions() {
	local v
	v=$(lv_virsh 1 version) || return 1
	local line
	while IFS= read -r line; do [[ -n $line ]] && echo "  $line"; done <<<"$v"
	echo "  host 1: $(lv_virsh 1 hostname) uuid $(cat "$LV_RUN/state/h1.uuid")"
	echo "  host 2: $(lv_virsh 2 hostname) uuid $(cat "$LV_RUN/state/h2.uuid")"
	[[ $(lv_virsh 1 hostname) != "$(lv_virsh 2 hostname)" ]] || fail "hostnames equal"
}

s_define() { lv_define_guest 1 g1 "$LV_RUN/images/g1.qcow2"; }

s_start() {
	lv_virsh 1 start g1 >/dev/null || return 1
	expect_running 1 g1 || return 1
	G1_PID=$(lv_qemu_pid 1 g1)
	local x; x=$(lv_virsh 1 dumpxml g1) || return 1
	grep -q "<domain type='$LV_VIRT_TYPE'" <<<"$x" || fail "domain type is not $LV_VIRT_TYPE" || return 1
	grep -q "cache='none'" <<<"$x" || fail "disk cache is not none" || return 1
	grep -q "<on_lockfailure>poweroff</on_lockfailure>" <<<"$x" || fail "on_lockfailure missing" || return 1
	! grep -q "<interface" <<<"$x" || fail "guest has a NIC" || return 1
	echo "  g1 QEMU pid $G1_PID on host 1"
}

s_suspend() {
	lv_virsh 1 suspend g1 >/dev/null || return 1
	lv_wait_state 1 g1 paused 30 || return 1
	local hmp; hmp=$(lv_virsh 1 qemu-monitor-command g1 --hmp 'info status') || return 1
	[[ $hmp == *"VM status: paused"* ]] || fail "QEMU says '$hmp'"
}

s_resume() {
	lv_virsh 1 resume g1 >/dev/null || return 1
	expect_running 1 g1
}

s_migrate_12() {
	lv_migrate 1 2 g1 || return 1
	check_job 1 g1 Outgoing || return 1
	expect_running 2 g1 || return 1
	lv_wait_state 1 g1 "shut off" 30 || return 1 # persistent definition stays on host 1
	expect_gone "$G1_PID" || return 1
	G1_PID=$(lv_qemu_pid 2 g1)
	echo "  g1 QEMU pid $G1_PID on host 2"
}

s_migrate_21() {
	lv_migrate 2 1 g1 --p2p || return 1
	check_job 1 g1 Incoming || return 1
	expect_running 1 g1 || return 1
	lv_wait_state 2 g1 absent 30 || return 1 # it was transient on host 2
	expect_gone "$G1_PID" || return 1
	G1_PID=$(lv_qemu_pid 1 g1)
	echo "  g1 QEMU pid $G1_PID on host 1"
}

s_destroy() {
	lv_virsh 1 destroy g1 >/dev/null || return 1
	lv_wait_state 1 g1 "shut off" 30 || return 1
	expect_gone "$G1_PID"
}

s_start_g2() {
	lv_define_guest 2 g2 "$LV_RUN/images/g2.qcow2" || return 1
	lv_virsh 2 start g2 >/dev/null || return 1
	expect_running 2 g2 || return 1
	G2_PID=$(lv_qemu_pid 2 g2)
	echo "  g2 QEMU pid $G2_PID on host 2"
}

s_restart() {
	local old new
	old=$(lv_libvirtd_pid 2) || fail "libvirtd 2 not running" || return 1
	lv_restart_libvirtd 2 || return 1
	new=$(lv_libvirtd_pid 2) || fail "libvirtd 2 not running after restart" || return 1
	[[ $new != "$old" ]] || fail "libvirtd pid unchanged" || return 1
	echo "  libvirtd on host 2: pid $old -> $new"
}

s_survived() {
	expect_running 2 g2 || return 1
	local pid; pid=$(lv_qemu_pid 2 g2)
	[[ $pid == "$G2_PID" ]] || fail "g2 QEMU pid changed: $G2_PID -> $pid" || return 1
	# the reconnected daemon can still drive the guest
	lv_virsh 2 suspend g2 >/dev/null && lv_wait_state 2 g2 paused 30 &&
		lv_virsh 2 resume g2 >/dev/null && expect_running 2 g2
}

s_destroy_g2() {
	lv_virsh 2 destroy g2 >/dev/null || return 1
	lv_wait_state 2 g2 "shut off" 30 || return 1
	expect_gone "$G2_PID"
}

s_teardown() {
	local run=$LV_RUN ns=$LV_NETNS holders p
	holders="$(cat "$run/state/h1.holder") $(cat "$run/state/h2.holder")"
	# keep a handle on each host's mount namespace to look for survivors afterwards
	exec {NS1}<"/proc/${holders%% *}/ns/mnt" {NS2}<"/proc/${holders##* }/ns/mnt"
	lv_teardown || return 1
	for p in $holders; do expect_gone "$p" || return 1; done
	for p in /proc/[0-9]*; do
		if [[ $p/ns/mnt -ef /proc/$$/fd/$NS1 || $p/ns/mnt -ef /proc/$$/fd/$NS2 ]]; then
			fail "process ${p#/proc/} ($(cat "$p/comm" 2>/dev/null)) left in a host namespace" || return 1
		fi
	done
	exec {NS1}<&- {NS2}<&-
	[[ ! -e /run/netns/$ns ]] || fail "netns $ns still exists" || return 1
	[[ ! -e $run ]] || fail "run dir $run still exists" || return 1
	! grep -qF "$run" /proc/self/mountinfo || fail "mounts of $run left"
}

echo "smoke: libvirt two-host environment ($(date '+%F %T'), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg))"
step "setup: netns + 2 hosts + 2 libvirtd answering" s_setup
step "versions, distinct hostnames" s_versions
step "define g1 on host 1 (qcow2, cache=none, no NIC)" s_define
step "start g1 on host 1, running" s_start
step "suspend g1" s_suspend
step "resume g1" s_resume
step "live-migrate g1 1->2 (client-managed, --unsafe)" s_migrate_12
step "live-migrate g1 2->1 (--p2p)" s_migrate_21
step "destroy g1 on host 1, QEMU reaped" s_destroy
step "define+start g2 on host 2" s_start_g2
step "restart libvirtd on host 2 with g2 running" s_restart
step "g2 survived (same pid, monitor works, suspend/resume)" s_survived
step "destroy g2 after reconnect, QEMU reaped" s_destroy_g2
step "teardown: no process, netns, mount or dir left" s_teardown
echo "smoke: total $(fmt_us $(($(_lv_now_us) - T_START)))s"
echo "smoke: $PASSED passed, 0 failed"
