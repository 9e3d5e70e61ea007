/* diskceiling FILE STREAMS COUNT: the most lease releases this storage
 * could do, whatever the lease manager.
 *
 * A release of an exclusive lease is one 512-byte read of the leader (to
 * check it is still ours) and one 512-byte write of it, which must be on
 * stable storage before the release is reported (sync_manager and sanlock
 * both do exactly this).  STREAMS threads each do COUNT such read+write
 * pairs back to back, O_DIRECT|O_DSYNC on their own fd and their own
 * sectors of FILE (which must exist, written, and be >= STREAMS MiB).
 * Prints "pairs_per_second N" and "pair_latency_us N" (mean).
 *
 * bench/measure.sh prints the result next to the release-rate rows: a
 * release rate target above this ceiling cannot be met on this storage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SECTOR 512
#define SPAN (1 << 20) /* bytes of FILE per stream */

static const char *path;
static long count;

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *stream(void *arg)
{
	long id = (long)arg;
	int fd = open(path, O_RDWR | O_DIRECT | O_DSYNC | O_CLOEXEC);
	void *buf = NULL;
	if (fd < 0 || posix_memalign(&buf, 4096, SECTOR) != 0) {
		fprintf(stderr, "diskceiling: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	for (long k = 0; k < count; k++) {
		off_t off = (off_t)id * SPAN + (off_t)(k % (SPAN / SECTOR)) * SECTOR;
		if (pread(fd, buf, SECTOR, off) != SECTOR || pwrite(fd, buf, SECTOR, off) != SECTOR) {
			fprintf(stderr, "diskceiling: I/O on %s failed: %s\n", path, strerror(errno));
			exit(1);
		}
	}
	free(buf);
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4 || atol(argv[2]) < 1 || atol(argv[2]) > 64 || atol(argv[3]) < 1) {
		fprintf(stderr, "usage: diskceiling FILE STREAMS(1..64) COUNT\n");
		return 2;
	}
	path = argv[1];
	long streams = atol(argv[2]);
	count = atol(argv[3]);
	pthread_t t[64];
	double t0 = now_s();
	for (long i = 0; i < streams; i++)
		if (pthread_create(&t[i], NULL, stream, (void *)i) != 0) {
			fprintf(stderr, "diskceiling: cannot start a thread\n");
			return 1;
		}
	for (long i = 0; i < streams; i++)
		pthread_join(t[i], NULL);
	double dt = now_s() - t0;
	printf("pairs_per_second %.0f\n", (double)(streams * count) / dt);
	printf("pair_latency_us %.1f\n", dt / (double)count * 1e6);
	return 0;
}
