/* Named resources in a volume: lookup, and adding/removing names under the
 * index lease (docs/algorithms.md §4). */
#ifndef SM_LEASE_RESOURCE_H
#define SM_LEASE_RESOURCE_H

#include "paxos.h"

/* Fill a one-disk reference to resource `name` of volume v (reads the index). */
int sm_resource_ref_init(struct sm_resource_ref *r, struct sm_volume *v, const char *name);
/* The index lease of v. */
void sm_resource_ref_index(struct sm_resource_ref *r, struct sm_volume *v);

/* Add `name` (initializing its area).  Waits up to wait_ms for the index
 * lease while another host holds it. */
int sm_resource_add(struct sm_volume *v, const char *name, const struct sm_me *me, const struct sm_oracle *live,
		    unsigned wait_ms, uint32_t *area_out);
/* Remove `name`; refused with -SM_EHELD / -SM_ESHARED_HELD while a host
 * that is not dead holds it. */
int sm_resource_remove(struct sm_volume *v, const char *name, const struct sm_me *me, const struct sm_oracle *live,
		       unsigned wait_ms);

/* The same on a volume set: members[i] is member i, NULL when it cannot be
 * opened; the index lease and the index entries on a majority. */
int sm_resource_add_set(struct sm_volume *const members[SM_SET_SIZE], const char *name, const struct sm_me *me,
			const struct sm_oracle *live, unsigned wait_ms, uint32_t *area_out);
int sm_resource_remove_set(struct sm_volume *const members[SM_SET_SIZE], const char *name, const struct sm_me *me,
			   const struct sm_oracle *live, unsigned wait_ms);
#endif
