/*
 * encoding.c - the compact-encoding thresholds' one instance (encoding.h).
 */
#include "store/encoding.h"

struct kv_encoding_limits kv_encoding = {
	.hash_max_listpack_entries = 512,
	.hash_max_listpack_value = 64,
	.set_max_intset_entries = 512,
	.zset_max_listpack_entries = 128,
	.zset_max_listpack_value = 64,
	.list_max_listpack_size = -2,
	.list_compress_depth = 0,
	.hll_sparse_max_bytes = 3000,
	.stream_node_max_bytes = 4096,
	.stream_node_max_entries = 100,
};
