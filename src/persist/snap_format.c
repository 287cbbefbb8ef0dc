/*
 * snap_format.c - the snapshot format: header, compressed blocks of entries,
 * footer; the writer, the streaming reader and the loader.  Pure format: no
 * file I/O, no policy (when to snapshot, where the file goes: the caller's).
 *
 * BYTE LAYOUT (all integers little-endian)
 *
 *   A snapshot is a file header, zero or more blocks, and a footer; the file
 *   ends exactly after the footer.
 *
 *   File header, 72 bytes (struct snap_disk_header):
 *      0  8  magic "KEVYSNP\0"
 *      8  2  version (3; versions 1 and 2 are still read)
 *     10  2  header_len (72 for versions 1 to 3)
 *     12  4  flags (0)
 *     16 16  dataset id (not all zero)
 *     32  4  shard id (< shard count)
 *     36  4  shard count (>= 1)
 *     40  8  generation
 *     48  8  LSN at the cut: the snapshot holds every effect with LSN <= it
 *     56  8  creation time, ms since the epoch
 *     64  8  checksum: XXH3-64, seed 0, of bytes [0, 64)
 *   As for the AOF, every version keeps magic, version and header_len at
 *   offsets 0, 8 and 10 and ends its header with an XXH3-64 (seed 0) of the
 *   rest, so "a newer kevy wrote this" (checksum verifies, version unknown:
 *   KV_EVERSION) is told apart from a damaged version field (KV_ECORRUPT).
 *
 *   seed, below, is the header's checksum: a block or footer verifies only in
 *   the file it was written for.
 *
 *   Block, 32-byte header + body (struct snap_disk_block):
 *      0  8  header_check: XXH3-64(seed, bytes [8, 32))
 *      8  1  kind: 1 BLOCK
 *      9  1  flags (0)
 *     10  2  reserved (0)
 *     12  4  index: 0 for the first block, then +1
 *     16  4  raw_len: bytes after decompression, 1 .. the reader's limit
 *     20  4  comp_len: bytes of the body, 1 .. ZSTD_compressBound(raw_len)
 *     24  8  checksum: XXH3-64(seed, the body's comp_len bytes)
 *     32     body: exactly one zstd frame (content size and content checksum
 *            set by the writer) that decompresses to exactly raw_len bytes
 *   header_check lets a reader trust the lengths before it reads or
 *   allocates anything for the body; the checksum is verified before the
 *   body is decompressed.
 *
 *   Footer, 40 bytes (struct snap_disk_footer):
 *      0  8  checksum: XXH3-64(seed, bytes [8, 40))
 *      8  1  kind: 2 FOOTER
 *      9  1  flags (0)
 *     10  2  reserved (0)
 *     12  4  reserved (0)
 *     16  8  entries: keys in the snapshot
 *     24  8  blocks: blocks in the snapshot
 *     32  8  chain: c = seed; for each block in order c = XXH3-64(le64(its
 *            checksum), seed = c); catches a block dropped, repeated or
 *            swapped with one of the same index from another snapshot
 *
 *   Raw bytes of a block: records back to back, filling raw_len exactly; a
 *   record never spans two blocks, but a key may (it is cut into records).
 *     KEY record   u8 1, u8 type (0 string, 1 list, 2 set, 3 zset, 4 hash,
 *                  5 stream: version 3 only),
 *                  u8 flags (bit 0: has deadline; bit 1: has database,
 *                  version 2 only; others 0),
 *                  [i64 deadline, absolute ms >= 0, if bit 0],
 *                  [varint database, 1 .. KV_DB_MAX-1, if bit 1; without
 *                  it the key is in database 0],
 *                  varint total (items of the whole value; for a string its
 *                  byte count; >= 1 for a collection),
 *                  varint key length, key bytes,
 *                  u32 count, count items (count may be 0)
 *     MORE record  u8 2, u32 count (>= 1), count items: more of the open key
 *   Items by type:
 *     string  count is a byte count: that many bytes of the value follow
 *     list    varint len, element bytes (in list order)
 *     set     varint len, member bytes
 *     hash    varint len, field bytes, varint len, value bytes
 *     zset    8-byte score (the IEEE-754 bits, so -0, inf and denormals are
 *             exact; never NaN), varint len, member bytes (ascending order)
 *     stream  varint len, then that many bytes: one stream item (below)
 *   STREAM ITEMS (version 3).  A stream's total is 1 + its entries + its
 *   groups + their consumers + their pending entries; the items come in this
 *   order: the stream item first, then every entry in ID order, then each
 *   group followed by its consumers, each consumer followed by its pending
 *   entries in ID order.  Every item starts with a kind byte:
 *     'S' stream     varint last-id ms, varint last-id seq, varint
 *                    max-deleted-id ms, varint max-deleted-id seq, varint
 *                    entries-added
 *     'E' entry      varint ms, varint seq, varint nfields (>= 1), then
 *                    nfields x (varint len, field, varint len, value); IDs
 *                    strictly increasing, above 0-0, at most last-id
 *     'G' group      varint len, name, varint last-delivered ms, varint seq,
 *                    varint entries-read + 1 (0: unknown); names unique
 *     'C' consumer   varint len, name, i64 seen-time ms; unique in its group
 *     'P' pending    varint ms, varint seq, i64 delivery time ms, varint
 *                    delivery count; owned by the consumer before it, unique
 *                    in the group
 *   An item must be exactly as long as its len, with nothing after its
 *   fields.
 *   A key is open from its KEY record until the records' counts add up to its
 *   total; only MORE records may follow while it is open (a string larger
 *   than a block, or a collection, becomes a KEY record and MORE records in
 *   later blocks), and none when it is not.  varint is unsigned LEB128,
 *   minimal, at most 10 bytes, as in the AOF.
 *
 * VALIDITY RULE
 *
 *   A snapshot is valid when its header verifies and is for the expected
 *   dataset/shard/count/generation, every block's header_check and checksum
 *   verify, its kind is known, flags and reserved are 0, its index is the
 *   next one, its lengths are within bounds, its body is one zstd frame that
 *   decompresses to exactly raw_len bytes holding well-formed records, the
 *   footer verifies, agrees on entries, blocks and chain, finds no key open,
 *   and the file ends right after it.  The reader sees each record's shape;
 *   the loader adds the rules that need the value being built: no key,
 *   set member, hash field or zset member given twice, and a stream's
 *   items in the order and uniqueness STREAM ITEMS gives (its counters
 *   checked when it is whole).  The server's load and kevy-check both apply
 *   them through snap_load_fragment(), so they refuse the same files at the
 *   same offset: the block, and the bad item's byte in its raw bytes.
 *
 * RECOVERY RULE
 *
 *   None to apply: a snapshot is renamed into place only after it was
 *   written whole and fsynced, so there is no torn tail.  A short file, a
 *   missing footer, and any bad byte are corruption (KV_ECORRUPT); recovery
 *   refuses to start and names the file, offset and block.
 */
#include "persist/snap_format.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "persist/file_header.h"
#include "base/le.h"
#include "base/varint.h"
#include "store/t_hash.h"
#include "store/t_list.h"
#include "store/t_set.h"
#include "store/t_zset.h"
#include "store/t_stream.h"

_Static_assert(sizeof(struct snap_disk_header) == SNAP_HEADER_SIZE, "snapshot header size");
_Static_assert(offsetof(struct snap_disk_header, version) == 8, "snapshot header layout");
_Static_assert(offsetof(struct snap_disk_header, header_len) == 10, "snapshot header layout");
_Static_assert(offsetof(struct snap_disk_header, flags) == 12, "snapshot header layout");
_Static_assert(offsetof(struct snap_disk_header, dataset_id) == 16, "snapshot header layout");
_Static_assert(offsetof(struct snap_disk_header, shard_id) == 32, "snapshot header layout");
_Static_assert(offsetof(struct snap_disk_header, shard_count) == 36, "snapshot header layout");
_Static_assert(offsetof(struct snap_disk_header, generation) == 40, "snapshot header layout");
_Static_assert(offsetof(struct snap_disk_header, lsn) == 48, "snapshot header layout");
_Static_assert(offsetof(struct snap_disk_header, created_ms) == 56, "snapshot header layout");
_Static_assert(offsetof(struct snap_disk_header, checksum) == 64, "snapshot header layout");
_Static_assert(sizeof(struct snap_disk_block) == SNAP_BLOCK_HEADER_SIZE, "block header size");
_Static_assert(offsetof(struct snap_disk_block, kind) == 8, "block header layout");
_Static_assert(offsetof(struct snap_disk_block, flags) == 9, "block header layout");
_Static_assert(offsetof(struct snap_disk_block, reserved) == 10, "block header layout");
_Static_assert(offsetof(struct snap_disk_block, index) == 12, "block header layout");
_Static_assert(offsetof(struct snap_disk_block, raw_len) == 16, "block header layout");
_Static_assert(offsetof(struct snap_disk_block, comp_len) == 20, "block header layout");
_Static_assert(offsetof(struct snap_disk_block, checksum) == 24, "block header layout");
_Static_assert(sizeof(struct snap_disk_footer) == SNAP_FOOTER_SIZE, "footer size");
_Static_assert(offsetof(struct snap_disk_footer, kind) == 8, "footer layout");
_Static_assert(offsetof(struct snap_disk_footer, flags) == 9, "footer layout");
_Static_assert(offsetof(struct snap_disk_footer, reserved) == 10, "footer layout");
_Static_assert(offsetof(struct snap_disk_footer, reserved2) == 12, "footer layout");
_Static_assert(offsetof(struct snap_disk_footer, entries) == 16, "footer layout");
_Static_assert(offsetof(struct snap_disk_footer, blocks) == 24, "footer layout");
_Static_assert(offsetof(struct snap_disk_footer, chain) == 32, "footer layout");
_Static_assert(sizeof(SNAP_MAGIC) == SNAP_MAGIC_LEN + 1, "snapshot magic is 8 bytes");
_Static_assert(KV_TYPE_STRING == 0 && KV_TYPE_LIST == 1 && KV_TYPE_SET == 2 &&
	       KV_TYPE_ZSET == 3 && KV_TYPE_HASH == 4 && KV_TYPE_STREAM == 5,
	       "type codes are part of the format");

#define HDR_OFF(f) offsetof(struct snap_disk_header, f)
#define BLK_OFF(f) offsetof(struct snap_disk_block, f)
#define FTR_OFF(f) offsetof(struct snap_disk_footer, f)
#define HDR_MIN_PREFIX 12
#define HDR_MAX_LEN 4096
#define KEY_FLAG_DEADLINE 0x01
#define KEY_FLAG_DB 0x02          /* version 2 */
#define COUNT_SIZE 4
#define MORE_HEADER_SIZE (1 + COUNT_SIZE)
#define SCORE_SIZE 8

/* ---- length-prefixed bytes (varint.h) ---- */


/* A varint length and that many bytes, inside [*pp, end). */
static int bytes_get(const uint8_t **pp, const uint8_t *end, struct kv_slice *out)
{
	uint64_t len;
	if (varint_get(pp, end, &len) < 0 || len > (uint64_t)(end - *pp))
		return KV_ECORRUPT;
	if (out)
		*out = (struct kv_slice){ (const char *)*pp, (size_t)len };
	*pp += len;
	return 0;
}

/* ---- file header ---- */

static const struct file_kind snap_file_kind = {
	.magic = SNAP_MAGIC,
	.version = SNAP_FORMAT_VERSION,
	.min_version = SNAP_FORMAT_MIN_VERSION,
	.foreign = "not a kevy snapshot",
	.name = "snapshot",
};

void snap_header_encode(struct file_header *h, uint8_t out[SNAP_HEADER_SIZE])
{
	file_header_encode(&snap_file_kind, h, out);
}

void snap_header_init(struct file_header *h, const uint8_t dataset_id[SNAP_DATASET_ID_LEN],
		      uint32_t shard_id, uint32_t shard_count, uint64_t generation,
		      uint64_t lsn, int64_t created_ms)
{
	file_header_init(&snap_file_kind, h, dataset_id, shard_id, shard_count, generation, lsn,
			 created_ms);
}

/* A snapshot is committed whole, so a short header is corruption too. */
int snap_header_decode(const void *src, size_t len, const struct file_expect *exp,
		       struct file_header *h, enum snap_verdict_kind *kind, char *msg, size_t cap)
{
	static const enum snap_verdict_kind kinds[] = {
		[FILE_HDR_OK] = SNAP_VERDICT_CLEAN, [FILE_HDR_FOREIGN] = SNAP_VERDICT_NOT_SNAP,
		[FILE_HDR_SHORT] = SNAP_VERDICT_CORRUPT, [FILE_HDR_CORRUPT] = SNAP_VERDICT_CORRUPT,
		[FILE_HDR_VERSION] = SNAP_VERDICT_VERSION, [FILE_HDR_MISMATCH] = SNAP_VERDICT_MISMATCH,
	};
	struct file_header fh;
	enum file_header_fault fault;
	int rc = file_header_decode(&snap_file_kind, src, len, exp, &fh, &fault, msg, cap);
	if (kind)
		*kind = kinds[fault];
	if (rc == KV_ETORN)
		rc = KV_ECORRUPT;
	if (rc == 0 && h)
		*h = fh;
	return rc;
}

/* ---- frames ---- */

uint64_t snap_chain_next(uint64_t chain, uint64_t block_checksum)
{
	uint8_t b[8];
	le_put64(b, block_checksum);
	return kv_hash64(b, sizeof(b), chain);
}

/* Fill a block header at hdr for the comp_len body bytes that follow it. */
static uint64_t block_fill(uint8_t *hdr, uint64_t seed, uint32_t index, uint32_t raw_len,
			   size_t comp_len)
{
	uint64_t sum = kv_hash64(hdr + SNAP_BLOCK_HEADER_SIZE, comp_len, seed);
	hdr[BLK_OFF(kind)] = SNAP_FRAME_BLOCK;
	hdr[BLK_OFF(flags)] = 0;
	le_put16(hdr + BLK_OFF(reserved), 0);
	le_put32(hdr + BLK_OFF(index), index);
	le_put32(hdr + BLK_OFF(raw_len), raw_len);
	le_put32(hdr + BLK_OFF(comp_len), (uint32_t)comp_len);
	le_put64(hdr + BLK_OFF(checksum), sum);
	le_put64(hdr + BLK_OFF(header_check), kv_hash64(hdr + 8, SNAP_BLOCK_HEADER_SIZE - 8, seed));
	return sum;
}

void snap_block_append_raw(struct kv_buf *b, uint64_t seed, uint32_t index, uint32_t raw_len,
			   const void *comp, size_t comp_len)
{
	kv_assert(comp_len <= UINT32_MAX);
	uint8_t *hdr = (uint8_t *)kv_buf_reserve(b, SNAP_BLOCK_HEADER_SIZE + comp_len);
	if (comp_len)
		memcpy(hdr + SNAP_BLOCK_HEADER_SIZE, comp, comp_len);
	block_fill(hdr, seed, index, raw_len, comp_len);
	b->len += SNAP_BLOCK_HEADER_SIZE + comp_len;
}

void snap_footer_append_raw(struct kv_buf *b, uint64_t seed, uint64_t entries,
			    uint64_t blocks, uint64_t chain)
{
	uint8_t f[SNAP_FOOTER_SIZE];
	memset(f, 0, sizeof(f));
	f[FTR_OFF(kind)] = SNAP_FRAME_FOOTER;
	le_put64(f + FTR_OFF(entries), entries);
	le_put64(f + FTR_OFF(blocks), blocks);
	le_put64(f + FTR_OFF(chain), chain);
	le_put64(f + FTR_OFF(checksum), kv_hash64(f + 8, SNAP_FOOTER_SIZE - 8, seed));
	kv_buf_append(b, f, sizeof(f));
}

/* ---- writer ---- */

static void queue_piece(struct snap_writer *w, struct kv_buf *bytes)
{
	struct snap_piece *pc = kv_malloc(sizeof(*pc));
	pc->bytes = *bytes;
	pc->next = NULL;
	kv_buf_init(bytes);
	if (w->tail)
		w->tail->next = pc;
	else
		w->head = pc;
	w->tail = pc;
	w->bytes_out += pc->bytes.len;
	w->queued++;
	w->queued_peak = KV_MAX(w->queued_peak, w->queued);
	if (w->notify)
		w->notify(w->notify_arg, w);
}

static void note_raw(struct snap_writer *w)
{
	w->raw_peak = KV_MAX(w->raw_peak, w->raw.cap);
}

/* Room for n more raw bytes.  The buffer is sized here, not by kv_buf's
 * doubling: one block target (plus kv_buf's NUL byte), or exactly what one
 * oversized item needs. */
static void raw_room(struct snap_writer *w, size_t n)
{
	size_t need = w->raw.len + n + 1;
	if (w->raw.cap >= need)
		return;
	size_t cap = KV_MAX(need, w->target + 1);
	w->raw.data = kv_realloc(w->raw.data, cap);
	w->raw.cap = cap;
	note_raw(w);
}

void snap_writer_init(struct snap_writer *w, const struct file_header *h,
		      size_t block_target, int zstd_level)
{
	memset(w, 0, sizeof(*w));
	w->seed = h->checksum;
	w->chain = h->checksum;
	w->target = block_target ? block_target : SNAP_BLOCK_TARGET_DEFAULT;
	w->target = KV_MAX(w->target, SNAP_BLOCK_TARGET_MIN);
	w->target = KV_MIN(w->target, SNAP_BLOCK_TARGET_MAX);
	w->max_raw = SNAP_BLOCK_RAW_DEFAULT_MAX;
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	kv_assert(cctx != NULL);
	kv_assert(!ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, zstd_level)));
	kv_assert(!ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)));
	kv_assert(!ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1)));
	w->cctx = cctx;
	/* Room for one block: the buffer grows past it only for one key name or
	 * element larger than the target. */
	raw_room(w, w->target);

	struct file_header copy = *h;
	struct kv_buf hb = KV_BUF_INIT;
	snap_header_encode(&copy, (uint8_t *)kv_buf_reserve(&hb, SNAP_HEADER_SIZE));
	hb.len = SNAP_HEADER_SIZE;
	queue_piece(w, &hb);
}

void snap_writer_set_notify(struct snap_writer *w, snap_writer_notify_fn fn, void *arg)
{
	w->notify = fn;
	w->notify_arg = arg;
}

void snap_writer_free(struct snap_writer *w)
{
	struct kv_buf b = KV_BUF_INIT;
	w->notify = NULL;
	while (snap_writer_take_block(w, &b))
		;
	kv_buf_free(&b);
	kv_buf_free(&w->raw);
	ZSTD_freeCCtx(w->cctx);
	w->cctx = NULL;
}

bool snap_writer_take_block(struct snap_writer *w, struct kv_buf *out)
{
	struct snap_piece *pc = w->head;
	if (!pc)
		return false;
	w->head = pc->next;
	if (!w->head)
		w->tail = NULL;
	w->queued--;
	kv_buf_free(out);
	*out = pc->bytes;
	free(pc);
	return true;
}

size_t snap_writer_raw_peak(const struct snap_writer *w)
{
	return w->raw_peak;
}

static void record_close(struct snap_writer *w)
{
	if (!w->rec_open)
		return;
	le_put32((uint8_t *)w->raw.data + w->rec_count_off, w->rec_count);
	w->rec_open = false;
}

/* Compress and queue the open block (if it holds anything). */
static void block_flush(struct snap_writer *w)
{
	record_close(w);
	if (w->raw.len == 0)
		return;
	if (w->raw.len > w->max_raw)
		w->error = KV_ELIMIT;
	size_t bound = ZSTD_compressBound(w->raw.len);
	struct kv_buf out = KV_BUF_INIT;
	out.cap = SNAP_BLOCK_HEADER_SIZE + bound + 1;
	out.data = kv_malloc(out.cap);
	uint8_t *hdr = (uint8_t *)out.data;
	size_t clen = ZSTD_compress2(w->cctx, hdr + SNAP_BLOCK_HEADER_SIZE, bound,
				     w->raw.data, w->raw.len);
	/* With a bound-sized destination only a bug or no memory fails. */
	kv_assert(!ZSTD_isError(clen));
	kv_assert(w->blocks < UINT32_MAX);
	uint64_t sum = block_fill(hdr, w->seed, (uint32_t)w->blocks, (uint32_t)w->raw.len, clen);
	out.len = SNAP_BLOCK_HEADER_SIZE + clen;
	if (out.cap - out.len > 4096) {   /* give back what compression saved */
		out.cap = out.len + 1;
		out.data = kv_realloc(out.data, out.cap);
	}
	w->chain = snap_chain_next(w->chain, sum);
	w->blocks++;
	w->raw.len = 0;
	/* A block that grew past the target for one large item gives the memory
	 * back, so the writer stays near one block of raw bytes. */
	if (w->raw.cap > 2 * (w->target + 1)) {
		kv_buf_free(&w->raw);
		raw_room(w, w->target);
	}
	queue_piece(w, &out);
}

static void record_open_more(struct snap_writer *w)
{
	uint8_t h[MORE_HEADER_SIZE] = { SNAP_REC_MORE, 0, 0, 0, 0 };
	raw_room(w, MORE_HEADER_SIZE);
	w->rec_count_off = w->raw.len + 1;
	kv_buf_append(&w->raw, h, sizeof(h));
	w->rec_open = true;
	w->rec_count = 0;
}

/* Make room for an item of `need` bytes of the open key: closes the block if
 * the item would take it past the target, and opens a MORE record if none
 * is open.  Returns false (error set) for an item no block may hold. */
static bool item_room(struct snap_writer *w, size_t need)
{
	kv_assert(w->key_open && w->key_done < w->key_total);
	if (need > w->max_raw - MORE_HEADER_SIZE) {
		w->error = KV_ELIMIT;
		return false;
	}
	size_t with_hdr = need + (w->rec_open ? 0 : MORE_HEADER_SIZE);
	if (w->raw.len > 0 && w->raw.len + with_hdr > w->target)
		block_flush(w);
	if (!w->rec_open)
		record_open_more(w);
	raw_room(w, need);
	return true;
}

/* After `items` items of the open key were appended. */
static void items_added(struct snap_writer *w, uint64_t items)
{
	kv_assert(w->rec_count + items <= UINT32_MAX);
	w->rec_count += (uint32_t)items;
	w->key_done += items;
	note_raw(w);
	if (w->key_done == w->key_total) {
		record_close(w);
		w->key_open = false;
	}
	if (w->raw.len >= w->target)
		block_flush(w);
}

void snap_writer_set_db(struct snap_writer *w, uint32_t db)
{
	kv_assert(!w->key_open && db < KV_DB_MAX);
	w->db = db;
}

void snap_writer_begin_key(struct snap_writer *w, const char *key, size_t klen,
			   enum kv_type type, int64_t deadline, uint64_t total)
{
	kv_assert(!w->key_open && !w->finished);
	kv_assert(type <= KV_TYPE_STREAM);
	kv_assert(deadline >= 0 || deadline == KV_NO_EXPIRE);
	kv_assert(type == KV_TYPE_STRING || total >= 1);
	bool has_deadline = deadline != KV_NO_EXPIRE;
	bool has_db = w->db != 0;
	size_t need = 3 + (has_deadline ? 8 : 0) + (has_db ? varint_len(w->db) : 0) +
		      varint_len(total) + varint_len(klen) + klen + COUNT_SIZE;
	if (need > w->max_raw) {
		w->error = KV_ELIMIT;
		klen = 0;   /* keep the writer's state consistent; the file is refused */
	}
	if (w->raw.len > 0 && w->raw.len + need > w->target)
		block_flush(w);
	raw_room(w, need);
	uint8_t h[3] = { SNAP_REC_KEY, (uint8_t)type,
			 (uint8_t)((has_deadline ? KEY_FLAG_DEADLINE : 0) | (has_db ? KEY_FLAG_DB : 0)) };
	kv_buf_append(&w->raw, h, sizeof(h));
	if (has_deadline) {
		uint8_t d[8];
		le_put64(d, (uint64_t)deadline);
		kv_buf_append(&w->raw, d, sizeof(d));
	}
	if (has_db)
		varint_put(&w->raw, w->db);
	varint_put(&w->raw, total);
	varint_put(&w->raw, klen);
	kv_buf_append(&w->raw, key, klen);
	w->rec_count_off = w->raw.len;
	kv_buf_append(&w->raw, "\0\0\0\0", COUNT_SIZE);
	w->rec_open = true;
	w->rec_count = 0;
	w->key_open = true;
	w->key_type = type;
	w->key_total = total;
	w->key_done = 0;
	w->entries++;
	items_added(w, 0);
}

void snap_writer_add_bytes(struct snap_writer *w, const void *p, size_t n)
{
	const char *s = p;
	if (n == 0)
		return;
	kv_assert(w->key_open && w->key_type == KV_TYPE_STRING);
	kv_assert(n <= w->key_total - w->key_done);
	while (n > 0) {
		if (!w->rec_open) {
			if (w->raw.len > 0 && w->raw.len + MORE_HEADER_SIZE >= w->target)
				block_flush(w);
			record_open_more(w);
		}
		if (w->raw.len >= w->target) {
			block_flush(w);
			continue;
		}
		size_t piece = KV_MIN(n, w->target - w->raw.len);
		raw_room(w, piece);
		kv_buf_append(&w->raw, s, piece);
		s += piece;
		n -= piece;
		items_added(w, piece);
	}
}

void snap_writer_add_elem(struct snap_writer *w, const void *p, size_t n)
{
	kv_assert(w->key_type == KV_TYPE_LIST || w->key_type == KV_TYPE_SET);
	if (!item_room(w, varint_len(n) + n)) {
		items_added(w, 1);
		return;
	}
	varint_put(&w->raw, n);
	kv_buf_append(&w->raw, p, n);
	items_added(w, 1);
}

void snap_writer_add_stream_item(struct snap_writer *w, const void *p, size_t n)
{
	kv_assert(w->key_type == KV_TYPE_STREAM);
	if (!item_room(w, varint_len(n) + n)) {
		items_added(w, 1);
		return;
	}
	varint_put(&w->raw, n);
	kv_buf_append(&w->raw, p, n);
	items_added(w, 1);
}

static void put_i64(struct kv_buf *b, int64_t v)
{
	uint8_t d[8];
	le_put64(d, (uint64_t)v);
	kv_buf_append(b, d, sizeof(d));
}

static void put_str(struct kv_buf *b, const void *p, size_t n)
{
	varint_put(b, n);
	kv_buf_append(b, p, n);
}

/* A stream as its items (STREAM ITEMS above). */
static void write_stream(struct snap_writer *w, struct kv_slice key, int64_t deadline,
			 const struct stream *s)
{
	uint64_t total = 1 + s->length + s->ngroups;
	for (size_t g = 0; g < s->ngroups; g++) {
		total += s->groups[g]->ncons;
		total += s->groups[g]->pel.len;
	}
	snap_writer_begin_key(w, key.ptr, key.len, KV_TYPE_STREAM, deadline, total);
	struct kv_buf b = KV_BUF_INIT;
	kv_buf_append_char(&b, 'S');
	varint_put(&b, s->last_id.ms);
	varint_put(&b, s->last_id.seq);
	varint_put(&b, s->max_deleted_id.ms);
	varint_put(&b, s->max_deleted_id.seq);
	varint_put(&b, s->entries_added);
	snap_writer_add_stream_item(w, b.data, b.len);
	struct stream_iter it;
	struct stream_id id;
	stream_iter_start(&it, s, STREAM_ID_MIN, STREAM_ID_MAX, false);
	while (stream_iter_next(&it, &id)) {
		kv_buf_clear(&b);
		kv_buf_append_char(&b, 'E');
		varint_put(&b, id.ms);
		varint_put(&b, id.seq);
		varint_put(&b, it.nfields);
		for (size_t i = 0; i < it.nfields * 2; i++)
			put_str(&b, it.fv[i].ptr, it.fv[i].len);
		snap_writer_add_stream_item(w, b.data, b.len);
	}
	stream_iter_stop(&it);
	for (size_t g = 0; g < s->ngroups; g++) {
		const struct stream_group *gr = s->groups[g];
		kv_buf_clear(&b);
		kv_buf_append_char(&b, 'G');
		put_str(&b, gr->name, gr->nlen);
		varint_put(&b, gr->last_id.ms);
		varint_put(&b, gr->last_id.seq);
		varint_put(&b, (uint64_t)(gr->entries_read + 1));
		snap_writer_add_stream_item(w, b.data, b.len);
		for (size_t c = 0; c < gr->ncons; c++) {
			const struct stream_consumer *sc = gr->cons[c];
			kv_buf_clear(&b);
			kv_buf_append_char(&b, 'C');
			put_str(&b, sc->name, sc->nlen);
			put_i64(&b, sc->seen_time);
			snap_writer_add_stream_item(w, b.data, b.len);
			for (size_t i = 0; i < sc->pel.len; i++) {
				const struct stream_nack *n = stream_pel_at(&sc->pel, i);
				kv_buf_clear(&b);
				kv_buf_append_char(&b, 'P');
				varint_put(&b, n->id.ms);
				varint_put(&b, n->id.seq);
				put_i64(&b, n->delivery_time);
				varint_put(&b, n->delivery_count);
				snap_writer_add_stream_item(w, b.data, b.len);
			}
		}
	}
	kv_buf_free(&b);
}

void snap_writer_add_field(struct snap_writer *w, const void *f, size_t flen,
			   const void *v, size_t vlen)
{
	kv_assert(w->key_type == KV_TYPE_HASH);
	if (!item_room(w, varint_len(flen) + flen + varint_len(vlen) + vlen)) {
		items_added(w, 1);
		return;
	}
	varint_put(&w->raw, flen);
	kv_buf_append(&w->raw, f, flen);
	varint_put(&w->raw, vlen);
	kv_buf_append(&w->raw, v, vlen);
	items_added(w, 1);
}

void snap_writer_add_member(struct snap_writer *w, const void *m, size_t mlen, double score)
{
	kv_assert(w->key_type == KV_TYPE_ZSET && !isnan(score));
	if (!item_room(w, SCORE_SIZE + varint_len(mlen) + mlen)) {
		items_added(w, 1);
		return;
	}
	uint64_t bits;
	uint8_t sb[SCORE_SIZE];
	memcpy(&bits, &score, sizeof(bits));
	le_put64(sb, bits);
	kv_buf_append(&w->raw, sb, sizeof(sb));
	varint_put(&w->raw, mlen);
	kv_buf_append(&w->raw, m, mlen);
	items_added(w, 1);
}

static int entry_list_elem(void *arg, const char *p, size_t len)
{
	snap_writer_add_elem(arg, p, len);
	return 0;
}

static bool entry_set_member(void *arg, const char *m, size_t len)
{
	snap_writer_add_elem(arg, m, len);
	return true;
}

static void entry_hash_elem(void *arg, struct kv_slice field, struct kv_slice value)
{
	snap_writer_add_field(arg, field.ptr, field.len, value.ptr, value.len);
}

static void entry_zset_elem(void *arg, struct kv_slice member, double score)
{
	snap_writer_add_member(arg, member.ptr, member.len, score);
}

void snap_writer_add_entry(struct snap_writer *w, const struct kv_entry *e)
{
	struct kv_slice key = entry_key(e);
	int64_t deadline = entry_expire(e);
	void *obj;

	switch (entry_type(e)) {
	case KV_TYPE_STRING: {
		struct kv_slice s = entry_str(e);
		snap_writer_begin_key(w, key.ptr, key.len, KV_TYPE_STRING, deadline, s.len);
		snap_writer_add_bytes(w, s.ptr, s.len);
		return;
	}
	case KV_TYPE_LIST:
		obj = entry_obj(e);
		snap_writer_begin_key(w, key.ptr, key.len, KV_TYPE_LIST, deadline, list_len(obj));
		list_foreach(obj, entry_list_elem, w);
		return;
	case KV_TYPE_SET:
		obj = entry_obj(e);
		snap_writer_begin_key(w, key.ptr, key.len, KV_TYPE_SET, deadline, set_size(obj));
		set_foreach(obj, entry_set_member, w);
		return;
	case KV_TYPE_HASH:
		obj = entry_obj(e);
		snap_writer_begin_key(w, key.ptr, key.len, KV_TYPE_HASH, deadline, hash_len(obj));
		hash_foreach(obj, entry_hash_elem, w);
		return;
	case KV_TYPE_ZSET:
		obj = entry_obj(e);
		snap_writer_begin_key(w, key.ptr, key.len, KV_TYPE_ZSET, deadline, zset_len(obj));
		zset_foreach(obj, entry_zset_elem, w);
		return;
	case KV_TYPE_STREAM:
		write_stream(w, key, deadline, entry_obj(e));
		return;
	}
	kv_assert(!"unknown value type");
}

int snap_writer_finish(struct snap_writer *w)
{
	kv_assert(!w->key_open && !w->finished);
	block_flush(w);
	struct kv_buf f = KV_BUF_INIT;
	snap_footer_append_raw(&f, w->seed, w->entries, w->blocks, w->chain);
	w->finished = true;
	queue_piece(w, &f);
	return w->error;
}

/* ---- streaming reader ---- */

enum { ST_HEADER, ST_FRAME, ST_RECORDS, ST_TRAILER, ST_DONE };
#define STEP_AGAIN 100

void snap_reader_init(struct snap_reader *r, const struct snap_reader_config *cfg)
{
	memset(r, 0, sizeof(*r));
	r->max_raw = cfg && cfg->max_raw ? KV_MIN(cfg->max_raw, SNAP_BLOCK_RAW_FORMAT_MAX)
					 : SNAP_BLOCK_RAW_DEFAULT_MAX;
	if (cfg && cfg->expect) {
		r->expect = *cfg->expect;
		r->have_expect = true;
	}
	r->state = ST_HEADER;
	r->in.need = HDR_MIN_PREFIX;
	ZSTD_DCtx *d = ZSTD_createDCtx();
	kv_assert(d != NULL);
	r->dctx = d;
}

void snap_reader_free(struct snap_reader *r)
{
	free(r->in.buf);
	r->in.buf = NULL;
	r->in.cap = r->in.len = r->in.pos = 0;
	free(r->raw);
	r->raw = NULL;
	r->raw_cap = r->raw_len = r->raw_pos = 0;
	kv_buf_free(&r->key);
	ZSTD_freeDCtx(r->dctx);
	r->dctx = NULL;
}

size_t snap_reader_space(struct snap_reader *r, void **p)
{
	return read_buf_space(&r->in, p);
}

void snap_reader_wrote(struct snap_reader *r, size_t n)
{
	read_buf_wrote(&r->in, n);
}

size_t snap_reader_feed(struct snap_reader *r, const void *p, size_t n)
{
	return read_buf_feed(&r->in, p, n);
}

void snap_reader_eof(struct snap_reader *r)
{
	r->in.eof = true;
}

const struct file_header *snap_reader_header(const struct snap_reader *r)
{
	return r->have_header ? &r->header : NULL;
}

const struct snap_verdict *snap_reader_verdict(const struct snap_reader *r)
{
	return &r->v;
}

size_t snap_reader_mem(const struct snap_reader *r)
{
	return r->in.cap + r->raw_cap + r->key.cap;
}

static uint64_t at(const struct snap_reader *r)
{
	return r->in.base + r->in.pos;
}

static size_t avail(const struct snap_reader *r)
{
	return r->in.len - r->in.pos;
}

static int need_more(struct snap_reader *r, size_t n)
{
	r->in.need = n;
	return SNAP_NEED_MORE;
}

static int finish(struct snap_reader *r, enum snap_verdict_kind kind, int code,
		  uint64_t offset, const char *reason)
{
	r->v.kind = kind;
	r->v.code = code;
	r->v.offset = offset;
	r->v.bytes_seen = r->in.base + r->in.len;
	r->v.reason = reason;
	r->v.blocks = r->blocks;
	r->v.entries = r->entries;
	r->v.lsn = r->have_header ? r->header.lsn : 0;
	r->state = ST_DONE;
	return code == 0 ? SNAP_END : code;
}

static int corrupt_at(struct snap_reader *r, uint64_t offset, const char *reason)
{
	return finish(r, SNAP_VERDICT_CORRUPT, KV_ECORRUPT, offset, reason);
}

/* A problem inside the block being read (its header starts at block_offset). */
static int corrupt_block(struct snap_reader *r, const char *reason)
{
	r->v.in_block = true;
	r->v.block = r->blocks;
	return corrupt_at(r, r->block_offset, reason);
}

/* A problem in the decompressed bytes of the last verified block. */
static int corrupt_raw(struct snap_reader *r, size_t raw_off, const char *reason)
{
	r->v.in_block = true;
	r->v.block = r->blocks - 1;
	r->v.in_raw = true;
	r->v.raw_offset = raw_off;
	int rc = corrupt_at(r, r->block_offset, reason);
	r->v.blocks = r->blocks - 1;   /* the bad block verified, but is not valid */
	return rc;
}

static int step_header(struct snap_reader *r)
{
	enum snap_verdict_kind kind;
	size_t n = avail(r);
	const uint8_t *p = r->in.buf + r->in.pos;

	if (n == 0)
		return r->in.eof ? corrupt_at(r, 0, "empty file (no header)")
			      : need_more(r, HDR_MIN_PREFIX);
	if (!r->in.eof) {
		size_t want = HDR_MIN_PREFIX;
		if (n >= HDR_MIN_PREFIX)
			want = KV_MIN(KV_MAX((size_t)le_get16(p + HDR_OFF(header_len)),
					     (size_t)HDR_MIN_PREFIX), (size_t)HDR_MAX_LEN);
		bool magic_ok = memcmp(p, SNAP_MAGIC, KV_MIN(n, (size_t)SNAP_MAGIC_LEN)) == 0;
		if (n < want && magic_ok)
			return need_more(r, want);
	}
	int rc = snap_header_decode(p, n, r->have_expect ? &r->expect : NULL, &r->header,
				    &kind, r->v.detail, sizeof(r->v.detail));
	if (rc < 0) {
		static const char *const why[] = {
			[SNAP_VERDICT_CORRUPT] = "corrupt file header",
			[SNAP_VERDICT_NOT_SNAP] = "not a kevy snapshot",
			[SNAP_VERDICT_VERSION] = "unsupported format version",
			[SNAP_VERDICT_MISMATCH] = "file of another dataset, shard or generation",
		};
		return finish(r, kind, rc, 0, why[kind]);
	}
	r->have_header = true;
	r->chain = r->header.checksum;
	r->in.pos += SNAP_HEADER_SIZE;
	r->state = ST_FRAME;
	return STEP_AGAIN;
}

static int step_footer(struct snap_reader *r)
{
	const uint8_t *p = r->in.buf + r->in.pos;
	uint64_t seed = r->header.checksum;

	if (avail(r) < SNAP_FOOTER_SIZE) {
		if (!r->in.eof)
			return need_more(r, SNAP_FOOTER_SIZE);
		return corrupt_at(r, at(r), "file ends inside the footer");
	}
	if (le_get64(p + FTR_OFF(checksum)) != kv_hash64(p + 8, SNAP_FOOTER_SIZE - 8, seed))
		return corrupt_at(r, at(r), "footer checksum mismatch");
	if (p[FTR_OFF(flags)] != 0 || le_get16(p + FTR_OFF(reserved)) != 0 ||
	    le_get32(p + FTR_OFF(reserved2)) != 0)
		return corrupt_at(r, at(r), "unknown footer flags");
	if (r->key_open)
		return corrupt_at(r, at(r), "footer while a key is incomplete");
	if (le_get64(p + FTR_OFF(blocks)) != r->blocks)
		return corrupt_at(r, at(r), "footer block count mismatch");
	if (le_get64(p + FTR_OFF(entries)) != r->entries)
		return corrupt_at(r, at(r), "footer entry count mismatch");
	if (le_get64(p + FTR_OFF(chain)) != r->chain)
		return corrupt_at(r, at(r), "footer block chain mismatch");
	r->in.pos += SNAP_FOOTER_SIZE;
	r->state = ST_TRAILER;
	return STEP_AGAIN;
}

/* Decompress the verified body of comp_len bytes at p into r->raw. */
static int block_decompress(struct snap_reader *r, const uint8_t *p, size_t comp_len,
			    size_t raw_len)
{
	size_t fsz = ZSTD_findFrameCompressedSize(p, comp_len);
	if (ZSTD_isError(fsz) || fsz != comp_len)
		return corrupt_block(r, "block body is not exactly one zstd frame");
	unsigned long long csz = ZSTD_getFrameContentSize(p, comp_len);
	if (csz == ZSTD_CONTENTSIZE_ERROR)
		return corrupt_block(r, "block body is not a zstd frame");
	if (csz != ZSTD_CONTENTSIZE_UNKNOWN && csz != raw_len)
		return corrupt_block(r, "decompressed size differs from the block header");
	if (r->raw_cap < raw_len) {
		free(r->raw);
		r->raw = kv_malloc(raw_len);
		r->raw_cap = raw_len;
	}
	size_t got = ZSTD_decompressDCtx(r->dctx, r->raw, raw_len, p, comp_len);
	if (ZSTD_isError(got))
		return corrupt_block(r, ZSTD_getErrorCode(got) == ZSTD_error_dstSize_tooSmall
					? "decompressed size differs from the block header"
					: "zstd frame does not decompress");
	if (got != raw_len)
		return corrupt_block(r, "decompressed size differs from the block header");
	return 0;
}

static int step_frame(struct snap_reader *r)
{
	size_t n = avail(r);
	const uint8_t *p = r->in.buf + r->in.pos;
	uint64_t seed = r->header.checksum;

	r->block_offset = at(r);
	if (n == 0 && r->in.eof)
		return corrupt_at(r, at(r), "file ends without a footer");
	if (n < SNAP_BLOCK_HEADER_SIZE) {
		if (!r->in.eof)
			return need_more(r, SNAP_BLOCK_HEADER_SIZE);
		return corrupt_at(r, at(r), "file ends inside a block header or the footer");
	}
	if (p[BLK_OFF(kind)] == SNAP_FRAME_FOOTER)
		return step_footer(r);
	if (p[BLK_OFF(kind)] != SNAP_FRAME_BLOCK)
		return corrupt_block(r, "unknown frame kind");
	if (le_get64(p + BLK_OFF(header_check)) !=
	    kv_hash64(p + 8, SNAP_BLOCK_HEADER_SIZE - 8, seed))
		return corrupt_block(r, "block header checksum mismatch");

	/* The header is the writer's: trust its lengths, within the rules. */
	uint32_t raw_len = le_get32(p + BLK_OFF(raw_len));
	uint32_t comp_len = le_get32(p + BLK_OFF(comp_len));
	if (p[BLK_OFF(flags)] != 0 || le_get16(p + BLK_OFF(reserved)) != 0)
		return corrupt_block(r, "unknown block flags");
	if (le_get32(p + BLK_OFF(index)) != r->blocks)
		return corrupt_block(r, "block out of order");
	if (raw_len == 0)
		return corrupt_block(r, "empty block");
	if (raw_len > r->max_raw)
		return corrupt_block(r, "block raw length over the limit");
	if (comp_len == 0 || comp_len > ZSTD_compressBound(raw_len))
		return corrupt_block(r, "block compressed length impossible for its raw length");
	size_t total = SNAP_BLOCK_HEADER_SIZE + (size_t)comp_len;
	if (n < total) {
		if (!r->in.eof)
			return need_more(r, total);
		return corrupt_block(r, "file ends inside a block");
	}
	const uint8_t *body = p + SNAP_BLOCK_HEADER_SIZE;
	uint64_t sum = le_get64(p + BLK_OFF(checksum));
	if (sum != kv_hash64(body, comp_len, seed))
		return corrupt_block(r, "block checksum mismatch");
	int rc = block_decompress(r, body, comp_len, raw_len);
	if (rc < 0)
		return rc;
	r->raw_len = raw_len;
	r->raw_pos = 0;
	r->blocks++;
	r->chain = snap_chain_next(r->chain, sum);
	r->in.pos += total;
	r->state = ST_RECORDS;
	return STEP_AGAIN;
}

/* One stream item's bytes (STREAM ITEMS): its kind and fields, parsed
 * without trusting any of them.  The values are checked against the
 * stream being built by the loader. */
struct stream_item {
	char kind;
	uint64_t a, b, c, d, e;       /* the varints, in order */
	int64_t t;                    /* the i64 */
	struct kv_slice name;         /* G, C */
	const uint8_t *fields;        /* E: nfields pairs */
	const uint8_t *end;
};

static bool stream_item_parse(struct kv_slice item, struct stream_item *si)
{
	const uint8_t *p = (const uint8_t *)item.ptr, *end = p + item.len;
	memset(si, 0, sizeof(*si));
	if (p == end)
		return false;
	si->kind = (char)*p++;
	si->end = end;
	switch (si->kind) {
	case 'S':
		if (varint_get(&p, end, &si->a) < 0 || varint_get(&p, end, &si->b) < 0 ||
		    varint_get(&p, end, &si->c) < 0 || varint_get(&p, end, &si->d) < 0 ||
		    varint_get(&p, end, &si->e) < 0)
			return false;
		break;
	case 'E':
		if (varint_get(&p, end, &si->a) < 0 || varint_get(&p, end, &si->b) < 0 ||
		    varint_get(&p, end, &si->c) < 0 || si->c == 0 ||
		    si->c > item.len)
			return false;
		si->fields = p;
		for (uint64_t i = 0; i < si->c * 2; i++)
			if (bytes_get(&p, end, NULL) < 0)
				return false;
		break;
	case 'G':
		if (bytes_get(&p, end, &si->name) < 0 || varint_get(&p, end, &si->a) < 0 ||
		    varint_get(&p, end, &si->b) < 0 || varint_get(&p, end, &si->c) < 0 ||
		    si->c > (uint64_t)INT64_MAX)
			return false;
		break;
	case 'C':
		if (bytes_get(&p, end, &si->name) < 0 || (size_t)(end - p) < 8)
			return false;
		si->t = (int64_t)le_get64(p);
		p += 8;
		break;
	case 'P':
		if (varint_get(&p, end, &si->a) < 0 || varint_get(&p, end, &si->b) < 0 ||
		    (size_t)(end - p) < 8)
			return false;
		si->t = (int64_t)le_get64(p);
		p += 8;
		if (varint_get(&p, end, &si->c) < 0)
			return false;
		break;
	default:
		return false;
	}
	return p == end;
}

/* Walk count items of type from *pp within end; false if malformed. */
static bool items_valid(enum kv_type type, uint32_t count, const uint8_t **pp,
			const uint8_t *end)
{
	const uint8_t *p = *pp;

	if (type == KV_TYPE_STRING) {
		if (count > (uint64_t)(end - p))
			return false;
		*pp = p + count;
		return true;
	}
	for (uint32_t i = 0; i < count; i++) {
		switch (type) {
		case KV_TYPE_LIST:
		case KV_TYPE_SET:
			if (bytes_get(&p, end, NULL) < 0)
				return false;
			break;
		case KV_TYPE_STREAM: {
			struct kv_slice item;
			struct stream_item si;
			if (bytes_get(&p, end, &item) < 0 || !stream_item_parse(item, &si))
				return false;
			break;
		}
		case KV_TYPE_HASH:
			if (bytes_get(&p, end, NULL) < 0 || bytes_get(&p, end, NULL) < 0)
				return false;
			break;
		case KV_TYPE_ZSET: {
			if ((size_t)(end - p) < SCORE_SIZE)
				return false;
			uint64_t bits = le_get64(p);
			double score;
			memcpy(&score, &bits, sizeof(score));
			if (isnan(score))
				return false;
			p += SCORE_SIZE;
			if (bytes_get(&p, end, NULL) < 0)
				return false;
			break;
		}
		default:
			return false;
		}
	}
	*pp = p;
	return true;
}

static int step_record(struct snap_reader *r, struct snap_fragment *f)
{
	const uint8_t *start = r->raw + r->raw_pos, *end = r->raw + r->raw_len;
	const uint8_t *p = start;
	size_t off = r->raw_pos;
	bool first = false;

	if (p == end) {
		r->state = ST_FRAME;
		return STEP_AGAIN;
	}
	uint8_t kind = *p++;
	if (kind == SNAP_REC_KEY) {
		if (r->key_open)
			return corrupt_raw(r, off, "a key begins before the previous key is complete");
		if ((size_t)(end - p) < 2)
			return corrupt_raw(r, off, "truncated key record");
		uint8_t type = *p++, flags = *p++;
		if (type > KV_TYPE_STREAM || (type == KV_TYPE_STREAM && r->header.version < 3))
			return corrupt_raw(r, off, "unknown value type");
		uint8_t known = KEY_FLAG_DEADLINE | (r->header.version >= 2 ? KEY_FLAG_DB : 0);
		if (flags & ~known)
			return corrupt_raw(r, off, "unknown entry flags");
		int64_t deadline = KV_NO_EXPIRE;
		if (flags & KEY_FLAG_DEADLINE) {
			if ((size_t)(end - p) < 8)
				return corrupt_raw(r, off, "truncated key record");
			deadline = (int64_t)le_get64(p);
			p += 8;
			if (deadline < 0)
				return corrupt_raw(r, off, "negative deadline");
		}
		uint64_t db = 0;
		if (flags & KEY_FLAG_DB) {
			/* Database 0 has no field: one encoding per key. */
			if (varint_get(&p, end, &db) < 0 || db == 0 || db >= KV_DB_MAX)
				return corrupt_raw(r, off, "bad database number");
		}
		uint64_t total;
		struct kv_slice key;
		if (varint_get(&p, end, &total) < 0 || bytes_get(&p, end, &key) < 0)
			return corrupt_raw(r, off, "malformed key record");
		if (type != KV_TYPE_STRING && total == 0)
			return corrupt_raw(r, off, "empty collection");
		kv_buf_clear(&r->key);
		kv_buf_append(&r->key, key.ptr, key.len);
		r->key_type = (enum kv_type)type;
		r->key_deadline = deadline;
		r->key_db = (uint32_t)db;
		r->key_total = total;
		r->key_done = 0;
		r->key_open = true;
		r->entries++;
		first = true;
	} else if (kind == SNAP_REC_MORE) {
		if (!r->key_open)
			return corrupt_raw(r, off, "continuation record without an open key");
	} else {
		return corrupt_raw(r, off, "unknown record kind");
	}
	if ((size_t)(end - p) < COUNT_SIZE)
		return corrupt_raw(r, off, "truncated record");
	uint32_t count = le_get32(p);
	p += COUNT_SIZE;
	if (!first && count == 0)
		return corrupt_raw(r, off, "empty continuation record");
	if (count > r->key_total - r->key_done)
		return corrupt_raw(r, off, "more items than the key's total");
	const uint8_t *items = p;
	if (!items_valid(r->key_type, count, &p, end))
		return corrupt_raw(r, off, "malformed items");

	f->key = (struct kv_slice){ r->key.data ? r->key.data : "", r->key.len };
	f->type = r->key_type;
	f->deadline = r->key_deadline;
	f->db = r->key_db;
	f->total = r->key_total;
	f->done = r->key_done;
	f->count = count;
	f->first = first;
	f->block = r->blocks - 1;
	f->raw_offset = off;
	f->items = items;
	f->items_len = (size_t)(p - items);
	f->items_raw_offset = (size_t)(items - r->raw);
	r->key_done += count;
	f->last = r->key_done == r->key_total;
	if (f->last)
		r->key_open = false;
	r->raw_pos = (size_t)(p - r->raw);
	return SNAP_FRAGMENT;
}

int snap_reader_next(struct snap_reader *r, struct snap_fragment *f)
{
	for (;;) {
		int rc;
		switch (r->state) {
		case ST_HEADER:
			rc = step_header(r);
			break;
		case ST_FRAME:
			rc = step_frame(r);
			break;
		case ST_RECORDS:
			rc = step_record(r, f);
			break;
		case ST_TRAILER:
			if (avail(r) > 0)
				return corrupt_at(r, at(r), "data after the footer");
			if (!r->in.eof)
				return need_more(r, 1);
			return finish(r, SNAP_VERDICT_CLEAN, 0, at(r), NULL);
		default:
			return r->v.code == 0 ? SNAP_END : r->v.code;
		}
		if (rc != STEP_AGAIN)
			return rc;
	}
}

void snap_items_init(struct snap_items *it, const struct snap_fragment *f)
{
	it->p = f->items;
	it->end = f->items + f->items_len;
	it->type = f->type;
	it->left = f->count;
}

bool snap_items_next(struct snap_items *it, struct snap_item *out)
{
	/* The reader validated the items: these cannot fail. */
	memset(out, 0, sizeof(*out));
	if (it->type == KV_TYPE_STRING) {
		if (it->left == 0)
			return false;
		out->a = (struct kv_slice){ (const char *)it->p, it->left };
		it->p += it->left;
		it->left = 0;
		return true;
	}
	if (it->left == 0)
		return false;
	if (it->type == KV_TYPE_ZSET) {
		uint64_t bits = le_get64(it->p);
		memcpy(&out->score, &bits, sizeof(out->score));
		it->p += SCORE_SIZE;
	}
	int rc = bytes_get(&it->p, it->end, &out->a);
	if (rc == 0 && it->type == KV_TYPE_HASH)
		rc = bytes_get(&it->p, it->end, &out->b);
	kv_assert(rc == 0);
	it->left--;
	return true;
}

/* ---- messages ---- */

size_t snap_verdict_describe(const struct snap_verdict *v, const char *path,
			     char *out, size_t cap)
{
	struct kv_buf b = KV_BUF_INIT;
	const char *name = path ? path : "snapshot";

	switch (v->kind) {
	case SNAP_VERDICT_CLEAN:
		kv_buf_printf(&b, "%s: clean, LSN %" PRIu64 ", %" PRIu64 " keys in %" PRIu64
			      " blocks, %" PRIu64 " bytes", name, v->lsn, v->entries, v->blocks,
			      v->bytes_seen);
		break;
	case SNAP_VERDICT_CORRUPT:
		if (v->detail[0]) {
			kv_buf_printf(&b, "%s: %s", name, v->detail);
		} else if (v->in_block) {
			kv_buf_printf(&b, "%s: corrupt block %" PRIu64 " at offset %" PRIu64 " (%s",
				      name, v->block, v->offset, v->reason);
			if (v->in_raw)
				kv_buf_printf(&b, ", at byte %" PRIu64 " of its decompressed data",
					      v->raw_offset);
			kv_buf_printf(&b, ")");
		} else {
			kv_buf_printf(&b, "%s: corrupt at offset %" PRIu64 " (%s)", name,
				      v->offset, v->reason);
		}
		kv_buf_printf(&b, "; %" PRIu64 " blocks and %" PRIu64 " keys before it; a snapshot"
			      " is complete before it is committed, so this is corruption, not a"
			      " torn write", v->blocks, v->entries);
		break;
	case SNAP_VERDICT_NOT_SNAP:
	case SNAP_VERDICT_VERSION:
	case SNAP_VERDICT_MISMATCH:
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

/* ---- loader ---- */

void snap_loader_init(struct snap_loader *l, struct kv_dbs *dbs)
{
	memset(l, 0, sizeof(*l));
	l->dbs = dbs;
}

static void loader_drop(struct snap_loader *l)
{
	if (l->obj) {
		switch (l->type) {
		case KV_TYPE_LIST: list_free(l->obj); break;
		case KV_TYPE_SET: set_free(l->obj); break;
		case KV_TYPE_HASH: hash_free(l->obj); break;
		case KV_TYPE_ZSET: zset_free(l->obj); break;
		case KV_TYPE_STREAM: stream_free(l->obj); break;
		case KV_TYPE_STRING: break;
		}
	}
	l->obj = NULL;
	l->open = false;
	kv_buf_clear(&l->str);
	/* A big string's buffer is not kept for the next key. */
	kv_buf_shrink(&l->str, 64 * 1024);
}

void snap_loader_free(struct snap_loader *l)
{
	loader_drop(l);
	kv_buf_free(&l->str);
}

/* Refuse the fragment being applied: why, at raw byte off of its block. */
static int loader_corrupt(struct snap_loader *l, size_t off, const char *why)
{
	l->error = why;
	l->error_raw_offset = off;
	return KV_ECORRUPT;
}

/* One stream item into the open stream (item starts at raw byte off);
 * KV_ECORRUPT for an item that breaks the order or uniqueness rules of
 * STREAM ITEMS.  These rules are the whole of a stream's validity beyond
 * the items' shape: the server's load and kevy-check both come here. */
static int loader_stream_item(struct snap_loader *l, struct kv_slice item, size_t off)
{
	struct stream *s = l->obj;
	struct stream_item si;
	if (!stream_item_parse(item, &si))
		return loader_corrupt(l, off, "malformed stream item");
	if (!l->st_meta) {
		if (si.kind != 'S')
			return loader_corrupt(l, off, "stream does not begin with its stream item");
		l->st_meta = true;
		l->st_last_ms = si.a;
		l->st_last_seq = si.b;
		l->st_del_ms = si.c;
		l->st_del_seq = si.d;
		l->st_added = si.e;
		return 0;
	}
	struct stream_group *g = l->st_group;
	struct stream_consumer *c = l->st_cons;
	switch (si.kind) {
	case 'S':
		return loader_corrupt(l, off, "a second stream item in one stream");
	case 'E': {
		struct stream_id id = { si.a, si.b };
		struct stream_id last = { l->st_last_ms, l->st_last_seq };
		if (g)
			return loader_corrupt(l, off, "stream entry after a consumer group");
		if (stream_id_is_zero(id))
			return loader_corrupt(l, off, "stream entry ID 0-0");
		if (stream_id_cmp(id, last) > 0)
			return loader_corrupt(l, off, "stream entry ID above the stream's last ID");
		if (s->length && stream_id_cmp(id, s->last_id) <= 0)
			return loader_corrupt(l, off, "stream entry IDs not in increasing order");
		size_t n = (size_t)si.c * 2;
		struct kv_slice stack[16];
		struct kv_slice *fv = n <= 16 ? stack : kv_malloc(n * sizeof(*fv));
		const uint8_t *p = si.fields;
		for (size_t i = 0; i < n; i++)
			bytes_get(&p, si.end, &fv[i]);
		stream_append(s, id, fv, (size_t)si.c);
		if (fv != stack)
			free(fv);
		return 0;
	}
	case 'G':
		g = stream_group_create(s, si.name.ptr, si.name.len,
					(struct stream_id){ si.a, si.b }, (int64_t)si.c - 1);
		if (!g)
			return loader_corrupt(l, off, "consumer group name given twice");
		l->st_group = g;
		l->st_cons = NULL;
		return 0;
	case 'C':
		if (!g)
			return loader_corrupt(l, off, "consumer before any consumer group");
		c = stream_consumer_create(s, g, si.name.ptr, si.name.len, si.t);
		if (!c)
			return loader_corrupt(l, off, "consumer name given twice in its group");
		l->st_cons = c;
		return 0;
	case 'P': {
		struct stream_id id = { si.a, si.b };
		if (!c)
			return loader_corrupt(l, off, "pending entry before any consumer of its group");
		if (stream_pel_find(&g->pel, id))
			return loader_corrupt(l, off, "pending entry ID given twice in its group");
		if (c->pel.len && stream_id_cmp(id, stream_pel_at(&c->pel, c->pel.len - 1)->id) <= 0)
			return loader_corrupt(l, off, "pending entries of a consumer not in ID order");
		stream_nack_add(s, g, c, id, si.t, si.c);
		return 0;
	}
	}
	return loader_corrupt(l, off, "malformed stream item");
}

/* The open stream is complete: its counters from its first item (off: the
 * raw offset of its last record, where the stream is seen whole). */
static int loader_stream_finish(struct snap_loader *l, size_t off)
{
	struct stream *s = l->obj;
	struct stream_id last = { l->st_last_ms, l->st_last_seq };
	struct stream_id del = { l->st_del_ms, l->st_del_seq };
	if (!l->st_meta)
		return loader_corrupt(l, off, "stream without its stream item");
	if (l->st_added < s->length)
		return loader_corrupt(l, off, "stream's entries-added below its entry count");
	if (stream_id_cmp(del, last) > 0)
		return loader_corrupt(l, off, "stream's max-deleted ID above its last ID");
	/* Each entry was checked against last when it came: kept as the
	 * invariant the stream's commands rely on. */
	if (s->length && stream_id_cmp(s->last_id, last) > 0)
		return loader_corrupt(l, off, "stream's last ID below its last entry");
	s->last_id = last;
	s->max_deleted_id = del;
	s->entries_added = l->st_added;
	return 0;
}

/* One item (starting at raw byte off) into the open value. */
static int loader_item(struct snap_loader *l, const struct snap_item *it, size_t off)
{
	switch (l->type) {
	case KV_TYPE_STRING:
		/* Nothing to verify in a string's bytes: kept only to store. */
		if (l->dbs)
			kv_buf_append(&l->str, it->a.ptr, it->a.len);
		return 0;
	case KV_TYPE_LIST:
		if (l->obj)   /* nothing to verify either: built only to store */
			list_push(l->obj, LIST_TAIL, it->a.ptr, it->a.len);
		return 0;
	case KV_TYPE_SET: {
		struct kv_set *s = l->obj;
		bool added = set_add(&s, it->a.ptr, it->a.len, NULL);
		l->obj = s;
		return added ? 0 : loader_corrupt(l, off, "a set member given twice");
	}
	case KV_TYPE_HASH: {
		bool added = false;
		struct hash_obj *h = l->obj;
		struct hash_obj *n = hash_set(h, it->a.ptr, it->a.len, it->b.ptr, it->b.len, &added);
		if (n != h)
			hash_free(h);
		l->obj = n;
		return added ? 0 : loader_corrupt(l, off, "a hash field given twice");
	}
	case KV_TYPE_ZSET: {
		struct zset *z = l->obj, *before = z;
		double ns;
		if (it->score == 0 && signbit(it->score))
			l->zset_negzero = true;
		int out = zset_add(&z, it->score, it->a.ptr, it->a.len, 0, &ns);
		if (z != before)
			zset_free(before);
		l->obj = z;
		return (out & ZADD_OUT_ADDED) ? 0
					      : loader_corrupt(l, off, "a sorted set member given twice");
	}
	case KV_TYPE_STREAM:
		return loader_stream_item(l, it->a, off);
	}
	return loader_corrupt(l, off, "unknown value type");
}

int snap_loader_apply(struct snap_loader *l, const struct snap_fragment *f)
{
	struct kv_db *db = NULL;
	l->error = NULL;
	l->error_raw_offset = 0;
	if (l->dbs) {
		if (f->db >= l->dbs->n && !dbs_grow(l->dbs, f->db + 1))
			return KV_ELIMIT;     /* written with a larger `databases` */
		db = l->dbs->db[f->db];
	}
	if (f->first) {
		kv_assert(!l->open);
		if (db && db_lookup_notouch(db, f->key.ptr, f->key.len, 0) != NULL)
			return loader_corrupt(l, f->raw_offset, "the key appears twice");
		l->type = f->type;
		l->open = true;
		switch (f->type) {
		case KV_TYPE_STRING: kv_buf_clear(&l->str); break;
		case KV_TYPE_LIST: l->obj = db ? list_new() : NULL; break;
		case KV_TYPE_SET: l->obj = set_create(); break;
		case KV_TYPE_HASH: l->obj = hash_new(); break;
		case KV_TYPE_ZSET:
			/* Built as a skiplist and packed at the end if it fits:
			 * the packed form stores -0 as 0, so a zset holding -0 (which
			 * only a skiplist can) stays one, and every score keeps its
			 * exact bits. */
			l->obj = zset_new_skiplist();
			l->zset_negzero = false;
			break;
		case KV_TYPE_STREAM:
			l->obj = stream_new();
			l->st_meta = false;
			l->st_group = l->st_cons = NULL;
			break;
		}
	}
	kv_assert(l->open && l->type == f->type);

	struct snap_items it;
	struct snap_item item;
	snap_items_init(&it, f);
	for (;;) {
		size_t off = f->items_raw_offset + (size_t)(it.p - f->items);
		if (!snap_items_next(&it, &item))
			break;
		int rc = loader_item(l, &item, off);
		if (rc < 0)
			return rc;
	}
	if (!f->last)
		return 0;
	if (l->type == KV_TYPE_STREAM) {
		int rc = loader_stream_finish(l, f->raw_offset);
		if (rc < 0)
			return rc;
	}
	if (!db) {
		/* Verified: nothing to store. */
	} else if (l->type == KV_TYPE_STRING) {
		db_set_string(db, f->key.ptr, f->key.len, l->str.data ? l->str.data : "",
			      l->str.len, f->deadline);
	} else {
		if (l->type == KV_TYPE_ZSET && !l->zset_negzero) {
			struct zset *z = l->obj;
			zset_pack_if_fits(&z);
			l->obj = z;
		}
		db_set_object(db, f->key.ptr, f->key.len, l->type, l->obj, f->deadline);
		l->obj = NULL;
	}
	l->keys++;
	loader_drop(l);
	return 0;
}

int snap_load_fragment(struct snap_reader *r, struct snap_loader *l,
		       const struct snap_fragment *f)
{
	int rc = snap_loader_apply(l, f);
	if (rc == KV_ECORRUPT)
		corrupt_raw(r, l->error_raw_offset, l->error);
	return rc;
}
