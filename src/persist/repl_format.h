/*
 * repl_format.h - the byte format of kevy's replication stream (the frames a
 * primary sends a kevy replica: its data files, chunk by chunk) and of the
 * replica's state file `kevy.replica` (which primary's files it holds).
 *
 * Pure format, as aof_format.h: no sockets, no files.  The layout, the
 * validity rule and what a reader does with a bad frame are at the top of
 * repl_format.c and, for humans, in docs/format.md ("Replication stream").
 *
 * Errors are values: 0 or a count on success, KV_ECORRUPT (checksum or a
 * field rule), KV_EVERSION (a frame of a newer stream version), KV_ELIMIT
 * (a payload over the reader's limit) on failure, with a message.
 */
#ifndef KV_REPL_FORMAT_H
#define KV_REPL_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define REPL_FRAME_MAGIC "KVRP"
#define REPL_FRAME_MAGIC_LEN 4
#define REPL_FRAME_VERSION 1
#define REPL_FRAME_HEADER_SIZE 56
#define REPL_NO_SHARD UINT32_MAX        /* a frame of no shard's file (kevy.dataset) */
#define REPL_NAME_MAX 128               /* longest file name a FILE frame carries */
#define REPL_PAYLOAD_MAX (64u << 20)    /* largest payload the format allows */

enum repl_frame_type {
	REPL_FRAME_FILE = 1,    /* start a file: payload = its name; offset 0 */
	REPL_FRAME_DATA = 2,    /* payload = the file's bytes at offset */
	REPL_FRAME_COMMIT = 3,  /* the file is complete at offset bytes: install it */
	REPL_FRAME_SYNCED = 4,  /* a full sync's last frame: the files form a dataset */
	REPL_FRAME_PING = 5,    /* keepalive; offset = the primary's replication offset */
};

enum repl_file_kind {
	REPL_KIND_NONE = 0,     /* SYNCED and PING frames name no file */
	REPL_KIND_DATASET = 1,  /* kevy.dataset (shard REPL_NO_SHARD) */
	REPL_KIND_MANIFEST = 2, /* kevy-s<i>.manifest */
	REPL_KIND_SNAPSHOT = 3, /* kevy-s<i>-g<G>.snap */
	REPL_KIND_AOF = 4,      /* kevy-s<i>-g<G>.aof */
	REPL_KIND_FUNCTIONS = 5,/* functions.kevy, the function libraries (shard REPL_NO_SHARD) */
};

/* A decoded frame.  payload points into the decoder's input (it is not
 * copied); encode reads payload_len bytes from it. */
struct repl_frame {
	uint8_t type;           /* enum repl_frame_type */
	uint8_t kind;           /* enum repl_file_kind */
	uint32_t shard;         /* shard id, or REPL_NO_SHARD */
	uint64_t generation;    /* the file's generation (0 for the dataset file) */
	uint64_t offset;        /* byte offset in the file, or a count (see .c) */
	uint64_t seq;           /* frame number on this link, from 0 */
	const uint8_t *payload;
	uint32_t payload_len;
};

/* Appends f's 56-byte header and payload to out. */
void repl_frame_encode(struct kv_buf *out, const struct repl_frame *f);

/* Decodes and verifies a frame header (REPL_FRAME_HEADER_SIZE bytes at p).
 * On 0, f has every field but payload (NULL), and the payload's checksum is
 * kept in *payload_check for repl_frame_check_payload.  A header whose
 * payload_len exceeds max_payload is KV_ELIMIT. */
int repl_frame_decode_header(const uint8_t *p, struct repl_frame *f, uint64_t *payload_check,
			     uint32_t max_payload, char *msg, size_t msgsz);

/* Verifies f's payload (f->payload_len bytes at payload) against the header's
 * checksum and the per-type rules; on 0 sets f->payload.  KV_ECORRUPT else. */
int repl_frame_check_payload(struct repl_frame *f, const uint8_t *payload, uint64_t payload_check,
			     char *msg, size_t msgsz);

/* Both steps on a buffer: returns the bytes one frame takes (> 0), 0 when
 * len holds no whole frame yet, or a negative code. */
long repl_frame_decode(const uint8_t *p, size_t len, struct repl_frame *f, uint32_t max_payload,
		       char *msg, size_t msgsz);

/* True when name is a file name a frame may carry: 1 to REPL_NAME_MAX bytes
 * of [A-Za-z0-9._-], not starting with '.', so it stays in the directory. */
bool repl_name_ok(const char *name, size_t len);

/* The replica's state file, kevy.replica: which primary's files its data
 * directory mirrors.  Layout at the top of repl_format.c. */
#define REPL_STATE_FILE "kevy.replica"
#define REPL_STATE_MAGIC "KEVYREPL"
#define REPL_STATE_VERSION 1
#define REPL_STATE_SIZE 72
#define REPL_REPLID_LEN 40

struct repl_state {
	char replid[REPL_REPLID_LEN + 1];  /* the primary's replication id, 40 hex digits */
	uint32_t shard_count;
	int64_t synced_ms;                  /* when the last full sync ended */
};

/* Writes the REPL_STATE_SIZE bytes of s to out (s->replid must be 40 hex digits). */
void repl_state_encode(const struct repl_state *s, uint8_t out[REPL_STATE_SIZE]);

/* Verifies and decodes a state file's bytes: 0, or KV_ECORRUPT /
 * KV_EVERSION with a message. */
int repl_state_decode(const uint8_t *p, size_t len, struct repl_state *s, char *msg, size_t msgsz);

/* True when s is 40 lowercase hex digits (a Redis replication id). */
bool repl_replid_ok(const char *s, size_t len);

#endif
