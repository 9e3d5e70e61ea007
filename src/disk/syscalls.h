/* Every syscall the storage engine makes goes through this table, so tests
 * (and the fault-injection layer in fault.c) can replace any of them. */
#ifndef SM_DISK_SYSCALLS_H
#define SM_DISK_SYSCALLS_H

#include <libaio.h>
#include <scsi/sg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

struct sm_disk_syscalls {
	int (*open)(const char *path, int flags, mode_t mode);
	int (*close)(int fd);
	int (*fstat)(int fd, struct stat *st);
	int (*ftruncate)(int fd, off_t len);
	int (*fdatasync)(int fd);
	/* ioctl(BLKSSZGET) and ioctl(BLKGETSIZE64) on a block device. */
	int (*blk_sector_size)(int fd, int *out);
	int (*blk_size_bytes)(int fd, uint64_t *out);
	/* libaio; same return conventions as libaio (negative errno). */
	int (*io_setup)(int maxevents, io_context_t *ctx);
	int (*io_destroy)(io_context_t ctx);
	int (*io_submit)(io_context_t ctx, long nr, struct iocb **iocbs);
	int (*io_getevents)(io_context_t ctx, long min_nr, long nr, struct io_event *events,
			    struct timespec *timeout);
	int (*io_cancel)(io_context_t ctx, struct iocb *iocb, struct io_event *evt);
	/* ioctl(fd, request, arg) for the persistent reservation ioctls (IOC_PR_*
	 * of <linux/pr.h>).  Returns -errno on failure, else what the ioctl
	 * returned: 0, or a POSITIVE status that some kernels pass through from
	 * the driver (see pr.c). */
	int (*pr_ioctl)(int fd, unsigned long request, void *arg);
	/* ioctl(fd, SG_IO, hdr): 0 when the command was delivered (its outcome is
	 * in hdr->status, host_status, driver_status and the sense buffer), or
	 * -errno when it could not be (-ENOTTY/-EINVAL: not a SCSI device). */
	int (*sg_io)(int fd, struct sg_io_hdr *hdr);
};

/* The live table.  Tests may assign members; sm_disk_syscalls_reset() restores. */
extern struct sm_disk_syscalls sm_disk_sys;
extern const struct sm_disk_syscalls sm_disk_sys_real;
void sm_disk_syscalls_reset(void);

#endif
