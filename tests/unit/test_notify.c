/*
 * test_notify.c - notify.c: the notify-keyspace-events class string parsed
 * and printed back as Redis 7.0 does (texts checked against redis-server
 * 7.0.15), CONFIG SET/GET of it, the two messages of an event, and that
 * nothing is published without a runtime (replay, tools).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "commands/config.h"
#include "commands/notify.h"
#include "proto/resp.h"

static const char *fmt(int flags)
{
	static char buf[NOTIFY_CLASSES_MAX];
	size_t n = notify_classes_format(flags, buf);
	assert_int_equal(n, strlen(buf));
	return buf;
}

static int parse(const char *s)
{
	return notify_classes_parse(s, strlen(s));
}

static void test_notify_parse_classes(void **state)
{
	assert_int_equal(parse(""), 0);
	assert_int_equal(parse("K"), NOTIFY_KEYSPACE);
	assert_int_equal(parse("E"), NOTIFY_KEYEVENT);
	assert_int_equal(parse("g$lshzxetmdn"),
			 NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH |
			 NOTIFY_ZSET | NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM |
			 NOTIFY_MODULE | NOTIFY_NEW | NOTIFY_KEY_MISS);
	/* A leaves out m and n, as in Redis. */
	assert_int_equal(parse("A"), NOTIFY_ALL);
	assert_int_equal(parse("A") & (NOTIFY_KEY_MISS | NOTIFY_NEW), 0);
	/* Repeats are harmless; case matters. */
	assert_int_equal(parse("KKEE"), NOTIFY_KEYSPACE | NOTIFY_KEYEVENT);
	assert_int_equal(parse("k"), -1);
	assert_int_equal(parse("KEX"), -1);
	assert_int_equal(parse("KE "), -1);
	/* An embedded NUL is a character like any other: refused. */
	assert_int_equal(notify_classes_parse("K\0E", 3), -1);
}

static void test_notify_format_classes(void **state)
{
	assert_string_equal(fmt(0), "");
	assert_string_equal(fmt(parse("gKE")), "gKE");
	assert_string_equal(fmt(parse("EK$lshzxe")), "$lshzxeKE");
	assert_string_equal(fmt(parse("KA")), "AK");
	assert_string_equal(fmt(parse("EA")), "AE");
	assert_string_equal(fmt(parse("Kmn")), "nKm");
	assert_string_equal(fmt(parse("mEAK")), "AKEm");
	/* Redis drops n once A is printed ("KEAn" reads back "AKE"). */
	assert_string_equal(fmt(parse("KEAn")), "AKE");
	/* Every class at once fits the buffer. */
	assert_string_equal(fmt(parse("g$lshzxetdnKEm")), "AKEm");
	assert_string_equal(fmt(parse("g$lshzxetnKEm")), "g$lshzxetnKEm");
}

static const char *config_cmd(int n, const char *const *args, bool set)
{
	static struct kv_buf out;
	struct kv_slice s[4];
	for (int i = 0; i < n; i++)
		s[i] = (struct kv_slice){ args[i], strlen(args[i]) };
	kv_buf_clear(&out);
	if (set)
		config_set_reply(&out, n, s);
	else
		config_get_reply(&out, n, s);
	return kv_buf_cstr(&out);
}

static void test_notify_config_set_get(void **state)
{
	const char *const get[] = { "notify-keyspace-events" };
	assert_string_equal(config_cmd(1, get, false),
			    "*2\r\n$22\r\nnotify-keyspace-events\r\n$0\r\n\r\n");
	const char *const set[] = { "notify-keyspace-events", "KEA" };
	assert_string_equal(config_cmd(2, set, true), "+OK\r\n");
	assert_int_equal(atomic_load(&notify_flags), NOTIFY_ALL | NOTIFY_KEYSPACE | NOTIFY_KEYEVENT);
	assert_string_equal(config_cmd(1, get, false),
			    "*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKE\r\n");
	const char *const bad[] = { "notify-keyspace-events", "KEX" };
	assert_string_equal(config_cmd(2, bad, true),
			    "-ERR CONFIG SET failed (possibly related to argument "
			    "'notify-keyspace-events') - Invalid event class character. "
			    "Use 'Ag$lshzxeKEtmdn'.\r\n");
	/* A refused value changes nothing. */
	assert_int_equal(atomic_load(&notify_flags), NOTIFY_ALL | NOTIFY_KEYSPACE | NOTIFY_KEYEVENT);
	const char *const off[] = { "notify-keyspace-events", "" };
	assert_string_equal(config_cmd(2, off, true), "+OK\r\n");
	assert_int_equal(atomic_load(&notify_flags), 0);
}

/* A publish function that records what it is given. */
static struct kv_buf published;
static int npublished;

static void record(struct shard *shard, const char *chan, size_t clen, const char *msg,
		   size_t mlen)
{
	assert_ptr_equal(shard, (struct shard *)&published);
	kv_buf_append(&published, chan, clen);
	kv_buf_append_char(&published, ' ');
	kv_buf_append(&published, msg, mlen);
	kv_buf_append_char(&published, '|');
	npublished++;
}

static const char *event(int type, const char *name, uint32_t dbid, const char *key)
{
	kv_buf_clear(&published);
	npublished = 0;
	notify_event(record, (struct shard *)&published, type, name, dbid, key, strlen(key));
	return kv_buf_cstr(&published);
}

static void test_notify_event_messages(void **state)
{
	atomic_store(&notify_flags, parse("KEA"));
	assert_string_equal(event(NOTIFY_STRING, "set", 0, "foo"),
			    "__keyspace@0__:foo set|__keyevent@0__:set foo|");
	assert_string_equal(event(NOTIFY_GENERIC, "move_to", 15, "k"),
			    "__keyspace@15__:k move_to|__keyevent@15__:move_to k|");
	/* The key is binary-safe and may be empty. */
	assert_string_equal(event(NOTIFY_LIST, "lpush", 3, ""),
			    "__keyspace@3__: lpush|__keyevent@3__:lpush |");
	/* n is not part of A. */
	assert_string_equal(event(NOTIFY_NEW, "new", 0, "foo"), "");
	assert_int_equal(npublished, 0);
	atomic_store(&notify_flags, parse("Kl"));
	assert_string_equal(event(NOTIFY_LIST, "rpop", 1, "l"), "__keyspace@1__:l rpop|");
	assert_string_equal(event(NOTIFY_STRING, "set", 1, "l"), "");
	atomic_store(&notify_flags, parse("Ex"));
	assert_string_equal(event(NOTIFY_EXPIRED, "expired", 2, "e"), "__keyevent@2__:expired e|");
	/* Classes without K or E publish nothing. */
	atomic_store(&notify_flags, parse("A"));
	assert_string_equal(event(NOTIFY_STRING, "set", 0, "foo"), "");
	atomic_store(&notify_flags, 0);
}

static void test_notify_needs_a_runtime(void **state)
{
	atomic_store(&notify_flags, parse("KEA"));
	kv_buf_clear(&published);
	npublished = 0;
	/* A handler run by replay or a tool has no runtime: nothing goes out. */
	struct kv_slice argv[2] = { { "SET", 3 }, { "k", 1 } };
	struct cmd_ctx c = { .argc = 2, .argv = argv, .rt = NULL };
	cmd_notify_arg(&c, NOTIFY_STRING, "set", 1);
	/* Nor from a thread without a publisher (files loading). */
	notify_thread_set(NULL, NULL);
	notify_here(NOTIFY_EXPIRED, "expired", 0, "k", 1);
	assert_int_equal(npublished, 0);
	/* With one, notify_here publishes through it. */
	notify_thread_set(record, (struct shard *)&published);
	notify_here(NOTIFY_EXPIRED, "expired", 0, "k", 1);
	notify_thread_set(NULL, NULL);
	assert_int_equal(npublished, 2);
	assert_string_equal(kv_buf_cstr(&published),
			    "__keyspace@0__:k expired|__keyevent@0__:expired k|");
	/* And a handler with a runtime goes through rt->publish. */
	struct cmd_runtime rt = { .publish = record };
	c.rt = &rt;
	c.shard = (struct shard *)&published;
	c.dbid = 7;
	kv_buf_clear(&published);
	cmd_notify_arg(&c, NOTIFY_STRING, "set", 1);
	assert_string_equal(kv_buf_cstr(&published), "__keyspace@7__:k set|__keyevent@7__:set k|");
	atomic_store(&notify_flags, 0);
	kv_buf_clear(&published);
	cmd_notify_arg(&c, NOTIFY_STRING, "set", 1);
	assert_string_equal(kv_buf_cstr(&published), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notify_parse_classes),
		cmocka_unit_test(test_notify_format_classes),
		cmocka_unit_test(test_notify_config_set_get),
		cmocka_unit_test(test_notify_event_messages),
		cmocka_unit_test(test_notify_needs_a_runtime),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	kv_buf_free(&published);
	return rc;
}
