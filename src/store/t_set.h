/*
 * t_set.h - the set value type: an unordered collection of unique binary
 * strings, in one of three encodings chosen by its contents (as Redis 7):
 *
 *   intset     every member is a canonical int64 (Redis's string2ll) and
 *              there are at most SET_MAX_INTSET_ENTRIES: a sorted array of
 *              16-, 32- or 64-bit integers, width widened on demand;
 *   listpack   at most SET_MAX_LISTPACK_ENTRIES members of at most
 *              SET_MAX_LISTPACK_VALUE bytes: one packed buffer of
 *              [length byte][bytes] entries in insertion order;
 *   hashtable  anything else: a dict.h table of one allocation per member.
 *
 * A set only moves up (intset -> listpack -> hashtable, or intset ->
 * hashtable); removing members never converts it back.  Iteration order is
 * the encoding's: ascending for an intset, insertion order for a listpack,
 * table order for a hashtable.
 *
 * The object is owned by the store once handed to db_set_object (the type's
 * free and mem functions are registered at program start by t_set.c).  Every
 * function that changes a set keeps its byte count (set_mem) exact; the
 * caller reports the difference to the store with db_memory_adjust.
 *
 * Mutation protocol.  An intset or listpack is one allocation (header and
 * data), so a change may move it.  set_add, set_remove and set_pop take the
 * set by reference (*sp) and the object the store holds (`pinned`, NULL when
 * the store holds none of them): a pinned object is never freed, moved or
 * modified when the change needs another block; *sp then becomes a NEW
 * object, and the caller installs it with db_set_object(..., KV_KEEP_EXPIRE),
 * which frees the old one.  An object that is not pinned is reallocated (or
 * freed on a conversion) and *sp updated.  When *sp is still the pinned
 * object, the change was made in place: report the change of set_mem.
 * A hashtable never moves.
 *
 * Not here: commands and their replies (cmd_set.c), persistence.
 */
#ifndef KV_T_SET_H
#define KV_T_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/resp.h"

#define SET_MAX_INTSET_ENTRIES 512
#define SET_MAX_LISTPACK_ENTRIES 128
#define SET_MAX_LISTPACK_VALUE 64

enum set_encoding {
	SET_ENC_INTSET = 0,
	SET_ENC_LISTPACK = 1,
	SET_ENC_HASHTABLE = 2,
};

struct kv_set;

/* An empty set (intset encoding).  Never NULL. */
struct kv_set *set_create(void);
void set_free(struct kv_set *s);

uint64_t set_size(const struct kv_set *s);
enum set_encoding set_encoding(const struct kv_set *s);
/* "intset", "listpack" or "hashtable" (OBJECT ENCODING). */
const char *set_encoding_name(const struct kv_set *s);
/* Bytes per member of an intset (2, 4 or 8: widened by the widest member
 * ever added, never narrowed, as Redis's intset), 0 for other encodings.
 * DUMP writes the intset at this width, as Redis does. */
uint32_t set_intset_width(const struct kv_set *s);
/* Bytes held by the set (header, buffers, table, members) as the heap
 * spends them: malloc_usable_size plus the chunk header per allocation. */
size_t set_mem(const struct kv_set *s);

/* Add a member; returns true if it was not present.  May convert or move
 * (*sp; see the mutation protocol above). */
bool set_add(struct kv_set **sp, const void *m, size_t len, const struct kv_set *pinned);
/* Remove a member; returns true if it was present.  May move (*sp). */
bool set_remove(struct kv_set **sp, const void *m, size_t len, const struct kv_set *pinned);
bool set_contains(struct kv_set *s, const void *m, size_t len);

/* Called with each member; the bytes are valid only during the call (an
 * intset member is formatted into a stack buffer).  Return false to stop. */
typedef bool (*set_member_fn)(void *arg, const char *m, size_t len);
/* Visit every member in iteration order.  fn must not modify the set.
 * Returns false if fn stopped the walk. */
bool set_foreach(struct kv_set *s, set_member_fn fn, void *arg);

/* One step of a cursor walk (SSCAN).  Start with 0; returns the next cursor,
 * 0 when done.  An intset or listpack is reported whole in the first step.
 * A hashtable uses dict_scan: every member present for the whole walk is
 * reported at least once, however the set grows or shrinks between steps
 * (even across a conversion, which only happens from a compact encoding,
 * i.e. before the first step returned a non-zero cursor).  fn must not
 * modify the set; its return value is ignored. */
uint64_t set_scan(struct kv_set *s, uint64_t cursor, set_member_fn fn, void *arg);

/* A uniformly random member, passed to fn (false if the set is empty). */
bool set_random(struct kv_set *s, set_member_fn fn, void *arg);
/* Up to `count` distinct random members (all of them, in iteration order,
 * when count >= size), each passed once to fn. */
void set_random_distinct(struct kv_set *s, uint64_t count, set_member_fn fn, void *arg);
/* Remove up to `count` random members, passing each to fn before it is
 * removed (the caller replies with them and logs them as an SREM effect).
 * Returns how many were popped.  count >= size pops everything in
 * iteration order, emptying the set in place.  May move (*sp). */
uint64_t set_pop(struct kv_set **sp, uint64_t count, set_member_fn fn, void *arg,
		 const struct kv_set *pinned);

/* Seed the calling thread's generator used by the random functions on
 * compact encodings and by set_create's hashtable seed (tests). */
void set_seed_random(uint64_t seed);

#endif
