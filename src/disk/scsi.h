/* One SCSI command through SG_IO, and what the device answered: shared by the
 * persistent-reservation layer (pr.c) and COMPARE AND WRITE (caw.c).  The
 * call goes through the syscall table (syscalls.h), so tests and the fault
 * layer see it. */
#ifndef SM_DISK_SCSI_H
#define SM_DISK_SCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sm_scsi_answer {
	int rc; /* the SG_IO syscall: 0 or -errno; the fields below only when 0 */
	uint8_t status;
	uint16_t host_status, driver_status;
	bool sense; /* fixed or descriptor sense data came back */
	uint8_t key, asc, ascq;
	int resid;
};

/* Send cdb (direction: SG_DXFER_*), bounded by timeout_ms. */
void sm_scsi_command(int fd, const uint8_t *cdb, unsigned cdb_len, int direction, void *buf, unsigned len,
		     unsigned timeout_ms, struct sm_scsi_answer *a);
/* "status 0x02, sense key 0x6 ASC/ASCQ 29/00 (host 0x0 driver 0x8)", or the errno. */
void sm_scsi_describe(const struct sm_scsi_answer *a, char *buf, size_t len);

static inline void sm_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

#endif
