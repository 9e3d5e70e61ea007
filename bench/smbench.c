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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "sync_manager/admin.h"
#include "sync_manager/client.h"
#include "sync_manager/errors.h"

#define BENCH_PROG "smbench"
#include "benchutil.h" /* options, timing, /proc sampling, output, tput */

static const char *opt_ls = "bench";

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
	print_latency(acq, rel, cyc, tend - tstart, &io0, &io1);
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

/* the client process's connection and its slice [tput_lo, ...) of leases */
static sm_conn *tput_conn;
static struct sm_resource *tput_res;
static long tput_lo;

static int tput_setup(long lo, long hi)
{
	int rv;
	tput_res = calloc((size_t)(hi - lo + 1), sizeof(*tput_res));
	if (!tput_res)
		_exit(1);
	tput_lo = lo;
	for (long i = lo; i < hi; i++)
		make_res(opt_first + i, &tput_res[i - lo]);
	if ((rv = sm_conn_open(&tput_conn)) < 0 || (rv = sm_register(tput_conn, "smbench-tput", 0)) < 0) {
		fprintf(stderr, "smbench: connect/register failed: %d %s\n", rv, sm_strerror(rv));
		return -1;
	}
	return 0;
}

static int tput_acquire(long i)
{
	return sm_acquire(tput_conn, 0, &tput_res[i - tput_lo], 1, 0, NULL);
}

static int tput_release(long i)
{
	return sm_release(tput_conn, 0, &tput_res[i - tput_lo], 1);
}

static void tput_failed(const char *op, long i, int rv)
{
	fprintf(stderr, "smbench: %s r%ld failed: %d %s\n", op, opt_first + i, rv, sm_conn_message(tput_conn));
}

static void tput_teardown(void)
{
	sm_conn_close(tput_conn);
}

static int cmd_tput(void)
{
	static const struct tput_ops ops = {
		.setup = tput_setup,
		.acquire = tput_acquire,
		.release = tput_release,
		.failed = tput_failed,
		.teardown = tput_teardown,
		.daemon_cpu = 1,
	};
	return run_tput(&ops);
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
	print_failover(t_acq, t_fail, t_dead, attempts, call_dur);
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
	while ((o = getopt(argc, argv, "l:" BENCH_COMMON_OPTS)) != -1) {
		if (o == 'l')
			opt_ls = optarg;
		else if (!bench_option(o, optarg))
			usage();
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
