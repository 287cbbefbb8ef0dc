/*
 * alloc.h - what kevy asks of the process's allocator beyond malloc/free:
 * its name, its byte counts, its statistics report, giving free pages back.
 *
 * Release builds link jemalloc (Debian's libjemalloc, unprefixed, so it is
 * every malloc in the process: kevy's, liburing's, zstd's, Lua's); builds
 * with sanitizers, or configured with -DKEVY_JEMALLOC=OFF, use the C
 * library's.  Why jemalloc: docs/memory.md, "The allocator".
 */
#ifndef KV_ALLOC_H
#define KV_ALLOC_H

#include <malloc.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Bytes an allocation costs the heap beyond its usable size: glibc keeps an
 * 8-byte chunk header before every block; jemalloc's small size classes
 * keep their metadata outside the block. */
#ifdef KEVY_JEMALLOC
#define KV_ALLOC_HEADER ((size_t)0)
#else
#define KV_ALLOC_HEADER sizeof(size_t)
#endif

/* The bytes the heap spends on the block at p (NULL: 0): its usable size
 * plus the allocator's header.  The store's one accounting rule.  A macro,
 * not a function of a const pointer: GCC would read such a call on freshly
 * malloc'ed bytes as a read of them ("may be used uninitialized" at -O0). */
#define kv_heap_bytes(p) \
	((p) ? malloc_usable_size((void *)(p)) + KV_ALLOC_HEADER : (size_t)0)

/* The allocator's counts, in bytes: what the program holds (allocated), the
 * pages those allocations sit in (active), and the pages the allocator has
 * mapped and touched (resident).  glibc keeps no page counts: `allocated`
 * and `active` are mallinfo2's in-use bytes, `resident` is 0 (unknown). */
struct kv_alloc_counts {
	uint64_t allocated, active, resident;
};

/* "jemalloc-5.3.0" or "libc", as INFO's mem_allocator. */
const char *kv_alloc_name(void);
/* Reads the counts: 0, or -ENOTSUP where the allocator cannot say (then
 * every count is 0). */
int kv_alloc_counts(struct kv_alloc_counts *out);
/* Appends the allocator's own statistics report (text): 0, or -ENOTSUP. */
int kv_alloc_report(struct kv_buf *out);
/* Gives free pages back to the system (MEMORY PURGE). */
void kv_alloc_purge(void);

#endif
