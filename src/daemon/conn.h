/* sync_managerd: client connections (conn.c): framing, decoding each
 * request once (proto/request.h) and handing it to d->dispatch, replies,
 * closing.
 *
 * The reply path: conn_reply() (and conn_reply_error(), which calls it) is
 * the only way a reply leaves, and it calls d->persist (state_save) before
 * queuing a byte, so whatever a reply reports survives a crash right after
 * it, for every handler and every late reply (jobs, joins, leaves).
 *
 * Ownership: conn.c owns each struct conn and the lists d->conns and
 * d->dead_conns; the handlers (cmds*.c) read the request being processed
 * (req) and set the connection's rights (admin, restricted, registered). */
#ifndef SM_DAEMON_CONN_H
#define SM_DAEMON_CONN_H

#include "daemon.h"

struct conn {
	struct conn *next;
	struct daemon *d;
	int fd;
	pid_t peer_pid;
	uid_t peer_uid;
	gid_t peer_gid;
	bool admin;
	bool restricted;
	struct proc *registered;    /* the process this connection registered */
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_len, out_off, out_cap;
	bool busy;                  /* a request is being processed: read no further */
	bool dispatching;           /* inside process_input (no re-entry) */
	bool closing;
	struct sm_msg_hdr req;      /* the request being processed */
	uint64_t id;
};

int conn_accept(struct daemon *d);
/* Wrap an accepted socket (also used by the request fuzzer). */
struct conn *conn_new(struct daemon *d, int fd);
void conn_on_event(struct conn *c, uint32_t events);
/* Queue a reply to c's current request and resume reading requests. */
void conn_reply(struct conn *c, int result, struct sm_msgbuf *payload);
/* Reply with an error and a message (printf-style). */
void conn_reply_error(struct conn *c, int result, uint32_t owner, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void conn_close(struct conn *c);
void conn_free_dead(struct daemon *d);
struct conn *conn_find(struct daemon *d, uint64_t id);

#endif
