#!/usr/bin/env bash
# bench/sanlock/measure.sh [IO_TIMEOUT]  (default 10)
#
# Measures Debian's real sanlock daemon, run as emulated hosts on this
# machine (see lib.sh), and prints one result per line on stdout:
#
#   sanlock.<metric> <value> <unit>
#
# Context lines start with "#".  Progress goes to stderr.  See README.md
# for what every metric means and how it is counted.
#
# Tunables (environment):
#   SLB_METRICS           comma list of: join,idle,latency,cli,rss,tput,strace,failover
#                         (default: all; failover only if IO_TIMEOUT <= 2,
#                         force it with SLB_FAILOVER=1, skip with SLB_FAILOVER=0)
#   SLB_JOIN_ITERS        add_lockspace repetitions (3 if IO_TIMEOUT<=2, else 1)
#   SLB_IDLE_RENEWALS     idle window length in renewals (3), aligned to renewals
#   SLB_IDLE_CPU_S        quiet window for idle CPU and wake-ups, in seconds (30)
#   SLB_LAT_ITERS         acquire+release cycles for latency (200)
#   SLB_LAT_WARMUP        untimed warm-up cycles (10)
#   SLB_CLI_ITERS         CLI acquire+release cycles (50)
#   SLB_TPUT_LEASES       leases for the throughput runs (1000)
#   SLB_TPUT_CLIENTS      client process counts, space separated ("1 4")
#   SLB_STRACE_OPS        leases acquired/released under strace (20, 0 = skip)
#   SLB_RSS_LEASES        leases held for the RSS figure (1000)
#   SLB_FAILOVER_POLL_MS  acquire poll period on the surviving host (100)
#   SLB_FAILOVER_TIMEOUT  give up after this many seconds (300)
#   SLB_TMPDIR            parent of the temp root, must not be tmpfs (/var/tmp)
#   SLB_KEEP_TMP=1        keep the temp root (lease file) for inspection
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_SIDE=sanlock
# shellcheck source=../common.sh
. "$HERE/../common.sh"
bench_io_arg "$@"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

JOIN_ITERS=${SLB_JOIN_ITERS:-$([ "$IO" -le 2 ] && echo 3 || echo 1)}
IDLE_RENEWALS=${SLB_IDLE_RENEWALS:-3}
LAT_ITERS=${SLB_LAT_ITERS:-200}
LAT_WARMUP=${SLB_LAT_WARMUP:-10}
CLI_ITERS=${SLB_CLI_ITERS:-50}
TPUT_LEASES=${SLB_TPUT_LEASES:-1000}
TPUT_CLIENTS=${SLB_TPUT_CLIENTS:-1 4}
STRACE_OPS=${SLB_STRACE_OPS:-20}
RSS_LEASES=${SLB_RSS_LEASES:-1000}
POLL_MS=${SLB_FAILOVER_POLL_MS:-100}
FO_TIMEOUT=${SLB_FAILOVER_TIMEOUT:-300}
METRICS=${SLB_METRICS:-join,idle,latency,cli,rss,tput,strace,failover}
if [ "${SLB_FAILOVER:-}" = 0 ]; then
	METRICS=${METRICS//failover/}
elif [ "${SLB_FAILOVER:-}" != 1 ] && [ "$IO" -gt 2 ] && [ -z "${SLB_METRICS:-}" ]; then
	METRICS=${METRICS//failover/}
	FAILOVER_SKIPPED=1
fi
want() { [[ ",$METRICS," == *",$1,"* ]]; }

LS=SLB
# resource index layout: r0 latency/cli, r1 failover, r2.. strace, r10.. tput/rss
R_LAT=0 R_FO=1 R_STRACE=2 R_BULK=10
NBULK=$TPUT_LEASES; [ "$RSS_LEASES" -gt "$NBULK" ] && NBULK=$RSS_LEASES
[ "$STRACE_OPS" -le 8 ] || R_BULK=$((R_STRACE + STRACE_OPS))
NRES=$((R_BULK + NBULK))

# start_hold HOST N FIRST OUTFILE -> sets HOLD_PID (tracked for cleanup)
start_hold() {
	local host=$1 n=$2 first=$3 out=$4
	sl_spawn "$host" "$out" "$out.err" "$SLB_SLBENCH" hold -f "$LEASES" -s "$LS" -n "$n" -i "$first"
	HOLD_PID=$SLB_LAST_PID
	wait_for_line "$out" '^HELD' 600 "$HOLD_PID" || { cat "$out.err" >&2; sl_die "holder failed"; }
}

stop_hold() {
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# ls_tids BEFORE AFTER -> tids whose read_bytes grew by >= 1 MiB (renewal reads)
ls_tids() { awk -v m="$SLB_MIB" 'NR == FNR { r[$1] = $2; next } ($1 in r) && $2 - r[$1] >= m { print $1 }' "$1" "$2"; }

T_START=$(sl_now)
sl_setup
sl_build_slbench
LEASES=$SLB_TMP/leases

echo "# sanlock $(sanlock version 2>/dev/null) ($(dpkg-query -W -f='${Version}' sanlock 2>/dev/null || echo '?')), kernel $(uname -r), $(nproc) cpus"
echo "# lease file $LEASES on $(stat -f -c %T "$SLB_TMP"), io_timeout $IO s, metrics: $METRICS"
emit io_timeout "$IO" s

sl_log "creating lease file: lockspace + $NRES resources ($((NRES + 1)) MiB)"
sl_lease_file "$LEASES" "$NRES"
sl_init_lockspace "$LEASES" "$LS" "$IO"
sl_init_resources "$LEASES" "$LS" "$NRES"

# Raw storage baseline on the same file system: what one sanlock-sized
# I/O costs here (512 B O_DIRECT|O_DSYNC write, 1 MiB O_DIRECT read).
dd_probe "$SLB_TMP/ddprobe"
us_w=$(dd_write512_us "$SLB_TMP/ddprobe" direct,dsync)
us_r=$(dd_read_direct_us "$SLB_TMP/ddprobe" 1M 64)
rm -f "$SLB_TMP/ddprobe"
emit disk_write512_dsync_latency "$us_w" us
emit disk_read1m_direct_latency "$us_r" us
echo "# loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on this machine adds noise)"

sl_host_start A
PID_A=$SLB_LAST_PID
emit rss_daemon_start "$(sl_rss "$PID_A")" kB

# ---------------------------------------------------------------- join
if want join; then
	: >"$SLB_TMP/join" ; : >"$SLB_TMP/leave"
	for ((i = 1; i <= JOIN_ITERS; i++)); do
		sl_log "join $i/$JOIN_ITERS: add_lockspace -o $IO on free host_id 1"
		t0=$(sl_now)
		sl_add_lockspace A "$LS" 1 "$LEASES" "$IO" || sl_die "add_lockspace failed"
		t1=$(sl_now)
		calc "$t1 - $t0" >>"$SLB_TMP/join"; echo >>"$SLB_TMP/join"
		if [ "$i" -lt "$JOIN_ITERS" ]; then
			t0=$(sl_now)
			sl_rem_lockspace A "$LS" 1 "$LEASES" || sl_die "rem_lockspace failed"
			t1=$(sl_now)
			calc "$t1 - $t0" >>"$SLB_TMP/leave"; echo >>"$SLB_TMP/leave"
		fi
	done
	emit_join "$SLB_TMP/join" "$SLB_TMP/leave" "$JOIN_ITERS"
else
	sl_add_lockspace A "$LS" 1 "$LEASES" "$IO" || sl_die "add_lockspace failed"
fi
emit rss_daemon_lockspace "$(sl_rss "$PID_A")" kB

# ---------------------------------------------------------------- idle I/O
# The window is aligned to renewals: it opens right after one renewal has
# been recorded in the daemon's renewal history and closes right after the
# N-th next one, so it holds exactly N renewals' I/O.  It also identifies the
# daemon's lockspace (renewal) thread: the only thread whose read_bytes
# grows while nothing else happens.  Its I/O is excluded (-x) from the
# per-operation byte counts below.
# wait_renewal AFTER_TS -> prints the newest renewal timestamp once it is > AFTER_TS
wait_renewal() {
	local after=$1 last i
	for ((i = 0; i < (4 * IO + 10) * 10; i++)); do
		last=$(sl_renewal_ts A "$LS" | tail -1)
		if [ -n "$last" ] && [ "$last" -gt "$after" ]; then echo "$last"; return 0; fi
		sleep 0.1
	done
	return 1
}
if want idle; then nwin=$IDLE_RENEWALS; else nwin=1; fi
sl_log "idle: holding the lockspace only, window of $nwin renewal interval(s)"
ts=$(sl_renewal_ts A "$LS" | tail -1)
ts=$(wait_renewal "${ts:-0}") || sl_die "no renewal recorded"
task_io "$PID_A" >"$SLB_TMP/tio0"
read -r r0 w0 < <(sl_io "$PID_A"); t0=$(sl_now)
ts0=$ts
for ((k = 0; k < nwin; k++)); do ts=$(wait_renewal "$ts") || sl_die "renewal missing"; done
read -r r1 w1 < <(sl_io "$PID_A"); t1=$(sl_now)
task_io "$PID_A" >"$SLB_TMP/tio1"
LS_TIDS=$(ls_tids "$SLB_TMP/tio0" "$SLB_TMP/tio1")
XOPT=()
for t in $LS_TIDS; do XOPT+=(-x "$t"); done
echo "# daemon threads: $(wc -l <"$SLB_TMP/tio1"), lockspace renewal thread(s): ${LS_TIDS:-none found}"
if want idle; then
	nren=$(sl_renewal_ts A "$LS" | awk -v a="$ts0" -v b="$ts" '$1 > a && $1 <= b' | wc -l)
	dt=$(calc "$t1 - $t0")
	emit_idle "$dt" "$nren" "$(calc "($ts - $ts0) / $nren" 2)" "$r0" "$w0" "$r1" "$w1"
	sl_log "idle: CPU and wake-ups over ${SLB_IDLE_CPU_S:-30} s, nothing talking to the daemon"
	emit_idle_cpu "$PID_A" "${SLB_IDLE_CPU_S:-30}"
fi

# ---------------------------------------------------------------- latency
if want latency; then
	sl_log "latency: $LAT_ITERS acquire+release cycles of one free lease (libsanlock)"
	sl_env A "$SLB_SLBENCH" latency -f "$LEASES" -s "$LS" -n "$LAT_ITERS" -w "$LAT_WARMUP" \
		-i "$R_LAT" -p "$PID_A" "${XOPT[@]}" >"$SLB_TMP/lat" || sl_die "latency run failed"
	emit_latency "$SLB_TMP/lat" "$LAT_ITERS"
fi

# ---------------------------------------------------------------- CLI latency
if want cli; then
	sl_log "CLI latency: $CLI_ITERS x 'sanlock client acquire/release -p PID'"
	start_hold A 0 0 "$SLB_TMP/cliholder"
	res=$(sl_res_str "$LS" "$R_LAT" "$LEASES")
	: >"$SLB_TMP/cli_a"; : >"$SLB_TMP/cli_r"; : >"$SLB_TMP/cli_c"
	for ((i = 0; i < CLI_ITERS; i++)); do
		t0=$(sl_now)
		sl_client A acquire -r "$res" -p "$HOLD_PID" >/dev/null 2>&1 || sl_die "CLI acquire failed"
		t1=$(sl_now)
		sl_client A release -r "$res" -p "$HOLD_PID" >/dev/null 2>&1 || sl_die "CLI release failed"
		t2=$(sl_now)
		echo "($t1 - $t0) * 1e6" >>"$SLB_TMP/cli_a"
		echo "($t2 - $t1) * 1e6" >>"$SLB_TMP/cli_r"
		echo "($t2 - $t0) * 1e6" >>"$SLB_TMP/cli_c"
	done
	stop_hold "$HOLD_PID"
	for k in a:cli_acquire_latency_median r:cli_release_latency_median c:cli_acquire_release_latency_median; do
		emit "${k#*:}" "$(while read -r e; do calc "$e" 1; echo; done <"$SLB_TMP/cli_${k%%:*}" | median)" us
	done
	# what an empty CLI round trip costs (fork+exec+connect+reply)
	: >"$SLB_TMP/cli_s"
	for ((i = 0; i < 20; i++)); do
		t0=$(sl_now); sl_client A inq_lockspace -s "$(sl_ls_str "$LS" 1 "$LEASES")" >/dev/null 2>&1; t1=$(sl_now)
		calc "($t1 - $t0) * 1e6" 1 >>"$SLB_TMP/cli_s"; echo >>"$SLB_TMP/cli_s"
	done
	emit cli_noop_roundtrip_median "$(median <"$SLB_TMP/cli_s")" us
fi

# ---------------------------------------------------------------- RSS
if want rss; then
	sl_log "RSS: one client holds $RSS_LEASES leases"
	rss0=$(sl_rss "$PID_A")
	start_hold A "$RSS_LEASES" "$R_BULK" "$SLB_TMP/rssholder"
	sleep 1
	rss1=$(sl_rss "$PID_A")
	emit_rss "$PID_A" "$rss0" "$rss1" "$RSS_LEASES"
	stop_hold "$HOLD_PID"
fi

# ---------------------------------------------------------------- throughput
if want tput; then
	for c in $TPUT_CLIENTS; do
		sl_log "throughput: $TPUT_LEASES leases acquired then released by $c client(s)"
		sl_env A "$SLB_SLBENCH" tput -f "$LEASES" -s "$LS" -n "$TPUT_LEASES" -c "$c" -i "$R_BULK" \
			-p "$PID_A" "${XOPT[@]}" >"$SLB_TMP/tput$c" || sl_die "tput run failed"
		emit_tput "$SLB_TMP/tput$c" "$c" "$TPUT_LEASES"
	done
fi

# ---------------------------------------------------------------- strace cross-check
# Exact byte counts from the daemon's I/O syscalls, attributed by offset:
# offsets < 1 MiB are the lockspace (delta lease renewals), the rest are
# resource (paxos) leases.
strace_start() {
	strace -f -qq -s 8 -e trace=io_submit,pread64,pwrite64,preadv,pwritev,preadv2,pwritev2 \
		-o "$1" -p "$PID_A" 2>/dev/null &
	STRACE_PID=$!
	sl_track_pid "$STRACE_PID"
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(awk '/^TracerPid/ { print $2 }' "/proc/$PID_A/status")" = "$STRACE_PID" ] && break
		sleep 0.05
	done
	sleep 0.3
}
strace_stop() { sleep 0.3; kill -INT "$STRACE_PID" 2>/dev/null; wait "$STRACE_PID" 2>/dev/null; }
# strace_sum FILE -> "res_read res_write ls_read ls_write ls_writes"
strace_sum() {
	awk -v mib="$SLB_MIB" '
	function add(op, n, off) {
		if (off < mib) { if (op == "R") lr += n; else { lw += n; lwn++ } }
		else { if (op == "R") rr += n; else rw += n }
	}
	/io_submit\(/ {
		# one piece per iocb; the 8-byte aio_buf preview (-s 8) cannot
		# contain "aio_nbytes=", so the fields are unambiguous
		k = split($0, piece, "aio_lio_opcode=")
		for (j = 2; j <= k; j++) {
			m = piece[j]
			op = (m ~ /^IOCB_CMD_PREAD/) ? "R" : (m ~ /^IOCB_CMD_PWRITE/) ? "W" : ""
			if (op == "" || !match(m, /aio_nbytes=[0-9]+, aio_offset=[0-9]+/)) continue
			m = substr(m, RSTART, RLENGTH)
			match(m, /aio_nbytes=[0-9]+/); n = substr(m, RSTART + 11, RLENGTH - 11)
			match(m, /aio_offset=[0-9]+/); off = substr(m, RSTART + 11, RLENGTH - 11)
			add(op, n + 0, off + 0)
		}
		next
	}
	/ (pread64|pwrite64)\(/ && !/unfinished/ {
		op = ($0 ~ /pread64/) ? "R" : "W"
		if (match($0, /, [0-9]+, [0-9]+\)/)) {
			split(substr($0, RSTART + 2, RLENGTH - 3), a, ", "); add(op, a[1] + 0, a[2] + 0)
		}
	}
	END { printf "%d %d %d %d %d\n", rr, rw, lr, lw, lwn }' "$1"
}
if want strace && [ "$STRACE_OPS" -gt 0 ]; then
	if command -v strace >/dev/null; then
		sl_log "strace cross-check: $STRACE_OPS acquires then releases, plus $((2 * IO + 1)) s idle"
		strace_start "$SLB_TMP/st_acq"
		start_hold A "$STRACE_OPS" "$R_STRACE" "$SLB_TMP/st_holder"
		strace_stop
		strace_start "$SLB_TMP/st_rel"
		stop_hold "$HOLD_PID"
		strace_stop
		strace_start "$SLB_TMP/st_idle"
		sleep $((2 * IO + 1))
		strace_stop
		read -r ar aw _ _ _ < <(strace_sum "$SLB_TMP/st_acq")
		read -r rr rw _ _ _ < <(strace_sum "$SLB_TMP/st_rel")
		read -r _ _ lr lw lwn < <(strace_sum "$SLB_TMP/st_idle")
		emit strace_acquire_read_bytes "$(calc "$ar / $STRACE_OPS" 0)" B/op
		emit strace_acquire_write_bytes "$(calc "$aw / $STRACE_OPS" 0)" B/op
		emit strace_release_read_bytes "$(calc "$rr / $STRACE_OPS" 0)" B/op
		emit strace_release_write_bytes "$(calc "$rw / $STRACE_OPS" 0)" B/op
		if [ "$lwn" -gt 0 ]; then
			emit strace_renewal_read_bytes "$(calc "$lr / $lwn" 0)" B/renewal
			emit strace_renewal_write_bytes "$(calc "$lw / $lwn" 0)" B/renewal
		fi
		echo "# strace: acquire/release syscalls: $(grep -c io_submit "$SLB_TMP/st_acq") / $(grep -c io_submit "$SLB_TMP/st_rel") io_submit for $STRACE_OPS ops; idle: $lwn renewal writes"
	else
		echo "# strace not installed: strace cross-check skipped"
	fi
fi

# ---------------------------------------------------------------- failover
if want failover; then
	sl_log "failover: host A (host_id 1) holds r$R_FO, host B (host_id 2) polls acquire after kill -9 of A's daemon"
	sl_host_start B
	PID_B=$SLB_LAST_PID
	t0=$(sl_now)
	sl_add_lockspace B "$LS" 2 "$LEASES" "$IO" || sl_die "add_lockspace on B failed"
	emit join_time_second_host "$(calc "$(sl_now) - $t0")" s
	start_hold A 1 "$R_FO" "$SLB_TMP/foholder"
	FO_HOLDER=$HOLD_PID
	# let B observe A's delta lease being renewed (host state LIVE)
	sleep $((4 * IO + 1))
	sl_client B host_status -s "$LS" >&2 || true
	sl_env B "$SLB_SLBENCH" failover -f "$LEASES" -s "$LS" -i "$R_FO" -O 1 -k "$PID_A" \
		-P "$POLL_MS" -t "$FO_TIMEOUT" >"$SLB_TMP/fo" 2>"$SLB_TMP/fo.err"
	rc=$?
	sed 's/^/# failover: /' "$SLB_TMP/fo.err"
	emit_all "" <"$SLB_TMP/fo"
	[ "$rc" = 0 ] || sl_log "failover: B did not get the lease within $FO_TIMEOUT s"
	# A's daemon is gone: reap it and its helper, then A's orphaned client
	sl_host_kill9 A
	stop_hold "$FO_HOLDER"
	emit host_dead_seconds_formula "$((8 * IO + 60))" s
	echo "# failover: sanlock 3.8.5 host_dead_seconds = 8*io_timeout(owner) + watchdog_fire_timeout(60, fixed, also with -w 0)"
elif [ "${FAILOVER_SKIPPED:-0}" = 1 ]; then
	echo "# failover skipped at io_timeout $IO (takes > 8*io_timeout+60 s); run with SLB_FAILOVER=1 to force"
fi

echo "# loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
emit measure_runtime "$(calc "$(sl_now) - $T_START" 1)" s
