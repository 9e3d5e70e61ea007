/* Formatting, opening and inspecting lease volumes; formats and index updates
 * (resource add/remove) under injected disk faults. */
#include "testutil.h"

#include "common/log.h"
#include "disk/fault.h"
#include "disk/syscalls.h"
#include "lease/paxos.h"
#include "lease/resource.h"
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
	sm_log_set_sink(NULL, NULL);
	tu_cleanup_files();
	return 0;
}

static void quiet_sink(enum sm_log_level level, const char *msg, void *arg);

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

/* Fencing by reservation: the fence table sits after the areas, the header
 * says version 3 so that older versions refuse it. */
static void fence_table_round_trips_after_the_areas(void **state)
{
	const char *path = tu_temp_file("vol", 0);
	struct sm_fence_table t = {.count = 2};
	snprintf(t.ids[0], sizeof(t.ids[0]), "naa.6001405aaaaaaaaaaaaaaaaaaaaaaaaa");
	snprintf(t.ids[1], sizeof(t.ids[1]), "t10.LIO-ORG data-lun-1");
	struct sm_format_params p = small_params("ls-pr");
	struct sm_volume_header h, plain;
	struct sm_format_params q = small_params("ls-plain");
	assert_int_equal(sm_volume_format(path, 0, &q, &plain), 0);
	p.fence = &t;
	p.force = true;
	assert_int_equal(sm_volume_format(path, 0, &p, &h), 0);
	assert_int_equal(h.fence_mode, SM_FENCE_PR);
	assert_int_equal(h.fence_count, 2);
	assert_int_equal(h.fence_table_offset, plain.volume_size);
	assert_int_equal(h.volume_size, plain.volume_size + SM_FENCE_TABLE_SIZE);
	struct sm_volume *v;
	assert_int_equal(sm_volume_open(path, 0, 0, &v), 0);
	assert_memory_equal(&v->hdr, &h, sizeof(h));
	struct sm_fence_table got;
	assert_int_equal(sm_volume_read_fence_table(v, &got), 0);
	assert_int_equal(got.count, 2);
	assert_string_equal(got.ids[0], t.ids[0]);
	assert_string_equal(got.ids[1], t.ids[1]);
	/* the header's version is 3 */
	uint8_t buf[512];
	int fd = open(path, O_RDONLY);
	assert_int_equal(pread(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	close(fd);
	assert_int_equal(buf[4] | buf[5] << 8, SM_FENCE_HEADER_VERSION);
	sm_volume_close(v);
	/* a timing volume has no table */
	assert_int_equal(sm_volume_open(path, 0, 0, &v), 0);
	v->hdr.fence_mode = SM_FENCE_TIMING;
	assert_int_equal(sm_volume_read_fence_table(v, &got), -SM_EBAD_ARGUMENT);
	sm_volume_close(v);
	/* a corrupt table is reported, not used */
	fd = open(path, O_RDWR);
	uint8_t junk = 0x5a;
	assert_int_equal(pwrite(fd, &junk, 1, (off_t)h.fence_table_offset + 20), 1);
	close(fd);
	sm_log_set_sink(quiet_sink, NULL);
	assert_int_equal(sm_volume_open(path, 0, 0, &v), 0);
	assert_int_equal(sm_volume_read_fence_table(v, &got), -SM_EBAD_CHECKSUM);
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

/* ---- fault loops ----------------------------------------------------------
 * Shared by the format loops and the index-update loops below. */

/* Errors are expected by the hundred here: keep the last one for failure
 * messages instead of printing them all. */
static char last_log[512];
static void quiet_sink(enum sm_log_level level, const char *msg, void *arg)
{
	(void)level;
	(void)arg;
	snprintf(last_log, sizeof(last_log), "%s", msg);
}

/* The loops below check logic, not durability, and issue thousands of
 * writes: opened without O_DSYNC a write costs ~0.1 ms instead of ~2 ms on a
 * typical test disk.  Installed on top of the fault layer's wrappers (which
 * record the path of every fd they open). */
static int (*chained_open)(const char *path, int flags, mode_t mode);
static int open_without_dsync(const char *path, int flags, mode_t mode)
{
	return chained_open(path, flags & ~O_DSYNC, mode);
}

/* Back to no faults, quiet log, fast writes. */
static void loop_reset(void)
{
	tu_reset_faults();
	sm_log_set_sink(quiet_sink, NULL);
	sm_fault_install();
	chained_open = sm_disk_sys.open;
	sm_disk_sys.open = open_without_dsync;
}

/* fdatasync is not an AIO call, so the fault layer does not see it; the
 * syscall table lets a test fail the Nth one directly. */
static unsigned sync_calls, sync_fail_at;
static int failing_fdatasync(int fd)
{
	if (++sync_calls == sync_fail_at)
		return -EIO;
	return sm_disk_sys_real.fdatasync(fd);
}

/* EIO: the Nth read or write completes with EIO; SHORT: the device
 * transfers half of it (or nothing when under 8 KiB); SUBMIT: io_submit
 * fails; HANG: it never completes until released (and then lands late);
 * FDATASYNC: the Nth fdatasync fails. */
enum fault_mode { FM_EIO_ANY, FM_SHORT, FM_SUBMIT, FM_HANG, FM_FDATASYNC };
static const char *const fault_mode_name[] = {"EIO", "short transfer", "io_submit EIO", "hang", "fdatasync EIO"};

/* Arm "fail the Nth call" for one mode (one call only). */
static void arm_fault(enum fault_mode m, unsigned n)
{
	sync_calls = 0;
	sync_fail_at = 0;
	if (m == FM_FDATASYNC) {
		sync_fail_at = n;
		sm_disk_sys.fdatasync = failing_fdatasync;
		return;
	}
	struct sm_fault_rule r = {.op = SM_FAULT_ANY, .kind = SM_FAULT_ERRNO, .err = EIO, .nth = n, .count = 1};
	if (m == FM_SHORT)
		r.kind = SM_FAULT_SHORT;
	else if (m == FM_SUBMIT)
		r.kind = SM_FAULT_SUBMIT_ERRNO;
	else if (m == FM_HANG)
		r.kind = SM_FAULT_HANG;
	assert_int_equal(sm_fault_add(&r), 0);
}

static bool fault_hit(enum fault_mode m)
{
	return m == FM_FDATASYNC ? sync_calls >= sync_fail_at : sm_fault_hits() > 0;
}

/* Every record of a volume decodes: hosts, index, and the area of every
 * used entry (leader, request, dblocks and mode blocks). */
static void assert_volume_complete(struct sm_volume *v)
{
	struct sm_volume_view *vv;
	assert_int_equal(sm_volume_inspect(v, &vv), 0);
	assert_int_equal(vv->hosts_status, 0);
	assert_int_equal(vv->index_io_status, 0);
	for (uint32_t i = 0; i < vv->hdr.max_hosts; i++)
		assert_int_equal(vv->hosts[i].status, 0);
	for (uint32_t i = 0; i < vv->resource_count; i++) {
		assert_int_equal(vv->resources[i].index_status, 0);
		assert_int_equal(vv->resources[i].read_status, 0);
		assert_int_equal(vv->resources[i].leader_status, 0);
		assert_int_equal(vv->resources[i].request_status, 0);
		assert_int_equal(vv->resources[i].leader.flags & SM_LEADER_REMOVED, 0);
	}
	sm_volume_view_free(vv);
}

/* One interrupted format of `path` (holding volume `old`) with the Nth call
 * of mode m failing.  Afterwards the location holds the old volume intact,
 * no volume, or — only when the format's very last call (the fdatasync
 * after the header) failed — the complete new volume.  Returns whether the
 * fault was hit. */
static bool interrupted_format_once(const char *path, const struct sm_volume_header *old,
				    const struct sm_format_params *np, enum fault_mode m, unsigned n, int *rc_out)
{
	loop_reset();
	arm_fault(m, n);
	struct sm_volume_header h;
	int rc = sm_volume_format(path, 0, np, &h);
	bool hit = fault_hit(m);
	unsigned syncs = sync_calls;
	loop_reset();
	struct sm_volume *v = NULL;
	int orc = sm_volume_open(path, 0, 0, &v);
	if (rc == 0) {
		if (hit)
			fail_msg("%s #%u: format succeeded although a call failed", fault_mode_name[m], n);
		assert_int_equal(orc, 0);
		assert_string_equal(v->hdr.lockspace, np->lockspace);
		assert_volume_complete(v);
	} else {
		if (!hit)
			fail_msg("%s #%u: format failed without the fault: %s (%s)", fault_mode_name[m], n,
				 sm_strerror(rc), last_log);
		if (orc == 0 && strcmp(v->hdr.lockspace, np->lockspace) == 0) {
			/* the new header is on disk: only its own flush can have failed */
			if (m != FM_FDATASYNC || sync_fail_at != syncs)
				fail_msg("%s #%u: failed format (%s) left a valid new volume", fault_mode_name[m], n,
					 sm_strerror(rc));
			assert_volume_complete(v);
		} else if (orc == 0) {
			assert_memory_equal(v->hdr.uuid, old->uuid, 16);
			assert_volume_complete(v);
		} else if (orc != -SM_ENOT_FORMATTED) {
			fail_msg("%s #%u: after a failed format the volume opens with %s", fault_mode_name[m], n,
				 sm_strerror(orc));
		}
	}
	sm_volume_close(v);
	*rc_out = rc;
	return hit;
}

static unsigned interrupted_format_loop(enum fault_mode m, uint32_t max_hosts)
{
	loop_reset();
	const char *path = tu_temp_file("vol", 0);
	struct sm_format_params p = small_params("old");
	p.max_hosts = max_hosts;
	p.resource_names = (const char *[]){"r1", "r2"};
	p.resource_name_count = 2;
	struct sm_volume_header old;
	assert_int_equal(sm_volume_format(path, 0, &p, &old), 0);
	struct sm_format_params np = small_params("new");
	np.max_hosts = max_hosts;
	np.resource_names = (const char *[]){"n1", "n2", "n3"};
	np.resource_name_count = 3;
	np.force = true;
	unsigned n, hits = 0;
	for (n = 1; n < 64; n++) {
		int rc;
		bool hit = interrupted_format_once(path, &old, &np, m, n, &rc);
		if (!hit) {
			assert_int_equal(rc, 0);
			break;
		}
		hits++;
		struct sm_volume *v;
		if (sm_volume_open(path, 0, SM_DISK_READONLY, &v) == 0) {
			bool is_new = strcmp(v->hdr.lockspace, np.lockspace) == 0;
			sm_volume_close(v);
			if (is_new) { /* the complete new volume: put the old one back */
				struct sm_format_params again = p;
				again.force = true;
				assert_int_equal(sm_volume_format(path, 0, &again, &old), 0);
			}
		}
	}
	assert_true(n < 64);
	if (hits == 0) /* a loop that injects nothing proves nothing */
		fail_msg("format, %s: no fault fired in %u iteration(s)", fault_mode_name[m], n);
	sm_log_set_sink(NULL, NULL);
	print_message("      format, %s: %u iterations, %u faults\n", fault_mode_name[m], n, hits);
	return n;
}

/* Crash the format at every call in turn — every read and write failing
 * with EIO, every fdatasync failing, every I/O cut short by the device (with
 * 32 hosts the host area and the areas are large enough for half of them,
 * 4 KiB-aligned, to be transferred): afterwards the location holds either no
 * volume or the previous one, never a half-written new one. */
static void interrupted_format_never_reads_as_valid(void **state)
{
	interrupted_format_loop(FM_EIO_ANY, 8);
	interrupted_format_loop(FM_FDATASYNC, 8);
	interrupted_format_loop(FM_SHORT, 32);
}

/* Without --force an existing volume is destroyed only if its header could
 * be read and says it is not ours: an unreadable or short sector 0 is an
 * error, not an empty device. */
static void format_without_force_keeps_a_volume_it_cannot_read(void **state)
{
	const char *path = tu_temp_file("vol", 0);
	struct sm_format_params p = small_params("old");
	struct sm_volume_header old;
	assert_int_equal(sm_volume_format(path, 0, &p, &old), 0);
	struct sm_format_params np = small_params("new");
	sm_log_set_sink(quiet_sink, NULL);
	const enum sm_fault_kind kinds[] = {SM_FAULT_ERRNO, SM_FAULT_SHORT, SM_FAULT_SUBMIT_ERRNO};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		tu_reset_faults();
		struct sm_fault_rule r = {.op = SM_FAULT_READ, .kind = kinds[k], .err = EIO, .nth = 1, .count = 1};
		sm_fault_add(&r);
		int rc = sm_volume_format(path, 0, &np, NULL);
		assert_int_equal(sm_fault_hits(), 1);
		tu_reset_faults();
		assert_int_not_equal(rc, 0);
		struct sm_volume *v;
		assert_int_equal(sm_volume_open(path, 0, 0, &v), 0);
		assert_memory_equal(v->hdr.uuid, old.uuid, 16);
		sm_volume_close(v);
	}
	sm_log_set_sink(NULL, NULL);
}

/* ---- index updates under faults --------------------------------------------
 *
 * For each fault mode, fail the Nth disk call of `resource add` (and of
 * `resource remove`), N = 1, 2, ... until a run no longer reaches the fault.
 * Each run starts from a copy of the same template volume.  Right after the
 * failed call (while a hung I/O is still held back) a second host tries an
 * index update of its own; then the held I/O lands late, as it would once the
 * storage path recovers.  Afterwards:
 *  - the call returned a clean error (or 0), and the second host's update
 *    either succeeded or was refused because the index is locked;
 *  - the volume opens and every index entry decodes, names are unique, the
 *    format-time resource is untouched;
 *  - each resource is fully present (entry + fully decodable area, acquirable
 *    and not left held) or fully absent (no entry, no lease held in any
 *    unlisted area) — never a name without its area, or an area in use
 *    without a name.  The one intermediate state allowed is the documented
 *    crash window of remove: entry still listed, area already retired; the
 *    next remove must then finish the job.
 * No I/O is left pending and nothing leaks (ASan). */

enum index_op { IX_ADD, IX_REMOVE };
enum rstate { RS_ABSENT, RS_PRESENT, RS_RETIRED };

#define IX_HOSTS 16 /* areas of 18 sectors: 9 KiB, so a short transfer is partial */
#define IX_VICTIM "victim"
#define IX_OTHER "other"
#define IX_KEEP "keep"

struct tlive {
	uint32_t self;
};
static enum sm_owner_verdict tlive_verdict(void *arg, uint32_t id, uint64_t gen, uint64_t read_done_ms)
{
	(void)gen;
	(void)read_done_ms;
	return id == ((struct tlive *)arg)->self ? SM_OWNER_SELF : SM_OWNER_ALIVE;
}

struct thost {
	struct sm_me me;
	struct tlive tl;
	struct sm_oracle live;
};
static void thost_init(struct thost *h, uint32_t id)
{
	h->me = (struct sm_me){.host_id = id, .generation = 1};
	h->tl.self = id;
	h->live = (struct sm_oracle){tlive_verdict, &h->tl};
}

static void copy_file(const char *from, const char *to)
{
	/* in place: volume handles may have the target open */
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT, 0644);
	assert_true(in >= 0 && out >= 0);
	char buf[65536];
	ssize_t got;
	off_t off = 0;
	while ((got = read(in, buf, sizeof(buf))) > 0) {
		assert_int_equal(pwrite(out, buf, (size_t)got, off), got);
		off += got;
	}
	assert_int_equal(got, 0);
	assert_int_equal(ftruncate(out, off), 0);
	close(in);
	close(out);
}

static void drain_pending(struct sm_volume *v)
{
	for (int i = 0; i < 5000 && sm_disk_pending(v->disk); i++)
		usleep(1000);
	assert_int_equal(sm_disk_pending(v->disk), 0);
}

/* Read area `area` and check every record in it; returns whether the leader
 * carries the removed flag. */
static bool assert_area_initialized(struct sm_volume *v, uint32_t area, const char *name)
{
	const struct sm_volume_header *h = &v->hdr;
	size_t len = sm_volume_area_bytes(h);
	uint8_t *buf = malloc(len);
	assert_non_null(buf);
	assert_int_equal(sm_disk_read(v->disk, sm_volume_area_offset(h, area), buf, len, 5000), 0);
	struct sm_leader l;
	int rc = sm_leader_decode(buf, &l, h->lockspace, name, h->sector_size);
	if (rc != 0)
		fail_msg("resource %s: listed in the index but its area %u has no valid leader: %s", name, area,
			 sm_strerror(rc));
	assert_int_equal(l.area, area);
	assert_int_equal(l.max_hosts, h->max_hosts);
	struct sm_request q;
	assert_int_equal(sm_request_decode(buf + h->sector_size, &q, name, h->sector_size), 0);
	for (uint32_t i = 0; i < h->max_hosts; i++) {
		const uint8_t *sec = buf + (size_t)(2 + i) * h->sector_size;
		struct sm_dblock d;
		struct sm_mode_block m;
		if (sm_dblock_decode(sec, &d) != 0 || d.host_id != i + 1 || sm_mode_decode(sec + SM_MODE_OFFSET, &m) != 0)
			fail_msg("resource %s: listed in the index but dblock %u of area %u is not initialized", name,
				 i + 1, area);
	}
	free(buf);
	return (l.flags & SM_LEADER_REMOVED) != 0;
}

/* No lease is held in an area the index does not list. */
static void assert_unlisted_areas_free(struct sm_volume *v, const struct sm_index *idx)
{
	const struct sm_volume_header *h = &v->hdr;
	uint8_t *sec = malloc(h->sector_size);
	assert_non_null(sec);
	for (uint32_t a = 0; a < idx->count; a++) {
		if (idx->entries[a].flags == SM_INDEX_USED)
			continue;
		assert_int_equal(sm_disk_read(v->disk, sm_volume_area_offset(h, a), sec, h->sector_size, 5000), 0);
		struct sm_leader l;
		if (sm_leader_decode(sec, &l, NULL, NULL, 0) == 0 && l.owner_id != 0)
			fail_msg("area %u is not in the index but its lease (%s) is held by host %u", a, l.resource,
				 l.owner_id);
	}
	free(sec);
}

static enum rstate resource_state(struct sm_volume *v, const struct sm_index *idx, const char *name)
{
	int a = sm_index_find(idx, name);
	if (a < 0)
		return RS_ABSENT;
	return assert_area_initialized(v, (uint32_t)a, name) ? RS_RETIRED : RS_PRESENT;
}

/* A present resource can be acquired by a third host: usable, and not left
 * held by the failed call.  (After a late write a lease may still show its
 * own host, which reacquires and frees it first.) */
static void assert_acquirable(struct sm_volume *v, const char *name, bool late_writes)
{
	struct thost h1, h3;
	thost_init(&h1, 1);
	thost_init(&h3, 3);
	struct sm_resource_ref r;
	assert_int_equal(sm_resource_ref_init(&r, v, name), 0);
	struct sm_acquire_opts o = {.mode = SM_MODE_EX};
	struct sm_lease l;
	if (late_writes) {
		o.live = h1.live;
		assert_int_equal(sm_paxos_acquire(&r, &h1.me, &o, &l), 0);
		assert_int_equal(sm_paxos_release(&r, &h1.me, &l), 0);
	}
	o.live = h3.live;
	int rc = sm_paxos_acquire(&r, &h3.me, &o, &l);
	if (rc != 0)
		fail_msg("resource %s is listed but cannot be acquired: %s (%s)", name, sm_strerror(rc), last_log);
	assert_int_equal(sm_paxos_release(&r, &h3.me, &l), 0);
}

/* Check the invariants after one faulted call; returns the victim's state. */
/* What sm_volume_open() checks, through a handle that stays open: the
 * header decodes and still describes this volume. */
static bool header_intact(struct sm_volume *v)
{
	uint8_t *sec = malloc(v->hdr.sector_size);
	assert_non_null(sec);
	struct sm_volume_header h;
	bool ok = sm_disk_read(v->disk, 0, sec, v->hdr.sector_size, 5000) == 0 && sm_header_decode(sec, &h) == 0 &&
		  memcmp(&h, &v->hdr, sizeof(h)) == 0;
	free(sec);
	return ok;
}

static enum rstate check_after_index_fault(struct sm_volume *v, enum index_op op, enum fault_mode m, unsigned n,
					   int rc, int rc2)
{
	const char *what = op == IX_ADD ? "add" : "remove";
	if (!header_intact(v))
		fail_msg("%s, %s #%u: the volume header changed", what, fault_mode_name[m], n);
	struct sm_index *idx;
	assert_int_equal(sm_index_load(v, &idx), 0);
	for (uint32_t i = 0; i < idx->count; i++) {
		if (idx->status[i] != 0)
			fail_msg("%s, %s #%u: index entry %u does not decode: %s", what, fault_mode_name[m], n, i,
				 sm_strerror(idx->status[i]));
		for (uint32_t j = 0; j < i; j++)
			if (idx->entries[i].flags == SM_INDEX_USED && idx->entries[j].flags == SM_INDEX_USED)
				assert_string_not_equal(idx->entries[i].name, idx->entries[j].name);
	}
	assert_int_equal(sm_index_find(idx, IX_KEEP), 0);
	assert_int_equal(resource_state(v, idx, IX_KEEP), RS_PRESENT);

	bool late = m == FM_HANG;
	enum rstate st = resource_state(v, idx, IX_VICTIM);
	if (op == IX_ADD) {
		if (rc == 0 && st != RS_PRESENT)
			fail_msg("add, %s #%u: succeeded but the resource is not there", fault_mode_name[m], n);
		/* a timed-out index write may still land: then the name is there */
		if (rc != 0 && st != RS_ABSENT && !(late && st == RS_PRESENT))
			fail_msg("add, %s #%u: failed (%s) but left the resource in state %d", fault_mode_name[m], n,
				 sm_strerror(rc), (int)st);
	} else {
		if (rc == 0 && st != RS_ABSENT)
			fail_msg("remove, %s #%u: succeeded but the resource is still listed", fault_mode_name[m], n);
		if (rc != 0 && st == RS_ABSENT && !late)
			fail_msg("remove, %s #%u: failed (%s) but the resource is gone", fault_mode_name[m], n,
				 sm_strerror(rc));
	}
	if (st == RS_PRESENT)
		assert_acquirable(v, IX_VICTIM, late);

	/* the second host's update */
	enum rstate st2 = resource_state(v, idx, IX_OTHER);
	if (rc2 == 0 && st2 != RS_PRESENT)
		fail_msg("%s, %s #%u: the other host's add succeeded but its resource is %s", what, fault_mode_name[m],
			 n, st2 == RS_ABSENT ? "gone (overwritten by a late write?)" : "retired");
	if (rc2 != 0 && rc2 != -SM_EHELD && rc2 != -SM_EUNKNOWN_HOST && rc2 != -SM_EBALLOT_ABORTED)
		fail_msg("%s, %s #%u: the other host's add failed with %s", what, fault_mode_name[m], n,
			 sm_strerror(rc2));
	if (rc2 != 0)
		assert_int_equal(st2, RS_ABSENT);
	if (st2 == RS_PRESENT)
		assert_acquirable(v, IX_OTHER, false);
	assert_unlisted_areas_free(v, idx);
	sm_index_free(idx);

	if (st == RS_RETIRED) {
		/* the crash window of remove: a retry must finish it */
		assert_true(op == IX_REMOVE && rc != 0);
		struct thost h1;
		thost_init(&h1, 1);
		int rrc = sm_resource_remove(v, IX_VICTIM, &h1.me, &h1.live, 0);
		if (rrc != 0)
			fail_msg("remove, %s #%u: the resource is retired but still listed, and removing it again "
				 "fails: %s",
				 fault_mode_name[m], n, sm_strerror(rrc));
		assert_int_equal(sm_index_load(v, &idx), 0);
		assert_int_equal(sm_index_find(idx, IX_VICTIM), -SM_ENO_RESOURCE);
		sm_index_free(idx);
	}
	/* index updates still work (the index lease is not wedged) */
	struct thost h1;
	thost_init(&h1, 1);
	assert_int_equal(sm_resource_add(v, "after", &h1.me, &h1.live, 0, NULL), 0);
	return st;
}

/* A template volume: "keep" at format time; for remove also IX_VICTIM. */
static const char *index_template(enum index_op op)
{
	loop_reset();
	const char *tmpl = tu_temp_file("ixtmpl", 0);
	struct sm_format_params p = small_params("ls");
	p.max_hosts = IX_HOSTS;
	p.resources = 8;
	p.io_timeout_ms = 100; /* the smallest: a hung I/O costs this much */
	p.resource_names = (const char *[]){IX_KEEP};
	p.resource_name_count = 1;
	assert_int_equal(sm_volume_format(tmpl, 0, &p, NULL), 0);
	if (op == IX_REMOVE) {
		struct sm_volume *v;
		assert_int_equal(sm_volume_open(tmpl, 0, 0, &v), 0);
		struct thost h1;
		thost_init(&h1, 1);
		assert_int_equal(sm_resource_add(v, IX_VICTIM, &h1.me, &h1.live, 0, NULL), 0);
		sm_volume_close(v);
	}
	return tmpl;
}

/* Opening and closing a volume costs an io_setup/io_destroy pair, and
 * io_destroy waits for an RCU grace period (~30 ms on a loaded VM): the
 * handles live for the whole loop, and each run overwrites the file under
 * them.  The volume is reopened for real at the end. */
static unsigned index_fault_loop(enum index_op op, enum fault_mode m)
{
	const char *tmpl = index_template(op);
	const char *work = tu_temp_file("ixwork", 0);
	unsigned n, absent = 0, present = 0, retired = 0, spurious = 0, hits = 0;
	copy_file(tmpl, work);
	struct sm_volume *v1, *v2, *v3; /* host 1's, host 2's, the checker's */
	/* three hosts in one process: host 1's late writes must not stop the
	 * others' (the disk layer's default scope is the process) */
	assert_int_equal(sm_volume_open(work, 0, SM_DISK_SEPARATE_HOST, &v1), 0);
	assert_int_equal(sm_volume_open(work, 0, SM_DISK_SEPARATE_HOST, &v2), 0);
	assert_int_equal(sm_volume_open(work, 0, SM_DISK_SEPARATE_HOST, &v3), 0);
	/* A hung I/O costs host 1 its full I/O timeout: shorten it below the
	 * format's minimum for this handle (the others keep 100 ms). */
	if (m == FM_HANG)
		v1->hdr.io_timeout_ms = 25;
	for (n = 1; n < 200; n++) {
		loop_reset();
		copy_file(tmpl, work);
		struct thost h1, h2;
		thost_init(&h1, 1);
		thost_init(&h2, 2);
		arm_fault(m, n);
		int rc = op == IX_ADD ? sm_resource_add(v1, IX_VICTIM, &h1.me, &h1.live, 0, NULL)
				      : sm_resource_remove(v1, IX_VICTIM, &h1.me, &h1.live, 0);
		bool hit = fault_hit(m);
		sm_fault_clear(); /* no more faults; a hung I/O stays held */
		/* another host updates the index while host 1's late I/O is pending */
		int rc2 = sm_resource_add(v2, IX_OTHER, &h2.me, &h2.live, 0, NULL);
		sm_fault_release_hung(true); /* ... and now it lands */
		drain_pending(v1);
		drain_pending(v2);
		loop_reset();
		if (!hit && rc != 0) {
			/* with 25 ms a loaded machine can time out a real I/O:
			 * check the state all the same, then rerun this N */
			if (m == FM_HANG && rc == -SM_EIO_TIMEOUT && ++spurious < 5) {
				check_after_index_fault(v3, op, m, n, rc, rc2);
				n--;
				continue;
			}
			fail_msg("%s, %s #%u: failed without reaching the fault: %s (%s)", op == IX_ADD ? "add" : "remove",
				 fault_mode_name[m], n, sm_strerror(rc), last_log);
		}
		if (rc != 0 && rc != -EIO && rc != -SM_ESHORT_IO && rc != -SM_EIO_TIMEOUT && rc != -SM_EIO_PENDING)
			fail_msg("%s, %s #%u: failed with %s, not with the I/O error (%s)", op == IX_ADD ? "add" : "remove",
				 fault_mode_name[m], n, sm_strerror(rc), last_log);
		enum rstate st = check_after_index_fault(v3, op, m, n, rc, rc2);
		absent += st == RS_ABSENT;
		present += st == RS_PRESENT;
		retired += st == RS_RETIRED;
		if (!hit)
			break;
		hits++;
	}
	assert_true(n < 200);
	if (hits == 0) /* a loop that injects nothing proves nothing */
		fail_msg("%s, %s: no fault fired in %u iteration(s)", op == IX_ADD ? "add" : "remove", fault_mode_name[m], n);
	sm_volume_close(v1);
	sm_volume_close(v2);
	sm_volume_close(v3);
	struct sm_volume *v;
	assert_int_equal(sm_volume_open(work, 0, 0, &v), 0);
	sm_volume_close(v);
	sm_log_set_sink(NULL, NULL);
	print_message("      %s, %s: %u iterations (afterwards %u absent, %u present, %u retired-and-listed)%s\n",
		      op == IX_ADD ? "add" : "remove", fault_mode_name[m], n, absent, present, retired,
		      spurious ? " [reran after a real timeout]" : "");
	return n;
}

static void resource_add_with_a_failed_read_or_write_is_all_or_nothing(void **state)
{
	index_fault_loop(IX_ADD, FM_EIO_ANY);
	index_fault_loop(IX_ADD, FM_SUBMIT);
}
static void resource_add_with_a_short_transfer_is_all_or_nothing(void **state)
{
	index_fault_loop(IX_ADD, FM_SHORT);
}
static void resource_add_with_a_hung_io_is_all_or_nothing(void **state)
{
	index_fault_loop(IX_ADD, FM_HANG);
}
static void resource_remove_with_a_failed_read_or_write_is_all_or_nothing(void **state)
{
	index_fault_loop(IX_REMOVE, FM_EIO_ANY);
	index_fault_loop(IX_REMOVE, FM_SUBMIT);
}
static void resource_remove_with_a_short_transfer_is_all_or_nothing(void **state)
{
	index_fault_loop(IX_REMOVE, FM_SHORT);
}
static void resource_remove_with_a_hung_io_is_all_or_nothing(void **state)
{
	index_fault_loop(IX_REMOVE, FM_HANG);
}

/* A remove that waits for the index lease while another host removes the
 * name and adds it again elsewhere works on the area the index names once
 * the lease is ours, not on the one it read before waiting (that area now
 * belongs to another resource). */
static struct {
	struct sm_volume *v;
	struct thost h;
	struct sm_resource_ref ir;
	struct sm_lease held;
	bool done;
} mover;

static void move_victim_while_host1_waits(void)
{
	if (mover.done)
		return;
	mover.done = true;
	assert_int_equal(sm_paxos_release(&mover.ir, &mover.h.me, &mover.held), 0);
	uint32_t area;
	assert_int_equal(sm_resource_remove(mover.v, IX_VICTIM, &mover.h.me, &mover.h.live, 0), 0);
	assert_int_equal(sm_resource_add(mover.v, "squat", &mover.h.me, &mover.h.live, 0, &area), 0);
	assert_int_equal(area, 1);
	assert_int_equal(sm_resource_add(mover.v, IX_VICTIM, &mover.h.me, &mover.h.live, 0, &area), 0);
	assert_int_equal(area, 2);
}

static void remove_uses_the_area_named_under_the_index_lease(void **state)
{
	const char *path = index_template(IX_REMOVE); /* "keep" in area 0, IX_VICTIM in area 1 */
	tu_fake_clock_install();
	struct sm_volume *v1;
	assert_int_equal(sm_volume_open(path, 0, 0, &v1), 0);
	assert_int_equal(sm_volume_open(path, 0, 0, &mover.v), 0);
	thost_init(&mover.h, 2);
	mover.done = false;
	sm_resource_ref_index(&mover.ir, mover.v);
	struct sm_acquire_opts o = {.mode = SM_MODE_EX, .live = mover.h.live};
	assert_int_equal(sm_paxos_acquire(&mover.ir, &mover.h.me, &o, &mover.held), 0);
	tu_sleep_hook = move_victim_while_host1_waits;

	struct thost h1;
	thost_init(&h1, 1);
	int rc = sm_resource_remove(v1, IX_VICTIM, &h1.me, &h1.live, 10000);
	tu_sleep_hook = NULL;
	assert_true(mover.done);
	if (rc != 0)
		fail_msg("remove after the resource moved: %s (%s)", sm_strerror(rc), last_log);

	struct sm_index *idx;
	assert_int_equal(sm_index_load(v1, &idx), 0);
	assert_int_equal(sm_index_find(idx, IX_VICTIM), -SM_ENO_RESOURCE);
	assert_int_equal(resource_state(v1, idx, "squat"), RS_PRESENT);
	assert_int_equal(resource_state(v1, idx, IX_KEEP), RS_PRESENT);
	sm_index_free(idx);
	assert_acquirable(v1, "squat", false);
	sm_volume_close(v1);
	sm_volume_close(mover.v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(format_then_open_reads_the_same_header, setup, teardown),
		cmocka_unit_test_setup_teardown(areas_are_sized_by_max_hosts, setup, teardown),
		cmocka_unit_test_setup_teardown(fence_table_round_trips_after_the_areas, setup, teardown),
		cmocka_unit_test_setup_teardown(format_refuses_existing_volume_without_force, setup, teardown),
		cmocka_unit_test_setup_teardown(unformatted_and_wrong_offset_read_as_not_formatted, setup, teardown),
		cmocka_unit_test_setup_teardown(interrupted_format_never_reads_as_valid, setup, teardown),
		cmocka_unit_test_setup_teardown(format_time_resources_are_in_the_index, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_resource_names_and_duplicates_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(corrupt_sectors_are_reported_not_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(four_k_sector_volume_round_trips, setup, teardown),
		cmocka_unit_test_setup_teardown(too_small_device_is_refused_with_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(format_without_force_keeps_a_volume_it_cannot_read, setup, teardown),
		cmocka_unit_test_setup_teardown(resource_add_with_a_failed_read_or_write_is_all_or_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(resource_add_with_a_short_transfer_is_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(resource_add_with_a_hung_io_is_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(resource_remove_with_a_failed_read_or_write_is_all_or_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(resource_remove_with_a_short_transfer_is_all_or_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(resource_remove_with_a_hung_io_is_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(remove_uses_the_area_named_under_the_index_lease, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
