/* sync_managerd: request dispatch (cmds.c, with the handlers in
 * cmds_leases.c and cmds_spaces.c): checks each decoded request's right
 * from one command table and starts what it asks for (a job, a join, a
 * report).  conn.c reaches cmds_dispatch only through d->dispatch
 * (filled in by daemon_wire, wiring.c), so conn.c does not include this header. */
#ifndef SM_DAEMON_CMDS_H
#define SM_DAEMON_CMDS_H

#include "daemon.h"

/* Handle one decoded request of c (c->req is its header). */
void cmds_dispatch(struct conn *c, const struct sm_wire_req *rq);
/* A name probe ended: answer the joins by name that waited for it
 * (unreadable: "VOLUME: error; ..." of the volumes it could not read). */
void cmds_names_probed(struct daemon *d, const char *unreadable);

#endif
