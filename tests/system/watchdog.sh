#!/bin/bash
# No watchdog, no protection (issue 10 item 3): `watchdog = auto` on a host
# where no watchdog exists must refuse to join lockspaces (from the CLI and
# from `join` in sync_managerd.conf), naming the fixes; an explicit
# `watchdog = none` joins, but status, status --json, hosts and the metrics
# say this host runs unprotected.  The control: `watchdog = auto` inside an
# emulated host finds its watchdog, joins, and is not reported unprotected.
# d = 1 s, W = 3 s.  About 15 s.
#
# The missing device is named with `watchdog_device` (a path that does not
# exist), so that `auto` never picks up a real /dev/watchdog of the machine
# running the test.  Volumes and run directories live on /var/tmp (O_DIRECT).
export SM_TEST_TMPDIR=/var/tmp
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"

export SYNC_MANAGER_RUN_DIR=$T_DIR/run
mkdir -p "$SYNC_MANAGER_RUN_DIR"
V=$T_DIR/leases
NODEV=$T_DIR/no-such-watchdog
t_run "format a volume (d = 1 s, W = 3 s)" -- "$SM" init "$V" --lockspace wdls --max-hosts 8 --resources 4 \
	--io-timeout 1 --watchdog-timeout 3 --resource r1

DPID=
# start_daemon CONF LOG: sync_managerd -D with CONF; waits until status answers.
start_daemon() {
	SYNC_MANAGERD_CONFIG=$1 "$SMD" -D >> "$2" 2>&1 &
	DPID=$!
	T_PIDS+=("$DPID")
	retry_until 20 "$SM" status || { t_fail "daemon did not start: $(tail -5 "$2")"; t_done; }
}
stop_daemon() {
	kill -TERM "$DPID" 2>/dev/null
	local i
	for ((i = 0; i < 400; i++)); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$DPID" 2>/dev/null && t_fail "daemon $DPID did not stop"
	wait "$DPID" 2>/dev/null
}
# json_get EXPR: evaluate a Python expression over the JSON document on stdin (j).
json_get() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

FIXES='modprobe softdog.*watchdog = emulated.*watchdog = none'

# ---- 1. watchdog = auto, no watchdog anywhere: joins are refused ---------------
printf 'watchdog = auto\nwatchdog_device = %s\nwatchdog_timeout = 3\nhost_name = wdhost\nlog_level = info\njoin = [ "%s" ]\n' \
	"$NODEV" "$V" > "$T_DIR/auto.conf"
start_daemon "$T_DIR/auto.conf" "$T_DIR/auto.log"
t_run "status answers" -- "$SM" status
t_match "status names the missing watchdog" "^sync_managerd pid $DPID, .*watchdog none .*no watchdog.*joins refused" "$T_OUT"
t_match "status warns that this host is unprotected" "^WARNING: this host runs unprotected" "$T_OUT"
t_match "the configured join did not happen" "none joined" "$T_OUT"
t_match "the daemon log says why the configured join was refused" \
	"cannot join the lockspace of $V: .*no watchdog.*$FIXES" "$(cat "$T_DIR/auto.log")"
t_refused "join VOLUME is refused, naming the fixes" "no watchdog.*$FIXES" -- "$SM" join "$V"
t_refused "join LOCKSPACE (by name) is refused too" "no watchdog.*$FIXES" -- "$SM" join wdls
t_run "status after the refused joins" -- "$SM" status
t_match "still no lockspace joined" "none joined" "$T_OUT"
t_run "status --json" -- "$SM" status --json
t_match "status --json: unprotected" "^True$" "$(json_get 'j["daemon"]["unprotected"]' <<<"$T_OUT")"
t_match "status --json: no lockspace" "^0$" "$(json_get 'len(j["lockspaces"])' <<<"$T_OUT")"
t_run "metrics" -- "$SM" metrics
t_match "metrics: sync_manager_unprotected 1" "^sync_manager_unprotected 1$" "$T_OUT"
stop_daemon

# ---- 2. watchdog = none: joins, and every listing says it is unprotected --------
printf 'watchdog = none\nhost_name = wdhost\nlog_level = info\n' > "$T_DIR/none.conf"
start_daemon "$T_DIR/none.conf" "$T_DIR/none.log"
t_run "join with watchdog = none" -- "$SM" join "$V"
t_run "status" -- "$SM" status
t_match "status: lockspace joined" "^  wdls +joined " "$T_OUT"
t_match "status: watchdog none" "^sync_managerd pid $DPID, .*watchdog none " "$T_OUT"
t_match "status warns that this host is unprotected" "^WARNING: this host runs unprotected" "$T_OUT"
t_run "status --json" -- "$SM" status --json
t_match "status --json: unprotected" "^True$" "$(json_get 'j["daemon"]["unprotected"]' <<<"$T_OUT")"
t_run "hosts" -- "$SM" hosts wdls
t_match "hosts: this host is marked unprotected" "wdhost .*live \(this host, unprotected: no watchdog\)" "$T_OUT"
t_run "hosts --json" -- "$SM" hosts wdls --json
t_match "hosts --json: this host's record says unprotected" "^\[True\]$" \
	"$(json_get '[h["unprotected"] for h in j["hosts"] if h["this_host"]]' <<<"$T_OUT")"
t_run "metrics" -- "$SM" metrics
t_match "metrics: sync_manager_unprotected 1" "^sync_manager_unprotected 1$" "$T_OUT"
t_match "the daemon log warns at the join" "joining the lockspace of .* without a watchdog \(watchdog = none\): this host runs unprotected" "$(cat "$T_DIR/none.log")"
t_run "leave" -- "$SM" leave wdls
stop_daemon

# ---- 3. control: watchdog = auto finds an emulated host's watchdog --------------
if [[ $(id -u) -ne 0 ]] || ! unshare --pid --fork --mount-proc true 2>/dev/null; then
	t_log "skipping the emulated-host control (needs root and PID namespaces)"
	t_done
fi
H_WATCHDOG=auto h_start 1 "watchdog_device = $NODEV" || t_done
t_run "auto inside an emulated host: join" -- h_sm 1 join "$V"
t_run "status" -- h_sm 1 status
t_match "status: watchdog emulated" "^sync_managerd pid .*watchdog emulated, 3 s" "$T_OUT"
if grep -q "unprotected" <<<"$T_OUT"; then t_fail "status calls a protected host unprotected: $T_OUT"
else t_ok "status does not call it unprotected"; fi
t_run "status --json" -- h_sm 1 status --json
t_match "status --json: not unprotected" "^False$" "$(json_get 'j["daemon"]["unprotected"]' <<<"$T_OUT")"
t_run "hosts --json" -- h_sm 1 hosts wdls --json
t_match "hosts --json: this host is protected" "^\[False\]$" \
	"$(json_get '[h["unprotected"] for h in j["hosts"] if h["this_host"]]' <<<"$T_OUT")"
t_run "metrics" -- h_sm 1 metrics
t_match "metrics: sync_manager_unprotected 0" "^sync_manager_unprotected 0$" "$T_OUT"
t_run "leave" -- h_sm 1 leave wdls
h_stop_all
t_done
