/* lab-leasebench: issue 14's benchmark figures on one SCSI LUN, in one lab
 * guest (scenario caw-bench, docs/lab.md).  Prints figures; asserts nothing.
 *
 *   lab-leasebench DEVICE N [D_MS]
 *
 * On DEVICE (a SCSI disk that does COMPARE AND WRITE: LIO's LUN 2 in the lab)
 * it measures, N times each:
 *   raw.read   READ of one sector with O_DIRECT (pread) at SCRATCH_OFF
 *   raw.caw    one COMPARE AND WRITE (sm_caw) of the sector at SCRATCH_OFF + 1
 *              sector, from the image it wrote last to a new one
 *   caw.*      acquire EX of a free lease + its release on a volume formatted
 *              with lease_io COMPARE AND WRITE at CAW_VOL_OFF
 *   paxos.*    the same on a Disk Paxos volume at PAXOS_VOL_OFF
 *   caw_join.*, paxos_join.*
 *              join of a free host_id slot (sm_lockspace_join by name, as
 *              the daemon does) and leave, on volumes formatted fresh at
 *              CAW_JOIN_OFF and PAXOS_JOIN_OFF: N joins on the CAW volume,
 *              lb_paxos_joins (default 3) on the Disk Paxos one, whose join
 *              waits 2d each time.  The first join of each (a fresh handle:
 *              the CAW one also asks the Block Limits page) apart.  Also
 *              the least and the most time any join took on the lease
 *              library's own clock (sm_clock: the real one here; the unit
 *              test's fake clock, which only its sleeps move, shows the
 *              Disk Paxos join's 2d wait and that the CAW join has none).
 * The lease operations are the library's (sm_paxos_acquire/release, which
 * dispatch to src/lease/atomic.c on a CAW volume), as host 1 generation 1
 * with a liveness oracle that knows only itself: no daemon and no lockspace
 * membership (as tests/unit/test_atomic.c).  The first acquire of each method
 * (no leader image remembered yet) is reported on its own ("first").
 *
 * I/O per operation: the disk layer's counters (sm_disk_get_stats: reads,
 * writes, bytes) plus SG_IO commands counted through the disk syscall table
 * (COMPARE AND WRITE commands and their bytes, SG_IO reads, other SG_IO
 * commands such as INQUIRY).  Round trips = all of them.
 *
 * Both volumes are formatted as `sync_manager init` would by default (128
 * hosts: a Disk Paxos area is 130 sectors) with d = D_MS (default 2000, the
 * lab's), one resource "r".
 *
 * Layout on DEVICE (bytes): [0, 2 MiB) left to sanlock (lockspace at 0,
 * resource r0 at 1 MiB: bench/sanlock/slbench.c), SCRATCH_OFF 8 MiB,
 * CAW_VOL_OFF 16 MiB, CAW_JOIN_OFF 24 MiB, PAXOS_VOL_OFF 32 MiB,
 * PAXOS_JOIN_OFF 40 MiB.  Everything there is overwritten.
 *
 * Output: "lb.<metric> <value> <unit>" lines on stdout (lab/run builds the
 * table from them); errors on stderr, exit 1.
 *
 * tests/unit/test_leasebench.c includes this file with LEASEBENCH_NO_MAIN
 * and runs lb_run() on the SBC-3 emulator (prsim): every open and SG_IO goes
 * through the disk syscall table, and the SG_IO counter chains to whatever
 * the table held before (the real ioctl here, the emulator there). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "common/clock.h"
#include "disk/caw.h"
#include "disk/disk.h"
#include "disk/syscalls.h"
#include "lease/delta.h"
#include "lease/paxos.h"
#include "lease/resource.h"
#include "ondisk/volume.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024ull * 1024ull)
#define SCRATCH_OFF (8 * MIB)
#define CAW_VOL_OFF (16 * MIB)
#define PAXOS_VOL_OFF (32 * MIB)
#define CAW_JOIN_OFF (24 * MIB)
#define PAXOS_JOIN_OFF (40 * MIB)
static unsigned io_timeout_ms = 2000; /* D_MS */
static int lb_paxos_joins = 3;        /* each waits 2d */

/* ---- SG_IO commands, counted through the disk syscall table ----------------- */

struct sg_counts {
	unsigned long caw, caw_bytes, reads, read_bytes, other;
};
static struct sg_counts sg;
static int (*next_sg_io)(int fd, struct sg_io_hdr *hdr);

static int counting_sg_io(int fd, struct sg_io_hdr *hdr)
{
	int rc = next_sg_io(fd, hdr);
	unsigned char op = hdr->cmdp ? hdr->cmdp[0] : 0;
	if (op == 0x89) {
		sg.caw++;
		sg.caw_bytes += hdr->dxfer_len;
	} else if (op == 0x88 || op == 0x28) {
		sg.reads++;
		sg.read_bytes += hdr->dxfer_len;
	} else {
		sg.other++;
	}
	return rc;
}

static FILE *out; /* where the figures go */

/* ---- timing ------------------------------------------------------------------ */

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* "lb.NAME_median" and "lb.NAME_p90" in ms of n samples (sorted here) */
static void print_lat(const char *name, double *us, int n)
{
	qsort(us, (size_t)n, sizeof(double), cmp_double);
	fprintf(out, "lb.%s_median %.3f ms\n", name, us[n / 2] / 1000);
	fprintf(out, "lb.%s_p90 %.3f ms\n", name, us[(n * 9) / 10] / 1000);
}

/* ---- raw round trips ---------------------------------------------------------- */

static int raw_reads(const char *dev, int n, double *us)
{
	int fd = sm_disk_sys.open(dev, O_RDONLY | O_DIRECT, 0), rc = 0;
	void *buf = NULL;
	if (fd < 0 || posix_memalign(&buf, 4096, 4096)) {
		fprintf(stderr, "lab-leasebench: %s: cannot open with O_DIRECT: %s\n", dev, strerror(errno));
		rc = -EIO;
	}
	for (int i = 0; i < n && rc == 0; i++) {
		double t0 = now_us();
		ssize_t r = pread(fd, buf, 512, (off_t)SCRATCH_OFF);
		us[i] = now_us() - t0;
		if (r != 512) {
			fprintf(stderr, "lab-leasebench: %s: READ of one sector: %s\n", dev, r < 0 ? strerror(errno) : "short");
			rc = -EIO;
		}
	}
	free(buf);
	if (fd >= 0)
		sm_disk_sys.close(fd);
	return rc;
}

static int raw_caws(const char *dev, size_t ss, int n, double *us)
{
	struct sm_caw_dev *c;
	int rc = sm_caw_open(dev, io_timeout_ms, &c);
	if (rc < 0)
		return rc;
	uint64_t off = SCRATCH_OFF + ss;
	unsigned char *cur = calloc(1, ss), *next = calloc(1, ss);
	if (!cur || !next || (rc = sm_caw_read(c, off, cur, ss)) < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		memcpy(next, cur, ss);
		snprintf((char *)next, ss, "lab-leasebench raw CAW %d", i);
		double t0 = now_us();
		rc = sm_caw(c, off, cur, next, ss);
		us[i] = now_us() - t0;
		if (rc < 0) {
			fprintf(stderr, "lab-leasebench: %s: COMPARE AND WRITE %d of %d: %s\n", dev, i + 1, n, sm_strerror(rc));
			goto out;
		}
		memcpy(cur, next, ss);
	}
out:
	free(cur);
	free(next);
	sm_caw_close(c);
	return rc;
}

/* ---- lease operations ------------------------------------------------------ */

static enum sm_owner_verdict only_me(void *arg, uint32_t id, uint64_t gen, uint64_t read_done_ms)
{
	const struct sm_me *me = arg;
	(void)read_done_ms;
	return id == me->host_id && gen == me->generation ? SM_OWNER_SELF : SM_OWNER_ALIVE;
}

/* I/O of one operation: the disk layer's and SG_IO's */
struct op_io {
	double reads, bytes_read, writes, bytes_written, caw, caw_bytes, sg_reads, sg_read_bytes, sg_other;
};

struct io_mark {
	struct sm_disk_stats d;
	struct sg_counts s;
};

static void mark(struct sm_volume *v, struct io_mark *m)
{
	sm_disk_get_stats(v->disk, &m->d);
	m->s = sg;
}

static void add_since(struct sm_volume *v, const struct io_mark *m, struct op_io *io)
{
	struct io_mark now;
	mark(v, &now);
	io->sg_other += (double)(now.s.other - m->s.other);
	io->reads += (double)(now.d.reads - m->d.reads);
	io->bytes_read += (double)(now.d.bytes_read - m->d.bytes_read);
	io->writes += (double)(now.d.writes - m->d.writes);
	io->bytes_written += (double)(now.d.bytes_written - m->d.bytes_written);
	io->caw += (double)(now.s.caw - m->s.caw);
	io->caw_bytes += (double)(now.s.caw_bytes - m->s.caw_bytes);
	io->sg_reads += (double)(now.s.reads - m->s.reads);
	io->sg_read_bytes += (double)(now.s.read_bytes - m->s.read_bytes);
}

static void print_io(const char *name, const struct op_io *io, int n)
{
	fprintf(out, "lb.%s_reads %.2f per_op\n", name, io->reads / n);
	fprintf(out, "lb.%s_bytes_read %.0f B_per_op\n", name, io->bytes_read / n);
	fprintf(out, "lb.%s_writes %.2f per_op\n", name, io->writes / n);
	fprintf(out, "lb.%s_bytes_written %.0f B_per_op\n", name, io->bytes_written / n);
	fprintf(out, "lb.%s_caw %.2f per_op\n", name, io->caw / n);
	fprintf(out, "lb.%s_caw_bytes %.0f B_per_op\n", name, io->caw_bytes / n);
	fprintf(out, "lb.%s_sg_reads %.2f per_op\n", name, io->sg_reads / n);
	fprintf(out, "lb.%s_sg_other %.2f per_op\n", name, io->sg_other / n);
	fprintf(out, "lb.%s_round_trips %.2f per_op\n", name,
		(io->reads + io->writes + io->caw + io->sg_reads + io->sg_other) / n);
}

static int format_volume(const char *dev, uint64_t off, uint32_t lease_io)
{
	struct sm_format_params p = {.lockspace = "bench", .max_hosts = SM_DEFAULT_MAX_HOSTS, .resources = 4,
				     .io_timeout_ms = io_timeout_ms,
				     .resource_names = (const char *[]){"r"}, .resource_name_count = 1,
				     .force = true, .lease_io = lease_io};
	int rc = sm_volume_format(dev, off, &p, NULL);
	if (rc < 0)
		fprintf(stderr, "lab-leasebench: %s: format at %llu MiB (%s): %s\n", dev, (unsigned long long)(off / MIB),
			sm_lease_io_name(lease_io), sm_strerror(rc));
	return rc;
}

/* N x (acquire EX, release) of resource "r" on the volume at off; figures
 * under "lb.METHOD_*" */
static int lease_cycles(const char *dev, uint64_t off, const char *method, int n)
{
	struct sm_volume *v;
	struct sm_resource_ref r;
	int rc = sm_volume_open(dev, off, 0, &v);
	if (rc < 0 || (rc = sm_resource_ref_init(&r, v, "r")) < 0) {
		fprintf(stderr, "lab-leasebench: %s: volume at %llu MiB: %s\n", dev, (unsigned long long)(off / MIB),
			sm_strerror(rc));
		return rc;
	}
	struct sm_me me = {1, 1};
	struct sm_acquire_opts o = {.mode = SM_MODE_EX, .live = {only_me, &me}};
	double *acq = calloc((size_t)n, sizeof(double)), *rel = calloc((size_t)n, sizeof(double));
	struct op_io acq_io = {0}, rel_io = {0}, first_io = {0};
	struct io_mark m;
	struct sm_lease l;
	char name[64];
	double first = 0;
	for (int i = -1; i < n && rc == 0; i++) {
		mark(v, &m);
		double t0 = now_us();
		rc = sm_paxos_acquire(&r, &me, &o, &l);
		double t1 = now_us();
		add_since(v, &m, i < 0 ? &first_io : &acq_io);
		if (rc < 0) {
			fprintf(stderr, "lab-leasebench: %s acquire EX %d: %s\n", method, i + 1, sm_strerror(rc));
			break;
		}
		i < 0 ? (void)(first = t1 - t0) : (void)(acq[i] = t1 - t0);
		mark(v, &m);
		t0 = now_us();
		rc = sm_paxos_release(&r, &me, &l);
		t1 = now_us();
		if (rc < 0) {
			fprintf(stderr, "lab-leasebench: %s release %d: %s\n", method, i + 1, sm_strerror(rc));
			break;
		}
		if (i >= 0) {
			add_since(v, &m, &rel_io);
			rel[i] = t1 - t0;
		}
	}
	if (rc == 0) {
		fprintf(out, "lb.%s_first_acquire %.3f ms\n", method, first / 1000);
		snprintf(name, sizeof(name), "%s_first_acquire", method);
		print_io(name, &first_io, 1);
		snprintf(name, sizeof(name), "%s_acquire", method);
		print_lat(name, acq, n);
		print_io(name, &acq_io, n);
		snprintf(name, sizeof(name), "%s_release", method);
		print_lat(name, rel, n);
		print_io(name, &rel_io, n);
	}
	free(acq);
	free(rel);
	sm_volume_close(v);
	return rc;
}

/* n joins of a free host_id slot (by name, as the daemon joins) and leaves on
 * a volume formatted fresh at off, each on a fresh lockspace handle after
 * the first (the daemon opens one per join); the first join is reported
 * apart: "lb.METHOD_join_first", "lb.METHOD_join_*" (the rest), and the
 * leaves "lb.METHOD_leave_*".  Only the join itself is timed and counted
 * (sm_lockspace_open reads the header before it). */
static int join_cycles(const char *dev, uint64_t off, uint32_t lease_io, const char *method, int n)
{
	int rc = format_volume(dev, off, lease_io);
	if (rc < 0)
		return rc;
	double *join = calloc((size_t)n, sizeof(double)), *leave = calloc((size_t)n, sizeof(double)), first = 0;
	struct op_io join_io = {0}, first_io = {0}, leave_io = {0};
	char name[64];
	uint32_t host_id = 0;
	uint64_t clock_min = 0, clock_max = 0;
	for (int i = -1; i < n && rc == 0; i++) {
		struct sm_lockspace *ls;
		if ((rc = sm_lockspace_open(dev, off, &ls)) < 0) {
			fprintf(stderr, "lab-leasebench: %s: lockspace at %llu MiB: %s\n", dev,
				(unsigned long long)(off / MIB), sm_strerror(rc));
			break;
		}
		struct sm_volume *v = sm_lockspace_volume(ls);
		struct sm_join_opts o = {.host_name = "lab-leasebench"};
		struct io_mark m;
		mark(v, &m);
		uint64_t c0 = sm_now_mono_ms();
		double t0 = now_us();
		rc = sm_lockspace_join(ls, &o);
		double t1 = now_us();
		uint64_t clock_ms = sm_now_mono_ms() - c0;
		clock_min = i < 0 || clock_ms < clock_min ? clock_ms : clock_min;
		clock_max = clock_ms > clock_max ? clock_ms : clock_max;
		add_since(v, &m, i < 0 ? &first_io : &join_io);
		if (rc < 0) {
			fprintf(stderr, "lab-leasebench: %s join %d: %s\n", method, i + 2, sm_strerror(rc));
		} else {
			i < 0 ? (void)(first = t1 - t0) : (void)(join[i] = t1 - t0);
			sm_lockspace_me(ls, &host_id, &(uint64_t){0}, (uint8_t[16]){0});
			mark(v, &m);
			t0 = now_us();
			rc = sm_lockspace_leave(ls);
			t1 = now_us();
			if (rc < 0)
				fprintf(stderr, "lab-leasebench: %s leave %d: %s\n", method, i + 2, sm_strerror(rc));
			if (i >= 0) {
				add_since(v, &m, &leave_io);
				leave[i] = t1 - t0;
			}
		}
		sm_lockspace_free(ls);
	}
	if (rc == 0) {
		fprintf(out, "lb.%s_join_host_id %u id\n", method, host_id);
		fprintf(out, "lb.%s_join_first %.3f ms\n", method, first / 1000);
		fprintf(out, "lb.%s_join_clock_min %llu ms\n", method, (unsigned long long)clock_min);
		fprintf(out, "lb.%s_join_clock_max %llu ms\n", method, (unsigned long long)clock_max);
		snprintf(name, sizeof(name), "%s_join_first", method);
		print_io(name, &first_io, 1);
		snprintf(name, sizeof(name), "%s_join", method);
		print_lat(name, join, n);
		print_io(name, &join_io, n);
		snprintf(name, sizeof(name), "%s_leave", method);
		print_lat(name, leave, n);
		print_io(name, &leave_io, n);
	}
	free(join);
	free(leave);
	return rc;
}

static int lb_measure(const char *dev, int n)
{
	char why[256] = "";
	int rc = sm_caw_supported(dev, SCRATCH_OFF, 512, io_timeout_ms, why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "lab-leasebench: %s: no COMPARE AND WRITE: %s %s\n", dev, sm_strerror(rc), why);
		return rc;
	}
	double *us = calloc((size_t)n, sizeof(double));
	if (!us)
		return -ENOMEM;
	fprintf(out, "lb.n %d ops\n", n);
	fprintf(out, "lb.max_hosts %u hosts\n", SM_DEFAULT_MAX_HOSTS);
	fprintf(out, "lb.d %u ms\n", io_timeout_ms);
	fprintf(out, "lb.paxos_join_n %d ops\n", lb_paxos_joins);
	if ((rc = raw_reads(dev, n, us)) == 0) {
		print_lat("raw_read", us, n);
		if ((rc = raw_caws(dev, 512, n, us)) == 0)
			print_lat("raw_caw", us, n);
	}
	free(us);
	if (rc < 0 || (rc = format_volume(dev, CAW_VOL_OFF, SM_LEASE_IO_CAW)) < 0 ||
	    (rc = format_volume(dev, PAXOS_VOL_OFF, SM_LEASE_IO_PAXOS)) < 0)
		return rc;
	if ((rc = lease_cycles(dev, CAW_VOL_OFF, "caw", n)) < 0 || (rc = lease_cycles(dev, PAXOS_VOL_OFF, "paxos", n)) < 0)
		return rc;
	if ((rc = join_cycles(dev, CAW_JOIN_OFF, SM_LEASE_IO_CAW, "caw", n)) < 0)
		return rc;
	return join_cycles(dev, PAXOS_JOIN_OFF, SM_LEASE_IO_PAXOS, "paxos", lb_paxos_joins);
}

/* The whole benchmark on dev; figures to to; 0, or 1 after a failure (said
 * on stderr) */
static int lb_run(const char *dev, int n, unsigned d_ms, FILE *to)
{
	out = to;
	io_timeout_ms = d_ms;
	memset(&sg, 0, sizeof(sg));
	next_sg_io = sm_disk_sys.sg_io;
	sm_disk_sys.sg_io = counting_sg_io;
	int rc = lb_measure(dev, n);
	sm_disk_sys.sg_io = next_sg_io;
	return rc < 0 ? 1 : 0;
}

#ifndef LEASEBENCH_NO_MAIN
int main(int argc, char **argv)
{
	int n = argc == 3 || argc == 4 ? atoi(argv[2]) : 0;
	unsigned d_ms = argc == 4 ? (unsigned)atoi(argv[3]) : 2000;
	if (n < 10 || n > 100000 || d_ms < 100 || d_ms > 600000) {
		fprintf(stderr, "usage: lab-leasebench DEVICE N [D_MS] (10 <= N <= 100000, 100 <= D_MS <= 600000):"
				" overwrites DEVICE from 8 MiB\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	return lb_run(argv[1], n, d_ms, stdout);
}
#endif
