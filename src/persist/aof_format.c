/*
 * aof_format.c - the AOF segment format: header, records, effect payloads,
 * the streaming reader and the writer.  Pure format: no file I/O, no policy.
 *
 * BYTE LAYOUT (all integers little-endian)
 *
 *   A segment is a file header followed by zero or more records.
 *
 *   File header, 72 bytes (struct aof_disk_header):
 *      0  8  magic "KEVYAOF\0"
 *      8  2  version (4; versions 1 to 3 are still read, see below)
 *     10  2  header_len (72 for versions 1 to 4)
 *     12  4  flags (0)
 *     16 16  dataset id (random, fixed at the dataset's first start; not all zero)
 *     32  4  shard id (< shard count)
 *     36  4  shard count (>= 1)
 *     40  8  generation
 *     48  8  start LSN: every record's LSN is greater
 *     56  8  creation time, ms since the epoch
 *     64  8  checksum: XXH3-64, seed 0, of bytes [0, 64)
 *   Every version, present and future, keeps magic, version and header_len
 *   at offsets 0, 8 and 10 and ends its header with an XXH3-64 (seed 0) of the
 *   header's other bytes.  That is what lets a reader tell "a newer kevy
 *   wrote this" (checksum verifies, version unknown) from "the version field
 *   is damaged" (checksum fails).
 *
 *   Version 3 frames records exactly as version 2; what it adds is in the
 *   payloads: effects may name a database (SELECT n, FLUSHDB, SWAPDB a b,
 *   commands/fx.h), which a reader of versions 1 and 2 must not apply as if
 *   everything were in database 0.  A version 1 or 2 file holds database 0
 *   only.  (A version 1 or 2 segment that a newer kevy recovered and appends
 *   to keeps its version, so it may then hold such effects: an older kevy
 *   refuses them as "not an effect" rather than misapplying them.)
 *
 *   Version 4 adds two record types, for units across shards (a txn that
 *   changed keys on several shards): UNIT (3), one shard's part, and
 *   RESOLVE (4), what a recovery dropped.  Their payloads are below.  A
 *   segment of an older version never holds them: recovery starts a
 *   version 4 segment rather than append to an older one.
 *
 *   Record, 32-byte header + payload (struct aof_disk_record):
 *      0  8  checksum: XXH3-64(seed, bytes [8, 32 + payload_len))
 *      8  4  payload_len
 *     12  1  type: 1 EFFECT, 2 SEGMENT_END, 3 UNIT, 4 RESOLVE (3, 4: version 4)
 *     13  1  flags (0)
 *     14  2  sync gap (version 2; 0 in version 1), see DURABLE BOUND
 *     16  8  LSN
 *     24  8  header_check: XXH3-64(seed, bytes [8, 24))
 *     32     payload
 *   seed is the file header's checksum, so a record verifies only inside the
 *   segment it was written for (a record spliced in from another segment, or
 *   a value that happens to contain a record's bytes, does not).
 *   header_check lets a reader trust a record's length and LSN before it has
 *   the payload: a verified header whose length is over the limit is a real
 *   oversized record (corrupt), not tail garbage.
 *
 *   EFFECT payload: i64 time (ms since the epoch, the clock the commands ran
 *   with; replay runs them with it), then one or more commands, back to back,
 *   filling the payload:
 *     command := varint argc (>= 1), then argc times (varint len, len bytes)
 *   varint is unsigned LEB128, minimal (no redundant 0x80 groups), at most
 *   10 bytes.  A MULTI/EXEC is one record with several commands.
 *   UNIT payload: u64 boot (!= 0), u64 seq (the unit id), varint row count
 *   (>= 1), each row: varint shard (each shard once), u8 role (1 PART, 2
 *   READ), varint LSN, and for READ a key list; then a key list (this
 *   part's own extra reads); then an EFFECT payload as above.
 *     key list := varint count (UINT64_MAX: every key), then count times
 *                 (varint db, varint len, len bytes)
 *   RESOLVE payload: i64 time, varint count (>= 1), count LSNs ascending as
 *   deltas (each >= 1, the first from 0), varint id count, that many
 *   16-byte unit ids (u64 boot, u64 seq); nothing after.
 *   SEGMENT_END payload: u64 number of records with an LSN (EFFECT, UNIT,
 *   RESOLVE) in the segment; its LSN equals the last such record's LSN
 *   (start LSN if none).  Nothing follows it.
 *
 * VALIDITY RULE
 *
 *   A record at offset o is valid when all of its 32 + payload_len bytes are
 *   in the file, header_check and checksum verify, type is known, flags is 0
 *   (and, in version 1, the sync gap), payload_len <= the configured
 *   maximum, its LSN is greater than the previous record's (the start LSN
 *   for the first) -- in version 2 exactly one greater --, and its payload
 *   is well formed for its type.  A record is "bad" when it is incomplete or
 *   when header_check or checksum fails; a record whose header verifies but
 *   breaks another rule is not bad but corrupt (the writer wrote it so).
 *
 * RECOVERY RULE (the reader's verdict; policy acts on it)
 *
 *   Let o be the offset of the first bad record.  If no valid record (both
 *   checks verify, complete in the file) starts at any byte offset after o,
 *   the bytes [o, EOF) are a TORN TAIL (KV_ETORN): an interrupted append.
 *   Recovery copies them to a quarantine file, fsyncs it, truncates the
 *   segment to o, and logs offset, byte count and the LSN range of the
 *   record headers that verify in the dropped bytes.  This holds for an
 *   incomplete record, a complete record whose checksum fails, and any
 *   zeros or garbage after either.  Only the last segment may have a torn
 *   tail; in any other segment the caller treats KV_ETORN as corrupt.
 *   In version 2 the same holds when every valid record after o is an
 *   UNSYNCED FOLLOWER: its LSN is above the last valid LSN before o (L) and
 *   its durable bound is <= L (see below).  Such a record was framed before
 *   anything from o on could have been durable, so nothing from o on was
 *   ever acknowledged under appendfsync always, and a power cut may keep any
 *   subset of unsynced writes: a hole followed by later writes is still an
 *   interrupted append.  The followers are dropped with the tail.
 *   Everything else is CORRUPT (KV_ECORRUPT) and recovery refuses to start:
 *   a bad record followed anywhere by a valid one that is not an unsynced
 *   follower, a verified header that
 *   breaks a rule (length over the maximum, LSN not increasing, unknown
 *   type), a malformed payload, bytes after SEGMENT_END, a bad file header.
 *   A file shorter than its header is KV_ETORN at offset 0 (the segment's
 *   creation was interrupted).  Bad magic is "not a kevy AOF" (KV_ECORRUPT),
 *   a verified header of another version KV_EVERSION, and a header of
 *   another dataset, shard, shard count or generation KV_EMISMATCH.
 *
 * PREALLOCATED SPACE (every version)
 *
 *   The writer keeps zero bytes ahead of its appends (written zeros, not a
 *   hole: overwriting allocated blocks lets fdatasync skip the journal
 *   commit a growing file forces), so a segment may end in a run of zero
 *   bytes.  Where the next record (or, after SEGMENT_END, nothing) should
 *   start, a zero byte begins such a run.  If zeros run to EOF, the file
 *   is clean: the records end where the zeros begin (valid_end) and the
 *   zeros are free_bytes, not a torn tail, in any segment.  If a non-zero
 *   byte follows, the run is an unwritten hole and is judged exactly as a
 *   bad record at its first byte (torn tail or corrupt, by the rule
 *   above), or, after SEGMENT_END, as data after it.  A record header
 *   never starts with a zero run long enough to be mistaken: an all-zero
 *   header does not verify.
 *
 * DURABLE BOUND (version 2)
 *
 *   The sync gap is LSN minus the highest LSN the writer knew durable (its
 *   last completed fsync) when it framed the record; 0 when it did not say
 *   (the strict reading: the record claims itself durable).  Encoded in 16
 *   bits: below 0x8000 exactly, else 0x8000 | min(gap >> 15, 0x7fff), which
 *   decodes to gap rounded down to a multiple of 2^15, so the bound LSN -
 *   decoded gap is never below the truth.  Version 1 records have no gap
 *   (bound = LSN), so a hole followed by a valid record is corrupt there,
 *   as version 1 readers judged it; a version 1 segment that is appended to
 *   keeps writing version 1 records.
 */
#include "persist/aof_format.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "persist/file_header.h"
#include "base/le.h"
#include "base/varint.h"

_Static_assert(sizeof(struct aof_disk_header) == AOF_HEADER_SIZE, "AOF header size");
_Static_assert(offsetof(struct aof_disk_header, version) == 8, "AOF header layout");
_Static_assert(offsetof(struct aof_disk_header, header_len) == 10, "AOF header layout");
_Static_assert(offsetof(struct aof_disk_header, flags) == 12, "AOF header layout");
_Static_assert(offsetof(struct aof_disk_header, dataset_id) == 16, "AOF header layout");
_Static_assert(offsetof(struct aof_disk_header, shard_id) == 32, "AOF header layout");
_Static_assert(offsetof(struct aof_disk_header, shard_count) == 36, "AOF header layout");
_Static_assert(offsetof(struct aof_disk_header, generation) == 40, "AOF header layout");
_Static_assert(offsetof(struct aof_disk_header, start_lsn) == 48, "AOF header layout");
_Static_assert(offsetof(struct aof_disk_header, created_ms) == 56, "AOF header layout");
_Static_assert(offsetof(struct aof_disk_header, checksum) == 64, "AOF header layout");
_Static_assert(sizeof(struct aof_disk_record) == AOF_RECORD_HEADER_SIZE, "AOF record header size");
_Static_assert(offsetof(struct aof_disk_record, payload_len) == 8, "AOF record layout");
_Static_assert(offsetof(struct aof_disk_record, type) == 12, "AOF record layout");
_Static_assert(offsetof(struct aof_disk_record, flags) == 13, "AOF record layout");
_Static_assert(offsetof(struct aof_disk_record, sync_gap) == 14, "AOF record layout");
_Static_assert(offsetof(struct aof_disk_record, lsn) == 16, "AOF record layout");
_Static_assert(offsetof(struct aof_disk_record, header_check) == 24, "AOF record layout");
_Static_assert(sizeof(AOF_MAGIC) == AOF_MAGIC_LEN + 1, "AOF magic is 8 bytes");

#define HDR_OFF(f) offsetof(struct aof_disk_header, f)
#define REC_OFF(f) offsetof(struct aof_disk_record, f)
/* Offsets every version shares (see the layout above). */
#define HDR_MIN_PREFIX 12
#define HDR_MAX_LEN 4096
#define END_PAYLOAD_LEN 8

/* ---- file header ---- */

static const struct file_kind aof_file_kind = {
	.magic = AOF_MAGIC,
	.version = AOF_FORMAT_VERSION,
	.min_version = AOF_FORMAT_MIN_VERSION,
	.foreign = "not a kevy AOF file",
	.name = "AOF",
};

void aof_header_encode(struct file_header *h, uint8_t out[AOF_HEADER_SIZE])
{
	file_header_encode(&aof_file_kind, h, out);
}

void aof_header_init(struct file_header *h, const uint8_t dataset_id[AOF_DATASET_ID_LEN],
		     uint32_t shard_id, uint32_t shard_count, uint64_t generation,
		     uint64_t start_lsn, int64_t created_ms)
{
	file_header_init(&aof_file_kind, h, dataset_id, shard_id, shard_count, generation,
			 start_lsn, created_ms);
}

int aof_header_decode(const void *src, size_t len, const struct file_expect *exp,
		      struct file_header *h, enum aof_verdict_kind *kind,
		      char *msg, size_t cap)
{
	static const enum aof_verdict_kind kinds[] = {
		[FILE_HDR_OK] = AOF_VERDICT_CLEAN, [FILE_HDR_FOREIGN] = AOF_VERDICT_NOT_AOF,
		[FILE_HDR_SHORT] = AOF_VERDICT_TORN, [FILE_HDR_CORRUPT] = AOF_VERDICT_CORRUPT,
		[FILE_HDR_VERSION] = AOF_VERDICT_VERSION, [FILE_HDR_MISMATCH] = AOF_VERDICT_MISMATCH,
	};
	struct file_header fh;
	enum file_header_fault fault;
	int rc = file_header_decode(&aof_file_kind, src, len, exp, &fh, &fault, msg, cap);
	if (kind)
		*kind = kinds[fault];
	if (rc == 0 && h)
		*h = fh;
	return rc;
}

/* ---- effect payload ---- */


size_t aof_payload_size(int argc, const struct kv_slice *argv)
{
	size_t n = varint_len((uint64_t)argc);
	for (int i = 0; i < argc; i++)
		n += varint_len(argv[i].len) + argv[i].len;
	return n;
}

void aof_payload_begin(struct kv_buf *b, int64_t time_ms)
{
	uint8_t t[AOF_EFFECT_TIME_SIZE];
	le_put64(t, (uint64_t)time_ms);
	kv_buf_append(b, t, sizeof(t));
}

void aof_payload_append(struct kv_buf *b, int argc, const struct kv_slice *argv)
{
	kv_assert(argc >= 1);
	kv_buf_reserve(b, aof_payload_size(argc, argv));
	varint_put(b, (uint64_t)argc);
	for (int i = 0; i < argc; i++) {
		varint_put(b, argv[i].len);
		kv_buf_append(b, argv[i].ptr, argv[i].len);
	}
}

/* One command from *pp; fills argv[0..argc) when argv is not NULL (it then
 * has room for *argc, which the caller learns from a first pass). */
static int payload_command(const uint8_t **pp, const uint8_t *end, uint64_t *argc,
			   struct kv_slice *argv)
{
	const uint8_t *p = *pp;
	uint64_t n;

	if (varint_get(&p, end, &n) < 0)
		return KV_ECORRUPT;
	/* Every argument takes at least its length byte. */
	if (n == 0 || n > (uint64_t)(end - p) || n > INT32_MAX)
		return KV_ECORRUPT;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t len;
		if (varint_get(&p, end, &len) < 0 || len > (uint64_t)(end - p))
			return KV_ECORRUPT;
		if (argv)
			argv[i] = (struct kv_slice){ (const char *)p, (size_t)len };
		p += len;
	}
	*argc = n;
	*pp = p;
	return 0;
}

int aof_payload_validate(const void *payload, size_t len, uint64_t *ncmds)
{
	const uint8_t *p = payload, *end = p + len;
	uint64_t n = 0, argc;

	if (len <= AOF_EFFECT_TIME_SIZE)
		return KV_ECORRUPT;
	p += AOF_EFFECT_TIME_SIZE;
	while (p < end) {
		if (payload_command(&p, end, &argc, NULL) < 0)
			return KV_ECORRUPT;
		n++;
	}
	if (ncmds)
		*ncmds = n;
	return 0;
}

void aof_payload_iter_init(struct aof_payload_iter *it, const void *payload, size_t len)
{
	it->p = payload;
	it->end = it->p + len;
	it->argv = NULL;
	it->argv_cap = 0;
	it->time_ms = 0;
	it->bad = len < AOF_EFFECT_TIME_SIZE;
	if (!it->bad) {
		it->time_ms = (int64_t)le_get64(it->p);
		it->p += AOF_EFFECT_TIME_SIZE;
	}
}

int aof_payload_next(struct aof_payload_iter *it, int *argc, struct kv_slice **argv)
{
	const uint8_t *p = it->p;
	uint64_t n;

	if (it->bad)
		return KV_ECORRUPT;
	if (p == it->end)
		return 0;
	if (payload_command(&p, it->end, &n, NULL) < 0)
		return KV_ECORRUPT;
	if (n > (uint64_t)it->argv_cap) {
		it->argv = kv_realloc(it->argv, (size_t)n * sizeof(*it->argv));
		it->argv_cap = (int)n;
	}
	p = it->p;
	payload_command(&p, it->end, &n, it->argv);
	it->p = p;
	*argc = (int)n;
	*argv = it->argv;
	return 1;
}

void aof_payload_iter_free(struct aof_payload_iter *it)
{
	free(it->argv);
	it->argv = NULL;
	it->argv_cap = 0;
}

/* ---- records ---- */

/* The sync gap of a record: exact below 2^15, then in steps of 2^15 rounded
 * down (up to about 2^30), so the decoded value never exceeds the real one
 * and the durable bound it gives (LSN - gap) never claims too little. */
static uint16_t sync_gap_encode(uint64_t gap)
{
	if (gap < 0x8000)
		return (uint16_t)gap;
	uint64_t steps = gap >> 15;
	return (uint16_t)(0x8000 | (steps > 0x7fff ? 0x7fff : steps));
}

static uint64_t sync_gap_decode(uint16_t v)
{
	return v < 0x8000 ? v : (uint64_t)(v & 0x7fff) << 15;
}

static uint64_t durable_bound(const uint8_t *rec, uint16_t version)
{
	uint64_t lsn = le_get64(rec + REC_OFF(lsn));
	uint64_t gap = version >= 2 ? sync_gap_decode(le_get16(rec + REC_OFF(sync_gap))) : 0;
	return gap < lsn ? lsn - gap : 0;
}

static uint64_t encoder_gap(const struct aof_encoder *e, uint64_t lsn)
{
	if (!e->track_durable || e->durable_lsn >= lsn)
		return 0;
	return lsn - e->durable_lsn;
}

static void record_fill(uint8_t *rec, uint64_t seed, uint8_t type, uint8_t flags,
			uint64_t lsn, size_t len, uint64_t gap)
{
	le_put32(rec + REC_OFF(payload_len), (uint32_t)len);
	rec[REC_OFF(type)] = type;
	rec[REC_OFF(flags)] = flags;
	le_put16(rec + REC_OFF(sync_gap), sync_gap_encode(gap));
	le_put64(rec + REC_OFF(lsn), lsn);
	le_put64(rec + REC_OFF(header_check), kv_hash64(rec + 8, 16, seed));
	le_put64(rec + REC_OFF(checksum), kv_hash64(rec + 8, AOF_RECORD_HEADER_SIZE - 8 + len, seed));
}

static void record_append(struct kv_buf *b, uint64_t seed, uint8_t type, uint8_t flags,
			  uint64_t lsn, const void *payload, size_t len, uint64_t gap)
{
	kv_assert(len <= AOF_PAYLOAD_FORMAT_MAX);
	uint8_t *rec = (uint8_t *)kv_buf_reserve(b, AOF_RECORD_HEADER_SIZE + len);
	if (len)
		memcpy(rec + AOF_RECORD_HEADER_SIZE, payload, len);
	record_fill(rec, seed, type, flags, lsn, len, gap);
	b->len += AOF_RECORD_HEADER_SIZE + len;
}

void aof_record_append_raw(struct kv_buf *b, uint64_t seed, uint8_t type, uint8_t flags,
			   uint64_t lsn, const void *payload, size_t len)
{
	record_append(b, seed, type, flags, lsn, payload, len, 0);
}

void aof_encoder_init(struct aof_encoder *e, const struct file_header *h, size_t max_payload)
{
	memset(e, 0, sizeof(*e));
	e->seed = h->checksum;
	e->last_lsn = h->lsn;
	e->max_payload = max_payload ? KV_MIN(max_payload, AOF_PAYLOAD_FORMAT_MAX)
				     : AOF_PAYLOAD_DEFAULT_MAX;
	e->version = h->version;
}

void aof_encoder_set_durable(struct aof_encoder *e, uint64_t lsn)
{
	/* A version 1 segment (appended to after an upgrade) keeps gap 0. */
	e->track_durable = e->version >= 2;
	if (lsn > e->durable_lsn)
		e->durable_lsn = lsn;
}

void aof_encoder_begin(struct aof_encoder *e, struct kv_buf *b, int64_t time_ms)
{
	kv_assert(!e->open && !e->sealed);
	e->mark = b->len;
	e->open = true;
	kv_buf_reserve(b, AOF_RECORD_HEADER_SIZE);
	memset(b->data + b->len, 0, AOF_RECORD_HEADER_SIZE);
	b->len += AOF_RECORD_HEADER_SIZE;
	aof_payload_begin(b, time_ms);
}

void aof_encoder_add(struct aof_encoder *e, struct kv_buf *b, int argc,
		     const struct kv_slice *argv)
{
	kv_assert(e->open && b->len >= e->mark + AOF_RECORD_HEADER_SIZE);
	aof_payload_append(b, argc, argv);
}

int aof_encoder_commit(struct aof_encoder *e, struct kv_buf *b, uint64_t *lsn)
{
	kv_assert(e->open && b->len > e->mark + AOF_RECORD_HEADER_SIZE + AOF_EFFECT_TIME_SIZE);
	size_t len = b->len - e->mark - AOF_RECORD_HEADER_SIZE;
	e->open = false;
	if (len > e->max_payload) {
		b->len = e->mark;
		return KV_ELIMIT;
	}
	e->last_lsn++;
	e->effects++;
	record_fill((uint8_t *)b->data + e->mark, e->seed, AOF_REC_EFFECT, 0, e->last_lsn, len,
		    encoder_gap(e, e->last_lsn));
	if (lsn)
		*lsn = e->last_lsn;
	return 0;
}

void aof_encoder_abort(struct aof_encoder *e, struct kv_buf *b)
{
	kv_assert(e->open && b->len >= e->mark);
	b->len = e->mark;
	e->open = false;
}

int aof_encoder_effect(struct aof_encoder *e, struct kv_buf *b, int64_t time_ms, int argc,
		       const struct kv_slice *argv, uint64_t *lsn)
{
	aof_encoder_begin(e, b, time_ms);
	aof_encoder_add(e, b, argc, argv);
	return aof_encoder_commit(e, b, lsn);
}

int aof_encoder_typed(struct aof_encoder *e, struct kv_buf *b, uint8_t type, const void *payload,
		      size_t len, uint64_t *lsn)
{
	kv_assert(!e->open && !e->sealed && e->version >= 4 &&
		  (type == AOF_REC_UNIT || type == AOF_REC_RESOLVE));
	if (len > e->max_payload)
		return KV_ELIMIT;
	e->last_lsn++;
	e->effects++;
	record_append(b, e->seed, type, 0, e->last_lsn, payload, len, encoder_gap(e, e->last_lsn));
	if (lsn)
		*lsn = e->last_lsn;
	return 0;
}

int aof_encoder_payload(struct aof_encoder *e, struct kv_buf *b, const void *payload,
			size_t len, uint64_t *lsn)
{
	kv_assert(!e->open && !e->sealed && len > AOF_EFFECT_TIME_SIZE);
	if (len > e->max_payload)
		return KV_ELIMIT;
	e->last_lsn++;
	e->effects++;
	record_append(b, e->seed, AOF_REC_EFFECT, 0, e->last_lsn, payload, len,
		      encoder_gap(e, e->last_lsn));
	if (lsn)
		*lsn = e->last_lsn;
	return 0;
}

void aof_encoder_seal(struct aof_encoder *e, struct kv_buf *b)
{
	uint8_t payload[END_PAYLOAD_LEN];

	kv_assert(!e->open && !e->sealed);
	le_put64(payload, e->effects);
	record_append(b, e->seed, AOF_REC_SEGMENT_END, 0, e->last_lsn, payload, sizeof(payload),
		      encoder_gap(e, e->last_lsn));
	e->sealed = true;
}

/* ---- UNIT and RESOLVE payloads ---- */

int aof_keys_iter_init(struct aof_keys_iter *it, const uint8_t *p, size_t len)
{
	it->p = p;
	it->end = p + len;
	it->all = false;
	if (varint_get(&it->p, it->end, &it->left) < 0)
		return KV_ECORRUPT;
	if (it->left == AOF_KEYS_ALL) {
		it->all = true;
		it->left = 0;
	}
	return 0;
}

int aof_keys_next(struct aof_keys_iter *it, uint32_t *db, const uint8_t **key, size_t *klen)
{
	if (it->left == 0)
		return 0;
	uint64_t d, n;
	if (varint_get(&it->p, it->end, &d) < 0 || d > UINT32_MAX ||
	    varint_get(&it->p, it->end, &n) < 0 || n > (uint64_t)(it->end - it->p))
		return KV_ECORRUPT;
	*db = (uint32_t)d;
	*key = it->p;
	*klen = (size_t)n;
	it->p += n;
	it->left--;
	return 1;
}

/* A key list at *pp: checked whole, *pp moved past it. */
static int keys_skip(const uint8_t **pp, const uint8_t *end)
{
	struct aof_keys_iter it;
	if (aof_keys_iter_init(&it, *pp, (size_t)(end - *pp)) < 0)
		return KV_ECORRUPT;
	uint32_t db;
	const uint8_t *k;
	size_t kl;
	int rc;
	while ((rc = aof_keys_next(&it, &db, &k, &kl)) == 1)
		;
	if (rc < 0)
		return rc;
	*pp = it.p;
	return 0;
}

void aof_unit_free(struct aof_unit *u)
{
	free(u->rows);
	u->rows = NULL;
}

int aof_unit_decode(const void *payload, size_t len, struct aof_unit *u, const char **why)
{
	const uint8_t *p = payload, *end = p + len;
	memset(u, 0, sizeof(*u));
	*why = "malformed unit header";
	if (len < 17)
		return KV_ECORRUPT;
	u->boot = le_get64(p);
	u->seq = le_get64(p + 8);
	p += 16;
	uint64_t n;
	if (u->boot == 0 || varint_get(&p, end, &n) < 0 || n == 0 || n > 1u << 20 ||
	    n > (uint64_t)(end - p))
		return KV_ECORRUPT;
	u->nrows = (uint32_t)n;
	u->rows = kv_calloc(n, sizeof(*u->rows));
	for (uint32_t i = 0; i < u->nrows; i++) {
		struct aof_unit_row *row = &u->rows[i];
		uint64_t shard, lsn;
		if (varint_get(&p, end, &shard) < 0 || shard > UINT32_MAX || p >= end)
			goto bad;
		row->shard = (uint32_t)shard;
		row->role = *p++;
		if ((row->role != AOF_UNIT_PART && row->role != AOF_UNIT_READ) ||
		    varint_get(&p, end, &lsn) < 0)
			goto bad;
		row->lsn = lsn;
		for (uint32_t j = 0; j < i; j++)
			if (u->rows[j].shard == row->shard) {
				*why = "unit header names a shard twice";
				goto bad;
			}
		if (row->role == AOF_UNIT_READ) {
			row->keys = p;
			if (keys_skip(&p, end) < 0)
				goto bad;
			row->keys_len = (size_t)(p - row->keys);
		}
	}
	u->reads = p;
	if (keys_skip(&p, end) < 0)
		goto bad;
	u->reads_len = (size_t)(p - u->reads);
	u->effect = p;
	u->effect_len = (size_t)(end - p);
	if (aof_payload_validate(u->effect, u->effect_len, NULL) < 0) {
		*why = "malformed effect payload in a unit record";
		goto bad;
	}
	*why = NULL;
	return 0;
bad:
	aof_unit_free(u);
	return KV_ECORRUPT;
}

void aof_unit_begin(struct kv_buf *b, uint64_t boot, uint64_t seq, uint32_t nrows)
{
	uint8_t id[16];
	le_put64(id, boot);
	le_put64(id + 8, seq);
	kv_buf_append(b, id, sizeof(id));
	varint_put(b, nrows);
}

void aof_unit_row(struct kv_buf *b, uint32_t shard, uint8_t role, uint64_t lsn)
{
	varint_put(b, shard);
	kv_buf_append(b, &role, 1);
	varint_put(b, lsn);
}

void aof_keys_put_all(struct kv_buf *b)
{
	varint_put(b, AOF_KEYS_ALL);
}

void aof_keys_put(struct kv_buf *b, uint64_t n)
{
	kv_assert(n != AOF_KEYS_ALL);
	varint_put(b, n);
}

void aof_keys_put_key(struct kv_buf *b, uint32_t db, const void *key, size_t klen)
{
	varint_put(b, db);
	varint_put(b, klen);
	kv_buf_append(b, key, klen);
}

void aof_resolve_encode(struct kv_buf *b, int64_t time_ms, const uint64_t *lsns, size_t n,
			const uint64_t (*ids)[2], size_t nids)
{
	uint8_t t[8];
	le_put64(t, (uint64_t)time_ms);
	kv_buf_append(b, t, sizeof(t));
	varint_put(b, n);
	uint64_t prev = 0;
	for (size_t i = 0; i < n; i++) {
		kv_assert(i == 0 || lsns[i] > prev);
		varint_put(b, lsns[i] - prev);
		prev = lsns[i];
	}
	varint_put(b, nids);
	for (size_t i = 0; i < nids; i++) {
		uint8_t id[16];
		le_put64(id, ids[i][0]);
		le_put64(id + 8, ids[i][1]);
		kv_buf_append(b, id, sizeof(id));
	}
}

int aof_resolve_decode(const void *payload, size_t len, int64_t *time_ms, uint64_t **lsns,
		       size_t *n_out, size_t *nids_out)
{
	const uint8_t *p = payload, *end = p + len;
	if (len < 8)
		return KV_ECORRUPT;
	if (time_ms)
		*time_ms = (int64_t)le_get64(p);
	p += 8;
	uint64_t n, nids, prev = 0;
	if (varint_get(&p, end, &n) < 0 || n == 0 || n > (uint64_t)(end - p))
		return KV_ECORRUPT;
	uint64_t *v = lsns ? kv_malloc(n * sizeof(*v)) : NULL;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t d;
		if (varint_get(&p, end, &d) < 0 || d == 0 || d > UINT64_MAX - prev) {
			free(v);
			return KV_ECORRUPT;
		}
		prev += d;
		if (v)
			v[i] = prev;
	}
	if (varint_get(&p, end, &nids) < 0 || nids > (uint64_t)(end - p) / 16 ||
	    (uint64_t)(end - p) != nids * 16) {
		free(v);
		return KV_ECORRUPT;
	}
	if (lsns)
		*lsns = v;
	if (n_out)
		*n_out = (size_t)n;
	if (nids_out)
		*nids_out = (size_t)nids;
	return 0;
}

/* ---- streaming reader ---- */

/* Record types a segment of this version may hold. */
static bool type_known(uint8_t type, uint16_t version)
{
	if (type == AOF_REC_EFFECT || type == AOF_REC_SEGMENT_END)
		return true;
	return version >= AOF_FORMAT_UNITS_VERSION &&
	       (type == AOF_REC_UNIT || type == AOF_REC_RESOLVE);
}

enum { ST_HEADER, ST_RECORDS, ST_SEALED, ST_ZEROS, ST_SCAN, ST_DONE };
/* A step made progress without a result for the caller. */
#define STEP_AGAIN 100

void aof_reader_init(struct aof_reader *r, const struct aof_reader_config *cfg)
{
	memset(r, 0, sizeof(*r));
	r->max_payload = cfg && cfg->max_payload ? KV_MIN(cfg->max_payload, AOF_PAYLOAD_FORMAT_MAX)
						 : AOF_PAYLOAD_DEFAULT_MAX;
	if (cfg && cfg->expect) {
		r->expect = *cfg->expect;
		r->have_expect = true;
	}
	r->state = ST_HEADER;
	r->in.need = HDR_MIN_PREFIX;
}

void aof_reader_free(struct aof_reader *r)
{
	free(r->in.buf);
	r->in.buf = NULL;
	r->in.cap = r->in.len = r->in.pos = 0;
}

size_t aof_reader_space(struct aof_reader *r, void **p)
{
	return read_buf_space(&r->in, p);
}

void aof_reader_wrote(struct aof_reader *r, size_t n)
{
	read_buf_wrote(&r->in, n);
}

size_t aof_reader_feed(struct aof_reader *r, const void *p, size_t n)
{
	return read_buf_feed(&r->in, p, n);
}

void aof_reader_eof(struct aof_reader *r)
{
	r->in.eof = true;
}

const struct file_header *aof_reader_header(const struct aof_reader *r)
{
	return r->have_header ? &r->header : NULL;
}

const struct aof_verdict *aof_reader_verdict(const struct aof_reader *r)
{
	return &r->v;
}

static uint64_t at(const struct aof_reader *r)
{
	return r->in.base + r->in.pos;
}

static size_t avail(const struct aof_reader *r)
{
	return r->in.len - r->in.pos;
}

static int need_more(struct aof_reader *r, size_t n)
{
	r->in.need = n;
	return AOF_NEED_MORE;
}

static int finish(struct aof_reader *r, enum aof_verdict_kind kind, int code,
		  uint64_t offset, const char *reason)
{
	r->v.kind = kind;
	r->v.code = code;
	r->v.offset = offset;
	r->v.bytes_seen = r->in.base + r->in.len;
	r->v.reason = reason;
	r->v.records = r->effects + (r->v.sealed ? 1 : 0);
	if (kind == AOF_VERDICT_TORN)
		r->v.dropped_bytes = r->v.bytes_seen - offset;
	r->state = ST_DONE;
	return code == 0 ? AOF_CLEAN_EOF : code;
}

static int final_code(const struct aof_reader *r)
{
	return r->v.code == 0 ? AOF_CLEAN_EOF : r->v.code;
}

static int step_header(struct aof_reader *r)
{
	enum aof_verdict_kind kind;
	size_t n = avail(r);

	if (n == 0) {   /* nothing yet (and maybe no buffer either) */
		if (!r->in.eof)
			return need_more(r, HDR_MIN_PREFIX);
		return finish(r, AOF_VERDICT_TORN, KV_ETORN, 0, "empty file (no header)");
	}
	const uint8_t *p = r->in.buf + r->in.pos;
	int rc = aof_header_decode(p, n, r->have_expect ? &r->expect : NULL, &r->header,
				   &kind, r->v.detail, sizeof(r->v.detail));

	if (rc == KV_ETORN) {
		if (!r->in.eof) {
			/* Wait for the whole header, whatever length it declares. */
			size_t want = n >= HDR_MIN_PREFIX ? le_get16(p + HDR_OFF(header_len))
							  : HDR_MIN_PREFIX;
			return need_more(r, want);
		}
		return finish(r, AOF_VERDICT_TORN, KV_ETORN, 0, "incomplete file header");
	}
	if (rc < 0) {
		static const char *const why[] = {
			[AOF_VERDICT_CORRUPT] = "corrupt file header",
			[AOF_VERDICT_NOT_AOF] = "not a kevy AOF file",
			[AOF_VERDICT_VERSION] = "unsupported format version",
			[AOF_VERDICT_MISMATCH] = "file of another dataset, shard or generation",
		};
		return finish(r, kind, rc, 0, why[kind]);
	}
	r->have_header = true;
	r->last_lsn = r->header.lsn;
	r->in.pos += AOF_HEADER_SIZE;
	r->v.valid_end = at(r);
	r->state = ST_RECORDS;
	return STEP_AGAIN;
}

/* Does a record header that verifies start at p?  type/flags/reserved are
 * checked first only to skip hashing most garbage. */
static bool rec_header_verifies(const uint8_t *p, uint64_t seed)
{
	return le_get64(p + REC_OFF(header_check)) == kv_hash64(p + 8, 16, seed);
}

static bool rec_checksum_verifies(const uint8_t *p, size_t payload_len, uint64_t seed)
{
	return le_get64(p + REC_OFF(checksum)) ==
	       kv_hash64(p + 8, AOF_RECORD_HEADER_SIZE - 8 + payload_len, seed);
}

static void note_dropped_header(struct aof_reader *r, const uint8_t *p)
{
	uint64_t lsn = le_get64(p + REC_OFF(lsn));
	if (r->v.dropped_headers == 0 || lsn < r->v.dropped_lsn_min)
		r->v.dropped_lsn_min = lsn;
	if (r->v.dropped_headers == 0 || lsn > r->v.dropped_lsn_max)
		r->v.dropped_lsn_max = lsn;
	r->v.dropped_headers++;
}

static void enter_scan(struct aof_reader *r, const char *reason, bool header_ok)
{
	r->bad_offset = at(r);
	r->v.reason = reason;
	if (header_ok)
		note_dropped_header(r, r->in.buf + r->in.pos);
	r->in.pos++;
	r->state = ST_SCAN;
}

static int corrupt_here(struct aof_reader *r, const char *reason)
{
	return finish(r, AOF_VERDICT_CORRUPT, KV_ECORRUPT, at(r), reason);
}

/* Where a record (or, after SEGMENT_END, nothing) should start there is a
 * zero byte: the start of preallocated space, if zeros run to EOF (see
 * PREALLOCATED SPACE above). */
static void enter_zeros(struct aof_reader *r)
{
	r->zero_start = at(r);
	r->zero_known = 0;
	r->state = ST_ZEROS;
}

/* Zeros up to EOF are free space and the file is clean.  A non-zero byte
 * after them makes the run an unwritten hole: after SEGMENT_END that is
 * data after the end; otherwise the run is judged exactly as a bad record
 * at its start (scan mode from there), so the verdict is the one a reader
 * without this rule gave whenever the zeros do not reach EOF. */
static int step_zeros(struct aof_reader *r)
{
	size_t n = avail(r);
	const uint8_t *p = r->in.buf + r->in.pos;
	size_t i = r->zero_known;

	while (i < n && p[i] == 0)
		i++;
	if (i < n) {
		if (r->v.sealed)
			return finish(r, AOF_VERDICT_CORRUPT, KV_ECORRUPT, r->zero_start,
				      "data after the segment end record");
		uint64_t seen = r->in.base + r->in.len;
		r->bad_offset = r->zero_start;
		r->v.reason = r->in.eof && seen - r->zero_start < AOF_RECORD_HEADER_SIZE
				      ? "incomplete record header"
				      : "record header checksum mismatch";
		/* Every record that could start before pos would have a header
		 * of zeros only, which never verifies; the run's first byte is
		 * the bad record itself. */
		if (at(r) == r->zero_start)
			r->in.pos++;
		r->state = ST_SCAN;
		return STEP_AGAIN;
	}
	if (r->in.eof) {
		r->v.free_bytes = r->in.base + r->in.len - r->zero_start;
		return finish(r, AOF_VERDICT_CLEAN, 0, r->zero_start, NULL);
	}
	/* All zero so far.  Keep the last bytes in the window: a record whose
	 * header starts among them would end past them. */
	size_t keep = KV_MIN(n, (size_t)AOF_RECORD_HEADER_SIZE - 1);
	r->in.pos += n - keep;
	r->zero_known = keep;
	return need_more(r, keep + 1);
}

static int step_record(struct aof_reader *r, struct aof_record *rec)
{
	size_t n = avail(r);
	const uint8_t *p = r->in.buf + r->in.pos;

	if (n == 0 && r->in.eof)
		return finish(r, AOF_VERDICT_CLEAN, 0, at(r), NULL);
	if (n < AOF_RECORD_HEADER_SIZE) {
		if (!r->in.eof)
			return need_more(r, AOF_RECORD_HEADER_SIZE);
		if (p[0] == 0)
			enter_zeros(r);
		else
			enter_scan(r, "incomplete record header", false);
		return STEP_AGAIN;
	}
	if (!rec_header_verifies(p, r->header.checksum)) {
		if (p[0] == 0)
			enter_zeros(r);
		else
			enter_scan(r, "record header checksum mismatch", false);
		return STEP_AGAIN;
	}

	/* The header is the writer's: any rule it breaks is corruption. */
	uint32_t len = le_get32(p + REC_OFF(payload_len));
	uint8_t type = p[REC_OFF(type)];
	uint64_t lsn = le_get64(p + REC_OFF(lsn));
	if (!type_known(type, r->header.version))
		return corrupt_here(r, "unknown record type");
	if (p[REC_OFF(flags)] != 0 ||
	    (r->header.version < 2 && le_get16(p + REC_OFF(sync_gap)) != 0))
		return corrupt_here(r, "unknown record flags");
	if (len > r->max_payload)
		return corrupt_here(r, "record length over the configured maximum");
	if (aof_rec_numbered(type) && lsn <= r->last_lsn)
		return corrupt_here(r, "LSN not increasing");
	/* Version 2: the writer numbers every record, so a whole record cut
	 * out of the middle (which leaves every other one valid) shows. */
	if (aof_rec_numbered(type) && r->header.version >= 2 && lsn != r->last_lsn + 1)
		return corrupt_here(r, "LSN not consecutive (records are missing before this one)");
	if (type == AOF_REC_SEGMENT_END && (lsn != r->last_lsn || len != END_PAYLOAD_LEN))
		return corrupt_here(r, "malformed segment end record");

	size_t total = AOF_RECORD_HEADER_SIZE + (size_t)len;
	if (n < total) {
		if (!r->in.eof)
			return need_more(r, total);
		enter_scan(r, "incomplete record", true);
		return STEP_AGAIN;
	}
	if (!rec_checksum_verifies(p, len, r->header.checksum)) {
		enter_scan(r, "record checksum mismatch", true);
		return STEP_AGAIN;
	}
	const uint8_t *payload = p + AOF_RECORD_HEADER_SIZE;
	if (type == AOF_REC_EFFECT && aof_payload_validate(payload, len, NULL) < 0)
		return corrupt_here(r, "malformed effect payload");
	if (type == AOF_REC_UNIT) {
		struct aof_unit u;
		const char *why;
		if (aof_unit_decode(payload, len, &u, &why) < 0)
			return corrupt_here(r, why);
		aof_unit_free(&u);
	}
	if (type == AOF_REC_RESOLVE && aof_resolve_decode(payload, len, NULL, NULL, NULL, NULL) < 0)
		return corrupt_here(r, "malformed resolve record");
	if (type == AOF_REC_SEGMENT_END && le_get64(payload) != r->effects)
		return corrupt_here(r, "segment end record count mismatch");

	rec->type = type;
	rec->lsn = lsn;
	rec->offset = at(r);
	rec->size = total;
	rec->payload = payload;
	rec->payload_len = len;
	rec->durable_bound = durable_bound(p, r->header.version);
	if (aof_rec_numbered(type)) {
		if (r->effects == 0)
			r->v.first_lsn = lsn;
		r->v.last_lsn = lsn;
		r->effects++;
		r->last_lsn = lsn;
	} else {
		r->v.sealed = true;
		r->state = ST_SEALED;
	}
	r->in.pos += total;
	r->v.valid_end = at(r);
	return AOF_RECORD;
}

/* After the first bad record: look at every later byte offset for a record
 * that verifies completely.  Finding one makes the file corrupt; reaching EOF
 * without one makes [bad_offset, EOF) a torn tail. */
static int step_scan(struct aof_reader *r)
{
	uint64_t seed = r->header.checksum;

	for (;;) {
		size_t n = avail(r);
		const uint8_t *p = r->in.buf + r->in.pos;

		if (n < AOF_RECORD_HEADER_SIZE) {
			if (!r->in.eof)
				return need_more(r, AOF_RECORD_HEADER_SIZE);
			return finish(r, AOF_VERDICT_TORN, KV_ETORN, r->bad_offset, r->v.reason);
		}
		uint8_t type = p[REC_OFF(type)];
		if (!type_known(type, r->header.version) || p[REC_OFF(flags)] != 0 ||
		    (r->header.version < 2 && le_get16(p + REC_OFF(sync_gap)) != 0) ||
		    !rec_header_verifies(p, seed)) {
			r->in.pos++;
			continue;
		}
		uint32_t len = le_get32(p + REC_OFF(payload_len));
		if (len > r->max_payload) {
			/* A real (verified) record we cannot check in bounded memory
			 * follows the bad one: not a simple torn append. */
			r->v.follower = true;
			r->v.follower_offset = at(r);
			r->v.follower_lsn = le_get64(p + REC_OFF(lsn));
			return finish(r, AOF_VERDICT_CORRUPT, KV_ECORRUPT, r->bad_offset,
				      r->v.reason);
		}
		size_t total = AOF_RECORD_HEADER_SIZE + (size_t)len;
		if (n < total && !r->in.eof)
			return need_more(r, total);
		if (n >= total && rec_checksum_verifies(p, len, seed)) {
			/* Version 2: a record framed before anything from the bad
			 * one on could have been durable was never behind an
			 * acknowledgement that the bad bytes were on disk.  The
			 * bad bytes are then an unsynced write that did not land
			 * (a power cut keeps any subset of unsynced writes), and
			 * the whole rest is still a torn tail. */
			uint64_t flsn = le_get64(p + REC_OFF(lsn));
			if (r->header.version >= 2 && flsn > r->last_lsn &&
			    durable_bound(p, r->header.version) <= r->last_lsn) {
				note_dropped_header(r, p);
				r->v.unsynced_followers++;
				r->in.pos += total;
				continue;
			}
			r->v.follower = true;
			r->v.follower_offset = at(r);
			r->v.follower_lsn = le_get64(p + REC_OFF(lsn));
			return finish(r, AOF_VERDICT_CORRUPT, KV_ECORRUPT, r->bad_offset,
				      r->v.reason);
		}
		note_dropped_header(r, p);
		r->in.pos++;
	}
}

int aof_reader_next(struct aof_reader *r, struct aof_record *rec)
{
	for (;;) {
		int rc;
		switch (r->state) {
		case ST_HEADER:
			rc = step_header(r);
			if (rc != STEP_AGAIN)
				return rc;
			break;
		case ST_RECORDS:
			rc = step_record(r, rec);
			if (rc != STEP_AGAIN)
				return rc;
			break;
		case ST_SEALED:
			if (avail(r) > 0 && r->in.buf[r->in.pos] == 0) {
				enter_zeros(r);
				break;
			}
			if (avail(r) > 0)
				return corrupt_here(r, "data after the segment end record");
			if (!r->in.eof)
				return need_more(r, 1);
			return finish(r, AOF_VERDICT_CLEAN, 0, at(r), NULL);
		case ST_ZEROS:
			rc = step_zeros(r);
			if (rc != STEP_AGAIN)
				return rc;
			break;
		case ST_SCAN:
			return step_scan(r);
		default:
			return final_code(r);
		}
	}
}

/* ---- messages ---- */

size_t aof_verdict_describe(const struct aof_verdict *v, const char *path,
			    char *out, size_t cap)
{
	struct kv_buf b = KV_BUF_INIT;
	const char *name = path ? path : "AOF segment";

	switch (v->kind) {
	case AOF_VERDICT_CLEAN:
		kv_buf_printf(&b, "%s: clean, %" PRIu64 " bytes, %" PRIu64 " records",
			      name, v->bytes_seen, v->records);
		if (v->first_lsn)
			kv_buf_printf(&b, ", LSN %" PRIu64 "..%" PRIu64, v->first_lsn, v->last_lsn);
		kv_buf_append_str(&b, v->sealed ? ", sealed" : ", open");
		if (v->free_bytes)
			kv_buf_printf(&b, ", %" PRIu64 " bytes preallocated after the last record",
				      v->free_bytes);
		break;
	case AOF_VERDICT_TORN:
		kv_buf_printf(&b, "%s: torn tail at offset %" PRIu64 " (%s): %" PRIu64
			      " bytes would be dropped", name, v->offset, v->reason,
			      v->dropped_bytes);
		if (v->unsynced_followers)
			kv_buf_printf(&b, " holding %" PRIu64 " record(s), LSN %" PRIu64 "..%" PRIu64
				      ", %" PRIu64 " of them complete but framed before the damaged "
				      "one was ever fsynced (never acknowledged under always)",
				      v->dropped_headers, v->dropped_lsn_min, v->dropped_lsn_max,
				      v->unsynced_followers);
		else if (v->dropped_headers)
			kv_buf_printf(&b, " holding %" PRIu64 " incomplete record(s), LSN %" PRIu64
				      "..%" PRIu64, v->dropped_headers, v->dropped_lsn_min,
				      v->dropped_lsn_max);
		else
			kv_buf_printf(&b, " with no intact record header (LSNs after %" PRIu64 ")",
				      v->last_lsn);
		kv_buf_printf(&b, "; recovery quarantines them and truncates the file to %" PRIu64
			      " bytes; %" PRIu64 " valid records are kept",
			      v->offset, v->records);
		if (v->first_lsn)
			kv_buf_printf(&b, " (LSN %" PRIu64 "..%" PRIu64 ")", v->first_lsn, v->last_lsn);
		break;
	case AOF_VERDICT_CORRUPT:
		if (v->detail[0]) {
			kv_buf_printf(&b, "%s: %s", name, v->detail);
			break;
		}
		kv_buf_printf(&b, "%s: corrupt record at offset %" PRIu64 " (%s)", name,
			      v->offset, v->reason);
		if (v->follower)
			kv_buf_printf(&b, ", followed by a valid record at offset %" PRIu64
				      " (LSN %" PRIu64 ")", v->follower_offset, v->follower_lsn);
		kv_buf_printf(&b, "; %" PRIu64 " valid records before it", v->records);
		if (v->first_lsn)
			kv_buf_printf(&b, " (LSN %" PRIu64 "..%" PRIu64 ")", v->first_lsn, v->last_lsn);
		kv_buf_append_str(&b, "; not a torn tail, refusing to repair");
		break;
	case AOF_VERDICT_NOT_AOF:
	case AOF_VERDICT_VERSION:
	case AOF_VERDICT_MISMATCH:
		kv_buf_printf(&b, "%s: %s", name, v->detail[0] ? v->detail : v->reason);
		break;
	}
	size_t n = b.len;
	if (cap) {
		size_t c = KV_MIN(n, cap - 1);
		memcpy(out, b.data, c);
		out[c] = '\0';
	}
	kv_buf_free(&b);
	return n;
}
