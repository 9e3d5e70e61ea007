/* Choosing a new volume's lease I/O method: see lease_io.h. */
#include "lease_io.h"

#include "common/util.h"
#include "disk/caw.h"
#include "disk/cawfile.h"
#include "disk/disk.h"
#include "ondisk/records.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Can the device do COMPARE AND WRITE of one volume sector?  0, or
 * -SM_ECAW_UNSUPPORTED / the probe's error with why filled; -ENOENT for a
 * file that does not exist yet. */
static int probe_device(const char *path, uint64_t offset, uint32_t sector_size, unsigned timeout_ms, char *why,
			size_t len)
{
	struct sm_disk *disk = NULL;
	int err = sm_disk_open(path, offset, 0, SM_DISK_READONLY, &disk);
	if (err < 0)
		return err;
	unsigned lbs = sm_disk_device_sector_size(disk);
	bool blockdev = sm_disk_is_blockdev(disk);
	sm_disk_close(disk);
	if (!blockdev && !sm_cawfile_active()) {
		snprintf(why, len, "a regular file: COMPARE AND WRITE needs a SCSI block device");
		return -SM_ECAW_UNSUPPORTED;
	}
	if (sector_size && sector_size != lbs) {
		snprintf(why, len, "its logical block is %u bytes; sector size %u would need a multi-block COMPARE AND "
			 "WRITE", lbs, sector_size);
		return -SM_ECAW_UNSUPPORTED;
	}
	return sm_caw_supported(path, offset, lbs, timeout_ms, why, len);
}

int sm_lease_io_choose(const char *path, uint64_t offset, enum sm_lease_io_want want, bool trust_target,
		       uint32_t max_hosts, uint32_t sector_size, uint32_t io_timeout_ms, struct sm_lease_io_choice *out)
{
	memset(out, 0, sizeof(*out));
	out->lease_io = SM_LEASE_IO_PAXOS;
	bool must = want == SM_WANT_CAW;
	if (want == SM_WANT_PAXOS || (!must && max_hosts > SM_CAW_MAX_HOSTS))
		return 0;
	if (must && max_hosts > SM_CAW_MAX_HOSTS) {
		snprintf(out->text, sizeof(out->text), "leases by COMPARE AND WRITE allow at most %u hosts (the shared "
			 "holders' bitmap), not %u", SM_CAW_MAX_HOSTS, max_hosts);
		out->usage = true;
		return -SM_EBAD_ARGUMENT;
	}
	unsigned timeout = SM_MAX(io_timeout_ms, 10000u);
	char why[200] = "";
	int err = probe_device(path, offset, sector_size, timeout, why, sizeof(why));
	if (err == -ENOENT && !must) /* a file init will create: no COMPARE AND WRITE */
		return 0;
	if (err == -ENOENT) { /* init would create a regular file there */
		snprintf(why, sizeof(why), "it does not exist: formatting would create a regular file, and COMPARE AND "
			 "WRITE needs a SCSI block device");
		err = -SM_ECAW_UNSUPPORTED;
	}
	struct sm_caw_target tgt;
	const char *defect = NULL;
	if (err == 0 && sm_caw_target_of(path, timeout, &tgt) == 0)
		defect = sm_caw_known_defect(&tgt);
	if (err == 0 && defect) {
		snprintf(out->text, sizeof(out->text), "%s (%s %s %s) does COMPARE AND WRITE, but %s", path, tgt.vendor,
			 tgt.product, tgt.revision, defect);
		if (!must) {
			strncat(out->text, ": leases use Disk Paxos", sizeof(out->text) - strlen(out->text) - 1);
			return 0;
		}
		if (!trust_target) {
			out->defect = true;
			return -SM_ECAW_UNSUPPORTED;
		}
		snprintf(out->text, sizeof(out->text), "%s: COMPARE AND WRITE trusted although %s", path, defect);
		out->warning = true;
	}
	if (err == 0) {
		out->lease_io = SM_LEASE_IO_CAW;
		return 0;
	}
	if (err == -SM_ECAW_UNSUPPORTED) {
		snprintf(out->text, sizeof(out->text), "%s cannot do COMPARE AND WRITE (%s)%s", path, why,
			 must ? "" : ": leases use Disk Paxos");
		return must ? err : 0;
	}
	snprintf(out->text, sizeof(out->text), "cannot probe %s for COMPARE AND WRITE%s%s", path, why[0] ? ": " : "",
		 why);
	return err;
}
