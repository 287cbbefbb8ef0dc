/*
 * test_repl_format.c - the replication stream's frames and kevy.replica:
 * round trips, every truncated prefix (need more, never a frame), every
 * single-bit flip refused, the per-type field rules, file names, limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "base/kv.h"
#include "base/le.h"
#include "persist/repl_format.h"

static const char REPLID[] = "0123456789abcdef0123456789abcdef01234567";

static void frame(struct repl_frame *f, uint8_t type, uint8_t kind, uint32_t shard, uint64_t gen,
		  uint64_t off, uint64_t seq, const char *payload)
{
	memset(f, 0, sizeof(*f));
	f->type = type;
	f->kind = kind;
	f->shard = shard;
	f->generation = gen;
	f->offset = off;
	f->seq = seq;
	f->payload = (const uint8_t *)payload;
	f->payload_len = payload ? (uint32_t)strlen(payload) : 0;
}

static void test_repl_frame_round_trip(void **state)
{
	struct kv_buf b = KV_BUF_INIT;
	struct repl_frame in[5], out;
	char msg[160];

	(void)state;
	frame(&in[0], REPL_FRAME_FILE, REPL_KIND_AOF, 2, 7, 0, 0, "kevy-s2-g7.aof");
	frame(&in[1], REPL_FRAME_DATA, REPL_KIND_AOF, 2, 7, 4096, 1, "some bytes of the segment");
	frame(&in[2], REPL_FRAME_COMMIT, REPL_KIND_DATASET, REPL_NO_SHARD, 0, 88, 2, NULL);
	frame(&in[3], REPL_FRAME_SYNCED, REPL_KIND_NONE, REPL_NO_SHARD, 0, 123456, 3, NULL);
	frame(&in[4], REPL_FRAME_PING, REPL_KIND_NONE, REPL_NO_SHARD, 0, 123999, 4, NULL);
	for (int i = 0; i < 5; i++)
		repl_frame_encode(&b, &in[i]);
	size_t pos = 0;
	for (int i = 0; i < 5; i++) {
		long n = repl_frame_decode((uint8_t *)b.data + pos, b.len - pos, &out, REPL_PAYLOAD_MAX,
					   msg, sizeof(msg));
		assert_true(n > 0);
		assert_int_equal(n, REPL_FRAME_HEADER_SIZE + in[i].payload_len);
		assert_int_equal(out.type, in[i].type);
		assert_int_equal(out.kind, in[i].kind);
		assert_int_equal(out.shard, in[i].shard);
		assert_int_equal(out.generation, in[i].generation);
		assert_int_equal(out.offset, in[i].offset);
		assert_int_equal(out.seq, in[i].seq);
		assert_int_equal(out.payload_len, in[i].payload_len);
		if (in[i].payload_len)
			assert_memory_equal(out.payload, in[i].payload, in[i].payload_len);
		pos += (size_t)n;
	}
	assert_int_equal(pos, b.len);
	kv_buf_free(&b);
}

static void test_repl_frame_every_prefix_and_bit_flip(void **state)
{
	struct kv_buf b = KV_BUF_INIT;
	struct repl_frame f, out;
	char msg[160];

	(void)state;
	frame(&f, REPL_FRAME_DATA, REPL_KIND_SNAPSHOT, 0, 3, 72, 9, "snapshot bytes here");
	repl_frame_encode(&b, &f);
	/* A prefix is "need more", never a frame and never an error. */
	for (size_t n = 0; n < b.len; n++)
		assert_int_equal(repl_frame_decode((uint8_t *)b.data, n, &out, REPL_PAYLOAD_MAX, msg,
						   sizeof(msg)), 0);
	/* Every single-bit flip anywhere in the frame is refused: the header by
	 * header_check, the payload by payload_check. */
	for (size_t i = 0; i < b.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			b.data[i] ^= (char)(1 << bit);
			long rc = repl_frame_decode((uint8_t *)b.data, b.len, &out, REPL_PAYLOAD_MAX, msg,
						    sizeof(msg));
			/* Even a flip in payload_len is refused, not waited on:
			 * header_check is verified before the length is used. */
			assert_int_equal(rc, KV_ECORRUPT);
			b.data[i] ^= (char)(1 << bit);
		}
	}
	assert_int_equal(repl_frame_decode((uint8_t *)b.data, b.len, &out, REPL_PAYLOAD_MAX, msg,
					   sizeof(msg)), (long)b.len);
	kv_buf_free(&b);
}

/* Re-encodes a header with its checksum fixed, so only the field rules judge. */
static void reseal(uint8_t *h)
{
	le_put64(h + 48, kv_hash64(h, 48, 0));
}

static void test_repl_frame_field_rules(void **state)
{
	struct kv_buf b = KV_BUF_INIT;
	struct repl_frame f, out;
	uint64_t check;
	char msg[160];
	uint8_t h[REPL_FRAME_HEADER_SIZE];

	(void)state;
	frame(&f, REPL_FRAME_COMMIT, REPL_KIND_MANIFEST, 1, 4, 300, 0, NULL);
	repl_frame_encode(&b, &f);
	memcpy(h, b.data, sizeof(h));
	assert_int_equal(repl_frame_decode_header(h, &out, &check, REPL_PAYLOAD_MAX, msg, sizeof(msg)), 0);

	struct { size_t at; uint8_t v; const char *why; } cases[] = {
		{ 6, 0, "unknown type" }, { 6, 9, "unknown type" },
		{ 7, 0, "unknown file kind" }, { 7, 6, "unknown file kind" },
		{ 7, REPL_KIND_DATASET, "shard does not fit" },
		{ 7, REPL_KIND_FUNCTIONS, "shard does not fit" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t t[REPL_FRAME_HEADER_SIZE];
		memcpy(t, h, sizeof(t));
		t[cases[i].at] = cases[i].v;
		reseal(t);
		assert_int_equal(repl_frame_decode_header(t, &out, &check, REPL_PAYLOAD_MAX, msg, sizeof(msg)),
				 KV_ECORRUPT);
		assert_non_null(strstr(msg, cases[i].why));
	}
	/* A COMMIT with a payload, a FILE with an offset, a PING naming a file. */
	uint8_t t[REPL_FRAME_HEADER_SIZE];
	memcpy(t, h, sizeof(t));
	le_put32(t + 12, 5);
	reseal(t);
	assert_int_equal(repl_frame_decode_header(t, &out, &check, REPL_PAYLOAD_MAX, msg, sizeof(msg)), KV_ECORRUPT);
	assert_non_null(strstr(msg, "COMMIT frame with a payload"));
	memcpy(t, h, sizeof(t));
	t[6] = REPL_FRAME_FILE;
	le_put32(t + 12, 5);
	reseal(t);
	assert_int_equal(repl_frame_decode_header(t, &out, &check, REPL_PAYLOAD_MAX, msg, sizeof(msg)), KV_ECORRUPT);
	assert_non_null(strstr(msg, "nonzero offset"));
	memcpy(t, h, sizeof(t));
	t[6] = REPL_FRAME_PING;
	reseal(t);
	assert_int_equal(repl_frame_decode_header(t, &out, &check, REPL_PAYLOAD_MAX, msg, sizeof(msg)), KV_ECORRUPT);
	assert_non_null(strstr(msg, "control frame"));
	/* An unknown version whose header verifies is a newer kevy, not damage. */
	memcpy(t, h, sizeof(t));
	le_put16(t + 4, 2);
	reseal(t);
	assert_int_equal(repl_frame_decode_header(t, &out, &check, REPL_PAYLOAD_MAX, msg, sizeof(msg)), KV_EVERSION);
	assert_non_null(strstr(msg, "version 2"));
	/* Bad magic. */
	memcpy(t, h, sizeof(t));
	t[0] = 'X';
	reseal(t);
	assert_int_equal(repl_frame_decode_header(t, &out, &check, REPL_PAYLOAD_MAX, msg, sizeof(msg)), KV_ECORRUPT);
	assert_non_null(strstr(msg, "magic"));
	kv_buf_free(&b);
}

static void test_repl_frame_limit_and_names(void **state)
{
	struct kv_buf b = KV_BUF_INIT;
	struct repl_frame f, out;
	char msg[160];

	(void)state;
	frame(&f, REPL_FRAME_DATA, REPL_KIND_AOF, 0, 1, 0, 0, "0123456789");
	repl_frame_encode(&b, &f);
	assert_int_equal(repl_frame_decode((uint8_t *)b.data, b.len, &out, 9, msg, sizeof(msg)), KV_ELIMIT);
	assert_int_equal(repl_frame_decode((uint8_t *)b.data, b.len, &out, 10, msg, sizeof(msg)), (long)b.len);
	kv_buf_clear(&b);

	/* A FILE frame's name must stay inside the data directory. */
	const char *bad[] = { "../kevy-s0.manifest", "a/b", ".hidden", "sp ace", "nul\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		frame(&f, REPL_FRAME_FILE, REPL_KIND_AOF, 0, 1, 0, 0, bad[i]);
		kv_buf_clear(&b);
		repl_frame_encode(&b, &f);
		assert_int_equal(repl_frame_decode((uint8_t *)b.data, b.len, &out, REPL_PAYLOAD_MAX, msg,
						   sizeof(msg)), KV_ECORRUPT);
		assert_non_null(strstr(msg, "invalid file name"));
	}
	char longname[REPL_NAME_MAX + 2];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(repl_name_ok(longname, strlen(longname)));
	assert_true(repl_name_ok(longname, REPL_NAME_MAX));
	assert_true(repl_name_ok("kevy-s0-g12.snap", 16));
	assert_true(repl_name_ok("kevy.dataset", 12));
	assert_false(repl_name_ok("", 0));
	kv_buf_free(&b);
}

static void test_repl_state_file(void **state)
{
	struct repl_state s, d;
	uint8_t raw[REPL_STATE_SIZE];
	char msg[160];

	(void)state;
	memset(&s, 0, sizeof(s));
	memcpy(s.replid, REPLID, sizeof(REPLID));
	s.shard_count = 4;
	s.synced_ms = 1795000000123LL;
	repl_state_encode(&s, raw);
	assert_int_equal(repl_state_decode(raw, sizeof(raw), &d, msg, sizeof(msg)), 0);
	assert_string_equal(d.replid, REPLID);
	assert_int_equal(d.shard_count, 4);
	assert_int_equal(d.synced_ms, s.synced_ms);
	for (size_t n = 0; n < sizeof(raw); n++)
		assert_int_equal(repl_state_decode(raw, n, &d, msg, sizeof(msg)), KV_ECORRUPT);
	for (size_t i = 0; i < sizeof(raw); i++)
		for (int bit = 0; bit < 8; bit++) {
			raw[i] ^= (uint8_t)(1 << bit);
			assert_true(repl_state_decode(raw, sizeof(raw), &d, msg, sizeof(msg)) < 0);
			raw[i] ^= (uint8_t)(1 << bit);
		}
	/* A replication id that is not hex is refused even when the checksum
	 * is right. */
	raw[16] = 'Z';
	le_put64(raw + 64, kv_hash64(raw, 64, 0));
	assert_int_equal(repl_state_decode(raw, sizeof(raw), &d, msg, sizeof(msg)), KV_ECORRUPT);
	assert_non_null(strstr(msg, "hex"));
	assert_true(repl_replid_ok(REPLID, 40));
	assert_false(repl_replid_ok(REPLID, 39));
	assert_false(repl_replid_ok("0123456789ABCDEF0123456789abcdef01234567", 40));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_repl_frame_round_trip),
		cmocka_unit_test(test_repl_frame_every_prefix_and_bit_flip),
		cmocka_unit_test(test_repl_frame_field_rules),
		cmocka_unit_test(test_repl_frame_limit_and_names),
		cmocka_unit_test(test_repl_state_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
