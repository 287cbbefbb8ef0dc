/*
 * test_dict.c - the hash table: scale, incremental rehash invariants, the
 * cursor walk's guarantee under mutation and resizing, random elements.
 *
 * Randomized tests print their seed; set KEVY_TEST_SEED to replay one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "store/dict.h"
#include "base/kv.h"

#define TEST_SEED 0x1234567887654321ULL

struct tnode {
	struct dict_node node;
	uint32_t id;
	uint8_t klen;
	char key[23];
};

static struct kv_slice tnode_key(const struct dict_node *n)
{
	const struct tnode *t = (const struct tnode *)n;
	return (struct kv_slice){t->key, t->klen};
}

static const struct dict_type tnode_type = {.key = tnode_key};

static struct tnode *pool_new(uint32_t n)
{
	struct tnode *p = calloc(n, sizeof(*p));
	assert_non_null(p);
	for (uint32_t i = 0; i < n; i++) {
		p[i].id = i;
		p[i].klen = (uint8_t)snprintf(p[i].key, sizeof(p[i].key), "k:%u", i);
	}
	return p;
}

static struct tnode *find(struct dict *d, const struct tnode *t)
{
	return (struct tnode *)dict_find(d, t->key, t->klen);
}

static uint64_t test_seed(const char *test)
{
	const char *env = getenv("KEVY_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)clock();
	printf("%s: seed %llu (replay with KEVY_TEST_SEED)\n", test, (unsigned long long)seed);
	return seed ? seed : 1;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Structural invariants of dict.c, read from its private fields: every node
 * sits in the bucket its hash selects, moved buckets are empty, sizes are
 * powers of two and the count matches. */
static void check_invariants(const struct dict *d)
{
	uint64_t total = 0;
	for (int t = 0; t < 2; t++) {
		uint64_t size = d->size[t];
		if (t == 1 && !d->rehashing) {
			assert_int_equal(size, 0);
			continue;
		}
		if (size == 0) {
			assert_null(d->table[t]);
			continue;
		}
		assert_int_equal(size & (size - 1), 0);
		for (uint64_t i = 0; i < size; i++) {
			struct dict_node *n = d->table[t][i];
			if (t == 0 && d->rehashing && i < d->rehash_idx)
				assert_null(n);
			for (; n; n = n->next) {
				struct kv_slice k = tnode_key(n);
				assert_int_equal(dict_hash(d, k.ptr, k.len) & (size - 1), i);
				total++;
			}
		}
	}
	assert_int_equal(total, d->count);
}

static void test_dict_insert_lookup_delete_at_scale(void **state)
{
	(void)state;
	const uint32_t n = 300000;
	struct tnode *p = pool_new(n);
	struct dict d;
	dict_init(&d, &tnode_type, TEST_SEED);
	assert_null(dict_find(&d, "x", 1));
	assert_int_equal(dict_mem_bytes(&d), 0);
	for (uint32_t i = 0; i < n; i++) {
		assert_null(find(&d, &p[i]));
		dict_add(&d, &p[i].node);
	}
	assert_int_equal(dict_size(&d), n);
	for (uint32_t i = 0; i < n; i++)
		assert_ptr_equal(find(&d, &p[i]), &p[i]);
	check_invariants(&d);
	/* Load factor at most 1 once any rehash is done. */
	while (dict_rehash_step(&d, 1000))
		;
	assert_true(d.size[0] >= n && d.size[0] < 2 * (uint64_t)n + 8);
	for (uint32_t i = 0; i < n; i += 2)
		assert_ptr_equal(dict_unlink(&d, p[i].key, p[i].klen), &p[i]);
	assert_int_equal(dict_size(&d), n / 2);
	for (uint32_t i = 0; i < n; i++)
		assert_ptr_equal(find(&d, &p[i]), (i & 1) ? &p[i] : NULL);
	assert_null(dict_unlink(&d, p[0].key, p[0].klen));
	check_invariants(&d);
	for (uint32_t i = 1; i < n; i += 2)
		assert_ptr_equal(dict_unlink(&d, p[i].key, p[i].klen), &p[i]);
	assert_int_equal(dict_size(&d), 0);
	assert_int_equal(dict_mem_bytes(&d), 0);   /* empty dict frees its tables */
	dict_clear(&d, NULL, NULL);
	free(p);
}

/* Prefetching is a hint: it returns the key's hash and changes nothing,
 * not even the rehash position a lookup would advance, on an empty dict,
 * mid-rehash (both tables), for present and absent keys, at any depth. */
static void test_dict_prefetch_changes_nothing(void **state)
{
	(void)state;
	const uint32_t n = 5000;
	struct tnode *p = pool_new(n);
	struct dict d;
	dict_init(&d, &tnode_type, TEST_SEED);
	assert_int_equal(dict_prefetch(&d, "x", 1), dict_hash(&d, "x", 1));
	dict_prefetch_chain(&d, dict_hash(&d, "x", 1), 0);
	unsigned checked_rehashing = 0;
	for (uint32_t i = 0; i < n; i++) {
		dict_add(&d, &p[i].node);
		if (i % 13 != 0)
			continue;
		struct dict before = d;
		for (uint32_t j = 0; j <= i; j += 7) {
			uint64_t h = dict_prefetch(&d, p[j].key, p[j].klen);
			assert_int_equal(h, dict_hash(&d, p[j].key, p[j].klen));
			for (unsigned depth = 0; depth < 4; depth++)
				dict_prefetch_chain(&d, h, depth);
		}
		uint64_t h = dict_prefetch(&d, "absent", 6);
		dict_prefetch_chain(&d, h, 1);
		assert_memory_equal(&before, &d, sizeof(d));
		checked_rehashing += dict_is_rehashing(&d);
	}
	assert_true(checked_rehashing > 0);
	for (uint32_t j = 0; j < n; j++)
		assert_ptr_equal(find(&d, &p[j]), &p[j]);
	dict_clear(&d, NULL, NULL);
	free(p);
}

static void test_dict_incremental_rehash_keeps_every_element(void **state)
{
	(void)state;
	const uint32_t n = 20000;
	struct tnode *p = pool_new(n);
	struct dict d;
	dict_init(&d, &tnode_type, TEST_SEED);
	unsigned grows = 0, shrinks = 0;
	/* Grow one element at a time, checking everything while rehashing. */
	for (uint32_t i = 0; i < n; i++) {
		bool was = dict_is_rehashing(&d);
		dict_add(&d, &p[i].node);
		if (!was && dict_is_rehashing(&d))
			grows++;
		if (dict_is_rehashing(&d) && (i % 97 == 0 || i < 2000)) {
			check_invariants(&d);
			for (uint32_t j = 0; j <= i; j++)
				assert_ptr_equal(find(&d, &p[j]), &p[j]);
		}
	}
	/* Shrink: delete from the front, checking the survivors mid-rehash. */
	for (uint32_t i = 0; i < n; i++) {
		bool was = dict_is_rehashing(&d);
		assert_non_null(dict_unlink(&d, p[i].key, p[i].klen));
		if (!was && dict_is_rehashing(&d)) {
			shrinks++;
			assert_true(d.size[1] < d.size[0]);
		}
		if (dict_is_rehashing(&d) && i % 31 == 0) {
			check_invariants(&d);
			for (uint32_t j = i + 1; j < n; j++)
				assert_ptr_equal(find(&d, &p[j]), &p[j]);
		}
	}
	assert_true(grows >= 10);
	assert_true(shrinks >= 5);
	assert_int_equal(dict_size(&d), 0);
	dict_clear(&d, NULL, NULL);
	free(p);
}

static void test_dict_rehash_step_budget(void **state)
{
	(void)state;
	const uint32_t n = 1u << 16;
	struct tnode *p = pool_new(n + 1);
	struct dict d;
	dict_init(&d, &tnode_type, TEST_SEED);
	for (uint32_t i = 0; i < n; i++)
		dict_add(&d, &p[i].node);
	while (dict_rehash_step(&d, 100))
		;
	dict_add(&d, &p[n].node);   /* count == size: starts a grow */
	assert_true(dict_is_rehashing(&d));
	uint64_t before = d.rehash_idx;
	/* One step of one bucket visits at most 1 + 10 buckets. */
	dict_rehash_step(&d, 1);
	assert_true(d.rehash_idx - before <= 11);
	check_invariants(&d);
	assert_false(dict_rehash_us(&d, 1000000));
	assert_false(dict_is_rehashing(&d));
	check_invariants(&d);
	for (uint32_t i = 0; i <= n; i++)
		assert_ptr_equal(find(&d, &p[i]), &p[i]);
	dict_clear(&d, NULL, NULL);
	free(p);
}

/* ---- cursor walk under mutation ---- */

/*
 * Ids [0, nbase) are inserted before a walk and only rarely deleted; they
 * are the elements "present for the whole walk" unless deleted.  Ids
 * [nbase, cap) churn: between walk steps the table swings between nbase and
 * nbase + amplitude elements, so it grows and shrinks many times during one
 * walk, and the walk runs through partly rehashed tables in both directions.
 */
struct walk {
	struct dict *d;
	struct tnode *p;
	uint32_t cap, nbase;
	uint8_t *present;
	uint8_t *stable;     /* present at the start and never removed since */
	uint8_t *seen;
	uint32_t *live, *live_pos, nlive;   /* present churn ids, for O(1) picks */
	uint64_t rng;
	unsigned delete_in_callback_pct;
	uint64_t reported, deleted_in_cb, grows, shrinks;
};

static void walk_remove(struct walk *w, uint32_t id)
{
	w->present[id] = 0;
	w->stable[id] = 0;
	if (id >= w->nbase) {
		uint32_t at = w->live_pos[id], last = w->live[--w->nlive];
		w->live[at] = last;
		w->live_pos[last] = at;
	}
}

static void walk_add(struct walk *w, uint32_t id)
{
	bool was = dict_is_rehashing(w->d);
	dict_add(w->d, &w->p[id].node);
	if (!was && dict_is_rehashing(w->d))
		w->grows++;
	w->present[id] = 1;
	if (id >= w->nbase) {
		w->live_pos[id] = w->nlive;
		w->live[w->nlive++] = id;
	}
}

static void walk_unlink(struct walk *w, uint32_t id)
{
	bool was = dict_is_rehashing(w->d);
	assert_ptr_equal(dict_unlink(w->d, w->p[id].key, w->p[id].klen), &w->p[id]);
	if (!was && dict_is_rehashing(w->d))
		w->shrinks++;
	walk_remove(w, id);
}

static void walk_cb(void *arg, struct dict_node *n)
{
	struct walk *w = arg;
	struct tnode *t = (struct tnode *)n;
	assert_true(w->present[t->id]);   /* never a removed element */
	w->seen[t->id] = 1;
	w->reported++;
	if (w->delete_in_callback_pct && rnd(&w->rng) % 100 < w->delete_in_callback_pct) {
		assert_ptr_equal(dict_unlink(w->d, t->key, t->klen), t);
		walk_remove(w, t->id);
		w->deleted_in_cb++;
	}
}

static void walk_churn(struct walk *w, bool growing, uint32_t k)
{
	for (uint32_t i = 0; i < k; i++) {
		if (growing) {
			uint32_t id = w->nbase + (uint32_t)(rnd(&w->rng) % (w->cap - w->nbase));
			if (!w->present[id])
				walk_add(w, id);
		} else if (w->nlive > 0) {
			walk_unlink(w, w->live[rnd(&w->rng) % w->nlive]);
		}
	}
	/* Now and then a base element goes away (and stops counting). */
	if (rnd(&w->rng) % 64 == 0) {
		uint32_t id = (uint32_t)(rnd(&w->rng) % w->nbase);
		if (w->present[id])
			walk_unlink(w, id);
	}
}

static void one_walk(struct walk *w, uint32_t amplitude)
{
	memset(w->seen, 0, w->cap);
	for (uint32_t i = 0; i < w->cap; i++)
		w->stable[i] = w->present[i];
	uint64_t cursor = 0, steps = 0;
	bool growing = rnd(&w->rng) & 1;
	do {
		cursor = dict_scan(w->d, cursor, walk_cb, w);
		steps++;
		uint32_t k = rnd(&w->rng) % 2 ? 0 : 1 + (uint32_t)(rnd(&w->rng) % 64);
		walk_churn(w, growing, k);
		if (w->nlive >= amplitude)
			growing = false;
		else if (w->nlive == 0)
			growing = true;
		switch (rnd(&w->rng) % 8) {
		case 0: dict_rehash_step(w->d, 1 + rnd(&w->rng) % 50); break;
		case 1: dict_random(w->d); break;
		default: break;
		}
		assert_true(steps < 10u * 1000 * 1000);
	} while (cursor != 0);
	for (uint32_t i = 0; i < w->cap; i++) {
		if (w->stable[i] && !w->seen[i])
			fail_msg("element %u present for the whole walk was not reported", i);
	}
}

static void test_dict_scan_returns_every_stable_element_under_mutation(void **state)
{
	(void)state;
	const uint32_t cap = 60000;
	uint64_t seed = test_seed(__func__);
	struct tnode *p = pool_new(cap);
	struct dict d;
	dict_init(&d, &tnode_type, TEST_SEED);
	struct walk w = {
		.d = &d, .p = p, .cap = cap, .present = calloc(cap, 1),
		.stable = calloc(cap, 1), .seen = calloc(cap, 1),
		.live = calloc(cap, sizeof(uint32_t)), .live_pos = calloc(cap, sizeof(uint32_t)),
		.rng = seed,
	};
	for (int round = 0; round < 16; round++) {
		/* Start from an empty table of a random base size. */
		dict_clear(&d, NULL, NULL);
		memset(w.present, 0, cap);
		w.nlive = 0;
		w.nbase = 1 + (uint32_t)(rnd(&w.rng) % 3000);
		uint32_t amplitude = 100 + (uint32_t)(rnd(&w.rng) % (cap - w.nbase - 100));
		w.delete_in_callback_pct = (round % 3 == 2) ? 10 : 0;
		for (uint32_t id = 0; id < w.nbase; id++)
			walk_add(&w, id);
		one_walk(&w, amplitude);
		check_invariants(&d);
		for (uint32_t i = 0; i < cap; i++)
			assert_ptr_equal(find(&d, &p[i]), w.present[i] ? &p[i] : NULL);
	}
	printf("walks: %llu grows, %llu shrinks, %llu deleted in callbacks\n",
	       (unsigned long long)w.grows, (unsigned long long)w.shrinks,
	       (unsigned long long)w.deleted_in_cb);
	assert_true(w.grows > 50 && w.shrinks > 20);
	assert_true(w.deleted_in_cb > 0);
	dict_clear(&d, NULL, NULL);
	free(w.present);
	free(w.stable);
	free(w.seen);
	free(w.live);
	free(w.live_pos);
	free(p);
}

static void count_cb(void *arg, struct dict_node *n)
{
	(void)n;
	(*(uint64_t *)arg)++;
}

static void test_dict_scan_static_table_reports_each_once(void **state)
{
	(void)state;
	const uint32_t n = 5000;
	struct tnode *p = pool_new(n);
	struct dict d;
	dict_init(&d, &tnode_type, TEST_SEED);
	uint64_t count = 0;
	assert_int_equal(dict_scan(&d, 0, count_cb, &count), 0);
	for (uint32_t i = 0; i < n; i++)
		dict_add(&d, &p[i].node);
	while (dict_rehash_step(&d, 100))
		;
	uint64_t cursor = 0;
	do
		cursor = dict_scan(&d, cursor, count_cb, &count);
	while (cursor);
	assert_int_equal(count, n);   /* without a resize, no repeats */
	dict_clear(&d, NULL, NULL);
	free(p);
}

/* ---- random ---- */

static void test_dict_random_is_fair(void **state)
{
	(void)state;
	const uint32_t n = 1000, draws = 400000;
	struct tnode *p = pool_new(n);
	struct dict d;
	dict_init(&d, &tnode_type, TEST_SEED);
	assert_null(dict_random(&d));
	for (uint32_t i = 0; i < n; i++)
		dict_add(&d, &p[i].node);
	uint32_t *hits = calloc(n, sizeof(*hits));
	for (uint32_t i = 0; i < draws; i++) {
		struct tnode *t = (struct tnode *)dict_random(&d);
		assert_non_null(t);
		hits[t->id]++;
	}
	/* Expected 400 per element, sd 20: a 5-sigma band. */
	double chi2 = 0;
	for (uint32_t i = 0; i < n; i++) {
		assert_true(hits[i] > 300 && hits[i] < 500);
		double e = (double)draws / n, x = hits[i] - e;
		chi2 += x * x / e;
	}
	/* 999 degrees of freedom: mean 999, sd ~45. */
	assert_true(chi2 < 999 + 6 * 45);
	/* While rehashing too (every element still reachable). */
	for (uint32_t i = n / 8; i < n; i++)
		dict_unlink(&d, p[i].key, p[i].klen);
	memset(hits, 0, n * sizeof(*hits));
	for (uint32_t i = 0; i < 50000; i++) {
		struct tnode *t = (struct tnode *)dict_random(&d);
		assert_true(t->id < n / 8);
		hits[t->id]++;
	}
	for (uint32_t i = 0; i < n / 8; i++)
		assert_true(hits[i] > 0);
	free(hits);
	dict_clear(&d, NULL, NULL);
	free(p);
}

static void free_counter(void *arg, struct dict_node *n)
{
	(void)n;
	(*(uint32_t *)arg)++;
}

static void test_dict_clear_frees_every_node(void **state)
{
	(void)state;
	const uint32_t n = 3000;
	struct tnode *p = pool_new(n);
	struct dict d;
	dict_init(&d, &tnode_type, TEST_SEED);
	for (uint32_t i = 0; i < n; i++)
		dict_add(&d, &p[i].node);
	assert_true(dict_is_rehashing(&d) || d.size[0] >= n);
	uint32_t freed = 0;
	dict_clear(&d, free_counter, &freed);
	assert_int_equal(freed, n);
	assert_int_equal(dict_size(&d), 0);
	assert_int_equal(dict_mem_bytes(&d), 0);
	dict_add(&d, &p[0].node);   /* reusable */
	assert_ptr_equal(find(&d, &p[0]), &p[0]);
	dict_clear(&d, NULL, NULL);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dict_insert_lookup_delete_at_scale),
		cmocka_unit_test(test_dict_incremental_rehash_keeps_every_element),
		cmocka_unit_test(test_dict_prefetch_changes_nothing),
		cmocka_unit_test(test_dict_rehash_step_budget),
		cmocka_unit_test(test_dict_scan_returns_every_stable_element_under_mutation),
		cmocka_unit_test(test_dict_scan_static_table_reports_each_once),
		cmocka_unit_test(test_dict_random_is_fair),
		cmocka_unit_test(test_dict_clear_frees_every_node),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
