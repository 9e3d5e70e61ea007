/* status / hosts / renewals: listings as sections of typed records.  The
 * field keys are the stable JSON keys of `sync_manager ... --json`.
 *
 * Paging: a request that carries a CURSOR (0 for the first page) gets at
 * most PAGE_SIZE records (PAGE_DEFAULT when not given) and never more than
 * PAGE_BYTES, with a CURSOR for the next page in the reply (none on the
 * last); the client library asks for pages until there is none and merges
 * the sections by name.  A request without a CURSOR (an older client) gets
 * the whole listing in one reply as before.  Pages follow a stable order
 * (processes by pid, leases by lockspace and name, hosts by host_id), so
 * a listing of a daemon that does not change is complete and has each
 * record once; records added or removed between pages may be missed (a
 * lease by its position) but a process never appears twice. */
#include "reports.h"

#include "conn.h"
#include "leasetab.h"
#include "lockspaces.h"
#include "procs.h"
#include "watchdog.h"

#include "proto/request.h"

#include "common/clock.h"
#include "common/util.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PAGE_DEFAULT 1000
#define PAGE_BYTES (SM_PROTO_MAX_MSG / 2) /* a record is far below the other half */

/* status cursors: the phase in the top byte, then where it resumes */
#define PHASE_SHIFT 56
#define PHASE_PROCS 1ull  /* value: the next pid to list */
#define PHASE_LEASES 2ull /* value: the index in lease order */
#define CURSOR_VALUE(c) ((c) & ((1ull << PHASE_SHIFT) - 1))

struct page {
	bool paged;
	uint32_t limit, n;
	uint64_t next; /* 0: this is the last page */
};

static void page_start(struct page *pg, const struct sm_wire_req *rq)
{
	pg->paged = rq->present & SM_RQ_CURSOR;
	pg->limit = rq->page_size ? rq->page_size : PAGE_DEFAULT;
	pg->n = 0;
	pg->next = 0;
}

/* May one more record go into this page? */
static bool page_has_room(const struct page *pg, const struct sm_msgbuf *b)
{
	return !pg->paged || pg->n == 0 || (pg->n < pg->limit && b->len < PAGE_BYTES); /* each page moves on */
}

static void page_reply(struct conn *c, struct page *pg, struct sm_msgbuf *b)
{
	if (pg->paged) {
		c->d->m.listing_pages++;
		if (pg->next)
			sm_mb_u64(b, SM_T_CURSOR, pg->next);
	}
	conn_reply(c, 0, b);
}

static size_t section(struct sm_msgbuf *b, const char *name)
{
	size_t g = sm_mb_begin(b, SM_T_SECTION);
	sm_mb_str(b, SM_T_NAME, name);
	return g;
}

static void put_lockspace(struct sm_msgbuf *b, struct ls_entry *e)
{
	size_t r = sm_mb_begin(b, SM_T_RECORD);
	sm_mb_kv_str(b, "name", e->name);
	sm_mb_kv_str(b, "volume", e->location);
	sm_mb_kv_str(b, "state", ls_state_name(e->state));
	struct sm_lockspace_info info;
	if (e->ls) {
		sm_lockspace_info(e->ls, &info);
		sm_mb_kv_u64(b, "host_id", info.joined ? info.host_id : 0);
		sm_mb_kv_u64(b, "generation", info.joined ? info.generation : 0);
		sm_mb_kv_str(b, "host_name", info.host_name[0] ? info.host_name : e->want_host_name);
		char mid[33];
		sm_machine_id_hex(info.machine_id, mid);
		sm_mb_kv_str(b, "machine_id", mid);
		bool renewing = info.joined && e->state == LS_JOINED;
		uint64_t now = sm_now_mono_ms();
		sm_mb_kv_i64(b, "last_renewal_age_ms",
			     renewing && info.last_renewal_mono_ms ? (int64_t)(now - info.last_renewal_mono_ms) : -1);
		sm_mb_kv_i64(b, "leases_expire_in_ms", renewing ? sm_lockspace_remaining_ms(e->ls) : -1);
		struct sm_renewal_record hist[SM_RENEWAL_HISTORY];
		int nh = sm_lockspace_renewal_history(e->ls, hist, SM_RENEWAL_HISTORY);
		uint32_t worst = 0;
		for (int i = 0; i < nh; i++)
			worst = SM_MAX(worst, hist[i].duration_ms);
		sm_mb_kv_i64(b, "last_renewal_took_ms", nh ? (int64_t)hist[nh - 1].duration_ms : -1);
		sm_mb_kv_i64(b, "renewal_max_ms", nh ? (int64_t)worst : -1); /* over the last 64 */
		sm_mb_kv_u64(b, "renewals", info.renewals);
		sm_mb_kv_u64(b, "renewal_failures", info.renewal_failures);
		sm_mb_kv_u64(b, "io_timeout_ms", e->to.io_ms);
		sm_mb_kv_u64(b, "renewal_interval_ms", e->to.renew_ms);
		sm_mb_kv_u64(b, "renewal_fail_ms", e->to.fail_ms);
		sm_mb_kv_u64(b, "host_dead_ms", e->to.host_dead_ms);
		sm_mb_kv_u64(b, "watchdog_ms", e->to.watchdog_ms);
		sm_mb_kv_u64(b, "members", (uint64_t)info.members);
		sm_mb_kv_u64(b, "members_down", (uint64_t)info.members_down);
		/* "member 2 (PATH:OFF) down for 4.1 s: error; ..." for a volume set */
		char down[600] = "";
		size_t len = 0;
		for (int i = 0; i < info.members && info.members > 1; i++) {
			struct sm_member_info mi;
			sm_lockspace_member_info(e->ls, i, &mi);
			if (mi.up || len >= sizeof(down))
				continue;
			len += (size_t)snprintf(down + len, sizeof(down) - len, "%smember %u (%s) down for %.1f s: %s",
						len ? "; " : "", mi.index + 1, mi.spec, mi.down_ms / 1000.0,
						sm_strerror(mi.last_error));
		}
		sm_mb_kv_str(b, "members_problem", down);
		sm_mb_kv_str(b, "fencing", info.fence_pr ? "persistent-reservation" : "timing");
		sm_mb_kv_str(b, "lease_io", sm_lease_io_name(sm_lockspace_header(e->ls)->lease_io));
		sm_mb_kv_bool(b, "fenced_by_reservation", info.fenced);
		if (info.fence_pr)
			sm_mb_kv_u64(b, "fence_detect_ms", e->to.fence_detect_ms);
	}
	if (e->state == LS_JOINING) {
		pthread_mutex_lock(&e->thr.progress_mu);
		sm_mb_kv_str(b, "join_progress", e->thr.progress);
		uint64_t now = mono_ms(); /* the time left now, not when the wait began */
		uint64_t deadline = e->thr.progress_deadline_ms;
		sm_mb_kv_u64(b, "join_remaining_ms", deadline > now ? deadline - now : 0);
		pthread_mutex_unlock(&e->thr.progress_mu);
		sm_mb_kv_u64(b, "joining_for_ms", mono_ms() - e->join_started_mono);
	}
	int n = 0;
	for (struct lease *l = e->d->lt.head; l; l = l->next)
		n += l->ls == e;
	sm_mb_kv_u64(b, "leases", (uint64_t)n);
	sm_mb_end(b, r);
}

static int by_pid(const void *a, const void *b)
{
	pid_t x = (*(struct proc *const *)a)->pid, y = (*(struct proc *const *)b)->pid;
	return (x > y) - (x < y);
}

static int by_lease_name(const void *a, const void *b)
{
	const struct lease *x = *(struct lease *const *)a, *y = *(struct lease *const *)b;
	int r = strcmp(x->ls->name, y->ls->name);
	return r ? r : strcmp(x->ref.name, y->ref.name);
}

static void put_daemon(struct sm_msgbuf *b, struct daemon *d)
{
	size_t s = section(b, "daemon");
	size_t r = sm_mb_begin(b, SM_T_RECORD);
	sm_mb_kv_u64(b, "pid", (uint64_t)getpid());
	sm_mb_kv_str(b, "version", SM_VERSION);
	sm_mb_kv_str(b, "run_dir", d->cfg.run_dir);
	sm_mb_kv_u64(b, "uptime_ms", mono_ms() - d->started_mono);
	sm_mb_kv_str(b, "watchdog", watchdog_describe(d));
	sm_mb_kv_bool(b, "unprotected", watchdog_unprotected(d));
	sm_mb_kv_u64(b, "processes", (uint64_t)d->nprocs);
	sm_mb_kv_u64(b, "connections", (uint64_t)d->nconns);
	sm_mb_kv_u64(b, "leases", (uint64_t)d->lt.nheld);
	sm_mb_kv_u64(b, "workers", (uint64_t)d->nworkers);
	sm_mb_end(b, r);
	sm_mb_end(b, s);
	s = section(b, "lockspaces");
	for (struct ls_entry *e = d->lockspaces; e; e = e->next)
		if (e->state != LS_GONE)
			put_lockspace(b, e);
	sm_mb_end(b, s);
}

static void put_proc(struct sm_msgbuf *b, const struct proc *p)
{
	size_t r = sm_mb_begin(b, SM_T_RECORD);
	sm_mb_kv_u64(b, "pid", (uint64_t)p->pid);
	sm_mb_kv_str(b, "name", p->name);
	sm_mb_kv_str(b, "state", p->state == PROC_ALIVE ? "alive" : p->state == PROC_FENCING ? "fencing" : "gone");
	sm_mb_kv_u64(b, "leases", (uint64_t)p->nleases);
	sm_mb_kv_bool(b, "restricted", p->restricted);
	sm_mb_kv_bool(b, "connected", p->reg != NULL);
	sm_mb_kv_str(b, "kill", p->kill.path[0] ? p->kill.path : p->kill.signal ? "signal" : "SIGTERM");
	sm_mb_end(b, r);
}

static void put_lease(struct sm_msgbuf *b, const struct lease *l)
{
	size_t r = sm_mb_begin(b, SM_T_RECORD);
	sm_mb_kv_str(b, "lockspace", l->ls->name);
	sm_mb_kv_str(b, "resource", l->ref.name);
	sm_mb_kv_str(b, "mode", l->on_disk ? sm_mode_name(l->held.mode) : "-");
	sm_mb_kv_u64(b, "lver", l->held.lver);
	char pids[256] = "";
	size_t n = 0;
	for (struct holder *h = l->holders; h && n < sizeof(pids) - 16; h = h->next)
		n += (size_t)snprintf(pids + n, sizeof(pids) - n, "%s%d", n ? "," : "", (int)h->proc->pid);
	sm_mb_kv_str(b, "pids", pids);
	sm_mb_kv_str(b, "state", l->busy ? "busy" : l->in_doubt ? "in-doubt" : l->on_disk ? "held" : "none");
	sm_mb_end(b, r);
}

/* The processes section from pid `from` on (pg->next set when the page
 * filled first).  0 or -ENOMEM. */
static int put_procs(struct sm_msgbuf *b, struct daemon *d, pid_t from, struct page *pg)
{
	size_t total = 0;
	for (struct proc *p = d->procs; p; p = p->next)
		total++;
	struct proc **v = malloc(sizeof(*v) * (total + 1));
	if (!v)
		return -ENOMEM;
	size_t n = 0;
	for (struct proc *p = d->procs; p; p = p->next)
		if (p->pid >= from)
			v[n++] = p;
	qsort(v, n, sizeof(*v), by_pid);
	size_t s = section(b, "processes");
	for (size_t i = 0; i < n && !pg->next; i++) {
		if (!page_has_room(pg, b))
			pg->next = PHASE_PROCS << PHASE_SHIFT | (uint64_t)v[i]->pid;
		else {
			put_proc(b, v[i]);
			pg->n++;
		}
	}
	sm_mb_end(b, s);
	free(v);
	return 0;
}

/* The leases section from position `from` of lease order. */
static int put_leases(struct sm_msgbuf *b, struct daemon *d, uint64_t from, struct page *pg)
{
	size_t total = 0;
	for (struct lease *l = d->lt.head; l; l = l->next)
		total++;
	struct lease **v = malloc(sizeof(*v) * (total + 1));
	if (!v)
		return -ENOMEM;
	size_t n = 0;
	for (struct lease *l = d->lt.head; l; l = l->next)
		v[n++] = l;
	qsort(v, n, sizeof(*v), by_lease_name);
	size_t s = section(b, "leases");
	for (size_t i = from; i < n && !pg->next; i++) {
		if (!page_has_room(pg, b))
			pg->next = PHASE_LEASES << PHASE_SHIFT | i;
		else {
			put_lease(b, v[i]);
			pg->n++;
		}
	}
	sm_mb_end(b, s);
	free(v);
	return 0;
}

void report_status(struct conn *c, const struct sm_wire_req *rq, struct proc *unused)
{
	(void)unused;
	struct daemon *d = c->d;
	struct page pg;
	page_start(&pg, rq);
	uint64_t phase = rq->cursor >> PHASE_SHIFT, at = CURSOR_VALUE(rq->cursor);
	if (rq->cursor && phase != PHASE_PROCS && phase != PHASE_LEASES) {
		conn_reply_error(c, -SM_EBAD_ARGUMENT, 0, "invalid status cursor %llu", (unsigned long long)rq->cursor);
		return;
	}
	struct sm_msgbuf b;
	sm_mb_init(&b);
	int rc = 0;
	if (rq->cursor == 0)
		put_daemon(&b, d);
	if (phase != PHASE_LEASES)
		rc = put_procs(&b, d, phase == PHASE_PROCS ? (pid_t)at : 0, &pg);
	if (rc == 0 && !pg.next)
		rc = put_leases(&b, d, phase == PHASE_LEASES ? at : 0, &pg);
	if (rc < 0) {
		sm_mb_free(&b);
		conn_reply_error(c, rc, 0, "out of memory for the status listing");
		return;
	}
	page_reply(c, &pg, &b);
}

static struct ls_entry *named_lockspace(struct conn *c, const struct sm_wire_req *rq)
{
	struct ls_entry *e = ls_find(c->d, rq->lockspace);
	if (!e || !e->ls)
		conn_reply_error(c, -SM_ENOT_JOINED, 0, "lockspace '%s' is not joined on this host", rq->lockspace);
	return e && e->ls ? e : NULL;
}

void report_hosts(struct conn *c, const struct sm_wire_req *rq, struct proc *unused)
{
	(void)unused;
	struct ls_entry *e = named_lockspace(c, rq);
	if (!e)
		return;
	struct sm_msgbuf b;
	sm_mb_init(&b);
	size_t s = section(&b, "hosts");
	uint32_t me = 0;
	uint64_t gen;
	sm_lockspace_me(e->ls, &me, &gen, NULL);
	const struct sm_volume_header *h = sm_lockspace_header(e->ls);
	struct page pg;
	page_start(&pg, rq);
	uint32_t first = rq->cursor > 1 && rq->cursor <= UINT32_MAX ? (uint32_t)rq->cursor : 1; /* next host_id */
	for (uint32_t id = first; id <= h->max_hosts && !pg.next; id++) {
		struct sm_host_status st;
		if (sm_lockspace_host_status(e->ls, id, &st) < 0 || !st.observed)
			continue;
		if (st.record_status == 0 && st.rec.generation == 0 && st.rec.flags == SM_HOST_FREE)
			continue; /* never used */
		if (!page_has_room(&pg, &b)) {
			pg.next = id;
			break;
		}
		size_t r = sm_mb_begin(&b, SM_T_RECORD);
		sm_mb_kv_u64(&b, "host_id", id);
		sm_mb_kv_str(&b, "name", st.record_status ? "?" : st.rec.host_name);
		char mid[33] = ""; /* "": unknown (unreadable, or written by an older version) */
		if (!st.record_status)
			sm_machine_id_hex(st.rec.machine_id, mid);
		sm_mb_kv_str(&b, "machine_id", mid);
		sm_mb_kv_u64(&b, "generation", st.record_status ? 0 : st.rec.generation);
		const char *self = watchdog_unprotected(c->d) ? "live (this host, unprotected: no watchdog)"
							      : "live (this host)";
		sm_mb_kv_str(&b, "state", id == me ? self : sm_liveness_name(st.state));
		sm_mb_kv_u64(&b, "last_change_age_ms", st.since_change_ms);
		sm_mb_kv_bool(&b, "this_host", id == me);
		if (id == me) /* known for this host only */
			sm_mb_kv_bool(&b, "unprotected", watchdog_unprotected(c->d));
		sm_mb_kv_str(&b, "record", st.record_status ? sm_strerror(st.record_status) : "ok");
		sm_mb_end(&b, r);
		pg.n++;
	}
	sm_mb_end(&b, s);
	page_reply(c, &pg, &b);
}

void report_renewals(struct conn *c, const struct sm_wire_req *rq, struct proc *unused)
{
	(void)unused;
	struct ls_entry *e = named_lockspace(c, rq);
	if (!e)
		return;
	struct sm_renewal_record hist[SM_RENEWAL_HISTORY];
	int n = sm_lockspace_renewal_history(e->ls, hist, SM_RENEWAL_HISTORY);
	struct sm_msgbuf b;
	sm_mb_init(&b);
	size_t s = section(&b, "renewals");
	uint64_t now = sm_now_mono_ms();
	for (int i = 0; i < n; i++) {
		size_t r = sm_mb_begin(&b, SM_T_RECORD);
		sm_mb_kv_u64(&b, "age_ms", now - hist[i].start_mono_ms);
		sm_mb_kv_u64(&b, "duration_ms", hist[i].duration_ms);
		sm_mb_kv_str(&b, "result", hist[i].result ? sm_strerror(hist[i].result) : "ok");
		sm_mb_end(&b, r);
	}
	sm_mb_end(&b, s);
	conn_reply(c, 0, &b);
}
