/* Client connections: framing, one request at a time per connection,
 * replies, and closing.  Malformed input gets an error reply or a closed
 * connection; it never affects other clients.
 *
 * The request path: process_input() cuts a message, decodes its payload
 * once (sm_wire_req_decode) and hands the typed request to d->dispatch.
 * Every reply, now or from a finished job, goes out through conn_reply(),
 * which first calls d->persist: a reply never leaves before the state
 * change it reports is on file. */
#include "conn.h"

#include "procs.h"

#include "proto/request.h"

#include "common/log.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* Per-connection epoll tags live in the conn (allocated alongside). */
struct conn_box {
	struct conn c;
	struct ev_tag tag;
};

static bool peer_in_group(pid_t pid, gid_t gid, gid_t want)
{
	if (gid == want)
		return true;
	/* supplementary groups from /proc/PID/status */
	char path[64], line[1024];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		char *save = NULL;
		for (char *tok = strtok_r(line + 7, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save))
			if ((gid_t)strtoul(tok, NULL, 10) == want)
				found = true;
	}
	fclose(f);
	return found;
}

static struct conn **conn_bucket(struct daemon *d, uint64_t id)
{
	return &d->conn_hash[id % SM_CONN_HASH_BUCKETS];
}

struct conn *conn_new(struct daemon *d, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return NULL;
	struct conn_box *box = calloc(1, sizeof(*box));
	if (!box)
		return NULL;
	struct conn *c = &box->c;
	c->d = d;
	c->fd = fd;
	c->peer_pid = cred.pid;
	c->peer_uid = cred.uid;
	c->peer_gid = cred.gid;
	c->admin = cred.uid == 0 || (d->have_admin_gid && peer_in_group(cred.pid, cred.gid, d->admin_gid));
	c->id = ++d->next_conn_id;
	box->tag = (struct ev_tag){EV_CONN, c};
	if (ev_add(d, fd, EPOLLIN | EPOLLRDHUP, &box->tag) < 0) {
		free(box);
		return NULL;
	}
	c->next = d->conns;
	if (d->conns)
		d->conns->prev = c;
	d->conns = c;
	struct conn **b = conn_bucket(d, c->id);
	c->hnext = *b;
	*b = c;
	d->nconns++;
	sm_debug("connection %llu from pid %d uid %d%s", (unsigned long long)c->id, (int)c->peer_pid,
		 (int)c->peer_uid, c->admin ? " (admin)" : "");
	return c;
}

/* ---- the fd limit ---------------------------------------------------------- */

/* The listening socket's tag when conn.c adds it back (same kind as main.c's). */
static struct ev_tag resumed_listen_tag = {EV_LISTEN, NULL};

#define ACCEPT_RETRY_MS 1000
#define FD_LIMIT_LOG_EVERY_MS 60000

static bool take_reserve(struct daemon *d)
{
	if (d->reserve_held)
		return true;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	d->reserve_fd = fd;
	d->reserve_held = true;
	return true;
}

static void drop_reserve(struct daemon *d)
{
	if (!d->reserve_held)
		return;
	close(d->reserve_fd);
	d->reserve_held = false;
	d->reserve_fd = -1;
}

static unsigned long long fd_limit(void)
{
	struct rlimit rl;
	return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (unsigned long long)rl.rlim_cur : 0;
}

static void pause_accepting(struct daemon *d, int err)
{
	if (d->accept_paused)
		return;
	ev_del(d, d->listen_fd);
	d->accept_paused = true;
	d->accept_retry_mono = mono_ms() + ACCEPT_RETRY_MS;
	d->m.fd_limit_pauses++;
	uint64_t now = mono_ms();
	if (d->fd_limit_logged_mono && now - d->fd_limit_logged_mono < FD_LIMIT_LOG_EVERY_MS)
		return;
	d->fd_limit_logged_mono = now;
	sm_error("%s (%d connections, %d registered processes, RLIMIT_NOFILE %llu): not accepting new connections "
		 "until descriptors are freed (they wait in the listen backlog); raise LimitNOFILE, or lower "
		 "max_clients (%llu); paused %llu time(s) so far (sync_manager_fd_limit_total)",
		 err == ENFILE ? "the system's file table is full" : "sync_managerd is at its file descriptor limit",
		 d->nconns, d->nprocs, fd_limit(), (unsigned long long)d->cfg.max_clients,
		 (unsigned long long)d->m.fd_limit_pauses);
}

/* Poll the listening socket again if the reserve fd and one more fd can be
 * had (else the first accept would pause it again at once). */
static void try_resume(struct daemon *d)
{
	if (!d->accept_paused)
		return;
	d->accept_retry_mono = mono_ms() + ACCEPT_RETRY_MS;
	if (!take_reserve(d))
		return;
	int spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (spare < 0)
		return;
	close(spare);
	if (ev_add(d, d->listen_fd, EPOLLIN, &resumed_listen_tag) < 0)
		return;
	d->accept_paused = false;
	sm_info("file descriptors are free again: accepting connections (%d open)", d->nconns);
}

void conn_fds_freed(struct daemon *d)
{
	try_resume(d);
}

/* At the fd limit: take one more connection with the reserve fd (it is
 * served: a registration on it is refused with the reason), then pause. */
static void at_fd_limit(struct daemon *d, int err)
{
	if (d->reserve_held) {
		drop_reserve(d);
		int fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0 && !conn_new(d, fd))
			close(fd);
	}
	pause_accepting(d, err);
}

int conn_accept(struct daemon *d)
{
	take_reserve(d); /* the first time; after a pause try_resume took it */
	for (;;) {
		int fd = accept4(d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			int err = errno;
			if (err == EINTR || err == ECONNABORTED)
				continue;
			if (err == EMFILE || err == ENFILE) {
				at_fd_limit(d, err);
				return -err;
			}
			return err == EAGAIN ? 0 : -err;
		}
		if ((uint64_t)d->nconns >= d->cfg.max_clients + 64) {
			d->m.connections_refused++;
			uint64_t now = mono_ms();
			if (!d->fd_limit_logged_mono || now - d->fd_limit_logged_mono >= FD_LIMIT_LOG_EVERY_MS) {
				d->fd_limit_logged_mono = now;
				sm_error("%d connections are open (max_clients %llu + 64): closing new ones at once "
					 "(%llu so far, sync_manager_connections_refused_total)",
					 d->nconns, (unsigned long long)d->cfg.max_clients,
					 (unsigned long long)d->m.connections_refused);
			}
			close(fd);
			continue;
		}
		if (!conn_new(d, fd))
			close(fd);
	}
}

struct conn *conn_find(struct daemon *d, uint64_t id)
{
	for (struct conn *c = *conn_bucket(d, id); c; c = c->hnext)
		if (c->id == id && !c->closing)
			return c;
	return NULL;
}

static struct ev_tag *tag_of(struct conn *c)
{
	return &((struct conn_box *)c)->tag;
}

static void update_events(struct conn *c)
{
	uint32_t ev = EPOLLRDHUP;
	if (!c->busy)
		ev |= EPOLLIN;
	if (c->out_len > c->out_off)
		ev |= EPOLLOUT;
	ev_mod(c->d, c->fd, ev, tag_of(c));
}

void conn_close(struct conn *c)
{
	if (c->closing)
		return;
	struct daemon *d = c->d;
	c->closing = true;
	ev_del(d, c->fd);
	close(c->fd);
	c->fd = -1;
	if (c->registered) {
		struct proc *p = c->registered;
		c->registered = NULL;
		p->reg = NULL;
		d->on.proc_conn_closed(p);
	}
	/* Unlink now, free after the current epoll batch (later events of the
	 * batch may still point at it).  Jobs find connections by id only. */
	if (c->prev)
		c->prev->next = c->next;
	else
		d->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	for (struct conn **pp = conn_bucket(d, c->id); *pp; pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	d->nconns--;
	c->prev = NULL;
	c->next = d->dead_conns;
	d->dead_conns = c;
	try_resume(d);
}

void conn_free_dead(struct daemon *d)
{
	if (d->accept_paused && mono_ms() >= d->accept_retry_mono)
		try_resume(d);
	while (d->dead_conns) {
		struct conn *c = d->dead_conns;
		d->dead_conns = c->next;
		free(c->in);
		free(c->out);
		free((struct conn_box *)c);
	}
}

/* An idle connection keeps no buffers: thousands of clients that sit
 * registered would otherwise cost 8 KiB (input) + 4 KiB (output) each
 * (issue 19: at most 12 KB per client).  Called when a buffer is empty. */
static void release_empty_buffers(struct conn *c)
{
	if (c->in && c->in_len == 0) {
		free(c->in);
		c->in = NULL;
		c->in_cap = 0;
	}
	if (c->out && c->out_len == 0) {
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
}

static int flush_out(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN)
				return 0;
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c->out_off += (size_t)w;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

/* Append to the output buffer.  Returns 0 or -ENOMEM (nothing queued; the
 * caller closes the connection: its replies can no longer be delivered). */
static int queue_out(struct conn *c, const uint8_t *p, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + n)
			cap *= 2;
		uint8_t *o = realloc(c->out, cap);
		if (!o)
			return -ENOMEM;
		c->out = o;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

/* Decode one request's payload and hand it to the dispatcher. */
static void hand_over(struct conn *c, const uint8_t *payload, size_t len)
{
	struct sm_wire_req rq;
	char why[200];
	int rc = sm_wire_req_decode(c->req.cmd, c->req.flags, payload, len, &rq, why, sizeof(why));
	if (rc < 0) {
		c->d->m.bad_messages++;
		conn_reply_error(c, rc, 0, "malformed %s request: %s", sm_cmd_name(c->req.cmd), why);
		return;
	}
	c->d->dispatch(c, &rq);
	sm_wire_req_free(&rq);
}

/* Parse and dispatch every complete request in the input buffer.  Each
 * message is taken out of the buffer before its handler runs, and replies
 * sent from inside a handler do not re-enter this loop. */
static void process_input(struct conn *c)
{
	if (c->dispatching)
		return;
	c->dispatching = true;
	while (!c->busy && !c->closing && c->in_len >= SM_PROTO_HDR) {
		struct sm_msg_hdr h;
		int rc = sm_hdr_decode(c->in, &h);
		if (rc < 0) {
			/* Cannot trust the framing any more: tell and close. */
			c->d->m.bad_messages++;
			c->req = (struct sm_msg_hdr){.cmd = h.cmd, .seq = h.seq};
			sm_warn("connection %llu (pid %d): bad message header: %s; closing it",
				(unsigned long long)c->id, (int)c->peer_pid, sm_strerror(rc));
			conn_reply_error(c, rc, 0, "bad message header: %s", sm_strerror(rc));
			flush_out(c);
			conn_close(c);
			break;
		}
		size_t total = SM_PROTO_HDR + (size_t)h.length;
		if (c->in_len < total)
			break;
		uint8_t *payload = malloc(h.length ? h.length : 1);
		if (!payload) {
			conn_close(c);
			break;
		}
		memcpy(payload, c->in + SM_PROTO_HDR, h.length);
		memmove(c->in, c->in + total, c->in_len - total);
		c->in_len -= total;
		c->req = h;
		c->busy = true;
		hand_over(c, payload, h.length);
		free(payload);
	}
	c->dispatching = false;
}

void conn_on_event(struct conn *c, uint32_t events)
{
	if (c->closing)
		return;
	if (events & EPOLLOUT) {
		if (flush_out(c) < 0) {
			conn_close(c);
			return;
		}
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		for (;;) {
			if (c->busy)
				break;
			if (c->in_cap - c->in_len < 4096) {
				size_t cap = c->in_cap ? c->in_cap * 2 : 8192;
				if (cap > SM_PROTO_MAX_MSG + 8192) {
					conn_close(c);
					return;
				}
				uint8_t *n = realloc(c->in, cap);
				if (!n) {
					conn_close(c);
					return;
				}
				c->in = n;
				c->in_cap = cap;
			}
			ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
			if (r > 0) {
				c->in_len += (size_t)r;
				process_input(c);
				if (c->closing)
					return;
				continue;
			}
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			/* EOF or error: the peer is gone (for a registration: the
			 * process exited or closed its descriptor). */
			conn_close(c);
			return;
		}
	}
	release_empty_buffers(c);
	update_events(c);
}

void conn_reply(struct conn *c, int result, struct sm_msgbuf *payload)
{
	struct sm_msgbuf own;
	if (!payload) {
		sm_mb_init(&own);
		payload = &own;
	}
	/* Persist first: whatever this reply reports must survive a crash
	 * right after it (a failed save is logged and retried by the saver;
	 * handlers that must not report success without it check it first). */
	if (c->d->persist)
		c->d->persist(c->d);
	struct sm_msg_hdr h = {.cmd = c->req.cmd, .seq = c->req.seq, .result = result};
	int n = sm_mb_finish(payload, &h);
	if (n < 0) {
		/* the reply itself was too big: say so instead */
		sm_mb_free(payload);
		sm_mb_init(payload);
		sm_mb_str(payload, SM_T_MESSAGE, "reply too large");
		h.result = -SM_ETOO_BIG;
		n = sm_mb_finish(payload, &h);
	}
	int qrc = n < 0 ? n : queue_out(c, payload->data, (size_t)n); /* n < 0: even the short error failed */
	sm_mb_free(payload);
	c->busy = false;
	if (qrc < 0) {
		sm_warn("connection %llu (pid %d): out of memory for its replies (%zu bytes queued); closing it",
			(unsigned long long)c->id, (int)c->peer_pid, c->out_len - c->out_off);
		conn_close(c);
		return;
	}
	if (flush_out(c) < 0) {
		conn_close(c);
		return;
	}
	/* More requests may already be buffered. */
	process_input(c);
	if (!c->closing) {
		release_empty_buffers(c);
		update_events(c);
	}
}

void conn_reply_error(struct conn *c, int result, uint32_t owner, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct sm_msgbuf b;
	sm_mb_init(&b);
	sm_mb_str(&b, SM_T_MESSAGE, msg);
	if (owner)
		sm_mb_u32(&b, SM_T_OWNER_ID, owner);
	sm_mb_u32(&b, SM_T_ERROR, (uint32_t)-result);
	conn_reply(c, result, &b);
}
