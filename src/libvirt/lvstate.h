/* Lease state strings that travel through libvirt (domain status and the
 * migration cookie's <lockstate driver='sync_manager'><leases>STATE</leases>).
 *
 * libvirt embeds them in XML without escaping, so they are one line of
 * characters that need no escaping:  sync_manager/1;LS:NAME:MODE:LVER;...
 * Names are percent-encoded except for [A-Za-z0-9._-].  Decoding rejects
 * anything else: another driver's state, another version, damage. */
#ifndef SM_LIBVIRT_LVSTATE_H
#define SM_LIBVIRT_LVSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LVSTATE_PREFIX "sync_manager/1;"
#define LVSTATE_MAX_LEASES 64

struct lvstate_lease {
	char lockspace[64];
	char name[64];
	uint32_t mode; /* 1 EX, 2 SH */
	uint64_t lver;
};

struct lvstate {
	int n;
	struct lvstate_lease l[LVSTATE_MAX_LEASES];
};

/* malloc'd string, or NULL on allocation failure. */
char *lvstate_encode(const struct lvstate *s);
/* 0, or -1 with a reason in err. */
int lvstate_decode(const char *text, struct lvstate *s, char *err, size_t errlen);
const struct lvstate_lease *lvstate_find(const struct lvstate *s, const char *lockspace, const char *name);

#endif
