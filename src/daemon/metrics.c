/* The daemon's latency histograms, counted as events happen: acquires
 * (leaseops.c) and renewals (lockspaces.c's tick).  Low in the layers: it
 * calls no other module; the text exposition is metrics_render.c. */
#include "metrics.h"

#include "lockspaces.h"

#include "common/clock.h"
#include "common/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Latency histogram bucket bounds (acquires and renewals), in microseconds.
 * A renewal takes at most two I/Os of d each, and d is at most 600 s: the
 * top finite bound is above every io_timeout/2, so the slow-renewal alert
 * (docs/metrics.md: the 0.99 quantile above d/2) can fire at any d
 * (histogram_quantile never answers more than the top finite bound). */
static const uint64_t bounds_us[] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
	10000000, 20000000, 40000000, 80000000, 160000000, 320000000, 640000000,
};
_Static_assert(sizeof(bounds_us) / sizeof(bounds_us[0]) == METRICS_NBOUNDS,
	       "SM_LAT_BUCKETS counts the bounds and +Inf");
const uint64_t *const metrics_lat_bounds_us = bounds_us;

void metrics_observe_acquire(struct daemon *d, uint64_t us)
{
	size_t i = 0;
	while (i < METRICS_NBOUNDS && us > bounds_us[i])
		i++;
	d->m.lat_buckets[i]++;
	d->m.lat_count++;
	d->m.lat_sum_us += us;
}

/* Count renewals done since the last call into the lockspace's histogram.
 * The renewal history keeps the last 64; this runs when the loop looks at
 * the lockspace, which its thread asks for after every renewal. */
void metrics_count_renewals(struct ls_entry *e)
{
	if (!e->ls)
		return;
	struct sm_lockspace_info info;
	sm_lockspace_info(e->ls, &info);
	uint64_t total = info.renewals + info.renewal_failures;
	if (total <= e->renewals_counted)
		return;
	int n = (int)SM_MIN(total - e->renewals_counted, (uint64_t)SM_RENEWAL_HISTORY);
	struct sm_renewal_record hist[SM_RENEWAL_HISTORY];
	n = sm_lockspace_renewal_history(e->ls, hist, n);
	for (int i = 0; i < n; i++) {
		if (hist[i].result != 0)
			continue;
		uint64_t us = (uint64_t)hist[i].duration_ms * 1000;
		size_t b = 0;
		while (b < METRICS_NBOUNDS && us > bounds_us[b])
			b++;
		e->rlat_buckets[b]++;
		e->rlat_count++;
		e->rlat_sum_ms += hist[i].duration_ms;
	}
	e->renewals_counted = total;
}
