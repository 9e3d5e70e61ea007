/* sync_managerd: resuming the previous daemon's lockspaces, processes and
 * leases from RUN_DIR/state at start (resume.c, docs/restart.md). */
#ifndef SM_DAEMON_RESUME_H
#define SM_DAEMON_RESUME_H

struct daemon;

/* Before anything else runs: -EPERM (logged) if RUN_DIR/state exists but
 * is not one this daemon may trust; the daemon must not start then. */
int resume_check_file(struct daemon *d);
/* Read the file back and rebuild what it lists; then write a fresh
 * snapshot.  -EPERM (logged, nothing resumed) if the file is not one to
 * trust. */
int resume_from_state_file(struct daemon *d);

#endif
