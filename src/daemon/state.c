/* Persistence for restarting the daemon without losing leases (docs/restart.md).
 *
 * RUN_DIR/state is a snapshot followed by a journal of changes:
 *
 *   sync_managerd-state 1                       magic
 *   lockspace LOCATION ID GEN INSTANCE LAST FAILED NAME IO_MS WD_MS
 *                                               (older daemons: without the
 *                                                last three, the header's)
 *   proc PID START BY_PARENT NAME SIGNAL PATH NARGS ARGS...
 *   lease LS NAME MODE LVER ON_DISK IN_DOUBT NLOC LOCATIONS... PID:MODE...
 *   ...                                         (the snapshot: earlier versions
 *                                                wrote only these lines)
 *   lease|proc|lockspace ...                    journal: upsert, replaces the
 *                                                record with the same key
 *   lease- LS NAME | proc- PID | lockspace- LOCATION   journal: delete
 *   renewed LOCATION BOOT_MS                    journal: a lockspace renewed
 *
 * Keys: a lockspace by its location, a process by its pid, a lease by its
 * lockspace and resource names.  Fields are separated by spaces; strings
 * are %-escaped.
 *
 * Code that changes a persisted field touches the object (state_touch_*).
 * state_save() formats each touched object's record, skips it when equal to
 * what is on file (a hash per object), and appends the rest with a single
 * write(2).  Callers save before any reply that depends on a change, so a
 * daemon killed at any moment leaves a file listing every process that may
 * be using a lease.  Only the last line can be torn (no newline); loading
 * ignores it.  No fsync: the file lives on tmpfs and only has to survive
 * the daemon, not the machine.
 *
 * Once the journal holds more than max(1024 lines, 2 x live records), the
 * next save writes a snapshot instead (temp file + rename) and appends to
 * it from then on; so do a starting daemon (after restoring) and a clean
 * shutdown.
 *
 * A new daemon reads the file back with resume.c. */
#include "state.h"

#include "leasetab.h"
#include "lockspaces.h"
#include "procs.h"
#include "state_replay.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COMPACT_MIN_LINES 1024

/* ---- output buffer ---------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static bool sb_reserve(struct sbuf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void sb_putc(struct sbuf *b, char c)
{
	if (sb_reserve(b, 1))
		b->p[b->len++] = c;
}

static __attribute__((format(printf, 2, 3))) void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = b->cap - b->len;
		int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		if (!sb_reserve(b, (size_t)n + 1))
			return;
	}
}

/* "-" stands for the empty string, so a string that is exactly "-" is
 * escaped too. */
static void sb_esc(struct sbuf *b, const char *s)
{
	if (!*s) {
		sb_putc(b, '-');
		return;
	}
	for (const char *c0 = s; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c == '%' || c >= 0x7f || (c == '-' && s == c0 && s[1] == '\0'))
			sb_printf(b, "%%%02X", c);
		else
			sb_putc(b, (char)c);
	}
}

static uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = sm_fnv1a(SM_FNV1A_INIT, p, n);
	return h ? h : 1; /* 0 means "not on file" */
}

/* ---- journal bookkeeping ------------------------------------------------- */

struct pending {
	void **v; /* touched objects; NULL = forgotten since */
	uint32_t n, cap;
};

struct ls_rec {
	char location[SM_LOCATION_MAX];
	uint64_t ident;   /* hash of the record without the renewal time */
	uint64_t renewal; /* last_renewal_boot_ms on file */
	bool seen;
};

struct state_journal {
	int fd;            /* the state file, appended to; -1 = write a snapshot first */
	uint64_t lines;    /* journal lines after the snapshot */
	off_t size;        /* bytes on file: where a failed append is cut back to */
	uint64_t live;     /* records the file holds once replayed */
	struct pending leases, procs;
	bool ls_touched;
	struct sbuf dels;  /* delete records of objects freed since the last save */
	struct sbuf out;   /* reused for every save */
	struct ls_rec *ls; /* lockspaces on file */
	int nls, cap_ls;
	int failing;           /* errno of the last failed save, 0 = saving works */
	uint64_t failing_logged_mono;
};

static struct state_journal *journal_of(struct daemon *d)
{
	if (!d->journal) {
		d->journal = calloc(1, sizeof(*d->journal));
		if (d->journal)
			d->journal->fd = -1;
	}
	return d->journal;
}

static bool pending_add(struct pending *pd, void *obj, uint32_t *slot)
{
	if (*slot)
		return true;
	if (pd->n == pd->cap) {
		uint32_t cap = pd->cap ? pd->cap * 2 : 64;
		void **v = realloc(pd->v, cap * sizeof(*v));
		if (!v)
			return false;
		pd->v = v;
		pd->cap = cap;
	}
	pd->v[pd->n++] = obj;
	*slot = pd->n;
	return true;
}

void state_touch_lease(struct daemon *d, struct lease *l)
{
	struct state_journal *j = journal_of(d);
	if (!j || !pending_add(&j->leases, l, &l->st.dirty))
		d->state_dirty = true; /* fall back to a snapshot */
}

void state_touch_proc(struct daemon *d, struct proc *p)
{
	struct state_journal *j = journal_of(d);
	if (!j || !pending_add(&j->procs, p, &p->st.dirty))
		d->state_dirty = true;
}

void state_touch_ls(struct daemon *d)
{
	struct state_journal *j = journal_of(d);
	if (j)
		j->ls_touched = true;
	else
		d->state_dirty = true;
}

void state_forget_lease(struct daemon *d, struct lease *l)
{
	struct state_journal *j = d->journal;
	if (!j)
		return; /* nothing touched, nothing on file */
	if (l->st.dirty)
		j->leases.v[l->st.dirty - 1] = NULL;
	l->st.dirty = 0;
	if (l->st.hash) {
		sb_printf(&j->dels, "lease- %s %s\n", l->ls->name, l->ref.name);
		j->live--;
		j->lines++;
		l->st.hash = 0;
	}
	if (j->dels.oom)
		d->state_dirty = true;
}

void state_forget_proc(struct daemon *d, struct proc *p)
{
	struct state_journal *j = d->journal;
	if (!j)
		return;
	if (p->st.dirty)
		j->procs.v[p->st.dirty - 1] = NULL;
	p->st.dirty = 0;
	if (p->st.hash) {
		sb_printf(&j->dels, "proc- %d\n", (int)p->pid);
		j->live--;
		j->lines++;
		p->st.hash = 0;
	}
	if (j->dels.oom)
		d->state_dirty = true;
}

static bool has_pending(const struct state_journal *j)
{
	return j->leases.n || j->procs.n || j->dels.len || j->ls_touched;
}

/* ---- records ----------------------------------------------------------------- */

static bool fmt_proc(struct sbuf *b, const struct proc *p)
{
	if (p->state == PROC_DEAD)
		return false;
	sb_printf(b, "proc %d %llu %d ", (int)p->pid, (unsigned long long)p->starttime, p->by_parent);
	sb_esc(b, p->name);
	sb_printf(b, " %d ", p->kill.signal);
	sb_esc(b, p->kill.path);
	sb_printf(b, " %d", p->kill.nargs);
	for (int i = 0; i < p->kill.nargs; i++) {
		sb_putc(b, ' ');
		sb_esc(b, p->kill.args[i]);
	}
	if (p->kill.has_owner)
		sb_printf(b, " %u:%u", (unsigned)p->kill.uid, (unsigned)p->kill.gid);
	sb_putc(b, '\n');
	return true;
}

static bool fmt_lease(struct sbuf *b, const struct lease *l)
{
	if (!l->on_disk && !l->in_doubt)
		return false;
	sb_printf(b, "lease %s %s %u %llu %d %d %d", l->ls->name, l->ref.name, l->held.mode,
		  (unsigned long long)l->held.lver, l->on_disk, l->in_doubt, l->nlocations);
	for (int i = 0; i < l->nlocations; i++) {
		sb_putc(b, ' ');
		sb_esc(b, l->location[i]);
	}
	for (const struct holder *h = l->holders; h; h = h->next)
		sb_printf(b, " %d:%u", (int)h->proc->pid, h->mode);
	sb_putc(b, '\n');
	return true;
}

/* Append p's record (or its delete) if it differs from what is on file. */
static void emit_proc(struct state_journal *j, struct proc *p)
{
	size_t start = j->out.len;
	if (fmt_proc(&j->out, p)) {
		uint64_t h = hash_bytes(j->out.p + start, j->out.len - start);
		if (h == p->st.hash) {
			j->out.len = start;
			return;
		}
		j->live += !p->st.hash;
		p->st.hash = h;
	} else if (p->st.hash) {
		sb_printf(&j->out, "proc- %d\n", (int)p->pid);
		j->live--;
		p->st.hash = 0;
	} else {
		return;
	}
	j->lines++;
}

static void emit_lease(struct state_journal *j, struct lease *l)
{
	size_t start = j->out.len;
	l->st.emit_holders = false;
	if (fmt_lease(&j->out, l)) {
		l->st.emit_holders = l->holders != NULL;
		uint64_t h = hash_bytes(j->out.p + start, j->out.len - start);
		if (h == l->st.hash) {
			j->out.len = start;
			return;
		}
		j->live += !l->st.hash;
		l->st.hash = h;
	} else if (l->st.hash) {
		sb_printf(&j->out, "lease- %s %s\n", l->ls->name, l->ref.name);
		j->live--;
		l->st.hash = 0;
	} else {
		return;
	}
	j->lines++;
}

struct ls_vals {
	uint32_t id;
	uint64_t gen;
	char inst[33];
	uint64_t last;
	bool failed;
	/* from the volume header (empty name: not known, not written) */
	char name[SM_NAME_FIELD];
	uint32_t io_ms, wd_ms;
};

/* What the file must say about e; false if it must not list it.  A resumed
 * lockspace is listed with the previous daemon's values until its resume
 * finished (it must not drop off the file meanwhile), also while its volume
 * header is still being read (e->ls NULL). */
static bool ls_values(struct ls_entry *e, struct ls_vals *v)
{
	if (e->state == LS_GONE || (!e->ls && !e->resume))
		return false;
	if (e->state == LS_LEAVING && !e->leave_when_free)
		return false; /* about to write its slot free: off the file first */
	struct sm_lockspace_info info = {0};
	uint8_t inst[16];
	if (e->ls)
		sm_lockspace_info(e->ls, &info);
	if (info.joined) {
		sm_lockspace_me(e->ls, &v->id, &v->gen, inst);
		v->last = info.last_renewal_boot_ms;
	} else if (e->resume) {
		v->id = e->resume_host_id;
		v->gen = e->resume_generation;
		memcpy(inst, e->resume_instance, 16);
		v->last = e->resume_last_renewal_boot;
	} else {
		return false;
	}
	for (int i = 0; i < 16; i++)
		snprintf(v->inst + 2 * i, 3, "%02x", inst[i]);
	v->failed = e->state == LS_FAILED;
	bool known = e->name[0] && e->to.io_ms && e->to.watchdog_ms;
	snprintf(v->name, sizeof(v->name), "%s", known ? e->name : "");
	v->io_ms = known ? e->to.io_ms : 0;
	v->wd_ms = known ? e->to.watchdog_ms : 0;
	return true;
}

/* The header's name and timeouts go with the record, so that a new daemon
 * can attach the leases and judge expiry before it has read the header. */
static void fmt_ls(struct sbuf *b, const char *location, const struct ls_vals *v)
{
	sb_printf(b, "lockspace ");
	sb_esc(b, location);
	sb_printf(b, " %u %llu %s %llu %d", v->id, (unsigned long long)v->gen, v->inst, (unsigned long long)v->last,
		  v->failed);
	if (v->name[0])
		sb_printf(b, " %s %u %u", v->name, v->io_ms, v->wd_ms);
	sb_putc(b, '\n');
}

/* Compare every lockspace with what the file says and append the
 * differences: a new or changed record, "renewed", or a delete. */
static void emit_lockspaces(struct daemon *d, struct state_journal *j)
{
	for (int i = 0; i < j->nls; i++)
		j->ls[i].seen = false;
	for (struct ls_entry *e = d->lockspaces; e; e = e->next) {
		struct ls_vals v;
		if (!ls_values(e, &v))
			continue;
		struct ls_rec *r = NULL;
		for (int i = 0; i < j->nls && !r; i++)
			if (strcmp(j->ls[i].location, e->location) == 0)
				r = &j->ls[i];
		if (r && r->seen)
			continue; /* two entries for one volume: the first one counts */
		char id[128 + SM_NAME_FIELD];
		int n = snprintf(id, sizeof(id), "%u %llu %s %d %s %u %u", v.id, (unsigned long long)v.gen, v.inst,
				 v.failed, v.name, v.io_ms, v.wd_ms);
		uint64_t ident = hash_bytes(id, (size_t)n);
		if (!r) {
			if (j->nls == j->cap_ls) {
				int cap = j->cap_ls ? 2 * j->cap_ls : 4;
				struct ls_rec *a = realloc(j->ls, (size_t)cap * sizeof(*a));
				if (!a) {
					d->state_dirty = true;
					continue;
				}
				j->ls = a;
				j->cap_ls = cap;
			}
			r = &j->ls[j->nls++];
			snprintf(r->location, sizeof(r->location), "%s", e->location);
			r->ident = 0;
			j->live++;
		}
		if (r->ident != ident) {
			fmt_ls(&j->out, e->location, &v);
			j->lines++;
		} else if (r->renewal != v.last) {
			sb_printf(&j->out, "renewed ");
			sb_esc(&j->out, e->location);
			sb_printf(&j->out, " %llu\n", (unsigned long long)v.last);
			j->lines++;
		}
		r->seen = true;
		r->ident = ident;
		r->renewal = v.last;
		e->persisted_renewal_boot_ms = v.last;
	}
	for (int i = 0; i < j->nls;) {
		if (j->ls[i].seen) {
			i++;
			continue;
		}
		sb_printf(&j->out, "lockspace- ");
		sb_esc(&j->out, j->ls[i].location);
		sb_putc(&j->out, '\n');
		j->lines++;
		j->live--;
		j->ls[i] = j->ls[--j->nls];
	}
}

/* ---- writing ------------------------------------------------------------------ */

void state_path(const struct daemon *d, char *buf, size_t len, const char *suffix)
{
	snprintf(buf, len, "%s/state%s", d->cfg.run_dir, suffix);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void clear_pending(struct state_journal *j)
{
	for (uint32_t i = 0; i < j->leases.n; i++)
		if (j->leases.v[i])
			((struct lease *)j->leases.v[i])->st.dirty = 0;
	for (uint32_t i = 0; i < j->procs.n; i++)
		if (j->procs.v[i])
			((struct proc *)j->procs.v[i])->st.dirty = 0;
	j->leases.n = j->procs.n = 0;
	j->dels.len = 0;
	j->dels.oom = false;
	j->ls_touched = false;
}

/* Log a failed save: once per error, then every 10 s while it lasts (the
 * loop retries every SM_POLL_MS).  Returns rc. */
static int save_failed(struct daemon *d, const char *what, int rc)
{
	struct state_journal *j = d->journal;
	uint64_t now = mono_ms();
	if (!j || j->failing != -rc || now - j->failing_logged_mono >= 10000) {
		sm_error("cannot save daemon state: %s: %s (leases are not granted until it can be written)", what,
			 strerror(-rc));
		if (j) {
			j->failing = -rc;
			j->failing_logged_mono = now;
		}
	}
	return rc;
}

static void save_worked(struct daemon *d)
{
	struct state_journal *j = d->journal;
	if (j->failing)
		sm_warn("daemon state saved again in %s/state", d->cfg.run_dir);
	j->failing = 0;
}

/* Write b to a fresh temporary file and rename it over the state file.
 * Returns the new file's descriptor (for appending) or a negative errno. */
static int write_snapshot(struct daemon *d, const struct sbuf *b)
{
	char tmp[300], final[300];
	state_path(d, tmp, sizeof(tmp), ".tmp");
	state_path(d, final, sizeof(final), "");
	/* Never open what someone else put there (docs/admin-guide.md). */
	if (unlink(tmp) < 0 && errno != ENOENT)
		return save_failed(d, tmp, -errno);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return save_failed(d, tmp, -errno);
	int rc = write_all(fd, b->p, b->len);
	if (rc == 0 && rename(tmp, final) < 0)
		rc = -errno;
	if (rc < 0) {
		close(fd);
		unlink(tmp);
		return save_failed(d, final, rc);
	}
	return fd;
}

int state_snapshot(struct daemon *d)
{
	struct state_journal *j = journal_of(d);
	if (!j) {
		d->state_dirty = true;
		return save_failed(d, "out of memory", -ENOMEM);
	}
	clear_pending(j);
	struct sbuf *b = &j->out;
	b->len = 0;
	b->oom = false;
	sb_printf(b, "%s\n", STATE_MAGIC);
	j->nls = 0;
	j->live = 0;
	emit_lockspaces(d, j);
	for (struct proc *p = d->procs; p; p = p->next) {
		size_t start = b->len;
		p->st.hash = fmt_proc(b, p) ? hash_bytes(b->p + start, b->len - start) : 0;
		j->live += p->st.hash != 0;
	}
	for (struct lease *l = d->lt.head; l; l = l->next) {
		size_t start = b->len;
		l->st.hash = fmt_lease(b, l) ? hash_bytes(b->p + start, b->len - start) : 0;
		j->live += l->st.hash != 0;
	}
	/* From here on, failing means: try a snapshot again at the next save. */
	d->state_dirty = true;
	if (b->oom)
		return save_failed(d, "out of memory", -ENOMEM);
	int fd = write_snapshot(d, b);
	if (fd < 0)
		return fd;
	if (j->fd >= 0)
		close(j->fd);
	j->fd = fd;
	j->lines = 0;
	j->size = (off_t)b->len;
	d->state_dirty = false;
	for (struct lease *l = d->lt.head; l; l = l->next)
		l->st.filed_holders = l->st.hash && l->holders;
	save_worked(d);
	return 0;
}

/* Append b; on failure cut the file back to what it held before, so a
 * failed save never leaves part of its records on file. */
static int append(struct daemon *d, struct state_journal *j, const struct sbuf *b)
{
	int rc = write_all(j->fd, b->p, b->len);
	if (rc == 0)
		j->size += (off_t)b->len;
	else if (ftruncate(j->fd, j->size) < 0)
		sm_error("cannot cut %s/state back after a failed write: %s; a restart ignores its torn last line",
			 d->cfg.run_dir, strerror(errno));
	return rc;
}

int state_save(struct daemon *d)
{
	struct state_journal *j = d->journal;
	if (!d->state_dirty && (!j || !has_pending(j)))
		return 0;
	if (!j || j->fd < 0 || d->state_dirty || j->lines > SM_MAX((uint64_t)COMPACT_MIN_LINES, 2 * j->live))
		return state_snapshot(d);
	/* Deletes first: a key deleted and created again in this batch ends
	 * with the living object's record. */
	struct sbuf *b = &j->out;
	b->len = 0;
	b->oom = false;
	if (j->dels.len && sb_reserve(b, j->dels.len)) {
		memcpy(b->p, j->dels.p, j->dels.len);
		b->len = j->dels.len;
	}
	if (j->ls_touched)
		emit_lockspaces(d, j);
	/* Processes before leases: a lease record names its holders' pids. */
	for (uint32_t i = 0; i < j->procs.n; i++)
		if (j->procs.v[i])
			emit_proc(j, j->procs.v[i]);
	for (uint32_t i = 0; i < j->leases.n; i++)
		if (j->leases.v[i])
			emit_lease(j, j->leases.v[i]);
	if (b->oom)
		return state_snapshot(d);
	int rc = b->len ? append(d, j, b) : 0;
	if (rc < 0) {
		/* The hashes now describe records that are not on file: start
		 * over from a snapshot (now, and at every save until one works). */
		save_failed(d, "appending to the state file", rc);
		close(j->fd);
		j->fd = -1;
		return state_snapshot(d) < 0 ? rc : 0;
	}
	for (uint32_t i = 0; i < j->leases.n; i++)
		if (j->leases.v[i]) {
			struct lease *l = j->leases.v[i];
			l->st.filed_holders = l->st.emit_holders;
		}
	clear_pending(j);
	save_worked(d);
	return 0;
}

bool state_pending(struct daemon *d)
{
	return d->state_dirty || (d->journal && has_pending(d->journal));
}

void state_remove(struct daemon *d)
{
	char p[300];
	state_path(d, p, sizeof(p), "");
	unlink(p);
	if (d->journal && d->journal->fd >= 0) {
		close(d->journal->fd);
		d->journal->fd = -1;
	}
}

void state_free(struct daemon *d)
{
	struct state_journal *j = d->journal;
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	free(j->leases.v);
	free(j->procs.v);
	free(j->dels.p);
	free(j->out.p);
	free(j->ls);
	free(j);
	d->journal = NULL;
}

/* ---- loading ------------------------------------------------------------------ */

bool state_trusted(const struct stat *st, char *why, size_t len)
{
	uid_t me = geteuid();
	if (st->st_uid != 0 && st->st_uid != me) {
		char also[32] = "";
		if (me != 0)
			snprintf(also, sizeof(also), " or uid %u", (unsigned)me);
		snprintf(why, len, "owned by uid %u, not by root%s", (unsigned)st->st_uid, also);
		return false;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, len, "writable by %s (mode %04o)", st->st_mode & S_IWOTH ? "others" : "its group",
			 (unsigned)(st->st_mode & 07777));
		return false;
	}
	return true;
}
