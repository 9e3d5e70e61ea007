/* Strict "key = value" configuration parser; the syntax is in config.h.
 *
 * sm_config_parse makes two passes over the text: the first validates every
 * line without touching the output, the second (only if the first passed)
 * stores the values.  So a file is applied whole or not at all. */
#include "config.h"

#include "sync_manager/errors.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHOW_MAX 40                  /* input bytes quoted in an error message */
#define SHOW_BUF (SHOW_MAX * 4 + 8)  /* room for them escaped as \xNN, and "..." */
#define SUGGEST_MAX 64               /* longest key considered for "did you mean" */
#define DESC_BUF 200

/* A lexed value: its decoded items, each NUL-terminated inside buf.  Decoding
 * never grows the text, so buf holds a whole line plus one NUL per item. */
struct value {
	bool list;   /* written as [ ... ] */
	bool quoted; /* a single value written as "..." */
	size_t count;
	const char *item[SM_CONFIG_LIST_MAX];
	size_t len[SM_CONFIG_LIST_MAX];
	size_t used;
	char buf[SM_CONFIG_LINE_MAX + SM_CONFIG_LIST_MAX + 2];
};

/* What gets stored at a key's offset. */
union field {
	bool b;
	uint64_t u;
	int e;
	char s[SM_CONFIG_STR_MAX];
	struct sm_config_list l;
};

struct cursor {
	const char *p, *end;
};

struct parser {
	const struct sm_config_key *keys;
	size_t nkeys;
	sm_config_check_fn *check;
	unsigned *seen; /* per key: line where it was set, 0 = not yet */
	struct sm_config_error *err;
	unsigned line;
};

static const char *const bool_true[] = {"1", "yes", "true", "on"};
static const char *const bool_false[] = {"0", "no", "false", "off"};

__attribute__((format(printf, 2, 3))) static int fail(struct parser *p, const char *fmt, ...)
{
	if (p->err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
		va_end(ap);
		p->err->line = p->line;
	}
	return -SM_ECONFIG;
}

__attribute__((format(printf, 3, 4))) static void appendf(char *buf, size_t size, const char *fmt, ...)
{
	size_t n = strnlen(buf, size);
	if (n + 1 >= size)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf + n, size - n, fmt, ap);
	va_end(ap);
}

/* s[0..len) for a message: control bytes as \xNN, cut after SHOW_MAX bytes
 * (not inside a UTF-8 sequence) with "...".  buf holds SHOW_BUF bytes. */
static const char *show(char *buf, const char *s, size_t len)
{
	size_t cut = len;
	if (len > SHOW_MAX) {
		cut = SHOW_MAX;
		for (int i = 0; i < 3 && cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80; i++)
			cut--;
	}
	size_t o = 0;
	for (size_t i = 0; i < cut; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, SHOW_BUF - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	if (cut < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

static size_t str_limit(const struct sm_config_key *k)
{
	return k->max == 0 || k->max > SM_CONFIG_STR_MAX - 1 ? SM_CONFIG_STR_MAX - 1 : (size_t)k->max;
}

static size_t field_size(enum sm_config_type t)
{
	switch (t) {
	case SM_CFG_BOOL: return sizeof(bool);
	case SM_CFG_UINT:
	case SM_CFG_SECONDS: return sizeof(uint64_t);
	case SM_CFG_STRING: return SM_CONFIG_STR_MAX;
	case SM_CFG_ENUM: return sizeof(int);
	case SM_CFG_STRING_LIST: return sizeof(struct sm_config_list);
	}
	return 0;
}

/* What a key accepts, e.g. "a decimal number, 1 .. 2000". */
static const char *describe(const struct sm_config_key *k, char *buf, size_t size)
{
	char a[32], b[32];
	buf[0] = '\0';
	switch (k->type) {
	case SM_CFG_BOOL: appendf(buf, size, "yes/no, true/false, on/off or 1/0"); break;
	case SM_CFG_UINT: appendf(buf, size, "a decimal number, %" PRIu64 " .. %" PRIu64, k->min, k->max); break;
	case SM_CFG_SECONDS:
		appendf(buf, size, "seconds (up to 3 decimals), %s .. %s", sm_format_ms(k->min, a, sizeof(a)),
			sm_format_ms(k->max, b, sizeof(b)));
		break;
	case SM_CFG_STRING: appendf(buf, size, "a string of at most %zu characters", str_limit(k)); break;
	case SM_CFG_ENUM:
		appendf(buf, size, "one of:");
		for (size_t i = 0; k->choices && k->choices[i]; i++)
			appendf(buf, size, "%s %s", i ? "," : "", k->choices[i]);
		break;
	case SM_CFG_STRING_LIST:
		appendf(buf, size, "a list of up to %d strings of at most %zu characters, e.g. [ \"a\", \"b\" ]",
			SM_CONFIG_LIST_MAX, str_limit(k));
		break;
	}
	return buf;
}

/* ---- did you mean ---- */

static unsigned char fold(char c)
{
	unsigned char u = (unsigned char)tolower((unsigned char)c);
	return u == '-' ? '_' : u;
}

/* Optimal string alignment distance, ignoring case and '-' vs '_'. */
static unsigned edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
	uint16_t d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (uint16_t)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (uint16_t)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = fold(a[i - 1]) != fold(b[j - 1]);
			unsigned v = SM_MIN(d[i - 1][j] + 1u, d[i][j - 1] + 1u);
			v = SM_MIN(v, d[i - 1][j - 1] + cost);
			if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) && fold(a[i - 2]) == fold(b[j - 1]))
				v = SM_MIN(v, d[i - 2][j - 2] + 1u);
			d[i][j] = (uint16_t)v;
		}
	}
	return d[la][lb];
}

/* The known key closest to name[0..len), or NULL if none is close. */
static const char *suggest(const struct parser *p, const char *name, size_t len)
{
	const char *best = NULL;
	unsigned best_d = UINT32_MAX;
	if (len > SUGGEST_MAX)
		return NULL;
	for (size_t i = 0; i < p->nkeys; i++) {
		const char *k = p->keys[i].name;
		size_t kl = k ? strlen(k) : 0;
		if (kl == 0 || kl > SUGGEST_MAX)
			continue;
		unsigned d = edit_distance(name, len, k, kl);
		unsigned limit = (unsigned)SM_MIN(1 + kl / 5, 3);
		if (d <= limit && d < kl && d < best_d) {
			best = k;
			best_d = d;
		}
	}
	return best;
}

/* ---- lexing ---- */

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       c == '.';
}

static void skip_space(struct cursor *c)
{
	while (c->p < c->end && is_space(*c->p))
		c->p++;
}

/* Nothing but blanks and an optional comment left. */
static bool at_line_end(struct cursor *c)
{
	skip_space(c);
	return c->p == c->end || *c->p == '#';
}

static void put(struct value *v, char ch)
{
	if (v->used < sizeof(v->buf) - 1) /* cannot fill up: see struct value */
		v->buf[v->used++] = ch;
}

static void begin_item(struct value *v)
{
	v->item[v->count] = v->buf + v->used;
}

static void end_item(struct value *v)
{
	v->len[v->count] = (size_t)(v->buf + v->used - v->item[v->count]);
	put(v, '\0');
	v->count++;
}

/* "..." at c->p into a new item; \" and \\ are the only escapes. */
static int lex_quoted(struct parser *p, struct cursor *c, struct value *v, const char *key)
{
	char sb[SHOW_BUF];
	begin_item(v);
	c->p++;
	for (;;) {
		if (c->p == c->end)
			return fail(p, "%s: missing closing '\"' (quoted strings cannot span lines)", key);
		char ch = *c->p++;
		if (ch == '"')
			break;
		if (ch == '\\') {
			if (c->p == c->end)
				return fail(p, "%s: missing closing '\"' (quoted strings cannot span lines)", key);
			ch = *c->p++;
			if (ch != '"' && ch != '\\')
				return fail(p, "%s: unsupported escape '\\%s' in quoted string (only \\\" and \\\\)", key,
					    show(sb, &ch, 1));
		}
		put(v, ch);
	}
	end_item(v);
	return 0;
}

/* [ item, item ] at c->p; items are quoted or bare words. */
static int lex_list(struct parser *p, struct cursor *c, struct value *v, const char *key)
{
	char sb[SHOW_BUF];
	v->list = true;
	c->p++;
	for (;;) {
		if (at_line_end(c))
			return fail(p, "%s: list is not closed with ']' on this line (lists may not span lines)", key);
		if (*c->p == ']')
			break;
		if (v->count == SM_CONFIG_LIST_MAX)
			return fail(p, "%s: too many items in list (at most %d)", key, SM_CONFIG_LIST_MAX);
		if (*c->p == '"') {
			int r = lex_quoted(p, c, v, key);
			if (r)
				return r;
		} else {
			const char *s = c->p;
			while (c->p < c->end && !is_space(*c->p) && !strchr(",]#\"[", *c->p))
				c->p++;
			if (c->p == s) {
				if (*s == '[')
					return fail(p, "%s: nested lists are not supported", key);
				return fail(p, "%s: empty item in list", key);
			}
			begin_item(v);
			while (s < c->p)
				put(v, *s++);
			end_item(v);
		}
		if (at_line_end(c))
			return fail(p, "%s: list is not closed with ']' on this line (lists may not span lines)", key);
		if (*c->p == ']')
			break;
		if (*c->p != ',')
			return fail(p, "%s: expected ',' or ']' after list item, found '%s'", key,
				    show(sb, c->p, (size_t)(c->end - c->p)));
		c->p++;
	}
	c->p++;
	if (!at_line_end(c))
		return fail(p, "%s: unexpected '%s' after ']'", key, show(sb, c->p, (size_t)(c->end - c->p)));
	return 0;
}

/* The value after '=': a list, a quoted string or a bare word up to '#'. */
static int lex_value(struct parser *p, struct cursor *c, struct value *v, const char *key)
{
	char sb[SHOW_BUF];
	v->list = v->quoted = false;
	v->count = v->used = 0;
	if (at_line_end(c))
		return fail(p, "%s: missing value", key);
	if (*c->p == '[')
		return lex_list(p, c, v, key);
	if (*c->p == '"') {
		v->quoted = true;
		int r = lex_quoted(p, c, v, key);
		if (r)
			return r;
		if (!at_line_end(c))
			return fail(p, "%s: unexpected '%s' after the closing quote", key,
				    show(sb, c->p, (size_t)(c->end - c->p)));
		return 0;
	}
	if (*c->p == '\'')
		return fail(p, "%s: single quotes are not supported, use double quotes", key);
	const char *s = c->p, *e = c->p;
	while (c->p < c->end && *c->p != '#') {
		if (*c->p == '"')
			return fail(p, "%s: unexpected '\"' in unquoted value '%s' (quote the whole value)", key,
				    show(sb, s, (size_t)(c->end - s)));
		if (!is_space(*c->p))
			e = c->p + 1;
		c->p++;
	}
	begin_item(v);
	while (s < e)
		put(v, *s++);
	end_item(v);
	return 0;
}

/* ---- typed conversion ---- */

/* Decimal digits only.  0, -1 not a number, -2 too large for 64 bits. */
static int parse_decimal(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	bool overflow = false;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			v = v * 10 + d;
	}
	if (overflow)
		return -2;
	*out = v;
	return 0;
}

/* Number of decimals of a well-formed "12", "1.5", "2.25s"; -1 if malformed. */
static int seconds_decimals(const char *s)
{
	int dec = 0;
	if (*s < '0' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9')
		s++;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9') {
			s++;
			dec++;
		}
	}
	if (*s == 's')
		s++;
	return *s ? -1 : dec;
}

static int convert_scalar(struct parser *p, const struct sm_config_key *k, const char *s, size_t len,
			  union field *f)
{
	char sb[SHOW_BUF], a[32], b[32], desc[DESC_BUF];
	switch (k->type) {
	case SM_CFG_BOOL:
		for (size_t i = 0; i < SM_ARRAY_SIZE(bool_true); i++) {
			if (strcasecmp(s, bool_true[i]) == 0 || strcasecmp(s, bool_false[i]) == 0) {
				f->b = strcasecmp(s, bool_true[i]) == 0;
				return 0;
			}
		}
		return fail(p, "%s: '%s' is not a boolean (accepted: %s)", k->name, show(sb, s, len),
			    describe(k, desc, sizeof(desc)));
	case SM_CFG_UINT: {
		int r = parse_decimal(s, &f->u);
		if (r == -1)
			return fail(p, "%s: '%s' is not a decimal number (accepted: %" PRIu64 " .. %" PRIu64 ")",
				    k->name, show(sb, s, len), k->min, k->max);
		if (r < 0 || f->u < k->min || f->u > k->max)
			return fail(p, "%s: '%s' is out of range (%" PRIu64 " .. %" PRIu64 ")", k->name,
				    show(sb, s, len), k->min, k->max);
		return 0;
	}
	case SM_CFG_SECONDS: {
		if (sm_parse_seconds_ms(s, k->min, k->max, &f->u) == 0)
			return 0;
		int dec = seconds_decimals(s);
		if (dec < 0)
			return fail(p, "%s: '%s' is not a number of seconds (accepted: %s .. %s, e.g. 10, 0.5 or 1.25s)",
				    k->name, show(sb, s, len), sm_format_ms(k->min, a, sizeof(a)),
				    sm_format_ms(k->max, b, sizeof(b)));
		if (dec > 3)
			return fail(p, "%s: '%s' has more than 3 decimals (the unit is 1 ms)", k->name,
				    show(sb, s, len));
		return fail(p, "%s: '%s' is out of range (%s .. %s)", k->name, show(sb, s, len),
			    sm_format_ms(k->min, a, sizeof(a)), sm_format_ms(k->max, b, sizeof(b)));
	}
	case SM_CFG_STRING:
		if (len > str_limit(k))
			return fail(p, "%s: '%s' is too long (%zu characters, at most %zu)", k->name, show(sb, s, len),
				    len, str_limit(k));
		memcpy(f->s, s, len);
		return 0;
	case SM_CFG_ENUM:
		for (size_t i = 0; k->choices && k->choices[i]; i++) {
			if (strcmp(s, k->choices[i]) == 0) {
				f->e = (int)i;
				return 0;
			}
		}
		for (size_t i = 0; k->choices && k->choices[i]; i++) {
			if (strcasecmp(s, k->choices[i]) == 0) {
				f->e = (int)i;
				return 0;
			}
		}
		return fail(p, "%s: '%s' is not %s", k->name, show(sb, s, len), describe(k, desc, sizeof(desc)));
	case SM_CFG_STRING_LIST: break;
	}
	return fail(p, "%s: internal error: invalid key type %d", k->name, (int)k->type);
}

static int convert(struct parser *p, const struct sm_config_key *k, const struct value *v, union field *f)
{
	char sb[SHOW_BUF], desc[DESC_BUF];
	memset(f, 0, sizeof(*f));
	if (k->type != SM_CFG_STRING_LIST) {
		if (v->list)
			return fail(p, "%s: a list is not accepted here (expected %s)", k->name,
				    describe(k, desc, sizeof(desc)));
		return convert_scalar(p, k, v->item[0], v->len[0], f);
	}
	if (!v->list && !v->quoted && memchr(v->item[0], ',', v->len[0]))
		return fail(p, "%s: ',' in unquoted value '%s' (write several items as [ \"a\", \"b\" ])", k->name,
			    show(sb, v->item[0], v->len[0]));
	for (size_t i = 0; i < v->count; i++) {
		if (v->len[i] == 0)
			return fail(p, "%s: empty item in list", k->name);
		if (v->len[i] > str_limit(k))
			return fail(p, "%s: item '%s' is too long (%zu characters, at most %zu)", k->name,
				    show(sb, v->item[i], v->len[i]), v->len[i], str_limit(k));
		memcpy(f->l.items[i], v->item[i], v->len[i]);
	}
	f->l.count = v->count;
	return 0;
}

/* ---- lines ---- */

static int parse_line(struct parser *p, const char *s, size_t n, void *out)
{
	char sb[SHOW_BUF];
	struct cursor c = {s, s + n};
	if (at_line_end(&c))
		return 0;
	const char *name = c.p;
	while (c.p < c.end && is_key_char(*c.p))
		c.p++;
	size_t nlen = (size_t)(c.p - name);
	if (nlen == 0) {
		if (*c.p == '=')
			return fail(p, "missing key before '='");
		return fail(p, "expected 'key = value', found '%s'", show(sb, c.p, (size_t)(c.end - c.p)));
	}
	bool eol = at_line_end(&c);
	if (eol || *c.p != '=') {
		char kb[SHOW_BUF];
		if (eol)
			return fail(p, "%s: expected '=' after the key", show(kb, name, nlen));
		return fail(p, "%s: expected '=' after the key, found '%s'", show(kb, name, nlen),
			    show(sb, c.p, (size_t)(c.end - c.p)));
	}
	c.p++;

	size_t i;
	for (i = 0; i < p->nkeys; i++) {
		const char *k = p->keys[i].name;
		if (k && strlen(k) == nlen && memcmp(k, name, nlen) == 0)
			break;
	}
	if (i == p->nkeys) {
		const char *hint = suggest(p, name, nlen);
		if (hint)
			return fail(p, "unknown key '%s' (did you mean '%s'?)", show(sb, name, nlen), hint);
		return fail(p, "unknown key '%s'", show(sb, name, nlen));
	}
	const struct sm_config_key *k = &p->keys[i];
	if (p->seen[i])
		return fail(p, "duplicate key '%s' (already set on line %u)", k->name, p->seen[i]);
	p->seen[i] = p->line;

	size_t size = field_size(k->type);
	if (size == 0)
		return fail(p, "%s: internal error: invalid key type %d", k->name, (int)k->type);
	struct value v;
	int r = lex_value(p, &c, &v, k->name);
	if (r)
		return r;
	union field f;
	r = convert(p, k, &v, &f);
	if (r)
		return r;
	if (!out && p->check) { /* while validating: values are stored only once all are fine */
		char why[sizeof(p->err->message)];
		const char *bad = p->check(k, &f, why, sizeof(why));
		if (bad)
			return fail(p, "%s: %s", k->name, bad);
	}
	if (out)
		memcpy((char *)out + k->offset, &f, size);
	return 0;
}

/* One pass over every line; values are stored only when out is not NULL. */
static int parse_text(struct parser *p, const char *text, size_t len, void *out)
{
	size_t pos = 0;
	p->line = 0;
	memset(p->seen, 0, (p->nkeys ? p->nkeys : 1) * sizeof(*p->seen));
	while (pos < len) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + (nl != NULL);
		p->line++;
		if (n > SM_CONFIG_LINE_MAX)
			return fail(p, "line is longer than %d characters", SM_CONFIG_LINE_MAX);
		if (memchr(s, '\0', n))
			return fail(p, "line contains a NUL byte");
		int r = parse_line(p, s, n, out);
		if (r)
			return r;
	}
	return 0;
}

static void init_error(struct sm_config_error *err, const char *filename)
{
	if (!err)
		return;
	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", filename ? filename : "<input>");
}

int sm_config_parse(const struct sm_config_key *keys, size_t nkeys, void *out, const char *text, size_t len,
		    const char *filename, struct sm_config_error *err)
{
	return sm_config_parse_checked(keys, nkeys, NULL, out, text, len, filename, err);
}

int sm_config_parse_checked(const struct sm_config_key *keys, size_t nkeys, sm_config_check_fn *check, void *out,
			    const char *text, size_t len, const char *filename, struct sm_config_error *err)
{
	struct parser p = {.keys = keys, .nkeys = keys ? nkeys : 0, .check = check, .err = err};
	init_error(err, filename);
	if (!text)
		len = 0;
	p.seen = calloc(p.nkeys ? p.nkeys : 1, sizeof(*p.seen));
	if (!p.seen) {
		fail(&p, "out of memory");
		return -ENOMEM;
	}
	int r = parse_text(&p, text, len, NULL);
	if (r == 0 && out)
		r = parse_text(&p, text, len, out);
	free(p.seen);
	return r;
}

int sm_config_load(const struct sm_config_key *keys, size_t nkeys, void *out, const char *path,
		   struct sm_config_error *err)
{
	return sm_config_load_checked(keys, nkeys, NULL, out, path, err);
}

int sm_config_load_checked(const struct sm_config_key *keys, size_t nkeys, sm_config_check_fn *check, void *out,
			   const char *path, struct sm_config_error *err)
{
	struct parser p = {.err = err};
	init_error(err, path);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT) {
			fail(&p, "no such file (defaults apply)");
			return 1;
		}
		fail(&p, "cannot open: %s", sm_strerror(-e));
		return -e;
	}
	int r = 0;
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		r = -errno;
	} else if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
	} else if (S_ISREG(st.st_mode) && st.st_size > SM_CONFIG_FILE_MAX) {
		r = -EFBIG;
	} else if (!(buf = malloc(SM_CONFIG_FILE_MAX + 1))) {
		r = -ENOMEM;
	} else {
		/* Read one byte more than allowed to notice files that grow or lie about their size. */
		while (len < SM_CONFIG_FILE_MAX + 1) {
			ssize_t got = read(fd, buf + len, SM_CONFIG_FILE_MAX + 1 - len);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0) {
				r = -errno;
				break;
			}
			if (got == 0)
				break;
			len += (size_t)got;
		}
		if (r == 0 && len > SM_CONFIG_FILE_MAX)
			r = -EFBIG;
	}
	close(fd);
	if (r == -EFBIG)
		fail(&p, "file is larger than %d bytes", SM_CONFIG_FILE_MAX);
	else if (r)
		fail(&p, "cannot read: %s", sm_strerror(r));
	else
		r = sm_config_parse_checked(keys, nkeys, check, out, buf, len, path, err);
	free(buf);
	return r;
}

/* ---- printing ---- */

static void print_quoted(FILE *f, const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			fputc('\\', f);
		fputc(s[i], f);
	}
	fputc('"', f);
}

/* Seconds in config syntax: "10", "0.5", "1.25". */
static void print_seconds(FILE *f, uint64_t ms)
{
	fprintf(f, "%" PRIu64, ms / 1000);
	unsigned frac = (unsigned)(ms % 1000);
	if (frac) {
		int digits = 3;
		while (frac % 10 == 0) {
			frac /= 10;
			digits--;
		}
		fprintf(f, ".%0*u", digits, frac);
	}
}

void sm_config_print(FILE *f, const struct sm_config_key *keys, size_t nkeys, const void *conf)
{
	union field v;
	for (size_t i = 0; i < nkeys; i++) {
		const struct sm_config_key *k = &keys[i];
		size_t size = field_size(k->type);
		if (!k->name || size == 0)
			continue;
		memcpy(&v, (const char *)conf + k->offset, size);
		fprintf(f, "%s = ", k->name);
		switch (k->type) {
		case SM_CFG_BOOL: fputs(v.b ? "yes" : "no", f); break;
		case SM_CFG_UINT: fprintf(f, "%" PRIu64, v.u); break;
		case SM_CFG_SECONDS: print_seconds(f, v.u); break;
		case SM_CFG_STRING: print_quoted(f, v.s, SM_CONFIG_STR_MAX - 1); break;
		case SM_CFG_ENUM: {
			size_t n = 0;
			while (k->choices && k->choices[n])
				n++;
			if (v.e >= 0 && (size_t)v.e < n)
				fputs(k->choices[v.e], f);
			else
				fprintf(f, "\"<invalid choice %d>\"", v.e);
			break;
		}
		case SM_CFG_STRING_LIST:
			fputs("[", f);
			for (size_t j = 0; j < SM_MIN(v.l.count, (size_t)SM_CONFIG_LIST_MAX); j++) {
				fputs(j ? ", " : " ", f);
				print_quoted(f, v.l.items[j], SM_CONFIG_STR_MAX - 1);
			}
			fputs(" ]", f);
			break;
		}
		fputc('\n', f);
	}
}

void sm_config_print_keys(FILE *f, const struct sm_config_key *keys, size_t nkeys)
{
	char desc[DESC_BUF];
	for (size_t i = 0; i < nkeys; i++) {
		if (!keys[i].name)
			continue;
		fprintf(f, "%s = <%s>\n", keys[i].name, describe(&keys[i], desc, sizeof(desc)));
		if (keys[i].help && keys[i].help[0])
			fprintf(f, "    %s\n", keys[i].help);
	}
}
