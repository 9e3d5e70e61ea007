/* Disk Paxos leases: EX/SH, takeover, versions, faults, multiple disks. */
#include "testutil.h"

#include "common/clock.h"
#include "disk/disk.h"
#include "disk/fault.h"
#include "lease/paxos.h"
#include "lease/resource.h"
#include "ondisk/index.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A scripted liveness oracle: verdict per host_id; host_id "self" is us. */
struct fake_live {
	enum sm_owner_verdict v[16];
	uint32_t self;
	uint64_t self_gen;
};
static enum sm_owner_verdict fake_verdict(void *arg, uint32_t id, uint64_t gen, uint64_t read_done_ms)
{
	struct fake_live *f = arg;
	(void)read_done_ms;
	if (id == f->self)
		return gen == f->self_gen ? SM_OWNER_SELF : gen < f->self_gen ? SM_OWNER_DEAD : SM_OWNER_UNKNOWN;
	return id < 16 ? f->v[id] : SM_OWNER_UNKNOWN;
}

/* One emulated host: its identity, its own volume handles, its view of others. */
struct host {
	struct sm_me me;
	struct fake_live live;
	struct sm_volume *vol[3];
	struct sm_resource_ref ref;
};

static const char *paths[3];

static void format_vol(int i, const char *res)
{
	paths[i] = tu_temp_file(i == 0 ? "px0" : i == 1 ? "px1" : "px2", 0);
	struct sm_format_params p = {.lockspace = "ls", .max_hosts = 8, .resources = 4, .io_timeout_ms = 500,
				     .resource_names = (const char *[]){res}, .resource_name_count = 1};
	assert_int_equal(sm_volume_format(paths[i], 0, &p, NULL), 0);
}

static int setup(void **state)
{
	tu_reset_faults();
	sm_fault_install(); /* so per-path rules see every open */
	for (int i = 0; i < 3; i++)
		format_vol(i, "res");
	return 0;
}

static int teardown(void **state)
{
	tu_reset_faults();
	tu_cleanup_files();
	return 0;
}

static void host_init(struct host *h, uint32_t id, uint64_t gen, int ndisks)
{
	memset(h, 0, sizeof(*h));
	h->me = (struct sm_me){id, gen};
	h->live.self = id;
	h->live.self_gen = gen;
	for (int i = 0; i < 16; i++)
		h->live.v[i] = SM_OWNER_ALIVE;
	for (int i = 0; i < ndisks; i++) {
		assert_int_equal(sm_volume_open(paths[i], 0, 0, &h->vol[i]), 0);
		struct sm_resource_ref one;
		assert_int_equal(sm_resource_ref_init(&one, h->vol[i], "res"), 0);
		h->ref.disk[i] = one.disk[0];
	}
	strcpy(h->ref.name, "res");
	h->ref.ndisks = ndisks;
}

static void host_done(struct host *h)
{
	for (int i = 0; i < 3; i++)
		sm_volume_close(h->vol[i]);
}

static struct sm_acquire_opts opts(struct host *h, uint32_t mode)
{
	return (struct sm_acquire_opts){.mode = mode, .live = {fake_verdict, &h->live}};
}

static int acquire(struct host *h, uint32_t mode, struct sm_lease *l)
{
	struct sm_acquire_opts o = opts(h, mode);
	return sm_paxos_acquire(&h->ref, &h->me, &o, l);
}

static void free_ex_acquire_takes_six_ios_and_sets_lver_1(void **state)
{
	struct host a;
	host_init(&a, 1, 1, 1);
	struct sm_disk_stats before, after;
	sm_disk_get_stats(a.vol[0]->disk, &before);
	struct sm_lease l;
	assert_int_equal(acquire(&a, SM_MODE_EX, &l), 0);
	sm_disk_get_stats(a.vol[0]->disk, &after);
	assert_int_equal(after.reads - before.reads, 3);
	assert_int_equal(after.writes - before.writes, 3);
	/* two whole-area reads of dblocks + one whole-area read: 10 sectors * 3 minus the leader/request of R2, R3 */
	assert_int_equal(after.bytes_read - before.bytes_read, (10 + 8 + 8) * 512);
	assert_int_equal(l.lver, 1);
	assert_int_equal(l.mode, SM_MODE_EX);
	assert_int_equal(l.owner_id, 1);
	struct sm_lease_view v;
	assert_int_equal(sm_paxos_inquire(&a.ref, &v), 0);
	assert_int_equal(v.leader.owner_id, 1);
	assert_int_equal(v.leader.owner_generation, 1);
	assert_int_equal(v.leader.lver, 1);
	host_done(&a);
}

/* The orphan sweep's check of one area (sm_paxos_mine) reads the leader and
 * our own sector; for a low host_id they are a few sectors apart: one I/O. */
static void mine_reads_leader_and_own_sector_in_one_io(void **state)
{
	struct host a;
	host_init(&a, 3, 1, 1);
	struct sm_lease l;
	assert_int_equal(acquire(&a, SM_MODE_EX, &l), 0);
	struct sm_disk_stats before, after;
	sm_disk_get_stats(a.vol[0]->disk, &before);
	struct sm_mine m;
	assert_int_equal(sm_paxos_mine(&a.ref, &a.me, &m), 0);
	sm_disk_get_stats(a.vol[0]->disk, &after);
	assert_true(m.ex);
	assert_int_equal(after.reads - before.reads, 1);
	assert_int_equal(after.bytes_read - before.bytes_read, (2 + 3) * 512); /* sectors 0 .. own */
	host_done(&a);
}

static void held_lease_is_refused_naming_the_owner(void **state)
{
	struct host a, b;
	host_init(&a, 1, 1, 1);
	host_init(&b, 2, 1, 1);
	struct sm_lease la, lb;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), -SM_EHELD);
	assert_int_equal(lb.owner_id, 1);
	assert_false(lb.in_doubt);
	b.live.v[1] = SM_OWNER_UNKNOWN;
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), -SM_EUNKNOWN_HOST);
	assert_int_equal(acquire(&b, SM_MODE_SH, &lb), -SM_EUNKNOWN_HOST);
	/* refusals do not touch the lease */
	struct sm_lease_view v;
	sm_paxos_inquire(&a.ref, &v);
	assert_int_equal(v.leader.lver, 1);
	assert_int_equal(v.leader.owner_id, 1);
	host_done(&a);
	host_done(&b);
}

static void dead_owner_is_taken_over_and_can_no_longer_release(void **state)
{
	struct host a, b;
	host_init(&a, 1, 1, 1);
	host_init(&b, 2, 1, 1);
	struct sm_lease la, lb;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0);
	b.live.v[1] = SM_OWNER_DEAD;
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), 0);
	assert_int_equal(lb.lver, 2);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), -SM_ENOT_OWNER);
	struct sm_lease_view v;
	sm_paxos_inquire(&a.ref, &v);
	assert_int_equal(v.leader.owner_id, 2);
	host_done(&a);
	host_done(&b);
}

static void release_keeps_lver_and_next_acquire_increments_it(void **state)
{
	struct host a, b;
	host_init(&a, 1, 1, 1);
	host_init(&b, 2, 1, 1);
	struct sm_lease la, lb;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), 0);
	struct sm_lease_view v;
	sm_paxos_inquire(&a.ref, &v);
	assert_int_equal(v.leader.lver, 1);
	assert_int_equal(v.leader.owner_id, 0);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), 0);
	assert_int_equal(lb.lver, 2);
	host_done(&a);
	host_done(&b);
}

static void acquire_at_version_is_the_migration_rule(void **state)
{
	struct host src, dst, third;
	host_init(&src, 1, 1, 1);
	host_init(&dst, 2, 1, 1);
	host_init(&third, 3, 1, 1);
	struct sm_lease ls, ld, lt;
	assert_int_equal(acquire(&src, SM_MODE_EX, &ls), 0); /* lver 1 */
	uint64_t v = ls.lver;
	assert_int_equal(sm_paxos_release(&src.ref, &src.me, &ls), 0);
	struct sm_acquire_opts o = opts(&dst, SM_MODE_EX);
	o.at_version = true;
	o.version = v;
	assert_int_equal(sm_paxos_acquire(&dst.ref, &dst.me, &o, &ld), 0);
	assert_int_equal(ld.lver, v + 1);
	/* migration back: dst releases at v+1; a third party steps in */
	assert_int_equal(sm_paxos_release(&dst.ref, &dst.me, &ld), 0);
	assert_int_equal(acquire(&third, SM_MODE_EX, &lt), 0);
	assert_int_equal(sm_paxos_release(&third.ref, &third.me, &lt), 0);
	o = opts(&src, SM_MODE_EX);
	o.at_version = true;
	o.version = v + 1;
	assert_int_equal(sm_paxos_acquire(&src.ref, &src.me, &o, &ls), -SM_ELVER_MISMATCH);
	assert_int_equal(ls.lver, v + 2);
	o = opts(&dst, SM_MODE_EX);
	o.at_version = true;
	o.version = v + 1;
	assert_int_equal(sm_paxos_acquire(&dst.ref, &dst.me, &o, &ld), -SM_ELVER_MISMATCH);
	host_done(&src);
	host_done(&dst);
	host_done(&third);
}

static void shared_holders_coexist_and_block_exclusive(void **state)
{
	struct host a, b, c;
	host_init(&a, 1, 1, 1);
	host_init(&b, 2, 1, 1);
	host_init(&c, 3, 1, 1);
	struct sm_lease la, lb, lc;
	assert_int_equal(acquire(&a, SM_MODE_SH, &la), 0);
	assert_int_equal(acquire(&b, SM_MODE_SH, &lb), 0);
	assert_int_equal(acquire(&c, SM_MODE_EX, &lc), -SM_ESHARED_HELD);
	assert_true(lc.owner_id == 1 || lc.owner_id == 2);
	struct sm_lease_view v;
	sm_paxos_inquire(&a.ref, &v);
	assert_int_equal(v.shared_count, 2);
	assert_int_equal(v.leader.owner_id, 0);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), 0);
	assert_int_equal(acquire(&c, SM_MODE_EX, &lc), -SM_ESHARED_HELD);
	c.live.v[2] = SM_OWNER_DEAD; /* a dead shared holder does not count */
	assert_int_equal(acquire(&c, SM_MODE_EX, &lc), 0);
	/* and an exclusive holder blocks shared */
	assert_int_equal(acquire(&a, SM_MODE_SH, &la), -SM_EHELD);
	host_done(&a);
	host_done(&b);
	host_done(&c);
}

static void convert_between_exclusive_and_shared(void **state)
{
	struct host a, b;
	host_init(&a, 1, 1, 1);
	host_init(&b, 2, 1, 1);
	struct sm_lease la, lb;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0);
	assert_int_equal(sm_paxos_convert_to_shared(&a.ref, &a.me, &la), 0);
	assert_int_equal(la.mode, SM_MODE_SH);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), -SM_ESHARED_HELD);
	assert_int_equal(acquire(&b, SM_MODE_SH, &lb), 0);
	struct sm_oracle live = {fake_verdict, &a.live};
	assert_int_equal(sm_paxos_convert_to_exclusive(&a.ref, &a.me, &live, &la, NULL), -SM_ESHARED_HELD);
	assert_int_equal(la.mode, SM_MODE_SH);
	assert_int_equal(sm_paxos_release(&b.ref, &b.me, &lb), 0);
	assert_int_equal(sm_paxos_convert_to_exclusive(&a.ref, &a.me, &live, &la, NULL), 0);
	assert_int_equal(la.mode, SM_MODE_EX);
	struct sm_lease_view v;
	sm_paxos_inquire(&a.ref, &v);
	assert_int_equal(v.shared_count, 0);
	assert_int_equal(v.leader.owner_id, 1);
	assert_int_equal(acquire(&b, SM_MODE_SH, &lb), -SM_EHELD);
	host_done(&a);
	host_done(&b);
}

static void handoff_names_the_receiver_at_the_next_version(void **state)
{
	struct host s, d;
	host_init(&s, 1, 1, 1);
	host_init(&d, 2, 3, 1);
	struct sm_lease ls, out;
	assert_int_equal(acquire(&s, SM_MODE_EX, &ls), 0);
	assert_int_equal(sm_paxos_request(&d.ref, &d.me, SM_REQ_HANDOFF, ls.lver), 0);
	struct sm_lease_view v;
	sm_paxos_inquire(&s.ref, &v);
	assert_int_equal(v.request_status, 0);
	assert_int_equal(v.request.kind, SM_REQ_HANDOFF);
	assert_int_equal(v.request.requester_id, 2);
	assert_int_equal(sm_paxos_handoff(&s.ref, &s.me, &ls, 2, 3, 0, &out), 0);
	assert_int_equal(out.lver, ls.lver + 1);
	sm_paxos_inquire(&s.ref, &v);
	assert_int_equal(v.leader.owner_id, 2);
	assert_int_equal(v.leader.owner_generation, 3);
	/* the receiver holds it now; the old owner cannot hand it off again */
	assert_int_equal(sm_paxos_handoff(&s.ref, &s.me, &ls, 3, 1, 0, &out), -SM_ENOT_OWNER);
	struct sm_lease ld = {.lver = ls.lver + 1, .mode = SM_MODE_EX};
	assert_int_equal(sm_paxos_release(&d.ref, &d.me, &ld), 0);
	host_done(&s);
	host_done(&d);
}

/* A late write of an old leader of ours (found by the torture run: another
 * host's catch-up announcement stuck in the storage path) must not make our
 * release fail; but once a later instance exists the lease is not ours. */
static void release_sees_through_a_late_old_leader_of_ours(void **state)
{
	struct host a, b;
	host_init(&a, 1, 1, 1);
	host_init(&b, 2, 1, 1);
	uint64_t area = sm_volume_area_offset(&a.vol[0]->hdr, a.ref.disk[0].area);
	int fd = open(paths[0], O_RDWR);
	assert_true(fd >= 0);
	uint8_t old[512];
	struct sm_lease l1, l2, lb;
	assert_int_equal(acquire(&a, SM_MODE_EX, &l1), 0); /* lver 1, ours */
	assert_int_equal(pread(fd, old, sizeof(old), (off_t)area), (ssize_t)sizeof(old));
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &l1), 0);
	assert_int_equal(acquire(&a, SM_MODE_EX, &l2), 0); /* lver 2 */
	assert_int_equal(pwrite(fd, old, sizeof(old), (off_t)area), (ssize_t)sizeof(old)); /* lver 1 lands late */
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), -SM_EHELD); /* still ours to everyone */
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &l2), 0);
	struct sm_lease_view v;
	assert_int_equal(sm_paxos_inquire(&a.ref, &v), 0);
	assert_int_equal(v.leader.lver, 2);
	assert_int_equal(v.leader.owner_id, 0);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), 0);
	assert_int_equal(lb.lver, 3);
	/* b holds lver 3; a stale leader naming a at lver 1 lands: a (still
	 * thinking it holds lver 2) must not free anything */
	assert_int_equal(pwrite(fd, old, sizeof(old), (off_t)area), (ssize_t)sizeof(old));
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &l2), -SM_ENOT_OWNER);
	assert_int_equal(sm_paxos_inquire(&a.ref, &v), 0);
	assert_int_equal(v.announced_lver, 1); /* the record is untouched by a */
	assert_int_equal(v.leader.lver, 3);     /* inquire reports b's instance */
	assert_int_equal(v.leader.owner_id, 2);
	close(fd);
	host_done(&a);
	host_done(&b);
}

static void corrupt_dblock_or_wrong_lockspace_fails_closed(void **state)
{
	struct host a, b;
	host_init(&a, 1, 1, 1);
	host_init(&b, 2, 1, 1);
	struct sm_lease la;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), 0);
	/* flip a byte in host 5's dblock */
	uint64_t area = sm_volume_area_offset(&a.vol[0]->hdr, a.ref.disk[0].area);
	int fd = open(paths[0], O_WRONLY);
	uint8_t junk = 0x77;
	assert_int_equal(pwrite(fd, &junk, 1, (off_t)(area + (2 + 4) * 512 + 20)), 1);
	close(fd);
	struct sm_lease lb;
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), -SM_EBAD_CHECKSUM);
	assert_false(lb.in_doubt);
	struct sm_lease_view v;
	sm_paxos_inquire(&a.ref, &v);
	assert_int_equal(v.leader.owner_id, 0); /* untouched */

	/* a resource reference into a volume of another lockspace */
	const char *other = tu_temp_file("pxo", 0);
	struct sm_format_params p = {.lockspace = "other", .max_hosts = 8, .resources = 4,
				     .resource_names = (const char *[]){"res"}, .resource_name_count = 1};
	assert_int_equal(sm_volume_format(other, 0, &p, NULL), 0);
	struct sm_volume *ov;
	assert_int_equal(sm_volume_open(other, 0, 0, &ov), 0);
	struct sm_resource_ref mixed = a.ref;
	mixed.ndisks = 3;
	mixed.disk[1] = mixed.disk[0];
	mixed.disk[2].vol = ov;
	mixed.disk[2].area = 0;
	struct sm_acquire_opts o = opts(&a, SM_MODE_EX);
	assert_int_equal(sm_paxos_acquire(&mixed, &a.me, &o, &la), -SM_EBAD_GEOMETRY);
	sm_volume_close(ov);
	host_done(&a);
	host_done(&b);
}

static void io_error_before_phase_two_grants_nothing(void **state)
{
	struct host a;
	host_init(&a, 1, 1, 1);
	struct sm_fault_rule r = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_ERRNO, .err = EIO, .nth = 1, .count = 1};
	sm_fault_add(&r);
	struct sm_lease l;
	assert_int_equal(acquire(&a, SM_MODE_EX, &l), -EIO);
	assert_false(l.in_doubt);
	struct sm_lease_view v;
	sm_paxos_inquire(&a.ref, &v);
	assert_int_equal(v.leader.lver, 0);
	assert_int_equal(v.leader.owner_id, 0);
	host_done(&a);
}

static void io_timeout_in_phase_two_is_in_doubt_never_granted_nor_free(void **state)
{
	struct host a, b;
	host_init(&a, 1, 1, 1);
	host_init(&b, 2, 1, 1);
	/* writes: W1 ok, W2 hangs past the 500 ms timeout */
	struct sm_fault_rule r = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_HANG, .nth = 2, .count = 1};
	sm_fault_add(&r);
	struct sm_lease l;
	int rc = acquire(&a, SM_MODE_EX, &l);
	assert_int_equal(rc, -SM_EIO_TIMEOUT);
	assert_true(l.in_doubt);
	/* the hung write lands now: a's value could be chosen */
	sm_fault_release_hung(true);
	for (int i = 0; i < 100 && sm_disk_pending(a.vol[0]->disk); i++)
		usleep(5000);
	/* b runs the same instance and must adopt a's value: a is the owner */
	struct sm_lease lb;
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), -SM_EHELD);
	assert_int_equal(lb.owner_id, 1);
	/* a resolves its doubt: the lease it never reported is released */
	struct sm_oracle live = {fake_verdict, &a.live};
	assert_int_equal(sm_paxos_resolve(&a.ref, &a.me, &live), 0);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), 0);
	host_done(&a);
	host_done(&b);
}

static void three_disks_survive_one_lost_disk_but_not_two(void **state)
{
	struct host a, b;
	host_init(&a, 1, 1, 3);
	host_init(&b, 2, 1, 3);
	struct sm_fault_rule lost = {.op = SM_FAULT_ANY, .kind = SM_FAULT_ERRNO, .err = EIO, .path = "px1"};
	sm_fault_add(&lost);
	struct sm_lease la, lb;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), -SM_EHELD);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), 0);
	struct sm_fault_rule lost2 = {.op = SM_FAULT_ANY, .kind = SM_FAULT_ERRNO, .err = EIO, .path = "px2"};
	sm_fault_add(&lost2);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), -SM_ENO_MAJORITY);
	host_done(&a);
	host_done(&b);
}

static void stale_leader_on_one_disk_does_not_hide_a_newer_version(void **state)
{
	struct host a, b;
	host_init(&a, 1, 1, 3);
	host_init(&b, 2, 1, 3);
	struct sm_lease la, lb;
	/* disk 0 misses a's whole acquisition */
	struct sm_fault_rule lost = {.op = SM_FAULT_ANY, .kind = SM_FAULT_ERRNO, .err = EIO, .path = "px0"};
	sm_fault_add(&lost);
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0);
	tu_reset_faults();
	sm_fault_install();
	/* b sees disk 0's old free leader but the majority says a holds it */
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), -SM_EHELD);
	assert_int_equal(lb.owner_id, 1);
	host_done(&a);
	host_done(&b);
}

static void leader_lagging_two_instances_behind_is_caught_up_not_stolen(void **state)
{
	struct host a, b, c;
	host_init(&a, 1, 1, 1);
	host_init(&b, 2, 1, 1);
	host_init(&c, 3, 1, 1);
	struct sm_lease la, lb;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0); /* lver 1 */
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), 0);
	uint64_t area = sm_volume_area_offset(&a.vol[0]->hdr, a.ref.disk[0].area);
	uint8_t old_leader[512];
	int fd = open(paths[0], O_RDWR);
	assert_int_equal(pread(fd, old_leader, 512, (off_t)area), 512);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), 0); /* lver 2 */
	assert_int_equal(sm_paxos_release(&b.ref, &b.me, &lb), 0);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), 0); /* lver 3, b holds it */
	assert_int_equal(lb.lver, 3);
	/* a lost (or late) write puts the lver-1 leader back */
	assert_int_equal(pwrite(fd, old_leader, 512, (off_t)area), 512);
	close(fd);
	struct sm_lease lc;
	assert_int_equal(acquire(&c, SM_MODE_EX, &lc), -SM_EHELD);
	assert_int_equal(lc.owner_id, 2);
	struct sm_lease_view v;
	sm_paxos_inquire(&c.ref, &v);
	assert_int_equal(v.leader.lver, 3); /* repaired */
	assert_int_equal(v.leader.owner_id, 2);
	assert_int_equal(sm_paxos_release(&b.ref, &b.me, &lb), 0);
	assert_int_equal(acquire(&c, SM_MODE_EX, &lc), 0);
	assert_int_equal(lc.lver, 4);
	host_done(&a);
	host_done(&b);
	host_done(&c);
}

static void resource_index_add_and_remove_under_the_index_lease(void **state)
{
	struct host a;
	host_init(&a, 1, 1, 1);
	struct sm_oracle live = {fake_verdict, &a.live};
	uint32_t area;
	assert_int_equal(sm_resource_add(a.vol[0], "vm-2", &a.me, &live, 1000, &area), 0);
	assert_int_equal(area, 1);
	assert_int_equal(sm_resource_add(a.vol[0], "vm-2", &a.me, &live, 1000, &area), -SM_ERESOURCE_EXISTS);
	assert_int_equal(sm_resource_add(a.vol[0], "__x", &a.me, &live, 1000, &area), -SM_EBAD_NAME);
	struct sm_resource_ref r;
	assert_int_equal(sm_resource_ref_init(&r, a.vol[0], "vm-2"), 0);
	struct sm_acquire_opts o = opts(&a, SM_MODE_EX);
	struct sm_lease l;
	assert_int_equal(sm_paxos_acquire(&r, &a.me, &o, &l), 0);
	/* held by a live host (from another host's point of view): refused */
	struct host b;
	host_init(&b, 2, 1, 1);
	struct sm_oracle blive = {fake_verdict, &b.live};
	assert_int_equal(sm_resource_remove(b.vol[0], "vm-2", &b.me, &blive, 1000), -SM_EHELD);
	assert_int_equal(sm_paxos_release(&r, &a.me, &l), 0);
	assert_int_equal(sm_resource_remove(b.vol[0], "vm-2", &b.me, &blive, 1000), 0);
	/* a stale name -> area mapping can no longer acquire the removed area */
	assert_int_equal(sm_paxos_acquire(&r, &a.me, &o, &l), -SM_ENO_RESOURCE);
	assert_int_equal(sm_resource_ref_init(&r, a.vol[0], "vm-2"), -SM_ENO_RESOURCE);
	/* added again, the same name works (area initialized anew) */
	assert_int_equal(sm_resource_add(a.vol[0], "vm-2", &a.me, &live, 1000, &area), 0);
	assert_int_equal(sm_resource_ref_init(&r, a.vol[0], "vm-2"), 0);
	assert_int_equal(sm_paxos_acquire(&r, &a.me, &o, &l), 0);
	assert_int_equal(sm_paxos_release(&r, &a.me, &l), 0);
	assert_int_equal(sm_resource_remove(a.vol[0], "vm-2", &a.me, &live, 1000), 0);
	/* fill the volume: 4 areas, "res" uses one */
	for (int i = 0; i < 3; i++) {
		char n[16];
		snprintf(n, sizeof(n), "r%d", i);
		assert_int_equal(sm_resource_add(a.vol[0], n, &a.me, &live, 1000, NULL), 0);
	}
	assert_int_equal(sm_resource_add(a.vol[0], "one-too-many", &a.me, &live, 1000, NULL), -SM_EINDEX_FULL);
	host_done(&a);
	host_done(&b);
}

/* ---- release: error paths ------------------------------------------------- */

static uint64_t disk_writes(struct host *h)
{
	struct sm_disk_stats st;
	sm_disk_get_stats(h->vol[0]->disk, &st);
	return st.writes;
}

static void assert_owner(struct host *h, uint32_t owner, uint64_t lver)
{
	struct sm_lease_view v;
	assert_int_equal(sm_paxos_inquire(&h->ref, &v), 0);
	assert_int_equal(v.leader.owner_id, owner);
	assert_int_equal(v.leader.lver, lver);
	assert_int_equal(v.leader.mode, owner ? SM_MODE_EX : SM_MODE_FREE);
}

static void land_hung_ios(struct host *h)
{
	sm_fault_release_hung(true);
	for (int i = 0; i < 400 && sm_disk_pending(h->vol[0]->disk); i++)
		usleep(5000);
	assert_int_equal(sm_disk_pending(h->vol[0]->disk), 0);
}

/* The leader cannot be read: nothing is written and the lease stays ours
 * (others are still refused); a later release works. */
static void release_with_leader_read_error_fails_and_the_lease_stays_ours(void **state)
{
	struct host a, b;
	host_init(&a, 1, 1, 1);
	host_init(&b, 2, 1, 1);
	struct sm_lease la, lb;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0);
	uint64_t w0 = disk_writes(&a);
	struct sm_fault_rule eio = {.op = SM_FAULT_READ, .kind = SM_FAULT_ERRNO, .err = EIO, .count = 1};
	sm_fault_add(&eio);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), -EIO);
	assert_int_equal(sm_fault_hits(), 1);
	assert_int_equal(disk_writes(&a), w0);
	assert_owner(&a, 1, 1);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), -SM_EHELD);
	assert_int_equal(lb.owner_id, 1);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), 0);
	assert_owner(&a, 0, 1);
	host_done(&a);
	host_done(&b);
}

static void release_with_leader_read_timeout_fails_and_the_lease_stays_ours(void **state)
{
	struct host a, b;
	host_init(&a, 1, 1, 1);
	host_init(&b, 2, 1, 1);
	struct sm_lease la, lb;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0);
	uint64_t w0 = disk_writes(&a);
	struct sm_fault_rule hang = {.op = SM_FAULT_READ, .kind = SM_FAULT_HANG, .count = 1};
	sm_fault_add(&hang);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), -SM_EIO_TIMEOUT);
	assert_int_equal(disk_writes(&a), w0);
	land_hung_ios(&a); /* the late read changes nothing */
	assert_owner(&a, 1, 1);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), -SM_EHELD);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), 0);
	assert_owner(&a, 0, 1);
	host_done(&a);
	host_done(&b);
}

/* The free leader cannot be written: not released, still ours on disk, and
 * the release can be repeated. */
static void release_with_leader_write_error_fails_and_can_be_retried(void **state)
{
	struct host a, b;
	host_init(&a, 1, 1, 1);
	host_init(&b, 2, 1, 1);
	struct sm_lease la, lb;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0);
	struct sm_fault_rule eio = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_ERRNO, .err = EIO, .count = 1};
	sm_fault_add(&eio);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), -EIO);
	assert_int_equal(sm_fault_hits(), 1);
	assert_owner(&a, 1, 1);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), -SM_EHELD);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), 0);
	assert_owner(&a, 0, 1);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), 0);
	assert_int_equal(lb.lver, 2);
	host_done(&a);
	host_done(&b);
}

/* The release marker's write times out: reported as failed (it may or may
 * not land).  No second write may race it; once it lands the lease is free
 * at the same lver (the leader record still names us: readers apply the
 * marker), and a repeated release is harmless. */
static void release_with_marker_write_timeout_fails_and_may_land_later(void **state)
{
	struct host a, b;
	host_init(&a, 1, 1, 1);
	host_init(&b, 2, 1, 1);
	struct sm_lease la, lb;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0);
	struct sm_fault_rule hang = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_HANG, .count = 1};
	sm_fault_add(&hang);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), -SM_EIO_TIMEOUT);
	assert_owner(&a, 1, 1); /* not landed: still ours */
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), -SM_EHELD);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), -SM_EIO_PENDING);
	land_hung_ios(&a);
	assert_owner(&a, 0, 1); /* landed: free, lver kept */
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), 0);
	assert_int_equal(lb.lver, 2);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), -SM_ENOT_OWNER);
	host_done(&a);
	host_done(&b);
}

/* The marker landed but the free leader's write fails: the lease is released
 * (the marker is the release), and others may take it at once. */
static void release_with_leader_write_error_after_the_marker_is_released(void **state)
{
	struct host a, b;
	host_init(&a, 1, 1, 1);
	host_init(&b, 2, 1, 1);
	struct sm_lease la, lb;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0);
	struct sm_fault_rule fail_leader = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_ERRNO, .err = EIO, .nth = 2, .count = 1};
	sm_fault_add(&fail_leader);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), 0);
	assert_int_equal(sm_fault_hits(), 1);
	sm_fault_clear();
	assert_owner(&a, 0, 1);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), 0);
	assert_int_equal(lb.lver, 2);
	host_done(&a);
	host_done(&b);
}

/* sm_paxos_resolve releases EX, then clears any stray shared flag of ours:
 * that second step must not erase the release marker, the only record of
 * the release when the free leader could not be written. */
static void clearing_a_shared_flag_keeps_the_release_marker(void **state)
{
	struct host a, b;
	host_init(&a, 1, 1, 1);
	host_init(&b, 2, 1, 1);
	struct sm_lease la, lb;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0);
	struct sm_fault_rule fail_leader = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_ERRNO, .err = EIO, .nth = 2, .count = 1};
	sm_fault_add(&fail_leader);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), 0);
	sm_fault_clear();
	struct sm_lease sh = {.mode = SM_MODE_SH};
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &sh), 0);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), 0);
	assert_int_equal(lb.lver, 2);
	host_done(&a);
	host_done(&b);
}

/* Shared release: our sector cannot be read or written: the shared flag
 * stays, so exclusive is still refused; a retry clears it. */
static void shared_release_with_io_errors_keeps_the_shared_flag(void **state)
{
	struct host a, b;
	host_init(&a, 1, 1, 1);
	host_init(&b, 2, 1, 1);
	struct sm_lease la, lb;
	assert_int_equal(acquire(&a, SM_MODE_SH, &la), 0);
	uint64_t w0 = disk_writes(&a);
	struct sm_fault_rule reio = {.op = SM_FAULT_READ, .kind = SM_FAULT_ERRNO, .err = EIO, .count = 1};
	sm_fault_add(&reio);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), -EIO);
	assert_int_equal(disk_writes(&a), w0);
	sm_fault_clear();
	struct sm_fault_rule weio = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_ERRNO, .err = EIO, .count = 1};
	sm_fault_add(&weio);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), -EIO);
	assert_int_equal(sm_fault_hits(), 1);
	struct sm_lease_view v;
	assert_int_equal(sm_paxos_inquire(&a.ref, &v), 0);
	assert_int_equal(v.shared_count, 1);
	assert_int_equal(v.shared_host[0], 1);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), -SM_ESHARED_HELD);
	assert_int_equal(lb.owner_id, 1);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), 0);
	assert_int_equal(sm_paxos_inquire(&a.ref, &v), 0);
	assert_int_equal(v.shared_count, 0);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), 0);
	host_done(&a);
	host_done(&b);
}

/* With three disks, release needs a majority for the read and the write.
 * A failed leader read writes nothing: the lease stays ours on every disk.
 * A write that reached only a minority is in doubt (reported as failed);
 * resolving, as the daemon does for an in-doubt lease, frees it cleanly. */
static void release_on_three_disks_needs_a_majority(void **state)
{
	struct host a, b;
	host_init(&a, 1, 1, 3);
	host_init(&b, 2, 1, 3);
	struct sm_lease la, lb;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0);
	struct sm_disk_stats st[3];
	for (int i = 0; i < 3; i++)
		sm_disk_get_stats(a.vol[i]->disk, &st[i]);
	struct sm_fault_rule r1 = {.op = SM_FAULT_READ, .kind = SM_FAULT_ERRNO, .err = EIO, .path = "px1"};
	struct sm_fault_rule r2 = {.op = SM_FAULT_READ, .kind = SM_FAULT_ERRNO, .err = EIO, .path = "px2"};
	sm_fault_add(&r1);
	sm_fault_add(&r2);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), -SM_ENO_MAJORITY);
	sm_fault_clear();
	for (int i = 0; i < 3; i++) {
		struct sm_disk_stats now;
		sm_disk_get_stats(a.vol[i]->disk, &now);
		assert_int_equal(now.writes, st[i].writes);
	}
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), -SM_EHELD);
	assert_int_equal(lb.owner_id, 1);

	struct sm_fault_rule w1 = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_ERRNO, .err = EIO, .path = "px1"};
	struct sm_fault_rule w2 = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_ERRNO, .err = EIO, .path = "px2"};
	sm_fault_add(&w1);
	sm_fault_add(&w2);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), -SM_ENO_MAJORITY);
	sm_fault_clear();
	struct sm_oracle live = {fake_verdict, &a.live};
	assert_int_equal(sm_paxos_resolve(&a.ref, &a.me, &live), 0);
	assert_owner(&a, 0, 2);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), 0);
	assert_int_equal(lb.lver, 3);

	/* one lost disk does not stop a release */
	struct sm_fault_rule lost = {.op = SM_FAULT_ANY, .kind = SM_FAULT_ERRNO, .err = EIO, .path = "px2"};
	sm_fault_add(&lost);
	assert_int_equal(sm_paxos_release(&b.ref, &b.me, &lb), 0);
	sm_fault_clear();
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0);
	assert_int_equal(la.lver, 4);
	host_done(&a);
	host_done(&b);
}


/* ---- late-landing leader writes (torture seed 13215) ------------------------
 * The interleaving the long torture run found: host B's W3 (leader "B owns
 * lver 1") hangs in the storage path; A takes the lease over from B (dead in
 * A's view) at lver 2; B's old leader write then lands.  The fault table
 * replays it: B's third write (W1, W2, W3) hangs until land_hung_ios(). */
/* The leader record as written on disk, whatever the dblocks say. */
static void assert_leader_record(struct host *h, uint32_t owner, uint64_t lver)
{
	uint8_t sec[512];
	uint64_t area = sm_volume_area_offset(&h->vol[0]->hdr, h->ref.disk[0].area);
	int fd = open(paths[0], O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, sec, sizeof(sec), (off_t)area), (ssize_t)sizeof(sec));
	close(fd);
	struct sm_leader l;
	assert_int_equal(sm_leader_decode(sec, &l, "ls", "res", 512), 0);
	assert_int_equal(l.owner_id, owner);
	assert_int_equal(l.lver, lver);
}

/* Host B runs in a child process (a late write lands over other hosts'
 * writes only across processes: within one, the disk layer refuses to write
 * where an abandoned write may still land).  Commands over a pipe: 'l' lands
 * B's hung I/O, 'q' quits; B answers each step with one byte. */
struct late_host {
	pid_t pid;
	int up, down;
};

static void late_host_step(struct late_host *lh, char cmd)
{
	char c = 0;
	if (cmd)
		assert_int_equal(write(lh->down, &cmd, 1), 1);
	assert_int_equal(read(lh->up, &c, 1), 1);
	assert_int_equal(c, 'k');
}

static void late_host_child(int up, int down)
{
	struct host b;
	host_init(&b, 2, 1, 1);
	struct sm_lease lb;
	struct sm_fault_rule hang_w3 = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_HANG, .nth = 3, .count = 1};
	sm_fault_add(&hang_w3);
	int rc = acquire(&b, SM_MODE_EX, &lb);
	char ok = rc == -SM_EIO_TIMEOUT && lb.in_doubt && sm_fault_hits() == 1 ? 'k' : 'x';
	char cmd;
	while (write(up, &ok, 1) == 1 && read(down, &cmd, 1) == 1 && cmd == 'l') {
		sm_fault_release_hung(true);
		for (int i = 0; i < 400 && sm_disk_pending(b.vol[0]->disk); i++)
			usleep(5000);
		ok = sm_disk_pending(b.vol[0]->disk) == 0 ? 'k' : 'x';
	}
	_exit(0);
}

/* B (host 2, generation 1) starts acquiring; its W3 (leader "B owns lver 1")
 * hangs in the storage path.  A finishes B's instance and takes the lease
 * over (B is dead in A's view) at lver 2.  B's write has not landed yet. */
static void b_announces_lver_1_late(struct host *a, struct late_host *lh, struct sm_lease *la)
{
	int up[2], down[2];
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	lh->pid = fork();
	assert_true(lh->pid >= 0);
	if (lh->pid == 0) {
		close(up[0]);
		close(down[1]);
		late_host_child(up[1], down[0]);
	}
	close(up[1]);
	close(down[0]);
	lh->up = up[0];
	lh->down = down[1];
	late_host_step(lh, 0);
	a->live.v[2] = SM_OWNER_DEAD;
	assert_int_equal(acquire(a, SM_MODE_EX, la), 0);
	assert_int_equal(la->lver, 2);
	assert_int_equal(la->took_over_from, 2);
}

static void late_host_done(struct late_host *lh)
{
	char q = 'q';
	assert_int_equal(write(lh->down, &q, 1), 1);
	int status = 0;
	assert_int_equal(waitpid(lh->pid, &status, 0), lh->pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(lh->up);
	close(lh->down);
}

/* The torture's report: "cannot release: the lease now shows host 4
 * generation 37 at lver 17992, not us".  The holder must still release. */
static void release_sees_through_a_late_leader_of_another_host(void **state)
{
	struct host a, c;
	struct late_host b;
	host_init(&a, 1, 1, 1);
	host_init(&c, 3, 1, 1);
	struct sm_lease la, lc;
	b_announces_lver_1_late(&a, &b, &la);
	late_host_step(&b, 'l');
	assert_leader_record(&a, 2, 1); /* the stale leader is on disk */
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), 0);
	assert_owner(&a, 0, 2);
	assert_leader_record(&a, 0, 2);
	assert_int_equal(acquire(&c, SM_MODE_EX, &lc), 0);
	assert_int_equal(lc.lver, 3);
	late_host_done(&b);
	host_done(&a);
	host_done(&c);
}

/* The stale leader lands after the holder released: it names B (alive) at an
 * old lver.  The lease must not stay stuck with a host that does not hold it. */
static void late_leader_after_release_does_not_leave_the_lease_stuck(void **state)
{
	struct host a, c;
	struct late_host b;
	host_init(&a, 1, 1, 1);
	host_init(&c, 3, 1, 1);
	struct sm_lease la, lc;
	b_announces_lver_1_late(&a, &b, &la);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), 0);
	late_host_step(&b, 'l');
	assert_leader_record(&a, 2, 1);
	assert_int_equal(acquire(&c, SM_MODE_EX, &lc), 0); /* B is alive to C */
	assert_int_equal(lc.lver, 3);
	struct sm_lease_view v;
	assert_int_equal(sm_paxos_inquire(&a.ref, &v), 0);
	assert_int_equal(v.leader.owner_id, 3);
	assert_int_equal(v.leader.lver, 3);
	late_host_done(&b);
	host_done(&a);
	host_done(&c);
}

/* The same stale leader while A still holds: inquire must report A, and a
 * host to which B is alive is refused naming A, not B. */
static void late_leader_of_a_live_host_does_not_hide_the_holder(void **state)
{
	struct host a, c;
	struct late_host b;
	host_init(&a, 1, 1, 1);
	host_init(&c, 3, 1, 1);
	struct sm_lease la, lc;
	b_announces_lver_1_late(&a, &b, &la);
	late_host_step(&b, 'l');
	struct sm_lease_view v;
	assert_int_equal(sm_paxos_inquire(&a.ref, &v), 0);
	assert_int_equal(v.leader.owner_id, 1); /* inquire sees through it */
	assert_int_equal(v.leader.lver, 2);
	assert_int_equal(acquire(&c, SM_MODE_EX, &lc), -SM_EHELD);
	assert_int_equal(lc.owner_id, 1);
	assert_int_equal(lc.lver, 2);
	/* where B counts as dead, the stale leader is no takeover either */
	c.live.v[2] = SM_OWNER_DEAD;
	assert_int_equal(acquire(&c, SM_MODE_EX, &lc), -SM_EHELD);
	assert_int_equal(lc.owner_id, 1);
	assert_int_equal(sm_paxos_inquire(&a.ref, &v), 0);
	assert_int_equal(v.leader.owner_id, 1);
	assert_int_equal(v.leader.lver, 2);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), 0);
	late_host_done(&b);
	host_done(&a);
	host_done(&c);
}

/* ---- a lost announcement behind a phase-1-only instance (torture seed 911013)
 * The leader announces lver 2; host C starts lver 3 and gets no further than
 * its phase 1 (its W2 fails, or it is killed); then an older leader write
 * (lver 1) lands late over lver 2.  Every acquirer then sees instance 3 with
 * nothing to adopt: before the fix each attempt caught up, found no value and
 * aborted, forever ("ballots aborted"), although the lease is free (or held by
 * a known host).  C's phase-1 dblock records the lver-2 leader it acted on. */
static void c_stops_after_phase_one_of_lver_3(struct host *c, const uint8_t *old_leader)
{
	struct sm_fault_rule fail_w2 = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_ERRNO, .err = EIO, .nth = 2, .count = 1};
	sm_fault_add(&fail_w2);
	struct sm_lease lc;
	assert_int_equal(acquire(c, SM_MODE_EX, &lc), -EIO);
	sm_fault_clear();
	uint64_t area = sm_volume_area_offset(&c->vol[0]->hdr, c->ref.disk[0].area);
	int fd = open(paths[0], O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, old_leader, 512, (off_t)area), 512); /* lver 1 lands late */
	close(fd);
}

static void save_leader(struct host *h, uint8_t *sec)
{
	uint64_t area = sm_volume_area_offset(&h->vol[0]->hdr, h->ref.disk[0].area);
	int fd = open(paths[0], O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, sec, 512, (off_t)area), 512);
	close(fd);
}

static void lost_free_leader_behind_a_phase_one_instance_is_restored(void **state)
{
	struct host a, b, c;
	host_init(&a, 1, 1, 1);
	host_init(&b, 2, 1, 1);
	host_init(&c, 3, 1, 1);
	uint8_t old_leader[512];
	struct sm_lease la, lb;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0); /* lver 1 */
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), 0);
	save_leader(&a, old_leader);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), 0); /* lver 2 */
	assert_int_equal(sm_paxos_release(&b.ref, &b.me, &lb), 0);
	c_stops_after_phase_one_of_lver_3(&c, old_leader);
	assert_leader_record(&a, 0, 1);
	struct sm_lease_view v;
	assert_int_equal(sm_paxos_inquire(&a.ref, &v), 0); /* reports the restored leader */
	assert_int_equal(v.announced_lver, 1);
	assert_int_equal(v.leader.lver, 2);
	assert_int_equal(v.leader.owner_id, 0);
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0); /* free since b released lver 2 */
	assert_int_equal(la.lver, 3);
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), 0);
	assert_int_equal(acquire(&c, SM_MODE_EX, &la), 0);
	assert_int_equal(la.lver, 4);
	host_done(&a);
	host_done(&b);
	host_done(&c);
}

/* The same, but lver 2 is held by B and C started lver 3 to take it over (B
 * dead to C): to a host that sees B alive the lease is B's (refused naming
 * B, not "ballots aborted"); to one that sees B dead it is a takeover. */
static void lost_leader_of_a_holder_behind_a_phase_one_instance_is_restored(void **state)
{
	struct host a, b, c;
	host_init(&a, 1, 1, 1);
	host_init(&b, 2, 1, 1);
	host_init(&c, 3, 1, 1);
	uint8_t old_leader[512];
	struct sm_lease la, lb;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0); /* lver 1 */
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), 0);
	save_leader(&a, old_leader);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), 0); /* lver 2, b holds it */
	c.live.v[2] = SM_OWNER_DEAD;
	c_stops_after_phase_one_of_lver_3(&c, old_leader);
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), -SM_EHELD);
	assert_int_equal(la.owner_id, 2);
	assert_int_equal(la.lver, 2);
	struct sm_lease_view v;
	assert_int_equal(sm_paxos_inquire(&a.ref, &v), 0);
	assert_int_equal(v.leader.lver, 2);
	assert_int_equal(v.leader.owner_id, 2);
	a.live.v[2] = SM_OWNER_DEAD;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0);
	assert_int_equal(la.lver, 3);
	assert_int_equal(la.took_over_from, 2);
	host_done(&a);
	host_done(&b);
	host_done(&c);
}

/* The same with a hand-off: B (holding lver 2) hands off to C, but its W2 of
 * lver 3 fails.  B still holds the lease to everyone, and B can hand off
 * again through the restored leader. */
static void lost_leader_behind_a_failed_handoff_is_restored(void **state)
{
	struct host a, b, c;
	host_init(&a, 1, 1, 1);
	host_init(&b, 2, 1, 1);
	host_init(&c, 3, 1, 1);
	uint8_t old_leader[512];
	struct sm_lease la, lb, out;
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), 0); /* lver 1 */
	assert_int_equal(sm_paxos_release(&a.ref, &a.me, &la), 0);
	save_leader(&a, old_leader);
	assert_int_equal(acquire(&b, SM_MODE_EX, &lb), 0); /* lver 2, b holds it */
	struct sm_fault_rule fail_w2 = {.op = SM_FAULT_WRITE, .kind = SM_FAULT_ERRNO, .err = EIO, .nth = 2, .count = 1};
	sm_fault_add(&fail_w2);
	assert_int_equal(sm_paxos_handoff(&b.ref, &b.me, &lb, 3, 1, 0, &out), -EIO);
	sm_fault_clear();
	uint64_t area = sm_volume_area_offset(&a.vol[0]->hdr, a.ref.disk[0].area);
	int fd = open(paths[0], O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, old_leader, 512, (off_t)area), 512); /* lver 1 lands late */
	close(fd);
	assert_int_equal(acquire(&a, SM_MODE_EX, &la), -SM_EHELD);
	assert_int_equal(la.owner_id, 2);
	assert_int_equal(la.lver, 2);
	assert_int_equal(sm_paxos_handoff(&b.ref, &b.me, &lb, 3, 1, 0, &out), 0);
	assert_int_equal(out.lver, 3);
	struct sm_lease_view v;
	assert_int_equal(sm_paxos_inquire(&a.ref, &v), 0);
	assert_int_equal(v.leader.owner_id, 3);
	assert_int_equal(v.leader.lver, 3);
	host_done(&a);
	host_done(&b);
	host_done(&c);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(free_ex_acquire_takes_six_ios_and_sets_lver_1),
		T(mine_reads_leader_and_own_sector_in_one_io),
		T(held_lease_is_refused_naming_the_owner),
		T(dead_owner_is_taken_over_and_can_no_longer_release),
		T(release_keeps_lver_and_next_acquire_increments_it),
		T(acquire_at_version_is_the_migration_rule),
		T(shared_holders_coexist_and_block_exclusive),
		T(convert_between_exclusive_and_shared),
		T(handoff_names_the_receiver_at_the_next_version),
		T(release_sees_through_a_late_old_leader_of_ours),
		T(corrupt_dblock_or_wrong_lockspace_fails_closed),
		T(io_error_before_phase_two_grants_nothing),
		T(io_timeout_in_phase_two_is_in_doubt_never_granted_nor_free),
		T(three_disks_survive_one_lost_disk_but_not_two),
		T(stale_leader_on_one_disk_does_not_hide_a_newer_version),
		T(leader_lagging_two_instances_behind_is_caught_up_not_stolen),
		T(resource_index_add_and_remove_under_the_index_lease),
		T(release_with_leader_read_error_fails_and_the_lease_stays_ours),
		T(release_with_leader_read_timeout_fails_and_the_lease_stays_ours),
		T(release_with_leader_write_error_fails_and_can_be_retried),
		T(release_with_marker_write_timeout_fails_and_may_land_later),
		T(release_with_leader_write_error_after_the_marker_is_released),
		T(clearing_a_shared_flag_keeps_the_release_marker),
		T(shared_release_with_io_errors_keeps_the_shared_flag),
		T(release_on_three_disks_needs_a_majority),
		T(release_sees_through_a_late_leader_of_another_host),
		T(late_leader_after_release_does_not_leave_the_lease_stuck),
		T(late_leader_of_a_live_host_does_not_hide_the_holder),
		T(lost_free_leader_behind_a_phase_one_instance_is_restored),
		T(lost_leader_of_a_holder_behind_a_phase_one_instance_is_restored),
		T(lost_leader_behind_a_failed_handoff_is_restored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
