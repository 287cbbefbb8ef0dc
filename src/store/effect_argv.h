/*
 * effect_argv.h - building the argv of an effect command (commands/fx.h
 * rule 1).
 *
 * Handlers whose effect is not the command they ran (SET ... EX logged as
 * SET ... PXAT, SPOP as SREM of what it popped, ...) and keydump.c build
 * their effect commands here: small ones on the stack with effect_int and
 * effect_score, long ones (a list of members) in a struct effect_argv, which
 * copies every argument, so the source may change or vanish meanwhile.
 *
 * Not here: where an effect goes or when it is written (commands/fx.h,
 * persist/aof.c).  Plain bytes only, so store/ (keydump.c) can use it.
 */
#ifndef KV_EFFECT_ARGV_H
#define KV_EFFECT_ARGV_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "proto/resp.h"

/* Room for any int64 or any score as effect_int/effect_score write it. */
#define EFFECT_NUM_MAX 32

/* v in decimal, written into buf (EFFECT_NUM_MAX bytes); the slice points
 * into buf. */
struct kv_slice effect_int(char *buf, int64_t v);
/* A score (not NaN) as the shortest text that parses back (strtod) to the
 * same double: "inf", "-inf", "-0", "1.5", "0.10000000000000001"... */
struct kv_slice effect_score(char *buf, double v);

/* An argv being built: every argument is copied into `bytes`. */
struct effect_argv {
	int argc;
	struct kv_buf bytes;
	size_t *spans;               /* [2 * argc]: offset and length in bytes */
	int cap;
	struct kv_slice *slices;     /* built by effect_argv_slices */
	int slices_cap;
};

void effect_argv_init(struct effect_argv *a);
void effect_argv_free(struct effect_argv *a);
/* Drop every argument, keeping the memory. */
void effect_argv_reset(struct effect_argv *a);
void effect_argv_add(struct effect_argv *a, const void *p, size_t n);
void effect_argv_add_str(struct effect_argv *a, const char *s);
void effect_argv_add_int(struct effect_argv *a, int64_t v);
void effect_argv_add_score(struct effect_argv *a, double v);
/* Bytes of all the arguments (for chunking). */
static inline size_t effect_argv_bytes(const struct effect_argv *a)
{
	return a->bytes.len;
}
/* The argv (a->argc slices), valid until the next add, reset or free. */
const struct kv_slice *effect_argv_slices(struct effect_argv *a);

#endif
