/*
 * manifest.c - the dataset file and per-shard manifests (see manifest.h).
 *
 * BYTE LAYOUT (all integers little-endian)
 *
 *   kevy.dataset, 48 bytes:
 *      0  8  magic "KEVYDS\0\0"
 *      8  2  version (1)
 *     10  2  length (48)
 *     12  4  shard count (>= 1)
 *     16 16  dataset id (random, not all zero)
 *     32  8  creation time, ms since the epoch
 *     40  8  XXH3-64, seed 0, of bytes [0, 40)
 *
 *   kevy-s<ID>.manifest: 64-byte header, entries, 8-byte checksum:
 *      0  8  magic "KEVYMAN\0"
 *      8  2  version (1)
 *     10  2  header length (64)
 *     12  4  flags (0)
 *     16 16  dataset id
 *     32  4  shard id (< shard count)
 *     36  4  shard count
 *     40  8  generation: bumped by every commit
 *     48  8  creation time of this version, ms since the epoch
 *     56  4  entry count (<= 4096)
 *     60  4  reserved (0)
 *     then per entry, 24 bytes + name:
 *      0  1  kind: 1 snapshot, 2 AOF segment
 *      1  3  reserved (0)
 *      4  4  name length (1..255)
 *      8  8  generation of the file
 *     16  8  LSN: snapshot's cut LSN, or the segment's start LSN
 *     24     name: a plain file name (no '/', not "." or "..") in the same directory
 *     last 8 bytes: XXH3-64, seed 0, of every byte before them.
 *
 *   kevy.turnon (turning appendonly on at run time; see manifest.h):
 *      0  8  magic "KEVYTON\0"
 *      8  2  version (1)
 *     10  2  header length (32)
 *     12  4  shard count (the dataset's)
 *     16 16  dataset id
 *     then per shard, in shard order: 4 bytes length, then that many bytes:
 *            a whole kevy-s<ID>.manifest as above (its own checksum)
 *     last 8 bytes: XXH3-64, seed 0, of every byte before them.
 *
 *   kevy.reshard (re-sharding at startup; see manifest.h), 96-byte header:
 *      0  8  magic "KEVYRSH\0"
 *      8  2  version (1)
 *     10  2  header length (96)
 *     12  4  the replaced dataset's shard count
 *     16 16  the replaced dataset's id
 *     32 48  the new kevy.dataset, byte for byte (its own checksum)
 *     80  8  generation of the new dataset's files
 *     88  8  reserved (0)
 *     then per new shard, in shard order: 4 bytes length, then a whole
 *            kevy-s<ID>.manifest of the new dataset
 *     last 8 bytes: XXH3-64, seed 0, of every byte before them.
 *
 * VALIDITY: a file is valid when it has exactly the size its fields imply,
 * the checksum verifies, the magic and version are known and every field
 * keeps its rule (segments in increasing generation and start LSN, at most
 * one snapshot, listed first).  There is no torn state: the file is replaced
 * by rename, so a reader sees the old or the new one whole; anything else is
 * corruption and recovery refuses to start.
 */
#include "persist/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/kv.h"
#include "persist/kvio.h"
#include "base/le.h"

#define ENTRY_FIXED 24

void dataset_encode(const struct dataset_info *d, uint8_t *out)
{
	memset(out, 0, DATASET_FILE_SIZE);
	memcpy(out, DATASET_MAGIC, 8);
	le_put16(out + 8, DATASET_VERSION);
	le_put16(out + 10, DATASET_FILE_SIZE);
	le_put32(out + 12, d->shard_count);
	memcpy(out + 16, d->id, AOF_DATASET_ID_LEN);
	le_put64(out + 32, (uint64_t)d->created_ms);
	le_put64(out + 40, kv_hash64(out, 40, 0));
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int dataset_decode(const uint8_t *p, size_t len, struct dataset_info *d, char *msg, size_t cap)
{
	if (len < 8 || memcmp(p, DATASET_MAGIC, 8) != 0) {
		snprintf(msg, cap, "not a kevy dataset file (bad magic)");
		return KV_ECORRUPT;
	}
	if (len < DATASET_FILE_SIZE) {
		snprintf(msg, cap, "dataset file is %zu bytes, expected %d", len, DATASET_FILE_SIZE);
		return KV_ECORRUPT;
	}
	if (le_get64(p + 40) != kv_hash64(p, 40, 0)) {
		snprintf(msg, cap, "dataset file checksum mismatch");
		return KV_ECORRUPT;
	}
	if (le_get16(p + 8) != DATASET_VERSION) {
		snprintf(msg, cap, "dataset file version %u is not supported (this kevy reads %d)",
			 le_get16(p + 8), DATASET_VERSION);
		return KV_EVERSION;
	}
	d->shard_count = le_get32(p + 12);
	memcpy(d->id, p + 16, AOF_DATASET_ID_LEN);
	d->created_ms = (int64_t)le_get64(p + 32);
	if (le_get16(p + 10) != DATASET_FILE_SIZE || len != DATASET_FILE_SIZE ||
	    d->shard_count == 0 || all_zero(d->id, AOF_DATASET_ID_LEN)) {
		snprintf(msg, cap, "dataset file has invalid fields");
		return KV_ECORRUPT;
	}
	return 0;
}

/* The tail of a turn-on or re-shard record: n encoded manifests, each
 * behind its 4-byte length, then the XXH3 of the record from start. */
static void put_manifests(struct kv_buf *b, size_t start, const struct kv_buf *mans, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint8_t len[4];
		le_put32(len, (uint32_t)mans[i].len);
		kv_buf_append(b, len, 4);
		kv_buf_append(b, mans[i].data, mans[i].len);
	}
	uint8_t sum[8];
	le_put64(sum, kv_hash64((const uint8_t *)b->data + start, b->len - start, 0));
	kv_buf_append(b, sum, 8);
}

/* Decodes n manifests from p[off, end) (put_manifests' layout), each of
 * shard i of a dataset (id, shard count n); what names the record in
 * msg.  0, or KV_ECORRUPT with mans freed. */
static int get_manifests(const uint8_t *p, size_t off, size_t end, const uint8_t *id,
			 uint32_t n, struct manifest *mans, const char *what, char *msg,
			 size_t cap)
{
	memset(mans, 0, n * sizeof(*mans));
	int rc = 0;
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		if (end - off < 4 || end - off - 4 < le_get32(p + off)) {
			snprintf(msg, cap, "%s: shard %u's manifest is cut short", what, i);
			rc = KV_ECORRUPT;
			break;
		}
		uint32_t len = le_get32(p + off);
		char why[160];
		rc = manifest_decode(p + off + 4, len, &mans[i], why, sizeof(why));
		if (rc == 0 && (mans[i].shard_id != i || mans[i].shard_count != n ||
				memcmp(mans[i].dataset_id, id, AOF_DATASET_ID_LEN))) {
			snprintf(why, sizeof(why), "names another shard or dataset");
			rc = KV_ECORRUPT;
		}
		if (rc < 0)
			snprintf(msg, cap, "%s: shard %u's manifest: %s", what, i, why);
		off += 4 + (size_t)len;
	}
	if (rc == 0 && off != end) {
		snprintf(msg, cap, "%s has %zu bytes after the last manifest", what, end - off);
		rc = KV_ECORRUPT;
	}
	if (rc < 0)
		for (uint32_t i = 0; i < n; i++)
			manifest_free(&mans[i]);
	return rc;
}

void turnon_encode(const struct dataset_info *ds, const struct kv_buf *mans, struct kv_buf *b)
{
	size_t start = b->len;
	uint8_t h[TURNON_HEADER_SIZE] = { 0 };
	memcpy(h, TURNON_MAGIC, 8);
	le_put16(h + 8, TURNON_VERSION);
	le_put16(h + 10, TURNON_HEADER_SIZE);
	le_put32(h + 12, ds->shard_count);
	memcpy(h + 16, ds->id, AOF_DATASET_ID_LEN);
	kv_buf_append(b, h, sizeof(h));
	put_manifests(b, start, mans, ds->shard_count);
}

int turnon_decode(const uint8_t *p, size_t len, const struct dataset_info *ds,
		  struct manifest *mans, char *msg, size_t cap)
{
	if (len < 8 || memcmp(p, TURNON_MAGIC, 8) != 0) {
		snprintf(msg, cap, "not a kevy turn-on record (bad magic)");
		return KV_ECORRUPT;
	}
	if (len < TURNON_HEADER_SIZE + 8 || le_get64(p + len - 8) != kv_hash64(p, len - 8, 0)) {
		snprintf(msg, cap, "turn-on record checksum mismatch (%zu bytes)", len);
		return KV_ECORRUPT;
	}
	if (le_get16(p + 8) != TURNON_VERSION) {
		snprintf(msg, cap, "turn-on record version %u is not supported (this kevy reads %d)",
			 le_get16(p + 8), TURNON_VERSION);
		return KV_EVERSION;
	}
	if (le_get16(p + 10) != TURNON_HEADER_SIZE) {
		snprintf(msg, cap, "turn-on record has invalid fields");
		return KV_ECORRUPT;
	}
	if (le_get32(p + 12) != ds->shard_count || memcmp(p + 16, ds->id, AOF_DATASET_ID_LEN)) {
		snprintf(msg, cap, "turn-on record belongs to another dataset or shard count");
		return KV_EMISMATCH;
	}
	return get_manifests(p, TURNON_HEADER_SIZE, len - 8, ds->id, ds->shard_count, mans,
			     "turn-on record", msg, cap);
}

void reshard_encode(const struct dataset_info *old, const struct dataset_info *nds,
		    uint64_t first_gen, const struct kv_buf *mans, struct kv_buf *b)
{
	size_t start = b->len;
	uint8_t h[RESHARD_HEADER_SIZE] = { 0 };
	memcpy(h, RESHARD_MAGIC, 8);
	le_put16(h + 8, RESHARD_VERSION);
	le_put16(h + 10, RESHARD_HEADER_SIZE);
	le_put32(h + 12, old->shard_count);
	memcpy(h + 16, old->id, AOF_DATASET_ID_LEN);
	dataset_encode(nds, h + 32);
	le_put64(h + 80, first_gen);
	kv_buf_append(b, h, sizeof(h));
	put_manifests(b, start, mans, nds->shard_count);
}

int reshard_decode(const uint8_t *p, size_t len, struct dataset_info *old,
		   struct dataset_info *nds, uint64_t *first_gen, struct manifest **mans_out,
		   char *msg, size_t cap)
{
	*mans_out = NULL;
	if (len < 8 || memcmp(p, RESHARD_MAGIC, 8) != 0) {
		snprintf(msg, cap, "not a kevy re-shard record (bad magic)");
		return KV_ECORRUPT;
	}
	if (len < RESHARD_HEADER_SIZE + 8 || le_get64(p + len - 8) != kv_hash64(p, len - 8, 0)) {
		snprintf(msg, cap, "re-shard record checksum mismatch (%zu bytes)", len);
		return KV_ECORRUPT;
	}
	if (le_get16(p + 8) != RESHARD_VERSION) {
		snprintf(msg, cap, "re-shard record version %u is not supported (this kevy reads %d)",
			 le_get16(p + 8), RESHARD_VERSION);
		return KV_EVERSION;
	}
	char why[160];
	if (le_get16(p + 10) != RESHARD_HEADER_SIZE || le_get32(p + 12) == 0 ||
	    le_get64(p + 88) != 0 || le_get64(p + 80) == 0 ||
	    dataset_decode(p + 32, DATASET_FILE_SIZE, nds, why, sizeof(why)) < 0) {
		snprintf(msg, cap, "re-shard record has invalid fields");
		return KV_ECORRUPT;
	}
	if (nds->shard_count > RESHARD_MAX_SHARDS || le_get32(p + 12) > RESHARD_MAX_SHARDS) {
		snprintf(msg, cap, "re-shard record names more than %d shards", RESHARD_MAX_SHARDS);
		return KV_ECORRUPT;
	}
	old->shard_count = le_get32(p + 12);
	memcpy(old->id, p + 16, AOF_DATASET_ID_LEN);
	old->created_ms = 0;
	*first_gen = le_get64(p + 80);
	struct manifest *mans = kv_calloc(nds->shard_count, sizeof(*mans));
	int rc = get_manifests(p, RESHARD_HEADER_SIZE, len - 8, nds->id, nds->shard_count, mans,
			       "re-shard record", msg, cap);
	if (rc < 0) {
		free(mans);
		return rc;
	}
	*mans_out = mans;
	return 0;
}

void manifest_encode(const struct manifest *m, struct kv_buf *b)
{
	size_t start = b->len;
	uint8_t h[MANIFEST_HEADER_SIZE] = { 0 };
	memcpy(h, MANIFEST_MAGIC, 8);
	le_put16(h + 8, MANIFEST_VERSION);
	le_put16(h + 10, MANIFEST_HEADER_SIZE);
	memcpy(h + 16, m->dataset_id, AOF_DATASET_ID_LEN);
	le_put32(h + 32, m->shard_id);
	le_put32(h + 36, m->shard_count);
	le_put64(h + 40, m->generation);
	le_put64(h + 48, (uint64_t)m->created_ms);
	le_put32(h + 56, m->nentries);
	kv_buf_append(b, h, sizeof(h));
	for (uint32_t i = 0; i < m->nentries; i++) {
		const struct manifest_entry *e = &m->entries[i];
		uint8_t f[ENTRY_FIXED] = { 0 };
		size_t nlen = strlen(e->name);
		f[0] = e->kind;
		le_put32(f + 4, (uint32_t)nlen);
		le_put64(f + 8, e->generation);
		le_put64(f + 16, e->lsn);
		kv_buf_append(b, f, sizeof(f));
		kv_buf_append(b, e->name, nlen);
	}
	uint8_t sum[8];
	le_put64(sum, kv_hash64(b->data + start, b->len - start, 0));
	kv_buf_append(b, sum, sizeof(sum));
}

static bool name_ok(const uint8_t *p, uint32_t n)
{
	if (n == 0 || n > MANIFEST_NAME_MAX)
		return false;
	if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (p[i] == '/' || p[i] == '\0')
			return false;
	return true;
}

int manifest_decode(const uint8_t *p, size_t len, struct manifest *m, char *msg, size_t cap)
{
	memset(m, 0, sizeof(*m));
	if (len < 8 || memcmp(p, MANIFEST_MAGIC, 8) != 0) {
		snprintf(msg, cap, "not a kevy manifest (bad magic)");
		return KV_ECORRUPT;
	}
	if (len < MANIFEST_HEADER_SIZE + 8) {
		snprintf(msg, cap, "manifest is %zu bytes, shorter than its header", len);
		return KV_ECORRUPT;
	}
	if (le_get64(p + len - 8) != kv_hash64(p, len - 8, 0)) {
		snprintf(msg, cap, "manifest checksum mismatch (offset %zu)", len - 8);
		return KV_ECORRUPT;
	}
	if (le_get16(p + 8) != MANIFEST_VERSION) {
		snprintf(msg, cap, "manifest version %u is not supported (this kevy reads %d)",
			 le_get16(p + 8), MANIFEST_VERSION);
		return KV_EVERSION;
	}
	memcpy(m->dataset_id, p + 16, AOF_DATASET_ID_LEN);
	m->shard_id = le_get32(p + 32);
	m->shard_count = le_get32(p + 36);
	m->generation = le_get64(p + 40);
	m->created_ms = (int64_t)le_get64(p + 48);
	uint32_t n = le_get32(p + 56);
	if (le_get16(p + 10) != MANIFEST_HEADER_SIZE || le_get32(p + 12) != 0 ||
	    le_get32(p + 60) != 0 || m->shard_count == 0 || m->shard_id >= m->shard_count ||
	    n > MANIFEST_MAX_ENTRIES) {
		snprintf(msg, cap, "manifest header has invalid fields");
		return KV_ECORRUPT;
	}
	size_t off = MANIFEST_HEADER_SIZE;
	uint64_t last_gen = 0, last_lsn = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (len - 8 - off < ENTRY_FIXED) {
			snprintf(msg, cap, "manifest entry %u at offset %zu is cut short", i, off);
			goto corrupt;
		}
		const uint8_t *f = p + off;
		uint32_t nlen = le_get32(f + 4);
		if (len - 8 - off - ENTRY_FIXED < nlen || !name_ok(f + ENTRY_FIXED, nlen) ||
		    f[1] || f[2] || f[3] || (f[0] != MANIFEST_SNAPSHOT && f[0] != MANIFEST_AOF)) {
			snprintf(msg, cap, "manifest entry %u at offset %zu is invalid", i, off);
			goto corrupt;
		}
		uint64_t gen = le_get64(f + 8), lsn = le_get64(f + 16);
		if (f[0] == MANIFEST_SNAPSHOT && i != 0) {
			snprintf(msg, cap, "manifest entry %u: a snapshot must come first", i);
			goto corrupt;
		}
		if (f[0] == MANIFEST_AOF && m->nentries > 0 &&
		    m->entries[m->nentries - 1].kind == MANIFEST_AOF &&
		    (gen <= last_gen || lsn < last_lsn)) {
			snprintf(msg, cap, "manifest entry %u: segments out of order", i);
			goto corrupt;
		}
		char name[MANIFEST_NAME_MAX + 1];
		memcpy(name, f + ENTRY_FIXED, nlen);
		name[nlen] = '\0';
		manifest_add(m, f[0], gen, lsn, name);
		last_gen = gen;
		last_lsn = lsn;
		off += ENTRY_FIXED + nlen;
	}
	if (off != len - 8) {
		snprintf(msg, cap, "manifest has %zu bytes after its last entry", len - 8 - off);
		goto corrupt;
	}
	return 0;
corrupt:
	manifest_free(m);
	return KV_ECORRUPT;
}

void manifest_free(struct manifest *m)
{
	free(m->entries);
	m->entries = NULL;
	m->nentries = 0;
}

void manifest_add(struct manifest *m, uint8_t kind, uint64_t generation, uint64_t lsn,
		  const char *name)
{
	kv_assert(strlen(name) <= MANIFEST_NAME_MAX);
	m->entries = kv_realloc(m->entries, (m->nentries + 1) * sizeof(*m->entries));
	struct manifest_entry *e = &m->entries[m->nentries++];
	e->kind = kind;
	e->generation = generation;
	e->lsn = lsn;
	snprintf(e->name, sizeof(e->name), "%s", name);
}

void manifest_name(char *out, size_t cap, uint32_t shard_id)
{
	snprintf(out, cap, "kevy-s%u.manifest", shard_id);
}

void manifest_segment_name(char *out, size_t cap, uint32_t shard_id, uint64_t generation)
{
	snprintf(out, cap, "kevy-s%u-g%" PRIu64 ".aof", shard_id, generation);
}

int manifest_read_file(const char *path, size_t max, struct kv_buf *b)
{
	struct kvio_file f;
	int rc = kvio_open(&f, path, O_RDONLY, 0);
	if (rc < 0)
		return rc;
	b->len = 0;
	uint64_t off = 0;
	for (;;) {
		char *p = kv_buf_reserve(b, 4096);
		ssize_t n = kvio_pread(&f, p, 4096, off);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
		off += (uint64_t)n;
		if (b->len > max) {
			rc = KV_ELIMIT;
			break;
		}
	}
	kvio_close(&f);
	return rc;
}

int manifest_write_atomic(const char *dir, const char *name, const void *p, size_t len)
{
	char tmp[4096], final[4096];
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name);
	snprintf(final, sizeof(final), "%s/%s", dir, name);
	struct kvio_file f;
	int rc = kvio_open(&f, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (rc < 0)
		return rc;
	ssize_t n = kvio_pwrite(&f, p, len, 0);
	if (n != (ssize_t)len)
		rc = n < 0 ? (int)n : -ENOSPC;   /* short: a filling disk (docs/io.md) */
	if (rc == 0)
		rc = kvio_fsync(&f);
	kvio_close(&f);
	if (rc == 0)
		rc = kvio_rename(tmp, final);
	if (rc == 0)
		rc = kvio_fsync_dir(dir);
	if (rc < 0)
		kvio_unlink(tmp);
	return rc;
}
