/*
 * aof.h - a shard's append-only file at run time: recovery at startup, then
 * group-committed appends through the shard's io_uring.
 *
 * Recovery (synchronous, before serving, one thread per shard): the dataset
 * file, then the shard's manifest, then every AOF segment it names, each
 * record verified (aof_format.c) and its effects applied (through the
 * struct aof_effect_ops the command layer installs: commands/fx.c).  A torn
 * tail of the last segment is copied to a quarantine file, fsynced, and cut
 * off; anything else bad refuses to start with the file, the offset and the
 * kevy-check command in the message.
 *
 * Serving: the runtime hands each atomic unit's effect payload to
 * aof_append(), which frames it as the next record and returns its LSN.  At
 * the end of the loop turn aof_turn_end() writes every record of the turn as
 * one positioned WRITE on the shard's ring, linked to an FDATASYNC under
 * appendfsync always; completions advance written_lsn and durable_lsn.  The
 * runtime releases a reply tagged with LSN L once aof_release_lsn() >= L.
 * Under the epoll reactor (no ring) the same steps run synchronously at the
 * end of the turn.
 *
 * Errors (design.md §3 rule 6): ENOSPC or a short write keeps the unwritten
 * records in memory, refuses writes and retries the whole write from the
 * last good offset every cron tick until it succeeds; EIO on a write, or any
 * failed fsync, stops writes for good (no retry is trusted) while reads go
 * on.  aof_write_error() gives the -MISCONF text.
 */
#ifndef KV_AOF_H
#define KV_AOF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "persist/aof_format.h"
#include "base/buf.h"
#include "base/latency.h"
#include "persist/kvio.h"
#include "persist/manifest.h"
#include "store/store.h"

struct io_uring;

/* What an EFFECT payload means is the command layer's business: recovery,
 * DEBUG RELOAD and the offline loads hand each one to apply (into the
 * keyspace being loaded) or, when there is none or the record lies past a
 * point-in-time bound, to validate.  Both return 0, or KV_ECORRUPT with a
 * line in err.  The command layer installs them once at startup, before
 * anything is loaded (cmd_table_init); this layer never calls up. */
struct aof_effect_ops {
	int (*apply)(struct kv_dbs *dbs, uint32_t shard_id, uint32_t nshards, const void *payload,
		     size_t len, char *err, size_t err_cap);
	int (*validate)(uint32_t shard_id, uint32_t nshards, const void *payload, size_t len,
			char *err, size_t err_cap);
	/* The keys an EFFECT payload (validated) names, for the recovery rule
	 * of units across shards (aof_plan.c): emit(arg, db, key, klen) for
	 * each, or emit_all(arg) once when it touches every key (a flush, or a
	 * command whose keys are not known). */
	void (*keys)(const void *payload, size_t len,
		     void (*emit)(void *arg, uint32_t db, const void *key, size_t klen),
		     void (*emit_all)(void *arg), void *arg);
};
const struct aof_effect_ops *aof_get_effect_ops(void);
void aof_set_effect_ops(const struct aof_effect_ops *ops);

enum aof_fsync { AOF_FSYNC_NO = 0, AOF_FSYNC_EVERYSEC = 1, AOF_FSYNC_ALWAYS = 2 };

/* The largest aof-preallocate step (the zeros come from one static buffer). */
#define AOF_PREALLOC_MAX (16u << 20)
/* Direct writes and preallocation steps are aligned to this. */
#define AOF_DIO_BLOCK 4096u

/* Figures for INFO persistence, read from any thread. */
struct aof_info {
	_Atomic uint64_t current_size;     /* bytes of the current segment on disk */
	_Atomic uint64_t base_size;        /* its size when this process started */
	_Atomic uint64_t buffer_length;    /* bytes appended, not yet written */
	_Atomic uint64_t records;          /* records appended since start */
	_Atomic uint64_t records_synced;   /* records made durable by fsyncs */
	_Atomic uint64_t fsyncs;           /* direct writes included: each is its own */
	_Atomic uint64_t direct_writes;    /* RWF_DSYNC writes through O_DIRECT */
	_Atomic uint64_t writes;
	_Atomic uint64_t delayed_fsync;    /* everysec: an fsync was due while one ran */
	_Atomic uint64_t write_errors;
	_Atomic uint64_t last_lsn;
	_Atomic uint64_t durable_lsn;
	_Atomic int64_t last_fsync_ms;     /* wall clock of the last fsync completion */
	_Atomic int64_t oldest_unsynced_ms;/* wall clock of the oldest non-durable record, 0 none */
	_Atomic int last_write_err;        /* 0 or -errno of the last failed write/fsync */
	_Atomic int state;                 /* enum aof_state */
	_Atomic uint64_t replayed_records; /* at startup */
	_Atomic uint64_t snapshot_bytes;   /* the snapshot the manifest names */
	_Atomic uint64_t growth_base;      /* snapshot + segments when last rewritten or loaded */
	_Atomic int64_t load_ms;
	_Atomic uint64_t manifest_commits; /* manifests committed since start (a replica's sender reads it again) */
};

enum aof_state {
	AOF_OK = 0,
	AOF_RETRYING,   /* ENOSPC/short write: refusing writes, retrying */
	AOF_FAILED,     /* EIO or failed fsync: refusing writes for good */
};

/* What verification found in one file (kevy-check; recovery logs the same). */
enum aof_file_kind { AOF_FILE_DATASET = 1, AOF_FILE_MANIFEST, AOF_FILE_SEGMENT, AOF_FILE_SNAPSHOT,
		     AOF_FILE_TURNON, AOF_FILE_FUNCTIONS, AOF_FILE_RESHARD };
struct aof_file_report {
	const char *path;
	enum aof_file_kind kind;
	uint32_t shard_id;
	int verdict;              /* 0 clean; KV_ETORN (torn tail, not cut); KV_ECORRUPT,
				     KV_EVERSION, KV_EMISMATCH, -errno */
	uint64_t size;            /* bytes read */
	uint64_t free_bytes;      /* clean segment: preallocated zeros after its records */
	uint64_t records;         /* valid EFFECT records (segment) */
	uint64_t first_lsn, last_lsn;
	uint64_t offset;          /* of the fault */
	bool fixed;               /* a torn tail was quarantined and cut */
	const char *line;         /* one human line */
};
typedef void (*aof_report_fn)(void *arg, const struct aof_file_report *r);

struct aof {
	uint32_t shard_id, nshards;
	/* Scan mode: check only (kevy-check), optionally fixing torn tails;
	 * every file's outcome goes to report; worst verdict seen. */
	bool check, fix;
	uint64_t until_lsn;         /* load: apply records up to this LSN (0: all) */
	int64_t until_ms;           /* load: and up to this record time (0: all) */
	aof_report_fn report;
	void *report_arg;
	/* Scan hooks (aof_plan.c): every valid record read, in order; with
	 * headers_only set, snapshots are not read (their cut is the
	 * manifest's) and no payload is applied or validated beyond the
	 * reader's own checks.  snap_cut: records at or below it are compacted
	 * into the manifest's first file (a snapshot's cut, or the start of a
	 * rewritten segment). */
	void (*on_record)(void *arg, const struct aof_record *rec);
	void *on_record_arg;
	bool headers_only;
	bool snap_only;             /* load: the manifest's snapshots only, no segment */
	uint64_t snap_cut;
	/* Records the recovery rule dropped (aof_plan.c): sorted LSNs that
	 * are verified but not applied.  Not owned. */
	const uint64_t *skip;
	size_t nskip;
	bool unplanned;             /* struct aof_skip's: a UNIT or RESOLVE record is -EAGAIN */
	int worst;
	char *dir;
	struct manifest man;
	struct dataset_info ds;

	/* The segment being appended to. */
	struct kvio_file seg;
	char *seg_name;
	struct file_header hdr;
	struct aof_encoder enc;
	uint64_t good_off;          /* bytes of the segment known written */

	struct kv_buf buf;          /* framed records not yet submitted */
	uint64_t buf_last_lsn;
	struct kv_buf wbuf;         /* the write in flight, or failed and awaiting retry */
	uint64_t wbuf_last_lsn;
	uint64_t wbuf_records;
	uint64_t buf_records;
	bool write_inflight, fsync_inflight;
	struct kvio_op wop, fop;
	uint64_t fsync_covers;      /* LSN the fsync in flight makes durable */

	uint64_t last_lsn;          /* assigned to the last appended record */
	uint64_t written_lsn;
	uint64_t durable_lsn;
	int64_t last_fsync_start_ms;
	bool fsync_wanted;          /* WAITAOF or shutdown wants an fsync now */
	_Atomic bool fsync_asked;   /* another thread wants one (aof_ask_fsync) */
	int64_t oldest_unsynced_ms;

	enum aof_state state;
	int err;                    /* -errno that put us out of AOF_OK */
	char errmsg[200];
	int64_t retry_at_ms;

	/* The shard's latency monitor (LATENCY): slow writes and fsyncs are
	 * its "aof-write", "aof-fsync-always" (appendfsync always) and
	 * "aof-fsync" events, timed from submission to completion.  NULL:
	 * not monitored (tools, recovery). */
	struct lat_monitor *lat;
	int64_t write_start_us, fsync_start_us;
	bool fsync_always;

	/* Preallocation (PREALLOCATED SPACE, aof_format.c): zeros written
	 * ahead of the appends, prealloc bytes at a time, so that appends
	 * overwrite allocated blocks and fdatasync has no size change to
	 * commit to the journal.  prealloc 0: off (the runtime sets it from
	 * aof-preallocate before each turn). */
	uint64_t prealloc;
	uint64_t alloc_end;         /* the current segment's size on disk */
	struct kvio_op xop;         /* the zeros in flight */
	bool ext_inflight;
	uint64_t ext_off, ext_len;
	int64_t ext_retry_at_ms;    /* after a failed preallocation */

	/* Direct durable writes (durability.md, "Direct writes"): under
	 * appendfsync always with aof-direct-io on, the segment is also open
	 * O_DIRECT (dseg) and a turn's records go out as one RWF_DSYNC write
	 * of whole AOF_DIO_BLOCK blocks, from the block holding good_off: that
	 * block's bytes before good_off (dtail) are written again, identical,
	 * and the last block is padded with zeros (preallocated space).  The
	 * write is its own fsync: no FDATASYNC goes to an io-wq worker. */
	bool direct_io;             /* the runtime's setting, set before each turn */
	struct kvio_file dseg;      /* fd -1: none (not open yet, or refused) */
	struct kvio_op dop;         /* the ring OPENAT of dseg after a switch */
	bool dopen_inflight;
	bool direct_refused;        /* this file system refused O_DIRECT */
	uint8_t *dbuf;              /* the staged write (aligned) */
	size_t dcap, dlen;
	uint8_t *dtail;             /* AOF_DIO_BLOCK bytes: [block of good_off, good_off) */
	bool wdirect;               /* the write in flight is a direct one */

	struct io_uring *ring;      /* NULL: synchronous (epoll reactor) */
	uint64_t ring_tag;          /* in each op's user_data (kvio_sqe_set_op) */
	struct kvio_file dirf;      /* the data directory, for ring dirsyncs */
	struct aof_info info;

	/* A fresh segment holding the whole keyspace, committed through the
	 * ring step by step (aof_rewrite_start). */
	int rw_step;                /* 0: none */
	int rw_kind;                /* RW_KIND_* */
	/* A step that hit ENOSPC (or a short write) waits to be issued again
	 * at rw_retry_at_ms; its data is rewritten whole, so the retry's fsync
	 * proves what it covers (design.md §3 rule 6). */
	bool rw_parked;
	bool rw_wait_cancel;        /* the parked step's linked follower is still out */
	bool rw_resume;             /* parked once: its commit puts writes back on */
	int64_t rw_retry_at_ms;
	struct kv_buf rw_tail;      /* rotate: the old segment's last records */
	uint64_t rw_tail_last;
	char rw_seg_path[4200];
	struct kvio_op rw_op[2];
	struct kvio_file rw_seg, rw_man;
	char *rw_seg_name;
	char rw_man_tmp[4200], rw_man_path[4200];
	struct kv_buf rw_content;   /* header + records of the new segment */
	struct kv_buf rw_manifest;  /* the manifest that names it */
	struct manifest rw_next;
	struct file_header rw_hdr;
	uint64_t rw_last_lsn;
	/* A rewrite whose manifest commit waits for a decision taken with the
	 * other shards (turning appendonly on: shard.c, "turn-on"): after its
	 * segment is durable it parks in RW_GATE and asks rw_gate each turn:
	 * 1 commit, 0 not yet, 2 abandon (nothing committed, the AOF stays
	 * usable), -errno give up (the rewrite fails, the AOF refuses writes). */
	int (*rw_gate)(void *arg);
	void *rw_gate_arg;
	struct kvio_op rw_unlink[4];
	char rw_unlink_path[4][4200];
	bool rw_unlink_busy[4];
};

/* Read shard shard_id's records after its last snapshot (never changed,
 * nothing applied, the snapshot itself not read): fn gets every valid
 * record in LSN order; *cut is the snapshot's cut LSN (0 without one);
 * man (may be NULL) receives the shard's manifest as the scan read it, so
 * the caller can name the file of an LSN (free it with manifest_free, also
 * after an error; empty when the manifest could not be read).  Returns 0,
 * KV_ETORN (a torn tail: the records before it were given), or another
 * error with recovery's line in err. */
int aof_scan_records(const char *dir, const struct dataset_info *ds, uint32_t shard_id,
		     void (*fn)(void *arg, const struct aof_record *rec), void *arg,
		     uint64_t *cut, struct manifest *man, char *err, size_t err_cap);

/* From any thread: make what this AOF has appended durable soon (the
 * owner's next turn fsyncs, whatever the policy).  The caller wakes it. */
void aof_ask_fsync(struct aof *a);

/* Stop writes for good (as a failed fsync does), for a reason outside this
 * AOF: a unit across shards whose part on another shard can never be
 * durable.  aof_write_error() then gives the -MISCONF text. */
void aof_fail(struct aof *a, int err, const char *what);
/* Tests: refuse every record whose payload exceeds bytes, as if it were
 * over the format's limit (0: only the format's limit).  Process-wide. */
void aof_set_record_limit(size_t bytes);

/* A unit part (AOF_REC_UNIT payload) or a RESOLVE record, framed as the
 * next record like aof_append; 0 when it could not be logged. */
uint64_t aof_append_typed(struct aof *a, uint8_t type, const void *payload, size_t len);

/* Recovery's RESOLVE record (aof_plan.c decided what this shard drops):
 * appended, written and fsynced before the shard serves.  0 or -errno. */
int aof_resolve_sync(struct aof *a, const uint64_t *lsns, size_t n, const uint64_t (*ids)[2],
		     size_t nids);

/* ---- startup (synchronous) ---- */

/* Open or create the data directory's dataset for nshards shards: reads
 * kevy.dataset, or creates the dataset (one empty segment and manifest per
 * shard, then kevy.dataset) in an empty directory.  Returns 0 or an error
 * with one line in err. */
int aof_dataset_open(const char *dir, uint32_t nshards, struct dataset_info *ds,
		     char *err, size_t err_cap);

/* Lock the data directory for this process (an exclusive flock on
 * kevy.dataset, held until exit): a second server or a kevy-check --fix on
 * the same directory would cut records still being written.  0, -EBUSY
 * (err names the directory) or -errno. */
int aof_dataset_lock(const char *dir, bool exclusive, struct kvio_file *lock, char *err,
		     size_t err_cap);

/* Records of one shard the recovery rule for units across shards dropped
 * (aof_plan.h): sorted LSNs, verified but not applied.  unplanned: no plan
 * was built because none could drop anything (aof_plan_build_recovery), so
 * a UNIT or RESOLVE record stops the load with -EAGAIN: the caller builds
 * the plan and loads again. */
struct aof_skip {
	const uint64_t *lsns;
	size_t n;
	bool unplanned;
};

/* Recover shard `shard_id` into its databases dbs (empty) and leave a ready
 * to append; skip (may be NULL) is what aof_plan_build decided.  Returns 0,
 * or an error with the message (file, offset, kevy-check command) in err.
 * Logs what it replayed and any torn tail it cut. */
int aof_recover(struct aof *a, const char *dir, const struct dataset_info *ds,
		uint32_t shard_id, uint32_t nshards, const struct aof_skip *skip,
		struct kv_dbs *dbs, char *err, size_t err_cap);

/* Verify a data directory exactly as recovery would, changing nothing
 * unless fix, in which case a torn tail of a shard's last segment is
 * quarantined and cut as recovery does (nothing else is ever repaired).
 * Every file's outcome is passed to fn.  Returns 0 (clean), KV_ETORN (a torn
 * tail that recovery would cut; never with fix), or the worst other error
 * (KV_ECORRUPT, KV_EMISMATCH, KV_EVERSION, -errno). */
int aof_check_dir(const char *dir, bool fix, aof_report_fn fn, void *arg);
/* The same, refusing with -EBUSY (and changing nothing) while a server runs
 * on the directory: a shared lock to check, an exclusive one to fix. */
int aof_check_dir_locked(const char *dir, bool fix, aof_report_fn fn, void *arg);

/* Read dir's kevy.dataset (never creates it).  0 or an error with a line. */
int aof_dataset_read(const char *dir, struct dataset_info *ds, char *err, size_t err_cap);
/* The newest format version among the segments shard shard_id's manifest
 * names, from their headers alone (nothing else is read or verified).  0,
 * or any error reading or judging a file, which the caller takes as "may
 * be the newest": recovery itself then says what is wrong. */
int aof_segments_version(const char *dir, const struct dataset_info *ds, uint32_t shard_id,
			 uint16_t *version);
/* A turn-on decision (kevy.turnon, see manifest.h) left by a crash: with
 * apply, commit the decided manifest of each shard whose manifest is older,
 * then remove the record; without, only report (fn, a line per shard, as a
 * repairable verdict).  Returns how many manifests it committed (or would),
 * or a negative error with a line in err (a damaged record, a missing
 * file it names: recovery refuses to start). */
int aof_turnon_recover(const char *dir, const struct dataset_info *ds, bool apply,
		       aof_report_fn fn, void *arg, char *err, size_t err_cap);

/* key-load-delay: sleep after each key or record loaded (us; negative -N:
 * 1 us after every Nth), as Redis's hidden setting. */
void aof_set_key_load_delay(int64_t us);

/* Re-sharding at startup, the two steps of aof.c's own (see there):
 * aof_reshard_decide writes a dataset of nshards shards holding src's keys
 * beside old's files and records the decision (kevy.reshard); nothing of
 * old is changed.  aof_reshard_recover, with apply, completes a recorded
 * decision (new manifests and kevy.dataset committed, old files removed,
 * the record last); without, reports it (fn) as a repairable verdict.
 * decide: 0 or an error with a line in err.  recover: 0 (no record), 1 (a
 * record, completed or reported), or an error with a line in err (a
 * damaged record, one of another dataset, a missing file it names: the
 * server refuses to start). */
int aof_reshard_decide(const char *dir, const struct dataset_info *old, uint32_t nshards,
		       struct kv_dbs *src, uint32_t nsrc, char *err, size_t err_cap);
int aof_reshard_recover(const char *dir, bool apply, aof_report_fn fn, void *arg, char *err,
			size_t err_cap);

/* Offline (kevy-dump): load every shard of dir into fresh keyspaces, read
 * only (a torn tail is left alone; the records before it are applied),
 * applying records up to until_lsn (per shard) and until_ms (record time),
 * 0 meaning no bound.  *dbs is an array of *nshards shards' databases
 * (growable: as many as the files name) the caller frees (dbs_free, free).  0 or the first refusal, with its line in err. */
/* fn (may be NULL) hears each file's outcome as it is done (progress).
 * skips (may be NULL): per shard, what the recovery rule drops; callers use
 * aof_plan_load_dir (aof_plan.h), which decides it first. */
int aof_load_dir_skip(const char *dir, uint64_t until_lsn, int64_t until_ms, aof_report_fn fn,
		      void *arg, const struct aof_skip *skips, struct kv_dbs **dbs,
		      uint32_t *nshards, char *err, size_t err_cap);
/* Offline: write a fresh data directory of nshards shards holding every key
 * of src[0..nsrc) (re-sharded by key): per shard a snapshot (generation 1,
 * cut LSN 0), an empty segment and a manifest naming both, then
 * kevy.dataset last.  Refuses a directory that already holds a dataset. */
int aof_write_dataset(const char *out_dir, uint32_t nshards, struct kv_dbs *src, uint32_t nsrc,
		      char *err, size_t err_cap);

/* DEBUG RELOAD: load this shard's files (snapshot + segments, everything
 * written so far) into db, read only and synchronously, without the records
 * skip names (what RESOLVE records dropped: aof_plan_resolved).  0 or an
 * error with its line in err. */
int aof_reload(struct aof *a, const struct aof_skip *skip, struct kv_dbs *dbs, char *err,
	       size_t err_cap);

/* A replica's load (server/replica.c): shard shard_id's snapshot, if its
 * manifest names one, into dbs, read only; no segment is read (their
 * records, from aof_scan_records, go through the replica's own order).
 * *cut: the snapshot's cut LSN, 0 without one.  0 or an error with its
 * line in err. */
int aof_load_base(const char *dir, const struct dataset_info *ds, uint32_t shard_id,
		  struct kv_dbs *dbs, uint64_t *cut, char *err, size_t err_cap);

/* Bind to the shard's ring (NULL: synchronous I/O); every op submitted
 * there carries tag (kvio_sqe_set_op), which the runtime's completion loop
 * recognises to hand the op back (aof_owns, aof_complete). */
void aof_attach(struct aof *a, struct io_uring *ring, uint64_t tag);

/* ---- serving (shard thread) ---- */

/* Frame payload (a complete EFFECT payload) as the next record; returns its
 * LSN, or 0 if it could not be logged (over the record limit: the shard then
 * refuses writes, see aof_write_error). */
uint64_t aof_append(struct aof *a, const void *payload, size_t len);
/* End of a loop turn: start the write (and fsync) of what was appended,
 * an everysec fsync that is due, or a retry after ENOSPC. */
void aof_turn_end(struct aof *a, int64_t now_ms, enum aof_fsync policy);
/* A ring completion of one of a's ops.  Returns true if durable_lsn or the
 * state changed (the runtime then releases or fails waiting replies). */
bool aof_complete(struct aof *a, struct kvio_op *op, int res, int64_t now_ms);
/* Whether op is one of a's ring ops. */
bool aof_owns(const struct aof *a, const struct kvio_op *op);
/* Ask for an fsync at the end of this turn whatever the policy (WAITAOF). */
void aof_want_fsync(struct aof *a);
/* Something is in flight or waiting to be written. */
bool aof_busy(const struct aof *a);
/* Write and fsync everything appended, synchronously (shutdown).  Returns
 * 0 or -errno. */
int aof_flush_sync(struct aof *a);
/* NULL when writes are accepted, else the -MISCONF error line. */
const char *aof_write_error(const struct aof *a);
void aof_close(struct aof *a);

/* Write the whole keyspace db as the first records of a fresh segment and
 * make the manifest name only that segment (write, fsync, rename, directory
 * fsync: ring operations), then drop the old segments.  Used when the AOF is
 * turned back on at run time: the old segments miss what changed while it
 * was off.  Records appended meanwhile go to the new segment after the
 * dump.  Call only while nothing is in flight (aof_idle) and the shard holds
 * its keyspace.  Returns 0, or -errno (the AOF is then failed). */
int aof_rewrite_start(struct aof *a, struct kv_dbs *dbs, int64_t now_ms);
/* The next aof_rewrite_start commits only when gate(arg) says so (see
 * rw_gate above); the gate is dropped when that rewrite ends. */
void aof_rewrite_gate(struct aof *a, int (*gate)(void *arg), void *arg);
/* Whether a gated rewrite waits for its gate (aof_turn_end asks it, and
 * should be called for this even while appendonly is off). */
bool aof_rewrite_waits(const struct aof *a);
/* The manifest the rewrite in progress will commit, once its segment is
 * durable (RW_GATE): bytes as kevy-s<ID>.manifest holds them. */
const struct kv_buf *aof_rewrite_manifest(const struct aof *a);
enum { RW_KIND_REWRITE = 1, RW_KIND_ROTATE, RW_KIND_SNAPSHOT };

/* Snapshot cut (call when aof_idle, state ok, and the shard holds its
 * keyspace): the current segment ends at the cut, *cut; a fresh segment of
 * generation *gen starting after it takes every later record, once the
 * old segment's last records, the new segment and a manifest naming both
 * are durable (ring steps; aof_idle again then).  0 or -errno. */
int aof_rotate_start(struct aof *a, int64_t now_ms, uint64_t *cut, uint64_t *gen);
/* Snapshot commit, after the snapshot file snap_name (generation gen, cut
 * LSN cut, fsynced) is complete and the rotation done: one manifest naming
 * the snapshot and the segment started at the cut, then the files it no
 * longer names are unlinked.  Appends continue meanwhile. */
int aof_snapshot_commit(struct aof *a, const char *snap_name, uint64_t gen, uint64_t cut,
			int64_t now_ms);
/* A rotation, rewrite or snapshot commit is in progress. */
static inline bool aof_job_busy(const struct aof *a) { return a->rw_step != 0; }

/* No write, fsync or rewrite in flight. */
bool aof_idle(const struct aof *a);

/* Name of a policy ("always", ...). */
const char *aof_fsync_name(int policy);

#endif
