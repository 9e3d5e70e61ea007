/* Persistent reservations on block devices.  Contract in pr.h.
 *
 * How a command travels:
 * - PR OUT on a SCSI disk that takes SG_IO and is not a device-mapper device:
 *   a PERSISTENT RESERVE OUT CDB through SG_IO.  Reason: on Linux <= 6.3 the
 *   IOC_PR_* ioctls hand back only the SCSI status (the sense data stays in the
 *   kernel log), so a UNIT ATTENTION (command not executed, send it again), an
 *   ILLEGAL REQUEST (PREEMPT AND ABORT not implemented, tgt) and a medium error
 *   all look the same (0x02); through SG_IO we see the sense key and ASC/ASCQ,
 *   choose the retries ourselves and bound each command by timeout_ms.
 * - PR OUT on anything else (NVMe namespaces, which do not take SG_IO, and
 *   dm-multipath maps, where a REGISTER must reach every path: the map's PR
 *   ops register on each of them, while SG_IO would reach one path only):
 *   the IOC_PR_* ioctls.
 * - PR IN: SG_IO only (no kernel of the supported range has PR IN ioctls).
 *
 * What the IOC_PR_* ioctls return (block/ioctl.c blkdev_pr_register() and its
 * siblings return the driver's pr_ops result to user space unchanged, after
 * -EPERM without CAP_SYS_ADMIN, -EOPNOTSUPP when the driver has no pr_ops, and
 * -EOPNOTSUPP for unknown flags; a non-block file answers -ENOTTY):
 * - Linux <= 6.3 (Debian 12: 6.1), drivers/scsi/sd.c sd_pr_command() (named
 *   sd_pr_out_command() later) returns the raw result of the SCSI command: a
 *   POSITIVE int, the status byte in bits 0-7 (0x18 RESERVATION CONFLICT, 0x02
 *   CHECK CONDITION whatever the sense said: it is only printed to the kernel
 *   log) and the host byte in bits 16-23 (e.g. DID_TIME_OUT 0x03, DID_NO_CONNECT
 *   0x01); a UNIT ATTENTION is not retried by the kernel for these commands.
 *   drivers/nvme/host (nvme_pr_command()) returns the raw NVMe status, also
 *   positive (Reservation Conflict 0x83, with the DNR bit 0x4000 possibly set).
 *   dm-multipath's pr_ops pass on what the path's driver returned.
 * - Linux >= 6.4, sd.c sd_scsi_to_pr_err() and nvme's nvme_sc_to_pr_err()
 *   normalise the answer to enum pr_status (now in <linux/pr.h> uapi):
 *   PR_STS_RESERVATION_CONFLICT 0x18, PR_STS_IOERR 0x02 (any other failure,
 *   UNIT ATTENTION included), path failures 0x10000 / 0xe0000 / 0xf0000 (host
 *   byte positions), and -EINVAL for ILLEGAL REQUEST with ASC 24h or 26h
 *   (NVMe: invalid opcode or field), -EOPNOTSUPP for NVMe without reservations.
 *   Later kernels also retry a UNIT ATTENTION inside sd (up to 5 times).
 * - A reservation conflict on a plain write surfaces as -EBADE (block layer
 *   BLK_STS_RESV_CONFLICT, BLK_STS_NEXUS before 6.4); we also accept -EBADE
 *   from the ioctls should a kernel report it that way.
 * pr_map_answer() below is the one place that maps all of these.
 */
#include "pr.h"

#include "common/log.h"
#include "scsi.h"
#include "sync_manager/errors.h"
#include "syscalls.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/pr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* SCSI opcodes, service actions, statuses and sense keys (SPC-4). */
#define OP_PR_IN 0x5e
#define OP_PR_OUT 0x5f
#define OP_INQUIRY 0x12
enum pr_out_action {
	SA_REGISTER = 0, SA_RESERVE = 1, SA_RELEASE = 2, SA_CLEAR = 3,
	SA_PREEMPT = 4, SA_PREEMPT_ABORT = 5, SA_REGISTER_IGNORE = 6,
};
enum pr_in_action { SA_READ_KEYS = 0, SA_READ_RESERVATION = 1 };
#define ST_GOOD 0x00
#define ST_CHECK_CONDITION 0x02
#define ST_RESERVATION_CONFLICT 0x18
#define SK_ILLEGAL_REQUEST 0x5
#define SK_UNIT_ATTENTION 0x6
#define HOST_DID_TIME_OUT 0x03
#define DRIVER_TIMEOUT 0x06
#define NVME_SC_RESERVATION_CONFLICT 0x83

enum sg_support { SG_UNKNOWN, SG_YES, SG_NO };

struct sm_pr_dev {
	int fd;
	char *path;
	unsigned timeout_ms;
	enum sg_support sg;
	bool is_dm; /* device-mapper: PR OUT through the ioctls */
};

/* What the device (or the kernel on its behalf) answered one command. */
struct pr_answer {
	int rc;          /* syscall result: -errno, 0, or the PR ioctl's positive status */
	bool via_sg;     /* SG_IO: the fields below hold the answer */
	uint8_t status;
	uint16_t host_status, driver_status;
	bool sense;
	uint8_t key, asc, ascq;
};

/* Retries made so far for one command. */
struct pr_tries {
	int unit_attention;
	int no_sense;
};

/* One command, for pr_map_answer() and the log. */
struct pr_cmd {
	const char *name;
	bool preempt_abort;
};

#define PR_AGAIN 1

const char *sm_pr_type_name(enum sm_pr_type type)
{
	switch (type) {
	case SM_PR_WRITE_EXCLUSIVE: return "WE";
	case SM_PR_EXCLUSIVE_ACCESS: return "EA";
	case SM_PR_WE_REGISTRANTS_ONLY: return "WE-RO";
	case SM_PR_EA_REGISTRANTS_ONLY: return "EA-RO";
	case SM_PR_WE_ALL_REGISTRANTS: return "WE-AR";
	case SM_PR_EA_ALL_REGISTRANTS: return "EA-AR";
	}
	return "unknown";
}

static bool pr_type_valid(int type)
{
	return type == 1 || type == 3 || (type >= 5 && type <= 8);
}

/* ---- error mapping ---- */

static void describe_answer(const struct pr_answer *a, char *buf, size_t len)
{
	if (a->rc >= 0 && !a->via_sg)
		snprintf(buf, len, "ioctl status 0x%x (status byte 0x%02x, host byte 0x%02x)", (unsigned)a->rc,
			 (unsigned)a->rc & 0xff, ((unsigned)a->rc >> 16) & 0xff);
	else
		sm_scsi_describe(&(struct sm_scsi_answer){.rc = a->rc < 0 ? a->rc : 0, .status = a->status,
							  .host_status = a->host_status,
							  .driver_status = a->driver_status, .sense = a->sense,
							  .key = a->key, .asc = a->asc, .ascq = a->ascq},
				 buf, len);
}

static int syscall_error(const char *path, const struct pr_cmd *cmd, int rc)
{
	switch (rc) {
	case -ENOTTY: case -EOPNOTSUPP: case -EINVAL: case -ENOSYS:
		/* EINVAL from the ioctls: Linux >= 6.4's ILLEGAL REQUEST (24h/26h) */
		sm_warn("%s: %s is not supported by the device (%s)", path, cmd->name, strerror(-rc));
		return -SM_EPR_UNSUPPORTED;
	case -EBADE:
		sm_warn("%s: %s: reservation conflict", path, cmd->name);
		return -SM_ERESERVATION_CONFLICT;
	case -ETIMEDOUT:
		sm_warn("%s: %s timed out", path, cmd->name);
		return -SM_EIO_TIMEOUT;
	case -EPERM: case -EACCES:
		sm_error("%s: %s refused by the kernel (%s: needs CAP_SYS_ADMIN and the device open for writing)",
			 path, cmd->name, strerror(-rc));
		return rc;
	default:
		sm_error("%s: %s failed: %s", path, cmd->name, strerror(-rc));
		return rc;
	}
}

/* A CHECK CONDITION whose sense we do not see: a UNIT ATTENTION reports only
 * once, so one retry; a repeat is what tgt answers PREEMPT AND ABORT with
 * (ILLEGAL REQUEST) when it comes from that command. */
static int check_condition_without_sense(const char *path, const struct pr_cmd *cmd, const char *said,
					 struct pr_tries *tries)
{
	if (tries->no_sense < 1) {
		tries->no_sense++;
		sm_warn("%s: %s: %s (a UNIT ATTENTION?): sending it again", path, cmd->name, said);
		return PR_AGAIN;
	}
	if (cmd->preempt_abort) {
		sm_warn("%s: %s failed twice with %s: taking it as not supported by the target", path, cmd->name,
			said);
		return -SM_EPR_UNSUPPORTED;
	}
	sm_error("%s: %s failed: %s", path, cmd->name, said);
	return -EIO;
}

static int sense_error(const char *path, const struct pr_cmd *cmd, const struct pr_answer *a, const char *said,
		       struct pr_tries *tries)
{
	if (a->key == SK_UNIT_ATTENTION) {
		if (tries->unit_attention < SM_PR_UA_RETRIES) {
			tries->unit_attention++;
			sm_warn("%s: %s not executed (UNIT ATTENTION %02x/%02x%s): sending it again", path, cmd->name,
				a->asc, a->ascq,
				a->asc == 0x2a && (a->ascq == 0x03 || a->ascq == 0x05) ? ", this host was preempted"
				: a->asc == 0x29 ? ", target power on or reset" : "");
			return PR_AGAIN;
		}
		sm_error("%s: %s: still UNIT ATTENTION after %d retries (%s)", path, cmd->name, SM_PR_UA_RETRIES, said);
		return -EIO;
	}
	if (a->key == SK_ILLEGAL_REQUEST && (a->asc == 0x20 || a->asc == 0x24 || a->asc == 0x26)) {
		sm_warn("%s: %s is not supported by the target (%s)", path, cmd->name, said);
		return -SM_EPR_UNSUPPORTED;
	}
	sm_error("%s: %s failed: %s", path, cmd->name, said);
	return -EIO;
}

/* Map one answer: 0, PR_AGAIN (send the command again: it was not executed)
 * or a negative error (see pr.h).  Logs what the device said, naming path. */
static int pr_map_answer(const char *path, const struct pr_cmd *cmd, const struct pr_answer *a,
			 struct pr_tries *tries)
{
	char said[160];
	describe_answer(a, said, sizeof(said));
	if (a->rc < 0)
		return syscall_error(path, cmd, a->rc);
	unsigned status, host;
	if (a->via_sg) {
		status = a->status;
		host = a->host_status;
		if (host == HOST_DID_TIME_OUT || (a->driver_status & 0x0f) == DRIVER_TIMEOUT) {
			sm_warn("%s: %s timed out (%s)", path, cmd->name, said);
			return -SM_EIO_TIMEOUT;
		}
	} else {
		if (a->rc == 0)
			return 0;
		/* raw NVMe status (Linux <= 6.3): below the SCSI host-byte range */
		if (a->rc < 0x8000 && (a->rc & 0x7ff) == NVME_SC_RESERVATION_CONFLICT) {
			sm_warn("%s: %s: reservation conflict (%s)", path, cmd->name, said);
			return -SM_ERESERVATION_CONFLICT;
		}
		status = (unsigned)a->rc & 0xff;
		host = ((unsigned)a->rc >> 16) & 0xff;
		if (host == HOST_DID_TIME_OUT) {
			sm_warn("%s: %s timed out (%s)", path, cmd->name, said);
			return -SM_EIO_TIMEOUT;
		}
	}
	if (host) {
		sm_error("%s: %s failed on the path to the device (%s)", path, cmd->name, said);
		return -EIO;
	}
	switch (status) {
	case ST_GOOD:
		return 0;
	case ST_RESERVATION_CONFLICT:
		sm_warn("%s: %s: reservation conflict", path, cmd->name);
		return -SM_ERESERVATION_CONFLICT;
	case ST_CHECK_CONDITION:
		if (a->via_sg && a->sense)
			return sense_error(path, cmd, a, said, tries);
		return check_condition_without_sense(path, cmd, said, tries);
	default:
		sm_error("%s: %s failed: %s", path, cmd->name, said);
		return -EIO;
	}
}

/* ---- sending commands ---- */

static bool sg_refused(int rc)
{
	return rc == -ENOTTY || rc == -EINVAL || rc == -ENOSYS || rc == -EOPNOTSUPP;
}

/* One SCSI command through SG_IO.  Returns false when the device does not take
 * SG_IO (remembered), true when a->... holds the answer. */
static bool sg_command(struct sm_pr_dev *dev, const uint8_t *cdb, unsigned cdb_len, int direction, void *buf,
		       unsigned len, struct pr_answer *a, int *resid)
{
	struct sm_scsi_answer s;
	sm_scsi_command(dev->fd, cdb, cdb_len, direction, buf, len, dev->timeout_ms ? dev->timeout_ms : 30000, &s);
	if (s.rc < 0 && sg_refused(s.rc) && dev->sg != SG_YES) {
		dev->sg = SG_NO;
		return false;
	}
	dev->sg = s.rc < 0 ? dev->sg : SG_YES;
	*a = (struct pr_answer){.rc = s.rc, .via_sg = true, .status = s.status, .host_status = s.host_status,
				.driver_status = s.driver_status, .sense = s.sense, .key = s.key, .asc = s.asc,
				.ascq = s.ascq};
	if (resid && s.rc == 0)
		*resid = s.resid;
	return true;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

struct pr_out_args {
	enum pr_out_action action;
	uint64_t key, sa_key;
	int type; /* SCSI type code, 0 when the action takes none */
};

static bool pr_out_sg(struct sm_pr_dev *dev, const struct pr_out_args *o, struct pr_answer *a)
{
	/* 10-byte CDB; the 24-byte parameter list carries the keys.  APTPL is
	 * not set: tgt has no PTPL, and the protocol above re-registers. */
	uint8_t cdb[10] = {OP_PR_OUT, (uint8_t)o->action, (uint8_t)o->type, 0, 0, 0, 0, 0, 24, 0};
	uint8_t param[24] = {0};
	sm_put_be64(param, o->key);
	sm_put_be64(param + 8, o->sa_key);
	return sg_command(dev, cdb, sizeof(cdb), SG_DXFER_TO_DEV, param, sizeof(param), a, NULL);
}

/* SCSI type code -> the block layer's enum pr_type (<linux/pr.h> numbers
 * them differently). */
static unsigned block_pr_type(int type)
{
	switch (type) {
	case SM_PR_WRITE_EXCLUSIVE: return PR_WRITE_EXCLUSIVE;
	case SM_PR_EXCLUSIVE_ACCESS: return PR_EXCLUSIVE_ACCESS;
	case SM_PR_WE_REGISTRANTS_ONLY: return PR_WRITE_EXCLUSIVE_REG_ONLY;
	case SM_PR_EA_REGISTRANTS_ONLY: return PR_EXCLUSIVE_ACCESS_REG_ONLY;
	case SM_PR_WE_ALL_REGISTRANTS: return PR_WRITE_EXCLUSIVE_ALL_REGS;
	case SM_PR_EA_ALL_REGISTRANTS: return PR_EXCLUSIVE_ACCESS_ALL_REGS;
	}
	return 0;
}

static int pr_out_ioctl(struct sm_pr_dev *dev, const struct pr_out_args *o)
{
	switch (o->action) {
	case SA_REGISTER:
	case SA_REGISTER_IGNORE: {
		struct pr_registration r = {.old_key = o->key, .new_key = o->sa_key,
					    .flags = o->action == SA_REGISTER_IGNORE ? PR_FL_IGNORE_KEY : 0};
		return sm_disk_sys.pr_ioctl(dev->fd, IOC_PR_REGISTER, &r);
	}
	case SA_RESERVE:
	case SA_RELEASE: {
		struct pr_reservation r = {.key = o->key, .type = block_pr_type(o->type)};
		return sm_disk_sys.pr_ioctl(dev->fd, o->action == SA_RESERVE ? IOC_PR_RESERVE : IOC_PR_RELEASE, &r);
	}
	case SA_PREEMPT:
	case SA_PREEMPT_ABORT: {
		struct pr_preempt p = {.old_key = o->key, .new_key = o->sa_key, .type = block_pr_type(o->type)};
		return sm_disk_sys.pr_ioctl(dev->fd, o->action == SA_PREEMPT ? IOC_PR_PREEMPT : IOC_PR_PREEMPT_ABORT,
					    &p);
	}
	case SA_CLEAR: {
		struct pr_clear c = {.key = o->key};
		return sm_disk_sys.pr_ioctl(dev->fd, IOC_PR_CLEAR, &c);
	}
	}
	return -EINVAL;
}

static const char *pr_out_name(enum pr_out_action action)
{
	static const char *names[] = {"PR REGISTER", "PR RESERVE", "PR RELEASE", "PR CLEAR", "PR PREEMPT",
				      "PR PREEMPT AND ABORT", "PR REGISTER AND IGNORE EXISTING KEY"};
	return names[action];
}

static int pr_out(struct sm_pr_dev *dev, const struct pr_out_args *o)
{
	struct pr_cmd cmd = {pr_out_name(o->action), o->action == SA_PREEMPT_ABORT};
	struct pr_tries tries = {0};
	for (;;) {
		struct pr_answer a;
		if (dev->is_dm || dev->sg == SG_NO || !pr_out_sg(dev, o, &a))
			a = (struct pr_answer){.rc = pr_out_ioctl(dev, o)};
		int rc = pr_map_answer(dev->path, &cmd, &a, &tries);
		if (rc != PR_AGAIN)
			return rc;
	}
}

/* PERSISTENT RESERVE IN into buf (len bytes); returns 0 or an error. */
static int pr_in(struct sm_pr_dev *dev, enum pr_in_action action, uint8_t *buf, unsigned len)
{
	struct pr_cmd cmd = {action == SA_READ_KEYS ? "PR IN READ KEYS" : "PR IN READ RESERVATION", false};
	struct pr_tries tries = {0};
	uint8_t cdb[10] = {OP_PR_IN, (uint8_t)action, 0, 0, 0, 0, 0, (uint8_t)(len >> 8), (uint8_t)len, 0};
	for (;;) {
		memset(buf, 0, len);
		struct pr_answer a;
		if (dev->sg == SG_NO || !sg_command(dev, cdb, sizeof(cdb), SG_DXFER_FROM_DEV, buf, len, &a, NULL)) {
			sm_warn("%s: %s needs SG_IO, which this device does not take (NVMe namespaces do not)",
				dev->path, cmd.name);
			return -SM_EPR_UNSUPPORTED;
		}
		int rc = pr_map_answer(dev->path, &cmd, &a, &tries);
		if (rc != PR_AGAIN)
			return rc;
	}
}

/* ---- the interface ---- */

static char test_sysfs_root[PATH_MAX], test_dev_root[PATH_MAX];

void sm_pr_set_test_roots(const char *sysfs_root, const char *dev_root)
{
	snprintf(test_sysfs_root, sizeof(test_sysfs_root), "%s", sysfs_root ? sysfs_root : "");
	snprintf(test_dev_root, sizeof(test_dev_root), "%s", dev_root ? dev_root : "");
}

static const char *sysfs_root(void)
{
	const char *env = getenv("SYNC_MANAGER_TEST_SYSFS");
	return test_sysfs_root[0] ? test_sysfs_root : env && *env ? env : "/sys";
}

static const char *dev_root(void)
{
	const char *env = getenv("SYNC_MANAGER_TEST_DEV");
	return test_dev_root[0] ? test_dev_root : env && *env ? env : "/dev";
}

/* Does the device take SG_IO?  A TEST UNIT READY tells (its answer does not
 * matter: a UNIT ATTENTION it may consume is reported again by no command
 * that matters here, since a preempted host learns from the conflicts). */
static void probe_sg(struct sm_pr_dev *dev)
{
	uint8_t cdb[6] = {0};
	struct pr_answer a;
	sg_command(dev, cdb, sizeof(cdb), SG_DXFER_NONE, NULL, 0, &a, NULL); /* sets dev->sg */
	sm_debug("%s: %s", dev->path, dev->sg == SG_YES ? "takes SG_IO" : dev->sg == SG_NO ? "no SG_IO" : "SG_IO failed");
}

static bool is_dm_device(dev_t rdev)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/dev/block/%u:%u/dm", sysfs_root(), major(rdev), minor(rdev));
	return access(p, F_OK) == 0;
}

int sm_pr_open(const char *path, unsigned timeout_ms, struct sm_pr_dev **out)
{
	*out = NULL;
	int fd = sm_disk_sys.open(path, O_RDWR | O_CLOEXEC, 0);
	if (fd < 0) {
		sm_error("%s: cannot open for persistent reservation commands: %s", path, strerror(-fd));
		return fd;
	}
	struct stat st;
	int rc = sm_disk_sys.fstat(fd, &st);
	if (rc < 0 || !S_ISBLK(st.st_mode)) {
		sm_disk_sys.close(fd);
		if (rc < 0)
			return rc;
		sm_error("%s: not a block device: persistent reservations need a SCSI or NVMe LUN", path);
		return -SM_EPR_UNSUPPORTED;
	}
	struct sm_pr_dev *dev = calloc(1, sizeof(*dev));
	char *copy = strdup(path);
	if (!dev || !copy) {
		free(dev);
		free(copy);
		sm_disk_sys.close(fd);
		return -ENOMEM;
	}
	*dev = (struct sm_pr_dev){.fd = fd, .path = copy, .timeout_ms = timeout_ms, .sg = SG_UNKNOWN,
				  .is_dm = is_dm_device(st.st_rdev)};
	probe_sg(dev);
	*out = dev;
	return 0;
}

void sm_pr_close(struct sm_pr_dev *dev)
{
	if (!dev)
		return;
	sm_disk_sys.close(dev->fd);
	free(dev->path);
	free(dev);
}

const char *sm_pr_dev_path(const struct sm_pr_dev *dev)
{
	return dev->path;
}

int sm_pr_register(struct sm_pr_dev *dev, uint64_t old_key, uint64_t new_key, bool ignore_existing)
{
	struct pr_out_args o = {ignore_existing ? SA_REGISTER_IGNORE : SA_REGISTER, ignore_existing ? 0 : old_key,
				new_key, 0};
	return pr_out(dev, &o);
}

int sm_pr_reserve(struct sm_pr_dev *dev, uint64_t key, enum sm_pr_type type)
{
	if (!pr_type_valid(type))
		return -SM_EBAD_ARGUMENT;
	struct pr_out_args o = {SA_RESERVE, key, 0, type};
	return pr_out(dev, &o);
}

int sm_pr_preempt(struct sm_pr_dev *dev, uint64_t my_key, uint64_t victim_key, enum sm_pr_type type, bool abort)
{
	if (!pr_type_valid(type))
		return -SM_EBAD_ARGUMENT;
	struct pr_out_args o = {abort ? SA_PREEMPT_ABORT : SA_PREEMPT, my_key, victim_key, type};
	return pr_out(dev, &o);
}

int sm_pr_clear(struct sm_pr_dev *dev, uint64_t my_key)
{
	struct pr_out_args o = {SA_CLEAR, my_key, 0, 0};
	return pr_out(dev, &o);
}

int sm_pr_read_keys(struct sm_pr_dev *dev, uint64_t *keys, int max, uint32_t *generation)
{
	if (max < 0 || (max > 0 && !keys))
		return -SM_EBAD_ARGUMENT;
	/* the allocation length is 16 bits: up to 8190 keys */
	unsigned want = max > 8190 ? 8190 : (unsigned)max;
	unsigned len = 8 + 8 * want;
	uint8_t *buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	int rc = pr_in(dev, SA_READ_KEYS, buf, len);
	if (rc == 0) {
		uint32_t bytes = get_be32(buf + 4);
		int n = (int)(bytes / 8);
		for (int i = 0; i < n && i < (int)want; i++)
			keys[i] = get_be64(buf + 8 + 8 * i);
		if (generation)
			*generation = get_be32(buf);
		rc = n;
	}
	free(buf);
	return rc;
}

int sm_pr_read_reservation(struct sm_pr_dev *dev, uint64_t *key, enum sm_pr_type *type)
{
	uint8_t buf[24];
	int rc = pr_in(dev, SA_READ_RESERVATION, buf, sizeof(buf));
	if (rc < 0)
		return rc;
	if (get_be32(buf + 4) < 16) {
		if (key)
			*key = 0;
		return 0;
	}
	if (key)
		*key = get_be64(buf + 8);
	if (type)
		*type = (enum sm_pr_type)(buf[21] & 0x0f);
	return 1;
}

/* ---- identity ---- */

/* Read a small sysfs attribute, trailing whitespace removed.  Returns its
 * length, or -1 when it does not exist or is empty. */
static int read_attr(const char *dir, const char *name, char *out, size_t len)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "re");
	if (!f)
		return -1;
	size_t n = fread(out, 1, len - 1, f);
	fclose(f);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ' || out[n - 1] == '\t' || out[n - 1] == '\0'))
		n--;
	out[n] = '\0';
	return n > 0 ? (int)n : -1;
}

static int read_binary_attr(const char *dir, const char *name, uint8_t *out, size_t len)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "re");
	if (!f)
		return -1;
	size_t n = fread(out, 1, len, f);
	fclose(f);
	return (int)n;
}

static void hex_designator(const char *prefix, const uint8_t *d, int n, char *out, size_t len)
{
	size_t at = (size_t)snprintf(out, len, "%s", prefix);
	for (int i = 0; i < n && at + 3 <= len; i++)
		at += (size_t)snprintf(out + at, len - at, "%02x", d[i]);
}

/* The logical unit's designator from a VPD page 0x83, formatted like the
 * kernel's wwid: NAA, else EUI-64, else SCSI name string, else T10 vendor id.
 * Returns 0 or -1 when the page names none. */
static int vpd83_identity(const uint8_t *page, int n, char *out, size_t len)
{
	static const int preference[] = {3, 2, 8, 1};
	if (n < 4 || page[1] != 0x83)
		return -1;
	int end = 4 + (page[2] << 8 | page[3]);
	if (end > n)
		end = n;
	for (size_t p = 0; p < sizeof(preference) / sizeof(preference[0]); p++) {
		for (int at = 4; at + 4 <= end; at += 4 + page[at + 3]) {
			const uint8_t *d = page + at;
			int dlen = d[3], assoc = (d[1] >> 4) & 3, dtype = d[1] & 0x0f;
			if (assoc != 0 || dtype != preference[p] || at + 4 + dlen > end || dlen == 0)
				continue;
			if (dtype == 3)
				hex_designator("naa.", d + 4, dlen, out, len);
			else if (dtype == 2)
				hex_designator("eui.", d + 4, dlen, out, len);
			else {
				int k = dlen;
				while (k > 0 && (d[4 + k - 1] == ' ' || d[4 + k - 1] == '\0'))
					k--;
				snprintf(out, len, "%s%.*s", dtype == 1 ? "t10." : "", k, (const char *)d + 4);
			}
			return 0;
		}
	}
	return -1;
}

/* VPD page 0x83 through SG_IO (INQUIRY, EVPD). */
static int vpd83_through_sg(const char *path, char *out, size_t len)
{
	int fd = sm_disk_sys.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sm_pr_dev tmp = {.fd = fd, .path = (char *)path, .timeout_ms = 10000}, *dev = &tmp;
	uint8_t page[252] = {0};
	uint8_t cdb[6] = {OP_INQUIRY, 1, 0x83, 0, sizeof(page), 0};
	struct pr_cmd cmd = {"INQUIRY VPD 0x83", false};
	int rc = -1;
	struct pr_tries tries = {0};
	for (;;) {
		struct pr_answer a;
		int resid = 0;
		if (!sg_command(dev, cdb, sizeof(cdb), SG_DXFER_FROM_DEV, page, sizeof(page), &a, &resid))
			break;
		int m = pr_map_answer(path, &cmd, &a, &tries);
		if (m == PR_AGAIN)
			continue;
		if (m == 0)
			rc = vpd83_identity(page, (int)sizeof(page) - resid, out, len);
		break;
	}
	sm_disk_sys.close(fd);
	return rc;
}

/* The sysfs directory of the whole disk behind path. */
static int disk_sysfs_dir(const char *path, char *dir, size_t len)
{
	char p[PATH_MAX], real[PATH_MAX];
	struct stat st;
	if (stat(path, &st) < 0) {
		sm_error("%s: %s", path, strerror(errno));
		return -SM_EFENCE_DEVICE;
	}
	bool found = false;
	if (S_ISBLK(st.st_mode)) {
		snprintf(p, sizeof(p), "%s/dev/block/%u:%u", sysfs_root(), major(st.st_rdev), minor(st.st_rdev));
		found = realpath(p, real) != NULL;
	}
	if (!found && realpath(path, real)) {
		const char *base = strrchr(real, '/');
		snprintf(p, sizeof(p), "%s/class/block/%s", sysfs_root(), base ? base + 1 : real);
		found = realpath(p, real) != NULL;
	}
	if (!found) {
		sm_error("%s: no block device of that name in %s", path, sysfs_root());
		return -SM_EFENCE_DEVICE;
	}
	snprintf(p, sizeof(p), "%s/partition", real);
	if (access(p, F_OK) == 0) { /* a partition: its disk is the parent */
		snprintf(p, sizeof(p), "%s/..", real);
		if (!realpath(p, real))
			return -SM_EFENCE_DEVICE;
	}
	snprintf(dir, len, "%s", real);
	return 0;
}

static int disk_identity(const char *dir, const char *devpath, char *out, size_t len, int depth);

/* A dm-multipath map: the identity all its paths share. */
static int multipath_identity(const char *dir, char *out, size_t len, int depth)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/slaves", dir);
	DIR *d = opendir(p);
	if (!d)
		return -SM_EFENCE_DEVICE;
	int rc = -SM_EFENCE_DEVICE;
	out[0] = '\0';
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char slave[PATH_MAX], real[PATH_MAX], id[256];
		snprintf(slave, sizeof(slave), "%s/%s", p, e->d_name);
		if (!realpath(slave, real) || disk_identity(real, NULL, id, sizeof(id), depth + 1) < 0)
			continue;
		if (out[0] && strcmp(out, id)) {
			sm_error("%s: the paths of this multipath map name different LUNs (%s, %s)", dir, out, id);
			rc = -SM_EFENCE_DEVICE;
			break;
		}
		snprintf(out, len, "%s", id);
		rc = 0;
	}
	closedir(d);
	return rc;
}

/* Identity of the whole disk whose sysfs directory is dir; devpath (may be
 * NULL) is a device node to ask through SG_IO when sysfs has nothing. */
static int disk_identity(const char *dir, const char *devpath, char *out, size_t len, int depth)
{
	char uuid[256], sub[PATH_MAX];
	if (depth > 2)
		return -SM_EFENCE_DEVICE;
	snprintf(sub, sizeof(sub), "%s/dm", dir);
	if (access(sub, F_OK) == 0) {
		if (read_attr(dir, "dm/uuid", uuid, sizeof(uuid)) < 0 || strncmp(uuid, "mpath-", 6) != 0)
			return -SM_EPR_UNSUPPORTED; /* LVM and other dm devices */
		return multipath_identity(dir, out, len, depth);
	}
	if (read_attr(dir, "device/wwid", out, len) > 0 || read_attr(dir, "wwid", out, len) > 0)
		return 0;
	uint8_t page[512];
	int n = read_binary_attr(dir, "device/vpd_pg83", page, sizeof(page));
	if (n > 0 && vpd83_identity(page, n, out, len) == 0)
		return 0;
	snprintf(sub, sizeof(sub), "%s/device", dir);
	if (devpath && access(sub, F_OK) == 0 && vpd83_through_sg(devpath, out, len) == 0)
		return 0;
	return -SM_EFENCE_DEVICE;
}

int sm_pr_identity(const char *path, char *out, size_t len)
{
	char dir[PATH_MAX];
	int rc = disk_sysfs_dir(path, dir, sizeof(dir));
	if (rc < 0)
		return rc;
	rc = disk_identity(dir, path, out, len, 0);
	if (rc == -SM_EPR_UNSUPPORTED) {
		sm_error("%s: a device-mapper device that is not a multipath map: name the LUN or its multipath map",
			 path);
		return -SM_EFENCE_DEVICE;
	}
	if (rc < 0)
		sm_error("%s: the device has no stable identity (no wwid in sysfs, no VPD page 0x83 designator)",
			 path);
	return rc;
}

/* Collect the LUs under the block device whose sysfs directory is dir. */
static int lus_under(const char *dir, char (*ids)[SM_PR_ID_MAX], int max, int n, int depth)
{
	char p[PATH_MAX], real[PATH_MAX], uuid[256], id[SM_PR_ID_MAX];
	if (depth > 8 || !realpath(dir, real))
		return -SM_EFENCE_DEVICE;
	snprintf(p, sizeof(p), "%s/partition", real);
	if (access(p, F_OK) == 0) {
		snprintf(p, sizeof(p), "%s/..", real);
		if (!realpath(p, real))
			return -SM_EFENCE_DEVICE;
	}
	snprintf(p, sizeof(p), "%s/dm", real);
	bool stacked = access(p, F_OK) == 0 &&
		       !(read_attr(real, "dm/uuid", uuid, sizeof(uuid)) > 0 && strncmp(uuid, "mpath-", 6) == 0);
	if (!stacked) {
		if (disk_identity(real, NULL, id, sizeof(id), 0) < 0) {
			sm_error("%s: no stable identity for the device", real);
			return -SM_EFENCE_DEVICE;
		}
		for (int i = 0; i < n; i++)
			if (strcmp(ids[i], id) == 0)
				return n;
		if (n == max)
			return -SM_EFENCE_DEVICE;
		snprintf(ids[n], SM_PR_ID_MAX, "%s", id);
		return n + 1;
	}
	snprintf(p, sizeof(p), "%s/slaves", real);
	DIR *d = opendir(p);
	if (!d)
		return -SM_EFENCE_DEVICE;
	struct dirent *e;
	int rc = n, seen = 0;
	while (rc >= 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char slave[PATH_MAX];
		snprintf(slave, sizeof(slave), "%s/%s", p, e->d_name);
		rc = lus_under(slave, ids, max, rc, depth + 1);
		seen++;
	}
	closedir(d);
	return seen ? rc : -SM_EFENCE_DEVICE;
}

int sm_pr_lus_of(const char *path, char (*ids)[SM_PR_ID_MAX], int max)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		sm_error("%s: %s", path, strerror(errno));
		return -SM_EFENCE_DEVICE;
	}
	char p[PATH_MAX];
	size_t dl = strlen(dev_root());
	if (S_ISBLK(st.st_mode)) {
		snprintf(p, sizeof(p), "%s/dev/block/%u:%u", sysfs_root(), major(st.st_rdev), minor(st.st_rdev));
	} else if (strncmp(path, dev_root(), dl) == 0 && path[dl] == '/') {
		/* a device node of a test tree: named like the device */
		char real[PATH_MAX];
		if (!realpath(path, real))
			return -SM_EFENCE_DEVICE;
		const char *base = strrchr(real, '/');
		snprintf(p, sizeof(p), "%s/class/block/%s", sysfs_root(), base ? base + 1 : real);
	} else {
		if (major(st.st_dev) == 0) {
			sm_error("%s is not on a block device (a network or memory file system): no logical unit "
				 "holds it",
				 path);
			return -SM_EFENCE_DEVICE;
		}
		snprintf(p, sizeof(p), "%s/dev/block/%u:%u", sysfs_root(), major(st.st_dev), minor(st.st_dev));
	}
	int n = lus_under(p, ids, max, 0, 0);
	if (n < 0)
		sm_error("%s: cannot tell which logical units hold it", path);
	return n;
}

int sm_pr_find_device(const char *id, char *path_out, size_t len)
{
	char blockdir[PATH_MAX];
	snprintf(blockdir, sizeof(blockdir), "%s/block", sysfs_root());
	DIR *d = opendir(blockdir);
	if (!d) {
		sm_error("cannot list %s: %s", blockdir, strerror(errno));
		return -SM_EFENCE_DEVICE;
	}
	char best_map[NAME_MAX + 1] = "", best_path[NAME_MAX + 1] = "";
	int npaths = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[PATH_MAX], real[PATH_MAX], node[PATH_MAX], found[256], dm[PATH_MAX];
		snprintf(p, sizeof(p), "%s/%s", blockdir, e->d_name);
		snprintf(node, sizeof(node), "%s/%s", dev_root(), e->d_name);
		if (!realpath(p, real) || disk_identity(real, access(node, F_OK) == 0 ? node : NULL, found,
							   sizeof(found), 0) < 0 || strcmp(found, id))
			continue;
		snprintf(dm, sizeof(dm), "%s/dm", real);
		bool is_map = access(dm, F_OK) == 0;
		char *best = is_map ? best_map : best_path;
		if (!is_map)
			npaths++;
		if (!best[0] || strcmp(e->d_name, best) < 0)
			snprintf(best, NAME_MAX + 1, "%s", e->d_name);
	}
	closedir(d);
	const char *name = best_map[0] ? best_map : best_path;
	if (!name[0]) {
		sm_error("no block device on this host has the identity %s", id);
		return -SM_EFENCE_DEVICE;
	}
	if (!best_map[0] && npaths > 1)
		sm_warn("%s: the LUN %s is reachable through %d paths and no multipath map: using %s", id, id, npaths,
			name);
	if ((size_t)snprintf(path_out, len, "%s/%s", dev_root(), name) >= len)
		return -SM_EBAD_ARGUMENT;
	return 0;
}
