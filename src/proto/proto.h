/* Client <-> daemon wire protocol (DESIGN §4).
 *
 * Every message: a fixed 24-byte little-endian header, then `length` bytes
 * of payload made of TLVs (tag u16, length u32, value).  A TLV value may
 * itself be a sequence of TLVs (a group).  Requests carry a sequence number
 * that the reply repeats; replies carry a result (0 or a negative error).
 *
 * Decoding never trusts a length: every read is bounds-checked and every
 * malformed input yields -SM_EPROTO.  Messages over SM_PROTO_MAX_MSG are
 * refused with -SM_ETOO_BIG. */
#ifndef SM_PROTO_PROTO_H
#define SM_PROTO_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sync_manager/admin.h"

#define SM_PROTO_MAGIC 0x31504D53u /* "SMP1" */
#define SM_PROTO_VERSION 1
#define SM_PROTO_HDR 24
#define SM_PROTO_MAX_MSG (1u << 20)

enum sm_cmd {
	SM_CMD_REGISTER = 1,
	SM_CMD_ACQUIRE,
	SM_CMD_RELEASE,
	SM_CMD_INQUIRE,
	SM_CMD_CONVERT,
	SM_CMD_JOIN,
	SM_CMD_LEAVE,
	SM_CMD_STATUS,
	SM_CMD_HOSTS,
	SM_CMD_RENEWALS,
	SM_CMD_RESOURCE_ADD,
	SM_CMD_RESOURCE_RM,
	SM_CMD_SET_KILL,
	SM_CMD_REQUEST,
	SM_CMD_SHUTDOWN,
	SM_CMD_METRICS,
	SM_CMD_RECEIVE,
	SM_CMD_MAX_
};
const char *sm_cmd_name(unsigned cmd);

enum sm_tag {
	SM_T_NAME = 1,     /* str */
	SM_T_FLAGS,        /* u32 */
	SM_T_PID,          /* u32 */
	SM_T_RESOURCE,     /* group: a resource in a request or reply */
	SM_T_LOCKSPACE,    /* str */
	SM_T_LOCATION,     /* str "PATH[:OFFSET]", repeated for 3-disk resources */
	SM_T_MODE,         /* u32 enum sm_mode = SM_MODE_EX / SM_MODE_SH (asserted in proto.c) */
	SM_T_VERSION,      /* u64: only at this lease version */
	SM_T_LVER,         /* u64 */
	SM_T_MESSAGE,      /* str: human explanation of an error */
	SM_T_OWNER_ID,     /* u32 */
	SM_T_OWNER_GEN,    /* u64 */
	SM_T_HOST_ID,      /* u32 */
	SM_T_HOST_NAME,    /* str */
	SM_T_GENERATION,   /* u64 */
	SM_T_SECTION,      /* group: {NAME, RECORD*} */
	SM_T_RECORD,       /* group: {KV*} */
	SM_T_KV,           /* group: {KEY, one of STR/U64/I64/BOOL} */
	SM_T_KEY,          /* str */
	SM_T_STR,          /* str */
	SM_T_U64,          /* u64 */
	SM_T_I64,          /* u64 carrying an int64 */
	SM_T_BOOL,         /* u32 0/1 */
	SM_T_KILL_SIGNAL,  /* u32 */
	SM_T_KILL_PATH,    /* str */
	SM_T_KILL_ARG,     /* str, repeated */
	SM_T_KIND,         /* u32 */
	SM_T_TEXT,         /* str (large) */
	SM_T_WAIT_MS,      /* u32 */
	SM_T_ERROR,        /* u32: a negative error code, as -value */
	SM_T_CURSOR,       /* u64: listings: where a page starts (request), where the next one does (reply; 0: none) */
	SM_T_PAGE_SIZE,    /* u32: listings: records wanted at most in one page */
};

/* Request/reply flags. */
enum {
	SM_F_RESTRICT = 1u << 0, /* REGISTER: the connection may do nothing afterwards */
	SM_F_WAIT = 1u << 1,     /* JOIN: reply only once joined; ACQUIRE: wait up to WAIT_MS */
	SM_F_FORCE = 1u << 2,    /* SHUTDOWN, LEAVE: even with leases held */
	SM_F_ALL = 1u << 3,      /* RELEASE: every lease of the pid */
	SM_F_CREATE = 1u << 4,   /* ACQUIRE: add missing resources to the index */
	SM_F_KEEP = 1u << 5,     /* SHUTDOWN: keep leases and the watchdog (restart) */
	SM_F_HANDOFF = 1u << 6,  /* RELEASE: the holder ended well; hand off if asked */
	SM_F_CHILD = 1u << 7,    /* REGISTER: register PID, a child of the caller */
};

struct sm_msg_hdr {
	uint16_t version;
	uint16_t cmd;
	uint32_t seq;
	uint32_t flags;
	uint32_t length;
	int32_t result;
};

void sm_hdr_encode(const struct sm_msg_hdr *h, uint8_t out[SM_PROTO_HDR]);
/* Checks magic, version and size.  -SM_EPROTO_VERSION for another version. */
int sm_hdr_decode(const uint8_t in[SM_PROTO_HDR], struct sm_msg_hdr *h);

/* ---- building payloads ---------------------------------------------------- */
struct sm_msgbuf {
	uint8_t *data; /* starts with room for the header */
	size_t len, cap;
	int err;       /* first error (ENOMEM / too big); later puts do nothing */
};

void sm_mb_init(struct sm_msgbuf *b);
void sm_mb_free(struct sm_msgbuf *b);
void sm_mb_u32(struct sm_msgbuf *b, uint16_t tag, uint32_t v);
void sm_mb_u64(struct sm_msgbuf *b, uint16_t tag, uint64_t v);
void sm_mb_str(struct sm_msgbuf *b, uint16_t tag, const char *s);
void sm_mb_bytes(struct sm_msgbuf *b, uint16_t tag, const void *data, size_t len);
/* Groups nest: begin returns a token to pass to end. */
size_t sm_mb_begin(struct sm_msgbuf *b, uint16_t tag);
void sm_mb_end(struct sm_msgbuf *b, size_t token);
/* Record helpers: one KV each. */
void sm_mb_kv_str(struct sm_msgbuf *b, const char *key, const char *v);
void sm_mb_kv_u64(struct sm_msgbuf *b, const char *key, uint64_t v);
void sm_mb_kv_i64(struct sm_msgbuf *b, const char *key, int64_t v);
void sm_mb_kv_bool(struct sm_msgbuf *b, const char *key, bool v);
/* Fill in the header; returns total bytes to send, or a negative error. */
int sm_mb_finish(struct sm_msgbuf *b, const struct sm_msg_hdr *h);

/* ---- reading payloads ----------------------------------------------------- */
struct sm_tlv_reader {
	const uint8_t *p;
	size_t len, pos;
};

struct sm_tlv {
	uint16_t tag;
	uint32_t len;
	const uint8_t *val;
};

void sm_tr_init(struct sm_tlv_reader *r, const uint8_t *p, size_t len);
/* 1 with *t filled, 0 at the end, -SM_EPROTO on a truncated TLV. */
int sm_tr_next(struct sm_tlv_reader *r, struct sm_tlv *t);
/* Typed values: -SM_EPROTO unless the length matches / the string is clean
 * (no NUL, printable or UTF-8 bytes >= 0x20, fits max-1). */
int sm_tlv_u32(const struct sm_tlv *t, uint32_t *v);
int sm_tlv_u64(const struct sm_tlv *t, uint64_t *v);
int sm_tlv_str(const struct sm_tlv *t, char *buf, size_t max);
/* Read a group as a nested reader. */
void sm_tlv_group(const struct sm_tlv *t, struct sm_tlv_reader *inner);

/* ---- generic records (status listings) ------------------------------------ */
/* Decode one KV group into a public sm_field. */
int sm_field_decode(const struct sm_tlv *t, struct sm_field *f);

#endif
