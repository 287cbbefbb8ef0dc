/*
 * snap_format.h - the byte format of a shard's snapshot: the file header,
 * compressed blocks of serialized entries, the footer, the writer that
 * produces them, a streaming reader that verifies them, and a loader that
 * rebuilds the values into a keyspace.
 *
 * This module is pure format: it never opens, reads, writes or syncs a file.
 * The snapshot code of the server, kevy-check, kevy-dump and the tests all go
 * through it, so there is exactly one parser and one writer.  The byte
 * layout and the validity rule are written out at the top of snap_format.c
 * and, for humans, in docs/format.md ("Snapshot").
 *
 * A snapshot is committed only after it was written whole, fsynced and
 * renamed into place, so unlike an AOF segment it has no torn tail: a file
 * that ends early, lacks its footer or has any bad byte is corrupt.
 *
 * Errors are values: 0 or a count on success, a negative kevy code
 * (KV_ECORRUPT, KV_EVERSION, KV_EMISMATCH, KV_ELIMIT) on failure.
 */
#ifndef KV_SNAP_FORMAT_H
#define KV_SNAP_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "persist/file_header.h"
#include "base/readbuf.h"
#include "base/kv.h"
#include "proto/resp.h"
#include "store/store.h"

#define SNAP_MAGIC "KEVYSNP\0"          /* 8 bytes, NUL included */
#define SNAP_MAGIC_LEN 8
#define SNAP_FORMAT_VERSION 3            /* written; 1 (every key in database 0) and 2
                                           (no streams) are still read */
#define SNAP_FORMAT_MIN_VERSION 1
#define SNAP_DATASET_ID_LEN 16

/* On-disk structures.  Every field is little-endian and is read and written
 * with explicit byte helpers at the offsets these structs define; the structs
 * are never copied to or from disk wholesale.  Their sizes and offsets are
 * part of the format and asserted in snap_format.c. */
struct snap_disk_header {
	char magic[SNAP_MAGIC_LEN];        /*  0 "KEVYSNP\0" */
	uint16_t version;                  /*  8 SNAP_FORMAT_VERSION */
	uint16_t header_len;               /* 10 bytes of the header, checksum included */
	uint32_t flags;                    /* 12 none defined: must be 0 */
	uint8_t dataset_id[SNAP_DATASET_ID_LEN]; /* 16 random, fixed at first start */
	uint32_t shard_id;                 /* 32 < shard_count */
	uint32_t shard_count;              /* 36 >= 1 */
	uint64_t generation;               /* 40 the snapshot's generation (manifest's) */
	uint64_t lsn;                      /* 48 the cut: holds every effect with LSN <= lsn */
	int64_t created_ms;                /* 56 wall clock, ms since the epoch */
	uint64_t checksum;                 /* 64 XXH3-64 of bytes [0, 64), seed 0 */
};
#define SNAP_HEADER_SIZE 72

struct snap_disk_block {
	uint64_t header_check;             /*  0 XXH3-64(seed, bytes [8, 32)) */
	uint8_t kind;                      /*  8 SNAP_FRAME_BLOCK */
	uint8_t flags;                     /*  9 none defined: must be 0 */
	uint16_t reserved;                 /* 10 must be 0 */
	uint32_t index;                    /* 12 block number: 0, 1, 2, ... */
	uint32_t raw_len;                  /* 16 decompressed bytes (>= 1) */
	uint32_t comp_len;                 /* 20 bytes of the zstd frame that follows */
	uint64_t checksum;                 /* 24 XXH3-64(seed, the comp_len bytes) */
	/* 32: comp_len bytes: one zstd frame */
};
#define SNAP_BLOCK_HEADER_SIZE 32

struct snap_disk_footer {
	uint64_t checksum;                 /*  0 XXH3-64(seed, bytes [8, 40)) */
	uint8_t kind;                      /*  8 SNAP_FRAME_FOOTER */
	uint8_t flags;                     /*  9 must be 0 */
	uint16_t reserved;                 /* 10 must be 0 */
	uint32_t reserved2;                /* 12 must be 0 */
	uint64_t entries;                  /* 16 keys in the snapshot */
	uint64_t blocks;                   /* 24 blocks in the snapshot */
	uint64_t chain;                    /* 32 hash chain over the block checksums */
};
#define SNAP_FOOTER_SIZE 40

enum snap_frame_kind {
	SNAP_FRAME_BLOCK = 1,
	SNAP_FRAME_FOOTER = 2,
};

/* Block sizes.  The writer closes a block once its raw bytes reach the
 * target (default 1 MiB, at most 4 MiB).  A block is larger than the target
 * only when one key name or one collection element alone is; strings are cut
 * into pieces and never are.  A reader refuses (as corrupt, before
 * allocating anything) a block whose verified raw length is over its limit,
 * by default SNAP_BLOCK_RAW_DEFAULT_MAX: room for a 512 MiB element or key
 * (Redis's proto-max-bulk-len) with plenty to spare.  The writer refuses to
 * produce such a block (KV_ELIMIT from snap_writer_finish). */
#define SNAP_BLOCK_TARGET_DEFAULT ((size_t)1 << 20)
#define SNAP_BLOCK_TARGET_MIN ((size_t)64)
#define SNAP_BLOCK_TARGET_MAX ((size_t)4 << 20)
#define SNAP_BLOCK_RAW_DEFAULT_MAX ((size_t)1 << 30)
#define SNAP_BLOCK_RAW_FORMAT_MAX ((size_t)UINT32_MAX)

/* Record kinds inside a block's raw bytes (see snap_format.c). */
enum snap_record_kind {
	SNAP_REC_KEY = 1,     /* starts a key: type, deadline, total, name, first items */
	SNAP_REC_MORE = 2,    /* more items of the key still open */
};

/* ---- file header ---- */

/* The decoded header is file_header.h's struct file_header; its lsn is the
 * snapshot's cut.  The checksum is the stored (verified) value; it also seeds
 * every block and footer checksum of the file, binding them to it. */

/* What a reader expects the file to belong to is a struct file_expect
 * (file_header.h): only the fields it names are compared; tools reading a
 * lone file pass NULL or fields = 0. */

/* Fill h for a new snapshot (version set, checksum computed). */
void snap_header_init(struct file_header *h, const uint8_t dataset_id[SNAP_DATASET_ID_LEN],
		      uint32_t shard_id, uint32_t shard_count, uint64_t generation,
		      uint64_t lsn, int64_t created_ms);
/* Serialize h into out[SNAP_HEADER_SIZE]; recomputes and stores h->checksum. */
void snap_header_encode(struct file_header *h, uint8_t out[SNAP_HEADER_SIZE]);

/* How a file was judged; see struct snap_verdict. */
enum snap_verdict_kind {
	SNAP_VERDICT_CLEAN = 0,   /* a complete, valid snapshot */
	SNAP_VERDICT_CORRUPT,     /* KV_ECORRUPT: any bad byte, short file, missing footer */
	SNAP_VERDICT_NOT_SNAP,    /* KV_ECORRUPT: bad magic, not a kevy snapshot */
	SNAP_VERDICT_VERSION,     /* KV_EVERSION: a well-formed header of an unknown version */
	SNAP_VERDICT_MISMATCH,    /* KV_EMISMATCH: another dataset/shard/count/generation */
};

/*
 * Decode and check a file header from p[0..len).  exp may be NULL.
 * Returns 0 (h filled), or:
 *   KV_ECORRUPT   bad magic (*kind = SNAP_VERDICT_NOT_SNAP), fewer bytes than
 *                 the header, or a header that fails its checksum or its
 *                 field rules (SNAP_VERDICT_CORRUPT);
 *   KV_EVERSION   a header whose checksum verifies but whose version is not
 *                 SNAP_FORMAT_VERSION;
 *   KV_EMISMATCH  valid, but not the expected dataset/shard/count/generation.
 * msg (may be NULL) receives one line naming the problem, e.g.
 * "shard count mismatch: file has 4, expected 8".  kind may be NULL.
 */
int snap_header_decode(const void *p, size_t len, const struct file_expect *exp,
		       struct file_header *h, enum snap_verdict_kind *kind,
		       char *msg, size_t msg_cap);

/* Next link of the footer's chain: the chain starts at the header checksum
 * and takes in each block's checksum in block order. */
uint64_t snap_chain_next(uint64_t chain, uint64_t block_checksum);

/* Low level, for tools and tests that must build exact (even invalid) files:
 * frame comp[0..comp_len) as a block claiming raw_len, and a footer. */
void snap_block_append_raw(struct kv_buf *b, uint64_t seed, uint32_t index, uint32_t raw_len,
			   const void *comp, size_t comp_len);
void snap_footer_append_raw(struct kv_buf *b, uint64_t seed, uint64_t entries,
			    uint64_t blocks, uint64_t chain);

/* ---- writer: the caller does the I/O ---- */

struct snap_writer;
/* Called each time a finished piece (a block, or the footer) was queued, so
 * a caller can drain the queue even in the middle of a large key. */
typedef void (*snap_writer_notify_fn)(void *arg, struct snap_writer *w);

/* One finished piece of the file, in the writer's queue. */
struct snap_piece {
	struct kv_buf bytes;
	struct snap_piece *next;
};

/* Private to snap_format.c (the counters may be read). */
struct snap_writer {
	uint64_t seed;             /* the header's checksum */
	size_t target;             /* close a block once raw reaches this */
	size_t max_raw;            /* no block above this (SNAP_BLOCK_RAW_DEFAULT_MAX) */
	void *cctx;                /* ZSTD_CCtx */
	struct kv_buf raw;         /* the open block's raw bytes */
	size_t rec_count_off;      /* where the open record's item count sits */
	uint32_t rec_count;        /* items in the open record */
	bool rec_open;
	bool key_open;
	uint32_t db;               /* database of the keys begun next */
	enum kv_type key_type;
	uint64_t key_total;        /* items (bytes for a string) the key has */
	uint64_t key_done;
	struct snap_piece *head, *tail;
	snap_writer_notify_fn notify;
	void *notify_arg;
	int error;                 /* sticky: KV_ELIMIT */
	bool finished;
	/* counters */
	uint64_t entries;          /* keys begun */
	uint64_t blocks;           /* blocks closed */
	uint64_t chain;
	uint64_t bytes_out;        /* bytes queued (header, blocks, footer) */
	size_t raw_peak;           /* largest raw buffer capacity held */
	size_t queued_peak;        /* most pieces in the queue at once */
	size_t queued;
};

/* Start a snapshot: h must have its checksum computed (snap_header_init
 * does); its encoding is the first piece queued.  block_target 0 means
 * SNAP_BLOCK_TARGET_DEFAULT; it is clamped to [MIN, MAX].  zstd_level as
 * libzstd's (0: its default, 3). */
void snap_writer_init(struct snap_writer *w, const struct file_header *h,
		      size_t block_target, int zstd_level);
/* Frees everything the writer still holds (queued pieces included). */
void snap_writer_free(struct snap_writer *w);
void snap_writer_set_notify(struct snap_writer *w, snap_writer_notify_fn fn, void *arg);

/* The database (0 .. KV_DB_MAX-1) of the keys begun from now on; 0 until
 * set.  Not while a key is open. */
void snap_writer_set_db(struct snap_writer *w, uint32_t db);
/* Add one key by parts: begin, then exactly `total` items of its type (bytes
 * for a string, in as many add_bytes calls as the caller likes); the key is
 * complete when the last item is added, and the next begin_key or finish
 * asserts that it is.  deadline: absolute ms or KV_NO_EXPIRE.  A collection
 * must have total >= 1 (the store never holds an empty one). */
void snap_writer_begin_key(struct snap_writer *w, const char *key, size_t klen,
			   enum kv_type type, int64_t deadline, uint64_t total);
void snap_writer_add_bytes(struct snap_writer *w, const void *p, size_t n);       /* string */
void snap_writer_add_elem(struct snap_writer *w, const void *p, size_t n);        /* list, set */
/* One encoded stream item (snap_format.c: STREAM ITEMS), version 3. */
void snap_writer_add_stream_item(struct snap_writer *w, const void *p, size_t n);
void snap_writer_add_field(struct snap_writer *w, const void *f, size_t flen,
			   const void *v, size_t vlen);                           /* hash */
void snap_writer_add_member(struct snap_writer *w, const void *m, size_t mlen,
			    double score);                                        /* zset; not NaN */
/* The whole entry: begin_key + its type's items. */
void snap_writer_add_entry(struct snap_writer *w, const struct kv_entry *e);
/* Close the last block and queue the footer.  Returns 0, or KV_ELIMIT if a
 * key name or element made a block larger than a reader accepts by default
 * (the snapshot must then be discarded). */
int snap_writer_finish(struct snap_writer *w);
/* Move the oldest queued piece into *out (whose old contents are freed):
 * true if there was one.  The file is the pieces in the order taken. */
bool snap_writer_take_block(struct snap_writer *w, struct kv_buf *out);
/* Largest raw buffer the writer held (bounded memory: ~ the block target). */
size_t snap_writer_raw_peak(const struct snap_writer *w);

/* ---- streaming reader ---- */

/* One record of a key, as the reader returns it.  A key comes as one
 * fragment with first and last set, or as a first fragment, continuing ones
 * and a last one (a key larger than a block).  key, type, deadline and total
 * are repeated in every fragment; key and items point into the reader's
 * buffers and are valid until its next call. */
struct snap_fragment {
	struct kv_slice key;
	uint32_t db;              /* its database (0 in a version 1 file) */
	enum kv_type type;
	int64_t deadline;         /* absolute ms, or KV_NO_EXPIRE */
	uint64_t total;           /* items of the whole value (bytes for a string) */
	uint64_t done;            /* items in earlier fragments of this key */
	uint32_t count;           /* items in this fragment */
	bool first, last;
	uint64_t block;           /* block index it came from */
	size_t raw_offset;        /* its record's offset in the block's raw bytes */
	const uint8_t *items;     /* count items, validated (iterate with snap_items_*) */
	size_t items_len;
	size_t items_raw_offset;  /* items' offset in the block's raw bytes */
};

/* One item: string piece (a), list element or set member (a), hash field
 * (a) and value (b), zset member (a) and score. */
struct snap_item {
	struct kv_slice a, b;
	double score;
};
struct snap_items {
	const uint8_t *p, *end;
	enum kv_type type;
	uint32_t left;
};
void snap_items_init(struct snap_items *it, const struct snap_fragment *f);
/* The next item, or false after the fragment's last. */
bool snap_items_next(struct snap_items *it, struct snap_item *out);

/* The reader's final judgement of a file (after a return other than
 * SNAP_FRAGMENT / SNAP_NEED_MORE). */
struct snap_verdict {
	enum snap_verdict_kind kind;
	int code;                 /* 0 or KV_ECORRUPT / KV_EVERSION / KV_EMISMATCH */
	uint64_t offset;          /* file offset of the bad header, block or footer */
	bool in_block;            /* the problem is in block number `block` */
	uint64_t block;
	uint64_t raw_offset;      /* in_block, after decompression: offset in the raw bytes */
	bool in_raw;
	uint64_t bytes_seen;      /* bytes the reader was given */
	uint64_t blocks;          /* valid blocks before the problem (all when clean) */
	uint64_t entries;         /* keys begun before the problem (all when clean) */
	uint64_t lsn;             /* the header's LSN, when the header was valid */
	const char *reason;       /* static text: "block checksum mismatch", ... */
	char detail[192];         /* header problems and mismatches, with values */
};

struct snap_reader_config {
	size_t max_raw;                   /* 0: SNAP_BLOCK_RAW_DEFAULT_MAX */
	const struct file_expect *expect; /* NULL: any dataset/shard (tools) */
};

/* Private to snap_format.c. */
struct snap_reader {
	size_t max_raw;
	struct file_expect expect;
	bool have_expect;
	int state;
	struct read_buf in;       /* bytes [base, base + len) of the file */
	struct file_header header;
	bool have_header;
	void *dctx;              /* ZSTD_DCtx */
	uint8_t *raw;            /* the current block, decompressed */
	size_t raw_cap;
	size_t raw_len;
	size_t raw_pos;
	uint64_t block_offset;   /* file offset of the current block */
	uint64_t blocks;         /* blocks verified */
	uint64_t chain;
	uint64_t entries;
	/* the open key */
	bool key_open;
	struct kv_buf key;
	uint32_t key_db;
	enum kv_type key_type;
	int64_t key_deadline;
	uint64_t key_total;
	uint64_t key_done;
	struct snap_verdict v;
};

/*
 * Use:
 *     snap_reader_init(&r, &cfg);
 *     for (;;) {
 *         int rc = snap_reader_next(&r, &frag);
 *         if (rc == SNAP_FRAGMENT) { snap_loader_apply(&l, &frag); continue; }
 *         if (rc == SNAP_NEED_MORE) {
 *             void *p; size_t n = snap_reader_space(&r, &p);
 *             ssize_t got = pread(fd, p, n, off);   // or copy from memory
 *             if (got == 0) snap_reader_eof(&r); else snap_reader_wrote(&r, got), off += got;
 *             continue;
 *         }
 *         break;   // SNAP_END or a negative verdict: snap_reader_verdict(&r)
 *     }
 *     snap_reader_free(&r);
 * Fragments are returned before the footer is checked: a caller builds into
 * a keyspace it throws away unless the last return is SNAP_END.
 * Memory: the compressed block (plus a read chunk), its raw bytes, and the
 * open key's name; a block's lengths are verified before anything is
 * allocated for it, and never over max_raw.
 */
enum {
	SNAP_NEED_MORE = 0,
	SNAP_FRAGMENT = 1,
	SNAP_END = 2,
};

void snap_reader_init(struct snap_reader *r, const struct snap_reader_config *cfg);
void snap_reader_free(struct snap_reader *r);
/* Writable space for the next bytes of the file: returns its size (> 0 while
 * the reader needs more) and *p.  Invalidates the last fragment. */
size_t snap_reader_space(struct snap_reader *r, void **p);
/* n bytes were placed at the space's start. */
void snap_reader_wrote(struct snap_reader *r, size_t n);
/* Copy up to n bytes from p; returns how many were taken (may be < n). */
size_t snap_reader_feed(struct snap_reader *r, const void *p, size_t n);
/* The file has no more bytes. */
void snap_reader_eof(struct snap_reader *r);
/*
 * Next step.  Returns SNAP_FRAGMENT (f filled), SNAP_NEED_MORE (give bytes or
 * EOF), SNAP_END (the footer verified and the file ends right after it), or
 * a final verdict code (KV_ECORRUPT, KV_EVERSION, KV_EMISMATCH).  After a
 * final return it returns the same.
 */
int snap_reader_next(struct snap_reader *r, struct snap_fragment *f);
/* The file header once it has been read, else NULL. */
const struct file_header *snap_reader_header(const struct snap_reader *r);
/* Valid after a final return. */
const struct snap_verdict *snap_reader_verdict(const struct snap_reader *r);
/* Bytes the reader holds now (its buffers' capacities). */
size_t snap_reader_mem(const struct snap_reader *r);

/* One human line about a verdict (path may be NULL), snprintf-style:
 * returns the length it wanted.  The server log and kevy-check print it. */
size_t snap_verdict_describe(const struct snap_verdict *v, const char *path,
			     char *out, size_t cap);

/* ---- loader: fragments into a keyspace ---- */

/* Builds each key's value as its fragments arrive (a collection is a
 * detached object filled element by element and handed to the store when
 * its last fragment arrives; a string is gathered in a buffer that grows
 * with the bytes received, never with the size the file claims).  Values
 * come back exactly (every zset score to the bit); encodings are chosen by
 * the types' own rules as the elements are added, as Redis does on load.
 *
 * Without a keyspace (dbs NULL) it only verifies: each value is built with
 * the same code and the same rules, then freed at its last fragment, so a
 * checker (kevy-check) refuses exactly what the server's load refuses,
 * except what needs the whole keyspace (a key given twice) or the server's
 * configuration (`databases`).  Memory: the largest value. */
struct snap_loader {
	struct kv_dbs *dbs;      /* NULL: verify only */
	void *obj;               /* the open collection */
	struct kv_buf str;       /* the open string */
	enum kv_type type;
	bool open;
	bool zset_negzero;       /* the open zset has a -0 score */
	/* The open stream: its counters (from its first item), the group and
	 * consumer later items belong to, the last entry ID loaded. */
	bool st_meta;
	uint64_t st_last_ms, st_last_seq, st_del_ms, st_del_seq, st_added;
	void *st_group, *st_cons;
	uint64_t keys;           /* keys stored (verified, without dbs) */
	/* After KV_ECORRUPT: what is wrong (static text) and where, as an
	 * offset in the raw bytes of the fragment's block. */
	const char *error;
	size_t error_raw_offset;
};

/* dbs NULL: verify only (above). */
void snap_loader_init(struct snap_loader *l, struct kv_dbs *dbs);
/* Frees a value still being built (after a verdict other than SNAP_END). */
void snap_loader_free(struct snap_loader *l);
/* Apply one fragment.  Returns 0; KV_ECORRUPT for what the reader cannot
 * see alone (a key that is already in its database, a member or field
 * given twice, a stream item that breaks the order or uniqueness rules of
 * STREAM ITEMS), with l->error and l->error_raw_offset set; or KV_ELIMIT
 * for a database the keyspace does not have (dbs_grow when allowed). */
int snap_loader_apply(struct snap_loader *l, const struct snap_fragment *f);
/* The one way the server, kevy-check and kevy-dump load or verify a
 * fragment the reader r just returned: snap_loader_apply(), and when the
 * loader finds it corrupt, that becomes r's verdict (a corrupt block, with
 * the offending item's byte in its decompressed data), so every program
 * describes it with snap_verdict_describe() in the same words, at the same
 * offset; r then returns KV_ECORRUPT.  Returns what snap_loader_apply()
 * does. */
int snap_load_fragment(struct snap_reader *r, struct snap_loader *l,
		       const struct snap_fragment *f);

#endif
