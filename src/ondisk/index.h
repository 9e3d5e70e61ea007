/* The resource index: entry i names the resource stored in area i.
 *
 * The primitives here do no locking.  Adding and removing entries must be
 * done while holding the index lease (src/lease/resource.c does that);
 * reading needs no lease. */
#ifndef SM_ONDISK_INDEX_H
#define SM_ONDISK_INDEX_H

#include "volume.h"

struct sm_index {
	uint32_t count;
	struct sm_index_entry *entries;
	int *status; /* decode result per entry: 0 or a negative SM_E* */
};

/* Resource names: sm_name_valid() and not starting with "__" (reserved). */
int sm_resource_name_check(const char *name);

int sm_index_load(struct sm_volume *v, struct sm_index **out);
void sm_index_free(struct sm_index *idx);
/* Area of the valid, used entry with this name, or -SM_ENO_RESOURCE. */
int sm_index_find(const struct sm_index *idx, const char *name);
/* First valid free entry, or -SM_EINDEX_FULL.  Corrupt entries are never free. */
int sm_index_first_free(const struct sm_index *idx);
/* Read-modify-write the sector holding entry e->area. */
int sm_index_write_entry(struct sm_volume *v, const struct sm_index_entry *e);

#endif
