/* sync_managerd: the per-host lease daemon.  Startup, configuration, the
 * event loop and shutdown.  See daemon.h for how state is owned. */
#include "daemon.h"

#include "conn.h"
#include "jobs.h"
#include "leaseops.h"
#include "leasetab.h"
#include "lockspaces.h"
#include "orphans.h"
#include "procs.h"
#include "resume.h"
#include "state.h"
#include "watchdog.h"
#include "wiring.h"

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/util.h"
#include "disk/cawfile.h"
#include "disk/fault.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_CONFIG "/etc/sync_manager/sync_managerd.conf"
/* The loop's timer (see run_loop): at least this long after a tick, so a
 * deadline that is still due after its tick is no busy loop; at most this
 * long, a backstop (every deadline is reported: none should need it). */
#define MIN_SLEEP_MS 10
#define MAX_SLEEP_MS 10000

static const char *const watchdog_kinds[] = {"auto", "device", "emulated", "none", "wdmd", NULL};
static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};

static const struct sm_config_key config_keys[] = {
	{"host_name", SM_CFG_STRING, 0, SM_NAME_MAX, NULL, offsetof(struct daemon_config, host_name),
	 "stable name of this host in lockspaces (default: the hostname)"},
	{"workers", SM_CFG_UINT, 1, 64, NULL, offsetof(struct daemon_config, workers),
	 "threads doing lease I/O in parallel"},
	{"watchdog", SM_CFG_ENUM, 0, 0, watchdog_kinds, offsetof(struct daemon_config, watchdog),
	 "auto: wdmd if it runs, else the device if present, else an emulated host's; with none, joins are refused"},
	{"watchdog_device", SM_CFG_STRING, 0, 255, NULL, offsetof(struct daemon_config, watchdog_device),
	 "watchdog device path"},
	{"watchdog_timeout", SM_CFG_SECONDS, 1000, 600000, NULL, offsetof(struct daemon_config, watchdog_timeout_ms),
	 "time the watchdog takes to reset the host after the last pet"},
	{"admin_group", SM_CFG_STRING, 0, 255, NULL, offsetof(struct daemon_config, admin_group),
	 "group whose members may act for any process (socket is group-accessible)"},
	{"max_clients", SM_CFG_UINT, 1, 100000, NULL, offsetof(struct daemon_config, max_clients),
	 "most registered processes at once"},
	{"max_leases", SM_CFG_UINT, 1, 1000000, NULL, offsetof(struct daemon_config, max_leases),
	 "most leases held at once"},
	{"join", SM_CFG_STRING_LIST, 0, 255, NULL, offsetof(struct daemon_config, join),
	 "lease volumes (PATH[:OFFSET]) whose lockspaces are joined at start"},
	{"auto_rejoin", SM_CFG_BOOL, 0, 0, NULL, offsetof(struct daemon_config, auto_rejoin),
	 "rejoin a lockspace after its leases were fenced"},
	{"log_level", SM_CFG_ENUM, 0, 0, log_levels, offsetof(struct daemon_config, log_level),
	 "error, warn, info or debug"},
};

/* ---- startup --------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: sync_managerd [-D] [-c CONFIG] [--check-config] [-l LEVEL]\n\n"
		   "  -D, --foreground      stay in the foreground, log to stderr\n"
		   "  -c, --config FILE     configuration (default %s)\n"
		   "      --check-config    validate the configuration, print it, and exit\n"
		   "  -l, --log-level L     error, warn, info or debug\n"
		   "Run directory: $%s or %s.\n",
		DEFAULT_CONFIG, SM_RUN_DIR_ENV, SM_RUN_DIR_DEFAULT);
}

/* Load path into c.  A file named by -c or $SYNC_MANAGERD_CONFIG must
 * exist; the default one may be missing (built-in defaults), but not for
 * --check-config, which must not call a file that is not there valid. */
static int load_config(struct daemon_config *c, const char *path, const char *given_by)
{
	struct sm_config_error err;
	int rc = sm_config_load_checked(config_keys, SM_ARRAY_SIZE(config_keys),
					c->check_only ? daemon_config_check_deep : daemon_config_check, c, path, &err);
	if (rc == 1 && given_by) {
		fprintf(stderr, "sync_managerd: %s: no such file (given by %s)\n", path, given_by);
		return -ENOENT;
	}
	if (rc == 1 && c->check_only) {
		fprintf(stderr,
			"sync_managerd: %s: no such file: sync_managerd would run with the built-in defaults "
			"(see sync_managerd.conf(5); -c FILE checks another file)\n",
			path);
		return -ENOENT;
	}
	if (rc < 0) {
		fprintf(stderr, "sync_managerd: %s:%u: %s\n", err.file, err.line, err.message);
		return rc;
	}
	struct stat st;
	if (rc == 0 && stat(path, &st) == 0 && (st.st_mode & S_IWOTH))
		fprintf(stderr, "sync_managerd: warning: %s is writable by every user (mode %04o): chmod o-w %s\n",
			path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

/* The run directory holds the pid file, the socket and the state file,
 * all written by root: it must be a directory that no one else can change
 * (else a planted symbolic link or state file turns the daemon against the
 * host).  0, or -EPERM with the reason and the fix logged. */
static int check_run_dir(const char *dir)
{
	struct stat st;
	char why[128] = "";
	if (lstat(dir, &st) < 0) {
		sm_error("cannot use run directory %s: %s", dir, strerror(errno));
		return -errno;
	}
	if (S_ISLNK(st.st_mode))
		snprintf(why, sizeof(why), "a symbolic link");
	else if (!S_ISDIR(st.st_mode))
		snprintf(why, sizeof(why), "not a directory");
	else if (state_trusted(&st, why, sizeof(why)))
		return 0;
	sm_error("refusing run directory %s: it is %s. It must be a directory owned by root and writable by no one "
		 "else: chown root:root %s; chmod 0755 %s (or set %s to such a directory)",
		 dir, why, dir, dir, SM_RUN_DIR_ENV);
	return -EPERM;
}

static int make_run_dir(struct daemon *d)
{
	if (mkdir(d->cfg.run_dir, 0755) < 0 && errno != EEXIST) {
		sm_error("cannot create run directory %s: %s", d->cfg.run_dir, strerror(errno));
		return -errno;
	}
	int rc = check_run_dir(d->cfg.run_dir);
	if (rc < 0)
		return rc;
	char lock[512];
	snprintf(lock, sizeof(lock), "%s/sync_managerd.pid", d->cfg.run_dir);
	d->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (d->lock_fd < 0) {
		sm_error("cannot open %s: %s", lock,
			 errno == ELOOP ? "it is a symbolic link (not followed): remove it" : strerror(errno));
		return -errno;
	}
	if (flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "?";
		ssize_t n = pread(d->lock_fd, pid, sizeof(pid) - 1, 0);
		if (n > 0)
			pid[strcspn(pid, "\n")] = '\0';
		sm_error("another sync_managerd (pid %s) already runs with run directory %s", pid, d->cfg.run_dir);
		return -SM_EBUSY;
	}
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(d->lock_fd, 0) < 0 || pwrite(d->lock_fd, buf, (size_t)n, 0) != n)
		sm_warn("cannot write %s", lock);
	return resume_check_file(d);
}

static struct ev_tag listen_tag = {EV_LISTEN, NULL}, signal_tag = {EV_SIGNAL, NULL}, timer_tag = {EV_TIMER, NULL},
		     jobs_tag = {EV_JOBS, NULL};

static int open_socket(struct daemon *d)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", d->cfg.run_dir, SM_SOCKET_NAME) >=
	    sizeof(sa.sun_path)) {
		sm_error("run directory path too long for a socket");
		return -ENAMETOOLONG;
	}
	unlink(sa.sun_path); /* we hold the lock: any socket there is stale */
	d->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->listen_fd < 0)
		return -errno;
	mode_t old = umask(0117); /* socket mode 0660 */
	int rc = bind(d->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || listen(d->listen_fd, 512) < 0) {
		sm_error("cannot listen on %s: %s", sa.sun_path, strerror(errno));
		return -errno;
	}
	if (d->have_admin_gid && chown(sa.sun_path, 0, d->admin_gid) < 0)
		sm_warn("cannot give %s to group %s: %s", sa.sun_path, d->cfg.admin_group, strerror(errno));
	return ev_add(d, d->listen_fd, EPOLLIN, &listen_tag);
}

static int open_loop_fds(struct daemon *d)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	/* CLOCK_BOOTTIME, armed relative to now: a suspend counts, so a
	 * deadline on CLOCK_BOOTTIME (F, our leases' expiry) that passed during
	 * one fires it at once on resume; one on CLOCK_MONOTONIC comes early,
	 * never late.  One-shot: run_loop arms it for the next deadline. */
	d->timer_fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->epfd < 0 || d->signal_fd < 0 || d->timer_fd < 0)
		return -errno;
	int rc = ev_add(d, d->signal_fd, EPOLLIN, &signal_tag);
	if (rc == 0)
		rc = ev_add(d, d->timer_fd, EPOLLIN, &timer_tag);
	return rc;
}

/* Descriptors the daemon needs besides its clients': standard streams,
 * epoll, socket, pid file, signal, timer, job event, watchdog, state file,
 * the reserve for the fd limit, volumes of lockspaces and workers. */
#define FD_BASE 128
/* Each registered client costs a connection and a pidfd. */
#define FDS_PER_CLIENT 2

/* Raise the soft RLIMIT_NOFILE to the hard limit and check that it covers
 * max_clients.  The verdict goes to out (--check-config) or the log. */
static void check_fd_limit(const struct daemon *d, FILE *out)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		struct rlimit up = {.rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max};
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	unsigned long long need = d->cfg.max_clients * FDS_PER_CLIENT + FD_BASE, have = rl.rlim_cur;
	if (rl.rlim_cur == RLIM_INFINITY || have >= need) {
		if (out)
			fprintf(out, "# file descriptors: RLIMIT_NOFILE %llu covers max_clients = %llu (about %llu needed)\n",
				have, (unsigned long long)d->cfg.max_clients, need);
		return;
	}
	unsigned long long fit = have > FD_BASE ? (have - FD_BASE) / FDS_PER_CLIENT : 0;
	char msg[512];
	snprintf(msg, sizeof(msg),
		 "max_clients = %llu needs about %llu file descriptors (%d per client + %d) but RLIMIT_NOFILE is %llu "
		 "(hard limit %llu): about %llu clients fit; raise LimitNOFILE in the service unit (or ulimit -n), "
		 "or lower max_clients",
		 (unsigned long long)d->cfg.max_clients, need, FDS_PER_CLIENT, FD_BASE, have,
		 (unsigned long long)rl.rlim_max, fit);
	if (out)
		fprintf(out, "# warning: %s\n", msg);
	else
		sm_warn("%s", msg);
}

static void on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;
	while (read(d->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			/* A service stop or restart: processes that hold leases keep
			 * them (the next daemon resumes them); otherwise leave. */
			sm_info("signal %d: shutting down", si.ssi_signo);
			d->quitting = true;
			d->keep_on_exit = d->lt.nheld > 0;
			break;
		case SIGHUP: sm_info("SIGHUP: nothing to reload"); break;
		case SIGCHLD: break; /* kill programs are reaped in proc_tick */
		}
	}
}

/* Every periodic check, now.  Returns the earliest deadline they report
 * (mono_ms()): when they must run again although no event comes. */
static uint64_t run_ticks(struct daemon *d)
{
	uint64_t n;
	while (read(d->timer_fd, &n, sizeof(n)) == sizeof(n))
		;
	uint64_t next = ls_tick(d);
	next = deadline_min(next, proc_tick(d));
	next = deadline_min(next, leases_tick(d));
	next = deadline_min(next, orphans_tick(d));
	next = deadline_min(next, watchdog_tick(d));
	if (d->accept_paused) /* at the fd limit: try the listening socket again (conn_free_dead) */
		next = deadline_min(next, d->accept_retry_mono);
	state_save(d); /* what the ticks changed (cheap when nothing did) */
	if (state_pending(d))
		next = deadline_min(next, mono_ms() + SM_POLL_MS); /* the save failed: retry */
	return next;
}

/* Have the timer fire at due (mono_ms()), counted from now. */
static void arm_timer(struct daemon *d, uint64_t due, uint64_t now)
{
	uint64_t ms = due > now ? due - now : 1;
	struct itimerspec its = {.it_value = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L}};
	if (timerfd_settime(d->timer_fd, 0, &its, NULL) < 0)
		sm_error("cannot arm the loop's timer: %s", strerror(errno));
}

/* No fixed period: the loop sleeps to the earliest deadline the ticks
 * reported (run_ticks).  An event (a request, a job's or a lockspace
 * thread's completion, a process exit, a signal) may change what the ticks
 * check, so after one they run again within SM_POLL_MS, at once if they
 * have not run for that long (as often as the old fixed tick at most). */
static void run_loop(struct daemon *d)
{
	struct epoll_event evs[64];
	uint64_t last_ticks = mono_ms(), due = run_ticks(d), armed = 0;
	while (!d->quitting) {
		uint64_t now = mono_ms();
		due = SM_MIN(SM_MAX(due, last_ticks + MIN_SLEEP_MS), now + MAX_SLEEP_MS);
		if (due != armed)
			arm_timer(d, due, now);
		armed = due;
		/* the timer ends the wait; the timeout is only a backstop */
		int n = epoll_wait(d->epfd, evs, 64, (int)((due > now ? due - now : 0) + 1000));
		if (n < 0 && errno != EINTR) {
			sm_error("epoll_wait: %s", strerror(errno));
			break;
		}
		d->m.loop_wakeups++;
		bool events = false, timer = false;
		for (int i = 0; i < n; i++) {
			struct ev_tag *t = evs[i].data.ptr;
			events = events || t->kind != EV_TIMER;
			switch (t->kind) {
			case EV_LISTEN: conn_accept(d); break;
			case EV_CONN: conn_on_event(t->ptr, evs[i].events); break;
			case EV_SIGNAL: on_signal(d); break;
			case EV_TIMER: timer = true; break;
			case EV_JOBS:
				jobs_on_event(d);
				ls_tick(d); /* a lockspace thread may have woken us too */
				state_save(d);
				break;
			case EV_PIDFD: proc_on_pidfd(t->ptr); break;
			}
		}
		conn_free_dead(d);
		proc_free_dead(d);
		now = mono_ms();
		if (events)
			due = SM_MIN(due, last_ticks + SM_POLL_MS);
		if (timer || now >= due) {
			last_ticks = now;
			due = run_ticks(d);
			armed = 0; /* fired or overtaken: arm again */
		}
	}
}

static void shutdown_daemon(struct daemon *d)
{
	if (d->keep_on_exit) {
		/* Restart: persist everything, keep the watchdog armed, leave
		 * nothing.  The next daemon must resume within F. */
		state_save(d);
		sm_warn("exiting with %d lease(s) held by %d process(es): they keep running; restart sync_managerd "
			"soon, or their leases expire and %s",
			d->lt.nheld, d->nprocs,
			d->wd_kind == WD_NONE ? "nothing fences them (no watchdog!)" : "the watchdog resets this host");
		ls_stop_all(d, false);
		state_snapshot(d); /* a compact file, with the final renewal times */
		jobs_stop(d);
		watchdog_close(d, false);
	} else {
		ls_stop_all(d, true);
		jobs_stop(d);
		state_remove(d);
		watchdog_close(d, true);
	}
	char sock[512];
	snprintf(sock, sizeof(sock), "%s/%s", d->cfg.run_dir, SM_SOCKET_NAME);
	unlink(sock);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"foreground", no_argument, NULL, 'D'},
					   {"config", required_argument, NULL, 'c'},
					   {"check-config", no_argument, NULL, 'C'},
					   {"log-level", required_argument, NULL, 'l'},
					   {"help", no_argument, NULL, 'h'},
					   {"version", no_argument, NULL, 'V'},
					   {0}};
	static struct daemon dm;
	struct daemon *d = &dm;
	int init_rc = daemon_init(d);
	if (init_rc < 0) {
		fprintf(stderr, "sync_managerd: cannot create its epoll instance: %s\n", strerror(-init_rc));
		return 1;
	}
	daemon_wire(d);
	const char *config = DEFAULT_CONFIG, *level_override = NULL, *given_by = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "Dc:l:h", lo, NULL)) != -1) {
		switch (c) {
		case 'D': d->cfg.foreground = true; break;
		case 'c': config = optarg; given_by = "-c"; break;
		case 'C': d->cfg.check_only = true; break;
		case 'l': level_override = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("sync_managerd %s\n", SM_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (getenv("SYNC_MANAGERD_CONFIG") && !given_by) {
		config = getenv("SYNC_MANAGERD_CONFIG");
		given_by = "$SYNC_MANAGERD_CONFIG";
	}
	if (load_config(&d->cfg, config, given_by) < 0)
		return 2;
	if (level_override) {
		int l = sm_log_parse_level(level_override);
		if (l < 0) {
			fprintf(stderr, "sync_managerd: unknown log level '%s'\n", level_override);
			return 2;
		}
		d->cfg.log_level = l;
	}
	if (d->cfg.check_only) {
		printf("# %s: valid\n", config);
		check_fd_limit(d, stdout);
		sm_config_print(stdout, config_keys, SM_ARRAY_SIZE(config_keys), &d->cfg);
		return 0;
	}
	sm_log_set_level((enum sm_log_level)d->cfg.log_level);
	if (d->cfg.foreground)
		sm_log_set_prefix("sync_managerd");
	else
		sm_log_use_syslog("sync_managerd");
	if (d->cfg.admin_group[0]) {
		struct group *g = getgrnam(d->cfg.admin_group);
		if (!g) {
			sm_error("admin_group '%s' does not exist", d->cfg.admin_group);
			return 2;
		}
		d->admin_gid = g->gr_gid;
		d->have_admin_gid = true;
	}
	if (sm_cawfile_from_env()) /* under the fault layer */
		sm_warn("COMPARE AND WRITE is emulated on regular files (test mode)");
	if (sm_fault_from_env())
		sm_warn("storage faults are being injected (test mode)");
	check_fd_limit(d, NULL);
	d->started_mono = mono_ms();
	if (make_run_dir(d) < 0 || open_loop_fds(d) < 0)
		return 1;
	if (!d->cfg.foreground && daemon(0, 0) < 0) {
		sm_error("cannot daemonize: %s", strerror(errno));
		return 1;
	}
	if (!d->cfg.foreground) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
		if (ftruncate(d->lock_fd, 0) < 0 || pwrite(d->lock_fd, buf, (size_t)n, 0) != n)
			sm_warn("cannot update the pid file");
	}
	if (jobs_start(d) < 0 || ev_add(d, d->job_event_fd, EPOLLIN, &jobs_tag) < 0)
		return 1;
	if (watchdog_open(d) < 0)
		return 1;
	int rc = resume_from_state_file(d); /* before the first tick: it may arm the watchdog */
	if (rc < 0)
		sm_error("could not restore the previous daemon's state: %s", sm_strerror(rc));
	/* The configured joins: their volumes were there when the file was read
	 * (else the daemon refused to start, above).  Exiting now could leave a
	 * resumed lease to the watchdog, so a join that fails now is an error in
	 * the log (a refusal of the watchdog is logged by ls_join itself). */
	for (size_t i = 0; i < d->cfg.join.count; i++) {
		struct ls_entry *e;
		if (ls_find_location(d, d->cfg.join.items[i]))
			continue;
		rc = ls_join(d, d->cfg.join.items[i], 0, NULL, &e);
		if (rc >= 0)
			e->paced = true; /* a whole site may be starting: pace the join */
		if (rc < 0 && !watchdog_join_refusal(d))
			sm_error("%s: join: cannot join the lockspace of %s: %s", config, d->cfg.join.items[i],
				 sm_strerror(rc));
	}
	if (open_socket(d) < 0)
		return 1;
	sm_info("sync_managerd %s ready: run directory %s, watchdog %s, %d workers", SM_VERSION, d->cfg.run_dir,
		watchdog_describe(d), d->nworkers);
	if (getenv("NOTIFY_SOCKET")) {
		/* systemd Type=notify: tell it we are ready. */
		const char *ns = getenv("NOTIFY_SOCKET");
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ns);
		if (sa.sun_path[0] == '@')
			sa.sun_path[0] = '\0';
		int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd >= 0) {
			sendto(fd, "READY=1", 7, 0, (struct sockaddr *)&sa, sizeof(sa));
			close(fd);
		}
	}
	run_loop(d);
	shutdown_daemon(d);
	sm_info("sync_managerd stopped");
	return 0;
}
