/* Request handlers for leases: acquire, release, convert, request,
 * receive, and turning a request's resources into a job.
 *
 * Rights are checked before these run (cmds.c's table): each acts for the
 * process it is given.  Each either replies now or hands a job to
 * leaseops_schedule(), whose completion replies (through conn_reply, which
 * persists the state first). */
#include "cmds_int.h"

#include "conn.h"
#include "leaseops.h"
#include "leasetab.h"
#include "lockspaces.h"
#include "procs.h"
#include "state.h"

#include "common/util.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Leases on several volumes are refused until volume sets exist (issue 18):
 * each host would take its host_id and liveness from the lockspace of one
 * volume, and nothing makes hosts agree, so two could hold the same lease.
 * A lease must also live on the volume of the lockspace whose host_id it
 * uses.  Only kinds that write a lease are checked: releasing names the
 * lease by lockspace and name and needs no volume.  e: the lockspace named,
 * or NULL (then the one on r's volume is used).  0 or -SM_EMULTI_VOLUME. */
static int check_one_volume(enum job_kind kind, const struct job_res *r, const struct ls_entry *e, int nloc,
			    char *err, size_t errlen)
{
	if (kind != JOB_ACQUIRE && kind != JOB_RECEIVE && kind != JOB_REQUEST && kind != JOB_CONVERT)
		return 0;
	if (nloc > 1) {
		snprintf(err, errlen, "%s names %d volumes; %s, e.g. %s:%s", r->name, nloc,
			 sm_strerror(-SM_EMULTI_VOLUME), r->location[0], r->name);
		return -SM_EMULTI_VOLUME;
	}
	if (nloc == 1 && e && strcmp(r->location[0], e->location) != 0) {
		snprintf(err, errlen, "%s is on volume %s but lockspace %s is on %s: a lease must be on the volume of "
			 "its lockspace", r->name, r->location[0], e->name, e->location);
		return -SM_EMULTI_VOLUME;
	}
	return 0;
}

/* A volume set named by its members (the seed form NAME:/A,/B,/C): the
 * lease is the set's lockspace's.  e: the lockspace named, or NULL. */
static int resolve_volume_set(struct conn *c, const char *loc, struct ls_entry *e, struct job_res *r, char *err,
			      size_t errlen)
{
	struct ls_entry *se = ls_find_location(c->d, loc);
	if (!se || (e && e != se)) {
		snprintf(err, errlen, "the volume set %s is not joined on this host (sync_manager join %s)", loc, loc);
		return -SM_ENOT_JOINED;
	}
	r->nlocations = 0;
	job_res_set_ls(r, se);
	return 0;
}

/* One decoded resource into r (finding its lockspace). */
static int resolve_resource(struct conn *c, enum job_kind kind, const struct sm_resource *in, struct job_res *r,
			    char *err, size_t errlen)
{
	int nloc = in->nlocations, rc;
	snprintf(r->name, sizeof(r->name), "%s", in->name);
	r->mode = in->mode;
	r->at_version = in->at_version;
	r->version = in->version;
	if (!sm_name_valid(r->name) || (r->mode != SM_MODE_EX && r->mode != SM_MODE_SH) || nloc == 2) {
		snprintf(err, errlen, "invalid resource (name '%s', mode %u, %d locations)", r->name, r->mode, nloc);
		return -SM_EBAD_ARGUMENT;
	}
	struct ls_entry *e = NULL;
	if (in->lockspace[0] && !(e = ls_find(c->d, in->lockspace))) {
		snprintf(err, errlen, "lockspace %s is not joined on this host (sync_manager join VOLUME)",
			 in->lockspace);
		return -SM_ENOT_JOINED;
	}
	if (nloc == 1 && strchr(in->location[0], ','))
		return resolve_volume_set(c, in->location[0], e, r, err, errlen);
	for (int i = 0; i < nloc; i++) {
		char canon[SM_LOCATION_MAX];
		if ((rc = ls_canonical_volume(in->location[i], canon, sizeof(canon))) < 0) {
			snprintf(err, errlen, "volume %s: %s", in->location[i], sm_strerror(rc));
			return rc;
		}
		snprintf(r->location[i], SM_LOCATION_MAX, "%s", canon);
	}
	if ((rc = check_one_volume(kind, r, e, nloc, err, errlen)) < 0)
		return rc;
	if (!e && nloc && !(e = ls_find_location(c->d, r->location[0]))) {
		snprintf(err, errlen, "the lockspace of %s is not joined on this host (sync_manager join %s)",
			 in->location[0], in->location[0]);
		return -SM_ENOT_JOINED;
	}
	if (!e) {
		snprintf(err, errlen, "resource %s names neither a lockspace nor a volume", r->name);
		return -SM_EBAD_ARGUMENT;
	}
	/* A single location that is the lockspace's own volume needs no list. */
	r->nlocations = (nloc == 1 && strcmp(r->location[0], e->location) == 0) ? 0 : nloc;
	job_res_set_ls(r, e);
	return 0;
}

struct job *cmds_resolve_resources(struct conn *c, enum job_kind kind, const struct sm_wire_req *rq, int *rc,
				   char *err, size_t errlen)
{
	struct job *j = job_new(kind, rq->nres);
	if (!j) {
		*rc = -ENOMEM;
		return NULL;
	}
	for (int i = 0; i < rq->nres; i++)
		if ((*rc = resolve_resource(c, kind, &rq->res[i], &j->res[i], err, errlen)) < 0) {
			job_free(j);
			return NULL;
		}
	*rc = 0;
	return j;
}

static void reply_resolve_error(struct conn *c, int rc, const char *err, const char *otherwise)
{
	conn_reply_error(c, rc, 0, "%s", err[0] ? err : otherwise);
}

/* The job is for process pr, replying to c. */
static void job_for(struct job *j, struct conn *c, const struct proc *pr)
{
	j->conn_id = c->id;
	j->pid = pr->pid;
	j->proc_start = pr->starttime;
}

void cmd_acquire(struct conn *c, const struct sm_wire_req *rq, struct proc *pr)
{
	int rc;
	char err[256] = "";
	struct job *j = cmds_resolve_resources(c, JOB_ACQUIRE, rq, &rc, err, sizeof(err));
	if (!j) {
		reply_resolve_error(c, rc, err, sm_strerror(rc));
		return;
	}
	if (j->nres == 0) {
		job_free(j);
		conn_reply_error(c, -SM_EBAD_ARGUMENT, 0, "no resource named");
		return;
	}
	job_for(j, c, pr);
	j->flags = rq->flags;
	leaseops_schedule(c->d, j);
}

/* Every named resource is held by pr (0), or the refusal was sent. */
static int check_named_held(struct conn *c, const struct job *named, struct proc *pr)
{
	for (int i = 0; i < named->nres; i++) {
		struct lease *l = lease_find(c->d, named->res[i].ls, named->res[i].name);
		if (!l || !lease_holder(l, pr)) {
			conn_reply_error(c, -SM_ENOT_OWNER, 0, "process %d does not hold %s:%s", (int)pr->pid,
					 named->res[i].ls->name, named->res[i].name);
			return -SM_ENOT_OWNER;
		}
	}
	return 0;
}

static bool release_wanted(const struct job *named, const struct lease *l)
{
	if (!named)
		return true;
	for (int i = 0; i < named->nres; i++)
		if (named->res[i].ls == l->ls && strcmp(named->res[i].name, l->ref.name) == 0)
			return true;
	return false;
}

/* The leases of pr to release (all, or those named) as one disk job. */
static struct job *release_job(const struct job *named, struct proc *pr, bool handoff)
{
	int n = 0;
	for (struct holder *h = pr->holds; h; h = h->pnext)
		n++;
	struct job *j = job_new(JOB_RELEASE, n);
	if (!j)
		return NULL;
	int k = 0;
	for (struct holder *h = pr->holds; h; h = h->pnext) {
		struct lease *l = h->lease;
		if (!release_wanted(named, l))
			continue;
		struct job_res *r = &j->res[k++];
		job_res_set_ls(r, l->ls);
		snprintf(r->name, sizeof(r->name), "%s", l->ref.name);
		job_res_bind_lease(r, l);
		r->handoff_ok = handoff;
	}
	j->nres = k;
	return j;
}

void cmd_release(struct conn *c, const struct sm_wire_req *rq, struct proc *pr)
{
	int rc;
	char err[256] = "";
	struct daemon *d = c->d;
	struct job *named = NULL;
	if (!(rq->flags & SM_F_ALL)) {
		named = cmds_resolve_resources(c, JOB_RELEASE, rq, &rc, err, sizeof(err));
		if (!named) {
			reply_resolve_error(c, rc, err, sm_strerror(rc));
			return;
		}
		if (check_named_held(c, named, pr) < 0) {
			job_free(named);
			return;
		}
	}
	/* Collect the leases whose last holder this was into one disk job. */
	struct job *j = release_job(named, pr, rq->flags & SM_F_HANDOFF);
	job_free(named);
	if (!j) {
		conn_reply_error(c, -ENOMEM, 0, "out of memory");
		return;
	}
	for (int i = 0; i < j->nres; i++) {
		bool last;
		lease_remove_holder(d, j->res[i].lease, pr, &last);
	}
	job_for(j, c, pr);
	leaseops_schedule(d, j);
}

/* Convert where other local processes hold the lease too (shared). */
static void convert_shared(struct conn *c, struct job_res *r, struct lease *l, struct holder *h)
{
	if (r->mode == SM_MODE_EX) {
		/* Only shared holders can coexist; this host holds it shared. */
		struct sm_me me;
		ls_get_me(r->ls, &me);
		conn_reply_error(c, -SM_ESHARED_HELD, me.host_id,
				 "%s:%s is also held shared by another process on this host", r->ls->name, r->name);
		return;
	}
	h->mode = r->mode; /* cannot happen: others imply shared */
	state_touch_lease(c->d, l);
	conn_reply(c, 0, NULL);
}

void cmd_convert(struct conn *c, const struct sm_wire_req *rq, struct proc *pr)
{
	int rc;
	char err[256] = "";
	struct job *j = cmds_resolve_resources(c, JOB_CONVERT, rq, &rc, err, sizeof(err));
	if (!j || j->nres != 1) {
		if (j)
			job_free(j);
		conn_reply_error(c, j ? -SM_EBAD_ARGUMENT : rc, 0, "%s", err[0] ? err : "convert takes one resource");
		return;
	}
	struct job_res *r = &j->res[0];
	struct lease *l = lease_find(c->d, r->ls, r->name);
	struct holder *h = l ? lease_holder(l, pr) : NULL;
	if (!h || h->mode == r->mode) {
		if (!h)
			conn_reply_error(c, -SM_ENOT_OWNER, 0, "process %d does not hold %s:%s", (int)pr->pid,
					 r->ls->name, r->name);
		else
			conn_reply(c, 0, NULL);
		job_free(j);
		return;
	}
	int others = 0;
	for (struct holder *o = l->holders; o; o = o->next)
		others += o != h;
	if (others) {
		convert_shared(c, r, l, h);
		job_free(j);
		return;
	}
	r->held = l->held;
	job_res_bind_lease(r, l);
	job_for(j, c, pr);
	leaseops_schedule(c->d, j);
}

/* The one resource of a request or receive, as a job (NULL: refused). */
static struct job *one_resource_job(struct conn *c, const struct sm_wire_req *rq, enum job_kind kind)
{
	int rc;
	char err[256] = "";
	struct job *j = cmds_resolve_resources(c, kind, rq, &rc, err, sizeof(err));
	if (!j || j->nres != 1) {
		if (j)
			job_free(j);
		conn_reply_error(c, j ? -SM_EBAD_ARGUMENT : rc, 0, "%s", err[0] ? err : "one resource, please");
		return NULL;
	}
	j->conn_id = c->id;
	return j;
}

void cmd_request(struct conn *c, const struct sm_wire_req *rq, struct proc *unused)
{
	(void)unused;
	if (rq->kind != SM_REQ_RELEASE && rq->kind != SM_REQ_HANDOFF) {
		conn_reply_error(c, -SM_EBAD_ARGUMENT, 0, "unknown request kind %u", rq->kind);
		return;
	}
	struct job *j = one_resource_job(c, rq, JOB_REQUEST);
	if (!j)
		return;
	j->kind_arg = rq->kind;
	j->wait_ms = 60000;
	leaseops_schedule(c->d, j);
}

void cmd_receive(struct conn *c, const struct sm_wire_req *rq, struct proc *pr)
{
	struct job *j = one_resource_job(c, rq, JOB_RECEIVE);
	if (!j)
		return;
	j->wait_ms = rq->wait_ms ? rq->wait_ms : 60000;
	struct job_res *r = &j->res[0];
	struct lease *l = lease_find(c->d, r->ls, r->name);
	if (l && (l->holders || l->on_disk)) {
		conn_reply_error(c, -SM_EBUSY, 0, "%s:%s is already held on this host", r->ls->name, r->name);
		job_free(j);
		return;
	}
	if (!l && !(l = lease_new(c->d, r->ls, r->name))) {
		job_free(j);
		conn_reply_error(c, -ENOMEM, 0, "out of memory");
		return;
	}
	l->nlocations = r->nlocations;
	memcpy(l->location, r->location, sizeof(l->location));
	job_res_bind_lease(r, l);
	job_for(j, c, pr);
	leaseops_schedule(c->d, j);
}
