/* The public volume API (include/sync_manager/volume.h, src/lib/volume.c):
 * sm_volume_init formats what sm_volume_dump reads back, refuses bad
 * parameters by name (sm_volume_message), never prints in the caller's
 * process, and overwrites only an unused lockspace.  Fake clock: the J
 * watch of SM_VOLUME_INIT_FORCE takes no real time. */
#include "testutil.h"

#include "sync_manager/volume.h"

#include "lease/delta.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void assert_message(int rc, int want, const char *words)
{
	if (rc != want)
		fail_msg("returned %d (%s), wanted %d (%s); message \"%s\"", rc, sm_errname(rc), want, sm_errname(want),
			 sm_volume_message());
	if (!strstr(sm_volume_message(), words))
		fail_msg("message \"%s\" lacks \"%s\"", sm_volume_message(), words);
}

static const struct sm_field *field(const struct sm_report *r, const char *section, int i, const char *key)
{
	const struct sm_section *s = sm_report_section(r, section);
	assert_non_null(s);
	assert_true(i < s->nrecords);
	return sm_record_field(&s->records[i], key);
}

static struct sm_volume_init_params small_params(const char *lockspace)
{
	static const char *names[] = {"vm-1", "vm-2"};
	struct sm_volume_init_params p = {0};
	p.lockspace = lockspace;
	p.max_hosts = 8;
	p.resources = 4;
	p.io_timeout_ms = 1000;
	p.watchdog_timeout_ms = 3000;
	p.resource_names = names;
	p.resource_name_count = 2;
	return p;
}

static void init_then_dump_reads_it_back(void **state)
{
	const char *v = tu_temp_file("volapi", 0);
	struct sm_volume_init_params p = small_params("apils");
	assert_int_equal(sm_volume_init(v, &p), 0);
	assert_string_equal(sm_volume_message(), "");
	struct sm_report *r = NULL;
	assert_int_equal(sm_volume_dump(v, &r), 0);
	assert_string_equal(field(r, "header", 0, "lockspace")->str, "apils");
	assert_string_equal(field(r, "header", 0, "volume")->str, v);
	assert_int_equal(field(r, "header", 0, "max_hosts")->u64, 8);
	assert_int_equal(field(r, "header", 0, "resource_areas")->u64, 4);
	assert_int_equal(field(r, "header", 0, "io_timeout_ms")->u64, 1000);
	assert_int_equal(field(r, "header", 0, "watchdog_timeout_ms")->u64, 3000);
	assert_string_equal(field(r, "header", 0, "lease_io")->str, "paxos");
	assert_string_equal(field(r, "header", 0, "fencing")->str, "timing");
	assert_int_equal(field(r, "header", 0, "uuid")->type, SM_FIELD_STR);
	assert_int_equal(strlen(field(r, "header", 0, "uuid")->str), 36);
	assert_int_equal(sm_report_section(r, "hosts")->nrecords, 0); /* never joined */
	assert_int_equal(sm_report_section(r, "resources")->nrecords, 2);
	assert_string_equal(field(r, "resources", 1, "name")->str, "vm-2");
	assert_int_equal(field(r, "resources", 1, "area")->u64, 1);
	assert_string_equal(field(r, "resources", 0, "state")->str, "free");
	assert_int_equal(field(r, "resources", 0, "owner_host_id")->u64, 0);
	assert_null(field(r, "resources", 0, "error")); /* decoded fine */
	assert_int_equal(sm_report_section(r, "shared_holders")->nrecords, 0);
	assert_int_equal(sm_report_section(r, "fence_devices")->nrecords, 0);
	sm_report_free(r);
	tu_cleanup_files();
}

static void bad_parameters_are_refused_by_name(void **state)
{
	const char *v = tu_temp_file("volapi", 0);
	struct sm_volume_init_params p = small_params("apils");
	p.flags = 0x10;
	assert_message(sm_volume_init(v, &p), -SM_EBAD_ARGUMENT, "unknown flag bits 0x10 (this library knows 0x3)");
	p = small_params("apils");
	p.reserved[5] = 1;
	assert_message(sm_volume_init(v, &p), -SM_EBAD_ARGUMENT, "reserved field 5 is not zero");
	p = small_params(NULL);
	assert_message(sm_volume_init(v, &p), -SM_EBAD_NAME, "a lockspace name is required");
	p = small_params("bad:name");
	assert_message(sm_volume_init(v, &p), -SM_EBAD_NAME, "invalid lockspace name 'bad:name'");
	p = small_params("apils");
	p.lease_io = 7;
	assert_message(sm_volume_init(v, &p), -SM_EBAD_ARGUMENT, "lease_io 7 is not paxos (0), caw (1) or auto (2)");
	p = small_params("apils");
	p.max_hosts = 2001;
	assert_message(sm_volume_init(v, &p), -SM_EBAD_ARGUMENT, "max-hosts 2001 out of range");
	p = small_params("apils");
	p.resources = 1;
	assert_message(sm_volume_init(v, &p), -SM_EINDEX_FULL, "2 resource names given but the volume has only 1");
	p = small_params("apils");
	p.io_timeout_ms = 50;
	assert_message(sm_volume_init(v, &p), -SM_EBAD_ARGUMENT, "io timeout 50 ms out of range");
	p = small_params("apils");
	assert_message(sm_volume_init("", &p), -SM_EBAD_ARGUMENT, "no location given");
	assert_message(sm_volume_init(v, NULL), -SM_EBAD_ARGUMENT, "no parameters given");
	struct sm_report *r = (void *)1;
	assert_message(sm_volume_dump(v, &r), -SM_ENOT_FORMATTED, "cannot read volume");
	assert_null(r);
	tu_cleanup_files();
}

static void caw_on_a_file_is_refused_and_auto_falls_back(void **state)
{
	const char *v = tu_temp_file("volapi", 8 << 20);
	struct sm_volume_init_params p = small_params("cawls");
	p.lease_io = SM_VOLUME_LEASE_IO_CAW;
	assert_message(sm_volume_init(v, &p), -SM_ECAW_UNSUPPORTED,
		       "cannot do COMPARE AND WRITE (a regular file: COMPARE AND WRITE needs a SCSI block device); use "
		       "lease I/O paxos, or auto");
	p.max_hosts = 1921;
	assert_message(sm_volume_init(v, &p), -SM_EBAD_ARGUMENT, "allow at most 1920 hosts");
	struct sm_report *r = NULL;
	assert_int_equal(sm_volume_dump(v, &r), -SM_ENOT_FORMATTED); /* nothing was written */
	p = small_params("cawls");
	p.lease_io = SM_VOLUME_LEASE_IO_AUTO;
	assert_int_equal(sm_volume_init(v, &p), 0);
	assert_int_equal(sm_volume_dump(v, &r), 0);
	assert_string_equal(field(r, "header", 0, "lease_io")->str, "paxos");
	sm_report_free(r);
	tu_cleanup_files();
}

static void overwriting_needs_force_and_an_unused_lockspace(void **state)
{
	const char *v = tu_temp_file("volapi", 0);
	struct sm_volume_init_params p = small_params("oldls");
	assert_int_equal(sm_volume_init(v, &p), 0);
	p = small_params("newls");
	assert_message(sm_volume_init(v, &p), -SM_EALREADY_FORMATTED, "holds lockspace 'oldls' already");

	/* a host holds a record: refused, naming it, nothing written */
	struct sm_lockspace *ls = NULL;
	assert_int_equal(sm_lockspace_open(v, 0, &ls), 0);
	struct sm_join_opts jo = {.host_id = 3, .host_name = "busyhost"};
	assert_int_equal(sm_lockspace_join(ls, &jo), 0);
	p.flags = SM_VOLUME_INIT_FORCE;
	assert_message(sm_volume_init(v, &p), -SM_EBUSY, "host_id 3 'busyhost'");
	struct sm_report *r = NULL;
	assert_int_equal(sm_volume_dump(v, &r), 0);
	assert_string_equal(field(r, "header", 0, "lockspace")->str, "oldls");
	assert_int_equal(sm_report_section(r, "hosts")->nrecords, 1);
	assert_int_equal(field(r, "hosts", 0, "host_id")->u64, 3);
	assert_string_equal(field(r, "hosts", 0, "name")->str, "busyhost");
	assert_string_equal(field(r, "hosts", 0, "state")->str, "held");
	sm_report_free(r);

	/* once it left, force formats anew */
	assert_int_equal(sm_lockspace_leave(ls), 0);
	sm_lockspace_free(ls);
	assert_int_equal(sm_volume_init(v, &p), 0);
	assert_int_equal(sm_volume_dump(v, &r), 0);
	assert_string_equal(field(r, "header", 0, "lockspace")->str, "newls");
	assert_int_equal(sm_report_section(r, "hosts")->nrecords, 0);
	sm_report_free(r);
	tu_cleanup_files();
}

/* A library call explains itself through sm_volume_message(), never on the
 * caller's stderr. */
static void failures_print_nothing(void **state)
{
	const char *v = tu_temp_file("volapi", 0);
	const char *err = tu_temp_file("stderr", 0);
	int saved = dup(2), fd = open(err, O_WRONLY | O_TRUNC);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	struct sm_volume_init_params p = small_params("apils");
	p.max_hosts = 5000;
	int rc1 = sm_volume_init(v, &p);
	struct sm_report *r = NULL;
	int rc2 = sm_volume_dump(v, &r);
	dup2(saved, 2);
	close(saved);
	close(fd);
	assert_int_equal(rc1, -SM_EBAD_ARGUMENT);
	assert_int_not_equal(rc2, 0);
	FILE *f = fopen(err, "r");
	char buf[256] = "";
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (n)
		fail_msg("printed on stderr: %s", buf);
	tu_cleanup_files();
}

static void init_params_size_is_pinned(void **state)
{
	assert_int_equal(sizeof(struct sm_volume_init_params), 104);
}

int main(void)
{
	tu_fake_clock_install();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(init_then_dump_reads_it_back),
		cmocka_unit_test(bad_parameters_are_refused_by_name),
		cmocka_unit_test(caw_on_a_file_is_refused_and_auto_falls_back),
		cmocka_unit_test(overwriting_needs_force_and_an_unused_lockspace),
		cmocka_unit_test(failures_print_nothing),
		cmocka_unit_test(init_params_size_is_pinned),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
