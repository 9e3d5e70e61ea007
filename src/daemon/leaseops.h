/* sync_managerd: the loop side of lease jobs (leaseops.c): deciding what a
 * job must do against the local lease table when it can start, parking it
 * while its leases are busy (d->waiting), applying its results, and
 * settling leases that lost their last holder. */
#ifndef SM_DAEMON_LEASEOPS_H
#define SM_DAEMON_LEASEOPS_H

#include "jobs.h"

/* Submit now, or park until its leases are no longer busy. */
void leaseops_schedule(struct daemon *d, struct job *j);
void leaseops_complete(struct daemon *d, struct job *j);
/* Try parked jobs again (after a job completes or a lockspace joins). */
void leaseops_retry_parked(struct daemon *d);
/* A lease may have lost its last holder: release, resolve or drop it. */
void lease_settle(struct daemon *d, struct lease *l);
/* Retry settling leases whose last attempt failed.  Returns when the next
 * retry is due (mono_ms()), or SM_NO_DEADLINE. */
uint64_t leases_tick(struct daemon *d);
/* Release every lease of p (after it exited, or on request). */
void leaseops_release_all(struct daemon *d, struct proc *p);
/* A resumed lockspace is ours again: check on disk that each of its leases
 * with a living holder still is (else its holders are fenced). */
void leaseops_verify_resumed(struct daemon *d, struct ls_entry *e);

#endif
