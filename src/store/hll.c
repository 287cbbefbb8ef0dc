/*
 * hll.c - Redis's HyperLogLog strings, byte for byte (hll.h).
 *
 * The bytes are Redis 7.0's, so a value written by kevy and one written by
 * redis-server for the same PFADDs are equal, and either server reads the
 * other's.  Layout (all HLLs):
 *
 *   offset 0   4 bytes  magic "HYLL"
 *   offset 4   1 byte   encoding: 0 dense, 1 sparse (anything else: invalid)
 *   offset 5   3 bytes  unused, zero when created, copied as they are
 *   offset 8   8 bytes  cached cardinality, little endian; bit 7 of byte 15
 *                       set means the cache is stale and must be recomputed
 *   offset 16  registers, 16384 of them, each the longest run (1..51) of
 *              an element's hash bits after the 14 index bits, 0 for none.
 *
 * Dense: exactly 12288 bytes follow the header, register i in the 6 bits
 * starting at bit 6*i, counted from the least significant bit of each byte
 * and continuing into the next byte.  The string is exactly 12304 bytes.
 *
 * Sparse: a run-length list of opcodes that must cover exactly 16384
 * registers:
 *   00xxxxxx            ZERO: xxxxxx+1 (1..64) registers at 0
 *   01xxxxxx yyyyyyyy   XZERO: (xxxxxx<<8 | yyyyyyyy)+1 (1..16384) at 0
 *   1vvvvvxx            VAL: xx+1 (1..4) registers at vvvvv+1 (1..32)
 * A new HLL is sparse with one XZERO of 16384 (18 bytes, cache valid 0).
 * An update that needs a value above 32, or would make the string longer
 * than hll-sparse-max-bytes, converts it to dense for good.
 *
 * Validity: hll_is_hll checks the header (and a dense string's length);
 * sparse opcodes that do not sum to exactly 16384 registers are found when
 * the string is decoded, and reported as HLL_CORRUPT.  A truncated XZERO at
 * the very end reads its second byte as 0, as Redis does (it reads the
 * string's NUL terminator there), so both servers agree on every input.
 *
 * The hash is MurmurHash64A with seed 0xadc83b19; the estimator is Otmar
 * Ertl's ("New cardinality estimation algorithms for HyperLogLog sketches",
 * arXiv:1702.01284), which Redis uses since 5.0.
 */
#include "store/hll.h"

#include "base/kv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HLL_Q (64 - HLL_P)
#define HLL_REG_MAX ((1 << HLL_BITS) - 1)
#define HLL_REG_BYTES (HLL_DENSE_SIZE - HLL_HDR_SIZE)
#define HLL_SEED 0xadc83b19ULL
#define HLL_ALPHA_INF 0.721347520444481703680 /* 0.5 / ln(2) */

#define SP_VAL_MAX_VALUE 32
#define SP_VAL_MAX_LEN 4
#define SP_ZERO_MAX_LEN 64
#define SP_XZERO_MAX_LEN 16384

_Static_assert(HLL_DENSE_SIZE == 12304, "dense HLL size");

/* ---- hash ---- */

uint64_t hll_murmur64a(const void *key, size_t len, uint64_t seed)
{
	const uint64_t m = 0xc6a4a7935bd1e995ULL;
	const int r = 47;
	const uint8_t *data = key;
	uint64_t h = seed ^ ((uint64_t)len * m);
	size_t blocks = len / 8;
	for (size_t i = 0; i < blocks; i++, data += 8) {
		uint64_t k = 0;
		for (int b = 7; b >= 0; b--)
			k = (k << 8) | data[b];
		k *= m;
		k ^= k >> r;
		k *= m;
		h ^= k;
		h *= m;
	}
	size_t tail = len & 7;
	if (tail) {
		for (size_t b = tail; b-- > 0;)
			h ^= (uint64_t)data[b] << (8 * b);
		h *= m;
	}
	h ^= h >> r;
	h *= m;
	h ^= h >> r;
	return h;
}

int hll_pat_len(const void *ele, size_t len, long *index)
{
	uint64_t hash = hll_murmur64a(ele, len, HLL_SEED);
	*index = (long)(hash & (HLL_REGISTERS - 1));
	hash >>= HLL_P;
	hash |= 1ULL << HLL_Q;   /* the run ends by bit Q at the latest */
	int count = 1;
	for (uint64_t bit = 1; (hash & bit) == 0; bit <<= 1)
		count++;
	return count;
}

/* ---- header ---- */

bool hll_is_hll(const void *p, size_t len)
{
	const uint8_t *b = p;
	if (len < HLL_HDR_SIZE || memcmp(b, "HYLL", 4) != 0 || b[4] > HLL_SPARSE)
		return false;
	return b[4] != HLL_DENSE || len == HLL_DENSE_SIZE;
}

enum hll_encoding hll_encoding_of(const void *p)
{
	return ((const uint8_t *)p)[4] == HLL_DENSE ? HLL_DENSE : HLL_SPARSE;
}

void hll_invalidate_cache(uint8_t *p)
{
	p[15] |= 0x80;
}

bool hll_cached(const uint8_t *p, uint64_t *card)
{
	if (p[15] & 0x80)
		return false;
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[8 + i];
	*card = v;
	return true;
}

void hll_cache_bytes(uint64_t card, uint8_t out[8])
{
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)(card >> (8 * i));
}

/* ---- dense registers ---- */

/* The last register's 6 bits end inside the last byte, so its "next byte"
 * (Redis reads the NUL after the string) contributes nothing: skip it. */
uint8_t hll_dense_get(const uint8_t *regs, long i)
{
	size_t byte = (size_t)i * HLL_BITS / 8;
	unsigned fb = (unsigned)(i * HLL_BITS) & 7;
	unsigned b0 = regs[byte];
	unsigned b1 = byte + 1 < HLL_REG_BYTES ? regs[byte + 1] : 0;
	return (uint8_t)(((b0 >> fb) | (b1 << (8 - fb))) & HLL_REG_MAX);
}

void hll_dense_set(uint8_t *regs, long i, uint8_t val)
{
	size_t byte = (size_t)i * HLL_BITS / 8;
	unsigned fb = (unsigned)(i * HLL_BITS) & 7;
	unsigned v = val;
	regs[byte] = (uint8_t)((regs[byte] & ~(HLL_REG_MAX << fb)) | (v << fb));
	if (byte + 1 < HLL_REG_BYTES)
		regs[byte + 1] = (uint8_t)((regs[byte + 1] & ~(HLL_REG_MAX >> (8 - fb))) |
					   (v >> (8 - fb)));
}

static int dense_set(uint8_t *regs, long i, uint8_t count)
{
	if (count <= hll_dense_get(regs, i))
		return 0;
	hll_dense_set(regs, i, count);
	return 1;
}

/* ---- sparse opcodes ---- */

static inline bool sp_is_zero(const uint8_t *p) { return (*p & 0xc0) == 0; }
static inline bool sp_is_xzero(const uint8_t *p) { return (*p & 0xc0) == 0x40; }
static inline bool sp_is_val(const uint8_t *p) { return (*p & 0x80) != 0; }
static inline long sp_zero_len(const uint8_t *p) { return (*p & 0x3f) + 1; }
/* The second byte of an XZERO cut off by the end of the string reads as 0. */
static inline long sp_xzero_len(const uint8_t *p, const uint8_t *end)
{
	unsigned lo = p + 1 < end ? p[1] : 0;
	return (long)((((unsigned)*p & 0x3f) << 8) | lo) + 1;
}
static inline int sp_val_value(const uint8_t *p) { return ((*p >> 2) & 0x1f) + 1; }
static inline long sp_val_len(const uint8_t *p) { return (*p & 0x3) + 1; }
static inline void sp_val_set(uint8_t *p, int val, long len)
{
	*p = (uint8_t)(((val - 1) << 2 | (len - 1)) | 0x80);
}
static inline void sp_zero_set(uint8_t *p, long len) { *p = (uint8_t)(len - 1); }
static inline void sp_xzero_set(uint8_t *p, long len)
{
	long l = len - 1;
	p[0] = (uint8_t)((l >> 8) | 0x40);
	p[1] = (uint8_t)(l & 0xff);
}

/* Calls fn(arg, first, run, value) for each run of registers of a sparse
 * body; stops early, returning HLL_CORRUPT, at a VAL run that would pass
 * register 16383.  Returns the count of registers covered (64-bit: a long
 * corrupt string cannot wrap it). */
typedef void (*sp_run_fn)(void *arg, int64_t first, long run, int value);
static int64_t sp_walk(const uint8_t *p, const uint8_t *end, sp_run_fn fn, void *arg)
{
	int64_t idx = 0;
	while (p < end) {
		long run;
		int value = 0;
		if (sp_is_zero(p)) {
			run = sp_zero_len(p);
			p++;
		} else if (sp_is_xzero(p)) {
			run = sp_xzero_len(p, end);
			p += 2;
		} else {
			run = sp_val_len(p);
			value = sp_val_value(p);
			if (idx + run > HLL_REGISTERS)
				return HLL_CORRUPT;
			p++;
		}
		if (fn)
			fn(arg, idx, run, value);
		idx += run;
	}
	return idx;
}

/* ---- the working copy ---- */

static void hll_reserve(struct hll *h, size_t need)
{
	if (need <= h->cap)
		return;
	size_t cap = h->cap ? h->cap : 32;
	while (cap < need)
		cap *= 2;
	h->p = kv_realloc(h->p, cap);
	memset(h->p + h->cap, 0, cap - h->cap);
	h->cap = cap;
}

void hll_init_empty(struct hll *h)
{
	*h = (struct hll){ 0 };
	hll_reserve(h, HLL_HDR_SIZE + 2);
	memset(h->p, 0, HLL_HDR_SIZE + 2);
	memcpy(h->p, "HYLL", 4);
	h->p[4] = HLL_SPARSE;
	sp_xzero_set(h->p + HLL_HDR_SIZE, HLL_REGISTERS);
	h->len = HLL_HDR_SIZE + 2;
}

void hll_init_copy(struct hll *h, const void *p, size_t len)
{
	*h = (struct hll){ 0 };
	hll_reserve(h, len + 8);
	memcpy(h->p, p, len);
	h->len = len;
}

void hll_free(struct hll *h)
{
	free(h->p);
	*h = (struct hll){ 0 };
}

static void to_dense_run(void *arg, int64_t first, long run, int value)
{
	if (!value)
		return;
	for (long i = 0; i < run; i++)
		hll_dense_set(arg, (long)(first + i), (uint8_t)value);
}

int hll_to_dense(struct hll *h)
{
	if (h->p[4] == HLL_DENSE)
		return 0;
	uint8_t *dense = kv_calloc(1, HLL_DENSE_SIZE + 8);
	memcpy(dense, h->p, HLL_HDR_SIZE);   /* magic, unused bytes and cache */
	dense[4] = HLL_DENSE;
	if (sp_walk(h->p + HLL_HDR_SIZE, h->p + h->len, to_dense_run,
		    dense + HLL_HDR_SIZE) != HLL_REGISTERS) {
		free(dense);
		return HLL_CORRUPT;
	}
	free(h->p);
	h->p = dense;
	h->len = HLL_DENSE_SIZE;
	h->cap = HLL_DENSE_SIZE + 8;
	return 1;
}

/* Merge adjacent VAL opcodes of equal value (up to 4 registers) in the few
 * opcodes from `from`, as Redis does after each sparse update. */
static void sp_compact(struct hll *h, size_t from)
{
	uint8_t *p = h->p + from, *end = h->p + h->len;
	int scan = 5;
	while (p < end && scan--) {
		if (sp_is_xzero(p)) {
			p += 2;
			continue;
		}
		if (sp_is_zero(p)) {
			p++;
			continue;
		}
		if (p + 1 < end && sp_is_val(p + 1) && sp_val_value(p) == sp_val_value(p + 1)) {
			long len = sp_val_len(p) + sp_val_len(p + 1);
			if (len <= SP_VAL_MAX_LEN) {
				sp_val_set(p + 1, sp_val_value(p), len);
				memmove(p, p + 1, (size_t)(end - p - 1));
				h->len--;
				end--;
				continue;   /* it may merge with the next one too */
			}
		}
		p++;
	}
}

/* The opcodes replacing the one at p (covering [first, first+span)) when
 * register index becomes count: up to 5 bytes into seq; returns the count. */
static int sp_split(const uint8_t *p, const uint8_t *end, int64_t first, long span,
		    long index, uint8_t count, uint8_t seq[5])
{
	uint8_t *n = seq;
	int64_t last = first + span - 1;
	if (sp_is_val(p)) {
		int cur = sp_val_value(p);
		if (index != first)
			sp_val_set(n++, cur, (long)(index - first));
		sp_val_set(n++, count, 1);
		if (index != last)
			sp_val_set(n++, cur, (long)(last - index));
		return (int)(n - seq);
	}
	(void)end;
	if (index != first) {
		long len = (long)(index - first);
		if (len > SP_ZERO_MAX_LEN) {
			sp_xzero_set(n, len);
			n += 2;
		} else {
			sp_zero_set(n++, len);
		}
	}
	sp_val_set(n++, count, 1);
	if (index != last) {
		long len = (long)(last - index);
		if (len > SP_ZERO_MAX_LEN) {
			sp_xzero_set(n, len);
			n += 2;
		} else {
			sp_zero_set(n++, len);
		}
	}
	return (int)(n - seq);
}

static int promote(struct hll *h, long index, uint8_t count)
{
	if (hll_to_dense(h) == HLL_CORRUPT)
		return HLL_CORRUPT;
	return dense_set(h->p + HLL_HDR_SIZE, index, count);
}

static int sparse_set(struct hll *h, long index, uint8_t count, size_t sparse_max)
{
	if (count > SP_VAL_MAX_VALUE)
		return promote(h, index, count);
	/* Room for the worst split (XZERO -> XZERO VAL XZERO) and a spare
	 * byte, so the pointers below stay valid. */
	hll_reserve(h, h->len + 8);
	uint8_t *sparse = h->p + HLL_HDR_SIZE, *end = h->p + h->len;
	uint8_t *p = sparse, *prev = NULL;
	int64_t first = 0;
	long span = 0;
	while (p < end) {
		long oplen = 1;
		if (sp_is_zero(p)) {
			span = sp_zero_len(p);
		} else if (sp_is_val(p)) {
			span = sp_val_len(p);
		} else {
			span = sp_xzero_len(p, end);
			oplen = 2;
		}
		if (index <= first + span - 1)
			break;
		prev = p;
		p += oplen;
		first += span;
	}
	if (span == 0 || p >= end)
		return HLL_CORRUPT;
	bool is_xzero = sp_is_xzero(p);
	uint8_t *next = is_xzero ? p + 2 : p + 1;
	if (next >= end)
		next = NULL;
	long runlen = sp_is_zero(p) ? sp_zero_len(p) : is_xzero ? sp_xzero_len(p, end)
								 : sp_val_len(p);
	if (sp_is_val(p)) {
		if (sp_val_value(p) >= count)
			return 0;
		if (runlen == 1) {
			sp_val_set(p, count, 1);
			goto updated;
		}
	}
	if (sp_is_zero(p) && runlen == 1) {
		sp_val_set(p, count, 1);
		goto updated;
	}
	uint8_t seq[5];
	int seqlen = sp_split(p, end, first, span, index, count, seq);
	int oldlen = is_xzero ? 2 : 1;
	int delta = seqlen - oldlen;
	if (delta > 0 && h->len + (size_t)delta > sparse_max)
		return promote(h, index, count);
	if (delta && next)
		memmove(next + delta, next, (size_t)(end - next));
	h->len = (size_t)((int64_t)h->len + delta);
	memcpy(p, seq, (size_t)seqlen);
updated:
	sp_compact(h, (size_t)((prev ? prev : sparse) - h->p));
	return 1;
}

int hll_set(struct hll *h, long index, uint8_t count, size_t sparse_max)
{
	if (h->p[4] == HLL_DENSE)
		return dense_set(h->p + HLL_HDR_SIZE, index, count);
	if (h->p[4] == HLL_SPARSE)
		return sparse_set(h, index, count, sparse_max);
	return HLL_CORRUPT;
}

int hll_add(struct hll *h, const void *ele, size_t len, size_t sparse_max)
{
	long index;
	int count = hll_pat_len(ele, len, &index);
	return hll_set(h, index, (uint8_t)count, sparse_max);
}

/* ---- merge and estimate ---- */

static void merge_run(void *arg, int64_t first, long run, int value)
{
	uint8_t *max = arg;
	for (long i = 0; value && i < run; i++)
		if (value > max[first + i])
			max[first + i] = (uint8_t)value;
}

int hll_merge(uint8_t max[HLL_REGISTERS], const void *p, size_t len)
{
	const uint8_t *b = p;
	if (b[4] == HLL_DENSE) {
		for (long i = 0; i < HLL_REGISTERS; i++) {
			uint8_t v = hll_dense_get(b + HLL_HDR_SIZE, i);
			if (v > max[i])
				max[i] = v;
		}
		return 0;
	}
	return sp_walk(b + HLL_HDR_SIZE, b + len, merge_run, max) == HLL_REGISTERS ? 0
										   : HLL_CORRUPT;
}

static double hll_sigma(double x)
{
	if (x == 1.)
		return INFINITY;
	double zp, y = 1, z = x;
	do {
		x *= x;
		zp = z;
		z += x * y;
		y += y;
	} while (zp != z);
	return z;
}

static double hll_tau(double x)
{
	if (x == 0. || x == 1.)
		return 0.;
	double zp, y = 1.0, z = 1 - x;
	do {
		x = sqrt(x);
		zp = z;
		y *= 0.5;
		z -= pow(1 - x, 2) * y;
	} while (zp != z);
	return z / 3;
}

static uint64_t estimate(const int64_t hist[64])
{
	double m = HLL_REGISTERS;
	double z = m * hll_tau((m - (double)hist[HLL_Q + 1]) / m);
	for (int j = HLL_Q; j >= 1; --j) {
		z += (double)hist[j];
		z *= 0.5;
	}
	z += m * hll_sigma((double)hist[0] / m);
	return (uint64_t)llroundl(HLL_ALPHA_INF * m * m / z);
}

static void hist_run(void *arg, int64_t first, long run, int value)
{
	(void)first;
	((int64_t *)arg)[value] += run;
}

int hll_count(const void *p, size_t len, uint64_t *card)
{
	const uint8_t *b = p;
	int64_t hist[64] = { 0 };
	if (b[4] == HLL_DENSE) {
		for (long i = 0; i < HLL_REGISTERS; i++)
			hist[hll_dense_get(b + HLL_HDR_SIZE, i)]++;
	} else {
		/* Redis counts every run, then checks the total: a VAL run past
		 * the end is counted too before the error, which changes nothing
		 * seen (the estimate is not returned then). */
		if (sp_walk(b + HLL_HDR_SIZE, b + len, hist_run, hist) != HLL_REGISTERS)
			return HLL_CORRUPT;
	}
	*card = estimate(hist);
	return 0;
}

uint64_t hll_count_raw(const uint8_t max[HLL_REGISTERS])
{
	int64_t hist[64] = { 0 };
	for (long i = 0; i < HLL_REGISTERS; i++)
		hist[max[i] & 63]++;
	return estimate(hist);
}

/* ---- debugging ---- */

char *hll_decode_sparse(const void *p, size_t len, size_t *out_len)
{
	const uint8_t *b = (const uint8_t *)p + HLL_HDR_SIZE, *end = (const uint8_t *)p + len;
	/* At most 11 characters per opcode byte ("v:32,4 " is 7, "Z:16384 " 8). */
	size_t cap = (len - HLL_HDR_SIZE) * 11 + 1, n = 0;
	char *out = kv_malloc(cap);
	while (b < end) {
		if (sp_is_zero(b)) {
			n += (size_t)snprintf(out + n, cap - n, "z:%ld ", sp_zero_len(b));
			b++;
		} else if (sp_is_xzero(b)) {
			n += (size_t)snprintf(out + n, cap - n, "Z:%ld ", sp_xzero_len(b, end));
			b += 2;
		} else {
			n += (size_t)snprintf(out + n, cap - n, "v:%d,%ld ", sp_val_value(b),
					      sp_val_len(b));
			b++;
		}
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	*out_len = n;
	return out;
}

/* A private generator for the self test (Redis uses rand()). */
static uint64_t selftest_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

const char *hll_selftest(size_t sparse_max)
{
	static char err[128];
	static _Thread_local uint64_t state = 0x5eed;
	uint8_t *regs = kv_calloc(1, HLL_REG_BYTES);
	uint8_t *bytes = kv_malloc(HLL_REGISTERS);
	const char *res = NULL;

	/* 1: every register keeps its value and leaves its neighbours alone. */
	for (int cycle = 0; cycle < 1000 && !res; cycle++) {
		for (long i = 0; i < HLL_REGISTERS; i++) {
			bytes[i] = (uint8_t)(selftest_next(&state) & HLL_REG_MAX);
			hll_dense_set(regs, i, bytes[i]);
		}
		for (long i = 0; i < HLL_REGISTERS && !res; i++) {
			uint8_t v = hll_dense_get(regs, i);
			if (v != bytes[i]) {
				snprintf(err, sizeof(err),
					 "TESTFAILED Register %ld should be %d but is %d", i,
					 bytes[i], v);
				res = err;
			}
		}
	}

	/* 2: dense and sparse agree, and the error stays within 6 standard
	 * errors, at 1, 10, ... 10^7 distinct elements. */
	struct hll dense, sparse;
	hll_init_empty(&dense);
	hll_to_dense(&dense);
	hll_init_empty(&sparse);
	double relerr = 1.04 / sqrt(HLL_REGISTERS);
	int64_t checkpoint = 1;
	uint64_t seed = selftest_next(&state);
	for (uint64_t j = 1; j <= 10000000 && !res; j++) {
		uint64_t ele = j ^ seed;
		uint8_t eb[8];
		memcpy(eb, &ele, 8);   /* Redis hashes the integer's memory */
		hll_add(&dense, eb, 8, sparse_max);
		hll_add(&sparse, eb, 8, sparse_max);
		if ((int64_t)j != checkpoint)
			continue;
		if (j < sparse_max / 2 && sparse.p[4] != HLL_SPARSE) {
			res = "TESTFAILED sparse encoding not used";
			break;
		}
		uint64_t cd = 0, cs = 0;
		hll_count(dense.p, dense.len, &cd);
		hll_count(sparse.p, sparse.len, &cs);
		if (cd != cs) {
			res = "TESTFAILED dense/sparse disagree";
			break;
		}
		int64_t abserr = checkpoint - (int64_t)cd;
		uint64_t maxerr = (uint64_t)ceil(relerr * 6 * (double)checkpoint);
		if (j == 10)
			maxerr = 1;
		if (abserr < 0)
			abserr = -abserr;
		if (abserr > (int64_t)maxerr) {
			snprintf(err, sizeof(err), "TESTFAILED Too big error. card:%llu abserr:%llu",
				 (unsigned long long)checkpoint, (unsigned long long)abserr);
			res = err;
		}
		checkpoint *= 10;
	}
	hll_free(&dense);
	hll_free(&sparse);
	free(regs);
	free(bytes);
	return res;
}
