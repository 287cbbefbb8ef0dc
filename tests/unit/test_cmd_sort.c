/*
 * test_cmd_sort.c - SORT and SORT_RO answer byte for byte what Redis 7.0.15
 * answers for the same calls (every expected reply below was taken from
 * redis-server), store their result as Redis does, and tell the runtime
 * which calls need every shard (the all_shards hook) and which keys a call
 * names (its keys function).
 *
 * Handlers run through a hand-built struct cmd_ctx over three keyspaces, so
 * the sorted key, its weights and the destination spread over shards as in
 * the server; the fixture holds all three, as the runtime does for a call
 * whose patterns look keys up.  Effects and their replay are test_fx.c's.
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
#include "base/kv.h"
#include "store/store.h"

#define MAX_ARGS 32
#define NSHARDS 3

#include "cmd_fixture.h"

static int setup(void **state)
{
	cmd_table_init();
	*state = fixture_new(NSHARDS);
	return 0;
}

#define RUN(...) run(f, __VA_ARGS__, NULL)
#define EXPECT(reply, ...) assert_string_equal(RUN(__VA_ARGS__), reply)

#define WRONGTYPE "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
#define SYNTAX "-ERR syntax error\r\n"
#define NOT_INT "-ERR value is not an integer or out of range\r\n"
#define NOT_DOUBLE "-ERR One or more scores can't be converted into double\r\n"
#define EMPTY_ARRAY "*0\r\n"

static bool exists(struct fixture *f, const char *key)
{
	return db_lookup(db_of(f, key), key, strlen(key), f->now_ms) != NULL;
}

static void test_cmd_sort_numeric_alpha_limit(void **state)
{
	struct fixture *f = *state;
	EXPECT(":6\r\n", "RPUSH", "l", "3", "1", "2", "10", "-1", "1.5");
	EXPECT("*6\r\n$2\r\n-1\r\n$1\r\n1\r\n$3\r\n1.5\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n",
	       "SORT", "l");
	EXPECT("*3\r\n$1\r\n3\r\n$1\r\n2\r\n$3\r\n1.5\r\n", "SORT", "l", "desc", "limit", "1", "3");
	EXPECT("*6\r\n$2\r\n-1\r\n$1\r\n1\r\n$3\r\n1.5\r\n$2\r\n10\r\n$1\r\n2\r\n$1\r\n3\r\n",
	       "SORT", "l", "ALPHA");
	EXPECT("*6\r\n$1\r\n3\r\n$1\r\n2\r\n$2\r\n10\r\n$3\r\n1.5\r\n$1\r\n1\r\n$2\r\n-1\r\n",
	       "SORT", "l", "alpha", "desc");
	/* LIMIT is clamped, never an error once it parses. */
	EXPECT("*2\r\n$2\r\n-1\r\n$1\r\n1\r\n", "SORT", "l", "limit", "-5", "2");
	EXPECT("*4\r\n$3\r\n1.5\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n",
	       "SORT", "l", "limit", "2", "-1");
	EXPECT(EMPTY_ARRAY, "SORT", "l", "limit", "10", "1");
	EXPECT(EMPTY_ARRAY, "SORT", "l", "limit", "0", "0");
	EXPECT(EMPTY_ARRAY, "SORT", "l", "limit", "6", "-1");
	EXPECT("*1\r\n$2\r\n10\r\n", "SORT", "l", "limit", "5", "9223372036854775807");
	EXPECT("*6\r\n$2\r\n-1\r\n$1\r\n1\r\n$3\r\n1.5\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n",
	       "SORT", "l", "limit", "-9223372036854775808", "9223372036854775807");
	/* The last of repeated options counts. */
	EXPECT("*1\r\n$2\r\n10\r\n", "SORT", "l", "asc", "desc", "limit", "0", "9", "limit", "0", "1");
	/* A missing key sorts as an empty list. */
	EXPECT(EMPTY_ARRAY, "SORT", "nokey");
	EXPECT(EMPTY_ARRAY, "SORT_RO", "nokey", "by", "w_*", "get", "#");
	/* Sets and sorted sets sort their members. */
	EXPECT(":4\r\n", "SADD", "s", "5", "3", "9", "1");
	EXPECT("*4\r\n$1\r\n9\r\n$1\r\n5\r\n$1\r\n3\r\n$1\r\n1\r\n", "SORT", "s", "desc");
	EXPECT(":5\r\n", "ZADD", "z", "1", "e", "5", "b", "2", "c", "10", "a", "3", "d");
	EXPECT("*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n", "SORT", "z", "alpha");
	/* Equal scores fall back to byte order; inf sorts as a number. */
	EXPECT(":5\r\n", "RPUSH", "eq", "1.0", "inf", "1", "-inf", "01");
	EXPECT("*5\r\n$4\r\n-inf\r\n$2\r\n01\r\n$1\r\n1\r\n$3\r\n1.0\r\n$3\r\ninf\r\n",
	       "SORT", "eq");
}

static void test_cmd_sort_nosort_keeps_native_order(void **state)
{
	struct fixture *f = *state;
	RUN("RPUSH", "l", "3", "1", "2", "10", "-1", "1.5");
	EXPECT("*6\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n$2\r\n10\r\n$2\r\n-1\r\n$3\r\n1.5\r\n",
	       "SORT", "l", "by", "nosort");
	/* DESC walks the list backwards; LIMIT is a range of that walk. */
	EXPECT("*2\r\n$2\r\n-1\r\n$2\r\n10\r\n", "SORT", "l", "by", "nosort", "desc", "limit", "1", "2");
	EXPECT("*2\r\n$2\r\n-1\r\n$3\r\n1.5\r\n", "SORT", "l", "by", "nosort", "limit", "4", "100");
	/* No number is parsed when nothing is sorted. */
	RUN("RPUSH", "bad", "a", "1");
	EXPECT("*2\r\n$1\r\na\r\n$1\r\n1\r\n", "SORT", "bad", "by", "nosort");
	/* A BY without '*' turns sorting off for good, before or after. */
	EXPECT("*6\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n$2\r\n10\r\n$2\r\n-1\r\n$3\r\n1.5\r\n",
	       "SORT", "l", "by", "nosort", "by", "w_*");
	EXPECT("*6\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n$2\r\n10\r\n$2\r\n-1\r\n$3\r\n1.5\r\n",
	       "SORT", "l", "by", "w_*", "by", "nosort");

	RUN("ZADD", "z", "1", "a", "5", "b", "2", "c", "10", "d", "3", "e");
	EXPECT("*5\r\n$1\r\nd\r\n$1\r\nb\r\n$1\r\ne\r\n$1\r\nc\r\n$1\r\na\r\n",
	       "SORT", "z", "by", "nosort", "desc");
	EXPECT("*2\r\n$1\r\nc\r\n$1\r\ne\r\n", "SORT", "z", "by", "nosort", "limit", "1", "2");
	EXPECT("*2\r\n$1\r\nb\r\n$1\r\ne\r\n", "SORT", "z", "by", "nosort", "desc", "limit", "1", "2");
	EXPECT(EMPTY_ARRAY, "SORT", "z", "by", "nosort", "limit", "5", "10");
	EXPECT("*5\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\ne\r\n$1\r\nb\r\n$1\r\nd\r\n",
	       "SORT", "z", "by", "nosort", "limit", "-10", "100");

	/* An intset iterates in order; a set stored unsorted is sorted ALPHA. */
	RUN("SADD", "s", "5", "3", "9", "1");
	EXPECT("*4\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n5\r\n$1\r\n9\r\n", "SORT", "s", "by", "nosort");
	RUN("SADD", "sa", "c", "b", "a", "10", "9");
	EXPECT(":5\r\n", "SORT", "sa", "by", "nosort", "store", "d");
	EXPECT("*5\r\n$2\r\n10\r\n$1\r\n9\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
	       "LRANGE", "d", "0", "-1");
}

static void test_cmd_sort_by_and_get_patterns(void **state)
{
	struct fixture *f = *state;
	RUN("RPUSH", "l", "3", "1", "2");
	RUN("MSET", "w_3", "10", "w_1", "30", "w_2", "20");
	RUN("HSET", "h_1", "f", "2");
	RUN("HSET", "h_3", "f", "1");
	EXPECT("*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n", "SORT", "l", "by", "w_*");
	EXPECT("*2\r\n$1\r\n1\r\n$1\r\n2\r\n", "SORT", "l", "by", "w_*", "desc", "limit", "0", "2");
	/* A missing hash field weighs 0. */
	EXPECT("*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n1\r\n", "SORT", "l", "by", "h_*->f");
	EXPECT("*12\r\n$1\r\n2\r\n$2\r\n20\r\n$-1\r\n$-1\r\n$1\r\n3\r\n$2\r\n10\r\n$1\r\n1\r\n"
	       "$-1\r\n$1\r\n1\r\n$2\r\n30\r\n$1\r\n2\r\n$-1\r\n",
	       "SORT", "l", "by", "h_*->f", "get", "#", "get", "w_*", "get", "h_*->f", "get", "nokey");
	/* ALPHA BY: a missing value sorts first. */
	EXPECT("*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n1\r\n", "SORT", "l", "by", "h_*->f", "alpha");
	/* "->" with nothing after it is part of the key name. */
	EXPECT("*3\r\n$-1\r\n$-1\r\n$-1\r\n", "SORT", "l", "get", "w_*->");
	RUN("SET", "w_1->", "arrow");
	EXPECT("*3\r\n$-1\r\n$5\r\narrow\r\n$-1\r\n", "SORT", "l", "by", "nosort", "get", "w_*->");
	EXPECT("*3\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n", "SORT", "l", "by", "nosort", "get", "#");
	EXPECT("*3\r\n$-1\r\n$-1\r\n$-1\r\n", "SORT", "l", "by", "nosort", "get", "#x");
	/* Only the first '*' is replaced; a key of another type is nothing. */
	RUN("SET", "1*", "star");
	RUN("RPUSH", "w_3x", "a list");
	EXPECT("*3\r\n$-1\r\n$4\r\nstar\r\n$-1\r\n", "SORT", "l", "by", "nosort", "get", "**");
	EXPECT("*3\r\n$-1\r\n$-1\r\n$-1\r\n", "SORT", "l", "by", "nosort", "get", "w_*x");
	EXPECT("*3\r\n$-1\r\n$-1\r\n$-1\r\n", "SORT", "l", "by", "nosort", "get", "w_*->f");
	/* The empty element makes the empty key name. */
	RUN("RPUSH", "e", "");
	RUN("SET", "", "empty");
	EXPECT("*2\r\n$5\r\nempty\r\n$-1\r\n", "SORT", "e", "by", "nosort", "get", "*", "get",
	       "*->f");
	/* Numeric BY values must parse; ALPHA BY takes anything. */
	RUN("SET", "w_2", "notnum");
	EXPECT(NOT_DOUBLE, "SORT", "l", "by", "w_*");
	EXPECT("*3\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n", "SORT", "l", "by", "w_*", "alpha");
	EXPECT("*6\r\n$1\r\n3\r\n$2\r\n10\r\n$1\r\n1\r\n$2\r\n30\r\n$1\r\n2\r\n$6\r\nnotnum\r\n",
	       "SORT_RO", "l", "by", "w_*", "alpha", "get", "#", "get", "w_*");
}

static void test_cmd_sort_expired_keys_are_missing(void **state)
{
	struct fixture *f = *state;
	RUN("RPUSH", "l", "a", "b");
	RUN("SET", "w_a", "2");
	RUN("SET", "w_b", "5", "PX", "1000");
	EXPECT("*4\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nb\r\n$1\r\n5\r\n",
	       "SORT", "l", "by", "w_*", "get", "#", "get", "w_*");
	f->now_ms += 2000;
	EXPECT("*4\r\n$1\r\nb\r\n$-1\r\n$1\r\na\r\n$1\r\n2\r\n",
	       "SORT", "l", "by", "w_*", "get", "#", "get", "w_*");
	assert_false(exists(f, "w_b"));
	RUN("PEXPIRE", "l", "1000");
	f->now_ms += 2000;
	EXPECT(EMPTY_ARRAY, "SORT", "l");
}

static void test_cmd_sort_store(void **state)
{
	struct fixture *f = *state;
	RUN("RPUSH", "l", "3", "1", "2");
	RUN("MSET", "w_3", "10", "w_1", "30", "w_2", "20");
	RUN("HSET", "h_1", "f", "2");
	RUN("HSET", "h_3", "f", "1");
	EXPECT(":6\r\n", "SORT", "l", "by", "w_*", "store", "dst", "get", "w_*", "get", "h_*->f");
	/* A GET that finds nothing stores an empty string. */
	EXPECT("*6\r\n$2\r\n10\r\n$1\r\n1\r\n$2\r\n20\r\n$0\r\n\r\n$2\r\n30\r\n$1\r\n2\r\n",
	       "LRANGE", "dst", "0", "-1");
	/* STORE replaces a key of any type, and its deadline. */
	RUN("SET", "other", "str", "EX", "100");
	EXPECT(":3\r\n", "SORT", "l", "by", "nosort", "store", "other");
	EXPECT("+list\r\n", "TYPE", "other");
	EXPECT(":-1\r\n", "PTTL", "other");
	EXPECT("*3\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n", "LRANGE", "other", "0", "-1");
	/* The sorted key may be its own destination. */
	EXPECT(":3\r\n", "SORT", "l", "desc", "store", "l");
	EXPECT("*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n", "LRANGE", "l", "0", "-1");
	/* An empty result deletes the destination and creates nothing. */
	EXPECT(":0\r\n", "SORT", "nokey", "store", "dst");
	assert_false(exists(f, "dst"));
	EXPECT(":0\r\n", "SORT", "l", "limit", "10", "10", "store", "zap");
	assert_false(exists(f, "zap"));
	/* The last STORE counts. */
	EXPECT(":3\r\n", "SORT", "l", "store", "d1", "store", "d2");
	assert_false(exists(f, "d1"));
	EXPECT(":3\r\n", "LLEN", "d2");
	/* A parse failure stores nothing. */
	RUN("SET", "w_2", "notnum");
	EXPECT(NOT_DOUBLE, "SORT", "l", "by", "w_*", "store", "dst2");
	assert_false(exists(f, "dst2"));
	EXPECT(":3\r\n", "LLEN", "d2");
}

static void test_cmd_sort_errors(void **state)
{
	struct fixture *f = *state;
	RUN("SET", "str", "x");
	RUN("HSET", "hh", "a", "b");
	RUN("RPUSH", "bad", "a", "1");
	EXPECT(WRONGTYPE, "SORT", "str");
	EXPECT(WRONGTYPE, "SORT", "hh");
	EXPECT(WRONGTYPE, "SORT_RO", "hh", "alpha");
	EXPECT(WRONGTYPE, "SORT", "str", "store", "dst");
	assert_false(exists(f, "dst"));
	/* Options are checked before the key. */
	EXPECT(SYNTAX, "SORT", "str", "limit", "0");
	EXPECT(NOT_INT, "SORT", "str", "limit", "x", "1");
	EXPECT(NOT_INT, "SORT", "str", "limit", "0", "1.5");
	EXPECT(SYNTAX, "SORT", "str", "foo");
	EXPECT(SYNTAX, "SORT", "bad", "get");
	EXPECT(SYNTAX, "SORT", "bad", "by");
	EXPECT(SYNTAX, "SORT", "bad", "asc", "store");
	EXPECT(SYNTAX, "SORT", "bad", "limit", "1", "2", "3");
	EXPECT(SYNTAX, "SORT_RO", "bad", "store", "x");
	EXPECT(NOT_DOUBLE, "SORT", "bad");
	EXPECT("*2\r\n$1\r\n1\r\n$1\r\na\r\n", "SORT", "bad", "alpha");
	/* strtod's own syntax: leading blanks, hex, and "" as 0. */
	RUN("RPUSH", "junk", " 2", "0x10", "");
	EXPECT("*3\r\n$0\r\n\r\n$2\r\n 2\r\n$4\r\n0x10\r\n", "SORT", "junk");
	/* Overflow is junk.  (Redis leaves errno at ERANGE after this, so its
	 * next numeric SORTs may fail too until something resets errno: a
	 * Redis bug kevy does not copy.) */
	RUN("RPUSH", "junk", "1e400");
	EXPECT(NOT_DOUBLE, "SORT", "junk");
	RUN("SADD", "nan", "nan");
	EXPECT(NOT_DOUBLE, "SORT", "nan");
}

static const struct kv_command *lookup(const char *name)
{
	const struct kv_command *c = cmd_lookup(name, strlen(name));
	assert_non_null(c);
	return c;
}

/* Whether the call named by the words needs every shard. */
static bool all_shards(const char *first, ...)
{
	struct kv_slice argv[MAX_ARGS];
	int argc = 0;
	va_list ap;
	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *))
		argv[argc++] = (struct kv_slice){ s, strlen(s) };
	va_end(ap);
	return cmd_needs_all_shards(lookup(first), argc, argv);
}

static void test_cmd_sort_all_shards_hook(void **state)
{
	(void)state;
	assert_false(all_shards("sort", "k", NULL));
	assert_false(all_shards("sort", "k", "alpha", "desc", "limit", "0", "1", "store", "d", NULL));
	assert_false(all_shards("sort", "k", "by", "nosort", NULL));
	assert_false(all_shards("sort", "k", "get", "#", "get", "const", NULL));
	assert_false(all_shards("sort", "k", "by", "nosort", "by", "w_*", NULL));
	assert_false(all_shards("sort", "k", "by", "w_*", "by", "nosort", NULL));
	assert_true(all_shards("sort", "k", "by", "w_*", NULL));
	assert_true(all_shards("sort", "k", "by", "h_*->f", "store", "d", NULL));
	assert_true(all_shards("sort", "k", "by", "nosort", "get", "w_*", NULL));
	assert_true(all_shards("SORT_RO", "k", "get", "#", "get", "*", NULL));
	/* A call that does not parse runs nowhere but its key's shard. */
	assert_false(all_shards("sort", "k", "by", "w_*", "foo", NULL));
	assert_false(all_shards("sort_ro", "k", "by", "w_*", "store", "d", NULL));
	/* Other commands: their flag alone. */
	assert_false(all_shards("get", "k", NULL));
	assert_true(all_shards("dbsize", NULL));
}

/* The key argv indexes cmd_get_keys finds, as "1 7". */
static const char *keys_of(char *buf, size_t cap, const char *first, ...)
{
	struct kv_slice argv[MAX_ARGS];
	int argc = 0, idx[MAX_ARGS];
	va_list ap;
	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *))
		argv[argc++] = (struct kv_slice){ s, strlen(s) };
	va_end(ap);
	int n = cmd_get_keys(lookup(first), argc, argv, idx, MAX_ARGS);
	buf[0] = '\0';
	for (int i = 0; i < n; i++)
		snprintf(buf + strlen(buf), cap - strlen(buf), "%s%d", i ? " " : "", idx[i]);
	return buf;
}

static void test_cmd_sort_keys(void **state)
{
	(void)state;
	char b[64];
	assert_string_equal(keys_of(b, sizeof(b), "sort", "abc", NULL), "1");
	assert_string_equal(keys_of(b, sizeof(b), "sort", "abc", "store", "def", NULL), "1 3");
	assert_string_equal(keys_of(b, sizeof(b), "sort", "abc", "store", "invalid", "store",
				    "stillbad", "store", "def", NULL), "1 7");
	assert_string_equal(keys_of(b, sizeof(b), "sort", "abc", "limit", "0", "1", "get", "store",
				    "store", "d", NULL), "1 8");
	/* The handler replies the error of a call that does not parse: only
	 * the sorted key's shard is needed. */
	assert_string_equal(keys_of(b, sizeof(b), "sort", "abc", "store", "d", "junk", NULL), "1");
	assert_string_equal(keys_of(b, sizeof(b), "sort_ro", "abc", NULL), "1");

	const struct kv_command *sort = lookup("sort"), *ro = lookup("sort_ro");
	assert_int_equal(sort->arity, -2);
	assert_int_equal(ro->arity, -2);
	assert_true(sort->flags & CMD_WRITE);
	assert_true(ro->flags & CMD_READONLY);
	assert_false(ro->flags & CMD_WRITE);
	assert_string_equal(sort->group, "generic");
	assert_string_equal(ro->since, "7.0.0");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, fixture_teardown)
	const struct CMUnitTest tests[] = {
		T(test_cmd_sort_numeric_alpha_limit),
		T(test_cmd_sort_nosort_keeps_native_order),
		T(test_cmd_sort_by_and_get_patterns),
		T(test_cmd_sort_expired_keys_are_missing),
		T(test_cmd_sort_store),
		T(test_cmd_sort_errors),
		T(test_cmd_sort_all_shards_hook),
		T(test_cmd_sort_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
