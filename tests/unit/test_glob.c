/*
 * test_glob.c - glob_match() gives the verdicts of Redis 7.0.15's
 * stringmatchlen(): every expected result below was checked against
 * redis-server (KEYS for case-sensitive matching, COMMAND LIST FILTERBY
 * PATTERN for nocase), including its corner cases, and hostile patterns
 * finish in bounded time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands/cmd.h"

struct glob_case {
	const char *pat;
	size_t plen;
	const char *s;
	size_t slen;
	bool match;
};

/* Case-sensitive verdicts taken from KEYS on redis-server 7.0.15. */
static const struct glob_case redis_cases[] = {
	{ "abc", 3, "abc", 3, true },
	{ "abc", 3, "abd", 3, false },
	{ "abc", 3, "ab", 2, false },
	{ "a*", 2, "a", 1, true },
	{ "a*", 2, "abc", 3, true },
	{ "*c", 2, "abc", 3, true },
	{ "a*c", 3, "ac", 2, true },
	{ "a*c", 3, "abcb", 4, false },
	{ "*", 1, "x", 1, true },
	{ "**", 2, "", 0, false },
	{ "a**b", 4, "axxb", 4, true },
	{ "?", 1, "", 0, false },
	{ "?", 1, "a", 1, true },
	{ "??", 2, "a", 1, false },
	{ "a?c", 3, "abc", 3, true },
	{ "[abc]", 5, "b", 1, true },
	{ "[abc]", 5, "d", 1, false },
	{ "[^abc]", 6, "d", 1, true },
	{ "[^abc]", 6, "a", 1, false },
	{ "[a-c]", 5, "b", 1, true },
	{ "[c-a]", 5, "b", 1, true },
	{ "[a-c]", 5, "d", 1, false },
	{ "[abc", 4, "c", 1, true },
	{ "[abc", 4, "[", 1, false },
	{ "[", 1, "[", 1, false },
	{ "[", 1, "a", 1, false },
	{ "[^", 2, "x", 1, true },
	{ "[]", 2, "a", 1, false },
	{ "[]]", 3, "]", 1, false },
	{ "[a-]", 4, "]", 1, true },
	{ "[a-]", 4, "-", 1, false },
	{ "[a-]x", 5, "_x", 2, false },
	{ "[\\]]", 4, "]", 1, true },
	{ "[\\", 2, "\\", 1, true },
	{ "[a\\-z]", 6, "-", 1, true },
	{ "[a\\-z]", 6, "b", 1, false },
	{ "\\*", 2, "*", 1, true },
	{ "\\*", 2, "a", 1, false },
	{ "a\\", 2, "a\\", 2, true },
	{ "\\\\", 2, "\\", 1, true },
	{ "\\?", 2, "?", 1, true },
	{ "\\?", 2, "x", 1, false },
	{ "[a-\xff""]", 5, "\xff""", 1, true },
	{ "[a-\xff""]", 5, "b", 1, false },
	{ "[a-\xff""]", 5, "0", 1, true },
	{ "[\x80""-\xff""]", 5, "\x90""", 1, true },
	{ "a\x00""b", 3, "a\x00""b", 3, true },
	{ "a?b", 3, "a\x00""b", 3, true },
	{ "*\x00""*", 3, "x\x00""y", 3, true },
	{ "h[ae]llo", 8, "hallo", 5, true },
	{ "h*llo", 5, "heeeello", 8, true },
	{ "*a*b", 4, "aaab", 4, true },
	{ "*a*b", 4, "aaba", 4, false },
	{ "[[]", 3, "[", 1, true },
	{ "[-a]", 4, "-", 1, true },
	{ "[!a]", 4, "!", 1, true },
	{ "[!a]", 4, "b", 1, false },
};

static void check(const struct glob_case *k, bool nocase)
{
	bool got = glob_match(k->pat, k->plen, k->s, k->slen, nocase);
	if (got != k->match)
		fail_msg("pattern \"%.*s\" subject \"%.*s\": got %d, Redis says %d",
			 (int)k->plen, k->pat, (int)k->slen, k->s, got, k->match);
}

#define M(p, s, m) { p, sizeof(p) - 1, s, sizeof(s) - 1, m }

static void test_glob_matches_redis_verdicts(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(redis_cases) / sizeof(redis_cases[0]); i++)
		check(&redis_cases[i], false);
}

static void test_glob_empty_subject(void **state)
{
	(void)state;
	/* Redis's loop never runs on an empty subject: only "" matches it
	 * (KEYS * finds the empty key through a shortcut, not the matcher). */
	static const struct glob_case k[] = {
		M("", "", true), M("*", "", false), M("**", "", false),
		M("?", "", false), M("", "a", false),
	};
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		check(&k[i], false);
}

static void test_glob_class_corner_cases(void **state)
{
	(void)state;
	static const struct glob_case k[] = {
		/* Unterminated classes run to the end of the pattern. */
		M("[abc", "b", true), M("[", "[", false), M("[^", "x", true),
		/* "[a-]": ']' closes the range, not the class. */
		M("[a-]", "]", true), M("[a-]", "a", true), M("[a-]", "-", false),
		M("[]]", "]", false), M("[]", "a", false),
		/* Escapes inside a class; a lone trailing '\' is literal. */
		M("[\\]]", "]", true), M("[\\", "\\", true), M("[a\\-z]", "-", true),
		M("[a\\-z]", "b", false),
		/* Reversed ranges are swapped. */
		M("[z-a]", "m", true),
		/* Bytes >= 0x80 compare as signed chars: [a-\xff] is [\xff-a]. */
		M("[a-\xff]", "0", true), M("[a-\xff]", "b", false),
		M("[a-\xff]", "\xff", true),
	};
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		check(&k[i], false);
}

static void test_glob_escapes_and_binary(void **state)
{
	(void)state;
	static const struct glob_case k[] = {
		M("\\*", "*", true), M("\\*", "x", false), M("a\\", "a\\", true),
		M("\\\\", "\\", true), M("a\0b", "a\0b", true), M("a?b", "a\0b", true),
		M("*\0*", "x\0y", true), M("a\0b", "a\0c", false),
	};
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		check(&k[i], false);
}

/* nocase verdicts from COMMAND LIST FILTERBY PATTERN, which matches command
 * names with nocase set. */
static void test_glob_nocase(void **state)
{
	(void)state;
	static const struct glob_case k[] = {
		M("GE?", "get", true), M("[F-H]et", "get", true),
		M("[g]ET", "get", true), M("G*T", "getbit", true),
		M("\\G\\E\\T", "get", true),
		/* Case is folded after the swap, so [Z-h] becomes [z-h]: empty. */
		M("[Z-h]et", "get", false),
		/* An escaped byte inside a class compares exactly. */
		M("[\\G]et", "get", false),
	};
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++)
		check(&k[i], true);
	assert_false(glob_match("GET", 3, "get", 3, false));
	assert_true(glob_match("[Z-h]et", 7, "get", 3, false));
}

static char *repeat(const char *unit, size_t n, const char *tail)
{
	size_t u = strlen(unit), t = strlen(tail);
	char *s = malloc(u * n + t + 1);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * u, unit, u);
	memcpy(s + u * n, tail, t + 1);
	return s;
}

static bool match_str(const char *p, const char *s)
{
	return glob_match(p, strlen(p), s, strlen(s), false);
}

/* Redis answers "no match" once more than 1000 star groups that are
 * followed by more pattern are nested; a trailing star does not count. */
static void test_glob_nesting_limit(void **state)
{
	(void)state;
	char *s = repeat("a", 1200, "");
	char *p1000 = repeat("*a", 1000, "");
	char *p1001 = repeat("*a", 1001, "");
	char *t1001 = repeat("a*", 1001, "");   /* 1000 inner stars + trailing */
	char *t1002 = repeat("a*", 1002, "");

	assert_true(match_str(p1000, s));
	assert_false(match_str(p1001, s));
	assert_true(match_str(t1001, s));
	assert_false(match_str(t1002, s));
	free(s);
	free(p1000);
	free(p1001);
	free(t1001);
	free(t1002);
}

static double elapsed_ms(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

/* Patterns that make naive backtracking exponential finish fast. */
static void test_glob_pathological_pattern_is_fast(void **state)
{
	(void)state;
	char *s = repeat("a", 20000, "");
	char *p = repeat("*a", 900, "b");          /* never matches */
	char *q = repeat("*?", 900, "*[b]");
	char *r = repeat("a*", 30, "a*b");
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	assert_false(match_str(p, s));
	assert_false(match_str(q, s));
	assert_false(match_str(r, s));
	assert_true(match_str("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a", s));
	/* O(plen * slen) = tens of millions of steps at most; naive
	 * backtracking would not finish at all. */
	assert_true(elapsed_ms(&t) < 5000.0);
	free(s);
	free(p);
	free(q);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob_matches_redis_verdicts),
		cmocka_unit_test(test_glob_empty_subject),
		cmocka_unit_test(test_glob_class_corner_cases),
		cmocka_unit_test(test_glob_escapes_and_binary),
		cmocka_unit_test(test_glob_nocase),
		cmocka_unit_test(test_glob_nesting_limit),
		cmocka_unit_test(test_glob_pathological_pattern_is_fast),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
