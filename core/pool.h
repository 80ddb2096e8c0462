/*
 * pool — the process's one thread pool, and the GEMM that uses it.
 *
 * Two pools that spin (OpenMP beside OpenBLAS's own threads) fight over the cores,
 * so r1flow runs OpenBLAS single-threaded and splits work itself: pool_for cuts
 * [0, n) into one contiguous range per thread, and pool_sgemm cuts a matrix product
 * into fixed row (or column) blocks, each an ordinary single-threaded cblas_sgemm.
 * The blocks depend on the matrix shape only, so results are bit-identical for any
 * thread count (OpenBLAS's rounding depends on the shape of each call).
 *
 * The pool starts on first use with R1FLOW_THREADS threads (default: online CPUs);
 * pool_set_threads changes it between calls. Workers spin briefly after a task and
 * then sleep on a condition variable. pool_for must not be called from inside a
 * pool_for task (asserted); calls from several threads (the daemon runs one learner
 * thread per training stage) take turns: one runs on the pool while the others wait.
 */
#ifndef R1_POOL_H
#define R1_POOL_H

#include <stdbool.h>

typedef void (*pool_fn)(void *ctx, int begin, int end);

void pool_set_threads(int n);
int pool_threads(void);

/*
 * Run fn over [0, n) split into at most pool_threads() contiguous ranges. `work`
 * estimates the whole call's cost in simple operations (flops, bytes moved); small
 * calls run inline on the caller, since waking a thread costs microseconds.
 */
void pool_for(int n, long work, pool_fn fn, void *ctx);

/*
 * C (M x N) = alpha * op(A) (M x K) * op(B) (K x N) + beta * C, row-major, with
 * cblas_sgemm's meaning of lda/ldb/ldc. Split into up to 4 row blocks of C when
 * M >= N, otherwise column blocks; so at most 4 threads share one product.
 */
void pool_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
	const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

#endif
