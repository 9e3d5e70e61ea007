# shellcheck shell=bash
# tests/libvirt/env.sh — two (or more) emulated libvirt hosts on one machine, for lock-driver
# tests and the demo.
#
# Source this file (bash >= 5), set the LV_* knobs below if needed, then:
#
#   lv_setup                                 # netns + host 1 (127.0.0.1) + host 2 (127.0.0.2)
#                                            # (+ host 3 (127.0.0.3) ... with LV_HOSTS=3)
#   lv_define_guest 1 g1 "$LV_RUN/images/g1.qcow2"
#   lv_virsh 1 start g1
#   lv_migrate 1 2 g1                        # client-managed live migration
#   lv_migrate 2 1 g1 --p2p                  # peer-to-peer live migration
#   lv_teardown                              # everything gone again
#
# Layout.  All state of one run lives below LV_RUN=$LV_TMPDIR/lvtest.XXXXXX (LV_ID = the
# XXXXXX part).  All hosts share one network namespace "lvt-$LV_ID" that has only `lo`.
# Each host N (1..LV_HOSTS) is a mount+UTS namespace (hostname lvt-$LV_ID-hN) held open by a
# small perl "holder" process, with private bind mounts
#     $LV_RUN/hN/etc   -> /etc/libvirt        $LV_RUN/hN/lib   -> /var/lib/libvirt
#     $LV_RUN/hN/run   -> /run  (so /run/libvirt is private too)
#     $LV_RUN/hN/log   -> /var/log/libvirt    $LV_RUN/hN/cache -> /var/cache/libvirt
#     $LV_RUN/hN/hosts -> /etc/hosts          $LV_RUN/hN/extra/* -> each of LV_EXTRA_DIRS
# libvirtd of host N listens on 127.0.0.N:16509 (TCP, auth none); reach it with lv_virsh N.
# Guest disks are meant to live in $LV_RUN/images (same path on all hosts: "shared storage").
#
# Knobs (set before lv_setup; arrays may be left unset):
#   LV_HOSTS           number of hosts, 2..9 (default 2)
#   LV_TMPDIR          parent of the run directory (default /tmp)
#   LV_LOCK_MANAGER    qemu.conf lock_manager (default empty: libvirt's built-in "nop")
#   LV_LOCK_PLUGIN_DIR exported to libvirtd as LIBVIRT_LOCK_MANAGER_PLUGIN_DIR if non-empty
#   LV_LOCK_CONF       file copied to /etc/libvirt/qemu-$LV_LOCK_MANAGER.conf on each host
#                      (the string @HOST@ in it is replaced by the host number 1, 2, ...)
#   LV_LIBVIRTD_ENV    array of VAR=VALUE for libvirtd (@HOST@ replaced by 1, 2, ...),
#                      e.g. LV_LIBVIRTD_ENV=(SYNC_MANAGER_RUN_DIR=/run/sync_manager)
#   LV_EXTRA_DIRS      array of absolute dirs that get a private, initially empty, per-host
#                      bind mount (from $LV_RUN/hN/extra/...).  A dir must exist on the real
#                      system or lie below /run or a libvirt dir (those are private per host,
#                      so it is created there).  e.g. LV_EXTRA_DIRS=(/run/sync_manager)
#   LV_LOG_FILTERS     libvirtd log_filters (default "1:locking 3:*"; debug of lock calls)
#   LV_LIBVIRTD_CONF_EXTRA / LV_QEMU_CONF_EXTRA  text appended to libvirtd.conf / qemu.conf
#   LV_VIRT_TYPE       guest <domain type>; default: kvm if libvirt reports it usable, else qemu
#   LV_MIGRATE_PORT    first QEMU migration port (default 49152; each migration takes the next)
#   LV_TIMEOUT_START   s to wait for a libvirtd to answer (default 180)
#   LV_VIRSH_TIMEOUT   s for one virsh call (default 60; lv_migrate uses LV_TIMEOUT_MIGRATE)
#   LV_TIMEOUT_MIGRATE s for one migration (default 300)
#   LV_KEEP            1: lv_teardown stops everything but keeps $LV_RUN (logs) (default 0)
#   LV_GC              0: lv_setup does not reap leftovers of crashed earlier runs (default 1)
#   LV_VERBOSE         1: progress messages on stderr
#
# Conventions: functions return 0 on success and non-zero on failure with a message
# "lv: ..." on stderr; none calls exit; none relies on `set -e` (but all work under
# `set -euo pipefail`).  Host arguments are 1..LV_HOSTS.
#
# GOTCHAS found while building this (kept here so nobody has to find them again):
#  * PID 1 of this machine is a VM agent, not systemd: it reaps orphans only ~1.7 s after
#    they exit (measured), and in containers PID 1 often never does.  libvirt always
#    daemonizes QEMU (double fork), so every QEMU is such an orphan; while it is a zombie
#    kill(pid, 0) still succeeds and libvirt's virProcessKillPainfully() keeps polling
#    (virsh destroy took 2.0 s instead of 0.25 s; with a PID 1 that never reaps it would
#    wait ~15 s and fail "Failed to terminate process N with SIGKILL").  Fix: each host's
#    holder is a child subreaper (prctl(PR_SET_CHILD_SUBREAPER) from perl, which is
#    Essential in Debian) that reaps at once, and libvirtd is started *by the holder*
#    (lv_host_spawn), so QEMU orphans are re-parented to the holder.  smoke.sh checks that
#    QEMU's parent is the holder and that its pid disappears after destroy/migration.
#  * perl's `$0 = "title"` overwrites the process's /proc/PID/environ; teardown identifies
#    our processes by an LVTEST_RUNID environment marker (or the holder.pl path in the
#    command line), so the holder does not set $0.
#  * Namespace inode numbers (mnt:[4026532247]) are reused as soon as a namespace dies:
#    a later run got the very same inode as the previous run.  Never kill by inode alone;
#    lv_teardown requires a marked process in the namespace.  (So after a host's holder
#    was killed, teardown used to find an unrelated namespace under the old inode and fail
#    "not touching them"; lv_crash_host records the crash and teardown skips that host.)
#  * A process whose parent has died is re-parented to PID 1; the holders are started
#    with `setsid --fork --wait` so their parent (setsid) stays and reaps them (without
#    --fork, setsid execs directly when not a process-group leader).
#  * /run/libvirt does not exist on the real system, and a bind mount needs an existing
#    mount point; instead of creating it outside the run directory, the whole /run is
#    replaced by a private per-host directory.
#  * libvirt refuses a migration between two hosts with the same hostname or host UUID:
#    hence --uts + distinct hostnames and distinct host_uuid.  The hostnames are put into a
#    private /etc/hosts so that no name lookup ever goes to the (unreachable) DNS server.
#  * `libvirtd -d` would detach from the holder (then orphans go to PID 1, see above); it
#    runs in the foreground as the holder's child instead, stdout/stderr to hN/libvirtd.out.
#  * libvirtd only starts accepting TCP clients once all state drivers have initialised,
#    so "virsh version answers" is the readiness test.  A lock plugin that cannot be loaded
#    ("Plugin /x/sync_manager.so not accessible: No such file or directory", then
#    "Initialization of QEMU state driver failed", "Driver state initialization failed")
#    makes libvirtd exit -- with exit status 0, so only the log tells why;
#    lv_start_libvirtd reports the exit and prints the tail of the logs.
#  * Harmless errors in every libvirtd.log here: "Unable to find 'dnsmasq' binary",
#    "Unable to get system bus connection", "Failed to get udev device for syspath
#    '/sys/devices/virtual/dmi/id'", "dmidecode ... /dev/mem: No such file or directory";
#    `virsh sysinfo` fails "Host SMBIOS information is not available".
#  * qemu.conf migration_host / migration_address are refused only when they are exactly
#    the local machine ("migration_address must not be the address of the local machine:
#    127.0.0.1"); 127.0.0.2 is accepted.  Host 1 cannot use that, so lv_migrate always
#    passes the migration URI tcp://127.0.0.DST:PORT instead.
#  * After migrating a transient guest away, the source no longer knows it, so
#    `domjobinfo --completed` must be asked on the destination ("Incoming migration").
#  * With log_filters "1:locking", the lock calls that libvirt makes in the forked child
#    before exec'ing QEMU (New(NEW_STARTED) / Acquire(REGISTER_ONLY)) do NOT show up in
#    libvirtd.log (seen with the nop driver); a plugin must log those itself.  The calls
#    in the daemon do show: e.g. two Release calls for one `virsh suspend`.
#  * Namespace handles: `[[ /proc/A/ns/mnt -ef /proc/B/ns/mnt ]]` compares namespaces
#    without forking; an open fd on /proc/PID/ns/mnt keeps a namespace (and its mounts,
#    including the copy of /run/netns/NAME) alive after its last process is gone.

: "${LV_TMPDIR:=/tmp}"
: "${LV_HOSTS:=2}"
: "${LV_LOCK_MANAGER:=}"
: "${LV_LOCK_PLUGIN_DIR:=}"
: "${LV_LOCK_CONF:=}"
: "${LV_LOG_FILTERS:=1:locking 3:*}"
: "${LV_LIBVIRTD_CONF_EXTRA:=}"
: "${LV_QEMU_CONF_EXTRA:=}"
: "${LV_VIRT_TYPE:=}"
: "${LV_MIGRATE_PORT:=49152}"
: "${LV_TIMEOUT_START:=180}"
: "${LV_VIRSH_TIMEOUT:=60}"
: "${LV_TIMEOUT_MIGRATE:=300}"
: "${LV_KEEP:=0}"
: "${LV_GC:=1}"
: "${LV_VERBOSE:=0}"
: "${LV_RUN:=}"
: "${LV_ID:=}"
: "${LV_NETNS:=}"

# ---------------------------------------------------------------------------------------
# small helpers

_lv_err() { printf 'lv: %s\n' "$*" >&2; }
_lv_log() { [[ $LV_VERBOSE == 1 ]] && printf 'lv: [%s] %s\n' "$(date +%T.%3N)" "$*" >&2; return 0; }
_lv_now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }

# _lv_check_host N: N must be 1..LV_HOSTS and lv_setup must have run.
_lv_check_host() {
	if [[ ! $1 =~ ^[1-9]$ ]] || (($1 > LV_HOSTS)); then _lv_err "host must be 1..$LV_HOSTS, got '$1'"; return 1; fi
	if [[ -z $LV_RUN || ! -d $LV_RUN/state ]]; then _lv_err "no environment: run lv_setup first"; return 1; fi
	return 0
}

# _lv_alive PID: true if PID exists and is not a zombie.  (Helpers that poll avoid forking:
#   on a loaded 2-core box hundreds of `readlink`/`cat` forks per poll made teardown take 20 s.)
_lv_alive() {
	local st
	[[ -n ${1:-} ]] || return 1
	{ read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
	st=${st##*) }
	[[ -n $st && ${st:0:1} != [ZX] ]]
}

# _lv_has_marker PID RUN_DIR: true if PID is one of that run's own processes: its
#   environment carries LVTEST_RUNID=<id> (libvirtd, lv_host_spawn jobs) or its command
#   line runs RUN_DIR/lib/holder.pl (the holders).
_lv_has_marker() {
	[[ -r /proc/$1/environ ]] || return 1
	tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | grep -qx "LVTEST_RUNID=${2##*.}" && return 0
	tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | grep -qxF "$2/lib/holder.pl"
}

# _lv_ps PID...: "pid:comm:state ..." for messages
_lv_ps() {
	local p st out=()
	for p in "$@"; do
		st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		out+=("$p:$(cat "/proc/$p/comm" 2>/dev/null):$(st=${st##*) }; echo "${st:0:1}")")
	done
	echo "${out[*]}"
}

# _lv_pids_in_mntns INODE-STRING: pids whose mount namespace is INODE-STRING ("mnt:[...]").
#   Used once per teardown to find a reference process when the holder is gone (one find
#   for all processes: a readlink per process took over a second with 1000 processes).
_lv_pids_in_mntns() {
	find /proc/[0-9]*/ns/mnt -maxdepth 0 -printf '%h %l\n' 2>/dev/null |
		awk -v ns="$1" '$2 == ns { sub("^/proc/", "", $1); sub("/ns$", "", $1); print $1 }'
	return 0
}

# _lv_pids_sharing_mntns REFPID: pids in the same mount namespace as REFPID (no forks).
_lv_pids_sharing_mntns() {
	local p out=()
	[[ -e /proc/$1/ns/mnt ]] || return 0
	for p in /proc/[0-9]*; do
		[[ $p/ns/mnt -ef /proc/$1/ns/mnt ]] && out+=("${p#/proc/}")
	done
	((${#out[@]})) && echo "${out[*]}"
	return 0
}

# lv_poll TIMEOUT_S INTERVAL_S CMD...: run CMD until it succeeds (0) or TIMEOUT_S elapsed (1).
lv_poll() {
	local timeout=$1 interval=$2; shift 2
	local deadline=$(($(_lv_now_us) + timeout * 1000000))
	while :; do
		"$@" && return 0
		(($(_lv_now_us) >= deadline)) && return 1
		sleep "$interval"
	done
}

# _lv_wait_dead TIMEOUT_S PID...: wait until none of PIDs is alive; 1 on timeout.
_lv_wait_dead() {
	local t=$1; shift
	lv_poll "$t" 0.05 _lv_none_alive "$@"
}
_lv_none_alive() { local p; for p in "$@"; do _lv_alive "$p" && return 1; done; return 0; }

_lv_xml_escape() {
	local s=$1
	s=${s//&/&amp;}; s=${s//</&lt;}; s=${s//>/&gt;}; s=${s//\'/&apos;}; s=${s//\"/&quot;}
	printf '%s' "$s"
}

# ---------------------------------------------------------------------------------------
# client side

# lv_uri N: prints the libvirt URI of host N (qemu+tcp://127.0.0.N/system).
lv_uri() { echo "qemu+tcp://127.0.0.$1/system"; }

# _lv_client CMD...: run CMD in the test network namespace (only), with a private HOME.
_lv_client() {
	env -u LIBVIRT_DEFAULT_URI HOME="$LV_RUN/client" XDG_CONFIG_HOME="$LV_RUN/client/config" \
		XDG_CACHE_HOME="$LV_RUN/client/cache" XDG_RUNTIME_DIR="$LV_RUN/client/runtime" \
		nsenter --net="/run/netns/$LV_NETNS" -- "$@"
}

# lv_virsh N ARGS...: run `virsh -q -c qemu+tcp://127.0.0.N/system ARGS...` inside the netns.
#   stdout/stderr/exit status are virsh's.  Killed after LV_VIRSH_TIMEOUT s (override per
#   call: LV_VIRSH_TIMEOUT=300 lv_virsh ...), then returns 124 with a message on stderr.
#   At a terminal: timeout runs with --foreground (without it, timeout puts virsh in a process
#   group of its own, in the terminal's background, and virsh, which reads the terminal while
#   it watches a job such as a migration, gets SIGTTIN and stops until the timeout), and
#   virsh's stdin is /dev/null (it has nothing to read there).  tests/demo_tty.sh runs the
#   demo at a pseudo-terminal, tests/lint/timeout_foreground.py checks every timeout.
lv_virsh() {
	local h=$1; shift
	_lv_check_host "$h" || return 2
	local rc=0
	_lv_client timeout --foreground --kill-after=10 "$LV_VIRSH_TIMEOUT" virsh -q -c "$(lv_uri "$h")" "$@" \
		</dev/null || rc=$?
	if ((rc == 124 || rc == 137)); then
		_lv_err "virsh on host $h timed out after ${LV_VIRSH_TIMEOUT}s: virsh $*"
		rc=124
	fi
	return "$rc"
}

# lv_domstate N NAME: prints the domain state word(s) ("running", "paused", "shut off"), or
#   nothing and returns 1 if host N does not know NAME.
lv_domstate() {
	local out
	out=$(lv_virsh "$1" domstate "$2" 2>/dev/null) || return 1
	out=${out%%$'\n'*}
	echo "$out"
}

_lv_state_is() {
	local s
	if [[ $3 == absent ]]; then ! lv_virsh "$1" dominfo "$2" >/dev/null 2>&1; return; fi
	s=$(lv_domstate "$1" "$2") && [[ $s == "$3" ]]
}

# lv_wait_state N NAME STATE [TIMEOUT_S=60]: poll until `domstate` is STATE ("absent" waits
#   until host N no longer knows NAME).  Returns 1 with a message on timeout.
lv_wait_state() {
	local h=$1 name=$2 want=$3 t=${4:-60}
	if ! lv_poll "$t" 0.1 _lv_state_is "$h" "$name" "$want"; then
		_lv_err "host $h: domain $name not '$want' after ${t}s (state: '$(lv_domstate "$h" "$name" || echo absent)')"
		return 1
	fi
	return 0
}

# ---------------------------------------------------------------------------------------
# host side

# lv_host_exec N CMD...: run a short command inside host N's namespaces (mount, UTS, net).
#   It sees host N's /etc/libvirt, /run, ... .  For long-running daemons use lv_host_spawn.
lv_host_exec() {
	local h=$1; shift
	_lv_check_host "$h" || return 2
	local holder; holder=$(cat "$LV_RUN/state/h$h.holder")
	if ! _lv_alive "$holder"; then _lv_err "host $h: holder process $holder is gone"; return 2; fi
	nsenter -t "$holder" -m -u -n -- "$@"
}

# lv_host_spawn N LOGFILE CMD...: start CMD as a background process of host N: in its
#   namespaces, as a descendant of the host's reaper (so its orphans are reaped), with
#   stdin /dev/null, stdout+stderr appended to LOGFILE (a path as seen from the real root
#   and from host N, e.g. below $LV_RUN), environment reset to PATH, HOME=$LV_RUN/hN/home,
#   LANG=C, LVTEST_RUNID, LVTEST_HOST (prefix CMD with `env VAR=...` for more).
#   Prints the pid; returns non-zero if the holder does not pick the job up in 30 s.
lv_host_spawn() {
	local h=$1 log=$2; shift 2
	_lv_check_host "$h" || return 2
	local d=$LV_RUN/h$h spool=$LV_RUN/h$h/spool holder seq
	holder=$(cat "$LV_RUN/state/h$h.holder")
	if ! _lv_alive "$holder"; then _lv_err "host $h: holder process $holder is gone"; return 2; fi
	seq=$(_lv_now_us)$RANDOM
	{
		echo 'exec </dev/null'
		printf 'exec >>%q 2>&1\n' "$log"
		echo 'cd /'
		printf 'exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C HOME=%q LVTEST_RUNID=%q LVTEST_HOST=%q' \
			"$d/home" "$LV_ID" "$h"
		printf ' %q' "$@"
		echo
	} >"$spool/$seq.tmp"
	mv "$spool/$seq.tmp" "$spool/$seq.cmd"
	kill -USR1 "$holder" 2>/dev/null
	if ! lv_poll 30 0.02 test -s "$spool/$seq.pid"; then
		_lv_err "host $h: holder $holder did not spawn '$*' within 30s"
		return 1
	fi
	cat "$spool/$seq.pid"
}

# lv_libvirtd_log N: prints the path of host N's libvirtd log file (log_outputs; lock driver
#   calls appear there with the default LV_LOG_FILTERS).  libvirtd's own stdout/stderr go
#   to $LV_RUN/hN/libvirtd.out.
lv_libvirtd_log() { _lv_check_host "$1" || return 2; echo "$LV_RUN/h$1/log/libvirtd.log"; }

# lv_guest_log N NAME: prints the path of the QEMU log of guest NAME on host N.
lv_guest_log() { _lv_check_host "$1" || return 2; echo "$LV_RUN/h$1/log/qemu/$2.log"; }

# lv_libvirtd_pid N: prints the pid of host N's running libvirtd; 1 if it is not running.
lv_libvirtd_pid() {
	_lv_check_host "$1" || return 2
	local p
	p=$(cat "$LV_RUN/state/h$1.libvirtd" 2>/dev/null) || return 1
	_lv_alive "$p" || return 1
	echo "$p"
}

# lv_host_pid_ok N PID: true if PID is a live process inside host N's mount namespace.
lv_host_pid_ok() {
	local holder
	_lv_alive "$2" || return 1
	read -r holder <"$LV_RUN/state/h$1.holder" || return 1
	[[ /proc/$2/ns/mnt -ef /proc/$holder/ns/mnt ]]
}

# lv_qemu_pid N NAME: prints the pid of guest NAME's QEMU on host N (from libvirt's pid
#   file, checked to be a live process of host N); returns 1 (no output) if not running.
lv_qemu_pid() {
	_lv_check_host "$1" || return 2
	local f=$LV_RUN/h$1/run/libvirt/qemu/$2.pid p
	p=$(cat "$f" 2>/dev/null) || return 1
	p=${p//[!0-9]/}
	lv_host_pid_ok "$1" "$p" || return 1
	echo "$p"
}

# lv_start_libvirtd N: start host N's libvirtd (must not be running) and wait up to
#   LV_TIMEOUT_START s until `virsh version` answers on 127.0.0.N.  On failure (libvirtd
#   exits, e.g. because the lock plugin failed to load, or timeout) prints why plus the
#   tail of its logs and returns 1 (a libvirtd still starting is then killed).
lv_start_libvirtd() {
	local h=$1
	_lv_check_host "$h" || return 2
	if lv_libvirtd_pid "$h" >/dev/null; then _lv_err "host $h: libvirtd already running"; return 1; fi
	_lv_spawn_libvirtd "$h" && _lv_wait_libvirtd "$h"
}

_lv_spawn_libvirtd() {
	local h=$1 envs=() e pid
	[[ -n $LV_LOCK_PLUGIN_DIR ]] && envs+=("LIBVIRT_LOCK_MANAGER_PLUGIN_DIR=$LV_LOCK_PLUGIN_DIR")
	for e in ${LV_LIBVIRTD_ENV[@]+"${LV_LIBVIRTD_ENV[@]}"}; do envs+=("${e//@HOST@/$h}"); done
	echo "--- $(date '+%F %T') starting libvirtd" >>"$LV_RUN/h$h/libvirtd.out"
	pid=$(lv_host_spawn "$h" "$LV_RUN/h$h/libvirtd.out" env ${envs[@]+"${envs[@]}"} \
		libvirtd --listen --pid-file /run/libvirt/libvirtd.pid) || return 1
	echo "$pid" >"$LV_RUN/state/h$h.libvirtd"
	_lv_log "host $h: libvirtd pid $pid"
}

_lv_wait_libvirtd() {
	local h=$1 pid deadline err=""
	pid=$(cat "$LV_RUN/state/h$h.libvirtd")
	deadline=$(($(_lv_now_us) + LV_TIMEOUT_START * 1000000))
	while :; do
		if ! _lv_alive "$pid"; then
			_lv_err "host $h: libvirtd (pid $pid) exited during startup$(_lv_exit_status "$h" "$pid")"
			_lv_dump_libvirtd "$h"
			return 1
		fi
		if err=$(LV_VIRSH_TIMEOUT=20 lv_virsh "$h" version 2>&1 >/dev/null); then
			_lv_log "host $h: libvirtd answers"
			return 0
		fi
		if (($(_lv_now_us) >= deadline)); then
			_lv_err "host $h: libvirtd (pid $pid) did not answer on $(lv_uri "$h") within ${LV_TIMEOUT_START}s; last error: $err"
			_lv_dump_libvirtd "$h"
			kill -KILL "$pid" 2>/dev/null
			return 1
		fi
		sleep 0.1
	done
}

# _lv_exit_status N PID: " (exit status X)" / " (killed by signal X)" as recorded by host
#   N's holder when it reaped PID, or "" if unknown.
_lv_exit_status() {
	local f st
	f=$(grep -lx "$2" "$LV_RUN/h$1/spool/"*.pid 2>/dev/null | head -1)
	[[ -n $f ]] || return 0
	f=${f%.pid}.exit
	lv_poll 2 0.05 test -s "$f" || return 0
	read -r st <"$f"
	if [[ $st =~ ^[0-9]+$ ]]; then
		if ((st & 127)); then printf ' (killed by signal %d)' $((st & 127)); else printf ' (exit status %d)' $((st >> 8)); fi
	else
		printf ' (%s)' "$st"
	fi
	return 0
}

_lv_dump_libvirtd() {
	local h=$1
	{
		echo "----- host $h: tail of $LV_RUN/h$h/libvirtd.out"
		tail -n 20 "$LV_RUN/h$h/libvirtd.out" 2>/dev/null
		echo "----- host $h: last errors/warnings in $(lv_libvirtd_log "$h")"
		grep -E ': (error|warning) : ' "$(lv_libvirtd_log "$h")" 2>/dev/null | tail -n 15
		echo "----- host $h: tail of $(lv_libvirtd_log "$h")"
		tail -n 10 "$(lv_libvirtd_log "$h")" 2>/dev/null
		echo "-----"
	} >&2
}

# lv_stop_libvirtd N [TIMEOUT_S=30]: SIGTERM host N's libvirtd and wait until it is gone
#   (SIGKILL after TIMEOUT_S).  Running guests are left alone.  0 if it was not running.
lv_stop_libvirtd() {
	local h=$1 t=${2:-30} pid
	_lv_check_host "$h" || return 2
	pid=$(lv_libvirtd_pid "$h") || return 0
	kill -TERM "$pid" 2>/dev/null
	if ! _lv_wait_dead "$t" "$pid"; then
		_lv_err "host $h: libvirtd $pid ignored SIGTERM for ${t}s, sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null
		_lv_wait_dead 10 "$pid" || { _lv_err "host $h: libvirtd $pid survives SIGKILL"; return 1; }
	fi
	return 0
}

# lv_crash_host N: crash host N, like pulling its power cord: SIGKILL to every process in
#   it (holder, libvirtd, QEMUs, lv_host_spawn jobs) at once, repeated until none is left.
#   Prints the killed processes as "PID:COMM ..." on stdout.  Host N is then gone for good:
#   lv_host_exec & co. fail, and lv_teardown skips it (its mount namespace died with its last
#   process, and the namespace's inode number may at once belong to an unrelated one).
lv_crash_host() {
	local h=$1 holder fd p pids round out=()
	_lv_check_host "$h" || return 2
	read -r holder <"$LV_RUN/state/h$h.holder" || return 2
	if ! _lv_alive "$holder"; then _lv_err "host $h: holder process $holder is gone already"; return 1; fi
	# a handle on the namespace, to find its processes even after the holder died ($BASHPID:
	# the fd is ours also when we run in a subshell, e.g. out=$(lv_crash_host 2))
	exec {fd}<"/proc/$holder/ns/mnt" || return 1
	for ((round = 0; round < 200; round++)); do
		pids=()
		for p in /proc/[0-9]*; do
			[[ $p/ns/mnt -ef /proc/$BASHPID/fd/$fd ]] && _lv_alive "${p#/proc/}" && pids+=("${p#/proc/}")
		done
		((${#pids[@]})) || break
		for p in "${pids[@]}"; do ((round)) || out+=("$p:$(cat "/proc/$p/comm" 2>/dev/null)"); done
		kill -KILL "${pids[@]}" 2>/dev/null
		_lv_wait_dead 2 "${pids[@]}"
	done
	exec {fd}<&-
	if ((${#pids[@]})); then _lv_err "host $h: processes survive SIGKILL: $(_lv_ps "${pids[@]}")"; return 1; fi
	if ((${#out[@]} == 0)); then _lv_err "host $h: found no process to kill"; return 1; fi
	echo "$(date '+%F %T') crashed by lv_crash_host" >"$LV_RUN/state/h$h.crashed"
	echo "${out[*]}"
}

# lv_restart_libvirtd N: lv_stop_libvirtd N then lv_start_libvirtd N.  Guests keep running
#   and the new libvirtd reconnects to them (their QEMU pids do not change).
lv_restart_libvirtd() {
	lv_stop_libvirtd "$1" && lv_start_libvirtd "$1"
}

# ---------------------------------------------------------------------------------------
# guests

# lv_guest_xml NAME DISK [LEASE_XML]: prints the domain XML used by lv_define_guest.
lv_guest_xml() {
	local name disk lease=${3:-} type=${LV_VIRT_TYPE:-qemu}
	name=$(_lv_xml_escape "$1"); disk=$(_lv_xml_escape "$2")
	cat <<EOF
<domain type='$type'>
  <name>$name</name>
  <memory unit='MiB'>64</memory>
  <currentMemory unit='MiB'>64</currentMemory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <on_lockfailure>poweroff</on_lockfailure>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none'/>
      <source file='$disk'/>
      <target dev='vda' bus='virtio'/>
    </disk>
$lease
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

# lv_define_guest N NAME DISK [LEASE_XML]: define (persistently) on host N a guest with no
#   OS (sits in SeaBIOS): 64 MiB, 1 vCPU, DISK as virtio qcow2 with cache='none', no NIC,
#   <on_lockfailure>poweroff</on_lockfailure>, type LV_VIRT_TYPE (kvm or qemu).  DISK is
#   created (qcow2, 16 MiB) if it does not exist; it should live below $LV_RUN/images so
#   both hosts see it.  LEASE_XML (e.g. "<lease>...</lease>") is inserted verbatim into
#   <devices>.  The XML is also kept in $LV_RUN/xml/NAME.xml.  Does not start the guest.
lv_define_guest() {
	local h=$1 name=$2 disk=$3 lease=${4:-} out
	_lv_check_host "$h" || return 2
	if [[ $disk != /* ]]; then _lv_err "lv_define_guest: disk path must be absolute: $disk"; return 1; fi
	if [[ ! -e $disk ]]; then
		mkdir -p "$(dirname "$disk")"
		out=$(qemu-img create -q -f qcow2 "$disk" 16M 2>&1) || { _lv_err "qemu-img create $disk: $out"; return 1; }
	fi
	mkdir -p "$LV_RUN/xml"
	lv_guest_xml "$name" "$disk" "$lease" >"$LV_RUN/xml/$name.xml"
	out=$(lv_virsh "$h" define "$LV_RUN/xml/$name.xml" 2>&1) || { _lv_err "host $h: define $name failed: $out"; return 1; }
	return 0
}

# lv_migrate SRC DST NAME [--p2p] [more virsh migrate options...]: live-migrate running
#   guest NAME from host SRC to host DST:
#     virsh -c SRC migrate --live --unsafe [opts] NAME qemu+tcp://127.0.0.DST/system tcp://127.0.0.DST:PORT
#   (--unsafe: the local file system is not recognised as shared storage; PORT is a fresh
#   port from LV_MIGRATE_PORT on).  Without --persistent the guest is transient on DST.
#   Fails after LV_TIMEOUT_MIGRATE s.  virsh's output goes to stdout/stderr.
lv_migrate() {
	local src=$1 dst=$2 name=$3; shift 3
	_lv_check_host "$src" || return 2
	_lv_check_host "$dst" || return 2
	local n=0 port
	n=$(cat "$LV_RUN/state/migrations" 2>/dev/null) || n=0
	echo $((n + 1)) >"$LV_RUN/state/migrations"
	port=$((LV_MIGRATE_PORT + n % 1000))
	_lv_log "migrate $name: host $src -> host $dst (port $port) $*"
	LV_VIRSH_TIMEOUT=$LV_TIMEOUT_MIGRATE lv_virsh "$src" migrate --live --unsafe "$@" "$name" \
		"$(lv_uri "$dst")" "tcp://127.0.0.$dst:$port"
}

# ---------------------------------------------------------------------------------------
# setup / teardown

# lv_setup: create the run directory, the network namespace and the LV_HOSTS hosts, start
#   their libvirtds and wait until they answer; sets and exports LV_RUN, LV_ID, LV_NETNS,
#   LV_VIRT_TYPE.  Reaps leftovers of crashed earlier runs first (see lv_gc) unless LV_GC=0.
#   On failure it prints why, stops what it started, keeps $LV_RUN (logs; a later lv_gc
#   removes it once this shell has exited) and returns 1.  Call once per shell (again
#   only after lv_teardown).
lv_setup() {
	if [[ -n $LV_RUN && -d $LV_RUN/state ]]; then _lv_err "lv_setup: already set up ($LV_RUN)"; return 1; fi
	local c
	if [[ $(id -u) != 0 ]]; then _lv_err "lv_setup: must run as root"; return 1; fi
	if [[ ! $LV_HOSTS =~ ^[2-9]$ ]]; then _lv_err "lv_setup: LV_HOSTS must be 2..9, got '$LV_HOSTS'"; return 1; fi
	for c in libvirtd virsh qemu-img qemu-system-x86_64 ip unshare nsenter perl timeout; do
		command -v "$c" >/dev/null || { _lv_err "lv_setup: '$c' not found (apt-get install -y --no-install-recommends libvirt-daemon-system libvirt-daemon-driver-qemu qemu-system-x86 qemu-utils libvirt-clients)"; return 1; }
	done
	[[ $LV_GC == 0 ]] || lv_gc
	LV_RUN=$(mktemp -d "$LV_TMPDIR/lvtest.XXXXXX") || { _lv_err "lv_setup: mktemp failed"; return 1; }
	chmod 755 "$LV_RUN"
	LV_ID=${LV_RUN##*.}
	LV_NETNS=lvt-$LV_ID
	export LV_RUN LV_ID LV_NETNS
	mkdir -p "$LV_RUN/state" "$LV_RUN/images" "$LV_RUN/xml" "$LV_RUN/lib" \
		"$LV_RUN/client/config" "$LV_RUN/client/cache" "$LV_RUN/client/runtime"
	chmod 700 "$LV_RUN/client/runtime"
	echo "$$ $(_lv_starttime $$)" >"$LV_RUN/state/owner"
	echo "$LV_NETNS" >"$LV_RUN/state/netns"
	echo "$LV_HOSTS" >"$LV_RUN/state/hosts"
	_lv_log "run dir $LV_RUN"
	if ! _lv_setup_inner; then
		_lv_err "lv_setup failed; tearing down (logs kept in $LV_RUN)"
		LV_KEEP=1 lv_teardown
		return 1
	fi
	return 0
}

_lv_starttime() {
	local s f
	{ read -r s <"/proc/$1/stat"; } 2>/dev/null || return 0
	read -r -a f <<<"${s##*) }"
	echo "${f[19]}" # field 22 of stat: start time
}

_lv_setup_inner() {
	local h out
	_lv_write_helpers
	out=$(ip netns add "$LV_NETNS" 2>&1) || { _lv_err "ip netns add $LV_NETNS: $out"; return 1; }
	out=$(ip -n "$LV_NETNS" link set lo up 2>&1) || { _lv_err "ip -n $LV_NETNS link set lo up: $out"; return 1; }
	for ((h = 1; h <= LV_HOSTS; h++)); do _lv_prepare_host "$h" || return 1; done
	for ((h = 1; h <= LV_HOSTS; h++)); do _lv_start_holder "$h" || return 1; done
	# the libvirtds start in parallel (QEMU capability probing takes a few seconds each)
	for ((h = 1; h <= LV_HOSTS; h++)); do _lv_spawn_libvirtd "$h" || return 1; done
	for ((h = 1; h <= LV_HOSTS; h++)); do _lv_wait_libvirtd "$h" || return 1; done
	if [[ -z $LV_VIRT_TYPE ]]; then
		if [[ -r /dev/kvm && -w /dev/kvm ]] &&
			lv_virsh 1 domcapabilities --virttype kvm --arch x86_64 >/dev/null 2>&1; then
			LV_VIRT_TYPE=kvm
		else
			LV_VIRT_TYPE=qemu
		fi
	fi
	export LV_VIRT_TYPE
	echo "$LV_VIRT_TYPE" >"$LV_RUN/state/virt_type"
	_lv_log "ready: $LV_HOSTS hosts, $(lv_uri 1) ... $(lv_uri "$LV_HOSTS"), guests type $LV_VIRT_TYPE"
	return 0
}

# Scripts used inside the hosts: hostinit.sh sets up the mounts and becomes the holder.
_lv_write_helpers() {
	cat >"$LV_RUN/lib/hostinit.sh" <<'EOF'
#!/bin/bash
# Runs as: ip netns exec NETNS unshare --mount --uts --propagation private hostinit.sh ...
# Sets up the host's private mounts and hostname, then becomes the holder (perl reaper).
set -eu
H=$1 RUN=$2 ID=$3
D=$RUN/h$H
exec </dev/null >>"$D/holder.log" 2>&1
echo "--- $(date '+%F %T') host $H init, pid $$"
hostname "lvt-$ID-h$H"
mount --make-rprivate /
mount --bind "$D/etc" /etc/libvirt
mount --bind "$D/run" /run
mount --bind "$D/lib" /var/lib/libvirt
mount --bind "$D/log" /var/log/libvirt
mount --bind "$D/cache" /var/cache/libvirt
mount --bind "$D/hosts" /etc/hosts
while IFS=$'\t' read -r src dst; do
	[[ -n $src ]] || continue
	mkdir -p "$dst"
	mount --bind "$src" "$dst"
done <"$D/extra-mounts"
export LVTEST_RUNID=$ID LVTEST_HOST=$H
exec perl "$RUN/lib/holder.pl" "$D/spool" "$D/holder.ready" "lv-holder $ID h$H"
EOF
	cat >"$LV_RUN/lib/holder.pl" <<'EOF'
# The holder of one emulated host: keeps its namespaces alive, is a child subreaper that
# reaps every orphan below it at once (PID 1 here reaps late), and spawns jobs dropped into its
# spool directory as NNN.cmd (bash scripts) on SIGUSR1 or within 0.25 s: writes NNN.pid
# with the child's pid, and NNN.exit with the wait status when the child is reaped.
use strict; use warnings; use POSIX ();
my ($spool, $ready, $title) = @ARGV;
# prctl(PR_SET_CHILD_SUBREAPER = 36, 1); syscall 157 = prctl on x86_64
syscall(157, 36, 1, 0, 0, 0) == 0 or die "lv-holder: prctl(PR_SET_CHILD_SUBREAPER): $!\n";
# (no "$0 = ..." here: perl would overwrite /proc/PID/environ, which lv_teardown reads)
my $stop = 0; my %job;
$SIG{TERM} = sub { $stop = 1 };
$SIG{USR1} = sub { };
$SIG{CHLD} = sub { };
sub put { my ($f, $v) = @_; open(my $fh, '>', "$f.tmp") or return; print $fh "$v\n"; close $fh; rename("$f.tmp", $f); }
sub reap {
	while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
		put("$spool/$job{$pid}.exit", $?) if exists $job{$pid};
		delete $job{$pid};
	}
}
sub spawn {
	opendir(my $dh, $spool) or return;
	my @cmds = sort grep { /^\d+\.cmd$/ } readdir $dh;
	closedir $dh;
	for my $f (@cmds) {
		(my $base = $f) =~ s/\.cmd$//;
		rename("$spool/$f", "$spool/$base.sh") or next;
		my $pid = fork();
		if (!defined $pid) { put("$spool/$base.exit", "fork: $!"); next; }
		if ($pid == 0) {
			$SIG{$_} = 'DEFAULT' for qw(TERM USR1 CHLD);
			exec('/bin/bash', "$spool/$base.sh") or POSIX::_exit(127);
		}
		$job{$pid} = $base;
		put("$spool/$base.pid", $pid);
	}
}
put($ready, $$);
while (!$stop) {
	reap();
	spawn();
	select(undef, undef, undef, 0.25);
}
reap();
exit 0;
EOF
}

_lv_prepare_host() {
	local h=$1 d=$LV_RUN/h$1 uuid e src dst ok root
	mkdir -p "$d"/{etc,run,lib,log,cache,extra,home,spool}
	cp -a /etc/libvirt/. "$d/etc/"
	rm -f "$d/etc/qemu/networks/autostart/"*.xml # no default network (no dnsmasq here)
	mkdir -p "$d/run/libvirt" "$d/run/lock"
	uuid=$(cat /proc/sys/kernel/random/uuid)
	echo "$uuid" >"$LV_RUN/state/h$h.uuid"
	cat >"$d/etc/libvirtd.conf" <<EOF
# generated by tests/libvirt/env.sh for host $h of run $LV_ID
listen_tls = 0
listen_tcp = 1
listen_addr = "127.0.0.$h"
tcp_port = "16509"
auth_tcp = "none"
auth_unix_rw = "none"
auth_unix_ro = "none"
host_uuid = "$uuid"
log_level = 3
log_filters = "$LV_LOG_FILTERS"
log_outputs = "1:file:/var/log/libvirt/libvirtd.log"
$LV_LIBVIRTD_CONF_EXTRA
EOF
	{
		echo "# generated by tests/libvirt/env.sh for host $h of run $LV_ID"
		echo 'security_driver = "none"'
		echo 'user = "root"'
		echo 'group = "root"'
		echo 'dynamic_ownership = 0'
		echo 'remember_owner = 0'
		echo 'cgroup_controllers = [ ]'
		echo 'stdio_handler = "file"'
		echo 'namespaces = [ ]'
		[[ -n $LV_LOCK_MANAGER ]] && echo "lock_manager = \"$LV_LOCK_MANAGER\""
		printf '%s\n' "$LV_QEMU_CONF_EXTRA"
	} >"$d/etc/qemu.conf"
	chmod 600 "$d/etc/qemu.conf"
	if [[ -n $LV_LOCK_CONF ]]; then
		if [[ -z $LV_LOCK_MANAGER ]]; then _lv_err "LV_LOCK_CONF set but LV_LOCK_MANAGER empty"; return 1; fi
		sed "s/@HOST@/$h/g" "$LV_LOCK_CONF" >"$d/etc/qemu-$LV_LOCK_MANAGER.conf" ||
			{ _lv_err "cannot read LV_LOCK_CONF $LV_LOCK_CONF"; return 1; }
	fi
	{
		printf '127.0.0.1\tlocalhost lvt-%s-h1\n' "$LV_ID"
		for ((e = 2; e <= LV_HOSTS; e++)); do printf '127.0.0.%d\tlvt-%s-h%d\n' "$e" "$LV_ID" "$e"; done
		printf '::1\tlocalhost ip6-localhost ip6-loopback\n'
	} >"$d/hosts"
	: >"$d/extra-mounts"
	for dst in ${LV_EXTRA_DIRS[@]+"${LV_EXTRA_DIRS[@]}"}; do
		if [[ $dst != /* || $dst == *$'\t'* ]]; then _lv_err "LV_EXTRA_DIRS: '$dst' is not an absolute path"; return 1; fi
		dst=${dst%/}
		ok=0
		[[ -d $dst ]] && ok=1
		for root in /run /etc/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt; do
			[[ $dst == "$root"/* ]] && ok=1
		done
		if ((!ok)); then
			_lv_err "LV_EXTRA_DIRS: $dst does not exist and is not below /run or a libvirt dir (would have to be created on the real system)"
			return 1
		fi
		src=$d/extra/$(echo "${dst#/}" | tr / _)
		mkdir -p "$src"
		printf '%s\t%s\n' "$src" "$dst" >>"$d/extra-mounts"
	done
	return 0
}

_lv_holder_settled() { [[ -s $1 ]] || ! kill -0 "$2" 2>/dev/null; }

_lv_start_holder() {
	local h=$1 d=$LV_RUN/h$1 pid
	rm -f "$d/holder.ready"
	LVTEST_RUNID=$LV_ID setsid --fork --wait ip netns exec "$LV_NETNS" unshare --mount --uts --propagation private -- \
		bash "$LV_RUN/lib/hostinit.sh" "$h" "$LV_RUN" "$LV_ID" </dev/null >>"$d/holder.log" 2>&1 &
	local job=$!
	if ! lv_poll 30 0.02 _lv_holder_settled "$d/holder.ready" "$job" || [[ ! -s $d/holder.ready ]]; then
		_lv_err "host $h: holder did not come up (within 30s, or its setup failed); $d/holder.log:"
		tail -n 20 "$d/holder.log" >&2
		return 1
	fi
	pid=$(cat "$d/holder.ready")
	echo "$pid" >"$LV_RUN/state/h$h.holder"
	readlink "/proc/$pid/ns/mnt" >"$LV_RUN/state/h$h.mntns"
	if [[ $(cat "$LV_RUN/state/h$h.mntns") == "$(readlink /proc/self/ns/mnt)" ]]; then
		_lv_err "host $h: holder is not in a private mount namespace"; return 1
	fi
	_lv_log "host $h: holder pid $pid ($(cat "$LV_RUN/state/h$h.mntns"))"
}

# lv_teardown [RUN_DIR]: stop everything of this run (or of the run in RUN_DIR): SIGTERM
#   each host's libvirtd, then its QEMUs and any other process in the host's mount
#   namespace (SIGKILL after 10 s), then the holder; delete the netns; check that no mount
#   refers to the run dir; remove the run dir (unless LV_KEEP=1).  Kills only processes of
#   this run: those inside its hosts' mount namespaces, verified as ours by the
#   LVTEST_RUNID marker of the holder or libvirtd.  Idempotent; safe after partial setup.
#   Returns 1 if something could not be cleaned (with a message).
lv_teardown() {
	local run=${1:-$LV_RUN} rc=0 h ns
	[[ -n $run && -d $run/state ]] || return 0
	local id=${run##*.} n
	n=$(cat "$run/state/hosts" 2>/dev/null) || n=2 # runs of older versions had 2
	[[ $n =~ ^[2-9]$ ]] || n=2
	for ((h = 1; h <= n; h++)); do _lv_teardown_host "$run" "$id" "$h" || rc=1; done
	ns=$(cat "$run/state/netns" 2>/dev/null)
	if [[ -n $ns && -e /run/netns/$ns ]]; then
		local out
		out=$(ip netns del "$ns" 2>&1) || { _lv_err "ip netns del $ns: $out"; rc=1; }
	fi
	if grep -qF " $run" /proc/self/mountinfo; then
		_lv_err "mounts below $run still present in the root namespace; not removing it"
		rc=1
	elif [[ $LV_KEEP != 1 && $rc == 0 ]]; then
		rm -rf --one-file-system "$run"
	fi
	if [[ $run == "$LV_RUN" ]]; then LV_RUN=; LV_NETNS=; LV_ID=; fi
	return "$rc"
}

_lv_teardown_host() {
	local run=$1 id=$2 h=$3 holder mntns ref="" lvd pids p ours=0 others=()
	[[ -e $run/state/h$h.crashed ]] && return 0 # lv_crash_host left nothing
	holder=$(cat "$run/state/h$h.holder" 2>/dev/null) || return 0
	mntns=$(cat "$run/state/h$h.mntns" 2>/dev/null) || return 0
	[[ -n $mntns ]] || return 0
	# a reference process inside the host's mount namespace: normally the holder
	if _lv_alive "$holder" && [[ $(readlink "/proc/$holder/ns/mnt" 2>/dev/null) == "$mntns" ]]; then
		ref=$holder
	else
		for p in $(_lv_pids_in_mntns "$mntns"); do _lv_alive "$p" && { ref=$p; break; }; done
	fi
	[[ -n $ref ]] || return 0
	pids=$(_lv_pids_sharing_mntns "$ref")
	# the namespace is ours only if a process in it is marked as ours (inode numbers of
	# dead namespaces are reused at once)
	for p in $pids; do _lv_has_marker "$p" "$run" && { ours=1; break; }; done
	if ((!ours)); then
		_lv_err "host $h of $run: no process in $mntns is marked as this run's; not touching them: $pids"
		return 1
	fi
	lvd=$(cat "$run/state/h$h.libvirtd" 2>/dev/null)
	if [[ -n $lvd && $lvd != "$ref" ]] && _lv_alive "$lvd" && [[ /proc/$lvd/ns/mnt -ef /proc/$ref/ns/mnt ]]; then
		_lv_log "host $h: SIGTERM to libvirtd $lvd"
		kill -TERM "$lvd" 2>/dev/null
		_lv_wait_dead 15 "$lvd" || kill -KILL "$lvd" 2>/dev/null
	fi
	for p in $(_lv_pids_sharing_mntns "$ref"); do
		[[ $p == "$holder" ]] || { _lv_alive "$p" && others+=("$p"); }
	done
	if ((${#others[@]})); then
		_lv_log "host $h: SIGTERM to $(_lv_ps "${others[@]}")"
		kill -TERM "${others[@]}" 2>/dev/null
		if ! _lv_wait_dead 10 "${others[@]}"; then
			kill -KILL "${others[@]}" 2>/dev/null
			_lv_wait_dead 10 "${others[@]}" || { _lv_err "host $h: processes survive SIGKILL: ${others[*]}"; return 1; }
		fi
	fi
	if [[ $ref == "$holder" ]]; then
		# let the holder reap its zombies before it goes (else PID 1 inherits them)
		# shellcheck disable=SC2046 # pids are meant to be split
		lv_poll 5 0.05 _lv_only_holder_left "$holder" ||
			_lv_err "host $h: not reaped by holder $holder within 5s: $(_lv_ps $(_lv_pids_sharing_mntns "$holder"))"
		_lv_log "host $h: SIGTERM to holder $holder"
		kill -TERM "$holder" 2>/dev/null
		if ! _lv_wait_dead 10 "$holder"; then
			kill -KILL "$holder" 2>/dev/null
			_lv_wait_dead 10 "$holder" || { _lv_err "host $h: holder $holder survives SIGKILL"; return 1; }
		fi
	fi
	return 0
}

_lv_only_holder_left() { [[ $(_lv_pids_sharing_mntns "$1") == "$1" ]]; }

# lv_gc: tear down leftovers of earlier runs in $LV_TMPDIR/lvtest.* whose owner shell is
#   gone (crashed or killed runs).  Runs of live shells are left alone.
lv_gc() {
	local d pid st
	for d in "$LV_TMPDIR"/lvtest.*; do
		[[ -f $d/state/owner && $d != "$LV_RUN" ]] || continue
		read -r pid st <"$d/state/owner" || continue
		if [[ -n $pid && -d /proc/$pid && $(_lv_starttime "$pid") == "$st" ]]; then continue; fi
		_lv_err "reaping leftovers of dead run $d"
		LV_KEEP=0 lv_teardown "$d" || _lv_err "could not fully clean $d"
	done
	return 0
}
