# Shared helpers for system tests (sourced).  Tests talk to sync_manager only
# through its CLI and daemon, as a user would.
set -uo pipefail

SM_BIN=${SM_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../build" && pwd)}
SM="$SM_BIN/sync_manager"
SMD="$SM_BIN/sync_managerd"
T_NAME=$(basename "$0" .sh)
T_DIR=$(mktemp -d "${SM_TEST_TMPDIR:-/tmp}/${T_NAME}.XXXXXX" 2>/dev/null || mktemp -d "/tmp/${T_NAME}.XXXXXX")
T_FAILS=0
T_CHECKS=0
T_PIDS=()

t_cleanup() {
	local p
	for p in "${T_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [[ $T_FAILS -eq 0 && -z "${SM_KEEP:-}" ]]; then rm -rf "$T_DIR"; else echo "kept $T_DIR"; fi
}
trap t_cleanup EXIT

t_log() { printf '[%s] %s\n' "$T_NAME" "$*"; }
t_fail() { T_FAILS=$((T_FAILS + 1)); printf '[%s] FAIL: %s\n' "$T_NAME" "$*" >&2; }
t_ok() { T_CHECKS=$((T_CHECKS + 1)); printf '[%s] ok: %s\n' "$T_NAME" "$*"; }

# t_run DESC -- CMD...: CMD must succeed.  Output in $T_OUT.
t_run() {
	local desc=$1; shift; [[ $1 == -- ]] && shift
	T_OUT=$("$@" 2>&1); local rc=$?
	if [[ $rc -ne 0 ]]; then t_fail "$desc (exit $rc): $T_OUT"; return 1; fi
	t_ok "$desc"
}

# t_refused DESC PATTERN -- CMD...: CMD must fail and print PATTERN (grep -E).
t_refused() {
	local desc=$1 pat=$2; shift 2; [[ $1 == -- ]] && shift
	T_OUT=$("$@" 2>&1); local rc=$?
	if [[ $rc -eq 0 ]]; then t_fail "$desc: expected failure, got success: $T_OUT"; return 1; fi
	if ! grep -Eq -- "$pat" <<<"$T_OUT"; then t_fail "$desc: output lacks /$pat/: $T_OUT"; return 1; fi
	t_ok "$desc"
}

# t_match DESC PATTERN TEXT
t_match() {
	if grep -Eq -- "$2" <<<"$3"; then t_ok "$1"; else t_fail "$1: /$2/ not in: $3"; fi
}

t_done() {
	if [[ $T_FAILS -ne 0 ]]; then
		echo "[$T_NAME] $T_FAILS check(s) failed of $((T_CHECKS + T_FAILS))" >&2
		exit 1
	fi
	[[ $T_CHECKS -gt 0 ]] || { echo "[$T_NAME] no checks ran" >&2; exit 1; }
	echo "[$T_NAME] all $T_CHECKS checks passed"
	exit 0
}
