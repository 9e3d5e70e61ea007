/* Wire protocol encoding and bounds-checked decoding.  See proto.h. */
#include "proto.h"

#include "common/le.h"
#include "ondisk/records.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A lease mode travels unchanged from the public API (enum sm_mode) over the
 * wire (SM_T_MODE) to the on-disk leader and mode block (enum sm_lease_mode)
 * and back: the three encodings are one. */
_Static_assert((int)SM_EXCLUSIVE == (int)SM_MODE_EX && (int)SM_SHARED == (int)SM_MODE_SH,
	       "public and on-disk lease modes differ");
_Static_assert((int)SM_MODE_FREE != (int)SM_EXCLUSIVE && (int)SM_MODE_FREE != (int)SM_SHARED, "mode 0 means unset/free");
_Static_assert(sizeof(((struct sm_lease_info *)0)->mode) == sizeof(uint32_t) &&
		       sizeof(((struct sm_resource *)0)->mode) == sizeof(uint32_t),
	       "SM_T_MODE is a u32");

const char *sm_cmd_name(unsigned cmd)
{
	static const char *const names[] = {
		"?", "register", "acquire", "release", "inquire", "convert", "join", "leave", "status", "hosts",
		"renewals", "resource-add", "resource-rm", "set-kill", "request", "shutdown", "metrics", "receive"};
	return cmd < sizeof(names) / sizeof(names[0]) ? names[cmd] : "?";
}

void sm_hdr_encode(const struct sm_msg_hdr *h, uint8_t out[SM_PROTO_HDR])
{
	sm_put_le32(out, SM_PROTO_MAGIC);
	sm_put_le16(out + 4, h->version ? h->version : SM_PROTO_VERSION);
	sm_put_le16(out + 6, h->cmd);
	sm_put_le32(out + 8, h->seq);
	sm_put_le32(out + 12, h->flags);
	sm_put_le32(out + 16, h->length);
	sm_put_le32(out + 20, (uint32_t)h->result);
}

int sm_hdr_decode(const uint8_t in[SM_PROTO_HDR], struct sm_msg_hdr *h)
{
	if (sm_get_le32(in) != SM_PROTO_MAGIC)
		return -SM_EPROTO;
	h->version = sm_get_le16(in + 4);
	h->cmd = sm_get_le16(in + 6);
	h->seq = sm_get_le32(in + 8);
	h->flags = sm_get_le32(in + 12);
	h->length = sm_get_le32(in + 16);
	h->result = (int32_t)sm_get_le32(in + 20);
	if (h->version != SM_PROTO_VERSION)
		return -SM_EPROTO_VERSION;
	if (h->length > SM_PROTO_MAX_MSG - SM_PROTO_HDR)
		return -SM_ETOO_BIG;
	return 0;
}

/* ---- building ------------------------------------------------------------- */

void sm_mb_init(struct sm_msgbuf *b)
{
	b->cap = 512;
	b->data = calloc(1, b->cap);
	b->len = SM_PROTO_HDR;
	b->err = b->data ? 0 : -ENOMEM;
}

void sm_mb_free(struct sm_msgbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static uint8_t *reserve(struct sm_msgbuf *b, size_t n)
{
	if (b->err)
		return NULL;
	if (b->len + n > SM_PROTO_MAX_MSG) {
		b->err = -SM_ETOO_BIG;
		return NULL;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap * 2;
		while (cap < b->len + n)
			cap *= 2;
		uint8_t *d = realloc(b->data, cap);
		if (!d) {
			b->err = -ENOMEM;
			return NULL;
		}
		b->data = d;
		b->cap = cap;
	}
	uint8_t *p = b->data + b->len;
	b->len += n;
	return p;
}

static void put_tlv(struct sm_msgbuf *b, uint16_t tag, const void *val, uint32_t len)
{
	uint8_t *p = reserve(b, 6 + (size_t)len);
	if (!p)
		return;
	sm_put_le16(p, tag);
	sm_put_le32(p + 2, len);
	if (len)
		memcpy(p + 6, val, len);
}

void sm_mb_u32(struct sm_msgbuf *b, uint16_t tag, uint32_t v)
{
	uint8_t x[4];
	sm_put_le32(x, v);
	put_tlv(b, tag, x, 4);
}

void sm_mb_u64(struct sm_msgbuf *b, uint16_t tag, uint64_t v)
{
	uint8_t x[8];
	sm_put_le64(x, v);
	put_tlv(b, tag, x, 8);
}

void sm_mb_str(struct sm_msgbuf *b, uint16_t tag, const char *s)
{
	put_tlv(b, tag, s, (uint32_t)strlen(s));
}

void sm_mb_bytes(struct sm_msgbuf *b, uint16_t tag, const void *data, size_t len)
{
	if (len > SM_PROTO_MAX_MSG) {
		b->err = -SM_ETOO_BIG;
		return;
	}
	put_tlv(b, tag, data, (uint32_t)len);
}

size_t sm_mb_begin(struct sm_msgbuf *b, uint16_t tag)
{
	size_t at = b->len;
	put_tlv(b, tag, NULL, 0);
	return at;
}

void sm_mb_end(struct sm_msgbuf *b, size_t token)
{
	if (b->err)
		return;
	sm_put_le32(b->data + token + 2, (uint32_t)(b->len - token - 6));
}

void sm_mb_kv_str(struct sm_msgbuf *b, const char *key, const char *v)
{
	size_t g = sm_mb_begin(b, SM_T_KV);
	sm_mb_str(b, SM_T_KEY, key);
	sm_mb_str(b, SM_T_STR, v ? v : "");
	sm_mb_end(b, g);
}

void sm_mb_kv_u64(struct sm_msgbuf *b, const char *key, uint64_t v)
{
	size_t g = sm_mb_begin(b, SM_T_KV);
	sm_mb_str(b, SM_T_KEY, key);
	sm_mb_u64(b, SM_T_U64, v);
	sm_mb_end(b, g);
}

void sm_mb_kv_i64(struct sm_msgbuf *b, const char *key, int64_t v)
{
	size_t g = sm_mb_begin(b, SM_T_KV);
	sm_mb_str(b, SM_T_KEY, key);
	sm_mb_u64(b, SM_T_I64, (uint64_t)v);
	sm_mb_end(b, g);
}

void sm_mb_kv_bool(struct sm_msgbuf *b, const char *key, bool v)
{
	size_t g = sm_mb_begin(b, SM_T_KV);
	sm_mb_str(b, SM_T_KEY, key);
	sm_mb_u32(b, SM_T_BOOL, v);
	sm_mb_end(b, g);
}

int sm_mb_finish(struct sm_msgbuf *b, const struct sm_msg_hdr *h)
{
	if (b->err)
		return b->err;
	struct sm_msg_hdr hh = *h;
	hh.length = (uint32_t)(b->len - SM_PROTO_HDR);
	sm_hdr_encode(&hh, b->data);
	return (int)b->len;
}

/* ---- reading -------------------------------------------------------------- */

void sm_tr_init(struct sm_tlv_reader *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->pos = 0;
}

int sm_tr_next(struct sm_tlv_reader *r, struct sm_tlv *t)
{
	if (r->pos == r->len)
		return 0;
	if (r->len - r->pos < 6)
		return -SM_EPROTO;
	const uint8_t *p = r->p + r->pos;
	uint32_t len = sm_get_le32(p + 2);
	if (len > r->len - r->pos - 6)
		return -SM_EPROTO;
	t->tag = sm_get_le16(p);
	t->len = len;
	t->val = p + 6;
	r->pos += 6 + (size_t)len;
	return 1;
}

int sm_tlv_u32(const struct sm_tlv *t, uint32_t *v)
{
	if (t->len != 4)
		return -SM_EPROTO;
	*v = sm_get_le32(t->val);
	return 0;
}

int sm_tlv_u64(const struct sm_tlv *t, uint64_t *v)
{
	if (t->len != 8)
		return -SM_EPROTO;
	*v = sm_get_le64(t->val);
	return 0;
}

int sm_tlv_str(const struct sm_tlv *t, char *buf, size_t max)
{
	if (max == 0 || t->len >= max)
		return -SM_EPROTO;
	for (uint32_t i = 0; i < t->len; i++)
		if (t->val[i] < 0x20 || t->val[i] == 0x7f)
			return -SM_EPROTO; /* no NUL, newline or control characters */
	memcpy(buf, t->val, t->len);
	buf[t->len] = '\0';
	return 0;
}

void sm_tlv_group(const struct sm_tlv *t, struct sm_tlv_reader *inner)
{
	sm_tr_init(inner, t->val, t->len);
}

int sm_field_decode(const struct sm_tlv *t, struct sm_field *kv)
{
	if (t->tag != SM_T_KV)
		return -SM_EPROTO;
	memset(kv, 0, sizeof(*kv));
	struct sm_tlv_reader r;
	struct sm_tlv x;
	int rc, have_key = 0, have_val = 0;
	uint32_t b;
	sm_tlv_group(t, &r);
	while ((rc = sm_tr_next(&r, &x)) > 0) {
		switch (x.tag) {
		case SM_T_KEY: rc = sm_tlv_str(&x, kv->key, sizeof(kv->key)); have_key = 1; break;
		case SM_T_STR: kv->type = SM_FIELD_STR; rc = sm_tlv_str(&x, kv->str, sizeof(kv->str)); have_val = 1; break;
		case SM_T_U64: kv->type = SM_FIELD_U64; rc = sm_tlv_u64(&x, &kv->u64); have_val = 1; break;
		case SM_T_I64:
			kv->type = SM_FIELD_I64;
			rc = sm_tlv_u64(&x, &kv->u64);
			kv->i64 = (int64_t)kv->u64;
			have_val = 1;
			break;
		case SM_T_BOOL: kv->type = SM_FIELD_BOOL; rc = sm_tlv_u32(&x, &b); kv->b = b != 0; have_val = 1; break;
		default: rc = -SM_EPROTO;
		}
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	return have_key && have_val ? 0 : -SM_EPROTO;
}
