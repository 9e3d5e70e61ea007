/* The resource name -> area cache shared by the disk workers.  See names.h. */
#include "names.h"

#include "common/log.h"
#include "lease/resource.h"
#include "sync_manager/client.h"
#include "ondisk/index.h"
#include "sync_manager/errors.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_BUCKETS 4096

/* The name -> area cache, shared by all workers.  Loading a volume's index
 * (one read of the whole index) records every name in it, so later lookups
 * of any resource of that volume, by any worker, read nothing.  A stale
 * entry is safe: a removed area is marked in its leader and a reused one
 * names another resource, so acquiring through it fails with NO_RESOURCE or
 * WRONG_RESOURCE, and the volume's names are dropped and reloaded. */
struct name_ent {
	struct name_ent *next;
	uint32_t vol;  /* index in names.locs */
	uint32_t area;
	char name[SM_NAME_FIELD];
};

static struct {
	pthread_mutex_t mu;
	char (*locs)[SM_LOCATION_MAX];
	uint32_t nlocs, cap;
	struct name_ent *bucket[CACHE_BUCKETS];
} names = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Index of location in names.locs, added if new (names.mu held); -1 on ENOMEM. */
static int names_vol_locked(const char *loc)
{
	for (uint32_t i = 0; i < names.nlocs; i++)
		if (strcmp(names.locs[i], loc) == 0)
			return (int)i;
	if (names.nlocs == names.cap) {
		uint32_t cap = names.cap ? names.cap * 2 : 8;
		void *n = realloc(names.locs, cap * sizeof(*names.locs));
		if (!n)
			return -1;
		names.locs = n;
		names.cap = cap;
	}
	snprintf(names.locs[names.nlocs], SM_LOCATION_MAX, "%s", loc);
	return (int)names.nlocs++;
}

static unsigned name_bucket(uint32_t vol, const char *name)
{
	uint32_t h = 2166136261u ^ vol;
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h % CACHE_BUCKETS;
}

static struct name_ent **names_slot_locked(uint32_t vol, const char *name)
{
	struct name_ent **pp = &names.bucket[name_bucket(vol, name)];
	while (*pp && ((*pp)->vol != vol || strcmp((*pp)->name, name) != 0))
		pp = &(*pp)->next;
	return pp;
}

static void names_put_locked(uint32_t vol, const char *name, uint32_t area)
{
	struct name_ent **pp = names_slot_locked(vol, name);
	if (!*pp) {
		*pp = calloc(1, sizeof(**pp));
		if (!*pp)
			return;
		(*pp)->vol = vol;
		snprintf((*pp)->name, SM_NAME_FIELD, "%s", name);
	}
	(*pp)->area = area;
}

void names_put(const char *loc, const char *name, uint32_t area)
{
	pthread_mutex_lock(&names.mu);
	int vol = names_vol_locked(loc);
	if (vol >= 0)
		names_put_locked((uint32_t)vol, name, area);
	pthread_mutex_unlock(&names.mu);
}

bool names_get(const char *loc, const char *name, uint32_t *area)
{
	pthread_mutex_lock(&names.mu);
	int vol = names_vol_locked(loc);
	struct name_ent **pp = vol >= 0 ? names_slot_locked((uint32_t)vol, name) : NULL;
	bool found = pp && *pp;
	if (found)
		*area = (*pp)->area;
	pthread_mutex_unlock(&names.mu);
	return found;
}

/* Forget every name of one volume (one of them proved stale). */
void names_drop_volume(const char *loc)
{
	pthread_mutex_lock(&names.mu);
	int vol = names_vol_locked(loc);
	for (unsigned b = 0; vol >= 0 && b < CACHE_BUCKETS; b++)
		for (struct name_ent **pp = &names.bucket[b]; *pp;) {
			if ((*pp)->vol == (uint32_t)vol) {
				struct name_ent *e = *pp;
				*pp = e->next;
				free(e);
			} else {
				pp = &(*pp)->next;
			}
		}
	pthread_mutex_unlock(&names.mu);
}

/* Read the volume's index and record all its names. */
int names_load(struct sm_volume *v, const char *loc)
{
	struct sm_index *idx = NULL;
	int rc = sm_index_load(v, &idx);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&names.mu);
	int vol = names_vol_locked(loc);
	for (uint32_t i = 0; vol >= 0 && i < idx->count; i++)
		if (idx->status[i] == 0 && idx->entries[i].flags == SM_INDEX_USED)
			names_put_locked((uint32_t)vol, idx->entries[i].name, i);
	pthread_mutex_unlock(&names.mu);
	sm_index_free(idx);
	return 0;
}

void names_free_all(void)
{
	pthread_mutex_lock(&names.mu);
	for (unsigned b = 0; b < CACHE_BUCKETS; b++)
		while (names.bucket[b]) {
			struct name_ent *e = names.bucket[b];
			names.bucket[b] = e->next;
			free(e);
		}
	free(names.locs);
	names.locs = NULL;
	names.nlocs = names.cap = 0;
	pthread_mutex_unlock(&names.mu);
}
