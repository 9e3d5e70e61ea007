/* libsync_manager: the client side of the daemon protocol.  See
 * include/sync_manager/client.h and admin.h. */
#include "sync_manager/admin.h"
#include "sync_manager/client.h"

#include "common/util.h"
#include "proto/proto.h"
#include "proto/request.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct sm_conn {
	int fd;
	unsigned timeout_ms;        /* per call, 0 = none (sm_conn_set_timeout) */
	const volatile sig_atomic_t *cancel; /* sm_conn_set_cancel */
	int broken;                 /* a call gave up mid-message: the stream is out of step */
	uint32_t seq;
	char message[256];
	uint32_t owner;
	uint8_t *reply; /* payload of the last reply */
	size_t reply_len;
};

/* A receive waits in the daemon for up to its wait_ms, plus the settle
 * time of the hand-off and its own I/O: the call waits this much longer. */
#define SM_RECEIVE_MARGIN_MS 60000
/* Connecting waits at most this long even with a longer timeout: a daemon
 * that serves accepts at once; one that does not is hung or out of fds. */
#define SM_CONNECT_TIMEOUT_MAX_MS 30000

const char *sm_version(void) { return SM_VERSION; }

/* Flag bits each call knows; any other bit is refused (see client.h). */
#define REGISTER_FLAGS_KNOWN (SM_REGISTER_RESTRICT | SM_REGISTER_INHERIT)
#define ACQUIRE_FLAGS_KNOWN SM_ACQUIRE_CREATE
#define JOIN_FLAGS_KNOWN SM_JOIN_WAIT
#define SHUTDOWN_FLAGS_KNOWN (SM_SHUTDOWN_FORCE | SM_SHUTDOWN_KEEP)

static int refuse_unknown_flags(sm_conn *c, const char *call, unsigned flags, unsigned known)
{
	unsigned unknown = flags & ~known;
	if (!unknown)
		return 0;
	snprintf(c->message, sizeof(c->message), "%s: unknown flag bits %#x (this library knows %#x)", call, unknown,
		 known);
	return -SM_EBAD_ARGUMENT;
}

/* Reserved fields must be zero, so that they can be given meaning later. */
static int refuse_reserved(sm_conn *c, const char *call, const struct sm_resource *res, int n)
{
	for (int i = 0; i < n; i++)
		for (size_t k = 0; k < sizeof(res[i].reserved) / sizeof(res[i].reserved[0]); k++)
			if (res[i].reserved[k]) {
				snprintf(c->message, sizeof(c->message),
					 "%s: resource %d (%.64s): reserved field %zu is not zero (zero the struct, "
					 "or fill it with sm_resource_parse)",
					 call, i, res[i].name, k);
				return -SM_EBAD_ARGUMENT;
			}
	return 0;
}

static const char *run_dir(void)
{
	const char *d = getenv(SM_RUN_DIR_ENV);
	return d && *d ? d : SM_RUN_DIR_DEFAULT;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* $SYNC_MANAGER_TIMEOUT in seconds (fractions allowed, 0 = none); the
 * default when unset or not a number. */
static unsigned default_timeout_ms(void)
{
	const char *e = getenv(SM_TIMEOUT_ENV);
	if (!e || !*e)
		return SM_TIMEOUT_DEFAULT_MS;
	char *end;
	double s = strtod(e, &end);
	if (*end || s < 0 || s > 4000000)
		return SM_TIMEOUT_DEFAULT_MS;
	return (unsigned)(s * 1000 + 0.5);
}

/* Connect without blocking for longer than timeout_ms: a daemon that does
 * not accept (its listen backlog full, e.g. at its fd limit) makes connect
 * fail with EAGAIN; try again every 20 ms until the deadline. */
static int connect_bounded(int fd, const struct sockaddr_un *sa, unsigned timeout_ms)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	uint64_t deadline = now_ms() + timeout_ms;
	int rc;
	for (;;) {
		if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
			rc = 0;
			break;
		}
		rc = -errno;
		if (rc == -EINTR)
			continue;
		if (rc != -EAGAIN)
			break;
		if (timeout_ms && now_ms() >= deadline) {
			rc = -SM_EDAEMON_TIMEOUT;
			break;
		}
		struct timespec ts = {0, 20 * 1000000L};
		if (nanosleep(&ts, NULL) < 0 && errno == EINTR) {
			rc = -SM_EINTERRUPTED; /* a caught signal (Ctrl-C) ends the wait */
			break;
		}
	}
	if (rc == 0 && fcntl(fd, F_SETFL, fl) < 0)
		rc = -errno;
	return rc;
}

int sm_conn_open(sm_conn **out)
{
	*out = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", run_dir(), SM_SOCKET_NAME) >=
	    sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	unsigned timeout_ms = default_timeout_ms();
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc = connect_bounded(fd, &sa, timeout_ms && timeout_ms < SM_CONNECT_TIMEOUT_MAX_MS ? timeout_ms
											: SM_CONNECT_TIMEOUT_MAX_MS);
	if (rc < 0) {
		close(fd);
		return (rc == -ENOENT || rc == -ECONNREFUSED) ? -SM_ENO_DAEMON : rc;
	}
	sm_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->fd = fd;
	c->timeout_ms = timeout_ms;
	*out = c;
	return 0;
}

void sm_conn_set_timeout(sm_conn *c, unsigned timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

unsigned sm_conn_timeout(const sm_conn *c)
{
	return c->timeout_ms;
}

void sm_conn_set_cancel(sm_conn *c, const volatile sig_atomic_t *flag)
{
	c->cancel = flag;
}

void sm_conn_close(sm_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->reply);
	free(c);
}

int sm_conn_fd(const sm_conn *c) { return c->fd; }
const char *sm_conn_message(const sm_conn *c) { return c->message; }
uint32_t sm_conn_owner(const sm_conn *c) { return c->owner; }

/* Wait until c->fd is ready for events, at most until deadline (0 =
 * none).  Waits in slices of 200 ms so that a cancel flag set by a signal
 * that arrived just before poll() is still seen promptly. */
static int wait_ready(sm_conn *c, short events, uint64_t deadline)
{
	for (;;) {
		if (c->cancel && *c->cancel)
			return -SM_EINTERRUPTED;
		int slice = 200;
		if (deadline) {
			uint64_t now = now_ms();
			if (now >= deadline)
				return -SM_EDAEMON_TIMEOUT;
			if (deadline - now < (uint64_t)slice)
				slice = (int)(deadline - now);
		}
		struct pollfd p = {.fd = c->fd, .events = events};
		int n = poll(&p, 1, slice);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int write_all(sm_conn *c, const uint8_t *p, size_t n, uint64_t deadline)
{
	while (n) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			int rc = wait_ready(c, POLLOUT, deadline);
			if (rc < 0)
				return rc;
			continue;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(sm_conn *c, uint8_t *p, size_t n, uint64_t deadline)
{
	while (n) {
		ssize_t r = recv(c->fd, p, n, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			int rc = wait_ready(c, POLLIN, deadline);
			if (rc < 0)
				return rc;
			continue;
		}
		if (r == 0)
			return -ECONNRESET;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* A call that gave up (timeout, interruption) may leave part of a request
 * or reply in the stream: the connection cannot be used for another call. */
static int give_up(sm_conn *c, int rc)
{
	if (rc == -SM_EDAEMON_TIMEOUT || rc == -SM_EINTERRUPTED) {
		c->broken = rc;
		if (rc == -SM_EDAEMON_TIMEOUT)
			snprintf(c->message, sizeof(c->message),
				 "sync_managerd did not answer within %.1f s (client timeout: %s or "
				 "sm_conn_set_timeout; the daemon may be hung or at its file descriptor limit: see its log)",
				 c->timeout_ms / 1000.0, SM_TIMEOUT_ENV);
		else
			snprintf(c->message, sizeof(c->message), "interrupted while waiting for sync_managerd");
	}
	return rc;
}

/* Send the request in b, wait for its reply.  Returns the daemon's result
 * (and keeps the reply payload in c->reply), or a transport error. */
/* The daemon closed the connection without answering. */
static int went_away(sm_conn *c)
{
	snprintf(c->message, sizeof(c->message),
		 "sync_managerd closed the connection without answering: it stopped, or it refused the connection "
		 "(too many connections: see its log and sync_manager_connections_refused_total)");
	return -SM_ENO_DAEMON;
}

static int transact_for(sm_conn *c, uint16_t cmd, uint32_t flags, struct sm_msgbuf *b, unsigned timeout_ms)
{
	c->message[0] = '\0';
	c->owner = 0;
	if (c->broken) {
		sm_mb_free(b);
		snprintf(c->message, sizeof(c->message),
			 "this connection gave up on an earlier call (%s): close it and open a new one",
			 sm_strerror(c->broken));
		return -SM_EPROTO;
	}
	uint64_t deadline = timeout_ms ? now_ms() + timeout_ms : 0;
	struct sm_msg_hdr h = {.cmd = cmd, .seq = ++c->seq, .flags = flags};
	int n = sm_mb_finish(b, &h);
	if (n < 0) {
		sm_mb_free(b);
		return n;
	}
	int rc = write_all(c, b->data, (size_t)n, deadline);
	sm_mb_free(b);
	if (rc == -EPIPE || rc == -ECONNRESET)
		return went_away(c);
	if (rc < 0)
		return give_up(c, rc);
	uint8_t hb[SM_PROTO_HDR];
	if ((rc = read_all(c, hb, sizeof(hb), deadline)) == -ECONNRESET)
		return went_away(c);
	if (rc < 0)
		return give_up(c, rc);
	struct sm_msg_hdr rh;
	if ((rc = sm_hdr_decode(hb, &rh)) < 0)
		return rc;
	if (rh.seq != h.seq || rh.cmd != cmd)
		return -SM_EPROTO;
	free(c->reply);
	c->reply = malloc(rh.length ? rh.length : 1);
	c->reply_len = rh.length;
	if (!c->reply)
		return -ENOMEM;
	if ((rc = read_all(c, c->reply, rh.length, deadline)) < 0)
		return give_up(c, rc);
	struct sm_tlv_reader r;
	struct sm_tlv t;
	sm_tr_init(&r, c->reply, c->reply_len);
	while (sm_tr_next(&r, &t) > 0) {
		if (t.tag == SM_T_MESSAGE)
			sm_tlv_str(&t, c->message, sizeof(c->message));
		else if (t.tag == SM_T_OWNER_ID)
			sm_tlv_u32(&t, &c->owner);
	}
	if (rh.result < 0 && !c->message[0])
		snprintf(c->message, sizeof(c->message), "%s", sm_strerror(rh.result));
	return rh.result;
}

/* Send the request in b, wait for its reply (at most the connection's
 * timeout).  Returns the daemon's result (and keeps the reply payload in
 * c->reply), or a transport error. */
static int transact(sm_conn *c, uint16_t cmd, uint32_t flags, struct sm_msgbuf *b)
{
	return transact_for(c, cmd, flags, b, c->timeout_ms);
}

int sm_register(sm_conn *c, const char *name, unsigned flags)
{
	return sm_register_kill(c, name, flags, 0, NULL, NULL, 0);
}

int sm_register_kill(sm_conn *c, const char *name, unsigned flags, int signal, const char *path,
		     const char *const *args, int nargs)
{
	int bad = refuse_unknown_flags(c, "sm_register", flags, REGISTER_FLAGS_KNOWN);
	if (bad)
		return bad;
	struct sm_msgbuf b;
	sm_mb_init(&b);
	if (name)
		sm_mb_str(&b, SM_T_NAME, name);
	sm_req_put_kill(&b, signal, path, args, nargs);
	int rc = transact(c, SM_CMD_REGISTER, (flags & SM_REGISTER_RESTRICT) ? SM_F_RESTRICT : 0, &b);
	if (rc == 0 && (flags & SM_REGISTER_INHERIT)) {
		int fl = fcntl(c->fd, F_GETFD);
		if (fl < 0 || fcntl(c->fd, F_SETFD, fl & ~FD_CLOEXEC) < 0)
			return -errno;
	}
	return rc;
}

int sm_register_pid(sm_conn *c, pid_t pid, const char *name)
{
	struct sm_msgbuf b;
	sm_mb_init(&b);
	if (name)
		sm_mb_str(&b, SM_T_NAME, name);
	sm_mb_u32(&b, SM_T_PID, (uint32_t)pid);
	return transact(c, SM_CMD_REGISTER, SM_F_CHILD, &b);
}

/* ---- resources ------------------------------------------------------------ */

static int parse_location_name(const char *s, size_t len, struct sm_resource *r)
{
	/* "PATH[:OFFSET]:NAME" */
	const char *colon = NULL;
	for (size_t i = 0; i < len; i++)
		if (s[i] == ':')
			colon = s + i;
	if (!colon || colon == s || (size_t)(colon - s) >= SM_LOCATION_MAX || r->nlocations == 3)
		return -SM_EBAD_ARGUMENT;
	size_t nlen = len - (size_t)(colon + 1 - s);
	if (nlen == 0 || nlen > SM_NAME_MAX)
		return -SM_EBAD_NAME;
	char name[64];
	memcpy(name, colon + 1, nlen);
	name[nlen] = '\0';
	if (r->name[0] && strcmp(r->name, name) != 0)
		return -SM_EBAD_ARGUMENT; /* one resource, several volumes: same name */
	snprintf(r->name, sizeof(r->name), "%s", name);
	memcpy(r->location[r->nlocations], s, (size_t)(colon - s));
	r->location[r->nlocations][colon - s] = '\0';
	r->nlocations++;
	return 0;
}

int sm_resource_parse(const char *spec, struct sm_resource *r)
{
	memset(r, 0, sizeof(*r));
	r->mode = SM_EXCLUSIVE;
	if (!spec || !*spec)
		return -SM_EBAD_ARGUMENT;
	if (spec[0] == '/') {
		/* one or three "PATH[:OFFSET]:NAME", comma separated */
		const char *p = spec;
		while (*p) {
			const char *comma = strchr(p, ',');
			size_t len = comma ? (size_t)(comma - p) : strlen(p);
			int rc = parse_location_name(p, len, r);
			if (rc < 0)
				return rc;
			p += len + (comma ? 1 : 0);
		}
		if (r->nlocations == 2)
			return -SM_EBAD_ARGUMENT;
		return sm_name_valid(r->name) ? 0 : -SM_EBAD_NAME;
	}
	const char *colon = strchr(spec, ':');
	if (!colon)
		return -SM_EBAD_ARGUMENT;
	size_t alen = (size_t)(colon - spec);
	if (alen == 0 || alen > SM_NAME_MAX)
		return -SM_EBAD_NAME;
	if (colon[1] == '/') {
		/* the seed's form: NAME:PATH[:OFFSET] */
		if (strlen(colon + 1) >= SM_LOCATION_MAX)
			return -SM_EBAD_ARGUMENT;
		memcpy(r->name, spec, alen);
		snprintf(r->location[0], SM_LOCATION_MAX, "%s", colon + 1);
		r->nlocations = 1;
		return sm_name_valid(r->name) ? 0 : -SM_EBAD_NAME;
	}
	memcpy(r->lockspace, spec, alen);
	if (strlen(colon + 1) > SM_NAME_MAX)
		return -SM_EBAD_NAME;
	snprintf(r->name, sizeof(r->name), "%s", colon + 1);
	return sm_name_valid(r->lockspace) && sm_name_valid(r->name) ? 0 : -SM_EBAD_NAME;
}


/* Parse RESOURCE groups of the last reply into lease infos. */
static int parse_leases(sm_conn *c, struct sm_lease_info *out, int max)
{
	struct sm_tlv_reader r, in;
	struct sm_tlv t, x;
	int n = 0, rc;
	sm_tr_init(&r, c->reply, c->reply_len);
	while ((rc = sm_tr_next(&r, &t)) > 0) {
		if (t.tag != SM_T_RESOURCE)
			continue;
		struct sm_lease_info li = {0};
		sm_tlv_group(&t, &in);
		while ((rc = sm_tr_next(&in, &x)) > 0) {
			if (x.tag == SM_T_NAME)
				rc = sm_tlv_str(&x, li.name, sizeof(li.name));
			else if (x.tag == SM_T_LOCKSPACE)
				rc = sm_tlv_str(&x, li.lockspace, sizeof(li.lockspace));
			else if (x.tag == SM_T_LVER)
				rc = sm_tlv_u64(&x, &li.lver);
			else if (x.tag == SM_T_MODE)
				rc = sm_tlv_u32(&x, &li.mode);
			if (rc < 0)
				return rc;
		}
		if (rc < 0)
			return rc;
		if (out && n < max)
			out[n] = li;
		n++;
	}
	return rc < 0 ? rc : n;
}

int sm_acquire(sm_conn *c, pid_t pid, const struct sm_resource *res, int n, unsigned flags,
	       struct sm_lease_info *out)
{
	if (n <= 0)
		return -SM_EBAD_ARGUMENT;
	int bad = refuse_unknown_flags(c, "sm_acquire", flags, ACQUIRE_FLAGS_KNOWN);
	if (!bad)
		bad = refuse_reserved(c, "sm_acquire", res, n);
	if (bad)
		return bad;
	struct sm_msgbuf b;
	sm_mb_init(&b);
	sm_mb_u32(&b, SM_T_PID, (uint32_t)pid);
	for (int i = 0; i < n; i++)
		sm_req_put_resource(&b, &res[i], 0);
	int rc = transact(c, SM_CMD_ACQUIRE, (flags & SM_ACQUIRE_CREATE) ? SM_F_CREATE : 0, &b);
	if (rc == 0 && out)
		rc = parse_leases(c, out, n) < 0 ? -SM_EPROTO : 0;
	return rc;
}

int sm_release(sm_conn *c, pid_t pid, const struct sm_resource *res, int n)
{
	int bad = refuse_reserved(c, "sm_release", res, n);
	if (bad)
		return bad;
	struct sm_msgbuf b;
	sm_mb_init(&b);
	sm_mb_u32(&b, SM_T_PID, (uint32_t)pid);
	for (int i = 0; i < n; i++)
		sm_req_put_resource(&b, &res[i], 0);
	return transact(c, SM_CMD_RELEASE, n == 0 ? SM_F_ALL : 0, &b);
}

int sm_release_handoff(sm_conn *c, pid_t pid)
{
	struct sm_msgbuf b;
	sm_mb_init(&b);
	sm_mb_u32(&b, SM_T_PID, (uint32_t)pid);
	return transact(c, SM_CMD_RELEASE, SM_F_ALL | SM_F_HANDOFF, &b);
}

int sm_receive(sm_conn *c, pid_t pid, const struct sm_resource *res, unsigned wait_ms, struct sm_lease_info *out)
{
	int bad = refuse_reserved(c, "sm_receive", res, 1);
	if (bad)
		return bad;
	struct sm_msgbuf b;
	sm_mb_init(&b);
	sm_mb_u32(&b, SM_T_PID, (uint32_t)pid);
	sm_mb_u32(&b, SM_T_WAIT_MS, wait_ms);
	sm_req_put_resource(&b, res, SM_EXCLUSIVE);
	/* the daemon waits up to wait_ms (60 s when 0) for the hand-off */
	uint64_t need = (uint64_t)(wait_ms ? wait_ms : 60000) + SM_RECEIVE_MARGIN_MS;
	unsigned t = c->timeout_ms && c->timeout_ms < need ? (unsigned)SM_MIN(need, UINT32_MAX) : c->timeout_ms;
	int rc = transact_for(c, SM_CMD_RECEIVE, 0, &b, t);
	if (rc == 0 && out)
		rc = parse_leases(c, out, 1) < 0 ? -SM_EPROTO : 0;
	return rc;
}

int sm_inquire(sm_conn *c, pid_t pid, struct sm_lease_info **out)
{
	*out = NULL;
	struct sm_msgbuf b;
	sm_mb_init(&b);
	sm_mb_u32(&b, SM_T_PID, (uint32_t)pid);
	int rc = transact(c, SM_CMD_INQUIRE, 0, &b);
	if (rc < 0)
		return rc;
	int n = parse_leases(c, NULL, 0);
	if (n <= 0)
		return n;
	*out = calloc((size_t)n, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	return parse_leases(c, *out, n);
}

int sm_convert(sm_conn *c, pid_t pid, const struct sm_resource *res, uint32_t mode)
{
	int bad = refuse_reserved(c, "sm_convert", res, 1);
	if (bad)
		return bad;
	struct sm_msgbuf b;
	sm_mb_init(&b);
	sm_mb_u32(&b, SM_T_PID, (uint32_t)pid);
	sm_req_put_resource(&b, res, mode);
	return transact(c, SM_CMD_CONVERT, 0, &b);
}

int sm_set_kill(sm_conn *c, pid_t pid, int signal, const char *path, const char *const *args, int nargs)
{
	struct sm_msgbuf b;
	sm_mb_init(&b);
	sm_mb_u32(&b, SM_T_PID, (uint32_t)pid);
	sm_req_put_kill(&b, signal, path, args, nargs);
	return transact(c, SM_CMD_SET_KILL, 0, &b);
}

/* ---- admin ---------------------------------------------------------------- */

int sm_join(sm_conn *c, const char *location, uint32_t host_id, const char *host_name, unsigned flags)
{
	int bad = refuse_unknown_flags(c, "sm_join", flags, JOIN_FLAGS_KNOWN);
	if (bad)
		return bad;
	struct sm_msgbuf b;
	sm_mb_init(&b);
	sm_mb_str(&b, SM_T_LOCATION, location);
	if (host_id)
		sm_mb_u32(&b, SM_T_HOST_ID, host_id);
	if (host_name)
		sm_mb_str(&b, SM_T_HOST_NAME, host_name);
	return transact(c, SM_CMD_JOIN, (flags & SM_JOIN_WAIT) ? SM_F_WAIT : 0, &b);
}

int sm_leave(sm_conn *c, const char *lockspace, bool force)
{
	struct sm_msgbuf b;
	sm_mb_init(&b);
	sm_mb_str(&b, SM_T_LOCKSPACE, lockspace);
	return transact(c, SM_CMD_LEAVE, (force ? SM_F_FORCE : 0) | SM_F_WAIT, &b);
}

void sm_report_free(struct sm_report *r)
{
	if (!r)
		return;
	for (int s = 0; s < r->nsections; s++) {
		for (int i = 0; i < r->sections[s].nrecords; i++)
			free(r->sections[s].records[i].fields);
		free(r->sections[s].records);
	}
	free(r->sections);
	free(r);
}

const struct sm_section *sm_report_section(const struct sm_report *r, const char *name)
{
	for (int s = 0; s < r->nsections; s++)
		if (strcmp(r->sections[s].name, name) == 0)
			return &r->sections[s];
	return NULL;
}

const struct sm_field *sm_record_field(const struct sm_record *rec, const char *key)
{
	for (int i = 0; i < rec->nfields; i++)
		if (strcmp(rec->fields[i].key, key) == 0)
			return &rec->fields[i];
	return NULL;
}

static void *grow(void *p, int n, size_t size)
{
	return realloc(p, (size_t)(n + 1) * size);
}

static int parse_record(const struct sm_tlv *t, struct sm_record *rec)
{
	struct sm_tlv_reader r;
	struct sm_tlv x;
	int rc;
	sm_tlv_group(t, &r);
	while ((rc = sm_tr_next(&r, &x)) > 0) {
		struct sm_field *f = grow(rec->fields, rec->nfields, sizeof(*f));
		if (!f)
			return -ENOMEM;
		rec->fields = f;
		if ((rc = sm_field_decode(&x, &rec->fields[rec->nfields])) < 0)
			return rc;
		rec->nfields++;
	}
	return rc;
}

/* The section of rep named name, added (empty) when it has none yet. */
static struct sm_section *section_named(struct sm_report *rep, const char *name)
{
	for (int i = 0; i < rep->nsections; i++)
		if (strcmp(rep->sections[i].name, name) == 0)
			return &rep->sections[i];
	struct sm_section *s = grow(rep->sections, rep->nsections, sizeof(*s));
	if (!s)
		return NULL;
	rep->sections = s;
	s = &rep->sections[rep->nsections++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	return s;
}

/* One SECTION group's records appended to rep's section of that name. */
static int merge_section(struct sm_report *rep, const struct sm_tlv *t)
{
	struct sm_tlv_reader in;
	struct sm_tlv x;
	char name[sizeof(rep->sections[0].name)] = "";
	int rc;
	sm_tlv_group(t, &in);
	while ((rc = sm_tr_next(&in, &x)) > 0)
		if (x.tag == SM_T_NAME && (rc = sm_tlv_str(&x, name, sizeof(name))) < 0)
			return rc;
	if (rc < 0)
		return rc;
	struct sm_section *s = section_named(rep, name);
	if (!s)
		return -ENOMEM;
	sm_tlv_group(t, &in);
	while ((rc = sm_tr_next(&in, &x)) > 0) {
		if (x.tag != SM_T_RECORD)
			continue;
		struct sm_record *rec = grow(s->records, s->nrecords, sizeof(*rec));
		if (!rec)
			return -ENOMEM;
		s->records = rec;
		rec = &s->records[s->nrecords++];
		memset(rec, 0, sizeof(*rec));
		if ((rc = parse_record(&x, rec)) < 0)
			return rc;
	}
	return rc;
}

/* One page of a listing into rep; *next: the next page's cursor (0: none). */
static int parse_report_page(sm_conn *c, struct sm_report *rep, uint64_t *next)
{
	struct sm_tlv_reader r;
	struct sm_tlv t;
	int rc;
	*next = 0;
	sm_tr_init(&r, c->reply, c->reply_len);
	while ((rc = sm_tr_next(&r, &t)) > 0) {
		if (t.tag == SM_T_SECTION)
			rc = merge_section(rep, &t);
		else if (t.tag == SM_T_CURSOR)
			rc = sm_tlv_u64(&t, next);
		if (rc < 0)
			return rc;
	}
	return rc;
}

/* Records per page asked of the daemon: SYNC_MANAGER_LIST_PAGE_SIZE (a
 * testing knob), else the daemon's choice. */
static uint32_t page_size(void)
{
	const char *e = getenv("SYNC_MANAGER_LIST_PAGE_SIZE");
	unsigned long v = e && *e ? strtoul(e, NULL, 10) : 0;
	return v > 0 && v <= UINT32_MAX ? (uint32_t)v : 0;
}

/* A listing, page by page, merged into one report: the daemon pages when
 * asked with a CURSOR (an older daemon ignores it and sends one reply). */
static int report_call(sm_conn *c, uint16_t cmd, const char *lockspace, struct sm_report **out)
{
	*out = NULL;
	struct sm_report *rep = calloc(1, sizeof(*rep));
	if (!rep)
		return -ENOMEM;
	uint64_t cursor = 0, next = 0;
	uint32_t psize = page_size();
	int rc;
	do {
		struct sm_msgbuf b;
		sm_mb_init(&b);
		if (lockspace)
			sm_mb_str(&b, SM_T_LOCKSPACE, lockspace);
		sm_mb_u64(&b, SM_T_CURSOR, cursor);
		if (psize)
			sm_mb_u32(&b, SM_T_PAGE_SIZE, psize);
		rc = transact(c, cmd, 0, &b);
		if (rc == 0)
			rc = parse_report_page(c, rep, &next);
		if (rc == 0 && next && next == cursor)
			rc = -SM_EPROTO; /* a page that does not move on */
		cursor = next;
	} while (rc == 0 && next);
	if (rc < 0) {
		sm_report_free(rep);
		return rc;
	}
	*out = rep;
	return 0;
}

int sm_status(sm_conn *c, struct sm_report **out) { return report_call(c, SM_CMD_STATUS, NULL, out); }
int sm_hosts(sm_conn *c, const char *ls, struct sm_report **out) { return report_call(c, SM_CMD_HOSTS, ls, out); }
int sm_renewals(sm_conn *c, const char *ls, struct sm_report **out)
{
	return report_call(c, SM_CMD_RENEWALS, ls, out);
}

static int resource_call(sm_conn *c, uint16_t cmd, const char *lockspace, const char *name)
{
	struct sm_msgbuf b;
	sm_mb_init(&b);
	sm_mb_str(&b, SM_T_LOCKSPACE, lockspace);
	sm_mb_str(&b, SM_T_NAME, name);
	return transact(c, cmd, 0, &b);
}

int sm_resource_create(sm_conn *c, const char *ls, const char *name)
{
	return resource_call(c, SM_CMD_RESOURCE_ADD, ls, name);
}

int sm_resource_delete(sm_conn *c, const char *ls, const char *name)
{
	return resource_call(c, SM_CMD_RESOURCE_RM, ls, name);
}

int sm_request(sm_conn *c, const struct sm_resource *res, int kind)
{
	int bad = refuse_reserved(c, "sm_request", res, 1);
	if (bad)
		return bad;
	struct sm_msgbuf b;
	sm_mb_init(&b);
	sm_req_put_resource(&b, res, 0);
	sm_mb_u32(&b, SM_T_KIND, (uint32_t)kind);
	return transact(c, SM_CMD_REQUEST, 0, &b);
}

int sm_metrics(sm_conn *c, char **text)
{
	*text = NULL;
	struct sm_msgbuf b;
	sm_mb_init(&b);
	int rc = transact(c, SM_CMD_METRICS, 0, &b);
	if (rc < 0)
		return rc;
	struct sm_tlv_reader r;
	struct sm_tlv t;
	sm_tr_init(&r, c->reply, c->reply_len);
	while (sm_tr_next(&r, &t) > 0)
		if (t.tag == SM_T_TEXT) {
			*text = strndup((const char *)t.val, t.len);
			return *text ? 0 : -ENOMEM;
		}
	return -SM_EPROTO;
}

int sm_shutdown(sm_conn *c, unsigned flags)
{
	int bad = refuse_unknown_flags(c, "sm_shutdown", flags, SHUTDOWN_FLAGS_KNOWN);
	if (bad)
		return bad;
	struct sm_msgbuf b;
	sm_mb_init(&b);
	uint32_t f = ((flags & SM_SHUTDOWN_FORCE) ? SM_F_FORCE : 0) | ((flags & SM_SHUTDOWN_KEEP) ? SM_F_KEEP : 0);
	return transact(c, SM_CMD_SHUTDOWN, f, &b);
}
