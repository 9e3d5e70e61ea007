/* cawfile: SCSI COMPARE AND WRITE on a regular file, atomic across processes,
 * for tests only: the torture (--lease-io caw), and the daemon and CLI when
 * SYNC_MANAGER_TEST_CAW_FILES=1 is set (the system tests of a volume with
 * lease_io caw on a file), as SYNC_MANAGER_TEST_FAULTS enables fault.c.
 *
 * Hosts that are processes sharing one volume file need a device that does
 * COMPARE AND WRITE for a volume with lease_io caw.  sm_cawfile_install()
 * wraps the disk syscall table's SG_IO (syscalls.h) so that on a regular file
 * it answers, as an SBC-3 target would:
 *   COMPARE AND WRITE (0x89)  under an exclusive OFD lock on the sectors:
 *                             read, compare, write if equal (GOOD), else
 *                             CHECK CONDITION MISCOMPARE 1D/00, nothing written
 *   READ(16) (0x88)           under a shared OFD lock
 *   INQUIRY, Block Limits VPD page (0xB0): MAXIMUM COMPARE AND WRITE LENGTH 1
 * Anything else on a regular file gets -ENOTTY (no SCSI), as the kernel
 * answers; other files go to the real call.  Plain reads and writes of the
 * engine (AIO, O_DIRECT) are untouched: a sector written only by COMPARE AND
 * WRITE is read whole by them (the kernel writes a page-cache page under its
 * lock; a torn read could only fail its checksum, never pass as another
 * record).  A process killed inside a COMPARE AND WRITE either wrote the
 * sector or not: the write is one pwrite of the sector.
 *
 * Install before sm_fault_install(), so that injected faults sit on top. */
#ifndef SM_DISK_CAWFILE_H
#define SM_DISK_CAWFILE_H

#include <stdbool.h>

/* blind: a broken device for the checker's own test: COMPARE AND WRITE
 * writes without comparing (and answers GOOD), as the model's
 * CAW_BLIND_WRITE mutant; the torture must then see violations. */
void sm_cawfile_install(bool blind);
/* Install it when SYNC_MANAGER_TEST_CAW_FILES=1 (logs a warning that it is
 * for tests); true when installed. */
bool sm_cawfile_from_env(void);
/* Has sm_cawfile_install() run in this process? */
bool sm_cawfile_active(void);
/* COMPARE AND WRITE commands executed (GOOD or MISCOMPARE) by this process. */
unsigned long sm_cawfile_executed(void);
unsigned long sm_cawfile_miscompares(void);

#endif
