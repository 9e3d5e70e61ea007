/* CLI commands that talk to this host's sync_managerd: join, leave, acquire,
 * release, inquire, convert, request, status, hosts, renewals, metrics,
 * shutdown.  Each says clearly when no daemon runs. */
#include "cli.h"
#include "report.h"

#include "common/clock.h"
#include "common/util.h"
#include "disk/disk.h"
#include "sync_manager/admin.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

void cli_cancel_on_interrupt(sm_conn *c)
{
	cli_catch_interrupts();
	sm_conn_set_cancel(c, &cli_interrupted);
}

/* The library ignores a $SYNC_MANAGER_TIMEOUT that is not a number of
 * seconds: say so rather than wait 300 s unexpectedly. */
static void check_timeout_env(void)
{
	const char *e = getenv(SM_TIMEOUT_ENV);
	if (!e || !*e)
		return;
	char *end;
	double s = strtod(e, &end);
	if (*end || s < 0 || s > 4000000)
		fprintf(stderr, "sync_manager: warning: %s='%s' is not a number of seconds (0 = no limit): waiting at most "
				"%u s for the daemon\n",
			SM_TIMEOUT_ENV, e, SM_TIMEOUT_DEFAULT_MS / 1000);
}

int cli_connect(sm_conn **c)
{
	check_timeout_env();
	cli_catch_interrupts(); /* a signal also ends a connect that waits */
	int rc = sm_conn_open(c);
	if (rc == 0) {
		cli_cancel_on_interrupt(*c);
		return CLI_OK;
	}
	const char *rd = getenv(SM_RUN_DIR_ENV);
	const char *dir = rd && *rd ? rd : SM_RUN_DIR_DEFAULT;
	if (rc == -SM_ENO_DAEMON) {
		/* no socket, or a stale one a killed daemon left behind */
		fprintf(stderr,
			"sync_manager: sync_managerd is not running (nothing listens on %s/%s)\n"
			"  start it with 'systemctl start sync_managerd' or 'sync_managerd'%s\n",
			dir, SM_SOCKET_NAME, rd && *rd ? " (with the same SYNC_MANAGER_RUN_DIR)" : "");
		return CLI_FAIL;
	}
	if (rc == -SM_EDAEMON_TIMEOUT) {
		fprintf(stderr,
			"sync_manager: sync_managerd did not accept the connection on %s/%s in time: it may be hung "
			"or at its file descriptor limit (see its log and 'sync_manager metrics')\n",
			dir, SM_SOCKET_NAME);
		return CLI_FAIL;
	}
	if (rc == -SM_EINTERRUPTED) {
		cli_wait_cancelled = true; /* main() says which signal */
		return CLI_FAIL;
	}
	if (rc == -EACCES || rc == -EPERM) {
		fprintf(stderr,
			"sync_manager: permission denied on %s/%s: only root and members of sync_managerd's "
			"admin_group may use the daemon\n",
			dir, SM_SOCKET_NAME);
		return CLI_FAIL;
	}
	return cli_fail(rc, "cannot connect to sync_managerd at %s/%s", dir, SM_SOCKET_NAME);
}

int cli_daemon_fail(sm_conn *c, int rc, const char *what)
{
	if (rc == -SM_EINTERRUPTED) {
		cli_wait_cancelled = true; /* main() says which signal */
		return CLI_FAIL;
	}
	const char *msg = sm_conn_message(c);
	fprintf(stderr, "sync_manager: %s: %s\n", what, msg && *msg ? msg : sm_strerror(rc));
	return CLI_FAIL;
}

int cli_parse_pid(const char *cmd, const char *arg, pid_t *pid)
{
	uint64_t v;
	if (sm_parse_u64(arg, 1, 4194304, &v) < 0)
		return cli_usage_error(cmd, "--pid must be a process id, not '%s'", arg);
	*pid = (pid_t)v;
	return CLI_OK;
}

int cli_resource_parse(const char *spec, struct sm_resource *r)
{
	/* A relative volume path ("./leases:r1", "dir/leases:0:r1"): a
	 * lockspace name has no '/' and no leading '.', so this is a path; the
	 * daemon runs elsewhere, so make it absolute. */
	size_t first = strcspn(spec, ":");
	if (spec[0] != '/' && spec[first] == ':' && (spec[0] == '.' || memchr(spec, '/', first))) {
		char cwd[PATH_MAX], abs[PATH_MAX + SM_LOCATION_MAX];
		if (getcwd(cwd, sizeof(cwd)) && (size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, spec) < sizeof(abs))
			return sm_resource_parse(abs, r);
	}
	return sm_resource_parse(spec, r);
}

int cli_parse_resources(const char *cmd, int argc, char **argv, struct sm_resource **out, int *n)
{
	*n = argc;
	*out = calloc((size_t)(argc ? argc : 1), sizeof(**out));
	if (!*out)
		return cli_fail(-ENOMEM, "%s", cmd);
	for (int i = 0; i < argc; i++)
		if (cli_resource_parse(argv[i], &(*out)[i]) < 0) {
			free(*out);
			return cli_usage_error(cmd,
					       "'%s' is not a resource: use LOCKSPACE:NAME or VOLUME/PATH[:OFFSET]:NAME",
					       argv[i]);
		}
	return CLI_OK;
}

/* ---- join ----------------------------------------------------------------------- */

/* The daemon runs elsewhere (cwd /): send it absolute volume paths.  An
 * argument that is no existing file and has no '/' is a lockspace name. */
static void join_target(const char *arg, char *out, size_t n)
{
	char *path = NULL;
	uint64_t off = 0;
	char real[PATH_MAX];
	if (sm_disk_parse_location(arg, &path, &off) == 0 && realpath(path, real)) {
		bool has_off = strchr(arg, ':') != NULL;
		if (has_off)
			snprintf(out, n, "%s:%llu", real, (unsigned long long)off);
		else
			snprintf(out, n, "%s", real);
	} else {
		snprintf(out, n, "%s", arg); /* a name, or a path the daemon reports missing */
	}
	free(path);
}

struct join_call {
	const char *location;
	uint32_t host_id;
	const char *host_name;
	int rc;
	char message[256];
	atomic_bool done; /* the join thread stores it after rc and message */
};

static void *join_thread(void *arg)
{
	struct join_call *jc = arg;
	sm_conn *c;
	jc->rc = sm_conn_open(&c);
	if (jc->rc == 0) {
		/* A join may wait H and more; the main thread polls its
		 * progress (within the timeout) and cancels it on Ctrl-C. */
		sm_conn_set_timeout(c, 0);
		jc->rc = sm_join(c, jc->location, jc->host_id, jc->host_name, SM_JOIN_WAIT);
		snprintf(jc->message, sizeof(jc->message), "%s", sm_conn_message(c));
		sm_conn_close(c);
	}
	atomic_store(&jc->done, true);
	return NULL;
}

static const struct sm_record *find_lockspace(const struct sm_report *r, const char *field, const char *value)
{
	const struct sm_section *s = sm_report_section(r, "lockspaces");
	for (int i = 0; s && i < s->nrecords; i++) {
		const struct sm_field *f = sm_record_field(&s->records[i], field);
		if (f && f->type == SM_FIELD_STR && strstr(f->str, value))
			return &s->records[i];
	}
	return NULL;
}

/* Join and wait, showing what the join waits for; Ctrl-C cancels it. */
int cli_join_and_wait(const char *location, uint32_t host_id, const char *host_name)
{
	struct join_call jc = {.location = location, .host_id = host_id, .host_name = host_name};
	sm_conn *conn;
	if (cli_connect(&conn))
		return CLI_FAIL;
	cli_catch_interrupts();
	/* Ctrl-C cancels the join itself (below), not the status polls that
	 * watch it (they wait at most the timeout) */
	sm_conn_set_cancel(conn, NULL);
	pthread_t t;
	pthread_create(&t, NULL, join_thread, &jc);
	char last[256] = "";
	uint64_t started = sm_now_mono_ms(), last_print = 0, next_poll = started + 200, give_up = 0;
	while (!atomic_load(&jc.done)) {
		if (give_up && sm_now_mono_ms() >= give_up) {
			/* Interrupted, and the daemon did not answer the join: stop
			 * waiting for it rather than hang (the join thread is left
			 * blocked; the process exits). */
			fprintf(stderr, "sync_manager: join: interrupted; the daemon goes on with the lockspace by itself "
					"(see 'sync_manager status')\n");
			sm_conn_close(conn);
			return CLI_FAIL;
		}
		/* notice the end at once; ask for progress every 200 ms */
		usleep(10000);
		if (sm_now_mono_ms() < next_poll && !cli_interrupted)
			continue;
		next_poll = sm_now_mono_ms() + 200;
		struct sm_report *r = NULL;
		if (sm_status(conn, &r) < 0)
			continue;
		const struct sm_record *rec = find_lockspace(r, "state", "joining");
		if (cli_interrupted && rec) {
			fprintf(stderr, "sync_manager: interrupted: cancelling the join\n");
			sm_leave(conn, sm_record_field(rec, "name")->str, true);
		}
		if (cli_interrupted && !give_up)
			give_up = sm_now_mono_ms() + 5000; /* the cancelled join answers well before */
		cli_interrupted = 0;
		const struct sm_field *p = rec ? sm_record_field(rec, "join_progress") : NULL;
		const struct sm_field *left = rec ? sm_record_field(rec, "join_remaining_ms") : NULL;
		uint64_t now = sm_now_mono_ms();
		if (p && p->str[0] && (strcmp(p->str, last) || now - last_print > 5000)) {
			fprintf(stderr, "sync_manager: %s (%.0f s elapsed, at most %.1f s left; Ctrl-C cancels)\n", p->str,
				(now - started) / 1000.0, left ? left->u64 / 1000.0 : 0.0);
			snprintf(last, sizeof(last), "%s", p->str);
			last_print = now;
		}
		sm_report_free(r);
	}
	pthread_join(t, NULL);
	if (jc.rc < 0) {
		fprintf(stderr, "sync_manager: join: %s\n", jc.message[0] ? jc.message : sm_strerror(jc.rc));
		sm_conn_close(conn);
		return CLI_FAIL;
	}
	struct sm_report *r = NULL;
	if (sm_status(conn, &r) == 0) {
		char canon[4200];
		snprintf(canon, sizeof(canon), "%s", location);
		const struct sm_record *rec = find_lockspace(r, "state", "joined");
		const struct sm_field *n = rec ? sm_record_field(rec, "name") : NULL;
		const struct sm_field *id = rec ? sm_record_field(rec, "host_id") : NULL;
		const struct sm_field *g = rec ? sm_record_field(rec, "generation") : NULL;
		if (n && id && g)
			fprintf(stderr, "sync_manager: joined lockspace %s as host_id %llu generation %llu (%.1f s)\n",
				n->str, (unsigned long long)id->u64, (unsigned long long)g->u64,
				(sm_now_mono_ms() - started) / 1000.0);
		sm_report_free(r);
	}
	sm_conn_close(conn);
	return CLI_OK;
}

int cmd_join(int argc, char **argv)
{
	static const struct option lo[] = {{"host-id", required_argument, NULL, 'i'},
					   {"host-name", required_argument, NULL, 'n'},
					   {"no-wait", no_argument, NULL, 'W'}, {0}};
	uint32_t host_id = 0;
	const char *host_name = NULL;
	bool wait = true;
	uint64_t v;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:n:", lo, NULL)) != -1) {
		if (c == 'i') {
			if (sm_parse_u64(optarg, 1, 2000, &v) < 0)
				return cli_usage_error("join", "--host-id must be 1..2000");
			host_id = (uint32_t)v;
		} else if (c == 'n') {
			host_name = optarg;
		} else if (c == 'W') {
			wait = false;
		} else {
			return cli_usage_error("join", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("join", "expected one LOCKSPACE or VOLUME (PATH[:OFFSET])");
	char target[PATH_MAX + 32];
	join_target(argv[optind], target, sizeof(target));
	if (wait)
		return cli_join_and_wait(target, host_id, host_name);
	sm_conn *conn;
	if (cli_connect(&conn))
		return CLI_FAIL;
	int rc = sm_join(conn, target, host_id, host_name, 0);
	if (rc < 0)
		cli_daemon_fail(conn, rc, "join");
	else
		printf("joining lockspace %s (see 'sync_manager status')\n", argv[optind]);
	sm_conn_close(conn);
	return rc < 0 ? CLI_FAIL : CLI_OK;
}

int cmd_leave(int argc, char **argv)
{
	static const struct option lo[] = {{"force", no_argument, NULL, 'f'}, {0}};
	bool force = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f", lo, NULL)) != -1)
		if (c == 'f')
			force = true;
		else
			return cli_usage_error("leave", "unknown option");
	if (optind + 1 != argc)
		return cli_usage_error("leave", "expected one LOCKSPACE name");
	sm_conn *conn;
	if (cli_connect(&conn))
		return CLI_FAIL;
	int rc = sm_leave(conn, argv[optind], force);
	if (rc < 0)
		rc = cli_daemon_fail(conn, rc, "leave");
	else
		printf("lockspace %s: %s\n", argv[optind], sm_conn_message(conn)[0] ? sm_conn_message(conn) : "left");
	sm_conn_close(conn);
	return rc < 0 ? CLI_FAIL : rc;
}

/* ---- acquire / release / inquire / convert -------------------------------------- */

/* Register pid with the daemon on this connection unless it already is. */
static int ensure_registered(sm_conn **conn, pid_t pid)
{
	sm_conn *reg;
	if (cli_connect(&reg))
		return CLI_FAIL;
	char name[32];
	snprintf(name, sizeof(name), "pid-%d", (int)pid);
	int rc = sm_register_pid(reg, pid, name);
	if (rc == -SM_EBUSY) { /* registered already: use a fresh connection */
		sm_conn_close(reg);
		return cli_connect(conn);
	}
	if (rc < 0) {
		cli_daemon_fail(reg, rc, "cannot register the process");
		sm_conn_close(reg);
		return CLI_FAIL;
	}
	*conn = reg; /* keep it: the registration lives while pid does */
	return CLI_OK;
}

int cmd_acquire(int argc, char **argv)
{
	static const struct option lo[] = {{"pid", required_argument, NULL, 'p'}, {"shared", no_argument, NULL, 's'},
					   {"version", required_argument, NULL, 'V'}, {"create", no_argument, NULL, 'c'},
					   {0}};
	pid_t pid = 0;
	bool shared = false, create = false, have_version = false;
	uint64_t version = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:sV:c", lo, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (cli_parse_pid("acquire", optarg, &pid))
				return CLI_USAGE;
			break;
		case 's': shared = true; break;
		case 'c': create = true; break;
		case 'V':
			if (sm_parse_u64(optarg, 0, UINT64_MAX, &version) < 0)
				return cli_usage_error("acquire", "--version must be a lease version");
			have_version = true;
			break;
		default: return cli_usage_error("acquire", "unknown option");
		}
	}
	if (!pid)
		return cli_usage_error("acquire", "--pid P is required: the process that holds the lease (it is killed if "
						  "the lease is lost; to run a command under a lease use 'sync_manager run')");
	if (optind >= argc)
		return cli_usage_error("acquire", "name at least one resource");
	struct sm_resource *res;
	int n;
	if (cli_parse_resources("acquire", argc - optind, argv + optind, &res, &n))
		return CLI_USAGE;
	for (int i = 0; i < n; i++) {
		res[i].mode = shared ? SM_SHARED : SM_EXCLUSIVE;
		res[i].at_version = have_version;
		res[i].version = version;
	}
	sm_conn *conn;
	if (ensure_registered(&conn, pid)) {
		free(res);
		return CLI_FAIL;
	}
	struct sm_lease_info *info = calloc((size_t)n, sizeof(*info));
	int rc = sm_acquire(conn, pid, res, n, create ? SM_ACQUIRE_CREATE : 0, info);
	if (rc < 0) {
		cli_daemon_fail(conn, rc, "acquire");
	} else {
		for (int i = 0; i < n; i++)
			printf("acquired %s:%s %s at lver %llu for pid %d\n", info[i].lockspace, info[i].name,
			       info[i].mode == SM_SHARED ? "shared" : "exclusive", (unsigned long long)info[i].lver, (int)pid);
	}
	free(info);
	free(res);
	sm_conn_close(conn);
	return rc < 0 ? CLI_FAIL : CLI_OK;
}

int cmd_release(int argc, char **argv)
{
	static const struct option lo[] = {{"pid", required_argument, NULL, 'p'}, {"all", no_argument, NULL, 'a'}, {0}};
	pid_t pid = 0;
	bool all = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:a", lo, NULL)) != -1) {
		if (c == 'p') {
			if (cli_parse_pid("release", optarg, &pid))
				return CLI_USAGE;
		} else if (c == 'a') {
			all = true;
		} else {
			return cli_usage_error("release", "unknown option");
		}
	}
	if (!pid)
		return cli_usage_error("release", "--pid P is required");
	if (all == (optind < argc))
		return cli_usage_error("release", "name the resources, or use --all");
	struct sm_resource *res = NULL;
	int n = 0;
	if (!all && cli_parse_resources("release", argc - optind, argv + optind, &res, &n))
		return CLI_USAGE;
	sm_conn *conn;
	if (cli_connect(&conn)) {
		free(res);
		return CLI_FAIL;
	}
	int rc = sm_release(conn, pid, res, n);
	if (rc < 0)
		cli_daemon_fail(conn, rc, "release");
	else
		printf("released %s of pid %d\n", all ? "every lease" : n == 1 ? "the lease" : "the leases", (int)pid);
	free(res);
	sm_conn_close(conn);
	return rc < 0 ? CLI_FAIL : CLI_OK;
}

int cmd_inquire(int argc, char **argv)
{
	static const struct option lo[] = {{"pid", required_argument, NULL, 'p'}, {"json", no_argument, NULL, 'j'},
					   {0}};
	pid_t pid = 0;
	bool json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:j", lo, NULL)) != -1) {
		if (c == 'p') {
			if (cli_parse_pid("inquire", optarg, &pid))
				return CLI_USAGE;
		} else if (c == 'j') {
			json = true;
		} else {
			return cli_usage_error("inquire", "unknown option");
		}
	}
	if (!pid)
		return cli_usage_error("inquire", "--pid P is required");
	sm_conn *conn;
	if (cli_connect(&conn))
		return CLI_FAIL;
	struct sm_lease_info *l = NULL;
	int n = sm_inquire(conn, pid, &l);
	if (n < 0) {
		cli_daemon_fail(conn, n, "inquire");
		sm_conn_close(conn);
		return CLI_FAIL;
	}
	if (json) {
		struct sm_json j;
		sm_json_init(&j, stdout, true);
		sm_json_arr_begin(&j, NULL);
		for (int i = 0; i < n; i++) {
			sm_json_obj_begin(&j, NULL);
			sm_json_str(&j, "lockspace", l[i].lockspace);
			sm_json_str(&j, "resource", l[i].name);
			sm_json_str(&j, "mode", l[i].mode == SM_SHARED ? "SH" : "EX");
			sm_json_u64(&j, "lver", l[i].lver);
			sm_json_obj_end(&j);
		}
		sm_json_arr_end(&j);
		sm_json_end(&j);
	} else {
		for (int i = 0; i < n; i++)
			printf("%s:%s %s lver %llu\n", l[i].lockspace, l[i].name, l[i].mode == SM_SHARED ? "SH" : "EX",
			       (unsigned long long)l[i].lver);
		if (n == 0)
			printf("pid %d holds no leases\n", (int)pid);
	}
	free(l);
	sm_conn_close(conn);
	return CLI_OK;
}

int cmd_convert(int argc, char **argv)
{
	static const struct option lo[] = {{"pid", required_argument, NULL, 'p'}, {"shared", no_argument, NULL, 's'},
					   {"exclusive", no_argument, NULL, 'e'}, {0}};
	pid_t pid = 0;
	int mode = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:se", lo, NULL)) != -1) {
		if (c == 'p') {
			if (cli_parse_pid("convert", optarg, &pid))
				return CLI_USAGE;
		} else if (c == 's') {
			mode = SM_SHARED;
		} else if (c == 'e') {
			mode = SM_EXCLUSIVE;
		} else {
			return cli_usage_error("convert", "unknown option");
		}
	}
	if (!pid || !mode || optind + 1 != argc)
		return cli_usage_error("convert", "usage: convert RESOURCE --pid P --shared|--exclusive");
	struct sm_resource *res;
	int n;
	if (cli_parse_resources("convert", 1, argv + optind, &res, &n))
		return CLI_USAGE;
	sm_conn *conn;
	if (cli_connect(&conn)) {
		free(res);
		return CLI_FAIL;
	}
	int rc = sm_convert(conn, pid, res, (uint32_t)mode);
	if (rc < 0)
		cli_daemon_fail(conn, rc, "convert");
	else
		printf("converted %s to %s\n", argv[optind], mode == SM_SHARED ? "shared" : "exclusive");
	free(res);
	sm_conn_close(conn);
	return rc < 0 ? CLI_FAIL : CLI_OK;
}

int cmd_request(int argc, char **argv)
{
	static const struct option lo[] = {{"release", no_argument, NULL, 'r'}, {"handoff", no_argument, NULL, 'h'},
					   {0}};
	int kind = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c != 'r' && c != 'h')
			return cli_usage_error("request", "unknown option");
		kind = c == 'r' ? SM_REQUEST_RELEASE : SM_REQUEST_HANDOFF;
	}
	if (kind <= 0 || optind + 1 != argc)
		return cli_usage_error("request", "usage: request RESOURCE --release|--handoff");
	struct sm_resource *res;
	int n;
	if (cli_parse_resources("request", 1, argv + optind, &res, &n))
		return CLI_USAGE;
	sm_conn *conn;
	if (cli_connect(&conn)) {
		free(res);
		return CLI_FAIL;
	}
	int rc = sm_request(conn, res, kind);
	if (rc < 0)
		cli_daemon_fail(conn, rc, "request");
	else
		printf("asked the owner of %s to %s\n", argv[optind], kind == SM_REQUEST_RELEASE ? "release it" : "hand it over");
	free(res);
	sm_conn_close(conn);
	return rc < 0 ? CLI_FAIL : CLI_OK;
}

int cmd_shutdown(int argc, char **argv)
{
	static const struct option lo[] = {{"force", no_argument, NULL, 'f'}, {"restart", no_argument, NULL, 'r'}, {0}};
	unsigned flags = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c != 'f' && c != 'r')
			return cli_usage_error("shutdown", "unknown option");
		flags |= c == 'f' ? SM_SHUTDOWN_FORCE : SM_SHUTDOWN_KEEP;
	}
	if (optind < argc)
		return cli_usage_error("shutdown", "unexpected argument '%s'", argv[optind]);
	if ((flags & SM_SHUTDOWN_FORCE) && (flags & SM_SHUTDOWN_KEEP))
		return cli_usage_error("shutdown", "--restart and --force exclude each other");
	sm_conn *conn;
	if (cli_connect(&conn))
		return CLI_FAIL;
	int rc = sm_shutdown(conn, flags);
	if (rc < 0)
		cli_daemon_fail(conn, rc, "shutdown");
	else
		printf("sync_managerd is shutting down%s\n", (flags & SM_SHUTDOWN_KEEP) ? " (leases kept for a restart)" : "");
	sm_conn_close(conn);
	return rc < 0 ? CLI_FAIL : CLI_OK;
}

/* How long `metrics` waits for a daemon that accepted the connection. */
#define METRICS_WAIT_S 10

/* What a scraper should see when no daemon answers: sync_manager_up 0, so a
 * cron job replacing the textfile collector's file does not leave a stale 1. */
static int metrics_down(const char *why)
{
	printf("# HELP sync_manager_up 1 while sync_managerd runs\n# TYPE sync_manager_up gauge\nsync_manager_up 0\n");
	fprintf(stderr, "sync_manager: metrics: %s: printed sync_manager_up 0\n", why);
	return CLI_OK;
}

int cmd_metrics(int argc, char **argv)
{
	static const struct option lo[] = {{0}};
	optind = 1;
	if (getopt_long(argc, argv, "", lo, NULL) != -1) /* the exposition is text only: no --json */
		return cli_usage_error("metrics", "unknown option (metrics takes none; its output is Prometheus text)");
	if (optind < argc)
		return cli_usage_error("metrics", "unexpected argument '%s'", argv[optind]);
	sm_conn *conn;
	int rc = sm_conn_open(&conn);
	if (rc == -SM_ENO_DAEMON)
		return metrics_down("sync_managerd is not running");
	if (rc == -SM_EDAEMON_TIMEOUT)
		return metrics_down("sync_managerd did not accept the connection (hung, or at its fd limit)");
	if (rc < 0 && cli_connect(&conn))
		return CLI_FAIL;
	if (rc == 0)
		cli_cancel_on_interrupt(conn);
	if (sm_conn_timeout(conn) == 0 || sm_conn_timeout(conn) > METRICS_WAIT_S * 1000)
		sm_conn_set_timeout(conn, METRICS_WAIT_S * 1000);
	char *text = NULL;
	rc = sm_metrics(conn, &text);
	if (rc == -SM_EDAEMON_TIMEOUT || rc == -SM_ENO_DAEMON)
		rc = metrics_down(rc == -SM_EDAEMON_TIMEOUT ? "sync_managerd did not answer within 10 s"
							   : "sync_managerd went away");
	else if (rc < 0)
		cli_daemon_fail(conn, rc, "metrics");
	else
		fputs(text, stdout);
	free(text);
	sm_conn_close(conn);
	return rc < 0 ? CLI_FAIL : CLI_OK;
}
