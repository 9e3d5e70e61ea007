/* Every timeout derives from two inputs stored in the volume header, so all
 * hosts of a lockspace agree (docs/timeouts.md has the table):
 *   d  io_timeout           an I/O not complete within d has failed
 *   W  watchdog timeout     the watchdog resets the host W after the last pet
 * Derived:
 *   R  = 2d                 renewal interval
 *   F  = 8d                 renewal-fail deadline, from the START of the last
 *                           successful renewal: lease holders are killed at F
 *   H  = F + W              host-dead time: another host may take over after
 *                           seeing the record unchanged for MORE than H
 *   J  = 2d + 100 ms        wait between claiming a free host_id and re-reading
 *                           (strictly more than 2d)
 *   G  = min(W/2, 30 s)     grace between SIGTERM (at F) and SIGKILL
 *   P  = min(W/4, 1 s)      watchdog pet interval; no pet within P of F
 * Fencing by persistent reservation (a volume formatted with --fence pr):
 *   R  = d                  renewals come every d instead of 2d, so that T is short
 *   T  = R + 2d = 3d        fence detection: a host whose record stayed unchanged
 *                           for more than T (while we read it every d) is preempted
 *                           by a host that wants one of its leases; a live host's
 *                           record changes at least every R + 2d
 *   X  = max(2d, 30 s)      in-flight wait after a PREEMPT without ABORT (targets
 *                           without PREEMPT AND ABORT): covers commands the target
 *                           had accepted from the preempted host (30 s: Linux's SCSI
 *                           command timeout, after which an initiator aborts them)
 *   failover, fenced = T + 2d (plus the preempt's and acquire's own I/O)
 * Leases by COMPARE AND WRITE (a volume formatted with --lease-io caw):
 *   join of a free slot: no wait (one COMPARE AND WRITE decides); of a held
 *   slot: H.  J stays defined (Disk Paxos volumes) but is not waited.
 */
#ifndef SM_LEASE_TIMEOUTS_H
#define SM_LEASE_TIMEOUTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct sm_timeouts {
	uint32_t io_ms;        /* d */
	uint32_t watchdog_ms;  /* W */
	uint32_t renew_ms;     /* R */
	uint32_t fail_ms;      /* F */
	uint32_t host_dead_ms; /* H */
	uint32_t join_wait_ms; /* J */
	uint32_t kill_grace_ms; /* G */
	uint32_t pet_ms;       /* P */
	bool fence_pr;         /* the volume is fenced by reservation: the rows below apply */
	uint32_t fence_detect_ms;   /* T */
	uint32_t fence_inflight_ms; /* X */
	uint32_t fence_failover_ms; /* T + 2d */
	bool lease_caw;             /* leases by COMPARE AND WRITE: joins do not wait J */
};

void sm_timeouts_derive(uint32_t io_ms, uint32_t watchdog_ms, struct sm_timeouts *t);
/* The timeouts of a volume fenced by persistent reservation (after derive):
 * R = d, and T and the fenced failover from it. */
void sm_timeouts_fence_pr(struct sm_timeouts *t);

/* The timeouts of a volume whose leases use COMPARE AND WRITE. */
void sm_timeouts_lease_caw(struct sm_timeouts *t);

/* Human table (one line per value with its formula). */
void sm_timeouts_print(FILE *out, const struct sm_timeouts *t);
/* The same as JSON: {"source": ..., "timeouts": [{name, symbol, formula, ms, meaning}]}. */
void sm_timeouts_print_json(FILE *out, const struct sm_timeouts *t, const char *source);

#endif
