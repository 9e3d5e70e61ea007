/* lab-checker: the lab's independent safety checker (docs/lab.md).  It does
 * not use the lease code: it decodes the on-disk records itself
 * (docs/ondisk.md) and keeps its own evidence in guarded blocks.
 *
 *   lab-checker hold --dev DEV --res NAME --id ID --data-offset BYTES
 *                    [--data-dev DEV2] [--fenced] [--interval-ms N] [--seconds S]
 *       Run as the command of a lease holder (sync_manager run ... --).  Every
 *       interval it reads the resource's guarded block (one 512-byte block per
 *       resource area at DATA_OFFSET + 512 * area, O_DIRECT) and checks it
 *       still holds its own last write, checks the leader record still names
 *       this host at the version it acquired, then writes ID, lver, sequence.
 *       Any other content is an OVERLAP: printed, exit status 4.
 *       --data-dev: the guarded blocks are on DEV2 (a data LUN) at DATA_OFFSET,
 *       the lease volume on DEV.  --fenced: the storage is expected to fence a
 *       superseded holder, so one that finds the lease or its block taken does
 *       what an unaware application would: it writes once more.  Refused with a
 *       reservation conflict (EBADE) that is FENCED (exit status 5: the storage
 *       protected the data); accepted, an OVERLAP (a stale write landed).
 *   lab-checker watch --file PATH --data-offset BYTES [--data-file PATH2] [--interval-ms N]
 *       On the storage side (the LUN's backing file, or the LUN itself on a
 *       machine that sees it, read with O_DIRECT then): logs every lease version
 *       and owner change and every change of a guarded block's writer, with
 *       the wall clock; flags a lease version going backwards, and a write
 *       stamped with a lease version older than one already written (a stale
 *       holder) or two writers at one version (OVERLAP).  It also watches the
 *       host records, and says for every takeover how long the previous owner's
 *       record had not changed.  Summary on SIGTERM; exit status 4 when
 *       anything was flagged.  A holder's writes pausing over 1 s are logged as a
 *       stall.  --data-file: the guarded blocks are in PATH2 (the data LUN's
 *       backing file), the volume in PATH. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BLK 512
#define MAX_RES 64
#define GMAGIC 0x4742414cu /* "LABG" */

static volatile sig_atomic_t stop;
static void on_stop(int s)
{
	(void)s;
	stop = 1;
}

static double wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & -(c & 1));
	}
	return ~c;
}

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

/* rec_ok: magic and CRC-32C of a record of len bytes (CRC in its last 4). */
static bool rec_ok(const uint8_t *p, const char *magic, size_t len)
{
	return memcmp(p, magic, 4) == 0 && crc32c(p, len - 4) == le32(p + len - 4);
}

struct vol {
	int fd;
	int dfd; /* the guarded blocks' device: fd, or a data LUN's */
	uint32_t ss, max_hosts, nres, area_sectors;
	uint64_t host_off, index_off, areas_off;
	uint8_t *buf; /* aligned, one sector */
};

static int rd(struct vol *v, uint64_t off, void *dst, size_t n)
{
	uint64_t a = off & ~(uint64_t)(v->ss - 1);
	size_t skip = (size_t)(off - a);
	if (skip + n > v->ss)
		return -1;
	if (pread(v->fd, v->buf, v->ss, (off_t)a) != (ssize_t)v->ss)
		return -1;
	memcpy(dst, v->buf + skip, n);
	return 0;
}

static int vol_open(struct vol *v, const char *path, bool direct)
{
	v->fd = open(path, O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0));
	v->dfd = v->fd;
	if (v->fd < 0 || posix_memalign((void **)&v->buf, 4096, 4096))
		return -1;
	v->ss = BLK;
	uint8_t h[256];
	if (rd(v, 0, h, sizeof(h)) < 0 || !rec_ok(h, "SMVH", 256))
		return -2;
	v->ss = le32(h + 8);
	v->max_hosts = le32(h + 12);
	v->host_off = le64(h + 104);
	v->index_off = le64(h + 120);
	v->areas_off = le64(h + 128);
	v->nres = le32(h + 136);
	v->area_sectors = le32(h + 140);
	return v->ss == 512 || v->ss == 4096 ? 0 : -2;
}

/* area_of: the area of resource name, or -1. */
static int area_of(struct vol *v, const char *name)
{
	for (uint32_t i = 0; i < v->nres; i++) {
		uint8_t e[128];
		if (rd(v, v->index_off + 128ull * i, e, sizeof(e)) < 0)
			return -1;
		if (rec_ok(e, "SMIX", 128) && (le32(e + 4) >> 16 & 1) && strncmp((char *)e + 16, name, 64) == 0)
			return (int)i;
	}
	return -1;
}

struct leader {
	bool ok;
	uint64_t lver;
	uint32_t owner, mode;
	char res[65];
};

static void leader_read(struct vol *v, int area, struct leader *l)
{
	uint8_t r[256];
	memset(l, 0, sizeof(*l));
	if (rd(v, v->areas_off + (uint64_t)area * v->area_sectors * v->ss, r, sizeof(r)) < 0 || !rec_ok(r, "SMLR", 256))
		return;
	l->ok = true;
	l->lver = le64(r + 144);
	l->owner = le32(r + 152);
	l->mode = le32(r + 156);
	snprintf(l->res, sizeof(l->res), "%.64s", (char *)r + 80);
}

/* host_name: the name in host record id, "" when unreadable. */
static void host_name(struct vol *v, uint32_t id, char *out, size_t n)
{
	uint8_t r[256];
	out[0] = '\0';
	if (id < 1 || id > v->max_hosts || rd(v, v->host_off + (uint64_t)(id - 1) * v->ss, r, sizeof(r)) < 0 ||
	    !rec_ok(r, "SMHR", 256))
		return;
	snprintf(out, n, "%.64s", (char *)r + 104);
}

/* A guarded block: 512 bytes, little-endian, no padding: magic "LABG" at 0,
 * the writer's name at 8, the lease version it holds at 40, its sequence at 48. */
struct gblock {
	uint32_t magic;
	uint32_t writer_pid; /* tells two processes apart that hold with one id and lver */
	char id[32];
	uint64_t lver, seq;
	uint8_t pad[BLK - 56];
};
_Static_assert(sizeof(struct gblock) == BLK, "a guarded block is one 512-byte block");

static int gread(struct vol *v, uint64_t off, struct gblock *g)
{
	if (pread(v->dfd, v->buf, BLK, (off_t)off) != BLK)
		return -1;
	memcpy(g, v->buf, BLK);
	return 0;
}

static int gwrite(struct vol *v, uint64_t off, const struct gblock *g)
{
	memcpy(v->buf, g, BLK);
	return pwrite(v->dfd, v->buf, BLK, (off_t)off) == BLK ? 0 : -1;
}

static void nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* superseded: the holder found the lease or its guarded block taken (why).
 * Without fencing that is an OVERLAP.  With --fenced it writes once more, as
 * an application unaware of it would: the storage must refuse that write
 * (EBADE); errors other than a reservation conflict are retried for 5 s. */
static int superseded(struct vol *v, uint64_t goff, struct gblock *last, bool fenced, const char *id,
		      const char *res, const char *why)
{
	if (!fenced) {
		printf("lab-checker: OVERLAP %s %s %s\n", id, res, why);
		return 4;
	}
	last->seq++;
	for (int tries = 0; tries < 50; tries++) {
		if (gwrite(v, goff, last) == 0) {
			printf("lab-checker: OVERLAP %s %s %s; and my write seq %" PRIu64 " was accepted by the storage\n",
			       id, res, why, last->seq);
			return 4;
		}
		if (errno == EBADE) {
			printf("lab-checker: FENCED %s %s %s; my write seq %" PRIu64
			       " was refused (EBADE: reservation conflict)\n",
			       id, res, why, last->seq);
			return 5;
		}
		printf("lab-checker: %s %s: write error %s (retrying)\n", id, res, strerror(errno));
		fflush(stdout);
		nap_ms(100);
	}
	printf("lab-checker: %s %s %s; my writes keep failing, but not with a reservation conflict\n", id, res, why);
	return 6;
}

static int hold(const char *dev, const char *data_dev, bool fenced, const char *res, const char *id,
		uint64_t data_off, long interval, double seconds)
{
	struct vol v;
	int rc = vol_open(&v, dev, true);
	if (rc < 0) {
		printf("lab-checker: %s: cannot read a volume header on %s\n", id, dev);
		return 2;
	}
	if (data_dev && (v.dfd = open(data_dev, O_RDWR | O_CLOEXEC | O_DIRECT)) < 0) {
		printf("lab-checker: %s: cannot open the data device %s: %s\n", id, data_dev, strerror(errno));
		return 2;
	}
	int area = area_of(&v, res);
	if (area < 0) {
		printf("lab-checker: %s: no resource %s on %s\n", id, res, dev);
		return 2;
	}
	uint64_t goff = data_off + (uint64_t)area * BLK;
	struct leader l;
	leader_read(&v, area, &l);
	char owner[65];
	host_name(&v, l.owner, owner, sizeof(owner));
	if (!l.ok || l.mode != 1 || strcmp(owner, id) != 0) {
		printf("lab-checker: OVERLAP %s %s: started as holder but the leader names host %u (%s) mode %u lver %" PRIu64 "\n",
		       id, res, l.owner, owner, l.mode, l.lver);
		return 4;
	}
	const uint64_t my_lver = l.lver;
	struct gblock g, last = {.magic = GMAGIC};
	if (gread(&v, goff, &g) < 0)
		return 2;
	if (g.magic == GMAGIC)
		printf("lab-checker: %s holds %s at lver %" PRIu64 " (previous writer %.32s at lver %" PRIu64 ", seq %" PRIu64 ")\n",
		       id, res, my_lver, g.id, g.lver, g.seq);
	else
		printf("lab-checker: %s holds %s at lver %" PRIu64 " (first writer)\n", id, res, my_lver);
	if (g.magic == GMAGIC && g.lver >= my_lver) {
		printf("lab-checker: OVERLAP %s %s: the guarded block was written at lver %" PRIu64 " >= ours %" PRIu64 " by %.32s\n",
		       id, res, g.lver, my_lver, g.id);
		return 4;
	}
	fflush(stdout);
	snprintf(last.id, sizeof(last.id), "%s", id);
	last.lver = my_lver;
	last.writer_pid = (uint32_t)getpid();
	double end = seconds > 0 ? wall() + seconds : 0;
	uint64_t max_lver = my_lver;
	for (uint64_t seq = 1; !stop && (end == 0 || wall() < end); seq++) {
		if (seq > 1) {
			if (gread(&v, goff, &g) < 0) {
				printf("lab-checker: %s %s: read error %s\n", id, res, strerror(errno));
				fflush(stdout);
				nap_ms(interval);
				seq--;
				continue;
			}
			if (memcmp(&g, &last, sizeof(g)) != 0) {
				char why[200];
				snprintf(why, sizeof(why),
					 "lver %" PRIu64 ": after my write seq %" PRIu64
					 " the guarded block holds writer %.32s lver %" PRIu64 " seq %" PRIu64,
					 my_lver, last.seq, g.id, g.lver, g.seq);
				return superseded(&v, goff, &last, fenced, id, res, why);
			}
			leader_read(&v, area, &l);
			if (l.ok && l.lver < max_lver)
				printf("lab-checker: VIOLATION %s %s: lver went back from %" PRIu64 " to %" PRIu64 "\n", id,
				       res, max_lver, l.lver);
			if (l.ok && l.lver > max_lver)
				max_lver = l.lver;
			if (l.ok && l.lver != my_lver) {
				host_name(&v, l.owner, owner, sizeof(owner));
				char why[200];
				snprintf(why, sizeof(why),
					 ": still running at lver %" PRIu64 " but the lease is at lver %" PRIu64 ", owner %u (%s)",
					 my_lver, l.lver, l.owner, owner);
				return superseded(&v, goff, &last, fenced, id, res, why);
			}
		}
		last.seq = seq;
		if (gwrite(&v, goff, &last) < 0) {
			printf("lab-checker: %s %s: write error %s\n", id, res, strerror(errno));
			fflush(stdout);
			last.seq = seq - 1;
			/* what is on disk is unknown: take it as our last write only if it reads back so */
			if (gread(&v, goff, &g) == 0 && memcmp(&g, &last, sizeof(g)) != 0 && strncmp(g.id, id, 32) == 0)
				last = g;
		}
		nap_ms(interval);
	}
	printf("lab-checker: %s %s released after %" PRIu64 " writes at lver %" PRIu64 "\n", id, res, last.seq, my_lver);
	return 0;
}

struct wstate {
	bool seen;
	struct leader l;
	struct gblock g;
	uint64_t max_lver, max_glver;
	char max_gid[33];
	double seq_changed; /* when the guarded block last changed */
};

#define MAX_HOSTS 2000

/* host_seq: sequence (offset 32) and timestamp of host record id; false when unreadable. */
static bool host_seq(struct vol *v, uint32_t id, uint64_t *seq)
{
	uint8_t r[256];
	if (rd(v, v->host_off + (uint64_t)(id - 1) * v->ss, r, sizeof(r)) < 0 || !rec_ok(r, "SMHR", 256))
		return false;
	*seq = le64(r + 32) ^ le64(r + 24) << 1 ^ le64(r + 16) << 40;
	return true;
}

static int watch(const char *file, const char *data_file, uint64_t data_off, long interval)
{
	struct vol v;
	int rc;
	struct stat st;
	/* a real LUN is read around the page cache; a target's backing file is
	 * coherent with the target's own writes through it */
	bool direct = stat(file, &st) == 0 && S_ISBLK(st.st_mode);
	while ((rc = vol_open(&v, file, direct)) == -2 && !stop) {
		close(v.fd);
		nap_ms(200);
	}
	if (rc < 0) {
		fprintf(stderr, "lab-checker: watch: cannot open %s\n", file);
		return 2;
	}
	if (data_file && (v.dfd = open(data_file, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0))) < 0) {
		fprintf(stderr, "lab-checker: watch: cannot open %s\n", data_file);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	static struct wstate w[MAX_RES];
	uint32_t n = v.nres < MAX_RES ? v.nres : MAX_RES;
	unsigned long polls = 0, lchanges = 0, wchanges = 0, overlaps = 0, backwards = 0;
	static uint64_t hseq[MAX_HOSTS + 1];
	static double hchanged[MAX_HOSTS + 1];
	uint32_t nh = v.max_hosts < MAX_HOSTS ? v.max_hosts : MAX_HOSTS;
	while (!stop) {
		polls++;
		double t = wall();
		for (uint32_t h = 1; h <= nh; h++) {
			uint64_t q;
			if (host_seq(&v, h, &q) && q != hseq[h]) {
				hseq[h] = q;
				hchanged[h] = t;
			}
		}
		for (uint32_t a = 0; a < n; a++) {
			struct leader l;
			struct gblock g;
			leader_read(&v, (int)a, &l);
			if (!l.ok || l.res[0] == '\0')
				continue;
			if (gread(&v, data_off + (uint64_t)a * BLK, &g) < 0)
				continue;
			struct wstate *s = &w[a];
			if (!s->seen || l.lver != s->l.lver || l.owner != s->l.owner || l.mode != s->l.mode) {
				char hn[65];
				host_name(&v, l.owner, hn, sizeof(hn));
				printf("%.3f lease %s lver %" PRIu64 " owner %u %s mode %u\n", t, l.res, l.lver, l.owner,
				       hn[0] ? hn : "-", l.mode);
				if (s->seen && l.owner && l.lver > s->l.lver) {
					char on[65] = "";
					if (s->l.owner && s->l.owner != l.owner && s->l.owner <= nh) {
						host_name(&v, s->l.owner, on, sizeof(on));
						printf("%.3f takeover %s lver %" PRIu64 " by %s from %s after %.1f s without a "
						       "renewal of %s\n", t, l.res, l.lver, hn, on, t - hchanged[s->l.owner], on);
					} else {
						printf("%.3f acquire %s lver %" PRIu64 " by %s\n", t, l.res, l.lver, hn);
					}
				}
				if (s->seen && l.lver < s->max_lver) {
					printf("%.3f VIOLATION %s: lver went back from %" PRIu64 " to %" PRIu64 "\n", t, l.res,
					       s->max_lver, l.lver);
					backwards++;
				}
				if (s->seen)
					lchanges++;
			}
			if (l.lver > s->max_lver)
				s->max_lver = l.lver;
			if (g.magic == GMAGIC &&
			    (!s->seen || s->g.magic != GMAGIC || strncmp(g.id, s->g.id, 32) || g.lver != s->g.lver)) {
				printf("%.3f write %s by %.32s lver %" PRIu64 " seq %" PRIu64 "\n", t, l.res, g.id, g.lver, g.seq);
				if (s->max_gid[0] && (g.lver < s->max_glver ||
						      (g.lver == s->max_glver && strncmp(g.id, s->max_gid, 32)))) {
					printf("%.3f OVERLAP %s: %.32s wrote at lver %" PRIu64 " after %s wrote at lver %" PRIu64
					       "\n", t, l.res, g.id, g.lver, s->max_gid, s->max_glver);
					overlaps++;
				}
				if (s->seen)
					wchanges++;
				if (g.lver > s->max_glver || !s->max_gid[0]) {
					s->max_glver = g.lver;
					snprintf(s->max_gid, sizeof(s->max_gid), "%.32s", g.id);
				}
			}
			if (s->seen && g.magic == GMAGIC && memcmp(&g, &s->g, sizeof(g)) != 0) {
				/* a holder writes every interval: a long gap is an I/O stall it saw */
				if (strncmp(g.id, s->g.id, 32) == 0 && g.lver == s->g.lver && t - s->seq_changed > 1.0)
					printf("%.3f stall %s %.1f s writer %.32s\n", t, l.res, t - s->seq_changed, g.id);
				s->seq_changed = t;
			}
			s->l = l;
			s->g = g;
			s->seen = true;
		}
		nap_ms(interval);
	}
	printf("%.3f summary polls %lu lease-changes %lu writer-changes %lu overlaps %lu lver-backwards %lu\n", wall(),
	       polls, lchanges, wchanges, overlaps, backwards);
	return overlaps || backwards ? 4 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"dev", 1, 0, 'd'},	 {"file", 1, 0, 'f'},	 {"res", 1, 0, 'r'},
					     {"id", 1, 0, 'i'},		 {"data-offset", 1, 0, 'o'},
					     {"interval-ms", 1, 0, 'n'}, {"seconds", 1, 0, 's'},
					     {"data-dev", 1, 0, 'D'},	 {"data-file", 1, 0, 'D'},
					     {"fenced", 0, 0, 'F'},	 {0, 0, 0, 0}};
	if (argc < 2)
		goto usage;
	const char *mode = argv[1], *dev = NULL, *res = NULL, *id = NULL, *data_dev = NULL;
	bool fenced = false;
	uint64_t off = 0;
	long interval = 100;
	double seconds = 0;
	int c;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
		case 'f': dev = optarg; break;
		case 'r': res = optarg; break;
		case 'i': id = optarg; break;
		case 'o': off = strtoull(optarg, NULL, 0); break;
		case 'n': interval = atol(optarg); break;
		case 's': seconds = atof(optarg); break;
		case 'D': data_dev = optarg; break;
		case 'F': fenced = true; break;
		default: goto usage;
		}
	}
	struct sigaction sa = {.sa_handler = on_stop};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(mode, "hold") == 0 && dev && res && id && off)
		return hold(dev, data_dev, fenced, res, id, off, interval, seconds);
	if (strcmp(mode, "watch") == 0 && dev && off)
		return watch(dev, data_dev, off, interval);
usage:
	fprintf(stderr, "usage: lab-checker hold --dev DEV --res NAME --id ID --data-offset BYTES [--data-dev DEV2] "
			"[--fenced] [--interval-ms N] [--seconds S]\n"
			"       lab-checker watch --file PATH --data-offset BYTES [--data-file PATH2] [--interval-ms N]\n");
	return 2;
}
