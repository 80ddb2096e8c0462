/*
 * test_pool — core/pool.h: pool_for covers its range once, for any thread count, and
 * callers on several threads (the daemon's learners of two training stages) take
 * turns instead of tripping over each other; a nested call is still refused.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pool.h"
#include "test.h"

enum { N = 4096, WORK = 1L << 20 }; /* WORK: above the inline threshold, so it is handed out */

struct cover {
	_Atomic int hits[N];
	long add;
};

static void cover_fn(void *p, int begin, int end)
{
	struct cover *c = p;
	for (int i = begin; i < end; i++)
		atomic_fetch_add(&c->hits[i], (int)c->add);
}

static void test_pool__covers_range_once(void)
{
	static struct cover c;
	for (int threads = 1; threads <= 4; threads++) {
		pool_set_threads(threads);
		for (int n = 1; n <= N; n = n * 3 + 1) {
			memset(&c, 0, sizeof c);
			c.add = 1;
			pool_for(n, WORK, cover_fn, &c);
			for (int i = 0; i < N; i++)
				CHECK_MSG(atomic_load(&c.hits[i]) == (i < n), "threads %d n %d: [%d] hit %d times",
					threads, n, i, atomic_load(&c.hits[i]));
		}
	}
}

struct caller {
	struct cover c;
	long add;
	int rounds;
};

static void *call_many(void *p)
{
	struct caller *k = p;
	k->c.add = k->add;
	for (int r = 0; r < k->rounds; r++)
		pool_for(N, WORK, cover_fn, &k->c);
	return NULL;
}

/* Before callers took turns, the second thread's pool_for hit the nesting assertion
 * (or, without asserts, both posted work to the same slots). */
static void test_pool__callers_on_two_threads_take_turns(void)
{
	pool_set_threads(2);
	static struct caller a, b;
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	a.add = 1;
	b.add = 1000;
	a.rounds = b.rounds = 2000;
	pthread_t ta, tb;
	CHECK(pthread_create(&ta, NULL, call_many, &a) == 0);
	CHECK(pthread_create(&tb, NULL, call_many, &b) == 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	for (int i = 0; i < N; i++) {
		CHECK_MSG(atomic_load(&a.c.hits[i]) == 2000, "caller a: [%d] = %d", i,
			atomic_load(&a.c.hits[i]));
		CHECK_MSG(atomic_load(&b.c.hits[i]) == 2000 * 1000, "caller b: [%d] = %d", i,
			atomic_load(&b.c.hits[i]));
	}
}

static void nested_fn(void *p, int begin, int end)
{
	(void)begin;
	(void)end;
	pool_for(N, WORK, cover_fn, p);
}

static void test_pool__nested_call_aborts(void)
{
	pool_set_threads(2);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		static struct cover c;
		close(2); /* the assertion's message is expected */
		pool_for(N, WORK, nested_fn, &c);
		_exit(0);
	}
	int status = 0;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
		"a nested pool_for did not abort (status %#x)", status);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_pool__covers_range_once),
		TEST(test_pool__callers_on_two_threads_take_turns),
		TEST(test_pool__nested_call_aborts),
		{ 0 },
	});
}
