/* libvirt's lock-driver plugin ABI, written from its documented facts
 * (DESIGN §5, docs/libvirt-lock-driver.md in the shared folder).  libvirt
 * does not install this header; the layout below is the x86_64 ABI of
 * libvirt 1.0 .. 9.x: a 72-byte driver table and 32-byte parameters. */
#ifndef SM_LIBVIRT_LOCK_DRIVER_H
#define SM_LIBVIRT_LOCK_DRIVER_H

#include <stddef.h>

typedef struct {
	void *driver;       /* the virLockDriver table */
	void *privateData;  /* ours: set in drvNew, freed in drvFree */
} virLockManager;

enum {
	VIR_LOCK_MANAGER_PARAM_TYPE_STRING = 0,
	VIR_LOCK_MANAGER_PARAM_TYPE_CSTRING = 1,
	VIR_LOCK_MANAGER_PARAM_TYPE_INT = 2,
	VIR_LOCK_MANAGER_PARAM_TYPE_LONG = 3,
	VIR_LOCK_MANAGER_PARAM_TYPE_UINT = 4,
	VIR_LOCK_MANAGER_PARAM_TYPE_ULONG = 5,
	VIR_LOCK_MANAGER_PARAM_TYPE_DOUBLE = 6,
	VIR_LOCK_MANAGER_PARAM_TYPE_UUID = 7,
};

typedef struct {
	int type;
	const char *key;
	union {
		int iv;
		long long l;
		unsigned int ui;
		unsigned long long ul;
		double d;
		char *str;
		const char *cstr;
		unsigned char uuid[16];
	} value;
} virLockManagerParam;

enum { VIR_LOCK_MANAGER_USES_STATE = 1 << 0 };
enum { VIR_LOCK_MANAGER_OBJECT_TYPE_DOMAIN = 0 };
enum { VIR_LOCK_MANAGER_NEW_STARTED = 1 << 0 };
enum { VIR_LOCK_MANAGER_RESOURCE_TYPE_DISK = 0, VIR_LOCK_MANAGER_RESOURCE_TYPE_LEASE = 1 };
enum { VIR_LOCK_MANAGER_RESOURCE_READONLY = 1 << 0, VIR_LOCK_MANAGER_RESOURCE_SHARED = 1 << 1 };
enum { VIR_LOCK_MANAGER_ACQUIRE_REGISTER_ONLY = 1 << 0, VIR_LOCK_MANAGER_ACQUIRE_RESTRICT = 1 << 1 };
enum {
	VIR_DOMAIN_LOCK_FAILURE_DEFAULT = 0,
	VIR_DOMAIN_LOCK_FAILURE_POWEROFF = 1,
	VIR_DOMAIN_LOCK_FAILURE_RESTART = 2,
	VIR_DOMAIN_LOCK_FAILURE_PAUSE = 3,
	VIR_DOMAIN_LOCK_FAILURE_IGNORE = 4,
};

typedef struct {
	unsigned int version;
	unsigned int flags;
	int (*drvInit)(unsigned int version, const char *configFile, unsigned int flags);
	int (*drvDeinit)(void);
	int (*drvNew)(virLockManager *man, unsigned int type, size_t nparams, virLockManagerParam *params,
		      unsigned int flags);
	void (*drvFree)(virLockManager *man);
	int (*drvAddResource)(virLockManager *man, unsigned int type, const char *name, size_t nparams,
			      virLockManagerParam *params, unsigned int flags);
	int (*drvAcquire)(virLockManager *man, const char *state, unsigned int flags, int failureAction, int *fd);
	int (*drvRelease)(virLockManager *man, char **state, unsigned int flags);
	int (*drvInquire)(virLockManager *man, char **state, unsigned int flags);
} virLockDriver;

_Static_assert(sizeof(virLockManagerParam) == 32, "virLockManagerParam ABI");
_Static_assert(sizeof(virLockDriver) == 72, "virLockDriver ABI");
_Static_assert(offsetof(virLockManagerParam, value) == 16, "virLockManagerParam value offset");

#endif
