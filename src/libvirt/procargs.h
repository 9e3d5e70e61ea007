/* Reading another process's command line (/proc/PID/cmdline). */
#ifndef SM_LIBVIRT_PROCARGS_H
#define SM_LIBVIRT_PROCARGS_H

#include <sys/types.h>

/* Whether one whole argument of pid's command line equals arg (not a part
 * of an argument: "-incoming" is not found in "x-incoming" or in "a
 * -incoming b").  The whole command line is read, however long.  1 found,
 * 0 not found, or a negative errno when it cannot be read. */
int proc_has_arg(pid_t pid, const char *arg);

#endif
