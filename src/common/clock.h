/* Clocks, through an overridable table so tests can drive time.
 *
 * DESIGN §2: intervals are measured only on CLOCK_MONOTONIC; a lease holder's
 * own expiry deadline on CLOCK_BOOTTIME (a suspended host must not wake up
 * believing its leases are fresh).  Timestamps written by other hosts are
 * never compared with these clocks, only checked for change. */
#ifndef SM_COMMON_CLOCK_H
#define SM_COMMON_CLOCK_H

#include <stdint.h>

struct sm_clock_ops {
	uint64_t (*monotonic_ms)(void);
	uint64_t (*boottime_ms)(void);
	/* Sleep for ms on the monotonic clock; returns 0 or -EINTR. */
	int (*sleep_ms)(uint64_t ms);
};

extern struct sm_clock_ops sm_clock;
extern const struct sm_clock_ops sm_clock_default;

static inline uint64_t sm_now_mono_ms(void) { return sm_clock.monotonic_ms(); }
static inline uint64_t sm_now_boot_ms(void) { return sm_clock.boottime_ms(); }
static inline int sm_sleep_ms(uint64_t ms) { return sm_clock.sleep_ms(ms); }

/* Wall-clock seconds, for display only (never for lease decisions). */
uint64_t sm_now_wall_s(void);

#endif
