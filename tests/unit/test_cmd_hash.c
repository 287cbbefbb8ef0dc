/*
 * test_cmd_hash.c - the hash commands answer byte for byte what Redis
 * 7.0.15 answers for the same calls (each expected reply below was taken
 * from redis-server), leave the keyspace as Redis would (an emptied hash
 * deletes its key), and keep the store's memory count exact.
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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/cmd.h"
#include "store/store.h"
#include "store/t_hash.h"

#define MAX_ARGS 300

#include "cmd_fixture.h"

/* Strong symbol of cmd_hash.c: links the module out of libkevy.a (cmd.h's
 * declaration of cmd_table_hash is weak and would not). */
const struct kv_command *cmd_hash_table(void);

static const struct kv_command *find_cmd(const struct kv_slice *name)
{
	return fixture_find_in(cmd_hash_table(), name);
}

/* A few other commands the tests need. */
static const char *other_cmd(struct fixture *f, int argc, const struct kv_slice *argv)
{
	if (arg_is(&argv[0], "set")) {
		db_set_string(f->db, argv[1].ptr, argv[1].len, argv[2].ptr, argv[2].len,
			      KV_NO_EXPIRE);
		resp_ok(&f->out);
		return kv_buf_cstr(&f->out);
	}
	fail_msg("unknown command");
	return NULL;
}

static int setup(void **state)
{
	struct fixture *f = fixture_new(1);
	f->find = find_cmd;
	f->other = other_cmd;
	f->reply_arity = true;
	*state = f;
	return 0;
}

/* Every key removed, the store's count must be back where it started: a
 * missed db_memory_adjust would leave a residue (or wrap below it). */
static int teardown(void **state)
{
	struct fixture *f = *state;
	db_flush(f->db);
	size_t left = db_memory_used(f->db);
	size_t empty = f->empty_mem;
	fixture_free(f);
	return left == empty ? 0 : -1;
}

#define EXPECT(reply, ...) assert_string_equal(run(f, __VA_ARGS__, NULL), reply)

static const char *encoding_of(struct fixture *f, const char *key)
{
	struct kv_entry *e = db_lookup(f->db, key, strlen(key), NOW_MS);
	assert_non_null(e);
	assert_int_equal(entry_type(e), KV_TYPE_HASH);
	return hash_encoding_name(entry_obj(e));
}

#define WRONGTYPE "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
#define NOT_INT "-ERR value is not an integer or out of range\r\n"

static void test_cmd_hash_set_get_and_errors(void **state)
{
	struct fixture *f = *state;
	EXPECT("-ERR wrong number of arguments for 'hset' command\r\n", "hset", "h", "a");
	EXPECT("-ERR wrong number of arguments for 'hset' command\r\n", "hset", "h", "a", "1", "b");
	EXPECT("-ERR wrong number of arguments for 'hmset' command\r\n", "hmset", "h", "a", "1", "b");
	EXPECT(":2\r\n", "hset", "h", "f", "abc", "a", "1");
	EXPECT("+OK\r\n", "hmset", "h", "b", "2", "c", "3");
	EXPECT(":1\r\n", "hset", "h", "a", "one", "d", "4");
	EXPECT("$3\r\none\r\n", "hget", "h", "a");
	EXPECT("$-1\r\n", "hget", "h", "zz");
	EXPECT("$-1\r\n", "hget", "nokey", "a");
	EXPECT("*3\r\n$3\r\nabc\r\n$-1\r\n$1\r\n2\r\n", "hmget", "h", "f", "zz", "b");
	EXPECT("*2\r\n$-1\r\n$-1\r\n", "hmget", "nokey", "a", "b");
	EXPECT(":5\r\n", "hlen", "h");
	EXPECT(":0\r\n", "hlen", "nokey");
	EXPECT(":3\r\n", "hstrlen", "h", "f");
	EXPECT(":0\r\n", "hstrlen", "h", "nof");
	EXPECT(":0\r\n", "hstrlen", "nokey", "f");
	EXPECT(":1\r\n", "hexists", "h", "a");
	EXPECT(":0\r\n", "hexists", "h", "zz");
	EXPECT(":0\r\n", "hexists", "nokey", "a");
	/* Packed hashes keep insertion order, as Redis's listpack. */
	EXPECT("*5\r\n$1\r\nf\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n", "hkeys", "h");
	EXPECT("*5\r\n$3\r\nabc\r\n$3\r\none\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n", "hvals", "h");
	EXPECT("*0\r\n", "hgetall", "nokey");
	EXPECT("*0\r\n", "hkeys", "nokey");
	EXPECT("*0\r\n", "hvals", "nokey");
	EXPECT(":1\r\n", "hsetnx", "n", "a", "b");
	EXPECT(":0\r\n", "hsetnx", "n", "a", "c");
	EXPECT("$1\r\nb\r\n", "hget", "n", "a");
	assert_string_equal(encoding_of(f, "h"), "listpack");

	EXPECT("+OK\r\n", "set", "s", "x");
	EXPECT(WRONGTYPE, "hset", "s", "a", "1");
	EXPECT(WRONGTYPE, "hsetnx", "s", "a", "1");
	EXPECT(WRONGTYPE, "hget", "s", "a");
	EXPECT(WRONGTYPE, "hmget", "s", "a");
	EXPECT(WRONGTYPE, "hdel", "s", "a");
	EXPECT(WRONGTYPE, "hlen", "s");
	EXPECT(WRONGTYPE, "hstrlen", "s", "a");
	EXPECT(WRONGTYPE, "hexists", "s", "a");
	EXPECT(WRONGTYPE, "hkeys", "s");
	EXPECT(WRONGTYPE, "hvals", "s");
	EXPECT(WRONGTYPE, "hgetall", "s");
	EXPECT(WRONGTYPE, "hscan", "s", "0");
	EXPECT(WRONGTYPE, "hrandfield", "s");
	EXPECT(WRONGTYPE, "hrandfield", "s", "0");
	EXPECT("-ERR wrong number of arguments for 'hget' command\r\n", "hget", "h");
}

static void test_cmd_hash_hgetall_pairs(void **state)
{
	struct fixture *f = *state;
	EXPECT(":2\r\n", "hset", "h", "f", "abc", "b", "2");
	EXPECT("*4\r\n$1\r\nf\r\n$3\r\nabc\r\n$1\r\nb\r\n$1\r\n2\r\n", "hgetall", "h");
}

static void test_cmd_hash_hdel_deletes_emptied_key(void **state)
{
	struct fixture *f = *state;
	EXPECT(":0\r\n", "hdel", "nokey", "a");
	EXPECT(":3\r\n", "hset", "h", "a", "1", "b", "2", "c", "3");
	EXPECT(":0\r\n", "hdel", "h", "zz");
	EXPECT(":2\r\n", "hdel", "h", "a", "a", "b");
	assert_non_null(db_lookup(f->db, "h", 1, NOW_MS));
	EXPECT(":1\r\n", "hdel", "h", "c", "zz");
	assert_null(db_lookup(f->db, "h", 1, NOW_MS));
	EXPECT(":0\r\n", "hlen", "h");
	/* The deadline survives an update that moves the object. */
	EXPECT(":1\r\n", "hset", "e", "f", "v");
	struct kv_entry *e = db_lookup(f->db, "e", 1, NOW_MS);
	db_set_expire(f->db, e, NOW_MS + 100000);
	char big[200];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	EXPECT(":1\r\n", "hset", "e", "g", big);
	assert_string_equal(encoding_of(f, "e"), "hashtable");
	e = db_lookup(f->db, "e", 1, NOW_MS);
	assert_int_equal(entry_expire(e), NOW_MS + 100000);
	EXPECT(":2\r\n", "hdel", "e", "f", "g");
	assert_null(db_lookup(f->db, "e", 1, NOW_MS));
}

static void test_cmd_hash_hincrby(void **state)
{
	struct fixture *f = *state;
	EXPECT("+OK\r\n", "set", "s", "x");
	EXPECT(NOT_INT, "hincrby", "s", "f", "notint");
	EXPECT(WRONGTYPE, "hincrby", "s", "f", "1");
	EXPECT(NOT_INT, "hincrby", "h", "k", "00");
	EXPECT(NOT_INT, "hincrby", "h", "k", "-0");
	assert_null(db_lookup(f->db, "h", 1, NOW_MS));
	EXPECT(":5\r\n", "hincrby", "h", "k", "5");
	EXPECT(":-4\r\n", "hincrby", "h", "k", "-9");
	EXPECT(":1\r\n", "hset", "h", "f", "abc");
	EXPECT("-ERR hash value is not an integer\r\n", "hincrby", "h", "f", "1");
	EXPECT(":1\r\n", "hset", "h", "g", "9223372036854775807");
	EXPECT("-ERR increment or decrement would overflow\r\n", "hincrby", "h", "g", "1");
	EXPECT(":-9223372036854775808\r\n", "hincrby", "h", "m", "-9223372036854775808");
	EXPECT("-ERR increment or decrement would overflow\r\n", "hincrby", "h", "m", "-1");
	EXPECT("$20\r\n-9223372036854775808\r\n", "hget", "h", "m");
}

static void test_cmd_hash_hincrbyfloat(void **state)
{
	struct fixture *f = *state;
	EXPECT("+OK\r\n", "set", "s", "x");
	EXPECT("-ERR value is not a valid float\r\n", "hincrbyfloat", "s", "f", "abc");
	EXPECT("-ERR value is NaN or Infinity\r\n", "hincrbyfloat", "s", "f", "inf");
	EXPECT(WRONGTYPE, "hincrbyfloat", "s", "f", "1");
	EXPECT("-ERR value is not a valid float\r\n", "hincrbyfloat", "h", "x", "nan");
	EXPECT("-ERR value is NaN or Infinity\r\n", "hincrbyfloat", "h", "x", "-inf");
	EXPECT("-ERR value is not a valid float\r\n", "hincrbyfloat", "h", "x", "1e-5000");
	assert_null(db_lookup(f->db, "h", 1, NOW_MS));
	EXPECT("$3\r\n0.1\r\n", "hincrbyfloat", "h", "z", "0.1");
	EXPECT("$29\r\n15000000000.09999999962747097\r\n", "hincrbyfloat", "h", "z", "1.5e10");
	EXPECT("$19\r\n0.09999999962747097\r\n", "hincrbyfloat", "h", "z", "-1.5e10");
	EXPECT("$19\r\n0.09999999962747097\r\n", "hget", "h", "z");
	EXPECT("$4\r\n3000\r\n", "hincrbyfloat", "h", "j", "3.0e3");
	EXPECT("$3\r\n0.5\r\n", "hincrbyfloat", "h", "i", "00.5");
	EXPECT(":1\r\n", "hset", "h", "g", "9223372036854775807");
	EXPECT("$19\r\n9223372036854775808\r\n", "hincrbyfloat", "h", "g", "1");
	EXPECT(":1\r\n", "hset", "h", "f", "abc");
	EXPECT("-ERR hash value is not a float\r\n", "hincrbyfloat", "h", "f", "1");
	EXPECT(":1\r\n", "hset", "h", "y", "1e4932");
	EXPECT("-ERR increment would produce NaN or Infinity\r\n", "hincrbyfloat", "h", "y", "1e4932");
	EXPECT(":1\r\n", "hset", "h", "d", "5.");
	EXPECT("$1\r\n6\r\n", "hincrbyfloat", "h", "d", "1");
	/* A long result converts the hash like any long value. */
	const char *r = run(f, "hincrbyfloat", "h", "big", "1e100", NULL);
	assert_string_equal(r, "$100\r\n9999999999999999999669353532207342619498699019828496"
			       "079271391541752018669482644324418977840117055488\r\n");
	assert_string_equal(encoding_of(f, "h"), "hashtable");
}

static void test_cmd_hash_hscan_options_and_errors(void **state)
{
	struct fixture *f = *state;
	EXPECT("+OK\r\n", "set", "s", "x");
	EXPECT(":2\r\n", "hset", "h", "f", "abc", "a", "1");
	EXPECT("*2\r\n$1\r\n0\r\n*0\r\n", "hscan", "nokey", "0", "badopt");
	EXPECT("-ERR invalid cursor\r\n", "hscan", "nokey", "x");
	EXPECT("-ERR invalid cursor\r\n", "hscan", "s", "x");
	EXPECT("-ERR invalid cursor\r\n", "hscan", "h", "18446744073709551616");
	EXPECT("-ERR syntax error\r\n", "hscan", "h", "0", "count", "0");
	EXPECT(NOT_INT, "hscan", "h", "0", "count", "x");
	EXPECT("-ERR syntax error\r\n", "hscan", "h", "0", "type", "string");
	EXPECT("-ERR syntax error\r\n", "hscan", "h", "0", "match");
	EXPECT("*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n", "hscan", "h", "0", "match", "a*");
	EXPECT("*2\r\n$1\r\n0\r\n*2\r\n$1\r\nf\r\n$3\r\nabc\r\n",
	       "hscan", "h", "0", "MATCH", "a*", "count", "1", "match", "f*");
	EXPECT("*2\r\n$1\r\n0\r\n*4\r\n$1\r\nf\r\n$3\r\nabc\r\n$1\r\na\r\n$1\r\n1\r\n",
	       "hscan", "h", "-1");
}

static void test_cmd_hash_hrandfield_errors_and_shape(void **state)
{
	struct fixture *f = *state;
	EXPECT("$-1\r\n", "hrandfield", "nokey");
	EXPECT("*0\r\n", "hrandfield", "nokey", "5");
	EXPECT("*0\r\n", "hrandfield", "nokey", "-5", "withvalues");
	EXPECT(":2\r\n", "hset", "h", "f", "abc", "a", "1");
	EXPECT("*0\r\n", "hrandfield", "h", "0");
	EXPECT(NOT_INT, "hrandfield", "h", "x");
	EXPECT(NOT_INT, "hrandfield", "h", "-0");
	EXPECT("-ERR syntax error\r\n", "hrandfield", "h", "1", "withvalue");
	EXPECT("-ERR syntax error\r\n", "hrandfield", "h", "1", "withvalues", "x");
	EXPECT("-ERR value is out of range, value must between -9223372036854775807 and "
	       "9223372036854775807\r\n", "hrandfield", "h", "-9223372036854775808");
	EXPECT("-ERR value is out of range\r\n", "hrandfield", "h", "-4611686018427387904",
	       "withvalues");
	EXPECT("-ERR value is out of range\r\n", "hrandfield", "h", "4611686018427387904",
	       "withvalues");
	/* A count beyond the size returns the whole hash, in order. */
	EXPECT("*4\r\n$1\r\nf\r\n$3\r\nabc\r\n$1\r\na\r\n$1\r\n1\r\n",
	       "hrandfield", "h", "4611686018427387903", "withvalues");
	const char *r = run(f, "hrandfield", "h", NULL);
	assert_true(strcmp(r, "$1\r\nf\r\n") == 0 || strcmp(r, "$1\r\na\r\n") == 0);
	/* Negative counts repeat: every element is one of the two. */
	r = run(f, "hrandfield", "h", "-5", NULL);
	assert_memory_equal(r, "*5\r\n", 4);
	const char *p = r + 4;
	for (int i = 0; i < 5; i++, p += 7)
		assert_true(strncmp(p, "$1\r\nf\r\n", 7) == 0 || strncmp(p, "$1\r\na\r\n", 7) == 0);
	assert_string_equal(p, "");
	r = run(f, "hrandfield", "h", "-3", "withvalues", NULL);
	assert_memory_equal(r, "*6\r\n", 4);
	p = r + 4;
	for (int i = 0; i < 3; i++) {
		if (strncmp(p, "$1\r\nf\r\n$3\r\nabc\r\n", 16) == 0)
			p += 16;
		else if (strncmp(p, "$1\r\na\r\n$1\r\n1\r\n", 14) == 0)
			p += 14;
		else
			fail_msg("unexpected element: %s", p);
	}
	assert_string_equal(p, "");
}

/* ---- HSCAN through the handler while the hash grows ---- */

#define GROW_START 600   /* past HASH_PACKED_MAX_ENTRIES: a table */
#define GROW_END 3000

static void parse_scan_reply(const char *r, uint64_t *cursor, bool *seen)
{
	int n;
	unsigned cl;
	assert_int_equal(sscanf(r, "*2\r\n$%u\r\n", &cl), 1);
	r = strchr(r + 4, '\n') + 1;
	*cursor = strtoull(r, NULL, 10);
	r = strchr(r, '\n') + 1;
	assert_int_equal(sscanf(r, "*%d\r\n", &n), 1);
	assert_true(n % 2 == 0);
	r = strchr(r, '\n') + 1;
	for (int i = 0; i < n; i++) {
		unsigned len;
		assert_int_equal(sscanf(r, "$%u\r\n", &len), 1);
		r = strchr(r, '\n') + 1;
		if (i % 2 == 0) {
			assert_true(r[0] == 'f');
			unsigned idx = (unsigned)strtoul(r + 1, NULL, 10);
			assert_true(idx < GROW_END + 10);
			seen[idx] = true;
		}
		r += len + 2;
	}
	assert_string_equal(r, "");
}

static void test_cmd_hash_hscan_reports_all_while_growing(void **state)
{
	struct fixture *f = *state;
	char name[32];
	for (unsigned i = 0; i < GROW_START; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		run(f, "hset", "h", name, "v", NULL);
	}
	assert_string_equal(encoding_of(f, "h"), "hashtable");
	bool *seen = calloc(GROW_END + 10, sizeof(*seen));
	uint64_t cursor = 0;
	unsigned next = GROW_START, calls = 0;
	do {
		char cur[24];
		snprintf(cur, sizeof(cur), "%llu", (unsigned long long)cursor);
		parse_scan_reply(run(f, "hscan", "h", cur, "count", "7", NULL), &cursor, seen);
		for (int k = 0; k < 20 && next < GROW_END; k++, next++) {
			snprintf(name, sizeof(name), "f%u", next);
			run(f, "hset", "h", name, "v", NULL);
		}
		assert_true(++calls < 100000);
	} while (cursor != 0);
	for (unsigned i = 0; i < GROW_START; i++)
		assert_true(seen[i]);
	free(seen);
}

/* Many writes, conversions and deletions; teardown checks that the memory
 * count returns to the empty keyspace's. */
static void test_cmd_hash_memory_count_stays_exact(void **state)
{
	struct fixture *f = *state;
	char name[32], key[32], val[100];
	for (unsigned i = 0; i < 4000; i++) {
		snprintf(key, sizeof(key), "k%u", i % 37);
		snprintf(name, sizeof(name), "f%u", (i * 7919) % 301);
		int vl = (int)((i * 31) % 90);
		memset(val, 'a' + (int)(i % 26), (size_t)vl);
		val[vl] = '\0';
		switch (i % 5) {
		case 0: case 1: run(f, "hset", key, name, val, NULL); break;
		case 2: run(f, "hdel", key, name, NULL); break;
		case 3: run(f, "hincrby", key, "counter", "3", NULL); break;
		default: run(f, "hget", key, name, NULL); break;
		}
	}
	for (unsigned i = 0; i < 37; i += 2) {
		snprintf(key, sizeof(key), "k%u", i);
		struct kv_entry *e = db_lookup(f->db, key, strlen(key), NOW_MS);
		if (e)
			hash_check(entry_obj(e));
	}
}

/* RESP3: HGETALL is a map, HRANDFIELD WITHVALUES nests its pairs. */
static void test_cmd_hash_resp3_replies(void **state)
{
	struct fixture *f = *state;
	f->out.proto = RESP_PROTO_3;
	EXPECT("%0\r\n", "HGETALL", "h");
	EXPECT(":1\r\n", "HSET", "h", "f", "v");
	EXPECT("%1\r\n$1\r\nf\r\n$1\r\nv\r\n", "HGETALL", "h");
	EXPECT("*1\r\n$1\r\nf\r\n", "HKEYS", "h");
	EXPECT("*1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n", "HRANDFIELD", "h", "1", "WITHVALUES");
	EXPECT("*2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
	       "HRANDFIELD", "h", "-2", "WITHVALUES");
	EXPECT("_\r\n", "HGET", "h", "x");
	EXPECT("*0\r\n", "HRANDFIELD", "nokey", "1", "WITHVALUES");
	f->out.proto = 0;
	EXPECT("*2\r\n$1\r\nf\r\n$1\r\nv\r\n", "HRANDFIELD", "h", "1", "WITHVALUES");
	EXPECT("*2\r\n$1\r\nf\r\n$1\r\nv\r\n", "HGETALL", "h");
	EXPECT("$-1\r\n", "HGET", "h", "x");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cmd_hash_set_get_and_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmd_hash_hgetall_pairs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmd_hash_resp3_replies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmd_hash_hdel_deletes_emptied_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmd_hash_hincrby, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmd_hash_hincrbyfloat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmd_hash_hscan_options_and_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmd_hash_hrandfield_errors_and_shape, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cmd_hash_hscan_reports_all_while_growing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cmd_hash_memory_count_stays_exact, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
