/* Reading sync_managerd's state file (docs/restart.md, the format is
 * described at the top of state.c): no daemon state and no logging, so it
 * can be fuzzed (tests/fuzz/fuzz_state.c).
 *
 * Two layers:
 *  - state_replay_parse() replays snapshot + journal: the latest line for
 *    each key wins, deletes drop the key, "renewed" lines update a live
 *    lockspace, a torn last line (no newline) is ignored;
 *  - state_parse_{lockspace,proc,lease}() turn one surviving line into
 *    checked fields, or reject it as malformed.
 * Both only ever read within the bytes they are given. */
#ifndef SM_DAEMON_STATE_REPLAY_H
#define SM_DAEMON_STATE_REPLAY_H

#include "ondisk/records.h"
#include "sync_manager/client.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define STATE_MAGIC "sync_managerd-state 1"

/* Sizes of the string fields, NUL included (state.c checks them against
 * struct proc and struct kill_action). */
#define STATE_KILL_PATH_SIZE 256
#define STATE_KILL_ARG_SIZE 128
#define STATE_KILL_ARGS_MAX 8

enum state_kind { STATE_LOCKSPACE = 'S', STATE_PROC = 'P', STATE_LEASE = 'L' };

/* One key after the replay.  line points into the parsed buffer (NUL-
 * terminated there) and is the latest upsert line for the key. */
struct state_rec {
	char kind;          /* enum state_kind */
	bool live;          /* false: deleted, line is NULL */
	char *line;
	char *key;          /* "S LOCATION", "P PID", "L LS NAME" (owned) */
	size_t lineno;      /* of line, 1 = the magic line */
	uint64_t renewed;   /* lockspace: from a later "renewed" line, 0 = none */
};

struct state_replay {
	struct state_rec *recs; /* in the order keys first appeared */
	size_t n, cap;
	uint32_t *slots;        /* open addressing: 1 + index into recs, 0 = empty */
	size_t nslots;
	size_t torn;            /* bytes of an ignored torn last line, 0 = none */
	size_t bad_renewed;     /* malformed "renewed" lines, ignored */
	size_t first_bad_renewed; /* line number of the first of them */
};

/* Read a whole regular file into a malloc'ed buffer (*out, NUL-terminated
 * at [*len]); *st is its fstat.  A symbolic link is not followed (-ELOOP),
 * anything but a regular file is not read (-EPERM).  Returns 0 or -errno. */
int state_read_file(const char *path, char **out, size_t *len, struct stat *st);

/* Replay the state file in buf[0..len).  buf is modified (newlines become
 * NULs) and must outlive out; buf[len] is never read.  Returns 0,
 * -SM_EPROTO if buf does not start with STATE_MAGIC, or -ENOMEM.  Call
 * state_replay_free(out) afterwards whatever the result. */
int state_replay_parse(char *buf, size_t len, struct state_replay *out);

/* The next live record of kind after prev (NULL: the first), in the order
 * keys first appeared; NULL after the last. */
const struct state_rec *state_replay_next(const struct state_replay *rp, enum state_kind kind,
					  const struct state_rec *prev);
size_t state_replay_count(const struct state_replay *rp, enum state_kind kind);
void state_replay_free(struct state_replay *rp);

/* ---- fields of one record line ------------------------------------------------
 * Each parser accepts exactly what state.c writes: the right number of
 * space-separated tokens, decimal numbers in range, %XX escapes with two hex
 * digits, strings that fit their field.  Returns 0, or -SM_EPROTO with *why
 * set to a constant description of the first problem ("field 3
 * (generation): not a decimal number in range"); out is then unspecified. */

/* lockspace LOCATION HOST_ID GENERATION INSTANCE LAST_RENEWAL FAILED
 *           [NAME IO_TIMEOUT_MS WATCHDOG_TIMEOUT_MS]
 * The last three (the volume header's lockspace name and timeouts) are
 * absent in files of older daemons: has_header is false then. */
struct state_ls_fields {
	char location[SM_LOCATION_MAX];
	uint32_t host_id;
	uint64_t generation;
	uint8_t instance[16];    /* 32 hex digits on file */
	uint64_t last_renewal_boot_ms;
	bool failed;
	bool has_header;
	char name[SM_NAME_FIELD];
	uint32_t io_timeout_ms;  /* > 0 */
	uint32_t watchdog_timeout_ms; /* > 0 */
};
int state_parse_lockspace(const char *line, struct state_ls_fields *out, const char **why);

/* proc PID START BY_PARENT NAME SIGNAL PATH NARGS ARGS... [UID:GID]
 * UID:GID is who set the kill action (absent in files of older daemons). */
struct state_proc_fields {
	int32_t pid;             /* > 0 */
	uint64_t starttime;
	bool by_parent;
	char name[SM_NAME_FIELD];
	int signal;              /* 0 .. 64 */
	char kill_path[STATE_KILL_PATH_SIZE];
	int nargs;               /* 0 .. STATE_KILL_ARGS_MAX */
	char args[STATE_KILL_ARGS_MAX][STATE_KILL_ARG_SIZE];
	bool has_owner;          /* UID:GID present */
	uint32_t uid, gid;
};
int state_parse_proc(const char *line, struct state_proc_fields *out, const char **why);

/* lease LS NAME MODE LVER ON_DISK IN_DOUBT NLOC LOCATIONS... PID:MODE...
 * The holders are not copied: holders points into line (which must stay
 * unchanged) and is walked with state_next_holder(). */
struct state_holder {
	int32_t pid;             /* > 0 */
	uint32_t mode;           /* enum sm_lease_mode */
};
struct state_lease_fields {
	char ls[SM_NAME_FIELD];  /* lockspace name, as written (not escaped) */
	char name[SM_NAME_FIELD];
	uint32_t mode;           /* enum sm_lease_mode */
	uint64_t lver;
	bool on_disk, in_doubt;
	int nlocations;          /* 0 .. 3 */
	char location[3][SM_LOCATION_MAX];
	size_t nholders;
	const char *holders;     /* cursor for state_next_holder() */
};
int state_parse_lease(const char *line, struct state_lease_fields *out, const char **why);
/* Walk holders: for (const char *c = f.holders; state_next_holder(&c, &h);)
 * false at the end (or at a token that is not PID:MODE). */
bool state_next_holder(const char **cursor, struct state_holder *h);

#endif
