#include "file.h"
#include "test.h"
#include "testdir.h"

#include <sys/stat.h>

/* A file with those bytes in a fresh testdir (testdir_done removes both). */
static const char *write_tmp(const char *text, size_t n)
{
	static char path[1100];
	snprintf(path, sizeof path, "%s/f", testdir_new("file"));
	testdir_write(path, text, n);
	return path;
}

static void test_file__reads_all_bytes_and_a_nul(void)
{
	const char *p = write_tmp("ab\0cd", 5);
	char *data;
	size_t size;
	struct err e = { 0 };
	CHECK_MSG(file_read(p, 100, &data, &size, &e) == 0, "%s", e.msg);
	CHECK(size == 5 && memcmp(data, "ab\0cd", 5) == 0 && data[5] == '\0');
	free(data);
	testdir_done();
}

static void test_file__refuses_a_file_over_the_limit(void)
{
	const char *p = write_tmp("0123456789", 10);
	char *data = NULL;
	size_t size = 0;
	struct err e = { 0 };
	CHECK(file_read(p, 9, &data, &size, &e) < 0 && data == NULL);
	CHECK_MSG(e.code == ERR_INVALID && strstr(e.msg, "10 bytes, more than 9"), "%s", e.msg);
	CHECK(file_read(p, 10, &data, &size, &e) == 0 && size == 10);
	free(data);
	testdir_done();
}

static void test_file__missing_file_names_it(void)
{
	char *data;
	size_t size;
	struct err e = { 0 };
	CHECK(file_read("/nonexistent/r1flow-file", 10, &data, &size, &e) < 0);
	CHECK_MSG(e.code == ERR_IO && strcmp(e.msg, "cannot open '/nonexistent/r1flow-file': "
		"No such file or directory") == 0, "%s", e.msg);
}

/* The names in dir, sorted, joined by spaces (at most 512 bytes). */
static const char *listing(const char *dir)
{
	static char out[512];
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);
	CHECK(n >= 0);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.')
			snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", out[0] ? " " : "",
				names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return out;
}

static const char *slurp(const char *path)
{
	static char *data;
	size_t size;
	struct err e = { 0 };
	free(data);
	CHECK_MSG(file_read(path, 1 << 20, &data, &size, &e) == 0, "%s", e.msg);
	return data;
}

static void test_file__atomic_write_replaces_with_umask_applied(void)
{
	char path[1100];
	struct err e = { 0 };
	snprintf(path, sizeof path, "%s/out.json", testdir_new("file"));
	umask(022);
	CHECK_MSG(file_write_atomic(path, "old", 3, 0666, &e) == 0, "%s", e.msg);
	CHECK_MSG(file_write_atomic(path, "new!", 4, 0666, &e) == 0, "%s", e.msg);
	CHECK(strcmp(slurp(path), "new!") == 0);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
	CHECK_MSG(strcmp(listing(testdir), "out.json") == 0, "%s", listing(testdir));
	testdir_done();
}

/* Until commit the old file stays whole; abort leaves it and no temporary file. */
static void test_file__atomic_write_is_all_or_nothing(void)
{
	char path[1100];
	struct err e = { 0 };
	snprintf(path, sizeof path, "%s/m", testdir_new("file"));
	CHECK(file_write_atomic(path, "old", 3, 0600, &e) == 0);
	struct file_atomic f;
	CHECK_MSG(file_atomic_open(&f, path, NULL, 0600, &e) == 0, "%s", e.msg);
	CHECK(file_atomic_write(&f, "ne", 2, &e) == 0);
	CHECK(strcmp(slurp(path), "old") == 0);
	file_atomic_abort(&f);
	file_atomic_abort(&f); /* idempotent */
	CHECK(strcmp(slurp(path), "old") == 0);
	CHECK_MSG(strcmp(listing(testdir), "m") == 0, "%s", listing(testdir));

	CHECK(file_atomic_open(&f, path, NULL, 0600, &e) == 0);
	CHECK(file_atomic_write(&f, "ne", 2, &e) == 0 && file_atomic_write(&f, "w", 1, &e) == 0);
	CHECK_MSG(file_atomic_commit(&f, false, &e) == 0, "%s", e.msg);
	CHECK(strcmp(slurp(path), "new") == 0);
	CHECK_MSG(strcmp(listing(testdir), "m") == 0, "%s", listing(testdir));
	testdir_done();
}

/* The temporary file goes to tmp_dir (same file system) and is named after the target. */
static void test_file__atomic_write_through_another_directory(void)
{
	char path[1100], tmp[1100];
	struct err e = { 0 };
	testdir_new("file");
	snprintf(path, sizeof path, "%s/blob", testdir);
	snprintf(tmp, sizeof tmp, "%s/tmp", testdir);
	CHECK(mkdir(tmp, 0700) == 0);
	struct file_atomic f;
	CHECK_MSG(file_atomic_open(&f, path, tmp, 0600, &e) == 0, "%s", e.msg);
	CHECK(strncmp(listing(tmp), "blob.tmp.", 9) == 0);
	CHECK(file_atomic_write(&f, "x", 1, &e) == 0 && file_atomic_commit(&f, true, &e) == 0);
	CHECK(strcmp(listing(tmp), "") == 0 && strcmp(slurp(path), "x") == 0);
	testdir_done();
}

static void test_file__atomic_write_failure_names_the_file(void)
{
	char path[1100];
	struct err e = { 0 };
	snprintf(path, sizeof path, "%s/no/such/dir/f", testdir_new("file"));
	CHECK(file_write_atomic(path, "x", 1, 0600, &e) < 0);
	CHECK_MSG(e.code == ERR_IO && strstr(e.msg, "cannot create '") &&
		strstr(e.msg, "/no/such/dir/f.tmp.") && strstr(e.msg, "No such file or directory"),
		"%s", e.msg);
	testdir_done();
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_file__reads_all_bytes_and_a_nul),
		TEST(test_file__refuses_a_file_over_the_limit),
		TEST(test_file__missing_file_names_it),
		TEST(test_file__atomic_write_replaces_with_umask_applied),
		TEST(test_file__atomic_write_is_all_or_nothing),
		TEST(test_file__atomic_write_through_another_directory),
		TEST(test_file__atomic_write_failure_names_the_file),
		{ 0 } });
}
