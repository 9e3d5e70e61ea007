/* sync_managerd: the daemon's wiring (wiring.c), the top of its layers. */
#ifndef SM_DAEMON_WIRING_H
#define SM_DAEMON_WIRING_H

#include "daemon.h"

/* Fill in d->dispatch (cmds_dispatch), d->persist (state_save) and d->on
 * (struct daemon_events), after daemon_init() and before anything runs:
 * main.c, and every test or fuzzer that runs the daemon's modules.  The
 * daemon's only link from its core and lower modules to those above. */
void daemon_wire(struct daemon *d);

#endif
