/* The sync_manager command-line tool: shared helpers for subcommands. */
#ifndef SM_CLI_CLI_H
#define SM_CLI_CLI_H

#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "sync_manager/errors.h"

/* Should an acquire that failed with rc be tried again?  A refusal (the
 * lease is held, or its holder's liveness not yet known) while the caller's
 * --wait lasts; a lost race (class RETRY: a concurrent ballot) while it
 * lasts or, even without --wait, for the first CLI_QUICK_RETRIES calls. Run
 * and direct acquire both decide so. */
#define CLI_QUICK_RETRIES 3
static inline bool cli_try_again(int rc, bool time_left, int calls_so_far)
{
	enum sm_error_class cls = sm_error_class(rc);
	if (cls == SM_ERRCLASS_REFUSED)
		return time_left;
	return cls == SM_ERRCLASS_RETRY && (time_left || calls_so_far < CLI_QUICK_RETRIES);
}

/* Exit codes: 0 ok, 1 the operation failed, 2 bad usage. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

struct cli_cmd {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
	const char *args;                  /* one-line synopsis after the name */
	const char *summary;
	const char *options;               /* --help: each option, its meaning and default */
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
/* Errors the library has logged (printed as "sync_manager: error: ..."): a
 * command that sees it grow need not say the same again. */
extern unsigned cli_errors_logged;
/* Ctrl-C / SIGTERM set this flag (installed by cli_catch_interrupts). */
extern volatile sig_atomic_t cli_interrupted;
/* The last of those signals caught (0: none).  A command whose wait for
 * the daemon it cancelled (cli_wait_cancelled, set by cli_connect and
 * cli_daemon_fail on -SM_EINTERRUPTED) exits with 128 + its number, as a
 * shell reports a killed command; commands that handle Ctrl-C themselves
 * (init, join, direct) keep their own exit status. */
extern volatile sig_atomic_t cli_signal;
extern bool cli_wait_cancelled;
void cli_catch_interrupts(void);

/* "VOLUME_PATH[:OFFSET]:NAME" -> volume spec (malloc'd) and name (malloc'd). */
int cli_split_resource(const char *spec, char **volume, char **name);

/* Talking to sync_managerd (cmd_host.c). */
struct sm_conn;
struct sm_resource;
/* Ctrl-C and SIGTERM cancel c's waits for the daemon (its calls then fail
 * with -SM_EINTERRUPTED); cli_connect does this. */
void cli_cancel_on_interrupt(struct sm_conn *c);
/* Connect, or explain that no daemon runs; returns CLI_OK or CLI_FAIL.
 * Every call on the connection waits at most $SYNC_MANAGER_TIMEOUT (the
 * library's default) and stops on Ctrl-C or SIGTERM. */
int cli_connect(struct sm_conn **c);
/* Print the daemon's explanation of a failure; returns CLI_FAIL. */
int cli_daemon_fail(struct sm_conn *c, int rc, const char *what);
int cli_parse_pid(const char *cmd, const char *arg, pid_t *pid);
/* sm_resource_parse(), with a relative volume path ("./v:r1", "d/v:r1") made
 * absolute against the current directory. */
int cli_resource_parse(const char *spec, struct sm_resource *r);
int cli_parse_resources(const char *cmd, int argc, char **argv, struct sm_resource **out, int *n);
int cli_join_and_wait(const char *location, uint32_t host_id, const char *host_name);

/* init --force: before the volume at path:offset is overwritten, watch its
 * host records and refuse while a host is live; --force-live formats anyway
 * after listing the hosts and leases it destroys (init_guard.c).  Used as
 * sm_format_params.before_overwrite; reported is set when it has explained
 * a refusal or an interruption. */
struct sm_volume_header;
struct init_guard {
	const char *spec; /* the location as the user gave it */
	const char *path;
	uint64_t offset;
	bool force_live;
	bool reported;
	/* Formatting a volume set: its paths "A,B,C", so that an old volume set
	 * over them is watched as a whole (once: its set_uuid is then noted). */
	const char *set_spec;
	uint8_t set_checked[16];
};
int init_guard_check(void *arg, const struct sm_volume_header *old);

/* Subcommands. */
int cmd_init(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_resource(int argc, char **argv);
int cmd_timeouts(int argc, char **argv);
int cmd_direct(int argc, char **argv);
int cmd_join(int argc, char **argv);
int cmd_leave(int argc, char **argv);
int cmd_acquire(int argc, char **argv);
int cmd_release(int argc, char **argv);
int cmd_inquire(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_request(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_hosts(int argc, char **argv);
int cmd_renewals(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_shutdown(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_seed_daemon(int argc, char **argv);

#endif
