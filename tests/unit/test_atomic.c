/* Resource leases by COMPARE AND WRITE (src/lease/atomic.c) through the
 * sm_paxos_* entry points, on a volume formatted with lease_io CAW over the
 * SBC-3 emulator (prsim): the I/O count of an acquire, refusals, stale images,
 * takeover, shared holders and their generations, conversion, hand-off,
 * in-doubt COMPARE AND WRITEs, and exclusion under threads. */
#include "testutil.h"

#include "disk/caw.h"
#include "disk/disk.h"
#include "disk/fault.h"
#include "lease/paxos.h"
#include "lease/resource.h"
#include "prsim.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define NHOSTS 8

struct fake_live {
	enum sm_owner_verdict v[16];
	uint64_t dead_below[16]; /* generations below this are dead */
	uint32_t self;
	uint64_t self_gen;
};
static enum sm_owner_verdict fake_verdict(void *arg, uint32_t id, uint64_t gen, uint64_t read_done_ms)
{
	struct fake_live *f = arg;
	(void)read_done_ms;
	if (id == f->self)
		return gen == f->self_gen ? SM_OWNER_SELF : gen < f->self_gen ? SM_OWNER_DEAD : SM_OWNER_UNKNOWN;
	if (id < 16 && gen < f->dead_below[id])
		return SM_OWNER_DEAD;
	return id < 16 ? f->v[id] : SM_OWNER_UNKNOWN;
}

struct host {
	struct sm_me me;
	struct fake_live live;
	struct sm_volume *vol;
	struct sm_resource_ref ref;
};

static const char *lu_path;
static int lu;

static int setup(void **state)
{
	(void)state;
	tu_reset_faults();
	prsim_reset();
	prsim_install();
	sm_fault_install();
	lu_path = tu_temp_file("caw-vol", 1 << 20);
	lu = prsim_add_lu(lu_path, NULL);
	assert_true(lu >= 0);
	struct sm_format_params p = {.lockspace = "ls", .max_hosts = NHOSTS, .resources = 4, .io_timeout_ms = 1000,
				     .resource_names = (const char *[]){"res"}, .resource_name_count = 1,
				     .lease_io = SM_LEASE_IO_CAW};
	assert_int_equal(sm_volume_format(lu_path, 0, &p, NULL), 0);
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

static void host_init(struct host *h, uint32_t id, uint64_t gen)
{
	memset(h, 0, sizeof(*h));
	h->me = (struct sm_me){id, gen};
	h->live.self = id;
	h->live.self_gen = gen;
	for (int i = 0; i < 16; i++)
		h->live.v[i] = SM_OWNER_ALIVE;
	char name[16];
	snprintf(name, sizeof(name), "host%u", id);
	prsim_set_initiator(name);
	assert_int_equal(sm_volume_open(lu_path, 0, SM_DISK_SEPARATE_HOST, &h->vol), 0);
	assert_true(sm_volume_is_caw(h->vol));
	struct sm_caw_dev *dev;
	assert_int_equal(sm_volume_caw(h->vol, &dev), 0); /* opened as this initiator */
	assert_int_equal(sm_resource_ref_init(&h->ref, h->vol, "res"), 0);
}

static void host_done(struct host *h) { sm_volume_close(h->vol); }

static int acquire(struct host *h, uint32_t mode, struct sm_lease *l)
{
	struct sm_acquire_opts o = {.mode = mode, .live = {fake_verdict, &h->live}};
	return sm_paxos_acquire(&h->ref, &h->me, &o, l);
}

static void view(struct host *h, struct sm_lease_view *v) { assert_int_equal(sm_paxos_inquire(&h->ref, v), 0); }

static void free_acquire_is_one_caw_once_the_image_is_known(void **state)
{
	(void)state;
	struct host a;
	host_init(&a, 1, 1);
	struct sm_disk_stats s0, s1, s2;
	sm_disk_get_stats(a.vol->disk, &s0);
	unsigned c0 = prsim_caw_commands(lu);
	struct sm_lease l;
	assert_int_equal(acquire(&a, SM_MODE_EX, &l), 0);
	sm_disk_get_stats(a.vol->disk, &s1);
	/* first time: one read of the leader sector, one COMPARE AND WRITE */
	assert_int_equal(s1.reads - s0.reads, 1);
	assert_int_equal(s1.bytes_read - s0.bytes_read, 512);
	assert_int_equal(s1.writes - s0.writes, 0);
	assert_int_equal(prsim_caw_commands(lu) - c0, 1);
	assert_int_equal(l.lver, 1);
	assert_int_equal(l.owner_id, 1);
	/* release: one COMPARE AND WRITE from the remembered image, lver kept */
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &l), 0);
	assert_int_equal(prsim_caw_commands(lu) - c0, 2);
	/* the next acquire: no read at all */
	assert_int_equal(acquire(&a, SM_MODE_EX, &l), 0);
	sm_disk_get_stats(a.vol->disk, &s2);
	assert_int_equal(s2.reads - s1.reads, 0);
	assert_int_equal(s2.writes - s1.writes, 0);
	assert_int_equal(prsim_caw_commands(lu) - c0, 3);
	assert_int_equal(l.lver, 2);
	struct sm_lease_view v;
	view(&a, &v);
	assert_int_equal(v.leader.owner_id, 1);
	assert_int_equal(v.leader.lver, 2);
	assert_int_equal(v.shared_count, 0);
	host_done(&a);
}

/* The daemon's workers each open the volume (without SM_DISK_SEPARATE_HOST):
 * an acquire by one and the release by another share what they saw. */
static void handles_of_one_process_share_the_images(void **state)
{
	(void)state;
	struct sm_volume *w1, *w2;
	assert_int_equal(sm_volume_open(lu_path, 0, 0, &w1), 0);
	assert_int_equal(sm_volume_open(lu_path, 0, 0, &w2), 0);
	struct sm_resource_ref r1, r2;
	assert_int_equal(sm_resource_ref_init(&r1, w1, "res"), 0);
	assert_int_equal(sm_resource_ref_init(&r2, w2, "res"), 0);
	struct fake_live fl = {.self = 1, .self_gen = 1};
	struct sm_acquire_opts o = {.mode = SM_MODE_EX, .live = {fake_verdict, &fl}};
	struct sm_me me = {1, 1};
	struct sm_lease l;
	assert_int_equal(sm_paxos_acquire(&r1, &me, &o, &l), 0);
	struct sm_disk_stats s0, s1;
	sm_disk_get_stats(w2->disk, &s0);
	unsigned c0 = prsim_caw_commands(lu);
	assert_int_equal(sm_paxos_release(&r2, &me, &l), 0);
	assert_int_equal(sm_paxos_acquire(&r1, &me, &o, &l), 0);
	sm_disk_get_stats(w2->disk, &s1);
	assert_int_equal(s1.reads - s0.reads, 0);
	assert_int_equal(prsim_caw_commands(lu) - c0, 2); /* one each, no miscompare */
	assert_int_equal(l.lver, 2);
	sm_volume_close(w1);
	sm_volume_close(w2);
}

static void a_held_lease_is_refused_without_writing(void **state)
{
	(void)state;
	struct host a, b;
	host_init(&a, 1, 1);
	host_init(&b, 2, 1);
	struct sm_lease la, lb;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0);
	unsigned c0 = prsim_caw_writes(lu);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), -SM_EHELD);
	assert_int_equal(lb.owner_id, 1);
	assert_false(lb.in_doubt);
	assert_int_equal(acquire(&b, SM_MODE_SH, &lb), -SM_EHELD);
	b.live.v[1] = SM_OWNER_UNKNOWN;
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), -SM_EUNKNOWN_HOST);
	assert_int_equal(prsim_caw_writes(lu), c0);
	/* a release by someone who does not hold it */
	struct sm_lease fake = {.lver = la.lver, .mode = SM_MODE_EX};
	assert_int_equal(sm_paxos_release(&b.ref, &b.me, &fake), -SM_ENOT_OWNER);
	struct sm_lease_view v;
	view(&b, &v);
	assert_int_equal(v.leader.owner_id, 1);
	host_done(&a);
	host_done(&b);
}

static void a_stale_image_miscompares_and_is_read_again(void **state)
{
	(void)state;
	struct host a, b;
	host_init(&a, 1, 1);
	host_init(&b, 2, 1);
	struct sm_lease l;
	assert_int_equal(acquire(&a, SM_MODE_EX, &l), 0);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &l), 0); /* a remembers lver 1, free */
	assert_int_equal(acquire(&b, SM_MODE_EX, &l), 0);
	assert_int_equal(sm_paxos_release(&b.ref, &b.me, &l), 0); /* lver 2, free */
	unsigned c0 = prsim_caw_commands(lu), w0 = prsim_caw_writes(lu);
	assert_int_equal(acquire(&a, SM_MODE_EX, &l), 0);
	assert_int_equal(prsim_caw_commands(lu) - c0, 2); /* a miscompare, then the real one */
	assert_int_equal(prsim_caw_writes(lu) - w0, 1);
	assert_int_equal(l.lver, 3);
	/* a remembered image showing a holder is never a refusal: b read fresh */
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &l), 0);
	assert_int_equal(acquire(&b, SM_MODE_EX, &l), 0);
	assert_int_equal(l.lver, 4);
	host_done(&a);
	host_done(&b);
}

static void a_dead_owner_is_taken_over(void **state)
{
	(void)state;
	struct host a, b;
	host_init(&a, 1, 1);
	host_init(&b, 2, 1);
	struct sm_lease la, lb;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0);
	b.live.v[1] = SM_OWNER_DEAD;
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), 0);
	assert_int_equal(lb.took_over_from, 1);
	assert_int_equal(lb.lver, la.lver + 1);
	/* the old owner's release finds someone else */
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), -SM_ENOT_OWNER);
	host_done(&a);
	host_done(&b);
}

static void shared_holders_exclude_ex_until_released_or_dead(void **state)
{
	(void)state;
	struct host a, b, c;
	host_init(&a, 1, 1);
	host_init(&b, 2, 7);
	host_init(&c, 3, 1);
	struct sm_lease la, lb, lc;
	assert_int_equal(acquire(&a, SM_MODE_SH, &la), 0);
	assert_int_equal(acquire(&b, SM_MODE_SH, &lb), 0);
	assert_int_equal(lb.lver, 2);
	struct sm_lease_view v;
	view(&c, &v);
	assert_int_equal(v.shared_count, 2);
	assert_int_equal(v.shared_host[1], 2);
	assert_int_equal(v.shared_gen[1], 7);
	assert_int_equal(v.leader.owner_id, 0);
	assert_int_equal(acquire(&c, SM_MODE_EX, &lc), -SM_ESHARED_HELD);
	assert_int_equal(lc.mode, SM_MODE_SH);
	c.live.v[1] = SM_OWNER_UNKNOWN;
	assert_int_equal(acquire(&c, SM_MODE_EX, &lc), -SM_EUNKNOWN_HOST);
	/* a releases; b dies: its bit is dropped by the EX acquire */
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), 0);
	c.live.v[2] = SM_OWNER_DEAD;
	assert_int_equal(acquire(&c, SM_MODE_EX, &lc), 0);
	view(&c, &v);
	assert_int_equal(v.shared_count, 0);
	assert_int_equal(v.leader.owner_id, 3);
	/* an SH acquire against a live EX owner */
	assert_int_equal(acquire(&a, SM_MODE_SH, &la), -SM_EHELD);
	host_done(&a);
	host_done(&b);
	host_done(&c);
}

static void a_shared_bit_of_an_older_generation_is_a_dead_holder(void **state)
{
	(void)state;
	struct host a, c;
	host_init(&a, 1, 1);
	host_init(&c, 3, 1);
	struct sm_lease la, lc;
	assert_int_equal(acquire(&a, SM_MODE_SH, &la), 0);
	/* host 1 restarts with generation 2 and holds nothing */
	host_done(&a);
	host_init(&a, 1, 2);
	struct sm_mine m;
	assert_int_equal(sm_paxos_mine(&a.ref, &a.me, &m), 0);
	assert_false(m.shared); /* the bit is generation 1's */
	assert_false(m.ex);
	c.live.dead_below[1] = 2;
	assert_int_equal(acquire(&c, SM_MODE_EX, &lc), 0);
	host_done(&a);
	host_done(&c);
}

static void convert_both_ways_and_hand_off(void **state)
{
	(void)state;
	struct host a, b;
	host_init(&a, 1, 1);
	host_init(&b, 2, 1);
	struct sm_lease l, lb, refused;
	assert_int_equal(acquire(&a, SM_MODE_EX, &l), 0);
	assert_int_equal(sm_paxos_convert_to_shared(&a.ref, &a.me, &l), 0);
	assert_int_equal(l.mode, SM_MODE_SH);
	assert_int_equal(acquire(&b, SM_MODE_SH, &lb), 0);
	struct sm_oracle live = {fake_verdict, &a.live};
	assert_int_equal(sm_paxos_convert_to_exclusive(&a.ref, &a.me, &live, &l, &refused), -SM_ESHARED_HELD);
	assert_int_equal(refused.owner_id, 2);
	assert_int_equal(l.mode, SM_MODE_SH); /* still shared */
	assert_int_equal(sm_paxos_release(&b.ref, &b.me, &lb), 0);
	assert_int_equal(sm_paxos_convert_to_exclusive(&a.ref, &a.me, &live, &l, &refused), 0);
	assert_int_equal(l.mode, SM_MODE_EX);
	struct sm_lease_view v;
	view(&a, &v);
	assert_int_equal(v.shared_count, 0);
	assert_int_equal(v.leader.owner_id, 1);
	/* hand-off: lver + 1, the receiver owns it */
	struct sm_lease out;
	assert_int_equal(sm_paxos_handoff(&a.ref, &a.me, &l, 2, 1, 0, &out), 0);
	assert_int_equal(out.lver, l.lver + 1);
	view(&b, &v);
	assert_int_equal(v.leader.owner_id, 2);
	assert_int_equal(v.leader.lver, l.lver + 1);
	struct sm_mine m;
	assert_int_equal(sm_paxos_mine(&b.ref, &b.me, &m), 0);
	assert_true(m.ex);
	/* the daemon's sweep by area: the resource's name from its leader, an
	 * area never used is no resource */
	struct sm_resource_ref sweep = b.ref;
	sweep.name[0] = 0;
	assert_int_equal(sm_paxos_mine(&sweep, &b.me, &m), 0);
	assert_string_equal(m.name, "res");
	assert_true(m.ex);
	sweep.disk[0].area = 3;
	assert_int_equal(sm_paxos_mine(&sweep, &b.me, &m), -SM_ENO_RESOURCE);
	/* a hand-off past its deadline writes nothing */
	struct sm_lease held = out;
	unsigned w0 = prsim_caw_writes(lu);
	assert_int_equal(sm_paxos_handoff(&b.ref, &b.me, &held, 1, 1, 1, &out), -ETIMEDOUT);
	assert_int_equal(prsim_caw_writes(lu), w0);
	/* retire: no acquire afterwards */
	assert_int_equal(sm_paxos_retire(&b.ref, &b.me, &held), 0);
	assert_int_equal(acquire(&a, SM_MODE_EX, &l), -SM_ENO_RESOURCE);
	host_done(&a);
	host_done(&b);
}

static void a_caw_that_timed_out_is_in_doubt_and_resolved(void **state)
{
	(void)state;
	struct host a, b;
	host_init(&a, 1, 1);
	host_init(&b, 2, 1);
	struct sm_lease l;
	/* not executed */
	struct sm_fault_rule r = {.op = SM_FAULT_CAW, .kind = SM_FAULT_ERRNO, .err = ETIMEDOUT, .count = 1};
	assert_int_equal(sm_fault_add(&r), 0);
	assert_int_equal(acquire(&a, SM_MODE_EX, &l), -SM_EIO_TIMEOUT);
	assert_true(l.in_doubt);
	struct sm_oracle live = {fake_verdict, &a.live};
	assert_int_equal(sm_paxos_resolve(&a.ref, &a.me, &live), 0);
	struct sm_lease_view v;
	view(&a, &v);
	assert_int_equal(v.leader.owner_id, 0);
	/* executed, the answer lost: the lease is ours without our knowing */
	sm_fault_clear();
	r.kind = SM_FAULT_DONE_ERRNO;
	assert_int_equal(sm_fault_add(&r), 0);
	assert_int_equal(acquire(&a, SM_MODE_EX, &l), -SM_EIO_TIMEOUT);
	assert_true(l.in_doubt);
	struct sm_mine m;
	assert_int_equal(sm_paxos_mine(&a.ref, &a.me, &m), 0);
	assert_true(m.ex);
	assert_int_equal(acquire(&b, SM_MODE_EX, &l), -SM_EHELD); /* safe: it is someone's */
	assert_int_equal(sm_paxos_resolve(&a.ref, &a.me, &live), 0);
	view(&a, &v);
	assert_int_equal(v.leader.owner_id, 0);
	assert_int_equal(acquire(&b, SM_MODE_EX, &l), 0);
	/* the same for a shared hold */
	assert_int_equal(sm_paxos_release(&b.ref, &b.me, &l), 0);
	assert_int_equal(sm_paxos_mine(&a.ref, &a.me, &m), 0); /* a reads: its image is current */
	assert_int_equal(sm_fault_add(&r), 0);
	assert_int_equal(acquire(&a, SM_MODE_SH, &l), -SM_EIO_TIMEOUT);
	assert_int_equal(sm_paxos_mine(&a.ref, &a.me, &m), 0);
	assert_true(m.shared);
	assert_int_equal(sm_paxos_resolve(&a.ref, &a.me, &live), 0);
	view(&a, &v);
	assert_int_equal(v.shared_count, 0);
	host_done(&a);
	host_done(&b);
}

static void a_damaged_leader_sector_is_never_free(void **state)
{
	(void)state;
	struct host a;
	host_init(&a, 1, 1);
	struct sm_lease l;
	assert_int_equal(acquire(&a, SM_MODE_EX, &l), 0);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &l), 0);
	host_done(&a);
	/* flip a byte of the shared-holders record behind the emulator */
	struct sm_volume *v;
	assert_int_equal(sm_volume_open(lu_path, 0, SM_DISK_READONLY, &v), 0);
	uint64_t off = sm_volume_area_offset(&v->hdr, 0) + SM_SHARED_OFFSET + 20;
	sm_volume_close(v);
	int fd = open(lu_path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t byte = 0x5a;
	assert_int_equal(pwrite(fd, &byte, 1, (off_t)off), 1);
	close(fd);
	host_init(&a, 1, 1);
	assert_int_equal(acquire(&a, SM_MODE_EX, &l), -SM_EBAD_CHECKSUM);
	host_done(&a);
}

static void a_device_without_compare_and_write_is_refused(void **state)
{
	(void)state;
	const char *plain = tu_temp_file("caw-file", 1 << 20);
	struct sm_format_params p = {.lockspace = "ls", .max_hosts = NHOSTS, .resources = 2, .io_timeout_ms = 1000,
				     .resource_names = (const char *[]){"res"}, .resource_name_count = 1,
				     .lease_io = SM_LEASE_IO_CAW};
	/* formatting does not probe (the CLI does); using it fails closed */
	assert_int_equal(sm_volume_format(plain, 0, &p, NULL), 0);
	struct sm_volume *v;
	assert_int_equal(sm_volume_open(plain, 0, 0, &v), 0);
	struct sm_resource_ref r;
	assert_int_equal(sm_resource_ref_init(&r, v, "res"), 0);
	struct fake_live fl = {.self = 1, .self_gen = 1};
	struct sm_acquire_opts o = {.mode = SM_MODE_EX, .live = {fake_verdict, &fl}};
	struct sm_lease l;
	struct sm_me me = {1, 1};
	assert_int_equal(sm_paxos_acquire(&r, &me, &o, &l), -SM_ECAW_UNSUPPORTED);
	sm_volume_close(v);
	/* more hosts than the shared-holders bitmap holds */
	p.max_hosts = SM_CAW_MAX_HOSTS + 1;
	assert_int_equal(sm_volume_format(plain, 0, &p, NULL), -SM_EBAD_ARGUMENT);
}

static void resources_are_added_and_removed_under_the_index_lease(void **state)
{
	(void)state;
	struct host a, b;
	host_init(&a, 1, 1);
	host_init(&b, 2, 1);
	struct sm_oracle live = {fake_verdict, &a.live};
	uint32_t area;
	unsigned c0 = prsim_caw_writes(lu);
	assert_int_equal(sm_resource_add(a.vol, "vm2", &a.me, &live, 0, &area), 0);
	assert_true(prsim_caw_writes(lu) - c0 >= 2); /* the index lease: acquire + release */
	struct sm_resource_ref r2;
	assert_int_equal(sm_resource_ref_init(&r2, b.vol, "vm2"), 0);
	struct sm_acquire_opts o = {.mode = SM_MODE_EX, .live = {fake_verdict, &b.live}};
	struct sm_lease l;
	assert_int_equal(sm_paxos_acquire(&r2, &b.me, &o, &l), 0);
	assert_int_equal(l.lver, 1);
	/* removal is refused while a live host holds it */
	assert_int_equal(sm_resource_remove(a.vol, "vm2", &a.me, &live, 0), -SM_EHELD);
	assert_int_equal(sm_paxos_release(&r2, &b.me, &l), 0);
	assert_int_equal(sm_resource_remove(a.vol, "vm2", &a.me, &live, 0), 0);
	assert_int_equal(sm_resource_ref_init(&r2, b.vol, "vm2"), -SM_ENO_RESOURCE);
	host_done(&a);
	host_done(&b);
}

/* Exclusion under real concurrency: threads as hosts, each its own handle
 * and initiator; the emulator executes each COMPARE AND WRITE atomically. */
static atomic_int inside, overlaps, grants;
struct worker {
	struct host h;
	int rounds;
};
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < w->rounds; i++) {
		struct sm_lease l;
		int rc = acquire(&w->h, i % 3 == 0 ? SM_MODE_SH : SM_MODE_EX, &l);
		if (rc != 0)
			continue;
		bool ex = l.mode == SM_MODE_EX;
		int before = atomic_fetch_add(&inside, ex ? 1000 : 1);
		if (ex ? before != 0 : before >= 1000)
			atomic_fetch_add(&overlaps, 1);
		atomic_fetch_add(&grants, 1);
		usleep(200);
		atomic_fetch_sub(&inside, ex ? 1000 : 1);
		assert_int_equal(sm_paxos_release(&w->h.ref, &w->h.me, &l), 0);
	}
	return NULL;
}

static void threads_never_hold_ex_together(void **state)
{
	(void)state;
	enum { NT = 4 };
	struct worker w[NT];
	pthread_t t[NT];
	for (int i = 0; i < NT; i++) {
		host_init(&w[i].h, (uint32_t)i + 1, 1);
		w[i].rounds = 150;
	}
	for (int i = 0; i < NT; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	for (int i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&overlaps), 0);
	assert_true(atomic_load(&grants) > 0);
	struct sm_lease_view v;
	view(&w[0].h, &v);
	assert_int_equal(v.leader.owner_id, 0);
	assert_int_equal(v.shared_count, 0);
	for (int i = 0; i < NT; i++)
		host_done(&w[i].h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(free_acquire_is_one_caw_once_the_image_is_known, setup, teardown),
		cmocka_unit_test_setup_teardown(handles_of_one_process_share_the_images, setup, teardown),
		cmocka_unit_test_setup_teardown(a_held_lease_is_refused_without_writing, setup, teardown),
		cmocka_unit_test_setup_teardown(a_stale_image_miscompares_and_is_read_again, setup, teardown),
		cmocka_unit_test_setup_teardown(a_dead_owner_is_taken_over, setup, teardown),
		cmocka_unit_test_setup_teardown(shared_holders_exclude_ex_until_released_or_dead, setup, teardown),
		cmocka_unit_test_setup_teardown(a_shared_bit_of_an_older_generation_is_a_dead_holder, setup, teardown),
		cmocka_unit_test_setup_teardown(convert_both_ways_and_hand_off, setup, teardown),
		cmocka_unit_test_setup_teardown(a_caw_that_timed_out_is_in_doubt_and_resolved, setup, teardown),
		cmocka_unit_test_setup_teardown(a_damaged_leader_sector_is_never_free, setup, teardown),
		cmocka_unit_test_setup_teardown(a_device_without_compare_and_write_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(resources_are_added_and_removed_under_the_index_lease, setup, teardown),
		cmocka_unit_test_setup_teardown(threads_never_hold_ex_together, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
