#!/usr/bin/env bash
# bench/scale.sh [BUILD]  - `make bench-scale`: sync_manager at scale, side by
# side with Debian's sanlock 3.8.5 (issue 19's benchmark), on this machine.
#
# Sections (each measurement is one bench/scale_run.sh process, which starts
# and stops everything it uses):
#   hosts       N emulated hosts (a PID namespace with sync_manager-hostemu and
#               sync_managerd each; sanlock: a daemon in its own mount
#               namespace each) on one volume of SCALE_MAX_HOSTS slots, for
#               every N of SCALE_HOSTS in turn.  A side stops ramping at the
#               first N where a join or a renewal failed, or when the machine
#               has not the memory for it; the table says the largest N it
#               sustained.
#   slots       ours only: SCALE_SLOTS_VARIANT hosts on a volume of as many
#               slots, next to the same hosts on the SCALE_MAX_HOSTS volume:
#               renewals read the slots in use, not the slots formatted
#               (sanlock always reads its 1 MiB / 2000-slot area).
#   lockspaces  one host joins SCALE_LOCKSPACES lockspaces, both sides.
#   clients     the hook for bench/clients.sh (clients per daemon), written
#               separately: run if present, otherwise reported as skipped.
#
# Output: one markdown table (printed, and saved with the raw lines and logs
# under SCALE_RESULTS_DIR, default BUILD/bench-results/scale-<date>-<time>/).
# Exit status 0 unless a measurement broke (a failed join at some N is a
# result, not a breakage).  See bench/README.md, "make bench-scale".
#
# Environment (defaults):
#   SCALE_HOSTS="16 64 128"   host counts, ascending (a list ending in a large
#                             number ramps until the machine gives up)
#   SCALE_MAX_HOSTS=2000      slots of the hosts volume (sanlock's fixed size)
#   SCALE_SLOTS_VARIANT=128   hosts of the slots comparison ("" skips it)
#   SCALE_LOCKSPACES=100      lockspaces on one host (0 skips the section)
#   SCALE_SECTIONS="hosts slots lockspaces clients"
#   SCALE_CLIENTS="1000 5000 10000"  clients per daemon (bench/clients.sh)
#   SCALE_SIDES="sanlock ours"
#   SCALE_IO=10               io_timeout d (production default); R = 2d
#   SCALE_WINDOW_RENEWALS=2   idle window, in renewal intervals
#   SCALE_MEM_RESERVE_MB=3072 memory left to the rest of the machine
#   SCALE_RESULTS_DIR         where the results go
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" 2>/dev/null && pwd) || { echo "bench/scale.sh: no build dir ${1:-$ROOT/build} (make build)" >&2; exit 2; }
HOSTS_LIST=${SCALE_HOSTS:-16 64 128}
MAXH=${SCALE_MAX_HOSTS:-2000}
VARIANT=${SCALE_SLOTS_VARIANT-128}
NLS=${SCALE_LOCKSPACES:-100}
SECTIONS=${SCALE_SECTIONS:-hosts slots lockspaces clients}
SIDES=${SCALE_SIDES:-sanlock ours}
IO=${SCALE_IO:-10}
RESERVE=${SCALE_MEM_RESERVE_MB:-3072}
RES=${SCALE_RESULTS_DIR:-$BUILD/bench-results/scale-$(date -u +%Y%m%d-%H%M%S)}
export SCALE_BUILD=$BUILD SCALE_IO=$IO
mkdir -p "$RES" || exit 2
RAW=$RES/raw.txt
: >"$RAW"
T0=${EPOCHREALTIME/,/.}
broken=()

log() { printf '[bench-scale %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
want() { [[ " $SECTIONS " == *" $1 "* ]]; }
has_side() { [[ " $SIDES " == *" $1 "* ]]; }
val() { awk -v k="$1.$2_$3" '$1 == k { print $2; exit }' "$RAW"; }
memfree_mb() { awk '/^MemAvailable/ { print int($2 / 1024) }' /proc/meminfo; }
# per emulated host, with margin: sanlock mlockall()s ~20 MB; ours ~3 MB + hostemu
need_mb() { case $1 in sanlock) echo $((24 * $2 + RESERVE)) ;; *) echo $((6 * $2 + RESERVE)) ;; esac; }

[ "$(id -u)" = 0 ] || { echo "bench/scale.sh: must run as root (PID namespaces, mounts)" >&2; exit 2; }

# settle: starting or stopping hundreds of daemons leaves the machine busy for
# a while; wait (at most 120 s) until at most 2 x cpus tasks are running or
# blocked on I/O for 3 s in a row, so that a measurement does not start in
# the previous one's wake
settle() {
	local k calm=0
	for ((k = 0; k < 120 && calm < 3; k++)); do
		if [ "$(awk '/^procs_(running|blocked)/ { n += $2 } END { print n }' /proc/stat)" -le $((2 * $(nproc))) ]; then
			calm=$((calm + 1))
		else
			calm=0
		fi
		sleep 1
	done
}
# run SIDE KEY ARGS...: one scale_run.sh measurement; 0 when it sustained
# (every join and every renewal succeeded)
run() {
	local side=$1 key=$2 rc f; shift 2
	settle
	log "$side $key: bench/scale_run.sh $side $*; progress in $RES/$side-$key.log"
	timeout --foreground 3600 bash "$HERE/scale_run.sh" "$side" "$@" "$key" >"$RES/$side-$key.txt" 2>"$RES/$side-$key.log"
	rc=$?
	cat "$RES/$side-$key.txt" >>"$RAW"
	if [ "$rc" != 0 ]; then
		log "$side $key: measurement FAILED (exit $rc), see $RES/$side-$key.log"
		broken+=("$side $key (exit $rc)")
		return 1
	fi
	f=$(val "$side" "$key" joins_failed)
	[ "${f:-1}" = 0 ] && [ "$(val "$side" "$key" renewal_failures)" = 0 ]
}

{
	echo "# bench/scale.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n): $(nproc) cpus, $(awk '/^MemTotal/ { print int($2 / 1048576) }' /proc/meminfo) GiB, kernel $(uname -r), build $BUILD ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null))"
	echo "# io_timeout $IO s, hosts $HOSTS_LIST on $MAXH slots, slots variant '$VARIANT', lockspaces $NLS, sides $SIDES, sections $SECTIONS"
	echo "# loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on this machine adds noise)"
} | tee "$RES/summary.txt" >&2

# ------------------------------------------------------------------ hosts
declare -A SUSTAINED=() STOPPED=()
if want hosts; then
	for n in $HOSTS_LIST; do
		for side in $SIDES; do
			[ -n "${STOPPED[$side]:-}" ] && continue
			if [ "$n" -gt "$MAXH" ] || { [ "$side" = sanlock ] && [ "$n" -gt 2000 ]; }; then
				STOPPED[$side]="$n hosts do not fit $MAXH slots"; continue
			fi
			if [ "$(memfree_mb)" -lt "$(need_mb "$side" "$n")" ]; then
				STOPPED[$side]="not enough memory for $n hosts ($(memfree_mb) MiB available, $(need_mb "$side" "$n") wanted)"
				log "$side: ${STOPPED[$side]}"; continue
			fi
			if run "$side" "h${n}m$MAXH" hosts "$n" "$MAXH"; then
				SUSTAINED[$side]=$n
			else
				STOPPED[$side]="at $n hosts: $(val "$side" "h${n}m$MAXH" joins_failed) join(s), $(val "$side" "h${n}m$MAXH" renewal_failures) renewal(s) failed"
				log "$side: stops ramping, ${STOPPED[$side]}"
			fi
		done
	done
fi

# ------------------------------------------------------------------ slots in use vs slots formatted
if want slots && [ -n "$VARIANT" ] && has_side ours; then
	[ -n "$(val ours "h${VARIANT}m$MAXH" hosts)" ] || run ours "h${VARIANT}m$MAXH" hosts "$VARIANT" "$MAXH"
	run ours "h${VARIANT}m$VARIANT" hosts "$VARIANT" "$VARIANT"
fi

# ------------------------------------------------------------------ lockspaces
if want lockspaces && [ "$NLS" -gt 0 ]; then
	for side in $SIDES; do run "$side" "ls$NLS" lockspaces "$NLS"; done
fi

# ------------------------------------------------------------------ clients (hook)
# CLIENTS HOOK: bench/clients.sh (clients per daemon: 1,000 / 5,000 / 10,000;
# RSS, fds, acquire and inquire latency, status time) is written separately.
# It is called as `SMB_BUILD=BUILD bash bench/clients.sh $SCALE_CLIENTS`
# (default 1000 5000 10000); its stdout (a fixed-width table) goes into the
# report in a code block.
CLIENTS_OUT=$RES/clients.md
if want clients; then
	if [ -f "$HERE/clients.sh" ]; then
		log "clients: bench/clients.sh ${SCALE_CLIENTS:-1000 5000 10000}; progress in $RES/clients.log"
		{
			echo "Clients per daemon (bench/clients.sh):"
			echo
			echo '```'
			# shellcheck disable=SC2086 # a list of counts
			SMB_BUILD=$BUILD timeout --foreground 7200 bash "$HERE/clients.sh" ${SCALE_CLIENTS:-1000 5000 10000} ||
				broken+=("clients (bench/clients.sh exit $?)")
			echo '```'
		} >"$CLIENTS_OUT" 2>"$RES/clients.log"
	else
		echo "Clients per daemon: skipped (bench/clients.sh is not there yet)." >"$CLIENTS_OUT"
	fi
else
	echo "Clients per daemon: not run (SCALE_SECTIONS)." >"$CLIENTS_OUT"
fi

# ------------------------------------------------------------------ table
table() {
	awk -v io="$IO" -v maxh="$MAXH" -v variant="$VARIANT" -v nls="$NLS" \
	    -v hosts="$HOSTS_LIST" -v sides="$SIDES" \
	    -v sus_ours="${SUSTAINED[ours]:-none}" -v sus_sl="${SUSTAINED[sanlock]:-none}" \
	    -v stop_ours="${STOPPED[ours]:-}" -v stop_sl="${STOPPED[sanlock]:-}" '
	NF >= 3 && $1 !~ /^#/ { V[$1] = $2 }
	function g(side, key, k) { k = side "." key "_" k; return (k in V) ? V[k] : "" }
	function num(x) { return x == "" || x == "nan" ? "-" : x }
	function kib(x) { return x == "" ? "-" : (x >= 1048576 ? sprintf("%.2f MiB", x / 1048576) : (x >= 1024 ? sprintf("%.1f KiB", x / 1024) : sprintf("%.0f B", x))) }
	function rate(x) { return x == "" ? "-" : (x >= 1048576 ? sprintf("%.2f MiB/s", x / 1048576) : (x >= 1024 ? sprintf("%.1f KiB/s", x / 1024) : sprintf("%.0f B/s", x))) }
	function mb(x) { return x == "" ? "-" : sprintf("%.1f MB", x / 1000) }
	function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "-" : sprintf("%.3f", a / b) }
	function hostrow(side, key, n, slots,   f, ok) {
		ok = g(side, key, "joins_ok"); if (ok == "") return 0
		f = g(side, key, "renewal_read_bytes_formula")
		fi = g(side, key, "renewal_read_bytes_inuse_formula")
		fa = g(side, key, "aggregate_read_rate_formula")
		printf "| %s / %s | %s | %s (%s) | %s / %s s | %s%s | %s | %s | %s%s | %s %% | %s | %s | %s ms | %s / %s / %s ms | %s |\n",
			n, slots, side == "ours" ? "sync_manager" : "sanlock", ok, g(side, key, "joins_failed"),
			num(g(side, key, "join_time_median")), num(g(side, key, "join_time_max")),
			kib(g(side, key, "renewal_read_bytes")), f == "" ? "" : " (" kib(fi) " / " kib(f) ")",
			kib(g(side, key, "renewal_write_bytes")),
			rate(g(side, key, "per_host_read_rate")) " (" rate(g(side, key, "other_read_rate") / n) ")", rate(g(side, key, "aggregate_read_rate")),
			fa == "" ? "" : " (" rate(fa) ")",
			num(g(side, key, "cpu_per_host")), mb(g(side, key, "rss_per_host")), sprintf("%.0f", g(side, key, "threads_per_host")),
			num(g(side, key, "hosts_cmd_latency_median")),
			num(g(side, key, "renewal_start_delay_p50")), num(g(side, key, "renewal_start_delay_p99")),
			num(g(side, key, "renewal_start_delay_max")), num(g(side, key, "renewal_failures"))
		return 1
	}
	function ratiorow(ko, ks, n,   o, s) {
		if (g("ours", ko, "joins_ok") == "" || g("sanlock", ks, "joins_ok") == "") return
		printf "| %s | ratio ours/sanlock | | %s | %s | %s | %s | %s | %s | %s | | %s | | |\n", n,
			ratio(g("ours", ko, "join_time_median"), g("sanlock", ks, "join_time_median")),
			ratio(g("ours", ko, "renewal_read_bytes"), g("sanlock", ks, "renewal_read_bytes")),
			ratio(g("ours", ko, "renewal_write_bytes"), g("sanlock", ks, "renewal_write_bytes")),
			ratio(g("ours", ko, "per_host_read_rate"), g("sanlock", ks, "per_host_read_rate")),
			ratio(g("ours", ko, "aggregate_read_rate"), g("sanlock", ks, "aggregate_read_rate")),
			ratio(g("ours", ko, "cpu_per_host"), g("sanlock", ks, "cpu_per_host")),
			ratio(g("ours", ko, "rss_per_host"), g("sanlock", ks, "rss_per_host")),
			ratio(g("ours", ko, "hosts_cmd_latency_median"), g("sanlock", ks, "hosts_cmd_latency_median"))
	}
	END {
		printf "## Hosts on one volume, io_timeout %s s (R = %s s), idle window of 2 renewal intervals\n\n", io, 2 * io
		print "| hosts / slots | side | joined (failed) | join median / max | read per renewal (formula: in use / 32-renewal average) | written per renewal | reads per host (of which not renewals) | aggregate reads (formula, average) | CPU per host | RSS per host | threads | `hosts` median | renewal start delay p50 / p99 / max | renewal failures |"
		print "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
		nh = split(hosts, H, " ")
		for (i = 1; i <= nh; i++) {
			k = "h" H[i] "m" maxh
			a = hostrow("sanlock", k, H[i], "2000")
			b = hostrow("ours", k, H[i], maxh)
			if (a && b) ratiorow(k, k, H[i])
		}
		if (variant != "") {
			k = "h" variant "m" variant
			if (hostrow("ours", k, variant, variant)) {
				kk = "h" variant "m" maxh
				printf "| %s | ours %s slots / ours %s slots | | | %s | | %s | %s | | | | | | |\n", variant, variant, maxh,
					ratio(g("ours", k, "renewal_read_bytes"), g("ours", kk, "renewal_read_bytes")),
					ratio(g("ours", k, "per_host_read_rate"), g("ours", kk, "per_host_read_rate")),
					ratio(g("ours", k, "aggregate_read_rate"), g("ours", kk, "aggregate_read_rate"))
			}
		}
		printf "\nLargest N sustained (every join and renewal succeeded): sync_manager %s, sanlock %s.", sus_ours, sus_sl
		if (stop_ours != "") printf " sync_manager stopped: %s.", stop_ours
		if (stop_sl != "") printf " sanlock stopped: %s.", stop_sl
		printf "\n"
		if (nls + 0 > 0 && (g("ours", "ls" nls, "joins_ok") != "" || g("sanlock", "ls" nls, "joins_ok") != "")) {
			k = "ls" nls
			printf "\n## %s lockspaces on one host, io_timeout %s s\n\n", nls, io
			print "| side | joined (failed) | join median / max | threads (per lockspace) | RSS (per lockspace) | CPU (per lockspace) | read per renewal | renewal start delay p50 / p99 / max | renewal failures |"
			print "|---|---|---|---|---|---|---|---|---|"
			n2 = split(sides, S, " ")
			for (i = 1; i <= n2; i++) {
				s = S[i]
				if (g(s, k, "joins_ok") == "") continue
				printf "| %s | %s (%s) | %s / %s s | %s (%s) | %s (%.0f kB) | %s %% (%s %%) | %s | %s / %s / %s ms | %s |\n",
					s == "ours" ? "sync_manager" : "sanlock", g(s, k, "joins_ok"), g(s, k, "joins_failed"),
					num(g(s, k, "join_time_median")), num(g(s, k, "join_time_max")),
					sprintf("%.0f", g(s, k, "threads_per_host")), num(g(s, k, "threads_per_lockspace")),
					mb(g(s, k, "rss_per_host")), g(s, k, "rss_per_lockspace"),
					num(g(s, k, "cpu_all_hosts")), num(g(s, k, "cpu_per_lockspace")),
					kib(g(s, k, "renewal_read_bytes")),
					num(g(s, k, "renewal_start_delay_p50")), num(g(s, k, "renewal_start_delay_p99")),
					num(g(s, k, "renewal_start_delay_max")), num(g(s, k, "renewal_failures"))
			}
		}
	}' "$RAW"
	cat <<EOF

How to read it: "read/written per renewal" = I/O of the lockspace (renewal) threads, the
threads that appeared with the joins (/proc/PID/task/TID/io), over the window / the renewals
done in it (ours: 'status --json' counters; sanlock: 'client renewal' history). "reads per
host" and "aggregate reads" are everything the daemons read (/proc/PID/io); "not renewals"
is the rest (ours: the background orphan sweep, 48 resource areas every 30 s, one small read each);
the formulas for ours (docs/timeouts.md) are S x min(N, u + 8) for the in-use read, which
a window of a few renewals shows, and S x (31 x min(N, u + 8) + N) / 32 for the average
over 32 renewals (one whole-area read of N slots every 32nd), with u = the highest host_id
in use, N = slots, S = 512 B; aggregate = hosts x average / R. CPU = all threads of the
daemon (schedstat) over the window, % of one core; RSS = VmRSS (sanlock mlockall()s its memory). Renewal start delay = gap between two
consecutive good renewal starts - R (ours: 'renewals --json', ms; sanlock: 'client renewal'
timestamps, whole seconds, so 0 or 1000 ms). \`hosts\` = 'sync_manager hosts' / 'sanlock
client host_status' on host 1.

## Clients per daemon

EOF
	cat "$CLIENTS_OUT"
}

table | tee "$RES/table.md"
{
	echo
	echo "# loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "# total bench/scale.sh wall time: $(awk "BEGIN { printf \"%.0f\", ${EPOCHREALTIME/,/.} - $T0 }") s; results in $RES"
	if [ "${#broken[@]}" -gt 0 ]; then
		echo "# BROKEN measurements:"
		printf '#   %s\n' "${broken[@]}"
	fi
} | tee -a "$RES/summary.txt"
cat "$RES/table.md" >>"$RES/summary.txt"
[ "${#broken[@]}" -eq 0 ]
