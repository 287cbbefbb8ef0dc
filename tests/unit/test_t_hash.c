/*
 * test_t_hash.c - the hash value object keeps its invariants and agrees with
 * a trivial model (an array of field/value strings) under seeded random
 * operations across the packed -> table conversion; its cursor walk reports
 * every element present for the whole walk while the hash grows; random
 * draws have the promised shape and membership.
 *
 * The seed is printed; KEVY_TEST_SEED=<n> replays a run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <string.h>

#include "base/alloc.h"
#include "base/kv.h"
#include "store/t_hash.h"

/* ---- a tiny deterministic generator ---- */

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static uint64_t test_seed(void)
{
	const char *s = getenv("KEVY_TEST_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 10) : (uint64_t)kv_time_us();
	if (seed == 0)
		seed = 1;
	printf("# t_hash seed %llu (KEVY_TEST_SEED to replay)\n", (unsigned long long)seed);
	return seed;
}

/* The number in a field name after `skip` bytes (fields are not
 * NUL-terminated inside the hash). */
static unsigned field_num(struct kv_slice f, size_t skip)
{
	char buf[128];
	assert_true(f.len < sizeof(buf) && f.len > skip);
	memcpy(buf, f.ptr, f.len);
	buf[f.len] = '\0';
	return (unsigned)strtoul(buf + skip, NULL, 10);
}

/* ---- the model ---- */

#define POOL 1200   /* well past HASH_PACKED_MAX_ENTRIES */
#define MAXV 80

struct model {
	bool present[POOL];
	char val[POOL][MAXV];
	size_t vlen[POOL];
	uint64_t len;
};

static size_t field_name(char *buf, unsigned i)
{
	/* Varying lengths, some beyond the packed element limit. */
	if (i % 97 == 5)
		return (size_t)snprintf(buf, 128, "long-field-%u-%0*u", i, 70, i);
	return (size_t)snprintf(buf, 128, "f%u", i);
}

struct walk_acc {
	const struct model *m;
	uint64_t count;
};

static void check_elem(void *arg, struct kv_slice f, struct kv_slice v)
{
	struct walk_acc *a = arg;
	char name[128];
	unsigned i;
	/* Recover the pool index from the name. */
	if (f.len > 0 && f.ptr[0] == 'f')
		i = field_num(f, 1);
	else
		i = field_num(f, strlen("long-field-"));
	assert_true(i < POOL);
	size_t n = field_name(name, i);
	assert_int_equal(n, f.len);
	assert_memory_equal(name, f.ptr, n);
	assert_true(a->m->present[i]);
	assert_int_equal(a->m->vlen[i], v.len);
	if (v.len)
		assert_memory_equal(a->m->val[i], v.ptr, v.len);
	a->count++;
}

static void check_against_model(struct hash_obj *h, const struct model *m)
{
	hash_check(h);
	assert_int_equal(hash_len(h), m->len);
	struct walk_acc a = { m, 0 };
	hash_foreach(h, check_elem, &a);
	assert_int_equal(a.count, m->len);
	for (unsigned i = 0; i < POOL; i++) {
		char name[128];
		size_t n = field_name(name, i);
		struct kv_slice v;
		bool got = hash_get(h, name, n, &v);
		assert_int_equal(got, m->present[i]);
		if (got) {
			assert_int_equal(v.len, m->vlen[i]);
			if (v.len)
				assert_memory_equal(v.ptr, m->val[i], v.len);
		}
	}
}

/* Applies hash_set as a caller must: the returned object replaces h. */
static struct hash_obj *set_field(struct hash_obj *h, unsigned i, const char *v, size_t vlen,
				  bool *added)
{
	char name[128];
	size_t n = field_name(name, i);
	struct hash_obj *nh = hash_set(h, name, n, v, vlen, added);
	if (nh != h)
		hash_free(h);
	return nh;
}

static void test_t_hash_random_ops_match_model(void **state)
{
	uint64_t seed = test_seed();
	for (int round = 0; round < 4; round++) {
		rng = seed + (uint64_t)round * 0x9E3779B97F4A7C15ULL;
		if (!rng)
			rng = 1;
		struct model *m = calloc(1, sizeof(*m));
		struct hash_obj *h = hash_new();
		/* Some rounds stay small (packed), others grow into a table. */
		unsigned pool = round % 2 ? POOL : HASH_PACKED_MAX_ENTRIES - 12;
		bool allow_long = round >= 2;
		bool was_table = false;
		for (int op = 0; op < 6000; op++) {
			unsigned i = (unsigned)(rnd() % pool);
			if (!allow_long && i % 97 == 5)
				i++;
			unsigned kind = (unsigned)(rnd() % 10);
			if (kind < 6) {
				char v[MAXV];
				size_t vlen = (size_t)(rnd() % (allow_long ? MAXV : 40));
				for (size_t j = 0; j < vlen; j++)
					v[j] = (char)(rnd() & 0xff);
				bool added;
				h = set_field(h, i, v, vlen, &added);
				assert_int_equal(added, !m->present[i]);
				if (!m->present[i])
					m->len++;
				m->present[i] = true;
				memcpy(m->val[i], v, vlen);
				m->vlen[i] = vlen;
			} else {
				char name[128];
				size_t n = field_name(name, i);
				bool del = hash_delete(h, name, n);
				assert_int_equal(del, m->present[i]);
				if (m->present[i])
					m->len--;
				m->present[i] = false;
			}
			/* A table never converts back. */
			if (was_table)
				assert_int_equal(hash_encoding(h), HASH_ENC_TABLE);
			was_table = hash_encoding(h) == HASH_ENC_TABLE;
			if (op % 97 == 0)
				check_against_model(h, m);
		}
		check_against_model(h, m);
		if (round % 2 == 1)
			assert_int_equal(hash_encoding(h), HASH_ENC_TABLE);
		if (round == 0)
			assert_int_equal(hash_encoding(h), HASH_ENC_PACKED);
		hash_free(h);
		free(m);
	}
}

static void test_t_hash_conversion_thresholds(void **state)
{
	char name[32], big[HASH_PACKED_MAX_BYTES + 1];
	bool added;
	memset(big, 'x', sizeof(big));

	/* HASH_PACKED_MAX_ENTRIES pairs stay packed; one more converts. */
	struct hash_obj *h = hash_new();
	for (unsigned i = 0; i < HASH_PACKED_MAX_ENTRIES; i++) {
		int n = snprintf(name, sizeof(name), "k%u", i);
		struct hash_obj *nh = hash_set(h, name, (size_t)n, "v", 1, &added);
		if (nh != h)
			hash_free(h);
		h = nh;
	}
	assert_int_equal(hash_encoding(h), HASH_ENC_PACKED);
	assert_string_equal(hash_encoding_name(h), "listpack");
	/* Overwriting an existing field does not convert. */
	struct hash_obj *nh = hash_set(h, "k0", 2, "w", 1, &added);
	assert_false(added);
	assert_int_equal(hash_encoding(nh), HASH_ENC_PACKED);
	if (nh != h)
		hash_free(h);
	h = nh;
	nh = hash_set(h, "extra", 5, "v", 1, &added);
	assert_true(added);
	assert_ptr_not_equal(nh, h);
	/* The old object was left exactly as it was. */
	assert_int_equal(hash_len(h), HASH_PACKED_MAX_ENTRIES);
	hash_check(h);
	hash_free(h);
	assert_int_equal(hash_encoding(nh), HASH_ENC_TABLE);
	assert_string_equal(hash_encoding_name(nh), "hashtable");
	assert_int_equal(hash_len(nh), HASH_PACKED_MAX_ENTRIES + 1);
	hash_check(nh);
	hash_free(nh);

	/* A 64-byte value stays packed, a 65-byte value or field converts. */
	h = hash_new();
	nh = hash_set(h, "a", 1, big, HASH_PACKED_MAX_BYTES, &added);
	if (nh != h)
		hash_free(h);
	h = nh;
	assert_int_equal(hash_encoding(h), HASH_ENC_PACKED);
	nh = hash_set(h, "a", 1, big, HASH_PACKED_MAX_BYTES + 1, &added);
	assert_int_equal(hash_encoding(nh), HASH_ENC_TABLE);
	hash_free(h);
	hash_free(nh);
	h = hash_new();
	nh = hash_set(h, big, sizeof(big), "v", 1, &added);
	assert_int_equal(hash_encoding(nh), HASH_ENC_TABLE);
	hash_free(h);
	struct kv_slice v;
	assert_true(hash_get(nh, big, sizeof(big), &v));
	assert_int_equal(v.len, 1);
	hash_free(nh);
}

static void test_t_hash_mem_counts_every_block(void **state)
{
	struct hash_obj *h = hash_new();
	size_t empty = hash_mem(h);
	/* The empty hash's one block (an 8-byte header), as the heap spends
	 * it: its usable size plus the allocator's chunk header. */
	assert_int_equal(empty, malloc_usable_size(h) + KV_ALLOC_HEADER);
	assert_true(empty >= 8);
	bool added;
	char name[32];
	size_t last = empty;
	for (unsigned i = 0; i < 1000; i++) {
		int n = snprintf(name, sizeof(name), "field:%u", i);
		struct hash_obj *nh = hash_set(h, name, (size_t)n, "value", 5, &added);
		if (nh != h)
			hash_free(h);
		h = nh;
		/* (Finishing an incremental rehash frees the old bucket
		 * array, so the count may dip while the hash grows.) */
		assert_true(hash_mem(h) >= empty);
		last = hash_mem(h);
	}
	assert_int_equal(hash_encoding(h), HASH_ENC_TABLE);
	/* About one small block per pair plus buckets: well under 100 bytes. */
	assert_true(last < 1000 * 100);
	for (unsigned i = 0; i < 1000; i++) {
		int n = snprintf(name, sizeof(name), "field:%u", i);
		assert_true(hash_delete(h, name, (size_t)n));
	}
	assert_int_equal(hash_len(h), 0);
	hash_check(h);
	/* Only the table header is left once every node and bucket is gone. */
	assert_true(hash_mem(h) < 256);
	hash_free(h);
}

/* ---- cursor walk while growing ---- */

#define SCAN_N 3000

struct seen {
	bool hit[SCAN_N * 2];
};

static void mark_seen(void *arg, struct kv_slice f, struct kv_slice v)
{
	struct seen *s = arg;
	unsigned i = field_num(f, 1);
	assert_true(i < SCAN_N * 2);
	s->hit[i] = true;
}

static void test_t_hash_scan_reports_all_while_growing(void **state)
{
	rng = test_seed();
	for (unsigned start = 50; start <= SCAN_N; start *= 4) {
		struct hash_obj *h = hash_new();
		char name[32];
		bool added;
		for (unsigned i = 0; i < start; i++) {
			int n = snprintf(name, sizeof(name), "f%u", i);
			struct hash_obj *nh = hash_set(h, name, (size_t)n, "v", 1, &added);
			if (nh != h)
				hash_free(h);
			h = nh;
		}
		struct seen *s = calloc(1, sizeof(*s));
		uint64_t cursor = 0;
		unsigned next = start;
		do {
			cursor = hash_scan(h, cursor, mark_seen, s);
			/* Grow between steps: several tables doublings happen
			 * during the walk. */
			for (int k = 0; k < 5 && next < SCAN_N * 2; k++, next++) {
				int n = snprintf(name, sizeof(name), "f%u", next);
				struct hash_obj *nh = hash_set(h, name, (size_t)n, "v", 1, &added);
				if (nh != h)
					hash_free(h);
				h = nh;
			}
		} while (cursor != 0);
		for (unsigned i = 0; i < start; i++)
			assert_true(s->hit[i]);
		hash_check(h);
		free(s);
		hash_free(h);
	}
}

/* ---- random draws ---- */

struct draws {
	unsigned count[POOL];
	unsigned total;
	bool values_ok;
};

static void note_draw(void *arg, struct kv_slice f, struct kv_slice v)
{
	struct draws *d = arg;
	unsigned i = field_num(f, 1);
	assert_true(i < POOL);
	d->count[i]++;
	d->total++;
	/* Each value is "v<i>": the pair belongs together. */
	char want[16];
	int n = snprintf(want, sizeof(want), "v%u", i);
	if ((size_t)n != v.len || memcmp(want, v.ptr, v.len) != 0)
		d->values_ok = false;
}

static struct hash_obj *filled(unsigned n)
{
	struct hash_obj *h = hash_new();
	char name[16], val[16];
	bool added;
	for (unsigned i = 0; i < n; i++) {
		int fl = snprintf(name, sizeof(name), "f%u", i);
		int vl = snprintf(val, sizeof(val), "v%u", i);
		struct hash_obj *nh = hash_set(h, name, (size_t)fl, val, (size_t)vl, &added);
		if (nh != h)
			hash_free(h);
		h = nh;
	}
	return h;
}

static void test_t_hash_random_shape_and_membership(void **state)
{
	hash_seed_random(test_seed());
	static const unsigned sizes[] = { 1, 5, 100, 300 };
	static const uint64_t counts[] = { 1, 3, 50, 99, 100, 250, 1000 };
	for (size_t s = 0; s < KV_ARRAY_LEN(sizes); s++) {
		struct hash_obj *h = filled(sizes[s]);
		for (size_t c = 0; c < KV_ARRAY_LEN(counts); c++) {
			for (int unique = 0; unique < 2; unique++) {
				struct draws *d = calloc(1, sizeof(*d));
				d->values_ok = true;
				uint64_t made = hash_random(h, counts[c], unique, note_draw, d);
				uint64_t want = unique && counts[c] > sizes[s] ? sizes[s] : counts[c];
				assert_int_equal(made, want);
				assert_int_equal(d->total, want);
				assert_true(d->values_ok);
				for (unsigned i = 0; i < POOL; i++) {
					if (i >= sizes[s])
						assert_int_equal(d->count[i], 0);
					else if (unique)
						assert_true(d->count[i] <= 1);
				}
				free(d);
			}
		}
		hash_free(h);
	}
	struct hash_obj *e = hash_new();
	assert_int_equal(hash_random(e, 5, false, note_draw, NULL), 0);
	hash_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_t_hash_random_ops_match_model),
		cmocka_unit_test(test_t_hash_conversion_thresholds),
		cmocka_unit_test(test_t_hash_mem_counts_every_block),
		cmocka_unit_test(test_t_hash_scan_reports_all_while_growing),
		cmocka_unit_test(test_t_hash_random_shape_and_membership),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
