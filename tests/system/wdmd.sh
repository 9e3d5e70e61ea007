#!/bin/bash
# watchdog = wdmd (issue 15 §6): sync_managerd shares the watchdog with
# sanlock and lvmlockd through Debian's real wdmd (package sanlock).
# Each emulated host runs wdmd before sync_managerd (hosts.sh, H_WDMD=1);
# wdmd's device is the emulated host's watchdog (tests/system/wdmd_dev.c
# stands in for the kernel driver: this machine has no /dev/watchdog and
# cannot load softdog).  wdmd itself is unmodified: its test interval
# (10 s) and fire timeout (60 s) are its own.
#  1. watchdog = auto finds the running wdmd and registers; with a holder,
#     the expiry it gives wdmd is a test interval + 3 s ahead; a volume
#     whose timeouts cannot keep it that far (d = 1 s) is refused; a clean
#     stop clears the expiry.
#  2. watchdog = wdmd: sync_managerd is SIGKILLed while a process holds a
#     lease; wdmd stops its keepalives (once the last expiry is within a
#     test interval), and the host is reset within fire_timeout of that
#     expiry, and no more than two test intervals earlier.
#  3. the storage of a host fails under a holder that dies on SIGTERM: the
#     expiry stops moving, wdmd stops its keepalives, the holder is fenced
#     at F, the expiry moves again, wdmd resumes, and the host is not reset.
#  4. watchdog = wdmd with no wdmd running: the daemon refuses to start.
# d = 3 s (F = 24 s), W = 60 s.  About 100 s.
export SM_TEST_TMPDIR=/var/tmp
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (namespaces)"; exit 77; }
command -v wdmd >/dev/null || { echo "wdmd missing (scripts/deps test installs sanlock)"; exit 77; }
ldd "$SMD" | grep -q libwdmd || { echo "sync_managerd built without wdmd (libsanlock-dev)"; exit 77; }

V1=$T_DIR/v1 V2=$T_DIR/v2 V3=$T_DIR/v3
for v in "$V1" "$V2" "$V3"; do
	t_run "format $(basename "$v") (d = 3 s, W = 60 s)" -- "$SM" init "$v" --lockspace "ls$(basename "$v")" \
		--max-hosts 4 --resources 2 --io-timeout 3 --watchdog-timeout 60 --resource r1
done
t_run "format a volume with d = 1 s" -- "$SM" init "$T_DIR/fast" --lockspace fast --max-hosts 4 --resources 2 \
	--io-timeout 1 --watchdog-timeout 60
H_WDMD=1 H_WATCHDOG_MS=60000
# CLOCK_MONOTONIC seconds (wdmd's clock; hostemu logs the same clock in ms)
mono_s() { awk '{ print int($1) }' /proc/uptime; }

# ---- 2 first (it takes a minute): the daemon dies holding a lease ------------------
H_WATCHDOG=wdmd h_start 2 || t_done
t_run "host 2 (watchdog = wdmd) joins" -- h_sm 2 join "$V2" --host-id 2
h_bg 2 "$T_DIR/holder2.log" "$SM" run -l lsv2:r1 -- sleep 1000 >/dev/null
retry_until 10 grep -q "acquired lsv2:r1" "$T_DIR/holder2.log" && t_ok "host 2 holds lsv2:r1" ||
	t_fail "holder: $(cat "$T_DIR/holder2.log")"
sleep 1.5
h_exec 2 kill -KILL "$(h_daemon_pid 2)"
t_kill=$(mono_s)
t_log "sync_managerd of host 2 SIGKILLed at monotonic ${t_kill} s"

# ---- 3 (also runs meanwhile): storage fails, the holder is fenced in time -------------
H_WATCHDOG=wdmd h_start 3 || t_done
t_run "host 3 joins" -- h_sm 3 join "$V3" --host-id 3
h_bg 3 "$T_DIR/holder3.log" "$SM" run -l lsv3:r1 -- sleep 1000 >/dev/null
retry_until 10 grep -q "acquired lsv3:r1" "$T_DIR/holder3.log" && t_ok "host 3 holds lsv3:r1" ||
	t_fail "holder: $(cat "$T_DIR/holder3.log")"
h_fault 3 "any eio"
t_fault3=$(mono_s)

# ---- 1. auto picks the running wdmd ------------------------------------------------
H_WATCHDOG=auto h_start 1 || t_done
t_run "host 1 status (watchdog = auto)" -- h_sm 1 status
t_match "auto picked wdmd" "watchdog wdmd" "$T_OUT"
# the log line may land a moment after status answers
retry_until 10 grep -q "registered with wdmd" "$(_h_dir 1)/daemon.log"
t_match "registered with wdmd (daemon log)" "registered with wdmd: test interval 10 s, fire timeout 60 s" \
	"$(cat "$(_h_dir 1)/daemon.log")"
t_run "wdmd --dump" -- h_exec 1 wdmd --dump
t_match "wdmd lists the client sync_managerd" "sync_managerd" "$T_OUT"
t_run "host 1 joins" -- h_sm 1 join "$V1" --host-id 1
h_bg 1 "$T_DIR/holder1.log" "$SM" run -l lsv1:r1 -- sleep 1000 >/dev/null
retry_until 10 grep -q "acquired lsv1:r1" "$T_DIR/holder1.log" && t_ok "host 1 holds lsv1:r1" ||
	t_fail "holder: $(cat "$T_DIR/holder1.log")"
sleep 3
W1=$(_h_dir 1)/wdmd.log
# test_live lines: "... test_live ci N renewal R expire E": E - R is how far ahead.
ahead=$(awk '/test_live ci/ && $NF != 0 { a = $NF - $(NF-2) } END { print a }' "$W1")
[[ -n $ahead ]] && (( ahead >= 11 && ahead <= 13 )) && t_ok "expiry given to wdmd: ${ahead} s ahead (11..13)" ||
	t_fail "expiry ahead '${ahead}': $(grep test_live "$W1" | tail -3)"
t_refused "a volume with d = 1 s is refused under wdmd" "configuration error" -- h_sm 1 join "$T_DIR/fast" --host-id 1
t_match "... the daemon log says why" "fast: io_timeout 1000 ms is too short for wdmd, which tests every 10 s" \
	"$(cat "$(_h_dir 1)/daemon.log")"
# (the pid `run` prints is the one inside host 1's PID namespace)
t_run "host 1: the holder ends" -- h_exec 1 kill "$(sed -n 's/.*as pid \([0-9]*\).*/\1/p' "$T_DIR/holder1.log")"
retry_until 10 grep -q "killed by signal\|exited" "$T_DIR/holder1.log"
t_run "leave" -- h_sm 1 leave lsv1
t_run "clean shutdown" -- h_sm 1 shutdown
retry_until 10 grep -q "sync_managerd stopped" "$(_h_dir 1)/daemon.log" && t_ok "host 1's daemon stopped" ||
	t_fail "daemon 1 did not stop"
t_match "the daemon cleared its expiry in wdmd" "test_live ci [0-9]+ renewal 0 expire 0" "$(cat "$W1")"
t_match "... and said so" "watchdog disarmed \(our expiry in wdmd cleared\)" "$(cat "$(_h_dir 1)/daemon.log")"

# ---- 3. watchdog = wdmd, no wdmd -----------------------------------------------------
if [[ -S /run/wdmd/wdmd.sock ]]; then
	t_log "a wdmd runs on this machine: the no-wdmd refusal is not checked"
else
	mkdir -p "$T_DIR/run3" && chmod go-w "$T_DIR/run3"
	printf 'watchdog = wdmd\n' > "$T_DIR/nowdmd.conf"
	T_OUT=$(SYNC_MANAGER_RUN_DIR=$T_DIR/run3 SYNC_MANAGERD_CONFIG=$T_DIR/nowdmd.conf timeout --foreground 20 "$SMD" -D 2>&1)
	rc=$?
	(( rc != 0 && rc != 124 )) && t_ok "watchdog = wdmd without wdmd: the daemon refuses to start (exit $rc)" ||
		t_fail "exit $rc: $T_OUT"
	t_match "... saying why and how to fix it" "wdmd is not running .*/run/wdmd/wdmd.sock.*start it" "$T_OUT"
fi

# ---- 2, continued: host 2 is reset ---------------------------------------------------
W2=$(_h_dir 2)/wdmd.log
h_wait_down 2 100 && t_ok "host 2 was reset" || t_fail "host 2 still up 100 s after its daemon died"
t_reset=$(sed -n 's/^\[\([0-9]*\) ms\].*resetting.*/\1/p; s/^\[\([0-9]*\) ms\].*fired.*/\1/p' \
	"$(_h_dir 2)/hostemu.log" | head -n1)
expire=$(awk '/test_live ci/ && $NF != 0 { e = $NF } END { print e }' "$W2")
t_match "wdmd failed our test after the daemon died" "test failed .* expire $expire client [0-9]+ sync_managerd" \
	"$(cat "$W2")"
if [[ -n $t_reset && -n $expire ]]; then
	r=$((t_reset / 1000))
	t_log "last expiry ${expire} s, daemon killed ${t_kill} s, host reset at ${r} s (monotonic)"
	(( r >= expire + 60 - 20 - 1 && r <= expire + 60 + 1 )) &&
		t_ok "reset within fire_timeout of the expiry ($((r - expire)) s; 39..61)" ||
		t_fail "reset $((r - expire)) s after the expiry, expected 39..61"
	(( expire <= t_kill + 13 )) && t_ok "the last expiry was at most 13 s after the kill" ||
		t_fail "expiry $expire vs kill $t_kill"
else
	t_fail "no reset time ('$t_reset') or expiry ('$expire'): $(tail -3 "$(_h_dir 2)/hostemu.log")"
fi

# ---- 3, continued ----------------------------------------------------------------------
W3=$(_h_dir 3)/wdmd.log
grep -q "killed by signal" "$T_DIR/holder3.log" && t_ok "host 3's holder was fenced" ||
	t_fail "holder 3: $(cat "$T_DIR/holder3.log")"
t_match "wdmd stopped its keepalives while our expiry stood still" "closed unclean" "$(cat "$W3")"
t_match "... and resumed them when it moved again (re-armed)" "re-armed by client" "$(cat "$(_h_dir 3)/hostemu.log")"
# the device fires 60 s after wdmd's last keepalive before it stopped: wait past that
while (( $(mono_s) < t_fault3 + 24 + 60 + 5 )); do sleep 1; done
h_alive 3 && t_ok "host 3 was not reset ($(( $(mono_s) - t_fault3 )) s after its storage failed)" ||
	t_fail "host 3 was reset: $(tail -3 "$(_h_dir 3)/hostemu.log")"
h_stop_all
t_done
