/*
 * snapshot.h - a shard's fork-less point-in-time snapshot, taken while
 * serving (docs/snapshots.md).
 *
 * At the cut (a loop-turn boundary with the AOF idle) the keyspace starts
 * owing every entry (db_snapshot_begin: copy before write), the AOF rotates
 * to a segment starting after the cut (aof_rotate_start), and the snapshot
 * file is opened through the ring.  Each later turn walks a slice of the
 * table and writes finished zstd blocks as positioned WRITEs on the shard's
 * ring, a bounded number in flight.  When the walk is done: the footer, an
 * FDATASYNC, and the manifest commit naming the snapshot and the segment
 * started at the cut (aof_snapshot_commit), which drops the older files.
 * BGSAVE, BGREWRITEAOF (and later SAVE and the save rules) start this path.
 */
#ifndef KV_SNAPSHOT_H
#define KV_SNAPSHOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "persist/kvio.h"
#include "persist/snap_format.h"

struct aof;
struct kv_db;
struct kv_dbs;
struct kvio_op;

#define SNAPSHOT_WRITES_MAX 16  /* blocks in flight per shard, at most (snapshot-inflight-blocks) */
#define SNAPSHOT_BLOCK_BYTES (128 * 1024)
#define SNAPSHOT_ZSTD_LEVEL 1

enum snapshot_state {
	SJ_IDLE = 0,
	SJ_WANTED,    /* asked for; starts at the next turn the AOF is idle */
	SJ_WALK,      /* walking the table, writing blocks */
	SJ_DRAIN,     /* footer queued; the last writes in flight */
	SJ_FSYNC,
	SJ_COMMIT,    /* waiting for the rotation, then the manifest commit */
};

/* Called on the shard thread when a snapshot has ended, ok or not, and the
 * job is idle again (SAVE's waiters are answered from here). */
typedef void (*snapshot_done_fn)(void *arg, bool ok);

struct snapshot_job {
	/* What the runtime lends the job (snapshot_init): the keyspace it walks,
	 * the AOF it cuts, rotates and commits through (and whose ring it
	 * writes on), and whom to tell when it ends. */
	struct kv_dbs *dbs;
	/* The databases as they were at the cut (SWAPDB may reorder dbs
	 * meanwhile), each with its number then: what the walk steps through
	 * and what copy-before-write hands entries back with. */
	struct snapshot_part {
		struct snapshot_job *job;
		struct kv_db *db;
		uint32_t index;
	} *parts;
	uint32_t nparts, walk_part;
	struct aof *aof;
	snapshot_done_fn done;
	void *done_arg;
	int inflight_max;                /* snapshot-inflight-blocks, as of the last turn */
	_Atomic int state;
	struct snap_writer w;
	bool writer_ready;
	struct kvio_file f;
	char name[64];
	char path[4200];
	uint64_t gen, cut, cursor, off;
	bool walk_done, opened, open_inflight, fsync_inflight, committing;
	bool commit_wait;           /* the runtime's commit_ok said not yet */
	bool abort;                      /* the keyspace was flushed, or I/O failed */
	int err;
	struct kvio_op *open_op, *fsync_op;
	struct kvio_op *wops;            /* [SNAPSHOT_WRITES_MAX] */
	struct kv_buf wbufs[SNAPSHOT_WRITES_MAX];
	bool wbusy[SNAPSHOT_WRITES_MAX];
	/* When each write and the fsync were submitted: slow ones are the
	 * shard's "snapshot-write" and "snapshot-fsync" latency events. */
	int64_t wstart_us[SNAPSHOT_WRITES_MAX];
	int64_t fsync_start_us;
	int inflight;
	int64_t start_ms;
	uint64_t changes_at_cut;
	_Atomic uint64_t changes_saved;  /* changes_at_cut of the last success (INFO's dirty) */
	_Atomic int64_t last_try_s;      /* unix time the last snapshot started */
	/* INFO persistence (any thread). */
	_Atomic int64_t last_save_s;     /* unix time of the last success */
	_Atomic int last_ok;             /* 1 ok, 0 err */
	_Atomic int64_t last_duration_ms;
	_Atomic int64_t current_start_ms;
	_Atomic uint64_t last_bytes;
	_Atomic uint64_t last_keys;
	_Atomic uint64_t saves;
	_Atomic uint64_t progress_keys;  /* the running snapshot: keys saved so far */
	_Atomic uint64_t progress_bytes; /* ... and bytes handed to the file */
};

void snapshot_init(struct snapshot_job *j, int64_t now_s, struct kv_dbs *dbs, struct aof *aof,
		   snapshot_done_fn done, void *done_arg);
void snapshot_free(struct snapshot_job *j);
/* Ask for a snapshot (any thread holding the keyspace, e.g. BGSAVE's txn).
 * Returns false when one is already wanted or running. */
bool snapshot_request(struct snapshot_job *j);
bool snapshot_running(const struct snapshot_job *j);
/* What the runtime tells the job each turn. */
struct snapshot_turn {
	bool keyspace_lent;   /* a transaction holds the keyspace: touch nothing */
	bool busy;            /* the turn served clients: walk only a short slice */
	uint64_t changes;     /* the keyspace's change count now (INFO's dirty base) */
	int inflight_max;     /* snapshot-inflight-blocks (1..SNAPSHOT_WRITES_MAX) */
	/* May the snapshot cut at `cut` be committed now?  1 yes; 0 not yet:
	 * records it holds could still be dropped by a recovery (a unit
	 * across shards not yet durable everywhere: docs/durability.md); < 0
	 * never (another shard's AOF failed before making them durable): the
	 * snapshot fails with that error.  NULL: always. */
	int (*commit_ok)(void *arg, uint64_t cut);
	void *commit_arg;
};
/* Once per loop turn on the shard thread: start, walk a slice, write
 * blocks, finish, commit. */
void snapshot_turn(struct snapshot_job *j, const struct snapshot_turn *t);
/* The job can progress at the next turn without waiting for I/O: the loop
 * should not park. */
bool snapshot_wants_turn(const struct snapshot_job *j);
/* Whether op is one of the job's ring ops; its completion. */
bool snapshot_owns(const struct snapshot_job *j, const struct kvio_op *op);
void snapshot_complete(struct snapshot_job *j, struct kvio_op *op, int res);

#endif
