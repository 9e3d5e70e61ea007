/* sync_managerd: the latency histograms of the Prometheus metrics
 * (metrics.c).  metrics.c writes the histograms (d->m's lat_*, a lockspace's
 * rlat_*); the counters of d->m are incremented by the module that sees the
 * event; metrics_render.c (metrics_render.h) renders them all as text. */
#ifndef SM_DAEMON_METRICS_H
#define SM_DAEMON_METRICS_H

#include "daemon.h"

void metrics_observe_acquire(struct daemon *d, uint64_t us);
void metrics_count_renewals(struct ls_entry *e);

/* The histograms' bucket bounds in microseconds (+Inf is the last bucket). */
#define METRICS_NBOUNDS (SM_LAT_BUCKETS - 1)
extern const uint64_t *const metrics_lat_bounds_us;

#endif
