/*
 * t_list.c - the list value type (see t_list.h for the model).
 *
 * Node data is a sequence of entries; each entry is
 *     header [payload] backlen
 * where the header says what follows:
 *     0xxxxxxx                 integer 0..127, no payload
 *     10llllll                 string of 0..63 bytes
 *     110vvvvv vvvvvvvv        13-bit signed integer (-4096..4095)
 *     1110llll llllllll        string of 64..4095 bytes
 *     0xf0 + 4-byte length     longer string (little endian)
 *     0xf1/0xf2/0xf3/0xf4      16/24/32/64-bit signed integer, little endian
 * and backlen is the size of header+payload in 7-bit groups written so that
 * it reads from right to left: the last byte holds the low 7 bits and has its
 * top bit set when another (more significant) byte sits before it.  An
 * element is stored as an integer only when its bytes are exactly the
 * decimal form of that integer, so every element reads back byte for byte.
 *
 * Memory: a node is one allocation (links, counts and data together); node
 * capacity grows by 1/8 beyond what an insert needs (capped at the node
 * limit) and is given back when a node is more than 1/8 empty.  Every
 * allocation is counted in l->mem as kv_heap_bytes, the store's rule.
 */
#include "store/t_list.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/alloc.h"
#include "base/kv.h"
#include "store/store.h"
#include "base/util_num.h"

struct list_node {
	struct list_node *prev, *next;
	uint32_t bytes;               /* used bytes of data */
	uint32_t count;               /* elements in data */
	unsigned char data[];
};

struct list {
	struct list_node *head, *tail;
	uint64_t count;
	size_t mem;
	size_t nodes;
};

#define NODE_HDR offsetof(struct list_node, data)
#define NODE_LIMIT LIST_NODE_MAX_BYTES
_Static_assert(NODE_HDR == 24, "node header is two links and two counters");

/* Registers the list type with the store when libkevy is loaded, so every
 * program that links list support frees and measures lists correctly. */
__attribute__((constructor)) static void list_type_register(void)
{
	store_register_type_free(KV_TYPE_LIST, list_free);
	store_register_type_mem(KV_TYPE_LIST, list_mem);
}

/* ---- entry encoding ---- */

struct enc {
	unsigned char hdr[9];
	unsigned hlen;
	const char *data;
	size_t dlen;
	size_t total;                 /* header + payload + backlen */
};

static unsigned backlen_size(size_t s)
{
	unsigned k = 1;
	while (s >= 128) {
		s >>= 7;
		k++;
	}
	return k;
}

static void put_le(unsigned char *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* True when p[0..n) is the canonical decimal form of an int64. */
static bool canonical_int(const char *p, size_t n, int64_t *v)
{
	char buf[FMT_INT64_MAX];
	if (n == 0 || n >= FMT_INT64_MAX)
		return false;
	struct kv_slice s = { p, n };
	if (!arg_to_int64(&s, v))
		return false;
	return fmt_int64(buf, *v) == n && memcmp(buf, p, n) == 0;
}

static void enc_prepare(struct enc *e, const void *p, size_t n)
{
	int64_t v;
	e->data = p;
	e->dlen = 0;
	if (canonical_int(p, n, &v)) {
		if (v >= 0 && v <= 127) {
			e->hdr[0] = (unsigned char)v;
			e->hlen = 1;
		} else if (v >= -4096 && v <= 4095) {
			uint32_t u = (uint32_t)v & 0x1fffu;
			e->hdr[0] = (unsigned char)(0xc0 | (u >> 8));
			e->hdr[1] = (unsigned char)(u & 0xff);
			e->hlen = 2;
		} else {
			unsigned w = v >= INT16_MIN && v <= INT16_MAX ? 2
				   : v >= -(1 << 23) && v < (1 << 23) ? 3
				   : v >= INT32_MIN && v <= INT32_MAX ? 4 : 8;
			e->hdr[0] = (unsigned char)(w == 2 ? 0xf1 : w == 3 ? 0xf2 : w == 4 ? 0xf3 : 0xf4);
			put_le(e->hdr + 1, (uint64_t)v, w);
			e->hlen = 1 + w;
		}
	} else {
		e->dlen = n;
		if (n < 64) {
			e->hdr[0] = (unsigned char)(0x80 | n);
			e->hlen = 1;
		} else if (n < 4096) {
			e->hdr[0] = (unsigned char)(0xe0 | (n >> 8));
			e->hdr[1] = (unsigned char)(n & 0xff);
			e->hlen = 2;
		} else {
			kv_assert(n <= UINT32_MAX);
			e->hdr[0] = 0xf0;
			put_le(e->hdr + 1, n, 4);
			e->hlen = 5;
		}
	}
	size_t s = e->hlen + e->dlen;
	e->total = s + backlen_size(s);
}

static void enc_write(unsigned char *dst, const struct enc *e)
{
	memcpy(dst, e->hdr, e->hlen);
	if (e->dlen)
		memcpy(dst + e->hlen, e->data, e->dlen);
	size_t s = e->hlen + e->dlen;
	unsigned k = backlen_size(s);
	unsigned char *b = dst + s;
	for (unsigned i = 0; i < k; i++) {
		unsigned char byte = (unsigned char)((s >> (7 * i)) & 127);
		if (i + 1 < k)
			byte |= 128;
		b[k - 1 - i] = byte;
	}
}

/* Size of header+payload of the entry at q. */
static size_t ent_body(const unsigned char *q)
{
	unsigned char b = q[0];
	if (b < 0x80)
		return 1;
	if (b < 0xc0)
		return 1 + (b & 0x3f);
	if (b < 0xe0)
		return 2;
	if (b < 0xf0)
		return 2 + (((size_t)(b & 0x0f) << 8) | q[1]);
	switch (b) {
	case 0xf0: return 5 + get_le(q + 1, 4);
	case 0xf1: return 3;
	case 0xf2: return 4;
	case 0xf3: return 5;
	case 0xf4: return 9;
	}
	kv_assert(!"bad list entry header");
	return 0;
}

/* Whole size of the entry at q, backlen included. */
static size_t ent_size(const unsigned char *q)
{
	size_t s = ent_body(q);
	return s + backlen_size(s);
}

/* Start of the entry that ends at data+end. */
static size_t ent_start_before(const unsigned char *data, size_t end)
{
	size_t v = 0, i = end;
	unsigned shift = 0;
	unsigned char b;
	do {
		b = data[--i];
		v |= (size_t)(b & 127) << shift;
		shift += 7;
	} while (b & 128);
	return i - v;
}

static int64_t sign_extend(uint64_t v, unsigned bits)
{
	uint64_t m = UINT64_C(1) << (bits - 1);
	return (int64_t)((v ^ m) - m);
}

static void ent_decode(const unsigned char *q, struct list_elem *out)
{
	unsigned char b = q[0];
	int64_t v;
	if (b < 0x80) {
		v = b;
	} else if (b < 0xc0) {
		out->ptr = (const char *)q + 1;
		out->len = b & 0x3f;
		return;
	} else if (b < 0xe0) {
		v = sign_extend(((uint64_t)(b & 0x1f) << 8) | q[1], 13);
	} else if (b < 0xf0) {
		out->ptr = (const char *)q + 2;
		out->len = ((size_t)(b & 0x0f) << 8) | q[1];
		return;
	} else if (b == 0xf0) {
		out->ptr = (const char *)q + 5;
		out->len = get_le(q + 1, 4);
		return;
	} else {
		unsigned w = b == 0xf1 ? 2 : b == 0xf2 ? 3 : b == 0xf3 ? 4 : 8;
		v = sign_extend(get_le(q + 1, w), 8 * w);
	}
	out->len = fmt_int64(out->ibuf, v);
	out->ptr = out->ibuf;
}

/* ---- nodes ---- */

static struct list_node *node_alloc(struct list *l, size_t cap)
{
	struct list_node *n = kv_malloc(NODE_HDR + cap);
	n->prev = n->next = NULL;
	n->bytes = 0;
	n->count = 0;
	l->mem += kv_heap_bytes(n);
	l->nodes++;
	return n;
}

static size_t node_cap(const struct list_node *n)
{
	return malloc_usable_size((void *)n) - NODE_HDR;
}

/* Links n after `prev` (NULL: at the head). */
static void node_link_after(struct list *l, struct list_node *prev, struct list_node *n)
{
	n->prev = prev;
	n->next = prev ? prev->next : l->head;
	if (n->next)
		n->next->prev = n;
	else
		l->tail = n;
	if (prev)
		prev->next = n;
	else
		l->head = n;
}

static void node_unlink_free(struct list *l, struct list_node *n)
{
	if (n->prev)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		l->tail = n->prev;
	l->mem -= kv_heap_bytes(n);
	l->nodes--;
	free(n);
}

/* Reallocates n to hold cap data bytes and repoints its neighbours. */
static struct list_node *node_realloc(struct list *l, struct list_node *n, size_t cap)
{
	size_t before = kv_heap_bytes(n);
	struct list_node *m = kv_realloc(n, NODE_HDR + cap);
	l->mem = l->mem - before + kv_heap_bytes(m);
	if (m != n) {
		if (m->prev)
			m->prev->next = m;
		else
			l->head = m;
		if (m->next)
			m->next->prev = m;
		else
			l->tail = m;
	}
	return m;
}

/* Makes room for `need` data bytes in n; may move it. */
static struct list_node *node_reserve(struct list *l, struct list_node *n, size_t need)
{
	if (node_cap(n) >= need)
		return n;
	size_t cap = need + need / 8;
	if (cap > NODE_LIMIT)
		cap = KV_MAX(need, (size_t)NODE_LIMIT);
	return node_realloc(l, n, cap);
}

/* Gives memory back when more than 1/8 of n (and at least 64 bytes) is unused. */
static struct list_node *node_shrink(struct list *l, struct list_node *n)
{
	size_t cap = node_cap(n);
	if (cap - n->bytes > 64 && cap - n->bytes > cap / 8)
		return node_realloc(l, n, n->bytes);
	return n;
}

/* Writes e at off in n (which must have room or be grown). */
static struct list_node *node_insert_raw(struct list *l, struct list_node *n, size_t off,
					 const struct enc *e)
{
	n = node_reserve(l, n, n->bytes + e->total);
	memmove(n->data + off + e->total, n->data + off, n->bytes - off);
	enc_write(n->data + off, e);
	n->bytes += (uint32_t)e->total;
	n->count++;
	l->count++;
	return n;
}

/* Removes `len` bytes holding `cnt` entries at off; frees n when emptied.
 * Returns n (possibly moved), or NULL when it was freed. */
static struct list_node *node_delete_raw(struct list *l, struct list_node *n, size_t off,
					 size_t len, uint32_t cnt)
{
	memmove(n->data + off, n->data + off + len, n->bytes - off - len);
	n->bytes -= (uint32_t)len;
	n->count -= cnt;
	l->count -= cnt;
	if (n->count == 0) {
		node_unlink_free(l, n);
		return NULL;
	}
	return node_shrink(l, n);
}

static struct list_node *node_new_with(struct list *l, struct list_node *prev,
				       const struct enc *e)
{
	struct list_node *m = node_alloc(l, e->total);
	node_link_after(l, prev, m);
	return node_insert_raw(l, m, 0, e);
}

/* Splits n at off: entries from off on move to a new node after n.
 * Returns n, which may have moved. */
static struct list_node *node_split(struct list *l, struct list_node *n, size_t off)
{
	uint32_t moved = 0;
	for (size_t p = off; p < n->bytes; p += ent_size(n->data + p))
		moved++;
	size_t len = n->bytes - off;
	struct list_node *m = node_alloc(l, len);
	memcpy(m->data, n->data + off, len);
	m->bytes = (uint32_t)len;
	m->count = moved;
	node_link_after(l, n, m);
	n->bytes = (uint32_t)off;
	n->count -= moved;
	return node_shrink(l, n);
}

/* Inserts e at byte offset off of node n (NULL only for an empty list),
 * keeping nodes within the limit: a full node passes the element to a
 * neighbour with room, gets a new neighbour, or is split. */
static void insert_at(struct list *l, struct list_node *n, size_t off, const struct enc *e)
{
	if (!n) {
		node_new_with(l, NULL, e);
		return;
	}
	if (n->bytes + e->total <= NODE_LIMIT) {
		node_insert_raw(l, n, off, e);
		return;
	}
	if (off == 0) {
		struct list_node *p = n->prev;
		if (p && p->bytes + e->total <= NODE_LIMIT)
			node_insert_raw(l, p, p->bytes, e);
		else
			node_new_with(l, p, e);
		return;
	}
	if (off == n->bytes) {
		struct list_node *x = n->next;
		if (x && x->bytes + e->total <= NODE_LIMIT)
			node_insert_raw(l, x, 0, e);
		else
			node_new_with(l, n, e);
		return;
	}
	n = node_split(l, n, off);
	insert_at(l, n, n->bytes, e);
}

/* Merges n->next into n when both fit in one node.  Returns true if merged. */
static bool node_try_merge(struct list *l, struct list_node **np)
{
	struct list_node *n = *np, *x = n->next;
	if (!x || (size_t)n->bytes + x->bytes > NODE_LIMIT)
		return false;
	uint32_t xb = x->bytes, xc = x->count;
	n = node_reserve(l, n, (size_t)n->bytes + xb);
	x = n->next;
	memcpy(n->data + n->bytes, x->data, xb);
	n->bytes += xb;
	n->count += xc;
	node_unlink_free(l, x);
	*np = n;
	return true;
}

void list_compact(struct list *l)
{
	for (struct list_node *n = l->head; n; n = n->next)
		while (node_try_merge(l, &n))
			;
}

/* ---- positions ---- */

struct list_pos {
	struct list_node *node;
	size_t off;                   /* start of the element in node->data */
};

/* Position of element index (0 <= index < count), walked from the nearer
 * end: whole nodes are skipped by count, then entries inside one node from
 * its nearer end. */
static struct list_pos list_seek(const struct list *l, uint64_t index)
{
	struct list_pos pos;
	struct list_node *n;
	uint64_t i;
	kv_assert(index < l->count);
	if (index < l->count / 2) {
		n = l->head;
		i = index;
		while (i >= n->count) {
			i -= n->count;
			n = n->next;
		}
	} else {
		uint64_t from_end = l->count - 1 - index;
		n = l->tail;
		while (from_end >= n->count) {
			from_end -= n->count;
			n = n->prev;
		}
		i = n->count - 1 - from_end;
	}
	pos.node = n;
	if (i <= n->count / 2) {
		size_t off = 0;
		while (i--)
			off += ent_size(n->data + off);
		pos.off = off;
	} else {
		size_t end = n->bytes;
		for (uint64_t k = n->count - i; k > 0; k--)
			end = ent_start_before(n->data, end);
		pos.off = end;
	}
	return pos;
}

/* Index in [0, count) for a Redis-style index, or false when out of range. */
static bool norm_index(const struct list *l, int64_t index, uint64_t *out)
{
	if (index < 0) {
		if ((uint64_t)-(index + 1) >= l->count)
			return false;
		*out = l->count - (uint64_t)-(index + 1) - 1;
	} else {
		if ((uint64_t)index >= l->count)
			return false;
		*out = (uint64_t)index;
	}
	return true;
}

/* ---- the list ---- */

struct list *list_new(void)
{
	struct list *l = kv_calloc(1, sizeof(*l));
	l->mem = kv_heap_bytes(l);
	return l;
}

void list_free(void *obj)
{
	struct list *l = obj;
	if (!l)
		return;
	struct list_node *n = l->head;
	while (n) {
		struct list_node *x = n->next;
		free(n);
		n = x;
	}
	free(l);
}

size_t list_mem(const void *obj)
{
	return ((const struct list *)obj)->mem;
}

uint64_t list_len(const struct list *l)
{
	return l->count;
}

size_t list_node_count(const struct list *l)
{
	return l->nodes;
}

size_t list_data_bytes(const struct list *l)
{
	size_t n = 0;
	for (const struct list_node *node = l->head; node; node = node->next)
		n += node->bytes;
	return n;
}

const char *list_encoding(const struct list *l)
{
	(void)l;
	return "quicklist";
}

void list_push(struct list *l, enum list_where where, const void *p, size_t n)
{
	struct enc e;
	enc_prepare(&e, p, n);
	if (where == LIST_HEAD)
		insert_at(l, l->head, 0, &e);
	else
		insert_at(l, l->tail, l->tail ? l->tail->bytes : 0, &e);
}

void list_pop(struct list *l, enum list_where where, struct kv_buf *dst)
{
	kv_assert(l->count > 0);
	struct list_node *n = where == LIST_HEAD ? l->head : l->tail;
	size_t off = where == LIST_HEAD ? 0 : ent_start_before(n->data, n->bytes);
	size_t len = ent_size(n->data + off);
	if (dst) {
		struct list_elem el;
		ent_decode(n->data + off, &el);
		kv_buf_append(dst, el.ptr, el.len);
	}
	node_delete_raw(l, n, off, len, 1);
}

bool list_index(struct list *l, int64_t index, struct list_elem *out)
{
	uint64_t i;
	if (!norm_index(l, index, &i))
		return false;
	struct list_pos pos = list_seek(l, i);
	ent_decode(pos.node->data + pos.off, out);
	return true;
}

bool list_set(struct list *l, int64_t index, const void *p, size_t n)
{
	uint64_t i;
	struct enc e;
	if (!norm_index(l, index, &i))
		return false;
	struct list_pos pos = list_seek(l, i);
	struct list_node *nd = pos.node;
	size_t old = ent_size(nd->data + pos.off);
	enc_prepare(&e, p, n);
	if (nd->count == 1 || nd->bytes - old + e.total <= NODE_LIMIT) {
		/* In place: the node stays within the limit (or holds only this). */
		size_t need = nd->bytes - old + e.total;
		if (e.total > old)
			nd = node_reserve(l, nd, need);
		memmove(nd->data + pos.off + e.total, nd->data + pos.off + old,
			nd->bytes - pos.off - old);
		enc_write(nd->data + pos.off, &e);
		nd->bytes = (uint32_t)need;
		if (e.total < old)
			node_shrink(l, nd);
		return true;
	}
	/* The node has other elements, so it survives the deletion. */
	nd = node_delete_raw(l, nd, pos.off, old, 1);
	insert_at(l, nd, pos.off, &e);
	return true;
}

void list_delete_range(struct list *l, uint64_t start, uint64_t count)
{
	kv_assert(start <= l->count && count <= l->count - start);
	if (count == 0)
		return;
	struct list_pos pos = list_seek(l, start);
	struct list_node *n = pos.node;
	size_t off = pos.off;
	while (count > 0) {
		struct list_node *next = n->next;
		if (off == 0 && n->count <= count) {
			count -= n->count;
			l->count -= n->count;
			node_unlink_free(l, n);
		} else {
			size_t end = off;
			uint32_t k = 0;
			while (end < n->bytes && k < count) {
				end += ent_size(n->data + end);
				k++;
			}
			count -= k;
			node_delete_raw(l, n, off, end - off, k);
		}
		n = next;
		off = 0;
	}
}

/* ---- iteration ---- */

void list_iter_init(struct list_iter *it, struct list *l, uint64_t index, bool forward)
{
	it->l = l;
	it->forward = forward;
	it->cur_node = NULL;
	it->cur_off = 0;
	if (index >= l->count) {
		it->node = NULL;
		it->off = 0;
		return;
	}
	struct list_pos pos = list_seek(l, index);
	it->node = pos.node;
	it->off = (uint32_t)(forward ? pos.off : pos.off + ent_size(pos.node->data + pos.off));
}

bool list_iter_next(struct list_iter *it, struct list_elem *out)
{
	struct list_node *n = it->node;
	if (!n)
		return false;
	if (it->forward) {
		if (it->off >= n->bytes) {
			n = it->node = n->next;
			it->off = 0;
			if (!n)
				return false;
		}
		it->cur_node = n;
		it->cur_off = it->off;
		ent_decode(n->data + it->off, out);
		it->off += (uint32_t)ent_size(n->data + it->off);
	} else {
		if (it->off == 0) {
			n = it->node = n->prev;
			if (!n)
				return false;
			it->off = n->bytes;
		}
		size_t start = ent_start_before(n->data, it->off);
		it->cur_node = n;
		it->cur_off = (uint32_t)start;
		ent_decode(n->data + start, out);
		it->off = (uint32_t)start;
	}
	return true;
}

void list_iter_delete(struct list_iter *it)
{
	struct list_node *n = it->cur_node;
	kv_assert(n);
	struct list_node *prev = n->prev, *next = n->next;
	size_t len = ent_size(n->data + it->cur_off);
	n = node_delete_raw(it->l, n, it->cur_off, len, 1);
	it->cur_node = NULL;
	if (n) {
		/* Forward: the next element slid into cur_off.  Backward: the
		 * previous element still ends at cur_off. */
		it->node = n;
		it->off = it->cur_off;
	} else if (it->forward) {
		it->node = next;
		it->off = 0;
	} else {
		it->node = prev;
		it->off = prev ? prev->bytes : 0;
	}
}

void list_iter_insert(struct list_iter *it, bool after, const void *p, size_t n)
{
	struct enc e;
	kv_assert(it->cur_node);
	struct list_node *nd = it->cur_node;
	size_t off = it->cur_off;
	if (after)
		off += ent_size(nd->data + off);
	enc_prepare(&e, p, n);
	insert_at(it->l, nd, off, &e);
	it->node = it->cur_node = NULL;
}

int list_foreach(const void *obj, list_elem_fn fn, void *arg)
{
	const struct list *l = obj;
	struct list_elem el;
	for (const struct list_node *n = l->head; n; n = n->next) {
		for (size_t off = 0; off < n->bytes; off += ent_size(n->data + off)) {
			ent_decode(n->data + off, &el);
			int r = fn(arg, el.ptr, el.len);
			if (r)
				return r;
		}
	}
	return 0;
}

int list_verify(const struct list *l)
{
	uint64_t count = 0;
	size_t nodes = 0, mem = kv_heap_bytes(l);
	const struct list_node *prev = NULL;
	if ((l->head == NULL) != (l->count == 0) || (l->tail == NULL) != (l->count == 0))
		return -__LINE__;
	for (const struct list_node *n = l->head; n; prev = n, n = n->next) {
		if (n->prev != prev || n->count == 0 || n->bytes > node_cap(n))
			return -__LINE__;
		if (n->count > 1 && n->bytes > NODE_LIMIT)
			return -__LINE__;
		uint32_t k = 0;
		size_t off = 0;
		while (off < n->bytes) {
			size_t sz = ent_size(n->data + off);
			if (off + sz > n->bytes)
				return -__LINE__;
			if (ent_start_before(n->data, off + sz) != off)
				return -__LINE__;
			off += sz;
			k++;
		}
		if (off != n->bytes || k != n->count)
			return -__LINE__;
		count += k;
		nodes++;
		mem += kv_heap_bytes(n);
	}
	if (prev != l->tail || count != l->count || nodes != l->nodes || mem != l->mem)
		return -__LINE__;
	return 0;
}
