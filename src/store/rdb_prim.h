/*
 * rdb_prim.h - the two primitives under Redis's DUMP payloads: the CRC-64
 * that closes every payload, and LZF, the compression Redis applies to
 * strings longer than 20 bytes.
 *
 * Both are written from the descriptions of the formats (docs/format.md,
 * "Redis DUMP payloads"), not taken from Redis.  The compressor follows the
 * exact choices of the LZF 3.6 that Redis 7.0 builds (16-bit hash table,
 * "very fast" mode), so kevy's DUMP of a string is byte-identical to
 * redis-server's; the decompressor accepts any valid LZF stream.
 *
 * Not here: where these bytes sit in a payload (rdb_value.h).
 */
#ifndef KV_RDB_PRIM_H
#define KV_RDB_PRIM_H

#include <stddef.h>
#include <stdint.h>

/* CRC-64/Jones (reflected polynomial 0xad93d23594c935a9, init 0, no final
 * xor), as Redis's crc64(): continue a running crc over n bytes (start with
 * 0).  crc64 of "123456789" is 0xe9c6d914c4b8d9ca. */
uint64_t rdb_crc64(uint64_t crc, const void *p, size_t n);

/* The compressor's hash table, reused across calls so that compressing many
 * small strings costs no clearing: each entry carries the generation of the
 * call that wrote it.  Zero-initialise, then free with rdb_lzf_table_free. */
struct rdb_lzf_table {
	uint64_t *slots;   /* 65536 entries: generation << 32 | position + 1 */
	uint32_t gen;
};
void rdb_lzf_table_free(struct rdb_lzf_table *t);

/* Compress in_len bytes into out, which has room for out_len bytes plus
 * RDB_LZF_OUT_SLACK more (the compressor, like LZF's, may write a few bytes
 * past out_len before it decides).  Returns the compressed length, or 0 when
 * the result would not fit in out_len (Redis then stores the string as is). */
#define RDB_LZF_OUT_SLACK 8
size_t rdb_lzf_compress(struct rdb_lzf_table *t, const void *in, size_t in_len, void *out,
			size_t out_len);

/* Decompress in_len bytes into exactly out_len bytes.  Returns 0, or
 * KV_ECORRUPT when the stream is malformed (a back reference before the
 * start, a run past either end) or does not produce exactly out_len bytes. */
int rdb_lzf_decompress(const void *in, size_t in_len, void *out, size_t out_len);

#endif
