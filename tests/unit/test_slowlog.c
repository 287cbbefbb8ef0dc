/*
 * test_slowlog.c - commands/slowlog.c: entries keep at most 32 arguments
 * and 128 bytes of each with Redis's notes, secrets are redacted as Redis
 * 7.0 stores them, each log keeps slowlog-max-len entries, and GET merges
 * several logs newest first, capped at slowlog-max-len in all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/slowlog.h"
#include "proto/resp.h"

static struct kv_slice S(const char *s)
{
	return (struct kv_slice){ s, strlen(s) };
}

static void push(struct slowlog *l, int argc, const char *const *argv)
{
	struct kv_slice a[64];
	for (int i = 0; i < argc; i++)
		a[i] = S(argv[i]);
	slowlog_push(l, argc, a, 42, "127.0.0.1:5000", "name");
}

static bool arg_eq(const struct slowlog_entry *e, int i, const char *s)
{
	return e->argv[i].len == strlen(s) && memcmp(e->argv[i].ptr, s, e->argv[i].len) == 0;
}

static void test_slowlog_trims_arguments(void **state)
{
	(void)state;
	struct slowlog l;
	slowlog_init(&l);
	const char *many[40];
	char nums[40][8];
	many[0] = "sadd";
	for (int i = 1; i < 40; i++) {
		snprintf(nums[i], sizeof(nums[i]), "%d", i);
		many[i] = nums[i];
	}
	push(&l, 40, many);
	assert_int_equal(l.head->argc, 32);
	assert_true(arg_eq(l.head, 30, "30"));
	assert_true(arg_eq(l.head, 31, "... (9 more arguments)"));
	char big[200];
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	const char *longarg[] = { "set", "k", big };
	push(&l, 3, longarg);
	assert_int_equal(l.head->argv[2].len, 128 + strlen("... (71 more bytes)"));
	assert_memory_equal(l.head->argv[2].ptr + 128, "... (71 more bytes)", 19);
	assert_int_equal(l.head->duration_us, 42);
	assert_memory_equal(l.head->peer.ptr, "127.0.0.1:5000", 14);
	assert_memory_equal(l.head->name.ptr, "name", 4);
	assert_true(l.head->id > l.head->next->id);
	slowlog_free(&l);
}

static void test_slowlog_redacts_secrets(void **state)
{
	(void)state;
	struct slowlog l;
	slowlog_init(&l);
	const char *auth[] = { "AUTH", "user", "pass" };
	push(&l, 3, auth);
	assert_true(arg_eq(l.head, 1, "(redacted)") && arg_eq(l.head, 2, "(redacted)"));
	const char *hello[] = { "hello", "3", "AUTH", "default", "pw", "SETNAME", "x" };
	push(&l, 7, hello);
	assert_true(arg_eq(l.head, 2, "AUTH") && arg_eq(l.head, 3, "(redacted)") &&
		    arg_eq(l.head, 4, "(redacted)") && arg_eq(l.head, 6, "x"));
	const char *cfg[] = { "config", "set", "maxmemory", "1mb", "requirepass", "secret" };
	push(&l, 6, cfg);
	assert_true(arg_eq(l.head, 3, "1mb") && arg_eq(l.head, 5, "(redacted)"));
	const char *get[] = { "get", "auth" };
	push(&l, 2, get);
	assert_true(arg_eq(l.head, 1, "auth"));
	slowlog_free(&l);
}

static void test_slowlog_merge_and_cap(void **state)
{
	(void)state;
	struct slowlog a, b;
	slowlog_init(&a);
	slowlog_init(&b);
	atomic_store(&slowlog_max_len, 3);
	const char *x[] = { "ping" };
	for (int i = 0; i < 5; i++)
		push(i % 2 ? &b : &a, 1, x);
	assert_int_equal(a.len, 3);   /* each log keeps max-len */
	assert_int_equal(b.len, 2);
	struct slowlog *logs[] = { &a, &b };
	assert_int_equal(slowlog_len(logs, 2), 3);   /* and so does the merge */
	struct kv_buf out = KV_BUF_INIT;
	slowlog_reply_get(&out, logs, 2, -1);
	/* The newest three of both logs, ids decreasing. */
	const char *p = kv_buf_cstr(&out);
	assert_true(strncmp(p, "*3\r\n*6\r\n:", 9) == 0);
	uint64_t prev = UINT64_MAX;
	int seen = 0;
	for (const char *q = strstr(p, "*6\r\n:"); q; q = strstr(q + 1, "*6\r\n:")) {
		uint64_t id = strtoull(q + 5, NULL, 10);
		assert_true(id < prev);
		prev = id;
		seen++;
	}
	assert_int_equal(seen, 3);
	kv_buf_free(&out);
	slowlog_reply_get(&out, logs, 2, 0);
	assert_string_equal(kv_buf_cstr(&out), "*0\r\n");
	kv_buf_free(&out);
	slowlog_reset(&a);
	assert_int_equal(slowlog_len(logs, 2), 2);
	atomic_store(&slowlog_max_len, 128);
	slowlog_free(&a);
	slowlog_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slowlog_trims_arguments),
		cmocka_unit_test(test_slowlog_redacts_secrets),
		cmocka_unit_test(test_slowlog_merge_and_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
