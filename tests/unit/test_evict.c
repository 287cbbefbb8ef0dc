/*
 * test_evict.c - choosing victims under a memory limit (store/evict.h):
 * the candidate pool's order, and for each policy which keys evict_run
 * deletes (idle ones for LRU, rarely used ones for LFU, the nearest
 * deadline for volatile-ttl, only keys with a deadline for volatile-*,
 * nothing under noeviction), across several keyspaces, with every deletion
 * reported to the eviction hook and counted.
 *
 * Sampling is random; the keyspaces are built so that a wrong choice has
 * a negligible chance (64 samples drawn among keys half of which are the
 * right victims), so the outcome is deterministic in practice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store/evict.h"
#include "store/lru.h"
#include "store/store.h"

#define NOW 1700000000000LL   /* the fake clock, in ms */

struct hook_log {
	int calls;
	char last[64];
};

static void on_evict(void *arg, uint32_t dbid, const char *key, size_t klen)
{
	struct hook_log *h = arg;
	h->calls++;
	snprintf(h->last, sizeof(h->last), "%.*s", (int)klen, key);
}

static void put(struct kv_db *db, const char *key, int64_t deadline, uint32_t clock)
{
	db_set_string(db, key, strlen(key), "value", 5, deadline);
	struct kv_entry *e = db_lookup_notouch(db, key, strlen(key), 0);
	entry_set_clock(e, clock);
}

static bool has(struct kv_db *db, const char *key)
{
	return db_lookup_notouch(db, key, strlen(key), 0) != NULL;
}

static struct evict_params params(enum evict_policy p, size_t limit)
{
	struct evict_params ep = {
		.policy = p, .samples = 64, .limit_bytes = limit, .now_ms = NOW,
		.time_limit_us = -1,
	};
	return ep;
}

/* Evict at least one key from dbs (limit one byte under their use). */
static enum evict_result evict_one(struct evict_pool *pool, struct kv_db **dbs, uint32_t n,
				   enum evict_policy p, uint64_t *evicted)
{
	struct evict_params ep = params(p, evict_used(dbs, n) - 1);
	return evict_run(pool, dbs, n, &ep, evicted);
}

static void test_evict_pool_order(void **state)
{
	(void)state;
	struct evict_pool pool = { .n = 0 };
	char key[16];
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		evict_pool_offer(&pool, (uint64_t)((i * 7) % 40), 0, key, strlen(key));
	}
	/* The 16 best scores (24..39) are kept, ascending. */
	assert_int_equal(pool.n, EVICT_POOL_SIZE);
	for (uint32_t i = 0; i < pool.n; i++)
		assert_int_equal(pool.c[i].score, 24 + i);
	/* A worse candidate than every one kept is dropped. */
	evict_pool_offer(&pool, 3, 0, "low", 3);
	assert_int_equal(pool.c[0].score, 24);
	/* The same key again keeps one copy, with the newer score. */
	snprintf(key, sizeof(key), "k%d", 17);   /* (17 * 7) % 40 = 39: the best */
	assert_memory_equal(pool.c[EVICT_POOL_SIZE - 1].key, key, strlen(key));
	evict_pool_offer(&pool, 30, 0, key, strlen(key));
	assert_int_equal(pool.n, EVICT_POOL_SIZE);
	int copies = 0;
	for (uint32_t i = 0; i < pool.n; i++)
		copies += pool.c[i].klen == strlen(key) && !memcmp(pool.c[i].key, key, strlen(key));
	assert_int_equal(copies, 1);
	for (uint32_t i = 1; i < pool.n; i++)
		assert_true(pool.c[i - 1].score <= pool.c[i].score);
	evict_pool_free(&pool);
}

static void test_evict_noeviction_fails(void **state)
{
	(void)state;
	struct kv_db *db = db_create();
	put(db, "a", KV_NO_EXPIRE, 0);
	struct evict_pool pool = { .n = 0 };
	uint64_t evicted = 0;
	assert_int_equal(evict_one(&pool, &db, 1, EVICT_NOEVICTION, &evicted), EVICT_FAIL);
	assert_int_equal(evicted, 0);
	assert_true(has(db, "a"));
	/* Within the limit: nothing to do under any policy. */
	struct evict_params ep = params(EVICT_ALLKEYS_LRU, evict_used(&db, 1));
	assert_int_equal(evict_run(&pool, &db, 1, &ep, &evicted), EVICT_OK);
	assert_int_equal(evicted, 0);
	db_destroy(db);
}

/* 50 keys idle for 1000 s, 50 just used, spread over two keyspaces: LRU
 * evicts only idle ones. */
static void test_evict_allkeys_lru(void **state)
{
	(void)state;
	struct kv_db *dbs[2] = { db_create(), db_create() };
	struct hook_log h = { 0, "" };
	db_set_evict_hook(dbs[0], on_evict, &h);
	db_set_evict_hook(dbs[1], on_evict, &h);
	char key[16];
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "%s%d", i % 2 ? "old" : "new", i);
		put(dbs[i % 4 < 2], key, KV_NO_EXPIRE,
		    lru_clock_at(i % 2 ? NOW - 1000000 : NOW));
	}
	struct evict_pool pool = { .n = 0 };
	uint64_t evicted = 0;
	for (int round = 0; round < 10; round++) {
		assert_int_equal(evict_one(&pool, dbs, 2, EVICT_ALLKEYS_LRU, &evicted), EVICT_OK);
		assert_memory_equal(h.last, "old", 3);
	}
	assert_int_equal(evicted, (uint64_t)h.calls);
	assert_true(evicted >= 10);
	assert_int_equal(db_get_stats(dbs[0])->evicted_keys + db_get_stats(dbs[1])->evicted_keys,
			 evicted);
	for (int i = 0; i < 100; i += 2) {
		snprintf(key, sizeof(key), "new%d", i);
		assert_true(has(dbs[i % 4 < 2], key));
	}
	evict_pool_free(&pool);
	db_destroy(dbs[0]);
	db_destroy(dbs[1]);
}

/* LFU: keys with a high counter survive, rarely used ones go. */
static void test_evict_allkeys_lfu(void **state)
{
	(void)state;
	atomic_store(&kv_memory.lfu_decay_time, 1);
	struct kv_db *db = db_create();
	struct hook_log h = { 0, "" };
	db_set_evict_hook(db, on_evict, &h);
	char key[16];
	uint32_t min = lfu_minutes_at(NOW);
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "%s%d", i % 2 ? "rare" : "hot", i);
		put(db, key, KV_NO_EXPIRE, lfu_make(min, i % 2 ? 1 : 100));
	}
	struct evict_pool pool = { .n = 0 };
	uint64_t evicted = 0;
	for (int round = 0; round < 10; round++) {
		assert_int_equal(evict_one(&pool, &db, 1, EVICT_ALLKEYS_LFU, &evicted), EVICT_OK);
		assert_memory_equal(h.last, "rare", 4);
	}
	assert_true(evicted >= 10);
	evict_pool_free(&pool);
	db_destroy(db);
}

/* volatile-*: keys without a deadline are never chosen, whatever their
 * clock; once no key has a deadline, eviction fails. */
static void test_evict_volatile_only(void **state)
{
	(void)state;
	static const enum evict_policy policies[] = {
		EVICT_VOLATILE_LRU, EVICT_VOLATILE_LFU, EVICT_VOLATILE_RANDOM, EVICT_VOLATILE_TTL,
	};
	for (size_t p = 0; p < sizeof(policies) / sizeof(policies[0]); p++) {
		struct kv_db *db = db_create();
		char key[16];
		for (int i = 0; i < 50; i++) {
			snprintf(key, sizeof(key), "persist%d", i);
			put(db, key, KV_NO_EXPIRE, 0);          /* the idlest keys */
		}
		for (int i = 0; i < 5; i++) {
			snprintf(key, sizeof(key), "ttl%d", i);
			put(db, key, NOW + 100000 + i, lru_clock_at(NOW));
		}
		struct evict_pool pool = { .n = 0 };
		uint64_t evicted = 0;
		struct evict_params ep = params(policies[p], 0);
		assert_int_equal(evict_run(&pool, &db, 1, &ep, &evicted), EVICT_FAIL);
		assert_int_equal(evicted, 5);
		assert_int_equal(db_expires_count(db), 0);
		assert_int_equal(db_size(db), 50);
		evict_pool_free(&pool);
		db_destroy(db);
	}
}

/* volatile-ttl: the nearest deadline goes first. */
static void test_evict_volatile_ttl_order(void **state)
{
	(void)state;
	struct kv_db *db = db_create();
	struct hook_log h = { 0, "" };
	db_set_evict_hook(db, on_evict, &h);
	put(db, "later", NOW + 300000, 0);
	put(db, "soonest", NOW + 1000, 0);
	put(db, "latest", NOW + 900000, 0);
	put(db, "soon", NOW + 2000, 0);
	put(db, "no-ttl", KV_NO_EXPIRE, 0);
	struct evict_pool pool = { .n = 0 };
	uint64_t evicted = 0;
	assert_int_equal(evict_one(&pool, &db, 1, EVICT_VOLATILE_TTL, &evicted), EVICT_OK);
	assert_string_equal(h.last, "soonest");
	assert_int_equal(evict_one(&pool, &db, 1, EVICT_VOLATILE_TTL, &evicted), EVICT_OK);
	assert_string_equal(h.last, "soon");
	assert_true(has(db, "later") && has(db, "latest") && has(db, "no-ttl"));
	evict_pool_free(&pool);
	db_destroy(db);
}

/* allkeys-random frees memory from every keyspace until under the limit. */
static void test_evict_allkeys_random(void **state)
{
	(void)state;
	struct kv_db *dbs[3] = { db_create(), db_create(), db_create() };
	char key[16];
	for (int i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		put(dbs[i % 3], key, KV_NO_EXPIRE, 0);
	}
	size_t used = evict_used(dbs, 3);
	struct evict_pool pool = { .n = 0 };
	uint64_t evicted = 0;
	struct evict_params ep = params(EVICT_ALLKEYS_RANDOM, used / 2);
	assert_int_equal(evict_run(&pool, dbs, 3, &ep, &evicted), EVICT_OK);
	assert_true(evict_used(dbs, 3) <= used / 2);
	assert_int_equal(evicted, 300 - db_size(dbs[0]) - db_size(dbs[1]) - db_size(dbs[2]));
	/* Visited in turn: every keyspace gave keys. */
	for (int i = 0; i < 3; i++)
		assert_true(db_size(dbs[i]) < 100);
	evict_pool_free(&pool);
	for (int i = 0; i < 3; i++)
		db_destroy(dbs[i]);
}

static void test_evict_time_limit(void **state)
{
	(void)state;
	assert_int_equal(evict_time_limit_us(0), 0);
	assert_int_equal(evict_time_limit_us(10), 500);
	assert_true(evict_time_limit_us(11) > 500 && evict_time_limit_us(11) < 600);
	assert_true(evict_time_limit_us(100) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_evict_pool_order),
		cmocka_unit_test(test_evict_noeviction_fails),
		cmocka_unit_test(test_evict_allkeys_lru),
		cmocka_unit_test(test_evict_allkeys_lfu),
		cmocka_unit_test(test_evict_volatile_only),
		cmocka_unit_test(test_evict_volatile_ttl_order),
		cmocka_unit_test(test_evict_allkeys_random),
		cmocka_unit_test(test_evict_time_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
