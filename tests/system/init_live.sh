#!/bin/bash
# `init --force` on a volume whose hosts may still be alive (issue 10, item 7):
# it watches the host records for the delta-lease window first and refuses
# while any of them changes, naming the hosts; `--force-live` formats anyway
# after printing what it destroys.  d = 0.5 s, W = 1 s: R = 1 s, F = 4 s,
# H = 5 s, J = 1.1 s.  About 30 s.
#
# Volumes and the run directory live on /var/tmp: a disk file system (lease
# I/O uses O_DIRECT, which tmpfs lacks) with a path short enough for a socket.
export SM_TEST_TMPDIR=/var/tmp
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (sync_managerd)"; exit 77; }

H=5
RUN=$T_DIR/run
export SYNC_MANAGER_RUN_DIR=$RUN
printf 'watchdog = none\nlog_level = info\nhost_name = livehost\n' > "$T_DIR/d.conf"
fmt() { "$SM" init "$1" --lockspace "$2" --max-hosts 4 --resources 4 --io-timeout 0.5 --watchdog-timeout 1 \
	--resource r1 --resource r2; }
lockspace_of() { "$SM" dump "$1" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["lockspace"])'; }

SYNC_MANAGERD_CONFIG=$T_DIR/d.conf "$SMD" -D >> "$T_DIR/daemon.log" 2>&1 &
DPID=$!
T_PIDS+=("$DPID")
retry_until 20 "$SM" status && t_ok "the daemon is up" || { t_fail "no daemon: $(tail -5 "$T_DIR/daemon.log")"; t_done; }

# ---- 1. every host left: --force formats after watching for J -------------------
V1=$T_DIR/left
t_run "format a volume" -- fmt "$V1" gone
t_run "the daemon joins it" -- "$SM" join "$V1"
t_run "and leaves again" -- "$SM" leave gone
t_run "init --force formats a volume whose hosts left" -- "$SM" init "$V1" --lockspace fresh --force
t_match "it says what it watched for, with the formula" "J = 2d \+ 0\.1 s = 1\.1 s" "$T_OUT"
t_match "and that nobody renewed" "no host renewed" "$T_OUT"
[[ $(lockspace_of "$V1") == fresh ]] && t_ok "the volume holds the new lockspace" || t_fail "not reformatted"

# ---- 2. a held record that nobody renews is dead only after H of watching ------
V2=$T_DIR/dead
t_run "format a second volume" -- fmt "$V2" stale
t_run "a direct join leaves a held record that is never renewed" -- \
	"$SM" direct join "$V2" --host-id 2 --host-name crashed
# Ctrl-C during the watch writes nothing.
T_OUT=$(timeout --foreground --preserve-status -s INT 3 "$SM" init "$V2" --lockspace other --force 2>&1); rc=$?
[[ $rc -ne 0 ]] && t_ok "init --force interrupted during the watch fails (exit $rc)" || t_fail "interrupted init succeeded: $T_OUT"
t_match "it says what it waited for" "host_id 2 'crashed' generation 1" "$T_OUT"
t_match "with H and its formula" "H = F \+ W = 8d \+ W = 5 s" "$T_OUT"
t_match "and that nothing was written" "interrupted .*nothing was written" "$T_OUT"
[[ $(lockspace_of "$V2") == stale ]] && t_ok "the interrupted init left the volume as it was" || t_fail "volume changed"
t0=$(now_ms)
t_run "init --force formats over a dead host after watching it" -- "$SM" init "$V2" --lockspace other --force
el=$(( $(now_ms) - t0 ))
(( el > H * 1000 )) && t_ok "it watched for more than H ($el ms), whatever the record's timestamp says" \
	|| t_fail "formatted after $el ms, before H could pass"
t_match "it names the dead host" "host_id 2 'crashed' generation 1.*dead" "$T_OUT"
[[ $(lockspace_of "$V2") == other ]] && t_ok "the volume holds the new lockspace" || t_fail "not reformatted"

# ---- 3. a live host: --force refuses, --force-live formats ----------------------
V3=$T_DIR/live
t_run "format a third volume" -- fmt "$V3" busy
t_run "the daemon joins it" -- "$SM" join "$V3"
sleep 1000 &
holder=$!
T_PIDS+=("$holder")
t_run "a process holds r1" -- "$SM" acquire busy:r1 --pid "$holder"
t_refused "init --force refuses while the host renews" \
	"lockspace 'busy' on .* is in use" -- "$SM" init "$V3" --lockspace new --force
t_match "it names the live host" "host_id 1 'livehost' generation 1" "$T_OUT"
t_match "it says how to stop it" "sync_manager leave busy" "$T_OUT"
t_match "or stop the daemon" "sync_manager shutdown" "$T_OUT"
t_match "and names --force-live" "--force-live" "$T_OUT"
[[ $(lockspace_of "$V3") == busy ]] && t_ok "the refused init wrote nothing" || t_fail "volume changed"
t_run "status" -- "$SM" status
t_match "the host is still joined" "busy +joined +1 +1 " "$T_OUT"
kill -0 "$holder" 2>/dev/null && t_ok "the holder still runs" || t_fail "holder died"
t_refused "a damaged header cannot be checked: --force refuses" "cannot tell .*--force-live" -- \
	bash -c "cp '$V3' '$T_DIR/damaged' && printf 'X' | dd of='$T_DIR/damaged' bs=1 seek=100 conv=notrunc status=none &&
		'$SM' init '$T_DIR/damaged' --lockspace new --force"
t_run "--force-live formats anyway" -- "$SM" init "$V3" --lockspace new --force-live
t_match "after naming the host it destroys" "host_id 1 'livehost' generation 1" "$T_OUT"
t_match "and the lease it holds" "r1 EX .*host_id 1 generation 1" "$T_OUT"
[[ $(lockspace_of "$V3") == new ]] && t_ok "the volume holds the new lockspace" || t_fail "not reformatted"
t_run "--force-live formats a damaged header" -- "$SM" init "$T_DIR/damaged" --lockspace new --force-live

kill "$DPID" 2>/dev/null
t_done
