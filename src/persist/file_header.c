/*
 * file_header.c - the header of kevy's data files (see file_header.h).
 *
 * BYTE LAYOUT (little-endian), 72 bytes:
 *      0  8  magic ("KEVYAOF\0" for a segment, "KEVYSNP\0" for a snapshot)
 *      8  2  version
 *     10  2  header length (72 for version 1)
 *     12  4  flags (0)
 *     16 16  dataset id (random, fixed at the dataset's first start; not all zero)
 *     32  4  shard id (< shard count)
 *     36  4  shard count (>= 1)
 *     40  8  generation
 *     48  8  LSN: a segment's records are all above it; a snapshot's cut
 *     56  8  creation time, ms since the epoch
 *     64  8  XXH3-64, seed 0, of bytes [0, 64)
 * Every version keeps magic, version and length at offsets 0, 8 and 10 and
 * ends its header with an XXH3-64 (seed 0) of the rest: that is how "a newer
 * kevy wrote this" (checksum verifies, version unknown) is told apart from
 * "the version field is damaged" (checksum fails).  A header that verifies
 * but breaks a field rule is the writer's mistake: corrupt.
 */
#include "persist/file_header.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/kv.h"
#include "base/le.h"

enum {
	OFF_VERSION = 8, OFF_LEN = 10, OFF_FLAGS = 12, OFF_DATASET = 16, OFF_SHARD = 32,
	OFF_COUNT = 36, OFF_GEN = 40, OFF_LSN = 48, OFF_CREATED = 56, OFF_CHECKSUM = 64,
};
/* A reader needs magic, version and length before it knows the length. */
#define MIN_PREFIX 12
#define MAX_LEN 4096

void file_header_encode(const struct file_kind *k, struct file_header *h,
			uint8_t out[FILE_HEADER_SIZE])
{
	memset(out, 0, FILE_HEADER_SIZE);
	memcpy(out, k->magic, 8);
	le_put16(out + OFF_VERSION, h->version);
	le_put16(out + OFF_LEN, FILE_HEADER_SIZE);
	memcpy(out + OFF_DATASET, h->dataset_id, FILE_DATASET_ID_LEN);
	le_put32(out + OFF_SHARD, h->shard_id);
	le_put32(out + OFF_COUNT, h->shard_count);
	le_put64(out + OFF_GEN, h->generation);
	le_put64(out + OFF_LSN, h->lsn);
	le_put64(out + OFF_CREATED, (uint64_t)h->created_ms);
	h->checksum = kv_hash64(out, OFF_CHECKSUM, 0);
	le_put64(out + OFF_CHECKSUM, h->checksum);
}

void file_header_init(const struct file_kind *k, struct file_header *h,
		      const uint8_t dataset_id[FILE_DATASET_ID_LEN], uint32_t shard_id,
		      uint32_t shard_count, uint64_t generation, uint64_t lsn, int64_t created_ms)
{
	uint8_t tmp[FILE_HEADER_SIZE];
	memset(h, 0, sizeof(*h));
	h->version = k->version;
	memcpy(h->dataset_id, dataset_id, FILE_DATASET_ID_LEN);
	h->shard_id = shard_id;
	h->shard_count = shard_count;
	h->generation = generation;
	h->lsn = lsn;
	h->created_ms = created_ms;
	file_header_encode(k, h, tmp);
}

static int fail(enum file_header_fault *fault, enum file_header_fault f, int code, char *msg,
		size_t cap, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int fail(enum file_header_fault *fault, enum file_header_fault f, int code, char *msg,
		size_t cap, const char *fmt, ...)
{
	if (fault)
		*fault = f;
	if (msg && cap) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, cap, fmt, ap);
		va_end(ap);
	}
	return code;
}

static void hex16(char out[33], const uint8_t id[FILE_DATASET_ID_LEN])
{
	for (int i = 0; i < FILE_DATASET_ID_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

static int check_expect(const struct file_header *h, const struct file_expect *exp,
			enum file_header_fault *fault, char *msg, size_t cap)
{
	if (!exp)
		return 0;
	if ((exp->fields & FILE_EXPECT_DATASET) &&
	    memcmp(h->dataset_id, exp->dataset_id, FILE_DATASET_ID_LEN) != 0) {
		char a[33], b[33];
		hex16(a, h->dataset_id);
		hex16(b, exp->dataset_id);
		return fail(fault, FILE_HDR_MISMATCH, KV_EMISMATCH, msg, cap,
			    "dataset id mismatch: file has %s, expected %s", a, b);
	}
	if ((exp->fields & FILE_EXPECT_SHARD_COUNT) && h->shard_count != exp->shard_count)
		return fail(fault, FILE_HDR_MISMATCH, KV_EMISMATCH, msg, cap,
			    "shard count mismatch: file has %" PRIu32 ", expected %" PRIu32,
			    h->shard_count, exp->shard_count);
	if ((exp->fields & FILE_EXPECT_SHARD) && h->shard_id != exp->shard_id)
		return fail(fault, FILE_HDR_MISMATCH, KV_EMISMATCH, msg, cap,
			    "shard id mismatch: file has %" PRIu32 ", expected %" PRIu32,
			    h->shard_id, exp->shard_id);
	if ((exp->fields & FILE_EXPECT_GENERATION) && h->generation != exp->generation)
		return fail(fault, FILE_HDR_MISMATCH, KV_EMISMATCH, msg, cap,
			    "generation mismatch: file has %" PRIu64 ", expected %" PRIu64,
			    h->generation, exp->generation);
	return 0;
}

int file_header_decode(const struct file_kind *k, const void *src, size_t len,
		       const struct file_expect *exp, struct file_header *h,
		       enum file_header_fault *fault, char *msg, size_t cap)
{
	const uint8_t *p = src;
	static const uint8_t zero_id[FILE_DATASET_ID_LEN];

	if (fault)
		*fault = FILE_HDR_OK;
	if (msg && cap)
		msg[0] = '\0';
	if (len && memcmp(p, k->magic, KV_MIN(len, (size_t)8)) != 0)
		return fail(fault, FILE_HDR_FOREIGN, KV_ECORRUPT, msg, cap, "%s (bad magic)",
			    k->foreign);
	if (len < MIN_PREFIX)
		return fail(fault, FILE_HDR_SHORT, KV_ETORN, msg, cap,
			    "file header incomplete: %zu of %d bytes", len, FILE_HEADER_SIZE);
	uint16_t version = le_get16(p + OFF_VERSION);
	uint16_t hlen = le_get16(p + OFF_LEN);
	uint16_t oldest = k->min_version ? k->min_version : k->version;
	bool known = version >= oldest && version <= k->version;
	if (known ? hlen != FILE_HEADER_SIZE
				  : (hlen < MIN_PREFIX + 8 || hlen > MAX_LEN))
		return fail(fault, FILE_HDR_CORRUPT, KV_ECORRUPT, msg, cap,
			    "corrupt file header: header length %u for version %u", hlen, version);
	if (len < hlen)
		return fail(fault, FILE_HDR_SHORT, KV_ETORN, msg, cap,
			    "file header incomplete: %zu of %u bytes", len, hlen);
	uint64_t stored = le_get64(p + hlen - 8);
	uint64_t computed = kv_hash64(p, (size_t)hlen - 8, 0);
	if (stored != computed)
		return fail(fault, FILE_HDR_CORRUPT, KV_ECORRUPT, msg, cap,
			    "corrupt file header: checksum %016" PRIx64 ", computed %016" PRIx64,
			    stored, computed);
	if (!known && oldest == k->version)
		return fail(fault, FILE_HDR_VERSION, KV_EVERSION, msg, cap,
			    "%s format version %u is not supported (this kevy reads version %d)",
			    k->name, version, k->version);
	if (!known)
		return fail(fault, FILE_HDR_VERSION, KV_EVERSION, msg, cap,
			    "%s format version %u is not supported (this kevy reads versions %d to %d)",
			    k->name, version, oldest, k->version);

	struct file_header d = {
		.version = version,
		.shard_id = le_get32(p + OFF_SHARD),
		.shard_count = le_get32(p + OFF_COUNT),
		.generation = le_get64(p + OFF_GEN),
		.lsn = le_get64(p + OFF_LSN),
		.created_ms = (int64_t)le_get64(p + OFF_CREATED),
		.checksum = stored,
	};
	memcpy(d.dataset_id, p + OFF_DATASET, FILE_DATASET_ID_LEN);
	/* The checksum verified, so these are the writer's mistakes; refuse them
	 * rather than guess (a zero dataset id means it was never set). */
	if (le_get32(p + OFF_FLAGS) != 0)
		return fail(fault, FILE_HDR_CORRUPT, KV_ECORRUPT, msg, cap,
			    "corrupt file header: unknown flags %08" PRIx32, le_get32(p + OFF_FLAGS));
	if (d.shard_count == 0 || d.shard_id >= d.shard_count)
		return fail(fault, FILE_HDR_CORRUPT, KV_ECORRUPT, msg, cap,
			    "corrupt file header: shard %" PRIu32 " of %" PRIu32, d.shard_id,
			    d.shard_count);
	if (memcmp(d.dataset_id, zero_id, FILE_DATASET_ID_LEN) == 0)
		return fail(fault, FILE_HDR_CORRUPT, KV_ECORRUPT, msg, cap,
			    "corrupt file header: dataset id is zero");
	int rc = check_expect(&d, exp, fault, msg, cap);
	if (rc < 0)
		return rc;
	if (h)
		*h = d;
	return 0;
}
