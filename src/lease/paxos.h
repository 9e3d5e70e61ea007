/* Disk Paxos resource leases: exclusive and shared, release, convert,
 * only-at-version, takeover, requests and hand-off (docs/algorithms.md §2-3).
 *
 * A resource lives in one area on 1 or 3 volumes (majority rule).  The
 * caller provides the volumes (each used by this thread only) and a
 * liveness oracle, normally the lockspace's observation table. */
#ifndef SM_LEASE_PAXOS_H
#define SM_LEASE_PAXOS_H

#include "delta.h"
#include "ondisk/volume.h"

#include <stdbool.h>
#include <stdint.h>

#define SM_MAX_DISKS 3

struct sm_resource_ref {
	char name[SM_NAME_FIELD];
	int ndisks; /* 1 or 3 */
	struct {
		struct sm_volume *vol;
		uint32_t area; /* SM_INDEX_LEASE_AREA for the index lease */
	} disk[SM_MAX_DISKS];
};

/* Who we are in the lockspace. */
struct sm_me {
	uint32_t host_id;
	uint64_t generation;
};

/* Decides whether a lease owner may be overtaken. */
struct sm_oracle {
	/* read_done_ms: completion (monotonic ms) of the read that showed
	 * this owner, 0 if unknown. */
	enum sm_owner_verdict (*verdict)(void *arg, uint32_t host_id, uint64_t generation, uint64_t read_done_ms);
	void *arg;
};
/* Liveness from a lockspace's observation table. */
struct sm_oracle sm_oracle_of(struct sm_lockspace *ls);

struct sm_acquire_opts {
	uint32_t mode;          /* SM_MODE_EX or SM_MODE_SH */
	bool at_version;        /* only if the lease version is exactly .version */
	uint64_t version;
	unsigned attempts;      /* ballot attempts on contention; 0 = default (6) */
	struct sm_oracle live;
};

/* A lease as held, or the state found when refused. */
struct sm_lease {
	uint64_t lver;
	uint32_t mode;
	uint32_t owner_id;       /* on refusal: the holder that blocked us */
	uint64_t owner_generation;
	/* Set when an error struck after our ballot may have been chosen: we
	 * may own the lease without knowing.  Resolve with sm_paxos_resolve(). */
	bool in_doubt;
	/* On success: the host_id we took the lease over from because it was
	 * dead (0 when the lease was free or ours). */
	uint32_t took_over_from;
};

/* Acquire.  0 on success (out describes our lease).  Refusals:
 * -SM_EHELD (out->owner_id is the live holder), -SM_EUNKNOWN_HOST (holder
 * not observed long enough), -SM_ESHARED_HELD (out->owner_id is one shared
 * holder), -SM_ELVER_MISMATCH (out->lver is the current version),
 * -SM_EBALLOT_ABORTED (contention persisted), or an I/O / decode error. */
int sm_paxos_acquire(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_acquire_opts *o,
		     struct sm_lease *out);

/* Release a lease we hold (lver is kept).  -SM_ENOT_OWNER if the leader no
 * longer shows us at that version. */
int sm_paxos_release(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_lease *held);

/* Retire a resource we hold EX: free it and mark its area removed, so no
 * acquire can succeed on it through a stale name -> area mapping. */
int sm_paxos_retire(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_lease *held);

/* EX -> SH without letting an exclusive holder in between. */
int sm_paxos_convert_to_shared(const struct sm_resource_ref *r, const struct sm_me *me, struct sm_lease *held);
/* SH -> EX: fails with -SM_ESHARED_HELD while other shared holders live;
 * on a refusal *refused (may be NULL) names the holder that blocked us, and
 * held is left as it was (still shared). */
int sm_paxos_convert_to_exclusive(const struct sm_resource_ref *r, const struct sm_me *me,
				  const struct sm_oracle *live, struct sm_lease *held, struct sm_lease *refused);

/* Hand an EX lease we hold to another host: runs the next instance with
 * that host as the value, so lver grows by one and it becomes the owner.
 * go_by_ms (monotonic, 0 = none): if our value is not yet proposed (phase 2)
 * by then, give up with -ETIMEDOUT and nothing chosen for the receiver (see
 * the hand-off rules below). */
int sm_paxos_handoff(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_lease *held,
		     uint32_t to_host_id, uint64_t to_generation, uint64_t go_by_ms, struct sm_lease *out);

/* Hand-off timing (docs/algorithms.md §3), all on each host's own monotonic
 * clock, d = io_timeout:
 * - a waiting receiver rewrites its request with sequence + 1 at least every
 *   SM_HANDOFF_REFRESH_MS (plus the time of its I/O, at most 2d);
 * - the owner hands over only if it sees the sequence change within
 *   sm_handoff_window_ms(d) of starting to look; it then starts phase 2 at
 *   most sm_handoff_go_ms(d) after the issue of the read that saw the change;
 * - so a receiver that stops refreshing at t knows that any hand-off to it
 *   is on disk by t + sm_handoff_settle_ms(d), and checks once then. */
#define SM_HANDOFF_REFRESH_MS 500u
static inline uint32_t sm_handoff_window_ms(uint32_t io_ms) { return 2 * (SM_HANDOFF_REFRESH_MS + 2 * io_ms) + io_ms; }
static inline uint32_t sm_handoff_go_ms(uint32_t io_ms) { return 2 * io_ms; }
static inline uint32_t sm_handoff_settle_ms(uint32_t io_ms) { return sm_handoff_go_ms(io_ms) + io_ms + 500; }

/* After an in-doubt failure: finish whatever instance is open, and if the
 * lease turns out to be ours (and not wanted), release it. */
int sm_paxos_resolve(const struct sm_resource_ref *r, const struct sm_me *me, const struct sm_oracle *live);

/* Current leader (majority view) and shared holders.  The leader is what the
 * hosts' own sectors say: an EX owner that released is shown free, and when a
 * dblock shows a later instance with a value than the leader record does (a
 * late-landing old announcement, or a ballot not yet announced), that
 * instance's value is shown and announced_lver keeps the record's lver; when
 * the newest instance has no value yet and the leader record lags it by two
 * or more, the leader its proposers recorded is shown (restore_lost_leader). */
struct sm_lease_view {
	struct sm_leader leader;
	uint64_t announced_lver; /* 0, or the lver of the lagging leader record */
	struct sm_request request;
	int request_status;
	uint32_t shared_count;
	uint32_t shared_host[64]; /* first 64 shared holders */
	uint64_t shared_gen[64];
};
int sm_paxos_inquire(const struct sm_resource_ref *r, struct sm_lease_view *out);

/* What this host may own of a lease without knowing it (the daemon's check
 * for orphaned leases): only the leader sector and our own sector are read,
 * never the whole area.  With r->name empty any resource's leader is
 * accepted (a sweep by area number) and out->name says whose it is; an area
 * that holds no resource (leader unreadable or removed) gives
 * -SM_ENO_RESOURCE. */
struct sm_mine {
	char name[SM_NAME_FIELD]; /* the resource, from its leader */
	uint64_t lver;            /* the leader's */
	bool ex;      /* the leader names us (host_id and generation) exclusive and our release marker does not free it */
	bool shared;  /* our shared flag is set for our generation */
	bool ahead;   /* our dblock proposed us for a later instance than the leader's: maybe chosen, in doubt */
};
int sm_paxos_mine(const struct sm_resource_ref *r, const struct sm_me *me, struct sm_mine *out);

/* Write the request record (kind SM_REQ_RELEASE or SM_REQ_HANDOFF) for the
 * lease at version lver. */
int sm_paxos_request(const struct sm_resource_ref *r, const struct sm_me *me, uint32_t kind, uint64_t lver);
/* The same with a sequence number: a waiting receiver's refresh, or (kind
 * SM_REQ_NONE) its withdrawal. */
int sm_paxos_request_seq(const struct sm_resource_ref *r, const struct sm_me *me, uint32_t kind, uint64_t lver,
			 uint64_t sequence);

#endif
