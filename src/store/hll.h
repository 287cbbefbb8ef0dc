/*
 * hll.h - Redis's HyperLogLog strings: the sparse and dense representations
 * byte for byte, register updates, merging and the cardinality estimator.
 *
 * An HLL is an ordinary string value (layout in hll.c and docs/format.md,
 * "Redis HyperLogLog strings"); this module works on the bytes only and
 * knows nothing of keys, commands or durability.  Every function accepts
 * any bytes: a malformed string is reported as HLL_CORRUPT, never read or
 * written out of bounds.
 */
#ifndef KV_HLL_H
#define KV_HLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HLL_P 14
#define HLL_REGISTERS (1 << HLL_P)            /* 16384 */
#define HLL_BITS 6
#define HLL_HDR_SIZE 16
#define HLL_DENSE_SIZE (HLL_HDR_SIZE + (HLL_REGISTERS * HLL_BITS + 7) / 8)
#define HLL_SPARSE_MAX_BYTES_DEFAULT 3000

enum hll_encoding { HLL_DENSE = 0, HLL_SPARSE = 1 };

/* Returned for a string whose sparse opcodes do not cover exactly 16384
 * registers (Redis's INVALIDOBJ). */
#define HLL_CORRUPT (-1)

/* An HLL being modified: a private, growable copy of the string's bytes. */
struct hll {
	uint8_t *p;
	size_t len, cap;
};

/* Redis's MurmurHash64A (endian neutral). */
uint64_t hll_murmur64a(const void *key, size_t len, uint64_t seed);
/* The register an element hashes to (*index) and its run length 1..51. */
int hll_pat_len(const void *ele, size_t len, long *index);

/* Whether bytes look like an HLL (Redis's isHLLObjectOrReply): at least a
 * header, "HYLL", encoding 0 or 1, and a dense one of exactly
 * HLL_DENSE_SIZE bytes.  Sparse opcodes are checked only when used. */
bool hll_is_hll(const void *p, size_t len);
enum hll_encoding hll_encoding_of(const void *p);

/* A new empty sparse HLL ("HYLL", sparse, cached cardinality 0, XZERO of
 * 16384).  h owns its buffer: hll_free. */
void hll_init_empty(struct hll *h);
/* A copy of existing bytes (which must pass hll_is_hll). */
void hll_init_copy(struct hll *h, const void *p, size_t len);
void hll_free(struct hll *h);

/* Add an element: 1 when a register grew, 0 when none did, HLL_CORRUPT.
 * A sparse HLL is promoted to dense when the register's value exceeds 32
 * or the string would pass sparse_max bytes.  Does not touch the cache. */
int hll_add(struct hll *h, const void *ele, size_t len, size_t sparse_max);
/* Raise register index to count if lower; same results as hll_add. */
int hll_set(struct hll *h, long index, uint8_t count, size_t sparse_max);
/* Make a sparse HLL dense: 1 converted, 0 already dense, HLL_CORRUPT. */
int hll_to_dense(struct hll *h);

/* Mark the cached cardinality stale (bit 7 of byte 15). */
void hll_invalidate_cache(uint8_t *p);
/* The cached cardinality, when valid. */
bool hll_cached(const uint8_t *p, uint64_t *card);
/* The 8 header bytes that cache card (little endian). */
void hll_cache_bytes(uint64_t card, uint8_t out[8]);

/* max[i] = MAX(max[i], register i) over an HLL's bytes (passing
 * hll_is_hll): 0 or HLL_CORRUPT. */
int hll_merge(uint8_t max[HLL_REGISTERS], const void *p, size_t len);
/* Estimate (Ertl's improved estimator, as Redis 5+) of an HLL's bytes:
 * 0 or HLL_CORRUPT (a sparse string not covering 16384 registers). */
int hll_count(const void *p, size_t len, uint64_t *card);
/* Estimate of raw one-byte-per-register values. */
uint64_t hll_count_raw(const uint8_t max[HLL_REGISTERS]);

/* Dense registers: read and write 6-bit register i of the register bytes
 * (HLL_DENSE_SIZE - HLL_HDR_SIZE of them). */
uint8_t hll_dense_get(const uint8_t *regs, long i);
void hll_dense_set(uint8_t *regs, long i, uint8_t val);

/* PFDEBUG DECODE: the sparse opcodes as "z:N Z:N v:V,N" words, into buf
 * (malloc'd, *out_len bytes).  For a sparse HLL only. */
char *hll_decode_sparse(const void *p, size_t len, size_t *out_len);

/* PFSELFTEST: register access and estimation error checks; NULL when they
 * pass, else the error line (static). */
const char *hll_selftest(size_t sparse_max);

#endif
