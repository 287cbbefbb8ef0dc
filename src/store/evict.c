/*
 * evict.c - choosing and deleting victims under a memory limit (evict.h).
 *
 * The pool keeps copies of key names, never entry pointers: entries move on
 * any change, and a candidate may be deleted or rewritten between rounds.
 * A candidate is looked up again when it is picked; a key that is gone (a
 * "ghost") is dropped and the next best is tried.
 */
#include "store/evict.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/kv.h"

/* Samples drawn per keyspace per round never exceed Redis's own maximum of
 * maxmemory-samples. */
#define EVICT_SAMPLES_MAX 64
/* Check the clock once every this many deletions, as Redis does. */
#define EVICT_CLOCK_EVERY 16

void evict_pool_clear(struct evict_pool *pool)
{
	for (uint32_t i = 0; i < pool->n; i++)
		free(pool->c[i].key);
	pool->n = 0;
}

void evict_pool_free(struct evict_pool *pool)
{
	evict_pool_clear(pool);
}

uint64_t evict_score(enum evict_policy p, const struct kv_entry *e, int64_t now_ms)
{
	switch (p) {
	case EVICT_ALLKEYS_LFU:
	case EVICT_VOLATILE_LFU: {
		int64_t decay = atomic_load_explicit(&kv_memory.lfu_decay_time,
						     memory_order_relaxed);
		return 255u - lfu_decayed(entry_clock(e), now_ms, decay);
	}
	case EVICT_VOLATILE_TTL: {
		int64_t dl = entry_expire(e);
		return dl < 0 ? 0 : UINT64_MAX - (uint64_t)dl;
	}
	default:
		return lru_idle_ms(entry_clock(e), now_ms);
	}
}

void evict_pool_offer(struct evict_pool *pool, uint64_t score, uint32_t db,
		      const char *key, size_t klen)
{
	/* Position: after every candidate with a lower or equal score. */
	uint32_t pos = 0;
	while (pos < pool->n && pool->c[pos].score <= score)
		pos++;
	/* The same key already waiting: keep one copy, the newer score. */
	for (uint32_t i = 0; i < pool->n; i++) {
		struct evict_candidate *c = &pool->c[i];
		if (c->db == db && c->klen == klen && memcmp(c->key, key, klen) == 0) {
			free(c->key);
			memmove(&pool->c[i], &pool->c[i + 1], (pool->n - i - 1) * sizeof(*c));
			pool->n--;
			if (pos > i)
				pos--;
			break;
		}
	}
	if (pool->n == EVICT_POOL_SIZE) {
		if (pos == 0)
			return;      /* worse than everything kept */
		free(pool->c[0].key);
		memmove(&pool->c[0], &pool->c[1], (pos - 1) * sizeof(pool->c[0]));
		pos--;
	} else {
		memmove(&pool->c[pos + 1], &pool->c[pos], (pool->n - pos) * sizeof(pool->c[0]));
		pool->n++;
	}
	struct evict_candidate *c = &pool->c[pos];
	c->score = score;
	c->db = db;
	c->klen = (uint32_t)klen;
	c->key = kv_malloc(klen ? klen : 1);
	memcpy(c->key, key, klen);
}

size_t evict_used(struct kv_db *const *dbs, uint32_t ndb)
{
	size_t used = 0;
	for (uint32_t i = 0; i < ndb; i++)
		used += db_memory_used(dbs[i]);
	return used;
}

int64_t evict_time_limit_us(int64_t tenacity)
{
	if (tenacity <= 10)
		return 50 * (tenacity < 0 ? 0 : tenacity);
	if (tenacity < 100)
		return (int64_t)(500.0 * pow(1.15, (double)tenacity - 10.0));
	return -1;
}

void evict_params_from_settings(struct evict_params *p, size_t limit_bytes, int64_t now_ms)
{
	int64_t samples = atomic_load_explicit(&kv_memory.samples, memory_order_relaxed);
	p->policy = kv_memory_policy();
	p->samples = (uint32_t)(samples < 1 ? 1 : samples > EVICT_SAMPLES_MAX
				? EVICT_SAMPLES_MAX : samples);
	p->limit_bytes = limit_bytes;
	p->now_ms = now_ms;
	p->time_limit_us = evict_time_limit_us(
		atomic_load_explicit(&kv_memory.tenacity, memory_order_relaxed));
}

/* One sampling round over every keyspace.  Returns the number of keys the
 * policy could choose from (0: nothing to evict). */
static uint64_t pool_populate(struct evict_pool *pool, struct kv_db *const *dbs, uint32_t ndb,
			      const struct evict_params *p)
{
	bool vol = evict_policy_is_volatile(p->policy);
	const struct kv_entry *sample[EVICT_SAMPLES_MAX];
	uint64_t total = 0;
	for (uint32_t i = 0; i < ndb; i++) {
		uint64_t keys = vol ? db_expires_count(dbs[i]) : db_size(dbs[i]);
		if (!keys)
			continue;
		total += keys;
		uint32_t n = db_sample(dbs[i], vol, sample, p->samples);
		for (uint32_t j = 0; j < n; j++) {
			struct kv_slice k = entry_key(sample[j]);
			evict_pool_offer(pool, evict_score(p->policy, sample[j], p->now_ms), i,
					 k.ptr, k.len);
		}
	}
	return total;
}

/* Take the best candidate that still exists (and, for volatile policies,
 * still has a deadline) out of the pool; false when the pool runs dry. */
static bool pool_pick(struct evict_pool *pool, struct kv_db *const *dbs, uint32_t ndb,
		      bool vol, uint32_t *db_out, char **key_out, size_t *klen_out)
{
	while (pool->n > 0) {
		struct evict_candidate c = pool->c[--pool->n];
		if (c.db < ndb) {
			const struct kv_entry *e = db_lookup_notouch(dbs[c.db], c.key, c.klen, 0);
			if (e && (!vol || entry_expire(e) != KV_NO_EXPIRE)) {
				*db_out = c.db;
				*key_out = c.key;
				*klen_out = c.klen;
				return true;
			}
		}
		free(c.key);     /* a ghost: deleted or changed since sampled */
	}
	return false;
}

/* The next victim: its keyspace and a heap copy of its name.  False when
 * the policy has nothing to choose from. */
static bool evict_choose(struct evict_pool *pool, struct kv_db *const *dbs, uint32_t ndb,
			 const struct evict_params *p, uint32_t *db_out, char **key_out,
			 size_t *klen_out)
{
	bool vol = evict_policy_is_volatile(p->policy);
	if (p->policy == EVICT_ALLKEYS_RANDOM || p->policy == EVICT_VOLATILE_RANDOM) {
		for (uint32_t tries = 0; tries < ndb; tries++) {
			uint32_t i = pool->next_db++ % ndb;
			const struct kv_entry *e;
			if (db_sample(dbs[i], vol, &e, 1) == 1) {
				struct kv_slice k = entry_key(e);
				*db_out = i;
				*key_out = kv_malloc(k.len ? k.len : 1);
				memcpy(*key_out, k.ptr, k.len);
				*klen_out = k.len;
				return true;
			}
		}
		return false;
	}
	for (;;) {
		if (pool_populate(pool, dbs, ndb, p) == 0)
			return false;
		if (pool_pick(pool, dbs, ndb, vol, db_out, key_out, klen_out))
			return true;
		/* Every candidate was a ghost: sample again (the keyspaces are not
		 * empty, so a round yields live candidates). */
	}
}

enum evict_result evict_run(struct evict_pool *pool, struct kv_db *const *dbs, uint32_t ndb,
			    const struct evict_params *p, uint64_t *evicted)
{
	if (evict_used(dbs, ndb) <= p->limit_bytes)
		return EVICT_OK;
	if (p->policy == EVICT_NOEVICTION || ndb == 0)
		return EVICT_FAIL;
	/* Scores of another policy do not compare with this one's. */
	if (pool->policy != (int)p->policy) {
		evict_pool_clear(pool);
		pool->policy = (int)p->policy;
	}
	int64_t start_us = kv_mono_us();
	uint64_t freed = 0;
	while (evict_used(dbs, ndb) > p->limit_bytes) {
		uint32_t db;
		char *key;
		size_t klen;
		if (!evict_choose(pool, dbs, ndb, p, &db, &key, &klen)) {
			*evicted += freed;
			return EVICT_FAIL;
		}
		freed += (uint64_t)db_evict(dbs[db], key, klen);
		free(key);
		if (freed % EVICT_CLOCK_EVERY == 0 && p->time_limit_us >= 0 &&
		    kv_mono_us() - start_us > p->time_limit_us) {
			*evicted += freed;
			return evict_used(dbs, ndb) > p->limit_bytes ? EVICT_RUNNING : EVICT_OK;
		}
	}
	*evicted += freed;
	return EVICT_OK;
}
