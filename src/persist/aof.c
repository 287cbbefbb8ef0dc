/*
 * aof.c - a shard's AOF at run time: dataset setup, recovery, and the
 * group-committing writer on the shard's io_uring (see aof.h).
 *
 * Files (names in manifest.c): kevy.dataset; per shard kevy-s<ID>.manifest
 * naming segments kevy-s<ID>-g<GEN>.aof.  The byte formats live in
 * aof_format.c and manifest.c; this file is policy: what to trust, what to
 * cut, when to write and fsync, what a failure means.
 *
 * Every file operation goes through kvio (failpoints, trace).  While serving,
 * writes and fsyncs are ring operations; recovery and shutdown are
 * synchronous.
 *
 * Why one file of ~1,950 lines: recovery, the writer, the rotation, the
 * rewrite and the manifest commit are one state machine over struct aof
 * (state, parked steps, good offsets, LSNs) and share the file helpers
 * (segment and manifest creation, leftovers, quarantine); a split would put
 * that private state in a header every part could then change.  Its
 * sections, in order: dataset setup; recovery and kevy-check's scan; the
 * writer (appends, group commit, failures); rewrite, rotation and commit
 * steps; offline loads and re-sharding (kevy-dump).
 */
#include "persist/aof.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/keydump.h"
#include "base/le.h"
#include "persist/fn_file.h"
#include "persist/snap_format.h"
#include "base/kv.h"
#include "base/log.h"

#define AOF_RETRY_MS 100
/* A failed preallocation is tried again after this long. */
#define AOF_PREALLOC_RETRY_MS 10000

const char *aof_fsync_name(int policy)
{
	switch (policy) {
	case AOF_FSYNC_ALWAYS: return "always";
	case AOF_FSYNC_EVERYSEC: return "everysec";
	case AOF_FSYNC_NO: return "no";
	}
	return "?";
}

static const struct aof_effect_ops *aof_effects;

/* key-load-delay (Redis's hidden setting, for tests that need a slow
 * load): microseconds to sleep after each key or record loaded; negative
 * -N sleeps 1 us after every Nth. */
static _Atomic int64_t aof_key_load_delay_us;

void aof_set_key_load_delay(int64_t us)
{
	atomic_store_explicit(&aof_key_load_delay_us, us, memory_order_relaxed);
}

static void load_delay(void)
{
	static _Thread_local uint64_t count;
	int64_t us = atomic_load_explicit(&aof_key_load_delay_us, memory_order_relaxed);
	if (us == 0)
		return;
	if (us < 0) {
		if (++count % (uint64_t)(-(us + 1) + 1) != 0)
			return;
		us = 1;
	}
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
	nanosleep(&ts, NULL);
}

const struct aof_effect_ops *aof_get_effect_ops(void)
{
	return aof_effects;
}

void aof_set_effect_ops(const struct aof_effect_ops *ops)
{
	aof_effects = ops;
}

static void path_join(char *out, size_t cap, const char *dir, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

/* ------------------------------------------------------------------ */
/* dataset setup */

/* A new segment file: header only, fsynced.  The caller commits the name. */
static int segment_create(const char *dir, const char *name, const struct dataset_info *ds,
			  uint32_t shard_id, uint64_t generation, uint64_t start_lsn,
			  struct file_header *h)
{
	char path[4096];
	path_join(path, sizeof(path), dir, name);
	aof_header_init(h, ds->id, shard_id, ds->shard_count, generation, start_lsn, kv_time_ms());
	uint8_t bytes[AOF_HEADER_SIZE];
	aof_header_encode(h, bytes);
	struct kvio_file f;
	int rc = kvio_open(&f, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (rc < 0)
		return rc;
	ssize_t n = kvio_pwrite(&f, bytes, sizeof(bytes), 0);
	/* A short count is a filling disk (docs/io.md): report it as ENOSPC. */
	rc = n == (ssize_t)sizeof(bytes) ? kvio_fsync(&f) : (n < 0 ? (int)n : -ENOSPC);
	kvio_close(&f);
	return rc;
}

static int manifest_commit_sync(const char *dir, const struct manifest *m)
{
	struct kv_buf b = KV_BUF_INIT;
	char name[64];
	manifest_encode(m, &b);
	manifest_name(name, sizeof(name), m->shard_id);
	int rc = manifest_write_atomic(dir, name, b.data, b.len);
	kv_buf_free(&b);
	return rc;
}

/* Files a dataset is made of (kevy-s*), found without kevy.dataset: only an
 * interrupted first start leaves them, and then no segment has a record. */
static int leftovers_check(const char *dir, bool remove, char *err, size_t cap)
{
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, cap, "cannot open data directory %s: %s", dir, strerror(errno));
		return -errno;
	}
	struct dirent *de;
	int rc = 0;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "kevy-s", 6) != 0)
			continue;
		char path[4096];
		path_join(path, sizeof(path), dir, de->d_name);
		struct stat st;
		if (stat(path, &st) != 0)
			continue;
		size_t nl = strlen(de->d_name);
		bool seg = nl > 4 && strcmp(de->d_name + nl - 4, ".aof") == 0;
		if (seg && st.st_size > AOF_HEADER_SIZE) {
			snprintf(err, cap, "%s holds records but the directory has no %s: refusing to "
				 "start (restore %s, or inspect with: kevy-check %s)", path,
				 DATASET_FILE, DATASET_FILE, dir);
			rc = KV_ECORRUPT;
			break;
		}
		if (remove) {
			log_notice("removing %s left by an interrupted first start", path);
			kvio_unlink(path);
		}
	}
	closedir(d);
	return rc;
}

static int dataset_create(const char *dir, uint32_t nshards, struct dataset_info *ds,
			  char *err, size_t cap)
{
	int rc = leftovers_check(dir, false, err, cap);
	if (rc < 0)
		return rc;
	leftovers_check(dir, true, err, cap);
	memset(ds, 0, sizeof(*ds));
	do {
		if (getrandom(ds->id, sizeof(ds->id), 0) != (ssize_t)sizeof(ds->id)) {
			snprintf(err, cap, "getrandom: %s", strerror(errno));
			return -errno;
		}
	} while (ds->id[0] == 0 && memcmp(ds->id, ds->id + 1, sizeof(ds->id) - 1) == 0);
	ds->shard_count = nshards;
	ds->created_ms = kv_time_ms();
	for (uint32_t i = 0; i < nshards; i++) {
		char seg[64];
		struct file_header h;
		manifest_segment_name(seg, sizeof(seg), i, 1);
		rc = segment_create(dir, seg, ds, i, 1, 0, &h);
		struct manifest m = { .shard_id = i, .shard_count = nshards, .generation = 1,
				      .created_ms = ds->created_ms };
		memcpy(m.dataset_id, ds->id, sizeof(m.dataset_id));
		if (rc == 0) {
			manifest_add(&m, MANIFEST_AOF, 1, 0, seg);
			rc = manifest_commit_sync(dir, &m);
			manifest_free(&m);
		}
		if (rc < 0) {
			snprintf(err, cap, "cannot create shard %u's files in %s: %s", i, dir,
				 kv_strerror(rc));
			return rc;
		}
	}
	/* Last: from here on the directory holds a dataset. */
	uint8_t bytes[DATASET_FILE_SIZE];
	dataset_encode(ds, bytes);
	rc = manifest_write_atomic(dir, DATASET_FILE, bytes, sizeof(bytes));
	if (rc < 0) {
		snprintf(err, cap, "cannot write %s/%s: %s", dir, DATASET_FILE, kv_strerror(rc));
		return rc;
	}
	log_notice("created a new dataset in %s for %u shard(s)", dir, nshards);
	return 0;
}

int aof_dataset_open(const char *dir, uint32_t nshards, struct dataset_info *ds,
		     char *err, size_t err_cap)
{
	char path[4096];
	struct kv_buf b = KV_BUF_INIT;
	path_join(path, sizeof(path), dir, DATASET_FILE);
	int rc = manifest_read_file(path, 4096, &b);
	if (rc == -ENOENT) {
		kv_buf_free(&b);
		return dataset_create(dir, nshards, ds, err, err_cap);
	}
	if (rc < 0) {
		snprintf(err, err_cap, "cannot read %s: %s", path, kv_strerror(rc));
		kv_buf_free(&b);
		return rc;
	}
	char msg[160];
	rc = dataset_decode((const uint8_t *)b.data, b.len, ds, msg, sizeof(msg));
	kv_buf_free(&b);
	if (rc < 0) {
		snprintf(err, err_cap, "%s: %s; refusing to start (see: kevy-check %s)", path, msg, dir);
		return rc;
	}
	if (ds->shard_count != nshards) {
		snprintf(err, err_cap, "%s: the dataset has %u shard(s) but this server runs %u: "
			 "start with --threads %u, or without threads (the server re-shards "
			 "a dataset before opening it: this is a bug)",
			 path, ds->shard_count, nshards, ds->shard_count);
		return KV_EMISMATCH;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* recovery */

struct replay_ctx {
	struct aof *a;
	struct kv_dbs *db;
	const char *path;
	uint64_t records;
	char *err;
	size_t err_cap;
};

static void describe_refusal(char *err, size_t cap, const char *dir, const char *line)
{
	snprintf(err, cap, "%s; refusing to start (explain and repair: kevy-check %s)", line, dir);
}

/* Copy [off, end) of f to a quarantine file next to it, fsync it and the
 * directory, then truncate f to off and fsync it. */
static int quarantine_tail(struct aof *a, struct kvio_file *f, const char *path,
			   uint64_t off, uint64_t end, char *qpath, size_t qcap)
{
	snprintf(qpath, qcap, "%s.torn-%" PRIu64 "-%" PRId64, path, off, kv_time_ms());
	struct kvio_file q;
	int rc = kvio_open(&q, qpath, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (rc < 0)
		return rc;
	char *chunk = kv_malloc(1 << 16);
	uint64_t pos = off;
	while (rc == 0 && pos < end) {
		size_t want = (size_t)KV_MIN(end - pos, (uint64_t)(1 << 16));
		ssize_t n = kvio_pread(f, chunk, want, pos);
		if (n <= 0) {
			rc = n < 0 ? (int)n : -EIO;
			break;
		}
		ssize_t w = kvio_pwrite(&q, chunk, (size_t)n, pos - off);
		if (w != n)
			rc = w < 0 ? (int)w : -ENOSPC;
		pos += (uint64_t)n;
	}
	free(chunk);
	if (rc == 0)
		rc = kvio_fsync(&q);
	kvio_close(&q);
	if (rc < 0)
		kvio_unlink(qpath);   /* nothing was cut: no partial copy either */
	if (rc == 0)
		rc = kvio_fsync_dir(a->dir);
	if (rc == 0)
		rc = kvio_truncate(f, off);
	if (rc == 0)
		rc = kvio_fsync(f);
	return rc;
}

/* What every file of this shard must say about itself. */
static struct file_expect shard_expect(const struct aof *a, uint64_t generation)
{
	struct file_expect exp = {
		.fields = FILE_EXPECT_DATASET | FILE_EXPECT_SHARD | FILE_EXPECT_SHARD_COUNT |
			  FILE_EXPECT_GENERATION,
		.shard_id = a->shard_id,
		.shard_count = a->nshards,
		.generation = generation,
	};
	memcpy(exp.dataset_id, a->ds.id, sizeof(exp.dataset_id));
	return exp;
}

static void scan_report(struct aof *a, const struct aof_file_report *r)
{
	if (r->verdict < 0 && (a->worst == 0 || (a->worst == KV_ETORN && r->verdict != KV_ETORN)))
		a->worst = r->verdict;
	if (a->report)
		a->report(a->report_arg, r);
}

/* Replay one segment.  last: the last segment the manifest names (the only
 * one that may have a torn tail, which is then cut).  *end receives the
 * segment's good length, *sealed whether it ended with SEGMENT_END. */
static bool is_skipped(const struct aof *a, uint64_t lsn)
{
	size_t lo = 0, hi = a->nskip;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a->skip[mid] == lsn)
			return true;
		if (a->skip[mid] < lsn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static int replay_segment(struct aof *a, struct kv_dbs *db, const struct manifest_entry *me,
			  bool last, uint64_t *lsn_io, uint64_t *end, bool *sealed,
			  struct file_header *hdr_out, char *err, size_t cap)
{
	char path[4096];
	path_join(path, sizeof(path), a->dir, me->name);
	struct kvio_file f;
	struct aof_file_report rep = { .path = path, .kind = AOF_FILE_SEGMENT,
				       .shard_id = a->shard_id };
	bool can_fix = !a->check || a->fix;
	int rc = kvio_open(&f, path, can_fix ? O_RDWR : O_RDONLY, 0);
	if (rc < 0) {
		char line[4400];
		snprintf(line, sizeof(line), "%s: named by the manifest but cannot be opened: %s",
			 path, kv_strerror(rc));
		describe_refusal(err, cap, a->dir, line);
		rep.verdict = rc == -ENOENT ? KV_ECORRUPT : rc;
		rep.line = line;
		scan_report(a, &rep);
		return rep.verdict;
	}
	struct file_expect exp = shard_expect(a, me->generation);
	struct aof_reader_config cfg = { .expect = &exp };
	struct aof_reader r;
	aof_reader_init(&r, &cfg);
	uint64_t off = 0, n_applied = 0;
	int verdict;
	char rep_line[9000] = "";
	for (;;) {
		struct aof_record rec;
		verdict = aof_reader_next(&r, &rec);
		if (verdict == AOF_RECORD) {
			if (!aof_rec_numbered(rec.type))
				continue;
			if (rec.lsn <= *lsn_io) {
				snprintf(rep_line, sizeof(rep_line), "%s: record at offset %" PRIu64
					 " has LSN %" PRIu64 ", not after %" PRIu64 " of the previous "
					 "segment", path, rec.offset, rec.lsn, *lsn_io);
				describe_refusal(err, cap, a->dir, rep_line);
				rep.offset = rec.offset;
				rc = KV_ECORRUPT;
				break;
			}
			if (a->unplanned &&
			    (rec.type == AOF_REC_UNIT || rec.type == AOF_REC_RESOLVE)) {
				/* Loaded without a plan (aof_plan_build_recovery):
				 * only a plan may decide about this record. */
				snprintf(rep_line, sizeof(rep_line), "%s: record LSN %" PRIu64 " at "
					 "offset %" PRIu64 " is a %s record, which the recovery rule "
					 "for units across shards decides: planning, then loading "
					 "again", path, rec.lsn, rec.offset,
					 rec.type == AOF_REC_UNIT ? "UNIT" : "RESOLVE");
				snprintf(err, cap, "%s", rep_line);
				rep.offset = rec.offset;
				rc = -EAGAIN;
				break;
			}
			char why[300];
			kv_assert(aof_effects);   /* cmd_table_init installs them */
			if (a->on_record)
				a->on_record(a->on_record_arg, &rec);
			/* A unit's part applies the effect after its header; a
			 * RESOLVE record changes no key; a record the recovery
			 * rule dropped is only verified. */
			const uint8_t *pl = rec.payload;
			size_t plen = rec.payload_len;
			struct aof_unit unit = { 0 };
			if (rec.type == AOF_REC_UNIT) {
				const char *uwhy;
				rc = aof_unit_decode(rec.payload, rec.payload_len, &unit, &uwhy);
				kv_assert(rc == 0);   /* the reader checked it */
				pl = unit.effect;
				plen = unit.effect_len;
				aof_unit_free(&unit);
			}
			/* Point-in-time loads (kevy-dump --until-lsn/--until-time) stop
			 * applying at the bound; the rest is still verified.  A part's
			 * time is its effect's, after the unit header (whose first
			 * bytes are the unit id, not a time). */
			bool past = (a->until_lsn && rec.lsn > a->until_lsn) ||
				    (a->until_ms && plen >= AOF_EFFECT_TIME_SIZE &&
				     (int64_t)le_get64(pl) > a->until_ms);
			bool skip = rec.type == AOF_REC_RESOLVE || is_skipped(a, rec.lsn);
			if (rec.type == AOF_REC_RESOLVE || a->headers_only)
				rc = 0;
			else
				rc = db && !past && !skip
					? aof_effects->apply(db, a->shard_id, a->nshards, pl, plen, why,
							     sizeof(why))
					: aof_effects->validate(a->shard_id, a->nshards, pl, plen, why,
								sizeof(why));
			if (rc < 0) {
				snprintf(rep_line, sizeof(rep_line), "%s: record LSN %" PRIu64
					 " at offset %" PRIu64 ": %s", path, rec.lsn, rec.offset, why);
				describe_refusal(err, cap, a->dir, rep_line);
				rep.offset = rec.offset;
				break;
			}
			if (!rep.records++)
				rep.first_lsn = rec.lsn;
			rep.last_lsn = rec.lsn;
			*lsn_io = rec.lsn;
			n_applied++;
			if (db)
				load_delay();
			continue;
		}
		if (verdict == AOF_NEED_MORE) {
			ssize_t got = kvio_fill(&f, &r.in, &off);
			if (got < 0) {
				snprintf(rep_line, sizeof(rep_line), "%s: read error at offset %" PRIu64
					 ": %s", path, off, kv_strerror((int)got));
				describe_refusal(err, cap, a->dir, rep_line);
				rep.offset = off;
				rc = (int)got;
				break;
			}
			continue;
		}
		break;
	}
	if (rc < 0)
		goto out;
	const struct aof_verdict *v = aof_reader_verdict(&r);
	const struct file_header *h = aof_reader_header(&r);
	if (h)
		*hdr_out = *h;
	rep.size = off;
	if (verdict == AOF_CLEAN_EOF && h && h->lsn != me->lsn) {
		snprintf(rep_line, sizeof(rep_line), "%s: header start LSN %" PRIu64 " but the "
			 "manifest says %" PRIu64, path, h->lsn, me->lsn);
		describe_refusal(err, cap, a->dir, rep_line);
		rc = KV_ECORRUPT;
		goto out;
	}
	if (verdict == AOF_CLEAN_EOF) {
		*end = v->valid_end;
		*sealed = v->sealed;
		rep.free_bytes = v->free_bytes;
		aof_verdict_describe(v, path, rep_line, sizeof(rep_line));
	} else if (verdict == KV_ETORN && last && !can_fix) {
		/* kevy-check without --fix: say what recovery would do. */
		aof_verdict_describe(v, path, rep_line, sizeof(rep_line));
		rep.offset = v->offset;
		rc = KV_ETORN;
	} else if (verdict == KV_ETORN && last) {
		char line[600], qpath[4200];
		aof_verdict_describe(v, me->name, line, sizeof(line));
		rep.offset = v->offset;
		rc = quarantine_tail(a, &f, path, v->offset, v->bytes_seen, qpath, sizeof(qpath));
		if (rc < 0) {
			snprintf(rep_line, sizeof(rep_line), "%s: cannot quarantine its torn tail: %s",
				 path, kv_strerror(rc));
			snprintf(err, cap, "%s", rep_line);
			goto out;
		}
		if (!a->check)
			log_warning("shard %u: %s; the %" PRIu64 " dropped byte(s) were copied to %s",
				    a->shard_id, line, v->dropped_bytes, qpath);
		snprintf(rep_line, sizeof(rep_line), "%s; the %" PRIu64 " dropped byte(s) were "
			 "copied to %s and the file truncated", line, v->dropped_bytes, qpath);
		rep.fixed = true;
		*end = v->offset;
		*sealed = false;
		if (!h || v->offset < AOF_HEADER_SIZE) {
			/* The segment's creation itself was cut: write its header
			 * again from the manifest's facts. */
			struct file_header nh;
			rc = segment_create(a->dir, me->name, &a->ds, a->shard_id, me->generation,
					    me->lsn, &nh);
			if (rc < 0) {
				snprintf(rep_line, sizeof(rep_line), "%s: cannot rewrite its header: %s",
					 path, kv_strerror(rc));
				snprintf(err, cap, "%s", rep_line);
				goto out;
			}
			*hdr_out = nh;
			*end = AOF_HEADER_SIZE;
		}
	} else {
		char line[800];
		aof_verdict_describe(v, path, line, sizeof(line));
		if (verdict == KV_ETORN) {
			snprintf(rep_line, sizeof(rep_line), "%s (not the last segment: a torn tail "
				 "here means lost records)", line);
			rc = KV_ECORRUPT;
		} else {
			snprintf(rep_line, sizeof(rep_line), "%s", line);
			rc = verdict < 0 ? verdict : KV_ECORRUPT;
		}
		describe_refusal(err, cap, a->dir, rep_line);
		rep.offset = v->offset;
		goto out;
	}
	a->info.replayed_records += n_applied;
out:
	rep.verdict = rc;
	rep.line = rep_line;
	scan_report(a, &rep);
	aof_reader_free(&r);
	kvio_close(&f);
	return rc;
}

static void scan_init(struct aof *a, const char *dir, const struct dataset_info *ds,
		      uint32_t shard_id, uint32_t nshards)
{
	memset(a, 0, sizeof(*a));
	a->shard_id = shard_id;
	a->nshards = nshards;
	a->dir = kv_strndup(dir, strlen(dir));
	a->ds = *ds;
	a->seg.fd = -1;
	a->dseg.fd = -1;
	a->dirf.fd = -1;
	a->rw_seg.fd = a->rw_man.fd = -1;
}

/* Load (db) or verify (db NULL) the snapshot a manifest names: every block
 * is verified before it is decompressed, and the file must end right after
 * its footer.  *lsn becomes the snapshot's cut. */
static int load_snapshot(struct aof *a, struct kv_dbs *db, const struct manifest_entry *me,
			 uint64_t *lsn, char *err, size_t cap)
{
	char path[4096], line[4800] = "";
	path_join(path, sizeof(path), a->dir, me->name);
	struct aof_file_report rep = { .path = path, .kind = AOF_FILE_SNAPSHOT,
				       .shard_id = a->shard_id, .line = line };
	struct kvio_file f;
	int rc = kvio_open(&f, path, O_RDONLY, 0);
	if (rc < 0) {
		snprintf(line, sizeof(line), "%s: named by the manifest but cannot be opened: %s",
			 path, kv_strerror(rc));
		describe_refusal(err, cap, a->dir, line);
		rep.verdict = rc == -ENOENT ? KV_ECORRUPT : rc;
		scan_report(a, &rep);
		return rep.verdict;
	}
	struct file_expect exp = shard_expect(a, me->generation);
	struct snap_reader_config cfg = { .expect = &exp };
	struct snap_reader r;
	struct snap_loader l;
	snap_reader_init(&r, &cfg);
	/* Without db (kevy-check) the loader verifies each value by the rules
	 * it loads by, so both refuse the same files. */
	snap_loader_init(&l, db);
	uint64_t off = 0;
	int verdict;
	for (;;) {
		struct snap_fragment frag;
		verdict = snap_reader_next(&r, &frag);
		if (verdict == SNAP_FRAGMENT) {
			int lrc = snap_load_fragment(&r, &l, &frag);
			if (lrc == KV_ELIMIT) {
				snprintf(line, sizeof(line), "%s: block %" PRIu64 ": a key of "
					 "database %u, but the server has %u databases (raise "
					 "`databases` to load this file)", path, frag.block,
					 frag.db, db->n);
				rc = lrc;
				break;
			}
			if (lrc < 0) {
				verdict = lrc;   /* now the reader's verdict */
				break;
			}
			if (db)
				load_delay();
			continue;
		}
		if (verdict == SNAP_NEED_MORE) {
			ssize_t got = kvio_fill(&f, &r.in, &off);
			if (got < 0) {
				snprintf(line, sizeof(line), "%s: read error at offset %" PRIu64 ": %s",
					 path, off, kv_strerror((int)got));
				rep.offset = off;
				rc = (int)got;
				break;
			}
			continue;
		}
		break;
	}
	rep.size = off;
	const struct snap_verdict *v = snap_reader_verdict(&r);
	const struct file_header *h = snap_reader_header(&r);
	if (rc == 0 && verdict != SNAP_END) {
		snap_verdict_describe(v, path, line, sizeof(line));
		rep.offset = v->offset;
		rc = verdict < 0 ? verdict : KV_ECORRUPT;
	} else if (rc == 0 && h && h->lsn != me->lsn) {
		snprintf(line, sizeof(line), "%s: cut LSN %" PRIu64 " but the manifest says %" PRIu64,
			 path, h->lsn, me->lsn);
		rc = KV_ECORRUPT;
	} else if (rc == 0 && h && ((a->until_lsn && h->lsn > a->until_lsn) ||
				    (a->until_ms && h->created_ms > a->until_ms))) {
		/* A point in time before the snapshot: its records are gone. */
		snprintf(line, sizeof(line), "%s: this snapshot was cut at LSN %" PRIu64 " (time %"
			 PRId64 "), after the point asked for; the records before it are no longer "
			 "in the data directory", path, h->lsn, h->created_ms);
		rc = -ERANGE;
	}
	if (rc == 0) {
		snap_verdict_describe(v, path, line, sizeof(line));
		atomic_store_explicit(&a->info.snapshot_bytes, off, memory_order_relaxed);
		rep.records = v->entries;
		rep.first_lsn = rep.last_lsn = me->lsn;
		*lsn = me->lsn;
	} else if (rc == -ERANGE) {
		snprintf(err, cap, "%s", line);
	} else {
		describe_refusal(err, cap, a->dir, line);
	}
	snap_loader_free(&l);
	snap_reader_free(&r);
	kvio_close(&f);
	rep.verdict = rc;
	scan_report(a, &rep);
	return rc;
}

/* The shard's manifest, then every segment it names (applied to db, or only
 * verified when db is NULL).  On success *lsn, *end, *sealed and *hdr
 * describe the last segment. */
static int shard_scan(struct aof *a, struct kv_dbs *db, char *err, size_t err_cap,
		      uint64_t *lsn_out, uint64_t *end_out, bool *sealed_out,
		      struct file_header *hdr_out)
{
	char name[64], path[4096], line[4400];
	struct kv_buf b = KV_BUF_INIT;
	struct aof_file_report rep = { .path = path, .kind = AOF_FILE_MANIFEST,
				       .shard_id = a->shard_id, .line = line };
	manifest_name(name, sizeof(name), a->shard_id);
	path_join(path, sizeof(path), a->dir, name);
	int rc = manifest_read_file(path, 1 << 20, &b);
	if (rc < 0) {
		snprintf(line, sizeof(line), "%s: %s", path,
			 rc == -ENOENT ? "missing (the dataset names this shard)" : kv_strerror(rc));
		describe_refusal(err, err_cap, a->dir, line);
		kv_buf_free(&b);
		rep.verdict = rc == -ENOENT ? KV_ECORRUPT : rc;
		scan_report(a, &rep);
		return rep.verdict;
	}
	rep.size = b.len;
	char msg[200];
	rc = manifest_decode((const uint8_t *)b.data, b.len, &a->man, msg, sizeof(msg));
	kv_buf_free(&b);
	if (rc == 0 && (memcmp(a->man.dataset_id, a->ds.id, sizeof(a->ds.id)) != 0 ||
			a->man.shard_id != a->shard_id || a->man.shard_count != a->nshards)) {
		snprintf(msg, sizeof(msg), "belongs to another dataset, shard or shard count "
			 "(shard %u of %u)", a->man.shard_id, a->man.shard_count);
		rc = KV_EMISMATCH;
	}
	if (rc == 0 && (a->man.nentries == 0 ||
			a->man.entries[a->man.nentries - 1].kind != MANIFEST_AOF)) {
		snprintf(msg, sizeof(msg), "names no AOF segment");
		rc = KV_ECORRUPT;
	}
	if (rc < 0) {
		snprintf(line, sizeof(line), "%s: %s", path, msg);
		describe_refusal(err, err_cap, a->dir, line);
		rep.verdict = rc;
		scan_report(a, &rep);
		return rc;
	}
	snprintf(line, sizeof(line), "%s: manifest generation %" PRIu64 ", %u file(s)", path,
		 a->man.generation, a->man.nentries);
	rep.records = a->man.nentries;
	scan_report(a, &rep);

	uint64_t lsn = 0, end = 0;
	bool sealed = false, prev_seg_ok = false;
	int first_err = 0;
	for (uint32_t i = 0; i < a->man.nentries; i++) {
		const struct manifest_entry *me = &a->man.entries[i];
		/* What lies at or below the manifest's first entry is compacted
		 * into it: a snapshot's cut, or a rewritten segment's start. */
		if (i == 0)
			a->snap_cut = me->lsn;
		if (a->snap_only && me->kind != MANIFEST_SNAPSHOT)
			continue;
		if (me->kind == MANIFEST_SNAPSHOT) {
			a->snap_cut = me->lsn;
			if (a->headers_only) {
				lsn = me->lsn;
				prev_seg_ok = false;
				continue;
			}
			rc = load_snapshot(a, db, me, &lsn, err, err_cap);
			if (rc < 0 && !a->check)
				return rc;
			if (rc < 0 && !first_err)
				first_err = rc;
			prev_seg_ok = false;
			continue;
		}
		if (prev_seg_ok && me->lsn != lsn) {
			/* A segment starts exactly where the one before it ended
			 * (the rotation's cut).  Anything else means the earlier
			 * segment lost records at its tail: its records verify,
			 * but no crash can cut a segment the manifest has
			 * already closed. */
			char spath[4096], sline[4600];
			path_join(spath, sizeof(spath), a->dir, me->name);
			snprintf(sline, sizeof(sline), "%s: starts at LSN %" PRIu64 " (manifest) but "
				 "the segment before it, %s, ends at LSN %" PRIu64 ": records are "
				 "missing between them", spath, me->lsn, a->man.entries[i - 1].name, lsn);
			describe_refusal(err, err_cap, a->dir, sline);
			struct aof_file_report srep = { .path = spath, .kind = AOF_FILE_SEGMENT,
							.shard_id = a->shard_id,
							.verdict = KV_ECORRUPT, .line = sline };
			scan_report(a, &srep);
			if (!a->check)
				return KV_ECORRUPT;
			if (!first_err)
				first_err = KV_ECORRUPT;
			prev_seg_ok = false;
			continue;
		}
		if (me->lsn > lsn)
			lsn = me->lsn;
		rc = replay_segment(a, db, me, i + 1 == a->man.nentries, &lsn, &end, &sealed,
				    hdr_out, err, err_cap);
		if (rc < 0 && !a->check)
			return rc;
		if (rc < 0 && !first_err)
			first_err = rc;
		prev_seg_ok = rc == 0;
	}
	*lsn_out = lsn;
	*end_out = end;
	*sealed_out = sealed;
	return first_err;
}

int aof_scan_records(const char *dir, const struct dataset_info *ds, uint32_t shard_id,
		     void (*fn)(void *arg, const struct aof_record *rec), void *arg,
		     uint64_t *cut, struct manifest *man, char *err, size_t err_cap)
{
	struct aof a;
	uint64_t lsn, end;
	bool sealed;
	struct file_header hdr;
	scan_init(&a, dir, ds, shard_id, ds->shard_count);
	a.check = true;
	a.headers_only = true;
	a.on_record = fn;
	a.on_record_arg = arg;
	err[0] = '\0';
	int rc = shard_scan(&a, NULL, err, err_cap, &lsn, &end, &sealed, &hdr);
	*cut = a.snap_cut;
	if (man) {
		/* Handed over: aof_close frees what is left in a.man. */
		*man = a.man;
		memset(&a.man, 0, sizeof(a.man));
	}
	aof_close(&a);
	return rc;
}

int aof_segments_version(const char *dir, const struct dataset_info *ds, uint32_t shard_id,
			 uint16_t *version)
{
	char name[64], path[4096], msg[200];
	struct kv_buf b = KV_BUF_INIT;
	struct manifest m;
	memset(&m, 0, sizeof(m));
	*version = 0;
	manifest_name(name, sizeof(name), shard_id);
	path_join(path, sizeof(path), dir, name);
	int rc = manifest_read_file(path, 1 << 20, &b);
	if (rc == 0)
		rc = manifest_decode((const uint8_t *)b.data, b.len, &m, msg, sizeof(msg));
	kv_buf_free(&b);
	if (rc == 0 && (memcmp(m.dataset_id, ds->id, sizeof(ds->id)) != 0 ||
			m.shard_id != shard_id || m.shard_count != ds->shard_count))
		rc = KV_EMISMATCH;
	for (uint32_t i = 0; rc == 0 && i < m.nentries; i++) {
		if (m.entries[i].kind != MANIFEST_AOF)
			continue;
		uint8_t hdr[AOF_HEADER_SIZE];
		struct kvio_file f;
		struct file_header h;
		path_join(path, sizeof(path), dir, m.entries[i].name);
		rc = kvio_open(&f, path, O_RDONLY, 0);
		if (rc < 0)
			break;
		ssize_t got = kvio_pread(&f, hdr, sizeof(hdr), 0);
		kvio_close(&f);
		if (got < 0)
			rc = (int)got;
		else
			rc = aof_header_decode(hdr, (size_t)got, NULL, &h, NULL, NULL, 0);
		if (rc == 0 && h.version > *version)
			*version = h.version;
	}
	manifest_free(&m);
	return rc;
}

/* functions.kevy, when there is one: the file's checksum and every
 * library in its payload (as the server's startup reads it). */
static int check_functions(const char *dir, aof_report_fn fn, void *arg)
{
	char path[4096], line[9400], msg[5200];
	path_join(path, sizeof(path), dir, FN_FILE);
	struct kv_buf payload = KV_BUF_INIT;
	int rc = fn_file_read(path, &payload, msg, sizeof(msg));
	if (rc == -ENOENT) {
		kv_buf_free(&payload);
		return 0;
	}
	struct aof_file_report rep = { .path = path, .kind = AOF_FILE_FUNCTIONS, .line = line };
	rep.size = payload.len;
	if (rc == 0) {
		struct fn_code *items;
		size_t n;
		if (fn_payload_parse((const uint8_t *)payload.data, payload.len, &items, &n, msg,
				     sizeof(msg)) < 0) {
			rc = KV_ECORRUPT;
			snprintf(line, sizeof(line), "%s: its FUNCTION DUMP payload: %s", path, msg);
		} else {
			rep.records = n;
			snprintf(line, sizeof(line), "%s: %zu function librar%s", path, n,
				 n == 1 ? "y" : "ies");
			fn_codes_free(items, n);
		}
	} else {
		snprintf(line, sizeof(line), "%s", msg);
	}
	rep.verdict = rc;
	kv_buf_free(&payload);
	if (fn)
		fn(arg, &rep);
	return rc;
}

int aof_check_dir(const char *dir, bool fix, aof_report_fn fn, void *arg)
{
	char path[4096], line[4400], msg[200];
	struct kv_buf b = KV_BUF_INIT;
	struct dataset_info ds;
	struct aof_file_report rep = { .path = path, .kind = AOF_FILE_DATASET, .line = line };
	/* Mid re-shard the shard files are half moved: complete it (--fix) or
	 * say so, before reading any of them. */
	char rerr[4800];
	int rc = aof_reshard_recover(dir, fix, fn, arg, rerr, sizeof(rerr));
	if (rc < 0)
		return rc;
	if (rc > 0 && !fix)
		return KV_ETORN;
	path_join(path, sizeof(path), dir, DATASET_FILE);
	rc = manifest_read_file(path, 4096, &b);
	if (rc == 0)
		rc = dataset_decode((const uint8_t *)b.data, b.len, &ds, msg, sizeof(msg));
	else
		snprintf(msg, sizeof(msg), "%s", rc == -ENOENT ? "missing: not a kevy data directory"
							      : kv_strerror(rc));
	rep.size = b.len;
	kv_buf_free(&b);
	if (rc < 0) {
		snprintf(line, sizeof(line), "%s: %s", path, msg);
		rep.verdict = rc;
		if (fn)
			fn(arg, &rep);
		return rc;
	}
	snprintf(line, sizeof(line), "%s: dataset of %u shard(s)", path, ds.shard_count);
	rep.records = ds.shard_count;
	if (fn)
		fn(arg, &rep);
	int worst = 0;
	char terr[4400];
	rc = aof_turnon_recover(dir, &ds, fix, fn, arg, terr, sizeof(terr));
	if (rc < 0)
		return rc;
	if (rc > 0 && !fix)
		worst = KV_ETORN;
	rc = check_functions(dir, fn, arg);
	if (rc < 0)
		worst = rc;
	for (uint32_t i = 0; i < ds.shard_count; i++) {
		struct aof a;
		char err[4800];
		uint64_t lsn, end;
		bool sealed;
		struct file_header hdr;
		scan_init(&a, dir, &ds, i, ds.shard_count);
		a.check = true;
		a.fix = fix;
		a.report = fn;
		a.report_arg = arg;
		shard_scan(&a, NULL, err, sizeof(err), &lsn, &end, &sealed, &hdr);
		if (a.worst < 0 && (worst == 0 || (worst == KV_ETORN && a.worst != KV_ETORN)))
			worst = a.worst;
		aof_close(&a);
	}
	return worst;
}

/* The first file m names that dir does not hold, or NULL. */
static const char *manifest_missing_file(const char *dir, const struct manifest *m)
{
	for (uint32_t e = 0; e < m->nentries; e++) {
		char fpath[4096];
		struct stat st;
		path_join(fpath, sizeof(fpath), dir, m->entries[e].name);
		if (stat(fpath, &st) != 0)
			return m->entries[e].name;
	}
	return NULL;
}

/*
 * Turning appendonly on at run time rewrites every shard into a fresh
 * segment, and the shards' manifests must all move to those segments or
 * none (a multi-shard write made before would otherwise be on disk on some
 * shards only).  Once every segment is durable, kevy.turnon records every
 * shard's next manifest (the decision); each shard then commits its own.
 * Here, before anything reads a manifest: a shard whose manifest is older
 * than the decision gets the decided one (roll forward), and the record is
 * removed.  apply false (kevy-check without --fix): only report.
 */
int aof_turnon_recover(const char *dir, const struct dataset_info *ds, bool apply,
		       aof_report_fn fn, void *arg, char *err, size_t err_cap)
{
	char path[4096], line[4800], msg[300];
	struct kv_buf b = KV_BUF_INIT;
	path_join(path, sizeof(path), dir, TURNON_FILE);
	struct aof_file_report rep = { .path = path, .kind = AOF_FILE_TURNON, .line = line };
	int rc = manifest_read_file(path, 64u << 20, &b);
	if (rc == -ENOENT) {
		kv_buf_free(&b);
		return 0;
	}
	struct manifest *mans = kv_calloc(ds->shard_count, sizeof(*mans));
	if (rc == 0)
		rc = turnon_decode((const uint8_t *)b.data, b.len, ds, mans, msg, sizeof(msg));
	else
		snprintf(msg, sizeof(msg), "%s", kv_strerror(rc));
	rep.size = b.len;
	kv_buf_free(&b);
	if (rc < 0) {
		snprintf(line, sizeof(line), "%s: %s", path, msg);
		snprintf(err, err_cap, "%s: refusing to start (inspect with: kevy-check %s)", line,
			 dir);
		rep.verdict = rc;
		if (fn)
			fn(arg, &rep);
		free(mans);
		return rc;
	}
	int adopted = 0;
	for (uint32_t i = 0; i < ds->shard_count && rc >= 0; i++) {
		char name[64], mpath[4096];
		manifest_name(name, sizeof(name), i);
		path_join(mpath, sizeof(mpath), dir, name);
		struct kv_buf mb = KV_BUF_INIT;
		struct manifest cur;
		memset(&cur, 0, sizeof(cur));
		int r = manifest_read_file(mpath, 1 << 20, &mb);
		if (r == 0)
			r = manifest_decode((const uint8_t *)mb.data, mb.len, &cur, msg, sizeof(msg));
		kv_buf_free(&mb);
		/* A manifest the decision supersedes may be damaged only if it is
		 * the one being replaced; anything else is left to recovery. */
		bool older = r < 0 || cur.generation < mans[i].generation;
		manifest_free(&cur);
		if (!older)
			continue;
		const char *missing = manifest_missing_file(dir, &mans[i]);
		if (missing) {
			snprintf(line, sizeof(line), "%s: shard %u's decided manifest names %s, "
				 "which is missing", path, i, missing);
			snprintf(err, err_cap, "%.4700s: refusing to start", line);
			rep.verdict = rc = KV_ECORRUPT;
			if (fn)
				fn(arg, &rep);
		}
		if (rc < 0)
			break;
		if (apply) {
			r = manifest_commit_sync(dir, &mans[i]);
			if (r < 0) {
				snprintf(line, sizeof(line), "%s: cannot commit shard %u's manifest: %s",
					 path, i, kv_strerror(r));
				snprintf(err, err_cap, "%s", line);
				rep.verdict = rc = r;
				if (fn)
					fn(arg, &rep);
				break;
			}
			log_notice("%s: shard %u had not committed its rewrite when appendonly was "
				   "turned on; committed it now (manifest generation %" PRIu64 ")",
				   path, i, mans[i].generation);
		}
		adopted++;
		snprintf(line, sizeof(line), "%s: shard %u's rewrite from turning appendonly on is "
			 "decided but its manifest was not committed%s", path, i,
			 apply ? "; committed it" : "; recovery or kevy-check --fix commits it");
		rep.verdict = apply ? 0 : KV_ETORN;   /* repairable, as a torn tail */
		rep.fixed = apply;
		rep.records = mans[i].nentries;
		rep.shard_id = i;
		if (fn)
			fn(arg, &rep);
	}
	for (uint32_t i = 0; i < ds->shard_count; i++)
		manifest_free(&mans[i]);
	free(mans);
	if (rc < 0)
		return rc;
	if (apply) {
		/* Every manifest is at or past the decision: the record is spent. */
		rc = kvio_unlink(path);
		if (rc == 0)
			rc = kvio_fsync_dir(dir);
		if (rc < 0 && rc != -ENOENT) {
			snprintf(err, err_cap, "%s: cannot remove: %s", path, kv_strerror(rc));
			return rc;
		}
	}
	return adopted;
}

int aof_dataset_lock(const char *dir, bool exclusive, struct kvio_file *lock, char *err,
		     size_t err_cap)
{
	char path[4096];
	path_join(path, sizeof(path), dir, DATASET_FILE);
	int rc = kvio_open(lock, path, O_RDONLY, 0);
	if (rc < 0) {
		snprintf(err, err_cap, "%s: %s", path, kv_strerror(rc));
		return rc;
	}
	rc = kvio_flock(lock, exclusive);
	if (rc < 0) {
		snprintf(err, err_cap, "%s is in use by a running kevy-server%s", dir,
			 exclusive ? " (or a kevy-check)" : "");
		kvio_close(lock);
		return rc == -EWOULDBLOCK ? -EBUSY : rc;
	}
	return 0;
}

int aof_check_dir_locked(const char *dir, bool fix, aof_report_fn fn, void *arg)
{
	struct kvio_file lock;
	char err[4400];
	int rc = aof_dataset_lock(dir, fix, &lock, err, sizeof(err));
	if (rc == -EBUSY) {
		struct aof_file_report rep = { .path = dir, .kind = AOF_FILE_DATASET,
					       .verdict = -EBUSY, .line = err };
		if (fn)
			fn(arg, &rep);
		return rc;
	}
	/* A missing dataset file is reported by the check itself. */
	rc = aof_check_dir(dir, fix, fn, arg);
	kvio_close(&lock);
	return rc;
}

int aof_reload(struct aof *a, const struct aof_skip *skip, struct kv_dbs *db, char *err,
	       size_t err_cap)
{
	struct aof r;
	uint64_t lsn, end;
	bool sealed;
	struct file_header hdr;
	scan_init(&r, a->dir, &a->ds, a->shard_id, a->nshards);
	if (skip) {
		r.skip = skip->lsns;
		r.nskip = skip->n;
	}
	r.check = true;   /* read only: nothing is cut or written */
	int rc = shard_scan(&r, db, err, err_cap, &lsn, &end, &sealed, &hdr);
	aof_close(&r);
	return rc;
}

int aof_load_base(const char *dir, const struct dataset_info *ds, uint32_t shard_id,
		  struct kv_dbs *dbs, uint64_t *cut, char *err, size_t err_cap)
{
	struct aof r;
	uint64_t lsn, end;
	bool sealed;
	struct file_header hdr;
	scan_init(&r, dir, ds, shard_id, ds->shard_count);
	r.check = true;   /* read only */
	r.snap_only = true;
	err[0] = '\0';
	int rc = shard_scan(&r, dbs, err, err_cap, &lsn, &end, &sealed, &hdr);
	*cut = 0;
	for (uint32_t i = 0; i < r.man.nentries; i++)
		if (r.man.entries[i].kind == MANIFEST_SNAPSHOT)
			*cut = r.man.entries[i].lsn;
	aof_close(&r);
	return rc;
}

/* Files of this shard's naming pattern (kevy-s<ID>-g<N>.aof|.snap and
 * kevy-s<ID>.manifest.tmp) that the manifest does not name: a snapshot, a
 * segment or a manifest whose commit a crash interrupted, or the files a
 * commit replaced whose unlink never ran.  Recovery trusts only the manifest,
 * so nothing will ever read them: without this every killed snapshot would
 * leave its file behind for good.  Quarantined torn tails are kept. */
static void remove_unnamed(const char *dir, uint32_t shard_id, const struct manifest *m)
{
	char prefix[32];
	size_t pl = (size_t)snprintf(prefix, sizeof(prefix), "kevy-s%u", shard_id);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	int removed = 0;
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		if (strncmp(n, prefix, pl) != 0)
			continue;
		const char *p = n + pl;
		bool ours = strcmp(p, ".manifest.tmp") == 0;
		if (!ours && p[0] == '-' && p[1] == 'g' && p[2] >= '0' && p[2] <= '9') {
			p += 2;
			while (*p >= '0' && *p <= '9')
				p++;
			ours = strcmp(p, ".aof") == 0 || strcmp(p, ".snap") == 0;
		}
		for (uint32_t i = 0; ours && i < m->nentries; i++)
			if (strcmp(m->entries[i].name, n) == 0)
				ours = false;
		if (!ours)
			continue;
		char path[4096];
		path_join(path, sizeof(path), dir, n);
		int rc = kvio_unlink(path);
		if (rc == 0) {
			log_notice("shard %u: removed %s: no manifest names it (left by an interrupted "
				   "snapshot or rotation)", shard_id, path);
			removed++;
		} else {
			log_warning("shard %u: cannot remove %s, which no manifest names: %s", shard_id,
				    path, kv_strerror(rc));
		}
	}
	closedir(d);
	if (removed)
		kvio_fsync_dir(dir);
}

static uint64_t dio_down(uint64_t x)
{
	return x & ~(uint64_t)(AOF_DIO_BLOCK - 1);
}

static uint64_t dio_up(uint64_t x)
{
	return dio_down(x + AOF_DIO_BLOCK - 1);
}

/* The block of good_off once len bytes of data are written there (called
 * before good_off moves): what a direct write writes again before its
 * records. */
static void dtail_note(struct aof *a, const void *data, size_t len)
{
	if (!a->dtail)
		return;
	uint64_t end = a->good_off + len, blk = dio_down(end);
	if (blk >= a->good_off)
		memcpy(a->dtail, (const uint8_t *)data + (blk - a->good_off), end - blk);
	else
		memcpy(a->dtail + (a->good_off - blk), data, len);
}

/* The same from a whole segment's content (good_off = its length). */
static void dtail_from(struct aof *a, const void *content, uint64_t len)
{
	uint64_t blk = dio_down(len);
	memcpy(a->dtail, (const uint8_t *)content + blk, len - blk);
}

static void dio_refused(struct aof *a, const char *path)
{
	a->direct_refused = true;
	log_notice("shard %u: %s: the file system refuses O_DIRECT; under appendfsync always "
		   "each write is followed by an fdatasync", a->shard_id, path);
}

/* At recovery: the block holding the end of the records (dtail) and the
 * segment's O_DIRECT descriptor for direct writes.  A file system may
 * refuse O_DIRECT (EINVAL: tmpfs): writes are then buffered and fsynced. */
static int dio_setup(struct aof *a, const char *path, uint64_t end, char *err, size_t cap)
{
	a->dtail = kv_malloc_aligned(AOF_DIO_BLOCK, AOF_DIO_BLOCK);
	memset(a->dtail, 0, AOF_DIO_BLOCK);
	uint64_t blk = dio_down(end);
	if (end > blk) {
		struct kvio_file f;
		int rc = kvio_open(&f, path, O_RDONLY, 0);
		ssize_t n = rc < 0 ? rc : kvio_pread(&f, a->dtail, end - blk, blk);
		kvio_close(&f);
		if (n != (ssize_t)(end - blk)) {
			rc = n < 0 ? (int)n : -EIO;
			snprintf(err, cap, "%s: cannot read its last block back: %s", path,
				 kv_strerror(rc));
			return rc;
		}
	}
	int rc = kvio_open(&a->dseg, path, O_WRONLY | O_DIRECT, 0);
	if (rc == -EINVAL) {
		dio_refused(a, path);
		return 0;
	}
	if (rc < 0)
		snprintf(err, cap, "%s: cannot open for direct writes: %s", path, kv_strerror(rc));
	return rc;
}

/* The new segment's O_DIRECT descriptor is open (res >= 0) or not: then
 * its appends keep the buffered write and fdatasync, and a file system
 * that refuses O_DIRECT is not asked again. */
static void dio_open_done(struct aof *a, int res)
{
	a->dopen_inflight = false;
	if (res == -EINVAL)
		dio_refused(a, a->seg_name);
	else if (res < 0)
		log_warning("shard %u: cannot open %s for direct writes: %s; its appends are "
			    "written and fdatasynced", a->shard_id, a->seg_name, kv_strerror(res));
}

/* After a switch to a new segment: its O_DIRECT descriptor, through the
 * ring while serving (appends are buffered and fsynced until it is open). */
static void dio_reopen(struct aof *a)
{
	if (a->direct_refused || !a->dtail || !a->seg.path)
		return;
	if (!a->ring) {
		dio_open_done(a, kvio_open(&a->dseg, a->seg.path, O_WRONLY | O_DIRECT, 0));
		return;
	}
	struct io_uring_sqe *sqe = kvio_ring_sqe(a->ring);
	kvio_prep_open(&a->dop, sqe, NULL, &a->dseg, a->seg.path, O_WRONLY | O_DIRECT, 0);
	kvio_sqe_set_op(sqe, &a->dop, a->ring_tag);
	a->dopen_inflight = true;
}

int aof_recover(struct aof *a, const char *dir, const struct dataset_info *ds,
		uint32_t shard_id, uint32_t nshards, const struct aof_skip *skip,
		struct kv_dbs *db, char *err, size_t err_cap)
{
	scan_init(a, dir, ds, shard_id, nshards);
	if (skip) {
		a->skip = skip->lsns;
		a->nskip = skip->n;
		a->unplanned = skip->unplanned;
	}
	int64_t t0 = kv_mono_us();
	char path[4096];
	uint64_t lsn = 0, end = 0;
	bool sealed = false;
	struct file_header hdr;
	int rc = shard_scan(a, db, err, err_cap, &lsn, &end, &sealed, &hdr);
	if (rc < 0)
		return rc;
	const struct manifest_entry *cur = &a->man.entries[a->man.nentries - 1];
	if (sealed || hdr.version < AOF_FORMAT_VERSION) {
		/* A sealed segment takes no more records: start the next one.
		 * So does one of an older version: records of this version's
		 * types go to a segment that says so, which an older kevy then
		 * refuses by its version instead of misreading. */
		char seg[64];
		uint64_t gen = cur->generation + 1;
		manifest_segment_name(seg, sizeof(seg), shard_id, gen);
		rc = segment_create(dir, seg, ds, shard_id, gen, lsn, &hdr);
		if (rc == 0) {
			manifest_add(&a->man, MANIFEST_AOF, gen, lsn, seg);
			a->man.generation++;
			a->man.created_ms = kv_time_ms();
			rc = manifest_commit_sync(dir, &a->man);
		}
		if (rc < 0) {
			snprintf(err, err_cap, "shard %u: cannot start a new AOF segment: %s", shard_id,
				 kv_strerror(rc));
			return rc;
		}
		cur = &a->man.entries[a->man.nentries - 1];
		end = AOF_HEADER_SIZE;
	}
	remove_unnamed(dir, shard_id, &a->man);
	a->seg_name = kv_strndup(cur->name, strlen(cur->name));
	path_join(path, sizeof(path), dir, cur->name);
	rc = kvio_open(&a->seg, path, O_WRONLY, 0);
	if (rc < 0) {
		snprintf(err, err_cap, "%s: cannot open for appending: %s", path, kv_strerror(rc));
		return rc;
	}
	/* What was read back may only be in the page cache (a kill -9 keeps
	 * unsynced writes there).  Make it durable before records that say
	 * so are framed after it (aof_encoder_set_durable below). */
	rc = kvio_fdatasync(&a->seg);
	if (rc < 0) {
		snprintf(err, err_cap, "%s: cannot fsync: %s", path, kv_strerror(rc));
		return rc;
	}
	rc = kvio_open_dir(&a->dirf, dir);
	if (rc < 0) {
		snprintf(err, err_cap, "%s: cannot open the data directory: %s", dir, kv_strerror(rc));
		return rc;
	}
	/* Zeros past the records are preallocated space (the reader checked
	 * that they are zeros only): appends go on over them. */
	struct stat sst;
	a->alloc_end = fstat(a->seg.fd, &sst) == 0 && (uint64_t)sst.st_size > end
			       ? (uint64_t)sst.st_size : end;
	rc = dio_setup(a, path, end, err, err_cap);
	if (rc < 0)
		return rc;
	a->hdr = hdr;
	aof_encoder_init(&a->enc, &a->hdr, 0);
	a->enc.last_lsn = lsn;
	aof_encoder_set_durable(&a->enc, lsn);
	a->good_off = end;
	a->last_lsn = a->written_lsn = a->durable_lsn = lsn;
	a->buf_last_lsn = lsn;
	a->info.current_size = end;
	a->info.base_size = end;
	a->info.growth_base = end + a->info.snapshot_bytes;
	a->info.last_lsn = lsn;
	a->info.durable_lsn = lsn;
	a->info.load_ms = (kv_mono_us() - t0) / 1000;
	a->last_fsync_start_ms = kv_time_ms();
	a->info.last_fsync_ms = a->last_fsync_start_ms;
	return 0;
}

void aof_attach(struct aof *a, struct io_uring *ring, uint64_t tag)
{
	a->ring = ring;
	a->ring_tag = tag;
}

void aof_close(struct aof *a)
{
	kvio_close(&a->seg);
	kvio_close(&a->dseg);
	free(a->dbuf);
	free(a->dtail);
	a->dbuf = a->dtail = NULL;
	a->dcap = 0;
	kvio_close(&a->dirf);
	kvio_close(&a->rw_seg);
	kvio_close(&a->rw_man);
	kv_buf_free(&a->rw_content);
	kv_buf_free(&a->rw_manifest);
	manifest_free(&a->rw_next);
	free(a->rw_seg_name);
	a->rw_seg_name = NULL;
	kv_buf_free(&a->buf);
	kv_buf_free(&a->wbuf);
	manifest_free(&a->man);
	free(a->seg_name);
	free(a->dir);
	a->seg_name = NULL;
	a->dir = NULL;
}

/* ------------------------------------------------------------------ */
/* the writer */

static void set_state(struct aof *a, enum aof_state st, int err, const char *what)
{
	a->state = st;
	a->err = err;
	atomic_store_explicit(&a->info.state, st, memory_order_relaxed);
	if (st == AOF_OK) {
		a->errmsg[0] = '\0';
		return;
	}
	atomic_store_explicit(&a->info.last_write_err, err, memory_order_relaxed);
	atomic_fetch_add_explicit(&a->info.write_errors, 1, memory_order_relaxed);
	snprintf(a->errmsg, sizeof(a->errmsg),
		 "MISCONF Errors writing to the AOF file: %s (%s); writes are refused%s",
		 kv_strerror(err), what, st == AOF_RETRYING ? " until a retry succeeds"
							    : " until a restart");
}

void aof_ask_fsync(struct aof *a)
{
	atomic_store_explicit(&a->fsync_asked, true, memory_order_relaxed);
}

void aof_fail(struct aof *a, int err, const char *what)
{
	if (a->state != AOF_FAILED)
		set_state(a, AOF_FAILED, err, what);
}

/* A lower record limit for tests (DEBUG AOF-RECORD-LIMIT), 0: the
 * format's.  Process-wide: every shard refuses a larger payload as if it
 * were over the format's limit. */
static _Atomic size_t g_record_limit;

void aof_set_record_limit(size_t bytes)
{
	atomic_store_explicit(&g_record_limit, bytes, memory_order_relaxed);
}

static uint64_t append_record(struct aof *a, uint8_t type, const void *payload, size_t len)
{
	uint64_t lsn = 0;
	size_t limit = atomic_load_explicit(&g_record_limit, memory_order_relaxed);
	int rc = limit && len > limit ? KV_ELIMIT
		 : type == AOF_REC_EFFECT
			 ? aof_encoder_payload(&a->enc, &a->buf, payload, len, &lsn)
			 : aof_encoder_typed(&a->enc, &a->buf, type, payload, len, &lsn);
	if (rc < 0) {
		/* Over the record limit: the change is in memory but cannot be
		 * logged, so nothing more may be acknowledged as durable. */
		log_warning("shard %u: an effect of %zu bytes exceeds the AOF record limit",
			    a->shard_id, len);
		set_state(a, AOF_FAILED, KV_ELIMIT, "effect too large to log");
		return 0;
	}
	if (a->oldest_unsynced_ms == 0) {
		a->oldest_unsynced_ms = kv_time_ms();
		atomic_store_explicit(&a->info.oldest_unsynced_ms, a->oldest_unsynced_ms,
				      memory_order_relaxed);
	}
	a->last_lsn = lsn;
	a->buf_last_lsn = lsn;
	a->buf_records++;
	atomic_fetch_add_explicit(&a->info.records, 1, memory_order_relaxed);
	atomic_store_explicit(&a->info.last_lsn, lsn, memory_order_relaxed);
	atomic_store_explicit(&a->info.buffer_length, a->buf.len + a->wbuf.len,
			      memory_order_relaxed);
	return lsn;
}

uint64_t aof_append(struct aof *a, const void *payload, size_t len)
{
	return append_record(a, AOF_REC_EFFECT, payload, len);
}

uint64_t aof_append_typed(struct aof *a, uint8_t type, const void *payload, size_t len)
{
	return append_record(a, type, payload, len);
}

int aof_resolve_sync(struct aof *a, const uint64_t *lsns, size_t n, const uint64_t (*ids)[2],
		     size_t nids)
{
	struct kv_buf b = KV_BUF_INIT;
	aof_resolve_encode(&b, kv_time_ms(), lsns, n, ids, nids);
	uint64_t lsn = append_record(a, AOF_REC_RESOLVE, b.data, b.len);
	kv_buf_free(&b);
	if (lsn == 0)
		return KV_ELIMIT;
	return aof_flush_sync(a);
}

bool aof_owns(const struct aof *a, const struct kvio_op *op)
{
	return op == &a->wop || op == &a->fop || op == &a->xop || op == &a->dop ||
	       (op >= &a->rw_op[0] && op <= &a->rw_op[1]) ||
	       (op >= &a->rw_unlink[0] && op <= &a->rw_unlink[3]);
}

bool aof_idle(const struct aof *a)
{
	return !a->write_inflight && !a->fsync_inflight && !a->ext_inflight && !a->dopen_inflight &&
	       a->rw_step == 0;
}

void aof_want_fsync(struct aof *a)
{
	a->fsync_wanted = true;
}

bool aof_busy(const struct aof *a)
{
	return a->write_inflight || a->fsync_inflight || a->buf.len || a->wbuf.len;
}

const char *aof_write_error(const struct aof *a)
{
	return a->state == AOF_OK ? NULL : a->errmsg;
}

/* user_data of a's ring ops: the op tagged as the runtime asked. */
static void aof_ring_tag(const struct aof *a, struct io_uring_sqe *sqe, struct kvio_op *op)
{
	kvio_sqe_set_op(sqe, op, a->ring_tag);
}

/* A write or fsync that took long is a latency event of the shard. */
static void aof_note_latency(struct aof *a, const char *event, int64_t start_us)
{
	if (a->lat && start_us)
		lat_note(a->lat, event, (kv_mono_us() - start_us) / 1000);
}

static void fsync_done(struct aof *a, int res, int64_t now_ms, bool *changed);

static void write_done(struct aof *a, int res, int64_t now_ms, bool *changed)
{
	a->write_inflight = false;
	aof_note_latency(a, "aof-write", a->write_start_us);
	bool direct = a->wdirect;
	a->wdirect = false;
	if (direct) {
		/* The staged blocks, or a failure of the records in them. */
		res = res == (int)a->dlen ? (int)a->wbuf.len : (res < 0 ? res : 0);
		if (a->dcap > (1u << 20)) {
			free(a->dbuf);
			a->dbuf = NULL;
			a->dcap = 0;
		}
	}
	if (res == (int)a->wbuf.len) {
		dtail_note(a, a->wbuf.data, a->wbuf.len);
		a->good_off += a->wbuf.len;
		a->written_lsn = a->wbuf_last_lsn;
		/* Published before the durable LSN can move (fsync_done, below,
		 * for a direct write): a reader of both (a replica's sender) that
		 * sees a record durable finds it inside current_size. */
		atomic_store_explicit(&a->info.current_size, a->good_off, memory_order_release);
		if (direct) {
			/* RWF_DSYNC: durable now, as after an fdatasync (and
			 * everything before it was: direct_ok). */
			a->fsync_covers = a->written_lsn;
			a->fsync_inflight = true;
			fsync_done(a, 0, now_ms, changed);
			atomic_fetch_add_explicit(&a->info.direct_writes, 1, memory_order_relaxed);
		}
		*changed = true;   /* replies wait for the write under everysec/no */
		a->wbuf.len = 0;
		a->wbuf_records = 0;
		kv_buf_shrink(&a->wbuf, 1 << 20);
		atomic_fetch_add_explicit(&a->info.writes, 1, memory_order_relaxed);
		if (a->state == AOF_RETRYING) {
			log_notice("shard %u: AOF write succeeded again; accepting writes", a->shard_id);
			set_state(a, AOF_OK, 0, "");
			*changed = true;
		}
		return;
	}
	if (a->state == AOF_FAILED)
		return;
	if (res >= 0 || res == -ENOSPC) {
		/* Short or out of space: the records stay in wbuf and the retry
		 * writes them again at good_off, over any partial prefix. */
		if (a->state != AOF_RETRYING)
			log_warning("shard %u: AOF write of %zu bytes at offset %" PRIu64 " %s; "
				    "refusing writes and retrying", a->shard_id, a->wbuf.len,
				    a->good_off, res >= 0 ? "was short" : "failed: no space left");
		set_state(a, AOF_RETRYING, res >= 0 ? -ENOSPC : res,
			  res >= 0 ? "short write" : "write");
		a->retry_at_ms = now_ms + AOF_RETRY_MS;
	} else {
		log_warning("shard %u: AOF write at offset %" PRIu64 " failed: %s; refusing writes "
			    "until restart", a->shard_id, a->good_off, kv_strerror(res));
		set_state(a, AOF_FAILED, res, "write");
	}
	*changed = true;
}

static void fsync_done(struct aof *a, int res, int64_t now_ms, bool *changed)
{
	a->fsync_inflight = false;
	if (res == -ECANCELED)
		return;   /* its linked write failed: handled there */
	aof_note_latency(a, a->fsync_always ? "aof-fsync-always" : "aof-fsync", a->fsync_start_us);
	if (res < 0) {
		if (a->state != AOF_FAILED) {
			log_warning("shard %u: AOF fsync failed: %s; refusing writes until restart "
				    "(a failed fsync is never retried and trusted)", a->shard_id,
				    kv_strerror(res));
			set_state(a, AOF_FAILED, res, "fsync");
		}
		*changed = true;
		return;
	}
	if (a->state == AOF_FAILED)
		return;
	if (a->fsync_covers > a->durable_lsn) {
		/* LSNs of one writer are consecutive: the difference counts records. */
		atomic_fetch_add_explicit(&a->info.records_synced, a->fsync_covers - a->durable_lsn,
					  memory_order_relaxed);
		a->durable_lsn = a->fsync_covers;
		aof_encoder_set_durable(&a->enc, a->durable_lsn);
		*changed = true;
	}
	atomic_fetch_add_explicit(&a->info.fsyncs, 1, memory_order_relaxed);
	atomic_store_explicit(&a->info.durable_lsn, a->durable_lsn, memory_order_release);
	atomic_store_explicit(&a->info.last_fsync_ms, now_ms, memory_order_relaxed);
	if (a->durable_lsn >= a->last_lsn) {
		a->oldest_unsynced_ms = 0;
		atomic_store_explicit(&a->info.oldest_unsynced_ms, 0, memory_order_relaxed);
	}
}

/* Zeros to write ahead of the appends.  Not while the segment may be
 * switched (a rotation or rewrite), and at most one step in flight. */
static void prealloc_done(struct aof *a, int res, int64_t now_ms, bool *changed)
{
	a->ext_inflight = false;
	if (res == (int)a->ext_len) {
		a->alloc_end = a->ext_off + a->ext_len;
		return;
	}
	if (res > 0)
		a->alloc_end = KV_MAX(a->alloc_end, a->ext_off + (uint64_t)res);
	if (res == -EIO) {
		/* The device failed to write blocks of this file: no write to
		 * it is trusted any more, as for an append (design.md §3). */
		if (a->state != AOF_FAILED) {
			log_warning("shard %u: AOF preallocation write at offset %" PRIu64 " failed: "
				    "%s; refusing writes until restart", a->shard_id, a->ext_off,
				    kv_strerror(res));
			set_state(a, AOF_FAILED, res, "preallocation write");
			*changed = true;
		}
		return;
	}
	/* No room (or a short write): appends need none of it.  They go on,
	 * growing the file as they write, and the zeros are tried later. */
	log_warning("shard %u: could not preallocate %" PRIu64 " bytes at offset %" PRIu64 " of "
		    "the AOF segment: %s; appends go on without it, retried in %d s", a->shard_id,
		    a->ext_len, a->ext_off, res >= 0 ? "short write" : kv_strerror(res),
		    AOF_PREALLOC_RETRY_MS / 1000);
	a->ext_retry_at_ms = now_ms + AOF_PREALLOC_RETRY_MS;
}

static void prealloc_turn(struct aof *a, int64_t now_ms)
{
	/* Never written: the zero page.  Aligned for O_DIRECT. */
	static uint8_t zeros[AOF_PREALLOC_MAX] __attribute__((aligned(AOF_DIO_BLOCK)));
	if (!a->prealloc || a->ext_inflight || a->state != AOF_OK || a->seg.fd < 0 ||
	    (a->rw_step && a->rw_kind != RW_KIND_SNAPSHOT) || now_ms < a->ext_retry_at_ms)
		return;
	uint64_t step = dio_up(KV_MIN(a->prealloc, (uint64_t)AOF_PREALLOC_MAX));
	uint64_t pending = a->good_off + a->wbuf.len + a->buf.len;
	if (a->alloc_end >= pending + step / 2)
		return;
	/* Whole blocks after the block of the last pending byte, so that no
	 * page holds both records and these zeros (a buffered write of part
	 * of a page reads the rest of it, which must never race a direct
	 * write of that block), written through the O_DIRECT descriptor when
	 * there is one.  Appends that would reach them wait for them
	 * (aof_turn_end): with half a step still ahead, only a segment's
	 * first step ever makes one wait. */
	a->ext_off = dio_up(KV_MAX(a->alloc_end, pending));
	a->ext_len = step;
	a->ext_inflight = true;
	struct kvio_file *f = a->dseg.fd >= 0 ? &a->dseg : &a->seg;
	if (!a->ring) {
		bool changed = false;
		prealloc_done(a, (int)kvio_pwrite(f, zeros, step, a->ext_off), now_ms, &changed);
		return;
	}
	struct io_uring_sqe *sqe = kvio_ring_sqe(a->ring);
	kvio_prep_pwrite(&a->xop, sqe, NULL, f, zeros, step, a->ext_off);
	aof_ring_tag(a, sqe, &a->xop);
}

static bool rewrite_complete(struct aof *a, struct kvio_op *op, int res);
static void rw_retry(struct aof *a);

bool aof_complete(struct aof *a, struct kvio_op *op, int res, int64_t now_ms)
{
	bool changed = false;
	if (op == &a->dop) {
		dio_open_done(a, kvio_op_complete(op, res));
		return false;
	}
	if (op != &a->wop && op != &a->fop && op != &a->xop)
		return rewrite_complete(a, op, res);
	int r = kvio_op_complete(op, res);
	if (op == &a->wop)
		write_done(a, r, now_ms, &changed);
	else if (op == &a->fop)
		fsync_done(a, r, now_ms, &changed);
	else
		prealloc_done(a, r, now_ms, &changed);
	return changed;
}

/* Move buf into wbuf (unless a failed write awaits its retry in wbuf). */
static void take_buffer(struct aof *a)
{
	if (a->wbuf.len == 0) {
		struct kv_buf t = a->wbuf;
		a->wbuf = a->buf;
		a->buf = t;
		a->buf.len = 0;
		a->wbuf_last_lsn = a->buf_last_lsn;
		a->wbuf_records = a->buf_records;
		a->buf_records = 0;
	}
}

static void start_sync(struct aof *a, bool with_write, bool with_fsync, int64_t now_ms)
{
	bool changed = false;
	if (with_write) {
		a->write_inflight = true;
		a->write_start_us = kv_mono_us();
		ssize_t n = kvio_pwrite(&a->seg, a->wbuf.data, a->wbuf.len, a->good_off);
		write_done(a, (int)n, now_ms, &changed);
		if (a->state != AOF_OK && a->wbuf.len)
			return;
	}
	if (with_fsync) {
		a->fsync_inflight = true;
		a->fsync_covers = a->written_lsn;
		a->last_fsync_start_ms = now_ms;
		a->fsync_start_us = kv_mono_us();
		fsync_done(a, kvio_fdatasync(&a->seg), now_ms, &changed);
	}
}

static void rw_gate_poll(struct aof *a);

/* A direct write makes its own records durable, not records written
 * before it without an fsync (everysec before a policy change): those
 * take the buffered write and its linked fdatasync first. */
static bool direct_ok(const struct aof *a, enum aof_fsync policy)
{
	return policy == AOF_FSYNC_ALWAYS && a->direct_io && a->dseg.fd >= 0 &&
	       !a->fsync_inflight && a->written_lsn == a->durable_lsn;
}

/* The turn's records as whole blocks from the block of good_off, written
 * again from dtail before them and padded with zeros after them (free
 * space by the reader's rule), with RWF_DSYNC through the O_DIRECT
 * descriptor: one ring op, durable when it completes. */
static void direct_write(struct aof *a, int64_t now_ms)
{
	uint64_t blk = dio_down(a->good_off), head = a->good_off - blk;
	size_t n = dio_up(head + a->wbuf.len);
	if (a->dcap < n) {
		free(a->dbuf);
		a->dcap = KV_MAX(n, (size_t)64 << 10);
		a->dbuf = kv_malloc_aligned(AOF_DIO_BLOCK, a->dcap);
	}
	memcpy(a->dbuf, a->dtail, head);
	memcpy(a->dbuf + head, a->wbuf.data, a->wbuf.len);
	memset(a->dbuf + head + a->wbuf.len, 0, n - head - a->wbuf.len);
	a->dlen = n;
	struct io_uring_sqe *sqe = kvio_ring_sqe(a->ring);
	kvio_prep_pwrite_dsync(&a->wop, sqe, NULL, &a->dseg, a->dbuf, n, blk);
	aof_ring_tag(a, sqe, &a->wop);
	a->write_inflight = true;
	a->wdirect = true;
	a->write_start_us = a->fsync_start_us = kv_mono_us();
	a->last_fsync_start_ms = now_ms;
}

void aof_turn_end(struct aof *a, int64_t now_ms, enum aof_fsync policy)
{
	if (aof_rewrite_waits(a)) {
		if (a->state != AOF_FAILED) {
			rw_gate_poll(a);
			return;
		}
		/* Failed meanwhile (aof_fail): the rewrite ends uncommitted. */
		kvio_close(&a->rw_seg);
		a->rw_step = 0;
		a->rw_gate = NULL;
	}
	if (a->rw_parked) {
		/* Appends wait too: writes are refused until the step is done. */
		if (!a->rw_wait_cancel && now_ms >= a->rw_retry_at_ms && a->state != AOF_FAILED)
			rw_retry(a);
		return;
	}
	if (a->state == AOF_FAILED || a->seg.fd < 0 ||
	    (a->rw_step && a->rw_kind != RW_KIND_SNAPSHOT))
		return;
	if (atomic_load_explicit(&a->fsync_asked, memory_order_relaxed)) {
		atomic_store_explicit(&a->fsync_asked, false, memory_order_relaxed);
		a->fsync_wanted = true;
	}
	prealloc_turn(a, now_ms);
	if (a->write_inflight)
		return;   /* one write at a time: the next one carries the whole turn */
	if (a->ext_inflight && dio_up(a->good_off + a->wbuf.len + a->buf.len) > a->ext_off)
		return;   /* it would reach zeros still in flight: after them */
	bool retry = a->state == AOF_RETRYING;
	if (retry && now_ms < a->retry_at_ms)
		return;
	if (!retry)
		take_buffer(a);
	bool write = a->wbuf.len > 0;
	bool fsync = false;
	if (!a->fsync_inflight) {
		uint64_t target = write ? a->wbuf_last_lsn : a->written_lsn;
		bool behind = target > a->durable_lsn;
		if (behind && (policy == AOF_FSYNC_ALWAYS || a->fsync_wanted))
			fsync = true;
		else if (behind && policy == AOF_FSYNC_EVERYSEC &&
			 now_ms - a->last_fsync_start_ms >= 1000)
			fsync = true;
		/* everysec fsyncs what is written; a write in this batch is
		 * covered by linking the fsync after it. */
	} else if (policy == AOF_FSYNC_EVERYSEC && now_ms - a->last_fsync_start_ms >= 2000) {
		/* Redis's aof_delayed_fsync: an fsync was due while one still ran. */
		atomic_fetch_add_explicit(&a->info.delayed_fsync, 1, memory_order_relaxed);
		a->last_fsync_start_ms = now_ms;
	}
	if (!write && !fsync)
		return;
	if (fsync) {
		a->fsync_wanted = false;
		a->fsync_always = policy == AOF_FSYNC_ALWAYS;
	}
	if (!a->ring) {
		start_sync(a, write, fsync, now_ms);
		return;
	}
	if (write && direct_ok(a, policy)) {
		direct_write(a, now_ms);
		atomic_store_explicit(&a->info.buffer_length, a->buf.len + a->wbuf.len,
				      memory_order_relaxed);
		return;
	}
	/* Both SQEs of a linked chain must reach the kernel in one submission. */
	if (write && fsync && io_uring_sq_space_left(a->ring) < 2)
		io_uring_submit(a->ring);
	struct kvio_op *prev = NULL;
	if (write) {
		struct io_uring_sqe *sqe = kvio_ring_sqe(a->ring);
		kvio_prep_pwrite(&a->wop, sqe, NULL, &a->seg, a->wbuf.data, a->wbuf.len, a->good_off);
		aof_ring_tag(a, sqe, &a->wop);
		a->write_inflight = true;
		a->write_start_us = kv_mono_us();
		prev = &a->wop;
	}
	if (fsync) {
		struct io_uring_sqe *sqe = kvio_ring_sqe(a->ring);
		kvio_prep_fdatasync(&a->fop, sqe, prev, &a->seg);
		aof_ring_tag(a, sqe, &a->fop);
		a->fsync_inflight = true;
		a->fsync_covers = write ? a->wbuf_last_lsn : a->written_lsn;
		a->last_fsync_start_ms = now_ms;
		a->fsync_start_us = kv_mono_us();
	}
	atomic_store_explicit(&a->info.buffer_length, a->buf.len + a->wbuf.len,
			      memory_order_relaxed);
}

int aof_flush_sync(struct aof *a)
{
	if (a->seg.fd < 0)
		return 0;
	if (a->state == AOF_FAILED)
		return a->err;
	/* In-flight ring ops are retired by the caller first (reactor fini
	 * drains the ring). */
	take_buffer(a);
	int64_t now = kv_time_ms();
	if (a->wbuf.len) {
		start_sync(a, true, false, now);
		if (a->wbuf.len)
			return a->err ? a->err : -EIO;
		take_buffer(a);
		if (a->wbuf.len) {
			start_sync(a, true, false, now);
			if (a->wbuf.len)
				return a->err ? a->err : -EIO;
		}
	}
	if (a->written_lsn > a->durable_lsn || a->fsync_wanted)
		start_sync(a, false, true, now);
	return a->state == AOF_FAILED ? a->err : 0;
}

/* ------------------------------------------------------------------ */
/* rewrite: the keyspace into a fresh segment, one manifest commit */

enum {
	RW_NONE = 0,
	RW_WRITE_TAIL,    /* rotate: WRITE the old segment's last records -> FDATASYNC */
	RW_SYNC_TAIL,     /* rotate, nothing left to write: FDATASYNC the old segment */
	RW_OPEN_SEG,      /* OPENAT the new segment */
	RW_WRITE_SEG,     /* WRITE its content -> FDATASYNC */
	RW_OPEN_MAN,      /* OPENAT manifest.tmp */
	RW_WRITE_MAN,     /* WRITE the manifest -> FSYNC */
	RW_RENAME,        /* RENAMEAT over the manifest -> directory FSYNC */
	RW_SYNC_AGAIN,    /* no ring: the whole sequence, parked after ENOSPC */
	RW_GATE,          /* the segment is durable; the commit waits for rw_gate */
};

#define RW_RECORD_BYTES (1 << 20)

struct rw_dump {
	struct aof_encoder *enc;
	struct kv_buf *out;
	struct kv_buf payload;
	int64_t now_ms;
	uint32_t db;          /* the database being dumped */
	size_t base_len;      /* payload bytes before its first key's commands */
};

/* A payload of the dump, in the database being dumped. */
static void rw_payload_begin(struct rw_dump *d)
{
	d->payload.len = 0;
	aof_payload_begin(&d->payload, d->now_ms);
	if (d->db != 0) {
		char num[16];
		int n = snprintf(num, sizeof(num), "%u", d->db);
		struct kv_slice sel[2] = { { "SELECT", 6 }, { num, (size_t)n } };
		aof_payload_append(&d->payload, 2, sel);
	}
	d->base_len = d->payload.len;
}

static void rw_flush_payload(struct rw_dump *d)
{
	if (d->payload.len > d->base_len) {
		int rc = aof_encoder_payload(d->enc, d->out, d->payload.data, d->payload.len, NULL);
		kv_assert(rc == 0);   /* RW_RECORD_BYTES plus one command is far below the limit */
	}
	rw_payload_begin(d);
}

static void rw_emit(void *arg, int argc, const struct kv_slice *argv)
{
	struct rw_dump *d = arg;
	aof_payload_append(&d->payload, argc, argv);
	if (d->payload.len >= RW_RECORD_BYTES)
		rw_flush_payload(d);
}

static void rw_entry(void *arg, const struct kv_entry *e)
{
	keydump_entry(e, rw_emit, arg);
}

static void rw_fail(struct aof *a, int err, const char *what)
{
	log_warning("shard %u: AOF rewrite failed (%s): %s; refusing writes until restart "
		    "(the previous files are untouched)", a->shard_id, what, kv_strerror(err));
	set_state(a, AOF_FAILED, err, what);
	kvio_close(&a->rw_seg);
	kvio_close(&a->rw_man);
	a->rw_step = RW_NONE;
	a->rw_parked = false;
	a->rw_resume = false;
	a->rw_gate = NULL;
}

static const char *rw_kind_name(const struct aof *a)
{
	return a->rw_kind == RW_KIND_SNAPSHOT ? "snapshot commit"
	       : a->rw_kind == RW_KIND_ROTATE ? "segment rotation" : "rewrite";
}

/* ENOSPC, or a short write (a filling disk), on a step whose data the retry
 * writes again whole: park the step, refuse writes meanwhile, and issue it
 * again every AOF_RETRY_MS (aof_turn_end) until the disk has room. */
static void rw_park(struct aof *a, int err, bool follower_out, int64_t now_ms)
{
	if (!a->rw_parked)
		log_warning("shard %u: AOF %s step failed: %s; refusing writes and retrying "
			    "every %d ms (the previous files are untouched)", a->shard_id,
			    rw_kind_name(a), kv_strerror(err), AOF_RETRY_MS);
	set_state(a, AOF_RETRYING, err, rw_kind_name(a));
	a->rw_parked = true;
	a->rw_resume = true;
	a->rw_wait_cancel = follower_out;
	a->rw_retry_at_ms = now_ms + AOF_RETRY_MS;
}

static bool rw_retryable(const struct kvio_op *op, int r, size_t want)
{
	if (op->kind == KVIO_WRITE)
		return r == -ENOSPC || (r >= 0 && (size_t)r < want);
	return (op->kind == KVIO_OPEN || op->kind == KVIO_RENAME) && r == -ENOSPC;
}

static struct io_uring_sqe *rw_sqes(struct aof *a, int n)
{
	if (io_uring_sq_space_left(a->ring) < (unsigned)n)
		io_uring_submit(a->ring);
	return kvio_ring_sqe(a->ring);
}

static void rw_prep_open(struct aof *a, struct kvio_file *f, const char *path)
{
	struct io_uring_sqe *sqe = rw_sqes(a, 1);
	kvio_prep_open(&a->rw_op[0], sqe, NULL, f, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	aof_ring_tag(a, sqe, &a->rw_op[0]);
}

static void rw_prep_write_sync(struct aof *a, struct kvio_file *f, const struct kv_buf *b,
			       bool datasync)
{
	struct io_uring_sqe *sqe = rw_sqes(a, 2);
	kvio_prep_pwrite(&a->rw_op[0], sqe, NULL, f, b->data, b->len, 0);
	aof_ring_tag(a, sqe, &a->rw_op[0]);
	sqe = kvio_ring_sqe(a->ring);
	if (datasync)
		kvio_prep_fdatasync(&a->rw_op[1], sqe, &a->rw_op[0], f);
	else
		kvio_prep_fsync(&a->rw_op[1], sqe, &a->rw_op[0], f);
	aof_ring_tag(a, sqe, &a->rw_op[1]);
}

static void rw_prep_write_at(struct aof *a, struct kvio_file *f, const struct kv_buf *b,
			     uint64_t off)
{
	struct io_uring_sqe *sqe = rw_sqes(a, 2);
	kvio_prep_pwrite(&a->rw_op[0], sqe, NULL, f, b->data, b->len, off);
	aof_ring_tag(a, sqe, &a->rw_op[0]);
	sqe = kvio_ring_sqe(a->ring);
	kvio_prep_fdatasync(&a->rw_op[1], sqe, &a->rw_op[0], f);
	aof_ring_tag(a, sqe, &a->rw_op[1]);
}

static void rw_prep_rename(struct aof *a)
{
	struct io_uring_sqe *sqe = rw_sqes(a, 2);
	kvio_prep_rename(&a->rw_op[0], sqe, NULL, a->rw_man_tmp, a->rw_man_path);
	aof_ring_tag(a, sqe, &a->rw_op[0]);
	sqe = kvio_ring_sqe(a->ring);
	kvio_prep_dirsync(&a->rw_op[1], sqe, &a->rw_op[0], &a->dirf);
	aof_ring_tag(a, sqe, &a->rw_op[1]);
}

static int rewrite_sync(struct aof *a);
static int rewrite_sync_finish(struct aof *a, int rc, bool synced_old);

/* Issue a parked step again (see rw_park). */
static void rw_retry(struct aof *a)
{
	a->rw_parked = false;
	switch (a->rw_step) {
	case RW_WRITE_TAIL:
		rw_prep_write_at(a, &a->seg, &a->rw_tail, a->good_off);
		break;
	case RW_OPEN_SEG:
		rw_prep_open(a, &a->rw_seg, a->rw_seg_path);
		break;
	case RW_WRITE_SEG:
		rw_prep_write_sync(a, &a->rw_seg, &a->rw_content, true);
		break;
	case RW_OPEN_MAN:
		rw_prep_open(a, &a->rw_man, a->rw_man_tmp);
		break;
	case RW_WRITE_MAN:
		rw_prep_write_sync(a, &a->rw_man, &a->rw_manifest, false);
		break;
	case RW_RENAME:
		rw_prep_rename(a);
		break;
	case RW_SYNC_AGAIN:
		a->rw_step = RW_NONE;
		(void)rewrite_sync(a);
		break;
	default:
		kv_assert(!"a parked rewrite step that cannot be retried");
	}
}

/* The commit is durable: switch appends to the new segment, drop the old. */
static void rw_unlink_old(struct aof *a);

static void rw_commit(struct aof *a)
{
	if (a->state == AOF_RETRYING && a->rw_resume) {
		log_notice("shard %u: AOF %s succeeded again; accepting writes", a->shard_id,
			   rw_kind_name(a));
		set_state(a, AOF_OK, 0, "");
	}
	a->rw_resume = false;
	a->rw_gate = NULL;
	manifest_free(&a->man);
	a->man = a->rw_next;
	memset(&a->rw_next, 0, sizeof(a->rw_next));
	atomic_fetch_add_explicit(&a->info.manifest_commits, 1, memory_order_release);
	kv_buf_free(&a->rw_manifest);
	if (a->rw_kind == RW_KIND_SNAPSHOT) {
		a->rw_step = RW_NONE;
		log_notice("shard %u: snapshot committed (manifest generation %" PRIu64 ")",
			   a->shard_id, a->man.generation);
		rw_unlink_old(a);
		return;
	}
	kvio_close(&a->seg);
	kvio_close(&a->dseg);
	a->seg = a->rw_seg;
	a->rw_seg.fd = -1;
	a->rw_seg.path = NULL;
	free(a->seg_name);
	a->seg_name = a->rw_seg_name;
	a->rw_seg_name = NULL;
	a->hdr = a->rw_hdr;
	a->good_off = a->alloc_end = a->rw_content.len;
	if (a->dtail) {
		dtail_from(a, a->rw_content.data, a->rw_content.len);
		dio_reopen(a);
	}
	a->written_lsn = a->durable_lsn = a->rw_last_lsn;
	kv_buf_free(&a->rw_content);
	kv_buf_free(&a->rw_manifest);
	a->rw_step = RW_NONE;
	atomic_store_explicit(&a->info.current_size, a->good_off, memory_order_relaxed);
	atomic_store_explicit(&a->info.base_size, a->good_off, memory_order_relaxed);
	atomic_store_explicit(&a->info.durable_lsn, a->durable_lsn, memory_order_release);
	if (a->rw_kind == RW_KIND_REWRITE)
		log_notice("shard %u: AOF rewritten into %s (%" PRIu64 " bytes, LSN up to %" PRIu64
			   ")", a->shard_id, a->seg_name, a->good_off, a->rw_last_lsn);
	rw_unlink_old(a);
}

/* Files the manifest no longer names: unlink through the ring (without one,
 * the synchronous path unlinks them). */
static void rw_unlink_old(struct aof *a)
{
	for (int i = 0; a->ring && i < 4; i++) {
		if (!a->rw_unlink_path[i][0] || a->rw_unlink_busy[i])
			continue;
		struct io_uring_sqe *sqe = rw_sqes(a, 1);
		kvio_prep_unlink(&a->rw_unlink[i], sqe, NULL, a->rw_unlink_path[i]);
		aof_ring_tag(a, sqe, &a->rw_unlink[i]);
		a->rw_unlink_busy[i] = true;
	}
}

static bool rewrite_complete(struct aof *a, struct kvio_op *op, int res)
{
	int r = kvio_op_complete(op, res);
	if (op >= &a->rw_unlink[0] && op <= &a->rw_unlink[3]) {
		int i = (int)(op - &a->rw_unlink[0]);
		if (r < 0 && r != -ENOENT)
			log_warning("shard %u: could not remove %s: %s", a->shard_id,
				    a->rw_unlink_path[i], kv_strerror(r));
		a->rw_unlink_busy[i] = false;
		a->rw_unlink_path[i][0] = '\0';
		return false;
	}
	if (a->state == AOF_FAILED && a->rw_step == RW_NONE)
		return false;
	if (a->rw_parked) {
		/* The cancelled follower of the parked step. */
		a->rw_wait_cancel = false;
		return false;
	}
	/* Two-op steps finish on their second op (linked: it fails if the first did). */
	bool first = op == &a->rw_op[0];
	switch (a->rw_step) {
	case RW_WRITE_TAIL:
		if (first) {
			if (r != (int)a->rw_tail.len)
				break;
			return false;
		}
		if (r < 0)
			break;
		dtail_note(a, a->rw_tail.data, a->rw_tail.len);
		a->good_off += a->rw_tail.len;
		a->written_lsn = a->durable_lsn = a->rw_tail_last;
		aof_encoder_set_durable(&a->enc, a->durable_lsn);
		a->rw_tail.len = 0;
		a->rw_step = RW_OPEN_SEG;
		rw_prep_open(a, &a->rw_seg, a->rw_seg_path);
		return true;
	case RW_SYNC_TAIL:
		if (r < 0)
			break;
		a->durable_lsn = a->written_lsn;
		aof_encoder_set_durable(&a->enc, a->durable_lsn);
		a->rw_step = RW_OPEN_SEG;
		rw_prep_open(a, &a->rw_seg, a->rw_seg_path);
		return true;
	case RW_OPEN_SEG:
		if (r < 0)
			break;
		a->rw_step = RW_WRITE_SEG;
		rw_prep_write_sync(a, &a->rw_seg, &a->rw_content, true);
		return false;
	case RW_WRITE_SEG:
		if (first) {
			if (r != (int)a->rw_content.len)
				break;
			return false;
		}
		if (r < 0)
			break;
		if (a->rw_gate) {
			a->rw_step = RW_GATE;   /* aof_turn_end asks the gate */
			return true;
		}
		a->rw_step = RW_OPEN_MAN;
		rw_prep_open(a, &a->rw_man, a->rw_man_tmp);
		return false;
	case RW_OPEN_MAN:
		if (r < 0)
			break;
		a->rw_step = RW_WRITE_MAN;
		rw_prep_write_sync(a, &a->rw_man, &a->rw_manifest, false);
		return false;
	case RW_WRITE_MAN: {
		if (first) {
			if (r != (int)a->rw_manifest.len)
				break;
			return false;
		}
		if (r < 0)
			break;
		kvio_close(&a->rw_man);
		a->rw_step = RW_RENAME;
		rw_prep_rename(a);
		return false;
	}
	case RW_RENAME:
		if (first) {
			if (r < 0)
				break;
			return false;
		}
		if (r < 0)
			break;
		rw_commit(a);
		return true;
	default:
		return false;
	}
	/* A linked follower of the failed op still completes (cancelled). */
	bool two = first && (a->rw_step == RW_WRITE_SEG || a->rw_step == RW_WRITE_MAN ||
			     a->rw_step == RW_RENAME || a->rw_step == RW_WRITE_TAIL);
	if (rw_retryable(op, r, op->len)) {
		rw_park(a, r < 0 ? r : -ENOSPC, two, kv_time_ms());
		return true;
	}
	if (two) {
		rw_fail(a, r < 0 ? r : -EIO, "write");
		return true;
	}
	rw_fail(a, r < 0 ? r : -EIO, "rewrite");
	return true;
}

/* The same steps without a ring (epoll reactor). */
static int rewrite_sync(struct aof *a)
{
	char path[4200];
	int rc = 0;
	bool synced_old = false;   /* the failure is an fsync of unrewritten data */
	if (!a->rw_tail.len && a->rw_kind == RW_KIND_ROTATE && a->durable_lsn < a->written_lsn) {
		rc = kvio_fdatasync(&a->seg);
		synced_old = rc < 0;
		if (rc == 0) {
			a->durable_lsn = a->written_lsn;
			aof_encoder_set_durable(&a->enc, a->durable_lsn);
		}
	}
	if (rc == 0 && a->rw_tail.len) {
		ssize_t n = kvio_pwrite(&a->seg, a->rw_tail.data, a->rw_tail.len, a->good_off);
		rc = n == (ssize_t)a->rw_tail.len ? kvio_fdatasync(&a->seg)
						  : (n < 0 ? (int)n : -ENOSPC);
		if (rc == 0) {
			dtail_note(a, a->rw_tail.data, a->rw_tail.len);
			a->good_off += a->rw_tail.len;
			a->written_lsn = a->durable_lsn = a->rw_tail_last;
			a->rw_tail.len = 0;
		}
	}
	if (rc == 0 && a->rw_kind != RW_KIND_SNAPSHOT) {
		snprintf(path, sizeof(path), "%s/%s", a->dir, a->rw_seg_name);
		rc = kvio_open(&a->rw_seg, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	}
	if (rc == 0 && a->rw_kind != RW_KIND_SNAPSHOT) {
		ssize_t n = kvio_pwrite(&a->rw_seg, a->rw_content.data, a->rw_content.len, 0);
		rc = n == (ssize_t)a->rw_content.len ? kvio_fdatasync(&a->rw_seg)
						     : (n < 0 ? (int)n : -ENOSPC);
	}
	if (rc == 0 && a->rw_gate && a->rw_kind == RW_KIND_REWRITE) {
		a->rw_step = RW_GATE;   /* aof_turn_end asks the gate, then rewrite_sync_finish */
		return 0;
	}
	return rewrite_sync_finish(a, rc, synced_old);
}

/* The manifest commit of rewrite_sync (rc: how the steps before it went). */
static int rewrite_sync_finish(struct aof *a, int rc, bool synced_old)
{
	char name[64];
	manifest_name(name, sizeof(name), a->shard_id);
	if (rc == 0)
		rc = manifest_write_atomic(a->dir, name, a->rw_manifest.data, a->rw_manifest.len);
	if (rc == -ENOSPC && !synced_old) {
		/* Each try writes every file again whole (the tail at its
		 * offset, the new segment and the manifest from scratch), so the
		 * next try's fsyncs prove what they cover.  A failed fsync of
		 * the old segment's earlier records is not retried. */
		kvio_close(&a->rw_seg);
		a->rw_step = RW_SYNC_AGAIN;
		rw_park(a, rc, false, kv_time_ms());
		return 0;
	}
	if (rc < 0) {
		rw_fail(a, rc, "rewrite");
		return rc;
	}
	rw_commit(a);
	for (int i = 0; i < 4; i++) {
		if (a->rw_unlink_path[i][0]) {
			int r = kvio_unlink(a->rw_unlink_path[i]);
			/* As on the ring: the commit stands, the file is left over
			 * (the next recovery removes what no manifest names). */
			if (r < 0 && r != -ENOENT)
				log_warning("shard %u: could not remove %s: %s", a->shard_id,
					    a->rw_unlink_path[i], kv_strerror(r));
		}
		a->rw_unlink_path[i][0] = '\0';
	}
	return 0;
}

/* RW_GATE: the new segment is durable; commit once the gate says so. */
static void rw_gate_poll(struct aof *a)
{
	int r = a->rw_gate(a->rw_gate_arg);
	if (r == 0)
		return;
	if (r == 2) {
		/* Abandoned (appendonly went off again): nothing was committed,
		 * the previous files stay; the next turn-on rewrites afresh. */
		kvio_close(&a->rw_seg);
		(void)kvio_unlink(a->rw_seg_path);
		a->rw_step = RW_NONE;
		a->rw_gate = NULL;
		log_notice("shard %u: AOF rewrite abandoned (appendonly was turned off again)",
			   a->shard_id);
		return;
	}
	if (r < 0) {
		rw_fail(a, r, "turning appendonly on: the shards' rewrites must commit together, "
			"and not every shard's could");
		return;
	}
	if (!a->ring) {
		a->rw_step = RW_NONE;
		(void)rewrite_sync_finish(a, 0, false);
		return;
	}
	a->rw_step = RW_OPEN_MAN;
	rw_prep_open(a, &a->rw_man, a->rw_man_tmp);
}

/* The segment of the next generation, holding LSNs after start_lsn: its
 * name and path, its header (the start of rw_content) and the encoder that
 * frames its records from now on.  Returns the generation. */
static uint64_t rw_segment_begin(struct aof *a, uint64_t start_lsn, int64_t now_ms)
{
	uint64_t gen = a->man.entries[a->man.nentries - 1].generation + 1;
	char seg[64];
	manifest_segment_name(seg, sizeof(seg), a->shard_id, gen);
	free(a->rw_seg_name);
	a->rw_seg_name = kv_strndup(seg, strlen(seg));
	snprintf(a->rw_seg_path, sizeof(a->rw_seg_path), "%s/%s", a->dir, seg);
	aof_header_init(&a->rw_hdr, a->ds.id, a->shard_id, a->nshards, gen, start_lsn, now_ms);
	a->rw_content.len = 0;
	uint8_t h[AOF_HEADER_SIZE];
	aof_header_encode(&a->rw_hdr, h);
	kv_buf_append(&a->rw_content, h, sizeof(h));
	aof_encoder_init(&a->enc, &a->rw_hdr, 0);
	aof_encoder_set_durable(&a->enc, a->durable_lsn);
	return gen;
}

/* The next manifest generation, starting from the current entries (keep)
 * or from none, and the paths its commit writes and renames. */
static void rw_manifest_begin(struct aof *a, bool keep, int64_t now_ms)
{
	manifest_free(&a->rw_next);
	memset(&a->rw_next, 0, sizeof(a->rw_next));
	if (keep) {
		a->rw_next = a->man;
		size_t bytes = a->man.nentries * sizeof(*a->man.entries);
		a->rw_next.entries = kv_malloc(bytes);
		memcpy(a->rw_next.entries, a->man.entries, bytes);
	} else {
		memcpy(a->rw_next.dataset_id, a->ds.id, sizeof(a->ds.id));
		a->rw_next.shard_id = a->shard_id;
		a->rw_next.shard_count = a->nshards;
	}
	a->rw_next.generation = a->man.generation + 1;
	a->rw_next.created_ms = now_ms;
	char name[64];
	manifest_name(name, sizeof(name), a->shard_id);
	snprintf(a->rw_man_path, sizeof(a->rw_man_path), "%s/%s", a->dir, name);
	snprintf(a->rw_man_tmp, sizeof(a->rw_man_tmp), "%s/%s.tmp", a->dir, name);
}

/* Encode the next manifest; its commit retires (unlinks) the first `retire`
 * files the current one names (at most four: the next recovery removes any
 * file no manifest names). */
static void rw_manifest_end(struct aof *a, uint32_t retire)
{
	a->rw_manifest.len = 0;
	manifest_encode(&a->rw_next, &a->rw_manifest);
	int n = 0;
	for (uint32_t i = 0; i < retire && i < a->man.nentries && n < 4; i++)
		snprintf(a->rw_unlink_path[n++], sizeof(a->rw_unlink_path[0]), "%s/%s", a->dir,
			 a->man.entries[i].name);
	for (int i = n; i < 4; i++)
		a->rw_unlink_path[i][0] = '\0';
}

void aof_rewrite_gate(struct aof *a, int (*gate)(void *arg), void *arg)
{
	a->rw_gate = gate;
	a->rw_gate_arg = arg;
}

bool aof_rewrite_waits(const struct aof *a)
{
	return a->rw_step == RW_GATE;
}

const struct kv_buf *aof_rewrite_manifest(const struct aof *a)
{
	return &a->rw_manifest;
}

int aof_rewrite_start(struct aof *a, struct kv_dbs *dbs, int64_t now_ms)
{
	kv_assert(aof_idle(a) && a->man.nentries > 0);
	if (a->state == AOF_FAILED) {
		/* Writes are refused until a restart, and a commit that failed
		 * after its rename may have left a manifest on disk that names
		 * the generation this rewrite would write: touch nothing. */
		log_warning("shard %u: not rewriting the AOF: it failed earlier (%s); restart "
			    "to resume", a->shard_id, kv_strerror(a->err));
		a->rw_gate = NULL;
		return a->err ? a->err : -EIO;
	}
	a->rw_kind = RW_KIND_REWRITE;
	/* Records not yet written belong to the old segment, which is being
	 * replaced: the dump below holds their effects. */
	a->buf.len = a->wbuf.len = 0;
	a->buf_records = a->wbuf_records = 0;
	if (a->state == AOF_RETRYING)
		set_state(a, AOF_OK, 0, "");

	uint64_t gen = rw_segment_begin(a, a->last_lsn, now_ms);
	struct rw_dump d = { .enc = &a->enc, .out = &a->rw_content, .now_ms = now_ms };
	for (uint32_t i = 0; i < dbs->n; i++) {
		if (db_size(dbs->db[i]) == 0)
			continue;
		d.db = i;
		rw_payload_begin(&d);
		uint64_t cursor = 0;
		do {
			cursor = db_scan(dbs->db[i], cursor, now_ms, rw_entry, &d);
		} while (cursor);
		rw_flush_payload(&d);
	}
	kv_buf_free(&d.payload);
	a->rw_last_lsn = a->enc.last_lsn;
	a->last_lsn = a->buf_last_lsn = a->enc.last_lsn;
	atomic_store_explicit(&a->info.last_lsn, a->last_lsn, memory_order_relaxed);
	if (a->rw_last_lsn > a->durable_lsn && a->oldest_unsynced_ms == 0)
		a->oldest_unsynced_ms = now_ms;

	/* The manifest that names the new segment only. */
	rw_manifest_begin(a, false, now_ms);
	manifest_add(&a->rw_next, MANIFEST_AOF, gen, a->rw_hdr.lsn, a->rw_seg_name);
	rw_manifest_end(a, a->man.nentries);
	log_notice("shard %u: rewriting the AOF into %s (%zu bytes of keyspace)", a->shard_id,
		   a->rw_seg_name, a->rw_content.len);
	if (!a->ring)
		return rewrite_sync(a);
	a->rw_step = RW_OPEN_SEG;
	rw_prep_open(a, &a->rw_seg, a->rw_seg_path);
	return 0;
}

/* ------------------------------------------------------------------ */
/* offline: load a directory, write a fresh one (kevy-dump --replay) */

int aof_dataset_read(const char *dir, struct dataset_info *ds, char *err, size_t err_cap)
{
	char path[4096], msg[200];
	struct kv_buf b = KV_BUF_INIT;
	path_join(path, sizeof(path), dir, DATASET_FILE);
	int rc = manifest_read_file(path, 4096, &b);
	if (rc == 0)
		rc = dataset_decode((const uint8_t *)b.data, b.len, ds, msg, sizeof(msg));
	else
		snprintf(msg, sizeof(msg), "%s", kv_strerror(rc));
	kv_buf_free(&b);
	if (rc < 0)
		snprintf(err, err_cap, "%s: %s", path, msg);
	return rc;
}

int aof_load_dir_skip(const char *dir, uint64_t until_lsn, int64_t until_ms, aof_report_fn fn,
		      void *arg, const struct aof_skip *skips, struct kv_dbs **dbs_out,
		      uint32_t *nshards_out, char *err, size_t err_cap)
{
	struct dataset_info ds;
	int rc = aof_dataset_read(dir, &ds, err, err_cap);
	if (rc < 0)
		return rc;
	struct kv_dbs *dbs = kv_calloc(ds.shard_count, sizeof(*dbs));
	int worst = 0;
	for (uint32_t i = 0; i < ds.shard_count && worst == 0; i++) {
		struct aof a;
		uint64_t lsn, end;
		bool sealed;
		struct file_header hdr;
		/* However many databases the files name. */
		dbs_init(&dbs[i], 1);
		dbs[i].growable = true;
		scan_init(&a, dir, &ds, i, ds.shard_count);
		a.check = true;           /* read only: a torn tail is not cut */
		a.until_lsn = until_lsn;
		a.until_ms = until_ms;
		if (skips) {
			a.skip = skips[i].lsns;
			a.nskip = skips[i].n;
		}
		a.report = fn;
		a.report_arg = arg;
		rc = shard_scan(&a, &dbs[i], err, err_cap, &lsn, &end, &sealed, &hdr);
		if (rc < 0 && rc != KV_ETORN)
			worst = rc;
		aof_close(&a);
	}
	if (worst < 0) {
		for (uint32_t i = 0; i < ds.shard_count; i++)
			dbs_free(&dbs[i]);
		free(dbs);
		return worst;
	}
	*dbs_out = dbs;
	*nshards_out = ds.shard_count;
	return 0;
}

struct snap_out {
	struct snap_writer w;
	struct kvio_file f;
	uint64_t off;
	int rc;
};

static void snap_out_drain(struct snap_out *o)
{
	struct kv_buf piece = KV_BUF_INIT;
	while (snap_writer_take_block(&o->w, &piece)) {
		if (o->rc == 0) {
			ssize_t n = kvio_pwrite(&o->f, piece.data, piece.len, o->off);
			if (n != (ssize_t)piece.len)
				o->rc = n < 0 ? (int)n : -ENOSPC;
			o->off += piece.len;
		}
	}
	kv_buf_free(&piece);
}

static void snap_out_notify(void *arg, struct snap_writer *w)
{
	(void)w;
	snap_out_drain(arg);
}

struct reshard_walk {
	struct snap_out *outs;
	uint32_t n;
	uint32_t db;          /* the database being walked */
};

static void reshard_entry(void *arg, const struct kv_entry *e)
{
	struct reshard_walk *rw = arg;
	struct kv_slice k = entry_key(e);
	struct snap_out *o = &rw->outs[kv_key_shard(k.ptr, k.len, rw->n)];
	snap_writer_set_db(&o->w, rw->db);
	snap_writer_add_entry(&o->w, e);
	snap_out_drain(o);
}

/* Writes a new dataset's shard files into dir: per shard a snapshot of
 * generation gen (cut LSN 0) and an empty segment of that generation, each
 * fsynced.  Fills *ds (a new id) and mans[i] (shard i's manifest naming
 * both, encoded, not committed).  Keys go to shards by the server's own
 * placement and keep their databases. */
static int write_dataset_files(const char *dir, uint32_t nshards, uint64_t gen,
			       struct kv_dbs *src, uint32_t nsrc, struct dataset_info *ds,
			       struct kv_buf *mans, char *err, size_t err_cap)
{
	char path[4096];
	memset(ds, 0, sizeof(*ds));
	ds->shard_count = nshards;
	ds->created_ms = kv_time_ms();
	do {
		if (getrandom(ds->id, sizeof(ds->id), 0) != (ssize_t)sizeof(ds->id)) {
			snprintf(err, err_cap, "getrandom: %s", strerror(errno));
			return -errno;
		}
	} while (ds->id[0] == 0 && memcmp(ds->id, ds->id + 1, sizeof(ds->id) - 1) == 0);
	struct snap_out *outs = kv_calloc(nshards, sizeof(*outs));
	int rc = 0;
	for (uint32_t i = 0; i < nshards; i++)
		outs[i].f.fd = -1;
	for (uint32_t i = 0; i < nshards; i++) {
		char name[64];
		snprintf(name, sizeof(name), "kevy-s%u-g%" PRIu64 ".snap", i, gen);
		path_join(path, sizeof(path), dir, name);
		rc = kvio_open(&outs[i].f, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (rc < 0) {
			snprintf(err, err_cap, "%s: %s", path, kv_strerror(rc));
			goto out;
		}
		struct file_header h;
		snap_header_init(&h, ds->id, i, nshards, gen, 0, ds->created_ms);
		snap_writer_init(&outs[i].w, &h, 0, 0);
		snap_writer_set_notify(&outs[i].w, snap_out_notify, &outs[i]);
	}
	struct reshard_walk rw = { outs, nshards, 0 };
	for (uint32_t s = 0; s < nsrc; s++) {
		for (uint32_t d = 0; d < src[s].n; d++) {
			uint64_t cursor = 0;
			rw.db = d;
			do {
				cursor = db_scan(src[s].db[d], cursor, 0, reshard_entry, &rw);
			} while (cursor);
		}
	}
	for (uint32_t i = 0; i < nshards && rc == 0; i++) {
		rc = snap_writer_finish(&outs[i].w);
		snap_out_drain(&outs[i]);
		if (rc == 0)
			rc = outs[i].rc;
		if (rc == 0)
			rc = kvio_fsync(&outs[i].f);
		if (rc < 0) {
			snprintf(err, err_cap, "shard %u's snapshot in %s: %s", i, dir, kv_strerror(rc));
			goto out;
		}
	}
	for (uint32_t i = 0; i < nshards; i++) {
		char seg[64], snap[64];
		struct file_header h;
		manifest_segment_name(seg, sizeof(seg), i, gen);
		snprintf(snap, sizeof(snap), "kevy-s%u-g%" PRIu64 ".snap", i, gen);
		rc = segment_create(dir, seg, ds, i, gen, 0, &h);
		if (rc < 0) {
			snprintf(err, err_cap, "shard %u's segment in %s: %s", i, dir, kv_strerror(rc));
			goto out;
		}
		struct manifest m = { .shard_id = i, .shard_count = nshards, .generation = gen,
				      .created_ms = ds->created_ms };
		memcpy(m.dataset_id, ds->id, sizeof(m.dataset_id));
		manifest_add(&m, MANIFEST_SNAPSHOT, gen, 0, snap);
		manifest_add(&m, MANIFEST_AOF, gen, 0, seg);
		manifest_encode(&m, &mans[i]);
		manifest_free(&m);
	}
out:
	for (uint32_t i = 0; i < nshards; i++) {
		if (outs[i].w.cctx || outs[i].w.head)
			snap_writer_free(&outs[i].w);
		kvio_close(&outs[i].f);
	}
	free(outs);
	return rc;
}

static void free_bufs(struct kv_buf *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		kv_buf_free(&b[i]);
	free(b);
}

int aof_write_dataset(const char *out_dir, uint32_t nshards, struct kv_dbs *src, uint32_t nsrc,
		      char *err, size_t err_cap)
{
	char path[4096];
	path_join(path, sizeof(path), out_dir, DATASET_FILE);
	if (access(path, F_OK) == 0) {
		snprintf(err, err_cap, "%s already holds a dataset: refusing to overwrite it", out_dir);
		return -EEXIST;
	}
	struct dataset_info ds;
	struct kv_buf *mans = kv_calloc(nshards, sizeof(*mans));
	int rc = write_dataset_files(out_dir, nshards, 1, src, nsrc, &ds, mans, err, err_cap);
	for (uint32_t i = 0; i < nshards && rc == 0; i++) {
		char name[64];
		manifest_name(name, sizeof(name), i);
		rc = manifest_write_atomic(out_dir, name, mans[i].data, mans[i].len);
		if (rc < 0)
			snprintf(err, err_cap, "shard %u's manifest in %s: %s", i, out_dir,
				 kv_strerror(rc));
	}
	free_bufs(mans, nshards);
	if (rc < 0)
		return rc;
	uint8_t bytes[DATASET_FILE_SIZE];
	dataset_encode(&ds, bytes);
	rc = manifest_write_atomic(out_dir, DATASET_FILE, bytes, sizeof(bytes));
	if (rc < 0)
		snprintf(err, err_cap, "%s/%s: %s", out_dir, DATASET_FILE, kv_strerror(rc));
	return rc;
}

/* The highest generation in any shard file's name (kevy-s<i>-g<G>.*) in
 * dir, referenced or not, so a new dataset's files collide with none. */
static int max_file_generation(const char *dir, uint64_t *max, char *err, size_t err_cap)
{
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, err_cap, "cannot open data directory %s: %s", dir, strerror(errno));
		return -errno;
	}
	*max = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		unsigned shard;
		unsigned long long g;
		if (sscanf(de->d_name, "kevy-s%u-g%llu.", &shard, &g) == 2 && g > *max)
			*max = g;
	}
	closedir(d);
	return 0;
}

int aof_reshard_decide(const char *dir, const struct dataset_info *old, uint32_t nshards,
		       struct kv_dbs *src, uint32_t nsrc, char *err, size_t err_cap)
{
	uint64_t gen = 0;
	int rc = max_file_generation(dir, &gen, err, err_cap);
	if (rc < 0)
		return rc;
	gen++;
	struct dataset_info nds;
	struct kv_buf *mans = kv_calloc(nshards, sizeof(*mans));
	rc = write_dataset_files(dir, nshards, gen, src, nsrc, &nds, mans, err, err_cap);
	if (rc == 0)
		rc = kvio_fsync_dir(dir);
	if (rc == 0) {
		/* The decision: from here on the new dataset is the one. */
		struct kv_buf b = KV_BUF_INIT;
		reshard_encode(old, &nds, gen, mans, &b);
		rc = manifest_write_atomic(dir, RESHARD_FILE, b.data, b.len);
		kv_buf_free(&b);
		if (rc < 0)
			snprintf(err, err_cap, "%s/%s: %s", dir, RESHARD_FILE, kv_strerror(rc));
	} else if (!err[0]) {
		snprintf(err, err_cap, "%s: %s", dir, kv_strerror(rc));
	}
	free_bufs(mans, nshards);
	return rc;
}

static bool manifests_name(const struct manifest *mans, uint32_t n, const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t e = 0; e < mans[i].nentries; e++)
			if (strcmp(mans[i].entries[e].name, name) == 0)
				return true;
	return false;
}

/* Removes the replaced dataset's shard files: manifests of shards the new
 * dataset does not have, and every segment or snapshot no new manifest
 * names. */
static int reshard_remove_old(const char *dir, const struct manifest *mans, uint32_t n,
			      char *err, size_t err_cap)
{
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, err_cap, "cannot open data directory %s: %s", dir, strerror(errno));
		return -errno;
	}
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		unsigned shard;
		unsigned long long g;
		char path[4096];
		size_t nl = strlen(de->d_name);
		bool data = sscanf(de->d_name, "kevy-s%u-g%llu.", &shard, &g) == 2 && nl > 5 &&
			    (strcmp(de->d_name + nl - 4, ".aof") == 0 ||
			     strcmp(de->d_name + nl - 5, ".snap") == 0);
		bool man = sscanf(de->d_name, "kevy-s%u.", &shard) == 1 && nl > 9 &&
			   strcmp(de->d_name + nl - 9, ".manifest") == 0 && shard >= n;
		if ((!data || manifests_name(mans, n, de->d_name)) && !man)
			continue;
		path_join(path, sizeof(path), dir, de->d_name);
		rc = kvio_unlink(path);
		if (rc == -ENOENT)
			rc = 0;
		if (rc < 0)
			snprintf(err, err_cap, "%s: cannot remove: %s", path, kv_strerror(rc));
	}
	closedir(d);
	return rc;
}

/*
 * Re-sharding at startup (docs/durability.md): the new dataset's files are
 * written beside the old ones under generations no old file uses, then
 * kevy.reshard records the decision (the new kevy.dataset and every new
 * shard's manifest).  Until it exists the old dataset is untouched and
 * authoritative; once it exists the new one is, and this rolls it
 * forward: every new manifest and kevy.dataset committed (each by rename,
 * so repeating is harmless), the old shards' manifests and files removed,
 * the record last.  apply false (kevy-check without --fix): only report.
 * Returns 0 (no record), 1 (a record, applied or reported), or an error.
 */
int aof_reshard_recover(const char *dir, bool apply, aof_report_fn fn, void *arg, char *err,
			size_t err_cap)
{
	char path[4096], line[4800], msg[600];
	struct kv_buf b = KV_BUF_INIT;
	path_join(path, sizeof(path), dir, RESHARD_FILE);
	struct aof_file_report rep = { .path = path, .kind = AOF_FILE_RESHARD, .line = line };
	int rc = manifest_read_file(path, 64u << 20, &b);
	if (rc == -ENOENT) {
		kv_buf_free(&b);
		return 0;
	}
	struct dataset_info old, nds, cur;
	uint64_t gen = 0;
	struct manifest *mans = NULL;
	if (rc == 0)
		rc = reshard_decode((const uint8_t *)b.data, b.len, &old, &nds, &gen, &mans, msg,
				    sizeof(msg));
	else
		snprintf(msg, sizeof(msg), "%s", kv_strerror(rc));
	rep.size = b.len;
	kv_buf_free(&b);
	if (rc == 0) {
		char derr[300];
		rc = aof_dataset_read(dir, &cur, derr, sizeof(derr));
		if (rc < 0)
			snprintf(msg, sizeof(msg), "and %.300s", derr);
		else if (memcmp(cur.id, old.id, sizeof(cur.id)) != 0 &&
			 memcmp(cur.id, nds.id, sizeof(cur.id)) != 0) {
			snprintf(msg, sizeof(msg), "belongs to neither this directory's dataset nor "
				 "the one it replaces");
			rc = KV_EMISMATCH;
		}
	}
	for (uint32_t i = 0; rc == 0 && i < nds.shard_count; i++) {
		const char *missing = manifest_missing_file(dir, &mans[i]);
		if (missing) {
			snprintf(msg, sizeof(msg), "new shard %u's manifest names %s, which is "
				 "missing", i, missing);
			rc = KV_ECORRUPT;
		}
	}
	if (rc < 0) {
		snprintf(line, sizeof(line), "%s: %s", path, msg);
		snprintf(err, err_cap, "%s: refusing to start (inspect with: kevy-check %s)", line,
			 dir);
		rep.verdict = rc;
		if (fn)
			fn(arg, &rep);
		goto out;
	}
	for (uint32_t i = 0; apply && rc == 0 && i < nds.shard_count; i++) {
		rc = manifest_commit_sync(dir, &mans[i]);
		if (rc < 0)
			snprintf(line, sizeof(line), "%s: cannot commit new shard %u's manifest: %s",
				 path, i, kv_strerror(rc));
	}
	if (apply && rc == 0) {
		uint8_t bytes[DATASET_FILE_SIZE];
		dataset_encode(&nds, bytes);
		rc = manifest_write_atomic(dir, DATASET_FILE, bytes, sizeof(bytes));
		if (rc < 0)
			snprintf(line, sizeof(line), "%s/%s: %s", dir, DATASET_FILE, kv_strerror(rc));
	}
	if (apply && rc == 0)
		rc = reshard_remove_old(dir, mans, nds.shard_count, line, sizeof(line));
	if (apply && rc == 0) {
		rc = kvio_fsync_dir(dir);
		if (rc == 0)
			rc = kvio_unlink(path);
		if (rc == 0)
			rc = kvio_fsync_dir(dir);
		if (rc < 0)
			snprintf(line, sizeof(line), "%s: cannot remove: %s", path, kv_strerror(rc));
	}
	if (rc < 0) {
		snprintf(err, err_cap, "%s", line);
		rep.verdict = rc;
		if (fn)
			fn(arg, &rep);
		goto out;
	}
	if (apply)
		log_notice("%s: re-sharded the dataset from %u to %u shard(s) (files of generation "
			   "%" PRIu64 ")", dir, old.shard_count, nds.shard_count, gen);
	snprintf(line, sizeof(line), "%s: re-sharding from %u to %u shard(s) was decided%s", path,
		 old.shard_count, nds.shard_count,
		 apply ? "; completed it" : " but not completed; the server or kevy-check --fix "
					    "completes it");
	rep.verdict = apply ? 0 : KV_ETORN;   /* repairable, as a torn tail */
	rep.fixed = apply;
	rep.records = nds.shard_count;
	if (fn)
		fn(arg, &rep);
	rc = 1;
out:
	if (mans) {
		for (uint32_t i = 0; i < nds.shard_count; i++)
			manifest_free(&mans[i]);
		free(mans);
	}
	return rc;
}

/* Snapshot cut: the segment being appended to is closed at the cut and a
 * fresh one of the next generation, starting after the cut, takes every
 * later record.  Steps: the old segment's last records (written, fsynced),
 * the new segment (header, fsynced), a manifest naming both (old entries
 * kept).  Records appended meanwhile wait in the buffer for the new one. */
int aof_rotate_start(struct aof *a, int64_t now_ms, uint64_t *cut, uint64_t *gen_out)
{
	kv_assert(aof_idle(a) && a->state == AOF_OK && a->man.nentries > 0 && a->wbuf.len == 0);
	a->rw_kind = RW_KIND_ROTATE;
	a->rw_gate = NULL;
	/* What the old segment still owes: this turn's records, up to the cut. */
	struct kv_buf t = a->rw_tail;
	a->rw_tail = a->buf;
	a->buf = t;
	a->buf.len = 0;
	a->rw_tail_last = a->buf_last_lsn;
	a->buf_records = 0;
	*cut = a->last_lsn;
	uint64_t gen = rw_segment_begin(a, *cut, now_ms);
	*gen_out = gen;
	a->rw_last_lsn = *cut;
	rw_manifest_begin(a, true, now_ms);
	manifest_add(&a->rw_next, MANIFEST_AOF, gen, *cut, a->rw_seg_name);
	rw_manifest_end(a, 0);
	if (!a->ring)
		return rewrite_sync(a);
	if (a->rw_tail.len) {
		a->rw_step = RW_WRITE_TAIL;
		rw_prep_write_at(a, &a->seg, &a->rw_tail, a->good_off);
	} else if (a->durable_lsn < a->written_lsn) {
		/* The manifest will say the old segment ends at the cut: its
		 * records must be on disk first, or a power cut leaves a hole
		 * between the segments that recovery must refuse. */
		a->rw_step = RW_SYNC_TAIL;
		struct io_uring_sqe *sqe = rw_sqes(a, 1);
		kvio_prep_fdatasync(&a->rw_op[0], sqe, NULL, &a->seg);
		aof_ring_tag(a, sqe, &a->rw_op[0]);
	} else {
		a->rw_step = RW_OPEN_SEG;
		rw_prep_open(a, &a->rw_seg, a->rw_seg_path);
	}
	return 0;
}

/* Snapshot commit: one manifest naming the snapshot (its cut) and the
 * segment started at the cut; every other file it named is unlinked after.
 * Appends go on meanwhile. */
int aof_snapshot_commit(struct aof *a, const char *snap_name, uint64_t gen, uint64_t cut,
			int64_t now_ms)
{
	kv_assert(a->rw_step == RW_NONE && a->man.nentries > 0);
	const struct manifest_entry *cur = &a->man.entries[a->man.nentries - 1];
	kv_assert(cur->kind == MANIFEST_AOF && cur->generation == gen && cur->lsn == cut);
	a->rw_kind = RW_KIND_SNAPSHOT;
	a->rw_gate = NULL;
	rw_manifest_begin(a, false, now_ms);
	manifest_add(&a->rw_next, MANIFEST_SNAPSHOT, gen, cut, snap_name);
	manifest_add(&a->rw_next, MANIFEST_AOF, gen, cut, cur->name);
	rw_manifest_end(a, a->man.nentries - 1);
	if (!a->ring)
		return rewrite_sync(a);
	a->rw_step = RW_OPEN_MAN;
	rw_prep_open(a, &a->rw_man, a->rw_man_tmp);
	return 0;
}
