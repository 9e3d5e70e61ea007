/* CRC-32C, error names, parsing helpers. */
#include "testutil.h"

#include "common/crc32c.h"
#include "common/util.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <string.h>

static void crc32c_matches_standard_check_value(void **state)
{
	assert_int_equal(sm_crc32c("123456789", 9), 0xE3069283u);
	assert_int_equal(sm_crc32c("", 0), 0);
}

static void crc32c_update_equals_one_shot(void **state)
{
	uint8_t buf[1000];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	uint32_t whole = sm_crc32c(buf, sizeof(buf));
	uint32_t part = sm_crc32c_update(sm_crc32c_update(0, buf, 333), buf + 333, sizeof(buf) - 333);
	assert_int_equal(whole, part);
}

static void crc32c_detects_single_bit_flip(void **state)
{
	uint8_t buf[512] = {0};
	uint32_t a = sm_crc32c(buf, sizeof(buf));
	buf[300] ^= 0x10;
	assert_int_not_equal(a, sm_crc32c(buf, sizeof(buf)));
}

static void strerror_names_project_and_system_errors(void **state)
{
	assert_string_equal(sm_errname(-SM_EBAD_CHECKSUM), "SM_EBAD_CHECKSUM");
	assert_non_null(strstr(sm_strerror(-SM_EBAD_CHECKSUM), "checksum"));
	assert_string_equal(sm_errname(-EIO), "EIO");
	assert_string_equal(sm_strerror(-EIO), strerror(EIO));
	assert_true(SM_ERR_LAST_ > SM_EBAD_MAGIC);
}

static void name_validation_rejects_separators_and_length(void **state)
{
	assert_true(sm_name_valid("vmstore-1"));
	assert_false(sm_name_valid(""));
	assert_false(sm_name_valid("a:b"));
	assert_false(sm_name_valid("a/b"));
	assert_false(sm_name_valid("a b"));
	char longname[70];
	memset(longname, 'x', 64);
	longname[64] = 0;
	assert_false(sm_name_valid(longname));
	longname[63] = 0;
	assert_true(sm_name_valid(longname));
}

static void seconds_parse_decimals_and_bounds(void **state)
{
	uint64_t ms;
	assert_int_equal(sm_parse_seconds_ms("10", 0, 100000, &ms), 0);
	assert_int_equal(ms, 10000);
	assert_int_equal(sm_parse_seconds_ms("0.25", 0, 100000, &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(sm_parse_seconds_ms("1.5s", 0, 100000, &ms), 0);
	assert_int_equal(ms, 1500);
	assert_int_equal(sm_parse_seconds_ms("1.2345", 0, 100000, &ms), -SM_EBAD_ARGUMENT);
	assert_int_equal(sm_parse_seconds_ms("-1", 0, 100000, &ms), -SM_EBAD_ARGUMENT);
	assert_int_equal(sm_parse_seconds_ms("0.05", 100, 100000, &ms), -SM_EBAD_ARGUMENT);
	assert_int_equal(sm_parse_seconds_ms("1.", 0, 100000, &ms), -SM_EBAD_ARGUMENT);
}

static void u64_and_size_parse_strictly(void **state)
{
	uint64_t v;
	assert_int_equal(sm_parse_u64("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(sm_parse_u64("42x", 0, 100, &v), -SM_EBAD_ARGUMENT);
	assert_int_equal(sm_parse_u64("101", 0, 100, &v), -SM_EBAD_ARGUMENT);
	assert_int_equal(sm_parse_u64("-1", 0, 100, &v), -SM_EBAD_ARGUMENT);
	assert_int_equal(sm_parse_size("1M", &v), 0);
	assert_int_equal(v, 1 << 20);
	assert_int_equal(sm_parse_size("4KiB", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(sm_parse_size("4Q", &v), -SM_EBAD_ARGUMENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc32c_matches_standard_check_value),
		cmocka_unit_test(crc32c_update_equals_one_shot),
		cmocka_unit_test(crc32c_detects_single_bit_flip),
		cmocka_unit_test(strerror_names_project_and_system_errors),
		cmocka_unit_test(name_validation_rejects_separators_and_length),
		cmocka_unit_test(seconds_parse_decimals_and_bounds),
		cmocka_unit_test(u64_and_size_parse_strictly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
