#!/bin/bash
# The run directory is not trusted blindly (issue 10, items 5 and 8;
# docs/admin-guide.md "The run directory"): sync_managerd runs as root and
# writes its pid file, socket and state file there, and acts on the state
# file's records (pids to signal, kill programs to run).
#  (a) a run directory owned by another user, or writable by others, is
#      refused with the path and the fix; symbolic links planted in it are
#      not followed (their root-owned targets are untouched);
#  (b) planted symbolic links for sync_managerd.pid and state.tmp in a good
#      run directory are not followed either;
#  (c) a state file owned by another user, writable by others or a symbolic
#      link is refused and left as it is;
#  (d) the state file is written 0600;
#  (e) a configuration file writable by every user is warned about.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root"; exit 77; }

printf 'watchdog = none\nlog_level = info\n' > "$T_DIR/d.conf"
chmod 0644 "$T_DIR/d.conf"
PRECIOUS=$T_DIR/precious
echo "root's file" > "$PRECIOUS"
chmod 0644 "$PRECIOUS"
precious_sum=$(md5sum < "$PRECIOUS")
untouched() {
	[[ $(md5sum < "$PRECIOUS") == "$precious_sum" && $(stat -c %a "$PRECIOUS") == 644 ]] \
		&& t_ok "$1: the symlink's target is untouched" || t_fail "$1: $PRECIOUS changed: $(stat -c '%a %s' "$PRECIOUS")"
}

# d_refused DESC PATTERN RUN_DIR: the daemon must exit at once, saying PATTERN
d_refused() {
	local desc=$1 pat=$2 run=$3
	rm -f "$run/sync_managerd.sock" 2>/dev/null # a SIGKILLed daemon's
	t_refused "$desc" "$pat" -- env SYNC_MANAGER_RUN_DIR="$run" SYNC_MANAGERD_CONFIG="$T_DIR/d.conf" \
		timeout --foreground 20 "$SMD" -D
	[[ -S $run/sync_managerd.sock ]] && t_fail "$desc: a socket was created" || true
}

DPID=
# d_start RUN_DIR [CONFIG]: a daemon that must come up
d_start() {
	SYNC_MANAGER_RUN_DIR=$1 SYNC_MANAGERD_CONFIG=${2:-$T_DIR/d.conf} "$SMD" -D > "$T_DIR/daemon.log" 2>&1 &
	DPID=$!
	T_PIDS+=("$DPID")
	SYNC_MANAGER_RUN_DIR=$1 retry_until 10 "$SM" status > /dev/null
}
d_stop() { kill "$DPID"; wait "$DPID" 2>/dev/null; }

# ---- (a) a run directory others can change ------------------------------------
USERDIR=$T_DIR/userrun
mkdir -m 0755 "$USERDIR"
ln -s "$PRECIOUS" "$USERDIR/sync_managerd.pid"
ln -s "$PRECIOUS" "$USERDIR/state.tmp"
chown -h 65534:65534 "$USERDIR" "$USERDIR/sync_managerd.pid" "$USERDIR/state.tmp"
d_refused "a run directory owned by another user" \
	"refusing run directory $USERDIR: it is owned by uid 65534, not by root.*chown root:root $USERDIR" "$USERDIR"
untouched "user-owned run directory"
[[ -L $USERDIR/sync_managerd.pid && -L $USERDIR/state.tmp ]] && t_ok "its files were left alone" \
	|| t_fail "files changed: $(ls -l "$USERDIR")"

OPEN=$T_DIR/openrun
mkdir "$OPEN"
chmod 0777 "$OPEN"
d_refused "a run directory writable by everyone" "refusing run directory $OPEN: it is writable by others \(mode 0777\)" "$OPEN"
chmod 0775 "$OPEN"
d_refused "a group-writable run directory" "refusing run directory $OPEN: it is writable by its group" "$OPEN"
ln -s "$T_DIR/good" "$T_DIR/linkrun"
mkdir -m 0755 "$T_DIR/good"
d_refused "a run directory that is a symbolic link" "refusing run directory $T_DIR/linkrun: it is a symbolic link" \
	"$T_DIR/linkrun"

# ---- (b) planted symbolic links in a good run directory -------------------------
RUN=$T_DIR/run
mkdir -m 0755 "$RUN"
ln -s "$PRECIOUS" "$RUN/sync_managerd.pid"
d_refused "a symbolic link as the pid file" "cannot open $RUN/sync_managerd.pid: it is a symbolic link" "$RUN"
untouched "sync_managerd.pid"
rm "$RUN/sync_managerd.pid"
ln -s "$PRECIOUS" "$RUN/state.tmp"
d_start "$RUN" && t_ok "a daemon starts with a planted state.tmp" || t_fail "no daemon: $(tail -5 "$T_DIR/daemon.log")"
untouched "state.tmp"
[[ ! -L $RUN/state.tmp && -f $RUN/state ]] && t_ok "the link was replaced, the state written" \
	|| t_fail "run dir: $(ls -l "$RUN")"

# ---- (d) the state file is private ----------------------------------------------
[[ $(stat -c '%a %u' "$RUN/state") == "600 0" ]] && t_ok "the state file is 0600, root's" \
	|| t_fail "state file: $(stat -c '%a %u' "$RUN/state")"
[[ $(stat -c %a "$RUN/sync_managerd.pid") == 644 ]] && t_ok "the pid file is 0644" \
	|| t_fail "pid file: $(stat -c %a "$RUN/sync_managerd.pid")"
# a file left 0644 by an earlier version is rewritten private at the next start
d_stop
kill -9 "$DPID" 2>/dev/null
printf 'sync_managerd-state 1\n' > "$RUN/state"
chmod 0644 "$RUN/state"
d_start "$RUN" && t_ok "a daemon resumes from a 0644 state file (not writable by others)" \
	|| t_fail "no daemon: $(tail -5 "$T_DIR/daemon.log")"
[[ $(stat -c %a "$RUN/state") == 600 ]] && t_ok "and rewrites it 0600" || t_fail "mode $(stat -c %a "$RUN/state")"
kill -9 "$DPID"
wait "$DPID" 2>/dev/null

# ---- (c) a state file someone else could have written -----------------------------
printf 'sync_managerd-state 1\nproc 1 0 0 init 15 /bin/false 0\n' > "$RUN/state"
sum=$(md5sum < "$RUN/state")
chown 65534 "$RUN/state"
chmod 0600 "$RUN/state"
d_refused "a state file owned by another user" \
	"refusing to resume from $RUN/state: it is owned by uid 65534, not by root.*chown root $RUN/state" "$RUN"
chown 0 "$RUN/state"
chmod 0666 "$RUN/state"
d_refused "a state file writable by everyone" "refusing to resume from $RUN/state: it is writable by others" "$RUN"
chmod 0620 "$RUN/state"
d_refused "a group-writable state file" "refusing to resume from $RUN/state: it is writable by its group" "$RUN"
[[ $(md5sum < "$RUN/state") == "$sum" ]] && t_ok "the refused state file was left as it was" \
	|| t_fail "state file changed: $(cat "$RUN/state")"
rm "$RUN/state"
ln -s "$PRECIOUS" "$RUN/state"
d_refused "a state file that is a symbolic link" "refusing to resume from $RUN/state: it is a symbolic link" "$RUN"
untouched "state"
rm "$RUN/state"

# ---- (e) a configuration file everyone can write ----------------------------------
cp "$T_DIR/d.conf" "$T_DIR/open.conf"
chmod 0666 "$T_DIR/open.conf"
d_start "$RUN" "$T_DIR/open.conf" && t_ok "a daemon starts with an open configuration file" \
	|| t_fail "no daemon: $(tail -5 "$T_DIR/daemon.log")"
t_match "and warns about it" "warning: $T_DIR/open.conf is writable by every user \(mode 0666\)" \
	"$(cat "$T_DIR/daemon.log")"
d_stop
t_done
