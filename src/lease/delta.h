/* Delta leases: owning a host_id in a lockspace, and telling which other
 * hosts are alive (docs/algorithms.md §1; volume sets §5).
 *
 * An sm_lockspace wraps one volume, or the three members of a volume set
 * (records written to every member, counted on a majority).  join/renew/leave/observe do disk I/O
 * and must be called from one thread at a time (the daemon's renewal thread);
 * the liveness queries and sm_lockspace_info() may be called from any thread
 * (an internal mutex guards the observation table and membership state). */
#ifndef SM_LEASE_DELTA_H
#define SM_LEASE_DELTA_H

#include "ondisk/volume.h"
#include "timeouts.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

struct sm_lockspace;

enum sm_liveness {
	SM_LIVE_UNKNOWN = 0, /* not observed long enough to tell */
	SM_LIVE_LIVE,        /* renewed within F, as we observed */
	SM_LIVE_FAILING,     /* no renewal seen for more than F, not yet H */
	SM_LIVE_DEAD,        /* unchanged for more than H */
	SM_LIVE_FREE,        /* slot is free */
};
const char *sm_liveness_name(enum sm_liveness l);

/* What an acquirer needs to know about a lease owner. */
enum sm_owner_verdict {
	SM_OWNER_ALIVE,   /* must not take over */
	SM_OWNER_UNKNOWN, /* cannot tell yet: must not take over */
	SM_OWNER_DEAD,    /* may take over */
	SM_OWNER_SELF,    /* the owner is us, current generation */
};

struct sm_host_status {
	uint32_t host_id;
	int record_status;       /* decode error of the last read, or 0 */
	struct sm_host_record rec;
	enum sm_liveness state;
	bool observed;           /* at least one successful read */
	uint64_t unchanged_ms;   /* how long the bytes stayed the same (last_ok - first_seen) */
	uint64_t since_change_ms; /* now - first_seen */
};

/* Progress of a long wait (join): what we wait for and how long remains. */
typedef void (*sm_progress_fn)(void *arg, const char *what, uint64_t remaining_ms);

struct sm_join_opts {
	uint32_t host_id;        /* 0 = pick by host name, else a free slot */
	const char *host_name;   /* NULL = sm_default_host_name() */
	/* Picking by name, a slot carrying alias is ours too when none carries
	 * host_name: the name an older version gave this host (NULL = the
	 * machine-id in hex, the default host name of earlier versions). */
	const char *alias;
	const uint8_t *machine_id; /* 16 bytes written in the record; NULL = sm_machine_id() */
	sm_progress_fn progress; /* optional */
	void *progress_arg;
	volatile sig_atomic_t *cancel; /* optional: set non-zero to interrupt waits */
	/* For `direct` tools only: claim a slot with our name that is held without
	 * waiting is NEVER allowed; this only selects the admin naming suffix. */
};

struct sm_renewal_record {
	uint64_t start_mono_ms;
	uint32_t duration_ms;
	int result;
};
#define SM_RENEWAL_HISTORY 64

struct sm_lockspace_info {
	char name[SM_NAME_FIELD];
	struct sm_timeouts to;
	uint32_t max_hosts;
	bool joined;
	bool lost;               /* our record was taken over: fence now */
	bool expired;            /* no good renewal for F: never renewed again */
	bool fence_pr;           /* the lockspace is fenced by persistent reservation */
	bool fenced;             /* a write of ours met a reservation conflict: fence now */
	uint64_t preemptions;    /* hosts we preempted (fencing by reservation) */
	uint32_t host_id;
	uint64_t generation;
	char host_name[SM_NAME_FIELD];
	uint8_t machine_id[16];  /* in our record; zero = unknown */
	uint64_t last_renewal_mono_ms; /* start of the last successful renewal */
	uint64_t last_renewal_boot_ms;
	uint64_t renewals, renewal_failures;
	int members;             /* 1, or 3 for a volume set */
	int members_down;        /* members whose latest open or I/O failed */
};

/* Longest "PATH:OFFSET" of one member, and of a lockspace's location (the
 * members in set order, comma-separated). */
#define SM_MEMBER_SPEC_MAX 256
#define SM_LS_LOCATION_MAX 256

struct sm_member_info {
	char spec[SM_MEMBER_SPEC_MAX];
	uint32_t index;      /* place in the set */
	bool up;             /* the latest open or I/O succeeded */
	int last_error;      /* of the latest failure while down */
	uint64_t io_errors;  /* failed opens and I/Os so far */
	uint64_t down_ms;    /* how long it has been down */
};

/* Open the volume (own disk handle) and read its header.  A member of a
 * volume set is refused (-SM_ESET_MEMBERS): name the whole set. */
int sm_lockspace_open(const char *path, uint64_t offset, struct sm_lockspace **out);
/* "PATH[:OFFSET]", or a volume set "SPEC,SPEC,SPEC" in any order (members
 * are placed by their headers; one may be missing or unreadable). */
int sm_lockspace_open_spec(const char *spec, struct sm_lockspace **out);
/* "PATH:OFFSET" of a lone volume, or the members in set order joined by ','. */
const char *sm_lockspace_location(const struct sm_lockspace *ls);
int sm_lockspace_member_count(const struct sm_lockspace *ls);
void sm_lockspace_member_info(struct sm_lockspace *ls, int i, struct sm_member_info *out);
void sm_lockspace_free(struct sm_lockspace *ls);

const struct sm_volume_header *sm_lockspace_header(const struct sm_lockspace *ls);
/* The lockspace's own volume handle (a set: the first member open; NULL if
 * none): only for the thread that renews. */
struct sm_volume *sm_lockspace_volume(struct sm_lockspace *ls);
const char *sm_lockspace_path(const struct sm_lockspace *ls);
/* Member i's volume (NULL while it cannot be opened): same contract. */
struct sm_volume *sm_lockspace_member_volume(struct sm_lockspace *ls, int i);
uint64_t sm_lockspace_offset(const struct sm_lockspace *ls);
void sm_lockspace_info(struct sm_lockspace *ls, struct sm_lockspace_info *out);

/* Join (claim a host_id): waits 2d on a free slot, H + 2d on a held one.
 * On a volume with lease_io caw the claim is one COMPARE AND WRITE from the
 * image read, with no 2d wait (a free slot: one read + one CAW); another
 * host's claim in between makes it miscompare: -SM_EHOSTID_BUSY for a
 * requested host_id, else the next free one is tried. */
int sm_lockspace_join(struct sm_lockspace *ls, const struct sm_join_opts *opts);
/* Resume a membership after a daemon restart: the record must still be
 * exactly ours (same host_id, generation and instance); then renew once.
 * last_renewal_boot_ms is the previous daemon's last renewal start on
 * CLOCK_BOOTTIME (0 = unknown: the leases count as expired until a renewal
 * succeeds). */
int sm_lockspace_resume(struct sm_lockspace *ls, uint32_t host_id, uint64_t generation,
			const uint8_t instance[16], uint64_t last_renewal_boot_ms);
/* For one-shot tools (`sync_manager direct ...`): act as the current holder
 * of host_id, whose record must be held with this generation (0 = whatever
 * generation it has).  No renewal is done. */
int sm_lockspace_adopt(struct sm_lockspace *ls, uint32_t host_id, uint64_t generation);
/* One renewal: read the host area (observing every host), verify our record,
 * write it (lease_io caw: COMPARE AND WRITE from our last record; a
 * miscompare means it is no longer ours).  -SM_ELOCKSPACE_LOST when it is no
 * longer ours. */
int sm_lockspace_renew(struct sm_lockspace *ls);
/* Read the host area and update the observation table (no write). */
int sm_lockspace_observe(struct sm_lockspace *ls);
/* Mark our record free (lease_io caw: by COMPARE AND WRITE from our last
 * record).  The caller must have released all leases. */
int sm_lockspace_leave(struct sm_lockspace *ls);

/* Raise our attention mark towards owner_host_id (after writing a request). */
int sm_lockspace_attention(struct sm_lockspace *ls, uint32_t owner_host_id);
/* Hosts whose attention mark newly points at us since the last call. */
int sm_lockspace_take_attention(struct sm_lockspace *ls, uint32_t *host_ids, int max);

/* Our identity in the lockspace (0 host_id when not joined). */
void sm_lockspace_me(struct sm_lockspace *ls, uint32_t *host_id, uint64_t *generation, uint8_t instance[16]);

/* Liveness of host_id as observed so far (now: monotonic ms). */
int sm_lockspace_host_status(struct sm_lockspace *ls, uint32_t host_id, struct sm_host_status *out);
/* Can a lease owned by (host_id, generation) be taken over?  read_done_ms
 * is when (monotonic ms) the read that showed this owner completed, 0 if
 * unknown.  An owner generation newer than the record we observed is never
 * judged dead: we have not yet seen that incarnation join.  An unreadable
 * record counts as dead only when it stayed unchanged for H up to a read
 * issued after read_done_ms (so the owner's join is inside the window). */
enum sm_owner_verdict sm_lockspace_owner_verdict(struct sm_lockspace *ls, uint32_t host_id, uint64_t generation,
					       uint64_t read_done_ms);

/* Fencing by persistent reservation (fence.h; a volume formatted with
 * --fence pr). */
bool sm_lockspace_fence_pr(const struct sm_lockspace *ls);
/* Preempt host_id so that its leases of generation <= the one in its record
 * can be taken at once: only when its record (held, generation >= generation)
 * stayed unchanged for more than T.  0: fenced now or before (the owner
 * verdict says DEAD from now on); -SM_EHELD: not suspect (yet);
 * -SM_ERESERVATION_CONFLICT: we were fenced ourselves; other errors: some
 * device could not be preempted.  Blocks for storage commands (and X after a
 * PREEMPT without ABORT): job threads only. */
int sm_lockspace_fence_host(struct sm_lockspace *ls, uint32_t host_id, uint64_t generation);

/* When (monotonic ms) a read would first prove some other host dead: the
 * earliest first_seen + H + 1 over hosts that are held and not yet dead;
 * UINT64_MAX if none.  The renewal thread reads then, so a takeover need
 * not wait for the next renewal. */
uint64_t sm_lockspace_next_death_check(struct sm_lockspace *ls);

/* Copy up to max renewal records, newest last; returns the count. */
int sm_lockspace_renewal_history(struct sm_lockspace *ls, struct sm_renewal_record *out, int max);

/* Milliseconds until our leases expire (F after the last renewal start, on
 * CLOCK_BOOTTIME); negative when already expired.  Only meaningful joined. */
int64_t sm_lockspace_remaining_ms(struct sm_lockspace *ls);

/* Default host name: SYNC_MANAGER_HOST_NAME (tests, emulated hosts), else the
 * hostname, else (no hostname, or localhost*) the machine-id in hex. */
void sm_default_host_name(char out[SM_NAME_FIELD]);
/* This machine's identity: SYNC_MANAGER_MACHINE_ID when set (tests), else
 * /etc/machine-id, 32 hex digits.  false (and zeros) when there is none. */
bool sm_machine_id(uint8_t out[16]);
/* 32 lowercase hex digits; "" for an all-zero (unknown) id. */
void sm_machine_id_hex(const uint8_t id[16], char out[33]);

#endif
