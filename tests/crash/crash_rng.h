/*
 * crash_rng.h - the seeded PRNG of the crash suite's C drivers (splitmix64):
 * small, fast, and the same stream from the same printed seed on every
 * machine, so a failure replays from its seed.
 */
#ifndef KV_CRASH_RNG_H
#define KV_CRASH_RNG_H

#include <stdint.h>

struct crash_rng {
	uint64_t s;
};

static inline uint64_t crash_rng_next(struct crash_rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform enough in [0, n); 0 when n is 0. */
static inline uint64_t crash_rng_below(struct crash_rng *r, uint64_t n)
{
	return n ? crash_rng_next(r) % n : 0;
}

#endif
