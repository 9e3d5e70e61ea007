/*
 * smbench - benchmark client for sync_managerd, the counterpart of
 * bench/sanlock/slbench.c.
 *
 * Talks to the daemon selected by $SYNC_MANAGER_RUN_DIR through the public
 * client API (sm_conn_open / sm_register / sm_acquire / sm_release, and
 * sm_hosts from the admin API for the failover trace).  Each call is timed
 * inside this process with CLOCK_MONOTONIC around the library call, so no
 * fork/exec/CLI cost is included.
 *
 * Resources are "LOCKSPACE:r<i>" (named resources in the volume's index,
 * created when the volume was formatted).  One lease per call, exclusive.
 *
 * The process must run in the PID namespace of the daemon's (emulated) host,
 * because the daemon identifies a registering process by SO_PEERCRED.
 *
 * I/O: with -p DAEMON_PID the daemon's /proc/<pid>/io read_bytes and
 * write_bytes are sampled around each phase; -x TID (repeatable) subtracts
 * the given daemon threads (the lockspace renewal thread).  The pids are as
 * seen by the /proc this process reads (bench/measure.sh enters only the
 * host's PID namespace, not its mount namespace, so those are the outer
 * pids).
 *
 * Output: "metric value unit" lines on stdout (bench/measure.sh prefixes
 * them with "ours."), diagnostics on stderr.
 *
 * Build: gcc -O2 -std=gnu11 -Iinclude -Isrc bench/smbench.c \
 *            build/libsync_manager_client.a build/libsm_core.a -laio -lpthread
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sync_manager/admin.h"
#include "sync_manager/client.h"
#include "sync_manager/errors.h"

static const char *opt_ls = "bench";
static long opt_n = 1;
static long opt_first;
static long opt_clients = 1;
static long opt_warmup = 10;
static long opt_poll_ms = 100;
static long opt_timeout_s = 600;
static long opt_owner = 1;
static pid_t opt_daemon_pid;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(sm_conn *c, const char *what, int rv)
{
	fprintf(stderr, "smbench: %s failed: %d %s (%s)\n", what, rv, sm_errname(rv),
		c && sm_conn_message(c)[0] ? sm_conn_message(c) : sm_strerror(rv));
	exit(1);
}

static void make_res(long idx, struct sm_resource *r)
{
	char spec[160];
	snprintf(spec, sizeof(spec), "%s:r%ld", opt_ls, idx);
	int rv = sm_resource_parse(spec, r);
	if (rv < 0)
		die(NULL, "sm_resource_parse", rv);
	r->mode = SM_EXCLUSIVE;
}

/* Open a connection and register this process on it. */
static sm_conn *connect_registered(const char *name)
{
	sm_conn *c;
	int rv = sm_conn_open(&c);
	if (rv < 0)
		die(NULL, "sm_conn_open", rv);
	rv = sm_register(c, name, 0);
	if (rv < 0)
		die(c, "sm_register", rv);
	return c;
}

/* ---- /proc/<pid>/io ---- */

struct iost {
	unsigned long long rb, wb;
};

static int read_io_file(const char *p, struct iost *st)
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

/* Bytes the daemon (all threads) read/wrote minus the excluded threads'. */
static pid_t opt_exclude_tid[16];
static int opt_exclude_n;

static int read_io(pid_t pid, struct iost *st)
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

/* CPU seconds (utime + stime) of the daemon process, or of one of its
 * threads (the event loop thread has tid == pid). */
static double cpu_of(const char *path)
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

static void read_cpu(pid_t pid, struct cpust *c)
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

/* ---- statistics (same definitions as slbench) ---- */

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const double *v, long n, double p)
{
	if (n <= 0)
		return 0;
	return v[(long)(p * (double)(n - 1) + 0.5)];
}

static void print_stats(const char *name, double *v, long n)
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

/* ---- latency: N timed acquire+release cycles of one free lease ---- */

static int cmd_latency(void)
{
	struct sm_resource r;
	double *acq = calloc((size_t)opt_n, sizeof(double));
	double *rel = calloc((size_t)opt_n, sizeof(double));
	double *cyc = calloc((size_t)opt_n, sizeof(double));
	struct iost io0, io1;
	int rv;

	if (!acq || !rel || !cyc)
		die(NULL, "calloc", -ENOMEM);
	make_res(opt_first, &r);
	sm_conn *c = connect_registered("smbench-latency");
	for (long i = 0; i < opt_warmup; i++) {
		if ((rv = sm_acquire(c, 0, &r, 1, 0, NULL)) < 0)
			die(c, "sm_acquire (warmup)", rv);
		if ((rv = sm_release(c, 0, &r, 1)) < 0)
			die(c, "sm_release (warmup)", rv);
	}
	read_io(opt_daemon_pid, &io0);
	double tstart = now_s();
	for (long i = 0; i < opt_n; i++) {
		double t0 = now_s();
		rv = sm_acquire(c, 0, &r, 1, 0, NULL);
		double t1 = now_s();
		if (rv < 0)
			die(c, "sm_acquire", rv);
		rv = sm_release(c, 0, &r, 1);
		double t2 = now_s();
		if (rv < 0)
			die(c, "sm_release", rv);
		acq[i] = t1 - t0;
		rel[i] = t2 - t1;
		cyc[i] = t2 - t0;
	}
	double tend = now_s();
	read_io(opt_daemon_pid, &io1);
	printf("latency_iterations %ld count\n", opt_n);
	print_stats("acquire_latency", acq, opt_n);
	print_stats("release_latency", rel, opt_n);
	print_stats("acquire_release_latency", cyc, opt_n);
	printf("latency_window %.3f s\n", tend - tstart);
	if (opt_daemon_pid) {
		printf("latency_window_read_bytes %llu B\n", io1.rb - io0.rb);
		printf("latency_window_write_bytes %llu B\n", io1.wb - io0.wb);
	}
	/* A request the event loop answers by itself (no disk, no worker):
	 * the client library + socket + loop cost that every call pays. */
	for (long i = 0; i < opt_n; i++) {
		struct sm_lease_info *li = NULL;
		double t0 = now_s();
		rv = sm_inquire(c, 0, &li);
		acq[i] = now_s() - t0;
		free(li);
		if (rv < 0)
			die(c, "sm_inquire", rv);
	}
	print_stats("inquire_latency", acq, opt_n);
	sm_conn_close(c);
	return 0;
}

/* ---- tput: C client processes acquire N leases, then release them ---- */

struct shared {
	int fail;
	double lat[]; /* opt_n acquire latencies, then opt_n release latencies */
};

static void xread_n(int fd, long n)
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

static void wait_eof(int fd)
{
	char ch;
	ssize_t k;
	while ((k = read(fd, &ch, 1)) != 0)
		if (k < 0 && errno != EINTR)
			return;
}

static void client_main(struct shared *sh, long lo, long hi, int ready_w, int go_acq_r, int done_acq_w,
			int go_rel_r, int done_rel_w)
{
	struct sm_resource *rs = calloc((size_t)(hi - lo + 1), sizeof(*rs));
	sm_conn *c = NULL;
	int rv;
	if (!rs)
		_exit(1);
	for (long i = lo; i < hi; i++)
		make_res(opt_first + i, &rs[i - lo]);
	if ((rv = sm_conn_open(&c)) < 0 || (rv = sm_register(c, "smbench-tput", 0)) < 0) {
		fprintf(stderr, "smbench: connect/register failed: %d %s\n", rv, sm_strerror(rv));
		sh->fail = 1;
	}
	if (write(ready_w, "r", 1) != 1)
		_exit(1);
	wait_eof(go_acq_r);
	for (long i = lo; i < hi && !sh->fail; i++) {
		double a = now_s();
		rv = sm_acquire(c, 0, &rs[i - lo], 1, 0, NULL);
		sh->lat[i] = now_s() - a;
		if (rv < 0) {
			fprintf(stderr, "smbench: acquire r%ld failed: %d %s\n", opt_first + i, rv, sm_conn_message(c));
			sh->fail = 1;
		}
	}
	if (write(done_acq_w, "a", 1) != 1)
		_exit(1);
	wait_eof(go_rel_r);
	for (long i = lo; i < hi && !sh->fail; i++) {
		double a = now_s();
		rv = sm_release(c, 0, &rs[i - lo], 1);
		sh->lat[opt_n + i] = now_s() - a;
		if (rv < 0) {
			fprintf(stderr, "smbench: release r%ld failed: %d %s\n", opt_first + i, rv, sm_conn_message(c));
			sh->fail = 1;
		}
	}
	if (write(done_rel_w, "d", 1) != 1)
		_exit(1);
	sm_conn_close(c);
	_exit(sh->fail ? 1 : 0);
}

static int cmd_tput(void)
{
	int ready[2], go_acq[2], done_acq[2], go_rel[2], done_rel[2];
	size_t shsz = sizeof(struct shared) + 2 * (size_t)opt_n * sizeof(double);
	struct iost io0, io1, io2;
	struct cpust c0, c1, c2;
	int status, bad = 0;

	struct shared *sh = mmap(NULL, shsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die(NULL, "mmap", -errno);
	if (pipe(ready) || pipe(go_acq) || pipe(done_acq) || pipe(go_rel) || pipe(done_rel))
		die(NULL, "pipe", -errno);
	pid_t *kids = calloc((size_t)opt_clients, sizeof(pid_t));
	long per = (opt_n + opt_clients - 1) / opt_clients;

	for (long c = 0; c < opt_clients; c++) {
		long lo = c * per, hi = lo + per > opt_n ? opt_n : lo + per;
		pid_t p = fork();
		if (p < 0)
			die(NULL, "fork", -errno);
		if (p == 0) {
			close(go_acq[1]);
			close(go_rel[1]);
			client_main(sh, lo, hi, ready[1], go_acq[0], done_acq[1], go_rel[0], done_rel[1]);
		}
		kids[c] = p;
	}
	close(ready[1]);
	close(done_acq[1]);
	close(done_rel[1]);
	close(go_acq[0]);
	close(go_rel[0]);

	xread_n(ready[0], opt_clients);
	read_io(opt_daemon_pid, &io0);
	read_cpu(opt_daemon_pid, &c0);
	double t0 = now_s();
	close(go_acq[1]); /* start the acquire phase */
	xread_n(done_acq[0], opt_clients);
	double t1 = now_s();
	read_io(opt_daemon_pid, &io1);
	read_cpu(opt_daemon_pid, &c1);
	double s0 = now_s();
	close(go_rel[1]); /* start the release phase */
	xread_n(done_rel[0], opt_clients);
	double t2 = now_s();
	read_io(opt_daemon_pid, &io2);
	read_cpu(opt_daemon_pid, &c2);

	for (long c = 0; c < opt_clients; c++)
		if (waitpid(kids[c], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad = 1;
	if (bad || sh->fail) {
		fprintf(stderr, "smbench: tput failed\n");
		return 1;
	}
	printf("leases %ld count\n", opt_n);
	printf("clients %ld count\n", opt_clients);
	printf("acquire_phase %.3f s\n", t1 - t0);
	printf("release_phase %.3f s\n", t2 - s0);
	printf("acquire_rate %.1f leases/s\n", (double)opt_n / (t1 - t0));
	printf("release_rate %.1f leases/s\n", (double)opt_n / (t2 - s0));
	printf("acquire_release_rate %.1f leases/s\n", (double)opt_n / ((t1 - t0) + (t2 - s0)));
	print_stats("acquire_latency", sh->lat, opt_n);
	print_stats("release_latency", sh->lat + opt_n, opt_n);
	if (opt_daemon_pid) {
		printf("acquire_phase_read_bytes %llu B\n", io1.rb - io0.rb);
		printf("acquire_phase_write_bytes %llu B\n", io1.wb - io0.wb);
		printf("release_phase_read_bytes %llu B\n", io2.rb - io1.rb);
		printf("release_phase_write_bytes %llu B\n", io2.wb - io1.wb);
		/* CPU the daemon used per operation: all threads, and its event
		 * loop thread alone (which serializes request handling) */
		printf("acquire_daemon_cpu %.1f us/op\n", (c1.all - c0.all) / (double)opt_n * 1e6);
		printf("acquire_loop_cpu %.1f us/op\n", (c1.loop - c0.loop) / (double)opt_n * 1e6);
		printf("release_daemon_cpu %.1f us/op\n", (c2.all - c1.all) / (double)opt_n * 1e6);
		printf("release_loop_cpu %.1f us/op\n", (c2.loop - c1.loop) / (double)opt_n * 1e6);
	}
	return 0;
}

/* ---- hold: register, acquire N leases, hold them until stdin closes ---- */

static int cmd_hold(void)
{
	struct sm_resource r;
	int rv;
	sm_conn *c = connect_registered("smbench-hold");
	double t0 = now_s();
	for (long i = 0; i < opt_n; i++) {
		make_res(opt_first + i, &r);
		if ((rv = sm_acquire(c, 0, &r, 1, 0, NULL)) < 0)
			die(c, "sm_acquire", rv);
	}
	/* the pid as the daemon sees it (this PID namespace): for the CLI */
	printf("HELD %ld %.3f pid %d\n", opt_n, now_s() - t0, (int)getpid());
	fflush(stdout);
	char buf[256];
	for (;;) {
		ssize_t k = read(0, buf, sizeof(buf));
		if (k > 0 || (k < 0 && errno == EINTR))
			continue;
		break;
	}
	double t1 = now_s();
	rv = sm_release(c, 0, NULL, 0); /* all of this process's leases */
	if (rv < 0 && opt_n > 0)
		fprintf(stderr, "smbench: release all: %d %s\n", rv, sm_conn_message(c));
	printf("RELEASED %ld %.3f\n", opt_n, now_s() - t1);
	sm_conn_close(c);
	return 0;
}

/* ---- failover: poll acquire of a lease another host held until it succeeds ---- */

static const char *owner_state(sm_conn *c, char *buf, size_t len)
{
	struct sm_report *rep = NULL;
	snprintf(buf, len, "?");
	if (sm_hosts(c, opt_ls, &rep) < 0)
		return buf;
	const struct sm_section *s = sm_report_section(rep, "hosts");
	for (int i = 0; s && i < s->nrecords; i++) {
		const struct sm_field *id = sm_record_field(&s->records[i], "host_id");
		const struct sm_field *st = sm_record_field(&s->records[i], "state");
		if (id && st && (long)id->u64 == opt_owner)
			snprintf(buf, len, "%s", st->str);
	}
	sm_report_free(rep);
	return buf;
}

/*
 * Registers, checks that the lease is refused (held by the other host),
 * prints "READY", then waits for one line on stdin: the caller kills the
 * owner's daemon and writes that line right after.  From then on it calls
 * sm_acquire every poll_ms until it succeeds, tracing the owner host's
 * liveness as this host's daemon reports it.
 */
static int cmd_failover(void)
{
	struct sm_resource r;
	char st[256], prev_st[256] = "", line[256];
	double t_fail = -1, t_dead = -1, t_acq = -1, call_dur = -1;
	long attempts = 0;
	int rv, last_rv = 0;

	make_res(opt_first, &r);
	sm_conn *c = connect_registered("smbench-failover");
	rv = sm_acquire(c, 0, &r, 1, 0, NULL);
	if (rv == 0) {
		fprintf(stderr, "smbench: %s:r%ld was not held by the other host\n", opt_ls, opt_first);
		return 1;
	}
	snprintf(line, sizeof(line), "%s", sm_conn_message(c));
	fprintf(stderr, "smbench: before the kill: acquire rv=%d %s (%s); owner host %ld is %s\n", rv,
		sm_errname(rv), line, opt_owner, owner_state(c, st, sizeof(st)));
	printf("READY\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin)) {
		fprintf(stderr, "smbench: no start signal\n");
		return 1;
	}
	double t0 = now_s();
	for (;;) {
		double t = now_s();
		if (t - t0 > (double)opt_timeout_s)
			break;
		owner_state(c, st, sizeof(st));
		if (strcmp(st, prev_st) != 0) {
			fprintf(stderr, "smbench: t=%.2f owner host %ld state %s\n", t - t0, opt_owner, st);
			snprintf(prev_st, sizeof(prev_st), "%s", st);
		}
		if (!strcmp(st, "failing") && t_fail < 0)
			t_fail = t - t0;
		if (!strcmp(st, "dead") && t_dead < 0)
			t_dead = t - t0;
		attempts++;
		double a = now_s();
		rv = sm_acquire(c, 0, &r, 1, 0, NULL);
		double b = now_s();
		if (rv != last_rv)
			fprintf(stderr, "smbench: t=%.2f acquire rv=%d %s (call %.3f s) %s\n", b - t0, rv,
				rv ? sm_errname(rv) : "ok", b - a, rv ? sm_conn_message(c) : "");
		last_rv = rv;
		if (rv == 0) {
			t_acq = b - t0;
			call_dur = b - a;
			break;
		}
		usleep((useconds_t)opt_poll_ms * 1000);
	}
	printf("failover_time %.3f s\n", t_acq);
	printf("failover_owner_fail_state %.3f s\n", t_fail);
	printf("failover_owner_dead_state %.3f s\n", t_dead);
	printf("failover_attempts %ld count\n", attempts);
	printf("failover_final_acquire_call %.3f s\n", call_dur);
	if (t_acq >= 0)
		sm_release(c, 0, &r, 1);
	sm_conn_close(c);
	return t_acq >= 0 ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: smbench CMD [-l LOCKSPACE] [options]   (resources are LOCKSPACE:r<i>)\n"
		"  latency   -n ITERS [-i IDX] [-w WARMUP] [-p DAEMON_PID [-x TID]...]\n"
		"  tput      -n LEASES -c CLIENTS [-i FIRST] [-p DAEMON_PID [-x TID]...]\n"
		"  hold      -n COUNT [-i FIRST]          hold leases until stdin closes\n"
		"  failover  [-i IDX] [-O OWNER_HOSTID] [-P POLL_MS] [-t TIMEOUT_S]\n"
		"            (prints READY, starts polling after one line on stdin)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int o;
	if (argc < 2)
		usage();
	const char *cmd = argv[1];
	optind = 2;
	while ((o = getopt(argc, argv, "l:n:i:c:w:p:P:t:O:x:")) != -1) {
		switch (o) {
		case 'l': opt_ls = optarg; break;
		case 'n': opt_n = atol(optarg); break;
		case 'i': opt_first = atol(optarg); break;
		case 'c': opt_clients = atol(optarg); break;
		case 'w': opt_warmup = atol(optarg); break;
		case 'p': opt_daemon_pid = atoi(optarg); break;
		case 'P': opt_poll_ms = atol(optarg); break;
		case 't': opt_timeout_s = atol(optarg); break;
		case 'O': opt_owner = atol(optarg); break;
		case 'x':
			if (opt_exclude_n < 16)
				opt_exclude_tid[opt_exclude_n++] = atoi(optarg);
			break;
		default: usage();
		}
	}
	if (opt_n < 0 || opt_clients < 1)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(cmd, "latency"))
		return opt_n > 0 ? cmd_latency() : 2;
	if (!strcmp(cmd, "tput"))
		return opt_n > 0 ? cmd_tput() : 2;
	if (!strcmp(cmd, "hold"))
		return cmd_hold();
	if (!strcmp(cmd, "failover"))
		return cmd_failover();
	usage();
	return 2;
}
