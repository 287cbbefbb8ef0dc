/*
 * test_cmd_string.c - the string commands answer byte for byte what Redis
 * 7.0.15 answers for the same calls (each expected reply below was taken
 * from redis-server), and leave the keyspace as Redis would.
 *
 * Handlers run on one keyspace through a hand-built struct cmd_ctx with no
 * runtime around it (c->shard is NULL), so keyspace hit/miss counting is not
 * covered here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "commands/cmd.h"
#include "cmd_fixture.h"
#include "commands/config.h"
#include "store/store.h"
#include "store/t_list.h"

static const struct kv_command *find_cmd(const struct kv_slice *name)
{
	return fixture_find_in(cmd_table_string, name);
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
#define NOT_FLOAT "-ERR value is not a valid float\r\n"
#define NIL "$-1\r\n"
#define OK "+OK\r\n"
#define EMPTY "$0\r\n\r\n"

/* A key of another type: a real one-element list, made through the store. */
static void make_list(struct fixture *f, const char *key)
{
	struct list *l = list_new();
	list_push(l, LIST_TAIL, "x", 1);
	db_set_object(f->db, key, strlen(key), KV_TYPE_LIST, l, KV_NO_EXPIRE);
}

static int64_t deadline_of(struct fixture *f, const char *key)
{
	struct kv_entry *e = db_lookup(f->db, key, strlen(key), 0);
	assert_non_null(e);
	return entry_expire(e);
}

static bool exists(struct fixture *f, const char *key)
{
	return db_lookup(f->db, key, strlen(key), f->now_ms) != NULL;
}

/* ---- GET / SET ---- */

static void test_cmd_string_get_set(void **state)
{
	struct fixture *f = *state;

	EXPECT(NIL, "GET", "k");
	EXPECT(OK, "SET", "k", "v");
	EXPECT("$1\r\nv\r\n", "get", "k");
	EXPECT(OK, "SET", "k", "");
	EXPECT(EMPTY, "GET", "k");
	/* Binary-safe value. */
	struct kv_slice set[] = { { "SET", 3 }, { "b", 1 }, { "a\0\r\nz", 5 } };
	assert_string_equal(run_argv(f, 3, set), OK);
	assert_memory_equal(RUN("GET", "b"), "$5\r\na\0\r\nz\r\n", 12);
	make_list(f, "l");
	EXPECT(WRONGTYPE, "GET", "l");
	/* SET replaces a value of any type. */
	EXPECT(OK, "SET", "l", "v");
	EXPECT("$1\r\nv\r\n", "GET", "l");
}

static void test_cmd_string_set_option_conflicts(void **state)
{
	struct fixture *f = *state;

	EXPECT(SYNTAX, "SET", "k", "v", "NX", "XX");
	EXPECT(SYNTAX, "SET", "k", "v", "XX", "NX");
	EXPECT(SYNTAX, "SET", "k", "v", "EX", "10", "KEEPTTL");
	EXPECT(SYNTAX, "SET", "k", "v", "KEEPTTL", "EX", "10");
	EXPECT(SYNTAX, "SET", "k", "v", "EX", "10", "PX", "20");
	EXPECT(SYNTAX, "SET", "k", "v", "PXAT", "99999999999999", "EXAT", "1");
	EXPECT(SYNTAX, "SET", "k", "v", "PXAT", "1", "KEEPTTL");
	EXPECT(SYNTAX, "SET", "k", "v", "EX");
	EXPECT(SYNTAX, "SET", "k", "v", "foo");
	EXPECT(SYNTAX, "SET", "k", "v", "PERSIST");
	/* Options are parsed before the expire value is read. */
	EXPECT(SYNTAX, "SET", "k", "v", "EX", "abc", "NX", "XX");
	assert_false(exists(f, "k"));
	/* Repeating an option is allowed; the last expire wins. */
	EXPECT(OK, "SET", "k", "v", "EX", "10", "EX", "20");
	assert_int_equal(deadline_of(f, "k"), NOW_MS + 20000);
	EXPECT(OK, "SET", "k", "v", "KEEPTTL", "KEEPTTL");
	EXPECT(NIL, "SET", "k", "v", "NX", "NX");
	EXPECT("$1\r\nv\r\n", "SET", "k", "w", "Get", "get", "nX");
	EXPECT("$1\r\nv\r\n", "SET", "k", "w", "Ex", "100", "gEt", "xX");
}

static void test_cmd_string_set_option_cut_at_nul(void **state)
{
	struct fixture *f = *state;
	/* Redis compares SET's options as C strings: "nx\0junk" is NX. */
	struct kv_slice nx[] = { { "SET", 3 }, { "k", 1 }, { "v", 1 }, { "nx\0junk", 7 } };

	assert_string_equal(run_argv(f, 4, nx), OK);
	assert_string_equal(run_argv(f, 4, nx), NIL);
}

static void test_cmd_string_set_invalid_expire(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[][2] = {
		{ "EX", "0" }, { "EX", "-1" }, { "PX", "0" }, { "EXAT", "0" }, { "PXAT", "0" },
		/* seconds * 1000 + now overflows */
		{ "EX", "9223372036854775" }, { "EX", "9223372036854776" },
		{ "EX", "9223372036854775807" }, { "PX", "9223372036854775807" },
		{ "EXAT", "9223372036854776" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT("-ERR invalid expire time in 'set' command\r\n",
		       "SET", "k", "v", bad[i][0], bad[i][1]);
	EXPECT(NOT_INT, "SET", "k", "v", "EX", "abc");
	EXPECT(NOT_INT, "SET", "k", "v", "EX", "9223372036854775808");
	EXPECT(NOT_INT, "SET", "k", "v", "EX", " 10");
	assert_false(exists(f, "k"));
	/* The expire value is checked before GET looks at the key. */
	make_list(f, "l");
	EXPECT("-ERR invalid expire time in 'set' command\r\n", "SET", "l", "v", "GET", "EX", "0");
}

static void test_cmd_string_set_expire_deadlines(void **state)
{
	struct fixture *f = *state;

	EXPECT(OK, "SET", "k", "v", "EX", "10");
	assert_int_equal(deadline_of(f, "k"), NOW_MS + 10000);
	EXPECT(OK, "SET", "k", "v", "px", "5");
	assert_int_equal(deadline_of(f, "k"), NOW_MS + 5);
	EXPECT(OK, "SET", "k", "v", "EXAT", "2000000000");
	assert_int_equal(deadline_of(f, "k"), 2000000000000LL);
	EXPECT(OK, "SET", "k", "v", "PXAT", "2000000000123");
	assert_int_equal(deadline_of(f, "k"), 2000000000123LL);
	EXPECT(OK, "SET", "k", "v", "EXAT", "9223372036854775");
	assert_int_equal(deadline_of(f, "k"), 9223372036854775000LL);
	EXPECT(OK, "SET", "k", "v", "PXAT", "9223372036854775807");
	assert_int_equal(deadline_of(f, "k"), INT64_MAX);
}

static void test_cmd_string_set_past_deadline(void **state)
{
	struct fixture *f = *state;

	/* Redis 7.0 accepts a deadline in the past and replies OK; the key is
	 * gone on its next access. */
	EXPECT(OK, "SET", "k", "v", "EXAT", "1");
	EXPECT(NIL, "GET", "k");
	EXPECT(NIL, "SET", "k", "v", "EXAT", "1", "GET");
	EXPECT(OK, "SET", "k", "v2");
	EXPECT("$2\r\nv2\r\n", "SET", "k", "v3", "PXAT", "1000", "GET");
	EXPECT(NIL, "GET", "k");
}

static void test_cmd_string_set_nx_xx(void **state)
{
	struct fixture *f = *state;

	EXPECT(NIL, "SET", "k", "v", "XX");
	assert_false(exists(f, "k"));
	EXPECT(OK, "SET", "k", "v", "NX");
	EXPECT(NIL, "SET", "k", "w", "NX");
	EXPECT(OK, "SET", "k", "x", "XX");
	EXPECT("$1\r\nx\r\n", "GET", "k");
	/* An expired key counts as missing. */
	EXPECT(OK, "SET", "e", "v", "PX", "100");
	f->now_ms += 100;
	EXPECT(NIL, "SET", "e", "v", "XX");
	EXPECT(OK, "SET", "e", "v", "NX");
}

static void test_cmd_string_set_get_option(void **state)
{
	struct fixture *f = *state;

	EXPECT(NIL, "SET", "k", "v", "GET");
	EXPECT("$1\r\nv\r\n", "SET", "k", "w", "GET");
	EXPECT("$1\r\nw\r\n", "GET", "k");
	/* With NX the old value is the reply and nothing is set. */
	EXPECT("$1\r\nw\r\n", "SET", "k", "x", "GET", "NX");
	EXPECT("$1\r\nw\r\n", "GET", "k");
	EXPECT(NIL, "SET", "m", "x", "XX", "GET");
	assert_false(exists(f, "m"));
	make_list(f, "l");
	EXPECT(WRONGTYPE, "SET", "l", "v", "GET");
	EXPECT(WRONGTYPE, "SET", "l", "v", "NX", "GET");
	EXPECT(WRONGTYPE, "GET", "l");
}

static void test_cmd_string_set_ttl(void **state)
{
	struct fixture *f = *state;

	EXPECT(OK, "SET", "k", "v", "EX", "100");
	EXPECT(OK, "SET", "k", "v", "KEEPTTL");
	assert_int_equal(deadline_of(f, "k"), NOW_MS + 100000);
	/* Without KEEPTTL a SET drops the TTL. */
	EXPECT(OK, "SET", "k", "v");
	assert_int_equal(deadline_of(f, "k"), KV_NO_EXPIRE);
	EXPECT(OK, "SET", "n", "v", "KEEPTTL");
	assert_int_equal(deadline_of(f, "n"), KV_NO_EXPIRE);
}

static void test_cmd_string_setnx(void **state)
{
	struct fixture *f = *state;

	EXPECT(":1\r\n", "SETNX", "k", "a");
	EXPECT(":0\r\n", "SETNX", "k", "b");
	EXPECT("$1\r\na\r\n", "GET", "k");
	make_list(f, "l");
	EXPECT(":0\r\n", "SETNX", "l", "b");
}

static void test_cmd_string_setex_psetex(void **state)
{
	struct fixture *f = *state;

	EXPECT("-ERR invalid expire time in 'setex' command\r\n", "SETEX", "k", "0", "v");
	EXPECT("-ERR invalid expire time in 'setex' command\r\n", "SETEX", "k", "-5", "v");
	EXPECT("-ERR invalid expire time in 'setex' command\r\n", "setex", "k",
	       "9223372036854776", "v");
	EXPECT(NOT_INT, "SETEX", "k", "abc", "v");
	EXPECT("-ERR invalid expire time in 'psetex' command\r\n", "PSETEX", "k", "0", "v");
	EXPECT("-ERR invalid expire time in 'psetex' command\r\n", "PSETEX", "k",
	       "9223372036854775807", "v");
	assert_false(exists(f, "k"));
	EXPECT(OK, "SETEX", "k", "10", "v");
	assert_int_equal(deadline_of(f, "k"), NOW_MS + 10000);
	EXPECT(OK, "PSETEX", "k", "10", "w");
	assert_int_equal(deadline_of(f, "k"), NOW_MS + 10);
	EXPECT("$1\r\nw\r\n", "GET", "k");
}

static void test_cmd_string_getset(void **state)
{
	struct fixture *f = *state;

	EXPECT(NIL, "GETSET", "k", "a");
	EXPECT("$1\r\na\r\n", "GETSET", "k", "b");
	EXPECT(OK, "SET", "k", "v", "EX", "100");
	EXPECT("$1\r\nv\r\n", "GETSET", "k", "w");
	assert_int_equal(deadline_of(f, "k"), KV_NO_EXPIRE);
	make_list(f, "l");
	EXPECT(WRONGTYPE, "GETSET", "l", "x");
}

static void test_cmd_string_getdel(void **state)
{
	struct fixture *f = *state;

	EXPECT(OK, "SET", "k", "v");
	EXPECT("$1\r\nv\r\n", "GETDEL", "k");
	assert_false(exists(f, "k"));
	EXPECT(NIL, "GETDEL", "k");
	make_list(f, "l");
	EXPECT(WRONGTYPE, "GETDEL", "l");
	assert_true(exists(f, "l"));
}

static void test_cmd_string_getex_options(void **state)
{
	struct fixture *f = *state;

	/* Options are parsed first, the expire value only checked on a string. */
	EXPECT(NIL, "GETEX", "nokey");
	EXPECT(NIL, "GETEX", "nokey", "EX", "0");
	EXPECT(NIL, "GETEX", "nokey", "EX", "abc");
	EXPECT(SYNTAX, "GETEX", "nokey", "foo");
	EXPECT(OK, "SET", "k", "v");
	EXPECT(SYNTAX, "GETEX", "k", "PERSIST", "EX", "10");
	EXPECT(SYNTAX, "GETEX", "k", "EX", "10", "PERSIST");
	EXPECT(SYNTAX, "GETEX", "k", "PXAT", "99999999999999", "PERSIST");
	EXPECT(SYNTAX, "GETEX", "k", "EXAT", "10", "EX", "10");
	EXPECT(SYNTAX, "GETEX", "k", "KEEPTTL");
	EXPECT(SYNTAX, "GETEX", "k", "NX");
	EXPECT(SYNTAX, "GETEX", "k", "GET");
	EXPECT(SYNTAX, "GETEX", "k", "EX");
	EXPECT("-ERR invalid expire time in 'getex' command\r\n", "GETEX", "k", "EX", "0");
	EXPECT("-ERR invalid expire time in 'getex' command\r\n", "GETEX", "k", "EX",
	       "9223372036854775");
	EXPECT(NOT_INT, "GETEX", "k", "EX", "abc");
	make_list(f, "l");
	EXPECT(WRONGTYPE, "GETEX", "l", "EX", "0");
	EXPECT(SYNTAX, "GETEX", "l", "foo");
}

static void test_cmd_string_getex_ttl(void **state)
{
	struct fixture *f = *state;

	EXPECT(OK, "SET", "k", "v");
	EXPECT("$1\r\nv\r\n", "GETEX", "k");
	assert_int_equal(deadline_of(f, "k"), KV_NO_EXPIRE);
	EXPECT("$1\r\nv\r\n", "GETEX", "k", "EX", "100");
	assert_int_equal(deadline_of(f, "k"), NOW_MS + 100000);
	EXPECT("$1\r\nv\r\n", "GETEX", "k", "EX", "100", "EX", "200");
	assert_int_equal(deadline_of(f, "k"), NOW_MS + 200000);
	EXPECT("$1\r\nv\r\n", "GETEX", "k", "PX", "5");
	assert_int_equal(deadline_of(f, "k"), NOW_MS + 5);
	EXPECT("$1\r\nv\r\n", "GETEX", "k", "PXAT", "9223372036854775807");
	assert_int_equal(deadline_of(f, "k"), INT64_MAX);
	EXPECT("$1\r\nv\r\n", "GETEX", "k", "PERSIST", "PERSIST");
	assert_int_equal(deadline_of(f, "k"), KV_NO_EXPIRE);
	/* An absolute deadline in the past deletes the key after the reply. */
	EXPECT("$1\r\nv\r\n", "GETEX", "k", "EXAT", "1");
	assert_null(db_lookup(f->db, "k", 1, 0));
}

/* ---- several keys ---- */

static void test_cmd_string_mget(void **state)
{
	struct fixture *f = *state;

	EXPECT(OK, "SET", "k", "w");
	make_list(f, "l");
	EXPECT("*4\r\n$1\r\nw\r\n$-1\r\n$-1\r\n$1\r\nw\r\n", "MGET", "k", "l", "nokey", "k");
	EXPECT("*1\r\n$-1\r\n", "MGET", "nokey");
}

static void test_cmd_string_mset_msetnx(void **state)
{
	struct fixture *f = *state;

	EXPECT("-ERR wrong number of arguments for 'mset' command\r\n", "MSET", "a", "1", "b");
	EXPECT("-ERR wrong number of arguments for 'msetnx' command\r\n", "MSETNX", "a", "1", "b");
	assert_false(exists(f, "a"));
	EXPECT(OK, "SET", "t", "v", "EX", "100");
	EXPECT(OK, "MSET", "a", "1", "b", "2", "a", "3", "t", "x");
	EXPECT("*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\nx\r\n", "MGET", "a", "b", "t");
	assert_int_equal(deadline_of(f, "t"), KV_NO_EXPIRE);
	/* MSETNX sets nothing when any key exists, whatever its type. */
	EXPECT(":0\r\n", "MSETNX", "c", "1", "a", "2");
	assert_false(exists(f, "c"));
	make_list(f, "l");
	EXPECT(":0\r\n", "MSETNX", "c", "1", "l", "2");
	EXPECT(":1\r\n", "MSETNX", "c", "1", "d", "2", "c", "3");
	EXPECT("*2\r\n$1\r\n3\r\n$1\r\n2\r\n", "MGET", "c", "d");
}

/* ---- counters ---- */

static void test_cmd_string_incr_decr(void **state)
{
	struct fixture *f = *state;

	EXPECT(":1\r\n", "INCR", "n");
	EXPECT(":0\r\n", "DECR", "n");
	EXPECT(":10\r\n", "INCRBY", "n", "10");
	EXPECT(":5\r\n", "DECRBY", "n", "5");
	EXPECT(":-9223372036854775802\r\n", "DECRBY", "n", "9223372036854775807");
	EXPECT("$20\r\n-9223372036854775802\r\n", "GET", "n");
	static const char *const bad_incr[] = { "abc", "-0", "+1", " 1", "01", "1.5", "" };
	for (size_t i = 0; i < sizeof(bad_incr) / sizeof(bad_incr[0]); i++)
		EXPECT(NOT_INT, "INCRBY", "n", bad_incr[i]);
	static const char *const bad_value[] = { " 1", "1.5", "", "00", "-0", "12345678901234567890" };
	for (size_t i = 0; i < sizeof(bad_value) / sizeof(bad_value[0]); i++) {
		EXPECT(OK, "SET", "v", bad_value[i]);
		EXPECT(NOT_INT, "INCR", "v");
	}
}

static void test_cmd_string_incr_overflow(void **state)
{
	struct fixture *f = *state;
	const char *overflow = "-ERR increment or decrement would overflow\r\n";

	EXPECT(OK, "SET", "n", "9223372036854775807");
	EXPECT(overflow, "INCR", "n");
	EXPECT(OK, "SET", "n", "-9223372036854775808");
	EXPECT(overflow, "DECR", "n");
	EXPECT(overflow, "DECRBY", "n", "1");
	EXPECT(overflow, "INCRBY", "n", "-1");
	EXPECT(OK, "SET", "n", "10");
	EXPECT(overflow, "INCRBY", "n", "9223372036854775807");
	EXPECT(":-9223372036854775798\r\n", "INCRBY", "n", "-9223372036854775808");
	EXPECT(OK, "SET", "n", "-1");
	EXPECT(":-9223372036854775808\r\n", "DECRBY", "n", "9223372036854775807");
	/* Negating INT64_MIN has its own message, checked before the key. */
	EXPECT("-ERR decrement would overflow\r\n", "DECRBY", "n", "-9223372036854775808");
	EXPECT("-ERR decrement would overflow\r\n", "DECRBY", "nokey", "-9223372036854775808");
}

static void test_cmd_string_incr_type_and_ttl(void **state)
{
	struct fixture *f = *state;

	make_list(f, "l");
	EXPECT(WRONGTYPE, "INCR", "l");
	EXPECT(WRONGTYPE, "INCRBY", "l", "1");
	/* The increment is parsed before the key's type is looked at. */
	EXPECT(NOT_INT, "INCRBY", "l", "abc");
	EXPECT(OK, "SET", "n", "5", "EX", "100");
	EXPECT(":6\r\n", "INCR", "n");
	assert_int_equal(deadline_of(f, "n"), NOW_MS + 100000);
	/* APPEND makes a counter of a string too. */
	EXPECT(":1\r\n", "APPEND", "s", "1");
	EXPECT(":2\r\n", "INCR", "s");
	EXPECT(":2\r\n", "APPEND", "s", "x");
	EXPECT("$2\r\n2x\r\n", "GET", "s");
}

static void test_cmd_string_incrbyfloat(void **state)
{
	struct fixture *f = *state;

	EXPECT(OK, "SET", "f", "10.5");
	EXPECT("$4\r\n10.6\r\n", "INCRBYFLOAT", "f", "0.1");
	EXPECT("$22\r\n5010.60000000000000009\r\n", "INCRBYFLOAT", "f", "5.0e3");
	EXPECT("$1\r\n0\r\n", "INCRBYFLOAT", "f", "-5010.6");
	EXPECT("$1\r\n0\r\n", "INCRBYFLOAT", "f", "-0");
	EXPECT("$4\r\n1000\r\n", "INCRBYFLOAT", "g", "1e3");
	EXPECT("$4\r\n1016\r\n", "INCRBYFLOAT", "g", "0x10");
	EXPECT("$4\r\n1016\r\n", "GET", "g");
	EXPECT(OK, "SET", "h", "1.1");
	EXPECT("$4\r\n-0.1\r\n", "INCRBYFLOAT", "h", "-1.2");
	EXPECT("$19\r\n1.23456789012345679\r\n", "INCRBYFLOAT", "h2", "1.23456789012345678901");
	EXPECT("$1\r\n0\r\n", "INCRBYFLOAT", "h3", "-0.00000000000000000001");
	EXPECT("$31\r\n1000000000000000000024696061952\r\n", "INCRBYFLOAT", "h4", "1e30");
}

static void test_cmd_string_incrbyfloat_errors(void **state)
{
	struct fixture *f = *state;
	const char *nan_inf = "-ERR increment would produce NaN or Infinity\r\n";

	EXPECT(nan_inf, "INCRBYFLOAT", "g", "inf");
	EXPECT(nan_inf, "INCRBYFLOAT", "g", "-inf");
	EXPECT(nan_inf, "INCRBYFLOAT", "g", "infinity");
	assert_false(exists(f, "g"));
	static const char *const bad[] = { "nan", "NaN", "abc", " 1", "1 ", "", "1e5000", "1e-5000" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT(NOT_FLOAT, "INCRBYFLOAT", "g", bad[i]);
	/* The stored value is checked before the increment. */
	EXPECT(OK, "SET", "s", "abc");
	EXPECT(NOT_FLOAT, "INCRBYFLOAT", "s", "1");
	EXPECT(OK, "SET", "s", "inf");
	EXPECT(nan_inf, "INCRBYFLOAT", "s", "1");
	/* ... and the type before both. */
	make_list(f, "l");
	EXPECT(WRONGTYPE, "INCRBYFLOAT", "l", "abc");
	EXPECT(OK, "SET", "t", "1", "EX", "100");
	EXPECT("$3\r\n1.5\r\n", "INCRBYFLOAT", "t", "0.5");
	assert_int_equal(deadline_of(f, "t"), NOW_MS + 100000);
}

/* ---- byte ranges ---- */

static void test_cmd_string_append_strlen(void **state)
{
	struct fixture *f = *state;

	EXPECT(":0\r\n", "APPEND", "a", "");
	assert_true(exists(f, "a"));
	EXPECT(":0\r\n", "STRLEN", "a");
	EXPECT(":5\r\n", "APPEND", "a", "hello");
	EXPECT(":11\r\n", "APPEND", "a", " world");
	EXPECT(":11\r\n", "APPEND", "a", "");
	EXPECT(":11\r\n", "STRLEN", "a");
	EXPECT("$11\r\nhello world\r\n", "GET", "a");
	EXPECT(":0\r\n", "STRLEN", "nokey");
	make_list(f, "l");
	EXPECT(WRONGTYPE, "STRLEN", "l");
	EXPECT(WRONGTYPE, "APPEND", "l", "x");
	EXPECT(OK, "SET", "t", "v", "EX", "100");
	EXPECT(":2\r\n", "APPEND", "t", "w");
	assert_int_equal(deadline_of(f, "t"), NOW_MS + 100000);
}

static void test_cmd_string_size_limit(void **state)
{
	struct fixture *f = *state;
	const char *too_big = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";

	/* The limit is proto-max-bulk-len, read at each call. */
	atomic_store(&g_config.proto_max_bulk_len, 8);
	EXPECT(":8\r\n", "APPEND", "a", "12345678");
	EXPECT(too_big, "APPEND", "a", "9");
	EXPECT(":8\r\n", "APPEND", "a", "");
	/* A new key is not checked: its value already passed the parser. */
	EXPECT(":9\r\n", "APPEND", "b", "123456789");
	EXPECT(":8\r\n", "SETRANGE", "c", "7", "x");
	EXPECT(too_big, "SETRANGE", "c", "8", "x");
	EXPECT(too_big, "SETRANGE", "d", "7", "xy");
	assert_false(exists(f, "d"));
	EXPECT(too_big, "SETRANGE", "d", "9223372036854775807", "x");
	/* Writing nothing is never too big. */
	EXPECT(":8\r\n", "SETRANGE", "c", "99999999999", "");
	EXPECT(":0\r\n", "SETRANGE", "d", "99999999999", "");
}

static void test_cmd_string_setrange(void **state)
{
	struct fixture *f = *state;

	EXPECT(":0\r\n", "SETRANGE", "nk", "0", "");
	assert_false(exists(f, "nk"));
	EXPECT("-ERR offset is out of range\r\n", "SETRANGE", "nk", "-1", "");
	EXPECT(NOT_INT, "SETRANGE", "nk", "9223372036854775808", "x");
	EXPECT(OK, "SET", "a", "hello world");
	EXPECT(":11\r\n", "SETRANGE", "a", "0", "");
	EXPECT(":11\r\n", "SETRANGE", "a", "6", "W");
	EXPECT("$11\r\nhello World\r\n", "GET", "a");
	EXPECT(":16\r\n", "SETRANGE", "a", "15", "Z");
	assert_memory_equal(RUN("GET", "a"), "$16\r\nhello World\0\0\0\0Z\r\n", 23);
	EXPECT(":3\r\n", "SETRANGE", "z", "1", "ab");
	assert_memory_equal(RUN("GET", "z"), "$3\r\n\0ab\r\n", 9);
	make_list(f, "l");
	EXPECT(WRONGTYPE, "SETRANGE", "l", "0", "x");
	EXPECT(WRONGTYPE, "SETRANGE", "l", "0", "");
	/* The offset is checked before the key's type. */
	EXPECT("-ERR offset is out of range\r\n", "SETRANGE", "l", "-1", "x");
	EXPECT(NOT_INT, "SETRANGE", "l", "abc", "x");
}

static void test_cmd_string_getrange(void **state)
{
	struct fixture *f = *state;
	static const struct { const char *start, *end, *reply; } cases[] = {
		{ "0", "4", "$5\r\nHello\r\n" },
		{ "-5", "-1", "$5\r\nWorld\r\n" },
		{ "-1", "-5", EMPTY },
		{ "5", "2", EMPTY },
		{ "0", "-1", "$11\r\nHello World\r\n" },
		{ "0", "100", "$11\r\nHello World\r\n" },
		{ "-100", "-50", "$1\r\nH\r\n" },
		{ "-100", "-200", EMPTY },
		{ "-200", "-100", "$1\r\nH\r\n" },
		{ "-100", "3", "$4\r\nHell\r\n" },
		{ "20", "30", EMPTY },
		{ "-1", "-1", "$1\r\nd\r\n" },
		{ "10", "10", "$1\r\nd\r\n" },
		{ "11", "11", EMPTY },
		{ "0", "-100", "$1\r\nH\r\n" },
		{ "-9223372036854775808", "9223372036854775807", "$11\r\nHello World\r\n" },
		{ "9223372036854775807", "-9223372036854775808", EMPTY },
		{ "-3", "9223372036854775807", "$3\r\nrld\r\n" },
	};

	EXPECT(OK, "SET", "s", "Hello World");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EXPECT(cases[i].reply, "GETRANGE", "s", cases[i].start, cases[i].end);
		EXPECT(cases[i].reply, "SUBSTR", "s", cases[i].start, cases[i].end);
	}
	EXPECT(EMPTY, "GETRANGE", "nokey", "0", "1");
	EXPECT(NOT_INT, "GETRANGE", "nokey", "a", "1");
	EXPECT(NOT_INT, "GETRANGE", "nokey", "0", "b");
	EXPECT(OK, "SET", "e", "");
	EXPECT(EMPTY, "GETRANGE", "e", "0", "-1");
	EXPECT(EMPTY, "GETRANGE", "e", "-1", "0");
	make_list(f, "l");
	EXPECT(WRONGTYPE, "GETRANGE", "l", "0", "1");
	EXPECT(NOT_INT, "GETRANGE", "l", "a", "1");
}

/* ---- LCS, SETBIT, GETBIT (replies recorded from redis-server 7.0.15) ---- */

static void test_cmd_string_lcs(void **state)
{
	struct fixture *f = *state;
	EXPECT("+OK\r\n", "SET", "{v}1", "ohmytext");
	EXPECT("+OK\r\n", "SET", "{v}2", "mynewtext");
	EXPECT("$6\r\nmytext\r\n", "LCS", "{v}1", "{v}2");
	EXPECT(":6\r\n", "LCS", "{v}1", "{v}2", "len");
	EXPECT("*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n", "LCS", "{v}1", "{v}2", "idx");
	EXPECT("*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:6\r\n", "LCS", "{v}1", "{v}2", "idx", "withmatchlen");
	EXPECT("*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n", "LCS", "{v}1", "{v}2", "idx", "withmatchlen", "minmatchlen", "4");
	EXPECT("*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n", "LCS", "{v}1", "{v}2", "idx", "minmatchlen", "-3");
	EXPECT("-ERR If you want both the length and indexes, please just use IDX.\r\n", "LCS", "{v}1", "{v}2", "len", "idx");
	EXPECT("-ERR syntax error\r\n", "LCS", "{v}1", "{v}2", "minmatchlen");
	EXPECT("-ERR value is not an integer or out of range\r\n", "LCS", "{v}1", "{v}2", "minmatchlen", "x");
	EXPECT("-ERR syntax error\r\n", "LCS", "{v}1", "{v}2", "foo");
	EXPECT("$0\r\n\r\n", "LCS", "{v}1", "{v}nope");
	EXPECT("*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n", "LCS", "{v}nope", "{v}nope2", "idx");
	make_list(f, "{v}l");
	EXPECT("-ERR The specified keys must contain string values\r\n", "LCS", "{v}1", "{v}l");
	EXPECT("-ERR The specified keys must contain string values\r\n", "LCS", "{v}l", "{v}1", "foo");
	EXPECT("+OK\r\n", "SET", "{v}3", "ACCTGAGCTAGGTTCAAGCTTGGTCA");
	EXPECT("+OK\r\n", "SET", "{v}4", "AGCTAGTCAGCATCATACGTAGCTGCA");
	EXPECT("*4\r\n$7\r\nmatches\r\n*10\r\n*3\r\n*2\r\n:24\r\n:25\r\n*2\r\n:25\r\n:26\r\n:2\r\n*3\r\n*2\r\n:23\r\n:23\r\n*2\r\n:23\r\n:23\r\n:1\r\n*3\r\n*2\r\n:22\r\n:22\r\n*2\r\n:21\r\n:21\r\n:1\r\n*3\r\n*2\r\n:21\r\n:21\r\n*2\r\n:18\r\n:18\r\n:1\r\n*3\r\n*2\r\n:20\r\n:20\r\n*2\r\n:15\r\n:15\r\n:1\r\n*3\r\n*2\r\n:19\r\n:19\r\n*2\r\n:12\r\n:12\r\n:1\r\n*3\r\n*2\r\n:16\r\n:18\r\n*2\r\n:8\r\n:10\r\n:3\r\n*3\r\n*2\r\n:13\r\n:14\r\n*2\r\n:6\r\n:7\r\n:2\r\n*3\r\n*2\r\n:11\r\n:11\r\n*2\r\n:5\r\n:5\r\n:1\r\n*3\r\n*2\r\n:5\r\n:9\r\n*2\r\n:0\r\n:4\r\n:5\r\n$3\r\nlen\r\n:18\r\n", "LCS", "{v}3", "{v}4", "idx", "withmatchlen");
	EXPECT("$18\r\nAGCTAGTCAGCTTGGTCA\r\n", "LCS", "{v}3", "{v}4");
	EXPECT("*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:16\r\n:18\r\n*2\r\n:8\r\n:10\r\n:3\r\n*3\r\n*2\r\n:5\r\n:9\r\n*2\r\n:0\r\n:4\r\n:5\r\n$3\r\nlen\r\n:18\r\n", "LCS", "{v}3", "{v}4", "idx", "minmatchlen", "3", "withmatchlen");
	EXPECT("+OK\r\n", "SET", "{v}5", "aaaa");
	EXPECT("*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:0\r\n:3\r\n*2\r\n:0\r\n:3\r\n:4\r\n$3\r\nlen\r\n:4\r\n", "LCS", "{v}5", "{v}5", "idx", "withmatchlen");
	/* The table is bounded by proto-max-bulk-len, not by what malloc gives. */
	atomic_store(&g_config.proto_max_bulk_len, 1024);
	EXPECT("-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n",
	       "LCS", "{v}3", "{v}4");
}

static void test_cmd_string_setbit_getbit(void **state)
{
	struct fixture *f = *state;
	make_list(f, "{v}l");
	EXPECT(":0\r\n", "SETBIT", "b", "7", "1");
	EXPECT("$1\r\n\r\n", "GET", "b");
	EXPECT(":1\r\n", "SETBIT", "b", "7", "1");
	EXPECT(":1\r\n", "SETBIT", "b", "7", "0");
	EXPECT(":0\r\n", "SETBIT", "b", "100", "1");
	EXPECT(":13\r\n", "STRLEN", "b");
	EXPECT(":1\r\n", "GETBIT", "b", "100");
	EXPECT(":0\r\n", "GETBIT", "b", "101");
	EXPECT(":0\r\n", "GETBIT", "b", "100000");
	EXPECT(":0\r\n", "GETBIT", "nokey", "3");
	EXPECT("-ERR bit offset is not an integer or out of range\r\n", "SETBIT", "b", "-1", "1");
	EXPECT("-ERR bit offset is not an integer or out of range\r\n", "SETBIT", "b", "4294967296", "1");
	EXPECT("-ERR bit is not an integer or out of range\r\n", "SETBIT", "b", "0", "2");
	EXPECT("-ERR bit is not an integer or out of range\r\n", "SETBIT", "b", "0", "-1");
	EXPECT("-ERR bit offset is not an integer or out of range\r\n", "SETBIT", "b", "x", "1");
	EXPECT("-ERR bit offset is not an integer or out of range\r\n", "GETBIT", "b", "x");
	EXPECT("-ERR bit offset is not an integer or out of range\r\n", "GETBIT", "b", "-1");
	EXPECT("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "SETBIT", "{v}l", "0", "1");
	EXPECT("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", "GETBIT", "{v}l", "0");
	EXPECT("+OK\r\n", "SET", "i", "1234");
	EXPECT(":1\r\n", "GETBIT", "i", "2");
	EXPECT(":1\r\n", "GETBIT", "i", "3");
	EXPECT(":0\r\n", "SETBIT", "i", "6", "1");
	EXPECT("$4\r\n3234\r\n", "GET", "i");
	/* A bit set to the value it has is no change at all. */
	uint64_t v = db_watch_add(f->db, "b", 1);
	EXPECT(":1\r\n", "SETBIT", "b", "100", "1");
	assert_int_equal(db_watch_version(f->db, "b", 1), v);
	EXPECT(":1\r\n", "SETBIT", "b", "100", "0");
	assert_int_not_equal(db_watch_version(f->db, "b", 1), v);
	db_watch_release(f->db, "b", 1);
}

/* ---- the table ---- */

static const struct kv_command *cmd_named(const char *name)
{
	struct kv_slice s = { name, strlen(name) };
	const struct kv_command *c = find_cmd(&s);
	assert_non_null(c);
	return c;
}

static void test_cmd_string_table(void **state)
{
	size_t n = 0;
	for (const struct kv_command *c = cmd_table_string; c->name; c++, n++) {
		assert_non_null(c->proc);
		assert_true(strcmp(c->group, "string") == 0 || strcmp(c->group, "bitmap") == 0);
		assert_non_null(c->since);
		assert_non_null(c->summary);
		assert_non_null(c->complexity);
		assert_int_equal(c->first_key, 1);
	}
	assert_int_equal(n, 24);
	/* Spot checks against Redis 7.0's COMMAND INFO. */
	const struct kv_command *c = cmd_named("set");
	assert_int_equal(c->arity, -3);
	assert_int_equal(c->flags, CMD_WRITE | CMD_DENYOOM);
	c = cmd_named("mset");
	assert_int_equal(c->arity, -3);
	assert_int_equal(c->last_key, -1);
	assert_int_equal(c->key_step, 2);
	c = cmd_named("mget");
	assert_int_equal(c->flags, CMD_READONLY | CMD_FAST);
	assert_int_equal(c->last_key, -1);
	assert_int_equal(c->key_step, 1);
	c = cmd_named("getex");
	assert_int_equal(c->arity, -2);
	assert_int_equal(c->flags, CMD_WRITE | CMD_FAST);
	c = cmd_named("getrange");
	assert_int_equal(c->flags, CMD_READONLY);
	assert_string_equal(cmd_named("psetex")->since, "2.6.0");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, fixture_teardown)
	const struct CMUnitTest tests[] = {
		T(test_cmd_string_get_set),
		T(test_cmd_string_set_option_conflicts),
		T(test_cmd_string_set_option_cut_at_nul),
		T(test_cmd_string_set_invalid_expire),
		T(test_cmd_string_set_expire_deadlines),
		T(test_cmd_string_set_past_deadline),
		T(test_cmd_string_set_nx_xx),
		T(test_cmd_string_set_get_option),
		T(test_cmd_string_set_ttl),
		T(test_cmd_string_setnx),
		T(test_cmd_string_setex_psetex),
		T(test_cmd_string_getset),
		T(test_cmd_string_getdel),
		T(test_cmd_string_getex_options),
		T(test_cmd_string_getex_ttl),
		T(test_cmd_string_mget),
		T(test_cmd_string_mset_msetnx),
		T(test_cmd_string_incr_decr),
		T(test_cmd_string_incr_overflow),
		T(test_cmd_string_incr_type_and_ttl),
		T(test_cmd_string_incrbyfloat),
		T(test_cmd_string_incrbyfloat_errors),
		T(test_cmd_string_append_strlen),
		T(test_cmd_string_size_limit),
		T(test_cmd_string_setrange),
		T(test_cmd_string_getrange),
		T(test_cmd_string_lcs),
		T(test_cmd_string_setbit_getbit),
		T(test_cmd_string_table),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
