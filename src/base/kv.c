/*
 * kv.c - the small shared runtime of kv.h: error strings, the assertion
 * handler, aborting allocators, clocks and the key hash.
 */
#include "base/kv.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <stdio.h>
#include <sys/random.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

const char *kv_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case KV_ECORRUPT: return "corrupt data (checksum or structure mismatch)";
	case KV_ETORN: return "torn write at end of file";
	case KV_EVERSION: return "unsupported format version";
	case KV_EMISMATCH: return "file belongs to another dataset, shard or shard count";
	case KV_EPROTO: return "protocol error";
	case KV_ELIMIT: return "limit exceeded";
	case KV_ECONFIG: return "invalid configuration";
	default: break;
	}
	if (err < 0 && err > KV_ERR_BASE)
		return strerror(-err);
	return "unknown error";
}

void kv_assert_fail(const char *expr, const char *file, int line)
{
	fprintf(stderr, "kevy: assertion failed: %s (%s:%d)\n", expr, file, line);
	fflush(stderr);
	abort();
}

static _Noreturn void kv_oom(size_t n)
{
	fprintf(stderr, "kevy: out of memory allocating %zu bytes\n", n);
	abort();
}

void *kv_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		kv_oom(n);
	return p;
}

void *kv_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		kv_oom(n * size);
	return p;
}

void *kv_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		kv_oom(n);
	return q;
}

void *kv_malloc_aligned(size_t align, size_t n)
{
	size_t len = (n + align - 1) & ~(align - 1);
	void *p = aligned_alloc(align, len ? len : align);
	if (!p)
		kv_oom(len);
	return p;
}

char *kv_strndup(const char *s, size_t n)
{
	char *p = kv_malloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void kv_random_id(char out[41])
{
	unsigned char rnd[20];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		uint64_t t = (uint64_t)kv_time_us() ^ (uint64_t)getpid();
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)(i * 37);
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		sprintf(out + i * 2, "%02x", rnd[i]);
}

int64_t kv_time_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t kv_time_ms(void)
{
	return kv_time_us() / 1000;
}

int64_t kv_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t kv_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool kv_ticks_tsc;
static uint64_t kv_ticks_ref;
static int64_t kv_ticks_ref_ns;

void kv_ticks_init(void)
{
#if defined(__x86_64__)
	unsigned a, b, c, d;
	/* CPUID 0x80000007 EDX bit 8: the TSC ticks at a constant rate in
	 * every power state and on every core. */
	kv_ticks_tsc = __get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8));
#endif
	kv_ticks_ref_ns = kv_mono_ns();
	kv_ticks_ref = kv_ticks();
}

/* The counter's rate is measured against the monotonic clock over the time
 * since kv_ticks_init(): by the first INFO that is milliseconds at least,
 * which pins it far below the precision INFO prints. */
double kv_ticks_to_ns(uint64_t ticks)
{
	if (!kv_ticks_tsc)
		return (double)ticks;
	int64_t ns = kv_mono_ns() - kv_ticks_ref_ns;
	uint64_t t = kv_ticks() - kv_ticks_ref;
	if (ns <= 0 || t == 0)
		return 0;
	return (double)ticks * (double)ns / (double)t;
}

uint64_t kv_hash64(const void *p, size_t len, uint64_t seed)
{
	return XXH3_64bits_withSeed(p, len, seed);
}

uint64_t kv_key_hash(const char *key, size_t len)
{
	const char *open = memchr(key, '{', len);
	if (open) {
		size_t start = (size_t)(open - key) + 1;
		const char *close = memchr(key + start, '}', len - start);
		if (close && close > key + start) {
			key += start;
			len = (size_t)(close - key);
		}
	}
	return XXH3_64bits(key, len);
}
