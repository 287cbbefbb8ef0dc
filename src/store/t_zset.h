/*
 * t_zset.h - the sorted set value type: members (binary strings) ordered by
 * (score, member bytes), with O(log n) rank and range access.
 *
 * Two encodings, as in Redis:
 *   - "listpack": one packed byte array of entries sorted by score then
 *     member, used while the zset has at most ZSET_PACKED_MAX_ENTRIES
 *     members of at most ZSET_PACKED_MAX_VALUE bytes each;
 *   - "skiplist": a skiplist with spans (rank in O(log n)) whose nodes also
 *     carry the member bytes and an intrusive dict.h node, so one allocation
 *     per member serves both the order and the member -> score lookup.
 * A packed zset converts to a skiplist when it outgrows either limit; it
 * never converts back (Redis does not either, except for results of the
 * *STORE commands, which are built fresh and so start packed here too).
 *
 * A zset is a store object (store.h, KV_TYPE_ZSET).  zset_mem() is O(1) and
 * is refreshed by every mutating call, so callers report
 * zset_mem(after) - zset_mem(before) through db_memory_adjust() for changes
 * in place, and hand a moved object (zset_add) to db_set_object().
 *
 * Not thread-safe; the shard that owns the key owns the zset.
 */
#ifndef KV_T_ZSET_H
#define KV_T_ZSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/resp.h"

/* What the packed layout can hold: its count is one byte, and 255 entries
 * of the longest member stay far below its 16-bit byte size.  Above Redis's
 * default of 128 so zset-max-listpack-entries can be raised (Redis's own
 * tests set 256 and expect up to ~160 members to stay packed). */
#define ZSET_PACKED_MAX_ENTRIES 255
#define ZSET_PACKED_MAX_VALUE 64
_Static_assert(ZSET_PACKED_MAX_ENTRIES <= UINT8_MAX &&
	       ZSET_PACKED_MAX_ENTRIES * (ZSET_PACKED_MAX_VALUE + 10) <= UINT16_MAX,
	       "a packed zset's count and byte size fit its header");

struct zset;

/* An empty zset (packed).  Never NULL. */
struct zset *zset_new(void);
/* A new empty zset about to receive n elements one by one, encoded as
 * Redis's ZRANGESTORE starts its result: a skiplist when n is over
 * zset-max-listpack-entries, else packed (converted by zset_add as needed). */
struct zset *zset_new_for(size_t n);
/* An empty zset that starts as a skiplist (results of the *STORE commands,
 * which Redis builds as a skiplist and packs at the end if they fit). */
struct zset *zset_new_skiplist(void);
/* Converts a skiplist that fits the packed limits to the packed encoding:
 * *zp becomes a new object and the old one is freed (use it only on a zset
 * the store does not hold yet). */
void zset_pack_if_fits(struct zset **zp);
/* Frees the zset (the store's free callback for KV_TYPE_ZSET). */
void zset_free(void *z);
/* Bytes held (allocator accounting, as store.c); the store's mem callback. */
size_t zset_mem(const void *z);
size_t zset_len(const struct zset *z);
/* "listpack" or "skiplist" (OBJECT ENCODING). */
const char *zset_encoding(const struct zset *z);
/* Registers zset_free/zset_mem with the store (idempotent). */
void zset_register_type(void);

/* zset_add flags, Redis's ZADD_IN_* / ZADD_OUT_* semantics. */
enum {
	ZADD_IN_INCR = 1 << 0,
	ZADD_IN_NX = 1 << 1,
	ZADD_IN_XX = 1 << 2,
	ZADD_IN_GT = 1 << 3,
	ZADD_IN_LT = 1 << 4,
	ZADD_IN_EXACT = 1 << 5,    /* store 0 over -0 and back (*STORE results) */
};
enum {
	ZADD_OUT_NOP = 1 << 0,     /* nothing changed because of NX/XX/GT/LT */
	ZADD_OUT_NAN = 1 << 1,     /* INCR produced NaN; nothing changed */
	ZADD_OUT_ADDED = 1 << 2,
	ZADD_OUT_UPDATED = 1 << 3,
	ZADD_OUT_MOVED = 1 << 4,   /* *zp is a new object (see zset_add) */
};
/* Adds or updates a member.  Returns the ZADD_OUT_* flags; *newscore gets
 * the member's score after the call when it was added or updated (or, with
 * INCR, when it exists and was left alone).  score must not be NaN.
 * A packed zset lives in one chunk, so growing it (or converting it to a
 * skiplist) may produce a new object: then *zp is updated, ZADD_OUT_MOVED
 * is set, and the old object is left allocated and still freeable for the
 * caller to dispose of (the store frees it when db_set_object is handed the
 * new one; otherwise zset_free it).  Removals never move a zset. */
int zset_add(struct zset **zp, double score, const char *m, size_t mlen,
	     int in_flags, double *newscore);
/* Score of a member; false when absent. */
bool zset_score(struct zset *z, const char *m, size_t mlen, double *score);
/* Removes a member; false when absent. */
bool zset_del(struct zset *z, const char *m, size_t mlen);
/* 0-based rank of a member (from the highest score when rev), or -1. */
int64_t zset_rank(struct zset *z, const char *m, size_t mlen, bool rev,
		  double *score);

/* ---- ranges ---- */
struct zset_score_range {
	double min, max;
	bool minex, maxex;         /* exclusive bounds */
};
/* A lex bound: inf -1 is "-", +1 is "+", else [ (incl) or ( (excl) + bytes. */
struct zset_lex_bound {
	int inf;
	bool ex;
	struct kv_slice s;
};
struct zset_lex_range {
	struct zset_lex_bound min, max;
};
/* Rank (in direction rev) of the first element inside the range, and how
 * many elements the range holds from there; returns the count (0: empty). */
size_t zset_score_span(struct zset *z, const struct zset_score_range *r,
		       bool rev, size_t *first_rank);
/* Lex: the first element is found as above, then `offset` elements are
 * skipped by rank and elements are counted while they stay inside the far
 * bound (Redis's walk; it matters only for mixed scores). */
size_t zset_lex_span(struct zset *z, const struct zset_lex_range *r,
		     bool rev, size_t offset, size_t *first_rank);

/* ZLEXCOUNT's count (Redis counts by rank on a skiplist, by walking on a
 * packed zset; they differ only for mixed scores). */
size_t zset_lex_count(struct zset *z, const struct zset_lex_range *r);

/* ---- iteration ---- */
/* Walks elements by rank, forward (ascending) or reverse.  The zset must not
 * be modified while an iterator is in use. */
struct zset_iter {
	const struct zset *z;
	bool rev;
	size_t rank;                /* rank (in direction rev) of the next element */
	const void *node;           /* skiplist: next node */
	uint16_t off[ZSET_PACKED_MAX_ENTRIES + 1]; /* packed: entry offsets */
};
void zset_iter_init(const struct zset *z, struct zset_iter *it, size_t rank, bool rev);
/* Next element: member bytes (valid while the zset is unchanged) and score.
 * Returns false at the end. */
bool zset_iter_next(struct zset_iter *it, struct kv_slice *member, double *score);

/* Calls fn on every element in ascending order (for serialization). */
typedef void (*zset_foreach_fn)(void *arg, struct kv_slice member, double score);
void zset_foreach(const struct zset *z, zset_foreach_fn fn, void *arg);

/* One step of a cursor walk (ZSCAN; fork-less snapshots): reports some
 * elements and returns the next cursor, 0 when done.  A packed zset is
 * reported whole in one step.  Every element present for the whole walk is
 * reported at least once; fn must not modify the zset. */
uint64_t zset_scan(struct zset *z, uint64_t cursor, zset_foreach_fn fn, void *arg);

/* Removes and reports up to count elements from the lowest (max=false) or
 * highest score end, in pop order.  Returns how many were popped.  Reused by
 * ZPOPMIN/ZPOPMAX and, later, BZPOPMIN/BZPOPMAX. */
size_t zset_pop(struct zset *z, bool max, size_t count, zset_foreach_fn fn, void *arg);
/* Removes the elements of ranks [start, end] (ascending ranks, inclusive). */
void zset_delete_rank_range(struct zset *z, size_t start, size_t end);

/* Formats a score as Redis 7.0 replies it (d2string): "inf", "-inf", "-0",
 * integers below 2^52 in magnitude without a point, else "%.17g".  buf must
 * hold ZSET_SCORE_MAX bytes; returns the length. */
#define ZSET_SCORE_MAX 32
int zset_fmt_score(char *buf, double v);

/* Invariants check for tests: order, spans, dict agreement, accounting.
 * Returns 0 or a negative code naming the first broken invariant. */
int zset_check(struct zset *z);

#endif
