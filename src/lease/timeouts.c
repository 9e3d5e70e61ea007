#include "timeouts.h"

#include "common/util.h"

void sm_timeouts_derive(uint32_t io_ms, uint32_t watchdog_ms, struct sm_timeouts *t)
{
	t->io_ms = io_ms;
	t->watchdog_ms = watchdog_ms;
	t->renew_ms = 2 * io_ms;
	t->fail_ms = 8 * io_ms;
	t->host_dead_ms = t->fail_ms + watchdog_ms;
	t->join_wait_ms = 2 * io_ms;
	t->kill_grace_ms = SM_MIN(watchdog_ms / 2, 30000u);
	t->pet_ms = SM_MIN(io_ms, 1000u);
}

void sm_timeouts_print(FILE *out, const struct sm_timeouts *t)
{
	char b[8][24];
	fprintf(out, "  io_timeout      d = %-10s (an I/O not done within d has failed)\n",
		sm_format_ms(t->io_ms, b[0], sizeof(b[0])));
	fprintf(out, "  watchdog        W = %-10s (the watchdog resets the host W after the last pet)\n",
		sm_format_ms(t->watchdog_ms, b[1], sizeof(b[1])));
	fprintf(out, "  renewal         R = 2d = %-6s (a host rewrites its delta lease every R)\n",
		sm_format_ms(t->renew_ms, b[2], sizeof(b[2])));
	fprintf(out, "  renewal fail    F = 8d = %-6s (no successful renewal for F: lease holders are killed)\n",
		sm_format_ms(t->fail_ms, b[3], sizeof(b[3])));
	fprintf(out, "  kill grace      G = min(W/2, 30 s) = %-6s (SIGTERM at F, SIGKILL at F + G)\n",
		sm_format_ms(t->kill_grace_ms, b[4], sizeof(b[4])));
	fprintf(out, "  host dead       H = F + W = %-6s (others take over after seeing no renewal for more than H)\n",
		sm_format_ms(t->host_dead_ms, b[5], sizeof(b[5])));
	fprintf(out, "  join, free slot J = 2d = %-6s (wait after claiming a free host_id)\n",
		sm_format_ms(t->join_wait_ms, b[6], sizeof(b[6])));
	fprintf(out, "  join, held slot H + J  = %-6s (a slot last held by another host)\n",
		sm_format_ms((uint64_t)t->host_dead_ms + t->join_wait_ms, b[7], sizeof(b[7])));
}
