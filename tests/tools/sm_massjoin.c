/* sm_massjoin: N hosts join one lockspace at the same moment (issue 19,
 * "mass joins do not fail").
 *
 * Every host is a thread of this process with its own lockspace handle (its
 * own file descriptor and AIO context on the volume, as a separate host has),
 * a distinct host name and, unless --by-name, host_id = its index + 1 (as
 * sm_torture emulates hosts without daemons).  The threads wait on a barrier
 * and call sm_lockspace_join() together (--spread-ms: each first sleeps a
 * random time below it).  A host that joined renews every R, as a daemon's
 * renewal thread would, until every join has ended and --hold-ms more have
 * passed; then it leaves.
 *
 * --slow-reads MS makes every read of the volume take MS ms per MiB before
 * it is carried out, counted against its timeout (SM_FAULT_SLOW in
 * src/disk/fault.h): a LUN shared by many hosts, on which a read of the
 * whole host area misses io_timeout.
 *
 * It prints one line of figures: joins succeeded and failed (by error),
 * join time p50 / p99 / max, bytes read and reads per join, renewals and
 * renewal failures.  Exit status: 0 when every host joined and no renewal
 * failed (or --no-check), 1 when some did not, 2 on a usage or setup error. */
#include "common/clock.h"
#include "common/log.h"
#include "disk/disk.h"
#include "disk/fault.h"
#include "lease/delta.h"
#include "lease/timeouts.h"
#include "ondisk/volume.h"
#include "sync_manager/errors.h"

#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HOSTS_RUN 2000
#define MAX_ERR_KINDS 8

static struct {
	const char *volume;
	int hosts;
	unsigned max_hosts, io_timeout_ms, watchdog_ms, slow_ms_per_mib, spread_ms, hold_ms;
	bool by_name, no_format, no_check;
} opt = {.hosts = 128, .max_hosts = 2000, .io_timeout_ms = 1000, .watchdog_ms = 3000, .hold_ms = 0};

struct host {
	int idx;
	pthread_t th;
	int rc;               /* of the join */
	uint64_t join_ms;     /* from the barrier to the join's return */
	uint64_t bytes_read, reads;
	uint64_t renewals, renew_failures;
	int first_renew_err;
};

static struct host *hosts;
static pthread_barrier_t start_line;
static atomic_int joins_ended;
static _Atomic uint64_t all_ended_ms; /* when the last join ended (0: not yet) */

static void usage(void)
{
	fprintf(stderr,
		"usage: sm_massjoin --volume PATH [--hosts N] [--max-hosts M] [--io-timeout-ms D]\n"
		"                   [--watchdog-ms W] [--by-name] [--slow-reads MS_PER_MIB] [--spread-ms MS]\n"
		"                   [--hold-ms MS] [--no-format] [--no-check]\n"
		"  --volume PATH        volume file, formatted here with max_hosts M (default 2000), io_timeout D\n"
		"                       (default 1000 ms), watchdog W (default 3000 ms), unless --no-format\n"
		"  --hosts N            hosts joining at once (default 128, at most %d)\n"
		"  --by-name            join by host name (host_id 0) instead of host_id = index + 1\n"
		"  --slow-reads MS      every read of the volume takes MS ms per MiB before it is done\n"
		"  --spread-ms MS       each host first sleeps a random time below MS (default 0)\n"
		"  --hold-ms MS         joined hosts keep renewing this long after the last join ends\n"
		"                       (default 2R)\n"
		"  --no-check           exit 0 even if some join or renewal failed\n"
		"exit status: 0 every host joined and renewed, 1 some did not, 2 usage or setup error\n",
		MAX_HOSTS_RUN);
}

static uint64_t read_bytes(struct sm_lockspace *ls, uint64_t *reads)
{
	struct sm_disk_stats st;
	sm_disk_get_stats(sm_lockspace_volume(ls)->disk, &st);
	*reads = st.reads;
	return st.bytes_read;
}

/* Renew every R until the last join ended hold_ms ago. */
static void keep_renewing(struct host *h, struct sm_lockspace *ls, unsigned renew_ms)
{
	for (;;) {
		uint64_t end = atomic_load(&all_ended_ms);
		if (end && sm_now_mono_ms() >= end + opt.hold_ms)
			return;
		sm_sleep_ms(renew_ms);
		int rc = sm_lockspace_renew(ls);
		if (rc == 0) {
			h->renewals++;
		} else {
			if (!h->renew_failures)
				h->first_renew_err = rc;
			h->renew_failures++;
			if (rc == -SM_ELOCKSPACE_LOST)
				return;
		}
	}
}

static void *host_main(void *arg)
{
	struct host *h = arg;
	struct sm_lockspace *ls = NULL;
	h->rc = sm_lockspace_open(opt.volume, 0, &ls);
	pthread_barrier_wait(&start_line);
	if (h->rc == 0) {
		char name[64];
		snprintf(name, sizeof(name), "massjoin-%04d", h->idx);
		struct sm_join_opts jo = {.host_id = opt.by_name ? 0 : (uint32_t)h->idx + 1, .host_name = name};
		uint64_t r0, b0 = read_bytes(ls, &r0);
		uint64_t t0 = sm_now_mono_ms();
		if (opt.spread_ms)
			sm_sleep_ms((uint64_t)(random() % opt.spread_ms));
		h->rc = sm_lockspace_join(ls, &jo);
		h->join_ms = sm_now_mono_ms() - t0;
		uint64_t r1, b1 = read_bytes(ls, &r1);
		h->bytes_read = b1 - b0;
		h->reads = r1 - r0;
	}
	if (atomic_fetch_add(&joins_ended, 1) + 1 == opt.hosts)
		atomic_store(&all_ended_ms, sm_now_mono_ms());
	if (h->rc == 0) {
		struct sm_lockspace_info info;
		sm_lockspace_info(ls, &info);
		keep_renewing(h, ls, info.to.renew_ms);
		sm_lockspace_leave(ls);
	}
	sm_lockspace_free(ls);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int format_volume(void)
{
	struct sm_format_params p = {.lockspace = "massjoin", .max_hosts = opt.max_hosts, .resources = 1,
				     .io_timeout_ms = opt.io_timeout_ms, .watchdog_timeout_ms = opt.watchdog_ms,
				     .force = true};
	int rc = sm_volume_format(opt.volume, 0, &p, NULL);
	if (rc < 0)
		fprintf(stderr, "sm_massjoin: cannot format %s: %s\n", opt.volume, sm_strerror(rc));
	return rc;
}

static bool parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{"volume", required_argument, NULL, 'v'},     {"hosts", required_argument, NULL, 'n'},
		{"max-hosts", required_argument, NULL, 'm'},  {"io-timeout-ms", required_argument, NULL, 'd'},
		{"watchdog-ms", required_argument, NULL, 'w'}, {"by-name", no_argument, NULL, 'b'},
		{"slow-reads", required_argument, NULL, 's'}, {"spread-ms", required_argument, NULL, 'j'},
		{"hold-ms", required_argument, NULL, 'h'},    {"no-format", no_argument, NULL, 'F'},
		{"no-check", no_argument, NULL, 'C'},         {0}};
	int c;
	bool hold_given = false;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'v': opt.volume = optarg; break;
		case 'n': opt.hosts = atoi(optarg); break;
		case 'm': opt.max_hosts = (unsigned)atoi(optarg); break;
		case 'd': opt.io_timeout_ms = (unsigned)atoi(optarg); break;
		case 'w': opt.watchdog_ms = (unsigned)atoi(optarg); break;
		case 'b': opt.by_name = true; break;
		case 's': opt.slow_ms_per_mib = (unsigned)atoi(optarg); break;
		case 'j': opt.spread_ms = (unsigned)atoi(optarg); break;
		case 'h': opt.hold_ms = (unsigned)atoi(optarg); hold_given = true; break;
		case 'F': opt.no_format = true; break;
		case 'C': opt.no_check = true; break;
		default: return false;
		}
	}
	if (!hold_given)
		opt.hold_ms = 4 * opt.io_timeout_ms; /* 2R */
	if (!opt.volume || opt.hosts < 1 || opt.hosts > MAX_HOSTS_RUN || (unsigned)opt.hosts > opt.max_hosts) {
		fprintf(stderr, "sm_massjoin: give --volume, and 1 <= --hosts <= min(%d, --max-hosts)\n", MAX_HOSTS_RUN);
		return false;
	}
	return true;
}

/* Tally of join errors by code, for the report. */
static void print_errors(void)
{
	int codes[MAX_ERR_KINDS], counts[MAX_ERR_KINDS], n = 0;
	for (int i = 0; i < opt.hosts; i++) {
		if (hosts[i].rc == 0)
			continue;
		int k = 0;
		while (k < n && codes[k] != hosts[i].rc)
			k++;
		if (k == n && n < MAX_ERR_KINDS) {
			codes[n] = hosts[i].rc;
			counts[n++] = 0;
		}
		if (k < n)
			counts[k]++;
	}
	for (int k = 0; k < n; k++)
		printf("massjoin: %d joins failed with %s (%s)\n", counts[k], sm_errname(codes[k]), sm_strerror(codes[k]));
}

int main(int argc, char **argv)
{
	if (!parse_args(argc, argv)) {
		usage();
		return 2;
	}
	sm_log_set_level(SM_LOG_ERROR);
	if (!opt.no_format && format_volume() < 0)
		return 2;
	if (opt.slow_ms_per_mib) {
		struct sm_fault_rule r = {.op = SM_FAULT_READ, .kind = SM_FAULT_SLOW, .slow_ms_per_mib = opt.slow_ms_per_mib};
		sm_fault_add(&r);
	}
	srandom((unsigned)sm_now_mono_ms());
	hosts = calloc((size_t)opt.hosts, sizeof(*hosts));
	if (!hosts || pthread_barrier_init(&start_line, NULL, (unsigned)opt.hosts) != 0)
		return 2;
	for (int i = 0; i < opt.hosts; i++) {
		hosts[i].idx = i;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, 256 * 1024);
		if (pthread_create(&hosts[i].th, &a, host_main, &hosts[i]) != 0) {
			fprintf(stderr, "sm_massjoin: cannot start host thread %d\n", i);
			return 2;
		}
		pthread_attr_destroy(&a);
	}
	for (int i = 0; i < opt.hosts; i++)
		pthread_join(hosts[i].th, NULL);

	uint64_t *ms = calloc((unsigned)opt.hosts, sizeof(*ms));
	int ok = 0;
	uint64_t bytes = 0, bytes_max = 0, reads = 0, renewals = 0, renew_fail = 0;
	for (int i = 0; i < opt.hosts; i++) {
		const struct host *h = &hosts[i];
		if (h->rc == 0)
			ms[ok++] = h->join_ms;
		bytes += h->bytes_read;
		reads += h->reads;
		bytes_max = h->bytes_read > bytes_max ? h->bytes_read : bytes_max;
		renewals += h->renewals;
		renew_fail += h->renew_failures;
	}
	qsort(ms, (size_t)ok, sizeof(*ms), cmp_u64);
	printf("massjoin: %d hosts on max_hosts %u at d = %u ms%s%s: %d joined, %d failed; join ms p50 %llu p99 %llu "
	       "max %llu; read per join %llu bytes avg (max %llu) in %.1f reads; renewals %llu, failed %llu\n",
	       opt.hosts, opt.max_hosts, opt.io_timeout_ms, opt.by_name ? ", by name" : "",
	       opt.slow_ms_per_mib ? ", slow reads" : "", ok, opt.hosts - ok,
	       (unsigned long long)(ok ? ms[(ok - 1) / 2] : 0), (unsigned long long)(ok ? ms[(ok * 99 - 1) / 100] : 0),
	       (unsigned long long)(ok ? ms[ok - 1] : 0), (unsigned long long)(bytes / (uint64_t)opt.hosts),
	       (unsigned long long)bytes_max, (double)reads / opt.hosts, (unsigned long long)renewals,
	       (unsigned long long)renew_fail);
	print_errors();
	for (int i = 0, shown = 0; i < opt.hosts && shown < 3; i++)
		if (hosts[i].renew_failures && ++shown)
			printf("massjoin: host %d: %llu renewal(s) failed, first with %s\n", i,
			       (unsigned long long)hosts[i].renew_failures, sm_errname(hosts[i].first_renew_err));
	free(ms);
	free(hosts);
	pthread_barrier_destroy(&start_line);
	bool all = ok == opt.hosts && renew_fail == 0;
	return all || opt.no_check ? 0 : 1;
}
