/*
 * sha256 — SHA-256 (FIPS 180-4 §6.2), streaming, for content-addressed blobs.
 *
 * Checkpoints and other blobs are named by the sha256 of their bytes; the daemon
 * hashes what it stores and a worker hashes what it fetched before using it.
 *
 *   struct sha256 h;
 *   sha256_init(&h);
 *   sha256_update(&h, data, n);          any number of times, any sizes
 *   sha256_final(&h, digest);            32 bytes; `h` must be re-initialised after
 *   sha256_hex(digest, hex);             64 lowercase hex digits and a NUL
 *
 * sha256_buffer and sha256_file do all of it at once. The state is a plain value:
 * copy it to hash a common prefix once. Nothing allocates; nothing is shared
 * between threads. Checked against the NIST FIPS 180-4 example vectors
 * (tests/unit/test_sha256.c).
 */
#ifndef R1_SHA256_H
#define R1_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SHA256_DIGEST_SIZE 32
#define SHA256_HEX_SIZE    65   /* 64 hex digits + NUL */
#define SHA256_BLOCK_SIZE  64

struct sha256 {
	uint32_t h[8];                      /* chaining value H(i) */
	uint64_t length;                    /* bytes hashed so far */
	uint8_t block[SHA256_BLOCK_SIZE];   /* a partial block waiting for more bytes */
	size_t used;                        /* bytes of `block` in use, < 64 */
};

void sha256_init(struct sha256 *h);
void sha256_update(struct sha256 *h, const void *data, size_t size);

/* Pad, write the digest, and leave `h` spent (call sha256_init to reuse it). */
void sha256_final(struct sha256 *h, uint8_t digest[SHA256_DIGEST_SIZE]);

/* Lowercase hex of a digest into `hex` (SHA256_HEX_SIZE bytes, NUL-terminated). */
void sha256_hex(const uint8_t digest[SHA256_DIGEST_SIZE], char hex[SHA256_HEX_SIZE]);

/* Hash `size` bytes into lowercase hex. */
void sha256_buffer(const void *data, size_t size, char hex[SHA256_HEX_SIZE]);

/* Hash the whole file at `path` into lowercase hex; *size (may be NULL) receives its
 * length. -1 and err ("cannot read 'x': ...") if it cannot be read. */
int sha256_file(const char *path, char hex[SHA256_HEX_SIZE], int64_t *size, struct err *err);

/* Whether `s` is exactly 64 lowercase hex digits (a sha256 as r1flow writes it). */
int sha256_hex_valid(const char *s);

#endif
