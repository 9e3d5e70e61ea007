/* The wdmd backend: share /dev/watchdog with sanlock and lvmlockd through
 * wdmd, the watchdog multiplexing daemon (Debian package sanlock; client
 * library libwdmd.so.1, header wdmd.h in libsanlock-dev).
 *
 * wdmd owns the device and pets it every test interval (10 s) only while no
 * registered client's expiry time has passed; the device then resets the
 * host fire_timeout (60 s) after the last pet.  A client does not pet: it
 * moves its expiry time forward (wdmd_test_live, CLOCK_MONOTONIC seconds).
 * wdmd also stops its keepalives as soon as an expiry lies within one test
 * interval (it would not test again before it passes), and resumes them
 * when the expiry moves ahead again.  So the host is reset at most
 * fire_timeout after the expiry we give, and as much as two test intervals
 * earlier; our expiry must normally lie more than a test interval ahead
 * (lockspaces.c refuses joins whose timeouts cannot keep it there).
 *
 * The expiry we give (watchdog.c) is WDMD_IDLE_MS ahead, or earlier: the
 * moment the petting rule stops petting, P before F of the first lockspace
 * whose leases are held.  The latest reset is then
 * F - P + fire_timeout <= F - P + W, the device's bound, when fire_timeout
 * is at most watchdog_timeout (checked at arming).  A daemon that dies or
 * hangs stops moving it; a clean stop clears it (expiry 0: wdmd stops
 * testing this client).  wdmd keeps a dead client's expiry and fails its
 * test from then on: a daemon that exits leaving its expiry (leases still
 * held) gets the host reset, even if a new daemon registers. */
#include "watchdog.h"


#include "common/log.h"
#include "common/util.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifdef SM_HAVE_WDMD
#include <wdmd.h>

bool wdmd_available(void) { return true; }

/* wdmd listens: what watchdog = auto asks first (wdmd then holds the device). */
bool wdmd_running(void)
{
	int con = wdmd_connect();
	if (con < 0)
		return false;
	close(con);
	return true;
}

int wdmd_arm(struct daemon *d)
{
	int con = wdmd_connect();
	if (con < 0)
		return con;
	char name[WDMD_NAME_SIZE];
	snprintf(name, sizeof(name), "sync_managerd");
	int test_interval = 0, fire_timeout = 0;
	uint64_t last_keepalive = 0;
	int rc = wdmd_register(con, name);
	if (rc >= 0)
		rc = wdmd_refcount_set(con);
	if (rc >= 0)
		rc = wdmd_status(con, &test_interval, &fire_timeout, &last_keepalive);
	if (rc < 0) {
		close(con);
		return rc;
	}
	if (fire_timeout <= 0 || (uint64_t)fire_timeout * 1000 > d->wd_timeout_ms) {
		sm_error("wdmd's watchdog fires %d s after its last pet, later than watchdog_timeout %u s: lockspaces "
			 "would be unsafe (set watchdog_timeout to at least %d, and format volumes with that W)",
			 fire_timeout, d->wd_timeout_ms / 1000, fire_timeout);
		wdmd_refcount_clear(con);
		close(con);
		return -SM_ECONFIG;
	}
	d->wd_fd = con;
	d->wdmd_fire_timeout_s = (uint32_t)fire_timeout;
	d->wdmd_test_interval_s = (uint32_t)test_interval;
	sm_info("registered with wdmd: test interval %d s, fire timeout %d s", test_interval, fire_timeout);
	return 0;
}

/* Move our expiry to in_ms from now (rounded down to wdmd's whole seconds
 * of CLOCK_MONOTONIC, so it never lands later than asked). */
int wdmd_pet(struct daemon *d, int64_t in_ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	int64_t expire_s = (now_ms + SM_MAX(in_ms, 0)) / 1000;
	int rc = wdmd_test_live(d->wd_fd, (uint64_t)ts.tv_sec, (uint64_t)SM_MAX(expire_s, 1));
	return rc < 0 ? rc : 0;
}

void wdmd_close(struct daemon *d, bool disarm)
{
	if (disarm) {
		if (wdmd_test_live(d->wd_fd, 0, 0) < 0)
			sm_warn("could not clear our expiry in wdmd: it resets the host after the last one");
		wdmd_refcount_clear(d->wd_fd);
	}
	close(d->wd_fd);
}

#else /* built without wdmd.h (libsanlock-dev) */

bool wdmd_available(void) { return false; }
bool wdmd_running(void) { return false; }
int wdmd_arm(struct daemon *d) { return -ENOTSUP; }
int wdmd_pet(struct daemon *d, int64_t in_ms) { return -ENOTSUP; }
void wdmd_close(struct daemon *d, bool disarm) { close(d->wd_fd); }

#endif
