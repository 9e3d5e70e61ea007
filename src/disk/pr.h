/* SCSI-3 / NVMe persistent reservations on a block device (DESIGN §2, issue 13).
 *
 * PERSISTENT RESERVE OUT (register, reserve, preempt, clear) goes through
 * Linux's generic block ioctls (<linux/pr.h>: SCSI, NVMe and dm-multipath
 * alike), except on SCSI disks that take SG_IO and are not device-mapper
 * devices, where it goes through SG_IO to get the target's full answer (sense
 * data) on every kernel (see pr.c for why).  PERSISTENT RESERVE IN (read keys,
 * read reservation) goes through SG_IO, which covers SCSI disks (sd), SCSI
 * generic devices and dm-multipath maps over SCSI paths (the map forwards SG_IO
 * to its current path); other devices, NVMe namespaces in particular, answer
 * -SM_EPR_UNSUPPORTED for the IN side.
 *
 * Every call is synchronous and is made from a worker thread, never the
 * daemon's event loop.  Every syscall goes through the disk syscall table
 * (syscalls.h), so tests can emulate devices (tests/unit/prsim.c) and inject
 * faults (fault.h).
 *
 * Errors, the same for both ways of sending a command:
 *   -SM_ERESERVATION_CONFLICT  the device refused the command (RESERVATION
 *                              CONFLICT): e.g. this host is not registered,
 *                              or a PREEMPT named a key that is not registered
 *   -SM_EPR_UNSUPPORTED        the device or target does not implement the
 *                              command, service action or type (or cannot be
 *                              sent PR commands at all: regular file, NVMe IN)
 *   -SM_EIO_TIMEOUT            the command timed out
 *   -EIO or another -errno     anything else (logged with what the device said)
 * A UNIT ATTENTION (the command was not executed) is retried up to
 * SM_PR_UA_RETRIES times before -EIO.
 */
#ifndef SM_DISK_PR_H
#define SM_DISK_PR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SCSI PERSISTENT RESERVE type codes (SPC-4). */
enum sm_pr_type {
	SM_PR_WRITE_EXCLUSIVE = 1, SM_PR_EXCLUSIVE_ACCESS = 3, SM_PR_WE_REGISTRANTS_ONLY = 5,
	SM_PR_EA_REGISTRANTS_ONLY = 6, SM_PR_WE_ALL_REGISTRANTS = 7, SM_PR_EA_ALL_REGISTRANTS = 8,
};

/* How many times a command answered with UNIT ATTENTION is sent again. */
#define SM_PR_UA_RETRIES 3

struct sm_pr_dev;

/* Open a block device for PR commands (O_RDWR, no O_DIRECT needed).  A regular
 * file or a non-block device: -SM_EPR_UNSUPPORTED (logged naming the path).
 * timeout_ms bounds each SG_IO command (the PR ioctls use the driver's own
 * command timeout). */
int sm_pr_open(const char *path, unsigned timeout_ms, struct sm_pr_dev **out);
/* NULL is accepted. */
void sm_pr_close(struct sm_pr_dev *dev);
const char *sm_pr_dev_path(const struct sm_pr_dev *dev);

/* REGISTER (old_key -> new_key; new_key 0 unregisters), or REGISTER AND IGNORE
 * EXISTING KEY (old_key is then not checked). */
int sm_pr_register(struct sm_pr_dev *dev, uint64_t old_key, uint64_t new_key, bool ignore_existing);
/* RESERVE as the registrant key.  Reserving again with the same key and type
 * succeeds (SPC-4); another holder or type: -SM_ERESERVATION_CONFLICT. */
int sm_pr_reserve(struct sm_pr_dev *dev, uint64_t key, enum sm_pr_type type);
/* PREEMPT (abort = false) or PREEMPT AND ABORT the registrations with
 * victim_key, as the registrant my_key.  A target without PREEMPT AND ABORT:
 * -SM_EPR_UNSUPPORTED. */
int sm_pr_preempt(struct sm_pr_dev *dev, uint64_t my_key, uint64_t victim_key, enum sm_pr_type type, bool abort);
/* CLEAR: remove every registration and the reservation (my_key must be registered). */
int sm_pr_clear(struct sm_pr_dev *dev, uint64_t my_key);
/* READ KEYS: fills up to max keys, returns the number of registrations (may be
 * > max), *generation = the PRgeneration (may be NULL). */
int sm_pr_read_keys(struct sm_pr_dev *dev, uint64_t *keys, int max, uint32_t *generation);
/* READ RESERVATION: 1 and the holder's key and type when a reservation exists,
 * 0 when none.  For the all-registrants types the key reported is 0 (SPC-4). */
int sm_pr_read_reservation(struct sm_pr_dev *dev, uint64_t *key, enum sm_pr_type *type);

/* Stable identity of the logical unit behind a block device path (the whole
 * disk for a partition; symlinks such as /dev/disk/by-id are followed), the
 * same on every host: sysfs `wwid` (SCSI: device/wwid, from VPD page 0x83, e.g.
 * "naa.6001405..."; NVMe namespaces have one too), else the VPD 0x83
 * designator (sysfs device/vpd_pg83, else read through SG_IO), formatted the
 * same way ("naa.", "eui.", "t10." or the SCSI name string).  A dm-multipath
 * map (dm/uuid "mpath-...") has the identity of its paths.  -SM_EFENCE_DEVICE
 * when the device has none (named in the log); other device-mapper devices
 * (LVM volumes) are refused the same way: name the LUN or its multipath map. */
int sm_pr_identity(const char *path, char *out, size_t len);
/* Find this host's block device whose identity is id: "/dev/NAME" (a
 * dm-multipath map is preferred over its paths; among several paths without a
 * map, the first by name).  -SM_EFENCE_DEVICE when none. */
int sm_pr_find_device(const char *id, char *path_out, size_t len);
/* The identities of every logical unit that data written to path lands on:
 * a block device's own LU (a partition's disk; a multipath map's LU); the
 * LUs under a stacked device-mapper device (LVM, dm-crypt), each once; for a
 * regular file or directory, those of the block device holding its file
 * system.  Returns the count (at most max), or -SM_EFENCE_DEVICE naming the
 * reason: not on a block device (NFS, tmpfs), or some device underneath
 * without an identity. */
#define SM_PR_ID_MAX 128
int sm_pr_lus_of(const char *path, char (*ids)[SM_PR_ID_MAX], int max);

/* "WE-RO" style short names for logs and the CLI; "unknown" for other values. */
const char *sm_pr_type_name(enum sm_pr_type type);

/* Tests: read sysfs under sysfs_root instead of /sys and name devices
 * dev_root/NAME instead of /dev/NAME (NULL restores the default).  The
 * environment variables SYNC_MANAGER_TEST_SYSFS and SYNC_MANAGER_TEST_DEV do
 * the same for system tests. */
void sm_pr_set_test_roots(const char *sysfs_root, const char *dev_root);

#endif
