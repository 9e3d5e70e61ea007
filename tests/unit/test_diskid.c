/* Disk lease names of the libvirt plugin (src/libvirt/diskid.c): named after
 * the storage, the same on every host.  The kernel's view of block devices
 * is built here as small sysfs-shaped trees (the files and symlinks of
 * /sys/dev/block/MAJ:MIN that diskid reads), one per case, so that each
 * rule of the documented order is checked: partitions, device-mapper
 * (multipath maps named like their paths, kpartx partitions, LVM, others
 * refused), loop devices (named like their backing file), WWN, VPD 0x83,
 * serial numbers, and no identity at all (refused).  Files use the real
 * file system: lexical normalisation without resolving symlinks. */
#include "testutil.h"

#include "libvirt/diskid.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[PATH_MAX];
static char err[1024];

/* ---- a fake sysfs --------------------------------------------------------------- */

static void mkdirs(const char *path)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	mkdir(tmp, 0755);
}

/* root/dev/REL (its directories made), holding text. */
static void put(const char *rel, const char *text, size_t len)
{
	char path[PATH_MAX], dir[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	mkdirs(dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}
#define PUT(rel, text) put(rel, text, strlen(text))

static void link_to(const char *target_rel, const char *rel)
{
	char target[PATH_MAX], path[PATH_MAX], dir[PATH_MAX];
	snprintf(target, sizeof(target), "%s/%s", root, target_rel);
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	mkdirs(dir);
	mkdirs(target);
	assert_int_equal(symlink(target, path), 0);
}

static const char *dev(const char *rel)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return path;
}

/* The lease name of the fake device rel; asserts that it has one. */
static const char *name_of(const char *rel, struct diskid *id)
{
	static char name[DISKID_NAME_MAX];
	if (diskid_from_sysfs(dev(rel), id, err, sizeof(err)) != 0)
		fail_msg("%s: %s", rel, err);
	diskid_lease_name(id, name);
	return name;
}

static void assert_no_identity(const char *rel, const char *why)
{
	struct diskid id;
	assert_int_equal(diskid_from_sysfs(dev(rel), &id, err, sizeof(err)), -1);
	if (!strstr(err, why))
		fail_msg("'%s' not in: %s", why, err);
}

static int setup(void **state)
{
	(void)state;
	const char *base = getenv("SM_TEST_TMPDIR");
	mkdirs(base && *base ? base : "/tmp");
	snprintf(root, sizeof(root), "%s/diskid.XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* ---- lexical normalisation -------------------------------------------------------- */

static void normalize_collapses_lexically(void **state)
{
	(void)state;
	static const char *const cases[][2] = {
		{"/", "/"},
		{"/a/b", "/a/b"},
		{"//a//b//", "/a/b"},
		{"/a/./b/.", "/a/b"},
		{"/a/b/../c", "/a/c"},
		{"/a/b/../../../c", "/c"},
		{"/..", "/"},
		{"/var/lib/libvirt/images/../images/./g.qcow2", "/var/lib/libvirt/images/g.qcow2"},
		{"/a/..b/.c", "/a/..b/.c"},
	};
	char out[PATH_MAX];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(diskid_normalize(cases[i][0], out, sizeof(out)), 0);
		assert_string_equal(out, cases[i][1]);
	}
	assert_int_equal(diskid_normalize("images/g.qcow2", out, sizeof(out)), -1);
	assert_int_equal(diskid_normalize("", out, sizeof(out)), -1);
	assert_int_equal(diskid_normalize("/a/bcdef", out, 5), -1);
}

/* ---- block devices ------------------------------------------------------------------- */

static void scsi_disk_is_named_by_its_wwid(void **state)
{
	(void)state;
	PUT("devices/sdb/device/wwid", "naa.600a0b80001234560000abcd00000001\n");
	put("devices/sdb/device/vpd_pg83", "\x00\x83\x00\x10", 4); /* the wwid wins */
	struct diskid id;
	const char *n = name_of("devices/sdb", &id);
	assert_string_equal(id.kind, "wwid");
	assert_string_equal(id.text, "wwid:naa.600a0b80001234560000abcd00000001");
	assert_memory_equal(n, "disk-wwid-", 10);
	assert_int_equal(strlen(n), 10 + 16);
	/* the same LUN on another host, under another kernel name: same lease */
	PUT("devices/sdc/device/wwid", "naa.600a0b80001234560000abcd00000001");
	char first[DISKID_NAME_MAX];
	snprintf(first, sizeof(first), "%s", n);
	assert_string_equal(name_of("devices/sdc", &id), first);
	/* another LUN: another lease */
	PUT("devices/sdd/device/wwid", "naa.600a0b80001234560000abcd00000002");
	assert_string_not_equal(name_of("devices/sdd", &id), first);
}

static void nvme_namespace_is_named_by_its_wwid(void **state)
{
	(void)state;
	PUT("devices/nvme0n1/wwid", "eui.0025388b71b12345\n");
	PUT("devices/nvme0n1/device/serial", "S4EWNX0R123456"); /* the controller's: not used */
	struct diskid id;
	name_of("devices/nvme0n1", &id);
	assert_string_equal(id.text, "wwid:eui.0025388b71b12345");
}

static void partitions_are_their_disk_plus_the_number(void **state)
{
	(void)state;
	PUT("devices/sde/device/wwid", "naa.5000c500a1b2c3d4");
	PUT("devices/sde/sde1/partition", "1\n");
	PUT("devices/sde/sde2/partition", "2\n");
	struct diskid id;
	name_of("devices/sde/sde2", &id);
	assert_string_equal(id.kind, "wwid");
	assert_string_equal(id.text, "wwid:naa.5000c500a1b2c3d4:part2");
	char p1[DISKID_NAME_MAX], whole[DISKID_NAME_MAX];
	snprintf(p1, sizeof(p1), "%s", name_of("devices/sde/sde1", &id));
	snprintf(whole, sizeof(whole), "%s", name_of("devices/sde", &id));
	assert_string_not_equal(p1, whole);
}

/* /dev/mapper/mpatha on one host, /dev/disk/by-id/wwn-... -> /dev/sdX on
 * another: one lease. */
static void multipath_map_is_named_like_its_paths(void **state)
{
	(void)state;
	PUT("devices/sdf/device/wwid", "naa.600140512345678901234567890abcde");
	PUT("devices/sdg/device/wwid", "naa.600140512345678901234567890abcde");
	PUT("devices/dm-0/dm/uuid", "mpath-3600140512345678901234567890abcde\n");
	PUT("devices/dm-0/dm/name", "mpatha");
	link_to("devices/sdf", "devices/dm-0/slaves/sdf");
	link_to("devices/sdg", "devices/dm-0/slaves/sdg");
	struct diskid id;
	char map[DISKID_NAME_MAX];
	snprintf(map, sizeof(map), "%s", name_of("devices/dm-0", &id));
	assert_string_equal(id.text, "wwid:naa.600140512345678901234567890abcde");
	assert_string_equal(name_of("devices/sdf", &id), map);
	/* a kpartx partition of the map, and the same partition through a path */
	PUT("devices/dm-1/dm/uuid", "part1-mpath-3600140512345678901234567890abcde");
	link_to("devices/dm-0", "devices/dm-1/slaves/dm-0");
	PUT("devices/sdf/sdf1/partition", "1");
	char part[DISKID_NAME_MAX];
	snprintf(part, sizeof(part), "%s", name_of("devices/dm-1", &id));
	assert_string_equal(id.text, "wwid:naa.600140512345678901234567890abcde:part1");
	assert_string_equal(name_of("devices/sdf/sdf1", &id), part);
}

static void multipath_map_over_different_luns_is_refused(void **state)
{
	(void)state;
	PUT("devices/sdh/device/wwid", "naa.6001");
	PUT("devices/sdi/device/wwid", "naa.6002");
	PUT("devices/dm-2/dm/uuid", "mpath-36001");
	link_to("devices/sdh", "devices/dm-2/slaves/sdh");
	link_to("devices/sdi", "devices/dm-2/slaves/sdi");
	assert_no_identity("devices/dm-2", "the devices below it have different identities");
	PUT("devices/dm-3/dm/uuid", "mpath-36003");
	mkdirs(dev("devices/dm-3/slaves"));
	assert_no_identity("devices/dm-3", "it has no devices below it");
}

static void lvm_volume_is_named_by_its_dm_uuid(void **state)
{
	(void)state;
	PUT("devices/dm-4/dm/uuid", "LVM-Xq1x2x3x4x5x6x7x8x9x0xAxBxCxDxExFxGxHxIxJxKxLxMxNxOxPxQxRxSxTxU\n");
	struct diskid id;
	name_of("devices/dm-4", &id);
	assert_string_equal(id.kind, "dm");
	assert_string_equal(id.text, "dm:LVM-Xq1x2x3x4x5x6x7x8x9x0xAxBxCxDxExFxGxHxIxJxKxLxMxNxOxPxQxRxSxTxU");
}

static void other_device_mapper_targets_are_refused(void **state)
{
	(void)state;
	/* dm-crypt's uuid ends in the mapping's local name */
	PUT("devices/dm-5/dm/uuid", "CRYPT-LUKS2-0b5c2f1e8a9d4c3b-luks-0b5c");
	assert_no_identity("devices/dm-5", "neither a multipath map, a partition of one, nor an LVM volume");
	PUT("devices/dm-6/dm/uuid", "");
	PUT("devices/dm-6/dm/name", "mydev");
	assert_no_identity("devices/dm-6", "device-mapper device without a uuid (mydev)");
}

/* The case: two loop devices over one file on two hosts. */
static void loop_devices_are_named_like_their_backing_file(void **state)
{
	(void)state;
	const char *file = tu_temp_file("backing", 4096);
	char text[PATH_MAX + 2];
	snprintf(text, sizeof(text), "%s\n", file);
	PUT("devices/loop3/loop/backing_file", text);
	PUT("devices/loop3/loop/offset", "0");
	PUT("devices/loop4/loop/backing_file", text);
	struct diskid id, fid;
	char l3[DISKID_NAME_MAX];
	snprintf(l3, sizeof(l3), "%s", name_of("devices/loop3", &id));
	assert_string_equal(id.kind, "file");
	assert_string_equal(name_of("devices/loop4", &id), l3);
	/* and the file itself, used as a file disk */
	assert_int_equal(diskid_of_path(file, false, &fid, err, sizeof(err)), 0);
	char fname[DISKID_NAME_MAX];
	diskid_lease_name(&fid, fname);
	assert_string_equal(fname, l3);
	/* a partition of the loop device */
	PUT("devices/loop4/loop4p1/partition", "1");
	name_of("devices/loop4/loop4p1", &id);
	assert_string_equal(id.text + strlen(id.text) - 6, ":part1");
	/* over a deleted file: no identity */
	PUT("devices/loop5/loop/backing_file", "/var/lib/images/old.img (deleted)\n");
	assert_no_identity("devices/loop5", "it is a loop device over a deleted file (/var/lib/images/old.img (deleted))");
}

static void vpd83_then_serials(void **state)
{
	(void)state;
	static const char vpd[] = "\x00\x83\x00\x0c\x01\x03\x00\x08\x60\x01\x40\x5a\x5b\x5c\x5d\x5e";
	put("devices/sdj/device/vpd_pg83", vpd, sizeof(vpd) - 1);
	struct diskid id;
	name_of("devices/sdj", &id);
	assert_string_equal(id.text, "vpd83:0083000c010300086001405a5b5c5d5e");
	PUT("devices/vdb/serial", "  data-disk-7  \n");
	name_of("devices/vdb", &id);
	assert_string_equal(id.kind, "serial");
	assert_string_equal(id.text, "serial:data-disk-7");
	static const char pg80[] = "\x00\x80\x00\x04WXYZ";
	put("devices/sdk/device/vpd_pg80", pg80, sizeof(pg80) - 1);
	PUT("devices/sdk/device/vendor", "ACME    \n");
	PUT("devices/sdk/device/model", "Disk 3000       \n");
	name_of("devices/sdk", &id);
	assert_string_equal(id.text, "serial:ACME/Disk 3000/008000045758595a");
}

static void no_identity_is_refused(void **state)
{
	(void)state;
	mkdirs(dev("devices/sdl/device"));
	PUT("devices/sdl/size", "2048");
	PUT("devices/sdl/serial", " \n"); /* blank */
	put("devices/sdl/device/vpd_pg83", "\0\0\0\0", 4); /* all zero */
	assert_no_identity("devices/sdl", "the kernel shows no stable identity for it");
	if (!strstr(err, dev("devices/sdl")))
		fail_msg("the sysfs directory is not named: %s", err);
}

/* ---- diskid_of_path --------------------------------------------------------------------- */

static void files_are_named_by_their_path_without_resolving_symlinks(void **state)
{
	(void)state;
	char img[PATH_MAX], odd[PATH_MAX + 32], lnk[PATH_MAX + 8];
	snprintf(img, sizeof(img), "%s", tu_temp_file("image", 4096));
	char *slash = strrchr(img, '/');
	*slash = '\0';
	snprintf(odd, sizeof(odd), "%s/.//%s", img, slash + 1); /* DIR/.//NAME */
	*slash = '/';
	struct diskid a, b;
	char na[DISKID_NAME_MAX], nb[DISKID_NAME_MAX];
	assert_int_equal(diskid_of_path(img, false, &a, err, sizeof(err)), 0);
	assert_int_equal(diskid_of_path(odd, false, &b, err, sizeof(err)), 0);
	diskid_lease_name(&a, na);
	diskid_lease_name(&b, nb);
	assert_string_equal(na, nb);
	assert_memory_equal(na, "disk-file-", 10);
	/* a symlink is another path: not resolved (every host must use the same path) */
	snprintf(lnk, sizeof(lnk), "%s.lnk", img);
	assert_int_equal(symlink(img, lnk), 0);
	assert_int_equal(diskid_of_path(lnk, false, &b, err, sizeof(err)), 0);
	diskid_lease_name(&b, nb);
	assert_string_not_equal(na, nb);
	unlink(lnk);
	/* the legacy name is the hash of the resolved path: the pre-identity name */
	char la[DISKID_NAME_MAX], lb[DISKID_NAME_MAX];
	diskid_legacy_name(img, la);
	diskid_legacy_name(odd, lb);
	assert_string_equal(la, lb);
	assert_int_equal(strlen(la), 5 + 16);
	/* exactly what earlier versions named it: "disk-" + FNV-1a 64 of the resolved path */
	diskid_legacy_name("/", la);
	assert_string_equal(la, "disk-af63a24c860189fe");
}

static void other_paths_are_refused(void **state)
{
	(void)state;
	struct diskid id;
	assert_int_equal(diskid_of_path("/dev/null", false, &id, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "it is neither a regular file, a directory nor a block device");
	assert_int_equal(diskid_of_path("/nonexistent/disk.img", false, &id, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "cannot look at it: No such file or directory");
	assert_int_equal(diskid_of_path("relative.img", true, &id, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(normalize_collapses_lexically),
		cmocka_unit_test(scsi_disk_is_named_by_its_wwid),
		cmocka_unit_test(nvme_namespace_is_named_by_its_wwid),
		cmocka_unit_test(partitions_are_their_disk_plus_the_number),
		cmocka_unit_test(multipath_map_is_named_like_its_paths),
		cmocka_unit_test(multipath_map_over_different_luns_is_refused),
		cmocka_unit_test(lvm_volume_is_named_by_its_dm_uuid),
		cmocka_unit_test(other_device_mapper_targets_are_refused),
		cmocka_unit_test(loop_devices_are_named_like_their_backing_file),
		cmocka_unit_test(vpd83_then_serials),
		cmocka_unit_test(no_identity_is_refused),
		cmocka_unit_test(files_are_named_by_their_path_without_resolving_symlinks),
		cmocka_unit_test(other_paths_are_refused),
	};
	int failed = cmocka_run_group_tests(tests, setup, teardown);
	tu_cleanup_files();
	return failed;
}
