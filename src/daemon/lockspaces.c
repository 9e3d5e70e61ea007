/* Lockspaces of this host, the event loop's side: joining, resuming,
 * expiry and fencing, leaving, rejoins.  The renewal thread is in
 * lockspace_thread.c, known names and their probe in lockspace_names.c
 * (lockspaces_int.h among the three).
 *
 * The renewal thread owns the sm_lockspace's disk I/O: it reads the volume
 * header (a join), opens or resumes the membership, then renews every R
 * (retrying sooner after a failure), raises attention marks on request, and
 * leaves when asked; it sleeps on a condition variable between renewals
 * (woken at once to stop) and wakes the loop after each one.  The loop
 * looks at it then, and at the deadlines ls_tick() reports (F, the warning
 * before it): a lockspace whose last good renewal started more than F ago,
 * or whose record was taken, is fenced.  The loop itself reads no volume (it pets the watchdog and serves
 * clients): a join's or a resume's header is read by its thread, a name by
 * a probe thread.  Only the resume of a state file written by an older
 * daemon (no lockspace name and timeouts in it) reads a header on the main
 * thread, at startup. */
#include "lockspaces.h"
#include "lockspaces_int.h"

#include "conn.h"
#include "leasetab.h"
#include "metrics.h"
#include "state.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "ondisk/volume.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *ls_state_name(enum ls_state s)
{
	static const char *const n[] = {"joining", "joined", "failed", "leaving", "gone"};
	return (unsigned)s < SM_ARRAY_SIZE(n) ? n[s] : "?";
}

/* "PATH[:OFFSET]" with PATH made absolute and symlinks resolved, so the same
 * volume is recognized however it is named. */
static int canonical_volume(const char *spec, char *out, size_t len, bool may_be_missing)
{
	char *path = NULL;
	uint64_t off = 0;
	int rc = sm_disk_parse_location(spec, &path, &off);
	if (rc < 0)
		return rc;
	char real[PATH_MAX];
	if (!realpath(path, real)) {
		rc = -errno;
		/* a missing member of a volume set: its absolute name as given */
		if (!may_be_missing || path[0] != '/' || strlen(path) >= sizeof(real)) {
			free(path);
			return rc;
		}
		snprintf(real, sizeof(real), "%s", path);
	}
	free(path);
	if ((size_t)snprintf(out, len, "%s:%llu", real, (unsigned long long)off) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int ls_canonical_volume(const char *spec, char *out, size_t len)
{
	return canonical_volume(spec, out, len, false);
}

static int cmp_str(const void *a, const void *b) { return strcmp(a, b); }

/* A volume's canonical name; for a volume set "A,B,C" its members' canonical
 * names in sorted order, so a set is recognized whatever order the members
 * are named in (sm_lockspace_open_spec places them by their headers). */
static int canonical_location(const char *spec, char *out, size_t len)
{
	if (!strchr(spec, ','))
		return canonical_volume(spec, out, len, false);
	char m[SM_SET_SIZE][SM_LOCATION_MAX];
	int n = 0;
	const char *p = spec;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t l = comma ? (size_t)(comma - p) : strlen(p);
		char one[SM_LOCATION_MAX];
		if (n == SM_SET_SIZE || l == 0 || l >= sizeof(one))
			return -SM_EBAD_ARGUMENT;
		memcpy(one, p, l);
		one[l] = '\0';
		int rc = canonical_volume(one, m[n], sizeof(m[n]), true);
		if (rc < 0)
			return rc;
		n++;
		if (!comma)
			break;
		p = comma + 1;
	}
	if (n != SM_SET_SIZE)
		return -SM_EBAD_ARGUMENT;
	qsort(m, (size_t)n, sizeof(m[0]), cmp_str);
	if ((size_t)snprintf(out, len, "%s,%s,%s", m[0], m[1], m[2]) >= len)
		return -ENAMETOOLONG;
	return 0;
}

struct ls_entry *ls_find(struct daemon *d, const char *name)
{
	for (struct ls_entry *e = d->lockspaces; e; e = e->next)
		if (e->state != LS_GONE && e->name[0] && strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

struct ls_entry *ls_find_location(struct daemon *d, const char *location)
{
	char canon[SM_LOCATION_MAX];
	if (canonical_location(location, canon, sizeof(canon)) < 0)
		return NULL;
	for (struct ls_entry *e = d->lockspaces; e; e = e->next)
		if (e->state != LS_GONE && strcmp(e->location, canon) == 0)
			return e;
	return NULL;
}

void ls_get(struct ls_entry *e)
{
	e->refs++;
}

bool ls_start_fencing(struct ls_entry *e)
{
	if (e->fencing)
		return false;
	e->fencing = true;
	e->state = LS_FAILED;
	e->fence_started_mono = mono_ms();
	return true;
}

bool ls_fence_grace_over(struct ls_entry *e, uint64_t now_mono)
{
	if (e->sigkill_sent || now_mono - e->fence_started_mono < e->to.kill_grace_ms)
		return false;
	e->sigkill_sent = true;
	return true;
}

void ls_put(struct ls_entry *e)
{
	if (--e->refs > 0)
		return;
	sm_lockspace_free(e->ls);
	sm_lockspace_free(e->thr.t_ls);
	pthread_mutex_destroy(&e->thr.progress_mu);
	pthread_mutex_destroy(&e->thr.wake_mu);
	pthread_cond_destroy(&e->thr.wake_cv);
	free(e);
}

void ls_get_me(struct ls_entry *e, struct sm_me *me)
{
	if (e->ls)
		sm_lockspace_me(e->ls, &me->host_id, &me->generation, NULL);
	else
		*me = (struct sm_me){0, 0};
}

bool ls_fresh(struct ls_entry *e)
{
	return e->state == LS_JOINED && ls_valid(e);
}

bool ls_valid(struct ls_entry *e)
{
	if (!e->ls)
		return false;
	struct sm_lockspace_info info;
	sm_lockspace_info(e->ls, &info);
	return info.joined && !info.lost && sm_lockspace_remaining_ms(e->ls) > 0;
}

static struct ls_entry *new_entry(struct daemon *d, const char *canon)
{
	struct ls_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->d = d;
	e->refs = 1;
	pthread_mutex_init(&e->thr.progress_mu, NULL);
	pthread_mutex_init(&e->thr.wake_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->thr.wake_cv, &ca);
	pthread_condattr_destroy(&ca);
	snprintf(e->location, sizeof(e->location), "%s", canon);
	e->state = LS_JOINING;
	e->join_started_mono = mono_ms();
	return e;
}

/* Check an opened volume's header against this host (no other lockspace of
 * that name, a watchdog no slower than the volume assumes); on success e
 * takes its name and timeouts. */
static int check_header(struct daemon *d, struct ls_entry *e)
{
	const struct sm_volume_header *h = sm_lockspace_header(e->ls);
	char name[SM_NAME_FIELD];
	snprintf(name, sizeof(name), "%s", h->lockspace);
	for (struct ls_entry *o = d->lockspaces; o; o = o->next)
		if (o != e && o->state != LS_GONE && strcmp(o->name, name) == 0) {
			sm_error("lockspace %s is already joined from %s", name, o->location);
			return -SM_EBUSY;
		}
	if (d->wd_kind != WD_NONE && h->watchdog_timeout_ms < d->wd_timeout_ms) {
		sm_error("lockspace %s was formatted for a %u ms watchdog, but this host's watchdog fires only after "
			 "%u ms: joining would let other hosts take over too early",
			 name, h->watchdog_timeout_ms, d->wd_timeout_ms);
		return -SM_ECONFIG;
	}
	struct sm_timeouts to;
	sm_timeouts_derive(h->io_timeout_ms, h->watchdog_timeout_ms, &to);
	if (h->fence_mode == SM_FENCE_PR)
		sm_timeouts_fence_pr(&to);
	/* wdmd stops its keepalives when an expiry is within its test interval:
	 * just before each renewal ours is F - R - P ahead, which must exceed it
	 * (with a second of wdmd's rounding to spare). */
	uint64_t need_ms = ((uint64_t)d->wdmd_test_interval_s + 2) * 1000;
	if (d->wd_kind == WD_WDMD && (uint64_t)to.fail_ms - to.renew_ms - to.pet_ms < need_ms) {
		sm_error("lockspace %s: io_timeout %u ms is too short for wdmd, which tests every %u s: F - R - P is "
			 "%u ms, it must be at least %llu ms (io_timeout %llu ms or more; volumes are formatted with "
			 "init --io-timeout)",
			 name, h->io_timeout_ms, d->wdmd_test_interval_s, to.fail_ms - to.renew_ms - to.pet_ms,
			 (unsigned long long)need_ms, (unsigned long long)(need_ms + to.pet_ms + 5) / 6);
		return -SM_ECONFIG;
	}
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->to = to;
	return 0;
}

/* Open the volume here, synchronously: only for the resume of an older
 * daemon's state file at startup, before the loop runs (joins and other
 * resumes read the header in their thread). */
static int open_entry(struct daemon *d, struct ls_entry *e)
{
	int rc = sm_lockspace_open_spec(e->location, &e->ls);
	return rc < 0 ? rc : check_header(d, e);
}



int ls_join(struct daemon *d, const char *location, uint32_t host_id, const char *host_name, struct ls_entry **out)
{
	*out = NULL;
	int rc = d->on.join_check(d, location);
	if (rc < 0)
		return rc;
	char canon[SM_LOCATION_MAX];
	rc = canonical_location(location, canon, sizeof(canon));
	if (rc < 0)
		return rc;
	struct ls_entry *e = ls_find_location(d, location);
	if (e && e->state == LS_LEAVING) {
		sm_error("lockspace %s is still being left; join it again once that has finished", e->name);
		return -SM_EBUSY;
	}
	if (e) {
		*out = e;
		return e->state == LS_JOINED ? 0 : 1; /* already there, or on its way */
	}
	e = new_entry(d, canon);
	if (!e)
		return -ENOMEM;
	e->want_host_id = host_id;
	const char *hn = host_name && *host_name ? host_name : d->cfg.host_name;
	snprintf(e->want_host_name, sizeof(e->want_host_name), "%s", hn);
	e->needs_open = true; /* its thread reads the header (opened() checks it) */
	if ((rc = ls_thread_start(e)) < 0) {
		ls_put(e);
		return rc;
	}
	e->next = d->lockspaces;
	d->lockspaces = e;
	sm_info("reading the header of %s to join its lockspace%s", e->location, host_id ? "" : " (host_id by name)");
	*out = e;
	return 1;
}

/* F has passed since the last good renewal recorded for resumed e (by
 * e->to: the state file's timeouts, then the header's), or it is unknown. */
static bool resume_expired(const struct ls_entry *e, uint64_t now_boot)
{
	uint64_t last = e->resume_last_renewal_boot;
	return !last || last > now_boot || now_boot - last >= e->to.fail_ms;
}

int64_t ls_resume_left_ms(struct ls_entry *e)
{
	uint64_t now = sm_now_boot_ms(), last = e->resume_last_renewal_boot;
	if (resume_expired(e, now))
		return 0;
	return (int64_t)(last + e->to.fail_ms - now);
}

/* The header of a resumed lockspace, read by its thread: it must be the
 * lockspace the state file named, fit this host, and F must not have passed
 * since the recorded renewal by its timeouts.  Else e is fenced. */
static int check_resumed_header(struct daemon *d, struct ls_entry *e)
{
	const struct sm_volume_header *h = sm_lockspace_header(e->ls);
	if (strncmp(h->lockspace, e->name, sizeof(e->name)) != 0) {
		sm_error("lockspace %s: its volume %s now holds lockspace %.*s (formatted again?); not resuming it",
			 e->name, e->location, SM_NAME_FIELD - 1, h->lockspace);
		d->on.ls_failed(d, e, "its volume holds another lockspace now");
		return -SM_EWRONG_LOCKSPACE;
	}
	int rc = check_header(d, e); /* the header's timeouts replace the file's */
	if (rc < 0) {
		d->on.ls_failed(d, e, "its volume header does not fit this host");
		return rc;
	}
	if (resume_expired(e, sm_now_boot_ms())) {
		sm_error("lockspace %s: no renewal for F while no daemon ran; not resuming it", e->name);
		d->on.ls_failed(d, e, "its leases expired while no daemon was running");
		return -SM_EINTERRUPTED;
	}
	return 0;
}

/* The thread of e has read the volume header (or failed to): take it, check
 * it, and tell the thread whether to join. */
static void opened(struct daemon *d, struct ls_entry *e)
{
	e->opened = true;
	int rc = atomic_load(&e->thr.open_rc);
	if (rc == 0) {
		e->ls = e->thr.t_ls;
		e->thr.t_ls = NULL;
		rc = e->state != LS_JOINING ? -SM_EINTERRUPTED : e->resume ? check_resumed_header(d, e) : check_header(d, e);
	}
	e->open_rc = rc;
	if (rc == 0) {
		ls_remember_lockspace(d, e);
		sm_info("%s lockspace %s on %s", e->resume ? "resuming" : "joining", e->name, e->location);
	}
	atomic_store(&e->thr.go, rc == 0 ? 1 : rc);
	ls_thread_wake(e);
}

/* Resume a lockspace the previous daemon had joined (state.c).  If F has
 * passed since that daemon's last good renewal started (or it was already
 * failing), other hosts may own our leases by now: do not renew, fence.
 * With the name and timeouts from the file, its thread reads the header
 * (opened() checks it, ls_tick fences at F if it does not come). */
int ls_resume(struct daemon *d, const char *location, uint32_t host_id, uint64_t generation,
	      const uint8_t instance[16], uint64_t last_renewal_boot, bool failed, const char *name,
	      uint32_t io_timeout_ms, uint32_t watchdog_timeout_ms, struct ls_entry **out)
{
	struct ls_entry *e = new_entry(d, location);
	if (!e)
		return -ENOMEM;
	e->resume = true;
	e->resume_host_id = host_id;
	e->resume_generation = generation;
	memcpy(e->resume_instance, instance, 16);
	e->resume_last_renewal_boot = last_renewal_boot;
	int rc = 0;
	if (name && io_timeout_ms && watchdog_timeout_ms) {
		snprintf(e->name, sizeof(e->name), "%s", name);
		sm_timeouts_derive(io_timeout_ms, watchdog_timeout_ms, &e->to);
		e->needs_open = true;
	} else {
		rc = open_entry(d, e); /* an older daemon's file: the name is in the header only */
	}
	if (rc < 0) {
		ls_put(e);
		return rc;
	}
	bool expired = failed || resume_expired(e, sm_now_boot_ms());
	if (expired) {
		sm_error("lockspace %s: %s; not resuming it", e->name,
			 failed ? "it was failing when the previous daemon stopped"
				: "no renewal for F while no daemon ran");
		e->state = LS_FAILED;
		atomic_store(&e->thr.join_done, true);
		atomic_store(&e->thr.exited, true);
		/* keep the membership object so a leave can be written later */
		if (e->ls)
			sm_lockspace_adopt(e->ls, host_id, generation);
	} else if ((rc = ls_thread_start(e)) < 0) {
		ls_put(e);
		return rc;
	}
	if (e->needs_open && !expired)
		sm_info("resuming lockspace %s: reading the header of %s", e->name, e->location);
	e->next = d->lockspaces;
	d->lockspaces = e;
	ls_remember_lockspace(d, e);
	*out = e;
	return 0;
}

int ls_leave(struct daemon *d, struct ls_entry *e, bool force)
{
	int held = 0;
	for (struct lease *l = d->lt.head; l; l = l->next)
		if (l->ls == e)
			held += l->holders != NULL;
	if (held && !force)
		return -SM_EBUSY;
	if (held)
		d->on.ls_failed(d, e, "left by force with leases held");
	/* Our slot is written free (ls_tick) only once no lease of ours is
	 * left here: fenced holders dead, releases on disk done.  A free slot
	 * lets every other host take our leases at once. */
	e->state = LS_LEAVING;
	e->leave_when_free = true;
	state_touch_ls(d);
	return 0;
}

static void reply_waiters(struct daemon *d, struct ls_entry *e, int rc)
{
	for (int i = 0; i < e->nwaiters; i++) {
		struct conn *c = conn_find(d, e->waiter_ids[i]);
		if (!c)
			continue;
		if (rc == 0) {
			struct sm_msgbuf b;
			sm_mb_init(&b);
			sm_mb_str(&b, SM_T_LOCKSPACE, e->name);
			conn_reply(c, 0, &b);
		} else if (e->name[0]) {
			conn_reply_error(c, rc, 0, "cannot join lockspace %s: %s", e->name, sm_strerror(rc));
		} else {
			conn_reply_error(c, rc, 0, "cannot join the lockspace of %s: %s", e->location, sm_strerror(rc));
		}
	}
	e->nwaiters = 0;
}

/* The leave finished: our slot is free, or writing it failed (then other
 * hosts see us dead after H, which is safe: we hold no leases there). */
static void reply_leave_waiters(struct daemon *d, struct ls_entry *e)
{
	int rc = atomic_load(&e->thr.leave_rc);
	for (int i = 0; i < e->nleave_waiters; i++) {
		struct conn *c = conn_find(d, e->leave_waiter_ids[i]);
		if (!c)
			continue;
		struct sm_msgbuf b;
		sm_mb_init(&b);
		sm_mb_str(&b, SM_T_LOCKSPACE, e->name);
		sm_mb_str(&b, SM_T_MESSAGE,
			  rc == 0 ? "left; its host_id is free"
				  : "left, but marking its host_id free failed; other hosts will see this host dead after H");
		conn_reply(c, 0, &b);
	}
	e->nleave_waiters = 0;
}

static void reply_waiters(struct daemon *d, struct ls_entry *e, int rc);

/* No join waiter is ever left without a reply: the entry goes away. */
static void unlink_entry(struct daemon *d, struct ls_entry *e)
{
	if (e->nwaiters)
		reply_waiters(d, e, e->join_error < 0 ? e->join_error : -SM_ENOT_JOINED);
	for (struct ls_entry **pp = &d->lockspaces; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	e->state = LS_GONE;
	ls_put(e);
}

static void reap_thread(struct ls_entry *e)
{
	if (e->thread_running && atomic_load(&e->thr.exited)) {
		pthread_join(e->thread, NULL);
		e->thread_running = false;
	}
}

/* Try the rejoin of loc again in 2 s (its volume could not be opened). */
static void retry_rejoin_later(struct daemon *d, const char *loc, uint32_t host_id)
{
	if (d->nrejoin < (int)SM_ARRAY_SIZE(d->rejoin)) {
		snprintf(d->rejoin[d->nrejoin].location, SM_LOCATION_MAX, "%s", loc);
		d->rejoin[d->nrejoin].host_id = host_id;
		d->rejoin[d->nrejoin].next_mono = mono_ms() + 2000;
		d->nrejoin++;
	}
}

/* Start rejoining loc as host_id: its thread reads the header; if that
 * fails, the join failure retries it (ls_tick). */
static void start_rejoin(struct daemon *d, const char *loc, uint32_t host_id, const char *name)
{
	struct ls_entry *e;
	int rc = ls_join(d, loc, host_id, NULL, &e);
	if (rc >= 0) {
		e->rejoin = true;
		e->paced = true;
		sm_warn("rejoining lockspace %s as host_id %u (waits H for our old record to expire)", name, host_id);
		return;
	}
	sm_error("cannot rejoin the lockspace at %s yet: %s (retrying)", loc, sm_strerror(rc));
	retry_rejoin_later(d, loc, host_id);
}

static void rejoin(struct daemon *d, struct ls_entry *old)
{
	char loc[SM_LOCATION_MAX], name[SM_NAME_FIELD];
	snprintf(loc, sizeof(loc), "%s", old->location);
	snprintf(name, sizeof(name), "%s", old->name);
	uint32_t id = 0;
	uint64_t gen = 0;
	if (old->ls)
		sm_lockspace_me(old->ls, &id, &gen, NULL);
	if (!id)
		id = old->resume ? old->resume_host_id : old->want_host_id;
	/* A join asked for while the old membership was failing waits for
	 * the rejoin (it found the old entry "on its way"). */
	uint64_t waiters[SM_ARRAY_SIZE(old->waiter_ids)];
	int nw = old->nwaiters;
	memcpy(waiters, old->waiter_ids, sizeof(waiters));
	old->nwaiters = 0;
	unlink_entry(d, old);
	start_rejoin(d, loc, id, name);
	struct ls_entry *e = ls_find_location(d, loc);
	for (int i = 0; i < nw; i++) {
		if (e && e->state == LS_JOINING && e->nwaiters < (int)SM_ARRAY_SIZE(e->waiter_ids)) {
			e->waiter_ids[e->nwaiters++] = waiters[i];
			continue;
		}
		struct conn *c = conn_find(d, waiters[i]);
		if (c)
			conn_reply_error(c, -SM_ENOT_JOINED, 0,
					 "lockspace %s failed and could not be rejoined yet (retrying; see 'sync_manager status')",
					 name);
	}
}

static void retry_rejoins(struct daemon *d)
{
	uint64_t now = mono_ms();
	for (int i = 0; i < d->nrejoin;) {
		if (now < d->rejoin[i].next_mono || d->quitting) {
			i++;
			continue;
		}
		char loc[SM_LOCATION_MAX];
		uint32_t id = d->rejoin[i].host_id;
		snprintf(loc, sizeof(loc), "%s", d->rejoin[i].location);
		d->rejoin[i] = d->rejoin[--d->nrejoin];
		start_rejoin(d, loc, id, loc); /* a failure appends it again, due later */
	}
}

/* The file must stop listing e before its slot is written free: a restart
 * would otherwise resume a lockspace we left (its record gone: fenced, and
 * rejoined).  Until that can be written, e stays joined and renewing. */
static bool record_leave(struct daemon *d, struct ls_entry *e)
{
	int rc = state_save(d);
	if (rc == 0) {
		ls_thread_stop(e, LS_STOP_LEAVE);
		return true;
	}
	for (int i = 0; i < e->nleave_waiters; i++) {
		struct conn *c = conn_find(d, e->leave_waiter_ids[i]);
		if (c)
			conn_reply_error(c, rc, 0,
					 "cannot record the leave in %s/state: %s; lockspace %s stays joined until it "
					 "can be recorded (retried)",
					 d->cfg.run_dir, strerror(-rc), e->name);
	}
	e->nleave_waiters = 0;
	return false;
}

/* When ls_tick must look at e again although no event came (now: mono_ms()).
 * Its thread wakes the loop for everything it does (an open, a join, each
 * renewal, a death check, its exit); what only time brings is F (fencing),
 * the warning before it, and a resume that does not finish.  A lockspace
 * failing or being left waits for things it polls: it is looked at every
 * SM_POLL_MS, as with the old fixed tick. */
static uint64_t next_look(const struct ls_entry *e, uint64_t now)
{
	switch (e->state) {
	case LS_JOINING:
		if (e->resume && !atomic_load(&e->thr.join_done))
			return now + (uint64_t)SM_MAX(ls_resume_left_ms((struct ls_entry *)e), (int64_t)0);
		return SM_NO_DEADLINE;
	case LS_JOINED: {
		int64_t rem = sm_lockspace_remaining_ms(e->ls);
		int64_t warn_below = SM_MAX((int64_t)e->to.fail_ms - 2 * (int64_t)e->to.renew_ms - (int64_t)e->to.io_ms,
					    (int64_t)0); /* never a deadline past F */
		if (rem <= 0)
			return now;
		if (rem > warn_below)
			return now + (uint64_t)(rem - warn_below);
		return now + (uint64_t)SM_MIN(rem, (int64_t)SM_POLL_MS); /* warned every 5 s until F */
	}
	case LS_FAILED:
	case LS_LEAVING: return now + SM_POLL_MS;
	case LS_GONE: break;
	}
	return SM_NO_DEADLINE;
}

uint64_t ls_tick(struct daemon *d)
{
	uint64_t now = mono_ms();
	retry_rejoins(d);
	ls_probe_tick(d);
	for (struct ls_entry *e = d->lockspaces, *next; e; e = next) {
		next = e->next;
		reap_thread(e);
		if (e->needs_open && !e->opened && atomic_load(&e->thr.open_done))
			opened(d, e);
		metrics_count_renewals(e);
		switch (e->state) {
		case LS_JOINING:
			/* A resume whose header or record check does not come: its
			 * leases are not renewed; fence by F after the recorded renewal. */
			if (e->resume && !atomic_load(&e->thr.join_done) && ls_resume_left_ms(e) <= 0) {
				d->on.ls_failed(d, e, e->ls ? "our record could not be checked within F of the last renewal"
							    : "its volume header could not be read within F of the last renewal");
				break;
			}
			if (!atomic_load(&e->thr.join_done))
				break;
			if (atomic_load(&e->thr.join_rc) == 0) {
				struct sm_lockspace_info info;
				sm_lockspace_info(e->ls, &info);
				e->state = LS_JOINED;
				state_touch_ls(d);
				sm_info("lockspace %s %s as host_id %u generation %llu", e->name,
					e->resume ? "resumed" : "joined", info.host_id, (unsigned long long)info.generation);
				reply_waiters(d, e, 0);
				d->on.ls_ready(d, e);
			} else if (e->resume) {
				e->join_error = atomic_load(&e->thr.join_rc);
				sm_error("lockspace %s: resuming failed: %s", e->name, sm_strerror(e->join_error));
				reply_waiters(d, e, e->join_error);
				/* Our leases in it can no longer be trusted. */
				d->on.ls_failed(d, e, "it could not be resumed after the restart");
			} else if (!e->thread_running) { /* once, when its thread has ended */
				e->join_error = atomic_load(&e->thr.join_rc);
				if (e->open_rc < 0)
					sm_error("cannot join the lockspace of %s: %s%s", e->location,
						 sm_strerror(e->join_error), e->rejoin && !d->quitting ? " (retrying)" : "");
				else
					sm_error("lockspace %s: join failed: %s", e->name, sm_strerror(e->join_error));
				reply_waiters(d, e, e->join_error);
				if (e->rejoin && e->open_rc < 0)
					retry_rejoin_later(d, e->location, e->want_host_id);
				unlink_entry(d, e);
			}
			break;
		case LS_JOINED: {
			struct sm_lockspace_info info;
			sm_lockspace_info(e->ls, &info);
			/* Persist each good renewal (a tiny append every R): a daemon
			 * killed now must not come back believing F has passed. */
			if (info.last_renewal_boot_ms != e->persisted_renewal_boot_ms)
				state_touch_ls(d);
			int64_t rem = sm_lockspace_remaining_ms(e->ls);
			if (info.fenced)
				d->on.ls_failed(d, e, "another host preempted this host's key: fenced by persistent reservation "
						      "(its writes to the lockspace's devices are refused)");
			else if (info.lost)
				d->on.ls_failed(d, e, "another host took our host_id");
			else if (rem <= 0)
				d->on.ls_failed(d, e, "no successful renewal for F");
			else if (rem < (int64_t)(e->to.fail_ms - 2 * e->to.renew_ms - e->to.io_ms) &&
				 now - e->last_warned_mono > 5000) {
				/* more than 2R + d since the last good renewal started:
				 * at least one renewal failed or took its whole timeout */
				e->last_warned_mono = now;
				sm_warn("lockspace %s: renewals failing, leases expire in %lld ms", e->name, (long long)rem);
			}
			break;
		}
		case LS_FAILED: {
			bool any = false;
			for (struct lease *l = d->lt.head; l; l = l->next)
				if (l->ls == e)
					any = true;
			if (any)
				break;
			if (e->fencing) {
				e->fencing = false;
				sm_warn("lockspace %s: fencing complete, no process holds its leases", e->name);
				struct sm_lockspace_info info = {0};
				if (e->ls)
					sm_lockspace_info(e->ls, &info);
				/* leaving tells others our leases are dead; a fenced host
				 * cannot write, and rejoins with a new key */
				ls_thread_stop(e, info.lost || info.fenced ? LS_STOP_KEEP : LS_STOP_LEAVE);
			}
			if (!atomic_load(&e->thr.exited) || e->thread_running)
				break;
			if (d->cfg.auto_rejoin && !d->quitting)
				rejoin(d, e);
			else
				unlink_entry(d, e);
			state_touch_ls(d);
			break;
		}
		case LS_LEAVING:
			if (e->leave_when_free) {
				bool any = false;
				for (struct lease *l = d->lt.head; l && !any; l = l->next)
					any = l->ls == e;
				if (any)
					break;
				e->leave_when_free = false;
				state_touch_ls(d); /* the file drops it (state.c) */
			}
			if (atomic_load(&e->thr.stop) == LS_RUN && !record_leave(d, e))
				break;
			if (!e->thread_running && atomic_load(&e->thr.exited)) {
				sm_info("left lockspace %s", e->name);
				reply_waiters(d, e, -SM_EINTERRUPTED); /* a join the leave cancelled */
				reply_leave_waiters(d, e);
				unlink_entry(d, e);
				state_touch_ls(d);
			}
			break;
		case LS_GONE: break;
		}
	}
	uint64_t next = SM_NO_DEADLINE;
	for (int i = 0; i < d->nrejoin; i++)
		next = deadline_min(next, d->rejoin[i].next_mono);
	now = mono_ms();
	for (struct ls_entry *e = d->lockspaces; e; e = e->next)
		next = deadline_min(next, next_look(e, now));
	return next;
}

void ls_stop_all(struct daemon *d, bool leave)
{
	for (struct ls_entry *e = d->lockspaces; e; e = e->next)
		ls_thread_stop(e, leave ? LS_STOP_LEAVE : LS_STOP_KEEP);
	for (struct ls_entry *e = d->lockspaces; e; e = e->next)
		if (e->thread_running) {
			pthread_join(e->thread, NULL);
			e->thread_running = false;
		}
}
