/* init --force / --force-live: before a volume is formatted anew, make sure
 * no host still uses it (issue 10, item 7; docs/admin-guide.md §2).
 *
 * Liveness is decided by the delta-lease rules of docs/algorithms.md §1, as
 * a freshly started observer sees it: a host record that changes while we
 * watch belongs to a live host; a held (or unreadable) record is dead only
 * after it stayed unchanged for more than H on our own clock.  The
 * timestamps other hosts wrote are never compared with our clock, so a
 * record that "looks" long dead is still watched for the whole of H.  Free
 * records are watched for J (more than 2d): a host joining right now has
 * written its claim by then. */
#include "cli.h"

#include "common/clock.h"
#include "common/util.h"
#include "lease/delta.h"
#include "ondisk/inspect.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum host_class { HC_GONE, HC_LIVE, HC_UNDECIDED };

/* What the last read showed, per host_id (index host_id - 1). */
struct watch {
	const struct init_guard *g;
	struct sm_lockspace *ls;
	struct sm_lockspace_info info;
	struct sm_host_status *st;
	enum host_class *cls;
	uint32_t nlive, nundecided, nheld;
};

static const char *host_desc(const struct sm_host_status *st, char *buf, size_t len)
{
	if (st->record_status)
		snprintf(buf, len, "host_id %u (unreadable record: %s)", st->host_id, sm_strerror(st->record_status));
	else
		snprintf(buf, len, "host_id %u '%s' generation %llu", st->host_id, st->rec.host_name,
			 (unsigned long long)st->rec.generation);
	return buf;
}

static enum host_class classify(const struct sm_host_status *st)
{
	switch (st->state) {
	case SM_LIVE_FREE:
	case SM_LIVE_DEAD: return HC_GONE;
	case SM_LIVE_LIVE:
	case SM_LIVE_FAILING: return HC_LIVE;
	default: return HC_UNDECIDED;
	}
}

/* Read the host area once more and classify every host.  0 or -errno. */
static int watch_read(struct watch *w)
{
	int rc = sm_lockspace_observe(w->ls);
	if (rc < 0)
		return rc;
	w->nlive = w->nundecided = w->nheld = 0;
	for (uint32_t i = 0; i < w->info.max_hosts; i++) {
		sm_lockspace_host_status(w->ls, i + 1, &w->st[i]);
		w->cls[i] = classify(&w->st[i]);
		w->nlive += w->cls[i] == HC_LIVE;
		w->nundecided += w->cls[i] == HC_UNDECIDED;
		w->nheld += w->st[i].state != SM_LIVE_FREE;
	}
	return 0;
}

/* The leases the listed hosts (want[host_id - 1], same generation as their
 * record) hold, one line each on stderr; their count. */
static int print_leases(struct watch *w, const bool *want)
{
	struct sm_volume_view *view = NULL;
	int rc = sm_volume_inspect(sm_lockspace_volume(w->ls), &view);
	if (rc < 0) {
		fprintf(stderr, "  (the leases cannot be listed: %s)\n", sm_strerror(rc));
		return 0;
	}
	int n = 0;
	for (uint32_t i = 0; i < view->resource_count; i++) {
		const struct sm_resource_view *r = &view->resources[i];
		if (r->index_status || r->read_status || r->leader_status)
			continue;
		const struct sm_leader *l = &r->leader;
		uint32_t o = l->owner_id;
		if (l->mode == SM_MODE_EX && o >= 1 && o <= w->info.max_hosts && want[o - 1] &&
		    w->st[o - 1].rec.generation == l->owner_generation) {
			fprintf(stderr, "  lease %s EX by host_id %u generation %llu (lver %llu)\n", r->entry.name, o,
				(unsigned long long)l->owner_generation, (unsigned long long)l->lver);
			n++;
		}
		for (uint32_t k = 0; k < r->shared_count; k++) {
			uint32_t s = r->shared[k].host_id;
			if (s >= 1 && s <= w->info.max_hosts && want[s - 1] &&
			    w->st[s - 1].rec.generation == r->shared[k].generation) {
				fprintf(stderr, "  lease %s SH by host_id %u generation %llu (lver %llu)\n", r->entry.name,
					s, (unsigned long long)r->shared[k].generation, (unsigned long long)l->lver);
				n++;
			}
		}
	}
	sm_volume_view_free(view);
	return n;
}

/* --force-live: one read, no watching; say what is destroyed. */
static int force_live(struct watch *w)
{
	const struct init_guard *g = w->g;
	int rc = watch_read(w);
	if (rc < 0) {
		fprintf(stderr, "sync_manager: init --force-live: the host records of %s cannot be read (%s); formatting "
				"anyway\n", g->spec, sm_strerror(rc));
		return 0;
	}
	if (!w->nheld) {
		fprintf(stderr, "sync_manager: init --force-live: every host record of lockspace '%s' is free\n",
			w->info.name);
		return 0;
	}
	fprintf(stderr, "sync_manager: init --force-live: formatting over lockspace '%s' on %s without watching its "
			"hosts; this destroys:\n", w->info.name, g->spec);
	bool *held = calloc(w->info.max_hosts, sizeof(*held));
	for (uint32_t i = 0; i < w->info.max_hosts; i++) {
		if (w->st[i].state == SM_LIVE_FREE)
			continue;
		char d[160];
		fprintf(stderr, "  %s: held (may be live)\n", host_desc(&w->st[i], d, sizeof(d)));
		if (held)
			held[i] = w->st[i].record_status == 0;
	}
	if (held && print_leases(w, held) == 0)
		fprintf(stderr, "  (no lease held by these hosts)\n");
	free(held);
	fprintf(stderr, "sync_manager: processes of those hosts that still run under these leases are no longer "
			"protected: other hosts can take the same leases on the new volume at once\n");
	return 0;
}

/* Refuse: name the live hosts, what they hold, and how to stop them. */
static int refuse_live(struct watch *w, uint64_t watched_ms)
{
	const struct init_guard *g = w->g;
	fprintf(stderr, "sync_manager: refused: lockspace '%s' on %s is in use: %u host(s) renewed their delta lease "
			"while init watched (%.1f s):\n", w->info.name, g->spec, w->nlive, watched_ms / 1000.0);
	bool *live = calloc(w->info.max_hosts, sizeof(*live));
	for (uint32_t i = 0; i < w->info.max_hosts; i++) {
		char d[160];
		if (w->cls[i] == HC_LIVE)
			fprintf(stderr, "  %s: live\n", host_desc(&w->st[i], d, sizeof(d)));
		else if (w->cls[i] == HC_UNDECIDED)
			fprintf(stderr, "  %s: held, not renewed while watched, not yet dead (unchanged for less than H)\n",
				host_desc(&w->st[i], d, sizeof(d)));
		if (live)
			live[i] = w->cls[i] == HC_LIVE && w->st[i].record_status == 0;
	}
	if (live)
		print_leases(w, live);
	free(live);
	fprintf(stderr, "sync_manager: stop them first: on each of them stop what runs under its leases, then run "
			"'sync_manager leave %s' (or stop its daemon: 'sync_manager shutdown'; a host joined with "
			"'sync_manager direct join' leaves with 'sync_manager direct leave %s --host-id N'); then run "
			"init --force again\n", w->info.name, g->spec);
	fprintf(stderr, "sync_manager: or format anyway with --force-live: their processes keep running while other "
			"hosts can take the same leases on the new volume\n");
	return -SM_EBUSY;
}

/* What the watch waits for, with the formula, printed once. */
static void print_rule(struct watch *w, uint64_t at_most_ms)
{
	const struct sm_timeouts *t = &w->info.to;
	char h[16], d[16], wd[16], j[16], m[16];
	sm_format_ms(t->host_dead_ms, h, sizeof(h));
	sm_format_ms(t->io_ms, d, sizeof(d));
	sm_format_ms(t->watchdog_ms, wd, sizeof(wd));
	sm_format_ms(t->join_wait_ms, j, sizeof(j));
	sm_format_ms((at_most_ms + 99) / 100 * 100, m, sizeof(m)); /* up to a tenth of a second */
	if (w->nheld) {
		fprintf(stderr, "sync_manager: lockspace '%s' on %s has %u held host record(s):\n", w->info.name,
			w->g->spec, w->nheld);
		for (uint32_t i = 0; i < w->info.max_hosts; i++) {
			char desc[160];
			if (w->st[i].state != SM_LIVE_FREE)
				fprintf(stderr, "  %s\n", host_desc(&w->st[i], desc, sizeof(desc)));
		}
		fprintf(stderr, "sync_manager: watching them before formatting: a record that changes belongs to a live "
				"host (refused); a held record is dead only once unchanged for more than H = F + W = 8d + W "
				"= %s (d = %s, W = %s) on this host's clock, whatever its timestamp says; at most %s "
				"(Ctrl-C stops; nothing is written before)\n", h, d, wd, m);
	} else {
		fprintf(stderr, "sync_manager: every host record of lockspace '%s' on %s is free; watching them for J = 2d "
				"+ 0.1 s = %s (d = %s) to see a host joining right now (Ctrl-C stops; nothing is written "
				"before)\n", w->info.name, w->g->spec, j, d);
	}
}

/* How long until the watch can end, from the latest read issued at `issued`. */
static uint64_t remaining_ms(const struct watch *w, uint64_t start, uint64_t issued, uint64_t step)
{
	const struct sm_timeouts *t = &w->info.to;
	uint64_t elapsed = issued - start, rem = elapsed < t->join_wait_ms ? t->join_wait_ms - elapsed : 0;
	for (uint32_t i = 0; i < w->info.max_hosts; i++)
		if (w->cls[i] == HC_UNDECIDED) {
			uint64_t u = w->st[i].unchanged_ms;
			rem = SM_MAX(rem, (u <= t->host_dead_ms ? t->host_dead_ms + 1 - u : 0) + step);
		}
	return rem;
}

/* Watch until every record is free or dead (0), or a host is live
 * (refused), or Ctrl-C. */
static int watch_hosts(struct watch *w)
{
	const struct sm_timeouts *t = &w->info.to;
	/* every renewing host has written once within R + 2d of any moment */
	uint64_t live_window = (uint64_t)t->renew_ms + 2ull * t->io_ms;
	uint64_t step = SM_MAX(100u, SM_MIN(1000u, t->renew_ms / 2));
	uint64_t start = sm_now_mono_ms();
	for (bool first = true;; first = false) {
		uint64_t issued = sm_now_mono_ms();
		int rc = watch_read(w);
		if (rc < 0) {
			fprintf(stderr, "sync_manager: refused: reading the host records of %s failed (%s), so init cannot "
					"tell whether hosts still use it; nothing was written (try again when the storage "
					"answers, or --force-live)\n", w->g->spec, sm_strerror(rc));
			return rc;
		}
		uint64_t elapsed = issued - start;
		if (first)
			print_rule(w, remaining_ms(w, start, issued, step));
		if (w->nlive && (elapsed >= live_window || !w->nundecided))
			return refuse_live(w, sm_now_mono_ms() - start);
		if (!w->nlive && !w->nundecided && elapsed >= t->join_wait_ms)
			break;
		if (!first) {
			char what[200];
			snprintf(what, sizeof(what), "watching the host records of %s (%u held, %u not yet dead)", w->g->spec,
				 w->nheld, w->nundecided);
			cli_progress(NULL, what, remaining_ms(w, start, issued, step));
		}
		uint64_t until = issued + step;
		while (!cli_interrupted && sm_now_mono_ms() < until)
			sm_sleep_ms(SM_MIN((uint64_t)100, until - sm_now_mono_ms()));
		if (cli_interrupted) {
			fprintf(stderr, "sync_manager: init interrupted after watching the host records for %.1f s: nothing "
					"was written; %s still holds lockspace '%s'\n",
				(sm_now_mono_ms() - start) / 1000.0, w->g->spec, w->info.name);
			return -SM_EINTERRUPTED;
		}
	}
	char buf[16];
	fprintf(stderr, "sync_manager: no host renewed in %.1f s", (sm_now_mono_ms() - start) / 1000.0);
	for (uint32_t i = 0; i < w->info.max_hosts; i++) {
		char d[160];
		if (w->st[i].state == SM_LIVE_DEAD)
			fprintf(stderr, "; %s is dead (unchanged for %s, more than H)", host_desc(&w->st[i], d, sizeof(d)),
				sm_format_ms(w->st[i].unchanged_ms, buf, sizeof(buf)));
	}
	fprintf(stderr, "; formatting\n");
	return 0;
}

/* The volume's header is damaged or its host records cannot be opened. */
static int unreadable(const struct init_guard *g, const char *why)
{
	if (g->force_live) {
		fprintf(stderr, "sync_manager: init --force-live: %s %s: which hosts use it and which leases they hold "
				"cannot be told; formatting anyway\n", g->spec, why);
		return 0;
	}
	fprintf(stderr, "sync_manager: refused: %s %s, so init cannot tell whether hosts still use it; nothing was "
			"written.  Make sure no host uses it (stop sync_managerd, or 'sync_manager leave', on every host "
			"that joined it), then format with --force-live\n", g->spec, why);
	return -SM_EBUSY;
}

int init_guard_check(void *arg, const struct sm_volume_header *old)
{
	struct init_guard *g = arg;
	char why[160];
	struct watch w = {.g = g};
	int rc;
	if (!old) {
		rc = unreadable(g, "holds a damaged sync_manager header");
		goto out;
	}
	static const uint8_t zero[16];
	if (old->set_size && memcmp(old->set_uuid, zero, 16) != 0 && memcmp(old->set_uuid, g->set_checked, 16) == 0)
		return 0; /* its old set was watched already (formatting its first member) */
	if (old->set_size && !g->set_spec) {
		snprintf(why, sizeof(why), "is member %u of the volume set of lockspace '%s' (reformat its members "
			 "together: init A B C --force)", old->set_index + 1, old->lockspace);
		rc = unreadable(g, why);
		goto out;
	}
	rc = old->set_size ? sm_lockspace_open_spec(g->set_spec, &w.ls) : sm_lockspace_open(g->path, g->offset, &w.ls);
	if (rc == 0 && old->set_size && memcmp(sm_lockspace_header(w.ls)->set_uuid, old->set_uuid, 16) != 0)
		rc = -SM_ESET_MEMBERS;
	if (rc < 0) {
		snprintf(why, sizeof(why), "holds lockspace '%s' but its host records cannot be opened (%s)",
			 old->lockspace, sm_strerror(rc));
		rc = unreadable(g, why);
		goto out;
	}
	sm_lockspace_info(w.ls, &w.info);
	w.st = calloc(w.info.max_hosts, sizeof(*w.st));
	w.cls = calloc(w.info.max_hosts, sizeof(*w.cls));
	if (!w.st || !w.cls) {
		rc = -ENOMEM;
		goto out;
	}
	rc = g->force_live ? force_live(&w) : watch_hosts(&w);
	if (rc == 0 && old->set_size)
		memcpy(g->set_checked, old->set_uuid, 16);
out:
	g->reported = rc < 0 && rc != -ENOMEM;
	free(w.st);
	free(w.cls);
	sm_lockspace_free(w.ls);
	return rc;
}
