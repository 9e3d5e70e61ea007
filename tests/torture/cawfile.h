/* cawfile: SCSI COMPARE AND WRITE on a regular file, atomic across processes,
 * for the torture only (never linked into the product).
 *
 * The torture's hosts are processes sharing one volume file; a volume with
 * lease_io caw needs a device that does COMPARE AND WRITE.  cawfile_install()
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
#ifndef SM_TORTURE_CAWFILE_H
#define SM_TORTURE_CAWFILE_H

#include <stdbool.h>

/* blind: a broken device for the checker's own test: COMPARE AND WRITE
 * writes without comparing (and answers GOOD), as the model's
 * CAW_BLIND_WRITE mutant; the torture must then see violations. */
void cawfile_install(bool blind);
/* COMPARE AND WRITE commands executed (GOOD or MISCOMPARE) by this process. */
unsigned long cawfile_executed(void);
unsigned long cawfile_miscompares(void);

#endif
