#include "wdelta.h"

#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#define WDELTA_MAGIC "R1WDELT1"
#define WDELTA_LEVEL 1 /* faster levels lose little here: the planes are noise or zeros */

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static int hex_to_raw(const char *hex, uint8_t raw[32])
{
	if (!sha256_hex_valid(hex))
		return -1;
	for (int i = 0; i < 32; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char c = hex[2 * i + k];
			v = v * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
		}
		raw[i] = (uint8_t)v;
	}
	return 0;
}

/* planes[k * words + i] = a[4i + k] ^ b[4i + k]; the tail after the planes. The same
 * function undoes itself with the roles swapped (unplane below). */
static void plane(const uint8_t *a, const uint8_t *b, size_t size, uint8_t *planes)
{
	size_t words = size / 4;
	for (size_t i = 0; i < words; i++)
		for (size_t k = 0; k < 4; k++)
			planes[k * words + i] = a[4 * i + k] ^ b[4 * i + k];
	for (size_t j = 4 * words; j < size; j++)
		planes[j] = a[j] ^ b[j];
}

static void unplane(const uint8_t *planes, const uint8_t *base, size_t size, uint8_t *out)
{
	size_t words = size / 4;
	for (size_t k = 0; k < 4; k++)
		for (size_t i = 0; i < words; i++)
			out[4 * i + k] = base[4 * i + k] ^ planes[k * words + i];
	for (size_t j = 4 * words; j < size; j++)
		out[j] = base[j] ^ planes[j];
}

int wdelta_encode(const void *base, const void *target, size_t size,
	const char *base_sha, const char *target_sha, void **out, size_t *out_size,
	struct err *err)
{
	*out = NULL;
	uint8_t *planes = malloc(size ? size : 1);
	size_t bound = ZSTD_compressBound(size);
	uint8_t *buf = malloc(WDELTA_HEADER + bound);
	if (!planes || !buf) {
		free(planes);
		free(buf);
		return err_set(err, ERR_NOMEM, "cannot make a weights delta of %zu bytes: out of "
			"memory", size);
	}
	memcpy(buf, WDELTA_MAGIC, 8);
	put_u64(buf + 8, size);
	if (hex_to_raw(base_sha, buf + 16) < 0 || hex_to_raw(target_sha, buf + 48) < 0) {
		free(planes);
		free(buf);
		return err_set(err, ERR_INVALID, "cannot make a weights delta: '%.70s' or '%.70s' "
			"is not a sha256", base_sha, target_sha);
	}
	plane(base, target, size, planes);
	size_t n = ZSTD_compress(buf + WDELTA_HEADER, bound, planes, size, WDELTA_LEVEL);
	free(planes);
	if (ZSTD_isError(n)) {
		free(buf);
		return err_set(err, ERR_IO, "cannot compress a weights delta: %s",
			ZSTD_getErrorName(n));
	}
	*out = buf;
	*out_size = WDELTA_HEADER + n;
	return 0;
}

int wdelta_read(const void *delta, size_t n, struct wdelta_info *info, struct err *err)
{
	const uint8_t *p = delta;
	if (n < WDELTA_HEADER || memcmp(p, WDELTA_MAGIC, 8) != 0)
		return err_set(err, ERR_FORMAT, "not a weights delta (%zu bytes, no '%s' header)", n,
			WDELTA_MAGIC);
	info->size = get_u64(p + 8);
	sha256_hex(p + 16, info->base);
	sha256_hex(p + 48, info->target);
	return 0;
}

int wdelta_apply(const void *delta, size_t n, const void *base, size_t base_size,
	void **out, struct err *err)
{
	struct wdelta_info info;
	*out = NULL;
	if (wdelta_read(delta, n, &info, err) < 0)
		return -1;
	if (info.size != base_size)
		return err_set(err, ERR_FORMAT, "weights delta to %.12s is for a base of %llu bytes, "
			"not %zu", info.target, (unsigned long long)info.size, base_size);
	const uint8_t *payload = (const uint8_t *)delta + WDELTA_HEADER;
	unsigned long long content = ZSTD_getFrameContentSize(payload, n - WDELTA_HEADER);
	if (content != (unsigned long long)base_size)
		return err_set(err, ERR_FORMAT, "weights delta to %.12s does not decode to %zu bytes",
			info.target, base_size);
	uint8_t *planes = malloc(base_size ? base_size : 1);
	uint8_t *target = malloc(base_size ? base_size : 1);
	if (!planes || !target) {
		free(planes);
		free(target);
		return err_set(err, ERR_NOMEM, "cannot apply a weights delta of %zu bytes: out of "
			"memory", base_size);
	}
	size_t got = ZSTD_decompress(planes, base_size, payload, n - WDELTA_HEADER);
	if (ZSTD_isError(got) || got != base_size) {
		free(planes);
		free(target);
		return err_set(err, ERR_FORMAT, "weights delta to %.12s does not decode: %s",
			info.target, ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short");
	}
	unplane(planes, base, base_size, target);
	free(planes);
	*out = target;
	return 0;
}
