/* libFuzzer target: reading sync_managerd's state file (state_replay.h).
 *
 * Besides not crashing or reading outside the input:
 *  - state_replay_parse() agrees with a naive model of the replay (latest
 *    line per key, deletes, "renewed", torn last line) written here;
 *  - each record parser either rejects a line with a reason, or returns
 *    in-range fields that, written back the way state.c writes them, parse
 *    to the same fields.
 * Every line of the input also goes through every record parser.
 *
 *   make fuzz     (or: CC=clang cmake -DSM_FUZZ=ON ...; ninja fuzz_state)
 *   build-fuzz/tests/fuzz_state tests/fuzz/corpus/state -max_len=16384
 */
#include "daemon/state_replay.h"

#include "sync_manager/errors.h"

#include <errno.h>
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

/* ---- writing fields back, as state.c does ---------------------------------- */

static void esc(FILE *f, const char *s)
{
	if (!*s) {
		fputc('-', f);
		return;
	}
	for (const char *c0 = s; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c == '%' || c >= 0x7f || (c == '-' && s == c0 && s[1] == '\0'))
			fprintf(f, "%%%02X", c);
		else
			fputc(c, f);
	}
}

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static void check_ls(const char *line)
{
	struct state_ls_fields a, b;
	const char *why = NULL;
	if (state_parse_lockspace(line, &a, &why) < 0) {
		CHECK(why && *why);
		return;
	}
	CHECK(terminated(a.location, sizeof(a.location)));
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CHECK(f);
	fputs("lockspace ", f);
	esc(f, a.location);
	fprintf(f, " %u %llu ", a.host_id, (unsigned long long)a.generation);
	for (int i = 0; i < 16; i++)
		fprintf(f, "%02x", a.instance[i]);
	fprintf(f, " %llu %d", (unsigned long long)a.last_renewal_boot_ms, a.failed);
	if (a.has_header) {
		CHECK(terminated(a.name, sizeof(a.name)) && a.name[0] && a.io_timeout_ms && a.watchdog_timeout_ms);
		fprintf(f, " %s %u %u", a.name, a.io_timeout_ms, a.watchdog_timeout_ms);
	}
	CHECK(fclose(f) == 0);
	CHECK(state_parse_lockspace(text, &b, &why) == 0);
	CHECK(strcmp(a.location, b.location) == 0 && a.host_id == b.host_id && a.generation == b.generation &&
	      memcmp(a.instance, b.instance, 16) == 0 && a.last_renewal_boot_ms == b.last_renewal_boot_ms &&
	      a.failed == b.failed && a.has_header == b.has_header);
	CHECK(!a.has_header || (strcmp(a.name, b.name) == 0 && a.io_timeout_ms == b.io_timeout_ms &&
				a.watchdog_timeout_ms == b.watchdog_timeout_ms));
	free(text);
}

static void check_proc(const char *line)
{
	struct state_proc_fields a, b;
	const char *why = NULL;
	if (state_parse_proc(line, &a, &why) < 0) {
		CHECK(why && *why);
		return;
	}
	CHECK(a.pid > 0 && a.signal >= 0 && a.signal <= 64 && a.nargs >= 0 && a.nargs <= STATE_KILL_ARGS_MAX);
	CHECK(terminated(a.name, sizeof(a.name)) && terminated(a.kill_path, sizeof(a.kill_path)));
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CHECK(f);
	fprintf(f, "proc %d %llu %d ", (int)a.pid, (unsigned long long)a.starttime, a.by_parent);
	esc(f, a.name);
	fprintf(f, " %d ", a.signal);
	esc(f, a.kill_path);
	fprintf(f, " %d", a.nargs);
	for (int i = 0; i < a.nargs; i++) {
		CHECK(terminated(a.args[i], sizeof(a.args[i])));
		fputc(' ', f);
		esc(f, a.args[i]);
	}
	if (a.has_owner)
		fprintf(f, " %u:%u", (unsigned)a.uid, (unsigned)a.gid);
	CHECK(fclose(f) == 0);
	CHECK(state_parse_proc(text, &b, &why) == 0);
	CHECK(a.pid == b.pid && a.starttime == b.starttime && a.by_parent == b.by_parent &&
	      strcmp(a.name, b.name) == 0 && a.signal == b.signal && strcmp(a.kill_path, b.kill_path) == 0 &&
	      a.nargs == b.nargs && a.has_owner == b.has_owner && a.uid == b.uid && a.gid == b.gid);
	for (int i = 0; i < a.nargs; i++)
		CHECK(strcmp(a.args[i], b.args[i]) == 0);
	free(text);
}

static void check_lease(const char *line)
{
	struct state_lease_fields a, b;
	const char *why = NULL;
	if (state_parse_lease(line, &a, &why) < 0) {
		CHECK(why && *why);
		return;
	}
	CHECK(a.mode <= SM_MODE_SH && a.nlocations >= 0 && a.nlocations <= 3);
	CHECK(a.ls[0] && terminated(a.ls, sizeof(a.ls)) && a.name[0] && terminated(a.name, sizeof(a.name)));
	CHECK(a.holders >= line && a.holders <= line + strlen(line));
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CHECK(f);
	fprintf(f, "lease %s %s %u %llu %d %d %d", a.ls, a.name, a.mode, (unsigned long long)a.lver, a.on_disk,
		a.in_doubt, a.nlocations);
	for (int i = 0; i < a.nlocations; i++) {
		CHECK(terminated(a.location[i], sizeof(a.location[i])));
		fputc(' ', f);
		esc(f, a.location[i]);
	}
	size_t n = 0;
	struct state_holder h;
	for (const char *c = a.holders; state_next_holder(&c, &h); n++) {
		CHECK(h.pid > 0 && h.mode <= SM_MODE_SH);
		fprintf(f, " %d:%u", (int)h.pid, h.mode);
	}
	CHECK(n == a.nholders);
	CHECK(fclose(f) == 0);
	CHECK(state_parse_lease(text, &b, &why) == 0);
	CHECK(strcmp(a.ls, b.ls) == 0 && strcmp(a.name, b.name) == 0 && a.mode == b.mode && a.lver == b.lver &&
	      a.on_disk == b.on_disk && a.in_doubt == b.in_doubt && a.nlocations == b.nlocations &&
	      a.nholders == b.nholders);
	for (int i = 0; i < a.nlocations; i++)
		CHECK(strcmp(a.location[i], b.location[i]) == 0);
	/* the holders again, from the text written back */
	struct state_holder h2;
	const char *c1 = a.holders, *c2 = b.holders;
	while (state_next_holder(&c1, &h)) {
		CHECK(state_next_holder(&c2, &h2) && h.pid == h2.pid && h.mode == h2.mode);
	}
	free(text);
}

/* ---- a naive model of the replay ------------------------------------------------- */

struct mrec {
	char key[600];
	bool live;
	size_t off; /* of its line in the buffer */
	uint64_t renewed;
};

/* Tokens of a NUL-terminated line, split on runs of spaces (at most 64). */
static int mtokens(char *copy, char **tok)
{
	int n = 0;
	char *save = NULL;
	for (char *t = strtok_r(copy, " ", &save); t && n < 64; t = strtok_r(NULL, " ", &save))
		tok[n++] = t;
	return n;
}

/* Key from tokens 1..nkey, or false if a token is missing or it is too long
 * (the replay's limit: 2 * SM_LOCATION_MAX + 8 bytes with the NUL). */
static bool mkey(char kind, char **tok, int n, int nkey, char *key)
{
	size_t len = 1;
	key[0] = kind;
	key[1] = '\0';
	for (int i = 1; i <= nkey; i++) {
		if (i >= n || len + strlen(tok[i]) + 2 > 2 * SM_LOCATION_MAX + 8)
			return false;
		len += 1 + strlen(tok[i]);
		strcat(key, " ");
		strcat(key, tok[i]);
	}
	return true;
}

static bool mnumber(const char *s, uint64_t *v)
{
	if (!*s || strspn(s, "0123456789") != strlen(s) || (s[0] == '0' && s[1]))
		return false;
	errno = 0;
	*v = strtoull(s, NULL, 10);
	return errno == 0;
}

static void check_replay(const char *buf, size_t size, const struct state_replay *rp, char *copy)
{
	struct mrec *m = calloc(size + 1, sizeof(*m));
	CHECK(m);
	size_t nm = 0, bad = 0, torn = 0;
	char *tok[64];
	char *nl = memchr(copy, '\n', size);
	size_t off = nl ? (size_t)(nl - copy) + 1 : size;
	while (off < size) {
		nl = memchr(copy + off, '\n', size - off);
		if (!nl) {
			torn = size - off;
			break;
		}
		*nl = '\0';
		size_t line = off;
		off = (size_t)(nl - copy) + 1;
		int n = mtokens(copy + line, tok);
		if (n == 0)
			continue;
		char kind = 0, key[600];
		bool del = false;
		int nkey = 1;
		if (strcmp(tok[0], "renewed") == 0) {
			uint64_t v;
			if (n != 3 || !mnumber(tok[2], &v)) {
				bad++;
				continue;
			}
			if (!mkey('S', tok, n, 1, key))
				continue;
			for (size_t i = 0; i < nm; i++)
				if (strcmp(m[i].key, key) == 0 && m[i].live)
					m[i].renewed = v;
			continue;
		}
		static const char *const words[] = {"lockspace", "proc", "lease", "lockspace-", "proc-", "lease-"};
		for (int k = 0; k < 6; k++)
			if (strcmp(tok[0], words[k]) == 0) {
				kind = "SPLSPL"[k];
				del = k >= 3;
				nkey = k % 3 == 2 ? 2 : 1;
			}
		if (!kind || !mkey(kind, tok, n, nkey, key))
			continue;
		size_t i = 0;
		while (i < nm && strcmp(m[i].key, key) != 0)
			i++;
		if (i == nm) {
			if (del)
				continue;
			snprintf(m[nm++].key, sizeof(m[0].key), "%s", key);
		}
		m[i].live = !del;
		m[i].off = line;
		m[i].renewed = 0;
	}
	CHECK(rp->n == nm && rp->torn == torn && rp->bad_renewed == bad);
	for (size_t i = 0; i < nm; i++) {
		const struct state_rec *r = &rp->recs[i];
		CHECK(strcmp(r->key, m[i].key) == 0 && r->kind == m[i].key[0] && r->live == m[i].live);
		if (!r->live) {
			CHECK(!r->line);
			continue;
		}
		CHECK(r->line == buf + m[i].off && r->renewed == m[i].renewed);
	}
	free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exactly size bytes, so reading past the input is caught. */
	char *buf = malloc(size ? size : 1);
	char *copy = malloc(size + 1);
	CHECK(buf && copy);
	memcpy(buf, data, size);
	memcpy(copy, data, size);
	copy[size] = '\0';

	struct state_replay rp;
	int rc = state_replay_parse(buf, size, &rp);
	if (rc == 0) {
		CHECK(size >= strlen(STATE_MAGIC) && memcmp(data, STATE_MAGIC, strlen(STATE_MAGIC)) == 0);
		check_replay(buf, size, &rp, copy);
		size_t counted = 0;
		static const enum state_kind kinds[] = {STATE_LOCKSPACE, STATE_PROC, STATE_LEASE};
		for (int k = 0; k < 3; k++) {
			size_t n = 0;
			for (const struct state_rec *r = NULL; (r = state_replay_next(&rp, kinds[k], r)); n++) {
				CHECK(r->live && r->line && r->kind == (char)kinds[k]);
				if (kinds[k] == STATE_LOCKSPACE)
					check_ls(r->line);
				else if (kinds[k] == STATE_PROC)
					check_proc(r->line);
				else
					check_lease(r->line);
			}
			CHECK(n == state_replay_count(&rp, kinds[k]));
			counted += n;
		}
		CHECK(counted <= rp.n);
	} else {
		CHECK(rc == -SM_EPROTO || rc == -ENOMEM);
	}
	state_replay_free(&rp);

	/* Every line through every record parser (the last one need not end
	 * with a newline here). */
	memcpy(copy, data, size);
	for (char *line = copy, *nl; line < copy + size; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(copy + size - line));
		if (!nl)
			nl = copy + size;
		*nl = '\0';
		check_ls(line);
		check_proc(line);
		check_lease(line);
	}
	free(copy);
	free(buf);
	return 0;
}
