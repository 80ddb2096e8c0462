#include "test.h"

#include "rng.h"

/* Known answers from the Random123 distribution's kat_vectors for philox4x32_10. */
static void test_rng__philox_known_answers(void)
{
	uint32_t out[4];
	rng_philox(0, (uint32_t[4]){ 0, 0, 0, 0 }, out);
	CHECK(out[0] == 0x6627e8d5u && out[1] == 0xe169c58du && out[2] == 0xbc57ac4cu && out[3] == 0x9b00dbd8u);
	rng_philox(0xffffffffffffffffull, (uint32_t[4]){ 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu }, out);
	CHECK(out[0] == 0x408f276du && out[1] == 0x41c83b0eu && out[2] == 0xa20bc7c6u && out[3] == 0x6d5451fdu);
	rng_philox(0x299f31d0a4093822ull, /* k0 = low word */ (uint32_t[4]){ 0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u }, out);
	CHECK(out[0] == 0xd16cfe09u && out[1] == 0x94fdccebu && out[2] == 0x5001e420u && out[3] == 0x24126ea1u);
}

static void test_rng__draw_is_a_function_of_key_and_counter(void)
{
	uint64_t k = rng_key_str(rng_key_u64(1234, 7), "rollout");
	CHECK(rng_uniform4(k, 1, 2, 3, 0) == rng_uniform4(k, 1, 2, 3, 0));
	CHECK(rng_uniform4(k, 1, 2, 3, 0) != rng_uniform4(k, 1, 2, 4, 0));
	CHECK(rng_key_str(5, "a") != rng_key_str(5, "b"));
	CHECK(rng_key_u64(5, 1) != rng_key_u64(6, 1));
	struct rng a, b;
	rng_init(&a, k);
	rng_init(&b, k);
	for (int i = 0; i < 100; i++)
		CHECK(rng_u32(&a) == rng_u32(&b));
}

static void test_rng__uniform_and_normal_moments(void)
{
	struct rng r;
	rng_init(&r, 42);
	enum { N = 200000 };
	double su = 0, sn = 0, sn2 = 0;
	float lo = 1, hi = 0;
	for (int i = 0; i < N; i++) {
		float u = rng_uniform(&r);
		CHECK(u >= 0.0f && u < 1.0f);
		lo = u < lo ? u : lo;
		hi = u > hi ? u : hi;
		su += u;
		float z = rng_normal(&r);
		CHECK(isfinite(z));
		sn += z;
		sn2 += (double)z * z;
	}
	/* standard errors: uniform mean 0.00065, normal mean 0.0022, variance 0.0032 */
	CHECK_NEAR(su / N, 0.5, 0.004);
	CHECK_NEAR(sn / N, 0.0, 0.012);
	CHECK_NEAR(sn2 / N, 1.0, 0.016);
	CHECK(lo < 1e-4 && hi > 1 - 1e-4);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_rng__philox_known_answers),
		TEST(test_rng__draw_is_a_function_of_key_and_counter),
		TEST(test_rng__uniform_and_normal_moments),
		{ 0 } });
}
