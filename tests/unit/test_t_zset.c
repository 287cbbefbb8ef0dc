/*
 * test_t_zset.c - the sorted set structure: order, ranks/spans, the member
 * dict and memory accounting stay consistent (zset_check) after seeded random
 * operation sequences checked against a simple sorted-array model; encoding
 * conversions; score formatting as Redis 7.0 prints scores.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdatomic.h>

#include "store/encoding.h"
#include "store/t_zset.h"

struct model_elem {
	char m[80];
	size_t mlen;
	double score;
};

struct model {
	struct model_elem *e;
	size_t n;
};

/* zset_add that disposes of the old object when the zset moved. */
static int add(struct zset **zp, double score, const char *m, size_t mlen,
	       int flags, double *ns)
{
	struct zset *old = *zp;
	int out = zset_add(zp, score, m, mlen, flags, ns);
	assert_int_equal(!!(out & ZADD_OUT_MOVED), *zp != old);
	if (*zp != old)
		zset_free(old);
	return out;
}

static int elem_cmp(const void *a, const void *b)
{
	const struct model_elem *x = a, *y = b;
	if (x->score < y->score) return -1;
	if (x->score > y->score) return 1;
	size_t n = x->mlen < y->mlen ? x->mlen : y->mlen;
	int r = memcmp(x->m, y->m, n);
	if (r) return r;
	return x->mlen < y->mlen ? -1 : x->mlen > y->mlen;
}

static long model_find(struct model *md, const char *m, size_t mlen)
{
	for (size_t i = 0; i < md->n; i++)
		if (md->e[i].mlen == mlen && memcmp(md->e[i].m, m, mlen) == 0)
			return (long)i;
	return -1;
}

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void check_against_model(struct zset *z, struct model *md)
{
	assert_int_equal(zset_check(z), 0);
	qsort(md->e, md->n, sizeof(*md->e), elem_cmp);
	assert_int_equal(zset_len(z), md->n);
	struct zset_iter it;
	struct kv_slice m;
	double s;
	zset_iter_init(z, &it, 0, false);
	for (size_t i = 0; i < md->n; i++) {
		assert_true(zset_iter_next(&it, &m, &s));
		assert_int_equal(m.len, md->e[i].mlen);
		assert_memory_equal(m.ptr, md->e[i].m, m.len);
		assert_true(s == md->e[i].score);
	}
	assert_false(zset_iter_next(&it, &m, &s));
	/* Reverse iteration and ranks of a few members. */
	zset_iter_init(z, &it, 0, true);
	for (size_t i = md->n; i-- > 0;) {
		assert_true(zset_iter_next(&it, &m, &s));
		assert_int_equal(m.len, md->e[i].mlen);
	}
	for (size_t i = 0; i < md->n; i += 1 + md->n / 16) {
		double sc;
		assert_int_equal(zset_rank(z, md->e[i].m, md->e[i].mlen, false, &sc), (int64_t)i);
		assert_int_equal(zset_rank(z, md->e[i].m, md->e[i].mlen, true, NULL),
				 (int64_t)(md->n - 1 - i));
	}
}

static void random_run(uint64_t seed, int ops, int universe, int maxlen)
{
	printf("# seed %llu ops %d universe %d\n", (unsigned long long)seed, ops, universe);
	uint64_t st = seed;
	struct zset *z = zset_new();
	struct model md = { calloc((size_t)universe, sizeof(struct model_elem)), 0 };
	for (int op = 0; op < ops; op++) {
		char m[80];
		int id = (int)(rng(&st) % (uint64_t)universe);
		size_t mlen = (size_t)snprintf(m, sizeof(m), "m%d", id);
		if (maxlen > 0 && id % 7 == 0) {
			/* Some long members force the skiplist encoding. */
			memset(m + mlen, 'x', (size_t)maxlen - mlen);
			mlen = (size_t)maxlen;
		}
		double score = (double)(int)(rng(&st) % 50) - 25;
		if (rng(&st) % 4 == 0)
			score /= 3;
		long at = model_find(&md, m, mlen);
		switch (rng(&st) % 6) {
		case 0: case 1: case 2: {
			double ns;
			int out = add(&z, score, m, mlen, 0, &ns);
			if (at < 0) {
				assert_true(out & ZADD_OUT_ADDED);
				memcpy(md.e[md.n].m, m, mlen);
				md.e[md.n].mlen = mlen;
				md.e[md.n].score = score == 0 ? 0.0 : score;
				md.n++;
			} else {
				md.e[at].score = score == 0 ? 0.0 : score;
			}
			break;
		}
		case 3: {
			double ns;
			add(&z, score, m, mlen, ZADD_IN_INCR, &ns);
			if (at < 0) {
				memcpy(md.e[md.n].m, m, mlen);
				md.e[md.n].mlen = mlen;
				md.e[md.n].score = score;
				md.n++;
			} else {
				md.e[at].score += score;
			}
			break;
		}
		case 4:
			assert_int_equal(zset_del(z, m, mlen), at >= 0);
			if (at >= 0)
				md.e[at] = md.e[--md.n];
			break;
		case 5:
			if (md.n > 0 && rng(&st) % 8 == 0) {
				qsort(md.e, md.n, sizeof(*md.e), elem_cmp);
				size_t a = rng(&st) % md.n, b = a + rng(&st) % 4;
				if (b >= md.n)
					b = md.n - 1;
				zset_delete_rank_range(z, a, b);
				memmove(md.e + a, md.e + b + 1, (md.n - b - 1) * sizeof(*md.e));
				md.n -= b - a + 1;
			}
			break;
		}
		if (op % 97 == 0 || op == ops - 1) {
			/* -0 and 0 compare equal; normalise the model's signs. */
			for (size_t i = 0; i < md.n; i++)
				if (md.e[i].score == 0)
					md.e[i].score = 0.0;
			check_against_model(z, &md);
		}
	}
	zset_free(z);
	free(md.e);
}

static void test_t_zset_random_packed(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 20; seed++)
		random_run(seed * 0x9e3779b97f4a7c15ULL, 600, 60, 0);
}

static void test_t_zset_random_skiplist(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 4; seed++)
		random_run(seed * 0x2545F4914F6CDD1DULL, 4000, 1500, 0);
	random_run(77, 3000, 400, 70);
}

static void test_t_zset_encoding_conversion(void **state)
{
	(void)state;
	struct zset *z = zset_new();
	char m[80];
	/* zset-max-listpack-entries (default 128) decides... */
	for (int i = 0; i < 128; i++) {
		int n = snprintf(m, sizeof(m), "k%d", i);
		add(&z, i, m, (size_t)n, 0, NULL);
	}
	assert_string_equal(zset_encoding(z), "listpack");
	add(&z, 1000, "last", 4, 0, NULL);
	assert_string_equal(zset_encoding(z), "skiplist");
	assert_int_equal(zset_check(z), 0);
	zset_free(z);

	/* ...up to what the packed layout holds, whatever it is set to. */
	atomic_store(&kv_encoding.zset_max_listpack_entries, 1000);
	z = zset_new();
	for (int i = 0; i < ZSET_PACKED_MAX_ENTRIES; i++) {
		/* The longest members the layout takes: 64 bytes each. */
		snprintf(m, sizeof(m), "%064d", i);
		add(&z, i, m, 64, 0, NULL);
	}
	assert_string_equal(zset_encoding(z), "listpack");
	assert_int_equal(zset_len(z), ZSET_PACKED_MAX_ENTRIES);
	assert_int_equal(zset_check(z), 0);
	add(&z, 1000, "last", 4, 0, NULL);
	assert_string_equal(zset_encoding(z), "skiplist");
	assert_int_equal(zset_check(z), 0);
	zset_free(z);
	atomic_store(&kv_encoding.zset_max_listpack_entries, 128);

	z = zset_new();
	memset(m, 'a', 65);
	add(&z, 1, m, 64, 0, NULL);
	assert_string_equal(zset_encoding(z), "listpack");
	add(&z, 1, m, 65, 0, NULL);
	assert_string_equal(zset_encoding(z), "skiplist");
	/* Packing back (as the *STORE commands do) only when it fits. */
	zset_pack_if_fits(&z);
	assert_string_equal(zset_encoding(z), "skiplist");
	zset_del(z, m, 65);
	zset_pack_if_fits(&z);
	assert_string_equal(zset_encoding(z), "listpack");
	assert_int_equal(zset_len(z), 1);
	assert_int_equal(zset_check(z), 0);
	zset_free(z);
}

static void test_t_zset_negative_zero(void **state)
{
	(void)state;
	/* Redis's listpack keeps -0 as the integer 0; its skiplist keeps -0. */
	struct zset *z = zset_new();
	double s;
	add(&z, -0.0, "a", 1, 0, NULL);
	assert_true(zset_score(z, "a", 1, &s));
	assert_false(signbit(s));
	zset_free(z);
	z = zset_new_skiplist();
	add(&z, -0.0, "a", 1, 0, NULL);
	assert_true(zset_score(z, "a", 1, &s));
	assert_true(signbit(s));
	zset_free(z);
	/* ZRANGESTORE's result (zset_new_for): packed for a short range, so an
	 * element added before a long member converts it ends at 0, the ones
	 * after keep -0, as in Redis; a skiplist from the start for a range
	 * over zset-max-listpack-entries (128), keeping every -0. */
	char long_m[100];
	memset(long_m, 'P', sizeof(long_m));
	z = zset_new_for(3);
	add(&z, -0.0, "a", 1, 0, NULL);
	add(&z, -0.0, long_m, sizeof(long_m), 0, NULL);
	add(&z, -0.0, "b", 1, 0, NULL);
	assert_true(zset_score(z, "a", 1, &s) && !signbit(s));
	assert_true(zset_score(z, long_m, sizeof(long_m), &s) && signbit(s));
	assert_true(zset_score(z, "b", 1, &s) && signbit(s));
	zset_free(z);
	z = zset_new_for(129);
	add(&z, -0.0, "a", 1, 0, NULL);
	assert_true(zset_score(z, "a", 1, &s) && signbit(s));
	zset_free(z);
}

static void test_t_zset_fmt_score(void **state)
{
	(void)state;
	static const struct { double v; const char *s; } cases[] = {
		{ 0.1, "0.10000000000000001" }, { 1e300, "1.0000000000000001e+300" },
		{ 3.0, "3" }, { -0.0, "-0" }, { 0.0, "0" }, { 1.5e-10, "1.5e-10" },
		{ 1e17, "1e+17" }, { 4503599627370496.0, "4503599627370496" },
		{ 123456789012345678.0, "1.2345678901234568e+17" },
		{ 5e-324, "4.9406564584124654e-324" }, { INFINITY, "inf" },
		{ -INFINITY, "-inf" }, { -969, "-969" }, { 2.5, "2.5" },
		{ 13139.7, "13139.700000000001" },
	};
	char buf[ZSET_SCORE_MAX];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = zset_fmt_score(buf, cases[i].v);
		assert_int_equal((size_t)n, strlen(cases[i].s));
		assert_string_equal(buf, cases[i].s);
	}
}

static void test_t_zset_ranges_and_pop(void **state)
{
	(void)state;
	for (int big = 0; big < 2; big++) {
		struct zset *z = big ? zset_new_skiplist() : zset_new();
		const char *ms[] = { "a", "b", "c", "d", "e" };
		for (int i = 0; i < 5; i++)
			add(&z, i + 1, ms[i], 1, 0, NULL);
		struct zset_score_range r = { 2, 4, true, false };
		size_t first;
		assert_int_equal(zset_score_span(z, &r, false, &first), 2);
		assert_int_equal(first, 2);
		assert_int_equal(zset_score_span(z, &r, true, &first), 2);
		assert_int_equal(first, 1);
		struct zset_lex_range lr = { { 0, false, { "b", 1 } }, { 1, false, { NULL, 0 } } };
		assert_int_equal(zset_lex_count(z, &lr), 4);
		assert_int_equal(zset_lex_span(z, &lr, false, 1, &first), 3);
		assert_int_equal(first, 2);
		assert_int_equal(zset_pop(z, true, 2, NULL, NULL), 2);
		assert_int_equal(zset_len(z), 3);
		assert_int_equal(zset_rank(z, "c", 1, true, NULL), 0);
		assert_int_equal(zset_check(z), 0);
		zset_free(z);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_t_zset_random_packed),
		cmocka_unit_test(test_t_zset_random_skiplist),
		cmocka_unit_test(test_t_zset_encoding_conversion),
		cmocka_unit_test(test_t_zset_negative_zero),
		cmocka_unit_test(test_t_zset_fmt_score),
		cmocka_unit_test(test_t_zset_ranges_and_pop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
