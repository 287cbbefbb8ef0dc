/*
 * glob.c - glob-style pattern matching with the results of Redis 7.0's
 * stringmatchlen(): KEYS, SCAN MATCH, CONFIG GET and friends.
 *
 * Syntax: '*' any run of bytes, '?' one byte, "[...]" a class ('^' negates,
 * "a-z" ranges in either order, '\' escapes one byte), '\x' the byte x; any
 * other byte matches itself (ASCII case folded when nocase).
 *
 * The pattern is read as a sequence of tokens that each consume exactly one
 * byte of the subject, separated by star groups.  That lets the matcher be
 * the classic greedy loop that remembers only the last star: O(plen * slen)
 * time, constant stack, so a hostile pattern ("*a*a*a*...b") cannot blow up
 * the way naive backtracking does.
 *
 * Results follow Redis byte for byte, including its corner cases (each one
 * was checked against redis-server 7.0.15):
 *   - an empty subject matches only the empty pattern ("*" does not match "");
 *   - an unterminated class ("[abc") runs to the end of the pattern;
 *   - in "[a-]" the ']' is the end of a range, so the class goes on;
 *   - range bounds and the subject byte compare as signed chars (x86 Redis);
 *   - an escaped byte inside a class compares exactly even when nocase;
 *   - Redis gives up (no match) when its recursion passes 1000 nested star
 *     groups; we compute the same verdict up front from the pattern alone.
 * Not a general-purpose fnmatch(): no locale, no character classes.
 */
#include <stdbool.h>
#include <stddef.h>

#include "base/glob.h"

/* Redis stops matching once its recursion is deeper than this many stars. */
#define GLOB_MAX_NESTING 1000

static int glob_lower(int ch)
{
	/* ASCII only: Redis never sets LC_CTYPE, so tolower() is the C locale's. */
	return (ch >= 'A' && ch <= 'Z') ? ch + ('a' - 'A') : ch;
}

static bool glob_byte_eq(char p, char s, bool nocase)
{
	if (p == s)
		return true;
	return nocase && glob_lower((unsigned char)p) == glob_lower((unsigned char)s);
}

/*
 * Match the class whose '[' is at pat[i] against byte ch.  Returns whether it
 * matched and stores in *end the index just past the class.  Parsing depends
 * on the pattern only, so *end is the same whatever ch is.
 */
static bool glob_class(const char *pat, size_t plen, size_t i, char ch,
		       bool nocase, size_t *end)
{
	size_t j = i + 1;
	bool negate = j < plen && pat[j] == '^';
	bool match = false;

	if (negate)
		j++;
	for (;;) {
		size_t left = plen - j;

		if (left == 0)
			break; /* unterminated: the class is the rest of the pattern */
		if (left >= 2 && pat[j] == '\\') {
			if (pat[j + 1] == ch)
				match = true;
			j += 2;
		} else if (pat[j] == ']') {
			j++;
			break;
		} else if (left >= 3 && pat[j + 1] == '-') {
			/* Bounds are signed chars, as in Redis on x86; swap first,
			 * fold case after (so "[Z-a]" with nocase matches nothing). */
			int lo = (signed char)pat[j], hi = (signed char)pat[j + 2];
			int c = (signed char)ch;

			if (lo > hi) {
				int t = lo;
				lo = hi;
				hi = t;
			}
			if (nocase) {
				lo = glob_lower(lo);
				hi = glob_lower(hi);
				c = glob_lower(c);
			}
			if (c >= lo && c <= hi)
				match = true;
			j += 3;
		} else {
			if (glob_byte_eq(pat[j], ch, nocase))
				match = true;
			j++;
		}
	}
	*end = j;
	return negate ? !match : match;
}

/*
 * Match the single-byte token at pat[i] (not a '*') against ch; *end gets the
 * index just past the token.
 */
static bool glob_token(const char *pat, size_t plen, size_t i, char ch,
		       bool nocase, size_t *end)
{
	switch (pat[i]) {
	case '?':
		*end = i + 1;
		return true;
	case '[':
		return glob_class(pat, plen, i, ch, nocase, end);
	case '\\':
		if (plen - i >= 2) {
			*end = i + 2;
			return glob_byte_eq(pat[i + 1], ch, nocase);
		}
		/* A trailing backslash is a literal backslash. */
		*end = i + 1;
		return glob_byte_eq('\\', ch, nocase);
	default:
		*end = i + 1;
		return glob_byte_eq(pat[i], ch, nocase);
	}
}

/*
 * Star groups followed by more pattern.  Redis recurses once per such group
 * and answers "no match" past GLOB_MAX_NESTING of them: any match must pass
 * through every group with subject bytes left, so the verdict depends on
 * this count alone.
 */
static size_t glob_inner_stars(const char *pat, size_t plen)
{
	size_t n = 0, i = 0, end;

	while (i < plen) {
		if (pat[i] == '*') {
			while (i < plen && pat[i] == '*')
				i++;
			if (i < plen)
				n++;
			continue;
		}
		glob_token(pat, plen, i, 0, false, &end);
		i = end;
	}
	return n;
}

bool glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase)
{
	size_t pi = 0, si = 0, end;
	size_t star_pi = 0, star_si = 0;
	bool have_star = false;

	if (slen == 0)
		return plen == 0;
	if (glob_inner_stars(pat, plen) > GLOB_MAX_NESTING)
		return false;

	while (si < slen) {
		if (pi < plen && pat[pi] == '*') {
			while (pi < plen && pat[pi] == '*')
				pi++;
			if (pi == plen)
				return true;
			/* Try the star as empty first; widen it on mismatch. */
			have_star = true;
			star_pi = pi;
			star_si = si;
			continue;
		}
		if (pi < plen && glob_token(pat, plen, pi, s[si], nocase, &end)) {
			pi = end;
			si++;
			continue;
		}
		if (!have_star)
			return false;
		pi = star_pi;
		si = ++star_si;
	}
	while (pi < plen && pat[pi] == '*')
		pi++;
	return pi == plen;
}
