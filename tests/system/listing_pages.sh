#!/bin/bash
# Listings at any size (issue 19 item 3): status is paged (a cursor in each
# request; the library asks page after page and merges them), so what it
# lists is not bounded by the 1 MiB message limit.  A tiny page size
# (SYNC_MANAGER_LIST_PAGE_SIZE, a testing knob of the client library) makes
# 40 processes and 40 leases span a dozen pages; status and status --json
# must still list each exactly once, and --json must be one JSON document.
source "$(dirname "$0")/lib.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root"; exit 77; }

export SYNC_MANAGER_RUN_DIR=$T_DIR/run
mkdir -p "$SYNC_MANAGER_RUN_DIR"
printf 'watchdog = none\nlog_level = warn\n' > "$T_DIR/d.conf"
SYNC_MANAGERD_CONFIG=$T_DIR/d.conf "$SMD" -D >> "$T_DIR/daemon.log" 2>&1 &
DPID=$!
T_PIDS+=("$DPID")
retry_until() { local n=$1; shift; for ((i = 0; i < n * 10; i++)); do "$@" && return 0; sleep 0.1; done; return 1; }
retry_until 10 timeout --foreground 5 "$SM" status >/dev/null && t_ok "daemon up" || t_fail "daemon did not start"

V=$T_DIR/leases
t_run "format a volume" -- timeout --foreground 60 "$SM" init "$V" --lockspace ls --max-hosts 4 --resources 60 \
	--io-timeout 1 --watchdog-timeout 3
t_run "join" -- timeout --foreground 60 "$SM" join "$V" --host-id 1

coproc MANY { timeout --foreground 300 "$SM_BIN/tests/sm_clients" many 40 ls p 2>&1; }
many_in=${MANY[1]} many_out=${MANY[0]} many_pid=$MANY_PID
read -r -t 300 line <&"$many_out" && echo "    $line"
t_match "40 processes hold 40 leases" "40 processes registered and 40 leases" "$line"

pages() { timeout --foreground 10 "$SM" metrics | awk '/^sync_manager_listing_pages_total/ {print $2}'; }
before=$(pages)
t_run "status --json in pages of 7 records" -- env SYNC_MANAGER_LIST_PAGE_SIZE=7 \
	timeout --foreground 30 "$SM" status --json
json=$T_OUT
after=$(pages)
echo "    pages served: $((after - before))"
[[ $((after - before)) -ge 12 ]] && t_ok "it took at least 12 pages (80 records, 7 a page)" \
	|| t_fail "status was not paged: $before -> $after pages"
python3 - "$json" <<'PY' && t_ok "one JSON document with each process and lease once" || t_fail "paged status --json"
import json, sys
d = json.loads(sys.argv[1])
procs, leases = d["processes"], d["leases"]
pids = [p["pid"] for p in procs]
names = [(l["lockspace"], l["resource"]) for l in leases]
assert len(pids) == len(set(pids)) == d["daemon"]["processes"] == 40, (len(pids), d["daemon"])
assert len(names) == len(set(names)) == d["daemon"]["leases"] == 40, (len(names), d["daemon"])
assert pids == sorted(pids), "processes in pid order"
assert len(d["lockspaces"]) == 1, d["lockspaces"]
PY
t_run "the table form in pages of 7" -- env SYNC_MANAGER_LIST_PAGE_SIZE=7 timeout --foreground 30 "$SM" status
t_match "lists the last process's lease" "ls +p39|p39" "$T_OUT"
[[ $(grep -Ec '(^| )p[0-9]+( |$)' <<<"$T_OUT") -ge 40 ]] && t_ok "and all 40 leases" \
	|| t_fail "table lacks leases: $T_OUT"
t_run "status with the daemon's page size" -- timeout --foreground 30 "$SM" status --json
python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["processes"]) == 40' <<<"$T_OUT" \
	&& t_ok "one page by default lists all 40" || t_fail "default page"
t_run "hosts --json in pages of 1" -- env SYNC_MANAGER_LIST_PAGE_SIZE=1 timeout --foreground 30 "$SM" hosts ls --json
python3 -c 'import json,sys; d=json.load(sys.stdin); assert [h["host_id"] for h in d["hosts"]] == [1], d' <<<"$T_OUT" \
	&& t_ok "hosts lists this host once" || t_fail "paged hosts: $T_OUT"

exec {many_in}>&-
read -r -t 300 line <&"$many_out" && echo "    $line"
wait "$many_pid" && t_ok "the clients ended cleanly" || t_fail "many-clients helper failed"
t_run "clean shutdown" -- timeout --foreground 30 "$SM" shutdown
t_done
