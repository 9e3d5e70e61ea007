#!/bin/bash
# tests/demo_tty.sh [--processes]: scripts/demo as a user runs it, at a terminal.
#
# The demo runs under a pseudo-terminal (script(1), util-linux) in a session of its own,
# with the terminal's input kept open and empty, as at an idle interactive terminal.  A
# process of the demo that touches the terminal from a background process group (e.g.
# virsh under `timeout` without --foreground) is stopped by SIGTTIN/SIGTTOU and the demo
# would hang until some timeout (issue 15): this test notices such a stopped process within
# seconds, names it, and ends the demo (which then removes what it started and keeps its
# logs).  Exit status: the demo's; 77 when it cannot run here (not root; the libvirt demo
# also needs libvirt and the fence program).  Environment: SM_BIN, as for scripts/demo.
set -uo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ARGS=("$@")

if [[ $(id -u) != 0 ]]; then echo "the demo needs root: skipped"; exit 77; fi
if [[ ${1:-} != --processes ]] && { ! command -v virsh >/dev/null || [[ ! -x ${SM_BIN:-$SRC/build}/sync_manager-fence-libvirt ]]; }; then
	echo "libvirt demo: needs libvirt and the fence program: skipped"
	exit 77
fi
command -v script >/dev/null || { echo "demo_tty: script(1) not found (Debian package bsdutils/util-linux)"; exit 1; }

export SM_DEMO_KEEP=${SM_DEMO_KEEP:-1} # also when this test stops the demo: keep its logs
D=$(mktemp -d)
mkfifo "$D/in"
exec 3<>"$D/in" # read-write: never at end of file, never blocks script(1)
cmd="exec bash $(printf '%q ' "$SRC/scripts/demo" "${ARGS[@]}")"
script -qec "$cmd" /dev/null <&3 &
SPID=$!

# session: the demo's session id (the pid of script's child, which runs the demo)
session() { local c; c=$(cat "/proc/$SPID/task/$SPID/children" 2>/dev/null) && c=${c%% *} && [[ -n $c ]] && echo "$c"; }
# stopped SID: "pid comm" of each process of session SID that is stopped by job control
stopped() {
	local f s pid
	for f in /proc/[0-9]*/stat; do
		{ read -r s <"$f"; } 2>/dev/null || continue
		pid=${s%% *}
		local rest=${s##*) } comm=${s#* (}
		comm=${comm%) *}
		# fields after comm: state ppid pgrp session ...
		read -r -a v <<<"$rest"
		[[ ${v[0]} == T && ${v[3]} == "$1" ]] && echo "$pid $comm"
	done
	return 0
}

SID=
since=0
rc=
while :; do
	if ! kill -0 "$SPID" 2>/dev/null; then break; fi
	[[ -n $SID ]] || SID=$(session) || SID=
	if [[ -n $SID ]]; then
		st=$(stopped "$SID")
		if [[ -z $st ]]; then
			since=0
		elif ((since == 0)); then
			since=$SECONDS
		elif ((SECONDS - since >= 3)); then
			{
				echo
				echo "demo_tty: FAILED: a process of the demo is stopped at the terminal (SIGTTIN/SIGTTOU: it"
				echo "touched the terminal from a background process group) for 3 s:"
				while read -r pid comm; do
					echo "  pid $pid ($comm): $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
				done <<<"$st"
				echo "(a 'timeout' without --foreground does this; stopping the demo)"
			} >&2
			# first what is stopped (the demo's shell runs its trap only once the command it
			# waits for has ended), then the demo's shell: its trap stops what it started
			while read -r pid comm; do kill -KILL "$pid" 2>/dev/null; done <<<"$st"
			kill -TERM "$SID" 2>/dev/null
			wait "$SPID"
			rc=1
			break
		fi
	fi
	sleep 0.5
done
if [[ -z $rc ]]; then
	wait "$SPID"
	rc=$?
fi
exec 3>&-
rm -rf "$D"
exit "$rc"
