/*
 * kvio.h - the one I/O layer: every file operation kevy performs (open,
 * positioned write and read, fdatasync/fsync, directory fsync, rename,
 * unlink, truncate, close) goes through here, either synchronously (startup,
 * recovery, tools, tests) or prepared onto a shard's io_uring while serving.
 *
 * Because every operation passes through this seam, it is also where faults
 * are injected and where operations are recorded:
 *   - failpoints (env KEVY_FAILPOINTS, or kvio_failpoints_set()) fail the Nth
 *     operation of a kind with ENOSPC or EIO, cut a write short, or SIGKILL
 *     the process before or right after the Nth operation;
 *   - the trace (env KEVY_TRACE, or kvio_trace_start()) is an append-only
 *     binary log of every operation and of every reply sent to a client, from
 *     which a crash-test tool rebuilds every file state a power cut could leave.
 * Grammar, format and the ring contract: docs/io.md and the top of kvio.c.
 *
 * This module does not know about AOF records, snapshots or shards: it moves
 * bytes and reports results as 0 / byte counts / -errno.  It never retries an
 * fsync; what a failure means is the caller's decision (design.md §3 rule 6).
 */
#ifndef KV_KVIO_H
#define KV_KVIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct io_uring;
struct io_uring_sqe;

/* Operation kinds: failpoint names, trace record kinds, counters. */
enum kvio_kind {
	KVIO_OPEN = 1,
	KVIO_WRITE = 2,
	KVIO_READ = 3,
	KVIO_FSYNC = 4,     /* fdatasync or fsync of a file */
	KVIO_DIRSYNC = 5,   /* fsync of a directory */
	KVIO_RENAME = 6,
	KVIO_UNLINK = 7,
	KVIO_TRUNCATE = 8,
	KVIO_CLOSE = 9,
	KVIO_REPLY = 10,    /* trace only: bytes sent to a client */
	KVIO_KIND_COUNT = 11,
};

/* Name of a kind as used in the failpoint grammar ("write"), "?" if unknown. */
const char *kvio_kind_name(int kind);

/* An open file (or directory).  The path is a private copy kept for the
 * trace and for messages; id is unique per process and names the file in the
 * trace (paths change under rename, ids do not). */
struct kvio_file {
	int fd;
	uint64_t id;
	char *path;
};

/* Read KEVY_FAILPOINTS and KEVY_TRACE once.  Returns 0, KV_ECONFIG for a
 * malformed failpoint spec, or -errno if the trace cannot be created.  main
 * should call it first and exit on error; every kvio function also calls it
 * lazily and aborts with a message on error (a typo in a test knob must not
 * make a crash test pass vacuously). */
int kvio_init(void);

/* ---- synchronous operations ---------------------------------------------
 * Each counts as one operation of its kind for failpoints, is traced, and
 * returns 0 (or a count) or -errno.  An injected failure returns its errno
 * without calling the kernel. */

/* Open path with open(2) flags/mode (O_CLOEXEC is added).  On success f owns
 * the fd and a copy of path; on failure f->fd is -1 and nothing is owned. */
int kvio_open(struct kvio_file *f, const char *path, int flags, mode_t mode);
/* Open a directory (O_RDONLY | O_DIRECTORY) for kvio_dirsync and ring dirsyncs. */
int kvio_open_dir(struct kvio_file *f, const char *path);

/* Write all len bytes at off, looping on short writes.  Returns len, or
 * -errno, or, for an injected "short" failpoint, the length of the prefix
 * that was written (0 <= n < len).  Anything other than len is a failure; a
 * failure may have left a prefix on the file, so callers truncate back to
 * their last good offset (design.md §3 rule 6). */
ssize_t kvio_pwrite(struct kvio_file *f, const void *buf, size_t len, uint64_t off);
/* Read up to len bytes at off, looping until len or end of file.  Returns the
 * bytes read (short only at end of file) or -errno. */
ssize_t kvio_pread(struct kvio_file *f, void *buf, size_t len, uint64_t off);
struct read_buf;
/* Feed a streaming reader's input window (readbuf.h) the next bytes of f
 * from *off: reads into its free space, advances *off, and marks end of
 * file when nothing is left.  Returns the bytes read (0 at end) or -errno
 * (*off unchanged). */
ssize_t kvio_fill(struct kvio_file *f, struct read_buf *in, uint64_t *off);
int kvio_fdatasync(struct kvio_file *f);
int kvio_fsync(struct kvio_file *f);
/* fsync an open directory, or open dir_path, fsync it and close it. */
int kvio_dirsync(struct kvio_file *dir);
int kvio_fsync_dir(const char *dir_path);
int kvio_rename(const char *old_path, const char *new_path);
int kvio_unlink(const char *path);
int kvio_truncate(struct kvio_file *f, uint64_t len);
/* Take an advisory lock (flock, non-blocking) on an open file: 0, or
 * -EWOULDBLOCK when another process holds a conflicting one.  Not an I/O
 * operation: no failpoint, no trace.  Released when the file is closed. */
int kvio_flock(struct kvio_file *f, bool exclusive);
/* Close and free the path copy; safe on a file whose fd is -1.  Never
 * fails by injection (a close error says nothing about durability). */
int kvio_close(struct kvio_file *f);

/* ---- ring operations -----------------------------------------------------
 * kvio_prep_* fill one SQE and a struct kvio_op the caller keeps (with the
 * buffer and paths it points to) until that SQE's completion arrives.  Every
 * prepared op produces exactly one CQE; the caller sets the SQE's user_data
 * after prep (prep does not touch it) and on completion calls
 * kvio_op_complete(op, cqe->res) and uses only its return value.
 *
 * Failpoints are decided at prep time.  An injected ENOSPC/EIO turns the SQE
 * into an IORING_OP_NOP (the kernel never sees the operation) and
 * kvio_op_complete returns the injected -errno.  An injected short write is
 * submitted as a write of the prefix only.  "kill-before" kills the process
 * inside prep; "kill" kills it inside kvio_op_complete, after the trace
 * record is written.
 *
 * Links (IOSQE_IO_LINK): pass the op this one must run after as `after`
 * (NULL: unlinked).  `after` must be the op prepared immediately before, in
 * the same batch, with no submission in between: ensure
 * io_uring_sq_space_left() covers the whole chain before preparing it.  If
 * `after` was injected (failed or short) the chain is cut exactly as the
 * kernel cuts it on a failed or short write: this op becomes a NOP that
 * completes with -ECANCELED and is not counted. */
struct kvio_op {
	uint8_t kind;            /* enum kvio_kind */
	uint8_t inject;          /* failpoint action applied at prep, 0 none */
	uint8_t flags;           /* KVIO_OPF_* */
	int inject_res;          /* result to report for an injected op */
	struct kvio_file *file;  /* write / fsync / dirsync / open */
	const void *buf;         /* write: caller's bytes, kept until completion */
	size_t len;              /* write: requested length */
	size_t sub_len;          /* write: length actually submitted */
	uint64_t offset;
	const char *path;        /* rename (old) / unlink / open */
	const char *path2;       /* rename (new) */
	int open_flags;
	mode_t open_mode;
	uint64_t op_id;          /* issue order, process-wide */
	uint64_t issued_after;   /* trace seq of the last record when issued */
	uint64_t link_op;        /* op_id of `after`, 0 if unlinked */
	struct io_uring_sqe *sqe; /* valid only until the SQE is submitted */
};

enum {
	KVIO_OPF_DATASYNC = 1,   /* fsync op is an fdatasync */
	KVIO_OPF_CANCELLED = 2,  /* follower of an injected op: NOP, -ECANCELED */
	KVIO_OPF_DONE = 4,       /* kvio_op_complete ran */
	KVIO_OPF_DSYNC = 8,      /* write with RWF_DSYNC: durable when it completes */
};

void kvio_prep_pwrite(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
		      struct kvio_file *f, const void *buf, size_t len, uint64_t off);
/* A write that is durable when it completes (RWF_DSYNC: the data and what
 * is needed to read it back, as fdatasync would make them).  With a file
 * opened O_DIRECT, buf, len and off must be aligned to its block size. */
void kvio_prep_pwrite_dsync(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
			    struct kvio_file *f, const void *buf, size_t len, uint64_t off);
/* A read of up to len bytes at off (the CQE's res: the bytes read, 0 at
 * the end of the file, or -errno). */
void kvio_prep_pread(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
		     struct kvio_file *f, void *buf, size_t len, uint64_t off);
void kvio_prep_fdatasync(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
			 struct kvio_file *f);
void kvio_prep_fsync(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
		     struct kvio_file *f);
/* dir must be open (kvio_open_dir): a shard keeps its data directory open. */
void kvio_prep_dirsync(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
		       struct kvio_file *dir);
void kvio_prep_rename(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
		      const char *old_path, const char *new_path);
void kvio_prep_unlink(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
		      const char *path);
/* Open through the ring (IORING_OP_OPENAT).  f is filled at completion:
 * f->fd is the new fd on success, -1 on failure. */
void kvio_prep_open(struct kvio_op *op, struct io_uring_sqe *sqe, struct kvio_op *after,
		    struct kvio_file *f, const char *path, int flags, mode_t mode);

/* The ring belongs to the runtime, which lends it to the file code (aof.c,
 * snapshot.c) together with a tag: a file op's SQE carries the op's address
 * with the tag in its three low bits (every struct kvio_op is 8-byte
 * aligned), so the runtime's completion loop can tell a file op from its
 * own and hand it back.  The file code never learns what else the ring
 * carries. */
#define KVIO_RING_TAG_MASK 7ull
/* An SQE of ring; when the queue is full, what is queued is submitted
 * first, so a caller never drops an operation.  Never NULL. */
struct io_uring_sqe *kvio_ring_sqe(struct io_uring *ring);
/* Set sqe's user_data to op tagged with tag (< 8). */
void kvio_sqe_set_op(struct io_uring_sqe *sqe, struct kvio_op *op, uint64_t tag);
/* The op of a file op's user_data. */
static inline struct kvio_op *kvio_op_of(uint64_t user_data)
{
	return (struct kvio_op *)(uintptr_t)(user_data & ~KVIO_RING_TAG_MASK);
}

/* Final result of a ring op from its CQE's res: for a write, len on success,
 * the written prefix length (0 <= n < len) for a short write, or -errno;
 * for others 0 (open: the fd) or -errno; -ECANCELED if a linked predecessor
 * failed.  Records the trace and performs a "kill" failpoint. */
int kvio_op_complete(struct kvio_op *op, int cqe_res);

/* ---- failpoints ---------------------------------------------------------- */

/* Replace the failpoint rules with spec (grammar in docs/io.md; NULL or ""
 * clears them) and reset every operation counter to 0.  Returns 0 or
 * KV_ECONFIG (the previous rules are kept). */
int kvio_failpoints_set(const char *spec);
/* Clear every rule and reset the counters. */
void kvio_failpoints_reset(void);
/* Operations of a kind issued since init or the last set/reset. */
uint64_t kvio_op_count(int kind);
/* Prefix length an injected short write of len bytes writes. */
size_t kvio_short_len(size_t len);

/* ---- trace --------------------------------------------------------------- */

/* Start tracing into path (created or truncated), replacing any trace in
 * progress.  Returns 0 or -errno. */
int kvio_trace_start(const char *path);
/* Stop tracing and close the file. */
void kvio_trace_stop(void);
bool kvio_trace_enabled(void);
/* Record bytes sent to client conn_id (call when the SEND is issued, before
 * anything later can happen on that connection). */
void kvio_trace_reply(uint64_t conn_id, const void *bytes, size_t n);

/* Trace record flags. */
enum {
	KVIO_TR_BARRIER_FILE = 1,  /* fsync: the file's written data is durable */
	KVIO_TR_BARRIER_DIR = 2,   /* dirsync: the directory's entries are durable */
	KVIO_TR_NAMESPACE = 4,     /* rename/unlink/open-with-create: changes names */
	KVIO_TR_RING = 8,          /* issued through io_uring (else synchronous) */
	KVIO_TR_INJECTED = 16,     /* result came from a failpoint */
	KVIO_TR_DATASYNC = 32,     /* fsync was an fdatasync */
	KVIO_TR_DSYNC = 64,        /* write with RWF_DSYNC: itself durable at completion */
};

/* One decoded record; pointers refer to the reader's buffer and stay valid
 * until the next kvio_trace_read_next / kvio_trace_close. */
struct kvio_trace_rec {
	uint16_t kind;
	uint16_t flags;
	uint32_t action;         /* failpoint action, 0 none */
	uint64_t seq;            /* record number, from 1, consecutive */
	uint64_t op_id;
	uint64_t issued_after;
	uint64_t link_op;
	uint64_t file_id;        /* conn id for KVIO_REPLY */
	uint64_t offset;         /* open: flags; truncate: new length */
	uint64_t length;         /* write/read: requested; open: mode */
	int64_t result;
	const char *path;        /* NUL-terminated copies */
	const char *path2;
	const uint8_t *data;
	uint32_t path_len, path2_len, data_len;
};

struct kvio_trace_reader {
	int fd;
	uint8_t *buf;
	size_t cap;
	uint64_t pos;            /* file offset of the next record */
	uint64_t next_seq;
	char *names;             /* NUL-terminated path copies */
	size_t names_cap;
};

/* Open a trace and check its file header: 0, -errno, KV_ECORRUPT (not a
 * trace) or KV_EVERSION. */
int kvio_trace_open(struct kvio_trace_reader *r, const char *path);
/* Next record: 1 and *rec filled; 0 at a clean end; KV_ETORN for a partial
 * record at the end (the writer died mid-record); KV_ECORRUPT for a record
 * that fails validation (r->pos names its offset).  Never asserts on data. */
int kvio_trace_read_next(struct kvio_trace_reader *r, struct kvio_trace_rec *rec);
void kvio_trace_close(struct kvio_trace_reader *r);

#endif
