/* Choosing how a new volume's leases are written (paxos, or caw = SCSI
 * COMPARE AND WRITE), shared by `sync_manager init --lease-io` and the
 * library's sm_volume_init() (include/sync_manager/volume.h).
 *
 * Contract: the device is probed (sm_caw_supported) on the volume's own
 * first sector, which formatting writes last (read and written back
 * unchanged); a target known to lose the atomicity after a rejected command
 * (tests/model/README.md, finding CAW1) is refused for caw unless trusted,
 * and auto picks paxos there.  Nothing is printed: the outcome comes back
 * as a sentence fragment each caller words into its own message (the CLI
 * with its option names, the library as its message). */
#ifndef SM_ONDISK_LEASE_IO_H
#define SM_ONDISK_LEASE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sm_lease_io_want { SM_WANT_PAXOS, SM_WANT_CAW, SM_WANT_AUTO };

struct sm_lease_io_choice {
	uint32_t lease_io; /* SM_LEASE_IO_PAXOS or SM_LEASE_IO_CAW: what to format with */
	/* On success: "" or a note, e.g. why auto fell back to paxos ("PATH cannot
	 * do COMPARE AND WRITE (a regular file...): leases use Disk Paxos");
	 * warning is set when the note is a warning (caw on a trusted target with
	 * a known defect).  On failure: what is wrong, e.g. "PATH cannot do
	 * COMPARE AND WRITE (a regular file: ...)". */
	char text[400];
	bool warning;
	bool defect; /* failure: the target does it but is known to lose its atomicity */
	bool usage;  /* failure: the request itself is impossible (too many hosts for caw) */
};

/* Decide for the volume at path:offset (a file init will create counts as
 * a file).  max_hosts, sector_size (0 = the device's) and io_timeout_ms as
 * they will be formatted (0 = defaults).  0 with out->lease_io set, or
 * -SM_ECAW_UNSUPPORTED (the device cannot, or a known defect untrusted),
 * -SM_EBAD_ARGUMENT (out->usage), or the probe's error; out->text says why. */
int sm_lease_io_choose(const char *path, uint64_t offset, enum sm_lease_io_want want, bool trust_target,
		       uint32_t max_hosts, uint32_t sector_size, uint32_t io_timeout_ms, struct sm_lease_io_choice *out);

#endif
