/* A read-only snapshot of everything in a volume, for `dump` and status
 * displays.  Corrupt records are reported with their decode error, never
 * skipped or shown as free. */
#ifndef SM_ONDISK_INSPECT_H
#define SM_ONDISK_INSPECT_H

#include "index.h"
#include "volume.h"

struct sm_host_view {
	int status; /* 0 or the decode error of the record */
	struct sm_host_record rec;
};

struct sm_shared_holder {
	uint32_t host_id;
	uint64_t generation;
};

struct sm_resource_view {
	uint32_t area;
	int index_status;  /* decode error of the index entry */
	struct sm_index_entry entry;
	int read_status;   /* I/O error reading the area */
	int leader_status; /* decode error of the leader */
	struct sm_leader leader;
	int request_status;
	struct sm_request request;
	uint32_t shared_count;
	struct sm_shared_holder *shared; /* shared_count entries */
	uint32_t corrupt_dblocks;          /* dblocks or mode blocks that fail to decode */
	int first_dblock_error;
};

struct sm_volume_view {
	struct sm_volume_header hdr;
	uint64_t offset; /* of the volume in its file or device */
	int hosts_status; /* I/O error reading the host area */
	struct sm_host_view *hosts; /* hdr.max_hosts entries, host_id = i + 1 */
	uint32_t resource_count;    /* used entries, plus corrupt ones */
	struct sm_resource_view *resources;
	int index_io_status;        /* I/O error reading the index */
	/* Fenced by reservation: the fence table, or why it is unreadable. */
	int fence_status;
	struct sm_fence_table fence;
};

/* A host slot that was never joined (dump shows it only in JSON). */
static inline bool sm_host_view_pristine(const struct sm_host_view *hv)
{
	return hv->status == 0 && hv->rec.flags == SM_HOST_FREE && hv->rec.generation == 0;
}

/* A resource's state in words: "free", "held EX", "held SH", or what is
 * corrupt or unreadable (plus corrupt dblocks); returns buf. */
const char *sm_resource_view_state(const struct sm_resource_view *rv, char *buf, size_t len);

int sm_volume_inspect(struct sm_volume *v, struct sm_volume_view **out);
void sm_volume_view_free(struct sm_volume_view *view);

/* Decode one resource area image (area_bytes long) into rv. */
void sm_area_decode_view(const struct sm_volume_header *h, const uint8_t *buf, const char *resource,
			 struct sm_resource_view *rv);

#endif
