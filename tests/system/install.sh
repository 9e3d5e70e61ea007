#!/bin/bash
# make install as a packager runs it: DESTDIR staging, every file where the
# docs say, a program built against the installed .pc file, and the
# installed daemon telling systemd (Type=notify) that it is ready.
source "$(dirname "$0")/lib.sh"

# retry_until SECS CMD...: until CMD succeeds (every 0.1 s) or SECS pass.
retry_until() {
	local end=$((SECONDS + $1)); shift
	until "$@"; do ((SECONDS < end)) || return 1; sleep 0.1; done
}

D=$T_DIR/root
t_run "install into DESTDIR" -- env DESTDIR="$D" cmake --install "$SM_BIN"
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$SM_BIN/CMakeCache.txt")
R=$D$prefix
for f in sbin/sync_manager sbin/sync_managerd libexec/sync_manager/sync_manager-hostemu; do
	[[ -x $R/$f ]] && t_ok "$f installed" || t_fail "$R/$f missing"
done
[[ ! -e $R/sbin/sync_manager-hostemu ]] && t_ok "the test tool sync_manager-hostemu is not in sbin" ||
	t_fail "sync_manager-hostemu installed in sbin"
# The commented defaults go to /etc; an administrator's file is never overwritten.
for c in sync_manager/sync_managerd.conf:sync_managerd.conf libvirt/qemu-sync_manager.conf:qemu-sync_manager.conf; do
	f=$D/etc/${c%%:*}
	cmp -s "$f" "$SM_SRC/dist/${c#*:}" && t_ok "/etc/${c%%:*}: the commented defaults" || t_fail "$f missing or not the defaults"
	grep -qv '^\s*\(#\|$\)' "$f" && t_fail "/etc/${c%%:*} sets something: $(grep -v '^\s*\(#\|$\)' "$f")" ||
		t_ok "... every line of it a comment"
	echo "# edited by the administrator" >> "$f"
done
t_run "install again over edited configuration" -- env DESTDIR="$D" cmake --install "$SM_BIN"
t_match "... which says it keeps them" "Keeping: .*/etc/sync_manager/sync_managerd.conf" "$T_OUT"
for c in sync_manager/sync_managerd.conf libvirt/qemu-sync_manager.conf; do
	t_match "/etc/$c kept as edited" "^# edited by the administrator$" "$(cat "$D/etc/$c")"
done
[[ -f $R/share/doc/sync_manager/examples/sync_manager-alerts.yml ]] && t_ok "alerting rules in the examples" ||
	t_fail "sync_manager-alerts.yml missing"
lib=$(find "$R" -name 'libsync_manager.so.*' -type f | head -1)
[[ -n $lib ]] && t_ok "shared library installed ($(basename "$lib"))" || t_fail "libsync_manager.so.* missing"
pc=$(find "$R" -name sync_manager.pc | head -1)
[[ -n $pc ]] && t_ok "sync_manager.pc installed" || t_fail "sync_manager.pc missing"
for h in client.h admin.h errors.h volume.h; do
	[[ -f $R/include/sync_manager/$h ]] && t_ok "header $h" || t_fail "header $h missing"
done
unit=$(find "$D" -name sync_managerd.service | head -1)
[[ -n $unit ]] && t_ok "systemd unit installed" || t_fail "sync_managerd.service missing"
t_match "unit is Type=notify" "^Type=notify$" "$(cat "$unit" 2>/dev/null)"
t_match "unit starts the installed daemon" "^ExecStart=$prefix/sbin/sync_managerd -D$" "$(cat "$unit" 2>/dev/null)"
[[ -n $(find "$D" -path '*lock-driver/sync_manager.so') ]] && t_ok "libvirt lock driver installed" ||
	t_fail "lock-driver/sync_manager.so missing"
for c in sync_manager sync_managerd; do
	[[ -f $R/share/bash-completion/completions/$c ]] && t_ok "bash completion for $c installed" ||
		t_fail "bash completion for $c missing"
done
if command -v scdoc >/dev/null; then
	for m in man8/sync_manager.8 man8/sync_managerd.8 man5/sync_managerd.conf.5 man5/qemu-sync_manager.conf.5 \
		man5/sync_manager-libvirt.5; do
		[[ -f $R/share/man/$m ]] && t_ok "man page $m" || t_fail "man page $m missing"
	done
	if command -v man >/dev/null; then
		t_run "man renders sync_manager(8)" -- man -l "$R/share/man/man8/sync_manager.8"
		t_match "... with its commands" "acquire" "$T_OUT"
		for page in qemu-sync_manager.conf sync_manager-libvirt; do
			t_run "man $page finds the plugin's page" -- env MANPATH="$R/share/man" man -P cat "$page"
			t_match "... NAME qemu-sync_manager.conf" "qemu-sync_manager.conf - the sync_manager lock driver" "$T_OUT"
		done
	fi
fi

# A client program built the way the .pc file says, against the staged tree.
cat > "$T_DIR/client.c" <<'C'
#include <sync_manager/client.h>
#include <stdio.h>
int main(void)
{
	sm_conn *c;
	int rc = sm_conn_open(&c);
	printf("open: %s\n", rc < 0 ? sm_strerror(rc) : "ok");
	if (rc == 0)
		sm_conn_close(c);
	return 0;
}
C
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$D pkg-config --cflags --libs sync_manager)
t_run "a client builds with pkg-config's flags ($flags)" -- gcc -std=c11 -Wall -Werror -o "$T_DIR/client" \
	"$T_DIR/client.c" $flags
t_run "... and runs against the installed library" -- env LD_LIBRARY_PATH="$(dirname "$lib")" \
	SYNC_MANAGER_RUN_DIR="$T_DIR/nodaemon" "$T_DIR/client"
t_match "... which says no daemon runs" "open: sync_managerd is not running" "$T_OUT"

# The installed daemon and systemd's notify protocol (a datagram socket in
# NOTIFY_SOCKET, as systemd sets it for Type=notify).
mkdir -p "$T_DIR/run"
printf 'watchdog = none\nlog_level = info\n' > "$T_DIR/d.conf"
python3 - "$T_DIR/notify.sock" > "$T_DIR/notify.out" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
print("bound", flush=True)
try:
    print(s.recv(4096).decode(), flush=True)
except socket.timeout:
    print("no notification", flush=True)
PY
listener=$!
T_PIDS+=("$listener")
retry_until 10 grep -q bound "$T_DIR/notify.out" || t_fail "notify listener did not start"
NOTIFY_SOCKET=$T_DIR/notify.sock SYNC_MANAGER_RUN_DIR=$T_DIR/run SYNC_MANAGERD_CONFIG=$T_DIR/d.conf \
	LD_LIBRARY_PATH="$(dirname "$lib")" "$R/sbin/sync_managerd" -D >> "$T_DIR/daemon.log" 2>&1 &
dpid=$!
T_PIDS+=("$dpid")
wait "$listener"
t_match "the installed daemon told systemd READY=1" "^READY=1" "$(cat "$T_DIR/notify.out")"
t_run "and answers" -- env SYNC_MANAGER_RUN_DIR="$T_DIR/run" "$R/sbin/sync_manager" status
kill "$dpid" 2>/dev/null
wait "$dpid" 2>/dev/null
t_done
