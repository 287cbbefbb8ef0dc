/*
 * test_cmd_set.c - the set commands answer byte for byte what Redis 7.0.15
 * answers (expected replies taken from redis-server) where the reply is
 * deterministic (intset order, errors); hash-ordered replies are compared
 * as sets.  Also: SSCAN's guarantee while the set grows, and the store's
 * memory count returning to its start once the sets are gone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/cmd.h"
#include "cmd_fixture.h"
#include "commands/config.h"
#include "store/store.h"
#include "store/t_set.h"

/* cmd.h declares the table weak, and a weak reference does not pull
 * cmd_set.o out of libkevy.a: this strong one does. */
extern const struct kv_command set_commands[] __asm__("cmd_table_set");
#define cmd_table_set set_commands

static const struct kv_command *cmd_named(const char *name)
{
	for (const struct kv_command *c = cmd_table_set; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	fail_msg("no command %s", name);
	return NULL;
}

static const struct kv_command *find_cmd(const struct kv_slice *name)
{
	return fixture_find_in(cmd_table_set, name);
}

static int setup(void **state)
{
	struct fixture *f = fixture_new(1);
	f->find = find_cmd;
	atomic_store(&g_config.proto_max_bulk_len, 512LL * 1024 * 1024);
	*state = f;
	return 0;
}

#define RUN(...) run(f, __VA_ARGS__, NULL)
#define EXPECT(reply, ...) assert_string_equal(RUN(__VA_ARGS__), reply)

#define WRONGTYPE "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
#define SYNTAX "-ERR syntax error\r\n"
#define NOT_INT "-ERR value is not an integer or out of range\r\n"
#define NIL "$-1\r\n"
#define EMPTY_ARR "*0\r\n"
#define ZERO ":0\r\n"
#define ONE ":1\r\n"
#define POSITIVE "-ERR value is out of range, must be positive\r\n"

static bool exists(struct fixture *f, const char *key)
{
	return db_lookup(f->db, key, strlen(key), f->now_ms) != NULL;
}

static const char *encoding_of(struct fixture *f, const char *key)
{
	struct kv_entry *e = db_lookup(f->db, key, strlen(key), f->now_ms);
	assert_non_null(e);
	assert_int_equal(entry_type(e), KV_TYPE_SET);
	return set_encoding_name(entry_obj(e));
}

/* Elements of a flat array reply of bulks, sorted, joined by ','. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *sorted_members(const char *reply, char *out, size_t cap)
{
	char *items[4096];
	int n = 0;
	assert_true(reply[0] == '*');
	long count = strtol(reply + 1, NULL, 10);
	const char *p = strstr(reply, "\r\n") + 2;
	for (long i = 0; i < count; i++) {
		assert_true(*p == '$');
		long len = strtol(p + 1, NULL, 10);
		p = strstr(p, "\r\n") + 2;
		items[n++] = strndup(p, (size_t)len);
		p += len + 2;
	}
	qsort(items, (size_t)n, sizeof(items[0]), cmp_str);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		strncat(out, items[i], cap - strlen(out) - 2);
		strcat(out, ",");
		free(items[i]);
	}
	return out;
}

#define SORTED(...) sorted_members(RUN(__VA_ARGS__), sbuf, sizeof(sbuf))

static void test_cmd_set_basic_replies(void **state)
{
	struct fixture *f = *state;

	EXPECT(":3\r\n", "SADD", "i", "3", "1", "2");
	EXPECT(":1\r\n", "sadd", "i", "1", "1", "1", "5");
	EXPECT("*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n5\r\n", "SMEMBERS", "i");
	EXPECT(":4\r\n", "SCARD", "i");
	EXPECT(ONE, "SISMEMBER", "i", "1");
	EXPECT(ZERO, "SISMEMBER", "i", "01");
	EXPECT("*3\r\n:1\r\n:0\r\n:1\r\n", "SMISMEMBER", "i", "1", "x", "3");
	EXPECT("*2\r\n:0\r\n:0\r\n", "SMISMEMBER", "nokey", "a", "b");
	EXPECT(EMPTY_ARR, "SMEMBERS", "nokey");
	EXPECT(ZERO, "SCARD", "nokey");
	EXPECT(ZERO, "SISMEMBER", "nokey", "a");
	EXPECT(ZERO, "SREM", "nokey", "a");
	EXPECT(":2\r\n", "SREM", "i", "1", "nope", "5");
	EXPECT("*2\r\n$1\r\n2\r\n$1\r\n3\r\n", "SMEMBERS", "i");
	assert_string_equal(encoding_of(f, "i"), "intset");
	EXPECT(":2\r\n", "SREM", "i", "2", "3", "4");
	assert_false(exists(f, "i"));
	/* Non-canonical integers are distinct strings. */
	EXPECT(":5\r\n", "SADD", "e", "1", "-0", "+1", "01", "a", "1", "a");
	EXPECT(":5\r\n", "SCARD", "e");
	assert_string_equal(encoding_of(f, "e"), "listpack");
	EXPECT(ONE, "SADD", "e", "b");
	/* A listpack answers in insertion order (kevy's; Redis 7.0 hashes). */
	EXPECT("*6\r\n$1\r\n1\r\n$2\r\n-0\r\n$2\r\n+1\r\n$2\r\n01\r\n$1\r\na\r\n$1\r\nb\r\n",
	       "SMEMBERS", "e");
}

static void test_cmd_set_wrongtype(void **state)
{
	struct fixture *f = *state;

	db_set_string(f->db, "str", 3, "x", 1, KV_NO_EXPIRE);
	EXPECT(":3\r\n", "SADD", "i", "3", "1", "2");
	EXPECT(WRONGTYPE, "SADD", "str", "a");
	EXPECT(WRONGTYPE, "SREM", "str", "a");
	EXPECT(WRONGTYPE, "SISMEMBER", "str", "a");
	EXPECT(WRONGTYPE, "SMISMEMBER", "str", "a");
	EXPECT(WRONGTYPE, "SMEMBERS", "str");
	EXPECT(WRONGTYPE, "SCARD", "str");
	EXPECT(WRONGTYPE, "SPOP", "str");
	EXPECT(WRONGTYPE, "SRANDMEMBER", "str");
	/* Redis 7.0 type-checks every key before a missing one empties the result. */
	EXPECT(WRONGTYPE, "SINTER", "nokey", "str");
	EXPECT(WRONGTYPE, "SINTER", "str", "nokey");
	EXPECT(WRONGTYPE, "SINTERSTORE", "d", "nokey", "str");
	EXPECT(WRONGTYPE, "SUNION", "nokey", "str");
	EXPECT(WRONGTYPE, "SDIFF", "nokey", "str");
	EXPECT(WRONGTYPE, "SDIFF", "str", "nokey");
	EXPECT(WRONGTYPE, "SINTERCARD", "2", "str", "nokey");
	EXPECT(WRONGTYPE, "SSCAN", "str", "0");
	/* SMOVE: a missing source wins over a wrong destination. */
	EXPECT(ZERO, "SMOVE", "nokey", "str", "x");
	EXPECT(WRONGTYPE, "SMOVE", "str", "nokey", "x");
	EXPECT(WRONGTYPE, "SMOVE", "i", "str", "1");
	EXPECT(":3\r\n", "SCARD", "i");
}

static void test_cmd_set_spop_srandmember_errors(void **state)
{
	struct fixture *f = *state;

	EXPECT(":3\r\n", "SADD", "i", "3", "1", "2");
	EXPECT(NIL, "SPOP", "nokey");
	EXPECT(EMPTY_ARR, "SPOP", "nokey", "2");
	EXPECT(EMPTY_ARR, "SPOP", "i", "0");
	EXPECT(POSITIVE, "SPOP", "nokey", "-1");
	EXPECT(POSITIVE, "SPOP", "i", "-1");
	EXPECT(POSITIVE, "SPOP", "i", "abc");
	EXPECT(POSITIVE, "SPOP", "nokey", "abc");
	EXPECT(SYNTAX, "SPOP", "i", "1", "2");
	EXPECT(NIL, "SRANDMEMBER", "nokey");
	EXPECT(EMPTY_ARR, "SRANDMEMBER", "nokey", "3");
	EXPECT(EMPTY_ARR, "SRANDMEMBER", "nokey", "-3");
	EXPECT(EMPTY_ARR, "SRANDMEMBER", "i", "0");
	EXPECT(NOT_INT, "SRANDMEMBER", "i", "abc");
	EXPECT(NOT_INT, "SRANDMEMBER", "nokey", "abc");
	EXPECT("-ERR value is out of range, value must between -9223372036854775807 and "
	       "9223372036854775807\r\n", "SRANDMEMBER", "i", "-9223372036854775808");
	EXPECT(SYNTAX, "SRANDMEMBER", "i", "1", "2");
	/* count >= size: the whole set, in intset order. */
	EXPECT("*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n", "SRANDMEMBER", "i", "10");
	EXPECT(":3\r\n", "SCARD", "i");
	EXPECT("*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n", "SPOP", "i", "10");
	assert_false(exists(f, "i"));
	EXPECT(":1\r\n", "SADD", "one", "7");
	EXPECT("$1\r\n7\r\n", "SPOP", "one");
	assert_false(exists(f, "one"));
}

static void test_cmd_set_random_counts(void **state)
{
	struct fixture *f = *state;
	char sbuf[65536];
	char arg[32];

	set_seed_random(7);
	for (int i = 0; i < 300; i++) {
		snprintf(arg, sizeof(arg), "m%d", i);
		RUN("SADD", "h", arg);
	}
	assert_string_equal(encoding_of(f, "h"), "hashtable");
	/* Negative count: exactly -count answers, all members. */
	const char *r = RUN("SRANDMEMBER", "h", "-1000");
	assert_true(strncmp(r, "*1000\r\n", 7) == 0);
	/* Positive: distinct. */
	sorted_members(RUN("SRANDMEMBER", "h", "250"), sbuf, sizeof(sbuf));
	int n = 0;
	char *prev = NULL;
	for (char *tok = strtok(sbuf, ","); tok; tok = strtok(NULL, ",")) {
		if (prev)
			assert_true(strcmp(prev, tok) != 0);
		prev = tok;
		n++;
	}
	assert_int_equal(n, 250);
	/* SPOP with count removes what it returns. */
	r = RUN("SPOP", "h", "100");
	assert_true(strncmp(r, "*100\r\n", 6) == 0);
	EXPECT(":200\r\n", "SCARD", "h");
	r = RUN("SPOP", "h");
	assert_true(r[0] == '$');
	EXPECT(":199\r\n", "SCARD", "h");
	RUN("SPOP", "h", "199");
	assert_false(exists(f, "h"));
}

static void test_cmd_set_algebra(void **state)
{
	struct fixture *f = *state;
	char sbuf[4096];

	RUN("SADD", "i", "1", "2", "3");
	RUN("SADD", "j", "2", "3", "4", "-5", "100000", "9999999999");
	RUN("SADD", "s", "a", "b", "c", "2");
	EXPECT("*2\r\n$1\r\n2\r\n$1\r\n3\r\n", "SINTER", "i", "j");
	EXPECT("*2\r\n$1\r\n2\r\n$1\r\n3\r\n", "SINTER", "j", "i");
	EXPECT("*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n", "SINTER", "i", "i");
	EXPECT(EMPTY_ARR, "SINTER", "i", "nokey");
	EXPECT("*7\r\n$2\r\n-5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$6\r\n100000\r\n"
	       "$10\r\n9999999999\r\n", "SUNION", "i", "j", "nokey");
	EXPECT("*4\r\n$2\r\n-5\r\n$1\r\n4\r\n$6\r\n100000\r\n$10\r\n9999999999\r\n",
	       "SDIFF", "j", "i");
	EXPECT("*1\r\n$1\r\n1\r\n", "SDIFF", "i", "j");
	EXPECT(EMPTY_ARR, "SDIFF", "i", "i", "j");
	EXPECT(EMPTY_ARR, "SDIFF", "nokey", "i");
	EXPECT("*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n", "SDIFF", "i", "nokey");
	assert_string_equal(SORTED("SUNION", "i", "s"), "1,2,3,a,b,c,");
	assert_string_equal(SORTED("SINTER", "s", "j", "i"), "2,");
	assert_string_equal(SORTED("SDIFF", "s", "i"), "a,b,c,");
	/* STORE forms. */
	EXPECT(":2\r\n", "SINTERSTORE", "d", "i", "j");
	EXPECT("*2\r\n$1\r\n2\r\n$1\r\n3\r\n", "SMEMBERS", "d");
	EXPECT(":7\r\n", "SUNIONSTORE", "d", "i", "j", "nokey");
	EXPECT(":4\r\n", "SDIFFSTORE", "d", "j", "i");
	EXPECT("*4\r\n$2\r\n-5\r\n$1\r\n4\r\n$6\r\n100000\r\n$10\r\n9999999999\r\n",
	       "SMEMBERS", "d");
	EXPECT(ZERO, "SINTERSTORE", "d", "i", "nokey");
	assert_false(exists(f, "d"));
	RUN("SADD", "d", "x");
	EXPECT(ZERO, "SDIFFSTORE", "d", "i", "i");
	assert_false(exists(f, "d"));
	EXPECT(ZERO, "SUNIONSTORE", "d", "nokey");
	/* A destination of another type, with a TTL, is replaced. */
	db_set_string(f->db, "d", 1, "v", 1, NOW_MS + 100000);
	EXPECT(":3\r\n", "SUNIONSTORE", "d", "i");
	assert_int_equal(entry_expire(db_lookup(f->db, "d", 1, 0)), KV_NO_EXPIRE);
	/* The destination may be a source. */
	EXPECT(":2\r\n", "SINTERSTORE", "i", "i", "j");
	EXPECT("*2\r\n$1\r\n2\r\n$1\r\n3\r\n", "SMEMBERS", "i");
	EXPECT(":2\r\n", "SINTERCARD", "2", "i", "j");
	EXPECT(":2\r\n", "SINTERCARD", "2", "j", "j", "LIMIT", "2");
	EXPECT(":1\r\n", "SINTERCARD", "2", "i", "j", "limit", "1");
	EXPECT(":2\r\n", "SINTERCARD", "1", "i", "LIMIT", "0");
	EXPECT(ZERO, "SINTERCARD", "1", "nokey");
}

static void test_cmd_set_sintercard_errors(void **state)
{
	struct fixture *f = *state;

	RUN("SADD", "i", "1", "2", "3");
	db_set_string(f->db, "str", 3, "x", 1, KV_NO_EXPIRE);
	EXPECT("-ERR numkeys should be greater than 0\r\n", "SINTERCARD", "0", "a");
	EXPECT("-ERR numkeys should be greater than 0\r\n", "SINTERCARD", "abc", "a");
	EXPECT("-ERR numkeys should be greater than 0\r\n", "SINTERCARD", "-1", "a");
	EXPECT("-ERR Number of keys can't be greater than number of args\r\n",
	       "SINTERCARD", "3", "a", "b");
	EXPECT("-ERR LIMIT can't be negative\r\n", "SINTERCARD", "1", "i", "limit", "-1");
	EXPECT("-ERR LIMIT can't be negative\r\n", "SINTERCARD", "1", "i", "limit", "abc");
	EXPECT(SYNTAX, "SINTERCARD", "1", "i", "limit");
	EXPECT(SYNTAX, "SINTERCARD", "1", "i", "foo", "1");
	EXPECT(SYNTAX, "SINTERCARD", "1", "nokey", "str");
	/* Key extraction for the runtime. */
	const struct kv_command *c = cmd_named("sintercard");
	struct kv_slice argv[] = { { "SINTERCARD", 10 }, { "2", 1 }, { "a", 1 }, { "b", 1 },
				   { "LIMIT", 5 }, { "1", 1 } };
	int idx[8];
	assert_int_equal(cmd_get_keys(c, 6, argv, idx, 8), 2);
	assert_int_equal(idx[0], 2);
	assert_int_equal(idx[1], 3);
	argv[1] = (struct kv_slice){ "5", 1 };
	assert_int_equal(cmd_get_keys(c, 6, argv, idx, 8), -1);
}

static void test_cmd_set_smove(void **state)
{
	struct fixture *f = *state;

	RUN("SADD", "m", "1", "2");
	EXPECT(ONE, "SMOVE", "m", "n", "1");
	EXPECT(ZERO, "SMOVE", "m", "n", "9");
	EXPECT(ONE, "SMOVE", "m", "n", "2");
	assert_false(exists(f, "m"));
	EXPECT("*2\r\n$1\r\n1\r\n$1\r\n2\r\n", "SMEMBERS", "n");
	EXPECT(ONE, "SMOVE", "n", "n", "2");
	EXPECT(ZERO, "SMOVE", "n", "n", "7");
	RUN("SADD", "o", "2", "a");
	/* Already in the destination: still removed from the source. */
	EXPECT(ONE, "SMOVE", "n", "o", "2");
	EXPECT("*1\r\n$1\r\n1\r\n", "SMEMBERS", "n");
	EXPECT(":2\r\n", "SCARD", "o");
}

static void test_cmd_set_sscan(void **state)
{
	struct fixture *f = *state;

	RUN("SADD", "i", "3", "1", "2", "11");
	db_set_string(f->db, "str", 3, "x", 1, KV_NO_EXPIRE);
	EXPECT("-ERR invalid cursor\r\n", "SSCAN", "nokey", "abc");
	EXPECT("-ERR invalid cursor\r\n", "SSCAN", "str", "abc");
	EXPECT("*2\r\n$1\r\n0\r\n*0\r\n", "SSCAN", "nokey", "0", "foo");
	EXPECT(SYNTAX, "SSCAN", "i", "0", "type", "set");
	EXPECT(SYNTAX, "SSCAN", "i", "0", "count", "0");
	EXPECT(NOT_INT, "SSCAN", "i", "0", "count", "abc");
	EXPECT(SYNTAX, "SSCAN", "i", "0", "match");
	/* A compact set comes whole, whatever the cursor and COUNT. */
	EXPECT("*2\r\n$1\r\n0\r\n*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n11\r\n",
	       "SSCAN", "i", "-1", "COUNT", "1");
	EXPECT("*2\r\n$1\r\n0\r\n*2\r\n$1\r\n1\r\n$2\r\n11\r\n", "SSCAN", "i", "0", "MATCH", "1*");
	EXPECT("*2\r\n$1\r\n0\r\n*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n11\r\n",
	       "SSCAN", "i", "0", "match", "*", "count", "5");
}

/* SSCAN over a hashtable returns every member present for the whole walk,
 * while SADD grows the set between calls. */
static void test_cmd_set_sscan_while_growing(void **state)
{
	struct fixture *f = *state;
	enum { INITIAL = 600 };
	unsigned char seen[INITIAL] = { 0 };
	char arg[32], cursor[32] = "0";
	int next = INITIAL, calls = 0;

	for (int i = 0; i < INITIAL; i++) {
		snprintf(arg, sizeof(arg), "m%d", i);
		RUN("SADD", "h", arg);
	}
	do {
		const char *r = RUN("SSCAN", "h", cursor, "COUNT", "7");
		/* *2 $n cursor *k ... */
		const char *p = strstr(r, "\r\n") + 2;
		long clen = strtol(p + 1, NULL, 10);
		p = strstr(p, "\r\n") + 2;
		memcpy(cursor, p, (size_t)clen);
		cursor[clen] = '\0';
		p += clen + 2;
		long k = strtol(p + 1, NULL, 10);
		p = strstr(p, "\r\n") + 2;
		for (long i = 0; i < k; i++) {
			long len = strtol(p + 1, NULL, 10);
			p = strstr(p, "\r\n") + 2;
			int id = atoi(p + 1);
			if (id < INITIAL)
				seen[id] = 1;
			p += len + 2;
		}
		for (int i = 0; i < 5 && next < 5000; i++) {
			snprintf(arg, sizeof(arg), "m%d", next++);
			RUN("SADD", "h", arg);
		}
		calls++;
	} while (strcmp(cursor, "0") != 0 && calls < 100000);
	assert_string_equal(cursor, "0");
	for (int i = 0; i < INITIAL; i++)
		assert_true(seen[i]);
}

/* The store's count follows every change: after the keys are gone through
 * the set commands themselves, it is back where it started. */
/* Compact sets are one block that moves as it grows or shrinks: the count
 * must follow every move (re-installed objects, freed intermediates). */
static void test_cmd_set_memory_accounting_compact(void **state)
{
	struct fixture *f = *state;
	size_t base = db_memory_used(f->db);
	char arg[32], key[16];

	set_seed_random(7);
	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof(key), "k%d", i % 17);
		snprintf(arg, sizeof(arg), i % 13 ? "%d" : "m%d", (i * 7919) % 300 - 150);
		RUN("SADD", key, arg, "70000", "5000000000");
		if (i % 3 == 0)
			RUN("SREM", key, arg, "70000");
		if (i % 29 == 0)
			RUN("SPOP", key, "3");
		if (i % 31 == 0)
			RUN("SMOVE", key, "k0", arg);
	}
	for (int i = 0; i < 17; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		RUN("SPOP", key, "100000");
	}
	assert_int_equal(db_size(f->db), 0);
	assert_int_equal(db_memory_used(f->db), base);
}

static void test_cmd_set_memory_accounting(void **state)
{
	struct fixture *f = *state;
	size_t base = db_memory_used(f->db);
	char arg[32];

	set_seed_random(99);
	for (int i = 0; i < 2000; i++) {
		snprintf(arg, sizeof(arg), i % 3 ? "%d" : "x%d", i % 700);
		RUN("SADD", i % 2 ? "a" : "b", arg);
		if (i % 5 == 0)
			RUN("SREM", "a", arg);
		if (i % 11 == 0)
			RUN("SISMEMBER", "b", arg);
	}
	size_t grown = db_memory_used(f->db);
	assert_true(grown > base + 10000);
	RUN("SUNIONSTORE", "c", "a", "b");
	RUN("SINTERSTORE", "d", "a", "b");
	RUN("SMOVE", "a", "e", "1");
	RUN("SRANDMEMBER", "a", "-50");
	RUN("SPOP", "a", "100");
	RUN("SINTERCARD", "2", "a", "b");
	RUN("SDIFFSTORE", "b", "b", "a");
	RUN("SPOP", "a", "100000");
	RUN("SPOP", "b", "100000");
	RUN("SPOP", "c", "100000");
	RUN("SPOP", "d", "100000");
	RUN("SPOP", "e", "100000");
	assert_int_equal(db_size(f->db), 0);
	assert_int_equal(db_memory_used(f->db), base);
}

/* WATCH: a handler reports an in-place change exactly where Redis 7.0.15
 * calls signalModifiedKey (checked with WATCH / the command from another
 * connection / MULTI PING EXEC against redis-server). */
static bool touched(struct fixture *f, const char *key, uint64_t *v)
{
	uint64_t now = db_watch_version(f->db, key, strlen(key));
	bool t = now != *v;
	*v = now;
	return t;
}

#define SIGNALS(key, yes, ...)                                  \
	do {                                                    \
		RUN(__VA_ARGS__);                               \
		assert_int_equal(touched(f, #key, &v_##key), yes); \
	} while (0)

static void test_cmd_set_watch_signals(void **state)
{
	struct fixture *f = *state;
	uint64_t v_s = db_watch_add(f->db, "s", 1), v_d = db_watch_add(f->db, "d", 1);

	SIGNALS(s, true, "SADD", "s", "a", "b");          /* created */
	SIGNALS(s, false, "SADD", "s", "a");
	SIGNALS(s, true, "SADD", "s", "a", "c");
	SIGNALS(s, false, "SREM", "s", "x", "y");
	SIGNALS(s, true, "SREM", "s", "x", "c");
	SIGNALS(s, false, "SPOP", "s", "0");
	SIGNALS(s, false, "SRANDMEMBER", "s", "-3");
	SIGNALS(s, false, "SISMEMBER", "s", "a");
	SIGNALS(s, true, "SPOP", "s");
	SIGNALS(s, true, "SADD", "s", "a", "b");
	SIGNALS(s, true, "SPOP", "s", "1");
	SIGNALS(s, false, "SPOP", "nokey", "1");
	/* SMOVE: src when the member left it; dst only if it lacked it. */
	RUN("SADD", "s", "a", "b", "c");
	touched(f, "s", &v_s);
	SIGNALS(d, true, "SADD", "d", "a");
	SIGNALS(s, false, "SMOVE", "s", "d", "zz");
	assert_false(touched(f, "d", &v_d));
	SIGNALS(s, true, "SMOVE", "s", "d", "a");           /* d had a */
	assert_false(touched(f, "d", &v_d));
	SIGNALS(s, true, "SMOVE", "s", "d", "b");
	assert_true(touched(f, "d", &v_d));
	SIGNALS(s, false, "SMOVE", "s", "s", "c");
	SIGNALS(s, true, "SMOVE", "s", "d", "c");           /* s emptied */
	assert_true(touched(f, "d", &v_d));
	SIGNALS(d, true, "SMOVE", "d", "s", "a");           /* s created */
	assert_true(touched(f, "s", &v_s));
	/* *STORE: the destination when set or deleted, never when it stays
	 * missing. */
	SIGNALS(d, true, "SINTERSTORE", "d", "s", "d");     /* d emptied: deleted */
	SIGNALS(d, false, "SINTERSTORE", "d", "s", "nokey");
	SIGNALS(d, true, "SUNIONSTORE", "d", "s");
	SIGNALS(d, true, "SUNIONSTORE", "d", "s");          /* same content: still */
	SIGNALS(d, true, "SDIFFSTORE", "d", "s", "s");
	SIGNALS(d, false, "SDIFFSTORE", "d", "s", "s");
	assert_false(touched(f, "s", &v_s));
	db_watch_release(f->db, "s", 1);
	db_watch_release(f->db, "d", 1);
}

#undef SIGNALS

static void test_cmd_set_table(void **state)
{
	(void)state;
	const struct kv_command *c = cmd_named("sadd");
	assert_int_equal(c->arity, -3);
	assert_int_equal(c->flags, CMD_WRITE | CMD_DENYOOM | CMD_FAST);
	assert_string_equal(c->group, "set");
	c = cmd_named("smove");
	assert_int_equal(c->first_key, 1);
	assert_int_equal(c->last_key, 2);
	assert_int_equal(cmd_named("sscan")->flags, CMD_READONLY);
	assert_string_equal(cmd_named("sintercard")->since, "7.0.0");
	assert_int_equal(cmd_named("smembers")->arity, 2);
	int n = 0;
	for (c = cmd_table_set; c->name; c++)
		n++;
	assert_int_equal(n, 17);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, fixture_teardown)
	const struct CMUnitTest tests[] = {
		T(test_cmd_set_basic_replies),
		T(test_cmd_set_wrongtype),
		T(test_cmd_set_spop_srandmember_errors),
		T(test_cmd_set_random_counts),
		T(test_cmd_set_algebra),
		T(test_cmd_set_sintercard_errors),
		T(test_cmd_set_smove),
		T(test_cmd_set_sscan),
		T(test_cmd_set_sscan_while_growing),
		T(test_cmd_set_memory_accounting),
		T(test_cmd_set_memory_accounting_compact),
		T(test_cmd_set_table),
		T(test_cmd_set_watch_signals),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
