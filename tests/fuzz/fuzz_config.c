/* libFuzzer target for sm_config_parse (every key type).
 *
 * Checks, besides the sanitizers: an error leaves the output untouched and
 * has a line and a message; a success yields in-range values; and what
 * sm_config_print writes parses back to the same values.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude -Isrc \
 *     tests/fuzz/fuzz_config.c src/common/config.c src/common/util.c src/common/errors.c \
 *     src/common/log.c -o /tmp/fuzz_config
 *   /tmp/fuzz_config tests/fuzz/corpus/config -max_len=10000 -max_total_time=60
 */
#include "common/config.h"
#include "common/util.h"
#include "sync_manager/errors.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fconf {
	bool flag;
	uint64_t count, small, timeout_ms, any_ms;
	char name[SM_CONFIG_STR_MAX];
	char tiny[SM_CONFIG_STR_MAX];
	int mode, cased;
	struct sm_config_list list, short_list;
};

static const char *const modes[] = {"off", "shared", "exclusive", NULL};
static const char *const cased[] = {"a", "A", "ab", NULL};

static const struct sm_config_key keys[] = {
	{"flag", SM_CFG_BOOL, 0, 0, NULL, offsetof(struct fconf, flag), "a bool"},
	{"count", SM_CFG_UINT, 0, UINT64_MAX, NULL, offsetof(struct fconf, count), "any number"},
	{"small", SM_CFG_UINT, 1, 10, NULL, offsetof(struct fconf, small), "1 .. 10"},
	{"timeout", SM_CFG_SECONDS, 100, 600000, NULL, offsetof(struct fconf, timeout_ms), "0.1 .. 600 s"},
	{"any_time", SM_CFG_SECONDS, 0, UINT64_MAX, NULL, offsetof(struct fconf, any_ms), "any seconds"},
	{"name", SM_CFG_STRING, 0, 0, NULL, offsetof(struct fconf, name), "up to 255"},
	{"tiny", SM_CFG_STRING, 0, 4, NULL, offsetof(struct fconf, tiny), "up to 4"},
	{"mode", SM_CFG_ENUM, 0, 0, modes, offsetof(struct fconf, mode), "enum"},
	{"cased", SM_CFG_ENUM, 0, 0, cased, offsetof(struct fconf, cased), "case-variant choices"},
	{"list", SM_CFG_STRING_LIST, 0, 0, NULL, offsetof(struct fconf, list), "list"},
	{"short_list", SM_CFG_STRING_LIST, 0, 3, NULL, offsetof(struct fconf, short_list), "items up to 3"},
};

static void defaults(struct fconf *c)
{
	memset(c, 0, sizeof(*c));
	c->small = 5;
	c->timeout_ms = 10000;
	strcpy(c->name, "default");
	c->mode = 1;
	c->list.count = 2;
	strcpy(c->list.items[0], "x");
	strcpy(c->list.items[1], "y z");
}

static bool str_ok(const char *s, size_t max)
{
	return strnlen(s, SM_CONFIG_STR_MAX) <= max;
}

static bool list_ok(const struct sm_config_list *l, size_t max)
{
	if (l->count > SM_CONFIG_LIST_MAX)
		return false;
	for (size_t i = 0; i < SM_CONFIG_LIST_MAX; i++)
		if (!str_ok(l->items[i], max) || (i < l->count) != (l->items[i][0] != '\0'))
			return false;
	return true;
}

static bool values_ok(const struct fconf *c)
{
	return c->small >= 1 && c->small <= 10 && c->timeout_ms >= 100 && c->timeout_ms <= 600000 &&
	       str_ok(c->name, 255) && str_ok(c->tiny, 4) && c->mode >= 0 && c->mode <= 2 && c->cased >= 0 &&
	       c->cased <= 2 && list_ok(&c->list, 255) && list_ok(&c->short_list, 3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fconf conf, def, back;
	struct sm_config_error err;
	static bool keys_printed;
	if (!keys_printed) {
		FILE *null = fopen("/dev/null", "w");
		if (null) {
			sm_config_print_keys(null, keys, SM_ARRAY_SIZE(keys));
			fclose(null);
		}
		keys_printed = true;
	}
	defaults(&conf);
	defaults(&def);
	int r = sm_config_parse(keys, SM_ARRAY_SIZE(keys), &conf, (const char *)data, size, "fuzz.conf", &err);
	if (r != 0) {
		if (r != -SM_ECONFIG || err.line == 0 || !err.message[0] ||
		    strnlen(err.message, sizeof(err.message)) == sizeof(err.message) ||
		    memcmp(&conf, &def, sizeof(conf)) != 0)
			abort();
		return 0;
	}
	if (!values_ok(&conf))
		abort();

	/* Printed lines can exceed SM_CONFIG_LINE_MAX only for inputs near it. */
	if (size > 1024)
		return 0;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return 0;
	sm_config_print(f, keys, SM_ARRAY_SIZE(keys), &conf);
	if (fclose(f) != 0)
		abort();
	memset(&back, 0, sizeof(back));
	r = sm_config_parse(keys, SM_ARRAY_SIZE(keys), &back, text, len, "printed", &err);
	if (r != 0) {
		fprintf(stderr, "printed config does not parse: line %u: %s\n%s", err.line, err.message, text);
		abort();
	}
	if (memcmp(&back, &conf, sizeof(conf)) != 0) {
		fprintf(stderr, "printed config parses to different values:\n%s", text);
		abort();
	}
	free(text);
	return 0;
}
