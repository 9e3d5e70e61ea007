/* The public API's argument checks (src/lib/client.c), which refuse before
 * anything reaches the daemon: a listening socket that never answers stands
 * in for sync_managerd, so a call that did send fails with -EAGAIN. */
#include "testutil.h"

#include "sync_manager/admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

static int listener = -1;
static char run_dir[256];

static int open_conn(void **state)
{
	snprintf(run_dir, sizeof(run_dir), "%s/client_api.XXXXXX", getenv("SM_TEST_TMPDIR") ? getenv("SM_TEST_TMPDIR") : "/tmp");
	char *d = run_dir;
	(void)mkdir(getenv("SM_TEST_TMPDIR") ? getenv("SM_TEST_TMPDIR") : "/tmp", 0755);
	assert_non_null(mkdtemp(d));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", run_dir, SM_SOCKET_NAME);
	listener = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(listener >= 0);
	assert_int_equal(bind(listener, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(listener, 4), 0);
	setenv(SM_RUN_DIR_ENV, run_dir, 1);
	sm_conn *c;
	assert_int_equal(sm_conn_open(&c), 0);
	/* A call that does send fails fast (-EAGAIN), not by the ctest timeout. */
	struct timeval tv = {.tv_sec = 2};
	assert_int_equal(setsockopt(sm_conn_fd(c), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	*state = c;
	return 0;
}

static int close_conn(void **state)
{
	sm_conn_close(*state);
	char p[300];
	snprintf(p, sizeof(p), "%s/%s", run_dir, SM_SOCKET_NAME);
	unlink(p);
	rmdir(run_dir);
	close(listener);
	return 0;
}

static void assert_refused(sm_conn *c, int rc, const char *words)
{
	assert_int_equal(rc, -SM_EBAD_ARGUMENT);
	if (!strstr(sm_conn_message(c), words))
		fail_msg("message \"%s\" lacks \"%s\"", sm_conn_message(c), words);
}

static void unknown_flag_bits_are_refused_by_name(void **state)
{
	sm_conn *c = *state;
	struct sm_resource r;
	assert_int_equal(sm_resource_parse("ls:r1", &r), 0);
	assert_refused(c, sm_acquire(c, 0, &r, 1, SM_ACQUIRE_CREATE | 0x10, NULL), "sm_acquire: unknown flag bits 0x10");
	assert_refused(c, sm_register(c, "x", 0x80000000u), "sm_register: unknown flag bits 0x80000000");
	assert_refused(c, sm_register_kill(c, "x", 1u << 2, 0, NULL, NULL, 0), "unknown flag bits 0x4");
	assert_refused(c, sm_join(c, "/v", 0, NULL, 0x6), "sm_join: unknown flag bits 0x6");
	assert_refused(c, sm_shutdown(c, 0x4), "sm_shutdown: unknown flag bits 0x4 (this library knows 0x3)");
}

static void reserved_fields_must_be_zero(void **state)
{
	sm_conn *c = *state;
	struct sm_resource r[2];
	assert_int_equal(sm_resource_parse("ls:r1", &r[0]), 0);
	memset(&r[1], 0xff, sizeof(r[1]));
	assert_int_equal(sm_resource_parse("ls:r2", &r[1]), 0); /* parse zeroes them */
	for (size_t k = 0; k < sizeof(r[1].reserved) / sizeof(r[1].reserved[0]); k++)
		assert_int_equal(r[1].reserved[k], 0);
	r[1].reserved[3] = 1;
	assert_refused(c, sm_acquire(c, 0, r, 2, 0, NULL), "resource 1 (r2): reserved field 3 is not zero");
	assert_refused(c, sm_release(c, 0, r, 2), "sm_release");
	assert_refused(c, sm_convert(c, 0, &r[1], SM_SHARED), "sm_convert");
	assert_refused(c, sm_receive(c, 0, &r[1], 10, NULL), "sm_receive");
	assert_refused(c, sm_request(c, &r[1], SM_REQUEST_RELEASE), "sm_request");
}

/* The public structs' sizes are ABI: a change must be deliberate (and
 * reflected here and in client.h's ABI note). */
static void public_struct_sizes_are_pinned(void **state)
{
	assert_int_equal(sizeof(struct sm_resource), 952);
	assert_int_equal(sizeof(struct sm_lease_info), 176);
	assert_int_equal(sizeof(struct sm_field), 352);
	assert_int_equal(sizeof(struct sm_record), 32);
	assert_int_equal(sizeof(struct sm_section), 80);
	assert_int_equal(sizeof(struct sm_report), 32);
}

static void version_is_the_headers(void **state)
{
	assert_string_equal(sm_version(), SM_VERSION_STRING);
	assert_true(SM_VERSION_NUMBER >= 100); /* 0.1.0 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(unknown_flag_bits_are_refused_by_name, open_conn, close_conn),
		cmocka_unit_test_setup_teardown(reserved_fields_must_be_zero, open_conn, close_conn),
		cmocka_unit_test(public_struct_sizes_are_pinned),
		cmocka_unit_test(version_is_the_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
