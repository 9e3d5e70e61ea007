/* Typed requests: the one place where a request payload is read.
 *
 * sm_wire_req_decode() turns a request's TLV payload into struct sm_wire_req
 * once, so the daemon's handlers work on typed fields and never walk TLVs.
 * The encoders for the parts that need more than one TLV (a resource, a
 * kill action) are here too, so the client library and the decoder agree
 * on them by construction.
 *
 * Contract of the decoder:
 * - every length is checked (proto.c); groups may nest at most 4 deep;
 * - a scalar field given twice keeps its first value; unknown tags are
 *   ignored (newer clients); a known tag with a malformed value is refused;
 * - it checks form only (a string is clean and fits, a u32 is 4 bytes);
 *   what a value means (a valid name, a known mode, a joined lockspace) is
 *   the daemon's to judge;
 * - on failure it returns -SM_EPROTO (or -SM_ETOO_BIG for too many
 *   resources or kill arguments) and writes why into the caller's buffer,
 *   naming the field; nothing is left to free then. */
#ifndef SM_PROTO_REQUEST_H
#define SM_PROTO_REQUEST_H

#include "proto.h"

#include "sync_manager/client.h"

#define SM_REQ_NAME_MAX 64
#define SM_REQ_MAX_RESOURCES 4096
#define SM_REQ_MAX_KILL_ARGS 8
#define SM_REQ_KILL_PATH_MAX 256
#define SM_REQ_KILL_ARG_MAX 128

/* Which single-valued fields the payload carried. */
enum sm_req_field {
	SM_RQ_NAME = 1u << 0,
	SM_RQ_PID = 1u << 1,
	SM_RQ_LOCKSPACE = 1u << 2,
	SM_RQ_LOCATION = 1u << 3,
	SM_RQ_HOST_ID = 1u << 4,
	SM_RQ_HOST_NAME = 1u << 5,
	SM_RQ_KIND = 1u << 6,
	SM_RQ_WAIT_MS = 1u << 7,
	SM_RQ_KILL_SIGNAL = 1u << 8,
	SM_RQ_KILL_PATH = 1u << 9,
	SM_RQ_CURSOR = 1u << 10,
	SM_RQ_PAGE_SIZE = 1u << 11,
};

struct sm_req_kill {
	uint32_t signal; /* 0: not given */
	char path[SM_REQ_KILL_PATH_MAX];
	char args[SM_REQ_MAX_KILL_ARGS][SM_REQ_KILL_ARG_MAX];
	int nargs;
};

struct sm_wire_req {
	uint16_t cmd;
	uint32_t flags;
	uint32_t present; /* enum sm_req_field bits */
	char name[SM_REQ_NAME_MAX];
	uint32_t pid; /* 0: the caller's registered process */
	char lockspace[SM_REQ_NAME_MAX];
	char location[SM_LOCATION_MAX];
	uint32_t host_id;
	char host_name[SM_REQ_NAME_MAX];
	uint32_t kind;
	uint32_t wait_ms;
	uint64_t cursor;     /* listings: where the page starts (0: the first) */
	uint32_t page_size;  /* listings: records wanted at most (0: the daemon's choice) */
	struct sm_req_kill kill;
	int nres;                 /* RESOURCE groups, in order */
	struct sm_resource *res;  /* nres entries (NULL when 0); mode 0 = SM_EXCLUSIVE */
};

/* Decode payload p (len bytes) of a request with header fields cmd and
 * flags.  0, or a negative error with why filled (see the contract). */
int sm_wire_req_decode(uint16_t cmd, uint32_t flags, const uint8_t *p, size_t len, struct sm_wire_req *rq, char *why,
		      size_t whylen);
void sm_wire_req_free(struct sm_wire_req *rq);

/* One RESOURCE group for r, in mode (0: r's own mode, or exclusive). */
void sm_req_put_resource(struct sm_msgbuf *b, const struct sm_resource *r, uint32_t mode);
/* KILL_SIGNAL / KILL_PATH / KILL_ARG fields (signal 0 and path NULL: none). */
void sm_req_put_kill(struct sm_msgbuf *b, int signal, const char *path, const char *const *args, int nargs);

#endif
