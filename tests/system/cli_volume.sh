#!/bin/bash
# Formatting and inspecting volumes through the CLI: files, regions at an
# offset, a real loop device, corrupt sectors, and the errors users meet.
source "$(dirname "$0")/lib.sh"

V=$T_DIR/leases
t_run "init a new file" -- "$SM" init "$V" --lockspace vmstore --max-hosts 8 --resources 16 --io-timeout 1 \
	--resource vm-1 --resource disk-a
t_match "init prints geometry" "8 hosts, 16 resource areas" "$T_OUT"

t_refused "second init without --force is refused" "already|--force" -- "$SM" init "$V" --lockspace other
t_run "dump shows the lockspace" -- "$SM" dump "$V"
t_match "dump header" "lockspace +vmstore" "$T_OUT"
t_match "dump lists vm-1 free at lver 0" "vm-1 +0 +- +- +0 +free" "$T_OUT"

t_run "dump --json" -- "$SM" dump "$V" --json
python3 - "$T_OUT" <<'PY' && t_ok "json parses and names resources" || t_fail "json content"
import json, sys
d = json.loads(sys.argv[1])
assert d["header"]["lockspace"] == "vmstore"
assert d["header"]["max_hosts"] == 8
names = [r["name"] for r in d["index"]["resources"]]
assert names == ["vm-1", "disk-a"], names
assert all(r["error"] is None and r["lver"] == 0 for r in d["index"]["resources"])
PY

t_run "resource ls" -- "$SM" resource ls "$V"
t_match "ls lists both" "^vm-1$" "$T_OUT"

# Long names (libvirt's vm-<UUID>) keep the dump's columns aligned.
long=vm-4ff6400c-7b2a-4ee7-8916-90e759a0ade4
t_run "add a resource with a 39-character name" -- "$SM" resource add "$V" "$long"
t_run "dump with a long name" -- "$SM" dump "$V"
python3 - "$T_OUT" <<'PY' && t_ok "dump columns stay aligned with long names" || t_fail "dump misaligned: $T_OUT"
import sys
lines = sys.argv[1].splitlines()
hdr = next(l for l in lines if l.strip().startswith("NAME") and "AREA" in l)
col = hdr.index("AREA")
rows = [l for l in lines[lines.index(hdr) + 1:] if l.startswith("  ") and "resource areas in use" not in l]
assert len(rows) == 3, rows
for r in rows:
    assert r[col - 1] == " " and r[col] != " ", (col, r)
PY

# Removing a resource, and the errors of resource add|rm.
t_run "resource rm" -- "$SM" resource rm "$V" "$long"
t_match "rm says what it did" "removed resource $long" "$T_OUT"
"$SM" resource ls "$V" | grep -qx "$long" && t_fail "ls still lists $long" || t_ok "ls no longer lists it"
t_refused "rm of an unknown name" "no such resource" -- "$SM" resource rm "$V" no-such-name
t_refused "add on a missing path names it" "cannot open volume $T_DIR/missing: No such file" \
	-- "$SM" resource add "$T_DIR/missing" r1
t_match "... and the fix" "a new volume is made with 'sync_manager init PATH'" "$T_OUT"
truncate -s 1M "$T_DIR/blank"
t_refused "rm on an unformatted file" "not a sync_manager lease volume" -- "$SM" resource rm "$T_DIR/blank" r1
t_match "... and the fix" "format it with 'sync_manager init'" "$T_OUT"
t_run "init a volume with one resource area" -- "$SM" init "$T_DIR/small" --lockspace small --max-hosts 2 \
	--resources 1 --io-timeout 1 --resource only
t_refused "add to a full index" "no free resource area" -- "$SM" resource add "$T_DIR/small" another
t_match "... says how to make room" "resource rm.*more --resources" "$T_OUT"

# The derived timeouts, for given values and as JSON.
t_run "timeouts for d = 1 s, W = 3 s" -- "$SM" timeouts --io-timeout 1 --watchdog-timeout 3
t_match "H = F + W = 11 s" "host dead +H +F \+ W +11 s" "$T_OUT"
t_run "timeouts of the volume as JSON" -- "$SM" timeouts "$V" --json
python3 - "$T_OUT" <<'PY' && t_ok "timeouts --json carries every value with its formula" || t_fail "timeouts json: $T_OUT"
import json, sys
d = json.loads(sys.argv[1])
t = {r["symbol"]: r for r in d["timeouts"] if r["symbol"]}
assert t["d"]["ms"] == 1000 and t["R"]["ms"] == 2000 and t["F"]["ms"] == 8000, t
assert t["H"]["ms"] == t["F"]["ms"] + t["W"]["ms"] and t["H"]["formula"] == "F + W", t
PY

# A region at an offset inside a larger file.
R=$T_DIR/region
truncate -s 8M "$R"
t_run "init a region at 1M" -- "$SM" init "$R:1M" --lockspace region --max-hosts 4 --resources 4
t_refused "the file start is not a volume" "not a sync_manager lease volume" -- "$SM" dump "$R"
t_run "dump the region" -- "$SM" dump "$R:1M"
t_refused "misaligned offset is refused" "multiple of the sector size" -- "$SM" init "$R:1000" --lockspace x

# Corrupt a host record and the leader of vm-1: shown as corrupt, not skipped.
printf '\xff' | dd of="$V" bs=1 seek=$((512 * 2 + 40)) conv=notrunc status=none
off=$("$SM" dump "$V" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["index"]["resources"][0]["offset"])')
printf '\xff' | dd of="$V" bs=1 seek=$((off + 150)) conv=notrunc status=none
t_run "dump a damaged volume" -- "$SM" dump "$V"
t_match "corrupt host shown" "^ +2 .*corrupt: checksum mismatch" "$T_OUT"
t_match "corrupt leader shown" "vm-1 .*corrupt leader: checksum mismatch" "$T_OUT"

# Bad input gets clear errors.
t_refused "missing lockspace" "--lockspace NAME is required" -- "$SM" init "$T_DIR/x"
t_refused "bad lockspace name" "invalid lockspace name" -- "$SM" init "$T_DIR/x" --lockspace "a:b"
t_refused "bad sector size" "512 or 4096" -- "$SM" init "$T_DIR/x" --lockspace a --sector-size 1024
t_refused "io timeout too small" "io-timeout must be seconds" -- "$SM" init "$T_DIR/x" --lockspace a --io-timeout 0.01
t_refused "unknown command" "unknown command" -- "$SM" frobnicate

# A real loop device with 4096-byte logical blocks, formatted with O_DIRECT.
if [[ $(id -u) -eq 0 ]] && command -v losetup >/dev/null; then
	L=$T_DIR/loopfile
	truncate -s 64M "$L"
	if LOOP=$(losetup --find --show --sector-size 4096 "$L" 2>/dev/null); then
		t_run "init a 4K loop device" -- "$SM" init "$LOOP" --lockspace loopls --resources 8 --resource r1
		t_match "4K sectors detected" "4096-byte sectors" "$T_OUT"
		t_refused "512-byte volume on a 4K device is refused" "smaller than the device" -- \
			"$SM" init "$LOOP" --lockspace x --sector-size 512 --force
		t_run "dump the loop device" -- "$SM" dump "$LOOP"
		t_match "loop dump has r1" "r1 " "$T_OUT"
		small=$T_DIR/small; truncate -s 1M "$small"
		if SLOOP=$(losetup --find --show "$small" 2>/dev/null); then
			t_refused "device too small" "needs .* only" -- "$SM" init "$SLOOP" --lockspace x
			losetup -d "$SLOOP"
		fi
		losetup -d "$LOOP"
	else
		t_log "loop devices unavailable: skipped the block-device checks"
	fi
fi
# The lease I/O method (issue 14): a file cannot do COMPARE AND WRITE.
C=$T_DIR/caw.img
truncate -s 8M "$C"
t_refused "init --lease-io caw on a file is refused, naming why" \
	"$C cannot do COMPARE AND WRITE \(a regular file: COMPARE AND WRITE needs a SCSI block device\); format it with --lease-io paxos, or auto" \
	-- "$SM" init "$C" --lockspace cawtest --max-hosts 8 --resources 4 --lease-io caw
t_refused "...and formats nothing" "not a sync_manager lease volume" -- "$SM" dump "$C"
t_run "init --lease-io auto on a file falls back to Disk Paxos and says so" -- \
	"$SM" init "$C" --lockspace cawtest --max-hosts 8 --resources 4 --lease-io auto
t_match "auto names the reason" "cannot do COMPARE AND WRITE .*leases use Disk Paxos" "$T_OUT"
t_run "dump shows the method" -- "$SM" dump "$C"
t_match "dump: lease I/O paxos" "lease I/O +paxos" "$T_OUT"
t_run "dump --json has lease_io" -- "$SM" dump "$C" --json
t_match "json lease_io" '"lease_io": ?"paxos"' "$T_OUT"
t_refused "--lease-io with a wrong value" "--lease-io must be 'caw'" -- "$SM" init "$C" --lockspace x --force --lease-io cas
t_refused "--lease-io caw on a volume set" "not available for volume sets" -- \
	"$SM" init "$T_DIR/s1" "$T_DIR/s2" "$T_DIR/s3" --lockspace x --lease-io caw
t_refused "--lease-io caw with more hosts than the bitmap" "at most 1920 hosts" -- \
	"$SM" init "$C" --lockspace x --force --lease-io caw --max-hosts 1921
t_run "timeouts --lease-io caw" -- "$SM" timeouts --io-timeout 1 --watchdog-timeout 10 --lease-io caw
t_match "a free slot is joined without waiting" "join, free slot +0 +0 s" "$T_OUT"
t_match "a held slot waits H" "join, held slot +H +18 s" "$T_OUT"
t_done
