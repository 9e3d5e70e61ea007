/* Rendering daemon listings (sections of typed records) as aligned tables
 * or as JSON.  JSON keys are the daemon's field keys, unchanged. */
#include "report.h"

#include "common/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void report_json_section(struct sm_json *j, const struct sm_section *s, bool single)
{
	if (single)
		sm_json_obj_begin(j, s->name);
	else
		sm_json_arr_begin(j, s->name);
	for (int i = 0; i < s->nrecords; i++) {
		if (!single)
			sm_json_obj_begin(j, NULL);
		for (int k = 0; k < s->records[i].nfields; k++) {
			const struct sm_field *f = &s->records[i].fields[k];
			switch (f->type) {
			case SM_FIELD_STR: sm_json_str(j, f->key, f->str); break;
			case SM_FIELD_U64: sm_json_u64(j, f->key, f->u64); break;
			case SM_FIELD_I64: sm_json_i64(j, f->key, f->i64); break;
			case SM_FIELD_BOOL: sm_json_bool(j, f->key, f->b); break;
			}
		}
		if (!single)
			sm_json_obj_end(j);
		if (single)
			break;
	}
	if (single)
		sm_json_obj_end(j);
	else
		sm_json_arr_end(j);
}

void report_print_json(const struct sm_report *r, const char *const *single_sections)
{
	struct sm_json j;
	sm_json_init(&j, stdout, true);
	sm_json_obj_begin(&j, NULL);
	for (int s = 0; s < r->nsections; s++) {
		bool single = false;
		for (int k = 0; single_sections && single_sections[k]; k++)
			single |= strcmp(single_sections[k], r->sections[s].name) == 0;
		report_json_section(&j, &r->sections[s], single);
	}
	sm_json_obj_end(&j);
	sm_json_end(&j);
}

void report_format_field(const struct sm_field *f, enum col_fmt fmt, char *buf, size_t len)
{
	if (!f) {
		snprintf(buf, len, "-");
		return;
	}
	switch (fmt) {
	case COL_AGE_MS:
	case COL_DURATION_MS: {
		int64_t v = f->type == SM_FIELD_I64 ? f->i64 : (int64_t)f->u64;
		if (v < 0)
			snprintf(buf, len, "-");
		else if (v < 1000 && fmt == COL_DURATION_MS)
			snprintf(buf, len, "%" PRId64 " ms", v); /* renewal and I/O times */
		else if (v < 10000)
			snprintf(buf, len, "%.1f s%s", v / 1000.0, fmt == COL_AGE_MS ? " ago" : "");
		else
			snprintf(buf, len, "%" PRId64 " s%s", v / 1000, fmt == COL_AGE_MS ? " ago" : "");
		return;
	}
	case COL_MS_AS_S:
		snprintf(buf, len, "%g s", (double)(f->type == SM_FIELD_I64 ? f->i64 : (int64_t)f->u64) / 1000.0);
		return;
	case COL_PLAIN:
		break;
	}
	switch (f->type) {
	case SM_FIELD_STR: snprintf(buf, len, "%s", f->str[0] ? f->str : "-"); break;
	case SM_FIELD_U64: snprintf(buf, len, "%" PRIu64, f->u64); break;
	case SM_FIELD_I64: snprintf(buf, len, "%" PRId64, f->i64); break;
	case SM_FIELD_BOOL: snprintf(buf, len, "%s", f->b ? "yes" : "no"); break;
	}
}

void report_print_table(const struct sm_section *s, const struct column *cols, int ncols, const char *indent)
{
	enum { MAXW = 60 };
	int width[16] = {0};
	char cell[256];
	for (int c = 0; c < ncols && c < 16; c++)
		width[c] = (int)strlen(cols[c].header);
	for (int i = 0; s && i < s->nrecords; i++)
		for (int c = 0; c < ncols && c < 16; c++) {
			report_format_field(sm_record_field(&s->records[i], cols[c].key), cols[c].fmt, cell, sizeof(cell));
			int w = (int)strlen(cell);
			if (w > width[c])
				width[c] = w > MAXW ? MAXW : w;
		}
	printf("%s", indent);
	for (int c = 0; c < ncols; c++)
		printf("%-*s%s", width[c], cols[c].header, c + 1 < ncols ? "  " : "\n");
	for (int i = 0; s && i < s->nrecords; i++) {
		printf("%s", indent);
		for (int c = 0; c < ncols; c++) {
			report_format_field(sm_record_field(&s->records[i], cols[c].key), cols[c].fmt, cell, sizeof(cell));
			printf("%-*s%s", width[c], cell, c + 1 < ncols ? "  " : "\n");
		}
	}
}
