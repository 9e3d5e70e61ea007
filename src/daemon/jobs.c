/* The worker pool: runs disk jobs off the loop thread.  See jobs.h. */
#include "jobs.h"

#include "jobexec.h"
#include "leasetab.h"
#include "lockspaces.h"
#include "names.h"

#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct job *job_new(enum job_kind kind, int nres)
{
	struct job *j = calloc(1, sizeof(*j) + (size_t)nres * sizeof(struct job_res));
	if (j) {
		j->kind = kind;
		j->nres = nres;
		j->submitted_mono = mono_ms();
	}
	return j;
}

void job_res_set_ls(struct job_res *r, struct ls_entry *e)
{
	r->ls = e;
	ls_get(e);
}

void job_res_bind_lease(struct job_res *r, struct lease *l)
{
	r->lease = l;
	lease_job_get(l);
}

struct lease *job_res_unbind_lease(struct job_res *r)
{
	struct lease *l = r->lease;
	if (l) {
		r->lease = NULL;
		lease_job_put(l);
	}
	return l;
}

void job_free(struct job *j)
{
	if (!j)
		return;
	for (int i = 0; i < j->nres; i++)
		if (j->res[i].ls)
			ls_put(j->res[i].ls);
	free(j);
}

/* ---- worker side ----------------------------------------------------------- */

/* Hand a finished job to the loop (jq_mu not held). */
static void job_done(struct daemon *d, struct job *j)
{
	pthread_mutex_lock(&d->jq_mu);
	j->next = NULL;
	if (d->done_tail)
		d->done_tail->next = j;
	else
		d->done_head = j;
	d->done_tail = j;
	pthread_mutex_unlock(&d->jq_mu);
	uint64_t one = 1;
	if (write(d->job_event_fd, &one, sizeof(one)) < 0)
		sm_warn("cannot signal job completion: %s", strerror(errno));
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct daemon *d = w->d;
	for (;;) {
		pthread_mutex_lock(&d->jq_mu);
		while (!d->jq_head && !d->workers_stop)
			pthread_cond_wait(&d->jq_cv, &d->jq_mu);
		if (!d->jq_head) {
			pthread_mutex_unlock(&d->jq_mu);
			break;
		}
		struct job *j = d->jq_head;
		d->jq_head = j->next;
		if (!d->jq_head)
			d->jq_tail = NULL;
		pthread_mutex_unlock(&d->jq_mu);
		job_execute(w, j);
		job_done(d, j);
	}
	worker_close_volumes(w);
	free(w);
	return NULL;
}

/* A receive waits for another host for up to its --wait (60 s by default,
 * any length asked): on a shared worker, a few of them would hold every
 * worker and stall unrelated acquires and releases that long.  So each runs
 * on a detached thread of its own, with its own volume handles (a worker's
 * are single-threaded), and is counted in d->receivers (jq_mu) so that
 * jobs_stop() waits for it as it waits for the workers. */
struct receiver {
	struct worker w;
	struct job *j;
};

static void *receiver_main(void *arg)
{
	struct receiver *rv = arg;
	struct daemon *d = rv->w.d;
	job_execute(&rv->w, rv->j);
	job_done(d, rv->j);
	worker_close_volumes(&rv->w);
	free(rv);
	pthread_mutex_lock(&d->jq_mu);
	d->receivers--;
	pthread_cond_broadcast(&d->jq_cv);
	pthread_mutex_unlock(&d->jq_mu);
	return NULL;
}

/* Start j on a receiver thread: false when none could be started (the job
 * then waits for a shared worker, as before). */
static bool start_receiver(struct daemon *d, struct job *j)
{
	struct receiver *rv = calloc(1, sizeof(*rv));
	if (!rv)
		return false;
	rv->w.d = d;
	rv->j = j;
	pthread_attr_t attr;
	pthread_t t;
	bool started = pthread_attr_init(&attr) == 0;
	if (started) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_mutex_lock(&d->jq_mu);
		d->receivers++;
		started = pthread_create(&t, &attr, receiver_main, rv) == 0;
		if (!started)
			d->receivers--;
		pthread_mutex_unlock(&d->jq_mu);
		pthread_attr_destroy(&attr);
	}
	if (!started) {
		sm_warn("cannot start a thread for a receive: it waits for a shared worker");
		free(rv);
	}
	return started;
}

int jobs_start(struct daemon *d)
{
	d->job_event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->job_event_fd < 0)
		return -errno;
	d->nworkers = (int)d->cfg.workers;
	d->workers = calloc((size_t)d->nworkers, sizeof(pthread_t));
	if (!d->workers)
		return -ENOMEM;
	for (int i = 0; i < d->nworkers; i++) {
		struct worker *w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		w->d = d;
		if (pthread_create(&d->workers[i], NULL, worker_main, w) != 0) {
			free(w);
			return -EAGAIN;
		}
	}
	return 0;
}

void jobs_submit(struct daemon *d, struct job *j)
{
	if (j->kind == JOB_RECEIVE && start_receiver(d, j))
		return;
	pthread_mutex_lock(&d->jq_mu);
	j->next = NULL;
	if (d->jq_tail)
		d->jq_tail->next = j;
	else
		d->jq_head = j;
	d->jq_tail = j;
	pthread_mutex_unlock(&d->jq_mu);
	/* Signalled after unlocking: the woken worker does not block at once on
	 * the mutex we still hold.  A worker that sees the queue empty waits
	 * under jq_mu, so it cannot miss this job. */
	pthread_cond_signal(&d->jq_cv);
}

void jobs_on_event(struct daemon *d)
{
	uint64_t n;
	if (read(d->job_event_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	for (;;) {
		pthread_mutex_lock(&d->jq_mu);
		struct job *j = d->done_head;
		if (j) {
			d->done_head = j->next;
			if (!d->done_head)
				d->done_tail = NULL;
		}
		pthread_mutex_unlock(&d->jq_mu);
		if (!j)
			break;
		d->on.job_done(d, j);
	}
}

void jobs_stop(struct daemon *d)
{
	pthread_mutex_lock(&d->jq_mu);
	d->workers_stop = true;
	pthread_cond_broadcast(&d->jq_cv);
	while (d->receivers > 0) /* each ends within its wait */
		pthread_cond_wait(&d->jq_cv, &d->jq_mu);
	pthread_mutex_unlock(&d->jq_mu);
	for (int i = 0; i < d->nworkers; i++)
		pthread_join(d->workers[i], NULL);
	names_free_all();
	jobs_on_event(d); /* apply what finished */
}
