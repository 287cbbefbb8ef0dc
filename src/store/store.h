/*
 * store.h - one shard's keyspace: keys, typed values and expiry deadlines.
 *
 * A `struct kv_db` belongs to exactly one shard and is touched only by the
 * thread that currently holds that shard's keyspace (its own thread, or a
 * coordinator thread during a multi-shard command; see shard.h).  It is not
 * thread-safe and takes no locks.
 *
 * Entries live in a chained hash table (dict.h) that grows and shrinks
 * incrementally (a few buckets per operation, never a stop-the-world
 * rehash) and can be walked by a cursor while it is mutated: every key present
 * for the whole walk is visited at least once (SCAN's guarantee, and the base
 * of fork-less snapshots later).
 *
 * Expiry deadlines are absolute wall-clock milliseconds.  Reads see a key as
 * missing once now_ms >= deadline and remove it on the spot (lazy expiry);
 * db_active_expire() samples keys that carry a deadline with bounded work.
 *
 * Entry pointers are not stable: any call that modifies a key may move its
 * entry.  Never hold a `struct kv_entry *` across another db_* call.
 */
#ifndef KV_STORE_H
#define KV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/resp.h"

enum kv_type {
	KV_TYPE_STRING = 0,
	KV_TYPE_LIST = 1,
	KV_TYPE_SET = 2,
	KV_TYPE_ZSET = 3,
	KV_TYPE_HASH = 4,
	KV_TYPE_STREAM = 5,
};

/* No deadline. */
#define KV_NO_EXPIRE (-1)
/* For db_set_string: keep the key's current deadline (SET ... KEEPTTL). */
#define KV_KEEP_EXPIRE (-2)

struct kv_db;
struct kv_entry;

/* How the store frees and measures value objects of a non-string type.
 * Register at startup, before any shard thread runs.  Without a free
 * function the store calls free(obj); without a mem function the object
 * counts as 0 bytes in db_memory_used(). */
void store_register_type_free(enum kv_type type, void (*free_fn)(void *obj));
/* mem_fn returns the bytes the object holds now (O(1): keep a counter). */
void store_register_type_mem(enum kv_type type, size_t (*mem_fn)(const void *obj));

struct kv_db *db_create(void);
void db_destroy(struct kv_db *db);
/* The database number (SELECT) the db has in its shard's struct kv_dbs: 0
 * for a db created alone; dbs_init and dbs_swap set it.  The hooks below
 * receive it. */
uint32_t db_index(const struct kv_db *db);

/* ---- a shard's databases ---- */

/* Most databases a server may have (`databases`).  The file formats name a
 * database by a number below it; a file naming one at or above the server's
 * configured count is refused at load with a line saying so. */
#define KV_DB_MAX 65536u

/* A shard's databases, SELECT 0 .. n-1: one keyspace each, all owned by the
 * shard (the same ownership rules as a single struct kv_db). */
struct kv_dbs {
	uint32_t n;
	struct kv_db **db;       /* [n], never NULL */
	/* Offline tools, which do not know the server's `databases`: loading a
	 * key of database n >= n grows the set (dbs_grow) instead of refusing. */
	bool growable;
};
/* Create n (1 .. KV_DB_MAX) empty databases, numbered 0 .. n-1. */
void dbs_init(struct kv_dbs *d, uint32_t n);
void dbs_free(struct kv_dbs *d);
/* Keys in every database. */
uint64_t dbs_size(const struct kv_dbs *d);
/* Make d hold at least n databases (n <= KV_DB_MAX) when d->growable;
 * returns whether it now does. */
bool dbs_grow(struct kv_dbs *d, uint32_t n);
/* Whether database id exists in d (growing a growable set to hold it):
 * the range check of commands that name a database (MOVE, COPY ... DB). */
static inline bool dbs_has(struct kv_dbs *d, int64_t id)
{
	return id >= 0 && id < (int64_t)KV_DB_MAX && dbs_grow(d, (uint32_t)id + 1);
}
/* SWAPDB a b: the two databases' contents trade numbers, while WATCHes stay
 * with the number (a client watching a key of database a now watches the
 * key of what a holds); every watched key that exists in either database
 * after the swap counts as changed (Redis's rule).  First, each watched key
 * whose deadline passed by now_ms is expired in both databases (0: none
 * is), so a key that was never live since the WATCH (a stale key swapped
 * in, or swapped out) changes nothing, as in Redis.  A running snapshot is
 * unaffected: it walks the keyspaces it was given at its cut. */
void dbs_swap(struct kv_dbs *d, uint32_t a, uint32_t b, int64_t now_ms);

/* Live keys, including keys whose deadline passed but that were not yet
 * reclaimed (as Redis's DBSIZE). */
uint64_t db_size(const struct kv_db *db);
/* Keys that carry a deadline. */
uint64_t db_expires_count(const struct kv_db *db);
/* Bytes used by the keyspace (entries, values, tables, the expiry index), as
 * counted by the store's allocator accounting: malloc_usable_size plus the
 * allocator's per-chunk header for everything the store allocates, plus the
 * bytes value objects report (see db_memory_adjust). */
size_t db_memory_used(const struct kv_db *db);
/* Mean remaining time to live (ms) of up to max_samples keys with a
 * deadline, evenly spaced in the expiry index; 0 when there are none
 * (INFO keyspace's avg_ttl). */
int64_t db_avg_ttl_ms(const struct kv_db *db, int64_t now_ms, uint64_t max_samples);
/* Of those, the key table's and the expiry index's own bytes (MEMORY
 * STATS's overhead.hashtable.main and .expires). */
void db_memory_overhead(const struct kv_db *db, size_t *table, size_t *expires);
/* Report that a value object stored in db grew (delta > 0) or shrank in
 * place.  Type code calls this for every in-place change so the count stays
 * equal to the sum of the registered mem function over the db's objects
 * (the store adds mem_fn(obj) when an object enters the db and subtracts it
 * when it leaves). */
void db_memory_adjust(struct kv_db *db, int64_t delta);

/* Idle work: move hash-table buckets to the resized table for at most
 * budget_us.  Returns true while a rehash is still in progress.  Rehashing
 * also advances one bucket per lookup/insert/delete, so this only hastens it. */
bool db_rehash(struct kv_db *db, int64_t budget_us);

/* Look a key up.  Returns NULL if absent or expired at now_ms (now_ms >=
 * deadline; note Redis reads `now > deadline` here); an expired key
 * is deleted then (counted in db_stats.expired_keys, reported to the expiry
 * hook).  now_ms = 0 disables the expiry check (the entry is returned even if
 * its deadline passed).  The entry is valid until the next db_* call. */
struct kv_entry *db_lookup(struct kv_db *db, const char *key, size_t klen,
			   int64_t now_ms);

/* The cache lines that looking up keys[i] in dbs[i] will read, pulled in
 * for all n keys at once (dict_prefetch): a command that looks up several
 * keys calls it first so their memory latencies overlap.  A hint only. */
void db_prefetch(struct kv_db *const *dbs, const struct kv_slice *const *keys, size_t n);

/* db_lookup without counting an access: the key's LRU/LFU clock is left
 * alone (Redis's LOOKUP_NOTOUCH: OBJECT, TYPE, EXISTS, TTL, internal
 * lookups).  db_lookup itself updates the clock of the key it finds. */
struct kv_entry *db_lookup_notouch(struct kv_db *db, const char *key, size_t klen,
				   int64_t now_ms);

/* Delete a key if present (expired or not).  Returns 1 if deleted, 0 if absent. */
int db_delete(struct kv_db *db, const char *key, size_t klen);

/* Create or replace the key as a string.  Any previous value of any type is
 * freed.  expire_ms: absolute deadline, KV_NO_EXPIRE, or KV_KEEP_EXPIRE.
 * Returns the (new) entry. */
struct kv_entry *db_set_string(struct kv_db *db, const char *key, size_t klen,
			       const void *val, size_t vlen, int64_t expire_ms);

/* Replace bytes [off, off+n) of a string value, growing it (zero-filled) as
 * needed; used by APPEND, SETRANGE and the bit and HyperLogLog commands.
 * The key must exist as a string.  Keeps the deadline.  Marks the value as
 * written in place (entry_str_is_raw), even when n is 0; a later
 * db_set_string clears the mark.  Returns the (possibly moved) entry. */
struct kv_entry *db_string_write(struct kv_db *db, struct kv_entry *e,
				 size_t off, const void *p, size_t n);

/* Create or replace the key with a non-string value object whose ownership
 * passes to the store (issue 3 types; freed with the free function of its
 * type registered in store.c). */
struct kv_entry *db_set_object(struct kv_db *db, const char *key, size_t klen,
			       enum kv_type type, void *obj, int64_t expire_ms);

/* Set (expire_ms >= 0) or clear (KV_NO_EXPIRE) the deadline of an existing
 * entry.  Returns the (possibly moved) entry. */
struct kv_entry *db_set_expire(struct kv_db *db, struct kv_entry *e,
			       int64_t expire_ms);

/* Move a key to `dst` (which may be db itself) under the new name, keeping
 * value and deadline, replacing whatever dst held under new_key.  The source
 * key must exist.  Used by RENAME across shards. */
void db_rename(struct kv_db *db, const char *key, size_t klen,
	       struct kv_db *dst, const char *new_key, size_t new_klen);

/* Remove every key. */
void db_flush(struct kv_db *db);

/* ---- entry accessors ---- */
enum kv_type entry_type(const struct kv_entry *e);
struct kv_slice entry_key(const struct kv_entry *e);
/* String value bytes (type must be KV_TYPE_STRING). */
struct kv_slice entry_str(const struct kv_entry *e);
/* Whether the string's bytes were changed in place since it was last set
 * whole (db_string_write): Redis's encoding of such a value is "raw"
 * whatever its length or digits.  Kept by EXPIRE and RENAME; not kept by
 * snapshots (a reload re-derives the encoding from the bytes, as Redis's
 * RDB load does). */
bool entry_str_is_raw(const struct kv_entry *e);
/* Value object of a non-string entry. */
void *entry_obj(const struct kv_entry *e);
/* Heap bytes the entry holds: its own allocation (key, inline string,
 * deadline) and its value object's (MEMORY USAGE). */
size_t entry_memory(const struct kv_entry *e);
/* Deadline in absolute ms, or KV_NO_EXPIRE. */
int64_t entry_expire(const struct kv_entry *e);
/* The 24-bit access clock (lru.h: LRU seconds, or LFU minutes + counter,
 * depending on the policy in force).  Set: for tests and tools; it is not
 * a change of the key (no hook, no WATCH). */
uint32_t entry_clock(const struct kv_entry *e);
void entry_set_clock(struct kv_entry *e, uint32_t clock);

/* ---- walking ---- */
typedef void (*db_scan_fn)(void *arg, const struct kv_entry *e);
/* One step of a reverse-binary cursor walk (Redis's dictScan algorithm):
 * calls fn for every entry of the next bucket(s) and returns the next
 * cursor, 0 when the walk is complete.  Expired entries are skipped (not
 * reported, not deleted) when now_ms > 0.  fn must not call db_* on db. */
uint64_t db_scan(struct kv_db *db, uint64_t cursor, int64_t now_ms,
		 db_scan_fn fn, void *arg);
/* A uniformly random live key, or NULL if the db is empty.  Expired keys it
 * draws are deleted as by db_lookup; after 100 of them in one call it gives
 * up and returns NULL (a db of almost only expired keys). */
const struct kv_entry *db_random(struct kv_db *db, int64_t now_ms);

/* ---- point-in-time snapshots (copy before write) ---- */

/* Receives each entry exactly as it was at the snapshot's cut, once: from
 * the walk, or just before a change or deletion of it (e is valid only
 * during the call, which must not call db_* on db).  e NULL: the keyspace is
 * being flushed; the snapshot cannot hold it and should give up. */
typedef void (*db_snap_fn)(void *arg, const struct kv_entry *e);
/* Start a snapshot: every entry present now is owed to fn, exactly once. */
void db_snapshot_begin(struct kv_db *db, db_snap_fn fn, void *arg);
/* Walk one more step (reverse-binary, safe under rehash, as db_scan):
 * entries of the next bucket(s) not yet given to fn are given now.  Returns
 * the next cursor, 0 once every entry present at the cut was given. */
uint64_t db_snapshot_step(struct kv_db *db, uint64_t cursor);
/* The walk completed: every entry present at the cut was given to fn. */
void db_snapshot_end(struct kv_db *db);
/* Give a snapshot up before its walk completed (keeps later snapshots exact). */
void db_snapshot_abandon(struct kv_db *db);
bool db_snapshot_active(const struct kv_db *db);
/* The running command may change entries in place through db_lookup's
 * result: lookups then give the entry to the snapshot first.  The runtime
 * sets it around write commands.  Returns the setting it replaced. */
bool db_set_writing(struct kv_db *db, bool writing);

/* ---- expiry ---- */
/* Reclaim expired keys by sampling keys that carry a deadline, Redis-style
 * (sample 20; repeat while more than 25% of a sample was expired), doing at
 * most `max_samples` samples.  Returns how many keys were deleted. */
uint64_t db_active_expire(struct kv_db *db, int64_t now_ms, uint64_t max_samples);

/* Called after the store deletes a key because its deadline passed (lazily or
 * actively), with the db's number (db_index) and the key's name; the AOF
 * logs it as a DEL effect in that database.  The key
 * bytes are valid only during the call, which must not call db_* on db. */
typedef void (*db_expire_hook)(void *arg, uint32_t dbid, const char *key, size_t klen);
/* On this thread, from now on: an expired key that a lookup or a random
 * pick meets reads as missing but is not deleted (a replica's clients;
 * the records its primary sends delete it).  Off by default. */
void db_thread_keep_expired(bool keep);
bool db_thread_keeps_expired(void);
void db_set_expire_hook(struct kv_db *db, db_expire_hook fn, void *arg);

/* Called on every change of a key the store makes or is told of (set,
 * delete, deadline, rename, db_signal_modified), not on expiry; key is NULL
 * for db_flush.  The AOF uses it to know what a command changed.  Same rules
 * as the expiry hook. */
typedef void (*db_change_hook)(void *arg, uint32_t dbid, const char *key, size_t klen);
void db_set_change_hook(struct kv_db *db, db_change_hook fn, void *arg);
/* Called after a key that did not exist was created (set, a new value
 * object, the destination of a rename), for Redis's "new" keyspace event.
 * Same rules as the expiry hook. */
void db_set_new_hook(struct kv_db *db, db_change_hook fn, void *arg);

/* ---- eviction (the policy is evict.c's) ---- */
/* Up to n entries drawn at random (with repetition) into out: among every
 * key, or among keys that carry a deadline.  Returns how many were drawn
 * (0 when there is none).  Entries are valid until the next db_* call;
 * expired ones are not skipped. */
uint32_t db_sample(struct kv_db *db, bool with_deadline, const struct kv_entry **out,
		   uint32_t n);
/* Delete a key to free memory: counted in db_stats.evicted_keys and
 * reported to the eviction hook (not to the change hook: an eviction is its
 * own effect), WATCHes are broken.  Returns 1 if deleted, 0 if absent. */
int db_evict(struct kv_db *db, const char *key, size_t klen);
/* Called after db_evict deleted a key, with the key's name: the AOF logs it
 * as a DEL effect.  Same rules as the expiry hook. */
void db_set_evict_hook(struct kv_db *db, db_expire_hook fn, void *arg);

/* ---- WATCH (MULTI/EXEC optimistic locking) ---- */
/* Start watching a key (refcounted) and return its current version. */
uint64_t db_watch_add(struct kv_db *db, const char *key, size_t klen);
/* Version of a watched key: changed iff the key was modified since. */
uint64_t db_watch_version(struct kv_db *db, const char *key, size_t klen);
/* Version of a key's WATCH, 0 when nobody watches it; and setting it back
 * (nothing when nobody watches it).  For a change Redis makes without
 * signalling it: BITFIELD whose every write failed on overflow still
 * creates or zero-pads the string, and a WATCH of the key still holds. */
uint64_t db_watch_peek(struct kv_db *db, const char *key, size_t klen);
void db_watch_unchanged(struct kv_db *db, const char *key, size_t klen, uint64_t version);
/* Hand every WATCH of `from` to `to` (which has none), each counted as a
 * change: the keyspace was replaced (DEBUG RELOAD). */
void db_watch_move(struct kv_db *from, struct kv_db *to);
/* Drop one WATCH of the key. */
void db_watch_release(struct kv_db *db, const char *key, size_t klen);
/* Report an in-place change of a key's value object (HSET on an existing
 * hash, LPUSH on an existing list, ...).  The store reports its own changes
 * (set, delete, expiry, deadline, rename, flush) itself.  Cheap when nothing
 * is watched. */
void db_signal_modified(struct kv_db *db, const char *key, size_t klen);
/* Report an in-place change that is not a modification for WATCH: the
 * change hook (effects) hears of it, WATCH does not.  Redis's consumer-group
 * commands and XSETID change a stream without signalModifiedKey, so a
 * transaction watching the stream still runs after them. */
void db_signal_changed(struct kv_db *db, const char *key, size_t klen);

/* Counters kept by the store (read by INFO). */
struct db_stats {
	uint64_t expired_keys;    /* keys removed because their deadline passed */
	uint64_t evicted_keys;    /* keys removed to free memory (db_evict) */
};
const struct db_stats *db_get_stats(const struct kv_db *db);

#endif
