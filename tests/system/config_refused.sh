#!/bin/bash
# sync_managerd.conf that is wrong is refused, by `sync_managerd --check-config` and by the
# daemon alike, with the file, the line and the fix: a file that is not there, a join
# volume that is not there (or, for --check-config, no lease volume), an admin_group that
# does not exist, and each kind of bad value.  A few seconds.
export SM_TEST_TMPDIR=/var/tmp # the join volume is read with O_DIRECT (not on tmpfs)
source "$(dirname "$0")/lib.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (the daemon's run directory)"; exit 77; }

RUN=$T_DIR/run
mkdir -m 0755 "$RUN"
V=$T_DIR/leases
t_run "format a volume" -- "$SM" init "$V" --lockspace cfg --max-hosts 4 --resources 2 --io-timeout 1

# check FILE: sync_managerd --check-config with FILE as $SYNC_MANAGERD_CONFIG
check() { env SYNC_MANAGERD_CONFIG="$1" "$SMD" --check-config; }
# start FILE: the daemon in the foreground; one that wrongly starts ends after 10 s
start() { env SYNC_MANAGER_RUN_DIR="$RUN" SYNC_MANAGERD_CONFIG="$1" timeout --foreground 10 "$SMD" -D; }

# ---- a file that is not there ---------------------------------------------------
t_refused "--check-config: a file named by \$SYNC_MANAGERD_CONFIG that is not there" \
	"$T_DIR/none.conf: no such file" -- check "$T_DIR/none.conf"
[[ $T_OUT != *valid* ]] && t_ok "and it does not say valid" || t_fail "it says valid: $T_OUT"
t_refused "--check-config -c: a file that is not there" "$T_DIR/none.conf: no such file \(given by -c\)" -- \
	"$SMD" --check-config -c "$T_DIR/none.conf"
t_refused "the daemon refuses a \$SYNC_MANAGERD_CONFIG that is not there" "none.conf: no such file" -- \
	start "$T_DIR/none.conf"
if [[ ! -e /etc/sync_manager/sync_managerd.conf ]]; then
	t_refused "--check-config without a file at the default path: not valid, the defaults would apply" \
		"/etc/sync_manager/sync_managerd.conf: no such file: sync_managerd would run with the built-in defaults" -- \
		env -u SYNC_MANAGERD_CONFIG "$SMD" --check-config
fi

# ---- join: a volume that is not there --------------------------------------------
printf 'watchdog = none\n# the volumes\njoin = [ "%s", "%s" ]\n' "$V" "$T_DIR/missing" > "$T_DIR/join.conf"
FIX="join.conf:3: join: volume $T_DIR/missing does not exist: format one with 'sync_manager init $T_DIR/missing --lockspace NAME', or remove it from join"
t_refused "--check-config: a join volume that is not there, with file, line and fix" "$FIX" -- check "$T_DIR/join.conf"
t_refused "the daemon refuses to start with it" "$FIX" -- start "$T_DIR/join.conf"
[[ $T_OUT != *ready* ]] && t_ok "and never said ready" || t_fail "it said ready: $T_OUT"
[[ ! -S $RUN/sync_managerd.sock ]] && t_ok "no socket was left" || t_fail "a socket is left in $RUN"

# a file that is no lease volume: --check-config reads the header
head -c 1048576 /dev/zero > "$T_DIR/blank"
printf 'watchdog = none\njoin = [ "%s" ]\n' "$T_DIR/blank" > "$T_DIR/blank.conf"
t_refused "--check-config: a join volume that is no lease volume" \
	"blank.conf:2: join: $T_DIR/blank is not a lease volume .*format it with 'sync_manager init $T_DIR/blank" -- \
	check "$T_DIR/blank.conf"
# a volume set with a member missing: the daemon would run it on two, --check-config names it
printf 'watchdog = none\njoin = [ "%s,%s,%s" ]\n' "$V" "$T_DIR/m2" "$T_DIR/m3" > "$T_DIR/set.conf"
t_refused "--check-config: a volume set with members that are not there" \
	"set.conf:2: join: volume set .*: volume $T_DIR/m2 does not exist" -- check "$T_DIR/set.conf"
printf 'watchdog = none\njoin = [ "%s,%s" ]\n' "$V" "$T_DIR/m2" > "$T_DIR/set2.conf"
t_refused "--check-config: a set of two" "set2.conf:2: join: '.*' is not a volume set: name its 3 members" -- \
	check "$T_DIR/set2.conf"

# ---- admin_group that does not exist ---------------------------------------------
G=sm-no-such-group-$$
printf 'watchdog = none\nadmin_group = %s\n' "$G" > "$T_DIR/group.conf"
FIX="group.conf:2: admin_group: group '$G' does not exist: create it \(groupadd $G\) or remove the line"
t_refused "--check-config: an admin_group that does not exist" "$FIX" -- check "$T_DIR/group.conf"
t_refused "the daemon refuses it the same way" "$FIX" -- start "$T_DIR/group.conf"

# ---- a good file is valid, and its join volume joined ------------------------------
printf 'watchdog = none\nadmin_group = root\njoin = [ "%s" ]\n' "$V" > "$T_DIR/good.conf"
t_run "--check-config: a good file" -- check "$T_DIR/good.conf"
t_match "is valid" "^# $T_DIR/good.conf: valid$" "$T_OUT"

# ---- every kind of bad value: file, line, what is accepted -------------------------
while IFS='|' read -r line pat; do
	printf 'watchdog = none\n%s\n' "$line" > "$T_DIR/v.conf"
	t_refused "bad value '$line'" "^sync_managerd: $T_DIR/v.conf:2: $pat" -- check "$T_DIR/v.conf"
done <<'EOF'
workers = 0|workers: '0' is out of range \(1 \.\. 64\)
workers = four|workers: 'four' is not a decimal number \(accepted: 1 \.\. 64\)
watchdog_timeout = 0.5|watchdog_timeout: '0.5' is out of range \(1 s \.\. 600 s\)
watchdog_timeout = soon|watchdog_timeout: 'soon' is not a number of seconds
log_level = loud|log_level: 'loud' is not one of: error, warn, info, debug
auto_rejoin = perhaps|auto_rejoin: 'perhaps' is not a boolean \(accepted: yes/no
join = /a, /b|join: ',' in unquoted value '/a, /b' \(write several items as \[ "a", "b" \]\)
workr = 4|unknown key 'workr' \(did you mean 'workers'\?\)
max_clients = 0|max_clients: '0' is out of range \(1 \.\. 100000\)
EOF
printf 'watchdog = none\nwatchdog = auto\n' > "$T_DIR/dup.conf"
t_refused "a key set twice" "dup.conf:2: duplicate key 'watchdog' \(already set on line 1\)" -- check "$T_DIR/dup.conf"
t_done
