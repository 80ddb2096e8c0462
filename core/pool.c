#include "pool.h"

#include <assert.h>
#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define POOL_MAX_THREADS 256
#define POOL_SPINS (1 << 15) /* ~0.5 ms of polling before a worker sleeps */
#define POOL_GEMM_BLOCKS 4 /* GEMM pieces: enough for 4 threads, few re-packs */
#define POOL_MIN_WORK (1L << 16) /* below this, a hand-off costs more than it saves */

static struct {
	pthread_once_t once;
	int nthreads;               /* including the caller of pool_for */
	pthread_t threads[POOL_MAX_THREADS];
	atomic_uint gen;            /* bumped per task; workers wait for a change */
	unsigned start_gen;         /* gen when the workers were created */
	atomic_int pending;         /* workers still running the current task */
	atomic_int stop;
	pool_fn fn;
	void *ctx;
	int n;
	int chunks;                 /* ranges the current task is cut into */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_mutex_t caller;     /* held by the thread whose pool_for runs */
} pool = { .once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER,
	   .cv = PTHREAD_COND_INITIALIZER, .caller = PTHREAD_MUTEX_INITIALIZER };

/* Set on the pool's threads and on a caller while its pool_for runs: a pool_for
 * from there is nested, a bug (it would wait for itself). */
static _Thread_local bool in_pool;

static inline void pool_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void pool_run_chunk(int i)
{
	if (i >= pool.chunks)
		return;
	int begin = (int)((long)pool.n * i / pool.chunks);
	int end = (int)((long)pool.n * (i + 1) / pool.chunks);
	if (begin < end)
		pool.fn(pool.ctx, begin, end);
}

static void *pool_worker(void *arg)
{
	int idx = (int)(long)arg;
	in_pool = true;
	unsigned seen = pool.start_gen; /* not gen now: a task may already be posted */
	for (;;) {
		unsigned g;
		int spins = 0;
		while ((g = atomic_load_explicit(&pool.gen, memory_order_acquire)) == seen) {
			if (atomic_load_explicit(&pool.stop, memory_order_relaxed))
				return NULL;
			if (++spins < POOL_SPINS) {
				pool_relax();
				continue;
			}
			pthread_mutex_lock(&pool.mu);
			while (atomic_load(&pool.gen) == seen && !atomic_load(&pool.stop))
				pthread_cond_wait(&pool.cv, &pool.mu);
			pthread_mutex_unlock(&pool.mu);
		}
		seen = g;
		if (atomic_load(&pool.stop))
			return NULL;
		pool_run_chunk(idx);
		atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_release);
	}
}

static void pool_stop(void)
{
	atomic_store(&pool.stop, 1);
	pthread_mutex_lock(&pool.mu);
	pthread_cond_broadcast(&pool.cv);
	pthread_mutex_unlock(&pool.mu);
	for (int i = 1; i < pool.nthreads; i++)
		pthread_join(pool.threads[i], NULL);
	atomic_store(&pool.stop, 0);
	pool.nthreads = 1;
}

static void pool_start(int n)
{
	if (n < 1)
		n = 1;
	if (n > POOL_MAX_THREADS)
		n = POOL_MAX_THREADS;
	/* The pool is the process's only one: OpenBLAS runs in whichever thread calls it. */
	openblas_set_num_threads(1);
	pool.nthreads = n;
	pool.start_gen = atomic_load(&pool.gen);
	for (int i = 1; i < n; i++)
		if (pthread_create(&pool.threads[i], NULL, pool_worker, (void *)(long)i) != 0) {
			pool.nthreads = i; /* run with what we have */
			break;
		}
}

static void pool_start_default(void)
{
	const char *s = getenv("R1FLOW_THREADS");
	int n = s ? atoi(s) : (int)sysconf(_SC_NPROCESSORS_ONLN);
	pool_start(n);
	atexit(pool_stop);
}

void pool_set_threads(int n)
{
	pthread_once(&pool.once, pool_start_default);
	if (n == pool.nthreads)
		return;
	pool_stop();
	pool_start(n);
}

int pool_threads(void)
{
	pthread_once(&pool.once, pool_start_default);
	return pool.nthreads;
}

void pool_for(int n, long work, pool_fn fn, void *ctx)
{
	pthread_once(&pool.once, pool_start_default);
	if (n <= 0)
		return;
	if (pool.nthreads == 1 || n == 1 || work < POOL_MIN_WORK) {
		fn(ctx, 0, n);
		return;
	}
	assert(!in_pool && "pool_for called from inside a pool_for task");
	/* callers on other threads (the daemon's learners of two stages) take turns */
	pthread_mutex_lock(&pool.caller);
	in_pool = true;
	pool.fn = fn;
	pool.ctx = ctx;
	pool.n = n;
	pool.chunks = n < pool.nthreads ? n : pool.nthreads;
	atomic_store_explicit(&pool.pending, pool.nthreads - 1, memory_order_relaxed);
	pthread_mutex_lock(&pool.mu);
	atomic_fetch_add_explicit(&pool.gen, 1, memory_order_release);
	pthread_cond_broadcast(&pool.cv);
	pthread_mutex_unlock(&pool.mu);
	pool_run_chunk(0);
	/* spin for the common case of a busy peer; yield when a worker was descheduled */
	for (int spins = 0; atomic_load_explicit(&pool.pending, memory_order_acquire) > 0; spins++)
		if (spins < 4096)
			pool_relax();
		else
			sched_yield();
	in_pool = false;
	pthread_mutex_unlock(&pool.caller);
}

struct sgemm_task {
	bool ta, tb, split_rows;
	int M, N, K;
	float alpha, beta;
	const float *A, *B;
	float *C;
	int lda, ldb, ldc;
	int block; /* rows or columns per unit */
	int total; /* M or N */
};

/* One cblas_sgemm per unit, even when a thread owns several: the calls are the same
 * whatever the split. */
static void sgemm_part(void *p, int begin, int end)
{
	const struct sgemm_task *t = p;
	enum CBLAS_TRANSPOSE ta = t->ta ? CblasTrans : CblasNoTrans;
	enum CBLAS_TRANSPOSE tb = t->tb ? CblasTrans : CblasNoTrans;
	for (int u = begin; u < end; u++) {
		int lo = u * t->block, hi = lo + t->block < t->total ? lo + t->block : t->total;
		if (t->split_rows) {
			const float *A = t->ta ? t->A + lo : t->A + (size_t)lo * t->lda;
			cblas_sgemm(CblasRowMajor, ta, tb, hi - lo, t->N, t->K, t->alpha, A, t->lda,
				t->B, t->ldb, t->beta, t->C + (size_t)lo * t->ldc, t->ldc);
		} else {
			const float *B = t->tb ? t->B + (size_t)lo * t->ldb : t->B + lo;
			cblas_sgemm(CblasRowMajor, ta, tb, t->M, hi - lo, t->K, t->alpha, t->A, t->lda,
				B, t->ldb, t->beta, t->C + lo, t->ldc);
		}
	}
}

void pool_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
	const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
	struct sgemm_task t = {
		.ta = trans_a, .tb = trans_b, .M = M, .N = N, .K = K, .alpha = alpha, .beta = beta,
		.A = A, .B = B, .C = C, .lda = lda, .ldb = ldb, .ldc = ldc,
	};
	/*
	 * OpenBLAS's result for an element depends on the shape of the call it is in,
	 * so the blocks are a function of (M, N, K) alone, never of the thread count:
	 * 1 thread and 8 threads make the same calls and get the same bits. Every call
	 * packs its shared operand again, so blocks are few and large: the larger side
	 * of C in up to POOL_GEMM_BLOCKS pieces of at least 64, rounded to 16.
	 */
	t.split_rows = M >= N;
	t.total = t.split_rows ? M : N;
	int pieces = (t.total + 63) / 64;
	pieces = pieces < POOL_GEMM_BLOCKS ? pieces : POOL_GEMM_BLOCKS;
	t.block = ((t.total + pieces - 1) / pieces + 15) / 16 * 16;
	int units = (t.total + t.block - 1) / t.block;
	if (units < 2 || (long)M * N * K < 32768) {
		t.block = t.total; /* one call */
		sgemm_part(&t, 0, 1);
		return;
	}
	pool_for(units, (long)M * N * K, sgemm_part, &t);
}
