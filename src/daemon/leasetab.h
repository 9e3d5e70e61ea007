/* sync_managerd: the local lease table (leasetab.c owns it).
 *
 * One record per resource this host holds, or works on, in one of its
 * lockspaces: which local processes hold it (several in shared mode, one
 * in exclusive), what this host holds on disk, and how many jobs refer to
 * it.  Only the event loop thread touches the table.
 *
 * Ownership: leasetab.c alone links and unlinks records, adds and removes
 * holders (on the lease's list and on the process's, proc.holds), and
 * changes the counts (lease.jobs, proc.nleases, the table's nheld) and the
 * lockspace reference each record takes.  Other modules
 * read the table and set a record's disk-state fields (busy, on_disk,
 * held, in_doubt, orphan, retry_at_mono, locations) as their comments
 * say; they never write the links or the counts. */
#ifndef SM_DAEMON_LEASETAB_H
#define SM_DAEMON_LEASETAB_H

#include "state.h"

#include "lease/paxos.h"
#include "proto/proto.h"
#include "sync_manager/client.h"

#include <stdbool.h>
#include <stdint.h>

struct daemon;
struct ls_entry;
struct proc;

#define LEASE_HASH_BUCKETS 16384

struct holder {
	struct proc *proc;
	uint32_t mode;
	struct holder *next;        /* the lease's holders (l->holders) */
	struct lease *lease;        /* the lease this record holds */
	struct holder *pnext, *pprev; /* the process's holds (proc->holds): a
				       * process's leases in O(its leases) */
};

struct lease {
	struct lease *next, *prev;  /* d->lt.head, in no particular order (leasetab.c) */
	struct lease *hnext;        /* d->lt.hash chain (lockspace, name) (leasetab.c) */
	struct ls_entry *ls;        /* referenced (ls_get) while the record exists */
	struct sm_resource_ref ref; /* volumes are filled in by workers only */
	char location[3][SM_LOCATION_MAX]; /* "" = the lockspace's volume */
	int nlocations;
	struct sm_lease held;       /* what this host holds on disk */
	struct holder *holders;     /* local processes using it (leasetab.c) */
	bool busy;                  /* a disk job is working on it */
	int jobs;                   /* jobs (running or parked) that refer to it (leasetab.c) */
	bool on_disk;               /* this host holds it on disk (held is valid) */
	bool in_doubt;              /* an error left the disk state unknown */
	bool orphan;                /* found on disk naming us, held by nothing here: being released */
	uint64_t retry_at_mono;     /* in doubt: next attempt to settle it */
	uint32_t release_requested_by; /* host that asked for it (request record) */
	struct state_mark st;
};

/* The table, embedded in struct daemon (d->lt); read it, write it only
 * through the functions below. */
struct lease_table {
	struct lease *head;                       /* every record */
	struct lease *hash[LEASE_HASH_BUCKETS];   /* lease_find() in O(1) */
	int nheld;                                /* holder records of all leases */
};

struct lease *lease_find(struct daemon *d, struct ls_entry *ls, const char *name);
/* A new record without holders; it takes a reference on ls. */
struct lease *lease_new(struct daemon *d, struct ls_entry *ls, const char *name);
/* Unlink and free l with its holder records (state_forget_lease first) and
 * drop its lockspace reference. */
void lease_drop(struct daemon *d, struct lease *l);
/* Drop every record (a test's teardown, after the processes went). */
void lease_drop_all(struct daemon *d);

struct holder *lease_holder(struct lease *l, struct proc *p);
int lease_add_holder(struct lease *l, struct proc *p, uint32_t mode);
void lease_remove_holder(struct daemon *d, struct lease *l, struct proc *p, bool *was_last);

/* A job refers to l (it must not be dropped meanwhile) / no longer does. */
void lease_job_get(struct lease *l);
void lease_job_put(struct lease *l);

#endif
