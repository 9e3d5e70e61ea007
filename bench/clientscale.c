/*
 * clientscale - clients per sync_managerd (issue 19 item 3): register
 * processes with one daemon, each holding one lease, and at each client
 * count asked for print the daemon's memory and descriptors per client and
 * the latency of inquire and of acquire + release.  bench/clients.sh runs
 * it against a daemon of its own.
 *
 *   clientscale DAEMON_PID LOCKSPACE N1 [N2 ...]     (N1 < N2 < ...)
 *
 * Each client is a child process (registered by pid on a connection of
 * this program, as `sync_manager run` does: the daemon opens a pidfd per
 * process) that holds LOCKSPACE:c<i> (created in the volume's index: give
 * the volume room for the largest N + 2 resources).  CS_NO_LEASES=1:
 * register only.  One line per count on stdout:
 *
 *   clients N rss_kb R rss_per_client_kb X rss_marginal_kb M fds F
 *   fds_per_client Y inquire_us_median I inquire_us_p99 J acquire_ms_median A
 *   status_ms S status_rc C
 *
 * S is the wall time of one `$CS_CLI status --json` (the CLI, default
 * "sync_manager" on PATH; its output is thrown away) listing every client,
 * C its exit status (0: it worked).
 *
 * RSS and fds per client are the growth since the first measurement (no
 * clients but the probe) divided by N; the marginal RSS is the growth since
 * the previous count divided by the clients added (the first includes
 * fixed costs: worker arenas, the volume's index read by the workers).
 * Progress goes to stderr.
 */
#include "sync_manager/client.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define INQUIRE_CALLS 300
#define ACQUIRE_CYCLES 20

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static long nfds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	long n = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* Time one `CLI status --json` (output discarded): ms, and its exit status
 * in *rc (-1 if it could not be run or was killed). */
static double time_status(int *rc)
{
	const char *cli = getenv("CS_CLI") ? getenv("CS_CLI") : "sync_manager";
	double t0 = now_us();
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execlp(cli, cli, "status", "--json", (char *)NULL);
		_exit(127);
	}
	int st = 0;
	*rc = pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return (now_us() - t0) / 1000.0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static pid_t idle_child(void)
{
	pid_t k = fork();
	if (k == 0) {
		for (;;)
			pause();
	}
	return k;
}

static int die(const char *what, sm_conn *c, int rc)
{
	fprintf(stderr, "clientscale: %s: %s (%s)\n", what, c ? sm_conn_message(c) : "", sm_strerror(rc));
	return 1;
}

struct probe {
	sm_conn *c;
	pid_t pid;
	struct sm_resource cycle;
};

static int measure(struct probe *p, double *inq_med, double *inq_p99, double *acq_med)
{
	static double t[INQUIRE_CALLS];
	for (int i = 0; i < INQUIRE_CALLS; i++) {
		struct sm_lease_info *li = NULL;
		double t0 = now_us();
		int rc = sm_inquire(p->c, p->pid, &li);
		t[i] = now_us() - t0;
		free(li);
		if (rc < 0)
			return die("inquire", p->c, rc);
	}
	qsort(t, INQUIRE_CALLS, sizeof(t[0]), cmp_double);
	*inq_med = t[INQUIRE_CALLS / 2];
	*inq_p99 = t[INQUIRE_CALLS * 99 / 100];
	static double a[ACQUIRE_CYCLES];
	for (int i = 0; i < ACQUIRE_CYCLES; i++) {
		double t0 = now_us();
		int rc = sm_acquire(p->c, p->pid, &p->cycle, 1, SM_ACQUIRE_CREATE, NULL);
		a[i] = (now_us() - t0) / 1000.0;
		if (rc < 0)
			return die("acquire", p->c, rc);
		if ((rc = sm_release(p->c, p->pid, &p->cycle, 1)) < 0)
			return die("release", p->c, rc);
	}
	qsort(a, ACQUIRE_CYCLES, sizeof(a[0]), cmp_double);
	*acq_med = a[ACQUIRE_CYCLES / 2];
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: clientscale DAEMON_PID LOCKSPACE N1 [N2 ...]\n");
		return 2;
	}
	pid_t dpid = (pid_t)atoi(argv[1]);
	const char *ls = argv[2];
	bool leases = !getenv("CS_NO_LEASES");
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	int max = atoi(argv[argc - 1]);
	pid_t *kids = calloc((size_t)max + 1, sizeof(*kids));
	sm_conn **conns = calloc((size_t)max + 1, sizeof(*conns));
	struct probe p = {.pid = idle_child()};
	char spec[160];
	int rc = sm_conn_open(&p.c);
	if (rc == 0)
		rc = sm_register_pid(p.c, p.pid, "probe");
	if (rc < 0)
		return die("probe", p.c, rc);
	snprintf(spec, sizeof(spec), "%s:probe-held", ls);
	struct sm_resource held;
	sm_resource_parse(spec, &held);
	if ((rc = sm_acquire(p.c, p.pid, &held, 1, SM_ACQUIRE_CREATE, NULL)) < 0)
		return die(spec, p.c, rc);
	snprintf(spec, sizeof(spec), "%s:probe-cycle", ls);
	sm_resource_parse(spec, &p.cycle);
	long rss0 = rss_kb(dpid), fds0 = nfds(dpid), rss_prev = rss0;
	int n = 0, n_prev = 0, status = 0;
	for (int a = 3; a < argc && !status; a++) {
		int target = atoi(argv[a]);
		double t0 = now_us();
		for (; n < target; n++) {
			kids[n] = idle_child();
			char name[32];
			snprintf(name, sizeof(name), "client%d", n);
			if ((rc = sm_conn_open(&conns[n])) < 0 || (rc = sm_register_pid(conns[n], kids[n], name)) < 0) {
				status = die("register", conns[n], rc);
				n++; /* its child is ended below */
				break;
			}
			snprintf(spec, sizeof(spec), "%s:c%d", ls, n);
			struct sm_resource r;
			sm_resource_parse(spec, &r);
			if (leases && (rc = sm_acquire(conns[n], kids[n], &r, 1, SM_ACQUIRE_CREATE, NULL)) < 0) {
				status = die(spec, conns[n], rc);
				n++;
				break;
			}
			if ((n + 1) % 1000 == 0)
				fprintf(stderr, "clientscale: %d clients (%.0f/s)\n", n + 1, (n + 1 - (a == 3 ? 0 : atoi(argv[a - 1]))) / ((now_us() - t0) / 1e6));
		}
		if (status)
			break;
		sleep(1); /* let the daemon settle (state file, pending jobs) */
		double im, ip, am;
		if ((status = measure(&p, &im, &ip, &am)))
			break;
		long rss = rss_kb(dpid), fds = nfds(dpid);
		int src;
		double sms = time_status(&src);
		printf("clients %d rss_kb %ld rss_per_client_kb %.2f rss_marginal_kb %.2f fds %ld fds_per_client %.2f "
		       "inquire_us_median %.1f inquire_us_p99 %.1f acquire_ms_median %.2f status_ms %.1f status_rc %d\n",
		       n, rss, n ? (double)(rss - rss0) / n : 0.0, n > n_prev ? (double)(rss - rss_prev) / (n - n_prev) : 0.0,
		       fds, n ? (double)(fds - fds0) / n : 0.0, im, ip, am, sms, src);
		rss_prev = rss;
		n_prev = n;
		fflush(stdout);
	}
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	kill(p.pid, SIGKILL);
	for (int i = 0; i < n; i++)
		waitpid(kids[i], NULL, 0);
	waitpid(p.pid, NULL, 0);
	for (int i = 0; i < n; i++)
		sm_conn_close(conns[i]);
	sm_conn_close(p.c);
	free(kids);
	free(conns);
	return status;
}
