#include "clock.h"
#include "test.h"

#include <time.h>

static void test_clock__monotonic_units_agree_and_never_go_back(void)
{
	int64_t ns0 = clock_mono_ns(), ms0 = clock_mono_ms();
	double s0 = clock_mono_s();
	nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	int64_t ns1 = clock_mono_ns(), ms1 = clock_mono_ms();
	double s1 = clock_mono_s();
	CHECK(ns1 - ns0 >= 20 * 1000 * 1000 && ms1 - ms0 >= 19 && s1 - s0 >= 0.019);
	/* the same clock in three units: read in order, each within a millisecond-ish */
	CHECK(ms0 >= ns0 / 1000000 && ms0 - ns0 / 1000000 < 1000);
	CHECK(s0 * 1e3 >= (double)ms0 && s0 * 1e3 - (double)ms0 < 1000);
}

static void test_clock__wall_clock_is_unix_time_in_ms(void)
{
	int64_t ms = clock_wall_ms();
	time_t s = time(NULL);
	CHECK_MSG(ms / 1000 >= (int64_t)s - 1 && ms / 1000 <= (int64_t)s + 1, "%lld vs %lld",
		(long long)ms, (long long)s);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_clock__monotonic_units_agree_and_never_go_back),
		TEST(test_clock__wall_clock_is_unix_time_in_ms),
		{ 0 } });
}
