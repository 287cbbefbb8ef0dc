/*
 * test_t_set.c - the set type: encodings and their conversions against a
 * model under seeded random operations, iteration order, random members,
 * popping, and the SSCAN cursor walk while the set grows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/kv.h"
#include "store/t_set.h"

static bool add_str(struct kv_set **s, const char *m)
{
	return set_add(s, m, strlen(m), NULL);
}

/* ---- a model: an array of distinct strings ---- */

struct model {
	char **m;
	size_t n, cap;
	bool all_int, ever_hashtable, ever_listpack;
};

static long model_find(const struct model *md, const char *m, size_t len)
{
	for (size_t i = 0; i < md->n; i++)
		if (strlen(md->m[i]) == len && memcmp(md->m[i], m, len) == 0)
			return (long)i;
	return -1;
}

static bool is_canonical_int(const char *m)
{
	long long v;
	char buf[32];
	if (strlen(m) > 20 || sscanf(m, "%lld", &v) != 1)
		return false;
	snprintf(buf, sizeof(buf), "%lld", v);
	return strcmp(buf, m) == 0;
}

static bool collect_member(void *arg, const char *m, size_t len)
{
	struct model *md = arg;
	if (md->n == md->cap) {
		md->cap = md->cap ? md->cap * 2 : 64;
		md->m = realloc(md->m, md->cap * sizeof(*md->m));
	}
	md->m[md->n++] = strndup(m, len);
	return true;
}

static void model_free(struct model *md)
{
	for (size_t i = 0; i < md->n; i++)
		free(md->m[i]);
	free(md->m);
	memset(md, 0, sizeof(*md));
}

/* Every member of the set, exactly once, equals the model. */
static void check_against(struct kv_set *s, const struct model *md)
{
	struct model got = { 0 };
	assert_int_equal(set_size(s), md->n);
	set_foreach(s, collect_member, &got);
	assert_int_equal(got.n, md->n);
	for (size_t i = 0; i < got.n; i++) {
		assert_true(model_find(md, got.m[i], strlen(got.m[i])) >= 0);
		/* no duplicates */
		for (size_t j = i + 1; j < got.n; j++)
			assert_true(strcmp(got.m[i], got.m[j]) != 0);
	}
	model_free(&got);
}

static void gen_member(char *buf, size_t cap, unsigned r)
{
	switch (r % 10) {
	case 0: case 1: case 2: case 3:
		snprintf(buf, cap, "%d", (int)(r / 10 % 1400) - 700);
		break;
	case 4:
		snprintf(buf, cap, "%lld", (long long)((r % 3 == 0) ? INT64_MAX : (r % 3 == 1) ? INT64_MIN : 5000000000LL));
		break;
	case 5: case 6: case 7: case 8:
		snprintf(buf, cap, "m%u", r / 10 % 200);
		break;
	default:
		memset(buf, 'x', 65);
		snprintf(buf + 65, cap - 65, "%u", r / 10 % 5);
		break;
	}
}

/* The encoding rules (t_set.h) replayed on the model. */
static void model_encoding_after_add(struct model *md, const char *m)
{
	size_t len = strlen(m);
	if (md->ever_hashtable)
		return;
	if (md->all_int && is_canonical_int(m)) {
		if (md->n > SET_MAX_INTSET_ENTRIES)
			md->ever_hashtable = true;
		return;
	}
	if (md->all_int) {
		md->all_int = false;
		if (md->n <= SET_MAX_LISTPACK_ENTRIES && len <= SET_MAX_LISTPACK_VALUE)
			md->ever_listpack = true;
		else
			md->ever_hashtable = true;
		return;
	}
	if (md->n > SET_MAX_LISTPACK_ENTRIES || len > SET_MAX_LISTPACK_VALUE)
		md->ever_hashtable = true;
}

static enum set_encoding model_encoding(const struct model *md)
{
	return md->ever_hashtable ? SET_ENC_HASHTABLE
	       : md->all_int      ? SET_ENC_INTSET
				  : SET_ENC_LISTPACK;
}

static void test_t_set_random_ops_against_model(void **state)
{
	(void)state;
	unsigned seed = (unsigned)time(NULL);
	const char *env = getenv("KEVY_TEST_SEED");
	if (env)
		seed = (unsigned)strtoul(env, NULL, 10);
	printf("test_t_set_random_ops_against_model seed=%u (KEVY_TEST_SEED)\n", seed);
	srand(seed);
	set_seed_random(seed);

	for (int round = 0; round < 12; round++) {
		struct kv_set *s = set_create();
		struct model md = { .all_int = true };
		/* Rounds differ in how far they grow and what they add. */
		int ops = 300 + round * 150;
		unsigned mix = (unsigned)round % 3;
		for (int i = 0; i < ops; i++) {
			char buf[96];
			unsigned r = (unsigned)rand();
			if (mix == 0)
				r = r / 10 * 10 + (r % 4);   /* integers only */
			gen_member(buf, sizeof(buf), r);
			size_t len = strlen(buf);
			long at = model_find(&md, buf, len);
			if (rand() % 4 == 0) {
				assert_int_equal(set_remove(&s, buf, len, NULL), at >= 0);
				if (at >= 0) {
					free(md.m[at]);
					md.m[at] = md.m[--md.n];
				}
			} else {
				assert_int_equal(set_add(&s, buf, len, NULL), at < 0);
				if (at < 0) {
					collect_member(&md, buf, len);
					model_encoding_after_add(&md, buf);
				}
			}
			assert_int_equal(set_contains(s, buf, len), model_find(&md, buf, len) >= 0);
			assert_int_equal(set_encoding(s), model_encoding(&md));
			assert_true(set_mem(s) >= sizeof(void *) * 2);
			if (i % 50 == 0)
				check_against(s, &md);
		}
		check_against(s, &md);
		model_free(&md);
		set_free(s);
	}
}

static void test_t_set_conversions(void **state)
{
	(void)state;
	struct kv_set *s = set_create();
	char buf[32];

	assert_string_equal(set_encoding_name(s), "intset");
	for (int i = 0; i < SET_MAX_INTSET_ENTRIES; i++) {
		snprintf(buf, sizeof(buf), "%d", i * 7 - 100);
		assert_true(add_str(&s, buf));
	}
	assert_string_equal(set_encoding_name(s), "intset");
	assert_false(add_str(&s, "-100"));   /* present: no conversion */
	assert_true(add_str(&s, "100000"));
	assert_string_equal(set_encoding_name(s), "hashtable");
	assert_int_equal(set_size(s), SET_MAX_INTSET_ENTRIES + 1);
	/* Never back down. */
	for (int i = 0; i < SET_MAX_INTSET_ENTRIES; i++) {
		snprintf(buf, sizeof(buf), "%d", i * 7 - 100);
		assert_true(set_remove(&s, buf, strlen(buf), NULL));
	}
	assert_string_equal(set_encoding_name(s), "hashtable");
	set_free(s);

	/* A non-integer into a small intset: listpack, members kept. */
	s = set_create();
	add_str(&s, "5");
	add_str(&s, "-3");
	assert_true(add_str(&s, "a"));
	assert_string_equal(set_encoding_name(s), "listpack");
	assert_true(set_contains(s, "5", 1));
	assert_true(set_contains(s, "-3", 2));
	assert_false(add_str(&s, "5"));
	for (int i = 3; i < SET_MAX_LISTPACK_ENTRIES; i++) {
		snprintf(buf, sizeof(buf), "m%d", i);
		add_str(&s, buf);
	}
	assert_int_equal(set_size(s), SET_MAX_LISTPACK_ENTRIES);
	assert_string_equal(set_encoding_name(s), "listpack");
	assert_true(add_str(&s, "one more"));
	assert_string_equal(set_encoding_name(s), "hashtable");
	set_free(s);

	/* A 65-byte member: hashtable at once; 64 bytes: listpack. */
	char big[66];
	memset(big, 'b', 65);
	big[65] = '\0';
	s = set_create();
	set_add(&s, big, 64, NULL);
	assert_string_equal(set_encoding_name(s), "listpack");
	set_add(&s, big, 65, NULL);
	assert_string_equal(set_encoding_name(s), "hashtable");
	assert_true(set_contains(s, big, 64));
	set_free(s);

	/* Non-canonical integers are strings. */
	s = set_create();
	add_str(&s, "1");
	assert_false(set_contains(s, "01", 2));
	assert_false(set_contains(s, "+1", 2));
	assert_true(add_str(&s, "01"));
	assert_string_equal(set_encoding_name(s), "listpack");
	assert_int_equal(set_size(s), 2);
	set_free(s);
}

static bool append_csv(void *arg, const char *m, size_t len)
{
	char *out = arg;
	strncat(out, m, len);
	strcat(out, ",");
	return true;
}

static void test_t_set_intset_sorted_widths(void **state)
{
	(void)state;
	struct kv_set *s = set_create();
	const char *in[] = { "5", "-32768", "32767", "70000", "-9223372036854775808",
			     "9223372036854775807", "0", "-1", "-2147483649" };
	char out[512] = "";

	for (size_t i = 0; i < KV_ARRAY_LEN(in); i++)
		assert_true(add_str(&s, in[i]));
	set_foreach(s, append_csv, out);
	assert_string_equal(out, "-9223372036854775808,-2147483649,-32768,-1,0,5,32767,70000,"
				 "9223372036854775807,");
	assert_string_equal(set_encoding_name(s), "intset");
	assert_true(set_remove(&s, "70000", 5, NULL));
	assert_false(set_remove(&s, "70000", 5, NULL));
	out[0] = '\0';
	set_foreach(s, append_csv, out);
	assert_string_equal(out, "-9223372036854775808,-2147483649,-32768,-1,0,5,32767,"
				 "9223372036854775807,");
	set_free(s);
}

static void fill(struct kv_set **s, int n, const char *fmt)
{
	char buf[32];
	for (int i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), fmt, i);
		add_str(s, buf);
	}
}

static void test_t_set_pop_and_random(void **state)
{
	(void)state;
	static const int sizes[] = { 10, 100, 600, 2000 };
	static const char *fmts[] = { "%d", "s%d" };

	set_seed_random(42);
	for (size_t f = 0; f < 2; f++) {
		for (size_t k = 0; k < KV_ARRAY_LEN(sizes); k++) {
			int n = sizes[k];
			struct kv_set *s = set_create();
			fill(&s, n, fmts[f]);
			/* Distinct random members: few, many, all. */
			uint64_t counts[] = { 1, (uint64_t)n / 5, (uint64_t)n / 2, (uint64_t)n - 1,
					      (uint64_t)n, (uint64_t)n + 5 };
			for (size_t c = 0; c < KV_ARRAY_LEN(counts); c++) {
				struct model got = { 0 };
				set_random_distinct(s, counts[c], collect_member, &got);
				assert_int_equal(got.n, KV_MIN(counts[c], (uint64_t)n));
				for (size_t i = 0; i < got.n; i++) {
					assert_true(set_contains(s, got.m[i], strlen(got.m[i])));
					for (size_t j = i + 1; j < got.n; j++)
						assert_true(strcmp(got.m[i], got.m[j]) != 0);
				}
				model_free(&got);
			}
			/* Pop a third, then the rest: every member exactly once. */
			struct model popped = { 0 };
			assert_int_equal(set_pop(&s, (uint64_t)n / 3, collect_member, &popped, NULL),
					 n / 3);
			assert_int_equal(set_size(s), n - n / 3);
			for (size_t i = 0; i < popped.n; i++)
				assert_false(set_contains(s, popped.m[i], strlen(popped.m[i])));
			assert_int_equal(set_pop(&s, (uint64_t)n, collect_member, &popped, NULL),
					 n - n / 3);
			assert_int_equal(set_size(s), 0);
			assert_int_equal(popped.n, n);
			for (int i = 0; i < n; i++) {
				char buf[32];
				snprintf(buf, sizeof(buf), fmts[f], i);
				assert_true(model_find(&popped, buf, strlen(buf)) >= 0);
			}
			model_free(&popped);
			assert_false(set_random(s, collect_member, NULL));
			set_free(s);
		}
	}
}

struct seen {
	unsigned char *hit;
	int limit;
};

static bool mark_seen(void *arg, const char *m, size_t len)
{
	struct seen *sn = arg;
	char buf[32];
	assert_true(len < sizeof(buf));
	memcpy(buf, m, len);
	buf[len] = '\0';
	int i = atoi(buf + 1);
	if (i < sn->limit)
		sn->hit[i] = 1;
	return true;
}

/* SSCAN's guarantee: every member present for the whole walk is reported,
 * while the set grows (and its table doubles) between steps. */
static void test_t_set_scan_while_growing(void **state)
{
	(void)state;
	const int initial = 1000;
	struct kv_set *s = set_create();
	struct seen sn = { calloc((size_t)initial, 1), initial };
	char buf[32];
	int next = initial;

	fill(&s, initial, "k%d");
	assert_string_equal(set_encoding_name(s), "hashtable");
	uint64_t cursor = 0;
	int steps = 0;
	do {
		cursor = set_scan(s, cursor, mark_seen, &sn);
		/* Grow (a bounded total, so the walk can end). */
		for (int i = 0; i < 40 && next < 20 * initial; i++) {
			snprintf(buf, sizeof(buf), "k%d", next++);
			add_str(&s, buf);
		}
		steps++;
	} while (cursor != 0 && steps < 100000);
	assert_int_equal(cursor, 0);
	for (int i = 0; i < initial; i++)
		assert_true(sn.hit[i]);
	/* Removing members other than the ones watched, while walking. */
	memset(sn.hit, 0, (size_t)initial);
	cursor = 0;
	do {
		cursor = set_scan(s, cursor, mark_seen, &sn);
		for (int i = 0; i < 200 && next > initial; i++) {
			snprintf(buf, sizeof(buf), "k%d", --next);
			set_remove(&s, buf, strlen(buf), NULL);
		}
	} while (cursor != 0);
	for (int i = 0; i < initial; i++)
		assert_true(sn.hit[i]);
	free(sn.hit);
	set_free(s);
}

static void test_t_set_long_members(void **state)
{
	(void)state;
	struct kv_set *s = set_create();
	size_t n = 100000;
	char *big = malloc(n);
	memset(big, 'z', n);
	fill(&s, 200, "x%d");
	assert_true(set_add(&s, big, n, NULL));
	assert_true(set_add(&s, big, 254, NULL));
	assert_true(set_add(&s, big, 255, NULL));
	assert_true(set_add(&s, "", 0, NULL));
	assert_false(set_add(&s, big, n, NULL));
	assert_true(set_contains(s, big, 255));
	assert_false(set_contains(s, big, 256));
	assert_true(set_remove(&s, big, n, NULL));
	assert_true(set_contains(s, "", 0));
	free(big);
	set_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_t_set_conversions),
		cmocka_unit_test(test_t_set_intset_sorted_widths),
		cmocka_unit_test(test_t_set_random_ops_against_model),
		cmocka_unit_test(test_t_set_pop_and_random),
		cmocka_unit_test(test_t_set_scan_while_growing),
		cmocka_unit_test(test_t_set_long_members),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
