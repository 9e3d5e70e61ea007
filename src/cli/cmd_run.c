/* sync_manager run: run a command under leases (and the seed's
 * `sync_manager daemon -i HOST_ID -n NAME -l LEASE -c COMMAND ARGS`).
 *
 * The command runs as our child.  We register it with sync_managerd and
 * acquire its leases before it starts (it waits on a pipe), then wait for
 * it, forwarding signals.  sync_managerd kills it if the leases are lost.
 * When it ends, its leases are released — or, if it ended successfully and
 * another host asked for a hand-off, handed to that host. */
#include "cli.h"

#include "common/clock.h"
#include "common/util.h"
#include "sync_manager/admin.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>


struct run_opts {
	const char *leases[16];
	int nleases;
	bool shared, receive, create;
	const char *name;
	int kill_signal;
	const char *kill_program;
	unsigned wait_ms;
};

static volatile sig_atomic_t child_pid;

static void forward(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

static int run_command(const struct run_opts *o, char **cmd)
{
	struct sm_resource res[16];
	for (int i = 0; i < o->nleases; i++) {
		if (cli_resource_parse(o->leases[i], &res[i]) < 0)
			return cli_usage_error("run", "'%s' is not a lease: use LOCKSPACE:NAME, /VOLUME[:OFFSET]:NAME or "
						      "NAME:/VOLUME[:OFFSET]",
					       o->leases[i]);
		res[i].mode = o->shared ? SM_SHARED : SM_EXCLUSIVE;
	}
	sm_conn *c;
	if (cli_connect(&c))
		return CLI_FAIL;
	int go[2];
	if (pipe2(go, O_CLOEXEC) < 0)
		return cli_fail(-errno, "pipe");
	pid_t pid = fork();
	if (pid < 0)
		return cli_fail(-errno, "fork");
	if (pid == 0) {
		close(go[1]);
		char b;
		if (read(go[0], &b, 1) != 1)
			_exit(126); /* the leases were not granted */
		execvp(cmd[0], cmd);
		fprintf(stderr, "sync_manager: cannot run %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	close(go[0]);
	child_pid = pid;
	char name[64];
	snprintf(name, sizeof(name), "%s", o->name ? o->name : cmd[0]);
	if (strlen(name) > SM_NAME_MAX)
		name[SM_NAME_MAX] = '\0';
	for (char *p = name; *p; p++)
		if (*p == ' ' || *p == ':' || *p == '/')
			*p = '_';
	int rc = sm_register_pid(c, pid, name);
	if (rc == 0 && (o->kill_signal || o->kill_program))
		rc = sm_set_kill(c, pid, o->kill_signal, o->kill_program, NULL, 0);
	struct sm_lease_info info[16];
	uint64_t give_up = sm_now_mono_ms() + o->wait_ms;
	bool said = false;
	for (int calls = 1; rc == 0; calls++) {
		rc = o->receive ? sm_receive(c, pid, &res[0], o->wait_ms ? o->wait_ms : 60000, info)
				: sm_acquire(c, pid, res, o->nleases, o->create ? SM_ACQUIRE_CREATE : 0, info);
		if (o->receive || !cli_try_again(rc, sm_now_mono_ms() < give_up, calls) || cli_interrupted)
			break;
		if (!said) {
			fprintf(stderr, "sync_manager: %s; waiting up to %u s\n", sm_conn_message(c), o->wait_ms / 1000);
			said = true;
		}
		usleep(500000);
		rc = 0;
	}
	if (rc < 0) {
		cli_daemon_fail(c, rc, o->receive ? "cannot receive the lease" : "cannot acquire the leases");
		close(go[1]);
		waitpid(pid, NULL, 0);
		sm_conn_close(c);
		return CLI_FAIL;
	}
	for (int i = 0; i < (o->receive ? 1 : o->nleases); i++)
		fprintf(stderr, "sync_manager: %s %s:%s %s at lver %llu; running %s as pid %d\n",
			o->receive ? "received" : "acquired", info[i].lockspace, info[i].name,
			info[i].mode == SM_SHARED ? "shared" : "exclusive", (unsigned long long)info[i].lver, cmd[0],
			(int)pid);
	struct sigaction sa = {.sa_handler = forward};
	sigemptyset(&sa.sa_mask);
	for (int s = 1; s < 32; s++)
		if (s == SIGTERM || s == SIGINT || s == SIGHUP || s == SIGQUIT || s == SIGUSR1 || s == SIGUSR2)
			sigaction(s, &sa, NULL);
	if (write(go[1], "g", 1) != 1)
		kill(pid, SIGKILL);
	close(go[1]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	rc = ok ? sm_release_handoff(c, pid) : sm_release(c, pid, NULL, 0);
	if (rc < 0 && rc != -SM_ENOT_REGISTERED)
		fprintf(stderr, "sync_manager: warning: releasing the leases failed: %s\n",
			sm_conn_message(c)[0] ? sm_conn_message(c) : sm_strerror(rc));
	sm_conn_close(c);
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "sync_manager: %s (pid %d) was killed by signal %d\n", cmd[0], (int)pid, WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	return WEXITSTATUS(status);
}

static int parse_signal(const char *s)
{
	static const struct { const char *n; int v; } sigs[] = {
		{"TERM", SIGTERM}, {"KILL", SIGKILL}, {"INT", SIGINT}, {"HUP", SIGHUP}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}};
	if (!strncmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (!strcmp(s, sigs[i].n))
			return sigs[i].v;
	uint64_t v;
	return sm_parse_u64(s, 1, 31, &v) == 0 ? (int)v : -1;
}

int cmd_run(int argc, char **argv)
{
	static const struct option lo[] = {
		{"lease", required_argument, NULL, 'l'}, {"shared", no_argument, NULL, 's'},
		{"name", required_argument, NULL, 'n'}, {"receive", no_argument, NULL, 'R'},
		{"create", no_argument, NULL, 'c'}, {"kill-signal", required_argument, NULL, 'k'},
		{"kill-program", required_argument, NULL, 'K'}, {"wait", required_argument, NULL, 'w'}, {0}};
	struct run_opts o = {0};
	uint64_t ms;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+l:sn:", lo, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (o.nleases == 16)
				return cli_usage_error("run", "at most 16 leases");
			o.leases[o.nleases++] = optarg;
			break;
		case 's': o.shared = true; break;
		case 'n': o.name = optarg; break;
		case 'R': o.receive = true; break;
		case 'c': o.create = true; break;
		case 'k':
			if ((o.kill_signal = parse_signal(optarg)) < 0)
				return cli_usage_error("run", "--kill-signal: unknown signal '%s'", optarg);
			break;
		case 'K': o.kill_program = optarg; break;
		case 'w':
			if (sm_parse_seconds_ms(optarg, 0, 3600000, &ms) < 0)
				return cli_usage_error("run", "--wait must be seconds");
			o.wait_ms = (unsigned)ms;
			break;
		default: return cli_usage_error("run", "unknown option");
		}
	}
	if (!o.nleases)
		return cli_usage_error("run", "name at least one lease with -l");
	if (o.receive && (o.nleases != 1 || o.shared))
		return cli_usage_error("run", "--receive takes exactly one exclusive lease");
	if (optind >= argc)
		return cli_usage_error("run", "missing the command (after --)");
	cli_catch_interrupts();
	return run_command(&o, argv + optind);
}

/* The seed's form: sync_manager daemon -i HOST_ID -n NAME -l LEASE -c COMMAND ARGS,
 * LEASE = RESOURCE:PATH:OFFSET, or RESOURCE:/A,/B,/C for a volume set.  Joins
 * the lockspace of PATH:OFFSET (or of the set) as HOST_ID (if this host has not
 * yet), creates RESOURCE if missing (not on a set), then runs. */
int cmd_seed_daemon(int argc, char **argv)
{
	struct run_opts o = {.wait_ms = 60000, .create = true};
	uint32_t host_id = 0;
	bool receive = false;
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-c"))
			break;
		if (i + 1 >= argc && strcmp(a, "--receive-lease") && strcmp(a, "-r"))
			return cli_usage_error("daemon", "option %s needs a value", a);
		if (!strcmp(a, "-i")) {
			uint64_t v;
			if (sm_parse_u64(argv[++i], 1, 2000, &v) < 0)
				return cli_usage_error("daemon", "-i must be a host_id (1..2000)");
			host_id = (uint32_t)v;
		} else if (!strcmp(a, "-n")) {
			o.name = argv[++i];
		} else if (!strcmp(a, "-l")) {
			if (o.nleases == 16)
				return cli_usage_error("daemon", "at most 16 leases");
			o.leases[o.nleases++] = argv[++i];
		} else if (!strcmp(a, "--receive-lease") || !strcmp(a, "-r")) {
			receive = true;
		} else {
			return cli_usage_error("daemon", "unknown option %s", a);
		}
	}
	if (i >= argc - 1)
		return cli_usage_error("daemon", "missing -c COMMAND [ARGS]");
	if (!o.nleases)
		return cli_usage_error("daemon", "missing -l RESOURCE:PATH:OFFSET");
	for (int k = 0; k < o.nleases; k++) {
		struct sm_resource r;
		int prc = sm_resource_parse(o.leases[k], &r);
		if (prc == 0 && r.nlocations > 1) /* independent volumes: use a volume set (NAME:/A,/B,/C) */
			return cli_fail(-SM_EMULTI_VOLUME, "refusing -l %s on %d volumes", o.leases[k], r.nlocations);
		if (prc < 0 || r.nlocations != 1)
			return cli_usage_error("daemon", "'%s' is not RESOURCE:PATH:OFFSET", o.leases[k]);
		if (cli_join_and_wait(r.location[0], host_id, NULL) != CLI_OK)
			return CLI_FAIL;
	}
	o.receive = receive;
	if (o.receive)
		o.create = false;
	return run_command(&o, argv + i + 1);
}
