#include "util.h"

#include "sync_manager/errors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

bool sm_name_valid(const char *name)
{
	if (!name)
		return false;
	size_t n = strlen(name);
	if (n == 0 || n > SM_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c <= 0x20 || c >= 0x7f || c == ':' || c == '/')
			return false;
	}
	return true;
}

int sm_copy_name(char *dst, size_t dst_size, const char *src)
{
	size_t n = strlen(src);
	if (n >= dst_size)
		return -SM_EBAD_NAME;
	memset(dst, 0, dst_size);
	memcpy(dst, src, n);
	return 0;
}

void sm_field_to_str(char *dst, const uint8_t *field, size_t field_len)
{
	size_t n = 0;
	while (n < field_len && field[n])
		n++;
	memcpy(dst, field, n);
	dst[n] = '\0';
}

int sm_uuid_generate(uint8_t uuid[16])
{
	size_t got = 0;
	while (got < 16) {
		ssize_t r = getrandom(uuid + got, 16 - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)r;
	}
	uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
	uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
	return 0;
}

void sm_uuid_format(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
		 u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

uint64_t sm_fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

int sm_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sm_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -SM_EBAD_ARGUMENT;
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end != '\0' || v < min || v > max)
		return -SM_EBAD_ARGUMENT;
	*out = v;
	return 0;
}

int sm_parse_size(const char *s, uint64_t *out)
{
	if (!s || !*s || *s == '-')
		return -SM_EBAD_ARGUMENT;
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -SM_EBAD_ARGUMENT;
	unsigned shift = 0;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	default: return -SM_EBAD_ARGUMENT;
	}
	if (*end && end[1] != '\0' && strcmp(end + 1, "iB") != 0 && strcmp(end + 1, "B") != 0)
		return -SM_EBAD_ARGUMENT;
	if (shift && v > (UINT64_MAX >> shift))
		return -SM_EBAD_ARGUMENT;
	*out = (uint64_t)v << shift;
	return 0;
}

const char *sm_format_bytes(uint64_t bytes, char *buf, size_t len)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

int sm_parse_seconds_ms(const char *s, uint64_t min_ms, uint64_t max_ms, uint64_t *out_ms)
{
	if (!s || !*s)
		return -SM_EBAD_ARGUMENT;
	uint64_t whole = 0, frac = 0;
	unsigned digits = 0;
	const char *p = s;
	if (*p < '0' || *p > '9')
		return -SM_EBAD_ARGUMENT;
	while (*p >= '0' && *p <= '9') {
		whole = whole * 10 + (uint64_t)(*p - '0');
		if (whole > 10000000)
			return -SM_EBAD_ARGUMENT;
		p++;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			if (++digits > 3)
				return -SM_EBAD_ARGUMENT;
			frac = frac * 10 + (uint64_t)(*p - '0');
			p++;
		}
		if (digits == 0)
			return -SM_EBAD_ARGUMENT;
		while (digits++ < 3)
			frac *= 10;
	}
	if (*p == 's' && p[1] == '\0')
		p++;
	if (*p)
		return -SM_EBAD_ARGUMENT;
	uint64_t ms = whole * 1000 + frac;
	if (ms < min_ms || ms > max_ms)
		return -SM_EBAD_ARGUMENT;
	*out_ms = ms;
	return 0;
}

const char *sm_format_ms(uint64_t ms, char *buf, size_t len)
{
	if (ms % 1000 == 0)
		snprintf(buf, len, "%llu s", (unsigned long long)(ms / 1000));
	else if (ms % 100 == 0)
		snprintf(buf, len, "%llu.%01llu s", (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000 / 100));
	else if (ms % 10 == 0)
		snprintf(buf, len, "%llu.%02llu s", (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000 / 10));
	else
		snprintf(buf, len, "%llu.%03llu s", (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000));
	return buf;
}

uint64_t sm_proc_starttime(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may contain spaces and ')': skip to the last ')' */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	p += 2; /* field 3 (state) */
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return p ? strtoull(p, NULL, 10) : 0;
}
