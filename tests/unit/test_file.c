#include "file.h"
#include "test.h"

static char path[1024];

static const char *write_tmp(const char *text, size_t n)
{
	const char *base = getenv("R1FLOW_TEST_TMP");
	snprintf(path, sizeof path, "%s/file-XXXXXX", base && *base ? base : "/tmp");
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(write(fd, text, n) == (ssize_t)n);
	close(fd);
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
	unlink(p);
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
	unlink(p);
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

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_file__reads_all_bytes_and_a_nul),
		TEST(test_file__refuses_a_file_over_the_limit),
		TEST(test_file__missing_file_names_it),
		{ 0 } });
}
