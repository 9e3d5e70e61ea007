/* Persistent reservations (src/disk/pr.c): commands and their semantics
 * through the emulator (prsim), the error mapping of both kernel conventions
 * and of SG_IO sense data (through fault rules), and device identity against a
 * fake sysfs tree. */
#include "testutil.h"

#include "disk/disk.h"
#include "disk/fault.h"
#include "disk/pr.h"
#include "disk/syscalls.h"
#include "prsim.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#define __USE_XOPEN_EXTENDED 1
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define KEY_A 0xa1a1a1a100000001ull
#define KEY_B 0xb2b2b2b200000002ull
#define KEY_C 0xc3c3c3c300000003ull

static char root[PATH_MAX]; /* scratch tree: root/sys, root/dev */

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void mkdirs(const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (char *s = p + strlen(root) + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	mkdir(p, 0755);
}

/* Write a file under root (parents created). */
static void put(const char *rel, const void *data, size_t len)
{
	char p[PATH_MAX], dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", rel);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		mkdirs(dir);
	}
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void put_str(const char *rel, const char *s) { put(rel, s, strlen(s)); }

static void link_to(const char *rel, const char *target)
{
	char p[PATH_MAX], dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", rel);
	*strrchr(dir, '/') = '\0';
	mkdirs(dir);
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_int_equal(symlink(target, p), 0);
}

static const char *at(const char *rel)
{
	static char p[4][PATH_MAX];
	static int k;
	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", root, rel);
	return p[k];
}

static int setup(void **state)
{
	tu_reset_faults();
	prsim_reset();
	prsim_install();
	const char *dir = getenv("SM_TEST_TMPDIR");
	mkdir(dir && *dir ? dir : "/tmp", 0755);
	snprintf(root, sizeof(root), "%s/prtest.%d", dir && *dir ? dir : "/tmp", (int)getpid());
	nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	assert_int_equal(mkdir(root, 0755), 0);
	mkdirs("sys/block");
	mkdirs("dev");
	sm_pr_set_test_roots(at("sys"), at("dev"));
	return 0;
}

static int teardown(void **state)
{
	tu_reset_faults();
	prsim_reset();
	sm_pr_set_test_roots(NULL, NULL);
	nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	tu_cleanup_files();
	return 0;
}

/* A 1 MiB emulated LU at root/dev/NAME. */
static int add_lu(const char *name, const struct prsim_lu_opts *opts)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "dev/%s", name);
	static char zero[1 << 20];
	put(rel, zero, sizeof(zero));
	int lu = prsim_add_lu(at(rel), opts);
	assert_true(lu >= 0);
	return lu;
}

static struct sm_pr_dev *open_as(const char *host, const char *name)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "dev/%s", name);
	prsim_set_initiator(host);
	struct sm_pr_dev *d = NULL;
	assert_int_equal(sm_pr_open(at(rel), 2000, &d), 0);
	return d;
}

static bool has_key(const uint64_t *keys, int n, uint64_t k)
{
	for (int i = 0; i < n; i++)
		if (keys[i] == k)
			return true;
	return false;
}

/* ---- semantics through SG_IO ---- */

static void register_reserve_and_read_back(void **state)
{
	int lu = add_lu("sdb", NULL);
	struct sm_pr_dev *a = open_as("hostA", "sdb"), *b = open_as("hostB", "sdb");
	assert_int_equal(sm_pr_register(a, 0, KEY_A, false), 0);
	assert_int_equal(sm_pr_register(b, 0, KEY_B, false), 0);
	uint64_t keys[4] = {0};
	uint32_t gen = 0;
	assert_int_equal(sm_pr_read_keys(b, keys, 4, &gen), 2);
	assert_int_equal(gen, 2);
	assert_true(has_key(keys, 2, KEY_A) && has_key(keys, 2, KEY_B));
	/* more registrations than room: the count is still exact */
	assert_int_equal(sm_pr_read_keys(b, keys, 1, NULL), 2);
	assert_true(keys[0] == KEY_A || keys[0] == KEY_B);

	uint64_t holder = 1;
	enum sm_pr_type type = 0;
	assert_int_equal(sm_pr_read_reservation(a, &holder, &type), 0);
	assert_int_equal(sm_pr_reserve(a, KEY_A, SM_PR_WE_REGISTRANTS_ONLY), 0);
	assert_int_equal(sm_pr_reserve(a, KEY_A, SM_PR_WE_REGISTRANTS_ONLY), 0); /* again: no-op */
	assert_int_equal(sm_pr_reserve(b, KEY_B, SM_PR_WE_REGISTRANTS_ONLY), -SM_ERESERVATION_CONFLICT);
	assert_int_equal(sm_pr_reserve(a, KEY_A, SM_PR_WE_ALL_REGISTRANTS), -SM_ERESERVATION_CONFLICT);
	assert_int_equal(sm_pr_read_reservation(b, &holder, &type), 1);
	assert_int_equal(holder, KEY_A);
	assert_int_equal(type, SM_PR_WE_REGISTRANTS_ONLY);
	assert_int_equal(prsim_generation(lu), 2); /* RESERVE does not count */
	/* a SCSI disk: every command went through SG_IO */
	assert_true(prsim_sg_commands(lu) >= 9);
	assert_int_equal(prsim_ioctl_commands(lu), 0);
	assert_int_equal(sm_pr_reserve(a, KEY_A, 2), -SM_EBAD_ARGUMENT);
	sm_pr_close(a);
	sm_pr_close(b);
}

static void register_checks_the_old_key_unless_told_to_ignore_it(void **state)
{
	int lu = add_lu("sdb", NULL);
	struct sm_pr_dev *a = open_as("hostA", "sdb");
	assert_int_equal(sm_pr_register(a, 0, KEY_A, false), 0);
	assert_int_equal(sm_pr_register(a, KEY_C, KEY_B, false), -SM_ERESERVATION_CONFLICT);
	assert_int_equal(prsim_key_of(lu, "hostA"), KEY_A);
	assert_int_equal(sm_pr_register(a, KEY_C, KEY_B, true), 0);
	assert_int_equal(prsim_key_of(lu, "hostA"), KEY_B);
	assert_int_equal(prsim_generation(lu), 2);
	/* new key 0 unregisters */
	assert_int_equal(sm_pr_register(a, KEY_B, 0, false), 0);
	assert_int_equal(sm_pr_read_keys(a, NULL, 0, NULL), 0);
	assert_int_equal(prsim_generation(lu), 3);
	/* an unregistered host cannot reserve */
	assert_int_equal(sm_pr_reserve(a, KEY_B, SM_PR_WE_REGISTRANTS_ONLY), -SM_ERESERVATION_CONFLICT);
	sm_pr_close(a);
}

static void preempt_takes_the_reservation_and_fences_the_victims_writes(void **state)
{
	int lu = add_lu("sdb", NULL);
	struct sm_pr_dev *a = open_as("hostA", "sdb"), *b = open_as("hostB", "sdb");
	assert_int_equal(sm_pr_register(a, 0, KEY_A, false), 0);
	assert_int_equal(sm_pr_register(b, 0, KEY_B, false), 0);
	assert_int_equal(sm_pr_reserve(a, KEY_A, SM_PR_WE_REGISTRANTS_ONLY), 0);
	prsim_set_initiator("hostA");
	struct sm_disk *da = NULL;
	assert_int_equal(sm_disk_open(at("dev/sdb"), 0, 0, 0, &da), 0);
	uint8_t buf[512] = {7};
	assert_int_equal(sm_disk_write(da, 0, buf, 512, 1000), 0);

	/* victim not registered, or issuer not registered: conflict, nothing changes */
	assert_int_equal(sm_pr_preempt(b, KEY_B, KEY_C, SM_PR_WE_REGISTRANTS_ONLY, false), -SM_ERESERVATION_CONFLICT);
	assert_int_equal(sm_pr_preempt(b, KEY_C, KEY_A, SM_PR_WE_REGISTRANTS_ONLY, false), -SM_ERESERVATION_CONFLICT);
	assert_int_equal(prsim_generation(lu), 2);

	assert_int_equal(sm_pr_preempt(b, KEY_B, KEY_A, SM_PR_WE_REGISTRANTS_ONLY, false), 0);
	assert_int_equal(prsim_generation(lu), 3);
	uint64_t keys[4], holder;
	enum sm_pr_type type;
	uint32_t gen;
	assert_int_equal(sm_pr_read_keys(b, keys, 4, &gen), 1);
	assert_int_equal(keys[0], KEY_B);
	assert_int_equal(gen, 3);
	assert_int_equal(sm_pr_read_reservation(b, &holder, &type), 1);
	assert_int_equal(holder, KEY_B);
	assert_int_equal(type, SM_PR_WE_REGISTRANTS_ONLY);

	/* the victim's writes now fail with RESERVATION CONFLICT; its reads work */
	assert_int_equal(sm_disk_write(da, 0, buf, 512, 1000), -SM_ERESERVATION_CONFLICT);
	assert_int_equal(prsim_write_conflicts(lu), 1);
	assert_int_equal(sm_disk_read(da, 0, buf, 512, 1000), 0);
	/* its next PR command meets UNIT ATTENTION 2A/05 (consumed by the read
	 * above here), then RESERVATION CONFLICT: it is no longer registered */
	assert_int_equal(sm_pr_register(a, KEY_A, KEY_A, false), -SM_ERESERVATION_CONFLICT);
	/* it may register again (new key) and then write, as WE-RO allows */
	assert_int_equal(sm_pr_register(a, 0, KEY_C, false), 0);
	assert_int_equal(sm_disk_write(da, 0, buf, 512, 1000), 0);
	sm_disk_close(da);
	sm_pr_close(a);
	sm_pr_close(b);
}

static void preempted_host_gets_one_unit_attention_and_retries(void **state)
{
	int lu = add_lu("sdb", NULL);
	struct sm_pr_dev *a = open_as("hostA", "sdb"), *b = open_as("hostB", "sdb");
	assert_int_equal(sm_pr_register(a, 0, KEY_A, false), 0);
	assert_int_equal(sm_pr_register(b, 0, KEY_B, false), 0);
	assert_int_equal(sm_pr_reserve(b, KEY_B, SM_PR_WE_ALL_REGISTRANTS), 0);
	assert_int_equal(sm_pr_preempt(b, KEY_B, KEY_A, SM_PR_WE_ALL_REGISTRANTS, true), 0);
	unsigned before = prsim_executed(lu);
	uint64_t keys[4];
	/* 2A/05 first (not executed), then the retry answers */
	assert_int_equal(sm_pr_read_keys(a, keys, 4, NULL), 1);
	assert_int_equal(keys[0], KEY_B);
	assert_int_equal(prsim_executed(lu), before + 1);
	/* all-registrants: the reservation has no single holder key */
	uint64_t holder = 9;
	enum sm_pr_type type;
	assert_int_equal(sm_pr_read_reservation(a, &holder, &type), 1);
	assert_int_equal(holder, 0);
	assert_int_equal(type, SM_PR_WE_ALL_REGISTRANTS);
	sm_pr_close(a);
	sm_pr_close(b);
}

static void clear_removes_everything(void **state)
{
	int lu = add_lu("sdb", NULL);
	struct sm_pr_dev *a = open_as("hostA", "sdb"), *b = open_as("hostB", "sdb");
	assert_int_equal(sm_pr_register(a, 0, KEY_A, false), 0);
	assert_int_equal(sm_pr_register(b, 0, KEY_B, false), 0);
	assert_int_equal(sm_pr_reserve(a, KEY_A, SM_PR_WE_REGISTRANTS_ONLY), 0);
	assert_int_equal(sm_pr_clear(a, KEY_B), -SM_ERESERVATION_CONFLICT);
	assert_int_equal(sm_pr_clear(a, KEY_A), 0);
	uint32_t gen;
	assert_int_equal(sm_pr_read_keys(a, NULL, 0, &gen), 0);
	assert_int_equal(gen, 3);
	assert_int_equal(sm_pr_read_reservation(a, NULL, NULL), 0);
	assert_int_equal(prsim_registrations(lu), 0);
	sm_pr_close(a);
	sm_pr_close(b);
}

static void target_restart_unit_attention_is_retried(void **state)
{
	int lu = add_lu("sdb", NULL);
	struct sm_pr_dev *a = open_as("hostA", "sdb");
	prsim_unit_attention(lu, NULL, 0x29, 0x00);
	assert_int_equal(sm_pr_register(a, 0, KEY_A, false), 0);
	assert_int_equal(prsim_key_of(lu, "hostA"), KEY_A);
	assert_int_equal(prsim_executed(lu), 1);
	assert_int_equal(prsim_sg_commands(lu), 2);
	/* more UNIT ATTENTIONs than retries: -EIO, the command never ran */
	for (int i = 0; i <= SM_PR_UA_RETRIES; i++)
		prsim_unit_attention(lu, "hostA", 0x29, 0x00);
	assert_int_equal(sm_pr_register(a, KEY_A, KEY_B, false), -EIO);
	assert_int_equal(prsim_key_of(lu, "hostA"), KEY_A);
	sm_pr_close(a);
}

static void preempt_and_abort_unsupported_by_the_target(void **state)
{
	struct prsim_lu_opts tgt = {.no_preempt_abort = true};
	int lu = add_lu("sdb", &tgt);
	struct sm_pr_dev *a = open_as("hostA", "sdb"), *b = open_as("hostB", "sdb");
	assert_int_equal(sm_pr_register(a, 0, KEY_A, false), 0);
	assert_int_equal(sm_pr_register(b, 0, KEY_B, false), 0);
	assert_int_equal(sm_pr_reserve(a, KEY_A, SM_PR_WE_REGISTRANTS_ONLY), 0);
	assert_int_equal(sm_pr_preempt(b, KEY_B, KEY_A, SM_PR_WE_REGISTRANTS_ONLY, true), -SM_EPR_UNSUPPORTED);
	assert_int_equal(prsim_key_of(lu, "hostA"), KEY_A);
	/* the fallback the protocol uses: plain PREEMPT */
	assert_int_equal(sm_pr_preempt(b, KEY_B, KEY_A, SM_PR_WE_REGISTRANTS_ONLY, false), 0);
	assert_int_equal(prsim_key_of(lu, "hostA"), 0);
	sm_pr_close(a);
	sm_pr_close(b);
}

/* ---- the ioctl path: NVMe-like devices and dm-multipath maps ---- */

static void nvme_uses_the_ioctls_and_cannot_read_keys(void **state)
{
	struct prsim_lu_opts nvme = {.transport = PRSIM_NVME, .ioctl_style = PRSIM_IOCTL_PR_STATUS};
	int lu = add_lu("nvme0n1", &nvme);
	struct sm_pr_dev *a = open_as("hostA", "nvme0n1"), *b = open_as("hostB", "nvme0n1");
	assert_int_equal(sm_pr_register(a, 0, KEY_A, false), 0);
	assert_int_equal(sm_pr_register(b, 0, KEY_B, false), 0);
	assert_int_equal(sm_pr_reserve(a, KEY_A, SM_PR_EA_REGISTRANTS_ONLY), 0);
	/* registrants-only: the holder is the nexus that reserved */
	assert_int_equal(sm_pr_reserve(b, KEY_B, SM_PR_EA_REGISTRANTS_ONLY), -SM_ERESERVATION_CONFLICT);
	assert_int_equal(sm_pr_preempt(b, KEY_B, KEY_A, SM_PR_EA_REGISTRANTS_ONLY, true), 0);
	assert_int_equal(prsim_key_of(lu, "hostA"), 0);
	assert_int_equal(prsim_sg_commands(lu), 0);
	assert_int_equal(prsim_ioctl_commands(lu), 5);
	assert_int_equal(sm_pr_read_keys(b, NULL, 0, NULL), -SM_EPR_UNSUPPORTED);
	assert_int_equal(sm_pr_read_reservation(b, NULL, NULL), -SM_EPR_UNSUPPORTED);
	sm_pr_close(a);
	sm_pr_close(b);
}

/* The ioctl answers a conflict as 0x18 (Linux 6.1 and >= 6.4), -EBADE, or
 * the raw NVMe status 0x4083 (Linux <= 6.3 on NVMe). */
static void conflict_through_the_ioctls_in_every_convention(void **state)
{
	static const enum prsim_ioctl_style styles[] = {PRSIM_IOCTL_SCSI_RESULT, PRSIM_IOCTL_PR_STATUS,
							 PRSIM_IOCTL_ERRNO, PRSIM_IOCTL_NVME_STATUS};
	for (int s = 0; s < 4; s++) {
		char name[16];
		snprintf(name, sizeof(name), "nvme%dn1", s);
		struct prsim_lu_opts o = {.transport = PRSIM_NVME, .ioctl_style = styles[s],
					  .no_preempt_abort = true};
		int lu = add_lu(name, &o);
		struct sm_pr_dev *a = open_as("hostA", name);
		assert_int_equal(sm_pr_register(a, 0, KEY_A, false), 0);
		assert_int_equal(sm_pr_register(a, KEY_B, KEY_C, false), -SM_ERESERVATION_CONFLICT);
		assert_int_equal(prsim_key_of(lu, "hostA"), KEY_A);
		/* PREEMPT AND ABORT refused with ILLEGAL REQUEST: 0x02 twice (6.1),
		 * -EINVAL (>= 6.4) */
		assert_int_equal(sm_pr_preempt(a, KEY_A, KEY_A, SM_PR_WE_REGISTRANTS_ONLY, true), -SM_EPR_UNSUPPORTED);
		sm_pr_close(a);
	}
}

static void dm_map_sends_pr_out_through_the_ioctls_and_pr_in_through_sg(void **state)
{
	struct prsim_lu_opts dm = {.minor = 7};
	int lu = add_lu("dm-0", &dm);
	mkdirs("sys/devices/virtual/block/dm-0/dm");
	link_to("sys/dev/block/250:7", "../../devices/virtual/block/dm-0");
	struct sm_pr_dev *a = open_as("hostA", "dm-0");
	assert_int_equal(sm_pr_register(a, 0, KEY_A, false), 0);
	assert_int_equal(sm_pr_reserve(a, KEY_A, SM_PR_WE_REGISTRANTS_ONLY), 0);
	assert_int_equal(prsim_ioctl_commands(lu), 2);
	assert_int_equal(prsim_sg_commands(lu), 0);
	uint64_t k;
	assert_int_equal(sm_pr_read_keys(a, &k, 1, NULL), 1);
	assert_int_equal(k, KEY_A);
	assert_int_equal(prsim_sg_commands(lu), 1);
	/* the type went through the block layer's own numbering and back */
	enum sm_pr_type type = 0;
	assert_int_equal(sm_pr_read_reservation(a, &k, &type), 1);
	assert_int_equal(type, SM_PR_WE_REGISTRANTS_ONLY);
	assert_int_equal(sm_pr_preempt(a, KEY_A, KEY_A, SM_PR_EA_ALL_REGISTRANTS, false), 0);
	assert_int_equal(sm_pr_read_reservation(a, &k, &type), 1);
	assert_int_equal(type, SM_PR_EA_ALL_REGISTRANTS);
	sm_pr_close(a);
}

/* Linux 6.1 hands a UNIT ATTENTION to the ioctl caller as a bare 0x02. */
static void bare_check_condition_from_the_ioctl_is_retried_once(void **state)
{
	struct prsim_lu_opts nvme = {.transport = PRSIM_NVME};
	int lu = add_lu("nvme0n1", &nvme);
	struct sm_pr_dev *a = open_as("hostA", "nvme0n1");
	prsim_unit_attention(lu, "hostA", 0x29, 0x00);
	assert_int_equal(sm_pr_register(a, 0, KEY_A, false), 0);
	assert_int_equal(prsim_ioctl_commands(lu), 2);
	/* two in a row: not a UNIT ATTENTION, an error */
	prsim_unit_attention(lu, "hostA", 0x29, 0x00);
	prsim_unit_attention(lu, "hostA", 0x2a, 0x03);
	assert_int_equal(sm_pr_register(a, KEY_A, KEY_B, false), -EIO);
	assert_int_equal(prsim_key_of(lu, "hostA"), KEY_A);
	sm_pr_close(a);
}

/* ---- fault rules: both paths honour them ---- */

static void fault_rules_fail_pr_commands_on_both_paths(void **state)
{
	add_lu("sdb", NULL);
	struct prsim_lu_opts nvme = {.transport = PRSIM_NVME};
	add_lu("nvme0n1", &nvme);
	struct sm_pr_dev *s = open_as("hostA", "sdb"), *n = open_as("hostA", "nvme0n1");
	struct sm_fault_rule conflict = {.op = SM_FAULT_PR_OUT, .kind = SM_FAULT_SCSI_STATUS,
					 .status = SM_SCSI_RESERVATION_CONFLICT, .count = 2};
	assert_int_equal(sm_fault_add(&conflict), 0);
	assert_int_equal(sm_pr_register(s, 0, KEY_A, false), -SM_ERESERVATION_CONFLICT);
	assert_int_equal(sm_pr_register(n, 0, KEY_A, false), -SM_ERESERVATION_CONFLICT);
	assert_int_equal(sm_fault_hits(), 2);
	assert_int_equal(sm_pr_register(s, 0, KEY_A, false), 0);
	assert_int_equal(sm_pr_register(n, 0, KEY_A, false), 0);
	sm_fault_clear();

	/* -EBADE from the ioctl (a kernel reporting errnos) */
	struct sm_fault_rule badE = {.op = SM_FAULT_PR_OUT, .kind = SM_FAULT_ERRNO, .err = EBADE, .count = 1};
	sm_fault_add(&badE);
	assert_int_equal(sm_pr_reserve(n, KEY_A, SM_PR_WE_REGISTRANTS_ONLY), -SM_ERESERVATION_CONFLICT);
	sm_fault_clear();

	/* UNIT ATTENTION 2A/03 once: retried, succeeds (SG_IO path) */
	struct sm_fault_rule ua = {.op = SM_FAULT_PR_ANY, .kind = SM_FAULT_CHECK_CONDITION,
				   .sense_key = SM_SENSE_UNIT_ATTENTION, .asc = 0x2a, .ascq = 0x03, .count = 1};
	sm_fault_add(&ua);
	assert_int_equal(sm_pr_reserve(s, KEY_A, SM_PR_WE_REGISTRANTS_ONLY), 0);
	assert_int_equal(sm_fault_hits(), 1);
	uint64_t holder;
	assert_int_equal(sm_pr_read_reservation(s, &holder, NULL), 1);
	assert_int_equal(holder, KEY_A);
	sm_fault_clear();

	/* a UNIT ATTENTION that never goes away: 1 + SM_PR_UA_RETRIES tries, then -EIO */
	ua.count = 0;
	ua.op = SM_FAULT_PR_IN;
	sm_fault_add(&ua);
	assert_int_equal(sm_pr_read_keys(s, NULL, 0, NULL), -EIO);
	assert_int_equal(sm_fault_hits(), 1 + SM_PR_UA_RETRIES);
	sm_fault_clear();

	/* ILLEGAL REQUEST 24/00 for PREEMPT AND ABORT only */
	struct sm_fault_rule illegal = {.op = SM_FAULT_PR_OUT, .kind = SM_FAULT_CHECK_CONDITION,
					.sense_key = SM_SENSE_ILLEGAL_REQUEST, .asc = 0x24, .pr_actions = 1u << 5};
	sm_fault_add(&illegal);
	assert_int_equal(sm_pr_preempt(s, KEY_A, KEY_A, SM_PR_WE_REGISTRANTS_ONLY, true), -SM_EPR_UNSUPPORTED);
	assert_int_equal(sm_pr_preempt(n, KEY_A, KEY_A, SM_PR_WE_REGISTRANTS_ONLY, true), -SM_EPR_UNSUPPORTED);
	assert_int_equal(sm_fault_hits(), 1 + 2); /* the ioctl saw 0x02 twice */
	assert_int_equal(sm_pr_preempt(s, KEY_A, KEY_A, SM_PR_WE_REGISTRANTS_ONLY, false), 0);
	/* Linux >= 6.4 answers that ILLEGAL REQUEST with -EINVAL: once is enough */
	sm_fault_clear();
	illegal.ioctl_style = SM_FAULT_IOCTL_PR_STATUS;
	sm_fault_add(&illegal);
	assert_int_equal(sm_pr_preempt(n, KEY_A, KEY_A, SM_PR_WE_REGISTRANTS_ONLY, true), -SM_EPR_UNSUPPORTED);
	assert_int_equal(sm_fault_hits(), 1);
	sm_fault_clear();

	/* a medium error on REGISTER through the ioctl: 0x02 twice, -EIO */
	struct sm_fault_rule medium = {.op = SM_FAULT_PR_OUT, .kind = SM_FAULT_CHECK_CONDITION,
				       .sense_key = 0x3, .asc = 0x11};
	sm_fault_add(&medium);
	assert_int_equal(sm_pr_register(n, KEY_A, KEY_B, false), -EIO);
	assert_int_equal(sm_pr_register(s, KEY_A, KEY_B, false), -EIO);
	sm_fault_clear();

	/* a command that times out */
	struct sm_fault_rule hang = {.op = SM_FAULT_PR_ANY, .kind = SM_FAULT_HANG};
	sm_fault_add(&hang);
	assert_int_equal(sm_pr_register(s, KEY_A, KEY_B, false), -SM_EIO_TIMEOUT);
	assert_int_equal(sm_pr_register(n, KEY_A, KEY_B, false), -SM_EIO_TIMEOUT);
	assert_int_equal(sm_pr_read_keys(s, NULL, 0, NULL), -SM_EIO_TIMEOUT);
	sm_fault_clear();

	/* path filter: only the NVMe device */
	struct sm_fault_rule eio = {.op = SM_FAULT_PR_OUT, .kind = SM_FAULT_ERRNO, .err = EIO, .path = "nvme"};
	sm_fault_add(&eio);
	assert_int_equal(sm_pr_register(s, KEY_A, KEY_B, false), 0);
	assert_int_equal(sm_pr_register(n, KEY_A, KEY_B, false), -EIO);
	sm_pr_close(s);
	sm_pr_close(n);
}

/* Installing either layer again, in any order, must not make a wrapper call
 * itself. */
static void installing_twice_keeps_one_chain(void **state)
{
	int lu = add_lu("sdb", NULL);
	sm_fault_install();
	prsim_install();
	struct sm_fault_rule conflict = {.op = SM_FAULT_PR_OUT, .kind = SM_FAULT_SCSI_STATUS,
					 .status = SM_SCSI_RESERVATION_CONFLICT, .count = 1};
	sm_fault_add(&conflict);
	prsim_install();
	struct sm_pr_dev *a = open_as("hostA", "sdb");
	assert_int_equal(sm_pr_register(a, 0, KEY_A, false), -SM_ERESERVATION_CONFLICT);
	assert_int_equal(sm_pr_register(a, 0, KEY_A, false), 0);
	assert_int_equal(prsim_key_of(lu, "hostA"), KEY_A);
	sm_pr_close(a);

	/* the emulator on top of the fault wrappers (rules then never see the
	 * emulated LUs' commands) */
	tu_reset_faults();
	prsim_reset();
	lu = add_lu("sdc", NULL);
	sm_fault_install();
	prsim_install();
	sm_fault_add(&conflict);
	sm_fault_install();
	a = open_as("hostA", "sdc");
	assert_int_equal(sm_pr_register(a, 0, KEY_B, false), 0);
	assert_int_equal(prsim_key_of(lu, "hostA"), KEY_B);
	assert_int_equal(sm_fault_hits(), 0);
	sm_pr_close(a);
}

static void fault_rules_from_the_environment_file(void **state)
{
	add_lu("sdb", NULL);
	put_str("faults", "# PR faults\nprout abort-unsupported\nprin ua sdb\nprout conflict nomatch\n");
	setenv("SYNC_MANAGER_TEST_FAULTS", at("faults"), 1);
	assert_true(sm_fault_from_env());
	struct sm_pr_dev *s = open_as("hostA", "sdb"); /* opened after: the rules see its path */
	assert_int_equal(sm_pr_register(s, 0, KEY_A, false), 0);
	assert_int_equal(sm_pr_preempt(s, KEY_A, KEY_A, SM_PR_WE_REGISTRANTS_ONLY, true), -SM_EPR_UNSUPPORTED);
	unsigned hits = sm_fault_hits();
	assert_int_equal(sm_pr_read_keys(s, NULL, 0, NULL), 1); /* one UA, retried */
	assert_int_equal(sm_fault_hits(), hits + 1);
	assert_int_equal(sm_pr_read_keys(s, NULL, 0, NULL), 1);
	assert_int_equal(sm_fault_hits(), hits + 1);
	/* a new file: conflicts for this path */
	put_str("faults", "prout conflict sdb\n");
	/* a distinct mtime, however coarse the filesystem's clock */
	struct timespec t[2] = {{0, UTIME_NOW}, {time(NULL) + 5, 0}};
	utimensat(AT_FDCWD, at("faults"), t, 0);
	assert_int_equal(sm_pr_register(s, KEY_A, KEY_B, false), -SM_ERESERVATION_CONFLICT);
	unlink(at("faults"));
	assert_int_equal(sm_pr_register(s, KEY_A, KEY_B, false), 0);
	unsetenv("SYNC_MANAGER_TEST_FAULTS");
	sm_pr_close(s);
}

static void regular_file_is_refused(void **state)
{
	const char *p = tu_temp_file("prfile", 4096);
	struct sm_pr_dev *d = (struct sm_pr_dev *)1;
	assert_int_equal(sm_pr_open(p, 1000, &d), -SM_EPR_UNSUPPORTED);
	assert_null(d);
	assert_int_equal(sm_pr_open(at("dev/missing"), 1000, &d), -ENOENT);
	assert_string_equal(sm_pr_type_name(SM_PR_WE_REGISTRANTS_ONLY), "WE-RO");
	assert_string_equal(sm_pr_type_name(SM_PR_EA_ALL_REGISTRANTS), "EA-AR");
}

/* ---- identity ---- */

#define PCI "sys/devices/pci0000:00/host0"

/* sdb and sdc: two paths to one LUN; dm-0 their multipath map; sdb1 a
 * partition; nvme0n1; dm-1 an LVM volume; sdd without any identity; sde with
 * only a VPD page in sysfs. */
static void build_sysfs(bool with_map)
{
	static const char *disks[] = {"sdb", "sdc", "sdd", "sde"};
	for (int i = 0; i < 4; i++) {
		char rel[128], target[128];
		snprintf(rel, sizeof(rel), PCI "/target0:0:%d/%s/device", i, disks[i]);
		mkdirs(rel);
		snprintf(rel, sizeof(rel), "sys/block/%s", disks[i]);
		snprintf(target, sizeof(target), "../devices/pci0000:00/host0/target0:0:%d/%s", i, disks[i]);
		link_to(rel, target);
		snprintf(rel, sizeof(rel), "sys/class/block/%s", disks[i]);
		snprintf(target, sizeof(target), "../../devices/pci0000:00/host0/target0:0:%d/%s", i, disks[i]);
		link_to(rel, target);
		snprintf(rel, sizeof(rel), "dev/%s", disks[i]);
		put_str(rel, "");
	}
	put_str(PCI "/target0:0:0/sdb/device/wwid", "naa.6001405aaaaaaaaaaaaaaaaaaaaaaa\n");
	put_str(PCI "/target0:0:1/sdc/device/wwid", "naa.6001405aaaaaaaaaaaaaaaaaaaaaaa\n");
	static const uint8_t vpd[] = {0x00, 0x83, 0x00, 0x1c,
				      /* T10 vendor id, ignored in favour of the NAA below */
				      0x02, 0x01, 0x00, 0x08, 'L', 'I', 'O', '-', 'O', 'R', 'G', ' ',
				      /* NAA, 8 bytes */
				      0x01, 0x03, 0x00, 0x08, 0x50, 0x01, 0x40, 0x5e, 0xee, 0xee, 0xee, 0x01};
	put(PCI "/target0:0:3/sde/device/vpd_pg83", vpd, sizeof(vpd));
	put_str(PCI "/target0:0:0/sdb/sdb1/partition", "1\n");
	link_to("sys/class/block/sdb1", "../../devices/pci0000:00/host0/target0:0:0/sdb/sdb1");
	put_str("dev/sdb1", "");
	link_to("dev/disk/by-id/wwn-0x6001405aaaa", "../../sdb");

	put_str("sys/devices/pci0000:00/nvme/nvme0/nvme0n1/wwid", "eui.0025388b91b1f2b3\n");
	link_to("sys/block/nvme0n1", "../devices/pci0000:00/nvme/nvme0/nvme0n1");
	link_to("sys/class/block/nvme0n1", "../../devices/pci0000:00/nvme/nvme0/nvme0n1");
	put_str("dev/nvme0n1", "");

	put_str("sys/devices/virtual/block/dm-1/dm/uuid", "LVM-abcdef\n");
	link_to("sys/devices/virtual/block/dm-1/slaves/sdd", "../../../../pci0000:00/host0/target0:0:2/sdd");
	link_to("sys/class/block/dm-1", "../../devices/virtual/block/dm-1");
	link_to("sys/block/dm-1", "../devices/virtual/block/dm-1");
	put_str("dev/dm-1", "");
	if (!with_map)
		return;
	put_str("sys/devices/virtual/block/dm-0/dm/uuid", "mpath-36001405aaaaaaaaaaaaaaaaaaaaaaa\n");
	link_to("sys/devices/virtual/block/dm-0/slaves/sdb", "../../../../pci0000:00/host0/target0:0:0/sdb");
	link_to("sys/devices/virtual/block/dm-0/slaves/sdc", "../../../../pci0000:00/host0/target0:0:1/sdc");
	/* a path whose name sorts before the map's */
	put_str("sys/devices/pci0000:00/host1/dasda/device/wwid", "naa.6001405aaaaaaaaaaaaaaaaaaaaaaa\n");
	link_to("sys/block/dasda", "../devices/pci0000:00/host1/dasda");
	link_to("sys/devices/virtual/block/dm-0/slaves/dasda", "../../../../pci0000:00/host1/dasda");
	link_to("sys/class/block/dm-0", "../../devices/virtual/block/dm-0");
	link_to("sys/block/dm-0", "../devices/virtual/block/dm-0");
	put_str("dev/dm-0", "");
}

static void identity_from_sysfs(void **state)
{
	build_sysfs(true);
	char id[128];
	assert_int_equal(sm_pr_identity(at("dev/sdb"), id, sizeof(id)), 0);
	assert_string_equal(id, "naa.6001405aaaaaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(sm_pr_identity(at("dev/sdb1"), id, sizeof(id)), 0);
	assert_string_equal(id, "naa.6001405aaaaaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(sm_pr_identity(at("dev/disk/by-id/wwn-0x6001405aaaa"), id, sizeof(id)), 0);
	assert_string_equal(id, "naa.6001405aaaaaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(sm_pr_identity(at("dev/dm-0"), id, sizeof(id)), 0);
	assert_string_equal(id, "naa.6001405aaaaaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(sm_pr_identity(at("dev/nvme0n1"), id, sizeof(id)), 0);
	assert_string_equal(id, "eui.0025388b91b1f2b3");
	assert_int_equal(sm_pr_identity(at("dev/sde"), id, sizeof(id)), 0);
	assert_string_equal(id, "naa.5001405eeeeeee01");
	assert_int_equal(sm_pr_identity(at("dev/sdd"), id, sizeof(id)), -SM_EFENCE_DEVICE);
	assert_int_equal(sm_pr_identity(at("dev/dm-1"), id, sizeof(id)), -SM_EFENCE_DEVICE);
	assert_int_equal(sm_pr_identity(at("dev/nothere"), id, sizeof(id)), -SM_EFENCE_DEVICE);
}

static void identity_from_vpd_through_sg_io(void **state)
{
	build_sysfs(false);
	/* sdd has no wwid in sysfs; the LUN answers INQUIRY VPD 0x83 */
	struct prsim_lu_opts o = {.naa = "6001405DDDDDDDDDDDDDDDDDDDDDDDDD"};
	add_lu("sdd", &o);
	char id[128], path[PATH_MAX];
	assert_int_equal(sm_pr_identity(at("dev/sdd"), id, sizeof(id)), 0);
	assert_string_equal(id, "naa.6001405ddddddddddddddddddddddddd");
	assert_int_equal(sm_pr_find_device("naa.6001405ddddddddddddddddddddddddd", path, sizeof(path)), 0);
	assert_string_equal(path, at("dev/sdd"));
}

/* Which LUs the data of a disk path lands on: the plugin checks a guest's
 * disks against a lockspace's fence devices with this. */
static void lus_of_disks_files_and_stacked_devices(void **state)
{
	build_sysfs(true);
	char ids[4][SM_PR_ID_MAX];
	assert_int_equal(sm_pr_lus_of(at("dev/sdb1"), ids, 4), 1);
	assert_string_equal(ids[0], "naa.6001405aaaaaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(sm_pr_lus_of(at("dev/dm-0"), ids, 4), 1);
	assert_string_equal(ids[0], "naa.6001405aaaaaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(sm_pr_lus_of(at("dev/nvme0n1"), ids, 4), 1);
	assert_string_equal(ids[0], "eui.0025388b91b1f2b3");
	/* LVM over a disk without identity: refused */
	assert_int_equal(sm_pr_lus_of(at("dev/dm-1"), ids, 4), -SM_EFENCE_DEVICE);
	/* an LVM volume spanning the multipath map and the NVMe namespace */
	put_str("sys/devices/virtual/block/dm-2/dm/uuid", "LVM-spanning\n");
	link_to("sys/devices/virtual/block/dm-2/slaves/dm-0", "../../dm-0");
	link_to("sys/devices/virtual/block/dm-2/slaves/nvme0n1", "../../../../pci0000:00/nvme/nvme0/nvme0n1");
	link_to("sys/class/block/dm-2", "../../devices/virtual/block/dm-2");
	put_str("dev/dm-2", "");
	int n = sm_pr_lus_of(at("dev/dm-2"), ids, 4);
	assert_int_equal(n, 2);
	assert_true((strcmp(ids[0], "naa.6001405aaaaaaaaaaaaaaaaaaaaaaa") == 0 && strcmp(ids[1], "eui.0025388b91b1f2b3") == 0) ||
		    (strcmp(ids[1], "naa.6001405aaaaaaaaaaaaaaaaaaaaaaa") == 0 && strcmp(ids[0], "eui.0025388b91b1f2b3") == 0));
	/* a file: the LUs of the device holding its file system (here: say sdb1) */
	put_str("images/guest.qcow2", "x");
	struct stat st;
	assert_int_equal(stat(at("images/guest.qcow2"), &st), 0);
	char rel[64];
	snprintf(rel, sizeof(rel), "sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
	link_to(rel, "../../devices/pci0000:00/host0/target0:0:0/sdb/sdb1");
	assert_int_equal(sm_pr_lus_of(at("images/guest.qcow2"), ids, 4), 1);
	assert_string_equal(ids[0], "naa.6001405aaaaaaaaaaaaaaaaaaaaaaa");
	/* too many for the room given */
	assert_int_equal(sm_pr_lus_of(at("dev/dm-2"), ids, 1), -SM_EFENCE_DEVICE);
}

static void find_device_prefers_the_multipath_map(void **state)
{
	build_sysfs(true);
	char path[PATH_MAX];
	assert_int_equal(sm_pr_find_device("naa.6001405aaaaaaaaaaaaaaaaaaaaaaa", path, sizeof(path)), 0);
	assert_string_equal(path, at("dev/dm-0"));
	assert_int_equal(sm_pr_find_device("eui.0025388b91b1f2b3", path, sizeof(path)), 0);
	assert_string_equal(path, at("dev/nvme0n1"));
	assert_int_equal(sm_pr_find_device("naa.5001405eeeeeee01", path, sizeof(path)), 0);
	assert_string_equal(path, at("dev/sde"));
	assert_int_equal(sm_pr_find_device("naa.60014050000000000000000000000000", path, sizeof(path)),
			 -SM_EFENCE_DEVICE);
}

static void find_device_without_a_map_takes_the_first_path(void **state)
{
	build_sysfs(false);
	char path[PATH_MAX];
	assert_int_equal(sm_pr_find_device("naa.6001405aaaaaaaaaaaaaaaaaaaaaaa", path, sizeof(path)), 0);
	assert_string_equal(path, at("dev/sdb"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(register_reserve_and_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(register_checks_the_old_key_unless_told_to_ignore_it, setup, teardown),
		cmocka_unit_test_setup_teardown(preempt_takes_the_reservation_and_fences_the_victims_writes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(preempted_host_gets_one_unit_attention_and_retries, setup, teardown),
		cmocka_unit_test_setup_teardown(clear_removes_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(target_restart_unit_attention_is_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(preempt_and_abort_unsupported_by_the_target, setup, teardown),
		cmocka_unit_test_setup_teardown(nvme_uses_the_ioctls_and_cannot_read_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(conflict_through_the_ioctls_in_every_convention, setup, teardown),
		cmocka_unit_test_setup_teardown(dm_map_sends_pr_out_through_the_ioctls_and_pr_in_through_sg, setup,
						teardown),
		cmocka_unit_test_setup_teardown(bare_check_condition_from_the_ioctl_is_retried_once, setup, teardown),
		cmocka_unit_test_setup_teardown(fault_rules_fail_pr_commands_on_both_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(installing_twice_keeps_one_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(regular_file_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(identity_from_sysfs, setup, teardown),
		cmocka_unit_test_setup_teardown(identity_from_vpd_through_sg_io, setup, teardown),
		cmocka_unit_test_setup_teardown(find_device_prefers_the_multipath_map, setup, teardown),
		cmocka_unit_test_setup_teardown(find_device_without_a_map_takes_the_first_path, setup, teardown),
		cmocka_unit_test_setup_teardown(lus_of_disks_files_and_stacked_devices, setup, teardown),
		/* last: it leaves SYNC_MANAGER_TEST_FAULTS' file watcher installed */
		cmocka_unit_test_setup_teardown(fault_rules_from_the_environment_file, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
