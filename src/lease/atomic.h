/* Resource leases by COMPARE AND WRITE (issue 14; docs/algorithms.md §7,
 * tests/model/caw.pml SCEN=1).
 *
 * On a volume formatted with --lease-io caw, a lease is its leader sector
 * alone: the leader record (lver, EX owner) and, in the same sector, the set
 * of shared holders (records.h, SM_SHARED_OFFSET).  Every change is one
 * COMPARE AND WRITE of that sector from the image the host last saw, so two
 * changes can never both succeed from one image, and the images of a sector
 * never repeat (an acquire raises lver; within one lver only releases
 * happen, each clearing an owner or a bit).  A shared holder writes its
 * generation into its own mode block before setting its bit; the bit is the
 * truth, the mode block only says which generation set it.
 *
 * These functions have exactly the contracts of their sm_paxos_* namesakes
 * (paxos.h), which call them for a COMPARE AND WRITE volume (one disk:
 * volume sets cannot use it).  Differences worth knowing:
 * - An uncontended EX acquire is one COMPARE AND WRITE when the process
 *   remembers the leader's image (its last read or write of it, through any
 *   handle of the volume; per handle for SM_DISK_SEPARATE_HOST handles) and
 *   that image shows the lease free; otherwise one read first.  A MISCOMPARE is
 *   not an error: read and decide again (up to the attempts).
 * - A COMPARE AND WRITE that timed out is in doubt (sm_lease.in_doubt): it
 *   may still land, atomically, if the sector did not change meanwhile;
 *   resolve reads and cleans up as for Disk Paxos.
 * - A cached image is used only to try a change, never to refuse one or to
 *   judge an owner dead: those decisions come from a fresh read. */
#ifndef SM_LEASE_ATOMIC_H
#define SM_LEASE_ATOMIC_H

#include "paxos.h"

/* Is this lease on a COMPARE AND WRITE volume? */
bool sm_atomic_applies(const struct sm_resource_ref *r);

int sm_atomic_acquire(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_acquire_opts *o,
		      struct sm_lease *out);
int sm_atomic_release(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_lease *held);
int sm_atomic_retire(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_lease *held);
int sm_atomic_convert_to_shared(const struct sm_resource_ref *r, const struct sm_me *me, struct sm_lease *held);
int sm_atomic_convert_to_exclusive(const struct sm_resource_ref *r, const struct sm_me *me,
				   const struct sm_oracle *live, struct sm_lease *held, struct sm_lease *refused);
int sm_atomic_handoff(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_lease *held,
		      uint32_t to_host_id, uint64_t to_generation, uint64_t go_by_ms, struct sm_lease *out);
int sm_atomic_resolve(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_oracle *live);
int sm_atomic_inquire(const struct sm_resource_ref *r, struct sm_lease_view *out);
int sm_atomic_mine(const struct sm_resource_ref *r, const struct sm_me *me, struct sm_mine *out);

#endif
