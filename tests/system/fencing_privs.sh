#!/bin/bash
# Least privilege when fencing (docs/admin-guide.md, "Fencing"): d = 1 s,
# W = 3 s, so F = 8 s.  Host 1 loses its storage ('any eio') and fences:
#  (u) a holder run by an ordinary user (uid 65534) with --kill-program: the
#      kill program runs as that user (uid, gid, no supplementary groups), not
#      as root, and without the daemon's descriptors;
#  (r) the same as root: the kill program runs as root;
#  (p) a registered process that exited and was reaped while its supervisor
#      keeps the registration open (the daemon still counts its lease): its
#      pid is handed to an unrelated process (ns_last_pid in the host's PID
#      namespace), which fencing must not signal.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (namespaces, setpriv)"; exit 77; }
command -v setpriv > /dev/null || { echo "needs setpriv"; exit 77; }

V=$T_DIR/leases
F=8
chmod 0755 "$T_DIR" # the ordinary user reaches the socket and the scripts
OUT=$T_DIR/out
mkdir -m 1777 "$OUT"

t_run "format the shared volume" -- "$SM" init "$V" --lockspace ls --max-hosts 8 --resources 8 \
	--io-timeout 1 --watchdog-timeout 3 --resource user --resource root --resource reused
chmod 0666 "$V" # the ordinary user's client does no I/O; the daemon does

h_start 1 || t_done
chmod 0755 "$(_h_dir 1)"
chmod 0666 "$(_h_dir 1)/sync_managerd.sock"
t_run "host 1 joins" -- h_sm 1 join "$V" --host-id 1

# The kill program: one line with who it runs as, then it stops the holder.
cat > "$T_DIR/killprog.sh" <<EOF
#!/bin/bash
fds=\$(find /proc/\$\$/fd -lname 'socket:*' -o -lname 'anon_inode:*' | wc -l)
echo "pid=\${@: -1} uid=\$(id -u) gid=\$(id -g) groups=\$(id -G | tr ' ' ,) daemon_fds=\$fds" >> "$OUT/killprog"
kill -KILL "\${@: -1}"
EOF
chmod 0755 "$T_DIR/killprog.sh"
touch "$OUT/killprog" && chmod 0666 "$OUT/killprog"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

# (u) and (r): holders that do not fork (the pid test below needs a quiet namespace)
LU=$OUT/u.log LR=$OUT/r.log
h_bg 1 "$LU" "${NOBODY[@]}" "$SM" run -l ls:user --name user --kill-program "$T_DIR/killprog.sh" -- sleep 1000 >/dev/null
h_bg 1 "$LR" "$SM" run -l ls:root --name root --kill-program "$T_DIR/killprog.sh" -- sleep 1000 >/dev/null
retry_until 10 grep -q "acquired ls:user" "$LU" && t_ok "(u) uid 65534 runs a holder with a kill program" \
	|| t_fail "(u) holder: $(cat "$LU")"
retry_until 10 grep -q "acquired ls:root" "$LR" && t_ok "(r) root runs a holder with a kill program" \
	|| t_fail "(r) holder: $(cat "$LR")"
upid=$(grep -o 'as pid [0-9]*' "$LU" | awk '{ print $3 }')
rpid=$(grep -o 'as pid [0-9]*' "$LR" | awk '{ print $3 }')
st=$(cat "$(_h_dir 1)/state")
t_match "(u) the state file records who set the kill program" "^proc $upid .*killprog\.sh 0 65534:65534$" \
	"$(grep "^proc $upid " <<<"$st" | tail -1)"
t_match "(r) ... and for root" "^proc $rpid .*killprog\.sh 0 0:0$" "$(grep "^proc $rpid " <<<"$st" | tail -1)"
# A kill program the user may not execute is refused when it is set, not at fencing time.
install -m 0700 "$T_DIR/killprog.sh" "$T_DIR/rootonly.sh"
t_refused "(u) a kill program only root may execute is refused for uid 65534" \
	"not executable by uid 65534 gid 65534" -- h_exec 1 "${NOBODY[@]}" "$SM" run -l ls:user2 --kill-program "$T_DIR/rootonly.sh" -- true

# (p) a registration whose process is gone and reaped, its pid then reused
LP=$OUT/p.log
h_bg 1 "$LP" "$SM_BIN/tests/sm_clients" reaped ls:reused >/dev/null
retry_until 10 grep -q "^reaped " "$LP" && t_ok "(p) a registered process holding ls:reused exited and was reaped" \
	|| t_fail "(p) $(cat "$LP")"
ppid=$(awk '/^reaped / { print $2 }' "$LP")
t_run "(p) status" -- h_sm 1 status
t_match "(p) the daemon still counts its lease (the registration is open)" "reused" "$T_OUT"
cat > "$T_DIR/victim.py" <<'EOF'
import os, signal, sys, time
log = sys.argv[1]
def note(sig, frame):
    with open(log, 'a') as f:
        f.write('signal %d\n' % sig)
for s in (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, note)
with open(log, 'a') as f:
    f.write('start %d\n' % os.getpid())
while True:
    time.sleep(0.1)
EOF
VL=$OUT/victim.log
# The next pid in host 1's namespace is ppid (nothing else forks there now).
h_bg 1 "$OUT/victim.out" bash -c 'echo $(($1 - 1)) > /proc/sys/kernel/ns_last_pid && { python3 "$2" "$3" & wait; }' \
	_ "$ppid" "$T_DIR/victim.py" "$VL" >/dev/null
retry_until 10 grep -q "^start " "$VL" || t_fail "(p) the victim did not start: $(cat "$OUT/victim.out")"
vpid=$(awk '/^start / { print $2 }' "$VL")
[[ -n $ppid && $vpid == "$ppid" ]] && t_ok "(p) an unrelated process now has pid $ppid" \
	|| t_fail "(p) pid reuse not achieved (victim pid ${vpid:-?}, wanted $ppid): $(cat "$OUT/victim.out")"

sleep 1
t0=$(now_ms)
h_fault 1 "any eio"
D=$(_h_dir 1)/daemon.log
retry_until $((F + 10)) grep -q "fencing complete" "$D" && t_ok "host 1 fenced its holders (+$(($(now_ms) - t0)) ms)" \
	|| t_fail "no fencing complete: $(tail -20 "$D")"
sleep 2 # SIGKILL time (G) for anything still there, and the kill programs' lines

kp=$(cat "$OUT/killprog" 2>/dev/null)
(( $(grep -c . <<<"$kp") == 2 )) && t_ok "two kill programs ran" || t_fail "kill programs: $kp"
t_match "(u) the ordinary user's kill program ran as uid 65534, gid 65534, no other groups" \
	"^pid=$upid uid=65534 gid=65534 groups=65534 " "$kp"
t_match "(u) without the daemon's sockets or epoll" "^pid=$upid .* daemon_fds=0$" "$kp"
t_match "(r) root's kill program ran as root" "^pid=$rpid uid=0 gid=0 " "$kp"
t_match "(u) the daemon logged the uid" "fencing process $upid \(user\): running $T_DIR/killprog.sh $upid as uid 65534 gid 65534" "$(cat "$D")"
t_match "(r) the daemon logged the uid" "fencing process $rpid \(root\): running $T_DIR/killprog.sh $rpid as uid 0 gid 0" "$(cat "$D")"
retry_until 5 grep -q "was killed by signal 9" "$LU" && t_ok "(u) the kill program ended the holder" || t_fail "(u) $(cat "$LU")"
retry_until 5 grep -q "was killed by signal 9" "$LR" && t_ok "(r) the kill program ended the holder" || t_fail "(r) $(cat "$LR")"

grep -q "^signal" "$VL" && t_fail "(p) the process that got the pid was signalled: $(cat "$VL")" \
	|| t_ok "(p) the process that got the pid was not signalled"
h_exec 1 kill -0 "$vpid" 2>/dev/null && t_ok "(p) and still runs" || t_fail "(p) the victim is gone"
t_match "(p) the daemon knew the registered process had exited" \
	"fencing process $ppid \(reaped\): .*it has exited already, nothing to signal" "$(cat "$D")"
grep -q "SIGKILL" "$D" && t_fail "a SIGKILL was sent: $(grep SIGKILL "$D")" || t_ok "no SIGKILL was needed"

h_stop_all
t_done
