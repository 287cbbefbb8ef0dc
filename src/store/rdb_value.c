/*
 * rdb_value.c - Redis DUMP payloads (RDB version 10): writing a value as
 * redis-server 7.0 writes it, and reading every encoding it reads.
 *
 * The layout below was learned from Redis 7.0's rdb.c, cluster.c,
 * listpack.c, ziplist.c, intset.c and lzf (facts about the format; no code
 * was taken).  Integers are little-endian unless said otherwise.
 *
 *   payload  = type (1 byte) | value | version (2, = 10) | CRC-64 (8)
 *              CRC-64/Jones over every byte before it (rdb_prim.h)
 *   length   = 00LLLLLL                   6-bit length
 *            | 01LLLLLL LLLLLLLL          14-bit, big-endian
 *            | 0x80 + 4 bytes big-endian  | 0x81 + 8 bytes big-endian
 *   string   = length + bytes
 *            | 0xC0 int8 | 0xC1 int16 | 0xC2 int32  (the decimal text)
 *            | 0xC3 length(compressed) length(original) LZF bytes
 *   Writing a string: a canonical integer of at most 11 characters that
 *   fits 32 bits takes the shortest integer form; else a string of more
 *   than 20 bytes is LZF-compressed when that saves more than 4 bytes;
 *   else it is stored as is.
 *
 *   type  value
 *    0    string
 *    1    list: length, strings                           (read only)
 *    2    set: length, strings
 *    3    zset: length, (string, score as text)           (read only):
 *         text = 1-byte length + ASCII, or 253 nan, 254 inf, 255 -inf
 *    4    hash: length, (field, value) strings
 *    5    zset: length, (member string, 8-byte IEEE double), highest first
 *   10    list: one ziplist blob                          (read only)
 *   11    set: intset blob (string)
 *   12    zset: ziplist of member, score pairs            (read only)
 *   13    hash: ziplist of field, value pairs             (read only)
 *   14    list: length, ziplist blobs                     (read only)
 *   16    hash: listpack of field, value pairs
 *   17    zset: listpack of member, score pairs, lowest first
 *   18    list: length, (container, blob): container 2 = listpack,
 *         1 = "plain" (one element as a string)
 *   Refused: 6, 7 (modules), 9 (zipmap, pre-2.6), 15, 19 (streams), and
 *   anything newer than version 10 writes (20, 21: Redis 7.2).
 *
 *   listpack = total bytes (4) | count (2, 65535 = unknown) | entries | 0xFF
 *     entry  = encoding+data | backlen (length of encoding+data, 1-5 bytes,
 *              7 bits each, read backwards, high bit = more)
 *     0xxxxxxx 7-bit uint   10LLLLLL 6-bit-length string
 *     110xxxxx +1 13-bit int  1110LLLL +1 12-bit-length string
 *     0xF0 +4 32-bit-length string   0xF1 int16  0xF2 int24  0xF3 int32
 *     0xF4 int64.  A string that is a canonical int64 is written as an int.
 *   ziplist  = total bytes (4) | tail offset (4) | count (2) | entries | 0xFF
 *     entry  = prevlen (1 byte < 254, or 0xFE + 4) | encoding | data
 *     00LLLLLL, 01LLLLLL LLLLLLLL (big-endian), 0x80 + 4 big-endian: strings;
 *     0xC0 int16  0xD0 int32  0xE0 int64  0xF0 int24  0xFE int8
 *     0xF1..0xFD the integers 0..12
 *   intset   = width (4: 2, 4 or 8) | count (4) | count ascending values
 *
 * Reading is stricter than Redis where Redis would keep a broken value:
 * every blob is validated deeply (Redis does it only under
 * sanitize-dump-payload yes), duplicates and NaN scores are refused, and
 * the value must end exactly at the footer.
 *
 * What kevy writes for each encoding (OBJECT ENCODING):
 *   string              type 0 (integers and LZF exactly as Redis)
 *   list (quicklist)    type 18, elements split into listpack nodes as
 *                       RPUSH fills them under list-max-listpack-size
 *   set intset          type 11, at the intset's current width
 *   set listpack/hashtable  type 2 (Redis 7.0 has no listpack sets)
 *   zset listpack       type 17; skiplist: type 5
 *   hash listpack       type 16; hashtable: type 4
 * Types 2 and 4 follow kevy's table order, which no two servers share.
 */
#include "store/rdb_value.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kv.h"
#include "base/le.h"
#include "base/util_num.h"
#include "store/encoding.h"
#include "store/rdb_prim.h"
#include "store/t_hash.h"
#include "store/t_list.h"
#include "store/t_set.h"
#include "store/t_zset.h"
#include "store/t_stream.h"

enum {
	T_STRING = 0,
	T_LIST = 1,
	T_SET = 2,
	T_ZSET = 3,
	T_HASH = 4,
	T_ZSET_2 = 5,
	T_LIST_ZIPLIST = 10,
	T_SET_INTSET = 11,
	T_ZSET_ZIPLIST = 12,
	T_HASH_ZIPLIST = 13,
	T_LIST_QUICKLIST = 14,
	T_HASH_LISTPACK = 16,
	T_ZSET_LISTPACK = 17,
	T_LIST_QUICKLIST_2 = 18,
	T_STREAM_LISTPACKS = 15,
	T_STREAM_LISTPACKS_2 = 19,
};

/* Stream listpack entry flags (Redis's STREAM_ITEM_FLAG_*). */
#define SLP_DELETED 1
#define SLP_SAMEFIELDS 2
/* Live entries per listpack node kevy writes (Redis's default
 * stream-node-max-entries). */
#define SLP_NODE_ENTRIES 100

#define ENC_INT8 0
#define ENC_INT16 1
#define ENC_INT32 2
#define ENC_LZF 3

#define QL_PLAIN 1
#define QL_PACKED 2

/* Redis's largest string (proto-max-bulk-len's default): a longer one
 * claimed by a payload is corrupt. */
#define RDB_STRING_MAX (512ull << 20)

#define LP_HDR 6
#define LP_EOF 0xFF
#define LP_COUNT_UNKNOWN 65535u
#define ZL_HDR 10

/* An element seen in a blob or a payload: bytes, with integers formatted
 * into ibuf. */
struct elem {
	const char *ptr;
	size_t len;
	char ibuf[24];
};

static void elem_int(struct elem *e, int64_t v)
{
	e->len = (size_t)snprintf(e->ibuf, sizeof(e->ibuf), "%lld", (long long)v);
	e->ptr = e->ibuf;
}

/* Redis's canonical integer text (listpack's and the RDB's rule): the same
 * rule as an argument's (string2ll), which util_num.c already keeps. */
static bool str_to_int64(const char *s, size_t len, int64_t *out)
{
	const struct kv_slice a = { s, len };
	return arg_to_int64(&a, out);
}

/* ======================================================================
 * Writing
 * ====================================================================== */

struct dump_w {
	struct kv_buf *out;
	struct rdb_lzf_table lzf;
	struct kv_buf tmp;
};

static void w_byte(struct dump_w *w, uint8_t b)
{
	kv_buf_append(w->out, &b, 1);
}

static void w_len(struct dump_w *w, uint64_t len)
{
	uint8_t b[9];
	if (len < 64) {
		b[0] = (uint8_t)len;
		kv_buf_append(w->out, b, 1);
	} else if (len < 16384) {
		b[0] = (uint8_t)(0x40 | (len >> 8));
		b[1] = (uint8_t)len;
		kv_buf_append(w->out, b, 2);
	} else if (len <= UINT32_MAX) {
		b[0] = 0x80;
		for (int i = 0; i < 4; i++)
			b[1 + i] = (uint8_t)(len >> (24 - 8 * i));
		kv_buf_append(w->out, b, 5);
	} else {
		b[0] = 0x81;
		for (int i = 0; i < 8; i++)
			b[1 + i] = (uint8_t)(len >> (56 - 8 * i));
		kv_buf_append(w->out, b, 9);
	}
}

/* A short canonical integer that fits 32 bits, in its shortest form. */
static bool w_try_int(struct dump_w *w, const char *p, size_t len)
{
	int64_t v;
	uint8_t b[5];
	if (len > 11 || !str_to_int64(p, len, &v))
		return false;
	if (v >= INT8_MIN && v <= INT8_MAX) {
		b[0] = 0xC0 | ENC_INT8;
		b[1] = (uint8_t)v;
		kv_buf_append(w->out, b, 2);
	} else if (v >= INT16_MIN && v <= INT16_MAX) {
		b[0] = 0xC0 | ENC_INT16;
		le_put16(b + 1, (uint16_t)v);
		kv_buf_append(w->out, b, 3);
	} else if (v >= INT32_MIN && v <= INT32_MAX) {
		b[0] = 0xC0 | ENC_INT32;
		le_put32(b + 1, (uint32_t)v);
		kv_buf_append(w->out, b, 5);
	} else {
		return false;
	}
	return true;
}

/* A string as Redis's RDB writer stores it (see the top of the file). */
static void w_string(struct dump_w *w, const void *p, size_t len)
{
	if (w_try_int(w, p, len))
		return;
	if (len > 20) {
		size_t cap = len - 4;
		w->tmp.len = 0;
		kv_buf_reserve(&w->tmp, cap + RDB_LZF_OUT_SLACK);
		size_t clen = rdb_lzf_compress(&w->lzf, p, len, w->tmp.data, cap);
		if (clen > 0) {
			w_byte(w, 0xC0 | ENC_LZF);
			w_len(w, clen);
			w_len(w, len);
			kv_buf_append(w->out, w->tmp.data, clen);
			return;
		}
	}
	w_len(w, len);
	kv_buf_append(w->out, p, len);
}

/* ---- listpack builder ---- */

struct lp_build {
	struct kv_buf b;    /* header placeholder + entries (no EOF yet) */
	uint64_t count;
};

static void lpb_reset(struct lp_build *l)
{
	l->b.len = 0;
	l->count = 0;
	char *h = kv_buf_reserve(&l->b, LP_HDR);
	memset(h, 0, LP_HDR);
	l->b.len = LP_HDR;
}

/* Bytes of the listpack once finished (with its EOF). */
static size_t lpb_bytes(const struct lp_build *l)
{
	return l->b.len + 1;
}

static size_t backlen_size(uint64_t l)
{
	return l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;
}

static void backlen_put(uint8_t *buf, uint64_t l)
{
	size_t n = backlen_size(l);
	/* The first byte holds the highest bits and no continuation flag; the
	 * others carry 7 bits each with the flag, the lowest last. */
	for (size_t i = 0; i < n; i++) {
		size_t shift = 7 * (n - 1 - i);
		buf[i] = (uint8_t)((l >> shift) & 127);
		if (i > 0)
			buf[i] |= 128;
	}
}

static void lpb_entry(struct lp_build *l, const uint8_t *enc, size_t enclen, const void *data,
		      size_t dlen)
{
	uint8_t back[5];
	size_t entry = enclen + dlen;
	backlen_put(back, entry);
	kv_buf_append(&l->b, enc, enclen);
	if (dlen)
		kv_buf_append(&l->b, data, dlen);
	kv_buf_append(&l->b, back, backlen_size(entry));
	l->count++;
}

static void lpb_int(struct lp_build *l, int64_t v)
{
	uint8_t e[9];
	size_t n;
	uint64_t u = (uint64_t)v;
	if (v >= 0 && v <= 127) {
		e[0] = (uint8_t)v;
		n = 1;
	} else if (v >= -4096 && v <= 4095) {
		u &= 0x1fff;
		e[0] = (uint8_t)(0xC0 | (u >> 8));
		e[1] = (uint8_t)u;
		n = 2;
	} else if (v >= INT16_MIN && v <= INT16_MAX) {
		e[0] = 0xF1;
		le_put16(e + 1, (uint16_t)u);
		n = 3;
	} else if (v >= -8388608 && v <= 8388607) {
		e[0] = 0xF2;
		e[1] = (uint8_t)u;
		e[2] = (uint8_t)(u >> 8);
		e[3] = (uint8_t)(u >> 16);
		n = 4;
	} else if (v >= INT32_MIN && v <= INT32_MAX) {
		e[0] = 0xF3;
		le_put32(e + 1, (uint32_t)u);
		n = 5;
	} else {
		e[0] = 0xF4;
		le_put64(e + 1, u);
		n = 9;
	}
	lpb_entry(l, e, n, NULL, 0);
}

static void lpb_str(struct lp_build *l, const void *p, size_t len)
{
	int64_t v;
	uint8_t e[5];
	if (str_to_int64(p, len, &v)) {
		lpb_int(l, v);
		return;
	}
	if (len < 64) {
		e[0] = (uint8_t)(0x80 | len);
		lpb_entry(l, e, 1, p, len);
	} else if (len < 4096) {
		e[0] = (uint8_t)(0xE0 | (len >> 8));
		e[1] = (uint8_t)len;
		lpb_entry(l, e, 2, p, len);
	} else {
		e[0] = 0xF0;
		le_put32(e + 1, (uint32_t)len);
		lpb_entry(l, e, 5, p, len);
	}
}

/* Close the listpack: EOF, total bytes, count. */
static void lpb_finish(struct lp_build *l)
{
	kv_buf_append_char(&l->b, (char)LP_EOF);
	le_put32((uint8_t *)l->b.data, (uint32_t)l->b.len);
	le_put16((uint8_t *)l->b.data + 4,
		 (uint16_t)(l->count < LP_COUNT_UNKNOWN ? l->count : LP_COUNT_UNKNOWN));
}

/* ---- per type ---- */

/* Lists: Redis's quicklist as RPUSH builds it.  A node takes one more
 * element of n bytes while (node bytes + n + 8) stays within the size the
 * fill setting names (-1..-5: 4, 8, 16, 32, 64 KiB), or, for a count fill,
 * while that stays within 8 KiB and the node has fewer elements than the
 * fill.  Elements of 1 GiB or more sit alone in plain nodes. */
#define QL_PLAIN_MIN (1ull << 30)
#define QL_SAFETY 8192u
#define QL_OVERHEAD 8u

static bool ql_allows(int64_t fill, size_t node_bytes, uint64_t node_count, size_t n)
{
	static const size_t levels[] = { 4096, 8192, 16384, 32768, 65536 };
	size_t new_sz = node_bytes + n + QL_OVERHEAD;
	if (fill < 0 && fill >= -(int64_t)KV_ARRAY_LEN(levels))
		return new_sz <= levels[-fill - 1];
	if (new_sz > QL_SAFETY)
		return false;
	return fill >= 0 && node_count < (uint64_t)fill;
}

struct list_dump {
	struct dump_w *w;
	struct kv_buf nodes;      /* the nodes written so far */
	uint64_t nnodes;
	struct lp_build lp;
	bool open;                /* lp holds a node being filled */
	int64_t fill;
};

static void list_dump_close(struct list_dump *d)
{
	if (!d->open)
		return;
	lpb_finish(&d->lp);
	struct kv_buf *save = d->w->out;
	d->w->out = &d->nodes;
	w_len(d->w, QL_PACKED);
	w_string(d->w, d->lp.b.data, d->lp.b.len);
	d->w->out = save;
	d->nnodes++;
	d->open = false;
}

static int list_dump_elem(void *arg, const char *p, size_t len)
{
	struct list_dump *d = arg;
	if (len >= QL_PLAIN_MIN) {
		list_dump_close(d);
		struct kv_buf *save = d->w->out;
		d->w->out = &d->nodes;
		w_len(d->w, QL_PLAIN);
		w_string(d->w, p, len);
		d->w->out = save;
		d->nnodes++;
		return 0;
	}
	if (d->open && !ql_allows(d->fill, lpb_bytes(&d->lp), d->lp.count, len))
		list_dump_close(d);
	if (!d->open) {
		lpb_reset(&d->lp);
		d->open = true;
	}
	lpb_str(&d->lp, p, len);
	return 0;
}

static void dump_list(struct dump_w *w, const struct list *l)
{
	struct list_dump d = { .w = w };
	d.fill = atomic_load_explicit(&kv_encoding.list_max_listpack_size, memory_order_relaxed);
	list_foreach(l, list_dump_elem, &d);
	list_dump_close(&d);
	w_byte(w, T_LIST_QUICKLIST_2);
	w_len(w, d.nnodes);
	kv_buf_append(w->out, d.nodes.data, d.nodes.len);
	kv_buf_free(&d.nodes);
	kv_buf_free(&d.lp.b);
}

struct set_dump {
	struct dump_w *w;
	struct kv_buf blob;
	uint32_t width;
};

static bool set_dump_member(void *arg, const char *m, size_t len)
{
	struct set_dump *d = arg;
	w_string(d->w, m, len);
	return true;
}

static bool set_dump_int(void *arg, const char *m, size_t len)
{
	struct set_dump *d = arg;
	int64_t v = 0;
	uint8_t b[8];
	/* An intset member is always canonical (t_set.h). */
	kv_assert(str_to_int64(m, len, &v));
	if (d->width == 2)
		le_put16(b, (uint16_t)v);
	else if (d->width == 4)
		le_put32(b, (uint32_t)v);
	else
		le_put64(b, (uint64_t)v);
	kv_buf_append(&d->blob, b, d->width);
	return true;
}

static void dump_set(struct dump_w *w, struct kv_set *s)
{
	struct set_dump d = { .w = w };
	if (set_encoding(s) == SET_ENC_INTSET) {
		uint8_t hdr[8];
		d.width = set_intset_width(s);
		le_put32(hdr, d.width);
		le_put32(hdr + 4, (uint32_t)set_size(s));
		kv_buf_append(&d.blob, hdr, sizeof(hdr));
		set_foreach(s, set_dump_int, &d);
		w_byte(w, T_SET_INTSET);
		w_string(w, d.blob.data, d.blob.len);
		kv_buf_free(&d.blob);
		return;
	}
	w_byte(w, T_SET);
	w_len(w, set_size(s));
	set_foreach(s, set_dump_member, &d);
}

/* Redis's double2ll: a score that is an integer within +-2^62 is stored in a
 * listpack as an integer. */
static bool score_as_int(double d, int64_t *out)
{
	if (d < (double)(-INT64_MAX / 2) || d > (double)(INT64_MAX / 2))
		return false;
	int64_t v = (int64_t)d;
	if ((double)v != d)
		return false;
	*out = v;
	return true;
}

static void zset_dump_packed(void *arg, struct kv_slice m, double score)
{
	struct lp_build *lp = arg;
	int64_t v;
	lpb_str(lp, m.ptr, m.len);
	if (score_as_int(score, &v)) {
		lpb_int(lp, v);
		return;
	}
	char buf[40];
	int n = isinf(score) ? snprintf(buf, sizeof(buf), "%s", score > 0 ? "inf" : "-inf")
			     : snprintf(buf, sizeof(buf), "%.17g", score);
	lpb_str(lp, buf, (size_t)n);
}

static void dump_zset(struct dump_w *w, const struct zset *z)
{
	if (strcmp(zset_encoding(z), "listpack") == 0) {
		struct lp_build lp = { KV_BUF_INIT, 0 };
		lpb_reset(&lp);
		zset_foreach(z, zset_dump_packed, &lp);
		lpb_finish(&lp);
		w_byte(w, T_ZSET_LISTPACK);
		w_string(w, lp.b.data, lp.b.len);
		kv_buf_free(&lp.b);
		return;
	}
	w_byte(w, T_ZSET_2);
	w_len(w, zset_len(z));
	struct zset_iter *it = kv_malloc(sizeof(*it));
	struct kv_slice m;
	double score;
	zset_iter_init(z, it, 0, true);
	while (zset_iter_next(it, &m, &score)) {
		uint64_t bits;
		uint8_t b[8];
		w_string(w, m.ptr, m.len);
		memcpy(&bits, &score, sizeof(bits));
		le_put64(b, bits);
		kv_buf_append(w->out, b, 8);
	}
	free(it);
}

static void hash_dump_packed(void *arg, struct kv_slice f, struct kv_slice v)
{
	struct lp_build *lp = arg;
	lpb_str(lp, f.ptr, f.len);
	lpb_str(lp, v.ptr, v.len);
}

static void hash_dump_pair(void *arg, struct kv_slice f, struct kv_slice v)
{
	struct dump_w *w = arg;
	w_string(w, f.ptr, f.len);
	w_string(w, v.ptr, v.len);
}

static void dump_hash(struct dump_w *w, const struct hash_obj *h)
{
	if (hash_encoding(h) == HASH_ENC_PACKED) {
		struct lp_build lp = { KV_BUF_INIT, 0 };
		lpb_reset(&lp);
		hash_foreach(h, hash_dump_packed, &lp);
		lpb_finish(&lp);
		w_byte(w, T_HASH_LISTPACK);
		w_string(w, lp.b.data, lp.b.len);
		kv_buf_free(&lp.b);
		return;
	}
	w_byte(w, T_HASH);
	w_len(w, hash_len(h));
	hash_foreach(h, hash_dump_pair, w);
}

/* Streams: type 19 (RDB_TYPE_STREAM_LISTPACKS_2, Redis 7.0's).  The
 * entries go in listpack nodes of up to SLP_NODE_ENTRIES live entries, each
 * keyed by its first entry's ID (16 bytes big-endian) and holding Redis's
 * layout: the master entry (count, deleted 0, the first entry's field
 * names, 0), then per entry flags, ms and seq deltas from the master ID,
 * the fields (or only the values, SAMEFIELDS, when the names are the
 * master's) and the entry's element count.  Then the stream's counters,
 * and each group with its PEL (ID, delivery time, count) and its consumers
 * (name, seen-time, the IDs they own). */
static void w_raw_id(struct dump_w *w, struct stream_id id)
{
	uint8_t b[16];
	for (int i = 0; i < 8; i++) {
		b[i] = (uint8_t)(id.ms >> (56 - 8 * i));
		b[8 + i] = (uint8_t)(id.seq >> (56 - 8 * i));
	}
	kv_buf_append(w->out, b, sizeof(b));
}

static void w_ms(struct dump_w *w, int64_t t)
{
	uint8_t b[8];
	le_put64(b, (uint64_t)t);
	kv_buf_append(w->out, b, sizeof(b));
}

static void dump_stream_node(struct dump_w *w, struct lp_build *lp, struct stream_iter *it,
			     struct stream_id first, size_t n)
{
	/* The master entry: the first entry's field names. */
	struct kv_buf names = KV_BUF_INIT;
	size_t nmaster = it->nfields;
	lpb_reset(lp);
	lpb_int(lp, (int64_t)n);
	lpb_int(lp, 0);
	lpb_int(lp, (int64_t)nmaster);
	for (size_t i = 0; i < nmaster; i++) {
		lpb_str(lp, it->fv[2 * i].ptr, it->fv[2 * i].len);
		uint64_t len = it->fv[2 * i].len;
		kv_buf_append(&names, &len, sizeof(len));
		kv_buf_append(&names, it->fv[2 * i].ptr, it->fv[2 * i].len);
	}
	lpb_int(lp, 0);
	struct stream_id id = first;
	for (size_t k = 0; k < n; k++) {
		if (k > 0)
			kv_assert(stream_iter_next(it, &id));
		bool same = it->nfields == nmaster;
		size_t at = 0;
		for (size_t i = 0; same && i < nmaster; i++) {
			uint64_t len;
			memcpy(&len, names.data + at, sizeof(len));
			same = len == it->fv[2 * i].len &&
			       memcmp(names.data + at + sizeof(len), it->fv[2 * i].ptr, len) == 0;
			at += sizeof(len) + len;
		}
		lpb_int(lp, same ? SLP_SAMEFIELDS : 0);
		lpb_int(lp, (int64_t)(id.ms - first.ms));
		lpb_int(lp, (int64_t)(id.seq - first.seq));
		if (!same)
			lpb_int(lp, (int64_t)it->nfields);
		for (size_t i = 0; i < it->nfields; i++) {
			if (!same)
				lpb_str(lp, it->fv[2 * i].ptr, it->fv[2 * i].len);
			lpb_str(lp, it->fv[2 * i + 1].ptr, it->fv[2 * i + 1].len);
		}
		lpb_int(lp, (int64_t)(same ? it->nfields + 3 : 2 * it->nfields + 4));
	}
	lpb_finish(lp);
	uint8_t key[16];
	for (int i = 0; i < 8; i++) {
		key[i] = (uint8_t)(first.ms >> (56 - 8 * i));
		key[8 + i] = (uint8_t)(first.seq >> (56 - 8 * i));
	}
	w_string(w, key, sizeof(key));
	w_string(w, lp->b.data, lp->b.len);
	kv_buf_free(&names);
}

static void dump_stream(struct dump_w *w, const struct stream *s)
{
	w_byte(w, T_STREAM_LISTPACKS_2);
	w_len(w, (s->length + SLP_NODE_ENTRIES - 1) / SLP_NODE_ENTRIES);
	struct lp_build lp = { KV_BUF_INIT, 0 };
	struct stream_iter it;
	struct stream_id id;
	uint64_t left = s->length;
	stream_iter_start(&it, s, STREAM_ID_MIN, STREAM_ID_MAX, false);
	while (left && stream_iter_next(&it, &id)) {
		size_t n = left < SLP_NODE_ENTRIES ? (size_t)left : SLP_NODE_ENTRIES;
		dump_stream_node(w, &lp, &it, id, n);
		left -= n;
	}
	stream_iter_stop(&it);
	kv_buf_free(&lp.b);
	w_len(w, s->length);
	w_len(w, s->last_id.ms);
	w_len(w, s->last_id.seq);
	w_len(w, s->first_id.ms);
	w_len(w, s->first_id.seq);
	w_len(w, s->max_deleted_id.ms);
	w_len(w, s->max_deleted_id.seq);
	w_len(w, s->entries_added);
	w_len(w, s->ngroups);
	for (size_t g = 0; g < s->ngroups; g++) {
		const struct stream_group *gr = s->groups[g];
		w_string(w, gr->name, gr->nlen);
		w_len(w, gr->last_id.ms);
		w_len(w, gr->last_id.seq);
		w_len(w, (uint64_t)gr->entries_read);
		w_len(w, gr->pel.len);
		for (size_t i = 0; i < gr->pel.len; i++) {
			const struct stream_nack *n = stream_pel_at(&gr->pel, i);
			w_raw_id(w, n->id);
			w_ms(w, n->delivery_time);
			w_len(w, n->delivery_count);
		}
		w_len(w, gr->ncons);
		for (size_t c = 0; c < gr->ncons; c++) {
			const struct stream_consumer *sc = gr->cons[c];
			w_string(w, sc->name, sc->nlen);
			w_ms(w, sc->seen_time);
			w_len(w, sc->pel.len);
			for (size_t i = 0; i < sc->pel.len; i++)
				w_raw_id(w, stream_pel_at(&sc->pel, i)->id);
		}
	}
}

void rdb_value_dump(const struct kv_entry *e, struct kv_buf *out)
{
	struct dump_w w = { .out = out };
	size_t start = out->len;
	switch (entry_type(e)) {
	case KV_TYPE_STRING: {
		struct kv_slice s = entry_str(e);
		w_byte(&w, T_STRING);
		w_string(&w, s.ptr, s.len);
		break;
	}
	case KV_TYPE_LIST:
		dump_list(&w, entry_obj(e));
		break;
	case KV_TYPE_SET:
		dump_set(&w, entry_obj(e));
		break;
	case KV_TYPE_ZSET:
		dump_zset(&w, entry_obj(e));
		break;
	case KV_TYPE_HASH:
		dump_hash(&w, entry_obj(e));
		break;
	case KV_TYPE_STREAM:
		dump_stream(&w, entry_obj(e));
		break;
	}
	uint8_t foot[RDB_DUMP_FOOTER];
	le_put16(foot, RDB_DUMP_VERSION);
	kv_buf_append(out, foot, 2);
	le_put64(foot + 2, rdb_crc64(0, out->data + start, out->len - start));
	kv_buf_append(out, foot + 2, 8);
	rdb_lzf_table_free(&w.lzf);
	kv_buf_free(&w.tmp);
}

/* ======================================================================
 * Reading
 * ====================================================================== */

int rdb_payload_verify(const void *payload, size_t len)
{
	const uint8_t *p = payload;
	if (len < RDB_DUMP_FOOTER)
		return KV_ECORRUPT;
	const uint8_t *foot = p + len - RDB_DUMP_FOOTER;
	if (le_get16(foot) > RDB_DUMP_VERSION)
		return KV_EVERSION;
	if (rdb_crc64(0, p, len - 8) != le_get64(foot + 2))
		return KV_ECORRUPT;
	return 0;
}

struct rd {
	const uint8_t *p;
	size_t len, pos;
};

static bool rd_byte(struct rd *r, uint8_t *b)
{
	if (r->pos >= r->len)
		return false;
	*b = r->p[r->pos++];
	return true;
}

static bool rd_bytes(struct rd *r, size_t n, const uint8_t **out)
{
	if (n > r->len - r->pos)
		return false;
	*out = r->p + r->pos;
	r->pos += n;
	return true;
}

/* A length, or (*encoded) the 6-bit code of a special string encoding. */
static bool rd_len_enc(struct rd *r, uint64_t *len, bool *encoded)
{
	uint8_t b;
	const uint8_t *q;
	*encoded = false;
	if (!rd_byte(r, &b))
		return false;
	switch (b >> 6) {
	case 0:
		*len = b & 0x3f;
		return true;
	case 1: {
		uint8_t lo;
		if (!rd_byte(r, &lo))
			return false;
		*len = (uint64_t)(b & 0x3f) << 8 | lo;
		return true;
	}
	case 2: {
		size_t n = b == 0x80 ? 4 : b == 0x81 ? 8 : 0;
		if (n == 0 || !rd_bytes(r, n, &q))
			return false;
		uint64_t v = 0;
		for (size_t i = 0; i < n; i++)
			v = v << 8 | q[i];
		*len = v;
		return true;
	}
	default:
		*encoded = true;
		*len = b & 0x3f;
		return true;
	}
}

static bool rd_len(struct rd *r, uint64_t *len)
{
	bool enc;
	return rd_len_enc(r, len, &enc) && !enc;
}

/* A string: *s points into the payload, or into scratch (integers, LZF). */
static bool rd_string(struct rd *r, struct kv_buf *scratch, struct kv_slice *s)
{
	uint64_t len;
	bool enc;
	const uint8_t *q;
	if (!rd_len_enc(r, &len, &enc))
		return false;
	if (!enc) {
		if (!rd_bytes(r, len, &q))
			return false;
		s->ptr = (const char *)q;
		s->len = (size_t)len;
		return true;
	}
	int64_t v;
	switch (len) {
	case ENC_INT8:
		if (!rd_bytes(r, 1, &q))
			return false;
		v = (int8_t)q[0];
		break;
	case ENC_INT16:
		if (!rd_bytes(r, 2, &q))
			return false;
		v = (int16_t)le_get16(q);
		break;
	case ENC_INT32:
		if (!rd_bytes(r, 4, &q))
			return false;
		v = (int32_t)le_get32(q);
		break;
	case ENC_LZF: {
		uint64_t clen, ulen;
		if (!rd_len(r, &clen) || !rd_len(r, &ulen) || !rd_bytes(r, clen, &q))
			return false;
		/* LZF expands at most 264 bytes per 3 input bytes: a larger
		 * claim is corrupt, and refusing it first bounds what a
		 * payload can make kevy allocate. */
		if (ulen > clen * 88 + 32 || ulen > RDB_STRING_MAX)
			return false;
		scratch->len = 0;
		kv_buf_reserve(scratch, (size_t)ulen + 1);
		if (rdb_lzf_decompress(q, (size_t)clen, scratch->data, (size_t)ulen) != 0)
			return false;
		scratch->len = (size_t)ulen;
		s->ptr = scratch->data;
		s->len = scratch->len;
		return true;
	}
	default:
		return false;
	}
	scratch->len = 0;
	char *d = kv_buf_reserve(scratch, 24);
	scratch->len = (size_t)snprintf(d, 24, "%lld", (long long)v);
	s->ptr = scratch->data;
	s->len = scratch->len;
	return true;
}

/* ---- listpack reader (validates as it walks) ---- */

struct lp_iter {
	const uint8_t *lp;
	size_t size, pos;
	uint32_t count, header_count;
};

/* Header checks; the entries are checked by lp_next. */
static bool lp_open(struct lp_iter *it, const void *blob, size_t size)
{
	it->lp = blob;
	it->size = size;
	if (size < LP_HDR + 1 || le_get32(it->lp) != size || it->lp[size - 1] != LP_EOF)
		return false;
	it->pos = LP_HDR;
	it->count = 0;
	it->header_count = le_get16(it->lp + 4);
	return true;
}

/* 1: an element in *e; 0: the end, with the count checked; -1: corrupt. */
static int lp_next(struct lp_iter *it, struct elem *e)
{
	const uint8_t *p = it->lp + it->pos;
	size_t avail = it->size - 1 - it->pos;   /* bytes before the EOF byte */
	if (avail == 0) {
		if (it->header_count != LP_COUNT_UNKNOWN && it->header_count != it->count)
			return -1;
		return 0;
	}
	uint8_t b = p[0];
	size_t hdr, dlen = 0;
	int64_t v = 0;
	bool is_int = true;
	if (b < 0x80) {
		hdr = 1;
		v = b;
	} else if ((b & 0xC0) == 0x80) {
		hdr = 1;
		dlen = b & 0x3f;
		is_int = false;
	} else if ((b & 0xE0) == 0xC0) {
		hdr = 2;
	} else if ((b & 0xF0) == 0xE0) {
		hdr = 2;
		is_int = false;
	} else if (b == 0xF0) {
		hdr = 5;
		is_int = false;
	} else if (b == 0xF1) {
		hdr = 3;
	} else if (b == 0xF2) {
		hdr = 4;
	} else if (b == 0xF3) {
		hdr = 5;
	} else if (b == 0xF4) {
		hdr = 9;
	} else {
		return -1;   /* 0xF5..0xFE, or an EOF before the end */
	}
	if (hdr > avail)
		return -1;
	if ((b & 0xF0) == 0xE0)
		dlen = (size_t)(b & 0x0f) << 8 | p[1];
	else if (b == 0xF0)
		dlen = le_get32(p + 1);
	if (b >= 0xC0 && (b & 0xE0) == 0xC0) {
		uint64_t u = (uint64_t)(b & 0x1f) << 8 | p[1];
		v = u >= 4096 ? (int64_t)u - 8192 : (int64_t)u;
	} else if (b == 0xF1) {
		v = (int16_t)le_get16(p + 1);
	} else if (b == 0xF2) {
		uint32_t u = (uint32_t)p[1] | (uint32_t)p[2] << 8 | (uint32_t)p[3] << 16;
		v = u >= (1u << 23) ? (int64_t)u - (1 << 24) : (int64_t)u;
	} else if (b == 0xF3) {
		v = (int32_t)le_get32(p + 1);
	} else if (b == 0xF4) {
		v = (int64_t)le_get64(p + 1);
	}
	if (dlen > avail - hdr)
		return -1;
	size_t entry = hdr + dlen;
	size_t bl = backlen_size(entry);
	if (bl > avail - entry)
		return -1;
	uint8_t want[5];
	backlen_put(want, entry);
	if (memcmp(want, p + entry, bl) != 0)
		return -1;
	if (is_int) {
		elem_int(e, v);
	} else {
		e->ptr = (const char *)p + hdr;
		e->len = dlen;
	}
	it->pos += entry + bl;
	if (it->count == UINT32_MAX)
		return -1;
	it->count++;
	return 1;
}

/* ---- ziplist reader ---- */

struct zl_iter {
	const uint8_t *zl;
	size_t size, pos, prev_pos, prev_raw;
	uint32_t count, header_count;
	bool any;
};

static bool zl_open(struct zl_iter *it, const void *blob, size_t size)
{
	it->zl = blob;
	it->size = size;
	if (size < ZL_HDR + 1 || le_get32(it->zl) != size || it->zl[size - 1] != 0xFF ||
	    le_get32(it->zl + 4) > size - 1)
		return false;
	it->pos = ZL_HDR;
	it->prev_pos = 0;
	it->prev_raw = 0;
	it->count = 0;
	it->any = false;
	it->header_count = le_get16(it->zl + 8);
	return true;
}

static int zl_next(struct zl_iter *it, struct elem *e)
{
	const uint8_t *zl = it->zl;
	size_t end = it->size - 1;     /* the END byte */
	size_t pos = it->pos;
	if (pos == end) {
		/* The tail offset names the last entry (the END when empty). */
		size_t tail = le_get32(zl + 4);
		if (it->any ? tail != it->prev_pos : tail != ZL_HDR)
			return -1;
		if (it->header_count != 0xFFFF && it->header_count != it->count)
			return -1;
		return 0;
	}
	size_t avail = end - pos;
	size_t prevlen, plsize;
	if (zl[pos] < 254) {
		prevlen = zl[pos];
		plsize = 1;
	} else if (zl[pos] == 254) {
		if (avail < 5)
			return -1;
		prevlen = le_get32(zl + pos + 1);
		plsize = 5;
	} else {
		return -1;
	}
	if (prevlen != it->prev_raw || plsize >= avail)
		return -1;
	const uint8_t *p = zl + pos + plsize;
	avail -= plsize;
	uint8_t b = p[0];
	size_t hdr, dlen = 0;
	int64_t v = 0;
	bool is_int = true;
	switch (b >> 6) {
	case 0:
		hdr = 1;
		dlen = b & 0x3f;
		is_int = false;
		break;
	case 1:
		hdr = 2;
		if (avail < 2)
			return -1;
		dlen = (size_t)(b & 0x3f) << 8 | p[1];
		is_int = false;
		break;
	case 2:
		if (b != 0x80)
			return -1;
		hdr = 5;
		if (avail < 5)
			return -1;
		dlen = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
		is_int = false;
		break;
	default:
		hdr = 1;
		if (b == 0xC0)
			dlen = 2;
		else if (b == 0xD0)
			dlen = 4;
		else if (b == 0xE0)
			dlen = 8;
		else if (b == 0xF0)
			dlen = 3;
		else if (b == 0xFE)
			dlen = 1;
		else if (b >= 0xF1 && b <= 0xFD)
			v = (b & 0x0f) - 1;
		else
			return -1;
		break;
	}
	if (hdr > avail || dlen > avail - hdr)
		return -1;
	const uint8_t *d = p + hdr;
	if (is_int) {
		if (b == 0xC0)
			v = (int16_t)le_get16(d);
		else if (b == 0xD0)
			v = (int32_t)le_get32(d);
		else if (b == 0xE0)
			v = (int64_t)le_get64(d);
		else if (b == 0xF0) {
			uint32_t u = (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16;
			v = u >= (1u << 23) ? (int64_t)u - (1 << 24) : (int64_t)u;
		} else if (b == 0xFE)
			v = (int8_t)d[0];
		elem_int(e, v);
	} else {
		e->ptr = (const char *)d;
		e->len = dlen;
	}
	it->prev_pos = pos;
	it->prev_raw = plsize + hdr + dlen;
	it->pos = pos + it->prev_raw;
	it->any = true;
	if (it->count == UINT32_MAX)
		return -1;
	it->count++;
	return 1;
}

/* One iterator over either blob kind, so each type's loader is written once. */
struct blob_iter {
	bool zip;
	struct lp_iter lp;
	struct zl_iter zl;
};

static bool blob_open(struct blob_iter *it, bool zip, struct kv_slice s)
{
	it->zip = zip;
	return zip ? zl_open(&it->zl, s.ptr, s.len) : lp_open(&it->lp, s.ptr, s.len);
}

static int blob_next(struct blob_iter *it, struct elem *e)
{
	return it->zip ? zl_next(&it->zl, e) : lp_next(&it->lp, e);
}

/* ---- building values ---- */

struct load {
	struct rd r;
	struct kv_buf s1, s2;   /* scratch for decoded strings */
	struct rdb_value *v;
};

static bool load_list_elem(struct load *ld, const char *p, size_t len)
{
	if (!ld->v->obj)
		ld->v->obj = list_new();
	list_push(ld->v->obj, LIST_TAIL, p, len);
	return true;
}

static bool load_set_member(struct load *ld, const char *p, size_t len)
{
	struct kv_set *s = ld->v->obj ? ld->v->obj : set_create();
	bool added = set_add(&s, p, len, NULL);
	ld->v->obj = s;
	return added;
}

static bool load_hash_pair(struct load *ld, struct kv_slice f, struct kv_slice val)
{
	struct hash_obj *h = ld->v->obj ? ld->v->obj : hash_new();
	bool added = false;
	struct hash_obj *n = hash_set(h, f.ptr, f.len, val.ptr, val.len, &added);
	if (n != h)
		hash_free(h);
	ld->v->obj = n;
	return added;
}

static bool load_zset_elem(struct load *ld, struct kv_slice m, double score)
{
	if (isnan(score))
		return false;
	struct zset *z = ld->v->obj ? ld->v->obj : zset_new();
	struct zset *old = z;
	double ns;
	int r = zset_add(&z, score, m.ptr, m.len, 0, &ns);
	if (r & ZADD_OUT_MOVED)
		zset_free(old);
	ld->v->obj = z;
	return (r & ZADD_OUT_ADDED) != 0;
}

/* A score written as text (types 3, 12 and 17): what strtod reads of all of
 * it; "inf"/"-inf" included, NaN refused. */
static bool parse_score(const char *p, size_t len, double *out)
{
	char buf[256];
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, p, len);
	buf[len] = '\0';
	char *end;
	double d = strtod(buf, &end);
	if (end != buf + len || isnan(d))
		return false;
	*out = d;
	return true;
}

static bool load_string_value(struct load *ld)
{
	struct kv_slice s;
	if (!rd_string(&ld->r, &ld->s1, &s))
		return false;
	kv_buf_append(&ld->v->str, s.ptr, s.len);
	return true;
}

static bool load_plain_list(struct load *ld)
{
	uint64_t n;
	struct kv_slice s;
	if (!rd_len(&ld->r, &n) || n == 0)
		return false;
	while (n--)
		if (!rd_string(&ld->r, &ld->s1, &s) || !load_list_elem(ld, s.ptr, s.len))
			return false;
	return true;
}

static bool load_plain_set(struct load *ld)
{
	uint64_t n;
	struct kv_slice s;
	if (!rd_len(&ld->r, &n) || n == 0)
		return false;
	while (n--)
		if (!rd_string(&ld->r, &ld->s1, &s) || !load_set_member(ld, s.ptr, s.len))
			return false;
	return true;
}

static bool load_plain_hash(struct load *ld)
{
	uint64_t n;
	struct kv_slice f, v;
	if (!rd_len(&ld->r, &n) || n == 0)
		return false;
	while (n--)
		if (!rd_string(&ld->r, &ld->s1, &f) || !rd_string(&ld->r, &ld->s2, &v) ||
		    !load_hash_pair(ld, f, v))
			return false;
	return true;
}

static bool load_plain_zset(struct load *ld, bool binary)
{
	uint64_t n;
	struct kv_slice m;
	if (!rd_len(&ld->r, &n) || n == 0)
		return false;
	while (n--) {
		double score;
		const uint8_t *q;
		if (!rd_string(&ld->r, &ld->s1, &m))
			return false;
		if (binary) {
			if (!rd_bytes(&ld->r, 8, &q))
				return false;
			uint64_t bits = le_get64(q);
			memcpy(&score, &bits, sizeof(score));
		} else {
			uint8_t len;
			if (!rd_byte(&ld->r, &len))
				return false;
			if (len == 253)
				return false;   /* NaN */
			if (len == 254 || len == 255) {
				score = len == 254 ? INFINITY : -INFINITY;
			} else if (!rd_bytes(&ld->r, len, &q) ||
				   !parse_score((const char *)q, len, &score)) {
				return false;
			}
		}
		if (!load_zset_elem(ld, m, score))
			return false;
	}
	return true;
}

/* The elements of one listpack or ziplist appended to the list; *count
 * gets how many. */
static bool load_list_blob(struct load *ld, struct kv_slice blob, bool zip, uint64_t *count)
{
	struct blob_iter it;
	struct elem e;
	int r;
	if (!blob_open(&it, zip, blob))
		return false;
	*count = 0;
	while ((r = blob_next(&it, &e)) == 1) {
		load_list_elem(ld, e.ptr, e.len);
		(*count)++;
	}
	return r == 0;
}

/* Types 14 and 18: a sequence of nodes.  Empty packed nodes are skipped, as
 * Redis does, but the list as a whole must not be empty. */
static bool load_quicklist(struct load *ld, bool v2)
{
	uint64_t nodes, total = 0;
	if (!rd_len(&ld->r, &nodes) || nodes == 0)
		return false;
	while (nodes--) {
		uint64_t container = QL_PACKED, n;
		struct kv_slice blob;
		if (v2 && (!rd_len(&ld->r, &container) ||
			   (container != QL_PACKED && container != QL_PLAIN)))
			return false;
		if (!rd_string(&ld->r, &ld->s1, &blob) || blob.len == 0)
			return false;
		if (container == QL_PLAIN) {
			load_list_elem(ld, blob.ptr, blob.len);
			total++;
			continue;
		}
		if (!load_list_blob(ld, blob, !v2, &n))
			return false;
		total += n;
	}
	return total > 0;
}

/* Types 12, 13, 16, 17: a blob of (field, value) or (member, score) pairs. */
static bool load_pairs(struct load *ld, bool zip, bool zset)
{
	struct kv_slice blob;
	struct blob_iter it;
	struct elem a, b;
	int r;
	uint64_t n = 0;
	if (!rd_string(&ld->r, &ld->s1, &blob) || !blob_open(&it, zip, blob))
		return false;
	while ((r = blob_next(&it, &a)) == 1) {
		if (blob_next(&it, &b) != 1)
			return false;
		struct kv_slice first = { a.ptr, a.len }, second = { b.ptr, b.len };
		if (zset) {
			double score;
			if (!parse_score(b.ptr, b.len, &score) || !load_zset_elem(ld, first, score))
				return false;
		} else if (!load_hash_pair(ld, first, second)) {
			return false;
		}
		n++;
	}
	return r == 0 && n > 0;
}

/* Type 11: the blob's members, which must be strictly ascending. */
static bool load_intset(struct load *ld)
{
	struct kv_slice blob;
	if (!rd_string(&ld->r, &ld->s1, &blob) || blob.len < 8)
		return false;
	const uint8_t *p = (const uint8_t *)blob.ptr;
	uint32_t width = le_get32(p), count = le_get32(p + 4);
	if ((width != 2 && width != 4 && width != 8) || count == 0 ||
	    (uint64_t)count * width != blob.len - 8)
		return false;
	int64_t prev = 0;
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *q = p + 8 + (size_t)i * width;
		int64_t v = width == 2 ? (int16_t)le_get16(q)
			  : width == 4 ? (int32_t)le_get32(q) : (int64_t)le_get64(q);
		if (i > 0 && v <= prev)
			return false;
		prev = v;
		struct elem e;
		elem_int(&e, v);
		if (!load_set_member(ld, e.ptr, e.len))
			return false;
	}
	return true;
}

/* ---- streams (types 15 and 19) ---- */

/* The next listpack element as an integer. */
static bool lp_next_int(struct lp_iter *it, int64_t *v)
{
	struct elem e;
	return lp_next(it, &e) == 1 && str_to_int64(e.ptr, e.len, v);
}

/* The next element's bytes appended to buf as (u64 length, bytes). */
static bool lp_next_keep(struct lp_iter *it, struct kv_buf *buf)
{
	struct elem e;
	if (lp_next(it, &e) != 1)
		return false;
	uint64_t len = e.len;
	kv_buf_append(buf, &len, sizeof(len));
	kv_buf_append(buf, e.ptr, e.len);
	return true;
}

/* Slices over (u64 length, bytes) records of buf from offset `at`. */
static void kept_slices(const struct kv_buf *buf, size_t at, struct kv_slice *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t len;
		memcpy(&len, buf->data + at, sizeof(len));
		out[i] = (struct kv_slice){ buf->data + at + sizeof(len), len };
		at += sizeof(len) + len;
	}
}

static struct stream_id id_from_be(const uint8_t *p)
{
	struct stream_id id = { 0, 0 };
	for (int i = 0; i < 8; i++) {
		id.ms = id.ms << 8 | p[i];
		id.seq = id.seq << 8 | p[8 + i];
	}
	return id;
}

/* One listpack node: its live entries appended to s (IDs strictly
 * increasing across the whole stream, *have_prev / *prev tracking the last
 * one, tombstones included). */
static bool load_stream_node(struct stream *s, struct stream_id master, struct kv_slice blob,
			     bool *have_prev, struct stream_id *prev)
{
	struct lp_iter it;
	int64_t count, deleted, nmaster, zero;
	if (!lp_open(&it, blob.ptr, blob.len) || !lp_next_int(&it, &count) ||
	    !lp_next_int(&it, &deleted) || !lp_next_int(&it, &nmaster) || count < 0 ||
	    deleted < 0 || nmaster < 0 || (uint64_t)nmaster > blob.len)
		return false;
	struct kv_buf master_names = KV_BUF_INIT, fields = KV_BUF_INIT;
	struct kv_slice *fv = NULL;
	bool ok = false;
	for (int64_t i = 0; i < nmaster; i++)
		if (!lp_next_keep(&it, &master_names))
			goto out;
	if (!lp_next_int(&it, &zero) || zero != 0)
		goto out;
	int64_t live = 0, dead = 0;
	for (;;) {
		struct elem e;
		int r = lp_next(&it, &e);
		if (r == 0)
			break;
		int64_t flags, dms, dseq, nf, lpcount;
		if (r < 0 || !str_to_int64(e.ptr, e.len, &flags) || (flags & ~3) ||
		    !lp_next_int(&it, &dms) || !lp_next_int(&it, &dseq))
			goto out;
		bool same = flags & SLP_SAMEFIELDS;
		if (same)
			nf = nmaster;
		else if (!lp_next_int(&it, &nf) || nf < 0 || (uint64_t)nf > blob.len)
			goto out;
		if (nf == 0)
			goto out;
		kv_buf_clear(&fields);
		for (int64_t i = 0; i < nf; i++)
			if ((!same && !lp_next_keep(&it, &fields)) || !lp_next_keep(&it, &fields))
				goto out;
		if (!lp_next_int(&it, &lpcount) || lpcount != (same ? nf + 3 : 2 * nf + 4))
			goto out;
		struct stream_id id = { master.ms + (uint64_t)dms, master.seq + (uint64_t)dseq };
		if ((*have_prev && stream_id_cmp(id, *prev) <= 0) || stream_id_is_zero(id))
			goto out;
		*have_prev = true;
		*prev = id;
		if (flags & SLP_DELETED) {
			dead++;
			continue;
		}
		live++;
		fv = kv_realloc(fv, (size_t)nf * 2 * sizeof(*fv));
		if (same) {
			size_t an = 0, av = 0;
			for (int64_t i = 0; i < nf; i++) {
				kept_slices(&master_names, an, &fv[2 * i], 1);
				kept_slices(&fields, av, &fv[2 * i + 1], 1);
				an += sizeof(uint64_t) + fv[2 * i].len;
				av += sizeof(uint64_t) + fv[2 * i + 1].len;
			}
		} else {
			kept_slices(&fields, 0, fv, (size_t)nf * 2);
		}
		stream_append(s, id, fv, (size_t)nf);
	}
	ok = live == count && dead == deleted && live + dead > 0;
out:
	free(fv);
	kv_buf_free(&master_names);
	kv_buf_free(&fields);
	return ok;
}

struct pel_tmp {
	struct stream_id id;
	int64_t time;
	uint64_t count;
	bool owned;
};

static bool rd_ms(struct rd *r, int64_t *t)
{
	const uint8_t *q;
	if (!rd_bytes(r, 8, &q))
		return false;
	*t = (int64_t)le_get64(q);
	return true;
}

static bool load_stream(struct load *ld, bool v2)
{
	struct rdb_value *v = ld->v;
	struct stream *s = stream_new();
	v->type = KV_TYPE_STREAM;
	v->obj = s;
	uint64_t nodes, length;
	struct stream_id last, first, maxdel = STREAM_ID_MIN, prev = STREAM_ID_MIN;
	uint64_t added;
	bool have_prev = false;
	if (!rd_len(&ld->r, &nodes))
		return false;
	while (nodes--) {
		struct kv_slice key, blob;
		if (!rd_string(&ld->r, &ld->s1, &key) || key.len != 16)
			return false;
		struct stream_id master = id_from_be((const uint8_t *)key.ptr);
		if (!rd_string(&ld->r, &ld->s2, &blob) ||
		    !load_stream_node(s, master, blob, &have_prev, &prev))
			return false;
	}
	if (!rd_len(&ld->r, &length) || !rd_len(&ld->r, &last.ms) || !rd_len(&ld->r, &last.seq))
		return false;
	if (v2) {
		if (!rd_len(&ld->r, &first.ms) || !rd_len(&ld->r, &first.seq) ||
		    !rd_len(&ld->r, &maxdel.ms) || !rd_len(&ld->r, &maxdel.seq) ||
		    !rd_len(&ld->r, &added))
			return false;
	} else {
		added = length;
	}
	if (length != s->length || added < length || (have_prev && stream_id_cmp(prev, last) > 0))
		return false;
	s->last_id = last;
	s->max_deleted_id = maxdel;
	s->entries_added = added;
	uint64_t ngroups;
	if (!rd_len(&ld->r, &ngroups))
		return false;
	struct pel_tmp *pel = NULL;
	bool ok = false;
	while (ngroups--) {
		struct kv_slice name;
		struct stream_id glast;
		uint64_t er, npel, ncons;
		if (!rd_string(&ld->r, &ld->s1, &name) || !rd_len(&ld->r, &glast.ms) ||
		    !rd_len(&ld->r, &glast.seq))
			goto out;
		if (v2) {
			if (!rd_len(&ld->r, &er))
				goto out;
		} else {
			er = (uint64_t)stream_estimate_distance(s, glast);
		}
		struct stream_group *g = stream_group_create(s, name.ptr, name.len, glast,
							     (int64_t)er);
		if (!g || !rd_len(&ld->r, &npel) || npel > ld->r.len)
			goto out;
		free(pel);
		pel = kv_calloc(npel ? npel : 1, sizeof(*pel));
		for (uint64_t i = 0; i < npel; i++) {
			const uint8_t *q;
			if (!rd_bytes(&ld->r, 16, &q) || !rd_ms(&ld->r, &pel[i].time) ||
			    !rd_len(&ld->r, &pel[i].count))
				goto out;
			pel[i].id = id_from_be(q);
			if (i > 0 && stream_id_cmp(pel[i].id, pel[i - 1].id) <= 0)
				goto out;
		}
		if (!rd_len(&ld->r, &ncons))
			goto out;
		uint64_t owned = 0;
		while (ncons--) {
			struct kv_slice cname;
			int64_t seen;
			uint64_t nids;
			if (!rd_string(&ld->r, &ld->s1, &cname) || !rd_ms(&ld->r, &seen))
				goto out;
			struct stream_consumer *c = stream_consumer_create(s, g, cname.ptr, cname.len,
									   seen);
			if (!c || !rd_len(&ld->r, &nids))
				goto out;
			for (uint64_t i = 0; i < nids; i++) {
				const uint8_t *q;
				if (!rd_bytes(&ld->r, 16, &q))
					goto out;
				struct stream_id id = id_from_be(q);
				size_t lo = 0, hi = npel;
				while (lo < hi) {
					size_t mid = (lo + hi) / 2;
					if (stream_id_cmp(pel[mid].id, id) < 0)
						lo = mid + 1;
					else
						hi = mid;
				}
				if (lo == npel || stream_id_cmp(pel[lo].id, id) != 0 || pel[lo].owned)
					goto out;
				pel[lo].owned = true;
				owned++;
				stream_nack_add(s, g, c, id, pel[lo].time, pel[lo].count);
			}
		}
		if (owned != npel)   /* a pending entry with no consumer */
			goto out;
	}
	ok = true;
out:
	free(pel);
	return ok;
}

static bool load_by_type(struct load *ld, uint8_t type)
{
	struct rdb_value *v = ld->v;
	switch (type) {
	case T_STRING:
		v->type = KV_TYPE_STRING;
		return load_string_value(ld);
	case T_LIST:
		v->type = KV_TYPE_LIST;
		return load_plain_list(ld);
	case T_LIST_ZIPLIST: {
		struct kv_slice blob;
		uint64_t n;
		v->type = KV_TYPE_LIST;
		return rd_string(&ld->r, &ld->s1, &blob) && load_list_blob(ld, blob, true, &n) &&
		       n > 0;
	}
	case T_LIST_QUICKLIST:
	case T_LIST_QUICKLIST_2:
		v->type = KV_TYPE_LIST;
		return load_quicklist(ld, type == T_LIST_QUICKLIST_2);
	case T_SET:
		v->type = KV_TYPE_SET;
		return load_plain_set(ld);
	case T_SET_INTSET:
		v->type = KV_TYPE_SET;
		return load_intset(ld);
	case T_ZSET:
	case T_ZSET_2:
		v->type = KV_TYPE_ZSET;
		return load_plain_zset(ld, type == T_ZSET_2);
	case T_ZSET_ZIPLIST:
	case T_ZSET_LISTPACK:
		v->type = KV_TYPE_ZSET;
		return load_pairs(ld, type == T_ZSET_ZIPLIST, true);
	case T_HASH:
		v->type = KV_TYPE_HASH;
		return load_plain_hash(ld);
	case T_HASH_ZIPLIST:
	case T_HASH_LISTPACK:
		v->type = KV_TYPE_HASH;
		return load_pairs(ld, type == T_HASH_ZIPLIST, false);
	case T_STREAM_LISTPACKS:
	case T_STREAM_LISTPACKS_2:
		return load_stream(ld, type == T_STREAM_LISTPACKS_2);
	default:
		return false;
	}
}

void rdb_value_release(struct rdb_value *v)
{
	if (v->obj) {
		switch (v->type) {
		case KV_TYPE_LIST: list_free(v->obj); break;
		case KV_TYPE_SET: set_free(v->obj); break;
		case KV_TYPE_ZSET: zset_free(v->obj); break;
		case KV_TYPE_HASH: hash_free(v->obj); break;
		case KV_TYPE_STREAM: stream_free(v->obj); break;
		case KV_TYPE_STRING: break;
		}
	}
	v->obj = NULL;
	kv_buf_free(&v->str);
}

int rdb_value_load(const void *payload, size_t len, struct rdb_value *out)
{
	memset(out, 0, sizeof(*out));
	if (len < RDB_DUMP_FOOTER + 1)
		return KV_ECORRUPT;
	struct load ld = { .r = { payload, len - RDB_DUMP_FOOTER, 0 }, .v = out };
	uint8_t type;
	bool ok = rd_byte(&ld.r, &type) && load_by_type(&ld, type) && ld.r.pos == ld.r.len;
	kv_buf_free(&ld.s1);
	kv_buf_free(&ld.s2);
	if (!ok) {
		rdb_value_release(out);
		return KV_ECORRUPT;
	}
	return 0;
}
