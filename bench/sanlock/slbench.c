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
 * Build: cc -O2 -o slbench slbench.c -lsanlock
 */
#define _GNU_SOURCE
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

#include <sanlock.h>
#include <sanlock_admin.h>
#include <sanlock_direct.h>
#include <sanlock_resource.h>
#include <sanlock_rv.h>

#define MIB (1024ULL * 1024ULL)
#define RES_FLAGS (SANLK_RES_ALIGN1M | SANLK_RES_SECTOR512)

static const char *opt_path;
static const char *opt_ls = "LS";
static long opt_n = 1;
static long opt_first;
static long opt_clients = 1;
static long opt_hostid = 1;
static long opt_iotimeout = 10;
static long opt_warmup = 10;
static long opt_poll_ms = 100;
static long opt_timeout_s = 600;
static long opt_owner = 1;
static pid_t opt_daemon_pid;
static pid_t opt_kill_pid;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

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

/*
 * Bytes the daemon process read/wrote (all threads, /proc/<pid>/io) minus
 * what the excluded threads did (-x: the lockspace renewal thread, whose
 * delta-lease renewals are not part of the operation being measured).
 */
static pid_t opt_exclude_tid[16];
static int opt_exclude_n;

static int read_io(pid_t pid, struct iost *st)
{
	char p[96];
	struct iost t;
	int i;
	memset(st, 0, sizeof(*st));
	if (!pid)
		return -1;
	snprintf(p, sizeof(p), "/proc/%d/io", (int)pid);
	if (read_io_file(p, st) < 0)
		return -1;
	for (i = 0; i < opt_exclude_n; i++) {
		memset(&t, 0, sizeof(t));
		snprintf(p, sizeof(p), "/proc/%d/task/%d/io", (int)pid, (int)opt_exclude_tid[i]);
		if (read_io_file(p, &t) == 0) {
			st->rb -= t.rb;
			st->wb -= t.wb;
		}
	}
	return 0;
}

/* ---- statistics ---- */

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, long n, double p)
{
	long i;
	if (n <= 0)
		return 0;
	i = (long)(p * (n - 1) + 0.5);
	return v[i];
}

static void print_stats(const char *name, double *v, long n)
{
	double sum = 0;
	long i;
	qsort(v, n, sizeof(double), cmp_d);
	for (i = 0; i < n; i++)
		sum += v[i];
	printf("%s_median %.1f us\n", name, pct(v, n, 0.5) * 1e6);
	printf("%s_p99 %.1f us\n", name, pct(v, n, 0.99) * 1e6);
	printf("%s_mean %.1f us\n", name, n ? sum / n * 1e6 : 0);
	printf("%s_min %.1f us\n", name, n ? v[0] * 1e6 : 0);
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
	printf("latency_iterations %ld count\n", opt_n);
	print_stats("acquire_latency", acq, opt_n);
	print_stats("release_latency", rel, opt_n);
	print_stats("acquire_release_latency", cyc, opt_n);
	printf("latency_window %.3f s\n", tend - tstart);
	if (opt_daemon_pid) {
		printf("latency_window_read_bytes %llu B\n", io1.rb - io0.rb);
		printf("latency_window_write_bytes %llu B\n", io1.wb - io0.wb);
	}
	close(sock);
	return 0;
}

/* Shared between the forked clients of "tput". */
struct shared {
	int fail;
	double acq_lat[];	/* opt_n entries, then opt_n release entries */
};

static void xread_n(int fd, long n)
{
	char c;
	while (n > 0) {
		ssize_t k = read(fd, &c, 1);
		if (k == 1)
			n--;
		else if (k == 0)
			return;
		else if (errno != EINTR)
			return;
	}
}

static void wait_eof(int fd)
{
	char c;
	while (read(fd, &c, 1) != 0)
		;
}

static int cmd_tput(void)
{
	long c, per, i;
	int ready[2], go_acq[2], done_acq[2], go_rel[2], done_rel[2];
	size_t shsz = sizeof(struct shared) + 2 * opt_n * sizeof(double);
	struct shared *sh;
	struct iost io0, io1, io2;
	double t0, t1, t2, s0;
	pid_t *kids;
	int status, bad = 0;

	sh = mmap(NULL, shsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap", -errno);
	if (pipe(ready) || pipe(go_acq) || pipe(done_acq) || pipe(go_rel) || pipe(done_rel))
		die("pipe", -errno);
	kids = calloc(opt_clients, sizeof(pid_t));
	per = (opt_n + opt_clients - 1) / opt_clients;

	for (c = 0; c < opt_clients; c++) {
		long lo = c * per, hi = lo + per > opt_n ? opt_n : lo + per;
		pid_t p = fork();
		if (p < 0)
			die("fork", -errno);
		if (p == 0) {
			struct sanlk_resource **rs;
			int sock, rv;
			close(go_acq[1]);
			close(go_rel[1]);
			rs = calloc(hi - lo + 1, sizeof(*rs));
			for (i = lo; i < hi; i++)
				rs[i - lo] = make_res(opt_first + i);
			sock = sanlock_register();
			if (sock < 0) {
				fprintf(stderr, "slbench: register failed %d\n", sock);
				sh->fail = 1;
			}
			if (write(ready[1], "r", 1) != 1)
				_exit(1);
			wait_eof(go_acq[0]);
			for (i = lo; i < hi && !sh->fail; i++) {
				double a = now_s();
				rv = sanlock_acquire(sock, -1, 0, 1, &rs[i - lo], NULL);
				sh->acq_lat[i] = now_s() - a;
				if (rv < 0) {
					fprintf(stderr, "slbench: acquire r%ld failed %d\n",
						opt_first + i, rv);
					sh->fail = 1;
				}
			}
			if (write(done_acq[1], "a", 1) != 1)
				_exit(1);
			wait_eof(go_rel[0]);
			for (i = lo; i < hi && !sh->fail; i++) {
				double a = now_s();
				rv = sanlock_release(sock, -1, 0, 1, &rs[i - lo]);
				sh->acq_lat[opt_n + i] = now_s() - a;
				if (rv < 0) {
					fprintf(stderr, "slbench: release r%ld failed %d\n",
						opt_first + i, rv);
					sh->fail = 1;
				}
			}
			if (write(done_rel[1], "d", 1) != 1)
				_exit(1);
			_exit(sh->fail ? 1 : 0);
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
	t0 = now_s();
	close(go_acq[1]);		/* start acquire phase */
	xread_n(done_acq[0], opt_clients);
	t1 = now_s();
	read_io(opt_daemon_pid, &io1);
	s0 = now_s();
	close(go_rel[1]);		/* start release phase */
	xread_n(done_rel[0], opt_clients);
	t2 = now_s();
	read_io(opt_daemon_pid, &io2);

	for (c = 0; c < opt_clients; c++) {
		if (waitpid(kids[c], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			bad = 1;
	}
	if (bad || sh->fail) {
		fprintf(stderr, "slbench: tput failed\n");
		return 1;
	}
	printf("leases %ld count\n", opt_n);
	printf("clients %ld count\n", opt_clients);
	printf("acquire_phase %.3f s\n", t1 - t0);
	printf("release_phase %.3f s\n", t2 - s0);
	printf("acquire_rate %.1f leases/s\n", opt_n / (t1 - t0));
	printf("release_rate %.1f leases/s\n", opt_n / (t2 - s0));
	printf("acquire_release_rate %.1f leases/s\n", opt_n / ((t1 - t0) + (t2 - s0)));
	print_stats("acquire_latency", sh->acq_lat, opt_n);
	print_stats("release_latency", sh->acq_lat + opt_n, opt_n);
	if (opt_daemon_pid) {
		printf("acquire_phase_read_bytes %llu B\n", io1.rb - io0.rb);
		printf("acquire_phase_write_bytes %llu B\n", io1.wb - io0.wb);
		printf("release_phase_read_bytes %llu B\n", io2.rb - io1.rb);
		printf("release_phase_write_bytes %llu B\n", io2.wb - io1.wb);
	}
	return 0;
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
	printf("failover_time %.3f s\n", t_acq);
	printf("failover_owner_fail_state %.3f s\n", t_fail);
	printf("failover_owner_dead_state %.3f s\n", t_dead);
	printf("failover_attempts %ld count\n", attempts);
	printf("failover_final_acquire_call %.3f s\n", call_dur);
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
	while ((o = getopt(argc, argv, "f:s:n:i:c:H:o:w:p:k:P:t:O:x:")) != -1) {
		switch (o) {
		case 'f': opt_path = optarg; break;
		case 's': opt_ls = optarg; break;
		case 'n': opt_n = atol(optarg); break;
		case 'i': opt_first = atol(optarg); break;
		case 'c': opt_clients = atol(optarg); break;
		case 'H': opt_hostid = atol(optarg); break;
		case 'o': opt_iotimeout = atol(optarg); break;
		case 'w': opt_warmup = atol(optarg); break;
		case 'p': opt_daemon_pid = atoi(optarg); break;
		case 'k': opt_kill_pid = atoi(optarg); break;
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
