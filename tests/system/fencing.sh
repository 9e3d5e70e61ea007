#!/bin/bash
# Fencing on emulated hosts (docs/timeouts.md): d = 1 s, W = 3 s, so R = 2 s,
# F = 8 s, G = 1.5 s, H = 11 s.  Each case cuts a host off its storage
# ('any eio') at t0; its last good renewal started at t_r in [t0 - R, t0], so
# F (SIGTERM or the kill program) falls in [t0 + F - R, t0 + F] and the
# deadlines are measured from t0 with that much margin.
#  (a) a holder that ignores SIGTERM gets SIGTERM at F, SIGKILL G later, and
#      dies by it before H;                                            (host 1)
#  (c) run --kill-program PROG: PROG runs at F with the holder's pid as its
#      only argument; the holder it stops releases the lease, nothing is
#      SIGKILLed and the host is not reset;                            (host 3)
#  (b) a holder that cannot be killed (frozen in a cgroup v1 freezer, as if
#      stuck in uninterruptible I/O): the daemon stops petting, the emulated
#      host is reset before H, and host 2 takes the lease only after the
#      whole namespace is gone.                                        (host 4)
# (a) and (c) run side by side to keep the test short.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (namespaces)"; exit 77; }

V=$T_DIR/leases
F=8 G_MS=1500 R=2 H=11

# The freezer cgroup of case (b).  A frozen process stays frozen through
# SIGKILL, so cleanup thaws it first (or nothing could end it).
CG=
FREEZER=/sys/fs/cgroup/freezer
if [[ -w $FREEZER ]] && mkdir "$FREEZER/sm_fencing.$$" 2>/dev/null; then
	CG=$FREEZER/sm_fencing.$$
fi
f_cleanup() {
	[[ -n $CG && -d $CG ]] || return 0
	echo THAWED > "$CG/freezer.state" 2>/dev/null
	local p
	for p in $(cat "$CG/cgroup.procs" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
}
trap 'f_cleanup; t_cleanup; [[ -n $CG ]] && for i in 1 2 3 4 5 6 7 8 9 10; do rmdir "$CG" 2>/dev/null && break; sleep 0.2; done' EXIT

t_run "format the shared volume" -- "$SM" init "$V" --lockspace ls --max-hosts 8 --resources 16 \
	--io-timeout 1 --watchdog-timeout 3 --resource stubborn --resource polite --resource frozen
t_run "timeouts" -- "$SM" timeouts "$V"
t_match "F is 8 s" "^ +renewal fail +F +8d +8 s " "$T_OUT"
t_match "G is 1.5 s" "^ +kill grace +G .* 1\.5 s " "$T_OUT"
t_match "H is 11 s" "^ +host dead +H +F \+ W +11 s " "$T_OUT"

for n in 1 2 3 4; do h_start "$n" || t_done; done
jp=()
for n in 1 2 3 4; do h_sm "$n" join "$V" --host-id "$n" > "$T_DIR/join$n.log" 2>&1 & jp+=("$!"); done
for n in 1 2 3 4; do
	wait "${jp[$((n - 1))]}" && t_ok "host $n joined" || t_fail "host $n join: $(cat "$T_DIR/join$n.log")"
done

# Event logs: one line "WHAT EPOCH_MS [...]" per event.
ev_time() { awk -v w="$1" '$1 == w { print $2; exit }' "$2" 2>/dev/null; }
ev_count() { awk -v w="$1" '$1 == w { n++ } END { print n + 0 }' "$2" 2>/dev/null; }
# rel T BASE: T - BASE, or nothing if T is empty
rel() { [[ -n $1 ]] && echo $(($1 - $2)); }
# between DESC VALUE LO HI: LO <= VALUE <= HI (an empty VALUE fails)
between() {
	if [[ -n $2 ]] && (( $2 >= $3 && $2 <= $4 )); then t_ok "$1 (+$2 ms, expected $3..$4)"
	else t_fail "$1: +${2:-never} ms, expected $3..$4"; fi
}

# ---- (a) and (c) --------------------------------------------------------------
EA=$T_DIR/a.events EC=$T_DIR/c.events
cat > "$T_DIR/stubborn.sh" <<'EOF'
#!/bin/bash
trap 'echo "TERM $(date +%s%3N)" >> "$1"' TERM
echo "start $(date +%s%3N) $$" >> "$1"
while :; do sleep 0.1; done
EOF
cat > "$T_DIR/polite.sh" <<'EOF'
#!/bin/bash
trap 'echo "USR1 $(date +%s%3N)" >> "$1"; exit 3' USR1
trap 'echo "TERM $(date +%s%3N)" >> "$1"' TERM
echo "start $(date +%s%3N) $$" >> "$1"
while :; do sleep 0.1; done
EOF
cat > "$T_DIR/killprog.sh" <<EOF
#!/bin/bash
echo "killprog \$(date +%s%3N) \$# \$*" >> "$EC"
kill -USR1 "\${@: -1}"
EOF
chmod +x "$T_DIR/stubborn.sh" "$T_DIR/polite.sh" "$T_DIR/killprog.sh"

LA=$T_DIR/a.log LC=$T_DIR/c.log
h_bg 1 "$LA" "$SM" run -l ls:stubborn --name stubborn -- "$T_DIR/stubborn.sh" "$EA" >/dev/null
h_bg 3 "$LC" bash -c '"$0" run -l ls:polite --name polite --kill-program "$1" -- "$2" "$3"; echo "run exited $?"' \
	"$SM" "$T_DIR/killprog.sh" "$T_DIR/polite.sh" "$EC" >/dev/null
retry_until 10 grep -q "acquired ls:stubborn" "$LA" && t_ok "(a) host 1 runs a holder that ignores SIGTERM" \
	|| t_fail "(a) holder: $(cat "$LA")"
retry_until 10 grep -q "acquired ls:polite" "$LC" && t_ok "(c) host 3 runs a holder with a kill program" \
	|| t_fail "(c) holder: $(cat "$LC")"
cpid=$(grep -o 'as pid [0-9]*' "$LC" | awk '{ print $3 }')
sleep 1
t0=$(now_ms)
h_fault 1 "any eio"
h_fault 3 "any eio"
t_deada= t_exitc=
while (( $(now_ms) - t0 < (H + 1) * 1000 )); do
	[[ -z $t_deada ]] && grep -q "killed by signal" "$LA" && t_deada=$(now_ms)
	[[ -z $t_exitc ]] && grep -q "run exited" "$LC" && t_exitc=$(now_ms)
	sleep 0.1
done
# now t0 + H + 1 s: a host reset would have happened by now

# (a) SIGTERM at F, SIGKILL at F + G, dead before H.
t_term=$(ev_time TERM "$EA")
between "(a) the holder got SIGTERM at F" "$(rel "$t_term" "$t0")" $(((F - R) * 1000 - 500)) $((F * 1000 + 1000))
(( $(ev_count TERM "$EA") == 1 )) && t_ok "(a) exactly one SIGTERM" || t_fail "(a) SIGTERMs: $(cat "$EA")"
t_match "(a) the holder died by SIGKILL" "was killed by signal 9$" "$(cat "$LA")"
if [[ -n $t_deada && -n $t_term ]]; then
	between "(a) SIGKILL came G after SIGTERM" $((t_deada - t_term)) $((G_MS - 400)) $((G_MS + 1200))
	(( t_deada - t0 < H * 1000 )) && t_ok "(a) dead before H (+$((t_deada - t0)) ms)" \
		|| t_fail "(a) dead only at +$((t_deada - t0)) ms"
else
	t_fail "(a) holder not killed: $(cat "$LA")"
fi
dla=$(cat "$(_h_dir 1)/daemon.log")
t_match "(a) the daemon logged the SIGTERM" "fencing process [0-9]+ \(stubborn\): no successful renewal for F; sending signal 15" "$dla"
t_match "(a) the daemon logged the SIGKILL" "process [0-9]+ \(stubborn\) still holds leases of ls after 1500 ms: SIGKILL" "$dla"
t_match "(a) and the end of the fencing" "lockspace ls: fencing complete" "$dla"
h_alive 1 && t_ok "(a) host 1 was not reset" || t_fail "(a) host 1 was reset: $(tail -3 "$(_h_dir 1)/hostemu.log")"
# For the record: how long before the watchdog would have fired the holder was seen dead.
l_ms() { date -d "today $1" +%s%3N 2>/dev/null; }
np=$(grep -m1 "not petting the watchdog" <<<"$dla") fc=$(grep -m1 "fencing complete" <<<"$dla")
if [[ -n $np && -n $fc ]]; then
	in=$(sed -n 's/.*reset in \([0-9]*\) ms.*/\1/p' <<<"$np")
	t_log "(a) fencing complete $(( $(l_ms "${np%% *}") + in - $(l_ms "${fc%% *}") )) ms before the watchdog would have fired"
fi

# (c) the kill program ran at F with the holder's pid; the holder left on its own.
kp=$(grep '^killprog ' "$EC")
(( $(grep -c '^killprog ' "$EC") == 1 )) && t_ok "(c) the kill program ran once" || t_fail "(c) kill program runs: $kp"
t_match "(c) with the holder's pid (as seen on host 3) as its only argument" "^killprog [0-9]+ 1 $cpid\$" "$kp"
t_kp=$(ev_time killprog "$EC")
between "(c) the kill program ran at F" "$(rel "$t_kp" "$t0")" $(((F - R) * 1000 - 500)) $((F * 1000 + 1000))
t_usr=$(ev_time USR1 "$EC")
[[ -n $t_usr && -n $t_kp ]] && between "(c) the holder heard from it at once" $((t_usr - t_kp)) 0 1000
(( $(ev_count TERM "$EC") == 0 )) && t_ok "(c) no SIGTERM (the kill program replaces it)" || t_fail "(c) got SIGTERM: $(cat "$EC")"
t_match "(c) the holder exited by itself (status 3)" "^run exited 3$" "$(cat "$LC")"
[[ -n $t_exitc && -n $t_kp ]] && (( t_exitc - t_kp < G_MS )) && t_ok "(c) before G" || t_fail "(c) exit not before G"
dlc=$(cat "$(_h_dir 3)/daemon.log")
t_match "(c) the daemon logged the kill program" "fencing process $cpid \(polite\): running $T_DIR/killprog.sh $cpid" "$dlc"
grep -q "SIGKILL" <<<"$dlc" && t_fail "(c) a SIGKILL was sent: $(grep SIGKILL <<<"$dlc")" || t_ok "(c) no SIGKILL"
t_match "(c) fencing complete: the lease is released" "lockspace ls: fencing complete, no process holds its leases" "$dlc"
t_run "(c) status on host 3" -- h_sm 3 status
t_match "(c) no lease held any more" "none held" "$T_OUT"
h_alive 3 && ! grep -q "resetting" "$(_h_dir 3)/hostemu.log" && t_ok "(c) host 3 was not reset" \
	|| t_fail "(c) host 3 was reset"
# The release was local (the storage is gone): others take over after H.
retry_until 5 h_sm 2 run -l ls:polite -- true && t_ok "(c) host 2 takes 'polite' over after H" \
	|| t_fail "(c) host 2 cannot take polite: $T_OUT"

# ---- (b) a holder that cannot be killed ------------------------------------------
if [[ -z $CG ]]; then
	t_log "(b) skipped: no writable cgroup v1 freezer at $FREEZER"
else
	LB=$T_DIR/b.log
	h_bg 4 "$LB" "$SM" run -l ls:frozen --name frozen -- sh -c 'echo $$ > "$1/cgroup.procs" && exec sleep 1000' sh "$CG" >/dev/null
	retry_until 10 grep -q "acquired ls:frozen" "$LB" && t_ok "(b) host 4 runs a holder" || t_fail "(b) holder: $(cat "$LB")"
	bpid=$(cat "$CG/cgroup.procs")
	[[ -n $bpid ]] && t_ok "(b) the holder (pid $bpid) is in the freezer cgroup" || t_fail "(b) holder not in $CG"
	sleep 1
	# The emulated reset (kill(-1, SIGKILL) from the namespace's init) cannot
	# end a frozen process, a real reset would: the watcher thaws the cgroup
	# as soon as hostemu logs the reset.  It also notes whether the holder was
	# still there at that moment.
	HE=$(_h_dir 4)/hostemu.log
	MONO_OFF=$(python3 -c 'import time; print(int(time.time() * 1000) - int(time.monotonic() * 1000))')
	(
		end=$(( $(now_ms) + (H + 10) * 1000 ))
		until grep -q "resetting emulated host" "$HE"; do
			(( $(now_ms) < end )) || exit 1
			sleep 0.05
		done
		echo "reset $(now_ms) $(cat "$CG/cgroup.procs" | wc -l)" >> "$T_DIR/b.events"
		echo THAWED > "$CG/freezer.state"
		h_wait_down 4 10 && echo "gone $(now_ms)" >> "$T_DIR/b.events"
	) &
	watcher=$!
	t0=$(now_ms)
	h_fault 4 "any eio"
	echo FROZEN > "$CG/freezer.state"
	# Host 2 tries from now on, every 0.2 s.
	t_acq= t_try= tries=0 gap=0 prev=$t0 bad= out=
	while (( $(now_ms) - t0 < (H + 6) * 1000 )); do
		t_try=$(now_ms)
		(( t_try - prev > gap )) && gap=$((t_try - prev))
		prev=$t_try
		tries=$((tries + 1))
		if out=$(h_sm 2 run -l ls:frozen -- true 2>&1); then
			t_acq=$(now_ms)
			break
		fi
		grep -q "held by host 4" <<<"$out" || bad=$out
		sleep 0.2
	done
	wait "$watcher"
	t_gone=$(ev_time gone "$T_DIR/b.events")
	dlb=$(cat "$(_h_dir 4)/daemon.log")
	t_match "(b) SIGTERM at F" "fencing process [0-9]+ \(frozen\): no successful renewal for F; sending signal 15" "$dlb"
	t_match "(b) SIGKILL at F + G" "process [0-9]+ \(frozen\) still holds leases of ls after 1500 ms: SIGKILL" "$dlb"
	t_match "(b) the daemon stopped petting the watchdog" "not petting the watchdog: a lockspace expired while processes hold its leases" "$dlb"
	grep -q "fencing complete" <<<"$dlb" && t_fail "(b) the daemon believed the frozen holder dead" \
		|| t_ok "(b) the fencing never completed"
	t_match "(b) hostemu reset host 4" "watchdog not petted for [0-9]+ ms \(timeout 3000 ms\): resetting emulated host" \
		"$(cat "$HE")"
	(( $(awk '$1 == "reset" { print $3 }' "$T_DIR/b.events") > 0 )) 2>/dev/null \
		&& t_ok "(b) the holder survived SIGTERM and SIGKILL until the reset" || t_fail "(b) the holder died before the reset"
	# hostemu's log is stamped with CLOCK_MONOTONIC
	t_fire=$(sed -n 's/^\[\([0-9]*\) ms\].*resetting emulated host.*/\1/p' "$HE")
	[[ -n $t_fire ]] && t_fire=$((t_fire + MONO_OFF))
	between "(b) host 4 was reset before H" "$(rel "$t_fire" "$t0")" $(((F - R) * 1000)) $((H * 1000 - 1))
	between "(b) and its namespace was gone before H" "$(rel "$t_gone" "$t0")" $(((F - R) * 1000)) $((H * 1000 - 1))
	[[ -z $bad ]] && t_ok "(b) host 2's refused attempts named host 4 as the holder" || t_fail "(b) unexpected refusal: $bad"
	(( gap <= 1500 )) && t_ok "(b) host 2 tried $tries times, at most $gap ms apart" || t_fail "(b) attempts $gap ms apart"
	if [[ -n $t_acq && -n $t_gone ]]; then
		(( t_try > t_gone )) && t_ok "(b) every attempt before host 4 was gone (+$((t_gone - t0)) ms) was refused; host 2 took the lease at +$((t_acq - t0)) ms" \
			|| t_fail "(b) an attempt started at +$((t_try - t0)) ms succeeded, host 4 gone only at +$((t_gone - t0)) ms"
		(( t_try - t0 >= H * 1000 - R * 1000 - 500 )) && t_ok "(b) every attempt before H - R - 0.5 s was refused" \
			|| t_fail "(b) takeover too early: +$((t_try - t0)) ms"
		# host 2 first sees host 4's last record up to R after it was written
		# (at t_r <= t0), and takes over once it has been unchanged for H
		(( t_acq - t0 <= (H + R + 1) * 1000 )) && t_ok "(b) takeover within H + R + 1 s" \
			|| t_fail "(b) takeover at +$((t_acq - t0)) ms"
	else
		t_fail "(b) host 2 did not take the lease (gone at ${t_gone:-never}): $out"
	fi
fi

h_stop_all
t_done
