/*
 * rdb_prim.c - CRC-64/Jones and LZF for Redis DUMP payloads (rdb_prim.h).
 *
 * LZF stream, as Redis's lzf_d.c reads it (facts, no code taken):
 *   000LLLLL <L+1 bytes>          a literal run of 1..32 bytes
 *   LLLooooo oooooooo             a back reference of L+2 bytes (L 1..6),
 *                                 from offset o+1 (1..8192) behind
 *   111ooooo LLLLLLLL oooooooo    a back reference of L+9 bytes
 * A back reference may overlap the bytes it produces (a run).
 *
 * The compressor reproduces the decisions of LZF 3.6 as Redis builds it
 * (HLOG 16, VERY_FAST on, ULTRA_FAST off): a 32-bit rolling value of the
 * last four bytes picks one of 65536 slots remembering the last position
 * with that value; a candidate is taken when it lies 1..8192 bytes behind,
 * is not position 0, and matches three bytes; a match is extended up to 264
 * bytes; after a match only the two positions before its end are hashed.
 * The one deliberate difference: Redis leaves its table uninitialised, so
 * a stale slot left on its stack by an earlier call can, very rarely, offer
 * a different (equally valid) match; kevy starts every call with an empty
 * table.  Output limits follow LZF's own tests byte for byte, so "does not
 * compress" is decided exactly as Redis decides it.
 */
#include "store/rdb_prim.h"

#include <stdlib.h>
#include <string.h>

#include "base/kv.h"

/* ---- CRC-64 ---- */

static uint64_t crc64_table[256];

/* The reflected form of Jones's polynomial 0xad93d23594c935a9. */
static uint64_t crc64_reflect(uint64_t v)
{
	uint64_t r = 0;
	for (int i = 0; i < 64; i++)
		if (v & (1ull << i))
			r |= 1ull << (63 - i);
	return r;
}

__attribute__((constructor)) static void crc64_init(void)
{
	uint64_t poly = crc64_reflect(0xad93d23594c935a9ull);
	for (uint32_t b = 0; b < 256; b++) {
		uint64_t c = b;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
		crc64_table[b] = c;
	}
}

uint64_t rdb_crc64(uint64_t crc, const void *p, size_t n)
{
	const uint8_t *s = p;
	for (size_t i = 0; i < n; i++)
		crc = crc64_table[(crc ^ s[i]) & 0xff] ^ (crc >> 8);
	return crc;
}

/* ---- LZF ---- */

#define LZF_SLOTS 65536u
#define LZF_MAX_LIT 32u
#define LZF_MAX_OFF 8192u
#define LZF_MAX_REF 264u   /* 256 + 8 */

void rdb_lzf_table_free(struct rdb_lzf_table *t)
{
	free(t->slots);
	t->slots = NULL;
	t->gen = 0;
}

/* The slot of a rolling value: LZF's "very fast" index, computed in 32-bit
 * unsigned arithmetic (the value holds the last four bytes). */
static inline uint32_t lzf_slot(uint32_t h)
{
	return ((h >> 8) - h * 5) & (LZF_SLOTS - 1);
}

/* Returns the remembered position (+1, 0 for none) and stores pos. */
static inline size_t lzf_swap(struct rdb_lzf_table *t, uint32_t h, size_t pos)
{
	uint64_t *s = &t->slots[lzf_slot(h)];
	size_t prev = (uint32_t)(*s >> 32) == t->gen ? (size_t)(uint32_t)*s : 0;
	*s = (uint64_t)t->gen << 32 | (uint32_t)(pos + 1);
	return prev;
}

static inline void lzf_store(struct rdb_lzf_table *t, uint32_t h, size_t pos)
{
	t->slots[lzf_slot(h)] = (uint64_t)t->gen << 32 | (uint32_t)(pos + 1);
}

size_t rdb_lzf_compress(struct rdb_lzf_table *t, const void *in_data, size_t in_len,
			void *out_data, size_t out_len)
{
	const uint8_t *in = in_data;
	uint8_t *out = out_data;

	/* Positions are kept in 32 bits; a longer input is stored raw. */
	if (in_len < 3 || out_len == 0 || in_len >= UINT32_MAX)
		return 0;
	if (!t->slots)
		t->slots = kv_calloc(LZF_SLOTS, sizeof(*t->slots));
	if (++t->gen == 0) {
		memset(t->slots, 0, LZF_SLOTS * sizeof(*t->slots));
		t->gen = 1;
	}

	size_t ip = 0, op = 1;   /* op 0 is the first run's length byte */
	size_t lit = 0;
	uint32_t h = (uint32_t)in[0] << 8 | in[1];
	while (ip < in_len - 2) {
		h = h << 8 | in[ip + 2];
		size_t ref1 = lzf_swap(t, h, ip);
		size_t ref = ref1 - 1, off;
		if (ref1 > 1 && (off = ip - ref - 1) < LZF_MAX_OFF && in[ref + 2] == in[ip + 2] &&
		    in[ref] == in[ip] && in[ref + 1] == in[ip + 1]) {
			size_t len = 2;
			size_t maxlen = in_len - ip - len;
			if (maxlen > LZF_MAX_REF)
				maxlen = LZF_MAX_REF;
			if (op + 4 >= out_len && op - (lit == 0) + 4 >= out_len)
				return 0;
			out[op - lit - 1] = (uint8_t)(lit - 1);   /* close the run */
			op -= lit == 0;                            /* or drop it if empty */
			/* LZF first compares up to 16 bytes without looking at
			 * maxlen (when maxlen > 16), then one at a time. */
			bool done = false;
			if (maxlen > 16) {
				for (int k = 0; k < 16; k++) {
					len++;
					if (in[ref + len] != in[ip + len]) {
						done = true;
						break;
					}
				}
			}
			if (!done) {
				do
					len++;
				while (len < maxlen && in[ref + len] == in[ip + len]);
			}
			len -= 2;   /* the encoded length: bytes - 2 */
			ip++;
			if (len < 7) {
				out[op++] = (uint8_t)((off >> 8) + (len << 5));
			} else {
				out[op++] = (uint8_t)((off >> 8) + (7 << 5));
				out[op++] = (uint8_t)(len - 7);
			}
			out[op++] = (uint8_t)off;
			lit = 0;
			op++;   /* the next run's length byte */
			ip += len + 1;
			if (ip >= in_len - 2)
				break;
			/* Hash the two positions just before the end of the match. */
			ip -= 2;
			h = (uint32_t)in[ip] << 8 | in[ip + 1];
			h = h << 8 | in[ip + 2];
			lzf_store(t, h, ip);
			ip++;
			h = h << 8 | in[ip + 2];
			lzf_store(t, h, ip);
			ip++;
		} else {
			if (op >= out_len)
				return 0;
			lit++;
			out[op++] = in[ip++];
			if (lit == LZF_MAX_LIT) {
				out[op - lit - 1] = (uint8_t)(lit - 1);
				lit = 0;
				op++;
			}
		}
	}
	if (op + 3 > out_len)
		return 0;
	while (ip < in_len) {
		lit++;
		out[op++] = in[ip++];
		if (lit == LZF_MAX_LIT) {
			out[op - lit - 1] = (uint8_t)(lit - 1);
			lit = 0;
			op++;
		}
	}
	out[op - lit - 1] = (uint8_t)(lit - 1);
	op -= lit == 0;
	return op;
}

int rdb_lzf_decompress(const void *in_data, size_t in_len, void *out_data, size_t out_len)
{
	const uint8_t *in = in_data;
	uint8_t *out = out_data;
	size_t ip = 0, op = 0;

	while (ip < in_len) {
		unsigned ctrl = in[ip++];
		if (ctrl < 32) {
			size_t n = ctrl + 1;
			if (n > in_len - ip || n > out_len - op)
				return KV_ECORRUPT;
			memcpy(out + op, in + ip, n);
			ip += n;
			op += n;
			continue;
		}
		size_t len = ctrl >> 5;
		if (ip >= in_len)
			return KV_ECORRUPT;
		if (len == 7) {
			len += in[ip++];
			if (ip >= in_len)
				return KV_ECORRUPT;
		}
		size_t back = ((size_t)(ctrl & 0x1f) << 8) + in[ip++] + 1;
		len += 2;
		if (back > op || len > out_len - op)
			return KV_ECORRUPT;
		/* Byte by byte: the source may overlap what is being written. */
		for (size_t i = 0; i < len; i++, op++)
			out[op] = out[op - back];
	}
	return op == out_len ? 0 : KV_ECORRUPT;
}
