/* lab-scsi: SCSI commands a lab guest sends its LUN itself (docs/lab.md,
 * scenario "pr" with lab/run --target lio).
 *
 * Runs in a lab guest, on a whole SCSI disk (/dev/sdX or its by-path link)
 * that QEMU passes through (scsi-block).  Plain reads and writes go through the
 * block layer with O_DIRECT (the kernel retries a UNIT ATTENTION itself);
 * everything else is one SG_IO command at a time, with the outcome printed as
 * the target gave it (GOOD, UNIT ATTENTION asc/ascq, RESERVATION CONFLICT,
 * MISCOMPARE, ...), never retried unless the command says so.
 *
 *   lab-scsi tur DEV                 TEST UNIT READY until GOOD (at most 10):
 *                                    prints each UNIT ATTENTION it clears
 *   lab-scsi sgwrite DEV LBA         one WRITE(10) of one block through SG_IO
 *   lab-scsi write DEV LBA           one O_DIRECT pwrite of 512 bytes
 *   lab-scsi read DEV LBA            one O_DIRECT pread of 512 bytes
 *   lab-scsi caw DEV LBA             read the block, then one COMPARE AND
 *                                    WRITE of it (match expected)
 *   lab-scsi set DEV LBA VALUE       the block holds counter VALUE
 *   lab-scsi get DEV LBA             prints the counter of the block
 *   lab-scsi race DEV LBA N          N increments of the counter by
 *                                    read + COMPARE AND WRITE(n -> n + 1),
 *                                    retried on MISCOMPARE; prints counts
 *   lab-scsi lat DEV LBA N [KEY]     N of each: O_DIRECT write, O_DIRECT read,
 *                                    PERSISTENT RESERVE IN READ KEYS, COMPARE
 *                                    AND WRITE, and with KEY (this nexus's
 *                                    registered key, holding a Write Exclusive
 *                                    - All Registrants reservation) PREEMPT
 *                                    AND ABORT with service action key 0;
 *                                    prints median / p90 / max in microseconds
 *
 * Exit status: 0 the command did what was asked (GOOD), 1 the target refused
 * it (the outcome is printed), 2 usage or system error. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <scsi/sg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 512
#define SG_TIMEOUT_MS 20000

enum outcome { GOOD, UNIT_ATTENTION, CONFLICT, MISCOMPARE, OTHER };

struct result {
	enum outcome outcome;
	unsigned key, asc, ascq, status, host, driver;
};

static int dev_fd = -1;
static uint8_t *buf_a, *buf_b, *buf_io; /* BLOCK-aligned blocks */

static void die(const char *what)
{
	fprintf(stderr, "lab-scsi: %s: %s\n", what, strerror(errno));
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* sg: one SCSI command; dir SG_DXFER_TO_DEV, _FROM_DEV or _NONE. */
static struct result sg(const uint8_t *cdb, int cdb_len, int dir, void *data, unsigned len)
{
	uint8_t sense[64] = {0};
	struct sg_io_hdr h = {
		.interface_id = 'S',
		.dxfer_direction = dir,
		.cmd_len = (unsigned char)cdb_len,
		.mx_sb_len = sizeof(sense),
		.dxfer_len = len,
		.dxferp = data,
		.cmdp = (unsigned char *)cdb,
		.sbp = sense,
		.timeout = SG_TIMEOUT_MS,
	};
	if (ioctl(dev_fd, SG_IO, &h) < 0)
		die("SG_IO");
	struct result r = {.status = h.status, .host = h.host_status, .driver = h.driver_status};
	if (h.sb_len_wr >= 4 && (sense[0] & 0x7f) >= 0x72) {
		r.key = sense[1] & 0xf, r.asc = sense[2], r.ascq = sense[3];
	} else if (h.sb_len_wr >= 14) {
		r.key = sense[2] & 0xf, r.asc = sense[12], r.ascq = sense[13];
	}
	if (h.status == 0x18)
		r.outcome = CONFLICT;
	else if (r.key == 0x6)
		r.outcome = UNIT_ATTENTION;
	else if (r.key == 0xe)
		r.outcome = MISCOMPARE;
	else if (h.status == 0 && h.host_status == 0 && (h.driver_status & 0xf) == 0 && h.sb_len_wr == 0)
		r.outcome = GOOD;
	else
		r.outcome = OTHER;
	return r;
}

static void describe(const char *what, struct result r)
{
	static const char *names[] = {"GOOD", "UNIT ATTENTION", "RESERVATION CONFLICT", "MISCOMPARE", "ERROR"};
	printf("%s: %s", what, names[r.outcome]);
	if (r.outcome != GOOD && r.outcome != CONFLICT)
		printf(" (status 0x%02x sense key 0x%x asc/ascq %02x/%02x host 0x%x driver 0x%x)", r.status, r.key,
		       r.asc, r.ascq, r.host, r.driver);
	printf("\n");
}

static struct result tur(void)
{
	uint8_t cdb[6] = {0};
	return sg(cdb, 6, SG_DXFER_NONE, NULL, 0);
}

static struct result write10(uint64_t lba, uint8_t *block)
{
	uint8_t cdb[10] = {0x2a};
	put_be(cdb + 2, lba, 4);
	put_be(cdb + 7, 1, 2);
	return sg(cdb, 10, SG_DXFER_TO_DEV, block, BLOCK);
}

/* caw: COMPARE AND WRITE of one block: expect holds what the block must
 * hold, next what it is to hold afterwards. */
static struct result caw(uint64_t lba, const uint8_t *expect, const uint8_t *next)
{
	uint8_t cdb[16] = {0x89};
	put_be(cdb + 2, lba, 8);
	cdb[13] = 1;
	memcpy(buf_io, expect, BLOCK);
	memcpy(buf_io + BLOCK, next, BLOCK);
	return sg(cdb, 16, SG_DXFER_TO_DEV, buf_io, 2 * BLOCK);
}

static struct result read_keys(unsigned *nkeys)
{
	uint8_t cdb[10] = {0x5e, 0x00};
	put_be(cdb + 7, 1024, 2);
	struct result r = sg(cdb, 10, SG_DXFER_FROM_DEV, buf_io, 1024);
	*nkeys = (unsigned)get_be(buf_io + 4, 4) / 8;
	return r;
}

/* preempt_abort: PERSISTENT RESERVE OUT, PREEMPT AND ABORT, type 7. */
static struct result preempt_abort(uint64_t key, uint64_t sa_key)
{
	uint8_t cdb[10] = {0x5f, 0x05, 0x07};
	uint8_t param[24] = {0};
	put_be(cdb + 5, sizeof(param), 4);
	put_be(param, key, 8);
	put_be(param + 8, sa_key, 8);
	memcpy(buf_io, param, sizeof(param));
	return sg(cdb, 10, SG_DXFER_TO_DEV, buf_io, sizeof(param));
}

static int pread_block(uint64_t lba, uint8_t *block)
{
	return pread(dev_fd, block, BLOCK, (off_t)(lba * BLOCK)) == BLOCK ? 0 : -1;
}

static int pwrite_block(uint64_t lba, const uint8_t *block)
{
	return pwrite(dev_fd, block, BLOCK, (off_t)(lba * BLOCK)) == BLOCK ? 0 : -1;
}

/* counter blocks: a 64-bit counter, then a fixed text */
static void counter_block(uint8_t *block, uint64_t v)
{
	memset(block, 0, BLOCK);
	memcpy(block, &v, sizeof(v));
	snprintf((char *)block + 8, BLOCK - 8, "lab-scsi counter block");
}

static uint64_t counter_of(const uint8_t *block)
{
	uint64_t v;
	memcpy(&v, block, sizeof(v));
	return v;
}

static int cmd_tur(void)
{
	for (int i = 0; i < 10; i++) {
		struct result r = tur();
		if (r.outcome == GOOD)
			return 0;
		describe("TEST UNIT READY", r);
	}
	return 1;
}

static int cmd_race(uint64_t lba, long n)
{
	long done = 0, miscompares = 0, rejected = 0;
	uint64_t t0 = now_ns();
	while (done < n) {
		if (pread_block(lba, buf_a) < 0)
			die("pread");
		counter_block(buf_b, counter_of(buf_a) + 1);
		memcpy(buf_b + 8, buf_a + 8, BLOCK - 8);
		struct result r = caw(lba, buf_a, buf_b);
		if (r.outcome == GOOD)
			done++;
		else if (r.outcome == MISCOMPARE)
			miscompares++;
		else {
			rejected++;
			describe("COMPARE AND WRITE", r);
			if (rejected > 20)
				break;
		}
	}
	if (pread_block(lba, buf_a) < 0)
		die("pread");
	printf("race: successes %ld miscompares %ld rejected %ld counter %" PRIu64 " in %.1f s\n", done, miscompares,
	       rejected, counter_of(buf_a), (double)(now_ns() - t0) / 1e9);
	return done == n ? 0 : 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *ns, long n, long bad)
{
	qsort(ns, (size_t)n, sizeof(*ns), cmp_u64);
	printf("lat %-16s n %ld median %" PRIu64 " p90 %" PRIu64 " max %" PRIu64 " us, not GOOD %ld\n", what, n,
	       ns[n / 2] / 1000, ns[n * 9 / 10] / 1000, ns[n - 1] / 1000, bad);
}

static int cmd_lat(uint64_t lba, long n, uint64_t key)
{
	uint64_t *ns = calloc((size_t)n, sizeof(*ns));
	long bad, i;
	unsigned nkeys = 0;
	if (!ns)
		die("calloc");
	counter_block(buf_a, 1);
	counter_block(buf_b, 2);
	for (bad = 0, i = 0; i < n; i++) {
		uint64_t t = now_ns();
		bad += pwrite_block(lba, i % 2 ? buf_b : buf_a) < 0;
		ns[i] = now_ns() - t;
	}
	report("write O_DIRECT", ns, n, bad);
	for (bad = 0, i = 0; i < n; i++) {
		uint64_t t = now_ns();
		bad += pread_block(lba, buf_io) < 0;
		ns[i] = now_ns() - t;
	}
	report("read O_DIRECT", ns, n, bad);
	for (bad = 0, i = 0; i < n; i++) {
		uint64_t t = now_ns();
		bad += read_keys(&nkeys).outcome != GOOD;
		ns[i] = now_ns() - t;
	}
	report("PR READ KEYS", ns, n, bad);
	/* the block holds buf_b or buf_a: swap them back and forth */
	if (pread_block(lba, buf_io) < 0)
		die("pread");
	int holds_b = memcmp(buf_io, buf_b, BLOCK) == 0;
	for (bad = 0, i = 0; i < n; i++) {
		uint64_t t = now_ns();
		struct result r = holds_b ? caw(lba, buf_b, buf_a) : caw(lba, buf_a, buf_b);
		ns[i] = now_ns() - t;
		if (r.outcome == GOOD)
			holds_b = !holds_b;
		else
			bad++;
	}
	report("COMPARE AND WRITE", ns, n, bad);
	if (key) {
		for (bad = 0, i = 0; i < n; i++) {
			uint64_t t = now_ns();
			bad += preempt_abort(key, 0).outcome != GOOD;
			ns[i] = now_ns() - t;
		}
		report("PREEMPT AND ABORT", ns, n, bad);
	}
	free(ns);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: lab-scsi tur|sgwrite|write|read|caw|set|get|race|lat DEV [LBA [N|VALUE [KEY]]]\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return usage();
	const char *cmd = argv[1];
	uint64_t lba = argc > 3 ? strtoull(argv[3], NULL, 0) : 0;
	long n = argc > 4 ? strtol(argv[4], NULL, 0) : 0;
	if ((dev_fd = open(argv[2], O_RDWR | O_DIRECT | O_CLOEXEC)) < 0)
		die(argv[2]);
	if (posix_memalign((void **)&buf_a, 4096, BLOCK) || posix_memalign((void **)&buf_b, 4096, BLOCK) ||
	    posix_memalign((void **)&buf_io, 4096, 4096))
		die("posix_memalign");
	if (!strcmp(cmd, "tur"))
		return cmd_tur();
	if (argc < 4)
		return usage();
	struct result r;
	if (!strcmp(cmd, "sgwrite")) {
		counter_block(buf_a, 7);
		describe("WRITE(10) through SG_IO", r = write10(lba, buf_a));
		return r.outcome != GOOD;
	}
	if (!strcmp(cmd, "write") || !strcmp(cmd, "read")) {
		counter_block(buf_a, 7);
		int w = cmd[0] == 'w';
		if ((w ? pwrite_block(lba, buf_a) : pread_block(lba, buf_a)) == 0) {
			printf("O_DIRECT %s: ok\n", cmd);
			return 0;
		}
		printf("O_DIRECT %s: errno %d %s (%s)\n", cmd, errno, strerrorname_np(errno), strerror(errno));
		return 1;
	}
	if (!strcmp(cmd, "caw")) {
		if (pread_block(lba, buf_a) < 0)
			die("pread");
		memcpy(buf_b, buf_a, BLOCK);
		describe("COMPARE AND WRITE", r = caw(lba, buf_a, buf_b));
		return r.outcome != GOOD;
	}
	if (!strcmp(cmd, "set")) {
		counter_block(buf_a, (uint64_t)n);
		if (pwrite_block(lba, buf_a) < 0)
			die("pwrite");
		return 0;
	}
	if (!strcmp(cmd, "get")) {
		if (pread_block(lba, buf_a) < 0)
			die("pread");
		printf("%" PRIu64 "\n", counter_of(buf_a));
		return 0;
	}
	if (!strcmp(cmd, "race") && n > 0)
		return cmd_race(lba, n);
	if (!strcmp(cmd, "lat") && n > 0)
		return cmd_lat(lba, n, argc > 5 ? strtoull(argv[5], NULL, 0) : 0);
	return usage();
}
