/* Disk jobs: built by the loop, run by worker threads, applied by the loop.
 *
 * A job carries copies of everything a worker needs.  The loop-side
 * pointers (lease, proc) are only dereferenced by the loop, after the job
 * comes back; the lockspace entry is reference-counted and its sm_lockspace
 * is thread-safe for the calls workers make (identity, liveness).
 *
 * Jobs run on the shared workers (cfg.workers), except JOB_RECEIVE: it may
 * wait minutes for another host, so each runs on a thread of its own (jobs.c,
 * start_receiver) and comes back through the same completion queue.
 *
 * Ownership: jobs.c owns the job queues (d's jq_*, done_*, workers,
 * receivers: under jq_mu) and each job's references to lockspaces and
 * leases; leaseops.c decides when a job starts and applies its result. */
#ifndef SM_DAEMON_JOBS_H
#define SM_DAEMON_JOBS_H

#include "daemon.h"

enum job_kind {
	JOB_ACQUIRE,
	JOB_RELEASE,
	JOB_CONVERT,
	JOB_RESOURCE_ADD,
	JOB_RESOURCE_RM,
	JOB_REQUEST,
	JOB_RESOLVE,
	JOB_RECEIVE,
	JOB_VERIFY,
	JOB_ORPHANS,
};

/* JOB_ORPHANS: what a resource is to us on disk (job_res.mine). */
enum orphan_mine { MINE_NONE, MINE_EX, MINE_SH, MINE_DOUBT };

struct job_res {
	struct lease *lease;     /* loop side */
	struct ls_entry *ls;
	char name[SM_NAME_FIELD];
	char location[3][SM_LOCATION_MAX];
	int nlocations;
	uint32_t mode;
	bool at_version;
	uint64_t version;
	bool local_only;         /* no disk work: this host already holds it */
	bool handoff_ok;         /* release: hand off if a hand-off was requested */
	struct sm_me me;         /* this host in r's lockspace, when the job starts */
	struct sm_lease held;    /* release/convert input */
	struct sm_lease out;     /* result */
	int rc;
	bool done_on_disk;       /* acquire: it is held on disk now */
	uint8_t mine;            /* JOB_ORPHANS: enum orphan_mine */
};

struct job {
	struct job *next;
	enum job_kind kind;
	uint64_t conn_id;        /* connection to reply to (0: none) */
	struct proc *proc;       /* loop side: the process the job is for */
	pid_t pid;
	uint64_t proc_start;
	uint32_t flags;          /* SM_F_* of the request */
	uint32_t kind_arg;       /* request kind, convert mode, areas per orphan sweep batch */
	uint32_t wait_ms;
	/* JOB_ORPHANS sweep (nres > 1, res[0] names nothing): its first area in,
	 * the next one out (0: the pass is over); found leases go to res[1..]. */
	uint32_t cursor;
	uint64_t submitted_mono;
	int rc;
	char message[256];
	uint32_t owner;
	int nres;
	struct job_res res[];
};

struct job *job_new(enum job_kind kind, int nres);
void job_free(struct job *j);
/* Queue for a worker (the loop has marked its leases busy). */
void jobs_submit(struct daemon *d, struct job *j);

/* The references a job holds, taken and dropped only through these (and
 * job_free, which drops its lockspace references): r refers to lockspace e
 * (ls_get) / to lease l (lease_job_get). */
void job_res_set_ls(struct job_res *r, struct ls_entry *e);
void job_res_bind_lease(struct job_res *r, struct lease *l);
/* r no longer refers to its lease: the lease, for the caller to settle
 * (NULL if r had none). */
struct lease *job_res_unbind_lease(struct job_res *r);

int jobs_start(struct daemon *d);
void jobs_stop(struct daemon *d);
void jobs_on_event(struct daemon *d);

#endif
