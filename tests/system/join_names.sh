#!/bin/bash
# Joining by lockspace name is not limited to a fixed number of lockspaces
# (issue 19, item 5): a host that joined and left 40 lockspaces, one after the
# other, can join each of them again by its name alone (about 40 s).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/hosts.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (namespaces)"; exit 77; }

N=40
for ((i = 1; i <= N; i++)); do
	timeout --foreground 30 "$SM" init "$T_DIR/v$i" --lockspace "ls$i" --max-hosts 4 --resources 2 \
		--io-timeout 0.1 --watchdog-timeout 3 >/dev/null || t_fail "format v$i"
done
t_ok "formatted $N volumes"
h_start 1 || t_done
bad=0
for ((i = 1; i <= N; i++)); do
	h_sm 1 join "$T_DIR/v$i" --host-id 1 >/dev/null 2>&1 || { bad=$((bad + 1)); t_log "join v$i failed"; }
	h_sm 1 leave "ls$i" >/dev/null 2>&1 || { bad=$((bad + 1)); t_log "leave ls$i failed"; }
done
[[ $bad -eq 0 ]] && t_ok "joined and left $N lockspaces by path" || t_fail "$bad joins or leaves failed"
for i in 1 2 33 $N; do
	t_run "join ls$i again by its name" -- h_sm 1 join "ls$i"
	t_run "leave ls$i" -- h_sm 1 leave "ls$i"
done
t_done
