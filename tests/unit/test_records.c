/* Round trips, layout and the distinct decode errors of every on-disk record
 * (magic, version, checksum), and detection of every corrupted byte. */
#include "testutil.h"

#include "common/crc32c.h"
#include "common/le.h"
#include "ondisk/records.h"
#include "sync_manager/errors.h"

#include <string.h>

static void header_round_trips(void **state)
{
	struct sm_volume_header h = {.sector_size = 4096, .max_hosts = 77, .io_timeout_ms = 1500,
				     .watchdog_timeout_ms = 3000, .host_area_offset = 4096, .index_lease_offset = 1,
				     .index_offset = 2, .areas_offset = 3, .resource_count = 9, .area_sectors = 79,
				     .volume_size = 123456789, .created_wall = 42};
	memset(h.uuid, 0xab, 16);
	strcpy(h.lockspace, "ls1");
	uint8_t buf[SM_HEADER_SIZE], again[SM_HEADER_SIZE];
	sm_header_encode(&h, buf);
	struct sm_volume_header d;
	assert_int_equal(sm_header_decode(buf, &d), 0);
	sm_header_encode(&d, again);
	assert_memory_equal(buf, again, sizeof(buf));
	assert_string_equal(d.lockspace, "ls1");
	assert_int_equal(d.volume_size, 123456789);
}

/* A header fenced by reservation round-trips with version 3; fence fields
 * that contradict the version, or a fenced set member, are corrupt. */
static void fenced_header_is_version_3_and_checked(void **state)
{
	struct sm_volume_header h = {.sector_size = 512, .max_hosts = 8, .io_timeout_ms = 1000,
				     .watchdog_timeout_ms = 3000, .resource_count = 4, .fence_mode = SM_FENCE_PR,
				     .fence_count = 3, .fence_table_offset = 999424};
	strcpy(h.lockspace, "pr");
	uint8_t buf[SM_HEADER_SIZE];
	sm_header_encode(&h, buf);
	assert_int_equal(buf[4], SM_FENCE_HEADER_VERSION);
	struct sm_volume_header d;
	assert_int_equal(sm_header_decode(buf, &d), 0);
	assert_int_equal(d.fence_mode, SM_FENCE_PR);
	assert_int_equal(d.fence_count, 3);
	assert_int_equal(d.fence_table_offset, 999424);
	struct sm_volume_header bad = h;
	bad.fence_count = 0;
	sm_header_encode(&bad, buf);
	assert_int_equal(sm_header_decode(buf, &d), -SM_EBAD_GEOMETRY);
	bad = h;
	bad.fence_mode = 7;
	sm_header_encode(&bad, buf);
	assert_int_equal(sm_header_decode(buf, &d), -SM_EBAD_GEOMETRY);
	bad = h;
	bad.set_size = SM_SET_SIZE;
	sm_header_encode(&bad, buf);
	assert_int_equal(sm_header_decode(buf, &d), -SM_EBAD_GEOMETRY);
	/* version 1 with fence fields set is corrupt too */
	bad = h;
	sm_header_encode(&bad, buf);
	buf[4] = SM_FORMAT_VERSION;
	sm_put_le32(buf + SM_HEADER_SIZE - 4, sm_crc32c(buf, SM_HEADER_SIZE - 4));
	assert_int_equal(sm_header_decode(buf, &d), -SM_EBAD_GEOMETRY);
	/* the table */
	struct sm_fence_table t = {.count = 2}, u;
	strcpy(t.ids[0], "naa.60014050000000000000000000000001");
	strcpy(t.ids[1], "eui.0025388b71b2f2c1");
	uint8_t tb[SM_FENCE_TABLE_SIZE];
	sm_fence_table_encode(&t, tb);
	assert_int_equal(sm_fence_table_decode(tb, &u), 0);
	assert_memory_equal(&t, &u, sizeof(t));
	tb[100] ^= 1;
	assert_int_equal(sm_fence_table_decode(tb, &u), -SM_EBAD_CHECKSUM);
}

static void caw_header_is_version_4_fenced_or_not(void **state)
{
	struct sm_volume_header h = {.sector_size = 512, .max_hosts = 8, .io_timeout_ms = 1000,
				     .watchdog_timeout_ms = 3000, .resource_count = 4, .lease_io = SM_LEASE_IO_CAW};
	strcpy(h.lockspace, "caw");
	uint8_t buf[SM_HEADER_SIZE];
	struct sm_volume_header d;
	sm_header_encode(&h, buf);
	assert_int_equal(buf[4], SM_CAW_HEADER_VERSION);
	assert_int_equal(sm_header_decode(buf, &d), 0);
	assert_int_equal(d.lease_io, SM_LEASE_IO_CAW);
	assert_int_equal(d.fence_mode, SM_FENCE_TIMING);
	/* with fencing by reservation */
	struct sm_volume_header f = h;
	f.fence_mode = SM_FENCE_PR;
	f.fence_count = 2;
	f.fence_table_offset = 4096;
	sm_header_encode(&f, buf);
	assert_int_equal(buf[4], SM_CAW_HEADER_VERSION);
	assert_int_equal(sm_header_decode(buf, &d), 0);
	assert_int_equal(d.fence_mode, SM_FENCE_PR);
	assert_int_equal(d.lease_io, SM_LEASE_IO_CAW);
	/* no set member, no unknown method, no more hosts than the bitmap */
	struct sm_volume_header bad = h;
	bad.set_size = SM_SET_SIZE;
	sm_header_encode(&bad, buf);
	assert_int_equal(sm_header_decode(buf, &d), -SM_EBAD_GEOMETRY);
	bad = h;
	bad.lease_io = 9;
	sm_header_encode(&bad, buf);
	assert_int_equal(sm_header_decode(buf, &d), -SM_EBAD_GEOMETRY);
	bad = h;
	bad.max_hosts = SM_CAW_MAX_HOSTS + 1;
	sm_header_encode(&bad, buf);
	assert_int_equal(sm_header_decode(buf, &d), -SM_EBAD_GEOMETRY);
	/* version 3 (fenced) with the method set is corrupt: it must be 4 */
	sm_header_encode(&f, buf);
	buf[4] = SM_FENCE_HEADER_VERSION;
	sm_put_le32(buf + SM_HEADER_SIZE - 4, sm_crc32c(buf, SM_HEADER_SIZE - 4));
	assert_int_equal(sm_header_decode(buf, &d), -SM_EBAD_GEOMETRY);
}

static void shared_holders_round_trip_and_are_checked(void **state)
{
	struct sm_shared_set s = {.nbits = 13}, u;
	sm_shared_put(&s, 1, true);
	sm_shared_put(&s, 13, true);
	sm_shared_put(&s, 14, true); /* past nbits: ignored */
	uint8_t b[SM_SHARED_SIZE];
	sm_shared_set_encode(&s, b);
	assert_int_equal(sm_shared_set_decode(b, &u), 0);
	assert_int_equal(u.nbits, 13);
	assert_true(sm_shared_test(&u, 1));
	assert_true(sm_shared_test(&u, 13));
	assert_false(sm_shared_test(&u, 2));
	assert_false(sm_shared_test(&u, 14));
	assert_false(sm_shared_test(&u, 0));
	sm_shared_put(&u, 1, false);
	assert_false(sm_shared_test(&u, 1));
	/* a bit past nbits on disk is corruption, as is any flipped byte */
	b[SM_SHARED_BITMAP_OFFSET + 1] |= 0x80;
	sm_put_le32(b + SM_SHARED_SIZE - 4, sm_crc32c(b, SM_SHARED_SIZE - 4));
	assert_int_equal(sm_shared_set_decode(b, &u), -SM_EBAD_GEOMETRY);
	sm_shared_set_encode(&s, b);
	b[40] ^= 1;
	assert_int_equal(sm_shared_set_decode(b, &u), -SM_EBAD_CHECKSUM);
	assert_string_equal(sm_magic_name(SM_MAGIC_SHARED), "SMSH");
	assert_string_equal(sm_lease_io_name(SM_LEASE_IO_CAW), "caw");
}

static void encoding_is_little_endian_with_magic_first(void **state)
{
	struct sm_leader l = {.sector_size = 512, .lver = 0x0102030405060708ull, .owner_id = 3};
	uint8_t buf[SM_LEADER_SIZE];
	sm_leader_encode(&l, buf);
	assert_memory_equal(buf, "SMLR", 4);
	assert_int_equal(sm_get_le16(buf + 4), SM_FORMAT_VERSION);
	assert_int_equal(buf[144], 0x08); /* lver, least significant byte first */
	assert_int_equal(buf[151], 0x01);
	assert_int_equal(sm_get_le32(buf + SM_LEADER_SIZE - 4), sm_crc32c(buf, SM_LEADER_SIZE - 4));
}

static void leader_round_trips_with_64bit_lver(void **state)
{
	struct sm_leader l = {.sector_size = 512, .max_hosts = 128, .lver = UINT64_MAX - 1, .owner_id = 7,
			      .mode = SM_MODE_EX, .owner_generation = 1ull << 40, .write_id = 7, .area = 5};
	strcpy(l.lockspace, "ls");
	strcpy(l.resource, "vm-1");
	uint8_t buf[SM_LEADER_SIZE];
	sm_leader_encode(&l, buf);
	struct sm_leader d;
	assert_int_equal(sm_leader_decode(buf, &d, "ls", "vm-1", 512), 0);
	assert_true(d.lver == UINT64_MAX - 1);
	assert_true(d.owner_generation == 1ull << 40);
	assert_int_equal(d.mode, SM_MODE_EX);
}

static void decode_reports_wrong_magic(void **state)
{
	uint8_t buf[SM_LEADER_SIZE] = {0};
	struct sm_leader d;
	assert_int_equal(sm_leader_decode(buf, &d, NULL, NULL, 0), -SM_EBAD_MAGIC);
	struct sm_host_record h = {.sector_size = 512};
	sm_host_encode(&h, buf);
	/* a valid host record is not a leader */
	assert_int_equal(sm_leader_decode(buf, &d, NULL, NULL, 0), -SM_EBAD_MAGIC);
}

static void decode_reports_unsupported_version(void **state)
{
	struct sm_leader l = {.sector_size = 512};
	uint8_t buf[SM_LEADER_SIZE];
	sm_leader_encode(&l, buf);
	sm_put_le16(buf + 4, SM_FORMAT_VERSION + 1);
	sm_put_le32(buf + SM_LEADER_SIZE - 4, sm_crc32c(buf, SM_LEADER_SIZE - 4));
	struct sm_leader d;
	assert_int_equal(sm_leader_decode(buf, &d, NULL, NULL, 0), -SM_EBAD_VERSION);
}

static void decode_reports_bad_checksum_for_any_flipped_byte(void **state)
{
	struct sm_dblock b = {.host_id = 2, .lver = 5, .mbal = 9, .bal = 9, .inp_owner_id = 2};
	uint8_t buf[SM_DBLOCK_SIZE];
	for (size_t i = 8; i < SM_DBLOCK_SIZE; i++) {
		sm_dblock_encode(&b, buf);
		buf[i] ^= 0x01;
		struct sm_dblock d;
		assert_int_equal(sm_dblock_decode(buf, &d), -SM_EBAD_CHECKSUM);
	}
}

static void decode_reports_wrong_lockspace_resource_and_sector_size(void **state)
{
	struct sm_leader l = {.sector_size = 512};
	strcpy(l.lockspace, "ls-a");
	strcpy(l.resource, "r1");
	uint8_t buf[SM_LEADER_SIZE];
	sm_leader_encode(&l, buf);
	struct sm_leader d;
	assert_int_equal(sm_leader_decode(buf, &d, "ls-b", "r1", 512), -SM_EWRONG_LOCKSPACE);
	assert_int_equal(sm_leader_decode(buf, &d, "ls-a", "r2", 512), -SM_EWRONG_RESOURCE);
	assert_int_equal(sm_leader_decode(buf, &d, "ls-a", "r1", 4096), -SM_EWRONG_SECTOR_SIZE);
	assert_int_equal(sm_leader_decode(buf, &d, "ls-a", "r1", 512), 0);

	struct sm_host_record h = {.sector_size = 4096, .host_id = 1};
	strcpy(h.lockspace, "ls-a");
	uint8_t hb[SM_HOST_SIZE];
	sm_host_encode(&h, hb);
	struct sm_host_record hd;
	assert_int_equal(sm_host_decode(hb, &hd, "ls-x", 4096), -SM_EWRONG_LOCKSPACE);
	assert_int_equal(sm_host_decode(hb, &hd, "ls-a", 512), -SM_EWRONG_SECTOR_SIZE);

	struct sm_request q = {.sector_size = 512, .kind = SM_REQ_HANDOFF};
	strcpy(q.resource, "r1");
	uint8_t qb[SM_REQUEST_SIZE];
	sm_request_encode(&q, qb);
	struct sm_request qd;
	assert_int_equal(sm_request_decode(qb, &qd, "r9", 512), -SM_EWRONG_RESOURCE);
	assert_int_equal(sm_request_decode(qb, &qd, "r1", 512), 0);
	assert_int_equal(qd.kind, SM_REQ_HANDOFF);
}

static void host_mode_and_index_records_round_trip(void **state)
{
	struct sm_host_record h = {.flags = SM_HOST_HELD, .sector_size = 512, .host_id = 12, .generation = 3,
				   .timestamp = 99, .sequence = 7, .io_timeout_ms = 1000};
	strcpy(h.lockspace, "ls");
	strcpy(h.host_name, "node-a");
	memset(h.instance, 0x5a, 16);
	uint8_t hb[SM_HOST_SIZE];
	sm_host_encode(&h, hb);
	struct sm_host_record hd;
	assert_int_equal(sm_host_decode(hb, &hd, "ls", 512), 0);
	assert_memory_equal(&h.instance, &hd.instance, 16);
	assert_string_equal(hd.host_name, "node-a");
	assert_int_equal(hd.flags, SM_HOST_HELD);
	/* the machine-id sits in bytes an older reader ignores (inside the CRC);
	 * an older writer leaves them zero: "unknown" */
	memset(h.machine_id, 0xa7, 16);
	sm_host_encode(&h, hb);
	assert_int_equal(sm_host_decode(hb, &hd, "ls", 512), 0);
	assert_memory_equal(hd.machine_id, h.machine_id, 16);
	assert_memory_equal(hb + 200, h.machine_id, 16);
	memset(hb + 200, 0, 16);
	sm_put_le32(hb + SM_HOST_SIZE - 4, sm_crc32c(hb, SM_HOST_SIZE - 4)); /* as an older writer */
	assert_int_equal(sm_host_decode(hb, &hd, "ls", 512), 0);
	static const uint8_t zero[16];
	assert_memory_equal(hd.machine_id, zero, 16);
	assert_string_equal(hd.host_name, "node-a");

	struct sm_mode_block m = {.flags = SM_MODEB_SHARED, .generation = 4, .lver = 8};
	uint8_t mb[SM_MODE_SIZE];
	sm_mode_encode(&m, mb);
	struct sm_mode_block md;
	assert_int_equal(sm_mode_decode(mb, &md), 0);
	assert_int_equal(md.flags, SM_MODEB_SHARED);
	assert_int_equal(md.lver, 8);

	struct sm_index_entry e = {.flags = SM_INDEX_USED, .area = 17, .created_by = 2};
	strcpy(e.name, "disk-1");
	uint8_t eb[SM_INDEX_ENTRY_SIZE];
	sm_index_encode(&e, eb);
	struct sm_index_entry ed;
	assert_int_equal(sm_index_decode(eb, &ed), 0);
	assert_string_equal(ed.name, "disk-1");
	assert_int_equal(ed.area, 17);
}

static void names_are_always_nul_terminated_after_decode(void **state)
{
	struct sm_leader l = {.sector_size = 512};
	uint8_t buf[SM_LEADER_SIZE];
	sm_leader_encode(&l, buf);
	memset(buf + 16, 'A', 64); /* lockspace field full, no NUL */
	sm_put_le32(buf + SM_LEADER_SIZE - 4, sm_crc32c(buf, SM_LEADER_SIZE - 4));
	struct sm_leader d;
	assert_int_equal(sm_leader_decode(buf, &d, NULL, NULL, 0), 0);
	assert_int_equal(strlen(d.lockspace), 63);
}

/* ---- every record type, table-driven --------------------------------------
 *
 * Samples set every field to a non-zero value whose bytes differ from field
 * to field (so a field written to the wrong offset, or two fields sharing
 * bytes, cannot round-trip), and names use the full 63 characters. */

#define NAME63 "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_Static_assert(sizeof(NAME63) == SM_NAME_FIELD, "a name that fills its field");

static void sample_header(struct sm_volume_header *h)
{
	memset(h, 0, sizeof(*h));
	h->sector_size = 4096;
	h->max_hosts = 0x0203;
	for (int i = 0; i < 16; i++)
		h->uuid[i] = (uint8_t)(0xa0 + i);
	strcpy(h->lockspace, NAME63);
	h->io_timeout_ms = 0x04050607;
	h->watchdog_timeout_ms = 0x08090a0b;
	h->host_area_offset = 0x1112131415161718ull;
	h->index_lease_offset = 0x2122232425262728ull;
	h->index_offset = 0x3132333435363738ull;
	h->areas_offset = 0x4142434445464748ull;
	h->resource_count = 0x0c0d0e0f;
	h->area_sectors = 0x10111213;
	h->volume_size = 0x5152535455565758ull;
	h->created_wall = 0x6162636465666768ull;
}

static void sample_host(struct sm_host_record *r)
{
	memset(r, 0, sizeof(*r));
	r->flags = SM_HOST_HELD;
	r->sector_size = 512;
	r->host_id = 0x01020304;
	r->generation = 0x1112131415161718ull;
	r->timestamp = 0x2122232425262728ull;
	r->sequence = 0x3132333435363738ull;
	strcpy(r->lockspace, NAME63);
	strcpy(r->host_name, NAME63);
	r->host_name[0] = 'H'; /* differs from the lockspace */
	for (int i = 0; i < 16; i++)
		r->instance[i] = (uint8_t)(0xc0 + i);
	r->io_timeout_ms = 0x05060708;
	r->attention_host_id = 0x090a0b0c;
	r->attention_seq = 0x4142434445464748ull;
}

static void sample_leader(struct sm_leader *l)
{
	memset(l, 0, sizeof(*l));
	l->flags = SM_LEADER_REMOVED;
	l->sector_size = 4096;
	l->max_hosts = 0x01020304;
	strcpy(l->lockspace, NAME63);
	strcpy(l->resource, NAME63);
	l->resource[0] = 'R';
	l->lver = 0x1112131415161718ull;
	l->owner_id = 0x05060708;
	l->mode = SM_MODE_SH;
	l->owner_generation = 0x2122232425262728ull;
	l->write_id = 0x090a0b0c;
	l->write_generation = 0x3132333435363738ull;
	l->timestamp = 0x4142434445464748ull;
	l->area = 0x0d0e0f10;
	l->io_timeout_ms = 0x11121314;
}

static void sample_request(struct sm_request *q)
{
	memset(q, 0, sizeof(*q));
	q->flags = 0x0102;
	q->sector_size = 512;
	q->kind = SM_REQ_HANDOFF;
	q->requester_id = 0x03040506;
	q->requester_generation = 0x1112131415161718ull;
	q->lver = 0x2122232425262728ull;
	strcpy(q->resource, NAME63);
	q->timestamp = 0x3132333435363738ull;
}

static void sample_dblock(struct sm_dblock *d)
{
	memset(d, 0, sizeof(*d));
	d->flags = 0x0102;
	d->host_id = 0x03040506;
	d->lver = 0x1112131415161718ull;
	d->mbal = 0x2122232425262728ull;
	d->bal = 0x3132333435363738ull;
	d->inp_owner_id = 0x0708090a;
	d->inp_mode = SM_MODE_EX;
	d->inp_owner_generation = 0x4142434445464748ull;
	d->timestamp = 0x5152535455565758ull;
	d->prev_lver = 0x6162636465666768ull;
	d->prev_owner_id = 0x0b0c0d0e;
	d->prev_mode = SM_MODE_EX;
	d->prev_owner_generation = 0x7172737475767778ull;
}

static void sample_mode(struct sm_mode_block *m)
{
	memset(m, 0, sizeof(*m));
	m->flags = SM_MODEB_SHARED;
	m->generation = 0x1112131415161718ull;
	m->lver = 0x2122232425262728ull;
}

static void sample_index(struct sm_index_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->flags = SM_INDEX_USED;
	e->area = 0x01020304;
	strcpy(e->name, NAME63);
	e->created_wall = 0x1112131415161718ull;
	e->created_by = 0x05060708;
}

/* Uniform wrappers: encode the sample, decode without expectations. */
static void enc_header(uint8_t *b) { struct sm_volume_header x; sample_header(&x); sm_header_encode(&x, b); }
static void enc_host(uint8_t *b) { struct sm_host_record x; sample_host(&x); sm_host_encode(&x, b); }
static void enc_leader(uint8_t *b) { struct sm_leader x; sample_leader(&x); sm_leader_encode(&x, b); }
static void enc_request(uint8_t *b) { struct sm_request x; sample_request(&x); sm_request_encode(&x, b); }
static void enc_dblock(uint8_t *b) { struct sm_dblock x; sample_dblock(&x); sm_dblock_encode(&x, b); }
static void enc_mode(uint8_t *b) { struct sm_mode_block x; sample_mode(&x); sm_mode_encode(&x, b); }
static void enc_index(uint8_t *b) { struct sm_index_entry x; sample_index(&x); sm_index_encode(&x, b); }
static int dec_header(const uint8_t *b) { struct sm_volume_header x; return sm_header_decode(b, &x); }
static int dec_host(const uint8_t *b) { struct sm_host_record x; return sm_host_decode(b, &x, NULL, 0); }
static int dec_leader(const uint8_t *b) { struct sm_leader x; return sm_leader_decode(b, &x, NULL, NULL, 0); }
static int dec_request(const uint8_t *b) { struct sm_request x; return sm_request_decode(b, &x, NULL, 0); }
static int dec_dblock(const uint8_t *b) { struct sm_dblock x; return sm_dblock_decode(b, &x); }
static int dec_mode(const uint8_t *b) { struct sm_mode_block x; return sm_mode_decode(b, &x); }
static int dec_index(const uint8_t *b) { struct sm_index_entry x; return sm_index_decode(b, &x); }

static const struct rtype {
	const char *name;
	uint32_t magic;
	size_t size;
	void (*encode)(uint8_t *buf);
	int (*decode)(const uint8_t *buf);
} rtypes[] = {
	{"header", SM_MAGIC_HEADER, SM_HEADER_SIZE, enc_header, dec_header},
	{"host", SM_MAGIC_HOST, SM_HOST_SIZE, enc_host, dec_host},
	{"leader", SM_MAGIC_LEADER, SM_LEADER_SIZE, enc_leader, dec_leader},
	{"request", SM_MAGIC_REQUEST, SM_REQUEST_SIZE, enc_request, dec_request},
	{"dblock", SM_MAGIC_DBLOCK, SM_DBLOCK_SIZE, enc_dblock, dec_dblock},
	{"mode", SM_MAGIC_MODE, SM_MODE_SIZE, enc_mode, dec_mode},
	{"index", SM_MAGIC_INDEX, SM_INDEX_ENTRY_SIZE, enc_index, dec_index},
};
#define NTYPES (sizeof(rtypes) / sizeof(rtypes[0]))

/* A sector holding the sample of type t at its start, the rest zero. */
static void sector_with(const struct rtype *t, uint8_t *sec)
{
	memset(sec, 0, 512);
	t->encode(sec);
}

static void fix_crc(const struct rtype *t, uint8_t *sec)
{
	sm_put_le32(sec + t->size - 4, sm_crc32c(sec, t->size - 4));
}

static void every_record_type_round_trips_every_field(void **state)
{
	uint8_t b[512], again[512];

	struct sm_volume_header h, hd;
	sample_header(&h);
	sm_header_encode(&h, b);
	memset(&hd, 0x5a, sizeof(hd));
	assert_int_equal(sm_header_decode(b, &hd), 0);
	assert_memory_equal(&h, &hd, sizeof(h));
	sm_header_encode(&hd, again);
	assert_memory_equal(b, again, SM_HEADER_SIZE);
	h.sector_size = 512; /* the other supported size */
	sm_header_encode(&h, b);
	assert_int_equal(sm_header_decode(b, &hd), 0);
	assert_memory_equal(&h, &hd, sizeof(h));

	struct sm_host_record r, rd;
	sample_host(&r);
	sm_host_encode(&r, b);
	memset(&rd, 0x5a, sizeof(rd));
	assert_int_equal(sm_host_decode(b, &rd, NAME63, 512), 0);
	assert_memory_equal(&r, &rd, sizeof(r));
	sm_host_encode(&rd, again);
	assert_memory_equal(b, again, SM_HOST_SIZE);

	struct sm_leader l, ld;
	sample_leader(&l);
	sm_leader_encode(&l, b);
	memset(&ld, 0x5a, sizeof(ld));
	assert_int_equal(sm_leader_decode(b, &ld, l.lockspace, l.resource, 4096), 0);
	assert_memory_equal(&l, &ld, sizeof(l));
	sm_leader_encode(&ld, again);
	assert_memory_equal(b, again, SM_LEADER_SIZE);

	struct sm_request q, qd;
	sample_request(&q);
	sm_request_encode(&q, b);
	memset(&qd, 0x5a, sizeof(qd));
	assert_int_equal(sm_request_decode(b, &qd, NAME63, 512), 0);
	assert_memory_equal(&q, &qd, sizeof(q));
	sm_request_encode(&qd, again);
	assert_memory_equal(b, again, SM_REQUEST_SIZE);

	struct sm_dblock d, dd;
	sample_dblock(&d);
	sm_dblock_encode(&d, b);
	memset(&dd, 0x5a, sizeof(dd));
	assert_int_equal(sm_dblock_decode(b, &dd), 0);
	assert_memory_equal(&d, &dd, sizeof(d));
	sm_dblock_encode(&dd, again);
	assert_memory_equal(b, again, SM_DBLOCK_SIZE);

	struct sm_mode_block m, md;
	sample_mode(&m);
	sm_mode_encode(&m, b);
	memset(&md, 0x5a, sizeof(md));
	assert_int_equal(sm_mode_decode(b, &md), 0);
	assert_memory_equal(&m, &md, sizeof(m));
	sm_mode_encode(&md, again);
	assert_memory_equal(b, again, SM_MODE_SIZE);

	struct sm_index_entry e, ed;
	sample_index(&e);
	sm_index_encode(&e, b);
	memset(&ed, 0x5a, sizeof(ed));
	assert_int_equal(sm_index_decode(b, &ed), 0);
	assert_memory_equal(&e, &ed, sizeof(e));
	sm_index_encode(&ed, again);
	assert_memory_equal(b, again, SM_INDEX_ENTRY_SIZE);
}

/* The byte tables of docs/ondisk.md, spot-checked on the encoded samples: a
 * field that moves is a format change. */
static void every_record_type_matches_the_documented_layout(void **state)
{
	uint8_t b[512];
	for (size_t t = 0; t < NTYPES; t++) {
		sector_with(&rtypes[t], b);
		assert_int_equal(sm_get_le32(b), rtypes[t].magic);
		assert_int_equal(sm_get_le16(b + 4), SM_FORMAT_VERSION);
		assert_int_equal(sm_get_le32(b + rtypes[t].size - 4), sm_crc32c(b, rtypes[t].size - 4));
		for (size_t i = rtypes[t].size; i < 512; i++)
			assert_int_equal(b[i], 0);
		assert_memory_equal(sm_magic_name(rtypes[t].magic), b, 4); /* "SMxx" in a dump */
	}
	enc_header(b);
	assert_int_equal(sm_get_le32(b + 8), 4096);
	assert_int_equal(sm_get_le32(b + 12), 0x0203);
	assert_int_equal(b[16], 0xa0);
	assert_string_equal((char *)b + 32, NAME63);
	assert_int_equal(sm_get_le32(b + 96), 0x04050607);
	assert_int_equal(sm_get_le32(b + 100), 0x08090a0b);
	assert_true(sm_get_le64(b + 104) == 0x1112131415161718ull);
	assert_true(sm_get_le64(b + 112) == 0x2122232425262728ull);
	assert_true(sm_get_le64(b + 120) == 0x3132333435363738ull);
	assert_true(sm_get_le64(b + 128) == 0x4142434445464748ull);
	assert_int_equal(sm_get_le32(b + 136), 0x0c0d0e0f);
	assert_int_equal(sm_get_le32(b + 140), 0x10111213);
	assert_true(sm_get_le64(b + 144) == 0x5152535455565758ull);
	assert_true(sm_get_le64(b + 152) == 0x6162636465666768ull);

	enc_host(b);
	assert_int_equal(sm_get_le16(b + 6), SM_HOST_HELD);
	assert_int_equal(sm_get_le32(b + 8), 512);
	assert_int_equal(sm_get_le32(b + 12), 0x01020304);
	assert_true(sm_get_le64(b + 16) == 0x1112131415161718ull);
	assert_true(sm_get_le64(b + 24) == 0x2122232425262728ull);
	assert_true(sm_get_le64(b + 32) == 0x3132333435363738ull);
	assert_string_equal((char *)b + 40, NAME63);
	assert_int_equal(b[104], 'H');
	assert_int_equal(b[168], 0xc0);
	assert_int_equal(sm_get_le32(b + 184), 0x05060708);
	assert_int_equal(sm_get_le32(b + 188), 0x090a0b0c);
	assert_true(sm_get_le64(b + 192) == 0x4142434445464748ull);

	enc_leader(b);
	assert_int_equal(sm_get_le16(b + 6), SM_LEADER_REMOVED);
	assert_int_equal(sm_get_le32(b + 8), 4096);
	assert_int_equal(sm_get_le32(b + 12), 0x01020304);
	assert_string_equal((char *)b + 16, NAME63);
	assert_int_equal(b[80], 'R');
	assert_true(sm_get_le64(b + 144) == 0x1112131415161718ull);
	assert_int_equal(sm_get_le32(b + 152), 0x05060708);
	assert_int_equal(sm_get_le32(b + 156), SM_MODE_SH);
	assert_true(sm_get_le64(b + 160) == 0x2122232425262728ull);
	assert_int_equal(sm_get_le32(b + 168), 0x090a0b0c);
	assert_int_equal(sm_get_le32(b + 172), 0x0d0e0f10);
	assert_true(sm_get_le64(b + 176) == 0x3132333435363738ull);
	assert_true(sm_get_le64(b + 184) == 0x4142434445464748ull);
	assert_int_equal(sm_get_le32(b + 192), 0x11121314);

	enc_request(b);
	assert_int_equal(sm_get_le16(b + 6), 0x0102);
	assert_int_equal(sm_get_le32(b + 8), 512);
	assert_int_equal(sm_get_le32(b + 12), SM_REQ_HANDOFF);
	assert_int_equal(sm_get_le32(b + 16), 0x03040506);
	assert_true(sm_get_le64(b + 24) == 0x1112131415161718ull);
	assert_true(sm_get_le64(b + 32) == 0x2122232425262728ull);
	assert_string_equal((char *)b + 40, NAME63);
	assert_true(sm_get_le64(b + 104) == 0x3132333435363738ull);

	enc_dblock(b);
	assert_int_equal(sm_get_le16(b + 6), 0x0102);
	assert_int_equal(sm_get_le32(b + 8), 0x03040506);
	assert_int_equal(sm_get_le32(b + 12), SM_MODE_EX);
	assert_true(sm_get_le64(b + 16) == 0x1112131415161718ull);
	assert_true(sm_get_le64(b + 24) == 0x2122232425262728ull);
	assert_true(sm_get_le64(b + 32) == 0x3132333435363738ull);
	assert_int_equal(sm_get_le32(b + 40), 0x0708090a);
	assert_true(sm_get_le64(b + 48) == 0x4142434445464748ull);
	assert_true(sm_get_le64(b + 56) == 0x5152535455565758ull);

	enc_mode(b);
	assert_int_equal(sm_get_le16(b + 6), SM_MODEB_SHARED);
	assert_true(sm_get_le64(b + 8) == 0x1112131415161718ull);
	assert_true(sm_get_le64(b + 16) == 0x2122232425262728ull);

	enc_index(b);
	assert_int_equal(sm_get_le16(b + 6), SM_INDEX_USED);
	assert_int_equal(sm_get_le32(b + 8), 0x01020304);
	assert_int_equal(sm_get_le32(b + 12), 0x05060708);
	assert_string_equal((char *)b + 16, NAME63);
	assert_true(sm_get_le64(b + 80) == 0x1112131415161718ull);
}

/* Wrong magic, for every type: empty and erased sectors, a valid record of
 * every other type, and a foreign magic under a correct checksum. */
static void every_record_type_reports_wrong_magic(void **state)
{
	uint8_t b[512];
	for (size_t t = 0; t < NTYPES; t++) {
		const struct rtype *rt = &rtypes[t];
		memset(b, 0, sizeof(b));
		assert_int_equal(rt->decode(b), -SM_EBAD_MAGIC); /* never-written sector is not "free" */
		memset(b, 0xff, sizeof(b));
		assert_int_equal(rt->decode(b), -SM_EBAD_MAGIC);
		for (size_t o = 0; o < NTYPES; o++) {
			if (o == t)
				continue;
			sector_with(&rtypes[o], b);
			assert_int_equal(rt->decode(b), -SM_EBAD_MAGIC);
		}
		/* magic byte-swapped / off by one bit, checksum made to match, and
		 * a wrong version too: magic is reported first */
		uint32_t wrong[] = {__builtin_bswap32(rt->magic), rt->magic ^ 0x80000000u, rt->magic + 1, 0};
		for (size_t w = 0; w < sizeof(wrong) / sizeof(wrong[0]); w++) {
			sector_with(rt, b);
			sm_put_le32(b, wrong[w]);
			fix_crc(rt, b);
			assert_int_equal(rt->decode(b), -SM_EBAD_MAGIC);
			sm_put_le16(b + 4, SM_FORMAT_VERSION + 1);
			assert_int_equal(rt->decode(b), -SM_EBAD_MAGIC);
		}
	}
}

/* Wrong version, for every type: reported as such even under a correct
 * checksum, and before a checksum error. */
static void every_record_type_reports_wrong_version(void **state)
{
	uint8_t b[512];
	const uint16_t versions[] = {0, SM_FORMAT_VERSION + 1, 0x0100, 0xffff};
	for (size_t t = 0; t < NTYPES; t++) {
		const struct rtype *rt = &rtypes[t];
		for (size_t v = 0; v < sizeof(versions) / sizeof(versions[0]); v++) {
			sector_with(rt, b);
			sm_put_le16(b + 4, versions[v]);
			fix_crc(rt, b);
			assert_int_equal(rt->decode(b), -SM_EBAD_VERSION);
			b[rt->size - 1] ^= 0x10; /* and a bad checksum: version first */
			assert_int_equal(rt->decode(b), -SM_EBAD_VERSION);
		}
		/* the right version with a bad checksum is a checksum error */
		sector_with(rt, b);
		b[rt->size - 1] ^= 0x10;
		assert_int_equal(rt->decode(b), -SM_EBAD_CHECKSUM);
	}
}

/* Every single-byte corruption of every record (all 255 wrong values of
 * each byte, so every single-bit flip too) is detected: the magic bytes as
 * a wrong magic, the version bytes as a wrong version, any other byte —
 * flags, fields, padding inside the record, the checksum itself — as a
 * checksum error.  And no decoder of any type accepts the damaged record. */
static void every_record_type_detects_every_corrupted_byte(void **state)
{
	uint8_t b[512];
	unsigned cases = 0;
	for (size_t t = 0; t < NTYPES; t++) {
		const struct rtype *rt = &rtypes[t];
		sector_with(rt, b);
		assert_int_equal(rt->decode(b), 0);
		for (size_t i = 0; i < rt->size; i++) {
			int want = i < 4 ? -SM_EBAD_MAGIC : i < 6 ? -SM_EBAD_VERSION : -SM_EBAD_CHECKSUM;
			for (unsigned x = 1; x < 256; x++) {
				b[i] ^= (uint8_t)x;
				int rc = rt->decode(b);
				if (rc != want)
					fail_msg("%s record: byte %zu ^ %#x decoded as %d, want %d", rt->name, i, x, rc,
						 want);
				for (size_t o = 0; o < NTYPES; o++)
					if (rtypes[o].decode(b) == 0)
						fail_msg("%s record: byte %zu ^ %#x decodes as a valid %s record", rt->name,
							 i, x, rtypes[o].name);
				b[i] ^= (uint8_t)x;
				cases++;
			}
		}
		assert_int_equal(rt->decode(b), 0); /* restored */
	}
	assert_int_equal(cases, 255 * (4 * 256 + 2 * 128 + 64));
}

/* The free/empty forms that formatting writes decode as such — and the same
 * records with one flipped bit do not (a damaged "free" record must never be
 * handed out as free). */
static void free_records_decode_as_free_only_when_intact(void **state)
{
	uint8_t b[5][512];
	memset(b, 0, sizeof(b));
	struct sm_host_record hr = {.flags = SM_HOST_FREE, .sector_size = 512, .host_id = 3};
	sm_host_encode(&hr, b[0]);
	struct sm_index_entry ie = {.flags = SM_INDEX_FREE, .area = 3};
	sm_index_encode(&ie, b[1]);
	struct sm_leader fl = {.sector_size = 512, .mode = SM_MODE_FREE};
	sm_leader_encode(&fl, b[2]);
	struct sm_dblock zd = {.host_id = 3};
	sm_dblock_encode(&zd, b[3]);
	struct sm_mode_block zm = {0};
	sm_mode_encode(&zm, b[4]);
	const size_t size[5] = {SM_HOST_SIZE, SM_INDEX_ENTRY_SIZE, SM_LEADER_SIZE, SM_DBLOCK_SIZE, SM_MODE_SIZE};
	int (*const dec[5])(const uint8_t *) = {dec_host, dec_index, dec_leader, dec_dblock, dec_mode};
	for (int f = 0; f < 5; f++) {
		assert_int_equal(dec[f](b[f]), 0);
		for (size_t i = 0; i < size[f]; i++)
			for (int bit = 0; bit < 8; bit++) {
				b[f][i] ^= (uint8_t)(1u << bit);
				assert_int_not_equal(dec[f](b[f]), 0);
				b[f][i] ^= (uint8_t)(1u << bit);
			}
		assert_int_equal(dec[f](b[f]), 0);
	}
}

static void header_reports_unsupported_sector_size_after_checksum(void **state)
{
	struct sm_volume_header h, d;
	sample_header(&h);
	uint8_t b[SM_HEADER_SIZE];
	const uint32_t bad[] = {0, 1024, 2048, 8192, 513};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h.sector_size = bad[i];
		sm_header_encode(&h, b);
		assert_int_equal(sm_header_decode(b, &d), -SM_EWRONG_SECTOR_SIZE);
		b[20] ^= 1;
		assert_int_equal(sm_header_decode(b, &d), -SM_EBAD_CHECKSUM);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(header_round_trips),
		cmocka_unit_test(fenced_header_is_version_3_and_checked),
		cmocka_unit_test(caw_header_is_version_4_fenced_or_not),
		cmocka_unit_test(shared_holders_round_trip_and_are_checked),
		cmocka_unit_test(encoding_is_little_endian_with_magic_first),
		cmocka_unit_test(leader_round_trips_with_64bit_lver),
		cmocka_unit_test(decode_reports_wrong_magic),
		cmocka_unit_test(decode_reports_unsupported_version),
		cmocka_unit_test(decode_reports_bad_checksum_for_any_flipped_byte),
		cmocka_unit_test(decode_reports_wrong_lockspace_resource_and_sector_size),
		cmocka_unit_test(host_mode_and_index_records_round_trip),
		cmocka_unit_test(names_are_always_nul_terminated_after_decode),
		cmocka_unit_test(every_record_type_round_trips_every_field),
		cmocka_unit_test(every_record_type_matches_the_documented_layout),
		cmocka_unit_test(every_record_type_reports_wrong_magic),
		cmocka_unit_test(every_record_type_reports_wrong_version),
		cmocka_unit_test(every_record_type_detects_every_corrupted_byte),
		cmocka_unit_test(free_records_decode_as_free_only_when_intact),
		cmocka_unit_test(header_reports_unsupported_sector_size_after_checksum),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
