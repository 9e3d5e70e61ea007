/* Prometheus text exposition of the daemon's counters and gauges
 * (docs/metrics.md lists every name): reads d->m, the lockspaces, the lease
 * table and the watchdog, writes nothing. */
#include "metrics_render.h"

#include "leasetab.h"
#include "lockspaces.h"
#include "metrics.h"
#include "watchdog.h"

#include "common/clock.h"
#include "common/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* How late e's last renewals started (its thread records it): the 0.99
 * quantile (nearest rank) and the largest, in ms; false before the first. */
static bool renewal_start_delays(struct ls_entry *e, uint64_t *p99, uint64_t *max)
{
	uint64_t delay[SM_RENEWAL_HISTORY];
	pthread_mutex_lock(&e->thr.wake_mu);
	int k = e->thr.ndelays;
	for (int i = 0; i < k; i++)
		delay[i] = e->thr.start_delay_ms[i];
	pthread_mutex_unlock(&e->thr.wake_mu);
	if (!k)
		return false;
	qsort(delay, (size_t)k, sizeof(delay[0]), cmp_u64);
	*p99 = delay[(99 * k + 99) / 100 - 1];
	*max = delay[k - 1];
	return true;
}

struct text {
	char *buf;
	size_t len, cap;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap * 2 + (size_t)n;
		char *b = realloc(t->buf, cap);
		if (!b)
			return;
		t->buf = b;
		t->cap = cap;
	}
}

static void counter(struct text *t, const char *name, const char *help, uint64_t v)
{
	add(t, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, (unsigned long long)v);
}

static void gauge(struct text *t, const char *name, const char *help, double v)
{
	add(t, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, help, name, name, v);
}

void metrics_render(struct daemon *d, struct sm_msgbuf *b)
{
	struct text t = {.cap = 8192};
	t.buf = malloc(t.cap);
	if (!t.buf)
		return;
	t.buf[0] = '\0';
	const struct daemon_metrics *m = &d->m;
	gauge(&t, "sync_manager_up", "1 while sync_managerd runs", 1);
	gauge(&t, "sync_manager_uptime_seconds", "seconds since sync_managerd started",
	      (double)(mono_ms() - d->started_mono) / 1000.0);
	gauge(&t, "sync_manager_clients", "registered processes", d->nprocs);
	gauge(&t, "sync_manager_connections", "open client connections", d->nconns);
	gauge(&t, "sync_manager_leases_held", "leases held by processes on this host", d->lt.nheld);
	counter(&t, "sync_manager_acquires_total", "successful acquire requests", m->acquires);
	counter(&t, "sync_manager_acquire_failures_total", "refused or failed acquire requests", m->acquire_failures);
	counter(&t, "sync_manager_releases_total", "leases released on disk", m->releases);
	counter(&t, "sync_manager_fencings_total", "lockspaces fenced (leases could no longer be kept)", m->fencings);
	counter(&t, "sync_manager_kills_total", "SIGTERM (or configured signal) sent to lease holders", m->kills_term);
	counter(&t, "sync_manager_sigkills_total", "SIGKILL sent to lease holders after the grace time", m->kills_kill);
	counter(&t, "sync_manager_kill_programs_total", "kill programs run for lease holders", m->kill_programs);
	counter(&t, "sync_manager_bad_messages_total", "malformed client messages", m->bad_messages);
	counter(&t, "sync_manager_denied_total", "requests refused for lack of permission", m->denied);
	counter(&t, "sync_manager_fd_limit_total",
		"times sync_managerd reached its file descriptor limit and stopped accepting connections",
		m->fd_limit_pauses);
	gauge(&t, "sync_manager_accept_paused",
	      "1 while sync_managerd does not accept connections (at its file descriptor limit)", d->accept_paused);
	counter(&t, "sync_manager_connections_refused_total",
		"connections closed at once because max_clients + 64 connections were open", m->connections_refused);
	counter(&t, "sync_manager_loop_wakeups_total",
		"times the event loop woke up (events and deadlines; it has no fixed tick)", m->loop_wakeups);
	counter(&t, "sync_manager_listing_pages_total", "pages of paged listings (status, hosts) served",
		m->listing_pages);

	add(&t, "# HELP sync_manager_acquire_latency_seconds acquire request latency\n"
		"# TYPE sync_manager_acquire_latency_seconds histogram\n");
	uint64_t cum = 0;
	for (size_t i = 0; i < METRICS_NBOUNDS; i++) {
		cum += m->lat_buckets[i];
		add(&t, "sync_manager_acquire_latency_seconds_bucket{le=\"%g\"} %llu\n", metrics_lat_bounds_us[i] / 1e6,
		    (unsigned long long)cum);
	}
	add(&t, "sync_manager_acquire_latency_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)m->lat_count);
	add(&t, "sync_manager_acquire_latency_seconds_sum %g\nsync_manager_acquire_latency_seconds_count %llu\n",
	    m->lat_sum_us / 1e6, (unsigned long long)m->lat_count);

	add(&t, "# HELP sync_manager_watchdog_armed 1 while a watchdog is armed and petted by this daemon\n"
		"# TYPE sync_manager_watchdog_armed gauge\nsync_manager_watchdog_armed %d\n",
	    d->wd_armed ? 1 : 0);
	gauge(&t, "sync_manager_unprotected",
	      "1 while this host runs without a watchdog: nothing stops lease holders if the daemon hangs",
	      watchdog_unprotected(d));
	/* No sample without a watchdog: 0 would read as "just petted". */
	add(&t, "# HELP sync_manager_watchdog_timeout_seconds time the watchdog takes to reset the host after the last pet\n"
		"# TYPE sync_manager_watchdog_timeout_seconds gauge\n");
	if (d->wd_timeout_ms)
		add(&t, "sync_manager_watchdog_timeout_seconds %g\n", d->wd_timeout_ms / 1000.0);
	add(&t, "# HELP sync_manager_watchdog_last_pet_age_seconds seconds since the watchdog was last petted\n"
		"# TYPE sync_manager_watchdog_last_pet_age_seconds gauge\n");
	if (d->wd_armed)
		add(&t, "sync_manager_watchdog_last_pet_age_seconds %g\n", (double)(mono_ms() - d->wd_last_pet_mono) / 1000.0);

	add(&t, "# HELP sync_manager_renewal_latency_seconds duration of successful delta-lease renewals\n"
		"# TYPE sync_manager_renewal_latency_seconds histogram\n");
	for (struct ls_entry *e = d->lockspaces; e; e = e->next) {
		if (!e->ls || e->state == LS_GONE)
			continue;
		uint64_t c = 0;
		for (size_t i = 0; i < METRICS_NBOUNDS; i++) {
			c += e->rlat_buckets[i];
			add(&t, "sync_manager_renewal_latency_seconds_bucket{lockspace=\"%s\",le=\"%g\"} %llu\n", e->name,
			    metrics_lat_bounds_us[i] / 1e6, (unsigned long long)c);
		}
		add(&t, "sync_manager_renewal_latency_seconds_bucket{lockspace=\"%s\",le=\"+Inf\"} %llu\n", e->name,
		    (unsigned long long)e->rlat_count);
		add(&t, "sync_manager_renewal_latency_seconds_sum{lockspace=\"%s\"} %g\n", e->name, e->rlat_sum_ms / 1000.0);
		add(&t, "sync_manager_renewal_latency_seconds_count{lockspace=\"%s\"} %llu\n", e->name,
		    (unsigned long long)e->rlat_count);
	}

	add(&t, "# HELP sync_manager_renewal_start_delay_seconds how late renewals started after they were due "
		"(over the last 64 renewals: quantile 0.99 and 1, the largest)\n"
		"# TYPE sync_manager_renewal_start_delay_seconds summary\n");
	for (struct ls_entry *e = d->lockspaces; e; e = e->next) {
		uint64_t p99, max;
		if (!e->ls || e->state == LS_GONE || !renewal_start_delays(e, &p99, &max))
			continue;
		add(&t, "sync_manager_renewal_start_delay_seconds{lockspace=\"%s\",quantile=\"0.99\"} %g\n", e->name,
		    p99 / 1000.0);
		add(&t, "sync_manager_renewal_start_delay_seconds{lockspace=\"%s\",quantile=\"1\"} %g\n", e->name,
		    max / 1000.0);
	}

	static const char *const ls_metrics[][2] = {
		{"sync_manager_lockspace_joined", "1 when this host holds a host_id in the lockspace"},
		{"sync_manager_lockspace_renewals_total", "successful delta-lease renewals"},
		{"sync_manager_lockspace_renewal_failures_total", "failed delta-lease renewals"},
		{"sync_manager_lockspace_last_renewal_age_seconds", "seconds since the last good renewal started"},
		{"sync_manager_lockspace_lease_expiry_seconds", "seconds until leases expire without a renewal (F)"},
		{"sync_manager_lockspace_last_renewal_duration_seconds", "how long the last renewal took"},
		{"sync_manager_lockspace_members", "volumes of the lockspace: 1, or 3 for a volume set"},
		{"sync_manager_lockspace_members_down", "volume set members whose latest open or I/O failed"},
		{"sync_manager_lockspace_member_errors_total", "failed opens and I/Os of the delta leases, all members"},
		{"sync_manager_lockspace_orphans_released_total",
		 "leases found on disk naming this host but held by nothing here, released"},
		{"sync_manager_lockspace_io_timeout_seconds", "the lockspace's io_timeout (d)"},
		{"sync_manager_lockspace_renewal_fail_timeout_seconds",
		 "leases are fenced when no renewal succeeded for this long (F)"},
		{"sync_manager_lockspace_fenced_by_reservation",
		 "1 while this host's reservation key was preempted by another host (fenced by reservation)"},
		{"sync_manager_lockspace_preemptions_total",
		 "other hosts this host preempted on the fence devices to take their leases over"},
		{"sync_manager_lockspace_thread_wakeups_total",
		 "times the lockspace's renewal thread woke from a wait (renewals, death checks, stop)"},
	};
	for (size_t k = 0; k < SM_ARRAY_SIZE(ls_metrics); k++) {
		bool is_counter = strstr(ls_metrics[k][0], "_total") != NULL;
		add(&t, "# HELP %s %s\n# TYPE %s %s\n", ls_metrics[k][0], ls_metrics[k][1], ls_metrics[k][0],
		    is_counter ? "counter" : "gauge");
		for (struct ls_entry *e = d->lockspaces; e; e = e->next) {
			if (!e->ls || e->state == LS_GONE)
				continue;
			struct sm_lockspace_info info;
			sm_lockspace_info(e->ls, &info);
			struct sm_renewal_record last = {0};
			sm_lockspace_renewal_history(e->ls, &last, 1);
			double v = 0;
			switch (k) {
			case 0: v = info.joined && e->state == LS_JOINED; break;
			case 1: v = (double)info.renewals; break;
			case 2: v = (double)info.renewal_failures; break;
			case 3: v = info.last_renewal_mono_ms ? (sm_now_mono_ms() - info.last_renewal_mono_ms) / 1000.0 : 0; break;
			case 4: v = info.joined ? sm_lockspace_remaining_ms(e->ls) / 1000.0 : 0; break;
			case 5: v = last.duration_ms / 1000.0; break;
			case 6: v = info.members; break;
			case 7: v = info.members_down; break;
			case 8:
				for (int i = 0; i < info.members; i++) {
					struct sm_member_info mi;
					sm_lockspace_member_info(e->ls, i, &mi);
					v += (double)mi.io_errors;
				}
				break;
			case 9: v = (double)e->orphans.released; break;
			case 10: v = info.to.io_ms / 1000.0; break;
			case 11: v = info.to.fail_ms / 1000.0; break;
			case 12: v = info.fenced; break;
			case 13: v = (double)info.preemptions; break;
			case 14: v = (double)atomic_load(&e->thr.wakeups); break;
			}
			add(&t, "%s{lockspace=\"%s\"} %g\n", ls_metrics[k][0], e->name, v);
		}
	}
	sm_mb_bytes(b, SM_T_TEXT, t.buf, t.len);
	free(t.buf);
}
