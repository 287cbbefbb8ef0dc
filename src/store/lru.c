/*
 * lru.c - the memory-limit settings and the per-key access clock (lru.h).
 *
 * The arithmetic follows Redis 7.0's evict.c (LRU clock, LFU decay and
 * logarithmic increment), so OBJECT IDLETIME and OBJECT FREQ answer what
 * Redis answers for the same access pattern.
 */
#include "store/lru.h"

#include <stddef.h>

struct kv_memory_settings kv_memory = {
	.maxmemory = 0,
	.policy = EVICT_NOEVICTION,
	.samples = 5,
	.tenacity = 10,
	.lfu_log_factor = 10,
	.lfu_decay_time = 1,
};

const char *const evict_policy_names[] = {
	"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru",
	"allkeys-lfu", "allkeys-random", "noeviction", NULL };

uint32_t lru_clock_at(int64_t now_ms)
{
	return (uint32_t)((uint64_t)(now_ms / 1000) & LRU_CLOCK_MAX);
}

uint64_t lru_idle_ms(uint32_t clock, int64_t now_ms)
{
	uint32_t now = lru_clock_at(now_ms);
	clock &= LRU_CLOCK_MAX;
	if (now >= clock)
		return (uint64_t)(now - clock) * 1000;
	return (uint64_t)(now + (LRU_CLOCK_MAX - clock)) * 1000;
}

uint32_t lfu_minutes_at(int64_t now_ms)
{
	return (uint32_t)((uint64_t)(now_ms / 60000) & 0xffffu);
}

/* Minutes since a 16-bit minute stamp, allowing one wrap-around. */
static uint32_t lfu_elapsed(uint32_t then, int64_t now_ms)
{
	uint32_t now = lfu_minutes_at(now_ms);
	if (now >= then)
		return now - then;
	return 0xffffu - then + now;
}

uint8_t lfu_decayed(uint32_t clock, int64_t now_ms, int64_t decay_time)
{
	uint8_t counter = (uint8_t)(clock & 0xffu);
	if (decay_time <= 0)
		return counter;
	uint64_t periods = lfu_elapsed((clock >> 8) & 0xffffu, now_ms) / (uint64_t)decay_time;
	return periods >= counter ? 0 : (uint8_t)(counter - periods);
}

uint8_t lfu_log_incr(uint8_t counter, int64_t log_factor, double r)
{
	if (counter == 255)
		return counter;
	double base = counter > LFU_INIT_VAL ? (double)(counter - LFU_INIT_VAL) : 0.0;
	double p = 1.0 / (base * (double)(log_factor < 0 ? 0 : log_factor) + 1.0);
	return r < p ? (uint8_t)(counter + 1) : counter;
}

uint32_t key_clock_new(int64_t now_ms)
{
	if (evict_policy_is_lfu(kv_memory_policy()))
		return lfu_make(lfu_minutes_at(now_ms), LFU_INIT_VAL);
	return lru_clock_at(now_ms);
}

uint32_t key_clock_touch(uint32_t clock, int64_t now_ms, uint64_t rand64)
{
	if (!evict_policy_is_lfu(kv_memory_policy()))
		return lru_clock_at(now_ms);
	int64_t decay = atomic_load_explicit(&kv_memory.lfu_decay_time, memory_order_relaxed);
	int64_t factor = atomic_load_explicit(&kv_memory.lfu_log_factor, memory_order_relaxed);
	uint8_t counter = lfu_decayed(clock, now_ms, decay);
	/* 53 random bits make a uniform double in [0, 1). */
	double r = (double)(rand64 >> 11) * (1.0 / 9007199254740992.0);
	counter = lfu_log_incr(counter, factor, r);
	return lfu_make(lfu_minutes_at(now_ms), counter);
}
