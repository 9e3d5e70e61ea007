/* Fencing by persistent reservation end to end over emulated LUNs (prsim):
 * init's preparation and clearing, join registering on every fence device,
 * a takeover preempting a silent owner, the preempted host finding itself
 * fenced, foreign keys and missing devices refused. */
#include "testutil.h"

#include "common/clock.h"
#include "common/log.h"
#include "disk/pr.h"
#include "lease/delta.h"
#include "lease/fence.h"
#include "libvirt/fencecover.h"
#include "ondisk/volume.h"
#include "prsim.h"
#include "sync_manager/errors.h"

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LEASE_ID "naa.60014051111111111111111111111111"
#define DATA_ID "naa.60014052222222222222222222222222"
#define LS "prls"

static char root[PATH_MAX];
static int lu_lease, lu_data;

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static const char *at(const char *rel)
{
	static char p[4][PATH_MAX];
	static int k;
	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", root, rel);
	return p[k];
}

static void mkdirs(const char *path)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	mkdir(p, 0755);
}

static void put_str(const char *rel, const char *s)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", at(rel));
	*strrchr(dir, '/') = '\0';
	mkdirs(dir);
	FILE *f = fopen(at(rel), "w");
	assert_non_null(f);
	fputs(s, f);
	fclose(f);
}

static void link_to(const char *rel, const char *target)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", at(rel));
	*strrchr(dir, '/') = '\0';
	mkdirs(dir);
	assert_int_equal(symlink(target, at(rel)), 0);
}

/* A SCSI disk NAME with identity id in the fake sysfs, and an emulated LU
 * of 4 MiB at root/dev/NAME. */
static int add_disk(const char *name, int target, const char *id, const struct prsim_lu_opts *opts)
{
	char rel[256], tgt[256];
	snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/host0/target0:0:%d/%s/device/wwid", target, name);
	char line[160];
	snprintf(line, sizeof(line), "%s\n", id);
	put_str(rel, line);
	snprintf(rel, sizeof(rel), "sys/block/%s", name);
	snprintf(tgt, sizeof(tgt), "../devices/pci0000:00/host0/target0:0:%d/%s", target, name);
	link_to(rel, tgt);
	snprintf(rel, sizeof(rel), "sys/class/block/%s", name);
	snprintf(tgt, sizeof(tgt), "../../devices/pci0000:00/host0/target0:0:%d/%s", target, name);
	link_to(rel, tgt);
	snprintf(rel, sizeof(rel), "dev/%s", name);
	mkdirs(at("dev"));
	FILE *f = fopen(at(rel), "w");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), 4 << 20), 0);
	fclose(f);
	int lu = prsim_add_lu(at(rel), opts);
	assert_true(lu >= 0);
	return lu;
}

static int setup(void **state)
{
	tu_reset_faults();
	prsim_reset();
	prsim_install();
	const char *dir = getenv("SM_TEST_TMPDIR");
	snprintf(root, sizeof(root), "%s/fencetest.%d", dir && *dir ? dir : "/tmp", (int)getpid());
	nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	mkdirs(root);
	mkdirs(at("sys/block"));
	sm_pr_set_test_roots(at("sys"), at("dev"));
	lu_lease = add_disk("sdl", 0, LEASE_ID, NULL);
	lu_data = add_disk("sdm", 1, DATA_ID, NULL);
	return 0;
}

static int teardown(void **state)
{
	tu_reset_faults();
	prsim_reset();
	sm_pr_set_test_roots(NULL, NULL);
	sm_log_set_sink(NULL, NULL);
	nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static void quiet(enum sm_log_level level, const char *msg, void *arg) {}

/* init --fence pr, as the CLI does it: prepare, format, clear. */
static void format_fenced(void)
{
	prsim_set_initiator("admin");
	struct sm_fence_table t = {.count = 2};
	assert_int_equal(sm_pr_identity(at("dev/sdl"), t.ids[0], sizeof(t.ids[0])), 0);
	assert_int_equal(sm_pr_identity(at("dev/sdm"), t.ids[1], sizeof(t.ids[1])), 0);
	assert_string_equal(t.ids[0], LEASE_ID);
	const char *paths[2] = {at("dev/sdl"), at("dev/sdm")};
	assert_int_equal(sm_fence_prepare_devices(LS, NULL, paths, 2, 1000), 0);
	struct sm_format_params p = {.lockspace = LS, .max_hosts = 8, .resources = 4, .io_timeout_ms = 100,
				     .watchdog_timeout_ms = 1000, .fence = &t};
	assert_int_equal(sm_volume_format(at("dev/sdl"), 0, &p, NULL), 0);
	assert_int_equal(sm_fence_clear_devices(LS, paths, 2, 1000), 0);
	assert_int_equal(prsim_registrations(lu_lease), 0);
	assert_int_equal(prsim_registrations(lu_data), 0);
}

static struct sm_lockspace *join_as(const char *host, uint32_t host_id, int expect)
{
	prsim_set_initiator(host);
	struct sm_lockspace *ls = NULL;
	assert_int_equal(sm_lockspace_open(at("dev/sdl"), 0, &ls), 0);
	struct sm_join_opts o = {.host_id = host_id, .host_name = host};
	assert_int_equal(sm_lockspace_join(ls, &o), expect);
	return ls;
}

static void join_registers_on_every_fence_device_and_reserves(void **state)
{
	format_fenced();
	struct sm_lockspace *a = join_as("A", 1, 0);
	uint32_t id;
	uint64_t gen;
	sm_lockspace_me(a, &id, &gen, NULL);
	assert_int_equal(id, 1);
	uint64_t key = sm_fence_key(LS, 1, gen);
	assert_true(key == prsim_key_of(lu_lease, "A"));
	assert_true(key == prsim_key_of(lu_data, "A"));
	/* the reservation (all registrants) exists: an unregistered host cannot write */
	prsim_set_initiator("stranger");
	struct sm_pr_dev *d = NULL;
	assert_int_equal(sm_pr_open(at("dev/sdm"), 1000, &d), 0);
	uint64_t holder = 1;
	enum sm_pr_type type = 0;
	assert_int_equal(sm_pr_read_reservation(d, &holder, &type), 1);
	assert_int_equal(type, SM_PR_WE_ALL_REGISTRANTS);
	sm_pr_close(d);
	struct sm_lockspace_info info;
	sm_lockspace_info(a, &info);
	assert_true(info.fence_pr);
	assert_false(info.fenced);
	assert_int_equal(sm_lockspace_renew(a), 0);
	sm_lockspace_free(a);
}

/* B preempts A only after A's record stayed unchanged for more than T;
 * then A's leases are dead for B, A cannot write anywhere, and A's next
 * renewal finds it fenced. */
static void silent_owner_is_preempted_after_t_and_finds_itself_fenced(void **state)
{
	format_fenced();
	struct sm_lockspace *a = join_as("A", 1, 0);
	struct sm_lockspace *b = join_as("B", 2, 0);
	uint32_t id;
	uint64_t gen_a;
	sm_lockspace_me(a, &id, &gen_a, NULL);
	struct sm_lockspace_info info;
	sm_lockspace_info(b, &info);
	uint32_t T = info.to.fence_detect_ms;
	assert_int_equal(T, 300); /* R + 2d at d = 100 ms, R = d when fenced by reservation */
	assert_int_equal(info.to.renew_ms, 100);

	/* A is alive and renewing: never suspect */
	uint64_t last_write = 0; /* A's last renewal completed: B's first sighting is later */
	for (int i = 0; i < 6; i++) {
		assert_int_equal(sm_lockspace_renew(a), 0);
		last_write = sm_now_mono_ms();
		assert_int_equal(sm_lockspace_renew(b), 0); /* reads every record, as observe does */
		assert_int_equal(sm_lockspace_fence_host(b, 1, gen_a), -SM_EHELD);
		sm_sleep_ms(info.to.renew_ms / 2);
	}
	assert_true(prsim_key_of(lu_lease, "A") != 0);
	assert_int_not_equal(sm_lockspace_owner_verdict(b, 1, gen_a, 0), SM_OWNER_DEAD);

	/* A goes silent: B keeps reading (as its renewal thread does every d) */
	uint64_t silent_at = sm_now_mono_ms();
	int rc;
	while ((rc = sm_lockspace_fence_host(b, 1, gen_a)) == -SM_EHELD) {
		assert_true(sm_now_mono_ms() - silent_at < 20ull * T);
		sm_sleep_ms(50);
		assert_int_equal(sm_lockspace_renew(b), 0);
	}
	assert_int_equal(rc, 0);
	assert_true(sm_now_mono_ms() - last_write > T);
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, gen_a, 0), SM_OWNER_DEAD);
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, gen_a + 1, 0), SM_OWNER_UNKNOWN);
	assert_true(prsim_key_of(lu_lease, "A") == 0);
	assert_true(prsim_key_of(lu_data, "A") == 0);
	assert_true(prsim_key_of(lu_lease, "B") == sm_fence_key(LS, 2, 1));
	/* again: nothing left to do */
	assert_int_equal(sm_lockspace_fence_host(b, 1, gen_a), 0);
	sm_lockspace_info(b, &info);
	assert_int_equal(info.preemptions, 1);

	/* A resumes: its renewal is refused by the storage, and it stays fenced */
	sm_log_set_sink(quiet, NULL);
	unsigned before = prsim_write_conflicts(lu_lease);
	assert_int_equal(sm_lockspace_renew(a), -SM_ERESERVATION_CONFLICT);
	assert_true(prsim_write_conflicts(lu_lease) > before);
	sm_lockspace_info(a, &info);
	assert_true(info.fenced);
	assert_int_equal(sm_lockspace_renew(a), -SM_ERESERVATION_CONFLICT);
	assert_int_equal(sm_lockspace_leave(a), -SM_ERESERVATION_CONFLICT);
	/* a fenced host cannot preempt anybody */
	assert_int_equal(sm_lockspace_fence_host(a, 2, 1), -SM_ERESERVATION_CONFLICT);
	sm_log_set_sink(NULL, NULL);
	/* B is untouched */
	assert_int_equal(sm_lockspace_renew(b), 0);
	sm_lockspace_free(a);

	/* A joins again (its holders gone): a new generation and key; it may
	 * write again, and B sees the new incarnation as a live host. */
	struct sm_lockspace *a2 = join_as("A", 1, 0);
	uint64_t gen2;
	sm_lockspace_me(a2, &id, &gen2, NULL);
	assert_int_equal(gen2, gen_a + 1);
	assert_true(prsim_key_of(lu_lease, "A") == sm_fence_key(LS, 1, gen2));
	assert_true(prsim_key_of(lu_data, "A") == sm_fence_key(LS, 1, gen2));
	assert_int_equal(sm_lockspace_renew(a2), 0);
	assert_int_equal(sm_lockspace_observe(b), 0);
	assert_int_equal(sm_lockspace_owner_verdict(b, 1, gen_a, 0), SM_OWNER_DEAD);
	assert_int_not_equal(sm_lockspace_owner_verdict(b, 1, gen2, 0), SM_OWNER_DEAD);
	sm_lockspace_free(a2);
	sm_lockspace_free(b);
}

/* One host holds one registration per device: a second join from the same
 * host (an admin command beside the daemon) must not replace the key of a
 * host_id that still holds leases, or others would find that host_id
 * "preempted" already and take its leases while it can still write. */
static void second_host_id_from_one_host_is_refused(void **state)
{
	format_fenced();
	struct sm_lockspace *a = join_as("A", 1, 0);
	uint64_t key1 = prsim_key_of(lu_lease, "A");
	sm_log_set_sink(quiet, NULL);
	struct sm_lockspace *admin = join_as("A", 2, -SM_EFENCE_DEVICE);
	sm_log_set_sink(NULL, NULL);
	assert_true(prsim_key_of(lu_lease, "A") == key1);
	assert_true(prsim_key_of(lu_data, "A") == key1);
	assert_int_equal(sm_lockspace_renew(a), 0);
	sm_lockspace_free(admin);
	/* once host_id 1 has left, the same host may join as another host_id */
	assert_int_equal(sm_lockspace_leave(a), 0);
	sm_lockspace_free(a);
	struct sm_lockspace *b = join_as("A", 2, 0);
	assert_true(prsim_key_of(lu_lease, "A") == sm_fence_key(LS, 2, 1));
	sm_lockspace_free(b);
}

/* Found in the lab (two guests' daemons joining at the same moment): both
 * picked host_id 1 and registered its key, B won the slot, and A, moving to
 * the next free host_id, found its own I_T nexus registered with the key of
 * host_id 1, which is live -- but live as another host (B, on B's nexus).
 * That registration of A's protects nobody's writes; it must be replaced,
 * not refuse A's join for ever. */
static struct sm_lockspace *join_full(const char *initiator, const char *host, uint8_t machine_byte, int expect)
{
	prsim_set_initiator(initiator);
	struct sm_lockspace *ls = NULL;
	assert_int_equal(sm_lockspace_open(at("dev/sdl"), 0, &ls), 0);
	uint8_t mid[16];
	memset(mid, machine_byte, sizeof(mid));
	struct sm_join_opts o = {.host_name = host, .machine_id = mid};
	assert_int_equal(sm_lockspace_join(ls, &o), expect);
	return ls;
}

static void own_key_of_a_host_id_another_host_won_is_replaced(void **state)
{
	format_fenced();
	struct sm_lockspace *b = join_full("B", "B", 0xbb, 0);
	uint64_t key_b = prsim_key_of(lu_lease, "B");
	/* what A's lost claim of host_id 1 left on both devices */
	prsim_set_initiator("A");
	const char *paths[2] = {at("dev/sdl"), at("dev/sdm")};
	for (int i = 0; i < 2; i++) {
		struct sm_pr_dev *d = NULL;
		assert_int_equal(sm_pr_open(paths[i], 1000, &d), 0);
		assert_int_equal(sm_pr_register(d, 0, key_b, true), 0);
		sm_pr_close(d);
	}
	struct sm_lockspace *a = join_full("A", "A", 0xaa, 0);
	uint32_t id;
	uint64_t gen;
	sm_lockspace_me(a, &id, &gen, NULL);
	assert_int_equal(id, 2);
	assert_true(prsim_key_of(lu_lease, "A") == sm_fence_key(LS, 2, gen));
	assert_true(prsim_key_of(lu_data, "A") == sm_fence_key(LS, 2, gen));
	/* B's own registration is untouched */
	assert_true(prsim_key_of(lu_lease, "B") == key_b);
	assert_true(prsim_key_of(lu_data, "B") == key_b);
	assert_int_equal(sm_lockspace_renew(a), 0);
	assert_int_equal(sm_lockspace_renew(b), 0);
	/* the same machine under another name (an admin command beside the
	 * daemon, on B's nexus): refused, as before */
	sm_log_set_sink(quiet, NULL);
	struct sm_lockspace *admin = join_full("B", "B2", 0xbb, -SM_EFENCE_DEVICE);
	sm_log_set_sink(NULL, NULL);
	assert_true(prsim_key_of(lu_lease, "B") == key_b);
	assert_int_equal(sm_lockspace_renew(b), 0);
	sm_lockspace_free(admin);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

static void device_with_foreign_keys_is_refused(void **state)
{
	format_fenced();
	prsim_set_initiator("other-cluster");
	struct sm_pr_dev *d = NULL;
	assert_int_equal(sm_pr_open(at("dev/sdm"), 1000, &d), 0);
	assert_int_equal(sm_pr_register(d, 0, 0x1234567800000001ull, true), 0);
	sm_pr_close(d);
	sm_log_set_sink(quiet, NULL);
	struct sm_lockspace *a = join_as("A", 1, -SM_EFENCE_DEVICE);
	assert_true(prsim_key_of(lu_data, "A") == 0);
	sm_lockspace_free(a);
	/* init refuses to clear it too */
	const char *paths[2] = {at("dev/sdl"), at("dev/sdm")};
	prsim_set_initiator("admin");
	assert_int_equal(sm_fence_prepare_devices(LS, NULL, paths, 2, 1000), -SM_EFENCE_DEVICE);
	assert_true(prsim_key_of(lu_data, "other-cluster") == 0x1234567800000001ull);
}

static void missing_fence_device_refuses_the_join(void **state)
{
	format_fenced();
	/* this host does not see the data LUN */
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", at("sys/block/sdm"));
	assert_int_equal(unlink(p), 0);
	snprintf(p, sizeof(p), "%s", at("sys/class/block/sdm"));
	assert_int_equal(unlink(p), 0);
	sm_log_set_sink(quiet, NULL);
	struct sm_lockspace *a = join_as("A", 1, -SM_EFENCE_DEVICE);
	sm_lockspace_free(a);
	assert_int_equal(prsim_registrations(lu_lease), 0);
}

/* A target without PREEMPT AND ABORT: a plain PREEMPT, and the caller is
 * told to wait for commands in flight. */
static void preempt_without_abort_is_reported(void **state)
{
	prsim_reset();
	prsim_install();
	struct prsim_lu_opts tgt = {.no_preempt_abort = true};
	nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	mkdirs(root);
	mkdirs(at("sys/block"));
	lu_lease = add_disk("sdl", 0, LEASE_ID, &tgt);
	lu_data = add_disk("sdm", 1, DATA_ID, &tgt);
	format_fenced();
	struct sm_lockspace *a = join_as("A", 1, 0);
	struct sm_lockspace *b = join_as("B", 2, 0);
	struct sm_fence_table t = {.count = 2};
	strcpy(t.ids[0], LEASE_ID);
	strcpy(t.ids[1], DATA_ID);
	prsim_set_initiator("B");
	struct sm_fence *f = NULL;
	assert_int_equal(sm_fence_open(LS, &t, at("dev/sdl"), 1000, &f), 0);
	sm_log_set_sink(quiet, NULL);
	bool no_abort = false;
	assert_int_equal(sm_fence_preempt(f, 2, 1, 1, 1, &no_abort), 0);
	assert_true(no_abort);
	assert_true(prsim_key_of(lu_lease, "A") == 0);
	assert_true(prsim_key_of(lu_data, "A") == 0);
	/* newer generations of the victim are left alone */
	assert_int_equal(sm_lockspace_renew(a), -SM_ERESERVATION_CONFLICT);
	sm_lockspace_free(a);
	sm_log_set_sink(NULL, NULL);
	a = join_as("A", 1, 0);
	assert_int_equal(sm_fence_preempt(f, 2, 1, 1, 1, &no_abort), 0);
	assert_true(prsim_key_of(lu_lease, "A") == sm_fence_key(LS, 1, 2));
	sm_fence_close(f);
	sm_lockspace_free(a);
	sm_lockspace_free(b);
}

/* The plugin's check: a guest in a lockspace fenced by reservation may only
 * write to its fence devices. */
static void guest_disks_must_be_on_fence_devices(void **state)
{
	format_fenced();
	add_disk("sdz", 2, "naa.6001405zzzzzzzzzzzzzzzzzzzzzzzzz", NULL);
	char err[1024] = "";
	const char *ok[] = {at("dev/sdm"), at("dev/sdl")};
	char vol[PATH_MAX];
	snprintf(vol, sizeof(vol), "%s:0", at("dev/sdl"));
	assert_int_equal(fencecover_check(vol, ok, 2, err, sizeof(err)), 0);
	sm_log_set_sink(quiet, NULL);
	const char *bad[] = {at("dev/sdm"), at("dev/sdz")};
	assert_int_equal(fencecover_check(vol, bad, 2, err, sizeof(err)), -SM_EFENCE_DEVICE);
	assert_non_null(strstr(err, "naa.6001405zzzzzzzzzzzzzzzzzzzzzzzzz"));
	assert_non_null(strstr(err, "not a fence device of lockspace " LS));
	/* a file whose file system's device has no identity here: refused too */
	FILE *f = fopen(at("guest.img"), "w");
	assert_non_null(f);
	fclose(f);
	const char *file[] = {at("guest.img")};
	assert_int_equal(fencecover_check(vol, file, 1, err, sizeof(err)), -SM_EFENCE_DEVICE);
	/* a volume fenced by timing does not care */
	const char *plain_path = tu_temp_file("plain", 0);
	struct sm_format_params p = {.lockspace = "plain", .max_hosts = 4, .resources = 2, .io_timeout_ms = 100};
	assert_int_equal(sm_volume_format(plain_path, 0, &p, NULL), 0);
	assert_int_equal(fencecover_check(plain_path, bad, 2, err, sizeof(err)), 0);
	tu_cleanup_files();
}

static void keys_encode_lockspace_host_and_generation(void **state)
{
	uint64_t k = sm_fence_key(LS, 7, 0x10005);
	uint32_t id;
	uint16_t g;
	assert_true(sm_fence_key_parse(LS, k, &id, &g));
	assert_int_equal(id, 7);
	assert_int_equal(g, 5);
	assert_false(sm_fence_key_parse("other", k, &id, &g));
	assert_true(k != sm_fence_key(LS, 7, 6));
	assert_true(k != sm_fence_key(LS, 8, 0x10005));
	assert_true(sm_fence_key(LS, 0, 0) != 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keys_encode_lockspace_host_and_generation),
		cmocka_unit_test_setup_teardown(join_registers_on_every_fence_device_and_reserves, setup, teardown),
		cmocka_unit_test_setup_teardown(silent_owner_is_preempted_after_t_and_finds_itself_fenced, setup,
						teardown),
		cmocka_unit_test_setup_teardown(device_with_foreign_keys_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(second_host_id_from_one_host_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(own_key_of_a_host_id_another_host_won_is_replaced, setup, teardown),
		cmocka_unit_test_setup_teardown(missing_fence_device_refuses_the_join, setup, teardown),
		cmocka_unit_test_setup_teardown(preempt_without_abort_is_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(guest_disks_must_be_on_fence_devices, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
