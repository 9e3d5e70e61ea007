#!/bin/bash
# Every alert in dist/sync_manager-alerts.yml (the ones docs/metrics.md
# recommends) fires from real `sync_manager metrics` output (issue 15 §4).
# Each scenario makes the trouble happen for real, a scrape is saved when
# the metrics show it, and Prometheus' own rule engine (promtool test rules,
# Debian package prometheus) evaluates the alert over a healthy scrape
# followed by that one: not firing, then firing.
#  1. one daemon, watchdog = none: SyncManagerUnprotected; a renewal whose
#     write is held back 0.6 s (d = 1 s): SyncManagerSlowRenewals; one member
#     of a volume set failing: SyncManagerVolumeSetDegraded; the daemon
#     stopped: `metrics` prints sync_manager_up 0 (SyncManagerDown).
#  2. an emulated host (W = 6 s) whose storage fails under a holder that
#     ignores SIGTERM: SyncManagerRenewalFailures, SyncManagerLeasesExpiring,
#     SyncManagerWatchdogLate, SyncManagerFenced.
# Also: the renewal histogram's top finite bucket is above every possible
# io_timeout/2 (histogram_quantile answers at most that bound, so with a top
# bucket of 5 s the slow-renewal alert could never fire at the default d =
# 10 s), and no watchdog means no watchdog_last_pet_age sample.  About 60 s.
export SM_TEST_TMPDIR=/var/tmp
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (namespaces)"; exit 77; }
command -v promtool >/dev/null || { echo "promtool missing (scripts/deps test installs prometheus)"; exit 77; }
RULES=$SM_SRC/dist/sync_manager-alerts.yml
FIRE=$(dirname "$0")/alerts_fire.py
t_run "the rules file is valid for Prometheus" -- promtool check rules "$RULES"

# mval TEXT NAME [LABELS]: the sample's value, or nothing.
mval() {
	local k=$2
	[[ -n ${3:-} ]] && k+="{$3}"
	awk -v k="$k" '$1 == k { print $2 }' <<<"$1"
}
# gt A B: A > B (floats; an empty A is false)
gt() { [[ -n $1 ]] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'; }

# ---- 1. one daemon, watchdog = none ----------------------------------------------
export SYNC_MANAGER_RUN_DIR=$T_DIR/run
mkdir -p "$SYNC_MANAGER_RUN_DIR"
FAULTS=$T_DIR/faults
V=$T_DIR/single.vol S=("$T_DIR/set-a.vol" "$T_DIR/set-b.vol" "$T_DIR/set-c.vol")
t_run "format a volume (d = 1 s)" -- "$SM" init "$V" --lockspace ls --max-hosts 4 --resources 2 --io-timeout 1 \
	--watchdog-timeout 3
t_run "format a volume set" -- "$SM" init "${S[@]}" --lockspace vs --max-hosts 4 --resources 2 --io-timeout 1 \
	--watchdog-timeout 3
printf 'watchdog = none\nlog_level = info\n' > "$T_DIR/d.conf"
SYNC_MANAGERD_CONFIG=$T_DIR/d.conf SYNC_MANAGER_TEST_FAULTS=$FAULTS "$SMD" -D >> "$T_DIR/daemon.log" 2>&1 &
DPID=$!
T_PIDS+=("$DPID")
retry_until 20 "$SM" status || { t_fail "daemon did not start: $(tail -5 "$T_DIR/daemon.log")"; t_done; }
t_run "join ls" -- "$SM" join "$V" --host-id 1
t_run "join the volume set vs" -- "$SM" join "${S[0]},${S[1]},${S[2]}" --host-id 1
sleep 2.5 # a renewal of each
"$SM" metrics > "$T_DIR/p1-base.prom"
B0=$(cat "$T_DIR/p1-base.prom")
t_match "healthy: up 1" "^sync_manager_up 1$" "$B0"
t_match "no watchdog: its timeout has no sample" "^# TYPE sync_manager_watchdog_timeout_seconds gauge$" "$B0"
if grep -q "^sync_manager_watchdog_last_pet_age_seconds " <<<"$B0"; then
	t_fail "no watchdog, yet watchdog_last_pet_age_seconds has a sample: $(grep last_pet_age <<<"$B0")"
else
	t_ok "no watchdog: no watchdog_last_pet_age_seconds sample (0 would read as 'just petted')"
fi
t_match "io_timeout exported per lockspace" '^sync_manager_lockspace_io_timeout_seconds\{lockspace="ls"\} 1$' "$B0"
t_match "F exported per lockspace" '^sync_manager_lockspace_renewal_fail_timeout_seconds\{lockspace="ls"\} 8$' "$B0"
# The histogram's top finite bound, against the largest io_timeout a volume may have (600 s).
top=$(sed -n 's/^sync_manager_renewal_latency_seconds_bucket{lockspace="ls",le="\([0-9.e+]*\)"}.*/\1/p' <<<"$B0" |
	sort -g | tail -n1)
gt "$top" 300 && t_ok "top finite renewal bucket ${top} s > 600 s / 2: the slow-renewal alert can fire at any d" ||
	t_fail "top finite renewal bucket is ${top:-missing} s: histogram_quantile cannot exceed it, so an alert at d/2 \
cannot fire for d >= $(python3 -c "print(2 * float('${top:-0}'))") s"

# A slow renewal: hold every write back, from before the next renewal
# (R = 2 s after the last one started) until 0.7 s after it started, so
# it succeeds in about 0.7 s: more than d/2, less than d.  Retried if the
# machine was too slow to release it within d (the renewal then fails and
# is not in the histogram).
slow=
for attempt in 1 2 3 4; do
	T_OUT=$("$SM" metrics)
	t=$(now_ms)
	age=$(mval "$T_OUT" sync_manager_lockspace_last_renewal_age_seconds 'lockspace="ls"')
	age_ms=$(awk -v a="${age:-9}" 'BEGIN { printf "%d", a * 1000 }')
	if (( age_ms > 1300 )); then sleep 1; continue; fi
	echo "write hang single.vol" > "$FAULTS"
	release=$(( t - age_ms + 2000 + 700 ))
	sleep "$(awk -v ms=$(( release - $(now_ms) )) 'BEGIN { printf "%.3f", (ms > 0 ? ms : 0) / 1000 }')"
	rm -f "$FAULTS"
	sleep 0.5
	T_OUT=$("$SM" metrics)
	c1=$(mval "$T_OUT" sync_manager_renewal_latency_seconds_bucket 'lockspace="ls",le="0.5"')
	c2=$(mval "$T_OUT" sync_manager_renewal_latency_seconds_bucket 'lockspace="ls",le="1"')
	if [[ -n $c1 && -n $c2 ]] && (( c2 > c1 )); then slow=1; break; fi
	t_log "attempt $attempt: no renewal between 0.5 and 1 s (last took $(mval "$T_OUT" \
sync_manager_lockspace_last_renewal_duration_seconds 'lockspace="ls"') s)"
	sleep 3
done
[[ -n $slow ]] && t_ok "a renewal took between d/2 and d" || t_fail "no slow renewal happened in 4 attempts"
echo "$T_OUT" > "$T_DIR/p1-slow.prom"

# One member of the volume set fails.
echo "any eio set-b.vol" > "$FAULTS"
retry_until 15 bash -c "\"$SM\" metrics | grep -q '^sync_manager_lockspace_members_down{lockspace=\"vs\"} 1$'" &&
	t_ok "members_down 1 while set-b fails" || t_fail "members_down did not become 1"
"$SM" metrics > "$T_DIR/p1-degraded.prom"
rm -f "$FAULTS"

# The daemon goes away: `metrics` still prints, sync_manager_up 0.
t_run "leave ls" -- "$SM" leave ls
t_run "leave vs" -- "$SM" leave vs
kill -TERM "$DPID"
wait "$DPID" 2>/dev/null
"$SM" metrics > "$T_DIR/p1-down.prom" 2> "$T_DIR/p1-down.err"
rc=$?
(( rc == 0 )) && t_ok "metrics without a daemon exits 0 (its output is valid)" || t_fail "metrics exit $rc"
t_match "... and prints sync_manager_up 0" "^sync_manager_up 0$" "$(cat "$T_DIR/p1-down.prom")"
t_match "... and says why on stderr" "sync_managerd is not running" "$(cat "$T_DIR/p1-down.err")"
t_run "promtool accepts it" -- promtool check metrics < "$T_DIR/p1-down.prom"

# The documented cron recipe (docs/metrics.md), run as written, with the daemon down:
# the file says up 0, and no temporary file is left.
PROMDIR=$T_DIR/textfile
mkdir -p "$PROMDIR"
echo "sync_manager_up 1" > "$PROMDIR/sync_manager.prom"
recipe=$(sed -n '/^```sh$/,/^```$/p' "$SM_SRC/docs/metrics.md" | grep -m1 'sync_manager metrics' |
	sed 's/^[^a-z]*root //')
[[ -n $recipe ]] && t_ok "the recipe: $recipe" || t_fail "no cron recipe in docs/metrics.md"
recipe=${recipe//\/var\/lib\/prometheus\/node-exporter/$PROMDIR}
PATH=$SM_BIN:$PATH bash -c "$recipe" 2>/dev/null
t_match "after the recipe with no daemon, the file says up 0" "^sync_manager_up 0$" "$(cat "$PROMDIR/sync_manager.prom")"
left=$(ls "$PROMDIR" | grep -v '^sync_manager.prom$')
[[ -z $left ]] && t_ok "no temporary file left" || t_fail "left behind: $left"

# ---- 2. an emulated host, its storage failing ---------------------------------------
H_WATCHDOG_MS=6000
E=$T_DIR/host.vol
t_run "format a volume (d = 1 s, W = 6 s)" -- "$SM" init "$E" --lockspace els --max-hosts 4 --resources 2 \
	--io-timeout 1 --watchdog-timeout 6 --resource r1
h_start 1 || t_done
t_run "host 1 joins" -- h_sm 1 join "$E" --host-id 1
cat > "$T_DIR/stubborn.sh" <<'EOF'
#!/bin/bash
trap '' TERM
while :; do sleep 0.1; done
EOF
chmod +x "$T_DIR/stubborn.sh"
h_bg 1 "$T_DIR/holder.log" "$SM" run -l els:r1 --name stubborn -- "$T_DIR/stubborn.sh" >/dev/null
retry_until 10 grep -q "acquired els:r1" "$T_DIR/holder.log" && t_ok "a holder that ignores SIGTERM holds els:r1" ||
	t_fail "holder: $(cat "$T_DIR/holder.log")"
sleep 2
h_sm 1 metrics > "$T_DIR/p2-base.prom"
t_match "healthy host: watchdog armed" "^sync_manager_watchdog_armed 1$" "$(cat "$T_DIR/p2-base.prom")"
t_match "... its timeout exported" "^sync_manager_watchdog_timeout_seconds 6$" "$(cat "$T_DIR/p2-base.prom")"

# Storage fails; scrape every 0.1 s and keep the first scrape showing each trouble.
h_fault 1 "any eio"
declare -A got=()
end=$(( $(now_ms) + 25000 ))
while (( $(now_ms) < end )) && (( ${#got[@]} < 4 )); do
	T_OUT=$(h_sm 1 metrics 2>/dev/null) || break
	l='lockspace="els"'
	fails=$(mval "$T_OUT" sync_manager_lockspace_renewal_failures_total "$l")
	[[ -z ${got[fail]:-} ]] && gt "$fails" 0 && { echo "$T_OUT" > "$T_DIR/p2-fail.prom"; got[fail]=1; }
	exp=$(mval "$T_OUT" sync_manager_lockspace_lease_expiry_seconds "$l")
	[[ -z ${got[exp]:-} ]] && [[ $(mval "$T_OUT" sync_manager_lockspace_joined "$l") == 1 ]] && gt "$exp" 0 &&
		gt 4 "$exp" && { echo "$T_OUT" > "$T_DIR/p2-expiring.prom"; got[exp]=1; }
	pet=$(mval "$T_OUT" sync_manager_watchdog_last_pet_age_seconds)
	[[ -z ${got[pet]:-} ]] && gt "$pet" 3 && { echo "$T_OUT" > "$T_DIR/p2-late.prom"; got[pet]=1; }
	[[ -z ${got[fenced]:-} ]] && gt "$(mval "$T_OUT" sync_manager_fencings_total)" 0 &&
		{ echo "$T_OUT" > "$T_DIR/p2-fenced.prom"; got[fenced]=1; }
	sleep 0.1
done
for k in fail exp pet fenced; do
	[[ -n ${got[$k]:-} ]] && t_ok "scraped: $k" || t_fail "no scrape showed $k (${!got[*]} did)"
done
h_fault 1 ""
retry_until 10 grep -q "killed by signal" "$T_DIR/holder.log" && t_ok "the holder was SIGKILLed" ||
	t_fail "holder: $(cat "$T_DIR/holder.log")"
h_alive 1 && t_ok "host 1 was not reset (the holder died in time)" || t_log "host 1 was reset"

# ---- the alerts, evaluated by Prometheus ---------------------------------------------
t_run "every alert fires (promtool test rules)" -- python3 "$FIRE" "$RULES" "$T_DIR/p1-base.prom" \
	--baseline-fires SyncManagerUnprotected -- \
	'SyncManagerSlowRenewals{lockspace=ls}@'"$T_DIR/p1-slow.prom" \
	'SyncManagerVolumeSetDegraded{lockspace=vs}@'"$T_DIR/p1-degraded.prom" \
	"SyncManagerDown@$T_DIR/p1-down.prom"
echo "$T_OUT" | sed 's/^/    /'
t_run "... and on the emulated host" -- python3 "$FIRE" "$RULES" "$T_DIR/p2-base.prom" -- \
	"SyncManagerUnprotected@$T_DIR/p1-base.prom" \
	'SyncManagerRenewalFailures{lockspace=els}@'"$T_DIR/p2-fail.prom" \
	'SyncManagerLeasesExpiring{lockspace=els}@'"$T_DIR/p2-expiring.prom" \
	"SyncManagerWatchdogLate@$T_DIR/p2-late.prom" \
	"SyncManagerFenced@$T_DIR/p2-fenced.prom"
echo "$T_OUT" | sed 's/^/    /'
n_rules=$(grep -c '^      - alert:' "$RULES")
(( n_rules == 8 )) && t_ok "all $n_rules alerts of the rules file were made to fire" ||
	t_fail "the rules file has $n_rules alerts: add the new ones to this test"
h_stop_all
t_done
