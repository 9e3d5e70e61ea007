/* Typed requests: decoding a request payload once, and the encoders the
 * client library shares with it.  See request.h for the contract. */
#include "request.h"

#include "sync_manager/errors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUP_DEPTH 3

static bool is_group(uint16_t tag)
{
	return tag == SM_T_RESOURCE || tag == SM_T_SECTION || tag == SM_T_RECORD || tag == SM_T_KV;
}

/* The TLV framing of the whole payload, groups included, is sound. */
static int check_framing(const uint8_t *p, size_t len, int depth)
{
	struct sm_tlv_reader r;
	struct sm_tlv t;
	int rc;
	sm_tr_init(&r, p, len);
	while ((rc = sm_tr_next(&r, &t)) > 0)
		if (is_group(t.tag) && (depth > MAX_GROUP_DEPTH || check_framing(t.val, t.len, depth + 1) < 0))
			return -SM_EPROTO;
	return rc;
}

static const char *tag_label(uint16_t tag)
{
	switch (tag) {
	case SM_T_NAME: return "NAME";
	case SM_T_PID: return "PID";
	case SM_T_LOCKSPACE: return "LOCKSPACE";
	case SM_T_LOCATION: return "LOCATION";
	case SM_T_MODE: return "MODE";
	case SM_T_VERSION: return "VERSION";
	case SM_T_HOST_ID: return "HOST_ID";
	case SM_T_HOST_NAME: return "HOST_NAME";
	case SM_T_KIND: return "KIND";
	case SM_T_WAIT_MS: return "WAIT_MS";
	case SM_T_KILL_SIGNAL: return "KILL_SIGNAL";
	case SM_T_KILL_PATH: return "KILL_PATH";
	case SM_T_KILL_ARG: return "KILL_ARG";
	case SM_T_CURSOR: return "CURSOR";
	case SM_T_PAGE_SIZE: return "PAGE_SIZE";
	default: return "?";
	}
}

/* A malformed value of a known field: why names it. */
static int bad_field(const struct sm_tlv *t, size_t max, char *why, size_t whylen)
{
	const char *kill = t->tag == SM_T_KILL_SIGNAL || t->tag == SM_T_KILL_PATH || t->tag == SM_T_KILL_ARG ? "malformed kill action: " : "";
	if (max)
		snprintf(why, whylen, "%sfield %s is not a clean string of at most %u bytes", kill, tag_label(t->tag),
			 (unsigned)(max - 1));
	else
		snprintf(why, whylen, "%sfield %s has a malformed value (%u bytes)", kill, tag_label(t->tag),
			 (unsigned)t->len);
	return -SM_EPROTO;
}

/* Fields kept once: the first occurrence wins. */
static int take_str(const struct sm_tlv *t, struct sm_wire_req *rq, uint32_t bit, char *buf, size_t max, char *why,
		    size_t whylen)
{
	char tmp[SM_LOCATION_MAX];
	if (max > sizeof(tmp) || sm_tlv_str(t, tmp, max) < 0)
		return bad_field(t, max, why, whylen);
	if (!(rq->present & bit))
		memcpy(buf, tmp, strlen(tmp) + 1);
	rq->present |= bit;
	return 0;
}

static int take_u32(const struct sm_tlv *t, struct sm_wire_req *rq, uint32_t bit, uint32_t *v, char *why, size_t whylen)
{
	uint32_t x;
	if (sm_tlv_u32(t, &x) < 0)
		return bad_field(t, 0, why, whylen);
	if (!(rq->present & bit))
		*v = x;
	rq->present |= bit;
	return 0;
}

static int take_kill_arg(const struct sm_tlv *t, struct sm_wire_req *rq, char *why, size_t whylen)
{
	struct sm_req_kill *k = &rq->kill;
	if (k->nargs == SM_REQ_MAX_KILL_ARGS) {
		snprintf(why, whylen, "malformed kill action: more than %d KILL_ARG fields", SM_REQ_MAX_KILL_ARGS);
		return -SM_ETOO_BIG;
	}
	if (sm_tlv_str(t, k->args[k->nargs], sizeof(k->args[0])) < 0)
		return bad_field(t, sizeof(k->args[0]), why, whylen);
	k->nargs++;
	return 0;
}

/* One RESOURCE group into r. */
static int decode_resource(const struct sm_tlv *g, struct sm_resource *r, int index, char *why, size_t whylen)
{
	struct sm_tlv_reader in;
	struct sm_tlv t;
	int rc;
	bool have_mode = false;
	memset(r, 0, sizeof(*r));
	r->mode = SM_EXCLUSIVE;
	sm_tlv_group(g, &in);
	while ((rc = sm_tr_next(&in, &t)) > 0) {
		switch (t.tag) {
		case SM_T_LOCKSPACE: rc = sm_tlv_str(&t, r->lockspace, sizeof(r->lockspace)); break;
		case SM_T_NAME: rc = sm_tlv_str(&t, r->name, sizeof(r->name)); break;
		case SM_T_MODE:
			rc = have_mode ? 0 : sm_tlv_u32(&t, &r->mode);
			have_mode = true;
			break;
		case SM_T_VERSION: rc = sm_tlv_u64(&t, &r->version); r->at_version = true; break;
		case SM_T_LOCATION:
			if (r->nlocations == 3) {
				snprintf(why, whylen, "resource %d names more than 3 locations", index + 1);
				return -SM_EPROTO;
			}
			rc = sm_tlv_str(&t, r->location[r->nlocations++], SM_LOCATION_MAX);
			break;
		default: break; /* unknown tags are ignored: newer clients */
		}
		if (rc < 0) {
			snprintf(why, whylen, "resource %d: field %s is malformed", index + 1, tag_label(t.tag));
			return -SM_EPROTO;
		}
	}
	return 0;
}

static int decode_resources(const uint8_t *p, size_t len, struct sm_wire_req *rq, char *why, size_t whylen)
{
	struct sm_tlv_reader r;
	struct sm_tlv t;
	int n = 0;
	sm_tr_init(&r, p, len);
	while (sm_tr_next(&r, &t) > 0)
		n += t.tag == SM_T_RESOURCE;
	if (n == 0)
		return 0;
	if (n > SM_REQ_MAX_RESOURCES) {
		snprintf(why, whylen, "at most %d resources per request", SM_REQ_MAX_RESOURCES);
		return -SM_ETOO_BIG;
	}
	rq->res = calloc((size_t)n, sizeof(*rq->res));
	if (!rq->res) {
		snprintf(why, whylen, "out of memory for %d resources", n);
		return -ENOMEM;
	}
	sm_tr_init(&r, p, len);
	while (sm_tr_next(&r, &t) > 0) {
		if (t.tag != SM_T_RESOURCE)
			continue;
		int rc = decode_resource(&t, &rq->res[rq->nres], rq->nres, why, whylen);
		if (rc < 0)
			return rc;
		rq->nres++;
	}
	return 0;
}

static int decode_field(const struct sm_tlv *t, struct sm_wire_req *rq, char *why, size_t whylen)
{
	switch (t->tag) {
	case SM_T_NAME: return take_str(t, rq, SM_RQ_NAME, rq->name, sizeof(rq->name), why, whylen);
	case SM_T_PID: return take_u32(t, rq, SM_RQ_PID, &rq->pid, why, whylen);
	case SM_T_LOCKSPACE: return take_str(t, rq, SM_RQ_LOCKSPACE, rq->lockspace, sizeof(rq->lockspace), why, whylen);
	case SM_T_LOCATION: return take_str(t, rq, SM_RQ_LOCATION, rq->location, sizeof(rq->location), why, whylen);
	case SM_T_HOST_ID: return take_u32(t, rq, SM_RQ_HOST_ID, &rq->host_id, why, whylen);
	case SM_T_HOST_NAME: return take_str(t, rq, SM_RQ_HOST_NAME, rq->host_name, sizeof(rq->host_name), why, whylen);
	case SM_T_KIND: return take_u32(t, rq, SM_RQ_KIND, &rq->kind, why, whylen);
	case SM_T_WAIT_MS: return take_u32(t, rq, SM_RQ_WAIT_MS, &rq->wait_ms, why, whylen);
	case SM_T_PAGE_SIZE: return take_u32(t, rq, SM_RQ_PAGE_SIZE, &rq->page_size, why, whylen);
	case SM_T_KILL_SIGNAL: return take_u32(t, rq, SM_RQ_KILL_SIGNAL, &rq->kill.signal, why, whylen);
	case SM_T_KILL_PATH:
		return take_str(t, rq, SM_RQ_KILL_PATH, rq->kill.path, sizeof(rq->kill.path), why, whylen);
	case SM_T_KILL_ARG: return take_kill_arg(t, rq, why, whylen);
	case SM_T_CURSOR: {
		uint64_t v;
		if (sm_tlv_u64(t, &v) < 0)
			return bad_field(t, 0, why, whylen);
		if (!(rq->present & SM_RQ_CURSOR))
			rq->cursor = v;
		rq->present |= SM_RQ_CURSOR;
		return 0;
	}
	default: return 0; /* RESOURCE groups are read by decode_resources; the rest is ignored */
	}
}

int sm_wire_req_decode(uint16_t cmd, uint32_t flags, const uint8_t *p, size_t len, struct sm_wire_req *rq, char *why,
		      size_t whylen)
{
	memset(rq, 0, sizeof(*rq));
	rq->cmd = cmd;
	rq->flags = flags;
	if (check_framing(p, len, 0) < 0) {
		snprintf(why, whylen, "bad TLV framing");
		return -SM_EPROTO;
	}
	struct sm_tlv_reader r;
	struct sm_tlv t;
	sm_tr_init(&r, p, len);
	int rc = 0;
	while (rc == 0 && sm_tr_next(&r, &t) > 0)
		rc = decode_field(&t, rq, why, whylen);
	if (rc == 0)
		rc = decode_resources(p, len, rq, why, whylen);
	if (rc < 0)
		sm_wire_req_free(rq);
	return rc;
}

void sm_wire_req_free(struct sm_wire_req *rq)
{
	free(rq->res);
	rq->res = NULL;
	rq->nres = 0;
}

void sm_req_put_resource(struct sm_msgbuf *b, const struct sm_resource *r, uint32_t mode)
{
	size_t g = sm_mb_begin(b, SM_T_RESOURCE);
	if (r->lockspace[0])
		sm_mb_str(b, SM_T_LOCKSPACE, r->lockspace);
	for (int i = 0; i < r->nlocations && i < 3; i++)
		sm_mb_str(b, SM_T_LOCATION, r->location[i]);
	sm_mb_str(b, SM_T_NAME, r->name);
	sm_mb_u32(b, SM_T_MODE, mode ? mode : (r->mode ? r->mode : SM_EXCLUSIVE));
	if (r->at_version)
		sm_mb_u64(b, SM_T_VERSION, r->version);
	sm_mb_end(b, g);
}

void sm_req_put_kill(struct sm_msgbuf *b, int signal, const char *path, const char *const *args, int nargs)
{
	if (signal)
		sm_mb_u32(b, SM_T_KILL_SIGNAL, (uint32_t)signal);
	if (path) {
		sm_mb_str(b, SM_T_KILL_PATH, path);
		for (int i = 0; i < nargs; i++)
			sm_mb_str(b, SM_T_KILL_ARG, args[i]);
	}
}
