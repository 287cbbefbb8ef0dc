/*
 * util_num.h - the number rules kevy shares with Redis: parsing arguments as
 * integers and floats, and writing numbers back as text (util_num.c).
 */
#ifndef KV_UTIL_NUM_H
#define KV_UTIL_NUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Case-insensitive comparison of an argument with an ASCII word. */
bool arg_is(const struct kv_slice *a, const char *word);
/* Strict integer parsing as Redis's string2ll (no spaces, no '+', no leading
 * zeros except "0", fits in int64).  Returns true on success. */
bool arg_to_int64(const struct kv_slice *a, int64_t *out);
/* Redis's string2ld-compatible long double parsing (rejects NaN, spaces). */
bool arg_to_long_double(const struct kv_slice *a, long double *out);
/* Formats like Redis's ld2string(LD_STR_HUMAN) (INCRBYFLOAT replies):
 * writes at most cap bytes, returns the length. */
int fmt_long_double(char *buf, size_t cap, long double v);

/* Longest decimal int64 ("-9223372036854775808") plus a NUL. */
#define FMT_INT64_MAX 21

/* Room fmt_long_double needs for any finite long double or "inf"/"-inf":
 * Redis's MAX_LONG_DOUBLE_CHARS.  It is also the longest string
 * arg_to_long_double accepts, minus one. */
#define FMT_LONG_DOUBLE_MAX 5120

/* Writes v in decimal to buf (at least FMT_INT64_MAX bytes), NUL-terminated.
 * Returns the length without the NUL. */
size_t fmt_int64(char *buf, int64_t v);

#endif
