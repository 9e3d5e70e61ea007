#include "json.h"

#include <inttypes.h>

void sm_json_init(struct sm_json *j, FILE *out, bool pretty)
{
	j->out = out;
	j->depth = 0;
	j->need_comma[0] = false;
	j->pretty = pretty;
}

void sm_json_write_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

static void prefix(struct sm_json *j, const char *key)
{
	if (j->need_comma[j->depth])
		fputc(',', j->out);
	if (j->pretty && j->depth > 0) {
		fputc('\n', j->out);
		for (int i = 0; i < j->depth; i++)
			fputs("  ", j->out);
	}
	j->need_comma[j->depth] = true;
	if (key) {
		sm_json_write_string(j->out, key);
		fputs(j->pretty ? ": " : ":", j->out);
	}
}

static void open_(struct sm_json *j, const char *key, char c)
{
	prefix(j, key);
	fputc(c, j->out);
	if (j->depth < SM_JSON_MAX_DEPTH - 1)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void close_(struct sm_json *j, char c)
{
	bool had = j->need_comma[j->depth];
	if (j->depth > 0)
		j->depth--;
	if (j->pretty && had) {
		fputc('\n', j->out);
		for (int i = 0; i < j->depth; i++)
			fputs("  ", j->out);
	}
	fputc(c, j->out);
}

void sm_json_obj_begin(struct sm_json *j, const char *key) { open_(j, key, '{'); }
void sm_json_obj_end(struct sm_json *j) { close_(j, '}'); }
void sm_json_arr_begin(struct sm_json *j, const char *key) { open_(j, key, '['); }
void sm_json_arr_end(struct sm_json *j) { close_(j, ']'); }

void sm_json_str(struct sm_json *j, const char *key, const char *val)
{
	prefix(j, key);
	if (val)
		sm_json_write_string(j->out, val);
	else
		fputs("null", j->out);
}

void sm_json_u64(struct sm_json *j, const char *key, uint64_t val)
{
	prefix(j, key);
	fprintf(j->out, "%" PRIu64, val);
}

void sm_json_i64(struct sm_json *j, const char *key, int64_t val)
{
	prefix(j, key);
	fprintf(j->out, "%" PRId64, val);
}

void sm_json_double(struct sm_json *j, const char *key, double val)
{
	prefix(j, key);
	fprintf(j->out, "%.3f", val);
}

void sm_json_bool(struct sm_json *j, const char *key, bool val)
{
	prefix(j, key);
	fputs(val ? "true" : "false", j->out);
}

void sm_json_null(struct sm_json *j, const char *key)
{
	prefix(j, key);
	fputs("null", j->out);
}

void sm_json_end(struct sm_json *j)
{
	fputc('\n', j->out);
	fflush(j->out);
}
