# shellcheck shell=bash
# bench/sanlock/lib.sh - run Debian's real sanlock daemon as "emulated hosts"
# on one machine.  Source it from bash:
#
#   . bench/sanlock/lib.sh
#   sl_setup                      # temp root on local disk + cleanup trap
#   sl_lease_file "$SLB_TMP/leases" 10
#   sl_init_lockspace "$SLB_TMP/leases" LS 1
#   sl_init_resources "$SLB_TMP/leases" LS 10
#   sl_host_start A               # sanlock daemon for emulated host "A"
#   sl_add_lockspace A LS 1 "$SLB_TMP/leases" 1
#   sl_client A status
#
# Each emulated host gets its own SANLOCK_RUN_DIR (socket + pid file) and
# runs inside its own mount namespace (unshare -m) with a private tmpfs on
# /var/log, because the daemon always opens /var/log/sanlock.log.  The
# daemon's -D stderr log also goes to that tmpfs (it is readable from
# outside while the daemon lives: /proc/<pid>/root/var/log/).  tmpfs writes
# are not counted in /proc/<pid>/io write_bytes, so the daemon's logging
# does not pollute the I/O figures.  SLB_LOG_MODE=dir bind-mounts a
# directory on disk instead (logs survive, but they then show up in
# write_bytes).
#
# Only processes started through this file are ever signalled, always by
# pid.  Everything (daemons, helper processes, client processes, temp
# files) is removed by sl_cleanup, which sl_setup installs as EXIT trap.
#
# Disk layout convention (512-byte sectors, 1 MiB alignment):
#   offset 0               : lockspace (delta leases of up to 2000 hosts)
#   offset (1+i) MiB       : resource "r<i>" (one paxos lease)

SLB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SLB_TMP=${SLB_TMP:-}
SLB_LOG_MODE=${SLB_LOG_MODE:-tmpfs}
SLB_PIDS=()          # extra processes started by us (clients, holders)
SLB_HOSTS=()         # emulated host names started by us
SLB_SLBENCH=${SLB_SLBENCH:-}
SLB_MIB=1048576

sl_log() { printf '[sanlock-bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
sl_die() { sl_log "ERROR: $*"; exit 1; }

# Monotonic-ish wall clock in seconds with microseconds (bash >= 5).
sl_now() { printf '%s\n' "${EPOCHREALTIME/,/.}"; }

# sl_setup [PARENT_DIR]: create the temp root (on a filesystem that supports
# O_DIRECT, i.e. not tmpfs) and install the cleanup trap.
sl_setup() {
	local parent=${1:-${SLB_TMPDIR:-/var/tmp}} fstype
	[ "$(id -u)" = 0 ] || sl_die "must run as root (unshare -m, mount)"
	command -v sanlock >/dev/null || sl_die "sanlock not installed (apt-get install sanlock)"
	command -v unshare >/dev/null || sl_die "unshare not found (util-linux)"
	mkdir -p "$parent"
	fstype=$(stat -f -c %T "$parent")
	case $fstype in
	tmpfs|ramfs) sl_die "$parent is $fstype: sanlock needs O_DIRECT, use SLB_TMPDIR=<dir on a disk>" ;;
	esac
	SLB_TMP=$(mktemp -d "$parent/sanlock-bench.XXXXXX") || sl_die "mktemp failed"
	mkdir -p "$SLB_TMP/hosts"
	trap sl_cleanup EXIT
	trap 'sl_log "interrupted"; exit 130' INT TERM HUP
	sl_log "temp root $SLB_TMP ($fstype)"
}

sl_pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
# sl__ours PID: PID is still a direct child of this shell (guards against
# signalling a recycled pid).  Everything we start with & is our child.
sl__ours() { [ -n "$1" ] && [ "$(awk '{print $4}' "/proc/$1/stat" 2>/dev/null)" = "$$" ]; }

# Remember a pid we started so that sl_cleanup can kill it.
sl_track_pid() { SLB_PIDS+=("$1"); }

# sl_kill_pid PID [TIMEOUT_S]: TERM, wait, then KILL (only our own pids).
sl_kill_pid() {
	local pid=$1 t=${2:-5} i
	{ sl_pid_alive "$pid" && sl__ours "$pid"; } || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < t * 10; i++)); do
		sl_pid_alive "$pid" || break
		sleep 0.1
	done
	sl_pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

sl_host_dir() { printf '%s/hosts/%s\n' "$SLB_TMP" "$1"; }
sl_host_pid() { cat "$(sl_host_dir "$1")/pid" 2>/dev/null; }
sl_host_rundir() { printf '%s/run\n' "$(sl_host_dir "$1")"; }

# sl_host_start NAME [extra daemon args...]: start one sanlock daemon
# (= one emulated host).  Sets SLB_LAST_PID.  Must be called in the main
# shell (not in $(...)) so the daemon stays our child and can be reaped.
sl_host_start() {
	local name=$1; shift
	local dir run log pid i mountcmd
	dir=$(sl_host_dir "$name")
	run=$dir/run
	log=$dir/log
	mkdir -p "$run" "$log"
	if [ "$SLB_LOG_MODE" = dir ]; then
		mountcmd="mount --bind '$log' /var/log"
	else
		mountcmd="mount -t tmpfs -o size=64m,mode=0755 slb-varlog /var/log"
	fi
	# unshare -m (private propagation by default) execs sh, which mounts
	# the private /var/log and execs the daemon: $! is the daemon's pid.
	SANLOCK_RUN_DIR=$run SANLOCK_PRIVILEGED=0 \
	unshare -m --propagation private sh -c "$mountcmd && exec sanlock daemon -w 0 -U root -G root -D \"\$@\" 2>/var/log/sanlock.stderr" \
		sanlock-host "$@" </dev/null >/dev/null 2>"$dir/start.err" &
	pid=$!
	# no "Killed" job notice when a failover test kill -9s it; bash still
	# reaps it (and sl_host_stop polls the pid instead of relying on wait)
	disown "$pid"
	echo "$pid" >"$dir/pid"
	SLB_HOSTS+=("$name")
	SLB_LAST_PID=$pid
	for ((i = 0; i < 100; i++)); do
		if ! sl_pid_alive "$pid"; then
			cat "$dir/start.err" >&2
			sl_die "sanlock daemon for host $name exited at start"
		fi
		if [ -S "$run/sanlock.sock" ] && sl_client "$name" status >/dev/null 2>&1; then
			# remember the daemon's helper child(ren) for cleanup
			cat /proc/"$pid"/task/*/children 2>/dev/null | tr ' ' '\n' | grep . >"$dir/children"
			sl_log "host $name: sanlock daemon pid $pid run_dir $run"
			return 0
		fi
		sleep 0.1
	done
	sl_die "sanlock daemon for host $name did not open its socket"
}

# sl_host_log NAME: print the daemon's -D log (while it is alive).
sl_host_log() {
	local pid
	pid=$(sl_host_pid "$1")
	if [ "$SLB_LOG_MODE" = dir ]; then
		cat "$(sl_host_dir "$1")/log/sanlock.stderr"
	else
		cat "/proc/$pid/root/var/log/sanlock.stderr" 2>/dev/null
	fi
}

# Kill left-over helper processes of a daemon (only the pids recorded when
# we started it, and only if they are still sanlock processes).
sl__reap_children() {
	local dir=$1 c
	[ -f "$dir/children" ] || return 0
	while read -r c; do
		[ -n "$c" ] || continue
		case $(cat "/proc/$c/comm" 2>/dev/null) in
		sanlock*) kill -KILL "$c" 2>/dev/null ;;
		esac
	done <"$dir/children"
}

# sl_host_stop NAME: ask the daemon to shut down (force: kill clients,
# release leases, leave lockspaces), fall back to SIGKILL.
sl_host_stop() {
	local name=$1 pid dir i
	dir=$(sl_host_dir "$name")
	pid=$(sl_host_pid "$name")
	[ -n "$pid" ] || return 0
	if sl_pid_alive "$pid" && sl__ours "$pid"; then
		timeout --foreground 15 env SANLOCK_RUN_DIR="$dir/run" sanlock client shutdown -f 1 -w 1 >/dev/null 2>&1
		for ((i = 0; i < 100; i++)); do
			sl_pid_alive "$pid" || break
			sleep 0.1
		done
		sl_pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	sleep 0.1
	sl__reap_children "$dir"
	rm -f "$dir/pid"
}

# sl_host_kill9 NAME: crash the emulated host's daemon (failover tests).
sl_host_kill9() {
	local pid
	pid=$(sl_host_pid "$1")
	sl__ours "$pid" && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	sl__reap_children "$(sl_host_dir "$1")"
	return 0
}

# sl_env NAME CMD...: run CMD with SANLOCK_RUN_DIR of host NAME.
sl_env() { local n=$1; shift; SANLOCK_RUN_DIR=$(sl_host_rundir "$n") "$@"; }

# sl_spawn NAME OUT ERR CMD...: start CMD in the background against host
# NAME, stdout/stderr to OUT/ERR.  SLB_LAST_PID is CMD's own pid (a simple
# command with an env prefix is exec'd directly by the forked shell), and it
# is tracked for cleanup.  Call it in the main shell, not in $(...).
sl_spawn() {
	local n=$1 out=$2 err=$3; shift 3
	SANLOCK_RUN_DIR=$(sl_host_rundir "$n") "$@" >"$out" 2>"$err" </dev/null &
	SLB_LAST_PID=$!
	sl_track_pid "$SLB_LAST_PID"
}

# sl_client NAME ARGS...: "sanlock client ARGS" against host NAME.
sl_client() { local n=$1; shift; SANLOCK_RUN_DIR=$(sl_host_rundir "$n") sanlock client "$@"; }

# sl_lease_file PATH NRES: lease file for one lockspace + NRES resources,
# filled with real zeros (written extents, so later O_DIRECT sub-block
# writes are plain overwrites).
sl_lease_file() {
	local path=$1 nres=$2
	dd if=/dev/zero of="$path" bs=1M count=$((1 + nres)) conv=fsync status=none ||
		sl_die "cannot create $path"
}

sl_res_offset() { echo $(((1 + $1) * SLB_MIB)); }
# sl_res_str LS IDX PATH -> LS:r<IDX>:PATH:OFFSET
sl_res_str() { printf '%s:r%s:%s:%s\n' "$1" "$2" "$3" "$(sl_res_offset "$2")"; }
# sl_ls_str LS HOSTID PATH -> LS:HOSTID:PATH:0
sl_ls_str() { printf '%s:%s:%s:0\n' "$1" "$2" "$3"; }

# sl_init_lockspace PATH LS IO_TIMEOUT: write the lockspace (direct, no
# daemon); -o writes the io_timeout into the delta leases.
sl_init_lockspace() {
	sanlock direct init -s "$2:0:$1:0" -o "$3" -Z 512 -A 1M >/dev/null ||
		sl_die "sanlock direct init -s failed"
}

# sl_init_resource PATH LS IDX: one resource via the CLI.
sl_init_resource() {
	sanlock direct init -r "$(sl_res_str "$2" "$3" "$1")" -Z 512 -A 1M >/dev/null ||
		sl_die "sanlock direct init -r failed"
}

# sl_init_resources PATH LS N: r0..r<N-1>.  Uses the C client (1-2 ms per
# resource) when built, else the CLI (~40 ms per resource).
sl_init_resources() {
	local path=$1 ls=$2 n=$3 i
	if [ -n "$SLB_SLBENCH" ] && [ -x "$SLB_SLBENCH" ]; then
		"$SLB_SLBENCH" init-res -f "$path" -s "$ls" -n "$n" 2>/dev/null ||
			sl_die "slbench init-res failed"
	else
		for ((i = 0; i < n; i++)); do sl_init_resource "$path" "$ls" "$i"; done
	fi
}

# sl_add_lockspace NAME LS HOSTID PATH IO_TIMEOUT: join (blocks until done).
sl_add_lockspace() {
	sl_client "$1" add_lockspace -s "$(sl_ls_str "$2" "$3" "$4")" -o "$5" >/dev/null
}

# sl_rem_lockspace NAME LS HOSTID PATH
sl_rem_lockspace() {
	sl_client "$1" rem_lockspace -s "$(sl_ls_str "$2" "$3" "$4")" >/dev/null
}

# sl_io PID -> "read_bytes write_bytes" from /proc/PID/io
sl_io() { awk '/^read_bytes/{r=$2} /^write_bytes/{w=$2} END{print r, w}' "/proc/$1/io"; }

# sl_rss PID -> VmRSS in kB
sl_rss() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }

# sl_renewal_ts NAME LS -> renewal timestamps (daemon monotonic seconds)
sl_renewal_ts() { sl_client "$1" renewal -s "$2" 2>/dev/null | sed -n 's/^timestamp=\([0-9]*\).*/\1/p'; }

# sl_build_slbench [OUT]: compile the libsanlock C client.  Installs
# libsanlock-dev with apt-get if the headers are missing and
# SLB_AUTO_INSTALL=1 (default).
sl_build_slbench() {
	local out=${1:-$SLB_TMP/slbench}
	if [ ! -f /usr/include/sanlock_resource.h ]; then
		if [ "${SLB_AUTO_INSTALL:-1}" = 1 ] && command -v apt-get >/dev/null; then
			sl_log "installing libsanlock-dev (headers for the C client)"
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsanlock-dev >/dev/null 2>&1 ||
				{ apt-get update -qq >/dev/null 2>&1 &&
				  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsanlock-dev >/dev/null 2>&1; }
		fi
		[ -f /usr/include/sanlock_resource.h ] || sl_die "libsanlock-dev missing (apt-get install libsanlock-dev)"
	fi
	# -I..: bench/benchutil.h, shared with bench/smbench.c
	${CC:-cc} -O2 -Wall -Wextra -I"$SLB_LIB_DIR/.." -o "$out" "$SLB_LIB_DIR/slbench.c" -lsanlock ||
		sl_die "building slbench failed"
	SLB_SLBENCH=$out
}

# sl_cleanup: kill our clients, stop our daemons, remove the temp root.
sl_cleanup() {
	local rc=$? p h
	trap - EXIT INT TERM HUP
	for p in "${SLB_PIDS[@]}"; do sl_kill_pid "$p" 3; done
	for h in "${SLB_HOSTS[@]}"; do sl_host_stop "$h"; done
	if [ -n "$SLB_TMP" ] && [ -d "$SLB_TMP" ] && [ "${SLB_KEEP_TMP:-0}" != 1 ]; then
		rm -rf "$SLB_TMP"
	fi
	exit "$rc"
}
