/* Resource leases by COMPARE AND WRITE.  See atomic.h and docs/algorithms.md
 * §7; the protocol is tests/model/caw.pml (SCEN=1).
 *
 * One operation: [read the leader sector] | decide from the image | CAW(image
 * -> new image).  GOOD: done.  MISCOMPARE: someone else changed the sector
 * (and so made progress): read and decide again. */
#include "atomic.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "disk/caw.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* MISCOMPAREs tolerated per operation: each one means another host's change
 * landed, so this bounds waiting behind others, not a livelock. */
#define DEFAULT_ATTEMPTS 16

/* ---- memory of leader images ------------------------------------------------ */

/* The last image this process read or wrote of up to CACHE_SLOTS leases of a
 * volume (direct-mapped by area).  One per volume for the whole process, so
 * that a release by one daemon worker uses the image another worker's acquire
 * wrote; one per handle for handles opened with SM_DISK_SEPARATE_HOST (tests
 * that play several hosts in one process).  Never needed for correctness: a
 * stale image only miscompares. */
#define CACHE_SLOTS 64
#define SHARED_VOLUMES 16
struct image_cache {
	uint8_t uuid[16];
	uint32_t ss;
	uint32_t area[CACHE_SLOTS];
	bool valid[CACHE_SLOTS];
	uint8_t *img; /* CACHE_SLOTS x ss */
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct image_cache *shared_caches[SHARED_VOLUMES]; /* under cache_mu; kept for the process */

static struct image_cache *cache_new(const struct sm_volume *v)
{
	struct image_cache *c = calloc(1, sizeof(*c));
	if (!c || !(c->img = malloc((size_t)CACHE_SLOTS * v->hdr.sector_size))) {
		free(c);
		return NULL; /* no memory: no cache, every operation reads */
	}
	memcpy(c->uuid, v->hdr.uuid, 16);
	c->ss = v->hdr.sector_size;
	return c;
}

static void cache_free(void *p)
{
	struct image_cache *c = p;
	if (c)
		free(c->img);
	free(c);
}

/* The cache for v, with cache_mu held (also for a per-handle cache: one
 * lock keeps the code simple; it is taken for a memcpy). */
static struct image_cache *cache_lock(struct sm_volume *v)
{
	pthread_mutex_lock(&cache_mu);
	if (v->open_flags & SM_DISK_SEPARATE_HOST) {
		if (!v->lease_cache && (v->lease_cache = cache_new(v)))
			v->lease_cache_free = cache_free;
		return v->lease_cache;
	}
	int free_slot = -1;
	for (int i = 0; i < SHARED_VOLUMES; i++) {
		struct image_cache *c = shared_caches[i];
		if (c && !memcmp(c->uuid, v->hdr.uuid, 16) && c->ss == v->hdr.sector_size)
			return c;
		if (!c && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		free_slot = (int)(v->hdr.uuid[0] % SHARED_VOLUMES); /* evict one */
	cache_free(shared_caches[free_slot]);
	shared_caches[free_slot] = cache_new(v);
	return shared_caches[free_slot];
}

static unsigned slot_of(uint32_t area) { return area % CACHE_SLOTS; }

static bool cache_get(struct sm_volume *v, uint32_t area, uint8_t *img)
{
	struct image_cache *c = cache_lock(v);
	unsigned s = slot_of(area);
	bool hit = c && c->valid[s] && c->area[s] == area;
	if (hit)
		memcpy(img, c->img + (size_t)s * c->ss, c->ss);
	pthread_mutex_unlock(&cache_mu);
	return hit;
}

static void cache_put(struct sm_volume *v, uint32_t area, const uint8_t *img)
{
	struct image_cache *c = cache_lock(v);
	unsigned s = slot_of(area);
	if (c) {
		memcpy(c->img + (size_t)s * c->ss, img, c->ss);
		c->area[s] = area;
		c->valid[s] = true;
	}
	pthread_mutex_unlock(&cache_mu);
}

static void cache_drop(struct sm_volume *v, uint32_t area)
{
	struct image_cache *c = cache_lock(v);
	if (c && c->valid[slot_of(area)] && c->area[slot_of(area)] == area)
		c->valid[slot_of(area)] = false;
	pthread_mutex_unlock(&cache_mu);
}

/* ---- one operation ------------------------------------------------------------ */

struct op {
	const struct sm_resource_ref *r;
	struct sm_volume *v;
	const struct sm_volume_header *h;
	struct sm_me me;
	struct sm_caw_dev *dev;
	uint32_t area, ss;
	uint64_t leader_off; /* from the volume start */
	uint8_t *img;        /* the image we compare against */
	uint8_t *next;       /* the image we want */
	bool have;           /* img holds a decoded image */
	bool fresh;          /* ... read (or written) by this operation */
	uint64_t read_done;  /* monotonic ms of the read that gave img, 0 if none */
	struct sm_leader l;
	struct sm_shared_set sh;
};

bool sm_atomic_applies(const struct sm_resource_ref *r)
{
	return r->ndisks >= 1 && r->disk[0].vol && sm_volume_is_caw(r->disk[0].vol);
}

static void op_free(struct op *o)
{
	free(o->img);
	free(o->next);
}

static int op_init(struct op *o, const struct sm_resource_ref *r, const struct sm_me *me)
{
	memset(o, 0, sizeof(*o));
	if (r->ndisks != 1 || !r->disk[0].vol) {
		sm_error("resource %s: COMPARE AND WRITE leases live on one volume, not %d", r->name, r->ndisks);
		return -SM_EBAD_ARGUMENT;
	}
	o->r = r;
	o->v = r->disk[0].vol;
	o->h = &o->v->hdr;
	o->me = *me;
	o->area = r->disk[0].area;
	o->ss = o->h->sector_size;
	o->leader_off = sm_volume_area_offset(o->h, o->area);
	if (posix_memalign((void **)&o->img, 4096, o->ss) || posix_memalign((void **)&o->next, 4096, o->ss)) {
		op_free(o);
		return -ENOMEM;
	}
	return sm_volume_caw(o->v, &o->dev);
}

/* Decode img.  A sector that does not decode is never taken as free. */
static int op_decode(struct op *o)
{
	const char *name = o->r->name[0] ? o->r->name : NULL;
	int rc = sm_leader_decode(o->img, &o->l, o->h->lockspace, name, o->ss);
	if (rc == 0 && (rc = sm_shared_set_decode(o->img + SM_SHARED_OFFSET, &o->sh)) == 0 &&
	    o->sh.nbits != o->h->max_hosts)
		rc = -SM_EBAD_GEOMETRY;
	if (rc < 0 && name) /* a sweep by area (no name) meets unused areas: quiet */
		sm_error("resource %s: the leader sector (volume %s, area %u) is not a COMPARE AND WRITE lease: %s",
			 o->r->name, o->v->path, o->area, sm_strerror(rc));
	return rc;
}

static int op_read(struct op *o)
{
	o->have = false;
	int rc = sm_disk_read(o->v->disk, o->leader_off, o->img, o->ss, sm_volume_io_timeout(o->v));
	if (rc < 0) {
		cache_drop(o->v, o->area);
		return rc;
	}
	o->read_done = sm_now_mono_ms();
	if ((rc = op_decode(o)) < 0) {
		cache_drop(o->v, o->area);
		return rc;
	}
	cache_put(o->v, o->area, o->img);
	o->have = o->fresh = true;
	return 0;
}

/* The remembered image if there is one, else a read. */
static int op_load(struct op *o)
{
	if (cache_get(o->v, o->area, o->img) && op_decode(o) == 0) {
		o->have = true;
		o->fresh = false;
		o->read_done = 0;
		return 0;
	}
	return op_read(o);
}

/* next := the leader and shared set given (the writer is us). */
static void op_build(struct op *o, uint64_t lver, uint32_t owner, uint64_t gen, uint16_t flags,
		     const struct sm_shared_set *sh)
{
	struct sm_leader l = {
		.flags = flags,
		.sector_size = o->ss,
		.max_hosts = o->h->max_hosts,
		.lver = lver,
		.owner_id = owner,
		.mode = owner ? SM_MODE_EX : SM_MODE_FREE,
		.owner_generation = owner ? gen : 0,
		.write_id = o->me.host_id,
		.write_generation = o->me.generation,
		.timestamp = sm_now_wall_s(),
		.area = o->area,
		.io_timeout_ms = o->h->io_timeout_ms,
	};
	memcpy(l.lockspace, o->h->lockspace, SM_NAME_FIELD);
	memcpy(l.resource, o->l.resource, SM_NAME_FIELD);
	memset(o->next, 0, o->ss);
	sm_leader_encode(&l, o->next);
	sm_shared_set_encode(sh, o->next + SM_SHARED_OFFSET);
}

/* COMPARE AND WRITE img -> next.  0: next is on disk (and becomes img);
 * -SM_EMISCOMPARE: img is stale (dropped); else an error, and *in_doubt says
 * whether the command may still have executed or may yet. */
static int op_caw(struct op *o, bool *in_doubt)
{
	int rc = sm_caw(o->dev, o->v->offset + o->leader_off, o->img, o->next, o->ss);
	if (rc == 0) {
		memcpy(o->img, o->next, o->ss);
		op_decode(o);
		cache_put(o->v, o->area, o->img);
		return 0;
	}
	cache_drop(o->v, o->area);
	o->have = false;
	if (in_doubt && sm_caw_in_doubt(rc))
		*in_doubt = true;
	return rc;
}

static bool is_mine_ex(const struct op *o, uint64_t lver)
{
	return o->l.owner_id == o->me.host_id && o->l.owner_generation == o->me.generation &&
	       o->l.mode == SM_MODE_EX && o->l.lver == lver;
}

/* Our own sector of the area with a shared mode block for generation gen. */
static int write_shared_mode_block(struct op *o, uint64_t lver)
{
	uint8_t *sec;
	if (posix_memalign((void **)&sec, 4096, o->ss))
		return -ENOMEM;
	memset(sec, 0, o->ss);
	struct sm_dblock d = {.host_id = o->me.host_id};
	sm_dblock_encode(&d, sec);
	struct sm_mode_block m = {.flags = SM_MODEB_SHARED, .generation = o->me.generation, .lver = lver};
	sm_mode_encode(&m, sec + SM_MODE_OFFSET);
	int rc = sm_disk_write(o->v->disk, o->leader_off + (uint64_t)(1 + o->me.host_id) * o->ss, sec, o->ss,
			       sm_volume_io_timeout(o->v));
	free(sec);
	return rc;
}

/* The generations of the shared holders in sh (their mode blocks), in one
 * read of the sectors from the lowest to the highest holder.  gens[h - 1] is
 * 0 for a holder whose mode block shows no shared hold (damaged). */
static int read_holder_generations(struct op *o, const struct sm_shared_set *sh, uint64_t *gens, uint64_t *done)
{
	uint32_t lo = 0, hi = 0;
	for (uint32_t h = 1; h <= sh->nbits; h++)
		if (sm_shared_test(sh, h) && h != o->me.host_id) {
			if (!lo)
				lo = h;
			hi = h;
		}
	*done = sm_now_mono_ms();
	if (!lo)
		return 0;
	size_t len = (size_t)(hi - lo + 1) * o->ss;
	uint8_t *buf;
	if (posix_memalign((void **)&buf, 4096, len))
		return -ENOMEM;
	int rc = sm_disk_read(o->v->disk, o->leader_off + (uint64_t)(1 + lo) * o->ss, buf, len,
			      sm_volume_io_timeout(o->v));
	*done = sm_now_mono_ms();
	for (uint32_t h = lo; rc == 0 && h <= hi; h++) {
		struct sm_mode_block m;
		if (!sm_shared_test(sh, h) || h == o->me.host_id)
			continue;
		if (sm_mode_decode(buf + (size_t)(h - lo) * o->ss + SM_MODE_OFFSET, &m) == 0 &&
		    (m.flags & SM_MODEB_SHARED))
			gens[h - 1] = m.generation;
	}
	free(buf);
	return rc;
}

/* For an EX acquire: drop the bits of dead shared holders (and our own);
 * refuse while one lives or cannot be judged. */
static int check_shared_holders(struct op *o, const struct sm_oracle *live, struct sm_shared_set *keep,
				struct sm_lease *out)
{
	*keep = o->sh;
	sm_shared_put(keep, o->me.host_id, false);
	uint64_t *gens = calloc(o->sh.nbits ? o->sh.nbits : 1, sizeof(*gens));
	if (!gens)
		return -ENOMEM;
	uint64_t done;
	int rc = read_holder_generations(o, keep, gens, &done);
	for (uint32_t h = 1; rc == 0 && h <= keep->nbits; h++) {
		if (!sm_shared_test(keep, h))
			continue;
		enum sm_owner_verdict v = SM_OWNER_UNKNOWN;
		if (gens[h - 1])
			v = live->verdict(live->arg, h, gens[h - 1], done);
		else
			sm_error("resource %s: host %u holds it shared but its mode block shows no shared hold", o->r->name,
				 h);
		if (v == SM_OWNER_DEAD) {
			sm_info("resource %s: dropping the shared hold of dead host %u (generation %llu)", o->r->name, h,
				(unsigned long long)gens[h - 1]);
			sm_shared_put(keep, h, false);
			continue;
		}
		out->owner_id = h;
		out->owner_generation = gens[h - 1];
		out->mode = SM_MODE_SH;
		rc = v == SM_OWNER_UNKNOWN ? -SM_EUNKNOWN_HOST : -SM_ESHARED_HELD;
	}
	free(gens);
	return rc;
}

/* Does the image allow an acquire at all?  0 and *took_over, or a refusal
 * (out says by whom).  A refusal from a remembered image is never final:
 * RETRY_FRESH asks for a read first. */
#define RETRY_FRESH 1
static int judge_owner(struct op *o, const struct sm_acquire_opts *a, uint32_t *took_over, struct sm_lease *out)
{
	*took_over = 0;
	out->lver = o->l.lver;
	out->owner_id = o->l.owner_id;
	out->owner_generation = o->l.owner_generation;
	out->mode = o->l.mode;
	if (o->l.flags & SM_LEADER_REMOVED) {
		if (!o->fresh)
			return RETRY_FRESH;
		sm_error("resource %s was removed from the volume", o->r->name);
		return -SM_ENO_RESOURCE;
	}
	if (a->at_version && o->l.lver != a->version)
		return o->fresh ? -SM_ELVER_MISMATCH : RETRY_FRESH;
	if (!o->l.owner_id || o->l.mode != SM_MODE_EX)
		return 0;
	if (o->l.owner_id == o->me.host_id && o->l.owner_generation == o->me.generation)
		return 0; /* ours: an acquire of ours that timed out and landed */
	if (!o->fresh)
		return RETRY_FRESH;
	switch (a->live.verdict(a->live.arg, o->l.owner_id, o->l.owner_generation, o->read_done)) {
	case SM_OWNER_ALIVE: return -SM_EHELD;
	case SM_OWNER_UNKNOWN: return -SM_EUNKNOWN_HOST;
	case SM_OWNER_SELF: return 0;
	case SM_OWNER_DEAD:
		*took_over = o->l.owner_id;
		sm_info("resource %s: taking over from dead host %u (generation %llu) at lver %llu", o->r->name,
			o->l.owner_id, (unsigned long long)o->l.owner_generation, (unsigned long long)o->l.lver);
		return 0;
	}
	return -SM_EUNKNOWN_HOST;
}

static bool has_other_holders(const struct op *o)
{
	for (uint32_t h = 1; h <= o->sh.nbits; h++)
		if (sm_shared_test(&o->sh, h) && h != o->me.host_id)
			return true;
	return false;
}

int sm_atomic_acquire(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_acquire_opts *a,
		      struct sm_lease *out)
{
	memset(out, 0, sizeof(*out));
	if (a->mode != SM_MODE_EX && a->mode != SM_MODE_SH)
		return -SM_EBAD_ARGUMENT;
	struct op o;
	int rc = op_init(&o, r, me);
	unsigned attempts = a->attempts ? a->attempts : DEFAULT_ATTEMPTS;
	bool mode_block_written = false;
	for (unsigned i = 0; rc == 0 && i < attempts; i++) {
		if (!o.have && (rc = op_load(&o)) < 0)
			break;
		uint32_t took_over;
		rc = judge_owner(&o, a, &took_over, out);
		if (rc == 0 && a->mode == SM_MODE_EX && has_other_holders(&o) && !o.fresh)
			rc = RETRY_FRESH; /* never judge holders from memory */
		if (rc == RETRY_FRESH) {
			rc = op_read(&o);
			i--; /* a read is not an attempt */
			continue;
		}
		if (rc < 0)
			break;
		struct sm_shared_set sh = o.sh;
		uint64_t lver = o.l.lver + 1;
		if (a->mode == SM_MODE_EX) {
			if ((rc = check_shared_holders(&o, &a->live, &sh, out)) < 0)
				break;
			op_build(&o, lver, me->host_id, me->generation, 0, &sh);
		} else {
			/* the generation first: a bit whose mode block is older
			 * would be judged as a dead holder's */
			if (!mode_block_written && (rc = write_shared_mode_block(&o, lver)) < 0)
				break;
			mode_block_written = true;
			sm_shared_put(&sh, me->host_id, true);
			op_build(&o, lver, 0, 0, 0, &sh);
		}
		rc = op_caw(&o, &out->in_doubt);
		if (rc == 0) {
			memset(out, 0, sizeof(*out));
			out->lver = lver;
			out->mode = a->mode;
			out->owner_id = me->host_id;
			out->owner_generation = me->generation;
			out->took_over_from = took_over;
			sm_debug("caw %s: acquired %s at lver %llu", r->name, sm_mode_name(a->mode),
				 (unsigned long long)lver);
			break;
		}
		if (rc != -SM_EMISCOMPARE)
			break;
		sm_debug("caw %s: miscompare at lver %llu, reading again", r->name, (unsigned long long)o.l.lver);
		rc = 0;
		if (i + 1 == attempts)
			rc = -SM_EBALLOT_ABORTED;
	}
	op_free(&o);
	return rc;
}

/* Change a lease we hold: `want` builds the next image from a fresh enough
 * one, or says why not.  Retries on MISCOMPARE. */
enum change { CH_RELEASE_EX, CH_RETIRE, CH_RELEASE_SH, CH_TO_SHARED, CH_HANDOFF, CH_RESOLVE };
struct change_args {
	enum change kind;
	const struct sm_lease *held;
	uint32_t to_host_id;
	uint64_t to_generation;
	uint64_t go_by_ms;
	bool *in_doubt;
};

/* 0: o->next built; NOTHING_TO_DO; RETRY_FRESH; <0: refused. */
#define NOTHING_TO_DO 2
static int want(struct op *o, const struct change_args *c)
{
	struct sm_shared_set sh = o->sh;
	uint64_t lver = o->l.lver;
	switch (c->kind) {
	case CH_RELEASE_EX:
	case CH_RETIRE:
	case CH_TO_SHARED:
	case CH_HANDOFF:
		if (!is_mine_ex(o, c->held->lver)) {
			if (!o->fresh)
				return RETRY_FRESH;
			sm_error("resource %s: the lease now shows host %u generation %llu at lver %llu, not us (host %u "
				 "generation %llu at lver %llu)",
				 o->r->name, o->l.owner_id, (unsigned long long)o->l.owner_generation,
				 (unsigned long long)o->l.lver, o->me.host_id, (unsigned long long)o->me.generation,
				 (unsigned long long)c->held->lver);
			return -SM_ENOT_OWNER;
		}
		if (c->kind == CH_HANDOFF) {
			op_build(o, lver + 1, c->to_host_id, c->to_generation, 0, &sh);
			return 0;
		}
		if (c->kind == CH_TO_SHARED)
			sm_shared_put(&sh, o->me.host_id, true);
		op_build(o, lver, 0, 0, c->kind == CH_RETIRE ? SM_LEADER_REMOVED : 0, &sh);
		return 0;
	case CH_RELEASE_SH:
	case CH_RESOLVE: {
		bool ex = o->l.owner_id == o->me.host_id && o->l.owner_generation == o->me.generation &&
			  o->l.mode == SM_MODE_EX && c->kind == CH_RESOLVE;
		bool bit = sm_shared_test(&sh, o->me.host_id);
		if (!ex && !bit)
			return o->fresh ? NOTHING_TO_DO : RETRY_FRESH;
		sm_shared_put(&sh, o->me.host_id, false);
		if (ex)
			op_build(o, lver, 0, 0, o->l.flags, &sh);
		else
			op_build(o, lver, o->l.owner_id, o->l.owner_generation, o->l.flags, &sh);
		return 0;
	}
	}
	return -SM_EBAD_ARGUMENT;
}

static int change(const struct sm_resource_ref *r, const struct sm_me *me, const struct change_args *c,
		  bool read_first)
{
	struct op o;
	int rc = op_init(&o, r, me);
	if (rc == 0)
		rc = read_first ? op_read(&o) : op_load(&o);
	for (unsigned i = 0; rc == 0 && i < DEFAULT_ATTEMPTS; i++) {
		if (!o.have && (rc = op_read(&o)) < 0)
			break;
		rc = want(&o, c);
		if (rc == RETRY_FRESH) {
			rc = op_read(&o);
			i--;
			continue;
		}
		if (rc == NOTHING_TO_DO) {
			rc = 0;
			break;
		}
		if (rc < 0)
			break;
		if (c->go_by_ms && sm_now_mono_ms() > c->go_by_ms) {
			sm_warn("resource %s: the hand-off could not start in time; not handing over", r->name);
			rc = -ETIMEDOUT;
			break;
		}
		rc = op_caw(&o, c->in_doubt);
		if (rc != -SM_EMISCOMPARE)
			break;
		rc = i + 1 == DEFAULT_ATTEMPTS ? -SM_EBALLOT_ABORTED : 0;
	}
	op_free(&o);
	return rc;
}

int sm_atomic_release(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_lease *held)
{
	struct change_args c = {.kind = held->mode == SM_MODE_SH ? CH_RELEASE_SH : CH_RELEASE_EX, .held = held};
	return change(r, me, &c, false);
}

int sm_atomic_retire(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_lease *held)
{
	if (held->mode != SM_MODE_EX)
		return -SM_EBAD_ARGUMENT;
	struct change_args c = {.kind = CH_RETIRE, .held = held};
	return change(r, me, &c, false);
}

int sm_atomic_convert_to_shared(const struct sm_resource_ref *r, const struct sm_me *me, struct sm_lease *held)
{
	if (held->mode != SM_MODE_EX)
		return -SM_EBAD_ARGUMENT;
	struct op o;
	int rc = op_init(&o, r, me);
	if (rc == 0)
		rc = write_shared_mode_block(&o, held->lver); /* the generation before the bit */
	op_free(&o);
	struct change_args c = {.kind = CH_TO_SHARED, .held = held, .in_doubt = &held->in_doubt};
	if (rc == 0 && (rc = change(r, me, &c, false)) == 0)
		held->mode = SM_MODE_SH;
	return rc;
}

int sm_atomic_convert_to_exclusive(const struct sm_resource_ref *r, const struct sm_me *me,
				   const struct sm_oracle *live, struct sm_lease *held, struct sm_lease *refused)
{
	if (held->mode != SM_MODE_SH)
		return -SM_EBAD_ARGUMENT;
	/* An EX acquire clears our own bit in the same COMPARE AND WRITE. */
	struct sm_acquire_opts a = {.mode = SM_MODE_EX, .live = *live};
	struct sm_lease ex;
	int rc = sm_atomic_acquire(r, me, &a, &ex);
	if (rc < 0) {
		held->in_doubt |= ex.in_doubt;
		if (refused)
			*refused = ex;
		return rc;
	}
	*held = ex;
	return 0;
}

int sm_atomic_handoff(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_lease *held,
		      uint32_t to_host_id, uint64_t to_generation, uint64_t go_by_ms, struct sm_lease *out)
{
	memset(out, 0, sizeof(*out));
	struct change_args c = {.kind = CH_HANDOFF, .held = held, .to_host_id = to_host_id,
				.to_generation = to_generation, .go_by_ms = go_by_ms, .in_doubt = &out->in_doubt};
	int rc = change(r, me, &c, false);
	if (rc == 0) {
		out->lver = held->lver + 1;
		out->mode = SM_MODE_EX;
		out->owner_id = to_host_id;
		out->owner_generation = to_generation;
	}
	return rc;
}

int sm_atomic_resolve(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_oracle *live)
{
	(void)live; /* nothing is open to finish: the sector says all */
	struct change_args c = {.kind = CH_RESOLVE};
	return change(r, me, &c, true);
}

int sm_atomic_inquire(const struct sm_resource_ref *r, struct sm_lease_view *out)
{
	memset(out, 0, sizeof(*out));
	struct sm_me anyone = {.host_id = 1};
	struct op o;
	int rc = op_init(&o, r, &anyone);
	uint8_t *two = NULL;
	if (rc == 0 && posix_memalign((void **)&two, 4096, 2 * (size_t)o.ss))
		rc = -ENOMEM;
	if (rc == 0)
		rc = sm_disk_read(o.v->disk, o.leader_off, two, 2 * (size_t)o.ss, sm_volume_io_timeout(o.v));
	if (rc == 0) {
		memcpy(o.img, two, o.ss);
		rc = op_decode(&o);
	}
	if (rc == 0) {
		out->leader = o.l;
		out->request_status = sm_request_decode(two + o.ss, &out->request, r->name, o.ss);
		o.me.host_id = 0; /* every holder, none is us */
		uint64_t *gens = calloc(o.sh.nbits ? o.sh.nbits : 1, sizeof(*gens));
		uint64_t done;
		rc = gens ? read_holder_generations(&o, &o.sh, gens, &done) : -ENOMEM;
		for (uint32_t h = 1; rc == 0 && h <= o.sh.nbits; h++) {
			if (!sm_shared_test(&o.sh, h))
				continue;
			if (out->shared_count < SM_ARRAY_SIZE(out->shared_host)) {
				out->shared_host[out->shared_count] = h;
				out->shared_gen[out->shared_count] = gens[h - 1];
			}
			out->shared_count++;
		}
		free(gens);
	}
	free(two);
	op_free(&o);
	return rc;
}

int sm_atomic_mine(const struct sm_resource_ref *r, const struct sm_me *me, struct sm_mine *out)
{
	memset(out, 0, sizeof(*out));
	struct op o;
	int rc = op_init(&o, r, me);
	if (rc == 0)
		rc = op_read(&o);
	if (rc == 0 && (o.l.flags & SM_LEADER_REMOVED))
		rc = -SM_ENO_RESOURCE;
	if (rc < 0) {
		if (rc != -ENOMEM && rc != -SM_EIO_TIMEOUT && !r->name[0])
			rc = -SM_ENO_RESOURCE; /* a sweep by area: this area holds no resource */
		op_free(&o);
		return rc;
	}
	if (!o.l.resource[0]) {
		op_free(&o);
		return -SM_ENO_RESOURCE;
	}
	snprintf(out->name, sizeof(out->name), "%s", o.l.resource);
	out->lver = o.l.lver;
	out->ex = o.l.mode == SM_MODE_EX && o.l.owner_id == me->host_id && o.l.owner_generation == me->generation;
	if (sm_shared_test(&o.sh, me->host_id)) {
		/* our bit: ours in this generation only if our mode block says so */
		uint8_t *sec;
		if (posix_memalign((void **)&sec, 4096, o.ss) == 0) {
			struct sm_mode_block m;
			if (sm_disk_read(o.v->disk, o.leader_off + (uint64_t)(1 + me->host_id) * o.ss, sec, o.ss,
					 sm_volume_io_timeout(o.v)) == 0 &&
			    sm_mode_decode(sec + SM_MODE_OFFSET, &m) == 0 && (m.flags & SM_MODEB_SHARED) &&
			    m.generation == me->generation)
				out->shared = true;
			free(sec);
		}
	}
	op_free(&o);
	return 0;
}
