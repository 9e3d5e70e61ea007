/* Lease volume layout, format and open.  See volume.h for the layout. */
#include "volume.h"

#include "disk/caw.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "index.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Formatting writes in chunks of at most this size. */
#define FORMAT_CHUNK (1u << 20)

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

int sm_volume_geometry(struct sm_volume_header *h)
{
	uint32_t s = h->sector_size;
	if (s != 512 && s != 4096) {
		sm_error("sector size %u is not supported (use 512 or 4096)", s);
		return -SM_EWRONG_SECTOR_SIZE;
	}
	if (h->max_hosts < 1 || h->max_hosts > SM_MAX_MAX_HOSTS) {
		sm_error("max-hosts %u out of range (1..%u)", h->max_hosts, SM_MAX_MAX_HOSTS);
		return -SM_EBAD_ARGUMENT;
	}
	if (h->resource_count < 1 || h->resource_count > SM_MAX_RESOURCES) {
		sm_error("resources %u out of range (1..%u)", h->resource_count, SM_MAX_RESOURCES);
		return -SM_EBAD_ARGUMENT;
	}
	if ((uint64_t)(2 + h->max_hosts) * s > SM_DISK_MAX_IO) {
		sm_error("a resource area of %u hosts x %u bytes exceeds the largest single I/O", h->max_hosts, s);
		return -SM_EBAD_ARGUMENT;
	}
	h->area_sectors = 2 + h->max_hosts;
	h->host_area_offset = s;
	h->index_lease_offset = h->host_area_offset + (uint64_t)h->max_hosts * s;
	h->index_offset = h->index_lease_offset + sm_volume_area_bytes(h);
	h->areas_offset = h->index_offset + round_up((uint64_t)h->resource_count * SM_INDEX_ENTRY_SIZE, s);
	h->volume_size = h->areas_offset + (uint64_t)h->resource_count * sm_volume_area_bytes(h);
	h->fence_table_offset = 0;
	if (h->fence_mode != SM_FENCE_TIMING) {
		h->fence_table_offset = h->volume_size;
		h->volume_size += round_up(SM_FENCE_TABLE_SIZE, s);
	}
	return 0;
}

void sm_area_encode_fresh(const struct sm_volume_header *h, uint32_t area, const char *resource, uint8_t *buf)
{
	size_t s = h->sector_size;
	memset(buf, 0, sm_volume_area_bytes(h));
	struct sm_leader l = {
		.sector_size = h->sector_size,
		.max_hosts = h->max_hosts,
		.area = area,
		.io_timeout_ms = h->io_timeout_ms,
		.timestamp = sm_now_wall_s(),
		.mode = SM_MODE_FREE,
	};
	memcpy(l.lockspace, h->lockspace, SM_NAME_FIELD);
	sm_copy_name(l.resource, sizeof(l.resource), resource);
	sm_leader_encode(&l, buf);

	struct sm_request q = {.sector_size = h->sector_size, .kind = SM_REQ_NONE};
	sm_copy_name(q.resource, sizeof(q.resource), resource);
	sm_request_encode(&q, buf + s);
	if (h->lease_io == SM_LEASE_IO_CAW) {
		struct sm_shared_set none = {.nbits = h->max_hosts};
		sm_shared_set_encode(&none, buf + SM_SHARED_OFFSET);
	}

	for (uint32_t i = 0; i < h->max_hosts; i++) {
		uint8_t *sec = buf + (2 + i) * s;
		struct sm_dblock d = {.host_id = i + 1};
		sm_dblock_encode(&d, sec);
		struct sm_mode_block m = {0};
		sm_mode_encode(&m, sec + SM_MODE_OFFSET);
	}
}

int sm_area_init(struct sm_volume *v, uint32_t area, const char *resource)
{
	size_t len = sm_volume_area_bytes(&v->hdr);
	uint8_t *buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	sm_area_encode_fresh(&v->hdr, area, resource, buf);
	int rc = sm_disk_write(v->disk, sm_volume_area_offset(&v->hdr, area), buf, len, sm_volume_io_timeout(v));
	free(buf);
	return rc;
}

static int write_hosts(struct sm_disk *disk, const struct sm_volume_header *h, unsigned timeout)
{
	size_t s = h->sector_size;
	size_t len = (size_t)h->max_hosts * s;
	uint8_t *buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;
	for (uint32_t i = 0; i < h->max_hosts; i++) {
		struct sm_host_record r = {
			.flags = SM_HOST_FREE,
			.sector_size = h->sector_size,
			.host_id = i + 1,
			.io_timeout_ms = h->io_timeout_ms,
		};
		memcpy(r.lockspace, h->lockspace, SM_NAME_FIELD);
		sm_host_encode(&r, buf + i * s);
	}
	int rc = sm_disk_write(disk, h->host_area_offset, buf, len, timeout);
	free(buf);
	return rc;
}

static int write_index(struct sm_disk *disk, const struct sm_volume_header *h, const struct sm_format_params *p,
		       unsigned timeout)
{
	size_t len = (size_t)(h->areas_offset - h->index_offset);
	uint8_t *buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;
	for (uint32_t i = 0; i < h->resource_count; i++) {
		struct sm_index_entry e = {.flags = SM_INDEX_FREE, .area = i};
		if (i < p->resource_name_count) {
			e.flags = SM_INDEX_USED;
			e.created_wall = h->created_wall;
			sm_copy_name(e.name, sizeof(e.name), p->resource_names[i]);
		}
		sm_index_encode(&e, buf + (size_t)i * SM_INDEX_ENTRY_SIZE);
	}
	int rc = 0;
	for (size_t done = 0; done < len && rc == 0; done += FORMAT_CHUNK) {
		size_t n = SM_MIN((size_t)FORMAT_CHUNK, len - done);
		rc = sm_disk_write(disk, h->index_offset + done, buf + done, n, timeout);
	}
	free(buf);
	return rc;
}

/* Refuses to overwrite a volume without force; with force, asks the
 * caller's before_overwrite hook (*hook_failed set when it refused). */
static int check_existing(struct sm_disk *disk, const struct sm_volume_header *h, const struct sm_format_params *p,
			  unsigned timeout, bool *hook_failed)
{
	uint8_t *sec = NULL;
	if (posix_memalign((void **)&sec, 4096, h->sector_size))
		return -ENOMEM;
	int rc = sm_disk_read(disk, 0, sec, h->sector_size, timeout);
	if (rc == 0) {
		struct sm_volume_header old;
		int drc = sm_header_decode(sec, &old);
		if (drc != -SM_EBAD_MAGIC && p->force && p->before_overwrite) {
			rc = p->before_overwrite(p->before_overwrite_arg, drc == 0 ? &old : NULL);
			*hook_failed = rc < 0;
		} else if (drc != -SM_EBAD_MAGIC && !p->force) {
			if (drc == 0)
				sm_error("%s holds lockspace '%s' already; add --force to destroy it and format anew",
					 sm_disk_path(disk), old.lockspace);
			else
				sm_error("%s holds a damaged sync_manager header (%s); add --force to format anew",
					 sm_disk_path(disk), sm_strerror(drc));
			rc = -SM_EALREADY_FORMATTED;
		}
	}
	/* A short read is an I/O error here, not an empty file: the caller has
	 * grown the file to the volume size already. */
	free(sec);
	return rc;
}

static int cmp_name_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Names given to format must differ: sorted copies, O(n log n), so tens of
 * thousands of names cost no noticeable time. */
static int check_unique_names(const char *const *names, size_t n)
{
	if (n < 2)
		return 0;
	const char **sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	memcpy(sorted, names, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_name_ptr);
	int rc = 0;
	for (size_t i = 1; i < n && rc == 0; i++)
		if (strcmp(sorted[i - 1], sorted[i]) == 0) {
			sm_error("resource '%s' named twice", sorted[i]);
			rc = -SM_ERESOURCE_EXISTS;
		}
	free(sorted);
	return rc;
}

static int validate_params(const struct sm_format_params *p, struct sm_volume_header *h)
{
	if (!sm_name_valid(p->lockspace)) {
		sm_error("invalid lockspace name '%s': %s", p->lockspace ? p->lockspace : "",
			 sm_strerror(-SM_EBAD_NAME));
		return -SM_EBAD_NAME;
	}
	sm_copy_name(h->lockspace, sizeof(h->lockspace), p->lockspace);
	h->max_hosts = p->max_hosts ? p->max_hosts : SM_DEFAULT_MAX_HOSTS;
	h->resource_count = p->resources ? p->resources : SM_DEFAULT_RESOURCES;
	h->io_timeout_ms = p->io_timeout_ms ? p->io_timeout_ms : SM_DEFAULT_IO_TIMEOUT_MS;
	h->watchdog_timeout_ms = p->watchdog_timeout_ms ? p->watchdog_timeout_ms : SM_DEFAULT_WATCHDOG_MS;
	if (h->io_timeout_ms < 100 || h->io_timeout_ms > 600000) {
		sm_error("io timeout %u ms out of range (100 ms .. 600 s)", h->io_timeout_ms);
		return -SM_EBAD_ARGUMENT;
	}
	if (h->watchdog_timeout_ms < 1000 || h->watchdog_timeout_ms > 600000) {
		sm_error("watchdog timeout %u ms out of range (1 s .. 600 s)", h->watchdog_timeout_ms);
		return -SM_EBAD_ARGUMENT;
	}
	if (p->resource_name_count > h->resource_count) {
		sm_error("%zu resource names given but the volume has only %u areas", p->resource_name_count,
			 h->resource_count);
		return -SM_EINDEX_FULL;
	}
	for (size_t i = 0; i < p->resource_name_count; i++) {
		int rc = sm_resource_name_check(p->resource_names[i]);
		if (rc < 0)
			return rc;
	}
	return check_unique_names(p->resource_names, p->resource_name_count);
}

int sm_volume_format(const char *path, uint64_t offset, const struct sm_format_params *p,
		     struct sm_volume_header *out)
{
	struct sm_volume_header h = {0};
	struct sm_disk *disk = NULL;
	uint8_t *sec = NULL;
	bool hook_failed = false;
	int rc = validate_params(p, &h);
	if (rc < 0)
		return rc;
	rc = sm_disk_open(path, offset, p->sector_size, SM_DISK_CREATE, &disk);
	if (rc < 0)
		return rc;
	h.sector_size = sm_disk_sector_size(disk);
	h.created_wall = sm_now_wall_s();
	if ((rc = sm_uuid_generate(h.uuid)) < 0)
		goto out;
	if (p->set_size) {
		memcpy(h.set_uuid, p->set_uuid, 16);
		h.set_size = p->set_size;
		h.set_index = p->set_index;
	}
	if (p->fence) {
		if (p->set_size || p->fence->count < 1 || p->fence->count > SM_FENCE_MAX_DEVICES) {
			sm_error("%s: fencing by reservation needs 1 to %u fence devices and a lone volume", path,
				 SM_FENCE_MAX_DEVICES);
			rc = -SM_EBAD_ARGUMENT;
			goto out;
		}
		h.fence_mode = SM_FENCE_PR;
		h.fence_count = p->fence->count;
	}
	if (p->lease_io == SM_LEASE_IO_CAW) {
		if (p->set_size || h.max_hosts > SM_CAW_MAX_HOSTS) {
			sm_error("%s: leases by COMPARE AND WRITE need a lone volume of at most %u hosts", path,
				 SM_CAW_MAX_HOSTS);
			rc = -SM_EBAD_ARGUMENT;
			goto out;
		}
		h.lease_io = SM_LEASE_IO_CAW;
	} else if (p->lease_io != SM_LEASE_IO_PAXOS) {
		sm_error("%s: unknown lease I/O method %u", path, p->lease_io);
		rc = -SM_EBAD_ARGUMENT;
		goto out;
	}
	if ((rc = sm_volume_geometry(&h)) < 0)
		goto out;

	unsigned timeout = SM_MAX(h.io_timeout_ms, 10000u);
	rc = sm_disk_ensure_size(disk, h.volume_size);
	if (rc < 0) {
		uint64_t have = 0;
		sm_disk_capacity(disk, &have);
		char need_s[32], have_s[32];
		sm_error("%s: the volume needs %s from offset %llu but only %s are available (lower --resources or "
			 "--max-hosts)",
			 path, sm_format_bytes(h.volume_size, need_s, sizeof(need_s)), (unsigned long long)offset,
			 sm_format_bytes(have, have_s, sizeof(have_s)));
		rc = -SM_ETOO_SMALL;
		goto out;
	}
	if ((rc = check_existing(disk, &h, p, timeout, &hook_failed)) < 0)
		goto out;

	uint64_t total = (uint64_t)h.max_hosts * h.sector_size + sm_volume_area_bytes(&h) +
			 (h.areas_offset - h.index_offset) + p->resource_name_count * sm_volume_area_bytes(&h);
	uint64_t done = 0;
#define STEP(bytes)                                                                  \
	do {                                                                          \
		done += (bytes);                                                      \
		if (p->progress)                                                      \
			p->progress(p->progress_arg, done, total);                    \
		if (p->cancel && *p->cancel) {                                        \
			rc = -SM_EINTERRUPTED;                                        \
			goto out;                                                     \
		}                                                                     \
	} while (0)
	/* Invalidate any old header first, so a crash from here on leaves "not formatted". */
	if (posix_memalign((void **)&sec, 4096, h.sector_size)) {
		rc = -ENOMEM;
		goto out;
	}
	memset(sec, 0, h.sector_size);
	if ((rc = sm_disk_write(disk, 0, sec, h.sector_size, timeout)) < 0)
		goto out;
	if ((rc = sm_disk_sync(disk)) < 0)
		goto out;

	if ((rc = write_hosts(disk, &h, timeout)) < 0)
		goto out;
	STEP((uint64_t)h.max_hosts * h.sector_size);
	{
		struct sm_volume v = {.disk = disk, .hdr = h};
		v.hdr.io_timeout_ms = timeout;
		if ((rc = sm_area_init(&v, SM_INDEX_LEASE_AREA, SM_INDEX_LEASE_NAME)) < 0)
			goto out;
		STEP(sm_volume_area_bytes(&h));
		if ((rc = write_index(disk, &h, p, timeout)) < 0)
			goto out;
		STEP(h.areas_offset - h.index_offset);
		for (size_t i = 0; i < p->resource_name_count; i++) {
			if ((rc = sm_area_init(&v, (uint32_t)i, p->resource_names[i])) < 0)
				goto out;
			STEP(sm_volume_area_bytes(&h));
		}
	}
#undef STEP
	if (p->fence) {
		uint8_t *ft = NULL;
		size_t len = (size_t)(h.volume_size - h.fence_table_offset);
		if (posix_memalign((void **)&ft, 4096, len)) {
			rc = -ENOMEM;
			goto out;
		}
		memset(ft, 0, len);
		sm_fence_table_encode(p->fence, ft);
		rc = sm_disk_write(disk, h.fence_table_offset, ft, len, timeout);
		free(ft);
		if (rc < 0)
			goto out;
	}
	/* Areas never added are not initialized: nothing reads an area until the
	 * index points at it, and `resource add` initializes it then. */
	if ((rc = sm_disk_sync(disk)) < 0)
		goto out;

	memset(sec, 0, h.sector_size);
	sm_header_encode(&h, sec);
	if ((rc = sm_disk_write(disk, 0, sec, h.sector_size, timeout)) < 0)
		goto out;
	rc = sm_disk_sync(disk);
	if (rc == 0 && out)
		*out = h;
out:
	if (rc < 0 && !hook_failed && rc != -SM_EALREADY_FORMATTED && rc != -SM_ETOO_SMALL && rc != -SM_EINTERRUPTED)
		sm_error("formatting %s failed: %s", path, sm_strerror(rc));
	free(sec);
	sm_disk_close(disk);
	return rc;
}

int sm_volume_open(const char *path, uint64_t offset, unsigned flags, struct sm_volume **out)
{
	*out = NULL;
	struct sm_volume *v = calloc(1, sizeof(*v));
	uint8_t *sec = NULL;
	if (!v)
		return -ENOMEM;
	v->offset = offset;
	v->open_flags = flags;
	v->path = strdup(path);
	int rc = v->path ? 0 : -ENOMEM;
	if (rc < 0)
		goto fail;
	/* Open with the device's own sector size first; the header says which
	 * size the volume uses, and we reopen if it differs. */
	rc = sm_disk_open(path, offset, 0, flags & (SM_DISK_READONLY | SM_DISK_SEPARATE_HOST), &v->disk);
	if (rc < 0)
		goto fail;
	if (posix_memalign((void **)&sec, 4096, 4096)) {
		rc = -ENOMEM;
		goto fail;
	}
	unsigned ss = sm_disk_sector_size(v->disk);
	rc = sm_disk_read(v->disk, 0, sec, ss, SM_DEFAULT_IO_TIMEOUT_MS);
	if (rc == -SM_ESHORT_IO)
		rc = -SM_ENOT_FORMATTED;
	if (rc < 0)
		goto fail;
	rc = sm_header_decode(sec, &v->hdr);
	if (rc == -SM_EBAD_MAGIC) {
		rc = -SM_ENOT_FORMATTED;
		goto fail;
	}
	if (rc < 0) {
		sm_error("%s: volume header is unreadable: %s", path, sm_strerror(rc));
		goto fail;
	}
	struct sm_volume_header expect = v->hdr;
	if (sm_volume_geometry(&expect) < 0 || memcmp(&expect, &v->hdr, sizeof(expect)) != 0) {
		sm_error("%s: volume header describes an inconsistent layout", path);
		rc = -SM_EBAD_GEOMETRY;
		goto fail;
	}
	if (v->hdr.sector_size != ss) {
		sm_disk_close(v->disk);
		v->disk = NULL;
		rc = sm_disk_open(path, offset, v->hdr.sector_size, flags & (SM_DISK_READONLY | SM_DISK_SEPARATE_HOST), &v->disk);
		if (rc < 0)
			goto fail;
	}
	uint64_t cap = 0;
	if ((rc = sm_disk_capacity(v->disk, &cap)) < 0)
		goto fail;
	if (cap < v->hdr.volume_size) {
		sm_error("%s: device holds %llu bytes from the offset but the volume needs %llu (truncated?)", path,
			 (unsigned long long)cap, (unsigned long long)v->hdr.volume_size);
		rc = -SM_EBAD_GEOMETRY;
		goto fail;
	}
	free(sec);
	*out = v;
	return 0;
fail:
	free(sec);
	sm_volume_close(v);
	return rc;
}

int sm_volume_read_fence_table(struct sm_volume *v, struct sm_fence_table *out)
{
	const struct sm_volume_header *h = &v->hdr;
	if (h->fence_mode == SM_FENCE_TIMING)
		return -SM_EBAD_ARGUMENT;
	size_t len = (size_t)(h->volume_size - h->fence_table_offset);
	uint8_t *buf = NULL;
	if (posix_memalign((void **)&buf, 4096, len))
		return -ENOMEM;
	int rc = sm_disk_read(v->disk, h->fence_table_offset, buf, len, h->io_timeout_ms);
	if (rc == 0)
		rc = sm_fence_table_decode(buf, out);
	if (rc == 0 && out->count != h->fence_count)
		rc = -SM_EBAD_GEOMETRY;
	if (rc < 0)
		sm_error("%s: the fence table is unreadable: %s", v->path, sm_strerror(rc));
	free(buf);
	return rc;
}

int sm_volume_open_spec(const char *spec, unsigned flags, struct sm_volume **out)
{
	char *path = NULL;
	uint64_t off = 0;
	int rc = sm_disk_parse_location(spec, &path, &off);
	if (rc < 0)
		return rc;
	rc = sm_volume_open(path, off, flags, out);
	free(path);
	return rc;
}

int sm_volume_caw(struct sm_volume *v, struct sm_caw_dev **out)
{
	*out = NULL;
	if (!sm_volume_is_caw(v))
		return -SM_EBAD_ARGUMENT;
	if (!v->caw) {
		int rc = sm_caw_open(v->path, v->hdr.io_timeout_ms, &v->caw);
		/* one logical block per COMPARE AND WRITE: the volume's sector */
		if (rc == 0 && sm_disk_device_sector_size(v->disk) != v->hdr.sector_size) {
			sm_error("%s: the device's logical block is %u bytes, the volume's sector %u", v->path,
				 sm_disk_device_sector_size(v->disk), v->hdr.sector_size);
			rc = -SM_ECAW_UNSUPPORTED;
		}
		if (rc == 0 && (rc = sm_caw_max_blocks(v->caw)) == 0) {
			sm_error("%s: the Block Limits VPD page allows no COMPARE AND WRITE", v->path);
			rc = -SM_ECAW_UNSUPPORTED;
		}
		if (rc > 0)
			rc = 0;
		if (rc < 0) {
			sm_error("%s: this volume's leases use COMPARE AND WRITE (init --lease-io caw), which the device "
				 "cannot do: %s", v->path, sm_strerror(rc));
			sm_caw_close(v->caw);
			v->caw = NULL;
			return rc;
		}
	}
	*out = v->caw;
	return 0;
}

void sm_volume_close(struct sm_volume *v)
{
	if (!v)
		return;
	if (v->lease_cache_free)
		v->lease_cache_free(v->lease_cache);
	sm_caw_close(v->caw);
	sm_disk_close(v->disk);
	free(v->path);
	free(v);
}
