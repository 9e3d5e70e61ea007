/* The daemon's core: daemon_init(), epoll registration helpers and the
 * daemon's clock.  It calls no module above it: daemon_wire() (wiring.c)
 * fills in the hooks. */
#include "daemon.h"

#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

static void config_defaults(struct daemon_config *c)
{
	memset(c, 0, sizeof(*c));
	const char *rd = getenv(SM_RUN_DIR_ENV);
	snprintf(c->run_dir, sizeof(c->run_dir), "%s", rd && *rd ? rd : SM_RUN_DIR_DEFAULT);
	c->workers = 4;
	c->watchdog = WD_AUTO;
	snprintf(c->watchdog_device, sizeof(c->watchdog_device), "/dev/watchdog");
	c->watchdog_timeout_ms = 60000;
	c->max_clients = 20000;
	c->max_leases = 100000;
	c->auto_rejoin = true;
	c->log_level = SM_LOG_INFO;
}

int daemon_init(struct daemon *d)
{
	memset(d, 0, sizeof(*d));
	config_defaults(&d->cfg);
	d->listen_fd = d->lock_fd = d->signal_fd = d->timer_fd = d->job_event_fd = d->wd_fd = -1;
	d->wd_kind = WD_NONE;
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0)
		return -errno;
	pthread_mutex_init(&d->jq_mu, NULL);
	pthread_cond_init(&d->jq_cv, NULL);
	return 0;
}

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
