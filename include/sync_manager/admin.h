/* sync_manager admin API: lockspaces, status listings, resources, requests
 * and daemon control.  Needs root or the daemon's admin group. */
#ifndef SYNC_MANAGER_ADMIN_H
#define SYNC_MANAGER_ADMIN_H

#include "client.h"

#ifdef __cplusplus
extern "C" {
#endif

enum sm_join_flags {
	SM_JOIN_WAIT = 1 << 0, /* return once joined (else right away; see status) */
};

/* Join the lockspace of the volume at location "PATH[:OFFSET]" (absolute
 * path), or the lockspace of that name when the daemon knows its volume
 * (joined since it started, or listed under `join` in its configuration), as
 * host_id (0 = by host name, else a free one), with host_name (NULL = the
 * daemon's).  -SM_ENO_LOCKSPACE for an unknown name; -SM_EBUSY while the
 * lockspace is still being left. */
int sm_join(sm_conn *c, const char *location, uint32_t host_id, const char *host_name, unsigned flags);
/* Leave a lockspace (by name); refused while leases are held unless force.
 * Returns once our host_id is written free; if that write failed, still 0,
 * and sm_conn_message() says that other hosts will see us dead after H. */
int sm_leave(sm_conn *c, const char *lockspace, bool force);

/* Listings come back as sections of records of typed fields, so new fields
 * need no new API.  Field keys are stable: they are the JSON keys. */
enum sm_field_type { SM_FIELD_STR, SM_FIELD_U64, SM_FIELD_I64, SM_FIELD_BOOL };
struct sm_field {
	char key[48];
	enum sm_field_type type;
	char str[256];
	uint64_t u64;
	int64_t i64;
	bool b;
	uint64_t reserved[2]; /* zero: room to grow */
};
struct sm_record {
	int nfields;
	struct sm_field *fields;
	uint64_t reserved[2]; /* zero: room to grow */
};
struct sm_section {
	char name[48];
	int nrecords;
	struct sm_record *records;
	uint64_t reserved[2]; /* zero: room to grow */
};
struct sm_report {
	int nsections;
	struct sm_section *sections;
	uint64_t reserved[2]; /* zero: room to grow (allocated by the library only) */
};
void sm_report_free(struct sm_report *r);
const struct sm_section *sm_report_section(const struct sm_report *r, const char *name);
const struct sm_field *sm_record_field(const struct sm_record *rec, const char *key);

/* Daemon, lockspaces, clients and leases. */
int sm_status(sm_conn *c, struct sm_report **out);
/* Hosts of a lockspace with their liveness as this host observes it. */
int sm_hosts(sm_conn *c, const char *lockspace, struct sm_report **out);
/* Recent renewals of a lockspace. */
int sm_renewals(sm_conn *c, const char *lockspace, struct sm_report **out);

/* Add or remove a named resource in a joined lockspace's volume. */
int sm_resource_create(sm_conn *c, const char *lockspace, const char *name);
int sm_resource_delete(sm_conn *c, const char *lockspace, const char *name);

enum sm_request_type { SM_REQUEST_RELEASE = 1, SM_REQUEST_HANDOFF = 2 };
/* Ask the owner of a lease to release it (or to hand it to this host). */
int sm_request(sm_conn *c, const struct sm_resource *res, int kind);

/* Prometheus text exposition of the daemon's metrics (*text malloc'd). */
int sm_metrics(sm_conn *c, char **text);

enum sm_shutdown_flags {
	SM_SHUTDOWN_FORCE = 1 << 0, /* even with leases held: the holders lose them */
	SM_SHUTDOWN_KEEP = 1 << 1,  /* for a restart: keep leases and the watchdog */
};
int sm_shutdown(sm_conn *c, unsigned flags);

#ifdef __cplusplus
}
#endif
#endif
