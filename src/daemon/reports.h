/* sync_managerd: the read-only reports (reports.c): status, hosts, renewals.
 * They read the daemon's tables and change nothing. */
#ifndef SM_DAEMON_REPORTS_H
#define SM_DAEMON_REPORTS_H

#include "daemon.h"

/* Request handlers (cmds.c's table checks the right: root or the admin
 * group); rq is the decoded request, the process argument is unused. */
void report_status(struct conn *c, const struct sm_wire_req *rq, struct proc *unused);
void report_hosts(struct conn *c, const struct sm_wire_req *rq, struct proc *unused);
void report_renewals(struct conn *c, const struct sm_wire_req *rq, struct proc *unused);

#endif
