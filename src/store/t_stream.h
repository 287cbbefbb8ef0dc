/*
 * t_stream.h - the value object of the Redis stream type: an append-only log
 * of entries ordered by a 128-bit ID (ms-seq), each a list of field/value
 * pairs, plus consumer groups.
 *
 * Entries live in blocks of packed bytes.  A block holds up to
 * stream-node-max-entries entries and about stream-node-max-bytes bytes
 * (store/encoding.h; 0 lifts that limit), and starts with its "master"
 * field names, those of its first entry: an entry with exactly these fields
 * stores only its values (Redis's SAMEFIELDS trick, which is what makes
 * small entries cheap).  Blocks are kept in an array sorted by first ID, so
 * a lookup is a binary search over blocks and a scan inside one; appends go
 * to the last block.  A deleted entry is a tombstone (a flag byte) until
 * its whole block is empty, then the block is freed.
 *
 *   block data:  master: varint nfields, (varint len, bytes) x nfields
 *   entry:       flags (1 byte: 1 deleted, 2 same fields as the master)
 *                varint (ms - block.first.ms), varint seq
 *                same fields:  (varint len, value) x master nfields
 *                otherwise:    varint nfields, (varint len, field, varint len,
 *                              value) x nfields
 *
 * Consumer groups are sorted by name; each has its PEL (pending entries
 * list) as an array of NACKs sorted by ID, and its consumers, sorted by name,
 * each with its own PEL sorted by ID pointing at the same NACKs.  The PEL
 * arrays keep a head offset, so acknowledging the oldest entry (the common
 * case) is O(1) and an append is amortised O(1); a removal in the middle is
 * a memmove.
 *
 * Ownership: the store owns the object (stream_free and stream_mem are the
 * type's free and mem functions).  Every mutation keeps s->mem exact, so
 * callers report the change with db_memory_adjust(stream_mem() after -
 * before).  Not here: argument parsing, replies, effects (cmd_stream.c).
 */
#ifndef KV_T_STREAM_H
#define KV_T_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/resp.h"

struct stream_id {
	uint64_t ms, seq;
};

#define STREAM_ID_MIN ((struct stream_id){ 0, 0 })
#define STREAM_ID_MAX ((struct stream_id){ UINT64_MAX, UINT64_MAX })
/* entries_read of a group whose position is unknown (Redis's
 * SCG_INVALID_ENTRIES_READ). */
#define STREAM_ENTRIES_READ_INVALID (-1)
/* Longest "ms-seq" text. */
#define STREAM_ID_STR_MAX 42

static inline int stream_id_cmp(struct stream_id a, struct stream_id b)
{
	if (a.ms != b.ms)
		return a.ms < b.ms ? -1 : 1;
	if (a.seq != b.seq)
		return a.seq < b.seq ? -1 : 1;
	return 0;
}
static inline bool stream_id_is_zero(struct stream_id a)
{
	return a.ms == 0 && a.seq == 0;
}
/* a+1 / a-1; false on overflow (a was the max / min). */
bool stream_id_incr(struct stream_id *a);
bool stream_id_decr(struct stream_id *a);
/* "ms-seq" into buf (STREAM_ID_STR_MAX bytes); returns the length. */
size_t stream_id_format(struct stream_id id, char *buf);

struct stream_consumer;

struct stream_nack {
	struct stream_id id;
	int64_t delivery_time;     /* ms */
	uint64_t delivery_count;
	struct stream_consumer *consumer;
};

/* A sorted array of NACK pointers; elements live at v[head, head+len). */
struct stream_pel {
	struct stream_nack **v;
	size_t head, len, cap;
};

struct stream_consumer {
	char *name;
	size_t nlen;
	int64_t seen_time;          /* last interaction (7.0's seen-time) */
	struct stream_pel pel;      /* NACKs owned by this consumer */
};

struct stream_group {
	char *name;
	size_t nlen;
	struct stream_id last_id;   /* last delivered */
	int64_t entries_read;       /* or STREAM_ENTRIES_READ_INVALID */
	struct stream_pel pel;      /* owns the NACKs */
	struct stream_consumer **cons;
	size_t ncons, cons_cap;
};

struct stream_block;

struct stream {
	struct stream_block **blocks;
	size_t nblocks, blocks_cap;
	uint64_t length;              /* live entries */
	struct stream_id last_id;     /* greatest ID ever added (or XSETID) */
	struct stream_id first_id;    /* first live entry; 0-0 when empty */
	struct stream_id max_deleted_id;
	uint64_t entries_added;
	struct stream_group **groups;
	size_t ngroups, groups_cap;
	size_t mem;                   /* heap bytes, kept exact */
};

/* Register stream_free/stream_mem with the store (also run by a constructor). */
void stream_type_register(void);
struct stream *stream_new(void);
/* A deep copy (COPY). */
struct stream *stream_dup(const struct stream *s);
void stream_free(void *obj);
size_t stream_mem(const void *obj);

/* ---- entries ---- */

/* Append an entry with ID id, which must be greater than s->last_id (the
 * caller checks); fields/values alternate in fv (2 * nfields slices).
 * Updates length, last_id, first_id, entries_added. */
void stream_append(struct stream *s, struct stream_id id, const struct kv_slice *fv,
		   size_t nfields);
/* Delete the entry with this ID: true when it existed (live). Updates
 * length and first_id, not max_deleted_id (the caller's rule). */
bool stream_delete(struct stream *s, struct stream_id id);
bool stream_exists(const struct stream *s, struct stream_id id);

enum stream_trim_kind { STREAM_TRIM_NONE, STREAM_TRIM_MAXLEN, STREAM_TRIM_MINID };
/* Trim as XTRIM/XADD do: entries below minid or beyond the newest maxlen.
 * approx removes whole blocks only; limit (approx only, 0: none) caps the
 * entries removed.  Returns the count removed. */
uint64_t stream_trim(struct stream *s, enum stream_trim_kind kind, uint64_t maxlen,
		     struct stream_id minid, bool approx, uint64_t limit);

/* Walks live entries with IDs in [start, end] (in reverse when rev).  The
 * slices of the current entry point into the stream and stay valid until
 * the stream is modified or the iterator moves. */
struct stream_iter {
	const struct stream *s;
	struct stream_id start, end;
	bool rev;
	size_t bi;                 /* current block (rev: index + 1) */
	uint32_t *offs;            /* rev: entry offsets of the current block */
	size_t noffs, offs_cap, oi;
	uint32_t off;              /* forward: next entry offset */
	bool started, done;
	struct kv_slice *fv;       /* the current entry: field, value, ... */
	size_t nfields, fv_cap;
};
void stream_iter_start(struct stream_iter *it, const struct stream *s, struct stream_id start,
		       struct stream_id end, bool rev);
/* Next live entry in range: true with *id, it->fv and it->nfields set. */
bool stream_iter_next(struct stream_iter *it, struct stream_id *id);
void stream_iter_stop(struct stream_iter *it);

/* The first (or last) live ID, or false when empty. */
bool stream_edge_id(const struct stream *s, bool first, struct stream_id *out);

/* ---- consumer groups ---- */

struct stream_group *stream_group_find(const struct stream *s, const char *name, size_t nlen);
/* NULL when a group of that name exists. */
struct stream_group *stream_group_create(struct stream *s, const char *name, size_t nlen,
					 struct stream_id last_id, int64_t entries_read);
/* Destroy a group (its PEL and consumers); true when it existed. */
bool stream_group_destroy(struct stream *s, const char *name, size_t nlen);

struct stream_consumer *stream_consumer_find(const struct stream_group *g, const char *name,
					     size_t nlen);
/* Create a consumer (seen_time = now); NULL when it exists. */
struct stream_consumer *stream_consumer_create(struct stream *s, struct stream_group *g,
					       const char *name, size_t nlen, int64_t now_ms);
/* Delete a consumer and its pending entries from the group's PEL; returns
 * how many were pending. */
uint64_t stream_consumer_delete(struct stream *s, struct stream_group *g,
				struct stream_consumer *c);

/* PEL primitives.  Index of the first element >= id. */
size_t stream_pel_lower(const struct stream_pel *p, struct stream_id id);
static inline struct stream_nack *stream_pel_at(const struct stream_pel *p, size_t i)
{
	return p->v[p->head + i];
}
struct stream_nack *stream_pel_find(const struct stream_pel *p, struct stream_id id);
/* Add a new NACK for id to group g and consumer c (id must not be pending). */
struct stream_nack *stream_nack_add(struct stream *s, struct stream_group *g,
				    struct stream_consumer *c, struct stream_id id,
				    int64_t delivery_time, uint64_t delivery_count);
/* Move a NACK to another consumer. */
void stream_nack_move(struct stream *s, struct stream_nack *n, struct stream_consumer *to);
/* Remove and free a NACK (from the group and its consumer). */
void stream_nack_remove(struct stream *s, struct stream_group *g, struct stream_nack *n);

/* ---- 7.0's counters ---- */
/* Whether [start, end] (NULL: open) may hold a tombstone. */
bool stream_range_has_tombstones(const struct stream *s, const struct stream_id *start,
				 const struct stream_id *end);
/* The logical read counter of id, or STREAM_ENTRIES_READ_INVALID. */
int64_t stream_estimate_distance(const struct stream *s, struct stream_id id);
/* The group's lag, or false when it is unknown (null reply). */
bool stream_group_lag(const struct stream *s, const struct stream_group *g, int64_t *lag);

/* Blocks (XINFO STREAM's radix-tree-keys / nodes, tests). */
size_t stream_block_count(const struct stream *s);

/* Check the object's invariants (unit tests, loaders): 0 or -1. */
int stream_check(const struct stream *s);

#endif
