/* libFuzzer target: the wire protocol as a client decodes it — header,
 * TLV walking (nested), typed values and status records — and as the
 * daemon decodes a request (sm_wire_req_decode, every command), on
 * arbitrary bytes.  Must not crash, leak, loop, or read out of bounds. */
#include "proto/proto.h"
#include "proto/request.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const uint8_t *p, size_t len, int depth)
{
	struct sm_tlv_reader r;
	struct sm_tlv t;
	sm_tr_init(&r, p, len);
	while (sm_tr_next(&r, &t) > 0) {
		uint32_t u32;
		uint64_t u64;
		char s[256];
		struct sm_field f;
		sm_tlv_u32(&t, &u32);
		sm_tlv_u64(&t, &u64);
		sm_tlv_str(&t, s, sizeof(s));
		sm_field_decode(&t, &f);
		if (depth < 4)
			walk(t.val, t.len, depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= SM_PROTO_HDR) {
		struct sm_msg_hdr h;
		sm_hdr_decode(data, &h);
	}
	walk(data, size, 0);
	/* The daemon's request decoder: a decoded request re-encodes its
	 * resources and kill action within bounds. */
	struct sm_wire_req rq;
	char why[200];
	uint16_t cmd = size ? (uint16_t)(data[0] % SM_CMD_MAX_) : SM_CMD_ACQUIRE;
	if (sm_wire_req_decode(cmd, 0, data, size, &rq, why, sizeof(why)) == 0) {
		struct sm_msgbuf rb;
		sm_mb_init(&rb);
		for (int i = 0; i < rq.nres; i++)
			sm_req_put_resource(&rb, &rq.res[i], 0);
		const char *args[SM_REQ_MAX_KILL_ARGS];
		for (int i = 0; i < rq.kill.nargs; i++)
			args[i] = rq.kill.args[i];
		sm_req_put_kill(&rb, (int)rq.kill.signal, rq.kill.path[0] ? rq.kill.path : NULL, args, rq.kill.nargs);
		sm_mb_free(&rb);
		sm_wire_req_free(&rq);
	}
	/* Encoding what we decoded must stay within bounds too. */
	struct sm_msgbuf b;
	sm_mb_init(&b);
	sm_mb_bytes(&b, SM_T_TEXT, data, size);
	struct sm_msg_hdr h = {.cmd = SM_CMD_STATUS, .seq = 1};
	sm_mb_finish(&b, &h);
	sm_mb_free(&b);
	return 0;
}
