/*
 * test_snap_format.c - the snapshot format: every type and deadline round
 * trips exactly through writer -> reader -> loader (keys of 100k elements
 * and a 5 MB string spanning many blocks, binary keys, zset scores -0, inf,
 * -inf and denormals); every prefix and every single-bit flip of a small
 * multi-block snapshot is refused as corrupt; header mismatches and versions
 * are named; a verified oversized block is refused before anything is
 * allocated for it; a block that decompresses to another size is refused;
 * the writer holds about one block of raw bytes however large the dataset.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "base/le.h"
#include "persist/snap_format.h"
#include "store/store.h"
#include "store/t_hash.h"
#include "store/t_list.h"
#include "store/t_set.h"
#include "store/t_zset.h"
#include "store/t_stream.h"

static const uint8_t DATASET[SNAP_DATASET_ID_LEN] = {
	0x6b, 0x65, 0x76, 0x79, 0x53, 0x4e, 0x50, 0x04,
	0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
};
#define LSN 4242
#define TIME_MS 1795000000123LL
#define DEADLINE (TIME_MS + 3600 * 1000)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void header_for(struct file_header *h, uint32_t shard, uint32_t count, uint64_t gen)
{
	snap_header_init(h, DATASET, shard, count, gen, LSN, TIME_MS);
}

/* ---- building values ---- */

static void put_list(struct kv_db *db, const char *key, size_t n, size_t elem_len,
		     int64_t deadline)
{
	struct list *l = list_new();
	char buf[256];
	for (size_t i = 0; i < n; i++) {
		int len = i % 3 == 0 ? snprintf(buf, sizeof(buf), "%zu", i)
				     : snprintf(buf, sizeof(buf), "e%zu-%0*d", i,
						(int)(elem_len % 200), 7);
		list_push(l, LIST_TAIL, buf, (size_t)len);
	}
	db_set_object(db, key, strlen(key), KV_TYPE_LIST, l, deadline);
}

static void put_set(struct kv_db *db, const char *key, size_t n, bool ints, int64_t deadline)
{
	struct kv_set *s = set_create();
	char buf[64];
	for (size_t i = 0; i < n; i++) {
		int len = ints ? snprintf(buf, sizeof(buf), "%zu", i * 7)
			       : snprintf(buf, sizeof(buf), "member:%zu", i);
		set_add(&s, buf, (size_t)len, NULL);
	}
	db_set_object(db, key, strlen(key), KV_TYPE_SET, s, deadline);
}

static void put_hash(struct kv_db *db, const char *key, size_t n, int64_t deadline)
{
	struct hash_obj *h = hash_new();
	char f[64], v[64];
	for (size_t i = 0; i < n; i++) {
		int fl = snprintf(f, sizeof(f), "field%zu", i);
		int vl = snprintf(v, sizeof(v), "value-%zu", i * 31);
		bool added;
		struct hash_obj *nh = hash_set(h, f, (size_t)fl, v, i % 5 == 0 ? 0 : (size_t)vl,
					       &added);
		if (nh != h)
			hash_free(h);
		h = nh;
	}
	db_set_object(db, key, strlen(key), KV_TYPE_HASH, h, deadline);
}

static void zadd(struct zset **z, double score, const char *m, size_t len)
{
	struct zset *before = *z;
	double ns;
	assert_true(zset_add(z, score, m, len, 0, &ns) & ZADD_OUT_ADDED);
	if (*z != before)
		zset_free(before);
}

static void put_zset(struct kv_db *db, const char *key, size_t n, int64_t deadline)
{
	struct zset *z = zset_new();
	char m[64];
	zadd(&z, -0.0, "negzero", 7);
	zadd(&z, INFINITY, "inf", 3);
	zadd(&z, -INFINITY, "-inf", 4);
	zadd(&z, 4.9406564584124654e-324, "denormal", 8);
	zadd(&z, -DBL_MIN / 4, "negdenormal", 11);
	zadd(&z, DBL_MAX, "max", 3);
	for (size_t i = 0; i < n; i++) {
		int len = snprintf(m, sizeof(m), "zm%zu", i);
		zadd(&z, (double)(rnd() % 100000) / 7.0 - 5000.0, m, (size_t)len);
	}
	/* Added once the zset is a skiplist (if it became one), which keeps -0. */
	zadd(&z, -0.0, "negzero-late", 12);
	db_set_object(db, key, strlen(key), KV_TYPE_ZSET, z, deadline);
}

/* A stream of n entries (some deleted), with counters, two groups,
 * consumers and pending entries, one of them for a deleted entry. */
static void put_stream(struct kv_db *db, const char *key, size_t n, int64_t deadline)
{
	struct stream *s = stream_new();
	char f[32], v[32];
	for (size_t i = 0; i < n; i++) {
		int fl = snprintf(f, sizeof(f), "f%zu", i % 3);
		int vl = snprintf(v, sizeof(v), "v%zu", i);
		struct kv_slice fv[4] = { { f, (size_t)fl }, { v, (size_t)vl }, { "x", 1 }, { "", 0 } };
		stream_append(s, (struct stream_id){ 1000 + i / 2, i % 2 }, fv, i % 4 == 0 ? 2 : 1);
	}
	if (n > 4) {
		assert_true(stream_delete(s, (struct stream_id){ 1001, 0 }));
		s->max_deleted_id = (struct stream_id){ 1001, 0 };
	}
	s->last_id.seq += 5;
	s->entries_added += 7;
	struct stream_group *g = stream_group_create(s, "g1", 2, (struct stream_id){ 1001, 1 }, 4);
	stream_group_create(s, "g0", 2, STREAM_ID_MIN, STREAM_ENTRIES_READ_INVALID);
	struct stream_consumer *c1 = stream_consumer_create(s, g, "alice", 5, 123456);
	stream_consumer_create(s, g, "bob", 3, 7);
	for (size_t i = 0; i < n && i < 6; i++)
		stream_nack_add(s, g, c1, (struct stream_id){ 1000 + i / 2, i % 2 }, 1000 + (int64_t)i,
				i + 1);
	assert_int_equal(stream_check(s), 0);
	db_set_object(db, key, strlen(key), KV_TYPE_STREAM, s, deadline);
}

/* ---- writing and reading whole files ---- */

static void drain(struct snap_writer *w, struct kv_buf *file)
{
	struct kv_buf piece = KV_BUF_INIT;
	while (snap_writer_take_block(w, &piece))
		kv_buf_append(file, piece.data, piece.len);
	kv_buf_free(&piece);
}

static void write_one(void *arg, const struct kv_entry *e)
{
	snap_writer_add_entry(arg, e);
}

/* Snapshot db into file (appended). */
static void snapshot_db(struct kv_db *db, const struct file_header *h, size_t target,
			struct kv_buf *file, uint64_t *blocks)
{
	struct snap_writer w;
	snap_writer_init(&w, h, target, 1);
	uint64_t cursor = 0;
	do {
		cursor = db_scan(db, cursor, 0, write_one, &w);
		drain(&w, file);
	} while (cursor != 0);
	assert_int_equal(snap_writer_finish(&w), 0);
	drain(&w, file);
	/* About one block of raw bytes, whatever the dataset. */
	assert_true(snap_writer_raw_peak(&w) <= w.target + 1);
	if (blocks)
		*blocks = w.blocks;
	snap_writer_free(&w);
}

struct read_stats {
	uint64_t fragments;
	uint64_t split_keys;      /* keys that came in more than one fragment */
	uint64_t max_mem;
	int loader_rc;
};

/* Read file[0..n) in chunks of `chunk` bytes; fragments go to a loader on db
 * when db is not NULL.  Returns the reader's final code. */
static int read_file(const void *p, size_t n, const struct file_expect *exp, size_t max_raw,
		     size_t chunk, struct kv_db *db, struct snap_verdict *vout,
		     struct read_stats *st)
{
	struct snap_reader_config cfg = { .max_raw = max_raw, .expect = exp };
	struct snap_reader r;
	struct snap_loader l;
	struct snap_fragment f;
	struct read_stats local = { 0 };
	size_t off = 0;
	int rc;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	snap_reader_init(&r, &cfg);
	struct kv_dbs one = { .n = 1, .db = &db };   /* db as database 0 */
	if (db)
		snap_loader_init(&l, &one);
	for (;;) {
		rc = snap_reader_next(&r, &f);
		st->max_mem = KV_MAX(st->max_mem, snap_reader_mem(&r));
		if (rc == SNAP_FRAGMENT) {
			st->fragments++;
			if (f.last && !f.first)
				st->split_keys++;
			if (db && st->loader_rc == 0)
				st->loader_rc = snap_loader_apply(&l, &f);
			continue;
		}
		if (rc != SNAP_NEED_MORE)
			break;
		if (off == n) {
			snap_reader_eof(&r);
			continue;
		}
		void *dst;
		size_t room = snap_reader_space(&r, &dst);
		size_t take = KV_MIN(KV_MIN(room, chunk), n - off);
		memcpy(dst, (const uint8_t *)p + off, take);
		snap_reader_wrote(&r, take);
		off += take;
	}
	if (vout)
		*vout = *snap_reader_verdict(&r);
	if (db)
		snap_loader_free(&l);
	snap_reader_free(&r);
	return rc;
}

/* Read file[0..n) at once through snap_load_fragment(), as the server
 * (db) and kevy-check (db NULL: verify only) do.  Returns the reader's
 * final code; *vout its verdict. */
static int load_file(const void *p, size_t n, struct kv_db *db, struct snap_verdict *vout)
{
	struct snap_reader r;
	struct snap_loader l;
	struct snap_fragment f;
	struct kv_dbs one = { .n = 1, .db = &db };
	int rc;

	snap_reader_init(&r, NULL);
	snap_loader_init(&l, db ? &one : NULL);
	assert_int_equal(snap_reader_feed(&r, p, n), n);
	snap_reader_eof(&r);
	while ((rc = snap_reader_next(&r, &f)) == SNAP_FRAGMENT)
		snap_load_fragment(&r, &l, &f);
	*vout = *snap_reader_verdict(&r);
	snap_loader_free(&l);
	snap_reader_free(&r);
	return rc;
}

/* ---- comparing keyspaces exactly ---- */

struct cmp {
	struct kv_db *other;
	uint64_t seen;
};

static void cmp_entry(void *arg, const struct kv_entry *a)
{
	struct cmp *c = arg;
	struct kv_slice k = entry_key(a);
	struct kv_entry *b = db_lookup(c->other, k.ptr, k.len, 0);
	c->seen++;
	assert_non_null(b);
	assert_int_equal(entry_type(a), entry_type(b));
	assert_int_equal(entry_expire(a), entry_expire(b));
	switch (entry_type(a)) {
	case KV_TYPE_STRING: {
		struct kv_slice sa = entry_str(a), sb = entry_str(b);
		assert_int_equal(sa.len, sb.len);
		assert_memory_equal(sa.ptr, sb.ptr, sa.len);
		break;
	}
	case KV_TYPE_LIST: {
		struct list *la = entry_obj(a), *lb = entry_obj(b);
		assert_int_equal(list_len(la), list_len(lb));
		struct list_iter ia, ib;
		struct list_elem ea, eb;
		list_iter_init(&ia, la, 0, true);
		list_iter_init(&ib, lb, 0, true);
		while (list_iter_next(&ia, &ea)) {
			assert_true(list_iter_next(&ib, &eb));
			assert_int_equal(ea.len, eb.len);
			assert_memory_equal(ea.ptr, eb.ptr, ea.len);
		}
		assert_false(list_iter_next(&ib, &eb));
		assert_int_equal(list_verify(lb), 0);
		break;
	}
	case KV_TYPE_SET: {
		struct kv_set *sa = entry_obj(a), *sb = entry_obj(b);
		assert_int_equal(set_size(sa), set_size(sb));
		assert_int_equal(set_encoding(sa), set_encoding(sb));
		break;
	}
	case KV_TYPE_HASH: {
		struct hash_obj *ha = entry_obj(a), *hb = entry_obj(b);
		assert_int_equal(hash_len(ha), hash_len(hb));
		assert_int_equal(hash_encoding(ha), hash_encoding(hb));
		hash_check(hb);
		break;
	}
	case KV_TYPE_ZSET: {
		struct zset *za = entry_obj(a), *zb = entry_obj(b);
		assert_int_equal(zset_len(za), zset_len(zb));
		/* Before any lookup: a lookup may step the table's rehash, which
		 * the memory count only sees at the next change. */
		assert_int_equal(zset_check(zb), 0);
		struct zset_iter it;
		struct kv_slice m;
		double s, t;
		zset_iter_init(za, &it, 0, false);
		while (zset_iter_next(&it, &m, &s)) {
			assert_true(zset_score(zb, m.ptr, m.len, &t));
			assert_memory_equal(&s, &t, sizeof(s));   /* the exact bits */
		}
		break;
	}
	case KV_TYPE_STREAM: {
		struct stream *sa = entry_obj(a), *sb = entry_obj(b);
		assert_int_equal(stream_check(sb), 0);
		assert_int_equal(sa->length, sb->length);
		assert_int_equal(stream_id_cmp(sa->last_id, sb->last_id), 0);
		assert_int_equal(stream_id_cmp(sa->first_id, sb->first_id), 0);
		assert_int_equal(stream_id_cmp(sa->max_deleted_id, sb->max_deleted_id), 0);
		assert_int_equal(sa->entries_added, sb->entries_added);
		struct stream_iter ia, ib;
		struct stream_id x, y;
		stream_iter_start(&ia, sa, STREAM_ID_MIN, STREAM_ID_MAX, false);
		stream_iter_start(&ib, sb, STREAM_ID_MIN, STREAM_ID_MAX, false);
		while (stream_iter_next(&ia, &x)) {
			assert_true(stream_iter_next(&ib, &y));
			assert_int_equal(stream_id_cmp(x, y), 0);
			assert_int_equal(ia.nfields, ib.nfields);
			for (size_t i = 0; i < ia.nfields * 2; i++) {
				assert_int_equal(ia.fv[i].len, ib.fv[i].len);
				assert_memory_equal(ia.fv[i].ptr, ib.fv[i].ptr, ia.fv[i].len);
			}
		}
		assert_false(stream_iter_next(&ib, &y));
		stream_iter_stop(&ia);
		stream_iter_stop(&ib);
		assert_int_equal(sa->ngroups, sb->ngroups);
		for (size_t g = 0; g < sa->ngroups; g++) {
			const struct stream_group *ga = sa->groups[g], *gb = sb->groups[g];
			assert_int_equal(ga->nlen, gb->nlen);
			assert_memory_equal(ga->name, gb->name, ga->nlen);
			assert_int_equal(stream_id_cmp(ga->last_id, gb->last_id), 0);
			assert_int_equal(ga->entries_read, gb->entries_read);
			assert_int_equal(ga->ncons, gb->ncons);
			assert_int_equal(ga->pel.len, gb->pel.len);
			for (size_t i = 0; i < ga->pel.len; i++) {
				const struct stream_nack *na = stream_pel_at(&ga->pel, i);
				const struct stream_nack *nb = stream_pel_at(&gb->pel, i);
				assert_int_equal(stream_id_cmp(na->id, nb->id), 0);
				assert_int_equal(na->delivery_time, nb->delivery_time);
				assert_int_equal(na->delivery_count, nb->delivery_count);
				assert_int_equal(na->consumer->nlen, nb->consumer->nlen);
			}
			for (size_t i = 0; i < ga->ncons; i++)
				assert_int_equal(ga->cons[i]->seen_time, gb->cons[i]->seen_time);
		}
		break;
	}
	}
}

/* Set members and hash fields are checked from a's side with the type's
 * foreach (the iterators above cover order-sensitive types). */
struct member_cmp {
	void *other;
};

static bool set_member_in(void *arg, const char *m, size_t len)
{
	struct member_cmp *mc = arg;
	assert_true(set_contains(mc->other, m, len));
	return true;
}

static void hash_field_in(void *arg, struct kv_slice f, struct kv_slice v)
{
	struct member_cmp *mc = arg;
	struct kv_slice got;
	assert_true(hash_get(mc->other, f.ptr, f.len, &got));
	assert_int_equal(got.len, v.len);
	assert_memory_equal(got.ptr, v.ptr, v.len);
}

static void cmp_members(void *arg, const struct kv_entry *a)
{
	struct cmp *c = arg;
	struct kv_slice k = entry_key(a);
	struct kv_entry *b = db_lookup(c->other, k.ptr, k.len, 0);
	if (entry_type(a) != KV_TYPE_SET && entry_type(a) != KV_TYPE_HASH)
		return;
	struct member_cmp mc = { entry_obj(b) };
	if (entry_type(a) == KV_TYPE_SET)
		set_foreach(entry_obj(a), set_member_in, &mc);
	else if (entry_type(a) == KV_TYPE_HASH)
		hash_foreach(entry_obj(a), hash_field_in, &mc);
}

static void assert_same_db(struct kv_db *a, struct kv_db *b)
{
	struct cmp c = { b, 0 };
	uint64_t cursor = 0;
	assert_int_equal(db_size(a), db_size(b));
	assert_int_equal(db_expires_count(a), db_expires_count(b));
	do {
		cursor = db_scan(a, cursor, 0, cmp_entry, &c);
	} while (cursor != 0);
	assert_int_equal(c.seen, db_size(a));
	cursor = 0;
	do {
		cursor = db_scan(a, cursor, 0, cmp_members, &c);
	} while (cursor != 0);
}

/* ---- round trips ---- */

static void fill_every_type(struct kv_db *db, size_t big)
{
	static const char binkey[] = { 'b', 'i', 'n', 0, 'k', 0, 'e', 'y' };
	static const char binval[] = { 0, 1, 2, 0, (char)0xff, 0 };

	db_set_string(db, "s", 1, "hello", 5, KV_NO_EXPIRE);
	db_set_string(db, "empty", 5, "", 0, KV_NO_EXPIRE);
	db_set_string(db, "empty-ttl", 9, "", 0, DEADLINE);
	db_set_string(db, binkey, sizeof(binkey), binval, sizeof(binval), DEADLINE + 1);
	db_set_string(db, "", 0, "empty key", 9, KV_NO_EXPIRE);
	db_set_string(db, "past", 4, "expired but not reclaimed", 25, TIME_MS - 1000);
	put_list(db, "list-small", 5, 10, KV_NO_EXPIRE);
	put_list(db, "list-big", big, 40, DEADLINE + 2);
	put_set(db, "set-int", 100, true, KV_NO_EXPIRE);
	put_set(db, "set-lp", 50, false, DEADLINE + 3);
	put_set(db, "set-big", big, false, KV_NO_EXPIRE);
	put_set(db, "set-big-int", big, true, KV_NO_EXPIRE);
	put_hash(db, "hash-small", 10, DEADLINE + 4);
	put_hash(db, "hash-big", big, KV_NO_EXPIRE);
	put_zset(db, "zset-small", 3, KV_NO_EXPIRE);
	put_zset(db, "zset-big", big, DEADLINE + 5);
	put_stream(db, "stream-small", 9, KV_NO_EXPIRE);
	put_stream(db, "stream-big", big, DEADLINE + 7);
	put_stream(db, "stream-empty", 0, KV_NO_EXPIRE);
}

static void test_snap_format_roundtrip_every_type(void **state)
{
	(void)state;
	struct kv_db *a = db_create(), *b = db_create();
	struct kv_buf file = KV_BUF_INIT;
	struct file_header h;
	struct snap_verdict v;
	struct read_stats st;
	uint64_t blocks;

	fill_every_type(a, 100000);
	/* A 5 MB string of random bytes: cut across several 1 MiB blocks. */
	size_t big_len = 5 * 1000 * 1000 + 17;
	char *big = malloc(big_len);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)(rnd() >> 56);
	db_set_string(a, "big-string", 10, big, big_len, DEADLINE + 6);
	free(big);

	header_for(&h, 1, 4, 9);
	snapshot_db(a, &h, 0, &file, &blocks);
	assert_true(blocks >= 8);

	struct file_expect exp = { .fields = FILE_EXPECT_DATASET | FILE_EXPECT_SHARD |
					     FILE_EXPECT_SHARD_COUNT | FILE_EXPECT_GENERATION,
				   .shard_id = 1, .shard_count = 4, .generation = 9 };
	memcpy(exp.dataset_id, DATASET, SNAP_DATASET_ID_LEN);
	int rc = read_file(file.data, file.len, &exp, 0, 100003, b, &v, &st);
	assert_int_equal(rc, SNAP_END);
	assert_int_equal(st.loader_rc, 0);
	assert_int_equal(v.kind, SNAP_VERDICT_CLEAN);
	assert_int_equal(v.blocks, blocks);
	assert_int_equal(v.entries, db_size(a));
	assert_int_equal(v.lsn, LSN);
	assert_int_equal(v.bytes_seen, file.len);
	/* The big keys and the big string came in pieces. */
	assert_true(st.split_keys >= 5);
	/* The reader held about one compressed and one raw block. */
	assert_true(st.max_mem <= 4 * SNAP_BLOCK_TARGET_DEFAULT);
	assert_same_db(a, b);

	/* -0 came back as -0 (a skiplist keeps it; the packed form, as Redis's
	 * listpack, stores 0). */
	struct kv_entry *e = db_lookup(b, "zset-big", 8, 0);
	double s;
	assert_string_equal(zset_encoding(entry_obj(e)), "skiplist");
	assert_true(zset_score(entry_obj(e), "negzero-late", 12, &s));
	assert_true(s == 0 && signbit(s));
	assert_true(zset_score(entry_obj(e), "denormal", 8, &s));
	assert_true(s == 4.9406564584124654e-324);
	assert_true(zset_score(entry_obj(e), "-inf", 4, &s));
	assert_true(isinf(s) && s < 0);

	char line[512];
	snap_verdict_describe(&v, "kevy-s1-g9.snap", line, sizeof(line));
	assert_non_null(strstr(line, "kevy-s1-g9.snap: clean, LSN 4242"));

	kv_buf_free(&file);
	db_destroy(a);
	db_destroy(b);
}

/* Small blocks: every key is cut, and reading one byte at a time works. */
static void test_snap_format_roundtrip_tiny_blocks(void **state)
{
	(void)state;
	struct kv_db *a = db_create(), *b = db_create();
	struct kv_buf file = KV_BUF_INIT;
	struct file_header h;
	struct read_stats st;
	uint64_t blocks;

	fill_every_type(a, 300);
	char s[1000];
	for (size_t i = 0; i < sizeof(s); i++)
		s[i] = (char)('a' + i % 26);
	db_set_string(a, "string-1000", 11, s, sizeof(s), KV_NO_EXPIRE);
	header_for(&h, 0, 1, 1);
	snapshot_db(a, &h, SNAP_BLOCK_TARGET_MIN, &file, &blocks);
	assert_true(blocks > 100);
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1, b, NULL, &st), SNAP_END);
	assert_int_equal(st.loader_rc, 0);
	assert_same_db(a, b);
	kv_buf_free(&file);
	db_destroy(a);
	db_destroy(b);
}

static void test_snap_format_empty_snapshot(void **state)
{
	(void)state;
	struct kv_db *a = db_create(), *b = db_create();
	struct kv_buf file = KV_BUF_INIT;
	struct file_header h;
	struct snap_verdict v;

	header_for(&h, 0, 1, 1);
	snapshot_db(a, &h, 0, &file, NULL);
	assert_int_equal(file.len, SNAP_HEADER_SIZE + SNAP_FOOTER_SIZE);
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, b, &v, NULL), SNAP_END);
	assert_int_equal(v.blocks, 0);
	assert_int_equal(v.entries, 0);
	assert_int_equal(db_size(b), 0);
	kv_buf_free(&file);
	db_destroy(a);
	db_destroy(b);
}

/* ---- damage ---- */

/* A small snapshot of several blocks and keys of every type. */
static void small_sample(struct kv_buf *file, uint64_t *blocks)
{
	struct kv_db *a = db_create();
	struct file_header h;
	char s[300];

	db_set_string(a, "str", 3, "value", 5, DEADLINE);
	db_set_string(a, "e", 1, "", 0, KV_NO_EXPIRE);
	for (size_t i = 0; i < sizeof(s); i++)
		s[i] = (char)(i * 7);
	db_set_string(a, "long", 4, s, sizeof(s), KV_NO_EXPIRE);
	put_list(a, "l", 12, 5, KV_NO_EXPIRE);
	put_set(a, "st", 6, false, DEADLINE);
	put_hash(a, "h", 5, KV_NO_EXPIRE);
	put_zset(a, "z", 2, KV_NO_EXPIRE);
	header_for(&h, 0, 1, 1);
	snapshot_db(a, &h, 128, file, blocks);
	db_destroy(a);
}

static void test_snap_format_every_prefix_corrupt(void **state)
{
	(void)state;
	struct kv_buf file = KV_BUF_INIT;
	uint64_t blocks;
	struct snap_verdict v;

	small_sample(&file, &blocks);
	assert_true(blocks >= 4);
	for (size_t n = 0; n < file.len; n++) {
		struct kv_db *db = db_create();
		int rc = read_file(file.data, n, NULL, 0, 1 << 16, db, &v, NULL);
		assert_int_equal(rc, KV_ECORRUPT);
		assert_true(v.kind == SNAP_VERDICT_CORRUPT);
		assert_true(v.offset <= n);
		db_destroy(db);
	}
	/* Fed a byte at a time too. */
	for (size_t n = 0; n < file.len; n += 7)
		assert_int_equal(read_file(file.data, n, NULL, 0, 1, NULL, NULL, NULL), KV_ECORRUPT);
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1, NULL, NULL, NULL), SNAP_END);

	/* A byte after the footer. */
	kv_buf_append(&file, "", 1);
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, NULL, &v, NULL),
			 KV_ECORRUPT);
	assert_string_equal(v.reason, "data after the footer");
	kv_buf_free(&file);
}

static void test_snap_format_every_bit_flip_detected(void **state)
{
	(void)state;
	struct kv_buf file = KV_BUF_INIT;
	uint64_t blocks;

	small_sample(&file, &blocks);
	for (size_t i = 0; i < file.len * 8; i++) {
		struct kv_db *db = db_create();
		file.data[i / 8] ^= (char)(1 << (i % 8));
		int rc = read_file(file.data, file.len, NULL, 0, 1 << 16, db, NULL, NULL);
		assert_int_equal(rc, KV_ECORRUPT);
		file.data[i / 8] ^= (char)(1 << (i % 8));
		db_destroy(db);
	}
	kv_buf_free(&file);
}

/* Blocks of one snapshot do not verify in another (the seed binds them). */
static void test_snap_format_blocks_bound_to_file(void **state)
{
	(void)state;
	struct kv_buf a = KV_BUF_INIT, b = KV_BUF_INIT;
	struct kv_db *db = db_create();
	struct file_header ha, hb;
	struct snap_verdict v;

	put_list(db, "l", 20, 5, KV_NO_EXPIRE);
	header_for(&ha, 0, 1, 1);
	header_for(&hb, 0, 1, 2);
	snapshot_db(db, &ha, 0, &a, NULL);
	snapshot_db(db, &hb, 0, &b, NULL);
	assert_int_equal(a.len, b.len);
	memcpy(b.data + SNAP_HEADER_SIZE, a.data + SNAP_HEADER_SIZE, a.len - SNAP_HEADER_SIZE);
	assert_int_equal(read_file(b.data, b.len, NULL, 0, 4096, NULL, &v, NULL), KV_ECORRUPT);
	assert_true(v.in_block);
	assert_int_equal(v.block, 0);
	assert_string_equal(v.reason, "block header checksum mismatch");
	kv_buf_free(&a);
	kv_buf_free(&b);
	db_destroy(db);
}

static void test_snap_format_describe_corrupt_block(void **state)
{
	(void)state;
	struct kv_buf file = KV_BUF_INIT;
	struct snap_verdict v;
	uint64_t blocks;
	char line[512];

	small_sample(&file, &blocks);
	/* Find block 1 and damage its body. */
	size_t off = SNAP_HEADER_SIZE;
	off += SNAP_BLOCK_HEADER_SIZE + le_get32((uint8_t *)file.data + off + 20);
	size_t block1 = off;
	file.data[block1 + SNAP_BLOCK_HEADER_SIZE + 3] ^= 0x10;
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, NULL, &v, NULL),
			 KV_ECORRUPT);
	assert_true(v.in_block);
	assert_int_equal(v.block, 1);
	assert_int_equal(v.offset, block1);
	assert_int_equal(v.blocks, 1);
	snap_verdict_describe(&v, "kevy-s0-g1.snap", line, sizeof(line));
	char want[128];
	snprintf(want, sizeof(want), "kevy-s0-g1.snap: corrupt block 1 at offset %zu "
		 "(block checksum mismatch); 1 blocks", block1);
	assert_non_null(strstr(line, want));
	assert_non_null(strstr(line, "not a torn write"));
	kv_buf_free(&file);
}

/* ---- header ---- */

static void test_snap_format_header_cases(void **state)
{
	(void)state;
	struct file_header h, d;
	uint8_t buf[SNAP_HEADER_SIZE + 16];
	enum snap_verdict_kind kind;
	char msg[192];

	header_for(&h, 2, 4, 7);
	snap_header_encode(&h, buf);
	assert_int_equal(snap_header_decode(buf, SNAP_HEADER_SIZE, NULL, &d, &kind, msg,
					    sizeof(msg)), 0);
	assert_int_equal(d.shard_id, 2);
	assert_int_equal(d.shard_count, 4);
	assert_int_equal(d.generation, 7);
	assert_int_equal(d.lsn, LSN);
	assert_int_equal(d.created_ms, TIME_MS);
	assert_int_equal(d.checksum, h.checksum);

	struct file_expect exp = { .fields = FILE_EXPECT_SHARD_COUNT, .shard_count = 8 };
	assert_int_equal(snap_header_decode(buf, SNAP_HEADER_SIZE, &exp, &d, &kind, msg,
					    sizeof(msg)), KV_EMISMATCH);
	assert_int_equal(kind, SNAP_VERDICT_MISMATCH);
	assert_string_equal(msg, "shard count mismatch: file has 4, expected 8");
	exp = (struct file_expect){ .fields = FILE_EXPECT_SHARD, .shard_id = 3 };
	assert_int_equal(snap_header_decode(buf, SNAP_HEADER_SIZE, &exp, &d, &kind, msg,
					    sizeof(msg)), KV_EMISMATCH);
	assert_string_equal(msg, "shard id mismatch: file has 2, expected 3");
	exp = (struct file_expect){ .fields = FILE_EXPECT_GENERATION, .generation = 6 };
	assert_int_equal(snap_header_decode(buf, SNAP_HEADER_SIZE, &exp, &d, &kind, msg,
					    sizeof(msg)), KV_EMISMATCH);
	assert_string_equal(msg, "generation mismatch: file has 7, expected 6");
	exp = (struct file_expect){ .fields = FILE_EXPECT_DATASET };
	assert_int_equal(snap_header_decode(buf, SNAP_HEADER_SIZE, &exp, &d, &kind, msg,
					    sizeof(msg)), KV_EMISMATCH);
	assert_non_null(strstr(msg, "dataset id mismatch: file has 6b657679534e5004"));

	/* Through the reader, with the one-line description. */
	struct kv_buf file = KV_BUF_INIT;
	struct snap_verdict v;
	struct kv_db *db = db_create();
	snapshot_db(db, &h, 0, &file, NULL);
	exp = (struct file_expect){ .fields = FILE_EXPECT_SHARD_COUNT, .shard_count = 8 };
	assert_int_equal(read_file(file.data, file.len, &exp, 0, 1 << 16, NULL, &v, NULL),
			 KV_EMISMATCH);
	snap_verdict_describe(&v, "x.snap", msg, sizeof(msg));
	assert_string_equal(msg, "x.snap: shard count mismatch: file has 4, expected 8");

	/* A newer version whose checksum verifies, with a longer header. */
	memcpy(buf, file.data, SNAP_HEADER_SIZE);
	le_put16(buf + 8, SNAP_FORMAT_VERSION + 1);
	le_put16(buf + 10, SNAP_HEADER_SIZE + 16);
	memset(buf + 64, 0xab, 16);
	le_put64(buf + SNAP_HEADER_SIZE + 8, kv_hash64(buf, SNAP_HEADER_SIZE + 8, 0));
	assert_int_equal(snap_header_decode(buf, sizeof(buf), NULL, &d, &kind, msg, sizeof(msg)),
			 KV_EVERSION);
	assert_int_equal(kind, SNAP_VERDICT_VERSION);
	assert_int_equal(read_file(buf, sizeof(buf), NULL, 0, 5, NULL, &v, NULL), KV_EVERSION);
	assert_int_equal(v.kind, SNAP_VERDICT_VERSION);
	/* The same with a damaged checksum: corruption, not a version. */
	buf[70] ^= 1;
	assert_int_equal(snap_header_decode(buf, sizeof(buf), NULL, &d, &kind, msg, sizeof(msg)),
			 KV_ECORRUPT);
	assert_int_equal(kind, SNAP_VERDICT_CORRUPT);

	/* Verified header, broken rules. */
	memcpy(buf, file.data, SNAP_HEADER_SIZE);
	le_put32(buf + 12, 1);
	le_put64(buf + 64, kv_hash64(buf, 64, 0));
	assert_int_equal(snap_header_decode(buf, SNAP_HEADER_SIZE, NULL, &d, &kind, msg,
					    sizeof(msg)), KV_ECORRUPT);
	assert_non_null(strstr(msg, "unknown flags"));
	memcpy(buf, file.data, SNAP_HEADER_SIZE);
	le_put32(buf + 32, 4);
	le_put64(buf + 64, kv_hash64(buf, 64, 0));
	assert_int_equal(snap_header_decode(buf, SNAP_HEADER_SIZE, NULL, &d, &kind, msg,
					    sizeof(msg)), KV_ECORRUPT);

	/* Not a snapshot at all (an AOF's magic). */
	memcpy(buf, "KEVYAOF\0", 8);
	assert_int_equal(read_file(buf, SNAP_HEADER_SIZE, NULL, 0, 3, NULL, &v, NULL), KV_ECORRUPT);
	assert_int_equal(v.kind, SNAP_VERDICT_NOT_SNAP);

	kv_buf_free(&file);
	db_destroy(db);
}

/* ---- crafted blocks ---- */

/* A raw block holding one string key "k" = "abc". */
static size_t one_key_raw(uint8_t *raw)
{
	static const uint8_t r[] = { SNAP_REC_KEY, KV_TYPE_STRING, 0, 3, 1, 'k', 3, 0, 0, 0,
				     'a', 'b', 'c' };
	memcpy(raw, r, sizeof(r));
	return sizeof(r);
}

static size_t compress_frame(const void *raw, size_t n, uint8_t *out, size_t cap, bool size_flag)
{
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, size_flag ? 1 : 0);
	size_t got = ZSTD_compress2(c, out, cap, raw, n);
	assert_false(ZSTD_isError(got));
	ZSTD_freeCCtx(c);
	return got;
}

/* header + one crafted block (+ a matching footer when footer is true). */
static void crafted(struct kv_buf *file, uint32_t raw_len, const void *comp, size_t clen,
		    bool footer)
{
	struct file_header h;
	header_for(&h, 0, 1, 1);
	kv_buf_clear(file);
	snap_header_encode(&h, (uint8_t *)kv_buf_reserve(file, SNAP_HEADER_SIZE));
	file->len = SNAP_HEADER_SIZE;
	size_t at = file->len;
	snap_block_append_raw(file, h.checksum, 0, raw_len, comp, clen);
	if (footer) {
		uint64_t sum = le_get64((uint8_t *)file->data + at + 24);
		snap_footer_append_raw(file, h.checksum, 1, 1, snap_chain_next(h.checksum, sum));
	}
}

static void test_snap_format_decompressed_size_checked(void **state)
{
	(void)state;
	uint8_t raw[64], comp[256];
	struct kv_buf file = KV_BUF_INIT;
	struct snap_verdict v;
	struct kv_db *db = db_create();
	size_t n = one_key_raw(raw);

	/* Well formed: accepted and loaded. */
	size_t c = compress_frame(raw, n, comp, sizeof(comp), true);
	crafted(&file, (uint32_t)n, comp, c, true);
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, db, &v, NULL), SNAP_END);
	struct kv_entry *e = db_lookup(db, "k", 1, 0);
	assert_non_null(e);
	assert_memory_equal(entry_str(e).ptr, "abc", 3);

	/* The frame says n, the header n + 1 or n - 1. */
	crafted(&file, (uint32_t)n + 1, comp, c, true);
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, NULL, &v, NULL),
			 KV_ECORRUPT);
	assert_string_equal(v.reason, "decompressed size differs from the block header");
	crafted(&file, (uint32_t)n - 1, comp, c, true);
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, NULL, &v, NULL),
			 KV_ECORRUPT);
	assert_string_equal(v.reason, "decompressed size differs from the block header");

	/* A frame that does not state its size: found out by decompressing
	 * into exactly raw_len bytes. */
	c = compress_frame(raw, n, comp, sizeof(comp), false);
	crafted(&file, (uint32_t)n, comp, c, true);
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, NULL, &v, NULL), SNAP_END);
	crafted(&file, (uint32_t)n + 5, comp, c, true);
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, NULL, &v, NULL),
			 KV_ECORRUPT);
	assert_string_equal(v.reason, "decompressed size differs from the block header");
	crafted(&file, (uint32_t)n - 2, comp, c, true);
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, NULL, &v, NULL),
			 KV_ECORRUPT);
	assert_string_equal(v.reason, "decompressed size differs from the block header");

	/* Two frames in one body. */
	size_t c1 = compress_frame(raw, n, comp, sizeof(comp), true);
	size_t c2 = compress_frame(raw, n, comp + c1, sizeof(comp) - c1, true);
	crafted(&file, (uint32_t)(2 * n), comp, c1 + c2, true);
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, NULL, &v, NULL),
			 KV_ECORRUPT);
	assert_string_equal(v.reason, "block body is not exactly one zstd frame");

	/* Verified bytes that are not zstd at all. */
	crafted(&file, 13, "not zstd at all", 15, true);
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, NULL, &v, NULL),
			 KV_ECORRUPT);
	assert_true(v.in_block);

	/* Raw bytes that break a record rule (a MORE with no key). */
	uint8_t bad[] = { SNAP_REC_MORE, 1, 0, 0, 0, 'x' };
	c = compress_frame(bad, sizeof(bad), comp, sizeof(comp), true);
	crafted(&file, sizeof(bad), comp, c, true);
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, NULL, &v, NULL),
			 KV_ECORRUPT);
	assert_true(v.in_raw);
	assert_int_equal(v.raw_offset, 0);
	assert_string_equal(v.reason, "continuation record without an open key");
	assert_int_equal(v.blocks, 0);
	char line[512];
	snap_verdict_describe(&v, NULL, line, sizeof(line));
	assert_string_equal(line, "snapshot: corrupt block 0 at offset 72 (continuation record"
			    " without an open key, at byte 0 of its decompressed data); 0 blocks"
			    " and 0 keys before it; a snapshot is complete before it is"
			    " committed, so this is corruption, not a torn write");

	/* A NaN score. */
	uint8_t nan_rec[] = { SNAP_REC_KEY, KV_TYPE_ZSET, 0, 1, 1, 'z', 1, 0, 0, 0,
			      0, 0, 0, 0, 0, 0, 0xf8, 0x7f, 1, 'm' };
	c = compress_frame(nan_rec, sizeof(nan_rec), comp, sizeof(comp), true);
	crafted(&file, sizeof(nan_rec), comp, c, true);
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, NULL, &v, NULL),
			 KV_ECORRUPT);
	assert_string_equal(v.reason, "malformed items");

	/* Stream items the reader refuses (kind unknown; an entry claiming more
	 * fields than it holds; bytes after an item's fields). */
	uint8_t st_kind[] = { SNAP_REC_KEY, KV_TYPE_STREAM, 0, 1, 1, 's', 1, 0, 0, 0, 2, 'Z', 0 };
	uint8_t st_fields[] = { SNAP_REC_KEY, KV_TYPE_STREAM, 0, 2, 1, 's', 2, 0, 0, 0,
				6, 'S', 9, 9, 0, 0, 2,
				6, 'E', 1, 1, 100, 1, 'f' };
	uint8_t st_tail[] = { SNAP_REC_KEY, KV_TYPE_STREAM, 0, 1, 1, 's', 1, 0, 0, 0,
			      7, 'S', 9, 9, 0, 0, 2, 0 };
	const struct { const uint8_t *p; size_t n; } st_bad[] = {
		{ st_kind, sizeof(st_kind) }, { st_fields, sizeof(st_fields) },
		{ st_tail, sizeof(st_tail) },
	};
	for (size_t i = 0; i < 3; i++) {
		c = compress_frame(st_bad[i].p, st_bad[i].n, comp, sizeof(comp), true);
		crafted(&file, (uint32_t)st_bad[i].n, comp, c, true);
		assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, NULL, &v, NULL),
				 KV_ECORRUPT);
		assert_string_equal(v.reason, "malformed items");
		assert_true(v.in_raw);
		assert_int_equal(v.raw_offset, 0);
	}
	/* Well-formed items that break the stream's rules: the loader refuses
	 * them (an entry above the stream's last ID; a pending entry before
	 * any consumer), and a valid one loads.  Loading (the server) and
	 * verifying (kevy-check) refuse alike, at the item's byte (17: after
	 * the 10-byte key record head and the 7-byte stream item). */
	uint8_t st_above[] = { SNAP_REC_KEY, KV_TYPE_STREAM, 0, 2, 1, 's', 2, 0, 0, 0,
			       6, 'S', 1, 1, 0, 0, 1,
			       7, 'E', 5, 1, 1, 1, 'f', 0 };
	uint8_t st_orphan[] = { SNAP_REC_KEY, KV_TYPE_STREAM, 0, 2, 1, 's', 2, 0, 0, 0,
				6, 'S', 1, 1, 0, 0, 0,
				12, 'P', 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	uint8_t st_ok[] = { SNAP_REC_KEY, KV_TYPE_STREAM, 0, 2, 1, 's', 2, 0, 0, 0,
			    6, 'S', 5, 1, 0, 0, 1,
			    7, 'E', 5, 1, 1, 1, 'f', 0 };
	const struct { const uint8_t *p; size_t n; int rc; const char *why; } st_load[] = {
		{ st_above, sizeof(st_above), KV_ECORRUPT, "stream entry ID above the stream's last ID" },
		{ st_orphan, sizeof(st_orphan), KV_ECORRUPT,
		  "pending entry before any consumer of its group" },
		{ st_ok, sizeof(st_ok), 0, NULL },
	};
	for (size_t i = 0; i < 3; i++) {
		struct kv_db *ldb = db_create();
		struct read_stats st;
		c = compress_frame(st_load[i].p, st_load[i].n, comp, sizeof(comp), true);
		crafted(&file, (uint32_t)st_load[i].n, comp, c, true);
		assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, ldb, &v, &st),
				 SNAP_END);
		assert_int_equal(st.loader_rc, st_load[i].rc);
		for (int verify = 0; verify < 2; verify++) {
			struct kv_db *vdb = verify ? NULL : db_create();
			int want = st_load[i].rc ? KV_ECORRUPT : SNAP_END;
			assert_int_equal(load_file(file.data, file.len, vdb, &v), want);
			if (st_load[i].rc) {
				assert_string_equal(v.reason, st_load[i].why);
				assert_true(v.in_raw);
				assert_int_equal(v.raw_offset, 17);
				assert_int_equal(v.offset, SNAP_HEADER_SIZE);
			}
			if (vdb)
				db_destroy(vdb);
		}
		if (st_load[i].rc == 0) {
			struct kv_entry *se = db_lookup(ldb, "s", 1, 0);
			assert_non_null(se);
			assert_int_equal(((struct stream *)entry_obj(se))->length, 1);
		}
		db_destroy(ldb);
	}

	/* A non-minimal varint (total 3 as 0x83 0x00). */
	uint8_t nonmin[] = { SNAP_REC_KEY, KV_TYPE_STRING, 0, 0x83, 0x00, 1, 'k', 3, 0, 0, 0,
			     'a', 'b', 'c' };
	c = compress_frame(nonmin, sizeof(nonmin), comp, sizeof(comp), true);
	crafted(&file, sizeof(nonmin), comp, c, true);
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, NULL, &v, NULL),
			 KV_ECORRUPT);

	kv_buf_free(&file);
	db_destroy(db);
}

/* The footer's counts and chain, and keys left open, by crafted files. */
static void test_snap_format_footer_rules(void **state)
{
	(void)state;
	uint8_t raw[64], comp[256];
	struct kv_buf file = KV_BUF_INIT;
	struct snap_verdict v;
	struct file_header h;
	size_t n = one_key_raw(raw);
	size_t c = compress_frame(raw, n, comp, sizeof(comp), true);

	header_for(&h, 0, 1, 1);
	struct {
		uint64_t entries, blocks;
		int chain_blocks;        /* blocks the chain covers */
		const char *reason;
	} cases[] = {
		{ 2, 2, 2, NULL },
		{ 1, 2, 2, "footer entry count mismatch" },
		{ 2, 1, 2, "footer block count mismatch" },
		{ 2, 2, 1, "footer block chain mismatch" },
	};
	for (size_t i = 0; i < KV_ARRAY_LEN(cases); i++) {
		uint64_t chain = h.checksum;
		kv_buf_clear(&file);
		snap_header_encode(&h, (uint8_t *)kv_buf_reserve(&file, SNAP_HEADER_SIZE));
		file.len = SNAP_HEADER_SIZE;
		for (uint32_t b = 0; b < 2; b++) {
			size_t at = file.len;
			snap_block_append_raw(&file, h.checksum, b, (uint32_t)n, comp, c);
			if ((int)b < cases[i].chain_blocks)
				chain = snap_chain_next(chain, le_get64((uint8_t *)file.data + at + 24));
		}
		snap_footer_append_raw(&file, h.checksum, cases[i].entries, cases[i].blocks, chain);
		int rc = read_file(file.data, file.len, NULL, 0, 1 << 16, NULL, &v, NULL);
		if (!cases[i].reason) {
			assert_int_equal(rc, SNAP_END);
			continue;
		}
		assert_int_equal(rc, KV_ECORRUPT);
		assert_string_equal(v.reason, cases[i].reason);
		assert_false(v.in_block);
		assert_int_equal(v.offset, file.len - SNAP_FOOTER_SIZE);
	}

	/* Blocks swapped: the index says so. */
	kv_buf_clear(&file);
	snap_header_encode(&h, (uint8_t *)kv_buf_reserve(&file, SNAP_HEADER_SIZE));
	file.len = SNAP_HEADER_SIZE;
	snap_block_append_raw(&file, h.checksum, 1, (uint32_t)n, comp, c);
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, NULL, &v, NULL),
			 KV_ECORRUPT);
	assert_string_equal(v.reason, "block out of order");

	/* A key still open at the footer (total 5, only 3 bytes given). */
	uint8_t open_key[] = { SNAP_REC_KEY, KV_TYPE_STRING, 0, 5, 1, 'k', 3, 0, 0, 0,
			       'a', 'b', 'c' };
	c = compress_frame(open_key, sizeof(open_key), comp, sizeof(comp), true);
	crafted(&file, sizeof(open_key), comp, c, true);
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, NULL, &v, NULL),
			 KV_ECORRUPT);
	assert_string_equal(v.reason, "footer while a key is incomplete");
	kv_buf_free(&file);
}

static void test_snap_format_oversized_block_refused(void **state)
{
	(void)state;
	struct kv_buf file = KV_BUF_INIT;
	struct snap_verdict v;
	struct read_stats st;
	struct file_header h;

	/* A verified block header claiming 1 GiB raw / ~1 GiB compressed, no body:
	 * refused at the header with a 1 MiB limit, and nothing is allocated
	 * for it. */
	header_for(&h, 0, 1, 1);
	snap_header_encode(&h, (uint8_t *)kv_buf_reserve(&file, SNAP_HEADER_SIZE));
	file.len = SNAP_HEADER_SIZE;
	uint8_t hdr[SNAP_BLOCK_HEADER_SIZE] = { 0 };
	hdr[8] = SNAP_FRAME_BLOCK;
	le_put32(hdr + 16, 1u << 30);
	le_put32(hdr + 20, (1u << 30) - 1);
	le_put64(hdr + 24, 0x1234);
	le_put64(hdr, kv_hash64(hdr + 8, 24, h.checksum));
	kv_buf_append(&file, hdr, sizeof(hdr));
	assert_int_equal(read_file(file.data, file.len, NULL, 1 << 20, 1 << 16, NULL, &v, &st),
			 KV_ECORRUPT);
	assert_string_equal(v.reason, "block raw length over the limit");
	assert_true(v.in_block);
	assert_int_equal(v.offset, SNAP_HEADER_SIZE);
	assert_true(st.max_mem < 1 << 20);

	/* Over the default limit as well. */
	le_put32((uint8_t *)file.data + SNAP_HEADER_SIZE + 16, UINT32_MAX);
	le_put64((uint8_t *)file.data + SNAP_HEADER_SIZE,
		 kv_hash64((uint8_t *)file.data + SNAP_HEADER_SIZE + 8, 24, h.checksum));
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, NULL, &v, &st),
			 KV_ECORRUPT);
	assert_string_equal(v.reason, "block raw length over the limit");
	assert_true(st.max_mem < 1 << 20);

	/* A compressed length no zstd frame of that raw length can have. */
	le_put32((uint8_t *)file.data + SNAP_HEADER_SIZE + 16, 100);
	le_put32((uint8_t *)file.data + SNAP_HEADER_SIZE + 20, 100000);
	le_put64((uint8_t *)file.data + SNAP_HEADER_SIZE,
		 kv_hash64((uint8_t *)file.data + SNAP_HEADER_SIZE + 8, 24, h.checksum));
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, NULL, &v, &st),
			 KV_ECORRUPT);
	assert_string_equal(v.reason, "block compressed length impossible for its raw length");
	kv_buf_free(&file);
}

/* ---- loader ---- */

static void test_snap_format_loader_refuses_duplicates(void **state)
{
	(void)state;
	struct file_header h;
	struct snap_writer w;
	struct kv_buf file = KV_BUF_INIT;
	struct read_stats st;
	struct kv_db *db = db_create();

	header_for(&h, 0, 1, 1);
	snap_writer_init(&w, &h, 0, 1);
	snap_writer_begin_key(&w, "s", 1, KV_TYPE_SET, KV_NO_EXPIRE, 2);
	snap_writer_add_elem(&w, "a", 1);
	snap_writer_add_elem(&w, "a", 1);
	assert_int_equal(snap_writer_finish(&w), 0);
	drain(&w, &file);
	snap_writer_free(&w);
	/* The file is well formed; the loader finds the repeated member. */
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, db, NULL, &st), SNAP_END);
	assert_int_equal(st.loader_rc, KV_ECORRUPT);
	db_destroy(db);
	/* Verifying without a keyspace (kevy-check) finds it too, at the
	 * second member (key record head 10 bytes, then "a" as 2). */
	struct snap_verdict v;
	assert_int_equal(load_file(file.data, file.len, NULL, &v), KV_ECORRUPT);
	assert_string_equal(v.reason, "a set member given twice");
	assert_int_equal(v.raw_offset, 12);

	db = db_create();
	kv_buf_clear(&file);
	snap_writer_init(&w, &h, 0, 1);
	for (int i = 0; i < 2; i++) {
		snap_writer_begin_key(&w, "k", 1, KV_TYPE_HASH, KV_NO_EXPIRE, 1);
		snap_writer_add_field(&w, "f", 1, "v", 1);
	}
	assert_int_equal(snap_writer_finish(&w), 0);
	drain(&w, &file);
	snap_writer_free(&w);
	assert_int_equal(read_file(file.data, file.len, NULL, 0, 1 << 16, db, NULL, &st), SNAP_END);
	assert_int_equal(st.loader_rc, KV_ECORRUPT);
	db_destroy(db);
	/* A key given twice needs the keyspace: the load refuses it at its
	 * second key record (after the first's 10-byte head and "f" "v" as
	 * 4); verifying alone cannot see it. */
	db = db_create();
	assert_int_equal(load_file(file.data, file.len, db, &v), KV_ECORRUPT);
	assert_string_equal(v.reason, "the key appears twice");
	assert_int_equal(v.raw_offset, 14);
	assert_int_equal(load_file(file.data, file.len, NULL, &v), SNAP_END);
	kv_buf_free(&file);
	db_destroy(db);
}

/* A key name or element no reader accepts by default makes the writer
 * refuse the snapshot (with a lowered limit, to test it small). */
static void test_snap_format_writer_limit(void **state)
{
	(void)state;
	struct file_header h;
	struct snap_writer w;
	char big[5000];

	memset(big, 'x', sizeof(big));
	header_for(&h, 0, 1, 1);
	snap_writer_init(&w, &h, 0, 1);
	w.max_raw = 1000;
	snap_writer_begin_key(&w, "l", 1, KV_TYPE_LIST, KV_NO_EXPIRE, 2);
	snap_writer_add_elem(&w, "small", 5);
	snap_writer_add_elem(&w, big, sizeof(big));
	assert_int_equal(snap_writer_finish(&w), KV_ELIMIT);
	snap_writer_free(&w);

	/* A string of any size is cut, so it never hits the limit. */
	snap_writer_init(&w, &h, 256, 1);
	w.max_raw = 1000;
	snap_writer_begin_key(&w, "s", 1, KV_TYPE_STRING, KV_NO_EXPIRE, sizeof(big));
	snap_writer_add_bytes(&w, big, 1);
	snap_writer_add_bytes(&w, big, sizeof(big) - 1);
	assert_int_equal(snap_writer_finish(&w), 0);
	snap_writer_free(&w);
}

/* ---- bounded memory ---- */

struct pipe {
	struct snap_reader r;
	struct snap_loader l;
	struct kv_buf piece;
	uint64_t bytes;
	size_t max_queued;
	size_t reader_max_mem;
	int loader_rc;
	int rc;
};

/* The writer's notify: take every finished piece and feed it to a reader
 * at once, as a snapshot writer hands blocks to the ring. */
static void pipe_notify(void *arg, struct snap_writer *w)
{
	struct pipe *p = arg;
	struct snap_fragment f;

	p->max_queued = KV_MAX(p->max_queued, w->queued);
	while (snap_writer_take_block(w, &p->piece)) {
		p->bytes += p->piece.len;
		size_t off = 0;
		for (;;) {
			int rc = snap_reader_next(&p->r, &f);
			p->reader_max_mem = KV_MAX(p->reader_max_mem, snap_reader_mem(&p->r));
			if (rc == SNAP_FRAGMENT) {
				if (p->loader_rc == 0)
					p->loader_rc = snap_loader_apply(&p->l, &f);
				continue;
			}
			if (rc != SNAP_NEED_MORE) {
				p->rc = rc;
				break;
			}
			if (off == p->piece.len)
				break;
			off += snap_reader_feed(&p->r, p->piece.data + off, p->piece.len - off);
		}
	}
}

static void test_snap_format_writer_memory_bounded(void **state)
{
	(void)state;
	struct kv_db *a = db_create(), *b = db_create();
	struct file_header h;
	struct snap_writer w;
	struct pipe p;
	const size_t target = SNAP_BLOCK_TARGET_DEFAULT;

	/* About 50 MB: a 20 MB list, 20 MB of 1 KB strings, a 10 MB string. */
	put_list(a, "huge-list", 200000, 90, KV_NO_EXPIRE);
	char v[1024];
	for (int i = 0; i < 20000; i++) {
		char k[32];
		int kl = snprintf(k, sizeof(k), "key:%d", i);
		for (size_t j = 0; j < sizeof(v); j++)
			v[j] = (char)(rnd() >> 60);
		db_set_string(a, k, (size_t)kl, v, sizeof(v), i % 2 ? DEADLINE : KV_NO_EXPIRE);
	}
	size_t big_len = 10 << 20;
	char *big = calloc(1, big_len);
	db_set_string(a, "ten-mb", 6, big, big_len, KV_NO_EXPIRE);
	free(big);

	memset(&p, 0, sizeof(p));
	snap_reader_init(&p.r, NULL);
	struct kv_dbs bdbs = { .n = 1, .db = &b };   /* b as database 0 */
	snap_loader_init(&p.l, &bdbs);
	header_for(&h, 0, 1, 1);
	snap_writer_init(&w, &h, target, 1);
	snap_writer_set_notify(&w, pipe_notify, &p);
	uint64_t cursor = 0;
	do {
		cursor = db_scan(a, cursor, 0, write_one, &w);
	} while (cursor != 0);
	assert_int_equal(snap_writer_finish(&w), 0);
	snap_reader_eof(&p.r);
	struct snap_fragment f;
	p.rc = snap_reader_next(&p.r, &f);
	assert_int_equal(p.rc, SNAP_END);
	assert_int_equal(p.loader_rc, 0);
	assert_true(p.bytes > 0 && p.bytes == w.bytes_out);
	assert_true(w.blocks >= 30);

	/* The writer never held more than a block's worth of raw bytes (its
	 * buffer is reserved at the target and never grew), and never more
	 * than the header and one block waiting in its queue. */
	assert_true(snap_writer_raw_peak(&w) <= target + 1);
	assert_true(w.queued_peak <= 2);
	/* Nor did the reader hold more than about two blocks. */
	assert_true(p.reader_max_mem <= 3 * target);
	snap_writer_free(&w);
	snap_loader_free(&p.l);
	snap_reader_free(&p.r);
	kv_buf_free(&p.piece);
	assert_same_db(a, b);
	db_destroy(a);
	db_destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snap_format_roundtrip_every_type),
		cmocka_unit_test(test_snap_format_roundtrip_tiny_blocks),
		cmocka_unit_test(test_snap_format_empty_snapshot),
		cmocka_unit_test(test_snap_format_every_prefix_corrupt),
		cmocka_unit_test(test_snap_format_every_bit_flip_detected),
		cmocka_unit_test(test_snap_format_blocks_bound_to_file),
		cmocka_unit_test(test_snap_format_describe_corrupt_block),
		cmocka_unit_test(test_snap_format_header_cases),
		cmocka_unit_test(test_snap_format_decompressed_size_checked),
		cmocka_unit_test(test_snap_format_footer_rules),
		cmocka_unit_test(test_snap_format_oversized_block_refused),
		cmocka_unit_test(test_snap_format_loader_refuses_duplicates),
		cmocka_unit_test(test_snap_format_writer_limit),
		cmocka_unit_test(test_snap_format_writer_memory_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
