/* sync_manager volume API: format a lease volume and read everything in it,
 * directly on the storage (no daemon; what `sync_manager init` and `dump`
 * do).  Needs read (dump) or write (init) access to the file or device.
 *
 *   const char *names[] = {"vm-1", "vm-2"};
 *   struct sm_volume_init_params p = {0};                // zero, then set what you need
 *   p.lockspace = "vmstore";
 *   p.resource_names = names;
 *   p.resource_name_count = 2;
 *   int rc = sm_volume_init("/dev/vg_shared/leases", &p);
 *   if (rc < 0)
 *           fprintf(stderr, "%s\n", sm_volume_message());  // why, naming what was wrong
 *   struct sm_report *r;
 *   if (sm_volume_dump("/dev/vg_shared/leases", &r) == 0) {
 *           const struct sm_section *h = sm_report_section(r, "header");
 *           ...                                         // h->records[0]: "lockspace", "max_hosts"...
 *           sm_report_free(r);
 *   }
 *
 * Locations are "PATH[:OFFSET]" (a file, which init creates or grows, or a
 * block device).  These calls never print: a failure returns a negative
 * error of errors.h, and sm_volume_message() explains it.  The ABI rules of
 * client.h hold: unknown flag bits and non-zero reserved fields are refused
 * with -SM_EBAD_ARGUMENT.  Volume sets and fencing by persistent reservation
 * are formatted with `sync_manager init` only. */
#ifndef SYNC_MANAGER_VOLUME_H
#define SYNC_MANAGER_VOLUME_H

#include "admin.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How the volume's leases are written (the header's lease_io). */
enum sm_volume_lease_io {
	SM_VOLUME_LEASE_IO_PAXOS = 0, /* Disk Paxos: plain reads and writes, any storage (default) */
	SM_VOLUME_LEASE_IO_CAW = 1,   /* SCSI COMPARE AND WRITE: refused unless the device does it */
	SM_VOLUME_LEASE_IO_AUTO = 2,  /* caw when the device does it (probed), else paxos */
};

enum sm_volume_init_flags {
	/* Overwrite a volume already there; refused (-SM_EBUSY) unless every host
	 * record of its lockspace is free and stays free while watched for
	 * J = 2 io_timeout + 0.1 s.  A lockspace with held records (live or
	 * crashed hosts) is reformatted with `sync_manager init --force`, which
	 * watches them for H. */
	SM_VOLUME_INIT_FORCE = 1 << 0,
	/* lease_io caw on a target known to lose COMPARE AND WRITE atomicity
	 * after a rejected command: format it anyway. */
	SM_VOLUME_INIT_CAW_TRUST_TARGET = 1 << 1,
};

struct sm_volume_init_params {
	const char *lockspace;        /* required: the name hosts join by */
	uint32_t max_hosts;           /* 0 = 128; at most 2000 (1920 with caw) */
	uint32_t sector_size;         /* 0 = the device's; else 512 or 4096 */
	uint32_t io_timeout_ms;       /* 0 = 10 s; 100 ms .. 600 s */
	uint32_t watchdog_timeout_ms; /* 0 = 60 s; 1 s .. 600 s */
	uint32_t resources;           /* resource areas: 0 = 1024; at most 65536 */
	uint32_t lease_io;            /* enum sm_volume_lease_io */
	unsigned flags;               /* enum sm_volume_init_flags */
	const char *const *resource_names; /* created at format time, in areas 0, 1, ... */
	uint32_t resource_name_count;
	uint64_t reserved[6];         /* zero: room to grow (refused non-zero) */
};

/* Format the volume at location.  Without SM_VOLUME_INIT_FORCE, a volume
 * already there is refused (-SM_EALREADY_FORMATTED). */
int sm_volume_init(const char *location, const struct sm_volume_init_params *p);

/* Everything in the volume at location, read once (*out: sm_report_free).
 * Sections, with the field names of `sync_manager dump --json`:
 *   "header"         one record: volume, lockspace, uuid, format_version,
 *                    sector_size, max_hosts, resource_areas, area_bytes,
 *                    volume_bytes, io_timeout_ms, watchdog_timeout_ms,
 *                    created, fencing, lease_io (and, when an area cannot be
 *                    read, host_area_error / index_error / fence_table_error)
 *   "hosts"          each host slot ever joined: host_id, name, machine_id,
 *                    generation, timestamp, io_timeout_ms, state ("held",
 *                    "free")
 *   "resources"      each resource: area, offset, name, owner_host_id,
 *                    owner_generation, lver, mode, corrupt_dblocks, state
 *   "shared_holders" each shared holder: name, area, host_id, generation
 *   "fence_devices"  fenced by reservation: device (identity; the lease LUN first)
 * A record that cannot be decoded carries error (e.g. "SM_EBAD_CHECKSUM")
 * and error_message instead of the fields it lacks. */
int sm_volume_dump(const char *location, struct sm_report **out);

/* Explanation of the last failed sm_volume_* call of the calling thread
 * ("" after a success). */
const char *sm_volume_message(void);

#ifdef __cplusplus
}
#endif
#endif
