/*
 * test_cmd_debug.c - DEBUG DIGEST is equal for equal datasets (whatever the
 * insertion order, member order, encodings or shard count) and changes with
 * any value, deadline, type or key name; DEBUG POPULATE creates the keys and
 * values Redis 7.0.15 creates; OBJECT and DEBUG answer Redis's replies and
 * errors (expected bytes taken from redis-server 7.0.15).
 *
 * Handlers run through cmd_lookup() on hand-built struct cmd_ctx values with
 * no runtime around them, on one shard and on three.
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
#include "commands/cmd_debug.h"
#include "cmd_fixture.h"
#include "base/kv.h"
#include "store/store.h"
#include "store/encoding.h"

#define ZERO_DIGEST "+0000000000000000000000000000000000000000\r\n"

/* Every fixture here answers a wrong argument count with the runtime's
 * arity error (OBJECT and DEBUG tests check those replies). */
static struct fixture *fixture_arity_new(uint32_t nshards)
{
	struct fixture *f = fixture_new(nshards);
	f->reply_arity = true;
	return f;
}

static int setup1(void **state)
{
	cmd_table_init();
	*state = fixture_arity_new(1);
	return 0;
}

static int setup3(void **state)
{
	cmd_table_init();
	*state = fixture_arity_new(3);
	return 0;
}

#define RUN(f, ...) run((f), __VA_ARGS__, (const char *)NULL)
#define EXPECT(f, reply, ...) assert_string_equal(RUN((f), __VA_ARGS__), (reply))

/* DEBUG DIGEST's reply, copied. */
static void digest_of(struct fixture *f, char out[64])
{
	const char *r = RUN(f, "DEBUG", "DIGEST");
	assert_int_equal(strlen(r), 43);
	assert_true(r[0] == '+');
	snprintf(out, 64, "%s", r);
}

/* ---- a dataset of every type, loadable in two different orders ---- */

/* One command per key, so any order of the commands is the same dataset;
 * `alt` variants list members/fields in another order. */
static const char *const dataset[][MAX_ARGS] = {
	{ "SET", "str", "hello", NULL },
	{ "SET", "int", "12345", NULL },
	{ "SET", "{t}ttl", "x", NULL },
	{ "PEXPIREAT", "{t}ttl", "1800000000000", NULL },
	{ "RPUSH", "list", "a", "b", "c", "1", NULL },
	{ "SADD", "set", "x", "y", "z", "17", NULL },
	{ "SADD", "iset", "3", "1", "2", NULL },
	{ "HSET", "hash", "f1", "v1", "f2", "v2", "f3", "v3", NULL },
	{ "ZADD", "zset", "1", "a", "2", "b", "2", "c", "-0", "d", NULL },
};
static const char *const dataset_alt[][MAX_ARGS] = {
	{ "ZADD", "zset", "2", "c", "-0", "d", "2", "b", "1", "a", NULL },
	{ "HSET", "hash", "f3", "v3", "f1", "v1", "f2", "v2", NULL },
	{ "SADD", "iset", "2", "3", "1", NULL },
	{ "SADD", "set", "17", "z", "x", "y", NULL },
	{ "RPUSH", "list", "a", "b", "c", "1", NULL },
	{ "SET", "{t}ttl", "x", NULL },
	{ "PEXPIREAT", "{t}ttl", "1800000000000", NULL },
	{ "SET", "int", "12345", NULL },
	{ "SET", "str", "hello", NULL },
};

static void run_list(struct fixture *f, const char *const *words)
{
	struct kv_slice argv[MAX_ARGS];
	int argc = 0;
	for (; words[argc]; argc++) {
		argv[argc].ptr = words[argc];
		argv[argc].len = strlen(words[argc]);
	}
	const char *r = run_argv(f, argc, argv);
	assert_true(r[0] != '-');
}

static void load(struct fixture *f, const char *const (*cmds)[MAX_ARGS], size_t n)
{
	for (size_t i = 0; i < n; i++)
		run_list(f, cmds[i]);
}

static void load_base(struct fixture *f)
{
	load(f, dataset, KV_ARRAY_LEN(dataset));
}

/* ---- DEBUG DIGEST ---- */

static void test_cmd_debug_digest_empty_is_zero(void **state)
{
	struct fixture *f = *state;
	EXPECT(f, ZERO_DIGEST, "DEBUG", "DIGEST");
	RUN(f, "SET", "a", "1");
	assert_string_not_equal(RUN(f, "DEBUG", "DIGEST"), ZERO_DIGEST);
	RUN(f, "DEL", "a");
	EXPECT(f, ZERO_DIGEST, "DEBUG", "DIGEST");
}

/* Same data on 1 and 3 shards, loaded in different orders: same digest. */
static void test_cmd_debug_digest_order_and_shards(void **state)
{
	(void)state;
	struct fixture *a = fixture_arity_new(1), *b = fixture_arity_new(3);
	char da[64], db[64];

	load(a, dataset, KV_ARRAY_LEN(dataset));
	load(b, dataset_alt, KV_ARRAY_LEN(dataset_alt));
	digest_of(a, da);
	digest_of(b, db);
	assert_string_equal(da, db);

	/* Many keys (tables grow and rehash), inserted in opposite orders. */
	char key[32];
	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		RUN(a, "SET", key, key);
		snprintf(key, sizeof(key), "k%d", 1999 - i);
		RUN(b, "SET", key, key);
	}
	digest_of(a, da);
	digest_of(b, db);
	assert_string_equal(da, db);
	fixture_free(a);
	fixture_free(b);
}

/* The digest is of the contents, not the encoding: a set or hash that grew
 * to a table and shrank back digests as the compact one. */
static void test_cmd_debug_digest_encoding_independent(void **state)
{
	(void)state;
	struct fixture *a = fixture_arity_new(1), *b = fixture_arity_new(1);
	char da[64], db[64], m[16];

	RUN(a, "SADD", "s", "1", "2", "3");
	RUN(a, "HSET", "h", "f", "v");
	RUN(a, "ZADD", "z", "1", "a");
	for (int i = 0; i < 600; i++) {
		snprintf(m, sizeof(m), "m%d", i);
		RUN(b, "SADD", "s", m);
		RUN(b, "HSET", "h", m, "x");
		RUN(b, "ZADD", "z", "5", m);
	}
	RUN(b, "SADD", "s", "1", "2", "3");
	RUN(b, "HSET", "h", "f", "v");
	RUN(b, "ZADD", "z", "1", "a");
	for (int i = 0; i < 600; i++) {
		snprintf(m, sizeof(m), "m%d", i);
		RUN(b, "SREM", "s", m);
		RUN(b, "HDEL", "h", m);
		RUN(b, "ZREM", "z", m);
	}
	assert_string_equal(RUN(a, "OBJECT", "ENCODING", "s"), "$6\r\nintset\r\n");
	assert_string_equal(RUN(b, "OBJECT", "ENCODING", "s"), "$9\r\nhashtable\r\n");
	assert_string_equal(RUN(b, "OBJECT", "ENCODING", "h"), "$9\r\nhashtable\r\n");
	assert_string_equal(RUN(b, "OBJECT", "ENCODING", "z"), "$8\r\nskiplist\r\n");
	digest_of(a, da);
	digest_of(b, db);
	assert_string_equal(da, db);
	fixture_free(a);
	fixture_free(b);
}

/* Each variant differs from the base dataset in one thing; every digest must
 * differ from the base and from every other variant. */
static const char *const variants[][3][MAX_ARGS] = {
	{ { "SET", "str", "hellO", NULL } },                      /* string byte */
	{ { "APPEND", "str", "!", NULL } },                       /* string length */
	{ { "SET", "int", "12346", NULL } },
	{ { "PEXPIREAT", "{t}ttl", "1800000000001", NULL } },     /* deadline */
	{ { "PERSIST", "{t}ttl", NULL } },                        /* no deadline */
	{ { "PEXPIREAT", "str", "1800000000000", NULL } },        /* deadline added */
	{ { "LSET", "list", "0", "b", NULL }, { "LSET", "list", "1", "a", NULL } }, /* order */
	{ { "RPUSH", "list", "", NULL } },                        /* extra empty elem */
	{ { "LSET", "list", "3", "2", NULL } },                   /* int element */
	{ { "SADD", "set", "w", NULL } },
	{ { "SREM", "set", "x", NULL }, { "SADD", "set", "X", NULL } },
	{ { "SREM", "iset", "3", NULL } },
	{ { "HSET", "hash", "f1", "v2", NULL } },                 /* hash value */
	{ { "HDEL", "hash", "f1", NULL }, { "HSET", "hash", "f4", "v1", NULL } }, /* field */
	{ { "HDEL", "hash", "f1", "f2", NULL }, { "HSET", "hash", "f1v", "1", "f2", "v2", NULL } },
	{ { "ZADD", "zset", "1.5", "a", NULL } },                 /* score */
	{ { "ZADD", "zset", "2", "a", "1", "b", NULL } },         /* scores swapped */
	{ { "RENAME", "str", "str2", NULL } },                    /* key name */
	{ { "DEL", "str", NULL }, { "RPUSH", "str", "hello", NULL } }, /* type */
	{ { "DEL", "str", NULL }, { "SADD", "str", "hello", NULL } },
	{ { "DEL", "list", NULL }, { "ZADD", "list", "0", "a", "0", "b", "0", "c", "0", "1", NULL } },
	{ { "DEL", "iset", NULL } },
	{ { "SET", "extra", "", NULL } },
};

static void test_cmd_debug_digest_detects_changes(void **state)
{
	uint32_t nshards = (uint32_t)(uintptr_t)*state;
	size_t n = KV_ARRAY_LEN(variants);
	char (*d)[64] = calloc(n + 1, 64);

	struct fixture *f = fixture_arity_new(nshards);
	load_base(f);
	digest_of(f, d[n]);
	fixture_free(f);
	for (size_t v = 0; v < n; v++) {
		f = fixture_arity_new(nshards);
		load_base(f);
		for (int j = 0; j < 3 && variants[v][j][0]; j++)
			run_list(f, variants[v][j]);
		digest_of(f, d[v]);
		fixture_free(f);
		for (size_t w = 0; w < v; w++)
			if (strcmp(d[v], d[w]) == 0)
				fail_msg("variants %zu and %zu have the same digest", w, v);
		if (strcmp(d[v], d[n]) == 0)
			fail_msg("variant %zu has the base dataset's digest", v);
	}
	free(d);
}

/* An expired key is not part of the dataset (and DEBUG does not delete it). */
static void test_cmd_debug_digest_skips_expired(void **state)
{
	struct fixture *f = *state;
	char before[64], after[64];

	load_base(f);
	digest_of(f, before);
	RUN(f, "SET", "gone", "v");
	RUN(f, "PEXPIREAT", "gone", "1700000001000");
	f->now_ms = NOW_MS + 1000;
	digest_of(f, after);
	assert_string_equal(before, after);
	EXPECT(f, "*1\r\n" ZERO_DIGEST, "DEBUG", "DIGEST-VALUE", "gone");
	f->now_ms = NOW_MS;
	EXPECT(f, ":1\r\n", "EXISTS", "gone");
}

static void test_cmd_debug_digest_value(void **state)
{
	struct fixture *f = *state;

	EXPECT(f, "*0\r\n", "DEBUG", "DIGEST-VALUE");
	EXPECT(f, "*1\r\n" ZERO_DIGEST, "DEBUG", "DIGEST-VALUE", "nokey");
	RUN(f, "RPUSH", "a", "x", "y");
	RUN(f, "RPUSH", "b", "x", "y");
	RUN(f, "RPUSH", "c", "y", "x");
	char ra[128];
	snprintf(ra, sizeof(ra), "%s", RUN(f, "DEBUG", "DIGEST-VALUE", "a"));
	assert_int_equal(strlen(ra), 4 + 43);
	assert_string_not_equal(ra, "*1\r\n" ZERO_DIGEST);
	/* The name is not part of a value digest; order and deadline are. */
	EXPECT(f, ra, "DEBUG", "DIGEST-VALUE", "b");
	assert_string_not_equal(RUN(f, "DEBUG", "DIGEST-VALUE", "c"), ra);
	RUN(f, "PEXPIREAT", "b", "1800000000000");
	assert_string_not_equal(RUN(f, "DEBUG", "DIGEST-VALUE", "b"), ra);
	const char *r = RUN(f, "DEBUG", "DIGEST-VALUE", "a", "nokey", "a");
	assert_int_equal(strlen(r), 4 + 3 * 43);
	assert_memory_equal(r + 4 + 43, ZERO_DIGEST, 43);
	assert_memory_equal(r + 4, r + 4 + 86, 43);
}

/* ---- DEBUG POPULATE (expected values from redis-server 7.0.15) ---- */

static void test_cmd_debug_populate(void **state)
{
	struct fixture *f = *state;

	EXPECT(f, "+OK\r\n", "DEBUG", "POPULATE", "0");
	EXPECT(f, "*0\r\n", "KEYS", "*");
	EXPECT(f, "+OK\r\n", "DEBUG", "POPULATE", "3");
	EXPECT(f, "*3\r\n$7\r\nvalue:0\r\n$7\r\nvalue:1\r\n$7\r\nvalue:2\r\n",
	       "MGET", "key:0", "key:1", "key:2");
	EXPECT(f, ":3\r\n", "DBSIZE");

	/* size pads with zero bytes or cuts; 0 means "no size". */
	EXPECT(f, "+OK\r\n", "DEBUG", "POPULATE", "2", "pad", "10");
	const char *r = RUN(f, "MGET", "pad:0", "pad:1");
	assert_memory_equal(r, "*2\r\n$10\r\nvalue:0\0\0\0\r\n$10\r\nvalue:1\0\0\0\r\n", 38);
	EXPECT(f, "+OK\r\n", "DEBUG", "POPULATE", "2", "cut", "3");
	EXPECT(f, "*2\r\n$3\r\nval\r\n$3\r\nval\r\n", "MGET", "cut:0", "cut:1");
	EXPECT(f, "+OK\r\n", "DEBUG", "POPULATE", "1", "zero", "0");
	EXPECT(f, "$7\r\nvalue:0\r\n", "GET", "zero:0");
	EXPECT(f, "+OK\r\n", "DEBUG", "POPULATE", "1", "", "0");
	EXPECT(f, "$7\r\nvalue:0\r\n", "GET", ":0");

	/* Existing keys (of any type) are skipped. */
	RUN(f, "SET", "key:0", "other");
	RUN(f, "DEL", "key:1");
	RUN(f, "RPUSH", "key:3", "l");
	EXPECT(f, "+OK\r\n", "DEBUG", "POPULATE", "5");
	EXPECT(f, "*5\r\n$5\r\nother\r\n$7\r\nvalue:1\r\n$7\r\nvalue:2\r\n$-1\r\n$7\r\nvalue:4\r\n",
	       "MGET", "key:0", "key:1", "key:2", "key:3", "key:4");

	/* Errors: one text for a bad number and a negative one; the count is
	 * checked before the size. */
	const char *range = "-ERR value is out of range, must be positive\r\n";
	EXPECT(f, range, "DEBUG", "POPULATE", "-1");
	EXPECT(f, range, "DEBUG", "POPULATE", "abc");
	EXPECT(f, range, "DEBUG", "POPULATE", "01", "q");
	EXPECT(f, range, "DEBUG", "POPULATE", "+5");
	EXPECT(f, range, "DEBUG", "POPULATE", "1", "x", "-1");
	EXPECT(f, range, "DEBUG", "POPULATE", "-1", "x", "abc");
	EXPECT(f, "-ERR unknown subcommand or wrong number of arguments for 'populate'. "
		  "Try DEBUG HELP.\r\n", "DEBUG", "populate", "1", "y", "1", "2");
	EXPECT(f, "-ERR OOM in dictTryExpand\r\n", "DEBUG", "POPULATE", "99999999999999999");
	EXPECT(f, "*0\r\n", "KEYS", "x:*");
}

/* Names are built in a 128-byte buffer: a long prefix is cut to 127 bytes
 * (so two indexes can name one key), a NUL ends the prefix. */
static void test_cmd_debug_populate_names(void **state)
{
	struct fixture *f = *state;
	char prefix[131];
	memset(prefix, 'z', 130);
	prefix[130] = '\0';
	EXPECT(f, "+OK\r\n", "DEBUG", "POPULATE", "2", prefix);
	EXPECT(f, ":1\r\n", "DBSIZE");
	prefix[127] = '\0';
	EXPECT(f, ":1\r\n", "EXISTS", prefix);

	struct kv_slice argv[] = {
		{ "DEBUG", 5 }, { "POPULATE", 8 }, { "1", 1 }, { "a\0b", 3 },
	};
	EXPECT(f, "+OK\r\n", "FLUSHALL");
	assert_string_equal(run_argv(f, 4, argv), "+OK\r\n");
	EXPECT(f, "*1\r\n$3\r\na:0\r\n", "KEYS", "*");
}

/* ---- DEBUG HELP, SLEEP, unknown subcommands ---- */

static void test_cmd_debug_misc(void **state)
{
	struct fixture *f = *state;

	const char *r = RUN(f, "DEBUG", "HELP");
	const char *head = "*48\r\n+DEBUG <subcommand> [<arg> [value] [opt] ...]. "
			   "Subcommands are:\r\n+DIGEST\r\n";
	assert_true(strncmp(r, head, strlen(head)) == 0);
	EXPECT(f, "+OK\r\n", "DEBUG", "SLEEP", "0");
	/* PROTOCOL: each type, RESP2's form here and RESP3's frame after. */
	EXPECT(f, "$5\r\n3.141\r\n", "DEBUG", "PROTOCOL", "double");
	EXPECT(f, "*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n", "DEBUG", "PROTOCOL", "map");
	EXPECT(f, "$39\r\nSome real reply following the attribute\r\n", "DEBUG", "PROTOCOL",
	       "attrib");
	EXPECT(f, "-ERR RESP2 is not supported by this command\r\n", "DEBUG", "PROTOCOL", "push");
	EXPECT(f, "$25\r\nThis is a verbatim\nstring\r\n", "DEBUG", "PROTOCOL", "verbatim");
	f->out.proto = RESP_PROTO_3;
	EXPECT(f, ",3.141\r\n", "DEBUG", "PROTOCOL", "double");
	EXPECT(f, "%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n", "DEBUG", "PROTOCOL", "map");
	EXPECT(f, "~3\r\n:0\r\n:1\r\n:2\r\n", "DEBUG", "PROTOCOL", "set");
	EXPECT(f, "_\r\n", "DEBUG", "PROTOCOL", "null");
	EXPECT(f, "(1234567999999999999999999999999999999\r\n", "DEBUG", "PROTOCOL", "bignum");
	EXPECT(f, "=29\r\ntxt:This is a verbatim\nstring\r\n", "DEBUG", "PROTOCOL", "verbatim");
	EXPECT(f, ">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n"
		  "$40\r\nSome real reply following the push reply\r\n", "DEBUG", "PROTOCOL", "push");
	f->out.proto = 0;
	/* FAILPOINTS: a valid spec, a cleared one, a malformed one. */
	EXPECT(f, "+OK\r\n", "DEBUG", "FAILPOINTS", "write:1000000=eio");
	EXPECT(f, "+OK\r\n", "DEBUG", "FAILPOINTS", "");
	EXPECT(f, "-ERR invalid failpoint spec (grammar: docs/io.md)\r\n", "DEBUG", "FAILPOINTS",
	       "write:zero=eio");
	EXPECT(f, "+OK\r\n", "debug", "sleep", "abc");
	EXPECT(f, "+OK\r\n", "DEBUG", "SLEEP", "-5");
	EXPECT(f, "+OK\r\n", "DEBUG", "SLEEP", "0.001");
	EXPECT(f, "-ERR unknown subcommand or wrong number of arguments for 'sleep'. "
		  "Try DEBUG HELP.\r\n", "DEBUG", "sleep");
	EXPECT(f, "-ERR unknown subcommand or wrong number of arguments for 'jmap'. "
		  "Try DEBUG HELP.\r\n", "DEBUG", "jmap");
	EXPECT(f, "-ERR unknown subcommand or wrong number of arguments for 'Foo'. "
		  "Try DEBUG HELP.\r\n", "Debug", "Foo");
	EXPECT(f, "-ERR unknown subcommand or wrong number of arguments for 'digest'. "
		  "Try DEBUG HELP.\r\n", "DEBUG", "digest", "x");
	EXPECT(f, "-ERR unknown subcommand or wrong number of arguments for 'help'. "
		  "Try DEBUG HELP.\r\n", "DEBUG", "help", "x");
	EXPECT(f, "-ERR wrong number of arguments for 'debug' command\r\n", "DEBUG");
}

/* ---- DEBUG OBJECT, the switches, the threshold, ERROR, RELOAD's options ---- */

static void test_cmd_debug_object_and_switches(void **state)
{
	struct fixture *f = *state;
	EXPECT(f, "-ERR no such key\r\n", "DEBUG", "OBJECT", "nokey");
	RUN(f, "SET", "s", "12345");
	const char *r = RUN(f, "DEBUG", "OBJECT", "s");
	assert_true(strncmp(r, "+Value at:0x", 12) == 0);
	/* "12345" is an int; its RDB encoding is 3 bytes (C1 + 2-byte LE). */
	assert_non_null(strstr(r, " refcount:1 encoding:int serializedlength:3 lru:"));
	assert_null(strstr(r, "ql_nodes"));
	RUN(f, "RPUSH", "l", "a", "b");
	r = RUN(f, "DEBUG", "OBJECT", "l");
	assert_non_null(strstr(r, " encoding:quicklist "));
	assert_non_null(strstr(r, " ql_nodes:1 ql_avg_node:2.00 ql_listpack_max:-2 "
				  "ql_compressed:0 ql_uncompressed_size:"));

	EXPECT(f, "+OK\r\n", "DEBUG", "SET-ACTIVE-EXPIRE", "0");
	assert_int_equal(atomic_load(&g_debug.active_expire), 0);
	EXPECT(f, "+OK\r\n", "DEBUG", "set-active-expire", " 12abc");
	assert_int_equal(atomic_load(&g_debug.active_expire), 12);
	EXPECT(f, "+OK\r\n", "DEBUG", "SET-ACTIVE-EXPIRE", "1");
	EXPECT(f, "+OK\r\n", "DEBUG", "PAUSE-CRON", "1");
	assert_int_equal(atomic_load(&g_debug.pause_cron), 1);
	EXPECT(f, "+OK\r\n", "DEBUG", "PAUSE-CRON", "0");
	EXPECT(f, "+OK\r\n", "DEBUG", "SET-DISABLE-DENY-SCRIPTS", "-1");
	assert_int_equal(atomic_load(&g_debug.scripts_may_debug), -1);
	EXPECT(f, "+OK\r\n", "DEBUG", "SET-DISABLE-DENY-SCRIPTS", "0");

	static const char *const thr_ok[] = { "0", "1b", "1", "4095mb", "4293918720", "" };
	for (size_t i = 0; i < sizeof(thr_ok) / sizeof(thr_ok[0]); i++)
		EXPECT(f, "+OK\r\n", "DEBUG", "QUICKLIST-PACKED-THRESHOLD", thr_ok[i]);
	static const char *const thr_bad[] = { "4293918721", "4gb", "-1", "1x" };
	for (size_t i = 0; i < sizeof(thr_bad) / sizeof(thr_bad[0]); i++)
		EXPECT(f, "-ERR argument must be a memory value bigger than 1 and smaller than 4gb\r\n",
		       "DEBUG", "QUICKLIST-PACKED-THRESHOLD", thr_bad[i]);

	EXPECT(f, "-MYERR a  b\r\n", "DEBUG", "ERROR", "MYERR a\r\nb");
	EXPECT(f, "+OK\r\n", "DEBUG", "LOG", "unit test");
	EXPECT(f, "-ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.\r\n",
	       "DEBUG", "RELOAD", "MERGE", "x");
	/* NOFLUSH alone over keys is the load error, before anything else. */
	EXPECT(f, "-ERR Error trying to load the RDB dump\r\n", "DEBUG", "RELOAD", "NOFLUSH");
}

/* ---- MEMORY USAGE (errors as redis-server 7.0.15 gives them) ---- */

static int64_t memory_usage(struct fixture *f, const char *key)
{
	const char *r = RUN(f, "MEMORY", "USAGE", key);
	assert_true(r[0] == ':');
	return strtoll(r + 1, NULL, 10);
}

static void test_cmd_memory_usage(void **state)
{
	struct fixture *f = *state;
	EXPECT(f, "$-1\r\n", "MEMORY", "USAGE", "nokey");
	RUN(f, "SET", "k", "v");
	EXPECT(f, "-ERR syntax error\r\n", "MEMORY", "USAGE", "k", "foo");
	EXPECT(f, "-ERR syntax error\r\n", "MEMORY", "USAGE", "k", "SAMPLES", "-1");
	EXPECT(f, "-ERR value is not an integer or out of range\r\n", "MEMORY", "USAGE", "k",
	       "samples", "x");
	EXPECT(f, "-ERR unknown subcommand 'foo'. Try MEMORY HELP.\r\n", "MEMORY", "foo");
	int64_t small = memory_usage(f, "k");
	assert_true(small > 0);
	char big[4096];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	RUN(f, "SET", "k", big);
	assert_true(memory_usage(f, "k") >= small + 4000);
	/* A collection counts its value object too. */
	RUN(f, "HSET", "h", "a", "b");
	int64_t h1 = memory_usage(f, "h");
	RUN(f, "HSET", "h", "c", big);
	assert_true(memory_usage(f, "h") >= h1 + 4000);
	assert_int_equal(memory_usage(f, "h"), strtoll(RUN(f, "MEMORY", "USAGE", "h", "SAMPLES",
							  "0") + 1, NULL, 10));
}

/* ---- OBJECT (expected replies from redis-server 7.0.15) ---- */

/* The compact encodings follow the thresholds CONFIG SET changes
 * (store/encoding.h), as Redis 7.0's do; replies checked against
 * redis-server 7.0.15 with the same settings. */
static void test_cmd_object_encoding_thresholds(void **state)
{
	struct fixture *f = *state;
	atomic_store(&kv_encoding.hash_max_listpack_entries, 2);
	RUN(f, "HSET", "h", "a", "1", "b", "2");
	EXPECT(f, "$8\r\nlistpack\r\n", "OBJECT", "ENCODING", "h");
	RUN(f, "HSET", "h", "c", "3");
	EXPECT(f, "$9\r\nhashtable\r\n", "OBJECT", "ENCODING", "h");
	/* Converted stays converted when the limit rises again. */
	atomic_store(&kv_encoding.hash_max_listpack_entries, 512);
	RUN(f, "HDEL", "h", "c", "b");
	EXPECT(f, "$9\r\nhashtable\r\n", "OBJECT", "ENCODING", "h");
	atomic_store(&kv_encoding.hash_max_listpack_value, 3);
	RUN(f, "HSET", "h2", "a", "abc");
	EXPECT(f, "$8\r\nlistpack\r\n", "OBJECT", "ENCODING", "h2");
	RUN(f, "HSET", "h2", "b", "abcd");
	EXPECT(f, "$9\r\nhashtable\r\n", "OBJECT", "ENCODING", "h2");
	atomic_store(&kv_encoding.hash_max_listpack_value, 64);

	atomic_store(&kv_encoding.zset_max_listpack_entries, 0);
	RUN(f, "ZADD", "z", "1", "a");
	EXPECT(f, "$8\r\nskiplist\r\n", "OBJECT", "ENCODING", "z");
	atomic_store(&kv_encoding.zset_max_listpack_entries, 128);
	atomic_store(&kv_encoding.zset_max_listpack_value, 2);
	RUN(f, "ZADD", "z2", "1", "ab");
	EXPECT(f, "$8\r\nlistpack\r\n", "OBJECT", "ENCODING", "z2");
	RUN(f, "ZADD", "z2", "2", "abc");
	EXPECT(f, "$8\r\nskiplist\r\n", "OBJECT", "ENCODING", "z2");
	atomic_store(&kv_encoding.zset_max_listpack_value, 64);

	atomic_store(&kv_encoding.set_max_intset_entries, 2);
	RUN(f, "SADD", "s", "1", "2");
	EXPECT(f, "$6\r\nintset\r\n", "OBJECT", "ENCODING", "s");
	RUN(f, "SADD", "s", "3");
	EXPECT(f, "$9\r\nhashtable\r\n", "OBJECT", "ENCODING", "s");
	atomic_store(&kv_encoding.set_max_intset_entries, 0);
	RUN(f, "SADD", "s0", "1");
	EXPECT(f, "$9\r\nhashtable\r\n", "OBJECT", "ENCODING", "s0");
	atomic_store(&kv_encoding.set_max_intset_entries, 512);
}

static void test_cmd_object_encoding(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *value, *reply;
	} strings[] = {
		{ "123", "$3\r\nint\r\n" },
		{ "-9223372036854775808", "$3\r\nint\r\n" },
		{ "9223372036854775807", "$3\r\nint\r\n" },
		{ "9223372036854775808", "$6\r\nembstr\r\n" },
		{ "-0", "$6\r\nembstr\r\n" },
		{ "01", "$6\r\nembstr\r\n" },
		{ "", "$6\r\nembstr\r\n" },
		{ "value:0", "$6\r\nembstr\r\n" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "$6\r\nembstr\r\n" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "$3\r\nraw\r\n" },
	};
	for (size_t i = 0; i < KV_ARRAY_LEN(strings); i++) {
		RUN(f, "SET", "s", strings[i].value);
		EXPECT(f, strings[i].reply, "OBJECT", "ENCODING", "s");
	}
	RUN(f, "RPUSH", "l", "a");
	EXPECT(f, "$9\r\nquicklist\r\n", "OBJECT", "ENCODING", "l");
	RUN(f, "SADD", "is", "1");
	EXPECT(f, "$6\r\nintset\r\n", "OBJECT", "ENCODING", "is");
	/* Redis 7.0 has no listpack sets: kevy's small set is a hashtable there. */
	RUN(f, "SADD", "ls", "a");
	EXPECT(f, "$9\r\nhashtable\r\n", "object", "encoding", "ls");
	RUN(f, "HSET", "h", "a", "b");
	EXPECT(f, "$8\r\nlistpack\r\n", "OBJECT", "ENCODING", "h");
	RUN(f, "ZADD", "z", "1", "a");
	EXPECT(f, "$8\r\nlistpack\r\n", "OBJECT", "ENCODING", "z");
	EXPECT(f, "$-1\r\n", "OBJECT", "ENCODING", "nokey");
}

/* A string changed in place is "raw" whatever its bytes, as Redis's
 * dbUnshareStringValue leaves it; a whole new value (SET, INCR) is
 * encoded from its bytes again.  Replies from redis-server 7.0.15. */
static void test_cmd_object_encoding_in_place(void **state)
{
	struct fixture *f = *state;
	RUN(f, "SET", "k", "1234");
	EXPECT(f, "$3\r\nint\r\n", "OBJECT", "ENCODING", "k");
	EXPECT(f, ":4\r\n", "SETRANGE", "k", "0", "2");
	EXPECT(f, "$3\r\nraw\r\n", "OBJECT", "ENCODING", "k");
	EXPECT(f, "$4\r\n2234\r\n", "GET", "k");
	EXPECT(f, ":1\r\n", "EXPIRE", "k", "100");       /* kept by a new layout */
	EXPECT(f, "$3\r\nraw\r\n", "OBJECT", "ENCODING", "k");
	RUN(f, "RENAME", "k", "k2");
	EXPECT(f, "$3\r\nraw\r\n", "OBJECT", "ENCODING", "k2");
	RUN(f, "COPY", "k2", "k3");
	EXPECT(f, "$3\r\nraw\r\n", "OBJECT", "ENCODING", "k3");
	EXPECT(f, ":2235\r\n", "INCR", "k2");
	EXPECT(f, "$3\r\nint\r\n", "OBJECT", "ENCODING", "k2");

	RUN(f, "SET", "a", "12");
	EXPECT(f, ":2\r\n", "APPEND", "a", "");        /* even an empty append */
	EXPECT(f, "$3\r\nraw\r\n", "OBJECT", "ENCODING", "a");
	RUN(f, "SET", "a", "12");
	EXPECT(f, "$3\r\nint\r\n", "OBJECT", "ENCODING", "a");
	RUN(f, "SET", "c", "5");
	EXPECT(f, ":1\r\n", "SETRANGE", "c", "0", "");   /* writes nothing */
	EXPECT(f, "$3\r\nint\r\n", "OBJECT", "ENCODING", "c");
	EXPECT(f, ":1\r\n", "SETRANGE", "d", "0", "7"); /* created by SETRANGE */
	EXPECT(f, "$3\r\nraw\r\n", "OBJECT", "ENCODING", "d");
	RUN(f, "SET", "b", "abc");
	EXPECT(f, ":0\r\n", "SETBIT", "b", "0", "1");
	EXPECT(f, "$3\r\nraw\r\n", "OBJECT", "ENCODING", "b");
}

static void test_cmd_object_other(void **state)
{
	struct fixture *f = *state;

	RUN(f, "SET", "k", "5");
	EXPECT(f, ":1\r\n", "OBJECT", "REFCOUNT", "k");
	EXPECT(f, "$-1\r\n", "OBJECT", "REFCOUNT", "nokey");
	EXPECT(f, "-ERR An LFU maxmemory policy is not selected, access frequency not "
		  "tracked. Please note that when switching between policies at runtime LRU "
		  "and LFU data will take some time to adjust.\r\n", "OBJECT", "FREQ", "k");
	EXPECT(f, "$-1\r\n", "OBJECT", "FREQ", "nokey");
	EXPECT(f, ":0\r\n", "OBJECT", "IDLETIME", "k");
	EXPECT(f, "$-1\r\n", "OBJECT", "IDLETIME", "nokey");
	const char *r = RUN(f, "OBJECT", "HELP");
	const char *head = "*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. "
			   "Subcommands are:\r\n+ENCODING <key>\r\n";
	assert_true(strncmp(r, head, strlen(head)) == 0);
	EXPECT(f, "-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n",
	       "OBJECT", "foo", "bar", "baz");
	EXPECT(f, "-ERR wrong number of arguments for 'object|encoding' command\r\n",
	       "OBJECT", "ENCODING");
	EXPECT(f, "-ERR wrong number of arguments for 'object|encoding' command\r\n",
	       "OBJECT", "ENCODING", "k", "x");
	EXPECT(f, "-ERR wrong number of arguments for 'object|help' command\r\n",
	       "OBJECT", "Help", "x");
	EXPECT(f, "-ERR wrong number of arguments for 'object|freq' command\r\n",
	       "OBJECT", "freq");
	EXPECT(f, "-ERR wrong number of arguments for 'object' command\r\n", "OBJECT");
}

#define T1(fn) cmocka_unit_test_setup_teardown(fn, setup1, fixture_teardown)
#define T3(fn) cmocka_unit_test_setup_teardown(fn, setup3, fixture_teardown)

static int setup_n1(void **state)
{
	cmd_table_init();
	*state = (void *)(uintptr_t)1;
	return 0;
}

static int setup_n3(void **state)
{
	cmd_table_init();
	*state = (void *)(uintptr_t)3;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T1(test_cmd_debug_digest_empty_is_zero),
		T3(test_cmd_debug_digest_empty_is_zero),
		T1(test_cmd_debug_digest_order_and_shards),
		T1(test_cmd_debug_digest_encoding_independent),
		cmocka_unit_test_setup(test_cmd_debug_digest_detects_changes, setup_n1),
		cmocka_unit_test_setup(test_cmd_debug_digest_detects_changes, setup_n3),
		T1(test_cmd_debug_digest_skips_expired),
		T3(test_cmd_debug_digest_skips_expired),
		T1(test_cmd_debug_digest_value),
		T3(test_cmd_debug_digest_value),
		T1(test_cmd_debug_populate),
		T3(test_cmd_debug_populate),
		T3(test_cmd_debug_populate_names),
		T1(test_cmd_debug_misc),
		T3(test_cmd_debug_misc),
		T1(test_cmd_debug_object_and_switches),
		T3(test_cmd_debug_object_and_switches),
		T1(test_cmd_memory_usage),
		T1(test_cmd_object_encoding),
		T1(test_cmd_object_encoding_thresholds),
		T1(test_cmd_object_encoding_in_place),
		T3(test_cmd_object_encoding),
		T1(test_cmd_object_other),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
