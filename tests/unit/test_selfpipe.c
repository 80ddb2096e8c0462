#include "selfpipe.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>

static void test_selfpipe__each_signal_is_one_byte_to_read(void)
{
	struct err e = { 0 };
	int fd = selfpipe_open((const int[]){ SIGUSR1, SIGUSR2, 0 }, &e);
	CHECK_MSG(fd >= 0, "%s", e.msg);
	unsigned char buf[8];
	CHECK(read(fd, buf, sizeof buf) < 0 && errno == EAGAIN); /* non-blocking, empty */
	CHECK(raise(SIGUSR1) == 0 && raise(SIGUSR2) == 0 && raise(SIGUSR1) == 0);
	CHECK(read(fd, buf, sizeof buf) == 3);
	CHECK(buf[0] == SIGUSR1 && buf[1] == SIGUSR2 && buf[2] == SIGUSR1);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK(raise(SIGPIPE) == 0); /* ignored: the process is still here */
}

static void test_selfpipe__a_bad_signal_is_an_error(void)
{
	struct err e = { 0 };
	CHECK(selfpipe_open((const int[]){ SIGKILL, 0 }, &e) < 0);
	CHECK_MSG(e.code == ERR_IO && strstr(e.msg, "cannot install signal handlers: "), "%s",
		e.msg);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_selfpipe__each_signal_is_one_byte_to_read),
		TEST(test_selfpipe__a_bad_signal_is_an_error),
		{ 0 } });
}
