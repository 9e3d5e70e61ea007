/* Helpers shared by the unit tests. */
#ifndef SM_TESTUTIL_H
#define SM_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* A fresh scratch file path under $SM_TEST_TMPDIR (or /tmp); removed by
 * tu_cleanup_files().  The file is created empty when size is 0, or sized. */
const char *tu_temp_file(const char *tag, uint64_t size);
void tu_cleanup_files(void);

/* Reset fault rules and the disk syscall table. */
void tu_reset_faults(void);

/* A fake monotonic/boot clock: sleeping advances it instantly.  Every call
 * to sleep first runs tu_sleep_hook (if set), so a test can make another
 * "host" act while this one waits. */
void tu_fake_clock_install(void);
void tu_fake_clock_advance(uint64_t ms);
uint64_t tu_fake_clock_now(void);
extern void (*tu_sleep_hook)(void);
#endif
