/*
 * util_num.h - number formatting helpers that are not about arguments.
 *
 * The argument parsers (arg_is, arg_to_int64, arg_to_long_double) and
 * fmt_long_double are declared in cmd.h, where handlers find them; they are
 * implemented beside these in util_num.c so every number rule kevy copies
 * from Redis lives in one file.
 */
#ifndef KV_UTIL_NUM_H
#define KV_UTIL_NUM_H

#include <stddef.h>
#include <stdint.h>

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
