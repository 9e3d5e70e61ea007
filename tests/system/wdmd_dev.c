/* LD_PRELOAD for Debian's real wdmd in tests: a watchdog device for a
 * machine that has none (no /dev/watchdog, no softdog, no CUSE here).
 *
 * wdmd is started with `-w PATH`, PATH naming a plain file ($SM_WDMD_DEV).
 * Its open() of PATH instead connects to an emulated host's watchdog
 * ($SM_WDMD_EMU: sync_manager-hostemu's watchdog.sock), so that what wdmd
 * does to "its device" resets the emulated host as a real watchdog would:
 *   open                       arm with the current timeout (60 s default)
 *   WDIOC_SETTIMEOUT           re-arm with the new timeout
 *   WDIOC_GETTIMEOUT           the current timeout
 *   WDIOC_KEEPALIVE, write()   pet
 *   write() with 'V', close    the magic close: disarm
 *   close without 'V'          stays armed (hostemu: close without disarm)
 * Other files and ioctls go to the C library unchanged.  wdmd is not
 * modified; this only stands in for the kernel driver. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int dev_fd = -1;
static int timeout_s = 60;
static int magic;

static void say(const char *cmd)
{
	char junk[256];
	while (recv(dev_fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
	if (send(dev_fd, cmd, strlen(cmd), MSG_NOSIGNAL) < 0)
		fprintf(stderr, "wdmd_dev: %s: %s\n", cmd, strerror(errno));
}

static void arm(void)
{
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "arm %d\n", timeout_s * 1000);
	say(cmd);
}

static int open_emulated(void)
{
	const char *emu = getenv("SM_WDMD_EMU");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (!emu || snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", emu) >= (int)sizeof(sa.sun_path)) {
		errno = ENODEV;
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	dev_fd = fd;
	magic = 0;
	arm();
	fprintf(stderr, "wdmd_dev: %s opened: emulated watchdog armed, %d s\n", getenv("SM_WDMD_DEV"), timeout_s);
	return fd;
}

int open(const char *path, int flags, ...)
{
	static int (*real_open)(const char *, int, ...);
	if (!real_open)
		real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	const char *dev = getenv("SM_WDMD_DEV");
	if (dev && strcmp(path, dev) == 0)
		return open_emulated();
	va_list ap;
	va_start(ap, flags);
	mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
	va_end(ap);
	return real_open(path, flags, mode);
}

int ioctl(int fd, unsigned long req, ...)
{
	static int (*real_ioctl)(int, unsigned long, ...);
	if (!real_ioctl)
		real_ioctl = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (fd < 0 || fd != dev_fd)
		return real_ioctl(fd, req, arg);
	switch (req) {
	case WDIOC_GETTIMEOUT: *(int *)arg = timeout_s; return 0;
	case WDIOC_SETTIMEOUT:
		timeout_s = *(int *)arg;
		arm();
		return 0;
	case WDIOC_KEEPALIVE: say("pet\n"); return 0;
	default: errno = ENOTTY; return -1;
	}
}

ssize_t write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real_write)(int, const void *, size_t);
	if (!real_write)
		real_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	if (fd < 0 || fd != dev_fd)
		return real_write(fd, buf, n);
	if (memchr(buf, 'V', n))
		magic = 1;
	else
		say("pet\n");
	return (ssize_t)n;
}

int close(int fd)
{
	static int (*real_close)(int);
	if (!real_close)
		real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
	if (fd >= 0 && fd == dev_fd) {
		if (magic)
			say("disarm\n");
		fprintf(stderr, "wdmd_dev: closed %s\n", magic ? "after 'V': disarmed" : "without 'V': stays armed");
		dev_fd = -1;
	}
	return real_close(fd);
}
