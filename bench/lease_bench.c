/* Lease-library benchmark: I/O count, bytes and latency per operation, on a
 * volume file on the local disk.  Prints figures; asserts nothing.
 *
 *   lease_bench DIR [--io-timeout SEC] [--max-hosts N] [--iterations N]
 *                   [--resources N] [--format-resources N]
 *
 * --format-resources N (default 2000): the volume is formatted with N areas,
 *   all of them named (r0 .. r<N-1>), so its index is full.  Format time, disk
 *   I/Os, bytes and the disk layer's syscalls are printed, then name lookups in
 *   that full index.
 * --resources N (default 1000): how many leases the sequential run acquires
 *   (r1 .. r<N>); the volume gets at least N + 1 areas.
 *
 * Output lines "ours.<metric> <value> <unit>" are machine-readable (bench/run
 * puts them beside sanlock's). */
#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "disk/disk.h"
#include "disk/syscalls.h"
#include "lease/delta.h"
#include "lease/paxos.h"
#include "lease/resource.h"
#include "ondisk/index.h"
#include "ondisk/volume.h"
#include "sync_manager/errors.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

struct opstat {
	const char *name;
	double *lat_us;
	int n;
	struct sm_disk_stats io;
};

static void report(struct opstat *s)
{
	qsort(s->lat_us, (size_t)s->n, sizeof(double), cmp_double);
	double med = s->lat_us[s->n / 2], p99 = s->lat_us[(int)(s->n * 0.99)];
	double reads = (double)s->io.reads / s->n, writes = (double)s->io.writes / s->n;
	double br = (double)s->io.bytes_read / s->n, bw = (double)s->io.bytes_written / s->n;
	printf("  %-28s %6d  %5.1f  %5.1f  %10.0f  %8.0f  %9.1f  %9.1f\n", s->name, s->n, reads, writes, br, bw, med,
	       p99);
	printf("ours.%s.ios %.1f count\n", s->name, reads + writes);
	printf("ours.%s.bytes_read %.0f B\n", s->name, br);
	printf("ours.%s.bytes_written %.0f B\n", s->name, bw);
	printf("ours.%s.latency_median %.1f us\n", s->name, med);
}

static void begin(struct opstat *s, const char *name, int n)
{
	s->name = name;
	s->n = 0;
	s->lat_us = calloc((size_t)n, sizeof(double));
	sm_disk_reset_global_stats();
}

static void end_op(struct opstat *s)
{
	sm_disk_global_stats(&s->io);
}

/* Syscalls issued by the disk layer: every one goes through the table in
 * src/disk/syscalls.h, so counting wrappers installed there see all of them.
 * Each table entry is one kernel syscall, except io_getevents with a zero
 * timeout, which libaio answers from the AIO ring without entering the kernel
 * when no completion is waiting (the disk layer only does that while an
 * abandoned I/O is pending); those calls are counted apart. */
enum { SC_OPEN, SC_CLOSE, SC_FSTAT, SC_FTRUNCATE, SC_FDATASYNC, SC_BLKSSZGET, SC_BLKGETSIZE64, SC_IO_SETUP,
       SC_IO_DESTROY, SC_IO_SUBMIT, SC_IO_GETEVENTS, SC_IO_CANCEL, SC_N };
static const char *const sc_name[SC_N] = {"open", "close", "fstat", "ftruncate", "fdatasync", "ioctl(BLKSSZGET)",
					  "ioctl(BLKGETSIZE64)", "io_setup", "io_destroy", "io_submit",
					  "io_getevents", "io_cancel"};
static uint64_t sc_count[SC_N], sc_nowait_reaps;

static int c_open(const char *path, int flags, mode_t mode)
{
	sc_count[SC_OPEN]++;
	return sm_disk_sys_real.open(path, flags, mode);
}
static int c_close(int fd)
{
	sc_count[SC_CLOSE]++;
	return sm_disk_sys_real.close(fd);
}
static int c_fstat(int fd, struct stat *st)
{
	sc_count[SC_FSTAT]++;
	return sm_disk_sys_real.fstat(fd, st);
}
static int c_ftruncate(int fd, off_t len)
{
	sc_count[SC_FTRUNCATE]++;
	return sm_disk_sys_real.ftruncate(fd, len);
}
static int c_fdatasync(int fd)
{
	sc_count[SC_FDATASYNC]++;
	return sm_disk_sys_real.fdatasync(fd);
}
static int c_blk_sector_size(int fd, int *out)
{
	sc_count[SC_BLKSSZGET]++;
	return sm_disk_sys_real.blk_sector_size(fd, out);
}
static int c_blk_size_bytes(int fd, uint64_t *out)
{
	sc_count[SC_BLKGETSIZE64]++;
	return sm_disk_sys_real.blk_size_bytes(fd, out);
}
static int c_io_setup(int maxevents, io_context_t *ctx)
{
	sc_count[SC_IO_SETUP]++;
	return sm_disk_sys_real.io_setup(maxevents, ctx);
}
static int c_io_destroy(io_context_t ctx)
{
	sc_count[SC_IO_DESTROY]++;
	return sm_disk_sys_real.io_destroy(ctx);
}
static int c_io_submit(io_context_t ctx, long nr, struct iocb **iocbs)
{
	sc_count[SC_IO_SUBMIT]++;
	return sm_disk_sys_real.io_submit(ctx, nr, iocbs);
}
static int c_io_getevents(io_context_t ctx, long min_nr, long nr, struct io_event *ev, struct timespec *timeout)
{
	if (timeout && timeout->tv_sec == 0 && timeout->tv_nsec == 0)
		sc_nowait_reaps++;
	else
		sc_count[SC_IO_GETEVENTS]++;
	return sm_disk_sys_real.io_getevents(ctx, min_nr, nr, ev, timeout);
}
static int c_io_cancel(io_context_t ctx, struct iocb *iocb, struct io_event *evt)
{
	sc_count[SC_IO_CANCEL]++;
	return sm_disk_sys_real.io_cancel(ctx, iocb, evt);
}

static void syscalls_count_start(void)
{
	memset(sc_count, 0, sizeof(sc_count));
	sc_nowait_reaps = 0;
	sm_disk_sys = (struct sm_disk_syscalls){
		.open = c_open,
		.close = c_close,
		.fstat = c_fstat,
		.ftruncate = c_ftruncate,
		.fdatasync = c_fdatasync,
		.blk_sector_size = c_blk_sector_size,
		.blk_size_bytes = c_blk_size_bytes,
		.io_setup = c_io_setup,
		.io_destroy = c_io_destroy,
		.io_submit = c_io_submit,
		.io_getevents = c_io_getevents,
		.io_cancel = c_io_cancel,
	};
}

/* Stop counting; returns the total and writes "name N, ..." (nonzero ones) to buf. */
static uint64_t syscalls_count_stop(char *buf, size_t len)
{
	sm_disk_syscalls_reset();
	uint64_t total = 0;
	size_t at = 0;
	buf[0] = 0;
	for (int i = 0; i < SC_N; i++) {
		if (!sc_count[i])
			continue;
		total += sc_count[i];
		int n = snprintf(buf + at, len - at, "%s%s %llu", at ? ", " : "", sc_name[i],
				 (unsigned long long)sc_count[i]);
		if (n > 0 && (size_t)n < len - at)
			at += (size_t)n;
	}
	return total;
}

static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* n cold lookups of name: sm_resource_ref_init() reads the whole index
 * (one read) and scans it.  expect: the area, or -SM_ENO_RESOURCE. */
static int lookup_cold(struct opstat *s, const char *tag, struct sm_volume *vol, const char *name, int expect, int n)
{
	begin(s, tag, n);
	struct sm_disk_stats tot = {0}, d;
	for (int i = 0; i < n; i++) {
		struct sm_resource_ref ref;
		sm_disk_reset_global_stats();
		double t0 = now_us();
		int rc = sm_resource_ref_init(&ref, vol, name);
		s->lat_us[s->n++] = now_us() - t0;
		sm_disk_global_stats(&d);
		tot.reads += d.reads, tot.writes += d.writes, tot.bytes_read += d.bytes_read,
			tot.bytes_written += d.bytes_written;
		if (rc >= 0)
			rc = (int)ref.disk[0].area;
		if (rc != expect) {
			fprintf(stderr, "%s: '%s' resolved to %d (%s), expected %d\n", tag, name, rc,
				rc < 0 ? sm_strerror(rc) : "area", expect);
			return -1;
		}
	}
	s->io = tot;
	return 0;
}

/* n warm lookups: sm_index_find() in an index already loaded (no I/O). */
static int lookup_warm(struct opstat *s, const char *tag, const struct sm_index *idx, const char *name, int expect,
		       int n)
{
	begin(s, tag, n);
	for (int i = 0; i < n; i++) {
		double t0 = now_us();
		int rc = sm_index_find(idx, name);
		s->lat_us[s->n++] = now_us() - t0;
		if (rc != expect) {
			fprintf(stderr, "%s: '%s' resolved to %d, expected %d\n", tag, name, rc, expect);
			return -1;
		}
	}
	end_op(s);
	return 0;
}

static enum sm_owner_verdict all_alive(void *arg, uint32_t id, uint64_t gen, uint64_t read_done_ms)
{
	(void)arg;
	(void)id;
	(void)gen;
	(void)read_done_ms;
	return SM_OWNER_ALIVE;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"io-timeout", required_argument, NULL, 't'},
					   {"max-hosts", required_argument, NULL, 'm'},
					   {"iterations", required_argument, NULL, 'i'},
					   {"resources", required_argument, NULL, 'r'},
					   {"format-resources", required_argument, NULL, 'f'}, {0}};
	uint64_t d_ms = 10000;
	uint32_t max_hosts = SM_DEFAULT_MAX_HOSTS, resources = 1000, fmt_res = 2000;
	int iters = 300, c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 't')
			sm_parse_seconds_ms(optarg, 100, 600000, &d_ms);
		else if (c == 'm')
			max_hosts = (uint32_t)atoi(optarg);
		else if (c == 'i')
			iters = atoi(optarg);
		else if (c == 'r')
			resources = (uint32_t)atoi(optarg);
		else if (c == 'f')
			fmt_res = (uint32_t)atoi(optarg);
		else
			return 2;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: lease_bench DIR [--io-timeout SEC] [--max-hosts N] [--iterations N] "
				"[--resources N] [--format-resources N]\n");
		return 2;
	}
	if (iters < 1 || resources < 1 || fmt_res < 2) {
		fprintf(stderr, "lease_bench: --iterations and --resources must be >= 1, --format-resources >= 2\n");
		return 2;
	}
	if (fmt_res < resources + 1)
		fmt_res = resources + 1; /* the sequential run uses r1 .. r<resources> */
	sm_log_set_level(SM_LOG_ERROR);
	char path[512];
	snprintf(path, sizeof(path), "%s/lease_bench.vol", argv[optind]);
	/* r<fmt_res> is the name that is not in the index. */
	const char **names = calloc(fmt_res + 1, sizeof(char *));
	for (uint32_t i = 0; i < fmt_res + 1; i++) {
		char *n = malloc(16);
		snprintf(n, 16, "r%u", i);
		names[i] = n;
	}
	/* Every area named: the index is full. */
	struct sm_format_params p = {.lockspace = "bench", .max_hosts = max_hosts, .resources = fmt_res,
				     .io_timeout_ms = (uint32_t)d_ms, .force = true, .resource_names = names,
				     .resource_name_count = fmt_res};
	struct sm_disk_stats fmt_io;
	char sc_detail[512];
	unlink(path); /* always format a new file (a killed run leaves its volume) */
	sm_disk_reset_global_stats();
	syscalls_count_start();
	double c0 = cpu_s(), t0 = now_us();
	int rc = sm_volume_format(path, 0, &p, NULL);
	double fmt_s = (now_us() - t0) / 1e6, fmt_cpu = cpu_s() - c0;
	uint64_t fmt_sc = syscalls_count_stop(sc_detail, sizeof(sc_detail));
	sm_disk_global_stats(&fmt_io);
	if (rc < 0) {
		fprintf(stderr, "format: %s\n", sm_strerror(rc));
		return 1;
	}

	struct sm_lockspace *ls;
	if ((rc = sm_lockspace_open(path, 0, &ls)) < 0)
		return 1;
	struct opstat s;
	char dstr[16];
	printf("lease_bench: %s, max_hosts %u, io_timeout %s, %u-byte sectors, area %zu bytes\n", path, max_hosts,
	       sm_format_ms(d_ms, dstr, sizeof(dstr)), sm_lockspace_header(ls)->sector_size,
	       sm_volume_area_bytes(sm_lockspace_header(ls)));
	printf("  format of %u resources (all named, new file): %.3f s wall, %.3f s CPU; %llu I/Os (%llu reads, %llu "
	       "writes), %llu B read, %llu B written; %llu disk-layer syscalls (%s)\n",
	       fmt_res, fmt_s, fmt_cpu, (unsigned long long)(fmt_io.reads + fmt_io.writes),
	       (unsigned long long)fmt_io.reads, (unsigned long long)fmt_io.writes,
	       (unsigned long long)fmt_io.bytes_read, (unsigned long long)fmt_io.bytes_written,
	       (unsigned long long)fmt_sc, sc_detail);
	if (sc_nowait_reaps)
		printf("  format: %llu more io_getevents calls with a zero timeout (no syscall when nothing completed)\n",
		       (unsigned long long)sc_nowait_reaps);
	printf("ours.format.resources %u count\n", fmt_res);
	printf("ours.format.seconds %.3f s\n", fmt_s);
	printf("ours.format.cpu_seconds %.3f s\n", fmt_cpu);
	printf("ours.format.ios %llu count\n", (unsigned long long)(fmt_io.reads + fmt_io.writes));
	printf("ours.format.syscalls %llu count\n", (unsigned long long)fmt_sc);
	printf("ours.format.bytes_read %llu B\n", (unsigned long long)fmt_io.bytes_read);
	printf("ours.format.bytes_written %llu B\n", (unsigned long long)fmt_io.bytes_written);
	printf("  %-28s %6s  %5s  %5s  %10s  %8s  %9s  %9s\n", "operation", "n", "reads", "writes", "B read", "B written",
	       "median us", "p99 us");

	begin(&s, "join_free_slot", 1);
	struct sm_join_opts jo = {.host_id = 1, .host_name = "bench"};
	t0 = now_us();
	rc = sm_lockspace_join(ls, &jo);
	s.lat_us[s.n++] = now_us() - t0;
	end_op(&s);
	if (rc < 0) {
		fprintf(stderr, "join: %s\n", sm_strerror(rc));
		return 1;
	}
	report(&s);
	printf("ours.join_free_slot.seconds %.2f s\n", s.lat_us[0] / 1e6);

	begin(&s, "renewal", 20);
	for (int i = 0; i < 20; i++) {
		t0 = now_us();
		sm_lockspace_renew(ls);
		s.lat_us[s.n++] = now_us() - t0;
	}
	end_op(&s);
	report(&s);
	struct sm_timeouts to;
	sm_timeouts_derive((uint32_t)d_ms, SM_DEFAULT_WATCHDOG_MS, &to);
	printf("ours.idle_bytes_per_second %.1f B/s\n",
	       (double)(s.io.bytes_read + s.io.bytes_written) / s.n / (to.renew_ms / 1000.0));

	struct sm_volume *vol;
	if (sm_volume_open(path, 0, 0, &vol) < 0)
		return 1;
	struct sm_me me;
	sm_lockspace_me(ls, &me.host_id, &me.generation, NULL);
	struct sm_oracle live = {all_alive, NULL};
	struct sm_resource_ref r0;
	sm_resource_ref_init(&r0, vol, "r0");

	struct opstat acq, rel, sha, shr;
	struct sm_disk_stats a_io = {0}, r_io = {0}, sa_io = {0}, sr_io = {0}, tmp;
	begin(&acq, "acquire_ex_free", iters);
	begin(&rel, "release_ex", iters);
	begin(&sha, "acquire_sh_free", iters);
	begin(&shr, "release_sh", iters);
	struct sm_acquire_opts ex = {.mode = SM_MODE_EX, .live = live}, shm = {.mode = SM_MODE_SH, .live = live};
	for (int i = 0; i < iters; i++) {
		struct sm_lease l;
#define TIMED(stat, io, call)                                                                      \
	do {                                                                                       \
		sm_disk_reset_global_stats();                                                      \
		t0 = now_us();                                                                     \
		rc = (call);                                                                       \
		(stat).lat_us[(stat).n++] = now_us() - t0;                                         \
		sm_disk_global_stats(&tmp);                                                        \
		io.reads += tmp.reads, io.writes += tmp.writes, io.bytes_read += tmp.bytes_read,   \
			io.bytes_written += tmp.bytes_written;                                     \
		if (rc < 0) {                                                                      \
			fprintf(stderr, "%s: %s\n", (stat).name, sm_strerror(rc));                 \
			return 1;                                                                  \
		}                                                                                  \
	} while (0)
		TIMED(acq, a_io, sm_paxos_acquire(&r0, &me, &ex, &l));
		TIMED(rel, r_io, sm_paxos_release(&r0, &me, &l));
		TIMED(sha, sa_io, sm_paxos_acquire(&r0, &me, &shm, &l));
		TIMED(shr, sr_io, sm_paxos_release(&r0, &me, &l));
	}
	acq.io = a_io;
	rel.io = r_io;
	sha.io = sa_io;
	shr.io = sr_io;
	report(&acq);
	report(&rel);
	report(&sha);
	report(&shr);

	/* Name lookups in the full index: the last entry, a middle one, one
	 * that is not there (a full scan too). */
	{
		const char *lk_name[3] = {names[fmt_res - 1], names[fmt_res / 2], names[fmt_res]};
		int lk_area[3] = {(int)fmt_res - 1, (int)fmt_res / 2, -SM_ENO_RESOURCE};
		static const char *const cold_tag[3] = {"lookup_cold_last", "lookup_cold_middle", "lookup_cold_missing"};
		static const char *const warm_tag[3] = {"lookup_warm_last", "lookup_warm_middle", "lookup_warm_missing"};
		struct opstat lk;
		for (int k = 0; k < 3; k++) {
			if (lookup_cold(&lk, cold_tag[k], vol, lk_name[k], lk_area[k], iters) < 0)
				return 1;
			report(&lk);
		}
		struct sm_index *idx;
		if ((rc = sm_index_load(vol, &idx)) < 0) {
			fprintf(stderr, "index load: %s\n", sm_strerror(rc));
			return 1;
		}
		for (int k = 0; k < 3; k++) {
			if (lookup_warm(&lk, warm_tag[k], idx, lk_name[k], lk_area[k], iters) < 0)
				return 1;
			report(&lk);
		}
		sm_index_free(idx);
		printf("  lookups: index of %u entries x %d B, all used; cold = sm_resource_ref_init() (reads the whole "
		       "index), warm = sm_index_find() in a loaded index; last '%s', middle '%s', missing '%s'\n",
		       fmt_res, SM_INDEX_ENTRY_SIZE, lk_name[0], lk_name[1], lk_name[2]);
	}

	/* 1000 resources in a row, then released. */
	struct sm_resource_ref *refs = calloc(resources, sizeof(*refs));
	struct sm_lease *held = calloc(resources, sizeof(*held));
	for (uint32_t i = 0; i < resources; i++)
		sm_resource_ref_init(&refs[i], vol, names[i + 1]);
	sm_disk_reset_global_stats();
	t0 = now_us();
	for (uint32_t i = 0; i < resources; i++)
		if ((rc = sm_paxos_acquire(&refs[i], &me, &ex, &held[i])) < 0) {
			fprintf(stderr, "acquire %u: %s\n", i, sm_strerror(rc));
			return 1;
		}
	double acq_all = (now_us() - t0) / 1e6;
	sm_disk_global_stats(&tmp);
	t0 = now_us();
	for (uint32_t i = 0; i < resources; i++)
		sm_paxos_release(&refs[i], &me, &held[i]);
	double rel_all = (now_us() - t0) / 1e6;
	printf("  %u resources in a row: acquire %.2f s (%.0f/s, %.1f I/Os and %.0f B read each), release %.2f s "
	       "(%.0f/s)\n",
	       resources, acq_all, resources / acq_all, (double)(tmp.reads + tmp.writes) / resources,
	       (double)tmp.bytes_read / resources, rel_all, resources / rel_all);
	printf("ours.acquire_%u_sequential.per_second %.0f ops/s\n", resources, resources / acq_all);
	printf("ours.release_%u_sequential.per_second %.0f ops/s\n", resources, resources / rel_all);
	sm_lockspace_leave(ls);
	sm_volume_close(vol);
	sm_lockspace_free(ls);
	unlink(path);
	return 0;
}
