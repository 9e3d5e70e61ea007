/* Small helpers shared by every module. */
#ifndef SM_COMMON_UTIL_H
#define SM_COMMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SM_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Names of lockspaces, resources and hosts are stored in 64-byte fields:
 * at most 63 bytes, printable ASCII without space, ':' or '/'. */
#define SM_NAME_MAX 63
bool sm_name_valid(const char *name);

/* Copy a NUL-terminated string into a fixed field, zero-padding it.
 * Returns -SM_EBAD_NAME if it does not fit. */
int sm_copy_name(char *dst, size_t dst_size, const char *src);

/* Read a fixed, zero-padded field into a NUL-terminated string (dst holds field_len+1). */
void sm_field_to_str(char *dst, const uint8_t *field, size_t field_len);

/* 16 random bytes (RFC 4122 v4 UUID) and its text form (37 bytes with NUL). */
int sm_uuid_generate(uint8_t uuid[16]);
void sm_uuid_format(const uint8_t uuid[16], char out[37]);

/* Strict integer parsing: whole string, base 10 (or 0x hex), range-checked.
 * Returns 0 or -SM_EBAD_ARGUMENT. */
/* Value of one hex digit (either case), -1 if c is not one. */
int sm_hexval(char c);

/* 64-bit FNV-1a of p[0..n) continued from h (start with SM_FNV1A_INIT).
 * Also names auto disk leases (libvirt plugin): its output must not change. */
#define SM_FNV1A_INIT 14695981039346656037ull
uint64_t sm_fnv1a(uint64_t h, const void *p, size_t n);

/* Start time of a process (field 22 of /proc/PID/stat, clock ticks since
 * boot), 0 if it is gone: with the pid it names one process across pid
 * reuse. */
uint64_t sm_proc_starttime(pid_t pid);

int sm_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Parse a size with optional K/M/G/T suffix (powers of 1024). */
int sm_parse_size(const char *s, uint64_t *out);

/* Human-readable byte count: "1.5 MiB". */
const char *sm_format_bytes(uint64_t bytes, char *buf, size_t len);

/* Parse seconds with up to 3 decimals ("10", "0.5", "2.25") into ms. */
int sm_parse_seconds_ms(const char *s, uint64_t min_ms, uint64_t max_ms, uint64_t *out_ms);
/* Format ms as seconds: "10 s", "0.5 s", "1.25 s". */
const char *sm_format_ms(uint64_t ms, char *buf, size_t len);

#endif

