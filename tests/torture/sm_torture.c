/* Mutual-exclusion torture for the lease library.
 *
 * N worker processes act as hosts on one shared volume file: each joins the
 * lockspace (a thread renews it), then acquires and releases EX and SH leases
 * on a few resources at random.  The parent SIGKILLs workers at random and
 * restarts them; with --faults every worker also injects I/O errors, hangs
 * (some of which land late) and short I/O into its own storage calls.
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
 * --mutant makes workers skip the lease (they "acquire" without Disk Paxos):
 * the checker must then report violations, proving it can see them.
 *
 * Exit status: 0 when no violation was seen and enough work was done. */
#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "disk/fault.h"
#include "lease/delta.h"
#include "lease/paxos.h"
#include "lease/resource.h"
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

struct shared {
	_Atomic int holder[MAX_WORKERS][MAX_RES]; /* 0 none, SM_MODE_EX, SM_MODE_SH */
	_Atomic uint64_t ex_acq, sh_acq, held, unknown, shared_held, aborted, other_err, io_err;
	_Atomic uint64_t takeovers, in_doubt, resolved, fenced, lost, joins, checks, releases;
	_Atomic uint64_t violations;
	_Atomic int nmsg;
	char msg[8][256];
};

struct opts {
	const char *volume, *data;
	const char *trace; /* directory for per-host debug traces, or NULL */
	int hosts, resources;
	unsigned seconds;
	bool faults, mutant, quiet;
	unsigned kill_every_ms;
	unsigned seed;
};

static struct shared *sh;
static struct opts opt;
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

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
	atomic_fetch_add(&sh->violations, 1);
	int i = atomic_fetch_add(&sh->nmsg, 1);
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (i < 8)
		memcpy(sh->msg[i], buf, sizeof(buf));
	fprintf(stderr, "torture: VIOLATION: %s\n", buf);
}

/* ---- worker ---------------------------------------------------------------- */

struct guard {
	uint32_t magic, host;
	uint64_t pid, lver, seq;
	uint32_t mode;
};

struct worker {
	int id; /* 0-based; host_id = id + 1 */
	struct sm_lockspace *ls;
	struct sm_volume *vol;
	struct sm_resource_ref res[MAX_RES];
	int datafd;
	pthread_t renewer;
	atomic_bool renewer_stop;
	uint32_t in_doubt[MAX_RES];
	int n_in_doubt;
};

static unsigned rnd(unsigned n)
{
	return n ? (unsigned)random() % n : 0;
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
		if (rc == -SM_ELOCKSPACE_LOST) {
			atomic_fetch_add(&sh->lost, 1);
			break;
		}
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

static void check_table(struct worker *w, int r, int mode)
{
	atomic_store(&sh->holder[w->id][r], mode);
	for (int j = 0; j < opt.hosts; j++) {
		if (j == w->id)
			continue;
		int m = atomic_load(&sh->holder[j][r]);
		if ((mode == SM_MODE_EX && m) || (mode == SM_MODE_SH && m == SM_MODE_EX))
			violation("r%d: host %d holds %s while host %d holds %s", r, w->id + 1, sm_mode_name(mode), j + 1,
				  sm_mode_name(m));
	}
}

static void hold(struct worker *w, int r, const struct sm_lease *l)
{
	int rounds = 1 + (int)rnd(4);
	check_table(w, r, l->mode);
	if (l->mode == SM_MODE_EX) {
		struct guard mine = {GUARD_MAGIC, (uint32_t)w->id + 1, (uint64_t)getpid(), l->lver, 1, SM_MODE_EX};
		fence_check(w);
		write_guard(w, r, &mine);
		for (int k = 0; k < rounds; k++) {
			sm_sleep_ms(rnd(15));
			fence_check(w);
			struct guard g;
			read_guard(w, r, &g);
			atomic_fetch_add(&sh->checks, 1);
			if (memcmp(&g, &mine, sizeof(g)) != 0)
				violation("r%d: EX holder host %d (lver %llu) found host %u lver %llu seq %llu in its block",
					  r, w->id + 1, (unsigned long long)l->lver, g.host, (unsigned long long)g.lver,
					  (unsigned long long)g.seq);
			mine.seq++;
			write_guard(w, r, &mine);
		}
	} else {
		struct guard first;
		fence_check(w);
		read_guard(w, r, &first);
		for (int k = 0; k < rounds; k++) {
			sm_sleep_ms(rnd(15));
			fence_check(w);
			struct guard g;
			read_guard(w, r, &g);
			atomic_fetch_add(&sh->checks, 1);
			if (memcmp(&g, &first, sizeof(g)) != 0)
				violation("r%d: SH holder host %d saw host %u write (lver %llu seq %llu)", r, w->id + 1,
					  g.host, (unsigned long long)g.lver, (unsigned long long)g.seq);
		}
	}
	atomic_store(&sh->holder[w->id][r], 0);
	sm_debug("torture: done holding r%d", r);
}

static void maybe_inject_fault(void)
{
	if (!opt.faults)
		return;
	if (rnd(150) == 0) {
		static const enum sm_fault_kind kinds[] = {SM_FAULT_ERRNO, SM_FAULT_ERRNO, SM_FAULT_ERRNO,
							    SM_FAULT_HANG, SM_FAULT_SHORT};
		struct sm_fault_rule r = {.op = 1 + rnd(3), .kind = kinds[rnd(5)], .err = EIO, .nth = 1 + rnd(8),
					  .count = 1 + rnd(2)};
		sm_fault_clear();
		sm_fault_add(&r);
		sm_debug("torture: fault rule op %d kind %d nth %u count %u", (int)r.op, (int)r.kind, r.nth, r.count);
	}
	if (rnd(60) == 0) {
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
	else if (rc == -EIO || rc == -SM_EIO_TIMEOUT || rc == -SM_EIO_PENDING || rc == -SM_ESHORT_IO)
		atomic_fetch_add(&sh->io_err, 1);
	else
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
	if (sm_lockspace_open(opt.volume, 0, &w.ls) < 0 || sm_volume_open(opt.volume, 0, 0, &w.vol) < 0)
		return 2;
	char name[32];
	snprintf(name, sizeof(name), "torture-%d", id + 1);
	struct sm_join_opts jo = {.host_id = (uint32_t)id + 1, .host_name = name, .cancel = &stop};
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
	}
	for (int r = 0; r < opt.resources; r++) {
		char rn[16];
		snprintf(rn, sizeof(rn), "r%d", r);
		if (sm_resource_ref_init(&w.res[r], w.vol, rn) < 0)
			return 2;
	}
	w.datafd = open(opt.data, O_RDWR);
	if (w.datafd < 0)
		return 2;
	if (opt.faults)
		sm_fault_install(); /* after setup: joins and lookups run clean */
	pthread_create(&w.renewer, NULL, renew_thread, &w);

	struct sm_me me;
	sm_lockspace_me(w.ls, &me.host_id, &me.generation, NULL);
	struct sm_oracle live = sm_oracle_of(w.ls);
	while (!stop) {
		fence_check(&w);
		maybe_inject_fault();
		if (w.n_in_doubt && rnd(4) == 0)
			resolve_doubts(&w, &me, &live);
		int r = (int)rnd((unsigned)opt.resources);
		uint32_t mode = rnd(10) < 7 ? SM_MODE_EX : SM_MODE_SH;
		struct sm_acquire_opts o = {.mode = mode, .live = live};
		struct sm_lease l = {0};
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
			if (l.in_doubt)
				add_doubt(&w, r);
			sm_sleep_ms(rnd(10));
			continue;
		}
		atomic_fetch_add(mode == SM_MODE_EX ? &sh->ex_acq : &sh->sh_acq, 1);
		if (l.took_over_from)
			atomic_fetch_add(&sh->takeovers, 1);
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
		}
	}
	/* Clean stop: resolve what we can, leave. */
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
	struct sm_format_params p = {.lockspace = "torture", .max_hosts = (uint32_t)opt.hosts + 2,
				     .resources = (uint32_t)opt.resources, .io_timeout_ms = 250,
				     .watchdog_timeout_ms = 2000, .force = true, .resource_names = names,
				     .resource_name_count = (size_t)opt.resources};
	int rc = sm_volume_format(opt.volume, 0, &p, NULL);
	if (rc < 0) {
		fprintf(stderr, "torture: cannot format %s: %s\n", opt.volume, sm_strerror(rc));
		return -1;
	}
	int fd = open(opt.data, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, MAX_RES * BLOCK) < 0) {
		perror("torture: data file");
		return -1;
	}
	close(fd);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: sm_torture --volume PATH --data PATH [--hosts N] [--resources R] [--seconds S]\n"
			"                  [--faults] [--kill-every-ms MS] [--seed N] [--mutant] [--trace DIR]\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"volume", required_argument, NULL, 'v'}, {"data", required_argument, NULL, 'd'},
		{"hosts", required_argument, NULL, 'n'}, {"resources", required_argument, NULL, 'r'},
		{"seconds", required_argument, NULL, 's'}, {"faults", no_argument, NULL, 'f'},
		{"kill-every-ms", required_argument, NULL, 'k'}, {"seed", required_argument, NULL, 'S'},
		{"mutant", no_argument, NULL, 'M'}, {"trace", required_argument, NULL, 'T'}, {0}};
	opt = (struct opts){.hosts = 4, .resources = 3, .seconds = 20, .kill_every_ms = 2500,
			    .seed = (unsigned)getpid()};
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
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
		default: usage(); return 2;
		}
	}
	if (!opt.volume || !opt.data || opt.hosts < 2 || opt.hosts > MAX_WORKERS || opt.resources < 1 ||
	    opt.resources > MAX_RES) {
		usage();
		return 2;
	}
	sm_log_set_level(SM_LOG_ERROR);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || setup_files() < 0)
		return 2;
	srandom(opt.seed);
	printf("torture: %d hosts, %d resources, %u s, faults %s, kill every ~%u ms, seed %u%s\n", opt.hosts,
	       opt.resources, opt.seconds, opt.faults ? "on" : "off", opt.kill_every_ms, opt.seed,
	       opt.mutant ? ", MUTANT (no leases)" : "");
	fflush(stdout);

	pid_t pid[MAX_WORKERS];
	uint64_t restart_at[MAX_WORKERS] = {0};
	for (int i = 0; i < opt.hosts; i++)
		pid[i] = start_worker(i);
	uint64_t start = sm_now_mono_ms(), end = start + opt.seconds * 1000ull;
	uint64_t next_kill = start + opt.kill_every_ms / 2 + rnd(opt.kill_every_ms);
	unsigned kills = 0, restarts = 0, exits = 0;
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
					for (int r = 0; r < MAX_RES; r++)
						atomic_store(&sh->holder[i][r], 0);
					restart_at[i] = now + 100 + rnd(500);
				}
		}
		if (opt.kill_every_ms && now >= next_kill) {
			int i = (int)rnd((unsigned)opt.hosts);
			if (pid[i] > 0) {
				if (opt.trace)
					fprintf(stderr, "%llu parent: SIGKILL host %d pid %d\n",
						(unsigned long long)sm_now_mono_ms(), i + 1, (int)pid[i]);
				kill(pid[i], SIGKILL);
				waitpid(pid[i], NULL, 0);
				for (int r = 0; r < MAX_RES; r++)
					atomic_store(&sh->holder[i][r], 0);
				pid[i] = 0;
				kills++;
				restart_at[i] = now + 100 + rnd(1000);
			}
			next_kill = now + opt.kill_every_ms / 2 + rnd(opt.kill_every_ms);
		}
		for (int i = 0; i < opt.hosts; i++)
			if (pid[i] == 0 && restart_at[i] && now >= restart_at[i]) {
				pid[i] = start_worker(i);
				restarts++;
				restart_at[i] = 0;
			}
	}
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
	printf("torture: crashes: %u SIGKILLs, %llu fenced exits, %u restarts, %llu joins; takeovers from dead hosts: "
	       "%llu\n",
	       kills, (unsigned long long)sh->fenced, restarts, (unsigned long long)sh->joins,
	       (unsigned long long)sh->takeovers);
	printf("torture: faults: I/O errors seen %llu, other errors %llu, in doubt %llu (resolved %llu), lockspaces "
	       "lost %llu\n",
	       (unsigned long long)sh->io_err, (unsigned long long)sh->other_err, (unsigned long long)sh->in_doubt,
	       (unsigned long long)sh->resolved, (unsigned long long)sh->lost);
	printf("torture: guarded checks %llu, VIOLATIONS %llu\n", (unsigned long long)sh->checks,
	       (unsigned long long)sh->violations);
	(void)exits;
	if (opt.mutant)
		return sh->violations > 0 ? 1 : 0;
	if (sh->violations)
		return 1;
	if (acq < 50 || sh->checks < 100) {
		printf("torture: too little work done to prove anything\n");
		return 1;
	}
	return 0;
}
