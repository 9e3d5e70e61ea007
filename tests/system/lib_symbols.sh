#!/bin/bash
# libsync_manager.so exports exactly the functions declared in the public
# headers (include/sync_manager/*.h), all under the SYNC_MANAGER_0 version
# node of src/lib/libsync_manager.map: a header function the map forgets is
# a link error for users, a private function the map lets out becomes ABI.
# The version macros of client.h match the library's sm_version() (a second).
source "$(dirname "$0")/lib.sh"
LIB="$SM_BIN/libsync_manager.so"
[[ -e $LIB ]] || { t_fail "no $LIB"; t_done; }

# Functions declared in the headers: "TYPE name(" at the start of a line.
declared=$(cat "$SM_SRC"/include/sync_manager/*.h | grep -oE '^[a-z][a-z0-9_ ]*[ *]\*?sm_[a-z0-9_]+\(' |
	grep -oE 'sm_[a-z0-9_]+\($' | tr -d '(' | sort -u)
exported=$(timeout --foreground 30 nm -D --defined-only "$LIB" | awk '$2 == "T" { print $3 }' | sort -u)
exported_names=$(sed 's/@.*//' <<<"$exported" | sort -u)

[[ -n $declared ]] && t_ok "the headers declare $(wc -l <<<"$declared") functions" || t_fail "no functions found in the headers"
missing=$(comm -23 <(echo "$declared") <(echo "$exported_names"))
[[ -z $missing ]] && t_ok "every declared function is exported" || t_fail "declared but not exported: $(echo $missing)"
extra=$(comm -13 <(echo "$declared") <(echo "$exported_names"))
[[ -z $extra ]] && t_ok "nothing else is exported" || t_fail "exported but not declared: $(echo $extra)"
unversioned=$(grep -v '@@SYNC_MANAGER_0$' <<<"$exported")
[[ -z $unversioned ]] && t_ok "all under SYNC_MANAGER_0" || t_fail "not in SYNC_MANAGER_0: $(echo $unversioned)"

# sm_version() and the header's macros agree (built against the same tree).
cat >"$T_DIR/v.c" <<'C'
#include <stdio.h>
#include <string.h>
#include "sync_manager/client.h"
int main(void)
{
	char want[32];
	snprintf(want, sizeof(want), "%d.%d.%d", SM_VERSION_MAJOR, SM_VERSION_MINOR, SM_VERSION_PATCH);
	if (strcmp(sm_version(), want) != 0 || strcmp(SM_VERSION_STRING, want) != 0 ||
	    SM_VERSION_NUMBER != SM_VERSION_MAJOR * 10000 + SM_VERSION_MINOR * 100 + SM_VERSION_PATCH) {
		fprintf(stderr, "sm_version() %s, header %s (%s, %d)\n", sm_version(), want, SM_VERSION_STRING,
			SM_VERSION_NUMBER);
		return 1;
	}
	printf("%s\n", sm_version());
	return 0;
}
C
if t_run "a program built against the headers links the library" -- timeout --foreground 60 \
	cc -std=c11 -Wall -Werror -I"$SM_SRC/include" -o "$T_DIR/v" "$T_DIR/v.c" -L"$SM_BIN" -lsync_manager; then
	t_run "sm_version() is the version the headers name" -- env LD_LIBRARY_PATH="$SM_BIN" timeout --foreground 10 "$T_DIR/v"
	t_match "and it is the project's version" "^[0-9]+\.[0-9]+\.[0-9]+$" "$T_OUT"
fi
t_done
