/*
 * slbench - tiny benchmark client for Debian's real sanlock daemon.
 *
 * Talks to the daemon selected by $SANLOCK_RUN_DIR (libsanlock reads it)
 * through the public libsanlock API (sanlock_register / sanlock_acquire /
 * sanlock_release / sanlock_add_lockspace_timeout ...).  Per-operation
 * latency is measured inside this process with CLOCK_MONOTONIC around each
 * library call, so no fork/exec/CLI overhead is included.
 *
 * Disk layout used by every subcommand (512-byte sectors, 1 MiB align):
 *   offset 0                 lockspace LS (delta leases, 1 MiB)
 *   offset (1 + i) * 1 MiB   resource "r<i>" (paxos lease, 1 MiB)
 *
 * I/O: with -p DAEMON_PID the daemon's /proc/<pid>/io read_bytes and
 * write_bytes are sampled around each phase; -x TID (repeatable) subtracts
 * the given daemon threads (the lockspace renewal thread).
 *
 * Output: "metric value unit" lines on stdout (measure.sh prefixes them
 * with "sanlock."), diagnostics on stderr.
 *
 * Build: cc -O2 -I.. -o slbench slbench.c -lsanlock   (-I..: bench/benchutil.h)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <sanlock.h>
#include <sanlock_admin.h>
#include <sanlock_direct.h>
#include <sanlock_resource.h>
#include <sanlock_rv.h>

#define MIB (1024ULL * 1024ULL)
#define RES_FLAGS (SANLK_RES_ALIGN1M | SANLK_RES_SECTOR512)

#define BENCH_PROG "slbench"
#include "benchutil.h" /* options, timing, /proc sampling, output, tput */

static const char *opt_path;
static const char *opt_ls = "LS";
static long opt_hostid = 1;
static long opt_iotimeout = 10;
static pid_t opt_kill_pid;

static void die(const char *what, int rv)
{
	fprintf(stderr, "slbench: %s failed: %d (%s)\n", what, rv,
		rv < 0 && rv > -200 ? strerror(-rv) : "sanlock rv");
	exit(1);
}

static struct sanlk_resource *make_res(long idx)
{
	struct sanlk_resource *r;
	r = calloc(1, sizeof(*r) + sizeof(struct sanlk_disk));
	if (!r)
		exit(1);
	snprintf(r->lockspace_name, SANLK_NAME_LEN, "%s", opt_ls);
	snprintf(r->name, SANLK_NAME_LEN, "r%ld", idx);
	r->flags = RES_FLAGS;
	r->num_disks = 1;
	snprintf(r->disks[0].path, SANLK_PATH_LEN, "%s", opt_path);
	r->disks[0].offset = (uint64_t)(1 + idx) * MIB;
	return r;
}

static void make_ls(struct sanlk_lockspace *ls)
{
	memset(ls, 0, sizeof(*ls));
	snprintf(ls->name, SANLK_NAME_LEN, "%s", opt_ls);
	ls->host_id = opt_hostid;
	ls->flags = SANLK_LSF_ALIGN1M | SANLK_LSF_SECTOR512;
	snprintf(ls->host_id_disk.path, SANLK_PATH_LEN, "%s", opt_path);
	ls->host_id_disk.offset = 0;
}

/* ---- subcommands ---- */

static int cmd_init_res(void)
{
	long i;
	double t0 = now_s();
	for (i = opt_first; i < opt_first + opt_n; i++) {
		struct sanlk_resource *r = make_res(i);
		int rv = sanlock_direct_init(NULL, r, 0, 0, 0);
		if (rv < 0)
			die("sanlock_direct_init", rv);
		free(r);
	}
	fprintf(stderr, "slbench: initialized %ld resources in %.2f s\n",
		opt_n, now_s() - t0);
	return 0;
}

static int cmd_join(void)
{
	struct sanlk_lockspace ls;
	double t0, t1;
	int rv;
	make_ls(&ls);
	t0 = now_s();
	rv = sanlock_add_lockspace_timeout(&ls, 0, opt_iotimeout);
	t1 = now_s();
	if (rv < 0)
		die("sanlock_add_lockspace_timeout", rv);
	printf("join_time %.3f s\n", t1 - t0);
	return 0;
}

static int cmd_leave(void)
{
	struct sanlk_lockspace ls;
	double t0, t1;
	int rv;
	make_ls(&ls);
	t0 = now_s();
	rv = sanlock_rem_lockspace(&ls, 0);
	t1 = now_s();
	if (rv < 0)
		die("sanlock_rem_lockspace", rv);
	printf("leave_time %.3f s\n", t1 - t0);
	return 0;
}

static int cmd_latency(void)
{
	struct sanlk_resource *r = make_res(opt_first);
	double *acq = calloc(opt_n, sizeof(double));
	double *rel = calloc(opt_n, sizeof(double));
	double *cyc = calloc(opt_n, sizeof(double));
	struct iost io0, io1;
	double t0, t1, t2, tstart, tend;
	long i;
	int sock, rv;

	sock = sanlock_register();
	if (sock < 0)
		die("sanlock_register", sock);
	for (i = 0; i < opt_warmup; i++) {
		rv = sanlock_acquire(sock, -1, 0, 1, &r, NULL);
		if (rv < 0)
			die("sanlock_acquire (warmup)", rv);
		rv = sanlock_release(sock, -1, 0, 1, &r);
		if (rv < 0)
			die("sanlock_release (warmup)", rv);
	}
	read_io(opt_daemon_pid, &io0);
	tstart = now_s();
	for (i = 0; i < opt_n; i++) {
		t0 = now_s();
		rv = sanlock_acquire(sock, -1, 0, 1, &r, NULL);
		t1 = now_s();
		if (rv < 0)
			die("sanlock_acquire", rv);
		rv = sanlock_release(sock, -1, 0, 1, &r);
		t2 = now_s();
		if (rv < 0)
			die("sanlock_release", rv);
		acq[i] = t1 - t0;
		rel[i] = t2 - t1;
		cyc[i] = t2 - t0;
	}
	tend = now_s();
	read_io(opt_daemon_pid, &io1);
	print_latency(acq, rel, cyc, tend - tstart, &io0, &io1);
	close(sock);
	return 0;
}

/* tput: the client process's registration and its slice of leases */
static struct sanlk_resource **tput_res;
static long tput_lo;
static int tput_sock;

static int tput_setup(long lo, long hi)
{
	long i;
	tput_res = calloc(hi - lo + 1, sizeof(*tput_res));
	tput_lo = lo;
	for (i = lo; i < hi; i++)
		tput_res[i - lo] = make_res(opt_first + i);
	tput_sock = sanlock_register();
	if (tput_sock < 0) {
		fprintf(stderr, "slbench: register failed %d\n", tput_sock);
		return -1;
	}
	return 0;
}

static int tput_acquire(long i)
{
	return sanlock_acquire(tput_sock, -1, 0, 1, &tput_res[i - tput_lo], NULL);
}

static int tput_release(long i)
{
	return sanlock_release(tput_sock, -1, 0, 1, &tput_res[i - tput_lo]);
}

static void tput_failed(const char *op, long i, int rv)
{
	fprintf(stderr, "slbench: %s r%ld failed %d\n", op, opt_first + i, rv);
}

static int cmd_tput(void)
{
	static const struct tput_ops ops = {
		.setup = tput_setup,
		.acquire = tput_acquire,
		.release = tput_release,
		.failed = tput_failed,
	};
	return run_tput(&ops);
}

static volatile sig_atomic_t got_term;
static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

/*
 * hold: register, acquire leases r<first>..r<first+n-1>, print "HELD <n>"
 * on stdout, then wait for SIGTERM/SIGINT, release everything and exit.
 * With -n 0 it is just a registered pid that the sanlock CLI can acquire
 * leases for ("sanlock client acquire -r RES -p PID").
 */
static int cmd_hold(void)
{
	struct sanlk_resource **rs = calloc(opt_n + 1, sizeof(*rs));
	struct sigaction sa;
	sigset_t block, old;
	double t0;
	long i;
	int sock, rv;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);

	sock = sanlock_register();
	if (sock < 0)
		die("sanlock_register", sock);
	t0 = now_s();
	for (i = 0; i < opt_n; i++) {
		rs[i] = make_res(opt_first + i);
		rv = sanlock_acquire(sock, -1, 0, 1, &rs[i], NULL);
		if (rv < 0)
			die("sanlock_acquire", rv);
	}
	printf("HELD %ld %.3f\n", opt_n, now_s() - t0);
	fflush(stdout);
	while (!got_term)
		sigsuspend(&old);
	for (i = 0; i < opt_n; i++)
		sanlock_release(sock, -1, 0, 1, &rs[i]);
	close(sock);
	printf("RELEASED %ld\n", opt_n);
	return 0;
}

static const char *host_state(uint32_t flags)
{
	switch (flags & SANLK_HOST_MASK) {
	case SANLK_HOST_UNKNOWN: return "UNKNOWN";
	case SANLK_HOST_FREE: return "FREE";
	case SANLK_HOST_LIVE: return "LIVE";
	case SANLK_HOST_FAIL: return "FAIL";
	case SANLK_HOST_DEAD: return "DEAD";
	default: return "?";
	}
}

static int owner_state(void)
{
	struct sanlk_host *hs = NULL;
	int cnt = 0, rv, st = 0;
	rv = sanlock_get_hosts(opt_ls, opt_owner, &hs, &cnt, 0);
	if (rv == 0 && cnt > 0)
		st = hs[0].flags & SANLK_HOST_MASK;
	free(hs);
	return st;
}

/*
 * failover: kill -9 the given pid (the other host's sanlock daemon), then
 * poll sanlock_acquire() on this host every poll_ms until it succeeds.
 * While polling, record when this host's daemon reports the owner host_id
 * as FAIL and as DEAD (sanlock_get_hosts).
 */
static int cmd_failover(void)
{
	struct sanlk_resource *r = make_res(opt_first);
	double t0, t, t_fail = -1, t_dead = -1, t_acq = -1, last_call = 0, call_dur = -1;
	long attempts = 0;
	int sock, rv, st, prev_st = -1, last_rv = 0;

	sock = sanlock_register();
	if (sock < 0)
		die("sanlock_register", sock);
	rv = sanlock_acquire(sock, -1, SANLK_ACQUIRE_OWNER_NOWAIT, 1, &r, NULL);
	if (rv == 0) {
		fprintf(stderr, "slbench: lease was not held by the other host\n");
		return 1;
	}
	fprintf(stderr, "slbench: before kill acquire rv=%d owner state %s\n",
		rv, host_state(owner_state()));

	if (opt_kill_pid > 0 && kill(opt_kill_pid, SIGKILL) < 0)
		die("kill", -errno);
	t0 = now_s();
	for (;;) {
		t = now_s();
		if (t - t0 > opt_timeout_s)
			break;
		st = owner_state();
		if (st != prev_st) {
			fprintf(stderr, "slbench: t=%.2f owner host %ld state %s\n",
				t - t0, opt_owner, host_state(st));
			prev_st = st;
		}
		if (st == SANLK_HOST_FAIL && t_fail < 0)
			t_fail = t - t0;
		if (st == SANLK_HOST_DEAD && t_dead < 0)
			t_dead = t - t0;
		attempts++;
		last_call = now_s();
		rv = sanlock_acquire(sock, -1, SANLK_ACQUIRE_OWNER_NOWAIT, 1, &r, NULL);
		if (rv != last_rv)
			fprintf(stderr, "slbench: t=%.2f acquire rv=%d (call %.3f s)\n",
				now_s() - t0, rv, now_s() - last_call);
		last_rv = rv;
		if (rv == 0) {
			t_acq = now_s() - t0;
			call_dur = now_s() - last_call;
			break;
		}
		usleep(opt_poll_ms * 1000);
	}
	print_failover(t_acq, t_fail, t_dead, attempts, call_dur);
	if (t_acq >= 0)
		sanlock_release(sock, -1, 0, 1, &r);
	close(sock);
	return t_acq >= 0 ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: slbench CMD -f PATH [-s LSNAME] [options]\n"
		"  init-res  -n COUNT [-i FIRST]          write resources r<i> (direct, no daemon)\n"
		"  join      -H HOSTID -o IO_TIMEOUT      add_lockspace, print join time\n"
		"  leave     -H HOSTID                    rem_lockspace\n"
		"  latency   -n ITERS [-i IDX] [-w WARMUP] [-p DAEMON_PID [-x TID]...]\n"
		"  tput      -n LEASES -c CLIENTS [-i FIRST] [-p DAEMON_PID [-x TID]...]\n"
		"  hold      -n COUNT [-i FIRST]          hold leases until SIGTERM/SIGINT\n"
		"  failover  -k PID_TO_KILL [-i IDX] [-O OWNER_HOSTID] [-P POLL_MS] [-t TIMEOUT_S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *cmd;
	int o;

	if (argc < 2)
		usage();
	cmd = argv[1];
	optind = 2;
	while ((o = getopt(argc, argv, "f:s:H:o:k:" BENCH_COMMON_OPTS)) != -1) {
		switch (o) {
		case 'f': opt_path = optarg; break;
		case 's': opt_ls = optarg; break;
		case 'H': opt_hostid = atol(optarg); break;
		case 'o': opt_iotimeout = atol(optarg); break;
		case 'k': opt_kill_pid = atoi(optarg); break;
		default:
			if (!bench_option(o, optarg))
				usage();
		}
	}
	if (!opt_path)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(cmd, "init-res"))
		return cmd_init_res();
	if (!strcmp(cmd, "join"))
		return cmd_join();
	if (!strcmp(cmd, "leave"))
		return cmd_leave();
	if (!strcmp(cmd, "latency"))
		return cmd_latency();
	if (!strcmp(cmd, "tput"))
		return opt_clients < 1 ? 2 : cmd_tput();
	if (!strcmp(cmd, "hold"))
		return cmd_hold();
	if (!strcmp(cmd, "failover"))
		return cmd_failover();
	usage();
	return 2;
}
