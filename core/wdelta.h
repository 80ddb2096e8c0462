/*
 * wdelta — an exact delta between two weights blobs of the same size: what a worker
 * that holds step s's weights fetches to rebuild step s+1's bit for bit.
 *
 * The learner writes each step's weights as a model.safetensors blob; from one step
 * to the next the header and the tensor layout stay, and every fp32 value moves a
 * little: the XOR of the two files is zero in the header and, per value, mostly
 * zero in the sign and exponent byte and low-entropy in the next one. So a delta is
 * the XOR of the two files, its 4-byte words split into byte planes (every word's
 * byte 0, then every byte 1, ...; a tail of size % 4 bytes after them), compressed
 * with zstd. Applying it XORs the planes back onto the base: the result is exactly
 * the target's bytes, whatever the values were (NaNs, denormals included), and the
 * caller checks it anyway against the target's sha256 (the blob's name), so a wrong
 * base or a damaged delta can only fail, never give other weights.
 *
 * Format (little-endian):
 *   "R1WDELT1"   8 bytes of magic
 *   size         u64: bytes of the base and of the target
 *   base         32 bytes: the base's sha256
 *   target       32 bytes: the target's sha256
 *   payload      one zstd frame of the byte planes (size bytes once decompressed)
 *
 *   wdelta_encode   the delta from base to target (both `size` bytes), malloc'd
 *   wdelta_read     the header of a delta (sizes and names), checked
 *   wdelta_apply    target = base XOR planes, into a malloc'd buffer
 *
 * Pure functions, any thread. Errors: ERR_FORMAT for a delta that does not decode or
 * does not fit the base, ERR_NOMEM.
 */
#ifndef R1_WDELTA_H
#define R1_WDELTA_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "sha256.h"

#define WDELTA_HEADER 80

struct wdelta_info {
	uint64_t size;                      /* of base and target */
	char base[SHA256_HEX_SIZE];
	char target[SHA256_HEX_SIZE];
};

int wdelta_encode(const void *base, const void *target, size_t size,
	const char *base_sha, const char *target_sha, void **out, size_t *out_size,
	struct err *err);
int wdelta_read(const void *delta, size_t n, struct wdelta_info *info, struct err *err);
int wdelta_apply(const void *delta, size_t n, const void *base, size_t base_size,
	void **out, struct err *err);

#endif
