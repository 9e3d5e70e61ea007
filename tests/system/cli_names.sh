#!/bin/bash
# Names an administrator meets at the CLI: hosts are named by their hostname
# (the machine-id stays behind it, in --json), a host that joined under its
# machine-id (the default of earlier versions) finds its host_id again, and
# `resource add|rm|ls` take a lockspace name the daemon knows.  One daemon,
# no watchdog, d = 0.5 s.  About 10 s.
#
# Volume and run directory on /var/tmp: a disk file system (O_DIRECT) with a
# path short enough for a socket.
export SM_TEST_TMPDIR=/var/tmp
source "$(dirname "$0")/lib.sh"

unset SYNC_MANAGER_HOST_NAME
MID=5e0c6f1a2b3c4d5e8f9a0b1c2d3e4f50
export SYNC_MANAGER_MACHINE_ID=$MID
export SYNC_MANAGER_RUN_DIR=$T_DIR/run
HN=$(hostname)
# A hostname every host may have is no name: then the machine-id is.
[[ $HN =~ ^localhost || ! $HN =~ ^[[:graph:]]{1,63}$ || $HN == *[:/]* ]] && HN=$MID
V=$T_DIR/leases

t_run "init" -- "$SM" init "$V" --lockspace names --max-hosts 4 --resources 8 --io-timeout 0.5 --resource vm-1

# ---- 1. without a daemon, a lockspace name is refused with the fix ----------------
t_refused "resource ls by name without a daemon says to give the volume" \
	"names: no such volume, and no sync_managerd runs to look up a lockspace of that name: give the volume" \
	-- "$SM" resource ls names
t_refused "resource add by name without a daemon, too" "give the volume \(PATH\[:OFFSET\] or A,B,C\)" \
	-- "$SM" resource add names vm-2
t_refused "a missing path is still a missing volume" "cannot (open|read) volume $T_DIR/nothing: No such file" \
	-- "$SM" resource ls "$T_DIR/nothing"

# ---- 2. a host that joined under its machine-id (an earlier version) -------------
t_run "an earlier version joined as host_id 3 named by the machine-id" -- \
	"$SM" direct join "$V" --host-id 3 --host-name "$MID"
t_run "... and left (the daemon is upgraded)" -- "$SM" direct leave "$V" --host-id 3

printf 'watchdog = none\nlog_level = warn\n' > "$T_DIR/d.conf"
SYNC_MANAGERD_CONFIG=$T_DIR/d.conf "$SMD" -D >> "$T_DIR/daemon.log" 2>&1 &
T_PIDS+=("$!")
retry_until() { local n=$1 i; shift; for ((i = 0; i < n * 5; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
retry_until 20 "$SM" status || { t_fail "daemon did not start: $(tail -5 "$T_DIR/daemon.log")"; t_done; }
t_run "the upgraded daemon joins by name" -- "$SM" join "$V"
t_match "it finds host_id 3 again (generation 2)" "joined lockspace names as host_id 3 generation 2" "$T_OUT"
t_run "hosts" -- "$SM" hosts names
t_match "the table names the host by its hostname" "^3 +$HN +2 +live \(this host" "$T_OUT"
t_run "hosts --json" -- "$SM" hosts names --json
python3 - "$T_OUT" "$HN" "$MID" <<'PY' && t_ok "hosts --json: hostname and machine-id" || t_fail "hosts --json: $T_OUT"
import json, sys
h = json.loads(sys.argv[1])["hosts"]
assert [(x["host_id"], x["name"], x["machine_id"]) for x in h] == [(3, sys.argv[2], sys.argv[3])], h
PY
t_run "status --json" -- "$SM" status --json
python3 - "$T_OUT" "$HN" "$MID" <<'PY' && t_ok "status --json: this host's name and machine-id" || t_fail "status --json: $T_OUT"
import json, sys
ls = json.loads(sys.argv[1])["lockspaces"]
assert [(x["host_name"], x["machine_id"]) for x in ls] == [(sys.argv[2], sys.argv[3])], ls
PY

# ---- 3. resource add|rm|ls by lockspace name ----------------------------------------
t_run "resource add by lockspace name" -- "$SM" resource add names vm-2
t_match "done through the daemon" "added resource vm-2 \(through sync_managerd\)" "$T_OUT"
t_run "resource ls by lockspace name" -- "$SM" resource ls names
[[ $T_OUT == $'vm-1\nvm-2' ]] && t_ok "lists vm-1 and vm-2" || t_fail "resource ls names: $T_OUT"
t_run "resource ls by volume path still works" -- "$SM" resource ls "$V"
[[ $T_OUT == $'vm-1\nvm-2' ]] && t_ok "the same list" || t_fail "resource ls $V: $T_OUT"
t_run "resource rm by lockspace name" -- "$SM" resource rm names vm-2
t_run "resource ls by name after rm" -- "$SM" resource ls names
[[ $T_OUT == vm-1 ]] && t_ok "vm-2 is gone" || t_fail "after rm: $T_OUT"
t_refused "a name the daemon does not know" "sync_managerd knows no lockspace other \(it has: names\)" \
	-- "$SM" resource ls other
t_done
