#!/usr/bin/env bash
# bench/clients.sh [N ...]  (default: 1000 5000 10000)
#
# Clients per sync_managerd (issue 19 item 3): one daemon of its own
# (watchdog = none, a file volume under $SMB_TMPDIR), N registered processes
# each holding one lease, and at each N: the daemon's RSS and fds, per client,
# and the latency of inquire (median, p99) and of an acquire + release cycle
# of one more lease (median).  "marginal_kb" is the RSS added per client
# since the previous count (the first count also carries fixed costs).  Prints a table and, with SMB_RAW=1, the raw
# "clients N rss_kb ..." lines of bench/clientscale.c.  Needs root (the
# daemon registers other processes by pid, joins need root).
#
# Tunables: SMB_BUILD (build directory, default <repo>/build), SMB_TMPDIR
# (parent of the volume, not tmpfs: /var/tmp), CS_NO_LEASES=1 (register
# only), SMB_IO_TIMEOUT (1).
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${SMB_BUILD:-$HERE/../build}
SM=$BUILD/sync_manager
SMD=$BUILD/sync_managerd
CS=$BUILD/clientscale
COUNTS=("$@")
[[ ${#COUNTS[@]} -gt 0 ]] || COUNTS=(1000 5000 10000)
MAX=${COUNTS[-1]}
[[ $(id -u) -eq 0 ]] || { echo "bench/clients.sh: needs root" >&2; exit 77; }
for b in "$SM" "$SMD" "$CS"; do
	[[ -x $b ]] || { echo "bench/clients.sh: $b missing: build first (ninja -C $BUILD)" >&2; exit 2; }
done

TMP=$(mktemp -d "${SMB_TMPDIR:-/var/tmp}/smclients.XXXXXX")
export SYNC_MANAGER_RUN_DIR=$TMP/run
mkdir -p "$SYNC_MANAGER_RUN_DIR"
DPID=""
cleanup() {
	[[ -n $DPID ]] && kill "$DPID" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# Room for every client (2 fds each) and the daemon's own; where the hard
# limit cannot be raised (a container without CAP_SYS_RESOURCE), the counts
# are cut to what fits under it, and the table says so.
NOFILE=$((MAX * 2 + 1024))
if ! timeout --foreground 10 prlimit --nofile=$NOFILE:$NOFILE -- true 2>/dev/null; then
	NOFILE=$(ulimit -Hn)
	FIT=$(((NOFILE - 256) / 2 / 100 * 100))
	echo "# RLIMIT_NOFILE cannot be raised above $NOFILE here: at most about $FIT clients fit (2 fds each); larger counts are cut to $FIT"
	for i in "${!COUNTS[@]}"; do (( COUNTS[i] > FIT )) && COUNTS[i]=$FIT; done
	MAX=$FIT
fi
printf 'watchdog = none\nmax_clients = %d\nlog_level = warn\n' $((MAX + 16)) > "$TMP/d.conf"
SYNC_MANAGERD_CONFIG=$TMP/d.conf timeout --foreground 7200 prlimit --nofile=$NOFILE:$NOFILE -- "$SMD" -D \
	>> "$TMP/daemon.log" 2>&1 &
for _ in $(seq 50); do timeout --foreground 10 "$SM" status >/dev/null 2>&1 && break; sleep 0.2; done
DPID=$(cat "$SYNC_MANAGER_RUN_DIR/sync_managerd.pid")
V=$TMP/leases
timeout --foreground 300 "$SM" init "$V" --lockspace cls --max-hosts 8 --resources $((MAX + 16)) \
	--io-timeout "${SMB_IO_TIMEOUT:-1}" --watchdog-timeout 3 >/dev/null || exit 1
timeout --foreground 300 "$SM" join "$V" --host-id 1 >/dev/null 2>&1 || exit 1

echo "# sync_managerd clients: $(nproc) cores, io_timeout ${SMB_IO_TIMEOUT:-1} s, file volume, one lease per client${CS_NO_LEASES:+ (none: CS_NO_LEASES)}"
printf '%-8s %10s %14s %12s %8s %10s %12s %12s %12s %14s\n' clients rss_kb rss/client_kb marginal_kb fds fds/client \
	inquire_us inq_p99_us acquire_ms "status_ms(rc)"
CS_CLI=$SM timeout --foreground 7200 prlimit --nofile=$NOFILE:$NOFILE -- "$CS" "$DPID" cls "${COUNTS[@]}" | while read -r line; do
	[[ -n ${SMB_RAW:-} ]] && echo "# $line"
	set -- $line
	printf '%-8s %10s %14s %12s %8s %10s %12s %12s %12s %14s\n' "$2" "$4" "$6" "$8" "${10}" "${12}" "${14}" "${16}" "${18}" \
		"${20}(${22})"
done
