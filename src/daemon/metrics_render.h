/* sync_managerd: the Prometheus text exposition (metrics_render.c) of every
 * counter and gauge (docs/metrics.md lists every name).  It reads only:
 * the daemon's counters (d->m), the lockspaces, the lease table and the
 * watchdog.  High in the layers (cmds.c calls it); the histograms it shows
 * are counted by metrics.c, below. */
#ifndef SM_DAEMON_METRICS_RENDER_H
#define SM_DAEMON_METRICS_RENDER_H

#include "daemon.h"

void metrics_render(struct daemon *d, struct sm_msgbuf *b);

#endif
