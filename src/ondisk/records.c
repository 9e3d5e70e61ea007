/* Encoding and decoding of the on-disk records.  Offsets here are the
 * format: docs/ondisk.md documents the same tables; change both together. */
#include "records.h"

#include "common/crc32c.h"
#include "common/le.h"
#include "sync_manager/errors.h"

#include <string.h>

/* Common prefix of every record. */
enum { OFF_MAGIC = 0, OFF_VERSION = 4, OFF_FLAGS = 6 };

static void put_prefix(uint8_t *b, uint32_t magic, uint16_t flags)
{
	sm_put_le32(b + OFF_MAGIC, magic);
	sm_put_le16(b + OFF_VERSION, SM_FORMAT_VERSION);
	sm_put_le16(b + OFF_FLAGS, flags);
}

static void put_crc(uint8_t *b, size_t size)
{
	sm_put_le32(b + size - 4, sm_crc32c(b, size - 4));
}

/* Magic, version, checksum — in that order, each its own error. */
static int check_prefix(const uint8_t *b, size_t size, uint32_t magic)
{
	if (sm_get_le32(b + OFF_MAGIC) != magic)
		return -SM_EBAD_MAGIC;
	if (sm_get_le16(b + OFF_VERSION) != SM_FORMAT_VERSION)
		return -SM_EBAD_VERSION;
	if (sm_get_le32(b + size - 4) != sm_crc32c(b, size - 4))
		return -SM_EBAD_CHECKSUM;
	return 0;
}

static void put_name(uint8_t *dst, const char *name)
{
	size_t n = strnlen(name, SM_NAME_FIELD - 1);
	memset(dst, 0, SM_NAME_FIELD);
	memcpy(dst, name, n);
}

static void get_name(char *dst, const uint8_t *src)
{
	size_t n = strnlen((const char *)src, SM_NAME_FIELD - 1);
	memcpy(dst, src, n);
	memset(dst + n, 0, SM_NAME_FIELD - n);
}

static int check_name(const char *got, const char *want, int err)
{
	if (want && strncmp(got, want, SM_NAME_FIELD) != 0)
		return err;
	return 0;
}

/* ---- volume header ------------------------------------------------------ */
enum {
	H_SECTOR = 8, H_MAX_HOSTS = 12, H_UUID = 16, H_LOCKSPACE = 32, H_IO_TIMEOUT = 96, H_WD_TIMEOUT = 100,
	H_HOST_AREA = 104, H_INDEX_LEASE = 112, H_INDEX = 120, H_AREAS = 128, H_RES_COUNT = 136,
	H_AREA_SECTORS = 140, H_VOL_SIZE = 144, H_CREATED = 152, H_SET_UUID = 160, H_SET_SIZE = 176,
	H_SET_INDEX = 180, H_FENCE_MODE = 184, H_FENCE_COUNT = 188, H_FENCE_TABLE = 192, H_LEASE_IO = 200, H_END = 204
};
_Static_assert(H_END <= SM_HEADER_SIZE - 4, "header fields fit");

void sm_header_encode(const struct sm_volume_header *h, uint8_t *b)
{
	memset(b, 0, SM_HEADER_SIZE);
	put_prefix(b, SM_MAGIC_HEADER, 0);
	/* A member of a volume set carries version 2, so that a version that
	 * does not know sets refuses it instead of using it as a lone volume. */
	if (h->set_size)
		sm_put_le16(b + OFF_VERSION, SM_SET_HEADER_VERSION);
	/* Fenced by reservation: version 3, which older versions refuse. */
	if (h->fence_mode)
		sm_put_le16(b + OFF_VERSION, SM_FENCE_HEADER_VERSION);
	/* COMPARE AND WRITE: version 4 (fenced or not), refused by older ones. */
	if (h->lease_io)
		sm_put_le16(b + OFF_VERSION, SM_CAW_HEADER_VERSION);
	sm_put_le32(b + H_SECTOR, h->sector_size);
	sm_put_le32(b + H_MAX_HOSTS, h->max_hosts);
	memcpy(b + H_UUID, h->uuid, 16);
	put_name(b + H_LOCKSPACE, h->lockspace);
	sm_put_le32(b + H_IO_TIMEOUT, h->io_timeout_ms);
	sm_put_le32(b + H_WD_TIMEOUT, h->watchdog_timeout_ms);
	sm_put_le64(b + H_HOST_AREA, h->host_area_offset);
	sm_put_le64(b + H_INDEX_LEASE, h->index_lease_offset);
	sm_put_le64(b + H_INDEX, h->index_offset);
	sm_put_le64(b + H_AREAS, h->areas_offset);
	sm_put_le32(b + H_RES_COUNT, h->resource_count);
	sm_put_le32(b + H_AREA_SECTORS, h->area_sectors);
	sm_put_le64(b + H_VOL_SIZE, h->volume_size);
	sm_put_le64(b + H_CREATED, h->created_wall);
	memcpy(b + H_SET_UUID, h->set_uuid, 16);
	sm_put_le32(b + H_SET_SIZE, h->set_size);
	sm_put_le32(b + H_SET_INDEX, h->set_index);
	sm_put_le32(b + H_FENCE_MODE, h->fence_mode);
	sm_put_le32(b + H_FENCE_COUNT, h->fence_count);
	sm_put_le64(b + H_FENCE_TABLE, h->fence_table_offset);
	sm_put_le32(b + H_LEASE_IO, h->lease_io);
	put_crc(b, SM_HEADER_SIZE);
}

int sm_header_decode(const uint8_t *b, struct sm_volume_header *h)
{
	/* version 2 only for a set member (set_size written), 3 only for a
	 * volume fenced by reservation, 4 only for COMPARE AND WRITE, else as
	 * any record */
	uint16_t version = sm_get_le16(b + OFF_VERSION);
	int rc;
	if (sm_get_le32(b + OFF_MAGIC) == SM_MAGIC_HEADER &&
	    ((version == SM_SET_HEADER_VERSION && sm_get_le32(b + H_SET_SIZE) != 0) ||
	     (version == SM_FENCE_HEADER_VERSION && sm_get_le32(b + H_FENCE_MODE) != 0) ||
	     (version == SM_CAW_HEADER_VERSION && sm_get_le32(b + H_LEASE_IO) != 0)))
		rc = sm_get_le32(b + SM_HEADER_SIZE - 4) != sm_crc32c(b, SM_HEADER_SIZE - 4) ? -SM_EBAD_CHECKSUM : 0;
	else
		rc = check_prefix(b, SM_HEADER_SIZE, SM_MAGIC_HEADER);
	if (rc < 0)
		return rc;
	memset(h, 0, sizeof(*h));
	h->sector_size = sm_get_le32(b + H_SECTOR);
	h->max_hosts = sm_get_le32(b + H_MAX_HOSTS);
	memcpy(h->uuid, b + H_UUID, 16);
	get_name(h->lockspace, b + H_LOCKSPACE);
	h->io_timeout_ms = sm_get_le32(b + H_IO_TIMEOUT);
	h->watchdog_timeout_ms = sm_get_le32(b + H_WD_TIMEOUT);
	h->host_area_offset = sm_get_le64(b + H_HOST_AREA);
	h->index_lease_offset = sm_get_le64(b + H_INDEX_LEASE);
	h->index_offset = sm_get_le64(b + H_INDEX);
	h->areas_offset = sm_get_le64(b + H_AREAS);
	h->resource_count = sm_get_le32(b + H_RES_COUNT);
	h->area_sectors = sm_get_le32(b + H_AREA_SECTORS);
	h->volume_size = sm_get_le64(b + H_VOL_SIZE);
	h->created_wall = sm_get_le64(b + H_CREATED);
	memcpy(h->set_uuid, b + H_SET_UUID, 16);
	h->set_size = sm_get_le32(b + H_SET_SIZE);
	h->set_index = sm_get_le32(b + H_SET_INDEX);
	h->fence_mode = sm_get_le32(b + H_FENCE_MODE);
	h->fence_count = sm_get_le32(b + H_FENCE_COUNT);
	h->fence_table_offset = sm_get_le64(b + H_FENCE_TABLE);
	h->lease_io = sm_get_le32(b + H_LEASE_IO);
	/* COMPARE AND WRITE: a lone volume of at most SM_CAW_MAX_HOSTS hosts
	 * (the shared-holders bitmap), fenced either way. */
	bool caw = version == SM_CAW_HEADER_VERSION;
	if (caw != (h->lease_io != 0) ||
	    (caw && (h->lease_io != SM_LEASE_IO_CAW || h->set_size || h->max_hosts > SM_CAW_MAX_HOSTS)))
		return -SM_EBAD_GEOMETRY;
	/* A set member cannot be fenced by reservation (not in this version). */
	if ((version == SM_FENCE_HEADER_VERSION || (caw && h->fence_mode)) != (h->fence_mode != 0) ||
	    (h->fence_mode && (h->fence_mode != SM_FENCE_PR || h->set_size || h->fence_count < 1 ||
			       h->fence_count > SM_FENCE_MAX_DEVICES)) ||
	    (!h->fence_mode && (h->fence_count || h->fence_table_offset)))
		return -SM_EBAD_GEOMETRY;
	if ((version == SM_SET_HEADER_VERSION) != (h->set_size != 0) ||
	    (h->set_size && (h->set_size != SM_SET_SIZE || h->set_index >= h->set_size)))
		return -SM_EBAD_GEOMETRY;
	if (h->sector_size != 512 && h->sector_size != 4096)
		return -SM_EWRONG_SECTOR_SIZE;
	return 0;
}

const char *sm_lease_io_name(uint32_t lease_io)
{
	switch (lease_io) {
	case SM_LEASE_IO_PAXOS: return "paxos";
	case SM_LEASE_IO_CAW: return "caw";
	default: return "?";
	}
}

/* ---- shared holders (COMPARE AND WRITE volumes) ----------------------------- */
enum { SH_NBITS = 8 };
_Static_assert(SM_SHARED_BITMAP_OFFSET == SH_NBITS + 4, "bitmap after nbits");
_Static_assert(SM_SHARED_OFFSET >= SM_LEADER_SIZE && SM_SHARED_OFFSET + SM_SHARED_SIZE <= 512,
	       "shared holders share the leader's sector");

void sm_shared_set_encode(const struct sm_shared_set *s, uint8_t *b)
{
	memset(b, 0, SM_SHARED_SIZE);
	put_prefix(b, SM_MAGIC_SHARED, 0);
	uint32_t n = s->nbits > SM_CAW_MAX_HOSTS ? SM_CAW_MAX_HOSTS : s->nbits;
	sm_put_le32(b + SH_NBITS, n);
	memcpy(b + SM_SHARED_BITMAP_OFFSET, s->bits, (n + 7) / 8);
	put_crc(b, SM_SHARED_SIZE);
}

int sm_shared_set_decode(const uint8_t *b, struct sm_shared_set *s)
{
	int rc = check_prefix(b, SM_SHARED_SIZE, SM_MAGIC_SHARED);
	if (rc < 0)
		return rc;
	memset(s, 0, sizeof(*s));
	s->nbits = sm_get_le32(b + SH_NBITS);
	if (s->nbits > SM_CAW_MAX_HOSTS)
		return -SM_EBAD_GEOMETRY;
	memcpy(s->bits, b + SM_SHARED_BITMAP_OFFSET, (s->nbits + 7) / 8);
	/* bits past nbits in the last byte are never set by an encoder */
	if (s->nbits % 8 && (s->bits[s->nbits / 8] >> (s->nbits % 8)))
		return -SM_EBAD_GEOMETRY;
	return 0;
}

const char *sm_fence_mode_name(uint32_t mode)
{
	return mode == SM_FENCE_TIMING ? "timing" : mode == SM_FENCE_PR ? "persistent-reservation" : "unknown";
}

/* ---- fence table ------------------------------------------------------------ */
enum { FT_COUNT = 8, FT_IDS = 16 };
_Static_assert(FT_IDS + SM_FENCE_MAX_DEVICES * SM_FENCE_ID_SIZE <= SM_FENCE_TABLE_SIZE - 4, "fence table fits");

void sm_fence_table_encode(const struct sm_fence_table *t, uint8_t *b)
{
	memset(b, 0, SM_FENCE_TABLE_SIZE);
	put_prefix(b, SM_MAGIC_FENCE, 0);
	sm_put_le32(b + FT_COUNT, t->count);
	for (uint32_t i = 0; i < t->count && i < SM_FENCE_MAX_DEVICES; i++)
		memcpy(b + FT_IDS + i * SM_FENCE_ID_SIZE, t->ids[i], strnlen(t->ids[i], SM_FENCE_ID_SIZE - 1));
	put_crc(b, SM_FENCE_TABLE_SIZE);
}

int sm_fence_table_decode(const uint8_t *b, struct sm_fence_table *t)
{
	int rc = check_prefix(b, SM_FENCE_TABLE_SIZE, SM_MAGIC_FENCE);
	if (rc < 0)
		return rc;
	memset(t, 0, sizeof(*t));
	t->count = sm_get_le32(b + FT_COUNT);
	if (t->count < 1 || t->count > SM_FENCE_MAX_DEVICES)
		return -SM_EBAD_GEOMETRY;
	for (uint32_t i = 0; i < t->count; i++) {
		const uint8_t *src = b + FT_IDS + i * SM_FENCE_ID_SIZE;
		size_t n = strnlen((const char *)src, SM_FENCE_ID_SIZE - 1);
		if (n == 0)
			return -SM_EBAD_GEOMETRY;
		memcpy(t->ids[i], src, n);
	}
	return 0;
}

/* ---- host record ---------------------------------------------------------- */
enum {
	R_SECTOR = 8, R_HOST_ID = 12, R_GEN = 16, R_TS = 24, R_SEQ = 32, R_LOCKSPACE = 40, R_NAME = 104,
	R_INSTANCE = 168, R_IO_TIMEOUT = 184, R_ATTN_ID = 188, R_ATTN_SEQ = 192, R_MACHINE_ID = 200, R_END = 216
};
_Static_assert(R_END <= SM_HOST_SIZE - 4, "host record fields fit");

void sm_host_encode(const struct sm_host_record *r, uint8_t *b)
{
	memset(b, 0, SM_HOST_SIZE);
	put_prefix(b, SM_MAGIC_HOST, r->flags);
	sm_put_le32(b + R_SECTOR, r->sector_size);
	sm_put_le32(b + R_HOST_ID, r->host_id);
	sm_put_le64(b + R_GEN, r->generation);
	sm_put_le64(b + R_TS, r->timestamp);
	sm_put_le64(b + R_SEQ, r->sequence);
	put_name(b + R_LOCKSPACE, r->lockspace);
	put_name(b + R_NAME, r->host_name);
	memcpy(b + R_INSTANCE, r->instance, 16);
	sm_put_le32(b + R_IO_TIMEOUT, r->io_timeout_ms);
	sm_put_le32(b + R_ATTN_ID, r->attention_host_id);
	sm_put_le64(b + R_ATTN_SEQ, r->attention_seq);
	memcpy(b + R_MACHINE_ID, r->machine_id, 16);
	put_crc(b, SM_HOST_SIZE);
}

int sm_host_decode(const uint8_t *b, struct sm_host_record *r, const char *lockspace, uint32_t sector_size)
{
	int rc = check_prefix(b, SM_HOST_SIZE, SM_MAGIC_HOST);
	if (rc < 0)
		return rc;
	memset(r, 0, sizeof(*r));
	r->flags = sm_get_le16(b + OFF_FLAGS);
	r->sector_size = sm_get_le32(b + R_SECTOR);
	r->host_id = sm_get_le32(b + R_HOST_ID);
	r->generation = sm_get_le64(b + R_GEN);
	r->timestamp = sm_get_le64(b + R_TS);
	r->sequence = sm_get_le64(b + R_SEQ);
	get_name(r->lockspace, b + R_LOCKSPACE);
	get_name(r->host_name, b + R_NAME);
	memcpy(r->instance, b + R_INSTANCE, 16);
	r->io_timeout_ms = sm_get_le32(b + R_IO_TIMEOUT);
	r->attention_host_id = sm_get_le32(b + R_ATTN_ID);
	r->attention_seq = sm_get_le64(b + R_ATTN_SEQ);
	memcpy(r->machine_id, b + R_MACHINE_ID, 16);
	if ((rc = check_name(r->lockspace, lockspace, -SM_EWRONG_LOCKSPACE)) < 0)
		return rc;
	if (sector_size && r->sector_size != sector_size)
		return -SM_EWRONG_SECTOR_SIZE;
	return 0;
}

/* ---- leader record -------------------------------------------------------- */
enum {
	L_SECTOR = 8, L_MAX_HOSTS = 12, L_LOCKSPACE = 16, L_RESOURCE = 80, L_LVER = 144, L_OWNER = 152,
	L_MODE = 156, L_OWNER_GEN = 160, L_WRITE_ID = 168, L_AREA = 172, L_WRITE_GEN = 176, L_TS = 184,
	L_IO_TIMEOUT = 192, L_END = 196
};
_Static_assert(L_END <= SM_LEADER_SIZE - 4, "leader fields fit");

void sm_leader_encode(const struct sm_leader *l, uint8_t *b)
{
	memset(b, 0, SM_LEADER_SIZE);
	put_prefix(b, SM_MAGIC_LEADER, l->flags);
	sm_put_le32(b + L_SECTOR, l->sector_size);
	sm_put_le32(b + L_MAX_HOSTS, l->max_hosts);
	put_name(b + L_LOCKSPACE, l->lockspace);
	put_name(b + L_RESOURCE, l->resource);
	sm_put_le64(b + L_LVER, l->lver);
	sm_put_le32(b + L_OWNER, l->owner_id);
	sm_put_le32(b + L_MODE, l->mode);
	sm_put_le64(b + L_OWNER_GEN, l->owner_generation);
	sm_put_le32(b + L_WRITE_ID, l->write_id);
	sm_put_le32(b + L_AREA, l->area);
	sm_put_le64(b + L_WRITE_GEN, l->write_generation);
	sm_put_le64(b + L_TS, l->timestamp);
	sm_put_le32(b + L_IO_TIMEOUT, l->io_timeout_ms);
	put_crc(b, SM_LEADER_SIZE);
}

int sm_leader_decode(const uint8_t *b, struct sm_leader *l, const char *lockspace, const char *resource,
		     uint32_t sector_size)
{
	int rc = check_prefix(b, SM_LEADER_SIZE, SM_MAGIC_LEADER);
	if (rc < 0)
		return rc;
	memset(l, 0, sizeof(*l));
	l->flags = sm_get_le16(b + OFF_FLAGS);
	l->sector_size = sm_get_le32(b + L_SECTOR);
	l->max_hosts = sm_get_le32(b + L_MAX_HOSTS);
	get_name(l->lockspace, b + L_LOCKSPACE);
	get_name(l->resource, b + L_RESOURCE);
	l->lver = sm_get_le64(b + L_LVER);
	l->owner_id = sm_get_le32(b + L_OWNER);
	l->mode = sm_get_le32(b + L_MODE);
	l->owner_generation = sm_get_le64(b + L_OWNER_GEN);
	l->write_id = sm_get_le32(b + L_WRITE_ID);
	l->area = sm_get_le32(b + L_AREA);
	l->write_generation = sm_get_le64(b + L_WRITE_GEN);
	l->timestamp = sm_get_le64(b + L_TS);
	l->io_timeout_ms = sm_get_le32(b + L_IO_TIMEOUT);
	if ((rc = check_name(l->lockspace, lockspace, -SM_EWRONG_LOCKSPACE)) < 0)
		return rc;
	if ((rc = check_name(l->resource, resource, -SM_EWRONG_RESOURCE)) < 0)
		return rc;
	if (sector_size && l->sector_size != sector_size)
		return -SM_EWRONG_SECTOR_SIZE;
	return 0;
}

/* ---- request record ------------------------------------------------------- */
enum { Q_SECTOR = 8, Q_KIND = 12, Q_REQ_ID = 16, Q_REQ_GEN = 24, Q_LVER = 32, Q_RESOURCE = 40, Q_TS = 104,
       Q_SEQ = 112, Q_END = 120 };
_Static_assert(Q_END <= SM_REQUEST_SIZE - 4, "request fields fit");

void sm_request_encode(const struct sm_request *r, uint8_t *b)
{
	memset(b, 0, SM_REQUEST_SIZE);
	put_prefix(b, SM_MAGIC_REQUEST, r->flags);
	sm_put_le32(b + Q_SECTOR, r->sector_size);
	sm_put_le32(b + Q_KIND, r->kind);
	sm_put_le32(b + Q_REQ_ID, r->requester_id);
	sm_put_le64(b + Q_REQ_GEN, r->requester_generation);
	sm_put_le64(b + Q_LVER, r->lver);
	put_name(b + Q_RESOURCE, r->resource);
	sm_put_le64(b + Q_TS, r->timestamp);
	sm_put_le64(b + Q_SEQ, r->sequence);
	put_crc(b, SM_REQUEST_SIZE);
}

int sm_request_decode(const uint8_t *b, struct sm_request *r, const char *resource, uint32_t sector_size)
{
	int rc = check_prefix(b, SM_REQUEST_SIZE, SM_MAGIC_REQUEST);
	if (rc < 0)
		return rc;
	memset(r, 0, sizeof(*r));
	r->flags = sm_get_le16(b + OFF_FLAGS);
	r->sector_size = sm_get_le32(b + Q_SECTOR);
	r->kind = sm_get_le32(b + Q_KIND);
	r->requester_id = sm_get_le32(b + Q_REQ_ID);
	r->requester_generation = sm_get_le64(b + Q_REQ_GEN);
	r->lver = sm_get_le64(b + Q_LVER);
	get_name(r->resource, b + Q_RESOURCE);
	r->timestamp = sm_get_le64(b + Q_TS);
	r->sequence = sm_get_le64(b + Q_SEQ);
	if ((rc = check_name(r->resource, resource, -SM_EWRONG_RESOURCE)) < 0)
		return rc;
	if (sector_size && r->sector_size != sector_size)
		return -SM_EWRONG_SECTOR_SIZE;
	return 0;
}

/* ---- dblock --------------------------------------------------------------- */
enum { D_HOST_ID = 8, D_INP_MODE = 12, D_LVER = 16, D_MBAL = 24, D_BAL = 32, D_INP_OWNER = 40,
       D_INP_GEN = 48, D_TS = 56, D_PREV_LVER = 64, D_PREV_OWNER = 72, D_PREV_MODE = 76, D_PREV_GEN = 80,
       D_END = 88 };
_Static_assert(D_END <= SM_DBLOCK_SIZE - 4, "dblock fields fit");

void sm_dblock_encode(const struct sm_dblock *d, uint8_t *b)
{
	memset(b, 0, SM_DBLOCK_SIZE);
	put_prefix(b, SM_MAGIC_DBLOCK, d->flags);
	sm_put_le32(b + D_HOST_ID, d->host_id);
	sm_put_le32(b + D_INP_MODE, d->inp_mode);
	sm_put_le64(b + D_LVER, d->lver);
	sm_put_le64(b + D_MBAL, d->mbal);
	sm_put_le64(b + D_BAL, d->bal);
	sm_put_le32(b + D_INP_OWNER, d->inp_owner_id);
	sm_put_le64(b + D_INP_GEN, d->inp_owner_generation);
	sm_put_le64(b + D_TS, d->timestamp);
	sm_put_le64(b + D_PREV_LVER, d->prev_lver);
	sm_put_le32(b + D_PREV_OWNER, d->prev_owner_id);
	sm_put_le32(b + D_PREV_MODE, d->prev_mode);
	sm_put_le64(b + D_PREV_GEN, d->prev_owner_generation);
	put_crc(b, SM_DBLOCK_SIZE);
}

int sm_dblock_decode(const uint8_t *b, struct sm_dblock *d)
{
	int rc = check_prefix(b, SM_DBLOCK_SIZE, SM_MAGIC_DBLOCK);
	if (rc < 0)
		return rc;
	memset(d, 0, sizeof(*d));
	d->flags = sm_get_le16(b + OFF_FLAGS);
	d->host_id = sm_get_le32(b + D_HOST_ID);
	d->inp_mode = sm_get_le32(b + D_INP_MODE);
	d->lver = sm_get_le64(b + D_LVER);
	d->mbal = sm_get_le64(b + D_MBAL);
	d->bal = sm_get_le64(b + D_BAL);
	d->inp_owner_id = sm_get_le32(b + D_INP_OWNER);
	d->inp_owner_generation = sm_get_le64(b + D_INP_GEN);
	d->timestamp = sm_get_le64(b + D_TS);
	d->prev_lver = sm_get_le64(b + D_PREV_LVER);
	d->prev_owner_id = sm_get_le32(b + D_PREV_OWNER);
	d->prev_mode = sm_get_le32(b + D_PREV_MODE);
	d->prev_owner_generation = sm_get_le64(b + D_PREV_GEN);
	return 0;
}

/* ---- shared-mode block ---------------------------------------------------- */
enum { M_GEN = 8, M_LVER = 16, M_END = 24 };
_Static_assert(M_END <= SM_MODE_SIZE - 4, "mode block fields fit");

void sm_mode_encode(const struct sm_mode_block *m, uint8_t *b)
{
	memset(b, 0, SM_MODE_SIZE);
	put_prefix(b, SM_MAGIC_MODE, m->flags);
	sm_put_le64(b + M_GEN, m->generation);
	sm_put_le64(b + M_LVER, m->lver);
	put_crc(b, SM_MODE_SIZE);
}

int sm_mode_decode(const uint8_t *b, struct sm_mode_block *m)
{
	int rc = check_prefix(b, SM_MODE_SIZE, SM_MAGIC_MODE);
	if (rc < 0)
		return rc;
	memset(m, 0, sizeof(*m));
	m->flags = sm_get_le16(b + OFF_FLAGS);
	m->generation = sm_get_le64(b + M_GEN);
	m->lver = sm_get_le64(b + M_LVER);
	return 0;
}

/* ---- index entry ---------------------------------------------------------- */
enum { X_AREA = 8, X_CREATED_BY = 12, X_NAME = 16, X_CREATED = 80, X_END = 88 };
_Static_assert(X_END <= SM_INDEX_ENTRY_SIZE - 4, "index entry fields fit");

void sm_index_encode(const struct sm_index_entry *e, uint8_t *b)
{
	memset(b, 0, SM_INDEX_ENTRY_SIZE);
	put_prefix(b, SM_MAGIC_INDEX, e->flags);
	sm_put_le32(b + X_AREA, e->area);
	sm_put_le32(b + X_CREATED_BY, e->created_by);
	put_name(b + X_NAME, e->name);
	sm_put_le64(b + X_CREATED, e->created_wall);
	put_crc(b, SM_INDEX_ENTRY_SIZE);
}

int sm_index_decode(const uint8_t *b, struct sm_index_entry *e)
{
	int rc = check_prefix(b, SM_INDEX_ENTRY_SIZE, SM_MAGIC_INDEX);
	if (rc < 0)
		return rc;
	memset(e, 0, sizeof(*e));
	e->flags = sm_get_le16(b + OFF_FLAGS);
	e->area = sm_get_le32(b + X_AREA);
	e->created_by = sm_get_le32(b + X_CREATED_BY);
	get_name(e->name, b + X_NAME);
	e->created_wall = sm_get_le64(b + X_CREATED);
	return 0;
}

const char *sm_magic_name(uint32_t magic)
{
	switch (magic) {
	case SM_MAGIC_HEADER: return "SMVH";
	case SM_MAGIC_HOST: return "SMHR";
	case SM_MAGIC_LEADER: return "SMLR";
	case SM_MAGIC_SHARED: return "SMSH";
	case SM_MAGIC_REQUEST: return "SMRQ";
	case SM_MAGIC_DBLOCK: return "SMDB";
	case SM_MAGIC_MODE: return "SMMB";
	case SM_MAGIC_INDEX: return "SMIX";
	default: return "????";
	}
}

const char *sm_mode_name(uint32_t mode)
{
	switch (mode) {
	case SM_MODE_FREE: return "free";
	case SM_MODE_EX: return "EX";
	case SM_MODE_SH: return "SH";
	default: return "?";
	}
}
