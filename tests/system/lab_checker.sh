#!/bin/bash
# The lab's independent checker (lab/checker.c, docs/lab.md) on a file volume,
# without QEMU: a lease holder passes; two holders of one lease, a holder the
# leader does not name, and a stale write seen on the storage are all caught.
# About 15 s.
source "$(dirname "$0")/lib.sh"
CHK=$SM_BIN/lab/lab-checker
[[ -x $CHK ]] || { echo "lab-checker not built: skipped"; exit 77; }
V=$T_DIR/vol
OFF=$((1024 * 1024))
truncate -s 2M "$V"
# O_DIRECT must work where the volume lives (tmpfs before Linux 6.6 refuses it)
if ! dd if=/dev/zero of="$V" bs=512 count=1 seek=$((OFF / 512)) oflag=direct conv=notrunc status=none 2>/dev/null; then
	echo "O_DIRECT is not supported in $T_DIR: skipped"
	exit 77
fi
t_run "format" -- "$SM" init "$V" --lockspace lc --max-hosts 4 --resources 4 --io-timeout 1 --watchdog-timeout 4 --resource r1
t_run "a joins as host 1" -- "$SM" direct join "$V" --host-id 1 --host-name a
t_run "b joins as host 2" -- "$SM" direct join "$V" --host-id 2 --host-name b
t_run "a acquires r1" -- "$SM" direct acquire "$V:r1" --host-id 1

"$CHK" watch --file "$V" --data-offset $OFF --interval-ms 10 >"$T_DIR/watch.log" 2>&1 &
WATCH=$!
T_PIDS+=("$WATCH")

t_run "the holder named by the leader passes" -- "$CHK" hold --dev "$V" --res r1 --id a --data-offset $OFF --interval-ms 20 --seconds 1
t_match "it wrote at lver 1" 'released after [0-9]+ writes at lver 1' "$T_OUT"

t_refused "a holder the leader does not name is caught" 'OVERLAP b r1: started as holder but the leader names host 1 \(a\)' -- \
	"$CHK" hold --dev "$V" --res r1 --id b --data-offset $OFF --seconds 1

# a new version (the checker refuses to run twice at one version), then two
# processes both believing they hold r1 (the mutant a broken lease would make)
t_run "a releases r1" -- "$SM" direct release "$V:r1" --host-id 1
t_run "a acquires r1 again" -- "$SM" direct acquire "$V:r1" --host-id 1
"$CHK" hold --dev "$V" --res r1 --id a --data-offset $OFF --interval-ms 20 --seconds 3 >"$T_DIR/h1" 2>&1 &
h1=$!
"$CHK" hold --dev "$V" --res r1 --id a --data-offset $OFF --interval-ms 20 --seconds 3 >"$T_DIR/h2" 2>&1 &
h2=$!
wait $h1; rc1=$?
wait $h2; rc2=$?
if [[ $rc1 -eq 4 || $rc2 -eq 4 ]] && grep -Eq 'OVERLAP a r1( lver 2: after my write|: the guarded block was written at lver 2 >= ours 2)' "$T_DIR/h1" "$T_DIR/h2"; then
	t_ok "two holders of one lease are caught (exit $rc1 / $rc2)"
else
	t_fail "two holders of one lease not caught (exit $rc1 / $rc2): $(cat "$T_DIR/h1" "$T_DIR/h2")"
fi

# b takes r1 at lver 3 and writes; then a stale write of a (lver 1) lands on the storage
t_run "a releases r1 once more" -- "$SM" direct release "$V:r1" --host-id 1
t_run "b acquires r1" -- "$SM" direct acquire "$V:r1" --host-id 2
t_run "b holds r1 at lver 3" -- "$CHK" hold --dev "$V" --res r1 --id b --data-offset $OFF --interval-ms 20 --seconds 0.5
{ printf 'LABG\0\0\0\0a'; head -c 31 /dev/zero; printf '\1\0\0\0\0\0\0\0\143\0\0\0\0\0\0\0'; head -c 456 /dev/zero; } |
	dd of="$V" bs=512 seek=$((OFF / 512)) conv=notrunc status=none
sleep 0.5
kill -TERM "$WATCH"
wait "$WATCH"; rc=$?
log=$(cat "$T_DIR/watch.log")
t_match "the watcher saw b's acquisition" 'acquire r1 lver 3 by b' "$log"
t_match "the watcher flags the stale write" 'OVERLAP r1: a wrote at lver 1 after b wrote at lver 3' "$log"
[[ $rc -eq 4 ]] && t_ok "the watcher exits 4" || t_fail "the watcher exited $rc: $log"
t_done
