#!/bin/bash
# The Python binding (python/, docs/python.md) under pytest, against real
# daemons on emulated hosts (tests/system/hosts.sh): pytest runs inside host 1
# (the daemon learns a client's pid from its socket, so the client must be in
# the daemon's PID namespace); host 2 holds pyls:held2 through the CLI, so
# that host 1 sees a refusal naming another host.  d = 1 s, W = 3 s.  About
# 20-30 s.
export SM_TEST_TMPDIR=${SM_TEST_TMPDIR:-/var/tmp}
source "$(dirname "$0")/../system/lib.sh"
source "$(dirname "$0")/../system/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (PID namespaces for the emulated hosts)"; exit 77; }
[[ -f $SM_BIN/python/sync_manager/_native.abi3.so ]] ||
	{ t_fail "the binding is not built in $SM_BIN/python (python3-dev missing when cmake ran?)"; t_done; }
PY=${SM_PYTHON3:-/usr/bin/python3} # the interpreter the binding was built for (python/CMakeLists.txt)
timeout --foreground 30 "$PY" -c 'import pytest' 2>/dev/null ||
	{ t_fail "python3-pytest is not installed (scripts/deps test installs it)"; t_done; }

V=$T_DIR/pyvol
t_run "format a volume (d = 1 s)" -- timeout --foreground 60 "$SM" init "$V" --lockspace pyls --max-hosts 8 \
	--resources 32 --io-timeout 1 --watchdog-timeout 3 --resource r1 --resource r2 --resource r3 --resource r4 \
	--resource r5 --resource r6 --resource held2
h_start 1 || t_done
h_start 2 || t_done
t_run "host 2 joins" -- h_exec 2 timeout --foreground 60 "$SM" join "$V" --host-id 2
holder=$(h_bg 2 "$T_DIR/holder.log" timeout --foreground 300 "$SM" run -l pyls:held2 -- sleep 300)
host2_holds() { h_sm 2 status | grep -q ' held2 '; }
retry_until 20 host2_holds && t_ok "host 2 holds pyls:held2" ||
	{ t_fail "host 2 did not take pyls:held2: $(h_sm 2 status) $(cat "$T_DIR/holder.log")"; t_done; }

export SM_PY_VOLUME=$V SM_PY_LOCKSPACE=pyls SM_PY_CLI=$SM SM_PY_TMP=$T_DIR
t_log "pytest $SM_SRC/tests/python inside host 1"
h_exec 1 env PYTHONPATH="$SM_BIN/python" PYTHONDONTWRITEBYTECODE=1 timeout --foreground 150 \
	"$PY" -m pytest -p no:cacheprovider -v "$SM_SRC/tests/python" 2>&1 | tee "$T_DIR/pytest.log"
rc=${PIPESTATUS[0]}
[[ $rc -eq 0 ]] && t_ok "pytest passed" || t_fail "pytest exit $rc (log above)"
t_match "pytest ran the binding's tests" "[0-9]+ passed" "$(tail -1 "$T_DIR/pytest.log")"
kill "$holder" 2>/dev/null
t_done
