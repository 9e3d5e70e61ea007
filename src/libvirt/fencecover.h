/* Fencing by reservation protects only the LUNs a lockspace fences
 * (docs/admin-guide.md, "Fencing by persistent reservation"): after another
 * host preempts this one, the storage refuses its writes to those LUNs and
 * to no others.  A guest whose leases live in such a lockspace must
 * therefore write only to fence devices, or a takeover of its leases would
 * leave its writes unstopped.  The plugin checks that before it acquires. */
#ifndef SM_LIBVIRT_FENCECOVER_H
#define SM_LIBVIRT_FENCECOVER_H

#include <stddef.h>

/* 0 when volume (PATH[:OFFSET]; a volume set is never fenced by
 * reservation) is fenced by timing, or when every logical unit under each of
 * the n paths is one of its fence devices.  -SM_EFENCE_DEVICE with the disk,
 * its LU and the fix in err otherwise; another negative value (err says)
 * when the volume or a disk cannot be examined.  Both fail closed. */
int fencecover_check(const char *volume, const char *const *paths, int n, char *err, size_t errlen);

#endif
