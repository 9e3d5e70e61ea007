/* sync_managerd: Prometheus metrics (metrics.c): latency histograms and the
 * text rendering of every counter.  metrics.c writes the histograms (d->m's
 * lat_*, a lockspace's rlat_*); the counters of d->m are incremented by the
 * module that sees the event. */
#ifndef SM_DAEMON_METRICS_H
#define SM_DAEMON_METRICS_H

#include "daemon.h"

void metrics_observe_acquire(struct daemon *d, uint64_t us);
void metrics_count_renewals(struct ls_entry *e);
void metrics_render(struct daemon *d, struct sm_msgbuf *b);

#endif
