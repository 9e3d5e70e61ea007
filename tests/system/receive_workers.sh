#!/bin/bash
# Waiting receives do not take the daemon's shared workers (issue 16, item 5):
# with as many `run --receive --wait 60` in flight as the daemon has workers
# (4), an unrelated acquire on the same host is still served at once, not
# after a receive gives up.  Two emulated hosts, d = 1 s, W = 3 s (about 10 s).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (namespaces)"; exit 77; }

V=$T_DIR/leases
WORKERS=4
t_run "format the shared volume" -- "$SM" init "$V" --lockspace ls --max-hosts 4 --resources 8 \
	--io-timeout 1 --watchdog-timeout 3 --resource r1 --resource r2 --resource r3 --resource r4 --resource other

h_start 1 || t_done
h_start 2 "workers = $WORKERS" || t_done
for n in 1 2; do
	t_run "host $n joins as host_id $n" -- h_sm "$n" join "$V" --host-id "$n"
done

# Host 1 holds r1..r4 until $T_DIR/go exists; host 2 asks for each by hand-off.
for ((i = 1; i <= WORKERS; i++)); do
	h_bg 1 "$T_DIR/hold$i.log" "$SM" run -l "ls:r$i" -- \
		sh -c "while [ ! -e '$T_DIR/go' ]; do sleep 0.1; done" >/dev/null
	retry_until 15 grep -q "acquired ls:r$i" "$T_DIR/hold$i.log" || t_fail "r$i on host 1: $(cat "$T_DIR/hold$i.log")"
done
for ((i = 1; i <= WORKERS; i++)); do
	h_bg 2 "$T_DIR/recv$i.log" "$SM" run --receive -l "ls:r$i" --wait 60 -- true >/dev/null
done
# every receive has posted its request and waits (the leader shows it)
for ((i = 1; i <= WORKERS; i++)); do
	retry_until 15 bash -c "timeout --foreground 10 '$SM' direct inquire '$V:r$i' | grep -q 'hand-off requested by host_id 2'" \
		|| t_fail "no hand-off request of host 2 on r$i: $T_OUT"
done

t0=$(now_ms)
if h_exec 2 timeout --foreground 20 "$SM" run -l ls:other -- true >"$T_DIR/other.log" 2>&1; then
	t_ok "host 2 acquired ls:other in $(($(now_ms) - t0)) ms while $WORKERS receives wait"
	(( $(now_ms) - t0 < 10000 )) && t_ok "served in under 10 s" || t_fail "served only after $(($(now_ms) - t0)) ms"
else
	t_fail "host 2 could not acquire ls:other within 20 s while $WORKERS receives wait: $(cat "$T_DIR/other.log")"
fi

# The receives still complete: the holders exit and hand their leases over.
touch "$T_DIR/go"
for ((i = 1; i <= WORKERS; i++)); do
	retry_until 30 grep -q "received ls:r$i exclusive" "$T_DIR/recv$i.log" \
		&& t_ok "host 2 received r$i" || t_fail "r$i was not handed over: $(cat "$T_DIR/recv$i.log")"
done

h_stop_all
t_done
