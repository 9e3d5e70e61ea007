#include "syscalls.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int real_open(const char *path, int flags, mode_t mode)
{
	int fd = open(path, flags, mode);
	return fd < 0 ? -errno : fd;
}

static int real_close(int fd) { return close(fd) < 0 ? -errno : 0; }
static int real_fstat(int fd, struct stat *st) { return fstat(fd, st) < 0 ? -errno : 0; }
static int real_ftruncate(int fd, off_t len) { return ftruncate(fd, len) < 0 ? -errno : 0; }
static int real_fdatasync(int fd) { return fdatasync(fd) < 0 ? -errno : 0; }

static int real_blk_sector_size(int fd, int *out)
{
	return ioctl(fd, BLKSSZGET, out) < 0 ? -errno : 0;
}

static int real_blk_size_bytes(int fd, uint64_t *out)
{
	return ioctl(fd, BLKGETSIZE64, out) < 0 ? -errno : 0;
}

static int real_pr_ioctl(int fd, unsigned long request, void *arg)
{
	int rc = ioctl(fd, request, arg);
	return rc < 0 ? -errno : rc;
}

static int real_sg_io(int fd, struct sg_io_hdr *hdr)
{
	return ioctl(fd, SG_IO, hdr) < 0 ? -errno : 0;
}

const struct sm_disk_syscalls sm_disk_sys_real = {
	.open = real_open,
	.close = real_close,
	.fstat = real_fstat,
	.ftruncate = real_ftruncate,
	.fdatasync = real_fdatasync,
	.blk_sector_size = real_blk_sector_size,
	.blk_size_bytes = real_blk_size_bytes,
	.io_setup = io_setup,
	.io_destroy = io_destroy,
	.io_submit = io_submit,
	.io_getevents = io_getevents,
	.io_cancel = io_cancel,
	.pr_ioctl = real_pr_ioctl,
	.sg_io = real_sg_io,
};

struct sm_disk_syscalls sm_disk_sys = {
	.open = real_open,
	.close = real_close,
	.fstat = real_fstat,
	.ftruncate = real_ftruncate,
	.fdatasync = real_fdatasync,
	.blk_sector_size = real_blk_sector_size,
	.blk_size_bytes = real_blk_size_bytes,
	.io_setup = io_setup,
	.io_destroy = io_destroy,
	.io_submit = io_submit,
	.io_getevents = io_getevents,
	.io_cancel = io_cancel,
	.pr_ioctl = real_pr_ioctl,
	.sg_io = real_sg_io,
};

void sm_disk_syscalls_reset(void)
{
	sm_disk_sys = sm_disk_sys_real;
}
