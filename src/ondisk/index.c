#include "index.h"

#include "common/log.h"
#include "common/util.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int sm_resource_name_check(const char *name)
{
	if (!sm_name_valid(name) || strncmp(name, "__", 2) == 0) {
		sm_error("invalid resource name '%s': use 1-63 printable characters without spaces, ':' or '/', "
			 "not starting with '__'",
			 name ? name : "");
		return -SM_EBAD_NAME;
	}
	return 0;
}

void sm_index_free(struct sm_index *idx)
{
	if (!idx)
		return;
	free(idx->entries);
	free(idx->status);
	free(idx);
}

int sm_index_load(struct sm_volume *v, struct sm_index **out)
{
	*out = NULL;
	const struct sm_volume_header *h = &v->hdr;
	size_t len = (size_t)(h->areas_offset - h->index_offset);
	struct sm_index *idx = calloc(1, sizeof(*idx));
	uint8_t *buf = malloc(len);
	int rc = -ENOMEM;
	if (!idx || !buf)
		goto fail;
	idx->count = h->resource_count;
	idx->entries = calloc(idx->count, sizeof(*idx->entries));
	idx->status = calloc(idx->count, sizeof(int));
	if (!idx->entries || !idx->status)
		goto fail;
	for (size_t done = 0; done < len;) {
		size_t n = SM_MIN(len - done, (size_t)SM_DISK_MAX_IO);
		rc = sm_disk_read(v->disk, h->index_offset + done, buf + done, n, sm_volume_io_timeout(v));
		if (rc < 0)
			goto fail;
		done += n;
	}
	for (uint32_t i = 0; i < idx->count; i++) {
		int drc = sm_index_decode(buf + (size_t)i * SM_INDEX_ENTRY_SIZE, &idx->entries[i]);
		if (drc == 0 && idx->entries[i].area != i)
			drc = -SM_EBAD_GEOMETRY;
		idx->status[i] = drc;
	}
	free(buf);
	*out = idx;
	return 0;
fail:
	free(buf);
	sm_index_free(idx);
	return rc;
}

int sm_index_find(const struct sm_index *idx, const char *name)
{
	for (uint32_t i = 0; i < idx->count; i++)
		if (idx->status[i] == 0 && idx->entries[i].flags == SM_INDEX_USED &&
		    strncmp(idx->entries[i].name, name, SM_NAME_FIELD) == 0)
			return (int)i;
	return -SM_ENO_RESOURCE;
}

int sm_index_first_free(const struct sm_index *idx)
{
	for (uint32_t i = 0; i < idx->count; i++)
		if (idx->status[i] == 0 && idx->entries[i].flags == SM_INDEX_FREE)
			return (int)i;
	return -SM_EINDEX_FULL;
}

int sm_index_write_entry(struct sm_volume *v, const struct sm_index_entry *e)
{
	const struct sm_volume_header *h = &v->hdr;
	if (e->area >= h->resource_count)
		return -SM_EBAD_ARGUMENT;
	uint64_t byte = h->index_offset + (uint64_t)e->area * SM_INDEX_ENTRY_SIZE;
	uint64_t sector_off = byte / h->sector_size * h->sector_size;
	uint8_t *sec = malloc(h->sector_size);
	if (!sec)
		return -ENOMEM;
	int rc = sm_disk_read(v->disk, sector_off, sec, h->sector_size, sm_volume_io_timeout(v));
	if (rc == 0) {
		sm_index_encode(e, sec + (byte - sector_off));
		rc = sm_disk_write(v->disk, sector_off, sec, h->sector_size, sm_volume_io_timeout(v));
	}
	free(sec);
	return rc;
}
