/* The libvirt lock driver through its real ABI, the way libvirtd uses it:
 * dlopen(RTLD_NOW | RTLD_LOCAL) of the built lock-driver/sync_manager.so,
 * the virLockDriverImpl table, drvInit(1000000, configFile, 0) .. drvDeinit.
 *
 * Covers the configuration file (missing, syntax errors, unknown keys, bad
 * values, refused failure actions: what the user sees, file:line included),
 * and the guest-start refusals that happen before sync_managerd is asked
 * (on_lockfailure restart/ignore, require_lease_for_disks, foreign lease
 * states).  SYNC_MANAGER_RUN_DIR points at an empty directory, so no daemon
 * is ever reached: where a start gets as far as the daemon, it must fail
 * with "cannot reach sync_managerd" (which tells that no refusal came
 * first).
 *
 * What users see: libvirt exports virReportErrorHelper(), which the plugin
 * looks up at run time; this program exports one too and records the
 * messages.  The plugin also writes every message to stderr (libvirtd's
 * log), captured here. */
#include "testutil.h"

#include "../../src/libvirt/lock_driver.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SM_PLUGIN_PATH
#error "SM_PLUGIN_PATH: the built lock-driver/sync_manager.so"
#endif

/* libvirt's lock_manager.c passes VIR_LOCK_MANAGER_VERSION: major 1 x 1000000. */
#define LIBVIRT_LOCK_MANAGER_VERSION 1000000
/* libvirt's error domain and codes the plugin uses (virerror.h). */
enum { VIR_FROM_LOCKING = 42, VIR_ERR_INVALID_ARG = 8, VIR_ERR_OPERATION_FAILED = 9, VIR_ERR_CONFIG_UNSUPPORTED = 67 };

static void *handle;
static virLockDriver *drv;
static char dir[512], rundir[600];

/* ---- libvirt's error hook, as libvirtd provides it ------------------------------ */

static int nreports;
static int report_dom, report_code;
static char report_msg[1024];

void virReportErrorHelper(int domcode, int errcode, const char *filename, const char *funcname, size_t linenr,
			  const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void virReportErrorHelper(int domcode, int errcode, const char *filename, const char *funcname, size_t linenr,
			  const char *fmt, ...)
{
	(void)filename;
	(void)funcname;
	(void)linenr;
	nreports++;
	report_dom = domcode;
	report_code = errcode;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(report_msg, sizeof(report_msg), fmt, ap);
	va_end(ap);
}

/* ---- stderr capture ---------------------------------------------------------------- */

static int saved_stderr = -1;
static char cap_path[700];
static char logtext[8192];

static void capture_start(void)
{
	nreports = 0;
	report_msg[0] = '\0';
	logtext[0] = '\0';
	snprintf(cap_path, sizeof(cap_path), "%s/stderr", dir);
	int fd = open(cap_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
	close(fd);
}

static void capture_stop(void)
{
	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	FILE *f = fopen(cap_path, "r");
	assert_non_null(f);
	size_t n = fread(logtext, 1, sizeof(logtext) - 1, f);
	logtext[n] = '\0';
	fclose(f);
	unlink(cap_path);
}

#define assert_contains(hay, needle)                                                             \
	do {                                                                                     \
		if (!strstr((hay), (needle)))                                                    \
			fail_msg("'%s' not found in: %s", (needle), (hay));                       \
	} while (0)
#define assert_lacks(hay, needle)                                                                \
	do {                                                                                     \
		if (strstr((hay), (needle)))                                                     \
			fail_msg("'%s' unexpectedly found in: %s", (needle), (hay));              \
	} while (0)

/* ---- helpers ------------------------------------------------------------------------- */

static char conf_path[700];

static const char *write_conf(const char *name, const char *text)
{
	snprintf(conf_path, sizeof(conf_path), "%s/%s", dir, name);
	FILE *f = fopen(conf_path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	return conf_path;
}

/* drvInit as libvirtd calls it, with stderr and reports captured. */
static int init(const char *config_file)
{
	capture_start();
	int rc = drv->drvInit(LIBVIRT_LOCK_MANAGER_VERSION, config_file, 0);
	capture_stop();
	return rc;
}

/* A configuration that must be refused: -1, one report to libvirt from the
 * locking domain, and the same text in the log, all naming file:line. */
static void assert_init_refused(const char *name, const char *text, unsigned line, const char *what)
{
	const char *path = write_conf(name, text);
	char where[800];
	snprintf(where, sizeof(where), "%s:%u: ", path, line);
	assert_int_equal(init(path), -1);
	assert_int_equal(nreports, 1);
	assert_int_equal(report_dom, VIR_FROM_LOCKING);
	assert_int_equal(report_code, VIR_ERR_CONFIG_UNSUPPORTED);
	assert_contains(report_msg, "sync_manager: bad configuration: ");
	assert_contains(report_msg, where);
	assert_contains(report_msg, what);
	assert_contains(logtext, "sync_manager lock driver: bad configuration: ");
	assert_contains(logtext, where);
	assert_contains(logtext, what);
	unlink(path);
}

static int teardown(void **state)
{
	(void)state;
	assert_int_equal(drv->drvDeinit(), 0);
	return 0;
}

/* A domain context as libvirt builds it: uuid, name, id, pid, uri. */
static virLockManager *new_domain(unsigned flags, int pid)
{
	virLockManager *man = calloc(1, sizeof(*man));
	assert_non_null(man);
	man->driver = drv;
	virLockManagerParam p[5];
	memset(p, 0, sizeof(p));
	p[0].type = VIR_LOCK_MANAGER_PARAM_TYPE_UUID;
	p[0].key = "uuid";
	for (int i = 0; i < 16; i++)
		p[0].value.uuid[i] = (unsigned char)(0x10 + i);
	p[1].type = VIR_LOCK_MANAGER_PARAM_TYPE_STRING;
	p[1].key = "name";
	p[1].value.str = (char *)"guest1";
	p[2].type = VIR_LOCK_MANAGER_PARAM_TYPE_UINT;
	p[2].key = "id";
	p[2].value.iv = 3;
	p[3].type = VIR_LOCK_MANAGER_PARAM_TYPE_UINT;
	p[3].key = "pid";
	p[3].value.iv = pid;
	p[4].type = VIR_LOCK_MANAGER_PARAM_TYPE_CSTRING;
	p[4].key = "uri";
	p[4].value.cstr = "qemu:///system";
	assert_int_equal(drv->drvNew(man, VIR_LOCK_MANAGER_OBJECT_TYPE_DOMAIN, 5, p, flags), 0);
	assert_non_null(man->privateData);
	return man;
}

static void free_domain(virLockManager *man)
{
	drv->drvFree(man);
	assert_null(man->privateData);
	free(man);
}

/* DIR/images/NAME, an existing image file (disk leases are named after
 * what the path is: a missing disk cannot be named). */
static const char *img(const char *name)
{
	static char bufs[4][700];
	static int next;
	char *path = bufs[next++ % 4];
	snprintf(path, 700, "%s/images/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	return path;
}

static void add_disk(virLockManager *man, const char *path, unsigned flags)
{
	assert_int_equal(drv->drvAddResource(man, VIR_LOCK_MANAGER_RESOURCE_TYPE_DISK, path, 0, NULL, flags), 0);
}

/* <lease><key>KEY</key><target path='PATH' offset='0'/></lease> */
static void add_lease(virLockManager *man, const char *key, const char *path)
{
	virLockManagerParam p[2];
	memset(p, 0, sizeof(p));
	p[0].type = VIR_LOCK_MANAGER_PARAM_TYPE_STRING;
	p[0].key = "path";
	p[0].value.str = (char *)path;
	p[1].type = VIR_LOCK_MANAGER_PARAM_TYPE_ULONG;
	p[1].key = "offset";
	p[1].value.ul = 0;
	assert_int_equal(drv->drvAddResource(man, VIR_LOCK_MANAGER_RESOURCE_TYPE_LEASE, key, 2, p, 0), 0);
}

/* The guest start in the forked QEMU child: Acquire(REGISTER_ONLY|RESTRICT). */
static int start_child(virLockManager *man, const char *state, int action)
{
	int fd = -2;
	capture_start();
	int rc = drv->drvAcquire(man, state,
				 VIR_LOCK_MANAGER_ACQUIRE_REGISTER_ONLY | VIR_LOCK_MANAGER_ACQUIRE_RESTRICT, action, &fd);
	capture_stop();
	assert_int_equal(fd, -1); /* nothing registered, nothing handed to QEMU */
	return rc;
}

/* The start got past every local check and stopped at the daemon. */
static void assert_stopped_at_daemon(int rc)
{
	assert_int_equal(rc, -1);
	assert_int_equal(nreports, 1);
	assert_int_equal(report_code, VIR_ERR_OPERATION_FAILED);
	assert_contains(report_msg, "cannot reach sync_managerd");
	assert_contains(logtext, "cannot reach sync_managerd");
}

/* ---- the module and its table ----------------------------------------------------------- */

static void module_loads_like_libvirtd_and_exports_only_the_table(void **state)
{
	(void)state;
	assert_non_null(drv);
	assert_int_equal(drv->version, 1000000);
	assert_true(drv->flags & VIR_LOCK_MANAGER_USES_STATE);
	assert_non_null(drv->drvInit);
	assert_non_null(drv->drvDeinit);
	assert_non_null(drv->drvNew);
	assert_non_null(drv->drvFree);
	assert_non_null(drv->drvAddResource);
	assert_non_null(drv->drvAcquire);
	assert_non_null(drv->drvRelease);
	assert_non_null(drv->drvInquire);
	static const char *const internal[] = {"lvstate_decode", "plug_config_load", "sm_conn_open",
					       "sm_config_load", "drv_init"};
	for (size_t i = 0; i < sizeof(internal) / sizeof(internal[0]); i++)
		if (dlsym(handle, internal[i]))
			fail_msg("the module exports %s", internal[i]);
}

/* ---- drvInit and the configuration file ----------------------------------------------------- */

static void missing_config_file_means_defaults(void **state)
{
	(void)state;
	char path[700];
	snprintf(path, sizeof(path), "%s/qemu-sync_manager.conf", dir);
	assert_int_equal(init(path), 0);
	assert_int_equal(nreports, 0);
	/* no volumes by default: said in the log, naming the file */
	assert_contains(logtext, "no lease volumes in ");
	assert_contains(logtext, path);
}

static void no_config_file_means_defaults(void **state)
{
	(void)state;
	assert_int_equal(init(NULL), 0);
	assert_int_equal(nreports, 0);
	assert_contains(logtext, "no lease volumes in (no configuration)");
}

static void init_is_idempotent(void **state)
{
	(void)state;
	const char *path = write_conf("ok.conf", "vm_lease = 1\n");
	assert_int_equal(init(path), 0);
	/* libvirt calls it again for another hypervisor driver */
	assert_int_equal(init(path), 0);
	assert_int_equal(nreports, 0);
	assert_string_equal(logtext, ""); /* the second call does nothing */
}

static void volumes_without_daemon_do_not_block_init(void **state)
{
	(void)state;
	const char *path = write_conf("vol.conf", "volumes = [ \"/nonexistent/leases\", \"/nonexistent/leases2:1048576\" ]\n"
						  "host_id = 7\nhost_name = \"node7\"\njoin_wait = 0.5\n");
	assert_int_equal(init(path), 0);
	assert_int_equal(nreports, 0);
	assert_contains(logtext, "sync_managerd is not running");
}

static void all_keys_are_accepted(void **state)
{
	(void)state;
	const char *path = write_conf("all.conf", "# every key\n"
						  "volumes = [ \"/dev/vg/leases\" ]\n"
						  "auto_disk_leases = 0\n"
						  "vm_lease = no\n"
						  "require_lease_for_disks = yes\n"
						  "readonly_disks = \"shared\"\n"
						  "host_id = 2000\n"
						  "host_name = node-1.example\n"
						  "default_failure_action = pause\n"
						  "join_wait = 600\n"
						  "fence_program = \"/usr/local/libexec/fence\"\n"
						  "allow_unprotected_guests = 0\n"
						  "disk_identity_fallback = \"path\"\n"
						  "legacy_disk_names = 1\n");
	assert_int_equal(init(path), 0);
	assert_int_equal(nreports, 0);
}

static void syntax_errors_are_refused_with_file_and_line(void **state)
{
	(void)state;
	assert_init_refused("syntax1.conf", "# comment\nvm_lease = 1\nvolumes = [ \"/dev/vg/leases\"\n", 3,
			    "volumes: list is not closed with ']'");
	assert_init_refused("syntax2.conf", "auto_disk_leases 1\n", 1, "auto_disk_leases: expected '=' after the key");
	assert_init_refused("syntax3.conf", "\n\n\n= 1\n", 4, "missing key before '='");
	assert_init_refused("syntax4.conf", "host_name = \"node\n", 1, "missing closing '\"'");
	assert_init_refused("syntax5.conf", "vm_lease = 1\nvm_lease = 0\n", 2, "duplicate key 'vm_lease'");
}

static void unknown_keys_are_refused_with_file_and_line(void **state)
{
	(void)state;
	assert_init_refused("unknown1.conf", "vm_lease = 1\nrequire_leases_for_disks = 1\n", 2,
			    "unknown key 'require_leases_for_disks' (did you mean 'require_lease_for_disks'?)");
	assert_init_refused("unknown2.conf", "lock_manager = \"sanlock\"\n", 1, "unknown key 'lock_manager'");
}

static void bad_values_are_refused_with_file_and_line(void **state)
{
	(void)state;
	assert_init_refused("bad1.conf", "auto_disk_leases = maybe\n", 1,
			    "auto_disk_leases: 'maybe' is not a boolean");
	assert_init_refused("bad2.conf", "\nhost_id = 2001\n", 2, "host_id: '2001' is out of range (0 .. 2000)");
	assert_init_refused("bad3.conf", "join_wait = 1.2345\n", 1, "join_wait: '1.2345' has more than 3 decimals");
	assert_init_refused("bad4.conf", "readonly_disks = \"exclusive\"\n", 1,
			    "readonly_disks: 'exclusive' is not one of: none, shared");
	assert_init_refused("bad5.conf", "vm_lease = 1 # ok\nauto_disk_leases = 1\nvolumes = \"/a\", \"/b\"\n", 3,
			    "volumes: unexpected ', \"/b\"' after the closing quote");
}

static void restart_and_ignore_failure_actions_are_refused(void **state)
{
	(void)state;
	assert_init_refused("action1.conf", "default_failure_action = \"restart\"\n", 1,
			    "default_failure_action: 'restart' is not one of: poweroff, pause");
	assert_init_refused("action2.conf", "volumes = [ \"/x\" ]\ndefault_failure_action = ignore\n", 2,
			    "default_failure_action: 'ignore' is not one of: poweroff, pause");
}

static void checks_after_parsing_name_the_file(void **state)
{
	(void)state;
	const char *path = write_conf("rel.conf", "volumes = [ \"leases.img\" ]\n");
	assert_int_equal(init(path), -1);
	assert_int_equal(nreports, 1);
	assert_contains(report_msg, path);
	assert_contains(report_msg, "volumes: 'leases.img' is not an absolute path");
	path = write_conf("hostname.conf", "host_name = \"a:b\"\n");
	assert_int_equal(init(path), -1);
	assert_contains(report_msg, path);
	assert_contains(report_msg, "host_name: 'a:b' is not a valid name");
}

static void unreadable_config_is_refused(void **state)
{
	(void)state;
	/* a directory where the file should be */
	char path[700];
	snprintf(path, sizeof(path), "%s/adir.conf", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(init(path), -1);
	assert_int_equal(nreports, 1);
	assert_contains(report_msg, "bad configuration: ");
	assert_contains(report_msg, path);
	rmdir(path);
}

static void a_good_init_works_after_a_refused_one(void **state)
{
	(void)state;
	assert_init_refused("first.conf", "vm_lease = perhaps\n", 1, "vm_lease: 'perhaps' is not a boolean");
	const char *path = write_conf("second.conf", "vm_lease = 0\n");
	assert_int_equal(init(path), 0);
	assert_int_equal(nreports, 0);
}

/* ---- guest start: refusals before sync_managerd is asked ------------------------------------ */

static void on_lockfailure_restart_and_ignore_are_refused_at_start(void **state)
{
	(void)state;
	assert_int_equal(init(write_conf("start.conf", "volumes = [ \"/nonexistent/leases\" ]\n")), 0);
	static const struct {
		int action;
		const char *word;
	} refused[] = {{VIR_DOMAIN_LOCK_FAILURE_RESTART, "restart"}, {VIR_DOMAIN_LOCK_FAILURE_IGNORE, "ignore"}};
	for (size_t i = 0; i < 2; i++) {
		virLockManager *man = new_domain(VIR_LOCK_MANAGER_NEW_STARTED, (int)getpid());
		add_disk(man, img("guest1.qcow2"), 0);
		assert_int_equal(start_child(man, NULL, refused[i].action), -1);
		assert_int_equal(nreports, 1);
		assert_int_equal(report_code, VIR_ERR_CONFIG_UNSUPPORTED);
		char what[128];
		snprintf(what, sizeof(what), "<on_lockfailure>%s</on_lockfailure> is not supported; use poweroff or pause",
			 refused[i].word);
		assert_contains(report_msg, "domain guest1: ");
		assert_contains(report_msg, what);
		assert_contains(logtext, what);
		free_domain(man);
	}
	/* the others get as far as the daemon */
	static const int accepted[] = {VIR_DOMAIN_LOCK_FAILURE_DEFAULT, VIR_DOMAIN_LOCK_FAILURE_POWEROFF,
				       VIR_DOMAIN_LOCK_FAILURE_PAUSE};
	for (size_t i = 0; i < 3; i++) {
		virLockManager *man = new_domain(VIR_LOCK_MANAGER_NEW_STARTED, (int)getpid());
		add_disk(man, img("guest1.qcow2"), 0);
		assert_stopped_at_daemon(start_child(man, NULL, accepted[i]));
		free_domain(man);
	}
}

static void foreign_lease_state_is_refused_at_start_and_resume(void **state)
{
	(void)state;
	assert_int_equal(init(write_conf("state.conf", "volumes = [ \"/nonexistent/leases\" ]\n")), 0);
	virLockManager *man = new_domain(VIR_LOCK_MANAGER_NEW_STARTED, (int)getpid());
	add_disk(man, img("guest1.qcow2"), 0);
	/* migration Prepare: the child start with the source's state */
	assert_int_equal(start_child(man, "lockspace:vm-1:/var/lib/libvirt/sanlock/x:0:5",
				     VIR_DOMAIN_LOCK_FAILURE_POWEROFF),
			 -1);
	assert_int_equal(nreports, 1);
	assert_contains(report_msg, "domain guest1: refusing the lease state: lease state "
				    "'lockspace:vm-1:/var/lib/libvirt/...' was not written by sync_manager");
	assert_int_equal(start_child(man, "sync_manager/2;ls:a:EX:1", VIR_DOMAIN_LOCK_FAILURE_POWEROFF), -1);
	assert_contains(report_msg, "is sync_manager format '2'; this plugin reads format 1 only");
	free_domain(man);

	/* migration Finish / resume, in libvirtd: Acquire(state, 0) */
	man = new_domain(0, (int)getpid());
	add_disk(man, img("guest1.qcow2"), 0);
	capture_start();
	int rc = drv->drvAcquire(man, "sync_manager/1;ls:a:EX:18446744073709551616", 0, 0, NULL);
	capture_stop();
	assert_int_equal(rc, -1);
	assert_int_equal(nreports, 1);
	assert_contains(report_msg, "refusing the lease state: bad lease version '18446744073709551616' in entry 1");
	free_domain(man);
}

static const char require_conf[] = "volumes = [ \"/nonexistent/leases\" ]\n"
				   "auto_disk_leases = 0\n"
				   "vm_lease = 0\n"
				   "require_lease_for_disks = 1\n";

static void require_lease_refuses_rw_disk_without_any_lease(void **state)
{
	(void)state;
	assert_int_equal(init(write_conf("require.conf", require_conf)), 0);
	virLockManager *man = new_domain(VIR_LOCK_MANAGER_NEW_STARTED, (int)getpid());
	add_disk(man, img("boot.iso"), VIR_LOCK_MANAGER_RESOURCE_READONLY);
	add_disk(man, img("guest1.qcow2"), 0);
	add_disk(man, img("guest1-data.qcow2"), 0);
	assert_int_equal(start_child(man, NULL, VIR_DOMAIN_LOCK_FAILURE_POWEROFF), -1);
	assert_int_equal(nreports, 1);
	assert_int_equal(report_code, VIR_ERR_CONFIG_UNSUPPORTED);
	assert_contains(report_msg, "domain guest1: read-write disk ");
	assert_contains(report_msg, img("guest1.qcow2"));
	assert_contains(report_msg, "guest1.qcow2 is not covered by a lease");
	assert_contains(report_msg, "auto_disk_leases = 0 and the domain has no <lease>");
	assert_contains(report_msg, "require_lease_for_disks is set");
	assert_contains(logtext, "require_lease_for_disks is set");
	free_domain(man);
}

/* The auditor's case: auto_disk_leases = 0, a read-write disk and an
 * explicit <lease> (libvirt adds leases before disks). */
static void require_lease_accepts_rw_disk_with_explicit_lease(void **state)
{
	(void)state;
	assert_int_equal(init(write_conf("require.conf", require_conf)), 0);
	virLockManager *man = new_domain(VIR_LOCK_MANAGER_NEW_STARTED, (int)getpid());
	add_lease(man, "guest1-disks", "/nonexistent/leases");
	add_disk(man, img("guest1.qcow2"), 0);
	add_disk(man, img("shared.img"), VIR_LOCK_MANAGER_RESOURCE_SHARED);
	assert_stopped_at_daemon(start_child(man, NULL, VIR_DOMAIN_LOCK_FAILURE_POWEROFF));
	assert_lacks(logtext, "require_lease_for_disks");
	free_domain(man);
}

static void require_lease_accepts_guests_without_rw_disks(void **state)
{
	(void)state;
	assert_int_equal(init(write_conf("require.conf", require_conf)), 0);
	virLockManager *man = new_domain(VIR_LOCK_MANAGER_NEW_STARTED, (int)getpid());
	add_disk(man, img("boot.iso"), VIR_LOCK_MANAGER_RESOURCE_READONLY);
	/* nothing to lease (vm_lease = 0): starts without asking the daemon */
	assert_int_equal(start_child(man, NULL, VIR_DOMAIN_LOCK_FAILURE_POWEROFF), 0);
	assert_int_equal(nreports, 0);
	free_domain(man);
}

static void require_lease_is_met_by_automatic_disk_leases(void **state)
{
	(void)state;
	assert_int_equal(init(write_conf("require-auto.conf", "volumes = [ \"/nonexistent/leases\" ]\n"
							      "auto_disk_leases = 1\n"
							      "require_lease_for_disks = 1\n")),
			 0);
	virLockManager *man = new_domain(VIR_LOCK_MANAGER_NEW_STARTED, (int)getpid());
	add_disk(man, img("guest1.qcow2"), 0);
	assert_stopped_at_daemon(start_child(man, NULL, VIR_DOMAIN_LOCK_FAILURE_POWEROFF));
	assert_lacks(logtext, "require_lease_for_disks");
	free_domain(man);
}

static void require_lease_without_volumes_refuses_unleased_rw_disk(void **state)
{
	(void)state;
	assert_int_equal(init(write_conf("require-novol.conf", "require_lease_for_disks = 1\n")), 0);
	virLockManager *man = new_domain(VIR_LOCK_MANAGER_NEW_STARTED, (int)getpid());
	add_disk(man, img("guest1.qcow2"), 0);
	assert_int_equal(start_child(man, NULL, VIR_DOMAIN_LOCK_FAILURE_POWEROFF), -1);
	assert_int_equal(nreports, 1);
	assert_contains(report_msg, img("guest1.qcow2"));
	assert_contains(report_msg, "guest1.qcow2 is not covered by a lease "
				    "(no lease volumes are configured and the domain has no <lease>)");
	free_domain(man);
	/* a <lease> naming its volume is enough */
	man = new_domain(VIR_LOCK_MANAGER_NEW_STARTED, (int)getpid());
	add_lease(man, "guest1", "/nonexistent/leases");
	add_disk(man, img("guest1.qcow2"), 0);
	assert_stopped_at_daemon(start_child(man, NULL, VIR_DOMAIN_LOCK_FAILURE_POWEROFF));
	free_domain(man);
}

static void without_require_lease_unleased_disks_start(void **state)
{
	(void)state;
	assert_int_equal(init(write_conf("norequire.conf", "volumes = [ \"/nonexistent/leases\" ]\n"
							    "auto_disk_leases = 0\nvm_lease = 0\n")),
			 0);
	virLockManager *man = new_domain(VIR_LOCK_MANAGER_NEW_STARTED, (int)getpid());
	add_disk(man, img("guest1.qcow2"), 0);
	assert_int_equal(start_child(man, NULL, VIR_DOMAIN_LOCK_FAILURE_POWEROFF), 0);
	assert_int_equal(nreports, 0);
	free_domain(man);
}

static void release_and_inquire_without_leases_need_no_daemon(void **state)
{
	(void)state;
	assert_int_equal(init(NULL), 0);
	virLockManager *man = new_domain(0, (int)getpid());
	add_disk(man, img("guest1.qcow2"), 0);
	char *st = (char *)"x";
	assert_int_equal(drv->drvRelease(man, &st, 0), 0);
	assert_null(st);
	st = (char *)"x";
	assert_int_equal(drv->drvInquire(man, &st, 0), 0);
	assert_null(st);
	assert_int_equal(drv->drvAcquire(man, NULL, 0, 0, NULL), 0);
	free_domain(man);
}

static void bad_lease_elements_are_refused(void **state)
{
	(void)state;
	assert_int_equal(init(write_conf("leases.conf", "volumes = [ \"/nonexistent/leases\" ]\n")), 0);
	virLockManager *man = new_domain(VIR_LOCK_MANAGER_NEW_STARTED, (int)getpid());
	/* neither a path nor a lockspace */
	capture_start();
	int rc = drv->drvAddResource(man, VIR_LOCK_MANAGER_RESOURCE_TYPE_LEASE, "key", 0, NULL, 0);
	capture_stop();
	assert_int_equal(rc, -1);
	assert_contains(logtext, "<lease> key names neither a volume path nor a lockspace");
	/* a key that is no valid name */
	virLockManagerParam p = {.type = VIR_LOCK_MANAGER_PARAM_TYPE_STRING, .key = "path"};
	p.value.str = (char *)"/nonexistent/leases";
	capture_start();
	rc = drv->drvAddResource(man, VIR_LOCK_MANAGER_RESOURCE_TYPE_LEASE, "a/b", 1, &p, 0);
	capture_stop();
	assert_int_equal(rc, -1);
	assert_contains(logtext, "is not a valid lease");
	free_domain(man);
}

/* ---- failing closed ------------------------------------------------------------------------- */

static void without_volumes_guests_without_a_lease_are_refused(void **state)
{
	(void)state;
	const char *path = write_conf("novol.conf", "vm_lease = 1\n");
	char where[800];
	snprintf(where, sizeof(where), "no lease volumes are configured in %s", path);
	assert_int_equal(init(path), 0);
	assert_contains(logtext, "guests without a <lease> are refused");
	virLockManager *man = new_domain(VIR_LOCK_MANAGER_NEW_STARTED, (int)getpid());
	add_disk(man, img("guest1.qcow2"), 0);
	assert_int_equal(start_child(man, NULL, VIR_DOMAIN_LOCK_FAILURE_POWEROFF), -1);
	assert_int_equal(nreports, 1);
	assert_int_equal(report_code, VIR_ERR_CONFIG_UNSUPPORTED);
	assert_contains(report_msg, "domain guest1: refusing to start it without any lease: ");
	assert_contains(report_msg, where);
	assert_contains(report_msg, "allow_unprotected_guests = 1");
	assert_contains(logtext, "refusing to start it without any lease");
	free_domain(man);
	/* no disks at all: still nothing protects the guest */
	man = new_domain(VIR_LOCK_MANAGER_NEW_STARTED, (int)getpid());
	assert_int_equal(start_child(man, NULL, VIR_DOMAIN_LOCK_FAILURE_POWEROFF), -1);
	assert_contains(report_msg, "refusing to start it without any lease");
	free_domain(man);
	/* a <lease> protects it: on to the daemon */
	man = new_domain(VIR_LOCK_MANAGER_NEW_STARTED, (int)getpid());
	add_lease(man, "guest1", "/nonexistent/leases");
	add_disk(man, img("guest1.qcow2"), 0);
	assert_stopped_at_daemon(start_child(man, NULL, VIR_DOMAIN_LOCK_FAILURE_POWEROFF));
	free_domain(man);
}

static void allow_unprotected_guests_starts_them_without_leases(void **state)
{
	(void)state;
	assert_int_equal(init(write_conf("unprot.conf", "allow_unprotected_guests = 1\n")), 0);
	assert_contains(logtext, "guests without a <lease> start unprotected (allow_unprotected_guests = 1)");
	virLockManager *man = new_domain(VIR_LOCK_MANAGER_NEW_STARTED, (int)getpid());
	add_disk(man, img("guest1.qcow2"), 0);
	assert_int_equal(start_child(man, NULL, VIR_DOMAIN_LOCK_FAILURE_POWEROFF), 0);
	assert_int_equal(nreports, 0);
	free_domain(man);
}

/* A disk whose lease cannot be named the same on every host. */
static void disk_without_identity_is_refused_naming_the_fixes(void **state)
{
	(void)state;
	assert_int_equal(init(write_conf("ident.conf", "volumes = [ \"/nonexistent/leases\" ]\n")), 0);
	static const struct {
		const char *path, *why;
	} bad[] = {{"/dev/null", "it is neither a regular file, a directory nor a block device"},
		   {"/nonexistent/guest1.qcow2", "cannot look at it: No such file or directory"}};
	for (size_t i = 0; i < 2; i++) {
		virLockManager *man = new_domain(VIR_LOCK_MANAGER_NEW_STARTED, (int)getpid());
		add_disk(man, img("guest1.qcow2"), 0);
		add_disk(man, bad[i].path, 0);
		assert_int_equal(start_child(man, NULL, VIR_DOMAIN_LOCK_FAILURE_POWEROFF), -1);
		assert_int_equal(nreports, 1);
		assert_int_equal(report_code, VIR_ERR_CONFIG_UNSUPPORTED);
		char what[256];
		snprintf(what, sizeof(what), "domain guest1: cannot name a lease for disk %s that is the same on "
					     "every host: %s; give the domain a <lease> (it then covers the disk)",
			 bad[i].path, bad[i].why);
		assert_contains(report_msg, what);
		/* the path fallback is offered for block devices without identity only */
		assert_lacks(report_msg, "disk_identity_fallback");
		assert_contains(logtext, what);
		free_domain(man);
		/* the same in libvirtd (CPUs start, hot-plug) */
		man = new_domain(0, (int)getpid());
		add_disk(man, bad[i].path, 0);
		capture_start();
		int rc = drv->drvAcquire(man, NULL, 0, 0, NULL);
		capture_stop();
		assert_int_equal(rc, -1);
		assert_contains(report_msg, what);
		/* releasing needs no name: the unplug of such a disk is no error */
		char *st = NULL;
		capture_start();
		rc = drv->drvRelease(man, &st, 0);
		capture_stop();
		assert_lacks(report_msg, "cannot name");
		free(st);
		free_domain(man);
	}
	/* a domain with a <lease> (libvirt adds them first): it covers the disk */
	virLockManager *man = new_domain(VIR_LOCK_MANAGER_NEW_STARTED, (int)getpid());
	add_lease(man, "guest1", "/nonexistent/leases");
	add_disk(man, "/dev/null", 0);
	assert_stopped_at_daemon(start_child(man, NULL, VIR_DOMAIN_LOCK_FAILURE_POWEROFF));
	assert_contains(logtext, "domain guest1: disk /dev/null has no lease of its own");
	assert_contains(logtext, "only the domain's <lease> elements cover it");
	free_domain(man);
}

/* ---- what libvirt passes: flags and the interface version ------------------------------------ */

static void assert_bad_flags(int rc, unsigned bits, const char *func)
{
	char what[128];
	snprintf(what, sizeof(what), "unsupported flags (0x%x) in function %s", bits, func);
	assert_int_equal(rc, -1);
	assert_int_equal(nreports, 1);
	assert_int_equal(report_code, VIR_ERR_INVALID_ARG);
	assert_contains(report_msg, what);
}

static void unknown_flags_are_refused(void **state)
{
	(void)state;
	capture_start();
	int rc = drv->drvInit(LIBVIRT_LOCK_MANAGER_VERSION, NULL, 0x10);
	capture_stop();
	assert_bad_flags(rc, 0x10, "drvInit");
	assert_int_equal(init(write_conf("flags.conf", "volumes = [ \"/nonexistent/leases\" ]\n")), 0);

	virLockManager *man = calloc(1, sizeof(*man));
	assert_non_null(man);
	capture_start();
	rc = drv->drvNew(man, VIR_LOCK_MANAGER_OBJECT_TYPE_DOMAIN, 0, NULL, VIR_LOCK_MANAGER_NEW_STARTED | 0x4);
	capture_stop();
	assert_bad_flags(rc, 0x4, "drvNew");
	assert_null(man->privateData);
	free(man);

	man = new_domain(0, (int)getpid());
	capture_start();
	rc = drv->drvAddResource(man, VIR_LOCK_MANAGER_RESOURCE_TYPE_DISK, img("guest1.qcow2"), 0, NULL,
				 VIR_LOCK_MANAGER_RESOURCE_SHARED | 0x8);
	capture_stop();
	assert_bad_flags(rc, 0x8, "drvAddResource");
	capture_start();
	rc = drv->drvAcquire(man, NULL, VIR_LOCK_MANAGER_ACQUIRE_RESTRICT | 0x100, 0, NULL);
	capture_stop();
	assert_bad_flags(rc, 0x100, "drvAcquire");
	char *st = NULL;
	capture_start();
	rc = drv->drvRelease(man, &st, 0x1);
	capture_stop();
	assert_bad_flags(rc, 0x1, "drvRelease");
	assert_null(st);
	capture_start();
	rc = drv->drvInquire(man, &st, 0x2);
	capture_stop();
	assert_bad_flags(rc, 0x2, "drvInquire");
	assert_null(st);
	free_domain(man);
}

static void other_interface_versions_are_refused(void **state)
{
	(void)state;
	capture_start();
	int rc = drv->drvInit(2000000, NULL, 0);
	capture_stop();
	assert_int_equal(rc, -1);
	assert_int_equal(nreports, 1);
	assert_int_equal(report_code, VIR_ERR_CONFIG_UNSUPPORTED);
	assert_contains(report_msg, "lock-driver interface version 2.0.0 is not supported: this plugin implements "
				    "version 1.x");
	capture_start();
	rc = drv->drvInit(999999, NULL, 0);
	capture_stop();
	assert_int_equal(rc, -1);
	assert_contains(report_msg, "interface version 0.999.999 is not supported");
	/* a later minor of version 1 is fine */
	assert_int_equal(drv->drvInit(1002003, NULL, 0), 0);
}

/* ---- main ------------------------------------------------------------------------------------ */

static void make_dirs(void)
{
	const char *base = getenv("SM_TEST_TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	mkdir(base, 0755);
	snprintf(dir, sizeof(dir), "%s/plugconf.XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror(dir);
		exit(1);
	}
	char images[600];
	snprintf(images, sizeof(images), "%s/images", dir);
	if (mkdir(images, 0700) < 0) {
		perror(images);
		exit(1);
	}
	/* an empty run directory: no sync_managerd socket in it */
	snprintf(rundir, sizeof(rundir), "%s/run", dir);
	if (mkdir(rundir, 0700) < 0) {
		perror(rundir);
		exit(1);
	}
	setenv("SYNC_MANAGER_RUN_DIR", rundir, 1);
}

int main(void)
{
	/* No call may wait for anything: a hang is a failure. */
	alarm(120);
	make_dirs();
	handle = dlopen(SM_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		fprintf(stderr, "dlopen %s: %s\n", SM_PLUGIN_PATH, dlerror());
		return 1;
	}
	drv = dlsym(handle, "virLockDriverImpl");
	if (!drv) {
		fprintf(stderr, "no virLockDriverImpl in %s\n", SM_PLUGIN_PATH);
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(module_loads_like_libvirtd_and_exports_only_the_table),
		cmocka_unit_test_teardown(missing_config_file_means_defaults, teardown),
		cmocka_unit_test_teardown(no_config_file_means_defaults, teardown),
		cmocka_unit_test_teardown(init_is_idempotent, teardown),
		cmocka_unit_test_teardown(volumes_without_daemon_do_not_block_init, teardown),
		cmocka_unit_test_teardown(all_keys_are_accepted, teardown),
		cmocka_unit_test_teardown(syntax_errors_are_refused_with_file_and_line, teardown),
		cmocka_unit_test_teardown(unknown_keys_are_refused_with_file_and_line, teardown),
		cmocka_unit_test_teardown(bad_values_are_refused_with_file_and_line, teardown),
		cmocka_unit_test_teardown(restart_and_ignore_failure_actions_are_refused, teardown),
		cmocka_unit_test_teardown(checks_after_parsing_name_the_file, teardown),
		cmocka_unit_test_teardown(unreadable_config_is_refused, teardown),
		cmocka_unit_test_teardown(a_good_init_works_after_a_refused_one, teardown),
		cmocka_unit_test_teardown(on_lockfailure_restart_and_ignore_are_refused_at_start, teardown),
		cmocka_unit_test_teardown(foreign_lease_state_is_refused_at_start_and_resume, teardown),
		cmocka_unit_test_teardown(require_lease_refuses_rw_disk_without_any_lease, teardown),
		cmocka_unit_test_teardown(require_lease_accepts_rw_disk_with_explicit_lease, teardown),
		cmocka_unit_test_teardown(require_lease_accepts_guests_without_rw_disks, teardown),
		cmocka_unit_test_teardown(require_lease_is_met_by_automatic_disk_leases, teardown),
		cmocka_unit_test_teardown(require_lease_without_volumes_refuses_unleased_rw_disk, teardown),
		cmocka_unit_test_teardown(without_require_lease_unleased_disks_start, teardown),
		cmocka_unit_test_teardown(release_and_inquire_without_leases_need_no_daemon, teardown),
		cmocka_unit_test_teardown(bad_lease_elements_are_refused, teardown),
		cmocka_unit_test_teardown(without_volumes_guests_without_a_lease_are_refused, teardown),
		cmocka_unit_test_teardown(allow_unprotected_guests_starts_them_without_leases, teardown),
		cmocka_unit_test_teardown(disk_without_identity_is_refused_naming_the_fixes, teardown),
		cmocka_unit_test_teardown(unknown_flags_are_refused, teardown),
		cmocka_unit_test_teardown(other_interface_versions_are_refused, teardown),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	/* what the tests left behind */
	char path[700];
	static const char *const names[] = {"ok.conf", "vol.conf", "all.conf", "rel.conf", "hostname.conf", "second.conf",
					    "start.conf", "state.conf", "require.conf", "require-auto.conf",
					    "require-novol.conf", "norequire.conf", "leases.conf", "novol.conf", "unprot.conf",
					    "ident.conf", "flags.conf", "images/guest1.qcow2", "images/guest1-data.qcow2",
					    "images/boot.iso", "images/shared.img", "images"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (unlink(path) < 0 && errno == EISDIR)
			rmdir(path);
	}
	rmdir(rundir);
	if (rmdir(dir) < 0 && errno != ENOENT)
		fprintf(stderr, "left behind: %s\n", dir);
	dlclose(handle);
	return failed;
}
