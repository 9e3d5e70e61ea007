#!/bin/bash
# sync_managerd through the CLI as an administrator meets it: no daemon, a
# second daemon, the socket's group and who may act for whom, renewal
# history, shared leases and lease versions, resources named by volume path,
# and the seed's `sync_manager daemon -i -n -l -c` form on a host that has
# not joined yet.  d = 1 s, W = 3 s (R = 2 s, F = 8 s).  About 10-15 s.
#
# Volumes and the run directories live on /var/tmp: a disk file system (lease
# I/O uses O_DIRECT, which tmpfs lacks) with a path short enough for a socket.
export SM_TEST_TMPDIR=/var/tmp
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (groupadd, setpriv)"; exit 77; }

# A temporary admin group, removed on any exit (after t_cleanup has killed
# every process we started).
GRP=smcli$$
GRP_MADE=
dc_cleanup() {
	t_cleanup
	[[ -n $GRP_MADE ]] && groupdel "$GRP" 2>/dev/null
}
trap dc_cleanup EXIT
groupadd "$GRP" || { echo "groupadd $GRP failed"; exit 1; }
GRP_MADE=1
GID=$(getent group "$GRP" | cut -d: -f3)
[[ -n $GID ]] || { t_fail "group $GRP has no gid"; t_done; }
chmod 0755 "$T_DIR" # other users reach the sockets below it

RUN=$T_DIR/run
SOCK=$RUN/sync_managerd.sock
export SYNC_MANAGER_RUN_DIR=$RUN
V=$T_DIR/leases
printf 'watchdog = none\nlog_level = warn\nhost_name = clihost1\nadmin_group = %s\n' "$GRP" > "$T_DIR/d1.conf"

# ---- 1. no daemon --------------------------------------------------------------
NOT_RUNNING="sync_managerd is not running \(nothing listens on $SOCK\)"
t_refused "status without a daemon (no run directory)" "$NOT_RUNNING" -- "$SM" status
t_match "and says how to start one" "start it with .*sync_managerd.*same SYNC_MANAGER_RUN_DIR" "$T_OUT"
t_refused "acquire without a daemon" "$NOT_RUNNING" -- "$SM" acquire ls:r1 --pid $$
# A socket left behind by a killed daemon: nobody listens on it.
mkdir -p "$RUN"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$SOCK"
[[ -S $SOCK ]] && t_ok "a stale socket is in place" || t_fail "no stale socket"
t_refused "status with only a stale socket" "$NOT_RUNNING" -- "$SM" status

# ---- 2. one daemon per run directory -------------------------------------------
SYNC_MANAGERD_CONFIG=$T_DIR/d1.conf "$SMD" -D >> "$T_DIR/daemon1.log" 2>&1 &
DPID=$!
T_PIDS+=("$DPID")
retry_until 20 "$SM" status && t_ok "daemon 1 up (it replaced the stale socket)" \
	|| { t_fail "daemon 1 did not start: $(tail -5 "$T_DIR/daemon1.log")"; t_done; }
t_refused "a second sync_managerd -D on the same run directory is refused" \
	"another sync_managerd \(pid $DPID\) already runs with run directory $RUN" -- \
	env SYNC_MANAGERD_CONFIG="$T_DIR/d1.conf" timeout --foreground 30 "$SMD" -D
kill -0 "$DPID" 2>/dev/null && t_ok "the first daemon still runs" || t_fail "daemon 1 died"
[[ $(tr -d '\n' < "$RUN/sync_managerd.pid") == "$DPID" && -S $SOCK ]] \
	&& t_ok "its pid file and socket are untouched" || t_fail "pid file or socket changed"
t_run "and still answers" -- "$SM" status
t_match "status names the first daemon" "^sync_managerd pid $DPID," "$T_OUT"

t_run "format a volume (d = 1 s)" -- "$SM" init "$V" --lockspace ls --max-hosts 8 --resources 32 \
	--io-timeout 1 --watchdog-timeout 3 --resource r1 --resource r2 --resource r3 --resource r4 \
	--resource r5 --resource r6 --resource r7
t_run "join as host 1" -- "$SM" join "$V" --host-id 1

# ---- 3. the socket's group: who may act for whom -------------------------------
t_match "socket mode 0660, group $GRP" "^660 root $GRP$" "$(stat -c '%a %U %G' "$SOCK")"
ADMIN=(setpriv --reuid=65534 --regid=65534 --groups="$GID" env SYNC_MANAGER_RUN_DIR="$RUN")
ADMIN_PRIMARY=(setpriv --reuid=65534 --regid="$GID" --clear-groups env SYNC_MANAGER_RUN_DIR="$RUN")
OTHER=(setpriv --reuid=65534 --regid=65534 --clear-groups env SYNC_MANAGER_RUN_DIR="$RUN")
t_match "the group member is not root" "^65534 65534 .*\b$GID\b" "$("${ADMIN[@]}" sh -c 'echo $(id -u) $(id -g) $(id -G)')"
sleep 1000 &
victim1=$!
sleep 1000 &
victim2=$!
T_PIDS+=("$victim1" "$victim2")
t_run "root acquires r1 for a process" -- "$SM" acquire ls:r1 --pid "$victim1"
t_run "a member of $GRP inquires another process's leases" -- "${ADMIN[@]}" "$SM" inquire --pid "$victim1"
t_match "and sees r1" "^ls:r1 EX lver [0-9]+$" "$T_OUT"
t_run "so does a user whose primary group is $GRP" -- "${ADMIN_PRIMARY[@]}" "$SM" inquire --pid "$victim1"
t_match "r1 again" "^ls:r1 EX lver [0-9]+$" "$T_OUT"
t_run "a member of $GRP acquires r2 for another process" -- "${ADMIN[@]}" "$SM" acquire ls:r2 --pid "$victim2"
t_match "for that pid" "^acquired ls:r2 exclusive at lver [0-9]+ for pid $victim2$" "$T_OUT"
t_run "root sees it held by that process" -- "$SM" inquire --pid "$victim2"
t_match "r2 held" "^ls:r2 EX" "$T_OUT"
t_refused "a user outside $GRP may not inquire" "permission denied on $SOCK: only root and members of .*admin_group" -- \
	"${OTHER[@]}" "$SM" inquire --pid "$victim1"
t_refused "nor acquire for another process" "permission denied on $SOCK" -- \
	"${OTHER[@]}" "$SM" acquire ls:r3 --pid "$victim2"
t_refused "nor release its leases" "permission denied on $SOCK" -- "${OTHER[@]}" "$SM" release ls:r2 --pid "$victim2"
t_run "the lease survived the refused release" -- "$SM" inquire --pid "$victim2"
t_match "r2 still held" "^ls:r2 EX" "$T_OUT"
t_run "the member releases it" -- "${ADMIN[@]}" "$SM" release ls:r2 --pid "$victim2"
t_run "inquire after the release" -- "$SM" inquire --pid "$victim2"
t_match "nothing held" "holds no leases" "$T_OUT"

# ---- 4. renewal history ----------------------------------------------------------
t_run "status --json for the renewal timing" -- "$SM" status --json
R_MS=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["lockspaces"][0]["renewal_interval_ms"])' <<<"$T_OUT")
F_MS=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["lockspaces"][0]["renewal_fail_ms"])' <<<"$T_OUT")
[[ $R_MS == 2000 && $F_MS == 8000 ]] && t_ok "R = 2 s and F = 8 s" || t_fail "R = $R_MS ms, F = $F_MS ms"
renewal_count() {
	"$SM" renewals ls --json 2>/dev/null |
		python3 -c 'import json,sys; print(len(json.load(sys.stdin)["renewals"]))' 2>/dev/null || echo 0
}
end=$(( $(now_ms) + 20000 ))
while (( $(renewal_count) < 4 && $(now_ms) < end )); do sleep 0.2; done
(( $(renewal_count) >= 4 )) && t_ok "the join and at least 3 renewals are recorded" || t_fail "too few renewals"
t_run "renewals (table)" -- "$SM" renewals ls
t_match "the table has its header" "^STARTED +TOOK +RESULT" "$T_OUT"
rows=$(grep -cE '^[0-9.]+ s ago +[0-9]+ ms +ok *$' <<<"$T_OUT")
(( rows >= 4 && rows == $(wc -l <<<"$T_OUT") - 1 )) && t_ok "every row: started N s ago, took under 1 s, ok ($rows rows)" \
	|| t_fail "unexpected renewal rows: $T_OUT"
t_run "renewals --json" -- "$SM" renewals ls --json
CHECK_RENEWALS='
import json, sys
r, f = int(sys.argv[1]), int(sys.argv[2])
h = json.load(sys.stdin)["renewals"]
assert len(h) >= 4, h
assert all(x["result"] == "ok" for x in h), h
assert all(0 <= x["duration_ms"] < 1000 for x in h), h  # each under d = 1 s
ages = [x["age_ms"] for x in h]
gaps = [a - b for a, b in zip(ages, ages[1:])]  # oldest first
assert all(r // 2 <= g <= f for g in gaps), gaps
'
python3 -c "$CHECK_RENEWALS" "$R_MS" "$F_MS" <<<"$T_OUT" \
	&& t_ok "renewals --json: all ok, each under d, oldest first, one every R (not faster, never F apart)" \
	|| t_fail "renewals --json: $T_OUT"
t_refused "renewals of an unknown lockspace" "lockspace 'nosuch' is not joined" -- "$SM" renewals nosuch

# ---- 5. shared leases and lease versions ---------------------------------------------
for i in 1 2 3 4; do sleep 1000 & T_PIDS+=("$!"); done
p1=${T_PIDS[-4]} p2=${T_PIDS[-3]} p3=${T_PIDS[-2]} p4=${T_PIDS[-1]}
t_run "process 1 acquires r3 shared" -- "$SM" acquire ls:r3 --pid "$p1" --shared
t_match "shared" "^acquired ls:r3 shared at lver [0-9]+ for pid $p1$" "$T_OUT"
sh_lver=$(sed -n 's/.* at lver \([0-9]*\) .*/\1/p' <<<"$T_OUT")
t_run "process 2 acquires r3 shared too" -- "$SM" acquire ls:r3 --pid "$p2" --shared
t_run "status" -- "$SM" status
t_match "both hold r3 SH" "^  ls +r3 +SH +$sh_lver +($p1,$p2|$p2,$p1) +held" "$T_OUT"
t_refused "exclusive r3 is refused while it is shared" "ls:r3 is held shared by this host \(host 1\)" -- \
	"$SM" acquire ls:r3 --pid "$p3"
t_refused "run -l r3 (exclusive) as well" "held shared by this host" -- "$SM" run -l ls:r3 -- true
t_refused "a third share at the wrong version is refused" "ls:r3 is at lease version $sh_lver, not $((sh_lver + 7))" -- \
	"$SM" acquire ls:r3 --pid "$p4" --shared --version $((sh_lver + 7))
t_run "and at the held version it is granted" -- "$SM" acquire ls:r3 --pid "$p4" --shared --version "$sh_lver"
t_run "r4's version on disk" -- "$SM" direct inquire "$V:r4"
v4=$(sed -n 's/^r4: lver \([0-9]*\),.*/\1/p' <<<"$T_OUT")
[[ -n $v4 ]] && t_ok "r4 is at lver $v4" || t_fail "no lver: $T_OUT"
t_refused "acquire --version with the wrong lver is refused, naming it" \
	"acquire: ls:r4 is at lease version $v4, not $((v4 + 5))" -- "$SM" acquire ls:r4 --pid "$p3" --version $((v4 + 5))
t_run "r4 was not taken" -- "$SM" inquire --pid "$p3"
t_match "p3 holds nothing" "holds no leases" "$T_OUT"
t_run "acquire --version with the right lver succeeds" -- "$SM" acquire ls:r4 --pid "$p3" --version "$v4"
t_match "at the next version" "^acquired ls:r4 exclusive at lver $((v4 + 1)) for pid $p3$" "$T_OUT"
t_run "release r4" -- "$SM" release ls:r4 --pid "$p3"
t_refused "the old version no longer matches" "ls:r4 is at lease version $((v4 + 1)), not $v4" -- \
	"$SM" acquire ls:r4 --pid "$p3" --version "$v4"

# ---- 6. resources named by volume path -------------------------------------------------
sleep 1000 &
p5=$!
T_PIDS+=("$p5")
t_run "acquire VOLUME_PATH:NAME" -- "$SM" acquire "$V:r5" --pid "$p5"
t_match "it is r5 of lockspace ls" "^acquired ls:r5 exclusive at lver [0-9]+ for pid $p5$" "$T_OUT"
t_run "acquire VOLUME_PATH:OFFSET:NAME" -- "$SM" acquire "$V:0:r6" --pid "$p5"
t_match "it is r6 of lockspace ls" "^acquired ls:r6 exclusive at lver [0-9]+ for pid $p5$" "$T_OUT"
t_run "inquire" -- "$SM" inquire --pid "$p5"
t_match "r5 held" "^ls:r5 EX" "$T_OUT"
t_match "r6 held" "^ls:r6 EX" "$T_OUT"
t_run "release by VOLUME_PATH:NAME" -- "$SM" release "$V:r5" --pid "$p5"
t_run "inquire after it" -- "$SM" inquire --pid "$p5"
[[ $T_OUT != *ls:r5* && $T_OUT == *ls:r6* ]] && t_ok "only r5 was released" || t_fail "after release: $T_OUT"
t_refused "a volume that does not exist is named" "volume $T_DIR/nosuch: " -- "$SM" acquire "$T_DIR/nosuch:r1" --pid "$p5"
# Relative volume paths are made absolute (the daemon's cwd is not ours).
t_run "acquire ./VOLUME:NAME from the volume's directory" -- \
	bash -c "cd '$(dirname "$V")' && '$SM' acquire './$(basename "$V"):r5' --pid $p5"
t_match "it is r5 of lockspace ls again" "^acquired ls:r5 exclusive" "$T_OUT"
t_run "release DIR/VOLUME:NAME from the parent directory" -- \
	bash -c "cd '$(dirname "$(dirname "$V")")' && '$SM' release '$(basename "$(dirname "$V")")/$(basename "$V"):r5' --pid $p5"
t_run "inquire after the relative release" -- "$SM" inquire --pid "$p5"
[[ $T_OUT != *ls:r5* ]] && t_ok "r5 released through the relative path" || t_fail "still held: $T_OUT"
t_run "run -l VOLUME_PATH:NAME" -- "$SM" run -l "$V:r7" -- sh -c "'$SM' inquire --pid \$\$"
t_match "the command held r7 while it ran" "^ls:r7 EX lver [0-9]+$" "$T_OUT"
lv7=$(sed -n 's/.*acquired ls:r7 exclusive at lver \([0-9]*\);.*/\1/p' <<<"$T_OUT")
[[ -n $lv7 ]] && t_ok "run reported r7's lver $lv7" || t_fail "no lver: $T_OUT"
t_run "run -l VOLUME_PATH:OFFSET:NAME" -- "$SM" run -l "$V:0:r7" -- sh -c "'$SM' inquire --pid \$\$"
t_match "held it again, at the next version (released in between)" "acquired ls:r7 exclusive at lver $((lv7 + 1));" "$T_OUT"
t_match "while the command ran" "^ls:r7 EX lver $((lv7 + 1))$" "$T_OUT"
t_run "r7 is free after run" -- "$SM" direct inquire "$V:r7"
t_match "no owner" "no exclusive owner" "$T_OUT"

# ---- 7. the seed's form, on a host that has not joined ---------------------------------
RUN2=$T_DIR/run2
mkdir -p "$RUN2"
printf 'watchdog = none\nlog_level = warn\nhost_name = seedhost\n' > "$T_DIR/d2.conf"
SYNC_MANAGER_RUN_DIR=$RUN2 SYNC_MANAGERD_CONFIG=$T_DIR/d2.conf "$SMD" -D >> "$T_DIR/daemon2.log" 2>&1 &
D2PID=$!
T_PIDS+=("$D2PID")
SM2=(env SYNC_MANAGER_RUN_DIR="$RUN2" "$SM")
retry_until 20 "${SM2[@]}" status && t_ok "daemon 2 up" || { t_fail "daemon 2: $(tail -5 "$T_DIR/daemon2.log")"; t_done; }
t_match "it has joined nothing" "none joined" "$T_OUT"
t_run "seed form: daemon -i 2 -n vm7 -l vm7:VOLUME:0 -c CMD" -- \
	"${SM2[@]}" daemon -i 2 -n vm7 -l "vm7:$V:0" -c sh -c 'echo seed-ok'
t_match "it joined first (a new claim on host_id 2)" "claimed host_id 2 \(generation 1\)" "$T_OUT"
t_match "joined" "joined lockspace ls as host_id 2 generation 1" "$T_OUT"
t_match "created and acquired vm7" "acquired ls:vm7 exclusive at lver 1; running sh" "$T_OUT"
t_match "the command ran" "^seed-ok$" "$T_OUT"
t_run "status on host 2" -- "${SM2[@]}" status
t_match "host 2 is joined to ls as host_id 2" "^  ls +joined +2 +1 " "$T_OUT"
t_match "and holds nothing now" "none held" "$T_OUT"
t_run "vm7 exists in the volume" -- "$SM" resource ls "$V"
t_match "vm7 listed" "^vm7$" "$T_OUT"
t_run "vm7 was released when the command ended" -- "$SM" direct inquire "$V:vm7"
t_match "vm7 free" "no exclusive owner" "$T_OUT"
T_OUT=$("${SM2[@]}" daemon -i 2 -n vm7 -l "vm7:$V:0" -c sh -c 'echo again; exit 3' 2>&1)
rc=$?
[[ $rc -eq 3 ]] && t_ok "seed form again: the command's exit status (3) is returned" || t_fail "exit $rc: $T_OUT"
[[ $T_OUT != *claimed* ]] && t_ok "no second claim: the host had joined" || t_fail "claimed again: $T_OUT"
t_match "same generation" "joined lockspace ls as host_id 2 generation 1" "$T_OUT"
t_match "vm7 at the next version" "acquired ls:vm7 exclusive at lver 2;" "$T_OUT"
t_refused "seed form without a volume is a usage error" "'vm7' is not RESOURCE:PATH:OFFSET" -- \
	"${SM2[@]}" daemon -i 2 -n vm7 -l vm7 -c true
t_refused "host 2 cannot take r3 exclusive while host 1 shares it" "ls:r3 is held shared by host 1" -- \
	"${SM2[@]}" run -l ls:r3 -- true
retry_until 20 bash -c "'$SM' hosts ls | grep -Eq '^2 +seedhost +1 +live'" \
	&& t_ok "host 1 sees host 2 (seedhost) live" || t_fail "hosts on host 1: $T_OUT"

# ---- shutdown ---------------------------------------------------------------------------
t_run "daemon 2 shuts down" -- "${SM2[@]}" shutdown
retry_until 20 bash -c "! kill -0 $D2PID 2>/dev/null" && t_ok "daemon 2 exited" || t_fail "daemon 2 still runs"
t_refused "its CLI then says no daemon runs there" "sync_managerd is not running \(nothing listens on $RUN2/" -- \
	"${SM2[@]}" status
kill "$victim1" "$victim2" "$p1" "$p2" "$p3" "$p4" "$p5"
retry_until 20 bash -c "'$SM' status --json | grep -q '\"leases\": 0'" && t_ok "every lease released" || t_fail "leases left"
t_run "daemon 1 shuts down" -- "$SM" shutdown
retry_until 20 bash -c "! kill -0 $DPID 2>/dev/null" && t_ok "daemon 1 exited" || t_fail "daemon 1 still runs"
t_done
