/* See cawfile.h. */
#include "cawfile.h"

#include "common/log.h"
#include "syscalls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 512

static struct sm_disk_syscalls next_sys;
static bool blind_writes;
static bool installed;
static atomic_ulong executed, miscompares;

unsigned long sm_cawfile_executed(void) { return atomic_load(&executed); }
unsigned long sm_cawfile_miscompares(void) { return atomic_load(&miscompares); }

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void answer(struct sg_io_hdr *h, uint8_t status, uint8_t key, uint8_t asc)
{
	h->status = status;
	h->host_status = 0;
	h->driver_status = status ? 0x08 : 0; /* DRIVER_SENSE */
	h->resid = 0;
	h->sb_len_wr = 0;
	if (status && h->sbp && h->mx_sb_len >= 18) {
		uint8_t *s = h->sbp;
		memset(s, 0, 18);
		s[0] = 0x70;
		s[2] = key;
		s[7] = 10;
		s[12] = asc;
		h->sb_len_wr = 18;
	}
}

static int lock(int fd, short type, off_t off, off_t len)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = off, .l_len = len};
	while (fcntl(fd, F_OFD_SETLKW, &fl) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int compare_and_write(int fd, struct sg_io_hdr *h, const uint8_t *cdb)
{
	unsigned n = cdb[13];
	off_t off = (off_t)(be64(cdb + 2) * BLOCK), len = (off_t)n * BLOCK;
	if (n == 0 || n > 1 || h->dxfer_len != 2 * (unsigned)len) {
		answer(h, 0x02, 0x05, 0x24); /* ILLEGAL REQUEST, invalid field in CDB */
		return 0;
	}
	const uint8_t *data = h->dxferp;
	uint8_t cur[BLOCK];
	int rc = lock(fd, F_WRLCK, off, len);
	if (rc < 0)
		return rc;
	if (pread(fd, cur, (size_t)len, off) != len) {
		rc = -EIO;
	} else if (!blind_writes && memcmp(cur, data, (size_t)len) != 0) {
		atomic_fetch_add(&miscompares, 1);
		answer(h, 0x02, 0x0e, 0x1d); /* MISCOMPARE during verify */
	} else if (pwrite(fd, data + len, (size_t)len, off) != len) {
		rc = -EIO;
	} else {
		answer(h, 0, 0, 0);
	}
	atomic_fetch_add(&executed, 1);
	lock(fd, F_UNLCK, off, len);
	return rc;
}

static int read16(int fd, struct sg_io_hdr *h, const uint8_t *cdb)
{
	off_t off = (off_t)(be64(cdb + 2) * BLOCK);
	size_t len = (size_t)cdb[13] * BLOCK;
	if (h->dxfer_len != len) {
		answer(h, 0x02, 0x05, 0x24);
		return 0;
	}
	int rc = lock(fd, F_RDLCK, off, (off_t)len);
	if (rc < 0)
		return rc;
	ssize_t got = pread(fd, h->dxferp, len, off);
	lock(fd, F_UNLCK, off, (off_t)len);
	if (got != (ssize_t)len)
		return -EIO;
	answer(h, 0, 0, 0);
	return 0;
}

static int block_limits(struct sg_io_hdr *h)
{
	uint8_t page[64] = {0};
	page[1] = 0xb0;
	page[3] = 0x3c;
	page[5] = 1; /* MAXIMUM COMPARE AND WRITE LENGTH */
	size_t n = h->dxfer_len < sizeof(page) ? h->dxfer_len : sizeof(page);
	memcpy(h->dxferp, page, n);
	answer(h, 0, 0, 0);
	return 0;
}

static int wrap_sg_io(int fd, struct sg_io_hdr *h)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return next_sys.sg_io(fd, h);
	const uint8_t *cdb = h->cmdp;
	if (h->cmd_len == 16 && cdb[0] == 0x89)
		return compare_and_write(fd, h, cdb);
	if (h->cmd_len == 16 && cdb[0] == 0x88)
		return read16(fd, h, cdb);
	if (h->cmd_len == 6 && cdb[0] == 0x12 && (cdb[1] & 1) && cdb[2] == 0xb0)
		return block_limits(h);
	return -ENOTTY;
}

void sm_cawfile_install(bool blind)
{
	blind_writes = blind;
	installed = true;
	if (sm_disk_sys.sg_io == wrap_sg_io)
		return;
	next_sys = sm_disk_sys;
	sm_disk_sys.sg_io = wrap_sg_io;
}

bool sm_cawfile_from_env(void)
{
	const char *e = getenv("SYNC_MANAGER_TEST_CAW_FILES");
	if (!e || strcmp(e, "1") != 0)
		return false;
	sm_cawfile_install(false);
	sm_info("COMPARE AND WRITE emulated on regular files (SYNC_MANAGER_TEST_CAW_FILES=1): for tests only");
	return true;
}

bool sm_cawfile_active(void) { return installed; }
