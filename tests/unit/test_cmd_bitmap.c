/*
 * test_cmd_bitmap.c - BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO
 * answer byte for byte what Redis 7.0.15 answers for the same calls (each
 * expected reply below was taken from redis-server 7.0.15), every error text
 * included, and leave the keyspace as Redis would.
 *
 * Handlers run through a hand-built struct cmd_ctx with no runtime around
 * it (c->shard is NULL), so keyspace hit/miss counting and keyspace events
 * are not covered here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 64
#include "commands/cmd.h"
#include "cmd_fixture.h"
#include "commands/config.h"
#include "store/store.h"
#include "store/t_list.h"

static const struct kv_command *find_cmd(const struct kv_slice *name)
{
	const struct kv_command *c = fixture_find_in(cmd_table_bitmap, name);
	return c ? c : fixture_find_in(cmd_table_string, name);
}

static int setup_n(void **state, uint32_t nshards)
{
	struct fixture *f = fixture_new(nshards);
	f->find = find_cmd;
	atomic_store(&g_config.proto_max_bulk_len, 512LL * 1024 * 1024);
	*state = f;
	return 0;
}

static int setup(void **state) { return setup_n(state, 1); }
static int setup3(void **state) { return setup_n(state, 3); }

#define RUN(...) run(f, __VA_ARGS__, NULL)
#define EXPECT(reply, ...) assert_string_equal(RUN(__VA_ARGS__), reply)

#define WRONGTYPE "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
#define SYNTAX "-ERR syntax error\r\n"
#define NOT_INT "-ERR value is not an integer or out of range\r\n"
#define BAD_OFFSET "-ERR bit offset is not an integer or out of range\r\n"
#define BAD_TYPE "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 " \
		 "is not supported but i64 is.\r\n"
#define NIL "$-1\r\n"
#define OK "+OK\r\n"

/* A key of another type: a real one-element list, made through the store. */
static void make_list(struct fixture *f, const char *key)
{
	struct list *l = list_new();
	list_push(l, LIST_TAIL, "x", 1);
	db_set_object(db_of(f, key), key, strlen(key), KV_TYPE_LIST, l, KV_NO_EXPIRE);
}

/* Stores a binary string (may hold NULs) at key. */
static void set_bytes(struct fixture *f, const char *key, const void *p, size_t n)
{
	db_set_string(db_of(f, key), key, strlen(key), p, n, KV_NO_EXPIRE);
}

/* Asserts the value of key is exactly the n bytes at p. */
static void assert_value(struct fixture *f, const char *key, const void *p, size_t n)
{
	struct kv_entry *e = db_lookup(db_of(f, key), key, strlen(key), f->now_ms);
	assert_non_null(e);
	struct kv_slice v = entry_str(e);
	assert_int_equal(v.len, n);
	assert_memory_equal(v.ptr, p, n);
}

static bool exists(struct fixture *f, const char *key)
{
	return db_lookup(db_of(f, key), key, strlen(key), f->now_ms) != NULL;
}

/* ---- BITCOUNT ---- */

static void test_cmd_bitmap_bitcount(void **state)
{
	struct fixture *f = *state;

	EXPECT(OK, "SET", "s", "foobar");
	EXPECT(":26\r\n", "BITCOUNT", "s");
	EXPECT(":6\r\n", "BITCOUNT", "s", "1", "1");
	EXPECT(":17\r\n", "BITCOUNT", "s", "5", "30", "bit");
	EXPECT(":26\r\n", "BITCOUNT", "s", "0", "-1", "BIT");
	EXPECT(":26\r\n", "BITCOUNT", "s", "-100", "100", "bit");
	EXPECT(":26\r\n", "BITCOUNT", "s", "1", "-1", "bit");
	EXPECT(":0\r\n", "BITCOUNT", "s", "7", "7", "bit");
	EXPECT(":0\r\n", "BITCOUNT", "s", "3", "2");
	/* Two negatives in reverse order answer 0 before the unit is read. */
	EXPECT(":0\r\n", "BITCOUNT", "s", "-1", "-2", "foo");
	EXPECT(NOT_INT, "BITCOUNT", "s", "0", "a");
	EXPECT(NOT_INT, "BITCOUNT", "s", "a", "1");
	EXPECT(SYNTAX, "BITCOUNT", "s", "0");
	EXPECT(SYNTAX, "BITCOUNT", "s", "0", "1", "byte", "x");
	EXPECT(SYNTAX, "BITCOUNT", "s", "0", "1", "bits");
	/* A missing key answers 0 before its arguments are looked at. */
	EXPECT(":0\r\n", "BITCOUNT", "nokey", "a", "b", "c", "d");
	EXPECT(OK, "SET", "e", "");
	EXPECT(":0\r\n", "BITCOUNT", "e");
	EXPECT(":0\r\n", "BITCOUNT", "e", "0", "-1");
	make_list(f, "lst");
	EXPECT(WRONGTYPE, "BITCOUNT", "lst");
	EXPECT(WRONGTYPE, "BITCOUNT", "lst", "a", "b");
	/* Words, bytes and edge bits together: 19 bytes, one bit set. */
	unsigned char z[19] = { 0 };
	z[18] = 1;
	set_bytes(f, "z", z, sizeof(z));
	EXPECT(":1\r\n", "BITCOUNT", "z");
	EXPECT(":1\r\n", "BITCOUNT", "z", "151", "151", "bit");
	EXPECT(":0\r\n", "BITCOUNT", "z", "0", "150", "bit");
}

/* ---- BITPOS ---- */

static void test_cmd_bitmap_bitpos(void **state)
{
	struct fixture *f = *state;

	EXPECT(OK, "SET", "s", "foobar");
	EXPECT(":1\r\n", "BITPOS", "s", "1");
	EXPECT(":0\r\n", "BITPOS", "s", "0");
	EXPECT(":5\r\n", "BITPOS", "s", "1", "3", "20", "bit");
	EXPECT(":3\r\n", "BITPOS", "s", "0", "3", "20", "bit");
	EXPECT(":43\r\n", "BITPOS", "s", "1", "-5", "-1", "bit");
	EXPECT(":-1\r\n", "BITPOS", "s", "0", "9", "9", "bit");
	EXPECT(":9\r\n", "BITPOS", "s", "1", "9", "9", "bit");
	EXPECT("-ERR The bit argument must be 1 or 0.\r\n", "BITPOS", "s", "2");
	EXPECT(NOT_INT, "BITPOS", "s", "a");
	EXPECT(NOT_INT, "BITPOS", "s", "1", "x");
	EXPECT(NOT_INT, "BITPOS", "s", "1", "0", "x");
	EXPECT(SYNTAX, "BITPOS", "s", "1", "0", "1", "bad");
	/* The unit is read before the end. */
	EXPECT(SYNTAX, "BITPOS", "s", "1", "0", "x", "bad");
	EXPECT(SYNTAX, "BITPOS", "s", "1", "0", "1", "bit", "extra");
	/* A missing key is all zeros, whatever the range. */
	EXPECT(":-1\r\n", "BITPOS", "nokey", "1", "x");
	EXPECT(":0\r\n", "BITPOS", "nokey", "0");

	/* Looking for a clear bit among ones: without an end, the string is
	 * followed by zeros; with one, or past the end, there is none. */
	EXPECT(OK, "SET", "ones", "\xff\xff\xff");
	EXPECT(":24\r\n", "BITPOS", "ones", "0");
	EXPECT(":24\r\n", "BITPOS", "ones", "0", "1");
	EXPECT(":-1\r\n", "BITPOS", "ones", "0", "0", "-1");
	EXPECT(":-1\r\n", "BITPOS", "ones", "0", "100");
	EXPECT(OK, "SET", "e", "");
	EXPECT(":-1\r\n", "BITPOS", "e", "0");
	EXPECT(":-1\r\n", "BITPOS", "e", "1");

	unsigned char z[19] = { 0 };
	z[18] = 1;
	set_bytes(f, "z", z, sizeof(z));
	EXPECT(":151\r\n", "BITPOS", "z", "1");
	EXPECT(":151\r\n", "BITPOS", "z", "1", "0", "-1", "bit");
	EXPECT(":0\r\n", "BITPOS", "z", "0");
	make_list(f, "lst");
	EXPECT(WRONGTYPE, "BITPOS", "lst", "1");
	/* The bit is checked before the key's type. */
	EXPECT("-ERR The bit argument must be 1 or 0.\r\n", "BITPOS", "lst", "2");
}

/* ---- BITOP ---- */

static void test_cmd_bitmap_bitop(void **state)
{
	struct fixture *f = *state;

	EXPECT(OK, "SET", "a", "abc");
	EXPECT(OK, "SET", "b", "ab");
	EXPECT(":3\r\n", "BITOP", "and", "d", "a", "b");
	assert_value(f, "d", "ab\0", 3);
	EXPECT(":3\r\n", "BITOP", "OR", "d", "a", "b", "nokey");
	assert_value(f, "d", "abc", 3);
	EXPECT(":3\r\n", "BITOP", "xor", "d", "a", "b");
	assert_value(f, "d", "\0\0c", 3);
	EXPECT(":3\r\n", "BITOP", "not", "d", "a");
	assert_value(f, "d", "\x9e\x9d\x9c", 3);
	/* A missing source makes AND all zeros. */
	EXPECT(":3\r\n", "BITOP", "and", "d", "a", "nokey");
	assert_value(f, "d", "\0\0\0", 3);
	/* The destination may be a source. */
	EXPECT(":3\r\n", "BITOP", "and", "a", "a");
	assert_value(f, "a", "abc", 3);

	EXPECT("-ERR BITOP NOT must be called with a single source key.\r\n",
	       "BITOP", "not", "d", "a", "b");
	EXPECT(SYNTAX, "BITOP", "nand", "d", "a");
	struct kv_slice nul_op[] = { { "BITOP", 5 }, { "and\0x", 5 }, { "d", 1 }, { "a", 1 } };
	assert_string_equal(run_argv(f, 4, nul_op), ":3\r\n");

	/* A result of any type is replaced, its deadline dropped. */
	make_list(f, "lst");
	EXPECT(WRONGTYPE, "BITOP", "or", "d", "a", "lst");
	EXPECT(":3\r\n", "BITOP", "and", "lst", "a");
	assert_value(f, "lst", "abc", 3);
	EXPECT(OK, "SET", "t", "x", "EX", "100");
	EXPECT(":3\r\n", "BITOP", "or", "t", "a");
	struct kv_entry *e = db_lookup(f->db, "t", 1, f->now_ms);
	assert_non_null(e);
	assert_int_equal(entry_expire(e), KV_NO_EXPIRE);

	/* Only empty or missing sources: the destination is deleted. */
	EXPECT(":0\r\n", "BITOP", "and", "d", "nokey", "nokey2");
	assert_false(exists(f, "d"));
	EXPECT(OK, "SET", "e", "");
	EXPECT(OK, "SET", "d", "x");
	EXPECT(":0\r\n", "BITOP", "or", "d", "e");
	assert_false(exists(f, "d"));
}

/* Sources and destination on different shards: the handler reads and
 * writes each through its own keyspace. */
static void test_cmd_bitmap_bitop_shards(void **state)
{
	struct fixture *f = *state;
	const char *keys[] = { "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7" };
	const char *on[3] = { NULL, NULL, NULL };
	for (size_t i = 0; i < KV_ARRAY_LEN(keys); i++) {
		uint32_t s = kv_key_shard(keys[i], strlen(keys[i]), f->nshards);
		if (!on[s])
			on[s] = keys[i];
	}
	assert_non_null(on[0]);
	assert_non_null(on[1]);
	assert_non_null(on[2]);
	EXPECT(OK, "SET", on[0], "abc");
	EXPECT(OK, "SET", on[1], "ab");
	EXPECT(":3\r\n", "BITOP", "xor", on[2], on[0], on[1]);
	assert_value(f, on[2], "\0\0c", 3);
	EXPECT(":3\r\n", "BITOP", "not", on[1], on[2]);
	assert_value(f, on[1], "\xff\xff\x9c", 3);
	EXPECT(":0\r\n", "BITOP", "and", on[0], "nokey");
	assert_false(exists(f, on[0]));
}

/* ---- BITFIELD ---- */

static void test_cmd_bitmap_bitfield_errors(void **state)
{
	struct fixture *f = *state;

	EXPECT(BAD_OFFSET, "BITFIELD", "bf", "get", "u8", "0", "get", "i8", "x");
	EXPECT(BAD_TYPE, "BITFIELD", "bf", "get", "u64", "0");
	EXPECT(BAD_TYPE, "BITFIELD", "bf", "get", "i65", "0");
	EXPECT(BAD_TYPE, "BITFIELD", "bf", "get", "I8", "0");
	EXPECT(BAD_TYPE, "BITFIELD", "bf", "get", "u0", "0");
	EXPECT(BAD_TYPE, "BITFIELD", "bf", "get", "i08", "0");
	EXPECT(SYNTAX, "BITFIELD", "bf", "set", "u8", "0");
	EXPECT(SYNTAX, "BITFIELD", "bf", "overflow");
	EXPECT(SYNTAX, "BITFIELD", "bf", "bogus");
	EXPECT("-ERR Invalid OVERFLOW type specified\r\n",
	       "BITFIELD", "bf", "overflow", "foo", "get", "u8", "0");
	EXPECT(NOT_INT, "BITFIELD", "bf", "incrby", "u8", "0", "x");
	EXPECT(BAD_OFFSET, "BITFIELD", "bf", "get", "u8", "-1");
	EXPECT(BAD_OFFSET, "BITFIELD", "bf", "get", "u8", "#-1");
	EXPECT(BAD_OFFSET, "BITFIELD", "bf", "get", "u8", "#");
	EXPECT(BAD_OFFSET, "BITFIELD", "bf", "get", "u8", "4294967296");
	EXPECT(BAD_OFFSET, "BITFIELD", "bf", "get", "u8", "#536870912");
	EXPECT(BAD_OFFSET, "BITFIELD", "bf", "get", "u8", "#9223372036854775807");
	EXPECT("*1\r\n:0\r\n", "BITFIELD", "bf", "get", "u8", "4294967295");
	EXPECT("*1\r\n:0\r\n", "BITFIELD", "bf", "get", "u8", "#536870911");
	/* The width is read up to a NUL, as a C string. */
	struct kv_slice nul_type[] = { { "BITFIELD", 8 }, { "bf", 2 }, { "get", 3 },
				       { "i8\0z", 4 }, { "0", 1 } };
	assert_string_equal(run_argv(f, 5, nul_type), "*1\r\n:0\r\n");
	assert_false(exists(f, "bf"));

	EXPECT("-ERR BITFIELD_RO only supports the GET subcommand\r\n",
	       "BITFIELD_RO", "bf", "set", "u8", "0", "1");
	EXPECT("-ERR Invalid OVERFLOW type specified\r\n",
	       "BITFIELD_RO", "bf", "get", "u8", "0", "overflow", "foo");
	EXPECT("*1\r\n:0\r\n", "BITFIELD_RO", "bf", "get", "u8", "0", "overflow", "sat");
	EXPECT("*0\r\n", "BITFIELD_RO", "bf");
	EXPECT("*0\r\n", "BITFIELD", "bf");
	assert_false(exists(f, "bf"));

	make_list(f, "lst");
	EXPECT(WRONGTYPE, "BITFIELD", "lst", "get", "u8", "0");
	EXPECT(NOT_INT, "BITFIELD", "lst", "set", "u8", "0", "x");
	EXPECT(WRONGTYPE, "BITFIELD", "lst", "set", "u8", "0", "1");
	EXPECT(WRONGTYPE, "BITFIELD_RO", "lst", "get", "u8", "0");
	/* BITFIELD_RO refuses a write before it looks at the key. */
	EXPECT("-ERR BITFIELD_RO only supports the GET subcommand\r\n",
	       "BITFIELD_RO", "lst", "set", "u8", "0", "1");
}

static void test_cmd_bitmap_bitfield_ops(void **state)
{
	struct fixture *f = *state;

	EXPECT(OK, "SET", "str", "a");
	EXPECT("*5\r\n:97\r\n:97\r\n:1\r\n$-1\r\n:4\r\n", "BITFIELD", "str",
	       "get", "u8", "0", "set", "i8", "0", "-1", "incrby", "u2", "100", "1",
	       "overflow", "fail", "incrby", "u2", "100", "5", "get", "u8", "96");
	assert_value(f, "str", "\xff\0\0\0\0\0\0\0\0\0\0\0\x04", 13);

	/* The key is created (zeros up to the last bit written) even when the
	 * only write fails. */
	EXPECT("*1\r\n" NIL, "BITFIELD", "bf", "overflow", "fail", "set", "u2", "0", "7");
	assert_value(f, "bf", "\0", 1);

	EXPECT("*7\r\n:0\r\n:-1\r\n:-128\r\n:-9223372036854775808\r\n:-2\r\n"
	       ":9223372036854775807\r\n:9223372036854775806\r\n",
	       "BITFIELD", "bf", "overflow", "sat", "set", "u8", "0", "-1",
	       "set", "i8", "0", "300", "incrby", "i8", "0", "-1000",
	       "overflow", "wrap", "set", "i64", "0", "-1", "incrby", "i64", "0", "-1",
	       "set", "u63", "0", "-1", "incrby", "u63", "0", "9223372036854775807");

	/* Redis judges a signed SET far below the range as an overflow upwards:
	 * under SAT it stores the maximum. */
	EXPECT("*3\r\n:0\r\n:127\r\n:127\r\n", "BITFIELD", "q", "overflow", "sat",
	       "set", "i39", "0", "-9223372036854775808",
	       "set", "i8", "0", "-9223372036854775808", "get", "i8", "0");
	EXPECT("*4\r\n:-1\r\n:255\r\n:255\r\n:2139029759\r\n", "BITFIELD", "q",
	       "overflow", "wrap", "set", "i8", "8", "-129", "set", "u8", "16", "256",
	       "set", "u8", "24", "-1", "get", "u32", "0");

	/* Writes grow the string only as far as the last bit written; GET past
	 * the end reads zeros. */
	EXPECT("*1\r\n:0\r\n", "BITFIELD", "y", "set", "u8", "0", "0");
	assert_value(f, "y", "\0", 1);
	EXPECT("*2\r\n:0\r\n:0\r\n", "BITFIELD", "y", "set", "u8", "0", "0",
	       "set", "u8", "100", "0");
	assert_value(f, "y", "\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 14);
	EXPECT("*1\r\n:0\r\n", "BITFIELD", "y", "get", "u8", "1000");
	assert_value(f, "y", "\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 14);
	EXPECT("*2\r\n:0\r\n:0\r\n", "BITFIELD_RO", "nokey", "get", "u8", "0",
	       "get", "i64", "70");
	/* "#N" counts in fields of the type's width. */
	EXPECT("*3\r\n:0\r\n:255\r\n:-1\r\n", "BITFIELD", "h", "set", "u8", "#1", "255",
	       "get", "u8", "#1", "get", "i4", "#2");
	assert_value(f, "h", "\0\xff", 2);
}

static void test_cmd_bitmap_bitfield_overflow(void **state)
{
	struct fixture *f = *state;

	EXPECT("*7\r\n:0\r\n:-9223372036854775808\r\n:-9223372036854775808\r\n"
	       ":-1\r\n:-9223372036854775808\r\n:-9223372036854775808\r\n$-1\r\n",
	       "BITFIELD", "x", "set", "i64", "0", "9223372036854775807",
	       "incrby", "i64", "0", "1", "overflow", "sat", "incrby", "i64", "0", "-1",
	       "incrby", "i64", "0", "9223372036854775807",
	       "incrby", "i64", "0", "-9223372036854775808",
	       "incrby", "i64", "0", "-9223372036854775808",
	       "overflow", "fail", "incrby", "i64", "0", "-9223372036854775808");
	/* i5: -16..15; u5: 0..31. */
	EXPECT("*8\r\n:0\r\n:4\r\n:15\r\n:-16\r\n:15\r\n$-1\r\n$-1\r\n$-1\r\n",
	       "BITFIELD", "i", "set", "i5", "3", "100", "overflow", "sat",
	       "set", "i5", "3", "100", "set", "i5", "3", "-100",
	       "incrby", "i5", "3", "-100", "incrby", "i5", "3", "100",
	       "overflow", "fail", "incrby", "i5", "3", "100", "set", "i5", "3", "16",
	       "set", "i5", "3", "-17");
	EXPECT("*11\r\n:0\r\n:4\r\n:31\r\n:0\r\n:31\r\n$-1\r\n$-1\r\n$-1\r\n:31\r\n$-1\r\n:0\r\n",
	       "BITFIELD", "u", "set", "u5", "3", "100", "overflow", "sat",
	       "set", "u5", "3", "100", "set", "u5", "3", "-100",
	       "incrby", "u5", "3", "-100", "incrby", "u5", "3", "100",
	       "overflow", "fail", "incrby", "u5", "3", "100", "set", "u5", "3", "32",
	       "set", "u5", "3", "-1", "set", "u5", "3", "31",
	       "incrby", "u5", "3", "-32", "incrby", "u5", "3", "-31");
	EXPECT("*7\r\n:0\r\n:9223372036854775807\r\n:1\r\n:0\r\n:-1\r\n:-1\r\n:1\r\n",
	       "BITFIELD", "w", "overflow", "wrap",
	       "incrby", "u63", "7", "-9223372036854775808",
	       "incrby", "u63", "7", "9223372036854775807",
	       "incrby", "u1", "0", "-1", "incrby", "i1", "0", "-1", "incrby", "i1", "0", "1",
	       "get", "i1", "0", "get", "u1", "0");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_cmd_bitmap_bitcount),
		T(test_cmd_bitmap_bitpos),
		T(test_cmd_bitmap_bitop),
		cmocka_unit_test_setup_teardown(test_cmd_bitmap_bitop_shards, setup3,
						fixture_teardown),
		T(test_cmd_bitmap_bitfield_errors),
		T(test_cmd_bitmap_bitfield_ops),
		T(test_cmd_bitmap_bitfield_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
