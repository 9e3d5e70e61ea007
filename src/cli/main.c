/* sync_manager: format and inspect lease volumes, talk to sync_managerd. */
#include "cli.h"

#include "common/clock.h"
#include "common/log.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_cmd commands[] = {
	{"status", cmd_status, "[--json] [--watch[=SECONDS]]", "this host's lockspaces, processes and leases"},
	{"join", cmd_join, "LOCKSPACE|VOLUME [--host-id N] [--host-name NAME] [--no-wait]",
	 "join a lockspace by volume, or by name if sync_managerd knows it (waits 2d, or H + 2d)"},
	{"leave", cmd_leave, "LOCKSPACE [--force]", "leave a lockspace (refused while leases are held)"},
	{"hosts", cmd_hosts, "LOCKSPACE [--json]", "hosts of a lockspace and their liveness as this host sees it"},
	{"renewals", cmd_renewals, "LOCKSPACE [--json]", "recent delta-lease renewals of this host"},
	{"run", cmd_run,
	 "-l LEASE [-l LEASE]... [--shared] [--name NAME] [--create] [--receive] [--wait SEC]\n"
	 "      [--kill-signal SIG | --kill-program PATH] -- COMMAND [ARGS]",
	 "run a command holding leases; it is killed if they are lost"},
	{"acquire", cmd_acquire, "RESOURCE... --pid P [--shared] [--version V] [--create]",
	 "acquire leases for a process (which is registered if needed)"},
	{"release", cmd_release, "RESOURCE... --pid P | --all --pid P", "release leases of a process"},
	{"inquire", cmd_inquire, "--pid P [--json]", "leases held by a process"},
	{"convert", cmd_convert, "RESOURCE --pid P --shared|--exclusive", "change a held lease's mode"},
	{"request", cmd_request, "RESOURCE --release|--handoff", "ask a lease's owner to release or hand it over"},
	{"metrics", cmd_metrics, "", "Prometheus text exposition of sync_managerd's metrics"},
	{"shutdown", cmd_shutdown, "[--restart | --force]", "stop sync_managerd (see 'man sync_managerd')"},
	{"daemon", cmd_seed_daemon, "-i HOST_ID -n NAME -l RESOURCE:PATH:OFFSET -c COMMAND [ARGS]",
	 "the original sync_manager form: join, acquire, run COMMAND (same as run)"},
	{"init", cmd_init,
	 "PATH[:OFFSET] --lockspace NAME [--max-hosts N] [--sector-size 512|4096] [--io-timeout SEC]\n"
	 "      [--watchdog-timeout SEC] [--resources N] [--resource NAME]... [--force | --force-live]",
	 "format a file, block device or region of one as a lease volume"},
	{"dump", cmd_dump, "PATH[:OFFSET] [--json]", "show a volume's header, hosts and resources"},
	{"resource", cmd_resource, "add|rm|ls PATH[:OFFSET] [NAME] [--host-id N] [--json]",
	 "list, add or remove named resources in a volume"},
	{"timeouts", cmd_timeouts, "[PATH[:OFFSET] | --io-timeout SEC [--watchdog-timeout SEC]]",
	 "print every timeout derived from io_timeout and the watchdog timeout"},
	{"direct", cmd_direct,
	 "join|renew|leave|acquire|release|inquire|request ... (run 'sync_manager direct' for details)",
	 "act as one host on a volume without the daemon (tests, demos, recovery)"},
};

static void cli_log_sink(enum sm_log_level level, const char *msg, void *arg)
{
	(void)arg;
	static const char *const tag[] = {"error", "warning", "info", "debug"};
	fprintf(stderr, "sync_manager: %s: %s\n", tag[level], msg);
}

volatile sig_atomic_t cli_interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	cli_interrupted = 1;
}

void cli_catch_interrupts(void)
{
	struct sigaction sa = {.sa_handler = on_interrupt};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

void cli_progress(void *arg, const char *what, uint64_t remaining_ms)
{
	(void)arg;
	static char last[256];
	static uint64_t last_print;
	uint64_t now = sm_now_mono_ms();
	if (strncmp(last, what, sizeof(last) - 1) == 0 && now - last_print < 5000)
		return;
	snprintf(last, sizeof(last), "%s", what);
	last_print = now;
	fprintf(stderr, "sync_manager: %s (at most %.1f s; Ctrl-C to stop)\n", what, remaining_ms / 1000.0);
}

int cli_split_resource(const char *spec, char **volume, char **name)
{
	*volume = *name = NULL;
	const char *colon = strrchr(spec, ':');
	if (!colon || colon == spec || !colon[1])
		return -SM_EBAD_ARGUMENT;
	*volume = strndup(spec, (size_t)(colon - spec));
	*name = strdup(colon + 1);
	if (!*volume || !*name) {
		free(*volume);
		free(*name);
		return -ENOMEM;
	}
	return 0;
}

/* What to do about the errors a user meets most, or NULL. */
static const char *fix_hint(int rc)
{
	switch (rc) {
	case -ENOENT: return "check the path; a new volume is made with 'sync_manager init PATH'";
	case -EACCES:
	case -EPERM: return "run as root, or as a user allowed to open the device read-write";
	case -SM_ENOT_FORMATTED: return "check the path and offset, or format it with 'sync_manager init'";
	case -SM_EINDEX_FULL:
		return "remove unused resources ('sync_manager resource rm') or format a volume with more --resources";
	case -SM_ETOO_SMALL: return "give a larger file or device, or fewer --resources / --max-hosts";
	case -SM_EMULTI_VOLUME:
		return "name the lease on one volume, as VOLUME:RESOURCE; volume sets (issue 18) will lift this";
	default: return NULL;
	}
}

int cli_fail(int rc, const char *fmt, ...)
{
	va_list ap;
	fputs("sync_manager: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (rc)
		fprintf(stderr, ": %s", sm_strerror(rc));
	fputc('\n', stderr);
	const char *hint = fix_hint(rc);
	if (hint)
		fprintf(stderr, "  (%s)\n", hint);
	return CLI_FAIL;
}

void cli_print_cmd_usage(FILE *out, const char *cmd)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, cmd) == 0)
			fprintf(out, "usage: sync_manager %s %s\n", commands[i].name, commands[i].args);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "sync_manager %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cli_print_cmd_usage(stderr, cmd);
	return CLI_USAGE;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: sync_manager [-v] COMMAND [ARGS]\n\n"
		     "Leases on shared storage for VMs and processes (version %s).\n\nCommands:\n",
		SM_VERSION);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nRun 'sync_manager COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	sm_log_set_sink(cli_log_sink, NULL);
	sm_log_set_level(SM_LOG_WARN);
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose"))
			sm_log_set_level(sm_log_get_level() < SM_LOG_DEBUG ? sm_log_get_level() + 1 : SM_LOG_DEBUG);
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return CLI_OK;
		} else if (!strcmp(argv[i], "--version")) {
			printf("sync_manager %s\n", SM_VERSION);
			return CLI_OK;
		} else {
			fprintf(stderr, "sync_manager: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (strcmp(commands[c].name, argv[i]) != 0)
			continue;
		for (int k = i + 1; k < argc; k++)
			if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) {
				cli_print_cmd_usage(stdout, argv[i]);
				printf("\n%s\n", commands[c].summary);
				return CLI_OK;
			}
		return commands[c].run(argc - i, argv + i);
	}
	fprintf(stderr, "sync_manager: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return CLI_USAGE;
}
