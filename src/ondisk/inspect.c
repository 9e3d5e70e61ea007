#include "inspect.h"

#include "common/util.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

void sm_area_decode_view(const struct sm_volume_header *h, const uint8_t *buf, const char *resource,
			 struct sm_resource_view *rv)
{
	size_t s = h->sector_size;
	rv->leader_status = sm_leader_decode(buf, &rv->leader, h->lockspace, resource, h->sector_size);
	rv->request_status = sm_request_decode(buf + s, &rv->request, resource, h->sector_size);
	rv->shared_count = 0;
	free(rv->shared);
	rv->shared = NULL;
	/* COMPARE AND WRITE volumes: the holders are the bits in the leader's
	 * sector; a mode block only says which generation set its bit */
	struct sm_shared_set bits = {0};
	bool caw = h->lease_io == SM_LEASE_IO_CAW;
	if (caw && rv->leader_status == 0) {
		rv->leader_status = sm_shared_set_decode(buf + SM_SHARED_OFFSET, &bits);
		if (rv->leader_status == 0 && bits.nbits != h->max_hosts)
			rv->leader_status = -SM_EBAD_GEOMETRY;
	}
	for (uint32_t i = 0; i < h->max_hosts; i++) {
		const uint8_t *sec = buf + (2 + i) * s;
		struct sm_dblock d;
		struct sm_mode_block m;
		int drc = sm_dblock_decode(sec, &d);
		if (drc == 0 && d.host_id != i + 1)
			drc = -SM_EBAD_GEOMETRY;
		int mrc = sm_mode_decode(sec + SM_MODE_OFFSET, &m);
		if (drc < 0 || mrc < 0) {
			if (!rv->corrupt_dblocks++)
				rv->first_dblock_error = drc < 0 ? drc : mrc;
			continue;
		}
		if (caw ? sm_shared_test(&bits, i + 1) : (m.flags & SM_MODEB_SHARED) != 0) {
			struct sm_shared_holder *n = realloc(rv->shared, (rv->shared_count + 1) * sizeof(*n));
			if (!n)
				continue;
			rv->shared = n;
			rv->shared[rv->shared_count++] =
				(struct sm_shared_holder){i + 1, (m.flags & SM_MODEB_SHARED) ? m.generation : 0};
		}
	}
}

static int inspect_hosts(struct sm_volume *v, struct sm_volume_view *view)
{
	const struct sm_volume_header *h = &v->hdr;
	size_t len = (size_t)h->max_hosts * h->sector_size;
	uint8_t *buf = malloc(len);
	view->hosts = calloc(h->max_hosts, sizeof(*view->hosts));
	if (!buf || !view->hosts) {
		free(buf);
		return -ENOMEM;
	}
	view->hosts_status = sm_disk_read(v->disk, h->host_area_offset, buf, len, sm_volume_io_timeout(v));
	for (uint32_t i = 0; i < h->max_hosts && view->hosts_status == 0; i++) {
		struct sm_host_view *hv = &view->hosts[i];
		hv->status = sm_host_decode(buf + (size_t)i * h->sector_size, &hv->rec, h->lockspace, h->sector_size);
		if (hv->status == 0 && hv->rec.host_id != i + 1)
			hv->status = -SM_EBAD_GEOMETRY;
	}
	free(buf);
	return 0;
}

int sm_volume_inspect(struct sm_volume *v, struct sm_volume_view **out)
{
	*out = NULL;
	const struct sm_volume_header *h = &v->hdr;
	struct sm_volume_view *view = calloc(1, sizeof(*view));
	struct sm_index *idx = NULL;
	uint8_t *area = NULL;
	int rc = -ENOMEM;
	if (!view)
		return rc;
	view->hdr = *h;
	view->offset = v->offset;
	if ((rc = inspect_hosts(v, view)) < 0)
		goto fail;
	if (h->fence_mode != SM_FENCE_TIMING)
		view->fence_status = sm_volume_read_fence_table(v, &view->fence);
	view->index_io_status = sm_index_load(v, &idx);
	if (view->index_io_status < 0) {
		*out = view;
		return 0;
	}
	view->resources = calloc(idx->count, sizeof(*view->resources));
	area = malloc(sm_volume_area_bytes(h));
	rc = -ENOMEM;
	if (!view->resources || !area)
		goto fail;
	for (uint32_t i = 0; i < idx->count; i++) {
		bool used = idx->status[i] == 0 && idx->entries[i].flags == SM_INDEX_USED;
		if (idx->status[i] == 0 && !used)
			continue;
		struct sm_resource_view *rv = &view->resources[view->resource_count++];
		rv->area = i;
		rv->index_status = idx->status[i];
		rv->entry = idx->entries[i];
		if (!used)
			continue;
		rv->read_status = sm_disk_read(v->disk, sm_volume_area_offset(h, i), area, sm_volume_area_bytes(h),
					       sm_volume_io_timeout(v));
		if (rv->read_status == 0)
			sm_area_decode_view(h, area, rv->entry.name, rv);
	}
	free(area);
	sm_index_free(idx);
	*out = view;
	return 0;
fail:
	free(area);
	sm_index_free(idx);
	sm_volume_view_free(view);
	return rc;
}

void sm_volume_view_free(struct sm_volume_view *view)
{
	if (!view)
		return;
	for (uint32_t i = 0; i < view->resource_count; i++)
		free(view->resources[i].shared);
	free(view->resources);
	free(view->hosts);
	free(view);
}

const char *sm_resource_view_state(const struct sm_resource_view *rv, char *buf, size_t len)
{
	if (rv->index_status)
		snprintf(buf, len, "corrupt index entry: %s", sm_strerror(rv->index_status));
	else if (rv->read_status)
		snprintf(buf, len, "unreadable: %s", sm_strerror(rv->read_status));
	else if (rv->leader_status)
		snprintf(buf, len, "corrupt leader: %s", sm_strerror(rv->leader_status));
	else if (rv->leader.owner_id && rv->leader.mode == SM_MODE_EX)
		snprintf(buf, len, "held EX");
	else if (rv->shared_count)
		snprintf(buf, len, "held SH");
	else
		snprintf(buf, len, "free");
	if (!rv->index_status && !rv->read_status && rv->corrupt_dblocks) {
		size_t n = strlen(buf);
		snprintf(buf + n, len - n, "; %u corrupt dblock(s): %s", rv->corrupt_dblocks,
			 sm_strerror(rv->first_dblock_error));
	}
	return buf;
}
