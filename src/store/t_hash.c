/*
 * t_hash.c - the hash value object of t_hash.h: a packed encoding for small
 * hashes and a dict of one-allocation nodes for large ones.
 *
 * Packed layout (one heap block, the object pointer is the block):
 *   offset 0  u8  encoding (HASH_ENC_PACKED)
 *          1  u8  unused
 *          2  u16 pairs
 *          4  u32 bytes of pair data in use
 *          8  pairs: [u8 flen][field][u8 vlen][value] ...
 * A length byte suffices because no packed element exceeds
 * HASH_PACKED_MAX_BYTES (< 256).  The block's spare capacity is whatever
 * malloc_usable_size reports beyond the used bytes; a write that needs more
 * builds a new block (see the mutation protocol in t_hash.h).
 *
 * Table node layout: struct dict_node (the chain pointer), varint field
 * length, varint value length, field bytes, value bytes.  A value that
 * changes is rewritten in place when the node's block still fits it snugly,
 * otherwise the node is reallocated and relinked with dict_replace_at.
 *
 * Memory is counted as kv_heap_bytes of every block, as store.c and dict.c
 * do: a packed hash is its block; a table is its header block, its nodes
 * (node_bytes, kept up to date) and its bucket arrays (dict_mem_bytes).
 */
#include "store/t_hash.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "store/dict.h"
#include "base/alloc.h"
#include "base/kv.h"
#include "store/store.h"
#include "base/varint.h"
#include "store/encoding.h"

/* Bucket seed of every hash table; non-zero as dict.h requires. */
#define HASH_DICT_SEED 0x686173682e6b6576ULL   /* "hash.kev" */

/* Common first byte of both encodings. */
struct hash_obj {
	uint8_t enc;
};

struct hash_packed {
	uint8_t enc;
	uint8_t unused;
	uint16_t count;
	uint32_t used;
	unsigned char data[];
};
_Static_assert(sizeof(struct hash_packed) == 8, "the packed header is 8 bytes");
_Static_assert(HASH_PACKED_MAX_BYTES < 256, "packed lengths fit in one byte");
_Static_assert(HASH_PACKED_MAX_ENTRIES <= UINT16_MAX, "packed count fits in u16");

struct hash_table {
	uint8_t enc;
	size_t node_bytes;   /* heap bytes of all nodes */
	struct dict d;
};

struct hash_node {
	struct dict_node link;
	unsigned char data[];
};

static struct hash_packed *as_packed(const struct hash_obj *h)
{
	return (struct hash_packed *)h;
}

static struct hash_table *as_table(const struct hash_obj *h)
{
	return (struct hash_table *)h;
}

/* ---- varints (LEB128) for table node lengths ---- */

/* Our own nodes' bytes (trusted memory, written by varint_encode). */
static size_t varint_get_mem(const unsigned char *p, uint64_t *v)
{
	uint64_t r = 0;
	size_t n = 0;
	unsigned shift = 0;
	for (;;) {
		unsigned char b = p[n++];
		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			break;
		shift += 7;
	}
	*v = r;
	return n;
}

/* ---- table nodes ---- */

struct node_view {
	struct kv_slice field, value;
	size_t hdr;   /* bytes of the two varints */
};

static void node_read(const struct hash_node *n, struct node_view *v)
{
	uint64_t flen, vlen;
	size_t h = varint_get_mem(n->data, &flen);
	h += varint_get_mem(n->data + h, &vlen);
	v->hdr = h;
	v->field = (struct kv_slice){ (const char *)n->data + h, (size_t)flen };
	v->value = (struct kv_slice){ (const char *)n->data + h + flen, (size_t)vlen };
}

static struct kv_slice node_key(const struct dict_node *dn)
{
	struct node_view v;
	node_read((const struct hash_node *)dn, &v);
	return v.field;
}

static const struct dict_type hash_dict_type = { .key = node_key };

static size_t node_size(size_t flen, size_t vlen)
{
	return sizeof(struct hash_node) + varint_len(flen) + varint_len(vlen) + flen + vlen;
}

static struct hash_node *node_new(const void *f, size_t flen, const void *v, size_t vlen)
{
	struct hash_node *n = kv_malloc(node_size(flen, vlen));
	size_t h = varint_encode(n->data, flen);
	h += varint_encode(n->data + h, vlen);
	memcpy(n->data + h, f, flen);
	memcpy(n->data + h + flen, v, vlen);
	return n;
}

/* ---- packed ---- */

static size_t packed_cap(const struct hash_packed *p)
{
	return malloc_usable_size((void *)p) - sizeof(*p);
}

static struct hash_packed *packed_alloc(size_t bytes)
{
	struct hash_packed *p = kv_malloc(sizeof(*p) + bytes);
	p->enc = HASH_ENC_PACKED;
	p->unused = 0;
	p->count = 0;
	p->used = 0;
	return p;
}

/* Reads the pair at off; returns the offset of the next pair. */
static size_t packed_pair(const struct hash_packed *p, size_t off, struct kv_slice *f,
			  struct kv_slice *v)
{
	size_t fl = p->data[off];
	f->ptr = (const char *)p->data + off + 1;
	f->len = fl;
	size_t vl = p->data[off + 1 + fl];
	v->ptr = (const char *)p->data + off + 2 + fl;
	v->len = vl;
	return off + 2 + fl + vl;
}

/* Offset of the pair whose field is f, or -1. */
static long packed_find(const struct hash_packed *p, const void *f, size_t flen)
{
	for (size_t off = 0; off < p->used;) {
		struct kv_slice pf, pv;
		size_t next = packed_pair(p, off, &pf, &pv);
		if (pf.len == flen && memcmp(pf.ptr, f, flen) == 0)
			return (long)off;
		off = next;
	}
	return -1;
}

static size_t packed_put_pair(unsigned char *dst, const void *f, size_t flen,
			      const void *v, size_t vlen)
{
	dst[0] = (unsigned char)flen;
	memcpy(dst + 1, f, flen);
	dst[1 + flen] = (unsigned char)vlen;
	memcpy(dst + 2 + flen, v, vlen);
	return 2 + flen + vlen;
}

/* ---- table ---- */

static struct hash_table *table_new(void)
{
	struct hash_table *t = kv_malloc(sizeof(*t));
	t->enc = HASH_ENC_TABLE;
	t->node_bytes = 0;
	dict_init(&t->d, &hash_dict_type, HASH_DICT_SEED);
	return t;
}

static void table_add_new(struct hash_table *t, const void *f, size_t flen,
			  const void *v, size_t vlen)
{
	struct hash_node *n = node_new(f, flen, v, vlen);
	t->node_bytes += kv_heap_bytes(n);
	dict_add(&t->d, &n->link);
}

static void table_set(struct hash_table *t, const void *f, size_t flen,
		      const void *v, size_t vlen, bool *added)
{
	struct dict_node **link = dict_find_link(&t->d, f, flen);
	if (!link) {
		table_add_new(t, f, flen, v, vlen);
		*added = true;
		return;
	}
	*added = false;
	struct hash_node *n = (struct hash_node *)*link;
	size_t need = node_size(flen, vlen), cap = malloc_usable_size(n);
	if (need <= cap && cap <= 2 * need + 32) {
		/* Rewrite in place: the field moves when the header length
		 * changes; the value comes from outside the node. */
		struct node_view old;
		node_read(n, &old);
		unsigned char hdr[20];
		size_t h = varint_encode(hdr, flen);
		h += varint_encode(hdr + h, vlen);
		memmove(n->data + h, n->data + old.hdr, flen);
		memcpy(n->data, hdr, h);
		memcpy(n->data + h + flen, v, vlen);
		return;
	}
	struct hash_node *nn = node_new(f, flen, v, vlen);
	dict_replace_at(link, &nn->link);
	t->node_bytes += kv_heap_bytes(nn);
	t->node_bytes -= kv_heap_bytes(n);
	free(n);
}

static struct hash_table *table_from_packed(const struct hash_packed *p)
{
	struct hash_table *t = table_new();
	for (size_t off = 0; off < p->used;) {
		struct kv_slice f, v;
		off = packed_pair(p, off, &f, &v);
		table_add_new(t, f.ptr, f.len, v.ptr, v.len);
	}
	return t;
}

static void node_free_cb(void *arg, struct dict_node *n)
{
	free(n);
}

/* ---- public ---- */

void hash_type_register(void)
{
	store_register_type_free(KV_TYPE_HASH, hash_free);
	store_register_type_mem(KV_TYPE_HASH, hash_mem);
}

__attribute__((constructor)) static void hash_type_register_at_start(void)
{
	hash_type_register();
}

struct hash_obj *hash_new(void)
{
	return (struct hash_obj *)packed_alloc(0);
}

void hash_free(void *obj)
{
	struct hash_obj *h = obj;
	if (!h)
		return;
	if (h->enc == HASH_ENC_TABLE)
		dict_clear(&as_table(h)->d, node_free_cb, NULL);
	free(h);
}

size_t hash_mem(const void *obj)
{
	const struct hash_obj *h = obj;
	if (h->enc == HASH_ENC_PACKED)
		return kv_heap_bytes(h);
	const struct hash_table *t = as_table(h);
	return kv_heap_bytes(t) + t->node_bytes + dict_mem_bytes(&t->d);
}

uint64_t hash_len(const struct hash_obj *h)
{
	return h->enc == HASH_ENC_PACKED ? as_packed(h)->count : dict_size(&as_table(h)->d);
}

enum hash_encoding hash_encoding(const struct hash_obj *h)
{
	return (enum hash_encoding)h->enc;
}

const char *hash_encoding_name(const struct hash_obj *h)
{
	return h->enc == HASH_ENC_PACKED ? "listpack" : "hashtable";
}

bool hash_get(struct hash_obj *h, const void *field, size_t flen, struct kv_slice *value)
{
	if (h->enc == HASH_ENC_PACKED) {
		struct hash_packed *p = as_packed(h);
		long off = packed_find(p, field, flen);
		if (off < 0)
			return false;
		struct kv_slice f;
		packed_pair(p, (size_t)off, &f, value);
		return true;
	}
	struct dict_node *n = dict_find(&as_table(h)->d, field, flen);
	if (!n)
		return false;
	struct node_view v;
	node_read((struct hash_node *)n, &v);
	*value = v.value;
	return true;
}

/* Replace the value of the pair at off in a packed hash. */
static struct hash_obj *packed_replace(struct hash_packed *p, size_t off, size_t flen,
				       const void *v, size_t vlen)
{
	size_t vl_off = off + 1 + flen;
	size_t old_vlen = p->data[vl_off];
	size_t tail_off = vl_off + 1 + old_vlen;
	size_t tail_len = p->used - tail_off;
	size_t used = p->used - old_vlen + vlen;
	if (used <= packed_cap(p)) {
		memmove(p->data + vl_off + 1 + vlen, p->data + tail_off, tail_len);
		p->data[vl_off] = (unsigned char)vlen;
		memcpy(p->data + vl_off + 1, v, vlen);
		p->used = (uint32_t)used;
		return (struct hash_obj *)p;
	}
	struct hash_packed *np = packed_alloc(used);
	np->count = p->count;
	np->used = (uint32_t)used;
	memcpy(np->data, p->data, vl_off);
	np->data[vl_off] = (unsigned char)vlen;
	memcpy(np->data + vl_off + 1, v, vlen);
	memcpy(np->data + vl_off + 1 + vlen, p->data + tail_off, tail_len);
	return (struct hash_obj *)np;
}

static struct hash_obj *packed_append(struct hash_packed *p, const void *f, size_t flen,
				      const void *v, size_t vlen)
{
	size_t used = p->used + 2 + flen + vlen;
	struct hash_packed *dst = p;
	if (used > packed_cap(p)) {
		dst = packed_alloc(used);
		dst->count = p->count;
		memcpy(dst->data, p->data, p->used);
	}
	packed_put_pair(dst->data + p->used, f, flen, v, vlen);
	dst->used = (uint32_t)used;
	dst->count++;
	return (struct hash_obj *)dst;
}

struct hash_obj *hash_set(struct hash_obj *h, const void *field, size_t flen,
			  const void *value, size_t vlen, bool *added)
{
	if (h->enc == HASH_ENC_TABLE) {
		table_set(as_table(h), field, flen, value, vlen, added);
		return h;
	}
	struct hash_packed *p = as_packed(h);
	uint64_t max_bytes = kv_encoding_limit(&kv_encoding.hash_max_listpack_value,
					       HASH_PACKED_MAX_BYTES);
	uint64_t max_entries = kv_encoding_limit(&kv_encoding.hash_max_listpack_entries,
						 HASH_PACKED_MAX_ENTRIES);
	bool small = flen <= max_bytes && vlen <= max_bytes;
	long off = small ? packed_find(p, field, flen) : -1;
	if (!small || (off < 0 && p->count >= max_entries)) {
		struct hash_table *t = table_from_packed(p);
		table_set(t, field, flen, value, vlen, added);
		return (struct hash_obj *)t;
	}
	*added = off < 0;
	if (off >= 0)
		return packed_replace(p, (size_t)off, flen, value, vlen);
	return packed_append(p, field, flen, value, vlen);
}

bool hash_delete(struct hash_obj *h, const void *field, size_t flen)
{
	if (h->enc == HASH_ENC_TABLE) {
		struct hash_table *t = as_table(h);
		struct dict_node *n = dict_unlink(&t->d, field, flen);
		if (!n)
			return false;
		t->node_bytes -= kv_heap_bytes(n);
		free(n);
		return true;
	}
	struct hash_packed *p = as_packed(h);
	long off = packed_find(p, field, flen);
	if (off < 0)
		return false;
	struct kv_slice f, v;
	size_t next = packed_pair(p, (size_t)off, &f, &v);
	memmove(p->data + off, p->data + next, p->used - next);
	p->used -= (uint32_t)(next - (size_t)off);
	p->count--;
	return true;
}

/* ---- walking ---- */

struct scan_cb {
	hash_elem_fn fn;
	void *arg;
};

static void scan_node_cb(void *arg, struct dict_node *n)
{
	struct scan_cb *s = arg;
	struct node_view v;
	node_read((struct hash_node *)n, &v);
	s->fn(s->arg, v.field, v.value);
}

static void packed_foreach(const struct hash_packed *p, hash_elem_fn fn, void *arg)
{
	for (size_t off = 0; off < p->used;) {
		struct kv_slice f, v;
		off = packed_pair(p, off, &f, &v);
		fn(arg, f, v);
	}
}

void hash_foreach(const struct hash_obj *h, hash_elem_fn fn, void *arg)
{
	if (h->enc == HASH_ENC_PACKED) {
		packed_foreach(as_packed(h), fn, arg);
		return;
	}
	/* Without changes between steps a full cursor walk reports every
	 * element exactly once. */
	struct scan_cb s = { fn, arg };
	struct dict *d = &as_table(h)->d;
	uint64_t cursor = 0;
	do {
		cursor = dict_scan(d, cursor, scan_node_cb, &s);
	} while (cursor != 0);
}

uint64_t hash_scan(struct hash_obj *h, uint64_t cursor, hash_elem_fn fn, void *arg)
{
	if (h->enc == HASH_ENC_PACKED) {
		packed_foreach(as_packed(h), fn, arg);
		return 0;
	}
	struct scan_cb s = { fn, arg };
	return dict_scan(&as_table(h)->d, cursor, scan_node_cb, &s);
}

/* ---- random draws ---- */

static _Thread_local uint64_t rng_state;

void hash_seed_random(uint64_t seed)
{
	rng_state = seed ? seed : 1;
}

static uint64_t rng_next(void)
{
	if (rng_state == 0)
		rng_state = ((uint64_t)kv_time_us() ^ (uint64_t)(uintptr_t)&rng_state) | 1;
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static uint64_t rng_below(uint64_t n)
{
	return rng_next() % n;
}

/* Elements of a packed hash by index (at most HASH_PACKED_MAX_ENTRIES). */
static size_t packed_collect(const struct hash_packed *p, struct kv_slice *f, struct kv_slice *v)
{
	size_t i = 0;
	for (size_t off = 0; off < p->used; i++)
		off = packed_pair(p, off, &f[i], &v[i]);
	return i;
}

static uint64_t packed_random(const struct hash_packed *p, uint64_t count, bool unique,
			      hash_elem_fn fn, void *arg)
{
	struct kv_slice f[HASH_PACKED_MAX_ENTRIES], v[HASH_PACKED_MAX_ENTRIES];
	uint16_t idx[HASH_PACKED_MAX_ENTRIES];
	_Static_assert(HASH_PACKED_MAX_ENTRIES <= UINT16_MAX, "indexes fit in u16");
	size_t n = packed_collect(p, f, v);
	if (!unique) {
		for (uint64_t i = 0; i < count; i++) {
			size_t r = (size_t)rng_below(n);
			fn(arg, f[r], v[r]);
		}
		return count;
	}
	/* A partial Fisher-Yates shuffle picks count distinct indexes. */
	for (size_t i = 0; i < n; i++)
		idx[i] = (uint16_t)i;
	for (uint64_t i = 0; i < count; i++) {
		size_t j = (size_t)i + (size_t)rng_below(n - i);
		uint16_t t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
		fn(arg, f[idx[i]], v[idx[i]]);
	}
	return count;
}

struct node_list {
	struct dict_node **nodes;
	size_t len;
};

static void collect_node_cb(void *arg, struct dict_node *n)
{
	struct node_list *l = arg;
	l->nodes[l->len++] = n;
}

static void report_node(struct dict_node *n, hash_elem_fn fn, void *arg)
{
	struct node_view v;
	node_read((struct hash_node *)n, &v);
	fn(arg, v.field, v.value);
}

/* Distinct random nodes when count is a small share of len: draw and skip
 * repeats, remembered in an open-addressing set of node pointers. */
static void table_random_sparse(struct dict *d, uint64_t count, hash_elem_fn fn, void *arg)
{
	size_t cap = 16;
	while (cap < count * 2)
		cap <<= 1;
	struct dict_node **set = kv_calloc(cap, sizeof(*set));
	for (uint64_t got = 0; got < count;) {
		struct dict_node *n = dict_random(d);
		size_t i = (size_t)(kv_hash64(&n, sizeof(n), 1) & (cap - 1));
		while (set[i] && set[i] != n)
			i = (i + 1) & (cap - 1);
		if (set[i])
			continue;
		set[i] = n;
		got++;
		report_node(n, fn, arg);
	}
	free(set);
}

uint64_t hash_random(struct hash_obj *h, uint64_t count, bool unique,
		     hash_elem_fn fn, void *arg)
{
	uint64_t len = hash_len(h);
	if (len == 0 || count == 0)
		return 0;
	if (unique && count >= len) {
		hash_foreach(h, fn, arg);
		return len;
	}
	if (h->enc == HASH_ENC_PACKED)
		return packed_random(as_packed(h), count, unique, fn, arg);
	struct dict *d = &as_table(h)->d;
	if (!unique) {
		for (uint64_t i = 0; i < count; i++)
			report_node(dict_random(d), fn, arg);
		return count;
	}
	if (count * 3 <= len) {
		table_random_sparse(d, count, fn, arg);
		return count;
	}
	/* A large share: shuffle-select from a list of every node. */
	struct node_list l = { kv_malloc((size_t)len * sizeof(*l.nodes)), 0 };
	uint64_t cursor = 0;
	do {
		cursor = dict_scan(d, cursor, collect_node_cb, &l);
	} while (cursor != 0);
	kv_assert(l.len == len);
	for (uint64_t i = 0; i < count; i++) {
		size_t j = (size_t)i + (size_t)rng_below(len - i);
		struct dict_node *t = l.nodes[i];
		l.nodes[i] = l.nodes[j];
		l.nodes[j] = t;
		report_node(l.nodes[i], fn, arg);
	}
	free(l.nodes);
	return count;
}

/* ---- invariants ---- */

struct check_acc {
	uint64_t count;
	size_t bytes;
};

static void check_node_cb(void *arg, struct dict_node *n)
{
	struct check_acc *a = arg;
	struct node_view v;
	node_read((struct hash_node *)n, &v);
	kv_assert(node_size(v.field.len, v.value.len) <= malloc_usable_size(n));
	a->count++;
	a->bytes += kv_heap_bytes(n);
}

void hash_check(const struct hash_obj *h)
{
	if (h->enc == HASH_ENC_PACKED) {
		const struct hash_packed *p = as_packed(h);
		kv_assert(p->used <= packed_cap(p));
		kv_assert(p->count <= HASH_PACKED_MAX_ENTRIES);
		struct kv_slice f[HASH_PACKED_MAX_ENTRIES], v[HASH_PACKED_MAX_ENTRIES];
		size_t n = 0;
		for (size_t off = 0; off < p->used; n++) {
			kv_assert(n < HASH_PACKED_MAX_ENTRIES);
			off = packed_pair(p, off, &f[n], &v[n]);
			kv_assert(off <= p->used);
			kv_assert(f[n].len <= HASH_PACKED_MAX_BYTES && v[n].len <= HASH_PACKED_MAX_BYTES);
			for (size_t i = 0; i < n; i++)
				kv_assert(f[i].len != f[n].len || memcmp(f[i].ptr, f[n].ptr, f[n].len) != 0);
		}
		kv_assert(n == p->count);
		return;
	}
	kv_assert(h->enc == HASH_ENC_TABLE);
	struct hash_table *t = as_table(h);
	struct check_acc a = { 0, 0 };
	uint64_t cursor = 0;
	do {
		cursor = dict_scan(&t->d, cursor, check_node_cb, &a);
	} while (cursor != 0);
	kv_assert(a.count == dict_size(&t->d));
	kv_assert(a.bytes == t->node_bytes);
}
