#include "timeouts.h"

#include "common/json.h"
#include "common/util.h"

#include <string.h>

void sm_timeouts_derive(uint32_t io_ms, uint32_t watchdog_ms, struct sm_timeouts *t)
{
	t->io_ms = io_ms;
	t->watchdog_ms = watchdog_ms;
	t->renew_ms = 2 * io_ms;
	t->fail_ms = 8 * io_ms;
	t->host_dead_ms = t->fail_ms + watchdog_ms;
	t->join_wait_ms = 2 * io_ms + 100; /* strictly more than 2d */
	t->kill_grace_ms = SM_MIN(watchdog_ms / 2, 30000u);
	t->pet_ms = SM_MIN(watchdog_ms / 4, 1000u); /* the daemon's pet_interval() */
	t->fence_pr = false;
	t->fence_detect_ms = t->renew_ms + 2 * io_ms;
	t->fence_inflight_ms = SM_MAX(2 * io_ms, 30000u);
	t->fence_failover_ms = t->fence_detect_ms + 2 * io_ms;
}

void sm_timeouts_fence_pr(struct sm_timeouts *t)
{
	t->fence_pr = true;
	/* A live host's record changes at least every R + 2d (its renewal's
	 * read and write each within d): renewing every d keeps T short. */
	t->renew_ms = t->io_ms;
	t->fence_detect_ms = t->renew_ms + 2 * t->io_ms;
	t->fence_failover_ms = t->fence_detect_ms + 2 * t->io_ms;
}

struct timeout_row {
	const char *name, *sym, *formula;
	uint64_t ms;
	const char *meaning;
};

#define MAX_ROWS 12

/* Fills rows (room for MAX_ROWS); returns the count. */
static size_t timeout_rows(const struct sm_timeouts *t, struct timeout_row *rows)
{
	const struct timeout_row r[] = {
		{"io timeout", "d", "(volume)", t->io_ms, "an I/O not done within d has failed"},
		{"watchdog", "W", "(volume)", t->watchdog_ms, "the watchdog resets the host W after its last pet"},
		{"renewal", "R", t->fence_pr ? "d" : "2d", t->renew_ms,
		 "each host rewrites its delta lease every R"},
		{"renewal fail", "F", "8d", t->fail_ms, "no good renewal for F (from its start): holders are killed"},
		{"kill grace", "G", "min(W/2, 30 s)", t->kill_grace_ms, "SIGTERM at F, SIGKILL at F + G"},
		{"host dead", "H", "F + W", t->host_dead_ms, "others take over after no renewal for more than H"},
		t->lease_caw ? (struct timeout_row){"join, free slot", "", "0", 0,
						    "one COMPARE AND WRITE claims a free host_id: no wait"}
			     : (struct timeout_row){"join, free slot", "J", "2d + 0.1 s", t->join_wait_ms,
						    "wait after claiming a free host_id"},
		{"join, held slot", "", t->lease_caw ? "H" : "H + J",
		 (uint64_t)t->host_dead_ms + (t->lease_caw ? 0 : t->join_wait_ms),
		 "claiming a host_id last held by another host"},
		{"watchdog pet", "P", "min(W/4, 1 s)", t->pet_ms, "the watchdog is petted every P, and not within P of F"},
	};
	memcpy(rows, r, sizeof(r));
	size_t n = SM_ARRAY_SIZE(r);
	if (t->fence_pr) {
		const struct timeout_row f[] = {
			{"fence detection", "T", "R + 2d = 3d", t->fence_detect_ms,
			 "a host unchanged for more than T is preempted by one that wants its lease"},
			{"failover, fenced", "", "T + 2d", t->fence_failover_ms,
			 "crash to takeover with PREEMPT AND ABORT (plus the preempt's own I/O), instead of H"},
			{"in-flight wait", "X", "max(2d, 30 s)", t->fence_inflight_ms,
			 "after a PREEMPT without ABORT (target lacks it), before taking over"},
		};
		memcpy(rows + n, f, sizeof(f));
		n += SM_ARRAY_SIZE(f);
	}
	return n;
}

void sm_timeouts_lease_caw(struct sm_timeouts *t) { t->lease_caw = true; }

void sm_timeouts_print(FILE *out, const struct sm_timeouts *t)
{
	struct timeout_row rows[MAX_ROWS];
	size_t n = timeout_rows(t, rows);
	fprintf(out, "  %-16s %-3s %-15s %-8s %s\n", "TIMEOUT", "", "FORMULA", "VALUE", "MEANING");
	for (size_t i = 0; i < n; i++) {
		char v[24];
		fprintf(out, "  %-16s %-3s %-15s %-8s %s\n", rows[i].name, rows[i].sym, rows[i].formula,
			sm_format_ms(rows[i].ms, v, sizeof(v)), rows[i].meaning);
	}
}

void sm_timeouts_print_json(FILE *out, const struct sm_timeouts *t, const char *source)
{
	struct timeout_row rows[MAX_ROWS];
	size_t n = timeout_rows(t, rows);
	struct sm_json j;
	sm_json_init(&j, out, true);
	sm_json_obj_begin(&j, NULL);
	sm_json_str(&j, "source", source);
	sm_json_arr_begin(&j, "timeouts");
	for (size_t i = 0; i < n; i++) {
		sm_json_obj_begin(&j, NULL);
		sm_json_str(&j, "name", rows[i].name);
		sm_json_str(&j, "symbol", rows[i].sym[0] ? rows[i].sym : NULL);
		sm_json_str(&j, "formula", rows[i].formula);
		sm_json_u64(&j, "ms", rows[i].ms);
		sm_json_str(&j, "meaning", rows[i].meaning);
		sm_json_obj_end(&j);
	}
	sm_json_arr_end(&j);
	sm_json_obj_end(&j);
	fputc('\n', out);
}
