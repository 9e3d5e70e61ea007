/* SG_IO commands and their answers.  See scsi.h. */
#include "scsi.h"

#include "syscalls.h"

#include <scsi/sg.h>
#include <stdio.h>
#include <string.h>

static void parse_sense(const uint8_t *s, int len, struct sm_scsi_answer *a)
{
	if (len < 4)
		return;
	uint8_t code = s[0] & 0x7f;
	if (code == 0x72 || code == 0x73) { /* descriptor format */
		a->sense = true;
		a->key = s[1] & 0x0f, a->asc = s[2], a->ascq = s[3];
	} else if ((code == 0x70 || code == 0x71) && len >= 14) { /* fixed format */
		a->sense = true;
		a->key = s[2] & 0x0f, a->asc = s[12], a->ascq = s[13];
	}
}

void sm_scsi_command(int fd, const uint8_t *cdb, unsigned cdb_len, int direction, void *buf, unsigned len,
		     unsigned timeout_ms, struct sm_scsi_answer *a)
{
	uint8_t sense[64] = {0};
	struct sg_io_hdr hdr = {
		.interface_id = 'S',
		.dxfer_direction = direction,
		.cmd_len = (unsigned char)cdb_len,
		.mx_sb_len = sizeof(sense),
		.dxfer_len = len,
		.dxferp = buf,
		.cmdp = (unsigned char *)cdb,
		.sbp = sense,
		.timeout = timeout_ms,
	};
	int rc = sm_disk_sys.sg_io(fd, &hdr);
	*a = (struct sm_scsi_answer){.rc = rc < 0 ? rc : 0};
	if (rc < 0)
		return;
	a->status = hdr.status;
	a->host_status = hdr.host_status;
	a->driver_status = hdr.driver_status;
	a->resid = hdr.resid;
	parse_sense(sense, hdr.sb_len_wr, a);
}

void sm_scsi_describe(const struct sm_scsi_answer *a, char *buf, size_t len)
{
	if (a->rc < 0)
		snprintf(buf, len, "%s", strerror(-a->rc));
	else if (a->sense)
		snprintf(buf, len, "status 0x%02x, sense key 0x%x ASC/ASCQ %02x/%02x (host 0x%x driver 0x%x)",
			 a->status, a->key, a->asc, a->ascq, a->host_status, a->driver_status);
	else
		snprintf(buf, len, "status 0x%02x, no sense data (host 0x%x driver 0x%x)", a->status,
			 a->host_status, a->driver_status);
}
