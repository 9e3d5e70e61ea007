/* SCSI COMPARE AND WRITE of one sector through SG_IO (issue 14: atomic leases).
 *
 * COMPARE AND WRITE (SBC-3, opcode 0x89) sends 2 x sector_size bytes: the
 * data the sector must hold now, then the data to put there.  The target
 * compares and writes as one atomic operation: nobody else's write to that
 * sector can come between.  On MISCOMPARE nothing is written.
 *
 * Contract of sm_caw():
 *   0                          the sector held expect and now holds new_data
 *   -SM_EMISCOMPARE            it did not hold expect; it is untouched.  A
 *                              normal outcome (someone else wrote first), so
 *                              it is logged at debug level only
 *   -SM_ERESERVATION_CONFLICT  the device refused it (this host is not
 *                              registered: fenced); nothing written
 *   -SM_ECAW_UNSUPPORTED       the device does not implement it (ILLEGAL
 *                              REQUEST: invalid opcode or field, e.g. tgt), or
 *                              cannot take SG_IO at all (a regular file, an
 *                              NVMe namespace)
 *   -SM_EIO_TIMEOUT            no answer within timeout_ms.  The outcome is
 *                              IN DOUBT: the target may have executed it, or
 *                              may still, before the abort reaches it.  A CAW
 *                              is atomic, so a late one either finds expect
 *                              (nothing was written since, and it writes) or
 *                              miscompares; the caller must read the sector
 *                              before it decides anything (tests/model/caw.pml)
 *   -EIO (or -errno)           anything else, logged with what the device said
 * A UNIT ATTENTION (not executed: target reset, registrations preempted) is
 * sent again, up to SM_CAW_UA_RETRIES times, then -EIO.
 *
 * Storage defect to know about (docs/lab.md, tests/model/README.md finding
 * CAW1): LIO in Linux 6.1 stops keeping COMPARE AND WRITE atomic once one CAW
 * was rejected with RESERVATION CONFLICT or UNIT ATTENTION.  Every rejected CAW
 * is therefore logged as a warning naming the device.  The probe below cannot
 * see that defect.
 *
 * Synchronous, for worker threads only.  Every syscall goes through the disk
 * syscall table (syscalls.h): tests emulate devices (tests/unit/prsim.c) and
 * inject faults (fault.h, op SM_FAULT_CAW).
 */
#ifndef SM_DISK_CAW_H
#define SM_DISK_CAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SM_CAW_UA_RETRIES 3

struct sm_caw_dev;

/* Open a block device for COMPARE AND WRITE (O_RDWR).  timeout_ms bounds
 * each command (0: 30 s, Linux's SCSI default). */
int sm_caw_open(const char *path, unsigned timeout_ms, struct sm_caw_dev **out);
/* NULL is accepted. */
void sm_caw_close(struct sm_caw_dev *dev);

/* COMPARE AND WRITE of the sector_size bytes at byte offset (a multiple of
 * sector_size, which is the device's logical block size).  See above. */
int sm_caw(struct sm_caw_dev *dev, uint64_t offset, const void *expect, const void *new_data, size_t sector_size);

/* May a COMPARE AND WRITE that returned rc (not 0) have executed, or execute
 * yet?  False only for the answers that say it did not (MISCOMPARE,
 * RESERVATION CONFLICT, unsupported) and for calls refused before anything
 * was sent (-EINVAL, -ENOMEM); true for timeouts and every other failure. */
bool sm_caw_in_doubt(int rc);

/* Read the sector at offset through SG_IO (READ(16): no page cache). */
int sm_caw_read(struct sm_caw_dev *dev, uint64_t offset, void *buf, size_t sector_size);

/* Block Limits VPD page (0xB0): MAXIMUM COMPARE AND WRITE LENGTH in logical
 * blocks (>= 0), or -SM_ECAW_UNSUPPORTED when the device has no such page
 * or no SG_IO, or another negative error. */
int sm_caw_max_blocks(struct sm_caw_dev *dev);

/* Does the device at path do COMPARE AND WRITE of one sector?  0 when yes:
 * the Block Limits page allows at least one block, and on the scratch sector
 * the caller names (offset, not in use by anyone: its data is read and
 * written back unchanged) a CAW with the current data matched and one with
 * different expected data miscompared, leaving the sector as it was.
 * -SM_ECAW_UNSUPPORTED with the reason in why (logged too) when not; other
 * errors (timeouts, conflicts) as sm_caw(). */
int sm_caw_supported(const char *path, uint64_t scratch_offset, size_t sector_size, unsigned timeout_ms, char *why,
		     size_t why_len);

/* The target behind path, from the standard INQUIRY data (T10 vendor,
 * product, revision; blanks trimmed).  -SM_ECAW_UNSUPPORTED when the device
 * takes no SG_IO (a file), other errors as sm_caw(). */
struct sm_caw_target {
	char vendor[9], product[17], revision[5];
};
int sm_caw_target_of(const char *path, unsigned timeout_ms, struct sm_caw_target *out);

/* Is this a target known to lose COMPARE AND WRITE atomicity after it
 * rejected one (reservation conflict, unit attention)?  The reason, for
 * messages, or NULL.  Today: LIO (vendor LIO-ORG), whose Linux 6.1 version
 * the lab caught (docs/lab.md; tests/model/README.md finding CAW1); a probe
 * cannot see it, since it appears only after a rejection. */
const char *sm_caw_known_defect(const struct sm_caw_target *t);

#endif
