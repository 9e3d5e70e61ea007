/* Direct I/O to lease storage with a per-I/O timeout (DESIGN §3).
 *
 * An sm_disk is a path (regular file or block device) opened with O_DIRECT
 * (and O_DSYNC when writable: a completed write is on stable storage)
 * at a base offset.  All offsets passed to read/write are relative to that
 * base and must be multiples of the sector size, as must lengths.
 *
 * Contracts:
 * - An I/O that does not complete within its timeout returns -SM_EIO_TIMEOUT
 *   and counts as failed.  The kernel may still complete it later: its buffer
 *   belongs to the engine until then (callers' buffers are never handed to the
 *   kernel), and a new write overlapping a still-pending write is refused with
 *   -SM_EIO_PENDING, so a late write can never land after a newer one.  This
 *   holds across every handle of the process on the same storage (same block
 *   device, or same file), also after the abandoning handle was closed.
 *   (Another partition or alias of the same disk is not recognised.)
 * - An sm_disk is used by one thread at a time.  Threads open their own.
 */
#ifndef SM_DISK_DISK_H
#define SM_DISK_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sm_disk;

enum sm_disk_flags {
	SM_DISK_READONLY = 1 << 0,
	/* Create a missing regular file (used by `init`). */
	SM_DISK_CREATE = 1 << 1,
	/* Tests that emulate several hosts in one process: this handle's
	 * abandoned writes block only its own later writes, as another host's
	 * would (the default scope is the whole process: one host). */
	SM_DISK_SEPARATE_HOST = 1 << 2,
};

struct sm_disk_stats {
	uint64_t reads, writes;
	uint64_t bytes_read, bytes_written;
	uint64_t timeouts, errors;
};

/* Largest single I/O the engine accepts. */
#define SM_DISK_MAX_IO (16u << 20)

/* Open path at base_offset.  sector_size: 0 = detect (block devices: the
 * device's logical block size; files: 512), or 512/4096 explicitly (for a block
 * device it must be >= and a multiple of the device's logical size). */
int sm_disk_open(const char *path, uint64_t base_offset, unsigned sector_size, unsigned flags,
		 struct sm_disk **out);
/* Close; NULL is accepted.  I/O still pending in the kernel keeps the handle
 * (fd, buffers, AIO context) alive until it completes; a later call of any
 * handle frees it then. */
void sm_disk_close(struct sm_disk *disk);

unsigned sm_disk_sector_size(const struct sm_disk *disk);
/* The device's own logical block size (512 for regular files). */
unsigned sm_disk_device_sector_size(const struct sm_disk *disk);
bool sm_disk_is_blockdev(const struct sm_disk *disk);
const char *sm_disk_path(const struct sm_disk *disk);
uint64_t sm_disk_base_offset(const struct sm_disk *disk);
/* Bytes available from the base offset to the end of the file or device. */
int sm_disk_capacity(struct sm_disk *disk, uint64_t *bytes);
/* Grow a regular file so that base+len bytes exist (no-op if it is larger). */
int sm_disk_ensure_size(struct sm_disk *disk, uint64_t len);

int sm_disk_read(struct sm_disk *disk, uint64_t off, void *buf, size_t len, unsigned timeout_ms);
int sm_disk_write(struct sm_disk *disk, uint64_t off, const void *buf, size_t len, unsigned timeout_ms);
/* Flush file data (used after formatting, before writing the header). */
int sm_disk_sync(struct sm_disk *disk);

/* Number of this disk's I/Os still pending in the kernel after a timeout. */
unsigned sm_disk_pending(struct sm_disk *disk);
void sm_disk_get_stats(const struct sm_disk *disk, struct sm_disk_stats *st);
/* Process-wide totals over all disks (for benchmarks). */
void sm_disk_global_stats(struct sm_disk_stats *st);
void sm_disk_reset_global_stats(void);

/* Parse "PATH[:OFFSET]" (OFFSET in bytes, K/M/G suffixes allowed).  A path
 * that itself contains ':' can be given as PATH:0.  path_out gets a malloc'd
 * copy.  Returns 0 or -SM_EBAD_ARGUMENT. */
int sm_disk_parse_location(const char *spec, char **path_out, uint64_t *offset_out);

#endif
