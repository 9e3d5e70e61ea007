/* libFuzzer target: the wire protocol as a client decodes it — header,
 * TLV walking (nested), typed values and status records — on arbitrary
 * bytes.  Must not crash, loop, or read out of bounds. */
#include "proto/proto.h"

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
	/* Encoding what we decoded must stay within bounds too. */
	struct sm_msgbuf b;
	sm_mb_init(&b);
	sm_mb_bytes(&b, SM_T_TEXT, data, size);
	struct sm_msg_hdr h = {.cmd = SM_CMD_STATUS, .seq = 1};
	sm_mb_finish(&b, &h);
	sm_mb_free(&b);
	return 0;
}
