/* Disk Paxos leases.  See paxos.h and docs/algorithms.md §2.
 *
 * One acquire attempt:  R1 read area | decide from leader | W1 phase-1 dblock
 * | R2 read dblocks | W2 phase-2 dblock | R3 read dblocks | W3 leader.
 * Six I/Os per disk when nobody competes. */
#include "paxos.h"

#include "atomic.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define DEFAULT_ATTEMPTS 6
/* Internal: the attempt saw contention or a stale leader; start over. */
#define RETRY 1

struct pvalue {
	uint32_t owner;
	uint64_t gen;
	uint32_t mode;
};

struct pdisk {
	struct sm_volume *vol;
	uint64_t area_off;
	uint8_t *buf; /* image of the whole area */
	bool ok;      /* still counted in this operation */
	int err;
};

struct ballot {
	const struct sm_resource_ref *r;
	struct sm_me me;
	const struct sm_volume_header *h; /* of the first disk open; others must agree */
	int first;
	uint32_t ss, nhosts;
	size_t area_bytes;
	int n;
	struct pdisk d[SM_MAX_DISKS];
	uint8_t *mysec; /* our dblock sector as we will write it */
	bool wrote_phase2;
	bool phase2_ever;    /* some attempt of this operation reached W2 */
	bool mode_block_set; /* our SH flag is (maybe) on disk from W2 */
	uint64_t read_done;  /* when the latest read_sectors() completed (monotonic ms) */
};

static int majority(int n) { return n / 2 + 1; }

static enum sm_owner_verdict ls_verdict(void *arg, uint32_t host_id, uint64_t gen, uint64_t read_done_ms)
{
	return sm_lockspace_owner_verdict(arg, host_id, gen, read_done_ms);
}

struct sm_oracle sm_oracle_of(struct sm_lockspace *ls)
{
	return (struct sm_oracle){ls_verdict, ls};
}

static void ballot_free(struct ballot *b)
{
	for (int i = 0; i < SM_MAX_DISKS; i++)
		free(b->d[i].buf);
	free(b->mysec);
}

static int ballot_init(struct ballot *b, const struct sm_resource_ref *r, const struct sm_me *me)
{
	memset(b, 0, sizeof(*b));
	if (r->ndisks != 1 && r->ndisks != 3) {
		sm_error("resource %s: %d disks given; use 1 or 3", r->name, r->ndisks);
		return -SM_EBAD_ARGUMENT;
	}
	b->r = r;
	b->me = *me;
	b->n = r->ndisks;
	/* A member of a volume set that cannot be opened is given as NULL: it
	 * counts as a failed disk from the start. */
	int first = 0;
	while (first < b->n - 1 && !r->disk[first].vol)
		first++;
	if (!r->disk[first].vol) {
		sm_error("resource %s: none of its disks is open", r->name);
		return -SM_ENO_MAJORITY;
	}
	b->first = first;
	b->h = &r->disk[first].vol->hdr;
	b->ss = b->h->sector_size;
	b->nhosts = b->h->max_hosts;
	b->area_bytes = sm_volume_area_bytes(b->h);
	if (me->host_id < 1 || me->host_id > b->nhosts) {
		sm_error("host_id %u is outside the volume's 1..%u", me->host_id, b->nhosts);
		return -SM_EBAD_ARGUMENT;
	}
	for (int i = 0; i < b->n; i++) {
		b->d[i].buf = malloc(b->area_bytes);
		if (!b->d[i].buf)
			return -ENOMEM;
		if (!r->disk[i].vol) {
			b->d[i].ok = false;
			b->d[i].err = -ENODEV;
			continue;
		}
		const struct sm_volume_header *hi = &r->disk[i].vol->hdr;
		if (hi->sector_size != b->ss || hi->max_hosts != b->nhosts ||
		    strncmp(hi->lockspace, b->h->lockspace, SM_NAME_FIELD) != 0) {
			sm_error("resource %s: its disks differ in lockspace, sector size or max_hosts", r->name);
			return -SM_EBAD_GEOMETRY;
		}
		b->d[i].vol = r->disk[i].vol;
		b->d[i].area_off = sm_volume_area_offset(hi, r->disk[i].area);
		b->d[i].ok = true;
	}
	b->mysec = calloc(1, b->ss);
	return b->mysec ? 0 : -ENOMEM;
}

static uint8_t *sector_of(const struct ballot *b, int disk, uint32_t sector)
{
	return b->d[disk].buf + (size_t)sector * b->ss;
}

static uint32_t my_sector(const struct ballot *b) { return 2 + b->me.host_id - 1; }

/* sm_paxos_mine reads sectors 0 .. own in one I/O below this (8 KiB at 512 B). */
#define MINE_ONE_READ_SECTORS 16

/* Count usable disks; map "not enough" to an error. */
static int check_majority(struct ballot *b)
{
	int ok = 0, first_err = 0;
	for (int i = 0; i < b->n; i++) {
		if (b->d[i].ok)
			ok++;
		else if (!first_err)
			first_err = b->d[i].err;
	}
	if (ok >= majority(b->n))
		return 0;
	if (b->n == 1)
		return first_err ? first_err : -EIO;
	sm_warn("resource %s: only %d of %d disks usable: %s", b->r->name, ok, b->n, sm_strerror(first_err));
	return -SM_ENO_MAJORITY;
}

static void disk_failed(struct ballot *b, int i, int err)
{
	b->d[i].ok = false;
	b->d[i].err = err;
}

/* Read sectors [first, first + count) of the area on every usable disk. */
static int read_sectors(struct ballot *b, uint32_t first, uint32_t count)
{
	for (int i = 0; i < b->n; i++) {
		if (!b->d[i].ok)
			continue;
		int rc = sm_disk_read(b->d[i].vol->disk, b->d[i].area_off + (uint64_t)first * b->ss, sector_of(b, i, first),
				      (size_t)count * b->ss, b->d[i].vol->hdr.io_timeout_ms);
		if (rc < 0)
			disk_failed(b, i, rc);
	}
	b->read_done = sm_now_mono_ms();
	return check_majority(b);
}

static int write_sector_all(struct ballot *b, uint32_t sector, const uint8_t *data)
{
	for (int i = 0; i < b->n; i++) {
		if (!b->d[i].ok)
			continue;
		int rc = sm_disk_write(b->d[i].vol->disk, b->d[i].area_off + (uint64_t)sector * b->ss, data, b->ss,
				       b->d[i].vol->hdr.io_timeout_ms);
		if (rc < 0)
			disk_failed(b, i, rc);
	}
	return check_majority(b);
}

/* The leader with the highest lver among usable disks.  A disk whose leader
 * does not decode drops out (and is reported if that loses the majority). */
static int pick_leader(struct ballot *b, struct sm_leader *out, int *from_disk)
{
	bool have = false;
	for (int i = 0; i < b->n; i++) {
		if (!b->d[i].ok)
			continue;
		struct sm_leader l;
		int rc = sm_leader_decode(sector_of(b, i, 0), &l, b->h->lockspace, b->r->name, b->ss);
		if (rc < 0) {
			sm_error("resource %s: leader record on %s is unusable: %s", b->r->name, sm_disk_path(b->d[i].vol->disk),
				 sm_strerror(rc));
			disk_failed(b, i, rc);
			continue;
		}
		if (!have || l.lver > out->lver) {
			*out = l;
			if (from_disk)
				*from_disk = i;
			have = true;
		}
	}
	int rc = check_majority(b);
	return rc < 0 ? rc : have ? 0 : -EIO;
}

/* What the dblocks of instance inst say. */
struct scan {
	uint64_t max_mbal;       /* over every host, instance inst */
	uint64_t max_other_mbal; /* over other hosts */
	uint64_t best_bal;       /* highest bal of instance inst */
	struct pvalue best;      /* its input */
	bool newer_instance;     /* some dblock belongs to a later instance */
	uint64_t max_lver;       /* newest instance any dblock belongs to */
	struct sm_dblock own;    /* our own block with the highest mbal of inst */
	bool have_own;
	/* the leader of inst - 1 that a proposer of inst recorded (a free one
	 * if any: see restore_lost_leader) */
	struct pvalue prev;
	bool have_prev;
};

static int scan_dblocks(struct ballot *b, uint64_t inst, struct scan *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < b->n; i++) {
		if (!b->d[i].ok)
			continue;
		for (uint32_t hidx = 0; hidx < b->nhosts; hidx++) {
			struct sm_dblock d;
			int rc = sm_dblock_decode(sector_of(b, i, 2 + hidx), &d);
			if (rc == 0 && d.host_id != hidx + 1)
				rc = -SM_EBAD_GEOMETRY;
			if (rc < 0) {
				/* We cannot know what this host proposed: this disk
				 * cannot take part (fail closed). */
				sm_error("resource %s: dblock of host %u on %s is unusable: %s", b->r->name, hidx + 1,
					 sm_disk_path(b->d[i].vol->disk), sm_strerror(rc));
				disk_failed(b, i, rc);
				break;
			}
			if (d.lver > s->max_lver)
				s->max_lver = d.lver;
			if (d.lver > inst) {
				s->newer_instance = true;
				continue;
			}
			if (d.lver != inst)
				continue;
			if (d.mbal > s->max_mbal)
				s->max_mbal = d.mbal;
			if (hidx + 1 != b->me.host_id && d.mbal > s->max_other_mbal)
				s->max_other_mbal = d.mbal;
			if (d.prev_lver && d.prev_lver + 1 == inst && (!s->have_prev || s->prev.mode == SM_MODE_EX)) {
				s->prev = (struct pvalue){d.prev_owner_id, d.prev_owner_generation, d.prev_mode};
				s->have_prev = true;
			}
			if (d.bal > s->best_bal) {
				s->best_bal = d.bal;
				s->best = (struct pvalue){d.inp_owner_id, d.inp_owner_generation, d.inp_mode};
			}
			/* Of our own copies (they may differ between disks), keep
			 * the one with the highest bal: it may carry a chosen value. */
			if (hidx + 1 == b->me.host_id &&
			    (!s->have_own || d.bal > s->own.bal || (d.bal == s->own.bal && d.mbal > s->own.mbal))) {
				s->own = d;
				s->have_own = true;
			}
		}
	}
	return check_majority(b);
}

/* Shared holders (other than us) that are not known dead.  Returns the
 * first such host_id or 0. */
static uint32_t live_shared_holder(struct ballot *b, const struct sm_oracle *live, uint64_t *gen_out)
{
	for (int i = 0; i < b->n; i++) {
		if (!b->d[i].ok)
			continue;
		for (uint32_t hidx = 0; hidx < b->nhosts; hidx++) {
			if (hidx + 1 == b->me.host_id)
				continue;
			struct sm_mode_block m;
			if (sm_mode_decode(sector_of(b, i, 2 + hidx) + SM_MODE_OFFSET, &m) < 0)
				return hidx + 1; /* unreadable: assume held (fail closed) */
			if (!(m.flags & SM_MODEB_SHARED))
				continue;
			if (live->verdict(live->arg, hidx + 1, m.generation, b->read_done) != SM_OWNER_DEAD) {
				*gen_out = m.generation;
				return hidx + 1;
			}
		}
	}
	return 0;
}

/* Did host `owner` (generation gen) write its release marker for instance
 * lver?  The marker lives in the owner's own sector, which only the owner
 * writes, so no other host's late write can undo it.  Any usable copy counts:
 * the owner writes it only after it stopped using the lease. */
static bool released_by_owner(const struct ballot *b, uint32_t owner, uint64_t gen, uint64_t lver)
{
	if (owner < 1 || owner > b->nhosts)
		return false;
	for (int i = 0; i < b->n; i++) {
		struct sm_mode_block m;
		if (b->d[i].ok && sm_mode_decode(sector_of(b, i, 2 + owner - 1) + SM_MODE_OFFSET, &m) == 0 &&
		    (m.flags & SM_MODEB_RELEASED) && m.generation == gen && m.lver == lver)
			return true;
	}
	return false;
}

/* The leader is an announcement that any host may write, and an old one can
 * land late (a write stuck in the storage path) over a newer one.  The truth is
 * in the sectors each host writes alone: the dblocks and release markers.
 * An EX leader whose owner has released that instance is free. */
static void apply_release_marker(const struct ballot *b, struct sm_leader *l)
{
	if (l->mode == SM_MODE_EX && l->owner_id && released_by_owner(b, l->owner_id, l->owner_generation, l->lver)) {
		l->owner_id = 0;
		l->owner_generation = 0;
		l->mode = SM_MODE_FREE;
	}
}

/* Does a dblock show a later instance than the leader's, with a value
 * proposed in it (phase 2 reached)?  Then the leader may be a stale
 * announcement and must not be acted on before that instance is finished.
 * Needs the dblocks in b. */
static bool leader_superseded(struct ballot *b, const struct sm_leader *l)
{
	struct scan s;
	if (scan_dblocks(b, l->lver, &s) < 0 || s.max_lver <= l->lver)
		return false;
	return scan_dblocks(b, s.max_lver, &s) == 0 && s.best_bal != 0;
}

/* The leader shows lver L, but a dblock shows instance M > L + 1 in which no
 * value is proposed yet (its proposers got no further than phase 1: killed,
 * an I/O error, aborted).  Instance M was begun only after the leader of M - 1
 * was written, so an older leader write has landed over it, and nothing on
 * disk says who holds the lease after M - 1: catching up on M finds nothing to
 * adopt and would abort forever.  Every proposer of M records in its dblock
 * the leader of M - 1 it acted on (prev); restore that announcement.  Any such
 * copy was once the leader on disk, so deciding on it is deciding on a leader
 * read then: a free one stays true until M is decided, and an EX one is
 * checked against its owner's release marker and liveness as usual.  Needs
 * the dblocks in b.  Returns whether l was replaced. */
static bool restore_lost_leader(struct ballot *b, struct sm_leader *l)
{
	struct scan s;
	if (scan_dblocks(b, l->lver, &s) < 0 || s.max_lver <= l->lver + 1)
		return false;
	uint64_t m = s.max_lver;
	if (scan_dblocks(b, m, &s) < 0 || s.best_bal || !s.have_prev)
		return false;
	sm_warn("resource %s: the leader shows lver %llu, but lver %llu was begun: restoring the lver %llu leader "
		"recorded by its proposers (owner %u generation %llu)",
		b->r->name, (unsigned long long)l->lver, (unsigned long long)m, (unsigned long long)(m - 1), s.prev.owner,
		(unsigned long long)s.prev.gen);
	l->lver = m - 1;
	l->owner_id = s.prev.owner;
	l->owner_generation = s.prev.owner ? s.prev.gen : 0;
	l->mode = s.prev.owner ? s.prev.mode : SM_MODE_FREE;
	apply_release_marker(b, l);
	return true;
}

/* Is instance held->lver still ours although the leader shows an older one?
 * Nobody starts a later instance while we hold ours and are alive; so if no
 * dblock shows one, ours is current and the leader is an old announcement
 * that landed late.  Needs the whole area in b. */
static bool leader_lags_our_instance(struct ballot *b, const struct sm_leader *l, const struct sm_lease *held)
{
	struct scan s;
	if (l->lver >= held->lver || scan_dblocks(b, held->lver, &s) < 0)
		return false;
	return !s.newer_instance && s.max_lver == held->lver;
}

/* Prepare mysec: our current sector (mode block from a usable disk) with a new dblock. */
static void build_my_sector(struct ballot *b, const struct sm_dblock *d, const struct sm_mode_block *mode)
{
	int src = 0;
	while (src < b->n && !b->d[src].ok)
		src++;
	if (src < b->n)
		memcpy(b->mysec, sector_of(b, src, my_sector(b)), b->ss);
	memset(b->mysec, 0, SM_DBLOCK_SIZE);
	sm_dblock_encode(d, b->mysec);
	if (mode) {
		memset(b->mysec + SM_MODE_OFFSET, 0, SM_MODE_SIZE);
		sm_mode_encode(mode, b->mysec + SM_MODE_OFFSET);
	} else {
		struct sm_mode_block cur;
		if (sm_mode_decode(b->mysec + SM_MODE_OFFSET, &cur) < 0) {
			struct sm_mode_block clear = {0};
			sm_mode_encode(&clear, b->mysec + SM_MODE_OFFSET);
		}
	}
}

static void fill_leader(const struct ballot *b, struct sm_leader *l, uint64_t lver, uint32_t owner, uint64_t gen,
			uint32_t mode)
{
	memset(l, 0, sizeof(*l));
	l->sector_size = b->ss;
	l->max_hosts = b->nhosts;
	memcpy(l->lockspace, b->h->lockspace, SM_NAME_FIELD);
	memcpy(l->resource, b->r->name, SM_NAME_FIELD);
	l->lver = lver;
	l->owner_id = owner;
	l->owner_generation = gen;
	l->mode = owner ? mode : SM_MODE_FREE;
	l->write_id = b->me.host_id;
	l->write_generation = b->me.generation;
	l->timestamp = sm_now_wall_s();
	l->area = b->r->disk[b->first].area;
	l->io_timeout_ms = b->h->io_timeout_ms;
}

static int write_leader(struct ballot *b, const struct sm_leader *l)
{
	uint8_t *sec = calloc(1, b->ss);
	if (!sec)
		return -ENOMEM;
	sm_leader_encode(l, sec);
	int rc = write_sector_all(b, 0, sec);
	free(sec);
	return rc;
}

/* Clear a tentative shared flag we set in W2 (best effort; safe either way). */
static void clear_mode_block(struct ballot *b)
{
	if (!b->mode_block_set)
		return;
	struct sm_mode_block clear = {0};
	memset(b->mysec + SM_MODE_OFFSET, 0, SM_MODE_SIZE);
	sm_mode_encode(&clear, b->mysec + SM_MODE_OFFSET);
	if (write_sector_all(b, my_sector(b), b->mysec) == 0)
		b->mode_block_set = false;
}

static uint64_t next_mbal(uint64_t above, uint32_t host_id, uint32_t nhosts)
{
	if (above < host_id)
		return host_id;
	return host_id + ((above - host_id) / nhosts + 1) * nhosts;
}

struct attempt_args {
	const struct sm_acquire_opts *o;
	struct pvalue propose;
	/* hand-off: the leader must show us owning at this version */
	const struct sm_lease *handoff_from;
	uint64_t go_by_ms; /* hand-off: no first W2 after this (monotonic), 0 = none */
};

/* Record in our dblock of instance d->lver the leader of d->lver - 1 we act
 * on (see restore_lost_leader): the one we read, our own lease for a
 * hand-off, or for a catch-up the one recorded by the instance's proposers. */
static void record_prev_leader(struct sm_dblock *d, const struct sm_leader *l, const struct attempt_args *a,
			       const struct sm_me *me, const struct scan *catchup)
{
	struct pvalue p = {l->owner_id, l->owner_generation, l->owner_id ? l->mode : SM_MODE_FREE};
	if (catchup) {
		if (!catchup->have_prev)
			return;
		p = catchup->prev;
	} else if (a->handoff_from) {
		p = (struct pvalue){me->host_id, me->generation, SM_MODE_EX};
	} else if (l->lver + 1 != d->lver) {
		return;
	}
	d->prev_lver = d->lver - 1;
	d->prev_owner_id = p.owner;
	d->prev_owner_generation = p.gen;
	d->prev_mode = p.mode;
}

/* One ballot.  Returns 0 (out filled), RETRY, or a negative error. */
static int attempt(struct ballot *b, const struct attempt_args *a, struct sm_lease *out)
{
	const struct sm_acquire_opts *o = a->o;
	struct sm_leader leader;
	uint32_t took_over = 0;
	b->wrote_phase2 = false;
	for (int i = 0; i < b->n; i++)
		if (b->d[i].vol && b->d[i].err != -SM_EIO_TIMEOUT && b->d[i].err != -SM_ENO_MAJORITY)
			b->d[i].ok = true; /* every attempt starts with all disks but dead ones */

	/* R1 */
	int rc = read_sectors(b, 0, b->h->area_sectors);
	if (rc < 0)
		return rc;
	if ((rc = pick_leader(b, &leader, NULL)) < 0)
		return rc;
	if (leader.flags & SM_LEADER_REMOVED) {
		sm_error("resource %s was removed from the volume", b->r->name);
		return -SM_ENO_RESOURCE;
	}
	apply_release_marker(b, &leader);
	restore_lost_leader(b, &leader);
	bool superseded = false; /* the leader lags a later instance: finish that first */
	out->lver = leader.lver;
	out->owner_id = leader.owner_id;
	out->owner_generation = leader.owner_generation;
	out->mode = leader.mode;
	sm_debug("paxos %s: R1 leader lver %llu owner %u/%llu %s flags %#x (writer %u/%llu)", b->r->name,
		 (unsigned long long)leader.lver, leader.owner_id, (unsigned long long)leader.owner_generation,
		 sm_mode_name(leader.mode), leader.flags, leader.write_id, (unsigned long long)leader.write_generation);

	if (a->handoff_from) {
		if ((leader.owner_id != b->me.host_id || leader.owner_generation != b->me.generation ||
		     leader.lver != a->handoff_from->lver || leader.mode != SM_MODE_EX) &&
		    !leader_lags_our_instance(b, &leader, a->handoff_from))
			return -SM_ENOT_OWNER;
		leader.lver = a->handoff_from->lver;
	} else if (leader_superseded(b, &leader)) {
		/* No verdict on what may be a stale announcement: finish the later
		 * instance (never proposing ours), announce it, and decide again. */
		sm_debug("paxos %s: leader lver %llu is superseded by a later instance", b->r->name,
			 (unsigned long long)leader.lver);
		superseded = true;
	} else {
		if (o->at_version && leader.lver != o->version)
			return -SM_ELVER_MISMATCH;
		if (leader.owner_id && leader.mode == SM_MODE_EX) {
			enum sm_owner_verdict ov =
				o->live.verdict(o->live.arg, leader.owner_id, leader.owner_generation, b->read_done);
			sm_debug("paxos %s: owner %u/%llu verdict %d", b->r->name, leader.owner_id,
				 (unsigned long long)leader.owner_generation, (int)ov);
			switch (ov) {
			case SM_OWNER_ALIVE: return -SM_EHELD;
			case SM_OWNER_UNKNOWN: return -SM_EUNKNOWN_HOST;
			case SM_OWNER_DEAD:
				took_over = leader.owner_id;
				sm_info("resource %s: taking over from dead host %u (generation %llu) at lver %llu",
					b->r->name, leader.owner_id, (unsigned long long)leader.owner_generation,
					(unsigned long long)leader.lver);
				break;
			case SM_OWNER_SELF: break;
			}
		}
		if (a->propose.mode == SM_MODE_EX) {
			uint64_t g = 0;
			uint32_t sh = live_shared_holder(b, &o->live, &g);
			if (sh) {
				out->owner_id = sh;
				out->owner_generation = g;
				out->mode = SM_MODE_SH;
				return -SM_ESHARED_HELD;
			}
		}
	}

	uint64_t inst = leader.lver + 1;
	struct scan s;
	if ((rc = scan_dblocks(b, inst, &s)) < 0)
		return rc;
	/* The leader lags behind started instances (its write is in flight, was
	 * lost, or an older one landed late over it).  Catch up: run the newest
	 * instance adopting whatever value it has, never proposing ours, and
	 * announce it; then start over. */
	bool catchup = s.newer_instance || superseded;
	if (catchup) {
		inst = s.max_lver;
		if ((rc = scan_dblocks(b, inst, &s)) < 0)
			return rc;
	}
	uint64_t mbal = next_mbal(s.max_mbal, b->me.host_id, b->nhosts);
	sm_debug("paxos %s: instance %llu%s mbal %llu (max_lver %llu)", b->r->name, (unsigned long long)inst,
		 catchup ? " (catch-up)" : "", (unsigned long long)mbal, (unsigned long long)s.max_lver);

	/* W1: phase 1 keeps our own (bal, inp) of this instance. */
	struct sm_dblock d = {.host_id = b->me.host_id, .lver = inst, .mbal = mbal, .timestamp = sm_now_wall_s()};
	record_prev_leader(&d, &leader, a, &b->me, catchup ? &s : NULL);
	if (s.have_own && s.own.bal) {
		d.bal = s.own.bal;
		d.inp_owner_id = s.own.inp_owner_id;
		d.inp_owner_generation = s.own.inp_owner_generation;
		d.inp_mode = s.own.inp_mode;
	}
	build_my_sector(b, &d, NULL);
	if ((rc = write_sector_all(b, my_sector(b), b->mysec)) < 0)
		return rc;

	/* R2 */
	if ((rc = read_sectors(b, 2, b->nhosts)) < 0)
		return rc;
	if ((rc = scan_dblocks(b, inst, &s)) < 0)
		return rc;
	if (s.newer_instance || s.max_other_mbal > mbal)
		return RETRY;
	if (catchup && !s.best_bal)
		return RETRY; /* nothing to adopt yet: let its proposer finish */
	struct pvalue v = s.best_bal ? s.best : a->propose;
	bool ours = !catchup && v.owner == a->propose.owner && v.gen == a->propose.gen && v.mode == a->propose.mode;
	sm_debug("paxos %s: R2 inst %llu value %u/%llu %s (best_bal %llu) ours %d", b->r->name,
		 (unsigned long long)inst, v.owner, (unsigned long long)v.gen, sm_mode_name(v.mode),
		 (unsigned long long)s.best_bal, ours);

	/* A hand-off proposes its value only while the receiver is surely still
	 * waiting (sm_handoff_settle_ms).  Once a W2 of ours may be on disk, the
	 * value may be chosen and later attempts must go on. */
	if (a->go_by_ms && !b->phase2_ever && sm_now_mono_ms() > a->go_by_ms) {
		sm_warn("resource %s: the hand-off could not start in time; not handing over", b->r->name);
		return -ETIMEDOUT;
	}
	/* W2: from here on our value may be chosen. */
	b->phase2_ever = true;
	d.bal = mbal;
	d.inp_owner_id = v.owner;
	d.inp_owner_generation = v.gen;
	d.inp_mode = v.mode;
	struct sm_mode_block shared = {.flags = SM_MODEB_SHARED, .generation = b->me.generation, .lver = inst};
	bool set_shared = ours && v.mode == SM_MODE_SH && v.owner == b->me.host_id;
	build_my_sector(b, &d, set_shared ? &shared : NULL);
	b->wrote_phase2 = true;
	if (set_shared)
		b->mode_block_set = true;
	if ((rc = write_sector_all(b, my_sector(b), b->mysec)) < 0)
		return rc;

	/* R3 */
	if ((rc = read_sectors(b, 2, b->nhosts)) < 0)
		return rc;
	if ((rc = scan_dblocks(b, inst, &s)) < 0)
		return rc;
	if (s.newer_instance || s.max_other_mbal > mbal)
		return RETRY;

	sm_debug("paxos %s: chosen inst %llu value %u/%llu %s", b->r->name, (unsigned long long)inst, v.owner,
		 (unsigned long long)v.gen, sm_mode_name(v.mode));
	/* v is chosen for instance inst.  W3 announces it.  A shared value is
	 * announced as "no exclusive owner": its holders are in mode blocks. */
	struct sm_leader nl;
	if (v.mode == SM_MODE_SH || (!ours && released_by_owner(b, v.owner, v.gen, inst)))
		fill_leader(b, &nl, inst, 0, 0, SM_MODE_FREE); /* or: its owner has released it since */
	else
		fill_leader(b, &nl, inst, v.owner, v.gen, v.mode);
	if ((rc = write_leader(b, &nl)) < 0)
		return rc;
	out->lver = inst;
	out->owner_id = v.owner;
	out->owner_generation = v.gen;
	out->mode = v.mode;
	if (!ours)
		return RETRY; /* an earlier proposal won (or we caught up): look again */

	if (v.mode == SM_MODE_EX && !a->handoff_from) {
		uint64_t g = 0;
		uint32_t sh = live_shared_holder(b, &o->live, &g);
		if (sh) {
			/* A shared holder appeared while we balloted: give the
			 * instance back as free. */
			fill_leader(b, &nl, inst, 0, 0, SM_MODE_FREE);
			write_leader(b, &nl);
			out->owner_id = sh;
			out->owner_generation = g;
			out->mode = SM_MODE_SH;
			out->in_doubt = true; /* a concurrent adopter may still name us */
			return -SM_ESHARED_HELD;
		}
	}
	out->took_over_from = took_over;
	return 0;
}

static void backoff(unsigned attempt_no)
{
	unsigned r = 0;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (unsigned)sm_now_mono_ms();
	sm_sleep_ms(2 + r % (10 + 20 * attempt_no));
}

static int run_attempts(struct ballot *b, const struct attempt_args *a, struct sm_lease *out)
{
	unsigned max = a->o && a->o->attempts ? a->o->attempts : DEFAULT_ATTEMPTS;
	int rc = RETRY;
	for (unsigned i = 0; i < max && rc == RETRY; i++) {
		if (i)
			backoff(i);
		rc = attempt(b, a, out);
	}
	if (rc == RETRY)
		rc = -SM_EBALLOT_ABORTED;
	if (rc < 0) {
		/* An I/O error after W2 leaves the outcome unknown.  A closed list,
		 * not an error class: only these answers prove our W2 cannot have
		 * chosen a value (an EAGAIN or EINTR from the I/O path does not). */
		bool io_err = rc != -SM_EHELD && rc != -SM_EUNKNOWN_HOST && rc != -SM_ESHARED_HELD &&
			      rc != -SM_ELVER_MISMATCH && rc != -SM_EBALLOT_ABORTED && rc != -SM_ENOT_OWNER;
		if (b->wrote_phase2 && io_err)
			out->in_doubt = true;
		clear_mode_block(b);
		if (b->mode_block_set)
			out->in_doubt = true;
	}
	return rc;
}

int sm_paxos_acquire(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_acquire_opts *o,
		     struct sm_lease *out)
{
	if (sm_atomic_applies(r))
		return sm_atomic_acquire(r, me, o, out);
	memset(out, 0, sizeof(*out));
	if (o->mode != SM_MODE_EX && o->mode != SM_MODE_SH)
		return -SM_EBAD_ARGUMENT;
	struct ballot b;
	int rc = ballot_init(&b, r, me);
	if (rc == 0) {
		struct attempt_args a = {.o = o, .propose = {me->host_id, me->generation, o->mode}};
		rc = run_attempts(&b, &a, out);
	}
	ballot_free(&b);
	if (rc == 0)
		sm_debug("acquired %s %s at lver %llu", r->name, sm_mode_name(o->mode), (unsigned long long)out->lver);
	return rc;
}

int sm_paxos_handoff(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_lease *held,
		     uint32_t to_host_id, uint64_t to_generation, uint64_t go_by_ms, struct sm_lease *out)
{
	if (sm_atomic_applies(r))
		return sm_atomic_handoff(r, me, held, to_host_id, to_generation, go_by_ms, out);
	memset(out, 0, sizeof(*out));
	struct ballot b;
	struct sm_acquire_opts o = {.mode = SM_MODE_EX};
	int rc = ballot_init(&b, r, me);
	if (rc == 0) {
		struct attempt_args a = {.o = &o, .propose = {to_host_id, to_generation, SM_MODE_EX}, .handoff_from = held,
					 .go_by_ms = go_by_ms};
		rc = run_attempts(&b, &a, out);
	}
	ballot_free(&b);
	return rc;
}

static int release_leader(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_lease *held,
			  uint16_t flags);

int sm_paxos_retire(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_lease *held)
{
	if (sm_atomic_applies(r))
		return sm_atomic_retire(r, me, held);
	if (held->mode != SM_MODE_EX)
		return -SM_EBAD_ARGUMENT;
	return release_leader(r, me, held, SM_LEADER_REMOVED);
}

int sm_paxos_release(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_lease *held)
{
	if (sm_atomic_applies(r))
		return sm_atomic_release(r, me, held);
	return release_leader(r, me, held, 0);
}

/* Our own sector (from a usable disk) with `mode` as its mode block; the
 * dblock part, our Paxos memory, is kept as read. */
static void build_mode_sector(struct ballot *b, const struct sm_mode_block *mode)
{
	int src = 0;
	while (!b->d[src].ok)
		src++;
	memcpy(b->mysec, sector_of(b, src, my_sector(b)), b->ss);
	memset(b->mysec + SM_MODE_OFFSET, 0, SM_MODE_SIZE);
	sm_mode_encode(mode, b->mysec + SM_MODE_OFFSET);
}

/* Is the EX lease `held` still ours?  The leader says so, or it shows an older
 * instance (a late-landing announcement, anyone's) and no dblock a later one
 * than ours.  Reads the whole area only in the second case. */
static int check_still_ours(struct ballot *b, const struct sm_leader *l, const struct sm_lease *held)
{
	const struct sm_me *me = &b->me;
	if (l->owner_id == me->host_id && l->owner_generation == me->generation && l->lver == held->lver &&
	    l->mode == SM_MODE_EX)
		return 0;
	if (l->lver < held->lver) {
		int rc = read_sectors(b, 0, b->h->area_sectors);
		if (rc < 0)
			return rc;
		if (leader_lags_our_instance(b, l, held)) {
			sm_warn("resource %s: the leader shows host %u generation %llu at lver %llu, older than our lver "
				"%llu (a late write); lver %llu is still ours",
				b->r->name, l->owner_id, (unsigned long long)l->owner_generation, (unsigned long long)l->lver,
				(unsigned long long)held->lver, (unsigned long long)held->lver);
			return 0;
		}
	}
	sm_error("resource %s: the lease now shows host %u generation %llu at lver %llu, not us (host %u generation "
		 "%llu at lver %llu)",
		 b->r->name, l->owner_id, (unsigned long long)l->owner_generation, (unsigned long long)l->lver,
		 me->host_id, (unsigned long long)me->generation, (unsigned long long)held->lver);
	return -SM_ENOT_OWNER;
}

/* EX release: (1) read the leader and our own sector in one I/O; (2) check
 * the lease is still ours; (3) write our release marker into our own sector:
 * this is the release, no late write of anyone else can undo it; (4) write
 * the leader free at the same lver, for everyone who reads only the leader.
 * A failed (4) leaves the lease released (readers apply the marker), except
 * when retiring: the removed flag lives only in the leader. */
static int release_leader(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_lease *held,
			  uint16_t flags)
{
	struct ballot b;
	int rc = ballot_init(&b, r, me);
	if (rc < 0)
		goto out;
	if (held->mode == SM_MODE_SH) {
		/* Clear our shared flag: read our sector, keep its dblock.  Only
		 * a shared flag is cleared: a release marker stays (resolve clears
		 * stray shared flags right after an EX release). */
		if ((rc = read_sectors(&b, my_sector(&b), 1)) < 0)
			goto out;
		bool clear = false; /* a shared flag, or a block that does not decode */
		for (int i = 0; i < b.n; i++) {
			struct sm_mode_block m;
			if (b.d[i].ok && (sm_mode_decode(sector_of(&b, i, my_sector(&b)) + SM_MODE_OFFSET, &m) < 0 ||
					  (m.flags & SM_MODEB_SHARED)))
				clear = true;
		}
		if (clear) {
			build_mode_sector(&b, &(struct sm_mode_block){0});
			rc = write_sector_all(&b, my_sector(&b), b.mysec);
		}
		goto out;
	}
	struct sm_leader l;
	if ((rc = read_sectors(&b, 0, my_sector(&b) + 1)) < 0 || (rc = pick_leader(&b, &l, NULL)) < 0)
		goto out;
	if ((rc = check_still_ours(&b, &l, held)) < 0)
		goto out;
	struct sm_mode_block released = {.flags = SM_MODEB_RELEASED, .generation = me->generation, .lver = held->lver};
	build_mode_sector(&b, &released);
	if ((rc = write_sector_all(&b, my_sector(&b), b.mysec)) < 0)
		goto out;
	struct sm_leader nl;
	fill_leader(&b, &nl, held->lver, 0, 0, SM_MODE_FREE);
	nl.flags = flags;
	int lrc = write_leader(&b, &nl);
	if (lrc < 0 && flags)
		rc = lrc;
	else if (lrc < 0)
		sm_warn("resource %s: released lver %llu, but the free leader could not be written (%s); the release "
			"marker stands for it",
			r->name, (unsigned long long)held->lver, sm_strerror(lrc));
	sm_debug("paxos %s: released lver %llu: %d", r->name, (unsigned long long)held->lver, rc);
out:
	ballot_free(&b);
	return rc;
}

int sm_paxos_convert_to_shared(const struct sm_resource_ref *r, const struct sm_me *me, struct sm_lease *held)
{
	if (sm_atomic_applies(r))
		return sm_atomic_convert_to_shared(r, me, held);
	if (held->mode != SM_MODE_EX)
		return -SM_EBAD_ARGUMENT;
	struct ballot b;
	int rc = ballot_init(&b, r, me);
	if (rc < 0)
		goto out;
	/* Set our shared flag while still exclusive, then free the leader. */
	if ((rc = read_sectors(&b, 0, b.h->area_sectors)) < 0)
		goto out;
	struct sm_leader l;
	if ((rc = pick_leader(&b, &l, NULL)) < 0 || (rc = check_still_ours(&b, &l, held)) < 0)
		goto out;
	struct sm_mode_block sh = {.flags = SM_MODEB_SHARED, .generation = me->generation, .lver = held->lver};
	build_mode_sector(&b, &sh);
	b.mode_block_set = true;
	if ((rc = write_sector_all(&b, my_sector(&b), b.mysec)) < 0)
		goto out;
	struct sm_leader nl;
	fill_leader(&b, &nl, held->lver, 0, 0, SM_MODE_FREE);
	if ((rc = write_leader(&b, &nl)) < 0) {
		clear_mode_block(&b); /* still exclusive; do not leave a stray SH flag */
		goto out;
	}
	held->mode = SM_MODE_SH;
out:
	ballot_free(&b);
	return rc;
}

int sm_paxos_convert_to_exclusive(const struct sm_resource_ref *r, const struct sm_me *me,
				  const struct sm_oracle *live, struct sm_lease *held, struct sm_lease *refused)
{
	if (sm_atomic_applies(r))
		return sm_atomic_convert_to_exclusive(r, me, live, held, refused);
	if (held->mode != SM_MODE_SH)
		return -SM_EBAD_ARGUMENT;
	struct sm_acquire_opts o = {.mode = SM_MODE_EX, .live = *live};
	struct sm_lease ex;
	int rc = sm_paxos_acquire(r, me, &o, &ex);
	if (rc < 0) {
		/* a failed EX acquire never touches our shared flag: still shared */
		held->in_doubt |= ex.in_doubt;
		if (refused)
			*refused = ex;
		return rc;
	}
	struct sm_lease sh = {.mode = SM_MODE_SH};
	int crc = sm_paxos_release(r, me, &sh); /* clears our shared flag */
	if (crc < 0)
		sm_warn("resource %s: converted to exclusive but could not clear our shared flag: %s", r->name,
			sm_strerror(crc));
	*held = ex;
	return 0;
}

int sm_paxos_resolve(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_oracle *live)
{
	if (sm_atomic_applies(r))
		return sm_atomic_resolve(r, me, live);
	/* Finish the open instance by acquiring for ourselves; if that works the
	 * lease was ours or free, and we give it back. */
	struct sm_acquire_opts o = {.mode = SM_MODE_EX, .live = *live};
	struct sm_lease l;
	int rc = sm_paxos_acquire(r, me, &o, &l);
	if (rc == 0)
		rc = sm_paxos_release(r, me, &l);
	else if (sm_error_class(rc) == SM_ERRCLASS_REFUSED)
		rc = 0; /* someone else's: not ours to clean */
	if (rc == 0) {
		struct sm_lease sh = {.mode = SM_MODE_SH};
		rc = sm_paxos_release(r, me, &sh); /* clear any stray shared flag of ours */
	}
	return rc;
}

int sm_paxos_inquire(const struct sm_resource_ref *r, struct sm_lease_view *out)
{
	if (sm_atomic_applies(r))
		return sm_atomic_inquire(r, out);
	memset(out, 0, sizeof(*out));
	struct sm_me anyone = {.host_id = 1};
	struct ballot b;
	int rc = ballot_init(&b, r, &anyone);
	if (rc < 0)
		goto out;
	if ((rc = read_sectors(&b, 0, b.h->area_sectors)) < 0)
		goto out;
	int from = 0;
	if ((rc = pick_leader(&b, &out->leader, &from)) < 0)
		goto out;
	/* Report what the sectors each host writes alone say (see
	 * apply_release_marker), not a stale announcement. */
	apply_release_marker(&b, &out->leader);
	if (leader_superseded(&b, &out->leader)) {
		struct scan sc;
		if ((rc = scan_dblocks(&b, out->leader.lver, &sc)) < 0 || (rc = scan_dblocks(&b, sc.max_lver, &sc)) < 0)
			goto out;
		struct sm_leader *l = &out->leader;
		out->announced_lver = l->lver;
		l->lver = sc.max_lver;
		bool ex = sc.best.mode == SM_MODE_EX;
		l->owner_id = ex ? sc.best.owner : 0;
		l->owner_generation = ex ? sc.best.gen : 0;
		l->mode = ex ? SM_MODE_EX : SM_MODE_FREE;
		apply_release_marker(&b, l);
	} else {
		uint64_t announced = out->leader.lver;
		if (restore_lost_leader(&b, &out->leader))
			out->announced_lver = announced;
	}
	out->request_status = sm_request_decode(sector_of(&b, from, 1), &out->request, r->name, b.ss);
	for (uint32_t h = 0; h < b.nhosts; h++) {
		struct sm_mode_block m;
		if (sm_mode_decode(sector_of(&b, from, 2 + h) + SM_MODE_OFFSET, &m) == 0 && (m.flags & SM_MODEB_SHARED)) {
			if (out->shared_count < SM_ARRAY_SIZE(out->shared_host)) {
				out->shared_host[out->shared_count] = h + 1;
				out->shared_gen[out->shared_count] = m.generation;
			}
			out->shared_count++;
		}
	}
out:
	ballot_free(&b);
	return rc;
}

int sm_paxos_mine(const struct sm_resource_ref *r, const struct sm_me *me, struct sm_mine *out)
{
	if (sm_atomic_applies(r))
		return sm_atomic_mine(r, me, out);
	memset(out, 0, sizeof(*out));
	struct ballot b;
	int rc = ballot_init(&b, r, me);
	if (rc < 0)
		goto out;
	/* The leader and our own sector: one I/O when they are close (a low
	 * host_id), else two rather than reading every dblock between. */
	uint32_t own = my_sector(&b);
	if (own < MINE_ONE_READ_SECTORS ? (rc = read_sectors(&b, 0, own + 1)) < 0
					: ((rc = read_sectors(&b, 0, 1)) < 0 || (rc = read_sectors(&b, own, 1)) < 0))
		goto out;
	struct sm_leader l;
	bool have = false;
	for (int i = 0; i < b.n; i++) {
		struct sm_leader li;
		if (b.d[i].ok &&
		    sm_leader_decode(sector_of(&b, i, 0), &li, b.h->lockspace, r->name[0] ? r->name : NULL, b.ss) == 0 &&
		    li.resource[0] && (!have || li.lver > l.lver)) {
			l = li;
			have = true;
		}
	}
	if (!have || (l.flags & SM_LEADER_REMOVED)) {
		rc = -SM_ENO_RESOURCE;
		goto out;
	}
	snprintf(out->name, sizeof(out->name), "%s", l.resource);
	out->lver = l.lver;
	out->ex = l.mode == SM_MODE_EX && l.owner_id == me->host_id && l.owner_generation == me->generation &&
		  !released_by_owner(&b, me->host_id, me->generation, l.lver);
	for (int i = 0; i < b.n; i++) {
		if (!b.d[i].ok)
			continue;
		const uint8_t *sec = sector_of(&b, i, my_sector(&b));
		struct sm_mode_block m;
		if (sm_mode_decode(sec + SM_MODE_OFFSET, &m) == 0 && (m.flags & SM_MODEB_SHARED) &&
		    m.generation == me->generation)
			out->shared = true;
		struct sm_dblock d;
		if (sm_dblock_decode(sec, &d) == 0 && d.lver > l.lver && d.bal && d.inp_owner_id == me->host_id &&
		    d.inp_owner_generation == me->generation)
			out->ahead = true;
	}
out:
	ballot_free(&b);
	return rc;
}

int sm_paxos_request(const struct sm_resource_ref *r, const struct sm_me *me, uint32_t kind, uint64_t lver)
{
	return sm_paxos_request_seq(r, me, kind, lver, 0);
}

int sm_paxos_request_seq(const struct sm_resource_ref *r, const struct sm_me *me, uint32_t kind, uint64_t lver,
			 uint64_t sequence)
{
	struct ballot b;
	int rc = ballot_init(&b, r, me);
	if (rc == 0) {
		struct sm_request q = {.sector_size = b.ss, .kind = kind, .requester_id = me->host_id,
				       .requester_generation = me->generation, .lver = lver,
				       .timestamp = sm_now_wall_s(), .sequence = sequence};
		memcpy(q.resource, r->name, SM_NAME_FIELD);
		sm_request_encode(&q, b.mysec);
		rc = write_sector_all(&b, 1, b.mysec);
	}
	ballot_free(&b);
	return rc;
}
