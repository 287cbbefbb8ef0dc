/*
 * t_zset.c - the sorted set type (t_zset.h): a packed array for small zsets,
 * a skiplist with spans plus an intrusive dict for large ones.
 *
 * Packed encoding ("listpack"): the object is ONE heap chunk, a 4-byte
 * header (encoding, count, bytes) followed by the entries sorted by
 * (score, member), each
 *
 *   mlen   u8         member length (<= ZSET_PACKED_MAX_VALUE)
 *   member mlen bytes
 *   stag   u8         0: int8, 1: int16, 2: int32, 3: double (8 bytes);
 *                     4..255: the integer score stag - 16 itself (-12..239)
 *   score  0/1/2/4/8 bytes, little-endian (host order for the double)
 *
 * so a member with a small integer score costs mlen + 2 bytes (Redis's
 * listpack: mlen + 4).  -0.0 is stored as 0, as Redis's listpack (which keeps
 * the score as text and reads "-0" back as the integer 0) does.
 *
 * Skiplist encoding: the classic skiplist (p = 1/4, at most 32 levels) whose
 * levels carry spans, so rank and "element at rank" are O(log n).  Each node
 * is ONE allocation holding the dict chain pointer, the score, the backward
 * link, the levels and the member bytes; the dict (dict.h, keyed by the
 * member bytes inside the node) gives O(1) member -> node lookup at 8 bytes
 * per member plus the bucket array.  Redis spends a node, an sds and a dict
 * entry per member.
 *
 * Because a packed zset is one chunk, growing it past its chunk's usable
 * size (or converting it) makes a new object; zset_add reports that
 * (ZADD_OUT_MOVED) and the command hands the new object to the store, which
 * frees the old one.  Removals compact in place and never move it.
 *
 * Measured against redis-server 7.0.15 used_memory (glibc here, jemalloc
 * there): 1M members "member:N" in one zset: 93.8 vs 109.8 bytes/member;
 * 100k zsets of 10 such members: 171 vs 202 bytes/zset (key included).
 *
 * Memory is accounted like store.c: malloc_usable_size plus the allocator's
 * chunk header per allocation.  The figure is recomputed (O(1)) at the end of
 * every mutating call and cached, so a read that lets the dict finish a
 * rehash does not change what the store was told.
 */
#include "store/t_zset.h"

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/dict.h"
#include "base/alloc.h"
#include "base/kv.h"
#include "store/store.h"
#include "store/encoding.h"

#define ZSL_MAX_LEVEL 32
#define ZSET_DICT_SEED 0x7a7365742e6b6579ULL   /* "zset.key" */

enum { ENC_PACKED = 0, ENC_SKIPLIST = 1 };
enum { STAG_I8 = 0, STAG_I16 = 1, STAG_I32 = 2, STAG_DBL = 3, STAG_IMM = 4 };
#define STAG_IMM_BIAS 16
#define STAG_IMM_MIN (STAG_IMM - STAG_IMM_BIAS)
#define STAG_IMM_MAX (255 - STAG_IMM_BIAS)

struct zsl_node;
struct zsl_level {
	struct zsl_node *fwd;
	uint64_t span;
};
struct zsl_node {
	struct dict_node dn;        /* first: a dict node pointer is a node pointer */
	double score;
	struct zsl_node *back;
	uint32_t mlen;
	uint8_t height;
	struct zsl_level lv[];      /* height levels, then the member bytes */
};
_Static_assert(offsetof(struct zsl_node, dn) == 0, "dict node first");

struct zsl {
	struct dict dict;
	struct zsl_node *header, *tail;
	uint64_t length;
	int level;
	uint64_t rng;
	size_t node_bytes;          /* heap bytes of all member nodes */
};

/* A zset object starts with this header.  Packed: the entries follow it in
 * the same allocation (one heap chunk per small zset).  Skiplist: the
 * object is a struct zset_sl. */
struct zset {
	uint8_t enc;
	uint8_t count;              /* packed: entries (<= ZSET_PACKED_MAX_ENTRIES, 255) */
	uint16_t bytes;             /* packed: bytes of entries */
	unsigned char data[];       /* packed: the entries */
};

struct zset_sl {
	struct zset hdr;
	size_t mem;                 /* cached accounting (see refresh_mem) */
	struct zsl *sl;
};

#define SL(z) (((struct zset_sl *)(z))->sl)
#define CSL(z) (((const struct zset_sl *)(z))->sl)

static inline const char *node_member(const struct zsl_node *n)
{
	return (const char *)(n->lv + n->height);
}

static struct kv_slice node_key(const struct dict_node *dn)
{
	const struct zsl_node *n = (const struct zsl_node *)dn;
	return (struct kv_slice){ node_member(n), n->mlen };
}

static const struct dict_type zset_dict_type = { node_key };

/* Redis's member order: bytes compared as unsigned, a prefix first. */
static int mem_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int r = n ? memcmp(a, b, n) : 0;
	if (r)
		return r;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* (s1, m1) < (s2, m2) in zset order: < 0, 0, > 0. */
static int elem_cmp(double s1, const char *m1, size_t l1, double s2,
		    const char *m2, size_t l2)
{
	if (s1 < s2)
		return -1;
	if (s1 > s2)
		return 1;
	return mem_cmp(m1, l1, m2, l2);
}

static void refresh_mem(struct zset *z)
{
	/* A packed zset is one chunk whose size changes only when it moves. */
	if (z->enc == ENC_PACKED)
		return;
	struct zsl *sl = SL(z);
	((struct zset_sl *)z)->mem = kv_heap_bytes(z) + kv_heap_bytes(sl) +
				     kv_heap_bytes(sl->header) + sl->node_bytes +
				     dict_mem_bytes(&sl->dict);
}

/* ------------------------------------------------------------------ */
/* packed encoding                                                      */

static size_t stag_bytes(unsigned tag)
{
	static const unsigned char n[4] = { 1, 2, 4, 8 };
	return tag >= STAG_IMM ? 0 : n[tag];
}

struct pk_elem {
	const char *m;
	size_t mlen;
	double score;
	size_t size;                /* bytes of the whole entry */
};

static void pk_decode(const unsigned char *p, struct pk_elem *e)
{
	size_t mlen = p[0];
	const unsigned char *s = p + 1 + mlen;
	unsigned tag = s[0];
	e->m = (const char *)p + 1;
	e->mlen = mlen;
	switch (tag) {
	case STAG_I8: e->score = (int8_t)s[1]; break;
	case STAG_I16: e->score = (int16_t)(uint16_t)(s[1] | s[2] << 8); break;
	case STAG_I32: {
		uint32_t v = (uint32_t)s[1] | (uint32_t)s[2] << 8 |
			     (uint32_t)s[3] << 16 | (uint32_t)s[4] << 24;
		e->score = (int32_t)v;
		break;
	}
	case STAG_DBL: memcpy(&e->score, s + 1, 8); break;
	default: e->score = (int)tag - STAG_IMM_BIAS; break;
	}
	e->size = 1 + mlen + 1 + stag_bytes(tag);
}

/* Encodes the score part; returns its length (tag included). */
static size_t pk_enc_score(unsigned char *out, double score)
{
	if (score >= -2147483648.0 && score <= 2147483647.0 &&
	    score == (double)(int32_t)score) {
		int32_t v = (int32_t)score;
		if (v >= STAG_IMM_MIN && v <= STAG_IMM_MAX) {
			out[0] = (unsigned char)(v + STAG_IMM_BIAS);
			return 1;
		}
		if (v >= -128 && v <= 127) {
			out[0] = STAG_I8;
			out[1] = (unsigned char)(int8_t)v;
			return 2;
		}
		if (v >= -32768 && v <= 32767) {
			out[0] = STAG_I16;
			out[1] = (unsigned char)(v & 0xff);
			out[2] = (unsigned char)((uint16_t)v >> 8);
			return 3;
		}
		uint32_t u = (uint32_t)v;
		out[0] = STAG_I32;
		for (int i = 0; i < 4; i++)
			out[1 + i] = (unsigned char)(u >> (8 * i));
		return 5;
	}
	out[0] = STAG_DBL;
	memcpy(out + 1, &score, 8);
	return 9;
}

/* Offset of the entry holding member m, or -1. */
static long pk_find(const struct zset *z, const char *m, size_t mlen, struct pk_elem *e)
{
	size_t off = 0;
	while (off < z->bytes) {
		pk_decode(z->data + off, e);
		if (e->mlen == mlen && (mlen == 0 || memcmp(e->m, m, mlen) == 0))
			return (long)off;
		off += e->size;
	}
	return -1;
}

static void pk_delete_at(struct zset *z, size_t off, size_t size)
{
	memmove(z->data + off, z->data + off + size, z->bytes - off - size);
	z->bytes = (uint16_t)(z->bytes - size);
	z->count--;
}

/* Inserts in place when the chunk has room, else into a new copy: then *zp
 * is the copy and the old object is left as it was (the caller disposes of
 * it, so the store can free it when handed the new one). */
static void pk_insert(struct zset **zp, double score, const char *m, size_t mlen)
{
	struct zset *z = *zp;
	unsigned char sc[9];
	if (score == 0)
		score = 0.0;        /* no -0 in the packed form, as Redis */
	size_t slen = pk_enc_score(sc, score);
	size_t need = 1 + mlen + slen;
	size_t off = 0;
	struct pk_elem e;
	while (off < z->bytes) {
		pk_decode(z->data + off, &e);
		if (elem_cmp(e.score, e.m, e.mlen, score, m, mlen) > 0)
			break;
		off += e.size;
	}
	size_t room = malloc_usable_size(z) - sizeof(*z);
	if (room < (size_t)z->bytes + need) {
		struct zset *nz = kv_malloc(sizeof(*nz) + z->bytes + need);
		memcpy(nz, z, sizeof(*nz) + off);
		memcpy(nz->data + off + need, z->data + off, z->bytes - off);
		*zp = z = nz;
	} else {
		memmove(z->data + off + need, z->data + off, z->bytes - off);
	}
	unsigned char *p = z->data + off;
	p[0] = (unsigned char)mlen;
	if (mlen)
		memcpy(p + 1, m, mlen);
	memcpy(p + 1 + mlen, sc, slen);
	z->bytes = (uint16_t)(z->bytes + need);
	z->count++;
}

/* ------------------------------------------------------------------ */
/* skiplist                                                             */

static struct zsl_node *zsl_node_new(struct zsl *sl, int height, double score,
				     const char *m, size_t mlen)
{
	struct zsl_node *n = kv_malloc(sizeof(*n) + (size_t)height * sizeof(struct zsl_level) + mlen);
	n->dn.next = NULL;
	n->score = score;
	n->back = NULL;
	n->mlen = (uint32_t)mlen;
	n->height = (uint8_t)height;
	if (mlen)
		memcpy((char *)node_member(n), m, mlen);
	if (sl)
		sl->node_bytes += kv_heap_bytes(n);
	return n;
}

static struct zsl *zsl_new(void)
{
	struct zsl *sl = kv_calloc(1, sizeof(*sl));
	dict_init(&sl->dict, &zset_dict_type, ZSET_DICT_SEED);
	sl->header = zsl_node_new(NULL, ZSL_MAX_LEVEL, 0, NULL, 0);
	for (int i = 0; i < ZSL_MAX_LEVEL; i++) {
		sl->header->lv[i].fwd = NULL;
		sl->header->lv[i].span = 0;
	}
	sl->level = 1;
	sl->rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)sl;
	return sl;
}

static int zsl_random_level(struct zsl *sl)
{
	uint64_t x = sl->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	sl->rng = x;
	x *= 0x2545F4914F6CDD1DULL;
	/* Two random bits per level: promote with probability 1/4. */
	int level = 1;
	while (level < ZSL_MAX_LEVEL && (x & 3) == 0) {
		level++;
		x >>= 2;
	}
	return level;
}

/* Links an allocated node (its height set) at its place in the order. */
static void zsl_link(struct zsl *sl, struct zsl_node *n)
{
	struct zsl_node *update[ZSL_MAX_LEVEL];
	uint64_t rank[ZSL_MAX_LEVEL];
	struct zsl_node *x = sl->header;
	const char *m = node_member(n);
	for (int i = sl->level - 1; i >= 0; i--) {
		rank[i] = i == sl->level - 1 ? 0 : rank[i + 1];
		while (x->lv[i].fwd &&
		       elem_cmp(x->lv[i].fwd->score, node_member(x->lv[i].fwd),
				x->lv[i].fwd->mlen, n->score, m, n->mlen) < 0) {
			rank[i] += x->lv[i].span;
			x = x->lv[i].fwd;
		}
		update[i] = x;
	}
	int level = n->height;
	if (level > sl->level) {
		for (int i = sl->level; i < level; i++) {
			rank[i] = 0;
			update[i] = sl->header;
			update[i]->lv[i].span = sl->length;
		}
		sl->level = level;
	}
	for (int i = 0; i < level; i++) {
		n->lv[i].fwd = update[i]->lv[i].fwd;
		update[i]->lv[i].fwd = n;
		n->lv[i].span = update[i]->lv[i].span - (rank[0] - rank[i]);
		update[i]->lv[i].span = rank[0] - rank[i] + 1;
	}
	for (int i = level; i < sl->level; i++)
		update[i]->lv[i].span++;
	n->back = update[0] == sl->header ? NULL : update[0];
	if (n->lv[0].fwd)
		n->lv[0].fwd->back = n;
	else
		sl->tail = n;
	sl->length++;
}

/* Unlinks node n from the order (not from the dict). */
static void zsl_unlink(struct zsl *sl, struct zsl_node *n)
{
	struct zsl_node *update[ZSL_MAX_LEVEL] = { 0 };
	struct zsl_node *x = sl->header;
	const char *m = node_member(n);
	for (int i = sl->level - 1; i >= 0; i--) {
		while (x->lv[i].fwd && x->lv[i].fwd != n &&
		       elem_cmp(x->lv[i].fwd->score, node_member(x->lv[i].fwd),
				x->lv[i].fwd->mlen, n->score, m, n->mlen) < 0)
			x = x->lv[i].fwd;
		update[i] = x;
	}
	kv_assert(update[0]->lv[0].fwd == n);
	for (int i = 0; i < sl->level; i++) {
		if (update[i]->lv[i].fwd == n) {
			update[i]->lv[i].span += n->lv[i].span - 1;
			update[i]->lv[i].fwd = n->lv[i].fwd;
		} else {
			update[i]->lv[i].span--;
		}
	}
	if (n->lv[0].fwd)
		n->lv[0].fwd->back = n->back;
	else
		sl->tail = n->back;
	while (sl->level > 1 && !sl->header->lv[sl->level - 1].fwd)
		sl->level--;
	sl->length--;
}

/* Node at 1-based rank, or NULL. */
static struct zsl_node *zsl_at_rank(const struct zsl *sl, uint64_t rank)
{
	const struct zsl_node *x = sl->header;
	uint64_t traversed = 0;
	for (int i = sl->level - 1; i >= 0; i--) {
		while (x->lv[i].fwd && traversed + x->lv[i].span <= rank) {
			traversed += x->lv[i].span;
			x = x->lv[i].fwd;
		}
		if (traversed == rank)
			return (struct zsl_node *)x;
	}
	return NULL;
}

/* 1-based rank of node n. */
static uint64_t zsl_rank_of(const struct zsl *sl, const struct zsl_node *n)
{
	const struct zsl_node *x = sl->header;
	uint64_t rank = 0;
	const char *m = node_member(n);
	for (int i = sl->level - 1; i >= 0; i--) {
		while (x->lv[i].fwd &&
		       elem_cmp(x->lv[i].fwd->score, node_member(x->lv[i].fwd),
				x->lv[i].fwd->mlen, n->score, m, n->mlen) <= 0) {
			rank += x->lv[i].span;
			x = x->lv[i].fwd;
		}
		if (x == n)
			return rank;
	}
	kv_assert(0);
}

static void zsl_free_node_cb(void *arg, struct dict_node *dn)
{
	(void)arg;
	free(dn);
}

static void zsl_free(struct zsl *sl)
{
	dict_clear(&sl->dict, zsl_free_node_cb, NULL);
	free(sl->header);
	free(sl);
}

static void zsl_insert_new(struct zsl *sl, double score, const char *m, size_t mlen)
{
	struct zsl_node *n = zsl_node_new(sl, zsl_random_level(sl), score, m, mlen);
	zsl_link(sl, n);
	dict_add(&sl->dict, &n->dn);
}

static void zsl_delete_node(struct zsl *sl, struct zsl_node *n)
{
	struct dict_node **link = dict_link_of(&sl->dict, &n->dn);
	kv_assert(link);
	dict_unlink_at(&sl->dict, link);
	zsl_unlink(sl, n);
	sl->node_bytes -= kv_heap_bytes(n);
	free(n);
}

static struct zsl_node *zsl_find(struct zsl *sl, const char *m, size_t mlen)
{
	return (struct zsl_node *)dict_find(&sl->dict, m, mlen);
}

/* A skiplist object holding the packed zset's elements; the packed object
 * is left untouched. */
static struct zset *zset_convert(const struct zset *z)
{
	struct zset *nz = zset_new_skiplist();
	size_t off = 0;
	struct pk_elem e;
	while (off < z->bytes) {
		pk_decode(z->data + off, &e);
		zsl_insert_new(SL(nz), e.score, e.m, e.mlen);
		off += e.size;
	}
	refresh_mem(nz);
	return nz;
}

/* ------------------------------------------------------------------ */
/* public API                                                           */

struct zset *zset_new_for(size_t n)
{
	return n > kv_encoding_limit(&kv_encoding.zset_max_listpack_entries,
				     ZSET_PACKED_MAX_ENTRIES) ? zset_new_skiplist() : zset_new();
}

struct zset *zset_new(void)
{
	struct zset *z = kv_malloc(sizeof(*z));
	z->enc = ENC_PACKED;
	z->count = 0;
	z->bytes = 0;
	return z;
}

struct zset *zset_new_skiplist(void)
{
	struct zset_sl *zs = kv_calloc(1, sizeof(*zs));
	zs->hdr.enc = ENC_SKIPLIST;
	zs->sl = zsl_new();
	refresh_mem(&zs->hdr);
	return &zs->hdr;
}

void zset_pack_if_fits(struct zset **zp)
{
	struct zset *z = *zp;
	if (z->enc != ENC_SKIPLIST ||
	    SL(z)->length > kv_encoding_limit(&kv_encoding.zset_max_listpack_entries,
					      ZSET_PACKED_MAX_ENTRIES))
		return;
	uint64_t max_value = kv_encoding_limit(&kv_encoding.zset_max_listpack_value,
					       ZSET_PACKED_MAX_VALUE);
	const struct zsl_node *n;
	for (n = SL(z)->header->lv[0].fwd; n; n = n->lv[0].fwd)
		if (n->mlen > max_value)
			return;
	struct zset *nz = zset_new();
	/* Ascending order: each insert lands at the end. */
	for (n = SL(z)->header->lv[0].fwd; n; n = n->lv[0].fwd) {
		struct zset *prev = nz;
		pk_insert(&nz, n->score, node_member(n), n->mlen);
		if (nz != prev)
			free(prev);
	}
	zset_free(z);
	*zp = nz;
}

void zset_free(void *p)
{
	struct zset *z = p;
	if (!z)
		return;
	if (z->enc == ENC_SKIPLIST)
		zsl_free(SL(z));
	free(z);
}

size_t zset_mem(const void *p)
{
	const struct zset *z = p;
	return z->enc == ENC_PACKED ? kv_heap_bytes(z)
				    : ((const struct zset_sl *)z)->mem;
}

size_t zset_len(const struct zset *z)
{
	return z->enc == ENC_PACKED ? z->count : (size_t)CSL(z)->length;
}

const char *zset_encoding(const struct zset *z)
{
	return z->enc == ENC_PACKED ? "listpack" : "skiplist";
}

void zset_register_type(void)
{
	store_register_type_free(KV_TYPE_ZSET, zset_free);
	store_register_type_mem(KV_TYPE_ZSET, zset_mem);
}

bool zset_score(struct zset *z, const char *m, size_t mlen, double *score)
{
	if (z->enc == ENC_PACKED) {
		struct pk_elem e;
		if (pk_find(z, m, mlen, &e) < 0)
			return false;
		*score = e.score;
		return true;
	}
	struct zsl_node *n = zsl_find(SL(z), m, mlen);
	if (!n)
		return false;
	*score = n->score;
	return true;
}

int zset_add(struct zset **zp, double score, const char *m, size_t mlen,
	     int in_flags, double *newscore)
{
	struct zset *z = *zp;
	bool incr = in_flags & ZADD_IN_INCR, nx = in_flags & ZADD_IN_NX,
	     xx = in_flags & ZADD_IN_XX, gt = in_flags & ZADD_IN_GT,
	     lt = in_flags & ZADD_IN_LT;
	double cur;
	int out = 0;
	bool exists;
	long off = -1;
	struct pk_elem e;
	struct zsl_node *n = NULL;

	if (z->enc == ENC_PACKED) {
		off = pk_find(z, m, mlen, &e);
		exists = off >= 0;
		cur = exists ? e.score : 0;
	} else {
		n = zsl_find(SL(z), m, mlen);
		exists = n != NULL;
		cur = exists ? n->score : 0;
	}
	if (exists) {
		if (nx)
			return ZADD_OUT_NOP;
		if (incr) {
			score += cur;
			if (isnan(score))
				return ZADD_OUT_NAN;
		}
		if ((lt && score >= cur) || (gt && score <= cur)) {
			if (newscore)
				*newscore = cur;
			return ZADD_OUT_NOP;
		}
		if (newscore)
			*newscore = score;
		if (score == cur && (!(in_flags & ZADD_IN_EXACT) ||
				     signbit(score) == signbit(cur)))
			return 0;
		if (z->enc == ENC_PACKED) {
			pk_delete_at(z, (size_t)off, e.size);
			pk_insert(zp, score, m, mlen);
			if (*zp != z)
				out |= ZADD_OUT_MOVED;
			z = *zp;
		} else {
			struct zsl *sl = SL(z);
			/* Stays in place when its neighbours still bracket it. */
			bool in_place = (!n->back || elem_cmp(n->back->score, node_member(n->back),
				n->back->mlen, score, m, mlen) < 0) &&
				(!n->lv[0].fwd || elem_cmp(n->lv[0].fwd->score,
				node_member(n->lv[0].fwd), n->lv[0].fwd->mlen, score, m, mlen) > 0);
			if (in_place) {
				n->score = score;
			} else {
				zsl_unlink(sl, n);
				n->score = score;
				zsl_link(sl, n);
			}
		}
		out |= ZADD_OUT_UPDATED;
	} else {
		if (xx)
			return ZADD_OUT_NOP;
		if (newscore)
			*newscore = score;
		if (z->enc == ENC_PACKED &&
		    (z->count + 1u > kv_encoding_limit(&kv_encoding.zset_max_listpack_entries,
						       ZSET_PACKED_MAX_ENTRIES) ||
		     mlen > kv_encoding_limit(&kv_encoding.zset_max_listpack_value,
					      ZSET_PACKED_MAX_VALUE)))
			*zp = zset_convert(z);
		if ((*zp)->enc == ENC_PACKED)
			pk_insert(zp, score, m, mlen);
		else
			zsl_insert_new(SL(*zp), score, m, mlen);
		out = ZADD_OUT_ADDED | (*zp != z ? ZADD_OUT_MOVED : 0);
		z = *zp;
	}
	refresh_mem(z);
	return out;
}

bool zset_del(struct zset *z, const char *m, size_t mlen)
{
	if (z->enc == ENC_PACKED) {
		struct pk_elem e;
		long off = pk_find(z, m, mlen, &e);
		if (off < 0)
			return false;
		pk_delete_at(z, (size_t)off, e.size);
	} else {
		struct zsl_node *n = zsl_find(SL(z), m, mlen);
		if (!n)
			return false;
		zsl_delete_node(SL(z), n);
	}
	refresh_mem(z);
	return true;
}

int64_t zset_rank(struct zset *z, const char *m, size_t mlen, bool rev, double *score)
{
	size_t len = zset_len(z);
	uint64_t r;
	if (z->enc == ENC_PACKED) {
		size_t off = 0;
		struct pk_elem e;
		for (r = 0; off < z->bytes; r++) {
			pk_decode(z->data + off, &e);
			if (e.mlen == mlen && (mlen == 0 || memcmp(e.m, m, mlen) == 0))
				break;
			off += e.size;
		}
		if (off >= z->bytes)
			return -1;
		if (score)
			*score = e.score;
	} else {
		struct zsl_node *n = zsl_find(SL(z), m, mlen);
		if (!n)
			return -1;
		r = zsl_rank_of(SL(z), n) - 1;
		if (score)
			*score = n->score;
	}
	return (int64_t)(rev ? len - 1 - r : r);
}

/* ---- ranges: how many elements satisfy a prefix predicate ---- */

typedef bool (*prefix_pred)(const void *ctx, const char *m, size_t mlen, double s);

static size_t count_prefix(const struct zset *z, prefix_pred pred, const void *ctx)
{
	if (z->enc == ENC_PACKED) {
		size_t off = 0, n = 0;
		struct pk_elem e;
		while (off < z->bytes) {
			pk_decode(z->data + off, &e);
			if (!pred(ctx, e.m, e.mlen, e.score))
				break;
			n++;
			off += e.size;
		}
		return n;
	}
	const struct zsl *sl = CSL(z);
	const struct zsl_node *x = sl->header;
	size_t traversed = 0;
	for (int i = sl->level - 1; i >= 0; i--) {
		while (x->lv[i].fwd && pred(ctx, node_member(x->lv[i].fwd),
					    x->lv[i].fwd->mlen, x->lv[i].fwd->score)) {
			traversed += x->lv[i].span;
			x = x->lv[i].fwd;
		}
	}
	return traversed;
}

static bool score_below_min(const void *ctx, const char *m, size_t mlen, double s)
{
	const struct zset_score_range *r = ctx;
	(void)m; (void)mlen;
	return r->minex ? s <= r->min : s < r->min;
}

static bool score_within_max(const void *ctx, const char *m, size_t mlen, double s)
{
	const struct zset_score_range *r = ctx;
	(void)m; (void)mlen;
	return r->maxex ? s < r->max : s <= r->max;
}

static size_t span_result(size_t len, size_t below, size_t within, bool rev,
			  size_t *first_rank)
{
	if (within <= below) {
		*first_rank = 0;
		return 0;
	}
	*first_rank = rev ? len - within : below;
	return within - below;
}

size_t zset_score_span(struct zset *z, const struct zset_score_range *r,
		       bool rev, size_t *first_rank)
{
	if (r->min > r->max || (r->min == r->max && (r->minex || r->maxex))) {
		*first_rank = 0;
		return 0;
	}
	size_t below = count_prefix(z, score_below_min, r);
	size_t within = count_prefix(z, score_within_max, r);
	return span_result(zset_len(z), below, within, rev, first_rank);
}

static int lex_cmp_bound(const char *m, size_t mlen, const struct zset_lex_bound *b)
{
	if (b->inf < 0)
		return 1;
	if (b->inf > 0)
		return -1;
	return mem_cmp(m, mlen, b->s.ptr, b->s.len);
}

static bool lex_below_min(const void *ctx, const char *m, size_t mlen, double s)
{
	const struct zset_lex_range *r = ctx;
	(void)s;
	int c = lex_cmp_bound(m, mlen, &r->min);
	return c < 0 || (c == 0 && r->min.ex);
}

static bool lex_within_max(const void *ctx, const char *m, size_t mlen, double s)
{
	const struct zset_lex_range *r = ctx;
	(void)s;
	int c = lex_cmp_bound(m, mlen, &r->max);
	return c < 0 || (c == 0 && !r->max.ex);
}

/* Redis's zslIsInLexRange: an empty interval, or one that misses the
 * whole zset, holds nothing. */
static bool lex_range_possible(const struct zset *z, const struct zset_lex_range *r)
{
	if (r->min.inf > 0 || r->max.inf < 0)
		return false;
	if (r->min.inf == 0 && r->max.inf == 0) {
		int c = mem_cmp(r->min.s.ptr, r->min.s.len, r->max.s.ptr, r->max.s.len);
		if (c > 0 || (c == 0 && (r->min.ex || r->max.ex)))
			return false;
	}
	return zset_len(z) > 0;
}

/* The element at ascending rank i (packed: linear). */
static void elem_at(const struct zset *z, size_t i, struct kv_slice *m, double *s)
{
	struct zset_iter *it = kv_malloc(sizeof(*it));
	zset_iter_init(z, it, i, false);
	bool ok = zset_iter_next(it, m, s);
	kv_assert(ok);
	free(it);
}

/* Lex ranges assume equal scores; with mixed scores the predicates are not
 * monotone and Redis's answer depends on how it walks.  Like Redis: find the
 * first element not below min (last element within max when rev), then take
 * elements while they stay within the other bound. */
size_t zset_lex_span(struct zset *z, const struct zset_lex_range *r,
		     bool rev, size_t offset, size_t *first_rank)
{
	size_t len = zset_len(z), start, count = 0;
	struct kv_slice m;
	double s;
	*first_rank = 0;
	if (!lex_range_possible(z, r))
		return 0;
	/* Redis first checks that the tail is not below min and the head is
	 * within max. */
	elem_at(z, len - 1, &m, &s);
	if (lex_below_min(r, m.ptr, m.len, s))
		return 0;
	elem_at(z, 0, &m, &s);
	if (!lex_within_max(r, m.ptr, m.len, s))
		return 0;
	struct zset_iter *it = kv_malloc(sizeof(*it));
	if (!rev) {
		if (z->enc == ENC_PACKED) {
			zset_iter_init(z, it, 0, false);
			for (start = 0; zset_iter_next(it, &m, &s); start++)
				if (!lex_below_min(r, m.ptr, m.len, s))
					break;
		} else {
			start = count_prefix(z, lex_below_min, r);
		}
		if (start >= len || offset >= len - start)
			goto out;
		start += offset;
		zset_iter_init(z, it, start, false);
		while (zset_iter_next(it, &m, &s) && lex_within_max(r, m.ptr, m.len, s))
			count++;
		*first_rank = start;
	} else {
		if (z->enc == ENC_PACKED) {
			zset_iter_init(z, it, 0, true);
			for (start = 0; zset_iter_next(it, &m, &s); start++)
				if (lex_within_max(r, m.ptr, m.len, s))
					break;
		} else {
			size_t within = count_prefix(z, lex_within_max, r);
			start = within == 0 ? len : len - within;
		}
		if (start >= len || offset >= len - start)
			goto out;
		start += offset;
		zset_iter_init(z, it, start, true);
		while (zset_iter_next(it, &m, &s) && !lex_below_min(r, m.ptr, m.len, s))
			count++;
		*first_rank = start;
	}
out:
	free(it);
	return count;
}

size_t zset_lex_count(struct zset *z, const struct zset_lex_range *r)
{
	size_t first;
	if (z->enc == ENC_PACKED)
		return zset_lex_span(z, r, false, 0, &first);
	if (!lex_range_possible(z, r))
		return 0;
	size_t below = count_prefix(z, lex_below_min, r);
	size_t within = count_prefix(z, lex_within_max, r);
	return within > below ? within - below : 0;
}

/* ---- iteration ---- */

void zset_iter_init(const struct zset *z, struct zset_iter *it, size_t rank, bool rev)
{
	it->z = z;
	it->rev = rev;
	it->rank = rank;
	it->node = NULL;
	size_t len = zset_len(z);
	if (rank >= len)
		return;
	if (z->enc == ENC_PACKED) {
		size_t off = 0;
		struct pk_elem e;
		for (size_t i = 0; i < z->count; i++) {
			it->off[i] = (uint16_t)off;
			pk_decode(z->data + off, &e);
			off += e.size;
		}
	} else {
		uint64_t r1 = rev ? len - rank : rank + 1;
		it->node = zsl_at_rank(CSL(z), r1);
	}
}

bool zset_iter_next(struct zset_iter *it, struct kv_slice *member, double *score)
{
	const struct zset *z = it->z;
	size_t len = zset_len(z);
	if (it->rank >= len)
		return false;
	if (z->enc == ENC_PACKED) {
		size_t idx = it->rev ? len - 1 - it->rank : it->rank;
		struct pk_elem e;
		pk_decode(z->data + it->off[idx], &e);
		member->ptr = e.m;
		member->len = e.mlen;
		*score = e.score;
	} else {
		const struct zsl_node *n = it->node;
		if (!n)
			return false;
		member->ptr = node_member(n);
		member->len = n->mlen;
		*score = n->score;
		it->node = it->rev ? n->back : n->lv[0].fwd;
	}
	it->rank++;
	return true;
}

void zset_foreach(const struct zset *z, zset_foreach_fn fn, void *arg)
{
	if (z->enc == ENC_PACKED) {
		size_t off = 0;
		struct pk_elem e;
		while (off < z->bytes) {
			pk_decode(z->data + off, &e);
			fn(arg, (struct kv_slice){ e.m, e.mlen }, e.score);
			off += e.size;
		}
		return;
	}
	for (const struct zsl_node *n = CSL(z)->header->lv[0].fwd; n; n = n->lv[0].fwd)
		fn(arg, (struct kv_slice){ node_member(n), n->mlen }, n->score);
}

struct scan_ctx {
	zset_foreach_fn fn;
	void *arg;
};

static void scan_cb(void *arg, struct dict_node *dn)
{
	struct scan_ctx *sc = arg;
	const struct zsl_node *n = (const struct zsl_node *)dn;
	sc->fn(sc->arg, (struct kv_slice){ node_member(n), n->mlen }, n->score);
}

uint64_t zset_scan(struct zset *z, uint64_t cursor, zset_foreach_fn fn, void *arg)
{
	if (z->enc == ENC_PACKED) {
		zset_foreach(z, fn, arg);
		return 0;
	}
	struct scan_ctx sc = { fn, arg };
	return dict_scan(&SL(z)->dict, cursor, scan_cb, &sc);
}

size_t zset_pop(struct zset *z, bool max, size_t count, zset_foreach_fn fn, void *arg)
{
	size_t done = 0;
	while (done < count && zset_len(z) > 0) {
		if (z->enc == ENC_PACKED) {
			struct pk_elem e;
			size_t off = 0;
			if (max) {
				/* The last entry: walk to it (at most 255 entries). */
				size_t o = 0;
				while (o < z->bytes) {
					pk_decode(z->data + o, &e);
					off = o;
					o += e.size;
				}
			}
			pk_decode(z->data + off, &e);
			if (fn)
				fn(arg, (struct kv_slice){ e.m, e.mlen }, e.score);
			pk_delete_at(z, off, e.size);
		} else {
			struct zsl *sl = SL(z);
			struct zsl_node *n = max ? sl->tail : sl->header->lv[0].fwd;
			if (fn)
				fn(arg, (struct kv_slice){ node_member(n), n->mlen }, n->score);
			zsl_delete_node(sl, n);
		}
		done++;
	}
	refresh_mem(z);
	return done;
}

void zset_delete_rank_range(struct zset *z, size_t start, size_t end)
{
	size_t len = zset_len(z);
	if (start >= len || end < start)
		return;
	if (end >= len)
		end = len - 1;
	if (z->enc == ENC_PACKED) {
		size_t off = 0, from = 0, to = 0;
		struct pk_elem e;
		for (size_t i = 0; i <= end; i++) {
			if (i == start)
				from = off;
			pk_decode(z->data + off, &e);
			off += e.size;
		}
		to = off;
		memmove(z->data + from, z->data + to, z->bytes - to);
		z->bytes = (uint16_t)(z->bytes - (to - from));
		z->count = (uint8_t)(z->count - (end - start + 1));
	} else {
		struct zsl *sl = SL(z);
		struct zsl_node *n = zsl_at_rank(sl, start + 1);
		for (size_t i = start; i <= end && n; i++) {
			struct zsl_node *next = n->lv[0].fwd;
			zsl_delete_node(sl, n);
			n = next;
		}
	}
	refresh_mem(z);
}

int zset_fmt_score(char *buf, double v)
{
	if (isnan(v))
		return snprintf(buf, ZSET_SCORE_MAX, "nan");
	if (isinf(v))
		return snprintf(buf, ZSET_SCORE_MAX, "%s", v > 0 ? "inf" : "-inf");
	if (v == 0)
		return snprintf(buf, ZSET_SCORE_MAX, "%s", signbit(v) ? "-0" : "0");
	/* Integers whose every neighbour is representable print as integers. */
	if (v > -4503599627370495.0 && v < 4503599627370496.0 &&
	    v == (double)(long long)v)
		return snprintf(buf, ZSET_SCORE_MAX, "%lld", (long long)v);
	return snprintf(buf, ZSET_SCORE_MAX, "%.17g", v);
}

int zset_check(struct zset *z)
{
	size_t mem = zset_mem(z);
	refresh_mem(z);
	if (mem != zset_mem(z))
		return -1;
	if (z->enc == ENC_PACKED) {
		size_t off = 0, n = 0;
		struct pk_elem e, prev = { 0 };
		while (off < z->bytes) {
			pk_decode(z->data + off, &e);
			if (n > 0 && elem_cmp(prev.score, prev.m, prev.mlen, e.score, e.m, e.mlen) >= 0)
				return -2;
			if (e.mlen > ZSET_PACKED_MAX_VALUE)
				return -3;
			prev = e;
			off += e.size;
			n++;
		}
		if (off != z->bytes || n != z->count || n > ZSET_PACKED_MAX_ENTRIES)
			return -4;
		return 0;
	}
	struct zsl *sl = SL(z);
	if (dict_size(&sl->dict) != sl->length)
		return -5;
	/* Order, back links, and spans: each level's spans must add up to the
	 * rank distance between the nodes they join. */
	uint64_t rank = 0;
	const struct zsl_node *prev = NULL, *n;
	size_t bytes = 0;
	for (n = sl->header->lv[0].fwd; n; n = n->lv[0].fwd) {
		rank++;
		if (n->back != prev)
			return -6;
		if (prev && elem_cmp(prev->score, node_member(prev), prev->mlen,
				     n->score, node_member(n), n->mlen) >= 0)
			return -7;
		if (zsl_find(sl, node_member(n), n->mlen) != n)
			return -8;
		if (zsl_rank_of(sl, n) != rank || zsl_at_rank(sl, rank) != n)
			return -9;
		bytes += kv_heap_bytes(n);
		prev = n;
	}
	if (rank != sl->length || sl->tail != prev || bytes != sl->node_bytes)
		return -10;
	for (int i = 0; i < sl->level; i++) {
		uint64_t r = 0;
		for (const struct zsl_node *x = sl->header; x; x = x->lv[i].fwd) {
			if (x != sl->header && x->height <= i)
				return -11;
			if (x->lv[i].fwd) {
				r += x->lv[i].span;
				if (zsl_rank_of(sl, x->lv[i].fwd) != r)
					return -12;
			}
		}
	}
	for (int i = sl->level; i < ZSL_MAX_LEVEL; i++)
		if (sl->header->lv[i].fwd)
			return -13;
	return 0;
}
