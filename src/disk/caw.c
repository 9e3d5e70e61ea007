/* COMPARE AND WRITE of one sector through SG_IO.  Contract in caw.h.
 *
 * Facts used (SBC-3, SPC-4):
 * - COMPARE AND WRITE is a 16-byte CDB: opcode 0x89, LBA in bytes 2-9, NUMBER
 *   OF LOGICAL BLOCKS in byte 13; data-out is the verify data then the write
 *   data, NUMBER OF LOGICAL BLOCKS blocks each.
 * - A miscompare is CHECK CONDITION, sense key MISCOMPARE (0xE), ASC/ASCQ
 *   1D/00 (MISCOMPARE DURING VERIFY OPERATION); the INFORMATION field holds
 *   the offset of the first byte that differed.
 * - A target without the command answers ILLEGAL REQUEST 20/00 (invalid
 *   command operation code); a length beyond its limit, 24/00 (invalid field
 *   in CDB).
 * - The Block Limits VPD page (INQUIRY EVPD page 0xB0) has the MAXIMUM
 *   COMPARE AND WRITE LENGTH in byte 5 (0: not supported).  tgt advertises a
 *   length although it rejects the opcode (lab-notes.md), so the probe also
 *   sends real commands.
 */
#include "caw.h"

#include "common/log.h"
#include "scsi.h"
#include "sync_manager/errors.h"
#include "syscalls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OP_COMPARE_AND_WRITE 0x89
#define OP_READ16 0x88
#define OP_INQUIRY 0x12
#define VPD_BLOCK_LIMITS 0xb0
#define ST_GOOD 0x00
#define ST_CHECK_CONDITION 0x02
#define ST_RESERVATION_CONFLICT 0x18
#define SK_ILLEGAL_REQUEST 0x5
#define SK_UNIT_ATTENTION 0x6
#define SK_MISCOMPARE 0xe
#define HOST_DID_TIME_OUT 0x03
#define DRIVER_TIMEOUT 0x06

struct sm_caw_dev {
	int fd;
	char *path;
	unsigned timeout_ms;
};


int sm_caw_open(const char *path, unsigned timeout_ms, struct sm_caw_dev **out)
{
	*out = NULL;
	int fd = sm_disk_sys.open(path, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0) {
		int err = errno ? errno : EIO;
		sm_error("%s: cannot open for COMPARE AND WRITE: %s", path, strerror(err));
		return -err;
	}
	struct sm_caw_dev *dev = calloc(1, sizeof(*dev));
	char *copy = strdup(path);
	if (!dev || !copy) {
		free(dev);
		free(copy);
		sm_disk_sys.close(fd);
		return -ENOMEM;
	}
	*dev = (struct sm_caw_dev){.fd = fd, .path = copy, .timeout_ms = timeout_ms ? timeout_ms : 30000};
	*out = dev;
	return 0;
}

void sm_caw_close(struct sm_caw_dev *dev)
{
	if (!dev)
		return;
	sm_disk_sys.close(dev->fd);
	free(dev->path);
	free(dev);
}

#define CAW_AGAIN 1

/* Map one answer to the contract's results; CAW_AGAIN for a UNIT ATTENTION
 * that may be sent again.  what names the command in the log. */
static int map_answer(struct sm_caw_dev *dev, const char *what, const struct sm_scsi_answer *a, int *ua_tries)
{
	char said[160];
	sm_scsi_describe(a, said, sizeof(said));
	if (a->rc == -ENOTTY || a->rc == -EINVAL || a->rc == -ENOSYS || a->rc == -EOPNOTSUPP) {
		sm_warn("%s: %s needs SG_IO, which this file or device does not take (%s)", dev->path, what, said);
		return -SM_ECAW_UNSUPPORTED;
	}
	if (a->rc == -ETIMEDOUT || (a->rc == 0 && (a->host_status == HOST_DID_TIME_OUT ||
						   (a->driver_status & 0x0f) == DRIVER_TIMEOUT))) {
		sm_warn("%s: %s timed out after %u ms (%s): its outcome is in doubt", dev->path, what,
			dev->timeout_ms, said);
		return -SM_EIO_TIMEOUT;
	}
	if (a->rc < 0) {
		sm_error("%s: %s failed: %s", dev->path, what, said);
		return a->rc;
	}
	if (a->host_status) {
		sm_error("%s: %s failed on the path to the device (%s)", dev->path, what, said);
		return -EIO;
	}
	if (a->status == ST_GOOD)
		return 0;
	if (a->status == ST_RESERVATION_CONFLICT) {
		sm_warn("%s: %s refused: reservation conflict (this host is not registered: fenced?)", dev->path,
			what);
		return -SM_ERESERVATION_CONFLICT;
	}
	if (a->status == ST_CHECK_CONDITION && a->sense) {
		switch (a->key) {
		case SK_MISCOMPARE:
			sm_debug("%s: %s: miscompare", dev->path, what);
			return -SM_EMISCOMPARE;
		case SK_UNIT_ATTENTION:
			if (++*ua_tries <= SM_CAW_UA_RETRIES) {
				sm_info("%s: %s: unit attention %02x/%02x, sending it again", dev->path, what, a->asc,
					a->ascq);
				return CAW_AGAIN;
			}
			sm_error("%s: %s: still UNIT ATTENTION after %d retries (%s)", dev->path, what,
				 SM_CAW_UA_RETRIES, said);
			return -EIO;
		case SK_ILLEGAL_REQUEST:
			sm_warn("%s: %s not supported by the device (%s)", dev->path, what, said);
			return -SM_ECAW_UNSUPPORTED;
		}
	}
	sm_error("%s: %s failed: %s", dev->path, what, said);
	return -EIO;
}


static bool aligned_offset(struct sm_caw_dev *dev, uint64_t offset, size_t sector_size)
{
	if (sector_size == 0 || sector_size > 65536 || offset % sector_size) {
		sm_error("%s: COMPARE AND WRITE at byte %llu with sector size %zu: not one whole sector", dev->path,
			 (unsigned long long)offset, sector_size);
		return false;
	}
	return true;
}

/* Send a command until it is answered other than with UNIT ATTENTION.  A
 * COMPARE AND WRITE the device rejected (conflict, unit attention) is warned
 * about: see caw.h, the LIO 6.1 defect. */
static int run(struct sm_caw_dev *dev, const char *what, uint8_t *cdb, int direction, void *buf, unsigned len)
{
	int ua_tries = 0, rc;
	do {
		struct sm_scsi_answer a;
		sm_scsi_command(dev->fd, cdb, 16, direction, buf, len, dev->timeout_ms, &a);
		rc = map_answer(dev, what, &a, &ua_tries);
	} while (rc == CAW_AGAIN);
	if (cdb[0] == OP_COMPARE_AND_WRITE && (ua_tries > 0 || rc == -SM_ERESERVATION_CONFLICT))
		sm_warn("%s: the device rejected a COMPARE AND WRITE; a target with the defect of LIO in Linux 6.1 "
			"no longer keeps COMPARE AND WRITE atomic after that (tests/model/README.md, finding CAW1)",
			dev->path);
	return rc;
}

int sm_caw(struct sm_caw_dev *dev, uint64_t offset, const void *expect, const void *new_data, size_t sector_size)
{
	if (!aligned_offset(dev, offset, sector_size))
		return -EINVAL;
	uint8_t *data = malloc(2 * sector_size);
	if (!data)
		return -ENOMEM;
	memcpy(data, expect, sector_size);
	memcpy(data + sector_size, new_data, sector_size);
	uint8_t cdb[16] = {OP_COMPARE_AND_WRITE};
	sm_put_be64(cdb + 2, offset / sector_size);
	cdb[13] = 1; /* one logical block */
	int rc = run(dev, "COMPARE AND WRITE", cdb, SG_DXFER_TO_DEV, data, (unsigned)(2 * sector_size));
	free(data);
	return rc;
}

bool sm_caw_in_doubt(int rc)
{
	return rc != -SM_EMISCOMPARE && rc != -SM_ERESERVATION_CONFLICT && rc != -SM_ECAW_UNSUPPORTED &&
	       rc != -EINVAL && rc != -ENOMEM;
}

int sm_caw_read(struct sm_caw_dev *dev, uint64_t offset, void *buf, size_t sector_size)
{
	if (!aligned_offset(dev, offset, sector_size))
		return -EINVAL;
	uint8_t cdb[16] = {OP_READ16};
	sm_put_be64(cdb + 2, offset / sector_size);
	cdb[13] = 1; /* transfer length: one block */
	int rc = run(dev, "READ(16)", cdb, SG_DXFER_FROM_DEV, buf, (unsigned)sector_size);
	return rc == -SM_EMISCOMPARE ? -EIO : rc;
}

int sm_caw_max_blocks(struct sm_caw_dev *dev)
{
	uint8_t page[64] = {0};
	uint8_t cdb[6] = {OP_INQUIRY, 0x01, VPD_BLOCK_LIMITS, 0, sizeof(page), 0};
	int ua_tries = 0, rc;
	struct sm_scsi_answer a;
	do {
		sm_scsi_command(dev->fd, cdb, sizeof(cdb), SG_DXFER_FROM_DEV, page, sizeof(page), dev->timeout_ms, &a);
		rc = map_answer(dev, "INQUIRY (Block Limits VPD page)", &a, &ua_tries);
	} while (rc == CAW_AGAIN);
	if (rc < 0)
		return rc;
	if (page[1] != VPD_BLOCK_LIMITS || page[3] < 2) {
		sm_warn("%s: no Block Limits VPD page (page 0x%02x, length %u)", dev->path, page[1], page[3]);
		return -SM_ECAW_UNSUPPORTED;
	}
	return page[5];
}

static int refuse(const char *path, char *why, size_t why_len, const char *reason)
{
	snprintf(why, why_len, "%s", reason);
	sm_warn("%s: no COMPARE AND WRITE: %s", path, reason);
	return -SM_ECAW_UNSUPPORTED;
}

/* The real commands of the probe on the scratch sector. */
static int probe_commands(struct sm_caw_dev *dev, uint64_t off, size_t ss, char *why, size_t why_len)
{
	uint8_t *cur = malloc(ss), *wrong = malloc(ss), *after = malloc(ss);
	int rc = cur && wrong && after ? sm_caw_read(dev, off, cur, ss) : -ENOMEM;
	if (rc == 0)
		rc = sm_caw(dev, off, cur, cur, ss); /* matches: writes the same bytes back */
	if (rc == -SM_ECAW_UNSUPPORTED)
		rc = refuse(dev->path, why, why_len, "the device rejects COMPARE AND WRITE (ILLEGAL REQUEST)");
	else if (rc == -SM_EMISCOMPARE)
		rc = refuse(dev->path, why, why_len,
			    "COMPARE AND WRITE with the sector's own data miscompared (is the scratch sector in use?)");
	if (rc == 0) {
		memcpy(wrong, cur, ss);
		wrong[0] ^= 0xff;
		rc = sm_caw(dev, off, wrong, wrong, ss);
		if (rc == 0)
			rc = refuse(dev->path, why, why_len, "COMPARE AND WRITE with wrong expected data did not miscompare");
		else if (rc == -SM_EMISCOMPARE)
			rc = sm_caw_read(dev, off, after, ss);
		if (rc == 0 && memcmp(after, cur, ss))
			rc = refuse(dev->path, why, why_len, "a miscompared COMPARE AND WRITE changed the sector");
	}
	free(cur);
	free(wrong);
	free(after);
	return rc;
}

int sm_caw_supported(const char *path, uint64_t scratch_offset, size_t sector_size, unsigned timeout_ms, char *why,
		     size_t why_len)
{
	snprintf(why, why_len, "supported");
	struct sm_caw_dev *dev;
	int rc = sm_caw_open(path, timeout_ms, &dev);
	if (rc < 0) {
		snprintf(why, why_len, "cannot open: %s", strerror(-rc));
		return rc;
	}
	int max = sm_caw_max_blocks(dev);
	if (max == -SM_ECAW_UNSUPPORTED)
		rc = refuse(path, why, why_len, "no Block Limits VPD page, or no SG_IO");
	else if (max == 0)
		rc = refuse(path, why, why_len, "the Block Limits VPD page says MAXIMUM COMPARE AND WRITE LENGTH 0");
	else if (max < 0)
		rc = max;
	else
		rc = probe_commands(dev, scratch_offset, sector_size, why, why_len);
	sm_caw_close(dev);
	return rc;
}

static void trimmed(char *dst, const uint8_t *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = 0;
	for (size_t i = n; i > 0 && (dst[i - 1] == ' ' || dst[i - 1] == 0); i--)
		dst[i - 1] = 0;
}

int sm_caw_target_of(const char *path, unsigned timeout_ms, struct sm_caw_target *out)
{
	memset(out, 0, sizeof(*out));
	struct sm_caw_dev *dev;
	int rc = sm_caw_open(path, timeout_ms, &dev);
	if (rc < 0)
		return rc;
	uint8_t data[36] = {0};
	uint8_t cdb[6] = {OP_INQUIRY, 0, 0, 0, sizeof(data), 0};
	int ua_tries = 0;
	struct sm_scsi_answer a;
	do {
		sm_scsi_command(dev->fd, cdb, sizeof(cdb), SG_DXFER_FROM_DEV, data, sizeof(data), dev->timeout_ms, &a);
		rc = map_answer(dev, "INQUIRY", &a, &ua_tries);
	} while (rc == CAW_AGAIN);
	if (rc == 0) {
		trimmed(out->vendor, data + 8, 8);
		trimmed(out->product, data + 16, 16);
		trimmed(out->revision, data + 32, 4);
	}
	sm_caw_close(dev);
	return rc;
}

const char *sm_caw_known_defect(const struct sm_caw_target *t)
{
	if (!strcmp(t->vendor, "LIO-ORG"))
		return "LIO targets (vendor LIO-ORG; seen with Linux 6.1) stop keeping COMPARE AND WRITE atomic once "
		       "they rejected one (a reservation conflict or a unit attention after a target event), so two "
		       "hosts could both win a lease";
	return NULL;
}
