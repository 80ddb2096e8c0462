#include "rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void rng_philox(uint64_t key, const uint32_t ctr[4], uint32_t out[4])
{
	uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
	uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
	for (int round = 0; round < 10; round++) {
		uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
		uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
		uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
		uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
		c1 = (uint32_t)p1;
		c3 = (uint32_t)p0;
		c0 = n0;
		c2 = n2;
		k0 += PHILOX_W0;
		k1 += PHILOX_W1;
	}
	out[0] = c0;
	out[1] = c1;
	out[2] = c2;
	out[3] = c3;
}

/* SplitMix64's finaliser: a bijective 64-bit mix. */
static uint64_t rng_mix(uint64_t z)
{
	z += 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

uint64_t rng_key_u64(uint64_t parent, uint64_t value)
{
	return rng_mix(rng_mix(parent) ^ value);
}

uint64_t rng_key_str(uint64_t parent, const char *s)
{
	uint64_t h = 0xCBF29CE484222325ull; /* FNV-1a, then mixed with the parent */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
	return rng_key_u64(parent, h);
}

static float rng_to_unit(uint32_t x)
{
	return (float)(x >> 8) * (1.0f / 16777216.0f);
}

float rng_uniform4(uint64_t key, uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
	uint32_t ctr[4] = { a, b, c, d }, out[4];
	rng_philox(key, ctr, out);
	return rng_to_unit(out[0]);
}

void rng_init(struct rng *r, uint64_t key)
{
	r->key = key;
	r->counter = 0;
	r->left = 0;
}

uint32_t rng_u32(struct rng *r)
{
	if (r->left == 0) {
		uint32_t ctr[4] = { (uint32_t)r->counter, (uint32_t)(r->counter >> 32), 0, 0 };
		rng_philox(r->key, ctr, r->buf);
		r->counter++;
		r->left = 4;
	}
	return r->buf[4 - r->left--];
}

float rng_uniform(struct rng *r)
{
	return rng_to_unit(rng_u32(r));
}

float rng_normal(struct rng *r)
{
	/* u1 in (0, 1] so the log is finite */
	float u1 = ((float)(rng_u32(r) >> 8) + 1.0f) * (1.0f / 16777216.0f);
	float u2 = rng_uniform(r);
	return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530717958648f * u2);
}
