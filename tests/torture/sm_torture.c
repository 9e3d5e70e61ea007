/* Mutual-exclusion torture for the lease library.
 *
 * N worker processes act as hosts on one shared volume file: each joins the
 * lockspace (a thread renews it), then acquires and releases EX and SH leases
 * on a few resources at random.  The parent SIGKILLs workers and restarts
 * them: half the kills (--targeted-kills) hit a worker holding an EX lease,
 * so that takeovers happen, the others a worker at random (joining,
 * balloting, holding or releasing).  With --faults every worker also injects
 * I/O errors, hangs (some of which land late) and short I/O into its own
 * storage calls.
 *
 * Exclusion is checked independently of the lease code, two ways:
 *  1. a guarded data block per resource: an EX holder writes (host, pid,
 *     lver, seq) and, before each next write, verifies the block still holds
 *     exactly what it wrote; an SH holder verifies the block never changes;
 *  2. a shared table of current holders, set after acquire and cleared
 *     before release (the parent clears the row of a worker it killed).
 * A worker that can no longer renew stops touching data before F and exits,
 * as sync_managerd's fencing would make it.
 *
 * --volume-set puts the lockspace on a volume set of three members (files
 * VOLUME.1, VOLUME.2, VOLUME.3; docs/algorithms.md §5): delta and resource
 * leases on a majority.  The parent then takes one member out now and then
 * (--member-outage-every-ms): for a while every worker's I/O to it fails, or
 * hangs (hung writes land when it comes back).
 *
 * --lease-io caw formats the volume for leases by COMPARE AND WRITE
 * (src/lease/atomic.c) and lets workers' SG_IO on the volume file be served
 * by cawfile.c, atomic across processes; with --faults, COMPARE AND WRITEs
 * also fail (not executed), or execute and lose their answer (in doubt).
 *
 * --mutant makes workers skip the lease (they "acquire" without Disk Paxos):
 * the checker must then report violations, proving it can see them.
 *
 * --freeze-every-ms freezes a whole host now and then: the parent stops
 * every thread of a worker (SIGSTOP) for --freeze-ms (default H + F) and
 * resumes it (SIGCONT), as a paused VM host or a hypervisor stall would.
 * It picks a worker that holds a lease (if one does within a second).
 * Half the freezes hit a random moment; the other half the holder's worst
 * one: the worker, asked by the parent, stops itself right after a passed
 * deadline check and before its next data access.  Such a host's holder
 * runs again after others took its leases over, and no timing-only lease
 * manager can prevent that (docs/timeouts.md, "Frozen hosts").  With
 * freezes on, every overlap the checker sees is recorded (time, the two
 * parties' host, pid and holding start) and classified at the end: it is a
 * "frozen-host overlap", reported but not failing the run, only if
 *  - one party is the very process that was frozen (same host and pid),
 *    for more than H;
 *  - the other party began holding more than H after the start of the
 *    frozen host's last successful renewal before the freeze (t0): no
 *    correct lease manager lets anyone take the lease over earlier;
 *  - it was seen during the freeze or within G (kill grace) after the
 *    resume: sync_managerd SIGKILLs a resumed host's holders at most G
 *    after its first tick, and a worker stops at its next deadline check.
 * Anything else is a VIOLATION (exit 4), also with --mutant.
 *
 * A run only proves something if the hard cases happened, so besides the
 * amount of work it must show (--min-* options, see usage()): takeovers of
 * leases from hosts the parent SIGKILLed (the acquirer's liveness oracle is
 * wrapped to learn which host generation it declared dead; the parent notes
 * the generation of every worker it kills), injected I/O errors and hangs
 * (counted from sm_fault_hits() per rule kind), and guard checks by SH
 * holders.
 *
 * Exit status (also in usage()):
 *   0  no violation seen, and every --min-* requirement met
 *   2  usage or setup error
 *   3  no violation, but too little was exercised to prove anything
 *   4  a mutual-exclusion VIOLATION was seen (the only status meaning that;
 *      1 is left to generic failures such as sanitizer reports) */
#include "disk/cawfile.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "disk/fault.h"
#include "lease/delta.h"
#include "lease/paxos.h"
#include "lease/resource.h"
#include "lease/timeouts.h"
#include "ondisk/volume.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_WORKERS 16
#define MAX_RES 8
#define BLOCK 512
#define GUARD_MAGIC 0x47554152u
#define MAX_KILLED 4096
#define MAX_PRINTED_VIOLATIONS 50
#define MAX_OVERLAPS 4096 /* recorded for classification (freezes on) */
#define MAX_FREEZES 1024

enum { EXIT_OK = 0, EXIT_USAGE = 2, EXIT_THIN = 3, EXIT_VIOLATION = 4 };

/* One side of an overlap: a host's process and when it began holding (0:
 * not a holder, as in "lost a lease"). */
struct party {
	uint32_t host;
	int32_t pid;
	uint64_t since_ms;
};

/* Where an exclusion failure was seen: none (a lease lost while valid), two
 * holders in the table, or a foreign write in a guard block. */
enum overlap_kind { OV_NONE, OV_TABLE, OV_BLOCK };

/* An overlap seen by a worker, kept for classification at the end. */
struct overlap {
	_Atomic int done; /* written last: a worker killed while recording leaves 0 */
	enum overlap_kind kind;
	uint64_t t_ms; /* when it was seen (CLOCK_MONOTONIC, shared by all) */
	struct party a, b;
	char msg[200];
};

struct shared {
	_Atomic int holder[MAX_WORKERS][MAX_RES]; /* 0 none, SM_MODE_EX, SM_MODE_SH */
	_Atomic uint64_t ex_acq, sh_acq, held, unknown, shared_held, aborted, other_err, io_err;
	_Atomic uint64_t takeovers, in_doubt, resolved, fenced, lost, joins, checks, releases;
	_Atomic uint64_t violations;
	_Atomic uint64_t sh_checks, kill_takeovers, in_doubt_io;
	/* Observed by acquire/release/resolve callers. */
	_Atomic uint64_t io_eio, io_timeout, io_pending, io_short;
	_Atomic uint64_t no_majority; /* volume set: a majority of members failed */
	/* Faults the injector actually applied, by enum sm_fault_kind. */
	_Atomic uint64_t injected[8];
	/* --lease-io caw: COMPARE AND WRITEs executed and miscompared, and
	 * faults injected into them (not executed / executed, answer lost). */
	_Atomic uint64_t caw_exec, caw_miscompare, caw_fault_lost, caw_fault_done;
	/* Generation each worker joined with (0 before), and the host
	 * generations the parent SIGKILLed. */
	_Atomic uint64_t gen[MAX_WORKERS];
	_Atomic int nkilled;
	struct {
		_Atomic uint32_t host;
		_Atomic uint64_t gen;
	} killed[MAX_KILLED];
	_Atomic int nmsg;
	char msg[8][256];
	/* Frozen hosts (--freeze-every-ms): who holds each row (process and
	 * holding start), each worker's last successful renewal start, the
	 * pid the parent asks to stop itself at its worst moment, and the
	 * overlaps seen. */
	_Atomic int32_t holder_pid[MAX_WORKERS][MAX_RES];
	_Atomic uint64_t holder_since[MAX_WORKERS][MAX_RES];
	_Atomic uint64_t renewed[MAX_WORKERS];
	_Atomic int32_t freeze_req[MAX_WORKERS];
	_Atomic uint64_t worst_stops;
	_Atomic int noverlaps;
	struct overlap overlaps[MAX_OVERLAPS];
	/* Volume set: the member out of service (-1 none) and how it fails
	 * (enum sm_fault_kind); outage counts for the report. */
	_Atomic int outage_member, outage_kind;
	_Atomic uint64_t outages, outages_hang;
};

struct opts {
	const char *volume, *data;
	const char *trace; /* directory for per-host debug traces, or NULL */
	int hosts, resources;
	unsigned seconds;
	bool faults, mutant, quiet;
	unsigned kill_every_ms;
	unsigned freeze_every_ms, freeze_ms; /* 0 = no freezes; length (0 = H + F) */
	unsigned targeted_kill_pct; /* share of kills aimed at an EX holder */
	bool volume_set;            /* three members VOLUME.1..3 */
	bool lease_caw;             /* --lease-io caw */
	unsigned max_hosts;         /* --max-hosts (0: hosts + 2) */
	unsigned id_stride;         /* --host-id-stride: worker i is host_id 1 + i * stride */
	bool caw_blind;             /* --caw-blind-writes: the device's CAW does not compare */
	unsigned outage_every_ms;   /* volume set: a member out of service now and then (0 = never) */
	char members[3][600];
	unsigned seed;
	/* Pass criteria; -1 = default (see main()). */
	long min_acquires, min_checks, min_sh_checks, min_kill_takeovers, min_io_errors, min_hangs, min_in_doubt;
	long min_freezes, min_frozen_overlaps;
};

static struct shared *sh;
static struct opts opt;
static struct sm_timeouts tmo; /* the torture volume's (setup_files()) */
static volatile sig_atomic_t stop;

static int trace_fd = -1;

/* Trace sink: one line per message, monotonic ms first, so the files of all
 * hosts can be merged with sort -n. */
static void trace_sink(enum sm_log_level level, const char *msg, void *arg)
{
	(void)level;
	char line[1200];
	int n = snprintf(line, sizeof(line), "%llu h%d p%d %s\n", (unsigned long long)sm_now_mono_ms(),
			 (int)(intptr_t)arg, (int)getpid(), msg);
	if (n > 0 && write(trace_fd, line, (size_t)SM_MIN(n, (int)sizeof(line) - 1)) < 0)
		return;
}

static void on_term(int s)
{
	(void)s;
	stop = 1;
}

/* Keep an overlap for the classification at the end (freezes on). */
static void record_overlap(enum overlap_kind kind, const struct party *a, const struct party *b, const char *msg)
{
	int k = atomic_fetch_add(&sh->noverlaps, 1);
	if (k >= MAX_OVERLAPS)
		return; /* unrecorded: classified as a VIOLATION */
	struct overlap *o = &sh->overlaps[k];
	o->kind = kind;
	o->t_ms = sm_now_mono_ms();
	o->a = a ? *a : (struct party){0};
	o->b = b ? *b : (struct party){0};
	snprintf(o->msg, sizeof(o->msg), "%s", msg);
	atomic_store(&o->done, 1);
}

/* An exclusion failure between parties a and b (NULL: none).  Without
 * freezes it is a VIOLATION at once; with them it is recorded and the end
 * of the run decides (see the top of the file). */
static void report(enum overlap_kind kind, const struct party *a, const struct party *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
static void report(enum overlap_kind kind, const struct party *a, const struct party *b, const char *fmt, va_list ap)
{
	atomic_fetch_add(&sh->violations, 1);
	char buf[256];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (opt.freeze_every_ms) {
		record_overlap(kind, a, b, buf);
		return;
	}
	int i = atomic_fetch_add(&sh->nmsg, 1);
	if (i < 8)
		memcpy(sh->msg[i], buf, sizeof(buf));
	if (i < MAX_PRINTED_VIOLATIONS)
		fprintf(stderr, "torture: VIOLATION: %s\n", buf);
	else if (i == MAX_PRINTED_VIOLATIONS)
		fprintf(stderr, "torture: VIOLATION: (more violations are counted but not printed)\n");
}

/* Two holders at once, seen in the table or a guard block. */
static void overlap(enum overlap_kind kind, const struct party *a, const struct party *b, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void overlap(enum overlap_kind kind, const struct party *a, const struct party *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(kind, a, b, fmt, ap);
	va_end(ap);
}

/* Any other exclusion failure: never explained by a freeze. */
static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(OV_NONE, NULL, NULL, fmt, ap);
	va_end(ap);
}

/* ---- worker ---------------------------------------------------------------- */

struct guard {
	uint32_t magic, host;
	uint64_t pid, lver, seq;
	uint64_t since; /* when the writer began holding (CLOCK_MONOTONIC ms) */
	uint32_t mode;
};

struct worker {
	int id; /* 0-based; host_id = id + 1 */
	struct sm_lockspace *ls;
	struct sm_volume *vol, *set_vol[3]; /* a lone volume, or the set's members */
	struct sm_resource_ref res[MAX_RES];
	int datafd;
	pthread_t renewer;
	atomic_bool renewer_stop;
	uint32_t in_doubt[MAX_RES];
	int n_in_doubt;
	/* The lockspace's oracle, and the owners it declared dead during the
	 * current acquire (a takeover is from one of them). */
	struct sm_oracle real_live;
	int ndead;
	struct {
		uint32_t host;
		uint64_t gen;
	} dead[8];
};

static unsigned rnd(unsigned n)
{
	return n ? (unsigned)random() % n : 0;
}

/* Tell the parent when our last successful renewal started: a freeze's
 * overlaps are explained only after that + H. */
static void publish_renewal(struct worker *w)
{
	struct sm_lockspace_info info;
	sm_lockspace_info(w->ls, &info);
	atomic_store(&sh->renewed[w->id], info.last_renewal_mono_ms);
}

static void *renew_thread(void *arg)
{
	struct worker *w = arg;
	struct sm_lockspace_info info;
	sm_lockspace_info(w->ls, &info);
	while (!atomic_load(&w->renewer_stop)) {
		sm_sleep_ms(info.to.renew_ms);
		int rc = sm_lockspace_renew(w->ls);
		sm_debug("torture: renew -> %s (remaining %lld ms)", rc < 0 ? sm_errname(rc) : "ok",
			 (long long)sm_lockspace_remaining_ms(w->ls));
		if (sm_error_class(rc) == SM_ERRCLASS_LOST) {
			atomic_fetch_add(&sh->lost, 1);
			break;
		}
		if (rc == 0)
			publish_renewal(w);
	}
	return NULL;
}

/* What sync_managerd's fencing guarantees, done by the holder itself: no
 * access once the lease could have expired. */
static void fence_check(struct worker *w)
{
	struct sm_lockspace_info info;
	sm_lockspace_info(w->ls, &info);
	if (info.lost || sm_lockspace_remaining_ms(w->ls) < 150) {
		sm_debug("torture: fenced (lost %d)", info.lost);
		atomic_fetch_add(&sh->fenced, 1);
		_exit(3);
	}
}

/* The parent asked this process to freeze at its worst moment: now, right
 * after a passed deadline check and before a data access.  SIGSTOP stops
 * every thread; the parent sees the stop and resumes us after the freeze. */
static void stop_if_asked(struct worker *w)
{
	int32_t me = (int32_t)getpid();
	if (atomic_load(&sh->freeze_req[w->id]) != me ||
	    !atomic_compare_exchange_strong(&sh->freeze_req[w->id], &me, 0))
		return;
	atomic_fetch_add(&sh->worst_stops, 1);
	sm_debug("torture: stopping myself for a freeze, right after a deadline check");
	raise(SIGSTOP);
	sm_debug("torture: resumed after a freeze");
}

static void read_guard(struct worker *w, int r, struct guard *g)
{
	uint8_t b[BLOCK] = {0};
	if (pread(w->datafd, b, BLOCK, (off_t)r * BLOCK) != BLOCK)
		memset(b, 0, BLOCK);
	memcpy(g, b, sizeof(*g));
}

static void write_guard(struct worker *w, int r, const struct guard *g)
{
	uint8_t b[BLOCK] = {0};
	memcpy(b, g, sizeof(*g));
	if (pwrite(w->datafd, b, BLOCK, (off_t)r * BLOCK) != BLOCK)
		fprintf(stderr, "torture: data write failed: %s\n", strerror(errno));
}

static void check_table(struct worker *w, int r, int mode, const struct party *me)
{
	atomic_store(&sh->holder_pid[w->id][r], me->pid);
	atomic_store(&sh->holder_since[w->id][r], me->since_ms);
	atomic_store(&sh->holder[w->id][r], mode);
	for (int j = 0; j < opt.hosts; j++) {
		if (j == w->id)
			continue;
		int m = atomic_load(&sh->holder[j][r]);
		if ((mode == SM_MODE_EX && m) || (mode == SM_MODE_SH && m == SM_MODE_EX)) {
			struct party other = {(uint32_t)j + 1, atomic_load(&sh->holder_pid[j][r]),
					      atomic_load(&sh->holder_since[j][r])};
			overlap(OV_TABLE, me, &other, "r%d: host %d holds %s while host %d holds %s", r, w->id + 1,
				sm_mode_name(mode), j + 1, sm_mode_name(m));
		}
	}
}

/* The lease host_id of worker id (0-based). */
static uint32_t host_id_of(int id) { return 1 + (uint32_t)id * (opt.id_stride ? opt.id_stride : 1); }

static bool was_killed(uint32_t host, uint64_t gen)
{
	int n = SM_MIN(atomic_load(&sh->nkilled), MAX_KILLED);
	for (int i = 0; i < n; i++)
		if (atomic_load(&sh->killed[i].host) == host && atomic_load(&sh->killed[i].gen) == gen)
			return true;
	return false;
}

static enum sm_owner_verdict spy_verdict(void *arg, uint32_t host_id, uint64_t generation, uint64_t read_done_ms)
{
	struct worker *w = arg;
	enum sm_owner_verdict v = w->real_live.verdict(w->real_live.arg, host_id, generation, read_done_ms);
	if (v == SM_OWNER_DEAD && w->ndead < (int)SM_ARRAY_SIZE(w->dead)) {
		w->dead[w->ndead].host = host_id;
		w->dead[w->ndead].gen = generation;
		w->ndead++;
	}
	return v;
}

/* Count a takeover, and whether the dead owner was a generation the parent
 * SIGKILLed (others died fencing themselves). */
static void note_takeover(struct worker *w, int r, const struct sm_lease *l)
{
	atomic_fetch_add(&sh->takeovers, 1);
	bool killed = false;
	uint64_t gen = 0;
	for (int i = 0; i < w->ndead && !killed; i++)
		if (w->dead[i].host == l->took_over_from) {
			gen = w->dead[i].gen;
			killed = was_killed(w->dead[i].host, gen);
		}
	if (killed)
		atomic_fetch_add(&sh->kill_takeovers, 1);
	sm_debug("torture: r%d took over from host %u generation %llu at lver %llu%s", r, l->took_over_from,
		 (unsigned long long)gen, (unsigned long long)l->lver, killed ? " (SIGKILLed)" : "");
}

/* The writer of a guard block, as the other party of an overlap. */
static struct party guard_party(const struct guard *g)
{
	return (struct party){g->host, (int32_t)g->pid, g->since};
}

static void hold(struct worker *w, int r, const struct sm_lease *l)
{
	int rounds = 1 + (int)rnd(4);
	struct party me = {(uint32_t)w->id + 1, (int32_t)getpid(), sm_now_mono_ms()};
	fence_check(w); /* expired during the acquire: never a holder */
	check_table(w, r, l->mode, &me);
	if (l->mode == SM_MODE_EX) {
		struct guard mine = {GUARD_MAGIC, (uint32_t)w->id + 1, (uint64_t)getpid(), l->lver, 1, me.since_ms,
				     SM_MODE_EX};
		fence_check(w);
		stop_if_asked(w);
		write_guard(w, r, &mine);
		for (int k = 0; k < rounds; k++) {
			sm_sleep_ms(rnd(15));
			fence_check(w);
			stop_if_asked(w);
			struct guard g;
			read_guard(w, r, &g);
			atomic_fetch_add(&sh->checks, 1);
			struct party writer = guard_party(&g);
			if (memcmp(&g, &mine, sizeof(g)) != 0)
				overlap(OV_BLOCK, &me, &writer,
					"r%d: EX holder host %d (lver %llu) found host %u lver %llu seq %llu in its block", r,
					w->id + 1, (unsigned long long)l->lver, g.host, (unsigned long long)g.lver,
					(unsigned long long)g.seq);
			mine.seq++;
			write_guard(w, r, &mine);
		}
	} else {
		struct guard first;
		fence_check(w);
		read_guard(w, r, &first); /* no freeze here: a read after it is compared */
		for (int k = 0; k < rounds; k++) {
			sm_sleep_ms(rnd(15));
			fence_check(w);
			stop_if_asked(w);
			struct guard g;
			read_guard(w, r, &g);
			atomic_fetch_add(&sh->checks, 1);
			atomic_fetch_add(&sh->sh_checks, 1);
			struct party writer = guard_party(&g);
			if (memcmp(&g, &first, sizeof(g)) != 0)
				overlap(OV_BLOCK, &me, &writer, "r%d: SH holder host %d saw host %u write (lver %llu seq %llu)",
					r, w->id + 1, g.host, (unsigned long long)g.lver, (unsigned long long)g.seq);
		}
	}
	atomic_store(&sh->holder[w->id][r], 0);
	sm_debug("torture: done holding r%d", r);
}

/* The kind of the rule in force (one at a time) and how many of its hits
 * were counted; sm_fault_clear() zeroes sm_fault_hits().  Counted each
 * iteration of the worker loop, so a SIGKILL loses few. */
static int fault_kind = -1;
static bool fault_on_caw; /* the rule in force is on COMPARE AND WRITE */
static unsigned fault_counted;
static unsigned long caw_exec_counted, caw_misc_counted;

static void count_injected(void)
{
	unsigned long e = sm_cawfile_executed(), m = sm_cawfile_miscompares();
	atomic_fetch_add(&sh->caw_exec, e - caw_exec_counted);
	atomic_fetch_add(&sh->caw_miscompare, m - caw_misc_counted);
	caw_exec_counted = e;
	caw_misc_counted = m;
	if (fault_kind < 0)
		return;
	unsigned h = sm_fault_hits();
	if (h > fault_counted) {
		if (fault_on_caw)
			atomic_fetch_add(fault_kind == SM_FAULT_DONE_ERRNO ? &sh->caw_fault_done : &sh->caw_fault_lost,
					 h - fault_counted);
		atomic_fetch_add(&sh->injected[fault_kind], h - fault_counted);
		fault_counted = h;
	}
}

/* The random rule in force and the member outage applied with it. */
static struct sm_fault_rule cur_rule;
static bool have_rule;
static int applied_outage = -1, applied_outage_kind;
static char outage_tag[16];

static void apply_rules(void)
{
	count_injected(); /* a hit between this and the clear goes uncounted */
	sm_fault_clear();
	fault_counted = 0;
	fault_kind = have_rule && sm_fault_add(&cur_rule) == 0 ? (int)cur_rule.kind : -1;
	fault_on_caw = cur_rule.op == SM_FAULT_CAW;
	if (applied_outage >= 0) {
		snprintf(outage_tag, sizeof(outage_tag), ".%d", applied_outage + 1);
		struct sm_fault_rule o = {.op = SM_FAULT_ANY, .kind = (enum sm_fault_kind)applied_outage_kind, .err = EIO,
					  .path = outage_tag};
		sm_fault_add(&o);
		/* its hits are not counted by kind: fault_counted can only follow one rule */
		fault_kind = -1;
	}
}

static void maybe_inject_fault(void)
{
	if (opt.volume_set) {
		int m = atomic_load(&sh->outage_member), k = atomic_load(&sh->outage_kind);
		if (m != applied_outage || (m >= 0 && k != applied_outage_kind)) {
			bool was_hang = applied_outage >= 0 && applied_outage_kind == SM_FAULT_HANG;
			applied_outage = m;
			applied_outage_kind = k;
			sm_debug("torture: member outage now %d kind %d", m, k);
			apply_rules();
			if (was_hang)
				sm_fault_release_hung(true); /* the member is back: hung writes land late */
		}
	}
	if (!opt.faults)
		return;
	if (rnd(150) == 0) {
		static const enum sm_fault_kind kinds[] = {SM_FAULT_ERRNO, SM_FAULT_ERRNO, SM_FAULT_ERRNO,
							    SM_FAULT_HANG, SM_FAULT_SHORT};
		cur_rule = (struct sm_fault_rule){.op = 1 + rnd(3), .kind = kinds[rnd(5)], .err = EIO, .nth = 1 + rnd(8),
						  .count = 1 + rnd(2)};
		if (opt.lease_caw && rnd(2) == 0) {
			/* a COMPARE AND WRITE that fails unexecuted (EIO, or a timeout
			 * whose abort worked), or executes and loses its answer */
			static const enum sm_fault_kind caw_kinds[] = {SM_FAULT_ERRNO, SM_FAULT_ERRNO, SM_FAULT_DONE_ERRNO};
			cur_rule.op = SM_FAULT_CAW;
			cur_rule.kind = caw_kinds[rnd(3)];
			cur_rule.err = rnd(2) ? ETIMEDOUT : EIO;
			cur_rule.nth = 1 + rnd(4);
		}
		have_rule = true;
		apply_rules();
		sm_debug("torture: fault rule op %d kind %d nth %u count %u", (int)cur_rule.op, (int)cur_rule.kind,
			 cur_rule.nth, cur_rule.count);
	}
	if (rnd(60) == 0 && !(applied_outage >= 0 && applied_outage_kind == SM_FAULT_HANG)) {
		sm_debug("torture: releasing hung I/O");
		sm_fault_release_hung(true); /* the storage path recovers: hung writes land late */
	}
}

static void resolve_doubts(struct worker *w, const struct sm_me *me, const struct sm_oracle *live)
{
	for (int i = 0; i < w->n_in_doubt;) {
		int rc = sm_paxos_resolve(&w->res[w->in_doubt[i]], me, live);
		sm_debug("torture: resolve r%u -> %s", w->in_doubt[i], rc < 0 ? sm_errname(rc) : "ok");
		if (rc == 0) {
			atomic_fetch_add(&sh->resolved, 1);
			w->in_doubt[i] = w->in_doubt[--w->n_in_doubt];
		} else {
			i++;
		}
	}
}

static void add_doubt(struct worker *w, int r)
{
	atomic_fetch_add(&sh->in_doubt, 1);
	for (int i = 0; i < w->n_in_doubt; i++)
		if (w->in_doubt[i] == (uint32_t)r)
			return;
	w->in_doubt[w->n_in_doubt++] = (uint32_t)r;
}

static void count_refusal(int rc)
{
	if (rc == -SM_EHELD)
		atomic_fetch_add(&sh->held, 1);
	else if (rc == -SM_EUNKNOWN_HOST)
		atomic_fetch_add(&sh->unknown, 1);
	else if (rc == -SM_ESHARED_HELD)
		atomic_fetch_add(&sh->shared_held, 1);
	else if (rc == -SM_EBALLOT_ABORTED)
		atomic_fetch_add(&sh->aborted, 1);
	else if (rc == -EIO || rc == -SM_EIO_TIMEOUT || rc == -SM_EIO_PENDING || rc == -SM_ESHORT_IO) {
		atomic_fetch_add(&sh->io_err, 1);
		atomic_fetch_add(rc == -EIO		  ? &sh->io_eio
				 : rc == -SM_EIO_TIMEOUT ? &sh->io_timeout
				 : rc == -SM_EIO_PENDING ? &sh->io_pending
							 : &sh->io_short,
				 1);
	} else if (rc == -SM_ENO_MAJORITY) {
		atomic_fetch_add(&sh->no_majority, 1);
	} else
		atomic_fetch_add(&sh->other_err, 1);
}

static int worker_main(int id)
{
	struct worker w = {.id = id};
	srandom(opt.seed ^ (unsigned)(id * 7919) ^ (unsigned)getpid());
	signal(SIGTERM, on_term);
	sm_log_set_level(SM_LOG_ERROR);
	if (opt.trace) {
		char path[512];
		snprintf(path, sizeof(path), "%s/host%d.log", opt.trace, id + 1);
		trace_fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (trace_fd >= 0) {
			sm_log_set_sink(trace_sink, (void *)(intptr_t)(id + 1));
			sm_log_set_level(SM_LOG_DEBUG);
		}
	}
	if (opt.volume_set) {
		char spec[2000];
		snprintf(spec, sizeof(spec), "%s,%s,%s", opt.members[0], opt.members[1], opt.members[2]);
		if (sm_lockspace_open_spec(spec, &w.ls) < 0)
			return 2;
		for (int m = 0; m < 3; m++)
			if (sm_volume_open(opt.members[m], 0, 0, &w.set_vol[m]) < 0)
				return 2;
	} else if (sm_lockspace_open(opt.volume, 0, &w.ls) < 0 || sm_volume_open(opt.volume, 0, 0, &w.vol) < 0) {
		return 2;
	}
	char name[32];
	snprintf(name, sizeof(name), "torture-%d", id + 1);
	struct sm_join_opts jo = {.host_id = host_id_of(id), .host_name = name, .cancel = &stop};
	int rc;
	sm_debug("torture: joining");
	while ((rc = sm_lockspace_join(w.ls, &jo)) < 0) {
		if (stop)
			return 0;
		sm_sleep_ms(100);
	}
	atomic_fetch_add(&sh->joins, 1);
	{
		uint32_t hid;
		uint64_t gen;
		sm_lockspace_me(w.ls, &hid, &gen, NULL);
		sm_debug("torture: joined as host %u generation %llu", hid, (unsigned long long)gen);
		publish_renewal(&w);              /* the claim counts as the first renewal */
		atomic_store(&sh->gen[id], gen); /* before any lease can name this generation */
	}
	for (int r = 0; r < opt.resources; r++) {
		char rn[16];
		snprintf(rn, sizeof(rn), "r%d", r);
		if (!opt.volume_set) {
			if (sm_resource_ref_init(&w.res[r], w.vol, rn) < 0)
				return 2;
			continue;
		}
		/* the same area on every member (formatted together) */
		struct sm_resource_ref one;
		memset(&w.res[r], 0, sizeof(w.res[r]));
		snprintf(w.res[r].name, sizeof(w.res[r].name), "%s", rn);
		w.res[r].ndisks = 3;
		for (int m = 0; m < 3; m++) {
			if (sm_resource_ref_init(&one, w.set_vol[m], rn) < 0)
				return 2;
			w.res[r].disk[m] = one.disk[0];
		}
	}
	w.datafd = open(opt.data, O_RDWR);
	if (w.datafd < 0)
		return 2;
	if (opt.faults)
		sm_fault_install(); /* after setup: joins and lookups run clean */
	pthread_create(&w.renewer, NULL, renew_thread, &w);

	struct sm_me me;
	sm_lockspace_me(w.ls, &me.host_id, &me.generation, NULL);
	w.real_live = sm_oracle_of(w.ls);
	struct sm_oracle live = {spy_verdict, &w};
	while (!stop) {
		fence_check(&w);
		count_injected();
		maybe_inject_fault();
		if (w.n_in_doubt && rnd(4) == 0)
			resolve_doubts(&w, &me, &live);
		int r = (int)rnd((unsigned)opt.resources);
		uint32_t mode = rnd(10) < 7 ? SM_MODE_EX : SM_MODE_SH;
		struct sm_acquire_opts o = {.mode = mode, .live = live};
		struct sm_lease l = {0};
		w.ndead = 0;
		if (opt.mutant) {
			l = (struct sm_lease){.lver = 0, .mode = mode};
			rc = 0;
		} else {
			rc = sm_paxos_acquire(&w.res[r], &me, &o, &l);
		}
		sm_debug("torture: acquire r%d %s -> %s lver %llu%s%s", r, sm_mode_name(mode), rc < 0 ? sm_errname(rc) : "ok",
			 (unsigned long long)l.lver, l.in_doubt ? " in-doubt" : "", l.took_over_from ? " takeover" : "");
		if (rc < 0) {
			count_refusal(rc);
			if (l.in_doubt) {
				add_doubt(&w, r);
				if (rc != -SM_ESHARED_HELD)
					atomic_fetch_add(&sh->in_doubt_io, 1);
			}
			sm_sleep_ms(rnd(10));
			continue;
		}
		atomic_fetch_add(mode == SM_MODE_EX ? &sh->ex_acq : &sh->sh_acq, 1);
		if (l.took_over_from)
			note_takeover(&w, r, &l);
		hold(&w, r, &l);
		if (opt.mutant)
			continue;
		rc = sm_paxos_release(&w.res[r], &me, &l);
		sm_debug("torture: release r%d lver %llu -> %s", r, (unsigned long long)l.lver, rc < 0 ? sm_errname(rc) : "ok");
		if (rc == 0) {
			atomic_fetch_add(&sh->releases, 1);
		} else if (rc == -SM_ENOT_OWNER) {
			struct sm_lockspace_info info;
			sm_lockspace_info(w.ls, &info);
			if (!info.lost && sm_lockspace_remaining_ms(w.ls) > 0)
				violation("r%d: host %d lost a lease it held while its lockspace was valid", r, id + 1);
		} else {
			count_refusal(rc);
			add_doubt(&w, r); /* the release may not have landed */
			atomic_fetch_add(&sh->in_doubt_io, 1);
		}
	}
	/* Clean stop: resolve what we can, leave. */
	count_injected();
	sm_fault_clear();
	sm_fault_release_hung(true);
	resolve_doubts(&w, &me, &live);
	atomic_store(&w.renewer_stop, true);
	pthread_join(w.renewer, NULL);
	sm_lockspace_leave(w.ls);
	return 0;
}

/* ---- parent ---------------------------------------------------------------- */

static pid_t start_worker(int id)
{
	pid_t p = fork();
	if (p == 0)
		_exit(worker_main(id));
	return p;
}

static int setup_files(void)
{
	const char *names[MAX_RES];
	char buf[MAX_RES][8];
	for (int r = 0; r < opt.resources; r++) {
		snprintf(buf[r], sizeof(buf[r]), "r%d", r);
		names[r] = buf[r];
	}
	struct sm_format_params p = {.lockspace = "torture",
				     .max_hosts = opt.max_hosts ? opt.max_hosts : (uint32_t)opt.hosts + 2,
				     .resources = (uint32_t)opt.resources, .io_timeout_ms = 250,
				     .watchdog_timeout_ms = 2000, .force = true, .resource_names = names,
				     .resource_name_count = (size_t)opt.resources,
				     .lease_io = opt.lease_caw ? SM_LEASE_IO_CAW : SM_LEASE_IO_PAXOS};
	sm_timeouts_derive(p.io_timeout_ms, p.watchdog_timeout_ms, &tmo);
	if (opt.volume_set) {
		p.set_size = SM_SET_SIZE;
		sm_uuid_generate(p.set_uuid);
	}
	for (int m = 0; m < (opt.volume_set ? 3 : 1); m++) {
		const char *path = opt.volume_set ? opt.members[m] : opt.volume;
		p.set_index = (uint32_t)m;
		int rc = sm_volume_format(path, 0, &p, NULL);
		if (rc < 0) {
			fprintf(stderr, "torture: cannot format %s: %s\n", path, sm_strerror(rc));
			return -1;
		}
	}
	int fd = open(opt.data, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, MAX_RES * BLOCK) < 0) {
		perror("torture: data file");
		return -1;
	}
	close(fd);
	return 0;
}

static bool holds_ex(int i)
{
	for (int r = 0; r < opt.resources; r++)
		if (atomic_load(&sh->holder[i][r]) == SM_MODE_EX)
			return true;
	return false;
}

/* ---- frozen hosts (parent) ------------------------------------------------ */

/* A freeze as the parent saw it: from the stop it confirmed to just before
 * the SIGCONT it sent (so at most as long as the real one), and the start
 * of the host's last successful renewal before it (t0). */
struct freeze {
	int host; /* 0-based worker */
	pid_t pid;
	uint64_t start, end, t0;
	bool worst; /* stopped itself right after a deadline check */
};

static struct freeze freezes[MAX_FREEZES];
static int nfreezes;
static uint64_t run_start, run_end;

/* The freeze in progress: none, asked (waiting for the worker to stop at
 * its worst moment), or frozen until `until`. */
static struct {
	enum { FZ_IDLE, FZ_ASKED, FZ_FROZEN } phase;
	int i;
	pid_t pid;
	bool worst;
	uint64_t asked_until, start, until, t0, next;
} fz = {.i = -1};

/* Is worker i the one being frozen (not to be SIGKILLed meanwhile)? */
static bool freezing(int i)
{
	return fz.phase != FZ_IDLE && fz.i == i;
}

/* 1 if p is stopped (the stop report is consumed), -1 if it died (left for
 * the reaper), 0 otherwise. */
static int stopped(pid_t p)
{
	siginfo_t si = {0};
	if (waitid(P_PID, (id_t)p, &si, WSTOPPED | WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
		return 0;
	if (si.si_code != CLD_STOPPED)
		return -1;
	waitid(P_PID, (id_t)p, &si, WSTOPPED | WNOHANG);
	return 1;
}

static void freeze_schedule(uint64_t now)
{
	fz.phase = FZ_IDLE;
	fz.i = -1;
	fz.next = now + opt.freeze_every_ms / 2 + rnd(opt.freeze_every_ms);
}

static void frozen_now(void)
{
	fz.phase = FZ_FROZEN;
	fz.start = sm_now_mono_ms();
	fz.t0 = atomic_load(&sh->renewed[fz.i]);
	fz.until = fz.start + opt.freeze_ms + rnd(opt.freeze_ms / 4 + 1);
	if (opt.trace)
		fprintf(stderr, "%llu parent: host %d pid %d frozen (%s), last renewal started %llu\n",
			(unsigned long long)fz.start, fz.i + 1, (int)fz.pid,
			fz.worst ? "right after a deadline check" : "at a random moment", (unsigned long long)fz.t0);
}

/* SIGSTOP the worker and wait (up to 2 s) until it is stopped. */
static void stop_now(uint64_t now)
{
	fz.worst = false;
	kill(fz.pid, SIGSTOP);
	uint64_t limit = sm_now_mono_ms() + 2000;
	int st;
	while ((st = stopped(fz.pid)) == 0 && sm_now_mono_ms() < limit)
		sm_sleep_ms(1);
	if (st == 1)
		frozen_now();
	else
		freeze_schedule(now); /* it died meanwhile (the reaper sees it) */
}

static void resume_now(void)
{
	uint64_t end = sm_now_mono_ms(); /* nothing of it runs before the SIGCONT */
	kill(fz.pid, SIGCONT);
	if (opt.trace)
		fprintf(stderr, "%llu parent: host %d pid %d resumed after %llu ms\n", (unsigned long long)end, fz.i + 1,
			(int)fz.pid, (unsigned long long)(end - fz.start));
	if (nfreezes < MAX_FREEZES)
		freezes[nfreezes++] = (struct freeze){fz.i, fz.pid, fz.start, end, fz.t0, fz.worst};
	freeze_schedule(end);
}

static bool holds_any(int i)
{
	for (int r = 0; r < opt.resources; r++)
		if (atomic_load(&sh->holder[i][r]))
			return true;
	return false;
}

/* Start a freeze of a joined worker that holds a lease (waiting up to a
 * second for one, then any joined worker): half at its worst moment (it
 * stops itself after its next passed deadline check), half at once. */
static void freeze_begin(const pid_t *pid, uint64_t now)
{
	/* Only a freeze that can run its full length: one cut short by the end
	 * of the run could last less than H and explain nothing. */
	if (now + 2000 + opt.freeze_ms + opt.freeze_ms / 4 + 500 > run_end) {
		fz.next = UINT64_MAX;
		return;
	}
	int cand[MAX_WORKERS], n = 0;
	bool any = now >= fz.next + 1000;
	for (int i = 0; i < opt.hosts; i++)
		if (pid[i] > 0 && atomic_load(&sh->gen[i]) && (any || holds_any(i)))
			cand[n++] = i;
	if (!n) {
		if (any)
			freeze_schedule(now);
		return;
	}
	fz.i = cand[rnd((unsigned)n)];
	fz.pid = pid[fz.i];
	fz.worst = rnd(2) == 0;
	if (!fz.worst) {
		stop_now(now);
		return;
	}
	fz.phase = FZ_ASKED;
	fz.asked_until = now + 2000;
	atomic_store(&sh->freeze_req[fz.i], (int32_t)fz.pid);
}

/* Withdraw a request the worker has not taken; false if it took it (it is
 * stopping itself). */
static bool withdraw(void)
{
	int32_t want = (int32_t)fz.pid;
	return atomic_compare_exchange_strong(&sh->freeze_req[fz.i], &want, 0);
}

/* Called every parent iteration with the current pids. */
static void freeze_tick(const pid_t *pid, uint64_t now)
{
	if (!opt.freeze_every_ms)
		return;
	switch (fz.phase) {
	case FZ_IDLE:
		if (now >= fz.next)
			freeze_begin(pid, now);
		break;
	case FZ_ASKED: {
		int st = pid[fz.i] == fz.pid ? stopped(fz.pid) : -1;
		if (st == 1) {
			frozen_now();
		} else if (st < 0) {
			withdraw(); /* it died first */
			freeze_schedule(now);
		} else if (now >= fz.asked_until) {
			if (withdraw())
				stop_now(now); /* it held nothing: freeze it where it is */
			else
				fz.asked_until = UINT64_MAX; /* taken: the stop is coming */
		}
		break;
	}
	case FZ_FROZEN:
		if (now >= fz.until)
			resume_now();
		break;
	}
}

/* End of the run: no worker stays stopped. */
static void freeze_finish(void)
{
	if (fz.phase == FZ_ASKED) {
		if (withdraw()) {
			fz.phase = FZ_IDLE;
			return;
		}
		uint64_t limit = sm_now_mono_ms() + 2000;
		int st;
		while ((st = stopped(fz.pid)) == 0 && sm_now_mono_ms() < limit)
			sm_sleep_ms(1);
		if (st != 1) {
			fz.phase = FZ_IDLE; /* it died first */
			return;
		}
		frozen_now();
	}
	if (fz.phase == FZ_FROZEN)
		resume_now();
}

static long long rel_ms(uint64_t t, uint64_t base)
{
	return (long long)t - (long long)base;
}

/* The freeze of party p (the other party q) that explains overlap o, or -1.
 * The three conditions at the top of the file; `why` gets the reason a
 * freeze of p does not explain it (unchanged if p was never frozen), and
 * *too_short is set if o was seen in a freeze of p that lasted at most H. */
static int explained_by(const struct overlap *o, const struct party *p, const struct party *q, char *why, size_t n,
			bool *too_short)
{
	for (int k = 0; k < nfreezes; k++) {
		const struct freeze *f = &freezes[k];
		if ((uint32_t)f->host + 1 != p->host || f->pid != p->pid)
			continue;
		uint64_t len = f->end - f->start;
		if (o->t_ms < f->start || o->t_ms > f->end + tmo.kill_grace_ms) {
			snprintf(why, n, "seen at %+lld ms from host %u's resume, outside its freeze and the G = %u ms after",
				 rel_ms(o->t_ms, f->end), p->host, tmo.kill_grace_ms);
		} else if (len <= tmo.host_dead_ms) {
			*too_short = true;
			snprintf(why, n, "host %u pid %d was frozen %llu ms, not more than H = %u ms", p->host, p->pid,
				 (unsigned long long)len, tmo.host_dead_ms);
		} else if (!q->host || q->since_ms <= f->t0 + tmo.host_dead_ms) {
			snprintf(why, n,
				 "host %u began holding %lld ms after the last renewal of frozen host %u started, not "
				 "more than H = %u ms",
				 q->host, rel_ms(q->since_ms, f->t0), p->host, tmo.host_dead_ms);
		} else {
			return k;
		}
	}
	return -1;
}

/* Classify the recorded overlaps: frozen-host overlaps are summed per
 * freeze, the others printed as VIOLATIONS.  Returns the number of
 * VIOLATIONS (unrecorded overlaps included); *refused counts those that
 * named a frozen process but failed a condition, *short_refused those seen
 * in a freeze of at most H. */
static uint64_t classify_overlaps(uint64_t *frozen_overlaps, uint64_t *frozen_block, uint64_t *refused,
				  uint64_t *short_refused)
{
	int total = atomic_load(&sh->noverlaps), recorded = SM_MIN(total, MAX_OVERLAPS);
	uint64_t bad = (uint64_t)(total - recorded), printed = 0;
	static unsigned per_table[MAX_FREEZES], per_block[MAX_FREEZES];
	static uint64_t first_block[MAX_FREEZES];
	*frozen_overlaps = *frozen_block = *refused = *short_refused = 0;
	for (int k = 0; k < recorded; k++) {
		const struct overlap *o = &sh->overlaps[k];
		char why[300] = "";
		int f = -1;
		bool too_short = false;
		if (atomic_load(&o->done)) {
			if (o->a.host)
				f = explained_by(o, &o->a, &o->b, why, sizeof(why), &too_short);
			if (f < 0 && o->b.host)
				f = explained_by(o, &o->b, &o->a, why, sizeof(why), &too_short);
		}
		if (f >= 0) {
			(*frozen_overlaps)++;
			if (o->kind == OV_BLOCK) {
				(*frozen_block)++;
				if (!per_block[f]++) {
					first_block[f] = o->t_ms;
					printf("torture: frozen-host overlap: %s (at +%.3f s, %lld ms after the resume of "
					       "host %u)\n",
					       o->msg, rel_ms(o->t_ms, run_start) / 1000.0, rel_ms(o->t_ms, freezes[f].end),
					       (unsigned)freezes[f].host + 1);
				}
			} else {
				per_table[f]++;
			}
			continue;
		}
		bad++;
		*refused += why[0] != 0;
		*short_refused += too_short;
		if (printed++ < MAX_PRINTED_VIOLATIONS)
			fprintf(stderr, "torture: VIOLATION: %s (at +%.3f s; %s%s)\n",
				atomic_load(&o->done) ? o->msg : "(a worker died while recording it)",
				rel_ms(o->t_ms, run_start) / 1000.0, why[0] ? "not explained: " : "no frozen host involved",
				why);
	}
	if (total > recorded)
		fprintf(stderr, "torture: VIOLATION: %d more overlaps were not recorded (classified as violations)\n",
			total - recorded);
	for (int k = 0; k < nfreezes; k++) {
		const struct freeze *f = &freezes[k];
		printf("torture: freeze %d: host %d pid %d from +%.3f s for %llu ms (%s; its last renewal started %llu ms "
		       "before): frozen-host overlaps %u in the holder table, %u in guard blocks",
		       k + 1, f->host + 1, (int)f->pid, rel_ms(f->start, run_start) / 1000.0,
		       (unsigned long long)(f->end - f->start),
		       f->worst ? "right after a deadline check" : "at a random moment",
		       (unsigned long long)(f->start - SM_MIN(f->t0, f->start)), per_table[k], per_block[k]);
		if (per_block[k])
			printf(" (first %lld ms after the resume)", rel_ms(first_block[k], f->end));
		printf("\n");
	}
	return bad;
}

/* A random live worker that holds an EX lease right now, or -1. */
static int pick_ex_holder(const pid_t *pid)
{
	int cand[MAX_WORKERS], n = 0;
	for (int i = 0; i < opt.hosts; i++)
		if (pid[i] > 0 && holds_ex(i) && !freezing(i))
			cand[n++] = i;
	return n ? cand[rnd((unsigned)n)] : -1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: sm_torture --volume PATH --data PATH [--hosts N] [--resources R] [--seconds S]\n"
		"                  [--faults] [--kill-every-ms MS] [--targeted-kills PCT] [--seed N] [--mutant]\n"
		"                  [--trace DIR] [--freeze-every-ms MS] [--freeze-ms MS] [--volume-set]\n"
		"                  [--lease-io caw|paxos] [--max-hosts N] [--host-id-stride K]\n"
		"                  [--min-acquires N] [--min-checks N] [--min-sh-checks N]\n"
		"                  [--min-kill-takeovers N] [--min-io-errors N] [--min-hangs N] [--min-in-doubt N]\n"
		"                  [--min-freezes N] [--min-frozen-overlaps N]\n"
		"crashes:\n"
		"  --kill-every-ms MS      SIGKILL a worker every MS/2..3MS/2 ms (default 2500; 0 = never)\n"
		"  --targeted-kills PCT    share of kills that wait (up to 1 s) for a worker holding an EX\n"
		"                          lease and kill it; the rest pick a worker at random (default 50)\n"
		"frozen hosts (a paused VM host, a hypervisor stall: kernel and watchdog frozen too):\n"
		"  --freeze-every-ms MS    stop a whole worker (SIGSTOP) every MS/2..3MS/2 ms after the last\n"
		"                          freeze ended, half of them right after a deadline check (default 0 = never)\n"
		"  --freeze-ms MS          how long (MS..5MS/4; default H + F of the torture volume: others\n"
		"                          see it dead and take its leases over); MS <= H explains no overlap\n"
		"  An overlap is a \"frozen-host overlap\", reported but not failing the run, only if one\n"
		"  party is the frozen process, frozen more than H; the other began holding more than H after\n"
		"  the frozen host's last renewal started; and it was seen during the freeze or within G after\n"
		"  the resume.  Every other overlap is a VIOLATION.\n"
		"pass criteria (a run that meets them and sees no violation exits 0):\n"
		"  --min-acquires N        successful acquisitions (default 50)\n"
		"  --min-checks N          guard-block checks by holders, EX and SH (default 100)\n"
		"  --min-sh-checks N       of which by SH holders (default 1)\n"
		"  --min-kill-takeovers N  leases taken over from a host the parent SIGKILLed\n"
		"                          (default 1 with --kill-every-ms > 0, else 0)\n"
		"  --min-io-errors N       injected I/O errors that hit an I/O (default 1 with --faults, else 0)\n"
		"  --min-hangs N           injected hangs that hit an I/O (held back until released, as a\n"
		"                          rule past io_timeout; default 1 with --faults, else 0)\n"
		"  --min-in-doubt N        acquires/releases left in doubt by an I/O failure (default 0)\n"
		"  --min-freezes N         freezes longer than H (default 1 with --freeze-every-ms > 0, else 0)\n"
		"  --min-frozen-overlaps N frozen-host overlaps seen (default 0)\n"
		"  --volume-set            the lockspace on a volume set VOLUME.1, VOLUME.2, VOLUME.3\n"
		"  --member-outage-every-ms MS  volume set: a member fails or hangs for 0.5..6.5 s every\n"
		"                          MS/2..3MS/2 ms (default 4000; 0 = never)\n"
		"  --min-outages N         member outages (default 1 with --volume-set and outages)\n"
		"  --lease-io caw          leases by COMPARE AND WRITE on the volume file (served by the\n"
		"                          test-only cawfile emulator, atomic across processes; with --faults\n"
		"                          COMPARE AND WRITEs also fail, or execute and lose their answer)\n"
		"  --max-hosts N           slots of the volume (default hosts + 2); with --host-id-stride K\n"
		"                          worker i is host_id 1 + i*K: renewals then read only the slots in\n"
		"                          use and find the far ones by whole reads (issue 19)\n"
		"  --caw-blind-writes      with --lease-io caw: a broken device whose COMPARE AND WRITE writes\n"
		"                          without comparing; the checker must see violations (exit 4)\n"
		"  --mutant ignores them: workers skip the leases and the checker must see violations.\n"
		"exit status: 0 no violation and criteria met; 2 usage or setup error;\n"
		"             3 no violation but a criterion not met; 4 mutual-exclusion VIOLATION seen\n");
}

static bool parse_count(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0)
		return false;
	*out = v;
	return true;
}

static bool require(const char *what, uint64_t got, long min)
{
	if (min <= 0 || got >= (uint64_t)min)
		return true;
	printf("torture: NOT ENOUGH: %s %llu < %ld\n", what, (unsigned long long)got, min);
	return false;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"volume", required_argument, NULL, 'v'}, {"data", required_argument, NULL, 'd'},
		{"hosts", required_argument, NULL, 'n'}, {"resources", required_argument, NULL, 'r'},
		{"seconds", required_argument, NULL, 's'}, {"faults", no_argument, NULL, 'f'},
		{"kill-every-ms", required_argument, NULL, 'k'}, {"seed", required_argument, NULL, 'S'},
		{"mutant", no_argument, NULL, 'M'}, {"trace", required_argument, NULL, 'T'},
		{"min-acquires", required_argument, NULL, 'a'}, {"min-checks", required_argument, NULL, 'c'},
		{"min-sh-checks", required_argument, NULL, 'C'}, {"min-kill-takeovers", required_argument, NULL, 'K'},
		{"min-io-errors", required_argument, NULL, 'E'}, {"min-hangs", required_argument, NULL, 'H'},
		{"min-in-doubt", required_argument, NULL, 'D'}, {"targeted-kills", required_argument, NULL, 't'},
		{"freeze-every-ms", required_argument, NULL, 'z'}, {"freeze-ms", required_argument, NULL, 'Z'},
		{"min-freezes", required_argument, NULL, 'y'}, {"min-frozen-overlaps", required_argument, NULL, 'Y'},
		{"volume-set", no_argument, NULL, 'V'}, {"member-outage-every-ms", required_argument, NULL, 'O'},
		{"min-outages", required_argument, NULL, 'o'}, {"lease-io", required_argument, NULL, 'L'},
		{"caw-blind-writes", no_argument, NULL, 'B'}, {"max-hosts", required_argument, NULL, 'X'},
		{"host-id-stride", required_argument, NULL, 'I'}, {0}};
	opt = (struct opts){.hosts = 4, .resources = 3, .seconds = 20, .kill_every_ms = 2500,
			    .targeted_kill_pct = 50, .seed = (unsigned)getpid(), .min_acquires = 50,
			    .min_checks = 100, .min_sh_checks = 1, .min_kill_takeovers = -1, .min_io_errors = -1,
			    .min_hangs = -1, .min_in_doubt = 0, .min_freezes = -1, .min_frozen_overlaps = 0};
	int c;
	long targeted_pct = opt.targeted_kill_pct, freeze_every = 0, freeze_len = 0, outage_every = -1, min_outages = -1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		long *min = NULL;
		switch (c) {
		case 'a': min = &opt.min_acquires; break;
		case 'c': min = &opt.min_checks; break;
		case 'C': min = &opt.min_sh_checks; break;
		case 'K': min = &opt.min_kill_takeovers; break;
		case 'E': min = &opt.min_io_errors; break;
		case 'H': min = &opt.min_hangs; break;
		case 'D': min = &opt.min_in_doubt; break;
		case 't': min = &targeted_pct; break;
		case 'z': min = &freeze_every; break;
		case 'Z': min = &freeze_len; break;
		case 'y': min = &opt.min_freezes; break;
		case 'Y': min = &opt.min_frozen_overlaps; break;
		case 'O': min = &outage_every; break;
		case 'o': min = &min_outages; break;
		default: break;
		}
		if (min) {
			if (!parse_count(optarg, min)) {
				fprintf(stderr, "sm_torture: bad count '%s'\n", optarg);
				usage();
				return EXIT_USAGE;
			}
			continue;
		}
		switch (c) {
		case 'v': opt.volume = optarg; break;
		case 'd': opt.data = optarg; break;
		case 'n': opt.hosts = atoi(optarg); break;
		case 'r': opt.resources = atoi(optarg); break;
		case 's': opt.seconds = (unsigned)atoi(optarg); break;
		case 'f': opt.faults = true; break;
		case 'k': opt.kill_every_ms = (unsigned)atoi(optarg); break;
		case 'S': opt.seed = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'M': opt.mutant = true; break;
		case 'T': opt.trace = optarg; break;
		case 'V': opt.volume_set = true; break;
		case 'B': opt.caw_blind = true; break;
		case 'X': opt.max_hosts = (unsigned)atoi(optarg); break;
		case 'I': opt.id_stride = (unsigned)atoi(optarg); break;
		case 'L':
			if (strcmp(optarg, "caw") && strcmp(optarg, "paxos")) {
				usage();
				return EXIT_USAGE;
			}
			opt.lease_caw = !strcmp(optarg, "caw");
			break;
		default: usage(); return EXIT_USAGE;
		}
	}
	opt.targeted_kill_pct = (unsigned)targeted_pct;
	if (opt.max_hosts > SM_MAX_MAX_HOSTS || host_id_of(opt.hosts - 1) > (opt.max_hosts ? opt.max_hosts : (unsigned)opt.hosts + 2)) {
		fprintf(stderr, "sm_torture: --max-hosts must hold host_id %u (--host-id-stride)\n", host_id_of(opt.hosts - 1));
		return EXIT_USAGE;
	}
	if (opt.lease_caw && opt.volume_set) {
		fprintf(stderr, "sm_torture: --lease-io caw needs a lone volume, not --volume-set\n");
		return EXIT_USAGE;
	}
	if (opt.lease_caw)
		sm_cawfile_install(opt.caw_blind); /* before the workers fork, under their fault layer */
	if (optind < argc || !opt.volume || !opt.data || opt.hosts < 2 || opt.hosts > MAX_WORKERS ||
	    opt.resources < 1 || opt.resources > MAX_RES || opt.seconds == 0 || targeted_pct > 100 ||
	    freeze_every > 3600000 || freeze_len > 3600000) {
		usage();
		return EXIT_USAGE;
	}
	if (opt.min_kill_takeovers < 0)
		opt.min_kill_takeovers = opt.kill_every_ms ? 1 : 0;
	if (opt.min_io_errors < 0)
		opt.min_io_errors = opt.faults ? 1 : 0;
	if (opt.min_hangs < 0)
		opt.min_hangs = opt.faults ? 1 : 0;
	if (opt.volume_set)
		for (int m = 0; m < 3; m++)
			snprintf(opt.members[m], sizeof(opt.members[m]), "%s.%d", opt.volume, m + 1);
	opt.outage_every_ms = outage_every < 0 ? (opt.volume_set ? 4000 : 0) : (unsigned)outage_every;
	if (min_outages < 0)
		min_outages = opt.volume_set && opt.outage_every_ms ? 1 : 0;
	opt.freeze_every_ms = (unsigned)freeze_every;
	opt.freeze_ms = (unsigned)freeze_len;
	if (opt.min_freezes < 0)
		opt.min_freezes = opt.freeze_every_ms ? 1 : 0;
	sm_log_set_level(SM_LOG_ERROR);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || setup_files() < 0)
		return EXIT_USAGE;
	atomic_store(&sh->outage_member, -1);
	if (opt.freeze_every_ms && !opt.freeze_ms)
		opt.freeze_ms = tmo.host_dead_ms + tmo.fail_ms;
	srandom(opt.seed);
	printf("torture: %d hosts, %d resources, %u s, faults %s, kill every ~%u ms, seed %u%s\n", opt.hosts,
	       opt.resources, opt.seconds, opt.faults ? "on" : "off", opt.kill_every_ms, opt.seed,
	       opt.mutant ? ", MUTANT (no leases)" : "");
	if (opt.volume_set)
		printf("torture: volume set %s.{1,2,3}; a member out of service every ~%u ms for 0.5..6.5 s (H = %u ms)\n",
		       opt.volume, opt.outage_every_ms, tmo.host_dead_ms);
	if (opt.freeze_every_ms)
		printf("torture: freeze a host every ~%u ms for %u..%u ms (H = %u ms, F = %u ms, G = %u ms)\n",
		       opt.freeze_every_ms, opt.freeze_ms, opt.freeze_ms + opt.freeze_ms / 4, tmo.host_dead_ms,
		       tmo.fail_ms, tmo.kill_grace_ms);
	fflush(stdout);

	pid_t pid[MAX_WORKERS];
	uint64_t restart_at[MAX_WORKERS] = {0};
	for (int i = 0; i < opt.hosts; i++)
		pid[i] = start_worker(i);
	uint64_t start = sm_now_mono_ms(), end = start + opt.seconds * 1000ull;
	run_start = start;
	run_end = end;
	freeze_schedule(start);
	uint64_t next_kill = start + opt.kill_every_ms / 2 + rnd(opt.kill_every_ms);
	/* Volume set: one member out of service at a time, for 0.5 s to 6.5 s
	 * (more than H = 4 s now and then), a third of them hanging. */
	uint64_t next_outage = start + opt.outage_every_ms / 2 + rnd(opt.outage_every_ms + 1), outage_end = 0;
	bool kill_targeted = rnd(100) < opt.targeted_kill_pct;
	unsigned kills = 0, ex_kills = 0, restarts = 0, exits = 0;
	while (sm_now_mono_ms() < end) {
		sm_sleep_ms(20);
		uint64_t now = sm_now_mono_ms();
		int status;
		pid_t p;
		while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
			for (int i = 0; i < opt.hosts; i++)
				if (pid[i] == p) {
					pid[i] = 0;
					exits++;
					atomic_store(&sh->gen[i], 0);
					for (int r = 0; r < MAX_RES; r++)
						atomic_store(&sh->holder[i][r], 0);
					restart_at[i] = now + 100 + rnd(500);
				}
		}
		if (opt.kill_every_ms && now >= next_kill) {
			/* A targeted kill waits (up to a second) for a host holding an
			 * EX lease: that kill must end in a takeover. */
			bool targeted = kill_targeted;
			int i = targeted ? pick_ex_holder(pid) : -1;
			bool defer = i < 0 && targeted && now < next_kill + 1000;
			if (i < 0)
				i = (int)rnd((unsigned)opt.hosts);
			if (!defer && pid[i] > 0 && !freezing(i)) {
				bool ex = holds_ex(i);
				if (opt.trace)
					fprintf(stderr, "%llu parent: SIGKILL host %d pid %d%s%s\n",
						(unsigned long long)sm_now_mono_ms(), i + 1, (int)pid[i],
						ex ? " (EX holder)" : "", targeted ? " (targeted)" : "");
				kill(pid[i], SIGKILL);
				waitpid(pid[i], NULL, 0);
				/* Dead now: a worker still joining has published no
				 * generation, and can own no lease yet. */
				uint64_t g = atomic_load(&sh->gen[i]);
				int k = atomic_fetch_add(&sh->nkilled, 1);
				if (g && k < MAX_KILLED) {
					atomic_store(&sh->killed[k].host, host_id_of(i));
					atomic_store(&sh->killed[k].gen, g);
				}
				atomic_store(&sh->gen[i], 0);
				for (int r = 0; r < MAX_RES; r++)
					atomic_store(&sh->holder[i][r], 0);
				pid[i] = 0;
				kills++;
				ex_kills += ex;
				restart_at[i] = now + 100 + rnd(1000);
			}
			if (!defer) {
				next_kill = now + opt.kill_every_ms / 2 + rnd(opt.kill_every_ms);
				kill_targeted = rnd(100) < opt.targeted_kill_pct;
			}
		}
		for (int i = 0; i < opt.hosts; i++)
			if (pid[i] == 0 && restart_at[i] && now >= restart_at[i]) {
				pid[i] = start_worker(i);
				restarts++;
				restart_at[i] = 0;
			}
		freeze_tick(pid, now);
		if (opt.volume_set && opt.outage_every_ms) {
			if (outage_end && now >= outage_end) {
				atomic_store(&sh->outage_member, -1);
				outage_end = 0;
				next_outage = now + opt.outage_every_ms / 2 + rnd(opt.outage_every_ms);
			} else if (!outage_end && now >= next_outage) {
				bool hang = rnd(3) == 0;
				atomic_store(&sh->outage_kind, hang ? SM_FAULT_HANG : SM_FAULT_ERRNO);
				atomic_store(&sh->outage_member, (int)rnd(3));
				atomic_fetch_add(&sh->outages, 1);
				atomic_fetch_add(&sh->outages_hang, hang);
				outage_end = now + 500 + rnd(6000);
			}
		}
	}
	atomic_store(&sh->outage_member, -1);
	freeze_finish();
	for (int i = 0; i < opt.hosts; i++)
		if (pid[i] > 0)
			kill(pid[i], SIGTERM);
	uint64_t grace = sm_now_mono_ms() + 15000;
	for (int i = 0; i < opt.hosts; i++) {
		while (pid[i] > 0 && sm_now_mono_ms() < grace && waitpid(pid[i], NULL, WNOHANG) == 0)
			sm_sleep_ms(20);
		if (pid[i] > 0 && waitpid(pid[i], NULL, WNOHANG) == 0) {
			kill(pid[i], SIGKILL);
			waitpid(pid[i], NULL, 0);
		}
	}

	double secs = (sm_now_mono_ms() - start) / 1000.0;
	uint64_t acq = sh->ex_acq + sh->sh_acq;
	printf("torture: %.1f s; acquisitions: %llu (EX %llu, SH %llu, %.0f/s), releases %llu\n", secs,
	       (unsigned long long)acq, (unsigned long long)sh->ex_acq, (unsigned long long)sh->sh_acq, acq / secs,
	       (unsigned long long)sh->releases);
	printf("torture: refusals: held %llu, owner liveness unknown %llu, shared-held %llu, ballots aborted %llu\n",
	       (unsigned long long)sh->held, (unsigned long long)sh->unknown, (unsigned long long)sh->shared_held,
	       (unsigned long long)sh->aborted);
	printf("torture: crashes: %u SIGKILLs (%u of EX holders), %llu fenced exits, %u restarts, %llu joins; "
	       "takeovers from dead hosts: %llu, of which from SIGKILLed ones %llu\n",
	       kills, ex_kills, (unsigned long long)sh->fenced, restarts, (unsigned long long)sh->joins,
	       (unsigned long long)sh->takeovers, (unsigned long long)sh->kill_takeovers);
	printf("torture: faults injected: errors %llu, hangs %llu, short %llu\n",
	       (unsigned long long)sh->injected[SM_FAULT_ERRNO], (unsigned long long)sh->injected[SM_FAULT_HANG],
	       (unsigned long long)sh->injected[SM_FAULT_SHORT]);
	if (opt.lease_caw)
		printf("torture: COMPARE AND WRITE: %llu executed (%llu miscompared); faults: %llu not executed, %llu "
		       "executed with the answer lost\n",
		       (unsigned long long)sh->caw_exec, (unsigned long long)sh->caw_miscompare,
		       (unsigned long long)sh->caw_fault_lost, (unsigned long long)sh->caw_fault_done);
	printf("torture: faults seen: I/O errors %llu (EIO %llu, timeout %llu, pending %llu, short %llu), no majority "
	       "of members %llu, other errors %llu, in doubt %llu (after I/O failures %llu, resolved %llu), lockspaces "
	       "lost %llu\n",
	       (unsigned long long)sh->io_err, (unsigned long long)sh->io_eio, (unsigned long long)sh->io_timeout,
	       (unsigned long long)sh->io_pending, (unsigned long long)sh->io_short,
	       (unsigned long long)sh->no_majority, (unsigned long long)sh->other_err,
	       (unsigned long long)sh->in_doubt, (unsigned long long)sh->in_doubt_io, (unsigned long long)sh->resolved,
	       (unsigned long long)sh->lost);
	uint64_t violations = sh->violations, frozen_overlaps = 0, frozen_block = 0, frozen_refused = 0;
	uint64_t short_refused = 0, long_freezes = 0;
	if (opt.freeze_every_ms) {
		violations = classify_overlaps(&frozen_overlaps, &frozen_block, &frozen_refused, &short_refused);
		uint64_t longest = 0;
		for (int k = 0; k < nfreezes; k++) {
			uint64_t len = freezes[k].end - freezes[k].start;
			long_freezes += len > tmo.host_dead_ms;
			longest = SM_MAX(longest, len);
		}
		printf("torture: frozen hosts: %d freezes (%llu longer than H = %u ms, longest %llu ms; %llu right after "
		       "a deadline check); frozen-host overlaps %llu (%llu in guard blocks; not failing the run); "
		       "overlaps naming a frozen host but not explained %llu (seen in a freeze of at most H: %llu)\n",
		       nfreezes, (unsigned long long)long_freezes, tmo.host_dead_ms, (unsigned long long)longest,
		       (unsigned long long)sh->worst_stops, (unsigned long long)frozen_overlaps,
		       (unsigned long long)frozen_block, (unsigned long long)frozen_refused,
		       (unsigned long long)short_refused);
	}
	if (opt.volume_set)
		printf("torture: member outages: %llu (%llu hanging, the rest failing)\n",
		       (unsigned long long)sh->outages, (unsigned long long)sh->outages_hang);
	printf("torture: guarded checks %llu (SH %llu), VIOLATIONS %llu\n", (unsigned long long)sh->checks,
	       (unsigned long long)sh->sh_checks, (unsigned long long)violations);
	(void)exits;
	if (violations) {
		printf("torture: RESULT: mutual exclusion VIOLATED (%llu violations), exit %d\n",
		       (unsigned long long)violations, EXIT_VIOLATION);
		return EXIT_VIOLATION;
	}
	if (opt.mutant) {
		printf("torture: RESULT: no violation seen although the workers skipped the leases\n");
		return EXIT_OK;
	}
	bool ok = require("acquisitions", acq, opt.min_acquires);
	ok &= require("guarded checks", sh->checks, opt.min_checks);
	ok &= require("guarded checks by SH holders", sh->sh_checks, opt.min_sh_checks);
	ok &= require("takeovers from SIGKILLed hosts", sh->kill_takeovers, opt.min_kill_takeovers);
	ok &= require("injected I/O errors", sh->injected[SM_FAULT_ERRNO], opt.min_io_errors);
	ok &= require("injected hangs", sh->injected[SM_FAULT_HANG], opt.min_hangs);
	if (opt.lease_caw && !opt.mutant && !opt.caw_blind) {
		ok &= require("COMPARE AND WRITEs executed", sh->caw_exec, opt.min_acquires);
		ok &= require("COMPARE AND WRITEs that miscompared", sh->caw_miscompare, 1);
		if (opt.faults)
			ok &= require("COMPARE AND WRITEs executed with the answer lost", sh->caw_fault_done, 1);
	}
	ok &= require("in-doubt outcomes after I/O failures", sh->in_doubt_io, opt.min_in_doubt);
	ok &= require("freezes longer than H", long_freezes, opt.min_freezes);
	ok &= require("frozen-host overlaps", frozen_overlaps, opt.min_frozen_overlaps);
	ok &= require("member outages", sh->outages, min_outages);
	if (!ok) {
		printf("torture: RESULT: no violation, but too little was exercised to prove anything, exit %d\n",
		       EXIT_THIN);
		return EXIT_THIN;
	}
	printf("torture: RESULT: ok\n");
	return EXIT_OK;
}
