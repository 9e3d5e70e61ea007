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

/* X(NAME, message).  The order is the ABI: append only. */
#define SM_ERROR_LIST(X)                                                                  \
	X(BAD_MAGIC, "wrong magic: not a sync_manager record (area not formatted or overwritten)") \
	X(BAD_VERSION, "unsupported on-disk format version (written by a newer sync_manager?)")    \
	X(BAD_CHECKSUM, "checksum mismatch: the sector is corrupt")                               \
	X(WRONG_LOCKSPACE, "record belongs to a different lockspace")                            \
	X(WRONG_RESOURCE, "record belongs to a different resource")                              \
	X(WRONG_SECTOR_SIZE, "record was written with a different sector size")                  \
	X(MISALIGNED, "offset or length is not a multiple of the sector size")                   \
	X(IO_TIMEOUT, "I/O did not complete within io_timeout")                                  \
	X(SHORT_IO, "short read or write")                                                       \
	X(IO_PENDING, "an earlier timed-out I/O to this area is still pending in the kernel")    \
	X(NOT_FORMATTED, "not a sync_manager lease volume (no valid header)")                    \
	X(ALREADY_FORMATTED, "a sync_manager volume already exists here (use --force to overwrite)") \
	X(INDEX_FULL, "no free resource area left in the volume")                                \
	X(NO_RESOURCE, "no such resource in the volume")                                         \
	X(RESOURCE_EXISTS, "a resource with this name already exists")                           \
	X(BAD_NAME, "invalid name (1-63 printable characters, no ':' '/' or spaces)")            \
	X(BAD_GEOMETRY, "volume geometry is invalid or does not fit the device")                 \
	X(TOO_SMALL, "device or file is too small for the requested volume")                     \
	X(BAD_ARGUMENT, "invalid argument")                                                      \
	X(HELD, "lease is held by another live host")                                            \
	X(LVER_MISMATCH, "lease version differs from the expected version")                      \
	X(BALLOT_ABORTED, "a concurrent ballot with a higher number was seen; try again")        \
	X(NO_MAJORITY, "could not reach a majority of the resource's disks")                     \
	X(NOT_OWNER, "this host does not own the lease")                                         \
	X(LOCKSPACE_LOST, "this host's delta lease is no longer ours (someone else holds the host_id)") \
	X(HOSTID_BUSY, "host_id is held by another live host")                                   \
	X(NO_FREE_HOSTID, "no free host_id in the lockspace")                                    \
	X(NOT_JOINED, "this host has not joined the lockspace")                                  \
	X(SHARED_HELD, "lease is held in shared mode by another live host")                      \
	X(INTERRUPTED, "operation interrupted")                                                  \
	X(PROTO, "malformed or unexpected protocol message")                                    \
	X(PROTO_VERSION, "client and daemon speak different protocol versions")                 \
	X(TOO_BIG, "message or request exceeds the size limit")                                  \
	X(NO_DAEMON, "sync_managerd is not running (no socket in the run directory)")            \
	X(DENIED, "operation not permitted for this client")                                     \
	X(NOT_REGISTERED, "process is not registered with sync_managerd")                        \
	X(BAD_STATE, "malformed or foreign lease state string")                                  \
	X(CONFIG, "configuration error")                                                         \
	X(BUSY, "the object is busy (an operation on it is already in progress)")                \
	X(UNKNOWN_HOST, "owner host's liveness is not known yet (observe it for longer)")          \
	X(NO_LOCKSPACE, "no lockspace by that name is known to sync_managerd (give its volume instead)") \
	X(MULTI_VOLUME, "leases on several volumes are not safe in this version (hosts could disagree on host ids " \
			"and liveness): use one volume per lease, or a volume set")                     \
	X(SET_MEMBERS, "not the members of one volume set: name all three members of one set, as PATH1,PATH2,PATH3") \
	X(RESERVATION_CONFLICT, "the storage refused the command (reservation conflict): this host is not registered " \
				"on the device, because it was fenced by another host or never registered") \
	X(PR_UNSUPPORTED, "the device does not support the persistent reservation command needed (fencing by " \
			  "reservation needs SCSI-3 or NVMe persistent reservations)") \
	X(FENCE_DEVICE, "a fence device of the lockspace cannot be found or used on this host")            \
	X(MISCOMPARE, "COMPARE AND WRITE: the sector no longer holds the expected data (someone else wrote it); " \
		      "nothing was written")                                                            \
	X(CAW_UNSUPPORTED, "the device does not support SCSI COMPARE AND WRITE of one sector (atomic leases " \
			   "need it; use Disk Paxos leases on this storage)")

enum sm_error {
	SM_ERR_FIRST_ = SM_ERR_BASE,
#define SM_ERR_ENUM_(name, msg) SM_E##name,
	SM_ERROR_LIST(SM_ERR_ENUM_)
#undef SM_ERR_ENUM_
	SM_ERR_LAST_
};

/* Human-readable message for a negative return value (errno or SM_E*). */
const char *sm_strerror(int err);
/* Symbolic name, e.g. "SM_EHELD" or "EIO". */
const char *sm_errname(int err);

#ifdef __cplusplus
}
#endif
#endif
