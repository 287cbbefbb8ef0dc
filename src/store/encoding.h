/*
 * encoding.h - the thresholds that choose a collection's compact encoding,
 * Redis's hash-max-listpack-*, set-max-intset-entries and
 * zset-max-listpack-* settings, changeable at run time: CONFIG SET
 * (commands/config.c) writes them, every insert reads them.  As in Redis, a
 * change applies to later inserts: a collection that already converted
 * stays converted.
 *
 * Each type clamps a threshold to what its packed layout can hold (the
 * *_PACKED_MAX_* and SET_MAX_INTSET_ENTRIES maxima of t_hash.h, t_set.h and
 * t_zset.h): set above that, kevy converts where its layout ends, earlier
 * than Redis would (docs/compatibility.md, "Encodings").
 *
 * list-max-listpack-size and list-compress-depth are kept for CONFIG GET
 * and SET; kevy's lists have one representation, which OBJECT ENCODING
 * calls quicklist, as Redis 7.0 does for every list.
 */
#ifndef KV_ENCODING_H
#define KV_ENCODING_H

#include <stdatomic.h>
#include <stdint.h>

struct kv_encoding_limits {
	_Atomic int64_t hash_max_listpack_entries;
	_Atomic int64_t hash_max_listpack_value;
	_Atomic int64_t set_max_intset_entries;
	_Atomic int64_t zset_max_listpack_entries;
	_Atomic int64_t zset_max_listpack_value;
	_Atomic int64_t list_max_listpack_size;
	_Atomic int64_t list_compress_depth;
	/* Bytes a sparse HyperLogLog may reach before it turns dense (hll.h). */
	_Atomic int64_t hll_sparse_max_bytes;
	/* A stream block closes at this many bytes / entries (0: no limit on
	 * that axis; t_stream.h). */
	_Atomic int64_t stream_node_max_bytes;
	_Atomic int64_t stream_node_max_entries;
};

/* Redis 7.0's defaults: 512, 64, 512, 128, 64, -2, 0, 3000. */
extern struct kv_encoding_limits kv_encoding;

/* A threshold as a count, clamped to [0, cap]. */
static inline uint64_t kv_encoding_limit(_Atomic int64_t *setting, uint64_t cap)
{
	int64_t v = atomic_load_explicit(setting, memory_order_relaxed);
	if (v < 0)
		return 0;
	return (uint64_t)v > cap ? cap : (uint64_t)v;
}

#endif
