/* Fencing by persistent reservation (issue 13; docs/algorithms.md §6).
 *
 * A lockspace formatted with `--fence pr` names its fence devices by the
 * identity of their logical unit (the fence table; entry 0 is the lease LUN,
 * the others the data LUNs the admin named).  On every fence device:
 *
 * - Join: before its first write with a new generation, a host registers the
 *   key of (lockspace, host_id, generation) with REGISTER AND IGNORE EXISTING
 *   KEY (a host has one registration per device: all its processes share its
 *   I_T nexus), and makes sure a Write Exclusive - All Registrants
 *   reservation exists, so that only registered hosts can write.
 * - Takeover: a host that wants a lease whose owner stopped renewing for T
 *   removes every key of the owner's host_id that is not newer than the
 *   generation it judged, with PREEMPT AND ABORT (commands of the preempted
 *   host queued in the target are aborted), and only when that succeeded on
 *   every device may it treat the owner as dead.  A target without PREEMPT AND
 *   ABORT gets a plain PREEMPT and the caller waits X (timeouts.h) before
 *   taking over.
 * - Fenced: a write refused with a reservation conflict means this host was
 *   preempted.  Its holders must die before it registers again (a new key
 *   re-enables every process of the host, old holders included).
 *
 * Keys: bits 63..32 the CRC-32C of the lockspace name (never 0), 31..16 the
 * host_id, 15..0 the generation modulo 2^16; host_id 0 is the key `init`
 * uses while it clears old registrations.
 *
 * Devices are resolved on each host by identity (sm_pr_find_device), never
 * by a path recorded elsewhere.  All calls do synchronous storage commands:
 * worker threads only.  An sm_fence may be used by several threads (an
 * internal mutex serializes the commands). */
#ifndef SM_LEASE_FENCE_H
#define SM_LEASE_FENCE_H

#include "ondisk/records.h"

#include <stdbool.h>
#include <stdint.h>

struct sm_fence;

uint64_t sm_fence_key(const char *lockspace, uint32_t host_id, uint64_t generation);
/* The parts of a key (false: not a key of this lockspace). */
bool sm_fence_key_parse(const char *lockspace, uint64_t key, uint32_t *host_id, uint16_t *gen16);

/* Resolve and open the fence devices of a volume: entry 0 must be the device
 * that holds lease_path (-SM_EFENCE_DEVICE naming both identities if not),
 * the others are found by identity.  timeout_ms bounds each command that
 * can be bounded (d). */
int sm_fence_open(const char *lockspace, const struct sm_fence_table *t, const char *lease_path, unsigned timeout_ms,
		  struct sm_fence **out);
void sm_fence_close(struct sm_fence *f);
int sm_fence_device_count(const struct sm_fence *f);
/* "/dev/NAME" this host reaches device i by, and its identity. */
const char *sm_fence_device_path(const struct sm_fence *f, int i);
const char *sm_fence_device_id(const struct sm_fence *f, int i);

/* Register (host_id, generation) on every device and make sure the
 * reservation exists.  A host has one registration per device, so if this
 * host is registered already (with an older key of ours, init's key, or a key
 * of a host_id that left), that key is replaced -- but only when
 * replaceable(arg, its host_id) says so: replacing the key of a host_id that
 * still holds leases from this host would leave that host_id without a key,
 * and others would take its leases as if it had been preempted.  Then
 * -SM_EFENCE_DEVICE.  A device carrying keys of another lockspace or user, or
 * a reservation of another type, is refused (-SM_EFENCE_DEVICE); a device
 * without PR support answers -SM_EPR_UNSUPPORTED.  All logged naming the
 * device. */
typedef bool (*sm_fence_replaceable_fn)(void *arg, uint32_t host_id);
int sm_fence_register(struct sm_fence *f, uint32_t host_id, uint64_t generation, sm_fence_replaceable_fn replaceable,
		      void *arg);

/* Preempt victim_id's keys not newer than victim_gen on every device, as
 * (my_id, my_gen).  0: on every device no such key is left (removed by us or
 * by another host); *no_abort tells whether some device needed a plain
 * PREEMPT (the caller must then wait X).  -SM_ERESERVATION_CONFLICT: our own
 * key is gone, we are fenced ourselves.  Other errors: some device could not
 * be preempted; the owner must not be treated as dead. */
int sm_fence_preempt(struct sm_fence *f, uint32_t my_id, uint64_t my_gen, uint32_t victim_id, uint64_t victim_gen,
		     bool *no_abort);

/* For `init`, before formatting: on each device path refuse keys that are
 * neither this lockspace's nor old_lockspace's (the volume formatted there
 * before; NULL if none), naming them, then register the init key (host_id
 * 0) so that this host may write while an old reservation exists. */
int sm_fence_prepare_devices(const char *lockspace, const char *old_lockspace, const char *const *paths, int n,
			     unsigned timeout_ms);
/* For `init`, after formatting: CLEAR every registration and the reservation
 * (the guard of --force proved no host alive), so the fresh volume starts
 * with none; the first host to join reserves. */
int sm_fence_clear_devices(const char *lockspace, const char *const *paths, int n, unsigned timeout_ms);

#endif
