/* The lease name of a disk: named after the storage's identity, so that
 * every host that reaches the same storage names the same lease, however
 * its local paths resolve (qemu-sync_manager.conf(5), "Disk lease names").
 *
 *  - regular file or directory: the path as libvirt gives it, normalised
 *    lexically (no symlinks resolved; every host must use the same path);
 *  - block device, first that applies (SYSDIR = /sys/dev/block/MAJ:MIN):
 *     1. a partition: its disk's identity + ":partN";
 *     2. device-mapper (SYSDIR/dm/uuid): a multipath map ("mpath-...") is
 *        named like its paths (their common identity), a kpartx partition
 *        ("partN-...") like its map + ":partN", an LVM volume ("LVM-...")
 *        by its dm UUID; any other dm target has no stable identity;
 *     3. a loop device: its backing file, named like that file (the path
 *        the kernel reports in SYSDIR/loop/backing_file);
 *     4. the WWN: SYSDIR/wwid (NVMe namespaces), SYSDIR/device/wwid (SCSI);
 *     5. SCSI VPD page 0x83 (SYSDIR/device/vpd_pg83);
 *     6. a serial number: SYSDIR/serial (virtio-blk), or SCSI VPD page 0x80
 *        with the vendor and model;
 *    and none of these: no identity (the caller fails closed, or uses the
 *    lexically normalised path when the admin chose that fallback).
 * Names are "disk-KIND-HASH", KIND one of file, dm, wwid, vpd83, serial,
 * path; HASH the 64-bit FNV-1a of the identity text, in hex. */
#ifndef SM_LIBVIRT_DISKID_H
#define SM_LIBVIRT_DISKID_H

#include <stdbool.h>
#include <stddef.h>

#define DISKID_NAME_MAX 48
#define DISKID_TEXT_MAX 4200

struct diskid {
	const char *kind;            /* "file", "dm", "wwid", "vpd83", "serial", "path" */
	char text[DISKID_TEXT_MAX];  /* the identity, e.g. "wwid:naa.600a0b8000..." */
};

/* Absolute path in, lexically normalised path out: "//" and "/./" collapse,
 * "x/.." goes, no trailing '/'; symlinks are not looked at.  0, or -1 if
 * the path is not absolute or does not fit. */
int diskid_normalize(const char *path, char *out, size_t outlen);

/* The identity of the block device whose sysfs directory is sysdir
 * ("/sys/dev/block/MAJ:MIN"; any directory of that shape).  0, or -1 with
 * why in err (no identity found, or an inconsistent one). */
int diskid_from_sysfs(const char *sysdir, struct diskid *id, char *err, size_t errlen);

/* The identity of the disk libvirt names path (see above); path_fallback
 * lets a block device without identity be named by its normalised path.
 * 0, or with why in err: -ENODATA for a block device without identity,
 * another negative errno for anything else (missing, not absolute, a
 * character device...). */
int diskid_of_path(const char *path, bool path_fallback, struct diskid *id, char *err, size_t errlen);

/* "disk-KIND-HASH" for an identity. */
void diskid_lease_name(const struct diskid *id, char out[DISKID_NAME_MAX]);

/* The name pre-identity plugins used: "disk-" + hash of realpath(path) (per
 * host: kept only for the legacy_disk_names transition). */
void diskid_legacy_name(const char *path, char out[DISKID_NAME_MAX]);

#endif
