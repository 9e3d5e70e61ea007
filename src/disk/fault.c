/* Fault-injecting wrappers around the AIO syscalls.  See fault.h. */
#include "fault.h"

#include "common/log.h"
#include "syscalls.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* File-driven rules (SYNC_MANAGER_TEST_FAULTS). */
static const char *env_file;
static struct timespec env_mtime;
static bool env_present;

/* Path of each fd we opened, so file rules can match a path substring. */
#define MAX_FDS 1024
static char *fd_paths[MAX_FDS];

static int wrap_open(const char *path, int flags, mode_t mode)
{
	int fd = sm_disk_sys_real.open(path, flags, mode);
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
	return sm_disk_sys_real.close(fd);
}

static void release_hung_locked(bool complete);

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
		char op[16] = "", kind[16] = "", filt[128] = "";
		if (line[0] == '#' || sscanf(line, "%15s %15s %127s", op, kind, filt) < 2)
			continue;
		struct rule_state *r = &rules[nrules];
		memset(r, 0, sizeof(*r));
		r->rule.op = !strcmp(op, "read") ? SM_FAULT_READ : !strcmp(op, "write") ? SM_FAULT_WRITE : SM_FAULT_ANY;
		r->rule.kind = !strcmp(kind, "hang") ? SM_FAULT_HANG : !strcmp(kind, "short") ? SM_FAULT_SHORT
											: SM_FAULT_ERRNO;
		r->rule.err = EIO;
		snprintf(r->path_filter, sizeof(r->path_filter), "%s", filt);
		nrules++;
	}
	fclose(f);
	if (nrules == 0)
		release_hung_locked(true);
	sm_info("fault injection: %u rule(s) from %s", nrules, env_file);
}

/* Decide the fate of one I/O.  Returns the matching rule or NULL. */
static struct rule_state *match_locked(struct iocb *cb)
{
	if (env_file)
		env_refresh_locked();
	bool write = cb->aio_lio_opcode == IO_CMD_PWRITE;
	for (unsigned i = 0; i < nrules; i++) {
		struct rule_state *r = &rules[i];
		if (!(r->rule.op & (write ? SM_FAULT_WRITE : SM_FAULT_READ)))
			continue;
		if (r->path_filter[0]) {
			int fd = cb->aio_fildes;
			const char *p = (fd >= 0 && fd < MAX_FDS) ? fd_paths[fd] : NULL;
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

static int wrap_io_submit(io_context_t ctx, long nr, struct iocb **cbs)
{
	long done = 0;
	for (long i = 0; i < nr; i++) {
		pthread_mutex_lock(&fault_lock);
		struct rule_state *r = match_locked(cbs[i]);
		struct sm_fault_rule rule = r ? r->rule : (struct sm_fault_rule){0};
		int err = rule.err ? rule.err : EIO;
		if (r)
			sm_debug("fault: %s %s at offset %lld (%lu bytes)",
				 rule.kind == SM_FAULT_HANG ? "hang" : rule.kind == SM_FAULT_SHORT ? "short" : "error",
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
		int rc = sm_disk_sys_real.io_submit(ctx, 1, &cbs[i]);
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
		int rc = sm_disk_sys_real.io_getevents(ctx, 0, nr - got, events + got, &zero);
		return (int)got + (rc > 0 ? rc : 0);
	}
	/* While file-driven hangs are active, wake up now and then to notice a
	 * change of the rules file (the caller loops until its own deadline). */
	struct timespec slice = {0, 100 * 1000000L};
	if (env_file && timeout && (timeout->tv_sec > 0 || timeout->tv_nsec > slice.tv_nsec))
		return sm_disk_sys_real.io_getevents(ctx, min_nr, nr, events, &slice);
	return sm_disk_sys_real.io_getevents(ctx, min_nr, nr, events, timeout);
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
	return sm_disk_sys_real.io_destroy(ctx);
}

void sm_fault_install(void)
{
	pthread_mutex_lock(&fault_lock);
	if (sm_disk_sys.io_submit != wrap_io_submit) {
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
			if (sm_disk_sys_real.io_submit(ctx, 1, &cb) != 1)
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
	sm_disk_syscalls_reset();
	pthread_mutex_unlock(&fault_lock);
}
