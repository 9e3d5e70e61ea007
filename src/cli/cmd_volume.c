/* sync_manager init / resource: formatting volumes and managing names. */
#include "cli.h"

#include "common/clock.h"
#include "common/json.h"
#include "common/util.h"
#include "disk/disk.h"
#include "disk/pr.h"
#include "lease/fence.h"
#include "ondisk/index.h"
#include "ondisk/lease_io.h"
#include "lease/resource.h"
#include "sync_manager/admin.h"
#include "lease/timeouts.h"
#include "ondisk/volume.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_u32_opt(const char *cmd, const char *what, const char *arg, uint64_t min, uint64_t max,
			 uint32_t *out)
{
	uint64_t v;
	if (sm_parse_u64(arg, min, max, &v) < 0)
		return cli_usage_error(cmd, "%s must be a number from %llu to %llu, not '%s'", what,
				       (unsigned long long)min, (unsigned long long)max, arg);
	*out = (uint32_t)v;
	return 0;
}

static int parse_seconds_opt(const char *cmd, const char *what, const char *arg, uint64_t min_ms, uint64_t max_ms,
			     uint32_t *out)
{
	uint64_t ms;
	if (sm_parse_seconds_ms(arg, min_ms, max_ms, &ms) < 0) {
		char a[16], b[16];
		return cli_usage_error(cmd, "%s must be seconds from %s to %s (decimals allowed), not '%s'", what,
				       sm_format_ms(min_ms, a, sizeof(a)), sm_format_ms(max_ms, b, sizeof(b)), arg);
	}
	*out = (uint32_t)ms;
	return 0;
}

/* Progress of a format that takes a while: after 2 s, a line at most every
 * 2 s (always line-based, also when stderr is no terminal) saying what is
 * being formatted, how far it is, and the time left estimated from the
 * write rate so far. */
struct format_progress {
	const char *target;
	size_t names;
	uint64_t started, last_print;
	uint64_t first_ms, first_done; /* the first report: writing began (validation excluded) */
	uint64_t last_done;            /* at the previous line */
};

static void format_progress(void *arg, uint64_t done, uint64_t total)
{
	struct format_progress *fp = arg;
	uint64_t now = sm_now_mono_ms();
	if (!fp->first_ms) {
		fp->first_ms = now;
		fp->first_done = done;
	}
	if (now - fp->started < 2000 || now - fp->last_print < 2000 || !total)
		return;
	uint64_t prev_print = fp->last_print;
	fp->last_print = now;
	char d[32], t[32], left[48] = "";
	if (now - fp->first_ms >= 500 && done > fp->first_done && done < total) {
		/* bytes per ms since writing began, or over the last interval if
		 * writes have slowed down since (the larger estimate wins) */
		double rate = (double)(done - fp->first_done) / (double)(now - fp->first_ms);
		if (prev_print > fp->first_ms && done > fp->last_done) {
			double recent = (double)(done - fp->last_done) / (double)(now - prev_print);
			if (recent < rate)
				rate = recent;
		}
		uint64_t s = (uint64_t)((double)(total - done) / rate / 1000.0) + 1;
		if (s < 120)
			snprintf(left, sizeof(left), ", about %llu s left", (unsigned long long)s);
		else
			snprintf(left, sizeof(left), ", about %llu min left", (unsigned long long)(s + 59) / 60);
	}
	char what[64] = "";
	if (fp->names)
		snprintf(what, sizeof(what), " (%zu named resource%s)", fp->names, fp->names == 1 ? "" : "s");
	fprintf(stderr, "sync_manager: formatting %s%s: %s of %s written (%.0f%%%s; Ctrl-C stops, leaving no volume)\n",
		fp->target, what, sm_format_bytes(done, d, sizeof(d)), sm_format_bytes(total, t, sizeof(t)),
		100.0 * (double)done / (double)total, left);
	fp->last_done = done;
}

/* Fencing by reservation at init: the fence table from the devices'
 * identities (the lease LUN first, each LU once), then each device checked
 * for other users' keys and registered with the init key.  paths[0] is set
 * to the lease LUN's path (*lease_path, malloc'd). */
static int prepare_fencing(const char *spec, const char *lockspace, const char **paths, int n,
			   struct sm_fence_table *t, char **lease_path)
{
	uint64_t off = 0;
	if (sm_disk_parse_location(spec, lease_path, &off) < 0)
		return cli_usage_error("init", "bad location '%s' (expected PATH or PATH:OFFSET)", spec);
	paths[0] = *lease_path;
	t->count = (uint32_t)n;
	for (int i = 0; i < n; i++) {
		int err = sm_pr_identity(paths[i], t->ids[i], sizeof(t->ids[i]));
		if (err < 0)
			return cli_fail(err, "%s cannot be a fence device: no stable identity of its logical unit "
					     "(fencing by reservation needs SCSI or NVMe block devices)",
					paths[i]);
		for (int k = 0; k < i; k++)
			if (strcmp(t->ids[k], t->ids[i]) == 0)
				return cli_usage_error("init", "%s and %s are the same logical unit (%s): name each fence "
							       "device once (the lease LUN is one already)",
						       paths[k], paths[i], t->ids[i]);
	}
	/* keys of the lockspace formatted here before are ours to clear */
	struct sm_volume *old = NULL;
	char old_name[SM_NAME_FIELD] = "";
	if (sm_volume_open_spec(spec, SM_DISK_READONLY, &old) == 0) {
		snprintf(old_name, sizeof(old_name), "%s", old->hdr.lockspace);
		sm_volume_close(old);
	}
	int err = sm_fence_prepare_devices(lockspace, old_name[0] ? old_name : NULL, paths, n, 10000);
	if (err < 0)
		return cli_fail(err, "cannot set up fencing by reservation for %s", spec);
	return CLI_OK;
}

/* Format one volume (a lone one, or one member of a set) with the live-host
 * guard of --force; prints what went wrong.  h gets the header written. */
static int format_one(const char *spec, struct sm_format_params *p, struct init_guard *gs, bool member,
		      struct sm_volume_header *h)
{
	struct init_guard guard = *gs; /* the set's members share what the guard has checked */
	struct format_progress fp = {.target = spec, .names = p->resource_name_count, .started = sm_now_mono_ms()};
	p->progress = format_progress;
	p->progress_arg = &fp;
	char *path = NULL;
	uint64_t off = 0;
	if (sm_disk_parse_location(spec, &path, &off) < 0)
		return cli_usage_error("init", "bad location '%s' (expected PATH or PATH:OFFSET)", spec);
	guard.spec = spec;
	guard.path = path;
	guard.offset = off;
	p->before_overwrite = init_guard_check;
	p->before_overwrite_arg = &guard;
	int rc = CLI_OK;
	unsigned said = cli_errors_logged;
	int err = sm_volume_format(path, off, p, h);
	memcpy(gs->set_checked, guard.set_checked, sizeof(gs->set_checked));
	if (err < 0 && (guard.reported || cli_errors_logged != said)) {
		rc = CLI_FAIL; /* refused or interrupted, and said why (once) */
	} else if (err == -SM_EINTERRUPTED) {
		/* the header was invalidated first and is written last: nothing valid is left */
		fprintf(stderr, "sync_manager: init interrupted after %.1f s: %s is left unformatted (it reads as not a "
				"lease volume%s; run init again to format it)\n",
			(sm_now_mono_ms() - fp.started) / 1000.0, spec,
			p->force ? ", and the volume it held before is gone" : "");
		rc = CLI_FAIL;
	} else if (err < 0) {
		rc = cli_fail(err, "cannot format %s%s", spec, member ? " (a member of the volume set)" : "");
	}
	free(path);
	return rc;
}

/* --lease-io caw|auto: the decision of src/ondisk/lease_io.h, said in the
 * CLI's words (a fallback on stdout, refusals naming the options that help).
 * Sets p->lease_io; CLI_OK, or CLI_FAIL / CLI_USAGE after saying why. */
static int choose_lease_io(const char *spec, const char *how, bool trust_target, struct sm_format_params *p)
{
	char *path = NULL;
	uint64_t off = 0;
	int err = sm_disk_parse_location(spec, &path, &off);
	if (err < 0)
		return cli_fail(err, "init: cannot parse %s", spec);
	enum sm_lease_io_want want = !strcmp(how, "caw") ? SM_WANT_CAW : !strcmp(how, "auto") ? SM_WANT_AUTO
												: SM_WANT_PAXOS;
	struct sm_lease_io_choice ch;
	err = sm_lease_io_choose(path, off, want, trust_target, p->max_hosts, p->sector_size, p->io_timeout_ms, &ch);
	free(path);
	p->lease_io = ch.lease_io;
	if (err == 0 && ch.warning)
		fprintf(stderr, "sync_manager: warning: %s (--caw-trust-target)\n", ch.text);
	else if (err == 0 && ch.text[0])
		printf("  %s\n", ch.text);
	if (err == 0)
		return CLI_OK;
	if (ch.usage)
		return cli_usage_error("init", "--lease-io caw: %s", ch.text);
	if (ch.defect)
		fprintf(stderr, "sync_manager: init: %s. Format it with --lease-io paxos, or add --caw-trust-target if you "
				"know this target keeps COMPARE AND WRITE atomic after rejected commands\n", ch.text);
	else if (err == -SM_ECAW_UNSUPPORTED)
		fprintf(stderr, "sync_manager: init: %s; format it with --lease-io paxos, or auto\n", ch.text);
	else
		return cli_fail(err, "init: %s", ch.text);
	return CLI_FAIL;
}

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{"lockspace", required_argument, NULL, 'l'}, {"max-hosts", required_argument, NULL, 'm'},
		{"sector-size", required_argument, NULL, 's'}, {"io-timeout", required_argument, NULL, 't'},
		{"watchdog-timeout", required_argument, NULL, 'w'}, {"resources", required_argument, NULL, 'r'},
		{"resource", required_argument, NULL, 'R'}, {"force", no_argument, NULL, 'f'},
		{"force-live", no_argument, NULL, 'L'}, {"fence", required_argument, NULL, 'F'},
		{"fence-device", required_argument, NULL, 'D'}, {"lease-io", required_argument, NULL, 'I'},
		{"caw-trust-target", no_argument, NULL, 'T'}, {0}};
	struct sm_format_params p = {0};
	const char *lease_io = "paxos";
	bool trust_target = false;
	bool fence_pr = false;
	const char *fence_paths[SM_FENCE_MAX_DEVICES];
	int nfence = 1; /* [0]: the lease LUN */
	struct sm_fence_table fence_table = {0};
	char *lease_path = NULL;
	bool force_live = false;
	char set_spec[3 * 600] = "";
	const char **names = NULL;
	size_t nnames = 0;
	int c, rc = CLI_OK;
	optind = 1;
	while ((c = getopt_long(argc, argv, "l:m:s:t:w:r:R:f", opts, NULL)) != -1) {
		switch (c) {
		case 'l': p.lockspace = optarg; break;
		case 'm': rc = parse_u32_opt("init", "--max-hosts", optarg, 1, SM_MAX_MAX_HOSTS, &p.max_hosts); break;
		case 's':
			if (strcmp(optarg, "512") && strcmp(optarg, "4096"))
				rc = cli_usage_error("init", "--sector-size must be 512 or 4096, not '%s'", optarg);
			else
				p.sector_size = (uint32_t)atoi(optarg);
			break;
		case 't': rc = parse_seconds_opt("init", "--io-timeout", optarg, 100, 600000, &p.io_timeout_ms); break;
		case 'w':
			rc = parse_seconds_opt("init", "--watchdog-timeout", optarg, 1000, 600000, &p.watchdog_timeout_ms);
			break;
		case 'r': rc = parse_u32_opt("init", "--resources", optarg, 1, SM_MAX_RESOURCES, &p.resources); break;
		case 'R': {
			const char **n = realloc(names, (nnames + 1) * sizeof(*n));
			if (!n) {
				rc = cli_fail(-ENOMEM, "init");
				break;
			}
			names = n;
			names[nnames++] = optarg;
			break;
		}
		case 'f': p.force = true; break;
		case 'L': p.force = force_live = true; break;
		case 'F':
			if (strcmp(optarg, "pr") == 0)
				fence_pr = true;
			else if (strcmp(optarg, "timing") != 0)
				rc = cli_usage_error("init", "--fence must be 'pr' (persistent reservation) or 'timing', not "
							     "'%s'", optarg);
			break;
		case 'T': trust_target = true; break;
		case 'I':
			if (strcmp(optarg, "caw") && strcmp(optarg, "paxos") && strcmp(optarg, "auto"))
				rc = cli_usage_error("init", "--lease-io must be 'caw' (COMPARE AND WRITE), 'paxos' (Disk "
							     "Paxos) or 'auto' (caw if the device can), not '%s'", optarg);
			else
				lease_io = optarg;
			break;
		case 'D':
			if (nfence == SM_FENCE_MAX_DEVICES)
				rc = cli_usage_error("init", "at most %d --fence-device", SM_FENCE_MAX_DEVICES - 1);
			else
				fence_paths[nfence++] = optarg;
			break;
		default: rc = cli_usage_error("init", "unknown option"); break;
		}
		if (rc != CLI_OK)
			goto out;
	}
	int nvol = argc - optind;
	if (nvol != 1 && nvol != SM_SET_SIZE) {
		rc = cli_usage_error("init", "expected one PATH[:OFFSET], or three for a volume set (PATH1 PATH2 PATH3)");
		goto out;
	}
	if (!p.lockspace) {
		rc = cli_usage_error("init", "--lockspace NAME is required (the name hosts use to join)");
		goto out;
	}
	for (int i = optind; i < argc; i++)
		if (nvol > 1 && strchr(argv[i], ',')) {
			rc = cli_usage_error("init", "a volume set member's name cannot contain ',' ('%s')", argv[i]);
			goto out;
		}
	if (nfence > 1 && !fence_pr) {
		rc = cli_usage_error("init", "--fence-device needs --fence pr");
		goto out;
	}
	if (fence_pr && nvol > 1) {
		rc = cli_usage_error("init", "fencing by reservation is not available for volume sets in this version");
		goto out;
	}
	if (strcmp(lease_io, "paxos") && nvol > 1) {
		rc = cli_usage_error("init", "leases by COMPARE AND WRITE are not available for volume sets (--lease-io "
					     "paxos)");
		goto out;
	}
	if (nvol == 1 && (rc = choose_lease_io(argv[optind], lease_io, trust_target, &p)) != CLI_OK)
		goto out;
	if (fence_pr && (rc = prepare_fencing(argv[optind], p.lockspace, fence_paths, nfence, &fence_table,
					      &lease_path)) != CLI_OK)
		goto out;
	if (fence_pr)
		p.fence = &fence_table;
	p.resource_names = names;
	p.resource_name_count = nnames;
	cli_catch_interrupts();
	p.cancel = (volatile int *)&cli_interrupted;
	if (nvol > 1) {
		p.set_size = SM_SET_SIZE;
		if (sm_uuid_generate(p.set_uuid) < 0) {
			rc = cli_fail(-EIO, "init: no random numbers for the set's identity");
			goto out;
		}
	}
	struct sm_volume_header h;
	if (nvol > 1) /* the guard watches an old set over these paths as a whole, once */
		snprintf(set_spec, sizeof(set_spec), "%s,%s,%s", argv[optind], argv[optind + 1], argv[optind + 2]);
	struct init_guard guard = {.force_live = force_live, .set_spec = nvol > 1 ? set_spec : NULL};
	for (int k = 0; k < nvol && rc == CLI_OK; k++) {
		p.set_index = (uint32_t)k;
		rc = format_one(argv[optind + k], &p, &guard, nvol > 1, &h);
		if (k == 0)
			p.sector_size = h.sector_size; /* every member of a set alike */
	}
	if (rc != CLI_OK && nvol > 1)
		fprintf(stderr, "sync_manager: the volume set is not complete: run init again with all three members\n");
	if (rc == CLI_OK && fence_pr) {
		int err = sm_fence_clear_devices(p.lockspace, fence_paths, nfence, SM_MAX(h.io_timeout_ms, 10000u));
		if (err < 0)
			rc = cli_fail(err, "formatted %s, but the old registrations on its fence devices could not be "
					   "cleared: run init again",
				      argv[optind]);
	}
	if (rc == CLI_OK) {
		char uuid[37], sz[32], d[16], w[16];
		if (nvol > 1) {
			sm_uuid_format(h.set_uuid, uuid);
			printf("formatted a volume set of %d members: lockspace %s, set uuid %s\n", nvol, h.lockspace, uuid);
			for (int k = 0; k < nvol; k++)
				printf("  member %d: %s\n", k + 1, argv[optind + k]);
		} else {
			sm_uuid_format(h.uuid, uuid);
			printf("formatted %s: lockspace %s, uuid %s\n", argv[optind], h.lockspace, uuid);
		}
		printf("  %u hosts, %u resource areas (%zu bytes each), %u-byte sectors, %s%s\n", h.max_hosts,
		       h.resource_count, sm_volume_area_bytes(&h), h.sector_size,
		       sm_format_bytes(h.volume_size, sz, sizeof(sz)), nvol > 1 ? " on each member" : "");
		printf("  io_timeout %s, watchdog %s (see 'sync_manager timeouts' for the derived waits)\n",
		       sm_format_ms(h.io_timeout_ms, d, sizeof(d)), sm_format_ms(h.watchdog_timeout_ms, w, sizeof(w)));
		for (size_t i = 0; i < nnames && i < 10; i++)
			printf("  resource %s in area %zu\n", names[i], i);
		if (nnames > 10)
			printf("  ... and %zu more resources ('sync_manager resource ls' lists them)\n", nnames - 10);
		if (nvol > 1)
			printf("  hosts join it by naming all members, in any order: sync_manager join %s,%s,%s\n",
			       argv[optind], argv[optind + 1], argv[optind + 2]);
		if (h.lease_io == SM_LEASE_IO_CAW)
			printf("  leases by COMPARE AND WRITE: one round trip per uncontended acquire or release\n");
		if (fence_pr) {
			printf("  fenced by persistent reservation (failover after T + 2d instead of H), %d fence "
			       "device%s:\n",
			       nfence, nfence == 1 ? "" : "s");
			for (int i = 0; i < nfence; i++)
				printf("    %s  %s%s\n", fence_table.ids[i], i == 0 ? lease_path : fence_paths[i],
				       i == 0 ? " (the lease LUN)" : "");
		}
	}
out:
	free(lease_path);
	free(names);
	return rc;
}

/* The volume a `resource` command names: a path (PATH[:OFFSET]) or a volume
 * set (A,B,C) as given; a bare name that is no file is a lockspace name, looked
 * up in the running daemon's status.  CLI_OK, or CLI_FAIL after saying why. */
static int resolve_volume(const char *arg, char *out, size_t n)
{
	char *path = NULL;
	uint64_t off;
	bool volume = strchr(arg, ',') || strchr(arg, '/') || !sm_name_valid(arg) ||
		      (sm_disk_parse_location(arg, &path, &off) == 0 && access(path, F_OK) == 0);
	free(path);
	snprintf(out, n, "%s", arg);
	if (volume)
		return CLI_OK;
	sm_conn *c;
	if (sm_conn_open(&c) < 0) {
		fprintf(stderr, "sync_manager: %s: no such volume, and no sync_managerd runs to look up a lockspace of "
				"that name: give the volume (PATH[:OFFSET] or A,B,C)\n", arg);
		return CLI_FAIL;
	}
	struct sm_report *r = NULL;
	int rc = sm_status(c, &r);
	if (rc < 0) {
		cli_daemon_fail(c, rc, "status");
		sm_conn_close(c);
		return CLI_FAIL;
	}
	sm_conn_close(c);
	const struct sm_section *s = sm_report_section(r, "lockspaces");
	char known[512] = "";
	size_t len = 0;
	const struct sm_field *vol = NULL;
	for (int i = 0; s && i < s->nrecords && !vol; i++) {
		const struct sm_field *nf = sm_record_field(&s->records[i], "name");
		if (!nf || nf->type != SM_FIELD_STR)
			continue;
		if (!strcmp(nf->str, arg))
			vol = sm_record_field(&s->records[i], "volume");
		else if (len < sizeof(known))
			len += (size_t)snprintf(known + len, sizeof(known) - len, "%s%s", len ? ", " : "", nf->str);
	}
	if (vol && vol->type == SM_FIELD_STR && vol->str[0])
		snprintf(out, n, "%s", vol->str);
	else
		fprintf(stderr,
			"sync_manager: %s: no such volume, and sync_managerd knows no lockspace %s (it has: %s); "
			"give the volume (PATH[:OFFSET] or A,B,C)\n",
			arg, arg, len ? known : "none");
	bool found = vol && vol->type == SM_FIELD_STR && vol->str[0];
	sm_report_free(r);
	return found ? CLI_OK : CLI_FAIL;
}

static int resource_ls(const char *spec, bool json)
{
	struct sm_volume *v = NULL;
	struct sm_lockspace *set = NULL;
	int rc;
	struct sm_index *idx = NULL;
	if (strchr(spec, ',')) { /* a volume set: the index of the first member that reads */
		if ((rc = sm_lockspace_open_spec(spec, &set)) < 0)
			return cli_fail(rc, "cannot open volume set %s", spec);
		rc = -SM_ENO_MAJORITY;
		for (int i = 0; i < sm_lockspace_member_count(set) && rc < 0; i++)
			if (sm_lockspace_member_volume(set, i))
				rc = sm_index_load(sm_lockspace_member_volume(set, i), &idx);
		sm_lockspace_free(set);
	} else {
		rc = sm_volume_open_spec(spec, SM_DISK_READONLY, &v);
		if (rc < 0)
			return cli_fail(rc, "cannot read volume %s", spec);
		rc = sm_index_load(v, &idx);
		sm_volume_close(v);
	}
	if (rc < 0)
		return cli_fail(rc, "cannot read the resource index of %s", spec);
	struct sm_json j;
	if (json) {
		sm_json_init(&j, stdout, true);
		sm_json_arr_begin(&j, NULL);
	}
	for (uint32_t i = 0; i < idx->count; i++) {
		bool used = idx->status[i] == 0 && idx->entries[i].flags == SM_INDEX_USED;
		if (!used && idx->status[i] == 0)
			continue;
		if (json) {
			sm_json_obj_begin(&j, NULL);
			sm_json_u64(&j, "area", i);
			sm_json_str(&j, "name", used ? idx->entries[i].name : NULL);
			sm_json_str(&j, "error", used ? NULL : sm_errname(idx->status[i]));
			sm_json_obj_end(&j);
		} else if (used) {
			printf("%s\n", idx->entries[i].name);
		} else {
			fprintf(stderr, "sync_manager: index entry %u is corrupt: %s\n", i, sm_strerror(idx->status[i]));
		}
	}
	if (json) {
		sm_json_arr_end(&j);
		sm_json_end(&j);
	}
	sm_index_free(idx);
	return CLI_OK;
}

/* With a daemon that has joined the volume's lockspace, it does the change
 * (as this host).  Returns -SM_ENOT_JOINED when it cannot. */
static int resource_change_via_daemon(const char *spec, const char *name, bool add)
{
	struct sm_lockspace *lsp = NULL;
	int rc = sm_lockspace_open_spec(spec, &lsp);
	if (rc < 0)
		return -SM_ENOT_JOINED; /* resource_change() opens it again and says why it cannot */
	char ls[SM_NAME_FIELD];
	snprintf(ls, sizeof(ls), "%s", sm_lockspace_header(lsp)->lockspace);
	sm_lockspace_free(lsp);
	sm_conn *c;
	if (sm_conn_open(&c) < 0)
		return -SM_ENOT_JOINED;
	rc = add ? sm_resource_create(c, ls, name) : sm_resource_delete(c, ls, name);
	if (rc < 0 && rc != -SM_ENOT_JOINED)
		fprintf(stderr, "sync_manager: %s\n", sm_conn_message(c));
	sm_conn_close(c);
	return rc;
}

/* Without a daemon, `resource add|rm` joins the lockspace for the duration
 * of the change (under a separate admin host name, so it never waits for
 * this host's daemon slot), takes the index lease, and leaves. */
static int resource_change(const char *spec, const char *name, bool add, uint32_t host_id)
{
	struct sm_lockspace *ls = NULL;
	int rc = sm_lockspace_open_spec(spec, &ls);
	if (rc < 0)
		return cli_fail(rc, "cannot open volume %s", spec);
	char admin[SM_NAME_FIELD], alias[SM_NAME_FIELD + 8] = "";
	sm_default_host_name(admin);
	admin[SM_NAME_MAX - 6] = '\0';
	strcat(admin, "-admin");
	uint8_t mid[16];
	if (sm_machine_id(mid)) { /* the admin name of versions that named hosts by machine-id */
		sm_machine_id_hex(mid, alias);
		strcat(alias, "-admin");
	}
	cli_catch_interrupts();
	struct sm_join_opts jo = {.host_id = host_id, .host_name = admin, .alias = alias, .progress = cli_progress,
				  .cancel = &cli_interrupted};
	rc = sm_lockspace_join(ls, &jo);
	if (rc < 0) {
		sm_lockspace_free(ls);
		return cli_fail(rc, "cannot join the lockspace of %s to change its index", spec);
	}
	struct sm_me me;
	sm_lockspace_me(ls, &me.host_id, &me.generation, NULL);
	struct sm_oracle live = sm_oracle_of(ls);
	unsigned wait = sm_lockspace_header(ls)->io_timeout_ms * 4;
	uint32_t area = 0;
	if (sm_lockspace_member_count(ls) > 1) {
		struct sm_volume *m[SM_SET_SIZE];
		for (int i = 0; i < SM_SET_SIZE; i++)
			m[i] = sm_lockspace_member_volume(ls, i);
		rc = add ? sm_resource_add_set(m, name, &me, &live, wait, &area)
			 : sm_resource_remove_set(m, name, &me, &live, wait);
	} else if (add) {
		rc = sm_resource_add(sm_lockspace_volume(ls), name, &me, &live, wait, &area);
	} else {
		rc = sm_resource_remove(sm_lockspace_volume(ls), name, &me, &live, wait);
	}
	int lrc = sm_lockspace_leave(ls);
	sm_lockspace_free(ls);
	if (rc < 0)
		return cli_fail(rc, "cannot %s resource %s %s %s", add ? "add" : "remove", name, add ? "to" : "from",
				spec);
	if (lrc < 0)
		fprintf(stderr, "sync_manager: warning: leaving the lockspace failed: %s\n", sm_strerror(lrc));
	if (add)
		printf("added resource %s (area %u)\n", name, area);
	else
		printf("removed resource %s\n", name);
	return CLI_OK;
}

int cmd_resource(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {"host-id", required_argument, NULL, 'i'},
					     {0}};
	bool json = false;
	uint32_t host_id = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "ji:", opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'i') {
			if (parse_u32_opt("resource", "--host-id", optarg, 1, SM_MAX_MAX_HOSTS, &host_id))
				return CLI_USAGE;
		} else
			return cli_usage_error("resource", "unknown option");
	}
	int nargs = argc - optind;
	if (nargs < 2)
		return cli_usage_error("resource", "expected add|rm|ls and a volume");
	const char *verb = argv[optind];
	char spec[4200];
	if (!strcmp(verb, "ls")) {
		if (nargs != 2)
			return cli_usage_error("resource", "ls takes only the volume");
		if (resolve_volume(argv[optind + 1], spec, sizeof(spec)) != CLI_OK)
			return CLI_FAIL;
		return resource_ls(spec, json);
	}
	if (!strcmp(verb, "add") || !strcmp(verb, "rm")) {
		if (nargs != 3)
			return cli_usage_error("resource", "%s takes the volume and one NAME", verb);
		if (sm_resource_name_check(argv[optind + 2]) < 0)
			return CLI_USAGE;
		if (resolve_volume(argv[optind + 1], spec, sizeof(spec)) != CLI_OK)
			return CLI_FAIL;
		bool add = verb[0] == 'a';
		if (!host_id) {
			int rc = resource_change_via_daemon(spec, argv[optind + 2], add);
			if (rc == 0) {
				printf("%s resource %s (through sync_managerd)\n", add ? "added" : "removed", argv[optind + 2]);
				return CLI_OK;
			}
			if (rc != -SM_ENOT_JOINED)
				return CLI_FAIL;
		}
		return resource_change(spec, argv[optind + 2], add, host_id);
	}
	return cli_usage_error("resource", "unknown action '%s' (expected add, rm or ls)", verb);
}

int cmd_timeouts(int argc, char **argv)
{
	static const struct option opts[] = {{"io-timeout", required_argument, NULL, 't'},
					     {"watchdog-timeout", required_argument, NULL, 'w'},
					     {"json", no_argument, NULL, 'j'}, {"fence", required_argument, NULL, 'f'},
					     {"lease-io", required_argument, NULL, 'I'}, {0}};
	uint32_t d = SM_DEFAULT_IO_TIMEOUT_MS, w = SM_DEFAULT_WATCHDOG_MS;
	bool json = false, fence_pr = false, caw = false;
	int c, rc = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:w:", opts, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 't')
			rc = parse_seconds_opt("timeouts", "--io-timeout", optarg, 100, 600000, &d);
		else if (c == 'w')
			rc = parse_seconds_opt("timeouts", "--watchdog-timeout", optarg, 1000, 600000, &w);
		else if (c == 'I') {
			if (strcmp(optarg, "caw") && strcmp(optarg, "paxos"))
				rc = cli_usage_error("timeouts", "--lease-io must be 'caw' or 'paxos', not '%s'", optarg);
			caw = !strcmp(optarg, "caw");
		} else if (c == 'f') {
			if (strcmp(optarg, "pr") == 0)
				fence_pr = true;
			else if (strcmp(optarg, "timing") != 0)
				rc = cli_usage_error("timeouts", "--fence must be 'pr' or 'timing', not '%s'", optarg);
		} else
			rc = cli_usage_error("timeouts", "unknown option");
		if (rc)
			return rc;
	}
	const char *source = "defaults";
	if (optind < argc) {
		struct sm_volume *v = NULL;
		int err = sm_volume_open_spec(argv[optind], SM_DISK_READONLY, &v);
		if (err < 0)
			return cli_fail(err, "cannot read volume %s", argv[optind]);
		d = v->hdr.io_timeout_ms;
		w = v->hdr.watchdog_timeout_ms;
		fence_pr = v->hdr.fence_mode == SM_FENCE_PR;
		caw = v->hdr.lease_io == SM_LEASE_IO_CAW;
		sm_volume_close(v);
		source = argv[optind];
	} else if (d != SM_DEFAULT_IO_TIMEOUT_MS || w != SM_DEFAULT_WATCHDOG_MS) {
		source = "the given values";
	}
	struct sm_timeouts t;
	sm_timeouts_derive(d, w, &t);
	if (fence_pr)
		sm_timeouts_fence_pr(&t);
	if (caw)
		sm_timeouts_lease_caw(&t);
	if (json) {
		sm_timeouts_print_json(stdout, &t, source);
		return CLI_OK;
	}
	printf("Timeouts (%s%s%s):\n", source, fence_pr ? ", fenced by persistent reservation" : "",
	       caw ? ", leases by COMPARE AND WRITE" : "");
	sm_timeouts_print(stdout, &t);
	return CLI_OK;
}
