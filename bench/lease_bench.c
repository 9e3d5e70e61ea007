/* Lease-library benchmark: I/O count, bytes and latency per operation, on a
 * volume file on the local disk.  Prints figures; asserts nothing.
 *
 *   lease_bench DIR [--io-timeout SEC] [--max-hosts N] [--iterations N] [--resources N]
 *
 * Output lines "ours.<metric> <value> <unit>" are machine-readable (bench/run
 * puts them beside sanlock's). */
#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "disk/disk.h"
#include "lease/delta.h"
#include "lease/paxos.h"
#include "lease/resource.h"
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
					   {"resources", required_argument, NULL, 'r'}, {0}};
	uint64_t d_ms = 10000;
	uint32_t max_hosts = SM_DEFAULT_MAX_HOSTS, resources = 1000;
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
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: lease_bench DIR [--io-timeout SEC] [--max-hosts N] [--iterations N]\n");
		return 2;
	}
	sm_log_set_level(SM_LOG_ERROR);
	char path[512];
	snprintf(path, sizeof(path), "%s/lease_bench.vol", argv[optind]);
	const char **names = calloc(resources + 1, sizeof(char *));
	for (uint32_t i = 0; i < resources + 1; i++) {
		char *n = malloc(16);
		snprintf(n, 16, "r%u", i);
		names[i] = n;
	}
	struct sm_format_params p = {.lockspace = "bench", .max_hosts = max_hosts, .resources = resources + 1,
				     .io_timeout_ms = (uint32_t)d_ms, .force = true, .resource_names = names,
				     .resource_name_count = resources + 1};
	double t0 = now_us();
	int rc = sm_volume_format(path, 0, &p, NULL);
	if (rc < 0) {
		fprintf(stderr, "format: %s\n", sm_strerror(rc));
		return 1;
	}
	double fmt_ms = (now_us() - t0) / 1000;

	struct sm_lockspace *ls;
	if ((rc = sm_lockspace_open(path, 0, &ls)) < 0)
		return 1;
	struct opstat s;
	char dstr[16];
	printf("lease_bench: %s, max_hosts %u, io_timeout %s, %u-byte sectors, area %zu bytes; format of %u resources "
	       "took %.0f ms\n",
	       path, max_hosts, sm_format_ms(d_ms, dstr, sizeof(dstr)), sm_lockspace_header(ls)->sector_size,
	       sm_volume_area_bytes(sm_lockspace_header(ls)), resources + 1, fmt_ms);
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
