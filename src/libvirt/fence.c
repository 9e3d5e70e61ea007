/* sync_manager-fence-libvirt: what sync_managerd runs when a guest's leases
 * can no longer be kept (<on_lockfailure> poweroff or pause).
 *
 *   sync_manager-fence-libvirt poweroff|pause URI UUID PID
 *
 * poweroff destroys the domain (QEMU exits; the daemon sees it), pause
 * suspends it (libvirt then releases its leases through the plugin, which
 * records their versions for the resume).  Exit 0 when done: a paused QEMU
 * that holds no lease is then no longer fenced, and `virsh resume` takes its
 * leases again at those versions.  Exit 1 on failure: the QEMU stays fenced
 * (and is SIGKILLed after the grace time if it still holds leases). */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

static void quiet(void *ud, virErrorPtr e)
{
	(void)ud;
	(void)e;
}

int main(int argc, char **argv)
{
	if (argc < 4 || (strcmp(argv[1], "poweroff") && strcmp(argv[1], "pause"))) {
		fprintf(stderr, "usage: %s poweroff|pause URI UUID [PID]\n", argv[0]);
		return 2;
	}
	const char *action = argv[1], *uri = argv[2], *uuid = argv[3], *pid = argc > 4 ? argv[4] : "?";
	openlog("sync_manager-fence-libvirt", LOG_PID, LOG_DAEMON);
	virSetErrorFunc(NULL, quiet);
	virConnectPtr conn = virConnectOpen(uri);
	if (!conn) {
		virErrorPtr e = virGetLastError();
		fprintf(stderr, "fence: cannot connect to %s: %s\n", uri, e && e->message ? e->message : "?");
		syslog(LOG_ERR, "cannot connect to %s to %s domain %s", uri, action, uuid);
		return 1;
	}
	virDomainPtr dom = virDomainLookupByUUIDString(conn, uuid);
	int rc = -1;
	if (dom) {
		rc = !strcmp(action, "pause") ? virDomainSuspend(dom) : virDomainDestroy(dom);
		virDomainFree(dom);
	}
	virErrorPtr e = rc < 0 ? virGetLastError() : NULL;
	fprintf(stderr, "fence: %s domain %s (pid %s): %s\n", action, uuid, pid,
		rc == 0 ? "done" : (e && e->message ? e->message : "no such domain"));
	syslog(rc == 0 ? LOG_WARNING : LOG_ERR, "%s domain %s (pid %s) whose leases were lost: %s", action, uuid, pid,
	       rc == 0 ? "done" : "failed");
	virConnectClose(conn);
	return rc == 0 ? 0 : 1;
}
