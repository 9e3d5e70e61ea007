/* CRC-32C, error names, parsing helpers. */
#include "testutil.h"

#include "common/crc32c.h"
#include "common/log.h"
#include "common/util.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

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

/* The class of every code is what callers decide by (issue 16): the codes
 * that run and direct acquire wait on, the ones that prove nothing about an
 * I/O's outcome, and the ones that mean this host must give up its leases. */
static void error_classes_follow_what_callers_do(void **state)
{
	assert_int_equal(sm_error_class(0), SM_ERRCLASS_NONE);
	assert_int_equal(sm_error_class(3), SM_ERRCLASS_NONE); /* a count */
	static const int refused[] = {SM_EHELD, SM_ESHARED_HELD, SM_EUNKNOWN_HOST, SM_EHOSTID_BUSY, SM_EBUSY, EBUSY};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_int_equal(sm_error_class(-refused[i]), SM_ERRCLASS_REFUSED);
	static const int retry[] = {SM_EBALLOT_ABORTED, EAGAIN, EINTR, ETIMEDOUT};
	for (size_t i = 0; i < sizeof(retry) / sizeof(retry[0]); i++)
		assert_int_equal(sm_error_class(-retry[i]), SM_ERRCLASS_RETRY);
	static const int fault[] = {SM_EIO_TIMEOUT, SM_EIO_PENDING, SM_ESHORT_IO, SM_ENO_MAJORITY, SM_EBAD_CHECKSUM,
				    SM_ENO_DAEMON, SM_EPROTO, EIO, ENOMEM, ENOSPC, EROFS, 4000 /* unknown */};
	for (size_t i = 0; i < sizeof(fault) / sizeof(fault[0]); i++)
		assert_int_equal(sm_error_class(-fault[i]), SM_ERRCLASS_FAULT);
	static const int st[] = {SM_ELVER_MISMATCH, SM_ENOT_OWNER, SM_ENO_RESOURCE, SM_ERESOURCE_EXISTS,
				 SM_ENOT_FORMATTED, SM_ENOT_JOINED, ENOENT, EEXIST};
	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++)
		assert_int_equal(sm_error_class(-st[i]), SM_ERRCLASS_STATE);
	static const int usage[] = {SM_EBAD_ARGUMENT, SM_EBAD_NAME, SM_ECONFIG, SM_EDENIED, SM_EMULTI_VOLUME,
				    EINVAL, EACCES, EPERM};
	for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++)
		assert_int_equal(sm_error_class(-usage[i]), SM_ERRCLASS_USAGE);
	assert_int_equal(sm_error_class(-SM_ELOCKSPACE_LOST), SM_ERRCLASS_LOST);
	assert_int_equal(sm_error_class(-SM_ERESERVATION_CONFLICT), SM_ERRCLASS_LOST);
	assert_int_equal(sm_error_class(-SM_EINTERRUPTED), SM_ERRCLASS_CANCELLED);
	for (int code = SM_ERR_FIRST_ + 1; code < SM_ERR_LAST_; code++) /* every code has a real class */
		assert_int_not_equal(sm_error_class(-code), SM_ERRCLASS_NONE);
	assert_string_equal(sm_error_class_name(sm_error_class(-SM_EBALLOT_ABORTED)), "retry");
	assert_string_equal(sm_error_class_name(SM_ERRCLASS_CANCELLED), "cancelled");
	assert_string_equal(sm_error_class_name((enum sm_error_class)99), "unknown");
}

static void capture_log(enum sm_log_level level, const char *msg, void *arg)
{
	(void)level;
	(void)msg;
	errno = EBADF; /* what a sink's own write(2) or syslog(3) may leave */
	++*(int *)arg;
}

/* `if (x < 0) { sm_error("..."); return -errno; }` must return the errno of
 * the failure, not of the logging. */
static void log_preserves_errno(void **state)
{
	int calls = 0;
	enum sm_log_level was = sm_log_get_level();
	sm_log_set_level(SM_LOG_DEBUG);
	sm_log_set_sink(capture_log, &calls);
	errno = ENOSPC;
	sm_warn("a message %d", 1);
	assert_int_equal(errno, ENOSPC);
	sm_log_set_sink(NULL, NULL);
	int saved = dup(STDERR_FILENO);
	close(STDERR_FILENO); /* write(2) to a closed stderr fails with EBADF */
	errno = EROFS;
	sm_info("to a closed stderr");
	int e = errno;
	dup2(saved, STDERR_FILENO);
	close(saved);
	sm_log_set_level(was);
	assert_int_equal(e, EROFS);
	assert_int_equal(calls, 1);
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
		cmocka_unit_test(error_classes_follow_what_callers_do),
		cmocka_unit_test(log_preserves_errno),
		cmocka_unit_test(name_validation_rejects_separators_and_length),
		cmocka_unit_test(seconds_parse_decimals_and_bounds),
		cmocka_unit_test(u64_and_size_parse_strictly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
