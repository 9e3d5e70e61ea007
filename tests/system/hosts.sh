# Emulated hosts for system tests (sourced after lib.sh).
#
# Host N is a PID namespace whose init is sync_manager-hostemu (an emulated
# watchdog: when not petted for W it kills everything in the namespace),
# running its own sync_managerd with run directory $T_DIR/hN and host name
# hostN.  Processes of the host are started inside with nsenter.
#
#   h_start N [extra sync_managerd.conf lines...]   start host N (H_WDMD=1: with wdmd)
#   h_exec N CMD...                                  run CMD inside host N
#   h_sm N ARGS...                                   sync_manager ARGS inside host N
#   h_bg N LOGFILE CMD...                            start CMD in host N in the background; echoes its outer pid
#   h_daemon_pid N                                   sync_managerd's pid (as seen inside)
#   h_alive N                                        is host N still up?
#   h_wait_down N SECONDS                            wait until host N is gone (reset)
#   h_fault N "RULES"                                inject storage faults into host N's daemon ("" = clear)
#   h_restart_daemon N SIGNAL                        stop host N's daemon with SIGNAL, start a new one
#                                                    (its log: $T_DIR/hN/daemon2.log)
#   h_stop_all                                       power every host off

H_WATCHDOG_MS=${H_WATCHDOG_MS:-3000}
H_WATCHDOG=${H_WATCHDOG:-emulated} # the `watchdog` setting of hosts started next
# H_WDMD=1: hosts started next run Debian's real wdmd (sanlock's watchdog
# multiplexer) before sync_managerd, with private /run and /dev/shm (wdmd's
# socket is /run/wdmd/wdmd.sock) and /dev/null as its console; its "device"
# is the emulated host's watchdog (tests/system/wdmd_dev.c).  Log: hN/wdmd.log.
_H_WDMD_INIT='
dir=$1 shim=$2; shift 2
mount -t tmpfs -o mode=0755 wdmd-run /run && mount -t tmpfs wdmd-shm /dev/shm &&
	mount --bind /dev/null /dev/console || exit 1
touch "$dir/wdmd-device"
SM_WDMD_DEV=$dir/wdmd-device SM_WDMD_EMU=$dir/watchdog.sock LD_PRELOAD=$shim \
	wdmd -D -H 0 -w "$dir/wdmd-device" >> "$dir/wdmd.log" 2>&1 &
echo $! > "$dir/wdmd.pid"
for ((i = 0; i < 100; i++)); do [[ -S /run/wdmd/wdmd.sock ]] && break; sleep 0.1; done
exec "$@" -D'
declare -A H_UNSHARE H_INIT

_h_dir() { echo "$T_DIR/h$1"; }

h_start() {
	local n=$1; shift
	local dir; dir=$(_h_dir "$n")
	mkdir -p "$dir" && chmod go-w "$dir" # sync_managerd refuses a run directory others can write
	{
		echo "watchdog = $H_WATCHDOG"
		echo "watchdog_timeout = $((H_WATCHDOG_MS / 1000))"
		echo "host_name = host$n"
		echo "log_level = info"
		local l; for l in "$@"; do echo "$l"; done
	} > "$dir/sync_managerd.conf"
	local cmd=("$SMD" -D)
	[[ -n ${H_WDMD:-} ]] && cmd=(bash -c "$_H_WDMD_INIT" wdmd-host "$dir" "$SM_BIN/tests/libwdmd_dev.so" "$SMD")
	SYNC_MANAGER_RUN_DIR=$dir SYNC_MANAGERD_CONFIG=$dir/sync_managerd.conf \
	SYNC_MANAGER_TEST_FAULTS=$dir/faults SYNC_MANAGER_HOST_NAME=host$n \
		setsid unshare --pid --fork --kill-child --mount-proc -- \
		"$SM_BIN/sync_manager-hostemu" --run-dir "$dir" --name "host$n" -- \
		"${cmd[@]}" >> "$dir/daemon.log" 2>&1 &
	H_UNSHARE[$n]=$!
	T_PIDS+=("$!")
	local i
	for ((i = 0; i < 200; i++)); do
		[[ -S $dir/sync_managerd.sock ]] && break
		sleep 0.05
	done
	H_INIT[$n]=$(pgrep -P "${H_UNSHARE[$n]}" | head -n1)
	if [[ ! -S $dir/sync_managerd.sock || -z ${H_INIT[$n]} ]]; then
		t_fail "host $n did not start: $(tail -5 "$dir/daemon.log")"
		return 1
	fi
}

h_exec() {
	local n=$1; shift
	nsenter --target "${H_INIT[$n]}" --pid --mount -- \
		env SYNC_MANAGER_RUN_DIR="$(_h_dir "$n")" SYNC_MANAGER_HOST_NAME="host$n" "$@"
}

h_sm() {
	local n=$1; shift
	h_exec "$n" "$SM" "$@"
}

h_bg() {
	local n=$1 log=$2; shift 2
	h_exec "$n" "$@" >> "$log" 2>&1 &
	T_PIDS+=("$!")
	echo "$!"
}

h_daemon_pid() { cat "$(_h_dir "$1")/sync_managerd.pid" 2>/dev/null | tr -d '\n'; }

h_alive() { kill -0 "${H_UNSHARE[$1]}" 2>/dev/null; }

h_wait_down() {
	local n=$1 secs=$2 i
	for ((i = 0; i < secs * 20; i++)); do
		h_alive "$n" || return 0
		sleep 0.05
	done
	return 1
}

h_fault() {
	local f; f="$(_h_dir "$1")/faults"
	if [[ -z $2 ]]; then rm -f "$f"; else printf '%s\n' "$2" > "$f"; fi
}

h_restart_daemon() {
	local n=$1 sig=$2 old i dir; old=$(h_daemon_pid "$n"); dir=$(_h_dir "$n")
	h_exec "$n" kill -"$sig" "$old"
	for ((i = 0; i < 100; i++)); do h_exec "$n" kill -0 "$old" 2>/dev/null || break; sleep 0.05; done
	h_exec "$n" env SYNC_MANAGERD_CONFIG="$dir/sync_managerd.conf" SYNC_MANAGER_TEST_FAULTS="$dir/faults" \
		setsid "$SMD" -D >> "$dir/daemon2.log" 2>&1 &
	T_PIDS+=("$!")
}

h_stop_all() {
	local n
	for n in "${!H_INIT[@]}"; do
		kill -TERM "${H_INIT[$n]}" 2>/dev/null
	done
	for n in "${!H_UNSHARE[@]}"; do
		local i
		for ((i = 0; i < 200; i++)); do kill -0 "${H_UNSHARE[$n]}" 2>/dev/null || break; sleep 0.05; done
	done
}

# now in milliseconds (monotonic enough for test timing)
now_ms() { date +%s%3N; }

# retry CMD until it succeeds or SECONDS pass; sets T_OUT; returns 1 on timeout
retry_until() {
	local secs=$1; shift
	local end=$(( $(now_ms) + secs * 1000 ))
	while :; do
		T_OUT=$("$@" 2>&1) && return 0
		(( $(now_ms) >= end )) && return 1
		sleep 0.2
	done
}
