/* Persistence for restarting the daemon without losing leases (docs/restart.md).
 *
 * RUN_DIR/state is rewritten (temp file + rename) whenever the lease table
 * changes, and always before a reply that grants or releases a lease, so a
 * daemon killed at any moment leaves a state that lists every process that
 * may be using a lease.  A new daemon:
 *  - resumes each lockspace only if F has not passed since the previous
 *    daemon's last good renewal started (else others may already own our
 *    leases: the holders are fenced);
 *  - re-attaches to the processes that still run (pid + start time);
 *  - verifies on disk that each lease with a living holder is still ours,
 *    and fences the lockspace otherwise;
 *  - releases the leases of processes that exited meanwhile.
 *
 * Format: text lines; fields separated by spaces; strings %-escaped. */
#include "jobs.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATE_MAGIC "sync_managerd-state 1"

static void esc(FILE *f, const char *s)
{
	if (!*s) {
		fputc('-', f);
		return;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= ' ' || c == '%' || c >= 0x7f || (c == '-' && s[1] == '\0' && s[-1] == '\0'))
			fprintf(f, "%%%02X", c);
		else
			fputc(c, f);
	}
}

static void unesc(const char *in, char *out, size_t len)
{
	size_t n = 0;
	if (strcmp(in, "-") == 0)
		in = "";
	for (; *in && n + 1 < len; in++) {
		unsigned v;
		if (in[0] == '%' && sscanf(in + 1, "%2x", &v) == 1) {
			out[n++] = (char)v;
			in += 2;
		} else {
			out[n++] = *in;
		}
	}
	out[n] = '\0';
}

static void path_of(struct daemon *d, char *buf, size_t len, const char *suffix)
{
	snprintf(buf, len, "%s/state%s", d->cfg.run_dir, suffix);
}

void state_save(struct daemon *d)
{
	char tmp[300], final[300];
	path_of(d, tmp, sizeof(tmp), ".tmp");
	path_of(d, final, sizeof(final), "");
	FILE *f = fopen(tmp, "w");
	if (!f) {
		sm_error("cannot write %s: %s", tmp, strerror(errno));
		return;
	}
	fprintf(f, "%s\n", STATE_MAGIC);
	for (struct ls_entry *e = d->lockspaces; e; e = e->next) {
		if (e->state == LS_GONE || !e->ls)
			continue;
		struct sm_lockspace_info info;
		uint8_t inst[16];
		uint32_t id;
		uint64_t gen;
		sm_lockspace_info(e->ls, &info);
		sm_lockspace_me(e->ls, &id, &gen, inst);
		if (!info.joined)
			continue;
		char hex[33];
		for (int i = 0; i < 16; i++)
			snprintf(hex + 2 * i, 3, "%02x", inst[i]);
		fprintf(f, "lockspace ");
		esc(f, e->location);
		fprintf(f, " %u %llu %s %llu %d\n", id, (unsigned long long)gen, hex,
			(unsigned long long)info.last_renewal_boot_ms, e->state == LS_FAILED);
	}
	for (struct proc *p = d->procs; p; p = p->next) {
		if (p->state == PROC_DEAD)
			continue;
		fprintf(f, "proc %d %llu %d ", (int)p->pid, (unsigned long long)p->starttime, p->by_parent);
		esc(f, p->name);
		fprintf(f, " %d ", p->kill.signal);
		esc(f, p->kill.path);
		fprintf(f, " %d", p->kill.nargs);
		for (int i = 0; i < p->kill.nargs; i++) {
			fputc(' ', f);
			esc(f, p->kill.args[i]);
		}
		fputc('\n', f);
	}
	for (struct lease *l = d->leases; l; l = l->next) {
		if (!l->on_disk && !l->in_doubt)
			continue;
		fprintf(f, "lease %s %s %u %llu %d %d %d", l->ls->name, l->ref.name, l->held.mode,
			(unsigned long long)l->held.lver, l->on_disk, l->in_doubt, l->nlocations);
		for (int i = 0; i < l->nlocations; i++) {
			fputc(' ', f);
			esc(f, l->location[i]);
		}
		for (struct holder *h = l->holders; h; h = h->next)
			fprintf(f, " %d:%u", (int)h->proc->pid, h->mode);
		fputc('\n', f);
	}
	bool ok = fflush(f) == 0 && !ferror(f);
	fclose(f);
	if (!ok || rename(tmp, final) < 0) {
		sm_error("cannot save daemon state to %s: %s", final, strerror(errno));
		unlink(tmp);
		return;
	}
	d->state_dirty = false;
}

void state_remove(struct daemon *d)
{
	char p[300];
	path_of(d, p, sizeof(p), "");
	unlink(p);
}

static int restore_lockspace(struct daemon *d, char **tok, int n)
{
	if (n < 7)
		return -SM_EPROTO;
	char loc[SM_LOCATION_MAX];
	unesc(tok[1], loc, sizeof(loc));
	uint32_t id = (uint32_t)strtoul(tok[2], NULL, 10);
	uint64_t gen = strtoull(tok[3], NULL, 10);
	uint8_t inst[16];
	for (int i = 0; i < 16; i++) {
		unsigned v = 0;
		if (sscanf(tok[4] + 2 * i, "%2x", &v) != 1)
			return -SM_EPROTO;
		inst[i] = (uint8_t)v;
	}
	uint64_t last = strtoull(tok[5], NULL, 10);
	bool failed = atoi(tok[6]) != 0;
	struct ls_entry *e;
	int rc = ls_resume(d, loc, id, gen, inst, last, failed, &e);
	if (rc < 0) {
		sm_error("cannot resume the lockspace at %s: %s", loc, sm_strerror(rc));
		return rc;
	}
	return 0;
}

static void restore_proc(struct daemon *d, char **tok, int n)
{
	if (n < 8)
		return;
	pid_t pid = (pid_t)atoi(tok[1]);
	uint64_t st = strtoull(tok[2], NULL, 10);
	if (proc_starttime(pid) != st) {
		sm_info("process %d of the previous daemon is gone", (int)pid);
		return;
	}
	char name[SM_NAME_FIELD];
	unesc(tok[4], name, sizeof(name));
	int err;
	struct proc *p = proc_register(d, pid, name, NULL, atoi(tok[3]) != 0, &err);
	if (!p)
		return;
	p->kill.signal = atoi(tok[5]);
	unesc(tok[6], p->kill.path, sizeof(p->kill.path));
	p->kill.nargs = SM_MIN(atoi(tok[7]), SM_MAX_KILL_ARGS);
	for (int i = 0; i < p->kill.nargs && 8 + i < n; i++)
		unesc(tok[8 + i], p->kill.args[i], sizeof(p->kill.args[i]));
	sm_info("re-attached to process %d (%s)", (int)pid, name);
}

static void restore_lease(struct daemon *d, char **tok, int n, struct job *verify)
{
	if (n < 8)
		return;
	struct ls_entry *e = ls_find(d, tok[1]);
	if (!e)
		return;
	struct lease *l = lease_new(d, e, tok[2]);
	if (!l)
		return;
	l->held.mode = (uint32_t)atoi(tok[3]);
	l->held.lver = strtoull(tok[4], NULL, 10);
	l->on_disk = atoi(tok[5]) != 0;
	l->in_doubt = atoi(tok[6]) != 0;
	l->nlocations = SM_MIN(atoi(tok[7]), 3);
	int i = 8;
	for (int k = 0; k < l->nlocations && i < n; k++, i++)
		unesc(tok[i], l->location[k], SM_LOCATION_MAX);
	for (; i < n; i++) {
		int pid = 0;
		unsigned mode = 0;
		if (sscanf(tok[i], "%d:%u", &pid, &mode) != 2)
			continue;
		struct proc *p = proc_find(d, (pid_t)pid);
		if (p)
			lease_add_holder(l, p, mode);
	}
	if (l->holders && l->on_disk && verify && e->state != LS_FAILED) {
		struct job_res *r = &verify->res[verify->nres++];
		r->ls = e;
		e->refs++;
		snprintf(r->name, sizeof(r->name), "%s", l->ref.name);
		r->nlocations = l->nlocations;
		memcpy(r->location, l->location, sizeof(r->location));
		r->held = l->held;
		r->lease = l;
		l->jobs++;
	}
}

int state_restore(struct daemon *d)
{
	char path[300];
	path_of(d, path, sizeof(path), "");
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	char line[8192];
	if (!fgets(line, sizeof(line), f) || strncmp(line, STATE_MAGIC, strlen(STATE_MAGIC)) != 0) {
		fclose(f);
		sm_error("%s is not a sync_managerd state file; ignoring it", path);
		return -SM_EPROTO;
	}
	sm_warn("resuming the previous daemon's lockspaces, processes and leases from %s", path);
	int nleases = 0;
	while (fgets(line, sizeof(line), f))
		nleases += strncmp(line, "lease ", 6) == 0;
	struct job *verify = job_new(JOB_VERIFY, nleases);
	if (verify)
		verify->nres = 0;
	/* Three passes so references resolve: lockspaces, processes, leases. */
	for (int pass = 0; pass < 3; pass++) {
		rewind(f);
		if (!fgets(line, sizeof(line), f))
			break;
		while (fgets(line, sizeof(line), f)) {
			char *tok[64];
			int n = 0;
			char *save = NULL;
			for (char *t = strtok_r(line, " \n", &save); t && n < 64; t = strtok_r(NULL, " \n", &save))
				tok[n++] = t;
			if (n == 0)
				continue;
			if (pass == 0 && !strcmp(tok[0], "lockspace"))
				restore_lockspace(d, tok, n);
			else if (pass == 1 && !strcmp(tok[0], "proc"))
				restore_proc(d, tok, n);
			else if (pass == 2 && !strcmp(tok[0], "lease"))
				restore_lease(d, tok, n, verify);
		}
	}
	fclose(f);
	/* Expired lockspaces: their holders go now. */
	for (struct ls_entry *e = d->lockspaces; e; e = e->next)
		if (e->state == LS_FAILED)
			fence_lockspace(d, e, "its leases expired while no daemon was running");
	/* Leases whose processes are gone: release them once resumed. */
	for (struct lease *l = d->leases; l; l = l->next)
		if (!l->holders && l->on_disk)
			l->retry_at_mono = mono_ms() + 1000;
	if (verify && verify->nres)
		leaseops_schedule(d, verify);
	else
		job_free(verify);
	d->state_dirty = true;
	return 0;
}
