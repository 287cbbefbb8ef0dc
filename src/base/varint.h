/*
 * varint.h - unsigned LEB128, the one varint of every kevy format: AOF effect
 * payloads (aof_format.c), snapshot blocks (snap_format.c) and the in-memory
 * hash table nodes (t_hash.c).  At most 10 bytes; the checked reader accepts
 * only the minimal encoding (no redundant 0x80 groups), so every value has
 * exactly one encoding on disk.
 */
#ifndef KV_VARINT_H
#define KV_VARINT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/kv.h"

#define VARINT_MAX_LEN 10

static inline size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Write v at p (VARINT_MAX_LEN bytes of room); returns the bytes written. */
static inline size_t varint_encode(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static inline void varint_put(struct kv_buf *b, uint64_t v)
{
	uint8_t tmp[VARINT_MAX_LEN];
	kv_buf_append(b, tmp, varint_encode(tmp, v));
}

/* Read a minimal varint from [*pp, end), bytes from disk: 0 and *pp moved
 * past it, or KV_ECORRUPT (truncated, over 64 bits, or not minimal). */
static inline int varint_get(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t x = 0;

	for (int i = 0; i < VARINT_MAX_LEN; i++) {
		if (p == end)
			return KV_ECORRUPT;
		uint8_t c = *p++;
		if (i == 9 && c > 1)
			return KV_ECORRUPT;
		x |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			if (c == 0 && i > 0)
				return KV_ECORRUPT;
			*v = x;
			*pp = p;
			return 0;
		}
	}
	return KV_ECORRUPT;
}

#endif
