/* sync_managerd: which area of a volume holds which resource, remembered
 * for all disk workers (names.c; thread-safe, one mutex).
 *
 * Loading a volume's index (one read of the whole index) records every
 * name in it, so later lookups of any resource of that volume, by any
 * worker, read nothing.  A stale entry is safe: a removed area is marked in
 * its leader and a reused one names another resource, so acquiring through
 * it fails with NO_RESOURCE or WRONG_RESOURCE, and the caller drops the
 * volume's names (names_drop_volume) and loads them again. */
#ifndef SM_DAEMON_NAMES_H
#define SM_DAEMON_NAMES_H

#include <stdbool.h>
#include <stdint.h>

struct sm_volume;

void names_put(const char *location, const char *name, uint32_t area);
/* true and *area if the name is known on that volume. */
bool names_get(const char *location, const char *name, uint32_t *area);
void names_drop_volume(const char *location);
/* Read v's index (at location) and remember every name in it: 0 or a
 * negative SM_* error. */
int names_load(struct sm_volume *v, const char *location);
/* At shutdown, once no worker runs. */
void names_free_all(void);

#endif
