/* Configuration parser: every value type, every error class, files, printing. */
#include "testutil.h"

#include "common/config.h"
#include "common/util.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tconf {
	bool enabled;
	uint64_t max_hosts;
	uint64_t io_timeout_ms;
	char host_name[SM_CONFIG_STR_MAX];
	char tag[SM_CONFIG_STR_MAX];
	int log_level;
	struct sm_config_list disks;
};

static const char *const levels[] = {"error", "warn", "info", "debug", NULL};

static const struct sm_config_key keys[] = {
	{"enabled", SM_CFG_BOOL, 0, 0, NULL, offsetof(struct tconf, enabled), "use leases"},
	{"max_hosts", SM_CFG_UINT, 1, 2000, NULL, offsetof(struct tconf, max_hosts), "largest host_id"},
	{"io_timeout", SM_CFG_SECONDS, 100, 600000, NULL, offsetof(struct tconf, io_timeout_ms), "I/O timeout"},
	{"host_name", SM_CFG_STRING, 0, 63, NULL, offsetof(struct tconf, host_name), "this host's name"},
	{"tag", SM_CFG_STRING, 0, 8, NULL, offsetof(struct tconf, tag), "short tag"},
	{"log_level", SM_CFG_ENUM, 0, 0, levels, offsetof(struct tconf, log_level), "verbosity"},
	{"disks", SM_CFG_STRING_LIST, 0, 0, NULL, offsetof(struct tconf, disks), "lease disks"},
};
#define NKEYS SM_ARRAY_SIZE(keys)

static struct tconf conf;
static struct sm_config_error err;

static void set_defaults(struct tconf *c)
{
	memset(c, 0, sizeof(*c));
	c->max_hosts = 100;
	c->io_timeout_ms = 10000;
	strcpy(c->host_name, "default-host");
	c->log_level = 1;
	c->disks.count = 1;
	strcpy(c->disks.items[0], "/dev/default");
}

/* Parse text into conf (reset to defaults first). */
static int parse(const char *text)
{
	set_defaults(&conf);
	memset(&err, 0x5a, sizeof(err));
	return sm_config_parse(keys, NKEYS, &conf, text, strlen(text), "test.conf", &err);
}

/* Parsing text fails on line with exactly message. */
#define assert_parse_error(text, lineno, msg)                     \
	do {                                                      \
		assert_int_equal(parse(text), -SM_ECONFIG);       \
		assert_string_equal(err.file, "test.conf");       \
		assert_int_equal(err.line, (lineno));             \
		assert_string_equal(err.message, (msg));          \
	} while (0)

static int teardown(void **state)
{
	tu_cleanup_files();
	return 0;
}

/* ---- value types ---- */

static void bool_accepts_all_spellings_case_insensitively(void **state)
{
	const char *yes[] = {"1", "yes", "true", "on", "YES", "True", "oN"};
	const char *no[] = {"0", "no", "false", "off", "NO", "False", "OFF"};
	char line[64];
	for (size_t i = 0; i < SM_ARRAY_SIZE(yes); i++) {
		snprintf(line, sizeof(line), "enabled = %s\n", yes[i]);
		assert_int_equal(parse(line), 0);
		assert_true(conf.enabled);
		set_defaults(&conf);
		conf.enabled = true;
		snprintf(line, sizeof(line), "enabled = %s\n", no[i]);
		assert_int_equal(sm_config_parse(keys, NKEYS, &conf, line, strlen(line), "t", &err), 0);
		assert_false(conf.enabled);
	}
}

static void bool_rejects_other_words(void **state)
{
	assert_parse_error("enabled = maybe\n", 1,
			   "enabled: 'maybe' is not a boolean (accepted: yes/no, true/false, on/off or 1/0)");
	assert_parse_error("enabled = 2\n", 1,
			   "enabled: '2' is not a boolean (accepted: yes/no, true/false, on/off or 1/0)");
}

static void uint_reads_decimal(void **state)
{
	assert_int_equal(parse("max_hosts = 2000\n"), 0);
	assert_int_equal(conf.max_hosts, 2000);
	assert_int_equal(parse("max_hosts = 0010\n"), 0);
	assert_int_equal(conf.max_hosts, 10);
}

static void uint_rejects_sign_hex_and_garbage(void **state)
{
	assert_parse_error("max_hosts = +5\n", 1, "max_hosts: '+5' is not a decimal number (accepted: 1 .. 2000)");
	assert_parse_error("max_hosts = -5\n", 1, "max_hosts: '-5' is not a decimal number (accepted: 1 .. 2000)");
	assert_parse_error("max_hosts = 0x10\n", 1,
			   "max_hosts: '0x10' is not a decimal number (accepted: 1 .. 2000)");
	assert_parse_error("max_hosts = 12 hosts\n", 1,
			   "max_hosts: '12 hosts' is not a decimal number (accepted: 1 .. 2000)");
	assert_parse_error("max_hosts = \"\"\n", 1, "max_hosts: '' is not a decimal number (accepted: 1 .. 2000)");
}

static void uint_rejects_out_of_range(void **state)
{
	assert_parse_error("max_hosts = 2001\n", 1, "max_hosts: '2001' is out of range (1 .. 2000)");
	assert_parse_error("max_hosts = 0\n", 1, "max_hosts: '0' is out of range (1 .. 2000)");
}

static void uint_overflow_is_out_of_range(void **state)
{
	assert_parse_error("max_hosts = 99999999999999999999999\n", 1,
			   "max_hosts: '99999999999999999999999' is out of range (1 .. 2000)");
}

static void seconds_convert_decimals_to_ms(void **state)
{
	const struct {
		const char *text;
		uint64_t ms;
	} cases[] = {{"10", 10000}, {"0.5", 500}, {"1.25", 1250}, {"2s", 2000}, {"0.125s", 125}, {"600", 600000}};
	char line[64];
	for (size_t i = 0; i < SM_ARRAY_SIZE(cases); i++) {
		snprintf(line, sizeof(line), "io_timeout = %s\n", cases[i].text);
		assert_int_equal(parse(line), 0);
		assert_int_equal(conf.io_timeout_ms, cases[i].ms);
	}
}

static void seconds_out_of_range_names_bounds_in_seconds(void **state)
{
	assert_parse_error("io_timeout = 0.01\n", 1, "io_timeout: '0.01' is out of range (0.1 s .. 600 s)");
	assert_parse_error("io_timeout = 601\n", 1, "io_timeout: '601' is out of range (0.1 s .. 600 s)");
}

static void seconds_reject_non_numbers(void **state)
{
	assert_parse_error("io_timeout = ten\n", 1,
			   "io_timeout: 'ten' is not a number of seconds (accepted: 0.1 s .. 600 s, e.g. 10, 0.5 or 1.25s)");
	assert_parse_error("io_timeout = 10 s\n", 1,
			   "io_timeout: '10 s' is not a number of seconds (accepted: 0.1 s .. 600 s, e.g. 10, 0.5 or 1.25s)");
	assert_parse_error("io_timeout = 1.\n", 1,
			   "io_timeout: '1.' is not a number of seconds (accepted: 0.1 s .. 600 s, e.g. 10, 0.5 or 1.25s)");
}

static void seconds_reject_more_than_3_decimals(void **state)
{
	assert_parse_error("io_timeout = 1.2345\n", 1, "io_timeout: '1.2345' has more than 3 decimals (the unit is 1 ms)");
}

static void string_bare_and_quoted_are_equal(void **state)
{
	assert_int_equal(parse("host_name = node1\n"), 0);
	assert_string_equal(conf.host_name, "node1");
	assert_int_equal(parse("host_name = \"node1\"\n"), 0);
	assert_string_equal(conf.host_name, "node1");
}

static void string_bare_value_keeps_inner_spaces(void **state)
{
	assert_int_equal(parse("host_name =   my host  \n"), 0);
	assert_string_equal(conf.host_name, "my host");
}

static void string_quoted_keeps_spaces_and_hash(void **state)
{
	assert_int_equal(parse("host_name = \"  a # b  \" # comment\n"), 0);
	assert_string_equal(conf.host_name, "  a # b  ");
}

static void string_escapes_quote_and_backslash(void **state)
{
	assert_int_equal(parse("host_name = \"a\\\"b\\\\c\"\n"), 0);
	assert_string_equal(conf.host_name, "a\"b\\c");
}

static void string_empty_quoted_is_allowed(void **state)
{
	assert_int_equal(parse("host_name = \"\"\n"), 0);
	assert_string_equal(conf.host_name, "");
}

static void string_field_is_zero_padded(void **state)
{
	set_defaults(&conf);
	memset(conf.host_name, 'x', sizeof(conf.host_name));
	const char *text = "host_name = ab\n";
	assert_int_equal(sm_config_parse(keys, NKEYS, &conf, text, strlen(text), "t", &err), 0);
	for (size_t i = 2; i < sizeof(conf.host_name); i++)
		assert_int_equal(conf.host_name[i], 0);
}

static void string_unsupported_escape_is_error(void **state)
{
	assert_parse_error("host_name = \"a\\nb\"\n", 1,
			   "host_name: unsupported escape '\\n' in quoted string (only \\\" and \\\\)");
}

static void string_unterminated_quote_is_error(void **state)
{
	assert_parse_error("host_name = \"node1\nx = 1\n", 1,
			   "host_name: missing closing '\"' (quoted strings cannot span lines)");
	assert_parse_error("host_name = \"node1\\\"\n", 1,
			   "host_name: missing closing '\"' (quoted strings cannot span lines)");
}

static void string_text_after_closing_quote_is_error(void **state)
{
	assert_parse_error("host_name = \"a\" b\n", 1, "host_name: unexpected 'b' after the closing quote");
}

static void string_quote_inside_bare_value_is_error(void **state)
{
	assert_parse_error("host_name = a\"b\"\n", 1,
			   "host_name: unexpected '\"' in unquoted value 'a\"b\"' (quote the whole value)");
}

static void string_single_quotes_are_rejected(void **state)
{
	assert_parse_error("host_name = 'node1'\n", 1, "host_name: single quotes are not supported, use double quotes");
}

static void string_too_long_names_limit(void **state)
{
	assert_parse_error("tag = abcdefghi\n", 1, "tag: 'abcdefghi' is too long (9 characters, at most 8)");
	assert_int_equal(parse("tag = abcdefgh\n"), 0);
	assert_string_equal(conf.tag, "abcdefgh");
}

static void string_too_long_message_truncates_value(void **state)
{
	char text[200];
	memset(text, 0, sizeof(text));
	strcpy(text, "host_name = ");
	memset(text + strlen(text), 'h', 100);
	assert_parse_error(text, 1,
			   "host_name: 'hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh...' is too long (100 characters, at most 63)");
}

static void string_max_zero_means_255(void **state)
{
	static const struct sm_config_key k[] = {
		{"s", SM_CFG_STRING, 0, 0, NULL, 0, "s"},
	};
	char s[SM_CONFIG_STR_MAX];
	char text[300] = "s = ";
	memset(text + 4, 'a', 255);
	assert_int_equal(sm_config_parse(k, 1, s, text, strlen(text), "t", &err), 0);
	assert_int_equal(strlen(s), 255);
	text[4 + 255] = 'a';
	assert_int_equal(sm_config_parse(k, 1, s, text, strlen(text), "t", &err), -SM_ECONFIG);
	assert_string_equal(err.message + strlen(err.message) - strlen("(256 characters, at most 255)"),
			    "(256 characters, at most 255)");
}

static void enum_stores_choice_index(void **state)
{
	assert_int_equal(parse("log_level = debug\n"), 0);
	assert_int_equal(conf.log_level, 3);
	assert_int_equal(parse("log_level = \"error\"\n"), 0);
	assert_int_equal(conf.log_level, 0);
	assert_int_equal(parse("log_level = Info\n"), 0);
	assert_int_equal(conf.log_level, 2);
}

static void enum_rejects_unknown_word_listing_choices(void **state)
{
	assert_parse_error("log_level = verbose\n", 1,
			   "log_level: 'verbose' is not one of: error, warn, info, debug");
}

static void list_libvirt_syntax(void **state)
{
	assert_int_equal(parse("disks = [ \"/dev/sda\", \"/dev/sdb\" ]\n"), 0);
	assert_int_equal(conf.disks.count, 2);
	assert_string_equal(conf.disks.items[0], "/dev/sda");
	assert_string_equal(conf.disks.items[1], "/dev/sdb");
	assert_string_equal(conf.disks.items[2], "");
}

static void list_accepts_bare_items_and_trailing_comma(void **state)
{
	assert_int_equal(parse("disks=[/dev/a,\"/dev/b, c\",]\n"), 0);
	assert_int_equal(conf.disks.count, 2);
	assert_string_equal(conf.disks.items[0], "/dev/a");
	assert_string_equal(conf.disks.items[1], "/dev/b, c");
}

static void list_single_string_is_one_item(void **state)
{
	assert_int_equal(parse("disks = \"/dev/sdc\"\n"), 0);
	assert_int_equal(conf.disks.count, 1);
	assert_string_equal(conf.disks.items[0], "/dev/sdc");
	assert_int_equal(parse("disks = /dev/sdd\n"), 0);
	assert_int_equal(conf.disks.count, 1);
	assert_string_equal(conf.disks.items[0], "/dev/sdd");
}

static void list_empty_brackets_clear_default(void **state)
{
	assert_int_equal(parse("disks = [ ]\n"), 0);
	assert_int_equal(conf.disks.count, 0);
	assert_string_equal(conf.disks.items[0], "");
	assert_int_equal(parse("disks = []\n"), 0);
	assert_int_equal(conf.disks.count, 0);
}

static void list_spanning_lines_is_error(void **state)
{
	assert_parse_error("\ndisks = [ \"a\",\n  \"b\" ]\n", 2,
			   "disks: list is not closed with ']' on this line (lists may not span lines)");
	assert_parse_error("disks = [ \"a\" # comment ]\n", 1,
			   "disks: list is not closed with ']' on this line (lists may not span lines)");
}

static void list_too_many_items_is_error(void **state)
{
	assert_int_equal(parse("disks = [a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p]\n"), 0);
	assert_int_equal(conf.disks.count, 16);
	assert_string_equal(conf.disks.items[15], "p");
	assert_parse_error("disks = [a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q]\n", 1, "disks: too many items in list (at most 16)");
}

static void list_missing_comma_is_error(void **state)
{
	assert_parse_error("disks = [ \"a\" \"b\" ]\n", 1, "disks: expected ',' or ']' after list item, found '\"b\" ]'");
}

static void list_empty_item_is_error(void **state)
{
	assert_parse_error("disks = [ a, , b ]\n", 1, "disks: empty item in list");
	assert_parse_error("disks = [ \"\" ]\n", 1, "disks: empty item in list");
}

static void list_item_too_long_is_error(void **state)
{
	char text[400] = "disks = [ a, ";
	memset(text + strlen(text), 'x', 256);
	strcat(text, " ]\n");
	assert_int_equal(parse(text), -SM_ECONFIG);
	assert_non_null(strstr(err.message, "disks: item 'xxxx"));
	assert_non_null(strstr(err.message, "is too long (256 characters, at most 255)"));
}

static void list_nested_is_error(void **state)
{
	assert_parse_error("disks = [ [a] ]\n", 1, "disks: nested lists are not supported");
}

static void list_text_after_bracket_is_error(void **state)
{
	assert_parse_error("disks = [ a ] b\n", 1, "disks: unexpected 'b' after ']'");
}

static void list_unquoted_comma_asks_for_brackets(void **state)
{
	assert_parse_error("disks = /dev/a, /dev/b\n", 1,
			   "disks: ',' in unquoted value '/dev/a, /dev/b' (write several items as [ \"a\", \"b\" ])");
}

static void list_rejected_for_scalar_key(void **state)
{
	assert_parse_error("max_hosts = [ 1 ]\n", 1, "max_hosts: a list is not accepted here (expected a decimal number, 1 .. 2000)");
}

/* ---- syntax ---- */

static void comments_and_blank_lines_are_ignored(void **state)
{
	assert_int_equal(parse("# header\n\n   \n\t# indented comment\nmax_hosts = 7 # trailing\n#last"), 0);
	assert_int_equal(conf.max_hosts, 7);
}

static void whitespace_around_key_equals_and_value_is_ignored(void **state)
{
	assert_int_equal(parse(" \t max_hosts\t=\t 9 \t\n"), 0);
	assert_int_equal(conf.max_hosts, 9);
	assert_int_equal(parse("max_hosts=9\n"), 0);
	assert_int_equal(conf.max_hosts, 9);
}

static void crlf_line_endings_are_accepted(void **state)
{
	assert_int_equal(parse("max_hosts = 9\r\nhost_name = \"n\"\r\n"), 0);
	assert_int_equal(conf.max_hosts, 9);
	assert_string_equal(conf.host_name, "n");
}

static void last_line_without_newline_is_parsed(void **state)
{
	assert_int_equal(parse("max_hosts = 1\nmax_hosts_x = 2"), -SM_ECONFIG);
	assert_int_equal(err.line, 2);
	assert_int_equal(parse("enabled = 1\nmax_hosts = 3"), 0);
	assert_int_equal(conf.max_hosts, 3);
}

static void empty_input_is_valid(void **state)
{
	assert_int_equal(parse(""), 0);
	assert_int_equal(sm_config_parse(keys, NKEYS, &conf, NULL, 0, "t", &err), 0);
}

static void text_is_not_read_past_len(void **state)
{
	const char buf[] = "max_hosts = 12garbage";
	set_defaults(&conf);
	assert_int_equal(sm_config_parse(keys, NKEYS, &conf, buf, strlen("max_hosts = 12"), "t", &err), 0);
	assert_int_equal(conf.max_hosts, 12);
}

static void defaults_are_kept_for_unmentioned_keys(void **state)
{
	assert_int_equal(parse("max_hosts = 5\n"), 0);
	struct tconf expect;
	set_defaults(&expect);
	expect.max_hosts = 5;
	assert_memory_equal(&conf, &expect, sizeof(conf));
}

static void error_leaves_output_untouched(void **state)
{
	assert_int_equal(parse("max_hosts = 5\nhost_name = x\nenabled = perhaps\n"), -SM_ECONFIG);
	struct tconf expect;
	set_defaults(&expect);
	assert_memory_equal(&conf, &expect, sizeof(conf));
}

static void null_output_only_validates(void **state)
{
	const char *text = "max_hosts = 5\n";
	assert_int_equal(sm_config_parse(keys, NKEYS, NULL, text, strlen(text), "t", &err), 0);
	assert_int_equal(sm_config_parse(keys, NKEYS, NULL, "max_hosts = 0\n", 14, "t", &err), -SM_ECONFIG);
}

static void null_error_and_filename_are_allowed(void **state)
{
	set_defaults(&conf);
	assert_int_equal(sm_config_parse(keys, NKEYS, &conf, "bad\n", 4, NULL, NULL), -SM_ECONFIG);
	assert_int_equal(sm_config_parse(keys, NKEYS, &conf, "bad\n", 4, NULL, &err), -SM_ECONFIG);
	assert_string_equal(err.file, "<input>");
}

/* ---- error classes ---- */

static void unknown_key_suggests_closest(void **state)
{
	assert_parse_error("io_timout = 10\n", 1, "unknown key 'io_timout' (did you mean 'io_timeout'?)");
	assert_parse_error("hostname = a\n", 1, "unknown key 'hostname' (did you mean 'host_name'?)");
	assert_parse_error("IO-TIMEOUT = 10\n", 1, "unknown key 'IO-TIMEOUT' (did you mean 'io_timeout'?)");
	assert_parse_error("io_tiemout = 10\n", 1, "unknown key 'io_tiemout' (did you mean 'io_timeout'?)");
}

static void unknown_key_without_close_match_has_no_suggestion(void **state)
{
	assert_parse_error("watchdog = 1\n", 1, "unknown key 'watchdog'");
	assert_parse_error("t = 1\n", 1, "unknown key 't'");
}

static void duplicate_key_names_first_line(void **state)
{
	assert_parse_error("max_hosts = 1\n# c\nmax_hosts = 1\n", 3, "duplicate key 'max_hosts' (already set on line 1)");
}

static void missing_equals_is_error(void **state)
{
	assert_parse_error("enabled = 1\nmax_hosts 5\n", 2, "max_hosts: expected '=' after the key, found '5'");
	assert_parse_error("max_hosts: 5\n", 1, "max_hosts: expected '=' after the key, found ': 5'");
	assert_parse_error("max_hosts\n", 1, "max_hosts: expected '=' after the key");
}

static void missing_key_is_error(void **state)
{
	assert_parse_error("= 5\n", 1, "missing key before '='");
	assert_parse_error("\"max_hosts\" = 5\n", 1, "expected 'key = value', found '\"max_hosts\" = 5'");
}

static void missing_value_is_error(void **state)
{
	assert_parse_error("\n\nhost_name =\n", 3, "host_name: missing value");
	assert_parse_error("host_name = # nothing\n", 1, "host_name: missing value");
}

static void line_longer_than_4096_is_error(void **state)
{
	char *text = malloc(SM_CONFIG_LINE_MAX + 16);
	assert_non_null(text);
	memset(text, ' ', SM_CONFIG_LINE_MAX + 1);
	memcpy(text, "max_hosts = 1", 13);
	text[SM_CONFIG_LINE_MAX] = '\0';
	assert_int_equal(parse(text), 0); /* exactly 4096 */
	strcpy(text + SM_CONFIG_LINE_MAX, " \n");
	assert_parse_error(text, 1, "line is longer than 4096 characters");
	free(text);
}

static void nul_byte_is_error(void **state)
{
	const char text[] = "max_hosts = 1\nhost_name = a\0b\n";
	set_defaults(&conf);
	assert_int_equal(sm_config_parse(keys, NKEYS, &conf, text, sizeof(text) - 1, "test.conf", &err), -SM_ECONFIG);
	assert_int_equal(err.line, 2);
	assert_string_equal(err.message, "line contains a NUL byte");
}

static void control_bytes_are_escaped_in_messages(void **state)
{
	assert_parse_error("max_hosts = 1\x01\x1b\n", 1,
			   "max_hosts: '1\\x01\\x1b' is not a decimal number (accepted: 1 .. 2000)");
}

static void parsing_stops_at_first_error(void **state)
{
	assert_parse_error("max_hosts = 1\nmax_hosts = 1\nbogus = 2\n", 2,
			   "duplicate key 'max_hosts' (already set on line 1)");
}

/* ---- files ---- */

static const char *write_file(const char *tag, const char *text, size_t len)
{
	const char *path = tu_temp_file(tag, 0);
	assert_non_null(path);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void load_reads_file(void **state)
{
	const char *text = "max_hosts = 42\nhost_name = \"node7\"\n";
	const char *path = write_file("cfg", text, strlen(text));
	set_defaults(&conf);
	assert_int_equal(sm_config_load(keys, NKEYS, &conf, path, &err), 0);
	assert_int_equal(conf.max_hosts, 42);
	assert_string_equal(conf.host_name, "node7");
}

static void load_reports_path_and_line(void **state)
{
	const char *text = "max_hosts = 42\n\nio_timout = 1\n";
	const char *path = write_file("cfg", text, strlen(text));
	set_defaults(&conf);
	assert_int_equal(sm_config_load(keys, NKEYS, &conf, path, &err), -SM_ECONFIG);
	assert_string_equal(err.file, path);
	assert_int_equal(err.line, 3);
	assert_string_equal(err.message, "unknown key 'io_timout' (did you mean 'io_timeout'?)");
	assert_int_equal(conf.max_hosts, 100);
}

static void load_missing_file_returns_1_and_keeps_defaults(void **state)
{
	const char *path = tu_temp_file("cfg", 0);
	char missing[600];
	snprintf(missing, sizeof(missing), "%s.does-not-exist", path);
	set_defaults(&conf);
	struct tconf expect = conf;
	assert_int_equal(sm_config_load(keys, NKEYS, &conf, missing, &err), 1);
	assert_memory_equal(&conf, &expect, sizeof(conf));
	assert_string_equal(err.file, missing);
}

static void load_refuses_files_over_1mib(void **state)
{
	const char *path = tu_temp_file("big", SM_CONFIG_FILE_MAX + 1);
	assert_non_null(path);
	set_defaults(&conf);
	assert_int_equal(sm_config_load(keys, NKEYS, &conf, path, &err), -EFBIG);
	assert_string_equal(err.file, path);
	assert_string_equal(err.message, "file is larger than 1048576 bytes");
}

static void load_accepts_exactly_1mib(void **state)
{
	char *text = malloc(SM_CONFIG_FILE_MAX);
	assert_non_null(text);
	for (size_t i = 0; i < SM_CONFIG_FILE_MAX; i += 64) {
		memset(text + i, '#', 63);
		text[i + 63] = '\n';
	}
	memcpy(text, "max_hosts = 3", 13);
	const char *path = write_file("cfg", text, SM_CONFIG_FILE_MAX);
	free(text);
	set_defaults(&conf);
	assert_int_equal(sm_config_load(keys, NKEYS, &conf, path, &err), 0);
	assert_int_equal(conf.max_hosts, 3);
}

static void load_directory_is_error(void **state)
{
	const char *dir = getenv("SM_TEST_TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	assert_int_equal(sm_config_load(keys, NKEYS, &conf, dir, &err), -EISDIR);
	assert_string_equal(err.file, dir);
	assert_int_equal(err.line, 0);
}

/* ---- printing ---- */

static char *print_to_string(const struct tconf *c)
{
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);
	assert_non_null(f);
	sm_config_print(f, keys, NKEYS, c);
	assert_int_equal(fclose(f), 0);
	return out;
}

static void print_writes_every_key_in_config_syntax(void **state)
{
	assert_int_equal(parse("enabled = on\nio_timeout = 1.25\nhost_name = \"a\\\"b\\\\c\"\n"
			       "disks = [ x, \"y z\" ]\nlog_level = info\n"),
			 0);
	char *out = print_to_string(&conf);
	assert_string_equal(out, "enabled = yes\n"
				 "max_hosts = 100\n"
				 "io_timeout = 1.25\n"
				 "host_name = \"a\\\"b\\\\c\"\n"
				 "tag = \"\"\n"
				 "log_level = info\n"
				 "disks = [ \"x\", \"y z\" ]\n");
	free(out);
}

static void print_output_parses_back_to_same_values(void **state)
{
	assert_int_equal(parse("enabled = 1\nmax_hosts = 2000\nio_timeout = 0.1\ntag = \"#\\\\ \"\n"
			       "log_level = debug\ndisks = [ ]\n"),
			 0);
	struct tconf first = conf;
	char *out = print_to_string(&first);
	memset(&conf, 0, sizeof(conf));
	assert_int_equal(sm_config_parse(keys, NKEYS, &conf, out, strlen(out), "printed", &err), 0);
	assert_memory_equal(&conf, &first, sizeof(conf));
	free(out);
}

static void print_keys_lists_every_key_with_help(void **state)
{
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);
	assert_non_null(f);
	sm_config_print_keys(f, keys, NKEYS);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(out, "io_timeout = <seconds (up to 3 decimals), 0.1 s .. 600 s>\n    I/O timeout\n"));
	assert_non_null(strstr(out, "log_level = <one of: error, warn, info, debug>\n    verbosity\n"));
	assert_non_null(strstr(out, "max_hosts = <a decimal number, 1 .. 2000>\n"));
	for (size_t i = 0; i < NKEYS; i++) {
		assert_non_null(strstr(out, keys[i].name));
		assert_non_null(strstr(out, keys[i].help));
	}
	free(out);
}

/* ---- checks of what a value means ---- */

static unsigned check_calls;

/* Refuses the tag "bad" and a disk list naming "/dev/missing". */
static const char *check_tag_and_disks(const struct sm_config_key *k, const void *value, char *buf, size_t len)
{
	check_calls++;
	if (!strcmp(k->name, "tag") && !strcmp(value, "bad")) {
		snprintf(buf, len, "'bad' is refused here: use another tag");
		return buf;
	}
	if (!strcmp(k->name, "disks")) {
		const struct sm_config_list *l = value;
		for (size_t i = 0; i < l->count; i++)
			if (!strcmp(l->items[i], "/dev/missing")) {
				snprintf(buf, len, "%s does not exist", l->items[i]);
				return buf;
			}
	}
	return NULL;
}

static int parse_checked(const char *text)
{
	set_defaults(&conf);
	check_calls = 0;
	return sm_config_parse_checked(keys, NKEYS, check_tag_and_disks, &conf, text, strlen(text), "test.conf", &err);
}

static void check_refusal_is_the_error_of_its_line(void **state)
{
	const char *text = "max_hosts = 7\n\ntag = bad\n";
	assert_int_equal(parse_checked(text), -SM_ECONFIG);
	assert_string_equal(err.file, "test.conf");
	assert_int_equal(err.line, 3);
	assert_string_equal(err.message, "tag: 'bad' is refused here: use another tag");
	assert_int_equal(conf.max_hosts, 100); /* nothing stored */
	text = "disks = [ \"/dev/a\", \"/dev/missing\" ]\n";
	assert_int_equal(parse_checked(text), -SM_ECONFIG);
	assert_int_equal(err.line, 1);
	assert_string_equal(err.message, "disks: /dev/missing does not exist");
}

static void check_sees_each_converted_value_once(void **state)
{
	const char *text = "tag = good\nmax_hosts = 9\ndisks = [ \"/dev/a\" ]\n";
	assert_int_equal(parse_checked(text), 0);
	assert_int_equal(check_calls, 3); /* while validating only, not again when storing */
	assert_string_equal(conf.tag, "good");
	assert_int_equal(conf.max_hosts, 9);
}

static void load_checked_reports_path_and_line(void **state)
{
	const char *path = write_file("chk", "tag = bad\n", 10);
	set_defaults(&conf);
	assert_int_equal(sm_config_load_checked(keys, NKEYS, check_tag_and_disks, &conf, path, &err), -SM_ECONFIG);
	assert_string_equal(err.file, path);
	assert_int_equal(err.line, 1);
	assert_string_equal(err.message, "tag: 'bad' is refused here: use another tag");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bool_accepts_all_spellings_case_insensitively),
		cmocka_unit_test(bool_rejects_other_words),
		cmocka_unit_test(uint_reads_decimal),
		cmocka_unit_test(uint_rejects_sign_hex_and_garbage),
		cmocka_unit_test(uint_rejects_out_of_range),
		cmocka_unit_test(uint_overflow_is_out_of_range),
		cmocka_unit_test(seconds_convert_decimals_to_ms),
		cmocka_unit_test(seconds_out_of_range_names_bounds_in_seconds),
		cmocka_unit_test(seconds_reject_non_numbers),
		cmocka_unit_test(seconds_reject_more_than_3_decimals),
		cmocka_unit_test(string_bare_and_quoted_are_equal),
		cmocka_unit_test(string_bare_value_keeps_inner_spaces),
		cmocka_unit_test(string_quoted_keeps_spaces_and_hash),
		cmocka_unit_test(string_escapes_quote_and_backslash),
		cmocka_unit_test(string_empty_quoted_is_allowed),
		cmocka_unit_test(string_field_is_zero_padded),
		cmocka_unit_test(string_unsupported_escape_is_error),
		cmocka_unit_test(string_unterminated_quote_is_error),
		cmocka_unit_test(string_text_after_closing_quote_is_error),
		cmocka_unit_test(string_quote_inside_bare_value_is_error),
		cmocka_unit_test(string_single_quotes_are_rejected),
		cmocka_unit_test(string_too_long_names_limit),
		cmocka_unit_test(string_too_long_message_truncates_value),
		cmocka_unit_test(string_max_zero_means_255),
		cmocka_unit_test(enum_stores_choice_index),
		cmocka_unit_test(enum_rejects_unknown_word_listing_choices),
		cmocka_unit_test(list_libvirt_syntax),
		cmocka_unit_test(list_accepts_bare_items_and_trailing_comma),
		cmocka_unit_test(list_single_string_is_one_item),
		cmocka_unit_test(list_empty_brackets_clear_default),
		cmocka_unit_test(list_spanning_lines_is_error),
		cmocka_unit_test(list_too_many_items_is_error),
		cmocka_unit_test(list_missing_comma_is_error),
		cmocka_unit_test(list_empty_item_is_error),
		cmocka_unit_test(list_item_too_long_is_error),
		cmocka_unit_test(list_nested_is_error),
		cmocka_unit_test(list_text_after_bracket_is_error),
		cmocka_unit_test(list_unquoted_comma_asks_for_brackets),
		cmocka_unit_test(list_rejected_for_scalar_key),
		cmocka_unit_test(comments_and_blank_lines_are_ignored),
		cmocka_unit_test(whitespace_around_key_equals_and_value_is_ignored),
		cmocka_unit_test(crlf_line_endings_are_accepted),
		cmocka_unit_test(last_line_without_newline_is_parsed),
		cmocka_unit_test(empty_input_is_valid),
		cmocka_unit_test(text_is_not_read_past_len),
		cmocka_unit_test(defaults_are_kept_for_unmentioned_keys),
		cmocka_unit_test(error_leaves_output_untouched),
		cmocka_unit_test(null_output_only_validates),
		cmocka_unit_test(null_error_and_filename_are_allowed),
		cmocka_unit_test(unknown_key_suggests_closest),
		cmocka_unit_test(unknown_key_without_close_match_has_no_suggestion),
		cmocka_unit_test(duplicate_key_names_first_line),
		cmocka_unit_test(missing_equals_is_error),
		cmocka_unit_test(missing_key_is_error),
		cmocka_unit_test(missing_value_is_error),
		cmocka_unit_test(line_longer_than_4096_is_error),
		cmocka_unit_test(nul_byte_is_error),
		cmocka_unit_test(control_bytes_are_escaped_in_messages),
		cmocka_unit_test(parsing_stops_at_first_error),
		cmocka_unit_test_teardown(load_reads_file, teardown),
		cmocka_unit_test_teardown(load_reports_path_and_line, teardown),
		cmocka_unit_test_teardown(load_missing_file_returns_1_and_keeps_defaults, teardown),
		cmocka_unit_test_teardown(load_refuses_files_over_1mib, teardown),
		cmocka_unit_test_teardown(load_accepts_exactly_1mib, teardown),
		cmocka_unit_test(load_directory_is_error),
		cmocka_unit_test(print_writes_every_key_in_config_syntax),
		cmocka_unit_test(print_output_parses_back_to_same_values),
		cmocka_unit_test(print_keys_lists_every_key_with_help),
		cmocka_unit_test(check_refusal_is_the_error_of_its_line),
		cmocka_unit_test(check_sees_each_converted_value_once),
		cmocka_unit_test_teardown(load_checked_reports_path_and_line, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
