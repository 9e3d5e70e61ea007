/* Request dispatch: one table says, for each command, its handler and the
 * right it needs; cmds_dispatch() checks that right once and runs the
 * handler with the request already decoded (proto/request.h).  The
 * process-level handlers (register, inquire, set-kill, shutdown, metrics)
 * are here; leases are in cmds_leases.c, lockspaces in cmds_spaces.c,
 * listings in reports.c.
 *
 * Rights: a restricted connection may do nothing; root and members of
 * admin_group may act for any registered process; any other client only
 * for the process it registered.  Every refusal says why.
 *
 * Replies: handlers reply through conn_reply/conn_reply_error only, which
 * persist the daemon's state before anything is sent (conn.c); no handler
 * saves by itself. */
#include "cmds.h"
#include "cmds_int.h"

#include "conn.h"
#include "leaseops.h"
#include "leasetab.h"
#include "lockspaces.h"
#include "metrics_render.h"
#include "procs.h"
#include "reports.h"
#include "state.h"

#include "common/log.h"
#include "sync_manager/errors.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum cmd_right {
	RIGHT_CONNECTED, /* any connection that is not restricted */
	RIGHT_OWNER,     /* the target process's own connection, or an admin (target found) */
	RIGHT_ADMIN,     /* root or the admin group */
};

struct cmd_entry {
	cmd_handler *run;
	enum cmd_right right;
	const char *denied; /* RIGHT_ADMIN: why not (NULL: "CMD needs root or the admin group") */
};

static cmd_handler cmd_register, cmd_inquire, cmd_set_kill, cmd_shutdown, cmd_metrics;

static const char listing_denied[] = "listings need root or the admin group (use inquire for your own leases)";

static const struct cmd_entry commands[SM_CMD_MAX_] = {
	[SM_CMD_REGISTER] = {cmd_register, RIGHT_CONNECTED, NULL},
	[SM_CMD_ACQUIRE] = {cmd_acquire, RIGHT_OWNER, NULL},
	[SM_CMD_RELEASE] = {cmd_release, RIGHT_OWNER, NULL},
	[SM_CMD_INQUIRE] = {cmd_inquire, RIGHT_OWNER, NULL},
	[SM_CMD_CONVERT] = {cmd_convert, RIGHT_OWNER, NULL},
	[SM_CMD_SET_KILL] = {cmd_set_kill, RIGHT_OWNER, NULL},
	[SM_CMD_RECEIVE] = {cmd_receive, RIGHT_OWNER, NULL},
	[SM_CMD_JOIN] = {cmd_join, RIGHT_ADMIN, NULL},
	[SM_CMD_LEAVE] = {cmd_leave, RIGHT_ADMIN, NULL},
	[SM_CMD_RESOURCE_ADD] = {cmd_resource_add, RIGHT_ADMIN, NULL},
	[SM_CMD_RESOURCE_RM] = {cmd_resource_rm, RIGHT_ADMIN, NULL},
	[SM_CMD_REQUEST] = {cmd_request, RIGHT_ADMIN, NULL},
	[SM_CMD_SHUTDOWN] = {cmd_shutdown, RIGHT_ADMIN, NULL},
	[SM_CMD_METRICS] = {cmd_metrics, RIGHT_ADMIN, NULL},
	[SM_CMD_STATUS] = {report_status, RIGHT_ADMIN, listing_denied},
	[SM_CMD_HOSTS] = {report_hosts, RIGHT_ADMIN, listing_denied},
	[SM_CMD_RENEWALS] = {report_renewals, RIGHT_ADMIN, listing_denied},
};

/* ---- rights --------------------------------------------------------------- */

/* The process a request is about: target 0 means the one this connection
 * registered. */
static struct proc *authorize(struct conn *c, uint32_t target, int *rc)
{
	*rc = 0;
	struct proc *p = NULL;
	if (target == 0 || (c->registered && (pid_t)target == c->registered->pid)) {
		p = c->registered;
		if (!p)
			*rc = -SM_ENOT_REGISTERED;
		return p;
	}
	if (!c->admin) {
		*rc = -SM_EDENIED;
		return NULL;
	}
	p = proc_find(c->d, (pid_t)target);
	if (!p)
		*rc = -SM_ENOT_REGISTERED;
	return p;
}

static void deny(struct conn *c, int rc, uint32_t target)
{
	if (rc == -SM_EDENIED) {
		c->d->m.denied++;
		conn_reply_error(c, rc, 0,
				 "pid %u is not yours: only root or the admin group may act for other processes", target);
	} else {
		conn_reply_error(c, rc, 0, "process %u is not registered with sync_managerd", target);
	}
}

/* Check e's right for c; the target process (RIGHT_OWNER), or NULL with
 * the refusal sent (*refused). */
static struct proc *check_right(struct conn *c, const struct cmd_entry *e, const struct sm_wire_req *rq,
				bool *refused)
{
	*refused = false;
	if (e->right == RIGHT_ADMIN && !c->admin) {
		c->d->m.denied++;
		if (e->denied)
			conn_reply_error(c, -SM_EDENIED, 0, "%s", e->denied);
		else
			conn_reply_error(c, -SM_EDENIED, 0, "%s needs root or the admin group", sm_cmd_name(rq->cmd));
		*refused = true;
		return NULL;
	}
	if (e->right != RIGHT_OWNER)
		return NULL;
	int rc;
	struct proc *p = authorize(c, rq->pid, &rc);
	if (!p) {
		deny(c, rc, rq->pid);
		*refused = true;
	}
	return p;
}

void cmds_dispatch(struct conn *c, const struct sm_wire_req *rq)
{
	if (c->restricted) {
		c->d->m.denied++;
		conn_reply_error(c, -SM_EDENIED, 0, "this connection is restricted: it may issue no requests");
		return;
	}
	const struct cmd_entry *e = rq->cmd < SM_CMD_MAX_ ? &commands[rq->cmd] : NULL;
	if (!e || !e->run) {
		c->d->m.bad_messages++;
		conn_reply_error(c, -SM_EPROTO, 0, "unknown command %u", rq->cmd);
		return;
	}
	bool refused;
	struct proc *target = check_right(c, e, rq, &refused);
	if (!refused)
		e->run(c, rq, target);
}

/* ---- processes ------------------------------------------------------------ */

static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	int ppid = 0;
	if (p && sscanf(p + 2, "%*c %d", &ppid) == 1)
		return (pid_t)ppid;
	return 0;
}

/* May uid/gid (no supplementary groups: how a kill program runs) execute
 * the regular file at path?  Its mode bits only; the directories above it
 * are checked when it runs. */
static bool executable_by(const char *path, uid_t uid, gid_t gid)
{
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return false;
	if (uid == 0)
		return st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH);
	if (st.st_uid == uid)
		return st.st_mode & S_IXUSR;
	if (st.st_gid == gid)
		return st.st_mode & S_IXGRP;
	return st.st_mode & S_IXOTH;
}

/* The request's kill action, validated.  It is owned by c's peer: a kill
 * program runs with its uid and gid. */
static int kill_action_of(const struct conn *c, const struct sm_req_kill *in, struct kill_action *k, char *why,
			  size_t whylen)
{
	_Static_assert(sizeof(k->path) == sizeof(in->path) && sizeof(k->args) == sizeof(in->args),
		       "kill action sizes differ between the wire and the daemon");
	memset(k, 0, sizeof(*k));
	k->has_owner = true;
	k->uid = c->peer_uid;
	k->gid = c->peer_gid;
	memcpy(k->path, in->path, sizeof(k->path));
	memcpy(k->args, in->args, sizeof(k->args));
	k->nargs = in->nargs;
	uint32_t sig = in->signal;
	if (sig >= (uint32_t)SIGRTMIN || (sig && (sig == SIGSTOP || sig == SIGCONT))) {
		snprintf(why, whylen, "signal %u cannot end a process", sig);
		return -SM_EBAD_ARGUMENT;
	}
	if (k->path[0] && (k->path[0] != '/' || access(k->path, X_OK) < 0)) {
		snprintf(why, whylen, "kill program %s is not an executable absolute path", k->path);
		return -SM_EBAD_ARGUMENT;
	}
	if (k->path[0] && !executable_by(k->path, k->uid, k->gid)) {
		snprintf(why, whylen, "kill program %s is not executable by uid %u gid %u (it runs as the user who sets it)",
			 k->path, (unsigned)k->uid, (unsigned)k->gid);
		return -SM_EBAD_ARGUMENT;
	}
	k->signal = (int)sig;
	return 0;
}

static void cmd_register(struct conn *c, const struct sm_wire_req *rq, struct proc *unused)
{
	(void)unused;
	if (c->registered) {
		conn_reply_error(c, -SM_EBUSY, 0, "this connection already registered a process");
		return;
	}
	bool child = rq->flags & SM_F_CHILD;
	pid_t target = child ? (pid_t)rq->pid : c->peer_pid;
	if (child && parent_of(target) != c->peer_pid && !c->admin) {
		conn_reply_error(c, -SM_EDENIED, 0, "pid %d is not your child", (int)target);
		return;
	}
	struct kill_action kill;
	char why[200];
	int rc = kill_action_of(c, &rq->kill, &kill, why, sizeof(why));
	if (rc < 0) {
		conn_reply_error(c, rc, 0, "%s", why);
		return;
	}
	struct proc *pr = proc_register(c->d, target, rq->name, c, child, &rc);
	if (!pr) {
		char refusal[200];
		conn_reply_error(c, rc, 0, "cannot register pid %d: %s", (int)target,
				 proc_refusal(c->d, rc, refusal, sizeof(refusal)));
		return;
	}
	c->registered = pr;
	pr->kill = kill;
	if (rq->flags & SM_F_RESTRICT) {
		c->restricted = true;
		pr->restricted = true;
	}
	sm_debug("registered pid %d (%s)%s", (int)target, rq->name, c->restricted ? " restricted" : "");
	conn_reply(c, 0, NULL);
}

static void cmd_inquire(struct conn *c, const struct sm_wire_req *rq, struct proc *pr)
{
	(void)rq;
	struct sm_msgbuf b;
	sm_mb_init(&b);
	for (struct holder *h = pr->holds; h; h = h->pnext) {
		struct lease *l = h->lease;
		size_t g = sm_mb_begin(&b, SM_T_RESOURCE);
		sm_mb_str(&b, SM_T_LOCKSPACE, l->ls->name);
		sm_mb_str(&b, SM_T_NAME, l->ref.name);
		sm_mb_u64(&b, SM_T_LVER, l->held.lver);
		sm_mb_u32(&b, SM_T_MODE, h->mode);
		sm_mb_end(&b, g);
	}
	conn_reply(c, 0, &b);
}

static void cmd_set_kill(struct conn *c, const struct sm_wire_req *rq, struct proc *pr)
{
	struct kill_action k;
	char why[200];
	int rc = kill_action_of(c, &rq->kill, &k, why, sizeof(why));
	if (rc < 0) {
		conn_reply_error(c, rc, 0, "%s", why);
		return;
	}
	pr->kill = k;
	state_touch_proc(c->d, pr);
	conn_reply(c, 0, NULL);
}

static void cmd_shutdown(struct conn *c, const struct sm_wire_req *rq, struct proc *unused)
{
	(void)unused;
	struct daemon *d = c->d;
	if (rq->flags & SM_F_KEEP) {
		d->keep_on_exit = true;
	} else if (d->lt.nheld > 0 && !(rq->flags & SM_F_FORCE)) {
		conn_reply_error(c, -SM_EBUSY, 0,
				 "%d lease(s) are held by processes on this host: stop them first, use --restart to keep "
				 "them across a daemon restart, or --force to kill them",
				 d->lt.nheld);
		return;
	} else if (d->lt.nheld > 0) {
		for (struct ls_entry *e = d->lockspaces; e; e = e->next)
			fence_lockspace(d, e, "forced shutdown");
	}
	d->quitting = true;
	conn_reply(c, 0, NULL);
}

static void cmd_metrics(struct conn *c, const struct sm_wire_req *rq, struct proc *unused)
{
	(void)rq;
	(void)unused;
	struct sm_msgbuf b;
	sm_mb_init(&b);
	metrics_render(c->d, &b);
	conn_reply(c, 0, &b);
}
