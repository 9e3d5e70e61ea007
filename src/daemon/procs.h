/* sync_managerd: registered processes and fencing (procs.c).
 *
 * Ownership: procs.c owns each struct proc, the list d->procs and the hash
 * d->proc_hash (register, forget, exit notification, kill programs);
 * nleases and holds are the lease table's (leasetab.c): the count and the
 * list of the proc's holder records.  Fencing a lockspace signals the
 * processes holding its leases; the lockspace's own state changes through
 * lockspaces.h (ls_start_fencing, ls_fence_grace_over). */
#ifndef SM_DAEMON_PROCS_H
#define SM_DAEMON_PROCS_H

#include "daemon.h"

#define SM_MAX_KILL_ARGS 8

struct kill_action {
	int signal;                 /* 0 = SIGTERM */
	char path[256];             /* "" = send the signal */
	char args[SM_MAX_KILL_ARGS][128];
	int nargs;
	/* Who chose it (SO_PEERCRED of the connection that sent it): the kill
	 * program runs with this uid and gid and no supplementary groups.
	 * has_owner false (a record of an older daemon): the program is not
	 * run, the signal is sent instead. */
	bool has_owner;
	uid_t uid;
	gid_t gid;
};

enum proc_state { PROC_ALIVE, PROC_FENCING, PROC_DEAD };

struct proc {
	struct proc *next, *prev;   /* d->procs */
	struct proc *hnext;         /* d->proc_hash chain (by pid, newest first) */
	struct holder *holds;       /* its holder records (leasetab.c links them) */
	struct daemon *d;
	pid_t pid;
	uint64_t starttime;         /* /proc/PID/stat field 22: guards against pid reuse */
	int pidfd;                  /* exit notification */
	char name[SM_NAME_FIELD];
	struct conn *reg;           /* registration connection (NULL after a restart) */
	bool by_parent;             /* registered by its supervising parent */
	bool restricted;
	struct kill_action kill;
	enum proc_state state;
	bool exited;
	uint64_t kill_started_mono;
	bool kill_program_ran;
	pid_t kill_pid;             /* its kill program while it runs, else 0 */
	bool kill_program_done;     /* the kill program exited ... */
	bool kill_program_ok;       /* ... with status 0 */
	bool sigkilled;
	int nleases;                /* holder records naming it (leasetab.c) */
	struct state_mark st;
};

/* The live (not forgotten) process registered as pid, in O(1). */
struct proc *proc_find(struct daemon *d, pid_t pid);
/* Register pid.  NULL and *err on failure: -SM_EBUSY (registered already),
 * -SM_ETOO_BIG (max_clients reached), -EMFILE/-ENFILE (the daemon is at its
 * fd limit), -ESRCH (gone), -ENOMEM; proc_refusal() words it. */
struct proc *proc_register(struct daemon *d, pid_t pid, const char *name, struct conn *reg, bool by_parent,
			   int *err);
/* Why proc_register() refused with err, in words naming the setting or
 * limit ("max_clients (N) reached ..."), in buf. */
const char *proc_refusal(struct daemon *d, int err, char *buf, size_t len);
void proc_conn_closed(struct proc *p);
void proc_on_pidfd(struct proc *p);
/* Reap kill programs, fence (SIGKILL after G), release the leases of
 * processes found gone.  Returns when it must run again although no event
 * came (mono_ms(); now + SM_POLL_MS while it polls for exits), or
 * SM_NO_DEADLINE. */
uint64_t proc_tick(struct daemon *d);
void proc_forget(struct proc *p);
void proc_free_dead(struct daemon *d);
/* e expired, was lost or must not be trusted: signal (or run the kill
 * program of) every process holding one of its leases, SIGKILL after G. */
void fence_lockspace(struct daemon *d, struct ls_entry *e, const char *why);

#endif
