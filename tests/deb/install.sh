#!/bin/bash
# The Debian packages (make deb) installed into a clean Debian root (make
# deb-test): every file where Debian puts it, conffiles, the unit enabled
# the Debian way, the Python module importable; the installed daemon started
# in the foreground on an emulated host (its watchdog emulated by the
# installed sync_manager-hostemu) with the installed default configuration
# and run directory; join, acquire and release through the installed CLI on
# a volume file; then remove (conffiles stay) and purge (nothing is left).
#
# The root is a tarball that mmdebstrap makes once from Debian's archive
# (the same sources as this machine's apt), with the packages' dependencies
# preinstalled, cached in $SM_BIN/deb-root-cache; each run unpacks a fresh
# copy.  About 30 s with the cache, 1-3 min more to make it.
export SM_TEST_TMPDIR=${SM_TEST_TMPDIR:-/var/tmp}
source "$(dirname "$0")/../system/lib.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root (chroot, dpkg, PID namespaces)"; exit 77; }
DEBS=${SM_DEB_DIR:-$SM_BIN/deb}
PKGS=(libsync-manager0 sync-manager libsync-manager-dev libvirt-sync-manager python3-sync-manager)
for p in "${PKGS[@]}"; do
	compgen -G "$DEBS/${p}_*.deb" >/dev/null ||
		{ t_fail "no ${p}_*.deb in $DEBS: build the packages first (make deb)"; t_done; }
done
command -v mmdebstrap >/dev/null || { t_fail "mmdebstrap missing (scripts/deps deb installs it)"; t_done; }
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
suite=$(. /etc/os-release && echo "$VERSION_CODENAME")

# ---- a clean root with the packages' dependencies --------------------------
# Depends of our packages that are not ours: first alternatives, no versions.
deps=$(for p in "${PKGS[@]}"; do dpkg-deb -f "$DEBS/${p}"_*.deb Depends; done | tr ',' '\n' |
	sed 's/|.*//; s/(.*)//; s/:any//; s/ //g' | grep -v '^$' | sort -u |
	grep -vxF -f <(printf '%s\n' "${PKGS[@]}"))
deps="$deps init-system-helpers"
cache=$SM_BIN/deb-root-cache
tarball=$cache/$suite-$arch-$(echo "$deps" | sort | md5sum | cut -c1-12).tar
if [[ ! -f $tarball ]]; then
	mkdir -p "$cache"
	t_log "making the clean root once: mmdebstrap $suite with $(echo $deps)"
	sources=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null)
	timeout --foreground 900 mmdebstrap --variant=apt --include="$(echo $deps | tr ' ' ',')" "$suite" \
		"$tarball.part.tar" - <<<"$sources" > "$T_DIR/mmdebstrap.log" 2>&1 ||
		{ t_fail "mmdebstrap failed: $(tail -5 "$T_DIR/mmdebstrap.log")"; t_done; }
	mv "$tarball.part.tar" "$tarball"
fi
R=$T_DIR/root
mkdir -p "$R" && timeout --foreground 120 tar -C "$R" -xf "$tarball" || { t_fail "cannot unpack $tarball"; t_done; }
t_ok "a clean $suite root from $(basename "$tarball")"
in_root() { timeout --foreground 120 chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
# Every path of the root but the kernel's, and apt's, dpkg's and ldconfig's
# own records (ldconfig, run by libc's trigger for any library, writes its
# aux-cache the first time).
snapshot() {
	(cd "$R" && find . -xdev \( -path ./proc -o -path ./dev -o -path ./sys -o -path ./var/lib/dpkg \
		-o -path ./var/cache/apt -o -path ./var/cache/ldconfig -o -path ./var/log -o -path ./tmp \) -prune \
		-o -print | sort)
}
snapshot > "$T_DIR/before"

# ---- install -----------------------------------------------------------------
mkdir -p "$R/tmp/debs"
for p in "${PKGS[@]}"; do cp "$DEBS/${p}"_*.deb "$R/tmp/debs/"; done
t_run "dpkg -i installs the five packages in the clean root" -- in_root sh -c 'dpkg -i /tmp/debs/*.deb'
rm -rf "$R/tmp/debs"
for p in "${PKGS[@]}"; do
	t_match "$p is installed" "^install ok installed$" "$(in_root dpkg-query -W -f='${Status}' "$p" 2>&1)"
done

# owned PACKAGE PATH...: each PATH exists in the root and dpkg says PACKAGE owns it.
owned() {
	local pkg=$1 path; shift
	for path in "$@"; do
		# (Multi-Arch: same packages are named with their architecture)
		if [[ -e $R$path || -L $R$path ]] && in_root dpkg -S "$path" 2>/dev/null | grep -q "^$pkg\(:$arch\)\?: $path$"; then
			t_ok "$path (from $pkg)"
		else
			t_fail "$path missing or not owned by $pkg"
		fi
	done
}
L=/usr/lib/$multiarch
owned sync-manager /usr/sbin/sync_managerd /usr/sbin/sync_manager /usr/libexec/sync_manager/sync_manager-hostemu \
	/lib/systemd/system/sync_managerd.service /etc/sync_manager/sync_managerd.conf \
	/usr/share/man/man8/sync_managerd.8.gz /usr/share/man/man8/sync_manager.8.gz \
	/usr/share/man/man5/sync_managerd.conf.5.gz /usr/share/bash-completion/completions/sync_manager \
	/usr/share/bash-completion/completions/sync_managerd /usr/share/doc/sync-manager/copyright \
	/usr/share/doc/sync-manager/examples/sync_managerd.conf /usr/share/doc/sync-manager/examples/sync_manager-alerts.yml
owned libsync-manager0 "$L/libsync_manager.so.0" /usr/share/doc/libsync-manager0/copyright
owned libsync-manager-dev "$L/libsync_manager.so" "$L/pkgconfig/sync_manager.pc" /usr/include/sync_manager/client.h \
	/usr/include/sync_manager/admin.h /usr/include/sync_manager/errors.h /usr/include/sync_manager/volume.h
owned libvirt-sync-manager "$L/libvirt/lock-driver/sync_manager.so" /usr/libexec/sync_manager/fence-libvirt \
	/etc/libvirt/qemu-sync_manager.conf /usr/share/man/man5/qemu-sync_manager.conf.5.gz
owned python3-sync-manager /usr/lib/python3/dist-packages/sync_manager/__init__.py \
	/usr/lib/python3/dist-packages/sync_manager/_native.abi3.so
# Nothing anywhere else: every file the packages put in the root is under a
# directory Debian uses for it.
all=$(for p in "${PKGS[@]}"; do in_root dpkg -L "$p"; done | sort -u)
stray=$(grep -vE '^/\.$|^/(etc|etc/sync_manager|etc/libvirt|lib|lib/systemd(/system)?|usr|usr/(s?bin|include|libexec|share|share/lintian|lib))$|^/etc/(sync_manager|libvirt)/|^/lib/systemd/system/|^/usr/(sbin|include/sync_manager|libexec/sync_manager|share/(doc|man|bash-completion|lintian/overrides)|lib/python3/dist-packages/sync_manager)(/|$)|^/usr/lib/python3(/dist-packages)?$|^/usr/lib/'"$multiarch"'(/|$)' <<<"$all")
[[ -z $stray ]] && t_ok "no file outside Debian's directories" || t_fail "files in unexpected places: $stray"
[[ -z $(grep -E '^/usr/local|^/usr/share/doc/sync_manager' <<<"$all") ]] && t_ok "nothing in /usr/local or doc/sync_manager" ||
	t_fail "files in /usr/local or /usr/share/doc/sync_manager"
conffiles=$(in_root dpkg-query -W -f='${Conffiles}\n' sync-manager libvirt-sync-manager)
t_match "sync_managerd.conf is a conffile" "^ /etc/sync_manager/sync_managerd.conf [0-9a-f]{32}" "$conffiles"
t_match "qemu-sync_manager.conf is a conffile" "^ /etc/libvirt/qemu-sync_manager.conf [0-9a-f]{32}" "$conffiles"
wants=/etc/systemd/system/multi-user.target.wants/sync_managerd.service
[[ $(readlink "$R$wants") == /lib/systemd/system/sync_managerd.service ]] &&
	t_ok "the unit is enabled (deb-systemd-helper: $wants)" || t_fail "$wants is not a link to the unit"
unit=$(cat "$R/lib/systemd/system/sync_managerd.service")
t_match "the unit starts the installed daemon" "^ExecStart=/usr/sbin/sync_managerd -D$" "$unit"
t_match "the unit creates the run directory (root's: the unit runs as root)" "^RuntimeDirectory=sync_manager$" "$unit"
t_match "the .pc file names Debian's multiarch libdir" "^libdir=$L$" "$(cat "$R$L/pkgconfig/sync_manager.pc")"
t_run "the Python module imports in the root" -- in_root python3 -c \
	'import sync_manager as sm; print(sm.version(), sm.errname(-sm.SM_EHELD))'
t_match "... and calls the installed library" "^[0-9]+\.[0-9]+\.[0-9]+ SM_EHELD$" "$T_OUT"

# ---- the installed daemon on an emulated host ----------------------------------
# /run/sync_manager as the unit's RuntimeDirectory makes it (root, 0755).
install -d -m 0755 -o root -g root "$R/run/sync_manager"
mkdir -p "$R/var/lib/smtest"
# The default watchdog timeout (60 s), as the installed configuration has it.
t_run "format a volume file with the installed CLI" -- in_root sync_manager init /var/lib/smtest/vol \
	--lockspace debls --max-hosts 8 --resources 16 --io-timeout 1 --resource r1
# The installed configuration (every line a comment: watchdog = auto finds the
# emulated host's watchdog); only the host name is given, as the chroot has none.
# The host's new mount namespace needs / to be a mount point (unshare makes
# its mounts private): a bind mount of the root onto itself, made in a
# private mount namespace of its own so that nothing shows outside.
setsid unshare --mount --propagation private -- sh -c 'mount --bind "$1" "$1" && exec chroot "$1" \
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin SYNC_MANAGER_HOST_NAME=debhost \
	unshare --pid --fork --kill-child --mount-proc -- \
	/usr/libexec/sync_manager/sync_manager-hostemu --run-dir /run/sync_manager --name debhost -- \
	/usr/sbin/sync_managerd -D' debroot "$R" > "$T_DIR/daemon.log" 2>&1 &
host=$!
T_PIDS+=("$host")
for ((i = 0; i < 200; i++)); do [[ -S $R/run/sync_manager/sync_managerd.sock ]] && break; sleep 0.05; done
init=$(pgrep -P "$host" | head -1) # sync_manager-hostemu, pid 1 of the host
[[ -S $R/run/sync_manager/sync_managerd.sock && -n $init ]] && t_ok "the installed daemon runs (emulated host)" ||
	{ t_fail "the daemon did not start: $(tail -5 "$T_DIR/daemon.log")"; t_done; }
in_host() {
	timeout --foreground 60 nsenter --target "$init" --pid --mount --root --wd -- \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"
}
t_run "join through the installed CLI" -- in_host sync_manager join /var/lib/smtest/vol --host-id 1
t_run "status" -- in_host sync_manager status
t_match "... the daemon watches an emulated watchdog" "watchdog emulated" "$T_OUT"
t_match "... and has joined debls" "debls +joined +1 " "$T_OUT"
t_run "acquire and release through the installed CLI" -- in_host sh -c '
	sleep 120 & p=$!
	sync_manager acquire debls:r1 --pid $p && sync_manager inquire --pid $p &&
		sync_manager release debls:r1 --pid $p && echo released && sync_manager inquire --pid $p
	rc=$?; kill $p; exit $rc'
t_match "... acquire gave debls:r1" "^debls:r1 EX lver [0-9]+$" "$T_OUT"
t_match "... and release took it back" "released" "$T_OUT"
[[ $(sed -n '/released/,$p' <<<"$T_OUT" | grep -c 'debls:r1') -eq 0 ]] && t_ok "... nothing held after release" ||
	t_fail "debls:r1 still held after release: $T_OUT"
t_run "the Python module acquires in the installed daemon" -- in_host python3 -c '
import sync_manager as sm
with sm.lease("debls:r1") as held:
    print(held[0].name, held[0].mode)
print(sm.default_client().inquire())'
t_match "... and releases on leaving the with block" "^r1 EX$" "$T_OUT"
t_match "... (nothing held after)" "^\[\]$" "$T_OUT"
t_run "leave" -- in_host sync_manager leave debls
kill -TERM "$init" 2>/dev/null
for ((i = 0; i < 100; i++)); do kill -0 "$host" 2>/dev/null || break; sleep 0.1; done
kill -0 "$host" 2>/dev/null && t_fail "the emulated host did not stop" || t_ok "the emulated host stopped"
# What the test made itself (not the packages): the volume and the run directory.
rm -rf "$R/var/lib/smtest" "$R/run/sync_manager"

# ---- remove, then purge --------------------------------------------------------
t_run "dpkg --remove the five packages" -- in_root dpkg --remove "${PKGS[@]}"
[[ -f $R/etc/sync_manager/sync_managerd.conf && ! -e $R/usr/sbin/sync_managerd ]] &&
	t_ok "after remove: the programs are gone, the conffile stays" || t_fail "remove left the wrong things"
t_run "dpkg --purge the five packages" -- in_root dpkg --purge "${PKGS[@]}"
snapshot > "$T_DIR/after"
left=$(comm -13 "$T_DIR/before" "$T_DIR/after")
gone=$(comm -23 "$T_DIR/before" "$T_DIR/after")
[[ -z $left ]] && t_ok "after purge nothing is left behind" || t_fail "left behind after purge: $left"
[[ -z $gone ]] && t_ok "and nothing of the root's own went missing" || t_fail "missing after purge: $gone"
t_done
