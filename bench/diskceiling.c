/* diskceiling FILE STREAMS COUNT [WRITES]: the most lease releases this
 * storage could do, whatever the lease manager.
 *
 * A release of an exclusive lease is one 512-byte read (to check it is
 * still ours) and 512-byte writes that must be on stable storage before
 * the release is reported: sanlock writes the leader (WRITES = 1, the
 * default); sync_manager writes its release marker, then the leader
 * (WRITES = 2, docs/algorithms.md section 2).  STREAMS threads each do
 * COUNT such operations back to back, O_DIRECT|O_DSYNC on their own fd and
 * their own sectors of FILE (which must exist, written, and be >= STREAMS
 * MiB); the writes of one operation go to distinct sectors, one after the
 * other.  Prints "pairs_per_second N" (operations per second, whatever
 * WRITES is) and "pair_latency_us N" (mean).
 *
 * bench/measure.sh prints the result next to the release-rate rows: a
 * release rate target above this ceiling cannot be met on this storage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SECTOR 512
#define SPAN (1 << 20) /* bytes of FILE per stream */

static const char *path;
static long count;
static long writes = 1;

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
		off_t off = (off_t)id * SPAN + (off_t)(k % (SPAN / SECTOR / writes)) * SECTOR * writes;
		bool ok = pread(fd, buf, SECTOR, off) == SECTOR;
		for (long w = writes - 1; ok && w >= 0; w--)
			ok = pwrite(fd, buf, SECTOR, off + w * SECTOR) == SECTOR;
		if (!ok) {
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
	if (argc < 4 || argc > 5 || atol(argv[2]) < 1 || atol(argv[2]) > 64 || atol(argv[3]) < 1 ||
	    (argc == 5 && (atol(argv[4]) < 1 || atol(argv[4]) > 8))) {
		fprintf(stderr, "usage: diskceiling FILE STREAMS(1..64) COUNT [WRITES(1..8), default 1]\n");
		return 2;
	}
	if (argc == 5)
		writes = atol(argv[4]);
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
