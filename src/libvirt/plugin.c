/* sync_manager.so: libvirt's lock driver backed by sync_managerd (DESIGN §5-6).
 *
 * What libvirt calls when (see the shared libvirt-lock-driver notes):
 *  - guest start, in the forked QEMU child: New(NEW_STARTED) .. Acquire with
 *    REGISTER_ONLY|RESTRICT: we register the child (its pid survives exec)
 *    on a connection it inherits, with the kill program for <on_lockfailure>;
 *    no disk I/O here.  The leases die with QEMU's descriptor.
 *  - CPUs start (start, resume, migration Finish/Confirm): Acquire in
 *    libvirtd for the QEMU pid, "only at version V" when a state is given.
 *  - CPUs stop: Release (twice on one suspend: idempotent, same state).
 *  - migration Begin: Inquire.  Hot-plug: Acquire/Release of one disk.
 *  - guest exit or crash: nothing; the daemon notices QEMU's exit.
 *
 * Resources: a lease per domain ("vm-UUID"), a lease per read-write file or
 * block disk named after the storage's identity, the same on every host
 * ("disk-KIND-HASH", diskid.h), shared for <shareable/>, none for
 * <readonly/> (configurable), and <lease> elements as named resources of
 * the volume at their path.
 *
 * Failing closed: no lease volumes configured, a disk without a stable
 * identity, a sync_managerd without a watchdog (nothing would stop a guest
 * if it hung), flag bits or an interface version this plugin does not know:
 * refused, each with a message naming the fix. */
#include "diskid.h"
#include "fencecover.h"
#include "lock_driver.h"
#include "lvstate.h"
#include "plugconf.h"
#include "procargs.h"

#include "common/util.h"
#include "disk/disk.h"
#include "sync_manager/admin.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define MAX_RES 64

struct plug_res {
	struct sm_resource r;
	bool disk;
	bool implicit; /* the domain lease: part of every context, never unplugged */
	char what[SM_LOCATION_MAX + 64]; /* for messages */
};

struct plug_ctx {
	unsigned char uuid[16];
	char uuidstr[37];
	char name[64];
	pid_t pid;
	char uri[256];
	unsigned new_flags;
	int nres;
	struct plug_res res[MAX_RES];
	int unleased_rw_disks;   /* read-write disks without an automatic lease */
	char first_unleased[SM_LOCATION_MAX];
	int explicit_leases;     /* <lease> elements */
	char bad_disk[SM_LOCATION_MAX + 768]; /* why a disk's lease cannot be named (the first) */
	int covered_disks;       /* disks without identity, covered by the <lease> elements */
	char first_covered[SM_LOCATION_MAX];
	int nwritten;            /* disks the guest writes (not <readonly/>), for fencecover_check() */
	char *written[MAX_RES];
};

static struct plug_config conf;
static char conf_file[PATH_MAX]; /* for messages */
static bool initialized;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* Release states per domain, so a second Release returns the first one's,
 * and so a resume knows it continues the QEMU that released.  Each entry is
 * also kept in RUN_DIR/libvirt/UUID (tmpfs): libvirtd may restart while a
 * guest is paused, and the resume must still be held to the versions. */
#define STATE_CACHE 64
static struct {
	char uuid[37];
	char *state;
	pid_t pid; /* the QEMU that released */
} cache[STATE_CACHE];

static void plog(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void plog(int prio, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* libvirtd's stderr goes to its log; in the QEMU child, to the guest's log.
	 * Wall-clock UTC with milliseconds, in libvirt's own log format, so lines
	 * of two hosts can be compared (e.g. a migration's hand-off window). */
	struct timespec ts;
	struct tm tm;
	char stamp[40] = "";
	if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm)) {
		size_t k = strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(stamp + k, sizeof(stamp) - k, ".%03ld+0000: ", ts.tv_nsec / 1000000);
	}
	char line[840];
	int n = snprintf(line, sizeof(line), "%ssync_manager lock driver: %s\n", stamp, msg);
	if (write(STDERR_FILENO, line, (size_t)(n < (int)sizeof(line) ? n : (int)sizeof(line) - 1)) < 0) {
	}
	syslog(prio, "sync_manager lock driver: %s", msg);
}

/* Errors users see in `virsh`: libvirt exports its reporting function, so
 * look it up at run time (no link-time dependency on libvirt); without it,
 * the message still reaches libvirtd's log. */
enum { FROM_LOCKING = 42, ERR_INTERNAL = 1, ERR_INVALID_ARG = 8, ERR_OPERATION_FAILED = 9,
       ERR_CONFIG_UNSUPPORTED = 67, ERR_RESOURCE_BUSY = 87 };
typedef void (*report_helper_fn)(int domcode, int errcode, const char *file, const char *func, size_t line,
				 const char *fmt, ...);

static void report(int errcode, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(int errcode, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	plog(LOG_ERR, "%s", msg);
	report_helper_fn fn = (report_helper_fn)dlsym(RTLD_DEFAULT, "virReportErrorHelper");
	if (fn)
		fn(FROM_LOCKING, errcode, __FILE__, __func__, __LINE__, "sync_manager: %s", msg);
}

/* libvirt's virCheckFlags: a flag bit this plugin does not know is refused
 * (a newer libvirt asking for something it would silently not do). */
static bool flags_ok(const char *func, unsigned int flags, unsigned int known)
{
	if (!(flags & ~known))
		return true;
	report(ERR_INVALID_ARG, "unsupported flags (0x%x) in function %s", flags & ~known, func);
	return false;
}

/* ---- init --------------------------------------------------------------- */

/* The lock-driver interface this plugin implements: major 1 (libvirt 1.0 ..
 * 9.x pass 1000000, major x 1000000 + minor x 1000 + micro); minors add
 * no calls we would have to answer. */
#define LOCK_DRIVER_MAJOR 1

static int drv_init(unsigned int version, const char *config_file, unsigned int flags)
{
	if (!flags_ok("drvInit", flags, 0))
		return -1;
	if (version / 1000000 != LOCK_DRIVER_MAJOR) {
		report(ERR_CONFIG_UNSUPPORTED,
		       "libvirt's lock-driver interface version %u.%u.%u is not supported: this plugin implements "
		       "version %d.x (libvirt 1.0 .. 9.x); use a sync_manager built for this libvirt",
		       version / 1000000, version / 1000 % 1000, version % 1000, LOCK_DRIVER_MAJOR);
		return -1;
	}
	pthread_mutex_lock(&mu);
	if (initialized) {
		pthread_mutex_unlock(&mu);
		return 0; /* libvirt may call it once per hypervisor driver */
	}
	plug_config_defaults(&conf);
	char err[512];
	if (config_file && plug_config_load(&conf, config_file, err, sizeof(err)) < 0) {
		pthread_mutex_unlock(&mu);
		report(ERR_CONFIG_UNSUPPORTED, "bad configuration: %s", err);
		return -1;
	}
	snprintf(conf_file, sizeof(conf_file), "%s", config_file ? config_file : "(no configuration)");
	initialized = true;
	pthread_mutex_unlock(&mu);
	if (conf.volumes.count == 0) {
		if (conf.allow_unprotected)
			plog(LOG_WARNING, "no lease volumes in %s: guests without a <lease> start unprotected "
					  "(allow_unprotected_guests = 1)", conf_file);
		else
			plog(LOG_WARNING, "no lease volumes in %s: guests without a <lease> are refused (set volumes = "
					  "[ \"/path\" ], or allow_unprotected_guests = 1 to start them unprotected)",
			     conf_file);
		return 0;
	}
	/* Join asynchronously: libvirtd's start must not wait for 2d (or H). */
	sm_conn *c;
	int rc = sm_conn_open(&c);
	if (rc < 0) {
		plog(LOG_WARNING, "sync_managerd is not running: guests with leases cannot start until it is");
		return 0;
	}
	for (size_t i = 0; i < conf.volumes.count; i++) {
		rc = sm_join(c, conf.volumes.items[i], (uint32_t)conf.host_id, conf.host_name[0] ? conf.host_name : NULL, 0);
		if (rc < 0)
			plog(LOG_ERR, "cannot join the lockspace of %s: %s", conf.volumes.items[i], sm_conn_message(c));
	}
	sm_conn_close(c);
	return 0;
}

static int drv_deinit(void)
{
	pthread_mutex_lock(&mu);
	for (int i = 0; i < STATE_CACHE; i++) {
		free(cache[i].state);
		cache[i].state = NULL;
		cache[i].uuid[0] = '\0';
	}
	initialized = false;
	pthread_mutex_unlock(&mu);
	return 0;
}

/* ---- contexts ---------------------------------------------------------------- */

static void format_uuid(const unsigned char u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
		 u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

static int add_res(struct plug_ctx *ctx, const char *spec, uint32_t mode, bool disk, const char *what)
{
	if (ctx->nres == MAX_RES) {
		plog(LOG_ERR, "domain %s has more than %d leases", ctx->name, MAX_RES);
		return -1;
	}
	struct plug_res *p = &ctx->res[ctx->nres];
	if (sm_resource_parse(spec, &p->r) < 0) {
		plog(LOG_ERR, "domain %s: '%s' is not a valid lease", ctx->name, spec);
		return -1;
	}
	p->r.mode = mode;
	p->disk = disk;
	snprintf(p->what, sizeof(p->what), "%s", what);
	ctx->nres++;
	return 0;
}

/* The spec of resource NAME on the first configured volume: VOLUME:NAME,
 * or NAME:/A,/B,/C (the seed form) when that volume is a volume set. */
static void auto_spec(char *out, size_t len, const char *name)
{
	const char *vol = conf.volumes.items[0];
	if (strchr(vol, ','))
		snprintf(out, len, "%s:%s", name, vol);
	else
		snprintf(out, len, "%s:%s", vol, name);
}

static int drv_new(virLockManager *man, unsigned int type, size_t nparams, virLockManagerParam *params,
		   unsigned int flags)
{
	if (!flags_ok("drvNew", flags, VIR_LOCK_MANAGER_NEW_STARTED))
		return -1;
	if (type != VIR_LOCK_MANAGER_OBJECT_TYPE_DOMAIN) {
		plog(LOG_ERR, "unsupported object type %u", type);
		return -1;
	}
	struct plug_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -1;
	ctx->new_flags = flags;
	for (size_t i = 0; i < nparams; i++) {
		const virLockManagerParam *p = &params[i];
		if (!p->key)
			continue;
		if (!strcmp(p->key, "uuid") && p->type == VIR_LOCK_MANAGER_PARAM_TYPE_UUID)
			memcpy(ctx->uuid, p->value.uuid, 16);
		else if (!strcmp(p->key, "name") && p->value.str)
			snprintf(ctx->name, sizeof(ctx->name), "%s", p->value.str);
		else if (!strcmp(p->key, "pid"))
			ctx->pid = (pid_t)p->value.iv;
		else if (!strcmp(p->key, "uri") && p->value.cstr)
			snprintf(ctx->uri, sizeof(ctx->uri), "%s", p->value.cstr);
	}
	format_uuid(ctx->uuid, ctx->uuidstr);
	/* process names in the daemon: printable, no ':' '/' or spaces */
	for (char *c = ctx->name; *c; c++)
		if (*c <= ' ' || *c == ':' || *c == '/' || *c >= 0x7f)
			*c = '_';
	if (conf.vm_lease && conf.volumes.count) {
		char spec[SM_LOCATION_MAX + 64], rname[64];
		snprintf(rname, sizeof(rname), "vm-%s", ctx->uuidstr);
		auto_spec(spec, sizeof(spec), rname);
		if (add_res(ctx, spec, SM_EXCLUSIVE, false, "the domain lease") < 0) {
			free(ctx);
			return -1;
		}
		ctx->res[ctx->nres - 1].implicit = true;
	}
	man->privateData = ctx;
	return 0;
}

static void drv_free(virLockManager *man)
{
	struct plug_ctx *ctx = man->privateData;
	for (int i = 0; ctx && i < ctx->nwritten; i++)
		free(ctx->written[i]);
	free(man->privateData);
	man->privateData = NULL;
}

/* A disk whose lease cannot be named: covered by the domain's <lease>
 * elements if it has some (libvirt adds them before the disks), else
 * remembered, so that acquiring fails with why and how to fix it.
 * Release and inquire contexts do not need the name. */
static void disk_unnamed(struct plug_ctx *ctx, const char *path, int rc, const char *why)
{
	if (ctx->explicit_leases) {
		if (!ctx->covered_disks++)
			snprintf(ctx->first_covered, sizeof(ctx->first_covered), "%s", path);
		return;
	}
	if (ctx->bad_disk[0])
		return;
	snprintf(ctx->bad_disk, sizeof(ctx->bad_disk),
		 "cannot name a lease for disk %s that is the same on every host: %s; give the domain a <lease> "
		 "(it then covers the disk)%s",
		 path, why,
		 rc == -ENODATA ? ", or set disk_identity_fallback = \"path\" if every host names this disk by the "
				  "same path"
				: "");
}

static int add_disk(struct plug_ctx *ctx, const char *path, unsigned int flags)
{
	bool ro = flags & VIR_LOCK_MANAGER_RESOURCE_READONLY;
	uint32_t mode = (ro || (flags & VIR_LOCK_MANAGER_RESOURCE_SHARED)) ? SM_SHARED : SM_EXCLUSIVE;
	if (!ro && ctx->nwritten < MAX_RES) {
		if (!(ctx->written[ctx->nwritten] = strdup(path)))
			return -1;
		ctx->nwritten++;
	}
	struct diskid id;
	char why[512], rname[DISKID_NAME_MAX], spec[SM_LOCATION_MAX + 80], what[SM_LOCATION_MAX + 32];
	int rc = diskid_of_path(path, conf.disk_fallback == FALLBACK_PATH, &id, why, sizeof(why));
	if (rc < 0) {
		disk_unnamed(ctx, path, rc, why);
		return 0;
	}
	diskid_lease_name(&id, rname);
	auto_spec(spec, sizeof(spec), rname);
	snprintf(what, sizeof(what), "disk %s", path);
	if (add_res(ctx, spec, mode, true, what) < 0)
		return -1;
	if (!conf.legacy_disk_names)
		return 0;
	/* Rolling upgrade: guests started by an earlier plugin hold this name. */
	diskid_legacy_name(path, rname);
	auto_spec(spec, sizeof(spec), rname);
	snprintf(what, sizeof(what), "disk %s (its pre-upgrade name)", path);
	return add_res(ctx, spec, mode, true, what);
}

static int drv_add_resource(virLockManager *man, unsigned int type, const char *name, size_t nparams,
			    virLockManagerParam *params, unsigned int flags)
{
	struct plug_ctx *ctx = man->privateData;
	char spec[SM_LOCATION_MAX + 80];
	if (!flags_ok("drvAddResource", flags, VIR_LOCK_MANAGER_RESOURCE_READONLY | VIR_LOCK_MANAGER_RESOURCE_SHARED))
		return -1;
	if (type == VIR_LOCK_MANAGER_RESOURCE_TYPE_LEASE) {
		const char *path = NULL, *lockspace = NULL;
		unsigned long long offset = 0;
		for (size_t i = 0; i < nparams; i++) {
			if (!params[i].key)
				continue;
			if (!strcmp(params[i].key, "path"))
				path = params[i].value.str;
			else if (!strcmp(params[i].key, "offset"))
				offset = params[i].value.ul;
			else if (!strcmp(params[i].key, "lockspace"))
				lockspace = params[i].value.str;
		}
		if (path && path[0] == '/' && strchr(path, ','))
			snprintf(spec, sizeof(spec), "%s:%s", name, path); /* a volume set: members, offset 0 */
		else if (path && path[0] == '/')
			snprintf(spec, sizeof(spec), "%s:%llu:%s", path, offset, name);
		else if (lockspace)
			snprintf(spec, sizeof(spec), "%s:%s", lockspace, name);
		else {
			plog(LOG_ERR, "domain %s: <lease> %s names neither a volume path nor a lockspace", ctx->name, name);
			return -1;
		}
		char what[SM_LOCATION_MAX + 32];
		snprintf(what, sizeof(what), "lease %s", name);
		if (add_res(ctx, spec, (flags & VIR_LOCK_MANAGER_RESOURCE_SHARED) ? SM_SHARED : SM_EXCLUSIVE, false,
			    what) < 0)
			return -1;
		ctx->explicit_leases++;
		return 0;
	}
	if (type != VIR_LOCK_MANAGER_RESOURCE_TYPE_DISK) {
		plog(LOG_ERR, "unsupported resource type %u", type);
		return -1;
	}
	bool ro = flags & VIR_LOCK_MANAGER_RESOURCE_READONLY;
	if (!conf.volumes.count || !conf.auto_disk_leases) {
		/* No automatic lease: only the domain's <lease> elements can
		 * cover it (libvirt does not say which disk a lease protects). */
		if (!ro && !ctx->unleased_rw_disks++)
			snprintf(ctx->first_unleased, sizeof(ctx->first_unleased), "%s", name);
		return 0;
	}
	if (ro && conf.readonly_disks == RO_NONE)
		return 0;
	return add_disk(ctx, name, flags);
}

/* ---- talking to the daemon ----------------------------------------------------- */

static int connect_daemon(sm_conn **c, const struct plug_ctx *ctx)
{
	int rc = sm_conn_open(c);
	if (rc < 0)
		report(ERR_OPERATION_FAILED, "domain %s: cannot reach sync_managerd: %s", ctx->name, sm_strerror(rc));
	return rc;
}

/* 0 if the daemon runs with a watchdog (or allow_unprotected_guests says
 * it need not); -1, reported, if it runs without one, or if that cannot be
 * told (fail closed). */
static int check_protected(sm_conn *c, const struct plug_ctx *ctx)
{
	if (conf.allow_unprotected)
		return 0;
	struct sm_report *r = NULL;
	const struct sm_section *s = NULL;
	int rc = sm_status(c, &r);
	if (rc == 0)
		s = sm_report_section(r, "daemon");
	const struct sm_field *unprot = s && s->nrecords ? sm_record_field(&s->records[0], "unprotected") : NULL;
	const struct sm_field *wd = s && s->nrecords ? sm_record_field(&s->records[0], "watchdog") : NULL;
	char what[200];
	snprintf(what, sizeof(what), "%s", wd ? wd->str : "");
	bool ok = unprot && unprot->type == SM_FIELD_BOOL && !unprot->b;
	sm_report_free(r);
	if (ok)
		return 0;
	if (!unprot)
		report(ERR_OPERATION_FAILED,
		       "domain %s: cannot tell whether sync_managerd runs with a watchdog (%s): refusing its leases; "
		       "use a sync_managerd of the same version as this plugin, or set allow_unprotected_guests = 1 in %s",
		       ctx->name, rc < 0 ? sm_conn_message(c) : "its status does not say", conf_file);
	else
		report(ERR_CONFIG_UNSUPPORTED,
		       "domain %s: refusing to run it under leases nothing enforces: sync_managerd runs without a "
		       "watchdog (its status: %s), so if it hung or were killed the guest would go on writing after other "
		       "hosts took its leases over. Give sync_managerd a watchdog (modprobe softdog or a hardware one, "
		       "watchdog = auto) and restart it, or set allow_unprotected_guests = 1 in %s to accept the risk",
		       ctx->name, what[0] ? what : "none", conf_file);
	return -1;
}

/* Wait while a lockspace this context needs is still joining (and start a
 * join if the daemon has none for a configured volume). */
static void wait_for_joins(sm_conn *c, const struct plug_ctx *ctx)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	bool asked = false;
	for (;;) {
		struct sm_report *r = NULL;
		if (sm_status(c, &r) < 0)
			return;
		const struct sm_section *s = sm_report_section(r, "lockspaces");
		int joining = 0;
		for (int i = 0; s && i < s->nrecords; i++) {
			const struct sm_field *st = sm_record_field(&s->records[i], "state");
			if (st && strcmp(st->str, "joining") == 0)
				joining++;
		}
		bool none = !s || s->nrecords == 0;
		sm_report_free(r);
		if (none && !asked && conf.volumes.count) {
			for (size_t i = 0; i < conf.volumes.count; i++)
				sm_join(c, conf.volumes.items[i], (uint32_t)conf.host_id,
					conf.host_name[0] ? conf.host_name : NULL, 0);
			asked = true;
			continue;
		}
		if (!joining)
			return;
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		uint64_t waited = (uint64_t)(now.tv_sec - start.tv_sec) * 1000 + (uint64_t)(now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited >= conf.join_wait_ms) {
			plog(LOG_ERR, "domain %s: this host is still joining the lockspace after %llu ms", ctx->name,
			     (unsigned long long)waited);
			return;
		}
		usleep(250000);
	}
}

static int fence_args(const struct plug_ctx *ctx, int failure_action, const char **args, const char **action)
{
	switch (failure_action) {
	case VIR_DOMAIN_LOCK_FAILURE_POWEROFF: *action = "poweroff"; break;
	case VIR_DOMAIN_LOCK_FAILURE_PAUSE: *action = "pause"; break;
	case VIR_DOMAIN_LOCK_FAILURE_DEFAULT: *action = conf.default_action == ACT_PAUSE ? "pause" : "poweroff"; break;
	default:
		report(ERR_CONFIG_UNSUPPORTED,
		       "domain %s: <on_lockfailure>%s</on_lockfailure> is not supported; use poweroff or pause",
		       ctx->name, failure_action == VIR_DOMAIN_LOCK_FAILURE_RESTART ? "restart" : "ignore");
		return -1;
	}
	args[0] = *action;
	args[1] = ctx->uri[0] ? ctx->uri : "qemu:///system";
	args[2] = ctx->uuidstr;
	return 3;
}

/* In the forked QEMU child: register it; nothing slow, no disk I/O. */
static int register_child(struct plug_ctx *ctx, unsigned int flags, int failure_action, int *fd)
{
	/* require_lease_for_disks: read-write disks need an automatic disk
	 * lease or, without those, at least one <lease> in the domain. */
	if (conf.require_lease && ctx->unleased_rw_disks && !ctx->explicit_leases) {
		report(ERR_CONFIG_UNSUPPORTED,
		       "domain %s: read-write disk %s is not covered by a lease (%s and the domain has no <lease>) "
		       "and require_lease_for_disks is set",
		       ctx->name, ctx->first_unleased,
		       conf.volumes.count ? "auto_disk_leases = 0" : "no lease volumes are configured");
		return -1;
	}
	if (!conf.volumes.count && !ctx->explicit_leases && !conf.allow_unprotected) {
		report(ERR_CONFIG_UNSUPPORTED,
		       "domain %s: refusing to start it without any lease: no lease volumes are configured in %s "
		       "(set volumes = [ \"/path/to/lease-volume\" ] there, give the domain a <lease>, or set "
		       "allow_unprotected_guests = 1 to start guests unprotected)",
		       ctx->name, conf_file);
		return -1;
	}
	if (ctx->covered_disks)
		plog(LOG_INFO, "domain %s: disk %s%s has no lease of its own (no identity that is the same on every "
			       "host): only the domain's <lease> elements cover it",
		     ctx->name, ctx->first_covered, ctx->covered_disks > 1 ? " (and others)" : "");
	if (ctx->nres == 0)
		return 0; /* nothing to protect */
	const char *args[3], *action;
	int nargs = fence_args(ctx, failure_action, args, &action);
	if (nargs < 0)
		return -1;
	sm_conn *c;
	if (connect_daemon(&c, ctx) < 0)
		return -1;
	unsigned rf = SM_REGISTER_INHERIT | ((flags & VIR_LOCK_MANAGER_ACQUIRE_RESTRICT) ? SM_REGISTER_RESTRICT : 0);
	int rc = sm_register_kill(c, ctx->name, rf, 0, conf.fence_program, args, nargs);
	if (rc < 0) {
		report(ERR_OPERATION_FAILED, "domain %s: cannot register with sync_managerd: %s", ctx->name,
		       sm_conn_message(c));
		sm_conn_close(c);
		return -1;
	}
	/* QEMU keeps this descriptor (it is not close-on-exec): the leases live
	 * exactly as long as QEMU does.  The sm_conn itself is left behind on
	 * purpose; exec discards it. */
	if (fd)
		*fd = sm_conn_fd(c);
	return 0;
}

/* ---- release states per domain ----------------------------------------------- */

static void release_record_path(const char *uuid, char *path, size_t size)
{
	const char *dir = getenv(SM_RUN_DIR_ENV);
	snprintf(path, size, "%s/libvirt/%s", dir && *dir ? dir : SM_RUN_DIR_DEFAULT, uuid);
}

/* RUN_DIR/libvirt/UUID: "PID STARTTIME\nSTATE\n", replaced atomically. */
static void release_record_write(const char *uuid, const char *state, pid_t pid)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	release_record_path(uuid, path, sizeof(path));
	char *slash = strrchr(path, '/');
	*slash = '\0';
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		plog(LOG_WARNING, "cannot create %s: %s (a libvirtd restart while the guest is paused would lose "
				  "its lease versions)", path, strerror(errno));
		return;
	}
	*slash = '/';
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "we");
	if (!f) {
		plog(LOG_WARNING, "cannot write %s: %s", tmp, strerror(errno));
		return;
	}
	fprintf(f, "%d %llu\n%s\n", (int)pid, (unsigned long long)sm_proc_starttime(pid), state ? state : "");
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		plog(LOG_WARNING, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
	}
}

/* The record of a release by a process that still runs, or false. */
static bool release_record_read(const char *uuid, pid_t *pid, char **state)
{
	char path[PATH_MAX], line[4096];
	release_record_path(uuid, path, sizeof(path));
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	int p = 0;
	unsigned long long start = 0;
	bool ok = fscanf(f, "%d %llu\n", &p, &start) == 2 && p > 0 && start && fgets(line, sizeof(line), f);
	fclose(f);
	if (!ok || (unsigned long long)sm_proc_starttime((pid_t)p) != start)
		return false; /* that QEMU is gone: a later start is a cold one */
	line[strcspn(line, "\n")] = '\0';
	*pid = (pid_t)p;
	*state = strdup(line);
	return *state != NULL;
}

/* Keep (state, pid) for uuid, in its own slot, else a free one, else slot
 * 0 (evicted).  Takes ownership of state. */
static void cache_store(const char *uuid, char *state, pid_t pid)
{
	pthread_mutex_lock(&mu);
	int slot = -1;
	for (int i = 0; i < STATE_CACHE && slot < 0; i++)
		if (!strcmp(cache[i].uuid, uuid))
			slot = i;
	for (int i = 0; i < STATE_CACHE && slot < 0; i++)
		if (!cache[i].uuid[0])
			slot = i;
	if (slot < 0)
		slot = 0;
	free(cache[slot].state);
	snprintf(cache[slot].uuid, sizeof(cache[slot].uuid), "%s", uuid);
	cache[slot].state = state;
	cache[slot].pid = pid;
	pthread_mutex_unlock(&mu);
}

static void cache_put(const char *uuid, const char *state, pid_t pid)
{
	if (state)
		release_record_write(uuid, state, pid);
	cache_store(uuid, state ? strdup(state) : NULL, pid);
}

/* An earlier libvirtd's release of this domain, if its QEMU still runs:
 * back into the cache.  Returns whether there was one. */
static bool cache_reload(const char *uuid)
{
	pid_t pid;
	char *state;
	if (!release_record_read(uuid, &pid, &state))
		return false;
	cache_store(uuid, state, pid);
	plog(LOG_INFO, "domain %s: found the release of pid %d by an earlier libvirtd", uuid, (int)pid);
	return true;
}

static bool cache_has(const char *uuid)
{
	bool found = false;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < STATE_CACHE; i++)
		found |= !strcmp(cache[i].uuid, uuid);
	pthread_mutex_unlock(&mu);
	return found;
}

static pid_t cache_pid(const char *uuid)
{
	if (!cache_has(uuid))
		cache_reload(uuid);
	pid_t pid = 0;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < STATE_CACHE; i++)
		if (!strcmp(cache[i].uuid, uuid))
			pid = cache[i].pid;
	pthread_mutex_unlock(&mu);
	return pid;
}

/* Does this QEMU continue a paused memory image (incoming migration or a
 * restore)?  Then the lease versions it was paused at matter.  libvirt
 * starts such a QEMU with the argument "-incoming" (QEMU also takes
 * "--incoming"); a word of another argument (a disk path, a name) that
 * contains it does not count. */
static bool continues_memory_image(pid_t pid)
{
	int a = proc_has_arg(pid, "-incoming");
	int b = a == 1 ? 0 : proc_has_arg(pid, "--incoming");
	return a != 0 || b != 0; /* found, or cannot tell (negative): be strict */
}

static char *cache_get(const char *uuid)
{
	if (!cache_has(uuid))
		cache_reload(uuid);
	char *s = NULL;
	pthread_mutex_lock(&mu);
	for (int i = 0; i < STATE_CACHE; i++)
		if (!strcmp(cache[i].uuid, uuid) && cache[i].state)
			s = strdup(cache[i].state);
	pthread_mutex_unlock(&mu);
	return s;
}

static const char *lockspace_of(const struct sm_lease_info *held, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(held[i].name, name))
			return held[i].lockspace;
	return NULL;
}

/* "PATH:OFFSET" with PATH's symlinks resolved: how sync_managerd names the
 * volume of a joined lockspace (its status "volume"); for a volume set
 * "A,B,C", its members so named, sorted. */
static bool canonical_one(const char *location, char *out, size_t len)
{
	char *path = NULL, real[PATH_MAX];
	uint64_t off = 0;
	if (sm_disk_parse_location(location, &path, &off) < 0)
		return false;
	bool ok = realpath(path, real) && (size_t)snprintf(out, len, "%s:%llu", real, (unsigned long long)off) < len;
	free(path);
	return ok;
}

static int cmp_member(const void *a, const void *b) { return strcmp(a, b); }

static bool canonical_volume(const char *location, char *out, size_t len)
{
	if (!strchr(location, ','))
		return canonical_one(location, out, len);
	char m[3][SM_LOCATION_MAX], one[SM_LOCATION_MAX];
	int n = 0;
	for (const char *p = location; n < 3;) {
		const char *comma = strchr(p, ',');
		size_t l = comma ? (size_t)(comma - p) : strlen(p);
		if (l >= sizeof(one))
			return false;
		memcpy(one, p, l);
		one[l] = '\0';
		if (!canonical_one(one, m[n++], sizeof(m[0])))
			return false;
		if (!comma)
			break;
		p = comma + 1;
	}
	if (n != 3)
		return false;
	qsort(m, 3, sizeof(m[0]), cmp_member);
	return (size_t)snprintf(out, len, "%s,%s,%s", m[0], m[1], m[2]) < len;
}

/* The lockspace of each resource of ctx as the daemon names it: the one
 * given (LOCKSPACE:NAME), or the lockspace joined on its volume; "" when
 * it cannot be told (no such lockspace joined, three volumes). */
static void resource_lockspaces(sm_conn *c, const struct plug_ctx *ctx, char ls[][64])
{
	struct sm_report *r = NULL;
	const struct sm_section *s = NULL;
	if (sm_status(c, &r) == 0)
		s = sm_report_section(r, "lockspaces");
	for (int i = 0; i < ctx->nres; i++) {
		const struct sm_resource *res = &ctx->res[i].r;
		char canon[SM_LOCATION_MAX + 32];
		snprintf(ls[i], 64, "%s", res->lockspace);
		if (ls[i][0] || res->nlocations != 1 || !canonical_volume(res->location[0], canon, sizeof(canon)))
			continue;
		for (int k = 0; s && k < s->nrecords; k++) {
			const struct sm_field *vol = sm_record_field(&s->records[k], "volume");
			const struct sm_field *name = sm_record_field(&s->records[k], "name");
			if (vol && name && !strcmp(vol->str, canon))
				snprintf(ls[i], 64, "%s", name->str);
		}
	}
	sm_report_free(r);
}

/* Migration and resume: an exclusive resource the state recorded is taken
 * only at the version recorded, matched on lockspace and name (a name is
 * unique only within its lockspace).  -1 when the state names a resource
 * of this context whose lockspace cannot be told: refuse, not guess. */
static int apply_versions(const struct plug_ctx *ctx, const struct plug_res *p, const char *ls,
			  const struct lvstate *st, struct sm_resource *out)
{
	if (!st->n || p->r.mode != SM_EXCLUSIVE)
		return 0;
	if (!ls[0]) {
		for (int k = 0; k < st->n; k++)
			if (!strcmp(st->l[k].name, p->r.name)) {
				report(ERR_OPERATION_FAILED,
				       "domain %s: cannot tell which lockspace %s (%s) is in, so the lease version the "
				       "guest was paused at cannot be checked: is the lockspace of %s joined on this host?",
				       ctx->name, p->what, p->r.name,
				       p->r.nlocations ? p->r.location[0] : p->r.lockspace);
				return -1;
			}
		return 0;
	}
	const struct lvstate_lease *l = lvstate_find(st, ls, p->r.name);
	if (l && l->mode == SM_EXCLUSIVE) {
		out->at_version = true;
		out->version = l->lver;
	}
	return 0;
}

/* Leases in a lockspace fenced by reservation protect the guest's disks only
 * if the lockspace fences their LUNs (fencecover.h): checked for each volume
 * the wanted leases are on by path (leases named by lockspace alone are the
 * admin's responsibility, docs/admin-guide.md). */
static int check_fence_cover(const struct plug_ctx *ctx, const struct plug_res *const *wanted, int n)
{
	const char *checked[MAX_RES];
	int nchecked = 0;
	for (int i = 0; i < n; i++) {
		if (wanted[i]->r.nlocations != 1)
			continue;
		const char *vol = wanted[i]->r.location[0];
		bool seen = false;
		for (int k = 0; k < nchecked && !seen; k++)
			seen = strcmp(checked[k], vol) == 0;
		if (seen)
			continue;
		checked[nchecked++] = vol;
		char err[1024];
		if (fencecover_check(vol, (const char *const *)ctx->written, ctx->nwritten, err, sizeof(err)) < 0) {
			report(ERR_OPERATION_FAILED, "domain %s: %s", ctx->name, err);
			return -1;
		}
	}
	return 0;
}

/* libvirt's "resource busy": another host holds it (or is not yet known to
 * be dead), a concurrent ballot won, or it moved on from the version asked. */
static bool resource_busy(int rc)
{
	enum sm_error_class cls = sm_error_class(rc);
	return cls == SM_ERRCLASS_REFUSED || cls == SM_ERRCLASS_RETRY || rc == -SM_ELVER_MISMATCH;
}

static int acquire(struct plug_ctx *ctx, const char *state, int failure_action)
{
	(void)failure_action;
	struct lvstate st = {0};
	char err[256];
	if (state && *state && lvstate_decode(state, &st, err, sizeof(err)) < 0) {
		report(ERR_OPERATION_FAILED, "domain %s: refusing the lease state: %s", ctx->name, err);
		return -1;
	}
	/* Versions protect a paused memory image that continues: a resume (same
	 * QEMU that released) or an incoming migration/restore.  A cold boot
	 * reads its disks afresh; libvirt may still hand it an old state. */
	if (st.n && cache_pid(ctx->uuidstr) != ctx->pid && !continues_memory_image(ctx->pid)) {
		plog(LOG_INFO, "domain %s: cold start: ignoring the lease versions of an earlier run", ctx->name);
		st.n = 0;
	}
	if (ctx->nres == 0)
		return 0;
	sm_conn *c;
	if (connect_daemon(&c, ctx) < 0)
		return -1;
	if (check_protected(c, ctx) < 0) {
		sm_conn_close(c);
		return -1;
	}
	wait_for_joins(c, ctx);
	/* Hot-plug contexts carry the domain lease too (libvirt cannot tell
	 * us apart from a start): leases the process holds already are kept. */
	struct sm_lease_info *held = NULL;
	int nheld = sm_inquire(c, ctx->pid, &held);
	if (nheld < 0)
		nheld = 0;
	char ls[MAX_RES][64] = {{0}};
	if (st.n)
		resource_lockspaces(c, ctx, ls); /* only a state's versions need them */
	struct sm_resource res[MAX_RES];
	const struct plug_res *wanted[MAX_RES];
	int n = 0;
	for (int i = 0; i < ctx->nres; i++) {
		if (lockspace_of(held, nheld, ctx->res[i].r.name))
			continue;
		wanted[n] = &ctx->res[i];
		res[n] = ctx->res[i].r;
		if (apply_versions(ctx, &ctx->res[i], ls[i], &st, &res[n]) < 0) {
			free(held);
			sm_conn_close(c);
			return -1;
		}
		n++;
	}
	free(held);
	if (n == 0) {
		sm_conn_close(c);
		return 0;
	}
	if (check_fence_cover(ctx, wanted, n) < 0) {
		sm_conn_close(c);
		return -1;
	}
	struct sm_lease_info info[MAX_RES];
	int rc = sm_acquire(c, ctx->pid, res, n, SM_ACQUIRE_CREATE, info);
	if (rc < 0) {
		report(resource_busy(rc) ? ERR_RESOURCE_BUSY : ERR_OPERATION_FAILED,
		       "domain %s: cannot acquire its leases: %s", ctx->name, sm_conn_message(c));
		sm_conn_close(c);
		return -1;
	}
	for (int i = 0; i < n; i++)
		plog(LOG_INFO, "domain %s: acquired %s (%s:%s) %s at lver %llu", ctx->name, wanted[i]->what,
		     info[i].lockspace, info[i].name, info[i].mode == SM_SHARED ? "shared" : "exclusive",
		     (unsigned long long)info[i].lver);
	sm_conn_close(c);
	return 0;
}

static int drv_acquire(virLockManager *man, const char *state, unsigned int flags, int failure_action, int *fd)
{
	struct plug_ctx *ctx = man->privateData;
	if (fd)
		*fd = -1;
	if (!flags_ok("drvAcquire", flags, VIR_LOCK_MANAGER_ACQUIRE_REGISTER_ONLY | VIR_LOCK_MANAGER_ACQUIRE_RESTRICT))
		return -1;
	if (ctx->bad_disk[0]) {
		report(ERR_CONFIG_UNSUPPORTED, "domain %s: %s", ctx->name, ctx->bad_disk);
		return -1;
	}
	if (flags & VIR_LOCK_MANAGER_ACQUIRE_REGISTER_ONLY) {
		if (state && *state) {
			/* validate now, so a foreign state fails the start early */
			struct lvstate st;
			char err[256];
			if (lvstate_decode(state, &st, err, sizeof(err)) < 0) {
				report(ERR_OPERATION_FAILED, "domain %s: refusing the lease state: %s", ctx->name, err);
				return -1;
			}
		}
		return register_child(ctx, flags, failure_action, fd);
	}
	return acquire(ctx, state, failure_action);
}

/* ---- release / inquire ---------------------------------------------------------- */

/* The leases of this context that pid holds now (explicit ones only when
 * explicit_only: an unplug names one disk, not the domain). */
static int held_by_ctx(sm_conn *c, const struct plug_ctx *ctx, struct lvstate *st, struct sm_resource *rel, int *nrel,
		       bool explicit_only)
{
	struct sm_lease_info *held = NULL;
	int n = sm_inquire(c, ctx->pid, &held);
	if (n < 0)
		return n;
	st->n = 0;
	*nrel = 0;
	for (int i = 0; i < ctx->nres; i++) {
		const char *ls = lockspace_of(held, n, ctx->res[i].r.name);
		if (!ls || (explicit_only && ctx->res[i].implicit))
			continue;
		for (int k = 0; k < n; k++)
			if (!strcmp(held[k].name, ctx->res[i].r.name) && st->n < LVSTATE_MAX_LEASES) {
				struct lvstate_lease *l = &st->l[st->n++];
				snprintf(l->lockspace, sizeof(l->lockspace), "%s", held[k].lockspace);
				snprintf(l->name, sizeof(l->name), "%s", held[k].name);
				l->mode = held[k].mode;
				l->lver = held[k].lver;
				if (rel)
					rel[(*nrel)++] = ctx->res[i].r;
				break;
			}
	}
	free(held);
	return 0;
}

/* After a failed release: the process holds none of ctx's leases any more. */
static bool released_anyway(sm_conn *c, const struct plug_ctx *ctx, bool explicit_only)
{
	struct lvstate now;
	int n;
	return held_by_ctx(c, ctx, &now, NULL, &n, explicit_only) == 0 && now.n == 0;
}

static int drv_release(virLockManager *man, char **state, unsigned int flags)
{
	struct plug_ctx *ctx = man->privateData;
	if (state)
		*state = NULL;
	if (!flags_ok("drvRelease", flags, 0))
		return -1;
	if (ctx->nres == 0)
		return 0;
	sm_conn *c;
	if (connect_daemon(&c, ctx) < 0)
		return -1;
	struct lvstate st;
	struct sm_resource rel[MAX_RES];
	int nrel = 0;
	/* Release(NULL) is an unplug; Release(&state) stops the CPUs. */
	int rc = held_by_ctx(c, ctx, &st, rel, &nrel, state == NULL);
	if (rc == -SM_ENOT_REGISTERED) {
		rc = 0; /* QEMU is gone: its leases went with it */
		nrel = 0;
	}
	if (rc == 0 && nrel)
		rc = sm_release(c, ctx->pid, rel, nrel);
	if (rc < 0 && nrel && released_anyway(c, ctx, state == NULL)) {
		/* The daemon took them from the process but could not write the
		 * release (storage failing): it settles them itself.  The state
		 * must still go to libvirt, so that a resume is held to it. */
		plog(LOG_WARNING, "domain %s (pid %d): released its leases; writing the release failed (%s): sync_managerd "
				  "settles them", ctx->name, (int)ctx->pid, sm_conn_message(c));
		rc = 0;
	}
	if (rc < 0) {
		plog(LOG_ERR, "domain %s (pid %d): releasing its leases failed: %s", ctx->name, (int)ctx->pid,
		     sm_conn_message(c));
		sm_conn_close(c);
		return -1;
	}
	sm_conn_close(c);
	if (!state)
		return 0; /* unplug: no state wanted */
	if (nrel == 0) {
		/* A second Release of the same pause: the same state again. */
		*state = cache_get(ctx->uuidstr);
		if (!*state)
			*state = strdup(LVSTATE_PREFIX);
		return *state ? 0 : -1;
	}
	*state = lvstate_encode(&st);
	if (!*state)
		return -1;
	cache_put(ctx->uuidstr, *state, ctx->pid);
	plog(LOG_INFO, "domain %s: released %d lease(s): %s", ctx->name, nrel, *state);
	return 0;
}

static int drv_inquire(virLockManager *man, char **state, unsigned int flags)
{
	struct plug_ctx *ctx = man->privateData;
	if (state)
		*state = NULL;
	if (!flags_ok("drvInquire", flags, 0))
		return -1;
	if (ctx->nres == 0 || !state)
		return 0;
	sm_conn *c;
	if (connect_daemon(&c, ctx) < 0)
		return -1;
	struct lvstate st;
	int nrel;
	int rc = held_by_ctx(c, ctx, &st, NULL, &nrel, false);
	sm_conn_close(c);
	if (rc < 0) {
		/* A paused guest has released: its state is the release's. */
		*state = cache_get(ctx->uuidstr);
		if (*state)
			return 0;
		plog(LOG_ERR, "domain %s: cannot inquire its leases: %s", ctx->name, sm_strerror(rc));
		return -1;
	}
	if (st.n == 0 && (*state = cache_get(ctx->uuidstr)))
		return 0;
	*state = lvstate_encode(&st);
	return *state ? 0 : -1;
}

__attribute__((visibility("default"))) virLockDriver virLockDriverImpl = {
	.version = 1000000,
	.flags = VIR_LOCK_MANAGER_USES_STATE,
	.drvInit = drv_init,
	.drvDeinit = drv_deinit,
	.drvNew = drv_new,
	.drvFree = drv_free,
	.drvAddResource = drv_add_resource,
	.drvAcquire = drv_acquire,
	.drvRelease = drv_release,
	.drvInquire = drv_inquire,
};
