/* Orphaned leases: on disk they name this host (its host_id and current
 * generation), but no process here holds them and no job of ours works on
 * them.  Every other host is refused them for as long as this host lives,
 * so they are found and released (docs/algorithms.md §3, "Orphaned leases").
 *
 * Where they come from: a daemon killed between an acquire on disk and the
 * state save that records it, then restarted within F (it resumes the
 * lockspace with the same generation, knowing nothing of that lease); a
 * hand-off that landed after its receiver stopped waiting (its last read
 * failed); anything else that leaves the disk ahead of the daemon.
 *
 * How they are found, at a bounded cost (all reads in worker threads, never
 * on the loop; the leader and our own sector per resource, sm_paxos_mine, in
 * one read for a low host_id, never the area):
 *  - after events that can leave one: a resumed lockspace is swept whole at
 *    once (batches back to back); a failed receive has its resource checked
 *    at once and again after the owner's hand-off window;
 *  - in the background, a slow sweep of every lockspace:
 *    ORPHAN_SLOW_SWEEP_AREAS areas every ORPHAN_SLOW_GAP_MS, one small read
 *    each (1.6 reads per second, in one burst every 30 s so that the workers
 *    and the loop wake rarely; a pass over 1024 resources takes about 11
 *    minutes).
 *
 * Races: a lease is taken as an orphan only if the local lease table has no
 * entry for it when the result comes back (an entry exists while any job of
 * ours, acquire, receive, release, resolve, runs on it, parked or not, and
 * while anything holds it), only in a lockspace still joined with the
 * generation the check read with.  It then gets an entry marked busy by its
 * release job, so a later acquire of ours waits for the release.  A lease
 * that changed on disk since the check read it is not ours at that version
 * any more: the release checks it (sm_paxos_release) and writes nothing. */
#include "orphans.h"

#include "jobs.h"
#include "leasetab.h"
#include "lockspaces.h"
#include "state.h"

#include "common/log.h"
#include "common/util.h"
#include "lease/paxos.h"
#include "sync_manager/errors.h"

#include <stdio.h>
#include <string.h>

#define ORPHAN_FOUND_MAX 8          /* found leases per sweep batch */
#define ORPHAN_FAST_GAP_MS 100      /* between batches of a sweep run for an event */
#define ORPHAN_SLOW_GAP_MS 30000    /* between batches of the background sweep */

void orphans_check(struct daemon *d, struct ls_entry *e, const char *name, uint64_t delay_ms)
{
	(void)d;
	int n = e->orphans.nnames;
	if (n == (int)SM_ARRAY_SIZE(e->orphans.names)) {
		orphans_sweep_now(e); /* too many at once: look at everything */
		return;
	}
	snprintf(e->orphans.names[n], SM_NAME_FIELD, "%s", name);
	e->orphans.names_at[n] = mono_ms() + delay_ms;
	e->orphans.nnames++;
}

void orphans_sweep_now(struct ls_entry *e)
{
	e->orphans.cursor = 0;
	e->orphans.fast = true;
	e->orphans.next_mono = 0;
}

static bool checkable(struct ls_entry *e)
{
	return e->state == LS_JOINED && !e->fencing && ls_fresh(e);
}

static void submit(struct daemon *d, struct ls_entry *e, struct job *j, const struct sm_me *me)
{
	for (int i = 0; i < j->nres; i++) {
		j->res[i].me = *me;
		if (j->res[i].name[0] || i == 0)
			job_res_set_ls(&j->res[i], e);
	}
	e->orphans.running = true;
	jobs_submit(d, j);
}

/* The named checks that are due, in one job; false if none is. */
static bool start_named(struct daemon *d, struct ls_entry *e, const struct sm_me *me, uint64_t now)
{
	int due = 0;
	for (int i = 0; i < e->orphans.nnames; i++)
		due += e->orphans.names_at[i] <= now;
	struct job *j = due ? job_new(JOB_ORPHANS, due) : NULL;
	if (!j)
		return false;
	int k = 0;
	for (int i = 0; i < e->orphans.nnames;) {
		if (e->orphans.names_at[i] > now) {
			i++;
			continue;
		}
		snprintf(j->res[k++].name, SM_NAME_FIELD, "%s", e->orphans.names[i]);
		int last = --e->orphans.nnames;
		memcpy(e->orphans.names[i], e->orphans.names[last], SM_NAME_FIELD);
		e->orphans.names_at[i] = e->orphans.names_at[last];
	}
	submit(d, e, j, me);
	return true;
}

/* When e's next check is due (named checks, the sweep's next batch). */
static uint64_t next_check(const struct ls_entry *e)
{
	uint64_t next = e->orphans.next_mono;
	for (int i = 0; i < e->orphans.nnames; i++)
		next = deadline_min(next, e->orphans.names_at[i]);
	return next;
}

uint64_t orphans_tick(struct daemon *d)
{
	uint64_t now = mono_ms(), next = SM_NO_DEADLINE;
	for (struct ls_entry *e = d->lockspaces; e; e = e->next) {
		/* a check running ends with an event; a lockspace becomes
		 * checkable by events (its join, its thread's renewals) */
		if (e->orphans.running || !checkable(e))
			continue;
		struct sm_me me;
		ls_get_me(e, &me);
		if (me.generation != e->orphans.generation) {
			/* newly joined (nothing can name a new generation yet) or
			 * resumed (orphans_sweep_now was called): start over */
			e->orphans.generation = me.generation;
			e->orphans.cursor = 0;
			if (!e->orphans.fast)
				e->orphans.next_mono = now + ORPHAN_SLOW_GAP_MS;
		}
		if (start_named(d, e, &me, now) || now < e->orphans.next_mono) {
			if (!e->orphans.running)
				next = deadline_min(next, next_check(e));
			continue;
		}
		struct job *j = job_new(JOB_ORPHANS, 1 + ORPHAN_FOUND_MAX);
		if (!j) {
			next = deadline_min(next, now + SM_POLL_MS);
			continue;
		}
		j->cursor = e->orphans.cursor;
		j->kind_arg = e->orphans.fast ? ORPHAN_SWEEP_AREAS : ORPHAN_SLOW_SWEEP_AREAS;
		submit(d, e, j, &me);
	}
	return next;
}

/* r names a lease that is ours on disk: release it unless something of ours
 * has it (see the top of this file). */
static void adopt(struct daemon *d, struct ls_entry *e, const struct job_res *r)
{
	struct sm_me me;
	ls_get_me(e, &me);
	if (d->quitting || !checkable(e) || me.host_id != r->me.host_id || me.generation != r->me.generation ||
	    lease_find(d, e, r->name))
		return;
	struct lease *l = lease_new(d, e, r->name);
	if (!l)
		return;
	static const char *const what[] = {"", "exclusive", "shared", "in doubt (our ballot for a later version)"};
	sm_warn("%s:%s is held on disk by this host (host_id %u generation %llu, %s at lver %llu) but by no process "
		"here, and no request works on it: an orphan that would block every other host for as long as this "
		"one lives; releasing it",
		e->name, r->name, me.host_id, (unsigned long long)me.generation, what[r->mine],
		(unsigned long long)r->out.lver);
	l->orphan = true;
	if (r->mine == MINE_DOUBT) {
		l->in_doubt = true;
	} else {
		l->on_disk = true;
		l->held = (struct sm_lease){.lver = r->out.lver, .mode = r->mine == MINE_EX ? SM_MODE_EX : SM_MODE_SH,
					    .owner_id = me.host_id, .owner_generation = me.generation};
	}
	state_touch_lease(d, l);
	d->on.lease_unheld(d, l);
}

void orphans_complete(struct daemon *d, struct job *j)
{
	struct ls_entry *e = j->res[0].ls;
	e->orphans.running = false;
	bool sweep = !j->res[0].name[0];
	if (sweep) {
		uint64_t now = mono_ms();
		if (j->rc < 0)
			sm_warn("lockspace %s: cannot look for orphaned leases: %s (retrying later)", e->name,
				sm_strerror(j->rc));
		e->orphans.cursor = j->rc < 0 ? e->orphans.cursor : j->cursor;
		if (e->orphans.cursor == 0 && j->rc == 0) {
			if (e->orphans.fast)
				sm_info("lockspace %s: looked for orphaned leases in all its resources", e->name);
			e->orphans.fast = false;
		}
		e->orphans.next_mono = now + (e->orphans.fast && j->rc == 0 ? ORPHAN_FAST_GAP_MS : ORPHAN_SLOW_GAP_MS);
	}
	for (int i = sweep ? 1 : 0; i < j->nres; i++)
		if (j->res[i].mine)
			adopt(d, e, &j->res[i]);
	job_free(j);
}

void orphans_settled(struct daemon *d, struct lease *l, int rc)
{
	(void)d;
	l->orphan = false;
	if (rc == 0) {
		l->ls->orphans.released++;
		sm_warn("%s:%s: the orphaned lease is released", l->ls->name, l->ref.name);
	} else if (rc == -SM_ENOT_OWNER) {
		sm_info("%s:%s: the orphaned lease changed on disk before its release: not ours any more", l->ls->name,
			l->ref.name);
	} else {
		sm_warn("%s:%s: releasing the orphaned lease failed: %s (retrying)", l->ls->name, l->ref.name,
			sm_strerror(rc));
		l->orphan = true; /* still counted when a retry releases it */
	}
}
