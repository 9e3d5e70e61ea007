/* libsync_manager: formatting and dumping lease volumes directly on the
 * storage (include/sync_manager/volume.h).
 *
 * Contract:
 *  - The engine is the core's (sm_volume_format, sm_volume_inspect); the
 *    lease I/O choice is src/ondisk/lease_io.h, the same as `sync_manager
 *    init`'s; the report's field names are those of `sync_manager dump --json`
 *    (src/cli/dump.c; tests/python/test_volumes.py compares the two).
 *  - Nothing is printed in the caller's process: what the core logs during a
 *    call is captured (sm_log_capture), and the first error, or the call's own
 *    explanation, becomes this thread's sm_volume_message().
 *  - Overwriting (SM_VOLUME_INIT_FORCE) is allowed only over a lockspace whose
 *    host records are all free and stay free for J: this library has no way to
 *    show an operator which live hosts and leases a format would destroy, and
 *    waits no H; `sync_manager init --force` does both (src/cli/init_guard.c). */
#include "sync_manager/volume.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "disk/disk.h"
#include "lease/delta.h"
#include "ondisk/inspect.h"
#include "ondisk/lease_io.h"
#include "ondisk/volume.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VOLUME_INIT_FLAGS_KNOWN (SM_VOLUME_INIT_FORCE | SM_VOLUME_INIT_CAW_TRUST_TARGET)

static _Thread_local char volume_message[512];

const char *sm_volume_message(void) { return volume_message; }

/* Explain a failure in this call's own words (replacing what was captured);
 * returns rc. */
static int say(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say(int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(volume_message, sizeof(volume_message), fmt, ap);
	va_end(ap);
	return rc;
}

/* End a call: its message is what it said, else the first error the core
 * logged, else the code's own message; "" after a success. */
static int finish(int rc)
{
	sm_log_capture(NULL, 0);
	if (rc >= 0)
		volume_message[0] = '\0';
	else if (!volume_message[0])
		snprintf(volume_message, sizeof(volume_message), "%s", sm_strerror(rc));
	return rc;
}

/* ---- sm_volume_init ------------------------------------------------------- */

static int check_params(const char *location, const struct sm_volume_init_params *p)
{
	if (!location || !*location)
		return say(-SM_EBAD_ARGUMENT, "sm_volume_init: no location given (PATH[:OFFSET])");
	if (!p)
		return say(-SM_EBAD_ARGUMENT, "sm_volume_init: no parameters given");
	unsigned unknown = p->flags & ~(unsigned)VOLUME_INIT_FLAGS_KNOWN;
	if (unknown)
		return say(-SM_EBAD_ARGUMENT, "sm_volume_init: unknown flag bits %#x (this library knows %#x)", unknown,
			   (unsigned)VOLUME_INIT_FLAGS_KNOWN);
	for (size_t k = 0; k < sizeof(p->reserved) / sizeof(p->reserved[0]); k++)
		if (p->reserved[k])
			return say(-SM_EBAD_ARGUMENT, "sm_volume_init: reserved field %zu is not zero (zero the struct "
				   "before setting its fields)", k);
	if (!p->lockspace || !*p->lockspace)
		return say(-SM_EBAD_NAME, "sm_volume_init: a lockspace name is required (the name hosts join by)");
	if (p->lease_io > SM_VOLUME_LEASE_IO_AUTO)
		return say(-SM_EBAD_ARGUMENT, "sm_volume_init: lease_io %u is not paxos (0), caw (1) or auto (2)",
			   p->lease_io);
	if (p->resource_name_count && !p->resource_names)
		return say(-SM_EBAD_ARGUMENT, "sm_volume_init: resource_name_count %u but no resource_names",
			   p->resource_name_count);
	for (uint32_t i = 0; i < p->resource_name_count; i++)
		if (!p->resource_names[i])
			return say(-SM_EBAD_ARGUMENT, "sm_volume_init: resource_names[%u] is NULL", i);
	return 0;
}

/* The lease I/O method, as `sync_manager init --lease-io` decides it. */
static int choose_lease_io(const char *path, uint64_t off, const struct sm_volume_init_params *p,
			   uint32_t *lease_io)
{
	enum sm_lease_io_want want = p->lease_io == SM_VOLUME_LEASE_IO_CAW    ? SM_WANT_CAW
				     : p->lease_io == SM_VOLUME_LEASE_IO_AUTO ? SM_WANT_AUTO
									      : SM_WANT_PAXOS;
	struct sm_lease_io_choice ch;
	int rc = sm_lease_io_choose(path, off, want, p->flags & SM_VOLUME_INIT_CAW_TRUST_TARGET,
				    p->max_hosts ? p->max_hosts : SM_DEFAULT_MAX_HOSTS, p->sector_size, p->io_timeout_ms,
				    &ch);
	*lease_io = ch.lease_io;
	if (rc == 0 || ch.usage)
		return rc < 0 ? say(rc, "%s", ch.text) : 0;
	if (ch.defect)
		return say(rc, "%s: use lease I/O paxos (or auto), or set SM_VOLUME_INIT_CAW_TRUST_TARGET if you know "
			   "this target keeps COMPARE AND WRITE atomic after rejected commands", ch.text);
	if (rc == -SM_ECAW_UNSUPPORTED)
		return say(rc, "%s; use lease I/O paxos, or auto", ch.text);
	return say(rc, "%s: %s", ch.text, sm_strerror(rc));
}

/* Names of the held (or unreadable) host records, for the refusal. */
static void describe_held(struct sm_lockspace *ls, uint32_t max_hosts, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (uint32_t id = 1; id <= max_hosts && n < len; id++) {
		struct sm_host_status st;
		if (sm_lockspace_host_status(ls, id, &st) < 0 || st.state == SM_LIVE_FREE)
			continue;
		if (st.record_status)
			n += (size_t)snprintf(buf + n, len - n, "%shost_id %u (unreadable: %s)", n ? ", " : "", id,
					      sm_errname(st.record_status));
		else
			n += (size_t)snprintf(buf + n, len - n, "%shost_id %u '%s'", n ? ", " : "", id, st.rec.host_name);
	}
}

/* SM_VOLUME_INIT_FORCE's guard (sm_format_params.before_overwrite): the
 * old lockspace's host records must all be free, and stay free for J (a
 * host joining right now has written its claim by then). */
static int refuse_unless_unused(void *arg, const struct sm_volume_header *old)
{
	const char *location = arg;
	if (!old)
		return say(-SM_EBUSY, "%s holds a damaged sync_manager header: which hosts use it cannot be told; "
			   "format it with `sync_manager init --force-live` once no host uses it", location);
	if (old->set_size)
		return say(-SM_EBUSY, "%s is member %u of the volume set of lockspace '%s': reformat the set with "
			   "`sync_manager init A B C --force`", location, old->set_index + 1, old->lockspace);
	char *path = NULL;
	uint64_t off = 0;
	struct sm_lockspace *ls = NULL;
	int rc = sm_disk_parse_location(location, &path, &off);
	if (rc == 0)
		rc = sm_lockspace_open(path, off, &ls);
	free(path);
	if (rc < 0)
		return say(-SM_EBUSY, "%s holds lockspace '%s' but its host records cannot be opened (%s), so whether "
			   "hosts use it cannot be told", location, old->lockspace, sm_strerror(rc));
	struct sm_lockspace_info info;
	sm_lockspace_info(ls, &info);
	uint64_t start = sm_now_mono_ms();
	bool held = false;
	for (;;) {
		if ((rc = sm_lockspace_observe(ls)) < 0) {
			rc = say(rc, "reading the host records of %s failed (%s), so whether hosts use it cannot be told; "
				 "nothing was written", location, sm_strerror(rc));
			break;
		}
		for (uint32_t id = 1; id <= info.max_hosts && !held; id++) {
			struct sm_host_status st;
			held = sm_lockspace_host_status(ls, id, &st) < 0 || st.state != SM_LIVE_FREE;
		}
		if (held || sm_now_mono_ms() - start > info.to.join_wait_ms)
			break;
		sm_sleep_ms(100);
	}
	if (held) {
		char who[300];
		describe_held(ls, info.max_hosts, who, sizeof(who));
		rc = say(-SM_EBUSY, "refused: lockspace '%s' on %s has held host records (%s): hosts may still use it. "
			 "Stop them (leave the lockspace) first; `sync_manager init --force` formats it once they are "
			 "dead, watching them for H", info.name, location, who);
	}
	sm_lockspace_free(ls);
	return rc;
}

int sm_volume_init(const char *location, const struct sm_volume_init_params *p)
{
	volume_message[0] = '\0';
	int rc = check_params(location, p);
	if (rc < 0)
		return finish(rc);
	char *path = NULL;
	uint64_t off = 0;
	if (sm_disk_parse_location(location, &path, &off) < 0)
		return finish(say(-SM_EBAD_ARGUMENT, "bad location '%s' (expected PATH or PATH:OFFSET)", location));
	sm_log_capture(volume_message, sizeof(volume_message));
	struct sm_format_params fp = {
		.lockspace = p->lockspace,
		.max_hosts = p->max_hosts,
		.sector_size = p->sector_size,
		.io_timeout_ms = p->io_timeout_ms,
		.watchdog_timeout_ms = p->watchdog_timeout_ms,
		.resources = p->resources,
		.force = p->flags & SM_VOLUME_INIT_FORCE,
		.resource_names = p->resource_names,
		.resource_name_count = p->resource_name_count,
		.before_overwrite = refuse_unless_unused,
		.before_overwrite_arg = (void *)location,
	};
	rc = choose_lease_io(path, off, p, &fp.lease_io);
	struct sm_volume_header h;
	if (rc == 0)
		rc = sm_volume_format(path, off, &fp, &h);
	free(path);
	return finish(rc);
}

/* ---- sm_volume_dump: a report built field by field ------------------------ */

/* Appends to the last section and its last record; the first failed
 * allocation is kept in err and makes the rest no-ops. */
struct builder {
	struct sm_report *r;
	int err;
};

static void add_section(struct builder *b, const char *name)
{
	struct sm_report *r = b->r;
	struct sm_section *s = b->err ? NULL : realloc(r->sections, (size_t)(r->nsections + 1) * sizeof(*s));
	if (!s) {
		b->err = -ENOMEM;
		return;
	}
	r->sections = s;
	s = &r->sections[r->nsections++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
}

static void add_record(struct builder *b)
{
	struct sm_section *s = b->err ? NULL : &b->r->sections[b->r->nsections - 1];
	struct sm_record *rec = s ? realloc(s->records, (size_t)(s->nrecords + 1) * sizeof(*rec)) : NULL;
	if (!rec) {
		b->err = -ENOMEM;
		return;
	}
	s->records = rec;
	memset(&s->records[s->nrecords++], 0, sizeof(*rec));
}

static struct sm_field *add_field(struct builder *b, const char *key, enum sm_field_type type)
{
	if (b->err)
		return NULL;
	struct sm_section *s = &b->r->sections[b->r->nsections - 1];
	struct sm_record *rec = &s->records[s->nrecords - 1];
	struct sm_field *f = realloc(rec->fields, (size_t)(rec->nfields + 1) * sizeof(*f));
	if (!f) {
		b->err = -ENOMEM;
		return NULL;
	}
	rec->fields = f;
	f = &rec->fields[rec->nfields++];
	memset(f, 0, sizeof(*f));
	snprintf(f->key, sizeof(f->key), "%s", key);
	f->type = type;
	return f;
}

static void put_str(struct builder *b, const char *key, const char *v)
{
	struct sm_field *f = add_field(b, key, SM_FIELD_STR);
	if (f)
		snprintf(f->str, sizeof(f->str), "%s", v);
}

static void put_u64(struct builder *b, const char *key, uint64_t v)
{
	struct sm_field *f = add_field(b, key, SM_FIELD_U64);
	if (f)
		f->u64 = v;
}

/* error and error_message of a record that could not be decoded (dump
 * --json writes "error": null for the others; a report leaves them out). */
static void put_error(struct builder *b, const char *prefix, int status)
{
	if (!status)
		return;
	char key[48];
	snprintf(key, sizeof(key), "%serror", prefix);
	put_str(b, key, sm_errname(status));
	snprintf(key, sizeof(key), "%serror_message", prefix);
	put_str(b, key, sm_strerror(status));
}

static void report_header(struct builder *b, const char *location, const struct sm_volume_view *vv)
{
	const struct sm_volume_header *h = &vv->hdr;
	char uuid[37];
	sm_uuid_format(h->uuid, uuid);
	add_section(b, "header");
	add_record(b);
	put_str(b, "volume", location);
	put_str(b, "lockspace", h->lockspace);
	put_str(b, "uuid", uuid);
	put_u64(b, "format_version", SM_FORMAT_VERSION);
	put_u64(b, "sector_size", h->sector_size);
	put_u64(b, "max_hosts", h->max_hosts);
	put_u64(b, "resource_areas", h->resource_count);
	put_u64(b, "area_bytes", sm_volume_area_bytes(h));
	put_u64(b, "volume_bytes", h->volume_size);
	put_u64(b, "io_timeout_ms", h->io_timeout_ms);
	put_u64(b, "watchdog_timeout_ms", h->watchdog_timeout_ms);
	put_u64(b, "created", h->created_wall);
	put_str(b, "fencing", sm_fence_mode_name(h->fence_mode));
	put_str(b, "lease_io", sm_lease_io_name(h->lease_io));
	put_error(b, "host_area_", vv->hosts_status);
	put_error(b, "index_", vv->index_io_status);
	if (h->fence_mode != SM_FENCE_TIMING)
		put_error(b, "fence_table_", vv->fence_status);
}

static void report_hosts(struct builder *b, const struct sm_volume_view *vv)
{
	add_section(b, "hosts");
	for (uint32_t i = 0; i < vv->hdr.max_hosts && !vv->hosts_status; i++) {
		const struct sm_host_view *hv = &vv->hosts[i];
		if (sm_host_view_pristine(hv))
			continue;
		add_record(b);
		put_u64(b, "host_id", i + 1);
		put_error(b, "", hv->status);
		if (hv->status)
			continue;
		char mid[33];
		sm_machine_id_hex(hv->rec.machine_id, mid);
		put_str(b, "name", hv->rec.host_name);
		put_str(b, "machine_id", mid);
		put_u64(b, "generation", hv->rec.generation);
		put_u64(b, "timestamp", hv->rec.timestamp);
		put_u64(b, "io_timeout_ms", hv->rec.io_timeout_ms);
		put_str(b, "state", hv->rec.flags == SM_HOST_HELD ? "held" : "free");
	}
}

static int resource_error(const struct sm_resource_view *rv)
{
	return rv->index_status ? rv->index_status : rv->read_status ? rv->read_status : rv->leader_status;
}

static void report_resources(struct builder *b, const struct sm_volume_view *vv)
{
	add_section(b, "resources");
	for (uint32_t r = 0; r < vv->resource_count; r++) {
		const struct sm_resource_view *rv = &vv->resources[r];
		int err = resource_error(rv);
		char state[160];
		add_record(b);
		put_u64(b, "area", rv->area);
		put_u64(b, "offset", vv->offset + sm_volume_area_offset(&vv->hdr, rv->area));
		put_error(b, "", err);
		if (!rv->index_status)
			put_str(b, "name", rv->entry.name);
		if (!err) {
			put_u64(b, "owner_host_id", rv->leader.owner_id);
			put_u64(b, "owner_generation", rv->leader.owner_generation);
			put_u64(b, "lver", rv->leader.lver);
			put_str(b, "mode", sm_mode_name(rv->leader.mode));
			put_u64(b, "corrupt_dblocks", rv->corrupt_dblocks);
		}
		put_str(b, "state", sm_resource_view_state(rv, state, sizeof(state)));
	}
	add_section(b, "shared_holders");
	for (uint32_t r = 0; r < vv->resource_count; r++) {
		const struct sm_resource_view *rv = &vv->resources[r];
		for (uint32_t k = 0; k < rv->shared_count && !resource_error(rv); k++) {
			add_record(b);
			put_str(b, "name", rv->entry.name);
			put_u64(b, "area", rv->area);
			put_u64(b, "host_id", rv->shared[k].host_id);
			put_u64(b, "generation", rv->shared[k].generation);
		}
	}
}

static void report_fence_devices(struct builder *b, const struct sm_volume_view *vv)
{
	add_section(b, "fence_devices");
	for (uint32_t i = 0; vv->hdr.fence_mode != SM_FENCE_TIMING && !vv->fence_status && i < vv->fence.count; i++) {
		add_record(b);
		put_str(b, "device", vv->fence.ids[i]);
	}
}

int sm_volume_dump(const char *location, struct sm_report **out)
{
	volume_message[0] = '\0';
	if (!out)
		return finish(say(-SM_EBAD_ARGUMENT, "sm_volume_dump: out is NULL"));
	*out = NULL;
	if (!location || !*location)
		return finish(say(-SM_EBAD_ARGUMENT, "sm_volume_dump: no location given (PATH[:OFFSET])"));
	sm_log_capture(volume_message, sizeof(volume_message));
	struct sm_volume *v = NULL;
	int rc = sm_volume_open_spec(location, SM_DISK_READONLY, &v);
	if (rc < 0) {
		char logged[sizeof(volume_message)];
		snprintf(logged, sizeof(logged), "%s", volume_message);
		return finish(say(rc, "cannot read volume %s: %s%s%s%s", location, sm_strerror(rc), logged[0] ? " (" : "",
				  logged[0] ? logged : "", logged[0] ? ")" : ""));
	}
	struct sm_volume_view *vv = NULL;
	rc = sm_volume_inspect(v, &vv);
	sm_volume_close(v);
	if (rc < 0)
		return finish(say(rc, "cannot inspect %s: %s", location, sm_strerror(rc)));
	struct builder b = {.r = calloc(1, sizeof(struct sm_report))};
	b.err = b.r ? 0 : -ENOMEM;
	report_header(&b, location, vv);
	report_hosts(&b, vv);
	report_resources(&b, vv);
	report_fence_devices(&b, vv);
	sm_volume_view_free(vv);
	if (b.err) {
		sm_report_free(b.r);
		return finish(b.err);
	}
	*out = b.r;
	return finish(0);
}
