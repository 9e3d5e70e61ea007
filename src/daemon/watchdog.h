/* sync_managerd: the watchdog (watchdog.c decides when to arm, pet and
 * disarm; wdmd.c is the wdmd backend).  They own d's wd_* fields. */
#ifndef SM_DAEMON_WATCHDOG_H
#define SM_DAEMON_WATCHDOG_H

#include "daemon.h"

int watchdog_open(struct daemon *d);
/* Arm or pet the watchdog when the rule allows (DESIGN §2).  Returns when
 * it must run again (mono_ms()): the next pet, each SM_POLL_MS in a
 * last-chance window or while petting is refused, or SM_NO_DEADLINE. */
uint64_t watchdog_tick(struct daemon *d);
void watchdog_close(struct daemon *d, bool disarm);
const char *watchdog_describe(struct daemon *d);
bool watchdog_unprotected(const struct daemon *d);
const char *watchdog_join_refusal(const struct daemon *d);
int watchdog_check_join(struct daemon *d, const char *location);

/* wdmd.c: the wdmd backend (watchdog.c decides when; this talks to wdmd). */
bool wdmd_available(void);
bool wdmd_running(void);
int wdmd_arm(struct daemon *d);
int wdmd_pet(struct daemon *d, int64_t in_ms);
void wdmd_close(struct daemon *d, bool disarm);

#endif
