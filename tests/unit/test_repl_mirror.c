/*
 * test_repl_mirror.c - frames into a directory: files land under the names
 * their kind, shard and generation call for and nowhere else; a wrong name,
 * a shard the replica does not have, DATA before FILE, a lost frame and a
 * wrong committed length are refused with a message; manifests appear only
 * on COMMIT; the resume position cuts a segment back to its last verified
 * record; kevy.replica round trip; a staged full sync swapped in, after a
 * crash at any step (the marker decides), or dropped without the marker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/kv.h"
#include "persist/aof_format.h"
#include "persist/file_header.h"
#include "persist/manifest.h"
#include "persist/repl_mirror.h"

static char g_dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(g_dir, sizeof(g_dir), "/tmp/kevy-test-mirror-XXXXXX");
	return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct repl_frame fr(uint8_t type, uint8_t kind, uint32_t shard, uint64_t gen, uint64_t off,
			    uint64_t seq, const char *payload, size_t len)
{
	struct repl_frame f = { .type = type, .kind = kind, .shard = shard, .generation = gen,
				.offset = off, .seq = seq, .payload = (const uint8_t *)payload,
				.payload_len = (uint32_t)len };
	return f;
}

static long file_size(const char *name)
{
	char path[400];
	struct stat st;
	snprintf(path, sizeof(path), "%s/%s", g_dir, name);
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_repl_mirror_files_and_rules(void **state)
{
	struct repl_mirror m;
	char err[300];
	struct repl_frame f;

	(void)state;
	repl_mirror_init(&m, g_dir, 2);
	/* A segment: FILE, two DATA, COMMIT. */
	f = fr(REPL_FRAME_FILE, REPL_KIND_AOF, 1, 3, 0, 0, "kevy-s1-g3.aof", 14);
	assert_int_equal(repl_mirror_apply(&m, &f, err, sizeof(err)), 0);
	f = fr(REPL_FRAME_DATA, REPL_KIND_AOF, 1, 3, 0, 1, "hello ", 6);
	assert_int_equal(repl_mirror_apply(&m, &f, err, sizeof(err)), 0);
	f = fr(REPL_FRAME_DATA, REPL_KIND_AOF, 1, 3, 6, 2, "world", 5);
	assert_int_equal(repl_mirror_apply(&m, &f, err, sizeof(err)), 0);
	f = fr(REPL_FRAME_COMMIT, REPL_KIND_AOF, 1, 3, 11, 3, NULL, 0);
	assert_int_equal(repl_mirror_apply(&m, &f, err, sizeof(err)), 0);
	assert_int_equal(file_size("kevy-s1-g3.aof"), 11);
	/* A manifest is staged and appears only on COMMIT. */
	f = fr(REPL_FRAME_FILE, REPL_KIND_MANIFEST, 0, 7, 0, 4, "kevy-s0.manifest", 16);
	assert_int_equal(repl_mirror_apply(&m, &f, err, sizeof(err)), 0);
	f = fr(REPL_FRAME_DATA, REPL_KIND_MANIFEST, 0, 7, 0, 5, "manifest", 8);
	assert_int_equal(repl_mirror_apply(&m, &f, err, sizeof(err)), 0);
	assert_int_equal(file_size("kevy-s0.manifest"), -1);
	f = fr(REPL_FRAME_COMMIT, REPL_KIND_MANIFEST, 0, 7, 8, 6, NULL, 0);
	assert_int_equal(repl_mirror_apply(&m, &f, err, sizeof(err)), 0);
	assert_int_equal(file_size("kevy-s0.manifest"), 8);
	assert_int_equal(file_size("kevy-s0.manifest.tmp"), -1);

	/* A name other than the one kind, shard and generation call for. */
	f = fr(REPL_FRAME_FILE, REPL_KIND_AOF, 0, 4, 0, 7, "kevy-s0-g5.aof", 14);
	assert_int_equal(repl_mirror_apply(&m, &f, err, sizeof(err)), KV_ECORRUPT);
	assert_non_null(strstr(err, "names a file other than kevy-s0-g4.aof"));
	f = fr(REPL_FRAME_FILE, REPL_KIND_SNAPSHOT, 0, 4, 0, 8, "kevy.dataset", 12);
	assert_int_equal(repl_mirror_apply(&m, &f, err, sizeof(err)), KV_ECORRUPT);
	/* A shard this replica does not have. */
	f = fr(REPL_FRAME_FILE, REPL_KIND_AOF, 2, 1, 0, 9, "kevy-s2-g1.aof", 14);
	assert_int_equal(repl_mirror_apply(&m, &f, err, sizeof(err)), KV_ECORRUPT);
	assert_non_null(strstr(err, "shard this replica does not have"));
	/* DATA for a snapshot nobody started. */
	f = fr(REPL_FRAME_DATA, REPL_KIND_SNAPSHOT, 0, 9, 0, 10, "x", 1);
	assert_int_equal(repl_mirror_apply(&m, &f, err, sizeof(err)), KV_ECORRUPT);
	assert_non_null(strstr(err, "before its FILE frame"));
	/* A committed length that is not what arrived. */
	f = fr(REPL_FRAME_FILE, REPL_KIND_SNAPSHOT, 0, 9, 0, 11, "kevy-s0-g9.snap", 15);
	assert_int_equal(repl_mirror_apply(&m, &f, err, sizeof(err)), 0);
	f = fr(REPL_FRAME_DATA, REPL_KIND_SNAPSHOT, 0, 9, 0, 12, "abc", 3);
	assert_int_equal(repl_mirror_apply(&m, &f, err, sizeof(err)), 0);
	f = fr(REPL_FRAME_COMMIT, REPL_KIND_SNAPSHOT, 0, 9, 4, 13, NULL, 0);
	assert_int_equal(repl_mirror_apply(&m, &f, err, sizeof(err)), KV_ECORRUPT);
	assert_non_null(strstr(err, "committed length"));
	/* A lost frame. */
	f = fr(REPL_FRAME_PING, REPL_KIND_NONE, REPL_NO_SHARD, 0, 5, 15, NULL, 0);
	assert_int_equal(repl_mirror_apply(&m, &f, err, sizeof(err)), KV_ECORRUPT);
	assert_non_null(strstr(err, "frames were lost"));
	repl_mirror_close(&m);
}

/* A real segment: header and three records, then half of a fourth. */
static void test_repl_mirror_position(void **state)
{
	struct file_header h;
	struct aof_encoder e;
	struct kv_buf b = KV_BUF_INIT;
	uint8_t dsid[AOF_DATASET_ID_LEN];
	char path[400], err[300];
	uint64_t lsn, gen, off;

	(void)state;
	for (int i = 0; i < AOF_DATASET_ID_LEN; i++)
		dsid[i] = (uint8_t)(i + 1);
	aof_header_init(&h, dsid, 0, 1, 6, 0, 1795000000000LL);
	uint8_t raw[AOF_HEADER_SIZE];
	aof_header_encode(&h, raw);
	kv_buf_append(&b, raw, sizeof(raw));
	aof_encoder_init(&e, &h, 1 << 20);
	struct kv_slice argv[3] = { { "SET", 3 }, { "k", 1 }, { "v", 1 } };
	for (int i = 0; i < 3; i++)
		assert_int_equal(aof_encoder_effect(&e, &b, 1795000000000LL, 3, argv, &lsn), 0);
	size_t whole = b.len;
	assert_int_equal(aof_encoder_effect(&e, &b, 1795000000000LL, 3, argv, &lsn), 0);
	size_t torn = whole + (b.len - whole) / 2;
	snprintf(path, sizeof(path), "%s/kevy-s0-g6.aof", g_dir);
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(b.data, 1, torn, fp), torn);
	fclose(fp);
	/* An older segment is not the newest. */
	snprintf(path, sizeof(path), "%s/kevy-s0-g2.aof", g_dir);
	fp = fopen(path, "wb");
	fclose(fp);
	assert_int_equal(repl_mirror_position(g_dir, 0, &gen, &off, err, sizeof(err)), 0);
	assert_int_equal(gen, 6);
	assert_int_equal(off, whole);
	assert_int_equal(file_size("kevy-s0-g6.aof"), (long)whole);
	/* A damaged record ends what counts. */
	snprintf(path, sizeof(path), "%s/kevy-s0-g6.aof", g_dir);
	fp = fopen(path, "r+b");
	fseek(fp, (long)whole - 1, SEEK_SET);
	fputc('X', fp);
	fclose(fp);
	assert_int_equal(repl_mirror_position(g_dir, 0, &gen, &off, err, sizeof(err)), 0);
	assert_true(off < whole && off > AOF_HEADER_SIZE);
	assert_int_equal(repl_mirror_position(g_dir, 1, &gen, &off, err, sizeof(err)), -ENOENT);
	kv_buf_free(&b);
}

static void test_repl_state_file_io(void **state)
{
	struct repl_state s = { .shard_count = 2, .synced_ms = 5 }, d;
	char err[300];

	(void)state;
	memcpy(s.replid, "0123456789abcdef0123456789abcdef01234567", 41);
	assert_int_equal(repl_state_read(g_dir, &d, err, sizeof(err)), -ENOENT);
	assert_int_equal(repl_state_write(g_dir, &s), 0);
	assert_int_equal(repl_state_read(g_dir, &d, err, sizeof(err)), 0);
	assert_string_equal(d.replid, s.replid);
	assert_int_equal(d.shard_count, 2);
	assert_int_equal(repl_state_remove(g_dir), 0);
	assert_int_equal(repl_state_read(g_dir, &d, err, sizeof(err)), -ENOENT);
}

static void put(const char *rel, const char *content)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/%s", g_dir, rel);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static bool has(const char *rel, const char *content)
{
	char path[400], buf[64] = "";
	snprintf(path, sizeof(path), "%s/%s", g_dir, rel);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return !content || strcmp(buf, content) == 0;
}

/* The replaced dataset (OLD), and a staged one whose manifest names only
 * kevy-s0-g3.aof. */
static void swap_fixture(void)
{
	char stage[300];
	assert_int_equal(repl_stage_prepare(g_dir, stage, sizeof(stage)), 0);
	put("kevy.dataset", "OLD");
	put("kevy-s0-g1.aof", "OLDSEG");
	put("kevy-s0.manifest", "OLDMAN");
	put("functions.kevy", "OLDFN");
	struct manifest m = { .shard_id = 0, .shard_count = 1, .generation = 7 };
	manifest_add(&m, MANIFEST_AOF, 3, 0, "kevy-s0-g3.aof");
	struct kv_buf b = KV_BUF_INIT;
	manifest_encode(&m, &b);
	manifest_free(&m);
	char path[400];
	snprintf(path, sizeof(path), "%s/%s/kevy-s0.manifest", g_dir, REPL_SYNC_DIR);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
	fclose(f);
	kv_buf_free(&b);
	put(REPL_SYNC_DIR "/kevy-s0-g3.aof", "NEWSEG");
	put(REPL_SYNC_DIR "/kevy.dataset", "NEW");
	put(REPL_SYNC_DIR "/functions.kevy", "NEWFN");
	put(REPL_SYNC_DIR "/" REPL_STATE_FILE, "REP");
}

static void assert_swapped(void)
{
	assert_true(has("kevy.dataset", "NEW"));
	assert_true(has("functions.kevy", "NEWFN"));
	assert_true(has("kevy-s0-g3.aof", "NEWSEG"));
	assert_true(has(REPL_STATE_FILE, "REP"));
	assert_false(has("kevy-s0-g1.aof", NULL));      /* the new manifest does not name it */
	assert_false(has(REPL_SWAP_FILE, NULL));
	assert_false(has(REPL_SYNC_DIR, NULL));
}

static void test_repl_swap(void **state)
{
	(void)state;
	/* Whole. */
	swap_fixture();
	assert_int_equal(repl_swap(g_dir), 0);
	assert_swapped();
	assert_int_equal(repl_swap_finish(g_dir), 0);   /* nothing left to do */
	assert_swapped();

	/* A crash after the decision, with some files moved: a start finishes. */
	swap_fixture();
	put(REPL_SWAP_FILE, "kevy swap\n");
	char from[400], to[400];
	snprintf(from, sizeof(from), "%s/%s/kevy-s0-g3.aof", g_dir, REPL_SYNC_DIR);
	snprintf(to, sizeof(to), "%s/kevy-s0-g3.aof", g_dir);
	assert_int_equal(rename(from, to), 0);
	assert_true(has("kevy.dataset", "OLD"));
	assert_int_equal(repl_swap_finish(g_dir), 0);
	assert_swapped();

	/* A crash before it: the staged copy is dropped, the old dataset kept. */
	swap_fixture();
	assert_int_equal(repl_swap_finish(g_dir), 0);
	assert_true(has("kevy.dataset", "OLD"));
	assert_true(has("kevy-s0-g1.aof", "OLDSEG"));
	assert_true(has("functions.kevy", "OLDFN"));
	assert_false(has(REPL_SYNC_DIR, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_repl_mirror_files_and_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repl_mirror_position, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repl_state_file_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repl_swap, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
