# shellcheck shell=bash
# bench/common.sh - shell helpers shared by the two measure scripts,
# bench/measure.sh (sync_manager) and bench/sanlock/measure.sh (sanlock):
# the arithmetic, the storage baseline and the output of every metric the
# two sides compute the same way, so that they stay the same.
#
# Set BENCH_SIDE (the metric prefix: "ours" or "sanlock") before sourcing:
#
#   BENCH_SIDE=ours
#   . "$HERE/common.sh"
#   bench_io_arg "$@"        # IO=<io_timeout argument>
#   emit idle_window 3.1 s   # -> "ours.idle_window 3.1 s"
#
# Nothing here starts or stops a daemon: that is per side (measure.sh's
# h_* functions, sanlock/lib.sh).

BENCH_SIDE=${BENCH_SIDE:?set BENCH_SIDE before sourcing bench/common.sh}

# bench_io_arg [IO_TIMEOUT]: the scripts' one argument (default 10) -> IO
bench_io_arg() {
	IO=${1:-10}
	case $IO in ''|*[!0-9]*) echo "usage: $0 [IO_TIMEOUT_SECONDS]" >&2; exit 2 ;; esac
	[ "$IO" -ge 1 ] || { echo "io_timeout must be >= 1" >&2; exit 2; }
}

# emit METRIC VALUE UNIT: one result line
emit() { printf '%s.%s %s %s\n' "$BENCH_SIDE" "$1" "$2" "$3"; }
# emit_all PREFIX: prefix every "metric value unit" line of a C client's output
emit_all() { awk -v s="$BENCH_SIDE" -v p="$1" 'NF == 3 { printf "%s.%s%s %s %s\n", s, p, $1, $2, $3 }'; }
# calc EXPR [DECIMALS]: floating point arithmetic (3 decimals by default)
calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }
# median of the numbers on stdin ("nan" if none)
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit } i = int((NR + 1) / 2); if (NR % 2) print v[i]; else printf "%.3f\n", (v[i] + v[i + 1]) / 2 }'; }

pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

# wait_for_line FILE REGEX TIMEOUT_S PID: until FILE has a line matching the
# extended REGEX; gives up after TIMEOUT_S or when PID (the writer) is gone
wait_for_line() {
	local f=$1 re=$2 t=$3 pid=$4 i
	for ((i = 0; i < t * 20; i++)); do
		grep -qE "$re" "$f" 2>/dev/null && return 0
		pid_alive "$pid" || { grep -qE "$re" "$f" 2>/dev/null; return; }
		sleep 0.05
	done
	return 1
}

# task_io PID -> lines "TID read_bytes write_bytes" for every thread of PID
task_io() {
	local t
	for t in /proc/"$1"/task/*; do
		awk -v t="${t##*/}" '/^read_bytes/ { r = $2 } /^write_bytes/ { w = $2 } END { print t, r, w }' "$t/io" 2>/dev/null
	done
}

# cpu_of PID -> "RUN_NS WAKEUPS": CPU time of every thread of PID
# (schedstat, ns) and how often they went to sleep (voluntary context
# switches: each is followed by one wake-up)
cpu_of() {
	local t run=0 sw=0 r v
	for t in /proc/"$1"/task/*; do
		read -r r _ <"$t/schedstat" 2>/dev/null || continue
		v=$(awk '/^voluntary_ctxt_switches/ { print $2 }' "$t/status" 2>/dev/null)
		run=$((run + r)) sw=$((sw + ${v:-0}))
	done
	echo "$run $sw"
}

# emit_idle_cpu PID SECONDS: the daemon's CPU and wake-ups over SECONDS of
# idleness, with nothing talking to it (no CLI, no client: a poll would
# wake it).  idle_cpu is in % of one CPU.
emit_idle_cpu() {
	local c0 s0 c1 s1 t0 t1 dt
	read -r c0 s0 < <(cpu_of "$1"); t0=${EPOCHREALTIME/,/.}
	sleep "$2"
	read -r c1 s1 < <(cpu_of "$1"); t1=${EPOCHREALTIME/,/.}
	dt=$(calc "$t1 - $t0")
	emit idle_cpu_window "$dt" s
	emit idle_cpu "$(calc "($c1 - $c0) / 1e7 / $dt" 4)" %
	emit idle_wakeups "$(calc "($s1 - $s0) / $dt" 2)" /s
}

# ---- raw storage baseline (dd on the file system of the leases)

# dd_probe FILE: a 64 MiB file of written zeros to probe with
dd_probe() { dd if=/dev/zero of="$1" bs=1M count=64 conv=fsync status=none; }
dd_secs() { sed -n 's/.* copied, \([0-9.e-]*\) s,.*/\1/p' | tail -1; }
# dd_write512_us FILE OFLAGS -> us per 512-byte write (500 of them, OFLAGS e.g. direct,dsync)
dd_write512_us() {
	local s
	s=$(dd if=/dev/zero of="$1" bs=512 count=500 oflag="$2" conv=notrunc 2>&1 | dd_secs)
	calc "$s / 500 * 1e6" 1
}
# dd_read_direct_us FILE BS COUNT -> us per O_DIRECT read of BS bytes
dd_read_direct_us() {
	local s
	s=$(dd if="$1" of=/dev/null bs="$2" count="$3" iflag=direct 2>&1 | dd_secs)
	calc "$s / ($3) * 1e6" 1
}

# ---- result lines of the sections both sides have

# emit_join JOIN_FILE LEAVE_FILE ITERS: join times (s) one a line, leave
# times (may be empty)
emit_join() {
	emit join_iterations "$3" count
	emit join_time_median "$(median <"$1")" s
	emit join_time_min "$(sort -g "$1" | head -1)" s
	emit join_time_max "$(sort -g "$1" | tail -1)" s
	[ -s "$2" ] && emit leave_time_median "$(median <"$2")" s
	return 0
}

# emit_idle DT NREN INTERVAL R0 W0 R1 W1: an idle window of DT s holding
# NREN renewals INTERVAL s apart; the daemon's read/write bytes before and
# after it
emit_idle() {
	local dt=$1 n=$2 r0=$4 w0=$5 r1=$6 w1=$7
	emit idle_window "$dt" s
	emit idle_renewals "$n" count
	emit renewal_interval "$3" s
	emit idle_read_rate "$(calc "($r1 - $r0) / $dt" 1)" B/s
	emit idle_write_rate "$(calc "($w1 - $w0) / $dt" 1)" B/s
	emit idle_io_rate "$(calc "($r1 - $r0 + $w1 - $w0) / $dt" 1)" B/s
	emit renewal_read_bytes "$(calc "($r1 - $r0) / $n" 0)" B/renewal
	emit renewal_write_bytes "$(calc "($w1 - $w0) / $n" 0)" B/renewal
}

# emit_latency FILE ITERS: the output of the C client's "latency" run
emit_latency() {
	local rb wb
	grep -v -e _min -e latency_window "$1" | emit_all ""
	rb=$(awk '$1 == "latency_window_read_bytes" { print $2 }' "$1")
	wb=$(awk '$1 == "latency_window_write_bytes" { print $2 }' "$1")
	emit cycle_read_bytes "$(calc "$rb / $2" 0)" B/op
	emit cycle_write_bytes "$(calc "$wb / $2" 0)" B/op
}

# emit_tput FILE CLIENTS LEASES: the output of the C client's "tput" run;
# the single-client run also gives the per-operation bytes (/proc/<daemon>/io,
# renewal thread excluded)
emit_tput() {
	local f=$1 c=$2 n=$3
	grep -v -e _min -e _phase_read -e _phase_write -e '^leases' -e '^clients' "$f" | emit_all "tput_c${c}_"
	if [ "$c" = 1 ]; then
		emit acquire_read_bytes "$(calc "$(tput_get "$f" acquire_phase_read_bytes) / $n" 0)" B/op
		emit acquire_write_bytes "$(calc "$(tput_get "$f" acquire_phase_write_bytes) / $n" 0)" B/op
		emit release_read_bytes "$(calc "$(tput_get "$f" release_phase_read_bytes) / $n" 0)" B/op
		emit release_write_bytes "$(calc "$(tput_get "$f" release_phase_write_bytes) / $n" 0)" B/op
	fi
}
# tput_get FILE METRIC -> its value
tput_get() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

# emit_rss PID RSS_BEFORE RSS_WITH LEASES: the daemon PID's memory without
# and with LEASES leases held (kB)
emit_rss() {
	local pid=$1 rss0=$2 rss1=$3 n=$4
	emit rss_daemon_before_leases "$rss0" kB
	emit rss_leases_held "$n" count
	emit rss_daemon_with_leases "$rss1" kB
	emit rss_daemon_hwm "$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")" kB
	emit rss_per_lease "$(calc "($rss1 - $rss0) * 1024 / $n" 0)" B
	emit rss_daemon_threads "$(awk '/^Threads/ { print $2 }' "/proc/$pid/status")" count
}
