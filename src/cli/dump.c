/* sync_manager dump: everything in a volume, human-readable or JSON. */
#include "cli.h"

#include "common/json.h"
#include "common/util.h"
#include "lease/delta.h"
#include "ondisk/inspect.h"
#include "sync_manager/errors.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *wall_str(uint64_t s, char *buf, size_t len)
{
	time_t t = (time_t)s;
	struct tm tm;
	if (!s || !localtime_r(&t, &tm)) {
		snprintf(buf, len, "-");
		return buf;
	}
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

static void print_human(const char *spec, const struct sm_volume_view *vv)
{
	const struct sm_volume_header *h = &vv->hdr;
	char uuid[37], t[32], sz[32], d[16], w[16];
	sm_uuid_format(h->uuid, uuid);
	printf("Volume %s\n", spec);
	printf("  lockspace     %s\n", h->lockspace);
	printf("  uuid          %s\n", uuid);
	printf("  format        version %d, %u-byte sectors\n",
	       h->lease_io     ? SM_CAW_HEADER_VERSION
	       : h->fence_mode ? SM_FENCE_HEADER_VERSION
	       : h->set_size   ? SM_SET_HEADER_VERSION
			       : SM_FORMAT_VERSION,
	       h->sector_size);
	printf("  lease I/O     %s\n", h->lease_io == SM_LEASE_IO_CAW
					   ? "caw (COMPARE AND WRITE of the leader sector; the device must support it)"
					   : "paxos (Disk Paxos: plain reads and writes)");
	printf("  geometry      %u hosts, %u resource areas of %zu bytes, %s in all\n", h->max_hosts,
	       h->resource_count, sm_volume_area_bytes(h), sm_format_bytes(h->volume_size, sz, sizeof(sz)));
	printf("  timeouts      io_timeout %s, watchdog %s\n", sm_format_ms(h->io_timeout_ms, d, sizeof(d)),
	       sm_format_ms(h->watchdog_timeout_ms, w, sizeof(w)));
	printf("  created       %s\n", wall_str(h->created_wall, t, sizeof(t)));
	if (h->fence_mode == SM_FENCE_TIMING) {
		printf("  fencing       timing (takeover after H; see 'sync_manager timeouts')\n");
	} else if (vv->fence_status) {
		printf("  fencing       %s, fence table unreadable: %s\n", sm_fence_mode_name(h->fence_mode),
		       sm_strerror(vv->fence_status));
	} else {
		printf("  fencing       %s, %u device%s by identity:\n", sm_fence_mode_name(h->fence_mode),
		       vv->fence.count, vv->fence.count == 1 ? "" : "s");
		for (uint32_t i = 0; i < vv->fence.count; i++)
			printf("                %s%s\n", vv->fence.ids[i], i == 0 ? " (the lease LUN)" : "");
	}

	printf("\nHosts\n");
	if (vv->hosts_status) {
		printf("  host area unreadable: %s\n", sm_strerror(vv->hosts_status));
	} else {
		uint32_t shown = 0;
		int nw = 4; /* NAME column: as wide as the longest name */
		for (uint32_t i = 0; i < h->max_hosts; i++)
			if (!sm_host_view_pristine(&vv->hosts[i]) && !vv->hosts[i].status)
				nw = SM_MAX(nw, (int)strnlen(vv->hosts[i].rec.host_name, SM_NAME_FIELD));
		for (uint32_t i = 0; i < h->max_hosts; i++) {
			const struct sm_host_view *hv = &vv->hosts[i];
			if (sm_host_view_pristine(hv))
				continue;
			if (!shown++)
				printf("  %-7s %-*s %-10s %-14s %-10s %s\n", "HOST_ID", nw, "NAME", "GENERATION", "TIMESTAMP",
				       "IO_TIMEOUT", "STATE");
			if (hv->status) {
				printf("  %-7u %-*s %-10s %-14s %-10s corrupt: %s\n", i + 1, nw, "-", "-", "-", "-",
				       sm_strerror(hv->status));
				continue;
			}
			printf("  %-7u %-*s %-10llu %-14llu %-10s %s\n", i + 1, nw,
			       hv->rec.host_name[0] ? hv->rec.host_name : "-", (unsigned long long)hv->rec.generation,
			       (unsigned long long)hv->rec.timestamp, sm_format_ms(hv->rec.io_timeout_ms, d, sizeof(d)),
			       hv->rec.flags == SM_HOST_HELD ? "held" : "free");
		}
		printf("  %s%u of %u host slots never used\n", shown ? "" : "(no host has joined) ", h->max_hosts - shown,
		       h->max_hosts);
	}

	printf("\nResources\n");
	if (vv->index_io_status) {
		printf("  index unreadable: %s\n", sm_strerror(vv->index_io_status));
		return;
	}
	int nw = 4; /* NAME column: as wide as the longest name */
	for (uint32_t r = 0; r < vv->resource_count; r++)
		if (!vv->resources[r].index_status)
			nw = SM_MAX(nw, (int)strnlen(vv->resources[r].entry.name, SM_NAME_FIELD));
	if (vv->resource_count)
		printf("  %-*s %-5s %-6s %-10s %-8s %-4s %-12s %s\n", nw, "NAME", "AREA", "OWNER", "GENERATION", "LVER",
		       "MODE", "SHARED", "STATE");
	for (uint32_t r = 0; r < vv->resource_count; r++) {
		const struct sm_resource_view *rv = &vv->resources[r];
		char state[160], shared[64] = "-";
		sm_resource_view_state(rv, state, sizeof(state));
		bool ok = !rv->index_status && !rv->read_status && !rv->leader_status;
		if (ok && rv->shared_count) {
			size_t n = 0;
			for (uint32_t k = 0; k < rv->shared_count && n < sizeof(shared) - 12; k++)
				n += (size_t)snprintf(shared + n, sizeof(shared) - n, "%s%u", k ? "," : "",
						      rv->shared[k].host_id);
		}
		char owner[16] = "-", gen[24] = "-", lver[24] = "-";
		if (ok) {
			if (rv->leader.owner_id) {
				snprintf(owner, sizeof(owner), "%u", rv->leader.owner_id);
				snprintf(gen, sizeof(gen), "%llu", (unsigned long long)rv->leader.owner_generation);
			}
			snprintf(lver, sizeof(lver), "%llu", (unsigned long long)rv->leader.lver);
		}
		printf("  %-*s %-5u %-6s %-10s %-8s %-4s %-12s %s\n", nw, rv->index_status ? "?" : rv->entry.name,
		       rv->area, owner, gen, lver, ok ? sm_mode_name(rv->leader.mode) : "-", shared, state);
	}
	printf("  %u of %u resource areas in use\n", vv->resource_count, h->resource_count);
}

static void json_status(struct sm_json *j, int status)
{
	if (status) {
		sm_json_str(j, "error", sm_errname(status));
		sm_json_str(j, "error_message", sm_strerror(status));
	} else {
		sm_json_null(j, "error");
	}
}

static void print_json(const char *spec, const struct sm_volume_view *vv)
{
	const struct sm_volume_header *h = &vv->hdr;
	struct sm_json j;
	char uuid[37];
	sm_uuid_format(h->uuid, uuid);
	sm_json_init(&j, stdout, true);
	sm_json_obj_begin(&j, NULL);
	sm_json_str(&j, "volume", spec);
	sm_json_obj_begin(&j, "header");
	sm_json_str(&j, "lockspace", h->lockspace);
	sm_json_str(&j, "uuid", uuid);
	sm_json_u64(&j, "format_version", SM_FORMAT_VERSION);
	sm_json_u64(&j, "sector_size", h->sector_size);
	sm_json_u64(&j, "max_hosts", h->max_hosts);
	sm_json_u64(&j, "resource_areas", h->resource_count);
	sm_json_u64(&j, "area_bytes", sm_volume_area_bytes(h));
	sm_json_u64(&j, "volume_bytes", h->volume_size);
	sm_json_u64(&j, "io_timeout_ms", h->io_timeout_ms);
	sm_json_u64(&j, "watchdog_timeout_ms", h->watchdog_timeout_ms);
	sm_json_u64(&j, "created", h->created_wall);
	sm_json_str(&j, "fencing", sm_fence_mode_name(h->fence_mode));
	sm_json_str(&j, "lease_io", sm_lease_io_name(h->lease_io));
	if (h->fence_mode != SM_FENCE_TIMING) {
		sm_json_obj_begin(&j, "fence_table");
		json_status(&j, vv->fence_status);
		sm_json_arr_begin(&j, "devices"); /* identities; the lease LUN first */
		for (uint32_t i = 0; i < vv->fence.count && !vv->fence_status; i++)
			sm_json_str(&j, NULL, vv->fence.ids[i]);
		sm_json_arr_end(&j);
		sm_json_obj_end(&j);
	}
	sm_json_obj_end(&j);

	sm_json_obj_begin(&j, "host_area");
	json_status(&j, vv->hosts_status);
	sm_json_arr_begin(&j, "hosts");
	for (uint32_t i = 0; i < h->max_hosts && !vv->hosts_status; i++) {
		const struct sm_host_view *hv = &vv->hosts[i];
		if (sm_host_view_pristine(hv))
			continue;
		sm_json_obj_begin(&j, NULL);
		sm_json_u64(&j, "host_id", i + 1);
		json_status(&j, hv->status);
		if (!hv->status) {
			sm_json_str(&j, "name", hv->rec.host_name);
			char mid[33];
			sm_machine_id_hex(hv->rec.machine_id, mid);
			sm_json_str(&j, "machine_id", mid);
			sm_json_u64(&j, "generation", hv->rec.generation);
			sm_json_u64(&j, "timestamp", hv->rec.timestamp);
			sm_json_u64(&j, "io_timeout_ms", hv->rec.io_timeout_ms);
			sm_json_str(&j, "state", hv->rec.flags == SM_HOST_HELD ? "held" : "free");
		}
		sm_json_obj_end(&j);
	}
	sm_json_arr_end(&j);
	sm_json_obj_end(&j);

	sm_json_obj_begin(&j, "index");
	json_status(&j, vv->index_io_status);
	sm_json_arr_begin(&j, "resources");
	for (uint32_t r = 0; r < vv->resource_count; r++) {
		const struct sm_resource_view *rv = &vv->resources[r];
		char state[160];
		sm_json_obj_begin(&j, NULL);
		sm_json_u64(&j, "area", rv->area);
		sm_json_u64(&j, "offset", vv->offset + sm_volume_area_offset(h, rv->area));
		int err = rv->index_status ? rv->index_status : rv->read_status ? rv->read_status : rv->leader_status;
		json_status(&j, err);
		sm_json_str(&j, "name", rv->index_status ? NULL : rv->entry.name);
		if (!err) {
			sm_json_u64(&j, "owner_host_id", rv->leader.owner_id);
			sm_json_u64(&j, "owner_generation", rv->leader.owner_generation);
			sm_json_u64(&j, "lver", rv->leader.lver);
			sm_json_str(&j, "mode", sm_mode_name(rv->leader.mode));
			sm_json_arr_begin(&j, "shared_holders");
			for (uint32_t k = 0; k < rv->shared_count; k++) {
				sm_json_obj_begin(&j, NULL);
				sm_json_u64(&j, "host_id", rv->shared[k].host_id);
				sm_json_u64(&j, "generation", rv->shared[k].generation);
				sm_json_obj_end(&j);
			}
			sm_json_arr_end(&j);
			sm_json_u64(&j, "corrupt_dblocks", rv->corrupt_dblocks);
		}
		sm_json_str(&j, "state", sm_resource_view_state(rv, state, sizeof(state)));
		sm_json_obj_end(&j);
	}
	sm_json_arr_end(&j);
	sm_json_obj_end(&j);
	sm_json_obj_end(&j);
	sm_json_end(&j);
}

int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {0}};
	bool json = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else
			return cli_usage_error("dump", "unknown option");
	}
	if (optind + 1 != argc)
		return cli_usage_error("dump", "expected exactly one volume PATH[:OFFSET]");
	const char *spec = argv[optind];
	struct sm_volume *v = NULL;
	int rc = sm_volume_open_spec(spec, SM_DISK_READONLY, &v);
	if (rc < 0)
		return cli_fail(rc, "cannot read volume %s", spec);
	struct sm_volume_view *vv = NULL;
	rc = sm_volume_inspect(v, &vv);
	sm_volume_close(v);
	if (rc < 0)
		return cli_fail(rc, "cannot inspect %s", spec);
	if (json)
		print_json(spec, vv);
	else
		print_human(spec, vv);
	sm_volume_view_free(vv);
	return CLI_OK;
}
