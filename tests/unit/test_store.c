/*
 * test_store.c - the keyspace: strings and objects at scale and across
 * every entry length format, lazy and active expiry with a fake clock, the
 * expiry hook and counters, APPEND/SETRANGE growth, RENAME within and across
 * dbs, flush, the cursor walk, random keys and memory accounting.
 *
 * Randomized tests print their seed; set KEVY_TEST_SEED to replay one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/kv.h"
#include "store/store.h"

#define NOW 1700000000000LL   /* the fake clock, in ms */

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t test_seed(const char *test)
{
	const char *env = getenv("KEVY_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)clock();
	printf("%s: seed %llu (replay with KEVY_TEST_SEED)\n", test, (unsigned long long)seed);
	return seed ? seed : 1;
}

static int keyf(char *buf, size_t cap, uint64_t i)
{
	return snprintf(buf, cap, "key:%012llu", (unsigned long long)i);
}

static void assert_str(const struct kv_entry *e, const void *val, size_t vlen)
{
	assert_non_null(e);
	assert_int_equal(entry_type(e), KV_TYPE_STRING);
	struct kv_slice v = entry_str(e);
	assert_int_equal(v.len, vlen);
	if (vlen)
		assert_memory_equal(v.ptr, val, vlen);
}

/* ---- a test object type: counts frees, reports its size ---- */

struct tobj {
	size_t bytes;
	int *frees;
};

static void tobj_free(void *p)
{
	struct tobj *o = p;
	(*o->frees)++;
	free(o);
}

static size_t tobj_mem(const void *p)
{
	return ((const struct tobj *)p)->bytes;
}

static struct tobj *tobj_new(size_t bytes, int *frees)
{
	struct tobj *o = kv_malloc(sizeof(*o));
	o->bytes = bytes;
	o->frees = frees;
	return o;
}

static int setup_types(void **state)
{
	(void)state;
	store_register_type_free(KV_TYPE_LIST, tobj_free);
	store_register_type_mem(KV_TYPE_LIST, tobj_mem);
	return 0;
}

/* ---- the expiry hook ---- */

struct hook_log {
	uint64_t calls;
	char last[64];
	size_t last_len;
};

static void hook_fn(void *arg, uint32_t dbid, const char *key, size_t klen)
{
	struct hook_log *h = arg;
	h->calls++;
	h->last_len = KV_MIN(klen, sizeof(h->last));
	memcpy(h->last, key, h->last_len);
}

/* ---- tests ---- */

static void test_store_set_lookup_delete_at_scale(void **state)
{
	(void)state;
	struct kv_db *db = db_create();
	const uint64_t n = 200000;
	char k[32], v[32];
	for (uint64_t i = 0; i < n; i++) {
		int kl = keyf(k, sizeof(k), i), vl = snprintf(v, sizeof(v), "v%llu", (unsigned long long)i);
		db_set_string(db, k, (size_t)kl, v, (size_t)vl, KV_NO_EXPIRE);
	}
	assert_int_equal(db_size(db), n);
	assert_int_equal(db_expires_count(db), 0);
	for (uint64_t i = 0; i < n; i++) {
		int kl = keyf(k, sizeof(k), i), vl = snprintf(v, sizeof(v), "v%llu", (unsigned long long)i);
		struct kv_entry *e = db_lookup(db, k, (size_t)kl, NOW);
		assert_str(e, v, (size_t)vl);
		struct kv_slice ks = entry_key(e);
		assert_int_equal(ks.len, kl);
		assert_memory_equal(ks.ptr, k, ks.len);
		assert_int_equal(entry_expire(e), KV_NO_EXPIRE);
	}
	assert_null(db_lookup(db, "nope", 4, NOW));
	for (uint64_t i = 0; i < n; i += 2) {
		int kl = keyf(k, sizeof(k), i);
		assert_int_equal(db_delete(db, k, (size_t)kl), 1);
		assert_int_equal(db_delete(db, k, (size_t)kl), 0);
	}
	assert_int_equal(db_size(db), n / 2);
	for (uint64_t i = 0; i < n; i++) {
		int kl = keyf(k, sizeof(k), i);
		struct kv_entry *e = db_lookup(db, k, (size_t)kl, NOW);
		if (i & 1)
			assert_non_null(e);
		else
			assert_null(e);
	}
	db_destroy(db);
}

/* Key and value lengths on both sides of every length-format boundary, with
 * and without a deadline (narrow and wide), overwritten in place and not. */
static void test_store_entry_formats_round_trip(void **state)
{
	(void)state;
	static const size_t klens[] = {0, 1, 15, 16, 255, 256, 65535, 65536};
	static const size_t vlens[] = {0, 3, 15, 16, 255, 256, 65536, 70000};
	static const int64_t dls[] = {KV_NO_EXPIRE, NOW + 5, (INT64_C(1) << 48) - 1,
				      INT64_C(1) << 48, INT64_MAX};
	struct kv_db *db = db_create();
	char *key = malloc(65536), *val = malloc(70001);
	for (size_t i = 0; i < 65536; i++)
		key[i] = (char)('a' + i % 26);
	for (size_t i = 0; i < 70001; i++)
		val[i] = (char)(i * 7);
	for (size_t ki = 0; ki < KV_ARRAY_LEN(klens); ki++) {
		for (size_t vi = 0; vi < KV_ARRAY_LEN(vlens); vi++) {
			for (size_t di = 0; di < KV_ARRAY_LEN(dls); di++) {
				size_t kl = klens[ki], vl = vlens[vi];
				struct kv_entry *e = db_set_string(db, key, kl, val, vl, dls[di]);
				assert_str(e, val, vl);
				assert_int_equal(entry_key(e).len, kl);
				assert_memory_equal(entry_key(e).ptr, key, kl);
				assert_int_equal(entry_expire(e), dls[di]);
				/* Overwrite with every other length, keeping the TTL. */
				size_t vl2 = vlens[(vi + 3) % KV_ARRAY_LEN(vlens)];
				e = db_set_string(db, key, kl, val + 1, vl2, KV_KEEP_EXPIRE);
				assert_str(db_lookup(db, key, kl, 0), val + 1, vl2);
				assert_int_equal(entry_expire(e), dls[di]);
				assert_int_equal(db_size(db), 1);
				assert_int_equal(db_expires_count(db), dls[di] >= 0 ? 1 : 0);
				assert_int_equal(db_delete(db, key, kl), 1);
			}
		}
	}
	assert_int_equal(db_size(db), 0);
	assert_int_equal(db_expires_count(db), 0);
	free(key);
	free(val);
	db_destroy(db);
}

static void test_store_objects_replace_and_free(void **state)
{
	(void)state;
	struct kv_db *db = db_create();
	int frees = 0;
	size_t base = db_memory_used(db);
	struct tobj *a = tobj_new(1000, &frees);
	struct kv_entry *e = db_set_object(db, "obj", 3, KV_TYPE_LIST, a, NOW + 100);
	assert_int_equal(entry_type(e), KV_TYPE_LIST);
	assert_ptr_equal(entry_obj(e), a);
	assert_int_equal(entry_expire(e), NOW + 100);
	assert_true(db_memory_used(db) >= base + 1000);
	/* The same object again: not freed, not counted twice. */
	size_t m = db_memory_used(db);
	e = db_set_object(db, "obj", 3, KV_TYPE_LIST, a, KV_KEEP_EXPIRE);
	assert_int_equal(frees, 0);
	assert_int_equal(db_memory_used(db), m);
	assert_int_equal(entry_expire(e), NOW + 100);
	/* In-place growth reported by the type code. */
	a->bytes += 500;
	db_memory_adjust(db, 500);
	/* A string over an object frees the object. */
	e = db_set_string(db, "obj", 3, "s", 1, KV_NO_EXPIRE);
	assert_int_equal(frees, 1);
	assert_str(e, "s", 1);
	assert_int_equal(db_expires_count(db), 0);
	/* An object over a string, then deleted. */
	db_set_object(db, "obj", 3, KV_TYPE_LIST, tobj_new(10, &frees), KV_NO_EXPIRE);
	assert_int_equal(db_delete(db, "obj", 3), 1);
	assert_int_equal(frees, 2);
	assert_int_equal(db_memory_used(db), base);
	db_destroy(db);
}

static void test_store_lazy_expiry_calls_hook_and_counts(void **state)
{
	(void)state;
	struct kv_db *db = db_create();
	struct hook_log h = {0};
	db_set_expire_hook(db, hook_fn, &h);
	db_set_string(db, "t", 1, "v", 1, NOW + 1000);
	db_set_string(db, "p", 1, "v", 1, KV_NO_EXPIRE);
	assert_int_equal(db_expires_count(db), 1);
	assert_non_null(db_lookup(db, "t", 1, NOW));
	assert_non_null(db_lookup(db, "t", 1, NOW + 999));
	assert_int_equal(h.calls, 0);
	/* now_ms == 0 disables the check. */
	assert_non_null(db_lookup(db, "t", 1, 0));
	assert_null(db_lookup(db, "t", 1, NOW + 1000));
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.last_len, 1);
	assert_memory_equal(h.last, "t", 1);
	assert_int_equal(db_get_stats(db)->expired_keys, 1);
	assert_int_equal(db_size(db), 1);
	assert_int_equal(db_expires_count(db), 0);
	assert_null(db_lookup(db, "t", 1, 0));
	/* Plain deletes and overwrites are not expiries. */
	db_set_string(db, "u", 1, "v", 1, NOW + 1);
	db_set_string(db, "u", 1, "w", 1, KV_NO_EXPIRE);
	assert_non_null(db_lookup(db, "u", 1, NOW + 10));
	assert_int_equal(db_delete(db, "u", 1), 1);
	assert_int_equal(h.calls, 1);
	db_destroy(db);
}

static void test_store_set_expire_add_change_clear(void **state)
{
	(void)state;
	struct kv_db *db = db_create();
	struct kv_entry *e = db_set_string(db, "k", 1, "value", 5, KV_NO_EXPIRE);
	e = db_set_expire(db, e, NOW + 10);
	assert_int_equal(entry_expire(e), NOW + 10);
	assert_int_equal(db_expires_count(db), 1);
	e = db_set_expire(db, e, NOW + 20);
	assert_int_equal(entry_expire(e), NOW + 20);
	e = db_set_expire(db, e, INT64_MAX);   /* wide deadline */
	assert_int_equal(entry_expire(e), INT64_MAX);
	assert_str(e, "value", 5);
	e = db_set_expire(db, e, KV_NO_EXPIRE);
	assert_int_equal(entry_expire(e), KV_NO_EXPIRE);
	assert_int_equal(db_expires_count(db), 0);
	assert_str(db_lookup(db, "k", 1, INT64_MAX), "value", 5);
	/* SET without KEEPTTL clears it, with KEEPTTL keeps it. */
	e = db_set_expire(db, e, NOW + 30);
	db_set_string(db, "k", 1, "x", 1, KV_KEEP_EXPIRE);
	assert_int_equal(entry_expire(db_lookup(db, "k", 1, 0)), NOW + 30);
	db_set_string(db, "k", 1, "y", 1, KV_NO_EXPIRE);
	assert_int_equal(entry_expire(db_lookup(db, "k", 1, 0)), KV_NO_EXPIRE);
	assert_int_equal(db_expires_count(db), 0);
	db_destroy(db);
}

static void test_store_active_expiry_with_fake_clock(void **state)
{
	(void)state;
	struct kv_db *db = db_create();
	struct hook_log h = {0};
	db_set_expire_hook(db, hook_fn, &h);
	const uint64_t n = 20000;
	char k[32];
	for (uint64_t i = 0; i < n; i++) {
		int kl = keyf(k, sizeof(k), i);
		/* Thirds: no TTL, TTL at NOW+100, TTL at NOW+10000. */
		int64_t dl = i % 3 == 0 ? KV_NO_EXPIRE : i % 3 == 1 ? NOW + 100 : NOW + 10000;
		db_set_string(db, k, (size_t)kl, "v", 1, dl);
	}
	uint64_t with_ttl = db_expires_count(db);
	assert_int_equal(with_ttl, n - (n + 2) / 3);
	/* Nothing is due yet. */
	assert_int_equal(db_active_expire(db, NOW, 1000), 0);
	/* Bounded work: at most max_samples keys examined, so deleted. */
	assert_true(db_active_expire(db, NOW + 100, 7) <= 7);
	/* Rounds go on while more than a quarter of a sample was due: half of
	 * the keys with a TTL are due, so sampling reclaims most of them. */
	while (db_active_expire(db, NOW + 100, 1000) > 0)
		;
	uint64_t due = (n + 1) / 3;
	assert_true(h.calls >= due / 2);
	assert_int_equal(db_get_stats(db)->expired_keys, h.calls);
	/* The rest go lazily. */
	for (uint64_t i = 1; i < n; i += 3) {
		int kl = keyf(k, sizeof(k), i);
		assert_null(db_lookup(db, k, (size_t)kl, NOW + 100));
	}
	uint64_t total = h.calls;
	assert_int_equal(total, (n + 1) / 3);
	assert_int_equal(db_get_stats(db)->expired_keys, total);
	assert_int_equal(db_size(db), n - total);
	assert_int_equal(db_expires_count(db), with_ttl - total);
	for (uint64_t i = 0; i < n; i++) {
		int kl = keyf(k, sizeof(k), i);
		struct kv_entry *e = db_lookup(db, k, (size_t)kl, NOW + 100);
		if (i % 3 == 1)
			assert_null(e);
		else
			assert_non_null(e);
	}
	/* Everything due: every round is all expired, so one call with enough
	 * budget empties the expiry index. */
	assert_int_equal(db_active_expire(db, NOW + 10000, 1000000), with_ttl - total);
	assert_int_equal(db_expires_count(db), 0);
	assert_int_equal(db_size(db), (n + 2) / 3);
	assert_int_equal(db_get_stats(db)->expired_keys, n - (n + 2) / 3);
	assert_int_equal(h.calls, n - (n + 2) / 3);
	db_destroy(db);
}

static void test_store_append_growth(void **state)
{
	(void)state;
	struct kv_db *db = db_create();
	const size_t total = 200000;
	unsigned char *model = malloc(total);
	struct kv_entry *e = db_set_string(db, "a", 1, "", 0, NOW + 1000);
	size_t len = 0;
	for (size_t chunk = 1; len < total; chunk = chunk % 61 + 1) {
		unsigned char buf[64];
		size_t n = KV_MIN(chunk, total - len);
		for (size_t i = 0; i < n; i++)
			buf[i] = model[len + i] = (unsigned char)(len + i);
		e = db_string_write(db, e, entry_str(e).len, buf, n);
		len += n;
		assert_int_equal(entry_str(e).len, len);
	}
	e = db_lookup(db, "a", 1, NOW);
	assert_str(e, model, total);
	assert_int_equal(entry_expire(e), NOW + 1000);
	assert_int_equal(db_expires_count(db), 1);
	/* Appending the value to itself (source inside the entry). */
	struct kv_slice v = entry_str(e);
	e = db_string_write(db, e, v.len, v.ptr, v.len);
	assert_int_equal(entry_str(e).len, 2 * total);
	assert_memory_equal(entry_str(e).ptr, model, total);
	assert_memory_equal(entry_str(e).ptr + total, model, total);
	free(model);
	db_destroy(db);
}

static void test_store_setrange_zero_fills(void **state)
{
	(void)state;
	struct kv_db *db = db_create();
	struct kv_entry *e = db_set_string(db, "s", 1, "abc", 3, KV_NO_EXPIRE);
	assert_false(entry_str_is_raw(e));
	e = db_string_write(db, e, 1, "X", 1);             /* inside */
	assert_str(e, "aXc", 3);
	assert_true(entry_str_is_raw(e));                  /* written in place */
	e = db_set_expire(db, e, 1000);                    /* a new layout keeps it */
	assert_true(entry_str_is_raw(e));
	assert_int_equal(entry_type(e), KV_TYPE_STRING);
	e = db_set_expire(db, e, KV_NO_EXPIRE);
	e = db_string_write(db, e, 10, "end", 3);          /* past the end */
	assert_str(e, "aXc\0\0\0\0\0\0\0end", 13);
	e = db_string_write(db, e, 300, "Z", 1);           /* format change */
	struct kv_slice v = entry_str(e);
	assert_int_equal(v.len, 301);
	for (size_t i = 13; i < 300; i++)
		assert_int_equal(v.ptr[i], 0);
	assert_int_equal(v.ptr[300], 'Z');
	assert_memory_equal(v.ptr, "aXc\0\0\0\0\0\0\0end", 13);
	e = db_string_write(db, e, 301, NULL, 0);          /* empty write */
	assert_int_equal(entry_str(e).len, 301);
	e = db_set_string(db, "empty", 5, "", 0, KV_NO_EXPIRE);
	e = db_string_write(db, e, 5, "x", 1);
	assert_str(e, "\0\0\0\0\0x", 6);
	assert_true(entry_str_is_raw(e));
	assert_str(db_lookup(db, "s", 1, 0), v.ptr, 301);
	e = db_set_string(db, "s", 1, "1", 1, KV_NO_EXPIRE);  /* set whole again */
	assert_false(entry_str_is_raw(e));
	db_destroy(db);
}

static void test_store_rename_within_db_keeps_ttl(void **state)
{
	(void)state;
	struct kv_db *db = db_create();
	int frees = 0;
	size_t base = db_memory_used(db);
	db_set_string(db, "src", 3, "value", 5, NOW + 500);
	db_set_string(db, "dst-longer-name-than-before", 27, "old", 3, KV_NO_EXPIRE);
	db_rename(db, "src", 3, db, "dst-longer-name-than-before", 27);
	assert_null(db_lookup(db, "src", 3, 0));
	struct kv_entry *e = db_lookup(db, "dst-longer-name-than-before", 27, NOW);
	assert_str(e, "value", 5);
	assert_int_equal(entry_expire(e), NOW + 500);
	assert_int_equal(db_size(db), 1);
	assert_int_equal(db_expires_count(db), 1);
	/* To a shorter name, to the same name, and an object value. */
	db_rename(db, "dst-longer-name-than-before", 27, db, "d", 1);
	db_rename(db, "d", 1, db, "d", 1);
	e = db_lookup(db, "d", 1, NOW);
	assert_str(e, "value", 5);
	assert_int_equal(entry_expire(e), NOW + 500);
	struct tobj *o = tobj_new(64, &frees);
	db_set_object(db, "o", 1, KV_TYPE_LIST, o, KV_NO_EXPIRE);
	db_rename(db, "o", 1, db, "d", 1);
	e = db_lookup(db, "d", 1, NOW);
	assert_ptr_equal(entry_obj(e), o);
	assert_int_equal(entry_expire(e), KV_NO_EXPIRE);
	assert_int_equal(db_expires_count(db), 0);
	assert_int_equal(db_size(db), 1);
	assert_int_equal(frees, 0);
	assert_int_equal(db_delete(db, "d", 1), 1);
	assert_int_equal(frees, 1);
	assert_int_equal(db_memory_used(db), base);
	db_destroy(db);
}

static void test_store_rename_across_dbs_keeps_ttl(void **state)
{
	(void)state;
	struct kv_db *a = db_create(), *b = db_create();
	int frees = 0;
	size_t base_a = db_memory_used(a), base_b = db_memory_used(b);
	char big[1000];
	memset(big, 'q', sizeof(big));
	db_set_string(a, "k", 1, big, sizeof(big), NOW + 7);
	db_set_string(b, "n", 1, "replaced", 8, NOW + 9);
	db_rename(a, "k", 1, b, "n", 1);
	assert_int_equal(db_size(a), 0);
	assert_int_equal(db_expires_count(a), 0);
	assert_int_equal(db_memory_used(a), base_a);
	struct kv_entry *e = db_lookup(b, "n", 1, NOW);
	assert_str(e, big, sizeof(big));
	assert_int_equal(entry_expire(e), NOW + 7);
	assert_int_equal(db_expires_count(b), 1);
	/* Back again under a new name, with an object. */
	db_set_object(b, "obj", 3, KV_TYPE_LIST, tobj_new(4096, &frees), NOW + 3);
	db_rename(b, "obj", 3, a, "object-moved", 12);
	assert_true(db_memory_used(a) >= base_a + 4096);
	e = db_lookup(a, "object-moved", 12, NOW);
	assert_int_equal(entry_type(e), KV_TYPE_LIST);
	assert_int_equal(entry_expire(e), NOW + 3);
	/* The moved key expires in its new db, with its new name. */
	struct hook_log h = {0};
	db_set_expire_hook(a, hook_fn, &h);
	assert_null(db_lookup(a, "object-moved", 12, NOW + 3));
	assert_int_equal(h.calls, 1);
	assert_memory_equal(h.last, "object-moved", 12);
	assert_int_equal(frees, 1);
	assert_int_equal(db_memory_used(a), base_a);
	assert_int_equal(db_delete(b, "n", 1), 1);
	assert_int_equal(db_memory_used(b), base_b);
	db_destroy(a);
	db_destroy(b);
}

static void test_store_flush(void **state)
{
	(void)state;
	struct kv_db *db = db_create();
	int frees = 0;
	size_t base = db_memory_used(db);
	char k[32];
	for (uint64_t i = 0; i < 50000; i++) {
		int kl = keyf(k, sizeof(k), i);
		if (i % 100 == 0)
			db_set_object(db, k, (size_t)kl, KV_TYPE_LIST, tobj_new(100, &frees),
				      i % 200 ? KV_NO_EXPIRE : NOW);
		else
			db_set_string(db, k, (size_t)kl, "v", 1, i % 2 ? NOW + 1 : KV_NO_EXPIRE);
	}
	db_flush(db);
	assert_int_equal(frees, 500);
	assert_int_equal(db_size(db), 0);
	assert_int_equal(db_expires_count(db), 0);
	assert_int_equal(db_memory_used(db), base);
	assert_null(db_lookup(db, k, strlen(k), 0));
	db_set_string(db, "again", 5, "v", 1, NOW);
	assert_int_equal(db_size(db), 1);
	db_destroy(db);
}

static void test_store_memory_returns_to_baseline(void **state)
{
	(void)state;
	struct kv_db *db = db_create();
	int frees = 0;
	const size_t base = db_memory_used(db);
	assert_true(base > 0);
	const uint64_t n = 100000;
	char k[32];
	for (uint64_t i = 0; i < n; i++) {
		int kl = keyf(k, sizeof(k), i);
		if (i % 10 == 0)
			db_set_object(db, k, (size_t)kl, KV_TYPE_LIST, tobj_new(48, &frees), NOW + 5);
		else
			db_set_string(db, k, (size_t)kl, "abc", 3, i % 2 ? NOW + 5 : KV_NO_EXPIRE);
	}
	/* 16-byte keys, 3-byte values: one 48-byte chunk plus ~8-16 bytes of
	 * bucket and expiry slot per key (objects add 48 + their entry). */
	double per_key = (double)(db_memory_used(db) - base) / (double)n;
	printf("test_store: %.1f bytes/key (mixed TTL/objects)\n", per_key);
	assert_true(per_key < 90);
	/* Grow some values, then delete everything in a scrambled order. */
	for (uint64_t i = 1; i < n; i += 7) {
		int kl = keyf(k, sizeof(k), i);
		struct kv_entry *e = db_lookup(db, k, (size_t)kl, 0);
		if (entry_type(e) == KV_TYPE_STRING)
			db_string_write(db, e, 100, "x", 1);
	}
	for (uint64_t j = 0; j < n; j++) {
		uint64_t i = (j * 7919) % n;
		int kl = keyf(k, sizeof(k), i);
		assert_int_equal(db_delete(db, k, (size_t)kl), 1);
	}
	assert_int_equal(db_size(db), 0);
	assert_int_equal(frees, (int)(n / 10));
	assert_int_equal(db_memory_used(db), base);
	db_destroy(db);
}

struct scan_seen {
	uint8_t *seen;
	uint64_t calls;
};

static void scan_fn(void *arg, const struct kv_entry *e)
{
	struct scan_seen *s = arg;
	struct kv_slice k = entry_key(e);
	unsigned long long i = strtoull(k.ptr + 4, NULL, 10);   /* "key:%012llu" */
	s->seen[i] = 1;
	s->calls++;
}

static void test_store_scan_skips_expired(void **state)
{
	(void)state;
	struct kv_db *db = db_create();
	const uint64_t n = 30000;
	char k[32];
	for (uint64_t i = 0; i < n; i++) {
		int kl = keyf(k, sizeof(k), i);
		db_set_string(db, k, (size_t)kl, "v", 1, i % 4 == 0 ? NOW : KV_NO_EXPIRE);
	}
	struct scan_seen s = {calloc(n, 1), 0};
	uint64_t cursor = 0;
	do
		cursor = db_scan(db, cursor, NOW, scan_fn, &s);
	while (cursor);
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(s.seen[i], i % 4 != 0);
	assert_int_equal(s.calls, n - n / 4);
	assert_int_equal(db_size(db), n);   /* skipped, not deleted */
	/* now_ms = 0 reports everything. */
	memset(s.seen, 0, n);
	s.calls = 0;
	do
		cursor = db_scan(db, cursor, 0, scan_fn, &s);
	while (cursor);
	assert_int_equal(s.calls, n);
	free(s.seen);
	db_destroy(db);
}

static void test_store_random_returns_live_keys(void **state)
{
	(void)state;
	struct kv_db *db = db_create();
	struct hook_log h = {0};
	db_set_expire_hook(db, hook_fn, &h);
	assert_null(db_random(db, NOW));
	char k[32];
	for (uint64_t i = 0; i < 1000; i++) {
		int kl = keyf(k, sizeof(k), i);
		db_set_string(db, k, (size_t)kl, "v", 1, i < 900 ? NOW - 1 : KV_NO_EXPIRE);
	}
	for (int i = 0; i < 2000; i++) {
		const struct kv_entry *e = db_random(db, NOW);
		if (!e)
			continue;   /* gave up after 100 expired draws */
		assert_int_equal(entry_expire(e), KV_NO_EXPIRE);
	}
	assert_true(h.calls > 0);
	assert_int_equal(h.calls, db_get_stats(db)->expired_keys);
	assert_int_equal(db_size(db) + h.calls, 1000);
	db_destroy(db);
}

/* A random mix of every operation, checked against a plain model. */
struct mkey {
	int present;
	int is_obj;
	int64_t dl;
	size_t vlen;
	unsigned char fill;
};

static void test_store_random_ops_match_model(void **state)
{
	(void)state;
	uint64_t seed = test_seed(__func__);
	struct kv_db *db = db_create();
	int frees = 0;
	const size_t base = db_memory_used(db);
	enum { NK = 2000 };
	struct mkey *m = calloc(NK, sizeof(*m));
	unsigned char val[600];
	char k[32], k2[32];
	uint64_t live = 0, ttl = 0;
	for (int step = 0; step < 300000; step++) {
		uint64_t r = rnd(&seed);
		uint32_t i = (uint32_t)(r % NK);
		int kl = keyf(k, sizeof(k), i);
		struct mkey *mk = &m[i];
		switch ((r >> 32) % 8) {
		case 0: case 1: {   /* SET, maybe with TTL or KEEPTTL */
			size_t vl = (r >> 40) % 3 == 0 ? (r >> 44) % 600 : (r >> 44) % 20;
			int64_t dl = (r >> 50) % 3 == 0 ? NOW + (int64_t)(r % 1000)
				   : (r >> 50) % 3 == 1 ? KV_NO_EXPIRE : KV_KEEP_EXPIRE;
			unsigned char f = (unsigned char)(r >> 56);
			memset(val, f, vl);
			db_set_string(db, k, (size_t)kl, val, vl, dl);
			mk->dl = dl == KV_KEEP_EXPIRE ? (mk->present ? mk->dl : KV_NO_EXPIRE) : dl;
			mk->present = 1, mk->is_obj = 0, mk->vlen = vl, mk->fill = f;
			break;
		}
		case 2:
			db_set_object(db, k, (size_t)kl, KV_TYPE_LIST, tobj_new(32, &frees),
				      KV_NO_EXPIRE);
			mk->present = 1, mk->is_obj = 1, mk->dl = KV_NO_EXPIRE;
			break;
		case 3:
			assert_int_equal(db_delete(db, k, (size_t)kl), mk->present);
			mk->present = 0;
			break;
		case 4: {   /* APPEND of a run of the same byte */
			struct kv_entry *e = db_lookup(db, k, (size_t)kl, 0);
			if (!e || mk->is_obj)
				break;
			size_t n = (r >> 40) % 50;
			memset(val, mk->fill, n);
			db_string_write(db, e, mk->vlen, val, n);
			mk->vlen += n;
			break;
		}
		case 5: {   /* EXPIRE / PERSIST */
			struct kv_entry *e = db_lookup(db, k, (size_t)kl, 0);
			if (!e)
				break;
			int64_t dl = (r >> 40) % 2 ? NOW + (int64_t)(r % 1000) : KV_NO_EXPIRE;
			db_set_expire(db, e, dl);
			mk->dl = dl;
			break;
		}
		case 6: {   /* RENAME to another key */
			uint32_t j = (uint32_t)((r >> 40) % NK);
			if (!mk->present)
				break;
			int kl2 = keyf(k2, sizeof(k2), j);
			db_rename(db, k, (size_t)kl, db, k2, (size_t)kl2);
			if (j != i) {
				m[j] = *mk;
				mk->present = 0;
			}
			break;
		}
		default: {   /* lookup with the clock: lazy expiry */
			int64_t now = NOW + (int64_t)((r >> 40) % 1000);
			struct kv_entry *e = db_lookup(db, k, (size_t)kl, now);
			if (mk->present && mk->dl >= 0 && now >= mk->dl)
				mk->present = 0;
			assert_int_equal(e != NULL, mk->present);
			break;
		}
		}
		if (step % 20000 == 0 || step == 299999) {
			live = ttl = 0;
			for (uint32_t x = 0; x < NK; x++) {
				int xl = keyf(k, sizeof(k), x);
				struct kv_entry *e = db_lookup(db, k, (size_t)xl, 0);
				assert_int_equal(e != NULL, m[x].present);
				if (!e)
					continue;
				live++;
				ttl += m[x].dl >= 0;
				assert_int_equal(entry_expire(e), m[x].dl);
				assert_int_equal(entry_type(e) == KV_TYPE_LIST, m[x].is_obj);
				if (!m[x].is_obj) {
					struct kv_slice v = entry_str(e);
					assert_int_equal(v.len, m[x].vlen);
					for (size_t b = 0; b < v.len; b++)
						assert_int_equal((unsigned char)v.ptr[b], m[x].fill);
				}
			}
			assert_int_equal(db_size(db), live);
			assert_int_equal(db_expires_count(db), ttl);
		}
	}
	db_flush(db);
	assert_int_equal(db_memory_used(db), base);
	free(m);
	db_destroy(db);
}

static void test_store_rehash_when_idle(void **state)
{
	(void)state;
	struct kv_db *db = db_create();
	char k[32];
	uint64_t i = 0;
	/* Insert until a grow is under way. */
	for (; i < 100000; i++) {
		int kl = keyf(k, sizeof(k), i);
		db_set_string(db, k, (size_t)kl, "v", 1, KV_NO_EXPIRE);
		if (i > 1000 && db_rehash(db, 0))
			break;
	}
	assert_true(i < 100000);
	while (db_rehash(db, 1000))
		;
	assert_false(db_rehash(db, 1000));
	for (uint64_t j = 0; j <= i; j++) {
		int kl = keyf(k, sizeof(k), j);
		assert_non_null(db_lookup(db, k, (size_t)kl, 0));
	}
	db_destroy(db);
}

/* ---- point-in-time snapshots ---- */

#define SNAP_KEYS 3000

/* What a snapshot received, indexed by key number: the value it saw. */
struct snap_seen {
	int count[SNAP_KEYS];
	char val[SNAP_KEYS][32];
	int64_t deadline[SNAP_KEYS];
	bool flushed;
};

static void snap_collect(void *arg, const struct kv_entry *e)
{
	struct snap_seen *s = arg;
	if (!e) {
		s->flushed = true;
		return;
	}
	struct kv_slice k = entry_key(e);
	int i = atoi(k.ptr + 1);
	assert_true(i >= 0 && i < SNAP_KEYS);
	s->count[i]++;
	struct kv_slice v = entry_str(e);
	assert_true(v.len < sizeof(s->val[i]));
	memcpy(s->val[i], v.ptr, v.len);
	s->val[i][v.len] = '\0';
	s->deadline[i] = entry_expire(e);
}

/* A snapshot taken while keys are set, appended to, deleted, renamed, given
 * deadlines and looked up for writing holds exactly the keyspace at its cut:
 * every key present then, once, with its value and deadline then. */
static void test_store_snapshot_is_point_in_time(void **state)
{
	(void)state;
	for (unsigned seed = 1; seed <= 5; seed++) {
		struct kv_db *db = db_create();
		struct snap_seen *seen = calloc(1, sizeof(*seen));
		static char cut_val[SNAP_KEYS][32];
		static int64_t cut_dl[SNAP_KEYS];
		static bool cut_has[SNAP_KEYS];
		char key[16], val[32];
		srand(seed);
		for (int i = 0; i < SNAP_KEYS; i++) {
			cut_has[i] = rand() % 4 != 0;
			if (!cut_has[i])
				continue;
			snprintf(key, sizeof(key), "k%d", i);
			snprintf(cut_val[i], sizeof(cut_val[i]), "v%d", i);
			cut_dl[i] = rand() % 3 == 0 ? NOW + 1000000 + i : KV_NO_EXPIRE;
			db_set_string(db, key, strlen(key), cut_val[i], strlen(cut_val[i]), cut_dl[i]);
		}
		db_snapshot_begin(db, snap_collect, seen);
		uint64_t cursor = 0;
		int steps = 0;
		do {
			cursor = db_snapshot_step(db, cursor);
			/* Between steps, change random keys every way the store can. */
			for (int m = 0; m < 5; m++) {
				int i = rand() % SNAP_KEYS;
				snprintf(key, sizeof(key), "k%d", i);
				snprintf(val, sizeof(val), "n%d-%d", i, steps);
				struct kv_entry *e;
				switch (rand() % 6) {
				case 0:
					db_set_string(db, key, strlen(key), val, strlen(val), KV_NO_EXPIRE);
					break;
				case 1:
					db_delete(db, key, strlen(key));
					break;
				case 2:
					if ((e = db_lookup(db, key, strlen(key), 0)))
						db_string_write(db, e, entry_str(e).len, "+", 1);
					break;
				case 3:
					if ((e = db_lookup(db, key, strlen(key), 0)))
						db_set_expire(db, e, NOW + 5);
					break;
				case 4: {
					char to[16];
					snprintf(to, sizeof(to), "k%d", rand() % SNAP_KEYS);
					if (db_lookup(db, key, strlen(key), 0))
						db_rename(db, key, strlen(key), db, to, strlen(to));
					break;
				}
				default:
					db_set_writing(db, true);
					db_lookup(db, key, strlen(key), 0);
					db_set_writing(db, false);
					break;
				}
			}
			steps++;
		} while (cursor);
		db_snapshot_end(db);
		for (int i = 0; i < SNAP_KEYS; i++) {
			if (!cut_has[i]) {
				if (seen->count[i] != 0)
					fail_msg("seed %u: k%d was absent at the cut but saved", seed, i);
				continue;
			}
			if (seen->count[i] != 1)
				fail_msg("seed %u: k%d saved %d times", seed, i, seen->count[i]);
			assert_string_equal(seen->val[i], cut_val[i]);
			assert_int_equal(seen->deadline[i], cut_dl[i]);
		}
		assert_false(seen->flushed);
		/* A snapshot given up half way leaves the next one exact: every
		 * key present is saved once. */
		memset(seen, 0, sizeof(*seen));
		db_snapshot_begin(db, snap_collect, seen);
		cursor = db_snapshot_step(db, 0);
		cursor = db_snapshot_step(db, cursor);
		db_snapshot_abandon(db);
		memset(seen, 0, sizeof(*seen));
		db_snapshot_begin(db, snap_collect, seen);
		cursor = 0;
		do {
			cursor = db_snapshot_step(db, cursor);
		} while (cursor);
		db_snapshot_end(db);
		for (int i = 0; i < SNAP_KEYS; i++) {
			snprintf(key, sizeof(key), "k%d", i);
			int present = db_lookup(db, key, strlen(key), 0) != NULL;
			if (seen->count[i] != present)
				fail_msg("seed %u: after an abandoned snapshot, k%d saved %d times, "
					 "present %d", seed, i, seen->count[i], present);
		}
		/* A flush during a snapshot is reported. */
		db_snapshot_begin(db, snap_collect, seen);
		db_flush(db);
		assert_true(seen->flushed);
		db_snapshot_end(db);
		free(seen);
		db_destroy(db);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_set_lookup_delete_at_scale),
		cmocka_unit_test(test_store_entry_formats_round_trip),
		cmocka_unit_test(test_store_objects_replace_and_free),
		cmocka_unit_test(test_store_lazy_expiry_calls_hook_and_counts),
		cmocka_unit_test(test_store_set_expire_add_change_clear),
		cmocka_unit_test(test_store_active_expiry_with_fake_clock),
		cmocka_unit_test(test_store_append_growth),
		cmocka_unit_test(test_store_setrange_zero_fills),
		cmocka_unit_test(test_store_rename_within_db_keeps_ttl),
		cmocka_unit_test(test_store_rename_across_dbs_keeps_ttl),
		cmocka_unit_test(test_store_flush),
		cmocka_unit_test(test_store_memory_returns_to_baseline),
		cmocka_unit_test(test_store_scan_skips_expired),
		cmocka_unit_test(test_store_random_returns_live_keys),
		cmocka_unit_test(test_store_random_ops_match_model),
		cmocka_unit_test(test_store_rehash_when_idle),
		cmocka_unit_test(test_store_snapshot_is_point_in_time),
	};
	return cmocka_run_group_tests(tests, setup_types, NULL);
}
