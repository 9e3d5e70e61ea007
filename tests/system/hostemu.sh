#!/bin/bash
# The emulated host (sync_manager-hostemu as PID 1 of a PID namespace) and its
# watchdog, with real processes: the PID-1 guard, pets that keep the host up,
# a reset (every process of the namespace killed, exit 137) when a client that
# armed goes away without disarm, disarm, status, malformed input, many
# clients, reaping, --exit-with-command and SIGTERM power-off.
source "$(dirname "$0")/lib.sh"

HE="$SM_BIN/sync_manager-hostemu"
PY=$(python3 -c 'import sys; print(sys.executable)')
WD="$T_DIR/wd.py"

# A small watchdog client.  Every mode exits non-zero with a message if a
# reply is not what the protocol promises.
cat >"$WD" <<'PY'
import random, socket, sys, threading, time

class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(15)
        self.s.connect(path)
        self.buf = b""

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("connection closed by hostemu")
            self.buf += d
        l, _, self.buf = self.buf.partition(b"\n")
        return l.decode("ascii", "replace")

    def cmd(self, c):
        self.s.sendall(c.encode() + b"\n")
        return self.line()

def expect(got, want):
    if not got.startswith(want):
        sys.exit("expected %r..., got %r" % (want, got))

def petloop(path, w, period_ms, dur_ms, end):
    """arm W, pet every period for dur (0: until killed), then disarm or just close"""
    c = Conn(path)
    expect(c.cmd("arm %d" % w), "ok")
    t0, pets, mid = time.monotonic(), 0, None
    while dur_ms == 0 or time.monotonic() - t0 < dur_ms / 1000:
        time.sleep(period_ms / 1000)
        expect(c.cmd("pet"), "ok")
        pets += 1
        if dur_ms and mid is None and time.monotonic() - t0 > dur_ms / 2000:
            mid = Conn(path).cmd("status")    # a second connection meanwhile
            print("mid", mid)
    print("pets", pets)
    if end == "disarm":
        expect(c.cmd("disarm"), "ok")

def handover(path, w):
    """one connection arms and goes away; a second one takes over petting"""
    c1 = Conn(path)
    expect(c1.cmd("arm %d" % w), "ok")
    c1.s.close()
    c2 = Conn(path)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2.0:
        expect(c2.cmd("pet"), "ok")
        time.sleep(0.2)
    print(c2.cmd("status"))
    expect(c2.cmd("disarm"), "ok")

def malformed(path):
    c = Conn(path)
    cases = [(b"bogus", "error unknown command"), (b"", "error empty command"),
             (b"arm", "error usage"), (b"arm abc", "error timeout_ms"), (b"arm 0", "error timeout_ms"),
             (b"arm -5", "error timeout_ms"), (b"arm 10x", "error timeout_ms"),
             (b"arm 99999999999999999999999", "error timeout_ms"), (b"arm 1000 2", "error too many"),
             (b"pet now", "error pet takes no argument"), (b"pet", "error not armed"),
             (b"st\x00tus", "error invalid character"), (b"\xff\xfe", "error invalid character"),
             (b"x" * 1000, "error line too long"), (b"status\r", "armed 0"), (b"  status  ", "armed 0")]
    for data, want in cases:
        c.s.sendall(data + b"\n")
        expect(c.line(), want)
    for piece in (b"sta", b"tu", b"s", b"\n"):        # a line in pieces
        c.s.sendall(piece)
        time.sleep(0.05)
    expect(c.line(), "armed 0")
    c.s.sendall(b"status\nbogus\nstatus\n")            # several lines in one write
    for want in ("armed 0", "error unknown", "armed 0"):
        expect(c.line(), want)
    # 64 KiB of binary garbage: exactly one reply per line, and it still works.
    rnd = random.Random(4)
    junk = bytes(rnd.getrandbits(8) for _ in range(65536)) + b"\nstatus\n"
    c.s.sendall(junk)
    replies = [c.line() for _ in range(junk.count(b"\n"))]
    if not all(r.startswith(("error ", "armed ", "ok")) for r in replies):
        sys.exit("odd reply to garbage: %r" % [r for r in replies if not r.startswith("error ")][:3])
    expect(replies[-1], "armed 0")
    print("malformed ok: %d cases, %d replies to garbage" % (len(cases), len(replies)))

def flood(path, n):
    """n commands sent without reading replies: none may be lost"""
    c = Conn(path)
    t = threading.Thread(target=lambda: c.s.sendall(b"status\n" * n))
    t.start()
    time.sleep(1.0)                                   # hostemu must throttle, not drop
    for i in range(n):
        expect(c.line(), "armed ")
    t.join()
    print("flood ok: %d replies" % n)

def many(path, n):
    conns = [Conn(path) for _ in range(n)]
    for c in conns:
        c.s.sendall(b"sta")
    for c in conns:
        c.s.sendall(b"tus\n")
    for c in conns:
        expect(c.line(), "armed ")
    print("many ok: %d clients" % n)

def halfclose(path):
    """like printf 'status\\npet\\n' | socat - UNIX:...: shut down writing, read to EOF"""
    c = Conn(path)
    c.s.sendall(b"status\npet\npartial")
    c.s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        d = c.s.recv(4096)
        if not d:
            break
        data += d
    print("halfclose:", data.decode().strip().replace("\n", " | "))

def cmds(path, *cs):
    c = Conn(path)
    for x in cs:
        print(c.cmd(x))

mode, path, args = sys.argv[1], sys.argv[2], sys.argv[3:]
if mode == "petloop":
    petloop(path, int(args[0]), int(args[1]), int(args[2]), args[3])
elif mode == "handover":
    handover(path, int(args[0]))
elif mode == "malformed":
    malformed(path)
elif mode == "flood":
    flood(path, int(args[0]))
elif mode == "many":
    many(path, int(args[0]))
elif mode == "halfclose":
    halfclose(path)
elif mode == "cmds":
    cmds(path, *args)
else:
    sys.exit("unknown mode " + mode)
PY
wd() { "$PY" "$WD" "$@"; }

now_ms() { date +%s%3N; }
# wait_until SECONDS CMD...: poll CMD every 50 ms.
wait_until() {
	local end=$(($(now_ms) + $1 * 1000)); shift
	until "$@"; do
		(($(now_ms) >= end)) && return 1
		sleep 0.05
	done
}
# gone PID: exited (a zombie counts as exited).
gone() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null); [[ -z $st || $st == Z* ]]; }
alive() { ! gone "$1"; }
# (the children file has no trailing newline, so no `read` here)
first_child() { local c; c=$(cat "/proc/$1/task/$1/children" 2>/dev/null); c=${c%% *}; [[ -n $c ]] && echo "$c"; }
child_of() { local i; for i in $(seq 200); do first_child "$1" && return 0; sleep 0.05; done; return 1; }
zombie_children() { ps -o stat= --ppid "$1" 2>/dev/null | grep -c '^Z'; }

declare -A UPID HPID
# start_host NAME [hostemu options] [-- COMMAND...]: a new emulated host.
# --kill-child: if the test dies, killing unshare kills the whole namespace.
start_host() {
	local n=$1; shift
	unshare --pid --fork --kill-child --mount-proc -- "$HE" --run-dir "$T_DIR/$n" --name "$n" "$@" \
		>"$T_DIR/$n.err" 2>&1 &
	UPID[$n]=$!
	T_PIDS+=("$!")
}
ready_host() {
	local n=$1
	if wait_until 10 test -S "$T_DIR/$n/watchdog.sock" -a -e "$T_DIR/$n/hostemu.ready" &&
		HPID[$n]=$(child_of "${UPID[$n]}"); then
		t_ok "host $n ready (hostemu is pid ${HPID[$n]} outside, PID 1 inside)"
	else
		t_fail "host $n did not become ready: $(cat "$T_DIR/$n.err")"
		return 1
	fi
}
# enter NAME CMD...: run CMD inside host NAME in the background; sets ENTERED
# to the nsenter pid (outside) and INNER to CMD's pid (as seen outside).
enter() {
	local n=$1; shift
	nsenter --target "${HPID[$n]}" --pid --mount -- "$@" &
	ENTERED=$!
	disown "$ENTERED" # no "Killed" job notices when the host goes down
	T_PIDS+=("$ENTERED")
	INNER=$(child_of "$ENTERED")
}
# finish NAME SECONDS: wait for host NAME's unshare to exit; sets RC and ELAPSED.
finish() {
	local t0; t0=$(now_ms)
	if ! wait_until "$2" gone "${UPID[$1]}"; then RC=timeout; ELAPSED=-1; return 1; fi
	ELAPSED=$(($(now_ms) - t0))
	wait "${UPID[$1]}"; RC=$?
}

[[ -x $HE ]] || { t_fail "no $HE"; t_done; }

# --- the PID 1 guard ---------------------------------------------------------
t_refused "refuses to run outside a PID namespace" "must be PID 1" -- "$HE" --run-dir "$T_DIR/outside"
"$HE" --run-dir "$T_DIR/outside" 2>/dev/null
rc=$?
[[ $rc -eq 2 && ! -e $T_DIR/outside ]] && t_ok "refusal exits 2 and creates nothing" ||
	t_fail "refusal: exit $rc, dir exists: $([[ -e $T_DIR/outside ]] && echo yes)"
t_refused "refuses to run as a non-1 pid inside a namespace" "must be PID 1" -- \
	unshare --pid --fork --kill-child --mount-proc -- sh -c '"$@"; exit $?' sh "$HE" --run-dir "$T_DIR/outside"
t_refused "--run-dir is required" "run-dir" -- "$HE"

# --- hosts -------------------------------------------------------------------
# a: long-lived host for pets, status, malformed input, power-off.
# b: reset by the watchdog.  c: --exit-with-command.  d: its command exits early.
start_host a -- sleep 1000
start_host b -- sleep 1000
start_host c --exit-with-command -- sh -c "while [ ! -e '$T_DIR/c-go' ]; do sleep 0.05; done; exit 7"
start_host d -- sh -c 'sleep 0.3 & exit 3'
for h in a b c d; do ready_host "$h" || t_done; done
A=$T_DIR/a/watchdog.sock B=$T_DIR/b/watchdog.sock
A_CMD=$(child_of "${HPID[a]}")
B_CMD=$(child_of "${HPID[b]}")
t_match "hostemu is PID 1 of its namespace" "^NSpid:[[:space:]]+${HPID[a]}[[:space:]]+1$" \
	"$(grep NSpid "/proc/${HPID[a]}/status")"
t_match "run dir is private (0700)" "^700$" "$(stat -c %a "$T_DIR/a")"

t_refused "a second hostemu on a live host's run dir is refused" "another hostemu is serving" -- \
	unshare --pid --fork --kill-child --mount-proc -- "$HE" --run-dir "$T_DIR/a"
[[ -S $A && -e $T_DIR/a/hostemu.ready ]] && t_ok "the live host keeps its socket" || t_fail "host a lost its socket"
t_run "status on a fresh host" -- wd cmds "$A" status
t_match "fresh status is disarmed" "^armed 0 timeout_ms 0 since_pet_ms 0 fired 0$" "$T_OUT"

# --- robustness --------------------------------------------------------------
t_run "malformed commands get errors" -- wd malformed "$A"
t_match "malformed summary" "malformed ok" "$T_OUT"
t_run "a client that does not read its replies loses none" -- wd flood "$A" 20000
t_run "300 clients at once, lines in pieces" -- wd many "$A" 300
t_run "half-closed client gets its replies" -- wd halfclose "$A"
t_match "half-close replies, partial last line dropped" "^halfclose: armed 0 .* \| error not armed$" "$T_OUT"
alive "${HPID[a]}" && t_ok "hostemu survived the abuse" || t_fail "hostemu died: $(cat "$T_DIR/a.err")"

# --- pets keep the host up ---------------------------------------------------
enter a sleep 1000
A_IN=$INNER
t_run "arm 1000 ms, pet every 200 ms for 3 s, disarm" -- wd petloop "$A" 1000 200 3000 disarm
if [[ $T_OUT =~ mid\ armed\ 1\ timeout_ms\ 1000\ since_pet_ms\ ([0-9]+)\ fired\ 0 ]] &&
	((BASH_REMATCH[1] < 1000)); then
	t_ok "status while petted: armed, since_pet_ms ${BASH_REMATCH[1]}"
else
	t_fail "status while petted: $T_OUT"
fi
alive "${HPID[a]}" && alive "$A_CMD" && alive "$A_IN" && t_ok "petted host and its processes live" ||
	t_fail "petted host lost processes"

t_run "a second connection takes over petting after the first left without disarm" -- wd handover "$A" 1000
t_match "status during handover" "^armed 1 timeout_ms 1000 since_pet_ms [0-9]+ fired 0$" "$T_OUT"
t_match "close without disarm is logged" "client [0-9]+ .*closed without disarm: watchdog stays armed" \
	"$(cat "$T_DIR/a/hostemu.log")"

t_run "arm then disarm then disconnect" -- wd cmds "$A" "arm 500" disarm
t_match "arm and disarm answer ok" "^ok.ok$" "$(tr '\n' . <<<"$T_OUT" | sed 's/\.$//')"
# An orphan inside the namespace is reparented to hostemu, which must reap it.
nsenter --target "${HPID[a]}" --pid --mount -- sh -c 'sleep 0.3 & exit 0'
orphan=$(ps -o pid= --ppid "${HPID[a]}" | grep -vw "$A_CMD" | tr -d ' ')
[[ -n $orphan ]] && t_ok "orphan $orphan was reparented to hostemu" || t_fail "no orphan under host a"
sleep 1.5
alive "${HPID[a]}" && alive "$A_CMD" && alive "$A_IN" && t_ok "disarmed watchdog does not fire" ||
	t_fail "host a went down after disarm: $(cat "$T_DIR/a.err")"
t_run "status after disarm" -- wd cmds "$A" status
t_match "status after disarm: disarmed, W kept" "^armed 0 timeout_ms 500 since_pet_ms [0-9]+ fired 0$" "$T_OUT"
t_match "log has arm and disarm" "armed by client .*timeout 500 ms" "$(cat "$T_DIR/a/hostemu.log")"
t_match "log has disarm" "disarmed by client" "$(cat "$T_DIR/a/hostemu.log")"

# --- the reset: the armer (inside the host) is SIGKILLed ----------------------
enter b sleep 1000
B_IN=$INNER B_ENTER=$ENTERED
enter b "$PY" "$WD" petloop "$B" 1000 200 0 close
B_ARMER=$INNER
armed_b() { [[ $(wd cmds "$B" status 2>/dev/null) == "armed 1 "* ]]; }
wait_until 10 armed_b && t_ok "armer inside host b armed the watchdog" || t_fail "host b never armed"
sleep 1
alive "${HPID[b]}" && alive "$B_CMD" && alive "$B_IN" && t_ok "host b up while its armer pets" ||
	t_fail "host b went down while petted"
kill -9 "$B_ARMER"
finish b 15
[[ $RC == 137 ]] && t_ok "host b reset: unshare exited 137 after ${ELAPSED} ms" ||
	t_fail "host b: exit $RC after $ELAPSED ms: $(cat "$T_DIR/b.err")"
gone "$B_CMD" && gone "$B_IN" && t_ok "every process of host b is dead" || t_fail "host b survivors"
wait_until 5 gone "$B_ENTER" && t_ok "nsenter'd process's outer parent saw it die" || t_fail "nsenter still waiting"
t_match "reset reported on stderr" "hostemu b: watchdog not petted for [0-9]+ ms \(timeout 1000 ms\): resetting emulated host" \
	"$(cat "$T_DIR/b.err")"
fire=$(grep -E "watchdog not petted" "$T_DIR/b/hostemu.log")
if [[ $fire =~ not\ petted\ for\ ([0-9]+)\ ms ]] && ((BASH_REMATCH[1] >= 1000 && BASH_REMATCH[1] < 5000)); then
	t_ok "fired after ${BASH_REMATCH[1]} ms without a pet (W = 1000)"
else
	t_fail "fire line: $fire"
fi
[[ ! -e $T_DIR/b/hostemu.ready && ! -e $T_DIR/b/watchdog.sock ]] && t_ok "reset removed ready file and socket" ||
	t_fail "ready/socket left after reset"

# --- --exit-with-command -----------------------------------------------------
enter c sleep 1000
C_IN=$INNER
touch "$T_DIR/c-go"
finish c 15
[[ $RC == 7 ]] && t_ok "--exit-with-command: host exits with the command's status 7" || t_fail "host c: exit $RC"
gone "$C_IN" && t_ok "the rest of host c was killed" || t_fail "host c survivor $C_IN"
t_match "command exit logged" "command \(pid 2\) exited with status 7" "$(cat "$T_DIR/c/hostemu.log")"

# --- a host whose command exits keeps running and reaps orphans --------------
sleep 0.5
alive "${HPID[d]}" && t_ok "host d stays up after its command exited" || t_fail "host d went down"
t_match "host d logged the command's exit" "command \(pid 2\) exited with status 3" "$(cat "$T_DIR/d/hostemu.log")"
wait_until 5 test "$(zombie_children "${HPID[d]}")" -eq 0 && t_ok "host d reaped the orphaned sleep" ||
	t_fail "zombies under host d: $(ps -o pid,stat,comm --ppid "${HPID[d]}")"
wait_until 5 gone "$orphan" && test "$(zombie_children "${HPID[a]}")" -eq 0 &&
	t_ok "host a reaped the orphan from nsenter" ||
	t_fail "zombies under host a: $(ps -o pid,stat,comm --ppid "${HPID[a]}")"
t_run "host d still answers" -- wd cmds "$T_DIR/d/watchdog.sock" status
kill -TERM "${HPID[d]}"
finish d 10
[[ $RC == 0 ]] && ((ELAPSED < 4000)) && t_ok "SIGTERM powers off an idle host quickly (${ELAPSED} ms)" ||
	t_fail "host d power-off: exit $RC after $ELAPSED ms"

# --- SIGTERM power-off with a process that ignores SIGTERM --------------------
enter a sh -c 'trap "" TERM; exec sleep 1000'
A_STUBBORN=$INNER
kill -TERM "${HPID[a]}"
finish a 15
[[ $RC == 0 ]] && t_ok "SIGTERM powers off host a: exit 0 after ${ELAPSED} ms" || t_fail "host a: exit $RC"
((ELAPSED >= 4500)) && t_ok "a SIGTERM-ignoring process got the 5 s grace" || t_fail "power-off took only $ELAPSED ms"
gone "$A_CMD" && gone "$A_IN" && gone "$A_STUBBORN" && t_ok "every process of host a is dead" ||
	t_fail "host a survivors"
log=$(cat "$T_DIR/a/hostemu.log")
t_match "power-off logged" "powering off \(SIGTERM\)" "$log"
t_match "stragglers SIGKILLed" "processes left after 5000 ms: SIGKILL" "$log"

t_done
