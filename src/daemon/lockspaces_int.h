/* sync_managerd: internal to the lockspaces module (lockspaces.c,
 * lockspace_thread.c, lockspace_names.c): no other file includes it.
 *
 * lockspace_thread.c holds what runs off the event loop: the renewal thread
 * of each lockspace (open the volume, pace, join or resume, renew every R,
 * death checks, leave) and the probe thread that reads the names of the
 * configured volumes.  The loop side (entries, states, waiters, rejoins,
 * ls_tick) stays in lockspaces.c and talks to a renewal thread only through
 * e->thr (struct ls_thread_shared, lockspaces.h) and the three calls below.
 * lockspace_names.c keeps the names of known lockspaces (d->known_ls) and
 * runs the probe of the configured volumes. */
#ifndef SM_DAEMON_LOCKSPACES_INT_H
#define SM_DAEMON_LOCKSPACES_INT_H

#include "lockspaces.h"

#include <pthread.h>
#include <stdatomic.h>

/* Loop: start e's renewal thread (-EAGAIN if it cannot be created). */
int ls_thread_start(struct ls_entry *e);
/* Loop: ask e's renewal thread to stop (its join too, if it still waits). */
void ls_thread_stop(struct ls_entry *e, enum ls_stop how);
/* Loop: wake e's renewal thread now (it was asked to stop, or its open got
 * its verdict).  The caller has stored stop or go before. */
void ls_thread_wake(struct ls_entry *e);

/* Loop: remember that lockspace name lives on location (a bare name in a
 * join resolves to it later). */
void ls_remember_name(struct daemon *d, const char *name, const char *location);
void ls_remember_lockspace(struct daemon *d, const struct ls_entry *e);
/* Loop: a finished probe: learn the names it read, answer the joins
 * waiting (nothing when no probe finished). */
void ls_probe_tick(struct daemon *d);

#endif
