/*
 * t_stream.c - the stream value object (layout and rules in t_stream.h).
 *
 * Every allocation goes through st_alloc/st_realloc/st_free, which keep
 * s->mem equal to the heap bytes the object holds (malloc_usable_size plus
 * the allocator's chunk header, as the store counts its own allocations), so
 * stream_mem is O(1).
 */
#include "store/t_stream.h"

#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/kv.h"
#include "base/varint.h"
#include "store/encoding.h"
#include "store/store.h"

#define F_DELETED 1u
#define F_SAME 2u

struct stream_block {
	struct stream_id first;    /* master ID: first entry's (ms base) */
	struct stream_id last;     /* last entry's, deleted or not */
	uint32_t used, cap;        /* bytes of data[] */
	uint32_t count;            /* entries, tombstones included */
	uint32_t live;
	uint32_t master_len;       /* bytes of the master field list */
	unsigned char data[];
};

static void blocks_insert(struct stream *s, size_t at, struct stream_block *b);

/* ---- accounted allocation ---- */

static void *st_alloc(struct stream *s, size_t n)
{
	void *p = malloc(n);
	kv_assert(p);
	s->mem += kv_heap_bytes(p);
	return p;
}

static void *st_realloc(struct stream *s, void *p, size_t n)
{
	s->mem -= kv_heap_bytes(p);
	void *q = realloc(p, n);
	kv_assert(q);
	s->mem += kv_heap_bytes(q);
	return q;
}

static void st_free(struct stream *s, void *p)
{
	if (!p)
		return;
	s->mem -= kv_heap_bytes(p);
	free(p);
}

/* ---- IDs ---- */

bool stream_id_incr(struct stream_id *a)
{
	if (a->seq == UINT64_MAX) {
		if (a->ms == UINT64_MAX)
			return false;
		a->ms++;
		a->seq = 0;
	} else {
		a->seq++;
	}
	return true;
}

bool stream_id_decr(struct stream_id *a)
{
	if (a->seq == 0) {
		if (a->ms == 0)
			return false;
		a->ms--;
		a->seq = UINT64_MAX;
	} else {
		a->seq--;
	}
	return true;
}

size_t stream_id_format(struct stream_id id, char *buf)
{
	int n = snprintf(buf, STREAM_ID_STR_MAX, "%" PRIu64 "-%" PRIu64, id.ms, id.seq);
	return (size_t)n;
}

/* ---- object ---- */

void stream_type_register(void)
{
	store_register_type_free(KV_TYPE_STREAM, stream_free);
	store_register_type_mem(KV_TYPE_STREAM, stream_mem);
}

__attribute__((constructor)) static void stream_register_ctor(void)
{
	stream_type_register();
}

struct stream *stream_new(void)
{
	struct stream *s = calloc(1, sizeof(*s));
	kv_assert(s);
	s->mem = kv_heap_bytes(s);
	return s;
}

struct stream *stream_dup(const struct stream *s)
{
	struct stream *d = stream_new();
	for (size_t i = 0; i < s->nblocks; i++) {
		const struct stream_block *b = s->blocks[i];
		struct stream_block *nb = st_alloc(d, sizeof(*b) + b->used);
		memcpy(nb, b, sizeof(*b) + b->used);
		nb->cap = nb->used;
		blocks_insert(d, d->nblocks, nb);
	}
	d->length = s->length;
	d->last_id = s->last_id;
	d->first_id = s->first_id;
	d->max_deleted_id = s->max_deleted_id;
	d->entries_added = s->entries_added;
	for (size_t i = 0; i < s->ngroups; i++) {
		const struct stream_group *g = s->groups[i];
		struct stream_group *ng = stream_group_create(d, g->name, g->nlen, g->last_id,
							      g->entries_read);
		for (size_t j = 0; j < g->ncons; j++) {
			const struct stream_consumer *c = g->cons[j];
			struct stream_consumer *nc = stream_consumer_create(d, ng, c->name, c->nlen,
									    c->seen_time);
			for (size_t k = 0; k < c->pel.len; k++) {
				const struct stream_nack *n = stream_pel_at(&c->pel, k);
				stream_nack_add(d, ng, nc, n->id, n->delivery_time, n->delivery_count);
			}
		}
	}
	return d;
}

static void pel_free(struct stream *s, struct stream_pel *p)
{
	st_free(s, p->v);
	p->v = NULL;
	p->head = p->len = p->cap = 0;
}

static void consumer_free(struct stream *s, struct stream_consumer *c)
{
	pel_free(s, &c->pel);
	st_free(s, c->name);
	st_free(s, c);
}

static void group_free(struct stream *s, struct stream_group *g)
{
	for (size_t i = 0; i < g->pel.len; i++)
		st_free(s, stream_pel_at(&g->pel, i));
	pel_free(s, &g->pel);
	for (size_t i = 0; i < g->ncons; i++)
		consumer_free(s, g->cons[i]);
	st_free(s, g->cons);
	st_free(s, g->name);
	st_free(s, g);
}

void stream_free(void *obj)
{
	struct stream *s = obj;
	if (!s)
		return;
	for (size_t i = 0; i < s->nblocks; i++)
		free(s->blocks[i]);
	free(s->blocks);
	for (size_t i = 0; i < s->ngroups; i++)
		group_free(s, s->groups[i]);
	free(s->groups);
	free(s);
}

size_t stream_mem(const void *obj)
{
	return ((const struct stream *)obj)->mem;
}

size_t stream_block_count(const struct stream *s)
{
	return s->nblocks;
}

/* ---- block encoding ---- */

static size_t get_varint(const unsigned char *p, uint64_t *v)
{
	uint64_t x = 0;
	size_t i = 0;
	for (;; i++) {
		x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80))
			break;
	}
	*v = x;
	return i + 1;
}

static bool master_matches(const struct stream_block *b, const struct kv_slice *fv, size_t nf)
{
	const unsigned char *p = b->data;
	uint64_t mn, len;
	p += get_varint(p, &mn);
	if (mn != nf)
		return false;
	for (size_t i = 0; i < nf; i++) {
		p += get_varint(p, &len);
		if (len != fv[2 * i].len || memcmp(p, fv[2 * i].ptr, len) != 0)
			return false;
		p += len;
	}
	return true;
}

/* Bytes an entry takes in a block. */
static size_t entry_size(struct stream_id id, struct stream_id base, const struct kv_slice *fv,
			 size_t nf, bool same)
{
	size_t n = 1 + varint_len(id.ms - base.ms) + varint_len(id.seq);
	if (!same)
		n += varint_len(nf);
	for (size_t i = 0; i < nf; i++) {
		if (!same)
			n += varint_len(fv[2 * i].len) + fv[2 * i].len;
		n += varint_len(fv[2 * i + 1].len) + fv[2 * i + 1].len;
	}
	return n;
}

static unsigned char *put_bytes(unsigned char *p, const struct kv_slice *x)
{
	p += varint_encode(p, x->len);
	if (x->len)
		memcpy(p, x->ptr, x->len);
	return p + x->len;
}

static uint64_t limit_of(_Atomic int64_t *v)
{
	int64_t x = atomic_load_explicit(v, memory_order_relaxed);
	return x <= 0 ? 0 : (uint64_t)x;
}

static struct stream_block *block_new(struct stream *s, struct stream_id id,
				      const struct kv_slice *fv, size_t nf, size_t first_entry)
{
	size_t mlen = varint_len(nf);
	for (size_t i = 0; i < nf; i++)
		mlen += varint_len(fv[2 * i].len) + fv[2 * i].len;
	size_t cap = mlen + first_entry;
	/* Room for a few more entries like this one, within the byte limit. */
	uint64_t maxb = limit_of(&kv_encoding.stream_node_max_bytes);
	size_t want = mlen + first_entry * 4;
	if (maxb && want > maxb)
		want = maxb > cap ? maxb : cap;
	if (want > cap)
		cap = want;
	kv_assert(cap < UINT32_MAX);
	struct stream_block *b = st_alloc(s, sizeof(*b) + cap);
	b->first = b->last = id;
	b->used = (uint32_t)mlen;
	b->cap = (uint32_t)cap;
	b->count = b->live = 0;
	b->master_len = (uint32_t)mlen;
	unsigned char *p = b->data;
	p += varint_encode(p, nf);
	for (size_t i = 0; i < nf; i++)
		p = put_bytes(p, &fv[2 * i]);
	return b;
}

/* Shrink a block that will get no more appends to its used size. */
static struct stream_block *block_close(struct stream *s, struct stream_block *b)
{
	if (b->cap - b->used < 16)
		return b;
	b = st_realloc(s, b, sizeof(*b) + b->used);
	b->cap = b->used;
	return b;
}

static void blocks_insert(struct stream *s, size_t at, struct stream_block *b)
{
	if (s->nblocks == s->blocks_cap) {
		size_t cap = s->blocks_cap ? s->blocks_cap * 2 : 4;
		s->blocks = st_realloc(s, s->blocks, cap * sizeof(*s->blocks));
		s->blocks_cap = cap;
	}
	memmove(s->blocks + at + 1, s->blocks + at, (s->nblocks - at) * sizeof(*s->blocks));
	s->blocks[at] = b;
	s->nblocks++;
}

static void blocks_remove(struct stream *s, size_t at)
{
	st_free(s, s->blocks[at]);
	memmove(s->blocks + at, s->blocks + at + 1, (s->nblocks - at - 1) * sizeof(*s->blocks));
	s->nblocks--;
	if (s->nblocks == 0) {
		st_free(s, s->blocks);
		s->blocks = NULL;
		s->blocks_cap = 0;
	}
}

/* Decode the entry at off: its flags, ID, fields (into it->fv when it is
 * not NULL).  Returns the offset of the next entry. */
static uint32_t entry_decode(const struct stream_block *b, uint32_t off, unsigned *flags,
			     struct stream_id *id, struct stream_iter *it)
{
	const unsigned char *p = b->data + off;
	uint64_t dms, seq, nf, len;
	*flags = *p++;
	p += get_varint(p, &dms);
	p += get_varint(p, &seq);
	id->ms = b->first.ms + dms;
	id->seq = seq;
	const unsigned char *m = NULL;
	if (*flags & F_SAME) {
		m = b->data;
		m += get_varint(m, &nf);
	} else {
		p += get_varint(p, &nf);
	}
	if (it && it->fv_cap < 2 * nf) {
		it->fv_cap = 2 * nf;
		it->fv = realloc(it->fv, it->fv_cap * sizeof(*it->fv));
		kv_assert(it->fv);
	}
	for (uint64_t i = 0; i < nf; i++) {
		struct kv_slice f, v;
		if (m) {
			m += get_varint(m, &len);
			f = (struct kv_slice){ (const char *)m, len };
			m += len;
		} else {
			p += get_varint(p, &len);
			f = (struct kv_slice){ (const char *)p, len };
			p += len;
		}
		p += get_varint(p, &len);
		v = (struct kv_slice){ (const char *)p, len };
		p += len;
		if (it) {
			it->fv[2 * i] = f;
			it->fv[2 * i + 1] = v;
		}
	}
	if (it)
		it->nfields = nf;
	return (uint32_t)(p - b->data);
}

/* Skip an entry without decoding its fields. */
static uint32_t entry_skip(const struct stream_block *b, uint32_t off, unsigned *flags,
			   struct stream_id *id)
{
	return entry_decode(b, off, flags, id, NULL);
}

/* ---- entries ---- */

void stream_append(struct stream *s, struct stream_id id, const struct kv_slice *fv,
		   size_t nfields)
{
	uint64_t maxe = limit_of(&kv_encoding.stream_node_max_entries);
	uint64_t maxb = limit_of(&kv_encoding.stream_node_max_bytes);
	struct stream_block *b = s->nblocks ? s->blocks[s->nblocks - 1] : NULL;
	bool same = false;
	size_t need = 0;

	if (b) {
		same = master_matches(b, fv, nfields);
		need = entry_size(id, b->first, fv, nfields, same);
		if ((maxe && b->count >= maxe) || (maxb && b->used + need > maxb)) {
			s->blocks[s->nblocks - 1] = block_close(s, b);
			b = NULL;
		}
	}
	if (!b) {
		need = entry_size(id, id, fv, nfields, true);
		b = block_new(s, id, fv, nfields, need);
		blocks_insert(s, s->nblocks, b);
		same = true;
	}
	if (b->used + need > b->cap) {
		size_t cap = b->cap + b->cap / 2;
		if (cap < b->used + need)
			cap = b->used + need;
		if (maxb && cap > maxb)
			cap = maxb > b->used + need ? maxb : b->used + need;
		kv_assert(cap < UINT32_MAX);
		b = st_realloc(s, b, sizeof(*b) + cap);
		b->cap = (uint32_t)cap;
		s->blocks[s->nblocks - 1] = b;
	}
	unsigned char *p = b->data + b->used;
	*p++ = same ? F_SAME : 0;
	p += varint_encode(p, id.ms - b->first.ms);
	p += varint_encode(p, id.seq);
	if (!same)
		p += varint_encode(p, nfields);
	for (size_t i = 0; i < nfields; i++) {
		if (!same)
			p = put_bytes(p, &fv[2 * i]);
		p = put_bytes(p, &fv[2 * i + 1]);
	}
	kv_assert((size_t)(p - b->data) == b->used + need);
	b->used += (uint32_t)need;
	b->count++;
	b->live++;
	b->last = id;
	if (s->length == 0)
		s->first_id = id;
	s->length++;
	s->last_id = id;
	s->entries_added++;
}

/* The block that may hold id: the last block whose first ID <= id; SIZE_MAX
 * when id is below every block. */
static size_t block_for(const struct stream *s, struct stream_id id)
{
	size_t lo = 0, hi = s->nblocks;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (stream_id_cmp(s->blocks[mid]->first, id) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == 0 ? SIZE_MAX : lo - 1;
}

/* Offset of the live entry with this ID in block bi, or 0.  Only live
 * entries are in ID order: a deleted one may have any ID (XDEL of the
 * stream's last entry, then XSETID back below it, then XADD appends after
 * its tombstone), so, as Redis's iterator does, tombstones are stepped over
 * without comparing. */
static uint32_t entry_find(const struct stream *s, size_t bi, struct stream_id id)
{
	const struct stream_block *b = s->blocks[bi];
	uint32_t off = b->master_len;
	while (off < b->used) {
		unsigned flags;
		struct stream_id eid;
		uint32_t next = entry_skip(b, off, &flags, &eid);
		if (!(flags & F_DELETED)) {
			int c = stream_id_cmp(eid, id);
			if (c == 0)
				return off;
			if (c > 0)
				return 0;
		}
		off = next;
	}
	return 0;
}

static void update_first(struct stream *s)
{
	if (s->length == 0)
		s->first_id = STREAM_ID_MIN;
	else
		stream_edge_id(s, true, &s->first_id);
}

bool stream_exists(const struct stream *s, struct stream_id id)
{
	size_t bi = block_for(s, id);
	if (bi == SIZE_MAX || stream_id_cmp(id, s->blocks[bi]->last) > 0)
		return false;
	return entry_find(s, bi, id) != 0;
}

/* Tombstone the entry at off of block bi (live); frees the block when it
 * was its last live entry.  Returns whether the block was freed. */
static bool kill_entry(struct stream *s, size_t bi, uint32_t off)
{
	struct stream_block *b = s->blocks[bi];
	b->data[off] |= F_DELETED;
	b->live--;
	s->length--;
	if (b->live == 0) {
		blocks_remove(s, bi);
		return true;
	}
	return false;
}

bool stream_delete(struct stream *s, struct stream_id id)
{
	size_t bi = block_for(s, id);
	if (bi == SIZE_MAX || stream_id_cmp(id, s->blocks[bi]->last) > 0)
		return false;
	uint32_t off = entry_find(s, bi, id);
	if (!off)
		return false;
	bool first = stream_id_cmp(id, s->first_id) == 0;
	kill_entry(s, bi, off);
	if (first || s->length == 0)
		update_first(s);
	return true;
}

uint64_t stream_trim(struct stream *s, enum stream_trim_kind kind, uint64_t maxlen,
		     struct stream_id minid, bool approx, uint64_t limit)
{
	uint64_t deleted = 0;
	if (kind == STREAM_TRIM_NONE)
		return 0;
	while (s->nblocks) {
		if (kind == STREAM_TRIM_MAXLEN && s->length <= maxlen)
			break;
		struct stream_block *b = s->blocks[0];
		if (limit && deleted + b->live > limit)
			break;
		bool whole = kind == STREAM_TRIM_MAXLEN ? s->length - b->live >= maxlen
			: stream_id_cmp(b->last, minid) < 0;
		if (whole) {
			s->length -= b->live;
			deleted += b->live;
			blocks_remove(s, 0);
			continue;
		}
		if (approx)
			break;
		uint32_t off = b->master_len;
		while (off < b->used) {
			unsigned flags;
			struct stream_id eid;
			uint32_t next = entry_skip(b, off, &flags, &eid);
			bool stop = kind == STREAM_TRIM_MAXLEN ? s->length <= maxlen
				: stream_id_cmp(eid, minid) >= 0;
			if (stop)
				break;
			if (!(flags & F_DELETED)) {
				deleted++;
				if (kill_entry(s, 0, off))
					break;   /* cannot happen: whole would have held */
			}
			off = next;
		}
		break;
	}
	if (s->length == 0)
		s->first_id = STREAM_ID_MIN;
	else if (deleted)
		update_first(s);
	return deleted;
}

/* ---- iteration ---- */

void stream_iter_start(struct stream_iter *it, const struct stream *s, struct stream_id start,
		       struct stream_id end, bool rev)
{
	memset(it, 0, sizeof(*it));
	it->s = s;
	it->start = start;
	it->end = end;
	it->rev = rev;
	if (stream_id_cmp(start, end) > 0 || s->nblocks == 0) {
		it->done = true;
		return;
	}
	if (!rev) {
		size_t bi = block_for(s, start);
		it->bi = bi == SIZE_MAX ? 0 : bi;
		it->off = s->blocks[it->bi]->master_len;
	} else {
		size_t bi = block_for(s, end);
		if (bi == SIZE_MAX) {
			it->done = true;
			return;
		}
		it->bi = bi + 1;
		it->noffs = it->oi = 0;
	}
}

/* Load the offsets of block bi (rev iteration). */
static void load_offsets(struct stream_iter *it, size_t bi)
{
	const struct stream_block *b = it->s->blocks[bi];
	it->noffs = 0;
	uint32_t off = b->master_len;
	while (off < b->used) {
		if (it->noffs == it->offs_cap) {
			it->offs_cap = it->offs_cap ? it->offs_cap * 2 : 128;
			it->offs = realloc(it->offs, it->offs_cap * sizeof(*it->offs));
			kv_assert(it->offs);
		}
		it->offs[it->noffs++] = off;
		unsigned flags;
		struct stream_id id;
		off = entry_skip(b, off, &flags, &id);
	}
	it->oi = it->noffs;
}

bool stream_iter_next(struct stream_iter *it, struct stream_id *id)
{
	const struct stream *s = it->s;
	if (it->done)
		return false;
	if (!it->rev) {
		while (it->bi < s->nblocks) {
			const struct stream_block *b = s->blocks[it->bi];
			if (stream_id_cmp(b->first, it->end) > 0)
				break;
			if (it->off >= b->used || stream_id_cmp(b->last, it->start) < 0) {
				it->bi++;
				if (it->bi < s->nblocks)
					it->off = s->blocks[it->bi]->master_len;
				continue;
			}
			unsigned flags;
			struct stream_id eid;
			uint32_t next = entry_skip(b, it->off, &flags, &eid);
			uint32_t cur = it->off;
			it->off = next;
			if ((flags & F_DELETED) || stream_id_cmp(eid, it->start) < 0)
				continue;
			if (stream_id_cmp(eid, it->end) > 0)
				break;
			entry_decode(b, cur, &flags, &eid, it);
			*id = eid;
			return true;
		}
		it->done = true;
		return false;
	}
	for (;;) {
		if (it->oi == 0) {
			if (it->bi == 0)
				break;
			it->bi--;
			const struct stream_block *b = s->blocks[it->bi];
			if (stream_id_cmp(b->last, it->start) < 0)
				break;
			load_offsets(it, it->bi);
			continue;
		}
		const struct stream_block *b = s->blocks[it->bi];
		uint32_t off = it->offs[--it->oi];
		unsigned flags;
		struct stream_id eid;
		entry_skip(b, off, &flags, &eid);
		if (stream_id_cmp(eid, it->start) < 0)
			break;
		if ((flags & F_DELETED) || stream_id_cmp(eid, it->end) > 0)
			continue;
		entry_decode(b, off, &flags, &eid, it);
		*id = eid;
		return true;
	}
	it->done = true;
	return false;
}

void stream_iter_stop(struct stream_iter *it)
{
	free(it->offs);
	free(it->fv);
	it->offs = NULL;
	it->fv = NULL;
}

bool stream_edge_id(const struct stream *s, bool first, struct stream_id *out)
{
	struct stream_iter it;
	stream_iter_start(&it, s, STREAM_ID_MIN, STREAM_ID_MAX, !first);
	bool ok = stream_iter_next(&it, out);
	stream_iter_stop(&it);
	return ok;
}

/* ---- PEL ---- */

size_t stream_pel_lower(const struct stream_pel *p, struct stream_id id)
{
	size_t lo = 0, hi = p->len;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (stream_id_cmp(stream_pel_at(p, mid)->id, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct stream_nack *stream_pel_find(const struct stream_pel *p, struct stream_id id)
{
	size_t i = stream_pel_lower(p, id);
	if (i < p->len && stream_id_cmp(stream_pel_at(p, i)->id, id) == 0)
		return stream_pel_at(p, i);
	return NULL;
}

static void pel_insert(struct stream *s, struct stream_pel *p, struct stream_nack *n)
{
	size_t i = stream_pel_lower(p, n->id);
	if (p->head + p->len == p->cap) {
		if (p->head > 0 && p->head >= p->len / 2) {
			memmove(p->v, p->v + p->head, p->len * sizeof(*p->v));
			p->head = 0;
		} else {
			size_t cap = p->cap ? p->cap * 2 : 4;
			p->v = st_realloc(s, p->v, cap * sizeof(*p->v));
			p->cap = cap;
		}
	}
	struct stream_nack **base = p->v + p->head;
	memmove(base + i + 1, base + i, (p->len - i) * sizeof(*p->v));
	base[i] = n;
	p->len++;
}

static void pel_remove(struct stream *s, struct stream_pel *p, struct stream_id id)
{
	size_t i = stream_pel_lower(p, id);
	kv_assert(i < p->len && stream_id_cmp(stream_pel_at(p, i)->id, id) == 0);
	if (i == 0) {
		p->head++;
	} else {
		struct stream_nack **base = p->v + p->head;
		memmove(base + i, base + i + 1, (p->len - i - 1) * sizeof(*p->v));
	}
	p->len--;
	if (p->len == 0) {
		pel_free(s, p);
	} else if (p->cap > 64 && p->len < p->cap / 4) {
		memmove(p->v, p->v + p->head, p->len * sizeof(*p->v));
		p->head = 0;
		p->cap /= 2;
		p->v = st_realloc(s, p->v, p->cap * sizeof(*p->v));
	}
}

struct stream_nack *stream_nack_add(struct stream *s, struct stream_group *g,
				    struct stream_consumer *c, struct stream_id id,
				    int64_t delivery_time, uint64_t delivery_count)
{
	struct stream_nack *n = st_alloc(s, sizeof(*n));
	n->id = id;
	n->delivery_time = delivery_time;
	n->delivery_count = delivery_count;
	n->consumer = c;
	pel_insert(s, &g->pel, n);
	pel_insert(s, &c->pel, n);
	return n;
}

void stream_nack_move(struct stream *s, struct stream_nack *n, struct stream_consumer *to)
{
	if (n->consumer == to)
		return;
	pel_remove(s, &n->consumer->pel, n->id);
	n->consumer = to;
	pel_insert(s, &to->pel, n);
}

void stream_nack_remove(struct stream *s, struct stream_group *g, struct stream_nack *n)
{
	pel_remove(s, &n->consumer->pel, n->id);
	pel_remove(s, &g->pel, n->id);
	st_free(s, n);
}

/* ---- groups and consumers ---- */

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static size_t group_lower(const struct stream *s, const char *name, size_t nlen)
{
	size_t lo = 0, hi = s->ngroups;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (name_cmp(s->groups[mid]->name, s->groups[mid]->nlen, name, nlen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct stream_group *stream_group_find(const struct stream *s, const char *name, size_t nlen)
{
	size_t i = group_lower(s, name, nlen);
	if (i < s->ngroups && name_cmp(s->groups[i]->name, s->groups[i]->nlen, name, nlen) == 0)
		return s->groups[i];
	return NULL;
}

static char *name_dup(struct stream *s, const char *name, size_t nlen)
{
	char *p = st_alloc(s, nlen + 1);
	memcpy(p, name, nlen);
	p[nlen] = 0;
	return p;
}

struct stream_group *stream_group_create(struct stream *s, const char *name, size_t nlen,
					 struct stream_id last_id, int64_t entries_read)
{
	size_t i = group_lower(s, name, nlen);
	if (i < s->ngroups && name_cmp(s->groups[i]->name, s->groups[i]->nlen, name, nlen) == 0)
		return NULL;
	struct stream_group *g = st_alloc(s, sizeof(*g));
	memset(g, 0, sizeof(*g));
	g->name = name_dup(s, name, nlen);
	g->nlen = nlen;
	g->last_id = last_id;
	g->entries_read = entries_read;
	if (s->ngroups == s->groups_cap) {
		size_t cap = s->groups_cap ? s->groups_cap * 2 : 2;
		s->groups = st_realloc(s, s->groups, cap * sizeof(*s->groups));
		s->groups_cap = cap;
	}
	memmove(s->groups + i + 1, s->groups + i, (s->ngroups - i) * sizeof(*s->groups));
	s->groups[i] = g;
	s->ngroups++;
	return g;
}

bool stream_group_destroy(struct stream *s, const char *name, size_t nlen)
{
	size_t i = group_lower(s, name, nlen);
	if (i >= s->ngroups || name_cmp(s->groups[i]->name, s->groups[i]->nlen, name, nlen) != 0)
		return false;
	group_free(s, s->groups[i]);
	memmove(s->groups + i, s->groups + i + 1, (s->ngroups - i - 1) * sizeof(*s->groups));
	s->ngroups--;
	if (s->ngroups == 0) {
		st_free(s, s->groups);
		s->groups = NULL;
		s->groups_cap = 0;
	}
	return true;
}

static size_t consumer_lower(const struct stream_group *g, const char *name, size_t nlen)
{
	size_t lo = 0, hi = g->ncons;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (name_cmp(g->cons[mid]->name, g->cons[mid]->nlen, name, nlen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct stream_consumer *stream_consumer_find(const struct stream_group *g, const char *name,
					     size_t nlen)
{
	size_t i = consumer_lower(g, name, nlen);
	if (i < g->ncons && name_cmp(g->cons[i]->name, g->cons[i]->nlen, name, nlen) == 0)
		return g->cons[i];
	return NULL;
}

struct stream_consumer *stream_consumer_create(struct stream *s, struct stream_group *g,
					       const char *name, size_t nlen, int64_t now_ms)
{
	size_t i = consumer_lower(g, name, nlen);
	if (i < g->ncons && name_cmp(g->cons[i]->name, g->cons[i]->nlen, name, nlen) == 0)
		return NULL;
	struct stream_consumer *c = st_alloc(s, sizeof(*c));
	memset(c, 0, sizeof(*c));
	c->name = name_dup(s, name, nlen);
	c->nlen = nlen;
	c->seen_time = now_ms;
	if (g->ncons == g->cons_cap) {
		size_t cap = g->cons_cap ? g->cons_cap * 2 : 2;
		g->cons = st_realloc(s, g->cons, cap * sizeof(*g->cons));
		g->cons_cap = cap;
	}
	memmove(g->cons + i + 1, g->cons + i, (g->ncons - i) * sizeof(*g->cons));
	g->cons[i] = c;
	g->ncons++;
	return c;
}

uint64_t stream_consumer_delete(struct stream *s, struct stream_group *g,
				struct stream_consumer *c)
{
	uint64_t pending = c->pel.len;
	while (c->pel.len) {
		struct stream_nack *n = stream_pel_at(&c->pel, c->pel.len - 1);
		stream_nack_remove(s, g, n);
	}
	size_t i = consumer_lower(g, c->name, c->nlen);
	kv_assert(i < g->ncons && g->cons[i] == c);
	consumer_free(s, c);
	memmove(g->cons + i, g->cons + i + 1, (g->ncons - i - 1) * sizeof(*g->cons));
	g->ncons--;
	if (g->ncons == 0) {
		st_free(s, g->cons);
		g->cons = NULL;
		g->cons_cap = 0;
	}
	return pending;
}

/* ---- 7.0's counters ---- */

bool stream_range_has_tombstones(const struct stream *s, const struct stream_id *start,
				 const struct stream_id *end)
{
	if (!s->length || stream_id_is_zero(s->max_deleted_id))
		return false;
	if (stream_id_cmp(s->first_id, s->max_deleted_id) > 0)
		return false;
	struct stream_id a = start ? *start : STREAM_ID_MIN;
	struct stream_id b = end ? *end : STREAM_ID_MAX;
	return stream_id_cmp(a, s->max_deleted_id) <= 0 &&
	       stream_id_cmp(s->max_deleted_id, b) <= 0;
}

int64_t stream_estimate_distance(const struct stream *s, struct stream_id id)
{
	if (!s->entries_added)
		return 0;
	if (!s->length && stream_id_cmp(id, s->last_id) < 1)
		return (int64_t)s->entries_added;
	int cl = stream_id_cmp(id, s->last_id);
	if (cl == 0)
		return (int64_t)s->entries_added;
	if (cl > 0)
		return STREAM_ENTRIES_READ_INVALID;
	int cf = stream_id_cmp(id, s->first_id);
	if (stream_id_is_zero(s->max_deleted_id) ||
	    stream_id_cmp(s->max_deleted_id, s->first_id) < 0) {
		if (cf < 0)
			return (int64_t)(s->entries_added - s->length);
		if (cf == 0)
			return (int64_t)(s->entries_added - s->length + 1);
	}
	return STREAM_ENTRIES_READ_INVALID;
}

bool stream_group_lag(const struct stream *s, const struct stream_group *g, int64_t *lag)
{
	if (!s->entries_added) {
		*lag = 0;
		return true;
	}
	if (g->entries_read != STREAM_ENTRIES_READ_INVALID &&
	    !stream_range_has_tombstones(s, &g->last_id, NULL)) {
		*lag = (int64_t)s->entries_added - g->entries_read;
		return true;
	}
	int64_t er = stream_estimate_distance(s, g->last_id);
	if (er == STREAM_ENTRIES_READ_INVALID)
		return false;
	*lag = (int64_t)s->entries_added - er;
	return true;
}

/* ---- invariants ---- */

int stream_check(const struct stream *s)
{
	uint64_t live = 0;
	struct stream_id prev = STREAM_ID_MIN;
	bool any = false;
	for (size_t i = 0; i < s->nblocks; i++) {
		const struct stream_block *b = s->blocks[i];
		uint32_t off = b->master_len, count = 0, nlive = 0;
		struct stream_id tail = STREAM_ID_MIN;
		while (off < b->used) {
			unsigned flags;
			struct stream_id id;
			off = entry_skip(b, off, &flags, &id);
			tail = id;
			count++;
			if (flags & F_DELETED)
				continue;   /* a tombstone may have any ID (entry_find) */
			if ((any && stream_id_cmp(id, prev) <= 0) || stream_id_cmp(id, b->first) < 0)
				return -1;
			prev = id;
			any = true;
			nlive++;
		}
		if (off != b->used || count != b->count || nlive != b->live || nlive == 0 ||
		    stream_id_cmp(tail, b->last) != 0)
			return -1;
		live += nlive;
	}
	if (live != s->length || (any && stream_id_cmp(prev, s->last_id) > 0))
		return -1;
	for (size_t i = 0; i < s->ngroups; i++) {
		const struct stream_group *g = s->groups[i];
		size_t total = 0;
		for (size_t j = 0; j < g->ncons; j++)
			total += g->cons[j]->pel.len;
		if (total != g->pel.len)
			return -1;
	}
	return 0;
}
