/* sync_managerd: the daemon's shared core (DESIGN §4, docs/architecture.md).
 *
 * This header holds what every module of the daemon shares: its
 * configuration, struct daemon (the top level, whose fields are grouped by
 * the module that owns them), daemon_init(), the hooks by which lower
 * modules report events upward (struct daemon_events, wired by
 * daemon_wire() in wiring.c), and the event loop's registration (loop.c).  Each module's own types and functions are in its
 * header: lockspaces.h, leasetab.h, procs.h, conn.h, cmds.h, reports.h,
 * jobs.h, leaseops.h, orphans.h, state.h, watchdog.h, metrics.h,
 * metrics_render.h, wiring.h.
 *
 * Threads and ownership:
 * - The event loop thread owns every structure of the daemon.  Nothing else
 *   reads or writes them, except what lockspaces.h (a lockspace's renewal
 *   thread: struct ls_thread_shared) and jobs.h (the job queues, under
 *   jq_mu) say.
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
 * the local lease table (leasetab.h) records which registered processes use
 * it (several for shared mode, one for exclusive). */
#ifndef SM_DAEMON_DAEMON_H
#define SM_DAEMON_DAEMON_H

#include "leasetab.h"

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

struct daemon;
struct conn;
struct proc;
struct job;
struct ls_entry;
struct lease;

/* Events a lower module reports upward (issue 16): the module that sees the
 * event calls d->on.X, and the one above that acts on it is wired in by
 * daemon_wire() (wiring.c, the only file that fills them in; main.c, the unit
 * tests and the fuzzers call it after daemon_init()).  So every direct call
 * among the daemon's modules goes down the layers (docs/architecture.md;
 * tests/lint/daemon_layers.py keeps it so).  Hooks run on the event loop
 * thread only, like everything that touches the daemon's structures; each is
 * always set once wired (callers do not check for NULL). */
struct daemon_events {
	/* jobs.c: a job's result came back (leaseops_complete) */
	void (*job_done)(struct daemon *d, struct job *j);
	/* conn.c: the registering connection of p closed (proc_conn_closed) */
	void (*proc_conn_closed)(struct proc *p);
	/* procs.c: p is gone, its leases must be released (leaseops_release_all) */
	void (*proc_gone)(struct daemon *d, struct proc *p);
	/* lockspaces.c: e is joined or resumed (resumed leases checked, orphans
	 * swept, parked lease jobs retried: wiring.c) */
	void (*ls_ready)(struct daemon *d, struct ls_entry *e);
	/* lockspaces.c: e must be fenced, for why (fence_lockspace) */
	void (*ls_failed)(struct daemon *d, struct ls_entry *e, const char *why);
	/* lockspaces.c: may this host join the lockspace at location, with its
	 * watchdog?  0 or a negative error (watchdog_check_join) */
	int (*join_check)(struct daemon *d, const char *location);
	/* lockspace_names.c: a probe of the configured volumes ended; unreadable
	 * names those it could not read, "" if none (cmds_names_probed) */
	void (*names_probed)(struct daemon *d, const char *unreadable);
	/* orphans.c: l, found on disk, has no holder: settle it (lease_settle) */
	void (*lease_unheld)(struct daemon *d, struct lease *l);
};
struct state_journal;
struct sm_wire_req;

#define SM_CONN_HASH_BUCKETS 16384
#define SM_PROC_HASH_BUCKETS 16384

/* Latency histogram buckets: the finite bounds in metrics.c, then +Inf. */
#define SM_LAT_BUCKETS 21

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

/* ---- the daemon ----------------------------------------------------------- */
struct daemon_metrics {
	uint64_t acquires, acquire_failures, releases, kills_term, kills_kill, kill_programs;
	uint64_t fencings, bad_messages, denied, clients_total;
	uint64_t fd_limit_pauses;    /* accepting stopped at the fd limit (conn.c) */
	uint64_t connections_refused; /* closed at once: max_clients + 64 connections open (conn.c) */
	uint64_t listing_pages; /* reports.c: pages of paged listings served */
	uint64_t lat_buckets[SM_LAT_BUCKETS]; /* acquire latency histogram, see metrics.c */
	uint64_t lat_count, lat_sum_us;
	uint64_t loop_wakeups;      /* epoll_wait returns of the event loop (main.c) */
};

/* The daemon.  Each group of fields is written by the module named in its
 * heading (through that module's functions, for everyone else); any module
 * of the loop thread may read them. */
struct daemon {
	/* main.c (and loop.c's daemon_init): configuration, lifetime */
	struct daemon_config cfg;
	int epfd;
	int listen_fd;
	int lock_fd;
	int signal_fd;
	int timer_fd;
	uint64_t started_mono;
	gid_t admin_gid;
	bool have_admin_gid;
	bool quitting;              /* main.c (signal), cmds.c (shutdown request) */
	bool keep_on_exit;          /* restart: keep leases and watchdog (same writers) */
	/* wiring.c's daemon_wire: the request path's two hooks, so conn.c needs
	 * neither cmds.h nor state.h, and the events reported upward.  dispatch: handle one decoded request
	 * (cmds.c); persist: save what changed, called by conn_reply() before
	 * any reply leaves (state_save; tests record the order). */
	void (*dispatch)(struct conn *c, const struct sm_wire_req *rq);
	int (*persist)(struct daemon *d);
	struct daemon_events on;
	/* lockspaces.c */
	struct ls_entry *lockspaces;
	/* lockspaces joined since start or configured (name -> location), for
	 * `join NAME`: as many as were ever named (grown by ls_remember_name) */
	struct known_ls {
		char name[SM_NAME_FIELD];
		char location[SM_LOCATION_MAX];
	} *known_ls;
	int nknown_ls, known_ls_cap;
	/* lockspaces to rejoin after fencing, retried until storage answers */
	struct {
		char location[SM_LOCATION_MAX];
		uint32_t host_id;
		uint64_t next_mono;
	} rejoin[8];
	int nrejoin;
	/* Configured volumes whose headers a thread reads to resolve a
	 * lockspace name (lockspaces.c), and the joins by name waiting for it
	 * (cmds_spaces.c owns name_joins). */
	struct name_probe *probe;
	struct name_join {
		uint64_t conn_id;
		uint32_t host_id;
		char name[SM_NAME_FIELD];
		char host_name[SM_NAME_FIELD];
	} name_joins[16];
	int nname_joins;
	/* leasetab.c: the local lease table */
	struct lease_table lt;
	/* procs.c */
	struct proc *procs;         /* registered processes (doubly linked) */
	struct proc *proc_hash[SM_PROC_HASH_BUCKETS]; /* by pid: proc_find() in O(1) */
	struct proc *dead_procs;    /* forgotten, freed after the current epoll batch */
	int nprocs;
	/* conn.c */
	struct conn *conns;         /* open connections (doubly linked) */
	struct conn *conn_hash[SM_CONN_HASH_BUCKETS]; /* by id: conn_find() in O(1) */
	struct conn *dead_conns;    /* closed, freed after the current epoll batch */
	int nconns;
	uint64_t next_conn_id;
	/* At the fd limit conn.c stops polling the listening socket until fds
	 * are freed (conn_fds_freed) or accept_retry_mono passes; one fd
	 * (/dev/null) is kept in reserve to take one more connection then. */
	bool accept_paused;
	bool reserve_held;
	int reserve_fd;
	uint64_t accept_retry_mono;
	uint64_t fd_limit_logged_mono; /* the last "at the fd limit" warning */
	/* jobs.c: the workers and the job queues (jq_mu) */
	int job_event_fd;
	pthread_t *workers;
	int nworkers;
	pthread_mutex_t jq_mu;
	pthread_cond_t jq_cv;
	struct job *jq_head, *jq_tail;  /* to run */
	struct job *done_head, *done_tail; /* finished, for the loop */
	bool workers_stop;
	int receivers;              /* receive jobs running on threads of their own (jq_mu) */
	/* leaseops.c: jobs parked until their leases are free */
	struct job *waiting;
	/* watchdog.c, wdmd.c */
	int wd_kind;                /* resolved: never WD_AUTO */
	bool wd_missing;            /* auto found no watchdog: joins are refused */
	int wd_fd;
	uint64_t wd_last_pet_mono;
	uint32_t wd_timeout_ms;
	bool wd_armed;
	bool wd_refused_logged;
	uint32_t wdmd_fire_timeout_s;   /* wdmd: its device's fire time, and how */
	uint32_t wdmd_test_interval_s;  /* often it tests its clients' expiries */
	/* counters: the module that sees the event; histograms: metrics.c */
	struct daemon_metrics m;
	/* state.c: persistence.  state_dirty = "something changed that was not
	 * touched" (state.h): the next state_save() writes a full snapshot. */
	struct state_journal *journal;
	bool state_dirty;
};

/* Set up d with the default configuration (run directory from
 * $SYNC_MANAGER_RUN_DIR), no file descriptor open but the epoll one, the
 * job queue's lock and condition, and no watchdog (watchdog_open() resolves
 * it).  0, or a negative errno (nothing to undo then). */
int daemon_init(struct daemon *d);

/* loop.c: epoll registration; the pointer is handed back on events. */
enum ev_kind { EV_LISTEN = 1, EV_CONN, EV_SIGNAL, EV_TIMER, EV_JOBS, EV_PIDFD };
struct ev_tag {
	enum ev_kind kind;
	void *ptr;
};
int ev_add(struct daemon *d, int fd, uint32_t events, struct ev_tag *tag);
int ev_mod(struct daemon *d, int fd, uint32_t events, struct ev_tag *tag);
void ev_del(struct daemon *d, int fd);

/* Helpers. */
uint64_t mono_ms(void);

/* Deadlines of the loop (main.c): each tick function returns the earliest
 * mono_ms() at which it must run again although no event came, or
 * SM_NO_DEADLINE; the loop sleeps to the earliest one.  SM_POLL_MS is the
 * period of a check that polls (something no event announces): a tick
 * function that is waiting for such a thing returns now + SM_POLL_MS. */
#define SM_NO_DEADLINE UINT64_MAX
#define SM_POLL_MS 100
static inline uint64_t deadline_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}
#endif
