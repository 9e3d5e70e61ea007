/* Lease volumes: layout, formatting, opening (DESIGN §3, docs/ondisk.md).
 *
 * Layout from the volume start (S = sector size, N = max_hosts, A = 2 + N):
 *   sector 0                header
 *   sectors 1 .. N          host records (delta leases), host_id i at sector i
 *   next A sectors          index lease area (protects index updates)
 *   next ceil(R*128/S)      resource index, entry i describes area i
 *   then R areas of A sectors each: leader, request, dblock of host 1..N
 *   then (fenced by reservation only) the fence table, 4096 bytes
 *
 * Formatting writes everything but the header, flushes, then writes the
 * header last: an interrupted format reads as "not formatted". */
#ifndef SM_ONDISK_VOLUME_H
#define SM_ONDISK_VOLUME_H

#include "disk/disk.h"
#include "records.h"

#include <stdbool.h>
#include <stdint.h>

#define SM_DEFAULT_MAX_HOSTS 128
#define SM_MAX_MAX_HOSTS 2000
#define SM_DEFAULT_RESOURCES 1024
#define SM_MAX_RESOURCES 65536
#define SM_DEFAULT_IO_TIMEOUT_MS 10000
#define SM_DEFAULT_WATCHDOG_MS 60000
/* Name of the lease that serializes index updates. */
#define SM_INDEX_LEASE_NAME "__index__"
/* Area number used for the index lease in leader records. */
#define SM_INDEX_LEASE_AREA 0xFFFFFFFFu

struct sm_format_params {
	const char *lockspace;
	uint32_t max_hosts;           /* 0 = default */
	uint32_t sector_size;         /* 0 = detect */
	uint32_t io_timeout_ms;       /* 0 = default */
	uint32_t watchdog_timeout_ms; /* 0 = default */
	uint32_t resources;           /* 0 = default */
	bool force;
	/* Resources to create at format time (no lease needed: the volume is not
	 * valid until the header is written). */
	const char *const *resource_names;
	size_t resource_name_count;
	/* Optional: called after each write with bytes done of the total, and a
	 * flag that interrupts the format (the volume then reads as not
	 * formatted: the header is written last). */
	void (*progress)(void *arg, uint64_t done, uint64_t total);
	void *progress_arg;
	volatile int *cancel;
	/* Optional, with force: called when the location holds a volume already
	 * (old = its header; NULL when the header is damaged), before anything is
	 * written.  A negative return stops the format with that error, which
	 * the hook has reported (not logged again). */
	int (*before_overwrite)(void *arg, const struct sm_volume_header *old);
	void *before_overwrite_arg;
	/* Member set_index of a volume set (set_size SM_SET_SIZE, set_uuid
	 * shared by the members); set_size 0 formats a lone volume. */
	uint32_t set_size, set_index;
	uint8_t set_uuid[16];
	/* Fencing by persistent reservation: the fence devices' identities
	 * (entry 0 the lease LUN); NULL formats a volume fenced by timing. */
	const struct sm_fence_table *fence;
	/* SM_LEASE_IO_PAXOS or SM_LEASE_IO_CAW (the device must do COMPARE AND
	 * WRITE: the caller probes it, see sm_caw_supported). */
	uint32_t lease_io;
};

struct sm_caw_dev;
struct sm_volume {
	struct sm_disk *disk;
	struct sm_volume_header hdr;
	char *path;
	uint64_t offset;
	unsigned open_flags; /* as given to sm_volume_open() */
	/* COMPARE AND WRITE volumes: the device's SG_IO handle, opened on first
	 * use by sm_volume_caw() (same thread rules as disk). */
	struct sm_caw_dev *caw;
	/* The lease engine's memory of leader images for handles opened with
	 * SM_DISK_SEPARATE_HOST (owned by src/lease/atomic.c; freed by
	 * sm_volume_close through the hook); other handles share the process's. */
	void *lease_cache;
	void (*lease_cache_free)(void *);
};

/* Geometry for given parameters; fills the layout fields of hdr.  Returns
 * -SM_EBAD_ARGUMENT (with a logged reason) for out-of-range parameters. */
int sm_volume_geometry(struct sm_volume_header *hdr);

int sm_volume_format(const char *path, uint64_t offset, const struct sm_format_params *p,
		     struct sm_volume_header *out);

/* Open and validate the header.  flags: SM_DISK_READONLY. */
int sm_volume_open(const char *path, uint64_t offset, unsigned flags, struct sm_volume **out);
/* "PATH[:OFFSET]" form. */
int sm_volume_open_spec(const char *spec, unsigned flags, struct sm_volume **out);
void sm_volume_close(struct sm_volume *v);

/* I/O timeout for this volume's operations (the header's d). */
static inline unsigned sm_volume_io_timeout(const struct sm_volume *v)
{
	return v->hdr.io_timeout_ms;
}

static inline uint64_t sm_volume_host_offset(const struct sm_volume_header *h, uint32_t host_id)
{
	return h->host_area_offset + (uint64_t)(host_id - 1) * h->sector_size;
}

static inline size_t sm_volume_area_bytes(const struct sm_volume_header *h)
{
	return (size_t)h->area_sectors * h->sector_size;
}

static inline uint64_t sm_volume_area_offset(const struct sm_volume_header *h, uint32_t area)
{
	if (area == SM_INDEX_LEASE_AREA)
		return h->index_lease_offset;
	return h->areas_offset + (uint64_t)area * sm_volume_area_bytes(h);
}

/* The COMPARE AND WRITE handle of a volume with lease_io SM_LEASE_IO_CAW,
 * opened on first use.  -SM_ECAW_UNSUPPORTED (logged, naming the device and
 * the reason) when the device cannot do it: a regular file, no SG_IO, or a
 * Block Limits page that allows no COMPARE AND WRITE. */
int sm_volume_caw(struct sm_volume *v, struct sm_caw_dev **out);
static inline bool sm_volume_is_caw(const struct sm_volume *v)
{
	return v->hdr.lease_io == SM_LEASE_IO_CAW;
}

/* Read the fence table of a volume fenced by reservation (-SM_EBAD_ARGUMENT
 * for a volume fenced by timing); a table that disagrees with the header's
 * fence_count is corrupt (-SM_EBAD_GEOMETRY). */
int sm_volume_read_fence_table(struct sm_volume *v, struct sm_fence_table *out);

/* Initialize a resource area: free leader (lver 0), empty request, and a
 * zero-ballot dblock + clear mode block for every host. */
int sm_area_init(struct sm_volume *v, uint32_t area, const char *resource);

/* Encode an area image into buf (area_bytes long) — shared by format and add. */
void sm_area_encode_fresh(const struct sm_volume_header *h, uint32_t area, const char *resource, uint8_t *buf);

#endif
