/* Fencing by persistent reservation.  See fence.h for the protocol. */
#include "fence.h"

#include "common/crc32c.h"
#include "common/log.h"
#include "common/util.h"
#include "disk/pr.h"
#include "disk/syscalls.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FENCE_TYPE SM_PR_WE_ALL_REGISTRANTS
/* More registrations than this on one device: max_hosts is at most 2000,
 * plus the init key. */
#define MAX_KEYS 2048

struct fence_dev {
	struct sm_pr_dev *pr;
	char path[256];
	char id[SM_FENCE_ID_SIZE];
};

struct sm_fence {
	pthread_mutex_t mu;
	char lockspace[SM_NAME_FIELD];
	unsigned timeout_ms;
	int n;
	struct fence_dev dev[SM_FENCE_MAX_DEVICES];
	uint64_t keys[MAX_KEYS]; /* scratch for READ KEYS, under mu */
};

static uint32_t key_prefix(const char *lockspace)
{
	uint32_t c = sm_crc32c(lockspace, strnlen(lockspace, SM_NAME_FIELD - 1));
	return c ? c : 1;
}

uint64_t sm_fence_key(const char *lockspace, uint32_t host_id, uint64_t generation)
{
	return (uint64_t)key_prefix(lockspace) << 32 | (uint64_t)(host_id & 0xffff) << 16 | (generation & 0xffff);
}

bool sm_fence_key_parse(const char *lockspace, uint64_t key, uint32_t *host_id, uint16_t *gen16)
{
	if ((uint32_t)(key >> 32) != key_prefix(lockspace))
		return false;
	*host_id = (uint32_t)(key >> 16) & 0xffff;
	*gen16 = (uint16_t)key;
	return true;
}

/* Is a generation (mod 2^16) newer than g?  Generations grow by one per join,
 * so half the circle ahead is "newer". */
static bool gen16_newer(uint16_t k, uint64_t g)
{
	uint16_t d = (uint16_t)(k - (uint16_t)g);
	return d != 0 && d < 0x8000;
}

int sm_fence_open(const char *lockspace, const struct sm_fence_table *t, const char *lease_path, unsigned timeout_ms,
		  struct sm_fence **out)
{
	*out = NULL;
	struct sm_fence *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->mu, NULL);
	snprintf(f->lockspace, sizeof(f->lockspace), "%s", lockspace);
	f->timeout_ms = timeout_ms;
	int rc = 0;
	char lease_id[SM_FENCE_ID_SIZE];
	if ((rc = sm_pr_identity(lease_path, lease_id, sizeof(lease_id))) < 0) {
		sm_error("lockspace %s: cannot tell the identity of the lease volume %s: %s", lockspace, lease_path,
			 sm_strerror(rc));
		goto fail;
	}
	if (strcmp(lease_id, t->ids[0]) != 0) {
		sm_error("lockspace %s: the lease volume %s is the logical unit %s, but the volume was formatted on %s",
			 lockspace, lease_path, lease_id, t->ids[0]);
		rc = -SM_EFENCE_DEVICE;
		goto fail;
	}
	for (uint32_t i = 0; i < t->count; i++) {
		struct fence_dev *d = &f->dev[i];
		snprintf(d->id, sizeof(d->id), "%s", t->ids[i]);
		if ((rc = sm_pr_find_device(d->id, d->path, sizeof(d->path))) < 0) {
			sm_error("lockspace %s: fence device %s (%s) is not present on this host", lockspace, d->id,
				 i == 0 ? "the lease LUN" : "a data LUN");
			rc = -SM_EFENCE_DEVICE;
			goto fail;
		}
		if ((rc = sm_pr_open(d->path, timeout_ms, &d->pr)) < 0) {
			sm_error("lockspace %s: cannot open fence device %s (%s): %s", lockspace, d->path, d->id,
				 sm_strerror(rc));
			goto fail;
		}
		f->n++;
	}
	*out = f;
	return 0;
fail:
	sm_fence_close(f);
	return rc;
}

void sm_fence_close(struct sm_fence *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n; i++)
		sm_pr_close(f->dev[i].pr);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

int sm_fence_device_count(const struct sm_fence *f) { return f->n; }
const char *sm_fence_device_path(const struct sm_fence *f, int i) { return f->dev[i].path; }
const char *sm_fence_device_id(const struct sm_fence *f, int i) { return f->dev[i].id; }

/* READ KEYS into f->keys; the count (capped) or an error, logged. */
static int read_keys(struct sm_fence *f, struct fence_dev *d)
{
	int n = sm_pr_read_keys(d->pr, f->keys, MAX_KEYS, NULL);
	if (n < 0)
		sm_error("fence device %s: reading the registered keys failed: %s", d->path, sm_strerror(n));
	return n < 0 ? n : SM_MIN(n, MAX_KEYS);
}

static bool has_key(const struct sm_fence *f, int n, uint64_t key)
{
	for (int i = 0; i < n; i++)
		if (f->keys[i] == key)
			return true;
	return false;
}

/* The first of keys[0..n) that is neither lockspace's nor old_lockspace's
 * (NULL: none), or -1 when every key is. */
static int first_foreign_key(const char *lockspace, const char *old_lockspace, const uint64_t *keys, int n)
{
	for (int i = 0; i < n; i++) {
		uint32_t id;
		uint16_t g;
		if (!sm_fence_key_parse(lockspace, keys[i], &id, &g) &&
		    !(old_lockspace && sm_fence_key_parse(old_lockspace, keys[i], &id, &g)))
			return i;
	}
	return -1;
}

/* Every key on the device belongs to this lockspace. */
static int check_foreign(struct sm_fence *f, struct fence_dev *d, int n)
{
	int i = first_foreign_key(f->lockspace, NULL, f->keys, n);
	if (i < 0)
		return 0;
	sm_error("fence device %s (%s) carries the key 0x%016llx, which is not one of lockspace %s: "
		 "another lockspace or cluster uses this device; a device may fence one lockspace only",
		 d->path, d->id, (unsigned long long)f->keys[i], f->lockspace);
	return -SM_EFENCE_DEVICE;
}

/* Writes of this host still queued in its own kernel for the device (the
 * page cache of a buffered writer) would be carried out under the key we
 * are about to register, after an old holder died (model pr_fence.pml,
 * finding PR1): write them back now, while the device still refuses them
 * if we were fenced.  Errors are expected then and ignored. */
static void flush_host_queue(const struct fence_dev *d)
{
	int fd = sm_disk_sys.open(d->path, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0)
		return;
	int rc = sm_disk_sys.fdatasync(fd);
	if (rc < 0)
		sm_debug("fence device %s: writing back this host's queued writes before registering: %s", d->path,
			 sm_strerror(rc));
	sm_disk_sys.close(fd);
}

/* Register key for this host, replacing the registration it may hold
 * already (see fence.h): REGISTER from an unregistered nexus succeeds; if
 * ours is registered, REGISTER with the right old key is the one that
 * succeeds, so each key of this lockspace that may be replaced is tried as
 * the old one (a wrong guess is refused and changes nothing). */
static int register_key(struct sm_fence *f, struct fence_dev *d, int n, uint64_t key,
			sm_fence_replaceable_fn replaceable, void *arg)
{
	int rc = sm_pr_register(d->pr, 0, key, false);
	if (rc != -SM_ERESERVATION_CONFLICT)
		return rc;
	bool blocked = false;
	uint32_t blocker = 0;
	for (int i = 0; i < n; i++) {
		uint32_t id;
		uint16_t g;
		if (f->keys[i] == key)
			continue;
		sm_fence_key_parse(f->lockspace, f->keys[i], &id, &g);
		if (!replaceable(arg, id)) {
			blocked = true;
			blocker = id;
			continue;
		}
		rc = sm_pr_register(d->pr, f->keys[i], key, false);
		if (rc != -SM_ERESERVATION_CONFLICT)
			return rc;
	}
	if (has_key(f, n, key) && sm_pr_register(d->pr, key, key, false) == 0)
		return 0; /* registered with this very key already */
	if (blocked) {
		sm_error("fence device %s: this host is registered already, apparently for host_id %u of lockspace %s, "
			 "which still holds leases: one host can hold one host_id of a lockspace fenced by "
			 "reservation (is an admin command joining beside sync_managerd?)",
			 d->path, blocker, f->lockspace);
		return -SM_EFENCE_DEVICE;
	}
	sm_error("fence device %s: cannot register key 0x%016llx: this host holds a registration that is not one "
		 "of lockspace %s's keys",
		 d->path, (unsigned long long)key, f->lockspace);
	return -SM_EFENCE_DEVICE;
}

static int register_one(struct sm_fence *f, struct fence_dev *d, uint64_t key, sm_fence_replaceable_fn replaceable,
			void *arg)
{
	flush_host_queue(d);
	int n = read_keys(f, d);
	if (n < 0)
		return n;
	int rc = check_foreign(f, d, n);
	if (rc < 0)
		return rc;
	if ((rc = register_key(f, d, n, key, replaceable, arg)) < 0) {
		sm_error("fence device %s: registering key 0x%016llx failed: %s", d->path, (unsigned long long)key,
			 sm_strerror(rc));
		return rc;
	}
	for (int attempt = 0; attempt < 3; attempt++) {
		uint64_t holder = 0;
		enum sm_pr_type type = 0;
		rc = sm_pr_read_reservation(d->pr, &holder, &type);
		if (rc < 0) {
			sm_error("fence device %s: reading the reservation failed: %s", d->path, sm_strerror(rc));
			return rc;
		}
		if (rc == 1 && type == FENCE_TYPE)
			break;
		if (rc == 1) {
			sm_error("fence device %s holds a %s reservation (key 0x%016llx); lockspace %s needs %s: "
				 "another user reserved it",
				 d->path, sm_pr_type_name(type), (unsigned long long)holder, f->lockspace,
				 sm_pr_type_name(FENCE_TYPE));
			return -SM_EFENCE_DEVICE;
		}
		rc = sm_pr_reserve(d->pr, key, FENCE_TYPE);
		if (rc < 0 && rc != -SM_ERESERVATION_CONFLICT) {
			sm_error("fence device %s: reserving (%s) failed: %s", d->path, sm_pr_type_name(FENCE_TYPE),
				 sm_strerror(rc));
			return rc;
		}
		/* a conflict: another host reserved first; read it again */
	}
	if ((n = read_keys(f, d)) < 0)
		return n;
	if (!has_key(f, n, key)) {
		sm_error("fence device %s: key 0x%016llx is not registered after registering it", d->path,
			 (unsigned long long)key);
		return -SM_ERESERVATION_CONFLICT;
	}
	return 0;
}

int sm_fence_register(struct sm_fence *f, uint32_t host_id, uint64_t generation, sm_fence_replaceable_fn replaceable,
		      void *arg)
{
	uint64_t key = sm_fence_key(f->lockspace, host_id, generation);
	int rc = 0;
	pthread_mutex_lock(&f->mu);
	for (int i = 0; i < f->n && rc == 0; i++)
		rc = register_one(f, &f->dev[i], key, replaceable, arg);
	pthread_mutex_unlock(&f->mu);
	if (rc == 0)
		sm_info("lockspace %s: registered key 0x%016llx (host_id %u, generation %llu) on %d fence device%s",
			f->lockspace, (unsigned long long)key, host_id, (unsigned long long)generation, f->n,
			f->n == 1 ? "" : "s");
	return rc;
}

/* Preempt the victim's keys on one device. */
static int preempt_one(struct sm_fence *f, struct fence_dev *d, uint64_t mine, uint32_t victim, uint64_t victim_gen,
		       bool *no_abort)
{
	for (int round = 0; round < 4; round++) {
		int n = read_keys(f, d);
		if (n < 0)
			return n;
		if (!has_key(f, n, mine)) {
			sm_error("fence device %s: our key 0x%016llx is not registered: this host was fenced", d->path,
				 (unsigned long long)mine);
			return -SM_ERESERVATION_CONFLICT;
		}
		uint64_t target = 0;
		for (int i = 0; i < n && !target; i++) {
			uint32_t id;
			uint16_t g;
			if (sm_fence_key_parse(f->lockspace, f->keys[i], &id, &g) && id == victim &&
			    !gen16_newer(g, victim_gen))
				target = f->keys[i];
		}
		if (!target)
			return 0; /* none left: done (by us or by another host) */
		int rc = sm_pr_preempt(d->pr, mine, target, FENCE_TYPE, true);
		if (rc == -SM_EPR_UNSUPPORTED) {
			sm_warn("fence device %s does not support PREEMPT AND ABORT: plain PREEMPT, then waiting for "
				"commands in flight (X) before the takeover",
				d->path);
			*no_abort = true;
			rc = sm_pr_preempt(d->pr, mine, target, FENCE_TYPE, false);
		}
		if (rc == 0) {
			sm_info("fence device %s: preempted key 0x%016llx (host_id %u)", d->path,
				(unsigned long long)target, victim);
			continue; /* read again: more keys of the victim may be left */
		}
		if (rc != -SM_ERESERVATION_CONFLICT) {
			sm_error("fence device %s: preempting key 0x%016llx failed: %s", d->path,
				 (unsigned long long)target, sm_strerror(rc));
			return rc;
		}
		/* A conflict: the victim's key went away meanwhile (another host
		 * preempted it), or ours did.  The next round's read tells. */
	}
	sm_error("fence device %s: host_id %u keeps a registration after repeated preemption", d->path, victim);
	return -EIO;
}

int sm_fence_preempt(struct sm_fence *f, uint32_t my_id, uint64_t my_gen, uint32_t victim_id, uint64_t victim_gen,
		     bool *no_abort)
{
	uint64_t mine = sm_fence_key(f->lockspace, my_id, my_gen);
	bool plain = false;
	int rc = 0;
	pthread_mutex_lock(&f->mu);
	for (int i = 0; i < f->n && rc == 0; i++)
		rc = preempt_one(f, &f->dev[i], mine, victim_id, victim_gen, &plain);
	pthread_mutex_unlock(&f->mu);
	if (no_abort)
		*no_abort = plain;
	return rc;
}

int sm_fence_prepare_devices(const char *lockspace, const char *old_lockspace, const char *const *paths, int n,
			     unsigned timeout_ms)
{
	uint64_t init_key = sm_fence_key(lockspace, 0, 0);
	uint64_t *keys = calloc(MAX_KEYS, sizeof(*keys));
	int rc = keys ? 0 : -ENOMEM;
	for (int i = 0; i < n && rc == 0; i++) {
		struct sm_pr_dev *pr = NULL;
		if ((rc = sm_pr_open(paths[i], timeout_ms, &pr)) < 0) {
			sm_error("fence device %s: %s", paths[i], sm_strerror(rc));
			break;
		}
		int nk = sm_pr_read_keys(pr, keys, MAX_KEYS, NULL);
		if (nk < 0) {
			rc = nk;
			sm_error("fence device %s: reading the registered keys failed: %s", paths[i], sm_strerror(rc));
		}
		int k = rc == 0 ? first_foreign_key(lockspace, old_lockspace, keys, SM_MIN(nk, MAX_KEYS)) : -1;
		if (k >= 0) {
			sm_error("fence device %s carries the key 0x%016llx of another lockspace or cluster; "
				 "formatting would remove it.  If nothing uses the device's reservation any "
				 "more, clear it first (for example: sg_persist --out --register-ignore "
				 "--param-sark=1 %s; sg_persist --out --clear --param-rk=1 %s)",
				 paths[i], (unsigned long long)keys[k], paths[i], paths[i]);
			rc = -SM_EFENCE_DEVICE;
		}
		if (rc == 0 && (rc = sm_pr_register(pr, 0, init_key, true)) < 0)
			sm_error("fence device %s: registering failed: %s", paths[i], sm_strerror(rc));
		sm_pr_close(pr);
	}
	free(keys);
	return rc;
}

int sm_fence_clear_devices(const char *lockspace, const char *const *paths, int n, unsigned timeout_ms)
{
	uint64_t init_key = sm_fence_key(lockspace, 0, 0);
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		struct sm_pr_dev *pr = NULL;
		if ((rc = sm_pr_open(paths[i], timeout_ms, &pr)) < 0) {
			sm_error("fence device %s: %s", paths[i], sm_strerror(rc));
			break;
		}
		/* registered already by prepare; again in case a target restart dropped it */
		if ((rc = sm_pr_register(pr, 0, init_key, true)) < 0)
			sm_error("fence device %s: registering failed: %s", paths[i], sm_strerror(rc));
		else if ((rc = sm_pr_clear(pr, init_key)) < 0)
			sm_error("fence device %s: clearing its registrations failed: %s", paths[i], sm_strerror(rc));
		sm_pr_close(pr);
	}
	return rc;
}
