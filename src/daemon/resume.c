/* Restarting without losing leases: a new daemon reads back RUN_DIR/state
 * (written by state.c; format and rules in state.c and docs/restart.md).
 *
 * A new daemon:
 *  - resumes each lockspace only if F has not passed since the previous
 *    daemon's last good renewal started (else others may already own our
 *    leases: the holders are fenced);
 *  - re-attaches to the processes that still run (pid + start time);
 *  - verifies on disk that each lease with a living holder is still ours,
 *    and fences the lockspace otherwise (leaseops_verify_resumed, once the
 *    lockspace is resumed);
 *  - releases the leases of processes that exited meanwhile.
 *
 * This module sits above the others (only main.c calls it): it builds the
 * lockspaces, processes and leases through their owners' functions. */
#include "resume.h"

#include "daemon.h"
#include "leasetab.h"
#include "lockspaces.h"
#include "procs.h"
#include "state.h"
#include "state_replay.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The parser's fields are copied into these as they are. */
_Static_assert(sizeof(((struct proc *)0)->name) == SM_NAME_FIELD, "proc name");
_Static_assert(sizeof(((struct kill_action *)0)->path) == STATE_KILL_PATH_SIZE, "kill path");
_Static_assert(sizeof(((struct kill_action *)0)->args) ==
		       sizeof(((struct state_proc_fields *)0)->args), "kill args");
_Static_assert(sizeof(((struct lease *)0)->location) == sizeof(((struct state_lease_fields *)0)->location),
	       "lease locations");

static void malformed(const char *path, const struct state_rec *r, const char *kind, const char *why)
{
	sm_error("%s:%zu: ignoring a malformed %s record (%s)", path, r->lineno, kind, why);
}

static int restore_lockspace(struct daemon *d, const char *path, const struct state_rec *r)
{
	struct state_ls_fields f;
	const char *why;
	if (state_parse_lockspace(r->line, &f, &why) < 0) {
		malformed(path, r, "lockspace", why);
		return -SM_EPROTO;
	}
	uint64_t last = r->renewed ? r->renewed : f.last_renewal_boot_ms;
	struct ls_entry *e;
	int rc = ls_resume(d, f.location, f.host_id, f.generation, f.instance, last, f.failed,
			   f.has_header ? f.name : NULL, f.io_timeout_ms, f.watchdog_timeout_ms, &e);
	if (rc < 0) {
		sm_error("cannot resume the lockspace at %s: %s", f.location, sm_strerror(rc));
		return rc;
	}
	return 0;
}

static void restore_proc(struct daemon *d, const char *path, const struct state_rec *r)
{
	struct state_proc_fields f;
	const char *why;
	if (state_parse_proc(r->line, &f, &why) < 0) {
		malformed(path, r, "proc", why);
		return;
	}
	pid_t pid = (pid_t)f.pid;
	if (sm_proc_starttime(pid) != f.starttime) {
		sm_info("process %d of the previous daemon is gone", (int)pid);
		return;
	}
	int err;
	struct proc *p = proc_register(d, pid, f.name, NULL, f.by_parent, &err);
	if (!p)
		return;
	if (p->starttime != f.starttime) { /* exited, its pid reused, just now */
		sm_info("process %d of the previous daemon is gone", (int)pid);
		proc_forget(p);
		return;
	}
	p->kill.signal = f.signal;
	memcpy(p->kill.path, f.kill_path, sizeof(p->kill.path));
	p->kill.nargs = f.nargs;
	memcpy(p->kill.args, f.args, sizeof(p->kill.args));
	p->kill.has_owner = f.has_owner;
	p->kill.uid = (uid_t)f.uid;
	p->kill.gid = (gid_t)f.gid;
	sm_info("re-attached to process %d (%s)", (int)pid, f.name);
}

/* A lease on several volumes (or on another volume than its lockspace's)
 * was granted by an earlier version; this one refuses new ones (issue 18).
 * It is resumed as it is, not dropped: it is ours on disk, its holders run,
 * and forgetting it would leave it owned by nobody who can release it.  Say
 * loudly that it is not safe and what to do. */
static void warn_several_volumes(const struct ls_entry *e, const struct state_lease_fields *f)
{
	if (f->nlocations == 0 || (f->nlocations == 1 && strcmp(f->location[0], e->location) == 0))
		return;
	sm_error("lease %s:%s of the previous daemon is on %d volume(s) (first %s), which this version refuses: "
		 "hosts could disagree on host ids and liveness, so it may be held twice. It is kept for its "
		 "holders until they exit; restart them with the lease on one volume (%s)",
		 f->ls, f->name, f->nlocations, f->location[0], e->location);
}

static void restore_lease(struct daemon *d, const char *path, const struct state_rec *r)
{
	struct state_lease_fields f;
	const char *why;
	if (state_parse_lease(r->line, &f, &why) < 0) {
		malformed(path, r, "lease", why);
		return;
	}
	struct ls_entry *e = ls_find(d, f.ls);
	if (!e)
		return;
	struct lease *l = lease_new(d, e, f.name);
	if (!l)
		return;
	l->held.mode = f.mode;
	l->held.lver = f.lver;
	l->on_disk = f.on_disk;
	l->in_doubt = f.in_doubt;
	l->nlocations = f.nlocations;
	memcpy(l->location, f.location, sizeof(l->location));
	warn_several_volumes(e, &f);
	l->st.filed_holders = f.nholders > 0; /* until the next snapshot */
	struct state_holder h;
	for (const char *c = f.holders; state_next_holder(&c, &h);) {
		struct proc *p = proc_find(d, (pid_t)h.pid);
		if (p)
			lease_add_holder(l, p, h.mode);
	}
}

/* The state file's records name processes to signal and kill programs to
 * run as root: never act on one someone else could have written. */
static int refuse_state(const char *path, const char *why)
{
	sm_error("refusing to resume from %s: it is %s. Check what wrote it; then remove it (processes holding "
		 "leases are not resumed) or make it root's: chown root %s; chmod 0600 %s",
		 path, why, path, path);
	return -EPERM;
}

int resume_check_file(struct daemon *d)
{
	char path[300], why[128];
	state_path(d, path, sizeof(path), "");
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISLNK(st.st_mode))
		return refuse_state(path, "a symbolic link");
	if (!S_ISREG(st.st_mode))
		return refuse_state(path, "not a regular file");
	if (!state_trusted(&st, why, sizeof(why)))
		return refuse_state(path, why);
	return 0;
}

int resume_from_state_file(struct daemon *d)
{
	char path[300];
	state_path(d, path, sizeof(path), "");
	char *buf = NULL, why[128];
	size_t len = 0;
	struct stat st;
	int rc = state_read_file(path, &buf, &len, &st);
	if (rc == -ELOOP || rc == -EPERM)
		snprintf(why, sizeof(why), "%s", rc == -ELOOP ? "a symbolic link" : "not a regular file");
	if (rc == -ELOOP || rc == -EPERM || (rc == 0 && !state_trusted(&st, why, sizeof(why)))) {
		free(buf);
		return refuse_state(path, why);
	}
	if (rc < 0) {
		state_snapshot(d); /* start the file this daemon appends to */
		return rc == -ENOENT ? 0 : rc;
	}
	struct state_replay rp;
	rc = state_replay_parse(buf, len, &rp);
	if (rc == -SM_EPROTO) {
		state_replay_free(&rp);
		free(buf);
		sm_error("%s is not a sync_managerd state file; ignoring it", path);
		state_snapshot(d);
		return rc;
	}
	sm_warn("resuming the previous daemon's lockspaces, processes and leases from %s", path);
	if (rc < 0) {
		state_replay_free(&rp);
		free(buf);
		return rc;
	}
	if (rp.torn)
		sm_warn("%s: ignoring a torn last line (%zu bytes)", path, rp.torn);
	if (rp.bad_renewed)
		sm_error("%s:%zu: ignoring %zu malformed renewed line(s)", path, rp.first_bad_renewed,
			 rp.bad_renewed);
	/* Lockspaces, then processes, then leases, so references resolve. */
	const struct state_rec *r;
	for (r = NULL; (r = state_replay_next(&rp, STATE_LOCKSPACE, r));)
		restore_lockspace(d, path, r);
	for (r = NULL; (r = state_replay_next(&rp, STATE_PROC, r));)
		restore_proc(d, path, r);
	for (r = NULL; (r = state_replay_next(&rp, STATE_LEASE, r));)
		restore_lease(d, path, r);
	state_replay_free(&rp);
	free(buf);
	/* Expired lockspaces: their holders go now. */
	for (struct ls_entry *e = d->lockspaces; e; e = e->next)
		if (e->state == LS_FAILED)
			fence_lockspace(d, e, "its leases expired while no daemon was running");
	/* Leases whose processes are gone: release them once resumed. */
	for (struct lease *l = d->lt.head; l; l = l->next)
		if (!l->holders && l->on_disk)
			l->retry_at_mono = mono_ms() + 1000;
	/* The leases of each resumed lockspace are checked on disk once it is
	 * resumed (leaseops_verify_resumed). */
	/* A fresh snapshot (drops the replayed journal and any torn line). */
	state_snapshot(d);
	return 0;
}
