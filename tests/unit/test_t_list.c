/*
 * test_t_list.c - the list type keeps its structure (links, counts, node
 * limits, encodings, memory count) and its contents equal to a plain array
 * model under seeded random operations, splits and merges nodes at the
 * limit, and reads every element back byte for byte.
 *
 * The random test prints its seed; KEVY_TEST_SEED=<n> replays a run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/kv.h"
#include "store/t_list.h"

/* ---- a plain array model ---- */

struct model_el {
	char *p;
	size_t n;
};

struct model {
	struct model_el *v;
	size_t len, cap;
};

static void model_insert(struct model *m, size_t i, const char *p, size_t n)
{
	if (m->len == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 64;
		m->v = realloc(m->v, m->cap * sizeof(*m->v));
	}
	memmove(m->v + i + 1, m->v + i, (m->len - i) * sizeof(*m->v));
	m->v[i].p = malloc(n + 1);
	memcpy(m->v[i].p, p, n);
	m->v[i].n = n;
	m->len++;
}

static void model_delete(struct model *m, size_t i, size_t k)
{
	for (size_t j = i; j < i + k; j++)
		free(m->v[j].p);
	memmove(m->v + i, m->v + i + k, (m->len - i - k) * sizeof(*m->v));
	m->len -= k;
}

static void model_free(struct model *m)
{
	model_delete(m, 0, m->len);
	free(m->v);
}

struct cmp_state {
	const struct model *m;
	size_t i;
};

static int cmp_one(void *arg, const char *p, size_t n)
{
	struct cmp_state *s = arg;
	assert_true(s->i < s->m->len);
	const struct model_el *e = &s->m->v[s->i++];
	assert_int_equal(n, e->n);
	assert_memory_equal(p, e->p, n);
	return 0;
}

static void check_equal(struct list *l, const struct model *m)
{
	assert_int_equal(list_verify(l), 0);
	assert_int_equal(list_len(l), m->len);
	struct cmp_state s = { m, 0 };
	assert_int_equal(list_foreach(l, cmp_one, &s), 0);
	assert_int_equal(s.i, m->len);
}

/* ---- element generator ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* Elements that cross every encoding boundary, integers and near-integers. */
static size_t gen_elem(char *buf)
{
	static const char *fixed[] = {
		"0", "1", "127", "128", "-1", "-4096", "-4097", "4095", "4096",
		"32767", "32768", "-32768", "-32769", "8388607", "8388608", "-8388608",
		"-8388609", "2147483647", "2147483648", "-2147483648", "-2147483649",
		"9223372036854775807", "-9223372036854775808", "9223372036854775808",
		"-0", "007", "+1", " 1", "1 ", "", "a", "00", "1e3", "0x10",
	};
	static const size_t lens[] = { 0, 1, 62, 63, 64, 65, 127, 128, 4094, 4095, 4096, 8200 };
	switch (rnd() % 4) {
	case 0: {
		const char *s = fixed[rnd() % (sizeof(fixed) / sizeof(fixed[0]))];
		size_t n = strlen(s);
		memcpy(buf, s, n);
		return n;
	}
	case 1:
		return (size_t)sprintf(buf, "%" PRId64, (int64_t)rnd() >> (rnd() % 64));
	case 2: {
		size_t n = lens[rnd() % (sizeof(lens) / sizeof(lens[0]))];
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)('a' + (rnd() % 26));
		return n;
	}
	default: {
		size_t n = rnd() % 24;
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)(rnd() & 0xff);
		return n;
	}
	}
}

static uint64_t test_seed(void)
{
	const char *env = getenv("KEVY_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
	printf("test_t_list seed: %" PRIu64 " (KEVY_TEST_SEED=%" PRIu64 " replays)\n", seed, seed);
	return seed ? seed : 1;
}

/* ---- tests ---- */

static void test_t_list_random_ops_match_model(void **state)
{
	(void)state;
	static char buf[9000];
	rng_state = test_seed() * 0x9E3779B97F4A7C15ULL | 1;
	struct list *l = list_new();
	struct model m = { 0 };
	struct kv_buf out = KV_BUF_INIT;

	for (int step = 0; step < 20000; step++) {
		unsigned op = (unsigned)(rnd() % 100);
		/* Keep lists from growing without bound: bias towards removal. */
		if (m.len > 3000 && op < 50)
			op += 50;
		if (op < 25) {
			size_t n = gen_elem(buf);
			bool head = rnd() & 1;
			list_push(l, head ? LIST_HEAD : LIST_TAIL, buf, n);
			model_insert(&m, head ? 0 : m.len, buf, n);
		} else if (op < 40) {
			if (m.len == 0)
				continue;
			bool head = rnd() & 1;
			kv_buf_clear(&out);
			list_pop(l, head ? LIST_HEAD : LIST_TAIL, &out);
			size_t i = head ? 0 : m.len - 1;
			assert_int_equal(out.len, m.v[i].n);
			assert_memory_equal(out.data, m.v[i].p, out.len);
			model_delete(&m, i, 1);
		} else if (op < 50) {
			struct list_elem el;
			int64_t idx = (int64_t)(rnd() % (m.len + 4)) - 2;
			if (rnd() & 1)
				idx = -idx - 1;
			bool ok = list_index(l, idx, &el);
			int64_t real = idx < 0 ? (int64_t)m.len + idx : idx;
			assert_int_equal(ok, real >= 0 && real < (int64_t)m.len);
			if (ok) {
				assert_int_equal(el.len, m.v[real].n);
				assert_memory_equal(el.ptr, m.v[real].p, el.len);
			}
		} else if (op < 60) {
			if (m.len == 0)
				continue;
			size_t i = rnd() % m.len;
			size_t n = gen_elem(buf);
			assert_true(list_set(l, (int64_t)i, buf, n));
			model_delete(&m, i, 1);
			model_insert(&m, i, buf, n);
		} else if (op < 68) {
			if (m.len == 0)
				continue;
			size_t i = rnd() % m.len;
			size_t k = rnd() % (m.len - i + 1);
			if (rnd() % 4)
				k = KV_MIN(k, 40);
			list_delete_range(l, i, k);
			model_delete(&m, i, k);
		} else if (op < 80) {
			/* LREM-like: delete every element equal to a probe, or every
			 * k-th element, walking in either direction. */
			if (m.len == 0)
				continue;
			bool fwd = rnd() & 1;
			size_t start = rnd() % m.len;
			unsigned every = 1 + (unsigned)(rnd() % 5);
			struct list_iter it;
			struct list_elem el;
			list_iter_init(&it, l, start, fwd);
			size_t i = start, seen = 0;
			while (list_iter_next(&it, &el)) {
				assert_int_equal(el.len, m.v[i].n);
				assert_memory_equal(el.ptr, m.v[i].p, el.len);
				if (++seen % every == 0) {
					list_iter_delete(&it);
					model_delete(&m, i, 1);
					if (!fwd) {
						if (i == 0)
							break;
						i--;
					}
				} else if (fwd) {
					i++;
				} else {
					if (i == 0) {
						assert_false(list_iter_next(&it, &el));
						break;
					}
					i--;
				}
			}
			if (rnd() & 1)
				list_compact(l);
		} else if (op < 92) {
			/* LINSERT-like. */
			if (m.len == 0)
				continue;
			size_t i = rnd() % m.len;
			bool after = rnd() & 1;
			size_t n = gen_elem(buf);
			struct list_iter it;
			struct list_elem el;
			list_iter_init(&it, l, i, rnd() & 1);
			assert_true(list_iter_next(&it, &el));
			list_iter_insert(&it, after, buf, n);
			model_insert(&m, after ? i + 1 : i, buf, n);
		} else {
			/* Backward walk from a random index agrees with the model. */
			if (m.len == 0)
				continue;
			size_t i = rnd() % m.len;
			struct list_iter it;
			struct list_elem el;
			list_iter_init(&it, l, i, false);
			for (size_t j = i + 1; j-- > 0;) {
				assert_true(list_iter_next(&it, &el));
				assert_int_equal(el.len, m.v[j].n);
				assert_memory_equal(el.ptr, m.v[j].p, el.len);
			}
			assert_false(list_iter_next(&it, &el));
		}
		if (step % 97 == 0 || m.len < 20)
			check_equal(l, &m);
		else
			assert_int_equal(list_verify(l), 0);
	}
	check_equal(l, &m);
	list_free(l);
	model_free(&m);
	kv_buf_free(&out);
}

static void test_t_list_ints_round_trip_byte_for_byte(void **state)
{
	(void)state;
	static const char *vals[] = {
		"0", "127", "128", "-1", "-4096", "4095", "-4097", "4096", "-32768",
		"32767", "8388607", "-8388608", "2147483647", "-2147483648",
		"9223372036854775807", "-9223372036854775808", "-0", "007", "+5",
		"9223372036854775808", "", "12a",
	};
	struct list *l = list_new();
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		list_push(l, LIST_TAIL, vals[i], strlen(vals[i]));
	assert_int_equal(list_verify(l), 0);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		struct list_elem el;
		assert_true(list_index(l, (int64_t)i, &el));
		assert_int_equal(el.len, strlen(vals[i]));
		assert_memory_equal(el.ptr, vals[i], el.len);
	}
	list_free(l);
}

/* 1000 small integers take 2 bytes each: one node, ~2 KB of data. */
static void test_t_list_small_ints_are_compact(void **state)
{
	(void)state;
	struct list *l = list_new();
	char b[8];
	for (int i = 0; i < 1000; i++)
		list_push(l, LIST_TAIL, b, (size_t)snprintf(b, sizeof(b), "%d", i % 100));
	assert_int_equal(list_node_count(l), 1);
	assert_true(list_mem(l) < 2000 + 2000 / 8 + 128);
	assert_int_equal(list_verify(l), 0);
	list_free(l);
}

/* Nodes fill up to the limit, a push past it starts a new node, an element
 * larger than the limit sits alone, an insert into a full node splits it,
 * and compacting merges sparse neighbours back. */
static void test_t_list_node_split_merge_boundaries(void **state)
{
	(void)state;
	/* A 62-byte string is 1 + 62 + 1 = 64 bytes encoded. */
	char s[62];
	memset(s, 'x', sizeof(s));
	struct list *l = list_new();
	size_t per_node = LIST_NODE_MAX_BYTES / 64;
	for (size_t i = 0; i < per_node; i++)
		list_push(l, LIST_TAIL, s, sizeof(s));
	assert_int_equal(list_node_count(l), 1);
	list_push(l, LIST_TAIL, s, sizeof(s));
	assert_int_equal(list_node_count(l), 2);
	list_push(l, LIST_HEAD, s, sizeof(s));
	assert_int_equal(list_node_count(l), 3);
	assert_int_equal(list_verify(l), 0);

	/* Insert into the middle of the full node: split into two. */
	struct list_iter it;
	struct list_elem el;
	list_iter_init(&it, l, 1 + per_node / 2, true);
	assert_true(list_iter_next(&it, &el));
	char mid[62];
	memset(mid, 'm', sizeof(mid));
	list_iter_insert(&it, false, mid, sizeof(mid));
	assert_int_equal(list_node_count(l), 4);
	assert_int_equal(list_verify(l), 0);
	assert_true(list_index(l, (int64_t)(1 + per_node / 2), &el));
	assert_int_equal(el.len, sizeof(mid));
	assert_memory_equal(el.ptr, mid, sizeof(mid));

	/* A big element alone in its node, between two others. */
	static char big[LIST_NODE_MAX_BYTES * 2];
	memset(big, 'B', sizeof(big));
	assert_true(list_set(l, 1, big, sizeof(big)));
	assert_int_equal(list_verify(l), 0);
	assert_true(list_index(l, 1, &el));
	assert_int_equal(el.len, sizeof(big));
	assert_true(list_set(l, 1, "small", 5));
	assert_int_equal(list_verify(l), 0);

	/* Delete most elements in the middle, then merge. */
	uint64_t len = list_len(l);
	list_iter_init(&it, l, 0, true);
	uint64_t i = 0;
	while (list_iter_next(&it, &el))
		if (i++ % 8 != 0)
			list_iter_delete(&it);
	assert_int_equal(list_len(l), (len + 7) / 8);
	size_t before = list_node_count(l);
	list_compact(l);
	assert_int_equal(list_verify(l), 0);
	assert_true(list_node_count(l) < before);
	assert_int_equal(list_node_count(l), 1);

	/* Pops empty the list and free every node. */
	while (list_len(l))
		list_pop(l, LIST_TAIL, NULL);
	assert_int_equal(list_node_count(l), 0);
	assert_int_equal(list_verify(l), 0);
	list_free(l);
}

static void test_t_list_delete_range_whole_nodes(void **state)
{
	(void)state;
	struct list *l = list_new();
	char b[32];
	for (int i = 0; i < 20000; i++)
		list_push(l, LIST_TAIL, b, (size_t)snprintf(b, sizeof(b), "element:%d", i));
	assert_true(list_node_count(l) > 10);
	list_delete_range(l, 5, 19990);
	assert_int_equal(list_len(l), 5 + 5);
	assert_int_equal(list_verify(l), 0);
	struct list_elem el;
	assert_true(list_index(l, 5, &el));
	assert_int_equal(el.len, strlen("element:19995"));
	assert_memory_equal(el.ptr, "element:19995", el.len);
	assert_true(list_index(l, -1, &el));
	assert_memory_equal(el.ptr, "element:19999", el.len);
	assert_false(list_index(l, 10, &el));
	assert_false(list_index(l, -11, &el));
	list_free(l);
}

static int stop_at_third(void *arg, const char *p, size_t n)
{
	int *seen = arg;
	(void)p;
	(void)n;
	return ++*seen == 3 ? 42 : 0;
}

static void test_t_list_foreach_stops_and_encoding(void **state)
{
	(void)state;
	struct list *l = list_new();
	for (int i = 0; i < 5; i++)
		list_push(l, LIST_TAIL, "x", 1);
	int seen = 0;
	assert_int_equal(list_foreach(l, stop_at_third, &seen), 42);
	assert_int_equal(seen, 3);
	assert_string_equal(list_encoding(l), "quicklist");
	list_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_t_list_random_ops_match_model),
		cmocka_unit_test(test_t_list_ints_round_trip_byte_for_byte),
		cmocka_unit_test(test_t_list_small_ints_are_compact),
		cmocka_unit_test(test_t_list_node_split_merge_boundaries),
		cmocka_unit_test(test_t_list_delete_range_whole_nodes),
		cmocka_unit_test(test_t_list_foreach_stops_and_encoding),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
