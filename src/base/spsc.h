/*
 * spsc.h - a bounded single-producer/single-consumer ring of pointers, the
 * only channel between two shard threads (one ring per ordered pair).
 *
 * The producer publishes a slot with a release store of `tail`; the consumer
 * reads it after an acquire load, so everything the producer wrote before
 * pushing (the message and any keyspace it lent) is visible to the consumer.
 * Full is reported, never waited on: the sender keeps an overflow list.
 */
#ifndef KV_SPSC_H
#define KV_SPSC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/kv.h"

#define SPSC_CACHELINE 64

struct spsc_ring {
	_Alignas(SPSC_CACHELINE) _Atomic uint32_t head;  /* consumer's position */
	uint32_t tail_cache;                             /* consumer's view of tail */
	_Alignas(SPSC_CACHELINE) _Atomic uint32_t tail;  /* producer's position */
	uint32_t head_cache;                             /* producer's view of head */
	_Alignas(SPSC_CACHELINE) uint32_t mask;
	void **slots;
};

static inline void spsc_init(struct spsc_ring *r, uint32_t capacity_pow2)
{
	kv_assert(capacity_pow2 >= 2 && (capacity_pow2 & (capacity_pow2 - 1)) == 0);
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	r->tail_cache = 0;
	r->head_cache = 0;
	r->mask = capacity_pow2 - 1;
	r->slots = kv_calloc(capacity_pow2, sizeof(void *));
}

static inline void spsc_destroy(struct spsc_ring *r)
{
	free(r->slots);
	r->slots = NULL;
}

/* Producer side.  Returns false when full. */
static inline bool spsc_push(struct spsc_ring *r, void *p)
{
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	if (tail - r->head_cache > r->mask) {
		r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
		if (tail - r->head_cache > r->mask)
			return false;
	}
	r->slots[tail & r->mask] = p;
	atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
	return true;
}

/* Consumer side.  Returns NULL when empty. */
static inline void *spsc_pop(struct spsc_ring *r)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	if (head == r->tail_cache) {
		r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
		if (head == r->tail_cache)
			return NULL;
	}
	void *p = r->slots[head & r->mask];
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
	return p;
}

/* Consumer side: true if something is waiting (fresh acquire load). */
static inline bool spsc_nonempty(struct spsc_ring *r)
{
	return atomic_load_explicit(&r->head, memory_order_relaxed) !=
	       atomic_load_explicit(&r->tail, memory_order_acquire);
}

#endif
