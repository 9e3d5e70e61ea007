/* Fault injection for the storage engine (SQLite-style "fail the Nth call").
 *
 * sm_fault_install() wraps the syscall table; rules then decide, per I/O
 * submitted, whether it fails with an errno, hangs (never completes until
 * released, i.e. outlives its timeout), or is cut short by the device.
 *
 * Persistent reservation commands (pr.c) can be failed too: rules with op
 * SM_FAULT_PR_OUT / SM_FAULT_PR_IN (optionally only some service actions)
 * make the command fail with an errno, a SCSI status (RESERVATION CONFLICT)
 * or a CHECK CONDITION with sense data, on both ways pr.c sends commands:
 * - SG_IO: the wrapper fills in the status and fixed-format sense data, as a
 *   target's answer would arrive; the command does not reach the device.
 * - the IOC_PR_* ioctls: the ioctl returns what the kernel would, chosen by
 *   the rule's ioctl_style (see enum sm_fault_ioctl_style); the sense data is
 *   lost on that path, as it is in the kernel.
 * A HANG rule on a PR command makes it time out (SG_IO: host status
 * DID_TIME_OUT; ioctl: -ETIMEDOUT) without reaching the device.
 *
 * The wrappers sit on top of whatever table was installed before
 * sm_fault_install() (the real syscalls, or a test's emulator such as
 * tests/unit/prsim.c): install an emulator first, then add rules.
 *
 * For system tests the same rules can be driven from outside a process:
 * when SYNC_MANAGER_TEST_FAULTS names a file, every I/O and PR command
 * re-reads that file (if it changed) and applies the rules in it, one per
 * line ('#' starts a comment):
 *     read|write|any  eio|hang|short  [path-substring]
 *     prout|prin      conflict|ua|ua-preempted|illegal|eio|hang  [path-substring]
 *     prout           abort-unsupported  [path-substring]
 *     caw             miscompare|conflict|ua|ua-preempted|illegal|eio|hang  [path-substring]
 * PR kinds: conflict = status RESERVATION CONFLICT on every matching command;
 * ua = one UNIT ATTENTION 29/00 (power on or reset) and ua-preempted = one
 * UNIT ATTENTION 2A/05 (registrations preempted), each delivered once per
 * change of the file (a process is one nexus); illegal = ILLEGAL REQUEST
 * 24/00 (invalid field in CDB) on every matching command; abort-unsupported =
 * ILLEGAL REQUEST 24/00 for PREEMPT AND ABORT only (what tgt answers); eio =
 * the command fails with EIO; hang = it times out.  The ioctl path uses the
 * raw-SCSI-result convention (Linux 6.1).
 * COMPARE AND WRITE (caw.c, op SM_FAULT_CAW) takes the same kinds as the PR
 * commands, except that illegal is ILLEGAL REQUEST 20/00 (invalid command
 * operation code: what tgt answers), plus miscompare = CHECK CONDITION
 * MISCOMPARE 1D/00 on every matching command (the sector is not written).
 * Removing the file (or emptying it) ends the faults; I/Os that were hung are
 * then submitted for real, as a recovered storage path would. */
#ifndef SM_DISK_FAULT_H
#define SM_DISK_FAULT_H

#include <stdbool.h>
#include <stdint.h>

/* SM_FAULT_ANY is any read or write; PR commands are matched only by the
 * SM_FAULT_PR_* bits. */
enum sm_fault_op {
	SM_FAULT_READ = 1,
	SM_FAULT_WRITE = 2,
	SM_FAULT_ANY = 3,
	SM_FAULT_PR_OUT = 4, /* PERSISTENT RESERVE OUT (register, reserve, preempt, clear, ...) */
	SM_FAULT_PR_IN = 8,  /* PERSISTENT RESERVE IN (read keys, read reservation) */
	SM_FAULT_PR_ANY = 12,
	SM_FAULT_CAW = 16,   /* COMPARE AND WRITE (opcode 0x89) through SG_IO */
};

enum sm_fault_kind {
	SM_FAULT_ERRNO, /* completes with -err */
	SM_FAULT_HANG,  /* never completes until sm_fault_release_hung() */
	SM_FAULT_SHORT, /* device transfers only part of the data */
	SM_FAULT_SUBMIT_ERRNO, /* io_submit itself fails with -err */
	/* PR commands only: */
	SM_FAULT_SCSI_STATUS,     /* the target answers with .status (e.g. 0x18) */
	SM_FAULT_CHECK_CONDITION, /* CHECK CONDITION, sense .sense_key/.asc/.ascq */
	/* SG_IO commands (PR, COMPARE AND WRITE) only: the device executes the
	 * command, then its answer is lost and the call fails with -err (e.g.
	 * ETIMEDOUT: a COMPARE AND WRITE that timed out and landed anyway). */
	SM_FAULT_DONE_ERRNO,
	/* Reads and writes only: the I/O is carried out, but only after a delay
	 * of .slow_ms_per_mib ms per MiB it transfers, counted against its
	 * timeout (the caller's deadline runs from before the submission): a
	 * LUN whose bandwidth is shared by many hosts, where a large I/O misses
	 * a timeout that a small one meets. */
	SM_FAULT_SLOW,
};

/* SCSI status and sense keys used by PR rules. */
#define SM_SCSI_CHECK_CONDITION 0x02
#define SM_SCSI_RESERVATION_CONFLICT 0x18
#define SM_SENSE_ILLEGAL_REQUEST 0x5
#define SM_SENSE_UNIT_ATTENTION 0x6
#define SM_SENSE_MISCOMPARE 0xe

/* What the IOC_PR_* ioctls return for a faulted command (kernels differ;
 * facts in pr.c). */
enum sm_fault_ioctl_style {
	/* Linux <= 6.3: the raw SCSI result: the status byte (0x18, or 0x02 for
	 * any CHECK CONDITION, its sense lost). */
	SM_FAULT_IOCTL_SCSI_RESULT = 0,
	/* Linux >= 6.4: 0x18 for a conflict, -EINVAL for ILLEGAL REQUEST with
	 * ASC 20h/24h/26h, 0x02 (PR_STS_IOERR) for any other CHECK CONDITION. */
	SM_FAULT_IOCTL_PR_STATUS,
};

struct sm_fault_rule {
	enum sm_fault_op op;
	enum sm_fault_kind kind;
	int err;       /* positive errno for ERRNO kinds (default EIO) */
	unsigned nth;  /* first matching I/O that fails, 1-based; 0 = the next one */
	unsigned count; /* how many consecutive matching I/Os fail; 0 = all */
	const char *path; /* only I/O to files whose path contains this; NULL = any */
	/* PR rules: bitmask of (1u << service action) it applies to (PR OUT:
	 * 0 REGISTER, 1 RESERVE, 2 RELEASE, 3 CLEAR, 4 PREEMPT, 5 PREEMPT AND
	 * ABORT, 6 REGISTER AND IGNORE EXISTING KEY; PR IN: 0 READ KEYS,
	 * 1 READ RESERVATION); 0 = every one. */
	unsigned pr_actions;
	uint8_t status;                /* SM_FAULT_SCSI_STATUS */
	uint8_t sense_key, asc, ascq;  /* SM_FAULT_CHECK_CONDITION */
	enum sm_fault_ioctl_style ioctl_style;
	unsigned slow_ms_per_mib;      /* SM_FAULT_SLOW */
};

/* Replace the disk syscall table with the injecting wrappers (idempotent). */
void sm_fault_install(void);
/* Remove every rule (hung I/Os stay hung until released). */
void sm_fault_clear(void);
int sm_fault_add(const struct sm_fault_rule *rule);
/* Remove every rule, forget held I/Os and restore the real syscall table
 * (tests only: I/Os still held are never completed). */
void sm_fault_reset(void);
/* Submit hung I/Os for real (complete = true) or fail them with EIO. */
void sm_fault_release_hung(bool complete);
/* How many I/Os were faulted so far. */
unsigned sm_fault_hits(void);
/* Install and enable the file-driven rules if SYNC_MANAGER_TEST_FAULTS is set.
 * Returns true when fault injection from the environment is active. */
bool sm_fault_from_env(void);

#endif
