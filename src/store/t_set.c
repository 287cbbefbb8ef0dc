/*
 * t_set.c - the set value type (see t_set.h for the encodings and rules).
 *
 * Layout.  struct kv_set is one allocation: an 8-byte header (encoding,
 * intset width, member count, data bytes in use) and then the encoding's
 * data in the same block:
 *
 *   intset     the sorted native-endian array of 2-, 4- or 8-byte integers;
 *   listpack   entries [len: 1 byte, <= 64][member bytes] in insertion order;
 *   hashtable  struct set_ht (at SET_HT_OFF): a dict.h table plus the sum of
 *              its node bytes.  A member is one allocation: the dict's chain
 *              pointer, then its length (1 byte below 255, else 0xff and 8
 *              bytes), then the bytes.  A 13-byte member is a 32-byte chunk.
 *
 * A compact block is resized as it grows or shrinks, so it moves; see the
 * mutation protocol in t_set.h and compact_resize below.  A hashtable
 * object is allocated once, on conversion, and never moves.
 *
 * Memory is counted as the store counts it (kv_heap_bytes of every
 * allocation) and computed on demand in O(1).  Note that a lookup in a
 * hashtable can finish a rehash and free a bucket array, so callers
 * measure set_mem around every call, reads included.
 */
#include "store/t_set.h"

#include "store/dict.h"
#include "base/alloc.h"
#include "base/kv.h"
#include "store/store.h"
#include "base/util_num.h"
#include "store/encoding.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

struct kv_set {
	uint8_t enc;       /* enum set_encoding */
	uint8_t width;     /* intset: bytes per element, 2, 4 or 8 */
	uint16_t count;    /* compact encodings: members */
	uint16_t used;     /* compact encodings: bytes of data in use */
	uint16_t pad;
	unsigned char data[]; /* intset array / listpack entries / struct set_ht */
};

/* Where a hashtable's struct set_ht lies in its object (8-aligned). */
#define SET_HT_OFF ((sizeof(struct kv_set) + 7) & ~(size_t)7)

struct set_ht {
	struct dict d;
	size_t node_bytes;
};

struct set_node {
	struct dict_node n;
	unsigned char b[];   /* length header, then the member bytes */
};

static struct set_ht *ht_of(const struct kv_set *s)
{
	return (struct set_ht *)((char *)s + SET_HT_OFF);
}

/* ---- the thread's random generator ---- */

static _Thread_local uint64_t rng_state;

void set_seed_random(uint64_t seed)
{
	rng_state = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

static uint64_t rng_next(void)
{
	if (rng_state == 0)
		set_seed_random((uint64_t)kv_time_us() ^ (uint64_t)(uintptr_t)&rng_state);
	/* xorshift64* */
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n), n > 0 (the modulo bias is negligible for n <= 2^32). */
static uint64_t rng_below(uint64_t n)
{
	return rng_next() % n;
}

/* ---- hashtable nodes ---- */

static struct kv_slice node_member(const struct set_node *n)
{
	if (n->b[0] < 255)
		return (struct kv_slice){ (const char *)n->b + 1, n->b[0] };
	uint64_t len;
	memcpy(&len, n->b + 1, sizeof(len));
	return (struct kv_slice){ (const char *)n->b + 9, (size_t)len };
}

static struct kv_slice node_key(const struct dict_node *dn)
{
	return node_member((const struct set_node *)dn);
}

static const struct dict_type set_dict_type = { .key = node_key };

static struct set_node *node_new(const void *m, size_t len)
{
	size_t hdr = len < 255 ? 1 : 9;
	struct set_node *n = kv_malloc(sizeof(*n) + hdr + len);
	if (len < 255) {
		n->b[0] = (unsigned char)len;
	} else {
		uint64_t l = len;
		n->b[0] = 255;
		memcpy(n->b + 1, &l, sizeof(l));
	}
	if (len)
		memcpy(n->b + hdr, m, len);
	return n;
}

static void ht_free_node(void *arg, struct dict_node *n)
{
	(void)arg;
	free(n);
}

static void ht_init(struct set_ht *h)
{
	dict_init(&h->d, &set_dict_type, rng_next() | 1);
	dict_seed_random(&h->d, rng_next() | 1);
	h->node_bytes = 0;
}

static void ht_add_new(struct set_ht *h, const void *m, size_t len)
{
	struct set_node *n = node_new(m, len);
	h->node_bytes += kv_heap_bytes(n);
	dict_add(&h->d, &n->n);
}

static void ht_unlink_free(struct set_ht *h, struct dict_node **link)
{
	struct dict_node *n = dict_unlink_at(&h->d, link);
	h->node_bytes -= kv_heap_bytes(n);
	free(n);
}

/* ---- the compact block ----
 *
 * An intset or listpack is one allocation: the header, then `used` bytes
 * of data.  Its size is always requested as compact_alloc(header + used),
 * a size glibc hands out with no slack (jemalloc rounds it up to its size
 * class, and a realloc within the class stays in place), and nothing is
 * ever written past the requested size.
 *
 * Moving.  The store may hold the object (`pinned`); such an object is never
 * freed, reallocated or modified when the change needs another block: a new
 * block is made, and the caller installs it with db_set_object, which frees
 * the old one.  An object that is not pinned is reallocated in place. */

static size_t compact_alloc(size_t bytes)
{
	size_t n = ((bytes + sizeof(size_t) + 15) & ~(size_t)15) - sizeof(size_t);
	return KV_MAX(n, (size_t)24);
}

static struct kv_set *compact_new(uint8_t enc, uint8_t width)
{
	struct kv_set *s = kv_malloc(compact_alloc(sizeof(*s)));
	s->enc = enc;
	s->width = width;
	s->count = 0;
	s->used = 0;
	s->pad = 0;
	return s;
}

/* Makes room for `used` data bytes (more or fewer than now): returns the
 * block to work on, which holds s's current contents.  s itself is left
 * untouched when pinned and a new block is needed. */
static struct kv_set *compact_resize(struct kv_set *s, size_t used, const struct kv_set *pinned)
{
	size_t want = compact_alloc(sizeof(*s) + used);
	if (want == malloc_usable_size(s))
		return s;
	if (s != pinned)
		return kv_realloc(s, want);
	struct kv_set *n = kv_malloc(want);
	memcpy(n, s, sizeof(*s) + KV_MIN((size_t)s->used, used));
	return n;
}

/* ---- intset ---- */
static uint32_t int_width(int64_t v)
{
	if (v >= INT16_MIN && v <= INT16_MAX)
		return 2;
	if (v >= INT32_MIN && v <= INT32_MAX)
		return 4;
	return 8;
}

static int64_t is_get_w(const unsigned char *data, uint32_t width, uint32_t i)
{
	if (width == 2) {
		int16_t v;
		memcpy(&v, data + (size_t)i * 2, 2);
		return v;
	}
	if (width == 4) {
		int32_t v;
		memcpy(&v, data + (size_t)i * 4, 4);
		return v;
	}
	int64_t v;
	memcpy(&v, data + (size_t)i * 8, 8);
	return v;
}

static void is_set_w(unsigned char *data, uint32_t width, uint32_t i, int64_t v)
{
	if (width == 2) {
		int16_t x = (int16_t)v;
		memcpy(data + (size_t)i * 2, &x, 2);
	} else if (width == 4) {
		int32_t x = (int32_t)v;
		memcpy(data + (size_t)i * 4, &x, 4);
	} else {
		memcpy(data + (size_t)i * 8, &v, 8);
	}
}

static int64_t is_get(const struct kv_set *s, uint32_t i)
{
	return is_get_w(s->data, s->width, i);
}

/* Binary search: true if found; *pos is its index or the insert position. */
static bool is_search(const struct kv_set *s, int64_t v, uint32_t *pos)
{
	uint32_t lo = 0, hi = s->count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int64_t x = is_get(s, mid);
		if (x == v) {
			*pos = mid;
			return true;
		}
		if (x < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return false;
}

static struct kv_set *is_insert(struct kv_set *s, int64_t v, uint32_t pos,
				const struct kv_set *pinned)
{
	uint32_t count = s->count;
	uint32_t old_w = count ? s->width : 2, w = KV_MAX(old_w, int_width(v));

	s = compact_resize(s, (size_t)(count + 1) * w, pinned);
	if (w != old_w && count > 0) {
		/* Widen in place, from the end so nothing is overwritten. */
		for (uint32_t i = count; i-- > 0;)
			is_set_w(s->data, w, i, is_get_w(s->data, old_w, i));
	}
	s->width = (uint8_t)w;
	memmove(s->data + (size_t)(pos + 1) * w, s->data + (size_t)pos * w,
		(size_t)(count - pos) * w);
	is_set_w(s->data, w, pos, v);
	s->count = (uint16_t)(count + 1);
	s->used = (uint16_t)((count + 1) * w);
	return s;
}

/* Removes entry [off, off + n) of a compact set's data. */
static struct kv_set *compact_cut(struct kv_set *s, uint32_t off, uint32_t n,
				  const struct kv_set *pinned)
{
	uint32_t used = s->used - n;
	size_t want = compact_alloc(sizeof(*s) + used);
	if (want == malloc_usable_size(s) || s != pinned) {
		memmove(s->data + off, s->data + off + n, s->used - off - n);
		s->used = (uint16_t)used;
		s->count--;
		return want == malloc_usable_size(s) ? s : kv_realloc(s, want);
	}
	struct kv_set *c = kv_malloc(want);
	memcpy(c, s, sizeof(*s) + off);
	memcpy(c->data + off, s->data + off + n, s->used - off - n);
	c->used = (uint16_t)used;
	c->count--;
	return c;
}

static struct kv_set *is_delete(struct kv_set *s, uint32_t pos, const struct kv_set *pinned)
{
	return compact_cut(s, pos * s->width, s->width, pinned);
}

/* ---- listpack ---- */

/* Offset of the entry holding m, or -1. */
static int64_t lp_find(const struct kv_set *s, const void *m, size_t len)
{
	if (len > SET_MAX_LISTPACK_VALUE)
		return -1;
	for (uint32_t off = 0; off < s->used; off += 1u + s->data[off]) {
		if (s->data[off] == len && memcmp(s->data + off + 1, m, len) == 0)
			return off;
	}
	return -1;
}

static struct kv_set *lp_append(struct kv_set *s, const void *m, size_t len,
				const struct kv_set *pinned)
{
	uint32_t used = s->used;
	s = compact_resize(s, used + 1 + len, pinned);
	s->data[used] = (unsigned char)len;
	if (len)
		memcpy(s->data + used + 1, m, len);
	s->used = (uint16_t)(used + 1 + len);
	s->count++;
	return s;
}

static struct kv_set *lp_delete(struct kv_set *s, uint32_t off, const struct kv_set *pinned)
{
	return compact_cut(s, off, 1u + s->data[off], pinned);
}

/* Offset of entry i. */
static uint32_t lp_offset(const struct kv_set *s, uint32_t i)
{
	uint32_t off = 0;
	while (i-- > 0)
		off += 1u + s->data[off];
	return off;
}

/* ---- conversions ---- */

static struct kv_set *intset_to_lpack(const struct kv_set *is)
{
	struct kv_set *lp = compact_new(SET_ENC_LISTPACK, 0);
	for (uint32_t i = 0; i < is->count; i++) {
		char buf[FMT_INT64_MAX];
		size_t n = fmt_int64(buf, is_get(is, i));
		lp = lp_append(lp, buf, n, NULL);
	}
	return lp;
}

static struct kv_set *to_hashtable(const struct kv_set *s)
{
	struct kv_set *n = kv_malloc(SET_HT_OFF + sizeof(struct set_ht));
	memset(n, 0, sizeof(*n));
	n->enc = SET_ENC_HASHTABLE;
	struct set_ht *h = ht_of(n);
	ht_init(h);

	if (s->enc == SET_ENC_INTSET) {
		for (uint32_t i = 0; i < s->count; i++) {
			char buf[FMT_INT64_MAX];
			size_t len = fmt_int64(buf, is_get(s, i));
			ht_add_new(h, buf, len);
		}
	} else {
		for (uint32_t off = 0; off < s->used; off += 1u + s->data[off])
			ht_add_new(h, s->data + off + 1, s->data[off]);
	}
	return n;
}

/* Replaces compact *sp by `n`, freeing the old block unless pinned. */
static void replace(struct kv_set **sp, struct kv_set *n, const struct kv_set *pinned)
{
	if (*sp != pinned)
		free(*sp);
	*sp = n;
}

/* ---- the type ---- */

struct kv_set *set_create(void)
{
	return compact_new(SET_ENC_INTSET, 2);
}

void set_free(struct kv_set *s)
{
	if (!s)
		return;
	if (s->enc == SET_ENC_HASHTABLE)
		dict_clear(&ht_of(s)->d, ht_free_node, NULL);
	free(s);
}

uint64_t set_size(const struct kv_set *s)
{
	if (s->enc == SET_ENC_HASHTABLE)
		return dict_size(&ht_of(s)->d);
	return s->count;
}

enum set_encoding set_encoding(const struct kv_set *s)
{
	return (enum set_encoding)s->enc;
}

const char *set_encoding_name(const struct kv_set *s)
{
	static const char *const names[] = { "intset", "listpack", "hashtable" };
	return names[s->enc];
}

uint32_t set_intset_width(const struct kv_set *s)
{
	return s->enc == SET_ENC_INTSET ? s->width : 0;
}

size_t set_mem(const struct kv_set *s)
{
	size_t n = kv_heap_bytes(s);
	if (s->enc == SET_ENC_HASHTABLE) {
		const struct set_ht *h = ht_of(s);
		return n + dict_mem_bytes(&h->d) + h->node_bytes;
	}
	return n;
}

static bool parse_int(const void *m, size_t len, int64_t *v)
{
	struct kv_slice a = { m, len };
	return len <= 20 && arg_to_int64(&a, v);
}

bool set_add(struct kv_set **sp, const void *m, size_t len, const struct kv_set *pinned)
{
	struct kv_set *s = *sp;
	if (s->enc == SET_ENC_INTSET) {
		int64_t v;
		uint32_t pos;
		if (parse_int(m, len, &v)) {
			if (is_search(s, v, &pos))
				return false;
			if (s->count < kv_encoding_limit(&kv_encoding.set_max_intset_entries,
							  SET_MAX_INTSET_ENTRIES)) {
				*sp = is_insert(s, v, pos, pinned);
				return true;
			}
			replace(sp, to_hashtable(s), pinned);
		} else if (s->count < SET_MAX_LISTPACK_ENTRIES && len <= SET_MAX_LISTPACK_VALUE) {
			replace(sp, intset_to_lpack(s), pinned);
			/* the listpack is new: it is ours to reallocate */
			pinned = NULL;
		} else {
			replace(sp, to_hashtable(s), pinned);
		}
		s = *sp;
	}
	if (s->enc == SET_ENC_LISTPACK) {
		if (lp_find(s, m, len) >= 0)
			return false;
		if (s->count < SET_MAX_LISTPACK_ENTRIES && len <= SET_MAX_LISTPACK_VALUE) {
			*sp = lp_append(s, m, len, pinned);
			return true;
		}
		replace(sp, to_hashtable(s), pinned);
		s = *sp;
	}
	struct set_ht *h = ht_of(s);
	if (dict_find(&h->d, m, len))
		return false;
	ht_add_new(h, m, len);
	return true;
}

bool set_remove(struct kv_set **sp, const void *m, size_t len, const struct kv_set *pinned)
{
	struct kv_set *s = *sp;
	switch (s->enc) {
	case SET_ENC_INTSET: {
		int64_t v;
		uint32_t pos;
		if (!parse_int(m, len, &v) || !is_search(s, v, &pos))
			return false;
		*sp = is_delete(s, pos, pinned);
		return true;
	}
	case SET_ENC_LISTPACK: {
		int64_t off = lp_find(s, m, len);
		if (off < 0)
			return false;
		*sp = lp_delete(s, (uint32_t)off, pinned);
		return true;
	}
	default: {
		struct set_ht *h = ht_of(s);
		struct dict_node **link = dict_find_link(&h->d, m, len);
		if (!link)
			return false;
		ht_unlink_free(h, link);
		return true;
	}
	}
}

bool set_contains(struct kv_set *s, const void *m, size_t len)
{
	switch (s->enc) {
	case SET_ENC_INTSET: {
		int64_t v;
		uint32_t pos;
		return parse_int(m, len, &v) && is_search(s, v, &pos);
	}
	case SET_ENC_LISTPACK:
		return lp_find(s, m, len) >= 0;
	default:
		return dict_find(&ht_of(s)->d, m, len) != NULL;
	}
}

/* ---- walking ---- */

struct ht_walk {
	set_member_fn fn;
	void *arg;
	bool stopped;
};

static void ht_walk_node(void *arg, struct dict_node *dn)
{
	struct ht_walk *w = arg;
	if (w->stopped)
		return;
	struct kv_slice m = node_member((struct set_node *)dn);
	if (!w->fn(w->arg, m.ptr, m.len))
		w->stopped = true;
}

static bool emit_int(set_member_fn fn, void *arg, int64_t v)
{
	char buf[FMT_INT64_MAX];
	size_t n = fmt_int64(buf, v);
	return fn(arg, buf, n);
}

bool set_foreach(struct kv_set *s, set_member_fn fn, void *arg)
{
	if (s->enc == SET_ENC_INTSET) {
		for (uint32_t i = 0; i < s->count; i++)
			if (!emit_int(fn, arg, is_get(s, i)))
				return false;
		return true;
	}
	if (s->enc == SET_ENC_LISTPACK) {
		for (uint32_t off = 0; off < s->used; off += 1u + s->data[off])
			if (!fn(arg, (const char *)s->data + off + 1, s->data[off]))
				return false;
		return true;
	}
	/* A complete dict_scan with no change between steps reports every
	 * node exactly once (rehashing is paused during each step).  The dict
	 * is not modified, only its pause counter moves (hence no const). */
	struct dict *d = &ht_of(s)->d;
	struct ht_walk w = { fn, arg, false };
	uint64_t cursor = 0;
	do {
		cursor = dict_scan(d, cursor, ht_walk_node, &w);
	} while (cursor != 0 && !w.stopped);
	return !w.stopped;
}

uint64_t set_scan(struct kv_set *s, uint64_t cursor, set_member_fn fn, void *arg)
{
	if (s->enc != SET_ENC_HASHTABLE) {
		set_foreach(s, fn, arg);
		return 0;
	}
	struct ht_walk w = { fn, arg, false };
	return dict_scan(&ht_of(s)->d, cursor, ht_walk_node, &w);
}

/* ---- random members ---- */

/* Member i of a compact set. */
static void compact_emit(const struct kv_set *s, uint32_t i, uint32_t off,
			 set_member_fn fn, void *arg)
{
	if (s->enc == SET_ENC_INTSET) {
		emit_int(fn, arg, is_get(s, i));
	} else {
		fn(arg, (const char *)s->data + off + 1, s->data[off]);
	}
}

bool set_random(struct kv_set *s, set_member_fn fn, void *arg)
{
	uint64_t size = set_size(s);
	if (size == 0)
		return false;
	if (s->enc == SET_ENC_HASHTABLE) {
		struct set_node *n = (struct set_node *)dict_random(&ht_of(s)->d);
		struct kv_slice m = node_member(n);
		fn(arg, m.ptr, m.len);
		return true;
	}
	uint32_t i = (uint32_t)rng_below(size);
	uint32_t off = s->enc == SET_ENC_LISTPACK ? lp_offset(s, i) : 0;
	compact_emit(s, i, off, fn, arg);
	return true;
}

/* An open-addressing set of node pointers, to draw distinct nodes. */
struct ptr_set {
	const void **slot;
	uint64_t mask;
};

static bool ptr_set_insert(struct ptr_set *ps, const void *p)
{
	uint64_t h = kv_hash64(&p, sizeof(p), 0x5e7) & ps->mask;
	while (ps->slot[h]) {
		if (ps->slot[h] == p)
			return false;
		h = (h + 1) & ps->mask;
	}
	ps->slot[h] = p;
	return true;
}

struct gather {
	struct dict_node **a;
	uint64_t n;
};

static void gather_node(void *arg, struct dict_node *dn)
{
	struct gather *g = arg;
	g->a[g->n++] = dn;
}

static void emit_node(const struct dict_node *dn, set_member_fn fn, void *arg)
{
	struct kv_slice m = node_member((const struct set_node *)dn);
	fn(arg, m.ptr, m.len);
}

static void ht_random_distinct(struct set_ht *h, uint64_t count, set_member_fn fn, void *arg)
{
	uint64_t size = dict_size(&h->d);

	if (count * 3 > size) {
		/* Many of them: gather every node and shuffle a prefix. */
		struct gather g = { kv_malloc(size * sizeof(*g.a)), 0 };
		uint64_t cursor = 0;
		do {
			cursor = dict_scan(&h->d, cursor, gather_node, &g);
		} while (cursor != 0);
		kv_assert(g.n == size);
		for (uint64_t i = 0; i < count; i++) {
			uint64_t j = i + rng_below(size - i);
			struct dict_node *t = g.a[i];
			g.a[i] = g.a[j];
			g.a[j] = t;
			emit_node(g.a[i], fn, arg);
		}
		free(g.a);
		return;
	}
	/* Few of them: draw until `count` distinct nodes came up. */
	uint64_t cap = 16;
	while (cap < count * 2)
		cap <<= 1;
	struct ptr_set ps = { kv_calloc(cap, sizeof(*ps.slot)), cap - 1 };
	for (uint64_t got = 0; got < count;) {
		struct dict_node *dn = dict_random(&h->d);
		if (ptr_set_insert(&ps, dn)) {
			emit_node(dn, fn, arg);
			got++;
		}
	}
	free(ps.slot);
}

void set_random_distinct(struct kv_set *s, uint64_t count, set_member_fn fn, void *arg)
{
	uint64_t size = set_size(s);

	if (count >= size) {
		set_foreach(s, fn, arg);
		return;
	}
	if (s->enc == SET_ENC_HASHTABLE) {
		ht_random_distinct(ht_of(s), count, fn, arg);
		return;
	}
	/* A compact set has at most SET_MAX_INTSET_ENTRIES members: a partial
	 * Fisher-Yates shuffle of their indexes (and listpack offsets). */
	uint16_t idx[SET_MAX_INTSET_ENTRIES], off[SET_MAX_INTSET_ENTRIES];
	uint32_t o = 0;
	for (uint32_t i = 0; i < size; i++) {
		idx[i] = (uint16_t)i;
		if (s->enc == SET_ENC_LISTPACK) {
			off[i] = (uint16_t)o;
			o += 1u + s->data[o];
		}
	}
	for (uint32_t i = 0; i < count; i++) {
		uint32_t j = i + (uint32_t)rng_below(size - i);
		uint16_t t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
		compact_emit(s, idx[i], s->enc == SET_ENC_LISTPACK ? off[idx[i]] : 0, fn, arg);
	}
}

uint64_t set_pop(struct kv_set **sp, uint64_t count, set_member_fn fn, void *arg,
		 const struct kv_set *pinned)
{
	struct kv_set *s = *sp;
	uint64_t size = set_size(s);

	if (count >= size) {
		/* Emptied in place; the caller deletes the key. */
		set_foreach(s, fn, arg);
		if (s->enc == SET_ENC_HASHTABLE) {
			struct set_ht *h = ht_of(s);
			dict_clear(&h->d, ht_free_node, NULL);
			h->node_bytes = 0;
		} else {
			s->count = 0;
			s->used = 0;
		}
		return size;
	}
	for (uint64_t k = 0; k < count; k++) {
		if (s->enc == SET_ENC_HASHTABLE) {
			struct set_ht *h = ht_of(s);
			struct dict_node *dn = dict_random(&h->d);
			emit_node(dn, fn, arg);
			ht_unlink_free(h, dict_link_of(&h->d, dn));
			continue;
		}
		uint32_t i = (uint32_t)rng_below(set_size(s));
		if (s->enc == SET_ENC_INTSET) {
			emit_int(fn, arg, is_get(s, i));
			s = is_delete(s, i, pinned);
		} else {
			uint32_t off = lp_offset(s, i);
			compact_emit(s, i, off, fn, arg);
			s = lp_delete(s, off, pinned);
		}
		*sp = s;
	}
	return count;
}

/* ---- registration with the store ---- */

static void set_free_obj(void *obj)
{
	set_free(obj);
}

static size_t set_mem_obj(const void *obj)
{
	return set_mem(obj);
}

/* The store learns how to free and measure sets before main() runs, so no
 * startup code has to know this module exists. */
__attribute__((constructor)) static void set_register_type(void)
{
	store_register_type_free(KV_TYPE_SET, set_free_obj);
	store_register_type_mem(KV_TYPE_SET, set_mem_obj);
}
