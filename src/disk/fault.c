/* Fault-injecting wrappers around the AIO syscalls and the persistent
 * reservation commands.  See fault.h. */
#include "fault.h"

#include "common/log.h"
#include "syscalls.h"

#include <errno.h>
#include <linux/pr.h>
#include <sys/ioctl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_RULES 16
#define MAX_HELD 256

struct rule_state {
	struct sm_fault_rule rule;
	unsigned seen;  /* matching I/Os seen since the rule was added */
	unsigned fired; /* how many it failed */
	char path_filter[128];
};

/* An I/O the wrappers are holding back: hung, or completed with a fake result. */
struct held_io {
	io_context_t ctx;
	struct iocb *cb;
	long res;
	bool hung; /* false: a fake completion waiting to be delivered */
};

static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rule_state rules[MAX_RULES];
static unsigned nrules;
static struct held_io held[MAX_HELD];
static unsigned nheld;
static unsigned hits;
/* The table the wrappers were installed over: they pass everything they do
 * not fail on to it. */
static struct sm_disk_syscalls next_sys;
static bool installed;

/* File-driven rules (SYNC_MANAGER_TEST_FAULTS). */
static const char *env_file;
static struct timespec env_mtime;
static bool env_present;

/* Path of each fd we opened, so file rules can match a path substring. */
#define MAX_FDS 1024
static char *fd_paths[MAX_FDS];

static int wrap_open(const char *path, int flags, mode_t mode)
{
	int fd = next_sys.open(path, flags, mode);
	if (fd >= 0 && fd < MAX_FDS) {
		pthread_mutex_lock(&fault_lock);
		free(fd_paths[fd]);
		fd_paths[fd] = strdup(path);
		pthread_mutex_unlock(&fault_lock);
	}
	return fd;
}

static int wrap_close(int fd)
{
	if (fd >= 0 && fd < MAX_FDS) {
		pthread_mutex_lock(&fault_lock);
		free(fd_paths[fd]);
		fd_paths[fd] = NULL;
		pthread_mutex_unlock(&fault_lock);
	}
	return next_sys.close(fd);
}

static void release_hung_locked(bool complete);

/* The path fd was opened with; for a descriptor opened before the wrappers
 * were installed, the kernel's name for it (cached).  Caller holds fault_lock. */
static const char *fd_path_locked(int fd)
{
	if (fd < 0 || fd >= MAX_FDS)
		return NULL;
	if (!fd_paths[fd]) {
		char link[64], target[4096];
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			fd_paths[fd] = strdup(target);
		}
	}
	return fd_paths[fd];
}

static bool parse_io_rule(const char *op, const char *kind, struct sm_fault_rule *rule)
{
	rule->op = !strcmp(op, "read") ? SM_FAULT_READ : !strcmp(op, "write") ? SM_FAULT_WRITE : SM_FAULT_ANY;
	rule->kind = !strcmp(kind, "hang") ? SM_FAULT_HANG : !strcmp(kind, "short") ? SM_FAULT_SHORT : SM_FAULT_ERRNO;
	rule->err = EIO;
	return true;
}

/* "prout|prin|caw KIND": see fault.h for the kinds. */
static bool parse_pr_rule(const char *op, const char *kind, struct sm_fault_rule *rule)
{
	bool caw = !strcmp(op, "caw");
	rule->op = caw ? SM_FAULT_CAW : !strcmp(op, "prout") ? SM_FAULT_PR_OUT : SM_FAULT_PR_IN;
	rule->err = EIO;
	if (caw && !strcmp(kind, "miscompare")) {
		rule->kind = SM_FAULT_CHECK_CONDITION;
		rule->sense_key = SM_SENSE_MISCOMPARE;
		rule->asc = 0x1d;
	} else if (caw && !strcmp(kind, "illegal")) {
		rule->kind = SM_FAULT_CHECK_CONDITION;
		rule->sense_key = SM_SENSE_ILLEGAL_REQUEST;
		rule->asc = 0x20; /* invalid command operation code */
	} else if (!strcmp(kind, "conflict")) {
		rule->kind = SM_FAULT_SCSI_STATUS;
		rule->status = SM_SCSI_RESERVATION_CONFLICT;
	} else if (!strcmp(kind, "ua") || !strcmp(kind, "ua-preempted")) {
		rule->kind = SM_FAULT_CHECK_CONDITION;
		rule->sense_key = SM_SENSE_UNIT_ATTENTION;
		rule->asc = kind[2] ? 0x2a : 0x29;
		rule->ascq = kind[2] ? 0x05 : 0x00;
		rule->count = 1;
	} else if (!strcmp(kind, "illegal") || !strcmp(kind, "abort-unsupported")) {
		rule->kind = SM_FAULT_CHECK_CONDITION;
		rule->sense_key = SM_SENSE_ILLEGAL_REQUEST;
		rule->asc = 0x24;
		if (kind[0] == 'a') {
			if (rule->op != SM_FAULT_PR_OUT)
				return false;
			rule->pr_actions = 1u << 5; /* PREEMPT AND ABORT */
		}
	} else if (!strcmp(kind, "eio")) {
		rule->kind = SM_FAULT_ERRNO;
	} else if (!strcmp(kind, "hang")) {
		rule->kind = SM_FAULT_HANG;
	} else {
		return false;
	}
	return true;
}

/* Re-read the rules file if it changed.  Caller holds fault_lock. */
static void env_refresh_locked(void)
{
	struct stat st;
	if (stat(env_file, &st) < 0) {
		if (env_present) {
			env_present = false;
			nrules = 0;
			release_hung_locked(true);
			sm_info("fault injection: %s removed, faults cleared", env_file);
		}
		return;
	}
	if (env_present && st.st_mtim.tv_sec == env_mtime.tv_sec && st.st_mtim.tv_nsec == env_mtime.tv_nsec)
		return;
	env_present = true;
	env_mtime = st.st_mtim;
	nrules = 0;
	FILE *f = fopen(env_file, "r");
	if (!f)
		return;
	char line[256];
	while (fgets(line, sizeof(line), f) && nrules < MAX_RULES) {
		char op[16] = "", kind[24] = "", filt[128] = "";
		if (line[0] == '#' || sscanf(line, "%15s %23s %127s", op, kind, filt) < 2)
			continue;
		struct rule_state *r = &rules[nrules];
		memset(r, 0, sizeof(*r));
		bool ok = !strcmp(op, "prout") || !strcmp(op, "prin") || !strcmp(op, "caw")
				  ? parse_pr_rule(op, kind, &r->rule)
									: parse_io_rule(op, kind, &r->rule);
		if (!ok) {
			sm_warn("fault injection: %s: ignoring the rule \"%s %s\" (unknown operation or kind)", env_file,
				op, kind);
			continue;
		}
		snprintf(r->path_filter, sizeof(r->path_filter), "%s", filt);
		nrules++;
	}
	fclose(f);
	if (nrules == 0)
		release_hung_locked(true);
	sm_info("fault injection: %u rule(s) from %s", nrules, env_file);
}

/* Decide the fate of one I/O or PR command: op is the SM_FAULT_* bit of the
 * command, pr_action its service action (PR commands only).  Returns the
 * matching rule or NULL. */
static struct rule_state *match_locked(unsigned op, int fd, int pr_action)
{
	if (env_file)
		env_refresh_locked();
	for (unsigned i = 0; i < nrules; i++) {
		struct rule_state *r = &rules[i];
		if (!(r->rule.op & op))
			continue;
		if (pr_action >= 0 && r->rule.pr_actions && !(r->rule.pr_actions & (1u << pr_action)))
			continue;
		if (r->path_filter[0]) {
			const char *p = fd_path_locked(fd);
			if (!p || !strstr(p, r->path_filter))
				continue;
		}
		r->seen++;
		unsigned first = r->rule.nth ? r->rule.nth : 1;
		if (r->seen < first)
			continue;
		if (r->rule.count && r->fired >= r->rule.count)
			continue;
		r->fired++;
		hits++;
		return r;
	}
	return NULL;
}

static struct rule_state *match_io_locked(struct iocb *cb)
{
	bool write = cb->aio_lio_opcode == IO_CMD_PWRITE;
	return match_locked(write ? SM_FAULT_WRITE : SM_FAULT_READ, cb->aio_fildes, -1);
}

/* SM_FAULT_SLOW: hold the submitting thread for the time the transfer of
 * nbytes takes at ms_per_mib (the caller's timeout is already running). */
static void slow_down(unsigned long nbytes, unsigned ms_per_mib)
{
	uint64_t ns = (uint64_t)nbytes * ms_per_mib * 1000000ull / (1024 * 1024);
	struct timespec ts = {(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int wrap_io_submit(io_context_t ctx, long nr, struct iocb **cbs)
{
	long done = 0;
	for (long i = 0; i < nr; i++) {
		pthread_mutex_lock(&fault_lock);
		struct rule_state *r = match_io_locked(cbs[i]);
		struct sm_fault_rule rule = r ? r->rule : (struct sm_fault_rule){0};
		int err = rule.err ? rule.err : EIO;
		if (r)
			sm_debug("fault: %s %s at offset %lld (%lu bytes)",
				 rule.kind == SM_FAULT_HANG ? "hang" : rule.kind == SM_FAULT_SHORT ? "short"
				 : rule.kind == SM_FAULT_SLOW ? "slow" : "error",
				 cbs[i]->aio_lio_opcode == IO_CMD_PWRITE ? "write" : "read", (long long)cbs[i]->u.c.offset,
				 (unsigned long)cbs[i]->u.c.nbytes);
		if (r && (rule.kind == SM_FAULT_ERRNO || rule.kind == SM_FAULT_HANG)) {
			if (nheld >= MAX_HELD) {
				pthread_mutex_unlock(&fault_lock);
				return done ? (int)done : -EAGAIN;
			}
			held[nheld++] = (struct held_io){ctx, cbs[i], -err, rule.kind == SM_FAULT_HANG};
			pthread_mutex_unlock(&fault_lock);
			done++;
			continue;
		}
		pthread_mutex_unlock(&fault_lock);
		if (r && rule.kind == SM_FAULT_SLOW)
			slow_down(cbs[i]->u.c.nbytes, rule.slow_ms_per_mib);
		if (r && rule.kind == SM_FAULT_SUBMIT_ERRNO)
			return done ? (int)done : -err;
		if (r && rule.kind == SM_FAULT_SHORT) {
			/* The device transfers only the first half, in 4 KiB units so
			 * O_DIRECT accepts it; a smaller I/O transfers nothing. */
			unsigned long cut = (cbs[i]->u.c.nbytes / 2) & ~4095ul;
			if (cut == 0) {
				pthread_mutex_lock(&fault_lock);
				held[nheld++] = (struct held_io){ctx, cbs[i], 0, false};
				pthread_mutex_unlock(&fault_lock);
				done++;
				continue;
			}
			cbs[i]->u.c.nbytes = cut;
		}
		int rc = next_sys.io_submit(ctx, 1, &cbs[i]);
		if (rc != 1)
			return done ? (int)done : rc;
		done++;
	}
	return (int)done;
}

static int wrap_io_getevents(io_context_t ctx, long min_nr, long nr, struct io_event *events,
			     struct timespec *timeout)
{
	long got = 0;
	pthread_mutex_lock(&fault_lock);
	if (env_file)
		env_refresh_locked();
	for (unsigned i = 0; i < nheld && got < nr;) {
		if (held[i].ctx == ctx && !held[i].hung) {
			events[got++] = (struct io_event){.data = held[i].cb->data, .obj = held[i].cb,
							  .res = (unsigned long)held[i].res};
			held[i] = held[--nheld];
		} else {
			i++;
		}
	}
	pthread_mutex_unlock(&fault_lock);
	if (got > 0) {
		struct timespec zero = {0, 0};
		int rc = next_sys.io_getevents(ctx, 0, nr - got, events + got, &zero);
		return (int)got + (rc > 0 ? rc : 0);
	}
	/* While file-driven hangs are active, wake up now and then to notice a
	 * change of the rules file (the caller loops until its own deadline). */
	struct timespec slice = {0, 100 * 1000000L};
	if (env_file && timeout && (timeout->tv_sec > 0 || timeout->tv_nsec > slice.tv_nsec))
		return next_sys.io_getevents(ctx, min_nr, nr, events, &slice);
	return next_sys.io_getevents(ctx, min_nr, nr, events, timeout);
}

static int wrap_io_cancel(io_context_t ctx, struct iocb *cb, struct io_event *ev)
{
	(void)ctx;
	(void)cb;
	(void)ev;
	return -EINVAL; /* like most real drivers: a submitted I/O cannot be cancelled */
}

static int wrap_io_destroy(io_context_t ctx)
{
	pthread_mutex_lock(&fault_lock);
	for (unsigned i = 0; i < nheld;) {
		if (held[i].ctx == ctx)
			held[i] = held[--nheld];
		else
			i++;
	}
	pthread_mutex_unlock(&fault_lock);
	return next_sys.io_destroy(ctx);
}

/* ---- persistent reservation commands ---- */

/* The PR OUT service action an IOC_PR_* ioctl sends. */
static int pr_ioctl_action(unsigned long request, const void *arg)
{
	switch (request) {
	case IOC_PR_REGISTER:
		return (((const struct pr_registration *)arg)->flags & PR_FL_IGNORE_KEY) ? 6 : 0;
	case IOC_PR_RESERVE:
		return 1;
	case IOC_PR_RELEASE:
		return 2;
	case IOC_PR_CLEAR:
		return 3;
	case IOC_PR_PREEMPT:
		return 4;
	case IOC_PR_PREEMPT_ABORT:
		return 5;
	default:
		return -1;
	}
}

static bool is_invalid_request_sense(const struct sm_fault_rule *rule)
{
	return rule->sense_key == SM_SENSE_ILLEGAL_REQUEST &&
	       (rule->asc == 0x20 || rule->asc == 0x24 || rule->asc == 0x26);
}

/* What the PR ioctl returns for a faulted command (see fault.h). */
static int faulted_ioctl_result(const struct sm_fault_rule *rule)
{
	switch (rule->kind) {
	case SM_FAULT_SCSI_STATUS:
		return rule->status;
	case SM_FAULT_CHECK_CONDITION:
		if (rule->ioctl_style == SM_FAULT_IOCTL_PR_STATUS && is_invalid_request_sense(rule))
			return -EINVAL;
		return SM_SCSI_CHECK_CONDITION;
	case SM_FAULT_HANG:
		return -ETIMEDOUT;
	default:
		return -(rule->err ? rule->err : EIO);
	}
}

static int wrap_pr_ioctl(int fd, unsigned long request, void *arg)
{
	int action = pr_ioctl_action(request, arg);
	if (action < 0)
		return next_sys.pr_ioctl(fd, request, arg);
	pthread_mutex_lock(&fault_lock);
	struct rule_state *r = match_locked(SM_FAULT_PR_OUT, fd, action);
	struct sm_fault_rule rule = r ? r->rule : (struct sm_fault_rule){0};
	pthread_mutex_unlock(&fault_lock);
	if (!r)
		return next_sys.pr_ioctl(fd, request, arg);
	int rc = faulted_ioctl_result(&rule);
	sm_debug("fault: PR OUT service action %d through ioctl answers %d", action, rc);
	return rc;
}

/* Fill in a SCSI answer as a target would have given it. */
static void fake_scsi_answer(struct sg_io_hdr *hdr, const struct sm_fault_rule *rule)
{
	hdr->resid = (int)hdr->dxfer_len;
	hdr->sb_len_wr = 0;
	hdr->host_status = 0;
	hdr->driver_status = 0;
	hdr->info = 0;
	if (rule->kind == SM_FAULT_HANG) {
		hdr->host_status = 0x03; /* DID_TIME_OUT */
		hdr->info = SG_INFO_CHECK;
		return;
	}
	hdr->status = rule->kind == SM_FAULT_SCSI_STATUS ? rule->status : SM_SCSI_CHECK_CONDITION;
	hdr->masked_status = (unsigned char)(hdr->status >> 1);
	hdr->info = SG_INFO_CHECK;
	if (rule->kind != SM_FAULT_CHECK_CONDITION || !hdr->sbp || hdr->mx_sb_len < 14)
		return;
	uint8_t *sense = hdr->sbp;
	memset(sense, 0, hdr->mx_sb_len);
	sense[0] = 0x70; /* fixed format, current error */
	sense[2] = rule->sense_key;
	sense[7] = 10;   /* additional sense length */
	sense[12] = rule->asc;
	sense[13] = rule->ascq;
	hdr->sb_len_wr = 18 <= hdr->mx_sb_len ? 18 : hdr->mx_sb_len;
	hdr->driver_status = 0x08; /* DRIVER_SENSE */
}

static int wrap_sg_io(int fd, struct sg_io_hdr *hdr)
{
	const uint8_t *cdb = hdr->cmdp;
	bool out = hdr->cmd_len >= 2 && cdb[0] == 0x5f, in = hdr->cmd_len >= 2 && cdb[0] == 0x5e;
	bool caw = hdr->cmd_len >= 16 && cdb[0] == 0x89;
	if (!out && !in && !caw)
		return next_sys.sg_io(fd, hdr);
	int action = caw ? -1 : cdb[1] & 0x1f;
	pthread_mutex_lock(&fault_lock);
	struct rule_state *r = match_locked(caw ? SM_FAULT_CAW : out ? SM_FAULT_PR_OUT : SM_FAULT_PR_IN, fd, action);
	struct sm_fault_rule rule = r ? r->rule : (struct sm_fault_rule){0};
	pthread_mutex_unlock(&fault_lock);
	if (!r)
		return next_sys.sg_io(fd, hdr);
	sm_debug("fault: %s%s through SG_IO fails", caw ? "COMPARE AND WRITE" : out ? "PR OUT" : "PR IN",
		 caw ? "" : " (a service action)");
	if (rule.kind == SM_FAULT_ERRNO || rule.kind == SM_FAULT_SUBMIT_ERRNO || rule.kind == SM_FAULT_SHORT)
		return -(rule.err ? rule.err : EIO);
	if (rule.kind == SM_FAULT_DONE_ERRNO) {
		next_sys.sg_io(fd, hdr); /* executed; what it answered is lost */
		return -(rule.err ? rule.err : EIO);
	}
	fake_scsi_answer(hdr, &rule);
	return 0;
}

void sm_fault_install(void)
{
	pthread_mutex_lock(&fault_lock);
	/* Already in the chain: on top, or under a layer installed since (a test's
	 * emulator) as long as the table was not reset.  Wrapping again would
	 * make the wrappers call themselves. */
	bool in_chain = sm_disk_sys.io_submit == wrap_io_submit ||
			(installed && sm_disk_sys.io_submit != sm_disk_sys_real.io_submit);
	if (!in_chain) {
		installed = true;
		next_sys = sm_disk_sys;
		sm_disk_sys.pr_ioctl = wrap_pr_ioctl;
		sm_disk_sys.sg_io = wrap_sg_io;
		sm_disk_sys.open = wrap_open;
		sm_disk_sys.close = wrap_close;
		sm_disk_sys.io_submit = wrap_io_submit;
		sm_disk_sys.io_getevents = wrap_io_getevents;
		sm_disk_sys.io_cancel = wrap_io_cancel;
		sm_disk_sys.io_destroy = wrap_io_destroy;
	}
	pthread_mutex_unlock(&fault_lock);
}

void sm_fault_clear(void)
{
	pthread_mutex_lock(&fault_lock);
	nrules = 0;
	hits = 0;
	pthread_mutex_unlock(&fault_lock);
}

int sm_fault_add(const struct sm_fault_rule *rule)
{
	sm_fault_install();
	pthread_mutex_lock(&fault_lock);
	int rc = -ENOSPC;
	if (nrules < MAX_RULES) {
		memset(&rules[nrules], 0, sizeof(rules[nrules]));
		rules[nrules].rule = *rule;
		rules[nrules].rule.path = NULL;
		if (rule->path)
			snprintf(rules[nrules].path_filter, sizeof(rules[nrules].path_filter), "%s", rule->path);
		nrules++;
		rc = 0;
	}
	pthread_mutex_unlock(&fault_lock);
	return rc;
}

static void release_hung_locked(bool complete)
{
	for (unsigned i = 0; i < nheld;) {
		if (!held[i].hung) {
			i++;
			continue;
		}
		if (complete) {
			struct iocb *cb = held[i].cb;
			sm_debug("fault: hung %s at offset %lld lands now",
				 cb->aio_lio_opcode == IO_CMD_PWRITE ? "write" : "read", (long long)cb->u.c.offset);
			io_context_t ctx = held[i].ctx;
			held[i] = held[--nheld];
			if (next_sys.io_submit(ctx, 1, &cb) != 1)
				held[nheld++] = (struct held_io){ctx, cb, -EIO, false};
		} else {
			held[i].hung = false;
			held[i].res = -EIO;
			i++;
		}
	}
}

void sm_fault_release_hung(bool complete)
{
	pthread_mutex_lock(&fault_lock);
	release_hung_locked(complete);
	pthread_mutex_unlock(&fault_lock);
}

unsigned sm_fault_hits(void)
{
	pthread_mutex_lock(&fault_lock);
	unsigned h = hits;
	pthread_mutex_unlock(&fault_lock);
	return h;
}

bool sm_fault_from_env(void)
{
	const char *f = getenv("SYNC_MANAGER_TEST_FAULTS");
	if (!f || !*f)
		return false;
	pthread_mutex_lock(&fault_lock);
	env_file = strdup(f);
	pthread_mutex_unlock(&fault_lock);
	sm_fault_install();
	sm_warn("fault injection enabled from %s (SYNC_MANAGER_TEST_FAULTS): for tests only", f);
	return true;
}

void sm_fault_reset(void)
{
	pthread_mutex_lock(&fault_lock);
	nrules = 0;
	hits = 0;
	nheld = 0;
	installed = false;
	sm_disk_syscalls_reset();
	pthread_mutex_unlock(&fault_lock);
}
