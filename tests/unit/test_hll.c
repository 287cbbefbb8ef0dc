/*
 * test_hll.c - store/hll.c against bytes and estimates recorded from
 * redis-server 7.0.15 for the same PFADD/PFMERGE inputs (sparse, promoted
 * to dense, merged), and every class of corrupt HLL answered as corrupt
 * without a read or write out of bounds (run under ASan).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/hll.h"

/* FNV-1a 64 of the bytes: the recorded dense values are long. */
static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* PFADD key prefix1 .. prefixN, one element per call, as redis-cli sent. */
static void add_seq(struct hll *h, const char *prefix, int n)
{
	char b[32];
	for (int i = 1; i <= n; i++) {
		int len = snprintf(b, sizeof(b), "%s%d", prefix, i);
		if (hll_add(h, b, (size_t)len, HLL_SPARSE_MAX_BYTES_DEFAULT) == 1)
			hll_invalidate_cache(h->p);
	}
}

static uint64_t count(const struct hll *h)
{
	uint64_t c = 0;
	assert_int_equal(hll_count(h->p, h->len, &c), 0);
	return c;
}

/* PFMERGE dst src...: dst (empty) merged with the sources, Redis's way. */
static void merge(struct hll *dst, const struct hll *src, int n)
{
	uint8_t max[HLL_REGISTERS] = { 0 };
	bool dense = false;
	hll_init_empty(dst);
	for (int i = 0; i < n; i++) {
		assert_int_equal(hll_merge(max, src[i].p, src[i].len), 0);
		dense |= hll_encoding_of(src[i].p) == HLL_DENSE;
	}
	if (dense)
		assert_int_equal(hll_to_dense(dst), 1);
	for (long j = 0; j < HLL_REGISTERS; j++)
		if (max[j])
			hll_set(dst, j, max[j], HLL_SPARSE_MAX_BYTES_DEFAULT);
	hll_invalidate_cache(dst->p);
}

static void test_hll_sparse_bytes_match_redis(void **state)
{
	(void)state;
	static const uint8_t want[] = "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80"
				      "\x61\x84\x80\x58\xcd\x88\x45\xa0\x84\x08";
	struct hll h;
	hll_init_empty(&h);
	assert_int_equal(h.len, 18);
	assert_int_equal(hll_add(&h, "x", 1, 3000), 1);
	assert_int_equal(hll_add(&h, "y", 1, 3000), 1);
	assert_int_equal(hll_add(&h, "z", 1, 3000), 1);
	assert_int_equal(hll_add(&h, "z", 1, 3000), 0);
	hll_invalidate_cache(h.p);
	assert_int_equal(h.len, sizeof(want) - 1);
	assert_memory_equal(h.p, want, h.len);
	assert_int_equal(count(&h), 3);
	size_t n;
	char *d = hll_decode_sparse(h.p, h.len, &n);
	assert_int_equal(n, strlen("Z:8581 v:1,1 Z:6350 v:3,1 Z:1441 v:2,1 z:9"));
	assert_memory_equal(d, "Z:8581 v:1,1 Z:6350 v:3,1 Z:1441 v:2,1 z:9", n);
	free(d);
	hll_free(&h);
}

static void test_hll_promoted_and_merged_match_redis(void **state)
{
	(void)state;
	struct hll d, m[2], mm, md, src[2];
	hll_init_empty(&d);
	add_seq(&d, "f", 3000);
	assert_int_equal(hll_encoding_of(d.p), HLL_DENSE);
	assert_int_equal(d.len, HLL_DENSE_SIZE);
	assert_true(fnv(d.p, d.len) == 0xcb8f0f3927531c1bULL);
	assert_int_equal(count(&d), 3000);

	hll_init_empty(&m[0]);
	add_seq(&m[0], "a", 300);
	hll_init_empty(&m[1]);
	add_seq(&m[1], "b", 200);
	assert_int_equal(m[0].len, 689);
	assert_true(fnv(m[0].p, m[0].len) == 0xc1a9d4cfe9194374ULL);
	assert_int_equal(count(&m[0]), 300);

	merge(&mm, m, 2);
	assert_int_equal(mm.len, 1048);
	assert_true(fnv(mm.p, mm.len) == 0xe682e8d6fbce42b2ULL);
	assert_int_equal(count(&mm), 503);

	src[0] = d;
	src[1] = m[0];
	merge(&md, src, 2);
	assert_true(fnv(md.p, md.len) == 0x7309009e29e9672aULL);
	assert_int_equal(count(&md), 3294);

	uint8_t max[HLL_REGISTERS] = { 0 };
	assert_int_equal(hll_merge(max, d.p, d.len), 0);
	assert_int_equal(hll_merge(max, m[0].p, m[0].len), 0);
	assert_int_equal(hll_count_raw(max), 3294);

	uint8_t cache[8];
	hll_cache_bytes(503, cache);
	memcpy(mm.p + 8, cache, 8);
	uint64_t card;
	assert_true(hll_cached(mm.p, &card));
	assert_int_equal(card, 503);
	hll_free(&d);
	hll_free(&m[0]);
	hll_free(&m[1]);
	hll_free(&mm);
	hll_free(&md);
}

/* The header checks: magic, encoding byte, dense length. */
static void test_hll_bad_header(void **state)
{
	(void)state;
	struct hll h;
	hll_init_empty(&h);
	assert_true(hll_is_hll(h.p, h.len));
	assert_false(hll_is_hll(h.p, 15));
	h.p[0] = 'h';
	assert_false(hll_is_hll(h.p, h.len));
	h.p[0] = 'H';
	h.p[4] = 2;
	assert_false(hll_is_hll(h.p, h.len));
	h.p[4] = HLL_SPARSE;
	assert_int_equal(hll_to_dense(&h), 1);
	assert_true(hll_is_hll(h.p, h.len));
	assert_false(hll_is_hll(h.p, h.len - 1));   /* truncated dense */
	hll_free(&h);
}

/* A sparse string from exactly its bytes (a heap copy, so ASan sees any
 * read past the end). */
static void sparse_of(struct hll *h, const uint8_t *ops, size_t n)
{
	uint8_t *b = malloc(HLL_HDR_SIZE + n);
	memset(b, 0, HLL_HDR_SIZE);
	memcpy(b, "HYLL", 4);
	b[4] = HLL_SPARSE;
	if (n)
		memcpy(b + HLL_HDR_SIZE, ops, n);
	hll_init_copy(h, b, HLL_HDR_SIZE + n);
	free(b);
}

static void expect_corrupt(const uint8_t *ops, size_t n)
{
	struct hll h;
	uint64_t c;
	uint8_t max[HLL_REGISTERS] = { 0 };
	sparse_of(&h, ops, n);
	assert_true(hll_is_hll(h.p, h.len));
	assert_int_equal(hll_count(h.p, h.len, &c), HLL_CORRUPT);
	assert_int_equal(hll_merge(max, h.p, h.len), HLL_CORRUPT);
	assert_int_equal(hll_to_dense(&h), HLL_CORRUPT);
	/* An add may land in the covered part, or be refused; never more. */
	for (int i = 0; i < 200; i++) {
		char e[16];
		int len = snprintf(e, sizeof(e), "e%d", i);
		int r = hll_add(&h, e, (size_t)len, 3000);
		assert_true(r == HLL_CORRUPT || r == 0 || r == 1);
	}
	hll_free(&h);
}

static void test_hll_corrupt_sparse(void **state)
{
	(void)state;
	/* Past 16384 registers: XZERO 16384 then a VAL. */
	static const uint8_t past_val[] = { 0x7f, 0xff, 0x80 };
	/* Past 16384 registers with zero runs only. */
	static const uint8_t past_zero[] = { 0x7f, 0xff, 0x00 };
	/* Short of 16384. */
	static const uint8_t short_run[] = { 0x7f, 0xfe };
	/* An XZERO cut off at the end of the string. */
	static const uint8_t cut_xzero[] = { 0x7f };
	/* Nothing at all. */
	expect_corrupt(past_val, sizeof(past_val));
	expect_corrupt(past_zero, sizeof(past_zero));
	expect_corrupt(short_run, sizeof(short_run));
	expect_corrupt(cut_xzero, sizeof(cut_xzero));
	expect_corrupt(NULL, 0);
	/* Very many XZEROs: the register count must not wrap. */
	size_t n = 2u * 140000;
	uint8_t *many = malloc(n);
	for (size_t i = 0; i < n; i += 2) {
		many[i] = 0x7f;
		many[i + 1] = 0xff;
	}
	many[n - 2] = 0x80;   /* a VAL at the very end */
	expect_corrupt(many, n - 1);
	free(many);
}

static void test_hll_sparse_max_bytes_promotes(void **state)
{
	(void)state;
	struct hll h;
	hll_init_empty(&h);
	/* redis-server with hll-sparse-max-bytes 20: "a" splits the XZERO
	 * into XZERO VAL XZERO, 21 bytes, so the first PFADD turns dense;
	 * with 21 it stays sparse. */
	assert_int_equal(hll_add(&h, "a", 1, 21), 1);
	assert_int_equal(hll_encoding_of(h.p), HLL_SPARSE);
	assert_int_equal(h.len, 21);
	hll_free(&h);
	hll_init_empty(&h);
	assert_int_equal(hll_add(&h, "a", 1, 20), 1);
	assert_int_equal(hll_encoding_of(h.p), HLL_DENSE);
	assert_int_equal(hll_add(&h, "b", 1, 20), 1);
	assert_int_equal(hll_add(&h, "c", 1, 20), 1);
	assert_int_equal(count(&h), 3);
	hll_free(&h);
}

static void test_hll_selftest_passes(void **state)
{
	(void)state;
	assert_null(hll_selftest(HLL_SPARSE_MAX_BYTES_DEFAULT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hll_sparse_bytes_match_redis),
		cmocka_unit_test(test_hll_promoted_and_merged_match_redis),
		cmocka_unit_test(test_hll_bad_header),
		cmocka_unit_test(test_hll_corrupt_sparse),
		cmocka_unit_test(test_hll_sparse_max_bytes_promotes),
		cmocka_unit_test(test_hll_selftest_passes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
