/* Volume sets: three members formatted together; delta leases and Disk
 * Paxos leases on a majority of them (docs/algorithms.md §5). */
#include "testutil.h"

#include "common/clock.h"
#include "common/crc32c.h"
#include "common/le.h"
#include "common/util.h"
#include "disk/disk.h"
#include "disk/fault.h"
#include "lease/delta.h"
#include "lease/paxos.h"
#include "lease/resource.h"
#include "ondisk/volume.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* d = 1 s, W = 3 s: R = 2 s, F = 8 s, H = 11 s (fake clock). */
#define H_MS 11000
static const char *mem[3];
static char set_spec[1024], set_spec_shuffled[1024];

static void format_set(const char *const paths[3], const char *lockspace)
{
	struct sm_format_params p = {.lockspace = lockspace, .max_hosts = 4, .resources = 4, .io_timeout_ms = 1000,
				     .watchdog_timeout_ms = 3000, .set_size = SM_SET_SIZE};
	static const char *const names[] = {"r1"};
	p.resource_names = names;
	p.resource_name_count = 1;
	assert_int_equal(sm_uuid_generate(p.set_uuid), 0);
	for (uint32_t i = 0; i < 3; i++) {
		p.set_index = i;
		assert_int_equal(sm_volume_format(paths[i], 0, &p, NULL), 0);
	}
}

static int setup(void **state)
{
	tu_reset_faults();
	sm_fault_install(); /* before any open: handles keep the table they were opened with */
	tu_fake_clock_install();
	mem[0] = tu_temp_file("vsA", 0);
	mem[1] = tu_temp_file("vsB", 0);
	mem[2] = tu_temp_file("vsC", 0);
	format_set(mem, "ls");
	snprintf(set_spec, sizeof(set_spec), "%s,%s,%s", mem[0], mem[1], mem[2]);
	snprintf(set_spec_shuffled, sizeof(set_spec_shuffled), "%s,%s,%s", mem[2], mem[0], mem[1]);
	return 0;
}

static int teardown(void **state)
{
	tu_reset_faults();
	tu_cleanup_files();
	return 0;
}

static struct sm_lockspace *open_set(const char *spec)
{
	struct sm_lockspace *ls;
	assert_int_equal(sm_lockspace_open_spec(spec, &ls), 0);
	return ls;
}

static void join_as(struct sm_lockspace *ls, uint32_t id, const char *name)
{
	struct sm_join_opts o = {.host_id = id, .host_name = name};
	assert_int_equal(sm_lockspace_join(ls, &o), 0);
}

/* Fail every I/O (or only reads / writes) to the member whose path has tag. */
static void fail_member(const char *tag, enum sm_fault_op op)
{
	sm_fault_install();
	struct sm_fault_rule r = {.op = op, .kind = SM_FAULT_ERRNO, .err = EIO, .path = tag};
	assert_int_equal(sm_fault_add(&r), 0);
}

static void members_are_placed_by_their_headers_whatever_the_order(void **state)
{
	struct sm_lockspace *a = open_set(set_spec), *b = open_set(set_spec_shuffled);
	assert_string_equal(sm_lockspace_location(a), sm_lockspace_location(b));
	assert_int_equal(sm_lockspace_member_count(a), 3);
	struct sm_member_info mi;
	sm_lockspace_member_info(b, 0, &mi);
	assert_non_null(strstr(mi.spec, "vsA"));
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

static void one_member_alone_or_a_foreign_member_is_refused(void **state)
{
	struct sm_lockspace *ls = NULL;
	assert_int_equal(sm_lockspace_open_spec(mem[1], &ls), -SM_ESET_MEMBERS);
	assert_null(ls);
	/* a member of another set with the same lockspace name */
	const char *other[3] = {tu_temp_file("vsX", 0), tu_temp_file("vsY", 0), tu_temp_file("vsZ", 0)};
	format_set(other, "ls");
	char mixed[1024];
	snprintf(mixed, sizeof(mixed), "%s,%s,%s", mem[0], other[1], mem[2]);
	assert_int_equal(sm_lockspace_open_spec(mixed, &ls), -SM_ESET_MEMBERS);
	/* the same member twice */
	snprintf(mixed, sizeof(mixed), "%s,%s,%s", mem[0], mem[0], mem[2]);
	assert_int_equal(sm_lockspace_open_spec(mixed, &ls), -SM_ESET_MEMBERS);
	/* a lone volume is not a member */
	const char *lone = tu_temp_file("lone", 0);
	struct sm_format_params p = {.lockspace = "ls", .max_hosts = 4, .resources = 2, .io_timeout_ms = 1000,
				     .watchdog_timeout_ms = 3000};
	assert_int_equal(sm_volume_format(lone, 0, &p, NULL), 0);
	snprintf(mixed, sizeof(mixed), "%s,%s,%s", mem[0], lone, mem[2]);
	assert_int_equal(sm_lockspace_open_spec(mixed, &ls), -SM_ESET_MEMBERS);
	/* two members */
	snprintf(mixed, sizeof(mixed), "%s,%s", mem[0], mem[1]);
	assert_int_equal(sm_lockspace_open_spec(mixed, &ls), -SM_EBAD_ARGUMENT);
}

/* Sleep hook: the holder renews every R; the waiter is cancelled at hook_until. */
static struct sm_lockspace *hook_renewer;
static volatile sig_atomic_t *hook_stop;
static uint64_t hook_until, hook_next;
static void hook(void)
{
	uint64_t now = tu_fake_clock_now();
	if (hook_renewer && now >= hook_next) {
		assert_int_equal(sm_lockspace_renew(hook_renewer), 0);
		hook_next = now + 2000;
	}
	if (hook_stop && now >= hook_until)
		*hook_stop = 1;
}

/* A member's header has version 2: a sync_manager that does not know sets
 * refuses it (SM_EBAD_VERSION) instead of using it as a lone volume. */
static void a_member_header_is_version_2_and_a_lone_one_stays_1(void **state)
{
	struct sm_volume *v;
	assert_int_equal(sm_volume_open(mem[1], 0, SM_DISK_READONLY, &v), 0);
	struct sm_volume_header h = v->hdr;
	sm_volume_close(v);
	assert_int_equal(h.set_size, 3);
	assert_int_equal(h.set_index, 1);
	uint8_t b[SM_HEADER_SIZE];
	sm_header_encode(&h, b);
	assert_int_equal(b[4] | b[5] << 8, 2);
	struct sm_volume_header back;
	assert_int_equal(sm_header_decode(b, &back), 0);
	assert_memory_equal(back.set_uuid, h.set_uuid, 16);
	h.set_size = 0;
	sm_header_encode(&h, b);
	assert_int_equal(b[4] | b[5] << 8, 1);
	/* version 1 claiming set fields is corrupt */
	h.set_size = 3;
	sm_header_encode(&h, b);
	b[4] = 1;
	sm_put_le32(b + SM_HEADER_SIZE - 4, sm_crc32c(b, SM_HEADER_SIZE - 4));
	assert_int_equal(sm_header_decode(b, &back), -SM_EBAD_GEOMETRY);
}

/* Issue 18: host B names the members in another order and asks for the
 * host_id A holds: it waits for A's death instead of sharing host_id 1. */
static void renewing_holder_keeps_a_waiting_joiner_out(void **state)
{
	struct sm_lockspace *a = open_set(set_spec), *b = open_set(set_spec_shuffled);
	join_as(a, 1, "a");
	volatile sig_atomic_t cancel = 0;
	hook_renewer = a, hook_stop = &cancel, hook_until = tu_fake_clock_now() + 3 * H_MS, hook_next = 0;
	tu_sleep_hook = hook;
	struct sm_join_opts o = {.host_id = 1, .host_name = "b", .cancel = &cancel};
	int rc = sm_lockspace_join(b, &o);
	tu_sleep_hook = NULL;
	hook_renewer = NULL, hook_stop = NULL;
	assert_int_equal(rc, -SM_EINTERRUPTED);
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, 1, 0), SM_OWNER_ALIVE);
	/* A stops; B takes host_id 1 after H, as generation 2; A finds it lost. */
	join_as(b, 1, "b");
	struct sm_lockspace_info info;
	sm_lockspace_info(b, &info);
	assert_int_equal(info.generation, 2);
	assert_int_equal(sm_lockspace_renew(a), -SM_ELOCKSPACE_LOST);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

/* Everything keeps working with one member failing, whichever it is and
 * whatever fails; status names the member that is down. */
static void one_failed_member_changes_nothing_but_status(void **state)
{
	static const char *const tags[] = {"vsA", "vsB", "vsC"};
	for (int k = 0; k < 3; k++) {
		sm_fault_clear();
		fail_member(tags[k], SM_FAULT_ANY);
		struct sm_lockspace *a = open_set(set_spec), *b = open_set(set_spec);
		join_as(a, 1, "a");
		join_as(b, 2, "b");
		for (int i = 0; i < 5; i++) {
			tu_fake_clock_advance(2000);
			assert_int_equal(sm_lockspace_renew(a), 0);
			assert_int_equal(sm_lockspace_renew(b), 0);
		}
		assert_int_equal(sm_lockspace_owner_verdict(b, 1, 1, 0), SM_OWNER_ALIVE);
		struct sm_lockspace_info info;
		sm_lockspace_info(a, &info);
		assert_int_equal(info.members, 3);
		assert_int_equal(info.members_down, 1);
		struct sm_member_info mi;
		sm_lockspace_member_info(a, k, &mi);
		assert_false(mi.up);
		assert_int_equal(mi.last_error, -EIO);
		assert_non_null(strstr(mi.spec, tags[k]));
		/* A dies (stops renewing): B sees it dead after H on the other two. */
		for (int i = 0; i < 7; i++) {
			tu_fake_clock_advance(2000);
			assert_int_equal(sm_lockspace_renew(b), 0);
		}
		assert_int_equal(sm_lockspace_owner_verdict(b, 1, 1, 0), SM_OWNER_DEAD);
		/* The member comes back: it is used again and shown up. */
		sm_fault_clear();
		assert_int_equal(sm_lockspace_renew(b), 0);
		sm_lockspace_member_info(b, k, &mi);
		assert_true(mi.up);
		sm_lockspace_free(a);
		sm_lockspace_free(b);
		tu_cleanup_files();
		mem[0] = tu_temp_file("vsA", 0);
		mem[1] = tu_temp_file("vsB", 0);
		mem[2] = tu_temp_file("vsC", 0);
		format_set(mem, "ls");
		snprintf(set_spec, sizeof(set_spec), "%s,%s,%s", mem[0], mem[1], mem[2]);
	}
}

static void a_member_missing_at_open_is_tolerated_and_used_when_back(void **state)
{
	char spec[1024];
	char moved[300];
	snprintf(moved, sizeof(moved), "%s.away", mem[1]);
	assert_int_equal(rename(mem[1], moved), 0);
	snprintf(spec, sizeof(spec), "%s,%s,%s", mem[1], mem[2], mem[0]);
	struct sm_lockspace *a = open_set(spec);
	join_as(a, 1, "a");
	struct sm_lockspace_info info;
	sm_lockspace_info(a, &info);
	assert_int_equal(info.members_down, 1);
	/* the missing path took the place left, so the location is the set order */
	struct sm_lockspace *b = open_set(set_spec);
	assert_string_equal(sm_lockspace_location(a), sm_lockspace_location(b));
	assert_int_equal(rename(moved, mem[1]), 0);
	tu_fake_clock_advance(2000);
	assert_int_equal(sm_lockspace_renew(a), 0);
	sm_lockspace_info(a, &info);
	assert_int_equal(info.members_down, 0);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

/* Overwrite n bytes of member i at offset off with garbage. */
static void scribble(int i, uint64_t off, size_t n)
{
	uint8_t junk[4096];
	memset(junk, 0xa5, sizeof(junk));
	int fd = open(mem[i], O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, junk, n, (off_t)off), (ssize_t)n);
	close(fd);
}

/* A member whose header is corrupt is left out at open; one whose host
 * records are corrupt is outvoted, then repaired by the next writes. */
static void a_corrupt_member_is_outvoted_and_repaired(void **state)
{
	struct sm_lockspace *a = open_set(set_spec);
	join_as(a, 1, "a");
	scribble(1, 512, 4 * 512); /* every host record of member B */
	struct sm_lockspace *b = open_set(set_spec);
	join_as(b, 2, "b");
	for (int i = 0; i < 3; i++) {
		tu_fake_clock_advance(2000);
		assert_int_equal(sm_lockspace_renew(a), 0);
		assert_int_equal(sm_lockspace_renew(b), 0);
	}
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, 1, 0), SM_OWNER_ALIVE);
	/* B's records of hosts 1 and 2 were rewritten by their renewals */
	struct sm_volume *v;
	assert_int_equal(sm_volume_open(mem[1], 0, SM_DISK_READONLY, &v), 0);
	uint8_t sec[512] __attribute__((aligned(4096)));
	struct sm_host_record r;
	assert_int_equal(sm_disk_read(v->disk, sm_volume_host_offset(&v->hdr, 1), sec, 512, 1000), 0);
	assert_int_equal(sm_host_decode(sec, &r, "ls", 512), 0);
	assert_int_equal(r.generation, 1);
	sm_volume_close(v);
	assert_int_equal(sm_lockspace_leave(b), 0);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
	/* a corrupt header: the set opens on the other two */
	scribble(2, 0, 512);
	struct sm_lockspace *c = open_set(set_spec_shuffled);
	struct sm_lockspace_info info;
	sm_lockspace_info(c, &info);
	assert_int_equal(info.members_down, 1);
	join_as(c, 2, "c"); /* free on A and B */
	/* host_id 3: its record is corrupt on B and C is away: its newest
	 * generation cannot be known from a majority, so no join */
	struct sm_lockspace *d = open_set(set_spec);
	struct sm_join_opts o = {.host_id = 3, .host_name = "d"};
	assert_int_equal(sm_lockspace_join(d, &o), -SM_EBAD_MAGIC);
	sm_lockspace_free(c);
	sm_lockspace_free(d);
}

static void two_failed_members_fail_closed(void **state)
{
	struct sm_lockspace *a = open_set(set_spec), *b = open_set(set_spec);
	join_as(a, 1, "a");
	fail_member("vsA", SM_FAULT_ANY);
	fail_member("vsC", SM_FAULT_ANY);
	tu_fake_clock_advance(2000);
	assert_int_equal(sm_lockspace_renew(a), -SM_ENO_MAJORITY);
	/* and a join cannot start, nor can the set be opened */
	struct sm_lockspace *c = NULL;
	assert_int_equal(sm_lockspace_open_spec(set_spec, &c), -SM_ENO_MAJORITY);
	struct sm_join_opts o = {.host_id = 2, .host_name = "b"};
	assert_int_equal(sm_lockspace_join(b, &o), -SM_ENO_MAJORITY);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

/* Write host 1's record straight into member i (another host renewing). */
static uint64_t raw_seq = 100, raw_off, raw_gen = 1;
static void raw_renew(int i)
{
	struct sm_host_record r = {.flags = SM_HOST_HELD, .sector_size = 512, .host_id = 1, .generation = raw_gen,
				   .timestamp = raw_seq, .sequence = raw_seq, .io_timeout_ms = 1000};
	raw_seq++;
	snprintf(r.lockspace, sizeof(r.lockspace), "ls");
	snprintf(r.host_name, sizeof(r.host_name), "a");
	memset(r.instance, 7, 16);
	uint8_t sec[512] = {0};
	sm_host_encode(&r, sec);
	if (!raw_off) {
		struct sm_volume *v;
		assert_int_equal(sm_volume_open(mem[i], 0, SM_DISK_READONLY, &v), 0);
		raw_off = sm_volume_host_offset(&v->hdr, 1);
		sm_volume_close(v);
	}
	int fd = open(mem[i], O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, sec, sizeof(sec), (off_t)raw_off), (ssize_t)sizeof(sec));
	close(fd);
}

/* The seeded bug of the model (tests/model/volset.pml): a host renewing on
 * {A,C} while the observer watches B, then on {B,C} while it watches A,
 * leaves A and B each quiet for more than H, at different times.  Only a
 * common quiet window of a majority proves death. */
static void quiet_windows_that_do_not_overlap_prove_nothing(void **state)
{
	for (int i = 0; i < 3; i++)
		raw_renew(i);
	struct sm_lockspace *obs = open_set(set_spec);
	fail_member("vsC", SM_FAULT_READ); /* the observer cannot see C */
	assert_int_equal(sm_lockspace_observe(obs), 0);
	for (int t = 0; t < 13; t++) { /* phase 1: renewals reach A and C */
		tu_fake_clock_advance(1000);
		raw_renew(0);
		raw_renew(2);
		assert_int_equal(sm_lockspace_observe(obs), 0);
	}
	fail_member("vsB", SM_FAULT_READ); /* now the observer reads A only */
	for (int t = 0; t < 13; t++) { /* phase 2: renewals reach B and C */
		tu_fake_clock_advance(1000);
		raw_renew(1);
		raw_renew(2);
		assert_int_equal(sm_lockspace_observe(obs), -SM_ENO_MAJORITY);
	}
	/* A quiet > H now, B quiet > H in phase 1: still not dead. */
	assert_int_not_equal(sm_lockspace_owner_verdict(obs, 1, 1, 0), SM_OWNER_DEAD);
	struct sm_host_status st;
	assert_int_equal(sm_lockspace_host_status(obs, 1, &st), 0);
	assert_int_not_equal(st.state, SM_LIVE_DEAD);
	/* The host really stops; once B is readable again, B and A quiet
	 * together for more than H prove it. */
	sm_fault_clear();
	fail_member("vsC", SM_FAULT_READ);
	for (int t = 0; t < 11; t++) {
		tu_fake_clock_advance(1000);
		assert_int_equal(sm_lockspace_observe(obs), 0);
		assert_int_not_equal(sm_lockspace_owner_verdict(obs, 1, 1, 0), SM_OWNER_DEAD);
	}
	tu_fake_clock_advance(1000);
	assert_int_equal(sm_lockspace_observe(obs), 0);
	tu_fake_clock_advance(1000);
	assert_int_equal(sm_lockspace_observe(obs), 0);
	assert_int_equal(sm_lockspace_owner_verdict(obs, 1, 1, 0), SM_OWNER_DEAD);
	sm_lockspace_free(obs);
}

/* A member that missed the owner's join shows an older generation: with
 * that member and one showing the owner quiet, death is proven; with only
 * stale members (the owner's own majority unreadable) it is not. */
static void a_stale_member_alone_says_nothing_about_a_newer_generation(void **state)
{
	struct sm_lockspace *a = open_set(set_spec), *obs = open_set(set_spec);
	join_as(a, 1, "a");
	assert_int_equal(sm_lockspace_leave(a), 0);
	fail_member("vsB", SM_FAULT_WRITE); /* B keeps generation 1, free */
	join_as(a, 1, "a"); /* generation 2 on A and C */
	sm_fault_clear();
	fail_member("vsA", SM_FAULT_READ);
	fail_member("vsC", SM_FAULT_READ);
	for (int t = 0; t < 30; t++) {
		tu_fake_clock_advance(1000);
		sm_lockspace_observe(obs); /* only B: no majority */
	}
	assert_int_not_equal(sm_lockspace_owner_verdict(obs, 1, 2, 0), SM_OWNER_DEAD);
	sm_fault_clear();
	fail_member("vsC", SM_FAULT_ANY);
	for (int t = 0; t < 11; t++) {
		tu_fake_clock_advance(1000);
		assert_int_equal(sm_lockspace_observe(obs), 0);
	}
	assert_int_not_equal(sm_lockspace_owner_verdict(obs, 1, 2, 0), SM_OWNER_DEAD);
	tu_fake_clock_advance(2000);
	assert_int_equal(sm_lockspace_observe(obs), 0);
	assert_int_equal(sm_lockspace_owner_verdict(obs, 1, 2, 0), SM_OWNER_DEAD);
	sm_lockspace_free(a);
	sm_lockspace_free(obs);
}

/* Finding VS1 of tests/model/volset.pml: a claim that reached one member
 * only (its writer crashed) leaves generation 2 there and 1 on the other
 * two.  A joiner must not wait for ever: stale members count as quiet. */
static void a_claim_on_one_member_does_not_block_the_slot(void **state)
{
	for (int i = 0; i < 3; i++)
		raw_renew(i); /* generation 1, held */
	raw_gen = 2;
	raw_renew(0); /* the crashed claimant's generation 2, member A only */
	raw_gen = 1;
	struct sm_lockspace *b = open_set(set_spec);
	uint64_t t0 = tu_fake_clock_now();
	join_as(b, 1, "b");
	assert_true(tu_fake_clock_now() - t0 > H_MS);
	struct sm_lockspace_info info;
	sm_lockspace_info(b, &info);
	assert_int_equal(info.generation, 3);
	sm_lockspace_free(b);
}

/* Disk Paxos on the set's members with the set's delta leases. */
static void fill_ref(struct sm_resource_ref *r, struct sm_volume *v[3])
{
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "r1");
	r->ndisks = 3;
	for (int i = 0; i < 3; i++) {
		r->disk[i].vol = v[i];
		r->disk[i].area = 0;
	}
}

static void a_lease_on_the_set_survives_one_member_lost_at_any_step(void **state)
{
	struct sm_lockspace *a = open_set(set_spec), *b = open_set(set_spec);
	join_as(a, 1, "a");
	join_as(b, 2, "b");
	struct sm_volume *va[3], *vb[3];
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sm_volume_open(mem[i], 0, SM_DISK_SEPARATE_HOST, &va[i]), 0);
		assert_int_equal(sm_volume_open(mem[i], 0, SM_DISK_SEPARATE_HOST, &vb[i]), 0);
	}
	struct sm_resource_ref ra, rb;
	fill_ref(&ra, va);
	fill_ref(&rb, vb);
	struct sm_me ma = {1, 1}, mb = {2, 1};
	struct sm_acquire_opts oa = {.mode = SM_MODE_EX, .live = sm_oracle_of(a)};
	struct sm_acquire_opts ob = {.mode = SM_MODE_EX, .live = sm_oracle_of(b)};
	struct sm_lease la, lb;
	for (int i = 0; i < 2; i++) { /* each sees the other renew: alive */
		tu_fake_clock_advance(2000);
		assert_int_equal(sm_lockspace_renew(a), 0);
		assert_int_equal(sm_lockspace_renew(b), 0);
	}
	fail_member("vsB", SM_FAULT_ANY);
	assert_int_equal(sm_paxos_acquire(&ra, &ma, &oa, &la), 0);
	assert_int_equal(sm_paxos_acquire(&rb, &mb, &ob, &lb), -SM_EHELD);
	assert_int_equal(lb.owner_id, 1);
	sm_fault_clear();
	fail_member("vsA", SM_FAULT_ANY); /* another member fails before the release */
	assert_int_equal(sm_paxos_release(&ra, &ma, &la), 0);
	assert_int_equal(sm_paxos_acquire(&rb, &mb, &ob, &lb), 0);
	/* A member missing altogether (not openable) counts as failed. */
	sm_fault_clear();
	rb.disk[2].vol = NULL;
	assert_int_equal(sm_paxos_release(&rb, &mb, &lb), 0);
	assert_int_equal(sm_paxos_acquire(&ra, &ma, &oa, &la), 0);
	/* two members down: fail closed */
	fail_member("vsA", SM_FAULT_ANY);
	fail_member("vsC", SM_FAULT_ANY);
	assert_int_equal(sm_paxos_acquire(&rb, &mb, &ob, &lb), -SM_ENO_MAJORITY);
	sm_fault_clear();
	for (int i = 0; i < 3; i++) {
		sm_volume_close(va[i]);
		sm_volume_close(vb[i]);
	}
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

/* Names are added and removed on a majority of members under the set's
 * index lease; a member that missed an add lacks the name and takes no
 * part in that lease, and its free area is not handed out again. */
static void resources_are_added_and_removed_on_a_majority(void **state)
{
	struct sm_lockspace *a = open_set(set_spec);
	join_as(a, 1, "a");
	struct sm_volume *m[3];
	for (int i = 0; i < 3; i++)
		m[i] = sm_lockspace_member_volume(a, i);
	struct sm_me me = {1, 1};
	struct sm_oracle live = sm_oracle_of(a);
	uint32_t area = 99;
	fail_member("vsC", SM_FAULT_ANY);
	assert_int_equal(sm_resource_add_set(m, "r2", &me, &live, 4000, &area), 0);
	assert_int_equal(area, 1); /* r1 is in area 0 */
	sm_fault_clear();
	struct sm_resource_ref one;
	assert_int_equal(sm_resource_ref_init(&one, m[0], "r2"), 0);
	assert_int_equal(sm_resource_ref_init(&one, m[2], "r2"), -SM_ENO_RESOURCE);
	assert_int_equal(sm_resource_add_set(m, "r2", &me, &live, 4000, NULL), -SM_ERESOURCE_EXISTS);
	/* the next name does not take area 1, although C shows it free */
	fail_member("vsA", SM_FAULT_ANY);
	assert_int_equal(sm_resource_add_set(m, "r3", &me, &live, 4000, &area), 0);
	assert_int_equal(area, 2);
	sm_fault_clear();
	/* two members down: nothing changes */
	fail_member("vsA", SM_FAULT_ANY);
	fail_member("vsB", SM_FAULT_ANY);
	assert_int_equal(sm_resource_add_set(m, "r4", &me, &live, 2000, NULL), -SM_ENO_MAJORITY);
	sm_fault_clear();
	assert_int_equal(sm_resource_remove_set(m, "r2", &me, &live, 4000), 0);
	assert_int_equal(sm_resource_ref_init(&one, m[0], "r2"), -SM_ENO_RESOURCE);
	assert_int_equal(sm_resource_ref_init(&one, m[1], "r2"), -SM_ENO_RESOURCE);
	sm_lockspace_free(a);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(members_are_placed_by_their_headers_whatever_the_order),
		T(a_member_header_is_version_2_and_a_lone_one_stays_1),
		T(one_member_alone_or_a_foreign_member_is_refused),
		T(renewing_holder_keeps_a_waiting_joiner_out),
		T(one_failed_member_changes_nothing_but_status),
		T(a_member_missing_at_open_is_tolerated_and_used_when_back),
		T(two_failed_members_fail_closed),
		T(a_corrupt_member_is_outvoted_and_repaired),
		T(quiet_windows_that_do_not_overlap_prove_nothing),
		T(a_stale_member_alone_says_nothing_about_a_newer_generation),
		T(a_claim_on_one_member_does_not_block_the_slot),
		T(a_lease_on_the_set_survives_one_member_lost_at_any_step),
		T(resources_are_added_and_removed_on_a_majority),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
