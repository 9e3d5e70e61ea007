/* prsim: persistent reservations emulated in process.  Contract in prsim.h;
 * semantics from SPC-4 §5.12 (single target port, LU scope). */
#include "prsim.h"

#include "disk/syscalls.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/pr.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define MAX_LUS 8
#define MAX_REGS 32
#define MAX_UAS 32
#define MAX_FDS 1024
#define MAX_HELD 64
#define NAME_LEN 32

enum { ST_GOOD = 0x00, ST_CHECK = 0x02, ST_CONFLICT = 0x18 };
enum { SK_ILLEGAL = 0x5, SK_UA = 0x6, SK_MISCOMPARE = 0xe };

struct registration {
	char initiator[NAME_LEN];
	uint64_t key;
};

struct pending_ua {
	char initiator[NAME_LEN];
	uint8_t asc, ascq;
};

struct lu {
	char path[512];
	struct prsim_lu_opts opts;
	char naa[64];
	struct registration regs[MAX_REGS];
	int nregs;
	bool reserved;
	int type;
	char holder[NAME_LEN]; /* non-all-registrants types */
	uint64_t holder_key;
	uint32_t generation;
	struct pending_ua uas[MAX_UAS];
	int nuas;
	unsigned executed, sg_commands, ioctl_commands, write_conflicts, caw_commands, caw_writes;
	int fd; /* a descriptor of the backing file, for COMPARE AND WRITE and READ(16) */
};

/* The outcome of one command (info: the sense INFORMATION field, if set). */
struct answer {
	uint8_t status, key, asc, ascq;
	bool info_valid;
	uint32_t info;
};

struct held {
	io_context_t ctx;
	struct iocb *cb;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct lu lus[MAX_LUS];
static int nlus;
static struct {
	int lu; /* index + 1 of the LU; 0: not emulated */
	char initiator[NAME_LEN];
} fds[MAX_FDS];
static char next_initiator[NAME_LEN] = "host";
static struct sm_disk_syscalls next_sys;
static bool installed;
static struct held held[MAX_HELD];
static int nheld;

static struct answer good(void) { return (struct answer){ST_GOOD, 0, 0, 0, false, 0}; }
static struct answer conflict(void) { return (struct answer){ST_CONFLICT, 0, 0, 0, false, 0}; }
static struct answer check(uint8_t key, uint8_t asc, uint8_t ascq)
{
	return (struct answer){ST_CHECK, key, asc, ascq, false, 0};
}

static bool all_registrants(int type) { return type == 7 || type == 8; }
static bool registrants_type(int type) { return type >= 5 && type <= 8; }
static bool exclusive_access(int type) { return type == 3 || type == 6 || type == 8; }

static int fd_lu(int fd)
{
	return fd >= 0 && fd < MAX_FDS ? fds[fd].lu - 1 : -1;
}

static struct registration *find_reg(struct lu *l, const char *initiator)
{
	for (int i = 0; i < l->nregs; i++)
		if (!strcmp(l->regs[i].initiator, initiator))
			return &l->regs[i];
	return NULL;
}

static void queue_ua(struct lu *l, const char *initiator, uint8_t asc, uint8_t ascq)
{
	if (l->nuas < MAX_UAS) {
		char name[NAME_LEN];
		snprintf(name, sizeof(name), "%s", initiator);
		memcpy(l->uas[l->nuas].initiator, name, NAME_LEN);
		l->uas[l->nuas].asc = asc;
		l->uas[l->nuas].ascq = ascq;
		l->nuas++;
	}
}

/* Take the oldest pending UNIT ATTENTION of a nexus; false when none. */
static bool take_ua(struct lu *l, const char *initiator, struct answer *a)
{
	for (int i = 0; i < l->nuas; i++) {
		if (strcmp(l->uas[i].initiator, initiator))
			continue;
		*a = check(SK_UA, l->uas[i].asc, l->uas[i].ascq);
		memmove(&l->uas[i], &l->uas[i + 1], (size_t)(l->nuas - i - 1) * sizeof(l->uas[0]));
		l->nuas--;
		return true;
	}
	return false;
}

static void remove_reg(struct lu *l, int i)
{
	l->regs[i] = l->regs[--l->nregs];
}

/* After registrations were removed: a reservation whose holder is gone ends. */
static void drop_orphan_reservation(struct lu *l)
{
	if (!l->reserved)
		return;
	if (all_registrants(l->type) ? l->nregs == 0 : !find_reg(l, l->holder))
		l->reserved = false;
}

/* ---- PERSISTENT RESERVE OUT ---- */

static struct answer do_register(struct lu *l, const char *me, uint64_t key, uint64_t sa_key, bool ignore)
{
	struct registration *r = find_reg(l, me);
	if (!ignore && (r ? r->key != key : key != 0))
		return conflict();
	if (sa_key == 0) {
		if (r) {
			remove_reg(l, (int)(r - l->regs));
			drop_orphan_reservation(l);
			l->generation++;
		}
		return good();
	}
	if (r) {
		r->key = sa_key;
		if (l->reserved && !strcmp(l->holder, me))
			l->holder_key = sa_key;
	} else {
		if (l->nregs == MAX_REGS)
			return check(SK_ILLEGAL, 0x55, 0x04); /* insufficient registration resources */
		snprintf(l->regs[l->nregs].initiator, NAME_LEN, "%s", me);
		l->regs[l->nregs++].key = sa_key;
	}
	l->generation++;
	return good();
}

static bool holds(struct lu *l, const char *me)
{
	return l->reserved && (all_registrants(l->type) ? find_reg(l, me) != NULL : !strcmp(l->holder, me));
}

static struct answer do_reserve(struct lu *l, const char *me, int type)
{
	if (l->reserved)
		return holds(l, me) && l->type == type ? good() : conflict();
	l->reserved = true;
	l->type = type;
	snprintf(l->holder, NAME_LEN, "%s", me);
	l->holder_key = find_reg(l, me)->key;
	return good();
}

static struct answer do_release(struct lu *l, const char *me, int type)
{
	if (!holds(l, me))
		return good();
	if (l->type != type)
		return check(SK_ILLEGAL, 0x26, 0x04); /* invalid release of persistent reservation */
	l->reserved = false;
	if (registrants_type(type))
		for (int i = 0; i < l->nregs; i++)
			if (strcmp(l->regs[i].initiator, me))
				queue_ua(l, l->regs[i].initiator, 0x2a, 0x04);
	return good();
}

static struct answer do_clear(struct lu *l, const char *me)
{
	for (int i = 0; i < l->nregs; i++)
		if (strcmp(l->regs[i].initiator, me))
			queue_ua(l, l->regs[i].initiator, 0x2a, 0x03);
	l->nregs = 0;
	l->reserved = false;
	l->generation++;
	return good();
}

/* Remove every registration with key other than me's; false when none. */
static bool remove_registrations_of(struct lu *l, const char *me, uint64_t victim)
{
	bool any = false;
	for (int i = 0; i < l->nregs;) {
		if (l->regs[i].key == victim && strcmp(l->regs[i].initiator, me)) {
			queue_ua(l, l->regs[i].initiator, 0x2a, 0x05);
			remove_reg(l, i);
			any = true;
		} else {
			i++;
		}
	}
	return any;
}

static struct answer do_preempt(struct lu *l, const char *me, uint64_t my_key, uint64_t victim, int type)
{
	if (victim == 0) {
		if (!l->reserved || !all_registrants(l->type))
			return check(SK_ILLEGAL, 0x26, 0x00); /* invalid field in parameter list */
		for (int i = 0; i < l->nregs;)
			if (strcmp(l->regs[i].initiator, me)) {
				queue_ua(l, l->regs[i].initiator, 0x2a, 0x05);
				remove_reg(l, i);
			} else {
				i++;
			}
		l->type = type;
		snprintf(l->holder, NAME_LEN, "%s", me);
		l->holder_key = my_key;
		l->generation++;
		return good();
	}
	bool takes_reservation = l->reserved && !all_registrants(l->type) && l->holder_key == victim;
	bool removed = remove_registrations_of(l, me, victim);
	if (!removed && !takes_reservation)
		return conflict();
	if (takes_reservation) {
		l->reserved = true;
		l->type = type;
		snprintf(l->holder, NAME_LEN, "%s", me);
		l->holder_key = my_key;
	} else {
		drop_orphan_reservation(l);
	}
	l->generation++;
	return good();
}

static struct answer pr_out(struct lu *l, const char *me, int sa, int type, uint64_t key, uint64_t sa_key)
{
	if (sa == 5 && l->opts.no_preempt_abort)
		return check(SK_ILLEGAL, 0x24, 0x00);
	if (sa == 0 || sa == 6)
		return do_register(l, me, key, sa_key, sa == 6);
	if (sa > 6)
		return check(SK_ILLEGAL, 0x24, 0x00);
	struct registration *r = find_reg(l, me);
	if (!r || r->key != key)
		return conflict();
	if ((sa == 1 || sa == 4 || sa == 5) && !(type == 1 || type == 3 || (type >= 5 && type <= 8)))
		return check(SK_ILLEGAL, 0x24, 0x00);
	switch (sa) {
	case 1: return do_reserve(l, me, type);
	case 2: return do_release(l, me, type);
	case 3: return do_clear(l, me);
	default: return do_preempt(l, me, key, sa_key, type);
	}
}

/* Every PR command enters here: UNIT ATTENTION first, else execute. */
static struct answer run_out(struct lu *l, const char *me, int sa, int type, uint64_t key, uint64_t sa_key)
{
	struct answer a;
	if (take_ua(l, me, &a))
		return a;
	l->executed++;
	return pr_out(l, me, sa, type, key, sa_key);
}

/* ---- SG_IO ---- */

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Copy what fits of a response into the data-in buffer. */
static void respond(struct sg_io_hdr *h, const uint8_t *data, unsigned n)
{
	unsigned copy = n < h->dxfer_len ? n : h->dxfer_len;
	memcpy(h->dxferp, data, copy);
	h->resid = (int)(h->dxfer_len - copy);
}

static struct answer pr_in(struct lu *l, const char *me, int sa, struct sg_io_hdr *h)
{
	struct answer a;
	if (take_ua(l, me, &a))
		return a;
	l->executed++;
	uint8_t buf[8 + 8 * MAX_REGS] = {0};
	put_be32(buf, l->generation);
	if (sa == 0) {
		put_be32(buf + 4, (uint32_t)(8 * l->nregs));
		for (int i = 0; i < l->nregs; i++)
			put_be64(buf + 8 + 8 * i, l->regs[i].key);
		respond(h, buf, 8 + 8 * (unsigned)l->nregs);
		return good();
	}
	if (sa == 1) {
		if (l->reserved) {
			put_be32(buf + 4, 16);
			put_be64(buf + 8, all_registrants(l->type) ? 0 : l->holder_key);
			buf[21] = (uint8_t)l->type; /* scope LU (0) | type */
		}
		respond(h, buf, l->reserved ? 24 : 8);
		return good();
	}
	return check(SK_ILLEGAL, 0x24, 0x00);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* VPD page 0xB0, Block Limits (SBC-3): MAXIMUM COMPARE AND WRITE LENGTH at byte 5. */
static struct answer block_limits(struct lu *l, struct sg_io_hdr *h)
{
	if (l->opts.no_block_limits)
		return check(SK_ILLEGAL, 0x24, 0x00);
	uint8_t page[64] = {0, 0xb0, 0, 0x3c};
	int len = l->opts.caw_len_advertised;
	page[5] = (uint8_t)(len > 0 ? len : len < 0 || l->opts.no_caw ? 0 : 1);
	respond(h, page, sizeof(page));
	return good();
}

static struct answer inquiry(struct lu *l, const uint8_t *cdb, struct sg_io_hdr *h)
{
	if ((cdb[1] & 1) && cdb[2] == 0xb0)
		return block_limits(l, h);
	if (!(cdb[1] & 1) && cdb[2] == 0) { /* standard data: vendor, product, revision */
		uint8_t std[36] = {0, 0, 6, 2, 31};
		memset(std + 8, ' ', 28);
		const char *v = l->opts.vendor ? l->opts.vendor : "PRSIM";
		memcpy(std + 8, v, strnlen(v, 8));
		memcpy(std + 16, "prsim-lu", 8);
		memcpy(std + 32, "1.0", 3);
		respond(h, std, sizeof(std));
		return good();
	}
	if (!(cdb[1] & 1) || cdb[2] != 0x83)
		return check(SK_ILLEGAL, 0x24, 0x00);
	uint8_t page[64] = {0, 0x83};
	int n = 0;
	for (const char *p = l->naa; p[0] && p[1] && n < 32; p += 2)
		page[8 + n++] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
	if (n) {
		page[4] = 0x01; /* binary code set */
		page[5] = 0x03; /* LU association, NAA */
		page[7] = (uint8_t)n;
	}
	page[3] = (uint8_t)(n ? 4 + n : 0);
	respond(h, page, 4u + page[3]);
	return good();
}

static uint64_t cdb_lba(const uint8_t *cdb)
{
	return get_be64(cdb + 2);
}

/* Reservation check of a data command: UNIT ATTENTION first (not executed,
 * delivered), then RESERVATION CONFLICT; true when it may go on. */
static bool data_command_allowed(struct lu *l, const char *me, bool write, struct answer *a)
{
	if (take_ua(l, me, a))
		return false;
	bool ok = !l->reserved || holds(l, me) || (registrants_type(l->type) && find_reg(l, me)) ||
		  (!write && !exclusive_access(l->type));
	if (!ok)
		*a = conflict();
	return ok;
}

/* COMPARE AND WRITE (SBC-3): atomic, since the emulator's lock is held. */
static struct answer compare_and_write(struct lu *l, const char *me, const uint8_t *cdb, struct sg_io_hdr *h)
{
	l->caw_commands++;
	if (l->opts.no_caw)
		return check(SK_ILLEGAL, 0x20, 0x00);
	unsigned blocks = cdb[13], limit = l->opts.caw_len_advertised > 0 ? (unsigned)l->opts.caw_len_advertised : 1;
	size_t n = (size_t)blocks * 512;
	if (blocks == 0 || blocks > limit || h->dxfer_len < 2 * n)
		return check(SK_ILLEGAL, 0x24, 0x00);
	struct answer a;
	if (!data_command_allowed(l, me, true, &a))
		return a;
	uint8_t cur[512 * 8];
	if (n > sizeof(cur) || pread(l->fd, cur, n, (off_t)(cdb_lba(cdb) * 512)) != (ssize_t)n)
		return check(0x3, 0x11, 0x00); /* medium error: unrecovered read error */
	const uint8_t *data = h->dxferp;
	for (size_t i = 0; i < n; i++)
		if (cur[i] != data[i]) {
			a = check(SK_MISCOMPARE, 0x1d, 0x00);
			a.info_valid = true;
			a.info = (uint32_t)i;
			return a;
		}
	if (pwrite(l->fd, data + n, n, (off_t)(cdb_lba(cdb) * 512)) != (ssize_t)n)
		return check(0x3, 0x0c, 0x00); /* medium error: write error */
	l->caw_writes++;
	h->resid = 0;
	return good();
}

static struct answer read16(struct lu *l, const char *me, const uint8_t *cdb, struct sg_io_hdr *h)
{
	struct answer a;
	if (!data_command_allowed(l, me, false, &a))
		return a;
	size_t n = (size_t)(cdb[10] << 24 | cdb[11] << 16 | cdb[12] << 8 | cdb[13]) * 512;
	if (n > h->dxfer_len || pread(l->fd, h->dxferp, n, (off_t)(cdb_lba(cdb) * 512)) != (ssize_t)n)
		return check(0x3, 0x11, 0x00);
	h->resid = (int)(h->dxfer_len - n);
	return good();
}

static void fill_answer(struct sg_io_hdr *h, struct answer a)
{
	h->status = a.status;
	h->masked_status = (unsigned char)(a.status >> 1);
	h->host_status = 0;
	h->driver_status = 0;
	h->sb_len_wr = 0;
	h->info = a.status ? SG_INFO_CHECK : 0;
	if (a.status == ST_CHECK && h->sbp && h->mx_sb_len >= 18) {
		uint8_t *s = h->sbp;
		memset(s, 0, 18);
		s[0] = a.info_valid ? 0xf0 : 0x70;
		put_be32(s + 3, a.info);
		s[2] = a.key;
		s[7] = 10;
		s[12] = a.asc;
		s[13] = a.ascq;
		h->sb_len_wr = 18;
		h->driver_status = 0x08;
	}
}

static int sim_sg_io(int fd, struct sg_io_hdr *h)
{
	pthread_mutex_lock(&lock);
	int i = fd_lu(fd);
	if (i < 0) {
		pthread_mutex_unlock(&lock);
		return next_sys.sg_io(fd, h);
	}
	struct lu *l = &lus[i];
	if (l->opts.transport == PRSIM_NVME) {
		pthread_mutex_unlock(&lock);
		return -ENOTTY;
	}
	const uint8_t *cdb = h->cmdp;
	const char *me = fds[fd].initiator;
	struct answer a;
	h->resid = (int)h->dxfer_len;
	if (cdb[0] == 0x5f && h->dxfer_len >= 24) {
		l->sg_commands++;
		const uint8_t *param = h->dxferp;
		a = run_out(l, me, cdb[1] & 0x1f, cdb[2] & 0x0f, get_be64(param), get_be64(param + 8));
		h->resid = 0;
	} else if (cdb[0] == 0x5e) {
		l->sg_commands++;
		a = pr_in(l, me, cdb[1] & 0x1f, h);
	} else if (cdb[0] == 0x12) {
		a = inquiry(l, cdb, h);
	} else if (cdb[0] == 0x89 && h->cmd_len >= 16) {
		a = compare_and_write(l, me, cdb, h);
	} else if (cdb[0] == 0x88 && h->cmd_len >= 16) {
		a = read16(l, me, cdb, h);
	} else if (cdb[0] == 0x00) { /* TEST UNIT READY */
		if (!take_ua(l, me, &a))
			a = good();
	} else {
		a = check(SK_ILLEGAL, 0x20, 0x00); /* invalid command operation code */
	}
	fill_answer(h, a);
	pthread_mutex_unlock(&lock);
	return 0;
}

/* ---- the PR ioctls ---- */

static int scsi_type(unsigned block_type)
{
	static const int map[] = {0, 1, 3, 5, 6, 7, 8};
	return block_type < 7 ? map[block_type] : 0;
}

static int ioctl_result(const struct lu *l, struct answer a)
{
	bool invalid = a.status == ST_CHECK && a.key == SK_ILLEGAL && (a.asc == 0x20 || a.asc == 0x24 || a.asc == 0x26);
	switch (l->opts.ioctl_style) {
	case PRSIM_IOCTL_SCSI_RESULT:
		return a.status;
	case PRSIM_IOCTL_PR_STATUS:
		return invalid ? -EINVAL : a.status == ST_GOOD ? 0 : a.status == ST_CONFLICT ? 0x18 : 0x02;
	case PRSIM_IOCTL_ERRNO:
		return invalid ? -EINVAL : a.status == ST_GOOD ? 0 : a.status == ST_CONFLICT ? -EBADE : -EIO;
	case PRSIM_IOCTL_NVME_STATUS:
		return a.status == ST_GOOD ? 0 : a.status == ST_CONFLICT ? 0x4083 : invalid ? 0x4002 : 0x4006;
	}
	return -EIO;
}

static int sim_pr_ioctl(int fd, unsigned long request, void *arg)
{
	pthread_mutex_lock(&lock);
	int i = fd_lu(fd);
	if (i < 0) {
		pthread_mutex_unlock(&lock);
		return next_sys.pr_ioctl(fd, request, arg);
	}
	struct lu *l = &lus[i];
	const char *me = fds[fd].initiator;
	struct answer a;
	l->ioctl_commands++;
	if (request == IOC_PR_REGISTER) {
		struct pr_registration *r = arg;
		a = run_out(l, me, (r->flags & PR_FL_IGNORE_KEY) ? 6 : 0, 0, r->old_key, r->new_key);
	} else if (request == IOC_PR_RESERVE || request == IOC_PR_RELEASE) {
		struct pr_reservation *r = arg;
		a = run_out(l, me, request == IOC_PR_RESERVE ? 1 : 2, scsi_type(r->type), r->key, 0);
	} else if (request == IOC_PR_PREEMPT || request == IOC_PR_PREEMPT_ABORT) {
		struct pr_preempt *p = arg;
		a = run_out(l, me, request == IOC_PR_PREEMPT ? 4 : 5, scsi_type(p->type), p->old_key, p->new_key);
	} else if (request == IOC_PR_CLEAR) {
		struct pr_clear *c = arg;
		a = run_out(l, me, 3, 0, c->key, 0);
	} else {
		pthread_mutex_unlock(&lock);
		return -ENOTTY;
	}
	int rc = ioctl_result(l, a);
	pthread_mutex_unlock(&lock);
	return rc;
}

/* ---- the block device ---- */

static int sim_open(const char *path, int flags, mode_t mode)
{
	int fd = next_sys.open(path, flags, mode);
	if (fd < 0 || fd >= MAX_FDS)
		return fd;
	pthread_mutex_lock(&lock);
	fds[fd].lu = 0;
	for (int i = 0; i < nlus; i++)
		if (!strcmp(lus[i].path, path)) {
			fds[fd].lu = i + 1;
			snprintf(fds[fd].initiator, NAME_LEN, "%s", next_initiator);
		}
	pthread_mutex_unlock(&lock);
	return fd;
}

static int sim_close(int fd)
{
	if (fd >= 0 && fd < MAX_FDS) {
		pthread_mutex_lock(&lock);
		fds[fd].lu = 0;
		pthread_mutex_unlock(&lock);
	}
	return next_sys.close(fd);
}

static int sim_fstat(int fd, struct stat *st)
{
	int rc = next_sys.fstat(fd, st);
	int i = fd_lu(fd);
	if (rc == 0 && i >= 0) {
		st->st_mode = (st->st_mode & ~S_IFMT) | S_IFBLK;
		st->st_rdev = makedev(PRSIM_MAJOR, lus[i].opts.minor);
	}
	return rc;
}

static int sim_blk_sector_size(int fd, int *out)
{
	if (fd_lu(fd) < 0)
		return next_sys.blk_sector_size(fd, out);
	*out = 512;
	return 0;
}

static int sim_blk_size_bytes(int fd, uint64_t *out)
{
	if (fd_lu(fd) < 0)
		return next_sys.blk_size_bytes(fd, out);
	struct stat st;
	int rc = next_sys.fstat(fd, &st);
	*out = (uint64_t)st.st_size;
	return rc;
}

/* May this nexus read (write = false) or write the LU now? */
static bool access_allowed(struct lu *l, const char *me, bool write)
{
	struct answer ua;
	while (take_ua(l, me, &ua)) /* the kernel retries a UNIT ATTENTION on I/O */
		;
	if (!l->reserved || holds(l, me))
		return true;
	if (registrants_type(l->type) && find_reg(l, me))
		return true;
	return !write && !exclusive_access(l->type);
}

static int sim_io_submit(io_context_t ctx, long nr, struct iocb **cbs)
{
	long done = 0;
	for (long k = 0; k < nr; k++) {
		pthread_mutex_lock(&lock);
		int i = fd_lu(cbs[k]->aio_fildes);
		bool write = cbs[k]->aio_lio_opcode == IO_CMD_PWRITE;
		bool refuse = i >= 0 && !access_allowed(&lus[i], fds[cbs[k]->aio_fildes].initiator, write) &&
			      nheld < MAX_HELD;
		if (refuse) {
			lus[i].write_conflicts += write;
			held[nheld++] = (struct held){ctx, cbs[k]};
		}
		pthread_mutex_unlock(&lock);
		if (!refuse) {
			int rc = next_sys.io_submit(ctx, 1, &cbs[k]);
			if (rc != 1)
				return done ? (int)done : rc;
		}
		done++;
	}
	return (int)done;
}

static int sim_io_getevents(io_context_t ctx, long min_nr, long nr, struct io_event *events, struct timespec *timeout)
{
	long got = 0;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < nheld && got < nr;) {
		if (held[i].ctx == ctx) {
			events[got++] = (struct io_event){.data = held[i].cb->data, .obj = held[i].cb,
							  .res = (unsigned long)(long)-EBADE};
			held[i] = held[--nheld];
		} else {
			i++;
		}
	}
	pthread_mutex_unlock(&lock);
	if (got == 0)
		return next_sys.io_getevents(ctx, min_nr, nr, events, timeout);
	struct timespec zero = {0, 0};
	int rc = next_sys.io_getevents(ctx, 0, nr - got, events + got, &zero);
	return (int)got + (rc > 0 ? rc : 0);
}

/* ---- setup and inspection ---- */

int prsim_add_lu(const char *path, const struct prsim_lu_opts *opts)
{
	pthread_mutex_lock(&lock);
	int i = nlus < MAX_LUS ? nlus++ : -1;
	if (i >= 0) {
		memset(&lus[i], 0, sizeof(lus[i]));
		snprintf(lus[i].path, sizeof(lus[i].path), "%s", path);
		if (opts)
			lus[i].opts = *opts;
		snprintf(lus[i].naa, sizeof(lus[i].naa), "%s", opts && opts->naa ? opts->naa : "");
		lus[i].opts.naa = NULL;
		lus[i].fd = open(path, O_RDWR | O_CLOEXEC); /* the medium, behind the emulator */
	}
	pthread_mutex_unlock(&lock);
	return i;
}

void prsim_install(void)
{
	pthread_mutex_lock(&lock);
	/* in the chain already (maybe under the fault wrappers): wrapping again
	 * would loop */
	bool in_chain = sm_disk_sys.sg_io == sim_sg_io ||
			(installed && sm_disk_sys.sg_io != sm_disk_sys_real.sg_io);
	if (!in_chain) {
		installed = true;
		next_sys = sm_disk_sys;
		sm_disk_sys.open = sim_open;
		sm_disk_sys.close = sim_close;
		sm_disk_sys.fstat = sim_fstat;
		sm_disk_sys.blk_sector_size = sim_blk_sector_size;
		sm_disk_sys.blk_size_bytes = sim_blk_size_bytes;
		sm_disk_sys.pr_ioctl = sim_pr_ioctl;
		sm_disk_sys.sg_io = sim_sg_io;
		sm_disk_sys.io_submit = sim_io_submit;
		sm_disk_sys.io_getevents = sim_io_getevents;
	}
	pthread_mutex_unlock(&lock);
}

void prsim_reset(void)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < nlus; i++)
		if (lus[i].fd >= 0)
			close(lus[i].fd);
	nlus = 0;
	nheld = 0;
	for (int i = 0; i < MAX_FDS; i++)
		fds[i].lu = 0;
	snprintf(next_initiator, NAME_LEN, "host");
	installed = false;
	pthread_mutex_unlock(&lock);
}

void prsim_set_initiator(const char *name)
{
	pthread_mutex_lock(&lock);
	snprintf(next_initiator, NAME_LEN, "%s", name);
	pthread_mutex_unlock(&lock);
}

int prsim_bind(int fd, const char *initiator)
{
	pthread_mutex_lock(&lock);
	int rc = fd_lu(fd) < 0 ? -EBADF : 0;
	if (rc == 0)
		snprintf(fds[fd].initiator, NAME_LEN, "%s", initiator);
	pthread_mutex_unlock(&lock);
	return rc;
}

void prsim_unit_attention(int lu, const char *initiator, uint8_t asc, uint8_t ascq)
{
	pthread_mutex_lock(&lock);
	struct lu *l = &lus[lu];
	if (initiator) {
		queue_ua(l, initiator, asc, ascq);
	} else {
		/* every nexus that exists: registered ones and open descriptors */
		char seen[MAX_REGS + 16][NAME_LEN];
		int n = 0;
		for (int i = 0; i < l->nregs && n < MAX_REGS; i++)
			snprintf(seen[n++], NAME_LEN, "%s", l->regs[i].initiator);
		for (int fd = 0; fd < MAX_FDS && n < MAX_REGS + 16; fd++) {
			if (fds[fd].lu != lu + 1)
				continue;
			bool dup = false;
			for (int k = 0; k < n; k++)
				dup |= !strcmp(seen[k], fds[fd].initiator);
			if (!dup)
				snprintf(seen[n++], NAME_LEN, "%s", fds[fd].initiator);
		}
		for (int k = 0; k < n; k++)
			queue_ua(l, seen[k], asc, ascq);
	}
	pthread_mutex_unlock(&lock);
}

#define INSPECT(type, name, expr)                 \
	type name(int lu)                         \
	{                                         \
		pthread_mutex_lock(&lock);        \
		type v = (expr);                  \
		pthread_mutex_unlock(&lock);      \
		return v;                         \
	}
INSPECT(uint32_t, prsim_generation, lus[lu].generation)
INSPECT(int, prsim_registrations, lus[lu].nregs)
INSPECT(unsigned, prsim_executed, lus[lu].executed)
INSPECT(unsigned, prsim_sg_commands, lus[lu].sg_commands)
INSPECT(unsigned, prsim_ioctl_commands, lus[lu].ioctl_commands)
INSPECT(unsigned, prsim_write_conflicts, lus[lu].write_conflicts)
INSPECT(unsigned, prsim_caw_commands, lus[lu].caw_commands)
INSPECT(unsigned, prsim_caw_writes, lus[lu].caw_writes)

uint64_t prsim_key_of(int lu, const char *initiator)
{
	pthread_mutex_lock(&lock);
	struct registration *r = find_reg(&lus[lu], initiator);
	uint64_t k = r ? r->key : 0;
	pthread_mutex_unlock(&lock);
	return k;
}
