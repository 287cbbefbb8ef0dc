/*
 * test_manifest.c - the dataset file and the per-shard manifest: round trips,
 * every truncated prefix and every single-bit flip rejected, field rules, and
 * the atomic write through kvio in a temp directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/kv.h"
#include "base/le.h"
#include "persist/manifest.h"

static void sample_manifest(struct manifest *m)
{
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < AOF_DATASET_ID_LEN; i++)
		m->dataset_id[i] = (uint8_t)(i * 7 + 1);
	m->shard_id = 1;
	m->shard_count = 3;
	m->generation = 9;
	m->created_ms = 1795000000123LL;
	manifest_add(m, MANIFEST_SNAPSHOT, 4, 500, "kevy-s1-g4.snap");
	manifest_add(m, MANIFEST_AOF, 4, 500, "kevy-s1-g4.aof");
	manifest_add(m, MANIFEST_AOF, 5, 731, "kevy-s1-g5.aof");
}

static void test_manifest_round_trip(void **state)
{
	struct manifest m, d;
	struct kv_buf b = KV_BUF_INIT;
	char msg[200];

	sample_manifest(&m);
	manifest_encode(&m, &b);
	assert_int_equal(manifest_decode((uint8_t *)b.data, b.len, &d, msg, sizeof(msg)), 0);
	assert_memory_equal(d.dataset_id, m.dataset_id, AOF_DATASET_ID_LEN);
	assert_int_equal(d.shard_id, 1);
	assert_int_equal(d.shard_count, 3);
	assert_int_equal(d.generation, 9);
	assert_int_equal(d.created_ms, m.created_ms);
	assert_int_equal(d.nentries, 3);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(d.entries[i].kind, m.entries[i].kind);
		assert_int_equal(d.entries[i].generation, m.entries[i].generation);
		assert_int_equal(d.entries[i].lsn, m.entries[i].lsn);
		assert_string_equal(d.entries[i].name, m.entries[i].name);
	}
	manifest_free(&d);
	manifest_free(&m);
	kv_buf_free(&b);
}

/* A manifest is replaced by rename, so no prefix of one is ever valid. */
static void test_manifest_every_prefix_and_bit_flip(void **state)
{
	struct manifest m, d;
	struct kv_buf b = KV_BUF_INIT;
	char msg[200];

	sample_manifest(&m);
	manifest_encode(&m, &b);
	for (size_t len = 0; len < b.len; len++) {
		uint8_t *copy = malloc(len ? len : 1);
		memcpy(copy, b.data, len);
		if (manifest_decode(copy, len, &d, msg, sizeof(msg)) == 0)
			fail_msg("prefix of %zu bytes accepted", len);
		free(copy);
	}
	uint8_t *copy = malloc(b.len);
	for (size_t bit = 0; bit < b.len * 8; bit++) {
		memcpy(copy, b.data, b.len);
		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		int rc = manifest_decode(copy, b.len, &d, msg, sizeof(msg));
		if (rc == 0)
			fail_msg("bit %zu flipped accepted", bit);
		assert_true(rc == KV_ECORRUPT || rc == KV_EVERSION);
		assert_true(msg[0] != '\0');
	}
	free(copy);
	manifest_free(&m);
	kv_buf_free(&b);
}

/* Re-encode with a valid checksum so the field rules themselves are tested. */
static int decode_resealed(struct kv_buf *b, char *msg, size_t cap)
{
	struct manifest d;
	le_put64((uint8_t *)b->data + b->len - 8, kv_hash64(b->data, b->len - 8, 0));
	int rc = manifest_decode((uint8_t *)b->data, b->len, &d, msg, cap);
	if (rc == 0)
		manifest_free(&d);
	return rc;
}

static void test_manifest_field_rules(void **state)
{
	struct manifest m;
	struct kv_buf b = KV_BUF_INIT;
	char msg[200];

	/* Segments out of order. */
	memset(&m, 0, sizeof(m));
	m.dataset_id[0] = 1;
	m.shard_count = 1;
	manifest_add(&m, MANIFEST_AOF, 5, 100, "a.aof");
	manifest_add(&m, MANIFEST_AOF, 4, 200, "b.aof");
	manifest_encode(&m, &b);
	assert_int_equal(decode_resealed(&b, msg, sizeof(msg)), KV_ECORRUPT);
	assert_non_null(strstr(msg, "out of order"));
	manifest_free(&m);

	/* A snapshot after a segment. */
	b.len = 0;
	manifest_add(&m, MANIFEST_AOF, 1, 0, "a.aof");
	manifest_add(&m, MANIFEST_SNAPSHOT, 2, 10, "a.snap");
	manifest_encode(&m, &b);
	assert_int_equal(decode_resealed(&b, msg, sizeof(msg)), KV_ECORRUPT);
	manifest_free(&m);

	/* A name with a slash (files live in the data directory only). */
	b.len = 0;
	manifest_add(&m, MANIFEST_AOF, 1, 0, "../x.aof");
	manifest_encode(&m, &b);
	assert_int_equal(decode_resealed(&b, msg, sizeof(msg)), KV_ECORRUPT);
	manifest_free(&m);

	/* Shard id out of range; unknown version with a good checksum. */
	b.len = 0;
	manifest_add(&m, MANIFEST_AOF, 1, 0, "a.aof");
	manifest_encode(&m, &b);
	le_put32((uint8_t *)b.data + 32, 7);
	assert_int_equal(decode_resealed(&b, msg, sizeof(msg)), KV_ECORRUPT);
	le_put32((uint8_t *)b.data + 32, 0);
	le_put16((uint8_t *)b.data + 8, 2);
	assert_int_equal(decode_resealed(&b, msg, sizeof(msg)), KV_EVERSION);
	manifest_free(&m);
	kv_buf_free(&b);
}

static void test_dataset_file(void **state)
{
	struct dataset_info ds = { .shard_count = 4, .created_ms = 1795000000000LL }, d;
	uint8_t bytes[DATASET_FILE_SIZE];
	char msg[200];

	memset(ds.id, 0xab, sizeof(ds.id));
	dataset_encode(&ds, bytes);
	assert_int_equal(dataset_decode(bytes, sizeof(bytes), &d, msg, sizeof(msg)), 0);
	assert_int_equal(d.shard_count, 4);
	assert_memory_equal(d.id, ds.id, sizeof(ds.id));
	for (size_t len = 0; len < sizeof(bytes); len++)
		assert_true(dataset_decode(bytes, len, &d, msg, sizeof(msg)) < 0);
	for (size_t bit = 0; bit < sizeof(bytes) * 8; bit++) {
		uint8_t copy[DATASET_FILE_SIZE];
		memcpy(copy, bytes, sizeof(copy));
		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (dataset_decode(copy, sizeof(copy), &d, msg, sizeof(msg)) == 0)
			fail_msg("dataset bit %zu flipped accepted", bit);
	}
	/* An all-zero dataset id is never valid. */
	memset(ds.id, 0, sizeof(ds.id));
	dataset_encode(&ds, bytes);
	assert_int_equal(dataset_decode(bytes, sizeof(bytes), &d, msg, sizeof(msg)), KV_ECORRUPT);
}

/* The turn-on record: every shard's next manifest, checksummed as a whole. */
static void turnon_sample(struct dataset_info *ds, struct kv_buf *rec)
{
	memset(ds, 0, sizeof(*ds));
	for (int i = 0; i < AOF_DATASET_ID_LEN; i++)
		ds->id[i] = (uint8_t)(i * 7 + 1);
	ds->shard_count = 3;
	struct kv_buf mans[3] = { KV_BUF_INIT, KV_BUF_INIT, KV_BUF_INIT };
	for (uint32_t i = 0; i < 3; i++) {
		struct manifest m;
		sample_manifest(&m);
		m.shard_id = i;
		m.generation = 10 + i;
		manifest_encode(&m, &mans[i]);
		manifest_free(&m);
	}
	turnon_encode(ds, mans, rec);
	for (uint32_t i = 0; i < 3; i++)
		kv_buf_free(&mans[i]);
}

static void test_turnon_record(void **state)
{
	(void)state;
	struct dataset_info ds;
	struct kv_buf rec = KV_BUF_INIT;
	turnon_sample(&ds, &rec);
	struct manifest mans[3];
	char msg[300];
	const uint8_t *p = (const uint8_t *)rec.data;
	assert_int_equal(turnon_decode(p, rec.len, &ds, mans, msg, sizeof(msg)), 0);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(mans[i].shard_id, i);
		assert_int_equal(mans[i].generation, 10 + i);
		assert_int_equal(mans[i].nentries, 3);
		assert_string_equal(mans[i].entries[2].name, "kevy-s1-g5.aof");
		manifest_free(&mans[i]);
	}
	/* Every prefix and every single-bit flip is refused, never trusted. */
	for (size_t n = 0; n < rec.len; n++)
		assert_true(turnon_decode(p, n, &ds, mans, msg, sizeof(msg)) < 0);
	uint8_t *c = malloc(rec.len);
	for (size_t bit = 0; bit < rec.len * 8; bit++) {
		memcpy(c, p, rec.len);
		c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_true(turnon_decode(c, rec.len, &ds, mans, msg, sizeof(msg)) < 0);
	}
	free(c);
	/* Another dataset, or another shard count: a mismatch. */
	struct dataset_info other = ds;
	other.id[0] ^= 1;
	assert_int_equal(turnon_decode(p, rec.len, &other, mans, msg, sizeof(msg)), KV_EMISMATCH);
	other = ds;
	other.shard_count = 2;
	assert_int_equal(turnon_decode(p, rec.len, &other, mans, msg, sizeof(msg)), KV_EMISMATCH);
	kv_buf_free(&rec);
}

static void test_reshard_record(void **state)
{
	(void)state;
	/* turnon_sample's three manifests, as a new 3-shard dataset replacing
	 * a 2-shard one. */
	struct dataset_info nds, old, got_old, got_new;
	struct kv_buf rec = KV_BUF_INIT, mans[3] = { KV_BUF_INIT, KV_BUF_INIT, KV_BUF_INIT };
	for (int i = 0; i < AOF_DATASET_ID_LEN; i++) {
		nds.id[i] = (uint8_t)(i * 7 + 1);
		old.id[i] = (uint8_t)(i * 3 + 2);
	}
	nds.shard_count = 3;
	nds.created_ms = 1234;
	old.shard_count = 2;
	for (uint32_t i = 0; i < 3; i++) {
		struct manifest m;
		sample_manifest(&m);
		m.shard_id = i;
		m.shard_count = 3;
		memcpy(m.dataset_id, nds.id, sizeof(m.dataset_id));
		manifest_encode(&m, &mans[i]);
		manifest_free(&m);
	}
	reshard_encode(&old, &nds, 9, mans, &rec);
	for (uint32_t i = 0; i < 3; i++)
		kv_buf_free(&mans[i]);
	const uint8_t *p = (const uint8_t *)rec.data;
	struct manifest *got;
	uint64_t gen;
	char msg[300];
	assert_int_equal(reshard_decode(p, rec.len, &got_old, &got_new, &gen, &got, msg,
					sizeof(msg)), 0);
	assert_int_equal(gen, 9);
	assert_int_equal(got_old.shard_count, 2);
	assert_memory_equal(got_old.id, old.id, AOF_DATASET_ID_LEN);
	assert_int_equal(got_new.shard_count, 3);
	assert_int_equal(got_new.created_ms, 1234);
	assert_memory_equal(got_new.id, nds.id, AOF_DATASET_ID_LEN);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(got[i].shard_id, i);
		assert_string_equal(got[i].entries[2].name, "kevy-s1-g5.aof");
		manifest_free(&got[i]);
	}
	free(got);
	/* Every prefix and every single-bit flip is refused, never trusted. */
	for (size_t n = 0; n < rec.len; n++) {
		assert_true(reshard_decode(p, n, &got_old, &got_new, &gen, &got, msg,
					   sizeof(msg)) < 0);
		assert_null(got);
	}
	uint8_t *c = malloc(rec.len);
	for (size_t bit = 0; bit < rec.len * 8; bit++) {
		memcpy(c, p, rec.len);
		c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_true(reshard_decode(c, rec.len, &got_old, &got_new, &gen, &got, msg,
					   sizeof(msg)) < 0);
	}
	free(c);
	kv_buf_free(&rec);
}

static void test_manifest_write_atomic(void **state)
{
	char dir[] = "/tmp/kevy_manifest_XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct kv_buf b = KV_BUF_INIT, r = KV_BUF_INIT;
	struct manifest m;
	char path[128];

	sample_manifest(&m);
	manifest_encode(&m, &b);
	assert_int_equal(manifest_write_atomic(dir, "kevy-s1.manifest", b.data, b.len), 0);
	snprintf(path, sizeof(path), "%s/kevy-s1.manifest", dir);
	assert_int_equal(manifest_read_file(path, 1 << 20, &r), 0);
	assert_int_equal(r.len, b.len);
	assert_memory_equal(r.data, b.data, b.len);
	/* No temp file is left behind. */
	snprintf(path, sizeof(path), "%s/kevy-s1.manifest.tmp", dir);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(manifest_read_file(path, 1 << 20, &r), -ENOENT);
	snprintf(path, sizeof(path), "%s/kevy-s1.manifest", dir);
	assert_int_equal(manifest_read_file(path, 16, &r), KV_ELIMIT);
	unlink(path);
	rmdir(dir);
	manifest_free(&m);
	kv_buf_free(&b);
	kv_buf_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_round_trip),
		cmocka_unit_test(test_manifest_every_prefix_and_bit_flip),
		cmocka_unit_test(test_manifest_field_rules),
		cmocka_unit_test(test_dataset_file),
		cmocka_unit_test(test_manifest_write_atomic),
		cmocka_unit_test(test_turnon_record),
		cmocka_unit_test(test_reshard_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
