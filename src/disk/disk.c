/* Direct-I/O engine: O_DIRECT + Linux native AIO with per-I/O timeouts. */
#include "disk.h"

#include "common/log.h"
#include "common/util.h"
#include "syscalls.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define BUF_ALIGN 4096
/* I/Os a disk may leave pending in the kernel before it refuses new ones. */
#define MAX_PENDING 32
#define AIO_DEPTH (MAX_PENDING + 2)

/* One submitted I/O.  Owned by the engine until the kernel reports it done. */
struct io_slot {
	struct iocb cb;
	void *buf;
	size_t cap;
	uint64_t off;
	size_t len;
	bool write;
	bool busy;     /* submitted and not yet reaped */
	bool abandoned; /* its caller timed out */
	long res;      /* completion result once reaped */
	bool done;
};

/* An abandoned write's sectors, as absolute offsets on its storage. */
struct lingering_write {
	uint64_t off, len;
	bool live;
};

struct sm_disk {
	char *path;
	int fd;
	uint64_t base;
	unsigned sector_size;
	unsigned dev_sector_size;
	bool blockdev;
	dev_t id_dev; /* what storage this is: st_rdev of a block device, */
	ino_t id_ino; /* or st_dev and st_ino of a file (its fd keeps the inode) */
	io_context_t ctx;
	struct io_slot slots[AIO_DEPTH];
	unsigned pending; /* abandoned slots still busy */
	struct sm_disk_stats stats;
	/* Held by the thread using the handle for each call, and by another
	 * thread's lingering-write check while it reaps this handle. */
	pthread_mutex_t mu;
	/* Under lingering_mu: */
	struct lingering_write lw[AIO_DEPTH]; /* by slot index */
	bool listed;                           /* on the lingering list */
	bool closed;                           /* closed with I/O pending: the list owns it */
	bool separate;                         /* SM_DISK_SEPARATE_HOST */
	struct sm_disk *lnext;
};

/* Handles of this process with abandoned I/O still in the kernel (DESIGN §3:
 * no lingering writes).  A write abandoned by one handle may land late over
 * whatever any handle wrote there since (the daemon's workers open their own
 * handles to one volume; a closed handle's writes land all the same), so no
 * handle may write sectors of the same storage until it has landed.
 * Lock order: a handle's mu, then lingering_mu; with lingering_mu held, other
 * handles' mu only by trylock. */
static pthread_mutex_t lingering_mu = PTHREAD_MUTEX_INITIALIZER;
static struct sm_disk *lingering_head;

static _Atomic uint64_t g_reads, g_writes, g_bytes_read, g_bytes_written, g_timeouts, g_errors;

static int probe_device(struct sm_disk *d, unsigned requested)
{
	struct stat st;
	int rc = sm_disk_sys.fstat(d->fd, &st);
	if (rc < 0)
		return rc;
	d->id_dev = S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev;
	d->id_ino = S_ISBLK(st.st_mode) ? 0 : st.st_ino;
	if (S_ISBLK(st.st_mode)) {
		int lbs = 0;
		rc = sm_disk_sys.blk_sector_size(d->fd, &lbs);
		if (rc < 0)
			return rc;
		if (lbs != 512 && lbs != 4096) {
			sm_error("%s: unsupported logical block size %d (need 512 or 4096)", d->path, lbs);
			return -SM_EWRONG_SECTOR_SIZE;
		}
		d->blockdev = true;
		d->dev_sector_size = (unsigned)lbs;
	} else if (S_ISREG(st.st_mode)) {
		d->dev_sector_size = 512;
	} else {
		sm_error("%s: not a regular file or block device", d->path);
		return -SM_EBAD_ARGUMENT;
	}
	if (requested == 0) {
		d->sector_size = d->dev_sector_size;
	} else if (requested != 512 && requested != 4096) {
		sm_error("sector size %u is not supported (use 512 or 4096)", requested);
		return -SM_EWRONG_SECTOR_SIZE;
	} else if (requested < d->dev_sector_size) {
		sm_error("%s: sector size %u is smaller than the device's logical block size %u", d->path,
			 requested, d->dev_sector_size);
		return -SM_EWRONG_SECTOR_SIZE;
	} else {
		d->sector_size = requested;
	}
	if (d->base % d->sector_size) {
		sm_error("%s: offset %llu is not a multiple of the sector size %u", d->path,
			 (unsigned long long)d->base, d->sector_size);
		return -SM_EMISALIGNED;
	}
	return 0;
}

int sm_disk_open(const char *path, uint64_t base_offset, unsigned sector_size, unsigned flags,
		 struct sm_disk **out)
{
	*out = NULL;
	struct sm_disk *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->fd = -1;
	d->base = base_offset;
	pthread_mutex_init(&d->mu, NULL);
	d->separate = flags & SM_DISK_SEPARATE_HOST;
	d->path = strdup(path);
	int rc = d->path ? 0 : -ENOMEM;
	if (rc < 0)
		goto fail;

	/* O_DSYNC: a write we count as done (a renewal, a ballot, a leader) is on
	 * stable storage, not in a volatile device cache a power cut would lose. */
	int oflags = O_DIRECT | O_CLOEXEC | ((flags & SM_DISK_READONLY) ? O_RDONLY : O_RDWR | O_DSYNC);
	if (flags & SM_DISK_CREATE)
		oflags |= O_CREAT;
	rc = sm_disk_sys.open(path, oflags, 0660);
	if (rc < 0) {
		sm_debug("cannot open %s: %s", path, sm_strerror(rc));
		goto fail;
	}
	d->fd = rc;
	rc = probe_device(d, sector_size);
	if (rc < 0)
		goto fail;
	rc = sm_disk_sys.io_setup(AIO_DEPTH, &d->ctx);
	if (rc < 0) {
		sm_error("io_setup failed: %s (check /proc/sys/fs/aio-max-nr)", sm_strerror(rc));
		d->ctx = 0;
		goto fail;
	}
	*out = d;
	return 0;
fail:
	sm_disk_close(d);
	return rc;
}

/* Record a completion for the slot it belongs to.  `listed_locked`: the
 * caller holds lingering_mu. */
static void complete_slot(struct sm_disk *d, struct io_event *ev, bool listed_locked)
{
	struct io_slot *s = (struct io_slot *)ev->obj;
	if (s < d->slots || s >= d->slots + AIO_DEPTH || !s->busy)
		return; /* not ours (a test double may return stray events) */
	s->busy = false;
	s->done = true;
	s->res = (long)ev->res;
	if (s->abandoned) {
		if (!listed_locked)
			pthread_mutex_lock(&lingering_mu);
		s->abandoned = false;
		d->pending--;
		d->lw[s - d->slots].live = false;
		if (!listed_locked)
			pthread_mutex_unlock(&lingering_mu);
		sm_debug("%s: late completion of abandoned %s at %llu (res %ld)", d->path, s->write ? "write" : "read",
			 (unsigned long long)s->off, s->res);
	}
}

/* Collect completions without blocking, so abandoned slots are freed. */
static void reap_nowait(struct sm_disk *d, bool listed_locked)
{
	if (!d->pending)
		return;
	struct io_event ev[AIO_DEPTH];
	struct timespec zero = {0, 0};
	int n = sm_disk_sys.io_getevents(d->ctx, 0, AIO_DEPTH, ev, &zero);
	for (int i = 0; i < n; i++)
		complete_slot(d, &ev[i], listed_locked);
}

/* Free a handle with nothing pending. */
static void destroy(struct sm_disk *d)
{
	if (d->ctx) {
		sm_disk_sys.io_destroy(d->ctx);
		for (int i = 0; i < AIO_DEPTH; i++)
			free(d->slots[i].buf);
	}
	if (d->fd >= 0)
		sm_disk_sys.close(d->fd);
	pthread_mutex_destroy(&d->mu);
	free(d->path);
	free(d);
}

/* Called with the caller's own d->mu (if d) and lingering_mu held: reap every
 * listed handle we can, drop the ones with nothing pending (freeing closed
 * ones), and say whether a write abandoned on the same storage as d may still
 * land on [off, off + len) (absolute). */
static bool lingering_overlap_locked(struct sm_disk *d, uint64_t off, uint64_t len)
{
	bool hit = false;
	for (struct sm_disk **pp = &lingering_head; *pp;) {
		struct sm_disk *e = *pp;
		if (e == d || pthread_mutex_trylock(&e->mu) == 0) {
			reap_nowait(e, true);
			if (e != d)
				pthread_mutex_unlock(&e->mu);
		}
		if (e->pending == 0) {
			*pp = e->lnext;
			e->listed = false;
			if (e->closed)
				destroy(e);
			continue;
		}
		bool same_host = e == d || (d && !e->separate && !d->separate);
		if (same_host && e->id_dev == d->id_dev && e->id_ino == d->id_ino)
			for (int i = 0; i < AIO_DEPTH; i++)
				if (e->lw[i].live && off < e->lw[i].off + e->lw[i].len && e->lw[i].off < off + len)
					hit = true;
		pp = &e->lnext;
	}
	return hit;
}

void sm_disk_close(struct sm_disk *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&lingering_mu);
	if (d->ctx)
		reap_nowait(d, true);
	if (d->ctx && d->pending) {
		/* io_destroy would block on hung storage: the lingering list owns
		 * the handle (its fd, ctx and buffers) until the kernel is done. */
		sm_warn("%s: closing with %u I/O(s) still pending in the kernel", d->path, d->pending);
		d->closed = true;
		pthread_mutex_unlock(&lingering_mu);
		return;
	}
	if (d->listed)
		lingering_overlap_locked(NULL, 0, 0); /* unlinks it: nothing pending */
	pthread_mutex_unlock(&lingering_mu);
	destroy(d);
}

unsigned sm_disk_sector_size(const struct sm_disk *d) { return d->sector_size; }
unsigned sm_disk_device_sector_size(const struct sm_disk *d) { return d->dev_sector_size; }
bool sm_disk_is_blockdev(const struct sm_disk *d) { return d->blockdev; }
const char *sm_disk_path(const struct sm_disk *d) { return d->path; }
uint64_t sm_disk_base_offset(const struct sm_disk *d) { return d->base; }

int sm_disk_capacity(struct sm_disk *d, uint64_t *bytes)
{
	uint64_t total = 0;
	if (d->blockdev) {
		int rc = sm_disk_sys.blk_size_bytes(d->fd, &total);
		if (rc < 0)
			return rc;
	} else {
		struct stat st;
		int rc = sm_disk_sys.fstat(d->fd, &st);
		if (rc < 0)
			return rc;
		total = (uint64_t)st.st_size;
	}
	*bytes = total > d->base ? total - d->base : 0;
	return 0;
}

int sm_disk_ensure_size(struct sm_disk *d, uint64_t len)
{
	uint64_t have = 0;
	int rc = sm_disk_capacity(d, &have);
	if (rc < 0 || have >= len)
		return rc;
	if (d->blockdev)
		return -SM_ETOO_SMALL;
	return sm_disk_sys.ftruncate(d->fd, (off_t)(d->base + len));
}

int sm_disk_sync(struct sm_disk *d)
{
	return sm_disk_sys.fdatasync(d->fd);
}

unsigned sm_disk_pending(struct sm_disk *d)
{
	pthread_mutex_lock(&d->mu);
	reap_nowait(d, false);
	unsigned n = d->pending;
	pthread_mutex_unlock(&d->mu);
	return n;
}

/* May a write abandoned by any handle of this process (this one included)
 * still land on [off, off + len) of d's storage? */
static bool overlaps_lingering_write(struct sm_disk *d, uint64_t off, size_t len)
{
	pthread_mutex_lock(&lingering_mu);
	bool hit = lingering_head && lingering_overlap_locked(d, d->base + off, len);
	pthread_mutex_unlock(&lingering_mu);
	return hit;
}

/* The caller's I/O in slot s timed out: the kernel owns it until it completes. */
static void abandon(struct sm_disk *d, struct io_slot *s)
{
	pthread_mutex_lock(&lingering_mu);
	s->abandoned = true;
	d->pending++;
	d->lw[s - d->slots] = (struct lingering_write){d->base + s->off, s->len, s->write};
	if (!d->listed) {
		d->listed = true;
		d->lnext = lingering_head;
		lingering_head = d;
	}
	pthread_mutex_unlock(&lingering_mu);
}

static struct io_slot *get_slot(struct sm_disk *d, size_t len)
{
	for (int i = 0; i < AIO_DEPTH; i++) {
		struct io_slot *s = &d->slots[i];
		if (s->busy)
			continue;
		if (s->cap < len) {
			void *nb = NULL;
			if (posix_memalign(&nb, BUF_ALIGN, len))
				return NULL;
			free(s->buf);
			s->buf = nb;
			s->cap = len;
		}
		return s;
	}
	return NULL;
}

static void count_io(struct sm_disk *d, bool write, size_t len)
{
	if (write) {
		d->stats.writes++;
		d->stats.bytes_written += len;
		atomic_fetch_add(&g_writes, 1);
		atomic_fetch_add(&g_bytes_written, len);
	} else {
		d->stats.reads++;
		d->stats.bytes_read += len;
		atomic_fetch_add(&g_reads, 1);
		atomic_fetch_add(&g_bytes_read, len);
	}
}

static int fail_io(struct sm_disk *d, int rc)
{
	if (rc == -SM_EIO_TIMEOUT) {
		d->stats.timeouts++;
		atomic_fetch_add(&g_timeouts, 1);
	} else {
		d->stats.errors++;
		atomic_fetch_add(&g_errors, 1);
	}
	return rc;
}

/* Wait until slot s completes or the monotonic deadline passes. */
static int wait_slot(struct sm_disk *d, struct io_slot *s, const struct timespec *deadline)
{
	while (s->busy) {
		struct timespec now, left;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left.tv_sec = deadline->tv_sec - now.tv_sec;
		left.tv_nsec = deadline->tv_nsec - now.tv_nsec;
		if (left.tv_nsec < 0) {
			left.tv_sec--;
			left.tv_nsec += 1000000000L;
		}
		if (left.tv_sec < 0)
			return -SM_EIO_TIMEOUT;
		struct io_event ev[AIO_DEPTH];
		int n = sm_disk_sys.io_getevents(d->ctx, 1, AIO_DEPTH, ev, &left);
		if (n == -EINTR)
			continue;
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++)
			complete_slot(d, &ev[i], false);
	}
	return 0;
}

/* One I/O; the caller holds d->mu. */
static int do_io_locked(struct sm_disk *d, bool write, uint64_t off, void *buf, size_t len, unsigned timeout_ms)
{
	if (len == 0 || len > SM_DISK_MAX_IO)
		return -SM_EBAD_ARGUMENT;
	if (off % d->sector_size || len % d->sector_size)
		return -SM_EMISALIGNED;
	reap_nowait(d, false);
	if (write && overlaps_lingering_write(d, off, len))
		return fail_io(d, -SM_EIO_PENDING);
	if (d->pending >= MAX_PENDING)
		return fail_io(d, -SM_EIO_PENDING);
	struct io_slot *s = get_slot(d, len);
	if (!s)
		return -ENOMEM;

	if (write) {
		memcpy(s->buf, buf, len);
		io_prep_pwrite(&s->cb, d->fd, s->buf, len, (long long)(d->base + off));
	} else {
		io_prep_pread(&s->cb, d->fd, s->buf, len, (long long)(d->base + off));
	}
	s->cb.data = s;
	s->off = off;
	s->len = len;
	s->write = write;
	s->done = false;
	s->abandoned = false;

	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	struct iocb *cbs[1] = {&s->cb};
	int rc = sm_disk_sys.io_submit(d->ctx, 1, cbs);
	if (rc != 1)
		return fail_io(d, rc < 0 ? rc : -EIO);
	s->busy = true;
	count_io(d, write, len);

	rc = wait_slot(d, s, &deadline);
	if (rc < 0) {
		if (s->busy) {
			struct io_event ev;
			if (sm_disk_sys.io_cancel(d->ctx, &s->cb, &ev) == 0)
				s->busy = false;
			else
				abandon(d, s);
		}
		sm_warn("%s: %s of %zu bytes at offset %llu failed: %s", d->path, write ? "write" : "read", len,
			(unsigned long long)(d->base + off), sm_strerror(rc));
		return fail_io(d, rc);
	}
	if (s->res < 0) {
		/* The block layer reports a SCSI RESERVATION CONFLICT (NVMe:
		 * reservation conflict) as EBADE: this host is not registered on a
		 * device reserved for registrants, i.e. it was fenced. */
		int err = s->res == -EBADE ? -SM_ERESERVATION_CONFLICT : (int)s->res;
		sm_warn("%s: %s at offset %llu failed: %s", d->path, write ? "write" : "read",
			(unsigned long long)(d->base + off), sm_strerror(err));
		return fail_io(d, err);
	}
	if ((size_t)s->res != len) {
		sm_warn("%s: short %s at offset %llu: %ld of %zu bytes", d->path, write ? "write" : "read",
			(unsigned long long)(d->base + off), s->res, len);
		return fail_io(d, -SM_ESHORT_IO);
	}
	if (!write)
		memcpy(buf, s->buf, len);
	return 0;
}

static int do_io(struct sm_disk *d, bool write, uint64_t off, void *buf, size_t len, unsigned timeout_ms)
{
	pthread_mutex_lock(&d->mu);
	int rc = do_io_locked(d, write, off, buf, len, timeout_ms);
	pthread_mutex_unlock(&d->mu);
	return rc;
}

int sm_disk_read(struct sm_disk *d, uint64_t off, void *buf, size_t len, unsigned timeout_ms)
{
	return do_io(d, false, off, buf, len, timeout_ms);
}

int sm_disk_write(struct sm_disk *d, uint64_t off, const void *buf, size_t len, unsigned timeout_ms)
{
	return do_io(d, true, off, (void *)buf, len, timeout_ms);
}

void sm_disk_get_stats(const struct sm_disk *d, struct sm_disk_stats *st)
{
	*st = d->stats;
}

void sm_disk_global_stats(struct sm_disk_stats *st)
{
	st->reads = atomic_load(&g_reads);
	st->writes = atomic_load(&g_writes);
	st->bytes_read = atomic_load(&g_bytes_read);
	st->bytes_written = atomic_load(&g_bytes_written);
	st->timeouts = atomic_load(&g_timeouts);
	st->errors = atomic_load(&g_errors);
}

void sm_disk_reset_global_stats(void)
{
	atomic_store(&g_reads, 0);
	atomic_store(&g_writes, 0);
	atomic_store(&g_bytes_read, 0);
	atomic_store(&g_bytes_written, 0);
	atomic_store(&g_timeouts, 0);
	atomic_store(&g_errors, 0);
}

int sm_disk_parse_location(const char *spec, char **path_out, uint64_t *offset_out)
{
	*path_out = NULL;
	*offset_out = 0;
	if (!spec || !*spec)
		return -SM_EBAD_ARGUMENT;
	const char *colon = strrchr(spec, ':');
	uint64_t off = 0;
	size_t plen = strlen(spec);
	if (colon && colon[1] && sm_parse_size(colon + 1, &off) == 0) {
		/* udev's by-path names end in ":LUN": a spec that exists as given
		 * is a path (offset 0) unless its prefix exists too (ambiguous) */
		char *prefix = strndup(spec, (size_t)(colon - spec));
		if (!prefix)
			return -ENOMEM;
		struct stat st;
		bool whole = stat(spec, &st) == 0, part = prefix[0] && stat(prefix, &st) == 0;
		free(prefix);
		if (whole && part) {
			sm_error("'%s' is ambiguous: both it and '%.*s' exist; write '%s:0' for the first, or give the "
				 "offset after it", spec, (int)(colon - spec), spec, spec);
			return -SM_EBAD_ARGUMENT;
		}
		if (whole)
			off = 0;
		else
			plen = (size_t)(colon - spec);
	}
	if (plen == 0)
		return -SM_EBAD_ARGUMENT;
	char *p = strndup(spec, plen);
	if (!p)
		return -ENOMEM;
	*path_out = p;
	*offset_out = off;
	return 0;
}
