/* The names of known lockspaces (lockspaces module, loop side): a bare
 * lockspace name in a join resolves to the volume of a lockspace joined now,
 * joined before, or listed in `join` of the configuration.  Configured
 * volumes are identified by reading their headers in a probe thread
 * (probe_thread: it fills its struct name_probe and sets done; the loop
 * reads it only after that, in ls_probe_tick). */
#include "lockspaces_int.h"

#include "common/log.h"
#include "common/util.h"
#include "ondisk/volume.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One probe of the configured volumes: filled by its thread, read by the
 * loop once done is set. */
struct name_probe {
	pthread_t thread;
	atomic_bool done;
	int wake_fd;                 /* the loop's job_event_fd */
	size_t n;
	struct {
		char location[256];
		char name[SM_NAME_FIELD];
		int rc;
	} v[16];
};

/* A bare lockspace name (no '/'): the volume of a lockspace this daemon
 * knows — joined now, joined before (and left), or listed in `join` of the
 * configuration.  Configured volumes are identified by reading their
 * headers, in a probe thread (ls_probe_names). */
void ls_remember_name(struct daemon *d, const char *name, const char *location)
{
	int i = 0;
	while (i < d->nknown_ls && strcmp(d->known_ls[i].name, name) != 0)
		i++;
	if (i == d->nknown_ls) {
		if (d->nknown_ls == d->known_ls_cap) {
			int cap = d->known_ls_cap ? 2 * d->known_ls_cap : 32;
			struct known_ls *k = realloc(d->known_ls, (size_t)cap * sizeof(*k));
			if (!k) {
				sm_warn("out of memory: lockspace %s can be joined by its volume only, not by name", name);
				return;
			}
			d->known_ls = k;
			d->known_ls_cap = cap;
		}
		d->nknown_ls++;
	}
	snprintf(d->known_ls[i].name, sizeof(d->known_ls[i].name), "%s", name);
	snprintf(d->known_ls[i].location, sizeof(d->known_ls[i].location), "%s", location);
}

void ls_remember_lockspace(struct daemon *d, const struct ls_entry *e)
{
	ls_remember_name(d, e->name, e->location);
}

int ls_resolve_name(struct daemon *d, const char *name, char *location, size_t n)
{
	for (struct ls_entry *e = d->lockspaces; e; e = e->next)
		if (e->name[0] && strcmp(e->name, name) == 0) {
			snprintf(location, n, "%s", e->location);
			return 0;
		}
	for (int i = 0; i < d->nknown_ls; i++)
		if (strcmp(d->known_ls[i].name, name) == 0) {
			snprintf(location, n, "%s", d->known_ls[i].location);
			return 0;
		}
	return -SM_ENO_LOCKSPACE;
}

static void *probe_thread(void *arg)
{
	struct name_probe *p = arg;
	for (size_t i = 0; i < p->n; i++) {
		struct sm_volume *v = NULL;
		p->v[i].rc = sm_volume_open_spec(p->v[i].location, 0, &v);
		if (p->v[i].rc == 0)
			snprintf(p->v[i].name, sizeof(p->v[i].name), "%.*s", SM_NAME_FIELD - 1, v->hdr.lockspace);
		sm_volume_close(v);
	}
	atomic_store(&p->done, true);
	uint64_t one = 1;
	if (write(p->wake_fd, &one, sizeof(one)) < 0)
		sm_debug("cannot wake the event loop: %s", strerror(errno));
	return NULL;
}

int ls_probe_names(struct daemon *d)
{
	if (d->probe)
		return 1;
	if (!d->cfg.join.count)
		return 0;
	struct name_probe *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->wake_fd = d->job_event_fd;
	for (size_t i = 0; i < d->cfg.join.count && p->n < SM_ARRAY_SIZE(p->v); i++)
		snprintf(p->v[p->n++].location, sizeof(p->v[0].location), "%s", d->cfg.join.items[i]);
	if (pthread_create(&p->thread, NULL, probe_thread, p) != 0) {
		free(p);
		return -EAGAIN;
	}
	d->probe = p;
	return 1;
}

/* A finished probe: learn the names it read, answer the joins waiting. */
void ls_probe_tick(struct daemon *d)
{
	struct name_probe *p = d->probe;
	if (!p || !atomic_load(&p->done))
		return;
	pthread_join(p->thread, NULL);
	d->probe = NULL;
	char unreadable[600] = "";
	size_t len = 0;
	for (size_t i = 0; i < p->n; i++) {
		if (p->v[i].rc == 0) {
			ls_remember_name(d, p->v[i].name, p->v[i].location);
			continue;
		}
		sm_warn("cannot read the header of configured volume %s: %s", p->v[i].location,
			sm_strerror(p->v[i].rc));
		if (len < sizeof(unreadable))
			len += (size_t)snprintf(unreadable + len, sizeof(unreadable) - len, "%s%s: %s", len ? "; " : "",
						p->v[i].location, sm_strerror(p->v[i].rc));
	}
	free(p);
	d->on.names_probed(d, unreadable);
}
