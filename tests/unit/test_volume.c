/* Formatting, opening and inspecting lease volumes. */
#include "testutil.h"

#include "disk/fault.h"
#include "disk/syscalls.h"
#include "ondisk/index.h"
#include "ondisk/inspect.h"
#include "ondisk/volume.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int setup(void **state)
{
	tu_reset_faults();
	return 0;
}

static int teardown(void **state)
{
	tu_reset_faults();
	tu_cleanup_files();
	return 0;
}

static struct sm_format_params small_params(const char *ls)
{
	struct sm_format_params p = {.lockspace = ls, .max_hosts = 8, .resources = 16, .io_timeout_ms = 1000};
	return p;
}

static void format_then_open_reads_the_same_header(void **state)
{
	const char *path = tu_temp_file("vol", 0);
	struct sm_format_params p = small_params("ls-a");
	struct sm_volume_header h;
	assert_int_equal(sm_volume_format(path, 0, &p, &h), 0);
	struct sm_volume *v;
	assert_int_equal(sm_volume_open(path, 0, 0, &v), 0);
	assert_memory_equal(&v->hdr, &h, sizeof(h));
	assert_string_equal(v->hdr.lockspace, "ls-a");
	assert_int_equal(v->hdr.max_hosts, 8);
	assert_int_equal(v->hdr.area_sectors, 10);
	assert_int_equal(v->hdr.sector_size, 512);
	assert_int_equal(v->hdr.watchdog_timeout_ms, SM_DEFAULT_WATCHDOG_MS);
	struct stat st;
	stat(path, &st);
	assert_true((uint64_t)st.st_size >= h.volume_size);
	sm_volume_close(v);
}

static void areas_are_sized_by_max_hosts(void **state)
{
	struct sm_volume_header h = {.sector_size = 512, .max_hosts = 128, .resource_count = 1024};
	assert_int_equal(sm_volume_geometry(&h), 0);
	assert_int_equal(sm_volume_area_bytes(&h), 130 * 512);
	h.max_hosts = 2000;
	assert_int_equal(sm_volume_geometry(&h), 0);
	assert_int_equal(sm_volume_area_bytes(&h), 2002 * 512);
	h.max_hosts = 0;
	assert_int_equal(sm_volume_geometry(&h), -SM_EBAD_ARGUMENT);
}

static void format_refuses_existing_volume_without_force(void **state)
{
	const char *path = tu_temp_file("vol", 0);
	struct sm_format_params p = small_params("ls-a");
	struct sm_volume_header h1, h2;
	assert_int_equal(sm_volume_format(path, 0, &p, &h1), 0);
	struct sm_format_params p2 = small_params("ls-b");
	assert_int_equal(sm_volume_format(path, 0, &p2, &h2), -SM_EALREADY_FORMATTED);
	struct sm_volume *v;
	assert_int_equal(sm_volume_open(path, 0, 0, &v), 0);
	assert_string_equal(v->hdr.lockspace, "ls-a");
	sm_volume_close(v);
	p2.force = true;
	assert_int_equal(sm_volume_format(path, 0, &p2, &h2), 0);
	assert_memory_not_equal(h1.uuid, h2.uuid, 16);
	assert_int_equal(sm_volume_open(path, 0, 0, &v), 0);
	assert_string_equal(v->hdr.lockspace, "ls-b");
	sm_volume_close(v);
}

static void unformatted_and_wrong_offset_read_as_not_formatted(void **state)
{
	const char *path = tu_temp_file("vol", 1u << 20);
	struct sm_volume *v = NULL;
	assert_int_equal(sm_volume_open(path, 0, 0, &v), -SM_ENOT_FORMATTED);
	struct sm_format_params p = small_params("ls");
	assert_int_equal(sm_volume_format(path, 4096, &p, NULL), 0);
	assert_int_equal(sm_volume_open(path, 0, 0, &v), -SM_ENOT_FORMATTED);
	assert_int_equal(sm_volume_open(path, 4096, 0, &v), 0);
	sm_volume_close(v);
}

/* Crash the format at every write in turn: afterwards the location holds
 * either no volume or the previous one, never a half-written new one. */
static void interrupted_format_never_reads_as_valid(void **state)
{
	const char *path = tu_temp_file("vol", 0);
	struct sm_format_params p = small_params("old");
	p.resource_names = (const char *[]){"r1", "r2"};
	p.resource_name_count = 2;
	struct sm_volume_header old;
	assert_int_equal(sm_volume_format(path, 0, &p, &old), 0);
	struct sm_format_params np = small_params("new");
	np.force = true;
	int completed = 0;
	for (unsigned n = 1; n < 64 && !completed; n++) {
		tu_reset_faults();
		struct sm_fault_rule r = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_ERRNO, .err = EIO, .nth = n};
		sm_fault_add(&r);
		struct sm_volume_header h;
		int rc = sm_volume_format(path, 0, &np, &h);
		tu_reset_faults();
		struct sm_volume *v = NULL;
		int orc = sm_volume_open(path, 0, 0, &v);
		if (rc == 0) {
			assert_int_equal(orc, 0);
			assert_string_equal(v->hdr.lockspace, "new");
			completed = 1;
		} else if (orc == 0) {
			/* only the write that invalidates the old header failed */
			assert_int_equal(n, 1);
			assert_memory_equal(v->hdr.uuid, old.uuid, 16);
		} else {
			assert_int_equal(orc, -SM_ENOT_FORMATTED);
		}
		sm_volume_close(v);
	}
	assert_true(completed);
}

static void format_time_resources_are_in_the_index(void **state)
{
	const char *path = tu_temp_file("vol", 0);
	struct sm_format_params p = small_params("ls");
	p.resource_names = (const char *[]){"vm-a", "disk-b"};
	p.resource_name_count = 2;
	assert_int_equal(sm_volume_format(path, 0, &p, NULL), 0);
	struct sm_volume *v;
	assert_int_equal(sm_volume_open(path, 0, SM_DISK_READONLY, &v), 0);
	struct sm_index *idx;
	assert_int_equal(sm_index_load(v, &idx), 0);
	assert_int_equal(sm_index_find(idx, "vm-a"), 0);
	assert_int_equal(sm_index_find(idx, "disk-b"), 1);
	assert_int_equal(sm_index_find(idx, "nope"), -SM_ENO_RESOURCE);
	assert_int_equal(sm_index_first_free(idx), 2);
	sm_index_free(idx);

	struct sm_volume_view *vv;
	assert_int_equal(sm_volume_inspect(v, &vv), 0);
	assert_int_equal(vv->resource_count, 2);
	assert_int_equal(vv->resources[0].leader_status, 0);
	assert_int_equal(vv->resources[0].leader.lver, 0);
	assert_int_equal(vv->resources[0].leader.owner_id, 0);
	assert_int_equal(vv->resources[0].corrupt_dblocks, 0);
	sm_volume_view_free(vv);
	sm_volume_close(v);
}

static void bad_resource_names_and_duplicates_are_refused(void **state)
{
	const char *path = tu_temp_file("vol", 0);
	struct sm_format_params p = small_params("ls");
	p.resource_names = (const char *[]){"a", "a"};
	p.resource_name_count = 2;
	assert_int_equal(sm_volume_format(path, 0, &p, NULL), -SM_ERESOURCE_EXISTS);
	p.resource_names = (const char *[]){"__index__"};
	p.resource_name_count = 1;
	assert_int_equal(sm_volume_format(path, 0, &p, NULL), -SM_EBAD_NAME);
	p.lockspace = "bad:name";
	p.resource_name_count = 0;
	assert_int_equal(sm_volume_format(path, 0, &p, NULL), -SM_EBAD_NAME);
}

static void corrupt_sectors_are_reported_not_skipped(void **state)
{
	const char *path = tu_temp_file("vol", 0);
	struct sm_format_params p = small_params("ls");
	p.resource_names = (const char *[]){"r0"};
	p.resource_name_count = 1;
	struct sm_volume_header h;
	assert_int_equal(sm_volume_format(path, 0, &p, &h), 0);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t junk = 0xff;
	/* flip a byte in host 3's record, in r0's leader, and in index entry 5 */
	assert_int_equal(pwrite(fd, &junk, 1, (off_t)sm_volume_host_offset(&h, 3) + 40), 1);
	assert_int_equal(pwrite(fd, &junk, 1, (off_t)sm_volume_area_offset(&h, 0) + 150), 1);
	assert_int_equal(pwrite(fd, &junk, 1, (off_t)(h.index_offset + 5 * SM_INDEX_ENTRY_SIZE + 20)), 1);
	close(fd);

	struct sm_volume *v;
	assert_int_equal(sm_volume_open(path, 0, 0, &v), 0);
	struct sm_volume_view *vv;
	assert_int_equal(sm_volume_inspect(v, &vv), 0);
	assert_int_equal(vv->hosts[2].status, -SM_EBAD_CHECKSUM);
	assert_int_equal(vv->hosts[1].status, 0);
	assert_int_equal(vv->resource_count, 2); /* r0 and the corrupt entry 5 */
	assert_int_equal(vv->resources[0].leader_status, -SM_EBAD_CHECKSUM);
	assert_int_equal(vv->resources[1].area, 5);
	assert_int_equal(vv->resources[1].index_status, -SM_EBAD_CHECKSUM);
	sm_volume_view_free(vv);

	struct sm_index *idx;
	assert_int_equal(sm_index_load(v, &idx), 0);
	/* corrupt entries are never handed out as free */
	for (int i = 0; i < 16; i++) {
		int f = sm_index_first_free(idx);
		assert_int_not_equal(f, 5);
		if (f < 0)
			break;
		idx->entries[f].flags = SM_INDEX_USED;
	}
	sm_index_free(idx);
	sm_volume_close(v);
}

static void four_k_sector_volume_round_trips(void **state)
{
	const char *path = tu_temp_file("vol4k", 0);
	struct sm_format_params p = small_params("ls4k");
	p.sector_size = 4096;
	p.resource_names = (const char *[]){"r"};
	p.resource_name_count = 1;
	assert_int_equal(sm_volume_format(path, 0, &p, NULL), 0);
	struct sm_volume *v;
	assert_int_equal(sm_volume_open(path, 0, 0, &v), 0);
	assert_int_equal(v->hdr.sector_size, 4096);
	assert_int_equal(sm_disk_sector_size(v->disk), 4096);
	struct sm_volume_view *vv;
	assert_int_equal(sm_volume_inspect(v, &vv), 0);
	assert_int_equal(vv->resources[0].leader_status, 0);
	assert_int_equal(vv->hosts[0].status, 0);
	sm_volume_view_free(vv);
	sm_volume_close(v);
}

static int small_blk_fstat(int fd, struct stat *st)
{
	int rc = sm_disk_sys_real.fstat(fd, st);
	st->st_mode = (st->st_mode & ~S_IFMT) | S_IFBLK;
	return rc;
}
static int small_blk_ssz(int fd, int *out)
{
	*out = 512;
	return 0;
}
static int small_blk_size(int fd, uint64_t *out)
{
	*out = 64 * 1024;
	return 0;
}

static void too_small_device_is_refused_with_sizes(void **state)
{
	const char *path = tu_temp_file("blk", 64 * 1024);
	sm_disk_sys.fstat = small_blk_fstat;
	sm_disk_sys.blk_sector_size = small_blk_ssz;
	sm_disk_sys.blk_size_bytes = small_blk_size;
	struct sm_format_params p = small_params("ls");
	assert_int_equal(sm_volume_format(path, 0, &p, NULL), -SM_ETOO_SMALL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(format_then_open_reads_the_same_header, setup, teardown),
		cmocka_unit_test_setup_teardown(areas_are_sized_by_max_hosts, setup, teardown),
		cmocka_unit_test_setup_teardown(format_refuses_existing_volume_without_force, setup, teardown),
		cmocka_unit_test_setup_teardown(unformatted_and_wrong_offset_read_as_not_formatted, setup, teardown),
		cmocka_unit_test_setup_teardown(interrupted_format_never_reads_as_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(format_time_resources_are_in_the_index, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_resource_names_and_duplicates_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(corrupt_sectors_are_reported_not_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(four_k_sector_volume_round_trips, setup, teardown),
		cmocka_unit_test_setup_teardown(too_small_device_is_refused_with_sizes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
