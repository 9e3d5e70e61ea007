/* The daemon's wiring (issue 16): the one place that links the core and the
 * lower modules to the modules above them.  daemon_wire() fills in the
 * request path's hooks (d->dispatch, d->persist) and the events lower
 * modules report upward (d->on, struct daemon_events in daemon.h), so that
 * every direct call among the modules goes down the layers
 * (docs/architecture.md).  It is called once, after daemon_init(), by
 * main.c and by every test or fuzzer that runs the daemon's code; the hooks
 * run on the event loop thread only. */
#include "wiring.h"

#include "cmds.h"
#include "leaseops.h"
#include "lockspaces.h"
#include "orphans.h"
#include "procs.h"
#include "state.h"
#include "watchdog.h"

/* A lockspace was joined, or resumed after a restart: check the leases the
 * state file says we hold in it on disk, look for an acquire the last
 * daemon did not record, and start the lease jobs parked waiting for it. */
static void lockspace_ready(struct daemon *d, struct ls_entry *e)
{
	if (e->resume) {
		leaseops_verify_resumed(d, e);
		orphans_sweep_now(e); /* an acquire the last daemon did not record */
	}
	leaseops_retry_parked(d);
}

void daemon_wire(struct daemon *d)
{
	d->dispatch = cmds_dispatch;
	d->persist = state_save;
	d->on = (struct daemon_events){
		.job_done = leaseops_complete,
		.proc_conn_closed = proc_conn_closed,
		.proc_gone = leaseops_release_all,
		.ls_ready = lockspace_ready,
		.ls_failed = fence_lockspace,
		.join_check = watchdog_check_join,
		.names_probed = cmds_names_probed,
		.lease_unheld = lease_settle,
	};
}
