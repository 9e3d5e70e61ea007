#include "resource.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "ondisk/index.h"
#include "sync_manager/errors.h"

#include <errno.h>
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

/* The volumes a name lives on: one, or the members of a volume set (NULL
 * for a member that cannot be opened). */
struct vols {
	struct sm_volume *v[SM_MAX_DISKS];
	int n;
};

static struct sm_volume *first_vol(const struct vols *vs)
{
	for (int i = 0; i < vs->n; i++)
		if (vs->v[i])
			return vs->v[i];
	return NULL;
}

static int majority_of(const struct vols *vs) { return vs->n / 2 + 1; }

/* ok of n steps done: 0 with a majority, else the lone volume's error or
 * -SM_ENO_MAJORITY. */
static int enough(const struct vols *vs, int ok, int first_err)
{
	if (ok >= majority_of(vs))
		return 0;
	return vs->n == 1 ? (first_err ? first_err : -EIO) : -SM_ENO_MAJORITY;
}

static void index_ref(struct sm_resource_ref *r, const struct vols *vs)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", SM_INDEX_LEASE_NAME);
	r->ndisks = vs->n;
	for (int i = 0; i < vs->n; i++) {
		r->disk[i].vol = vs->v[i];
		r->disk[i].area = SM_INDEX_LEASE_AREA;
	}
}

static bool transient(int rc)
{
	enum sm_error_class cls = sm_error_class(rc);
	return cls == SM_ERRCLASS_REFUSED || cls == SM_ERRCLASS_RETRY;
}

/* Acquire the index lease, retrying while another host briefly holds it. */
static int lock_index(struct sm_resource_ref *ir, const struct vols *vs, const struct sm_me *me,
		      const struct sm_oracle *live, unsigned wait_ms, struct sm_lease *held)
{
	struct sm_acquire_opts o = {.mode = SM_MODE_EX, .live = *live};
	uint64_t end = sm_now_mono_ms() + wait_ms;
	for (;;) {
		int rc = sm_paxos_acquire(ir, me, &o, held);
		if (rc == 0 || !transient(rc) || sm_now_mono_ms() >= end) {
			if (sm_error_class(rc) == SM_ERRCLASS_REFUSED)
				sm_error("the resource index of %s is locked by host %u; try again later",
					 first_vol(vs)->path, held->owner_id);
			if (rc < 0 && held->in_doubt)
				sm_paxos_resolve(ir, me, live);
			return rc;
		}
		sm_sleep_ms(50 + sm_now_mono_ms() % 100);
	}
}

static void unlock_index(struct sm_resource_ref *ir, const struct vols *vs, const struct sm_me *me,
			 const struct sm_lease *held)
{
	/* An index or area write that timed out may still land.  Released now,
	 * the lease would let another host update the same sector or reuse the
	 * area, and the late write would then undo its update.  Keep the lease:
	 * it is ours to reacquire, and our own overlapping writes are refused
	 * (-SM_EIO_PENDING) until the late one has landed. */
	unsigned pending = 0;
	for (int i = 0; i < vs->n; i++)
		pending += vs->v[i] ? sm_disk_pending(vs->v[i]->disk) : 0;
	if (pending) {
		sm_warn("keeping the index lease of %s: %u I/O(s) still pending after a timeout", first_vol(vs)->path,
			pending);
		return;
	}
	int rc = sm_paxos_release(ir, me, held);
	if (rc < 0)
		sm_warn("releasing the index lease of %s failed: %s", first_vol(vs)->path, sm_strerror(rc));
}

/* Load the index of every member that can be read (idx[i] NULL otherwise). */
static int load_indexes(const struct vols *vs, struct sm_index *idx[SM_MAX_DISKS])
{
	int ok = 0, first_err = 0;
	for (int i = 0; i < vs->n; i++) {
		idx[i] = NULL;
		int rc = vs->v[i] ? sm_index_load(vs->v[i], &idx[i]) : -ENODEV;
		if (rc == 0)
			ok++;
		else if (!first_err)
			first_err = rc;
	}
	return enough(vs, ok, first_err);
}

static void free_indexes(const struct vols *vs, struct sm_index *idx[SM_MAX_DISKS])
{
	for (int i = 0; i < vs->n; i++)
		sm_index_free(idx[i]);
}

/* The first area free in every index loaded: an area used on any member
 * that was read is taken (a majority was read, and every add reached a
 * majority, so a name's area is never handed out twice). */
static int first_free_everywhere(const struct vols *vs, struct sm_index *const idx[SM_MAX_DISKS])
{
	const struct sm_index *any = NULL;
	for (int i = 0; i < vs->n && !any; i++)
		any = idx[i];
	for (uint32_t a = 0; any && a < any->count; a++) {
		bool free_all = true;
		for (int i = 0; i < vs->n && free_all; i++)
			free_all = !idx[i] || (a < idx[i]->count && idx[i]->status[a] == 0 &&
					       idx[i]->entries[a].flags == SM_INDEX_FREE);
		if (free_all)
			return (int)a;
	}
	return -SM_EINDEX_FULL;
}

static int add_on(const struct vols *vs, const char *name, const struct sm_me *me, const struct sm_oracle *live,
		  unsigned wait_ms, uint32_t *area_out)
{
	int rc = sm_resource_name_check(name);
	if (rc < 0)
		return rc;
	if (!first_vol(vs))
		return -SM_ENO_MAJORITY;
	struct sm_resource_ref ir;
	struct sm_lease held;
	index_ref(&ir, vs);
	if ((rc = lock_index(&ir, vs, me, live, wait_ms, &held)) < 0)
		return rc;
	struct sm_index *idx[SM_MAX_DISKS] = {0};
	if ((rc = load_indexes(vs, idx)) < 0)
		goto out;
	for (int i = 0; i < vs->n; i++)
		if (idx[i] && sm_index_find(idx[i], name) >= 0) {
			rc = -SM_ERESOURCE_EXISTS;
			goto out;
		}
	if ((rc = first_free_everywhere(vs, idx)) < 0)
		goto out;
	uint32_t area = (uint32_t)rc;
	/* Area first, entry second: a crash in between leaves no dangling name. */
	bool inited[SM_MAX_DISKS] = {0};
	int ok = 0, first_err = 0;
	for (int i = 0; i < vs->n; i++) {
		if (!idx[i])
			continue;
		int wrc = sm_area_init(vs->v[i], area, name);
		inited[i] = wrc == 0;
		ok += inited[i];
		if (wrc < 0 && !first_err)
			first_err = wrc;
	}
	if ((rc = enough(vs, ok, first_err)) < 0)
		goto out;
	struct sm_index_entry e = {.flags = SM_INDEX_USED, .area = area, .created_wall = sm_now_wall_s(),
				   .created_by = me->host_id};
	snprintf(e.name, sizeof(e.name), "%s", name);
	ok = 0, first_err = 0;
	for (int i = 0; i < vs->n; i++) {
		if (!inited[i])
			continue;
		int wrc = sm_index_write_entry(vs->v[i], &e);
		ok += wrc == 0;
		if (wrc < 0 && !first_err)
			first_err = wrc;
	}
	if ((rc = enough(vs, ok, first_err)) < 0)
		goto out;
	if (area_out)
		*area_out = area;
	sm_info("added resource %s in area %u of %s%s", name, area, first_vol(vs)->path,
		vs->n > 1 ? " and the other members of its volume set" : "");
out:
	free_indexes(vs, idx);
	unlock_index(&ir, vs, me, &held);
	return rc;
}

static int remove_on(const struct vols *vs, const char *name, const struct sm_me *me, const struct sm_oracle *live,
		     unsigned wait_ms)
{
	if (!sm_name_valid(name))
		return -SM_EBAD_NAME;
	if (!first_vol(vs))
		return -SM_ENO_MAJORITY;
	int rc;
	struct sm_resource_ref ir, rr;
	struct sm_lease held;
	index_ref(&ir, vs);
	if ((rc = lock_index(&ir, vs, me, live, wait_ms, &held)) < 0)
		return rc;
	struct sm_index *idx[SM_MAX_DISKS] = {0};
	if ((rc = load_indexes(vs, idx)) < 0)
		goto out;
	/* The lease as the indexes say under the index lease: a member that
	 * lacks the name takes no part. */
	memset(&rr, 0, sizeof(rr));
	snprintf(rr.name, sizeof(rr.name), "%s", name);
	rr.ndisks = vs->n;
	int listed = 0;
	uint32_t area = 0;
	for (int i = 0; i < vs->n; i++) {
		int a = idx[i] ? sm_index_find(idx[i], name) : -SM_ENO_RESOURCE;
		if (a < 0)
			continue;
		rr.disk[i].vol = vs->v[i];
		rr.disk[i].area = area = (uint32_t)a;
		listed++;
	}
	if (!listed) {
		rc = -SM_ENO_RESOURCE;
		goto out;
	}
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
	int ok = 0, first_err = 0;
	for (int i = 0; i < vs->n; i++) {
		if (!rr.disk[i].vol)
			continue;
		struct sm_index_entry e = {.flags = SM_INDEX_FREE, .area = rr.disk[i].area};
		int wrc = sm_index_write_entry(vs->v[i], &e);
		ok += wrc == 0;
		if (wrc < 0 && !first_err)
			first_err = wrc;
	}
	/* a member whose entry stays is harmless: its area is retired */
	rc = enough(vs, ok, first_err);
	if (rc == 0)
		sm_info("removed resource %s (area %u) from %s%s", name, area, first_vol(vs)->path,
			vs->n > 1 ? " and the other members of its volume set" : "");
out:
	free_indexes(vs, idx);
	unlock_index(&ir, vs, me, &held);
	return rc;
}

int sm_resource_add(struct sm_volume *v, const char *name, const struct sm_me *me, const struct sm_oracle *live,
		    unsigned wait_ms, uint32_t *area_out)
{
	struct vols vs = {.v = {v}, .n = 1};
	return add_on(&vs, name, me, live, wait_ms, area_out);
}

int sm_resource_remove(struct sm_volume *v, const char *name, const struct sm_me *me, const struct sm_oracle *live,
		       unsigned wait_ms)
{
	struct sm_resource_ref rr;
	int rc = sm_resource_ref_init(&rr, v, name); /* names and errors as before */
	if (rc < 0)
		return rc;
	struct vols vs = {.v = {v}, .n = 1};
	return remove_on(&vs, name, me, live, wait_ms);
}

int sm_resource_add_set(struct sm_volume *const members[SM_SET_SIZE], const char *name, const struct sm_me *me,
			const struct sm_oracle *live, unsigned wait_ms, uint32_t *area_out)
{
	struct vols vs = {.v = {members[0], members[1], members[2]}, .n = SM_SET_SIZE};
	return add_on(&vs, name, me, live, wait_ms, area_out);
}

int sm_resource_remove_set(struct sm_volume *const members[SM_SET_SIZE], const char *name, const struct sm_me *me,
			   const struct sm_oracle *live, unsigned wait_ms)
{
	struct vols vs = {.v = {members[0], members[1], members[2]}, .n = SM_SET_SIZE};
	return remove_on(&vs, name, me, live, wait_ms);
}
