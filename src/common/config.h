/* Typed, strict parser for "key = value" configuration files
 * (/etc/sync_manager/sync_managerd.conf, /etc/libvirt/qemu-sync_manager.conf).
 *
 * Syntax, one setting per line:
 *   # comment (also after a value, anywhere outside quotes)
 *   key = value            bare value: trimmed, may not contain '"'
 *   key = "value"          quoted: \" and \\ are the only escapes
 *   key = [ "a", "b" ]     STRING_LIST only; bare items allowed, trailing ','
 *                          allowed, [ ] is empty; a list may not span lines
 * Keys are [A-Za-z0-9_.-] and case-sensitive.  Unknown or repeated keys,
 * malformed lines, bad values, NUL bytes and lines over SM_CONFIG_LINE_MAX
 * characters are errors.
 *
 * Values (quotes are accepted around any of them):
 *   BOOL         1/0, yes/no, true/false, on/off (case-insensitive)   -> bool
 *   UINT         decimal digits, min..max                              -> uint64_t
 *   SECONDS      "10", "0.5", "1.25s" (<= 3 decimals); min..max in ms  -> uint64_t ms
 *   STRING       at most max bytes (0 or > 255 means 255)               -> char[SM_CONFIG_STR_MAX]
 *   ENUM         one of choices (exact, else case-insensitive match)    -> int index
 *   STRING_LIST  list or single string; each item non-empty, at most
 *                max bytes like STRING; at most SM_CONFIG_LIST_MAX items -> struct sm_config_list
 * Fields are written with memcpy (no alignment requirement); STRING and
 * STRING_LIST fields are written whole and zero-padded.
 */
#ifndef SM_COMMON_CONFIG_H
#define SM_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SM_CONFIG_STR_MAX 256            /* STRING field size, including the NUL */
#define SM_CONFIG_LIST_MAX 16            /* items in a STRING_LIST */
#define SM_CONFIG_LINE_MAX 4096          /* longest accepted line, without '\n' */
#define SM_CONFIG_FILE_MAX (1024 * 1024) /* largest file sm_config_load reads */

enum sm_config_type {
	SM_CFG_BOOL,
	SM_CFG_UINT,
	SM_CFG_SECONDS, /* decimal seconds -> ms */
	SM_CFG_STRING,
	SM_CFG_ENUM,
	SM_CFG_STRING_LIST,
};

struct sm_config_key {
	const char *name;           /* e.g. "io_timeout" */
	enum sm_config_type type;
	uint64_t min, max;          /* UINT: value bounds; SECONDS: bounds in ms;
	                               STRING, STRING_LIST items: max length (0 = 255) */
	const char *const *choices; /* ENUM: NULL-terminated list of accepted words */
	size_t offset;              /* offsetof(struct yourconf, field) */
	const char *help;           /* one line, used by sm_config_print_keys() */
};

struct sm_config_list {
	size_t count;
	char items[SM_CONFIG_LIST_MAX][SM_CONFIG_STR_MAX];
};

/* file: as given to the parser; line: 1-based, 0 when the error is not
 * about a line (e.g. the file cannot be read). */
struct sm_config_error {
	char file[256];
	unsigned line;
	char message[512];
};

/* A check of what a value means here, beyond its syntax (a group that
 * exists, a volume that is there).  Called for every key set in the text
 * while the text is validated, with the converted value (the field's type),
 * before anything is stored.  Returns NULL if the value is usable, else what
 * is wrong and how to fix it (written into buf), which becomes the error of
 * that line. */
typedef const char *sm_config_check_fn(const struct sm_config_key *k, const void *value, char *buf, size_t len);

/* Parse text (len bytes, need not be NUL-terminated) into out.  Returns 0,
 * or -SM_ECONFIG with *err naming the file, line, key, bad value and what is
 * accepted; parsing stops at the first error and out is then left entirely
 * untouched (values are only stored once the whole text is valid).  Fields
 * of keys not mentioned keep what the caller put there (defaults).
 * -ENOMEM if a small allocation fails.  out NULL only validates; err and
 * filename may be NULL. */
int sm_config_parse(const struct sm_config_key *keys, size_t nkeys, void *out, const char *text, size_t len,
		    const char *filename, struct sm_config_error *err);

/* sm_config_parse with check (may be NULL) applied to each value set. */
int sm_config_parse_checked(const struct sm_config_key *keys, size_t nkeys, sm_config_check_fn *check, void *out,
			    const char *text, size_t len, const char *filename, struct sm_config_error *err);

/* Read and parse a file.  A missing file (ENOENT) returns 1 and leaves out
 * untouched (callers decide whether that is fine).  Read errors return -errno
 * (-EFBIG for files over SM_CONFIG_FILE_MAX, -EISDIR for directories), parse
 * errors -SM_ECONFIG; err is filled in every non-zero case. */
int sm_config_load(const struct sm_config_key *keys, size_t nkeys, void *out, const char *path,
		   struct sm_config_error *err);
/* sm_config_load with check (may be NULL) applied to each value set. */
int sm_config_load_checked(const struct sm_config_key *keys, size_t nkeys, sm_config_check_fn *check, void *out,
			   const char *path, struct sm_config_error *err);

/* "name = value" for every key, in config syntax (strings quoted), so the
 * output parses back to the same values (for --check-config). */
void sm_config_print(FILE *f, const struct sm_config_key *keys, size_t nkeys, const void *conf);
/* Every key with its accepted values and help line. */
void sm_config_print_keys(FILE *f, const struct sm_config_key *keys, size_t nkeys);

#endif
