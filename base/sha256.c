#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of
 * the first 64 primes. */
static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static uint32_t rotr(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* §6.2.2: one 512-bit block into the chaining value. */
static void compress_portable(uint32_t h[8], const uint8_t block[SHA256_BLOCK_SIZE])
{
	uint32_t w[64];
	for (int t = 0; t < 16; t++)
		w[t] = load_be32(block + 4 * t);
	for (int t = 16; t < 64; t++) {
		uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
		uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
		w[t] = w[t - 16] + s0 + w[t - 7] + s1;
	}
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6],
		hh = h[7];
	for (int t = 0; t < 64; t++) {
		uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
		uint32_t ch = (e & f) ^ (~e & g);
		uint32_t t1 = hh + S1 + ch + K[t] + w[t];
		uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
		uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
		uint32_t t2 = S0 + maj;
		hh = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += hh;
}

#if defined(__x86_64__)
#include <immintrin.h>

/*
 * The same compression with the x86 SHA extensions (Intel's "SHA-NI", in every
 * AMD Zen and Intel CPU since Ice Lake / Goldmont): about five times the portable
 * speed, and the daemon and workers hash every checkpoint they move. The state
 * lives in two registers as (A,B,E,F) and (C,D,G,H), the layout SHA256RNDS2 wants;
 * each group of four rounds takes four message words W[4g..4g+3], and from g = 4
 * on they come from SHA256MSG1/MSG2 exactly as §6.2.2 step 1 defines them.
 */
__attribute__((target("sha,sse4.1,ssse3")))
static void compress_shani(uint32_t h[8], const uint8_t block[SHA256_BLOCK_SIZE])
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	__m128i dcba = _mm_loadu_si128((const __m128i *)(const void *)&h[0]);
	__m128i hgfe = _mm_loadu_si128((const __m128i *)(const void *)&h[4]);
	__m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
	__m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
	__m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
	__m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
	__m128i abef0 = abef, cdgh0 = cdgh, w[4];
	for (int g = 0; g < 16; g++) {
		if (g < 4)
			w[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)
				(block + 16 * g)), bswap);
		else
			w[g & 3] = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(w[g & 3],
				w[(g + 1) & 3]), _mm_alignr_epi8(w[(g + 3) & 3], w[(g + 2) & 3], 4)),
				w[(g + 3) & 3]);
		__m128i msg = _mm_add_epi32(w[g & 3], _mm_loadu_si128((const __m128i *)(const void *)
			&K[4 * g]));
		cdgh = _mm_sha256rnds2_epu32(cdgh, abef, msg);
		abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(msg, 0x0E));
	}
	abef = _mm_add_epi32(abef, abef0);
	cdgh = _mm_add_epi32(cdgh, cdgh0);
	__m128i feba = _mm_shuffle_epi32(abef, 0x1B);
	__m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
	_mm_storeu_si128((__m128i *)(void *)&h[0], _mm_blend_epi16(feba, dchg, 0xF0));
	_mm_storeu_si128((__m128i *)(void *)&h[4], _mm_alignr_epi8(dchg, feba, 8));
}
#endif

/* The fastest compression this CPU runs; both give the same bits (test_sha256). */
static void compress(uint32_t h[8], const uint8_t block[SHA256_BLOCK_SIZE])
{
#if defined(__x86_64__)
	static int shani = -1; /* racy first call: every thread computes the same answer */
	if (shani < 0) {
		__builtin_cpu_init();
		shani = __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1") &&
			!getenv("R1FLOW_SHA256_PORTABLE");
	}
	if (shani) {
		compress_shani(h, block);
		return;
	}
#endif
	compress_portable(h, block);
}

void sha256_init(struct sha256 *h)
{
	/* §5.3.3: fractional parts of the square roots of the first 8 primes */
	static const uint32_t H0[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c,
		0x1f83d9ab, 0x5be0cd19,
	};
	memcpy(h->h, H0, sizeof H0);
	h->length = 0;
	h->used = 0;
}

void sha256_update(struct sha256 *h, const void *data, size_t size)
{
	const uint8_t *p = data;
	h->length += size;
	if (h->used) {
		size_t take = SHA256_BLOCK_SIZE - h->used;
		if (take > size)
			take = size;
		memcpy(h->block + h->used, p, take);
		h->used += take;
		p += take;
		size -= take;
		if (h->used < SHA256_BLOCK_SIZE)
			return;
		compress(h->h, h->block);
		h->used = 0;
	}
	for (; size >= SHA256_BLOCK_SIZE; p += SHA256_BLOCK_SIZE, size -= SHA256_BLOCK_SIZE)
		compress(h->h, p);
	if (size) {
		memcpy(h->block, p, size);
		h->used = size;
	}
}

void sha256_final(struct sha256 *h, uint8_t digest[SHA256_DIGEST_SIZE])
{
	/* §5.1.1: a 1 bit, zeros up to 56 mod 64 bytes, the length in bits (64-bit BE) */
	uint64_t bits = h->length * 8;
	h->block[h->used++] = 0x80;
	if (h->used > 56) {
		memset(h->block + h->used, 0, SHA256_BLOCK_SIZE - h->used);
		compress(h->h, h->block);
		h->used = 0;
	}
	memset(h->block + h->used, 0, 56 - h->used);
	store_be32(h->block + 56, (uint32_t)(bits >> 32));
	store_be32(h->block + 60, (uint32_t)bits);
	compress(h->h, h->block);
	for (int i = 0; i < 8; i++)
		store_be32(digest + 4 * i, h->h[i]);
	h->used = 0;
}

void sha256_hex(const uint8_t digest[SHA256_DIGEST_SIZE], char hex[SHA256_HEX_SIZE])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 15];
	}
	hex[64] = '\0';
}

void sha256_buffer(const void *data, size_t size, char hex[SHA256_HEX_SIZE])
{
	struct sha256 h;
	uint8_t digest[SHA256_DIGEST_SIZE];
	sha256_init(&h);
	sha256_update(&h, data, size);
	sha256_final(&h, digest);
	sha256_hex(digest, hex);
}

int sha256_file(const char *path, char hex[SHA256_HEX_SIZE], int64_t *size, struct err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_sys(err, errno, "cannot read '%s'", path);
	struct sha256 h;
	uint8_t buf[1 << 16], digest[SHA256_DIGEST_SIZE];
	int64_t total = 0;
	sha256_init(&h);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int saved = errno;
			close(fd);
			return err_sys(err, saved, "cannot read '%s'", path);
		}
		sha256_update(&h, buf, (size_t)n);
		total += n;
	}
	close(fd);
	sha256_final(&h, digest);
	sha256_hex(digest, hex);
	if (size)
		*size = total;
	return 0;
}

int sha256_hex_valid(const char *s)
{
	if (!s)
		return 0;
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}
