#include "procargs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int proc_has_arg(pid_t pid, const char *arg)
{
	char path[64], buf[4096];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t alen = strlen(arg), pos = 0; /* pos: bytes of the current argument seen */
	bool same = true;                   /* the current argument matches arg so far */
	int found = 0;
	ssize_t n;
	while (!found && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			found = -errno;
			break;
		}
		for (ssize_t i = 0; i < n && !found; i++) {
			if (buf[i] == '\0') {
				found = same && pos == alen;
				pos = 0;
				same = true;
				continue;
			}
			same = same && pos < alen && arg[pos] == buf[i];
			pos++;
		}
	}
	if (!found && pos && same && pos == alen)
		found = 1; /* a last argument without its NUL */
	close(fd);
	return found;
}
