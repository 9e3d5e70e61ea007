#!/bin/bash
# One sync_managerd: many clients and leases, malformed messages, and
# authorization, while a legitimate holder keeps its lease throughout.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root"; exit 77; }

export SYNC_MANAGER_RUN_DIR=$T_DIR/run
mkdir -p "$SYNC_MANAGER_RUN_DIR"
printf 'watchdog = none\nmax_clients = 5000\nlog_level = warn\n' > "$T_DIR/d.conf"
SYNC_MANAGERD_CONFIG=$T_DIR/d.conf "$SMD" -D >> "$T_DIR/daemon.log" 2>&1 &
DPID=$!
T_PIDS+=("$DPID")
retry_until 10 "$SM" status >/dev/null && t_ok "daemon up" || t_fail "daemon did not start"

V=$T_DIR/leases
t_run "format a volume with room for 1100 resources" -- "$SM" init "$V" --lockspace ls --max-hosts 8 \
	--resources 1100 --io-timeout 1 --watchdog-timeout 3 --resource keep
t_run "join" -- "$SM" join "$V" --host-id 1
t_run "status" -- "$SM" status
t_match "status shows the renewal age, duration and worst duration" \
	"RENEWED +TOOK +MAX TOOK +EXPIRES IN" "$T_OUT"
t_match "the claim counts as a renewal of a few ms, not the 2d join wait" "ls +joined +1 +1 +[0-9.]+ s ago +[0-9]+ ms +[0-9]+ ms" "$T_OUT"

"$SM" run -l ls:keep --name keeper -- sleep 1000 > "$T_DIR/keeper.log" 2>&1 &
T_PIDS+=("$!")
retry_until 10 grep -q "acquired ls:keep" "$T_DIR/keeper.log" && t_ok "a holder keeps ls:keep" || t_fail "keeper"
keeper=$(sed -n 's/.*running sleep as pid \([0-9]*\).*/\1/p' "$T_DIR/keeper.log" | head -n1)

# Malformed messages.
t_run "malformed, truncated, oversized and random messages" -- python3 "$(dirname "$0")/proto_abuse.py" \
	"$SYNC_MANAGER_RUN_DIR/sync_managerd.sock" 7
echo "$T_OUT" | sed 's/^/    /'

# Restricted connections may do nothing.
t_run "a restricted registration may issue no requests" -- "$SM_BIN/tests/sm_clients" restricted
t_match "denied with a reason" "restricted" "$T_OUT"

# Ordinary users: only for themselves.  (The socket is 0660 root; open it up
# for this test so an unprivileged user can reach the daemon at all.)
chmod 0666 "$SYNC_MANAGER_RUN_DIR/sync_managerd.sock"
chmod 0755 "$T_DIR" "$SYNC_MANAGER_RUN_DIR"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups env SYNC_MANAGER_RUN_DIR="$SYNC_MANAGER_RUN_DIR")
"$SM" resource add "$V" userlease >/dev/null 2>&1 || true
t_run "an ordinary user acquires and releases for itself" -- "${NOBODY[@]}" "$SM_BIN/tests/sm_clients" self ls:userlease
t_run "an ordinary user may not act for another process" -- "${NOBODY[@]}" "$SM_BIN/tests/sm_clients" other "$keeper" ls:x
t_match "the refusal explains itself" "not yours" "$T_OUT"
t_refused "an ordinary user may not join lockspaces" "root or the admin group" -- "${NOBODY[@]}" "$SM" join "$V"

# acquire/inquire/convert/release for a process, as an administrator.
sleep 1000 &
victim=$!
T_PIDS+=("$victim")
"$SM" resource add "$V" adm1 >/dev/null
t_run "acquire for a process by pid" -- "$SM" acquire ls:adm1 --pid "$victim"
t_run "inquire it" -- "$SM" inquire --pid "$victim"
t_match "holds adm1 EX" "ls:adm1 EX lver 1" "$T_OUT"
t_run "convert to shared" -- "$SM" convert ls:adm1 --pid "$victim" --shared
t_run "inquire again" -- "$SM" inquire --pid "$victim" --json
t_match "now SH" '"mode": "SH"' "$T_OUT"
t_run "release it" -- "$SM" release ls:adm1 --pid "$victim"
t_run "inquire: nothing" -- "$SM" inquire --pid "$victim"
t_match "no leases" "holds no leases" "$T_OUT"
kill "$victim"

# 1000 registered processes, each holding its own lease.
coproc MANY { "$SM_BIN/tests/sm_clients" many 1000 ls c 2>&1; }
many_in=${MANY[1]} many_out=${MANY[0]} many_pid=$MANY_PID
read -r -t 300 line <&"$many_out" && echo "    $line"
t_match "1000 processes and 1000 leases" "1000 processes registered and 1000 leases" "$line"
rss=$(awk '/VmRSS/ {print $2}' /proc/$DPID/status)
echo "    daemon RSS with 1001 leases: ${rss} kB"
t_run "status lists them" -- "$SM" status --json
python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["daemon"]["leases"] == 1001, d["daemon"]' <<<"$T_OUT" \
	&& t_ok "status --json counts 1001 leases" || t_fail "status count"
exec {many_in}>&-
read -r -t 300 line <&"$many_out" && echo "    $line"
t_match "all released when the processes die" "all 1000 leases released" "$line"
wait "$many_pid" && t_ok "many-clients helper succeeded" || t_fail "many-clients helper failed"

grep -q "acquired ls:keep" "$T_DIR/keeper.log" && kill -0 "$keeper" && t_ok "the keeper held its lease throughout" \
	|| t_fail "keeper lost"
t_run "keeper's lease is intact" -- "$SM" inquire --pid "$keeper"
t_match "keep held" "ls:keep EX" "$T_OUT"
t_run "metrics" -- "$SM" metrics
t_match "Prometheus exposition" "^sync_manager_leases_held 1$" "$T_OUT"
t_match "bad messages counted" "^sync_manager_bad_messages_total [1-9]" "$T_OUT"
# docs/metrics.md and the daemon agree: every documented metric is exported
# and every exported one documented; histograms are well formed.
python3 - "$SM_SRC/docs/metrics.md" "$T_OUT" <<'PY' && t_ok "metrics match docs/metrics.md; histograms consistent" || t_fail "metrics vs docs"
import re, sys
text = open(sys.argv[1]).read()
doc = set(re.findall(r"^\| `(sync_manager_[a-z_]+)` \| [a-z]+ \|", text, re.M))
# metrics documented as having no sample in some state (this daemon has no watchdog)
optional = set(re.findall(r"^\| `(sync_manager_[a-z_]+)` \|.*\(no sample", text, re.M))
out = sys.argv[2].splitlines()
typed = {l.split()[2]: l.split()[3] for l in out if l.startswith("# TYPE ")}
assert doc, "no metrics found in the docs"
assert doc == set(typed), ("documented only", sorted(doc - set(typed)), "exported only", sorted(set(typed) - doc))
samples = [l for l in out if l and not l.startswith("#")]
for name, kind in typed.items():
    if kind != "histogram":
        assert name in optional or any(re.match(re.escape(name) + r"(\{|\s)", l) for l in samples), name
        continue
    series = {}
    for l in samples:
        m = re.match(re.escape(name) + r'_bucket\{(.*?)le="([^"]+)"\} (\S+)$', l)
        if m:
            series.setdefault(m.group(1), []).append((float("inf") if m.group(2) == "+Inf" else float(m.group(2)), float(m.group(3))))
    assert series, name + ": no buckets"
    for labels, b in series.items():
        assert [x for x, _ in b] == sorted(x for x, _ in b) and b[-1][0] == float("inf"), (name, b)
        assert all(b[i][1] <= b[i + 1][1] for i in range(len(b) - 1)), (name, "not cumulative", b)
        cnt = [l for l in samples if l.startswith(name + "_count") and labels.rstrip(",") in l]
        assert cnt and float(cnt[0].split()[-1]) == b[-1][1], (name, "count != +Inf bucket")
PY
t_refused "shutdown is refused while leases are held" "lease\(s\) are held" -- "$SM" shutdown
kill "$keeper"
retry_until 10 bash -c "\"$SM\" status --json | grep -q '\"leases\": 0'" && t_ok "keeper's lease released" || t_fail "release"
# join by lockspace name, and by a path relative to the caller's directory.
t_refused "join by an unknown lockspace name" "no lockspace named 'nosuch' is known.*give its volume" -- "$SM" join nosuch
t_run "leave" -- "$SM" leave ls
t_run "rejoin by name (the daemon knows ls)" -- "$SM" join ls --host-id 1
t_match "joined again, next generation" "joined lockspace ls as host_id 1 generation 2" "$T_OUT"
t_run "leave again" -- "$SM" leave ls
t_run "join by a relative path" -- bash -c "cd '$T_DIR' && '$SM' join leases --host-id 1"
t_match "joined from the relative path" "joined lockspace ls as host_id 1 generation 3" "$T_OUT"

# leave --force: the holder dies and its lease is released before the slot is freed.
"$SM" run -l ls:keep --name victim2 -- sleep 1000 > "$T_DIR/v2.log" 2>&1 &
T_PIDS+=("$!")
retry_until 10 grep -q "acquired ls:keep" "$T_DIR/v2.log" && t_ok "a holder takes ls:keep again" || t_fail "victim2"
v2=$(sed -n 's/.*running sleep as pid \([0-9]*\).*/\1/p' "$T_DIR/v2.log" | head -n1)
t_refused "leave is refused while a process holds a lease" "held by processes.*--force" -- "$SM" leave ls
t_run "leave --force" -- "$SM" leave ls --force
! kill -0 "$v2" 2>/dev/null && t_ok "the holder was dead when the leave returned" || t_fail "holder $v2 still alive"
t_run "dump after the forced leave" -- "$SM" dump "$V"
t_match "its lease was released on disk" "keep +[0-9]+ +- +- +[0-9]+ +free" "$T_OUT"
t_match "and the slot is free" "^ +1 +[^ ]+ +3 .* free$" "$T_OUT"

# --check-config: names the file, line and key of the first error; prints a
# valid file with every effective value.
printf 'watchdog = none\nworkers = 99999\n' > "$T_DIR/bad.conf"
t_refused "--check-config rejects an out-of-range value" "bad.conf:2: workers: '99999' is out of range \(1 \.\. 64\)" -- \
	env SYNC_MANAGERD_CONFIG="$T_DIR/bad.conf" "$SMD" --check-config
printf 'watchdog = none\nbogus_key = 1\n' > "$T_DIR/bad2.conf"
t_refused "--check-config rejects an unknown key" "bad2.conf:2: .*bogus_key" -- \
	env SYNC_MANAGERD_CONFIG="$T_DIR/bad2.conf" "$SMD" --check-config
t_run "--check-config accepts the running configuration" -- env SYNC_MANAGERD_CONFIG="$T_DIR/d.conf" "$SMD" --check-config
t_match "and prints effective values" "max_clients = 5000" "$T_OUT"

t_run "clean shutdown" -- "$SM" shutdown
retry_until 10 bash -c "! kill -0 $DPID 2>/dev/null" && t_ok "daemon exited" || t_fail "daemon still running"
t_done
