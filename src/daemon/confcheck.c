/* sync_managerd.conf: what a value means on this host, beyond its syntax.
 * A group that does not exist or a volume to join that is not there is an
 * error of its line, refused by the daemon and by --check-config alike. */
#include "daemon.h"


#include "common/config.h"
#include "disk/disk.h"
#include "ondisk/volume.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* One volume (PATH[:OFFSET]) to join: 0 if usable, else -errno with why. */
static int check_volume(const char *spec, bool read_header, char *why, size_t len)
{
	char *path = NULL;
	uint64_t off = 0;
	if (sm_disk_parse_location(spec, &path, &off) < 0) {
		snprintf(why, len, "'%s' is not PATH or PATH:OFFSET", spec);
		return -EINVAL;
	}
	struct stat st;
	int rc = 0;
	if (stat(path, &st) < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			snprintf(why, len, "volume %s does not exist: format one with 'sync_manager init %s --lockspace NAME', "
					   "or remove it from join", path, spec);
		else
			snprintf(why, len, "volume %s: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(why, len, "volume %s is neither a file nor a block device", path);
		rc = -EINVAL;
	} else if (read_header) {
		struct sm_volume *v = NULL;
		rc = sm_volume_open_spec(spec, SM_DISK_READONLY, &v);
		if (rc == -SM_ENOT_FORMATTED)
			snprintf(why, len, "%s is not a lease volume (%s): format it with 'sync_manager init %s "
					   "--lockspace NAME', or check the path and offset", spec, sm_strerror(rc), spec);
		else if (rc < 0)
			snprintf(why, len, "cannot read the volume header of %s: %s", spec, sm_strerror(rc));
		sm_volume_close(v);
	}
	free(path);
	return rc;
}

/* A volume, or a volume set A,B,C: the daemon runs a set on any two members,
 * so it refuses only a set with fewer; with read_header (--check-config)
 * every member must be there. */
static const char *check_join(const char *spec, bool read_header, char *buf, size_t len)
{
	if (!strchr(spec, ','))
		return check_volume(spec, read_header, buf, len) < 0 ? buf : NULL;
	char copy[SM_CONFIG_STR_MAX], first_why[256] = "";
	snprintf(copy, sizeof(copy), "%s", spec);
	int n = 0, bad = 0;
	char *save = NULL;
	for (char *m = strtok_r(copy, ",", &save); m; m = strtok_r(NULL, ",", &save), n++) {
		char why[256];
		if (check_volume(m, read_header, why, sizeof(why)) < 0 && bad++ == 0)
			snprintf(first_why, sizeof(first_why), "%s", why);
	}
	if (n != SM_SET_SIZE || strstr(spec, ",,") || spec[0] == ',' || spec[strlen(spec) - 1] == ',') {
		snprintf(buf, len, "'%s' is not a volume set: name its %d members, /A,/B,/C", spec, SM_SET_SIZE);
		return buf;
	}
	if (bad && (read_header || bad > SM_SET_SIZE / 2)) {
		snprintf(buf, len, "volume set %s: %s%s", spec, first_why,
			 bad > SM_SET_SIZE / 2 ? "" : " (the daemon would run the set on the other members)");
		return buf;
	}
	return NULL;
}

static const char *check(const struct sm_config_key *k, const void *value, char *buf, size_t len, bool deep)
{
	if (!strcmp(k->name, "admin_group")) {
		const char *g = value;
		if (g[0] && !getgrnam(g)) {
			snprintf(buf, len, "group '%s' does not exist: create it (groupadd %s) or remove the line", g, g);
			return buf;
		}
	} else if (!strcmp(k->name, "join")) {
		const struct sm_config_list *l = value;
		for (size_t i = 0; i < l->count; i++)
			if (check_join(l->items[i], deep, buf, len))
				return buf;
	}
	return NULL;
}

const char *daemon_config_check(const struct sm_config_key *k, const void *value, char *buf, size_t len)
{
	return check(k, value, buf, len, false);
}

const char *daemon_config_check_deep(const struct sm_config_key *k, const void *value, char *buf, size_t len)
{
	return check(k, value, buf, len, true);
}
