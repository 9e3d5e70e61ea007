/* Delta leases by COMPARE AND WRITE (src/lease/delta.c on a volume formatted
 * with lease_io caw; docs/algorithms.md §7.2, tests/model/caw.pml SCEN=2)
 * over the SBC-3 emulator (prsim): the I/O pattern of a join of a free slot
 * (one read, one CAW, no wait), join races (a competitor's claim between our
 * read and our CAW; threads), renewal as one CAW, a slot overwritten behind
 * our back, in-doubt renewals and claims, leave, a takeover after H, and that a Paxos
 * volume sends no CAW at all.
 *
 * The clock is faked (d = 1 s, W = 3 s: R = 2 s, F = 8 s, H = 11 s) so that
 * "did not wait" is exact: a join that slept would move it. */
#include "testutil.h"

#include "common/clock.h"
#include "disk/disk.h"
#include "disk/fault.h"
#include "disk/syscalls.h"
#include "lease/delta.h"
#include "ondisk/volume.h"
#include "prsim.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#define NHOSTS 4
#define OP_COMPARE_AND_WRITE 0x89

static const char *vol;
static int lu;

/* force: a test may format anew over its own volume */
static void format(uint32_t lease_io)
{
	struct sm_format_params p = {.lockspace = "ls", .max_hosts = NHOSTS, .resources = 2, .io_timeout_ms = 1000,
				     .watchdog_timeout_ms = 3000, .lease_io = lease_io, .force = true};
	assert_int_equal(sm_volume_format(vol, 0, &p, NULL), 0);
}

static int setup_lu(void)
{
	tu_reset_faults();
	prsim_reset();
	prsim_install();
	sm_fault_install();
	tu_fake_clock_install();
	vol = tu_temp_file("delta-caw", 1 << 20);
	lu = prsim_add_lu(vol, NULL);
	assert_true(lu >= 0);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	setup_lu();
	format(SM_LEASE_IO_CAW);
	return 0;
}

static int setup_paxos(void **state)
{
	(void)state;
	setup_lu();
	format(SM_LEASE_IO_PAXOS);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_reset_faults();
	prsim_reset();
	tu_cleanup_files();
	return 0;
}

/* A host: its own lockspace handle, opened as initiator name. */
static struct sm_lockspace *host(const char *name)
{
	prsim_set_initiator(name);
	struct sm_lockspace *ls;
	assert_int_equal(sm_lockspace_open(vol, 0, &ls), 0);
	return ls;
}

static int join(struct sm_lockspace *ls, uint32_t id, const char *name)
{
	struct sm_join_opts o = {.host_id = id, .host_name = name};
	return sm_lockspace_join(ls, &o);
}

static void stats(struct sm_lockspace *ls, struct sm_disk_stats *s)
{
	sm_disk_get_stats(sm_lockspace_volume(ls)->disk, s);
}

/* The record of host_id as the storage has it now. */
static struct sm_host_record on_disk(uint32_t id)
{
	uint8_t sec[512];
	int fd = open(vol, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, sec, 512, (off_t)id * 512), 512); /* host area from sector 1 */
	close(fd);
	struct sm_host_record r;
	assert_int_equal(sm_host_decode(sec, &r, "ls", 512), 0);
	return r;
}

/* Another host's record for host_id, written straight to the storage. */
static void overwrite_slot(uint32_t id, uint64_t generation, const char *name)
{
	struct sm_host_record r = {.flags = SM_HOST_HELD, .sector_size = 512, .host_id = id, .generation = generation,
				   .io_timeout_ms = 1000};
	strcpy(r.lockspace, "ls");
	strcpy(r.host_name, name);
	memset(r.instance, 0xee, 16);
	uint8_t sec[512] = {0};
	sm_host_encode(&r, sec);
	int fd = open(vol, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, sec, 512, (off_t)id * 512), 512);
	close(fd);
}

/* ---- something happens just before our next COMPARE AND WRITE ------------- */

static int (*next_sg_io)(int fd, struct sg_io_hdr *hdr);
static void (*before_caw)(void);

static int sg_io_with_hook(int fd, struct sg_io_hdr *hdr)
{
	const uint8_t *cdb = hdr->cmdp;
	if (before_caw && cdb && cdb[0] == OP_COMPARE_AND_WRITE) {
		void (*f)(void) = before_caw;
		before_caw = NULL; /* once; f's own commands pass through */
		f();
	}
	return next_sg_io(fd, hdr);
}

static void hook_next_caw(void (*f)(void))
{
	if (sm_disk_sys.sg_io != sg_io_with_hook) {
		next_sg_io = sm_disk_sys.sg_io;
		sm_disk_sys.sg_io = sg_io_with_hook;
	}
	before_caw = f;
}

static int progress_calls;
static void count_progress(void *arg, const char *what, uint64_t remaining_ms)
{
	(void)arg, (void)what, (void)remaining_ms;
	progress_calls++;
}

/* 1 */
static void join_of_a_free_slot_is_one_read_and_one_caw_without_waiting(void **state)
{
	(void)state;
	struct sm_lockspace *a = host("a");
	struct sm_disk_stats s0, s1;
	stats(a, &s0);
	unsigned c0 = prsim_caw_commands(lu);
	uint64_t t0 = tu_fake_clock_now();
	progress_calls = 0;
	struct sm_join_opts o = {.host_id = 2, .host_name = "host-a", .progress = count_progress};
	assert_int_equal(sm_lockspace_join(a, &o), 0);
	/* no sleep at all (the Paxos join sleeps J = 2.1 s here), nothing to report */
	assert_int_equal(tu_fake_clock_now() - t0, 0);
	assert_int_equal(progress_calls, 0);
	/* round trips: the host area read (the CAW compares against what it
	 * found), the CAW (and, on first use of the handle only, the Block
	 * Limits INQUIRY): no plain write, no second read, no re-read */
	stats(a, &s1);
	assert_int_equal(s1.reads - s0.reads, 1);
	assert_int_equal(s1.writes - s0.writes, 0);
	assert_int_equal(prsim_caw_commands(lu) - c0, 1);
	assert_int_equal(prsim_caw_writes(lu), 1);
	struct sm_lockspace_info info;
	sm_lockspace_info(a, &info);
	assert_true(info.joined);
	assert_int_equal(info.host_id, 2);
	assert_int_equal(info.generation, 1);
	struct sm_host_record r = on_disk(2);
	assert_int_equal(r.flags, SM_HOST_HELD);
	assert_int_equal(r.generation, 1);
	assert_string_equal(r.host_name, "host-a");
	sm_lockspace_free(a);
}

/* 2: B's whole join lands between A's read of the free slot and A's CAW. */
static struct sm_lockspace *racer;
static uint32_t racer_id;
static void racer_joins(void)
{
	prsim_set_initiator("b");
	assert_int_equal(join(racer, racer_id, "b"), 0);
	prsim_set_initiator("a");
}

static void a_claim_racing_another_for_a_requested_host_id_is_busy(void **state)
{
	(void)state;
	struct sm_lockspace *a = host("a"), *b = host("b");
	racer = b, racer_id = 1;
	hook_next_caw(racer_joins);
	prsim_set_initiator("a");
	assert_int_equal(join(a, 1, "a"), -SM_EHOSTID_BUSY);
	struct sm_lockspace_info ia, ib;
	sm_lockspace_info(a, &ia);
	sm_lockspace_info(b, &ib);
	assert_false(ia.joined);
	assert_true(ib.joined);
	assert_int_equal(ib.generation, 1);
	/* A's CAW miscompared: B's claim is untouched */
	assert_int_equal(prsim_caw_commands(lu), 2);
	assert_int_equal(prsim_caw_writes(lu), 1);
	struct sm_host_record r = on_disk(1);
	assert_string_equal(r.host_name, "b");
	assert_int_equal(r.generation, 1);
	assert_int_equal(sm_lockspace_renew(b), 0);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

static void a_claim_racing_another_by_name_takes_the_next_free_host_id(void **state)
{
	(void)state;
	struct sm_lockspace *a = host("a"), *b = host("b");
	racer = b, racer_id = 1;
	hook_next_caw(racer_joins);
	prsim_set_initiator("a");
	uint64_t t0 = tu_fake_clock_now();
	assert_int_equal(join(a, 0, "a"), 0);
	assert_int_equal(tu_fake_clock_now() - t0, 0);
	struct sm_lockspace_info ia, ib;
	sm_lockspace_info(a, &ia);
	sm_lockspace_info(b, &ib);
	assert_int_equal(ib.host_id, 1);
	assert_int_equal(ia.host_id, 2);
	assert_string_equal(on_disk(1).host_name, "b");
	assert_string_equal(on_disk(2).host_name, "a");
	assert_int_equal(prsim_caw_commands(lu), 3); /* B's, A's miscompare, A's second */
	assert_int_equal(prsim_caw_writes(lu), 2);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

struct joiner {
	pthread_t t;
	struct sm_lockspace *ls;
	char name[16];
	int rc;
	uint32_t host_id;
};

static void *joiner_main(void *arg)
{
	struct joiner *j = arg;
	j->rc = join(j->ls, 0, j->name);
	struct sm_lockspace_info info;
	sm_lockspace_info(j->ls, &info);
	j->host_id = info.host_id;
	return NULL;
}

static void threads_joining_by_name_at_once_get_distinct_host_ids(void **state)
{
	(void)state;
	sm_clock = sm_clock_default; /* several threads: the real clock (no wait is expected) */
	for (int round = 0; round < 10; round++) {
		format(SM_LEASE_IO_CAW);
		unsigned w0 = prsim_caw_writes(lu);
		struct joiner j[NHOSTS];
		for (int i = 0; i < NHOSTS; i++) {
			snprintf(j[i].name, sizeof(j[i].name), "t%d", i);
			j[i].ls = host(j[i].name);
		}
		for (int i = 0; i < NHOSTS; i++)
			assert_int_equal(pthread_create(&j[i].t, NULL, joiner_main, &j[i]), 0);
		for (int i = 0; i < NHOSTS; i++)
			pthread_join(j[i].t, NULL);
		unsigned seen = 0;
		for (int i = 0; i < NHOSTS; i++) {
			assert_int_equal(j[i].rc, 0);
			assert_true(j[i].host_id >= 1 && j[i].host_id <= NHOSTS);
			assert_false(seen & 1u << j[i].host_id); /* exactly one owner per host_id */
			seen |= 1u << j[i].host_id;
			struct sm_host_record r = on_disk(j[i].host_id);
			assert_string_equal(r.host_name, j[i].name);
			assert_int_equal(r.generation, 1);
		}
		/* every CAW that wrote was a winning claim */
		assert_int_equal(prsim_caw_writes(lu) - w0, NHOSTS);
		for (int i = 0; i < NHOSTS; i++)
			sm_lockspace_free(j[i].ls);
	}
}

/* 3 */
static void renewal_is_one_caw(void **state)
{
	(void)state;
	struct sm_lockspace *a = host("a");
	assert_int_equal(join(a, 1, "a"), 0);
	for (uint64_t seq = 1; seq <= 3; seq++) {
		struct sm_disk_stats s0, s1;
		stats(a, &s0);
		unsigned c0 = prsim_caw_commands(lu), w0 = prsim_caw_writes(lu);
		tu_fake_clock_advance(2000);
		assert_int_equal(sm_lockspace_renew(a), 0);
		stats(a, &s1);
		assert_int_equal(s1.reads - s0.reads, 1); /* the observation of every host */
		assert_int_equal(s1.writes - s0.writes, 0);
		assert_int_equal(prsim_caw_commands(lu) - c0, 1);
		assert_int_equal(prsim_caw_writes(lu) - w0, 1);
		struct sm_host_record r = on_disk(1);
		assert_int_equal(r.sequence, seq);
		assert_int_equal(r.generation, 1);
	}
	/* the attention mark goes out with the next renewal's CAW */
	assert_int_equal(sm_lockspace_attention(a, 3), 0);
	assert_int_equal(on_disk(1).attention_host_id, 3);
	assert_int_equal(sm_lockspace_renew(a), 0);
	sm_lockspace_free(a);
}

static void overwrite_slot_1(void) { overwrite_slot(1, 2, "thief"); }

static void renewal_after_our_slot_was_overwritten_miscompares_and_is_lost(void **state)
{
	(void)state;
	struct sm_lockspace *a = host("a");
	assert_int_equal(join(a, 1, "a"), 0);
	assert_int_equal(sm_lockspace_renew(a), 0);
	/* the foreign record lands after the renewal's read, before its CAW */
	hook_next_caw(overwrite_slot_1);
	unsigned c0 = prsim_caw_commands(lu), w0 = prsim_caw_writes(lu);
	assert_int_equal(sm_lockspace_renew(a), -SM_ELOCKSPACE_LOST);
	assert_int_equal(prsim_caw_commands(lu) - c0, 1);
	assert_int_equal(prsim_caw_writes(lu) - w0, 0);
	struct sm_host_record r = on_disk(1);
	assert_string_equal(r.host_name, "thief"); /* never overwritten by us */
	assert_int_equal(r.generation, 2);
	struct sm_lockspace_info info;
	sm_lockspace_info(a, &info);
	assert_true(info.lost);
	/* fail-closed: never renewed or freed again */
	assert_int_equal(sm_lockspace_renew(a), -SM_ELOCKSPACE_LOST);
	assert_int_equal(sm_lockspace_leave(a), -SM_ELOCKSPACE_LOST);
	assert_int_equal(prsim_caw_writes(lu) - w0, 0);
	assert_string_equal(on_disk(1).host_name, "thief");
	sm_lockspace_free(a);
}

/* 4 */
static void a_renewal_caw_that_timed_out_but_executed_goes_on(void **state)
{
	(void)state;
	struct sm_lockspace *a = host("a");
	assert_int_equal(join(a, 1, "a"), 0);
	unsigned c0 = prsim_caw_commands(lu), w0 = prsim_caw_writes(lu);
	struct sm_fault_rule r = {.op = SM_FAULT_CAW, .kind = SM_FAULT_DONE_ERRNO, .err = ETIMEDOUT, .count = 1};
	assert_int_equal(sm_fault_add(&r), 0);
	assert_int_equal(sm_lockspace_renew(a), 0); /* the read shows what we attempted */
	assert_int_equal(sm_fault_hits(), 1);
	assert_int_equal(prsim_caw_commands(lu) - c0, 1);
	assert_int_equal(prsim_caw_writes(lu) - w0, 1);
	assert_int_equal(on_disk(1).sequence, 1);
	/* and the next renewal compares against it */
	tu_fake_clock_advance(2000);
	assert_int_equal(sm_lockspace_renew(a), 0);
	assert_int_equal(on_disk(1).sequence, 2);
	assert_int_equal(prsim_caw_writes(lu) - w0, 2);
	sm_lockspace_free(a);
}

static void a_renewal_caw_that_timed_out_unexecuted_is_sent_again(void **state)
{
	(void)state;
	struct sm_lockspace *a = host("a");
	assert_int_equal(join(a, 1, "a"), 0);
	unsigned c0 = prsim_caw_commands(lu), w0 = prsim_caw_writes(lu);
	struct sm_fault_rule r = {.op = SM_FAULT_CAW, .kind = SM_FAULT_ERRNO, .err = ETIMEDOUT, .count = 1};
	assert_int_equal(sm_fault_add(&r), 0);
	assert_int_equal(sm_lockspace_renew(a), 0); /* the read shows our last record: one more CAW from it */
	assert_int_equal(sm_fault_hits(), 1);
	assert_int_equal(prsim_caw_commands(lu) - c0, 1); /* the first never reached the device */
	assert_int_equal(prsim_caw_writes(lu) - w0, 1);
	assert_int_equal(on_disk(1).sequence, 1);
	tu_fake_clock_advance(2000);
	assert_int_equal(sm_lockspace_renew(a), 0);
	assert_int_equal(on_disk(1).sequence, 2);
	sm_lockspace_free(a);
}

/* In doubt, and the read that would tell fails too: the renewal fails; the
 * next one's read finds the attempt landed and goes on from it. */
static void an_unresolved_renewal_caw_is_resolved_by_the_next_renewal(void **state)
{
	(void)state;
	struct sm_lockspace *a = host("a");
	assert_int_equal(join(a, 1, "a"), 0);
	struct sm_fault_rule caw = {.op = SM_FAULT_CAW, .kind = SM_FAULT_DONE_ERRNO, .err = ETIMEDOUT, .count = 1};
	/* reads: the renewal's host area read passes, the slot read fails */
	struct sm_fault_rule rd = {.op = SM_FAULT_READ, .kind = SM_FAULT_ERRNO, .err = EIO, .nth = 2, .count = 1};
	assert_int_equal(sm_fault_add(&caw), 0);
	assert_int_equal(sm_fault_add(&rd), 0);
	assert_int_equal(sm_lockspace_renew(a), -SM_EIO_TIMEOUT);
	assert_int_equal(sm_fault_hits(), 2);
	assert_int_equal(on_disk(1).sequence, 1); /* it landed */
	sm_fault_clear();
	tu_fake_clock_advance(2000);
	assert_int_equal(sm_lockspace_renew(a), 0);
	assert_int_equal(on_disk(1).sequence, 2);
	struct sm_lockspace_info info;
	sm_lockspace_info(a, &info);
	assert_false(info.lost);
	sm_lockspace_free(a);
}

/* A claim CAW in doubt: the read of the slot tells whether it executed. */
static void a_join_caw_in_doubt_is_resolved_by_reading_the_slot(void **state)
{
	(void)state;
	struct sm_lockspace *a = host("a"), *b = host("b");
	/* executed, the answer lost: the read shows our claim: joined */
	struct sm_fault_rule r = {.op = SM_FAULT_CAW, .kind = SM_FAULT_DONE_ERRNO, .err = ETIMEDOUT, .count = 1};
	assert_int_equal(sm_fault_add(&r), 0);
	assert_int_equal(join(a, 1, "a"), 0);
	assert_int_equal(prsim_caw_writes(lu), 1);
	assert_int_equal(on_disk(1).generation, 1);
	/* not executed: the read shows the free slot: start over, one more CAW */
	sm_fault_clear();
	r.kind = SM_FAULT_ERRNO;
	assert_int_equal(sm_fault_add(&r), 0);
	unsigned c0 = prsim_caw_commands(lu), h0 = sm_fault_hits();
	assert_int_equal(join(b, 2, "b"), 0);
	assert_int_equal(sm_fault_hits() - h0, 1);
	assert_int_equal(prsim_caw_commands(lu) - c0, 1);
	assert_int_equal(on_disk(2).generation, 1);
	assert_string_equal(on_disk(2).host_name, "b");
	assert_int_equal(sm_lockspace_renew(a), 0);
	assert_int_equal(sm_lockspace_renew(b), 0);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

/* 5 */
static void leave_frees_the_slot_by_caw_and_a_rejoin_needs_no_wait(void **state)
{
	(void)state;
	struct sm_lockspace *a = host("a");
	assert_int_equal(join(a, 1, "a"), 0);
	assert_int_equal(sm_lockspace_renew(a), 0);
	struct sm_disk_stats s0, s1;
	stats(a, &s0);
	unsigned c0 = prsim_caw_commands(lu);
	assert_int_equal(sm_lockspace_leave(a), 0);
	stats(a, &s1);
	assert_int_equal(s1.writes - s0.writes, 0);
	assert_int_equal(prsim_caw_commands(lu) - c0, 1);
	struct sm_host_record r = on_disk(1);
	assert_int_equal(r.flags, SM_HOST_FREE);
	assert_int_equal(r.generation, 1); /* kept */
	struct sm_lockspace_info info;
	sm_lockspace_info(a, &info);
	assert_false(info.joined);
	struct sm_lockspace *b = host("b");
	uint64_t t0 = tu_fake_clock_now();
	assert_int_equal(join(b, 1, "b"), 0);
	assert_int_equal(tu_fake_clock_now() - t0, 0);
	assert_int_equal(on_disk(1).generation, 2);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

/* A slot held by a host that stopped renewing: the usual wait for H, then
 * the same CAW (no 2d after it); the old holder finds itself lost. */
static void a_dead_holders_slot_is_taken_by_caw_after_h(void **state)
{
	(void)state;
	struct sm_lockspace *a = host("a"), *b = host("b");
	assert_int_equal(join(a, 1, "a"), 0);
	uint64_t t0 = tu_fake_clock_now();
	unsigned c0 = prsim_caw_commands(lu);
	assert_int_equal(join(b, 1, "b"), 0);
	uint64_t waited = tu_fake_clock_now() - t0;
	assert_true(waited > 11000);
	assert_true(waited <= 11000 + 2000 + 1000); /* H, up to one R step, d: no J */
	assert_int_equal(prsim_caw_commands(lu) - c0, 1);
	assert_int_equal(on_disk(1).generation, 2);
	assert_int_equal(sm_lockspace_renew(a), -SM_ELOCKSPACE_LOST);
	assert_int_equal(on_disk(1).generation, 2);
	assert_int_equal(sm_lockspace_renew(b), 0);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

/* 5: a Paxos volume on the same device keeps plain writes and the 2d wait. */
static void a_paxos_volume_sends_no_caw(void **state)
{
	(void)state;
	struct sm_lockspace *a = host("a");
	uint64_t t0 = tu_fake_clock_now();
	assert_int_equal(join(a, 1, "a"), 0);
	assert_int_equal(tu_fake_clock_now() - t0, 2100);
	assert_int_equal(sm_lockspace_renew(a), 0);
	assert_int_equal(sm_lockspace_leave(a), 0);
	assert_int_equal(prsim_caw_commands(lu), 0);
	assert_int_equal(on_disk(1).flags, SM_HOST_FREE);
	sm_lockspace_free(a);
}

/* A host whose path cannot do COMPARE AND WRITE (here: a target that
 * answers the opcode with ILLEGAL REQUEST, as tgt does) refuses to join,
 * naming why, and writes nothing. */
static void a_host_whose_device_cannot_caw_refuses_to_join(void **state)
{
	(void)state;
	setup_lu();
	const char *plain = tu_temp_file("delta-nocaw", 1 << 20);
	struct prsim_lu_opts tgt = {.no_caw = true, .caw_len_advertised = 1};
	int nocaw = prsim_add_lu(plain, &tgt);
	assert_true(nocaw >= 0);
	struct sm_format_params p = {.lockspace = "ls", .max_hosts = NHOSTS, .resources = 2, .io_timeout_ms = 1000,
				     .watchdog_timeout_ms = 3000, .lease_io = SM_LEASE_IO_CAW, .force = true};
	assert_int_equal(sm_volume_format(plain, 0, &p, NULL), 0);
	prsim_set_initiator("a");
	struct sm_lockspace *a;
	assert_int_equal(sm_lockspace_open(plain, 0, &a), 0);
	struct sm_disk_stats s0, s1;
	stats(a, &s0);
	struct sm_join_opts o = {.host_id = 1, .host_name = "a"};
	assert_int_equal(sm_lockspace_join(a, &o), -SM_ECAW_UNSUPPORTED);
	stats(a, &s1);
	assert_int_equal(s1.writes - s0.writes, 0);
	assert_int_equal(prsim_caw_writes(nocaw), 0);
	struct sm_host_status hs;
	assert_int_equal(sm_lockspace_host_status(a, 1, &hs), 0);
	assert_int_equal(hs.rec.flags, SM_HOST_FREE);
	sm_lockspace_free(a);
	teardown(state);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(join_of_a_free_slot_is_one_read_and_one_caw_without_waiting),
		T(a_claim_racing_another_for_a_requested_host_id_is_busy),
		T(a_claim_racing_another_by_name_takes_the_next_free_host_id),
		T(threads_joining_by_name_at_once_get_distinct_host_ids),
		T(renewal_is_one_caw),
		T(renewal_after_our_slot_was_overwritten_miscompares_and_is_lost),
		T(a_renewal_caw_that_timed_out_but_executed_goes_on),
		T(a_renewal_caw_that_timed_out_unexecuted_is_sent_again),
		T(an_unresolved_renewal_caw_is_resolved_by_the_next_renewal),
		T(a_join_caw_in_doubt_is_resolved_by_reading_the_slot),
		T(leave_frees_the_slot_by_caw_and_a_rejoin_needs_no_wait),
		T(a_dead_holders_slot_is_taken_by_caw_after_h),
		cmocka_unit_test_setup_teardown(a_paxos_volume_sends_no_caw, setup_paxos, teardown),
		cmocka_unit_test(a_host_whose_device_cannot_caw_refuses_to_join),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
