/* Reading the state file: journal replay and record fields (state_replay.h).
 * No daemon and no logging; the only I/O is state_read_file(). */
#include "state_replay.h"

#include "common/util.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- tokens ------------------------------------------------------------------- */

/* Tokens are separated by runs of spaces (state.c writes single spaces). */
struct tok {
	const char *s;
	size_t len;
};

/* The token at *p (skipping spaces), advancing *p past it; false at the end. */
static bool next_tok(const char **p, struct tok *t)
{
	const char *s = *p;
	while (*s == ' ')
		s++;
	if (!*s)
		return false;
	t->s = s;
	while (*s && *s != ' ')
		s++;
	t->len = (size_t)(s - t->s);
	*p = s;
	return true;
}

/* Stores the first max tokens of line; returns how many there are in all. */
static size_t split(const char *line, struct tok *tok, size_t max)
{
	size_t n = 0;
	struct tok t;
	while (next_tok(&line, &t)) {
		if (n < max)
			tok[n] = t;
		n++;
	}
	return n;
}

static bool tok_is(const struct tok *t, const char *word)
{
	return t->len == strlen(word) && memcmp(t->s, word, t->len) == 0;
}

/* Token i (0-based) of a line, for the replay's keys. */
static bool token(const char *line, int i, struct tok *t)
{
	for (int k = 0; next_tok(&line, t); k++)
		if (k == i)
			return true;
	return false;
}

/* ---- field values ------------------------------------------------------------- */

/* Decimal digits as printf writes them (no sign, no leading zero), at most
 * max: one number has one spelling, so keys like "proc PID" are unique. */
static bool dec(const struct tok *t, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (t->len == 0 || (t->len > 1 && t->s[0] == '0'))
		return false;
	for (size_t i = 0; i < t->len; i++) {
		unsigned c = (unsigned char)t->s[i] - '0';
		if (c > 9 || c > max || v > (max - c) / 10)
			return false;
		v = v * 10 + c;
	}
	*out = v;
	return true;
}

static bool dec_int(const struct tok *t, int64_t min, int64_t max, int64_t *out)
{
	uint64_t v;
	if (!dec(t, (uint64_t)max, &v) || (int64_t)v < min)
		return false;
	*out = (int64_t)v;
	return true;
}

static bool flag(const struct tok *t, bool *out)
{
	if (t->len != 1 || (t->s[0] != '0' && t->s[0] != '1'))
		return false;
	*out = t->s[0] == '1';
	return true;
}

/* A %-escaped string ("-" = empty) into out[size], NUL-terminated.  False
 * for a '%' without two hex digits, an escaped NUL, or a string that does
 * not fit. */
static bool unesc(const struct tok *t, char *out, size_t size)
{
	size_t n = 0;
	if (t->len == 1 && t->s[0] == '-') {
		out[0] = '\0';
		return true;
	}
	for (size_t i = 0; i < t->len; i++) {
		char c = t->s[i];
		if (c == '%') {
			if (i + 2 >= t->len)
				return false;
			int hi = sm_hexval(t->s[i + 1]), lo = sm_hexval(t->s[i + 2]);
			if (hi < 0 || lo < 0 || (hi | lo) == 0)
				return false;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (n + 1 >= size)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	return true;
}

/* A name written as is: 1 .. size-1 bytes. */
static bool name(const struct tok *t, char *out, size_t size)
{
	if (t->len == 0 || t->len >= size)
		return false;
	memcpy(out, t->s, t->len);
	out[t->len] = '\0';
	return true;
}

/* "UID:GID" (decimal, below 2^32 - 1, the invalid id) */
static bool owner(const struct tok *t, uint32_t *uid, uint32_t *gid)
{
	const char *colon = memchr(t->s, ':', t->len);
	if (!colon)
		return false;
	struct tok u = {t->s, (size_t)(colon - t->s)};
	struct tok g = {colon + 1, t->len - u.len - 1};
	uint64_t a, b;
	if (!dec(&u, UINT32_MAX - 1, &a) || !dec(&g, UINT32_MAX - 1, &b))
		return false;
	*uid = (uint32_t)a;
	*gid = (uint32_t)b;
	return true;
}

#define BAD(msg)                      \
	do {                          \
		*why = (msg);         \
		return -SM_EPROTO;    \
	} while (0)

/* ---- record lines --------------------------------------------------------------- */

int state_parse_lockspace(const char *line, struct state_ls_fields *out, const char **why)
{
	struct tok t[11];
	size_t n = split(line, t, SM_ARRAY_SIZE(t));
	uint64_t v;
	if (n == 0 || !tok_is(&t[0], "lockspace"))
		BAD("not a lockspace line");
	if (n != 7 && n != 10)
		BAD("wrong number of fields (want 7 or 10)");
	if (!unesc(&t[1], out->location, sizeof(out->location)))
		BAD("location: bad %-escape or too long");
	if (!dec(&t[2], UINT32_MAX, &v))
		BAD("host_id: not a decimal number in range");
	out->host_id = (uint32_t)v;
	if (!dec(&t[3], UINT64_MAX, &out->generation))
		BAD("generation: not a decimal number in range");
	if (t[4].len != 32)
		BAD("instance: not 32 hex digits");
	for (int i = 0; i < 16; i++) {
		int hi = sm_hexval(t[4].s[2 * i]), lo = sm_hexval(t[4].s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			BAD("instance: not 32 hex digits");
		out->instance[i] = (uint8_t)(hi << 4 | lo);
	}
	if (!dec(&t[5], UINT64_MAX, &out->last_renewal_boot_ms))
		BAD("last renewal: not a decimal number in range");
	if (!flag(&t[6], &out->failed))
		BAD("failed: not 0 or 1");
	out->has_header = n == 10;
	out->name[0] = '\0';
	out->io_timeout_ms = out->watchdog_timeout_ms = 0;
	if (!out->has_header)
		return 0;
	if (!name(&t[7], out->name, sizeof(out->name)))
		BAD("name: empty or too long");
	if (!dec(&t[8], UINT32_MAX, &v) || v == 0)
		BAD("io timeout: not a positive decimal number in range");
	out->io_timeout_ms = (uint32_t)v;
	if (!dec(&t[9], UINT32_MAX, &v) || v == 0)
		BAD("watchdog timeout: not a positive decimal number in range");
	out->watchdog_timeout_ms = (uint32_t)v;
	return 0;
}

int state_parse_proc(const char *line, struct state_proc_fields *out, const char **why)
{
	struct tok t[8 + STATE_KILL_ARGS_MAX + 2];
	size_t n = split(line, t, SM_ARRAY_SIZE(t));
	int64_t v;
	if (n == 0 || !tok_is(&t[0], "proc"))
		BAD("not a proc line");
	if (n < 8)
		BAD("too few fields (want at least 8)");
	if (!dec_int(&t[1], 1, INT32_MAX, &v))
		BAD("pid: not a positive decimal number in range");
	out->pid = (int32_t)v;
	if (!dec(&t[2], UINT64_MAX, &out->starttime))
		BAD("start time: not a decimal number in range");
	if (!flag(&t[3], &out->by_parent))
		BAD("by_parent: not 0 or 1");
	if (!unesc(&t[4], out->name, sizeof(out->name)))
		BAD("name: bad %-escape or too long");
	if (!dec_int(&t[5], 0, 64, &v))
		BAD("signal: not a decimal number 0..64");
	out->signal = (int)v;
	if (!unesc(&t[6], out->kill_path, sizeof(out->kill_path)))
		BAD("kill path: bad %-escape or too long");
	if (!dec_int(&t[7], 0, STATE_KILL_ARGS_MAX, &v))
		BAD("number of kill arguments: not a decimal number 0..8");
	out->nargs = (int)v;
	if (n != 8 + (size_t)out->nargs && n != 9 + (size_t)out->nargs)
		BAD("number of kill arguments differs from the arguments given");
	for (int i = 0; i < out->nargs; i++)
		if (!unesc(&t[8 + i], out->args[i], sizeof(out->args[i])))
			BAD("kill argument: bad %-escape or too long");
	out->has_owner = n == 9 + (size_t)out->nargs;
	out->uid = out->gid = 0;
	if (out->has_owner && !owner(&t[n - 1], &out->uid, &out->gid))
		BAD("kill action owner: not UID:GID");
	return 0;
}

/* "PID:MODE" */
static bool holder(const struct tok *t, struct state_holder *h)
{
	const char *colon = memchr(t->s, ':', t->len);
	if (!colon)
		return false;
	struct tok pid = {t->s, (size_t)(colon - t->s)};
	struct tok mode = {colon + 1, t->len - pid.len - 1};
	int64_t p;
	uint64_t m;
	if (!dec_int(&pid, 1, INT32_MAX, &p) || !dec(&mode, SM_MODE_SH, &m))
		return false;
	h->pid = (int32_t)p;
	h->mode = (uint32_t)m;
	return true;
}

bool state_next_holder(const char **cursor, struct state_holder *h)
{
	struct tok t;
	return next_tok(cursor, &t) && holder(&t, h);
}

int state_parse_lease(const char *line, struct state_lease_fields *out, const char **why)
{
	struct tok t[8 + 3 + 1];
	size_t n = split(line, t, SM_ARRAY_SIZE(t));
	uint64_t v;
	if (n == 0 || !tok_is(&t[0], "lease"))
		BAD("not a lease line");
	if (n < 8)
		BAD("too few fields (want at least 8)");
	if (!name(&t[1], out->ls, sizeof(out->ls)))
		BAD("lockspace name: empty or too long");
	if (!name(&t[2], out->name, sizeof(out->name)))
		BAD("resource name: empty or too long");
	if (!dec(&t[3], SM_MODE_SH, &v))
		BAD("mode: not 0, 1 or 2");
	out->mode = (uint32_t)v;
	if (!dec(&t[4], UINT64_MAX, &out->lver))
		BAD("lease version: not a decimal number in range");
	if (!flag(&t[5], &out->on_disk))
		BAD("on_disk: not 0 or 1");
	if (!flag(&t[6], &out->in_doubt))
		BAD("in_doubt: not 0 or 1");
	if (!dec(&t[7], 3, &v))
		BAD("number of locations: not a decimal number 0..3");
	out->nlocations = (int)v;
	if (n < 8 + v)
		BAD("fewer locations than announced");
	for (int i = 0; i < out->nlocations; i++)
		if (!unesc(&t[8 + i], out->location[i], sizeof(out->location[i])))
			BAD("location: bad %-escape or too long");
	/* The holders are what follows the last location. */
	const char *p = t[7 + out->nlocations].s + t[7 + out->nlocations].len;
	out->holders = p;
	out->nholders = n - 8 - (size_t)out->nlocations;
	struct tok h;
	struct state_holder dummy;
	while (next_tok(&p, &h))
		if (!holder(&h, &dummy))
			BAD("holder: not PID:MODE");
	return 0;
}

/* ---- replay ----------------------------------------------------------------------- */

/* The record for the key made of line's tokens 1..nkey (as written: keys are
 * compared textually); NULL if a token is missing, the key is too long, or
 * (create false) the key is unknown. */
static struct state_rec *replay_find(struct state_replay *rp, char kind, const char *line, int nkey, bool create)
{
	char key[2 * SM_LOCATION_MAX + 8];
	size_t n = 0;
	key[n++] = kind;
	for (int i = 1; i <= nkey; i++) {
		struct tok t;
		if (!token(line, i, &t) || n + t.len + 2 > sizeof(key))
			return NULL;
		key[n++] = ' ';
		memcpy(key + n, t.s, t.len);
		n += t.len;
	}
	key[n] = '\0';
	uint64_t h = sm_fnv1a(SM_FNV1A_INIT, key, n);
	size_t mask = rp->nslots - 1;
	for (size_t s = h & mask;; s = (s + 1) & mask) {
		if (!rp->slots[s]) {
			if (!create || rp->n == rp->cap)
				return NULL;
			struct state_rec *r = &rp->recs[rp->n];
			if (!(r->key = strdup(key)))
				return NULL;
			r->kind = kind;
			r->live = false;
			r->line = NULL;
			r->renewed = 0;
			rp->slots[s] = (uint32_t)++rp->n;
			return r;
		}
		struct state_rec *r = &rp->recs[rp->slots[s] - 1];
		if (strcmp(r->key, key) == 0)
			return r;
	}
}

/* "renewed LOCATION BOOT_MS": applies to a live lockspace only. */
static void replay_renewed(struct state_replay *rp, char *line, size_t lineno)
{
	struct tok t[4];
	uint64_t ms;
	if (split(line, t, SM_ARRAY_SIZE(t)) != 3 || !dec(&t[2], UINT64_MAX, &ms)) {
		if (!rp->bad_renewed++)
			rp->first_bad_renewed = lineno;
		return;
	}
	struct state_rec *r = replay_find(rp, STATE_LOCKSPACE, line, 1, false);
	if (r && r->live)
		r->renewed = ms;
}

static void replay_line(struct state_replay *rp, char *line, size_t lineno)
{
	static const struct {
		const char *word;
		char kind;
		int nkey;
		bool del;
	} kinds[] = {{"lockspace", STATE_LOCKSPACE, 1, false}, {"proc", STATE_PROC, 1, false},
		     {"lease", STATE_LEASE, 2, false},         {"lockspace-", STATE_LOCKSPACE, 1, true},
		     {"proc-", STATE_PROC, 1, true},           {"lease-", STATE_LEASE, 2, true}};
	struct tok t;
	if (!token(line, 0, &t))
		return;
	if (tok_is(&t, "renewed")) {
		replay_renewed(rp, line, lineno);
		return;
	}
	for (size_t k = 0; k < SM_ARRAY_SIZE(kinds); k++) {
		if (!tok_is(&t, kinds[k].word))
			continue;
		struct state_rec *r = replay_find(rp, kinds[k].kind, line, kinds[k].nkey, !kinds[k].del);
		if (!r)
			return;
		r->live = !kinds[k].del;
		r->line = kinds[k].del ? NULL : line;
		r->lineno = lineno;
		r->renewed = 0;
		return;
	}
	/* unknown line kinds are skipped (as earlier versions did) */
}

int state_replay_parse(char *buf, size_t len, struct state_replay *rp)
{
	memset(rp, 0, sizeof(*rp));
	size_t mlen = strlen(STATE_MAGIC);
	if (len < mlen || memcmp(buf, STATE_MAGIC, mlen) != 0)
		return -SM_EPROTO;
	size_t lines = 1;
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	if (lines >= UINT32_MAX)
		return -ENOMEM; /* slots hold 32-bit indexes */
	rp->cap = lines;
	rp->recs = calloc(lines, sizeof(*rp->recs));
	for (rp->nslots = 16; rp->nslots < 2 * lines; rp->nslots *= 2)
		;
	rp->slots = calloc(rp->nslots, sizeof(*rp->slots));
	if (!rp->recs || !rp->slots)
		return -ENOMEM;
	char *end = buf + len;
	char *p = memchr(buf, '\n', len);
	p = p ? p + 1 : end; /* past the magic line */
	for (size_t lineno = 2; p < end; lineno++) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl) {
			rp->torn = (size_t)(end - p); /* a torn append: ignored */
			break;
		}
		*nl = '\0';
		replay_line(rp, p, lineno);
		p = nl + 1;
	}
	return 0;
}

const struct state_rec *state_replay_next(const struct state_replay *rp, enum state_kind kind,
					  const struct state_rec *prev)
{
	for (size_t i = prev ? (size_t)(prev - rp->recs) + 1 : 0; i < rp->n; i++)
		if (rp->recs[i].live && rp->recs[i].kind == (char)kind)
			return &rp->recs[i];
	return NULL;
}

size_t state_replay_count(const struct state_replay *rp, enum state_kind kind)
{
	size_t n = 0;
	for (const struct state_rec *r = NULL; (r = state_replay_next(rp, kind, r));)
		n++;
	return n;
}

void state_replay_free(struct state_replay *rp)
{
	for (size_t i = 0; i < rp->n; i++)
		free(rp->recs[i].key);
	free(rp->recs);
	free(rp->slots);
	memset(rp, 0, sizeof(*rp));
}

/* ---- the file ------------------------------------------------------------------ */

int state_read_file(const char *path, char **out, size_t *len, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	int rc = fstat(fd, st) < 0 ? -errno : S_ISREG(st->st_mode) ? 0 : -EPERM;
	if (rc < 0) {
		close(fd);
		return rc;
	}
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1);
	for (;;) {
		if (!buf) {
			rc = -ENOMEM;
			break;
		}
		if (n == cap) {
			char *b = realloc(buf, 2 * cap + 1);
			if (!b) {
				rc = -ENOMEM;
				break;
			}
			buf = b;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}
