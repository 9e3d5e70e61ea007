/* Minimal streaming JSON writer for --json output (stable key order is the
 * caller's: keys are written in the order the code emits them). */
#ifndef SM_COMMON_JSON_H
#define SM_COMMON_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SM_JSON_MAX_DEPTH 16

struct sm_json {
	FILE *out;
	int depth;
	bool need_comma[SM_JSON_MAX_DEPTH];
	bool pretty;
};

void sm_json_init(struct sm_json *j, FILE *out, bool pretty);
void sm_json_obj_begin(struct sm_json *j, const char *key); /* key NULL inside arrays/top level */
void sm_json_obj_end(struct sm_json *j);
void sm_json_arr_begin(struct sm_json *j, const char *key);
void sm_json_arr_end(struct sm_json *j);
void sm_json_str(struct sm_json *j, const char *key, const char *val); /* val NULL -> null */
void sm_json_u64(struct sm_json *j, const char *key, uint64_t val);
void sm_json_i64(struct sm_json *j, const char *key, int64_t val);
void sm_json_double(struct sm_json *j, const char *key, double val);
void sm_json_bool(struct sm_json *j, const char *key, bool val);
void sm_json_null(struct sm_json *j, const char *key);
/* Finish the document (newline). */
void sm_json_end(struct sm_json *j);

/* Write s as a JSON string literal (with quotes). */
void sm_json_write_string(FILE *out, const char *s);

#endif
