/* sync_managerd: running one disk job on a worker thread (jobexec.c).
 *
 * Runs off the loop thread: it reads only the job (and the thread-safe
 * calls of its lockspace's sm_lockspace), never the loop's structures, and
 * writes only the job's results (rc, message, res[].out, ...). */
#ifndef SM_DAEMON_JOBEXEC_H
#define SM_DAEMON_JOBEXEC_H

#include "jobs.h"

#define WORKER_MAX_VOLS 32

/* A worker's or receive thread's own volume handles (an sm_disk is
 * single-threaded). */
struct worker {
	struct daemon *d;
	struct {
		char location[SM_LOCATION_MAX];
		struct sm_volume *vol;
	} vols[WORKER_MAX_VOLS];
	int nvols;
};

/* Do j's disk work; its results go into j. */
void job_execute(struct worker *w, struct job *j);
/* Close w's volume handles (its thread is ending). */
void worker_close_volumes(struct worker *w);

#endif
