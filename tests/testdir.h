/*
 * testdir.h — a fresh temporary directory for the test process, removed with all it
 * holds at the end (each test runs in its own forked process: see test.h).
 *
 *   const char *dir = testdir_new("store");   $R1FLOW_TEST_TMP/store-XXXXXX, or /tmp/...
 *   testdir_new_short("r1sock");              /tmp/r1sock-XXXXXX: ipc:// paths must fit
 *                                             sun_path (~107 bytes), build dirs may not
 *   ... testdir ...                           the current directory's path
 *   testdir_done();                           rm -rf it
 *   testdir_rm(path);                         rm -rf any path (no shell)
 *   testdir_write(path, data, len);           a file with exactly those bytes
 *   testdir_read(path, &len);                 a file's bytes (malloc'd, NUL after them)
 */
#ifndef R1_TESTDIR_H
#define R1_TESTDIR_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

static char testdir[1024];

static inline const char *testdir_make(const char *base, const char *prefix)
{
	CHECK(snprintf(testdir, sizeof testdir, "%s/%s-XXXXXX", base, prefix) <
		(int)sizeof testdir);
	CHECK_MSG(mkdtemp(testdir) != NULL, "mkdtemp '%s'", testdir);
	return testdir;
}

static inline const char *testdir_new(const char *prefix)
{
	const char *base = getenv("R1FLOW_TEST_TMP");
	return testdir_make(base && *base ? base : "/tmp", prefix);
}

static inline const char *testdir_new_short(const char *prefix)
{
	return testdir_make("/tmp", prefix);
}

static inline void testdir_rm(const char *path)
{
	DIR *d = opendir(path);
	if (!d) {
		CHECK_MSG(unlink(path) == 0 || errno == ENOENT, "cannot remove '%s'", path);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char sub[4096];
		CHECK(snprintf(sub, sizeof sub, "%s/%s", path, de->d_name) < (int)sizeof sub);
		testdir_rm(sub);
	}
	closedir(d);
	CHECK_MSG(rmdir(path) == 0, "cannot remove '%s'", path);
}

/* Unlink first: ext4 flushes a file truncated and rewritten in place, which is slow. */
static inline void testdir_write(const char *path, const void *data, size_t len)
{
	unlink(path);
	FILE *fp = fopen(path, "wb");
	CHECK_MSG(fp, "cannot create '%s'", path);
	CHECK(fwrite(data, 1, len, fp) == len);
	CHECK(fclose(fp) == 0);
}

static inline unsigned char *testdir_read(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	CHECK_MSG(fp, "cannot open '%s'", path);
	CHECK(fseek(fp, 0, SEEK_END) == 0);
	long n = ftell(fp);
	CHECK(n >= 0);
	rewind(fp);
	unsigned char *buf = malloc((size_t)n + 1);
	CHECK(buf);
	CHECK(fread(buf, 1, (size_t)n, fp) == (size_t)n);
	buf[n] = 0;
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static inline void testdir_done(void)
{
	testdir_rm(testdir);
}

#endif
