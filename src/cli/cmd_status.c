/* sync_manager status / hosts / renewals: human tables or --json. */
#include "cli.h"
#include "report.h"

#include "common/clock.h"
#include "common/util.h"
#include "sync_manager/admin.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


static const struct column ls_cols[] = {
	{"name", "LOCKSPACE", COL_PLAIN},       {"state", "STATE", COL_PLAIN},
	{"host_id", "HOST_ID", COL_PLAIN},      {"generation", "GEN", COL_PLAIN},
	{"last_renewal_age_ms", "RENEWED", COL_AGE_MS}, {"last_renewal_took_ms", "TOOK", COL_DURATION_MS},
	{"renewal_max_ms", "MAX TOOK", COL_DURATION_MS}, {"leases_expire_in_ms", "EXPIRES IN", COL_DURATION_MS},
	{"leases", "LEASES", COL_PLAIN},        {"volume", "VOLUME", COL_PLAIN},
};
static const struct column proc_cols[] = {
	{"pid", "PID", COL_PLAIN}, {"name", "NAME", COL_PLAIN},   {"state", "STATE", COL_PLAIN},
	{"leases", "LEASES", COL_PLAIN}, {"connected", "CONNECTED", COL_PLAIN}, {"kill", "KILL", COL_PLAIN},
};
static const struct column lease_cols[] = {
	{"lockspace", "LOCKSPACE", COL_PLAIN}, {"resource", "RESOURCE", COL_PLAIN}, {"mode", "MODE", COL_PLAIN},
	{"lver", "LVER", COL_PLAIN},           {"pids", "PIDS", COL_PLAIN},         {"state", "STATE", COL_PLAIN},
};
/* While watching, lease rows also name the host that owns them (this host,
 * by its host_id and name in the lease's lockspace). */
static const struct column lease_watch_cols[] = {
	{"lockspace", "LOCKSPACE", COL_PLAIN}, {"resource", "RESOURCE", COL_PLAIN}, {"mode", "MODE", COL_PLAIN},
	{"lver", "LVER", COL_PLAIN},           {"owner", "OWNER", COL_PLAIN},       {"pids", "PIDS", COL_PLAIN},
	{"state", "STATE", COL_PLAIN},
};
static const struct column host_cols[] = {
	{"host_id", "HOST_ID", COL_PLAIN}, {"name", "NAME", COL_PLAIN}, {"generation", "GEN", COL_PLAIN},
	{"state", "STATE", COL_PLAIN}, {"last_change_age_ms", "LAST CHANGE SEEN", COL_AGE_MS}, {"record", "RECORD", COL_PLAIN},
};
static const struct column renewal_cols[] = {
	{"age_ms", "STARTED", COL_AGE_MS}, {"duration_ms", "TOOK", COL_DURATION_MS}, {"result", "RESULT", COL_PLAIN},
};
#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A copy of the leases section with an "owner" field added to each record
 * ("host_id N (NAME)" of its lockspace on this host); false if out of memory. */
static bool leases_with_owner(const struct sm_report *r, const struct sm_section *leases, struct sm_section *out)
{
	const struct sm_section *ls = sm_report_section(r, "lockspaces");
	*out = *leases;
	out->records = calloc((size_t)leases->nrecords, sizeof(*out->records));
	if (!out->records)
		return false;
	for (int i = 0; i < leases->nrecords; i++) {
		const struct sm_record *src = &leases->records[i];
		struct sm_record *dst = &out->records[i];
		dst->fields = calloc((size_t)src->nfields + 1, sizeof(*dst->fields));
		if (!dst->fields)
			return false;
		memcpy(dst->fields, src->fields, (size_t)src->nfields * sizeof(*dst->fields));
		dst->nfields = src->nfields + 1;
		struct sm_field *o = &dst->fields[src->nfields];
		snprintf(o->key, sizeof(o->key), "owner");
		o->type = SM_FIELD_STR;
		const struct sm_field *lsname = sm_record_field(src, "lockspace");
		for (int k = 0; lsname && ls && k < ls->nrecords; k++) {
			const struct sm_field *n = sm_record_field(&ls->records[k], "name");
			const struct sm_field *id = sm_record_field(&ls->records[k], "host_id");
			const struct sm_field *hn = sm_record_field(&ls->records[k], "host_name");
			if (n && id && id->u64 && strcmp(n->str, lsname->str) == 0)
				snprintf(o->str, sizeof(o->str), "host_id %llu (%s)", (unsigned long long)id->u64,
					 hn && hn->str[0] ? hn->str : "this host");
		}
	}
	return true;
}

static void free_section_copy(struct sm_section *s)
{
	for (int i = 0; s->records && i < s->nrecords; i++)
		free(s->records[i].fields);
	free(s->records);
}

static void print_status(const struct sm_report *r, bool watch)
{
	const struct sm_section *d = sm_report_section(r, "daemon");
	if (d && d->nrecords) {
		char up[32], wd[256], pid[32];
		report_format_field(sm_record_field(&d->records[0], "uptime_ms"), COL_DURATION_MS, up, sizeof(up));
		report_format_field(sm_record_field(&d->records[0], "watchdog"), COL_PLAIN, wd, sizeof(wd));
		report_format_field(sm_record_field(&d->records[0], "pid"), COL_PLAIN, pid, sizeof(pid));
		printf("sync_managerd pid %s, up %s, watchdog %s\n", pid, up, wd);
		const struct sm_field *u = sm_record_field(&d->records[0], "unprotected");
		if (u && u->type == SM_FIELD_BOOL && u->b)
			printf("WARNING: this host runs unprotected: with no watchdog, nothing stops the processes holding "
			       "leases if sync_managerd hangs or is killed (see 'watchdog' in sync_managerd.conf(5))\n");
	}
	const struct sm_section *s = sm_report_section(r, "lockspaces");
	printf("\nLockspaces\n");
	if (s && s->nrecords) {
		report_print_table(s, ls_cols, N(ls_cols), "  ");
		for (int i = 0; i < s->nrecords; i++) {
			const struct sm_field *p = sm_record_field(&s->records[i], "join_progress");
			if (p && p->str[0])
				printf("  %s: %s\n", sm_record_field(&s->records[i], "name")->str, p->str);
			const struct sm_field *fb = sm_record_field(&s->records[i], "fenced_by_reservation");
			if (fb && fb->type == SM_FIELD_BOOL && fb->b)
				printf("  %s: FENCED: another host preempted this host's reservation key; the holders "
				       "of its leases are being killed, then it rejoins with a new key\n",
				       sm_record_field(&s->records[i], "name")->str);
			const struct sm_field *m = sm_record_field(&s->records[i], "members_problem");
			const struct sm_field *nd = sm_record_field(&s->records[i], "members_down");
			if (m && m->str[0])
				printf("  %s: volume set %s: %s\n", sm_record_field(&s->records[i], "name")->str,
				       nd && nd->u64 >= 2 ? "has lost its majority (leases are being fenced)"
							 : "works on the other two members",
				       m->str);
		}
	} else {
		printf("  none joined (sync_manager join VOLUME)\n");
	}
	s = sm_report_section(r, "processes");
	printf("\nProcesses\n");
	if (s && s->nrecords)
		report_print_table(s, proc_cols, N(proc_cols), "  ");
	else
		printf("  none registered\n");
	s = sm_report_section(r, "leases");
	printf("\nLeases\n");
	struct sm_section owned = {0};
	bool with_owner = s && s->nrecords && watch && leases_with_owner(r, s, &owned);
	if (with_owner)
		report_print_table(&owned, lease_watch_cols, N(lease_watch_cols), "  ");
	else if (s && s->nrecords)
		report_print_table(s, lease_cols, N(lease_cols), "  ");
	else
		printf("  none held\n");
	free_section_copy(&owned);
}

/* While watching at a terminal, a frame is first written to a memory file
 * (fd 1 points there), then copied to the terminal with each line cut to its
 * width, so that nothing wraps and the screen stays as it was drawn. */
struct frame {
	int tty_fd, mem_fd;
};

static bool frame_begin(struct frame *f)
{
	fflush(stdout);
	f->mem_fd = memfd_create("status-frame", MFD_CLOEXEC);
	f->tty_fd = f->mem_fd >= 0 ? dup(STDOUT_FILENO) : -1;
	if (f->tty_fd < 0 || dup2(f->mem_fd, STDOUT_FILENO) < 0) {
		if (f->mem_fd >= 0)
			close(f->mem_fd);
		if (f->tty_fd >= 0)
			close(f->tty_fd);
		return false;
	}
	return true;
}

static void frame_end(struct frame *f)
{
	fflush(stdout);
	dup2(f->tty_fd, STDOUT_FILENO);
	close(f->tty_fd);
	struct winsize ws;
	size_t cols = ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 80;
	FILE *in = fdopen(f->mem_fd, "r");
	if (!in) {
		close(f->mem_fd);
		return;
	}
	rewind(in);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, in)) > 0) {
		bool nl = line[n - 1] == '\n';
		size_t len = (size_t)n - nl, shown = 0, vis = 0;
		/* cut after cols visible characters (escape sequences and UTF-8
		 * continuation bytes take no column) */
		while (shown < len) {
			unsigned char c = (unsigned char)line[shown];
			if (c == 0x1b) { /* ESC [ ... letter */
				shown++;
				while (shown < len && !isalpha((unsigned char)line[shown]))
					shown++;
				shown++;
				continue;
			}
			if ((c & 0xc0) != 0x80 && vis++ == cols)
				break;
			shown++;
		}
		fwrite(line, 1, shown, stdout);
		if (nl)
			fputc('\n', stdout);
	}
	free(line);
	fclose(in);
	fflush(stdout);
}

int cmd_status(int argc, char **argv)
{
	static const struct option lo[] = {{"json", no_argument, NULL, 'j'}, {"watch", optional_argument, NULL, 'w'},
					   {0}};
	bool json = false, watch = false;
	uint64_t every_ms = 1000;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "j", lo, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'w') {
			watch = true;
			if (optarg && sm_parse_seconds_ms(optarg, 0, 3600000, &every_ms) < 0)
				return cli_usage_error("status", "--watch=SECONDS must be seconds up to 3600, not '%s'",
						       optarg);
			if (every_ms < 100)
				every_ms = 100;
		} else
			return cli_usage_error("status", "unknown option");
	}
	if (watch && optind < argc) /* "--watch 5": the 5 is no interval */
		return cli_usage_error("status", "unexpected argument '%s' (the interval is given as --watch=SECONDS)",
				       argv[optind]);
	sm_conn *conn = NULL;
	if (!watch && cli_connect(&conn))
		return CLI_FAIL;
	/* --watch ends on Ctrl-C (or SIGTERM) with status 0; it goes on while
	 * sync_managerd is down, saying so, and shows it again once it is back. */
	cli_catch_interrupts();
	/* On a terminal each refresh replaces the screen; otherwise (a file, a
	 * pipe) refreshes follow each other as plain lines, no escape codes. */
	bool tty = isatty(STDOUT_FILENO);
	char every_s[16];
	sm_format_ms(every_ms, every_s, sizeof(every_s));
	int rc = 0;
	unsigned refreshes = 0;
	char down_since[32] = "";
	do {
		struct sm_report *r = NULL;
		struct frame fr;
		bool framed = watch && tty && !json && frame_begin(&fr);
		if (!conn && watch && (rc = sm_conn_open(&conn)) == 0)
			cli_cancel_on_interrupt(conn);
		if (conn)
			rc = sm_status(conn, &r);
		if (rc == -SM_EINTERRUPTED && watch) { /* Ctrl-C: the watch is over */
			if (framed)
				frame_end(&fr);
			rc = 0;
			break;
		}
		if (rc < 0 && !watch) {
			cli_daemon_fail(conn, rc, "status");
			break;
		}
		if (rc < 0 || !conn) {
			/* watching, and the daemon is gone (or not yet there) */
			const char *why = conn && sm_conn_message(conn)[0] ? sm_conn_message(conn) : sm_strerror(rc);
			sm_conn_close(conn);
			conn = NULL;
			time_t now = time(NULL);
			struct tm tm;
			if (!down_since[0] && localtime_r(&now, &tm))
				strftime(down_since, sizeof(down_since), "%H:%M:%S", &tm);
			if (json) {
				printf("{\"daemon\": null, \"error\": \"%s\"}\n", rc == -SM_ENO_DAEMON ? "not running" : "unreachable");
			} else {
				printf("%s%sEvery %s: sync_manager status (Ctrl-C stops)\n", tty ? "\033[H\033[J" : "",
				       tty || !refreshes ? "" : "\n", every_s);
				printf("sync_managerd is down since %s (%s); watching until it is back\n", down_since,
				       rc == -SM_ENO_DAEMON ? "not running" : why);
			}
			refreshes++;
			rc = 0;
		} else if (watch && !json) {
			down_since[0] = '\0';
			char when[32] = "";
			time_t now = time(NULL);
			struct tm tm;
			if (localtime_r(&now, &tm))
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
			printf("%s%sEvery %s: sync_manager status, %s (Ctrl-C stops)\n", tty ? "\033[H\033[J" : "",
			       tty || !refreshes ? "" : "\n", every_s, when);
			refreshes++;
		}
		if (!r) {
			/* said above that the daemon is down */
		} else if (json) {
			static const char *const single[] = {"daemon", NULL};
			report_print_json(r, single);
		} else {
			print_status(r, watch);
			/* also each lockspace's hosts while watching */
			const struct sm_section *s = sm_report_section(r, "lockspaces");
			for (int i = 0; watch && s && i < s->nrecords; i++) {
				const struct sm_field *n = sm_record_field(&s->records[i], "name");
				struct sm_report *h = NULL;
				if (n && sm_hosts(conn, n->str, &h) == 0) {
					printf("\nHosts of %s\n", n->str);
					report_print_table(sm_report_section(h, "hosts"), host_cols, N(host_cols), "  ");
				}
				sm_report_free(h);
			}
		}
		sm_report_free(r);
		if (framed)
			frame_end(&fr);
		fflush(stdout);
		/* sleep in short steps so that Ctrl-C ends the watch at once */
		uint64_t end = sm_now_mono_ms() + every_ms, now;
		while (watch && !cli_interrupted && (now = sm_now_mono_ms()) < end)
			sm_sleep_ms(SM_MIN(end - now, (uint64_t)50));
	} while (watch && !cli_interrupted);
	sm_conn_close(conn);
	return rc < 0 ? CLI_FAIL : CLI_OK;
}

static int lockspace_listing(int argc, char **argv, const char *cmd, int (*call)(sm_conn *, const char *, struct sm_report **),
			     const char *section, const struct column *cols, int ncols)
{
	static const struct option lo[] = {{"json", no_argument, NULL, 'j'}, {0}};
	bool json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "j", lo, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else
			return cli_usage_error(cmd, "unknown option");
	}
	if (optind + 1 != argc)
		return cli_usage_error(cmd, "expected one LOCKSPACE name");
	sm_conn *conn;
	if (cli_connect(&conn))
		return CLI_FAIL;
	struct sm_report *r = NULL;
	int rc = call(conn, argv[optind], &r);
	if (rc < 0) {
		cli_daemon_fail(conn, rc, cmd);
	} else if (json) {
		report_print_json(r, NULL);
	} else {
		const struct sm_section *s = sm_report_section(r, section);
		if (s && s->nrecords)
			report_print_table(s, cols, ncols, "");
		else
			printf("(nothing to show yet)\n");
	}
	sm_report_free(r);
	sm_conn_close(conn);
	return rc < 0 ? CLI_FAIL : CLI_OK;
}

int cmd_hosts(int argc, char **argv)
{
	return lockspace_listing(argc, argv, "hosts", sm_hosts, "hosts", host_cols, N(host_cols));
}

int cmd_renewals(int argc, char **argv)
{
	return lockspace_listing(argc, argv, "renewals", sm_renewals, "renewals", renewal_cols, N(renewal_cols));
}
