#!/bin/bash
# An idle daemon sleeps to its next deadline (issue 19, item 4): with one
# lockspace joined and nothing else to do, its event loop wakes for the
# watchdog's pets (every P = 1 s here) and the renewals (every R = 4 s), not
# every 100 ms, and the renewal thread wakes for its renewals, not every
# 50 ms.  Counted by the daemon itself (sync_manager_loop_wakeups_total,
# sync_manager_lockspace_thread_wakeups_total) over WINDOW seconds, with
# generous bounds: the old fixed ticks alone made 10 and 20 a second.
# Renewals stay on time (the start-delay metric), the host is not reset (the
# watchdog is still petted), and a leave asked for just after a renewal ends
# at once, not at the next renewal R later (about 25 s).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (namespaces)"; exit 77; }

WINDOW=8
H_WATCHDOG_MS=8000 # P = min(W/4, 1 s) = 1 s
timeout --foreground 30 "$SM" init "$T_DIR/vol" --lockspace idle --max-hosts 4 --resources 2 \
	--io-timeout 2 --watchdog-timeout 8 >/dev/null || { t_fail "format"; t_done; }
h_start 1 || t_done
t_run "join (d = 2 s: R = 4 s)" -- h_sm 1 join "$T_DIR/vol" --host-id 1

# metric NAME: its value (the first sample of that name) in host 1's metrics
metric() { h_sm 1 metrics | awk -v n="$1" '$1 == n || index($1, n "{") == 1 { print $2; exit }'; }

loop0=$(metric sync_manager_loop_wakeups_total)
thr0=$(metric sync_manager_lockspace_thread_wakeups_total)
ren0=$(metric sync_manager_lockspace_renewals_total)
if [[ -z $loop0 || -z $thr0 || -z $ren0 ]]; then
	t_fail "the metrics lack the wake-up counters: loop '$loop0', thread '$thr0', renewals '$ren0'"
	t_done
fi
sleep "$WINDOW"
loop1=$(metric sync_manager_loop_wakeups_total)
thr1=$(metric sync_manager_lockspace_thread_wakeups_total)
ren1=$(metric sync_manager_lockspace_renewals_total)
loop=$((loop1 - loop0)) thr=$((thr1 - thr0)) ren=$((ren1 - ren0))
t_log "over $WINDOW s: $loop loop wake-ups, $thr renewal-thread wake-ups, $ren renewals"

# Expected: WINDOW pets + about 2 per renewal + the metrics request's own
# (accept, request, close).  The old tick alone: 10 a second.
[[ $loop -le $((WINDOW * 4)) ]] && t_ok "loop woke $loop times in $WINDOW s (<= 4/s; a 100 ms tick makes 10/s)" ||
	t_fail "loop woke $loop times in $WINDOW s: more than 4 a second"
# Expected: one per renewal (WINDOW / R = 2).  The old 50 ms slices: 20 a second.
[[ $thr -le $((WINDOW * 2)) ]] && t_ok "renewal thread woke $thr times in $WINDOW s (<= 2/s; 50 ms slices make 20/s)" ||
	t_fail "renewal thread woke $thr times in $WINDOW s: more than 2 a second"
[[ $ren -ge 1 ]] && t_ok "renewals went on ($ren in $WINDOW s)" || t_fail "no renewal in $WINDOW s"
h_alive 1 && t_ok "host not reset: the watchdog was petted" || t_fail "host 1 was reset (watchdog not petted?)"
p99=$(h_sm 1 metrics | awk '/^sync_manager_renewal_start_delay_seconds\{.*quantile="0.99"/ { print $2; exit }')
if [[ -n $p99 ]] && awk -v v="$p99" 'BEGIN { exit !(v < 1.0) }'; then
	t_ok "renewals on time: start delay p99 $p99 s (< d/2)"
else
	t_fail "renewal start delay p99 '$p99' s: missing or not below 1 s"
fi

# A leave right after a renewal: the thread sleeps R = 4 s until its next
# one, and must be woken for the leave at once.
ren=$(metric sync_manager_lockspace_renewals_total)
for ((i = 0; i < 60; i++)); do
	[[ $(metric sync_manager_lockspace_renewals_total) -gt $ren ]] && break
	sleep 0.1
done
start=$(now_ms)
t_run "leave" -- h_sm 1 leave idle
took=$(($(now_ms) - start))
[[ $took -lt 2500 ]] && t_ok "leave took $took ms (< 2.5 s: the thread was woken, not left to sleep R)" ||
	t_fail "leave took $took ms: the renewal thread was not woken at once"
t_done
