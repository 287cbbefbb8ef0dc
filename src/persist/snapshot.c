/*
 * snapshot.c - a shard's fork-less point-in-time snapshot (see snapshot.h
 * and docs/snapshots.md).  Runs on the shard thread, a slice per loop turn;
 * the only code that runs elsewhere is snap_entry(), which the store calls
 * when a thread holding this keyspace (a txn) changes an entry the walk has
 * not saved yet: it only appends to the writer, which the shard thread
 * drains when the keyspace is its own again.
 */
#include "persist/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persist/aof.h"
#include "base/kv.h"
#include "base/log.h"
#include "persist/manifest.h"

/* Time a turn may spend walking and compressing: little while clients keep
 * the shard busy (it is added to their replies' latency), more when the
 * turn had nothing else to do. */
#define WALK_BUDGET_BUSY_US 100
#define WALK_BUDGET_IDLE_US 2000

void snapshot_init(struct snapshot_job *j, int64_t now_s, struct kv_dbs *dbs, struct aof *aof,
		   snapshot_done_fn done, void *done_arg)
{
	memset(j, 0, sizeof(*j));
	j->dbs = dbs;
	j->aof = aof;
	j->done = done;
	j->done_arg = done_arg;
	j->inflight_max = SNAPSHOT_WRITES_MAX;
	j->f.fd = -1;
	j->open_op = kv_calloc(1, sizeof(*j->open_op));
	j->fsync_op = kv_calloc(1, sizeof(*j->fsync_op));
	j->wops = kv_calloc(SNAPSHOT_WRITES_MAX, sizeof(*j->wops));
	atomic_store(&j->last_save_s, now_s);
	atomic_store(&j->last_ok, 1);
	atomic_store(&j->last_duration_ms, -1);
	atomic_store(&j->current_start_ms, 0);
}

void snapshot_free(struct snapshot_job *j)
{
	if (j->writer_ready)
		snap_writer_free(&j->w);
	kvio_close(&j->f);
	for (int i = 0; i < SNAPSHOT_WRITES_MAX; i++)
		kv_buf_free(&j->wbufs[i]);
	free(j->open_op);
	free(j->fsync_op);
	free(j->wops);
	free(j->parts);
}

bool snapshot_request(struct snapshot_job *j)
{
	int idle = SJ_IDLE;
	return atomic_compare_exchange_strong(&j->state, &idle, SJ_WANTED);
}

bool snapshot_running(const struct snapshot_job *j)
{
	return atomic_load(&j->state) != SJ_IDLE;
}

bool snapshot_wants_turn(const struct snapshot_job *j)
{
	int st = atomic_load(&j->state);
	if (st == SJ_WALK)
		return j->opened && !j->abort &&
		       (j->w.queued < 2 ||
			j->inflight < j->inflight_max);
	return st == SJ_WANTED || (st == SJ_COMMIT && !j->commit_wait) ||
	       (st == SJ_DRAIN && j->inflight == 0) || (st == SJ_FSYNC && !j->fsync_inflight);
}

bool snapshot_owns(const struct snapshot_job *j, const struct kvio_op *op)
{
	return op == j->open_op || op == j->fsync_op ||
	       (op >= &j->wops[0] && op < &j->wops[SNAPSHOT_WRITES_MAX]);
}

/* The store hands over an entry as it was at the cut (NULL: flushed). */
static void snap_entry(void *arg, const struct kv_entry *e)
{
	const struct snapshot_part *part = arg;
	struct snapshot_job *j = part->job;
	if (!e) {
		j->abort = true;
		return;
	}
	if (!j->abort) {
		snap_writer_set_db(&j->w, part->index);
		snap_writer_add_entry(&j->w, e);
	}
}

static void job_end(struct snapshot_job *j, bool ok)
{
	int64_t now = kv_time_ms();
	for (uint32_t i = 0; i < j->nparts; i++)
		if (db_snapshot_active(j->parts[i].db))
			db_snapshot_abandon(j->parts[i].db);   /* the walk did not finish */
	j->nparts = 0;
	if (j->writer_ready) {
		snap_writer_free(&j->w);
		j->writer_ready = false;
	}
	kvio_close(&j->f);
	atomic_store(&j->last_ok, ok ? 1 : 0);
	atomic_store(&j->last_duration_ms, now - j->start_ms);
	atomic_store(&j->current_start_ms, 0);
	if (ok) {
		/* The AOF's growth is measured from here (auto-aof-rewrite). */
		atomic_store(&j->aof->info.snapshot_bytes, j->off);
		atomic_store(&j->aof->info.growth_base, j->off + atomic_load(&j->aof->info.current_size));
		atomic_store(&j->changes_saved, j->changes_at_cut);
		atomic_store(&j->last_save_s, now / 1000);
		atomic_store(&j->last_bytes, j->off);
		atomic_fetch_add(&j->saves, 1);
		log_notice("shard %u: snapshot %s saved (%" PRIu64 " bytes, cut LSN %" PRIu64
			   ", %" PRId64 " ms)", j->aof->shard_id, j->name, j->off, j->cut, now - j->start_ms);
	} else {
		log_warning("shard %u: snapshot %s failed%s%s; the previous files are kept", j->aof->shard_id,
			    j->name, j->err ? ": " : " (the keyspace was flushed)",
			    j->err ? kv_strerror(j->err) : "");
	}
	j->abort = false;
	j->err = 0;
	atomic_store(&j->state, SJ_IDLE);
	j->done(j->done_arg, ok);
}

static void job_start(struct snapshot_job *j, uint64_t changes)
{
	int64_t now = kv_time_ms();
	j->start_ms = now;
	atomic_store(&j->current_start_ms, now);
	j->cursor = 0;
	j->off = 0;
	j->walk_done = j->opened = j->open_inflight = j->fsync_inflight = false;
	j->committing = false;
	j->commit_wait = false;
	j->inflight = 0;
	j->changes_at_cut = changes;
	atomic_store(&j->last_try_s, now / 1000);
	if (aof_rotate_start(j->aof, now, &j->cut, &j->gen) < 0) {
		j->err = j->aof->err;
		job_end(j, false);
		return;
	}
	snprintf(j->name, sizeof(j->name), "kevy-s%u-g%" PRIu64 ".snap", j->aof->shard_id, j->gen);
	snprintf(j->path, sizeof(j->path), "%s/%s", j->aof->dir, j->name);
	struct file_header h;
	snap_header_init(&h, j->aof->ds.id, j->aof->shard_id, j->aof->nshards, j->gen, j->cut, now);
	/* Small blocks and a fast level: each block is compressed on the shard
	 * thread between client work, so its time is added to some replies. */
	snap_writer_init(&j->w, &h, SNAPSHOT_BLOCK_BYTES, SNAPSHOT_ZSTD_LEVEL);
	j->writer_ready = true;
	/* The cut: every database at once. */
	free(j->parts);
	j->nparts = j->dbs->n;
	j->parts = kv_calloc(j->nparts, sizeof(*j->parts));
	j->walk_part = 0;
	for (uint32_t i = 0; i < j->nparts; i++) {
		j->parts[i] = (struct snapshot_part){ j, j->dbs->db[i], i };
		db_snapshot_begin(j->parts[i].db, snap_entry, &j->parts[i]);
	}
	atomic_store(&j->state, SJ_WALK);
	struct io_uring *ring = j->aof->ring;
	if (!ring) {
		int rc = kvio_open(&j->f, j->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (rc < 0) {
			j->err = rc;
			job_end(j, false);
			return;
		}
		j->opened = true;
		return;
	}
	struct io_uring_sqe *sqe = kvio_ring_sqe(ring);
	kvio_prep_open(j->open_op, sqe, NULL, &j->f, j->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	kvio_sqe_set_op(sqe, j->open_op, j->aof->ring_tag);
	j->open_inflight = true;
}

/* Hand finished pieces to the file, at most SNAPSHOT_WRITES_MAX in flight
 * (synchronously without a ring). */
static void snap_note_latency(struct snapshot_job *j, const char *event, int64_t start_us)
{
	if (j->aof->lat)
		lat_note(j->aof->lat, event, (kv_mono_us() - start_us) / 1000);
}

static void job_write(struct snapshot_job *j)
{
	struct io_uring *ring = j->aof->ring;
	int limit = j->inflight_max;
	for (int i = 0; i < SNAPSHOT_WRITES_MAX && j->inflight < limit && !j->abort; i++) {
		if (j->wbusy[i])
			continue;
		if (!snap_writer_take_block(&j->w, &j->wbufs[i]))
			return;
		uint64_t off = j->off;
		j->off += j->wbufs[i].len;
		atomic_store_explicit(&j->progress_bytes, j->off, memory_order_relaxed);
		atomic_store_explicit(&j->progress_keys, j->w.entries, memory_order_relaxed);
		j->wstart_us[i] = kv_mono_us();
		if (!ring) {
			ssize_t n = kvio_pwrite(&j->f, j->wbufs[i].data, j->wbufs[i].len, off);
			snap_note_latency(j, "snapshot-write", j->wstart_us[i]);
			if (n != (ssize_t)j->wbufs[i].len) {
				j->err = n < 0 ? (int)n : -ENOSPC;
				j->abort = true;
			}
			continue;
		}
		struct io_uring_sqe *sqe = kvio_ring_sqe(ring);
		kvio_prep_pwrite(&j->wops[i], sqe, NULL, &j->f, j->wbufs[i].data, j->wbufs[i].len, off);
		kvio_sqe_set_op(sqe, &j->wops[i], j->aof->ring_tag);
		j->wbusy[i] = true;
		j->inflight++;
	}
}

void snapshot_complete(struct snapshot_job *j, struct kvio_op *op, int res)
{
	int r = kvio_op_complete(op, res);
	if (op == j->open_op) {
		j->open_inflight = false;
		if (r < 0) {
			j->err = r;
			j->abort = true;
		} else {
			j->opened = true;
		}
		return;
	}
	if (op == j->fsync_op) {
		j->fsync_inflight = false;
		snap_note_latency(j, "snapshot-fsync", j->fsync_start_us);
		if (r < 0) {
			j->err = r;
			j->abort = true;
		}
		return;
	}
	int i = (int)(op - j->wops);
	j->wbusy[i] = false;
	snap_note_latency(j, "snapshot-write", j->wstart_us[i]);
	j->inflight--;
	if (r != (int)j->wbufs[i].len) {
		j->err = r < 0 ? r : -ENOSPC;
		j->abort = true;
	}
	j->wbufs[i].len = 0;
}

void snapshot_turn(struct snapshot_job *j, const struct snapshot_turn *t)
{
	int st = atomic_load(&j->state);
	if (st == SJ_IDLE || t->keyspace_lent)
		return;
	j->inflight_max = t->inflight_max >= 1 && t->inflight_max <= SNAPSHOT_WRITES_MAX
		? t->inflight_max : SNAPSHOT_WRITES_MAX;
	if (st == SJ_WANTED) {
		if (j->aof->state == AOF_FAILED) {
			/* The cut rotates the AOF, which refuses writes until a
			 * restart: fail now rather than wait for good (a SAVE
			 * would never be answered, BGSAVE stay in progress). */
			j->start_ms = kv_time_ms();
			atomic_store(&j->last_try_s, j->start_ms / 1000);
			snprintf(j->name, sizeof(j->name), "(not started: the AOF refuses writes)");
			j->err = j->aof->err ? j->aof->err : -EIO;
			job_end(j, false);
			return;
		}
		/* The cut: nothing of the AOF in flight, so the old segment's
		 * last records are exactly those up to the cut. */
		if (!aof_idle(j->aof) || j->aof->state != AOF_OK || j->aof->wbuf.len)
			return;
		job_start(j, t->changes);
		return;
	}
	bool busy_io = j->open_inflight || j->fsync_inflight || j->inflight > 0;
	if (j->abort) {
		if (!busy_io && !aof_job_busy(j->aof))
			job_end(j, false);
		return;
	}
	if (st == SJ_WALK) {
		if (!j->opened)
			return;
		job_write(j);
		/* Walk while the writer's queue is short: memory stays near a few
		 * blocks whatever the dataset's size. */
		int64_t until = kv_mono_us() +
				(t->busy ? WALK_BUDGET_BUSY_US : WALK_BUDGET_IDLE_US);
		for (int n = 0; j->w.queued < 2 && !j->walk_done; n++) {
			struct snapshot_part *part = &j->parts[j->walk_part];
			j->cursor = db_snapshot_step(part->db, j->cursor);
			if (j->cursor == 0) {
				db_snapshot_end(part->db);
				j->walk_done = ++j->walk_part == j->nparts;
			}
			if ((n & 63) == 63 && kv_mono_us() >= until)
				break;
		}
		job_write(j);
		if (j->walk_done) {
			if (snap_writer_finish(&j->w) < 0) {
				j->err = KV_ELIMIT;
				j->abort = true;
				return;
			}
			atomic_store(&j->last_keys, j->w.entries);
			atomic_store(&j->state, SJ_DRAIN);
		}
		return;
	}
	if (st == SJ_DRAIN) {
		job_write(j);
		if (j->inflight > 0 || j->w.queued > 0 || j->abort)
			return;
		atomic_store(&j->state, SJ_FSYNC);
		j->fsync_start_us = kv_mono_us();
		if (!j->aof->ring) {
			int rc = kvio_fdatasync(&j->f);
			snap_note_latency(j, "snapshot-fsync", j->fsync_start_us);
			if (rc < 0) {
				j->err = rc;
				j->abort = true;
			}
			return;
		}
		struct io_uring_sqe *sqe = kvio_ring_sqe(j->aof->ring);
		kvio_prep_fdatasync(j->fsync_op, sqe, NULL, &j->f);
		kvio_sqe_set_op(sqe, j->fsync_op, j->aof->ring_tag);
		j->fsync_inflight = true;
		return;
	}
	if (st == SJ_FSYNC) {
		if (j->fsync_inflight)
			return;
		atomic_store(&j->state, SJ_COMMIT);
		st = SJ_COMMIT;
	}
	if (st == SJ_COMMIT) {
		/* The rotation at the cut must be durable before the commit. */
		if (aof_job_busy(j->aof))
			return;
		if (!j->committing) {
			if (j->aof->state == AOF_FAILED) {
				j->err = j->aof->err;
				job_end(j, false);
				return;
			}
			int ok = t->commit_ok ? t->commit_ok(t->commit_arg, j->cut) : 1;
			if (ok < 0) {
				j->err = ok;
				job_end(j, false);
				return;
			}
			if (ok == 0) {
				j->commit_wait = true;   /* checked again next turn */
				return;
			}
			j->commit_wait = false;
			j->committing = true;
			aof_snapshot_commit(j->aof, j->name, j->gen, j->cut, kv_time_ms());
			return;
		}
		/* The commit finished (or failed: the AOF says which). */
		if (j->aof->state == AOF_FAILED) {
			j->err = j->aof->err;
			job_end(j, false);
		} else {
			job_end(j, true);
		}
	}
}
