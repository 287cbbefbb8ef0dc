/*
 * test_aof_format.c - the AOF segment format: header and payload round trips,
 * header refusals by name, and the reader's verdict on every prefix, every
 * single-bit flip and random damage of sample segments (torn tail vs corrupt,
 * at the exact offset, never different content).  Fuzz runs print their seed;
 * KEVY_TEST_SEED=<n> replays one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "persist/aof_format.h"
#include "base/le.h"

static const uint8_t DATASET[AOF_DATASET_ID_LEN] = {
	0x6b, 0x65, 0x76, 0x79, 0x01, 0x02, 0x03, 0x04,
	0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
};
#define START_LSN 100
#define TIME_MS 1795000000123LL

/* ---- helpers ---- */

struct rec_copy {
	uint8_t type;
	uint64_t lsn;
	uint64_t offset;
	uint64_t size;
	uint8_t *payload;
	uint32_t payload_len;
};

struct sample {
	struct kv_buf file;
	struct file_header h;
	struct rec_copy recs[64];
	int n;
};

struct result {
	int code;
	struct aof_verdict v;
	struct rec_copy recs[64];
	int n;
	size_t max_cap;
};

static uint64_t rng_state;
static uint64_t rnd(void)
{
	/* xorshift64*: reproducible from the printed seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}
static size_t rnd_below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static uint64_t test_seed(void)
{
	const char *s = getenv("KEVY_TEST_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL) ^ (uint64_t)clock();
	return seed ? seed : 1;
}

static void header_for(struct file_header *h, uint64_t start_lsn)
{
	aof_header_init(h, DATASET, 1, 4, 7, start_lsn, 1700000000123);
}

static void sample_start_version(struct sample *s, uint64_t start_lsn, uint16_t version)
{
	uint8_t hb[AOF_HEADER_SIZE];
	memset(s, 0, sizeof(*s));
	kv_buf_init(&s->file);
	header_for(&s->h, start_lsn);
	s->h.version = version;
	aof_header_encode(&s->h, hb);
	kv_buf_append(&s->file, hb, sizeof(hb));
}

static void sample_start(struct sample *s, uint64_t start_lsn)
{
	sample_start_version(s, start_lsn, AOF_FORMAT_VERSION);
}

/* Records what the last record appended to s->file is (for comparisons). */
static void sample_note(struct sample *s, size_t off, uint8_t type, uint64_t lsn)
{
	struct rec_copy *c = &s->recs[s->n++];
	const uint8_t *p = (const uint8_t *)s->file.data + off;
	c->type = type;
	c->lsn = lsn;
	c->offset = off;
	c->size = s->file.len - off;
	c->payload_len = (uint32_t)(c->size - AOF_RECORD_HEADER_SIZE);
	c->payload = malloc(c->payload_len + 1);
	memcpy(c->payload, p + AOF_RECORD_HEADER_SIZE, c->payload_len);
}

static void sample_free(struct sample *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->recs[i].payload);
	kv_buf_free(&s->file);
}

static struct kv_slice S(const char *str)
{
	return (struct kv_slice){ str, strlen(str) };
}

/* Six EFFECT records: plain, binary with an empty argument, a MULTI/EXEC
 * batch, a long value, and optionally a SEGMENT_END. */
static void sample_build(struct sample *s, bool sealed)
{
	struct aof_encoder e;
	uint64_t lsn;
	size_t off;
	static char big[700];

	sample_start(s, START_LSN);
	aof_encoder_init(&e, &s->h, 0);
	memset(big, 'v', sizeof(big));

	struct kv_slice set1[] = { S("SET"), S("k1"), S("hello") };
	struct kv_slice bin[] = { S("SET"), { "a\0b\r\n", 5 }, { "", 0 } };
	struct kv_slice m1[] = { S("SET"), S("{u}:a"), S("1") };
	struct kv_slice m2[] = { S("PEXPIREAT"), S("{u}:a"), S("1800000000000") };
	struct kv_slice m3[] = { S("SREM"), S("{u}:s"), S("x"), S("y") };
	struct kv_slice large[] = { S("SET"), S("big"), { big, sizeof(big) } };
	struct kv_slice del[] = { S("DEL"), S("k1") };
	struct kv_slice incr[] = { S("SET"), S("f"), S("3.5") };

	off = s->file.len;
	assert_int_equal(aof_encoder_effect(&e, &s->file, TIME_MS, 3, set1, &lsn), 0);
	sample_note(s, off, AOF_REC_EFFECT, lsn);
	off = s->file.len;
	assert_int_equal(aof_encoder_effect(&e, &s->file, TIME_MS, 3, bin, &lsn), 0);
	sample_note(s, off, AOF_REC_EFFECT, lsn);
	off = s->file.len;
	aof_encoder_begin(&e, &s->file, TIME_MS);
	aof_encoder_add(&e, &s->file, 3, m1);
	aof_encoder_add(&e, &s->file, 3, m2);
	aof_encoder_add(&e, &s->file, 4, m3);
	assert_int_equal(aof_encoder_commit(&e, &s->file, &lsn), 0);
	sample_note(s, off, AOF_REC_EFFECT, lsn);
	off = s->file.len;
	assert_int_equal(aof_encoder_effect(&e, &s->file, TIME_MS, 3, large, &lsn), 0);
	sample_note(s, off, AOF_REC_EFFECT, lsn);
	off = s->file.len;
	assert_int_equal(aof_encoder_effect(&e, &s->file, TIME_MS, 2, del, &lsn), 0);
	sample_note(s, off, AOF_REC_EFFECT, lsn);
	off = s->file.len;
	assert_int_equal(aof_encoder_effect(&e, &s->file, TIME_MS, 3, incr, &lsn), 0);
	sample_note(s, off, AOF_REC_EFFECT, lsn);
	if (sealed) {
		off = s->file.len;
		aof_encoder_seal(&e, &s->file);
		sample_note(s, off, AOF_REC_SEGMENT_END, e.last_lsn);
	}
}

static void result_free(struct result *res)
{
	for (int i = 0; i < KV_MIN(res->n, 64); i++)
		free(res->recs[i].payload);
	res->n = 0;
}

/* Read data[0..len) feeding `chunk` bytes at a time (0: random sizes). */
static void read_file(const void *data, size_t len, size_t chunk,
		      const struct aof_reader_config *cfg, struct result *res)
{
	struct aof_reader r;
	struct aof_record rec;
	size_t fed = 0;

	memset(res, 0, sizeof(*res));
	aof_reader_init(&r, cfg);
	for (;;) {
		int rc = aof_reader_next(&r, &rec);
		if (r.in.cap > res->max_cap)
			res->max_cap = r.in.cap;
		if (rc == AOF_RECORD) {
			if (res->n++ >= 64)
				continue;   /* counted, not kept */
			struct rec_copy *c = &res->recs[res->n - 1];
			c->type = rec.type;
			c->lsn = rec.lsn;
			c->offset = rec.offset;
			c->size = rec.size;
			c->payload_len = rec.payload_len;
			c->payload = malloc(rec.payload_len + 1);
			memcpy(c->payload, rec.payload, rec.payload_len);
			continue;
		}
		if (rc == AOF_NEED_MORE) {
			assert_false(r.in.eof);
			if (fed == len) {
				aof_reader_eof(&r);
				continue;
			}
			size_t n = chunk ? chunk : 1 + rnd_below(97);
			n = KV_MIN(n, len - fed);
			size_t took = aof_reader_feed(&r, (const uint8_t *)data + fed, n);
			assert_true(took > 0);
			fed += took;
			continue;
		}
		res->code = rc;
		res->v = *aof_reader_verdict(&r);
		/* A final answer is sticky. */
		assert_int_equal(aof_reader_next(&r, &rec), rc);
		break;
	}
	aof_reader_free(&r);
}

static bool rec_equal(const struct rec_copy *a, const struct rec_copy *b)
{
	return a->type == b->type && a->lsn == b->lsn && a->offset == b->offset &&
	       a->size == b->size && a->payload_len == b->payload_len &&
	       memcmp(a->payload, b->payload, a->payload_len) == 0;
}

/* Every record the reader returned is the sample's record at that index. */
static void assert_prefix_of(const struct result *res, const struct sample *s, int n)
{
	assert_int_equal(res->n, n);
	for (int i = 0; i < n; i++)
		assert_true(rec_equal(&res->recs[i], &s->recs[i]));
}

static uint64_t rec_end(const struct sample *s, int i)
{
	return i == 0 ? AOF_HEADER_SIZE : s->recs[i - 1].offset + s->recs[i - 1].size;
}

/* ---- header ---- */

static void test_aof_format_header_round_trip(void **state)
{
	struct file_header h, d;
	uint8_t b[AOF_HEADER_SIZE];
	enum aof_verdict_kind kind;
	char msg[192];

	aof_header_init(&h, DATASET, 3, 8, 42, 123456789, 1700000000999);
	aof_header_encode(&h, b);
	assert_memory_equal(b, "KEVYAOF\0", 8);
	assert_int_equal(b[8], AOF_FORMAT_VERSION); /* version, little-endian */
	assert_int_equal(b[10], AOF_HEADER_SIZE);
	assert_int_equal(b[32], 3);              /* shard id */
	assert_int_equal(b[36], 8);              /* shard count */
	assert_int_equal(aof_header_decode(b, sizeof(b), NULL, &d, &kind, msg, sizeof(msg)), 0);
	assert_int_equal(kind, AOF_VERDICT_CLEAN);
	assert_memory_equal(d.dataset_id, DATASET, 16);
	assert_int_equal(d.version, AOF_FORMAT_VERSION);
	assert_int_equal(d.shard_id, 3);
	assert_int_equal(d.shard_count, 8);
	assert_int_equal(d.generation, 42);
	assert_int_equal(d.lsn, 123456789);
	assert_int_equal(d.created_ms, 1700000000999);
	assert_int_equal(d.checksum, h.checksum);

	struct file_expect exp = { .fields = FILE_EXPECT_DATASET | FILE_EXPECT_SHARD |
					    FILE_EXPECT_SHARD_COUNT | FILE_EXPECT_GENERATION,
				  .shard_id = 3, .shard_count = 8, .generation = 42 };
	memcpy(exp.dataset_id, DATASET, 16);
	assert_int_equal(aof_header_decode(b, sizeof(b), &exp, &d, NULL, NULL, 0), 0);
}

static void test_aof_format_header_not_aof(void **state)
{
	enum aof_verdict_kind kind;
	char msg[192];
	struct file_header h;
	uint8_t b[AOF_HEADER_SIZE];
	const char *redis = "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n";

	assert_int_equal(aof_header_decode(redis, strlen(redis), NULL, NULL, &kind, msg,
					   sizeof(msg)), KV_ECORRUPT);
	assert_int_equal(kind, AOF_VERDICT_NOT_AOF);
	assert_non_null(strstr(msg, "not a kevy AOF"));
	/* Even three bytes are enough to say no. */
	assert_int_equal(aof_header_decode("RED", 3, NULL, NULL, &kind, NULL, 0), KV_ECORRUPT);
	assert_int_equal(kind, AOF_VERDICT_NOT_AOF);

	struct result res;
	header_for(&h, 0);
	aof_header_encode(&h, b);
	b[0] = 'X';
	read_file(b, sizeof(b), 0, NULL, &res);
	assert_int_equal(res.code, KV_ECORRUPT);
	assert_int_equal(res.v.kind, AOF_VERDICT_NOT_AOF);
	assert_int_equal(res.v.offset, 0);
}

static void test_aof_format_header_version(void **state)
{
	/* A well-formed header of a future version: longer, checksum last. */
	uint8_t b[96];
	enum aof_verdict_kind kind;
	char msg[192];

	memset(b, 0x5a, sizeof(b));
	memcpy(b, AOF_MAGIC, 8);
	b[8] = AOF_FORMAT_VERSION + 1; b[9] = 0;
	b[10] = 96; b[11] = 0;
	uint64_t sum = kv_hash64(b, 88, 0);
	for (int i = 0; i < 8; i++)
		b[88 + i] = (uint8_t)(sum >> (8 * i));
	assert_int_equal(aof_header_decode(b, sizeof(b), NULL, NULL, &kind, msg, sizeof(msg)),
			 KV_EVERSION);
	assert_int_equal(kind, AOF_VERDICT_VERSION);
	char want[32];
	snprintf(want, sizeof(want), "version %d", AOF_FORMAT_VERSION + 1);
	assert_non_null(strstr(msg, want));
	/* Short of its declared length: the reader waits, then calls it torn. */
	assert_int_equal(aof_header_decode(b, 80, NULL, NULL, &kind, NULL, 0), KV_ETORN);

	struct result res;
	read_file(b, sizeof(b), 5, NULL, &res);
	assert_int_equal(res.code, KV_EVERSION);

	/* Damage in the version field itself is corruption, not a new version. */
	struct file_header h;
	uint8_t v1[AOF_HEADER_SIZE];
	header_for(&h, 0);
	aof_header_encode(&h, v1);
	v1[8] = 1;
	assert_int_equal(aof_header_decode(v1, sizeof(v1), NULL, NULL, &kind, NULL, 0),
			 KV_ECORRUPT);
	assert_int_equal(kind, AOF_VERDICT_CORRUPT);
	b[50] ^= 1;
	assert_int_equal(aof_header_decode(b, sizeof(b), NULL, NULL, &kind, NULL, 0),
			 KV_ECORRUPT);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void reseal_header(uint8_t *b)
{
	uint64_t sum = kv_hash64(b, 64, 0);
	for (int i = 0; i < 8; i++)
		b[64 + i] = (uint8_t)(sum >> (8 * i));
}

static void test_aof_format_header_corrupt(void **state)
{
	struct file_header h;
	uint8_t b[AOF_HEADER_SIZE], c[AOF_HEADER_SIZE];
	enum aof_verdict_kind kind;
	char msg[192];

	header_for(&h, 0);
	aof_header_encode(&h, b);

	memcpy(c, b, sizeof(c));
	c[40] ^= 0x10;   /* generation, checksum not updated */
	assert_int_equal(aof_header_decode(c, sizeof(c), NULL, NULL, &kind, msg, sizeof(msg)),
			 KV_ECORRUPT);
	assert_int_equal(kind, AOF_VERDICT_CORRUPT);
	assert_non_null(strstr(msg, "checksum"));

	/* Checksummed but impossible: the writer's bug, still refused. */
	memcpy(c, b, sizeof(c));
	put_u32(c + 32, 4);   /* shard 4 of 4 */
	reseal_header(c);
	assert_int_equal(aof_header_decode(c, sizeof(c), NULL, NULL, &kind, NULL, 0), KV_ECORRUPT);
	memcpy(c, b, sizeof(c));
	put_u32(c + 36, 0);   /* zero shards */
	reseal_header(c);
	assert_int_equal(aof_header_decode(c, sizeof(c), NULL, NULL, &kind, NULL, 0), KV_ECORRUPT);
	memcpy(c, b, sizeof(c));
	memset(c + 16, 0, 16);   /* dataset id never set */
	reseal_header(c);
	assert_int_equal(aof_header_decode(c, sizeof(c), NULL, NULL, &kind, msg, sizeof(msg)),
			 KV_ECORRUPT);
	assert_non_null(strstr(msg, "dataset id is zero"));
	memcpy(c, b, sizeof(c));
	c[12] = 1;   /* flags */
	reseal_header(c);
	assert_int_equal(aof_header_decode(c, sizeof(c), NULL, NULL, &kind, NULL, 0), KV_ECORRUPT);
	memcpy(c, b, sizeof(c));
	c[10] = 80;   /* version 1 header of another length */
	assert_int_equal(aof_header_decode(c, sizeof(c), NULL, NULL, &kind, NULL, 0), KV_ECORRUPT);
}

static void test_aof_format_header_short(void **state)
{
	struct file_header h;
	uint8_t b[AOF_HEADER_SIZE];
	struct result res;
	enum aof_verdict_kind kind;

	header_for(&h, 0);
	aof_header_encode(&h, b);
	for (size_t n = 0; n < sizeof(b); n++) {
		assert_int_equal(aof_header_decode(b, n, NULL, NULL, &kind, NULL, 0), KV_ETORN);
		read_file(b, n, 1, NULL, &res);
		assert_int_equal(res.code, KV_ETORN);
		assert_int_equal(res.v.offset, 0);
		assert_int_equal(res.v.dropped_bytes, n);
		assert_int_equal(res.n, 0);
	}
	read_file(b, sizeof(b), 1, NULL, &res);
	assert_int_equal(res.code, AOF_CLEAN_EOF);
	assert_int_equal(res.v.records, 0);
	assert_int_equal(res.v.valid_end, AOF_HEADER_SIZE);
}

static void expect_mismatch(const uint8_t *b, const struct file_expect *exp, const char *want)
{
	enum aof_verdict_kind kind;
	char msg[192];
	struct result res;
	struct aof_reader_config cfg = { .expect = exp };

	assert_int_equal(aof_header_decode(b, AOF_HEADER_SIZE, exp, NULL, &kind, msg, sizeof(msg)),
			 KV_EMISMATCH);
	assert_int_equal(kind, AOF_VERDICT_MISMATCH);
	if (!strstr(msg, want))
		fail_msg("\"%s\" does not contain \"%s\"", msg, want);
	read_file(b, AOF_HEADER_SIZE, 0, &cfg, &res);
	assert_int_equal(res.code, KV_EMISMATCH);
	assert_int_equal(res.v.kind, AOF_VERDICT_MISMATCH);
	char line[256];
	aof_verdict_describe(&res.v, "shard-1.aof", line, sizeof(line));
	if (!strstr(line, want) || !strstr(line, "shard-1.aof"))
		fail_msg("describe: %s", line);
}

static void test_aof_format_header_mismatch(void **state)
{
	struct file_header h;
	uint8_t b[AOF_HEADER_SIZE];
	struct file_expect exp = { .shard_id = 1, .shard_count = 4, .generation = 7 };

	header_for(&h, 0);   /* shard 1 of 4, generation 7 */
	aof_header_encode(&h, b);
	memcpy(exp.dataset_id, DATASET, 16);

	exp.fields = FILE_EXPECT_SHARD;
	exp.shard_id = 2;
	expect_mismatch(b, &exp, "shard id mismatch: file has 1, expected 2");
	exp.shard_id = 1;
	exp.fields = FILE_EXPECT_SHARD_COUNT | FILE_EXPECT_SHARD;
	exp.shard_count = 8;
	expect_mismatch(b, &exp, "shard count mismatch: file has 4, expected 8");
	exp.shard_count = 4;
	exp.fields = FILE_EXPECT_GENERATION;
	exp.generation = 9;
	expect_mismatch(b, &exp, "generation mismatch: file has 7, expected 9");
	exp.generation = 7;
	exp.fields = FILE_EXPECT_DATASET;
	exp.dataset_id[15] = 0xff;
	expect_mismatch(b, &exp, "dataset id mismatch: file has 6b657679010203040506070809"
			"0a0b0c, expected 6b657679010203040506070809"
			"0a0bff");
	/* Fields not asked for are not compared. */
	exp.fields = FILE_EXPECT_SHARD;
	assert_int_equal(aof_header_decode(b, sizeof(b), &exp, NULL, NULL, NULL, 0), 0);
}

/* ---- payload ---- */

static void test_aof_format_payload_round_trip(void **state)
{
	struct kv_buf b = KV_BUF_INIT;
	struct kv_slice c1[] = { S("SET"), { "\0\xff\x80", 3 }, { "", 0 } };
	struct kv_slice c2[] = { S("DEL"), S("a"), S("b"), S("c") };
	static char big[20000];
	memset(big, 'x', sizeof(big));
	struct kv_slice c3[] = { S("SET"), S("k"), { big, sizeof(big) } };
	struct kv_slice *cmds[] = { c1, c2, c3 };
	int argcs[] = { 3, 4, 3 };
	uint64_t ncmds;

	aof_payload_begin(&b, TIME_MS);
	for (int i = 0; i < 3; i++) {
		size_t before = b.len;
		aof_payload_append(&b, argcs[i], cmds[i]);
		assert_int_equal(b.len - before, aof_payload_size(argcs[i], cmds[i]));
	}
	assert_int_equal(aof_payload_validate(b.data, b.len, &ncmds), 0);
	assert_int_equal(ncmds, 3);

	struct aof_payload_iter it;
	int argc;
	struct kv_slice *argv;
	aof_payload_iter_init(&it, b.data, b.len);
	assert_int_equal(it.time_ms, TIME_MS);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(aof_payload_next(&it, &argc, &argv), 1);
		assert_int_equal(argc, argcs[i]);
		for (int j = 0; j < argc; j++) {
			assert_int_equal(argv[j].len, cmds[i][j].len);
			assert_memory_equal(argv[j].ptr, cmds[i][j].ptr, argv[j].len);
		}
	}
	assert_int_equal(aof_payload_next(&it, &argc, &argv), 0);
	aof_payload_iter_free(&it);
	/* The 20000-byte length is a 3-byte varint: the encoding is compact. */
	assert_int_equal(aof_payload_size(3, c3), 1 + 1 + 3 + 1 + 1 + 3 + sizeof(big));
	kv_buf_free(&b);
}

static void test_aof_format_payload_rejects_malformed(void **state)
{
	static const struct { const char *p; size_t n; } bad[] = {
		{ "", 0 },                    /* no command */
		{ "\x00", 1 },                /* argc 0 */
		{ "\x01", 1 },                /* argument missing */
		{ "\x01\x03" "ab", 4 },       /* argument overruns */
		{ "\x01\x01" "a" "\x01", 4 }, /* trailing partial command */
		{ "\x81\x00\x01" "a", 4 },    /* non-minimal argc varint */
		{ "\x01\x80\x00", 3 },        /* non-minimal length varint */
		{ "\x02\x01" "a", 3 },        /* argc larger than the bytes left */
		{ "\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11 }, /* 64-bit overflow */
	};
	for (size_t i = 0; i < KV_ARRAY_LEN(bad); i++) {
		struct kv_buf b = KV_BUF_INIT;
		aof_payload_begin(&b, TIME_MS);
		kv_buf_append(&b, bad[i].p, bad[i].n);
		if (aof_payload_validate(b.data, b.len, NULL) != KV_ECORRUPT)
			fail_msg("malformed payload %zu accepted", i);
		struct aof_payload_iter it;
		int argc;
		struct kv_slice *argv;
		aof_payload_iter_init(&it, b.data, b.len);
		int rc;
		while ((rc = aof_payload_next(&it, &argc, &argv)) == 1)
			;
		if (bad[i].n)
			assert_int_equal(rc, KV_ECORRUPT);
		aof_payload_iter_free(&it);
		kv_buf_free(&b);
	}
	/* One empty argument is well formed; a payload without its time is not. */
	assert_int_equal(aof_payload_validate("\0\0\0\0\0\0\0\0\x01\x00", 10, NULL), 0);
	assert_int_equal(aof_payload_validate("\x01\x00", 2, NULL), KV_ECORRUPT);
}

/* ---- records ---- */

static void test_aof_format_record_round_trip(void **state)
{
	struct sample s;
	struct result res;
	size_t chunks[] = { 0, 1, 3, 31, 32, 33, 4096, 1 << 20 };

	for (int sealed = 0; sealed < 2; sealed++) {
		sample_build(&s, sealed);
		for (size_t c = 0; c < KV_ARRAY_LEN(chunks); c++) {
			read_file(s.file.data, s.file.len, chunks[c], NULL, &res);
			assert_int_equal(res.code, AOF_CLEAN_EOF);
			assert_prefix_of(&res, &s, s.n);
			assert_int_equal(res.v.kind, AOF_VERDICT_CLEAN);
			assert_int_equal(res.v.sealed, sealed);
			assert_int_equal(res.v.records, s.n);
			assert_int_equal(res.v.first_lsn, START_LSN + 1);
			assert_int_equal(res.v.last_lsn, START_LSN + 6);
			assert_int_equal(res.v.valid_end, s.file.len);
			assert_int_equal(res.v.bytes_seen, s.file.len);
			result_free(&res);
		}
		/* The MULTI/EXEC record iterates back to its three commands. */
		struct aof_payload_iter it;
		int argc, n = 0;
		struct kv_slice *argv;
		aof_payload_iter_init(&it, s.recs[2].payload, s.recs[2].payload_len);
		while (aof_payload_next(&it, &argc, &argv) == 1)
			n++;
		aof_payload_iter_free(&it);
		assert_int_equal(n, 3);
		assert_int_equal(s.recs[0].lsn, START_LSN + 1);
		sample_free(&s);
	}
}

static void test_aof_format_every_prefix(void **state)
{
	for (int sealed = 0; sealed < 2; sealed++) {
		struct sample s;
		struct result res;
		sample_build(&s, sealed);
		for (size_t len = 0; len <= s.file.len; len++) {
			read_file(s.file.data, len, len % 2 ? 7 : 0, NULL, &res);
			if (len < AOF_HEADER_SIZE) {
				assert_int_equal(res.code, KV_ETORN);
				assert_int_equal(res.v.offset, 0);
				continue;
			}
			int k = 0;   /* records wholly inside the prefix */
			while (k < s.n && s.recs[k].offset + s.recs[k].size <= len)
				k++;
			assert_prefix_of(&res, &s, k);
			uint64_t end = rec_end(&s, k);
			if (len == end) {
				assert_int_equal(res.code, AOF_CLEAN_EOF);
				assert_int_equal(res.v.valid_end, len);
			} else {
				assert_int_equal(res.code, KV_ETORN);
				assert_int_equal(res.v.kind, AOF_VERDICT_TORN);
				assert_int_equal(res.v.offset, end);
				assert_int_equal(res.v.valid_end, end);
				assert_int_equal(res.v.dropped_bytes, len - end);
				/* Once its header is in, the dropped record is named. */
				if (len - end >= AOF_RECORD_HEADER_SIZE) {
					assert_int_equal(res.v.dropped_headers, 1);
					assert_int_equal(res.v.dropped_lsn_min, s.recs[k].lsn);
					assert_int_equal(res.v.dropped_lsn_max, s.recs[k].lsn);
				} else {
					assert_int_equal(res.v.dropped_headers, 0);
				}
			}
			result_free(&res);
		}
		sample_free(&s);
	}
}

static void test_aof_format_every_bit_flip(void **state)
{
	for (int sealed = 0; sealed < 2; sealed++) {
		struct sample s;
		struct result res;
		sample_build(&s, sealed);
		uint8_t *f = (uint8_t *)s.file.data;
		for (size_t i = 0; i < s.file.len; i++) {
			int k = 0;   /* record holding byte i, or -1 for the header */
			if (i < AOF_HEADER_SIZE)
				k = -1;
			else
				while (s.recs[k].offset + s.recs[k].size <= i)
					k++;
			for (int bit = 0; bit < 8; bit++) {
				f[i] ^= (uint8_t)(1u << bit);
				read_file(f, s.file.len, 0, NULL, &res);
				f[i] ^= (uint8_t)(1u << bit);
				if (k < 0) {
					assert_int_equal(res.code, KV_ECORRUPT);
					assert_int_equal(res.v.kind, i < 8 ? AOF_VERDICT_NOT_AOF
									   : AOF_VERDICT_CORRUPT);
					assert_int_equal(res.v.offset, 0);
					assert_int_equal(res.n, 0);
					continue;
				}
				/* Never different content: exactly the records before it. */
				assert_prefix_of(&res, &s, k);
				if (k == s.n - 1) {
					assert_int_equal(res.code, KV_ETORN);
					assert_int_equal(res.v.dropped_bytes, s.recs[k].size);
				} else {
					assert_int_equal(res.code, KV_ECORRUPT);
					assert_true(res.v.follower);
					assert_int_equal(res.v.follower_offset, s.recs[k + 1].offset);
					assert_int_equal(res.v.follower_lsn, s.recs[k + 1].lsn);
				}
				assert_int_equal(res.v.offset, s.recs[k].offset);
				result_free(&res);
			}
		}
		sample_free(&s);
	}
}

static void test_aof_format_lsn_order(void **state)
{
	static const struct { uint64_t lsn[3]; int bad; uint16_t version; const char *why; } cases[] = {
		{ { 101, 102, 102 }, 2, 2, "LSN not increasing" },  /* equal, last: still corrupt */
		{ { 101, 103, 102 }, 1, 2, "LSN not consecutive" }, /* v2 numbers every record */
		{ { 101, 103, 102 }, 2, 1, "LSN not increasing" },  /* decreasing */
		{ { 100, 101, 102 }, 0, 2, "LSN not increasing" },  /* not after the start LSN */
		{ { 102, 103, 104 }, 0, 2, "LSN not consecutive" }, /* a first record missing */
		{ { 101, 105, 900 }, -1, 1, NULL },                 /* version 1 allowed gaps */
		{ { 101, 102, 103 }, -1, 2, NULL },
	};
	for (size_t c = 0; c < KV_ARRAY_LEN(cases); c++) {
		struct sample s;
		struct result res;
		struct kv_buf pl = KV_BUF_INIT;
		struct kv_slice cmd[] = { S("SET"), S("k"), S("v") };
		size_t off[3];
		aof_payload_begin(&pl, TIME_MS);
		aof_payload_append(&pl, 3, cmd);
		sample_start_version(&s, START_LSN, cases[c].version);
		for (int i = 0; i < 3; i++) {
			off[i] = s.file.len;
			aof_record_append_raw(&s.file, s.h.checksum, AOF_REC_EFFECT, 0,
					      cases[c].lsn[i], pl.data, pl.len);
		}
		read_file(s.file.data, s.file.len, 0, NULL, &res);
		if (cases[c].bad < 0) {
			assert_int_equal(res.code, AOF_CLEAN_EOF);
			assert_int_equal(res.n, 3);
		} else {
			assert_int_equal(res.code, KV_ECORRUPT);
			assert_int_equal(res.v.offset, off[cases[c].bad]);
			assert_non_null(strstr(res.v.reason, cases[c].why));
			assert_int_equal(res.n, cases[c].bad);
		}
		result_free(&res);
		kv_buf_free(&pl);
		sample_free(&s);
	}
}

static void test_aof_format_oversized_length(void **state)
{
	struct sample s;
	struct result res;
	struct aof_encoder e;
	struct aof_reader_config cfg = { .max_payload = 64 };
	static char big[100];
	struct kv_slice cmd[] = { S("SET"), S("k"), { big, sizeof(big) } };
	struct kv_slice small[] = { S("SET"), S("k"), S("v") };
	uint64_t lsn = 0;

	/* The writer refuses what readers would refuse, and uses no LSN. */
	sample_start(&s, START_LSN);
	aof_encoder_init(&e, &s.h, 64);
	size_t before = s.file.len;
	assert_int_equal(aof_encoder_effect(&e, &s.file, TIME_MS, 3, cmd, &lsn), KV_ELIMIT);
	assert_int_equal(s.file.len, before);
	assert_int_equal(aof_encoder_effect(&e, &s.file, TIME_MS, 3, small, &lsn), 0);
	assert_int_equal(lsn, START_LSN + 1);

	/* A verified header over the limit is corrupt even as the last record. */
	struct kv_buf pl = KV_BUF_INIT;
	aof_payload_begin(&pl, TIME_MS);
	aof_payload_append(&pl, 3, cmd);
	size_t off = s.file.len;
	aof_record_append_raw(&s.file, s.h.checksum, AOF_REC_EFFECT, 0, START_LSN + 2,
			      pl.data, pl.len);
	read_file(s.file.data, s.file.len, 0, &cfg, &res);
	assert_int_equal(res.code, KV_ECORRUPT);
	assert_int_equal(res.v.offset, off);
	assert_int_equal(res.n, 1);
	result_free(&res);
	/* With a larger limit the same file is clean. */
	read_file(s.file.data, s.file.len, 0, NULL, &res);
	assert_int_equal(res.code, AOF_CLEAN_EOF);
	result_free(&res);

	/* Garbage claiming 4 GiB is a bad header (tail), never an allocation. */
	s.file.len = off;
	uint8_t junk[AOF_RECORD_HEADER_SIZE];
	memset(junk, 0xff, sizeof(junk));
	junk[12] = AOF_REC_EFFECT; junk[13] = 0; junk[14] = 0; junk[15] = 0;
	kv_buf_append(&s.file, junk, sizeof(junk));
	read_file(s.file.data, s.file.len, 0, NULL, &res);
	assert_int_equal(res.code, KV_ETORN);
	assert_int_equal(res.v.offset, off);
	assert_true(res.max_cap <= 64 * 1024);
	result_free(&res);
	kv_buf_free(&pl);
	sample_free(&s);
}

static void test_aof_format_torn_tail_garbage(void **state)
{
	struct sample s;
	struct result res;

	sample_build(&s, false);
	struct rec_copy *last = &s.recs[s.n - 1];
	uint8_t *f = (uint8_t *)s.file.data;
	/* Payload torn (sector never written) and the file extended with zeros. */
	memset(f + last->offset + AOF_RECORD_HEADER_SIZE, 0, last->payload_len);
	kv_buf_reserve(&s.file, 8192);
	f = (uint8_t *)s.file.data;
	memset(f + s.file.len, 0, 8192);
	s.file.len += 8192;
	read_file(s.file.data, s.file.len, 0, NULL, &res);
	assert_int_equal(res.code, KV_ETORN);
	assert_int_equal(res.v.offset, last->offset);
	assert_int_equal(res.v.dropped_bytes, s.file.len - last->offset);
	assert_int_equal(res.v.dropped_headers, 1);
	assert_int_equal(res.v.dropped_lsn_min, last->lsn);
	assert_string_equal(res.v.reason, "record checksum mismatch");
	assert_prefix_of(&res, &s, s.n - 1);
	result_free(&res);

	/* Random garbage after the last good record. */
	s.file.len = last->offset;
	for (int i = 0; i < 5000; i++)
		kv_buf_append_char(&s.file, (char)rnd());
	read_file(s.file.data, s.file.len, 0, NULL, &res);
	assert_int_equal(res.code, KV_ETORN);
	assert_int_equal(res.v.offset, last->offset);
	assert_prefix_of(&res, &s, s.n - 1);
	result_free(&res);
	sample_free(&s);
}

static void test_aof_format_bad_then_valid(void **state)
{
	struct sample s;
	struct result res;

	/* A record zeroed in the middle (a lost sector) with valid ones after:
	 * not a torn append, refused with the follower named. */
	sample_build(&s, false);
	uint8_t *f = (uint8_t *)s.file.data;
	memset(f + s.recs[2].offset, 0, s.recs[2].size);
	read_file(s.file.data, s.file.len, 0, NULL, &res);
	assert_int_equal(res.code, KV_ECORRUPT);
	assert_int_equal(res.v.offset, s.recs[2].offset);
	assert_true(res.v.follower);
	assert_int_equal(res.v.follower_offset, s.recs[3].offset);
	assert_prefix_of(&res, &s, 2);
	char line[512];
	aof_verdict_describe(&res.v, "aof-0.seg", line, sizeof(line));
	char want[128];
	snprintf(want, sizeof(want), "corrupt record at offset %" PRIu64, s.recs[2].offset);
	if (!strstr(line, want) || !strstr(line, "followed by a valid record"))
		fail_msg("describe: %s", line);
	result_free(&res);
	sample_free(&s);

	/* A valid record far behind zeros and garbage still counts. */
	sample_build(&s, false);
	struct kv_buf tail = KV_BUF_INIT;
	size_t last_off = s.recs[s.n - 1].offset;
	kv_buf_append(&tail, s.file.data + last_off, s.recs[s.n - 1].size);
	s.file.len = s.recs[s.n - 2].offset;   /* drop the last two records */
	for (int i = 0; i < 70000; i++)
		kv_buf_append_char(&s.file, i < 100 ? (char)rnd() : 0);
	kv_buf_append(&s.file, tail.data, tail.len);
	read_file(s.file.data, s.file.len, 4093, NULL, &res);
	assert_int_equal(res.code, KV_ECORRUPT);
	assert_int_equal(res.v.offset, s.recs[s.n - 2].offset);
	assert_int_equal(res.v.follower_lsn, s.recs[s.n - 1].lsn);
	assert_true(res.max_cap <= 64 * 1024);
	result_free(&res);
	kv_buf_free(&tail);
	sample_free(&s);
}

/* Records 1..6 of a segment of `version`, framed as a writer would that
 * learns "durable up to durable_before[i]" before framing record i. */
static void sample_with_bounds(struct sample *s, uint16_t version, const uint64_t *durable_before)
{
	struct aof_encoder e;
	sample_start_version(s, START_LSN, version);
	aof_encoder_init(&e, &s->h, 0);
	for (int i = 0; i < 6; i++) {
		if (durable_before[i])
			aof_encoder_set_durable(&e, START_LSN + durable_before[i]);
		char val[16];
		snprintf(val, sizeof(val), "v%d", i);
		struct kv_slice set[] = { S("SET"), S("k"), S(val) };
		uint64_t lsn;
		size_t off = s->file.len;
		assert_int_equal(aof_encoder_effect(&e, &s->file, TIME_MS, 3, set, &lsn), 0);
		sample_note(s, off, AOF_REC_EFFECT, lsn);
	}
}

static void test_aof_format_unsynced_followers(void **state)
{
	(void)state;
	struct sample s;
	struct result res;

	/* Records 3..6 framed while only 1..2 were known durable: a power cut
	 * kept 4..6 but not 3 (a hole).  Nothing from 3 on was acknowledged
	 * under always, so it is all a torn tail, followers included. */
	const uint64_t unsynced[6] = { 0, 1, 2, 2, 2, 2 };
	sample_with_bounds(&s, 2, unsynced);
	memset((uint8_t *)s.file.data + s.recs[2].offset, 0, s.recs[2].size);
	read_file(s.file.data, s.file.len, 0, NULL, &res);
	assert_int_equal(res.code, KV_ETORN);
	assert_int_equal(res.v.offset, s.recs[2].offset);
	assert_int_equal(res.v.unsynced_followers, 3);
	assert_int_equal(res.v.dropped_lsn_max, s.recs[5].lsn);
	assert_prefix_of(&res, &s, 2);
	char line[512];
	aof_verdict_describe(&res.v, "s.aof", line, sizeof(line));
	if (!strstr(line, "torn tail at offset") || !strstr(line, "3 of them complete"))
		fail_msg("describe: %s", line);
	result_free(&res);
	/* Byte-at-a-time feeding gives the same verdict. */
	read_file(s.file.data, s.file.len, 1, NULL, &res);
	assert_int_equal(res.code, KV_ETORN);
	result_free(&res);
	sample_free(&s);

	/* Record 5 was framed after 3 was durable: the hole at 3 is damage
	 * to a synced record, refused. */
	const uint64_t synced[6] = { 0, 1, 2, 2, 3, 4 };
	sample_with_bounds(&s, 2, synced);
	memset((uint8_t *)s.file.data + s.recs[2].offset, 0, s.recs[2].size);
	read_file(s.file.data, s.file.len, 0, NULL, &res);
	assert_int_equal(res.code, KV_ECORRUPT);
	assert_true(res.v.follower);
	assert_int_equal(res.v.follower_lsn, s.recs[4].lsn);
	result_free(&res);
	sample_free(&s);

	/* A version 1 segment carries no bound: its writer ignores what it is
	 * told, and a hole before any valid record is refused as before. */
	sample_with_bounds(&s, 1, unsynced);
	for (int i = 0; i < s.n; i++)
		assert_int_equal(le_get16((uint8_t *)s.file.data + s.recs[i].offset + 14), 0);
	memset((uint8_t *)s.file.data + s.recs[2].offset, 0, s.recs[2].size);
	read_file(s.file.data, s.file.len, 0, NULL, &res);
	assert_int_equal(res.code, KV_ECORRUPT);
	result_free(&res);
	sample_free(&s);

	/* Gaps beyond 2^15 are stored rounded down: the bound never drops
	 * below the truth.  A writer 100000 records behind its fsync. */
	struct aof_encoder e;
	struct file_header h;
	struct kv_buf b = KV_BUF_INIT;
	header_for(&h, 100010);
	aof_encoder_init(&e, &h, 0);
	aof_encoder_set_durable(&e, 10);
	struct kv_slice set[] = { S("SET"), S("k"), S("v") };
	assert_int_equal(aof_encoder_effect(&e, &b, TIME_MS, 3, set, NULL), 0);
	/* gap 100001 = 3 * 2^15 + 1696: stored as 0x8000 | 3, read as 98304 */
	assert_int_equal(le_get16((uint8_t *)b.data + 14), 0x8003);
	uint8_t hb[AOF_HEADER_SIZE];
	aof_header_encode(&h, hb);
	struct kv_buf f = KV_BUF_INIT;
	kv_buf_append(&f, hb, sizeof(hb));
	kv_buf_append(&f, b.data, b.len);
	read_file(f.data, f.len, 0, NULL, &res);
	assert_int_equal(res.code, AOF_CLEAN_EOF);
	assert_int_equal(res.n, 1);
	result_free(&res);
	kv_buf_free(&b);
	kv_buf_free(&f);
}

static void test_aof_format_records_bound_to_segment(void **state)
{
	struct sample s, other;
	struct result res;

	/* The same bytes written for another segment (here: another start LSN,
	 * so another header checksum) do not verify in this one. */
	sample_build(&s, false);
	sample_build(&other, false);
	sample_free(&other);
	sample_start(&other, START_LSN + 1000);
	struct aof_encoder e;
	struct kv_slice cmd[] = { S("SET"), S("k"), S("v") };
	aof_encoder_init(&e, &other.h, 0);
	e.last_lsn = START_LSN + 6;   /* the LSN it would need here */
	size_t off = other.file.len;
	assert_int_equal(aof_encoder_effect(&e, &other.file, TIME_MS, 3, cmd, NULL), 0);
	size_t at = s.file.len;
	kv_buf_append(&s.file, other.file.data + off, other.file.len - off);
	read_file(s.file.data, s.file.len, 0, NULL, &res);
	assert_int_equal(res.code, KV_ETORN);
	assert_int_equal(res.v.offset, at);
	assert_int_equal(res.v.dropped_headers, 0);
	result_free(&res);
	sample_free(&other);
	sample_free(&s);
}

static void test_aof_format_sealed_segment(void **state)
{
	struct sample s;
	struct result res;

	sample_build(&s, true);
	kv_buf_append(&s.file, "\x01", 1);   /* anything after the end marker */
	read_file(s.file.data, s.file.len, 0, NULL, &res);
	assert_int_equal(res.code, KV_ECORRUPT);
	assert_int_equal(res.v.offset, s.file.len - 1);
	assert_true(res.v.sealed);
	assert_prefix_of(&res, &s, s.n);
	result_free(&res);
	sample_free(&s);

	/* An end marker whose count or LSN disagrees with the segment. */
	for (int c = 0; c < 2; c++) {
		sample_build(&s, false);
		uint8_t pl[8] = { 6 };
		uint64_t lsn = START_LSN + 6;
		if (c == 0)
			pl[0] = 5;
		else
			lsn++;
		size_t off = s.file.len;
		aof_record_append_raw(&s.file, s.h.checksum, AOF_REC_SEGMENT_END, 0, lsn, pl, 8);
		read_file(s.file.data, s.file.len, 0, NULL, &res);
		assert_int_equal(res.code, KV_ECORRUPT);
		assert_int_equal(res.v.offset, off);
		result_free(&res);
		sample_free(&s);
	}

	/* Unknown record type or flags under a verified header: corrupt. */
	sample_build(&s, false);
	size_t off = s.file.len;
	aof_record_append_raw(&s.file, s.h.checksum, 9, 0, START_LSN + 7, "\x01\x00", 2);
	read_file(s.file.data, s.file.len, 0, NULL, &res);
	assert_int_equal(res.code, KV_ECORRUPT);
	assert_int_equal(res.v.offset, off);
	result_free(&res);
	s.file.len = off;
	aof_record_append_raw(&s.file, s.h.checksum, AOF_REC_EFFECT, 0x80, START_LSN + 7,
			      "\x01\x00", 2);
	read_file(s.file.data, s.file.len, 0, NULL, &res);
	assert_int_equal(res.code, KV_ECORRUPT);
	result_free(&res);
	/* A checksummed record with a malformed payload: the writer's bug. */
	s.file.len = off;
	aof_record_append_raw(&s.file, s.h.checksum, AOF_REC_EFFECT, 0, START_LSN + 7,
			      "\x02\x00", 2);
	read_file(s.file.data, s.file.len, 0, NULL, &res);
	assert_int_equal(res.code, KV_ECORRUPT);
	assert_string_equal(res.v.reason, "malformed effect payload");
	result_free(&res);
	sample_free(&s);
}

static void append_zeros(struct kv_buf *b, size_t n)
{
	kv_buf_reserve(b, n);
	memset(b->data + b->len, 0, n);
	b->len += n;
}

/* PREALLOCATED SPACE: zeros after the last record up to EOF are free
 * space (clean), in an open or a sealed segment, however the bytes arrive;
 * zeros followed by anything are judged as a bad record at their start. */
static void test_aof_format_preallocated_zeros(void **state)
{
	static const size_t runs[] = { 1, 31, 32, 33, 5000, 200000 };
	static const size_t chunks[] = { 0, 1, 4093 };
	struct sample s;
	struct result res;

	for (int sealed = 0; sealed < 2; sealed++) {
		for (size_t i = 0; i < KV_ARRAY_LEN(runs); i++) {
			for (size_t c = 0; c < KV_ARRAY_LEN(chunks); c++) {
				if (chunks[c] == 1 && runs[i] > 5000)
					continue;
				sample_build(&s, sealed);
				uint64_t end = s.file.len;
				append_zeros(&s.file, runs[i]);
				read_file(s.file.data, s.file.len, chunks[c], NULL, &res);
				assert_int_equal(res.code, AOF_CLEAN_EOF);
				assert_int_equal(res.v.valid_end, end);
				assert_int_equal(res.v.free_bytes, runs[i]);
				assert_int_equal(res.v.sealed, sealed);
				assert_true(res.max_cap <= 64 * 1024);
				assert_prefix_of(&res, &s, s.n);
				char line[512];
				aof_verdict_describe(&res.v, "seg", line, sizeof(line));
				if (!strstr(line, "clean") || !strstr(line, "preallocated"))
					fail_msg("describe: %s", line);
				result_free(&res);

				/* One byte after the zeros: they were a hole. */
				kv_buf_append(&s.file, "x", 1);
				read_file(s.file.data, s.file.len, chunks[c], NULL, &res);
				assert_int_equal(res.v.offset, end);
				assert_int_equal(res.v.free_bytes, 0);
				if (sealed) {
					assert_int_equal(res.code, KV_ECORRUPT);
					assert_string_equal(res.v.reason,
							    "data after the segment end record");
				} else {
					assert_int_equal(res.code, KV_ETORN);
					assert_int_equal(res.v.dropped_bytes, runs[i] + 1);
					assert_string_equal(res.v.reason,
							    runs[i] + 1 < AOF_RECORD_HEADER_SIZE
								    ? "incomplete record header"
								    : "record header checksum mismatch");
				}
				assert_prefix_of(&res, &s, s.n);
				result_free(&res);
				sample_free(&s);
			}
		}
	}

	/* A valid record after a long run of zeros is found (a lost write,
	 * not free space), and one starting right where the zeros end. */
	for (size_t i = 0; i < KV_ARRAY_LEN(runs); i++) {
		sample_build(&s, false);
		struct kv_buf tail = KV_BUF_INIT;
		const struct rec_copy *last = &s.recs[s.n - 1];
		kv_buf_append(&tail, s.file.data + last->offset, last->size);
		s.file.len = s.recs[s.n - 2].offset;   /* drop the last two */
		append_zeros(&s.file, runs[i]);
		kv_buf_append(&s.file, tail.data, tail.len);
		read_file(s.file.data, s.file.len, 0, NULL, &res);
		assert_int_equal(res.code, KV_ECORRUPT);
		assert_int_equal(res.v.offset, s.recs[s.n - 2].offset);
		assert_true(res.v.follower);
		assert_int_equal(res.v.follower_offset, s.recs[s.n - 2].offset + runs[i]);
		assert_int_equal(res.v.follower_lsn, last->lsn);
		assert_true(res.max_cap <= 64 * 1024);
		assert_prefix_of(&res, &s, s.n - 2);
		result_free(&res);
		kv_buf_free(&tail);
		sample_free(&s);
	}
}

static void test_aof_format_bounded_buffer(void **state)
{
	struct sample s;
	struct result res;
	struct aof_encoder e;
	static char big[300000];
	struct kv_slice cmd[] = { S("SET"), S("big"), { big, sizeof(big) } };
	struct kv_slice small[] = { S("INCR"), S("n") };

	sample_start(&s, START_LSN);
	aof_encoder_init(&e, &s.h, 0);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(aof_encoder_effect(&e, &s.file, TIME_MS, 2, small, NULL), 0);
	read_file(s.file.data, s.file.len, 0, NULL, &res);
	assert_int_equal(res.code, AOF_CLEAN_EOF);
	assert_int_equal(res.v.records, 5000);
	assert_true(res.max_cap <= 64 * 1024);
	assert_true(s.file.len > 2 * 64 * 1024);
	result_free(&res);
	/* One record bigger than the chunk grows the buffer to that record. */
	assert_int_equal(aof_encoder_effect(&e, &s.file, TIME_MS, 3, cmd, NULL), 0);
	read_file(s.file.data, s.file.len, 65536, NULL, &res);
	assert_int_equal(res.code, AOF_CLEAN_EOF);
	assert_true(res.max_cap >= sizeof(big));
	assert_true(res.max_cap <= sizeof(big) + 64 + AOF_RECORD_HEADER_SIZE);
	result_free(&res);
	sample_free(&s);
}

static void test_aof_format_verdict_describe(void **state)
{
	struct sample s;
	struct result res;
	char line[512], want[160];

	sample_build(&s, false);
	struct rec_copy *last = &s.recs[s.n - 1];
	s.file.len -= 3;
	read_file(s.file.data, s.file.len, 0, NULL, &res);
	assert_int_equal(res.code, KV_ETORN);
	size_t n = aof_verdict_describe(&res.v, "appendonly-1.aof", line, sizeof(line));
	assert_int_equal(n, strlen(line));
	snprintf(want, sizeof(want), "appendonly-1.aof: torn tail at offset %" PRIu64
		 " (incomplete record): %" PRIu64 " bytes would be dropped holding 1 "
		 "incomplete record(s), LSN %" PRIu64 "..%" PRIu64,
		 last->offset, last->size - 3, last->lsn, last->lsn);
	if (strncmp(line, want, strlen(want)) != 0)
		fail_msg("describe: %s\nwanted:   %s", line, want);
	snprintf(want, sizeof(want), "truncates the file to %" PRIu64 " bytes", last->offset);
	assert_non_null(strstr(line, want));
	/* Truncated output stays NUL-terminated and reports the full length. */
	char tiny[10];
	assert_int_equal(aof_verdict_describe(&res.v, "appendonly-1.aof", tiny, sizeof(tiny)), n);
	assert_int_equal(strlen(tiny), 9);
	result_free(&res);

	s.file.len += 3;
	read_file(s.file.data, s.file.len, 0, NULL, &res);
	aof_verdict_describe(&res.v, NULL, line, sizeof(line));
	assert_non_null(strstr(line, "clean"));
	assert_non_null(strstr(line, "LSN 101..106"));
	result_free(&res);
	sample_free(&s);
}

/* ---- fuzz ---- */

static void random_command(struct kv_buf *arena, struct kv_slice *argv, int *argc)
{
	*argc = 1 + (int)rnd_below(5);
	for (int i = 0; i < *argc; i++) {
		size_t len = rnd_below(8) == 0 ? rnd_below(3000) : rnd_below(12);
		char *p = kv_malloc(len + 1);
		for (size_t j = 0; j < len; j++)
			p[j] = (char)rnd();
		kv_buf_append(arena, &p, sizeof(p));
		argv[i] = (struct kv_slice){ p, len };
	}
}

static bool record_intact(const struct sample *s, const uint8_t *orig, int i)
{
	const struct rec_copy *r = &s->recs[i];
	return r->offset + r->size <= s->file.len &&
	       memcmp(s->file.data + r->offset, orig + r->offset, r->size) == 0;
}

static void arena_free(struct kv_buf *arena)
{
	for (size_t i = 0; i < arena->len; i += sizeof(char *)) {
		char *p;
		memcpy(&p, arena->data + i, sizeof(p));
		free(p);
	}
	kv_buf_free(arena);
}

/* Version 4: a unit's part (header + effect) and a RESOLVE record round-trip
 * through the encoder and the reader; malformed headers are corrupt; a
 * version 3 segment may not hold them. */
static void test_aof_format_units(void **state)
{
	(void)state;
	struct kv_buf pl = KV_BUF_INIT, eff = KV_BUF_INIT;
	aof_payload_begin(&eff, 1700000000999);
	struct kv_slice cmd[3] = { S("SET"), S("k"), S("v") };
	aof_payload_append(&eff, 3, cmd);
	aof_unit_begin(&pl, 0x1234, 77, 3);
	aof_unit_row(&pl, 0, AOF_UNIT_PART, START_LSN + 1);
	aof_unit_row(&pl, 2, AOF_UNIT_PART, 9);
	aof_unit_row(&pl, 3, AOF_UNIT_READ, 40);
	aof_keys_put(&pl, 2);
	aof_keys_put_key(&pl, 0, "a", 1);
	aof_keys_put_key(&pl, 5, "bb", 2);
	aof_keys_put_all(&pl);
	kv_buf_append(&pl, eff.data, eff.len);

	struct aof_unit u;
	const char *why;
	assert_int_equal(aof_unit_decode(pl.data, pl.len, &u, &why), 0);
	assert_int_equal(u.boot, 0x1234);
	assert_int_equal(u.seq, 77);
	assert_int_equal(u.nrows, 3);
	assert_int_equal(u.rows[1].shard, 2);
	assert_int_equal(u.rows[1].lsn, 9);
	assert_int_equal(u.rows[2].role, AOF_UNIT_READ);
	assert_int_equal(u.effect_len, eff.len);
	assert_memory_equal(u.effect, eff.data, eff.len);
	struct aof_keys_iter it;
	uint32_t db;
	const uint8_t *k;
	size_t kl;
	assert_int_equal(aof_keys_iter_init(&it, u.rows[2].keys, u.rows[2].keys_len), 0);
	assert_false(it.all);
	assert_int_equal(aof_keys_next(&it, &db, &k, &kl), 1);
	assert_true(db == 0 && kl == 1 && k[0] == 'a');
	assert_int_equal(aof_keys_next(&it, &db, &k, &kl), 1);
	assert_true(db == 5 && kl == 2 && memcmp(k, "bb", 2) == 0);
	assert_int_equal(aof_keys_next(&it, &db, &k, &kl), 0);
	assert_int_equal(aof_keys_iter_init(&it, u.reads, u.reads_len), 0);
	assert_true(it.all);
	aof_unit_free(&u);

	/* Every strict prefix of the header is malformed, never a crash. */
	size_t head = pl.len - eff.len;
	for (size_t n = 0; n < head; n++)
		assert_int_equal(aof_unit_decode(pl.data, n, &u, &why), KV_ECORRUPT);
	/* A shard named twice, a zero boot id. */
	struct kv_buf bad = KV_BUF_INIT;
	aof_unit_begin(&bad, 1, 1, 2);
	aof_unit_row(&bad, 4, AOF_UNIT_PART, 1);
	aof_unit_row(&bad, 4, AOF_UNIT_PART, 2);
	aof_keys_put_all(&bad);
	kv_buf_append(&bad, eff.data, eff.len);
	assert_int_equal(aof_unit_decode(bad.data, bad.len, &u, &why), KV_ECORRUPT);
	bad.len = 0;
	aof_unit_begin(&bad, 0, 1, 1);
	aof_unit_row(&bad, 0, AOF_UNIT_PART, 1);
	aof_keys_put_all(&bad);
	kv_buf_append(&bad, eff.data, eff.len);
	assert_int_equal(aof_unit_decode(bad.data, bad.len, &u, &why), KV_ECORRUPT);

	/* RESOLVE. */
	struct kv_buf rp = KV_BUF_INIT;
	uint64_t dropped[3] = { 5, 6, 90 };
	uint64_t ids[1][2] = { { 0x1234, 77 } };
	aof_resolve_encode(&rp, 1700000001000, dropped, 3, (const uint64_t (*)[2])ids, 1);
	int64_t t;
	uint64_t *lsns;
	size_t n, nids;
	assert_int_equal(aof_resolve_decode(rp.data, rp.len, &t, &lsns, &n, &nids), 0);
	assert_int_equal(t, 1700000001000);
	assert_int_equal(n, 3);
	assert_int_equal(nids, 1);
	assert_int_equal(lsns[2], 90);
	free(lsns);
	for (size_t m = 0; m < rp.len; m++)
		assert_int_equal(aof_resolve_decode(rp.data, m, NULL, NULL, NULL, NULL), KV_ECORRUPT);

	/* Both in a version 4 segment, read back in order with their types. */
	struct sample s;
	struct aof_encoder e;
	uint64_t lsn;
	sample_start(&s, START_LSN);
	aof_encoder_init(&e, &s.h, 0);
	assert_int_equal(aof_encoder_typed(&e, &s.file, AOF_REC_UNIT, pl.data, pl.len, &lsn), 0);
	assert_int_equal(lsn, START_LSN + 1);
	assert_int_equal(aof_encoder_payload(&e, &s.file, eff.data, eff.len, &lsn), 0);
	assert_int_equal(aof_encoder_typed(&e, &s.file, AOF_REC_RESOLVE, rp.data, rp.len, &lsn), 0);
	assert_int_equal(lsn, START_LSN + 3);
	aof_encoder_seal(&e, &s.file);
	struct result res;
	read_file(s.file.data, s.file.len, 7, NULL, &res);
	assert_int_equal(res.code, AOF_CLEAN_EOF);
	assert_int_equal(res.n, 4);
	assert_int_equal(res.recs[0].type, AOF_REC_UNIT);
	assert_int_equal(res.recs[1].type, AOF_REC_EFFECT);
	assert_int_equal(res.recs[2].type, AOF_REC_RESOLVE);
	assert_int_equal(res.v.last_lsn, START_LSN + 3);
	assert_true(res.v.sealed);
	result_free(&res);
	sample_free(&s);

	/* A version 3 segment holding a UNIT record: unknown type, corrupt. */
	sample_start_version(&s, START_LSN, 3);
	aof_record_append_raw(&s.file, s.h.checksum, AOF_REC_UNIT, 0, START_LSN + 1, pl.data,
			      pl.len);
	read_file(s.file.data, s.file.len, 4096, NULL, &res);
	assert_int_equal(res.code, KV_ECORRUPT);
	assert_string_equal(res.v.reason, "unknown record type");
	result_free(&res);
	sample_free(&s);
	/* A verified UNIT record whose header is malformed: corrupt too. */
	sample_start(&s, START_LSN);
	aof_record_append_raw(&s.file, s.h.checksum, AOF_REC_UNIT, 0, START_LSN + 1, pl.data,
			      head - 1);
	read_file(s.file.data, s.file.len, 4096, NULL, &res);
	assert_int_equal(res.code, KV_ECORRUPT);
	result_free(&res);
	sample_free(&s);

	kv_buf_free(&pl);
	kv_buf_free(&eff);
	kv_buf_free(&bad);
	kv_buf_free(&rp);
}

static void test_aof_format_fuzz(void **state)
{
	uint64_t seed = test_seed();
	printf("test_aof_format_fuzz: seed %" PRIu64 " (KEVY_TEST_SEED=%" PRIu64 " replays)\n",
	       seed, seed);
	fflush(stdout);
	rng_state = seed;

	for (int iter = 0; iter < 2000; iter++) {
		struct sample s;
		struct aof_encoder e;
		struct kv_buf arena = KV_BUF_INIT;
		struct kv_slice argv[5];
		int argc;

		sample_start(&s, rnd_below(1000));
		aof_encoder_init(&e, &s.h, 0);
		int nrec = 1 + (int)rnd_below(20);
		for (int i = 0; i < nrec; i++) {
			size_t off = s.file.len;
			uint64_t lsn;
			aof_encoder_begin(&e, &s.file, TIME_MS);
			int ncmd = 1 + (int)rnd_below(3);
			for (int c = 0; c < ncmd; c++) {
				random_command(&arena, argv, &argc);
				aof_encoder_add(&e, &s.file, argc, argv);
			}
			assert_int_equal(aof_encoder_commit(&e, &s.file, &lsn), 0);
			sample_note(&s, off, AOF_REC_EFFECT, lsn);
		}
		if (rnd_below(3) == 0) {
			size_t off = s.file.len;
			aof_encoder_seal(&e, &s.file);
			sample_note(&s, off, AOF_REC_SEGMENT_END, e.last_lsn);
		}
		size_t orig_len = s.file.len;
		uint8_t *orig = kv_malloc(orig_len);
		memcpy(orig, s.file.data, orig_len);

		/* Damage: 0 none, 1 truncate, 2 flip bits in records, 3 zero or
		 * randomize a range, 4 append garbage. */
		int kind = (int)rnd_below(5);
		uint8_t *f;
		switch (kind) {
		case 1:
			s.file.len = AOF_HEADER_SIZE + rnd_below(orig_len - AOF_HEADER_SIZE + 1);
			break;
		case 2: {
			int flips = 1 + (int)rnd_below(4);
			f = (uint8_t *)s.file.data;
			for (int i = 0; i < flips; i++) {
				size_t at = AOF_HEADER_SIZE + rnd_below(orig_len - AOF_HEADER_SIZE);
				f[at] ^= (uint8_t)(1u << rnd_below(8));
			}
			break;
		}
		case 3: {
			size_t at = AOF_HEADER_SIZE + rnd_below(orig_len - AOF_HEADER_SIZE);
			size_t n = 1 + rnd_below(KV_MIN((size_t)600, orig_len - at));
			bool zero = rnd_below(2);
			f = (uint8_t *)s.file.data;
			for (size_t i = 0; i < n; i++) {
				f[at + i] = zero ? 0 : (uint8_t)rnd();
			}
			break;
		}
		case 4: {
			size_t n = 1 + rnd_below(400);
			for (size_t i = 0; i < n; i++)
				kv_buf_append_char(&s.file, (char)(rnd_below(2) ? 0 : rnd()));
			break;
		}
		}

		struct result whole, streamed;
		read_file(s.file.data, s.file.len, 0 == rnd_below(2) ? 1 << 20 : 1, NULL, &whole);
		read_file(s.file.data, s.file.len, 0, NULL, &streamed);
		/* Streaming never changes the answer. */
		assert_int_equal(whole.code, streamed.code);
		assert_int_equal(whole.n, streamed.n);
		assert_int_equal(whole.v.offset, streamed.v.offset);
		assert_int_equal(whole.v.dropped_bytes, streamed.v.dropped_bytes);
		assert_int_equal(whole.v.follower_offset, streamed.v.follower_offset);

		/* The rule, computed from the damage: k is the first record that
		 * is not intact; a later intact record makes the file corrupt. */
		int k = 0, j;
		while (k < s.n && record_intact(&s, orig, k))
			k++;
		for (j = k + 1; j < s.n && !record_intact(&s, orig, j); j++)
			;
		assert_prefix_of(&whole, &s, k);
		assert_int_equal(whole.v.free_bytes, streamed.v.free_bytes);
		/* Zeros only from the first damaged byte to EOF: preallocated
		 * space the writer had not reached, clean. */
		size_t from = k == s.n ? orig_len : s.recs[k].offset;
		bool zero_tail = j >= s.n && from < s.file.len;
		for (size_t z = from; zero_tail && z < s.file.len; z++)
			zero_tail = s.file.data[z] == 0;
		if (zero_tail) {
			assert_int_equal(whole.code, AOF_CLEAN_EOF);
			assert_int_equal(whole.v.valid_end, from);
			assert_int_equal(whole.v.free_bytes, s.file.len - from);
		} else if (k == s.n && s.file.len == orig_len) {
			assert_int_equal(whole.code, AOF_CLEAN_EOF);
		} else if (k == s.n) {   /* garbage appended */
			bool sealed = s.recs[s.n - 1].type == AOF_REC_SEGMENT_END;
			assert_int_equal(whole.code, sealed ? KV_ECORRUPT : KV_ETORN);
			assert_int_equal(whole.v.offset, orig_len);
		} else if (s.recs[k].offset >= s.file.len) {   /* cut at a boundary */
			assert_int_equal(whole.code, AOF_CLEAN_EOF);
			assert_int_equal(whole.v.valid_end, s.file.len);
		} else if (j < s.n) {
			assert_int_equal(whole.code, KV_ECORRUPT);
			assert_int_equal(whole.v.offset, s.recs[k].offset);
			assert_true(whole.v.follower);
			assert_int_equal(whole.v.follower_offset, s.recs[j].offset);
		} else {
			if (whole.code != KV_ETORN)
				fail_msg("seed %" PRIu64 " iter %d: code %d, wanted torn", seed,
					 iter, whole.code);
			assert_int_equal(whole.v.offset, s.recs[k].offset);
			assert_int_equal(whole.v.offset, whole.v.valid_end);
			assert_int_equal(whole.v.dropped_bytes, s.file.len - whole.v.offset);
		}
		free(orig);
		result_free(&whole);
		result_free(&streamed);
		arena_free(&arena);
		sample_free(&s);
	}
}

int main(void)
{
	rng_state = 88172645463325252ULL;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_aof_format_header_round_trip),
		cmocka_unit_test(test_aof_format_header_not_aof),
		cmocka_unit_test(test_aof_format_header_version),
		cmocka_unit_test(test_aof_format_header_corrupt),
		cmocka_unit_test(test_aof_format_header_short),
		cmocka_unit_test(test_aof_format_header_mismatch),
		cmocka_unit_test(test_aof_format_payload_round_trip),
		cmocka_unit_test(test_aof_format_payload_rejects_malformed),
		cmocka_unit_test(test_aof_format_record_round_trip),
		cmocka_unit_test(test_aof_format_every_prefix),
		cmocka_unit_test(test_aof_format_every_bit_flip),
		cmocka_unit_test(test_aof_format_lsn_order),
		cmocka_unit_test(test_aof_format_oversized_length),
		cmocka_unit_test(test_aof_format_torn_tail_garbage),
		cmocka_unit_test(test_aof_format_bad_then_valid),
		cmocka_unit_test(test_aof_format_unsynced_followers),
		cmocka_unit_test(test_aof_format_records_bound_to_segment),
		cmocka_unit_test(test_aof_format_sealed_segment),
		cmocka_unit_test(test_aof_format_preallocated_zeros),
		cmocka_unit_test(test_aof_format_bounded_buffer),
		cmocka_unit_test(test_aof_format_verdict_describe),
		cmocka_unit_test(test_aof_format_units),
		cmocka_unit_test(test_aof_format_fuzz),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
