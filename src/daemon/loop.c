/* epoll registration helpers and the daemon's clock. */
#include "daemon.h"

#include "common/clock.h"

#include <errno.h>
#include <sys/epoll.h>

uint64_t mono_ms(void)
{
	return sm_now_mono_ms();
}

int ev_add(struct daemon *d, int fd, uint32_t events, struct ev_tag *tag)
{
	struct epoll_event ev = {.events = events, .data.ptr = tag};
	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int ev_mod(struct daemon *d, int fd, uint32_t events, struct ev_tag *tag)
{
	struct epoll_event ev = {.events = events, .data.ptr = tag};
	return epoll_ctl(d->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void ev_del(struct daemon *d, int fd)
{
	epoll_ctl(d->epfd, EPOLL_CTL_DEL, fd, NULL);
}

