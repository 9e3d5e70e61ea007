/* lab-ctl: the host end of the lab's guest channels (docs/lab.md).
 *
 *   lab-ctl sh SOCK TIMEOUT_S COMMAND   run COMMAND in the guest through its
 *       lab-agent (virtio-serial port on unix socket SOCK); prints its output
 *       and exits with its status (124 when no answer within TIMEOUT_S).
 *   lab-ctl qmp SOCK COMMAND [ARGS_JSON]  one QMP command; prints the reply
 *       line; exit 0 on "return", 1 on "error", 124 on no answer.
 *   lab-ctl events SOCK   QMP events, one line each prefixed with the host's
 *       wall clock (s.ms), until QEMU closes the socket. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_s(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_unix(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (fd < 0 || strlen(path) >= sizeof(a.sun_path))
		return -1;
	strcpy(a.sun_path, path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A growing receive buffer with line access. */
struct rbuf {
	char *b;
	size_t len, cap;
};

/* fill: read what arrives before deadline (CLOCK_MONOTONIC s); 0 ok, -1 EOF/error, -2 timeout. */
static int fill(int fd, struct rbuf *r, double deadline)
{
	double left = deadline - now_s(CLOCK_MONOTONIC);
	if (deadline > 0 && left <= 0)
		return -2;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int pr = poll(&p, 1, deadline > 0 ? (int)(left * 1000) + 1 : -1);
	if (pr == 0)
		return -2;
	if (pr < 0)
		return errno == EINTR ? 0 : -1;
	if (r->cap - r->len < 4096) {
		r->cap = r->cap ? r->cap * 2 : 65536;
		r->b = realloc(r->b, r->cap);
		if (!r->b)
			return -1;
	}
	ssize_t n = read(fd, r->b + r->len, r->cap - r->len - 1);
	if (n <= 0)
		return -1;
	r->len += (size_t)n;
	r->b[r->len] = '\0';
	return 0;
}

/* take_line: the next complete line (without '\n') into out, or NULL. */
static char *take_line(struct rbuf *r, char *out, size_t outsz)
{
	char *nl = r->len ? memchr(r->b, '\n', r->len) : NULL;
	if (!nl)
		return NULL;
	size_t n = (size_t)(nl - r->b);
	snprintf(out, outsz, "%.*s", (int)n, r->b);
	memmove(r->b, nl + 1, r->len - n - 1);
	r->len -= n + 1;
	r->b[r->len] = '\0';
	return out;
}

static int cmd_sh(const char *sock, double timeout, const char *cmd)
{
	double deadline = now_s(CLOCK_MONOTONIC) + timeout;
	int fd;
	while ((fd = connect_unix(sock)) < 0) {
		if (now_s(CLOCK_MONOTONIC) > deadline) {
			fprintf(stderr, "lab-ctl: cannot connect to %s: %s\n", sock, strerror(errno));
			return 124;
		}
		usleep(100000);
	}
	char nonce[32], start[64], endp[64];
	snprintf(nonce, sizeof(nonce), "n%ld%d", (long)(now_s(CLOCK_REALTIME) * 1000), (int)getpid());
	snprintf(start, sizeof(start), "@@%s start@@", nonce);
	snprintf(endp, sizeof(endp), "@@%s rc=", nonce);
	char *line;
	if (asprintf(&line, "%s %s\n", nonce, cmd) < 0 || write_all(fd, line, strlen(line)) < 0)
		return 124;
	struct rbuf r = {0};
	char l[65536];
	bool started = false;
	for (;;) {
		while (take_line(&r, l, sizeof(l))) {
			char *e;
			if (!started) {
				started = strcmp(l, start) == 0; /* output of older commands is dropped */
			} else if ((e = strstr(l, endp))) {
				*e = '\0';
				fputs(l, stdout);
				return atoi(e + strlen(endp));
			} else {
				puts(l);
			}
		}
		int rc = fill(fd, &r, deadline);
		if (rc < 0) {
			if (started && r.len)
				fputs(r.b, stdout);
			fprintf(stderr, "lab-ctl: no answer from the guest (%s) within %.0f s to: %s\n",
				rc == -2 ? "timeout" : "connection closed", timeout, cmd);
			return 124;
		}
	}
}

/* qmp_open: connected and negotiated QMP socket, or -1. */
static int qmp_open(const char *sock, struct rbuf *r, double deadline)
{
	int fd = connect_unix(sock);
	if (fd < 0)
		return -1;
	char l[65536];
	bool greeted = false;
	const char *caps = "{\"execute\":\"qmp_capabilities\"}\n";
	for (;;) {
		while (take_line(r, l, sizeof(l))) {
			if (!greeted && strstr(l, "\"QMP\"")) {
				greeted = true;
				if (write_all(fd, caps, strlen(caps)) < 0)
					return -1;
			} else if (greeted && strstr(l, "\"return\"")) {
				return fd;
			}
		}
		if (fill(fd, r, deadline) < 0)
			return -1;
	}
}

static int cmd_qmp(const char *sock, const char *cmd, const char *args)
{
	struct rbuf r = {0};
	double deadline = now_s(CLOCK_MONOTONIC) + 20;
	int fd = qmp_open(sock, &r, deadline);
	if (fd < 0) {
		fprintf(stderr, "lab-ctl: QMP %s: cannot talk to %s\n", cmd, sock);
		return 124;
	}
	char *req;
	if (asprintf(&req, "{\"execute\":\"%s\"%s%s}\n", cmd, args ? ",\"arguments\":" : "", args ? args : "") < 0 ||
	    write_all(fd, req, strlen(req)) < 0)
		return 124;
	char l[65536];
	for (;;) {
		while (take_line(&r, l, sizeof(l))) {
			if (strstr(l, "\"return\"") || strstr(l, "\"error\"")) {
				puts(l);
				return strstr(l, "\"error\"") ? 1 : 0;
			}
		}
		if (fill(fd, &r, deadline) < 0) {
			/* quit closes the socket before or right after its reply */
			if (strcmp(cmd, "quit") == 0)
				return 0;
			fprintf(stderr, "lab-ctl: QMP %s: no reply\n", cmd);
			return 124;
		}
	}
}

static int cmd_events(const char *sock)
{
	struct rbuf r = {0};
	int fd = -1;
	for (int i = 0; i < 100 && fd < 0; i++) {
		fd = qmp_open(sock, &r, now_s(CLOCK_MONOTONIC) + 10);
		if (fd < 0)
			usleep(100000);
	}
	if (fd < 0) {
		fprintf(stderr, "lab-ctl: events: cannot talk to %s\n", sock);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	char l[65536];
	for (;;) {
		while (take_line(&r, l, sizeof(l)))
			if (strstr(l, "\"event\""))
				printf("%.3f %s\n", now_s(CLOCK_REALTIME), l);
		if (fill(fd, &r, 0) < 0)
			return 0;
	}
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "sh") == 0)
		return cmd_sh(argv[2], atof(argv[3]), argv[4]);
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "qmp") == 0)
		return cmd_qmp(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	if (argc == 3 && strcmp(argv[1], "events") == 0)
		return cmd_events(argv[2]);
	fprintf(stderr, "usage: lab-ctl sh SOCK TIMEOUT_S COMMAND | qmp SOCK COMMAND [ARGS_JSON] | events SOCK\n");
	return 2;
}
