/*
 * test.h — the house test harness: one file per module, functions named
 * test_<module>__<behaviour>, each run in its own forked process so a crash or an
 * abort fails that test alone. meson gives each executable its timeout.
 *
 *   static void test_rng__same_counter_same_draw(void) { CHECK(a == b); }
 *   int main(int argc, char **argv) {
 *       return test_main(argc, argv, (struct test_case[]){
 *           TEST(test_rng__same_counter_same_draw), {0} });
 *   }
 *
 * `./test_x NAME` runs one test in-process (for gdb). The summary line is
 * "N passed, N failed", which CI reads.
 */
#ifndef R1_TEST_H
#define R1_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

#define TEST(f) { #f, f }

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); exit(1); } } while (0)

#define CHECK_MSG(cond, ...) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } } while (0)

#define CHECK_NEAR(a, b, tol) do { double a_ = (a), b_ = (b); \
	if (!(fabs(a_ - b_) <= (tol))) { fprintf(stderr, "%s:%d: %s = %.9g, %s = %.9g, |diff| %.3g > %.3g\n", \
	__FILE__, __LINE__, #a, a_, #b, b_, fabs(a_ - b_), (double)(tol)); exit(1); } } while (0)

static inline int test_main(int argc, char **argv, const struct test_case *cases)
{
	int passed = 0, failed = 0;
	for (const struct test_case *c = cases; c->name; c++) {
		if (argc > 1 && strcmp(argv[1], c->name) != 0)
			continue;
		if (argc > 1) { /* in-process, for debuggers */
			c->fn();
			printf("ok %s\n", c->name);
			passed++;
			continue;
		}
		fflush(stdout);
		fflush(stderr);
		pid_t pid = fork();
		if (pid == 0) {
			c->fn();
			exit(0); /* not _exit: flushes stdio and lets LeakSanitizer run */
		}
		int status = 0;
		waitpid(pid, &status, 0);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			printf("ok %s\n", c->name);
			passed++;
		} else {
			printf("FAIL %s (%s %d)\n", c->name, WIFSIGNALED(status) ? "signal" : "exit",
				WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			failed++;
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed || passed == 0;
}

#endif
