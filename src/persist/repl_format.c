/*
 * repl_format.c - the replication stream's frames and the replica's state
 * file.  Pure format: no I/O, no policy.
 *
 * WHAT THE STREAM CARRIES
 *
 *   kevy replicates physically: a replica's data directory mirrors its
 *   primary's byte for byte (docs/replication.md).  The stream is therefore
 *   the primary's files, cut into frames.  A frame names the file it belongs
 *   to by (kind, shard, generation); the replica derives the file's name
 *   from those and checks it against the name a FILE frame carried.
 *
 * FRAME LAYOUT (all integers little-endian), a 56-byte header + payload
 *
 *      0  4  magic "KVRP"
 *      4  2  version (1)
 *      6  1  type: 1 FILE, 2 DATA, 3 COMMIT, 4 SYNCED, 5 PING
 *      7  1  file kind: 0 none, 1 dataset, 2 manifest, 3 snapshot, 4 AOF,
 *            5 function libraries
 *      8  4  shard id, or 0xffffffff for the dataset file and for frames
 *            of no file
 *     12  4  payload_len (<= 64 MiB, and the reader's own limit)
 *     16  8  generation of the file (0 for the dataset file)
 *     24  8  offset: FILE 0; DATA the file offset of the payload's first
 *            byte; COMMIT the file's complete length; SYNCED and PING the
 *            primary's replication offset
 *     32  8  seq: the frame's number on this link, from 0; a reader that
 *            sees a gap or a repeat has lost frames
 *     40  8  payload_check: XXH3-64, seed 0, of the payload
 *     48  8  header_check: XXH3-64, seed 0, of bytes [0, 48)
 *     56     payload
 *
 *   header_check lets a reader trust payload_len before it reads the
 *   payload (so a damaged length is refused, not waited for).
 *
 * VALIDITY RULE
 *
 *   A frame is valid when its header_check and payload_check verify, its
 *   magic is "KVRP", its version is one this reader knows, and its fields
 *   follow its type:
 *     FILE    kind 1..5; payload = the file name (repl_name_ok); offset 0
 *     DATA    kind 1..5; payload_len >= 1
 *     COMMIT  kind 1..5; payload empty
 *     SYNCED, PING  kind 0, shard 0xffffffff, generation 0, payload empty
 *   and kinds 1 (dataset) and 5 (function libraries) have shard
 *   0xffffffff while kinds 2..4 have a shard id.  A verified header of an unknown version is KV_EVERSION (a
 *   newer kevy is talking); anything else is KV_ECORRUPT.  A replica never
 *   writes a frame that is not valid: it drops the link, logs why and asks
 *   for a full sync.
 *
 * STATE FILE kevy.replica, 72 bytes
 *
 *      0  8  magic "KEVYREPL"
 *      8  2  version (1)
 *     10  2  length (72)
 *     12  4  shard count
 *     16 40  the primary's replication id, 40 lowercase hex digits
 *     56  8  time the last full sync ended, ms since the epoch
 *     64  8  checksum: XXH3-64, seed 0, of bytes [0, 64)
 */
#include "persist/repl_format.h"

#include <stdio.h>
#include <string.h>

#include "base/kv.h"
#include "base/le.h"

_Static_assert(REPL_FRAME_HEADER_SIZE == 56, "repl frame header is 56 bytes");
_Static_assert(REPL_STATE_SIZE == 72, "kevy.replica is 72 bytes");

static int fail(char *msg, size_t msgsz, int code, const char *why)
{
	if (msg && msgsz)
		snprintf(msg, msgsz, "%s", why);
	return code;
}

void repl_frame_encode(struct kv_buf *out, const struct repl_frame *f)
{
	uint8_t h[REPL_FRAME_HEADER_SIZE];

	kv_assert(f->payload_len <= REPL_PAYLOAD_MAX);
	memcpy(h, REPL_FRAME_MAGIC, REPL_FRAME_MAGIC_LEN);
	le_put16(h + 4, REPL_FRAME_VERSION);
	h[6] = f->type;
	h[7] = f->kind;
	le_put32(h + 8, f->shard);
	le_put32(h + 12, f->payload_len);
	le_put64(h + 16, f->generation);
	le_put64(h + 24, f->offset);
	le_put64(h + 32, f->seq);
	le_put64(h + 40, kv_hash64(f->payload_len ? f->payload : (const uint8_t *)"", f->payload_len, 0));
	le_put64(h + 48, kv_hash64(h, 48, 0));
	kv_buf_append(out, h, sizeof(h));
	if (f->payload_len)
		kv_buf_append(out, f->payload, f->payload_len);
}

bool repl_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > REPL_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
		if (!ok)
			return false;
	}
	return true;
}

/* The per-type rules that the header alone decides. */
static int check_fields(const struct repl_frame *f, char *msg, size_t msgsz)
{
	switch (f->type) {
	case REPL_FRAME_FILE:
	case REPL_FRAME_DATA:
	case REPL_FRAME_COMMIT:
		if (f->kind < REPL_KIND_DATASET || f->kind > REPL_KIND_FUNCTIONS)
			return fail(msg, msgsz, KV_ECORRUPT, "replication frame names an unknown file kind");
		bool unsharded = f->kind == REPL_KIND_DATASET || f->kind == REPL_KIND_FUNCTIONS;
		if (unsharded != (f->shard == REPL_NO_SHARD))
			return fail(msg, msgsz, KV_ECORRUPT, "replication frame's shard does not fit its file kind");
		if (f->type == REPL_FRAME_FILE && f->offset != 0)
			return fail(msg, msgsz, KV_ECORRUPT, "replication FILE frame with a nonzero offset");
		if (f->type == REPL_FRAME_FILE && (f->payload_len == 0 || f->payload_len > REPL_NAME_MAX))
			return fail(msg, msgsz, KV_ECORRUPT, "replication FILE frame without a valid name length");
		if (f->type == REPL_FRAME_DATA && f->payload_len == 0)
			return fail(msg, msgsz, KV_ECORRUPT, "replication DATA frame without bytes");
		if (f->type == REPL_FRAME_COMMIT && f->payload_len != 0)
			return fail(msg, msgsz, KV_ECORRUPT, "replication COMMIT frame with a payload");
		return 0;
	case REPL_FRAME_SYNCED:
	case REPL_FRAME_PING:
		if (f->kind != REPL_KIND_NONE || f->shard != REPL_NO_SHARD || f->generation != 0 ||
		    f->payload_len != 0)
			return fail(msg, msgsz, KV_ECORRUPT, "replication control frame with file fields");
		return 0;
	default:
		return fail(msg, msgsz, KV_ECORRUPT, "replication frame of an unknown type");
	}
}

int repl_frame_decode_header(const uint8_t *p, struct repl_frame *f, uint64_t *payload_check,
			     uint32_t max_payload, char *msg, size_t msgsz)
{
	memset(f, 0, sizeof(*f));
	if (memcmp(p, REPL_FRAME_MAGIC, REPL_FRAME_MAGIC_LEN) != 0)
		return fail(msg, msgsz, KV_ECORRUPT, "not a kevy replication frame (bad magic)");
	if (le_get64(p + 48) != kv_hash64(p, 48, 0))
		return fail(msg, msgsz, KV_ECORRUPT, "replication frame header checksum mismatch");
	uint16_t version = le_get16(p + 4);
	if (version != REPL_FRAME_VERSION) {
		if (msg && msgsz)
			snprintf(msg, msgsz, "replication frame version %u is not known to this kevy (it reads %d)",
				 version, REPL_FRAME_VERSION);
		return KV_EVERSION;
	}
	f->type = p[6];
	f->kind = p[7];
	f->shard = le_get32(p + 8);
	f->payload_len = le_get32(p + 12);
	f->generation = le_get64(p + 16);
	f->offset = le_get64(p + 24);
	f->seq = le_get64(p + 32);
	*payload_check = le_get64(p + 40);
	if (f->payload_len > REPL_PAYLOAD_MAX || f->payload_len > max_payload)
		return fail(msg, msgsz, KV_ELIMIT, "replication frame payload over the limit");
	return check_fields(f, msg, msgsz);
}

int repl_frame_check_payload(struct repl_frame *f, const uint8_t *payload, uint64_t payload_check,
			     char *msg, size_t msgsz)
{
	const uint8_t *p = f->payload_len ? payload : (const uint8_t *)"";

	if (kv_hash64(p, f->payload_len, 0) != payload_check)
		return fail(msg, msgsz, KV_ECORRUPT, "replication frame payload checksum mismatch");
	if (f->type == REPL_FRAME_FILE && !repl_name_ok((const char *)p, f->payload_len))
		return fail(msg, msgsz, KV_ECORRUPT, "replication FILE frame with an invalid file name");
	f->payload = p;
	return 0;
}

long repl_frame_decode(const uint8_t *p, size_t len, struct repl_frame *f, uint32_t max_payload,
		       char *msg, size_t msgsz)
{
	uint64_t check;

	if (len < REPL_FRAME_HEADER_SIZE)
		return 0;
	int rc = repl_frame_decode_header(p, f, &check, max_payload, msg, msgsz);
	if (rc < 0)
		return rc;
	if (len - REPL_FRAME_HEADER_SIZE < f->payload_len)
		return 0;
	rc = repl_frame_check_payload(f, p + REPL_FRAME_HEADER_SIZE, check, msg, msgsz);
	if (rc < 0)
		return rc;
	return (long)(REPL_FRAME_HEADER_SIZE + f->payload_len);
}

bool repl_replid_ok(const char *s, size_t len)
{
	if (len != REPL_REPLID_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

void repl_state_encode(const struct repl_state *s, uint8_t out[REPL_STATE_SIZE])
{
	kv_assert(repl_replid_ok(s->replid, strlen(s->replid)));
	memset(out, 0, REPL_STATE_SIZE);
	memcpy(out, REPL_STATE_MAGIC, 8);
	le_put16(out + 8, REPL_STATE_VERSION);
	le_put16(out + 10, REPL_STATE_SIZE);
	le_put32(out + 12, s->shard_count);
	memcpy(out + 16, s->replid, REPL_REPLID_LEN);
	le_put64(out + 56, (uint64_t)s->synced_ms);
	le_put64(out + 64, kv_hash64(out, 64, 0));
}

int repl_state_decode(const uint8_t *p, size_t len, struct repl_state *s, char *msg, size_t msgsz)
{
	memset(s, 0, sizeof(*s));
	if (len < REPL_STATE_SIZE)
		return fail(msg, msgsz, KV_ECORRUPT, "kevy.replica is truncated");
	if (memcmp(p, REPL_STATE_MAGIC, 8) != 0)
		return fail(msg, msgsz, KV_ECORRUPT, "kevy.replica: not a kevy replica state file");
	if (le_get64(p + 64) != kv_hash64(p, 64, 0))
		return fail(msg, msgsz, KV_ECORRUPT, "kevy.replica: checksum mismatch");
	if (le_get16(p + 8) != REPL_STATE_VERSION) {
		if (msg && msgsz)
			snprintf(msg, msgsz, "kevy.replica version %u is not known to this kevy", le_get16(p + 8));
		return KV_EVERSION;
	}
	if (le_get16(p + 10) != REPL_STATE_SIZE || len != REPL_STATE_SIZE)
		return fail(msg, msgsz, KV_ECORRUPT, "kevy.replica: wrong length");
	s->shard_count = le_get32(p + 12);
	if (s->shard_count == 0)
		return fail(msg, msgsz, KV_ECORRUPT, "kevy.replica: shard count 0");
	if (!repl_replid_ok((const char *)p + 16, REPL_REPLID_LEN))
		return fail(msg, msgsz, KV_ECORRUPT, "kevy.replica: replication id is not 40 hex digits");
	memcpy(s->replid, p + 16, REPL_REPLID_LEN);
	s->replid[REPL_REPLID_LEN] = '\0';
	s->synced_ms = (int64_t)le_get64(p + 56);
	return 0;
}
