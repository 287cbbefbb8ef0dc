/*
 * test_datadir.c - whole data directories offline: aof_write_dataset writes
 * snapshots + manifests (re-sharding by key) that aof_load_dir, recovery
 * and aof_check_dir read back; a damaged snapshot block is refused by both.
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

#include "persist/aof.h"
#include "persist/aof_plan.h"
#include "commands/cmd.h"
#include "commands/fx.h"
#include "base/kv.h"
#include "store/store.h"

#define NOW_MS 1795000000000LL
#include "cmd_fixture.h"

static char tmpdir[64];

static void rm_rf(const char *dir)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static const char *mkdir_tmp(void)
{
	strcpy(tmpdir, "/tmp/kevy_datadir_XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return tmpdir;
}

/* Every type, with and without deadlines, spread over the fixture's shards. */
static void populate(struct fixture *f)
{
	char k[32], v[32];
	for (int i = 0; i < 300; i++) {
		snprintf(k, sizeof(k), "str:%d", i);
		snprintf(v, sizeof(v), "value-%d", i);
		run(f, "SET", k, v, NULL);
		if (i % 7 == 0)
			run(f, "PEXPIRE", k, "100000000", NULL);
	}
	for (int i = 0; i < 40; i++) {
		snprintf(k, sizeof(k), "list:%d", i);
		for (int j = 0; j < 20 + i; j++) {
			snprintf(v, sizeof(v), "e%d", j);
			run(f, "RPUSH", k, v, NULL);
		}
		snprintf(k, sizeof(k), "hash:%d", i);
		run(f, "HSET", k, "a", "1", "b", "2", NULL);
		snprintf(k, sizeof(k), "set:%d", i);
		run(f, "SADD", k, "x", "y", "17", NULL);
		snprintf(k, sizeof(k), "zset:%d", i);
		run(f, "ZADD", k, "1.5", "m", "-inf", "n", NULL);
	}
	run(f, "SET", "bin\r\n\x01", "v\r\n", NULL);
}

static char *digest(struct fixture *f)
{
	const char *r = run(f, "DEBUG", "DIGEST", NULL);
	return strdup(r);
}

/* Load dir into a fresh fixture of n shards: the keyspaces aof_load_dir
 * made replace the fixture's. */
static struct fixture *load(const char *dir, uint32_t want_shards)
{
	struct kv_dbs *dbs;
	uint32_t n;
	char err[4096];
	int rc = aof_load_dir(dir, 0, 0, NULL, NULL, &dbs, &n, err, sizeof(err));
	if (rc < 0)
		fail_msg("load %s: %s", dir, err);
	assert_int_equal(n, want_shards);
	struct fixture *f = fixture_new(n);
	for (uint32_t i = 0; i < n; i++) {
		dbs_free(&f->spaces[i]);
		f->spaces[i] = dbs[i];
		/* As many as the files named; the digest walks 16. */
		assert_true(dbs_grow(&f->spaces[i], 16));
	}
	f->db = f->spaces[0].db[0];
	free(dbs);
	return f;
}

static int count_files;
static int worst_verdict;
static void count_report(void *arg, const struct aof_file_report *r)
{
	(void)arg;
	count_files++;
	if (r->verdict < 0)
		worst_verdict = r->verdict;
}

static void test_datadir_write_load_reshard(void **state)
{
	(void)state;
	cmd_table_init();
	struct fixture *src = fixture_new(2);
	populate(src);
	char *want = digest(src);
	assert_null(strstr(want, "0000000000000000000000000000000000000000"));

	for (uint32_t out_shards = 1; out_shards <= 3; out_shards++) {
		const char *dir = mkdir_tmp();
		char err[4096];
		int rc = aof_write_dataset(dir, out_shards, src->spaces, src->nshards, err, sizeof(err));
		if (rc < 0)
			fail_msg("write: %s", err);
		/* A second write into the same directory is refused. */
		assert_int_equal(aof_write_dataset(dir, out_shards, src->spaces, src->nshards, err,
						   sizeof(err)), -EEXIST);
		struct fixture *back = load(dir, out_shards);
		char *got = digest(back);
		assert_string_equal(got, want);
		free(got);
		/* Every file verifies: dataset, and per shard manifest, snapshot, segment. */
		count_files = 0;
		worst_verdict = 0;
		assert_int_equal(aof_check_dir(dir, false, count_report, NULL), 0);
		assert_int_equal(count_files, 1 + 3 * (int)out_shards);
		assert_int_equal(worst_verdict, 0);
		fixture_free(back);
		rm_rf(dir);
	}
	free(want);
	fixture_free(src);
}

/* Flip one byte inside the first block of a snapshot: the check and the
 * load both refuse, naming the snapshot. */
static void test_datadir_damaged_snapshot_refused(void **state)
{
	(void)state;
	cmd_table_init();
	struct fixture *src = fixture_new(1);
	populate(src);
	const char *dir = mkdir_tmp();
	char err[4096], path[128];
	assert_int_equal(aof_write_dataset(dir, 1, src->spaces, 1, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/kevy-s0-g1.snap", dir);
	FILE *fp = fopen(path, "r+b");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 72 + 32 + 10, SEEK_SET), 0);   /* inside block 0's body */
	int c = fgetc(fp);
	assert_int_equal(fseek(fp, 72 + 32 + 10, SEEK_SET), 0);
	fputc(c ^ 0x40, fp);
	fclose(fp);
	worst_verdict = 0;
	assert_int_equal(aof_check_dir(dir, false, count_report, NULL), KV_ECORRUPT);
	assert_int_equal(worst_verdict, KV_ECORRUPT);
	struct kv_dbs *dbs;
	uint32_t n;
	assert_int_equal(aof_load_dir(dir, 0, 0, NULL, NULL, &dbs, &n, err, sizeof(err)), KV_ECORRUPT);
	assert_non_null(strstr(err, "kevy-s0-g1.snap"));
	assert_non_null(strstr(err, "kevy-check"));
	rm_rf(dir);
	fixture_free(src);
}

/* Append SET key value to a (synchronously, fsynced); its LSN. */
static uint64_t append_set(struct aof *a, const char *key, const char *value)
{
	struct kv_buf b = KV_BUF_INIT;
	struct kv_slice argv[3] = { { "SET", 3 }, { key, strlen(key) }, { value, strlen(value) } };
	aof_payload_begin(&b, NOW_MS);
	aof_payload_append(&b, 3, argv);
	uint64_t lsn = aof_append(a, b.data, b.len);
	kv_buf_free(&b);
	assert_true(lsn > 0);
	assert_int_equal(aof_flush_sync(a), 0);
	return lsn;
}

static bool has_key(struct kv_dbs *dbs, const char *key)
{
	return db_lookup_notouch(dbs->db[0], key, strlen(key), NOW_MS) != NULL;
}

/* Recovery of shard 0 of dir through plan p into dbs: aof_recover's result. */
static int recover_one(const char *dir, const struct dataset_info *ds, struct aof_plan *p,
		       struct aof *a, struct kv_dbs *dbs)
{
	char err[2048];
	dbs_init(dbs, 16);
	struct aof_skip skip = aof_plan_skip(p, 0);
	return aof_recover(a, dir, ds, 0, ds->shard_count, &skip, dbs, err, sizeof(err));
}

/* One shard: no unit can be incomplete, so recovery reads no plan.  A
 * RESOLVE record that is there all the same (files made by other means)
 * stops that load with -EAGAIN, and the plan, built then, drops what it
 * names: the verdict is the plan's either way. */
static void test_datadir_one_shard_unplanned(void **state)
{
	(void)state;
	cmd_table_init();
	const char *dir = mkdir_tmp();
	char err[2048];
	struct dataset_info ds;
	struct aof a;
	struct kv_dbs dbs;
	struct aof_plan p;
	assert_int_equal(aof_dataset_open(dir, 1, &ds, err, sizeof(err)), 0);
	assert_int_equal(aof_plan_build_recovery(dir, &ds, &p), 0);
	assert_true(p.unplanned);
	assert_int_equal(recover_one(dir, &ds, &p, &a, &dbs), 0);
	uint64_t lsn = append_set(&a, "k", "v");
	append_set(&a, "k2", "v2");
	aof_close(&a);
	dbs_free(&dbs);
	aof_plan_free(&p);

	/* The usual restart: no plan, every record applied. */
	assert_int_equal(aof_plan_build_recovery(dir, &ds, &p), 0);
	assert_true(p.unplanned);
	assert_int_equal(recover_one(dir, &ds, &p, &a, &dbs), 0);
	assert_true(has_key(&dbs, "k") && has_key(&dbs, "k2"));
	/* A RESOLVE record naming the first SET. */
	assert_int_equal(aof_resolve_sync(&a, &lsn, 1, NULL, 0), 0);
	aof_close(&a);
	dbs_free(&dbs);
	aof_plan_free(&p);

	assert_int_equal(aof_plan_build_recovery(dir, &ds, &p), 0);
	assert_true(p.unplanned);
	assert_int_equal(recover_one(dir, &ds, &p, &a, &dbs), -EAGAIN);
	aof_close(&a);
	dbs_free(&dbs);
	aof_plan_free(&p);
	assert_int_equal(aof_plan_build(dir, &ds, &p), 0);
	assert_false(p.unplanned);
	assert_int_equal(p.shards[0].nskip, 1);
	assert_int_equal(p.shards[0].skip[0], lsn);
	assert_int_equal(recover_one(dir, &ds, &p, &a, &dbs), 0);
	assert_false(has_key(&dbs, "k"));
	assert_true(has_key(&dbs, "k2"));
	aof_close(&a);
	dbs_free(&dbs);
	aof_plan_free(&p);
	rm_rf(dir);
}

/* Segments of a version before UNIT records (fixtures/v3, two shards):
 * no plan is read; version 4 ones (fixtures/v4) are planned. */
static void test_datadir_old_segments_unplanned(void **state)
{
	(void)state;
	char root[4096], dir[4200], err[2048];
	snprintf(root, sizeof(root), "%s", __FILE__);
	char *slash = strrchr(root, '/');
	if (!slash || root[0] != '/')
		skip();   /* the fixtures are found from this file's absolute path */
	*slash = '\0';
	static const struct { const char *sub; bool unplanned; } cases[] = {
		{ "v3/clean", true }, { "v4/clean", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/../../fixtures/%s", root, cases[i].sub);
		struct dataset_info ds;
		if (aof_dataset_read(dir, &ds, err, sizeof(err)) < 0)
			fail_msg("%s", err);
		assert_true(ds.shard_count > 1);
		uint16_t version;
		assert_int_equal(aof_segments_version(dir, &ds, 0, &version), 0);
		assert_int_equal(version, cases[i].unplanned ? 3 : 4);
		struct aof_plan p;
		assert_int_equal(aof_plan_build_recovery(dir, &ds, &p), 0);
		assert_int_equal(p.unplanned, cases[i].unplanned);
		aof_plan_free(&p);
	}
}

/* A key of shard s of n ("<prefix><i>" for the first i that lands there). */
static void key_on(char *out, size_t cap, const char *prefix, uint32_t s, uint32_t n)
{
	for (int i = 0;; i++) {
		snprintf(out, cap, "%s%d", prefix, i);
		if (kv_key_shard(out, strlen(out), n) == s)
			return;
	}
}

/* A point in time (--until-time) reads a unit part's time from its effect,
 * after the unit header: a unit inside the bound is kept whole, one past
 * it is left out whole, whatever the bits of its id (the first bytes of a
 * UNIT payload are the boot id, which a time read from there mistook). */
static void test_datadir_until_time_unit(void **state)
{
	(void)state;
	cmd_table_init();
	static const uint64_t boots[] = { 0x0123456789abcdefULL, 0xfedcba9876543210ULL };
	for (size_t bi = 0; bi < 2; bi++) {
		const char *dir = mkdir_tmp();
		char err[2048], key[2][32];
		struct dataset_info ds;
		struct aof a[2];
		struct kv_dbs dbs[2];
		assert_int_equal(aof_dataset_open(dir, 2, &ds, err, sizeof(err)), 0);
		for (uint32_t s = 0; s < 2; s++) {
			dbs_init(&dbs[s], 16);
			assert_int_equal(aof_recover(&a[s], dir, &ds, s, 2, NULL, &dbs[s], err,
						     sizeof(err)), 0);
			key_on(key[s], sizeof(key[s]), "k", s, 2);
		}
		/* An MSET over both shards at NOW_MS: each shard's first record. */
		for (uint32_t s = 0; s < 2; s++) {
			struct kv_buf b = KV_BUF_INIT;
			struct kv_slice argv[3] = { { "SET", 3 }, { key[s], strlen(key[s]) },
						    { "unit", 4 } };
			aof_unit_begin(&b, boots[bi], 7, 2);
			aof_unit_row(&b, 0, AOF_UNIT_PART, 1);
			aof_unit_row(&b, 1, AOF_UNIT_PART, 1);
			aof_keys_put(&b, 0);
			aof_payload_begin(&b, NOW_MS);
			aof_payload_append(&b, 3, argv);
			assert_int_equal(aof_append_typed(&a[s], AOF_REC_UNIT, b.data, b.len), 1);
			assert_int_equal(aof_flush_sync(&a[s]), 0);
			kv_buf_free(&b);
			aof_close(&a[s]);
			dbs_free(&dbs[s]);
		}
		static const struct { int64_t until_ms; bool whole; } bounds[] = {
			{ NOW_MS, true }, { NOW_MS + 1, true }, { NOW_MS - 1, false },
		};
		for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
			struct kv_dbs *out;
			uint32_t n;
			assert_int_equal(aof_load_dir(dir, 0, bounds[i].until_ms, NULL, NULL, &out, &n,
						      err, sizeof(err)), 0);
			assert_int_equal(n, 2);
			for (uint32_t s = 0; s < 2; s++) {
				bool there = db_lookup_notouch(out[s].db[0], key[s], strlen(key[s]),
							       NOW_MS) != NULL;
				if (there != bounds[i].whole)
					fail_msg("boot %016llx, --until-time %lld: shard %u's part %s",
						 (unsigned long long)boots[bi],
						 (long long)bounds[i].until_ms, s,
						 there ? "applied" : "left out");
				dbs_free(&out[s]);
			}
			free(out);
		}
		rm_rf(dir);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_datadir_write_load_reshard),
		cmocka_unit_test(test_datadir_damaged_snapshot_refused),
		cmocka_unit_test(test_datadir_one_shard_unplanned),
		cmocka_unit_test(test_datadir_old_segments_unplanned),
		cmocka_unit_test(test_datadir_until_time_unit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
