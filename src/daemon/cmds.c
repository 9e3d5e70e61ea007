/* Request handlers: parse (bounds-checked), authorize, act or build a job.
 *
 * Authorization: a restricted connection may do nothing; root and members of
 * admin_group may act for any registered process; any other client only for
 * the process it registered.  Every refusal says why. */
#include "cmds.h"

#include "conn.h"
#include "jobs.h"
#include "leaseops.h"
#include "leasetab.h"
#include "lockspaces.h"
#include "metrics.h"
#include "procs.h"
#include "reports.h"
#include "state.h"
#include "watchdog.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_RES_PER_REQUEST 4096

/* ---- helpers ----------------------------------------------------------------- */

static int find_str(const uint8_t *p, size_t len, uint16_t tag, char *buf, size_t max)
{
	struct sm_tlv_reader r;
	struct sm_tlv t;
	int rc;
	sm_tr_init(&r, p, len);
	while ((rc = sm_tr_next(&r, &t)) > 0)
		if (t.tag == tag)
			return sm_tlv_str(&t, buf, max) < 0 ? -SM_EPROTO : 1;
	return rc;
}

static int find_u32(const uint8_t *p, size_t len, uint16_t tag, uint32_t *v)
{
	struct sm_tlv_reader r;
	struct sm_tlv t;
	int rc;
	sm_tr_init(&r, p, len);
	while ((rc = sm_tr_next(&r, &t)) > 0)
		if (t.tag == tag)
			return sm_tlv_u32(&t, v) < 0 ? -SM_EPROTO : 1;
	return rc;
}

/* Validate the whole payload's TLV framing once, so handlers can assume it. */
static int check_framing(const uint8_t *p, size_t len, int depth)
{
	struct sm_tlv_reader r;
	struct sm_tlv t;
	int rc;
	sm_tr_init(&r, p, len);
	while ((rc = sm_tr_next(&r, &t)) > 0)
		if ((t.tag == SM_T_RESOURCE || t.tag == SM_T_SECTION || t.tag == SM_T_RECORD || t.tag == SM_T_KV) &&
		    (depth > 3 || check_framing(t.val, t.len, depth + 1) < 0))
			return -SM_EPROTO;
	return rc;
}

/* The process a request is about: target 0 means the one this connection
 * registered. */
static struct proc *authorize(struct conn *c, uint32_t target, int *rc)
{
	*rc = 0;
	if (c->restricted) {
		*rc = -SM_EDENIED;
		return NULL;
	}
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

static bool require_admin(struct conn *c)
{
	if (c->admin && !c->restricted)
		return true;
	c->d->m.denied++;
	conn_reply_error(c, -SM_EDENIED, 0, "%s needs root or the admin group", sm_cmd_name(c->req.cmd));
	return false;
}

static void deny(struct conn *c, int rc, uint32_t target)
{
	if (rc == -SM_EDENIED) {
		c->d->m.denied++;
		conn_reply_error(c, rc, 0,
				 c->restricted ? "this connection is restricted: it may issue no requests"
					       : "pid %u is not yours: only root or the admin group may act for other processes",
				 target);
	} else {
		conn_reply_error(c, rc, 0, "process %u is not registered with sync_managerd", target);
	}
}

/* "PATH[:OFFSET]" -> canonical "REALPATH:OFFSET". */
static int canonical(const char *spec, char *out, size_t len)
{
	char *path = NULL;
	uint64_t off = 0;
	int rc = sm_disk_parse_location(spec, &path, &off);
	if (rc < 0)
		return rc;
	char real[PATH_MAX];
	if (!realpath(path, real)) {
		rc = -errno;
		free(path);
		return rc;
	}
	free(path);
	return (size_t)snprintf(out, len, "%s:%llu", real, (unsigned long long)off) >= len ? -ENAMETOOLONG : 0;
}

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

/* Parse one RESOURCE group into r (finding its lockspace). */
static int parse_resource(struct conn *c, enum job_kind kind, const struct sm_tlv *g, struct job_res *r, char *err,
			  size_t errlen)
{
	struct sm_tlv_reader in;
	struct sm_tlv t;
	char lsname[SM_NAME_FIELD] = "";
	char loc[3][SM_LOCATION_MAX];
	int nloc = 0, rc;
	r->mode = SM_MODE_EX;
	sm_tlv_group(g, &in);
	while ((rc = sm_tr_next(&in, &t)) > 0) {
		switch (t.tag) {
		case SM_T_LOCKSPACE: rc = sm_tlv_str(&t, lsname, sizeof(lsname)); break;
		case SM_T_NAME: rc = sm_tlv_str(&t, r->name, sizeof(r->name)); break;
		case SM_T_MODE: rc = sm_tlv_u32(&t, &r->mode); break;
		case SM_T_VERSION: rc = sm_tlv_u64(&t, &r->version); r->at_version = true; break;
		case SM_T_LOCATION:
			if (nloc == 3)
				return -SM_EPROTO;
			rc = sm_tlv_str(&t, loc[nloc++], SM_LOCATION_MAX);
			break;
		default: break; /* unknown tags are ignored: newer clients */
		}
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	if (!sm_name_valid(r->name) || (r->mode != SM_MODE_EX && r->mode != SM_MODE_SH) || nloc == 2) {
		snprintf(err, errlen, "invalid resource (name '%s', mode %u, %d locations)", r->name, r->mode, nloc);
		return -SM_EBAD_ARGUMENT;
	}
	struct ls_entry *e = NULL;
	if (lsname[0]) {
		e = ls_find(c->d, lsname);
		if (!e) {
			snprintf(err, errlen, "lockspace %s is not joined on this host (sync_manager join VOLUME)", lsname);
			return -SM_ENOT_JOINED;
		}
	}
	if (nloc == 1 && strchr(loc[0], ',')) {
		/* a volume set named by its members (the seed form NAME:/A,/B,/C):
		 * the lease is the set's lockspace's */
		struct ls_entry *se = ls_find_location(c->d, loc[0]);
		if (!se || (e && e != se)) {
			snprintf(err, errlen, "the volume set %s is not joined on this host (sync_manager join %s)", loc[0],
				 loc[0]);
			return -SM_ENOT_JOINED;
		}
		r->nlocations = 0;
		job_res_set_ls(r, se);
		return 0;
	}
	for (int i = 0; i < nloc; i++) {
		char canon[SM_LOCATION_MAX];
		if ((rc = canonical(loc[i], canon, sizeof(canon))) < 0) {
			snprintf(err, errlen, "volume %s: %s", loc[i], sm_strerror(rc));
			return rc;
		}
		snprintf(r->location[i], SM_LOCATION_MAX, "%s", canon);
	}
	if ((rc = check_one_volume(kind, r, e, nloc, err, errlen)) < 0)
		return rc;
	if (!e && nloc) {
		e = ls_find_location(c->d, r->location[0]);
		if (!e) {
			snprintf(err, errlen, "the lockspace of %s is not joined on this host (sync_manager join %s)", loc[0],
				 loc[0]);
			return -SM_ENOT_JOINED;
		}
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

/* Parse every RESOURCE group of the payload into a new job. */
static struct job *parse_resources(struct conn *c, enum job_kind kind, const uint8_t *p, size_t len, int *rc,
				   char *err, size_t errlen)
{
	struct sm_tlv_reader r;
	struct sm_tlv t;
	int n = 0;
	sm_tr_init(&r, p, len);
	while (sm_tr_next(&r, &t) > 0)
		if (t.tag == SM_T_RESOURCE)
			n++;
	*rc = 0;
	if (n > MAX_RES_PER_REQUEST) {
		*rc = -SM_ETOO_BIG;
		snprintf(err, errlen, "at most %d resources per request", MAX_RES_PER_REQUEST);
		return NULL;
	}
	struct job *j = job_new(kind, n);
	if (!j) {
		*rc = -ENOMEM;
		return NULL;
	}
	int i = 0;
	sm_tr_init(&r, p, len);
	while (sm_tr_next(&r, &t) > 0) {
		if (t.tag != SM_T_RESOURCE)
			continue;
		if ((*rc = parse_resource(c, kind, &t, &j->res[i], err, errlen)) < 0) {
			job_free(j);
			return NULL;
		}
		i++;
	}
	return j;
}

/* ---- handlers ----------------------------------------------------------------- */

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

/* KILL_SIGNAL / KILL_PATH / KILL_ARG fields, validated.  The action is
 * owned by c's peer: a kill program runs with its uid and gid. */
static int parse_kill(const struct conn *c, const uint8_t *p, size_t len, struct kill_action *k, char *why,
		      size_t whylen)
{
	memset(k, 0, sizeof(*k));
	k->has_owner = true;
	k->uid = c->peer_uid;
	k->gid = c->peer_gid;
	uint32_t sig = 0;
	struct sm_tlv_reader r;
	struct sm_tlv t;
	int rc = 0;
	sm_tr_init(&r, p, len);
	while (sm_tr_next(&r, &t) > 0) {
		if (t.tag == SM_T_KILL_SIGNAL)
			rc = sm_tlv_u32(&t, &sig);
		else if (t.tag == SM_T_KILL_PATH)
			rc = sm_tlv_str(&t, k->path, sizeof(k->path));
		else if (t.tag == SM_T_KILL_ARG)
			rc = k->nargs < SM_MAX_KILL_ARGS ? sm_tlv_str(&t, k->args[k->nargs++], sizeof(k->args[0]))
							 : -SM_ETOO_BIG;
		if (rc < 0) {
			snprintf(why, whylen, "malformed kill action");
			return rc;
		}
	}
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

static void cmd_register(struct conn *c, const uint8_t *p, size_t len)
{
	char name[SM_NAME_FIELD] = "";
	uint32_t pid = 0;
	if (find_str(p, len, SM_T_NAME, name, sizeof(name)) < 0 || find_u32(p, len, SM_T_PID, &pid) < 0) {
		conn_reply_error(c, -SM_EPROTO, 0, "malformed register request");
		return;
	}
	if (c->restricted || c->registered) {
		conn_reply_error(c, c->restricted ? -SM_EDENIED : -SM_EBUSY, 0,
				 "this connection already registered a process");
		return;
	}
	bool child = c->req.flags & SM_F_CHILD;
	pid_t target = child ? (pid_t)pid : c->peer_pid;
	if (child && parent_of(target) != c->peer_pid && !c->admin) {
		conn_reply_error(c, -SM_EDENIED, 0, "pid %d is not your child", (int)target);
		return;
	}
	struct kill_action kill;
	char why[200];
	int rc = parse_kill(c, p, len, &kill, why, sizeof(why));
	if (rc < 0) {
		conn_reply_error(c, rc, 0, "%s", why);
		return;
	}
	struct proc *pr = proc_register(c->d, target, name, c, child, &rc);
	if (!pr) {
		char refusal[200];
		conn_reply_error(c, rc, 0, "cannot register pid %d: %s", (int)target,
				 proc_refusal(c->d, rc, refusal, sizeof(refusal)));
		return;
	}
	c->registered = pr;
	pr->kill = kill;
	if (c->req.flags & SM_F_RESTRICT) {
		c->restricted = true;
		pr->restricted = true;
	}
	sm_debug("registered pid %d (%s)%s", (int)target, name, c->restricted ? " restricted" : "");
	state_save(c->d);
	conn_reply(c, 0, NULL);
}

static void cmd_acquire(struct conn *c, const uint8_t *p, size_t len)
{
	uint32_t target = 0;
	int rc;
	char err[256] = "";
	find_u32(p, len, SM_T_PID, &target);
	struct proc *pr = authorize(c, target, &rc);
	if (!pr) {
		deny(c, rc, target);
		return;
	}
	struct job *j = parse_resources(c, JOB_ACQUIRE, p, len, &rc, err, sizeof(err));
	if (!j) {
		conn_reply_error(c, rc, 0, "%s", err[0] ? err : sm_strerror(rc));
		return;
	}
	if (j->nres == 0) {
		job_free(j);
		conn_reply_error(c, -SM_EBAD_ARGUMENT, 0, "no resource named");
		return;
	}
	j->conn_id = c->id;
	j->pid = pr->pid;
	j->proc_start = pr->starttime;
	j->flags = c->req.flags;
	leaseops_schedule(c->d, j);
}

static void cmd_release(struct conn *c, const uint8_t *p, size_t len)
{
	uint32_t target = 0;
	int rc;
	char err[256] = "";
	find_u32(p, len, SM_T_PID, &target);
	struct proc *pr = authorize(c, target, &rc);
	if (!pr) {
		deny(c, rc, target);
		return;
	}
	struct daemon *d = c->d;
	struct job *named = NULL;
	if (!(c->req.flags & SM_F_ALL)) {
		named = parse_resources(c, JOB_RELEASE, p, len, &rc, err, sizeof(err));
		if (!named) {
			conn_reply_error(c, rc, 0, "%s", err[0] ? err : sm_strerror(rc));
			return;
		}
		for (int i = 0; i < named->nres; i++) {
			struct lease *l = lease_find(d, named->res[i].ls, named->res[i].name);
			if (!l || !lease_holder(l, pr)) {
				conn_reply_error(c, -SM_ENOT_OWNER, 0, "process %d does not hold %s:%s", (int)pr->pid,
						 named->res[i].ls->name, named->res[i].name);
				job_free(named);
				return;
			}
		}
	}
	/* Collect the leases whose last holder this was into one disk job. */
	int n = 0;
	for (struct holder *h = pr->holds; h; h = h->pnext)
		n++;
	struct job *j = job_new(JOB_RELEASE, n);
	if (!j) {
		job_free(named);
		conn_reply_error(c, -ENOMEM, 0, "out of memory");
		return;
	}
	int k = 0;
	for (struct holder *h = pr->holds; h; h = h->pnext) {
		struct lease *l = h->lease;
		bool wanted = !named;
		for (int i = 0; named && i < named->nres; i++)
			if (named->res[i].ls == l->ls && strcmp(named->res[i].name, l->ref.name) == 0)
				wanted = true;
		if (!wanted)
			continue;
		struct job_res *r = &j->res[k++];
		job_res_set_ls(r, l->ls);
		snprintf(r->name, sizeof(r->name), "%s", l->ref.name);
		job_res_bind_lease(r, l);
		r->handoff_ok = c->req.flags & SM_F_HANDOFF;
	}
	j->nres = k;
	job_free(named);
	for (int i = 0; i < j->nres; i++) {
		bool last;
		lease_remove_holder(d, j->res[i].lease, pr, &last);
	}
	j->conn_id = c->id;
	j->pid = pr->pid;
	j->proc_start = pr->starttime;
	leaseops_schedule(d, j);
}

static void cmd_inquire(struct conn *c, const uint8_t *p, size_t len)
{
	uint32_t target = 0;
	int rc;
	find_u32(p, len, SM_T_PID, &target);
	struct proc *pr = authorize(c, target, &rc);
	if (!pr) {
		deny(c, rc, target);
		return;
	}
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

static void cmd_convert(struct conn *c, const uint8_t *p, size_t len)
{
	uint32_t target = 0;
	int rc;
	char err[256] = "";
	find_u32(p, len, SM_T_PID, &target);
	struct proc *pr = authorize(c, target, &rc);
	if (!pr) {
		deny(c, rc, target);
		return;
	}
	struct job *j = parse_resources(c, JOB_CONVERT, p, len, &rc, err, sizeof(err));
	if (!j || j->nres != 1) {
		if (j)
			job_free(j);
		conn_reply_error(c, j ? -SM_EBAD_ARGUMENT : rc, 0, "%s", err[0] ? err : "convert takes one resource");
		return;
	}
	struct job_res *r = &j->res[0];
	struct lease *l = lease_find(c->d, r->ls, r->name);
	struct holder *h = l ? lease_holder(l, pr) : NULL;
	if (!h) {
		conn_reply_error(c, -SM_ENOT_OWNER, 0, "process %d does not hold %s:%s", (int)pr->pid, r->ls->name,
				 r->name);
		job_free(j);
		return;
	}
	if (h->mode == r->mode) {
		job_free(j);
		conn_reply(c, 0, NULL);
		return;
	}
	int others = 0;
	for (struct holder *o = l->holders; o; o = o->next)
		others += o != h;
	if (others) {
		/* Only shared holders can coexist; this host holds it shared. */
		if (r->mode == SM_MODE_EX) {
			struct sm_me me;
			ls_get_me(r->ls, &me);
			conn_reply_error(c, -SM_ESHARED_HELD, me.host_id,
					 "%s:%s is also held shared by another process on this host", r->ls->name, r->name);
		} else {
			h->mode = r->mode; /* cannot happen: others imply shared */
			state_touch_lease(c->d, l);
			state_save(c->d);
			conn_reply(c, 0, NULL);
		}
		job_free(j);
		return;
	}
	r->held = l->held;
	job_res_bind_lease(r, l);
	j->conn_id = c->id;
	j->pid = pr->pid;
	j->proc_start = pr->starttime;
	leaseops_schedule(c->d, j);
}

static void join_location(struct conn *c, const char *loc, uint32_t host_id, const char *name);

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

static void cmd_join(struct conn *c, const uint8_t *p, size_t len)
{
	if (!require_admin(c))
		return;
	char loc[SM_LOCATION_MAX] = "", name[SM_NAME_FIELD] = "";
	uint32_t host_id = 0;
	if (find_str(p, len, SM_T_LOCATION, loc, sizeof(loc)) <= 0 || find_u32(p, len, SM_T_HOST_ID, &host_id) < 0 ||
	    find_str(p, len, SM_T_HOST_NAME, name, sizeof(name)) < 0) {
		conn_reply_error(c, -SM_EPROTO, 0, "join needs a volume location");
		return;
	}
	if (name[0] && !sm_name_valid(name)) {
		conn_reply_error(c, -SM_EBAD_NAME, 0, "invalid host name '%s'", name);
		return;
	}
	const char *no_wd = watchdog_join_refusal(c->d); /* before anything reads a volume */
	if (no_wd) {
		sm_error("join of %s refused: %s", loc, no_wd);
		conn_reply_error(c, -SM_ECONFIG, 0, "%s", no_wd);
		return;
	}
	if (!strchr(loc, '/')) /* LOCKSPACE instead of VOLUME */
		join_by_name(c, loc, host_id, name);
	else
		join_location(c, loc, host_id, name);
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

static void cmd_leave(struct conn *c, const uint8_t *p, size_t len)
{
	if (!require_admin(c))
		return;
	char name[SM_NAME_FIELD] = "";
	find_str(p, len, SM_T_LOCKSPACE, name, sizeof(name));
	struct ls_entry *e = ls_find(c->d, name);
	if (!e) {
		conn_reply_error(c, -SM_ENOT_JOINED, 0, "lockspace %s is not joined on this host", name);
		return;
	}
	int rc = ls_leave(c->d, e, c->req.flags & SM_F_FORCE);
	if (rc == -SM_EBUSY) {
		conn_reply_error(c, rc, 0, "lockspace %s has leases held by processes on this host (use --force to kill them)",
				 name);
	} else if (rc == 0 && (c->req.flags & SM_F_WAIT) && e->nleave_waiters < (int)SM_ARRAY_SIZE(e->leave_waiter_ids)) {
		e->leave_waiter_ids[e->nleave_waiters++] = c->id; /* replied once our slot is written free */
	} else {
		struct sm_msgbuf b;
		sm_mb_init(&b);
		sm_mb_str(&b, SM_T_LOCKSPACE, e->name);
		sm_mb_str(&b, SM_T_MESSAGE, "leaving");
		conn_reply(c, rc, &b);
	}
}

static void cmd_resource(struct conn *c, const uint8_t *p, size_t len, bool add)
{
	if (!require_admin(c))
		return;
	char name[SM_NAME_FIELD] = "", lsname[SM_NAME_FIELD] = "";
	find_str(p, len, SM_T_LOCKSPACE, lsname, sizeof(lsname));
	find_str(p, len, SM_T_NAME, name, sizeof(name));
	struct ls_entry *e = ls_find(c->d, lsname);
	if (!e || !ls_fresh(e)) {
		conn_reply_error(c, -SM_ENOT_JOINED, 0, "lockspace %s is not joined on this host", lsname);
		return;
	}
	if (!sm_name_valid(name) || strncmp(name, "__", 2) == 0) {
		conn_reply_error(c, -SM_EBAD_NAME, 0, "invalid resource name '%s'", name);
		return;
	}
	struct job *j = job_new(add ? JOB_RESOURCE_ADD : JOB_RESOURCE_RM, 1);
	if (!j) {
		conn_reply_error(c, -ENOMEM, 0, "out of memory");
		return;
	}
	job_res_set_ls(&j->res[0], e);
	snprintf(j->res[0].name, sizeof(j->res[0].name), "%s", name);
	j->conn_id = c->id;
	leaseops_schedule(c->d, j);
}

static void cmd_set_kill(struct conn *c, const uint8_t *p, size_t len)
{
	uint32_t target = 0;
	int rc;
	find_u32(p, len, SM_T_PID, &target);
	struct proc *pr = authorize(c, target, &rc);
	if (!pr) {
		deny(c, rc, target);
		return;
	}
	struct kill_action k;
	char why[200];
	if ((rc = parse_kill(c, p, len, &k, why, sizeof(why))) < 0) {
		conn_reply_error(c, rc, 0, "%s", why);
		return;
	}
	pr->kill = k;
	state_touch_proc(c->d, pr);
	state_save(c->d);
	conn_reply(c, 0, NULL);
}

static void cmd_request(struct conn *c, const uint8_t *p, size_t len, enum job_kind kind)
{
	uint32_t kind_arg = 0, wait_ms = 0, target = 0;
	int rc;
	char err[256] = "";
	struct proc *pr = NULL;
	if (kind == JOB_RECEIVE) {
		find_u32(p, len, SM_T_PID, &target);
		if (!(pr = authorize(c, target, &rc))) {
			deny(c, rc, target);
			return;
		}
		find_u32(p, len, SM_T_WAIT_MS, &wait_ms);
	} else {
		if (!require_admin(c))
			return;
		find_u32(p, len, SM_T_KIND, &kind_arg);
		if (kind_arg != SM_REQ_RELEASE && kind_arg != SM_REQ_HANDOFF) {
			conn_reply_error(c, -SM_EBAD_ARGUMENT, 0, "unknown request kind %u", kind_arg);
			return;
		}
	}
	struct job *j = parse_resources(c, kind, p, len, &rc, err, sizeof(err));
	if (!j || j->nres != 1) {
		if (j)
			job_free(j);
		conn_reply_error(c, j ? -SM_EBAD_ARGUMENT : rc, 0, "%s", err[0] ? err : "one resource, please");
		return;
	}
	j->kind_arg = kind_arg;
	j->wait_ms = wait_ms ? wait_ms : 60000;
	j->conn_id = c->id;
	if (pr) {
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
		j->pid = pr->pid;
		j->proc_start = pr->starttime;
	}
	leaseops_schedule(c->d, j);
}

static void cmd_shutdown(struct conn *c)
{
	if (!require_admin(c))
		return;
	struct daemon *d = c->d;
	if (c->req.flags & SM_F_KEEP) {
		d->keep_on_exit = true;
	} else if (d->lt.nheld > 0 && !(c->req.flags & SM_F_FORCE)) {
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

/* status / hosts / renewals */

static void cmd_metrics(struct conn *c)
{
	if (!require_admin(c))
		return;
	struct sm_msgbuf b;
	sm_mb_init(&b);
	metrics_render(c->d, &b);
	conn_reply(c, 0, &b);
}

void cmds_dispatch(struct conn *c, const uint8_t *payload, size_t len)
{
	if (check_framing(payload, len, 0) < 0) {
		c->d->m.bad_messages++;
		conn_reply_error(c, -SM_EPROTO, 0, "malformed request (bad TLV framing)");
		return;
	}
	if (c->restricted) {
		c->d->m.denied++;
		conn_reply_error(c, -SM_EDENIED, 0, "this connection is restricted: it may issue no requests");
		return;
	}
	switch (c->req.cmd) {
	case SM_CMD_REGISTER: cmd_register(c, payload, len); break;
	case SM_CMD_ACQUIRE: cmd_acquire(c, payload, len); break;
	case SM_CMD_RELEASE: cmd_release(c, payload, len); break;
	case SM_CMD_INQUIRE: cmd_inquire(c, payload, len); break;
	case SM_CMD_CONVERT: cmd_convert(c, payload, len); break;
	case SM_CMD_JOIN: cmd_join(c, payload, len); break;
	case SM_CMD_LEAVE: cmd_leave(c, payload, len); break;
	case SM_CMD_STATUS: report_status(c); break;
	case SM_CMD_HOSTS: report_hosts(c, payload, len); break;
	case SM_CMD_RENEWALS: report_renewals(c, payload, len); break;
	case SM_CMD_RESOURCE_ADD: cmd_resource(c, payload, len, true); break;
	case SM_CMD_RESOURCE_RM: cmd_resource(c, payload, len, false); break;
	case SM_CMD_SET_KILL: cmd_set_kill(c, payload, len); break;
	case SM_CMD_REQUEST: cmd_request(c, payload, len, JOB_REQUEST); break;
	case SM_CMD_RECEIVE: cmd_request(c, payload, len, JOB_RECEIVE); break;
	case SM_CMD_SHUTDOWN: cmd_shutdown(c); break;
	case SM_CMD_METRICS: cmd_metrics(c); break;
	default:
		c->d->m.bad_messages++;
		conn_reply_error(c, -SM_EPROTO, 0, "unknown command %u", c->req.cmd);
	}
}
