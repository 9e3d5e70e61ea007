/* What each disk job does on a worker thread: resolve its resources,
 * call the lease library, fill in the result.  See jobexec.h. */
#include "jobexec.h"

#include "lockspaces.h"
#include "names.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "lease/resource.h"
#include "ondisk/index.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct sm_volume *get_volume(struct worker *w, const char *location, int *rc)
{
	for (int i = 0; i < w->nvols; i++)
		if (strcmp(w->vols[i].location, location) == 0)
			return w->vols[i].vol;
	struct sm_volume *v = NULL;
	*rc = sm_volume_open_spec(location, 0, &v);
	if (*rc < 0)
		return NULL;
	if (w->nvols == WORKER_MAX_VOLS) {
		sm_volume_close(w->vols[0].vol);
		memmove(&w->vols[0], &w->vols[1], sizeof(w->vols[0]) * (WORKER_MAX_VOLS - 1));
		w->nvols--;
	}
	snprintf(w->vols[w->nvols].location, SM_LOCATION_MAX, "%s", location);
	w->vols[w->nvols++].vol = v;
	return v;
}

static bool res_on_set(const struct job_res *r)
{
	return !r->nlocations && r->ls->ls && sm_lockspace_member_count(r->ls->ls) > 1;
}

/* The volumes of r: its explicit locations, the lockspace's volume, or the
 * members of the lockspace's volume set.  Returns how many. */
static int res_volumes(const struct job_res *r, char loc[SM_MAX_DISKS][SM_LOCATION_MAX])
{
	if (r->nlocations) {
		for (int i = 0; i < r->nlocations; i++)
			snprintf(loc[i], SM_LOCATION_MAX, "%s", r->location[i]);
		return r->nlocations;
	}
	if (!res_on_set(r)) {
		snprintf(loc[0], SM_LOCATION_MAX, "%s", r->ls->location);
		return 1;
	}
	int n = 0;
	const char *p = r->ls->location;
	while (n < SM_MAX_DISKS) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		snprintf(loc[n++], SM_LOCATION_MAX, "%.*s", (int)len, p);
		if (!comma)
			break;
		p = comma + 1;
	}
	return n;
}

/* The members of r's volume set, opened (NULL when a member cannot be
 * opened or is not this set's: a failed disk).  Returns how many opened. */
static int set_members(struct worker *w, struct job *j, const struct job_res *r, char locs[SM_MAX_DISKS][SM_LOCATION_MAX],
		       struct sm_volume *v[SM_SET_SIZE])
{
	const struct sm_volume_header *seth = sm_lockspace_header(r->ls->ls);
	int n = res_volumes(r, locs), opened = 0;
	for (int i = 0; i < SM_SET_SIZE; i++) {
		int rc = 0;
		v[i] = i < n ? get_volume(w, locs[i], &rc) : NULL;
		if (v[i] && (v[i]->hdr.set_size != seth->set_size || memcmp(v[i]->hdr.set_uuid, seth->set_uuid, 16) != 0))
			v[i] = NULL, rc = -SM_ESET_MEMBERS;
		if (!v[i])
			sm_warn("lockspace %s: cannot use member %s: %s (going on with the other members)", r->ls->name,
				i < n ? locs[i] : "?", sm_strerror(rc));
		opened += v[i] != NULL;
	}
	(void)j;
	return opened;
}

/* Fill ref for r on a volume set: each member's own index says where the
 * name lives; a member that lacks it takes no part (NULL), as long as a
 * majority has it.  With create, a name missing on a majority is added to
 * the set (index lease and entries on a majority). */
static int resolve_set(struct worker *w, struct job *j, struct job_res *r, bool create, struct sm_resource_ref *ref)
{
	char locs[SM_MAX_DISKS][SM_LOCATION_MAX];
	struct sm_volume *v[SM_SET_SIZE];
	set_members(w, j, r, locs, v);
	ref->ndisks = SM_SET_SIZE;
	int first_rc = 0;
	for (int pass = 0; pass < 2; pass++) {
		int usable = 0;
		first_rc = 0;
		for (int i = 0; i < SM_SET_SIZE; i++) {
			uint32_t area = 0;
			int rc = v[i] ? 0 : -ENODEV;
			if (rc == 0 && !names_get(locs[i], r->name, &area)) {
				if ((rc = names_load(v[i], locs[i])) == 0 && !names_get(locs[i], r->name, &area))
					rc = -SM_ENO_RESOURCE;
			}
			ref->disk[i].vol = rc == 0 ? v[i] : NULL;
			ref->disk[i].area = area;
			if (rc == 0)
				usable++;
			else if (!first_rc || first_rc == -ENODEV)
				first_rc = rc;
		}
		if (usable >= SM_SET_SIZE / 2 + 1)
			return 0;
		if (pass == 1 || !create || first_rc != -SM_ENO_RESOURCE)
			break;
		struct sm_oracle live = sm_oracle_of(r->ls->ls);
		int rc = sm_resource_add_set(v, r->name, &r->me, &live, r->ls->to.io_ms * 4, NULL);
		for (int i = 0; i < SM_SET_SIZE; i++)
			names_drop_volume(locs[i]);
		if (rc < 0 && rc != -SM_ERESOURCE_EXISTS) { /* another host may have added it meanwhile */
			snprintf(j->message, sizeof(j->message), "cannot add resource %s to volume set %s: %s", r->name,
				 r->ls->name, sm_strerror(rc));
			return rc;
		}
	}
	if (first_rc == -SM_ENO_RESOURCE)
		snprintf(j->message, sizeof(j->message), "no resource %s in volume set %s (add it with 'sync_manager resource "
			 "add %s %s')", r->name, r->ls->name, r->ls->name, r->name);
	else
		snprintf(j->message, sizeof(j->message), "resource %s: fewer than two members of volume set %s are usable: %s",
			 r->name, r->ls->name, sm_strerror(first_rc));
	return first_rc == -SM_ENO_RESOURCE ? first_rc : -SM_ENO_MAJORITY;
}

/* Fill ref for r (looking names up in the index unless cached); with
 * create, add a missing resource to its volume(s). */
static int resolve(struct worker *w, struct job *j, struct job_res *r, bool create, struct sm_resource_ref *ref)
{
	memset(ref, 0, sizeof(*ref));
	snprintf(ref->name, sizeof(ref->name), "%s", r->name);
	if (res_on_set(r)) {
		if (!sm_name_valid(r->name)) {
			snprintf(j->message, sizeof(j->message), "resource %s: %s", r->name, sm_strerror(-SM_EBAD_NAME));
			return -SM_EBAD_NAME;
		}
		return resolve_set(w, j, r, create, ref);
	}
	char locs[SM_MAX_DISKS][SM_LOCATION_MAX];
	ref->ndisks = res_volumes(r, locs);
	for (int i = 0; i < ref->ndisks; i++) {
		const char *loc = locs[i];
		int rc = 0;
		struct sm_volume *v = get_volume(w, loc, &rc);
		if (!v) {
			snprintf(j->message, sizeof(j->message), "cannot open volume %s: %s", loc, sm_strerror(rc));
			return rc;
		}
		ref->disk[i].vol = v;
		uint32_t area;
		if (names_get(loc, r->name, &area)) {
			ref->disk[i].area = area;
			continue;
		}
		if (!sm_name_valid(r->name))
			rc = -SM_EBAD_NAME;
		else if ((rc = names_load(v, loc)) == 0 && !names_get(loc, r->name, &area))
			rc = -SM_ENO_RESOURCE;
		if (rc == -SM_ENO_RESOURCE && create) {
			struct sm_oracle live = sm_oracle_of(r->ls->ls);
			rc = sm_resource_add(v, r->name, &r->me, &live, r->ls->to.io_ms * 4, &area);
			if (rc == -SM_ERESOURCE_EXISTS && /* another host added it meanwhile */
			    (rc = names_load(v, loc)) == 0 && !names_get(loc, r->name, &area))
				rc = -SM_ENO_RESOURCE;
		}
		if (rc < 0) {
			if (rc == -SM_ENO_RESOURCE)
				snprintf(j->message, sizeof(j->message),
					 "no resource %s in %s (add it with 'sync_manager resource add')", r->name, loc);
			else
				snprintf(j->message, sizeof(j->message), "resource %s in %s: %s", r->name, loc,
					 sm_strerror(rc));
			return rc;
		}
		ref->disk[i].area = area;
		names_put(loc, r->name, area);
	}
	return 0;
}

static void forget_resource(struct worker *w, const struct job_res *r)
{
	(void)w;
	char locs[SM_MAX_DISKS][SM_LOCATION_MAX];
	int n = res_volumes(r, locs);
	for (int i = 0; i < n; i++)
		names_drop_volume(locs[i]);
}

static void describe_refusal(struct job *j, struct job_res *r, int rc, const struct sm_lease *l)
{
	char who[160] = "";
	struct sm_host_status st;
	if (l->owner_id && sm_lockspace_host_status(r->ls->ls, l->owner_id, &st) == 0 && st.record_status == 0 &&
	    st.rec.host_name[0])
		snprintf(who, sizeof(who), "host %u (%s, %s)", l->owner_id, st.rec.host_name, sm_liveness_name(st.state));
	else
		snprintf(who, sizeof(who), "host %u", l->owner_id);
	j->owner = l->owner_id;
	switch (rc) {
	case -SM_EHELD:
		snprintf(j->message, sizeof(j->message), "%s:%s is held by %s", r->ls->name, r->name, who);
		break;
	case -SM_ESHARED_HELD:
		snprintf(j->message, sizeof(j->message), "%s:%s is held shared by %s", r->ls->name, r->name, who);
		break;
	case -SM_EUNKNOWN_HOST:
		snprintf(j->message, sizeof(j->message),
			 "%s:%s is held by %s, not yet observed long enough to know whether it is alive (at most H = "
			 "%u s after this host joined)",
			 r->ls->name, r->name, who, r->ls->to.host_dead_ms / 1000);
		break;
	case -SM_ELVER_MISMATCH:
		/* Somebody acquired it since that version: say who holds it now. */
		snprintf(j->message, sizeof(j->message), "%s:%s is at lease version %llu, not %llu: %s%s", r->ls->name,
			 r->name, (unsigned long long)l->lver, (unsigned long long)r->version,
			 l->owner_id && l->mode == SM_MODE_EX ? "held by " : "no exclusive owner now",
			 l->owner_id && l->mode == SM_MODE_EX ? who : "");
		break;
	default:
		if (!j->message[0])
			snprintf(j->message, sizeof(j->message), "%s:%s: %s%s", r->ls->name, r->name, sm_strerror(rc),
				 l->in_doubt ? " (outcome in doubt; the daemon will settle it)" : "");
	}
}

/* Is v's request a hand-off of our lease r->held from another host? */
static bool handoff_requested(const struct sm_lease_view *v, const struct job_res *r)
{
	return v->request_status == 0 && v->request.kind == SM_REQ_HANDOFF && v->request.lver == r->held.lver &&
	       v->request.requester_id != r->me.host_id;
}

/* Is a receiver still waiting for our lease?  Only if the hand-off request
 * for our version changes (its receiver rewrites it with sequence + 1 while
 * it waits) within sm_handoff_window_ms of our first look, observed on our
 * own clock: a request nobody refreshes (its receiver gave up, or there never
 * was one) has expired, and one withdrawn or replaced is not followed.  On
 * true, *q is the request and *go_by the latest moment the hand-off may
 * propose its value: sm_handoff_go_ms after the issue of the read that saw
 * the change (the receiver checks for it sm_handoff_settle_ms after its last
 * refresh). */
static bool receiver_waiting(const struct job_res *r, const struct sm_resource_ref *ref, struct sm_request *q,
			     uint64_t *go_by)
{
	struct sm_lease_view v;
	if (sm_paxos_inquire(ref, &v) < 0 || !handoff_requested(&v, r))
		return false;
	*q = v.request;
	struct sm_oracle live = sm_oracle_of(r->ls->ls);
	if (live.verdict(live.arg, q->requester_id, q->requester_generation, 0) == SM_OWNER_DEAD)
		return false;
	uint32_t io = r->ls->to.io_ms;
	uint64_t start = sm_now_mono_ms();
	while (sm_now_mono_ms() - start <= sm_handoff_window_ms(io)) {
		sm_sleep_ms(100);
		uint64_t issued = sm_now_mono_ms();
		if (sm_paxos_inquire(ref, &v) < 0)
			continue;
		if (!handoff_requested(&v, r) || v.request.requester_id != q->requester_id ||
		    v.request.requester_generation != q->requester_generation) {
			sm_info("%s:%s: the hand-off request of host %u was withdrawn or replaced; releasing", r->ls->name,
				r->name, q->requester_id);
			return false;
		}
		if (v.request.sequence != q->sequence) {
			*q = v.request;
			*go_by = issued + sm_handoff_go_ms(io);
			return true;
		}
	}
	sm_info("%s:%s: nobody waits for the hand-off host %u asked for (its request was not refreshed in %u ms); "
		"releasing",
		r->ls->name, r->name, q->requester_id, sm_handoff_window_ms(io));
	return false;
}

static int do_release(struct worker *w, struct job *j, struct job_res *r)
{
	struct sm_resource_ref ref;
	int rc = resolve(w, j, r, false, &ref);
	if (rc < 0)
		return rc;
	struct sm_request q;
	uint64_t go_by = 0;
	if (r->handoff_ok && r->held.mode == SM_MODE_EX && receiver_waiting(r, &ref, &q, &go_by)) {
		rc = sm_paxos_handoff(&ref, &r->me, &r->held, q.requester_id, q.requester_generation, go_by, &r->out);
		if (rc == 0) {
			sm_info("%s:%s handed off to host %u at lver %llu", r->ls->name, r->name, q.requester_id,
				(unsigned long long)r->out.lver);
			return 0;
		}
		sm_warn("%s:%s: hand-off to host %u failed: %s; releasing", r->ls->name, r->name, q.requester_id,
			sm_strerror(rc));
	}
	return sm_paxos_release(&ref, &r->me, &r->held);
}

/* Fenced by reservation: an acquire refused because the owner (or a shared
 * holder) is alive or unknown may preempt it once it has been silent for T,
 * then try again.  Each round fences one more host; a live owner ends it. */
#define MAX_FENCE_ROUNDS 8

static int acquire_fencing(struct job_res *r, struct sm_resource_ref *ref, const struct sm_acquire_opts *o, int rc)
{
	struct sm_lockspace *ls = r->ls->ls;
	for (int round = 0; round < MAX_FENCE_ROUNDS && sm_lockspace_fence_pr(ls); round++) {
		if (sm_error_class(rc) != SM_ERRCLASS_REFUSED)
			break;
		uint32_t owner = r->out.owner_id;
		if (!owner || owner == r->me.host_id)
			break;
		int frc = sm_lockspace_fence_host(ls, owner, r->out.owner_generation);
		if (frc < 0) {
			if (frc == -SM_ERESERVATION_CONFLICT)
				rc = frc;
			break;
		}
		rc = sm_paxos_acquire(ref, &r->me, o, &r->out);
	}
	return rc;
}

static void exec_acquire(struct worker *w, struct job *j)
{
	int i;
	for (i = 0; i < j->nres && j->rc == 0; i++) {
		struct job_res *r = &j->res[i];
		if (r->local_only)
			continue;
		struct sm_acquire_opts o = {.mode = r->mode, .at_version = r->at_version, .version = r->version,
					    .live = sm_oracle_of(r->ls->ls)};
		struct sm_resource_ref ref;
		int rc = resolve(w, j, r, j->flags & SM_F_CREATE, &ref);
		if (rc == 0) {
			rc = sm_paxos_acquire(&ref, &r->me, &o, &r->out);
			if (rc == -SM_ENO_RESOURCE || rc == -SM_EWRONG_RESOURCE) {
				forget_resource(w, r); /* the cached area is stale */
				j->message[0] = '\0';
				rc = resolve(w, j, r, j->flags & SM_F_CREATE, &ref);
				if (rc == 0)
					rc = sm_paxos_acquire(&ref, &r->me, &o, &r->out);
			}
			rc = acquire_fencing(r, &ref, &o, rc);
		}
		r->rc = rc;
		if (rc == 0) {
			r->done_on_disk = true;
			continue;
		}
		describe_refusal(j, r, rc, &r->out);
		j->rc = rc;
	}
	if (j->rc == 0)
		return;
	/* all or nothing: give back what this job took */
	for (int k = 0; k < j->nres; k++) {
		struct job_res *r = &j->res[k];
		if (!r->done_on_disk)
			continue;
		r->held = r->out;
		int rc = do_release(w, j, r);
		r->done_on_disk = rc < 0; /* still ours if the release failed */
		if (rc < 0)
			r->out.in_doubt = true;
	}
}

static void exec_release(struct worker *w, struct job *j)
{
	for (int i = 0; i < j->nres; i++) {
		struct job_res *r = &j->res[i];
		if (r->local_only)
			continue;
		r->rc = do_release(w, j, r);
		if (r->rc < 0 && j->rc == 0) {
			j->rc = r->rc;
			snprintf(j->message, sizeof(j->message), "releasing %s:%s failed: %s", r->ls->name, r->name,
				 sm_strerror(r->rc));
		}
	}
}

static void exec_convert(struct worker *w, struct job *j)
{
	struct job_res *r = &j->res[0];
	struct sm_resource_ref ref;
	int rc = resolve(w, j, r, false, &ref);
	r->out = r->held;
	struct sm_lease refused = r->out; /* who blocked us: never ourselves */
	if (rc == 0) {
		if (r->mode == SM_MODE_SH)
			rc = sm_paxos_convert_to_shared(&ref, &r->me, &r->out);
		else {
			struct sm_oracle live = sm_oracle_of(r->ls->ls);
			rc = sm_paxos_convert_to_exclusive(&ref, &r->me, &live, &r->out, &refused);
		}
	}
	if (rc < 0)
		describe_refusal(j, r, rc, r->mode == SM_MODE_SH ? &r->out : &refused);
	r->rc = j->rc = rc;
}

static void exec_resource(struct worker *w, struct job *j, bool add)
{
	struct job_res *r = &j->res[0];
	int rc = 0;
	if (res_on_set(r)) {
		char locs[SM_MAX_DISKS][SM_LOCATION_MAX];
		struct sm_volume *v[SM_SET_SIZE];
		set_members(w, j, r, locs, v);
		struct sm_oracle live = sm_oracle_of(r->ls->ls);
		rc = add ? sm_resource_add_set(v, r->name, &r->me, &live, r->ls->to.io_ms * 4, NULL)
			 : sm_resource_remove_set(v, r->name, &r->me, &live, r->ls->to.io_ms * 4);
		forget_resource(w, r);
		if (rc < 0)
			snprintf(j->message, sizeof(j->message), "cannot %s %s:%s: %s", add ? "add" : "remove", r->ls->name,
				 r->name, sm_strerror(rc));
		j->rc = rc;
		return;
	}
	struct sm_volume *v = get_volume(w, r->ls->location, &rc);
	if (v) {
		struct sm_oracle live = sm_oracle_of(r->ls->ls);
		uint32_t area;
		rc = add ? sm_resource_add(v, r->name, &r->me, &live, r->ls->to.io_ms * 4, &area)
			 : sm_resource_remove(v, r->name, &r->me, &live, r->ls->to.io_ms * 4);
		forget_resource(w, r);
	}
	if (rc < 0)
		snprintf(j->message, sizeof(j->message), "cannot %s %s:%s: %s", add ? "add" : "remove", r->ls->name,
			 r->name, sm_strerror(rc));
	j->rc = rc;
}

static void exec_request(struct worker *w, struct job *j)
{
	struct job_res *r = &j->res[0];
	struct sm_resource_ref ref;
	struct sm_lease_view v;
	int rc = resolve(w, j, r, false, &ref);
	if (rc == 0)
		rc = sm_paxos_inquire(&ref, &v);
	if (rc == 0)
		rc = sm_paxos_request(&ref, &r->me, j->kind_arg, v.leader.lver);
	if (rc == 0 && v.leader.owner_id && v.leader.owner_id != r->me.host_id)
		atomic_store(&r->ls->thr.attention_to, v.leader.owner_id);
	r->out.lver = rc == 0 ? v.leader.lver : 0;
	r->out.owner_id = rc == 0 ? v.leader.owner_id : 0;
	if (rc < 0)
		snprintf(j->message, sizeof(j->message), "request for %s:%s failed: %s", r->ls->name, r->name,
			 sm_strerror(rc));
	j->rc = rc;
}

/* Does v show the lease handed to us at lver v0 + 1? */
/* Was the lease handed to us?  Only an announcement says so: a leader record
 * naming us at v0 + 1 is written after that value was chosen.  A view that
 * inquire derived from a later dblock (announced_lver set) may show a value
 * still being balloted, which a takeover by a higher ballot can yet beat. */
static bool received(const struct sm_lease_view *v, const struct job_res *r, uint64_t v0)
{
	const struct sm_leader *l = &v->leader;
	return v->announced_lver == 0 && l->owner_id == r->me.host_id && l->owner_generation == r->me.generation &&
	       l->lver == v0 + 1 && l->mode == SM_MODE_EX;
}

/* We stop waiting (the deadline passed): withdraw the request so the owner
 * releases at once, wait until any hand-off the owner may still have started
 * from our last refresh is on disk (sm_handoff_settle_ms), and look once
 * more: a lease handed to us after all is ours (0), never left owned on disk
 * by a host that does not know it. */
static int receive_give_up(struct job *j, struct job_res *r, const struct sm_resource_ref *ref, uint64_t v0,
			   uint64_t seq)
{
	uint32_t io = r->ls->to.io_ms;
	uint64_t stopped = sm_now_mono_ms(); /* no refresh is issued from here on */
	int rc = sm_paxos_request_seq(ref, &r->me, SM_REQ_NONE, v0, seq);
	/* Until the withdraw is on disk the owner may still see our last
	 * refresh, so the settle time counts from its completion (model
	 * receive.pml, finding F9).  A withdraw that failed (or timed out and
	 * may land later) leaves the owner its whole window from our last
	 * refresh, polling reads that fail included (F10). */
	uint64_t until = sm_now_mono_ms() + sm_handoff_settle_ms(io);
	if (rc < 0) {
		sm_warn("%s:%s: cannot withdraw the hand-off request: %s (it expires unrefreshed)", r->ls->name, r->name,
			sm_strerror(rc));
		until = stopped + io + sm_handoff_window_ms(io) + sm_handoff_settle_ms(io);
	}
	uint64_t now = sm_now_mono_ms();
	if (now < until)
		sm_sleep_ms((unsigned)(until - now));
	struct sm_lease_view v;
	for (int tries = 0; (rc = sm_paxos_inquire(ref, &v)) < 0 && tries < 5; tries++)
		sm_sleep_ms(io);
	if (rc < 0) {
		snprintf(j->message, sizeof(j->message),
			 "%s:%s: gave up waiting, and cannot read whether the owner handed it over after all: %s",
			 r->ls->name, r->name, sm_strerror(rc));
		return rc;
	}
	if (received(&v, r, v0)) {
		r->out = (struct sm_lease){.lver = v0 + 1, .mode = SM_MODE_EX, .owner_id = r->me.host_id};
		return 0;
	}
	snprintf(j->message, sizeof(j->message), "%s:%s: its owner did not hand it over in time", r->ls->name, r->name);
	return -ETIMEDOUT;
}

/* The owner died while we waited: take the lease over as a plain acquire
 * does.  0 when ours, 1 to keep waiting (not provably dead yet), or an error. */
static int receive_take_over(struct job *j, struct job_res *r, const struct sm_resource_ref *ref)
{
	struct sm_acquire_opts o = {.mode = SM_MODE_EX, .live = sm_oracle_of(r->ls->ls)};
	int rc = sm_paxos_acquire(ref, &r->me, &o, &r->out);
	if (rc == -SM_EUNKNOWN_HOST || sm_error_class(rc) == SM_ERRCLASS_RETRY)
		return 1;
	if (rc < 0)
		describe_refusal(j, r, rc, &r->out);
	else
		sm_warn("%s:%s: its owner died during the hand-off; taken over at lver %llu", r->ls->name, r->name,
			(unsigned long long)r->out.lver);
	return rc;
}

/* Ask the owner to hand the lease over, then wait until the leader names us,
 * rewriting the request (sequence + 1) every SM_HANDOFF_REFRESH_MS to show
 * that we still wait. */
static void exec_receive(struct worker *w, struct job *j)
{
	struct job_res *r = &j->res[0];
	struct sm_resource_ref ref;
	struct sm_lease_view v;
	int rc = resolve(w, j, r, false, &ref);
	if (rc == 0)
		rc = sm_paxos_inquire(&ref, &v);
	if (rc < 0) {
		j->rc = rc;
		snprintf(j->message, sizeof(j->message), "%s:%s: %s", r->ls->name, r->name, sm_strerror(rc));
		return;
	}
	uint64_t v0 = v.leader.lver;
	uint32_t src = v.leader.owner_id;
	uint64_t src_gen = v.leader.owner_generation;
	if (v.leader.owner_id == 0 || v.leader.mode != SM_MODE_EX) {
		j->rc = -SM_ENOT_OWNER;
		snprintf(j->message, sizeof(j->message), "%s:%s is not held by anyone: nothing to receive", r->ls->name,
			 r->name);
		return;
	}
	/* a sequence the record never had, so the first refresh is a change */
	uint64_t seq = (v.request_status == 0 ? v.request.sequence : 0) + 1;
	if ((rc = sm_paxos_request_seq(&ref, &r->me, SM_REQ_HANDOFF, v0, seq)) < 0) {
		j->rc = rc;
		return;
	}
	atomic_store(&r->ls->thr.attention_to, v.leader.owner_id);
	uint64_t end = sm_now_mono_ms() + j->wait_ms, refreshed = sm_now_mono_ms();
	struct sm_oracle live = sm_oracle_of(r->ls->ls);
	for (;;) {
		sm_sleep_ms(SM_MIN(250u, r->ls->to.renew_ms));
		if (sm_now_mono_ms() >= end) {
			j->rc = receive_give_up(j, r, &ref, v0, seq + 1);
			return;
		}
		if (sm_now_mono_ms() - refreshed >= SM_HANDOFF_REFRESH_MS) {
			if (sm_paxos_request_seq(&ref, &r->me, SM_REQ_HANDOFF, v0, seq + 1) == 0)
				seq++;
			refreshed = sm_now_mono_ms();
		}
		if ((rc = sm_paxos_inquire(&ref, &v)) < 0)
			continue; /* keep trying until the deadline */
		const struct sm_leader *l = &v.leader;
		if (received(&v, r, v0)) {
			r->out = (struct sm_lease){.lver = l->lver, .mode = SM_MODE_EX, .owner_id = l->owner_id};
			j->rc = 0;
			return;
		}
		if (v.announced_lver) {
			/* a later instance is being balloted (or its announcement
			 * lags): wait for what it announces */
		} else if (l->lver != v0 || l->owner_id == 0) {
			j->rc = -SM_ELVER_MISMATCH;
			snprintf(j->message, sizeof(j->message),
				 "%s:%s was %s (now lver %llu, owner host %u) instead of handed to us", r->ls->name, r->name,
				 l->owner_id ? "taken by another host" : "released", (unsigned long long)l->lver,
				 l->owner_id);
			return;
		}
		if (live.verdict(live.arg, src, src_gen, 0) == SM_OWNER_DEAD && (rc = receive_take_over(j, r, &ref)) <= 0) {
			j->rc = rc;
			return;
		}
	}
}

static void exec_resolve(struct worker *w, struct job *j)
{
	struct job_res *r = &j->res[0];
	struct sm_resource_ref ref;
	int rc = resolve(w, j, r, false, &ref);
	if (rc == 0) {
		struct sm_oracle live = sm_oracle_of(r->ls->ls);
		rc = sm_paxos_resolve(&ref, &r->me, &live);
	}
	j->rc = r->rc = rc;
}

/* After a restart: is each lease still ours on disk? */
static void exec_verify(struct worker *w, struct job *j)
{
	for (int i = 0; i < j->nres; i++) {
		struct job_res *r = &j->res[i];
		struct sm_resource_ref ref;
		struct sm_lease_view v;
		int rc = resolve(w, j, r, false, &ref);
		if (rc == 0)
			rc = sm_paxos_inquire(&ref, &v);
		if (rc == 0) {
			bool ok;
			if (r->held.mode == SM_MODE_EX)
				ok = v.leader.owner_id == r->me.host_id && v.leader.owner_generation == r->me.generation &&
				     v.leader.lver == r->held.lver;
			else {
				ok = false;
				for (uint32_t k = 0; k < v.shared_count && k < 64; k++)
					if (v.shared_host[k] == r->me.host_id && v.shared_gen[k] == r->me.generation)
						ok = true;
			}
			rc = ok ? 0 : -SM_ENOT_OWNER;
		}
		r->rc = rc;
	}
}

static uint8_t mine_of(const struct sm_mine *m)
{
	if (m->ahead || (m->ex && m->shared))
		return MINE_DOUBT; /* sm_paxos_resolve settles every case */
	return m->ex ? MINE_EX : m->shared ? MINE_SH : MINE_NONE;
}

/* Which leases of a lockspace name us on disk (sm_paxos_mine: the leader
 * and our sector)?  Either the named resources res[i], or one batch of the
 * sweep: j->kind_arg areas from j->cursor by area number (no index read),
 * those found into res[1..] while there is room.  Nothing is written. */
static void exec_orphans(struct worker *w, struct job *j)
{
	struct job_res *r0 = &j->res[0];
	if (r0->name[0]) {
		for (int i = 0; i < j->nres; i++) {
			struct job_res *r = &j->res[i];
			struct sm_resource_ref ref;
			struct sm_mine m = {0};
			if ((r->rc = resolve(w, j, r, false, &ref)) == 0 && (r->rc = sm_paxos_mine(&ref, &r->me, &m)) == 0)
				r->mine = mine_of(&m);
			if (r->mine)
				r->out = (struct sm_lease){.lver = m.lver};
		}
		return;
	}
	int rc = 0;
	struct sm_volume *members[SM_SET_SIZE] = {0}, *v = NULL;
	bool set = res_on_set(r0);
	if (set) { /* a volume set: the same area on every member */
		char locs[SM_MAX_DISKS][SM_LOCATION_MAX];
		set_members(w, j, r0, locs, members);
		for (int i = 0; i < SM_SET_SIZE && !v; i++)
			v = members[i];
		rc = -SM_ENO_MAJORITY;
	} else {
		v = get_volume(w, r0->ls->location, &rc);
	}
	if (!v) {
		j->rc = rc;
		return;
	}
	uint32_t a = j->cursor, end = SM_MIN(a + SM_MAX(j->kind_arg, 1u), v->hdr.resource_count);
	int found = 1;
	for (; a < end && found < j->nres; a++) {
		struct sm_resource_ref ref = {.ndisks = 1, .disk = {{v, a}}};
		if (set) {
			ref.ndisks = SM_SET_SIZE;
			for (int i = 0; i < SM_SET_SIZE; i++) {
				ref.disk[i].vol = members[i];
				ref.disk[i].area = a;
			}
		}
		struct sm_mine m;
		if (sm_paxos_mine(&ref, &r0->me, &m) < 0 || !mine_of(&m))
			continue;
		struct job_res *r = &j->res[found++];
		snprintf(r->name, sizeof(r->name), "%s", m.name);
		r->mine = mine_of(&m);
		r->out = (struct sm_lease){.lver = m.lver};
	}
	j->cursor = a >= v->hdr.resource_count ? 0 : a;
}

void job_execute(struct worker *w, struct job *j)
{
	switch (j->kind) {
	case JOB_ACQUIRE: exec_acquire(w, j); break;
	case JOB_RELEASE: exec_release(w, j); break;
	case JOB_CONVERT: exec_convert(w, j); break;
	case JOB_RESOURCE_ADD: exec_resource(w, j, true); break;
	case JOB_RESOURCE_RM: exec_resource(w, j, false); break;
	case JOB_REQUEST: exec_request(w, j); break;
	case JOB_RESOLVE: exec_resolve(w, j); break;
	case JOB_RECEIVE: exec_receive(w, j); break;
	case JOB_VERIFY: exec_verify(w, j); break;
	case JOB_ORPHANS: exec_orphans(w, j); break;
	}
}

void worker_close_volumes(struct worker *w)
{
	for (int i = 0; i < w->nvols; i++)
		sm_volume_close(w->vols[i].vol);
	w->nvols = 0;
}
