/* Delta leases: joining, renewing, liveness, leaving, resuming. */
#include "testutil.h"

#include "common/clock.h"
#include "common/util.h"
#include "disk/disk.h"
#include "disk/fault.h"
#include "disk/syscalls.h"
#include "lease/delta.h"
#include "ondisk/volume.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* d = 1 s, W = 3 s: R = 2 s, F = 8 s, H = 11 s (fake clock, so instant). */
static const char *vol;

static int setup(void **state)
{
	tu_reset_faults();
	tu_fake_clock_install();
	vol = tu_temp_file("delta", 0);
	struct sm_format_params p = {.lockspace = "ls", .max_hosts = 4, .resources = 2, .io_timeout_ms = 1000,
				     .watchdog_timeout_ms = 3000};
	assert_int_equal(sm_volume_format(vol, 0, &p, NULL), 0);
	return 0;
}

static int teardown(void **state)
{
	tu_reset_faults();
	tu_cleanup_files();
	return 0;
}

static struct sm_lockspace *host(void)
{
	struct sm_lockspace *ls;
	assert_int_equal(sm_lockspace_open(vol, 0, &ls), 0);
	return ls;
}

static void join_as(struct sm_lockspace *ls, uint32_t id, const char *name)
{
	struct sm_join_opts o = {.host_id = id, .host_name = name};
	assert_int_equal(sm_lockspace_join(ls, &o), 0);
}

static void timeouts_follow_the_formulas(void **state)
{
	struct sm_timeouts t;
	sm_timeouts_derive(10000, 60000, &t);
	assert_int_equal(t.renew_ms, 20000);
	assert_int_equal(t.fail_ms, 80000);
	assert_int_equal(t.host_dead_ms, 140000); /* sanlock's default */
	assert_int_equal(t.join_wait_ms, 20100); /* strictly more than 2d */
	assert_true(t.kill_grace_ms < t.watchdog_ms);
}

static void join_free_slot_waits_2d_and_sets_generation_1(void **state)
{
	struct sm_lockspace *a = host();
	uint64_t t0 = tu_fake_clock_now();
	join_as(a, 2, "host-a");
	assert_int_equal(tu_fake_clock_now() - t0, 2100);
	struct sm_lockspace_info info;
	sm_lockspace_info(a, &info);
	assert_true(info.joined);
	assert_int_equal(info.host_id, 2);
	assert_int_equal(info.generation, 1);
	assert_string_equal(info.host_name, "host-a");

	struct sm_lockspace *b = host();
	assert_int_equal(sm_lockspace_observe(b), 0);
	struct sm_host_status st;
	assert_int_equal(sm_lockspace_host_status(b, 2, &st), 0);
	assert_int_equal(st.rec.flags, SM_HOST_HELD);
	assert_int_equal(st.rec.generation, 1);
	assert_int_equal(st.state, SM_LIVE_UNKNOWN); /* one sighting proves nothing */
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

static void liveness_moves_from_unknown_to_live_failing_dead(void **state)
{
	struct sm_lockspace *a = host(), *b = host();
	join_as(a, 1, "a");
	struct sm_host_status st;
	assert_int_equal(sm_lockspace_observe(b), 0);
	assert_int_equal(sm_lockspace_renew(a), 0);
	assert_int_equal(sm_lockspace_observe(b), 0);
	sm_lockspace_host_status(b, 1, &st);
	assert_int_equal(st.state, SM_LIVE_LIVE);
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, 1, 0), SM_OWNER_ALIVE);

	tu_fake_clock_advance(8001); /* > F without a renewal */
	assert_int_equal(sm_lockspace_observe(b), 0);
	sm_lockspace_host_status(b, 1, &st);
	assert_int_equal(st.state, SM_LIVE_FAILING);
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, 1, 0), SM_OWNER_ALIVE);

	tu_fake_clock_advance(2999); /* unchanged for exactly H: not yet */
	assert_int_equal(sm_lockspace_observe(b), 0);
	sm_lockspace_host_status(b, 1, &st);
	assert_int_equal(st.unchanged_ms, 11000);
	assert_int_equal(st.state, SM_LIVE_FAILING);
	tu_fake_clock_advance(1); /* strictly more than H */
	assert_int_equal(sm_lockspace_observe(b), 0);
	sm_lockspace_host_status(b, 1, &st);
	assert_int_equal(st.state, SM_LIVE_DEAD);
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, 1, 0), SM_OWNER_DEAD);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

static void time_without_a_successful_read_is_not_evidence_of_death(void **state)
{
	struct sm_lockspace *a = host(), *b = host();
	join_as(a, 1, "a");
	assert_int_equal(sm_lockspace_observe(b), 0);
	tu_fake_clock_advance(60000); /* b read nothing in between */
	struct sm_host_status st;
	sm_lockspace_host_status(b, 1, &st);
	assert_int_equal(st.state, SM_LIVE_UNKNOWN);
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, 1, 0), SM_OWNER_UNKNOWN);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

/* Found by the torture test: host 1 died (its record went stale for more
 * than H in b's view), rejoined as generation 2 and acquired a lease before
 * b's next read.  b must not call the new incarnation dead. */
static void expired_record_says_nothing_about_a_newer_generation(void **state)
{
	struct sm_lockspace *a = host(), *b = host();
	join_as(a, 1, "a");
	assert_int_equal(sm_lockspace_observe(b), 0);
	tu_fake_clock_advance(11001); /* a stopped renewing: > H unchanged */
	assert_int_equal(sm_lockspace_observe(b), 0);
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, 1, 0), SM_OWNER_DEAD);
	struct sm_lockspace *a2 = host();
	join_as(a2, 1, "a"); /* generation 2; b has not read since */
	struct sm_lockspace_info info;
	sm_lockspace_info(a2, &info);
	assert_int_equal(info.generation, 2);
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, 2, tu_fake_clock_now()), SM_OWNER_UNKNOWN);
	assert_int_equal(sm_lockspace_observe(b), 0);
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, 1, 0), SM_OWNER_DEAD); /* the old one is gone */
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, 2, 0), SM_OWNER_ALIVE); /* the record changed */
	sm_lockspace_free(a);
	sm_lockspace_free(a2);
	sm_lockspace_free(b);
}

/* An unreadable record is evidence of death only when it stayed unchanged
 * for H as seen by a read issued after the owner was seen. */
static void unreadable_record_needs_a_fresh_read_to_count_as_dead(void **state)
{
	struct sm_lockspace *a = host(), *b = host();
	join_as(a, 1, "a");
	/* Corrupt host 1's record (one byte of its checksummed fields). */
	const struct sm_volume_header *h = sm_lockspace_header(a);
	int fd = open(vol, O_RDWR);
	assert_true(fd >= 0);
	uint8_t byte = 0x5a;
	assert_int_equal(pwrite(fd, &byte, 1, (off_t)sm_volume_host_offset(h, 1) + 40), 1);
	close(fd);
	assert_int_equal(sm_lockspace_observe(b), 0);
	struct sm_host_status st;
	sm_lockspace_host_status(b, 1, &st);
	assert_int_not_equal(st.record_status, 0);
	tu_fake_clock_advance(11001);
	assert_int_equal(sm_lockspace_observe(b), 0);
	uint64_t leader_read_done = tu_fake_clock_now() + 1; /* an owner seen after b's latest read */
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, 1, leader_read_done), SM_OWNER_UNKNOWN);
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, 1, 0), SM_OWNER_UNKNOWN);
	tu_fake_clock_advance(10);
	assert_int_equal(sm_lockspace_observe(b), 0);
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, 1, leader_read_done), SM_OWNER_DEAD);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

/* The renewal thread reads right when a failing host becomes provably dead. */
static void next_death_check_is_first_sighting_plus_h(void **state)
{
	struct sm_lockspace *a = host(), *b = host();
	join_as(a, 1, "a");
	join_as(b, 2, "b");
	assert_int_equal(sm_lockspace_renew(a), 0);
	assert_int_equal(sm_lockspace_observe(b), 0);
	uint64_t seen = tu_fake_clock_now();
	assert_int_equal(sm_lockspace_next_death_check(b), seen + 11000 + 1); /* H = 11 s; b itself is excluded */
	tu_fake_clock_advance(11001);
	assert_int_equal(sm_lockspace_observe(b), 0); /* issued at seen + H + 1: dead now */
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, 1, 0), SM_OWNER_DEAD);
	assert_int_equal(sm_lockspace_next_death_check(b), UINT64_MAX); /* nobody left to watch */
	assert_int_equal(sm_lockspace_leave(a), 0);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

static void generation_change_or_free_slot_means_old_owner_dead(void **state)
{
	struct sm_lockspace *a = host(), *b = host();
	join_as(a, 1, "a");
	assert_int_equal(sm_lockspace_leave(a), 0);
	join_as(a, 1, "a");
	struct sm_lockspace_info info;
	sm_lockspace_info(a, &info);
	assert_int_equal(info.generation, 2);
	assert_int_equal(sm_lockspace_observe(b), 0);
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, 1, 0), SM_OWNER_DEAD);
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, 2, 0), SM_OWNER_UNKNOWN);
	assert_int_equal(sm_lockspace_owner_verdict(a, 1, 2, 0), SM_OWNER_SELF);
	assert_int_equal(sm_lockspace_owner_verdict(a, 1, 1, 0), SM_OWNER_DEAD);
	assert_int_equal(sm_lockspace_leave(a), 0);
	assert_int_equal(sm_lockspace_observe(b), 0);
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, 2, 0), SM_OWNER_DEAD);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

static void join_of_held_slot_waits_h_then_takes_over_and_old_holder_is_lost(void **state)
{
	struct sm_lockspace *a = host(), *b = host();
	join_as(a, 1, "a");
	uint64_t t0 = tu_fake_clock_now();
	join_as(b, 1, "b"); /* a never renews: b waits > H, then 2d */
	uint64_t waited = tu_fake_clock_now() - t0;
	assert_true(waited > 11000);
	assert_true(waited <= 11000 + 2000 + 2000 + 1000);
	struct sm_lockspace_info info;
	sm_lockspace_info(b, &info);
	assert_int_equal(info.generation, 2);
	assert_int_equal(sm_lockspace_renew(a), -SM_ELOCKSPACE_LOST);
	sm_lockspace_info(a, &info);
	assert_true(info.lost || info.expired);
	assert_int_equal(sm_lockspace_renew(b), 0);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

static struct sm_lockspace *renewer;
static volatile sig_atomic_t cancel_flag;
static uint64_t cancel_at;
static void renew_while_waiting(void)
{
	sm_lockspace_renew(renewer);
	if (tu_fake_clock_now() >= cancel_at)
		cancel_flag = 1;
}

static void join_never_takes_a_slot_whose_holder_keeps_renewing(void **state)
{
	struct sm_lockspace *a = host(), *b = host();
	join_as(a, 1, "a");
	renewer = a;
	cancel_flag = 0;
	cancel_at = tu_fake_clock_now() + 120000; /* ten times H */
	tu_sleep_hook = renew_while_waiting;
	struct sm_join_opts o = {.host_id = 1, .host_name = "b", .cancel = &cancel_flag};
	assert_int_equal(sm_lockspace_join(b, &o), -SM_EINTERRUPTED);
	tu_sleep_hook = NULL;
	struct sm_lockspace_info ia, ib;
	sm_lockspace_info(a, &ia);
	sm_lockspace_info(b, &ib);
	assert_false(ia.lost);
	assert_false(ib.joined);
	assert_int_equal(sm_lockspace_renew(a), 0);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

/* During a's 2d wait, b claims the same free slot. */
static struct sm_lockspace *interloper;
static void interloper_claims(void)
{
	if (!interloper)
		return;
	struct sm_lockspace *b = interloper;
	interloper = NULL;
	/* b's claim goes straight to disk, as if its join raced ours */
	struct sm_host_record r = {.flags = SM_HOST_HELD, .sector_size = 512, .host_id = 1, .generation = 1,
				   .io_timeout_ms = 1000};
	strcpy(r.lockspace, "ls");
	strcpy(r.host_name, "b");
	memset(r.instance, 0xbb, 16);
	uint8_t sec[512] = {0};
	sm_host_encode(&r, sec);
	int fd = open(vol, O_WRONLY);
	assert_int_equal(pwrite(fd, sec, 512, 512), 512);
	close(fd);
	(void)b;
}

static void concurrent_claim_of_a_free_slot_loses_with_hostid_busy(void **state)
{
	struct sm_lockspace *a = host(), *b = host();
	interloper = b;
	tu_sleep_hook = interloper_claims;
	struct sm_join_opts o = {.host_id = 1, .host_name = "a"};
	assert_int_equal(sm_lockspace_join(a, &o), -SM_EHOSTID_BUSY);
	struct sm_lockspace_info info;
	sm_lockspace_info(a, &info);
	assert_false(info.joined);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

static void renewal_fails_at_once_when_the_record_is_overwritten(void **state)
{
	struct sm_lockspace *a = host();
	join_as(a, 3, "a");
	interloper = a;
	interloper_claims(); /* writes a foreign record into slot 1, not 3 */
	assert_int_equal(sm_lockspace_renew(a), 0);
	/* now overwrite slot 3 */
	struct sm_host_record r = {.flags = SM_HOST_HELD, .sector_size = 512, .host_id = 3, .generation = 1};
	strcpy(r.lockspace, "ls");
	uint8_t sec[512] = {0};
	sm_host_encode(&r, sec);
	int fd = open(vol, O_WRONLY);
	assert_int_equal(pwrite(fd, sec, 512, 3 * 512), 512);
	close(fd);
	assert_int_equal(sm_lockspace_renew(a), -SM_ELOCKSPACE_LOST);
	assert_int_equal(sm_lockspace_renew(a), -SM_ELOCKSPACE_LOST);
	assert_int_equal(sm_lockspace_leave(a), -SM_ELOCKSPACE_LOST);
	sm_lockspace_free(a);
}

static void a_timed_out_renewal_that_lands_later_is_still_ours(void **state)
{
	sm_fault_install();
	struct sm_lockspace *a = host();
	join_as(a, 1, "a");
	struct sm_fault_rule hang = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_HANG, .count = 1};
	sm_fault_add(&hang);
	assert_int_equal(sm_lockspace_renew(a), -SM_EIO_TIMEOUT);
	/* while the write is pending in the kernel, no new write to the sector;
	 * the clock moves, so every attempt writes different bytes */
	tu_fake_clock_advance(500);
	assert_int_equal(sm_lockspace_renew(a), -SM_EIO_PENDING);
	tu_fake_clock_advance(500);
	sm_fault_release_hung(true);
	for (int i = 0; i < 200; i++) {
		tu_fake_clock_advance(100);
		int rc = sm_lockspace_renew(a);
		if (rc == 0)
			break;
		assert_int_equal(rc, -SM_EIO_PENDING);
		usleep(5000);
	}
	assert_int_equal(sm_lockspace_renew(a), 0);
	struct sm_renewal_record hist[8];
	int n = sm_lockspace_renewal_history(a, hist, 8);
	assert_true(n >= 3);
	assert_int_equal(hist[n - 1].result, 0);
	sm_lockspace_free(a);
}

static void deadline_counts_from_the_start_of_the_last_good_renewal(void **state)
{
	sm_fault_install();
	struct sm_lockspace *a = host();
	join_as(a, 1, "a");
	assert_int_equal(sm_lockspace_renew(a), 0);
	assert_int_equal(sm_lockspace_remaining_ms(a), 8000);
	struct sm_fault_rule eio = {.op = SM_FAULT_ANY, .kind = SM_FAULT_ERRNO, .err = 5};
	sm_fault_add(&eio);
	tu_fake_clock_advance(2000);
	assert_true(sm_lockspace_renew(a) < 0);
	assert_int_equal(sm_lockspace_remaining_ms(a), 6000);
	tu_fake_clock_advance(6001);
	assert_true(sm_lockspace_remaining_ms(a) < 0);
	struct sm_lockspace_info info;
	sm_lockspace_info(a, &info);
	assert_int_equal(info.renewal_failures, 1);
	sm_lockspace_free(a);
}

static void auto_join_prefers_the_slot_with_our_name_then_a_free_one(void **state)
{
	struct sm_lockspace *a = host(), *b = host();
	join_as(a, 3, "node-a");
	assert_int_equal(sm_lockspace_leave(a), 0);
	struct sm_join_opts o = {.host_name = "node-a"};
	assert_int_equal(sm_lockspace_join(a, &o), 0);
	struct sm_lockspace_info info;
	sm_lockspace_info(a, &info);
	assert_int_equal(info.host_id, 3);
	assert_int_equal(info.generation, 2);
	struct sm_join_opts ob = {.host_name = "node-b"};
	assert_int_equal(sm_lockspace_join(b, &ob), 0);
	sm_lockspace_info(b, &info);
	assert_int_equal(info.host_id, 1);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

static struct sm_host_status slot_as_seen(uint32_t id);

/* Before host names defaulted to the hostname they defaulted to the
 * machine-id: a host that joined then finds its slot by that old name. */
static const uint8_t MID[16] = {0x3d, 0x12, 0x19, 0xc7, 0xc4, 0xc5, 0x40, 0x4a,
				0xaa, 0x1f, 0x6d, 0x2a, 0x48, 0xad, 0xfd, 0xa4};
#define MID_HEX "3d1219c7c4c5404aaa1f6d2a48adfda4"

static void a_host_joined_under_its_machine_id_rejoins_its_slot_by_its_new_name(void **state)
{
	struct sm_lockspace *a = host(), *b = host();
	join_as(a, 3, MID_HEX); /* what an older sync_manager wrote */
	assert_int_equal(sm_lockspace_leave(a), 0);
	uint8_t other[16];
	memset(other, 0x77, 16);
	struct sm_join_opts ob = {.host_name = "node-b", .machine_id = other};
	assert_int_equal(sm_lockspace_join(b, &ob), 0);
	struct sm_lockspace_info info;
	sm_lockspace_info(b, &info);
	assert_int_equal(info.host_id, 1); /* another machine does not take it */

	struct sm_join_opts o = {.host_name = "node-a", .machine_id = MID};
	assert_int_equal(sm_lockspace_join(a, &o), 0);
	sm_lockspace_info(a, &info);
	assert_int_equal(info.host_id, 3);
	assert_int_equal(info.generation, 2);
	assert_string_equal(info.host_name, "node-a");
	assert_memory_equal(info.machine_id, MID, 16);
	struct sm_host_status st = slot_as_seen(3);
	assert_string_equal(st.rec.host_name, "node-a"); /* the new name from now on */
	assert_memory_equal(st.rec.machine_id, MID, 16);
	assert_int_equal(sm_lockspace_renew(a), 0);
	st = slot_as_seen(3);
	assert_memory_equal(st.rec.machine_id, MID, 16); /* renewals keep it */

	/* the name wins over the alias; an explicit alias (the admin's) works too */
	assert_int_equal(sm_lockspace_leave(a), 0);
	assert_int_equal(sm_lockspace_leave(b), 0);
	join_as(b, 2, MID_HEX "-admin");
	assert_int_equal(sm_lockspace_leave(b), 0);
	struct sm_join_opts adm = {.host_name = "node-a-admin", .alias = MID_HEX "-admin", .machine_id = MID};
	assert_int_equal(sm_lockspace_join(b, &adm), 0);
	sm_lockspace_info(b, &info);
	assert_int_equal(info.host_id, 2);
	assert_int_equal(sm_lockspace_join(a, &o), 0);
	sm_lockspace_info(a, &info);
	assert_int_equal(info.host_id, 3);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

/* The default host name is the hostname; the machine-id stays behind it. */
static void default_host_name_is_the_hostname_and_machine_id_stays(void **state)
{
	char *saved = getenv("SYNC_MANAGER_HOST_NAME") ? strdup(getenv("SYNC_MANAGER_HOST_NAME")) : NULL;
	unsetenv("SYNC_MANAGER_HOST_NAME");
	setenv("SYNC_MANAGER_MACHINE_ID", MID_HEX, 1);
	uint8_t id[16];
	assert_true(sm_machine_id(id));
	assert_memory_equal(id, MID, 16);
	char name[SM_NAME_FIELD], hn[256] = "";
	sm_default_host_name(name);
	assert_int_equal(gethostname(hn, sizeof(hn) - 1), 0);
	if (sm_name_valid(hn) && strncmp(hn, "localhost", 9) != 0)
		assert_string_equal(name, hn);
	else
		assert_string_equal(name, MID_HEX); /* a hostname every host may have is no name */
	setenv("SYNC_MANAGER_HOST_NAME", "h7", 1);
	sm_default_host_name(name);
	assert_string_equal(name, "h7");
	setenv("SYNC_MANAGER_MACHINE_ID", "not-hex", 1);
	assert_false(sm_machine_id(id));
	static const uint8_t zero[16];
	assert_memory_equal(id, zero, 16);
	unsetenv("SYNC_MANAGER_MACHINE_ID");
	if (saved)
		setenv("SYNC_MANAGER_HOST_NAME", saved, 1);
	else
		unsetenv("SYNC_MANAGER_HOST_NAME");
	free(saved);
}

static void resume_continues_only_with_the_same_instance(void **state)
{
	struct sm_lockspace *a = host();
	join_as(a, 2, "a");
	uint32_t id;
	uint64_t gen;
	uint8_t inst[16];
	sm_lockspace_me(a, &id, &gen, inst);
	struct sm_lockspace_info info;
	sm_lockspace_info(a, &info);
	sm_lockspace_free(a); /* the daemon restarts */

	struct sm_lockspace *again = host();
	assert_int_equal(sm_lockspace_resume(again, id, gen, inst, info.last_renewal_boot_ms), 0);
	sm_lockspace_info(again, &info);
	assert_true(info.joined);
	assert_int_equal(info.generation, gen);
	assert_int_equal(sm_lockspace_renew(again), 0);
	sm_lockspace_free(again);

	struct sm_lockspace *wrong = host();
	inst[0] ^= 1;
	assert_int_equal(sm_lockspace_resume(wrong, id, gen, inst, 0), -SM_ELOCKSPACE_LOST);
	sm_lockspace_free(wrong);
}

static void attention_mark_reaches_the_owner_through_its_renewals(void **state)
{
	struct sm_lockspace *owner = host(), *req = host();
	join_as(owner, 1, "owner");
	join_as(req, 2, "req");
	uint32_t ids[4];
	assert_int_equal(sm_lockspace_renew(owner), 0);
	assert_int_equal(sm_lockspace_take_attention(owner, ids, 4), 0);
	assert_int_equal(sm_lockspace_attention(req, 1), 0);
	assert_int_equal(sm_lockspace_renew(owner), 0);
	assert_int_equal(sm_lockspace_take_attention(owner, ids, 4), 1);
	assert_int_equal(ids[0], 2);
	assert_int_equal(sm_lockspace_renew(owner), 0);
	assert_int_equal(sm_lockspace_take_attention(owner, ids, 4), 0);
	sm_lockspace_free(owner);
	sm_lockspace_free(req);
}

static void a_renewal_after_f_never_revives_the_lockspace(void **state)
{
	struct sm_lockspace *a = host();
	join_as(a, 1, "a");
	assert_int_equal(sm_lockspace_renew(a), 0);
	tu_fake_clock_advance(8001); /* storage was away for more than F */
	assert_true(sm_lockspace_remaining_ms(a) < 0);
	assert_int_equal(sm_lockspace_renew(a), -SM_ELOCKSPACE_LOST); /* storage works, still no */
	struct sm_lockspace_info info;
	sm_lockspace_info(a, &info);
	assert_true(info.expired);
	assert_true(sm_lockspace_remaining_ms(a) < 0);
	assert_int_equal(sm_lockspace_renew(a), -SM_ELOCKSPACE_LOST);
	sm_lockspace_free(a);
}

/* The host stalls for 3 s (3d) between reading the slot and its claim. */
static int stall_writes;
static int stalling_submit(io_context_t ctx, long nr, struct iocb **cbs)
{
	if (stall_writes > 0 && cbs[0]->aio_lio_opcode == IO_CMD_PWRITE) {
		stall_writes--;
		tu_fake_clock_advance(3000);
	}
	return sm_disk_sys_real.io_submit(ctx, nr, cbs);
}

static void a_claim_landing_more_than_2d_after_its_read_is_retried(void **state)
{
	struct sm_lockspace *a = host();
	stall_writes = 1;
	sm_disk_sys.io_submit = stalling_submit;
	join_as(a, 1, "a");
	sm_disk_sys.io_submit = sm_disk_sys_real.io_submit;
	struct sm_lockspace_info info;
	sm_lockspace_info(a, &info);
	/* the stalled claim (generation 1) was withdrawn, the retry got 2 */
	assert_int_equal(info.generation, 2);
	assert_int_equal(sm_lockspace_renew(a), 0);
	sm_lockspace_free(a);
}

/* Reads that take 2 s each: a read can only vouch for the disk as it was
 * when the read was issued. */
static int slow_reads;
static int slow_read_submit(io_context_t ctx, long nr, struct iocb **cbs)
{
	if (slow_reads && cbs[0]->aio_lio_opcode == IO_CMD_PREAD)
		tu_fake_clock_advance(2000);
	return sm_disk_sys_real.io_submit(ctx, nr, cbs);
}

static void death_is_judged_from_read_issue_times(void **state)
{
	struct sm_lockspace *a = host(), *b = host();
	join_as(a, 1, "a");
	sm_disk_sys.io_submit = slow_read_submit;
	slow_reads = 1;
	assert_int_equal(sm_lockspace_observe(b), 0); /* issued t, completes t+2000: first_seen */
	uint64_t first_seen = tu_fake_clock_now();
	struct sm_host_status st;
	/* keep reading until just before the issue time passes first_seen + H */
	while (tu_fake_clock_now() + 2000 <= first_seen + 11000) {
		tu_fake_clock_advance(500);
		assert_int_equal(sm_lockspace_observe(b), 0);
		sm_lockspace_host_status(b, 1, &st);
		assert_int_not_equal(st.state, SM_LIVE_DEAD);
	}
	/* completion alone is past first_seen + H, but the issue time is not:
	 * still not dead */
	tu_fake_clock_advance(500);
	assert_int_equal(sm_lockspace_observe(b), 0);
	sm_lockspace_host_status(b, 1, &st);
	assert_true(tu_fake_clock_now() - first_seen > 11000); /* completion is past H */
	assert_true(st.unchanged_ms <= 11000);                 /* issue time is not */
	assert_int_not_equal(st.state, SM_LIVE_DEAD);
	tu_fake_clock_advance(3000);
	assert_int_equal(sm_lockspace_observe(b), 0);
	sm_lockspace_host_status(b, 1, &st);
	assert_int_equal(st.state, SM_LIVE_DEAD);
	slow_reads = 0;
	sm_disk_sys.io_submit = sm_disk_sys_real.io_submit;
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

/* ---- join: error paths ---------------------------------------------------- */

/* What another host reads in slot id right now. */
static struct sm_host_status slot_as_seen(uint32_t id)
{
	struct sm_lockspace *o = host();
	assert_int_equal(sm_lockspace_observe(o), 0);
	struct sm_host_status st;
	assert_int_equal(sm_lockspace_host_status(o, id, &st), 0);
	sm_lockspace_free(o);
	return st;
}

static void assert_not_joined(struct sm_lockspace *ls)
{
	struct sm_lockspace_info info;
	sm_lockspace_info(ls, &info);
	assert_false(info.joined);
	uint32_t id;
	uint64_t gen;
	sm_lockspace_me(ls, &id, &gen, NULL);
	assert_int_equal(id, 0);
	assert_int_equal(gen, 0);
	assert_int_equal(sm_lockspace_renew(ls), -SM_ENOT_JOINED);
	assert_int_equal(sm_lockspace_leave(ls), -SM_ENOT_JOINED);
}

static uint64_t writes_of(struct sm_lockspace *ls)
{
	struct sm_disk_stats st;
	sm_disk_get_stats(sm_lockspace_volume(ls)->disk, &st);
	return st.writes;
}

/* Let hung I/Os complete for real and wait (real time) until they have. */
static void land_hung_ios(struct sm_lockspace *ls)
{
	sm_fault_release_hung(true);
	for (int i = 0; i < 400 && sm_disk_pending(sm_lockspace_volume(ls)->disk); i++)
		usleep(5000);
	assert_int_equal(sm_disk_pending(sm_lockspace_volume(ls)->disk), 0);
}

/* Joining a slot whose record another host may still renew takes more than H. */
static void joining_slot_takes_more_than_h(uint32_t id)
{
	struct sm_lockspace *b = host();
	uint64_t t0 = tu_fake_clock_now();
	join_as(b, id, "b");
	assert_true(tu_fake_clock_now() - t0 > 11000);
	struct sm_lockspace_info info;
	sm_lockspace_info(b, &info);
	assert_int_equal(info.generation, 2);
	sm_lockspace_free(b);
}

/* The claim write fails without reaching the disk: nothing to undo, and the
 * slot is free for the next attempt at once. */
static void join_claim_write_error_fails_and_leaves_the_slot_free(void **state)
{
	sm_fault_install();
	struct sm_lockspace *a = host();
	struct sm_fault_rule eio = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_ERRNO, .err = EIO, .count = 1};
	sm_fault_add(&eio);
	struct sm_join_opts o = {.host_id = 1, .host_name = "a"};
	assert_int_equal(sm_lockspace_join(a, &o), -EIO);
	assert_int_equal(sm_fault_hits(), 1);
	assert_not_joined(a);
	struct sm_host_status st = slot_as_seen(1);
	assert_int_equal(st.record_status, 0);
	assert_int_equal(st.rec.flags, SM_HOST_FREE);
	assert_int_equal(st.rec.generation, 0);
	/* storage works again: a plain 2d join, generation 1 */
	uint64_t t0 = tu_fake_clock_now();
	join_as(a, 1, "a");
	assert_int_equal(tu_fake_clock_now() - t0, 2100);
	struct sm_lockspace_info info;
	sm_lockspace_info(a, &info);
	assert_int_equal(info.generation, 1);
	assert_int_equal(sm_lockspace_renew(a), 0);
	sm_lockspace_free(a);
}

/* The claim write times out and lands later.  The joiner must not count as
 * joined; the late claim is a record nobody renews, so it is harmless: any
 * host (us included) must wait more than H before taking the slot. */
static void join_claim_write_timeout_fails_and_a_late_claim_only_delays_the_slot(void **state)
{
	sm_fault_install();
	struct sm_lockspace *a = host();
	struct sm_fault_rule hang = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_HANG, .count = 1};
	sm_fault_add(&hang);
	struct sm_join_opts o = {.host_id = 1, .host_name = "a"};
	assert_int_equal(sm_lockspace_join(a, &o), -SM_EIO_TIMEOUT);
	assert_not_joined(a);
	assert_int_equal(slot_as_seen(1).rec.flags, SM_HOST_FREE); /* not landed yet */
	land_hung_ios(a);
	struct sm_host_status st = slot_as_seen(1);
	assert_int_equal(st.record_status, 0);
	assert_int_equal(st.rec.flags, SM_HOST_HELD);
	assert_int_equal(st.rec.generation, 1);
	assert_string_equal(st.rec.host_name, "a");
	assert_int_equal(st.state, SM_LIVE_UNKNOWN);
	assert_not_joined(a); /* the landing changes nothing for a */
	joining_slot_takes_more_than_h(1);
	sm_lockspace_free(a);
}

/* The re-read after 2d fails: the claim is withdrawn (written free again),
 * so the slot can be joined without waiting H. */
static void join_reread_error_withdraws_the_claim(void **state)
{
	sm_fault_install();
	struct sm_lockspace *a = host();
	/* reads: 1 = the whole area, 2 = the slot (the decision), 3 = the
	 * slot's re-read after 2d, 4 = withdraw's */
	struct sm_fault_rule eio = {.op = SM_FAULT_READ, .kind = SM_FAULT_ERRNO, .err = EIO, .nth = 3, .count = 1};
	sm_fault_add(&eio);
	uint64_t w0 = writes_of(a);
	struct sm_join_opts o = {.host_id = 2, .host_name = "a"};
	assert_int_equal(sm_lockspace_join(a, &o), -EIO);
	assert_int_equal(sm_fault_hits(), 1);
	assert_int_equal(writes_of(a) - w0, 2); /* the claim and its withdrawal */
	assert_not_joined(a);
	struct sm_host_status st = slot_as_seen(2);
	assert_int_equal(st.record_status, 0);
	assert_int_equal(st.rec.flags, SM_HOST_FREE);
	assert_int_equal(st.rec.generation, 1); /* the withdrawn claim's */
	/* free, so another host joins after 2d only, as generation 2 */
	struct sm_lockspace *b = host();
	uint64_t t0 = tu_fake_clock_now();
	join_as(b, 2, "b");
	assert_int_equal(tu_fake_clock_now() - t0, 2100);
	struct sm_lockspace_info info;
	sm_lockspace_info(b, &info);
	assert_int_equal(info.generation, 2);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

static void join_reread_timeout_withdraws_the_claim(void **state)
{
	sm_fault_install();
	struct sm_lockspace *a = host();
	/* the re-read (read 3) times out, and so does its one retry */
	struct sm_fault_rule hang = {.op = SM_FAULT_READ, .kind = SM_FAULT_HANG, .nth = 3, .count = 2};
	sm_fault_add(&hang);
	struct sm_join_opts o = {.host_id = 2, .host_name = "a"};
	assert_int_equal(sm_lockspace_join(a, &o), -SM_EIO_TIMEOUT);
	assert_int_equal(sm_fault_hits(), 2);
	assert_not_joined(a);
	struct sm_host_status st = slot_as_seen(2);
	assert_int_equal(st.rec.flags, SM_HOST_FREE);
	assert_int_equal(st.rec.generation, 1);
	land_hung_ios(a); /* a late read changes nothing */
	assert_not_joined(a);
	assert_int_equal(slot_as_seen(2).rec.flags, SM_HOST_FREE);
	sm_lockspace_free(a);
}

/* Issue 19: a join's reads that time out (a LUN busy with many hosts joining
 * at once) are tried again after a random pause instead of failing the
 * join: the host area's chunk, the slot's deciding read, the re-read. */
static void join_reads_that_time_out_once_are_tried_again(void **state)
{
	sm_fault_install();
	struct sm_lockspace *a = host();
	/* reads: 1 = the whole area (one chunk here, hangs), 2 = its retry,
	 * 3 = the slot (hangs), 4 = its retry, 5 = the slot's re-read after 2d
	 * (hangs), 6 = its retry.  A rule counts the reads the rules before it
	 * let through: h2 sees 2, 3 (fires); h3 sees 2, 4, 5 (fires). */
	struct sm_fault_rule h1 = {.op = SM_FAULT_READ, .kind = SM_FAULT_HANG, .nth = 1, .count = 1};
	struct sm_fault_rule h2 = {.op = SM_FAULT_READ, .kind = SM_FAULT_HANG, .nth = 2, .count = 1};
	struct sm_fault_rule h3 = {.op = SM_FAULT_READ, .kind = SM_FAULT_HANG, .nth = 3, .count = 1};
	sm_fault_add(&h1);
	sm_fault_add(&h2);
	sm_fault_add(&h3);
	uint64_t w0 = writes_of(a);
	join_as(a, 2, "a");
	assert_int_equal(sm_fault_hits(), 3);
	assert_int_equal(writes_of(a) - w0, 1); /* the claim only */
	struct sm_lockspace_info info;
	sm_lockspace_info(a, &info);
	assert_true(info.joined);
	assert_int_equal(info.host_id, 2);
	sm_fault_clear();
	assert_int_equal(sm_lockspace_renew(a), 0);
	sm_lockspace_free(a);
}

/* The re-read fails and so does the withdrawal's read: the claim stays on
 * disk unrenewed, which is harmless (others wait H as for any holder). */
static void join_reread_error_without_withdrawal_leaves_a_harmless_claim(void **state)
{
	sm_fault_install();
	struct sm_lockspace *a = host();
	struct sm_fault_rule eio = {.op = SM_FAULT_READ, .kind = SM_FAULT_ERRNO, .err = EIO, .nth = 3};
	sm_fault_add(&eio);
	uint64_t w0 = writes_of(a);
	struct sm_join_opts o = {.host_id = 1, .host_name = "a"};
	assert_int_equal(sm_lockspace_join(a, &o), -EIO);
	assert_int_equal(sm_fault_hits(), 2); /* the re-read and the withdrawal's read */
	assert_int_equal(writes_of(a) - w0, 1); /* only the claim */
	sm_fault_clear();
	assert_not_joined(a);
	struct sm_host_status st = slot_as_seen(1);
	assert_int_equal(st.rec.flags, SM_HOST_HELD);
	assert_int_equal(st.rec.generation, 1);
	assert_int_equal(st.state, SM_LIVE_UNKNOWN);
	joining_slot_takes_more_than_h(1);
	sm_lockspace_free(a);
}

static volatile sig_atomic_t join_cancel;
static void cancel_join(void) { join_cancel = 1; }

static void join_interrupted_in_its_2d_wait_withdraws_the_claim(void **state)
{
	struct sm_lockspace *a = host();
	join_cancel = 0;
	tu_sleep_hook = cancel_join; /* the first sleep is the 2d wait after the claim */
	struct sm_join_opts o = {.host_id = 3, .host_name = "a", .cancel = &join_cancel};
	assert_int_equal(sm_lockspace_join(a, &o), -SM_EINTERRUPTED);
	tu_sleep_hook = NULL;
	assert_not_joined(a);
	struct sm_host_status st = slot_as_seen(3);
	assert_int_equal(st.rec.flags, SM_HOST_FREE);
	assert_int_equal(st.rec.generation, 1);
	sm_lockspace_free(a);
}

static void join_without_a_free_host_id_fails_and_writes_nothing(void **state)
{
	struct sm_lockspace *h[4];
	const char *names[4] = {"h1", "h2", "h3", "h4"};
	for (int i = 0; i < 4; i++) {
		h[i] = host();
		join_as(h[i], (uint32_t)i + 1, names[i]);
	}
	struct sm_lockspace *e = host();
	uint64_t w0 = writes_of(e), t0 = tu_fake_clock_now();
	struct sm_join_opts o = {.host_name = "h5"};
	assert_int_equal(sm_lockspace_join(e, &o), -SM_ENO_FREE_HOSTID);
	assert_int_equal(tu_fake_clock_now(), t0); /* refused at once */
	assert_int_equal(writes_of(e), w0);
	assert_not_joined(e);
	for (int i = 0; i < 4; i++) {
		struct sm_host_status st = slot_as_seen((uint32_t)i + 1); /* nobody lost its slot */
		assert_int_equal(st.rec.flags, SM_HOST_HELD);
		assert_int_equal(st.rec.generation, 1);
		assert_string_equal(st.rec.host_name, names[i]);
		sm_lockspace_free(h[i]);
	}
	sm_lockspace_free(e);
}

static void join_with_host_id_out_of_range_fails_and_writes_nothing(void **state)
{
	struct sm_lockspace *a = host();
	uint64_t w0 = writes_of(a), t0 = tu_fake_clock_now();
	struct sm_join_opts o = {.host_id = 5, .host_name = "a"}; /* max_hosts is 4 */
	assert_int_equal(sm_lockspace_join(a, &o), -SM_EBAD_ARGUMENT);
	o.host_id = UINT32_MAX;
	assert_int_equal(sm_lockspace_join(a, &o), -SM_EBAD_ARGUMENT);
	assert_int_equal(tu_fake_clock_now(), t0);
	assert_int_equal(writes_of(a), w0);
	assert_not_joined(a);
	struct sm_join_opts bad = {.host_id = 1, .host_name = "a:b"};
	assert_int_equal(sm_lockspace_join(a, &bad), -SM_EBAD_NAME);
	assert_int_equal(writes_of(a), w0);
	assert_not_joined(a);
	sm_lockspace_free(a);
}

/* A slot whose record names another lockspace (say, a copied volume) is
 * never taken for free: joining it is refused, auto-join passes it by. */
static void join_of_a_slot_from_another_lockspace_is_refused(void **state)
{
	struct sm_host_record r = {.flags = SM_HOST_FREE, .sector_size = 512, .host_id = 1, .generation = 3,
				   .io_timeout_ms = 1000};
	strcpy(r.lockspace, "other");
	strcpy(r.host_name, "x");
	uint8_t sec[512] = {0}, after[512];
	sm_host_encode(&r, sec);
	int fd = open(vol, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, sec, 512, 512), 512);
	struct sm_lockspace *a = host();
	uint64_t w0 = writes_of(a);
	struct sm_join_opts o = {.host_id = 1, .host_name = "a"};
	assert_int_equal(sm_lockspace_join(a, &o), -SM_EWRONG_LOCKSPACE);
	assert_int_equal(writes_of(a), w0);
	assert_not_joined(a);
	struct sm_join_opts any = {.host_name = "a"};
	assert_int_equal(sm_lockspace_join(a, &any), 0);
	struct sm_lockspace_info info;
	sm_lockspace_info(a, &info);
	assert_int_equal(info.host_id, 2);
	assert_int_equal(pread(fd, after, 512, 512), 512);
	assert_memory_equal(sec, after, 512); /* slot 1 untouched */
	close(fd);
	sm_lockspace_free(a);
}

/* Issue 19: renewals read the slots in use (the highest claimed + 8), the
 * whole area every 32nd renewal or after a question about a host beyond. */
static uint64_t bytes_read(struct sm_lockspace *ls)
{
	struct sm_disk_stats st;
	sm_disk_get_stats(sm_lockspace_volume(ls)->disk, &st);
	return st.bytes_read;
}

static void renewals_read_only_the_slots_in_use(void **state)
{
	(void)state;
	struct sm_format_params p = {.lockspace = "ls", .max_hosts = 64, .resources = 2, .io_timeout_ms = 1000,
				     .watchdog_timeout_ms = 3000, .force = true};
	assert_int_equal(sm_volume_format(vol, 0, &p, NULL), 0);
	struct sm_lockspace *a = host(), *b = host(), *c = host();
	join_as(a, 1, "a");
	join_as(b, 2, "b");
	/* a joined alone: host_ids 1 .. 9; b's claim near that edge moves the
	 * limit to 1 .. 10, without a whole read (many hosts joining by name
	 * land there one after another) */
	uint64_t r0 = bytes_read(a);
	assert_int_equal(sm_lockspace_renew(a), 0);
	assert_int_equal(bytes_read(a) - r0, (1 + 8) * 512);
	r0 = bytes_read(a);
	assert_int_equal(sm_lockspace_renew(a), 0);
	assert_int_equal(bytes_read(a) - r0, (2 + 8) * 512);
	r0 = bytes_read(a);
	assert_int_equal(sm_lockspace_renew(a), 0);
	assert_int_equal(bytes_read(a) - r0, (2 + 8) * 512);
	/* the 32nd renewal after a whole read reads everything again */
	unsigned full = 0, partial = 0;
	for (int i = 0; i < 31; i++) {
		uint64_t before = bytes_read(a);
		assert_int_equal(sm_lockspace_renew(a), 0);
		uint64_t n = bytes_read(a) - before;
		full += n == 64 * 512;
		partial += n == 10 * 512;
	}
	assert_int_equal(full, 1);
	assert_int_equal(partial, 30);
	/* a host far beyond: not seen by partial reads, so never judged; a
	 * question about it makes the next renewal read everything */
	join_as(c, 50, "c");
	assert_int_equal(sm_lockspace_renew(a), 0);
	struct sm_host_status st;
	assert_int_equal(sm_lockspace_host_status(a, 50, &st), 0);
	assert_int_equal(st.rec.flags, SM_HOST_FREE); /* as the last whole read showed it */
	assert_int_equal(sm_lockspace_owner_verdict(a, 50, 1, 0), SM_OWNER_UNKNOWN);
	uint64_t before = bytes_read(a);
	assert_int_equal(sm_lockspace_renew(a), 0);
	assert_int_equal(bytes_read(a) - before, 64 * 512);
	assert_int_equal(sm_lockspace_host_status(a, 50, &st), 0);
	assert_int_equal(st.rec.flags, SM_HOST_HELD);
	assert_int_equal(st.rec.generation, 1);
	/* from now on up to host_id 58 */
	before = bytes_read(a);
	assert_int_equal(sm_lockspace_renew(a), 0);
	assert_int_equal(bytes_read(a) - before, 58 * 512);
	/* dead hosts are still found: c stops renewing; a sees it dead after H */
	for (int i = 0; i < 7; i++) { /* 14 s > H = 11 s, a renewing every R */
		tu_fake_clock_advance(2000);
		assert_int_equal(sm_lockspace_renew(a), 0);
	}
	assert_int_equal(sm_lockspace_owner_verdict(a, 50, 1, 0), SM_OWNER_DEAD);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
	sm_lockspace_free(c);
}

/* Issue 19: a renewal's whole read that misses d (a LUN busy with a crowd of
 * joins) costs that one renewal: the next ones read the slots in use again,
 * and the whole area is tried again 16 renewals later. */
static void a_whole_read_that_misses_d_fails_one_renewal_only(void **state)
{
	(void)state;
	struct sm_format_params p = {.lockspace = "ls", .max_hosts = 64, .resources = 2, .io_timeout_ms = 1000,
				     .watchdog_timeout_ms = 3000, .force = true};
	assert_int_equal(sm_volume_format(vol, 0, &p, NULL), 0);
	struct sm_lockspace *a = host();
	join_as(a, 1, "a"); /* renewals read host_ids 1 .. 9 */
	for (int i = 0; i < 31; i++)
		assert_int_equal(sm_lockspace_renew(a), 0);
	/* every read takes 48 s per MiB: the whole area (32 KiB) 1.5 s, the
	 * slots in use (4.5 KiB) 0.2 s */
	struct sm_fault_rule slow = {.op = SM_FAULT_READ, .kind = SM_FAULT_SLOW, .slow_ms_per_mib = 48000};
	sm_fault_add(&slow);
	uint64_t r0 = bytes_read(a);
	assert_int_equal(sm_lockspace_renew(a), -SM_EIO_TIMEOUT); /* the 32nd: the whole area */
	assert_int_equal(bytes_read(a) - r0, 64 * 512);
	for (int i = 0; i < 15; i++) {
		r0 = bytes_read(a);
		assert_int_equal(sm_lockspace_renew(a), 0);
		assert_int_equal(bytes_read(a) - r0, 9 * 512);
	}
	sm_fault_clear();
	r0 = bytes_read(a);
	assert_int_equal(sm_lockspace_renew(a), 0); /* 16 later: the whole area again */
	assert_int_equal(bytes_read(a) - r0, 64 * 512);
	sm_lockspace_free(a);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(renewals_read_only_the_slots_in_use),
		T(timeouts_follow_the_formulas),
		T(join_free_slot_waits_2d_and_sets_generation_1),
		T(liveness_moves_from_unknown_to_live_failing_dead),
		T(time_without_a_successful_read_is_not_evidence_of_death),
		T(generation_change_or_free_slot_means_old_owner_dead),
		T(expired_record_says_nothing_about_a_newer_generation),
		T(unreadable_record_needs_a_fresh_read_to_count_as_dead),
		T(next_death_check_is_first_sighting_plus_h),
		T(join_of_held_slot_waits_h_then_takes_over_and_old_holder_is_lost),
		T(join_never_takes_a_slot_whose_holder_keeps_renewing),
		T(concurrent_claim_of_a_free_slot_loses_with_hostid_busy),
		T(renewal_fails_at_once_when_the_record_is_overwritten),
		T(a_timed_out_renewal_that_lands_later_is_still_ours),
		T(deadline_counts_from_the_start_of_the_last_good_renewal),
		T(auto_join_prefers_the_slot_with_our_name_then_a_free_one),
		T(a_host_joined_under_its_machine_id_rejoins_its_slot_by_its_new_name),
		T(default_host_name_is_the_hostname_and_machine_id_stays),
		T(resume_continues_only_with_the_same_instance),
		T(attention_mark_reaches_the_owner_through_its_renewals),
		T(a_renewal_after_f_never_revives_the_lockspace),
		T(a_claim_landing_more_than_2d_after_its_read_is_retried),
		T(death_is_judged_from_read_issue_times),
		T(join_claim_write_error_fails_and_leaves_the_slot_free),
		T(join_claim_write_timeout_fails_and_a_late_claim_only_delays_the_slot),
		T(join_reread_error_withdraws_the_claim),
		T(join_reread_timeout_withdraws_the_claim),
		T(join_reads_that_time_out_once_are_tried_again),
		T(a_whole_read_that_misses_d_fails_one_renewal_only),
		T(join_reread_error_without_withdrawal_leaves_a_harmless_claim),
		T(join_interrupted_in_its_2d_wait_withdraws_the_claim),
		T(join_without_a_free_host_id_fails_and_writes_nothing),
		T(join_with_host_id_out_of_range_fails_and_writes_nothing),
		T(join_of_a_slot_from_another_lockspace_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
