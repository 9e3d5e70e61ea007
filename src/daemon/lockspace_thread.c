/* The renewal threads of the lockspaces module, one per lockspace.
 *
 * The renewal thread owns the sm_lockspace's disk I/O: it reads the volume
 * header (a join), opens or resumes the membership, then renews every R
 * (retrying sooner after a failure), raises attention marks on request, and
 * leaves when asked; it sleeps on a condition variable between renewals
 * (woken at once to stop) and wakes the loop after each one.  It shares with
 * the loop only e->thr (struct ls_thread_shared, lockspaces.h, which states
 * who writes and who reads each field) and the fields the loop set before
 * starting it.  Nothing here touches another daemon structure. */
#include "lockspaces_int.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "ondisk/volume.h"
#include "sync_manager/errors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void on_progress(void *arg, const char *what, uint64_t remaining_ms)
{
	struct ls_entry *e = arg;
	pthread_mutex_lock(&e->thr.progress_mu);
	snprintf(e->thr.progress, sizeof(e->thr.progress), "%s", what);
	e->thr.progress_deadline_ms = mono_ms() + remaining_ms;
	pthread_mutex_unlock(&e->thr.progress_mu);
}

/* Loop: wake e's renewal thread now (it was asked to stop, or its open got
 * its verdict).  The caller has stored stop or go before. */
void ls_thread_wake(struct ls_entry *e)
{
	pthread_mutex_lock(&e->thr.wake_mu);
	pthread_cond_signal(&e->thr.wake_cv);
	pthread_mutex_unlock(&e->thr.wake_mu);
}

/* Thread: wait on wake_cv (wake_mu held) for at most ms milliseconds. */
static void wait_ms(struct ls_entry *e, uint64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t ns = (uint64_t)ts.tv_nsec + ms % 1000 * 1000000u;
	ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000u);
	ts.tv_nsec = (long)(ns % 1000000000u);
	pthread_cond_timedwait(&e->thr.wake_cv, &e->thr.wake_mu, &ts);
	atomic_fetch_add(&e->thr.wakeups, 1);
}

/* Thread: sleep until when (sm_now_mono_ms), or until asked to stop: one
 * wait to the deadline, cut short by ls_thread_wake(). */
static void sleep_until(struct ls_entry *e, uint64_t when)
{
	pthread_mutex_lock(&e->thr.wake_mu);
	for (;;) {
		uint64_t now = sm_now_mono_ms();
		if (atomic_load(&e->thr.stop) != LS_RUN || now >= when)
			break;
		wait_ms(e, when - now);
	}
	pthread_mutex_unlock(&e->thr.wake_mu);
}

/* Thread: a renewal due at due started at start (sm_now_mono_ms). */
static void record_start_delay(struct ls_entry *e, uint64_t due, uint64_t start)
{
	pthread_mutex_lock(&e->thr.wake_mu);
	e->thr.start_delay_ms[e->thr.next_delay] = (uint32_t)SM_MIN(start > due ? start - due : 0, (uint64_t)UINT32_MAX);
	e->thr.next_delay = (e->thr.next_delay + 1) % SM_RENEWAL_HISTORY;
	if (e->thr.ndelays < SM_RENEWAL_HISTORY)
		e->thr.ndelays++;
	pthread_mutex_unlock(&e->thr.wake_mu);
}

/* Have the event loop look at us now rather than at its next tick (a
 * waiting join or leave gets its reply at once). */
static void wake_loop(struct ls_entry *e)
{
	uint64_t one = 1;
	if (write(e->d->job_event_fd, &one, sizeof(one)) < 0)
		sm_debug("cannot wake the event loop: %s", strerror(errno));
}

/* Read the volume header for the loop (which takes it as e->ls once
 * thr.open_done is set), then wait for its verdict.  0: join e->ls. */
static int open_volume(struct ls_entry *e)
{
	on_progress(e, "reading the volume header", SM_DEFAULT_IO_TIMEOUT_MS);
	struct sm_lockspace *ls = NULL;
	int rc = sm_lockspace_open_spec(e->location, &ls);
	e->thr.t_ls = ls;
	atomic_store(&e->thr.open_rc, rc);
	atomic_store(&e->thr.open_done, true);
	wake_loop(e);
	if (rc < 0)
		return rc;
	int go;
	pthread_mutex_lock(&e->thr.wake_mu);
	while ((go = atomic_load(&e->thr.go)) == 0 && atomic_load(&e->thr.stop) == LS_RUN)
		wait_ms(e, 1000); /* opened() or ls_thread_stop() wakes us */
	pthread_mutex_unlock(&e->thr.wake_mu);
	return go > 0 ? 0 : go < 0 ? go : -SM_EINTERRUPTED;
}

/* Wait a random 0 .. R before a join the daemon starts by itself. */
static void pace_join(struct ls_entry *e)
{
	struct sm_lockspace_info info;
	sm_lockspace_info(e->ls, &info);
	uint8_t r[16];
	uint64_t ms = sm_uuid_generate(r) == 0 ? ((uint64_t)r[0] << 16 | r[1] << 8 | r[2]) % (info.to.renew_ms + 1) : 0;
	sm_info("lockspace %s: joining in %llu ms (start-up pacing: a random 0 .. R = %u ms)", info.name,
		(unsigned long long)ms, info.to.renew_ms);
	on_progress(e, "start-up pacing: waiting a random time below R before the join", ms);
	sleep_until(e, sm_now_mono_ms() + ms);
}

static void *ls_thread(void *arg)
{
	struct ls_entry *e = arg;
	int rc = e->needs_open ? open_volume(e) : 0;
	if (rc == 0 && !e->resume && e->paced)
		pace_join(e);
	if (rc == 0 && e->resume)
		rc = sm_lockspace_resume(e->ls, e->resume_host_id, e->resume_generation, e->resume_instance,
					 e->resume_last_renewal_boot);
	else if (rc == 0) {
		struct sm_join_opts o = {.host_id = e->want_host_id,
					 .host_name = e->want_host_name[0] ? e->want_host_name : NULL,
					 .progress = on_progress,
					 .progress_arg = e,
					 .cancel = &e->thr.join_cancel};
		rc = sm_lockspace_join(e->ls, &o);
	}
	atomic_store(&e->thr.join_rc, rc);
	atomic_store(&e->thr.join_done, true);
	wake_loop(e);
	if (rc < 0) {
		atomic_store(&e->thr.exited, true);
		wake_loop(e);
		return NULL;
	}
	/* The join's claim counts as the first renewal: the next is R after it. */
	struct sm_lockspace_info info;
	sm_lockspace_info(e->ls, &info);
	uint64_t next = (info.last_renewal_mono_ms ? info.last_renewal_mono_ms : sm_now_mono_ms()) + e->to.renew_ms;
	uint64_t checked = 0; /* latest extra read done for a death check */
	while (atomic_load(&e->thr.stop) == LS_RUN) {
		/* A failing host becomes provably dead H after we first saw its
		 * last record: read then, not at our next renewal (up to R later). */
		uint64_t check = sm_lockspace_next_death_check(e->ls);
		if (check < next && check > checked) {
			sleep_until(e, check);
			if (atomic_load(&e->thr.stop) != LS_RUN)
				break;
			checked = sm_now_mono_ms();
			if (checked < next) {
				sm_lockspace_observe(e->ls);
				wake_loop(e); /* the loop looks at what the read saw */
				continue;
			}
		}
		uint64_t due = SM_MAX(next, sm_now_mono_ms());
		sleep_until(e, next);
		if (atomic_load(&e->thr.stop) != LS_RUN)
			break;
		uint32_t attn = atomic_exchange(&e->thr.attention_to, 0);
		uint64_t start = sm_now_mono_ms();
		record_start_delay(e, due, start);
		rc = attn ? sm_lockspace_attention(e->ls, attn) : sm_lockspace_renew(e->ls);
		/* The loop counts and persists each renewal, and fences at once
		 * when our record was lost (it has no periodic tick for that). */
		wake_loop(e);
		if (sm_error_class(rc) == SM_ERRCLASS_LOST)
			break;
		uint32_t ids[8];
		sm_lockspace_take_attention(e->ls, ids, 8); /* drained: nothing acts on it yet */
		/* After a failure try again soon: every attempt before F counts. */
		next = rc == 0 ? start + e->to.renew_ms : sm_now_mono_ms() + SM_MIN(1000u, e->to.renew_ms / 2);
	}
	if (atomic_load(&e->thr.stop) == LS_STOP_LEAVE) {
		rc = sm_lockspace_leave(e->ls);
		atomic_store(&e->thr.leave_rc, rc);
		if (rc < 0)
			sm_warn("lockspace %s: leaving failed: %s (others will see it dead after H)", e->name,
				sm_strerror(rc));
	}
	atomic_store(&e->thr.exited, true);
	wake_loop(e);
	return NULL;
}

/* Loop: ask e's renewal thread to stop (its join too, if it still waits). */
void ls_thread_stop(struct ls_entry *e, enum ls_stop how)
{
	atomic_store(&e->thr.stop, how);
	__atomic_store_n(&e->thr.join_cancel, 1, __ATOMIC_RELAXED);
	ls_thread_wake(e);
}

int ls_thread_start(struct ls_entry *e)
{
	atomic_store(&e->thr.join_done, false);
	atomic_store(&e->thr.exited, false);
	atomic_store(&e->thr.stop, LS_RUN);
	__atomic_store_n(&e->thr.join_cancel, 0, __ATOMIC_RELAXED);
	if (pthread_create(&e->thread, NULL, ls_thread, e) != 0)
		return -EAGAIN;
	e->thread_running = true;
	return 0;
}
