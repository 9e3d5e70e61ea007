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

/* Up to 32 bytes of untrusted text for a message: printable ASCII as is,
 * anything else as '?', and "..." when cut (a foreign state may hold
 * newlines or control bytes that must not reach a log line). */
static const char *show(const char *s, size_t len, char out[40])
{
	size_t n = 0;
	for (; n < len && n < 32; n++)
		out[n] = (s[n] >= ' ' && s[n] < 0x7f) ? s[n] : '?';
	if (n < len) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

/* Decode one percent-encoded name field; NULL, or why it is refused. */
static const char *unescape(const char *in, size_t len, char *out, size_t max)
{
	size_t n = 0;
	if (len == 0)
		return "is empty";
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '%') {
			/* two hex digits follow; the decoded byte must be printable */
			if (i + 2 >= len || sm_hexval(in[i + 1]) < 0 || sm_hexval(in[i + 2]) < 0)
				return "has a bad escape ('%' must be followed by two hex digits)";
			int v = sm_hexval(in[i + 1]) * 16 + sm_hexval(in[i + 2]);
			if (v < 0x21 || v >= 0x7f)
				return "has an escape of a space, control or non-ASCII byte";
			c = (char)v;
			i += 2;
		} else if (!plain((unsigned char)c)) {
			return "has a character that must be percent-encoded";
		}
		if (n + 1 >= max)
			return "is longer than 63 characters";
		out[n++] = c;
	}
	out[n] = '\0';
	return NULL;
}

int lvstate_decode(const char *text, struct lvstate *s, char *err, size_t errlen)
{
	char sb[40];
	memset(s, 0, sizeof(*s));
	if (!text || strncmp(text, LVSTATE_PREFIX, strlen(LVSTATE_PREFIX)) != 0) {
		static const char ours[] = "sync_manager/";
		const char *t = text ? text : "";
		size_t tl = strlen(t);
		if (strncmp(t, ours, strlen(ours)) == 0) {
			/* ours, but another format: say which (a newer or older plugin) */
			const char *v = t + strlen(ours);
			size_t vl = strcspn(v, ";");
			if (!v[vl])
				snprintf(err, errlen, "lease state '%s' is truncated: it does not start with '%s'",
					 show(t, tl, sb), LVSTATE_PREFIX);
			else
				snprintf(err, errlen,
				 "lease state '%s' is sync_manager format '%s'; this plugin reads format 1 only "
				 "(is another sync_manager version running on the other host?)",
				 show(t, tl, sb), show(v, vl, (char[40]){0}));
		} else {
			snprintf(err, errlen, "lease state '%s' was not written by sync_manager (format 1)", show(t, tl, sb));
		}
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
		int e = s->n + 1;
		if (nf != 4 || q <= p + len) {
			snprintf(err, errlen,
				 "malformed entry %d in lease state: '%s' has %s fields (expected LOCKSPACE:NAME:MODE:LVER)", e,
				 show(p, len, sb), nf != 4 ? "too few" : "too many");
			return -1;
		}
		struct lvstate_lease *l = &s->l[s->n];
		const char *why;
		if ((why = unescape(f[0], fl[0], l->lockspace, sizeof(l->lockspace)))) {
			snprintf(err, errlen, "malformed entry %d in lease state: the lockspace name '%s' %s", e,
				 show(f[0], fl[0], sb), why);
			return -1;
		}
		if ((why = unescape(f[1], fl[1], l->name, sizeof(l->name)))) {
			snprintf(err, errlen, "malformed entry %d in lease state: the lease name '%s' %s", e,
				 show(f[1], fl[1], sb), why);
			return -1;
		}
		char lver[24] = "";
		uint64_t v = 0;
		if (fl[3] > 0 && fl[3] < sizeof(lver))
			memcpy(lver, f[3], fl[3]);
		bool leading_zero = lver[0] == '0' && lver[1] != '\0';
		if (lver[0] < '0' || lver[0] > '9' || leading_zero || sm_parse_u64(lver, 0, UINT64_MAX, &v) < 0) {
			snprintf(err, errlen,
				 "bad lease version '%s' in entry %d of the lease state (expected a decimal number "
				 "0 .. 18446744073709551615 without leading zeros)",
				 show(f[3], fl[3], sb), e);
			return -1;
		}
		if (fl[2] == 2 && !memcmp(f[2], "EX", 2))
			l->mode = 1;
		else if (fl[2] == 2 && !memcmp(f[2], "SH", 2))
			l->mode = 2;
		else {
			snprintf(err, errlen, "bad lease mode '%s' in entry %d of the lease state (expected EX or SH)",
				 show(f[2], fl[2], sb), e);
			return -1;
		}
		l->lver = v;
		if (!sm_name_valid(l->lockspace) || !sm_name_valid(l->name)) {
			snprintf(err, errlen, "invalid name in entry %d of the lease state: '%s:%s' (':' and '/' are not "
				 "allowed in names)", e, l->lockspace, l->name);
			return -1;
		}
		s->n++;
		if (!end)
			break;
		p = end + 1;
		if (!*p) {
			snprintf(err, errlen, "lease state ends with ';' (truncated?)");
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
