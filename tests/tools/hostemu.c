/*
 * sync_manager-hostemu: the "init" of an emulated host, with a watchdog.
 *
 * Machines used for tests and demos have no /dev/watchdog, so a host reset is
 * emulated: an emulated host is a PID namespace, and this program is its PID 1:
 *
 *   unshare --pid --fork --mount-proc -- sync_manager-hostemu --run-dir DIR \
 *       [--name NAME] [--exit-with-command] [-- COMMAND ARGS...]
 *
 * When the watchdog is armed and not petted for more than W ms, it "resets the
 * host": kill(-1, SIGKILL) (from a namespace's PID 1 that reaches every other
 * process of the namespace and of namespaces below it, nothing outside), then
 * exit(137).  Once a namespace's init has exited and been reaped, the kernel
 * guarantees every process of the namespace is gone.
 *
 * Watchdog protocol (mimics /dev/watchdog so sync_managerd can treat both
 * backends alike).  Unix stream socket DIR/watchdog.sock; newline-terminated
 * ASCII lines, at most LINE_MAX_LEN bytes before the newline, an optional
 * trailing '\r' is ignored.  Every line gets exactly one reply line:
 *   arm <timeout_ms>  arm or re-arm with W = timeout_ms (1..86400000); pets.  -> ok
 *   pet               reset the countdown (error if not armed)              -> ok
 *   disarm            the "magic close" ('V' before close): disarms         -> ok
 *   status            -> armed <0|1> timeout_ms <W> since_pet_ms <N> fired <0|1>
 *   anything else     -> error <reason>
 * Closing a connection without "disarm" leaves the watchdog armed and counting
 * from the last pet (like closing /dev/watchdog without 'V'), so a SIGKILLed
 * daemon still leads to a reset.  Any connection's pet counts.  A pet, arm or
 * disarm that arrives after the deadline has passed is too late: it fires.
 *
 * Also: DIR/hostemu.ready appears once the socket listens; DIR/hostemu.log gets
 * every arm, disarm, close-without-disarm, command exit, power-off and reset,
 * each prefixed with "[<CLOCK_MONOTONIC ms> ms]".  SIGTERM/SIGINT power the
 * host off: SIGTERM to all, up to 5 s grace, SIGKILL to the rest, exit 0.
 *
 * Safety: refuses to start (exit 2) unless getpid() == 1, so kill(-1) can never
 * hit a real host's processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
	LINE_MAX_LEN = 127,          /* longest accepted command, without '\n' */
	IN_CAP = LINE_MAX_LEN + 1,   /* input buffer: one full line and its '\n' */
	REPLY_MAX = 128,             /* no reply line is longer than this */
	OUT_CAP = 4096,              /* pending replies per client */
	MAX_CLIENTS = 1000,
	READS_PER_WAKEUP = 16,       /* fairness between clients */
	POLL_MS = 50,                /* loop tick while armed or powering off */
	POWEROFF_GRACE_MS = 5000,
	EXIT_USAGE = 2,
	EXIT_RESET = 137,            /* like a shell reporting SIGKILL */
};
#define ARM_MAX_MS 86400000ULL       /* 24 h */
#define NS_PER_MS 1000000ULL

/* Everything registered with epoll starts with this, so data.ptr tells which. */
enum src_kind { SRC_LISTEN, SRC_SIGNAL, SRC_TIMER, SRC_CLIENT };
struct source {
	enum src_kind kind;
	int fd;
};

struct client {
	struct source src;   /* first member: epoll's data.ptr points here */
	unsigned id;
	pid_t pid;           /* from SO_PEERCRED, for the log only */
	uint32_t events;     /* current epoll interest */
	bool eof;            /* peer shut down its writing side */
	bool dead;           /* peer gone (send failed): replies are dropped */
	bool discarding;     /* inside an over-long line, skipping to its '\n' */
	bool used;           /* sent arm or pet */
	bool disarmed;       /* its last watchdog command was disarm */
	size_t in_len, out_len;
	char in[IN_CAP];
	char out[OUT_CAP];
};

static struct {
	const char *run_dir, *name;
	char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char ready_path[PATH_MAX], log_path[PATH_MAX];
	bool owns_files; /* the socket and ready file are ours to remove */
	int epfd, log_fd, reserve_fd;
	struct source lsn, sig, tmr;
	sigset_t orig_mask;

	/* Watchdog state: armed means "fire if now - last_pet > timeout". */
	bool armed, fired;
	uint64_t timeout_ms, last_pet_ns;
	bool ever_petted;

	unsigned nclients, next_id, max_clients;
	pid_t cmd_pid;
	bool exit_with_command;
	bool powering_off;
	uint64_t poweroff_deadline_ns;
	int exit_code;
} g = {.epfd = -1, .log_fd = -1, .reserve_fd = -1};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* One line to DIR/hostemu.log (and to stderr if asked), written with a single
 * write() so concurrent writers do not interleave inside a line. */
__attribute__((format(printf, 2, 3)))
static void logmsg(bool to_stderr, const char *fmt, ...)
{
	char msg[512], line[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	int n = snprintf(line, sizeof line, "hostemu %s: %s\n", g.name, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1;
	if (to_stderr && write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nobody to tell */
	}
	if (g.log_fd >= 0) {
		char stamped[640];
		int m = snprintf(stamped, sizeof stamped, "[%llu ms] %.*s",
				 (unsigned long long)(now_ns() / NS_PER_MS), n, line);
		if (m > 0 && write(g.log_fd, stamped, (size_t)m < sizeof stamped ? (size_t)m : sizeof stamped - 1) < 0) {
			/* the log is best effort */
		}
	}
}

static void remove_files(void);

/* Setup failure before anything runs in the namespace. */
__attribute__((format(printf, 1, 2), noreturn))
static void fail(const char *fmt, ...)
{
	va_list ap;
	remove_files(); /* no ready file may promise a watchdog that is not there */
	fprintf(stderr, "hostemu: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void remove_files(void)
{
	if (!g.owns_files) /* they may belong to another, live hostemu */
		return;
	unlink(g.ready_path);
	unlink(g.sock_path);
}

/* ---- host reset and power-off ---------------------------------------- */

/* The emulated reset: every other process of the namespace dies at once. */
__attribute__((noreturn))
static void reset_host(int code)
{
	kill(-1, SIGKILL);
	remove_files();
	if (g.log_fd >= 0)
		fdatasync(g.log_fd);
	exit(code);
}

static void poweroff_begin(int code, const char *why)
{
	if (g.powering_off)
		return;
	g.powering_off = true;
	g.exit_code = code;
	g.poweroff_deadline_ns = now_ns() + POWEROFF_GRACE_MS * NS_PER_MS;
	logmsg(true, "powering off (%s): SIGTERM to all processes", why);
	kill(-1, SIGTERM);
}

static void reap(void);

/* Called every loop tick while powering off: finish once nobody else is left
 * (kill(-1, 0) fails with ESRCH), or SIGKILL the rest after the grace time. */
static void poweroff_tick(void)
{
	reap();
	if (kill(-1, 0) < 0 && errno == ESRCH) {
		logmsg(true, "powered off, exit %d", g.exit_code);
	} else if (now_ns() >= g.poweroff_deadline_ns) {
		logmsg(true, "processes left after %d ms: SIGKILL; powered off, exit %d",
		       POWEROFF_GRACE_MS, g.exit_code);
		kill(-1, SIGKILL);
	} else {
		return;
	}
	remove_files();
	exit(g.exit_code);
}

/* "client N (pid P)" for the log; valid until the next call. */
static const char *who(const struct client *c)
{
	static char buf[64];
	if (c->pid > 0)
		snprintf(buf, sizeof buf, "client %u (pid %d)", c->id, (int)c->pid);
	else /* SO_PEERCRED gives 0 for a peer outside our PID namespace */
		snprintf(buf, sizeof buf, "client %u (outside the namespace)", c->id);
	return buf;
}

/* ---- watchdog --------------------------------------------------------- */

/* Fires if armed and more than W ms passed since the last pet. */
static void wd_check(uint64_t now)
{
	if (!g.armed || now - g.last_pet_ns <= g.timeout_ms * NS_PER_MS)
		return;
	g.fired = true;
	logmsg(true, "watchdog not petted for %llu ms (timeout %llu ms): resetting emulated host",
	       (unsigned long long)((now - g.last_pet_ns) / NS_PER_MS), (unsigned long long)g.timeout_ms);
	reset_host(EXIT_RESET);
}

/* Points the timerfd at the first instant the watchdog may fire (or stops it). */
static void wd_schedule(void)
{
	struct itimerspec its = {0};
	if (g.armed) {
		uint64_t t = g.last_pet_ns + g.timeout_ms * NS_PER_MS + 1;
		its.it_value.tv_sec = (time_t)(t / 1000000000ULL);
		its.it_value.tv_nsec = (long)(t % 1000000000ULL);
	}
	if (timerfd_settime(g.tmr.fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		/* Cannot happen with valid values; if it does, fall back on polling. */
		logmsg(true, "timerfd_settime: %s", strerror(errno));
	}
}

/* A command that comes after the deadline is too late and fires instead:
 * the reset must come no later than W after the last pet that counted. */
static void wd_pet(void)
{
	uint64_t now = now_ns();
	wd_check(now);
	g.last_pet_ns = now;
	g.ever_petted = true;
	wd_schedule();
}

static void wd_arm(const struct client *c, uint64_t ms)
{
	bool was = g.armed;
	uint64_t now = now_ns();
	wd_check(now);
	g.armed = true;
	g.timeout_ms = ms;
	g.last_pet_ns = now;
	g.ever_petted = true;
	wd_schedule();
	logmsg(false, "%s by %s: timeout %llu ms", was ? "re-armed" : "armed", who(c),
	       (unsigned long long)ms);
}

static void wd_disarm(const struct client *c)
{
	wd_check(now_ns());
	logmsg(false, "disarmed by %s%s", who(c), g.armed ? "" : " (was not armed)");
	g.armed = false;
	wd_schedule();
}

/* ---- processes -------------------------------------------------------- */

/* As PID 1 every orphan of the namespace becomes our child: reap them all. */
static void reap(void)
{
	int st;
	pid_t p;
	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (p != g.cmd_pid)
			continue;
		g.cmd_pid = 0;
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		logmsg(true, "command (pid %d) %s %d", (int)p,
		       WIFEXITED(st) ? "exited with status" : "killed by signal",
		       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		if (g.exit_with_command)
			poweroff_begin(code, "command exited");
	}
}

static void start_command(char **argv)
{
	pid_t p = fork();
	if (p < 0)
		fail("fork: %s", strerror(errno));
	if (p == 0) {
		/* The command gets the signal mask we were started with. */
		sigprocmask(SIG_SETMASK, &g.orig_mask, NULL);
		execvp(argv[0], argv);
		fprintf(stderr, "hostemu: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	g.cmd_pid = p;
	logmsg(false, "started command %s (pid %d)", argv[0], (int)p);
}

/* ---- clients ---------------------------------------------------------- */

__attribute__((format(printf, 2, 3)))
static void client_reply(struct client *c, const char *fmt, ...)
{
	if (c->dead)
		return;
	/* Callers only process a line when REPLY_MAX bytes are free. */
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(c->out + c->out_len, OUT_CAP - c->out_len, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < OUT_CAP - c->out_len)
		c->out_len += (size_t)n;
}

/* Strict decimal milliseconds in 1..ARM_MAX_MS. */
static bool parse_ms(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > ARM_MAX_MS)
			return false;
	}
	*out = v;
	return v > 0;
}

/* Executes one line (without its '\n'); always replies exactly once. */
static void client_command(struct client *c, char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)line[i];
		if ((ch < 0x20 && ch != '\t') || ch >= 0x7f) {
			client_reply(c, "error invalid character\n");
			return;
		}
	}
	char *argv[3], *save = NULL;
	int argc = 0;
	for (char *t = strtok_r(line, " \t", &save); t && argc < 3; t = strtok_r(NULL, " \t", &save))
		argv[argc++] = t;

	bool known = argc > 0 && (strcmp(argv[0], "arm") == 0 || strcmp(argv[0], "pet") == 0 ||
				  strcmp(argv[0], "disarm") == 0 || strcmp(argv[0], "status") == 0);
	if (argc == 0) {
		client_reply(c, "error empty command\n");
	} else if (!known) {
		client_reply(c, "error unknown command\n");
	} else if (argc > 2) {
		client_reply(c, "error too many arguments\n");
	} else if (strcmp(argv[0], "arm") == 0) {
		uint64_t ms;
		if (argc != 2)
			client_reply(c, "error usage: arm <timeout_ms>\n");
		else if (!parse_ms(argv[1], &ms))
			client_reply(c, "error timeout_ms must be an integer in 1..%llu\n", ARM_MAX_MS);
		else {
			wd_arm(c, ms);
			c->used = true;
			c->disarmed = false;
			client_reply(c, "ok\n");
		}
	} else if (argc != 1) {
		client_reply(c, "error %s takes no argument\n", argv[0]);
	} else if (strcmp(argv[0], "pet") == 0) {
		if (!g.armed) {
			client_reply(c, "error not armed\n");
		} else {
			wd_pet();
			c->used = true;
			c->disarmed = false;
			client_reply(c, "ok\n");
		}
	} else if (strcmp(argv[0], "disarm") == 0) {
		wd_disarm(c);
		c->disarmed = true;
		client_reply(c, "ok\n");
	} else if (strcmp(argv[0], "status") == 0) {
		uint64_t since = g.ever_petted ? (now_ns() - g.last_pet_ns) / NS_PER_MS : 0;
		client_reply(c, "armed %d timeout_ms %llu since_pet_ms %llu fired %d\n", g.armed,
			     (unsigned long long)g.timeout_ms, (unsigned long long)since, g.fired);
	}
}

/* Executes the complete lines in the input buffer while there is room for
 * their replies (always, once the peer is gone). */
static void client_process(struct client *c)
{
	while (c->dead || OUT_CAP - c->out_len >= REPLY_MAX) {
		char *nl = memchr(c->in, '\n', c->in_len);
		if (!nl) {
			if (c->in_len == IN_CAP) { /* no '\n' in a full buffer: too long */
				if (!c->discarding)
					client_reply(c, "error line too long\n");
				c->discarding = true;
				c->in_len = 0;
			}
			return;
		}
		size_t len = (size_t)(nl - c->in);
		*nl = '\0';
		if (c->discarding)
			c->discarding = false; /* the tail of an over-long line: replied already */
		else
			client_command(c, c->in, len);
		c->in_len -= len + 1;
		memmove(c->in, nl + 1, c->in_len);
	}
}

static void client_flush(struct client *c)
{
	while (c->out_len > 0 && !c->dead) {
		ssize_t n = send(c->src.fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->out_len -= (size_t)n;
			memmove(c->out, c->out + n, c->out_len);
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return;
		} else {
			c->dead = true;
			c->out_len = 0;
		}
	}
}

/* Reads more only when a full line and its reply would fit: a client that does
 * not read its replies is throttled instead of losing them. */
static bool client_want_read(const struct client *c)
{
	return !c->eof && !c->dead && c->in_len < IN_CAP && OUT_CAP - c->out_len >= REPLY_MAX;
}

static void client_close(struct client *c)
{
	if (c->used && !c->disarmed && g.armed)
		logmsg(false, "%s closed without disarm: watchdog stays armed "
		       "(timeout %llu ms, last pet %llu ms ago)", who(c),
		       (unsigned long long)g.timeout_ms,
		       (unsigned long long)((now_ns() - g.last_pet_ns) / NS_PER_MS));
	epoll_ctl(g.epfd, EPOLL_CTL_DEL, c->src.fd, NULL);
	close(c->src.fd);
	g.nclients--;
	free(c);
}

/* The peer is gone: still execute what it sent before going (a final
 * "disarm" must count), then close. */
static void client_drain_and_close(struct client *c)
{
	c->dead = true;
	for (;;) {
		client_process(c);
		ssize_t n = read(c->src.fd, c->in + c->in_len, IN_CAP - c->in_len);
		if (n > 0)
			c->in_len += (size_t)n;
		else if (!(n < 0 && errno == EINTR))
			break;
	}
	client_close(c);
}

/* Reads what the client sent, answers it and updates its epoll interest;
 * closes it once it hung up and every reply went out. */
static void client_service(struct client *c)
{
	for (int i = 0; i < READS_PER_WAKEUP && !c->dead; i++) {
		client_process(c);
		client_flush(c);
		if (!client_want_read(c))
			break;
		ssize_t n = read(c->src.fd, c->in + c->in_len, IN_CAP - c->in_len);
		if (n > 0)
			c->in_len += (size_t)n;
		else if (n == 0)
			c->eof = true;
		else if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		else if (errno != EINTR)
			c->dead = true;
	}
	if (!c->dead) {
		client_process(c);
		client_flush(c);
	}
	if (c->dead) {
		client_drain_and_close(c);
		return;
	}
	/* After EOF a partial last line is dropped: commands end with '\n'. */
	if (c->eof && c->out_len == 0 && !memchr(c->in, '\n', c->in_len)) {
		client_close(c);
		return;
	}
	uint32_t ev = (client_want_read(c) ? EPOLLIN : 0) | (c->out_len ? EPOLLOUT : 0);
	if (ev != c->events) {
		struct epoll_event e = {.events = ev, .data.ptr = c};
		if (epoll_ctl(g.epfd, EPOLL_CTL_MOD, c->src.fd, &e) == 0)
			c->events = ev;
	}
}

static void accept_clients(void)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(g.lsn.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if ((errno == EMFILE || errno == ENFILE) && g.reserve_fd >= 0) {
				/* Out of descriptors: accept with the reserve and hang up, so the
				 * pending connection does not keep the listener ready forever. */
				close(g.reserve_fd);
				fd = accept4(g.lsn.fd, NULL, NULL, SOCK_CLOEXEC);
				if (fd >= 0)
					close(fd);
				g.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
				logmsg(true, "out of file descriptors: refused a connection");
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				logmsg(true, "accept: %s", strerror(errno));
			return;
		}
		struct client *c = g.nclients < g.max_clients ? calloc(1, sizeof *c) : NULL;
		if (!c) {
			static const char msg[] = "error too many clients\n";
			if (send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* it is being refused anyway */
			}
			close(fd);
			logmsg(true, "refused a connection: %u clients", g.nclients);
			continue;
		}
		struct ucred cr;
		socklen_t crlen = sizeof cr;
		c->src = (struct source){SRC_CLIENT, fd};
		c->id = ++g.next_id;
		c->pid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == 0 ? cr.pid : -1;
		c->events = EPOLLIN;
		struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
			logmsg(true, "epoll_ctl: %s", strerror(errno));
			close(fd);
			free(c);
			continue;
		}
		g.nclients++;
	}
}

/* ---- signals ---------------------------------------------------------- */

static void handle_signals(void)
{
	struct signalfd_siginfo si;
	while (read(g.sig.fd, &si, sizeof si) == (ssize_t)sizeof si) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap();
			break;
		case SIGTERM:
		case SIGINT:
			poweroff_begin(0, si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			break;
		default: /* SIGHUP, SIGPIPE: nothing to do */
			break;
		}
	}
}

/* ---- setup ------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sync_manager-hostemu --run-dir DIR [--name NAME] [--exit-with-command]\n"
		"                            [-- COMMAND [ARGS...]]\n"
		"Init (PID 1) of an emulated host: run it as\n"
		"  unshare --pid --fork --mount-proc -- sync_manager-hostemu --run-dir DIR ...\n"
		"It serves a watchdog on DIR/watchdog.sock (arm <ms> | pet | disarm | status);\n"
		"when not petted in time it kills every process of its PID namespace and\n"
		"exits 137.  SIGTERM powers the emulated host off.\n");
}

/* mkdir -p; the last component gets mode 0700 if it is created. */
static void make_dirs(const char *path)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		fail("run dir path too long");
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			fail("mkdir %s: %s", buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		fail("mkdir %s: %s", buf, strerror(errno));
}

static void epoll_add(struct source *s)
{
	struct epoll_event e = {.events = EPOLLIN, .data.ptr = s};
	if (epoll_ctl(g.epfd, EPOLL_CTL_ADD, s->fd, &e) < 0)
		fail("epoll_ctl: %s", strerror(errno));
}

static void setup(void)
{
	/* Signals are read from a signalfd.  Blocked signals are never discarded,
	 * not even for a namespace init with default dispositions, so SIGTERM from
	 * outside (or inside) the namespace reaches us. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &mask, &g.orig_mask) < 0)
		fail("sigprocmask: %s", strerror(errno));
	g.sig = (struct source){SRC_SIGNAL, signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)};
	if (g.sig.fd < 0)
		fail("signalfd: %s", strerror(errno));

	make_dirs(g.run_dir);
	if (snprintf(g.sock_path, sizeof g.sock_path, "%s/watchdog.sock", g.run_dir) >= (int)sizeof g.sock_path)
		fail("run dir path too long for a Unix socket: %s", g.run_dir);
	snprintf(g.ready_path, sizeof g.ready_path, "%s/hostemu.ready", g.run_dir);
	snprintf(g.log_path, sizeof g.log_path, "%s/hostemu.log", g.run_dir);
	g.log_fd = open(g.log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (g.log_fd < 0)
		fail("open %s: %s", g.log_path, strerror(errno));

	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, g.sock_path, strlen(g.sock_path) + 1);
	g.lsn = (struct source){SRC_LISTEN, socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)};
	if (g.lsn.fd < 0)
		fail("socket: %s", strerror(errno));

	/* A socket someone still answers on belongs to a live emulated host:
	 * never take over its run dir.  Otherwise it is a leftover of an
	 * earlier run (a reset leaves no chance to clean up). */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
		fprintf(stderr, "hostemu: another hostemu is serving %s\n", g.sock_path);
		exit(1);
	}
	if (probe >= 0)
		close(probe);
	if (unlink(g.ready_path) < 0 && errno != ENOENT)
		fail("unlink %s: %s", g.ready_path, strerror(errno));
	if (unlink(g.sock_path) < 0 && errno != ENOENT)
		fail("unlink %s: %s", g.sock_path, strerror(errno));
	g.owns_files = true;
	if (bind(g.lsn.fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		fail("bind %s: %s", g.sock_path, strerror(errno));
	if (listen(g.lsn.fd, 512) < 0)
		fail("listen: %s", strerror(errno));

	g.tmr = (struct source){SRC_TIMER, timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)};
	if (g.tmr.fd < 0)
		fail("timerfd_create: %s", strerror(errno));
	g.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (g.epfd < 0)
		fail("epoll_create1: %s", strerror(errno));
	epoll_add(&g.lsn);
	epoll_add(&g.sig);
	epoll_add(&g.tmr);

	/* Room for MAX_CLIENTS descriptors if the hard limit allows it. */
	struct rlimit rl;
	g.max_clients = MAX_CLIENTS;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rlim_t want = MAX_CLIENTS + 32;
		if (rl.rlim_cur < want) {
			rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		if (rl.rlim_cur < want)
			g.max_clients = rl.rlim_cur > 64 ? (unsigned)rl.rlim_cur - 32 : 16;
	}
	g.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	int fd = open(g.ready_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		fail("create %s: %s", g.ready_path, strerror(errno));
	close(fd);
}

int main(int argc, char **argv)
{
	int i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "--run-dir") == 0 && i + 1 < argc) {
			g.run_dir = argv[++i];
		} else if (strcmp(a, "--name") == 0 && i + 1 < argc) {
			g.name = argv[++i];
		} else if (strcmp(a, "--exit-with-command") == 0) {
			g.exit_with_command = true;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "hostemu: unknown or incomplete option: %s\n", a);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	char **cmd = i < argc ? &argv[i] : NULL;
	if (!g.run_dir || !*g.run_dir) {
		fprintf(stderr, "hostemu: --run-dir DIR is required\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (g.exit_with_command && !cmd) {
		fprintf(stderr, "hostemu: --exit-with-command needs a COMMAND after --\n");
		return EXIT_USAGE;
	}
	/* The safety guard: only a namespace's PID 1 may kill(-1). */
	if (getpid() != 1) {
		fprintf(stderr, "hostemu: refusing to run: must be PID 1 of its own PID namespace "
			"(pid is %d); start it with 'unshare --pid --fork --mount-proc -- %s ...'\n",
			(int)getpid(), argv[0]);
		return EXIT_USAGE;
	}
	if (!g.name) {
		const char *slash = strrchr(g.run_dir, '/');
		g.name = slash && slash[1] ? slash + 1 : g.run_dir;
	}

	setup();
	logmsg(false, "started as PID 1, watchdog socket %s", g.sock_path);
	if (cmd)
		start_command(cmd);

	for (;;) {
		struct epoll_event evs[64];
		/* The timerfd wakes us at the deadline; the POLL_MS tick while armed
		 * is a second line of defence, and drives the power-off. */
		int n = epoll_wait(g.epfd, evs, 64, g.armed || g.powering_off ? POLL_MS : -1);
		if (n < 0 && errno != EINTR) {
			/* The loop cannot serve the watchdog any more: behave like one that fired. */
			logmsg(true, "epoll_wait: %s: resetting emulated host", strerror(errno));
			reset_host(EXIT_RESET);
		}
		for (int k = 0; k < n; k++) {
			struct source *s = evs[k].data.ptr;
			switch (s->kind) {
			case SRC_LISTEN:
				accept_clients();
				break;
			case SRC_SIGNAL:
				handle_signals();
				break;
			case SRC_TIMER: {
				uint64_t expirations;
				if (read(s->fd, &expirations, sizeof expirations) < 0) {
					/* EAGAIN: re-armed in between; wd_check below decides */
				}
				break;
			}
			case SRC_CLIENT:
				client_service((struct client *)s);
				break;
			}
		}
		wd_check(now_ns());
		if (g.powering_off)
			poweroff_tick();
	}
}
