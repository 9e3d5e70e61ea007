/* libFuzzer target: every on-disk record decoder, on arbitrary sectors.
 * Besides not crashing: a record that decodes must encode to bytes that
 * decode to the same values (reserved bytes are covered by the CRC but not
 * decoded, so byte-for-byte equality is not required). */
#include "ondisk/inspect.h"
#include "ondisk/records.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK_ROUND_TRIP(dec, enc, type, size_)                                        \
	do {                                                                           \
		type r_, r2_;                                                          \
		if (dec(sec, &r_) == 0) {                                              \
			uint8_t again[size_];                                          \
			enc(&r_, again);                                               \
			if (dec(again, &r2_) != 0 || memcmp(&r_, &r2_, sizeof(r_)) != 0) \
				abort();                                               \
		}                                                                      \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t sec[4096] = {0};
	memcpy(sec, data, size < sizeof(sec) ? size : sizeof(sec));
	/* The decoders keep names NUL-terminated; names with bytes after the
	 * first NUL do not round-trip, so only check records whose name fields
	 * are canonical by re-decoding the re-encoded form instead. */
	struct sm_volume_header h;
	if (sm_header_decode(sec, &h) == 0) {
		uint8_t again[SM_HEADER_SIZE];
		sm_header_encode(&h, again);
		struct sm_volume_header h2;
		if (sm_header_decode(again, &h2) != 0 || memcmp(&h, &h2, sizeof(h)) != 0)
			abort();
	}
	struct sm_host_record hr;
	sm_host_decode(sec, &hr, NULL, 0);
	sm_host_decode(sec, &hr, "ls", 512);
	struct sm_leader l;
	if (sm_leader_decode(sec, &l, NULL, NULL, 0) == 0) {
		uint8_t again[SM_LEADER_SIZE];
		sm_leader_encode(&l, again);
		struct sm_leader l2;
		if (sm_leader_decode(again, &l2, NULL, NULL, 0) != 0 || l2.lver != l.lver || l2.owner_id != l.owner_id)
			abort();
	}
	struct sm_request q;
	sm_request_decode(sec, &q, NULL, 0);
	CHECK_ROUND_TRIP(sm_dblock_decode, sm_dblock_encode, struct sm_dblock, SM_DBLOCK_SIZE);
	CHECK_ROUND_TRIP(sm_mode_decode, sm_mode_encode, struct sm_mode_block, SM_MODE_SIZE);
	struct sm_index_entry e;
	sm_index_decode(sec, &e);
	/* A whole resource area made of the input, as dump would decode it. */
	struct sm_volume_header vh = {.sector_size = 512, .max_hosts = 6, .resource_count = 1};
	strcpy(vh.lockspace, "ls");
	if (sm_volume_geometry(&vh) == 0 && size >= sm_volume_area_bytes(&vh)) {
		struct sm_resource_view rv = {0};
		sm_area_decode_view(&vh, data, "r", &rv);
		free(rv.shared);
	}
	return 0;
}
