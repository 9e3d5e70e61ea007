#include "lvstate.h"

#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool plain(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	       c == '-';
}

static size_t put_escaped(char *out, const char *s)
{
	size_t n = 0;
	for (; *s; s++) {
		if (plain((unsigned char)*s))
			out[n++] = *s;
		else
			n += (size_t)sprintf(out + n, "%%%02X", (unsigned char)*s);
	}
	return n;
}

char *lvstate_encode(const struct lvstate *s)
{
	size_t cap = sizeof(LVSTATE_PREFIX) + (size_t)s->n * (3 * 128 + 40);
	char *out = malloc(cap);
	if (!out)
		return NULL;
	size_t n = (size_t)sprintf(out, "%s", LVSTATE_PREFIX);
	for (int i = 0; i < s->n; i++) {
		if (i)
			out[n++] = ';';
		n += put_escaped(out + n, s->l[i].lockspace);
		out[n++] = ':';
		n += put_escaped(out + n, s->l[i].name);
		n += (size_t)sprintf(out + n, ":%s:%llu", s->l[i].mode == 2 ? "SH" : "EX", (unsigned long long)s->l[i].lver);
	}
	out[n] = '\0';
	return out;
}

static int unescape(const char *in, size_t len, char *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '%') {
			/* two hex digits follow; the decoded byte must be printable */
			if (i + 2 >= len || sm_hexval(in[i + 1]) < 0 || sm_hexval(in[i + 2]) < 0)
				return -1;
			int v = sm_hexval(in[i + 1]) * 16 + sm_hexval(in[i + 2]);
			if (v < 0x21 || v >= 0x7f)
				return -1;
			c = (char)v;
			i += 2;
		} else if (!plain((unsigned char)c)) {
			return -1;
		}
		if (n + 1 >= max)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	return n ? 0 : -1;
}

int lvstate_decode(const char *text, struct lvstate *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	if (!text || strncmp(text, LVSTATE_PREFIX, strlen(LVSTATE_PREFIX)) != 0) {
		snprintf(err, errlen, "lease state '%.40s' was not written by sync_manager (format 1)", text ? text : "");
		return -1;
	}
	const char *p = text + strlen(LVSTATE_PREFIX);
	if (!*p)
		return 0; /* no leases */
	while (*p) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (s->n == LVSTATE_MAX_LEASES) {
			snprintf(err, errlen, "lease state lists more than %d leases", LVSTATE_MAX_LEASES);
			return -1;
		}
		/* LS:NAME:MODE:LVER */
		const char *f[4];
		size_t fl[4];
		int nf = 0;
		const char *q = p;
		for (size_t i = 0; i <= len && nf < 4; i++) {
			if (i == len || p[i] == ':') {
				f[nf] = q;
				fl[nf] = (size_t)(p + i - q);
				nf++;
				q = p + i + 1;
			}
		}
		struct lvstate_lease *l = &s->l[s->n];
		char mode[8] = "", lver[24] = "";
		if (nf != 4 || q <= p + len || unescape(f[0], fl[0], l->lockspace, sizeof(l->lockspace)) < 0 ||
		    unescape(f[1], fl[1], l->name, sizeof(l->name)) < 0 || fl[2] >= sizeof(mode) || fl[3] == 0 ||
		    fl[3] >= sizeof(lver)) {
			snprintf(err, errlen, "malformed entry %d in lease state", s->n + 1);
			return -1;
		}
		memcpy(mode, f[2], fl[2]);
		memcpy(lver, f[3], fl[3]);
		uint64_t v;
		bool leading_zero = lver[0] == '0' && lver[1] != '\0';
		if (lver[0] < '0' || lver[0] > '9' || leading_zero || sm_parse_u64(lver, 0, UINT64_MAX, &v) < 0) {
			snprintf(err, errlen, "bad lease version in entry %d of the lease state", s->n + 1);
			return -1;
		}
		if (!strcmp(mode, "EX"))
			l->mode = 1;
		else if (!strcmp(mode, "SH"))
			l->mode = 2;
		else {
			snprintf(err, errlen, "bad lease mode in entry %d of the lease state", s->n + 1);
			return -1;
		}
		l->lver = v;
		if (!sm_name_valid(l->lockspace) || !sm_name_valid(l->name)) {
			snprintf(err, errlen, "invalid name in entry %d of the lease state", s->n + 1);
			return -1;
		}
		s->n++;
		if (!end)
			break;
		p = end + 1;
		if (!*p) {
			snprintf(err, errlen, "lease state ends with ';'");
			return -1;
		}
	}
	return 0;
}

const struct lvstate_lease *lvstate_find(const struct lvstate *s, const char *lockspace, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->l[i].lockspace, lockspace) && !strcmp(s->l[i].name, name))
			return &s->l[i];
	return NULL;
}
