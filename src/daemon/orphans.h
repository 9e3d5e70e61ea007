/* sync_managerd: leases on disk that name this host (host_id and
 * generation) but that no process here holds and no job of ours works on
 * (orphans.c).  orphans.c owns each lockspace's `orphans` fields. */
#ifndef SM_DAEMON_ORPHANS_H
#define SM_DAEMON_ORPHANS_H

#include "daemon.h"

#define ORPHAN_SWEEP_AREAS 16      /* areas per batch of a sweep run for an event */
#define ORPHAN_SLOW_SWEEP_AREAS 48 /* areas per batch of the background sweep */

/* Check resource name of e in delay_ms (after an event that can leave one). */
void orphans_check(struct daemon *d, struct ls_entry *e, const char *name, uint64_t delay_ms);
/* Sweep every resource of e now (it was resumed after a restart). */
void orphans_sweep_now(struct ls_entry *e);
/* Start the checks that are due.  Returns when the next one is due
 * (mono_ms()), or SM_NO_DEADLINE. */
uint64_t orphans_tick(struct daemon *d);
/* A lease the sweep found was released (rc 0) or could not be (rc < 0). */
void orphans_settled(struct daemon *d, struct lease *l, int rc);
/* Loop side of a JOB_ORPHANS job: adopt what it found. */
void orphans_complete(struct daemon *d, struct job *j);

#endif
