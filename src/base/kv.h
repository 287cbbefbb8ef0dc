/*
 * kv.h - definitions every kevy module shares: error codes, assertions,
 * allocation that never returns NULL, clocks, and the key hash.
 *
 * Errors travel as values: functions return 0 (or a count) on success and a
 * negative errno on failure.  kevy's own conditions (corrupt file, torn tail,
 * unknown version, ...) live in a reserved band below KV_ERR_BASE so they never
 * collide with an errno; kv_strerror() names both kinds.
 *
 * Assertions (kv_assert) stay on in release builds.  They guard invariants of
 * kevy's own memory, never bytes that came from a disk or a socket: those are
 * validated and rejected with an error.
 */
#ifndef KV_H
#define KV_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define KV_VERSION "0.1.0"
/* The Redis version kevy's command semantics follow; reported where clients
 * look for it (INFO redis_version, HELLO version). */
#define KV_REDIS_COMPAT_VERSION "7.0.15"

enum kv_error {
	KV_ERR_BASE = -100000,
	KV_ECORRUPT = KV_ERR_BASE - 1,   /* checksum or structure mismatch */
	KV_ETORN = KV_ERR_BASE - 2,      /* incomplete record at a file's tail */
	KV_EVERSION = KV_ERR_BASE - 3,   /* unknown format version */
	KV_EMISMATCH = KV_ERR_BASE - 4,  /* file of another dataset/shard/count */
	KV_EPROTO = KV_ERR_BASE - 5,     /* protocol error from a client */
	KV_ELIMIT = KV_ERR_BASE - 6,     /* a configured limit was exceeded */
	KV_ECONFIG = KV_ERR_BASE - 7,    /* invalid configuration */
	KV_ERR_LAST = KV_ERR_BASE - 8,
};

/* Message for a kevy error code or a negative errno. Never NULL. */
const char *kv_strerror(int err);

_Noreturn void kv_assert_fail(const char *expr, const char *file, int line);
#define kv_assert(expr) \
	((expr) ? (void)0 : kv_assert_fail(#expr, __FILE__, __LINE__))

/* Allocation that aborts the process with a message on exhaustion: kevy has
 * no partial-failure path for running out of memory mid-command. */
void *kv_malloc(size_t n);
void *kv_calloc(size_t n, size_t size);
void *kv_realloc(void *p, size_t n);
/* n bytes at an address that is a multiple of align (a power of two, at
 * least sizeof(void *)); n is rounded up to a multiple of align.  free()
 * releases it. */
void *kv_malloc_aligned(size_t align, size_t n);
char *kv_strndup(const char *s, size_t n);

/* Wall clock in milliseconds / microseconds since the epoch (expiry
 * deadlines are absolute wall-clock ms, as in Redis). */
int64_t kv_time_ms(void);
int64_t kv_time_us(void);
/* 40 random lowercase hex digits and a NUL (run ids, replication ids). */
void kv_random_id(char out[41]);
/* Monotonic clock for durations and timers. */
int64_t kv_mono_us(void);
/* Monotonic clock in nanoseconds. */
int64_t kv_mono_ns(void);

/* Cheap timestamps for timing every command (INFO commandstats): the CPU's
 * time-stamp counter where it is invariant (x86-64 with constant and
 * nonstop TSC: about a quarter of a clock_gettime under a hypervisor's
 * clock), else kv_mono_ns().  Only differences mean anything; turn a sum of
 * them into nanoseconds with kv_ticks_to_ns(). */
extern bool kv_ticks_tsc;
static inline uint64_t kv_ticks(void)
{
#if defined(__x86_64__)
	if (kv_ticks_tsc)
		return __builtin_ia32_rdtsc();
#endif
	return (uint64_t)kv_mono_ns();
}
/* Chooses the source and takes the reference point the conversion measures
 * the counter's rate from; call once at startup, before any kv_ticks(). */
void kv_ticks_init(void);
double kv_ticks_to_ns(uint64_t ticks);

/* Slot hash of a key: the part inside the first non-empty {...} if any (as in
 * Redis Cluster), else the whole key.  kv_key_shard() maps it onto n shards.
 * The store's own table hash uses a different seed so the shard choice does
 * not bias bucket selection inside a shard. */
uint64_t kv_key_hash(const char *key, size_t len);
static inline uint32_t kv_key_shard(const char *key, size_t len, uint32_t nshards)
{
	return nshards <= 1 ? 0 : (uint32_t)(kv_key_hash(key, len) % nshards);
}
/* General-purpose 64-bit hash (XXH3) with a seed. */
uint64_t kv_hash64(const void *p, size_t len, uint64_t seed);

#define KV_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define KV_MIN(a, b) ((a) < (b) ? (a) : (b))
#define KV_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
