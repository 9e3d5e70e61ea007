/* sync_managerd: the lockspaces of this host (lockspaces.c): joining,
 * resuming after a restart, the renewal thread, expiry, leaving, and the
 * names of known lockspaces.
 *
 * Ownership: lockspaces.c owns each struct ls_entry: its list (d->lockspaces),
 * its reference count (ls_get, ls_put), its state and its fencing fields.
 * Other modules read them and ask through the functions below: fencing
 * (procs.c) calls ls_start_fencing() and ls_fence_grace_over(); jobs and
 * lease records take references with ls_get().  orphans.c owns the orphans
 * part, metrics.c the renewal histogram, state.c persisted_renewal_boot_ms. */
#ifndef SM_DAEMON_LOCKSPACES_H
#define SM_DAEMON_LOCKSPACES_H

#include "daemon.h"

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
	_Atomic enum ls_stop stop;   /* loop -> thread (the loop writes it only through ls_thread_stop()) */
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
	/* loop -> thread: a renewal thread waits on wake_cv (CLOCK_MONOTONIC)
	 * until its next renewal or death check; ls_thread_stop() and the go of
	 * an open signal it under wake_mu, after storing stop or go, and the
	 * thread tests them under wake_mu before it waits (no lost wake-up). */
	pthread_mutex_t wake_mu;
	pthread_cond_t wake_cv;
	atomic_uint_fast64_t wakeups; /* thread -> metrics: times it woke from a wait */
	/* thread -> metrics (wake_mu): how late the last renewals started, in
	 * ms after they were due (or after the thread could start them, if
	 * later: the first one after a join, which waits J > R) */
	uint32_t start_delay_ms[SM_RENEWAL_HISTORY];
	int ndelays, next_delay;
	pthread_mutex_t progress_mu; /* thread (join progress) -> loop (status): */
	char progress[200];          /* what a join is waiting for (progress_mu) */
	uint64_t progress_deadline_ms; /* mono_ms() when that wait ends at the latest (progress_mu) */
};

struct ls_entry {
	struct daemon *d;
	struct ls_entry *next;
	int refs;                   /* jobs and leases referring to it, plus the list (ls_get, ls_put) */
	char name[SM_NAME_FIELD];
	char location[SM_LOCATION_MAX];
	struct sm_lockspace *ls;
	struct sm_timeouts to;
	enum ls_state state;        /* lockspaces.c writes it (fencing: ls_start_fencing) */
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
	/* renewal latency histogram (metrics.c buckets), fed by ls_tick after each renewal */
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
	/* fencing: procs.c's fence_lockspace() does it; lockspaces.c writes these
	 * (ls_start_fencing, ls_fence_grace_over, and when the fencing ends) */
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
	/* A join the daemon starts by itself (configured at start-up, automatic
	 * rejoin), set before go: its thread first waits a random 0 .. R, so
	 * that a whole site starting (or rejoining) at once does not read the
	 * host area all at the same moment (docs/timeouts.md, "Mass joins"). */
	bool paced;
};

struct ls_entry *ls_find(struct daemon *d, const char *name);
/* "PATH[:OFFSET]" of one volume as "REALPATH:OFFSET" (absolute, symlinks
 * resolved), so the same volume is recognized however it is named. */
int ls_canonical_volume(const char *spec, char *out, size_t len);
struct ls_entry *ls_find_location(struct daemon *d, const char *location);
/* The volume of a lockspace name this daemon knows (no disk I/O). */
int ls_resolve_name(struct daemon *d, const char *name, char *location, size_t n);
/* Read the headers of the configured volumes (`join` in the configuration)
 * in a thread, to learn their lockspace names: 1 if a probe runs now (its
 * end reports d->on.names_probed), 0 if no volume is configured. */
int ls_probe_names(struct daemon *d);
int ls_join(struct daemon *d, const char *location, uint32_t host_id, const char *host_name,
	    struct ls_entry **out);
/* Resume a lockspace of the state file.  With its name and timeouts known
 * (name non-NULL, from the file) the header is read by its thread, like a
 * join; without (a file of an older daemon) it is read here, at once. */
int ls_resume(struct daemon *d, const char *location, uint32_t host_id, uint64_t generation,
	      const uint8_t instance[16], uint64_t last_renewal_boot, bool failed, const char *name,
	      uint32_t io_timeout_ms, uint32_t watchdog_timeout_ms, struct ls_entry **out);
/* A resumed lockspace whose resume has not finished (header being read, our
 * record being checked): ms left until F after its recorded renewal. */
int64_t ls_resume_left_ms(struct ls_entry *e);
int ls_leave(struct daemon *d, struct ls_entry *e, bool force);
/* Take / drop a reference to e; the last ls_put() frees it. */
void ls_get(struct ls_entry *e);
void ls_put(struct ls_entry *e);
/* Look at every lockspace now (joins and leaves done, expiry and fencing,
 * rejoins due).  Returns the earliest time (mono_ms) at which it must look
 * again although nothing woke the loop, or SM_NO_DEADLINE. */
uint64_t ls_tick(struct daemon *d);
bool ls_fresh(struct ls_entry *e);
/* Our delta lease is still ours and unexpired, whatever the entry's state
 * (e.g. leaving): we may still write on its leases' behalf. */
bool ls_valid(struct ls_entry *e);
void ls_stop_all(struct daemon *d, bool leave);
void ls_get_me(struct ls_entry *e, struct sm_me *me);
/* Fencing (procs.c) starts for e: it is failed from now on, and the grace
 * time G counts from now.  False (nothing changed) if e is being fenced
 * already. */
bool ls_start_fencing(struct ls_entry *e);
/* True once, the first time it is asked at or after the end of the grace
 * time G of e's fencing (its holders are to be sent SIGKILL now). */
bool ls_fence_grace_over(struct ls_entry *e, uint64_t now_mono);

#endif
