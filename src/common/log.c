#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static enum sm_log_level log_level = SM_LOG_WARN;
static sm_log_sink_fn log_sink;
static void *log_sink_arg;
static char log_prefix[64];
static _Thread_local char *capture_buf;
static _Thread_local size_t capture_len;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void sm_log_set_level(enum sm_log_level level) { log_level = level; }
enum sm_log_level sm_log_get_level(void) { return log_level; }

int sm_log_parse_level(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	if (strcasecmp(s, "warning") == 0)
		return SM_LOG_WARN;
	return -1;
}

void sm_log_set_sink(sm_log_sink_fn sink, void *arg)
{
	log_sink = sink;
	log_sink_arg = arg;
}

void sm_log_set_prefix(const char *prefix)
{
	snprintf(log_prefix, sizeof(log_prefix), "%s", prefix ? prefix : "");
}

static void syslog_sink(enum sm_log_level level, const char *msg, void *arg)
{
	(void)arg;
	static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
	syslog(prio[level], "%s", msg);
}

void sm_log_use_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	sm_log_set_sink(syslog_sink, NULL);
}

static void write_line(enum sm_log_level level, const char *msg)
{
	char line[1200];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	localtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s%s%s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
			 ts.tv_nsec / 1000000, log_prefix, log_prefix[0] ? " " : "", level_names[level], msg);
	if (n > (int)sizeof(line))
		n = sizeof(line);
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

void sm_log_capture(char *buf, size_t len)
{
	capture_buf = len ? buf : NULL;
	capture_len = len;
	if (capture_buf)
		capture_buf[0] = '\0';
}

/* errno is saved and restored: callers log a failure, then return -errno. */
void sm_log(enum sm_log_level level, const char *fmt, ...)
{
	if (level > log_level)
		return;
	int saved_errno = errno;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (capture_buf) {
		if (level == SM_LOG_ERROR && !capture_buf[0])
			snprintf(capture_buf, capture_len, "%s", msg);
	} else if (log_sink) {
		log_sink(level, msg, log_sink_arg);
	} else {
		write_line(level, msg);
	}
	errno = saved_errno;
}
