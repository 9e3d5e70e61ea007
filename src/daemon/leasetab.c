/* The local lease table (contract in leasetab.h): records hashed by
 * (lockspace, name), their holders, and the counts that go with them. */
#include "leasetab.h"

#include "lockspaces.h"
#include "procs.h"
#include "state.h"

#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct lease **lease_bucket(struct daemon *d, const struct ls_entry *ls, const char *name)
{
	uint64_t h = sm_fnv1a(SM_FNV1A_INIT ^ (uint64_t)(uintptr_t)ls, name, strlen(name));
	return &d->lt.hash[h % LEASE_HASH_BUCKETS];
}

struct lease *lease_find(struct daemon *d, struct ls_entry *ls, const char *name)
{
	for (struct lease *l = *lease_bucket(d, ls, name); l; l = l->hnext)
		if (l->ls == ls && strcmp(l->ref.name, name) == 0)
			return l;
	return NULL;
}

struct lease *lease_new(struct daemon *d, struct ls_entry *ls, const char *name)
{
	struct lease *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->ls = ls;
	ls_get(ls);
	snprintf(l->ref.name, sizeof(l->ref.name), "%s", name);
	l->next = d->lt.head;
	if (d->lt.head)
		d->lt.head->prev = l;
	d->lt.head = l;
	struct lease **b = lease_bucket(d, ls, l->ref.name);
	l->hnext = *b;
	*b = l;
	return l;
}

static void unlink_from_proc(struct holder *h)
{
	if (h->pprev)
		h->pprev->pnext = h->pnext;
	else
		h->proc->holds = h->pnext;
	if (h->pnext)
		h->pnext->pprev = h->pprev;
	h->pnext = h->pprev = NULL;
}

void lease_drop(struct daemon *d, struct lease *l)
{
	state_forget_lease(d, l);
	if (l->prev)
		l->prev->next = l->next;
	else
		d->lt.head = l->next;
	if (l->next)
		l->next->prev = l->prev;
	for (struct lease **pp = lease_bucket(d, l->ls, l->ref.name); *pp; pp = &(*pp)->hnext)
		if (*pp == l) {
			*pp = l->hnext;
			break;
		}
	while (l->holders) {
		struct holder *h = l->holders;
		l->holders = h->next;
		unlink_from_proc(h);
		h->proc->nleases--;
		d->lt.nheld--;
		free(h);
	}
	ls_put(l->ls);
	free(l);
}

void lease_drop_all(struct daemon *d)
{
	while (d->lt.head)
		lease_drop(d, d->lt.head);
}

struct holder *lease_holder(struct lease *l, struct proc *p)
{
	for (struct holder *h = l->holders; h; h = h->next)
		if (h->proc == p)
			return h;
	return NULL;
}

int lease_add_holder(struct lease *l, struct proc *p, uint32_t mode)
{
	struct holder *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->proc = p;
	h->mode = mode;
	h->lease = l;
	h->next = l->holders;
	l->holders = h;
	h->pnext = p->holds;
	if (p->holds)
		p->holds->pprev = h;
	p->holds = h;
	p->nleases++;
	l->ls->d->lt.nheld++;
	state_touch_lease(l->ls->d, l);
	return 0;
}

void lease_remove_holder(struct daemon *d, struct lease *l, struct proc *p, bool *was_last)
{
	for (struct holder **hh = &l->holders; *hh; hh = &(*hh)->next)
		if ((*hh)->proc == p) {
			struct holder *h = *hh;
			*hh = h->next;
			unlink_from_proc(h);
			free(h);
			p->nleases--;
			d->lt.nheld--;
			break;
		}
	*was_last = l->holders == NULL;
	state_touch_lease(d, l);
}

void lease_job_get(struct lease *l)
{
	l->jobs++;
}

void lease_job_put(struct lease *l)
{
	l->jobs--;
}
