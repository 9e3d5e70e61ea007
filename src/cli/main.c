/* sync_manager: format and inspect lease volumes, talk to sync_managerd. */
#include "cli.h"

#include "common/log.h"
#include "sync_manager/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cli_cmd commands[] = {
	{"init", cmd_init,
	 "PATH[:OFFSET] --lockspace NAME [--max-hosts N] [--sector-size 512|4096] [--io-timeout SEC]\n"
	 "      [--watchdog-timeout SEC] [--resources N] [--resource NAME]... [--force]",
	 "format a file, block device or region of one as a lease volume"},
	{"dump", cmd_dump, "PATH[:OFFSET] [--json]", "show a volume's header, hosts and resources"},
	{"resource", cmd_resource, "add|rm|ls PATH[:OFFSET] [NAME] [--json]",
	 "list, add or remove named resources in a volume"},
};

static void cli_log_sink(enum sm_log_level level, const char *msg, void *arg)
{
	(void)arg;
	static const char *const tag[] = {"error", "warning", "info", "debug"};
	fprintf(stderr, "sync_manager: %s: %s\n", tag[level], msg);
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
