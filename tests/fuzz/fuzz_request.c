/* libFuzzer target: sync_managerd's request handling.  Each input is a
 * stream of bytes from one unprivileged client connection, fed through the
 * daemon's framing and dispatch (a daemon with no lockspaces, no workers
 * and no admin rights for this client, so nothing touches disks or other
 * processes).  Must not crash, leak, or hang. */
#include "daemon/conn.h"
#include "daemon/daemon.h"
#include "daemon/leasetab.h"
#include "daemon/procs.h"
#include "daemon/wiring.h"

#include "common/log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct daemon d;

static void setup(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	sm_log_set_level(SM_LOG_ERROR);
	if (daemon_init(&d) < 0)
		abort();
	daemon_wire(&d);
	d.cfg.max_clients = 100;
	d.cfg.max_leases = 100;
	snprintf(d.cfg.run_dir, sizeof(d.cfg.run_dir), "/nonexistent");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	setup();
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	struct conn *c = conn_new(&d, sv[0]);
	if (!c) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	c->admin = false;
	size_t off = 0;
	while (off < size && !c->closing) {
		size_t n = size - off < 4096 ? size - off : 4096;
		ssize_t w = write(sv[1], data + off, n);
		if (w <= 0)
			break;
		off += (size_t)w;
		conn_on_event(c, EPOLLIN);
		char junk[65536];
		while (read(sv[1], junk, sizeof(junk)) > 0)
			; /* discard replies */
	}
	shutdown(sv[1], SHUT_WR);
	if (!c->closing)
		conn_on_event(c, EPOLLIN | EPOLLRDHUP);
	conn_free_dead(&d);
	close(sv[1]);
	/* registrations made by the input die with the connection */
	while (d.procs)
		proc_forget(d.procs);
	lease_drop_all(&d);
	proc_free_dead(&d);
	return 0;
}
