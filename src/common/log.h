/* Logging: one call, pluggable sink (stderr by default; the daemon may switch
 * to syslog).  Thread-safe; each message is written with one write(2).
 * sm_log() leaves errno as it found it. */
#ifndef SM_COMMON_LOG_H
#define SM_COMMON_LOG_H

#include <stddef.h>

enum sm_log_level { SM_LOG_ERROR = 0, SM_LOG_WARN, SM_LOG_INFO, SM_LOG_DEBUG };

typedef void (*sm_log_sink_fn)(enum sm_log_level level, const char *msg, void *arg);

void sm_log_set_level(enum sm_log_level level);
enum sm_log_level sm_log_get_level(void);
/* Parse "error|warn|info|debug"; returns level or -1. */
int sm_log_parse_level(const char *s);
/* sink NULL restores stderr.  prefix is printed before each stderr line. */
void sm_log_set_sink(sm_log_sink_fn sink, void *arg);
void sm_log_set_prefix(const char *prefix);
/* Use syslog(3) with the given ident. */
void sm_log_use_syslog(const char *ident);

/* Capture this thread's log (the library's connectionless calls, which must
 * not print in their caller's process): while buf is set, nothing this thread
 * logs is printed or sent to the sink; the first error logged is kept in buf
 * (len bytes, NUL-terminated).  buf NULL ends the capture. */
void sm_log_capture(char *buf, size_t len);

void sm_log(enum sm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sm_error(...) sm_log(SM_LOG_ERROR, __VA_ARGS__)
#define sm_warn(...) sm_log(SM_LOG_WARN, __VA_ARGS__)
#define sm_info(...) sm_log(SM_LOG_INFO, __VA_ARGS__)
#define sm_debug(...)                                        \
	do {                                                 \
		if (sm_log_get_level() >= SM_LOG_DEBUG)      \
			sm_log(SM_LOG_DEBUG, __VA_ARGS__);   \
	} while (0)

#endif
