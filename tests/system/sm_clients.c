/* Client-side helper for the daemon system tests, using libsync_manager.
 *
 *   sm_clients many N LOCKSPACE PREFIX   N child processes, each registered on
 *       its own connection and holding LOCKSPACE:PREFIXi; prints timings, then
 *       waits for stdin to close, then ends the children and checks that the
 *       daemon released everything.
 *   sm_clients restricted               register with RESTRICT, then any call must be denied
 *   sm_clients self LOCKSPACE:RES        register self, acquire, inquire, release (as any user)
 *   sm_clients other PID LOCKSPACE:RES   try to acquire for another process (must be denied
 *       unless root)
 *   sm_clients reaped LOCKSPACE:RES      register a child, acquire RES for it, let it exit
 *       and reap it (its pid is free for reuse), print "reaped PID", then keep the
 *       registration connection open (the daemon still lists the lease) until killed
 *   sm_clients lockspace-on LOCKSPACE VOLUME:RES   register self and acquire RES on
 *       VOLUME with LOCKSPACE's host_id (both named, as the library allows); exit 0
 *       when the daemon refuses it with SM_EMULTI_VOLUME (VOLUME is not LOCKSPACE's)
 *   sm_clients register N MAXFAIL   fork N children one after the other, each
 *       registering itself on its own connection and keeping it; one line per
 *       refusal ("refused I: MESSAGE"), stop after MAXFAIL refusals, then
 *       "registered K of N"; waits for stdin to close, then ends the children
 *   sm_clients status-poll STOPFILE     ask for status on one connection every 50 ms
 *       until STOPFILE exists; one line per call: "EPOCH_MS TOOK_US RESULT", then "end" 
 * Exit 0 when the behaviour was as expected. */
#include "sync_manager/admin.h"
#include "sync_manager/client.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fail(const char *what, sm_conn *c, int rc)
{
	fprintf(stderr, "sm_clients: %s: %s (%s)\n", what, c ? sm_conn_message(c) : "", sm_strerror(rc));
	return 1;
}

static int count_leases(void)
{
	sm_conn *c;
	struct sm_report *r;
	if (sm_conn_open(&c) < 0)
		return -1;
	int n = -1;
	if (sm_status(c, &r) == 0) {
		const struct sm_section *d = sm_report_section(r, "daemon");
		const struct sm_field *f = d && d->nrecords ? sm_record_field(&d->records[0], "leases") : NULL;
		n = f ? (int)f->u64 : -1;
		sm_report_free(r);
	}
	sm_conn_close(c);
	return n;
}

static int many(int n, const char *ls, const char *prefix)
{
	pid_t *kids = calloc((size_t)n, sizeof(pid_t));
	sm_conn **conns = calloc((size_t)n, sizeof(sm_conn *));
	int base = count_leases();
	double t0 = now_s();
	for (int i = 0; i < n; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			for (;;)
				pause();
		}
	}
	double t1 = now_s();
	for (int i = 0; i < n; i++) {
		int rc = sm_conn_open(&conns[i]);
		if (rc < 0)
			return fail("connect", NULL, rc);
		char name[32];
		snprintf(name, sizeof(name), "client%d", i);
		if ((rc = sm_register_pid(conns[i], kids[i], name)) < 0)
			return fail("register", conns[i], rc);
		struct sm_resource r;
		char spec[160];
		snprintf(spec, sizeof(spec), "%s:%s%d", ls, prefix, i);
		sm_resource_parse(spec, &r);
		if ((rc = sm_acquire(conns[i], kids[i], &r, 1, SM_ACQUIRE_CREATE, NULL)) < 0)
			return fail(spec, conns[i], rc);
	}
	double t2 = now_s();
	int held = count_leases();
	printf("many: %d processes registered and %d leases acquired in %.2f s (%.0f/s); daemon reports %d leases\n",
	       n, n, t2 - t1, n / (t2 - t1), held);
	fflush(stdout);
	if (held != base + n)
		return fail("lease count", NULL, -1);
	/* hold until told */
	char b;
	while (read(0, &b, 1) > 0)
		;
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < n; i++)
		waitpid(kids[i], NULL, 0);
	double t3 = now_s();
	for (int i = 0; i < n; i++)
		sm_conn_close(conns[i]); /* the processes died: release follows */
	int left = -1;
	for (int k = 0; k < 600; k++) {
		left = count_leases() - base;
		if (left == 0)
			break;
		usleep(100000);
	}
	printf("many: all %d leases released %.2f s after the processes were killed\n", n, now_s() - t3);
	(void)t0;
	free(kids);
	free(conns);
	return left == 0 ? 0 : fail("leases left after exit", NULL, -1);
}

static int restricted(void)
{
	sm_conn *c;
	int rc = sm_conn_open(&c);
	if (rc < 0)
		return fail("connect", NULL, rc);
	if ((rc = sm_register(c, "restricted", SM_REGISTER_RESTRICT)) < 0)
		return fail("register", c, rc);
	struct sm_lease_info *l = NULL;
	rc = sm_inquire(c, 0, &l);
	free(l);
	if (rc != -SM_EDENIED)
		return fail("inquire on a restricted connection was not denied", c, rc);
	printf("restricted: %s\n", sm_conn_message(c));
	struct sm_report *r;
	rc = sm_status(c, &r);
	if (rc != -SM_EDENIED)
		return fail("status on a restricted connection was not denied", c, rc);
	sm_conn_close(c);
	return 0;
}

static int self(const char *spec)
{
	sm_conn *c;
	int rc = sm_conn_open(&c);
	if (rc < 0)
		return fail("connect", NULL, rc);
	if ((rc = sm_register(c, "self", 0)) < 0)
		return fail("register", c, rc);
	struct sm_resource r;
	sm_resource_parse(spec, &r);
	struct sm_lease_info info;
	if ((rc = sm_acquire(c, 0, &r, 1, 0, &info)) < 0)
		return fail("acquire for myself", c, rc);
	struct sm_lease_info *l = NULL;
	int n = sm_inquire(c, 0, &l);
	if (n != 1 || strcmp(l[0].name, r.name) != 0)
		return fail("inquire", c, n);
	free(l);
	if ((rc = sm_release(c, 0, &r, 1)) < 0)
		return fail("release", c, rc);
	printf("self: acquired and released %s at lver %llu as uid %d\n", spec, (unsigned long long)info.lver,
	       (int)getuid());
	/* admin-only calls are refused for ordinary users */
	struct sm_report *rep;
	rc = sm_status(c, &rep);
	if (getuid() != 0 && rc != -SM_EDENIED)
		return fail("status as an ordinary user was not denied", c, rc);
	if (rc == 0)
		sm_report_free(rep);
	sm_conn_close(c);
	return 0;
}

static int other(pid_t pid, const char *spec)
{
	sm_conn *c;
	int rc = sm_conn_open(&c);
	if (rc < 0)
		return fail("connect", NULL, rc);
	struct sm_resource r;
	sm_resource_parse(spec, &r);
	rc = sm_acquire(c, pid, &r, 1, 0, NULL);
	if (rc != -SM_EDENIED)
		return fail("acquiring for another process was not denied", c, rc);
	printf("other: %s\n", sm_conn_message(c));
	sm_conn_close(c);
	return 0;
}

static int reaped(const char *spec)
{
	int go[2];
	if (pipe(go) < 0)
		return fail("pipe", NULL, 0);
	pid_t kid = fork();
	if (kid == 0) {
		char b;
		close(go[1]);
		_exit(read(go[0], &b, 1) < 0);
	}
	close(go[0]);
	sm_conn *c;
	int rc = sm_conn_open(&c);
	if (rc < 0)
		return fail("connect", NULL, rc);
	if ((rc = sm_register_pid(c, kid, "reaped")) < 0)
		return fail("register the child", c, rc);
	struct sm_resource r;
	sm_resource_parse(spec, &r);
	if ((rc = sm_acquire(c, kid, &r, 1, 0, NULL)) < 0)
		return fail("acquire for the child", c, rc);
	close(go[1]); /* the child exits */
	int st;
	if (waitpid(kid, &st, 0) != kid)
		return fail("waitpid", c, 0);
	printf("reaped %d\n", (int)kid);
	fflush(stdout);
	for (;;)
		pause();
}

/* How long the daemon takes to answer status, without a process start per
 * call (a reconnect after a failure is part of the next call's time). */
static int status_poll(const char *stopfile)
{
	sm_conn *c = NULL;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (access(stopfile, F_OK) != 0) {
		struct timespec wall;
		clock_gettime(CLOCK_REALTIME, &wall);
		double t = now_s();
		int rc = c ? 0 : sm_conn_open(&c);
		struct sm_report *rep = NULL;
		if (rc == 0)
			rc = sm_status(c, &rep);
		if (rc == 0)
			sm_report_free(rep);
		else if (c) {
			sm_conn_close(c);
			c = NULL;
		}
		printf("%lld %lld %d\n", (long long)wall.tv_sec * 1000 + wall.tv_nsec / 1000000,
		       (long long)((now_s() - t) * 1e6), rc);
		usleep(50000);
	}
	if (c)
		sm_conn_close(c);
	printf("end\n");
	return 0;
}

static int lockspace_on(const char *lockspace, const char *spec)
{
	sm_conn *c;
	int rc = sm_conn_open(&c);
	if (rc < 0)
		return fail("connect", NULL, rc);
	if ((rc = sm_register(c, "lockspace-on", 0)) < 0)
		return fail("register", c, rc);
	struct sm_resource r;
	if ((rc = sm_resource_parse(spec, &r)) < 0 || r.nlocations != 1)
		return fail("parse VOLUME:RES", NULL, rc < 0 ? rc : -SM_EBAD_ARGUMENT);
	snprintf(r.lockspace, sizeof(r.lockspace), "%s", lockspace);
	struct sm_lease_info info;
	rc = sm_acquire(c, 0, &r, 1, 0, &info);
	if (rc == 0) {
		printf("lockspace-on: granted %s with the host_id of lockspace %s at lver %llu\n", spec, lockspace,
		       (unsigned long long)info.lver);
		sm_release(c, 0, &r, 1);
		return 1;
	}
	printf("lockspace-on: refused: %s (%s)\n", sm_conn_message(c), sm_errname(rc));
	sm_conn_close(c);
	return rc == -SM_EMULTI_VOLUME ? 0 : 1;
}

/* A child of register_many: register, report "0" or the refusal on out,
 * then keep the connection until killed. */
static _Noreturn void register_child(int out)
{
	sm_conn *c = NULL;
	int rc = sm_conn_open(&c);
	if (rc == 0)
		rc = sm_register(c, "fdtest", 0);
	char line[400];
	int n = rc == 0 ? snprintf(line, sizeof(line), "0\n")
			: snprintf(line, sizeof(line), "%s (%s)\n", c && *sm_conn_message(c) ? sm_conn_message(c) : "",
				   sm_strerror(rc));
	if (write(out, line, (size_t)n) < 0)
		_exit(1);
	close(out);
	for (;;)
		pause();
}

static int register_many(int n, int maxfail)
{
	pid_t *kids = calloc((size_t)n, sizeof(*kids));
	int ok = 0, failed = 0, started = 0;
	for (int i = 0; i < n && failed < maxfail; i++) {
		int fds[2];
		if (pipe(fds) < 0)
			return 1;
		pid_t k = fork();
		if (k == 0) {
			close(fds[0]);
			register_child(fds[1]);
		}
		close(fds[1]);
		kids[started++] = k;
		char line[400] = "";
		FILE *f = fdopen(fds[0], "r");
		if (!f || !fgets(line, sizeof(line), f))
			snprintf(line, sizeof(line), "child %d said nothing\n", (int)k);
		if (f)
			fclose(f);
		if (!strcmp(line, "0\n")) {
			ok++;
		} else {
			failed++;
			printf("refused %d: %s", i, line);
			fflush(stdout);
		}
	}
	printf("registered %d of %d\n", ok, n);
	fflush(stdout);
	char buf[64];
	while (fread(buf, 1, sizeof(buf), stdin) > 0)
		;
	for (int i = 0; i < started; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < started; i++)
		waitpid(kids[i], NULL, 0);
	free(kids);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 5 && !strcmp(argv[1], "many"))
		return many(atoi(argv[2]), argv[3], argv[4]);
	if (argc >= 2 && !strcmp(argv[1], "restricted"))
		return restricted();
	if (argc >= 3 && !strcmp(argv[1], "self"))
		return self(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "other"))
		return other((pid_t)atoi(argv[2]), argv[3]);
	if (argc >= 3 && !strcmp(argv[1], "reaped"))
		return reaped(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "lockspace-on"))
		return lockspace_on(argv[2], argv[3]);
	if (argc >= 4 && !strcmp(argv[1], "register"))
		return register_many(atoi(argv[2]), atoi(argv[3]));
	if (argc >= 3 && !strcmp(argv[1], "status-poll"))
		return status_poll(argv[2]);
	fprintf(stderr, "usage: see the comment at the top of sm_clients.c\n");
	return 2;
}
