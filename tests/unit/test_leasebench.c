/* lab-leasebench (lab/leasebench.c, scenario caw-bench) on the SBC-3
 * emulator (prsim): the figures it prints for issue 14's table are the I/O
 * the lease library really did.  The emulator counts COMPARE AND WRITE
 * commands itself, so the tool's own SG_IO count is checked against it; the
 * per-operation counts are those test_atomic.c asserts (an acquire with a
 * remembered image is one COMPARE AND WRITE and no read; the first one reads
 * the leader sector once), and Disk Paxos does no COMPARE AND WRITE.  The
 * join of a free slot (issue 14: at most 3 round trips, no timed wait): on
 * the CAW volume one read of the host area, one COMPARE AND WRITE and the
 * handle's Block Limits INQUIRY, and no sleep on the fake clock; on the Disk
 * Paxos volume no CAW and a sleep of at least 2d each time. */
#define LEASEBENCH_NO_MAIN
#include "../../lab/leasebench.c"

#include "prsim.h"
#include "testutil.h"

#include <stdio.h>

#define N 20

static char *figures;
static size_t figures_len;
static int lu;

/* the value of "lb.NAME V UNIT" in the figures; fails the test when absent */
static double figure(const char *name)
{
	char key[96];
	snprintf(key, sizeof(key), "\nlb.%s ", name);
	const char *p = strstr(figures, key);
	if (!p)
		fail_msg("lab-leasebench printed no lb.%s:\n%s", name, figures);
	return strtod(p + strlen(key), NULL);
}

static int setup(void **state)
{
	(void)state;
	tu_reset_faults();
	prsim_reset();
	prsim_install();
	const char *path = tu_temp_file("leasebench-lu", 48ull << 20);
	lu = prsim_add_lu(path, NULL);
	assert_true(lu >= 0);
	tu_fake_clock_install(); /* the Disk Paxos join's 2d wait moves only this clock */
	lb_paxos_joins = 2;
	FILE *f = open_memstream(&figures, &figures_len);
	assert_non_null(f);
	fputc('\n', f); /* every figure then follows a newline */
	assert_int_equal(lb_run(path, N, 1000, f), 0);
	fclose(f);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(figures);
	tu_reset_faults();
	prsim_reset();
	tu_cleanup_files();
	return 0;
}

static void the_counted_caws_are_the_emulators(void **state)
{
	(void)state;
	/* the probe (2 CAWs) + N raw + (1 first + N) acquires + (1 + N) releases
	 * + (1 first + N) joins + (1 + N) leaves; the Disk Paxos volumes none */
	double per_op = figure("caw_acquire_caw") * N + figure("caw_release_caw") * N + figure("caw_first_acquire_caw");
	double joins = figure("caw_join_caw") * N + figure("caw_join_first_caw") + figure("caw_leave_caw") * (N + 1);
	assert_int_equal((unsigned)(2 + N + per_op + 1 + joins + 0.5), prsim_caw_commands(lu));
}

static void a_caw_acquire_is_one_caw_and_the_first_one_reads_once(void **state)
{
	(void)state;
	assert_true(figure("caw_acquire_caw") == 1.0);
	assert_true(figure("caw_acquire_caw_bytes") == 1024);
	assert_true(figure("caw_acquire_reads") + figure("caw_acquire_sg_reads") == 0);
	assert_true(figure("caw_acquire_writes") == 0);
	assert_true(figure("caw_release_caw") == 1.0);
	assert_true(figure("caw_release_reads") + figure("caw_release_sg_reads") == 0);
	assert_true(figure("caw_first_acquire_caw") == 1.0);
	assert_true(figure("caw_first_acquire_reads") + figure("caw_first_acquire_sg_reads") == 1);
	assert_true(figure("caw_first_acquire_bytes_read") == 512);
}

static void disk_paxos_reads_and_writes_and_does_no_caw(void **state)
{
	(void)state;
	assert_true(figure("paxos_acquire_caw") == 0);
	assert_true(figure("paxos_acquire_reads") >= 2);
	assert_true(figure("paxos_acquire_writes") >= 2);
	/* whole areas: 130 sectors of 512 bytes for 128 hosts */
	assert_true(figure("paxos_acquire_bytes_read") >= 2 * 130 * 512);
	assert_true(figure("paxos_release_caw") == 0);
}

static void a_caw_join_of_a_free_slot_is_three_round_trips_without_waiting(void **state)
{
	(void)state;
	const char *joins[] = {"caw_join_first", "caw_join"};
	for (size_t i = 0; i < 2; i++) {
		char k[64];
#define F(suffix) (snprintf(k, sizeof(k), "%s_%s", joins[i], suffix), figure(k))
		assert_true(F("reads") == 1.0);      /* the host area */
		assert_true(F("caw") == 1.0);        /* the claim */
		assert_true(F("sg_other") == 1.0);  /* Block Limits INQUIRY: a fresh handle each join */
		assert_true(F("writes") + F("sg_reads") == 0);
		assert_true(F("round_trips") == 3.0);
#undef F
	}
	assert_true(figure("caw_join_clock_max") == 0); /* never slept */
	assert_true(figure("caw_leave_caw") == 1.0 && figure("caw_leave_writes") == 0);
	assert_true(figure("caw_join_host_id") == 1);
}

static void a_disk_paxos_join_waits_2d_and_does_no_caw(void **state)
{
	(void)state;
	assert_true(figure("paxos_join_clock_min") >= 2 * 1000);
	assert_true(figure("paxos_join_caw") == 0 && figure("paxos_join_first_caw") == 0);
	assert_true(figure("paxos_join_writes") >= 1 && figure("paxos_join_reads") >= 2); /* claim; read, re-read */
	assert_true(figure("paxos_join_n") == 2);
}

static void every_latency_is_printed(void **state)
{
	(void)state;
	const char *names[] = {"raw_read", "raw_caw",  "caw_acquire", "caw_release", "paxos_acquire",
			       "paxos_release", "caw_join", "caw_leave", "paxos_join", "paxos_leave"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char k[64];
		snprintf(k, sizeof(k), "%s_median", names[i]);
		double med = figure(k);
		snprintf(k, sizeof(k), "%s_p90", names[i]);
		assert_true(med > 0 && figure(k) >= med);
	}
	assert_true(figure("n") == N && figure("max_hosts") == 128 && figure("d") == 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_counted_caws_are_the_emulators),
		cmocka_unit_test(a_caw_acquire_is_one_caw_and_the_first_one_reads_once),
		cmocka_unit_test(disk_paxos_reads_and_writes_and_does_no_caw),
		cmocka_unit_test(a_caw_join_of_a_free_slot_is_three_round_trips_without_waiting),
		cmocka_unit_test(a_disk_paxos_join_waits_2d_and_does_no_caw),
		cmocka_unit_test(every_latency_is_printed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
