/* sync_managerd: shared types of the daemon's modules (DESIGN §4).
 *
 * Threads and ownership:
 * - The event loop thread owns every structure below.  Nothing else reads
 *   or writes them.
 * - The loop does no volume I/O (it pets the watchdog and serves clients).
 * - Each lockspace has a renewal thread that only touches its own
 *   sm_lockspace (reads the volume header, joins, renews, leaves); the loop
 *   reads that object's thread-safe accessors (info, remaining time,
 *   liveness).
 * - A probe thread reads the headers of configured volumes to resolve a
 *   lockspace name; its results go to the loop when it has finished.
 * - Worker threads run disk jobs on private copies of their inputs and hand
 *   results back through a queue; the loop applies them.
 *
 * Leases are per host: a resource this host holds is held once on disk, and
 * the local lease table records which registered processes use it (several
 * for shared mode, one for exclusive). */
#ifndef SM_DAEMON_DAEMON_H
#define SM_DAEMON_DAEMON_H

#include "lease/delta.h"
#include "lease/paxos.h"
#include "proto/proto.h"
#include "sync_manager/client.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define SM_MAX_KILL_ARGS 8

struct daemon;
struct conn;
struct proc;
struct job;
struct state_journal;

#define LEASE_HASH_BUCKETS 16384
/* Latency histogram buckets: the finite bounds in metrics.c, then +Inf. */
#define SM_LAT_BUCKETS 21

/* state.c's bookkeeping for one persisted lease or process (zeroed = not on
 * file, not pending). */
struct state_mark {
	uint64_t hash;              /* hash of its record on file, 0 = none there */
	uint32_t dirty;             /* 1 + its slot in the pending list, 0 = none */
	/* leases: the record on file lists holders (a release must be recorded
	 * before the lease goes free on disk: else a restart finds a holder of
	 * a lease that is no longer ours and fences) */
	bool filed_holders;
	bool emit_holders;          /* ... in the record being written */
};

/* ---- configuration -------------------------------------------------------- */
enum watchdog_kind { WD_AUTO, WD_DEVICE, WD_EMULATED, WD_NONE, WD_WDMD };

struct daemon_config {
	char run_dir[256];
	char host_name[256];
	uint64_t workers;
	int watchdog;               /* enum watchdog_kind */
	char watchdog_device[256];
	uint64_t watchdog_timeout_ms; /* the device's fire time */
	char admin_group[256];
	uint64_t max_clients;
	uint64_t max_leases;
	struct { size_t count; char items[16][256]; } join; /* lockspaces to join at start */
	bool auto_rejoin;           /* rejoin a lockspace after fencing it */
	int log_level;
	bool foreground;
	bool check_only;
};

/* sm_config_check_fn for sync_managerd.conf (confcheck.c): admin_group
 * must exist, join volumes must be there.  _deep (--check-config) also reads
 * each join volume's header and wants every member of a set. */
struct sm_config_key;
const char *daemon_config_check(const struct sm_config_key *k, const void *value, char *buf, size_t len);
const char *daemon_config_check_deep(const struct sm_config_key *k, const void *value, char *buf, size_t len);

/* ---- lockspaces ----------------------------------------------------------- */
enum ls_state { LS_JOINING, LS_JOINED, LS_FAILED, LS_LEAVING, LS_GONE };
const char *ls_state_name(enum ls_state s);

/* How the loop asks a renewal thread to stop (ls_thread_shared.stop). */
enum ls_stop {
	LS_RUN = 0,        /* keep renewing */
	LS_STOP_KEEP,      /* stop renewing and keep the slot: others see us dead after H,
			    * or the next daemon resumes it (restart, fenced, lost) */
	LS_STOP_LEAVE,     /* stop and write the slot free (leave) */
};

/* What the event loop and a lockspace's renewal thread share while the
 * thread runs (workers write attention_to), with who writes -> who reads.
 * Everything else in struct ls_entry is the loop's; the thread only reads
 * the fields the loop set before starting it (location, want_*, resume_*,
 * needs_open) and, after go > 0, those the loop set before storing go (ls,
 * name, to).  Workers read ls (thread-safe), name, to and location, all
 * fixed before a job of e is queued (jq_mu, or pthread_create() for a
 * receive, orders them).
 *
 * Memory ordering: every atomic below is accessed with the <stdatomic.h>
 * defaults (sequentially consistent: each store releases, each load
 * acquires), and each plain field is published by one of them:
 * - t_ls: the thread stores it, then open_rc, then open_done; the loop reads
 *   t_ls only after loading open_done == true, and the thread no longer
 *   touches it;
 * - e->ls, e->name, e->to (the loop's, from the header): stored before go,
 *   read by the thread only after loading go > 0;
 * - the results are read in order: join_rc after join_done, leave_rc after
 *   exited (the thread stores the value first), and pthread_join() after
 *   exited orders everything else the thread did.
 * Only attention_to has several writers (workers store, the thread
 * exchanges); the progress fields are under progress_mu. */
struct ls_thread_shared {
	_Atomic enum ls_stop stop;   /* loop -> thread (the loop writes it only through request_stop()) */
	/* loop -> the lease API's join (sm_join_opts.cancel, which the CLI's
	 * signal handlers also set): non-zero once stop != LS_RUN; written and
	 * read with __atomic builtins (relaxed: it only ends waits sooner) */
	volatile sig_atomic_t join_cancel;
	atomic_bool open_done;       /* thread -> loop: the header was read (or not): t_ls, open_rc */
	atomic_int open_rc;
	struct sm_lockspace *t_ls;   /* thread's until open_done, then the loop's (it moves it to e->ls) */
	atomic_int go;               /* loop -> thread, after the open: 1 join, < 0 give up with that error */
	atomic_int join_rc;          /* thread -> loop: the join's or resume's result ... */
	atomic_bool join_done;       /* ... valid once this is set */
	atomic_int leave_rc;         /* thread -> loop: writing our slot free (valid once exited) */
	atomic_bool exited;          /* thread -> loop: it ends now; the loop joins it */
	atomic_uint attention_to;    /* workers -> thread (exchanged to 0): host_id to raise attention for */
	pthread_mutex_t progress_mu; /* thread (join progress) -> loop (status): */
	char progress[200];          /* what a join is waiting for (progress_mu) */
	uint64_t progress_deadline_ms; /* mono_ms() when that wait ends at the latest (progress_mu) */
};

struct ls_entry {
	struct daemon *d;
	struct ls_entry *next;
	int refs;                   /* jobs referring to it, plus the list */
	char name[SM_NAME_FIELD];
	char location[SM_LOCATION_MAX];
	struct sm_lockspace *ls;
	struct sm_timeouts to;
	enum ls_state state;
	int join_error;
	uint64_t join_started_mono;
	uint64_t last_warned_mono;
	uint32_t want_host_id;
	char want_host_name[SM_NAME_FIELD];
	/* renewal thread: what it shares with the loop is in thr */
	pthread_t thread;
	bool thread_running;
	struct ls_thread_shared thr;
	bool leave_when_free;        /* leaving: write the slot free once no lease is left */
	uint64_t waiter_ids[16];     /* connections waiting for the join to finish */
	int nwaiters;
	uint64_t leave_waiter_ids[16]; /* connections waiting for the leave to finish */
	int nleave_waiters;
	/* resume after a restart */
	bool resume;
	uint32_t resume_host_id;
	uint64_t resume_generation;
	uint8_t resume_instance[16];
	uint64_t resume_last_renewal_boot;
	uint64_t persisted_renewal_boot_ms; /* last renewal on the state file (state.c) */
	/* renewal latency histogram (metrics.c buckets), fed every tick */
	uint64_t renewals_counted;
	uint64_t rlat_buckets[SM_LAT_BUCKETS], rlat_count, rlat_sum_ms;
	/* leases on disk naming us that nothing here holds (orphans.c) */
	struct {
		uint64_t generation;     /* ours when the sweep below started */
		bool running;            /* a check job is out */
		bool fast;               /* a pass run for an event: batches back to back */
		uint32_t cursor;         /* next area of the sweep */
		uint64_t next_mono;      /* next batch of the sweep */
		char names[8][SM_NAME_FIELD]; /* resources to check (events), ... */
		uint64_t names_at[8];    /* ... from then on */
		int nnames;
		uint64_t released;       /* orphans released (metric) */
	} orphans;
	/* fencing */
	bool fencing;
	uint64_t fence_started_mono;
	bool sigkill_sent;
	/* Opening (a join, or a resume whose name and timeouts the state file
	 * gave): the renewal thread reads the volume
	 * header, so a volume that does not answer never stalls the loop.  The
	 * loop takes thr.t_ls once thr.open_done is set, checks it against the
	 * other lockspaces and answers through thr.go. */
	bool needs_open;             /* set before the thread starts */
	bool opened;                 /* the loop has taken the open's result */
	int open_rc;                 /* loop: the open and its checks (0 = joining) */
	bool rejoin;                 /* automatic rejoin: retried while it cannot be opened */
};

/* ---- the local lease table ------------------------------------------------- */
struct holder {
	struct proc *proc;
	uint32_t mode;
	struct holder *next;
};

struct lease {
	struct lease *next, *prev;  /* d->leases, in no particular order */
	struct lease *hnext;        /* d->lease_hash chain (lockspace, name) */
	struct ls_entry *ls;
	struct sm_resource_ref ref; /* volumes are filled in by workers only */
	char location[3][SM_LOCATION_MAX]; /* "" = the lockspace's volume */
	int nlocations;
	struct sm_lease held;       /* what this host holds on disk */
	struct holder *holders;     /* local processes using it */
	bool busy;                  /* a disk job is working on it */
	int jobs;                   /* jobs (running or parked) that refer to it */
	bool on_disk;               /* this host holds it on disk (held is valid) */
	bool in_doubt;              /* an error left the disk state unknown */
	bool orphan;                /* found on disk naming us, held by nothing here: being released */
	uint64_t retry_at_mono;     /* in doubt: next attempt to settle it */
	uint32_t release_requested_by; /* host that asked for it (request record) */
	struct state_mark st;
};

/* ---- processes and connections ------------------------------------------- */
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
	struct proc *next;
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
	int nleases;
	struct state_mark st;
};

struct conn {
	struct conn *next;
	struct daemon *d;
	int fd;
	pid_t peer_pid;
	uid_t peer_uid;
	gid_t peer_gid;
	bool admin;
	bool restricted;
	struct proc *registered;    /* the process this connection registered */
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	bool busy;                  /* a request is being processed: read no further */
	bool dispatching;           /* inside process_input (no re-entry) */
	bool closing;
	struct sm_msg_hdr req;      /* the request being processed */
	uint64_t id;
};

/* ---- the daemon ----------------------------------------------------------- */
struct daemon_metrics {
	uint64_t acquires, acquire_failures, releases, kills_term, kills_kill, kill_programs;
	uint64_t fencings, bad_messages, denied, clients_total;
	uint64_t lat_buckets[SM_LAT_BUCKETS]; /* acquire latency histogram, see metrics.c */
	uint64_t lat_count, lat_sum_us;
};

struct daemon {
	struct daemon_config cfg;
	int epfd;
	int listen_fd;
	int lock_fd;
	int signal_fd;
	int timer_fd;
	int job_event_fd;
	struct ls_entry *lockspaces;
	/* lockspaces joined since start (name -> location), for `join NAME` */
	struct {
		char name[SM_NAME_FIELD];
		char location[SM_LOCATION_MAX];
	} known_ls[32];
	int nknown_ls;
	struct proc *procs;
	struct conn *conns;
	struct conn *dead_conns;    /* closed, freed after the current epoll batch */
	struct proc *dead_procs;    /* forgotten, freed after the current epoll batch */
	struct lease *leases;
	struct lease *lease_hash[LEASE_HASH_BUCKETS]; /* lease_find() in O(1) */
	int nconns, nprocs, nleases;
	uint64_t next_conn_id;
	bool quitting;
	bool keep_on_exit;          /* restart: keep leases and watchdog */
	uint64_t started_mono;
	gid_t admin_gid;
	bool have_admin_gid;
	/* workers */
	pthread_t *workers;
	int nworkers;
	pthread_mutex_t jq_mu;
	pthread_cond_t jq_cv;
	struct job *jq_head, *jq_tail;  /* to run */
	struct job *done_head, *done_tail; /* finished, for the loop */
	bool workers_stop;
	int receivers;              /* receive jobs running on threads of their own (jq_mu) */
	/* waiting requests (resources busy) */
	struct job *waiting;
	/* watchdog */
	int wd_kind;                /* resolved: never WD_AUTO */
	bool wd_missing;            /* auto found no watchdog: joins are refused */
	int wd_fd;
	uint64_t wd_last_pet_mono;
	uint32_t wd_timeout_ms;
	bool wd_armed;
	bool wd_refused_logged;
	uint32_t wdmd_fire_timeout_s;   /* wdmd: its device's fire time, and how */
	uint32_t wdmd_test_interval_s;  /* often it tests its clients' expiries */
	struct daemon_metrics m;
	/* Persistence (state.c).  Code that changes a persisted field calls
	 * state_touch_*(); state_dirty = "something changed that was not
	 * touched": the next state_save() writes a full snapshot (slow). */
	struct state_journal *journal;
	bool state_dirty;
	/* lockspaces to rejoin after fencing, retried until storage answers */
	struct {
		char location[SM_LOCATION_MAX];
		uint32_t host_id;
		uint64_t next_mono;
	} rejoin[8];
	int nrejoin;
	/* Configured volumes whose headers a thread reads to resolve a
	 * lockspace name (lockspaces.c), and the joins by name waiting for it
	 * (cmds.c). */
	struct name_probe *probe;
	struct name_join {
		uint64_t conn_id;
		uint32_t host_id;
		char name[SM_NAME_FIELD];
		char host_name[SM_NAME_FIELD];
	} name_joins[16];
	int nname_joins;
};

/* ---- module interfaces ----------------------------------------------------- */

/* loop.c: epoll registration; the pointer is handed back on events. */
enum ev_kind { EV_LISTEN = 1, EV_CONN, EV_SIGNAL, EV_TIMER, EV_JOBS, EV_PIDFD };
struct ev_tag {
	enum ev_kind kind;
	void *ptr;
};
int ev_add(struct daemon *d, int fd, uint32_t events, struct ev_tag *tag);
int ev_mod(struct daemon *d, int fd, uint32_t events, struct ev_tag *tag);
void ev_del(struct daemon *d, int fd);

/* conn.c */
int conn_accept(struct daemon *d);
/* Wrap an accepted socket (also used by the request fuzzer). */
struct conn *conn_new(struct daemon *d, int fd);
void conn_on_event(struct conn *c, uint32_t events);
/* Queue a reply to c's current request and resume reading requests. */
void conn_reply(struct conn *c, int result, struct sm_msgbuf *payload);
/* Reply with an error and a message (printf-style). */
void conn_reply_error(struct conn *c, int result, uint32_t owner, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void conn_close(struct conn *c);
void conn_free_dead(struct daemon *d);
struct conn *conn_find(struct daemon *d, uint64_t id);

/* cmds.c: request dispatch (called with c->req and the payload). */
void cmds_dispatch(struct conn *c, const uint8_t *payload, size_t len);
/* A name probe ended: answer the joins by name that waited for it
 * (unreadable: "VOLUME: error; ..." of the volumes it could not read). */
void cmds_names_probed(struct daemon *d, const char *unreadable);

/* lockspaces.c */
struct ls_entry *ls_find(struct daemon *d, const char *name);
struct ls_entry *ls_find_location(struct daemon *d, const char *location);
/* The volume of a lockspace name this daemon knows (no disk I/O). */
int ls_resolve_name(struct daemon *d, const char *name, char *location, size_t n);
/* Read the headers of the configured volumes (`join` in the configuration)
 * in a thread, to learn their lockspace names: 1 if a probe runs now (its
 * end calls cmds_names_probed), 0 if no volume is configured. */
int ls_probe_names(struct daemon *d);
int ls_join(struct daemon *d, const char *location, uint32_t host_id, const char *host_name,
	    struct ls_entry **out);
int ls_leave(struct daemon *d, struct ls_entry *e, bool force);
void ls_put(struct ls_entry *e);
void ls_tick(struct daemon *d);
bool ls_fresh(struct ls_entry *e);
/* Our delta lease is still ours and unexpired, whatever the entry's state
 * (e.g. leaving): we may still write on its leases' behalf. */
bool ls_valid(struct ls_entry *e);
void ls_stop_all(struct daemon *d, bool leave);
void ls_get_me(struct ls_entry *e, struct sm_me *me);

/* jobs.c */
int jobs_start(struct daemon *d);
void jobs_stop(struct daemon *d);
void jobs_on_event(struct daemon *d);

/* procs.c */
struct proc *proc_find(struct daemon *d, pid_t pid);
struct proc *proc_register(struct daemon *d, pid_t pid, const char *name, struct conn *reg, bool by_parent,
			   int *err);
void proc_conn_closed(struct proc *p);
void proc_on_pidfd(struct proc *p);
void proc_tick(struct daemon *d);
void proc_forget(struct proc *p);
void proc_free_dead(struct daemon *d);
struct lease *lease_find(struct daemon *d, struct ls_entry *ls, const char *name);
struct lease *lease_new(struct daemon *d, struct ls_entry *ls, const char *name);
void lease_drop(struct daemon *d, struct lease *l);
int lease_add_holder(struct lease *l, struct proc *p, uint32_t mode);
struct holder *lease_holder(struct lease *l, struct proc *p);
void lease_remove_holder(struct daemon *d, struct lease *l, struct proc *p, bool *was_last);
/* Release every lease of p (after it exited, or on request). */
void proc_release_all(struct daemon *d, struct proc *p);
/* A lease may have lost its last holder: release, resolve or drop it. */
void lease_settle(struct daemon *d, struct lease *l);
/* Retry settling leases whose last attempt failed (called every tick). */
void leases_tick(struct daemon *d);
/* Resume a lockspace of the state file.  With its name and timeouts known
 * (name non-NULL, from the file) the header is read by its thread, like a
 * join; without (a file of an older daemon) it is read here, at once. */
int ls_resume(struct daemon *d, const char *location, uint32_t host_id, uint64_t generation,
	      const uint8_t instance[16], uint64_t last_renewal_boot, bool failed, const char *name,
	      uint32_t io_timeout_ms, uint32_t watchdog_timeout_ms, struct ls_entry **out);
/* A resumed lockspace whose resume has not finished (header being read, our
 * record being checked): ms left until F after its recorded renewal. */
int64_t ls_resume_left_ms(struct ls_entry *e);
void fence_lockspace(struct daemon *d, struct ls_entry *e, const char *why);

/* orphans.c: leases on disk that name this host (host_id and generation)
 * but that no process here holds and no job of ours works on. */
/* Check resource name of e in delay_ms (after an event that can leave one). */
void orphans_check(struct daemon *d, struct ls_entry *e, const char *name, uint64_t delay_ms);
/* Sweep every resource of e now (it was resumed after a restart). */
void orphans_sweep_now(struct ls_entry *e);
/* Start the checks that are due (every tick). */
void orphans_tick(struct daemon *d);
/* A lease the sweep found was released (rc 0) or could not be (rc < 0). */
void orphans_settled(struct daemon *d, struct lease *l, int rc);

/* watchdog.c */
int watchdog_open(struct daemon *d);
void watchdog_tick(struct daemon *d);
void watchdog_close(struct daemon *d, bool disarm);
const char *watchdog_describe(struct daemon *d);
bool watchdog_unprotected(const struct daemon *d);
const char *watchdog_join_refusal(const struct daemon *d);
int watchdog_check_join(struct daemon *d, const char *location);

/* wdmd.c: the wdmd backend (watchdog.c decides when; this talks to wdmd). */
bool wdmd_available(void);
bool wdmd_running(void);
int wdmd_arm(struct daemon *d);
int wdmd_pet(struct daemon *d, int64_t in_ms);
void wdmd_close(struct daemon *d, bool disarm);

/* state.c: persistence for restart without loss (docs/restart.md).
 * Changes are recorded per object and appended to RUN_DIR/state by the next
 * state_save(), which must run before any reply that depends on them. */
void state_touch_lease(struct daemon *d, struct lease *l);
void state_touch_proc(struct daemon *d, struct proc *p);
/* A lockspace joined, failed, left or renewed (all are compared at save). */
void state_touch_ls(struct daemon *d);
/* l or p is about to be freed: its delete record goes with the next save. */
void state_forget_lease(struct daemon *d, struct lease *l);
void state_forget_proc(struct daemon *d, struct proc *p);
/* Append what changed (one write); cheap when nothing did.  0, or a
 * negative errno when the change could not be written (the file then says
 * what it said before this save; the next save retries with a snapshot). */
int state_save(struct daemon *d);
/* Rewrite the whole file (temp file + rename): start, clean shutdown.
 * 0 or a negative errno, as state_save(). */
int state_snapshot(struct daemon *d);
/* Before anything else runs: -EPERM (logged) if RUN_DIR/state exists but
 * is not one this daemon may trust; the daemon must not start then. */
int state_check_file(struct daemon *d);
/* -EPERM (logged, nothing resumed) if the file is not one to trust. */
int state_restore(struct daemon *d);
/* A resumed lockspace is ours again: check on disk that each of its leases
 * with a living holder still is (else its holders are fenced). */
void state_verify_leases(struct daemon *d, struct ls_entry *e);
/* Whether a file or directory in the run directory may be trusted: owned
 * by root or by the daemon's euid, writable by no one else.  Else false
 * and why (for "refusing PATH: WHY"). */
bool state_trusted(const struct stat *st, char *why, size_t len);
void state_remove(struct daemon *d);

/* metrics.c */
void metrics_observe_acquire(struct daemon *d, uint64_t us);
void metrics_count_renewals(struct ls_entry *e);
void metrics_render(struct daemon *d, struct sm_msgbuf *b);

/* Helpers. */
uint64_t mono_ms(void);
#endif
