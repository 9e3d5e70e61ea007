/* Configuration of the libvirt plugin: /etc/libvirt/qemu-sync_manager.conf
 * (dist/qemu-sync_manager.conf is the commented example). */
#ifndef SM_LIBVIRT_PLUGCONF_H
#define SM_LIBVIRT_PLUGCONF_H

#include "common/config.h"

#include <stdbool.h>
#include <stdint.h>

enum plug_readonly { RO_NONE, RO_SHARED };
enum plug_action { ACT_POWEROFF, ACT_PAUSE };
enum plug_fallback { FALLBACK_NONE, FALLBACK_PATH };

struct plug_config {
	struct sm_config_list volumes; /* lease volumes; the first gets automatic leases */
	bool auto_disk_leases;         /* a lease per read-write file or block disk */
	bool vm_lease;                 /* a lease per domain, named by its UUID */
	bool require_lease;            /* refuse read-write disks that have no lease */
	int readonly_disks;            /* enum plug_readonly */
	uint64_t host_id;              /* 0: let the daemon choose by host name */
	char host_name[SM_CONFIG_STR_MAX];
	int default_action;            /* enum plug_action, for on_lockfailure default */
	uint64_t join_wait_ms;         /* how long a guest start waits for a join in progress */
	char fence_program[SM_CONFIG_STR_MAX];
	bool allow_unprotected;        /* no volumes, or a daemon without a watchdog: run guests anyway */
	int disk_fallback;             /* enum plug_fallback: block disks without identity */
	bool legacy_disk_names;        /* also take the pre-identity (per-host) disk names */
};

void plug_config_defaults(struct plug_config *c);
/* 0 (a missing file keeps the defaults) or -1 with a message in err. */
int plug_config_load(struct plug_config *c, const char *path, char *err, size_t errlen);

#endif
