/*
 * manifest.h - the files that say which files a data directory's state is
 * made of: the dataset file (one per directory) and one manifest per shard.
 *
 *   kevy.dataset          dataset id and shard count, written once, last, when
 *                         a directory is first set up: its presence is what
 *                         says the directory holds a dataset.
 *   kevy-s<ID>.manifest   for shard ID: the snapshot (if any, with its cut
 *                         LSN) and the AOF segments, in order, each with its
 *                         generation and start LSN.  Replaced atomically
 *                         (temp file, fsync, rename, directory fsync).
 *   kevy.turnon           only while appendonly is being turned on at run
 *                         time: every shard's next manifest, written once
 *                         every shard's rewritten segment is durable.  Its
 *                         presence means the shards' rewrites are decided
 *                         together: recovery commits any of those manifests
 *                         a shard had not committed yet (roll forward),
 *                         then removes the file (docs/durability.md).
 *
 * Recovery trusts only the files the manifest names.  Byte layouts, validity
 * rules and names: the top of manifest.c and docs/format.md.  Pure format
 * plus synchronous read/write through kvio (startup and tools).
 */
#ifndef KV_MANIFEST_H
#define KV_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "persist/aof_format.h"
#include "base/buf.h"

#define DATASET_FILE "kevy.dataset"
#define DATASET_MAGIC "KEVYDS\0\0"
#define DATASET_VERSION 1
#define DATASET_FILE_SIZE 48

#define MANIFEST_MAGIC "KEVYMAN\0"
#define MANIFEST_VERSION 1
#define MANIFEST_HEADER_SIZE 64
#define MANIFEST_MAX_ENTRIES 4096
#define MANIFEST_NAME_MAX 255

#define TURNON_FILE "kevy.turnon"
#define TURNON_MAGIC "KEVYTON\0"
#define TURNON_VERSION 1
#define TURNON_HEADER_SIZE 32

#define RESHARD_FILE "kevy.reshard"
#define RESHARD_MAGIC "KEVYRSH\0"
#define RESHARD_VERSION 1
#define RESHARD_HEADER_SIZE 96
#define RESHARD_MAX_SHARDS 1024

struct dataset_info {
	uint8_t id[AOF_DATASET_ID_LEN];
	uint32_t shard_count;
	int64_t created_ms;
};

enum manifest_entry_kind {
	MANIFEST_SNAPSHOT = 1,
	MANIFEST_AOF = 2,
};

struct manifest_entry {
	uint8_t kind;             /* enum manifest_entry_kind */
	uint64_t generation;
	uint64_t lsn;             /* snapshot: cut LSN; segment: start LSN */
	char name[MANIFEST_NAME_MAX + 1];
};

struct manifest {
	uint8_t dataset_id[AOF_DATASET_ID_LEN];
	uint32_t shard_id;
	uint32_t shard_count;
	uint64_t generation;      /* bumped by every commit */
	int64_t created_ms;
	uint32_t nentries;
	struct manifest_entry *entries;
};

/* Encode d into out[DATASET_FILE_SIZE]. */
void dataset_encode(const struct dataset_info *d, uint8_t *out);
/* Decode; 0, KV_ECORRUPT (msg says why), KV_EVERSION, KV_ETORN if short. */
int dataset_decode(const uint8_t *p, size_t len, struct dataset_info *d, char *msg, size_t cap);

/* The turn-on record: one encoded manifest per shard (mans[i] for shard
 * i, each a whole kevy-s<i>.manifest).  Encode appends to b. */
void turnon_encode(const struct dataset_info *ds, const struct kv_buf *mans, struct kv_buf *b);
/* Decode and check it against ds; 0 with mans[i] filled (shard_count
 * entries; free each with manifest_free), or KV_ECORRUPT / KV_EVERSION /
 * KV_EMISMATCH with a line in msg. */
int turnon_decode(const uint8_t *p, size_t len, const struct dataset_info *ds,
		  struct manifest *mans, char *msg, size_t cap);

/* The re-shard record (docs/format.md): the dataset it replaces (old), the
 * new one (nds) and each new shard's manifest (mans[i], a whole encoded
 * kevy-s<i>.manifest, nds->shard_count of them); first_gen is the
 * generation of the new dataset's files.  Encode appends to b. */
void reshard_encode(const struct dataset_info *old, const struct dataset_info *nds,
		    uint64_t first_gen, const struct kv_buf *mans, struct kv_buf *b);
/* Decode: 0 with old, nds, *first_gen and *mans_out (nds->shard_count
 * manifests, each freed with manifest_free, then the array with free()),
 * or KV_ECORRUPT / KV_EVERSION with a line in msg. */
int reshard_decode(const uint8_t *p, size_t len, struct dataset_info *old,
		   struct dataset_info *nds, uint64_t *first_gen, struct manifest **mans_out,
		   char *msg, size_t cap);

/* Encode m (entries in order) into b (appended). */
void manifest_encode(const struct manifest *m, struct kv_buf *b);
/* Decode a whole manifest file.  0 (m filled; free with manifest_free),
 * KV_ECORRUPT / KV_EVERSION / KV_ETORN with a line in msg. */
int manifest_decode(const uint8_t *p, size_t len, struct manifest *m, char *msg, size_t cap);
void manifest_free(struct manifest *m);
/* Add an entry (name is copied; must be <= MANIFEST_NAME_MAX bytes). */
void manifest_add(struct manifest *m, uint8_t kind, uint64_t generation, uint64_t lsn,
		  const char *name);

/* File names inside a data directory (buffers of at least 64 bytes). */
void manifest_name(char *out, size_t cap, uint32_t shard_id);
void manifest_segment_name(char *out, size_t cap, uint32_t shard_id, uint64_t generation);

/* ---- synchronous file operations (startup, tools), all through kvio ---- */

/* Read a small whole file into b: 0, -ENOENT, -errno, KV_ELIMIT if over max. */
int manifest_read_file(const char *path, size_t max, struct kv_buf *b);
/* Write bytes to dir/name atomically: dir/name.tmp, fsync, rename, fsync dir. */
int manifest_write_atomic(const char *dir, const char *name, const void *p, size_t len);

#endif
