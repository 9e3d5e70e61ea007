/* sync_manager: format and inspect lease volumes, talk to sync_managerd. */
#include "cli.h"

#include "disk/cawfile.h"

#include "common/clock.h"
#include "common/log.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_OPT "  --json               machine-readable output (JSON) instead of the table\n"
#define RES_FORMS                                                                                                    \
	"RESOURCE is LOCKSPACE:NAME (a lockspace this host has joined), /VOLUME[:OFFSET]:NAME (a relative\n"       \
	"volume path needs a '/': ./leases:vm1) or NAME:/VOLUME[:OFFSET].\n"

static const struct cli_cmd commands[] = {
	{"status", cmd_status, "[--json] [--watch[=SECONDS]]", "this host's lockspaces, processes and leases",
	 JSON_OPT
	 "  --watch[=SECONDS]    refresh every SECONDS (default 1, at least 0.1) until Ctrl-C, adding each\n"
	 "                       lockspace's hosts; at a terminal the screen is redrawn. When sync_managerd\n"
	 "                       stops, the watch says so and goes on until it is back.\n"},
	{"join", cmd_join, "LOCKSPACE|VOLUME [--host-id N] [--host-name NAME] [--no-wait]",
	 "join a lockspace by volume, or by name if sync_managerd knows it (waits 2d, or H + 2d)",
	 "  --host-id N          take host_id N (1 .. the volume's max hosts). Default: the slot that carries\n"
	 "                       this host's name, else a free one\n"
	 "  --host-name NAME     the name written in the host record. Default: sync_managerd's host_name\n"
	 "                       (sync_managerd.conf; by default this host's hostname)\n"
	 "  --no-wait            return once the join has started (default: wait until joined: 2d + 0.1 s on a\n"
	 "                       free slot, H + 2d on one that was held; Ctrl-C cancels the join)\n"
	 "LOCKSPACE works when sync_managerd knows its volume (joined before, or under join in its config);\n"
	 "an argument that names an existing file is always a VOLUME (PATH[:OFFSET]).\n"},
	{"leave", cmd_leave, "LOCKSPACE [--force]", "leave a lockspace (refused while leases are held)",
	 "  --force              kill the processes holding leases in it, release them, then leave\n"
	 "                       (default: refuse while any process on this host holds one)\n"},
	{"hosts", cmd_hosts, "LOCKSPACE [--json]", "hosts of a lockspace and their liveness as this host sees it",
	 JSON_OPT "States: live, failing (no renewal seen for F), dead (none for more than H), unknown, free.\n"},
	{"renewals", cmd_renewals, "LOCKSPACE [--json]", "recent delta-lease renewals of this host", JSON_OPT},
	{"run", cmd_run,
	 "-l LEASE [-l LEASE]... [--shared] [--name NAME] [--create] [--receive] [--wait SEC]\n"
	 "      [--kill-signal SIG | --kill-program PATH] -- COMMAND [ARGS]",
	 "run a command holding leases; it is killed if they are lost",
	 "  -l, --lease LEASE    a lease to hold (up to 16): LOCKSPACE:NAME, /VOLUME[:OFFSET]:NAME or\n"
	 "                       NAME:/VOLUME[:OFFSET]; the resource must exist (see --create)\n"
	 "  --shared             shared leases (default: exclusive)\n"
	 "  --name NAME          the process's name in 'status' (default: COMMAND's name)\n"
	 "  --create             add a resource missing from the volume's index first (default: a missing\n"
	 "                       resource is an error: a mistyped name must not become a new lease)\n"
	 "  --receive            take the one exclusive LEASE over from its owner when the owner's command\n"
	 "                       exits with status 0 (a hand-off; the owner is untouched until then)\n"
	 "  --wait SEC           retry up to SEC while a lease is held elsewhere (default 0: fail at once);\n"
	 "                       with --receive, how long to wait for the hand-off (default 60)\n"
	 "  --kill-signal SIG    what sync_managerd does to COMMAND when the leases are lost: signal SIG\n"
	 "                       (TERM, KILL, INT, HUP, USR1, USR2 or 1-31). Default: SIGTERM, then SIGKILL\n"
	 "                       after the grace time G = min(W/2, 30 s)\n"
	 "  --kill-program PATH  run PATH (with COMMAND's pid as its last argument) instead of signalling\n"
	 "Exit status: COMMAND's (128 + N when killed by signal N); 1 when the leases were not granted.\n"},
	{"acquire", cmd_acquire, "RESOURCE... --pid P [--shared] [--version V] [--create]",
	 "acquire leases for a process (which is registered if needed)",
	 "  --pid P              the process that holds the leases (required); they end when it exits, and\n"
	 "                       it is killed if they are lost\n"
	 "  --shared             shared leases (default: exclusive)\n"
	 "  --version V          only at lease version V (hand-off, resuming a paused process); default: any\n"
	 "  --create             add a resource missing from the volume's index first (default: an error)\n"
	 RES_FORMS},
	{"release", cmd_release, "RESOURCE... --pid P | --all --pid P", "release leases of a process",
	 "  --pid P              the process whose leases are released (required)\n"
	 "  --all                every lease of P (instead of naming them)\n" RES_FORMS},
	{"inquire", cmd_inquire, "--pid P [--json]", "leases held by a process",
	 "  --pid P              the process (required)\n" JSON_OPT},
	{"convert", cmd_convert, "RESOURCE --pid P --shared|--exclusive", "change a held lease's mode",
	 "  --pid P              the process holding the lease (required)\n"
	 "  --shared, --exclusive  the new mode (one is required)\n" RES_FORMS},
	{"request", cmd_request, "RESOURCE --release|--handoff", "ask a lease's owner to release or hand it over",
	 "  --release            ask the owner to release it\n"
	 "  --handoff            ask the owner to hand it to this host when its process ends (to receive\n"
	 "                       it, use 'run --receive' or 'daemon -r': a bare request expires)\n" RES_FORMS},
	{"metrics", cmd_metrics, "", "Prometheus text exposition of sync_managerd's metrics",
	 "No options: the output is Prometheus text (see docs/metrics.md).\n"},
	{"shutdown", cmd_shutdown, "[--restart | --force]", "stop sync_managerd (see 'man sync_managerd')",
	 "  --restart            keep the leases and their processes for the next sync_managerd, which must\n"
	 "                       start within F\n"
	 "  --force              kill the processes holding leases first\n"
	 "Default: refuse while leases are held.\n"},
	{"daemon", cmd_seed_daemon, "-i HOST_ID -n NAME -l RESOURCE:PATH:OFFSET [-r] -c COMMAND [ARGS]",
	 "the original sync_manager form: join, acquire, run COMMAND (same as run)",
	 "  -i HOST_ID           join the lockspace of PATH:OFFSET as HOST_ID if this host has not joined it\n"
	 "                       (default: the host_id chosen by this host's name, as 'join' does)\n"
	 "  -n NAME              the process's name in 'status'\n"
	 "  -l RESOURCE:PATH:OFFSET  the lease (repeatable, one volume each; or RESOURCE:/A,/B,/C on a volume\n"
	 "                       set); RESOURCE is created if missing (not on a set)\n"
	 "  -r, --receive-lease  receive the one lease from its current owner instead of acquiring it, as\n"
	 "                       'run --receive' (the resource must exist)\n"
	 "  -c COMMAND [ARGS]    the command; everything after -c is its\n"
	 "Waits up to 60 s: for a lease held elsewhere to become free (unlike run, whose --wait defaults to\n"
	 "0), or with -r for the hand-off. Then runs COMMAND as 'run' does.\n"},
	{"init", cmd_init,
	 "PATH[:OFFSET] --lockspace NAME [--max-hosts N] [--sector-size 512|4096] [--io-timeout SEC]\n"
	 "      [--watchdog-timeout SEC] [--resources N] [--resource NAME]... [--force | --force-live]\n"
	 "      [--fence pr [--fence-device DEV]...] [--lease-io caw|paxos|auto [--caw-trust-target]]",
	 "format a file, block device or region of one as a lease volume",
	 "  --lockspace NAME     the lockspace's name (required; hosts join by it)\n"
	 "  --max-hosts N        host slots (default 128)\n"
	 "  --sector-size S      512 or 4096 (default: the device's logical block size; 512 for files)\n"
	 "  --io-timeout SEC     io_timeout d (default 10): renewals every 2d, leases lost after 8d\n"
	 "  --watchdog-timeout SEC  the hosts' watchdog fire time W (default 60); H = 8d + W\n"
	 "  --resources N        resource areas (default 1024)\n"
	 "  --resource NAME      name a resource now (repeatable); 'resource add' names more later\n"
	 "  --force              format over an existing volume once no host on it is live (waits to see)\n"
	 "  --force-live         format over it at once, listing the live hosts and leases it destroys\n"
	 "  --fence pr           fence by SCSI/NVMe persistent reservation: a host taking a lease over\n"
	 "                       preempts the silent owner's key (after T = 3d) instead of waiting H\n"
	 "  --fence-device DEV   a data LUN to fence too (repeatable; the lease LUN always is)\n"
	 "  --lease-io M         how leases are written: paxos (Disk Paxos, any storage; the default),\n"
	 "                       caw (SCSI COMPARE AND WRITE: one round trip per acquire; the device is\n"
	 "                       probed and refused if it cannot), auto (caw if the probe passes)\n"
	 "  --caw-trust-target   caw on a target known to lose COMPARE AND WRITE atomicity after a\n"
	 "                       rejected command (LIO): you assert this one does not\n"
	 "Three PATHs (PATH1 PATH2 PATH3) format a volume set, joined as PATH1,PATH2,PATH3.\n"},
	{"dump", cmd_dump, "PATH[:OFFSET] [--json]", "show a volume's header, hosts and resources", JSON_OPT},
	{"resource", cmd_resource, "add|rm|ls LOCKSPACE|VOLUME [NAME] [--host-id N] [--json]",
	 "list, add or remove named resources in a volume",
	 "  --host-id N          add|rm without sync_managerd: join as host_id N for the change (default:\n"
	 "                       through sync_managerd when it has joined the lockspace, else by joining\n"
	 "                       for the change under this host's name + \"-admin\")\n"
	 "  --json               ls: machine-readable output\n"
	 "LOCKSPACE: a lockspace sync_managerd knows (its volume); VOLUME: PATH[:OFFSET] or a set A,B,C.\n"},
	{"timeouts", cmd_timeouts,
	 "[PATH[:OFFSET] | --io-timeout SEC [--watchdog-timeout SEC] [--fence pr] [--lease-io caw]] [--json]",
	 "print every timeout derived from io_timeout and the watchdog timeout",
	 "  --io-timeout SEC     d to derive from (default 10, or the volume's)\n"
	 "  --watchdog-timeout SEC  W to derive from (default 60, or the volume's)\n"
	 "  --fence pr           also the timeouts of fencing by reservation (a volume says itself)\n"
	 "  --lease-io caw       the joins of leases by COMPARE AND WRITE (no wait; a volume says itself)\n" JSON_OPT},
	{"direct", cmd_direct,
	 "join|renew|leave|acquire|release|inquire|request ... (run 'sync_manager direct' for details)",
	 "act as one host on a volume without the daemon (tests, demos, recovery)",
	 "  --host-id N          the host_id to act as (join: default by --host-name)\n"
	 "  --host-name NAME     join: the name for the host record (default: this host's hostname)\n"
	 "  --generation G       the generation of that host_id (default: the one on the volume)\n"
	 "  --shared             acquire|release: shared mode (default exclusive)\n"
	 "  --version V          acquire only at lease version V\n"
	 "  --wait SEC           acquire: retry while held elsewhere up to SEC (default 0)\n"
	 "  --release, --handoff request: what to ask the owner\n"
	 "  --force              leave even while holding leases\n" JSON_OPT},
};

unsigned cli_errors_logged;

static void cli_log_sink(enum sm_log_level level, const char *msg, void *arg)
{
	(void)arg;
	if (level == SM_LOG_ERROR)
		cli_errors_logged++;
	static const char *const tag[] = {"error", "warning", "info", "debug"};
	fprintf(stderr, "sync_manager: %s: %s\n", tag[level], msg);
}

volatile sig_atomic_t cli_interrupted;
volatile sig_atomic_t cli_signal;
bool cli_wait_cancelled;

static void on_interrupt(int sig)
{
	cli_interrupted = 1;
	cli_signal = sig;
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
	fprintf(out, "('sync_manager %s --help' explains every option)\n", cmd);
}

/* The synopsis, the summary, the options (lines of c->options that start
 * with a blank), then its notes (the other lines) and the exit status. */
static void print_cmd_help(const struct cli_cmd *c)
{
	printf("usage: sync_manager %s %s\n\n%s.\n\nOptions:\n", c->name, c->args, c->summary);
	for (int notes = 0; notes < 2; notes++) {
		for (const char *l = c->options; *l;) {
			size_t n = strcspn(l, "\n");
			if ((l[0] == ' ') != notes)
				printf("%.*s\n", (int)n, l);
			l += n + (l[n] == '\n');
		}
		if (!notes)
			printf("  -h, --help           this help\n\n");
	}
	if (!strstr(c->options, "Exit status"))
		printf("Exit status: 0 done, 1 the operation failed (the reason is printed), 2 bad usage.\n");
}

/* --help or -h among a command's own arguments: not in the command that run
 * and daemon start (after "--", or after daemon's -c). */
static bool wants_help(const char *cmd, int argc, char **argv)
{
	for (int k = 0; k < argc; k++) {
		if (!strcmp(argv[k], "--") || (!strcmp(cmd, "daemon") && !strcmp(argv[k], "-c")))
			return false;
		if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h"))
			return true;
	}
	return false;
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
	fprintf(out, "usage: sync_manager [-v]... COMMAND [ARGS]\n\n"
		     "Leases on shared storage for VMs and processes (version %s).\n\nCommands:\n",
		SM_VERSION);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nOptions (before COMMAND):\n"
		     "  -v, --verbose  also print what the lease code does (info messages: joins, ballots,\n"
		     "                 waits); twice (-v -v) also debug messages. Default: warnings and errors\n"
		     "  -h, --help     this help\n"
		     "  --version      print the version\n"
		     "\nRun 'sync_manager COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	sm_log_set_sink(cli_log_sink, NULL);
	sm_log_set_level(SM_LOG_WARN);
	sm_cawfile_from_env(); /* tests only: SYNC_MANAGER_TEST_CAW_FILES=1 */
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
		if (wants_help(argv[i], argc - i - 1, argv + i + 1)) {
			print_cmd_help(&commands[c]);
			return CLI_OK;
		}
		int rc = commands[c].run(argc - i, argv + i);
		if (rc != CLI_OK && cli_signal && cli_wait_cancelled) {
			/* Ctrl-C or SIGTERM cancelled a wait for the daemon: say
			 * so, exit as a shell reports a killed command */
			fprintf(stderr, "sync_manager: %s: stopped by %s\n", argv[i],
				cli_signal == SIGINT ? "Ctrl-C (SIGINT)" : "SIGTERM");
			return 128 + cli_signal;
		}
		return rc;
	}
	fprintf(stderr, "sync_manager: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return CLI_USAGE;
}
