#include "plugconf.h"

#include "common/util.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#ifndef SM_FENCE_PROGRAM
#define SM_FENCE_PROGRAM "/usr/libexec/sync_manager/fence-libvirt"
#endif

static const char *const readonly_choices[] = {"none", "shared", NULL};
static const char *const action_choices[] = {"poweroff", "pause", NULL};
static const char *const fallback_choices[] = {"none", "path", NULL};

static const struct sm_config_key keys[] = {
	{"volumes", SM_CFG_STRING_LIST, 0, 255, NULL, offsetof(struct plug_config, volumes),
	 "lease volumes (PATH[:OFFSET]); automatic disk and VM leases live in the first"},
	{"auto_disk_leases", SM_CFG_BOOL, 0, 0, NULL, offsetof(struct plug_config, auto_disk_leases),
	 "give every read-write file or block disk its own lease"},
	{"vm_lease", SM_CFG_BOOL, 0, 0, NULL, offsetof(struct plug_config, vm_lease),
	 "give every domain a lease named after its UUID (one VM never runs twice)"},
	{"require_lease_for_disks", SM_CFG_BOOL, 0, 0, NULL, offsetof(struct plug_config, require_lease),
	 "refuse to start guests with read-write disks not covered by a lease"},
	{"readonly_disks", SM_CFG_ENUM, 0, 0, readonly_choices, offsetof(struct plug_config, readonly_disks),
	 "none: readonly disks take no lease; shared: they take a shared lease"},
	{"host_id", SM_CFG_UINT, 0, 2000, NULL, offsetof(struct plug_config, host_id),
	 "host_id to join with (0: chosen by host name)"},
	{"host_name", SM_CFG_STRING, 0, 63, NULL, offsetof(struct plug_config, host_name),
	 "host name to join with (empty: the daemon's)"},
	{"default_failure_action", SM_CFG_ENUM, 0, 0, action_choices, offsetof(struct plug_config, default_action),
	 "what to do when leases are lost and the domain has no <on_lockfailure>"},
	{"join_wait", SM_CFG_SECONDS, 0, 600000, NULL, offsetof(struct plug_config, join_wait_ms),
	 "how long a guest start waits for a lockspace join that is in progress"},
	{"allow_unprotected_guests", SM_CFG_BOOL, 0, 0, NULL, offsetof(struct plug_config, allow_unprotected),
	 "start guests without any lease when no lease volumes are configured, and under leases of a "
	 "sync_managerd without a watchdog (default: refuse them)"},
	{"disk_identity_fallback", SM_CFG_ENUM, 0, 0, fallback_choices, offsetof(struct plug_config, disk_fallback),
	 "none: refuse a block disk without a stable identity; path: name its lease by its path (same on every host)"},
	{"legacy_disk_names", SM_CFG_BOOL, 0, 0, NULL, offsetof(struct plug_config, legacy_disk_names),
	 "also take each disk's lease under the per-host name of earlier versions (rolling upgrades)"},
	{"fence_program", SM_CFG_STRING, 0, 255, NULL, offsetof(struct plug_config, fence_program),
	 "program the daemon runs to power off or pause a guest that lost its leases"},
};

void plug_config_defaults(struct plug_config *c)
{
	memset(c, 0, sizeof(*c));
	c->auto_disk_leases = true;
	c->vm_lease = true;
	c->readonly_disks = RO_NONE;
	c->default_action = ACT_POWEROFF;
	c->join_wait_ms = 60000;
	c->disk_fallback = FALLBACK_NONE;
	snprintf(c->fence_program, sizeof(c->fence_program), "%s", SM_FENCE_PROGRAM);
}

int plug_config_load(struct plug_config *c, const char *path, char *err, size_t errlen)
{
	struct sm_config_error e;
	int rc = sm_config_load(keys, SM_ARRAY_SIZE(keys), c, path, &e);
	if (rc < 0) {
		snprintf(err, errlen, "%s:%u: %s", e.file, e.line, e.message);
		return -1;
	}
	for (size_t i = 0; i < c->volumes.count; i++)
		if (c->volumes.items[i][0] != '/') {
			snprintf(err, errlen, "%s: volumes: '%s' is not an absolute path", path, c->volumes.items[i]);
			return -1;
		}
	if (c->host_name[0] && !sm_name_valid(c->host_name)) {
		snprintf(err, errlen, "%s: host_name: '%s' is not a valid name", path, c->host_name);
		return -1;
	}
	return 0;
}
