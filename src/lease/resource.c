#include "resource.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "ondisk/index.h"
#include "sync_manager/errors.h"

#include <stdio.h>
#include <string.h>

int sm_resource_ref_init(struct sm_resource_ref *r, struct sm_volume *v, const char *name)
{
	memset(r, 0, sizeof(*r));
	if (!sm_name_valid(name))
		return -SM_EBAD_NAME;
	struct sm_index *idx = NULL;
	int rc = sm_index_load(v, &idx);
	if (rc < 0)
		return rc;
	rc = sm_index_find(idx, name);
	sm_index_free(idx);
	if (rc < 0)
		return rc;
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->ndisks = 1;
	r->disk[0].vol = v;
	r->disk[0].area = (uint32_t)rc;
	return 0;
}

void sm_resource_ref_index(struct sm_resource_ref *r, struct sm_volume *v)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", SM_INDEX_LEASE_NAME);
	r->ndisks = 1;
	r->disk[0].vol = v;
	r->disk[0].area = SM_INDEX_LEASE_AREA;
}

static bool transient(int rc)
{
	return rc == -SM_EHELD || rc == -SM_EUNKNOWN_HOST || rc == -SM_EBALLOT_ABORTED;
}

/* Acquire the index lease, retrying while another host briefly holds it. */
static int lock_index(struct sm_resource_ref *ir, const struct sm_me *me, const struct sm_oracle *live,
		      unsigned wait_ms, struct sm_lease *held)
{
	struct sm_acquire_opts o = {.mode = SM_MODE_EX, .live = *live};
	uint64_t end = sm_now_mono_ms() + wait_ms;
	for (;;) {
		int rc = sm_paxos_acquire(ir, me, &o, held);
		if (rc == 0 || !transient(rc) || sm_now_mono_ms() >= end) {
			if (rc == -SM_EHELD || rc == -SM_EUNKNOWN_HOST)
				sm_error("the resource index of %s is locked by host %u; try again later",
					 ir->disk[0].vol->path, held->owner_id);
			if (rc < 0 && held->in_doubt)
				sm_paxos_resolve(ir, me, live);
			return rc;
		}
		sm_sleep_ms(50 + sm_now_mono_ms() % 100);
	}
}

static void unlock_index(struct sm_resource_ref *ir, const struct sm_me *me, const struct sm_lease *held)
{
	/* An index or area write that timed out may still land.  Released now,
	 * the lease would let another host update the same sector or reuse the
	 * area, and the late write would then undo its update.  Keep the lease:
	 * it is ours to reacquire, and our own overlapping writes are refused
	 * (-SM_EIO_PENDING) until the late one has landed. */
	unsigned pending = sm_disk_pending(ir->disk[0].vol->disk);
	if (pending) {
		sm_warn("keeping the index lease of %s: %u I/O(s) still pending after a timeout", ir->disk[0].vol->path,
			pending);
		return;
	}
	int rc = sm_paxos_release(ir, me, held);
	if (rc < 0)
		sm_warn("releasing the index lease of %s failed: %s", ir->disk[0].vol->path, sm_strerror(rc));
}

int sm_resource_add(struct sm_volume *v, const char *name, const struct sm_me *me, const struct sm_oracle *live,
		    unsigned wait_ms, uint32_t *area_out)
{
	int rc = sm_resource_name_check(name);
	if (rc < 0)
		return rc;
	struct sm_resource_ref ir;
	struct sm_lease held;
	sm_resource_ref_index(&ir, v);
	if ((rc = lock_index(&ir, me, live, wait_ms, &held)) < 0)
		return rc;
	struct sm_index *idx = NULL;
	if ((rc = sm_index_load(v, &idx)) < 0)
		goto out;
	if (sm_index_find(idx, name) >= 0) {
		rc = -SM_ERESOURCE_EXISTS;
		goto out;
	}
	if ((rc = sm_index_first_free(idx)) < 0)
		goto out;
	uint32_t area = (uint32_t)rc;
	/* Area first, entry second: a crash in between leaves no dangling name. */
	if ((rc = sm_area_init(v, area, name)) < 0)
		goto out;
	struct sm_index_entry e = {.flags = SM_INDEX_USED, .area = area, .created_wall = sm_now_wall_s(),
				   .created_by = me->host_id};
	snprintf(e.name, sizeof(e.name), "%s", name);
	if ((rc = sm_index_write_entry(v, &e)) < 0)
		goto out;
	if (area_out)
		*area_out = area;
	sm_info("added resource %s in area %u of %s", name, area, v->path);
out:
	sm_index_free(idx);
	unlock_index(&ir, me, &held);
	return rc;
}

int sm_resource_remove(struct sm_volume *v, const char *name, const struct sm_me *me, const struct sm_oracle *live,
		       unsigned wait_ms)
{
	struct sm_resource_ref ir, rr;
	struct sm_lease held;
	int rc = sm_resource_ref_init(&rr, v, name);
	if (rc < 0)
		return rc;
	sm_resource_ref_index(&ir, v);
	if ((rc = lock_index(&ir, me, live, wait_ms, &held)) < 0)
		return rc;
	struct sm_index *idx = NULL;
	if ((rc = sm_index_load(v, &idx)) < 0)
		goto out;
	if ((rc = sm_index_find(idx, name)) < 0)
		goto out;
	uint32_t area = (uint32_t)rc;
	rr.disk[0].area = area; /* as the index says under the lease, not as read before it */
	/* Take the lease itself (refused while another live host holds it, EX
	 * or SH), then retire the area so nothing can acquire it again. */
	struct sm_acquire_opts o = {.mode = SM_MODE_EX, .live = *live};
	struct sm_lease mine;
	if ((rc = sm_paxos_acquire(&rr, me, &o, &mine)) == -SM_ENO_RESOURCE) {
		/* Retired already: an earlier remove stopped (crash, I/O error)
		 * between retiring the area and freeing the entry.  Finish it. */
		sm_info("resource %s (area %u) was retired already; freeing its index entry", name, area);
	} else if (rc < 0) {
		if (rc == -SM_EHELD || rc == -SM_EUNKNOWN_HOST)
			sm_error("resource %s is held by host %u; release it first", name, mine.owner_id);
		else if (rc == -SM_ESHARED_HELD)
			sm_error("resource %s is held shared by host %u; release it first", name, mine.owner_id);
		if (mine.in_doubt)
			sm_paxos_resolve(&rr, me, live);
		goto out;
	} else if ((rc = sm_paxos_retire(&rr, me, &mine)) < 0) {
		/* Still ours and still listed: do not leave it held. */
		if (sm_paxos_release(&rr, me, &mine) < 0)
			sm_warn("resource %s: could not release it after the failed removal", name);
		goto out;
	}
	struct sm_index_entry e = {.flags = SM_INDEX_FREE, .area = area};
	rc = sm_index_write_entry(v, &e);
	if (rc == 0)
		sm_info("removed resource %s (area %u) from %s", name, area, v->path);
out:
	sm_index_free(idx);
	unlock_index(&ir, me, &held);
	return rc;
}
