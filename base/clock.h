/*
 * clock — the two clocks the programs read. The monotonic clock times intervals
 * (heartbeats, liveness, timeouts, benchmarks): it never jumps when the wall clock is
 * set. The wall clock (Unix time) is for what is stored or shown to people.
 *
 * clock_gettime cannot fail for these clocks on Linux, so there is no error path.
 */
#ifndef R1_CLOCK_H
#define R1_CLOCK_H

#include <stdint.h>

/* The monotonic clock, in nanoseconds, milliseconds and seconds. */
int64_t clock_mono_ns(void);
int64_t clock_mono_ms(void);
double clock_mono_s(void);

/* The wall clock: milliseconds since the Unix epoch. */
int64_t clock_wall_ms(void);

#endif
