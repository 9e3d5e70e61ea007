/* prsim: an in-process model of SCSI logical units with persistent
 * reservations (SPC-4), for unit tests only (never linked into the product).
 *
 * A logical unit is a regular file registered with prsim_add_lu(); once
 * prsim_install() has wrapped the disk syscall table (syscalls.h), opening
 * that path gives a file descriptor that looks like a block device (fstat:
 * S_IFBLK with st_rdev PRSIM_MAJOR:minor, 512-byte sectors) and answers
 * PERSISTENT RESERVE OUT/IN through SG_IO and the IOC_PR_* ioctls.  Each file
 * descriptor is one I_T nexus of an "initiator" chosen by the test
 * (prsim_set_initiator() before opening, or prsim_bind()), so one process can
 * play several hosts.
 *
 * Modelled (one target port, LU scope): REGISTER, REGISTER AND IGNORE EXISTING
 * KEY, RESERVE, RELEASE, CLEAR, PREEMPT, PREEMPT AND ABORT, READ KEYS, READ
 * RESERVATION, all six reservation types; the PRgeneration counter;
 * RESERVATION CONFLICT for commands from unregistered nexuses or with a wrong
 * key, and for a PREEMPT whose victim key is not registered; UNIT ATTENTION
 * 2A/05 (registrations preempted) delivered once to each preempted nexus,
 * 2A/03 (reservations preempted) after CLEAR and 2A/04 (released) after
 * RELEASE to the other registrants, and queued ones (prsim_unit_attention(),
 * e.g. 29/00 after a "target restart"); INQUIRY VPD page 0x83 with an NAA
 * designator.  A nexus's pending UNIT ATTENTION fails its next PR command
 * (not executed), as on a real target.
 *
 * Reads and writes (io_submit) on an emulated LU obey the reservation: a
 * write from a nexus that may not write (not the holder of a WE/EA
 * reservation, not registered under a registrants-only or all-registrants
 * one) completes with -EBADE (RESERVATION CONFLICT), as the block layer
 * reports it; so do reads under the exclusive-access types.  A pending UNIT
 * ATTENTION is consumed silently by reads and writes (the kernel retries it).
 *
 * COMPARE AND WRITE (SG_IO opcode 0x89, one or more 512-byte blocks up to
 * the LU's limit) compares and writes under the emulator's lock, so it is
 * atomic against every other command: a pending UNIT ATTENTION fails it (not
 * executed), a nexus that may not write gets RESERVATION CONFLICT, a
 * difference gets CHECK CONDITION MISCOMPARE 1D/00 with the offset of the
 * first differing byte in INFORMATION and nothing written.  READ(16) (0x88)
 * reads under the same rules as reads.  INQUIRY VPD page 0xB0 (Block Limits)
 * reports the MAXIMUM COMPARE AND WRITE LENGTH.
 *
 * Install prsim before adding PR fault rules (fault.h): the fault wrappers
 * then sit on top of it.
 */
#ifndef SM_TEST_PRSIM_H
#define SM_TEST_PRSIM_H

#include <stdbool.h>
#include <stdint.h>

#define PRSIM_MAJOR 250

enum prsim_transport {
	PRSIM_SCSI, /* an sd disk: SG_IO and the PR ioctls */
	PRSIM_NVME, /* SG_IO refused with -ENOTTY; the PR ioctls only */
};

/* What the IOC_PR_* ioctls return on failure (see src/disk/pr.c). */
enum prsim_ioctl_style {
	PRSIM_IOCTL_SCSI_RESULT, /* Linux <= 6.3: 0x18, or 0x02 for any CHECK CONDITION */
	PRSIM_IOCTL_PR_STATUS,   /* Linux >= 6.4: 0x18, -EINVAL for ILLEGAL REQUEST, else 0x02 */
	PRSIM_IOCTL_ERRNO,       /* negative errnos: -EBADE, -EINVAL, -EIO */
	PRSIM_IOCTL_NVME_STATUS, /* NVMe on Linux <= 6.3: raw status with DNR: 0x4083 conflict,
				    0x4002 invalid field, 0x4006 internal error */
};

struct prsim_lu_opts {
	enum prsim_transport transport;
	enum prsim_ioctl_style ioctl_style;
	bool no_preempt_abort;  /* answer PREEMPT AND ABORT with ILLEGAL REQUEST 24/00 (tgt) */
	const char *naa;        /* hex digits of the VPD 0x83 NAA designator; NULL = none */
	unsigned minor;         /* st_rdev minor (the major is PRSIM_MAJOR) */
	bool no_caw;            /* answer COMPARE AND WRITE with ILLEGAL REQUEST 20/00 (tgt) */
	bool no_block_limits;   /* no VPD page 0xB0 (ILLEGAL REQUEST 24/00) */
	int caw_len_advertised; /* MAXIMUM COMPARE AND WRITE LENGTH on page 0xB0; 0: 1 block,
				   or 0 blocks with no_caw; -1: 0 blocks always */
	const char *vendor;     /* standard INQUIRY T10 vendor (8 chars max); NULL = "PRSIM" */
};

/* Register path (an existing regular file) as a logical unit; opts NULL =
 * SCSI, raw-result ioctls, everything supported.  Returns its index (>= 0). */
int prsim_add_lu(const char *path, const struct prsim_lu_opts *opts);
/* Wrap the current syscall table (idempotent). */
void prsim_install(void);
/* Forget every LU and binding (the syscall table is restored by
 * sm_fault_reset()/tu_reset_faults()). */
void prsim_reset(void);

/* Initiator of the file descriptors opened from now on (default "host"). */
void prsim_set_initiator(const char *name);
/* Rebind an open descriptor of an emulated LU to another initiator. */
int prsim_bind(int fd, const char *initiator);

/* Queue a UNIT ATTENTION for initiator's nexus (NULL: every initiator that
 * has opened the LU or is registered), e.g. 29/00 after a target restart. */
void prsim_unit_attention(int lu, const char *initiator, uint8_t asc, uint8_t ascq);

/* Inspection. */
uint32_t prsim_generation(int lu);
int prsim_registrations(int lu);
/* The key initiator is registered with, 0 when it is not. */
uint64_t prsim_key_of(int lu, const char *initiator);
/* PR commands the LU executed (not counting those refused with UNIT ATTENTION). */
unsigned prsim_executed(int lu);
/* PR commands received through SG_IO and through the ioctls. */
unsigned prsim_sg_commands(int lu);
unsigned prsim_ioctl_commands(int lu);
/* Writes refused with RESERVATION CONFLICT. */
unsigned prsim_write_conflicts(int lu);
/* COMPARE AND WRITE commands received, and those that wrote. */
unsigned prsim_caw_commands(int lu);
unsigned prsim_caw_writes(int lu);

#endif
