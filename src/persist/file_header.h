/*
 * file_header.h - the 72-byte header every kevy data file starts with (an
 * AOF segment, a snapshot): magic, version, length, flags, dataset id, shard
 * id and count, generation, an LSN (the segment's start or the snapshot's
 * cut), creation time, and an XXH3-64 of the rest.  One encoder and one
 * checker for both formats, so they judge a header the same way; each
 * format gives its magic, version and names (aof_format.c, snap_format.c).
 * Byte layout: the top of file_header.c and docs/format.md.
 */
#ifndef KV_FILE_HEADER_H
#define KV_FILE_HEADER_H

#include <stddef.h>
#include <stdint.h>

#define FILE_HEADER_SIZE 72
#define FILE_DATASET_ID_LEN 16

struct file_kind {
	const char *magic;          /* 8 bytes */
	uint16_t version;           /* the one this kevy writes, the newest it reads */
	uint16_t min_version;       /* the oldest it reads (0: only version) */
	const char *foreign;        /* "not a kevy AOF file" */
	const char *name;           /* "AOF", for "AOF format version 2 ..." */
};

struct file_header {
	uint16_t version;
	uint8_t dataset_id[FILE_DATASET_ID_LEN];
	uint32_t shard_id;
	uint32_t shard_count;
	uint64_t generation;
	uint64_t lsn;
	int64_t created_ms;
	uint64_t checksum;          /* stored (decode) or computed (encode) */
};

enum {
	FILE_EXPECT_DATASET = 1u << 0,
	FILE_EXPECT_SHARD = 1u << 1,
	FILE_EXPECT_SHARD_COUNT = 1u << 2,
	FILE_EXPECT_GENERATION = 1u << 3,
};
struct file_expect {
	unsigned fields;
	uint8_t dataset_id[FILE_DATASET_ID_LEN];
	uint32_t shard_id;
	uint32_t shard_count;
	uint64_t generation;
};

enum file_header_fault {
	FILE_HDR_OK = 0,
	FILE_HDR_FOREIGN,           /* bad magic */
	FILE_HDR_SHORT,             /* fewer bytes than the header */
	FILE_HDR_CORRUPT,           /* checksum or a field rule */
	FILE_HDR_VERSION,           /* verifies, version unknown */
	FILE_HDR_MISMATCH,          /* another dataset/shard/count/generation */
};

/* A header of kind k's current version, checksum computed. */
void file_header_init(const struct file_kind *k, struct file_header *h,
		      const uint8_t dataset_id[FILE_DATASET_ID_LEN], uint32_t shard_id,
		      uint32_t shard_count, uint64_t generation, uint64_t lsn, int64_t created_ms);
/* Serialize h into out; h->checksum receives the checksum. */
void file_header_encode(const struct file_kind *k, struct file_header *h,
			uint8_t out[FILE_HEADER_SIZE]);
/* Decode and check p[0..len) (exp may be NULL).  Returns 0 (h filled),
 * KV_ETORN (FILE_HDR_SHORT), KV_ECORRUPT (FOREIGN, CORRUPT), KV_EVERSION or
 * KV_EMISMATCH, with *fault and one line in msg (both may be NULL). */
int file_header_decode(const struct file_kind *k, const void *p, size_t len,
		       const struct file_expect *exp, struct file_header *h,
		       enum file_header_fault *fault, char *msg, size_t cap);

#endif
