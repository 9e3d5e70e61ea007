/* sync_manager direct ...: act as one host on a volume without the daemon.
 *
 * Each invocation is one step (join, renew, acquire, ...).  Nothing renews a
 * direct membership between invocations: it expires F after the last
 * renewal, as any host's would.  Meant for tests, demos and recovery. */
#include "cli.h"

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "common/util.h"
#include "ondisk/inspect.h"
#include "lease/delta.h"
#include "lease/paxos.h"
#include "lease/resource.h"
#include "sync_manager/errors.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

struct direct_args {
	const char *verb;
	uint32_t host_id;
	uint64_t generation;
	const char *host_name;
	bool shared, json, handoff, release_req, have_version, force;
	uint64_t version;
	uint64_t wait_ms;
	int nlocs;
	char *loc[SM_MAX_DISKS]; /* positional arguments */
};

static const char direct_usage[] =
	"usage: sync_manager direct join VOLUME [--host-id N] [--host-name NAME]\n"
	"       sync_manager direct renew|leave VOLUME --host-id N [--generation G] [--force (leave)]\n"
	"       sync_manager direct acquire VOLUME:RES --host-id N [--generation G]\n"
	"                                   [--shared] [--version V] [--wait SEC]\n"
	"       sync_manager direct release VOLUME:RES... --host-id N [--generation G] [--shared]\n"
	"       sync_manager direct inquire VOLUME:RES... [--json]\n"
	"       sync_manager direct request VOLUME:RES --host-id N --release|--handoff\n"
	"acquire and request take one volume: leases on several volumes are refused in this version;\n"
	"release and inquire still read or clear one written by an earlier version (VOLUME:RES x 3).\n";

static int parse_args(int argc, char **argv, struct direct_args *a)
{
	static const struct option opts[] = {
		{"host-id", required_argument, NULL, 'i'}, {"generation", required_argument, NULL, 'g'},
		{"host-name", required_argument, NULL, 'n'}, {"shared", no_argument, NULL, 's'},
		{"version", required_argument, NULL, 'V'}, {"wait", required_argument, NULL, 'w'},
		{"json", no_argument, NULL, 'j'}, {"handoff", no_argument, NULL, 'H'},
		{"release", no_argument, NULL, 'R'}, {"force", no_argument, NULL, 'f'}, {0}};
	uint64_t v;
	int c;
	optind = 2;
	while ((c = getopt_long(argc, argv, "i:g:n:sV:w:j", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (sm_parse_u64(optarg, 1, SM_MAX_MAX_HOSTS, &v) < 0)
				return cli_usage_error("direct", "--host-id must be 1..%u", SM_MAX_MAX_HOSTS);
			a->host_id = (uint32_t)v;
			break;
		case 'g':
			if (sm_parse_u64(optarg, 1, UINT64_MAX, &a->generation) < 0)
				return cli_usage_error("direct", "--generation must be a positive number");
			break;
		case 'n': a->host_name = optarg; break;
		case 's': a->shared = true; break;
		case 'V':
			if (sm_parse_u64(optarg, 0, UINT64_MAX, &a->version) < 0)
				return cli_usage_error("direct", "--version must be a lease version (a number)");
			a->have_version = true;
			break;
		case 'w':
			if (sm_parse_seconds_ms(optarg, 0, 3600000, &a->wait_ms) < 0)
				return cli_usage_error("direct", "--wait must be seconds (up to 3600)");
			break;
		case 'j': a->json = true; break;
		case 'H': a->handoff = true; break;
		case 'R': a->release_req = true; break;
		case 'f': a->force = true; break;
		default: return cli_usage_error("direct", "unknown option");
		}
	}
	for (int i = optind; i < argc; i++) {
		if (a->nlocs == SM_MAX_DISKS)
			return cli_usage_error("direct", "at most %d locations", SM_MAX_DISKS);
		a->loc[a->nlocs++] = argv[i];
	}
	if (a->nlocs == 0)
		return cli_usage_error("direct", "missing VOLUME or VOLUME:RESOURCE");
	return 0;
}

static void describe_host(struct sm_lockspace *ls, uint32_t id, char *buf, size_t len)
{
	struct sm_host_status st;
	if (id && sm_lockspace_host_status(ls, id, &st) == 0 && st.record_status == 0 && st.rec.host_name[0])
		snprintf(buf, len, "host %u (%s, %s)", id, st.rec.host_name, sm_liveness_name(st.state));
	else
		snprintf(buf, len, "host %u", id);
}

static int open_ls(const char *volume, struct sm_lockspace **ls)
{
	int rc = sm_lockspace_open_spec(volume, ls);
	if (rc < 0)
		return cli_fail(rc, "cannot open lockspace volume %s", volume);
	return 0;
}

static int direct_join(struct direct_args *a)
{
	struct sm_lockspace *ls;
	if (open_ls(a->loc[0], &ls))
		return CLI_FAIL;
	cli_catch_interrupts();
	struct sm_join_opts o = {.host_id = a->host_id, .host_name = a->host_name, .progress = cli_progress,
				 .cancel = &cli_interrupted};
	int rc = sm_lockspace_join(ls, &o);
	if (rc == 0) {
		struct sm_lockspace_info info;
		sm_lockspace_info(ls, &info);
		char f[16];
		printf("joined lockspace %s as host_id %u generation %llu (host name %s)\n", info.name, info.host_id,
		       (unsigned long long)info.generation, info.host_name);
		printf("the membership expires %s after this unless renewed ('sync_manager direct renew')\n",
		       sm_format_ms(info.to.fail_ms, f, sizeof(f)));
	}
	sm_lockspace_free(ls);
	return rc == 0 ? CLI_OK : cli_fail(rc, "cannot join lockspace on %s", a->loc[0]);
}

/* Leases of this volume the host (host_id, generation) still holds, listed
 * into buf; their count, or -errno when the volume cannot be read. */
static int held_by_host(struct sm_lockspace *ls, char *buf, size_t len)
{
	struct sm_lockspace_info info;
	sm_lockspace_info(ls, &info);
	struct sm_volume_view *view;
	int rc = sm_volume_inspect(sm_lockspace_volume(ls), &view);
	if (rc < 0)
		return rc;
	int n = 0;
	size_t used = 0;
	buf[0] = '\0';
	for (uint32_t i = 0; i < view->resource_count; i++) {
		const struct sm_resource_view *r = &view->resources[i];
		const char *mode = NULL;
		if (r->leader_status == 0 && r->leader.mode == SM_MODE_EX && r->leader.owner_id == info.host_id &&
		    r->leader.owner_generation == info.generation)
			mode = "EX";
		for (uint32_t k = 0; !mode && k < r->shared_count; k++)
			if (r->shared[k].host_id == info.host_id && r->shared[k].generation == info.generation)
				mode = "SH";
		if (!mode)
			continue;
		if (used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s (%s)", n ? ", " : "", r->entry.name, mode);
		n++;
	}
	sm_volume_view_free(view);
	return n;
}

static int direct_renew_leave(struct direct_args *a, bool leave)
{
	if (!a->host_id)
		return cli_usage_error("direct", "%s needs --host-id", a->verb);
	struct sm_lockspace *ls;
	if (open_ls(a->loc[0], &ls))
		return CLI_FAIL;
	int rc = sm_lockspace_adopt(ls, a->host_id, a->generation);
	if (rc == 0 && leave && !a->force) {
		/* A free slot reads as a dead owner: leases still held would be
		 * taken at once, while their holder may still use them. */
		char list[512];
		int n = held_by_host(ls, list, sizeof(list));
		if (n != 0) {
			sm_lockspace_free(ls);
			if (n < 0)
				return cli_fail(n, "cannot check the leases of host_id %u before leaving", a->host_id);
			return cli_fail(0, "host_id %u still holds %d lease(s): %s; release them first ('sync_manager "
					   "direct release'), or --force to leave anyway (they can then be taken at once)",
					a->host_id, n, list);
		}
	}
	if (rc == 0)
		rc = leave ? sm_lockspace_leave(ls) : sm_lockspace_renew(ls);
	sm_lockspace_free(ls);
	if (rc < 0)
		return cli_fail(rc, "cannot %s host_id %u", a->verb, a->host_id);
	printf("%s host_id %u\n", leave ? "left with" : "renewed", a->host_id);
	return CLI_OK;
}

/* Open every location of one resource; all must name the same resource. */
static int open_resource(struct direct_args *a, struct sm_resource_ref *r, struct sm_volume **vols)
{
	char *name0 = NULL;
	int rc = 0;
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < a->nlocs && rc == 0; i++) {
		char *vspec = NULL, *name = NULL;
		if (cli_split_resource(a->loc[i], &vspec, &name) < 0) {
			rc = cli_usage_error("direct", "'%s' is not VOLUME:RESOURCE", a->loc[i]);
			break;
		}
		if (name0 && strcmp(name0, name) != 0)
			rc = cli_usage_error("direct", "all locations must name the same resource");
		int orc = rc ? 0 : sm_volume_open_spec(vspec, 0, &vols[i]);
		if (!rc && orc < 0)
			rc = cli_fail(orc, "cannot open volume %s", vspec);
		struct sm_resource_ref one;
		if (!rc && (orc = sm_resource_ref_init(&one, vols[i], name)) < 0)
			rc = cli_fail(orc, "resource %s on %s", name, vspec);
		if (!rc)
			r->disk[i] = one.disk[0];
		free(vspec);
		if (!name0)
			name0 = name;
		else
			free(name);
	}
	if (name0)
		snprintf(r->name, sizeof(r->name), "%s", name0);
	free(name0);
	r->ndisks = a->nlocs;
	if (!rc && a->nlocs == 2)
		rc = cli_usage_error("direct", "a resource lives on 1 or 3 volumes, not 2");
	return rc;
}

/* acquire and request write a lease: on one volume only until volume sets
 * exist (issue 18).  Hosts that joined different volumes could each hold it
 * "on a majority", taking host_id and liveness from their own volume.
 * release and inquire still read or clear such a lease (one written by an
 * earlier version). */
static int refuse_several_volumes(const struct direct_args *a)
{
	if (a->nlocs < 2)
		return 0;
	return cli_fail(-SM_EMULTI_VOLUME, "refusing direct %s of %s on %d volumes (%s%s)", a->verb, a->loc[0],
			a->nlocs, a->loc[1], a->nlocs > 2 ? ", ..." : "");
}

static void close_vols(struct sm_volume **vols)
{
	for (int i = 0; i < SM_MAX_DISKS; i++)
		sm_volume_close(vols[i]);
}

static int direct_acquire(struct direct_args *a)
{
	if (!a->host_id)
		return cli_usage_error("direct", "acquire needs --host-id (join first with 'direct join')");
	if (refuse_several_volumes(a))
		return CLI_FAIL;
	struct sm_volume *vols[SM_MAX_DISKS] = {0};
	struct sm_resource_ref r;
	struct sm_lockspace *ls = NULL;
	int rc = open_resource(a, &r, vols);
	if (rc)
		goto out;
	char *vspec = NULL, *name = NULL;
	cli_split_resource(a->loc[0], &vspec, &name);
	rc = open_ls(vspec, &ls);
	free(vspec);
	free(name);
	if (rc)
		goto out;
	int err = sm_lockspace_adopt(ls, a->host_id, a->generation);
	if (err < 0) {
		rc = cli_fail(err, "cannot act as host_id %u", a->host_id);
		goto out;
	}
	struct sm_me me;
	sm_lockspace_me(ls, &me.host_id, &me.generation, NULL);
	struct sm_acquire_opts o = {.mode = a->shared ? SM_MODE_SH : SM_MODE_EX, .at_version = a->have_version,
				    .version = a->version, .live = sm_oracle_of(ls)};
	struct sm_lease l;
	cli_catch_interrupts();
	uint64_t end = sm_now_mono_ms() + a->wait_ms;
	struct sm_lockspace_info info;
	sm_lockspace_info(ls, &info);
	for (int calls = 1;; calls++) {
		err = sm_paxos_acquire(&r, &me, &o, &l);
		uint64_t now = sm_now_mono_ms();
		if (!cli_try_again(err, now < end, calls) || cli_interrupted)
			break;
		if (sm_error_class(err) == SM_ERRCLASS_RETRY) { /* a concurrent ballot: again, after a pause */
			sm_info("%s: another host balloted at the same time; trying again", r.name);
			sm_sleep_ms(50 + now % 100);
			continue;
		}
		char who[160], what[512];
		describe_host(ls, l.owner_id, who, sizeof(who));
		snprintf(what, sizeof(what), "%s is held by %s; watching its delta lease", r.name, who);
		cli_progress(NULL, what, end - now);
		sm_sleep_ms(SM_MIN((uint64_t)info.to.renew_ms, end - now));
		sm_lockspace_observe(ls);
	}
	if (err == 0) {
		printf("acquired %s %s at lver %llu as host_id %u generation %llu\n", r.name,
		       a->shared ? "shared" : "exclusive", (unsigned long long)l.lver, me.host_id,
		       (unsigned long long)me.generation);
		rc = CLI_OK;
	} else {
		char who[160];
		describe_host(ls, l.owner_id, who, sizeof(who));
		if (err == -SM_EHELD || err == -SM_ESHARED_HELD)
			rc = cli_fail(err, "%s is held by %s", r.name, who);
		else if (err == -SM_EUNKNOWN_HOST)
			rc = cli_fail(err, "%s is held by %s, which has not been observed long enough to know whether it "
					   "is alive (use --wait %llu to watch it for H)",
				      r.name, who, (unsigned long long)(info.to.host_dead_ms / 1000 + 1));
		else if (err == -SM_ELVER_MISMATCH)
			rc = cli_fail(err, "%s is at lver %llu, not %llu", r.name, (unsigned long long)l.lver,
				      (unsigned long long)a->version);
		else
			rc = cli_fail(err, "cannot acquire %s%s", r.name,
				      l.in_doubt ? " (outcome in doubt: run 'direct release' once storage works)" : "");
	}
out:
	sm_lockspace_free(ls);
	close_vols(vols);
	return rc;
}

static int direct_release(struct direct_args *a)
{
	if (!a->host_id)
		return cli_usage_error("direct", "release needs --host-id");
	struct sm_volume *vols[SM_MAX_DISKS] = {0};
	struct sm_resource_ref r;
	int rc = open_resource(a, &r, vols);
	if (rc)
		goto out;
	struct sm_lease_view v;
	int err = sm_paxos_inquire(&r, &v);
	if (err < 0) {
		rc = cli_fail(err, "cannot read %s", r.name);
		goto out;
	}
	uint64_t gen = a->generation;
	if (!gen)
		gen = a->shared ? 0 : v.leader.owner_generation;
	struct sm_me me = {a->host_id, gen};
	struct sm_lease held = {.lver = v.leader.lver, .mode = a->shared ? SM_MODE_SH : SM_MODE_EX};
	if (!a->shared && v.leader.owner_id != a->host_id) {
		rc = cli_fail(-SM_ENOT_OWNER, "%s is not held by host_id %u", r.name, a->host_id);
		goto out;
	}
	err = sm_paxos_release(&r, &me, &held);
	if (err < 0)
		rc = cli_fail(err, "cannot release %s", r.name);
	else
		printf("released %s at lver %llu\n", r.name, (unsigned long long)held.lver);
out:
	close_vols(vols);
	return rc;
}

static int direct_inquire(struct direct_args *a)
{
	struct sm_volume *vols[SM_MAX_DISKS] = {0};
	struct sm_resource_ref r;
	int rc = open_resource(a, &r, vols);
	if (rc)
		goto out;
	struct sm_lease_view v;
	int err = sm_paxos_inquire(&r, &v);
	if (err < 0) {
		rc = cli_fail(err, "cannot read %s", r.name);
		goto out;
	}
	const struct sm_leader *l = &v.leader;
	if (a->json) {
		struct sm_json j;
		sm_json_init(&j, stdout, true);
		sm_json_obj_begin(&j, NULL);
		sm_json_str(&j, "resource", r.name);
		sm_json_u64(&j, "lver", l->lver);
		sm_json_u64(&j, "owner_host_id", l->owner_id);
		sm_json_u64(&j, "owner_generation", l->owner_generation);
		sm_json_str(&j, "mode", sm_mode_name(l->mode));
		sm_json_arr_begin(&j, "shared_holders");
		for (uint32_t i = 0; i < v.shared_count && i < 64; i++) {
			sm_json_obj_begin(&j, NULL);
			sm_json_u64(&j, "host_id", v.shared_host[i]);
			sm_json_u64(&j, "generation", v.shared_gen[i]);
			sm_json_obj_end(&j);
		}
		sm_json_arr_end(&j);
		if (v.request_status == 0 && v.request.kind != SM_REQ_NONE) {
			sm_json_obj_begin(&j, "request");
			sm_json_str(&j, "kind", v.request.kind == SM_REQ_HANDOFF ? "handoff" : "release");
			sm_json_u64(&j, "requester_host_id", v.request.requester_id);
			sm_json_u64(&j, "lver", v.request.lver);
			sm_json_obj_end(&j);
		} else {
			sm_json_null(&j, "request");
		}
		sm_json_obj_end(&j);
		sm_json_end(&j);
	} else {
		printf("%s: lver %llu, ", r.name, (unsigned long long)l->lver);
		if (l->owner_id && l->mode == SM_MODE_EX)
			printf("exclusive owner host_id %u generation %llu", l->owner_id,
			       (unsigned long long)l->owner_generation);
		else
			printf("no exclusive owner");
		for (uint32_t i = 0; i < v.shared_count && i < 64; i++)
			printf("%s%u", i ? "," : ", shared by host_id ", v.shared_host[i]);
		if (v.request_status == 0 && v.request.kind != SM_REQ_NONE)
			printf(", %s requested by host_id %u at lver %llu",
			       v.request.kind == SM_REQ_HANDOFF ? "hand-off" : "release", v.request.requester_id,
			       (unsigned long long)v.request.lver);
		printf("\n");
	}
out:
	close_vols(vols);
	return rc;
}

static int direct_request(struct direct_args *a)
{
	if (!a->host_id || a->handoff == a->release_req)
		return cli_usage_error("direct", "request needs --host-id and one of --release or --handoff");
	if (refuse_several_volumes(a))
		return CLI_FAIL;
	struct sm_volume *vols[SM_MAX_DISKS] = {0};
	struct sm_resource_ref r;
	int rc = open_resource(a, &r, vols);
	if (rc)
		goto out;
	struct sm_lease_view v;
	int err = sm_paxos_inquire(&r, &v);
	struct sm_me me = {a->host_id, a->generation};
	if (err == 0)
		err = sm_paxos_request(&r, &me, a->handoff ? SM_REQ_HANDOFF : SM_REQ_RELEASE, v.leader.lver);
	if (err < 0)
		rc = cli_fail(err, "cannot write the request for %s", r.name);
	else
		printf("requested %s of %s at lver %llu\n", a->handoff ? "hand-off" : "release", r.name,
		       (unsigned long long)v.leader.lver);
out:
	close_vols(vols);
	return rc;
}

int cmd_direct(int argc, char **argv)
{
	if (argc < 2) {
		fputs(direct_usage, stderr);
		return CLI_USAGE;
	}
	struct direct_args a = {.verb = argv[1]};
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc;
	if (!strcmp(a.verb, "join"))
		return direct_join(&a);
	if (!strcmp(a.verb, "renew"))
		return direct_renew_leave(&a, false);
	if (!strcmp(a.verb, "leave"))
		return direct_renew_leave(&a, true);
	if (!strcmp(a.verb, "acquire"))
		return direct_acquire(&a);
	if (!strcmp(a.verb, "release"))
		return direct_release(&a);
	if (!strcmp(a.verb, "inquire"))
		return direct_inquire(&a);
	if (!strcmp(a.verb, "request"))
		return direct_request(&a);
	fprintf(stderr, "sync_manager direct: unknown action '%s'\n", a.verb);
	fputs(direct_usage, stderr);
	return CLI_USAGE;
}
