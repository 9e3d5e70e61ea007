/* Registered processes and fencing (contract in procs.h).
 *
 * A process's leases are released when it is gone:
 *  - registered on its own connection: when that connection closes;
 *  - registered by its supervising parent (`sync_manager run`): when the
 *    parent's connection is closed and the process has exited;
 *  - restored after a daemon restart (no connection): when it exits.
 * Fencing (lockspace expired or lost): run the kill program or send
 * SIGTERM at once, SIGKILL after the grace time G, until no process holds
 * a lease of that lockspace any more.
 * A kill program may stop its process without ending it (libvirt's
 * <on_lockfailure>pause</on_lockfailure>): once the program exited with
 * status 0 and the process, still alive, holds no lease of a failed
 * lockspace, its fencing is over and it may acquire again (a paused guest
 * resumes at the lease versions it held: the caller's lver rule decides).
 * A process whose kill program failed stays fenced: it cannot acquire. */
#include "procs.h"

#include "conn.h"
#include "leasetab.h"
#include "lockspaces.h"
#include "state.h"

#include "common/log.h"
#include "common/util.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* pidfd tags live with the proc. */
struct proc_box {
	struct proc p;
	struct ev_tag tag;
};


static struct proc **proc_bucket(struct daemon *d, pid_t pid)
{
	return &d->proc_hash[(uint32_t)pid % SM_PROC_HASH_BUCKETS];
}

struct proc *proc_find(struct daemon *d, pid_t pid)
{
	for (struct proc *p = *proc_bucket(d, pid); p; p = p->hnext)
		if (p->pid == pid && p->state != PROC_DEAD)
			return p;
	return NULL;
}

const char *proc_refusal(struct daemon *d, int err, char *buf, size_t len)
{
	struct rlimit rl = {0};
	switch (err) {
	case -SM_EBUSY: snprintf(buf, len, "it is already registered"); break;
	case -SM_ETOO_BIG:
		snprintf(buf, len, "max_clients (%llu) reached: %d processes are registered (raise max_clients in "
			 "sync_managerd.conf)", (unsigned long long)d->cfg.max_clients, d->nprocs);
		break;
	case -EMFILE:
	case -ENFILE:
		getrlimit(RLIMIT_NOFILE, &rl);
		snprintf(buf, len, "%s (RLIMIT_NOFILE %llu; %d connections, %d processes registered; each client "
			 "needs 2): raise LimitNOFILE or lower max_clients",
			 err == -ENFILE ? "the system's file table is full" : "sync_managerd is at its file descriptor limit",
			 (unsigned long long)rl.rlim_cur, d->nconns, d->nprocs);
		break;
	case -ESRCH: snprintf(buf, len, "no such process (it exited)"); break;
	default: snprintf(buf, len, "%s", sm_strerror(err)); break;
	}
	return buf;
}

static bool proc_exited(struct proc *p)
{
	if (p->exited)
		return true;
	if (p->pidfd >= 0) {
		if (syscall(SYS_pidfd_send_signal, p->pidfd, 0, NULL, 0) < 0 && errno == ESRCH)
			p->exited = true;
	} else if (kill(p->pid, 0) < 0 && errno == ESRCH) {
		p->exited = true;
	} else if (p->starttime && sm_proc_starttime(p->pid) != p->starttime) {
		p->exited = true; /* the pid was reused */
	}
	return p->exited;
}

/* A pidfd for pid and the start time of the process it refers to: the
 * pidfd is opened first, so a start time read afterwards that is still the
 * expected one proves the pidfd is that process, not a later one that got
 * its pid.  Returns the pidfd (close-on-exec) or -errno; *starttime is 0
 * when the process is gone. */
static int open_pidfd(pid_t pid, uint64_t *starttime)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -errno;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	errno = 0;
	*starttime = sm_proc_starttime(pid);
	if (!*starttime && (errno == EMFILE || errno == ENFILE)) {
		int e = errno; /* not gone: /proc could not be opened */
		close(fd);
		return -e;
	}
	return fd;
}

/* Send sig to p through a pidfd, never by pid number: the number may belong
 * to another process by now.  Returns 0, -ESRCH when p has exited (nothing
 * was sent), or another -errno (nothing was sent; the caller logs it). */
static int proc_signal(struct proc *p, int sig)
{
	if (proc_exited(p))
		return -ESRCH;
	int fd = p->pidfd;
	if (fd < 0) { /* pidfd_open failed at registration: try again now */
		uint64_t st = 0;
		fd = open_pidfd(p->pid, &st);
		if (fd >= 0 && st != p->starttime) {
			close(fd);
			fd = -ESRCH;
		}
		if (fd < 0) {
			if (fd == -ESRCH)
				p->exited = true;
			return fd;
		}
	}
	int rc = syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0 ? -errno : 0;
	if (fd != p->pidfd)
		close(fd);
	if (rc == -ESRCH)
		p->exited = true;
	return rc;
}

struct proc *proc_register(struct daemon *d, pid_t pid, const char *name, struct conn *reg, bool by_parent,
			   int *err)
{
	*err = 0;
	struct proc *old = proc_find(d, pid);
	if (old && !proc_exited(old)) {
		*err = -SM_EBUSY;
		return NULL;
	}
	if ((uint64_t)d->nprocs >= d->cfg.max_clients) {
		*err = -SM_ETOO_BIG;
		return NULL;
	}
	uint64_t st = 0;
	int pidfd = open_pidfd(pid, &st);
	if (pidfd == -EMFILE || pidfd == -ENFILE) {
		/* out of fds: its exit could not be watched (nor its start
		 * time read): refuse, saying why (proc_refusal) */
		*err = pidfd;
		return NULL;
	}
	if (pidfd < 0) { /* still registered: exits are polled, signals retry it */
		errno = 0;
		st = sm_proc_starttime(pid);
		if (!st && (errno == EMFILE || errno == ENFILE)) {
			*err = -errno;
			return NULL;
		}
	}
	struct proc_box *box = st ? calloc(1, sizeof(*box)) : NULL;
	if (!box) {
		*err = st ? -ENOMEM : -ESRCH;
		if (pidfd >= 0)
			close(pidfd);
		return NULL;
	}
	struct proc *p = &box->p;
	p->d = d;
	p->pid = pid;
	p->starttime = st;
	p->reg = reg;
	p->by_parent = by_parent;
	p->state = PROC_ALIVE;
	snprintf(p->name, sizeof(p->name), "%s", name && *name ? name : "");
	p->pidfd = pidfd;
	if (p->pidfd >= 0) {
		box->tag = (struct ev_tag){EV_PIDFD, p};
		ev_add(d, p->pidfd, EPOLLIN, &box->tag);
	}
	p->next = d->procs;
	if (d->procs)
		d->procs->prev = p;
	d->procs = p;
	struct proc **b = proc_bucket(d, pid);
	p->hnext = *b;
	*b = p;
	d->nprocs++;
	d->m.clients_total++;
	state_touch_proc(d, p);
	return p;
}

/* Remove p from the list and free it (its leases must be gone). */
void proc_forget(struct proc *p)
{
	struct daemon *d = p->d;
	state_forget_proc(d, p);
	if (p->prev)
		p->prev->next = p->next;
	else
		d->procs = p->next;
	if (p->next)
		p->next->prev = p->prev;
	for (struct proc **pp = proc_bucket(d, p->pid); *pp; pp = &(*pp)->hnext)
		if (*pp == p) {
			*pp = p->hnext;
			break;
		}
	p->prev = NULL;
	d->nprocs--;
	if (p->pidfd >= 0) {
		ev_del(d, p->pidfd);
		close(p->pidfd);
		p->pidfd = -1;
		conn_fds_freed(d);
	}
	if (p->reg)
		p->reg->registered = NULL;
	p->reg = NULL;
	p->state = PROC_DEAD;
	/* Free after the current epoll batch: an event for its pidfd may be
	 * waiting in it. */
	p->next = d->dead_procs;
	d->dead_procs = p;
}

void proc_free_dead(struct daemon *d)
{
	while (d->dead_procs) {
		struct proc *p = d->dead_procs;
		d->dead_procs = p->next;
		free((struct proc_box *)p);
	}
}

static void proc_done(struct daemon *d, struct proc *p)
{
	p->state = PROC_DEAD;
	state_touch_proc(d, p);
	d->on.proc_gone(d, p);
	if (p->nleases == 0)
		proc_forget(p);
}

void proc_conn_closed(struct proc *p)
{
	struct daemon *d = p->d;
	/* A supervisor's connection closing does not end the leases of a child
	 * that still runs; the pidfd will tell us when it exits. */
	if (p->by_parent && !proc_exited(p))
		return;
	sm_info("process %d (%s) is gone: releasing its %d lease(s)", (int)p->pid, p->name, p->nleases);
	proc_done(d, p);
}

void proc_on_pidfd(struct proc *p)
{
	struct daemon *d = p->d;
	p->exited = true; /* (a forgotten proc has no pidfd and is PROC_DEAD: no-op below) */
	if (p->pidfd >= 0) {
		ev_del(d, p->pidfd);
		close(p->pidfd);
		p->pidfd = -1;
		conn_fds_freed(d);
	}
	if (p->reg)
		return; /* the registration connection's close releases (a
			 * supervisor reports the exit status first) */
	if (p->state == PROC_DEAD)
		return;
	sm_info("process %d (%s) exited: releasing its %d lease(s)", (int)p->pid, p->name, p->nleases);
	proc_done(d, p);
}

/* ---- fencing ----------------------------------------------------------------- */

static bool holds_in(struct daemon *d, struct proc *p, struct ls_entry *e)
{
	(void)d;
	for (struct holder *h = p->holds; h; h = h->pnext)
		if (h->lease->ls == e)
			return true;
	return false;
}

/* In the forked child: become the owner of the kill action (its uid and
 * gid, no supplementary groups) and run the program.  Only async-signal-
 * safe calls.  Exit 126: could not drop to the owner; 127: exec failed. */
static _Noreturn void exec_kill_program(const struct kill_action *k, char **argv)
{
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	close_range(3, ~0U, 0); /* the daemon's sockets, state file, watchdog */
	if (setgroups(0, NULL) < 0 || setgid(k->gid) < 0 || setuid(k->uid) < 0)
		_exit(126);
	if (k->uid != 0 && setuid(0) == 0) /* must be gone for good */
		_exit(126);
	execv(argv[0], argv);
	_exit(127);
}

/* Signal a holder being fenced; log what stopped it. */
static void send_fence_signal(struct proc *p, int sig)
{
	int rc = proc_signal(p, sig);
	if (rc == -ESRCH)
		sm_info("process %d (%s) exited before signal %d reached it", (int)p->pid, p->name, sig);
	else if (rc < 0)
		sm_error("cannot send signal %d to process %d (%s): %s; the watchdog ends it if it holds on",
			 sig, (int)p->pid, p->name, strerror(-rc));
}

static void run_kill_program(struct daemon *d, struct proc *p)
{
	char pidbuf[16];
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)p->pid);
	char *argv[SM_MAX_KILL_ARGS + 3];
	int n = 0;
	argv[n++] = p->kill.path;
	for (int i = 0; i < p->kill.nargs; i++)
		argv[n++] = p->kill.args[i];
	argv[n++] = pidbuf;
	argv[n] = NULL;
	pid_t k = fork();
	if (k == 0)
		exec_kill_program(&p->kill, argv);
	if (k < 0) {
		sm_error("cannot start kill program %s: %s; sending SIGTERM", p->kill.path, strerror(errno));
		send_fence_signal(p, SIGTERM);
		return;
	}
	p->kill_pid = k;
	d->m.kill_programs++;
	sm_warn("fencing process %d (%s): running %s %s as uid %u gid %u (pid %d)", (int)p->pid, p->name,
		p->kill.path, pidbuf, (unsigned)p->kill.uid, (unsigned)p->kill.gid, (int)k);
}

static void start_kill(struct daemon *d, struct proc *p, const char *why)
{
	if (p->state == PROC_FENCING)
		return;
	p->state = PROC_FENCING;
	p->kill_started_mono = mono_ms();
	p->kill_program_done = false;
	p->kill_program_ok = false;
	if (proc_exited(p)) { /* its pid may be another process's by now */
		sm_warn("fencing process %d (%s): %s; it has exited already, nothing to signal", (int)p->pid,
			p->name, why);
		return;
	}
	if (p->kill.path[0] && !p->kill.has_owner)
		sm_error("process %d (%s): its kill program %s was saved by an older daemon that did not record "
			 "who set it; not running it as root, sending the signal instead",
			 (int)p->pid, p->name, p->kill.path);
	if (p->kill.path[0] && p->kill.has_owner) {
		run_kill_program(d, p);
		p->kill_program_ran = true;
	} else {
		int sig = p->kill.signal ? p->kill.signal : SIGTERM;
		sm_warn("fencing process %d (%s): %s; sending signal %d", (int)p->pid, p->name, why, sig);
		send_fence_signal(p, sig);
		d->m.kills_term++;
	}
}

void fence_lockspace(struct daemon *d, struct ls_entry *e, const char *why)
{
	if (!ls_start_fencing(e))
		return;
	d->m.fencings++;
	int n = 0;
	for (struct proc *p = d->procs; p; p = p->next)
		if (p->state != PROC_DEAD && holds_in(d, p, e)) {
			start_kill(d, p, why);
			n++;
		}
	sm_error("lockspace %s: %s: fencing %d process(es) holding its leases", e->name, why, n);
	state_touch_ls(d);
}

/* Drop the leases of a fenced lockspace held by processes that died or
 * released.  The disk keeps them; other hosts take over after H. */
static void settle_fenced(struct daemon *d, struct ls_entry *e)
{
	for (struct lease *l = d->lt.head, *next; l; l = next) {
		next = l->next;
		if (l->ls != e || l->busy)
			continue;
		for (struct holder *h = l->holders, *hn; h; h = hn) {
			hn = h->next;
			if (h->proc->exited || proc_exited(h->proc)) {
				bool last;
				struct proc *p = h->proc;
				lease_remove_holder(d, l, p, &last);
				if (p->nleases == 0 && p->state != PROC_ALIVE && !p->reg)
					proc_forget(p);
			}
		}
		if (!l->holders)
			lease_drop(d, l);
	}
}

/* Kill program k exited with status: note how, for its process (if it is
 * still known). */
static void kill_program_exited(struct daemon *d, pid_t k, int status)
{
	if (WIFEXITED(status) && (WEXITSTATUS(status) == 126 || WEXITSTATUS(status) == 127))
		sm_warn("kill program (pid %d) exited with status %d%s", (int)k, WEXITSTATUS(status),
			WEXITSTATUS(status) == 126 ? " (could not switch to the uid and gid of who set it)"
						   : " (could not be executed)");
	for (struct proc *p = d->procs; p; p = p->next) {
		if (p->kill_pid != k)
			continue;
		p->kill_pid = 0;
		p->kill_program_done = true;
		p->kill_program_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
		if (!p->kill_program_ok)
			sm_error("kill program %s for process %d (%s) %s %d: the process stays fenced (it cannot acquire "
				 "leases again; end it)",
				 p->kill.path, (int)p->pid, p->name, WIFEXITED(status) ? "exited with status" : "was killed by signal",
				 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return;
	}
}

static bool holds_in_failed(struct daemon *d, struct proc *p)
{
	(void)d;
	for (struct holder *h = p->holds; h; h = h->pnext)
		if (h->lease->ls->state == LS_FAILED || h->lease->ls->fencing)
			return true;
	return false;
}

/* Processes their kill program stopped without ending them: fencing is
 * over for them (see the top of this file). */
static void end_fencing_of_stopped(struct daemon *d)
{
	for (struct proc *p = d->procs; p; p = p->next) {
		if (p->state != PROC_FENCING || !p->kill_program_done || !p->kill_program_ok || p->sigkilled ||
		    proc_exited(p) || holds_in_failed(d, p))
			continue;
		p->state = PROC_ALIVE;
		p->kill_program_done = false;
		sm_warn("process %d (%s): its kill program stopped it and it holds no lease of a failed lockspace: "
			"fencing is over for it; it may acquire leases again",
			(int)p->pid, p->name);
	}
}

uint64_t proc_tick(struct daemon *d)
{
	bool poll = false; /* something below is only seen by looking again */
	/* reap kill programs */
	pid_t k;
	int status;
	while ((k = waitpid(-1, &status, WNOHANG)) > 0)
		kill_program_exited(d, k, status);
	uint64_t now = mono_ms();
	for (struct ls_entry *e = d->lockspaces; e; e = e->next) {
		if (!e->fencing)
			continue;
		poll = true; /* holders' exits, then SIGKILL at the end of G */
		settle_fenced(d, e);
		if (ls_fence_grace_over(e, now)) {
			for (struct proc *p = d->procs; p; p = p->next)
				if (holds_in(d, p, e) && !proc_exited(p)) {
					sm_error("process %d (%s) still holds leases of %s after %u ms: SIGKILL", (int)p->pid,
						 p->name, e->name, e->to.kill_grace_ms);
					send_fence_signal(p, SIGKILL);
					p->sigkilled = true;
					d->m.kills_kill++;
				}
		}
	}
	end_fencing_of_stopped(d);
	/* restored or supervised processes whose exit we must poll for */
	for (struct proc *p = d->procs, *next; p; p = next) {
		next = p->next;
		if (p->pidfd < 0 && !p->reg && p->state != PROC_DEAD && proc_exited(p)) {
			sm_info("process %d (%s) is gone: releasing its %d lease(s)", (int)p->pid, p->name, p->nleases);
			proc_done(d, p);
		}
		poll = poll || p->state == PROC_FENCING || (p->pidfd < 0 && !p->reg && p->state != PROC_DEAD);
	}
	return poll ? now + SM_POLL_MS : SM_NO_DEADLINE;
}
