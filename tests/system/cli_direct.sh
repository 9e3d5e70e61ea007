#!/bin/bash
# The daemon-less CLI, `sync_manager direct ...`, driven as a user would: two
# hosts join a lockspace on a real file volume (O_DIRECT), then acquire,
# refuse, inquire, renew, release, acquire at a version, share, request and
# leave.  Each step is one process, so this also checks that the state on
# disk (not in memory) carries every decision.
source "$(dirname "$0")/lib.sh"

# O_DIRECT needs a real file system: use /var/tmp when the test dir is tmpfs.
VDIR=$T_DIR
if [[ $(stat -f -c %T "$T_DIR" 2>/dev/null) == tmpfs ]]; then
	VDIR=$(mktemp -d /var/tmp/cli_direct.XXXXXX) || { echo "no /var/tmp" >&2; exit 1; }
	trap '[[ $T_FAILS -eq 0 && -z "${SM_KEEP:-}" ]] && rm -rf "$VDIR"; t_cleanup' EXIT
fi
V=$VDIR/leases

# t_exit RC DESC PATTERN -- CMD...: CMD must exit with exactly RC and print
# PATTERN (grep -E, stdout and stderr).  Output in $T_OUT.
t_exit() {
	local want=$1 desc=$2 pat=$3; shift 3; [[ $1 == -- ]] && shift
	T_OUT=$("$@" 2>&1); local rc=$?
	if [[ $rc -ne $want ]]; then t_fail "$desc: exit $rc, expected $want: $T_OUT"; return 1; fi
	if ! grep -Eq -- "$pat" <<<"$T_OUT"; then t_fail "$desc: output lacks /$pat/: $T_OUT"; return 1; fi
	t_ok "$desc"
}
# inquire RES PATTERN DESC: the one-line inquire output must match PATTERN.
inquire() {
	t_exit 0 "$3" "$2" -- "$SM" direct inquire "$V:$1"
}
# host_field ID FIELD: one field of a host record from dump --json.
host_field() {
	"$SM" dump "$V" --json | python3 -c '
import json, sys
hosts = json.load(sys.stdin)["host_area"]["hosts"]
print(next((str(h[sys.argv[2]]) for h in hosts if h["host_id"] == int(sys.argv[1])), "absent"))' "$1" "$2"
}

# d = 0.5 s keeps a join near 1 s yet leaves I/O on a loaded machine room.
t_exit 0 "init a volume with two resources" "4 hosts, 4 resource areas" -- \
	"$SM" init "$V" --lockspace dls --max-hosts 4 --resources 4 --io-timeout 0.5 --resource vm-1 --resource disk-a

# Usage errors exit 2; acting for a host that never joined exits 1.
t_exit 2 "acquire without --host-id is a usage error" "acquire needs --host-id" -- \
	"$SM" direct acquire "$V:vm-1"
t_exit 2 "host_id beyond the CLI's range is a usage error" "--host-id must be 1\.\." -- \
	"$SM" direct join "$V" --host-id 0
t_exit 1 "acquire before joining is refused" "host_id 1 is not held in lockspace dls \(join it first\)" -- \
	"$SM" direct acquire "$V:vm-1" --host-id 1
t_exit 1 "a host_id outside the volume's slots cannot join" "host_id 9 is out of range: lockspace dls has host_ids 1\.\.4" -- \
	"$SM" direct join "$V" --host-id 9 --host-name node-nine
t_exit 1 "an unknown resource is named in the error" "resource nosuch on .*leases" -- \
	"$SM" direct inquire "$V:nosuch"

# Two hosts join with separate host ids.
t_exit 0 "host 1 joins" "^joined lockspace dls as host_id 1 generation 1 \(host name node-one\)$" -- \
	"$SM" direct join "$V" --host-id 1 --host-name node-one
t_match "join says how long the membership lasts" "membership expires 4 s after this" "$T_OUT"
t_exit 0 "host 2 joins" "^joined lockspace dls as host_id 2 generation 1 \(host name node-two\)$" -- \
	"$SM" direct join "$V" --host-id 2 --host-name node-two
t_exit 0 "dump after the joins" "lockspace +dls" -- "$SM" dump "$V"
t_match "dump shows host 1 held" "^ +1 +node-one +1 .* held$" "$T_OUT"
t_match "dump shows host 2 held" "^ +2 +node-two +1 .* held$" "$T_OUT"
# Joining a held slot waits H (64 s here) for the holder to stop renewing:
# interrupted (SIGTERM) after 5 s, it says why it waited and claimed nothing.
t_exit 1 "joining a held host_id waits for H and can be interrupted" \
	"host_id 1 was last held by 'node-one' \(generation 1\); waiting until it has not been renewed for H" -- \
	timeout --foreground --preserve-status 5 "$SM" direct join "$V" --host-id 1 --host-name intruder
t_match "the interrupted join says so" "cannot join lockspace on .*: operation interrupted" "$T_OUT"
[[ $(host_field 1 name)/$(host_field 1 generation)/$(host_field 1 state) == node-one/1/held ]] &&
	t_ok "the interrupted join left host 1's record alone" || t_fail "host 1 record changed by the intruder"

# Exclusive acquire; the other host is refused and told who holds it.
t_exit 0 "host 1 acquires vm-1 exclusive" "^acquired vm-1 exclusive at lver 1 as host_id 1 generation 1$" -- \
	"$SM" direct acquire "$V:vm-1" --host-id 1
t_exit 1 "host 2 is refused vm-1, naming host 1" "vm-1 is held by host 1 \(node-one, [a-z]+\)" -- \
	"$SM" direct acquire "$V:vm-1" --host-id 2
t_exit 1 "host 2 is refused vm-1 shared too" "vm-1 is held by host 1 \(node-one" -- \
	"$SM" direct acquire "$V:vm-1" --host-id 2 --shared
inquire vm-1 "^vm-1: lver 1, exclusive owner host_id 1 generation 1$" "inquire shows owner and lver after the refusals"
t_exit 0 "inquire --json" '"lver": 1' -- "$SM" direct inquire "$V:vm-1" --json
python3 - "$T_OUT" <<'PY' && t_ok "inquire json names owner, generation and mode" || t_fail "inquire json: $T_OUT"
import json, sys
d = json.loads(sys.argv[1])
assert (d["resource"], d["lver"], d["owner_host_id"], d["owner_generation"], d["mode"]) == ("vm-1", 1, 1, 1, "EX"), d
assert d["shared_holders"] == [] and d["request"] is None, d
PY

# A request to release is recorded and visible to everyone.
t_exit 2 "request needs --release or --handoff" "one of --release or --handoff" -- \
	"$SM" direct request "$V:vm-1" --host-id 2
t_exit 0 "host 2 requests release of vm-1" "^requested release of vm-1 at lver 1$" -- \
	"$SM" direct request "$V:vm-1" --host-id 2 --release
inquire vm-1 "^vm-1: lver 1, exclusive owner host_id 1 generation 1, release requested by host_id 2 at lver 1$" \
	"inquire shows the release request"
t_exit 0 "inquire --json with a request" '"request"' -- "$SM" direct inquire "$V:vm-1" --json
python3 - "$T_OUT" <<'PY' && t_ok "inquire json carries the request" || t_fail "request json: $T_OUT"
import json, sys
d = json.loads(sys.argv[1])
assert d["request"] == {"kind": "release", "requester_host_id": 2, "lver": 1}, d
assert d["owner_host_id"] == 1, d
PY

# Renewal rewrites host 1's record (and only it).
ts1=$(host_field 1 timestamp) ts2=$(host_field 2 timestamp)
t_exit 0 "host 1 renews" "^renewed host_id 1$" -- "$SM" direct renew "$V" --host-id 1
[[ $(host_field 1 timestamp) != "$ts1" && $ts1 =~ ^[0-9]+$ ]] && t_ok "renewal wrote a new timestamp" ||
	t_fail "host 1 timestamp still $ts1 after renewal"
[[ $(host_field 2 timestamp) == "$ts2" ]] && t_ok "renewal left host 2 alone" || t_fail "host 2 record changed"
t_exit 1 "renew with a wrong generation is refused" "host_id 1 is not held with that generation" -- \
	"$SM" direct renew "$V" --host-id 1 --generation 7

# Release: only the owner may; it keeps lver.
t_exit 1 "host 2 cannot release host 1's lease" "vm-1 is not held by host_id 2" -- \
	"$SM" direct release "$V:vm-1" --host-id 2
inquire vm-1 "^vm-1: lver 1, exclusive owner host_id 1 " "a refused release changes nothing"
t_exit 0 "host 1 releases vm-1" "^released vm-1 at lver 1$" -- "$SM" direct release "$V:vm-1" --host-id 1
inquire vm-1 "^vm-1: lver 1, no exclusive owner" "release keeps lver 1 and frees the lease"
t_exit 1 "releasing again is refused" "vm-1 is not held by host_id 1" -- \
	"$SM" direct release "$V:vm-1" --host-id 1

# Acquire at a version: the migration rule.
t_exit 1 "acquire at the wrong lver is refused" "vm-1 is at lver 1, not 0: lease version differs" -- \
	"$SM" direct acquire "$V:vm-1" --host-id 2 --version 0
inquire vm-1 "^vm-1: lver 1, no exclusive owner" "the refused acquire left lver 1"
t_exit 0 "acquire at the right lver" "^acquired vm-1 exclusive at lver 2 as host_id 2 generation 1$" -- \
	"$SM" direct acquire "$V:vm-1" --host-id 2 --version 1
inquire vm-1 "^vm-1: lver 2, exclusive owner host_id 2 generation 1" "inquire shows the new owner at lver 2"
t_exit 1 "the old version no longer works" "vm-1 is at lver 2, not 1" -- \
	"$SM" direct acquire "$V:vm-1" --host-id 1 --version 1
t_exit 0 "host 2 releases vm-1" "^released vm-1 at lver 2$" -- "$SM" direct release "$V:vm-1" --host-id 2

# Shared holders coexist; exclusive is refused while one is held.
t_exit 0 "host 1 acquires disk-a shared" "^acquired disk-a shared at lver 1 as host_id 1 generation 1$" -- \
	"$SM" direct acquire "$V:disk-a" --host-id 1 --shared
t_exit 0 "host 2 acquires disk-a shared too" "^acquired disk-a shared at lver 2 as host_id 2 generation 1$" -- \
	"$SM" direct acquire "$V:disk-a" --host-id 2 --shared
inquire disk-a "^disk-a: lver 2, no exclusive owner, shared by host_id 1,2$" "inquire lists both shared holders"
t_exit 1 "exclusive is refused while host 2 holds it shared" \
	"disk-a is held by host 2 \(node-two, [a-z]+\): lease is held in shared mode" -- \
	"$SM" direct acquire "$V:disk-a" --host-id 1
t_exit 0 "host 2 releases its shared lease" "^released disk-a at lver 2$" -- \
	"$SM" direct release "$V:disk-a" --host-id 2 --shared
inquire disk-a "^disk-a: lver 2, no exclusive owner, shared by host_id 1$" "host 1 still holds it shared"
t_exit 1 "exclusive is refused while host 1 holds it shared" "disk-a is held by host 1 \(node-one" -- \
	"$SM" direct acquire "$V:disk-a" --host-id 2
t_exit 0 "host 1 releases its shared lease" "^released disk-a at lver 2$" -- \
	"$SM" direct release "$V:disk-a" --host-id 1 --shared
inquire disk-a "^disk-a: lver 2, no exclusive owner$" "no shared holders are left"
t_exit 0 "exclusive works once the shared holders are gone" "^acquired disk-a exclusive at lver 3 as host_id 2" -- \
	"$SM" direct acquire "$V:disk-a" --host-id 2
t_exit 0 "and is released" "^released disk-a at lver 3$" -- "$SM" direct release "$V:disk-a" --host-id 2

# Leave refuses while the host holds a lease (a free slot reads as a dead owner).
t_exit 0 "host 2 takes vm-1 again" "^acquired vm-1 exclusive" -- "$SM" direct acquire "$V:vm-1" --host-id 2
t_exit 1 "leave is refused while host 2 holds vm-1" "host_id 2 still holds 1 lease\(s\): vm-1 \(EX\); release them first" -- \
	"$SM" direct leave "$V" --host-id 2
t_exit 0 "host 2 releases vm-1" "^released vm-1 at lver" -- "$SM" direct release "$V:vm-1" --host-id 2
# Leave frees the slot; the host can no longer act until it joins again.
t_exit 0 "host 2 leaves" "^left with host_id 2$" -- "$SM" direct leave "$V" --host-id 2
t_exit 0 "dump after the leave" "lockspace +dls" -- "$SM" dump "$V"
t_match "dump shows host 2 free" "^ +2 +node-two +1 .* free$" "$T_OUT"
t_match "dump still shows host 1 held" "^ +1 +node-one +1 .* held$" "$T_OUT"
[[ $(host_field 2 state) == free ]] && t_ok "dump --json shows host 2 free" || t_fail "host 2 json state not free"
t_exit 1 "host 2 cannot acquire after leaving" "host_id 2 is not held in lockspace dls" -- \
	"$SM" direct acquire "$V:vm-1" --host-id 2
t_exit 1 "host 2 cannot renew after leaving" "cannot renew host_id 2" -- "$SM" direct renew "$V" --host-id 2
t_exit 1 "leaving twice is refused" "cannot leave host_id 2" -- "$SM" direct leave "$V" --host-id 2
# The freed slot is joined again at once (no H wait), by name, as generation 2.
t_exit 0 "node-two rejoins its slot by name" "^joined lockspace dls as host_id 2 generation 2 \(host name node-two\)$" -- \
	timeout --foreground 30 "$SM" direct join "$V" --host-name node-two
t_exit 0 "host 1 takes disk-a shared" "^acquired disk-a shared" -- "$SM" direct acquire "$V:disk-a" --host-id 1 --shared
t_exit 1 "host 1 may not leave holding it" "host_id 1 still holds 1 lease\(s\): disk-a \(SH\)" -- \
	"$SM" direct leave "$V" --host-id 1
t_exit 0 "host 1 leaves with --force" "^left with host_id 1$" -- "$SM" direct leave "$V" --host-id 1 --force
t_done
