#!/bin/bash
# Two hosts join the same lockspace by name at the same moment (issue 10,
# item 8): both read the host area, both pick the first free host_id and
# claim it.  The storage holds both claims back until both are written (a
# fault rule that hangs writes to the volume; removing the rule lets them
# land), so the race happens every run.  The host whose claim was overwritten
# must take the next free host_id by itself, after the delta-lease wait, and
# both joins succeed with different host ids.  d = 3 s (J = 6.1 s): a claim may stay
# held back for up to d before its write times out.  About 20 s.
export SM_TEST_TMPDIR=/var/tmp
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (sync_managerd)"; exit 77; }

V=$T_DIR/racevol
t_run "format the volume" -- "$SM" init "$V" --lockspace race --max-hosts 4 --resources 2 --io-timeout 3 \
	--watchdog-timeout 1

declare -A DPID
for n in 1 2; do
	mkdir -p "$T_DIR/h$n"
	printf 'watchdog = none\nlog_level = debug\nhost_name = racer%s\n' "$n" > "$T_DIR/h$n/d.conf"
	# every write to the volume hangs until the rule file is removed
	echo "write hang racevol" > "$T_DIR/h$n/faults"
	SYNC_MANAGER_RUN_DIR=$T_DIR/h$n SYNC_MANAGERD_CONFIG=$T_DIR/h$n/d.conf SYNC_MANAGER_TEST_FAULTS=$T_DIR/h$n/faults \
		"$SMD" -D >> "$T_DIR/h$n/daemon.log" 2>&1 &
	DPID[$n]=$!
	T_PIDS+=("$!")
done
for n in 1 2; do
	retry_until 20 env SYNC_MANAGER_RUN_DIR="$T_DIR/h$n" "$SM" status && t_ok "daemon $n is up" \
		|| { t_fail "daemon $n did not start: $(tail -5 "$T_DIR/h$n/daemon.log")"; t_done; }
done

for n in 1 2; do
	SYNC_MANAGER_RUN_DIR=$T_DIR/h$n "$SM" join "$V" > "$T_DIR/join$n.out" 2>&1 &
	JPID[$n]=$!
	T_PIDS+=("$!")
done
# Both claims are written (and held back) before either lands.
hung() { grep -q "fault: hang write" "$T_DIR/h$1/daemon.log"; }
end=$(( $(now_ms) + 20000 ))
while ! { hung 1 && hung 2; } && (( $(now_ms) < end )); do sleep 0.02; done
hung 1 && hung 2 && t_ok "both hosts wrote their claim before either landed" \
	|| t_fail "the claims did not both hang: $(tail -3 "$T_DIR/h1/daemon.log") $(tail -3 "$T_DIR/h2/daemon.log")"
rm -f "$T_DIR/h1/faults" "$T_DIR/h2/faults"

for n in 1 2; do
	if wait "${JPID[$n]}"; then t_ok "host $n joined"; else t_fail "host $n could not join: $(cat "$T_DIR/join$n.out")"; fi
done
id1=$(sed -n 's/.*joined lockspace race as host_id \([0-9]*\) .*/\1/p' "$T_DIR/join1.out")
id2=$(sed -n 's/.*joined lockspace race as host_id \([0-9]*\) .*/\1/p' "$T_DIR/join2.out")
[[ -n $id1 && -n $id2 && $id1 != "$id2" ]] && t_ok "with different host ids ($id1 and $id2)" \
	|| t_fail "host ids '$id1' and '$id2'"
grep -hq "another host claimed host_id 1 at the same time" "$T_DIR/h1/daemon.log" "$T_DIR/h2/daemon.log" \
	&& t_ok "one of them lost host_id 1 to the other and moved on" || t_fail "no lost claim was logged: no race happened"
t_run "dump" -- "$SM" dump "$V" --json
python3 - "$T_OUT" <<'PY' && t_ok "the volume shows racer1 and racer2 held in two slots" || t_fail "dump: $T_OUT"
import json, sys
d = json.loads(sys.argv[1])
held = sorted(h["name"] for h in d["host_area"]["hosts"] if h["state"] == "held")
assert held == ["racer1", "racer2"], d["host_area"]
PY
for n in 1 2; do kill "${DPID[$n]}" 2>/dev/null; done
t_done
