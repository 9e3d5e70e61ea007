#include "diskid.h"

#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* dm maps nest (a kpartx partition over a multipath map over paths): a
 * bound on the depth, against loops in a damaged sysfs. */
#define MAX_DEPTH 4

int diskid_normalize(const char *path, char *out, size_t outlen)
{
	if (!path || path[0] != '/' || outlen < 2)
		return -1;
	size_t n = 0;
	out[n++] = '/';
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		size_t len = strcspn(p, "/");
		if (len == 0)
			break;
		if (len == 1 && p[0] == '.') {
			/* nothing */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 1 && out[n - 1] != '/')
				n--; /* drop the last component ... */
			if (n > 1)
				n--; /* ... and its '/' */
		} else {
			if (n + (n > 1) + len + 1 > outlen)
				return -1;
			if (n > 1)
				out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		}
		p += len;
	}
	out[n] = '\0';
	return 0;
}

/* Read sysdir/rel: up to size-1 bytes, NUL-terminated.  Returns the length
 * (0 when missing or unreadable). */
static size_t read_raw(const char *sysdir, const char *rel, char *buf, size_t size)
{
	char path[PATH_MAX];
	buf[0] = '\0';
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", sysdir, rel) >= sizeof(path))
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return (size_t)n;
}

/* A text attribute without surrounding white space; 0 when missing/empty. */
static size_t read_text(const char *sysdir, const char *rel, char *buf, size_t size)
{
	size_t n = read_raw(sysdir, rel, buf, size);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\t' || buf[n - 1] == '\0'))
		buf[--n] = '\0';
	size_t lead = strspn(buf, " \t");
	memmove(buf, buf + lead, n - lead + 1);
	return n - lead;
}

/* A binary attribute (VPD pages) as hex; 0 when missing or all zero. */
static size_t read_hex(const char *sysdir, const char *rel, char *out, size_t outsize)
{
	unsigned char raw[1024];
	size_t n = read_raw(sysdir, rel, (char *)raw, sizeof(raw));
	bool any = false;
	size_t k = 0;
	for (size_t i = 0; i < n && k + 3 <= outsize; i++) {
		any |= raw[i] != 0;
		k += (size_t)snprintf(out + k, outsize - k, "%02x", raw[i]);
	}
	out[k] = '\0';
	return any ? k : 0;
}

/* id = KIND ":" A [ "/" B ]. */
static int set_id(struct diskid *id, const char *kind, const char *a, const char *b, char *err, size_t errlen)
{
	id->kind = kind;
	if ((size_t)snprintf(id->text, sizeof(id->text), "%s:%s%s%s", kind, a, b ? "/" : "", b ? b : "") >=
	    sizeof(id->text)) {
		snprintf(err, errlen, "its %s identity is too long", kind);
		return -1;
	}
	return 0;
}

static int from_sysfs(const char *sysdir, struct diskid *id, int depth, char *err, size_t errlen);

/* The common identity of the devices below a dm map (sysdir/slaves/...):
 * a multipath map is the same storage as each of its paths. */
static int from_slaves(const char *sysdir, struct diskid *id, int depth, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/slaves", sysdir);
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "cannot list %s: %s", dir, strerror(errno));
		return -1;
	}
	int found = 0, rc = 0;
	struct diskid *one = malloc(sizeof(*one));
	if (!one) {
		closedir(d);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	struct dirent *e;
	while (rc == 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char sub[PATH_MAX];
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) >= sizeof(sub))
			continue;
		rc = from_sysfs(sub, found ? one : id, depth + 1, err, errlen);
		if (rc == 0 && found++ && (strcmp(one->text, id->text) != 0 || strcmp(one->kind, id->kind) != 0)) {
			snprintf(err, errlen, "the devices below it have different identities (%s, %s)", id->text,
				 one->text);
			rc = -1;
		}
	}
	closedir(d);
	free(one);
	if (rc == 0 && !found) {
		snprintf(err, errlen, "it has no devices below it (%s is empty)", dir);
		rc = -1;
	}
	return rc;
}

/* device-mapper: by the rule for its UUID's prefix (see diskid.h). */
static int from_dm(const char *sysdir, const char *uuid, struct diskid *id, int depth, char *err, size_t errlen)
{
	if (!strncmp(uuid, "mpath-", 6))
		return from_slaves(sysdir, id, depth, err, errlen);
	unsigned part;
	int used = 0;
	if (sscanf(uuid, "part%u-%n", &part, &used) == 1 && used > 0) {
		if (from_slaves(sysdir, id, depth, err, errlen) < 0)
			return -1;
		size_t n = strlen(id->text);
		if ((size_t)snprintf(id->text + n, sizeof(id->text) - n, ":part%u", part) >= sizeof(id->text) - n) {
			snprintf(err, errlen, "its identity is too long");
			return -1;
		}
		return 0;
	}
	if (!strncmp(uuid, "LVM-", 4))
		return set_id(id, "dm", uuid, NULL, err, errlen);
	snprintf(err, errlen, "it is a device-mapper device (uuid '%s') that is neither a multipath map, a "
		 "partition of one, nor an LVM volume: its uuid may differ between hosts", uuid);
	return -1;
}

/* A loop device: its backing file's path, normalised like a file disk's. */
static int from_loop(const char *backing, struct diskid *id, char *err, size_t errlen)
{
	static const char deleted[] = " (deleted)";
	size_t n = strlen(backing), dl = sizeof(deleted) - 1;
	char norm[PATH_MAX];
	if (n > dl && !strcmp(backing + n - dl, deleted)) {
		snprintf(err, errlen, "it is a loop device over a deleted file (%s)", backing);
		return -1;
	}
	if (diskid_normalize(backing, norm, sizeof(norm)) < 0) {
		snprintf(err, errlen, "it is a loop device whose backing file '%s' is no absolute path", backing);
		return -1;
	}
	return set_id(id, "file", norm, NULL, err, errlen);
}

static int from_sysfs(const char *sysdir, struct diskid *id, int depth, char *err, size_t errlen)
{
	char a[DISKID_TEXT_MAX / 2], b[512], c[512];
	if (depth > MAX_DEPTH) {
		snprintf(err, errlen, "its devices nest deeper than %d levels", MAX_DEPTH);
		return -1;
	}
	if (read_text(sysdir, "partition", a, sizeof(a))) {
		char parent[PATH_MAX];
		snprintf(parent, sizeof(parent), "%s/..", sysdir);
		if (from_sysfs(parent, id, depth + 1, err, errlen) < 0)
			return -1;
		size_t n = strlen(id->text);
		if ((size_t)snprintf(id->text + n, sizeof(id->text) - n, ":part%s", a) >= sizeof(id->text) - n) {
			snprintf(err, errlen, "its identity is too long");
			return -1;
		}
		return 0;
	}
	if (read_text(sysdir, "dm/uuid", a, sizeof(a)))
		return from_dm(sysdir, a, id, depth, err, errlen);
	if (read_text(sysdir, "dm/name", a, sizeof(a))) {
		snprintf(err, errlen, "it is a device-mapper device without a uuid (%s)", a);
		return -1;
	}
	if (read_text(sysdir, "loop/backing_file", a, sizeof(a)))
		return from_loop(a, id, err, errlen);
	if (read_text(sysdir, "wwid", a, sizeof(a)) || read_text(sysdir, "device/wwid", a, sizeof(a)))
		return set_id(id, "wwid", a, NULL, err, errlen);
	if (read_hex(sysdir, "device/vpd_pg83", a, sizeof(a)))
		return set_id(id, "vpd83", a, NULL, err, errlen);
	if (read_text(sysdir, "serial", a, sizeof(a)))
		return set_id(id, "serial", a, NULL, err, errlen);
	if (read_hex(sysdir, "device/vpd_pg80", a, sizeof(a))) {
		read_text(sysdir, "device/vendor", b, sizeof(b));
		read_text(sysdir, "device/model", c, sizeof(c));
		size_t n = strlen(b);
		snprintf(b + n, sizeof(b) - n, "/%s", c);
		return set_id(id, "serial", b, a, err, errlen);
	}
	snprintf(err, errlen, "the kernel shows no stable identity for it (no device-mapper uuid, loop backing "
		 "file, WWN, VPD page 0x83 or serial number below %s)", sysdir);
	return -1;
}

int diskid_from_sysfs(const char *sysdir, struct diskid *id, char *err, size_t errlen)
{
	return from_sysfs(sysdir, id, 0, err, errlen);
}

int diskid_of_path(const char *path, bool path_fallback, struct diskid *id, char *err, size_t errlen)
{
	char norm[PATH_MAX];
	struct stat st;
	if (diskid_normalize(path, norm, sizeof(norm)) < 0) {
		snprintf(err, errlen, "it is not an absolute path");
		return -EINVAL;
	}
	if (stat(path, &st) < 0) {
		int e = errno;
		snprintf(err, errlen, "cannot look at it: %s", strerror(e));
		return -e;
	}
	if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
		return set_id(id, "file", norm, NULL, err, errlen) < 0 ? -ENAMETOOLONG : 0;
	if (!S_ISBLK(st.st_mode)) {
		snprintf(err, errlen, "it is neither a regular file, a directory nor a block device");
		return -EINVAL;
	}
	char sysdir[64];
	snprintf(sysdir, sizeof(sysdir), "/sys/dev/block/%u:%u", major(st.st_rdev), minor(st.st_rdev));
	if (diskid_from_sysfs(sysdir, id, err, errlen) == 0)
		return 0;
	if (!path_fallback)
		return -ENODATA;
	return set_id(id, "path", norm, NULL, err, errlen) < 0 ? -ENAMETOOLONG : 0;
}

void diskid_lease_name(const struct diskid *id, char out[DISKID_NAME_MAX])
{
	uint64_t h = sm_fnv1a(SM_FNV1A_INIT, id->text, strlen(id->text));
	snprintf(out, DISKID_NAME_MAX, "disk-%s-%016llx", id->kind, (unsigned long long)h);
}

void diskid_legacy_name(const char *path, char out[DISKID_NAME_MAX])
{
	char real[PATH_MAX];
	const char *p = realpath(path, real) ? real : path;
	uint64_t h = sm_fnv1a(SM_FNV1A_INIT, p, strlen(p));
	snprintf(out, DISKID_NAME_MAX, "disk-%016llx", (unsigned long long)h);
}
