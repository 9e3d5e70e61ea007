#!/usr/bin/env bash
# bench/scale_run.sh SIDE MODE ARGS...  - one measurement of bench/scale.sh
#
#   scale_run.sh ours|sanlock hosts N MAX_HOSTS [KEY]
#       N emulated hosts (one daemon each, host_ids 1..N) join one lockspace
#       on one volume formatted for MAX_HOSTS slots (sanlock: always its fixed
#       2000-slot, 1 MiB lockspace area), all at once; then a window of
#       SCALE_WINDOW_RENEWALS renewal intervals in which nothing else happens.
#   scale_run.sh ours|sanlock lockspaces L [KEY]
#       one emulated host joins L lockspaces (one small volume each on our
#       side, L lockspace areas of one lease file on sanlock's), all at once;
#       then the same window.
#
# Prints "SIDE.KEY_metric value unit" lines on stdout (KEY: h<N>m<MAX_HOSTS>
# or ls<L> by default), context lines starting with "#", progress on stderr.
# Everything it starts (PID namespaces, daemons, CLI processes) is stopped by
# its EXIT trap, always by recorded pid.  See bench/README.md, "make bench-scale".
#
# Environment: SCALE_BUILD (build dir), SCALE_IO (io_timeout d, 10),
# SCALE_WATCHDOG (W, 60), SCALE_WINDOW_RENEWALS (2), SCALE_HOSTS_CMD_ITERS (10),
# SCALE_TMPDIR (volumes, not tmpfs: /var/tmp), SCALE_RUNDIR_PARENT (/dev/shm).
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SIDE=${1:?usage: scale_run.sh ours|sanlock hosts N MAX_HOSTS | lockspaces L}
MODE=${2:?mode: hosts or lockspaces}
# shellcheck disable=SC2034 # read by common.sh's emit
BENCH_SIDE=$SIDE
# shellcheck source=common.sh
. "$HERE/common.sh"
IO=${SCALE_IO:-10}
WD=${SCALE_WATCHDOG:-60}
WIN_RENEWALS=${SCALE_WINDOW_RENEWALS:-2}
HOSTS_ITERS=${SCALE_HOSTS_CMD_ITERS:-10}
R=$((2 * IO))            # renewal interval, both sides (sanlock: 2 * io_timeout)
case $MODE in
hosts) N=${3:?N}; MAXH=${4:?MAX_HOSTS}; KEY=${5:-h${N}m$MAXH}; NLS=1 ;;
lockspaces) N=1; NLS=${3:?L}; MAXH=16; KEY=${4:-ls$NLS} ;;
*) echo "scale_run.sh: unknown mode $MODE" >&2; exit 2 ;;
esac
case $SIDE in ours|sanlock) ;; *) echo "scale_run.sh: unknown side $SIDE" >&2; exit 2 ;; esac

log() { printf '[scale %s %s %(%H:%M:%S)T] %s\n' "$SIDE" "$KEY" -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { printf '%s\n' "${EPOCHREALTIME/,/.}"; }
m() { emit "${KEY}_$1" "$2" "$3"; }
ppid_of() { awk '{print $4}' "/proc/$1/stat" 2>/dev/null; }
rss_of() { awk '/^VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null; }
threads_of() { awk '/^Threads/{print $2}' "/proc/$1/status" 2>/dev/null; }
rbytes_of() { awk '/^read_bytes/{r=$2} /^write_bytes/{w=$2} END{print r + 0, w + 0}' "/proc/$1/io" 2>/dev/null; }
# cpu_ns PID: CPU time of every thread of PID, ns (schedstat: exact, not ticks)
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
# pct FILE P: the P-th percentile (nearest rank) of the numbers in FILE
pct() { sort -g "$1" | awk -v p="$2" '{ v[NR] = $1 } END { if (!NR) { print "nan"; exit } i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; print v[i] }'; }
mean() { awk '{ s += $1; n++ } END { if (n) printf "%.3f\n", s / n; else print "nan" }' "$1"; }

[ "$(id -u)" = 0 ] || die "must run as root (PID namespaces, mounts)"
for c in unshare nsenter timeout jq; do command -v "$c" >/dev/null || die "$c not found (scripts/deps bench)"; done
parent=${SCALE_TMPDIR:-/var/tmp}
case $(stat -f -c %T "$parent") in tmpfs|ramfs) die "$parent is tmpfs: leases need O_DIRECT (SCALE_TMPDIR)" ;; esac

# ------------------------------------------------------------------ our side
TMP='' RUNROOT=''
declare -a O_UNSHARE=() O_INIT=() O_DAEMON=() O_DIR=()
if [ "$SIDE" = ours ]; then
	ROOT=$(cd "$HERE/.." && pwd)
	BUILD=$(cd "${SCALE_BUILD:-$ROOT/build}" 2>/dev/null && pwd) || die "no build dir (make build)"
	SM=$BUILD/sync_manager SMD=$BUILD/sync_managerd HOSTEMU=$BUILD/sync_manager-hostemu
	for b in "$SM" "$SMD" "$HOSTEMU"; do [ -x "$b" ] || die "$b missing (make build)"; done
	cleanup_ours() {
		local rc=$? i p k
		trap - EXIT INT TERM HUP
		# power every host off at once (hostemu: SIGTERM to its namespace)
		for i in "${!O_INIT[@]}"; do
			p=${O_INIT[$i]}
			[ -n "$p" ] && pid_alive "$p" && [ "$(ppid_of "$p")" = "${O_UNSHARE[$i]}" ] && kill -TERM "$p" 2>/dev/null
		done
		for i in "${!O_UNSHARE[@]}"; do
			p=${O_UNSHARE[$i]}
			for ((k = 0; k < 100; k++)); do pid_alive "$p" || break; sleep 0.05; done
			# --kill-child: unshare's death SIGKILLs the namespace
			pid_alive "$p" && [ "$(ppid_of "$p")" = "$$" ] && kill -KILL "$p" 2>/dev/null
			wait "$p" 2>/dev/null
		done
		if [ "${SCALE_KEEP_TMP:-0}" = 1 ]; then log "kept $TMP and $RUNROOT"; else
			[ -n "$TMP" ] && rm -rf "$TMP"; [ -n "$RUNROOT" ] && rm -rf "$RUNROOT"; fi
		exit "$rc"
	}
	trap cleanup_ours EXIT
	trap 'log "interrupted"; exit 130' INT TERM HUP
	TMP=$(mktemp -d "$parent/sm-scale.XXXXXX") || die "mktemp failed"
	RUNROOT=$(mktemp -d "${SCALE_RUNDIR_PARENT:-/dev/shm}/sm-scale.XXXXXX") || die "mktemp failed"
fi

# o_start I: host I's namespace (hostemu + sync_managerd -D), not waited for
o_start() {
	local i=$1 dir=$RUNROOT/h$1
	mkdir -p "$dir"
	printf 'watchdog = emulated\nwatchdog_timeout = %s\nhost_name = scale-%s\nlog_level = info\n' "$WD" "$i" >"$dir/conf"
	SYNC_MANAGER_RUN_DIR=$dir SYNC_MANAGERD_CONFIG=$dir/conf \
		unshare --pid --fork --kill-child --mount-proc -- \
		"$HOSTEMU" --run-dir "$dir" --name "scale-$i" -- "$SMD" -D </dev/null >>"$dir/daemon.log" 2>&1 &
	O_UNSHARE[$i]=$!
	O_DIR[$i]=$dir
}
# o_wait_started I: until host I's socket exists; records its hostemu and daemon pids
o_wait_started() {
	local i=$1 k u=${O_UNSHARE[$1]}
	for ((k = 0; k < 600; k++)); do
		[ -S "${O_DIR[$i]}/sync_managerd.sock" ] && break
		pid_alive "$u" || break
		sleep 0.05
	done
	O_INIT[$i]=$(awk '{print $1}' "/proc/$u/task/$u/children" 2>/dev/null)
	O_DAEMON[$i]=$(awk '{print $1}' "/proc/${O_INIT[$i]:-0}/task/${O_INIT[$i]:-0}/children" 2>/dev/null)
	[ -S "${O_DIR[$i]}/sync_managerd.sock" ] && [ -n "${O_INIT[$i]}" ] && [ -n "${O_DAEMON[$i]}" ]
}
osm() { local i=$1; shift; SYNC_MANAGER_RUN_DIR="${O_DIR[$i]}" timeout --foreground "${OSM_TIMEOUT:-120}" "$SM" "$@"; }
# o_format VOL LS MAX_HOSTS: zeros first (allocated extents, as in measure.sh), then init
o_format() {
	local size
	timeout --foreground 120 "$SM" init "$1.probe" --lockspace "$2" --max-hosts "$3" --resources 1 --io-timeout "$IO" \
		--watchdog-timeout "$WD" >/dev/null || die "sync_manager init failed"
	size=$(stat -c %s "$1.probe"); rm -f "$1.probe"
	dd if=/dev/zero of="$1" bs=1M count=$(((size + 1048575) / 1048576)) conv=fsync status=none || die "dd failed"
	timeout --foreground 120 "$SM" init "$1" --lockspace "$2" --max-hosts "$3" --resources 1 --io-timeout "$IO" \
		--watchdog-timeout "$WD" >/dev/null || die "sync_manager init failed"
}
# o_renewals I LS -> "start_ms_ago duration_ms result" lines, oldest first
o_renewals() { osm "$1" renewals "$2" --json 2>/dev/null | jq -r '.. | objects | select(has("age_ms")) | "\(.age_ms) \(.duration_ms) \(.result)"'; }
# o_counts I -> total renewals and renewal failures over host I's lockspaces
o_counts() { osm "$1" status --json 2>/dev/null | jq -r '[.. | objects | select(has("renewal_failures"))] | "\(map(.renewals) | add // 0) \(map(.renewal_failures) | add // 0)"'; }

# ------------------------------------------------------------------ sanlock's side
if [ "$SIDE" = sanlock ]; then
	export SLB_TMPDIR=$parent
	# shellcheck source=sanlock/lib.sh
	. "$HERE/sanlock/lib.sh"
	sl_setup   # temp root + its EXIT trap (sl_cleanup), wrapped below
	scale_sl_cleanup() {
		local rc=$? h
		# stop the daemons in parallel (sl_cleanup would do it one by one)
		# ask every daemon to shut down at once (sl_cleanup would wait for
		# them one by one), then let sl_cleanup stop what is left by pid; no
		# subshells run then, so a recycled pid cannot be one of ours
		local sp=() p
		for h in "${SLB_HOSTS[@]}"; do
			sl_env "$h" timeout --foreground 30 sanlock client shutdown -f 1 -w 1 >/dev/null 2>&1 </dev/null &
			sp+=($!)
		done
		for p in "${sp[@]}"; do wait "$p"; done
		(exit "$rc"); sl_cleanup
	}
	trap scale_sl_cleanup EXIT
	TMP=$SLB_TMP
fi
# s_pid I: host I's sanlock daemon
s_pid() { sl_host_pid "h$1"; }
s_ls_off() { echo $((($1 - 1) * 1048576)); }
# s_renewal_ts I LS -> timestamps (s) of host I's renewals, oldest first
s_renewal_ts() { sl_env "h$1" timeout --foreground 60 sanlock client renewal -s "$2" 2>/dev/null | sed -n 's/^timestamp=\([0-9]*\).*/\1/p'; }
s_renewal_bad() { sl_env "h$1" timeout --foreground 60 sanlock client renewal -s "$2" 2>/dev/null | awk -F'[ =]' '/^timestamp=/ { for (i = 1; i < NF; i++) if (($i == "next_timeouts" || $i == "next_errors") && $(i + 1) > 0) bad++ } END { print bad + 0 }'; }

# ------------------------------------------------------------------ hosts
daemon_pid() { if [ "$SIDE" = ours ]; then echo "${O_DAEMON[$1]}"; else s_pid "$1"; fi; }
memfree_mb() { awk '/^MemAvailable/ { print int($2 / 1024) }' /proc/meminfo; }

T0=$(now)
echo "# scale_run $SIDE $MODE: key $KEY, hosts $N, lockspaces $NLS, max_hosts $MAXH, io_timeout $IO s, R $R s, loadavg $(cut -d' ' -f1-3 /proc/loadavg), MemAvailable $(memfree_mb) MiB"
m hosts "$N" count
m lockspaces "$NLS" count
m max_hosts "$MAXH" slots

# volumes and lockspace names: LSN[k], VOLSPEC[k] for k = 1..NLS
declare -a LSN=() VOL=()
if [ "$SIDE" = ours ]; then
	for ((k = 1; k <= NLS; k++)); do
		LSN[k]=$([ "$MODE" = hosts ] && echo scale || echo "ls$k")
		VOL[k]=$TMP/vol$k
		o_format "${VOL[k]}" "${LSN[k]}" "$MAXH"
	done
else
	LEASES=$SLB_TMP/leases
	dd if=/dev/zero of="$LEASES" bs=1M count="$NLS" conv=fsync status=none || die "dd failed"
	for ((k = 1; k <= NLS; k++)); do
		LSN[k]=$([ "$MODE" = hosts ] && echo scale || echo "ls$k")
		timeout --foreground 60 sanlock direct init -s "${LSN[k]}:0:$LEASES:$(s_ls_off "$k")" -o "$IO" -Z 512 -A 1M >/dev/null ||
			die "sanlock direct init -s failed"
	done
fi

log "starting $N host(s)"
t0=$(now)
if [ "$SIDE" = ours ]; then
	for ((i = 1; i <= N; i++)); do o_start "$i"; done
	for ((i = 1; i <= N; i++)); do o_wait_started "$i" || { tail -3 "${O_DIR[$i]}/daemon.log" >&2; die "host $i did not start"; }; done
else
	# -t: one worker per lockspace joining at once (a worker waits out each join)
	extra=(); [ "$NLS" -gt 4 ] && extra=(-t $((NLS + 4)))
	for ((i = 1; i <= N; i++)); do sl_host_start "h$i" "${extra[@]}" 2>/dev/null; done
fi
m start_time "$(calc "$(now) - $t0" 1)" s
rss_idle=$(for ((i = 1; i <= N; i++)); do rss_of "$(daemon_pid "$i")"; done | awk '{ s += $1 } END { printf "%.0f", s / NR }')
m rss_before_join "$rss_idle" kB
thr_idle=$(for ((i = 1; i <= N; i++)); do threads_of "$(daemon_pid "$i")"; done | awk '{ s += $1 } END { printf "%.0f", s / NR }')
m threads_before_join "$thr_idle" count

# the daemons' threads before the joins: the threads that appear with the
# joins are the lockspaces' (renewal) threads, whose reads are the renewals'
for ((i = 1; i <= N; i++)); do ls "/proc/$(daemon_pid "$i")/task" >"$TMP/tids0.$i"; done
log "joining: $N host(s) x $NLS lockspace(s), all at once"
: >"$TMP/joins"
jp=()
t0=$(now)
for ((i = 1; i <= N; i++)); do
	for ((k = 1; k <= NLS; k++)); do
		(
			s=$(now)
			if [ "$SIDE" = ours ]; then
				OSM_TIMEOUT=600 osm "$i" join "${VOL[k]}" --host-id "$i" >/dev/null 2>"$TMP/join.$i.$k.err"
			else
				sl_env "h$i" timeout --foreground 600 sanlock client add_lockspace -s "${LSN[k]}:$i:$LEASES:$(s_ls_off "$k")" -o "$IO" >/dev/null 2>"$TMP/join.$i.$k.err"
			fi
			echo "$i $k $? $(calc "$(now) - $s")" >>"$TMP/joins"
		) &
		jp+=($!)
	done
done
for p in "${jp[@]}"; do wait "$p"; done
m join_all_time "$(calc "$(now) - $t0" 1)" s
awk '$3 == 0 { print $4 }' "$TMP/joins" >"$TMP/join_ok"
nfail=$(awk '$3 != 0' "$TMP/joins" | wc -l)
m joins_ok "$(wc -l <"$TMP/join_ok")" count
m joins_failed "$nfail" count
m join_time_median "$(median <"$TMP/join_ok")" s
m join_time_max "$(pct "$TMP/join_ok" 100)" s
if [ "$nfail" -gt 0 ]; then
	awk '$3 != 0 { print $1, $2, $3 }' "$TMP/joins" | head -3 | while read -r i k rc; do
		echo "# join failed (exit $rc): host $i lockspace $k: $(tail -n 2 "$TMP/join.$i.$k.err" | tr '\n' ' ' | tail -c 400)"
		if [ "$SIDE" = ours ]; then
			echo "# host $i's daemon log ends: $(tail -n 3 "${O_DIR[$i]}/daemon.log" | tr '\n' ' ' | tail -c 600)"
		fi
	done
fi

# ------------------------------------------------------------------ idle window
# Every daemon's /proc/<pid>/io, CPU (all threads) and renewal count, before
# and after WIN_RENEWALS renewal intervals.  Renewal counts: ours from
# 'status --json', sanlock from the length of 'client renewal' (history 180).
count_renewals() {   # I -> "renewals failures"
	local i=$1 k n=0 b=0 c
	if [ "$SIDE" = ours ]; then o_counts "$i"; return; fi
	for ((k = 1; k <= NLS; k++)); do
		c=$(s_renewal_ts "$i" "${LSN[k]}" | wc -l); n=$((n + c))
		c=$(s_renewal_bad "$i" "${LSN[k]}"); b=$((b + c))
	done
	echo "$n $b"
}
# ls_thread_io I -> read and written bytes of host I's threads that came with the joins
ls_thread_io() {
	local p
	p=$(daemon_pid "$1")
	task_io "$p" | awk 'NR == FNR { old[$1] = 1; next } !($1 in old) { r += $2; w += $3 } END { print r + 0, w + 0 }' "$TMP/tids0.$1" -
}
snapshot() {   # FILE: "i read write cpu_ns renewals failures ls_read ls_write" per host
	local i p io lio
	for ((i = 1; i <= N; i++)); do
		p=$(daemon_pid "$i")
		# the process's and the lockspace threads' bytes together, so that
		# a renewal cannot fall between the two reads
		io=$(rbytes_of "$p"); lio=$(ls_thread_io "$i")
		echo "$i $io $(cpu_ns "$p") $(count_renewals "$i") $lio"
	done >"$1"
}
# let every host finish the joins' extra reads and do one renewal first
sleep 2
win=$((WIN_RENEWALS * R))
log "idle window: $win s ($WIN_RENEWALS renewal intervals)"
snapshot "$TMP/snap0"; ta=$(now)
sleep "$win"
snapshot "$TMP/snap1"; tb=$(now)
dt=$(calc "$tb - $ta")
m window "$dt" s
join -j1 "$TMP/snap0" "$TMP/snap1" >"$TMP/snap"
# fields: i r0 w0 c0 n0 f0 lr0 lw0 r1 w1 c1 n1 f1 lr1 lw1
read -r rd wr cpu nren nfail_w lrd lwr < <(awk '{ r += $9 - $2; w += $10 - $3; c += $11 - $4; n += $12 - $5; f += $13; lr += $14 - $7; lw += $15 - $8 } END { printf "%.0f %.0f %.0f %d %d %.0f %.0f\n", r, w, c, n, f, lr, lw }' "$TMP/snap")
m renewals_in_window "$nren" count
m renewal_failures "$nfail_w" count
if [ "$nren" -gt 0 ]; then
	# the lockspace threads' I/O per renewal (their death-check reads included)
	m renewal_read_bytes "$(calc "$lrd / $nren" 0)" B/renewal
	m renewal_write_bytes "$(calc "$lwr / $nren" 0)" B/renewal
	# everything the daemons read and wrote, per renewal
	m daemon_read_bytes_per_renewal "$(calc "$rd / $nren" 0)" B/renewal
	m daemon_write_bytes_per_renewal "$(calc "$wr / $nren" 0)" B/renewal
fi
m other_read_rate "$(calc "($rd - $lrd) / $dt" 0)" B/s
m aggregate_read_rate "$(calc "$rd / $dt" 0)" B/s
m per_host_read_rate "$(calc "$rd / $dt / $N" 0)" B/s
m aggregate_write_rate "$(calc "$wr / $dt" 0)" B/s
m cpu_per_host "$(calc "$cpu / 1e9 / $dt / $N * 100" 4)" %
m cpu_all_hosts "$(calc "$cpu / 1e9 / $dt * 100" 3)" %
if [ "$MODE" = lockspaces ]; then
	m cpu_per_lockspace "$(calc "$cpu / 1e9 / $dt / $NLS * 100" 4)" %
fi
for ((i = 1; i <= N; i++)); do rss_of "$(daemon_pid "$i")"; done >"$TMP/rss"
for ((i = 1; i <= N; i++)); do threads_of "$(daemon_pid "$i")"; done >"$TMP/thr"
m rss_per_host "$(mean "$TMP/rss")" kB
m rss_max "$(pct "$TMP/rss" 100)" kB
m threads_per_host "$(mean "$TMP/thr")" count
if [ "$MODE" = lockspaces ]; then
	m rss_per_lockspace "$(calc "($(mean "$TMP/rss") - $rss_idle) / $NLS" 1)" kB
	m threads_per_lockspace "$(calc "($(mean "$TMP/thr") - $thr_idle) / $NLS" 2)" count
fi
if [ "$SIDE" = ours ] && [ "$MODE" = hosts ]; then
	# docs/timeouts.md: S x (31 x min(N, u + 8) + N) / 32 per renewal, u = highest host_id in use
	# a window of a few renewals mostly holds the in-use reads (u + 8 slots);
	# the average over 32 renewals adds one whole-area read
	used=$((N + 8 < MAXH ? N + 8 : MAXH))
	m renewal_read_bytes_inuse_formula $((512 * used)) B/renewal
	m renewal_read_bytes_formula "$(calc "512 * (31 * $used + $MAXH) / 32" 0)" B/renewal
	m aggregate_read_rate_formula "$(calc "$N * 512 * (31 * $used + $MAXH) / 32 / $R" 0)" B/s
fi

# ------------------------------------------------------------------ renewal start delay
# ours: consecutive good renewals start R apart (next = start + R); delay =
# gap - R, ms resolution ('renewals --json', last 64).  sanlock: gaps of
# 'client renewal' timestamps (1 s resolution) - R.
: >"$TMP/delays"
for ((i = 1; i <= N; i++)); do
	for ((k = 1; k <= NLS; k++)); do
		if [ "$SIDE" = ours ]; then
			o_renewals "$i" "${LSN[k]}" | awk -v r=$((R * 1000)) '{ if (prev != "" && $3 == "ok" && pok) print prev - $1 - r; prev = $1; pok = ($3 == "ok") }'
		else
			s_renewal_ts "$i" "${LSN[k]}" | awk -v r="$R" '{ if (prev != "") print ($1 - prev - r) * 1000; prev = $1 }'
		fi
	done
done >"$TMP/delays"
m renewal_start_delays "$(wc -l <"$TMP/delays")" count
if [ -s "$TMP/delays" ]; then
	m renewal_start_delay_p50 "$(pct "$TMP/delays" 50)" ms
	m renewal_start_delay_p99 "$(pct "$TMP/delays" 99)" ms
	m renewal_start_delay_max "$(pct "$TMP/delays" 100)" ms
fi

# ------------------------------------------------------------------ hosts command
if [ "$MODE" = hosts ]; then
	: >"$TMP/hl"
	for ((j = 0; j < HOSTS_ITERS; j++)); do
		s=$(now)
		if [ "$SIDE" = ours ]; then osm 1 hosts scale >"$TMP/hosts.out" 2>&1
		else sl_env h1 timeout --foreground 60 sanlock client host_status -s scale >"$TMP/hosts.out" 2>&1; fi
		rc=$?
		e=$(now)
		[ "$rc" = 0 ] && calc "($e - $s) * 1000" 2 >>"$TMP/hl" && echo >>"$TMP/hl"
	done
	m hosts_cmd_latency_median "$(median <"$TMP/hl")" ms
	if [ "$SIDE" = ours ]; then
		m hosts_listed_live "$(grep -c -w live "$TMP/hosts.out")" count
	else
		m hosts_listed_live "$(grep -c '^[0-9]* timestamp [1-9]' "$TMP/hosts.out")" count
	fi
fi

echo "# loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg), MemAvailable $(memfree_mb) MiB"
m runtime "$(calc "$(now) - $T0" 1)" s
log "done; stopping"
