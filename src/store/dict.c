/*
 * dict.c - the chained, incrementally rehashed hash table of dict.h.
 *
 * Invariants (checked by the tests, relied on by dict_scan):
 *   - every size is a power of two (or 0 for an absent table);
 *   - while rehashing, buckets [0, rehash_idx) of table[0] are empty and
 *     every element lives in the bucket its hash selects in its table;
 *   - both tables use the same hash, so an element of bucket b of a table of
 *     size 2^n can only go to a bucket whose low n bits equal b's (when
 *     growing) or to bucket b & (smaller mask) (when shrinking).  That is what
 *     lets the reverse-binary cursor cover every element across resizes.
 *
 * Memory is accounted as malloc_usable_size plus the allocator's chunk
 * header (KV_ALLOC_HEADER): the bytes the heap really spends, not just what
 * was asked for.
 */
#include "store/dict.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/kv.h"

#define DICT_MIN_SIZE 4u
/* Empty buckets one rehash step may skip per bucket it was asked to move:
 * bounds a step's cost when the old table is sparse. */
#define DICT_EMPTY_VISITS 10u
/* dict_random accepts bucket b and position j < DICT_RANDOM_DEPTH when the
 * chain has an element at j: uniform for chains up to this length. */
#define DICT_RANDOM_DEPTH 8u
#define DICT_RANDOM_TRIES 1024u

_Static_assert(sizeof(struct dict_node) == sizeof(void *),
	       "a dict node is exactly one chain pointer");

static uint64_t next_pow2(uint64_t n)
{
	uint64_t s = DICT_MIN_SIZE;
	while (s < n)
		s <<= 1;
	return s;
}

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64*: fast, good enough to pick buckets. */
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

void dict_seed_random(struct dict *d, uint64_t seed)
{
	d->rng = seed ? seed : 0x9E3779B97F4A7C15ULL;
}

void dict_init(struct dict *d, const struct dict_type *type, uint64_t seed)
{
	kv_assert(seed != 0);
	memset(d, 0, sizeof(*d));
	d->type = type;
	d->seed = seed;
	dict_seed_random(d, seed);
}

uint64_t dict_hash(const struct dict *d, const void *key, size_t len)
{
	return kv_hash64(key, len, d->seed);
}

static uint64_t node_hash(const struct dict *d, const struct dict_node *n)
{
	struct kv_slice k = d->type->key(n);
	return kv_hash64(k.ptr, k.len, d->seed);
}

static bool node_has_key(const struct dict *d, const struct dict_node *n,
			 const void *key, size_t len)
{
	struct kv_slice k = d->type->key(n);
	return k.len == len && memcmp(k.ptr, key, len) == 0;
}

size_t dict_mem_bytes(const struct dict *d)
{
	return kv_heap_bytes(d->table[0]) + kv_heap_bytes(d->table[1]);
}

static void free_tables(struct dict *d)
{
	free(d->table[0]);
	free(d->table[1]);
	d->table[0] = d->table[1] = NULL;
	d->size[0] = d->size[1] = 0;
	d->rehashing = false;
	d->rehash_idx = 0;
}

void dict_clear(struct dict *d, void (*free_node)(void *arg, struct dict_node *n),
		void *arg)
{
	for (int t = 0; t < 2; t++) {
		for (uint64_t i = 0; i < d->size[t]; i++) {
			struct dict_node *n = d->table[t][i];
			while (n) {
				struct dict_node *next = n->next;
				n->next = NULL;
				if (free_node)
					free_node(arg, n);
				n = next;
			}
		}
	}
	free_tables(d);
	d->count = 0;
}

/* Begin moving to a table of new_size buckets. */
static void start_resize(struct dict *d, uint64_t new_size)
{
	kv_assert(!d->rehashing && d->table[0]);
	if (new_size == d->size[0])
		return;
	d->table[1] = kv_calloc(new_size, sizeof(struct dict_node *));
	d->size[1] = new_size;
	d->rehash_idx = 0;
	d->rehashing = true;
}

static void finish_rehash(struct dict *d)
{
	free(d->table[0]);
	d->table[0] = d->table[1];
	d->size[0] = d->size[1];
	d->table[1] = NULL;
	d->size[1] = 0;
	d->rehash_idx = 0;
	d->rehashing = false;
}

static void move_bucket(struct dict *d, uint64_t idx)
{
	struct dict_node *n = d->table[0][idx];
	uint64_t mask = d->size[1] - 1;
	while (n) {
		struct dict_node *next = n->next;
		uint64_t to = node_hash(d, n) & mask;
		n->next = d->table[1][to];
		d->table[1][to] = n;
		n = next;
	}
	d->table[0][idx] = NULL;
}

bool dict_rehash_step(struct dict *d, uint64_t buckets)
{
	if (!d->rehashing || d->pause)
		return d->rehashing;
	uint64_t empty_left = buckets * DICT_EMPTY_VISITS;
	while (buckets > 0 && d->rehash_idx < d->size[0]) {
		if (!d->table[0][d->rehash_idx]) {
			d->rehash_idx++;
			if (--empty_left == 0)
				break;
			continue;
		}
		move_bucket(d, d->rehash_idx++);
		buckets--;
	}
	if (d->rehash_idx == d->size[0])
		finish_rehash(d);
	return d->rehashing;
}

bool dict_rehash_us(struct dict *d, int64_t budget_us)
{
	int64_t start = kv_mono_us();
	while (dict_rehash_step(d, 100)) {
		if (d->pause || kv_mono_us() - start >= budget_us)
			break;
	}
	return d->rehashing;
}

static void rehash_step_if_needed(struct dict *d)
{
	if (d->rehashing && !d->pause)
		dict_rehash_step(d, 1);
}

/* Search without rehashing: the link to the node matching `match`. */
static struct dict_node **search(struct dict *d, uint64_t h, const void *key,
				 size_t len, const struct dict_node *want)
{
	for (int t = 0; t < 2; t++) {
		if (d->size[t] == 0)
			continue;
		uint64_t idx = h & (d->size[t] - 1);
		if (t == 0 && d->rehashing && idx < d->rehash_idx)
			continue;   /* already moved: the element is in table[1] */
		struct dict_node **link = &d->table[t][idx];
		for (; *link; link = &(*link)->next) {
			if (want ? *link == want : node_has_key(d, *link, key, len))
				return link;
		}
	}
	return NULL;
}

uint64_t dict_prefetch(const struct dict *d, const void *key, size_t len)
{
	uint64_t h = dict_hash(d, key, len);
	for (int t = 0; t < 2; t++)
		if (d->size[t])
			__builtin_prefetch(&d->table[t][h & (d->size[t] - 1)]);
	return h;
}

void dict_prefetch_chain(const struct dict *d, uint64_t hash, unsigned depth)
{
	for (int t = 0; t < 2; t++) {
		if (!d->size[t])
			continue;
		const struct dict_node *n = d->table[t][hash & (d->size[t] - 1)];
		for (unsigned i = 0; n && i < depth; i++)
			n = n->next;
		if (n)
			__builtin_prefetch(n);
	}
}

struct dict_node **dict_find_link(struct dict *d, const void *key, size_t len)
{
	if (d->count == 0)
		return NULL;
	rehash_step_if_needed(d);
	return search(d, dict_hash(d, key, len), key, len, NULL);
}

struct dict_node *dict_find(struct dict *d, const void *key, size_t len)
{
	struct dict_node **link = dict_find_link(d, key, len);
	return link ? *link : NULL;
}

struct dict_node **dict_link_of(struct dict *d, const struct dict_node *n)
{
	struct kv_slice k = d->type->key(n);
	return search(d, dict_hash(d, k.ptr, k.len), NULL, 0, n);
}

void dict_add(struct dict *d, struct dict_node *n)
{
	if (!d->table[0]) {
		d->table[0] = kv_calloc(DICT_MIN_SIZE, sizeof(struct dict_node *));
		d->size[0] = DICT_MIN_SIZE;
	} else if (d->rehashing) {
		rehash_step_if_needed(d);
	} else if (!d->pause && d->count >= d->size[0]) {
		start_resize(d, next_pow2(d->count + 1));
	}
	int t = d->rehashing ? 1 : 0;
	uint64_t idx = node_hash(d, n) & (d->size[t] - 1);
	n->next = d->table[t][idx];
	d->table[t][idx] = n;
	d->count++;
}

struct dict_node *dict_unlink_at(struct dict *d, struct dict_node **link)
{
	struct dict_node *n = *link;
	kv_assert(n && d->count > 0);
	*link = n->next;
	n->next = NULL;
	d->count--;
	if (d->pause)
		return n;
	if (d->count == 0) {
		free_tables(d);   /* an empty dict costs nothing */
	} else if (!d->rehashing && d->size[0] > DICT_MIN_SIZE &&
		   d->count * 8 <= d->size[0]) {
		/* Land at load factor 1/4..1/2 so a few inserts do not grow it
		 * straight back. */
		start_resize(d, next_pow2(d->count * 2));
	}
	return n;
}

struct dict_node *dict_unlink(struct dict *d, const void *key, size_t len)
{
	struct dict_node **link = dict_find_link(d, key, len);
	return link ? dict_unlink_at(d, link) : NULL;
}

/* ---- cursor walk ---- */

static uint64_t rev64(uint64_t v)
{
	v = __builtin_bswap64(v);
	v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
	v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
	v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
	return v;
}

/* Increment the cursor in reversed bit order over the bits of `mask`: the
 * buckets a grown table splits bucket b into all follow b directly, and a
 * shrunk table's bucket covers the ones already walked, which is why an
 * element present throughout is never skipped. */
static uint64_t cursor_next(uint64_t v, uint64_t mask)
{
	v |= ~mask;
	return rev64(rev64(v) + 1);
}

static void scan_bucket(struct dict_node *n, dict_scan_fn fn, void *arg)
{
	while (n) {
		struct dict_node *next = n->next;   /* fn may unlink n */
		fn(arg, n);
		n = next;
	}
}

uint64_t dict_scan(struct dict *d, uint64_t v, dict_scan_fn fn, void *arg)
{
	if (d->count == 0)
		return 0;
	d->pause++;
	if (!d->rehashing) {
		uint64_t m = d->size[0] - 1;
		scan_bucket(d->table[0][v & m], fn, arg);
		v = cursor_next(v, m);
	} else {
		/* Walk the small table's bucket, then every bucket of the large
		 * table that it expands to. */
		int s = d->size[0] <= d->size[1] ? 0 : 1, l = 1 - s;
		uint64_t ms = d->size[s] - 1, ml = d->size[l] - 1;
		scan_bucket(d->table[s][v & ms], fn, arg);
		do {
			scan_bucket(d->table[l][v & ml], fn, arg);
			v = cursor_next(v, ml);
		} while (v & (ms ^ ml));
	}
	if (--d->pause == 0 && d->count == 0)
		free_tables(d);   /* the callbacks deleted the last element */
	return v;
}

/* ---- random element ---- */

/* Bucket `r` of the live bucket range (table[0] from rehash_idx, then
 * table[1]); every bucket that can hold an element is equally likely. */
static struct dict_node *bucket_at(struct dict *d, uint64_t r)
{
	if (!d->rehashing)
		return d->table[0][r & (d->size[0] - 1)];
	uint64_t live0 = d->size[0] - d->rehash_idx;
	r %= live0 + d->size[1];
	return r < live0 ? d->table[0][d->rehash_idx + r] : d->table[1][r - live0];
}

struct dict_node *dict_random(struct dict *d)
{
	if (d->count == 0)
		return NULL;
	rehash_step_if_needed(d);
	for (unsigned i = 0; i < DICT_RANDOM_TRIES; i++) {
		uint64_t r = rng_next(&d->rng);
		struct dict_node *n = bucket_at(d, r / DICT_RANDOM_DEPTH);
		for (uint64_t j = r % DICT_RANDOM_DEPTH; n && j > 0; j--)
			n = n->next;
		if (n)
			return n;
	}
	/* Unlucky or pathological chains: any non-empty bucket, random depth. */
	for (;;) {
		struct dict_node *n = bucket_at(d, rng_next(&d->rng));
		if (!n)
			continue;
		uint64_t len = 0;
		for (struct dict_node *p = n; p; p = p->next)
			len++;
		for (uint64_t j = rng_next(&d->rng) % len; j > 0; j--)
			n = n->next;
		return n;
	}
}
