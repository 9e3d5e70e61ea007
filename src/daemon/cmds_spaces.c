/* Request handlers for lockspaces and the resource index: join (by volume
 * or by name), leave, resource add and remove.  All need root or the
 * admin group (checked by cmds.c's table before these run).
 *
 * cmds_spaces.c owns d->name_joins: joins by name that wait for a name
 * probe (answered by cmds_names_probed). */
#include "cmds.h"
#include "cmds_int.h"

#include "conn.h"
#include "leaseops.h"
#include "lockspaces.h"
#include "watchdog.h"

#include "common/log.h"
#include "common/util.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void reply_no_lockspace(struct conn *c, const char *name, const char *unreadable)
{
	if (unreadable[0]) /* what matters first: messages are cut at 255 bytes */
		conn_reply_error(c, -SM_ENO_LOCKSPACE, 0,
				 "no lockspace named '%s' found; configured volumes that could not be read: %s", name,
				 unreadable);
	else
		conn_reply_error(c, -SM_ENO_LOCKSPACE, 0,
				 "no lockspace named '%s' is known to this daemon: give its volume "
				 "(sync_manager join /path/to/volume) or list the volume under 'join' in "
				 "sync_managerd.conf",
				 name);
}

/* Join the lockspace of volume loc and reply (now, or when it is joined). */
static void join_location(struct conn *c, const char *loc, uint32_t host_id, const char *name)
{
	struct ls_entry *e;
	int rc = ls_join(c->d, loc, host_id, name, &e);
	if (rc < 0) {
		conn_reply_error(c, rc, 0, "cannot join the lockspace of %s: %s", loc, sm_strerror(rc));
		return;
	}
	if (rc == 1 && (c->req.flags & SM_F_WAIT) && e->nwaiters < (int)SM_ARRAY_SIZE(e->waiter_ids)) {
		e->waiter_ids[e->nwaiters++] = c->id;
		return; /* replied when the join finishes */
	}
	struct sm_msgbuf b;
	sm_mb_init(&b);
	sm_mb_str(&b, SM_T_LOCKSPACE, e->name);
	sm_mb_str(&b, SM_T_MESSAGE, rc == 0 ? "already joined" : "joining");
	conn_reply(c, 0, &b);
}

/* Join by LOCKSPACE name.  A name not known yet may be on a configured
 * volume: its header is read by a probe thread, never here (the loop pets
 * the watchdog), and the join goes on in cmds_names_probed. */
static void join_by_name(struct conn *c, const char *lsname, uint32_t host_id, const char *name)
{
	struct daemon *d = c->d;
	char loc[SM_LOCATION_MAX];
	if (ls_resolve_name(d, lsname, loc, sizeof(loc)) == 0) {
		join_location(c, loc, host_id, name);
		return;
	}
	int rc = ls_probe_names(d);
	if (rc == 0) {
		reply_no_lockspace(c, lsname, "");
		return;
	}
	if (rc < 0 || d->nname_joins == (int)SM_ARRAY_SIZE(d->name_joins)) {
		conn_reply_error(c, rc < 0 ? rc : -SM_EBUSY, 0,
				 "cannot look up lockspace '%s' on the configured volumes now (%s): try again, or give "
				 "its volume",
				 lsname, rc < 0 ? sm_strerror(rc) : "too many joins by name are waiting");
		return;
	}
	struct name_join *w = &d->name_joins[d->nname_joins++];
	w->conn_id = c->id;
	w->host_id = host_id;
	snprintf(w->name, sizeof(w->name), "%s", lsname);
	snprintf(w->host_name, sizeof(w->host_name), "%s", name);
}

void cmds_names_probed(struct daemon *d, const char *unreadable)
{
	int n = d->nname_joins;
	d->nname_joins = 0;
	for (int i = 0; i < n; i++) {
		struct name_join w = d->name_joins[i];
		struct conn *c = conn_find(d, w.conn_id);
		if (!c)
			continue; /* the client went away */
		char loc[SM_LOCATION_MAX];
		if (ls_resolve_name(d, w.name, loc, sizeof(loc)) == 0)
			join_location(c, loc, w.host_id, w.host_name);
		else
			reply_no_lockspace(c, w.name, unreadable);
	}
}

void cmd_join(struct conn *c, const struct sm_wire_req *rq, struct proc *unused)
{
	(void)unused;
	if (!(rq->present & SM_RQ_LOCATION) || !rq->location[0]) {
		conn_reply_error(c, -SM_EPROTO, 0, "join needs a volume location");
		return;
	}
	if (rq->host_name[0] && !sm_name_valid(rq->host_name)) {
		conn_reply_error(c, -SM_EBAD_NAME, 0, "invalid host name '%s'", rq->host_name);
		return;
	}
	const char *no_wd = watchdog_join_refusal(c->d); /* before anything reads a volume */
	if (no_wd) {
		sm_error("join of %s refused: %s", rq->location, no_wd);
		conn_reply_error(c, -SM_ECONFIG, 0, "%s", no_wd);
		return;
	}
	if (!strchr(rq->location, '/')) /* LOCKSPACE instead of VOLUME */
		join_by_name(c, rq->location, rq->host_id, rq->host_name);
	else
		join_location(c, rq->location, rq->host_id, rq->host_name);
}

void cmd_leave(struct conn *c, const struct sm_wire_req *rq, struct proc *unused)
{
	(void)unused;
	const char *name = rq->lockspace;
	struct ls_entry *e = ls_find(c->d, name);
	if (!e) {
		conn_reply_error(c, -SM_ENOT_JOINED, 0, "lockspace %s is not joined on this host", name);
		return;
	}
	int rc = ls_leave(c->d, e, rq->flags & SM_F_FORCE);
	if (rc == -SM_EBUSY) {
		conn_reply_error(c, rc, 0, "lockspace %s has leases held by processes on this host (use --force to kill them)",
				 name);
	} else if (rc == 0 && (rq->flags & SM_F_WAIT) && e->nleave_waiters < (int)SM_ARRAY_SIZE(e->leave_waiter_ids)) {
		e->leave_waiter_ids[e->nleave_waiters++] = c->id; /* replied once our slot is written free */
	} else {
		struct sm_msgbuf b;
		sm_mb_init(&b);
		sm_mb_str(&b, SM_T_LOCKSPACE, e->name);
		sm_mb_str(&b, SM_T_MESSAGE, "leaving");
		conn_reply(c, rc, &b);
	}
}

static void resource_job(struct conn *c, const struct sm_wire_req *rq, enum job_kind kind)
{
	struct ls_entry *e = ls_find(c->d, rq->lockspace);
	if (!e || !ls_fresh(e)) {
		conn_reply_error(c, -SM_ENOT_JOINED, 0, "lockspace %s is not joined on this host", rq->lockspace);
		return;
	}
	if (!sm_name_valid(rq->name) || strncmp(rq->name, "__", 2) == 0) {
		conn_reply_error(c, -SM_EBAD_NAME, 0, "invalid resource name '%s'", rq->name);
		return;
	}
	struct job *j = job_new(kind, 1);
	if (!j) {
		conn_reply_error(c, -ENOMEM, 0, "out of memory");
		return;
	}
	job_res_set_ls(&j->res[0], e);
	snprintf(j->res[0].name, sizeof(j->res[0].name), "%s", rq->name);
	j->conn_id = c->id;
	leaseops_schedule(c->d, j);
}

void cmd_resource_add(struct conn *c, const struct sm_wire_req *rq, struct proc *unused)
{
	(void)unused;
	resource_job(c, rq, JOB_RESOURCE_ADD);
}

void cmd_resource_rm(struct conn *c, const struct sm_wire_req *rq, struct proc *unused)
{
	(void)unused;
	resource_job(c, rq, JOB_RESOURCE_RM);
}
