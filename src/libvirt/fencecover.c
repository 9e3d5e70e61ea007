/* A guest's disks against its lockspace's fence devices.  See fencecover.h. */
#include "fencecover.h"

#include "disk/pr.h"
#include "ondisk/volume.h"
#include "sync_manager/errors.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MAX_LUS 16

static bool in_table(const struct sm_fence_table *t, const char *id)
{
	for (uint32_t i = 0; i < t->count; i++)
		if (strcmp(t->ids[i], id) == 0)
			return true;
	return false;
}

int fencecover_check(const char *volume, const char *const *paths, int n, char *err, size_t errlen)
{
	if (strchr(volume, ',') || n == 0)
		return 0;
	struct sm_volume *v = NULL;
	int rc = sm_volume_open_spec(volume, SM_DISK_READONLY, &v);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read lease volume %s to check its fencing: %s", volume, sm_strerror(rc));
		return rc;
	}
	struct sm_fence_table t;
	bool pr = v->hdr.fence_mode == SM_FENCE_PR;
	char lockspace[SM_NAME_FIELD];
	snprintf(lockspace, sizeof(lockspace), "%s", v->hdr.lockspace);
	rc = pr ? sm_volume_read_fence_table(v, &t) : 0;
	sm_volume_close(v);
	if (!pr)
		return 0;
	if (rc < 0) {
		snprintf(err, errlen, "cannot read the fence devices of lockspace %s on %s: %s", lockspace, volume,
			 sm_strerror(rc));
		return rc;
	}
	for (int i = 0; i < n; i++) {
		char ids[MAX_LUS][SM_PR_ID_MAX];
		int k = sm_pr_lus_of(paths[i], ids, MAX_LUS);
		if (k < 0) {
			snprintf(err, errlen,
				 "disk %s: cannot tell which LUNs hold it, and lockspace %s is fenced by persistent "
				 "reservation, which protects only its fence devices: put the disk on a fence device "
				 "(SCSI/NVMe LUN, its partition, multipath map or an LVM volume on them)",
				 paths[i], lockspace);
			return -SM_EFENCE_DEVICE;
		}
		for (int j = 0; j < k; j++)
			if (!in_table(&t, ids[j])) {
				snprintf(err, errlen,
					 "disk %s is on LUN %s, which is not a fence device of lockspace %s: after "
					 "another host preempted this one, nothing would stop this guest's writes to "
					 "it. Format the lockspace with --fence-device for that LUN (init --force, "
					 "after every host left), or keep the guest's leases in a lockspace fenced by "
					 "timing",
					 paths[i], ids[j], lockspace);
				return -SM_EFENCE_DEVICE;
			}
	}
	return 0;
}
