/*
 * lru.h - the memory-limit settings and each key's 24-bit access clock
 * (Redis's robj.lru), as pure functions of time and randomness.
 *
 * Every entry carries 24 bits (store.c keeps them in the entry header).
 * What they mean depends on the eviction policy in force when they are
 * read, as in Redis:
 *   - LRU (every policy but the *-lfu ones): the last access time in
 *     seconds, modulo 2^24 (about 194 days; older keys wrap around and look
 *     young again, exactly as in Redis).
 *   - LFU (allkeys-lfu, volatile-lfu): the high 16 bits are the minute of
 *     the last decrement (modulo 2^16), the low 8 bits a logarithmic access
 *     counter.  A new key starts at LFU_INIT_VAL so it is not evicted before
 *     it had a chance to be read; each access first decays the counter by
 *     one per lfu-decay-time minutes elapsed, then increments it with
 *     probability 1 / ((counter - LFU_INIT_VAL) * lfu-log-factor + 1).
 * Switching policies at run time reinterprets the bits: LRU and LFU data
 * take a while to adjust (Redis's OBJECT IDLETIME/FREQ errors say so).
 *
 * The settings live here, below the command layer, so that the store can
 * read them on every access without a call upward; CONFIG SET
 * (commands/config.c) writes them.  Clocks are not persisted: after a
 * restart every key's clock is its load time.
 *
 * Not here: choosing victims (evict.h).
 */
#ifndef KV_LRU_H
#define KV_LRU_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Values of maxmemory-policy, in the order Redis lists them (its CONFIG
 * SET error names them in this order). */
enum evict_policy {
	EVICT_VOLATILE_LRU = 0,
	EVICT_VOLATILE_LFU,
	EVICT_VOLATILE_RANDOM,
	EVICT_VOLATILE_TTL,
	EVICT_ALLKEYS_LRU,
	EVICT_ALLKEYS_LFU,
	EVICT_ALLKEYS_RANDOM,
	EVICT_NOEVICTION,
};

/* maxmemory and friends, Redis 7.0's defaults: 0 (no limit), noeviction,
 * 5 samples, tenacity 10, lfu-log-factor 10, lfu-decay-time 1. */
struct kv_memory_settings {
	_Atomic int64_t maxmemory;          /* bytes, for the whole process; 0: none */
	_Atomic int policy;                 /* enum evict_policy */
	_Atomic int64_t samples;            /* maxmemory-samples, 1..64 */
	_Atomic int64_t tenacity;           /* maxmemory-eviction-tenacity, 0..100 */
	_Atomic int64_t lfu_log_factor;
	_Atomic int64_t lfu_decay_time;     /* minutes; 0: never decay */
};
extern struct kv_memory_settings kv_memory;
/* Redis's names of the policies, indexed by enum evict_policy, NULL-ended
 * (CONFIG's list of values, INFO's maxmemory_policy). */
extern const char *const evict_policy_names[];

#define LRU_CLOCK_MAX ((UINT32_C(1) << 24) - 1)
#define LFU_INIT_VAL 5

static inline enum evict_policy kv_memory_policy(void)
{
	return (enum evict_policy)atomic_load_explicit(&kv_memory.policy, memory_order_relaxed);
}
static inline bool evict_policy_is_lfu(enum evict_policy p)
{
	return p == EVICT_ALLKEYS_LFU || p == EVICT_VOLATILE_LFU;
}
/* Whether a policy picks victims only among keys that carry a deadline. */
static inline bool evict_policy_is_volatile(enum evict_policy p)
{
	return p <= EVICT_VOLATILE_TTL;
}

/* ---- LRU ---- */
/* The LRU clock at now_ms: seconds modulo 2^24. */
uint32_t lru_clock_at(int64_t now_ms);
/* Milliseconds since an LRU clock value, allowing one wrap-around (second
 * resolution, as Redis's estimateObjectIdleTime). */
uint64_t lru_idle_ms(uint32_t clock, int64_t now_ms);

/* ---- LFU ---- */
/* Minutes modulo 2^16 at now_ms. */
uint32_t lfu_minutes_at(int64_t now_ms);
/* The counter of an LFU clock after the decay due at now_ms (decay_time
 * minutes per step; 0 never decays).  Does not change the clock. */
uint8_t lfu_decayed(uint32_t clock, int64_t now_ms, int64_t decay_time);
/* One logarithmic increment; r is uniform in [0, 1). */
uint8_t lfu_log_incr(uint8_t counter, int64_t log_factor, double r);
static inline uint32_t lfu_make(uint32_t minutes, uint8_t counter)
{
	return (minutes & 0xffffu) << 8 | counter;
}

/* ---- per policy (read kv_memory) ---- */
/* The clock of a key created at now_ms. */
uint32_t key_clock_new(int64_t now_ms);
/* The clock after an access at now_ms; rand64 feeds the LFU increment. */
uint32_t key_clock_touch(uint32_t clock, int64_t now_ms, uint64_t rand64);

#endif
