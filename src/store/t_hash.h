/*
 * t_hash.h - the value object of the Redis hash type: a map of binary-safe
 * fields to binary-safe values, in one of two encodings.
 *
 *   packed ("listpack")   one allocation: an 8-byte header followed by the
 *                         pairs as [len][field][len][value], each length one
 *                         byte.  Used while the hash has at most
 *                         HASH_PACKED_MAX_ENTRIES pairs and no field or value
 *                         is longer than HASH_PACKED_MAX_BYTES.  Lookups are
 *                         linear; the whole hash sits in a few cache lines.
 *   table ("hashtable")   a dict (dict.h) whose nodes are one allocation per
 *                         pair: chain pointer, two varint lengths, field and
 *                         value bytes.  A hash never converts back.
 *
 * The object is owned by the store once it is set on a key (db_set_object);
 * hash_free and hash_mem are registered with the store as the type's free
 * and mem functions (hash_type_register, also run by a constructor).
 *
 * Mutation protocol.  hash_set may have to move a packed hash to a bigger
 * allocation or convert it to a table.  It then returns a NEW object and
 * leaves the argument exactly as it was, so the store can keep pointing at
 * the old one until the caller replaces it (db_set_object, which frees the
 * old object through the registered free function).  When it returns its
 * argument, the change was made in place and the caller reports the change
 * of hash_mem() with db_memory_adjust().  hash_delete always works in place.
 *
 * Not here: command semantics, replies, keyspace statistics (cmd_hash.c).
 * The object is not thread-safe: it belongs to its shard's keyspace.
 */
#ifndef KV_T_HASH_H
#define KV_T_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/resp.h"

/* What the packed layout can hold: hash-max-listpack-entries and
 * hash-max-listpack-value (store/encoding.h, defaults 512 and 64 as in
 * Redis 7.0) are clamped to these.  Lookups in a packed hash are linear scans
 * of at most 512 pairs (at most ~66 KB), as in Redis's listpack. */
#define HASH_PACKED_MAX_ENTRIES 512u
#define HASH_PACKED_MAX_BYTES 64u

enum hash_encoding {
	HASH_ENC_PACKED = 1,
	HASH_ENC_TABLE = 2,
};

struct hash_obj;

/* Called for each element: the field and value bytes are valid only during
 * the call, which must not modify the hash. */
typedef void (*hash_elem_fn)(void *arg, struct kv_slice field, struct kv_slice value);

/* Register hash_free/hash_mem with the store for KV_TYPE_HASH.  Idempotent;
 * also run at program start by a constructor in t_hash.c. */
void hash_type_register(void);

/* A new, empty hash in the packed encoding.  Never NULL. */
struct hash_obj *hash_new(void);
/* Free a hash (void * so it can be the store's free function). */
void hash_free(void *obj);
/* Heap bytes the object holds now, allocator overhead included; O(1). */
size_t hash_mem(const void *obj);

uint64_t hash_len(const struct hash_obj *h);
enum hash_encoding hash_encoding(const struct hash_obj *h);
/* OBJECT ENCODING's name: "listpack" or "hashtable". */
const char *hash_encoding_name(const struct hash_obj *h);

/* Looks a field up; on success *value points into the hash and stays valid
 * until the hash is next modified.  (Not const: a table lookup may advance
 * an incremental rehash.) */
bool hash_get(struct hash_obj *h, const void *field, size_t flen, struct kv_slice *value);
/* Sets field to value, creating the field if needed (*added = true then).
 * Returns the object holding the result: h itself, or a new object with h
 * left untouched (see the mutation protocol above). */
struct hash_obj *hash_set(struct hash_obj *h, const void *field, size_t flen,
			  const void *value, size_t vlen, bool *added);
/* Removes a field in place.  Returns true if it was present.  The hash may
 * become empty; deleting the key is the caller's business. */
bool hash_delete(struct hash_obj *h, const void *field, size_t flen);

/* Calls fn for every element once, in the encoding's order. */
void hash_foreach(const struct hash_obj *h, hash_elem_fn fn, void *arg);
/* One step of a cursor walk (HSCAN): reports some elements and returns the
 * next cursor, 0 when the walk is complete (start with 0).  A packed hash is
 * reported whole in one step.  A table follows dict_scan's guarantee: every
 * element present for the whole walk is reported at least once, whatever
 * happens to the hash between steps. */
uint64_t hash_scan(struct hash_obj *h, uint64_t cursor, hash_elem_fn fn, void *arg);

/* HRANDFIELD's draw: reports `count` elements chosen at random.  unique:
 * distinct elements (all of them, in iteration order, when count >= len);
 * otherwise with repetition (exactly count reports).  Returns the number of
 * reports made. */
uint64_t hash_random(struct hash_obj *h, uint64_t count, bool unique,
		     hash_elem_fn fn, void *arg);
/* Reseed the generator of hash_random for the calling thread (tests). */
void hash_seed_random(uint64_t seed);

/* Checks every internal invariant (lengths, counts, memory counters, the
 * encoding limits); aborts through kv_assert on a violation.  Tests. */
void hash_check(const struct hash_obj *h);

#endif
