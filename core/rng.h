/*
 * rng — the counter-based random numbers of the determinism contract (docs/architecture.md).
 *
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3",
 * SC'11): a keyed bijection of a 128-bit counter. A draw is a pure function of
 * (key, counter), so there is no generator state to carry between workers, threads
 * or retries: sample i of prompt j at position t draws from counter (i, j, t, 0)
 * under its stage's key, whatever else happened before.
 *
 * Keys are 64-bit and derived by hashing a parent key with a value or a string:
 *   key = rng_key_str(rng_key_u64(seed, step), "rollout")
 * `struct rng` is a convenience stream: a key plus a running counter, for code that
 * wants many draws in sequence (weight init: one stream per tensor).
 */
#ifndef R1_RNG_H
#define R1_RNG_H

#include <stdint.h>

/* Philox4x32-10 of counter ctr under key; writes four 32-bit words. */
void rng_philox(uint64_t key, const uint32_t ctr[4], uint32_t out[4]);

uint64_t rng_key_u64(uint64_t parent, uint64_t value);
uint64_t rng_key_str(uint64_t parent, const char *s);

/* Uniform in [0, 1) with 24 random bits, from counter (a, b, c, d). */
float rng_uniform4(uint64_t key, uint32_t a, uint32_t b, uint32_t c, uint32_t d);

struct rng {
	uint64_t key;
	uint64_t counter; /* next block index */
	uint32_t buf[4];
	int left;         /* unused words in buf */
};

void rng_init(struct rng *r, uint64_t key);
uint32_t rng_u32(struct rng *r);
float rng_uniform(struct rng *r);   /* [0, 1) */
float rng_normal(struct rng *r);    /* N(0, 1), Box-Muller */

#endif
