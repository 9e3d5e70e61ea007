#!/usr/bin/env bash
# bench/measure.sh [IO_TIMEOUT]  (default 10)
#
# Measures sync_managerd, run as emulated hosts on this machine (one PID
# namespace per host whose init is sync_manager-hostemu, an emulated
# watchdog; see tests/system/hosts.sh), and prints one result per line on
# stdout:
#
#   ours.<metric> <value> <unit>
#
# The metric names are the ones bench/sanlock/measure.sh prints with the
# "sanlock." prefix wherever the metric is the same.  Context lines start
# with "#".  Progress goes to stderr.  See bench/README.md.
#
# Tunables (environment):
#   SMB_BUILD             build directory (default: <repo>/build)
#   SMB_METRICS           comma list of: join,idle,latency,cli,tput,rss,lib,failover_w3,failover
#                         (default: all; the two failover sections only if
#                         IO_TIMEOUT <= 2, force them with SMB_FAILOVER=1,
#                         skip them with SMB_FAILOVER=0)
#   SMB_JOIN_ITERS        join repetitions (3 if IO_TIMEOUT<=2, else 1)
#   SMB_IDLE_RENEWALS     idle window length in renewals (3), aligned to renewals
#   SMB_IDLE_CPU_S        quiet window for idle CPU and wake-ups, in seconds (30)
#   SMB_LAT_ITERS         acquire+release cycles for latency (200)
#   SMB_LAT_WARMUP        untimed warm-up cycles (10)
#   SMB_CLI_ITERS         CLI acquire+release cycles (50)
#   SMB_TPUT_LEASES       leases for the throughput runs (1000)
#   SMB_TPUT_CLIENTS      client process counts, space separated ("1 4")
#   SMB_RSS_LEASES        leases held for the RSS figure (1000)
#   SMB_MAX_HOSTS         volume max_hosts (128, the default of 'sync_manager init')
#   SMB_WATCHDOG          W of the main volume and its hosts (60 = sanlock's fixed value)
#   SMB_SHORT_WATCHDOG    W of the second failover run (3)
#   SMB_FAILOVER_POLL_MS  acquire poll period on the surviving host (100)
#   SMB_FAILOVER_TIMEOUT  give up after this many seconds (300)
#   SMB_TMPDIR            parent of the volume dir, must not be tmpfs (/var/tmp)
#   SMB_RUNDIR_PARENT     parent of the hosts' run directories (/dev/shm: tmpfs,
#                         like /run in production)
#   SMB_KEEP_TMP=1        keep the temp dirs (volumes, daemon logs) for inspection
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_SIDE=ours
# shellcheck source=common.sh
. "$HERE/common.sh"
bench_io_arg "$@"
ROOT=$(cd "$HERE/.." && pwd)
BUILD=$(cd "${SMB_BUILD:-$ROOT/build}" 2>/dev/null && pwd) || { echo "no build dir ${SMB_BUILD:-$ROOT/build} (make build)" >&2; exit 2; }
SM=$BUILD/sync_manager
SMD=$BUILD/sync_managerd
HOSTEMU=$BUILD/sync_manager-hostemu
LEASE_BENCH=$BUILD/lease_bench

JOIN_ITERS=${SMB_JOIN_ITERS:-$([ "$IO" -le 2 ] && echo 3 || echo 1)}
IDLE_RENEWALS=${SMB_IDLE_RENEWALS:-3}
LAT_ITERS=${SMB_LAT_ITERS:-200}
LAT_WARMUP=${SMB_LAT_WARMUP:-10}
CLI_ITERS=${SMB_CLI_ITERS:-50}
TPUT_LEASES=${SMB_TPUT_LEASES:-1000}
TPUT_CLIENTS=${SMB_TPUT_CLIENTS:-1 4}
RSS_LEASES=${SMB_RSS_LEASES:-1000}
MAX_HOSTS=${SMB_MAX_HOSTS:-128}
WD=${SMB_WATCHDOG:-60}
SHORT_WD=${SMB_SHORT_WATCHDOG:-3}
POLL_MS=${SMB_FAILOVER_POLL_MS:-100}
FO_TIMEOUT=${SMB_FAILOVER_TIMEOUT:-300}
METRICS=${SMB_METRICS:-join,idle,latency,cli,tput,rss,lib,failover_w3,failover}
FAILOVER_SKIPPED=0
if [ "${SMB_FAILOVER:-}" = 0 ]; then
	METRICS=${METRICS//failover_w3/}; METRICS=${METRICS//failover/}
elif [ "${SMB_FAILOVER:-}" != 1 ] && [ "$IO" -gt 2 ] && [ -z "${SMB_METRICS:-}" ]; then
	METRICS=${METRICS//failover_w3/}; METRICS=${METRICS//failover/}
	FAILOVER_SKIPPED=1
fi
want() { [[ ",$METRICS," == *",$1,"* ]]; }

LS=bench
# resource layout (names in the volume's index): r0 latency/cli, r1 failover,
# r10.. throughput and RSS (the same leases, like the sanlock side)
R_LAT=0 R_FO=1 R_BULK=10
NBULK=$TPUT_LEASES; [ "$RSS_LEASES" -gt "$NBULK" ] && NBULK=$RSS_LEASES
NRES=$((R_BULK + NBULK))
# index size: the CLI's default (1024) unless more are needed
NAREAS=$NRES; [ "$NAREAS" -lt 1024 ] && NAREAS=1024
MIB=1048576

log() { printf '[sm-bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { printf '%s\n' "${EPOCHREALTIME/,/.}"; }
ppid_of() { awk '{print $4}' "/proc/$1/stat" 2>/dev/null; }
rss_of() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
io_of() { awk '/^read_bytes/{r=$2} /^write_bytes/{w=$2} END{print r, w}' "/proc/$1/io"; }

[ "$(id -u)" = 0 ] || die "must run as root (PID namespaces)"
for b in "$SM" "$SMD" "$HOSTEMU"; do [ -x "$b" ] || die "$b missing (make build)"; done
for c in unshare nsenter gcc; do command -v "$c" >/dev/null || die "$c not found"; done

# ------------------------------------------------------------------ cleanup
TMP= RUNROOT=
HOSTS=()                 # emulated host names we started
declare -A H_UNSHARE H_INIT H_DAEMON H_DIR
PIDS=()                  # other processes we started (nsenter wrappers)
cleanup() {
	local rc=$? p h i
	trap - EXIT INT TERM HUP
	exec 7>&- 8>&- 9>&- 2>/dev/null
	# power every emulated host off (hostemu: SIGTERM to every process of
	# the namespace), then make sure the namespace is gone
	for h in "${HOSTS[@]}"; do
		p=${H_INIT[$h]:-}
		if [ -n "$p" ] && pid_alive "$p" && [ "$(ppid_of "$p")" = "${H_UNSHARE[$h]}" ]; then
			kill -TERM "$p" 2>/dev/null
		fi
	done
	for h in "${HOSTS[@]}"; do
		p=${H_UNSHARE[$h]}
		for ((i = 0; i < 100; i++)); do pid_alive "$p" || break; sleep 0.05; done
		# --kill-child: unshare's death SIGKILLs the namespace's init
		pid_alive "$p" && [ "$(ppid_of "$p")" = "$$" ] && kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		pid_alive "$p" && [ "$(ppid_of "$p")" = "$$" ] && kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "${SMB_KEEP_TMP:-0}" = 1 ]; then
		log "kept $TMP and $RUNROOT"
	else
		[ -n "$TMP" ] && [ -d "$TMP" ] && rm -rf "$TMP"
		[ -n "$RUNROOT" ] && [ -d "$RUNROOT" ] && rm -rf "$RUNROOT"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

parent=${SMB_TMPDIR:-/var/tmp}
mkdir -p "$parent"
fstype=$(stat -f -c %T "$parent")
case $fstype in tmpfs|ramfs) die "$parent is $fstype: leases need O_DIRECT, use SMB_TMPDIR=<dir on a disk>" ;; esac
TMP=$(mktemp -d "$parent/sm-bench.XXXXXX") || die "mktemp failed"
RUNROOT=$(mktemp -d "${SMB_RUNDIR_PARENT:-/dev/shm}/sm-bench.XXXXXX") || die "mktemp (run dirs) failed"
log "volumes in $TMP ($fstype), run directories in $RUNROOT ($(stat -f -c %T "$RUNROOT"))"

# ------------------------------------------------------------------ emulated hosts
# h_start NAME W: sync_managerd in its own PID namespace under hostemu
# (emulated watchdog, timeout W).  Must run in the main shell.
h_start() {
	local n=$1 w=$2 dir i
	dir=$RUNROOT/$n
	mkdir -p "$dir"
	{
		echo "watchdog = emulated"
		echo "watchdog_timeout = $w"
		echo "host_name = bench-$n"
		echo "log_level = info"
	} >"$dir/conf"
	SYNC_MANAGER_RUN_DIR=$dir SYNC_MANAGERD_CONFIG=$dir/conf SYNC_MANAGER_HOST_NAME=bench-$n \
		unshare --pid --fork --kill-child --mount-proc -- \
		"$HOSTEMU" --run-dir "$dir" --name "bench-$n" -- "$SMD" -D </dev/null >>"$dir/daemon.log" 2>&1 &
	H_UNSHARE[$n]=$!
	H_DIR[$n]=$dir
	HOSTS+=("$n")
	for ((i = 0; i < 200; i++)); do
		[ -S "$dir/sync_managerd.sock" ] && break
		pid_alive "${H_UNSHARE[$n]}" || break
		sleep 0.05
	done
	H_INIT[$n]=$(cat "/proc/${H_UNSHARE[$n]}/task/${H_UNSHARE[$n]}/children" 2>/dev/null | awk '{print $1}')
	H_DAEMON[$n]=$(cat "/proc/${H_INIT[$n]:-0}/task/${H_INIT[$n]:-0}/children" 2>/dev/null | awk '{print $1}')
	if [ ! -S "$dir/sync_managerd.sock" ] || [ -z "${H_INIT[$n]}" ] || [ -z "${H_DAEMON[$n]}" ]; then
		tail -5 "$dir/daemon.log" >&2
		die "host $n did not start"
	fi
	log "host $n: sync_managerd pid ${H_DAEMON[$n]} (hostemu ${H_INIT[$n]}, W $w s), run dir $dir"
}
# h_stop NAME: power the emulated host off (hostemu sends SIGTERM to every
# process of the namespace and exits)
h_stop() {
	local n=$1 p i
	p=${H_INIT[$n]:-}
	if [ -n "$p" ] && pid_alive "$p" && [ "$(ppid_of "$p")" = "${H_UNSHARE[$n]}" ]; then
		kill -TERM "$p" 2>/dev/null
	fi
	for ((i = 0; i < 200; i++)); do pid_alive "${H_UNSHARE[$n]}" || break; sleep 0.05; done
	wait "${H_UNSHARE[$n]}" 2>/dev/null
	return 0
}
# hx NAME CMD...: run CMD inside host NAME (PID and mount namespace)
hx() { local n=$1; shift; nsenter --target "${H_INIT[$n]}" --pid --mount -- env SYNC_MANAGER_RUN_DIR="${H_DIR[$n]}" "$@"; }
# hsm NAME ARGS...: the CLI against host NAME's daemon, from outside its
# namespaces (as root it may act for any pid of that host), like
# 'sanlock client' with SANLOCK_RUN_DIR on the sanlock side
hsm() { local n=$1; shift; SYNC_MANAGER_RUN_DIR="${H_DIR[$n]}" "$SM" "$@"; }
# hb NAME ARGS...: smbench in host NAME's PID namespace only: its /proc is
# the outer one, so the daemon pid/tids given with -p/-x are outer pids.
hb() { local n=$1; shift; nsenter --target "${H_INIT[$n]}" --pid -- env SYNC_MANAGER_RUN_DIR="${H_DIR[$n]}" "$SMBENCH" "$@"; }
# h_join NAME VOLUME HOST_ID: join and wait (CLI)
h_join() { hsm "$1" join "$2" --host-id "$3" >/dev/null 2>"$RUNROOT/$1.join.err" || { cat "$RUNROOT/$1.join.err" >&2; return 1; }; }
# h_wait_left NAME LS: until the lockspace is no longer listed (leave is asynchronous)
h_wait_left() {
	local i
	for ((i = 0; i < 600; i++)); do
		hsm "$1" status --json 2>/dev/null | grep -q "\"name\": *\"$2\"" || return 0
		sleep 0.01
	done
	return 1
}

# format VOLUME LOCKSPACE NRES W [RESOURCE_COUNT]: a volume file filled with
# real zeros first (written extents: later O_DIRECT writes are overwrites,
# as on the sanlock side), then formatted with named resources r0..r<NRES-1>.
format_volume() {
	local vol=$1 ls=$2 nres=$3 w=$4 areas=${5:-$3} size i args=()
	"$SM" init "$vol.probe" --lockspace "$ls" --max-hosts "$MAX_HOSTS" --resources "$areas" \
		--io-timeout "$IO" --watchdog-timeout "$w" >/dev/null || die "sync_manager init failed"
	size=$(stat -c %s "$vol.probe"); rm -f "$vol.probe"
	dd if=/dev/zero of="$vol" bs=1M count=$(((size + MIB - 1) / MIB)) conv=fsync status=none || die "dd failed"
	for ((i = 0; i < nres; i++)); do args+=(--resource "r$i"); done
	"$SM" init "$vol" --lockspace "$ls" --max-hosts "$MAX_HOSTS" --resources "$areas" \
		--io-timeout "$IO" --watchdog-timeout "$w" "${args[@]}" >/dev/null || die "sync_manager init failed"
}

# Holders: smbench hold with stdin from a FIFO whose write end we keep open
# on fd 7; closing fd 7 makes the holder release everything and exit.
start_hold() {   # HOST N FIRST OUT -> HOLD_PID (outer pid of the nsenter wrapper), HOLD_NSPID
	local host=$1 n=$2 first=$3 out=$4
	rm -f "$TMP/holdfifo"; mkfifo "$TMP/holdfifo"
	hb "$host" hold -l "$LS" -n "$n" -i "$first" <"$TMP/holdfifo" >"$out" 2>"$out.err" &
	HOLD_PID=$!
	PIDS+=("$HOLD_PID")
	exec 7>"$TMP/holdfifo"
	wait_for_line "$out" '^HELD' 300 "$HOLD_PID" || { cat "$out.err" >&2; die "holder failed"; }
	HOLD_NSPID=$(awk '/^HELD/ { print $5 }' "$out")
}
stop_hold() { exec 7>&-; wait "$HOLD_PID" 2>/dev/null; rm -f "$TMP/holdfifo"; }

thread_rb() { awk '/^read_bytes/ { print $2 }' "/proc/$1/task/$2/io" 2>/dev/null; }
# wait_thread_read PID TID BASE TIMEOUT_S: until the thread's read_bytes moves past BASE; prints the new value
wait_thread_read() {
	local i v
	for ((i = 0; i < $4 * 50; i++)); do
		v=$(thread_rb "$1" "$2")
		[ -n "$v" ] && [ "$v" != "$3" ] && { echo "$v"; return 0; }
		sleep 0.02
	done
	return 1
}

# ------------------------------------------------------------------ start
T_START=$(now)
SMBENCH=$TMP/smbench
${CC:-gcc} -O2 -std=gnu11 -Wall -Wextra -I"$ROOT/include" -I"$ROOT/src" -o "$SMBENCH" "$HERE/smbench.c" \
	"$BUILD/libsync_manager_client.a" "$BUILD/libsm_core.a" -laio -lpthread || die "building smbench failed"
DISKCEILING=$TMP/diskceiling
${CC:-gcc} -O2 -std=gnu11 -Wall -Wextra -o "$DISKCEILING" "$HERE/diskceiling.c" -lpthread ||
	die "building diskceiling failed"

echo "# sync_manager $("$SM" --help 2>&1 | sed -n 's/.*(version \(.*\)).*/\1/p') ($BUILD), kernel $(uname -r), $(nproc) cpus"
echo "# volumes on $fstype ($TMP), run dirs on $(stat -f -c %T "$RUNROOT"), io_timeout $IO s, W $WD s, max_hosts $MAX_HOSTS, metrics: $METRICS"
emit io_timeout "$IO" s
emit watchdog_timeout "$WD" s

VOL=$TMP/vol
log "formatting $VOL: lockspace $LS, $NAREAS areas, resources r0..r$((NRES - 1)), d=$IO W=$WD"
format_volume "$VOL" "$LS" "$NRES" "$WD" "$NAREAS"
echo "# volume $(stat -c %s "$VOL") bytes: $NAREAS resource areas of $((512 * (2 + MAX_HOSTS))) bytes (2 + max_hosts sectors)"

# Raw storage baseline on the same file system (as on the sanlock side),
# plus our read shape: one resource area (2 + max_hosts sectors).
dd_probe "$TMP/ddprobe"
us_w=$(dd_write512_us "$TMP/ddprobe" direct,dsync)
# for comparison: the same write without O_DSYNC (both sides write with it)
us_wn=$(dd_write512_us "$TMP/ddprobe" direct)
us_r=$(dd_read_direct_us "$TMP/ddprobe" 1M 64)
area=$((512 * (2 + MAX_HOSTS)))
us_a=$(dd_read_direct_us "$TMP/ddprobe" "$area" $((64 * MIB / area)))
# The ceiling for releases: one 512 B read + one O_DSYNC 512 B write each
# (sanlock's release), with 1 stream and with 4 (the daemon's default number
# of disk workers); and one read + two O_DSYNC writes (ours: the release
# marker, then the leader).
for c in $TPUT_CLIENTS; do
	emit "disk_release_ceiling_c${c}_rate" \
		"$("$DISKCEILING" "$TMP/ddprobe" "$c" 1000 | awk '/^pairs_per_second/ { print $2 }')" pairs/s
	emit "disk_release_marker_ceiling_c${c}_rate" \
		"$("$DISKCEILING" "$TMP/ddprobe" "$c" 1000 2 | awk '/^pairs_per_second/ { print $2 }')" ops/s
done
rm -f "$TMP/ddprobe"
emit disk_write512_dsync_latency "$us_w" us
emit disk_write512_direct_latency "$us_wn" us
wc_dev=$(basename "$(df --output=source "$TMP" | tail -1)")
[ -e "/sys/block/$wc_dev" ] || wc_dev=$(lsblk -no pkname "/dev/$wc_dev" 2>/dev/null | head -1)
echo "# disk $wc_dev write cache: $(cat "/sys/block/$wc_dev/queue/write_cache" 2>/dev/null || echo unknown) (a write-back cache makes O_SYNC/O_DSYNC writes flush it)"
emit disk_read1m_direct_latency "$us_r" us
emit disk_read_area_direct_latency "$us_a" us
echo "# loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on this machine adds noise)"

h_start A "$WD"
DP=${H_DAEMON[A]}
emit rss_daemon_start "$(rss_of "$DP")" kB

# ------------------------------------------------------------------ join
if want join; then
	: >"$TMP/join"; : >"$TMP/leave"
	for ((i = 1; i <= JOIN_ITERS; i++)); do
		log "join $i/$JOIN_ITERS: sync_manager join (free host_id 1)"
		t0=$(now)
		h_join A "$VOL" 1 || die "join failed"
		t1=$(now)
		calc "$t1 - $t0" >>"$TMP/join"; echo >>"$TMP/join"
		if [ "$i" -lt "$JOIN_ITERS" ]; then
			# leave returns once the slot is written free; status must
			# agree before the next join
			t0=$(now)
			hsm A leave "$LS" >/dev/null || die "leave failed"
			h_wait_left A "$LS" || die "leave did not finish"
			t1=$(now)
			calc "$t1 - $t0" >>"$TMP/leave"; echo >>"$TMP/leave"
		fi
	done
	emit_join "$TMP/join" "$TMP/leave" "$JOIN_ITERS"
else
	h_join A "$VOL" 1 || die "join failed"
fi
emit rss_daemon_lockspace "$(rss_of "$DP")" kB

# ------------------------------------------------------------------ idle I/O
# The renewal thread is the daemon thread whose read_bytes grows while
# nothing else happens (each renewal reads the lockspace's host records and
# writes this host's).  Its own /proc/<pid>/task/<tid>/io is subtracted
# from every per-operation byte count below (-x), like on the sanlock side.
# The idle window is aligned to renewals: it opens 0.2 s after one renewal's
# read was seen (its write is done by then) and closes 0.2 s after the N-th
# next one, so it holds exactly N renewals.
log "idle: finding the renewal thread"
task_io "$DP" >"$TMP/tio0"
RT= k=0
while [ -z "$RT" ] && [ "$k" -lt $(((4 * IO + 10) * 10)) ]; do
	sleep 0.1; k=$((k + 1))
	task_io "$DP" >"$TMP/tio1"
	RT=$(awk 'NR == FNR { r[$1] = $2; next } ($1 in r) && $2 > r[$1] { print $1; exit }' "$TMP/tio0" "$TMP/tio1")
done
[ -n "$RT" ] || die "no renewal I/O seen"
XOPT=(-x "$RT")
echo "# daemon threads: $(ls /proc/"$DP"/task | wc -l), lockspace renewal thread: $RT"
if want idle; then nwin=$IDLE_RENEWALS; else nwin=0; fi
if [ "$nwin" -gt 0 ]; then
	log "idle: holding the lockspace only, window of $nwin renewals"
	v=$(thread_rb "$DP" "$RT")
	v=$(wait_thread_read "$DP" "$RT" "$v" $((4 * IO + 10))) || die "no renewal"
	sleep 0.2
	read -r r0 w0 < <(io_of "$DP"); t0=$(now)
	for ((k = 0; k < nwin; k++)); do
		v=$(wait_thread_read "$DP" "$RT" "$v" $((4 * IO + 10))) || die "renewal missing"
	done
	sleep 0.2
	read -r r1 w1 < <(io_of "$DP"); t1=$(now)
	dt=$(calc "$t1 - $t0")
	emit_idle "$dt" "$nwin" "$(calc "$dt / $nwin" 2)" "$r0" "$w0" "$r1" "$w1"
	log "idle: CPU and wake-ups over ${SMB_IDLE_CPU_S:-30} s, nothing talking to the daemon"
	emit_idle_cpu "$DP" "${SMB_IDLE_CPU_S:-30}"
	# how late the renewals started (the daemon's own measure, the last 64)
	p99=$(hsm A metrics 2>/dev/null |
		awk '/^sync_manager_renewal_start_delay_seconds\{.*quantile="0.99"/ { print $2 * 1000; exit }')
	[ -n "$p99" ] && emit renewal_start_delay_p99 "$p99" ms
fi

# ------------------------------------------------------------------ latency
if want latency; then
	log "latency: $LAT_ITERS acquire+release cycles of one free lease (client library)"
	hb A latency -l "$LS" -n "$LAT_ITERS" -w "$LAT_WARMUP" -i "$R_LAT" -p "$DP" "${XOPT[@]}" \
		>"$TMP/lat" 2>"$TMP/lat.err" || { cat "$TMP/lat.err" >&2; die "latency run failed"; }
	emit_latency "$TMP/lat" "$LAT_ITERS"
fi

# ------------------------------------------------------------------ CLI latency
if want cli; then
	log "CLI latency: $CLI_ITERS x 'sync_manager acquire/release --pid PID'"
	start_hold A 0 0 "$TMP/cliholder"
	: >"$TMP/cli_a"; : >"$TMP/cli_r"; : >"$TMP/cli_c"
	for ((i = 0; i < CLI_ITERS; i++)); do
		t0=$(now)
		hsm A acquire "$LS:r$R_LAT" --pid "$HOLD_NSPID" >/dev/null 2>&1 || die "CLI acquire failed"
		t1=$(now)
		hsm A release "$LS:r$R_LAT" --pid "$HOLD_NSPID" >/dev/null 2>&1 || die "CLI release failed"
		t2=$(now)
		calc "($t1 - $t0) * 1e6" 1 >>"$TMP/cli_a"; echo >>"$TMP/cli_a"
		calc "($t2 - $t1) * 1e6" 1 >>"$TMP/cli_r"; echo >>"$TMP/cli_r"
		calc "($t2 - $t0) * 1e6" 1 >>"$TMP/cli_c"; echo >>"$TMP/cli_c"
	done
	stop_hold
	emit cli_acquire_latency_median "$(median <"$TMP/cli_a")" us
	emit cli_release_latency_median "$(median <"$TMP/cli_r")" us
	emit cli_acquire_release_latency_median "$(median <"$TMP/cli_c")" us
	# an empty CLI round trip (status: no disk I/O), the CLI's own cost
	: >"$TMP/cli_s"
	for ((i = 0; i < 20; i++)); do
		t0=$(now); hsm A status >/dev/null 2>&1; t1=$(now)
		calc "($t1 - $t0) * 1e6" 1 >>"$TMP/cli_s"; echo >>"$TMP/cli_s"
	done
	emit cli_noop_roundtrip_median "$(median <"$TMP/cli_s")" us
fi

# ------------------------------------------------------------------ throughput
# Runs before the RSS section (the sanlock side does RSS first): the
# single-client run is then the first acquire of each of these leases since
# the daemon started, so its byte counts include the daemon's name -> area
# lookup in the volume's index, as they would for a real first acquire.
if want tput; then
	for c in $TPUT_CLIENTS; do
		log "throughput: $TPUT_LEASES leases acquired then released by $c client(s)"
		hb A tput -l "$LS" -n "$TPUT_LEASES" -c "$c" -i "$R_BULK" -p "$DP" "${XOPT[@]}" \
			>"$TMP/tput$c" 2>"$TMP/tput$c.err" || { cat "$TMP/tput$c.err" >&2; die "tput run failed"; }
		emit_tput "$TMP/tput$c" "$c" "$TPUT_LEASES"
		if [ "$c" != 1 ]; then
			emit "tput_c${c}_acquire_read_bytes" "$(calc "$(tput_get "$TMP/tput$c" acquire_phase_read_bytes) / $TPUT_LEASES" 0)" B/op
			emit "tput_c${c}_release_read_bytes" "$(calc "$(tput_get "$TMP/tput$c" release_phase_read_bytes) / $TPUT_LEASES" 0)" B/op
		fi
	done
fi

# ------------------------------------------------------------------ RSS
if want rss; then
	log "RSS: one client holds $RSS_LEASES leases"
	rss0=$(rss_of "$DP")
	start_hold A "$RSS_LEASES" "$R_BULK" "$TMP/rssholder"
	sleep 1
	rss1=$(rss_of "$DP")
	emit_rss "$DP" "$rss0" "$rss1" "$RSS_LEASES"
	emit state_file_with_leases "$(stat -c %s "${H_DIR[A]}/state" 2>/dev/null || echo 0)" B
	emit hold_acquire_time "$(awk '/^HELD/ { print $3 }' "$TMP/rssholder")" s
	stop_hold
	emit release_all_time "$(awk '/^RELEASED/ { print $3 }' "$TMP/rssholder")" s
fi

# ------------------------------------------------------------------ library level
# build/lease_bench: the lease library alone (no daemon, no IPC), on its own
# volume on the same file system.  Cross-check for the byte counts and the
# floor for the latencies; also the format of a 2000-resource volume (time,
# I/Os, disk-layer syscalls, bytes) and name lookups in its full index
# (lib_format_*, lib_lookup_*).  Every "ours.X.Y" line becomes ours.lib_X_Y.
if want lib; then
	if [ -x "$LEASE_BENCH" ]; then
		log "library level: lease_bench --io-timeout $IO"
		mkdir -p "$TMP/lib"
		"$LEASE_BENCH" "$TMP/lib" --io-timeout "$IO" --max-hosts "$MAX_HOSTS" >"$TMP/lib.out" 2>"$TMP/lib.err" ||
			{ cat "$TMP/lib.err" >&2; die "lease_bench failed"; }
		grep '^ours\.' "$TMP/lib.out" | awk '{ m = $1; sub(/^ours\./, "", m); gsub(/\./, "_", m); printf "ours.lib_%s %s %s\n", m, $2, $3 }'
		grep -v '^ours\.' "$TMP/lib.out" | sed 's/^/# lease_bench: /'
		# what the daemon adds on top of the library (IPC, queueing to a
		# worker and back, bookkeeping, state file)
		libv() { awk -v k="$1" '$1 == k { print $2 }' "$TMP/lib.out"; }
		if [ -s "$TMP/lat" ]; then
			la=$(libv ours.acquire_ex_free.latency_median) lr=$(libv ours.release_ex.latency_median)
			da=$(awk '$1 == "acquire_latency_median" { print $2 }' "$TMP/lat")
			dr=$(awk '$1 == "release_latency_median" { print $2 }' "$TMP/lat")
			[ -n "$la" ] && [ -n "$da" ] && emit acquire_daemon_overhead_median "$(calc "$da - $la" 1)" us
			[ -n "$lr" ] && [ -n "$dr" ] && emit release_daemon_overhead_median "$(calc "$dr - $lr" 1)" us
		fi
		rm -rf "$TMP/lib"
	else
		echo "# $LEASE_BENCH not built: library-level cross-check skipped"
	fi
	echo "# index lookup: a daemon worker that has not resolved a name yet reads the volume's whole index ($NAREAS entries x 128 B = $((NAREAS * 128)) B)"
fi

# ------------------------------------------------------------------ failover
# failover_run TAG OWNER SURVIVOR LS IDX W: OWNER holds LS:r<IDX> through
# 'sync_manager run'; SURVIVOR has watched OWNER renew for 4d+1 s; OWNER's
# sync_managerd is killed with SIGKILL and SURVIVOR polls sm_acquire every
# POLL_MS.  Also records when OWNER's emulated watchdog reset it (its PID
# namespace is gone).
failover_run() {
	local tag=$1 owner=$2 surv=$3 ls=$4 idx=$5 w=$6 i holder rc t_kill t_reset=-1 fopid
	log "failover ($tag): host $owner holds $ls:r$idx, host $surv takes it over after kill -9 of $owner's sync_managerd (H = $((8 * IO + w)) s)"
	hx "$owner" "$SM" run -l "$ls:r$idx" --name fo-holder -- sleep 100000 >"$TMP/$tag.holder" 2>&1 </dev/null &
	holder=$!
	PIDS+=("$holder")
	wait_for_line "$TMP/$tag.holder" acquired 10 "$holder" || { cat "$TMP/$tag.holder" >&2; die "holder on $owner did not get $ls:r$idx"; }
	# let the survivor observe the owner's delta lease being renewed
	sleep $((4 * IO + 1))
	rm -f "$TMP/fofifo"; mkfifo "$TMP/fofifo"
	hb "$surv" failover -l "$ls" -i "$idx" -O 1 -P "$POLL_MS" -t "$FO_TIMEOUT" \
		<"$TMP/fofifo" >"$TMP/$tag.out" 2>"$TMP/$tag.err" &
	fopid=$!
	PIDS+=("$fopid")
	exec 8>"$TMP/fofifo"
	wait_for_line "$TMP/$tag.out" READY 10 "$fopid" || { cat "$TMP/$tag.err" >&2; die "failover client did not start"; }
	[ "$(ppid_of "${H_DAEMON[$owner]}")" = "${H_INIT[$owner]}" ] || die "host $owner's sync_managerd is gone before the kill"
	t_kill=$(now)
	kill -KILL "${H_DAEMON[$owner]}"
	echo go >&8
	exec 8>&-
	while pid_alive "$fopid"; do
		if [ "$t_reset" = -1 ] && ! pid_alive "${H_UNSHARE[$owner]}"; then t_reset=$(calc "$(now) - $t_kill"); fi
		sleep 0.05
	done
	wait "$fopid"; rc=$?
	for ((i = 0; i < 20 * (w + 5); i++)); do
		[ "$t_reset" = -1 ] || break
		pid_alive "${H_UNSHARE[$owner]}" || t_reset=$(calc "$(now) - $t_kill")
		sleep 0.05
	done
	sed 's/^/# failover: /' "$TMP/$tag.err"
	grep -v READY "$TMP/$tag.out" | awk -v t="$tag" 'NF == 3 { sub(/^failover/, t, $1); printf "ours.%s %s %s\n", $1, $2, $3 }'
	emit "${tag}_owner_host_reset" "$t_reset" s
	emit "${tag}_host_dead_seconds_formula" "$((8 * IO + w))" s
	echo "# failover ($tag): H = F + W = 8*io_timeout + W = $((8 * IO)) + $w; the owner's emulated watchdog (W = $w s) reset it $t_reset s after the kill"
	[ "$rc" = 0 ] || log "failover ($tag): host $surv did not get the lease within $FO_TIMEOUT s"
	wait "${H_UNSHARE[$owner]}" 2>/dev/null
	wait "$holder" 2>/dev/null
	rm -f "$TMP/fofifo"
	return 0
}

if want failover_w3; then
	# the same failover with a watchdog that fires after SHORT_WD seconds:
	# its own volume (W is stored in the volume header) and two more hosts
	VOL3=$TMP/vol_w$SHORT_WD
	format_volume "$VOL3" fo 2 "$SHORT_WD" 16
	h_start C "$SHORT_WD"
	h_start D "$SHORT_WD"
	h_join C "$VOL3" 1 & j1=$!
	h_join D "$VOL3" 2 & j2=$!
	wait "$j1" || die "join on C failed"
	wait "$j2" || die "join on D failed"
	failover_run failover_w$SHORT_WD C D fo 1 "$SHORT_WD"
	h_stop D
fi

if want failover; then
	h_start B "$WD"
	t0=$(now)
	h_join B "$VOL" 2 || die "join on B failed"
	emit join_time_second_host "$(calc "$(now) - $t0")" s
	failover_run failover A B "$LS" "$R_FO" "$WD"
	# keep the sanlock side's names for the main run
	emit host_dead_seconds_formula "$((8 * IO + WD))" s
elif [ "$FAILOVER_SKIPPED" = 1 ]; then
	echo "# failover skipped at io_timeout $IO (takes > 8*io_timeout+$WD s); run with SMB_FAILOVER=1 to force"
fi

echo "# loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
emit measure_runtime "$(calc "$(now) - $T_START" 1)" s
