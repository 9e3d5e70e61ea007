#!/bin/bash
# The CLI (and the library under it) never waits for sync_managerd for ever
# (issue 19 item 3): against a fake "daemon" socket that accepts and never
# replies, and one that never accepts (its listen backlog full, as a daemon
# at its fd limit), it gives up after $SYNC_MANAGER_TIMEOUT with a clear
# message, and it stops at once on SIGTERM and Ctrl-C (SIGINT) with exit
# status 143 / 130 and a message.  Needs no root (about 15 s).
source "$(dirname "$0")/lib.sh"

export SYNC_MANAGER_RUN_DIR=$T_DIR/run
mkdir -p "$SYNC_MANAGER_RUN_DIR"
SOCK=$SYNC_MANAGER_RUN_DIR/sync_managerd.sock

# fake_daemon MODE: "mute" accepts every connection and never answers;
# "full" listens with a backlog of 0, fills it with a connection of its own
# and never accepts.  Prints "ready" when set up.
fake_daemon() {
	timeout --foreground 120 python3 -c '
import os, socket, sys, time
mode, path = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
keep = []
if mode == "mute":
    s.listen(16)
    print("ready", os.getpid(), flush=True)
    while True:
        c, _ = s.accept()
        keep.append(c)
else:
    s.listen(0)
    for _ in range(4):  # fill the queue (how many fit depends on the kernel)
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(path)
            keep.append(c)
        except BlockingIOError:
            break
    print("ready", os.getpid(), flush=True)
    time.sleep(120)
' "$1" "$SOCK"
}

# elapsed SECONDS-SINCE: whole seconds since $1 (date +%s.%N)
elapsed() { python3 -c "import sys,time; print(round(time.time() - float(sys.argv[1]), 1))" "$1"; }

# run_cli EXPECTED_RC DESC PATTERN MAX_SECONDS -- CMD...: CMD exits with
# EXPECTED_RC within MAX_SECONDS, printing PATTERN.
run_cli() {
	local want=$1 desc=$2 pat=$3 max=$4; shift 5
	local t0; t0=$(date +%s.%N)
	T_OUT=$("$@" 2>&1); local rc=$?
	local took; took=$(elapsed "$t0")
	if [[ $rc -ne $want ]]; then t_fail "$desc: exit $rc, expected $want (after $took s): $T_OUT"; return 1; fi
	if ! grep -Eq -- "$pat" <<<"$T_OUT"; then t_fail "$desc: output lacks /$pat/: $T_OUT"; return 1; fi
	if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)" "$took" "$max"; then
		t_ok "$desc (exit $rc after $took s)"
	else
		t_fail "$desc: took $took s (at most $max s)"
	fi
}

# --- a daemon that accepts and never answers ---------------------------------
coproc FAKE { fake_daemon mute; }
T_PIDS+=("$FAKE_PID")
read -r -t 20 line pypid <&"${FAKE[0]}" && [[ $line == ready ]] || t_fail "fake daemon did not start"
T_PIDS+=("$pypid")

run_cli 1 "status gives up after SYNC_MANAGER_TIMEOUT=2 with a clear message" \
	"did not answer within 2.0 s.*SYNC_MANAGER_TIMEOUT" 8 -- \
	env SYNC_MANAGER_TIMEOUT=2 timeout --foreground -k 5 30 "$SM" status
run_cli 1 "inquire too" "did not answer within 1.5 s" 8 -- \
	env SYNC_MANAGER_TIMEOUT=1.5 timeout --foreground -k 5 30 "$SM" inquire --pid 1
run_cli 143 "a SYNC_MANAGER_TIMEOUT that is not a number is named, and the default applies" \
	"SYNC_MANAGER_TIMEOUT='soon' is not a number of seconds.*300 s" 6 -- \
	env SYNC_MANAGER_TIMEOUT=soon timeout --foreground --preserve-status -k 5 -s TERM 1 "$SM" status
# With the default timeout (300 s) a signal must end the wait at once.  The
# outer -k 5 only keeps a CLI that ignores SIGTERM from hanging the test.
run_cli 143 "SIGTERM stops a status that waits for the daemon" "stopped by SIGTERM" 6 -- \
	timeout --foreground --preserve-status -k 5 -s TERM 1 "$SM" status
run_cli 130 "Ctrl-C (SIGINT) stops an acquire that waits for the daemon" "stopped by Ctrl-C" 6 -- \
	timeout --foreground --preserve-status -k 5 -s INT 1 "$SM" acquire ls:r --pid 1
run_cli 143 "SIGTERM stops metrics" "stopped by SIGTERM|sync_manager_up 0" 6 -- \
	timeout --foreground --preserve-status -k 5 -s TERM 1 "$SM" metrics
kill "$pypid" 2>/dev/null
wait "$FAKE_PID" 2>/dev/null
rm -f "$SOCK"

# --- a daemon that never accepts (backlog full) ----------------------------
coproc FULL { fake_daemon full; }
T_PIDS+=("$FULL_PID")
read -r -t 20 line pypid <&"${FULL[0]}" && [[ $line == ready ]] || t_fail "second fake daemon did not start"
T_PIDS+=("$pypid")
run_cli 1 "connecting gives up after SYNC_MANAGER_TIMEOUT=2 when the daemon does not accept" \
	"did not accept the connection.*file descriptor limit" 8 -- \
	env SYNC_MANAGER_TIMEOUT=2 timeout --foreground -k 5 30 "$SM" status
run_cli 143 "SIGTERM stops a connect that waits" "stopped by SIGTERM" 6 -- \
	timeout --foreground --preserve-status -k 5 -s TERM 1 "$SM" status

t_done
