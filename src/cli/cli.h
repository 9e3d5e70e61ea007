/* The sync_manager command-line tool: shared helpers for subcommands. */
#ifndef SM_CLI_CLI_H
#define SM_CLI_CLI_H

#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes: 0 ok, 1 the operation failed, 2 bad usage. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

struct cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
	const char *args;                  /* one-line synopsis after the name */
	const char *summary;
};

/* Print "sync_manager: <msg>: <strerror(rc)>" to stderr; returns CLI_FAIL. */
int cli_fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print a usage error naming the subcommand; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print the usage of one subcommand (from the table). */
void cli_print_cmd_usage(FILE *out, const char *cmd);

/* Progress for long waits (sm_progress_fn): one line when the reason
 * changes, then a line every few seconds with the time left. */
void cli_progress(void *arg, const char *what, uint64_t remaining_ms);
/* Ctrl-C / SIGTERM set this flag (installed by cli_catch_interrupts). */
extern volatile sig_atomic_t cli_interrupted;
void cli_catch_interrupts(void);

/* "VOLUME_PATH[:OFFSET]:NAME" -> volume spec (malloc'd) and name (malloc'd). */
int cli_split_resource(const char *spec, char **volume, char **name);

/* Subcommands. */
int cmd_init(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_resource(int argc, char **argv);
int cmd_timeouts(int argc, char **argv);
int cmd_direct(int argc, char **argv);

#endif
