/* Delta leases and host liveness.  See delta.h and docs/algorithms.md §1. */
#include "delta.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
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
#define SM_EAGAIN_CLAIM (SM_ERR_BASE + 999)
/* internal: another host won the host_id we picked by name: pick another */
#define SM_EAGAIN_LOST (SM_ERR_BASE + 998)
/* Join attempts before giving up (stalled claims, host_ids lost to hosts
 * joining at the same moment: each lost race lets at least one of them in). */
#define JOIN_ATTEMPTS 8

/* What we have seen of one host_id's record. */
struct host_obs {
	bool seen;      /* at least one successful read */
	bool changed;   /* the bytes changed while we watched */
	uint8_t bytes[SM_HOST_SIZE];
	uint64_t first_seen; /* completion of the first read that returned these bytes */
	uint64_t last_ok;    /* ISSUE time of the latest read that returned them: the disk
			      * may have been sampled that early, not later */
	int status;
	struct sm_host_record rec;
	uint64_t attention_seq; /* last attention_seq of this host we acted on */
};

struct sm_lockspace {
	pthread_mutex_t mu; /* guards everything below except vol and buffers */
	struct sm_volume *vol;
	struct sm_timeouts to;
	struct host_obs *obs; /* max_hosts entries; host_id = index + 1 */
	uint8_t *area_buf;    /* host area image */
	uint8_t *sector;      /* one sector, for writes */

	bool joined, lost;
	uint32_t host_id;
	uint64_t generation;
	uint8_t instance[16];
	char host_name[SM_NAME_FIELD];
	struct sm_host_record mine; /* what we last wrote successfully */
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
	uint64_t last_read_issue; /* of the latest host-area read (join's decision) */
	bool expired;             /* F passed without a good renewal: never renew again */
};

const char *sm_liveness_name(enum sm_liveness l)
{
	static const char *const names[] = {"unknown", "live", "failing", "dead", "free"};
	return (unsigned)l < SM_ARRAY_SIZE(names) ? names[l] : "?";
}

void sm_default_host_name(char out[SM_NAME_FIELD])
{
	const char *env = getenv("SYNC_MANAGER_HOST_NAME");
	if (env && sm_name_valid(env)) {
		snprintf(out, SM_NAME_FIELD, "%s", env);
		return;
	}
	FILE *f = fopen("/etc/machine-id", "r");
	char id[64] = "";
	if (f) {
		if (fscanf(f, "%63s", id) != 1)
			id[0] = '\0';
		fclose(f);
	}
	if (sm_name_valid(id)) {
		snprintf(out, SM_NAME_FIELD, "%s", id);
		return;
	}
	char hn[SM_NAME_FIELD] = "";
	if (gethostname(hn, sizeof(hn) - 1) < 0 || !sm_name_valid(hn))
		snprintf(hn, sizeof(hn), "unnamed-host");
	snprintf(out, SM_NAME_FIELD, "%s", hn);
}

int sm_lockspace_open(const char *path, uint64_t offset, struct sm_lockspace **out)
{
	*out = NULL;
	struct sm_lockspace *ls = calloc(1, sizeof(*ls));
	if (!ls)
		return -ENOMEM;
	pthread_mutex_init(&ls->mu, NULL);
	int rc = sm_volume_open(path, offset, 0, &ls->vol);
	if (rc < 0)
		goto fail;
	const struct sm_volume_header *h = &ls->vol->hdr;
	sm_timeouts_derive(h->io_timeout_ms, h->watchdog_timeout_ms, &ls->to);
	ls->obs = calloc(h->max_hosts, sizeof(*ls->obs));
	ls->area_buf = malloc((size_t)h->max_hosts * h->sector_size);
	ls->sector = calloc(1, h->sector_size);
	rc = -ENOMEM;
	if (!ls->obs || !ls->area_buf || !ls->sector)
		goto fail;
	*out = ls;
	return 0;
fail:
	sm_lockspace_free(ls);
	return rc;
}

int sm_lockspace_open_spec(const char *spec, struct sm_lockspace **out)
{
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
	sm_volume_close(ls->vol);
	free(ls->obs);
	free(ls->area_buf);
	free(ls->sector);
	pthread_mutex_destroy(&ls->mu);
	free(ls);
}

const struct sm_volume_header *sm_lockspace_header(const struct sm_lockspace *ls) { return &ls->vol->hdr; }
const char *sm_lockspace_path(const struct sm_lockspace *ls) { return ls->vol->path; }
struct sm_volume *sm_lockspace_volume(struct sm_lockspace *ls) { return ls->vol; }
uint64_t sm_lockspace_offset(const struct sm_lockspace *ls) { return ls->vol->offset; }

void sm_lockspace_info(struct sm_lockspace *ls, struct sm_lockspace_info *o)
{
	pthread_mutex_lock(&ls->mu);
	memset(o, 0, sizeof(*o));
	memcpy(o->name, ls->vol->hdr.lockspace, SM_NAME_FIELD);
	o->to = ls->to;
	o->max_hosts = ls->vol->hdr.max_hosts;
	o->joined = ls->joined;
	o->lost = ls->lost;
	o->expired = ls->expired;
	o->host_id = ls->host_id;
	o->generation = ls->generation;
	memcpy(o->host_name, ls->host_name, SM_NAME_FIELD);
	o->last_renewal_mono_ms = ls->last_renew_mono;
	o->last_renewal_boot_ms = ls->last_renew_boot;
	o->renewals = ls->renewals;
	o->renewal_failures = ls->failures;
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

/* Record one successful read of the host area, issued at `issued` and
 * completed at `now`. */
static void observe_locked(struct sm_lockspace *ls, const uint8_t *area, uint64_t issued, uint64_t now)
{
	const struct sm_volume_header *h = &ls->vol->hdr;
	for (uint32_t i = 0; i < h->max_hosts; i++) {
		struct host_obs *o = &ls->obs[i];
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
		/* A new request aimed at us? */
		if (ls->joined && o->status == 0 && o->rec.attention_host_id == ls->host_id &&
		    o->rec.attention_seq != o->attention_seq && i + 1 != ls->host_id) {
			o->attention_seq = o->rec.attention_seq;
			if (ls->attention_count < MAX_ATTENTION)
				ls->attention[ls->attention_count++] = i + 1;
		}
	}
}

static int read_host_area(struct sm_lockspace *ls)
{
	const struct sm_volume_header *h = &ls->vol->hdr;
	uint64_t issued = sm_now_mono_ms();
	ls->last_read_issue = issued;
	int rc = sm_disk_read(ls->vol->disk, h->host_area_offset, ls->area_buf, (size_t)h->max_hosts * h->sector_size,
			      h->io_timeout_ms);
	if (rc < 0)
		return rc;
	uint64_t now = sm_now_mono_ms();
	pthread_mutex_lock(&ls->mu);
	observe_locked(ls, ls->area_buf, issued, now);
	pthread_mutex_unlock(&ls->mu);
	return 0;
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

static enum sm_liveness liveness_locked(const struct sm_lockspace *ls, const struct host_obs *o, uint64_t now)
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

int sm_lockspace_host_status(struct sm_lockspace *ls, uint32_t host_id, struct sm_host_status *out)
{
	if (host_id < 1 || host_id > ls->vol->hdr.max_hosts)
		return -SM_EBAD_ARGUMENT;
	uint64_t now = sm_now_mono_ms();
	pthread_mutex_lock(&ls->mu);
	const struct host_obs *o = &ls->obs[host_id - 1];
	memset(out, 0, sizeof(*out));
	out->host_id = host_id;
	out->observed = o->seen;
	out->record_status = o->status;
	out->rec = o->rec;
	out->state = liveness_locked(ls, o, now);
	if (o->seen) {
		out->unchanged_ms = unchanged_ms(o);
		out->since_change_ms = now - o->first_seen;
	}
	pthread_mutex_unlock(&ls->mu);
	return 0;
}

enum sm_owner_verdict sm_lockspace_owner_verdict(struct sm_lockspace *ls, uint32_t host_id, uint64_t generation,
					       uint64_t read_done_ms)
{
	if (host_id < 1 || host_id > ls->vol->hdr.max_hosts)
		return SM_OWNER_UNKNOWN;
	uint64_t now = sm_now_mono_ms();
	enum sm_owner_verdict v;
	pthread_mutex_lock(&ls->mu);
	const struct host_obs *o = &ls->obs[host_id - 1];
	if (ls->joined && host_id == ls->host_id) {
		/* An older incarnation of our own host_id died before we joined
		 * (joining a held slot waits H; a free slot was released). */
		v = generation == ls->generation ? SM_OWNER_SELF
		    : generation < ls->generation ? SM_OWNER_DEAD
						   : SM_OWNER_UNKNOWN;
	} else if (!o->seen) {
		v = SM_OWNER_UNKNOWN;
	} else {
		enum sm_liveness l = liveness_locked(ls, o, now);
		if (o->status != 0)
			/* Unreadable record: nobody wrote the slot for H, and the
			 * owner joined before read_done_ms <= last_ok, so it was
			 * not renewing either.  Otherwise only time can tell. */
			v = l == SM_LIVE_DEAD && read_done_ms && o->last_ok >= read_done_ms ? SM_OWNER_DEAD
											  : SM_OWNER_UNKNOWN;
		else if (o->rec.generation > generation)
			v = SM_OWNER_DEAD; /* the host rejoined since: the old incarnation is gone */
		else if (o->rec.generation < generation)
			/* That incarnation joined after our latest read: what we
			 * saw (even an expired record) says nothing about it. */
			v = SM_OWNER_UNKNOWN;
		else if (l == SM_LIVE_DEAD || l == SM_LIVE_FREE)
			v = SM_OWNER_DEAD; /* not renewed for H, or it left the lockspace */
		else if (l == SM_LIVE_UNKNOWN)
			v = SM_OWNER_UNKNOWN;
		else
			v = SM_OWNER_ALIVE;
		if (v == SM_OWNER_DEAD)
			sm_debug("host %u/%llu judged dead: record gen %llu flags %u seq %llu unchanged %llu ms "
				 "(first_seen %llu last_ok %llu)",
				 host_id, (unsigned long long)generation, (unsigned long long)o->rec.generation,
				 o->rec.flags, (unsigned long long)o->rec.sequence, (unsigned long long)unchanged_ms(o),
				 (unsigned long long)o->first_seen, (unsigned long long)o->last_ok);
	}
	pthread_mutex_unlock(&ls->mu);
	return v;
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

/* Write rec into our slot.  If the write fails after it was submitted, its
 * bytes become a candidate: it may land later, and a read showing it is
 * still ours.  A write refused before submission (-SM_EIO_PENDING) cannot. */
static int write_record(struct sm_lockspace *ls, const struct sm_host_record *rec)
{
	const struct sm_volume_header *h = &ls->vol->hdr;
	memset(ls->sector, 0, h->sector_size);
	sm_host_encode(rec, ls->sector);
	int rc = sm_disk_write(ls->vol->disk, sm_volume_host_offset(h, rec->host_id), ls->sector, h->sector_size,
			       h->io_timeout_ms);
	pthread_mutex_lock(&ls->mu);
	if (rc == 0) {
		ls->mine = *rec;
		memcpy(ls->mine_bytes, ls->sector, SM_HOST_SIZE);
		ls->npending = 0;
	} else if (rc != -SM_EIO_PENDING) {
		if (ls->npending == MAX_PENDING_WRITES) {
			memmove(&ls->pending[0], &ls->pending[1], sizeof(ls->pending[0]) * (MAX_PENDING_WRITES - 1));
			memmove(ls->pending_bytes[0], ls->pending_bytes[1], SM_HOST_SIZE * (MAX_PENDING_WRITES - 1));
			ls->npending--;
		}
		ls->pending[ls->npending] = *rec;
		memcpy(ls->pending_bytes[ls->npending], ls->sector, SM_HOST_SIZE);
		ls->npending++;
	}
	pthread_mutex_unlock(&ls->mu);
	return rc;
}

/* After a read: is our slot still exactly what we wrote (or a write of ours
 * that landed late)? */
static bool slot_is_ours_locked(struct sm_lockspace *ls)
{
	const uint8_t *b = ls->area_buf + (size_t)(ls->host_id - 1) * ls->vol->hdr.sector_size;
	if (memcmp(b, ls->mine_bytes, SM_HOST_SIZE) == 0)
		return true;
	for (int i = ls->npending - 1; i >= 0; i--) {
		if (memcmp(b, ls->pending_bytes[i], SM_HOST_SIZE) == 0) {
			ls->mine = ls->pending[i];
			memcpy(ls->mine_bytes, ls->pending_bytes[i], SM_HOST_SIZE);
			ls->npending = 0;
			return true;
		}
	}
	return false;
}

int sm_lockspace_renew(struct sm_lockspace *ls)
{
	uint64_t t0m = sm_now_mono_ms(), t0b = sm_now_boot_ms();
	if (!ls->joined)
		return -SM_ENOT_JOINED;
	if (ls->lost)
		return -SM_ELOCKSPACE_LOST;
	if (!ls->expired && sm_lockspace_remaining_ms(ls) <= 0) {
		/* F has passed: our holders are being fenced and others may take
		 * our leases after H.  A renewal now must not revive anything. */
		pthread_mutex_lock(&ls->mu);
		ls->expired = true;
		pthread_mutex_unlock(&ls->mu);
		sm_error("lockspace %s: no successful renewal for F: its leases have expired", ls->vol->hdr.lockspace);
	}
	if (ls->expired)
		return -SM_ELOCKSPACE_LOST;
	int rc = read_host_area(ls);
	if (rc == 0) {
		pthread_mutex_lock(&ls->mu);
		bool ours = slot_is_ours_locked(ls);
		if (!ours)
			ls->lost = true;
		struct sm_host_record next = ls->mine;
		pthread_mutex_unlock(&ls->mu);
		if (!ours) {
			sm_error("lockspace %s: host_id %u record was overwritten by another host: lockspace lost",
				 ls->vol->hdr.lockspace, ls->host_id);
			rc = -SM_ELOCKSPACE_LOST;
		} else {
			next.sequence++;
			next.timestamp = t0m;
			rc = write_record(ls, &next);
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
		if (cancel && *cancel)
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

/* The slot to join: the requested one; else the one carrying our name, else
 * the first free one, never one in avoid[] (lost to another host during this
 * join). */
static int pick_slot_locked(struct sm_lockspace *ls, const char *name, uint32_t requested, const uint32_t *avoid,
			    int navoid, uint32_t *slot)
{
	uint32_t n = ls->vol->hdr.max_hosts;
	if (requested) {
		if (requested > n) {
			sm_error("host_id %u is out of range: lockspace %s has host_ids 1..%u", requested,
				 ls->vol->hdr.lockspace, n);
			return -SM_EBAD_ARGUMENT;
		}
		*slot = requested;
		return 0;
	}
	uint32_t best = 0;
	uint64_t best_gen = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct host_obs *o = &ls->obs[i];
		if (o->status == 0 && strncmp(o->rec.host_name, name, SM_NAME_FIELD) == 0 &&
		    !slot_in(i + 1, avoid, navoid) && (!best || o->rec.generation > best_gen)) {
			best = i + 1;
			best_gen = o->rec.generation;
		}
	}
	if (!best)
		for (uint32_t i = 0; i < n && !best; i++)
			if (ls->obs[i].status == 0 && ls->obs[i].rec.flags == SM_HOST_FREE && !slot_in(i + 1, avoid, navoid))
				best = i + 1;
	if (!best) {
		sm_error("lockspace %s has no free host_id and none carries host name %s%s", ls->vol->hdr.lockspace, name,
			 navoid ? " (other hosts joining at the same moment took the last ones)" : "");
		return -SM_ENO_FREE_HOSTID;
	}
	*slot = best;
	return 0;
}

/* Undo a claim that we abandoned: only if the slot still shows it. */
static void withdraw_claim(struct sm_lockspace *ls, const struct sm_host_record *claim)
{
	if (read_host_area(ls) < 0)
		return;
	pthread_mutex_lock(&ls->mu);
	bool ours = slot_is_ours_locked(ls);
	pthread_mutex_unlock(&ls->mu);
	if (!ours)
		return;
	struct sm_host_record fr = *claim;
	fr.flags = SM_HOST_FREE;
	fr.sequence++;
	write_record(ls, &fr);
}

/* One join attempt, never on a slot in avoid[]; *slot is the host_id it
 * tried.  -SM_EAGAIN_CLAIM when it must start over; -SM_EAGAIN_LOST when
 * another host won the host_id we picked by name (pick another). */
static int join_attempt(struct sm_lockspace *ls, const struct sm_join_opts *opts, const char *name,
			const uint32_t *avoid, int navoid, uint32_t *slot_out)
{
	const struct sm_volume_header *h = &ls->vol->hdr;
	uint32_t slot = 0;
	struct sm_host_record old;
	uint64_t decided_at; /* issue time of the read that found the slot claimable */
	for (;;) {
		int rc = read_host_area(ls);
		if (rc < 0)
			return rc;
		pthread_mutex_lock(&ls->mu);
		rc = pick_slot_locked(ls, name, opts->host_id, avoid, navoid, &slot);
		*slot_out = slot;
		struct host_obs o = rc == 0 ? ls->obs[slot - 1] : (struct host_obs){0};
		enum sm_liveness l = rc == 0 ? liveness_locked(ls, &o, sm_now_mono_ms()) : SM_LIVE_UNKNOWN;
		pthread_mutex_unlock(&ls->mu);
		if (rc < 0)
			return rc;
		if (o.status != 0) {
			sm_error("lockspace %s: the record of host_id %u is unreadable (%s); join with another --host-id",
				 h->lockspace, slot, sm_strerror(o.status));
			return o.status;
		}
		old = o.rec;
		decided_at = ls->last_read_issue;
		if (l == SM_LIVE_FREE || l == SM_LIVE_DEAD)
			break;
		/* Held by someone (maybe an earlier us): wait until it has been
		 * unchanged for more than H, watching for renewals. */
		uint64_t unchanged = unchanged_ms(&o);
		uint64_t remaining = h->io_timeout_ms + ls->to.host_dead_ms - SM_MIN(unchanged, ls->to.host_dead_ms);
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
	int rc = sm_uuid_generate(claim.instance);
	if (rc < 0)
		return rc;
	uint64_t t0m = sm_now_mono_ms(), t0b = sm_now_boot_ms();
	claim.timestamp = t0m;
	pthread_mutex_lock(&ls->mu);
	ls->host_id = slot; /* slot_is_ours_locked() looks here */
	pthread_mutex_unlock(&ls->mu);
	rc = write_record(ls, &claim);
	if (rc < 0)
		return rc;
	uint64_t claimed = sm_now_mono_ms(); /* the claim counts as our first renewal */
	if (sm_now_mono_ms() - decided_at > 2ull * h->io_timeout_ms) {
		/* We stalled between reading the slot and our claim landing: a
		 * competitor that joined meanwhile would not see our write in its
		 * 2d window.  Take the claim back (if still ours) and start over. */
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
	if (rc == 0)
		rc = read_host_area(ls);
	if (rc < 0) {
		withdraw_claim(ls, &claim);
		return rc;
	}
	pthread_mutex_lock(&ls->mu);
	bool ours = slot_is_ours_locked(ls);
	if (ours) {
		ls->joined = true;
		ls->lost = false;
		ls->generation = claim.generation;
		memcpy(ls->instance, claim.instance, 16);
		memcpy(ls->host_name, name, SM_NAME_FIELD);
		ls->last_renew_mono = t0m;
		ls->last_renew_boot = t0b;
		record_history_locked(ls, t0m, claimed, 0);
	}
	pthread_mutex_unlock(&ls->mu);
	if (!ours && !opts->host_id) {
		/* Our claim landed before the winner's: nothing of ours lingers. */
		sm_warn("lockspace %s: another host claimed host_id %u at the same time; trying the next free host_id",
			h->lockspace, slot);
		return -SM_EAGAIN_LOST;
	}
	if (!ours) {
		sm_error("lockspace %s: another host claimed host_id %u at the same time; join with another host_id, or "
			 "by name", h->lockspace, slot);
		return -SM_EHOSTID_BUSY;
	}
	sm_info("joined lockspace %s as host_id %u generation %llu", h->lockspace, slot,
		(unsigned long long)claim.generation);
	return 0;
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

	uint32_t lost[JOIN_ATTEMPTS];
	int nlost = 0;
	for (int attempt = 1;; attempt++) {
		uint32_t slot = 0;
		int rc = join_attempt(ls, opts, name, lost, nlost, &slot);
		if (rc == -SM_EAGAIN_LOST)
			lost[nlost++] = slot;
		if (rc != -SM_EAGAIN_CLAIM && rc != -SM_EAGAIN_LOST)
			return rc;
		if (attempt == JOIN_ATTEMPTS) {
			sm_error("lockspace %s: no join succeeded in %d attempts (%d host_id(s) lost to hosts joining at "
				 "the same moment); try again",
				 ls->vol->hdr.lockspace, JOIN_ATTEMPTS, nlost);
			return -SM_EHOSTID_BUSY;
		}
	}
}

int sm_lockspace_resume(struct sm_lockspace *ls, uint32_t host_id, uint64_t generation, const uint8_t instance[16],
			uint64_t last_renewal_boot_ms)
{
	const struct sm_volume_header *h = &ls->vol->hdr;
	if (ls->joined)
		return -SM_EBUSY;
	if (host_id < 1 || host_id > h->max_hosts)
		return -SM_EBAD_ARGUMENT;
	int rc = read_host_area(ls);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ls->mu);
	const struct host_obs *o = &ls->obs[host_id - 1];
	bool ok = o->status == 0 && o->rec.flags == SM_HOST_HELD && o->rec.generation == generation &&
		  memcmp(o->rec.instance, instance, 16) == 0;
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
	const struct sm_volume_header *h = &ls->vol->hdr;
	if (host_id < 1 || host_id > h->max_hosts) {
		sm_error("host_id %u is out of range: lockspace %s has host_ids 1..%u", host_id, h->lockspace,
			 h->max_hosts);
		return -SM_EBAD_ARGUMENT;
	}
	int rc = read_host_area(ls);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ls->mu);
	const struct host_obs *o = &ls->obs[host_id - 1];
	rc = o->status;
	if (rc == 0 && (o->rec.flags != SM_HOST_HELD || (generation && o->rec.generation != generation)))
		rc = -SM_ENOT_JOINED;
	uint64_t gen = o->rec.generation;
	uint8_t inst[16];
	memcpy(inst, o->rec.instance, 16);
	pthread_mutex_unlock(&ls->mu);
	if (rc < 0) {
		sm_error("host_id %u is not held%s in lockspace %s (join it first)", host_id,
			 generation ? " with that generation" : "", h->lockspace);
		return rc;
	}
	pthread_mutex_lock(&ls->mu);
	ls->host_id = host_id;
	ls->generation = gen;
	memcpy(ls->instance, inst, 16);
	memcpy(ls->host_name, o->rec.host_name, SM_NAME_FIELD);
	ls->mine = o->rec;
	memcpy(ls->mine_bytes, o->bytes, SM_HOST_SIZE);
	ls->joined = true;
	ls->lost = false;
	ls->last_renew_mono = sm_now_mono_ms();
	ls->last_renew_boot = sm_now_boot_ms();
	pthread_mutex_unlock(&ls->mu);
	return 0;
}

int sm_lockspace_leave(struct sm_lockspace *ls)
{
	if (!ls->joined)
		return -SM_ENOT_JOINED;
	int rc = read_host_area(ls);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ls->mu);
	bool ours = slot_is_ours_locked(ls);
	struct sm_host_record fr = ls->mine;
	pthread_mutex_unlock(&ls->mu);
	if (!ours) {
		pthread_mutex_lock(&ls->mu);
		ls->lost = true;
		pthread_mutex_unlock(&ls->mu);
		return -SM_ELOCKSPACE_LOST;
	}
	fr.flags = SM_HOST_FREE;
	fr.sequence++;
	fr.timestamp = sm_now_mono_ms();
	fr.attention_host_id = 0;
	rc = write_record(ls, &fr);
	if (rc == 0) {
		pthread_mutex_lock(&ls->mu);
		ls->joined = false;
		pthread_mutex_unlock(&ls->mu);
		sm_info("left lockspace %s (host_id %u)", ls->vol->hdr.lockspace, ls->host_id);
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
	uint64_t best = UINT64_MAX;
	pthread_mutex_lock(&ls->mu);
	for (uint32_t i = 0; i < ls->vol->hdr.max_hosts; i++) {
		const struct host_obs *o = &ls->obs[i];
		if (!o->seen || (ls->joined && i + 1 == ls->host_id))
			continue;
		if ((o->status == 0 && o->rec.flags == SM_HOST_FREE) || unchanged_ms(o) > ls->to.host_dead_ms)
			continue;
		best = SM_MIN(best, o->first_seen + ls->to.host_dead_ms + 1);
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
