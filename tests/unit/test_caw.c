/* COMPARE AND WRITE (src/disk/caw.c) against the SPC-4/SBC-3 emulator
 * (prsim): match, miscompare, reservation conflict when fenced, UNIT
 * ATTENTION retried, a target without the command, the support probe, and
 * the fault rules for CAW (op SM_FAULT_CAW and the rules file). */
#include "testutil.h"

#include "disk/caw.h"
#include "disk/fault.h"
#include "disk/pr.h"
#include "prsim.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SS 512
#define LEASE_SECTOR 8 /* the sector the tests compare and write */
#define SCRATCH_SECTOR 9
#define KEY_A 0xa1a1a1a100000001ull
#define KEY_B 0xb2b2b2b200000002ull

static char lu_path[PATH_MAX];

static int setup(void **state)
{
	tu_reset_faults();
	prsim_reset();
	prsim_install();
	return 0;
}

static int teardown(void **state)
{
	tu_reset_faults();
	prsim_reset();
	tu_cleanup_files();
	return 0;
}

/* A 64 KiB emulated LU, every sector filled with its own pattern. */
static int add_lu(const struct prsim_lu_opts *opts)
{
	snprintf(lu_path, sizeof(lu_path), "%s", tu_temp_file("caw-lu", 0));
	static uint8_t data[64 * SS];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i / SS * 7 + 1);
	int fd = open(lu_path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, sizeof(data)), sizeof(data));
	close(fd);
	int lu = prsim_add_lu(lu_path, opts);
	assert_true(lu >= 0);
	return lu;
}

static struct sm_caw_dev *open_as(const char *host)
{
	prsim_set_initiator(host);
	struct sm_caw_dev *d = NULL;
	assert_int_equal(sm_caw_open(lu_path, 2000, &d), 0);
	return d;
}

/* The sector as the medium holds it (behind the emulator). */
static void medium(unsigned sector, uint8_t *buf)
{
	int fd = open(lu_path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, SS, (off_t)sector * SS), SS);
	close(fd);
}

static void fill(uint8_t *buf, uint8_t v)
{
	memset(buf, v, SS);
}

static void match_writes_the_new_data(void **state)
{
	int lu = add_lu(NULL);
	struct sm_caw_dev *a = open_as("hostA");
	uint8_t cur[SS], nw[SS], now[SS];
	assert_int_equal(sm_caw_read(a, LEASE_SECTOR * SS, cur, SS), 0);
	medium(LEASE_SECTOR, now);
	assert_memory_equal(cur, now, SS);
	fill(nw, 0x5a);
	assert_int_equal(sm_caw(a, LEASE_SECTOR * SS, cur, nw, SS), 0);
	medium(LEASE_SECTOR, now);
	assert_memory_equal(now, nw, SS);
	medium(LEASE_SECTOR + 1, now); /* one sector only */
	assert_int_equal(now[0], (uint8_t)((LEASE_SECTOR + 1) * 7 + 1));
	assert_int_equal(prsim_caw_writes(lu), 1);
	sm_caw_close(a);
}

static void miscompare_leaves_the_sector_untouched(void **state)
{
	int lu = add_lu(NULL);
	struct sm_caw_dev *a = open_as("hostA"), *b = open_as("hostB");
	uint8_t seen[SS], mine[SS], theirs[SS], now[SS];
	/* both read the same image; both try to replace it: one wins */
	assert_int_equal(sm_caw_read(a, LEASE_SECTOR * SS, seen, SS), 0);
	fill(mine, 0xaa);
	fill(theirs, 0xbb);
	assert_int_equal(sm_caw(b, LEASE_SECTOR * SS, seen, theirs, SS), 0);
	assert_int_equal(sm_caw(a, LEASE_SECTOR * SS, seen, mine, SS), -SM_EMISCOMPARE);
	medium(LEASE_SECTOR, now);
	assert_memory_equal(now, theirs, SS);
	/* a difference in the last byte only is a miscompare too */
	memcpy(seen, theirs, SS);
	seen[SS - 1] ^= 1;
	assert_int_equal(sm_caw(a, LEASE_SECTOR * SS, seen, mine, SS), -SM_EMISCOMPARE);
	medium(LEASE_SECTOR, now);
	assert_memory_equal(now, theirs, SS);
	assert_int_equal(prsim_caw_commands(lu), 3);
	assert_int_equal(prsim_caw_writes(lu), 1);
	assert_string_equal(sm_errname(-SM_EMISCOMPARE), "SM_EMISCOMPARE");
	sm_caw_close(a);
	sm_caw_close(b);
}

static void conflict_when_fenced(void **state)
{
	int lu = add_lu(NULL);
	prsim_set_initiator("hostA");
	struct sm_pr_dev *pa = NULL, *pb = NULL;
	assert_int_equal(sm_pr_open(lu_path, 2000, &pa), 0);
	prsim_set_initiator("hostB");
	assert_int_equal(sm_pr_open(lu_path, 2000, &pb), 0);
	assert_int_equal(sm_pr_register(pa, 0, KEY_A, true), 0);
	assert_int_equal(sm_pr_register(pb, 0, KEY_B, true), 0);
	assert_int_equal(sm_pr_reserve(pa, KEY_A, SM_PR_WE_ALL_REGISTRANTS), 0);
	struct sm_caw_dev *a = open_as("hostA"), *b = open_as("hostB"), *c = open_as("hostC");
	uint8_t cur[SS], nw[SS], now[SS];
	medium(LEASE_SECTOR, cur);
	fill(nw, 0x11);
	/* never registered: refused */
	assert_int_equal(sm_caw(c, LEASE_SECTOR * SS, cur, nw, SS), -SM_ERESERVATION_CONFLICT);
	/* B is preempted: its first command gets UNIT ATTENTION 2A/05 (sent
	 * again), then RESERVATION CONFLICT */
	assert_int_equal(sm_pr_preempt(pa, KEY_A, KEY_B, SM_PR_WE_ALL_REGISTRANTS, true), 0);
	assert_int_equal(sm_caw(b, LEASE_SECTOR * SS, cur, nw, SS), -SM_ERESERVATION_CONFLICT);
	assert_int_equal(prsim_caw_commands(lu), 3);
	medium(LEASE_SECTOR, now);
	assert_memory_equal(now, cur, SS);
	/* reads still work for B; A (registered) compares and writes */
	assert_int_equal(sm_caw_read(b, LEASE_SECTOR * SS, now, SS), 0);
	assert_int_equal(sm_caw(a, LEASE_SECTOR * SS, cur, nw, SS), 0);
	assert_int_equal(prsim_caw_writes(lu), 1);
	sm_caw_close(a);
	sm_caw_close(b);
	sm_caw_close(c);
	sm_pr_close(pa);
	sm_pr_close(pb);
}

static void unit_attention_is_sent_again_a_bounded_number_of_times(void **state)
{
	int lu = add_lu(NULL);
	struct sm_caw_dev *a = open_as("hostA");
	uint8_t cur[SS], nw[SS], now[SS];
	medium(LEASE_SECTOR, cur);
	fill(nw, 0x22);
	prsim_unit_attention(lu, NULL, 0x29, 0x00); /* a target restart */
	assert_int_equal(sm_caw(a, LEASE_SECTOR * SS, cur, nw, SS), 0);
	assert_int_equal(prsim_caw_commands(lu), 2);
	/* a UNIT ATTENTION that never ends: given up after the retries */
	sm_fault_install();
	struct sm_fault_rule r = {.op = SM_FAULT_CAW, .kind = SM_FAULT_CHECK_CONDITION,
				  .sense_key = SM_SENSE_UNIT_ATTENTION, .asc = 0x29};
	assert_int_equal(sm_fault_add(&r), 0);
	assert_int_equal(sm_caw(a, LEASE_SECTOR * SS, nw, cur, SS), -EIO);
	assert_int_equal(sm_fault_hits(), 1 + SM_CAW_UA_RETRIES);
	medium(LEASE_SECTOR, now);
	assert_memory_equal(now, nw, SS);
	sm_caw_close(a);
}

static void target_without_the_command(void **state)
{
	/* tgt: the Block Limits page advertises a length, the opcode is refused */
	struct prsim_lu_opts tgt = {.no_caw = true, .caw_len_advertised = 1};
	int lu = add_lu(&tgt);
	struct sm_caw_dev *a = open_as("hostA");
	uint8_t cur[SS], nw[SS];
	medium(LEASE_SECTOR, cur);
	fill(nw, 0x33);
	assert_int_equal(sm_caw_max_blocks(a), 1);
	assert_int_equal(sm_caw(a, LEASE_SECTOR * SS, cur, nw, SS), -SM_ECAW_UNSUPPORTED);
	sm_caw_close(a);
	char why[160];
	assert_int_equal(sm_caw_supported(lu_path, SCRATCH_SECTOR * SS, SS, 2000, why, sizeof(why)),
			 -SM_ECAW_UNSUPPORTED);
	assert_non_null(strstr(why, "rejects COMPARE AND WRITE"));
	assert_int_equal(prsim_caw_writes(lu), 0);
}

static void probe_reads_the_block_limits_page_first(void **state)
{
	char why[160];
	struct prsim_lu_opts zero = {.caw_len_advertised = -1};
	int lu = add_lu(&zero);
	assert_int_equal(sm_caw_supported(lu_path, SCRATCH_SECTOR * SS, SS, 2000, why, sizeof(why)),
			 -SM_ECAW_UNSUPPORTED);
	assert_non_null(strstr(why, "LENGTH 0"));
	assert_int_equal(prsim_caw_commands(lu), 0);
	struct prsim_lu_opts none = {.no_block_limits = true};
	lu = add_lu(&none);
	assert_int_equal(sm_caw_supported(lu_path, SCRATCH_SECTOR * SS, SS, 2000, why, sizeof(why)),
			 -SM_ECAW_UNSUPPORTED);
	assert_non_null(strstr(why, "Block Limits"));
	assert_int_equal(prsim_caw_commands(lu), 0);
	/* a regular file takes no SG_IO */
	tu_reset_faults();
	prsim_reset();
	const char *file = tu_temp_file("caw-file", 64 * SS);
	assert_int_equal(sm_caw_supported(file, SCRATCH_SECTOR * SS, SS, 2000, why, sizeof(why)),
			 -SM_ECAW_UNSUPPORTED);
}

static void probe_on_a_good_target_leaves_the_scratch_sector_as_it_was(void **state)
{
	int lu = add_lu(NULL);
	uint8_t before[SS], after[SS];
	medium(SCRATCH_SECTOR, before);
	char why[160];
	assert_int_equal(sm_caw_supported(lu_path, SCRATCH_SECTOR * SS, SS, 2000, why, sizeof(why)), 0);
	assert_string_equal(why, "supported");
	assert_int_equal(prsim_caw_commands(lu), 2); /* one match, one miscompare */
	assert_int_equal(prsim_caw_writes(lu), 1);
	medium(SCRATCH_SECTOR, after);
	assert_memory_equal(before, after, SS);
}

static void probe_catches_a_target_that_does_not_compare(void **state)
{
	int lu = add_lu(NULL);
	/* every CAW "succeeds": the wrong-data CAW must have miscompared */
	sm_fault_install();
	struct sm_fault_rule r = {.op = SM_FAULT_CAW, .kind = SM_FAULT_SCSI_STATUS, .status = 0, .nth = 2};
	assert_int_equal(sm_fault_add(&r), 0);
	char why[160];
	assert_int_equal(sm_caw_supported(lu_path, SCRATCH_SECTOR * SS, SS, 2000, why, sizeof(why)),
			 -SM_ECAW_UNSUPPORTED);
	assert_non_null(strstr(why, "did not miscompare"));
	assert_int_equal(prsim_caw_commands(lu), 1);
}

static void fault_rules_for_compare_and_write(void **state)
{
	int lu = add_lu(NULL);
	struct sm_caw_dev *a = open_as("hostA");
	uint8_t cur[SS], nw[SS];
	medium(LEASE_SECTOR, cur);
	fill(nw, 0x44);
	sm_fault_install();
	struct sm_fault_rule r = {.op = SM_FAULT_CAW, .kind = SM_FAULT_CHECK_CONDITION,
				  .sense_key = SM_SENSE_MISCOMPARE, .asc = 0x1d, .count = 1};
	assert_int_equal(sm_fault_add(&r), 0);
	assert_int_equal(sm_caw(a, LEASE_SECTOR * SS, cur, nw, SS), -SM_EMISCOMPARE);
	sm_fault_clear();
	r = (struct sm_fault_rule){.op = SM_FAULT_CAW, .kind = SM_FAULT_SCSI_STATUS,
				   .status = SM_SCSI_RESERVATION_CONFLICT, .count = 1};
	assert_int_equal(sm_fault_add(&r), 0);
	assert_int_equal(sm_caw(a, LEASE_SECTOR * SS, cur, nw, SS), -SM_ERESERVATION_CONFLICT);
	sm_fault_clear();
	r = (struct sm_fault_rule){.op = SM_FAULT_CAW, .kind = SM_FAULT_HANG, .count = 1};
	assert_int_equal(sm_fault_add(&r), 0);
	assert_int_equal(sm_caw(a, LEASE_SECTOR * SS, cur, nw, SS), -SM_EIO_TIMEOUT);
	sm_fault_clear();
	r = (struct sm_fault_rule){.op = SM_FAULT_CAW, .kind = SM_FAULT_ERRNO, .err = EIO, .count = 1};
	assert_int_equal(sm_fault_add(&r), 0);
	assert_int_equal(sm_caw(a, LEASE_SECTOR * SS, cur, nw, SS), -EIO);
	sm_fault_clear();
	/* PR and read/write rules do not touch CAW */
	r = (struct sm_fault_rule){.op = SM_FAULT_ANY | SM_FAULT_PR_ANY, .kind = SM_FAULT_ERRNO, .err = EIO};
	assert_int_equal(sm_fault_add(&r), 0);
	assert_int_equal(prsim_caw_commands(lu), 0);
	assert_int_equal(sm_caw(a, LEASE_SECTOR * SS, cur, nw, SS), 0);
	assert_int_equal(prsim_caw_writes(lu), 1);
	/* one sector, aligned */
	assert_int_equal(sm_caw(a, LEASE_SECTOR * SS + 1, nw, cur, SS), -EINVAL);
	sm_caw_close(a);
}

static void fault_rules_file_for_compare_and_write(void **state)
{
	add_lu(NULL);
	char rules[PATH_MAX];
	snprintf(rules, sizeof(rules), "%s", tu_temp_file("caw-faults", 0));
	FILE *f = fopen(rules, "w");
	assert_non_null(f);
	fprintf(f, "# CAW faults\ncaw illegal nomatch\ncaw miscompare caw-lu\n");
	fclose(f);
	setenv("SYNC_MANAGER_TEST_FAULTS", rules, 1);
	assert_true(sm_fault_from_env());
	struct sm_caw_dev *a = open_as("hostA");
	uint8_t cur[SS], nw[SS];
	medium(LEASE_SECTOR, cur);
	fill(nw, 0x55);
	assert_int_equal(sm_caw(a, LEASE_SECTOR * SS, cur, nw, SS), -SM_EMISCOMPARE);
	f = fopen(rules, "w");
	fprintf(f, "caw illegal caw-lu\n");
	fclose(f);
	struct timespec t[2] = {{0, UTIME_NOW}, {time(NULL) + 5, 0}};
	utimensat(AT_FDCWD, rules, t, 0);
	assert_int_equal(sm_caw(a, LEASE_SECTOR * SS, cur, nw, SS), -SM_ECAW_UNSUPPORTED);
	unlink(rules);
	assert_int_equal(sm_caw(a, LEASE_SECTOR * SS, cur, nw, SS), 0);
	unsetenv("SYNC_MANAGER_TEST_FAULTS");
	sm_caw_close(a);
}

static void the_target_is_named_and_lio_is_a_known_defect(void **state)
{
	(void)state;
	add_lu(NULL);
	struct sm_caw_target t;
	assert_int_equal(sm_caw_target_of(lu_path, 2000, &t), 0);
	assert_string_equal(t.vendor, "PRSIM");
	assert_string_equal(t.product, "prsim-lu");
	assert_string_equal(t.revision, "1.0");
	assert_null(sm_caw_known_defect(&t));
	prsim_reset();
	prsim_install();
	struct prsim_lu_opts lio = {.vendor = "LIO-ORG"};
	add_lu(&lio);
	assert_int_equal(sm_caw_target_of(lu_path, 2000, &t), 0);
	assert_string_equal(t.vendor, "LIO-ORG");
	assert_non_null(sm_caw_known_defect(&t));
	/* a file takes no SG_IO */
	prsim_reset();
	const char *plain = tu_temp_file("caw-plain", 4096);
	assert_int_equal(sm_caw_target_of(plain, 2000, &t), -SM_ECAW_UNSUPPORTED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(match_writes_the_new_data, setup, teardown),
		cmocka_unit_test_setup_teardown(miscompare_leaves_the_sector_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(conflict_when_fenced, setup, teardown),
		cmocka_unit_test_setup_teardown(unit_attention_is_sent_again_a_bounded_number_of_times, setup, teardown),
		cmocka_unit_test_setup_teardown(target_without_the_command, setup, teardown),
		cmocka_unit_test_setup_teardown(probe_reads_the_block_limits_page_first, setup, teardown),
		cmocka_unit_test_setup_teardown(probe_on_a_good_target_leaves_the_scratch_sector_as_it_was, setup,
						teardown),
		cmocka_unit_test_setup_teardown(probe_catches_a_target_that_does_not_compare, setup, teardown),
		cmocka_unit_test_setup_teardown(fault_rules_for_compare_and_write, setup, teardown),
		cmocka_unit_test_setup_teardown(the_target_is_named_and_lio_is_a_known_defect, setup, teardown),
		cmocka_unit_test_setup_teardown(fault_rules_file_for_compare_and_write, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
