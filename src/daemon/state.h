/* sync_managerd: persistence for restart without loss (state.c,
 * docs/restart.md).  state.c owns RUN_DIR/state and the bookkeeping
 * (struct state_mark) embedded in each lease and process record.
 *
 * Changes are recorded per object and appended to RUN_DIR/state by the next
 * state_save(), which must run before any reply that depends on them. */
#ifndef SM_DAEMON_STATE_H
#define SM_DAEMON_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct daemon;
struct lease;
struct proc;
struct ls_entry;

/* state.c's bookkeeping for one persisted lease or process (zeroed = not on
 * file, not pending). */
struct state_mark {
	uint64_t hash;              /* hash of its record on file, 0 = none there */
	uint32_t dirty;             /* 1 + its slot in the pending list, 0 = none */
	/* leases: the record on file lists holders (a release must be recorded
	 * before the lease goes free on disk: else a restart finds a holder of
	 * a lease that is no longer ours and fences) */
	bool filed_holders;
	bool emit_holders;          /* ... in the record being written */
};

/* Code that changes a persisted field calls state_touch_*(); d->state_dirty
 * = "something changed that was not touched": the next state_save() writes
 * a full snapshot (slow). */
void state_touch_lease(struct daemon *d, struct lease *l);
void state_touch_proc(struct daemon *d, struct proc *p);
/* A lockspace joined, failed, left or renewed (all are compared at save). */
void state_touch_ls(struct daemon *d);
/* l or p is about to be freed: its delete record goes with the next save. */
void state_forget_lease(struct daemon *d, struct lease *l);
void state_forget_proc(struct daemon *d, struct proc *p);
/* Append what changed (one write); cheap when nothing did.  0, or a
 * negative errno when the change could not be written (the file then says
 * what it said before this save; the next save retries with a snapshot). */
int state_save(struct daemon *d);
/* Something changed that is not on file yet (a save failed): the loop
 * retries state_save() every SM_POLL_MS while this is true. */
bool state_pending(struct daemon *d);
/* Rewrite the whole file (temp file + rename): start, clean shutdown.
 * 0 or a negative errno, as state_save(). */
int state_snapshot(struct daemon *d);
/* RUN_DIR/state (suffix "") or a sibling of it, e.g. ".tmp". */
void state_path(const struct daemon *d, char *buf, size_t len, const char *suffix);
/* Whether a file or directory in the run directory may be trusted: owned
 * by root or by the daemon's euid, writable by no one else.  Else false
 * and why (for "refusing PATH: WHY"). */
bool state_trusted(const struct stat *st, char *why, size_t len);
void state_remove(struct daemon *d);
/* Free the journal's memory (and close the file): a test's daemon is done. */
void state_free(struct daemon *d);

#endif
