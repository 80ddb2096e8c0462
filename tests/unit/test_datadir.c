#include <fcntl.h>
#include <sys/stat.h>

#include "datadir.h"
#include "test.h"
#include "testdir.h"

static int mode_of(const char *path)
{
	struct stat st;
	CHECK(stat(path, &st) == 0);
	return (int)(st.st_mode & 0777);
}

static void test_datadir__creates_the_layout_private(void)
{
	struct datadir d;
	struct err e = { 0 };
	char root[1100], path[DATADIR_PATH_MAX];
	snprintf(root, sizeof root, "%s/new/data//", testdir_new_short("r1dd"));
	CHECK_MSG(datadir_open(&d, root, &e) == 0, "%s", e.msg);
	CHECK(strcmp(d.root + strlen(d.root) - 9, "/new/data") == 0);
	CHECK(mode_of(d.root) == 0700);
	const char *subdirs[] = { "blobs", "blobs/tmp", "logs" };
	for (int i = 0; i < 3; i++) {
		CHECK(datadir_path(&d, subdirs[i], path, sizeof path, &e) == 0);
		CHECK(mode_of(path) == 0700);
	}
	CHECK(datadir_endpoint(&d, "workers.sock", path, sizeof path, &e) == 0);
	CHECK(strncmp(path, "ipc:///tmp/r1dd-", 16) == 0);
	CHECK(strcmp(path + strlen(path) - 22, "/new/data/workers.sock") == 0);
	datadir_close(&d);
	datadir_close(&d);
	testdir_done();
}

static void test_datadir__an_open_directory_is_tightened_to_0700(void)
{
	struct datadir d;
	struct err e = { 0 };
	const char *root = testdir_new_short("r1dd");
	CHECK(chmod(root, 0755) == 0);
	CHECK(datadir_open(&d, root, &e) == 0);
	CHECK(mode_of(root) == 0700);
	datadir_close(&d);
	testdir_done();
}

static void test_datadir__a_second_daemon_is_refused_until_the_first_goes(void)
{
	struct datadir a, b;
	struct err e = { 0 };
	const char *root = testdir_new_short("r1dd");
	CHECK(datadir_open(&a, root, &e) == 0);
	pid_t pid = fork();
	if (pid == 0) { /* flock is per open file: another process must be refused */
		struct datadir c;
		struct err ce = { 0 };
		int rc = datadir_open(&c, root, &ce);
		_exit(rc == -1 && strstr(ce.msg, "another r1flowd (pid ") ? 0 : 1);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	datadir_close(&a);
	CHECK_MSG(datadir_open(&b, root, &e) == 0, "%s", e.msg);
	datadir_close(&b);
	testdir_done();
}

static void test_datadir__socket_paths_must_fit(void)
{
	struct datadir d;
	struct err e = { 0 };
	char root[1200], path[DATADIR_PATH_MAX];
	snprintf(root, sizeof root, "%s/%0100d", testdir_new_short("r1dd"), 0);
	CHECK(datadir_open(&d, root, &e) == 0);
	CHECK(datadir_endpoint(&d, "control.sock", path, sizeof path, &e) == -1);
	CHECK_MSG(strstr(e.msg, "use a shorter --data"), "%s", e.msg);
	datadir_close(&d);
	testdir_done();
}

static void test_datadir__a_file_is_not_a_directory(void)
{
	struct datadir d;
	struct err e = { 0 };
	char root[1100];
	snprintf(root, sizeof root, "%s/file", testdir_new_short("r1dd"));
	int fd = open(root, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK(datadir_open(&d, root, &e) == -1);
	CHECK_MSG(strstr(e.msg, "not a directory"), "%s", e.msg);
	datadir_close(&d);
	testdir_done();
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_datadir__creates_the_layout_private),
		TEST(test_datadir__an_open_directory_is_tightened_to_0700),
		TEST(test_datadir__a_second_daemon_is_refused_until_the_first_goes),
		TEST(test_datadir__socket_paths_must_fit),
		TEST(test_datadir__a_file_is_not_a_directory),
		{ 0 },
	});
}
