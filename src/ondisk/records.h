/* On-disk records (docs/ondisk.md has the byte tables).
 *
 * Every record: little-endian, starts with a 4-byte magic and a 2-byte format
 * version, ends with a CRC-32C over all preceding bytes of the record, and
 * has a fixed encoded size checked by _Static_assert.  Records sit at the
 * start of a sector (dblock and mode block share their host's sector); the
 * rest of the sector is zero.
 *
 * Decoders check, in this order, and return a distinct error for each:
 * magic (SM_EBAD_MAGIC), version (SM_EBAD_VERSION), checksum
 * (SM_EBAD_CHECKSUM), and where the caller passes expectations, lockspace
 * name (SM_EWRONG_LOCKSPACE), resource name (SM_EWRONG_RESOURCE) and sector
 * size (SM_EWRONG_SECTOR_SIZE).  Pass NULL / 0 to skip an expectation.
 * A record that fails a check is never treated as free. */
#ifndef SM_ONDISK_RECORDS_H
#define SM_ONDISK_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SM_FORMAT_VERSION 1
/* The header of a volume set's member (every other record stays version 1). */
#define SM_SET_HEADER_VERSION 2
/* The header of a volume fenced by persistent reservations (so that a version
 * that cannot fence refuses it instead of joining without registering). */
#define SM_FENCE_HEADER_VERSION 3
/* The header of a volume whose leases use COMPARE AND WRITE (issue 14); it
 * may be fenced by reservation too.  Older versions refuse it instead of
 * running Disk Paxos beside hosts that compare and write. */
#define SM_CAW_HEADER_VERSION 4
#define SM_NAME_FIELD 64

/* Magics spell the record's tag in ASCII when dumped (little-endian). */
#define SM_MAGIC_HEADER 0x48564D53u /* "SMVH" */
#define SM_MAGIC_HOST 0x52484D53u   /* "SMHR" */
#define SM_MAGIC_LEADER 0x524C4D53u /* "SMLR" */
#define SM_MAGIC_REQUEST 0x51524D53u /* "SMRQ" */
#define SM_MAGIC_DBLOCK 0x42444D53u /* "SMDB" */
#define SM_MAGIC_MODE 0x424D4D53u   /* "SMMB" */
#define SM_MAGIC_INDEX 0x58494D53u  /* "SMIX" */
#define SM_MAGIC_FENCE 0x54464D53u  /* "SMFT" */
#define SM_MAGIC_SHARED 0x48534D53u /* "SMSH" */

/* Encoded sizes. */
#define SM_HEADER_SIZE 256
#define SM_HOST_SIZE 256
#define SM_LEADER_SIZE 256
#define SM_REQUEST_SIZE 256
#define SM_DBLOCK_SIZE 128
#define SM_MODE_SIZE 64
#define SM_INDEX_ENTRY_SIZE 128
/* The mode block lives in the host's dblock sector at this offset. */
#define SM_MODE_OFFSET 256

/* ---- volume header ------------------------------------------------------ */
struct sm_volume_header {
	uint32_t sector_size;
	uint32_t max_hosts;
	uint8_t uuid[16];
	char lockspace[SM_NAME_FIELD];
	uint32_t io_timeout_ms;       /* d */
	uint32_t watchdog_timeout_ms; /* W */
	uint64_t host_area_offset;    /* byte offsets from the volume start */
	uint64_t index_lease_offset;
	uint64_t index_offset;
	uint64_t areas_offset;
	uint32_t resource_count;      /* index entries == resource areas */
	uint32_t area_sectors;        /* sectors per resource area */
	uint64_t volume_size;         /* bytes covered by the format */
	uint64_t created_wall;        /* seconds since the epoch, display only */
	/* Volume sets (docs/algorithms.md §5): members formatted together share
	 * set_uuid; set_size is 0 for a lone volume (older formats have zeros
	 * here), else SM_SET_SIZE, and set_index is the member's place 0..2. */
	uint8_t set_uuid[16];
	uint32_t set_size;
	uint32_t set_index;
	/* Fencing (issue 13, docs/admin-guide.md "Fencing by reservation"):
	 * SM_FENCE_TIMING (0, every older format) or SM_FENCE_PR, then the
	 * number of fence devices and where their table lives (after the
	 * resource areas; 0 without fencing). */
	uint32_t fence_mode;
	uint32_t fence_count;
	uint64_t fence_table_offset;
	/* How resource and delta leases are written (issue 14): SM_LEASE_IO_PAXOS
	 * (0, every older format) or SM_LEASE_IO_CAW (header version 4). */
	uint32_t lease_io;
};
#define SM_SET_SIZE 3

enum sm_fence_mode { SM_FENCE_TIMING = 0, SM_FENCE_PR = 1 };
const char *sm_fence_mode_name(uint32_t mode);

enum sm_lease_io { SM_LEASE_IO_PAXOS = 0, SM_LEASE_IO_CAW = 1 };
/* "paxos", "caw", or "?" */
const char *sm_lease_io_name(uint32_t lease_io);

/* ---- shared holders of a lease on a COMPARE AND WRITE volume ------------- */
/* In the leader sector after the leader record (SM_SHARED_OFFSET), so that
 * one COMPARE AND WRITE changes the owner and the shared holders together:
 * magic/version/flags, the number of bits in use (max_hosts) at 8, a bitmap
 * from byte 12 (bit h-1 of byte (h-1)/8: host_id h holds the lease SH), CRC-32C
 * in the last 4 bytes.  The holders' generations are in their mode blocks. */
#define SM_SHARED_OFFSET 256
#define SM_SHARED_SIZE 256
#define SM_SHARED_BITMAP_OFFSET 12
#define SM_CAW_MAX_HOSTS ((SM_SHARED_SIZE - SM_SHARED_BITMAP_OFFSET - 4) * 8) /* 1920 */
struct sm_shared_set {
	uint32_t nbits;
	uint8_t bits[(SM_CAW_MAX_HOSTS + 7) / 8];
};
void sm_shared_set_encode(const struct sm_shared_set *s, uint8_t *buf);
int sm_shared_set_decode(const uint8_t *buf, struct sm_shared_set *s);
static inline bool sm_shared_test(const struct sm_shared_set *s, uint32_t host_id)
{
	return host_id >= 1 && host_id <= s->nbits && (s->bits[(host_id - 1) / 8] >> ((host_id - 1) % 8) & 1);
}
static inline void sm_shared_put(struct sm_shared_set *s, uint32_t host_id, bool on)
{
	if (host_id < 1 || host_id > s->nbits)
		return;
	uint8_t m = (uint8_t)(1u << ((host_id - 1) % 8));
	s->bits[(host_id - 1) / 8] = on ? (uint8_t)(s->bits[(host_id - 1) / 8] | m) : (uint8_t)(s->bits[(host_id - 1) / 8] & ~m);
}

/* ---- fence table: the devices a PR lockspace fences, by identity ---------- */
/* SM_FENCE_TABLE_SIZE bytes (whole sectors) after the resource areas:
 * magic/version/flags, count (u32) at 8, entries of SM_FENCE_ID_SIZE bytes
 * from byte 16 (each the LU's identity, e.g. "naa.6001405...", NUL-padded),
 * CRC-32C in the last 4 bytes.  Entry 0 is the lease LUN itself. */
#define SM_FENCE_TABLE_SIZE 4096
#define SM_FENCE_ID_SIZE 128
#define SM_FENCE_MAX_DEVICES 31
struct sm_fence_table {
	uint32_t count;
	char ids[SM_FENCE_MAX_DEVICES][SM_FENCE_ID_SIZE];
};
void sm_fence_table_encode(const struct sm_fence_table *t, uint8_t *buf);
int sm_fence_table_decode(const uint8_t *buf, struct sm_fence_table *t);

/* ---- delta lease (host record), one sector per host_id ------------------ */
enum sm_host_flags { SM_HOST_FREE = 0, SM_HOST_HELD = 1 };

struct sm_host_record {
	uint16_t flags;            /* SM_HOST_FREE / SM_HOST_HELD */
	uint32_t sector_size;
	uint32_t host_id;
	uint64_t generation;       /* grows on every join of this host_id */
	uint64_t timestamp;        /* writer's monotonic ms: change detection only */
	uint64_t sequence;         /* grows on every write by the holder */
	char lockspace[SM_NAME_FIELD];
	char host_name[SM_NAME_FIELD];
	uint8_t instance[16];      /* random per join: tells two claimants apart */
	uint32_t io_timeout_ms;
	/* "I wrote a request into a lease owned by attention_host_id": the
	 * owner notices the change of attention_seq in its normal reads of the
	 * host area, at no extra I/O. */
	uint32_t attention_host_id;
	uint64_t attention_seq;
	/* The writer's /etc/machine-id: the identity behind its host name.
	 * All zero: unknown (records written before it existed). */
	uint8_t machine_id[16];
};

/* ---- Disk Paxos leader record (sector 0 of a resource area) ------------- */
enum sm_lease_mode { SM_MODE_FREE = 0, SM_MODE_EX = 1, SM_MODE_SH = 2 };
/* Leader flags: the resource was removed from the index; its area must not
 * be acquired again until `resource add` initializes it anew. */
enum sm_leader_flags { SM_LEADER_REMOVED = 1 };

struct sm_leader {
	uint16_t flags;
	uint32_t sector_size;
	uint32_t max_hosts;
	char lockspace[SM_NAME_FIELD];
	char resource[SM_NAME_FIELD];
	uint64_t lver;             /* lease version; +1 per successful acquire */
	uint32_t owner_id;         /* 0 = free */
	uint32_t mode;             /* enum sm_lease_mode */
	uint64_t owner_generation;
	uint32_t write_id;         /* host that wrote this record */
	uint64_t write_generation;
	uint64_t timestamp;        /* writer's wall clock, display only */
	uint32_t area;             /* index of the area, for cross-checking */
	uint32_t io_timeout_ms;
};

/* ---- request record (sector 1 of a resource area) ----------------------- */
enum sm_request_kind {
	SM_REQ_NONE = 0,
	SM_REQ_RELEASE = 1, /* please release (requester wants it next) */
	SM_REQ_HANDOFF = 2, /* when you are done, make the requester the owner */
};

struct sm_request {
	uint16_t flags;
	uint32_t sector_size;
	uint32_t kind;
	uint32_t requester_id;
	uint64_t requester_generation;
	uint64_t lver;             /* the lease version the request is about */
	char resource[SM_NAME_FIELD];
	uint64_t timestamp;        /* display only */
	/* A waiting receiver of a hand-off rewrites its request with sequence
	 * + 1 at least every SM_HANDOFF_REFRESH_MS: the owner hands over only
	 * after seeing it change on its own clock (0 in older records). */
	uint64_t sequence;
};

/* ---- Disk Paxos block, one per host per resource ------------------------ */
struct sm_dblock {
	uint16_t flags;
	uint32_t host_id;          /* writer, cross-checked against position */
	uint64_t lver;             /* the paxos instance (lease version) */
	uint64_t mbal;
	uint64_t bal;
	/* inp: the value proposed at bal */
	uint32_t inp_owner_id;
	uint32_t inp_mode;
	uint64_t inp_owner_generation;
	uint64_t timestamp;        /* display only */
	/* prev: the leader of instance lver - 1 this host acted on when it began
	 * instance lver (owner 0 = free); prev_lver 0 = not recorded (older
	 * writers).  Lets others restore that announcement if an older leader
	 * write lands over it before instance lver has a value. */
	uint64_t prev_lver;
	uint32_t prev_owner_id;
	uint32_t prev_mode;
	uint64_t prev_owner_generation;
};

/* ---- shared-mode block, in the host's dblock sector --------------------- */
/* SHARED: this host holds the lease SH (taken at lver).  RELEASED: this host
 * released the EX lease it held at lver; written before the free leader, so a
 * late-landing old leader cannot make a released lease look held again. */
enum sm_mode_flags { SM_MODEB_SHARED = 1, SM_MODEB_RELEASED = 2 };

struct sm_mode_block {
	uint16_t flags;            /* SM_MODEB_SHARED or SM_MODEB_RELEASED */
	uint64_t generation;       /* holder's host generation */
	uint64_t lver;             /* lease version when SH was taken / that was released */
};

/* ---- resource index entry ------------------------------------------------ */
enum sm_index_flags { SM_INDEX_FREE = 0, SM_INDEX_USED = 1 };

struct sm_index_entry {
	uint16_t flags;
	uint32_t area;
	char name[SM_NAME_FIELD];
	uint64_t created_wall;
	uint32_t created_by;       /* host_id that added it (0 = at format time) */
};

_Static_assert(SM_DBLOCK_SIZE + SM_MODE_SIZE <= 512, "dblock and mode block must fit one sector");
_Static_assert(SM_MODE_OFFSET >= SM_DBLOCK_SIZE && SM_MODE_OFFSET + SM_MODE_SIZE <= 512, "mode block placement");
_Static_assert(512 % SM_INDEX_ENTRY_SIZE == 0, "index entries tile a sector");

/* Encoders fill exactly *_SIZE bytes (zero the rest of the sector yourself). */
void sm_header_encode(const struct sm_volume_header *h, uint8_t *buf);
int sm_header_decode(const uint8_t *buf, struct sm_volume_header *h);

void sm_host_encode(const struct sm_host_record *r, uint8_t *buf);
int sm_host_decode(const uint8_t *buf, struct sm_host_record *r, const char *lockspace, uint32_t sector_size);

void sm_leader_encode(const struct sm_leader *l, uint8_t *buf);
int sm_leader_decode(const uint8_t *buf, struct sm_leader *l, const char *lockspace, const char *resource,
		     uint32_t sector_size);

void sm_request_encode(const struct sm_request *r, uint8_t *buf);
int sm_request_decode(const uint8_t *buf, struct sm_request *r, const char *resource, uint32_t sector_size);

void sm_dblock_encode(const struct sm_dblock *d, uint8_t *buf);
int sm_dblock_decode(const uint8_t *buf, struct sm_dblock *d);

void sm_mode_encode(const struct sm_mode_block *m, uint8_t *buf);
int sm_mode_decode(const uint8_t *buf, struct sm_mode_block *m);

void sm_index_encode(const struct sm_index_entry *e, uint8_t *buf);
int sm_index_decode(const uint8_t *buf, struct sm_index_entry *e);

/* "SMLR" etc. for a magic value (for dumps); "????" if unknown. */
const char *sm_magic_name(uint32_t magic);
const char *sm_mode_name(uint32_t mode);

#endif
