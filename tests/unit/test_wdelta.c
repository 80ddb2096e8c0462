#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"
#include "test.h"
#include "wdelta.h"

/* Two "weights files": a header that stays and fp32 values that move a little, with
 * the values a bit-exact codec must carry (NaN, infinities, denormals, -0) and a
 * tail that is not a whole word. */
static void make(size_t n, uint8_t **base, uint8_t **target, size_t *size)
{
	*size = 24 + 4 * n + 3;
	*base = malloc(*size);
	*target = malloc(*size);
	CHECK(*base && *target);
	memcpy(*base, "{\"header\":\"stays same\"} ", 24);
	memcpy(*target, *base, 24);
	float special[] = { NAN, INFINITY, -INFINITY, 1e-42f, -0.0f, 0.0f };
	uint32_t s = 12345;
	for (size_t i = 0; i < n; i++) {
		s = s * 1664525u + 1013904223u;
		float v = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.1f, w = v * (1.0f + 1e-4f);
		if (i < sizeof special / sizeof special[0])
			v = special[i], w = special[(i + 1) % (sizeof special / sizeof special[0])];
		memcpy(*base + 24 + 4 * i, &v, 4);
		memcpy(*target + 24 + 4 * i, &w, 4);
	}
	memcpy(*base + 24 + 4 * n, "abc", 3);
	memcpy(*target + 24 + 4 * n, "abd", 3);
}

static void test_wdelta__rebuilds_the_target_bit_for_bit_and_smaller(void)
{
	uint8_t *base, *target;
	size_t size, n;
	void *delta, *out;
	char bs[SHA256_HEX_SIZE], ts[SHA256_HEX_SIZE];
	struct err e = { 0 };
	make(20000, &base, &target, &size);
	sha256_buffer(base, size, bs);
	sha256_buffer(target, size, ts);
	CHECK_MSG(wdelta_encode(base, target, size, bs, ts, &delta, &n, &e) == 0, "%s", e.msg);
	CHECK_MSG(n < size * 3 / 4, "delta of %zu bytes for %zu", n, size);
	struct wdelta_info info;
	CHECK(wdelta_read(delta, n, &info, &e) == 0);
	CHECK(info.size == size && strcmp(info.base, bs) == 0 && strcmp(info.target, ts) == 0);
	CHECK_MSG(wdelta_apply(delta, n, base, size, &out, &e) == 0, "%s", e.msg);
	CHECK(memcmp(out, target, size) == 0);
	free(out);
	free(delta);
	free(base);
	free(target);
}

static void test_wdelta__refuses_what_does_not_fit(void)
{
	uint8_t *base, *target;
	size_t size, n;
	void *delta, *out = NULL;
	char bs[SHA256_HEX_SIZE], ts[SHA256_HEX_SIZE];
	struct err e = { 0 };
	make(1000, &base, &target, &size);
	sha256_buffer(base, size, bs);
	sha256_buffer(target, size, ts);
	CHECK(wdelta_encode(base, target, size, bs, ts, &delta, &n, &e) == 0);
	/* a base of another size */
	CHECK(wdelta_apply(delta, n, base, size - 1, &out, &e) == -1 && e.code == ERR_FORMAT);
	CHECK(!out);
	/* a cut payload */
	e = (struct err){ 0 };
	CHECK(wdelta_apply(delta, n - 5, base, size, &out, &e) == -1 && e.code == ERR_FORMAT);
	/* not a delta at all */
	e = (struct err){ 0 };
	CHECK(wdelta_apply(base, size, base, size, &out, &e) == -1 && e.code == ERR_FORMAT);
	CHECK_MSG(strstr(e.msg, "not a weights delta"), "%s", e.msg);
	/* names that are not sha256s */
	e = (struct err){ 0 };
	void *d2 = NULL;
	CHECK(wdelta_encode(base, target, size, "x", ts, &d2, &n, &e) == -1 && !d2);
	free(delta);
	free(base);
	free(target);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_wdelta__rebuilds_the_target_bit_for_bit_and_smaller),
		TEST(test_wdelta__refuses_what_does_not_fit),
		{ 0 },
	});
}
