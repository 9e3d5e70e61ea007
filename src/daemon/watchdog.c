/* Watchdog backends and the petting rule (DESIGN §2, docs/timeouts.md).
 *
 * The watchdog is petted every P only while every lockspace is safe: its
 * last good renewal started less than F ago, or no process holds its leases
 * any more.  A daemon that dies or hangs stops petting, so the host (with
 * every lease holder) is reset at most W after the last pet.
 *
 * Backends:
 *  device    /dev/watchdog: write to pet; 'V' before close disarms ("magic
 *            close"); closing without it leaves the timer running.
 *  emulated  an emulated host's init (sync_manager-hostemu) listening on
 *            RUN_DIR/watchdog.sock, with the same semantics: disconnecting
 *            without "disarm" leaves it armed.
 *  wdmd      wdmd owns the device and shares it with sanlock and lvmlockd:
 *            a pet moves our expiry time in wdmd (wdmd.c) to the moment the
 *            petting rule would stop petting; closing without clearing it
 *            leaves it in force.
 *  none      nothing resets the host: fencing relies on kills alone.  Only
 *            when configured: the host then runs unprotected, and status,
 *            hosts and the metrics say so.
 *
 * auto picks wdmd when it runs (it then holds the device), else the device,
 * else the emulated host's watchdog.  With neither it
 * never falls back to none: the daemon runs, but refuses to join lockspaces
 * (fail closed, issue 10): an unnoticed missing watchdog must not leave a
 * host holding leases that nothing enforces when the daemon hangs. */
#include "watchdog.h"

#include "leasetab.h"
#include "lockspaces.h"

#include "common/log.h"
#include "common/util.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *kind_name[] = {"auto", "device", "emulated", "none", "wdmd"};

/* wdmd: our expiry is at most this far beyond wdmd's test interval
 * (pet_horizon_ms).  wdmd stops its keepalives as soon as an expiry is
 * within one test interval, so it must normally lie further ahead. */
#define WDMD_IDLE_MS 3000

/* Why a join is refused (one line that names the fixes and fits a reply
 * message), or NULL when this host may join lockspaces. */
const char *watchdog_join_refusal(const struct daemon *d)
{
	if (!d->wd_missing)
		return NULL;
	return "no watchdog (watchdog = auto found none): a hung sync_managerd could not stop lease holders. Fix: "
	       "modprobe softdog or a hardware watchdog (or start wdmd), then restart sync_managerd; watchdog = "
	       "emulated for tests; or watchdog = none to accept the risk";
}

/* Nothing resets this host if the daemon hangs or is killed. */
bool watchdog_unprotected(const struct daemon *d)
{
	return d->wd_kind == WD_NONE;
}

/* Before every join (CLI, configuration, rejoin after fencing): 0, or
 * -SM_ECONFIG when auto found no watchdog.  Logs the refusal, or a warning
 * when an explicit watchdog = none leaves the lockspace unprotected. */
int watchdog_check_join(struct daemon *d, const char *location)
{
	const char *why = watchdog_join_refusal(d);
	if (why) {
		sm_error("cannot join the lockspace of %s: %s", location, why);
		return -SM_ECONFIG;
	}
	if (watchdog_unprotected(d))
		sm_warn("joining the lockspace of %s without a watchdog (watchdog = none): this host runs unprotected; "
			"if sync_managerd hangs or is killed, nothing stops the processes holding its leases",
			location);
	return 0;
}

const char *watchdog_describe(struct daemon *d)
{
	static char buf[160];
	if (d->wd_missing)
		return "none (auto found no watchdog device: joins refused)";
	if (d->wd_kind == WD_NONE)
		return "none (nothing resets this host if the daemon hangs)";
	snprintf(buf, sizeof(buf), "%s, %u s", kind_name[d->wd_kind], d->wd_timeout_ms / 1000);
	return buf;
}

static void emu_path(struct daemon *d, char *out, size_t len)
{
	snprintf(out, len, "%s/watchdog.sock", d->cfg.run_dir);
}

static int emu_send(struct daemon *d, const char *cmd)
{
	/* Replies ("ok") carry nothing we need: drain them so they never pile up. */
	char junk[256];
	while (recv(d->wd_fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
	size_t n = strlen(cmd);
	return send(d->wd_fd, cmd, n, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)n ? 0 : -errno;
}

static int open_emulated(struct daemon *d)
{
	char path[300];
	emu_path(d, path, sizeof(path));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	d->wd_fd = fd;
	char arm[64];
	snprintf(arm, sizeof(arm), "arm %u\n", d->wd_timeout_ms);
	return emu_send(d, arm);
}

static int open_device(struct daemon *d)
{
	int fd = open(d->cfg.watchdog_device, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int t = (int)(d->wd_timeout_ms / 1000);
	if (ioctl(fd, WDIOC_SETTIMEOUT, &t) < 0 || ioctl(fd, WDIOC_GETTIMEOUT, &t) < 0) {
		sm_warn("%s: cannot set its timeout: %s", d->cfg.watchdog_device, strerror(errno));
		t = 60;
	}
	if ((uint32_t)t * 1000 > d->wd_timeout_ms) {
		sm_error("%s fires after %d s, later than watchdog_timeout %u s: lockspaces would be unsafe",
			 d->cfg.watchdog_device, t, d->wd_timeout_ms / 1000);
		if (write(fd, "V", 1) < 0) { /* disarm before closing */
		}
		close(fd);
		return -SM_ECONFIG;
	}
	d->wd_fd = fd;
	return 0;
}

/* Choose the backend and check that it exists.  Nothing is armed here:
 * arming pets, and a restarted daemon must not pet for a lockspace it
 * resumes whose leases may have expired (watchdog_tick arms). */
int watchdog_open(struct daemon *d)
{
	d->wd_fd = -1;
	d->wd_timeout_ms = (uint32_t)d->cfg.watchdog_timeout_ms;
	int kind = d->cfg.watchdog;
	char path[300];
	emu_path(d, path, sizeof(path));
	d->wd_missing = false;
	if (kind == WD_AUTO) {
		kind = wdmd_running()				  ? WD_WDMD
		       : access(d->cfg.watchdog_device, F_OK) == 0 ? WD_DEVICE
		       : access(path, F_OK) == 0		  ? WD_EMULATED
								  : WD_NONE;
		d->wd_missing = kind == WD_NONE;
	}
	d->wd_kind = kind;
	if (d->wd_missing) {
		sm_error("watchdog = auto: no watchdog device at %s and no emulated host at %s; %s",
			 d->cfg.watchdog_device, path, watchdog_join_refusal(d));
		d->wd_timeout_ms = 0;
		return 0;
	}
	if (kind == WD_DEVICE && access(d->cfg.watchdog_device, W_OK) < 0) {
		sm_error("watchdog device %s: %s", d->cfg.watchdog_device, strerror(errno));
		return -errno;
	}
	if (kind == WD_WDMD && !wdmd_available()) {
		sm_error("watchdog = wdmd: this sync_managerd was built without wdmd's client library (install "
			 "libsanlock-dev and build again)");
		return -ENOTSUP;
	}
	if (kind == WD_WDMD && !wdmd_running()) {
		sm_error("watchdog = wdmd: wdmd is not running (nothing listens on /run/wdmd/wdmd.sock): start it "
			 "(systemctl start wdmd) before sync_managerd");
		return -ENOENT;
	}
	if (kind == WD_EMULATED && access(path, F_OK) < 0) {
		sm_error("no emulated host watchdog at %s (start this daemon under sync_manager-hostemu)", path);
		return -ENOENT;
	}
	if (kind == WD_NONE) {
		sm_warn("watchdog = none: this host runs unprotected; if this daemon hangs or is killed, nothing stops "
			"processes holding leases (configure watchdog = device or auto, after modprobe softdog if "
			"there is no hardware watchdog)");
		d->wd_timeout_ms = 0;
	}
	return 0;
}

static int64_t pet_horizon_ms(struct daemon *d);

static int arm(struct daemon *d)
{
	int rc = d->wd_kind == WD_DEVICE ? open_device(d) : d->wd_kind == WD_WDMD ? wdmd_arm(d) : open_emulated(d);
	if (rc == 0 && d->wd_kind == WD_WDMD)
		rc = wdmd_pet(d, pet_horizon_ms(d));
	if (rc < 0) {
		sm_error("cannot arm the %s watchdog: %s", kind_name[d->wd_kind], sm_strerror(rc));
		if (d->wd_fd >= 0)
			close(d->wd_fd);
		d->wd_fd = -1;
		return rc;
	}
	d->wd_armed = true;
	d->wd_last_pet_mono = mono_ms();
	sm_info("watchdog armed (%s)", watchdog_describe(d));
	return 0;
}

static uint64_t pet_interval(struct daemon *d)
{
	return SM_MIN(1000u, d->wd_timeout_ms / 4);
}

/* Every lockspace fresh, or with nobody holding its leases. */
static bool safe_to_pet(struct daemon *d)
{
	for (struct ls_entry *e = d->lockspaces; e; e = e->next) {
		if (e->state == LS_GONE || (e->state == LS_JOINING && !e->resume))
			continue;
		bool holders = false;
		for (struct lease *l = d->lt.head; l && !holders; l = l->next)
			holders = l->ls == e && l->holders;
		if (!holders)
			continue;
		/* Resuming (its header or our record not yet read): it counts as a
		 * lockspace whose renewals fail since the renewal the state file
		 * recorded, so pets stop P before F after that (a hung volume then
		 * costs its holders, fenced at F, not the host). */
		if (e->state == LS_JOINING && !atomic_load(&e->thr.join_done)) {
			if (ls_resume_left_ms(e) <= (int64_t)pet_interval(d))
				return false;
			continue;
		}
		if (e->state == LS_FAILED || e->fencing)
			return false; /* expired: only dead holders let us pet again */
		/* Stop one pet interval before F: the host then dies by F + W - P,
		 * which leaves P of slack for clock-rate and scheduling delays. */
		if (!e->ls || sm_lockspace_remaining_ms(e->ls) <= (int64_t)pet_interval(d))
			return false;
		struct sm_lockspace_info info;
		sm_lockspace_info(e->ls, &info);
		if (info.lost || info.fenced)
			return false;
	}
	return true;
}

/* In the last LAST_PET_WINDOW_MS before a joined lockspace's time left drops
 * to P (F - P: no pet after that), pet every SM_POLL_MS instead of every P
 * (watchdog_tick's deadline).  Otherwise the last pet can come up to 2P + a
 * poll before F, and with a small W (W <= 4P,
 * as in tests) the host is reset at F + W - 2P, before a holder SIGKILLed at
 * F + G = F + W/2 is seen dead.  The rule itself (no pet within P of F) and
 * so the latest reset, F + W - P, are unchanged. */
#define LAST_PET_WINDOW_MS 250

static bool last_chance(struct daemon *d)
{
	for (struct ls_entry *e = d->lockspaces; e; e = e->next) {
		int64_t rem;
		if (e->state == LS_JOINING && e->resume && !e->fencing && !atomic_load(&e->thr.join_done))
			rem = ls_resume_left_ms(e);
		else if (e->state != LS_JOINED || e->fencing || !e->ls)
			continue;
		else
			rem = sm_lockspace_remaining_ms(e->ls);
		if (rem > (int64_t)pet_interval(d) && rem <= (int64_t)(pet_interval(d) + LAST_PET_WINDOW_MS))
			return true;
	}
	return false;
}

/* wdmd: how far ahead our expiry goes: wdmd's test interval + WDMD_IDLE_MS,
 * or less: up to the moment the rule above stops petting (P before F) for
 * every lockspace whose leases are held.  The loop pets every P, so the expiry keeps moving while the
 * daemon is alive and the rule allows; a loop stalled for a few seconds only
 * costs wdmd one keepalive (its device fires after fire_timeout without). */
static int64_t pet_horizon_ms(struct daemon *d)
{
	int64_t h = (int64_t)d->wdmd_test_interval_s * 1000 + WDMD_IDLE_MS;
	for (struct ls_entry *e = d->lockspaces; e; e = e->next) {
		if (e->state == LS_GONE || (e->state == LS_JOINING && !e->resume))
			continue;
		bool holders = false;
		for (struct lease *l = d->lt.head; l && !holders; l = l->next)
			holders = l->ls == e && l->holders;
		if (!holders)
			continue;
		int64_t rem;
		if (e->state == LS_JOINING && !atomic_load(&e->thr.join_done))
			rem = ls_resume_left_ms(e);
		else
			rem = e->ls && !e->fencing && e->state != LS_FAILED ? sm_lockspace_remaining_ms(e->ls) : 0;
		h = SM_MIN(h, rem - (int64_t)pet_interval(d));
	}
	return h;
}

/* When the last-chance window of e opens (its time left drops to P + the
 * window), as a delay from now: 0 inside it, -1 when e has none. */
static int64_t to_last_chance(struct daemon *d, struct ls_entry *e)
{
	int64_t rem;
	if (e->state == LS_JOINING && e->resume && !e->fencing && !atomic_load(&e->thr.join_done))
		rem = ls_resume_left_ms(e);
	else if (e->state != LS_JOINED || e->fencing || !e->ls)
		return -1;
	else
		rem = sm_lockspace_remaining_ms(e->ls);
	if (rem <= (int64_t)pet_interval(d))
		return -1; /* past it: no pet any more for e */
	return SM_MAX(rem - (int64_t)(pet_interval(d) + LAST_PET_WINDOW_MS), (int64_t)0);
}

/* When watchdog_tick must run again: the next pet (P after the last), or
 * the next tick of a last-chance window, or now + SM_POLL_MS while it waits
 * to arm or for petting to become safe again (holders dying). */
static uint64_t next_pet(struct daemon *d, bool petting, uint64_t now)
{
	if (!d->wd_armed || !petting)
		return now + SM_POLL_MS;
	uint64_t next = d->wd_last_pet_mono + pet_interval(d);
	for (struct ls_entry *e = d->lockspaces; e; e = e->next) {
		int64_t t = to_last_chance(d, e);
		if (t >= 0)
			next = deadline_min(next, now + (t > 0 ? (uint64_t)t : SM_POLL_MS));
	}
	return next;
}

uint64_t watchdog_tick(struct daemon *d)
{
	if (d->wd_kind == WD_NONE)
		return SM_NO_DEADLINE;
	uint64_t now = mono_ms();
	if (!d->wd_armed) {
		if (safe_to_pet(d))
			arm(d);
		return next_pet(d, true, now);
	}
	if (now - d->wd_last_pet_mono < pet_interval(d) && !last_chance(d))
		return next_pet(d, !d->wd_refused_logged, now);
	if (!safe_to_pet(d)) {
		if (!d->wd_refused_logged) {
			sm_error("not petting the watchdog: a lockspace expired while processes hold its leases; the host "
				 "is reset in %llu ms unless they are gone by then",
				 (unsigned long long)(d->wd_timeout_ms - SM_MIN(d->wd_timeout_ms, now - d->wd_last_pet_mono)));
			d->wd_refused_logged = true;
		}
		return next_pet(d, false, now);
	}
	d->wd_refused_logged = false;
	int rc = d->wd_kind == WD_DEVICE ? (write(d->wd_fd, "1", 1) == 1 ? 0 : -errno)
		 : d->wd_kind == WD_WDMD  ? wdmd_pet(d, pet_horizon_ms(d))
					  : emu_send(d, "pet\n");
	if (rc < 0) {
		sm_error("petting the watchdog failed: %s; reconnecting", sm_strerror(rc));
		if (d->wd_kind == WD_EMULATED) {
			close(d->wd_fd);
			d->wd_fd = -1;
			if (open_emulated(d) < 0 && d->wd_fd >= 0) {
				close(d->wd_fd);
				d->wd_fd = -1;
			}
		}
		return next_pet(d, false, now); /* try again at the next poll */
	}
	d->wd_last_pet_mono = now;
	return next_pet(d, true, now);
}

void watchdog_close(struct daemon *d, bool disarm)
{
	if (d->wd_fd < 0)
		return;
	if (d->wd_kind == WD_WDMD) {
		wdmd_close(d, disarm);
		d->wd_fd = -1;
		if (disarm)
			sm_info("watchdog disarmed (our expiry in wdmd cleared)");
		else
			sm_warn("leaving our expiry in wdmd: wdmd keeps it after we exit, so it resets this host within "
				"%u s (a new sync_managerd cannot take it over)",
				d->wdmd_fire_timeout_s + d->wdmd_test_interval_s + WDMD_IDLE_MS / 1000);
		return;
	}
	if (disarm) {
		if (d->wd_kind == WD_DEVICE) {
			if (write(d->wd_fd, "V", 1) != 1)
				sm_warn("could not disarm %s", d->cfg.watchdog_device);
		} else {
			emu_send(d, "disarm\n");
		}
		sm_info("watchdog disarmed");
	} else {
		sm_warn("leaving the watchdog armed: it fires %u s after the last pet unless a new daemon pets it",
			d->wd_timeout_ms / 1000);
	}
	close(d->wd_fd);
	d->wd_fd = -1;
}
