/* sync_manager status / hosts / renewals: human tables or --json. */
#include "cli.h"
#include "report.h"

#include "common/clock.h"
#include "sync_manager/admin.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
static const struct column host_cols[] = {
	{"host_id", "HOST_ID", COL_PLAIN}, {"name", "NAME", COL_PLAIN}, {"generation", "GEN", COL_PLAIN},
	{"state", "STATE", COL_PLAIN}, {"last_change_age_ms", "LAST CHANGE SEEN", COL_AGE_MS}, {"record", "RECORD", COL_PLAIN},
};
static const struct column renewal_cols[] = {
	{"age_ms", "STARTED", COL_AGE_MS}, {"duration_ms", "TOOK", COL_DURATION_MS}, {"result", "RESULT", COL_PLAIN},
};
#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void print_status(const struct sm_report *r)
{
	const struct sm_section *d = sm_report_section(r, "daemon");
	if (d && d->nrecords) {
		char up[32], wd[256], pid[32];
		report_format_field(sm_record_field(&d->records[0], "uptime_ms"), COL_DURATION_MS, up, sizeof(up));
		report_format_field(sm_record_field(&d->records[0], "watchdog"), COL_PLAIN, wd, sizeof(wd));
		report_format_field(sm_record_field(&d->records[0], "pid"), COL_PLAIN, pid, sizeof(pid));
		printf("sync_managerd pid %s, up %s, watchdog %s\n", pid, up, wd);
	}
	const struct sm_section *s = sm_report_section(r, "lockspaces");
	printf("\nLockspaces\n");
	if (s && s->nrecords) {
		report_print_table(s, ls_cols, N(ls_cols), "  ");
		for (int i = 0; i < s->nrecords; i++) {
			const struct sm_field *p = sm_record_field(&s->records[i], "join_progress");
			if (p && p->str[0])
				printf("  %s: %s\n", sm_record_field(&s->records[i], "name")->str, p->str);
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
	if (s && s->nrecords)
		report_print_table(s, lease_cols, N(lease_cols), "  ");
	else
		printf("  none held\n");
}

int cmd_status(int argc, char **argv)
{
	static const struct option lo[] = {{"json", no_argument, NULL, 'j'}, {"watch", optional_argument, NULL, 'w'},
					   {0}};
	bool json = false, watch = false;
	double every = 1.0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "j", lo, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'w') {
			watch = true;
			if (optarg)
				every = atof(optarg);
			if (every < 0.1)
				every = 0.1;
		} else
			return cli_usage_error("status", "unknown option");
	}
	sm_conn *conn;
	if (cli_connect(&conn))
		return CLI_FAIL;
	cli_catch_interrupts();
	int rc;
	do {
		struct sm_report *r = NULL;
		rc = sm_status(conn, &r);
		if (rc < 0) {
			cli_daemon_fail(conn, rc, "status");
			break;
		}
		if (watch && !json)
			printf("\033[H\033[J");
		if (json) {
			static const char *const single[] = {"daemon", NULL};
			report_print_json(r, single);
		} else {
			print_status(r);
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
		fflush(stdout);
		if (watch)
			usleep((useconds_t)(every * 1e6));
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
