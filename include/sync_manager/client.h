/* sync_manager process API: register a process with the local sync_managerd
 * and acquire, release and inspect leases on its behalf.
 *
 *   sm_conn *c;
 *   struct sm_resource r;
 *   struct sm_lease_info li;
 *   int rc = sm_conn_open(&c);                           // -SM_ENO_DAEMON if none runs
 *   if (rc == 0)
 *           rc = sm_register(c, "myapp", 0);             // this connection now owns leases
 *   if (rc == 0)
 *           rc = sm_resource_parse("vmstore:vm-42", &r); // LOCKSPACE:NAME
 *   if (rc == 0)                                         // pid 0 = the registered process,
 *           rc = sm_acquire(c, 0, &r, 1, 0, &li);        // flags 0 or SM_ACQUIRE_CREATE
 *   if (rc < 0)
 *           fprintf(stderr, "%s\n", c && *sm_conn_message(c) ? sm_conn_message(c) : sm_strerror(rc));
 *   ...                                                  // li.lver: the lease's version
 *   sm_conn_close(c);                                    // leases die with the connection
 *
 * Every call returns 0 (or a count) or a negative error from errors.h;
 * sm_conn_message() explains the last failure in words.
 *
 * ABI rules (settled in 0.1.0, issue 16): every call that takes flags
 * refuses bits it does not know with -SM_EBAD_ARGUMENT (so bits can be given
 * meaning later without old libraries silently ignoring them); public
 * structs end in reserved fields for new members: zero them (memset, "= {0}"
 * or sm_resource_parse()); the calls refuse a struct sm_resource whose
 * reserved fields are not zero, and the library zeroes those it fills.
 * Lease modes have one encoding everywhere (enum sm_mode = the wire's and
 * the on-disk leader's, tied by _Static_asserts in src/proto/proto.c). */
#ifndef SYNC_MANAGER_CLIENT_H
#define SYNC_MANAGER_CLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The version of these headers; sm_version() is the library's at run time.
 * SM_VERSION_NUMBER grows with each release: MAJOR * 10000 + MINOR * 100 + PATCH. */
#define SM_VERSION_MAJOR 0
#define SM_VERSION_MINOR 1
#define SM_VERSION_PATCH 0
#define SM_VERSION_STRING "0.1.0"
#define SM_VERSION_NUMBER (SM_VERSION_MAJOR * 10000 + SM_VERSION_MINOR * 100 + SM_VERSION_PATCH)

/* The library's version, e.g. "0.1.0" (needs no daemon). */
const char *sm_version(void);

#define SM_RUN_DIR_DEFAULT "/run/sync_manager"
#define SM_RUN_DIR_ENV "SYNC_MANAGER_RUN_DIR"
#define SM_SOCKET_NAME "sync_managerd.sock"
#define SM_LOCATION_MAX 256

typedef struct sm_conn sm_conn;

/* Timeouts.  No call waits for the daemon for ever: each call (sending the
 * request and receiving the whole reply) gives up after the connection's
 * timeout with -SM_EDAEMON_TIMEOUT, and connecting gives up after the same
 * time, at most 30 s (the daemon accepts at once unless it is hung or at its
 * file descriptor limit).  The default, SM_TIMEOUT_DEFAULT_MS (300 s), covers
 * what a request may legitimately wait for with the default timeouts
 * (d = 10 s, H = 140 s): an acquire's Disk Paxos ballots (a few I/Os of at
 * most d each, plus a wait for a local job on the same lease) and a join with
 * SM_JOIN_WAIT of a host_id held before (H + 2d).  With a larger io_timeout
 * or watchdog timeout raise it, or wait without a limit (0).  The default is
 * taken from $SYNC_MANAGER_TIMEOUT when it is set: seconds, fractions
 * allowed, 0 = no limit (a value that is not a number is ignored).
 * sm_receive() waits at least its wait_ms plus 60 s.  A call that timed out
 * or was cancelled leaves the connection unusable for further calls
 * (-SM_EPROTO): close it (for a registered connection, closing releases the
 * process's leases). */
#define SM_TIMEOUT_ENV "SYNC_MANAGER_TIMEOUT"
#define SM_TIMEOUT_DEFAULT_MS 300000u

/* Connect to the daemon of this host (run directory from SYNC_MANAGER_RUN_DIR
 * or /run/sync_manager).  -SM_ENO_DAEMON if none runs, -SM_EDAEMON_TIMEOUT
 * if it does not accept the connection in time. */
int sm_conn_open(sm_conn **out);
/* Set the timeout of c's later calls, in ms (0 = wait without a limit). */
void sm_conn_set_timeout(sm_conn *c, unsigned timeout_ms);
unsigned sm_conn_timeout(const sm_conn *c);
/* Cancel waits on c when *flag becomes non-zero (typically set by a SIGINT
 * or SIGTERM handler installed without SA_RESTART): the waiting call
 * returns -SM_EINTERRUPTED within 200 ms.  NULL: no cancel flag. */
void sm_conn_set_cancel(sm_conn *c, const volatile sig_atomic_t *flag);
/* Close; NULL is accepted.  Closing a registered connection releases the
 * process's leases (unless another process inherited the descriptor). */
void sm_conn_close(sm_conn *c);
int sm_conn_fd(const sm_conn *c);
/* Explanation of the last failed call ("" if none). */
const char *sm_conn_message(const sm_conn *c);
/* For refusals: the host that holds the lease (0 if not applicable). */
uint32_t sm_conn_owner(const sm_conn *c);

enum sm_register_flags {
	SM_REGISTER_RESTRICT = 1 << 0, /* afterwards this connection may issue no calls */
	SM_REGISTER_INHERIT = 1 << 1,  /* keep the descriptor open across exec */
};
/* Register the calling process (the daemon reads its pid from the socket):
 * its leases live as long as this connection stays open. */
int sm_register(sm_conn *c, const char *name, unsigned flags);

/* Register as sm_register() does, and set the kill action (see sm_set_kill)
 * in the same step — needed with SM_REGISTER_RESTRICT, which forbids any
 * later call on the connection. */
int sm_register_kill(sm_conn *c, const char *name, unsigned flags, int signal, const char *path,
		     const char *const *args, int nargs);

/* Register another process: a child of the caller (typically a command it
 * is about to exec), or any process when the caller is root or in the admin
 * group.  Its leases live while this connection is open and, once it
 * closes, until the process exits. */
int sm_register_pid(sm_conn *c, pid_t pid, const char *name);

enum sm_mode { SM_EXCLUSIVE = 1, SM_SHARED = 2 };

struct sm_resource {
	char lockspace[64];   /* joined lockspace name, or "" when locations are given */
	char name[64];        /* resource name in the volume's index */
	int nlocations;       /* 0, or 1 volume "PATH[:OFFSET]" holding the resource (3 parse, but
			       * acquire/convert/request/receive refuse them: -SM_EMULTI_VOLUME) */
	char location[3][SM_LOCATION_MAX];
	uint32_t mode;        /* SM_EXCLUSIVE (default when 0) or SM_SHARED */
	bool at_version;      /* acquire only if the lease version is exactly .version */
	uint64_t version;
	uint64_t reserved[4]; /* zero: room to grow (calls refuse non-zero) */
};

/* Parse "LOCKSPACE:NAME", "/VOLUME/PATH[:OFFSET]:NAME", or the seed form
 * "NAME:/VOLUME/PATH[:OFFSET]". */
int sm_resource_parse(const char *spec, struct sm_resource *r);

struct sm_lease_info {
	char lockspace[64];
	char name[64];
	uint64_t lver;
	uint32_t mode;
	uint64_t reserved[4]; /* zero as filled in: room to grow */
};

enum sm_acquire_flags {
	SM_ACQUIRE_CREATE = 1 << 0, /* add a missing resource to its volume's index */
};

/* Acquire n resources for pid (0 = the process registered on c), all or
 * none.  out (n entries, may be NULL) receives each lease's version. */
int sm_acquire(sm_conn *c, pid_t pid, const struct sm_resource *res, int n, unsigned flags,
	       struct sm_lease_info *out);
/* Release n resources of pid, or every lease of pid when n == 0. */
int sm_release(sm_conn *c, pid_t pid, const struct sm_resource *res, int n);
/* Release every lease of pid after it ended successfully: leases whose owner
 * was asked to hand them over go to the requesting host instead. */
int sm_release_handoff(sm_conn *c, pid_t pid);
/* Take over a lease that its owner hands over when its process ends well
 * (the seed's "receive lease"); waits up to wait_ms for the hand-off. */
int sm_receive(sm_conn *c, pid_t pid, const struct sm_resource *res, unsigned wait_ms, struct sm_lease_info *out);
/* Leases held by pid: *out is malloc'd (free it), returns the count. */
int sm_inquire(sm_conn *c, pid_t pid, struct sm_lease_info **out);
/* Change the mode of a held lease. */
int sm_convert(sm_conn *c, pid_t pid, const struct sm_resource *res, uint32_t mode);

/* What the daemon does to pid when its leases can no longer be kept: send
 * signal (default SIGTERM, then SIGKILL after the grace time), or run
 * path with args (the pid is appended) and SIGKILL if it does not help. */
int sm_set_kill(sm_conn *c, pid_t pid, int signal, const char *path, const char *const *args, int nargs);

#ifdef __cplusplus
}
#endif
#endif
