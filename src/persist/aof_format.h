/*
 * aof_format.h - the byte format of a shard's append-only file (AOF segment):
 * the file header, record framing, the effect payload encoding, a streaming
 * reader that classifies a file's tail, and the one writer.
 *
 * This module is pure format: it never opens, reads, writes or syncs a file.
 * The server, kevy-check, kevy-dump and the tests all go through it, so there
 * is exactly one parser and one writer.  The byte layout, the validity rule
 * and the recovery rule are written out at the top of aof_format.c and, for
 * humans, in docs/format.md ("AOF segment").
 *
 * Errors are values: 0 or a count on success, a negative kevy code
 * (KV_ECORRUPT, KV_ETORN, KV_EVERSION, KV_EMISMATCH, KV_ELIMIT) on failure.
 */
#ifndef KV_AOF_FORMAT_H
#define KV_AOF_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "persist/file_header.h"
#include "base/readbuf.h"
#include "base/kv.h"
#include "proto/resp.h"

#define AOF_MAGIC "KEVYAOF\0"          /* 8 bytes, NUL included */
#define AOF_MAGIC_LEN 8
#define AOF_FORMAT_VERSION 4            /* written; 1 to 3 are still read (see aof_format.c) */
#define AOF_FORMAT_MIN_VERSION 1
#define AOF_FORMAT_UNITS_VERSION 4      /* the first that may hold UNIT and RESOLVE records */
#define AOF_DATASET_ID_LEN 16

/* On-disk structures.  Every field is little-endian and is read and written
 * with explicit byte helpers at the offsets these structs define; the structs
 * are never copied to or from disk wholesale.  Their sizes and offsets are
 * part of the format and asserted in aof_format.c. */
struct aof_disk_header {
	char magic[AOF_MAGIC_LEN];         /*  0 "KEVYAOF\0" */
	uint16_t version;                  /*  8 AOF_FORMAT_VERSION */
	uint16_t header_len;               /* 10 bytes of the header, checksum included */
	uint32_t flags;                    /* 12 none defined: must be 0 */
	uint8_t dataset_id[AOF_DATASET_ID_LEN]; /* 16 random, fixed at first start */
	uint32_t shard_id;                 /* 32 < shard_count */
	uint32_t shard_count;              /* 36 >= 1 */
	uint64_t generation;               /* 40 segment generation (manifest's) */
	uint64_t start_lsn;                /* 48 the segment holds LSNs > start_lsn */
	int64_t created_ms;                /* 56 wall clock, ms since the epoch */
	uint64_t checksum;                 /* 64 XXH3-64 of bytes [0, 64), seed 0 */
};
#define AOF_HEADER_SIZE 72

struct aof_disk_record {
	uint64_t checksum;                 /*  0 XXH3-64(seed, bytes [8, 32 + payload_len)) */
	uint32_t payload_len;              /*  8 */
	uint8_t type;                      /* 12 enum aof_record_type */
	uint8_t flags;                     /* 13 none defined: must be 0 */
	uint16_t sync_gap;                 /* 14 v2: LSN distance to what was durable
	                                    *    when framed (aof_format.c); v1: 0 */
	uint64_t lsn;                      /* 16 */
	uint64_t header_check;             /* 24 XXH3-64(seed, bytes [8, 24)) */
	/* 32: payload_len bytes of payload */
};
#define AOF_RECORD_HEADER_SIZE 32

enum aof_record_type {
	AOF_REC_EFFECT = 1,       /* one or more effect commands, applied atomically */
	AOF_REC_SEGMENT_END = 2,  /* the segment was sealed; payload: u64 effect count */
	AOF_REC_UNIT = 3,         /* v4: one shard's part of a unit across shards: header + effect */
	AOF_REC_RESOLVE = 4,      /* v4: records an earlier recovery dropped (units across shards) */
};

/* Records that take an LSN (every type but SEGMENT_END). */
static inline bool aof_rec_numbered(uint8_t type)
{
	return type == AOF_REC_EFFECT || type == AOF_REC_UNIT || type == AOF_REC_RESOLVE;
}

/* Largest payload the format can carry, and the default configured limit.
 * The default leaves room for a 512 MiB bulk (Redis's proto-max-bulk-len)
 * plus the rest of its command. */
#define AOF_PAYLOAD_FORMAT_MAX ((size_t)UINT32_MAX)
#define AOF_PAYLOAD_DEFAULT_MAX ((size_t)1 << 30)

/* ---- file header ---- */

/* The decoded header is file_header.h's struct file_header (its lsn is the
 * segment's start LSN: every record's LSN is greater).  The checksum is the
 * stored (verified) value; it also seeds every record checksum of the
 * segment, binding each record to it. */

/* What a reader expects the file to belong to is a struct file_expect
 * (file_header.h): only the fields it names are compared; tools reading a
 * lone file pass NULL or fields = 0. */

/* Fill h for a new segment (version set, checksum computed). */
void aof_header_init(struct file_header *h, const uint8_t dataset_id[AOF_DATASET_ID_LEN],
		     uint32_t shard_id, uint32_t shard_count, uint64_t generation,
		     uint64_t start_lsn, int64_t created_ms);
/* Serialize h into out[AOF_HEADER_SIZE]; recomputes and stores h->checksum. */
void aof_header_encode(struct file_header *h, uint8_t out[AOF_HEADER_SIZE]);

/* How a file header (or a whole file) was judged; see struct aof_verdict. */
enum aof_verdict_kind {
	AOF_VERDICT_CLEAN = 0,    /* ends after a complete valid record */
	AOF_VERDICT_TORN,         /* KV_ETORN: bad bytes only at the tail */
	AOF_VERDICT_CORRUPT,      /* KV_ECORRUPT: bad record or header */
	AOF_VERDICT_NOT_AOF,      /* KV_ECORRUPT: bad magic, not a kevy AOF */
	AOF_VERDICT_VERSION,      /* KV_EVERSION: a well-formed header of an unknown version */
	AOF_VERDICT_MISMATCH,     /* KV_EMISMATCH: another dataset/shard/count/generation */
};

/*
 * Decode and check a file header from p[0..len).  exp may be NULL.
 * Returns 0 (h filled), or:
 *   KV_ETORN      len is short of the header and what is there is a prefix of
 *                 one (for a whole file: the header write never completed);
 *   KV_ECORRUPT   bad magic (*kind = AOF_VERDICT_NOT_AOF) or a header that
 *                 fails its checksum or its field rules (AOF_VERDICT_CORRUPT);
 *   KV_EVERSION   a header whose checksum verifies but whose version is not
 *                 AOF_FORMAT_VERSION;
 *   KV_EMISMATCH  valid, but not the expected dataset/shard/count/generation.
 * msg (may be NULL) receives one line naming the problem, e.g.
 * "shard count mismatch: file has 4, expected 8".  kind may be NULL.
 */
int aof_header_decode(const void *p, size_t len, const struct file_expect *exp,
		      struct file_header *h, enum aof_verdict_kind *kind,
		      char *msg, size_t msg_cap);

/* ---- effect payload: i64 time, then commands (argc, length-prefixed args) ---- */

#define AOF_EFFECT_TIME_SIZE 8

/* Start a payload in b: the time the commands ran with (replay uses it as
 * the clock, so relative times and expiry checks come out the same). */
void aof_payload_begin(struct kv_buf *b, int64_t time_ms);

/* Bytes aof_payload_append would add for this command. */
size_t aof_payload_size(int argc, const struct kv_slice *argv);
/* Append one command (argc >= 1) to b. */
void aof_payload_append(struct kv_buf *b, int argc, const struct kv_slice *argv);

/* Iterates the commands of an EFFECT payload.  argv points into the payload
 * (and an array the iterator owns) and stays valid until the next call. */
struct aof_payload_iter {
	int64_t time_ms;         /* the payload's time */
	bool bad;                /* shorter than the time field */
	const uint8_t *p;
	const uint8_t *end;
	struct kv_slice *argv;
	int argv_cap;
};
void aof_payload_iter_init(struct aof_payload_iter *it, const void *payload, size_t len);
/* 1: one command in *argc and *argv; 0: end of payload; KV_ECORRUPT: malformed
 * (never for a payload the reader returned: the reader validates them). */
int aof_payload_next(struct aof_payload_iter *it, int *argc, struct kv_slice **argv);
void aof_payload_iter_free(struct aof_payload_iter *it);
/* 0 if payload is a well-formed EFFECT payload (the time, at least one command, no
 * trailing bytes, minimal varints), else KV_ECORRUPT.  ncmds may be NULL. */
int aof_payload_validate(const void *payload, size_t len, uint64_t *ncmds);

/* ---- UNIT payload (version 4): a part of a unit across shards ----
 *
 * u64 boot, u64 seq (the unit id, boot != 0), varint row count (>= 1,
 * one row per shard the unit held, this one's a PART row), each row: varint shard, u8 role (1 PART, 2
 * READ), varint LSN, and for READ a key list; then this part's own extra
 * read keys (a key list); then an EFFECT payload (time, commands).
 * Key list: varint count (UINT64_MAX: every key of the shard), then each
 * key: varint db, varint length, bytes.  docs/format.md has the table. */

#define AOF_UNIT_PART 1
#define AOF_UNIT_READ 2
#define AOF_KEYS_ALL UINT64_MAX

struct aof_unit_row {
	uint32_t shard;
	uint8_t role;                /* AOF_UNIT_PART / AOF_UNIT_READ */
	uint64_t lsn;
	const uint8_t *keys;         /* READ: the key list (into the payload) */
	size_t keys_len;
};

struct aof_unit {
	uint64_t boot, seq;
	uint32_t nrows;
	struct aof_unit_row *rows;   /* owned: aof_unit_free */
	const uint8_t *reads;        /* this part's extra read keys: a key list */
	size_t reads_len;
	const uint8_t *effect;       /* the EFFECT payload that follows */
	size_t effect_len;
};

/* Decode (and fully check) a UNIT payload; pointers go into payload.
 * 0, or KV_ECORRUPT with *why set to a static text. */
int aof_unit_decode(const void *payload, size_t len, struct aof_unit *u, const char **why);
void aof_unit_free(struct aof_unit *u);

/* Key list iteration: *p .. end; returns 1 (a key), 0 (end), KV_ECORRUPT.
 * *all is set when the list stands for every key (then it returns 0). */
struct aof_keys_iter {
	const uint8_t *p, *end;
	uint64_t left;
	bool all;
};
int aof_keys_iter_init(struct aof_keys_iter *it, const uint8_t *p, size_t len);
int aof_keys_next(struct aof_keys_iter *it, uint32_t *db, const uint8_t **key, size_t *klen);

/* Writing a UNIT payload: begin with the id and rows; a READ row's key list
 * and the part's own read keys are appended with aof_keys_begin/_add/_end. */
void aof_unit_begin(struct kv_buf *b, uint64_t boot, uint64_t seq, uint32_t nrows);
void aof_unit_row(struct kv_buf *b, uint32_t shard, uint8_t role, uint64_t lsn);
void aof_keys_put_all(struct kv_buf *b);
void aof_keys_put(struct kv_buf *b, uint64_t n);
void aof_keys_put_key(struct kv_buf *b, uint32_t db, const void *key, size_t klen);

/* ---- RESOLVE payload (version 4): i64 time, varint count, LSNs ascending
 * as deltas (the first from 0), varint unit count, each 16 bytes (boot,
 * seq).  aof_resolve_decode checks it; lsns is owned (free()). */
void aof_resolve_encode(struct kv_buf *b, int64_t time_ms, const uint64_t *lsns, size_t n,
			const uint64_t (*ids)[2], size_t nids);
int aof_resolve_decode(const void *payload, size_t len, int64_t *time_ms, uint64_t **lsns,
		       size_t *n, size_t *nids);

/* ---- writer: records appended to a caller's buffer ---- */

/* Assigns LSNs (last_lsn + 1, ...) and frames records for one segment.  The
 * caller writes the buffer wherever and whenever its policy says. */
struct aof_encoder {
	uint64_t seed;          /* the segment header's checksum */
	uint64_t last_lsn;      /* LSN of the last committed record (start_lsn at first) */
	uint64_t effects;       /* EFFECT records committed */
	size_t max_payload;     /* records above it are refused (KV_ELIMIT) */
	size_t mark;            /* where the open record starts in the buffer */
	uint64_t durable_lsn;   /* known durable when framing (aof_encoder_set_durable) */
	bool track_durable;     /* a version 2 segment whose writer reports durability */
	uint16_t version;       /* the segment's format version */
	bool open;
	bool sealed;
};

/* h must have its checksum computed (aof_header_init or _encode does). */
void aof_encoder_init(struct aof_encoder *e, const struct file_header *h, size_t max_payload);
/* The writer's fsync made every record up to lsn durable: records framed
 * from now on say so (version 2 segments), which lets recovery tell an
 * unsynced tail with holes from damage to synced records.  Until it is
 * called a record claims it was durable itself (sync gap 0): the strict,
 * version 1 reading. */
void aof_encoder_set_durable(struct aof_encoder *e, uint64_t lsn);
/* Start an EFFECT record in b; add commands; then commit or abort.  b must
 * not be modified by anyone else between begin and commit/abort. */
void aof_encoder_begin(struct aof_encoder *e, struct kv_buf *b, int64_t time_ms);
void aof_encoder_add(struct aof_encoder *e, struct kv_buf *b, int argc,
		     const struct kv_slice *argv);
/* Finish the open record with the next LSN (*lsn).  Returns 0, or KV_ELIMIT
 * if the payload exceeds max_payload: the record is removed from b and no LSN
 * is used.  At least one command must have been added. */
int aof_encoder_commit(struct aof_encoder *e, struct kv_buf *b, uint64_t *lsn);
void aof_encoder_abort(struct aof_encoder *e, struct kv_buf *b);
/* One-command record: begin + add + commit. */
int aof_encoder_effect(struct aof_encoder *e, struct kv_buf *b, int64_t time_ms, int argc,
		       const struct kv_slice *argv, uint64_t *lsn);
/* Frame a complete EFFECT payload built elsewhere (time + commands, e.g. by
 * fx.c) as the next record: 0 or KV_ELIMIT as aof_encoder_commit. */
int aof_encoder_payload(struct aof_encoder *e, struct kv_buf *b, const void *payload,
			size_t len, uint64_t *lsn);
/* Frame a complete UNIT or RESOLVE payload as the next record (version 4
 * segments only): 0 or KV_ELIMIT. */
int aof_encoder_typed(struct aof_encoder *e, struct kv_buf *b, uint8_t type, const void *payload,
		      size_t len, uint64_t *lsn);
/* Append the SEGMENT_END record; nothing may follow it in the segment. */
void aof_encoder_seal(struct aof_encoder *e, struct kv_buf *b);

/* Low level: frame one record with no ordering or payload checks.  For
 * tools and tests that must build exact (even invalid) files. */
void aof_record_append_raw(struct kv_buf *b, uint64_t seed, uint8_t type, uint8_t flags,
			   uint64_t lsn, const void *payload, size_t len);

/* ---- streaming reader ---- */

struct aof_record {
	uint8_t type;            /* enum aof_record_type */
	uint64_t lsn;
	uint64_t offset;         /* file offset of the record's first byte */
	uint64_t size;           /* header + payload bytes */
	const uint8_t *payload;  /* into the reader's buffer: valid until its next call */
	uint32_t payload_len;
	uint64_t durable_bound;  /* no LSN above it was durable when it was framed */
};

/* The reader's final judgement of a file (after a return other than
 * AOF_RECORD / AOF_NEED_MORE). */
struct aof_verdict {
	enum aof_verdict_kind kind;
	int code;                 /* 0 or KV_ETORN / KV_ECORRUPT / KV_EVERSION / KV_EMISMATCH */
	uint64_t offset;          /* torn: truncate here; corrupt: the bad record or 0 for the header */
	uint64_t bytes_seen;      /* bytes the reader was given: the file's size for CLEAN and TORN */
	uint64_t valid_end;       /* end of the last valid record (header included) */
	uint64_t records;         /* valid records before offset (SEGMENT_END included) */
	uint64_t first_lsn;       /* of valid EFFECT records; 0 if none */
	uint64_t last_lsn;
	bool sealed;              /* a valid SEGMENT_END record was read */
	/* clean: zero bytes after the last record, up to EOF (preallocated
	 * space the writer had not reached; not records, not a torn tail) */
	uint64_t free_bytes;
	/* torn: what truncation would drop.  LSNs come from record headers that
	 * verify (their payload did not); unknown when none does. */
	uint64_t dropped_bytes;
	uint64_t dropped_headers; /* record headers that verify in the dropped bytes */
	uint64_t dropped_lsn_min;
	uint64_t dropped_lsn_max;
	/* valid records in the dropped bytes, each framed before the first bad
	 * record could have been durable (version 2 only) */
	uint64_t unsynced_followers;
	/* corrupt because a valid record follows a bad one: where it is */
	bool follower;
	uint64_t follower_offset;
	uint64_t follower_lsn;
	const char *reason;       /* static text: "checksum mismatch", ... */
	char detail[192];         /* header problems and mismatches, with values */
};

struct aof_reader_config {
	size_t max_payload;              /* 0: AOF_PAYLOAD_DEFAULT_MAX */
	const struct file_expect *expect; /* NULL: any dataset/shard (tools) */
};

/* Private to aof_format.c. */
struct aof_reader {
	size_t max_payload;
	struct file_expect expect;
	bool have_expect;
	int state;
	struct read_buf in;       /* bytes [base, base + len) of the file */
	struct file_header header;
	bool have_header;
	uint64_t last_lsn;
	uint64_t effects;
	uint64_t bad_offset;     /* scan mode: the first bad record */
	uint64_t zero_start;     /* zeros mode: where the run of zero bytes began */
	size_t zero_known;       /* zeros mode: bytes at pos already seen to be zero */
	struct aof_verdict v;
};

/*
 * Use:
 *     aof_reader_init(&r, &cfg);
 *     for (;;) {
 *         int rc = aof_reader_next(&r, &rec);
 *         if (rc == AOF_RECORD) { apply(&rec); continue; }
 *         if (rc == AOF_NEED_MORE) {
 *             void *p; size_t n = aof_reader_space(&r, &p);
 *             ssize_t got = pread(fd, p, n, off);   // or copy from memory
 *             if (got == 0) aof_reader_eof(&r); else aof_reader_wrote(&r, got), off += got;
 *             continue;
 *         }
 *         break;   // AOF_CLEAN_EOF or a negative verdict: aof_reader_verdict(&r)
 *     }
 *     aof_reader_free(&r);
 * The buffer grows only to what one step needs, never beyond
 * max_payload + AOF_RECORD_HEADER_SIZE (plus a read chunk).
 */
enum {
	AOF_NEED_MORE = 0,
	AOF_RECORD = 1,
	AOF_CLEAN_EOF = 2,
};

void aof_reader_init(struct aof_reader *r, const struct aof_reader_config *cfg);
void aof_reader_free(struct aof_reader *r);
/* Writable space for the next bytes of the file: returns its size (> 0 while
 * the reader needs more) and *p.  Invalidates the last record's payload. */
size_t aof_reader_space(struct aof_reader *r, void **p);
/* n bytes were placed at the space's start. */
void aof_reader_wrote(struct aof_reader *r, size_t n);
/* Copy up to n bytes from p; returns how many were taken (may be < n). */
size_t aof_reader_feed(struct aof_reader *r, const void *p, size_t n);
/* The file has no more bytes. */
void aof_reader_eof(struct aof_reader *r);
/*
 * Next step.  Returns AOF_RECORD (rec filled), AOF_NEED_MORE (give bytes or
 * EOF), AOF_CLEAN_EOF, or a final verdict code (KV_ETORN, KV_ECORRUPT,
 * KV_EVERSION, KV_EMISMATCH).  After a final return it returns the same.
 */
int aof_reader_next(struct aof_reader *r, struct aof_record *rec);
/* The segment's header once it has been read, else NULL. */
const struct file_header *aof_reader_header(const struct aof_reader *r);
/* Valid after a final return. */
const struct aof_verdict *aof_reader_verdict(const struct aof_reader *r);

/* One human line about a verdict (path may be NULL), snprintf-style:
 * returns the length it wanted.  The server log and kevy-check print it. */
size_t aof_verdict_describe(const struct aof_verdict *v, const char *path,
			    char *out, size_t cap);

#endif
