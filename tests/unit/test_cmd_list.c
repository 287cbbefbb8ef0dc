/*
 * test_cmd_list.c - the list commands answer byte for byte what Redis
 * 7.0.15 answers for the same calls (every expected reply below was taken
 * from redis-server), delete emptied lists, and keep the keyspace's memory
 * count equal to what the lists hold.
 *
 * Handlers run through a hand-built struct cmd_ctx over two keyspaces
 * (nshards = 2), so keys spread over two shards as in the server; there is
 * no runtime (c->shard is NULL), so hit/miss counting is not covered.
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
#include "store/t_list.h"

#define MAX_ARGS 32
#define NSHARDS 2

#include "cmd_fixture.h"

static const struct kv_command *find_cmd(const struct kv_slice *name)
{
	return fixture_find_in(cmd_table_list, name);
}

static int setup(void **state)
{
	struct fixture *f = fixture_new(NSHARDS);
	f->find = find_cmd;
	*state = f;
	return 0;
}

#define RUN(...) run(f, __VA_ARGS__, NULL)
#define EXPECT(reply, ...) assert_string_equal(RUN(__VA_ARGS__), reply)

#define WRONGTYPE "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
#define SYNTAX "-ERR syntax error\r\n"
#define NOT_INT "-ERR value is not an integer or out of range\r\n"
#define NIL "$-1\r\n"
#define NIL_ARRAY "*-1\r\n"
#define EMPTY_ARRAY "*0\r\n"
#define OK "+OK\r\n"

static bool exists(struct fixture *f, const char *key)
{
	return db_lookup(db_of(f, key), key, strlen(key), NOW_MS) != NULL;
}

static void make_string(struct fixture *f, const char *key)
{
	db_set_string(db_of(f, key), key, strlen(key), "v", 1, KV_NO_EXPIRE);
}

static void test_cmd_list_push_and_range(void **state)
{
	struct fixture *f = *state;
	EXPECT(":3\r\n", "RPUSH", "l", "a", "b", "c");
	EXPECT(":5\r\n", "LPUSH", "l", "y", "x");
	EXPECT("*5\r\n$1\r\nx\r\n$1\r\ny\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
	       "LRANGE", "l", "0", "-1");
	EXPECT("*2\r\n$1\r\nb\r\n$1\r\nc\r\n", "LRANGE", "l", "-2", "100");
	EXPECT(EMPTY_ARRAY, "LRANGE", "l", "3", "2");
	EXPECT(EMPTY_ARRAY, "LRANGE", "l", "9223372036854775807", "-9223372036854775808");
	EXPECT(EMPTY_ARRAY, "LRANGE", "nokey", "0", "-1");
	EXPECT(NOT_INT, "LRANGE", "l", "x", "1");
	EXPECT(":0\r\n", "LPUSHX", "nokey", "a");
	EXPECT(":0\r\n", "RPUSHX", "nokey", "a", "b");
	assert_false(exists(f, "nokey"));
	EXPECT(":7\r\n", "RPUSHX", "l", "z", "w");
	EXPECT(":7\r\n", "LLEN", "l");
	EXPECT(":0\r\n", "LLEN", "nokey");
	/* Integers come back exactly as sent, canonical or not. */
	EXPECT(":8\r\n", "RPUSH", "i", "0", "-4096", "9223372036854775807",
	       "-9223372036854775808", "007", "-0", "+1", "");
	EXPECT("*8\r\n$1\r\n0\r\n$5\r\n-4096\r\n$19\r\n9223372036854775807\r\n"
	       "$20\r\n-9223372036854775808\r\n$3\r\n007\r\n$2\r\n-0\r\n$2\r\n+1\r\n$0\r\n\r\n",
	       "LRANGE", "i", "0", "-1");
}

static void test_cmd_list_wrongtype(void **state)
{
	struct fixture *f = *state;
	make_string(f, "s");
	EXPECT(WRONGTYPE, "LPUSH", "s", "a");
	EXPECT(WRONGTYPE, "RPUSHX", "s", "a");
	EXPECT(WRONGTYPE, "LPOP", "s");
	EXPECT(WRONGTYPE, "LPOP", "s", "0");
	EXPECT(WRONGTYPE, "LLEN", "s");
	EXPECT(WRONGTYPE, "LRANGE", "s", "0", "-1");
	EXPECT(NOT_INT, "LRANGE", "s", "x", "0");
	EXPECT(WRONGTYPE, "LINDEX", "s", "x");
	EXPECT(WRONGTYPE, "LSET", "s", "0", "x");
	EXPECT(WRONGTYPE, "LINSERT", "s", "before", "a", "x");
	EXPECT(SYNTAX, "LINSERT", "s", "middle", "a", "x");
	EXPECT(WRONGTYPE, "LREM", "s", "0", "a");
	EXPECT(NOT_INT, "LTRIM", "s", "x", "1");
	EXPECT(WRONGTYPE, "LTRIM", "s", "0", "1");
	EXPECT(WRONGTYPE, "LPOS", "s", "a");
	EXPECT(WRONGTYPE, "LMPOP", "2", "nokey", "s", "left");
}

static void test_cmd_list_pop_count(void **state)
{
	struct fixture *f = *state;
	EXPECT(":4\r\n", "RPUSH", "l", "a", "b", "c", "d");
	EXPECT("$1\r\na\r\n", "LPOP", "l");
	EXPECT("$1\r\nd\r\n", "RPOP", "l");
	EXPECT(EMPTY_ARRAY, "LPOP", "l", "0");
	EXPECT("-ERR value is out of range, must be positive\r\n", "LPOP", "l", "-1");
	EXPECT("-ERR value is out of range, must be positive\r\n", "LPOP", "l", "x");
	EXPECT("-ERR wrong number of arguments for 'lpop' command\r\n", "LPOP", "l", "1", "2");
	EXPECT("*2\r\n$1\r\nc\r\n$1\r\nb\r\n", "RPOP", "l", "3");
	assert_false(exists(f, "l"));
	EXPECT(NIL, "RPOP", "nokey");
	EXPECT(NIL_ARRAY, "RPOP", "nokey", "2");
	EXPECT(NIL_ARRAY, "RPOP", "nokey", "0");
	EXPECT("-ERR value is out of range, must be positive\r\n", "RPOP", "nokey", "-1");
}

static void test_cmd_list_index_and_set(void **state)
{
	struct fixture *f = *state;
	EXPECT(":3\r\n", "RPUSH", "l", "a", "b", "c");
	EXPECT("$1\r\na\r\n", "LINDEX", "l", "0");
	EXPECT("$1\r\nc\r\n", "LINDEX", "l", "-1");
	EXPECT(NIL, "LINDEX", "l", "3");
	EXPECT(NIL, "LINDEX", "l", "-4");
	EXPECT(NOT_INT, "LINDEX", "l", "x");
	EXPECT(NIL, "LINDEX", "nokey", "x");
	EXPECT("-ERR no such key\r\n", "LSET", "nokey", "x", "y");
	EXPECT(NOT_INT, "LSET", "l", "x", "y");
	EXPECT("-ERR index out of range\r\n", "LSET", "l", "3", "y");
	EXPECT("-ERR index out of range\r\n", "LSET", "l", "-4", "y");
	EXPECT(OK, "LSET", "l", "-1", "last");
	EXPECT(OK, "LSET", "l", "0", "12345");
	EXPECT("*3\r\n$5\r\n12345\r\n$1\r\nb\r\n$4\r\nlast\r\n", "LRANGE", "l", "0", "-1");
}

static void test_cmd_list_insert_rem_trim(void **state)
{
	struct fixture *f = *state;
	EXPECT(":3\r\n", "RPUSH", "l", "a", "b", "a");
	EXPECT(":4\r\n", "LINSERT", "l", "BEFORE", "a", "X");
	EXPECT(":5\r\n", "LINSERT", "l", "after", "b", "Y");
	EXPECT(":-1\r\n", "LINSERT", "l", "before", "nothere", "Z");
	EXPECT(":0\r\n", "LINSERT", "nokey", "before", "a", "Z");
	EXPECT(SYNTAX, "LINSERT", "nokey", "middle", "a", "Z");
	EXPECT("*5\r\n$1\r\nX\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nY\r\n$1\r\na\r\n",
	       "LRANGE", "l", "0", "-1");
	EXPECT(":1\r\n", "LREM", "l", "-1", "a");
	EXPECT("*4\r\n$1\r\nX\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nY\r\n", "LRANGE", "l", "0", "-1");
	EXPECT(":0\r\n", "LREM", "nokey", "0", "a");
	EXPECT(NOT_INT, "LREM", "l", "x", "a");
	EXPECT(OK, "LTRIM", "l", "1", "-2");
	EXPECT("*2\r\n$1\r\na\r\n$1\r\nb\r\n", "LRANGE", "l", "0", "-1");
	EXPECT(OK, "LTRIM", "nokey", "0", "1");
	EXPECT(OK, "LTRIM", "l", "5", "1");
	assert_false(exists(f, "l"));
	EXPECT(":6\r\n", "RPUSH", "r", "a", "x", "a", "y", "a", "a");
	EXPECT(":2\r\n", "LREM", "r", "2", "a");
	EXPECT(":2\r\n", "LREM", "r", "0", "a");
	EXPECT(":1\r\n", "LREM", "r", "0", "x");
	EXPECT(":1\r\n", "LREM", "r", "-5", "y");
	assert_false(exists(f, "r"));
}

static void test_cmd_list_lpos(void **state)
{
	struct fixture *f = *state;
	EXPECT(":8\r\n", "RPUSH", "p", "a", "b", "c", "1", "2", "3", "c", "c");
	EXPECT(":2\r\n", "LPOS", "p", "c");
	EXPECT(":6\r\n", "LPOS", "p", "c", "RANK", "2");
	EXPECT(":7\r\n", "LPOS", "p", "c", "RANK", "-1");
	EXPECT("*3\r\n:2\r\n:6\r\n:7\r\n", "LPOS", "p", "c", "COUNT", "0");
	EXPECT("*2\r\n:7\r\n:6\r\n", "LPOS", "p", "c", "RANK", "-1", "COUNT", "2");
	EXPECT("*1\r\n:2\r\n", "LPOS", "p", "c", "MAXLEN", "3", "COUNT", "0");
	EXPECT(NIL, "LPOS", "p", "c", "RANK", "4");
	EXPECT(NIL, "LPOS", "p", "zz");
	EXPECT(EMPTY_ARRAY, "LPOS", "p", "zz", "COUNT", "0");
	EXPECT(NIL, "LPOS", "nokey", "a");
	EXPECT(EMPTY_ARRAY, "LPOS", "nokey", "a", "COUNT", "1");
	EXPECT("-ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
	       "second ... or use negative to start from the end of the list\r\n",
	       "LPOS", "p", "c", "RANK", "0");
	EXPECT("-ERR COUNT can't be negative\r\n", "LPOS", "p", "c", "COUNT", "-1");
	EXPECT("-ERR MAXLEN can't be negative\r\n", "LPOS", "p", "c", "MAXLEN", "-1");
	EXPECT(NOT_INT, "LPOS", "p", "c", "RANK", "x");
	EXPECT(SYNTAX, "LPOS", "p", "c", "COUNT");
	EXPECT(SYNTAX, "LPOS", "p", "c", "FOO", "1");
	/* Redis negates RANK in a long, so LONG_MIN matches from the tail and
	 * COUNT never stops it. */
	EXPECT(":7\r\n", "LPOS", "p", "c", "RANK", "-9223372036854775808");
	EXPECT("*3\r\n:7\r\n:6\r\n:2\r\n", "LPOS", "p", "c", "RANK", "-9223372036854775808",
	       "COUNT", "1");
}

static void test_cmd_list_lmove_rpoplpush(void **state)
{
	struct fixture *f = *state;
	make_string(f, "s");
	EXPECT(":3\r\n", "RPUSH", "m1", "a", "b", "c");
	EXPECT("$1\r\na\r\n", "LMOVE", "m1", "m2", "LEFT", "RIGHT");
	EXPECT("$1\r\nc\r\n", "LMOVE", "m1", "m2", "right", "left");
	EXPECT("*2\r\n$1\r\nc\r\n$1\r\na\r\n", "LRANGE", "m2", "0", "-1");
	EXPECT(SYNTAX, "LMOVE", "m1", "m2", "up", "left");
	EXPECT(NIL, "LMOVE", "nokey", "s", "left", "right");
	EXPECT(WRONGTYPE, "LMOVE", "m1", "s", "left", "right");
	EXPECT(WRONGTYPE, "LMOVE", "s", "m1", "left", "right");
	/* Same key rotates, also with one element. */
	EXPECT("$1\r\na\r\n", "RPOPLPUSH", "m2", "m2");
	EXPECT("*2\r\n$1\r\na\r\n$1\r\nc\r\n", "LRANGE", "m2", "0", "-1");
	EXPECT("$1\r\nb\r\n", "LMOVE", "m1", "m1", "left", "left");
	EXPECT("*1\r\n$1\r\nb\r\n", "LRANGE", "m1", "0", "-1");
	EXPECT("$1\r\nb\r\n", "RPOPLPUSH", "m1", "m3");
	assert_false(exists(f, "m1"));
	EXPECT(NIL, "RPOPLPUSH", "m1", "m3");
}

static void test_cmd_list_lmpop(void **state)
{
	struct fixture *f = *state;
	make_string(f, "s");
	EXPECT(":3\r\n", "RPUSH", "q1", "a", "b", "c");
	EXPECT(":2\r\n", "RPUSH", "q2", "d", "e");
	EXPECT("*2\r\n$2\r\nq1\r\n*1\r\n$1\r\na\r\n", "LMPOP", "2", "nokey", "q1", "LEFT");
	EXPECT("*2\r\n$2\r\nq1\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n",
	       "LMPOP", "2", "nokey", "q1", "right", "COUNT", "5");
	assert_false(exists(f, "q1"));
	EXPECT("*2\r\n$2\r\nq2\r\n*2\r\n$1\r\nd\r\n$1\r\ne\r\n",
	       "LMPOP", "2", "q1", "q2", "left", "count", "2");
	EXPECT(NIL_ARRAY, "LMPOP", "2", "q1", "q2", "left");
	EXPECT("-ERR numkeys should be greater than 0\r\n", "LMPOP", "0", "a", "left");
	EXPECT("-ERR numkeys should be greater than 0\r\n", "LMPOP", "x", "a", "left");
	EXPECT(SYNTAX, "LMPOP", "3", "a", "b", "left");
	EXPECT(SYNTAX, "LMPOP", "2", "a", "b");
	EXPECT(SYNTAX, "LMPOP", "9223372036854775807", "a", "left");
	EXPECT(SYNTAX, "LMPOP", "1", "a", "middle");
	EXPECT("-ERR count should be greater than 0\r\n", "LMPOP", "1", "a", "left", "count", "0");
	EXPECT("-ERR count should be greater than 0\r\n", "LMPOP", "1", "a", "left", "count", "x");
	EXPECT(SYNTAX, "LMPOP", "1", "a", "left", "count", "1", "count", "2");
	EXPECT(SYNTAX, "LMPOP", "1", "a", "left", "count");
	EXPECT(WRONGTYPE, "LMPOP", "1", "s", "left");

	/* Key extraction for the runtime. */
	const struct kv_command *cmd = NULL;
	for (const struct kv_command *c = cmd_table_list; c->name; c++)
		if (strcmp(c->name, "lmpop") == 0)
			cmd = c;
	assert_non_null(cmd);
	struct kv_slice argv[] = { { "lmpop", 5 }, { "2", 1 }, { "a", 1 }, { "b", 1 },
				   { "left", 4 } };
	int idx[8];
	assert_int_equal(cmd_get_keys(cmd, 5, argv, idx, 8), 2);
	assert_int_equal(idx[0], 2);
	assert_int_equal(idx[1], 3);
	argv[1] = (struct kv_slice){ "3", 1 };
	assert_int_equal(cmd_get_keys(cmd, 5, argv, idx, 8), -1);
}

/* Many elements across many nodes: every reply agrees with a plain count,
 * and the keyspace memory returns to its baseline once the list is gone. */
static void test_cmd_list_big_list_and_memory(void **state)
{
	struct fixture *f = *state;
	struct kv_db *db = db_of(f, "big");
	size_t base = db_memory_used(db);
	char num[32], expect[64];
	for (int i = 0; i < 20000; i++) {
		snprintf(num, sizeof(num), "element:%d", i);
		RUN("RPUSH", "big", num);
	}
	EXPECT(":20000\r\n", "LLEN", "big");
	EXPECT("$13\r\nelement:12345\r\n", "LINDEX", "big", "12345");
	EXPECT("$13\r\nelement:19999\r\n", "LINDEX", "big", "-1");
	EXPECT(":20001\r\n", "LINSERT", "big", "BEFORE", "element:10000", "mid");
	EXPECT("$3\r\nmid\r\n", "LINDEX", "big", "10000");
	EXPECT(OK, "LSET", "big", "5000", "changed");
	EXPECT(":1\r\n", "LREM", "big", "0", "changed");
	EXPECT(":1\r\n", "LPOS", "big", "element:1");
	EXPECT(OK, "LTRIM", "big", "100", "-101");
	EXPECT(":19800\r\n", "LLEN", "big");
	/* list_lookup is also the strong reference that links cmd_list.c into
	 * this program (cmd.h only declares cmd_table_list weak). */
	bool wrongtype;
	struct list *l = list_lookup(db, "big", 3, NOW_MS, &wrongtype);
	assert_non_null(l);
	assert_false(wrongtype);
	assert_int_equal(list_verify(l), 0);
	assert_true(list_node_count(l) > 20);
	snprintf(expect, sizeof(expect), "*1\r\n$11\r\nelement:100\r\n");
	EXPECT(expect, "LRANGE", "big", "0", "0");
	assert_true(db_memory_used(db) > base + 19800 * 10);
	/* Pop everything through the commands: the key goes, memory returns. */
	while (strcmp(RUN("LPOP", "big", "1000"), NIL_ARRAY) != 0)
		;
	assert_false(exists(f, "big"));
	assert_int_equal(db_memory_used(db), base);
}

/* Memory stays exact through in-place edits: deleting the key afterwards
 * brings the count back to the baseline. */
static void test_cmd_list_memory_accounting_exact(void **state)
{
	struct fixture *f = *state;
	struct kv_db *db = db_of(f, "k");
	size_t base = db_memory_used(db);
	static char big[20000];
	memset(big, 'x', sizeof(big) - 1);
	RUN("RPUSH", "k", "a", "b", "c", "d");
	RUN("LSET", "k", "1", big);
	RUN("LINSERT", "k", "after", "c", big);
	RUN("LREM", "k", "1", "a");
	RUN("LSET", "k", "0", "small");
	RUN("LTRIM", "k", "0", "1");
	RUN("RPOPLPUSH", "k", "k");
	assert_true(db_memory_used(db) > base);
	assert_int_equal(db_delete(db, "k", 1), 1);
	assert_int_equal(db_memory_used(db), base);
}

static void test_cmd_list_table_matches_redis(void **state)
{
	(void)state;
	size_t n = 0;
	for (const struct kv_command *c = cmd_table_list; c->name; c++) {
		assert_string_equal(c->group, "list");
		assert_non_null(c->summary);
		assert_non_null(c->complexity);
		n++;
	}
	assert_int_equal(n, 17);
	struct kv_slice lmpop = { "lmpop", 5 }, lmove = { "LMOVE", 5 };
	assert_int_equal(find_cmd(&lmpop)->arity, -4);
	assert_int_equal(find_cmd(&lmove)->last_key, 2);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, fixture_teardown)
	const struct CMUnitTest tests[] = {
		T(test_cmd_list_push_and_range),
		T(test_cmd_list_wrongtype),
		T(test_cmd_list_pop_count),
		T(test_cmd_list_index_and_set),
		T(test_cmd_list_insert_rem_trim),
		T(test_cmd_list_lpos),
		T(test_cmd_list_lmove_rpoplpush),
		T(test_cmd_list_lmpop),
		T(test_cmd_list_big_list_and_memory),
		T(test_cmd_list_memory_accounting_exact),
		T(test_cmd_list_table_matches_redis),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
