/*
 * test_t_stream.c - the stream object's ordered index against a plain
 * model: random appends (field sets that match a block's master fields and
 * ones that do not), deletes, exact and approximate trims and range walks in
 * both directions, under tiny and default block limits; the memory count
 * stays exact; PELs and consumers keep their invariants.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/encoding.h"
#include "store/t_stream.h"

static uint64_t seed = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

#define MAXN 4000

struct model {
	struct stream_id id[MAXN];
	int nf[MAXN];
	int val[MAXN];
	bool live[MAXN];
	int n;
};

static void add(struct stream *s, struct model *m, struct stream_id id)
{
	char f0[16], v0[16];
	int val = (int)(rnd() % 100000);
	int nf = rnd() % 4 == 0 ? 2 : 1;
	snprintf(f0, sizeof(f0), "%s", nf == 2 ? "other" : "field");
	snprintf(v0, sizeof(v0), "%d", val);
	struct kv_slice fv[4] = { { f0, strlen(f0) }, { v0, strlen(v0) }, { "g", 1 }, { "", 0 } };
	stream_append(s, id, fv, (size_t)nf);
	m->id[m->n] = id;
	m->nf[m->n] = nf;
	m->val[m->n] = val;
	m->live[m->n] = true;
	m->n++;
}

static uint64_t model_len(const struct model *m)
{
	uint64_t n = 0;
	for (int i = 0; i < m->n; i++)
		n += m->live[i];
	return n;
}

/* Walk [a, b] both ways and compare with the model. */
static void check_range(const struct stream *s, const struct model *m, struct stream_id a,
			struct stream_id b)
{
	for (int rev = 0; rev < 2; rev++) {
		struct stream_iter it;
		struct stream_id id;
		stream_iter_start(&it, s, a, b, rev);
		int i = rev ? m->n - 1 : 0;
		for (;;) {
			while (i >= 0 && i < m->n &&
			       (!m->live[i] || stream_id_cmp(m->id[i], a) < 0 ||
				stream_id_cmp(m->id[i], b) > 0))
				i += rev ? -1 : 1;
			bool want = i >= 0 && i < m->n;
			bool got = stream_iter_next(&it, &id);
			assert_int_equal(got, want);
			if (!got)
				break;
			assert_int_equal(stream_id_cmp(id, m->id[i]), 0);
			assert_int_equal(it.nfields, (size_t)m->nf[i]);
			char v0[16];
			snprintf(v0, sizeof(v0), "%d", m->val[i]);
			assert_int_equal(it.fv[1].len, strlen(v0));
			assert_memory_equal(it.fv[1].ptr, v0, strlen(v0));
			i += rev ? -1 : 1;
		}
		stream_iter_stop(&it);
	}
}

static void run_model(int64_t max_entries, int64_t max_bytes)
{
	atomic_store(&kv_encoding.stream_node_max_entries, max_entries);
	atomic_store(&kv_encoding.stream_node_max_bytes, max_bytes);
	struct stream *s = stream_new();
	static struct model m;
	memset(&m, 0, sizeof(m));
	struct stream_id next = { 1, 0 };
	for (int step = 0; step < 3000 && m.n < MAXN; step++) {
		uint64_t op = rnd() % 10;
		if (op < 6) {
			add(s, &m, next);
			if (rnd() % 3)
				next.seq++;
			else
				next = (struct stream_id){ next.ms + 1 + rnd() % 300, 0 };
		} else if (op < 8 && m.n) {
			int i = (int)(rnd() % (uint64_t)m.n);
			assert_int_equal(stream_delete(s, m.id[i]), m.live[i]);
			m.live[i] = false;
			assert_false(stream_exists(s, m.id[i]));
		} else if (op == 8 && m.n && rnd() % 8 == 0) {
			uint64_t len = model_len(&m), keep = len ? rnd() % len : 0;
			bool approx = rnd() % 2;
			uint64_t removed = stream_trim(s, STREAM_TRIM_MAXLEN, keep, STREAM_ID_MIN, approx, 0);
			uint64_t r = 0;
			for (int i = 0; i < m.n && r < removed; i++)
				if (m.live[i]) {
					m.live[i] = false;
					r++;
				}
			assert_int_equal(r, removed);
			if (!approx)
				assert_int_equal(s->length, keep);
			else
				assert_true(s->length >= keep);
		} else if (m.n) {
			int i = (int)(rnd() % (uint64_t)m.n), j = (int)(rnd() % (uint64_t)m.n);
			struct stream_id a = m.id[i < j ? i : j], b = m.id[i < j ? j : i];
			check_range(s, &m, a, b);
		}
		assert_int_equal(s->length, model_len(&m));
		if (step % 97 == 0) {
			assert_int_equal(stream_check(s), 0);
			check_range(s, &m, STREAM_ID_MIN, STREAM_ID_MAX);
		}
	}
	assert_int_equal(stream_check(s), 0);
	check_range(s, &m, STREAM_ID_MIN, STREAM_ID_MAX);
	/* first_id is the first live entry. */
	struct stream_id first;
	if (stream_edge_id(s, true, &first))
		assert_int_equal(stream_id_cmp(first, s->first_id), 0);
	/* MINID trims exactly below it. */
	if (m.n > 10) {
		struct stream_id mid = m.id[m.n / 2];
		stream_trim(s, STREAM_TRIM_MINID, 0, mid, false, 0);
		for (int i = 0; i < m.n / 2; i++)
			m.live[i] = false;
		assert_int_equal(s->length, model_len(&m));
		check_range(s, &m, STREAM_ID_MIN, STREAM_ID_MAX);
	}
	/* The copy is equal, and its memory is counted apart. */
	struct stream *d = stream_dup(s);
	assert_int_equal(stream_check(d), 0);
	check_range(d, &m, STREAM_ID_MIN, STREAM_ID_MAX);
	stream_free(d);
	stream_free(s);
	atomic_store(&kv_encoding.stream_node_max_entries, 100);
	atomic_store(&kv_encoding.stream_node_max_bytes, 4096);
}

static void test_t_stream_model_default_blocks(void **state)
{
	(void)state;
	run_model(100, 4096);
}

static void test_t_stream_model_tiny_blocks(void **state)
{
	(void)state;
	run_model(3, 0);
	run_model(0, 40);
}

static void test_t_stream_groups_and_pel(void **state)
{
	(void)state;
	struct stream *s = stream_new();
	size_t empty = stream_mem(s);
	struct kv_slice fv[2] = { { "f", 1 }, { "v", 1 } };
	for (uint64_t i = 1; i <= 300; i++)
		stream_append(s, (struct stream_id){ i, 0 }, fv, 1);
	assert_non_null(stream_group_create(s, "g", 1, STREAM_ID_MIN, 0));
	assert_null(stream_group_create(s, "g", 1, STREAM_ID_MIN, 0));   /* exists */
	struct stream_group *g = stream_group_find(s, "g", 1);
	assert_non_null(g);
	assert_non_null(stream_group_create(s, "a", 1, STREAM_ID_MIN, -1));
	assert_string_equal(s->groups[0]->name, "a");   /* sorted by name */
	struct stream_consumer *c1 = stream_consumer_create(s, g, "c1", 2, 5);
	struct stream_consumer *c2 = stream_consumer_create(s, g, "c2", 2, 5);
	assert_null(stream_consumer_create(s, g, "c1", 2, 5));
	/* Out of order inserts keep both PELs sorted. */
	for (uint64_t i = 300; i >= 1; i--)
		stream_nack_add(s, g, i % 2 ? c1 : c2, (struct stream_id){ i, 0 }, 1, 1);
	assert_int_equal(g->pel.len, 300);
	for (size_t i = 1; i < g->pel.len; i++)
		assert_true(stream_id_cmp(stream_pel_at(&g->pel, i - 1)->id,
					  stream_pel_at(&g->pel, i)->id) < 0);
	assert_int_equal(c1->pel.len, 150);
	/* Ack the oldest ones (head moves), then some in the middle. */
	for (uint64_t i = 1; i <= 100; i++)
		stream_nack_remove(s, g, stream_pel_find(&g->pel, (struct stream_id){ i, 0 }));
	for (uint64_t i = 200; i <= 250; i++)
		stream_nack_remove(s, g, stream_pel_find(&g->pel, (struct stream_id){ i, 0 }));
	assert_int_equal(g->pel.len, 149);
	assert_null(stream_pel_find(&g->pel, (struct stream_id){ 220, 0 }));
	assert_int_equal(stream_pel_lower(&g->pel, (struct stream_id){ 200, 0 }), 99);
	/* Move everything of c2 to c1, then delete c1: the group PEL empties. */
	while (c2->pel.len)
		stream_nack_move(s, stream_pel_at(&c2->pel, 0), c1);
	assert_int_equal(c1->pel.len, 149);
	assert_int_equal(stream_check(s), 0);
	assert_int_equal(stream_consumer_delete(s, g, c1), 149);
	assert_int_equal(g->pel.len, 0);
	assert_true(stream_group_destroy(s, "g", 1));
	assert_false(stream_group_destroy(s, "g", 1));
	assert_true(stream_group_destroy(s, "a", 1));
	/* Trim everything: the memory count is back to an empty stream's. */
	stream_trim(s, STREAM_TRIM_MAXLEN, 0, STREAM_ID_MIN, false, 0);
	assert_int_equal(s->length, 0);
	assert_int_equal(stream_block_count(s), 0);
	assert_int_equal(stream_mem(s), empty);
	stream_free(s);
}

static void test_t_stream_counters(void **state)
{
	(void)state;
	struct stream *s = stream_new();
	struct stream_group g = { .last_id = STREAM_ID_MIN, .entries_read = 0 };
	int64_t lag;
	assert_true(stream_group_lag(s, &g, &lag));
	assert_int_equal(lag, 0);
	struct kv_slice fv[2] = { { "f", 1 }, { "v", 1 } };
	for (uint64_t i = 1; i <= 5; i++)
		stream_append(s, (struct stream_id){ i, 0 }, fv, 1);
	assert_true(stream_group_lag(s, &g, &lag));
	assert_int_equal(lag, 5);
	assert_int_equal(stream_estimate_distance(s, (struct stream_id){ 5, 0 }), 5);
	assert_int_equal(stream_estimate_distance(s, (struct stream_id){ 1, 0 }), 1);
	assert_int_equal(stream_estimate_distance(s, (struct stream_id){ 3, 0 }),
			 STREAM_ENTRIES_READ_INVALID);
	assert_true(stream_delete(s, (struct stream_id){ 3, 0 }));
	s->max_deleted_id = (struct stream_id){ 3, 0 };
	assert_true(stream_range_has_tombstones(s, NULL, NULL));
	assert_false(stream_range_has_tombstones(s, &(struct stream_id){ 4, 0 }, NULL));
	g.entries_read = STREAM_ENTRIES_READ_INVALID;
	assert_false(stream_group_lag(s, &g, &lag));
	struct stream_id a = STREAM_ID_MAX, b = STREAM_ID_MIN;
	assert_false(stream_id_incr(&a));
	assert_false(stream_id_decr(&b));
	char buf[STREAM_ID_STR_MAX];
	assert_int_equal(stream_id_format(STREAM_ID_MAX, buf), 41);
	assert_string_equal(buf, "18446744073709551615-18446744073709551615");
	stream_free(s);
}

/* A tombstone may sit out of ID order: the stream's last entry deleted,
 * the last ID set back below it (XSETID), and an entry appended after it in
 * the same block.  The entries after it are still found (Redis's iterator
 * steps over tombstones without comparing them). */
static void test_t_stream_tombstone_out_of_order(void **state)
{
	(void)state;
	struct stream *s = stream_new();
	struct kv_slice fv[2] = { { "a", 1 }, { "1", 1 } };
	stream_append(s, (struct stream_id){ 5, 0 }, fv, 1);
	stream_append(s, STREAM_ID_MAX, fv, 1);
	assert_true(stream_delete(s, STREAM_ID_MAX));
	s->last_id = (struct stream_id){ 6, 0 };
	stream_append(s, (struct stream_id){ 7, 0 }, fv, 1);
	stream_append(s, (struct stream_id){ 8, 0 }, fv, 1);
	assert_int_equal(stream_block_count(s), 1);
	assert_int_equal(stream_check(s), 0);
	assert_true(stream_exists(s, (struct stream_id){ 7, 0 }));
	assert_false(stream_exists(s, STREAM_ID_MAX));
	assert_true(stream_delete(s, (struct stream_id){ 7, 0 }));
	assert_false(stream_exists(s, (struct stream_id){ 7, 0 }));
	assert_true(stream_exists(s, (struct stream_id){ 8, 0 }));
	assert_int_equal(s->length, 2);
	assert_int_equal(stream_check(s), 0);
	struct stream_id last;
	assert_true(stream_edge_id(s, false, &last));
	assert_int_equal(last.ms, 8);
	stream_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_t_stream_model_default_blocks),
		cmocka_unit_test(test_t_stream_model_tiny_blocks),
		cmocka_unit_test(test_t_stream_groups_and_pel),
		cmocka_unit_test(test_t_stream_counters),
		cmocka_unit_test(test_t_stream_tombstone_out_of_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
