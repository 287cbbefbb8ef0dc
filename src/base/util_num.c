/*
 * util_num.c - the number rules kevy shares with Redis: which argument bytes
 * are an integer or a float, and how numbers are written back as text.
 *
 * Each parser accepts exactly what Redis 7.0 accepts for the same bytes, since
 * a client sees the difference as a different reply: integers follow
 * string2ll (no sign but '-', no spaces, no leading zeros, fits in int64),
 * floats follow string2ld (what strtold accepts, minus leading space, NaN,
 * overflow and strings of 5 KiB or more).  Formatting follows ll2string and
 * ld2string's "human" mode.  Nothing here allocates or touches shared state.
 */
#include "base/util_num.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline char ascii_lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

bool arg_is(const struct kv_slice *a, const char *word)
{
	size_t n = strlen(word);
	if (a->len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (ascii_lower(a->ptr[i]) != ascii_lower(word[i]))
			return false;
	return true;
}

bool arg_to_int64(const struct kv_slice *a, int64_t *out)
{
	const char *p = a->ptr;
	size_t len = a->len;
	size_t i = 0;
	bool negative = false;
	uint64_t v;

	/* 20 bytes hold every int64; longer input is refused before parsing,
	 * as Redis does, even when it would be a valid number with padding. */
	if (len == 0 || len >= FMT_INT64_MAX)
		return false;
	if (len == 1 && p[0] == '0') {
		*out = 0;
		return true;
	}
	if (p[0] == '-') {
		negative = true;
		if (++i == len)
			return false;
	}
	/* The first digit must be 1-9: "01" and "-0" are not integers. */
	if (p[i] < '1' || p[i] > '9')
		return false;
	v = (uint64_t)(p[i++] - '0');
	for (; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		uint64_t d = (uint64_t)(p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (negative) {
		if (v > (uint64_t)INT64_MAX + 1)
			return false;
		/* Negate in unsigned arithmetic so INT64_MIN needs no special case. */
		*out = (int64_t)(0 - v);
	} else {
		if (v > (uint64_t)INT64_MAX)
			return false;
		*out = (int64_t)v;
	}
	return true;
}

bool arg_to_long_double(const struct kv_slice *a, long double *out)
{
	char buf[FMT_LONG_DOUBLE_MAX];
	char *end;
	long double v;

	if (a->len == 0 || a->len >= sizeof(buf))
		return false;
	/* strtold needs a NUL; a NUL inside the argument then ends the parse
	 * early, which the end != buf + len test below rejects. */
	memcpy(buf, a->ptr, a->len);
	buf[a->len] = '\0';
	errno = 0;
	v = strtold(buf, &end);
	/* strtold skips leading spaces, Redis refuses them.  It also returns
	 * +-HUGE_VALL or 0 with ERANGE for numbers out of range; a denormal
	 * result (ERANGE but neither) is accepted, as in Redis. */
	if (isspace((unsigned char)buf[0]) || end != buf + a->len ||
	    (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0)) ||
	    errno == EINVAL || isnan(v))
		return false;
	*out = v;
	return true;
}

int fmt_long_double(char *buf, size_t cap, long double v)
{
	size_t len;

	if (isinf(v)) {
		/* Written by hand so the text does not depend on the libc; the
		 * room check is Redis's, which wants space for "-inf" either way. */
		if (cap < 5)
			goto no_room;
		len = v > 0 ? 3 : 4;
		memcpy(buf, v > 0 ? "inf" : "-inf", len + 1);
		return (int)len;
	}
	/* 17 digits after the point, then trimmed: small decimals typed by a
	 * user ("0.1") come back the way they were typed. */
	int n = snprintf(buf, cap, "%.17Lf", v);
	if (n < 0 || (size_t)n + 1 > cap)
		goto no_room;
	len = (size_t)n;
	if (memchr(buf, '.', len)) {
		while (buf[len - 1] == '0')
			len--;
		if (buf[len - 1] == '.')
			len--;
	}
	/* A tiny negative result trims to "-0"; Redis reports it as "0". */
	if (len == 2 && buf[0] == '-' && buf[1] == '0') {
		buf[0] = '0';
		len = 1;
	}
	buf[len] = '\0';
	return (int)len;
no_room:
	if (cap > 0)
		buf[0] = '\0';
	return 0;
}

size_t fmt_int64(char *buf, int64_t v)
{
	static const char digits2[] =
		"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
		"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	char tmp[FMT_INT64_MAX];
	size_t pos = sizeof(tmp);
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	/* Two digits per division: integer replies and INCR results are on the
	 * hot path, and this is several times faster than snprintf. */
	while (u >= 100) {
		unsigned r = (unsigned)(u % 100) * 2;
		u /= 100;
		tmp[--pos] = digits2[r + 1];
		tmp[--pos] = digits2[r];
	}
	if (u >= 10) {
		unsigned r = (unsigned)u * 2;
		tmp[--pos] = digits2[r + 1];
		tmp[--pos] = digits2[r];
	} else {
		tmp[--pos] = (char)('0' + u);
	}
	if (v < 0)
		tmp[--pos] = '-';
	size_t len = sizeof(tmp) - pos;
	memcpy(buf, tmp + pos, len);
	buf[len] = '\0';
	return len;
}
