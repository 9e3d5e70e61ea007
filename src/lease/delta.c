/* Delta leases and host liveness.  See delta.h and docs/algorithms.md §1.
 *
 * On a volume formatted with lease_io caw (never a volume set) our own record
 * changes only by COMPARE AND WRITE (docs/algorithms.md §7.2, the protocol of
 * tests/model/caw.pml SCEN=2): the join's claim from the image read, without
 * the 2d wait; each renewal and the leave from our last record.  Everything
 * else (observation, liveness, H, fencing) is the same for both. */
#include "delta.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "disk/caw.h"
#include "fence.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ATTENTION 64
#define MAX_PENDING_WRITES 4
/* internal: a join attempt must start over */
#define SM_EAGAIN_CLAIM (SM_ERR_PRIVATE_BASE + 1)
/* internal: another host won the host_id we picked by name: pick another */
#define SM_EAGAIN_LOST (SM_ERR_PRIVATE_BASE + 2)
_Static_assert(SM_EAGAIN_CLAIM > SM_ERR_LAST_ && SM_EAGAIN_LOST > SM_ERR_LAST_, "private codes outside SM_E*");
/* Join attempts before giving up (stalled claims, host_ids lost to hosts
 * joining at the same moment: each lost race lets at least one of them in). */
#define JOIN_ATTEMPTS 16

/* What we have seen of one host_id's record on one member. */
struct host_obs {
	bool seen;      /* at least one successful read */
	bool changed;   /* the bytes changed while we watched */
	uint8_t bytes[SM_HOST_SIZE];
	uint64_t first_seen; /* completion of the first read that returned these bytes */
	uint64_t last_ok;    /* ISSUE time of the latest read that returned them: the disk
			      * may have been sampled that early, not later */
	int status;
	struct sm_host_record rec;
};

/* One volume of the lockspace: the only one, or a member of a volume set. */
struct member {
	struct sm_volume *vol;  /* NULL while the member cannot be opened */
	char spec[SM_MEMBER_SPEC_MAX]; /* "PATH:OFFSET", to (re)open it */
	struct host_obs *obs;   /* max_hosts entries; host_id = index + 1 */
	uint8_t *area_buf;      /* host area image of the latest read */
	bool read_ok;           /* the latest read of this member succeeded */
	uint64_t read_issue;    /* issue time of the latest read attempt */
	int last_err;           /* of the latest failed open or I/O; 0 once one succeeds */
	uint64_t io_errors;     /* failed opens and I/Os */
	uint64_t down_since;    /* monotonic ms of the first failure since the last success; 0 = up */
};

struct sm_lockspace {
	pthread_mutex_t mu; /* guards everything below except volumes and buffers */
	struct sm_volume_header hdr; /* common to every member (set_index is member 0's) */
	int n;                       /* members: 1, or SM_SET_SIZE for a volume set */
	struct member m[SM_SET_SIZE];
	char location[SM_LS_LOCATION_MAX];
	struct sm_timeouts to;
	uint8_t *sector;      /* one sector, for writes */
	uint8_t *expect;      /* one sector: what a COMPARE AND WRITE compares against */
	uint64_t *attn_gen, *attn_seq; /* per host: newest attention mark acted on */

	bool joined, lost;
	uint32_t host_id;
	uint64_t generation;
	uint8_t instance[16];
	char host_name[SM_NAME_FIELD];
	struct sm_host_record mine; /* what we last wrote successfully (to a majority) */
	uint8_t mine_bytes[SM_HOST_SIZE];
	/* Writes that failed but may still land (timed out, or failed in a way
	 * the device might have completed): a read showing one of them is ours. */
	int npending;
	struct sm_host_record pending[MAX_PENDING_WRITES];
	uint8_t pending_bytes[MAX_PENDING_WRITES][SM_HOST_SIZE];
	uint64_t last_renew_mono, last_renew_boot;
	uint64_t renewals, failures;

	struct sm_renewal_record hist[SM_RENEWAL_HISTORY];
	unsigned hist_count, hist_next;

	uint32_t attention[MAX_ATTENTION];
	int attention_count;
	bool expired;             /* F passed without a good renewal: never renew again */

	/* Fencing by persistent reservation (fence.h): the devices (opened on
	 * join, resume or adopt), whether a write of ours met a reservation
	 * conflict (we were preempted: never write again), and per host the
	 * generation + 1 up to which we preempted it (0 = never). */
	struct sm_fence *fence;
	bool fenced;
	uint64_t *fenced_below;
	uint64_t preemptions;

	/* Renewals read only the slots in use (issue 19; docs/algorithms.md §1,
	 * "Reading only the slots in use"): host_ids 1 .. scan_limit (0 = every
	 * slot, before the first whole read), and the whole area every
	 * FULL_READ_EVERY renewals or when want_full says so. */
	uint32_t scan_limit;
	unsigned reads_since_full;
	bool want_full;
};

static int majority(const struct sm_lockspace *ls) { return ls->n / 2 + 1; }

const char *sm_liveness_name(enum sm_liveness l)
{
	static const char *const names[] = {"unknown", "live", "failing", "dead", "free"};
	return (unsigned)l < SM_ARRAY_SIZE(names) ? names[l] : "?";
}

static bool parse_machine_id(const char *s, uint8_t out[16])
{
	if (strlen(s) != 32)
		return false;
	for (int i = 0; i < 32; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (v < 0)
			return false;
		out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] | v : v << 4);
	}
	return true;
}

bool sm_machine_id(uint8_t out[16])
{
	char id[64] = "";
	const char *env = getenv("SYNC_MANAGER_MACHINE_ID");
	if (env) {
		snprintf(id, sizeof(id), "%s", env);
	} else {
		FILE *f = fopen("/etc/machine-id", "r");
		if (f) {
			if (fscanf(f, "%63s", id) != 1)
				id[0] = '\0';
			fclose(f);
		}
	}
	static const uint8_t zero[16];
	if (parse_machine_id(id, out) && memcmp(out, zero, 16) != 0)
		return true;
	memset(out, 0, 16);
	return false;
}

void sm_machine_id_hex(const uint8_t id[16], char out[33])
{
	static const uint8_t zero[16];
	out[0] = '\0';
	if (memcmp(id, zero, 16) == 0)
		return;
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

void sm_default_host_name(char out[SM_NAME_FIELD])
{
	const char *env = getenv("SYNC_MANAGER_HOST_NAME");
	if (env && sm_name_valid(env)) {
		snprintf(out, SM_NAME_FIELD, "%s", env);
		return;
	}
	/* The hostname, unless it is one every host may have. */
	char hn[256] = "";
	if (gethostname(hn, sizeof(hn) - 1) == 0 && strlen(hn) < SM_NAME_FIELD && sm_name_valid(hn) &&
	    strncmp(hn, "localhost", 9) != 0) {
		snprintf(out, SM_NAME_FIELD, "%s", hn);
		return;
	}
	uint8_t id[16];
	char hex[33];
	if (sm_machine_id(id)) {
		sm_machine_id_hex(id, hex);
		snprintf(out, SM_NAME_FIELD, "%s", hex);
		return;
	}
	snprintf(out, SM_NAME_FIELD, "unnamed-host");
}

/* ---- opening -------------------------------------------------------------- */

/* Does member header mh belong at place idx of the set described by ref? */
static bool member_fits(const struct sm_volume_header *ref, const struct sm_volume_header *mh, uint32_t idx)
{
	return mh->set_size == ref->set_size && memcmp(mh->set_uuid, ref->set_uuid, 16) == 0 &&
	       (ref->set_size == 0 || mh->set_index == idx) && strncmp(mh->lockspace, ref->lockspace, SM_NAME_FIELD) == 0 &&
	       mh->sector_size == ref->sector_size && mh->max_hosts == ref->max_hosts &&
	       mh->io_timeout_ms == ref->io_timeout_ms && mh->watchdog_timeout_ms == ref->watchdog_timeout_ms &&
	       mh->host_area_offset == ref->host_area_offset && mh->index_offset == ref->index_offset &&
	       mh->areas_offset == ref->areas_offset && mh->resource_count == ref->resource_count &&
	       mh->area_sectors == ref->area_sectors;
}

static void member_failed(struct sm_lockspace *ls, struct member *m, int rc)
{
	pthread_mutex_lock(&ls->mu);
	if (!m->down_since)
		m->down_since = sm_now_mono_ms();
	m->last_err = rc;
	m->io_errors++;
	pthread_mutex_unlock(&ls->mu);
}

static void member_ok(struct sm_lockspace *ls, struct member *m)
{
	pthread_mutex_lock(&ls->mu);
	if (m->down_since && ls->n > 1)
		sm_info("lockspace %s: member %s is back", ls->hdr.lockspace, m->spec);
	m->down_since = 0;
	m->last_err = 0;
	pthread_mutex_unlock(&ls->mu);
}

/* Open member i if it is not open (a member that was missing may be back). */
static int member_ensure_open(struct sm_lockspace *ls, int i)
{
	struct member *m = &ls->m[i];
	if (m->vol)
		return 0;
	struct sm_volume *v = NULL;
	int rc = sm_volume_open_spec(m->spec, 0, &v);
	if (rc == 0 && !member_fits(&ls->hdr, &v->hdr, (uint32_t)i)) {
		sm_error("lockspace %s: %s is not member %d of this volume set (another volume, or reformatted)",
			 ls->hdr.lockspace, m->spec, i);
		sm_volume_close(v);
		rc = -SM_ESET_MEMBERS;
	}
	if (rc < 0)
		return rc;
	m->vol = v;
	return 0;
}

static int alloc_members(struct sm_lockspace *ls)
{
	const struct sm_volume_header *h = &ls->hdr;
	sm_timeouts_derive(h->io_timeout_ms, h->watchdog_timeout_ms, &ls->to);
	for (int i = 0; i < ls->n; i++) {
		ls->m[i].obs = calloc(h->max_hosts, sizeof(*ls->m[i].obs));
		ls->m[i].area_buf = malloc((size_t)h->max_hosts * h->sector_size);
		if (!ls->m[i].obs || !ls->m[i].area_buf)
			return -ENOMEM;
	}
	ls->sector = calloc(1, h->sector_size);
	ls->expect = calloc(1, h->sector_size);
	ls->attn_gen = calloc(h->max_hosts, sizeof(*ls->attn_gen));
	ls->attn_seq = calloc(h->max_hosts, sizeof(*ls->attn_seq));
	ls->fenced_below = calloc(h->max_hosts, sizeof(*ls->fenced_below));
	if (h->fence_mode == SM_FENCE_PR)
		sm_timeouts_fence_pr(&ls->to);
	return ls->sector && ls->expect && ls->attn_gen && ls->attn_seq && ls->fenced_below ? 0 : -ENOMEM;
}

static struct sm_lockspace *ls_new(void)
{
	struct sm_lockspace *ls = calloc(1, sizeof(*ls));
	if (ls)
		pthread_mutex_init(&ls->mu, NULL);
	return ls;
}

int sm_lockspace_open(const char *path, uint64_t offset, struct sm_lockspace **out)
{
	*out = NULL;
	struct sm_lockspace *ls = ls_new();
	if (!ls)
		return -ENOMEM;
	ls->n = 1;
	int rc = sm_volume_open(path, offset, 0, &ls->m[0].vol);
	if (rc < 0)
		goto fail;
	ls->hdr = ls->m[0].vol->hdr;
	snprintf(ls->m[0].spec, sizeof(ls->m[0].spec), "%s:%llu", path, (unsigned long long)offset);
	if (ls->hdr.set_size) {
		sm_error("%s is member %u of a volume set of %u (lockspace %s): name all its members, as "
			 "PATH1,PATH2,PATH3", path, ls->hdr.set_index + 1, ls->hdr.set_size, ls->hdr.lockspace);
		rc = -SM_ESET_MEMBERS;
		goto fail;
	}
	snprintf(ls->location, sizeof(ls->location), "%s", ls->m[0].spec);
	if ((rc = alloc_members(ls)) < 0)
		goto fail;
	*out = ls;
	return 0;
fail:
	sm_lockspace_free(ls);
	return rc;
}

/* A volume set "SPEC1,SPEC2,SPEC3" in any order: members are placed by the
 * index in their headers; one may be missing (its place is the one left). */
static int open_set(const char *spec, struct sm_lockspace **out)
{
	char specs[SM_SET_SIZE][SM_MEMBER_SPEC_MAX];
	int nspec = 0;
	const char *p = spec;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		if (nspec == SM_SET_SIZE || len == 0 || len >= SM_MEMBER_SPEC_MAX) {
			sm_error("'%s' is not a volume set: give exactly %d members, PATH1,PATH2,PATH3", spec, SM_SET_SIZE);
			return -SM_EBAD_ARGUMENT;
		}
		memcpy(specs[nspec], p, len);
		specs[nspec++][len] = '\0';
		if (!comma)
			break;
		p = comma + 1;
	}
	if (nspec != SM_SET_SIZE) {
		sm_error("'%s' is not a volume set: give exactly %d members, PATH1,PATH2,PATH3", spec, SM_SET_SIZE);
		return -SM_EBAD_ARGUMENT;
	}
	struct sm_lockspace *ls = ls_new();
	if (!ls)
		return -ENOMEM;
	ls->n = SM_SET_SIZE;
	struct sm_volume *v[SM_SET_SIZE] = {0};
	int err[SM_SET_SIZE] = {0}, nopen = 0, rc = 0;
	int ref = -1;
	struct sm_volume_header ref_hdr;
	for (int i = 0; i < nspec; i++) {
		err[i] = sm_volume_open_spec(specs[i], 0, &v[i]);
		if (err[i] < 0) {
			sm_warn("volume set member %s cannot be opened: %s", specs[i], sm_strerror(err[i]));
			continue;
		}
		if (v[i]->hdr.set_size != SM_SET_SIZE) {
			sm_error("%s is not a member of a volume set (format the members together: init PATH1 PATH2 PATH3)",
				 specs[i]);
			rc = -SM_ESET_MEMBERS;
			goto fail;
		}
		if (ref < 0) {
			ref = i;
			ref_hdr = v[i]->hdr;
		}
		if (!member_fits(&ref_hdr, &v[i]->hdr, v[i]->hdr.set_index) || ls->m[v[i]->hdr.set_index].vol) {
			sm_error("%s and %s are not members of one volume set (another set, a copy, or named twice)",
				 specs[ref], specs[i]);
			rc = -SM_ESET_MEMBERS;
			goto fail;
		}
		struct member *m = &ls->m[v[i]->hdr.set_index];
		m->vol = v[i];
		v[i] = NULL;
		snprintf(m->spec, sizeof(m->spec), "%s", specs[i]);
		nopen++;
	}
	if (nopen < majority(ls)) {
		sm_error("volume set %s: only %d of %d members can be opened", spec, nopen, SM_SET_SIZE);
		rc = -SM_ENO_MAJORITY;
		goto fail;
	}
	ls->hdr = ls->m[ls->m[0].vol ? 0 : 1].vol->hdr;
	for (int i = 0; i < nspec; i++) /* the member that could not be opened takes the place left */
		if (err[i] < 0)
			for (int k = 0; k < SM_SET_SIZE; k++)
				if (!ls->m[k].spec[0]) {
					snprintf(ls->m[k].spec, sizeof(ls->m[k].spec), "%s", specs[i]);
					ls->m[k].last_err = err[i];
					ls->m[k].io_errors = 1;
					ls->m[k].down_since = sm_now_mono_ms();
					break;
				}
	size_t off = 0;
	for (int k = 0; k < SM_SET_SIZE; k++) {
		int w = snprintf(ls->location + off, sizeof(ls->location) - off, "%s%s", k ? "," : "", ls->m[k].spec);
		if (w < 0 || (size_t)w >= sizeof(ls->location) - off) {
			sm_error("volume set %s: the member names are too long together (at most %d bytes)", spec,
				 SM_LS_LOCATION_MAX - 1);
			rc = -SM_EBAD_ARGUMENT;
			goto fail;
		}
		off += (size_t)w;
	}
	if ((rc = alloc_members(ls)) < 0)
		goto fail;
	*out = ls;
	return 0;
fail:
	for (int i = 0; i < SM_SET_SIZE; i++)
		sm_volume_close(v[i]);
	sm_lockspace_free(ls);
	return rc;
}

int sm_lockspace_open_spec(const char *spec, struct sm_lockspace **out)
{
	*out = NULL;
	if (strchr(spec, ','))
		return open_set(spec, out);
	char *path = NULL;
	uint64_t off = 0;
	int rc = sm_disk_parse_location(spec, &path, &off);
	if (rc < 0)
		return rc;
	rc = sm_lockspace_open(path, off, out);
	free(path);
	return rc;
}

void sm_lockspace_free(struct sm_lockspace *ls)
{
	if (!ls)
		return;
	for (int i = 0; i < SM_SET_SIZE; i++) {
		sm_volume_close(ls->m[i].vol);
		free(ls->m[i].obs);
		free(ls->m[i].area_buf);
	}
	free(ls->sector);
	free(ls->expect);
	free(ls->attn_gen);
	free(ls->attn_seq);
	free(ls->fenced_below);
	sm_fence_close(ls->fence);
	pthread_mutex_destroy(&ls->mu);
	free(ls);
}

const struct sm_volume_header *sm_lockspace_header(const struct sm_lockspace *ls) { return &ls->hdr; }
const char *sm_lockspace_path(const struct sm_lockspace *ls)
{
	return ls->n == 1 ? ls->m[0].vol->path : ls->location;
}
const char *sm_lockspace_location(const struct sm_lockspace *ls) { return ls->location; }
int sm_lockspace_member_count(const struct sm_lockspace *ls) { return ls->n; }

struct sm_volume *sm_lockspace_volume(struct sm_lockspace *ls)
{
	for (int i = 0; i < ls->n; i++)
		if (ls->m[i].vol)
			return ls->m[i].vol;
	return NULL;
}

struct sm_volume *sm_lockspace_member_volume(struct sm_lockspace *ls, int i)
{
	return i >= 0 && i < ls->n ? ls->m[i].vol : NULL;
}

uint64_t sm_lockspace_offset(const struct sm_lockspace *ls) { return ls->n == 1 ? ls->m[0].vol->offset : 0; }

void sm_lockspace_member_info(struct sm_lockspace *ls, int i, struct sm_member_info *o)
{
	memset(o, 0, sizeof(*o));
	if (i < 0 || i >= ls->n)
		return;
	pthread_mutex_lock(&ls->mu);
	const struct member *m = &ls->m[i];
	snprintf(o->spec, sizeof(o->spec), "%s", m->spec);
	o->index = (uint32_t)i;
	o->up = m->down_since == 0;
	o->last_error = m->last_err;
	o->io_errors = m->io_errors;
	o->down_ms = m->down_since ? sm_now_mono_ms() - m->down_since : 0;
	pthread_mutex_unlock(&ls->mu);
}

void sm_lockspace_info(struct sm_lockspace *ls, struct sm_lockspace_info *o)
{
	pthread_mutex_lock(&ls->mu);
	memset(o, 0, sizeof(*o));
	memcpy(o->name, ls->hdr.lockspace, SM_NAME_FIELD);
	o->to = ls->to;
	o->max_hosts = ls->hdr.max_hosts;
	o->joined = ls->joined;
	o->lost = ls->lost;
	o->expired = ls->expired;
	o->fence_pr = ls->hdr.fence_mode == SM_FENCE_PR;
	o->fenced = ls->fenced;
	o->preemptions = ls->preemptions;
	o->host_id = ls->host_id;
	o->generation = ls->generation;
	memcpy(o->host_name, ls->host_name, SM_NAME_FIELD);
	memcpy(o->machine_id, ls->mine.machine_id, 16);
	o->last_renewal_mono_ms = ls->last_renew_mono;
	o->last_renewal_boot_ms = ls->last_renew_boot;
	o->renewals = ls->renewals;
	o->renewal_failures = ls->failures;
	o->members = ls->n;
	for (int i = 0; i < ls->n; i++)
		o->members_down += ls->m[i].down_since != 0;
	pthread_mutex_unlock(&ls->mu);
}

void sm_lockspace_me(struct sm_lockspace *ls, uint32_t *host_id, uint64_t *generation, uint8_t instance[16])
{
	pthread_mutex_lock(&ls->mu);
	*host_id = ls->joined ? ls->host_id : 0;
	*generation = ls->joined ? ls->generation : 0;
	if (instance)
		memcpy(instance, ls->instance, 16);
	pthread_mutex_unlock(&ls->mu);
}

/* ---- observation ---------------------------------------------------------- */

/* Record one successful read of slots first+1 .. first+nslots of member mi's
 * host area (area is the image of the whole area), issued at `issued` and
 * completed at `now`.  Slots not read keep their observation as it was: only
 * a read extends "unchanged since". */
static void observe_locked(struct sm_lockspace *ls, int mi, const uint8_t *area, uint32_t first, uint32_t nslots,
			   uint64_t issued, uint64_t now)
{
	const struct sm_volume_header *h = &ls->hdr;
	for (uint32_t i = first; i < first + nslots; i++) {
		struct host_obs *o = &ls->m[mi].obs[i];
		const uint8_t *b = area + (size_t)i * h->sector_size;
		if (!o->seen || memcmp(o->bytes, b, SM_HOST_SIZE) != 0) {
			o->changed = o->seen;
			o->seen = true;
			memcpy(o->bytes, b, SM_HOST_SIZE);
			o->first_seen = now;
			o->last_ok = now;
			o->status = sm_host_decode(b, &o->rec, h->lockspace, h->sector_size);
			if (o->status == 0 && o->rec.host_id != i + 1)
				o->status = -SM_EBAD_GEOMETRY;
		} else if (issued > o->last_ok) {
			o->last_ok = issued;
		}
		/* A new request aimed at us?  Members may show marks of different
		 * ages: act on each (generation, sequence) once, newest first. */
		if (ls->joined && o->status == 0 && o->rec.attention_host_id == ls->host_id && i + 1 != ls->host_id &&
		    (o->rec.generation > ls->attn_gen[i] ||
		     (o->rec.generation == ls->attn_gen[i] && o->rec.attention_seq > ls->attn_seq[i]))) {
			ls->attn_gen[i] = o->rec.generation;
			ls->attn_seq[i] = o->rec.attention_seq;
			if (ls->attention_count < MAX_ATTENTION)
				ls->attention[ls->attention_count++] = i + 1;
		}
	}
}

/* ---- reading only the slots in use ------------------------------------------
 *
 * A renewal reads host_ids 1 .. scan_limit: the highest slot ever claimed
 * (seen in the latest whole read; our own at least) plus SCAN_SLACK, where
 * hosts that join by name land first; a claim seen within SCAN_SLACK of the
 * limit moves it to that claim + SCAN_SLACK.  Every FULL_READ_EVERY renewals,
 * and at the next one after a question about a host beyond the limit, the
 * whole area is read and the limit set anew;
 * joins, resumes, leaves and sm_lockspace_observe() always read it whole.
 * Safety does not depend on it: a verdict of death needs two reads showing
 * the same bytes more than H apart, so a slot read less often is judged dead
 * later, never sooner, and one never read is unknown (no takeover); a join's
 * claim is decided by its own reads of its slot (or one COMPARE AND WRITE). */
#define SCAN_SLACK 8
#define FULL_READ_EVERY 32

/* Has this slot ever been claimed (or does it not decode)? */
static bool slot_used(const struct host_obs *o)
{
	return o->seen && (o->status != 0 || o->rec.generation != 0 || o->rec.flags != SM_HOST_FREE);
}

/* After a read of nslots slots (mu held). */
static void update_scan_limit_locked(struct sm_lockspace *ls, uint32_t nslots)
{
	uint32_t max = ls->hdr.max_hosts, highest = ls->host_id;
	for (int i = 0; i < ls->n; i++)
		for (uint32_t j = 0; ls->m[i].read_ok && j < nslots; j++)
			if (slot_used(&ls->m[i].obs[j]) && j + 1 > highest)
				highest = j + 1;
	if (nslots == max) {
		ls->scan_limit = SM_MIN(max, highest + SCAN_SLACK);
		ls->reads_since_full = 0;
		ls->want_full = false;
		return;
	}
	ls->reads_since_full++;
	/* A claim near the edge (hosts joining by name land there, one after
	 * another when many join): look SCAN_SLACK further from it, without
	 * reading everything at each of them. */
	if (highest + SCAN_SLACK > nslots)
		ls->scan_limit = SM_MIN(max, highest + SCAN_SLACK);
}

/* The number of slots the next renewal reads (mu held). */
static uint32_t renewal_slots_locked(const struct sm_lockspace *ls)
{
	if (!ls->scan_limit || ls->want_full || ls->reads_since_full + 1 >= FULL_READ_EVERY)
		return ls->hdr.max_hosts;
	return SM_MAX(ls->scan_limit, ls->host_id);
}

/* A renewal's read of nslots timed out.  If it was a whole read beyond the
 * slots in use (the LUN is busy: many hosts joining at once), the next
 * renewals read the slots in use again, and the whole area is tried again
 * FULL_READ_EVERY / 2 renewals later (a new question about a host beyond
 * asks for it sooner): one renewal fails, not every one until F. */
static void whole_read_missed(struct sm_lockspace *ls, uint32_t nslots)
{
	pthread_mutex_lock(&ls->mu);
	if (nslots == ls->hdr.max_hosts && ls->scan_limit && ls->scan_limit < nslots) {
		ls->want_full = false;
		ls->reads_since_full = FULL_READ_EVERY / 2;
	}
	pthread_mutex_unlock(&ls->mu);
}

/* A question about host_id (mu held): if it lies beyond what renewals read,
 * the next one reads everything. */
static void note_interest_locked(struct sm_lockspace *ls, uint32_t host_id)
{
	if (ls->scan_limit && host_id > ls->scan_limit)
		ls->want_full = true;
}

/* ---- reading in chunks (joins) ---------------------------------------------
 *
 * A renewal reads its slots in one I/O within d (the bound R + 2d on a live
 * host's silence, which fencing by reservation uses, counts on it), and so do
 * the reads that share its thread or its deadline (observe: the daemon's
 * death checks; resume; leave).  A join reads the whole host area in chunks
 * of CHUNK_BYTES, each with its own timeout d, and a chunk that timed out is
 * read again after a random pause (CHUNK_TRIES times in all).  When
 * many hosts join at once (a site restarting), each I/O waits behind the
 * others' on the LUN for a time that grows with the bytes queued: a 1000 KiB
 * read of a 2000-slot area misses d where a 64 KiB one does not, and the
 * random pause spreads the retries.  Each chunk is an observation of its
 * slots of its own (issue and completion times), so reading in chunks
 * changes nothing of what an observation means (docs/algorithms.md §1,
 * "Mass joins"). */
#define CHUNK_BYTES (64u * 1024)
#define CHUNK_TRIES 4

/* A pause of d/4 .. d/2, random, before reading a chunk again. */
static void retry_pause(const struct sm_lockspace *ls)
{
	uint8_t r[16];
	unsigned span = ls->hdr.io_timeout_ms / 4 + 1;
	unsigned extra = sm_uuid_generate(r) == 0 ? ((unsigned)r[0] << 8 | r[1]) % span : span / 2;
	sm_sleep_ms(ls->hdr.io_timeout_ms / 4 + extra);
}

/* Read slots first+1 .. first+nslots of member i into its area_buf and
 * observe them: one I/O within d (chunked = false), or chunks of
 * CHUNK_BYTES, each within d and retried after a timeout.  Sets read_ok
 * and read_issue (the first I/O's issue). */
static int read_member(struct sm_lockspace *ls, int i, uint32_t first, uint32_t nslots, bool chunked)
{
	const struct sm_volume_header *h = &ls->hdr;
	struct member *m = &ls->m[i];
	m->read_issue = sm_now_mono_ms();
	int rc = member_ensure_open(ls, i);
	uint32_t per = chunked ? SM_MAX(1u, CHUNK_BYTES / h->sector_size) : nslots;
	for (uint32_t done = 0; rc == 0 && done < nslots;) {
		uint32_t n = SM_MIN(per, nslots - done), at = first + done;
		uint64_t issued = sm_now_mono_ms();
		rc = sm_disk_read(m->vol->disk, h->host_area_offset + (uint64_t)at * h->sector_size,
				  m->area_buf + (size_t)at * h->sector_size, (size_t)n * h->sector_size, h->io_timeout_ms);
		for (int tries = 1; chunked && rc == -SM_EIO_TIMEOUT && tries < CHUNK_TRIES; tries++) {
			member_failed(ls, m, rc);
			retry_pause(ls);
			issued = sm_now_mono_ms();
			rc = sm_disk_read(m->vol->disk, h->host_area_offset + (uint64_t)at * h->sector_size,
					  m->area_buf + (size_t)at * h->sector_size, (size_t)n * h->sector_size,
					  h->io_timeout_ms);
		}
		if (rc < 0)
			break;
		uint64_t now = sm_now_mono_ms();
		pthread_mutex_lock(&ls->mu);
		observe_locked(ls, i, m->area_buf, at, n, issued, now);
		pthread_mutex_unlock(&ls->mu);
		done += n;
	}
	m->read_ok = rc == 0;
	if (rc < 0)
		member_failed(ls, m, rc);
	else
		member_ok(ls, m);
	return rc;
}

/* Read the first nslots slots of the host area of every member (chunked:
 * see above).  0 when a majority was read (the one volume, for a lone
 * volume); else its error, or -SM_ENO_MAJORITY. */
static int read_host_slots(struct sm_lockspace *ls, uint32_t nslots, bool chunked)
{
	const struct sm_volume_header *h = &ls->hdr;
	int ok = 0, first_err = 0;
	for (int i = 0; i < ls->n; i++) {
		int rc = read_member(ls, i, 0, nslots, chunked);
		if (rc < 0 && !first_err)
			first_err = rc;
		ok += rc == 0;
	}
	if (ok >= majority(ls)) { /* a failed read says nothing about the slots in use */
		pthread_mutex_lock(&ls->mu);
		update_scan_limit_locked(ls, nslots);
		pthread_mutex_unlock(&ls->mu);
	}
	if (ok >= majority(ls))
		return 0;
	if (ls->n == 1)
		return first_err;
	sm_warn("lockspace %s: only %d of %d members of the volume set could be read: %s", h->lockspace, ok, ls->n,
		sm_strerror(first_err));
	return -SM_ENO_MAJORITY;
}

/* The whole host area, in one I/O within d. */
static int read_host_area(struct sm_lockspace *ls)
{
	return read_host_slots(ls, ls->hdr.max_hosts, false);
}

/* The whole host area for a join: in chunks, each within d and retried. */
static int read_host_area_to_join(struct sm_lockspace *ls)
{
	return read_host_slots(ls, ls->hdr.max_hosts, true);
}

/* Slot host_id alone, on every member (one sector each, within d; a read
 * that timed out everywhere is tried again after a random pause, `tries`
 * times in all): the read a join decides its claim on, and the one that
 * shows whether the claim held.  Other slots' observations and area_buf
 * images stay as they were.  0 when a majority was read; as
 * read_host_slots() otherwise. */
static int read_one_slot(struct sm_lockspace *ls, uint32_t host_id, int tries)
{
	for (int t = 1;; t++) {
		int ok = 0, first_err = 0;
		for (int i = 0; i < ls->n; i++) {
			int rc = read_member(ls, i, host_id - 1, 1, false);
			if (rc < 0 && !first_err)
				first_err = rc;
			ok += rc == 0;
		}
		if (ok >= majority(ls))
			return 0;
		if (t >= tries || first_err != -SM_EIO_TIMEOUT)
			return ls->n == 1 ? first_err : -SM_ENO_MAJORITY;
		retry_pause(ls);
	}
}

int sm_lockspace_observe(struct sm_lockspace *ls)
{
	return read_host_area(ls);
}

/* How long the bytes are known to have stayed the same: from the completion
 * of the first read that showed them to the issue of the latest one. */
static uint64_t unchanged_ms(const struct host_obs *o)
{
	return o->last_ok > o->first_seen ? o->last_ok - o->first_seen : 0;
}

/* One member's view of one record, as the one-volume table has it. */
static enum sm_liveness member_liveness(const struct sm_lockspace *ls, const struct host_obs *o, uint64_t now)
{
	if (!o->seen)
		return SM_LIVE_UNKNOWN;
	if (o->status == 0 && o->rec.flags == SM_HOST_FREE)
		return SM_LIVE_FREE;
	if (unchanged_ms(o) > ls->to.host_dead_ms)
		return SM_LIVE_DEAD;
	if (!o->changed)
		return SM_LIVE_UNKNOWN;
	return now - o->first_seen <= ls->to.fail_ms ? SM_LIVE_LIVE : SM_LIVE_FAILING;
}

/* What one member says of incarnation g of a host (docs/algorithms.md §1, §5). */
enum member_says {
	SAYS_NOTHING, /* never read */
	SAYS_GONE,    /* a newer generation, or g left (free) */
	SAYS_QUIET,   /* g's own record: quiet over [first_seen, last_ok] */
	SAYS_OLD,     /* an older generation or an undecodable record: quiet, but g may have joined after */
};

static enum member_says member_says(const struct host_obs *o, uint64_t g)
{
	if (!o->seen)
		return SAYS_NOTHING;
	if (o->status != 0)
		return SAYS_OLD;
	if (o->rec.generation > g || (o->rec.generation == g && o->rec.flags == SM_HOST_FREE))
		return SAYS_GONE;
	return o->rec.generation == g ? SAYS_QUIET : SAYS_OLD;
}

/* The majorities of the members, as bit masks: {0}, or the pairs of three. */
static int majorities(const struct sm_lockspace *ls, unsigned masks[3])
{
	if (ls->n == 1) {
		masks[0] = 1;
		return 1;
	}
	masks[0] = 3, masks[1] = 5, masks[2] = 6;
	return 3;
}

/* Longest window over which every member of some majority showed the same
 * bytes for slot idx (min last_ok - max first_seen), for display and waits. */
static uint64_t quiet_window_locked(const struct sm_lockspace *ls, uint32_t idx)
{
	unsigned masks[3];
	int nm = majorities(ls, masks);
	uint64_t best = 0;
	for (int k = 0; k < nm; k++) {
		uint64_t lo = 0, hi = UINT64_MAX;
		bool all = true;
		for (int i = 0; i < ls->n; i++) {
			if (!(masks[k] >> i & 1))
				continue;
			const struct host_obs *o = &ls->m[i].obs[idx];
			if (!o->seen) {
				all = false;
				break;
			}
			lo = SM_MAX(lo, o->first_seen);
			hi = SM_MIN(hi, o->last_ok);
		}
		if (all && hi > lo)
			best = SM_MAX(best, hi - lo);
	}
	return best;
}

/* Is incarnation g of host idx+1 gone?  Some member shows it gone (a newer
 * generation: a join waited for g's death; free: g left after releasing its
 * leases), or a majority of members stayed quiet over one common window
 * longer than H: every successful renewal writes a majority, which meets
 * that majority, so g renewed nothing in the window and expired in it.  The
 * window must start after g joined: some member shows g's own record, or
 * (old_ok) the caller knows no g record can be newer than the window --
 * read_done: a read that showed g as an owner completed before the latest
 * reads (g's claim landed before it, so outside the window: before it);
 * any_gen: g is the newest generation we saw (a joiner's question). */
static bool gone_locked(const struct sm_lockspace *ls, uint32_t idx, uint64_t g, uint64_t read_done, bool any_gen)
{
	enum member_says says[SM_SET_SIZE];
	for (int i = 0; i < ls->n; i++) {
		says[i] = member_says(&ls->m[i].obs[idx], g);
		if (says[i] == SAYS_GONE)
			return true;
	}
	unsigned masks[3];
	int nm = majorities(ls, masks);
	for (int k = 0; k < nm; k++) {
		uint64_t lo = 0, hi = UINT64_MAX;
		bool usable = true, after_join = any_gen, proven = true;
		for (int i = 0; i < ls->n && usable; i++) {
			if (!(masks[k] >> i & 1))
				continue;
			const struct host_obs *o = &ls->m[i].obs[idx];
			if (says[i] == SAYS_NOTHING)
				usable = false;
			else if (says[i] == SAYS_QUIET)
				after_join = true;
			else if (!(read_done && o->last_ok >= read_done))
				proven = false;
			lo = SM_MAX(lo, o->first_seen);
			hi = SM_MIN(hi, o->last_ok);
		}
		if (usable && (after_join || proven) && hi > lo && hi - lo > ls->to.host_dead_ms)
			return true;
	}
	return false;
}

/* The record of slot idx that tells most: the valid one with the highest
 * generation, then sequence; NULL when no member has a valid one. */
static const struct host_obs *best_obs_locked(const struct sm_lockspace *ls, uint32_t idx, int *nvalid)
{
	const struct host_obs *best = NULL;
	int valid = 0;
	for (int i = 0; i < ls->n; i++) {
		const struct host_obs *o = &ls->m[i].obs[idx];
		if (!o->seen || o->status != 0)
			continue;
		valid++;
		if (!best || o->rec.generation > best->rec.generation ||
		    (o->rec.generation == best->rec.generation && o->rec.sequence > best->rec.sequence))
			best = o;
	}
	if (nvalid)
		*nvalid = valid;
	return best;
}

/* Combined liveness of slot idx (the one-volume table for a lone volume). */
static enum sm_liveness liveness_locked(const struct sm_lockspace *ls, uint32_t idx, uint64_t now)
{
	if (ls->n == 1)
		return member_liveness(ls, &ls->m[0].obs[idx], now);
	bool seen = false;
	for (int i = 0; i < ls->n; i++)
		seen |= ls->m[i].obs[idx].seen;
	if (!seen)
		return SM_LIVE_UNKNOWN;
	const struct host_obs *b = best_obs_locked(ls, idx, NULL);
	uint64_t g = b ? b->rec.generation : 0;
	if (gone_locked(ls, idx, g, 0, true))
		return b && b->rec.flags == SM_HOST_FREE ? SM_LIVE_FREE : SM_LIVE_DEAD;
	enum sm_liveness best = SM_LIVE_UNKNOWN;
	for (int i = 0; i < ls->n; i++) {
		const struct host_obs *o = &ls->m[i].obs[idx];
		if (!o->seen || o->status != 0 || o->rec.generation != g)
			continue;
		enum sm_liveness l = member_liveness(ls, o, now);
		if (l == SM_LIVE_LIVE)
			return SM_LIVE_LIVE;
		if (l == SM_LIVE_FAILING)
			best = SM_LIVE_FAILING;
	}
	return best;
}

int sm_lockspace_host_status(struct sm_lockspace *ls, uint32_t host_id, struct sm_host_status *out)
{
	if (host_id < 1 || host_id > ls->hdr.max_hosts)
		return -SM_EBAD_ARGUMENT;
	uint32_t idx = host_id - 1;
	uint64_t now = sm_now_mono_ms();
	pthread_mutex_lock(&ls->mu);
	const struct host_obs *b = best_obs_locked(ls, idx, NULL);
	const struct host_obs *o = b;
	for (int i = 0; i < ls->n && !o; i++)
		if (ls->m[i].obs[idx].seen)
			o = &ls->m[i].obs[idx];
	memset(out, 0, sizeof(*out));
	out->host_id = host_id;
	out->state = liveness_locked(ls, idx, now);
	if (o) {
		out->observed = true;
		out->record_status = o->status;
		out->rec = o->rec;
		out->unchanged_ms = ls->n == 1 ? unchanged_ms(o) : quiet_window_locked(ls, idx);
		out->since_change_ms = now - o->first_seen;
	}
	pthread_mutex_unlock(&ls->mu);
	return 0;
}

enum sm_owner_verdict sm_lockspace_owner_verdict(struct sm_lockspace *ls, uint32_t host_id, uint64_t generation,
					       uint64_t read_done_ms)
{
	if (host_id < 1 || host_id > ls->hdr.max_hosts)
		return SM_OWNER_UNKNOWN;
	uint32_t idx = host_id - 1;
	uint64_t now = sm_now_mono_ms();
	enum sm_owner_verdict v = SM_OWNER_UNKNOWN;
	pthread_mutex_lock(&ls->mu);
	note_interest_locked(ls, host_id);
	if (ls->joined && host_id == ls->host_id) {
		/* An older incarnation of our own host_id died before we joined
		 * (joining a held slot waits H; a free slot was released). */
		v = generation == ls->generation ? SM_OWNER_SELF
		    : generation < ls->generation ? SM_OWNER_DEAD
						   : SM_OWNER_UNKNOWN;
	} else if (generation < ls->fenced_below[idx]) {
		v = SM_OWNER_DEAD; /* preempted on every fence device: it cannot write */
	} else if (gone_locked(ls, idx, generation, read_done_ms, false)) {
		v = SM_OWNER_DEAD;
		for (int i = 0; i < ls->n; i++) {
			const struct host_obs *o = &ls->m[i].obs[idx];
			sm_debug("host %u/%llu judged dead: member %d record gen %llu flags %u seq %llu unchanged %llu ms "
				 "(first_seen %llu last_ok %llu)",
				 host_id, (unsigned long long)generation, i, (unsigned long long)o->rec.generation,
				 o->rec.flags, (unsigned long long)o->rec.sequence, (unsigned long long)unchanged_ms(o),
				 (unsigned long long)o->first_seen, (unsigned long long)o->last_ok);
		}
	} else {
		/* Alive while some member shows that incarnation renewing. */
		for (int i = 0; i < ls->n; i++) {
			const struct host_obs *o = &ls->m[i].obs[idx];
			if (!o->seen || o->status != 0 || o->rec.generation != generation)
				continue;
			enum sm_liveness l = member_liveness(ls, o, now);
			if (l == SM_LIVE_LIVE || l == SM_LIVE_FAILING)
				v = SM_OWNER_ALIVE;
		}
	}
	pthread_mutex_unlock(&ls->mu);
	return v;
}

/* ---- fencing by reservation ------------------------------------------------ */

static void note_fenced(struct sm_lockspace *ls, const char *doing);

bool sm_lockspace_fence_pr(const struct sm_lockspace *ls) { return ls->hdr.fence_mode == SM_FENCE_PR; }

/* Has host idx's record (generation >= g, held) stayed unchanged for more
 * than T, from its first sighting to a read issued that much later?  A live
 * host's record changes at least every R + 2d (timeouts.h).  *rec_gen gets
 * the record's generation. */
static bool suspect_locked(const struct sm_lockspace *ls, uint32_t idx, uint64_t g, uint64_t *rec_gen)
{
	const struct host_obs *o = &ls->m[0].obs[idx];
	if (ls->n != 1 || !o->seen || o->status != 0 || o->rec.flags != SM_HOST_HELD || o->rec.generation < g)
		return false;
	*rec_gen = o->rec.generation;
	return o->last_ok > o->first_seen && o->last_ok - o->first_seen > ls->to.fence_detect_ms;
}

int sm_lockspace_fence_host(struct sm_lockspace *ls, uint32_t host_id, uint64_t generation)
{
	if (!ls->fence || host_id < 1 || host_id > ls->hdr.max_hosts)
		return -SM_EBAD_ARGUMENT;
	uint32_t idx = host_id - 1;
	uint64_t rec_gen = 0;
	pthread_mutex_lock(&ls->mu);
	note_interest_locked(ls, host_id);
	bool joined = ls->joined && !ls->fenced && !ls->lost;
	uint32_t me = ls->host_id;
	uint64_t my_gen = ls->generation;
	bool done = generation < ls->fenced_below[idx];
	bool suspect = !done && joined && host_id != me && suspect_locked(ls, idx, generation, &rec_gen);
	uint64_t unchanged = ls->m[0].obs[idx].last_ok - ls->m[0].obs[idx].first_seen;
	pthread_mutex_unlock(&ls->mu);
	if (done)
		return 0;
	if (!joined)
		return ls->fenced ? -SM_ERESERVATION_CONFLICT : -SM_ENOT_JOINED;
	if (!suspect)
		return -SM_EHELD;
	sm_warn("lockspace %s: host %u (generation %llu) has not renewed for %llu ms (more than T = %u ms): "
		"preempting its key on every fence device",
		ls->hdr.lockspace, host_id, (unsigned long long)rec_gen, (unsigned long long)unchanged,
		ls->to.fence_detect_ms);
	bool no_abort = false;
	uint64_t t0 = sm_now_mono_ms();
	int rc = sm_fence_preempt(ls->fence, me, my_gen, host_id, rec_gen, &no_abort);
	if (rc == -SM_ERESERVATION_CONFLICT) {
		note_fenced(ls, "our preemption of another host");
		return rc;
	}
	if (rc < 0) {
		sm_error("lockspace %s: fencing host %u failed: %s; its leases wait for H as without fencing",
			 ls->hdr.lockspace, host_id, sm_strerror(rc));
		return rc;
	}
	if (no_abort) {
		sm_warn("lockspace %s: waiting X = %u ms for commands host %u may still have in flight (a fence device "
			"lacks PREEMPT AND ABORT)",
			ls->hdr.lockspace, ls->to.fence_inflight_ms, host_id);
		sm_sleep_ms(ls->to.fence_inflight_ms);
	}
	pthread_mutex_lock(&ls->mu);
	ls->fenced_below[idx] = SM_MAX(ls->fenced_below[idx], rec_gen + 1);
	ls->preemptions++;
	pthread_mutex_unlock(&ls->mu);
	sm_warn("lockspace %s: host %u fenced (generations up to %llu can no longer write) in %llu ms", ls->hdr.lockspace,
		host_id, (unsigned long long)rec_gen, (unsigned long long)(sm_now_mono_ms() - t0));
	return 0;
}

/* ---- writing our record --------------------------------------------------- */

static void record_history_locked(struct sm_lockspace *ls, uint64_t start, uint64_t end, int rc)
{
	struct sm_renewal_record *r = &ls->hist[ls->hist_next];
	r->start_mono_ms = start;
	r->duration_ms = (uint32_t)(end - start);
	r->result = rc;
	ls->hist_next = (ls->hist_next + 1) % SM_RENEWAL_HISTORY;
	if (ls->hist_count < SM_RENEWAL_HISTORY)
		ls->hist_count++;
	if (rc == 0)
		ls->renewals++;
	else
		ls->failures++;
}

/* rec, encoded in ls->sector, is on disk: it is what we last wrote. */
static void set_mine_locked(struct sm_lockspace *ls, const struct sm_host_record *rec)
{
	ls->mine = *rec;
	memcpy(ls->mine_bytes, ls->sector, SM_HOST_SIZE);
	ls->npending = 0;
}

/* rec, encoded in ls->sector, failed but may land: a read showing it is ours. */
static void add_pending_locked(struct sm_lockspace *ls, const struct sm_host_record *rec)
{
	if (ls->npending == MAX_PENDING_WRITES) {
		memmove(&ls->pending[0], &ls->pending[1], sizeof(ls->pending[0]) * (MAX_PENDING_WRITES - 1));
		memmove(ls->pending_bytes[0], ls->pending_bytes[1], SM_HOST_SIZE * (MAX_PENDING_WRITES - 1));
		ls->npending--;
	}
	ls->pending[ls->npending] = *rec;
	memcpy(ls->pending_bytes[ls->npending], ls->sector, SM_HOST_SIZE);
	ls->npending++;
}

/* Write rec into our slot on every member; ok[i] (may be NULL) tells which
 * completed.  Succeeds when a majority did (then rec is "mine").  If the
 * write failed overall after it was submitted somewhere, its bytes become a
 * candidate: it may land later, and a read showing it is still ours.  A
 * write refused before submission (-SM_EIO_PENDING) cannot land. */
static int write_record(struct sm_lockspace *ls, const struct sm_host_record *rec, bool ok[SM_SET_SIZE])
{
	const struct sm_volume_header *h = &ls->hdr;
	memset(ls->sector, 0, h->sector_size);
	sm_host_encode(rec, ls->sector);
	int nok = 0, first_err = 0;
	bool may_land = false;
	for (int i = 0; i < ls->n; i++) {
		struct member *m = &ls->m[i];
		int rc = member_ensure_open(ls, i);
		if (rc == 0)
			rc = sm_disk_write(m->vol->disk, sm_volume_host_offset(h, rec->host_id), ls->sector, h->sector_size,
					   h->io_timeout_ms);
		if (ok)
			ok[i] = rc == 0;
		if (rc == 0) {
			nok++;
			member_ok(ls, m);
			continue;
		}
		member_failed(ls, m, rc);
		if (!first_err)
			first_err = rc;
		if (rc != -SM_EIO_PENDING && rc != -SM_ERESERVATION_CONFLICT && m->vol)
			may_land = true;
	}
	bool done = nok >= majority(ls);
	pthread_mutex_lock(&ls->mu);
	if (done)
		set_mine_locked(ls, rec);
	else if (may_land || nok > 0)
		add_pending_locked(ls, rec);
	pthread_mutex_unlock(&ls->mu);
	if (done)
		return 0;
	if (ls->n == 1)
		return first_err;
	sm_warn("lockspace %s: host record written on %d of %d members only: %s", h->lockspace, nok, ls->n,
		sm_strerror(first_err));
	return -SM_ENO_MAJORITY;
}

/* After a read: does member i show exactly what we wrote (or a write of
 * ours that landed late)?  A late write seen becomes "mine". */
static bool member_is_ours_locked(struct sm_lockspace *ls, int i)
{
	const struct member *m = &ls->m[i];
	if (!m->read_ok)
		return false;
	const uint8_t *b = m->area_buf + (size_t)(ls->host_id - 1) * ls->hdr.sector_size;
	if (memcmp(b, ls->mine_bytes, SM_HOST_SIZE) == 0)
		return true;
	for (int k = ls->npending - 1; k >= 0; k--) {
		if (memcmp(b, ls->pending_bytes[k], SM_HOST_SIZE) == 0) {
			if (ls->pending[k].sequence >= ls->mine.sequence) {
				ls->mine = ls->pending[k];
				memcpy(ls->mine_bytes, ls->pending_bytes[k], SM_HOST_SIZE);
			}
			return true;
		}
	}
	return false;
}

/* Members (read in the latest pass) showing our record. */
static int count_ours_locked(struct sm_lockspace *ls)
{
	int n = 0;
	for (int i = 0; i < ls->n; i++)
		n += member_is_ours_locked(ls, i);
	return n;
}

/* Has someone else taken our slot?  Lone volume: it no longer shows our
 * record.  Volume set: some member shows a newer generation, or our
 * generation freed by someone else; a member showing another claim of our
 * generation (a host that lost the join race to us) or a stale or corrupt
 * record is just behind, and our next write repairs it. */
static bool slot_lost_locked(struct sm_lockspace *ls)
{
	if (ls->n == 1)
		return count_ours_locked(ls) == 0;
	for (int i = 0; i < ls->n; i++) {
		const struct host_obs *o = &ls->m[i].obs[ls->host_id - 1];
		if (!ls->m[i].read_ok || o->status != 0 || member_is_ours_locked(ls, i))
			continue;
		if (o->rec.generation > ls->generation ||
		    (o->rec.generation == ls->generation && o->rec.flags == SM_HOST_FREE))
			return true;
	}
	return false;
}

/* ---- COMPARE AND WRITE of our record (lease_io caw) ------------------------ */

/* Does our record change by COMPARE AND WRITE?  Only a lone volume can be
 * formatted so (volume sets are refused at format). */
static bool uses_caw(const struct sm_lockspace *ls) { return ls->n == 1 && ls->hdr.lease_io == SM_LEASE_IO_CAW; }

/* COMPARE AND WRITE of slot host_id: ls->expect -> ls->sector (whole
 * sectors).  sm_caw()'s results; the handle is opened on first use. */
static int caw_slot(struct sm_lockspace *ls, uint32_t host_id)
{
	struct member *m = &ls->m[0];
	struct sm_caw_dev *dev;
	int rc = sm_volume_caw(m->vol, &dev);
	if (rc == 0)
		rc = sm_caw(dev, m->vol->offset + sm_volume_host_offset(&ls->hdr, host_id), ls->expect, ls->sector,
			    ls->hdr.sector_size);
	if (rc == 0 || rc == -SM_EMISCOMPARE)
		member_ok(ls, m);
	else
		member_failed(ls, m, rc);
	return rc;
}

/* After an in-doubt COMPARE AND WRITE of slot host_id: 0 when the slot now
 * holds ls->sector (it executed), 1 when it still holds ls->expect (it did
 * not: SG_IO returns only once the command is done or aborted), 2 when it
 * holds anything else; or the read's error. */
static int caw_outcome(struct sm_lockspace *ls, uint32_t host_id)
{
	const struct sm_volume_header *h = &ls->hdr;
	uint8_t *buf = malloc(h->sector_size);
	if (!buf)
		return -ENOMEM;
	int rc = sm_disk_read(ls->m[0].vol->disk, sm_volume_host_offset(h, host_id), buf, h->sector_size,
			      h->io_timeout_ms);
	if (rc == 0)
		rc = memcmp(buf, ls->sector, h->sector_size) == 0 ? 0 : memcmp(buf, ls->expect, h->sector_size) == 0 ? 1 : 2;
	free(buf);
	return rc;
}

static int caw_lost(struct sm_lockspace *ls, const char *doing)
{
	pthread_mutex_lock(&ls->mu);
	ls->lost = true;
	pthread_mutex_unlock(&ls->mu);
	sm_error("lockspace %s: host_id %u record was changed by another host (COMPARE AND WRITE %s miscompared): "
		 "lockspace lost",
		 ls->hdr.lockspace, ls->host_id, doing);
	return -SM_ELOCKSPACE_LOST;
}

/* Replace our record (renewal, leave): CAW(our last record -> rec).  0: rec
 * is ours now.  MISCOMPARE: someone else wrote our slot: -SM_ELOCKSPACE_LOST
 * (ls->lost set).  In doubt (a timeout): read the slot; rec there: done; our
 * last record there: not executed, send it once more (a miscompare of that
 * one reads again: the first may have executed late); anything else: lost.
 * When that read fails, rec becomes a pending write (the next renewal's read
 * adopts it if it landed) and the CAW's error is returned.  Expects our slot
 * to hold mine_bytes and zeros after them: every record is written so. */
static int caw_update_record(struct sm_lockspace *ls, const struct sm_host_record *rec, const char *doing)
{
	const struct sm_volume_header *h = &ls->hdr;
	memset(ls->sector, 0, h->sector_size);
	sm_host_encode(rec, ls->sector);
	memset(ls->expect, 0, h->sector_size);
	pthread_mutex_lock(&ls->mu);
	memcpy(ls->expect, ls->mine_bytes, SM_HOST_SIZE);
	pthread_mutex_unlock(&ls->mu);
	int rc = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		rc = caw_slot(ls, rec->host_id);
		/* a miscompare after a doubt may be our first CAW, executed late */
		bool look = sm_caw_in_doubt(rc) || (rc == -SM_EMISCOMPARE && attempt > 0);
		int seen = rc == 0 ? 0 : look ? caw_outcome(ls, rec->host_id) : rc == -SM_EMISCOMPARE ? 2 : rc;
		if (seen == 0) {
			pthread_mutex_lock(&ls->mu);
			set_mine_locked(ls, rec);
			pthread_mutex_unlock(&ls->mu);
			return 0;
		}
		if (seen == 2)
			return caw_lost(ls, doing);
		if (seen < 0) {
			if (sm_caw_in_doubt(rc)) {
				pthread_mutex_lock(&ls->mu);
				add_pending_locked(ls, rec);
				pthread_mutex_unlock(&ls->mu);
			}
			return rc;
		}
		sm_warn("lockspace %s: COMPARE AND WRITE %s did not execute (%s); sending it again", h->lockspace, doing,
			sm_strerror(rc));
	}
	return rc == -SM_EMISCOMPARE ? caw_lost(ls, doing) : rc;
}

/* Claim slot (join): CAW(the image of the slot in the latest read -> claim).
 * 0: the host_id is ours (nobody else's write came between: no 2d wait).
 * -SM_EMISCOMPARE: another host changed the slot since that read (it took
 * it).  In doubt: read the slot; the claim there: ours; the old image: not
 * executed, -SM_EAGAIN_CLAIM (start over from a new read); anything else:
 * -SM_EMISCOMPARE.  Other errors as sm_caw() or the read. */
static int caw_claim(struct sm_lockspace *ls, const struct sm_host_record *claim)
{
	const struct sm_volume_header *h = &ls->hdr;
	memcpy(ls->expect, ls->m[0].area_buf + (size_t)(claim->host_id - 1) * h->sector_size, h->sector_size);
	memset(ls->sector, 0, h->sector_size);
	sm_host_encode(claim, ls->sector);
	int rc = caw_slot(ls, claim->host_id);
	if (rc == -SM_ECAW_UNSUPPORTED)
		sm_error("lockspace %s: cannot join: %s cannot do COMPARE AND WRITE, which this volume's leases use "
			 "(init --lease-io caw): this host's path to the LUN must pass SCSI commands (sd or "
			 "dm-multipath over sd) to a target that implements it",
			 h->lockspace, ls->m[0].vol->path);
	if (rc == 0 || !sm_caw_in_doubt(rc))
		return rc;
	int seen = caw_outcome(ls, claim->host_id);
	sm_warn("lockspace %s: COMPARE AND WRITE of our claim of host_id %u: %s; %s", h->lockspace, claim->host_id,
		sm_strerror(rc),
		seen == 0 ? "it executed" : seen == 1 ? "it did not execute, starting over" : seen == 2
		? "another host took the host_id" : "the slot cannot be read");
	return seen == 0 ? 0 : seen == 1 ? -SM_EAGAIN_CLAIM : seen == 2 ? -SM_EMISCOMPARE : rc;
}

/* A write of ours met a reservation conflict: another host preempted our
 * key.  Nothing of this membership may be written again; the daemon kills
 * the holders and only then joins anew (registering a new key). */
static void note_fenced(struct sm_lockspace *ls, const char *doing)
{
	pthread_mutex_lock(&ls->mu);
	bool first = !ls->fenced;
	ls->fenced = true;
	pthread_mutex_unlock(&ls->mu);
	if (first)
		sm_error("lockspace %s: FENCED: the storage refused %s with a reservation conflict; another host "
			 "preempted this host's key (host_id %u generation %llu)",
			 ls->hdr.lockspace, doing, ls->host_id, (unsigned long long)ls->generation);
}

/* Open the fence devices of a lockspace fenced by reservation (a no-op for
 * one fenced by timing, or when open already). */
static int ensure_fence(struct sm_lockspace *ls)
{
	if (ls->hdr.fence_mode != SM_FENCE_PR || ls->fence)
		return 0;
	struct sm_volume *v = ls->n == 1 ? ls->m[0].vol : NULL;
	if (!v)
		return -SM_EFENCE_DEVICE;
	struct sm_fence_table t;
	int rc = sm_volume_read_fence_table(v, &t);
	if (rc == 0)
		rc = sm_fence_open(ls->hdr.lockspace, &t, v->path, ls->hdr.io_timeout_ms, &ls->fence);
	if (rc < 0)
		sm_error("lockspace %s is fenced by persistent reservation, and this host cannot use its fence "
			 "devices: %s",
			 ls->hdr.lockspace, sm_strerror(rc));
	return rc;
}

int sm_lockspace_renew(struct sm_lockspace *ls)
{
	uint64_t t0m = sm_now_mono_ms(), t0b = sm_now_boot_ms();
	if (!ls->joined)
		return -SM_ENOT_JOINED;
	if (ls->lost)
		return -SM_ELOCKSPACE_LOST;
	if (ls->fenced)
		return -SM_ERESERVATION_CONFLICT;
	if (!ls->expired && sm_lockspace_remaining_ms(ls) <= 0) {
		/* F has passed: our holders are being fenced and others may take
		 * our leases after H.  A renewal now must not revive anything. */
		pthread_mutex_lock(&ls->mu);
		ls->expired = true;
		pthread_mutex_unlock(&ls->mu);
		sm_error("lockspace %s: no successful renewal for F: its leases have expired", ls->hdr.lockspace);
	}
	if (ls->expired)
		return -SM_ELOCKSPACE_LOST;
	pthread_mutex_lock(&ls->mu);
	uint32_t nslots = renewal_slots_locked(ls);
	pthread_mutex_unlock(&ls->mu);
	int rc = read_host_slots(ls, nslots, false);
	if (rc == -SM_EIO_TIMEOUT)
		whole_read_missed(ls, nslots);
	if (rc == 0) {
		pthread_mutex_lock(&ls->mu);
		bool lost = slot_lost_locked(ls);
		if (lost)
			ls->lost = true;
		struct sm_host_record next = ls->mine;
		for (int k = 0; k < ls->npending; k++) /* the sequence never goes back, even on a member */
			next.sequence = SM_MAX(next.sequence, ls->pending[k].sequence);
		pthread_mutex_unlock(&ls->mu);
		if (lost) {
			sm_error("lockspace %s: host_id %u record was overwritten by another host: lockspace lost",
				 ls->hdr.lockspace, ls->host_id);
			rc = -SM_ELOCKSPACE_LOST;
		} else {
			next.sequence++;
			next.timestamp = t0m;
			rc = uses_caw(ls) ? caw_update_record(ls, &next, "renewing our record") : write_record(ls, &next, NULL);
			if (rc == -SM_ERESERVATION_CONFLICT)
				note_fenced(ls, "renewing our record");
		}
	}
	pthread_mutex_lock(&ls->mu);
	if (rc == 0) {
		ls->last_renew_mono = t0m;
		ls->last_renew_boot = t0b;
	}
	record_history_locked(ls, t0m, sm_now_mono_ms(), rc);
	pthread_mutex_unlock(&ls->mu);
	return rc;
}

/* Sleep up to ms in small steps; -SM_EINTERRUPTED if cancelled. */
static int wait_ms(uint64_t ms, volatile sig_atomic_t *cancel)
{
	uint64_t end = sm_now_mono_ms() + ms;
	for (;;) {
		/* an atomic load: the daemon's loop thread sets it (a signal
		 * handler, in the CLI) */
		if (cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED))
			return -SM_EINTERRUPTED;
		uint64_t now = sm_now_mono_ms();
		if (now >= end)
			return 0;
		sm_sleep_ms(SM_MIN(end - now, (uint64_t)100));
	}
}

static bool slot_in(uint32_t slot, const uint32_t *set, int n)
{
	for (int i = 0; i < n; i++)
		if (set[i] == slot)
			return true;
	return false;
}

/* The slot carrying name (the highest generation), never one in avoid[]; 0 if none. */
static uint32_t named_slot_locked(struct sm_lockspace *ls, const char *name, const uint32_t *avoid, int navoid)
{
	uint32_t best = 0;
	uint64_t best_gen = 0;
	for (uint32_t i = 0; i < ls->hdr.max_hosts && name[0]; i++) {
		const struct host_obs *o = best_obs_locked(ls, i, NULL);
		if (o && strncmp(o->rec.host_name, name, SM_NAME_FIELD) == 0 && !slot_in(i + 1, avoid, navoid) &&
		    (!best || o->rec.generation > best_gen)) {
			best = i + 1;
			best_gen = o->rec.generation;
		}
	}
	return best;
}

/* A free slot not in avoid[] (0 if none): the first one, while this join has
 * lost at most one race.  After two, many hosts are joining by name at once
 * and would all claim the same first free slot again, one of them winning
 * each round: pick at random among the first SCAN_SLACK << 2 (navoid - 2)
 * free ones instead (8, 32, 128, ...), so that about as many win a round as
 * there are slots in the window (while the joiners outnumber them), and
 * slots stay low (renewals read up to the highest claimed + SCAN_SLACK). */
static uint32_t free_slot_locked(struct sm_lockspace *ls, const uint32_t *avoid, int navoid)
{
	uint64_t now = sm_now_mono_ms();
	uint32_t window = navoid < 2 ? 1 : SCAN_SLACK << SM_MIN(2 * (navoid - 2), 12), seen = 0, pick = 0;
	uint8_t r[16];
	uint32_t rnd = sm_uuid_generate(r) == 0 ? (uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | r[2] << 8 | r[3] : 0;
	for (uint32_t i = 0; i < ls->hdr.max_hosts && seen < window; i++) {
		if (!best_obs_locked(ls, i, NULL) || liveness_locked(ls, i, now) != SM_LIVE_FREE ||
		    slot_in(i + 1, avoid, navoid))
			continue;
		seen++;
		/* reservoir sampling: each of the first `window` free slots alike */
		if ((rnd >> 8) % seen == 0)
			pick = i + 1;
		rnd = rnd * 1103515245u + 12345u;
	}
	return pick;
}

/* The slot to join: the requested one; else the one carrying our name, else
 * the one carrying our alias (the name an older version gave us), else the
 * first free one, never one in avoid[] (lost to another host during this
 * join). */
static int pick_slot_locked(struct sm_lockspace *ls, const char *name, const char *alias, uint32_t requested,
			    const uint32_t *avoid, int navoid, uint32_t *slot)
{
	uint32_t n = ls->hdr.max_hosts;
	if (requested) {
		if (requested > n) {
			sm_error("host_id %u is out of range: lockspace %s has host_ids 1..%u", requested, ls->hdr.lockspace,
				 n);
			return -SM_EBAD_ARGUMENT;
		}
		*slot = requested;
		return 0;
	}
	uint32_t best = named_slot_locked(ls, name, avoid, navoid);
	if (!best && (best = named_slot_locked(ls, alias, avoid, navoid)))
		sm_info("lockspace %s: host_id %u carries %s, this host's former name: joining it as %s",
			ls->hdr.lockspace, best, alias, name);
	if (!best)
		best = free_slot_locked(ls, avoid, navoid);
	if (!best) {
		sm_error("lockspace %s has no free host_id and none carries host name %s%s", ls->hdr.lockspace, name,
			 navoid ? " (other hosts joining at the same moment took the last ones)" : "");
		return -SM_ENO_FREE_HOSTID;
	}
	*slot = best;
	return 0;
}

/* Undo a claim that we abandoned: only if the slot still shows it.  Lone
 * volumes only: in a volume set a claim of ours left on some members must
 * not read as "this generation left" (the winner of a race may have it);
 * the slot's next holder overwrites it. */
static void withdraw_claim(struct sm_lockspace *ls, const struct sm_host_record *claim)
{
	if (ls->n != 1 || read_one_slot(ls, claim->host_id, 1) < 0)
		return;
	pthread_mutex_lock(&ls->mu);
	bool ours = member_is_ours_locked(ls, 0);
	pthread_mutex_unlock(&ls->mu);
	if (!ours)
		return;
	struct sm_host_record fr = *claim;
	fr.flags = SM_HOST_FREE;
	fr.sequence++;
	write_record(ls, &fr, NULL);
}

/* May this host's registration on a fence device, made for host_id, be
 * replaced by the key of the slot we join?  Yes for init's key (0), our
 * slot's older generations, and host_ids that are free or dead; never for one
 * that may still hold leases (fence.h). */
struct replace_ctx {
	struct sm_lockspace *ls;
	uint32_t slot;
	const char *name;	   /* ours */
	const uint8_t *machine_id; /* ours; all zero when unknown */
};

/* Whether the record of host_id idx + 1 names another host than ours: another
 * host name, and not our machine id (unknown ids do not match). */
static bool slot_of_another_host_locked(const struct sm_lockspace *ls, uint32_t idx, const char *name,
					const uint8_t machine_id[16])
{
	static const uint8_t zero[16];
	const struct host_obs *o = best_obs_locked(ls, idx, NULL);
	if (!o)
		return false;
	bool same_machine = memcmp(machine_id, zero, 16) != 0 && memcmp(o->rec.machine_id, machine_id, 16) == 0;
	return !same_machine && strncmp(o->rec.host_name, name, SM_NAME_FIELD) != 0;
}

/* Our I_T nexus carries a key of host_id; may our join replace it?  Yes if
 * that host_id is free or dead, or if its record is another host's: then the
 * key on our nexus protects nobody's writes (the owner's key is on its own
 * nexus) -- a claim of it we lost to that host, or an old incarnation of
 * ours whose slot that host took.  Not if it is live as this host (an admin
 * command joined beside the daemon): replacing would leave it without a key. */
static bool key_replaceable(void *arg, uint32_t host_id)
{
	struct replace_ctx *c = arg;
	if (host_id == 0 || host_id == c->slot)
		return true;
	if (host_id > c->ls->hdr.max_hosts)
		return false;
	pthread_mutex_lock(&c->ls->mu);
	enum sm_liveness l = liveness_locked(c->ls, host_id - 1, sm_now_mono_ms());
	bool other = slot_of_another_host_locked(c->ls, host_id - 1, c->name, c->machine_id);
	pthread_mutex_unlock(&c->ls->mu);
	return l == SM_LIVE_FREE || l == SM_LIVE_DEAD || other;
}

/* Our claim is on disk and ours: we are joined, the claim counts as our
 * first renewal (started at t0m / t0b, done at claimed). */
static void become_joined_locked(struct sm_lockspace *ls, const struct sm_host_record *claim, uint64_t t0m,
				 uint64_t t0b, uint64_t claimed)
{
	ls->joined = true;
	ls->lost = false;
	ls->generation = claim->generation;
	memcpy(ls->instance, claim->instance, 16);
	memcpy(ls->host_name, claim->host_name, SM_NAME_FIELD);
	ls->last_renew_mono = t0m;
	ls->last_renew_boot = t0b;
	/* renewals read our slot + SCAN_SLACK at least (the join's whole read
	 * set the limit before our claim) */
	if (ls->scan_limit)
		ls->scan_limit = SM_MAX(ls->scan_limit, SM_MIN(ls->hdr.max_hosts, claim->host_id + SCAN_SLACK));
	memset(ls->sector, 0, ls->hdr.sector_size);
	sm_host_encode(claim, ls->sector);
	set_mine_locked(ls, claim);
	record_history_locked(ls, t0m, claimed, 0);
}

static int joined(struct sm_lockspace *ls)
{
	sm_info("joined lockspace %s as host_id %u generation %llu", ls->hdr.lockspace, ls->host_id,
		(unsigned long long)ls->generation);
	return 0;
}

/* Another host claimed slot at the same time as we did (and won). */
static int lost_race(struct sm_lockspace *ls, const struct sm_join_opts *opts, uint32_t slot)
{
	if (!opts->host_id) {
		sm_warn("lockspace %s: another host claimed host_id %u at the same time; trying the next free host_id",
			ls->hdr.lockspace, slot);
		return -SM_EAGAIN_LOST;
	}
	sm_error("lockspace %s: another host claimed host_id %u at the same time; join with another host_id, or "
		 "by name", ls->hdr.lockspace, slot);
	return -SM_EHOSTID_BUSY;
}

/* Join by COMPARE AND WRITE (lease_io caw): one CAW from the image that
 * found the slot free or dead decides, with no 2d wait: any write to the
 * slot since that read (a competitor's claim, the "dead" holder's renewal)
 * makes it miscompare, and nobody's write can come between its compare and
 * its write (tests/model/caw.pml SCEN=2). */
static int join_by_caw(struct sm_lockspace *ls, const struct sm_join_opts *opts, const struct sm_host_record *claim,
		       uint64_t t0m, uint64_t t0b)
{
	int rc = caw_claim(ls, claim);
	if (rc == -SM_EMISCOMPARE)
		return lost_race(ls, opts, claim->host_id);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ls->mu);
	become_joined_locked(ls, claim, t0m, t0b, sm_now_mono_ms());
	pthread_mutex_unlock(&ls->mu);
	return joined(ls);
}

/* One join attempt, never on a slot in avoid[]; *slot is the host_id it
 * tried.  -SM_EAGAIN_CLAIM when it must start over; -SM_EAGAIN_LOST when
 * another host won the host_id we picked by name (pick another). */
static int join_attempt(struct sm_lockspace *ls, const struct sm_join_opts *opts, const char *name,
			const char *alias, const uint8_t machine_id[16], const uint32_t *avoid, int navoid,
			uint32_t *slot_out)
{
	const struct sm_volume_header *h = &ls->hdr;
	uint32_t slot = 0;
	struct sm_host_record old;
	/* per member: issue time of the read that found the slot claimable (0 = not read) */
	uint64_t decided_at[SM_SET_SIZE];
	for (;;) {
		/* The whole area (in chunks) to pick the slot; then the slot
		 * alone: the read the claim is decided on (its issue starts the
		 * 2d within which the claim must land). */
		int rc = read_host_area_to_join(ls);
		if (rc < 0)
			return rc;
		pthread_mutex_lock(&ls->mu);
		rc = pick_slot_locked(ls, name, alias, opts->host_id, avoid, navoid, &slot);
		pthread_mutex_unlock(&ls->mu);
		if (rc < 0)
			return rc;
		/* By COMPARE AND WRITE the claim compares against the image the
		 * area read found (join_by_caw): a second read would only cost a
		 * round trip. */
		if (!uses_caw(ls) && (rc = read_one_slot(ls, slot, CHUNK_TRIES)) < 0)
			return rc;
		pthread_mutex_lock(&ls->mu);
		*slot_out = slot;
		int nvalid = 0;
		const struct host_obs *bo = rc == 0 ? best_obs_locked(ls, slot - 1, &nvalid) : NULL;
		int status = 0;
		for (int i = 0; i < ls->n && rc == 0 && !status; i++)
			if (ls->m[i].read_ok && ls->m[i].obs[slot - 1].status)
				status = ls->m[i].obs[slot - 1].status;
		struct host_obs o = bo ? *bo : (struct host_obs){0};
		enum sm_liveness l = rc == 0 ? liveness_locked(ls, slot - 1, sm_now_mono_ms()) : SM_LIVE_UNKNOWN;
		uint64_t quiet = rc == 0 ? quiet_window_locked(ls, slot - 1) : 0;
		for (int i = 0; i < ls->n; i++)
			decided_at[i] = ls->m[i].read_ok ? ls->m[i].read_issue : 0;
		pthread_mutex_unlock(&ls->mu);
		if (rc < 0)
			return rc;
		/* The newest generation of the slot is known only from a majority
		 * of valid records (a join writes a majority: one of them is read). */
		if (nvalid < majority(ls)) {
			if (!status)
				status = -SM_EBAD_CHECKSUM;
			sm_error("lockspace %s: the record of host_id %u is unreadable (%s)%s; join with another --host-id",
				 h->lockspace, slot, sm_strerror(status), ls->n > 1 ? " on a majority of members" : "");
			return status;
		}
		old = o.rec;
		if (l == SM_LIVE_FREE || l == SM_LIVE_DEAD)
			break;
		/* Held by someone (maybe an earlier us): wait until it has been
		 * unchanged for more than H, watching for renewals. */
		uint64_t remaining = h->io_timeout_ms + ls->to.host_dead_ms - SM_MIN(quiet, ls->to.host_dead_ms);
		if (opts->progress) {
			char what[200];
			snprintf(what, sizeof(what),
				 "host_id %u was last held by '%s' (generation %llu); waiting until it has not been "
				 "renewed for H",
				 slot, old.host_name, (unsigned long long)old.generation);
			opts->progress(opts->progress_arg, what, remaining);
		}
		rc = wait_ms(SM_MIN((uint64_t)ls->to.renew_ms, remaining), opts->cancel);
		if (rc < 0)
			return rc;
	}

	/* Claim. */
	struct sm_host_record claim = {
		.flags = SM_HOST_HELD,
		.sector_size = h->sector_size,
		.host_id = slot,
		.generation = old.generation + 1,
		.io_timeout_ms = h->io_timeout_ms,
	};
	memcpy(claim.lockspace, h->lockspace, SM_NAME_FIELD);
	memcpy(claim.host_name, name, SM_NAME_FIELD);
	memcpy(claim.machine_id, machine_id, 16);
	int rc = sm_uuid_generate(claim.instance);
	if (rc < 0)
		return rc;
	uint64_t t0m = sm_now_mono_ms(), t0b = sm_now_boot_ms();
	claim.timestamp = t0m;
	/* Fenced by reservation: our key for this generation goes on every
	 * fence device before the first write with it. */
	struct replace_ctx rctx = {ls, slot, name, machine_id};
	if (ls->fence && (rc = sm_fence_register(ls->fence, slot, claim.generation, key_replaceable, &rctx)) < 0)
		return rc;
	pthread_mutex_lock(&ls->mu);
	ls->host_id = slot; /* member_is_ours_locked() looks here */
	pthread_mutex_unlock(&ls->mu);
	if (uses_caw(ls))
		return join_by_caw(ls, opts, &claim, t0m, t0b);
	bool wrote[SM_SET_SIZE] = {0};
	rc = write_record(ls, &claim, wrote);
	uint64_t claimed = sm_now_mono_ms(); /* the claim counts as our first renewal */
	/* A claim counts on a member only if it completed within 2d of the
	 * issue of the read of that member that found the slot claimable: a
	 * competitor that joined meanwhile sees it within its own 2d wait. */
	int in_time = 0;
	for (int i = 0; i < ls->n; i++)
		in_time += wrote[i] && decided_at[i] && claimed - decided_at[i] <= 2ull * h->io_timeout_ms;
	if (rc < 0 && ls->n == 1)
		return rc;
	if (in_time < majority(ls)) {
		if (rc < 0 && ls->n > 1)
			return rc;
		/* We stalled between reading the slot and our claim landing. */
		sm_warn("lockspace %s: claiming host_id %u took longer than 2d after reading it; retrying",
			h->lockspace, slot);
		withdraw_claim(ls, &claim);
		return -SM_EAGAIN_CLAIM;
	}
	if (opts->progress) {
		char what[160];
		snprintf(what, sizeof(what), "claimed host_id %u (generation %llu); waiting 2d to see that no other host "
					     "claimed it at the same time",
			 slot, (unsigned long long)claim.generation);
		opts->progress(opts->progress_arg, what, ls->to.join_wait_ms);
	}
	rc = wait_ms(ls->to.join_wait_ms, opts->cancel);
	/* Our slot alone tells whether the claim held.  Two tries at most:
	 * the claim counts as our first renewal, and the join must return
	 * well within F of it. */
	if (rc == 0)
		rc = read_one_slot(ls, slot, 2);
	if (rc < 0) {
		withdraw_claim(ls, &claim);
		return rc;
	}
	pthread_mutex_lock(&ls->mu);
	/* Ours where our claim counted and is still there. */
	int held = 0;
	for (int i = 0; i < ls->n; i++)
		held += wrote[i] && decided_at[i] && claimed - decided_at[i] <= 2ull * h->io_timeout_ms &&
			member_is_ours_locked(ls, i);
	bool ours = held >= majority(ls);
	if (ours)
		become_joined_locked(ls, &claim, t0m, t0b, claimed);
	pthread_mutex_unlock(&ls->mu);
	/* Our claim landed before the winner's: nothing of ours lingers (on a
	 * volume set: at most on a minority, which the winner's renewals
	 * overwrite). */
	return ours ? joined(ls) : lost_race(ls, opts, slot);
}

int sm_lockspace_join(struct sm_lockspace *ls, const struct sm_join_opts *opts)
{
	char name[SM_NAME_FIELD];
	if (ls->joined)
		return -SM_EBUSY;
	if (opts->host_name) {
		if (!sm_name_valid(opts->host_name)) {
			sm_error("invalid host name '%s'", opts->host_name);
			return -SM_EBAD_NAME;
		}
		snprintf(name, sizeof(name), "%s", opts->host_name);
	} else {
		sm_default_host_name(name);
	}
	uint8_t mid[16];
	if (opts->machine_id)
		memcpy(mid, opts->machine_id, 16);
	else
		sm_machine_id(mid);
	char alias[SM_NAME_FIELD];
	if (opts->alias)
		snprintf(alias, sizeof(alias), "%s", opts->alias);
	else
		sm_machine_id_hex(mid, alias);

	int frc = ensure_fence(ls);
	if (frc < 0)
		return frc;
	uint32_t lost[JOIN_ATTEMPTS];
	int nlost = 0;
	for (int attempt = 1;; attempt++) {
		uint32_t slot = 0;
		int rc = join_attempt(ls, opts, name, alias, mid, lost, nlost, &slot);
		if (rc == -SM_EAGAIN_LOST)
			lost[nlost++] = slot;
		if (rc != -SM_EAGAIN_CLAIM && rc != -SM_EAGAIN_LOST)
			return rc;
		if (attempt == JOIN_ATTEMPTS) {
			sm_error("lockspace %s: no join succeeded in %d attempts (%d host_id(s) lost to hosts joining at "
				 "the same moment); try again",
				 ls->hdr.lockspace, JOIN_ATTEMPTS, nlost);
			return -SM_EHOSTID_BUSY;
		}
	}
}

/* Our record on the members, after a read: the valid one with our
 * generation and instance and the highest sequence; NULL if none, or if a
 * member shows a newer generation. */
static const struct host_obs *find_own_record_locked(struct sm_lockspace *ls, uint32_t host_id, uint64_t generation,
						     const uint8_t instance[16])
{
	const struct host_obs *best = NULL;
	for (int i = 0; i < ls->n; i++) {
		const struct host_obs *o = &ls->m[i].obs[host_id - 1];
		if (!ls->m[i].read_ok || o->status != 0)
			continue;
		if (o->rec.generation > generation)
			return NULL;
		if (o->rec.flags == SM_HOST_HELD && o->rec.generation == generation &&
		    memcmp(o->rec.instance, instance, 16) == 0 && (!best || o->rec.sequence > best->rec.sequence))
			best = o;
	}
	return best;
}

int sm_lockspace_resume(struct sm_lockspace *ls, uint32_t host_id, uint64_t generation, const uint8_t instance[16],
			uint64_t last_renewal_boot_ms)
{
	const struct sm_volume_header *h = &ls->hdr;
	if (ls->joined)
		return -SM_EBUSY;
	if (host_id < 1 || host_id > h->max_hosts)
		return -SM_EBAD_ARGUMENT;
	int rc = ensure_fence(ls);
	if (rc == 0)
		rc = read_host_area(ls);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ls->mu);
	const struct host_obs *o = find_own_record_locked(ls, host_id, generation, instance);
	/* A lone volume must show exactly our record. */
	bool ok = o && (ls->n > 1 || o == &ls->m[0].obs[host_id - 1]);
	if (ok) {
		ls->host_id = host_id;
		ls->generation = generation;
		memcpy(ls->instance, instance, 16);
		memcpy(ls->host_name, o->rec.host_name, SM_NAME_FIELD);
		ls->mine = o->rec;
		memcpy(ls->mine_bytes, o->bytes, SM_HOST_SIZE);
		ls->npending = 0;
		ls->joined = true;
		ls->lost = false;
		/* Until our first renewal succeeds, the deadline is the previous
		 * daemon's (0 = unknown: treat as already expired). */
		uint64_t now_b = sm_now_boot_ms(), now_m = sm_now_mono_ms();
		uint64_t age = last_renewal_boot_ms && last_renewal_boot_ms <= now_b ? now_b - last_renewal_boot_ms
										      : UINT32_MAX;
		ls->last_renew_boot = last_renewal_boot_ms ? last_renewal_boot_ms : 1;
		ls->last_renew_mono = now_m > age ? now_m - age : 1;
	}
	pthread_mutex_unlock(&ls->mu);
	if (!ok) {
		sm_error("lockspace %s: host_id %u is no longer ours (generation or instance changed)", h->lockspace,
			 host_id);
		return -SM_ELOCKSPACE_LOST;
	}
	return sm_lockspace_renew(ls);
}

int sm_lockspace_adopt(struct sm_lockspace *ls, uint32_t host_id, uint64_t generation)
{
	const struct sm_volume_header *h = &ls->hdr;
	if (host_id < 1 || host_id > h->max_hosts) {
		sm_error("host_id %u is out of range: lockspace %s has host_ids 1..%u", host_id, h->lockspace,
			 h->max_hosts);
		return -SM_EBAD_ARGUMENT;
	}
	int rc = read_host_area(ls);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ls->mu);
	int nvalid = 0;
	const struct host_obs *o = best_obs_locked(ls, host_id - 1, &nvalid);
	rc = 0;
	if (nvalid < majority(ls))
		rc = ls->m[0].obs[host_id - 1].status ? ls->m[0].obs[host_id - 1].status : -SM_ENO_MAJORITY;
	else if (o->rec.flags != SM_HOST_HELD || (generation && o->rec.generation != generation))
		rc = -SM_ENOT_JOINED;
	if (rc == 0) {
		ls->host_id = host_id;
		ls->generation = o->rec.generation;
		memcpy(ls->instance, o->rec.instance, 16);
		memcpy(ls->host_name, o->rec.host_name, SM_NAME_FIELD);
		ls->mine = o->rec;
		memcpy(ls->mine_bytes, o->bytes, SM_HOST_SIZE);
		ls->joined = true;
		ls->lost = false;
		ls->last_renew_mono = sm_now_mono_ms();
		ls->last_renew_boot = sm_now_boot_ms();
	}
	pthread_mutex_unlock(&ls->mu);
	if (rc < 0)
		sm_error("host_id %u is not held%s in lockspace %s (join it first)", host_id,
			 generation ? " with that generation" : "", h->lockspace);
	return rc;
}

int sm_lockspace_leave(struct sm_lockspace *ls)
{
	if (!ls->joined)
		return -SM_ENOT_JOINED;
	if (ls->fenced)
		return -SM_ERESERVATION_CONFLICT;
	int rc = read_host_area(ls);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ls->mu);
	bool lost = slot_lost_locked(ls);
	if (lost)
		ls->lost = true;
	struct sm_host_record fr = ls->mine;
	for (int k = 0; k < ls->npending; k++)
		fr.sequence = SM_MAX(fr.sequence, ls->pending[k].sequence);
	pthread_mutex_unlock(&ls->mu);
	if (lost)
		return -SM_ELOCKSPACE_LOST;
	fr.flags = SM_HOST_FREE;
	fr.sequence++;
	fr.timestamp = sm_now_mono_ms();
	fr.attention_host_id = 0;
	rc = uses_caw(ls) ? caw_update_record(ls, &fr, "freeing our record") : write_record(ls, &fr, NULL);
	if (rc == 0) {
		pthread_mutex_lock(&ls->mu);
		ls->joined = false;
		pthread_mutex_unlock(&ls->mu);
		sm_info("left lockspace %s (host_id %u)", ls->hdr.lockspace, ls->host_id);
	}
	return rc;
}

int sm_lockspace_attention(struct sm_lockspace *ls, uint32_t owner_host_id)
{
	pthread_mutex_lock(&ls->mu);
	bool joined = ls->joined;
	if (joined) {
		ls->mine.attention_host_id = owner_host_id;
		ls->mine.attention_seq++;
		/* mine_bytes stay those on disk; renew() writes the new fields */
	}
	pthread_mutex_unlock(&ls->mu);
	return joined ? sm_lockspace_renew(ls) : -SM_ENOT_JOINED;
}

int sm_lockspace_take_attention(struct sm_lockspace *ls, uint32_t *host_ids, int max)
{
	pthread_mutex_lock(&ls->mu);
	int n = SM_MIN(max, ls->attention_count);
	memcpy(host_ids, ls->attention, (size_t)n * sizeof(*host_ids));
	memmove(ls->attention, ls->attention + n, (size_t)(ls->attention_count - n) * sizeof(*host_ids));
	ls->attention_count -= n;
	pthread_mutex_unlock(&ls->mu);
	return n;
}

uint64_t sm_lockspace_next_death_check(struct sm_lockspace *ls)
{
	uint64_t best = UINT64_MAX, now = sm_now_mono_ms();
	unsigned masks[3];
	int nm = majorities(ls, masks);
	pthread_mutex_lock(&ls->mu);
	for (uint32_t i = 0; i < ls->hdr.max_hosts; i++) {
		if (ls->joined && i + 1 == ls->host_id)
			continue;
		enum sm_liveness l = liveness_locked(ls, i, now);
		if (l == SM_LIVE_FREE || l == SM_LIVE_DEAD)
			continue;
		/* the earliest a common quiet window of some majority can exceed H */
		for (int k = 0; k < nm; k++) {
			uint64_t start = 0;
			bool all = true;
			for (int m = 0; m < ls->n; m++) {
				if (!(masks[k] >> m & 1))
					continue;
				const struct host_obs *o = &ls->m[m].obs[i];
				all &= o->seen;
				start = SM_MAX(start, o->first_seen);
			}
			if (all)
				best = SM_MIN(best, start + ls->to.host_dead_ms + 1);
		}
	}
	pthread_mutex_unlock(&ls->mu);
	return best;
}

int sm_lockspace_renewal_history(struct sm_lockspace *ls, struct sm_renewal_record *out, int max)
{
	pthread_mutex_lock(&ls->mu);
	int n = SM_MIN(max, (int)ls->hist_count);
	unsigned start = (ls->hist_next + SM_RENEWAL_HISTORY - (unsigned)n) % SM_RENEWAL_HISTORY;
	for (int i = 0; i < n; i++)
		out[i] = ls->hist[(start + (unsigned)i) % SM_RENEWAL_HISTORY];
	pthread_mutex_unlock(&ls->mu);
	return n;
}

int64_t sm_lockspace_remaining_ms(struct sm_lockspace *ls)
{
	pthread_mutex_lock(&ls->mu);
	int64_t rem;
	if (ls->last_renew_boot)
		rem = (int64_t)(ls->last_renew_boot + ls->to.fail_ms) - (int64_t)sm_now_boot_ms();
	else
		rem = (int64_t)(ls->last_renew_mono + ls->to.fail_ms) - (int64_t)sm_now_mono_ms();
	pthread_mutex_unlock(&ls->mu);
	return rem;
}
