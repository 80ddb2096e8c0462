/* refdir — see refdir.h. */
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "refdir.h"
#include "test.h"

#define PYTHON "/usr/bin/python3"

/* Run argv with its output on ours; 0 when it exits 0. */
static int run(const char *prog, char *const argv[])
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execv(argv[0], argv);
		fprintf(stderr, "%s: cannot run '%s': %s\n", prog, argv[0], strerror(errno));
		_exit(127);
	}
	int status = 0;
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int refdir_make(const char *prog, const char *script, const char *imports, char *dir,
	size_t cap)
{
	const char *root = getenv("R1FLOW_SOURCE_ROOT");
	const char *tmp = getenv("R1FLOW_TEST_TMP");
	if (!root || !*root) {
		fprintf(stderr, "%s: R1FLOW_SOURCE_ROOT is not set (run through meson test, or set it to the repository root)\n",
			prog);
		return -1;
	}
	if (!tmp || !*tmp)
		tmp = "/tmp";
	if (access(PYTHON, X_OK) != 0) {
		fprintf(stderr, "%s: cannot run '%s': %s (scripts/deps.sh installs python3 and the reference modules)\n",
			prog, PYTHON, strerror(errno));
		return -1;
	}
	char import[256];
	snprintf(import, sizeof import, "import %s", imports);
	char *probe[] = { PYTHON, "-c", import, NULL };
	if (run(prog, probe) != 0) {
		fprintf(stderr, "%s: '%s' cannot %s (scripts/deps.sh installs them: python3-torch, python3-numpy, ...)\n",
			prog, PYTHON, import);
		return -1;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/ref/%s", root, script);
	snprintf(dir, cap, "%s/%s-XXXXXX", tmp, prog);
	if (!mkdtemp(dir)) {
		fprintf(stderr, "%s: cannot create a directory under '%s': %s\n", prog, tmp,
			strerror(errno));
		return -1;
	}
	char *gen[] = { PYTHON, path, dir, NULL };
	if (run(prog, gen) != 0) {
		fprintf(stderr, "%s: '%s %s %s' failed\n", prog, PYTHON, path, dir);
		return -1;
	}
	return 0;
}

static void remove_tree(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	char path[8192];
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		struct stat st;
		if (depth < 1 && lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			remove_tree(path, depth + 1);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

void refdir_remove(const char *dir)
{
	remove_tree(dir, 0);
}

static const struct st_tensor_info *ref_info(struct st_file *st, const char *name,
	size_t numel)
{
	const struct st_tensor_info *ti = st_find(st, name);
	CHECK_MSG(ti, "the reference has no tensor '%s'", name);
	CHECK_MSG((size_t)ti->numel == numel, "'%s' has %lld values, expected %zu", name,
		(long long)ti->numel, numel);
	return ti;
}

float *ref_read_f32(struct st_file *st, const char *name, size_t numel)
{
	const struct st_tensor_info *ti = ref_info(st, name, numel);
	float *out = malloc(numel * sizeof *out);
	CHECK(out);
	struct err e = { 0 };
	CHECK_MSG(st_read_f32(st, name, ti->ndim, ti->shape, out, &e) == 0, "%s", e.msg);
	return out;
}

int *ref_read_i32(struct st_file *st, const char *name, size_t numel)
{
	ref_info(st, name, numel);
	int32_t *out = malloc(numel * sizeof *out);
	CHECK(out);
	struct err e = { 0 };
	CHECK_MSG(st_read_i32(st, name, (int64_t)numel, out, &e) == 0, "%s", e.msg);
	return (int *)out;
}

double ref_scalar(struct st_file *st, const char *name)
{
	float *v = ref_read_f32(st, name, 1);
	double x = v[0];
	free(v);
	return x;
}

bool ref_check_tensor(const char *label, const float *got, const float *ref, size_t n,
	const bool *valid, double tol)
{
	double maxref = 0, maxabs = 0, maxrel = 0;
	size_t worst = 0, counted = 0;
	for (size_t i = 0; i < n; i++)
		if (!valid || valid[i])
			maxref = fmax(maxref, fabs(ref[i]));
	for (size_t i = 0; i < n; i++) {
		if (valid && !valid[i])
			continue;
		counted++;
		double d = fabs((double)got[i] - ref[i]);
		if (isnan(d))
			d = INFINITY;
		if (d > maxabs) {
			maxabs = d;
			worst = i;
		}
		maxrel = fmax(maxrel, d / (fabs(ref[i]) + 1e-3 * maxref + DBL_MIN));
	}
	bool ok = counted > 0 && maxabs <= tol;
	printf("  %-64s max abs diff %.2e  max rel diff %.2e  (max|ref| %.3g, tol %.1e) %s\n",
		label, maxabs, maxrel, maxref, tol, ok ? "ok" : "NOT OK");
	if (!ok && counted)
		printf("    worst at [%zu]: got %.9g ref %.9g\n", worst, got[worst], ref[worst]);
	return ok;
}

bool ref_check_stat(const char *label, double got, double ref, double rtol)
{
	double d = fabs(got - ref), tol = rtol * fmax(1.0, fabs(ref));
	bool ok = d <= tol; /* false for NaN */
	printf("  %-64s got %.9g ref %.9g  abs diff %.2e  (tol %.1e) %s\n", label, got, ref, d,
		tol, ok ? "ok" : "NOT OK");
	return ok;
}

double ref_max_abs(const float *x, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fmax(m, fabs(x[i]));
	return m;
}

bool *ref_valid_positions(int B, int T, const int *lengths, int shift, size_t inner)
{
	bool *v = malloc((size_t)B * T * inner * sizeof *v);
	CHECK(v);
	for (int b = 0; b < B; b++)
		for (int t = 0; t < T; t++)
			for (size_t k = 0; k < inner; k++)
				v[((size_t)b * T + t) * inner + k] = t < lengths[b] - shift;
	return v;
}
