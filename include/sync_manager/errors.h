/* sync_manager — one error space for the library, daemon, CLI and plugin.
 *
 * Every function that can fail returns 0 (or a positive count) on success and
 * a negative value on failure: either -errno (system errors, e.g. -EIO) or one
 * of the project codes below (all <= -SM_ERR_BASE).  sm_strerror() names both.
 */
#ifndef SYNC_MANAGER_ERRORS_H
#define SYNC_MANAGER_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

#define SM_ERR_BASE 1000
/* Codes from here up are private to one module of the implementation and
 * never returned by a public call (so they never collide with SM_E*). */
#define SM_ERR_PRIVATE_BASE 20000

/* What a caller can do about an error: the class of every code below and of
 * errno values (sm_error_class()).  Decide by class, not by lists of codes.
 *   REFUSED   no for now: another live (or not yet known) host or client holds
 *             the lease, host_id or object; waiting for it may change the answer.
 *   RETRY     a transient race or hiccup (a concurrent ballot, EAGAIN, EINTR,
 *             ETIMEDOUT): trying again as is may succeed.
 *   STATE     the object is not in the state the call needs (missing, exists,
 *             formatted or not, another lease version, not ours, not joined):
 *             retrying as is will not help.
 *   USAGE     bad argument, name, configuration or permission: fix the request.
 *   FAULT     storage, system or daemon failure: I/O error or timeout (its
 *             outcome may be in doubt), corrupt record, no majority, no memory,
 *             no daemon, malformed message.
 *   LOST      this host lost its standing (its delta lease, or it was fenced by
 *             reservation): its leases must be given up.
 *   CANCELLED the operation was interrupted on request.
 * The values are ABI: append only. */
enum sm_error_class {
	SM_ERRCLASS_NONE = 0, /* success (0 or a count) */
	SM_ERRCLASS_REFUSED,
	SM_ERRCLASS_RETRY,
	SM_ERRCLASS_STATE,
	SM_ERRCLASS_USAGE,
	SM_ERRCLASS_FAULT,
	SM_ERRCLASS_LOST,
	SM_ERRCLASS_CANCELLED,
};

/* X(NAME, CLASS, message), CLASS naming an SM_ERRCLASS_*.  The order is the
 * ABI: append only. */
#define SM_ERROR_LIST(X)                                                                  \
	X(BAD_MAGIC, FAULT, "wrong magic: not a sync_manager record (area not formatted or overwritten)") \
	X(BAD_VERSION, FAULT, "unsupported on-disk format version (written by a newer sync_manager?)")    \
	X(BAD_CHECKSUM, FAULT, "checksum mismatch: the sector is corrupt")                               \
	X(WRONG_LOCKSPACE, STATE, "record belongs to a different lockspace")                            \
	X(WRONG_RESOURCE, STATE, "record belongs to a different resource")                              \
	X(WRONG_SECTOR_SIZE, FAULT, "record was written with a different sector size")                  \
	X(MISALIGNED, USAGE, "offset or length is not a multiple of the sector size")                   \
	X(IO_TIMEOUT, FAULT, "I/O did not complete within io_timeout")                                  \
	X(SHORT_IO, FAULT, "short read or write")                                                       \
	X(IO_PENDING, FAULT, "an earlier timed-out I/O to this area is still pending in the kernel")    \
	X(NOT_FORMATTED, STATE, "not a sync_manager lease volume (no valid header)")                    \
	X(ALREADY_FORMATTED, STATE, "a sync_manager volume already exists here (use --force to overwrite)") \
	X(INDEX_FULL, STATE, "no free resource area left in the volume")                                \
	X(NO_RESOURCE, STATE, "no such resource in the volume")                                         \
	X(RESOURCE_EXISTS, STATE, "a resource with this name already exists")                           \
	X(BAD_NAME, USAGE, "invalid name (1-63 printable characters, no ':' '/' or spaces)")            \
	X(BAD_GEOMETRY, USAGE, "volume geometry is invalid or does not fit the device")                 \
	X(TOO_SMALL, USAGE, "device or file is too small for the requested volume")                     \
	X(BAD_ARGUMENT, USAGE, "invalid argument")                                                      \
	X(HELD, REFUSED, "lease is held by another live host")                                            \
	X(LVER_MISMATCH, STATE, "lease version differs from the expected version")                      \
	X(BALLOT_ABORTED, RETRY, "a concurrent ballot with a higher number was seen; try again")        \
	X(NO_MAJORITY, FAULT, "could not reach a majority of the resource's disks")                     \
	X(NOT_OWNER, STATE, "this host does not own the lease")                                         \
	X(LOCKSPACE_LOST, LOST, "this host's delta lease is no longer ours (someone else holds the host_id)") \
	X(HOSTID_BUSY, REFUSED, "host_id is held by another live host")                                   \
	X(NO_FREE_HOSTID, REFUSED, "no free host_id in the lockspace")                                    \
	X(NOT_JOINED, STATE, "this host has not joined the lockspace")                                  \
	X(SHARED_HELD, REFUSED, "lease is held in shared mode by another live host")                      \
	X(INTERRUPTED, CANCELLED, "operation interrupted")                                                  \
	X(PROTO, FAULT, "malformed or unexpected protocol message")                                    \
	X(PROTO_VERSION, USAGE, "client and daemon speak different protocol versions")                 \
	X(TOO_BIG, USAGE, "message or request exceeds the size limit")                                  \
	X(NO_DAEMON, FAULT, "sync_managerd is not running (no socket in the run directory)")            \
	X(DENIED, USAGE, "operation not permitted for this client")                                     \
	X(NOT_REGISTERED, STATE, "process is not registered with sync_managerd")                        \
	X(BAD_STATE, USAGE, "malformed or foreign lease state string")                                  \
	X(CONFIG, USAGE, "configuration error")                                                         \
	X(BUSY, REFUSED, "the object is busy (an operation on it is already in progress)")                \
	X(UNKNOWN_HOST, REFUSED, "owner host's liveness is not known yet (observe it for longer)")          \
	X(NO_LOCKSPACE, STATE, "no lockspace by that name is known to sync_managerd (give its volume instead)") \
	X(MULTI_VOLUME, USAGE, "leases on several volumes are not safe in this version (hosts could disagree on host ids " \
			"and liveness): use one volume per lease, or a volume set")                     \
	X(SET_MEMBERS, USAGE, "not the members of one volume set: name all three members of one set, as PATH1,PATH2,PATH3") \
	X(RESERVATION_CONFLICT, LOST, "the storage refused the command (reservation conflict): this host is not registered " \
				"on the device, because it was fenced by another host or never registered") \
	X(PR_UNSUPPORTED, USAGE, "the device does not support the persistent reservation command needed (fencing by " \
			  "reservation needs SCSI-3 or NVMe persistent reservations)") \
	X(FENCE_DEVICE, FAULT, "a fence device of the lockspace cannot be found or used on this host")            \
	X(MISCOMPARE, RETRY, "COMPARE AND WRITE: the sector no longer holds the expected data (someone else wrote " \
			     "it); nothing was written")                                                 \
	X(CAW_UNSUPPORTED, USAGE, "the device does not support SCSI COMPARE AND WRITE of one sector (atomic " \
				  "leases need it; use Disk Paxos leases on this storage)")                       \
	X(DAEMON_TIMEOUT, FAULT, "sync_managerd did not answer in time (the client timeout, SYNC_MANAGER_TIMEOUT " \
				 "or sm_conn_set_timeout; the daemon may be hung or at its file descriptor limit)")

enum sm_error {
	SM_ERR_FIRST_ = SM_ERR_BASE,
#define SM_ERR_ENUM_(name, cls, msg) SM_E##name,
	SM_ERROR_LIST(SM_ERR_ENUM_)
#undef SM_ERR_ENUM_
	SM_ERR_LAST_
};
#ifndef __cplusplus
_Static_assert(SM_ERR_LAST_ + 1000 < SM_ERR_PRIVATE_BASE, "public error codes run into the private range");
#endif

/* Human-readable message for a negative return value (errno or SM_E*). */
const char *sm_strerror(int err);
/* Symbolic name, e.g. "SM_EHELD" or "EIO". */
const char *sm_errname(int err);
/* Class of a return value: SM_ERRCLASS_NONE for 0 or a positive count, else
 * the class of the SM_E* code or errno value (-EIO, -ETIMEDOUT...; an errno
 * not classified otherwise is a FAULT). */
enum sm_error_class sm_error_class(int err);
/* "refused", "retry", "state", "usage", "fault", "lost", "cancelled", "none". */
const char *sm_error_class_name(enum sm_error_class cls);

#ifdef __cplusplus
}
#endif
#endif
