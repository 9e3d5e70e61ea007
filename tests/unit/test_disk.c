/* The direct-I/O engine: alignment, sector sizes, timeouts, injected faults. */
#include "testutil.h"

#include "common/clock.h"
#include "disk/disk.h"
#include "disk/fault.h"
#include "disk/syscalls.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MB (1u << 20)

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

static struct sm_disk *open_file(uint64_t size, uint64_t base, unsigned ss)
{
	const char *p = tu_temp_file("disk", size);
	assert_non_null(p);
	struct sm_disk *d = NULL;
	assert_int_equal(sm_disk_open(p, base, ss, 0, &d), 0);
	return d;
}

static void write_then_read_returns_same_bytes(void **state)
{
	struct sm_disk *d = open_file(MB, 4096, 0);
	assert_int_equal(sm_disk_sector_size(d), 512);
	uint8_t out[2048], in[2048];
	for (size_t i = 0; i < sizeof(out); i++)
		out[i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(sm_disk_write(d, 1024, out, sizeof(out), 1000), 0);
	assert_int_equal(sm_disk_read(d, 1024, in, sizeof(in), 1000), 0);
	assert_memory_equal(out, in, sizeof(out));
	struct sm_disk_stats st;
	sm_disk_get_stats(d, &st);
	assert_int_equal(st.reads, 1);
	assert_int_equal(st.writes, 1);
	assert_int_equal(st.bytes_written, 2048);
	sm_disk_close(d);
}

static void misaligned_offsets_and_lengths_are_refused(void **state)
{
	struct sm_disk *d = open_file(MB, 0, 4096);
	uint8_t buf[8192] = {0};
	assert_int_equal(sm_disk_write(d, 512, buf, 4096, 1000), -SM_EMISALIGNED);
	assert_int_equal(sm_disk_read(d, 0, buf, 1000, 1000), -SM_EMISALIGNED);
	assert_int_equal(sm_disk_read(d, 4096, buf, 4096, 1000), 0);
	sm_disk_close(d);

	const char *p = tu_temp_file("disk-mis", MB);
	struct sm_disk *bad = NULL;
	assert_int_equal(sm_disk_open(p, 1000, 0, 0, &bad), -SM_EMISALIGNED);
	assert_null(bad);
	assert_int_equal(sm_disk_open(p, 512, 4096, 0, &bad), -SM_EMISALIGNED);
}

static void unsupported_sector_size_is_refused(void **state)
{
	const char *p = tu_temp_file("disk-ss", MB);
	struct sm_disk *d = NULL;
	assert_int_equal(sm_disk_open(p, 0, 1024, 0, &d), -SM_EWRONG_SECTOR_SIZE);
	assert_null(d);
}

/* Pretend the file is a block device with 4 KiB logical blocks. */
static int fake_blk_fstat(int fd, struct stat *st)
{
	int rc = sm_disk_sys_real.fstat(fd, st);
	st->st_mode = (st->st_mode & ~S_IFMT) | S_IFBLK;
	return rc;
}
static int fake_blk_ssz(int fd, int *out)
{
	*out = 4096;
	return 0;
}
static int fake_blk_size(int fd, uint64_t *out)
{
	*out = 8 * MB;
	return 0;
}

static void block_device_sector_size_is_detected(void **state)
{
	const char *p = tu_temp_file("disk-blk", 8 * MB);
	sm_disk_sys.fstat = fake_blk_fstat;
	sm_disk_sys.blk_sector_size = fake_blk_ssz;
	sm_disk_sys.blk_size_bytes = fake_blk_size;
	struct sm_disk *d = NULL;
	assert_int_equal(sm_disk_open(p, 0, 0, 0, &d), 0);
	assert_true(sm_disk_is_blockdev(d));
	assert_int_equal(sm_disk_sector_size(d), 4096);
	uint64_t cap;
	assert_int_equal(sm_disk_capacity(d, &cap), 0);
	assert_int_equal(cap, 8 * MB);
	sm_disk_close(d);
	/* a 512-byte volume cannot live on a 4 KiB device */
	assert_int_equal(sm_disk_open(p, 0, 512, 0, &d), -SM_EWRONG_SECTOR_SIZE);
}

static void nth_write_fails_with_eio_others_succeed(void **state)
{
	struct sm_disk *d = open_file(MB, 0, 0);
	struct sm_fault_rule r = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_ERRNO, .err = EIO, .nth = 2, .count = 1};
	assert_int_equal(sm_fault_add(&r), 0);
	uint8_t buf[512] = {1};
	assert_int_equal(sm_disk_write(d, 0, buf, 512, 1000), 0);
	assert_int_equal(sm_disk_write(d, 512, buf, 512, 1000), -EIO);
	assert_int_equal(sm_disk_write(d, 1024, buf, 512, 1000), 0);
	assert_int_equal(sm_disk_read(d, 0, buf, 512, 1000), 0);
	assert_int_equal(sm_fault_hits(), 1);
	struct sm_disk_stats st;
	sm_disk_get_stats(d, &st);
	assert_int_equal(st.errors, 1);
	sm_disk_close(d);
}

/* A SCSI reservation conflict reaches us as EBADE: it is reported as one
 * (the host was fenced), never as a plain I/O error. */
static void reservation_conflict_is_reported_as_such(void **state)
{
	struct sm_disk *d = open_file(MB, 0, 0);
	struct sm_fault_rule r = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_ERRNO, .err = EBADE, .count = 1};
	assert_int_equal(sm_fault_add(&r), 0);
	uint8_t buf[512] = {1};
	assert_int_equal(sm_disk_write(d, 0, buf, 512, 1000), -SM_ERESERVATION_CONFLICT);
	assert_int_equal(sm_disk_write(d, 0, buf, 512, 1000), 0);
	sm_disk_close(d);
}

static void submit_failure_is_reported(void **state)
{
	struct sm_disk *d = open_file(MB, 0, 0);
	struct sm_fault_rule r = {.op = SM_FAULT_READ, .kind = SM_FAULT_SUBMIT_ERRNO, .err = EAGAIN, .count = 1};
	sm_fault_add(&r);
	uint8_t buf[512];
	assert_int_equal(sm_disk_read(d, 0, buf, 512, 1000), -EAGAIN);
	assert_int_equal(sm_disk_read(d, 0, buf, 512, 1000), 0);
	sm_disk_close(d);
}

static void short_write_is_an_error(void **state)
{
	struct sm_disk *d = open_file(MB, 0, 0);
	struct sm_fault_rule r = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_SHORT, .count = 1};
	sm_fault_add(&r);
	static uint8_t buf[16384];
	assert_int_equal(sm_disk_write(d, 0, buf, sizeof(buf), 1000), -SM_ESHORT_IO);
	sm_fault_add(&r);
	assert_int_equal(sm_disk_write(d, 0, buf, 512, 1000), -SM_ESHORT_IO);
	sm_disk_close(d);
}

static void hung_write_times_out_and_blocks_overlapping_writes_until_it_lands(void **state)
{
	struct sm_disk *d = open_file(MB, 0, 0);
	uint8_t a[1024], b[512], got[1024];
	memset(a, 'A', sizeof(a));
	memset(b, 'B', sizeof(b));
	struct sm_fault_rule r = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_HANG, .count = 1};
	sm_fault_add(&r);

	uint64_t t0 = sm_now_mono_ms();
	assert_int_equal(sm_disk_write(d, 0, a, sizeof(a), 200), -SM_EIO_TIMEOUT);
	uint64_t took = sm_now_mono_ms() - t0;
	assert_true(took >= 190);
	assert_int_equal(sm_disk_pending(d), 1);

	/* the caller's buffer was copied at submit time: scribbling on it now
	 * must not change what lands later */
	memset(a, 'X', sizeof(a));
	/* a new write to the same sector is refused while the old one may land */
	assert_int_equal(sm_disk_write(d, 512, b, sizeof(b), 200), -SM_EIO_PENDING);
	/* elsewhere is fine */
	assert_int_equal(sm_disk_write(d, 4096, b, sizeof(b), 1000), 0);

	sm_fault_release_hung(true); /* storage path comes back: the old write lands */
	for (int i = 0; i < 100 && sm_disk_pending(d); i++)
		sm_sleep_ms(10);
	assert_int_equal(sm_disk_pending(d), 0);
	assert_int_equal(sm_disk_read(d, 0, got, sizeof(got), 1000), 0);
	for (size_t i = 0; i < sizeof(got); i++)
		assert_int_equal(got[i], 'A');
	assert_int_equal(sm_disk_write(d, 512, b, sizeof(b), 1000), 0);
	struct sm_disk_stats st;
	sm_disk_get_stats(d, &st);
	assert_int_equal(st.timeouts, 1);
	sm_disk_close(d);
}

/* A write abandoned by one handle may land late over whatever another handle
 * of this process wrote there since (the daemon's workers each open their own
 * handles to a volume): no handle may write those sectors until it landed. */
static void hung_write_of_one_handle_blocks_overlapping_writes_of_every_handle(void **state)
{
	const char *p = tu_temp_file("disk", MB);
	struct sm_disk *d1 = NULL, *d2 = NULL, *d3 = NULL;
	assert_int_equal(sm_disk_open(p, 0, 0, 0, &d1), 0);
	assert_int_equal(sm_disk_open(p, 0, 0, 0, &d2), 0);
	assert_int_equal(sm_disk_open(p, 4096, 0, 0, &d3), 0); /* another base: same sectors at other offsets */
	uint8_t a[512], b[512], got[512];
	memset(a, 'A', sizeof(a));
	memset(b, 'B', sizeof(b));
	struct sm_fault_rule r = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_HANG, .count = 1};
	sm_fault_add(&r);
	assert_int_equal(sm_disk_write(d1, 8192, a, sizeof(a), 100), -SM_EIO_TIMEOUT);
	assert_int_equal(sm_disk_write(d2, 8192, b, sizeof(b), 1000), -SM_EIO_PENDING);
	assert_int_equal(sm_disk_write(d3, 4096, b, sizeof(b), 1000), -SM_EIO_PENDING);
	assert_int_equal(sm_disk_write(d2, 8704, b, sizeof(b), 1000), 0); /* the next sector is fine */
	/* closing the handle that abandoned it does not forget it */
	sm_disk_close(d1);
	assert_int_equal(sm_disk_write(d2, 8192, b, sizeof(b), 1000), -SM_EIO_PENDING);
	sm_fault_release_hung(true); /* it lands */
	int rc = -SM_EIO_PENDING;
	for (int i = 0; i < 200 && rc == -SM_EIO_PENDING; i++) {
		sm_sleep_ms(10);
		rc = sm_disk_write(d2, 8192, b, sizeof(b), 1000);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(sm_disk_read(d3, 4096, got, sizeof(got), 1000), 0);
	assert_memory_equal(got, b, sizeof(b)); /* ours is the last word */
	sm_disk_close(d2);
	sm_disk_close(d3);
}

static void hung_read_times_out(void **state)
{
	struct sm_disk *d = open_file(MB, 0, 0);
	struct sm_fault_rule r = {.op = SM_FAULT_READ, .kind = SM_FAULT_HANG, .count = 1};
	sm_fault_add(&r);
	uint8_t buf[512];
	assert_int_equal(sm_disk_read(d, 0, buf, 512, 100), -SM_EIO_TIMEOUT);
	/* reads do not block writes; the next read works */
	assert_int_equal(sm_disk_write(d, 0, buf, 512, 1000), 0);
	assert_int_equal(sm_disk_read(d, 0, buf, 512, 1000), 0);
	sm_disk_close(d); /* with a read still pending: must not hang or crash */
}

static void location_parser_splits_path_and_offset(void **state)
{
	char *p;
	uint64_t off;
	assert_int_equal(sm_disk_parse_location("/dev/sdb:1M", &p, &off), 0);
	assert_string_equal(p, "/dev/sdb");
	assert_int_equal(off, MB);
	free(p);
	assert_int_equal(sm_disk_parse_location("/var/lib/leases", &p, &off), 0);
	assert_string_equal(p, "/var/lib/leases");
	assert_int_equal(off, 0);
	free(p);
	assert_int_equal(sm_disk_parse_location("/a:b/file", &p, &off), 0);
	assert_string_equal(p, "/a:b/file");
	free(p);
	assert_int_equal(sm_disk_parse_location(":4096", &p, &off), -SM_EBAD_ARGUMENT);
}

/* udev's /dev/disk/by-path names end in ":LUN" (pci-...-scsi-0:0:0:0): a
 * path that exists as given is a path, not PATH:OFFSET (found by the lab). */
static void an_existing_path_ending_in_colon_number_is_a_path(void **state)
{
	char dir[] = "/tmp/smpathXXXXXX";
	assert_non_null(mkdtemp(dir));
	char link[256], target[256];
	snprintf(target, sizeof(target), "%s/vol", dir);
	snprintf(link, sizeof(link), "%s/pci-0000:00:08.0-scsi-0:0:0:0", dir);
	int fd = open(target, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(symlink("vol", link), 0);
	char *p;
	uint64_t off;
	assert_int_equal(sm_disk_parse_location(link, &p, &off), 0);
	assert_string_equal(p, link);
	assert_int_equal(off, 0);
	free(p);
	char spec[300];
	snprintf(spec, sizeof(spec), "%s:4096", link); /* an explicit offset still works */
	assert_int_equal(sm_disk_parse_location(spec, &p, &off), 0);
	assert_string_equal(p, link);
	assert_int_equal(off, 4096);
	free(p);
	/* both "X:0" and "X" exist: ambiguous, refused (write X:0:0 or X:0:OFFSET) */
	char plain[256];
	snprintf(plain, sizeof(plain), "%s/pci-0000:00:08.0-scsi-0:0:0", dir);
	assert_int_equal(symlink("vol", plain), 0);
	assert_int_equal(sm_disk_parse_location(link, &p, &off), -SM_EBAD_ARGUMENT);
	unlink(plain);
	unlink(link);
	unlink(target);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(an_existing_path_ending_in_colon_number_is_a_path, setup, teardown),
		cmocka_unit_test_setup_teardown(write_then_read_returns_same_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(misaligned_offsets_and_lengths_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(unsupported_sector_size_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(block_device_sector_size_is_detected, setup, teardown),
		cmocka_unit_test_setup_teardown(nth_write_fails_with_eio_others_succeed, setup, teardown),
		cmocka_unit_test_setup_teardown(submit_failure_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(reservation_conflict_is_reported_as_such, setup, teardown),
		cmocka_unit_test_setup_teardown(short_write_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(hung_write_times_out_and_blocks_overlapping_writes_until_it_lands,
						setup, teardown),
		cmocka_unit_test_setup_teardown(hung_write_of_one_handle_blocks_overlapping_writes_of_every_handle,
						setup, teardown),
		cmocka_unit_test_setup_teardown(hung_read_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(location_parser_splits_path_and_offset, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
