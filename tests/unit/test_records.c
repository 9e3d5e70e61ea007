/* Round trips and the distinct decode errors of every on-disk record. */
#include "testutil.h"

#include "common/crc32c.h"
#include "common/le.h"
#include "ondisk/records.h"
#include "sync_manager/errors.h"

#include <string.h>

static void header_round_trips(void **state)
{
	struct sm_volume_header h = {.sector_size = 4096, .max_hosts = 77, .io_timeout_ms = 1500,
				     .watchdog_timeout_ms = 3000, .host_area_offset = 4096, .index_lease_offset = 1,
				     .index_offset = 2, .areas_offset = 3, .resource_count = 9, .area_sectors = 79,
				     .volume_size = 123456789, .created_wall = 42};
	memset(h.uuid, 0xab, 16);
	strcpy(h.lockspace, "ls1");
	uint8_t buf[SM_HEADER_SIZE], again[SM_HEADER_SIZE];
	sm_header_encode(&h, buf);
	struct sm_volume_header d;
	assert_int_equal(sm_header_decode(buf, &d), 0);
	sm_header_encode(&d, again);
	assert_memory_equal(buf, again, sizeof(buf));
	assert_string_equal(d.lockspace, "ls1");
	assert_int_equal(d.volume_size, 123456789);
}

static void encoding_is_little_endian_with_magic_first(void **state)
{
	struct sm_leader l = {.sector_size = 512, .lver = 0x0102030405060708ull, .owner_id = 3};
	uint8_t buf[SM_LEADER_SIZE];
	sm_leader_encode(&l, buf);
	assert_memory_equal(buf, "SMLR", 4);
	assert_int_equal(sm_get_le16(buf + 4), SM_FORMAT_VERSION);
	assert_int_equal(buf[144], 0x08); /* lver, least significant byte first */
	assert_int_equal(buf[151], 0x01);
	assert_int_equal(sm_get_le32(buf + SM_LEADER_SIZE - 4), sm_crc32c(buf, SM_LEADER_SIZE - 4));
}

static void leader_round_trips_with_64bit_lver(void **state)
{
	struct sm_leader l = {.sector_size = 512, .max_hosts = 128, .lver = UINT64_MAX - 1, .owner_id = 7,
			      .mode = SM_MODE_EX, .owner_generation = 1ull << 40, .write_id = 7, .area = 5};
	strcpy(l.lockspace, "ls");
	strcpy(l.resource, "vm-1");
	uint8_t buf[SM_LEADER_SIZE];
	sm_leader_encode(&l, buf);
	struct sm_leader d;
	assert_int_equal(sm_leader_decode(buf, &d, "ls", "vm-1", 512), 0);
	assert_true(d.lver == UINT64_MAX - 1);
	assert_true(d.owner_generation == 1ull << 40);
	assert_int_equal(d.mode, SM_MODE_EX);
}

static void decode_reports_wrong_magic(void **state)
{
	uint8_t buf[SM_LEADER_SIZE] = {0};
	struct sm_leader d;
	assert_int_equal(sm_leader_decode(buf, &d, NULL, NULL, 0), -SM_EBAD_MAGIC);
	struct sm_host_record h = {.sector_size = 512};
	sm_host_encode(&h, buf);
	/* a valid host record is not a leader */
	assert_int_equal(sm_leader_decode(buf, &d, NULL, NULL, 0), -SM_EBAD_MAGIC);
}

static void decode_reports_unsupported_version(void **state)
{
	struct sm_leader l = {.sector_size = 512};
	uint8_t buf[SM_LEADER_SIZE];
	sm_leader_encode(&l, buf);
	sm_put_le16(buf + 4, SM_FORMAT_VERSION + 1);
	sm_put_le32(buf + SM_LEADER_SIZE - 4, sm_crc32c(buf, SM_LEADER_SIZE - 4));
	struct sm_leader d;
	assert_int_equal(sm_leader_decode(buf, &d, NULL, NULL, 0), -SM_EBAD_VERSION);
}

static void decode_reports_bad_checksum_for_any_flipped_byte(void **state)
{
	struct sm_dblock b = {.host_id = 2, .lver = 5, .mbal = 9, .bal = 9, .inp_owner_id = 2};
	uint8_t buf[SM_DBLOCK_SIZE];
	for (size_t i = 8; i < SM_DBLOCK_SIZE; i++) {
		sm_dblock_encode(&b, buf);
		buf[i] ^= 0x01;
		struct sm_dblock d;
		assert_int_equal(sm_dblock_decode(buf, &d), -SM_EBAD_CHECKSUM);
	}
}

static void decode_reports_wrong_lockspace_resource_and_sector_size(void **state)
{
	struct sm_leader l = {.sector_size = 512};
	strcpy(l.lockspace, "ls-a");
	strcpy(l.resource, "r1");
	uint8_t buf[SM_LEADER_SIZE];
	sm_leader_encode(&l, buf);
	struct sm_leader d;
	assert_int_equal(sm_leader_decode(buf, &d, "ls-b", "r1", 512), -SM_EWRONG_LOCKSPACE);
	assert_int_equal(sm_leader_decode(buf, &d, "ls-a", "r2", 512), -SM_EWRONG_RESOURCE);
	assert_int_equal(sm_leader_decode(buf, &d, "ls-a", "r1", 4096), -SM_EWRONG_SECTOR_SIZE);
	assert_int_equal(sm_leader_decode(buf, &d, "ls-a", "r1", 512), 0);

	struct sm_host_record h = {.sector_size = 4096, .host_id = 1};
	strcpy(h.lockspace, "ls-a");
	uint8_t hb[SM_HOST_SIZE];
	sm_host_encode(&h, hb);
	struct sm_host_record hd;
	assert_int_equal(sm_host_decode(hb, &hd, "ls-x", 4096), -SM_EWRONG_LOCKSPACE);
	assert_int_equal(sm_host_decode(hb, &hd, "ls-a", 512), -SM_EWRONG_SECTOR_SIZE);

	struct sm_request q = {.sector_size = 512, .kind = SM_REQ_HANDOFF};
	strcpy(q.resource, "r1");
	uint8_t qb[SM_REQUEST_SIZE];
	sm_request_encode(&q, qb);
	struct sm_request qd;
	assert_int_equal(sm_request_decode(qb, &qd, "r9", 512), -SM_EWRONG_RESOURCE);
	assert_int_equal(sm_request_decode(qb, &qd, "r1", 512), 0);
	assert_int_equal(qd.kind, SM_REQ_HANDOFF);
}

static void host_mode_and_index_records_round_trip(void **state)
{
	struct sm_host_record h = {.flags = SM_HOST_HELD, .sector_size = 512, .host_id = 12, .generation = 3,
				   .timestamp = 99, .sequence = 7, .io_timeout_ms = 1000};
	strcpy(h.lockspace, "ls");
	strcpy(h.host_name, "node-a");
	memset(h.instance, 0x5a, 16);
	uint8_t hb[SM_HOST_SIZE];
	sm_host_encode(&h, hb);
	struct sm_host_record hd;
	assert_int_equal(sm_host_decode(hb, &hd, "ls", 512), 0);
	assert_memory_equal(&h.instance, &hd.instance, 16);
	assert_string_equal(hd.host_name, "node-a");
	assert_int_equal(hd.flags, SM_HOST_HELD);

	struct sm_mode_block m = {.flags = SM_MODEB_SHARED, .generation = 4, .lver = 8};
	uint8_t mb[SM_MODE_SIZE];
	sm_mode_encode(&m, mb);
	struct sm_mode_block md;
	assert_int_equal(sm_mode_decode(mb, &md), 0);
	assert_int_equal(md.flags, SM_MODEB_SHARED);
	assert_int_equal(md.lver, 8);

	struct sm_index_entry e = {.flags = SM_INDEX_USED, .area = 17, .created_by = 2};
	strcpy(e.name, "disk-1");
	uint8_t eb[SM_INDEX_ENTRY_SIZE];
	sm_index_encode(&e, eb);
	struct sm_index_entry ed;
	assert_int_equal(sm_index_decode(eb, &ed), 0);
	assert_string_equal(ed.name, "disk-1");
	assert_int_equal(ed.area, 17);
}

static void names_are_always_nul_terminated_after_decode(void **state)
{
	struct sm_leader l = {.sector_size = 512};
	uint8_t buf[SM_LEADER_SIZE];
	sm_leader_encode(&l, buf);
	memset(buf + 16, 'A', 64); /* lockspace field full, no NUL */
	sm_put_le32(buf + SM_LEADER_SIZE - 4, sm_crc32c(buf, SM_LEADER_SIZE - 4));
	struct sm_leader d;
	assert_int_equal(sm_leader_decode(buf, &d, NULL, NULL, 0), 0);
	assert_int_equal(strlen(d.lockspace), 63);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(header_round_trips),
		cmocka_unit_test(encoding_is_little_endian_with_magic_first),
		cmocka_unit_test(leader_round_trips_with_64bit_lver),
		cmocka_unit_test(decode_reports_wrong_magic),
		cmocka_unit_test(decode_reports_unsupported_version),
		cmocka_unit_test(decode_reports_bad_checksum_for_any_flipped_byte),
		cmocka_unit_test(decode_reports_wrong_lockspace_resource_and_sector_size),
		cmocka_unit_test(host_mode_and_index_records_round_trip),
		cmocka_unit_test(names_are_always_nul_terminated_after_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
