/* sync_managerd: request dispatch (cmds.c): checks each request's rights and
 * arguments and starts what it asks for (a job, a join, a report).
 * cmds.c owns d->name_joins (joins by name waiting for a name probe). */
#ifndef SM_DAEMON_CMDS_H
#define SM_DAEMON_CMDS_H

#include "daemon.h"

/* Called with c->req and the payload. */
void cmds_dispatch(struct conn *c, const uint8_t *payload, size_t len);
/* A name probe ended: answer the joins by name that waited for it
 * (unreadable: "VOLUME: error; ..." of the volumes it could not read). */
void cmds_names_probed(struct daemon *d, const char *unreadable);

#endif
