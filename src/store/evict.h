/*
 * evict.h - freeing memory under a limit: choosing victims by policy
 * among a set of keyspaces and deleting them (Redis's maxmemory-policy).
 *
 * The caller gives the keyspaces that share one limit (today a shard's one
 * keyspace; with databases, every database of the shard) and the byte
 * limit those keyspaces must fit in; evict_run() deletes keys until they
 * do, or until it runs out of candidates or of time.  Victims are chosen as
 * Redis 7.0 chooses them:
 *   - *-lru, *-lfu, volatile-ttl: each round samples maxmemory-samples keys
 *     of every keyspace into a pool of the EVICT_POOL_SIZE best candidates
 *     seen so far (largest idle time, lowest decayed LFU counter, nearest
 *     deadline), then deletes the best one that still exists.  The pool
 *     outlives a call, so good candidates accumulate (approximated LRU);
 *   - *-random: a random key, visiting the keyspaces in turn;
 *   - volatile-*: only keys that carry a deadline;
 *   - noeviction: nothing, the caller refuses the command.
 * Each deletion goes through db_evict(), whose hook logs it as a DEL effect.
 *
 * The store knows nothing of shards or of the process-wide limit; how the
 * limit is split among shards is the runtime's (docs/memory.md).
 */
#ifndef KV_EVICT_H
#define KV_EVICT_H

#include <stddef.h>
#include <stdint.h>

#include "store/lru.h"
#include "store/store.h"

#define EVICT_POOL_SIZE 16

struct evict_candidate {
	uint64_t score;          /* larger is a better victim */
	uint32_t db;             /* index in the caller's keyspace array */
	uint32_t klen;
	char *key;               /* heap copy: entries move, keys stay */
};

/* Candidates sorted by ascending score: the best victim is last.  Belongs
 * to one set of keyspaces; zero-initialize, evict_pool_free when done. */
struct evict_pool {
	struct evict_candidate c[EVICT_POOL_SIZE];
	uint32_t n;
	uint32_t next_db;        /* *-random: keyspace to draw from next */
	int policy;              /* the policy the scores were computed for */
};

void evict_pool_free(struct evict_pool *pool);
/* Drop every candidate (the keyspaces were replaced or flushed). */
void evict_pool_clear(struct evict_pool *pool);

/* How good a victim e is under policy p at now_ms (larger is better):
 * idle ms (LRU), 255 - decayed counter (LFU), UINT64_MAX - deadline (TTL). */
uint64_t evict_score(enum evict_policy p, const struct kv_entry *e, int64_t now_ms);
/* Offer a candidate: kept if the pool has room or it beats the worst one
 * (which is then dropped).  The key is copied. */
void evict_pool_offer(struct evict_pool *pool, uint64_t score, uint32_t db,
		      const char *key, size_t klen);

/* Bytes the keyspaces use (db_memory_used summed). */
size_t evict_used(struct kv_db *const *dbs, uint32_t ndb);

enum evict_result {
	EVICT_OK,        /* within the limit (or no limit) */
	EVICT_RUNNING,   /* still over, but keys were freed and time ran out:
			    the caller lets the command run and continues later */
	EVICT_FAIL,      /* over the limit and nothing (more) can be evicted */
};

struct evict_params {
	enum evict_policy policy;
	uint32_t samples;        /* keys sampled per keyspace per round (>= 1) */
	size_t limit_bytes;      /* what the keyspaces must fit in */
	int64_t now_ms;          /* clock for idle times, expiry of samples */
	int64_t time_limit_us;   /* < 0: no limit */
};

/* The settings in kv_memory as params for a limit of limit_bytes. */
void evict_params_from_settings(struct evict_params *p, size_t limit_bytes, int64_t now_ms);
/* maxmemory-eviction-tenacity as Redis turns it into a time limit per call
 * (microseconds, < 0 for unlimited). */
int64_t evict_time_limit_us(int64_t tenacity);

/* Delete keys of dbs[0..ndb) by p's policy until they use at most
 * p->limit_bytes.  Adds the number of keys deleted to *evicted. */
enum evict_result evict_run(struct evict_pool *pool, struct kv_db *const *dbs, uint32_t ndb,
			    const struct evict_params *p, uint64_t *evicted);

#endif
