/* Lease state strings of the libvirt plugin (src/libvirt/lvstate.c): the
 * text libvirt keeps in the domain status and carries in the migration
 * cookie, unescaped, inside <lockstate><leases>STATE</leases></lockstate>.
 * Round trips, XML safety, and every way a damaged or foreign state is
 * refused with a message that names the problem. */
#include "testutil.h"

#include "libvirt/lvstate.h"
#include "libvirt/procargs.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char errbuf[512];

static struct lvstate *new_state(void)
{
	struct lvstate *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	return s;
}

static void add(struct lvstate *s, const char *ls, const char *name, uint32_t mode, uint64_t lver)
{
	assert_true(s->n < LVSTATE_MAX_LEASES);
	struct lvstate_lease *l = &s->l[s->n++];
	assert_true(strlen(ls) < sizeof(l->lockspace) && strlen(name) < sizeof(l->name));
	strcpy(l->lockspace, ls);
	strcpy(l->name, name);
	l->mode = mode;
	l->lver = lver;
}

/* Every character of an encoded state is one of these. */
static bool xml_safe(const char *text)
{
	for (const char *c = text; *c; c++) {
		bool ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
			  strchr("._-%:;/", *c);
		if (!ok)
			return false;
	}
	return true;
}

/* Encode s, check the text is XML-safe, decode it, compare. */
static void round_trip(const struct lvstate *s)
{
	char *text = lvstate_encode(s);
	assert_non_null(text);
	assert_true(strncmp(text, LVSTATE_PREFIX, strlen(LVSTATE_PREFIX)) == 0);
	if (!xml_safe(text))
		fail_msg("encoded state is not XML-safe: %s", text);
	assert_null(strpbrk(text, "<>&\"'\n\r\t "));
	struct lvstate *d = new_state();
	memset(d, 0x5a, sizeof(*d));
	errbuf[0] = '\0';
	if (lvstate_decode(text, d, errbuf, sizeof(errbuf)) != 0)
		fail_msg("own encoding refused: %s (%s)", errbuf, text);
	assert_int_equal(d->n, s->n);
	for (int i = 0; i < s->n; i++) {
		assert_string_equal(d->l[i].lockspace, s->l[i].lockspace);
		assert_string_equal(d->l[i].name, s->l[i].name);
		assert_int_equal(d->l[i].mode, s->l[i].mode);
		assert_true(d->l[i].lver == s->l[i].lver);
	}
	free(d);
	free(text);
}

/* decode(text) fails, with a one-line message containing needle (and
 * needle2 unless NULL). */
static bool refused(const char *text, const char *needle, const char *needle2)
{
	struct lvstate *st = new_state();
	memset(errbuf, 0, sizeof(errbuf));
	int rc = lvstate_decode(text, st, errbuf, sizeof(errbuf));
	free(st);
	if (rc != -1) {
		print_error("accepted: '%s'\n", text ? text : "(null)");
		return false;
	}
	if (!strstr(errbuf, needle) || (needle2 && !strstr(errbuf, needle2)) || strpbrk(errbuf, "\n\r")) {
		print_error("for '%.80s': message '%s' does not say '%s'%s%s\n", text ? text : "(null)", errbuf, needle,
			    needle2 ? "' and '" : "", needle2 ? needle2 : "");
		return false;
	}
	return true;
}
#define assert_refused(text, needle, needle2) assert_true(refused((text), (needle), (needle2)))

/* ---- round trips ----------------------------------------------------------- */

static void empty_state_round_trips(void **state)
{
	(void)state;
	struct lvstate *s = new_state();
	char *text = lvstate_encode(s);
	assert_string_equal(text, "sync_manager/1;");
	free(text);
	round_trip(s);
	free(s);
}

static void exact_format_of_two_leases(void **state)
{
	(void)state;
	struct lvstate *s = new_state();
	add(s, "ls1", "vm-0123", 1, 7);
	add(s, "ls1", "disk-ab", 2, 0);
	char *text = lvstate_encode(s);
	assert_string_equal(text, "sync_manager/1;ls1:vm-0123:EX:7;ls1:disk-ab:SH:0");
	free(text);
	free(s);
}

static void several_leases_sh_and_ex_round_trip(void **state)
{
	(void)state;
	struct lvstate *s = new_state();
	add(s, "leases", "vm-2f1c0e4a-7d1b-4c55-9a0e-5d7b3c9a1e20", 1, 1);
	add(s, "leases", "disk-0123456789abcdef", 1, 42);
	add(s, "other.ls", "shared_disk", 2, 3);
	add(s, "x", "y", 2, 0);
	round_trip(s);
	free(s);
}

static void large_lease_versions_round_trip(void **state)
{
	(void)state;
	struct lvstate *s = new_state();
	add(s, "ls", "a", 1, UINT64_MAX);
	add(s, "ls", "b", 1, UINT64_MAX - 1);
	add(s, "ls", "c", 2, (uint64_t)1 << 63);
	add(s, "ls", "d", 1, 4294967296ull);
	round_trip(s);
	char *text = lvstate_encode(s);
	assert_non_null(strstr(text, ":EX:18446744073709551615;"));
	free(text);
	free(s);
}

static void names_needing_percent_encoding_round_trip(void **state)
{
	(void)state;
	struct lvstate *s = new_state();
	/* every printable ASCII character a name may hold (not ':' or '/') */
	char all[96];
	size_t n = 0;
	for (int c = 0x21; c < 0x7f; c++)
		if (c != ':' && c != '/')
			all[n++] = (char)c;
	all[n] = '\0';
	add(s, "ls", "a%b", 1, 1);
	add(s, "ls;x", "<lease>&\"'", 2, 2);
	add(s, "100%", "%25", 1, 3);
	add(s, "semi;colon", "eq=ua~ls!", 1, 4);
	char part[64];
	for (size_t off = 0; off < n; off += 40) {
		snprintf(part, sizeof(part), "%.40s", all + off);
		add(s, part, part, 1, off);
	}
	round_trip(s);
	char *text = lvstate_encode(s);
	/* upper-case hex, '%' itself escaped */
	assert_non_null(strstr(text, ";ls:a%25b:EX:1;"));
	assert_non_null(strstr(text, ";ls%3Bx:%3Clease%3E%26%22%27:SH:2;"));
	free(text);
	free(s);
}

static void longest_names_all_escaped_round_trip(void **state)
{
	(void)state;
	struct lvstate *s = new_state();
	char ls[64], name[64];
	memset(ls, '<', 63);
	ls[63] = '\0';
	memset(name, '&', 63);
	name[63] = '\0';
	add(s, ls, name, 2, UINT64_MAX);
	add(s, name, ls, 1, 0);
	round_trip(s);
	free(s);
}

static void sixty_four_leases_with_longest_names_round_trip(void **state)
{
	(void)state;
	struct lvstate *s = new_state();
	for (int i = 0; i < LVSTATE_MAX_LEASES; i++) {
		char ls[64], name[64];
		memset(ls, '"', 63);
		ls[63] = '\0';
		memset(name, '%', 63);
		snprintf(name, sizeof(name), "%02d", i);
		name[2] = '%';
		name[63] = '\0';
		add(s, ls, name, i % 2 ? 2 : 1, UINT64_MAX - (uint64_t)i);
	}
	round_trip(s);
	free(s);
}

static void lower_case_escapes_are_accepted(void **state)
{
	(void)state;
	struct lvstate *s = new_state();
	assert_int_equal(lvstate_decode("sync_manager/1;a%3bb:%3c%3E:SH:9", s, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(s->n, 1);
	assert_string_equal(s->l[0].lockspace, "a;b");
	assert_string_equal(s->l[0].name, "<>");
	assert_int_equal(s->l[0].mode, 2);
	assert_true(s->l[0].lver == 9);
	free(s);
}

static void find_matches_lockspace_and_name(void **state)
{
	(void)state;
	struct lvstate *s = new_state();
	add(s, "ls1", "r", 1, 5);
	add(s, "ls2", "r", 2, 6);
	const struct lvstate_lease *l = lvstate_find(s, "ls2", "r");
	assert_non_null(l);
	assert_true(l->lver == 6);
	assert_null(lvstate_find(s, "ls3", "r"));
	assert_null(lvstate_find(s, "ls1", "x"));
	free(s);
}

/* ---- refusals ------------------------------------------------------------------ */

static void foreign_states_are_refused(void **state)
{
	(void)state;
	static const char *const foreign[] = {
		"",
		"lockspace:vm-1:/var/lib/libvirt/sanlock/abc:0:5", /* sanlock-like */
		"<leases/>",
		"SYNC_MANAGER/1;ls:a:EX:1",
		"sync_manager;ls:a:EX:1",
		" sync_manager/1;ls:a:EX:1",
		"syncmanager/1;ls:a:EX:1",
	};
	for (size_t i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++)
		assert_refused(foreign[i], "was not written by sync_manager (format 1)", NULL);
	assert_refused(NULL, "was not written by sync_manager", NULL);
	/* the message quotes the state */
	assert_refused("lockspace:vm-1:/dev/x:0:5", "'lockspace:vm-1:/dev/x:0:5'", NULL);
}

static void other_format_versions_are_refused(void **state)
{
	(void)state;
	assert_refused("sync_manager/2;ls:a:EX:1", "format '2'", "reads format 1 only");
	assert_refused("sync_manager/0;", "format '0'", "reads format 1 only");
	assert_refused("sync_manager/10;ls:a:EX:1", "format '10'", "reads format 1 only");
	assert_refused("sync_manager/1.1;ls:a:EX:1", "format '1.1'", "reads format 1 only");
	assert_refused("sync_manager/;", "format ''", "reads format 1 only");
}

static void truncated_prefix_is_refused(void **state)
{
	(void)state;
	assert_refused("sync_manager/1", "truncated", "sync_manager/1;");
	assert_refused("sync_manager/", "truncated", NULL);
	assert_refused("sync_manager", "was not written by sync_manager", NULL);
}

static void truncated_entries_are_refused(void **state)
{
	(void)state;
	assert_refused("sync_manager/1;ls:a:EX:1;", "ends with ';'", NULL);
	assert_refused("sync_manager/1;ls:a:EX:", "bad lease version ''", "entry 1");
	assert_refused("sync_manager/1;ls:a:EX", "entry 1", "too few fields");
	assert_refused("sync_manager/1;ls:a:E", "entry 1", "too few fields");
	assert_refused("sync_manager/1;ls:a", "entry 1", "too few fields");
	assert_refused("sync_manager/1;ls", "entry 1", "too few fields");
	assert_refused("sync_manager/1;ls:a:EX:1;ls:b:SH", "entry 2", "too few fields");
	assert_refused("sync_manager/1;ls:a%2", "entry 1", "too few fields");
	assert_refused("sync_manager/1;ls:a%2:EX:1", "lease name 'a%2'", "bad escape");
}

static void malformed_fields_are_refused(void **state)
{
	(void)state;
	assert_refused("sync_manager/1;ls:a:EX:1:extra", "entry 1", "too many fields");
	assert_refused("sync_manager/1;;", "entry 1", "too few fields");
	assert_refused("sync_manager/1;ls:a:EX:1;;ls:b:EX:2", "entry 2", "too few fields");
	assert_refused("sync_manager/1;:a:EX:1", "lockspace name ''", "is empty");
	assert_refused("sync_manager/1;ls::EX:1", "lease name ''", "is empty");
	assert_refused("sync_manager/1;ls:a:XX:1", "bad lease mode 'XX'", "expected EX or SH");
	assert_refused("sync_manager/1;ls:a:ex:1", "bad lease mode 'ex'", "entry 1");
	assert_refused("sync_manager/1;ls:a::1", "bad lease mode ''", "entry 1");
	assert_refused("sync_manager/1;ls:a:EXCLUSIVE:1", "bad lease mode 'EXCLUSIVE'", NULL);
	assert_refused("sync_manager/1;ls:a:EX:1;ls:b:SH:2;ls:c:SHH:3", "bad lease mode 'SHH'", "entry 3");
	static const char *const bad_lver[] = {"-1", "+1", "0x10", "012", "00", "1 ", " 1", "1a", "a", "1e5", "1.0"};
	for (size_t i = 0; i < sizeof(bad_lver) / sizeof(bad_lver[0]); i++) {
		char text[64];
		snprintf(text, sizeof(text), "sync_manager/1;ls:a:EX:%s", bad_lver[i]);
		assert_refused(text, "bad lease version", "entry 1");
	}
	/* raw characters that must be encoded */
	assert_refused("sync_manager/1;l s:a:EX:1", "lockspace name 'l s'", "must be percent-encoded");
	assert_refused("sync_manager/1;ls:<a>:EX:1", "lease name '<a>'", "must be percent-encoded");
	assert_refused("sync_manager/1;ls:a/b:EX:1", "lease name 'a/b'", "must be percent-encoded");
}

static void bad_escapes_are_refused(void **state)
{
	(void)state;
	assert_refused("sync_manager/1;ls:a%G1:EX:1", "lease name 'a%G1'", "bad escape");
	assert_refused("sync_manager/1;ls:a%1G:EX:1", "lease name", "bad escape");
	assert_refused("sync_manager/1;ls:a%:EX:1", "lease name 'a%'", "bad escape");
	assert_refused("sync_manager/1;ls:%%41:EX:1", "lease name", "bad escape");
	assert_refused("sync_manager/1;l%4:a:EX:1", "lockspace name 'l%4'", "bad escape");
	/* decoded bytes outside printable ASCII, and space */
	static const char *const bytes[] = {"%00", "%0A", "%0d", "%09", "%20", "%7F", "%80", "%FF"};
	for (size_t i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++) {
		char text[64];
		snprintf(text, sizeof(text), "sync_manager/1;ls:a%sb:EX:1", bytes[i]);
		assert_refused(text, "lease name", "escape of a space, control or non-ASCII byte");
	}
	/* escapes of characters names cannot hold */
	assert_refused("sync_manager/1;ls:a%3Ab:EX:1", "invalid name in entry 1", "'ls:a:b'");
	assert_refused("sync_manager/1;l%2Fs:a:EX:1", "invalid name in entry 1", "'/'");
}

static void more_than_64_leases_are_refused(void **state)
{
	(void)state;
	struct lvstate *s = new_state();
	for (int i = 0; i < LVSTATE_MAX_LEASES; i++) {
		char name[16];
		snprintf(name, sizeof(name), "r%d", i);
		add(s, "ls", name, 1, (uint64_t)i);
	}
	char *text = lvstate_encode(s);
	round_trip(s); /* 64 is fine */
	char *more = malloc(strlen(text) + 32);
	sprintf(more, "%s;ls:r64:EX:64", text);
	assert_refused(more, "more than 64 leases", NULL);
	free(more);
	free(text);
	free(s);
}

static void overlong_names_are_refused(void **state)
{
	(void)state;
	char n63[64], n64[65], text[512], esc64[3 * 64 + 1];
	memset(n63, 'a', 63);
	n63[63] = '\0';
	memset(n64, 'a', 64);
	n64[64] = '\0';
	snprintf(text, sizeof(text), "sync_manager/1;%s:%s:EX:1", n63, n63);
	struct lvstate *s = new_state();
	assert_int_equal(lvstate_decode(text, s, errbuf, sizeof(errbuf)), 0);
	free(s);
	snprintf(text, sizeof(text), "sync_manager/1;ls:%s:EX:1", n64);
	assert_refused(text, "lease name", "longer than 63 characters");
	snprintf(text, sizeof(text), "sync_manager/1;%s:a:SH:1", n64);
	assert_refused(text, "lockspace name", "longer than 63 characters");
	/* 64 escapes: short enough as text, too long decoded */
	for (int i = 0; i < 64; i++)
		memcpy(esc64 + 3 * i, "%3C", 3);
	esc64[3 * 64] = '\0';
	snprintf(text, sizeof(text), "sync_manager/1;ls:%s:EX:1", esc64);
	assert_refused(text, "lease name", "longer than 63 characters");
}

static void lease_version_overflow_is_refused(void **state)
{
	(void)state;
	struct lvstate *s = new_state();
	assert_int_equal(lvstate_decode("sync_manager/1;ls:a:EX:18446744073709551615", s, errbuf, sizeof(errbuf)), 0);
	assert_true(s->l[0].lver == UINT64_MAX);
	free(s);
	assert_refused("sync_manager/1;ls:a:EX:18446744073709551616", "bad lease version '18446744073709551616'",
		       "18446744073709551615");
	assert_refused("sync_manager/1;ls:a:EX:99999999999999999999", "bad lease version", "entry 1");
	assert_refused("sync_manager/1;ls:a:EX:100000000000000000000000000", "bad lease version", "entry 1");
	assert_refused("sync_manager/1;ls:a:SH:1;ls:b:EX:184467440737095516150", "bad lease version", "entry 2");
}

static void messages_do_not_echo_control_bytes(void **state)
{
	(void)state;
	assert_refused("foreign\nstate\x01\x7f\xff", "'foreign?state?\?\?'", NULL);
	assert_refused("sync_manager/1;ls:a\nb:EX:1", "lease name 'a?b'", NULL);
	assert_refused("sync_manager/1;ls:a:EX:1\r", "bad lease version '1?'", NULL);
	/* long foreign states are cut */
	char longtext[300];
	memset(longtext, 'x', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = '\0';
	assert_refused(longtext, "xxx...'", NULL);
	assert_true(strlen(errbuf) < 120);
}

static void small_or_missing_error_buffer_is_safe(void **state)
{
	(void)state;
	struct lvstate *s = new_state();
	char small[8];
	memset(small, 'z', sizeof(small));
	assert_int_equal(lvstate_decode("sync_manager/2;", s, small, sizeof(small)), -1);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(lvstate_decode("sync_manager/1;x", s, NULL, 0), -1);
	free(s);
}

static void refused_state_leaves_only_accepted_entries(void **state)
{
	(void)state;
	struct lvstate *s = new_state();
	assert_int_equal(lvstate_decode("sync_manager/1;ls:a:EX:1;ls:b:XX:2", s, errbuf, sizeof(errbuf)), -1);
	assert_int_equal(s->n, 1);
	/* a later good decode starts afresh */
	assert_int_equal(lvstate_decode("sync_manager/1;", s, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(s->n, 0);
	free(s);
}

/* ---- is the QEMU an incoming one: "-incoming" as a whole argument ------------------ */

/* A process whose command line is argv (sh waiting on a pipe); its pid. */
static pid_t spawn_args(char *const argv[], int *wfd)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[0], 0);
		close(p[0]);
		close(p[1]);
		execv("/bin/sh", argv);
		_exit(127);
	}
	close(p[0]);
	*wfd = p[1];
	/* wait until the exec happened: the command line is argv's */
	char path[64], buf[16];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	for (int i = 0; i < 5000; i++) {
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf), f) : 0;
		if (f)
			fclose(f);
		if (n >= 3 && !memcmp(buf, "sh", 3))
			break;
		usleep(1000);
	}
	return pid;
}

static void reap(pid_t pid, int wfd)
{
	close(wfd); /* sh's read sees EOF and exits */
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
}

static int has_arg(char *const argv[], const char *arg)
{
	int wfd;
	pid_t pid = spawn_args(argv, &wfd);
	int rc = proc_has_arg(pid, arg);
	reap(pid, wfd);
	return rc;
}

static void incoming_is_matched_as_a_whole_argument(void **state)
{
	(void)state;
	char *const yes[] = {"sh", "-c", "read x", "-incoming", "defer", NULL};
	char *const last[] = {"sh", "-c", "read x", "-incoming", NULL};
	char *const part[] = {"sh", "-c", "read x", "/images/x-incoming", "-incomingx", "-incomin", NULL};
	char *const inside[] = {"sh", "-c", "read x # -incoming defer", NULL};
	assert_int_equal(has_arg(yes, "-incoming"), 1);
	assert_int_equal(has_arg(last, "-incoming"), 1);
	assert_int_equal(has_arg(part, "-incoming"), 0);
	assert_int_equal(has_arg(inside, "-incoming"), 0);
	assert_int_equal(has_arg(yes, "--incoming"), 0);
}

/* libvirt puts -incoming near the end of a long QEMU command line. */
static void incoming_after_a_long_command_line_is_found(void **state)
{
	(void)state;
	size_t big = 100000;
	char *longarg = malloc(big + 1);
	assert_non_null(longarg);
	memset(longarg, 'a', big);
	longarg[big] = '\0';
	char *const argv[] = {"sh", "-c", "read x", longarg, longarg, "-incoming", "defer", NULL};
	assert_int_equal(has_arg(argv, "-incoming"), 1);
	char *const argv2[] = {"sh", "-c", "read x", longarg, longarg, "defer", NULL};
	assert_int_equal(has_arg(argv2, "-incoming"), 0);
	free(longarg);
}

static void unreadable_command_line_is_an_error(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(proc_has_arg(pid, "-incoming"), -ENOENT); /* gone: the caller is strict */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty_state_round_trips),
		cmocka_unit_test(exact_format_of_two_leases),
		cmocka_unit_test(several_leases_sh_and_ex_round_trip),
		cmocka_unit_test(large_lease_versions_round_trip),
		cmocka_unit_test(names_needing_percent_encoding_round_trip),
		cmocka_unit_test(longest_names_all_escaped_round_trip),
		cmocka_unit_test(sixty_four_leases_with_longest_names_round_trip),
		cmocka_unit_test(lower_case_escapes_are_accepted),
		cmocka_unit_test(find_matches_lockspace_and_name),
		cmocka_unit_test(foreign_states_are_refused),
		cmocka_unit_test(other_format_versions_are_refused),
		cmocka_unit_test(truncated_prefix_is_refused),
		cmocka_unit_test(truncated_entries_are_refused),
		cmocka_unit_test(malformed_fields_are_refused),
		cmocka_unit_test(bad_escapes_are_refused),
		cmocka_unit_test(more_than_64_leases_are_refused),
		cmocka_unit_test(overlong_names_are_refused),
		cmocka_unit_test(lease_version_overflow_is_refused),
		cmocka_unit_test(messages_do_not_echo_control_bytes),
		cmocka_unit_test(small_or_missing_error_buffer_is_safe),
		cmocka_unit_test(refused_state_leaves_only_accepted_entries),
		cmocka_unit_test(incoming_is_matched_as_a_whole_argument),
		cmocka_unit_test(incoming_after_a_long_command_line_is_found),
		cmocka_unit_test(unreadable_command_line_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
