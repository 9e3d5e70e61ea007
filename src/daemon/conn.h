/* sync_managerd: client connections (conn.c): framing, decoding each
 * request once (proto/request.h) and handing it to d->dispatch, replies,
 * closing.
 *
 * The reply path: conn_reply() (and conn_reply_error(), which calls it) is
 * the only way a reply leaves, and it calls d->persist (state_save) before
 * queuing a byte, so whatever a reply reports survives a crash right after
 * it, for every handler and every late reply (jobs, joins, leaves).
 *
 * Ownership: conn.c owns each struct conn, the lists d->conns and
 * d->dead_conns, the hash d->conn_hash and the listening socket's state at
 * the fd limit (d->accept_paused, the reserve fd); the handlers (cmds*.c) read
 * the request being processed (req) and set the connection's rights
 * (admin, restricted, registered).
 *
 * At the fd limit (accept4 fails with EMFILE or ENFILE) the daemon takes
 * one last connection with its reserve fd (so that a client, the CLI
 * included, gets an answer rather than silence: a registration on it is
 * refused with the reason), stops polling the listening socket (instead of
 * spinning on a socket that stays readable), logs it (once a minute at
 * most) and counts it (sync_manager_fd_limit_total).  New connections wait
 * in the listen backlog (clients give up after their timeout).  It polls
 * the socket again when fds are freed (conn_fds_freed: a connection or a
 * process's pidfd closed) and at the latest after a second, as soon as it
 * can hold its reserve fd again plus one fd to spare. */
#ifndef SM_DAEMON_CONN_H
#define SM_DAEMON_CONN_H

#include "daemon.h"

struct conn {
	struct conn *next, *prev;   /* d->conns */
	struct conn *hnext;         /* d->conn_hash chain */
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
/* After the current epoll batch: free closed connections; retry a paused
 * listening socket whose deadline passed. */
void conn_free_dead(struct daemon *d);
/* An fd of the daemon was closed (another module's, e.g. a pidfd): if
 * accepting was paused at the fd limit, try to resume it. */
void conn_fds_freed(struct daemon *d);
struct conn *conn_find(struct daemon *d, uint64_t id);

#endif
