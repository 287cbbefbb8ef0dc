/*
 * repl_mirror.h - the receiving end of the replication stream: frames
 * (repl_format.h) written into a data directory so that it stays a byte
 * for byte copy of the primary's, and the positions a partial resync asks
 * for, read back from that directory's own files.
 *
 * It is what a kevy replica's link thread writes files with, and what
 * kevy-mirror (tools/) runs today.  It does not apply anything to a
 * keyspace.  All I/O goes through kvio.  Errors: 0 or -errno / KV_* with a
 * message.
 */
#ifndef KV_REPL_MIRROR_H
#define KV_REPL_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "persist/kvio.h"
#include "persist/repl_format.h"

#define REPL_MIRROR_SLOTS 64

struct repl_mirror_slot {
	bool used;
	uint8_t kind;
	uint32_t shard;
	uint64_t generation;
	char name[REPL_NAME_MAX + 1];
	struct kvio_file f;
};

struct repl_mirror {
	char *dir;
	uint32_t nshards;
	uint64_t seq;           /* the next frame's expected number */
	struct repl_mirror_slot slots[REPL_MIRROR_SLOTS];
};

/* Starts a link's worth of frames into dir (which must exist). */
void repl_mirror_init(struct repl_mirror *m, const char *dir, uint32_t nshards);
/* Syncs and closes every open file. */
void repl_mirror_close(struct repl_mirror *m);

/* Applies one verified frame: checks its number and that its file name is
 * the one its kind, shard and generation call for; FILE creates (the
 * dataset file and manifests as <name>.tmp), DATA writes at its offset,
 * COMMIT syncs, checks the length and (dataset, manifest) renames into
 * place; PING syncs open files.  SYNCED is the caller's (it writes
 * kevy.replica).  0, or an error with why in err: the link must drop. */
int repl_mirror_apply(struct repl_mirror *m, const struct repl_frame *f, char *err, size_t cap);

/* What dir holds of shard i: its newest AOF segment's generation and the
 * length of its whole, verified records (the segment is truncated there:
 * a frame may have ended mid record).  0, -ENOENT when there is no
 * segment, or another error. */
int repl_mirror_position(const char *dir, uint32_t shard, uint64_t *generation, uint64_t *offset,
			 char *err, size_t cap);

/* kevy.replica in dir: write it (atomically, synced), read it, remove it. */
int repl_state_write(const char *dir, const struct repl_state *s);
int repl_state_read(const char *dir, struct repl_state *s, char *err, size_t cap);
int repl_state_remove(const char *dir);

/*
 * A kevy-server replica's full sync is written beside its dataset, in
 * <dir>/replica-sync/, and swapped in once complete (the server keeps
 * serving the old data meanwhile, and a crash mid sync leaves the old
 * dataset whole):
 *   - repl_stage_prepare empties (or creates) the staging directory;
 *   - repl_swap syncs it, writes the marker kevy.swap, then finishes;
 *   - repl_swap_finish (also at startup, when kevy.swap exists) renames
 *     every staged file into dir (data files, manifests, kevy.dataset,
 *     kevy.replica, in that order), syncs dir, removes the data files the
 *     new manifests do not name and the staging directory, and last the
 *     marker.  Each step can be repeated after a crash.
 * 0 or -errno.
 */
#define REPL_SYNC_DIR "replica-sync"
#define REPL_SWAP_FILE "kevy.swap"
int repl_stage_prepare(const char *dir, char *stage, size_t cap);
int repl_swap(const char *dir);
int repl_swap_finish(const char *dir);

#endif
