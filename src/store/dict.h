/*
 * dict.h - a chained hash table of caller-allocated nodes, with incremental
 * rehashing and a cursor walk that stays correct while the table changes.
 *
 * The table is intrusive: the caller embeds a `struct dict_node` (a single
 * chain pointer) in each of its own structs and allocates and frees them
 * itself; the dict never allocates per element.  It only allocates bucket
 * arrays.  A `struct dict_type` tells it how to read a node's key bytes, so
 * it stores no key copy and no cached hash: 8 bytes per element plus the
 * bucket array is the whole overhead.  The same table serves the keyspace
 * (store.c) and, later, the members of hash and set values.
 *
 * Sizes are powers of two.  A bucket is chosen by the low bits of
 * kv_hash64(key, seed); the seed must be non-zero so those bits are
 * independent of the unseeded hash that picks a key's shard.
 *
 * Resizing is never stop-the-world.  When the load factor reaches 1 the
 * table starts growing (shrinking when 1/8 full); from then on two tables
 * coexist and every lookup, insert and delete moves one bucket from the old
 * table to the new one, and dict_rehash_step()/dict_rehash_us() let an idle
 * owner finish the job in bounded slices.
 *
 * dict_scan() is the reverse-binary-increment cursor walk (the algorithm of
 * Redis's SCAN): every element present for the whole walk is reported at
 * least once, across any number of grows and shrinks; elements may be
 * reported more than once.
 *
 * The dict is single-threaded and takes no locks.  It is not an ordered
 * map and does not detect duplicate keys on dict_add (callers look up first).
 */
#ifndef KV_DICT_H
#define KV_DICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/resp.h"

/* Embedded in each element.  Owned by the dict while the element is in it. */
struct dict_node {
	struct dict_node *next;
};

struct dict_type {
	/* The key bytes of a node; must not change while the node is linked. */
	struct kv_slice (*key)(const struct dict_node *n);
};

struct dict {
	/* Private to dict.c.  table[1] exists only while rehashing. */
	struct dict_node **table[2];
	uint64_t size[2];            /* buckets; 0 when the table is absent */
	uint64_t count;              /* elements in both tables */
	uint64_t rehash_idx;         /* next bucket of table[0] to move */
	bool rehashing;
	uint32_t pause;              /* >0: no rehash steps and no resize starts */
	uint64_t seed;
	uint64_t rng;                /* xorshift state for dict_random */
	const struct dict_type *type;
};

/* An empty dict (allocates nothing until the first insert).  seed != 0. */
void dict_init(struct dict *d, const struct dict_type *type, uint64_t seed);
/* Unlink every node, calling free_node (may be NULL) on each, and release the
 * bucket arrays; the dict is empty and reusable afterwards. */
void dict_clear(struct dict *d, void (*free_node)(void *arg, struct dict_node *n),
		void *arg);

static inline uint64_t dict_size(const struct dict *d) { return d->count; }
static inline bool dict_is_rehashing(const struct dict *d) { return d->rehashing; }
/* Bytes held by the bucket arrays (allocator accounting, see dict.c). */
size_t dict_mem_bytes(const struct dict *d);
uint64_t dict_hash(const struct dict *d, const void *key, size_t len);

/* The node whose key equals key[0..len), or NULL.  Does one rehash step. */
struct dict_node *dict_find(struct dict *d, const void *key, size_t len);
/* Batched lookups: a command that looks several keys up asks for each key's
 * bucket first (dict_prefetch, which returns the key's hash), then for each
 * bucket's first node (dict_prefetch_chain, depth 0), then for the second
 * (depth 1: at a load factor near 1 a third of the lookups that find
 * their key walk past another one), so the cache misses of all of
 * them overlap instead of following one another.  Hints only: they change
 * nothing and may be skipped. */
uint64_t dict_prefetch(const struct dict *d, const void *key, size_t len);
void dict_prefetch_chain(const struct dict *d, uint64_t hash, unsigned depth);
/* Like dict_find, but returns the address of the pointer that links the node
 * into its chain (so the caller can unlink or replace it), or NULL.  The link
 * stays valid until the next dict call that may rehash or modify the dict. */
struct dict_node **dict_find_link(struct dict *d, const void *key, size_t len);
/* The link of a node known to be in the dict (found by its key; does no
 * rehash step, so a link obtained this way can be used at once). */
struct dict_node **dict_link_of(struct dict *d, const struct dict_node *n);

/* Insert a node whose key is not in the dict.  May start a grow. */
void dict_add(struct dict *d, struct dict_node *n);
/* Remove the node at `link` (from dict_find_link/dict_link_of) and return it.
 * May start a shrink; frees the tables when the dict becomes empty. */
struct dict_node *dict_unlink_at(struct dict *d, struct dict_node **link);
/* Remove the node with this key and return it, or NULL if absent. */
struct dict_node *dict_unlink(struct dict *d, const void *key, size_t len);
/* Put `n` (same key) in place of the node at `link`, e.g. after the caller
 * reallocated the element.  The old node is not touched. */
static inline void dict_replace_at(struct dict_node **link, struct dict_node *n)
{
	n->next = (*link)->next;
	*link = n;
}

/* Move up to `buckets` non-empty buckets to the new table (visiting at most
 * ten empty ones per bucket asked).  Returns true while rehashing remains. */
bool dict_rehash_step(struct dict *d, uint64_t buckets);
/* Rehash in slices of 100 buckets until done or budget_us elapsed.  Returns
 * true while rehashing remains. */
bool dict_rehash_us(struct dict *d, int64_t budget_us);

/* Called for each node of the visited buckets.  It may unlink (and free) the
 * node it was given, and nothing else: rehashing is paused during the call. */
typedef void (*dict_scan_fn)(void *arg, struct dict_node *n);
/* One step of the cursor walk: reports the bucket(s) named by `cursor` and
 * returns the next cursor, 0 when the walk is complete.  Start with 0. */
uint64_t dict_scan(struct dict *d, uint64_t cursor, dict_scan_fn fn, void *arg);

/* A random node, NULL when empty.  Uniform for chains up to 8 long (bucket
 * rejection sampling); a bounded number of tries, then a slightly biased
 * fallback, so it always returns quickly. */
struct dict_node *dict_random(struct dict *d);
/* Reseed dict_random's generator (tests, reproducible sampling). */
void dict_seed_random(struct dict *d, uint64_t seed);

#endif
