/* status / hosts / renewals: listings as sections of typed records.  The
 * field keys are the stable JSON keys of `sync_manager ... --json`. */
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

#include <stdio.h>
#include <string.h>
#include <unistd.h>


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

void report_status(struct conn *c, const struct sm_wire_req *rq, struct proc *unused)
{
	(void)rq;
	(void)unused;
	struct daemon *d = c->d;
	struct sm_msgbuf b;
	sm_mb_init(&b);
	size_t s = section(&b, "daemon");
	size_t r = sm_mb_begin(&b, SM_T_RECORD);
	sm_mb_kv_u64(&b, "pid", (uint64_t)getpid());
	sm_mb_kv_str(&b, "version", SM_VERSION);
	sm_mb_kv_str(&b, "run_dir", d->cfg.run_dir);
	sm_mb_kv_u64(&b, "uptime_ms", mono_ms() - d->started_mono);
	sm_mb_kv_str(&b, "watchdog", watchdog_describe(d));
	sm_mb_kv_bool(&b, "unprotected", watchdog_unprotected(d));
	sm_mb_kv_u64(&b, "processes", (uint64_t)d->nprocs);
	sm_mb_kv_u64(&b, "connections", (uint64_t)d->nconns);
	sm_mb_kv_u64(&b, "leases", (uint64_t)d->lt.nheld);
	sm_mb_kv_u64(&b, "workers", (uint64_t)d->nworkers);
	sm_mb_end(&b, r);
	sm_mb_end(&b, s);

	s = section(&b, "lockspaces");
	for (struct ls_entry *e = d->lockspaces; e; e = e->next)
		if (e->state != LS_GONE)
			put_lockspace(&b, e);
	sm_mb_end(&b, s);

	s = section(&b, "processes");
	for (struct proc *p = d->procs; p; p = p->next) {
		r = sm_mb_begin(&b, SM_T_RECORD);
		sm_mb_kv_u64(&b, "pid", (uint64_t)p->pid);
		sm_mb_kv_str(&b, "name", p->name);
		sm_mb_kv_str(&b, "state", p->state == PROC_ALIVE ? "alive" : p->state == PROC_FENCING ? "fencing" : "gone");
		sm_mb_kv_u64(&b, "leases", (uint64_t)p->nleases);
		sm_mb_kv_bool(&b, "restricted", p->restricted);
		sm_mb_kv_bool(&b, "connected", p->reg != NULL);
		sm_mb_kv_str(&b, "kill", p->kill.path[0] ? p->kill.path : p->kill.signal ? "signal" : "SIGTERM");
		sm_mb_end(&b, r);
	}
	sm_mb_end(&b, s);

	s = section(&b, "leases");
	for (struct lease *l = d->lt.head; l; l = l->next) {
		r = sm_mb_begin(&b, SM_T_RECORD);
		sm_mb_kv_str(&b, "lockspace", l->ls->name);
		sm_mb_kv_str(&b, "resource", l->ref.name);
		sm_mb_kv_str(&b, "mode", l->on_disk ? sm_mode_name(l->held.mode) : "-");
		sm_mb_kv_u64(&b, "lver", l->held.lver);
		char pids[256] = "";
		size_t n = 0;
		for (struct holder *h = l->holders; h && n < sizeof(pids) - 16; h = h->next)
			n += (size_t)snprintf(pids + n, sizeof(pids) - n, "%s%d", n ? "," : "", (int)h->proc->pid);
		sm_mb_kv_str(&b, "pids", pids);
		sm_mb_kv_str(&b, "state", l->busy ? "busy" : l->in_doubt ? "in-doubt" : l->on_disk ? "held" : "none");
		sm_mb_end(&b, r);
	}
	sm_mb_end(&b, s);
	conn_reply(c, 0, &b);
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
	for (uint32_t id = 1; id <= h->max_hosts; id++) {
		struct sm_host_status st;
		if (sm_lockspace_host_status(e->ls, id, &st) < 0 || !st.observed)
			continue;
		if (st.record_status == 0 && st.rec.generation == 0 && st.rec.flags == SM_HOST_FREE)
			continue; /* never used */
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
	}
	sm_mb_end(&b, s);
	conn_reply(c, 0, &b);
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
