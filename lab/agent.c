/* lab-agent: the guest end of the lab's control channel (docs/lab.md).
 *
 * Runs in a lab guest on a virtio-serial port.  The host (lab-ctl sh) writes
 * one line "NONCE COMMAND"; the agent runs COMMAND with sh -c, sends
 * "@@NONCE start@@", the command's output, then "@@NONCE rc=N@@".  Commands
 * run one at a time; background jobs must redirect their own output.  With no
 * host connected the port reads EOF: the agent then sleeps and tries again
 * (no process is started while idle). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* write_all: the whole buffer, retrying on EINTR and short writes. */
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

/* run: COMMAND under sh -c, its output relayed to port; returns the status. */
static int run(int port, const char *cmd)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return 126;
	pid_t pid = fork();
	if (pid < 0)
		return 126;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		dup2(nul, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	int status = 0;
	for (;;) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		int r = poll(&p, 1, 50);
		char buf[4096];
		if (r > 0) {
			ssize_t n = read(pfd[0], buf, sizeof(buf));
			if (n > 0) {
				write_all(port, buf, (size_t)n);
				continue;
			}
			if (n == 0) /* every writer closed: wait for the shell */
				break;
		}
		if (waitpid(pid, &status, WNOHANG) == pid) {
			/* background jobs may keep the pipe open: take what is there */
			ssize_t n;
			while ((n = read(pfd[0], buf, sizeof(buf))) > 0)
				write_all(port, buf, (size_t)n);
			close(pfd[0]);
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: lab-agent PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	int port = -1;
	char line[8192];
	size_t len = 0;
	for (;;) {
		if (port < 0 && (port = open(argv[1], O_RDWR | O_CLOEXEC)) < 0) {
			nap(500);
			continue;
		}
		ssize_t n = read(port, line + len, sizeof(line) - 1 - len);
		if (n <= 0) { /* no host connected */
			nap(100);
			continue;
		}
		len += (size_t)n;
		char *nl;
		while ((nl = memchr(line, '\n', len))) {
			*nl = '\0';
			char *sp = strchr(line, ' ');
			if (sp) {
				*sp = '\0';
				char m[128];
				snprintf(m, sizeof(m), "@@%.64s start@@\n", line);
				write_all(port, m, strlen(m));
				int rc = run(port, sp + 1);
				snprintf(m, sizeof(m), "\n@@%.64s rc=%d@@\n", line, rc);
				write_all(port, m, strlen(m));
			}
			size_t used = (size_t)(nl + 1 - line);
			memmove(line, nl + 1, len - used);
			len -= used;
		}
		if (len == sizeof(line) - 1)
			len = 0; /* a line too long: dropped */
	}
}
