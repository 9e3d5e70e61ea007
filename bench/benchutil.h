/*
 * benchutil.h - what the two benchmark clients share: bench/smbench.c
 * (sync_managerd) and bench/sanlock/slbench.c (Debian's sanlock).  Keeping
 * it in one place keeps both sides timing, sampling and printing exactly
 * the same way, which is what makes their figures comparable.
 *
 * Header only: every definition is static, and each client includes it from
 * its one .c file.  Define BENCH_PROG (the program name that starts every
 * diagnostic, e.g. "smbench") and _GNU_SOURCE before including it.
 *
 *   options      the options both clients take (-n -i -c -w -p -P -t -O -x),
 *                as opt_* globals; bench_option() parses them
 *   now_s()      CLOCK_MONOTONIC in seconds: every timing is taken with it
 *   read_io()    the daemon's /proc/<pid>/io read_bytes/write_bytes minus
 *                the threads given with -x (the lockspace renewal thread)
 *   read_cpu()   the daemon's CPU time: all threads, and thread tid == pid
 *   print_*()    the "metric value unit" lines of the latency, tput and
 *                failover subcommands (statistics: median, p99, mean, min)
 *   run_tput()   the tput subcommand: C forked client processes acquire
 *                opt_n leases, then release them, in two timed phases;
 *                the client library calls come from struct tput_ops
 *
 * The client-specific parts (the library calls, resource names, error
 * texts) stay in the two .c files.
 */
#ifndef BENCHUTIL_H
#define BENCHUTIL_H

#ifndef BENCH_PROG
#error "define BENCH_PROG before including benchutil.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- options common to both clients ---- */

/* getopt() letters handled by bench_option(); append the client's own */
#define BENCH_COMMON_OPTS "n:i:c:w:p:P:t:O:x:"
#define BENCH_MAX_EXCLUDE 16

static long opt_n = 1;          /* -n: iterations / leases / count */
static long opt_first;          /* -i: first resource index (r<i>) */
static long opt_clients = 1;    /* -c: tput client processes */
static long opt_warmup = 10;    /* -w: untimed latency warm-up cycles */
static long opt_poll_ms = 100;  /* -P: failover acquire poll period */
static long opt_timeout_s = 600; /* -t: failover gives up after this */
static long opt_owner = 1;      /* -O: failover: host_id of the lease owner */
static pid_t opt_daemon_pid;    /* -p: daemon pid for /proc sampling (0: none) */
static pid_t opt_exclude_tid[BENCH_MAX_EXCLUDE]; /* -x: daemon threads left out of I/O */
static int opt_exclude_n;

/* Handle option O (argument ARG) if it is a common one: 1 if it was. */
static inline int bench_option(int o, const char *arg)
{
	switch (o) {
	case 'n': opt_n = atol(arg); break;
	case 'i': opt_first = atol(arg); break;
	case 'c': opt_clients = atol(arg); break;
	case 'w': opt_warmup = atol(arg); break;
	case 'p': opt_daemon_pid = atoi(arg); break;
	case 'P': opt_poll_ms = atol(arg); break;
	case 't': opt_timeout_s = atol(arg); break;
	case 'O': opt_owner = atol(arg); break;
	case 'x':
		if (opt_exclude_n < BENCH_MAX_EXCLUDE)
			opt_exclude_tid[opt_exclude_n++] = atoi(arg);
		break;
	default: return 0;
	}
	return 1;
}

static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A system call the harness needs failed: say so and exit 1. */
static inline void bench_die_errno(const char *what)
{
	int e = errno;
	fprintf(stderr, BENCH_PROG ": %s failed: %d (%s)\n", what, -e, strerror(e));
	exit(1);
}

/* ---- /proc/<pid>/io ---- */

struct iost {
	unsigned long long rb, wb;
};

static inline int read_io_file(const char *p, struct iost *st)
{
	char line[256];
	FILE *f = fopen(p, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "read_bytes: %llu", &st->rb);
		sscanf(line, "write_bytes: %llu", &st->wb);
	}
	fclose(f);
	return 0;
}

/*
 * Bytes the daemon process read/wrote (all threads, /proc/<pid>/io) minus
 * what the excluded threads did (-x: the lockspace renewal thread, whose
 * delta-lease renewals are not part of the operation being measured).
 */
static inline int read_io(pid_t pid, struct iost *st)
{
	char p[96];
	struct iost t;
	memset(st, 0, sizeof(*st));
	if (!pid)
		return -1;
	snprintf(p, sizeof(p), "/proc/%d/io", (int)pid);
	if (read_io_file(p, st) < 0)
		return -1;
	for (int i = 0; i < opt_exclude_n; i++) {
		memset(&t, 0, sizeof(t));
		snprintf(p, sizeof(p), "/proc/%d/task/%d/io", (int)pid, (int)opt_exclude_tid[i]);
		if (read_io_file(p, &t) == 0) {
			st->rb -= t.rb;
			st->wb -= t.wb;
		}
	}
	return 0;
}

/* ---- CPU time of the daemon ---- */

/* utime + stime in seconds from a /proc stat file (0 if unreadable) */
static inline double cpu_of(const char *path)
{
	char buf[1024];
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* comm may contain spaces */
	unsigned long long ut = 0, st = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

struct cpust {
	double all, loop;
};

/* CPU seconds of the whole daemon process and of its thread tid == pid
 * (sync_managerd's event loop thread). */
static inline void read_cpu(pid_t pid, struct cpust *c)
{
	char p[96];
	c->all = c->loop = 0;
	if (!pid)
		return;
	snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
	c->all = cpu_of(p);
	snprintf(p, sizeof(p), "/proc/%d/task/%d/stat", (int)pid, (int)pid);
	c->loop = cpu_of(p);
}

/* ---- statistics and output ---- */

static inline int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* P-quantile of the sorted V[0..N-1], nearest rank */
static inline double pct(const double *v, long n, double p)
{
	if (n <= 0)
		return 0;
	return v[(long)(p * (double)(n - 1) + 0.5)];
}

/* NAME_median/_p99/_mean/_min in us of the N durations V (seconds; sorted in place) */
static inline void print_stats(const char *name, double *v, long n)
{
	double sum = 0;
	qsort(v, (size_t)n, sizeof(double), cmp_d);
	for (long i = 0; i < n; i++)
		sum += v[i];
	printf("%s_median %.1f us\n", name, pct(v, n, 0.5) * 1e6);
	printf("%s_p99 %.1f us\n", name, pct(v, n, 0.99) * 1e6);
	printf("%s_mean %.1f us\n", name, n ? sum / (double)n * 1e6 : 0);
	printf("%s_min %.1f us\n", name, n ? v[0] * 1e6 : 0);
}

/*
 * The result of "latency": opt_n acquire+release cycles of one lease, their
 * acquire, release and whole-cycle durations, the wall time of the timed
 * loop and the daemon's I/O before and after it.
 */
static inline void print_latency(double *acq, double *rel, double *cyc, double window, const struct iost *io0,
				 const struct iost *io1)
{
	printf("latency_iterations %ld count\n", opt_n);
	print_stats("acquire_latency", acq, opt_n);
	print_stats("release_latency", rel, opt_n);
	print_stats("acquire_release_latency", cyc, opt_n);
	printf("latency_window %.3f s\n", window);
	if (opt_daemon_pid) {
		printf("latency_window_read_bytes %llu B\n", io1->rb - io0->rb);
		printf("latency_window_write_bytes %llu B\n", io1->wb - io0->wb);
	}
}

/*
 * The result of "failover", times in seconds after the owner's daemon was
 * killed (-1: not seen): the acquire that succeeded, the owner host first
 * reported failing and dead, the number of acquire calls and how long the
 * successful one took.
 */
static inline void print_failover(double t_acq, double t_fail, double t_dead, long attempts, double call_dur)
{
	printf("failover_time %.3f s\n", t_acq);
	printf("failover_owner_fail_state %.3f s\n", t_fail);
	printf("failover_owner_dead_state %.3f s\n", t_dead);
	printf("failover_attempts %ld count\n", attempts);
	printf("failover_final_acquire_call %.3f s\n", call_dur);
}

/* ---- tput: opt_clients processes acquire opt_n leases, then release them ---- */

/*
 * The client library side of run_tput().  Lease i (0 <= i < opt_n) is
 * resource r<opt_first + i>; each client process gets a contiguous slice
 * [lo, hi) of them.  Each acquire/release call is timed by run_tput().
 */
struct tput_ops {
	/* in the client process: prepare the leases of [lo, hi) and connect;
	 * 0, or -1 after printing why */
	int (*setup)(long lo, long hi);
	/* acquire / release lease i; the library's return value (< 0: failed) */
	int (*acquire)(long i);
	int (*release)(long i);
	/* print why OP ("acquire" or "release") of lease i failed with RV */
	void (*failed)(const char *op, long i, int rv);
	/* optional: disconnect before the client process exits */
	void (*teardown)(void);
	/* also sample the daemon's CPU time (read_cpu) and print it per op */
	int daemon_cpu;
};

/* Shared (MAP_SHARED) between run_tput() and its client processes. */
struct tput_shared {
	int fail;
	double lat[]; /* opt_n acquire latencies, then opt_n release latencies */
};

/* read N bytes (tokens) from FD */
static inline void xread_n(int fd, long n)
{
	char ch;
	while (n > 0) {
		ssize_t k = read(fd, &ch, 1);
		if (k == 1)
			n--;
		else if (k == 0 || errno != EINTR)
			return;
	}
}

/* block until the write end of FD is closed (the start signal of a phase) */
static inline void wait_eof(int fd)
{
	char ch;
	ssize_t k;
	while ((k = read(fd, &ch, 1)) != 0)
		if (k < 0 && errno != EINTR)
			return;
}

/* one phase of a client process: time OP on each lease of [lo, hi) */
static inline void tput_client_phase(const struct tput_ops *ops, struct tput_shared *sh, long lo, long hi, int rel)
{
	int (*op)(long) = rel ? ops->release : ops->acquire;
	double *lat = sh->lat + (rel ? opt_n : 0);
	for (long i = lo; i < hi && !sh->fail; i++) {
		double a = now_s();
		int rv = op(i);
		lat[i] = now_s() - a;
		if (rv < 0) {
			ops->failed(rel ? "release" : "acquire", i, rv);
			sh->fail = 1;
		}
	}
}

static inline void tput_client(const struct tput_ops *ops, struct tput_shared *sh, long lo, long hi, int ready_w,
			       int go_acq_r, int done_acq_w, int go_rel_r, int done_rel_w)
{
	if (ops->setup(lo, hi) < 0)
		sh->fail = 1;
	if (write(ready_w, "r", 1) != 1)
		_exit(1);
	wait_eof(go_acq_r);
	tput_client_phase(ops, sh, lo, hi, 0);
	if (write(done_acq_w, "a", 1) != 1)
		_exit(1);
	wait_eof(go_rel_r);
	tput_client_phase(ops, sh, lo, hi, 1);
	if (write(done_rel_w, "d", 1) != 1)
		_exit(1);
	if (ops->teardown)
		ops->teardown();
	_exit(sh->fail ? 1 : 0);
}

/* the daemon's I/O (and CPU) counters at a phase boundary */
static inline void tput_sample(const struct tput_ops *ops, struct iost *io, struct cpust *cpu)
{
	read_io(opt_daemon_pid, io);
	if (ops->daemon_cpu)
		read_cpu(opt_daemon_pid, cpu);
}

/* start a phase (close its go pipe), wait until every client is done with
 * it (has written to DONE_R): its wall time */
static inline double tput_phase(int go_w, int done_r)
{
	double t0 = now_s();
	close(go_w);
	xread_n(done_r, opt_clients);
	return now_s() - t0;
}

/*
 * Fork opt_clients client processes, let them all connect, then time the
 * acquire phase (all clients acquire their slice) and the release phase;
 * the daemon's I/O (and CPU) is sampled between the phases.  Prints the
 * "metric value unit" lines; 0, or 1 if any client failed.
 */
static inline int run_tput(const struct tput_ops *ops)
{
	int ready[2], go_acq[2], done_acq[2], go_rel[2], done_rel[2];
	size_t shsz = sizeof(struct tput_shared) + 2 * (size_t)opt_n * sizeof(double);
	struct iost io0, io1, io2;
	struct cpust c0 = {0, 0}, c1 = {0, 0}, c2 = {0, 0};
	double acq_s, rel_s; /* phase wall times */
	int status, bad = 0;

	struct tput_shared *sh = mmap(NULL, shsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bench_die_errno("mmap");
	if (pipe(ready) || pipe(go_acq) || pipe(done_acq) || pipe(go_rel) || pipe(done_rel))
		bench_die_errno("pipe");
	pid_t *kids = calloc((size_t)opt_clients, sizeof(pid_t));
	if (!kids)
		bench_die_errno("calloc");
	long per = (opt_n + opt_clients - 1) / opt_clients;

	for (long c = 0; c < opt_clients; c++) {
		long lo = c * per, hi = lo + per > opt_n ? opt_n : lo + per;
		pid_t p = fork();
		if (p < 0)
			bench_die_errno("fork");
		if (p == 0) {
			close(go_acq[1]);
			close(go_rel[1]);
			tput_client(ops, sh, lo, hi, ready[1], go_acq[0], done_acq[1], go_rel[0], done_rel[1]);
		}
		kids[c] = p;
	}
	close(ready[1]);
	close(done_acq[1]);
	close(done_rel[1]);
	close(go_acq[0]);
	close(go_rel[0]);

	xread_n(ready[0], opt_clients); /* all clients connected */
	tput_sample(ops, &io0, &c0);
	acq_s = tput_phase(go_acq[1], done_acq[0]);
	tput_sample(ops, &io1, &c1);
	rel_s = tput_phase(go_rel[1], done_rel[0]);
	tput_sample(ops, &io2, &c2);

	for (long c = 0; c < opt_clients; c++)
		if (waitpid(kids[c], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad = 1;
	if (bad || sh->fail) {
		fprintf(stderr, BENCH_PROG ": tput failed\n");
		return 1;
	}
	printf("leases %ld count\n", opt_n);
	printf("clients %ld count\n", opt_clients);
	printf("acquire_phase %.3f s\n", acq_s);
	printf("release_phase %.3f s\n", rel_s);
	printf("acquire_rate %.1f leases/s\n", (double)opt_n / acq_s);
	printf("release_rate %.1f leases/s\n", (double)opt_n / rel_s);
	printf("acquire_release_rate %.1f leases/s\n", (double)opt_n / (acq_s + rel_s));
	print_stats("acquire_latency", sh->lat, opt_n);
	print_stats("release_latency", sh->lat + opt_n, opt_n);
	if (opt_daemon_pid) {
		printf("acquire_phase_read_bytes %llu B\n", io1.rb - io0.rb);
		printf("acquire_phase_write_bytes %llu B\n", io1.wb - io0.wb);
		printf("release_phase_read_bytes %llu B\n", io2.rb - io1.rb);
		printf("release_phase_write_bytes %llu B\n", io2.wb - io1.wb);
	}
	if (opt_daemon_pid && ops->daemon_cpu) {
		/* CPU the daemon used per operation: all threads, and its event
		 * loop thread alone (which serializes request handling) */
		printf("acquire_daemon_cpu %.1f us/op\n", (c1.all - c0.all) / (double)opt_n * 1e6);
		printf("acquire_loop_cpu %.1f us/op\n", (c1.loop - c0.loop) / (double)opt_n * 1e6);
		printf("release_daemon_cpu %.1f us/op\n", (c2.all - c1.all) / (double)opt_n * 1e6);
		printf("release_loop_cpu %.1f us/op\n", (c2.loop - c1.loop) / (double)opt_n * 1e6);
	}
	return 0;
}

#endif /* BENCHUTIL_H */
