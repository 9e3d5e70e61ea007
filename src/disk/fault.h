/* Fault injection for the storage engine (SQLite-style "fail the Nth call").
 *
 * sm_fault_install() wraps the syscall table; rules then decide, per I/O
 * submitted, whether it fails with an errno, hangs (never completes until
 * released, i.e. outlives its timeout), or is cut short by the device.
 *
 * For system tests the same rules can be driven from outside a process:
 * when SYNC_MANAGER_TEST_FAULTS names a file, every I/O re-reads that file
 * (if it changed) and applies the rules in it, one per line:
 *     read|write|any  eio|hang|short  [path-substring]
 * Removing the file (or emptying it) ends the faults; I/Os that were hung are
 * then submitted for real, as a recovered storage path would. */
#ifndef SM_DISK_FAULT_H
#define SM_DISK_FAULT_H

#include <stdbool.h>
#include <stdint.h>

enum sm_fault_op { SM_FAULT_READ = 1, SM_FAULT_WRITE = 2, SM_FAULT_ANY = 3 };

enum sm_fault_kind {
	SM_FAULT_ERRNO, /* completes with -err */
	SM_FAULT_HANG,  /* never completes until sm_fault_release_hung() */
	SM_FAULT_SHORT, /* device transfers only part of the data */
	SM_FAULT_SUBMIT_ERRNO, /* io_submit itself fails with -err */
};

struct sm_fault_rule {
	enum sm_fault_op op;
	enum sm_fault_kind kind;
	int err;       /* positive errno for ERRNO kinds (default EIO) */
	unsigned nth;  /* first matching I/O that fails, 1-based; 0 = the next one */
	unsigned count; /* how many consecutive matching I/Os fail; 0 = all */
	const char *path; /* only I/O to files whose path contains this; NULL = any */
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
