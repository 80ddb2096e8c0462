/*
 * replay — runs a fuzz target's corpus as a plain test, so gcc-only CI exercises
 * it (libzmq's tests/test_*_fuzzer.cpp pattern). Link with one fuzz_*.c file:
 *
 *   fuzz_spec_replay DIR    feed every regular file in DIR to LLVMFuzzerTestOneInput
 *
 * The target aborts on a broken property; here that fails the test. Prints one line
 * per file and the test harness's summary line.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	DIR *d = opendir(argv[1]);
	if (!d) {
		fprintf(stderr, "%s: cannot open '%s'\n", argv[0], argv[1]);
		return 1;
	}
	char **names = NULL;
	size_t n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char **grown = realloc(names, (n + 1) * sizeof *names);
		if (!grown || !(grown[n] = strdup(e->d_name)))
			return 1;
		names = grown;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof *names, name_cmp);
	int ran = 0;
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s", argv[1], names[i]);
		free(names[i]);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		FILE *f = fopen(path, "rb");
		uint8_t *buf = malloc((size_t)st.st_size + 1);
		if (!f || !buf || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
			fprintf(stderr, "cannot read '%s'\n", path);
			return 1;
		}
		fclose(f);
		LLVMFuzzerTestOneInput(buf, (size_t)st.st_size);
		free(buf);
		printf("ok %s\n", path);
		ran++;
	}
	free(names);
	printf("%d passed, 0 failed\n", ran);
	return ran == 0;
}
