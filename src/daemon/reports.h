/* sync_managerd: the read-only reports (reports.c): status, hosts, renewals.
 * They read the daemon's tables and change nothing. */
#ifndef SM_DAEMON_REPORTS_H
#define SM_DAEMON_REPORTS_H

#include "daemon.h"

void report_status(struct conn *c);
void report_hosts(struct conn *c, const uint8_t *p, size_t len);
void report_renewals(struct conn *c, const uint8_t *p, size_t len);

#endif
