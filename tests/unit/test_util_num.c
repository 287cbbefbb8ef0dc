/*
 * test_util_num.c - the number rules of util_num.c accept and refuse exactly
 * what Redis 7.0.15 does (every case below was checked against redis-server
 * through INCRBY / INCRBYFLOAT), and format numbers as Redis replies them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "commands/cmd.h"
#include "base/util_num.h"

static struct kv_slice sl(const char *s)
{
	return (struct kv_slice){ s, strlen(s) };
}

static bool int64_of(const char *s, int64_t *v)
{
	struct kv_slice a = sl(s);
	return arg_to_int64(&a, v);
}

static bool ld_of(const char *s, long double *v)
{
	struct kv_slice a = sl(s);
	return arg_to_long_double(&a, v);
}

static void test_util_num_int64_accepts(void **state)
{
	static const struct { const char *s; int64_t v; } ok[] = {
		{ "0", 0 }, { "1", 1 }, { "-1", -1 }, { "10", 10 }, { "123456", 123456 },
		{ "9223372036854775807", INT64_MAX },
		{ "-9223372036854775808", INT64_MIN },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t v = 42;
		assert_true(int64_of(ok[i].s, &v));
		assert_int_equal(v, ok[i].v);
	}
}

static void test_util_num_int64_rejects(void **state)
{
	static const char *const bad[] = {
		"", "-", "-0", "+1", " 1", "1 ", "01", "00", "-01", "1a", "a1", "0x10",
		"1.0", "1e3", "9223372036854775808", "-9223372036854775809",
		"18446744073709551615", "18446744073709551616", "99999999999999999999",
		"123456789012345678901",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t v = 42;
		assert_false(int64_of(bad[i], &v));
		assert_int_equal(v, 42);
	}
	/* A NUL inside the argument is not the end of the number. */
	struct kv_slice nul = { "1\0", 2 };
	int64_t v;
	assert_false(arg_to_int64(&nul, &v));
}

static void test_util_num_long_double_accepts(void **state)
{
	long double v;

	assert_true(ld_of("1e3", &v));
	assert_true(v == 1000.0L);
	assert_true(ld_of("0x10", &v)); /* strtold reads hex, so Redis does */
	assert_true(v == 16.0L);
	assert_true(ld_of("+3", &v));
	assert_true(v == 3.0L);
	assert_true(ld_of(".5", &v));
	assert_true(v == 0.5L);
	assert_true(ld_of("5.", &v));
	assert_true(v == 5.0L);
	assert_true(ld_of("-0", &v));
	assert_true(v == 0.0L);
	/* Infinity is a valid float; INCRBYFLOAT refuses the result later. */
	assert_true(ld_of("inf", &v));
	assert_true(isinf(v) && v > 0);
	assert_true(ld_of("-inf", &v));
	assert_true(isinf(v) && v < 0);
	assert_true(ld_of("infinity", &v));
	assert_true(isinf(v));
	/* A denormal sets ERANGE but is neither 0 nor huge: accepted. */
	assert_true(ld_of("1e-4940", &v));
	assert_true(v > 0);
	/* Up to 5119 bytes is fine. */
	static char longest[FMT_LONG_DOUBLE_MAX];
	memset(longest, '0', sizeof(longest) - 1);
	longest[sizeof(longest) - 2] = '7';
	longest[sizeof(longest) - 1] = '\0';
	assert_true(ld_of(longest, &v));
	assert_true(v == 7.0L);
}

static void test_util_num_long_double_rejects(void **state)
{
	static const char *const bad[] = {
		"", "nan", "NaN", "-nan", "nan(123)", " 1", "\t1", "1 ", "abc", "1e",
		"1e5000", "-1e5000", "1e-5000", "1.2e4932", "1,5", "--1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long double v = 42;
		assert_false(ld_of(bad[i], &v));
		assert_true(v == 42);
	}
	struct kv_slice nul = { "1\0abc", 5 };
	long double v;
	assert_false(arg_to_long_double(&nul, &v));
	/* 5120 bytes or more is refused whatever they say. */
	static char too_long[FMT_LONG_DOUBLE_MAX + 1];
	memset(too_long, '0', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	assert_false(ld_of(too_long, &v));
}

static const char *fmt_ld(long double v)
{
	static char buf[FMT_LONG_DOUBLE_MAX];
	int n = fmt_long_double(buf, sizeof(buf), v);
	assert_int_equal((size_t)n, strlen(buf));
	return buf;
}

static void test_util_num_fmt_long_double(void **state)
{
	assert_string_equal(fmt_ld(10.5L + 0.1L), "10.6");
	assert_string_equal(fmt_ld(10.6L + 5.0e3L), "5010.60000000000000009");
	assert_string_equal(fmt_ld(1000.0L), "1000");
	assert_string_equal(fmt_ld(0.0L), "0");
	assert_string_equal(fmt_ld(-0.0L), "0");
	assert_string_equal(fmt_ld(-1e-20L), "0");
	assert_string_equal(fmt_ld(1.1L - 1.2L), "-0.1");
	assert_string_equal(fmt_ld(1.23456789012345678901L), "1.23456789012345679");
	assert_string_equal(fmt_ld(12345678901234567890.0L), "12345678901234567890");
	assert_string_equal(fmt_ld(1e30L), "1000000000000000000024696061952");
	assert_string_equal(fmt_ld((long double)INFINITY), "inf");
	assert_string_equal(fmt_ld(-(long double)INFINITY), "-inf");
	/* Every finite long double fits in FMT_LONG_DOUBLE_MAX. */
	assert_int_equal(strlen(fmt_ld(-1.18e4932L)), 4933 + 1);
}

static void test_util_num_fmt_long_double_no_room(void **state)
{
	char buf[8];

	assert_int_equal(fmt_long_double(buf, sizeof(buf), 123456.5L), 0);
	assert_string_equal(buf, "");
	assert_int_equal(fmt_long_double(buf, 4, (long double)INFINITY), 0);
	assert_int_equal(fmt_long_double(buf, 5, (long double)INFINITY), 3);
	assert_string_equal(buf, "inf");
}

static void test_util_num_fmt_int64(void **state)
{
	static const struct { int64_t v; const char *s; } cases[] = {
		{ 0, "0" }, { 7, "7" }, { 10, "10" }, { 99, "99" }, { 100, "100" },
		{ -1, "-1" }, { -10, "-10" }, { 1234567890, "1234567890" },
		{ INT64_MAX, "9223372036854775807" },
		{ INT64_MIN, "-9223372036854775808" },
	};
	char buf[FMT_INT64_MAX];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = fmt_int64(buf, cases[i].v);
		assert_string_equal(buf, cases[i].s);
		assert_int_equal(n, strlen(cases[i].s));
	}
}

static void test_util_num_arg_is(void **state)
{
	struct kv_slice a = sl("KeepTTL");
	assert_true(arg_is(&a, "keepttl"));
	assert_false(arg_is(&a, "keep"));
	a = sl("ex");
	assert_false(arg_is(&a, "exat"));
	struct kv_slice nul = { "nx\0", 3 };
	assert_false(arg_is(&nul, "nx"));
	/* Only ASCII letters fold: 0xC9 is not 0xE9. */
	struct kv_slice hi = { "\xc9", 1 };
	assert_false(arg_is(&hi, "\xe9"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_util_num_int64_accepts),
		cmocka_unit_test(test_util_num_int64_rejects),
		cmocka_unit_test(test_util_num_long_double_accepts),
		cmocka_unit_test(test_util_num_long_double_rejects),
		cmocka_unit_test(test_util_num_fmt_long_double),
		cmocka_unit_test(test_util_num_fmt_long_double_no_room),
		cmocka_unit_test(test_util_num_fmt_int64),
		cmocka_unit_test(test_util_num_arg_is),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
