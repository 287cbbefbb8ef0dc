/*
 * test_cmd_keys.c - the keyspace commands (DEL, EXPIRE and family, RENAME,
 * KEYS, SCAN, ...) answer byte for byte what Redis 7.0.15 answers for the
 * same calls (each expected reply was taken from redis-server), on one shard
 * and spread over three, and SCAN's cursor walks every shard in turn.
 *
 * Handlers run through cmd_lookup() on hand-built struct cmd_ctx values
 * with no runtime around them (c->shard is NULL), so keyspace hit/miss
 * counting is not covered here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/cmd.h"
#include "cmd_fixture.h"
#include "base/kv.h"
#include "store/store.h"

static int setup1(void **state)
{
	cmd_table_init();
	*state = fixture_new(1);
	return 0;
}

static int setup3(void **state)
{
	cmd_table_init();
	*state = fixture_new(3);
	return 0;
}

#define RUN(f, ...) run((f), __VA_ARGS__, (const char *)NULL)
#define EXPECT(f, reply, ...) assert_string_equal(RUN((f), __VA_ARGS__), (reply))

static void set_key(struct fixture *f, const char *key, int64_t expire_ms)
{
	db_set_string(db_of(f, key), key, strlen(key), "v", 1, expire_ms);
}

static int64_t deadline_of(struct fixture *f, const char *key)
{
	struct kv_entry *e = db_lookup(db_of(f, key), key, strlen(key), 0);
	assert_non_null(e);
	return entry_expire(e);
}

static bool exists(struct fixture *f, const char *key)
{
	return db_lookup(db_of(f, key), key, strlen(key), f->now_ms) != NULL;
}

static uint64_t total_keys(struct fixture *f)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < f->nshards; i++)
		n += db_size(fixture_db(f, i));
	return n;
}

/* ---- a minimal RESP reader for replies whose order is unspecified ---- */

struct reply_reader {
	const char *p;
};

static int64_t read_header(struct reply_reader *r, char type)
{
	assert_int_equal(*r->p, type);
	char *end;
	int64_t n = strtoll(r->p + 1, &end, 10);
	assert_true(end[0] == '\r' && end[1] == '\n');
	r->p = end + 2;
	return n;
}

/* A bulk string, copied and NUL-terminated (caller frees). */
static char *read_bulk(struct reply_reader *r)
{
	int64_t n = read_header(r, '$');
	assert_true(n >= 0);
	char *s = kv_strndup(r->p, (size_t)n);
	r->p += n + 2;
	return s;
}

/* Names of `keys` found in the array reply at r, as a bitmap; fails on a
 * key not in `keys`. */
static void read_key_array(struct reply_reader *r, char **keys, size_t nkeys,
			   unsigned *seen)
{
	int64_t n = read_header(r, '*');
	for (int64_t i = 0; i < n; i++) {
		char *k = read_bulk(r);
		size_t j;
		for (j = 0; j < nkeys; j++)
			if (strcmp(keys[j], k) == 0)
				break;
		if (j == nkeys)
			fail_msg("unexpected key \"%s\" in reply", k);
		seen[j]++;
		free(k);
	}
}

/* ---- DEL UNLINK EXISTS TOUCH TYPE ---- */

static void test_cmd_keys_del_counts_deleted_keys(void **state)
{
	struct fixture *f = *state;
	set_key(f, "a", KV_NO_EXPIRE);
	set_key(f, "b", KV_NO_EXPIRE);
	set_key(f, "c", KV_NO_EXPIRE);
	/* A repeated key is deleted once. */
	EXPECT(f, ":2\r\n", "DEL", "a", "a", "b", "nokey");
	EXPECT(f, ":0\r\n", "DEL", "nokey");
	EXPECT(f, ":1\r\n", "UNLINK", "c", "nokey");
	assert_int_equal(total_keys(f), 0);
}

static void test_cmd_keys_del_expired_key_answers_zero(void **state)
{
	struct fixture *f = *state;
	set_key(f, "old", f->now_ms - 1);
	EXPECT(f, ":0\r\n", "DEL", "old");
	assert_int_equal(total_keys(f), 0);
}

static void test_cmd_keys_exists_counts_repeats(void **state)
{
	struct fixture *f = *state;
	set_key(f, "k", KV_NO_EXPIRE);
	set_key(f, "gone", f->now_ms);
	EXPECT(f, ":3\r\n", "EXISTS", "k", "k", "k", "nokey");
	EXPECT(f, ":0\r\n", "EXISTS", "gone");
	EXPECT(f, ":2\r\n", "TOUCH", "k", "k", "nokey");
}

static void test_cmd_keys_type(void **state)
{
	struct fixture *f = *state;
	set_key(f, "k", KV_NO_EXPIRE);
	EXPECT(f, "+string\r\n", "TYPE", "k");
	EXPECT(f, "+none\r\n", "TYPE", "nokey");
}

/* ---- EXPIRE family ---- */

struct expire_case {
	int64_t ttl_ms;            /* the key's TTL before: -1 none */
	const char *args[4];       /* after EXPIRE k, NULL-terminated */
	const char *reply;
	int64_t ttl_after;         /* -1 none, -2 deleted */
};

/* Every row was replayed on redis-server 7.0.15 (EXPIRE k 50 first where
 * ttl_ms is 50000). */
static const struct expire_case expire_matrix[] = {
	{ -1, { "10", "NX" }, ":1\r\n", 10000 },
	{ 50000, { "20", "NX" }, ":0\r\n", 50000 },
	{ -1, { "10", "XX" }, ":0\r\n", -1 },
	{ 50000, { "20", "XX" }, ":1\r\n", 20000 },
	{ -1, { "10", "GT" }, ":0\r\n", -1 },          /* no TTL = infinite */
	{ 50000, { "5", "GT" }, ":0\r\n", 50000 },
	{ 50000, { "50", "GT" }, ":0\r\n", 50000 },    /* equal is not greater */
	{ 50000, { "100", "GT" }, ":1\r\n", 100000 },
	{ -1, { "10", "LT" }, ":1\r\n", 10000 },       /* anything is less */
	{ 50000, { "100", "LT" }, ":0\r\n", 50000 },
	{ 50000, { "50", "LT" }, ":0\r\n", 50000 },
	{ 50000, { "10", "LT" }, ":1\r\n", 10000 },
	{ -1, { "10", "XX", "GT" }, ":0\r\n", -1 },
	{ -1, { "10", "XX", "LT" }, ":0\r\n", -1 },
	{ 50000, { "10", "XX", "LT" }, ":1\r\n", 10000 },
	{ 50000, { "100", "xx", "gt" }, ":1\r\n", 100000 },
	{ -1, { "10", "nx", "nx" }, ":1\r\n", 10000 },   /* repeats are fine */
	{ -1, { "10", "GT", "GT" }, ":0\r\n", -1 },
	/* A time in the past deletes the key once the options allow it. */
	{ -1, { "-5", "LT" }, ":1\r\n", -2 },
	{ -1, { "-5", "GT" }, ":0\r\n", -1 },
	{ -1, { "-5", "NX" }, ":1\r\n", -2 },
	{ 50000, { "-5", "XX" }, ":1\r\n", -2 },
	{ -1, { "0" }, ":1\r\n", -2 },
	/* Errors leave the key alone. */
	{ -1, { "10", "NX", "XX" }, "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n", -1 },
	{ -1, { "10", "XX", "NX" }, "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n", -1 },
	{ -1, { "10", "NX", "GT" }, "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n", -1 },
	{ -1, { "10", "NX", "LT" }, "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n", -1 },
	{ -1, { "10", "GT", "LT" }, "-ERR GT and LT options at the same time are not compatible\r\n", -1 },
	{ -1, { "10", "XX", "GT", "LT" }, "-ERR GT and LT options at the same time are not compatible\r\n", -1 },
	{ -1, { "10", "Foo" }, "-ERR Unsupported option Foo\r\n", -1 },
	/* Options are checked before the time. */
	{ -1, { "abc", "foo" }, "-ERR Unsupported option foo\r\n", -1 },
	{ -1, { "abc", "NX" }, "-ERR value is not an integer or out of range\r\n", -1 },
	{ -1, { "1.5" }, "-ERR value is not an integer or out of range\r\n", -1 },
	{ -1, { "+10" }, "-ERR value is not an integer or out of range\r\n", -1 },
	{ -1, { "010" }, "-ERR value is not an integer or out of range\r\n", -1 },
	{ -1, { "" }, "-ERR value is not an integer or out of range\r\n", -1 },
};

static void test_cmd_keys_expire_options_matrix(void **state)
{
	struct fixture *f = *state;
	for (size_t i = 0; i < KV_ARRAY_LEN(expire_matrix); i++) {
		const struct expire_case *x = &expire_matrix[i];
		struct kv_slice argv[6] = { { "EXPIRE", 6 }, { "k", 1 } };
		int argc = 2;

		set_key(f, "k", x->ttl_ms < 0 ? KV_NO_EXPIRE : f->now_ms + x->ttl_ms);
		for (int j = 0; j < 4 && x->args[j]; j++) {
			argv[argc].ptr = x->args[j];
			argv[argc].len = strlen(x->args[j]);
			argc++;
		}
		const char *got = run_argv(f, argc, argv);
		if (strcmp(got, x->reply) != 0)
			fail_msg("row %zu: got %s", i, got);
		if (x->ttl_after == -2) {
			assert_false(exists(f, "k"));
		} else {
			int64_t want = x->ttl_after < 0 ? KV_NO_EXPIRE : f->now_ms + x->ttl_after;
			if (deadline_of(f, "k") != want)
				fail_msg("row %zu: deadline %lld", i, (long long)deadline_of(f, "k"));
		}
		db_delete(db_of(f, "k"), "k", 1);
	}
	/* A missing key answers 0 but still reports bad arguments. */
	EXPECT(f, ":0\r\n", "EXPIRE", "nokey", "10", "NX");
	EXPECT(f, "-ERR value is not an integer or out of range\r\n", "EXPIRE", "nokey", "abc");
	EXPECT(f, "-ERR GT and LT options at the same time are not compatible\r\n",
	       "EXPIRE", "nokey", "10", "GT", "LT");
}

static void test_cmd_keys_expire_invalid_time(void **state)
{
	struct fixture *f = *state;
	set_key(f, "k", KV_NO_EXPIRE);
	/* Seconds * 1000 + now must fit in int64; only overflow is an error. */
	EXPECT(f, "-ERR invalid expire time in 'expire' command\r\n",
	       "EXPIRE", "k", "9223372036854775807");
	EXPECT(f, "-ERR invalid expire time in 'expire' command\r\n",
	       "EXPIRE", "k", "9223372036854775");
	EXPECT(f, "-ERR invalid expire time in 'expire' command\r\n",
	       "EXPIRE", "k", "-9223372036854776");
	EXPECT(f, "-ERR invalid expire time in 'pexpire' command\r\n",
	       "PEXPIRE", "k", "9223372036854775807");
	EXPECT(f, "-ERR invalid expire time in 'expireat' command\r\n",
	       "EXPIREAT", "k", "9223372036854776");
	EXPECT(f, "-ERR invalid expire time in 'expireat' command\r\n",
	       "EXPIREAT", "k", "-9223372036854776");
	EXPECT(f, "-ERR value is not an integer or out of range\r\n",
	       "PEXPIREAT", "k", "9223372036854775808");
	assert_int_equal(deadline_of(f, "k"), KV_NO_EXPIRE);

	/* The largest values that fit are accepted. */
	EXPECT(f, ":1\r\n", "EXPIREAT", "k", "9223372036854775");
	assert_int_equal(deadline_of(f, "k"), 9223372036854775000LL);
	EXPECT(f, ":1\r\n", "PEXPIREAT", "k", "9223372036854775807");
	EXPECT(f, ":9223372036854775807\r\n", "PEXPIRETIME", "k");
	EXPECT(f, ":9223372036854776\r\n", "EXPIRETIME", "k");
	EXPECT(f, ":9223370336854775807\r\n", "PTTL", "k");

	/* The lowest accepted ones delete. */
	EXPECT(f, ":1\r\n", "EXPIRE", "k", "-9223372036854775");
	assert_false(exists(f, "k"));
	set_key(f, "k", KV_NO_EXPIRE);
	EXPECT(f, ":1\r\n", "PEXPIRE", "k", "-9223372036854775808");
	assert_false(exists(f, "k"));
	set_key(f, "k", KV_NO_EXPIRE);
	EXPECT(f, ":1\r\n", "PEXPIREAT", "k", "-9223372036854775808");
	assert_false(exists(f, "k"));
}

static void test_cmd_keys_expire_units_and_bases(void **state)
{
	struct fixture *f = *state;
	set_key(f, "k", KV_NO_EXPIRE);
	EXPECT(f, ":1\r\n", "EXPIRE", "k", "100");
	assert_int_equal(deadline_of(f, "k"), NOW_MS + 100000);
	EXPECT(f, ":1\r\n", "PEXPIRE", "k", "1234");
	assert_int_equal(deadline_of(f, "k"), NOW_MS + 1234);
	EXPECT(f, ":1\r\n", "EXPIREAT", "k", "1800000000");
	assert_int_equal(deadline_of(f, "k"), 1800000000000LL);
	EXPECT(f, ":1\r\n", "PEXPIREAT", "k", "1800000000123");
	assert_int_equal(deadline_of(f, "k"), 1800000000123LL);
	/* Exactly now is already expired. */
	EXPECT(f, ":1\r\n", "PEXPIREAT", "k", "1700000000000");
	assert_false(exists(f, "k"));
	EXPECT(f, ":0\r\n", "PEXPIRE", "k", "100");
}

static void test_cmd_keys_ttl_family(void **state)
{
	struct fixture *f = *state;
	EXPECT(f, ":-2\r\n", "TTL", "nokey");
	EXPECT(f, ":-2\r\n", "PTTL", "nokey");
	EXPECT(f, ":-2\r\n", "EXPIRETIME", "nokey");
	EXPECT(f, ":-2\r\n", "PEXPIRETIME", "nokey");
	set_key(f, "k", KV_NO_EXPIRE);
	EXPECT(f, ":-1\r\n", "TTL", "k");
	EXPECT(f, ":-1\r\n", "PTTL", "k");
	EXPECT(f, ":-1\r\n", "EXPIRETIME", "k");
	EXPECT(f, ":-1\r\n", "PEXPIRETIME", "k");
	/* Seconds are rounded to the nearest, half up. */
	set_key(f, "k", NOW_MS + 1499);
	EXPECT(f, ":1\r\n", "TTL", "k");
	EXPECT(f, ":1499\r\n", "PTTL", "k");
	set_key(f, "k", NOW_MS + 1500);
	EXPECT(f, ":2\r\n", "TTL", "k");
	set_key(f, "k", 9999999999499LL);
	EXPECT(f, ":9999999999\r\n", "EXPIRETIME", "k");
	EXPECT(f, ":9999999999499\r\n", "PEXPIRETIME", "k");
	set_key(f, "k", 9999999999500LL);
	EXPECT(f, ":10000000000\r\n", "EXPIRETIME", "k");
	/* A key whose deadline passed is gone for every reader. */
	set_key(f, "k", NOW_MS);
	EXPECT(f, ":-2\r\n", "PTTL", "k");
}

static void test_cmd_keys_persist(void **state)
{
	struct fixture *f = *state;
	EXPECT(f, ":0\r\n", "PERSIST", "nokey");
	set_key(f, "k", NOW_MS + 5000);
	EXPECT(f, ":1\r\n", "PERSIST", "k");
	assert_int_equal(deadline_of(f, "k"), KV_NO_EXPIRE);
	EXPECT(f, ":0\r\n", "PERSIST", "k");
	EXPECT(f, ":-1\r\n", "TTL", "k");
}

/* ---- RENAME RENAMENX ---- */

static void test_cmd_keys_rename(void **state)
{
	struct fixture *f = *state;
	EXPECT(f, "-ERR no such key\r\n", "RENAME", "nokey", "x");
	EXPECT(f, "-ERR no such key\r\n", "RENAME", "nokey", "nokey");
	EXPECT(f, "-ERR no such key\r\n", "RENAMENX", "nokey", "x");

	/* Same name: nothing happens, but the key must exist. */
	set_key(f, "z", NOW_MS + 7000);
	EXPECT(f, "+OK\r\n", "RENAME", "z", "z");
	EXPECT(f, ":0\r\n", "RENAMENX", "z", "z");
	assert_int_equal(deadline_of(f, "z"), NOW_MS + 7000);

	/* The deadline travels with the value, across shards too. */
	char cur[16] = "z", next[16];
	for (int i = 0; i <= 20; i++) {
		if (i == 20)
			snprintf(next, sizeof(next), "z");
		else
			snprintf(next, sizeof(next), "dst%d", i);
		EXPECT(f, "+OK\r\n", "RENAME", cur, next);
		assert_false(exists(f, cur));
		assert_int_equal(deadline_of(f, next), NOW_MS + 7000);
		memcpy(cur, next, sizeof(cur));
	}
	assert_int_equal(total_keys(f), 1);

	/* RENAME replaces, RENAMENX refuses, an expired target does not count. */
	set_key(f, "a", KV_NO_EXPIRE);
	EXPECT(f, ":0\r\n", "RENAMENX", "z", "a");
	EXPECT(f, "+OK\r\n", "RENAME", "z", "a");
	assert_int_equal(deadline_of(f, "a"), NOW_MS + 7000);
	assert_int_equal(total_keys(f), 1);
	set_key(f, "dead", NOW_MS - 1);
	EXPECT(f, ":1\r\n", "RENAMENX", "a", "dead");
	assert_int_equal(deadline_of(f, "dead"), NOW_MS + 7000);
	assert_int_equal(total_keys(f), 1);

	/* An expired source is missing. */
	set_key(f, "old", NOW_MS - 1);
	EXPECT(f, "-ERR no such key\r\n", "RENAME", "old", "new");
}

/* ---- KEYS DBSIZE FLUSHDB FLUSHALL RANDOMKEY ---- */

static void test_cmd_keys_keys_pattern(void **state)
{
	struct fixture *f = *state;
	char *names[] = { "hello", "hallo", "hxllo", "heeello", "", "other", "h" };
	const size_t n = KV_ARRAY_LEN(names);
	unsigned seen[KV_ARRAY_LEN(names)];
	struct reply_reader r;

	for (size_t i = 0; i < n; i++)
		set_key(f, names[i], KV_NO_EXPIRE);
	set_key(f, "hexpired", NOW_MS);

	memset(seen, 0, sizeof(seen));
	r.p = RUN(f, "KEYS", "h?llo");
	read_key_array(&r, names, n, seen);
	assert_int_equal(*r.p, '\0');
	for (size_t i = 0; i < n; i++)
		assert_int_equal(seen[i], i < 3 ? 1 : 0);

	/* "*" matches the empty key (Redis's shortcut), "**" does not. */
	memset(seen, 0, sizeof(seen));
	r.p = RUN(f, "KEYS", "*");
	read_key_array(&r, names, n, seen);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(seen[i], 1);
	memset(seen, 0, sizeof(seen));
	r.p = RUN(f, "KEYS", "**");
	read_key_array(&r, names, n, seen);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(seen[i], i == 4 ? 0 : 1);

	EXPECT(f, "*0\r\n", "KEYS", "nomatch*");
	EXPECT(f, "*1\r\n$7\r\nheeello\r\n", "KEYS", "h*e*e*o");
}

static void test_cmd_keys_dbsize_and_flush(void **state)
{
	struct fixture *f = *state;
	EXPECT(f, ":0\r\n", "DBSIZE");
	for (int i = 0; i < 50; i++) {
		char k[16];
		snprintf(k, sizeof(k), "key:%d", i);
		set_key(f, k, KV_NO_EXPIRE);
	}
	EXPECT(f, ":50\r\n", "DBSIZE");
	EXPECT(f, "-ERR syntax error\r\n", "FLUSHDB", "foo");
	EXPECT(f, "-ERR syntax error\r\n", "FLUSHDB", "sync", "async");
	EXPECT(f, "-ERR syntax error\r\n", "FLUSHALL", "x");
	EXPECT(f, ":50\r\n", "DBSIZE");
	EXPECT(f, "+OK\r\n", "FLUSHDB", "async");
	EXPECT(f, ":0\r\n", "DBSIZE");
	set_key(f, "a", KV_NO_EXPIRE);
	EXPECT(f, "+OK\r\n", "FLUSHALL", "SYNC");
	EXPECT(f, ":0\r\n", "DBSIZE");
	set_key(f, "a", KV_NO_EXPIRE);
	EXPECT(f, "+OK\r\n", "FLUSHDB");
	EXPECT(f, "+OK\r\n", "FLUSHALL");
	EXPECT(f, ":0\r\n", "DBSIZE");
}

static void test_cmd_keys_randomkey(void **state)
{
	struct fixture *f = *state;
	char *names[] = { "a", "b", "c", "d", "e", "f", "g", "h" };
	unsigned seen[KV_ARRAY_LEN(names)] = { 0 };

	EXPECT(f, "$-1\r\n", "RANDOMKEY");
	set_key(f, "only", KV_NO_EXPIRE);
	EXPECT(f, "$4\r\nonly\r\n", "RANDOMKEY");
	db_delete(db_of(f, "only"), "only", 4);

	/* Only expired keys: nil, and they are reclaimed on the way. */
	set_key(f, "x", NOW_MS - 1);
	EXPECT(f, "$-1\r\n", "RANDOMKEY");

	for (size_t i = 0; i < KV_ARRAY_LEN(names); i++)
		set_key(f, names[i], KV_NO_EXPIRE);
	for (int i = 0; i < 2000; i++) {
		struct reply_reader r = { RUN(f, "RANDOMKEY") };
		char *k = read_bulk(&r);
		size_t j;
		for (j = 0; j < KV_ARRAY_LEN(names); j++)
			if (strcmp(names[j], k) == 0)
				break;
		assert_true(j < KV_ARRAY_LEN(names));
		seen[j]++;
		free(k);
	}
	/* Uniform over keys whatever shard holds them: 250 expected each. */
	for (size_t j = 0; j < KV_ARRAY_LEN(names); j++)
		assert_true(seen[j] > 100);
}

/* ---- SCAN ---- */

static void test_cmd_keys_scan_errors(void **state)
{
	struct fixture *f = *state;
	set_key(f, "a", KV_NO_EXPIRE);
	EXPECT(f, "-ERR invalid cursor\r\n", "SCAN", "abc");
	EXPECT(f, "-ERR invalid cursor\r\n", "SCAN", " 0");
	EXPECT(f, "-ERR invalid cursor\r\n", "SCAN", "0x");
	EXPECT(f, "-ERR invalid cursor\r\n", "SCAN", "18446744073709551616");
	EXPECT(f, "-ERR invalid cursor\r\n", "SCAN", "-");
	/* The cursor is checked before the options. */
	EXPECT(f, "-ERR invalid cursor\r\n", "SCAN", "abc", "COUNT", "0");
	EXPECT(f, "-ERR syntax error\r\n", "SCAN", "0", "COUNT");
	EXPECT(f, "-ERR syntax error\r\n", "SCAN", "0", "COUNT", "0");
	EXPECT(f, "-ERR syntax error\r\n", "SCAN", "0", "COUNT", "-1");
	EXPECT(f, "-ERR value is not an integer or out of range\r\n",
	       "SCAN", "0", "COUNT", "abc");
	EXPECT(f, "-ERR value is not an integer or out of range\r\n",
	       "SCAN", "0", "COUNT", "abc", "MATCH");
	EXPECT(f, "-ERR value is not an integer or out of range\r\n",
	       "SCAN", "0", "COUNT", "9223372036854775808");
	EXPECT(f, "-ERR syntax error\r\n", "SCAN", "0", "MATCH");
	EXPECT(f, "-ERR syntax error\r\n", "SCAN", "0", "MATCH", "a", "COUNT");
	EXPECT(f, "-ERR syntax error\r\n", "SCAN", "0", "TYPE");
	EXPECT(f, "-ERR syntax error\r\n", "SCAN", "0", "FOO", "bar");
}

/* One shard: the cursor is the table's own, and replies look exactly like
 * Redis's. */
static void test_cmd_keys_scan_one_shard_replies(void **state)
{
	struct fixture *f = *state;
	EXPECT(f, "*2\r\n$1\r\n0\r\n*0\r\n", "SCAN", "0");
	set_key(f, "a", KV_NO_EXPIRE);
	EXPECT(f, "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n", "SCAN", "0");
	/* strtoul() forms Redis accepts as cursor 0. */
	EXPECT(f, "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n", "SCAN", "");
	EXPECT(f, "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n", "SCAN", "+0");
	EXPECT(f, "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n", "SCAN", "-0");
	EXPECT(f, "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n", "SCAN", "000");
	/* ... and stops at an embedded NUL, as Redis does. */
	struct kv_slice nul[2] = { { "SCAN", 4 }, { "0\0zz", 4 } };
	assert_string_equal(run_argv(f, 2, nul), "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n");

	EXPECT(f, "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n", "SCAN", "0", "MATCH", "a");
	EXPECT(f, "*2\r\n$1\r\n0\r\n*0\r\n", "SCAN", "0", "MATCH", "b*");
	EXPECT(f, "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n", "SCAN", "0", "TYPE", "string");
	EXPECT(f, "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n", "SCAN", "0", "type", "STRING");
	EXPECT(f, "*2\r\n$1\r\n0\r\n*0\r\n", "SCAN", "0", "TYPE", "list");
	/* Redis 7.0 accepts unknown type names and matches nothing. */
	EXPECT(f, "*2\r\n$1\r\n0\r\n*0\r\n", "SCAN", "0", "TYPE", "foo");
	EXPECT(f, "*2\r\n$1\r\n0\r\n*0\r\n", "SCAN", "0", "TYPE", "none");
	EXPECT(f, "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n",
	       "SCAN", "0", "COUNT", "9223372036854775807", "MATCH", "*", "TYPE", "string");

	/* MATCH "*" lets the empty key through; "**" does not. */
	db_delete(db_of(f, "a"), "a", 1);
	set_key(f, "", KV_NO_EXPIRE);
	EXPECT(f, "*2\r\n$1\r\n0\r\n*1\r\n$0\r\n\r\n", "SCAN", "0", "MATCH", "*");
	EXPECT(f, "*2\r\n$1\r\n0\r\n*0\r\n", "SCAN", "0", "MATCH", "**");
}

static void test_cmd_keys_scan_route_decodes_shard(void **state)
{
	struct fixture *f = *state;
	const struct kv_command *scan = cmd_lookup("scan", 4);
	assert_non_null(scan->route);
	struct kv_slice argv[2] = { { "SCAN", 4 }, { "0", 1 } };

	assert_int_equal(scan->route(2, argv, f->nshards), 0);
	argv[1] = (struct kv_slice){ "5", 1 };
	assert_int_equal(scan->route(2, argv, f->nshards), 5 % f->nshards);
	argv[1] = (struct kv_slice){ "-1", 2 };   /* 2^64 - 1 */
	assert_int_equal(scan->route(2, argv, f->nshards), UINT64_MAX % f->nshards);
	argv[1] = (struct kv_slice){ "junk", 4 };
	assert_int_equal(scan->route(2, argv, f->nshards), 0);
}

/* One SCAN call: appends the keys to seen, returns the next cursor. */
static uint64_t scan_step(struct fixture *f, uint64_t cursor, const char *count,
			  char **keys, size_t nkeys, unsigned *seen)
{
	char cur[32];
	snprintf(cur, sizeof(cur), "%llu", (unsigned long long)cursor);
	struct reply_reader r = { RUN(f, "SCAN", cur, "COUNT", count) };
	assert_int_equal(read_header(&r, '*'), 2);
	char *next = read_bulk(&r);
	uint64_t v = strtoull(next, NULL, 10);
	free(next);
	read_key_array(&r, keys, nkeys, seen);
	assert_int_equal(*r.p, '\0');
	return v;
}

static char **make_names(const char *prefix, size_t n)
{
	char **v = calloc(n, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		char buf[32];
		snprintf(buf, sizeof(buf), "%s:%zu", prefix, i);
		v[i] = kv_strndup(buf, strlen(buf));
	}
	return v;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Every key is returned once by a walk over an unchanging keyspace, and the
 * walk visits the shards in order: cursors of shard s are ≡ s mod nshards. */
static void test_cmd_keys_scan_full_walk(void **state)
{
	struct fixture *f = *state;
	const size_t n = 1000;
	char **names = make_names("k", n);
	unsigned *seen = calloc(n, sizeof(*seen));
	uint64_t cursor = 0, last_shard = 0;
	int calls = 0;

	for (size_t i = 0; i < n; i++)
		set_key(f, names[i], KV_NO_EXPIRE);
	do {
		cursor = scan_step(f, cursor, "7", names, n, seen);
		if (cursor != 0) {
			assert_true(cursor % f->nshards >= last_shard);
			last_shard = cursor % f->nshards;
		}
		assert_true(++calls < 10000);
	} while (cursor != 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(seen[i], 1);
	free(seen);
	free_names(names, n);
}

/* SCAN's guarantee while the table grows (rehashing on every shard) and
 * other keys come and go: every key present for the whole walk is returned
 * at least once. */
static void test_cmd_keys_scan_table_grows_during_walk(void **state)
{
	struct fixture *f = *state;
	const size_t nstable = 300, nnew = 3000;
	char **stable = make_names("stable", nstable);
	char **added = make_names("new", nnew);
	char **all = calloc(nstable + nnew, sizeof(*all));
	unsigned *seen = calloc(nstable + nnew, sizeof(*seen));
	uint64_t cursor = 0;
	size_t next_new = 0;
	int calls = 0;

	memcpy(all, stable, nstable * sizeof(*all));
	memcpy(all + nstable, added, nnew * sizeof(*all));
	for (size_t i = 0; i < nstable; i++)
		set_key(f, stable[i], KV_NO_EXPIRE);
	do {
		cursor = scan_step(f, cursor, "5", all, nstable + nnew, seen);
		/* Grow by 40 keys per call, and delete some added ones. */
		for (int j = 0; j < 40 && next_new < nnew; j++, next_new++) {
			set_key(f, added[next_new], KV_NO_EXPIRE);
			if (next_new % 3 == 0 && next_new >= 10)
				db_delete(db_of(f, added[next_new - 10]),
					  added[next_new - 10], strlen(added[next_new - 10]));
		}
		assert_true(++calls < 100000);
	} while (cursor != 0);
	for (size_t i = 0; i < nstable; i++)
		if (seen[i] == 0)
			fail_msg("%s was present throughout but never returned", stable[i]);
	free(seen);
	free(all);
	free_names(stable, nstable);
	free_names(added, nnew);
}

/* ---- the table ---- */

struct meta {
	const char *name;
	int arity;
	uint32_t flags;
	int first, last, step;
	const char *group, *since;
};

/* From COMMAND INFO / COMMAND DOCS on redis-server 7.0.15, plus kevy's
 * CMD_ALL_SHARDS on the whole-keyspace commands. */
static const struct meta metas[] = {
	{ "del", -2, CMD_WRITE, 1, -1, 1, "generic", "1.0.0" },
	{ "unlink", -2, CMD_WRITE | CMD_FAST, 1, -1, 1, "generic", "4.0.0" },
	{ "exists", -2, CMD_READONLY | CMD_FAST, 1, -1, 1, "generic", "1.0.0" },
	{ "touch", -2, CMD_READONLY | CMD_FAST, 1, -1, 1, "generic", "3.2.1" },
	{ "type", 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "generic", "1.0.0" },
	{ "expire", -3, CMD_WRITE | CMD_FAST, 1, 1, 1, "generic", "1.0.0" },
	{ "pexpire", -3, CMD_WRITE | CMD_FAST, 1, 1, 1, "generic", "2.6.0" },
	{ "expireat", -3, CMD_WRITE | CMD_FAST, 1, 1, 1, "generic", "1.2.0" },
	{ "pexpireat", -3, CMD_WRITE | CMD_FAST, 1, 1, 1, "generic", "2.6.0" },
	{ "ttl", 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "generic", "1.0.0" },
	{ "pttl", 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "generic", "2.6.0" },
	{ "expiretime", 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "generic", "7.0.0" },
	{ "pexpiretime", 2, CMD_READONLY | CMD_FAST, 1, 1, 1, "generic", "7.0.0" },
	{ "persist", 2, CMD_WRITE | CMD_FAST, 1, 1, 1, "generic", "2.2.0" },
	{ "rename", 3, CMD_WRITE, 1, 2, 1, "generic", "1.0.0" },
	{ "renamenx", 3, CMD_WRITE | CMD_FAST, 1, 2, 1, "generic", "1.0.0" },
	{ "keys", 2, CMD_READONLY | CMD_ALL_SHARDS, 0, 0, 0, "generic", "1.0.0" },
	{ "scan", -2, CMD_READONLY, 0, 0, 0, "generic", "2.8.0" },
	{ "randomkey", 1, CMD_READONLY | CMD_ALL_SHARDS, 0, 0, 0, "generic", "1.0.0" },
	{ "dbsize", 1, CMD_READONLY | CMD_FAST | CMD_ALL_SHARDS, 0, 0, 0, "server", "1.0.0" },
	{ "flushdb", -1, CMD_WRITE | CMD_ALL_SHARDS, 0, 0, 0, "server", "1.0.0" },
	{ "flushall", -1, CMD_WRITE | CMD_ALL_SHARDS, 0, 0, 0, "server", "1.0.0" },
	{ "swapdb", 3, CMD_WRITE | CMD_FAST | CMD_ALL_SHARDS, 0, 0, 0, "server", "4.0.0" },
	{ "move", 3, CMD_WRITE | CMD_FAST, 1, 1, 1, "generic", "1.0.0" },
};

static void test_cmd_keys_table_matches_redis(void **state)
{
	(void)state;
	size_t n = 0;
	for (const struct kv_command *c = cmd_table_keys; c->name; c++)
		n++;
	assert_int_equal(n, KV_ARRAY_LEN(metas));
	for (size_t i = 0; i < KV_ARRAY_LEN(metas); i++) {
		const struct meta *m = &metas[i];
		const struct kv_command *c = cmd_lookup(m->name, strlen(m->name));
		assert_non_null(c);
		assert_string_equal(c->name, m->name);
		assert_int_equal(c->arity, m->arity);
		assert_int_equal(c->flags, m->flags);
		assert_int_equal(c->first_key, m->first);
		assert_int_equal(c->last_key, m->last);
		assert_int_equal(c->key_step, m->step);
		assert_string_equal(c->group, m->group);
		assert_string_equal(c->since, m->since);
		assert_non_null(c->summary);
		assert_non_null(c->complexity);
		assert_true((c->route != NULL) == (strcmp(m->name, "scan") == 0));
	}
}

#define T1(fn) cmocka_unit_test_setup_teardown(fn, setup1, fixture_teardown)
#define T3(fn) cmocka_unit_test_setup_teardown(fn, setup3, fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T1(test_cmd_keys_table_matches_redis),
		T1(test_cmd_keys_del_counts_deleted_keys),
		T3(test_cmd_keys_del_counts_deleted_keys),
		T1(test_cmd_keys_del_expired_key_answers_zero),
		T3(test_cmd_keys_exists_counts_repeats),
		T1(test_cmd_keys_type),
		T1(test_cmd_keys_expire_options_matrix),
		T3(test_cmd_keys_expire_options_matrix),
		T1(test_cmd_keys_expire_invalid_time),
		T1(test_cmd_keys_expire_units_and_bases),
		T3(test_cmd_keys_ttl_family),
		T1(test_cmd_keys_persist),
		T1(test_cmd_keys_rename),
		T3(test_cmd_keys_rename),
		T1(test_cmd_keys_keys_pattern),
		T3(test_cmd_keys_keys_pattern),
		T3(test_cmd_keys_dbsize_and_flush),
		T1(test_cmd_keys_randomkey),
		T3(test_cmd_keys_randomkey),
		T1(test_cmd_keys_scan_errors),
		T3(test_cmd_keys_scan_errors),
		T1(test_cmd_keys_scan_one_shard_replies),
		T3(test_cmd_keys_scan_route_decodes_shard),
		T1(test_cmd_keys_scan_full_walk),
		T3(test_cmd_keys_scan_full_walk),
		T1(test_cmd_keys_scan_table_grows_during_walk),
		T3(test_cmd_keys_scan_table_grows_during_walk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
