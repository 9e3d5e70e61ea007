/* Loop side of lease jobs: deciding what a job must do against the local
 * lease table when it can start, and applying its results.
 *
 * Rules enforced here, before any disk I/O:
 * - at most one disk job per lease at a time (two ballots of one host on
 *   one dblock would break Disk Paxos): others park until it is free;
 * - a lease this host holds is shared by local processes only in shared
 *   mode; any exclusive conflict is refused with the local holder named
 *   (Disk Paxos would see "owner = this host" and grant it again);
 * - a lease goes back to disk (release) only when its last holder is gone. */
#include "leaseops.h"

#include "conn.h"
#include "jobs.h"
#include "leasetab.h"
#include "lockspaces.h"
#include "metrics.h"
#include "orphans.h"
#include "procs.h"
#include "state.h"

#include "common/log.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum start_result { START_NOW, START_WAIT, START_DONE };

static void lease_unbind(struct daemon *d, struct job_res *r)
{
	struct lease *l = job_res_unbind_lease(r);
	if (l)
		lease_settle(d, l);
}

/* Unbind every lease of j, reply if it has a connection, free it. */
static void finish(struct daemon *d, struct job *j, struct sm_msgbuf *reply)
{
	/* A daemon killed right after this reply must come back knowing
	 * every process that may use a lease: any of the job's leases may
	 * have changed (unchanged records are not written again), and
	 * conn_reply() persists them before it sends.  With nobody to tell,
	 * save now all the same. */
	for (int i = 0; i < j->nres; i++)
		if (j->res[i].lease)
			state_touch_lease(d, j->res[i].lease);
	struct conn *c = j->conn_id ? conn_find(d, j->conn_id) : NULL;
	if (!c)
		state_save(d);
	if (c && j->rc >= 0) {
		conn_reply(c, 0, reply);
	} else {
		if (c)
			conn_reply_error(c, j->rc, j->owner, "%s", j->message[0] ? j->message : sm_strerror(j->rc));
		if (reply)
			sm_mb_free(reply);
	}
	for (int i = 0; i < j->nres; i++)
		lease_unbind(d, &j->res[i]);
	job_free(j);
}

static struct proc *job_proc(struct daemon *d, struct job *j)
{
	struct proc *p = j->pid ? proc_find(d, j->pid) : NULL;
	if (p && (p->starttime != j->proc_start || p->state != PROC_ALIVE))
		return NULL;
	return p;
}

static const char *proc_label(struct proc *p, char *buf, size_t len)
{
	snprintf(buf, len, "process %d%s%s%s", (int)p->pid, p->name[0] ? " (" : "", p->name, p->name[0] ? ")" : "");
	return buf;
}

static enum start_result start_acquire(struct daemon *d, struct job *j)
{
	struct proc *p = job_proc(d, j);
	if (!p) {
		j->rc = -SM_ENOT_REGISTERED;
		snprintf(j->message, sizeof(j->message), "process %d is not registered (or has exited)", (int)j->pid);
		return START_DONE;
	}
	for (int i = 0; i < j->nres; i++) {
		struct job_res *r = &j->res[i];
		if (!ls_fresh(r->ls)) {
			j->rc = -SM_ENOT_JOINED;
			snprintf(j->message, sizeof(j->message), "lockspace %s is %s on this host", r->ls->name,
				 r->ls->state == LS_JOINED ? "failing (renewals late)" : ls_state_name(r->ls->state));
			return START_DONE;
		}
		struct lease *l = lease_find(d, r->ls, r->name);
		if (l && (l->busy || l->in_doubt))
			return START_WAIT;
	}
	for (int i = 0; i < j->nres; i++) {
		struct job_res *r = &j->res[i];
		struct lease *l = lease_find(d, r->ls, r->name);
		r->local_only = false;
		if (l && l->holders) {
			char who[96];
			if (lease_holder(l, p)) {
				j->rc = -SM_EBUSY;
				snprintf(j->message, sizeof(j->message), "%s already holds %s:%s",
					 proc_label(p, who, sizeof(who)), r->ls->name, r->name);
				return START_DONE;
			}
			if (r->mode == SM_MODE_EX || l->holders->mode == SM_MODE_EX) {
				struct sm_me me;
				ls_get_me(r->ls, &me);
				j->rc = r->mode == SM_MODE_EX && l->holders->mode == SM_MODE_SH ? -SM_ESHARED_HELD : -SM_EHELD;
				j->owner = me.host_id;
				snprintf(j->message, sizeof(j->message), "%s:%s is held %sby this host (host %u) for %s",
					 r->ls->name, r->name, l->holders->mode == SM_MODE_SH ? "shared " : "", me.host_id,
					 proc_label(l->holders->proc, who, sizeof(who)));
				return START_DONE;
			}
			/* No ballot checks the version for a local share: do it here,
			 * against the version this host holds. */
			if (r->at_version && l->held.lver != r->version) {
				j->rc = -SM_ELVER_MISMATCH;
				snprintf(j->message, sizeof(j->message), "%s:%s is at lease version %llu, not %llu",
					 r->ls->name, r->name, (unsigned long long)l->held.lver,
					 (unsigned long long)r->version);
				return START_DONE;
			}
			r->local_only = true; /* shared, and this host holds it shared already */
		}
		if (j->nres > 1)
			for (int k = 0; k < i; k++)
				if (j->res[k].ls == r->ls && strcmp(j->res[k].name, r->name) == 0) {
					j->rc = -SM_EBAD_ARGUMENT;
					snprintf(j->message, sizeof(j->message), "%s named twice", r->name);
					return START_DONE;
				}
	}
	if ((uint64_t)d->lt.nheld + (uint64_t)j->nres > d->cfg.max_leases) {
		j->rc = -SM_ETOO_BIG;
		snprintf(j->message, sizeof(j->message), "this host holds the maximum of %llu leases",
			 (unsigned long long)d->cfg.max_leases);
		return START_DONE;
	}
	for (int i = 0; i < j->nres; i++) {
		struct job_res *r = &j->res[i];
		struct lease *l = lease_find(d, r->ls, r->name);
		if (!l && !(l = lease_new(d, r->ls, r->name))) {
			j->rc = -ENOMEM;
			return START_DONE;
		}
		l->nlocations = r->nlocations;
		for (int k = 0; k < r->nlocations; k++)
			snprintf(l->location[k], SM_LOCATION_MAX, "%s", r->location[k]);
		state_touch_lease(d, l);
		job_res_bind_lease(r, l);
		if (!r->local_only)
			l->busy = true;
	}
	for (int i = 0; i < j->nres; i++)
		ls_get_me(j->res[i].ls, &j->res[i].me);
	return START_NOW;
}

static enum start_result start_simple(struct daemon *d, struct job *j)
{
	/* Work on behalf of a lockspace still being joined or resumed waits:
	 * until then we do not know our identity in it. */
	for (int i = 0; i < j->nres; i++)
		if (j->res[i].ls->state == LS_JOINING)
			return START_WAIT;
	for (int i = 0; i < j->nres; i++)
		if (!j->res[i].ls->ls) { /* its volume could not be opened */
			j->rc = -SM_ENOT_JOINED;
			snprintf(j->message, sizeof(j->message), "the lockspace of %s is not joined on this host",
				 j->res[i].ls->location);
			return START_DONE;
		}
	/* release, convert, resolve, receive, request, resource add/rm: one
	 * disk job per lease at a time */
	for (int i = 0; i < j->nres; i++) {
		struct lease *l = j->res[i].lease ? j->res[i].lease : lease_find(d, j->res[i].ls, j->res[i].name);
		if (l && l->busy)
			return START_WAIT;
	}
	for (int i = 0; i < j->nres; i++) {
		struct job_res *r = &j->res[i];
		struct lease *l = r->lease;
		if (j->kind == JOB_RELEASE) {
			/* It may have gained a holder or been settled while parked.
			 * Nothing is written for a lockspace whose delta lease is no
			 * longer ours (failed, fenced): the lease expires with it, and
			 * the release is done as far as the process is concerned. */
			r->local_only = !l || l->holders || !l->on_disk || !ls_valid(r->ls);
			if (l && !r->local_only) {
				r->held = l->held;
				r->nlocations = l->nlocations;
				memcpy(r->location, l->location, sizeof(r->location));
			}
		}
		if (j->kind == JOB_RESOURCE_RM) {
			struct lease *held = lease_find(d, r->ls, r->name);
			if (held && (held->holders || held->on_disk)) {
				j->rc = -SM_EHELD;
				snprintf(j->message, sizeof(j->message), "%s:%s is held on this host; release it first",
					 r->ls->name, r->name);
				return START_DONE;
			}
		}
		if (l && !r->local_only)
			l->busy = true;
	}
	/* A release or resolve acts for the generation that holds the lease; the
	 * lockspace is unchanged while the lease exists (fencing drops it). */
	for (int i = 0; i < j->nres; i++)
		ls_get_me(j->res[i].ls, &j->res[i].me);
	return START_NOW;
}

static void park(struct daemon *d, struct job *j)
{
	j->next = NULL;
	struct job **pp = &d->waiting;
	while (*pp)
		pp = &(*pp)->next;
	*pp = j;
}

static bool all_local(const struct job *j)
{
	for (int i = 0; i < j->nres; i++)
		if (!j->res[i].local_only)
			return false;
	return true;
}

/* A release goes to disk only once the file no longer names a holder of
 * the lease: a restart would otherwise find a holder of a lease that is
 * not ours any more and fence its lockspace.  When that cannot be written,
 * the lease stays ours on disk (retried later) and the job fails. */
static int record_release(struct daemon *d, struct job *j)
{
	bool needed = false;
	for (int i = 0; i < j->nres; i++)
		if (j->res[i].lease && !j->res[i].local_only && j->res[i].lease->st.filed_holders)
			needed = true;
	int rc = needed ? state_save(d) : 0;
	if (rc == 0)
		return 0;
	for (int i = 0; i < j->nres; i++) {
		struct lease *l = j->res[i].lease;
		if (!l || j->res[i].local_only)
			continue;
		l->busy = false;
		l->retry_at_mono = mono_ms() + 1000;
	}
	j->rc = rc;
	snprintf(j->message, sizeof(j->message),
		 "cannot record the release in %s/state: %s; the lease stays held by this host until it can be "
		 "recorded",
		 d->cfg.run_dir, strerror(-rc));
	return rc;
}

/* Decide and submit; returns false if the job had to park. */
static bool try_start(struct daemon *d, struct job *j)
{
	enum start_result s = j->kind == JOB_ACQUIRE ? start_acquire(d, j) : start_simple(d, j);
	if (s == START_WAIT)
		return false;
	if (s == START_DONE) {
		if (j->kind == JOB_ACQUIRE)
			d->m.acquire_failures++;
		finish(d, j, NULL);
		return true;
	}
	if ((j->kind == JOB_ACQUIRE || j->kind == JOB_RELEASE) && all_local(j)) {
		leaseops_complete(d, j); /* nothing to do on disk */
		return true;
	}
	if (j->kind == JOB_RELEASE && record_release(d, j) < 0) {
		finish(d, j, NULL);
		return true;
	}
	jobs_submit(d, j);
	return true;
}

void leaseops_schedule(struct daemon *d, struct job *j)
{
	if (!try_start(d, j))
		park(d, j);
}

void leaseops_retry_parked(struct daemon *d)
{
	struct job *list = d->waiting;
	d->waiting = NULL;
	while (list) {
		struct job *j = list;
		list = j->next;
		if (!try_start(d, j))
			park(d, j);
	}
}

/* ---- applying results ----------------------------------------------------- */

static void put_lease_reply(struct sm_msgbuf *b, const struct job_res *r, const struct sm_lease *l)
{
	size_t g = sm_mb_begin(b, SM_T_RESOURCE);
	sm_mb_str(b, SM_T_LOCKSPACE, r->ls->name);
	sm_mb_str(b, SM_T_NAME, r->name);
	sm_mb_u64(b, SM_T_LVER, l->lver);
	sm_mb_u32(b, SM_T_MODE, l->mode);
	sm_mb_end(b, g);
}

/* Persist p's new holds before reporting them.  When that fails, take
 * them back: the request fails with why, and lease_unbind() releases on
 * disk what no other local process holds (the file never named p). */
static bool record_grant(struct daemon *d, struct job *j, struct proc *p)
{
	int rc = state_save(d);
	if (rc == 0)
		return true;
	for (int i = 0; i < j->nres; i++) {
		struct lease *l = j->res[i].lease;
		bool last;
		if (l && lease_holder(l, p))
			lease_remove_holder(d, l, p, &last);
	}
	j->rc = rc;
	snprintf(j->message, sizeof(j->message), "cannot record the lease in %s/state: %s; it was not granted",
		 d->cfg.run_dir, strerror(-rc));
	return false;
}

static void complete_acquire(struct daemon *d, struct job *j)
{
	struct proc *p = job_proc(d, j);
	struct sm_msgbuf b;
	sm_mb_init(&b);
	bool ok = j->rc == 0;
	if (ok && (!p || !ls_fresh(j->res[0].ls))) {
		j->rc = p ? -SM_ENOT_JOINED : -SM_ENOT_REGISTERED;
		snprintf(j->message, sizeof(j->message), "%s", p ? "the lockspace failed during the acquire"
							  : "the process exited during the acquire");
		ok = false;
	}
	for (int i = 0; i < j->nres; i++) {
		struct job_res *r = &j->res[i];
		struct lease *l = r->lease;
		if (!r->local_only)
			l->busy = false;
		if (r->done_on_disk) {
			l->on_disk = true;
			l->held = r->out;
		}
		if (r->out.in_doubt && !r->done_on_disk)
			l->in_doubt = true;
		state_touch_lease(d, l);
		if (ok) {
			lease_add_holder(l, p, r->mode);
			put_lease_reply(&b, r, r->local_only ? &l->held : &r->out);
			if (r->out.took_over_from)
				sm_warn("%s:%s taken over from dead host %u (lver %llu) for process %d", r->ls->name, r->name,
					r->out.took_over_from, (unsigned long long)r->out.lver, (int)j->pid);
		}
	}
	if (ok && !record_grant(d, j, p)) {
		ok = false;
		sm_mb_free(&b);
		sm_mb_init(&b);
	}
	uint64_t us = (mono_ms() - j->submitted_mono) * 1000;
	if (ok) {
		d->m.acquires++;
		metrics_observe_acquire(d, us);
	} else {
		d->m.acquire_failures++;
	}
	finish(d, j, &b);
}

static void complete_release(struct daemon *d, struct job *j)
{
	for (int i = 0; i < j->nres; i++) {
		struct job_res *r = &j->res[i];
		struct lease *l = r->lease;
		if (!l || r->local_only)
			continue;
		l->busy = false;
		state_touch_lease(d, l);
		bool orphan = l->orphan;
		if (orphan)
			orphans_settled(d, l, r->rc); /* says what happened */
		if (r->rc == 0) {
			l->on_disk = false;
			d->m.releases++;
		} else if (r->rc == -SM_ENOT_OWNER) {
			if (!orphan)
				sm_error("%s:%s was no longer ours when released (taken over by another host)", r->ls->name,
					 r->name);
			l->on_disk = false;
		} else {
			l->in_doubt = true; /* resolve it once storage answers */
			l->on_disk = false;
			l->retry_at_mono = mono_ms() + r->ls->to.renew_ms;
		}
	}
	finish(d, j, NULL);
}

static void complete_convert(struct daemon *d, struct job *j)
{
	struct job_res *r = &j->res[0];
	struct lease *l = r->lease;
	l->busy = false;
	if (j->rc == 0) {
		l->held = r->out;
		struct proc *p = job_proc(d, j);
		struct holder *h = p ? lease_holder(l, p) : NULL;
		if (h)
			h->mode = r->out.mode;
		state_touch_lease(d, l);
	} else if (r->out.in_doubt) {
		l->in_doubt = true;
		state_touch_lease(d, l);
	}
	struct sm_msgbuf b;
	sm_mb_init(&b);
	if (j->rc == 0)
		put_lease_reply(&b, r, &l->held);
	finish(d, j, &b);
}

static void complete_receive(struct daemon *d, struct job *j)
{
	struct job_res *r = &j->res[0];
	struct lease *l = r->lease;
	struct proc *p = job_proc(d, j);
	l->busy = false;
	struct sm_msgbuf b;
	sm_mb_init(&b);
	if (j->rc == 0) {
		l->on_disk = true;
		l->held = r->out;
		state_touch_lease(d, l);
		if (p) {
			lease_add_holder(l, p, SM_MODE_EX);
			if (record_grant(d, j, p))
				put_lease_reply(&b, r, &r->out);
		} else {
			j->rc = -SM_ENOT_REGISTERED;
			snprintf(j->message, sizeof(j->message), "the process exited while receiving the lease");
		}
	} else {
		/* A hand-off may land after we stopped waiting (the give-up's last
		 * read failed, or storage held a write): look once the owner's
		 * window has passed, and at once. */
		uint32_t io = r->ls->to.io_ms;
		orphans_check(d, r->ls, r->name, 0);
		orphans_check(d, r->ls, r->name, sm_handoff_window_ms(io) + sm_handoff_settle_ms(io) + 2 * io);
	}
	finish(d, j, &b);
}

static void complete_verify(struct daemon *d, struct job *j)
{
	for (int i = 0; i < j->nres; i++) {
		struct job_res *r = &j->res[i];
		struct lease *l = r->lease;
		l->busy = false;
		if (r->rc == 0)
			continue;
		/* Not ours on disk any more (or unreadable): its holders must not
		 * keep running as if they had it. */
		sm_error("%s:%s: after the restart the lease is %s: fencing its holders", r->ls->name, r->name,
			 r->rc == -SM_ENOT_OWNER ? "no longer ours" : sm_strerror(r->rc));
		fence_lockspace(d, r->ls, "a lease was lost across the daemon restart");
	}
	finish(d, j, NULL);
}

void leaseops_complete(struct daemon *d, struct job *j)
{
	for (int i = 0; i < j->nres; i++)
		if (j->res[i].lease && (j->kind == JOB_RESOLVE))
			j->res[i].lease->busy = false;
	switch (j->kind) {
	case JOB_ACQUIRE: complete_acquire(d, j); break;
	case JOB_RELEASE: complete_release(d, j); break;
	case JOB_CONVERT: complete_convert(d, j); break;
	case JOB_RECEIVE: complete_receive(d, j); break;
	case JOB_VERIFY: complete_verify(d, j); break;
	case JOB_ORPHANS: orphans_complete(d, j); break;
	case JOB_RESOLVE:
		if (j->res[0].lease->orphan)
			orphans_settled(d, j->res[0].lease, j->rc);
		if (j->rc == 0) {
			j->res[0].lease->in_doubt = false;
			state_touch_lease(d, j->res[0].lease);
		} else {
			j->res[0].lease->retry_at_mono = mono_ms() + j->res[0].ls->to.renew_ms;
			sm_warn("%s:%s: still in doubt: %s (retrying later)", j->res[0].ls->name, j->res[0].name,
				sm_strerror(j->rc));
		}
		finish(d, j, NULL);
		break;
	case JOB_REQUEST: {
		struct sm_msgbuf b;
		sm_mb_init(&b);
		sm_mb_u64(&b, SM_T_LVER, j->res[0].out.lver);
		sm_mb_u32(&b, SM_T_OWNER_ID, j->res[0].out.owner_id);
		finish(d, j, &b);
		break;
	}
	default: finish(d, j, NULL); break;
	}
	leaseops_retry_parked(d);
}

/* ---- settling leases ------------------------------------------------------- */

static struct job *single_job(enum job_kind kind, struct lease *l)
{
	struct job *j = job_new(kind, 1);
	if (!j)
		return NULL;
	struct job_res *r = &j->res[0];
	job_res_set_ls(r, l->ls);
	snprintf(r->name, sizeof(r->name), "%s", l->ref.name);
	r->nlocations = l->nlocations;
	memcpy(r->location, l->location, sizeof(r->location));
	r->held = l->held;
	job_res_bind_lease(r, l);
	return j;
}

void lease_settle(struct daemon *d, struct lease *l)
{
	if (l->busy || l->jobs || l->holders)
		return;
	if (!ls_valid(l->ls) && l->ls->state != LS_JOINING) {
		/* The lockspace failed: nothing can be written on its behalf; the
		 * lease expires with our delta lease and others take it over. */
		lease_drop(d, l);
		return;
	}
	if ((l->in_doubt || l->on_disk) && mono_ms() < l->retry_at_mono)
		return; /* leases_tick tries again later */
	if (l->in_doubt || l->on_disk) {
		struct job *j = single_job(l->in_doubt ? JOB_RESOLVE : JOB_RELEASE, l);
		if (!j)
			return;
		leaseops_schedule(d, j);
		return;
	}
	lease_drop(d, l);
}

/* An idle lease without holders that is still ours or in doubt: one whose
 * settling failed, or one restored after a restart whose holders had exited
 * while no daemon ran (nothing else would ever release those). */
static bool settle_due(const struct lease *l, uint64_t now)
{
	return (l->in_doubt || l->on_disk) && !l->busy && !l->jobs && !l->holders && now >= l->retry_at_mono;
}

/* When l is to be settled again (idle, ours or in doubt on disk), or
 * SM_NO_DEADLINE (a job or a holder has it: their ends are events). */
static uint64_t settle_time(const struct lease *l)
{
	return (l->in_doubt || l->on_disk) && !l->busy && !l->jobs && !l->holders ? l->retry_at_mono : SM_NO_DEADLINE;
}

uint64_t leases_tick(struct daemon *d)
{
	uint64_t now = mono_ms(), next = SM_NO_DEADLINE;
	int n = 0;
	for (struct lease *l = d->lt.head; l; l = l->next)
		if (settle_due(l, now))
			n++;
		else
			next = deadline_min(next, settle_time(l));
	if (!n)
		return next;
	struct lease **due = calloc((size_t)n, sizeof(*due));
	if (!due)
		return now + SM_POLL_MS;
	n = 0;
	for (struct lease *l = d->lt.head; l; l = l->next)
		if (settle_due(l, now))
			due[n++] = l;
	for (int i = 0; i < n; i++)
		for (struct lease *l = d->lt.head; l; l = l->next)
			if (l == due[i]) {
				lease_settle(d, l);
				break;
			}
	free(due);
	/* a settle that could not start (no memory) stays due: look again */
	for (struct lease *l = d->lt.head; l; l = l->next)
		next = deadline_min(next, settle_time(l));
	return next;
}

void leaseops_release_all(struct daemon *d, struct proc *p)
{
	/* Two passes: settling can complete parked jobs, which may drop other
	 * leases, so never settle while walking the list. */
	int n = 0;
	for (struct lease *l = d->lt.head; l; l = l->next)
		if (lease_holder(l, p))
			n++;
	if (!n)
		return;
	struct lease **last = calloc((size_t)n, sizeof(*last));
	int nlast = 0;
	for (struct lease *l = d->lt.head; l; l = l->next) {
		if (!lease_holder(l, p))
			continue;
		bool was_last;
		lease_remove_holder(d, l, p, &was_last);
		if (was_last && last)
			last[nlast++] = l;
	}
	for (int i = 0; i < nlast; i++)
		for (struct lease *l = d->lt.head; l; l = l->next)
			if (l == last[i]) {
				lease_settle(d, l);
				break;
			}
	free(last);
}

/* A resumed lockspace (restart, docs/restart.md): check on disk that each
 * of its leases with a living holder is still ours (JOB_VERIFY). */
void leaseops_verify_resumed(struct daemon *d, struct ls_entry *e)
{
	int n = 0;
	for (struct lease *l = d->lt.head; l; l = l->next)
		n += l->ls == e && l->holders && l->on_disk;
	if (!n)
		return;
	struct job *verify = job_new(JOB_VERIFY, n);
	if (!verify) {
		sm_error("lockspace %s: cannot check its %d lease(s) after the restart: out of memory", e->name, n);
		return;
	}
	verify->nres = 0;
	for (struct lease *l = d->lt.head; l; l = l->next) {
		if (l->ls != e || !l->holders || !l->on_disk)
			continue;
		struct job_res *res = &verify->res[verify->nres++];
		job_res_set_ls(res, e);
		snprintf(res->name, sizeof(res->name), "%s", l->ref.name);
		res->nlocations = l->nlocations;
		memcpy(res->location, l->location, sizeof(res->location));
		res->held = l->held;
		job_res_bind_lease(res, l);
	}
	leaseops_schedule(d, verify);
}
