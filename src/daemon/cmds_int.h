/* sync_managerd: what the request handlers share (cmds.c, cmds_leases.c,
 * cmds_spaces.c).  Private to those three files.
 *
 * A handler runs only after cmds_dispatch() has decoded the request and
 * checked the right its table entry names; target is the process the
 * request acts for (NULL unless the right is RIGHT_OWNER).  A handler
 * replies once through conn_reply/conn_reply_error (which persist the
 * state first), now or when its job or join ends. */
#ifndef SM_DAEMON_CMDS_INT_H
#define SM_DAEMON_CMDS_INT_H

#include "daemon.h"
#include "jobs.h"

#include "proto/request.h"

typedef void cmd_handler(struct conn *c, const struct sm_wire_req *rq, struct proc *target);

/* cmds_leases.c */
cmd_handler cmd_acquire, cmd_release, cmd_convert, cmd_request, cmd_receive;
/* cmds_spaces.c */
cmd_handler cmd_join, cmd_leave, cmd_resource_add, cmd_resource_rm;

/* The resources of rq as a new job of kind: each one's lockspace found
 * and its volumes made canonical.  NULL with *rc and err on failure. */
struct job *cmds_resolve_resources(struct conn *c, enum job_kind kind, const struct sm_wire_req *rq, int *rc,
				   char *err, size_t errlen);

#endif
