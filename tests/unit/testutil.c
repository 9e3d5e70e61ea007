#include "testutil.h"

#include "common/clock.h"
#include "common/log.h"
#include "disk/fault.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILES 64
static char *files[MAX_FILES];
void (*tu_sleep_hook)(void);
static int nfiles;

const char *tu_temp_file(const char *tag, uint64_t size)
{
	const char *dir = getenv("SM_TEST_TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	mkdir(dir, 0755);
	char path[512];
	snprintf(path, sizeof(path), "%s/%s.%d.%d", dir, tag, (int)getpid(), nfiles);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return NULL;
	if (size && ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return NULL;
	}
	close(fd);
	if (nfiles < MAX_FILES)
		files[nfiles++] = strdup(path);
	return files[nfiles - 1];
}

void tu_cleanup_files(void)
{
	for (int i = 0; i < nfiles; i++) {
		unlink(files[i]);
		free(files[i]);
	}
	nfiles = 0;
}

void tu_reset_faults(void)
{
	sm_fault_reset();
	sm_clock = sm_clock_default;
	tu_sleep_hook = NULL;
	sm_log_set_level(SM_LOG_ERROR);
}

static uint64_t fake_now = 1000000;

static uint64_t fake_mono(void) { return fake_now; }
static int fake_sleep(uint64_t ms)
{
	if (tu_sleep_hook)
		tu_sleep_hook();
	fake_now += ms;
	return 0;
}

void tu_fake_clock_install(void)
{
	sm_clock.monotonic_ms = fake_mono;
	sm_clock.boottime_ms = fake_mono;
	sm_clock.sleep_ms = fake_sleep;
	tu_sleep_hook = NULL;
}

void tu_fake_clock_advance(uint64_t ms) { fake_now += ms; }
uint64_t tu_fake_clock_now(void) { return fake_now; }
