/* libFuzzer target: the libvirt plugin's lease state strings (lvstate.h),
 * which arrive from another host in the migration cookie, unescaped.
 *
 * Besides not crashing or reading past the string:
 *  - a refused state comes with a non-empty, one-line, printable reason;
 *  - an accepted state starts with the format tag, holds at most 64 leases
 *    with valid names and modes, and encodes to XML-safe text that decodes
 *    to the same values; that text is canonical (encoding it again after a
 *    decode gives the same text);
 *  - leases built from the input bytes (any valid names) survive an
 *    encode/decode round trip.
 *
 *   make fuzz     (or: CC=clang cmake -DSM_FUZZ=ON ...; ninja fuzz_lvstate)
 *   build-fuzz/tests/fuzz_lvstate tests/fuzz/corpus/lvstate
 */
#include "libvirt/lvstate.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                  \
	do {                                                                      \
		if (!(c)) {                                                       \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			abort();                                                  \
		}                                                                 \
	} while (0)

static bool name_ok(const char *s, size_t field)
{
	size_t n = strnlen(s, field);
	if (n == 0 || n >= field)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= ' ' || c >= 0x7f || c == ':' || c == '/')
			return false;
	}
	return true;
}

static bool xml_safe(const char *t)
{
	for (; *t; t++) {
		unsigned char c = (unsigned char)*t;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("._-%:;/", c)))
			return false;
	}
	return true;
}

static void check_same(const struct lvstate *a, const struct lvstate *b)
{
	CHECK(a->n == b->n);
	for (int i = 0; i < a->n; i++) {
		CHECK(strcmp(a->l[i].lockspace, b->l[i].lockspace) == 0);
		CHECK(strcmp(a->l[i].name, b->l[i].name) == 0);
		CHECK(a->l[i].mode == b->l[i].mode);
		CHECK(a->l[i].lver == b->l[i].lver);
	}
}

/* Encode s, decode it back: same values, XML-safe text.  Returns the text. */
static char *round_trip(const struct lvstate *s, struct lvstate *back)
{
	char *text = lvstate_encode(s);
	CHECK(text);
	CHECK(strncmp(text, LVSTATE_PREFIX, strlen(LVSTATE_PREFIX)) == 0);
	CHECK(xml_safe(text));
	char err[256] = "";
	if (lvstate_decode(text, back, err, sizeof(err)) != 0) {
		fprintf(stderr, "own encoding refused: %s\n%s\n", err, text);
		abort();
	}
	check_same(s, back);
	return text;
}

/* Leases made of the input bytes: names of any valid characters and
 * lengths, modes and versions from the bytes. */
static void structured(const uint8_t *data, size_t size, struct lvstate *s, struct lvstate *back)
{
	memset(s, 0, sizeof(*s));
	size_t i = 0;
	while (s->n < LVSTATE_MAX_LEASES && i + 10 <= size) {
		struct lvstate_lease *l = &s->l[s->n++];
		l->mode = (data[i] & 1) ? 2 : 1;
		uint64_t v = 0;
		for (int k = 0; k < 8; k++)
			v = v << 8 | data[i + 1 + k];
		l->lver = (data[i] & 2) ? UINT64_MAX - (v & 0xff) : v;
		size_t len = (size_t)(data[i + 9] % 63) + 1;
		i += 10;
		for (int f = 0; f < 2; f++) {
			char *dst = f ? l->name : l->lockspace;
			size_t n = 0;
			for (; n < len && i < size; n++, i++) {
				char c = (char)(0x21 + data[i] % 94);
				dst[n] = (c == ':' || c == '/') ? '%' : c;
			}
			if (n == 0)
				dst[n++] = 'x';
			dst[n] = '\0';
		}
	}
	free(round_trip(s, back));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exactly the string and its NUL, so reading past it is caught. */
	char *text = malloc(size + 1);
	struct lvstate *s = malloc(sizeof(*s)), *back = malloc(sizeof(*back)), *again = malloc(sizeof(*again));
	CHECK(text && s && back && again);
	memcpy(text, data, size);
	text[size] = '\0';

	char err[256];
	memset(err, 0, sizeof(err));
	memset(s, 0xa5, sizeof(*s));
	int rc = lvstate_decode(text, s, err, sizeof(err));
	if (rc != 0) {
		CHECK(rc == -1);
		CHECK(err[0] != '\0');
		for (const char *c = err; *c; c++)
			CHECK(*c >= ' ' && *c < 0x7f);
		CHECK(s->n >= 0 && s->n < LVSTATE_MAX_LEASES + 1);
	} else {
		CHECK(strncmp(text, LVSTATE_PREFIX, strlen(LVSTATE_PREFIX)) == 0);
		CHECK(s->n >= 0 && s->n <= LVSTATE_MAX_LEASES);
		for (int i = 0; i < s->n; i++) {
			CHECK(name_ok(s->l[i].lockspace, sizeof(s->l[i].lockspace)));
			CHECK(name_ok(s->l[i].name, sizeof(s->l[i].name)));
			CHECK(s->l[i].mode == 1 || s->l[i].mode == 2);
		}
		char *t1 = round_trip(s, back);
		char *t2 = round_trip(back, again);
		CHECK(strcmp(t1, t2) == 0);
		/* only escapes (and their case) may differ from the input */
		CHECK(strlen(t1) <= size);
		free(t1);
		free(t2);
	}

	structured(data, size, s, back);

	free(again);
	free(back);
	free(s);
	free(text);
	return 0;
}
