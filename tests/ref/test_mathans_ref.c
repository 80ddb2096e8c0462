/*
 * The math reward's comparison (tasks/mathans.c) against SymPy, over the corpus
 * tests/ref/math_pairs.tsv that test_mathans.c also reads: tests/ref/math_ref.py
 * (Debian's /usr/bin/python3 with python3-sympy) prints SymPy's verdict for each pair,
 * and for every pair the verdict written in the corpus, SymPy's and mathans_equal's
 * must be the same. So the corpus cannot say what SymPy would not, and the C code
 * cannot drift from either.
 */
#include <errno.h>

#include "mathans.h"
#include "test.h"

#define PYTHON "/usr/bin/python3"

static void test_mathans_ref__sympy_agrees(void)
{
	const char *root = getenv("R1FLOW_SOURCE_ROOT");
	char pairs[4096], cmd[12288], line[4096], verdict[16];
	CHECK_MSG(root && *root, "R1FLOW_SOURCE_ROOT is not set (run through meson test)");
	CHECK_MSG(access(PYTHON, X_OK) == 0, "cannot run '%s': %s (scripts/deps.sh installs "
		"python3, python3-sympy)", PYTHON, strerror(errno));
	CHECK_MSG(system(PYTHON " -c 'import sympy'") == 0,
		"'%s' cannot import sympy (scripts/deps.sh installs python3-sympy)", PYTHON);
	snprintf(pairs, sizeof pairs, "%s/tests/ref/math_pairs.tsv", root);
	snprintf(cmd, sizeof cmd, "%s '%s/tests/ref/math_ref.py' '%s'", PYTHON, root, pairs);
	FILE *f = fopen(pairs, "r"), *py = popen(cmd, "r");
	CHECK_MSG(f, "cannot open '%s': %s", pairs, strerror(errno));
	CHECK_MSG(py, "cannot run '%s': %s", cmd, strerror(errno));
	int n = 0, bad = 0;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		char *a = line, *b = strchr(a, '\t'), *v = b ? strchr(b + 1, '\t') : NULL;
		CHECK_MSG(b && v, "bad line '%s'", line);
		*b++ = '\0';
		*v++ = '\0';
		CHECK_MSG(fgets(verdict, sizeof verdict, py), "math_ref.py stopped at pair %d", n + 1);
		int want = atoi(v), sympy = atoi(verdict), c = mathans_equal(a, strlen(a), b, strlen(b));
		n++;
		if (want != sympy || want != c) {
			fprintf(stderr, "'%s' vs '%s': corpus %d, SymPy %d, mathans %d\n", a, b, want, sympy, c);
			bad++;
		}
	}
	fclose(f);
	CHECK_MSG(!fgets(verdict, sizeof verdict, py), "math_ref.py printed more verdicts than pairs");
	CHECK_MSG(pclose(py) == 0, "'%s' failed", cmd);
	CHECK_MSG(n >= 200, "%d pairs", n);
	CHECK_MSG(bad == 0, "%d of %d pairs disagree", bad, n);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_mathans_ref__sympy_agrees), { 0 } });
}
