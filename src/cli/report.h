/* Rendering daemon listings for the CLI. */
#ifndef SM_CLI_REPORT_H
#define SM_CLI_REPORT_H

#include "common/json.h"
#include "sync_manager/admin.h"

#include <stddef.h>

enum col_fmt { COL_PLAIN, COL_AGE_MS, COL_DURATION_MS, COL_MS_AS_S };

struct column {
	const char *key;
	const char *header;
	enum col_fmt fmt;
};

/* Aligned table of one section's records. */
void report_print_table(const struct sm_section *s, const struct column *cols, int ncols, const char *indent);
/* The whole report as one JSON object: {section: [records]}; sections named
 * in single_sections (NULL-terminated) become one object instead of a list. */
void report_print_json(const struct sm_report *r, const char *const *single_sections);
void report_json_section(struct sm_json *j, const struct sm_section *s, bool single);
void report_format_field(const struct sm_field *f, enum col_fmt fmt, char *buf, size_t len);

#endif
