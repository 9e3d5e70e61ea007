#include "clock.h"

#include <errno.h>
#include <time.h>

static uint64_t clk_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t mono_ms(void) { return clk_ms(CLOCK_MONOTONIC); }
static uint64_t boot_ms(void) { return clk_ms(CLOCK_BOOTTIME); }

static int sleep_ms(uint64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	return rc == 0 ? 0 : -rc;
}

const struct sm_clock_ops sm_clock_default = {mono_ms, boot_ms, sleep_ms};
struct sm_clock_ops sm_clock = {mono_ms, boot_ms, sleep_ms};

uint64_t sm_now_wall_s(void)
{
	return (uint64_t)time(NULL);
}
