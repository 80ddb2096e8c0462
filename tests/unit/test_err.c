/* err: the transient / permanent classification the scheduler and the workers act on. */
#include <errno.h>

#include "err.h"
#include "file.h"
#include "test.h"

static void test_err__sys_keeps_the_errno_and_names_it(void)
{
	struct err e = { 0 };
	CHECK(err_sys(&e, ENOENT, "cannot open '%s'", "x/y") == -1);
	CHECK(e.code == ERR_IO && e.errnum == ENOENT);
	CHECK_MSG(strcmp(e.msg, "cannot open 'x/y': No such file or directory") == 0, "%s", e.msg);
	err_wrap(&e, "stage '%s'", "a");
	CHECK(e.errnum == ENOENT); /* context does not change the cause */
	err_set(&e, ERR_INVALID, "bad value");
	CHECK(e.errnum == 0); /* a new error forgets the old cause */
	CHECK(err_sys(&e, ENOMEM, "cannot map") == -1 && e.code == ERR_NOMEM);
	CHECK(err_sys(NULL, EIO, "dropped") == -1);
}

static void test_err__missing_or_malformed_input_is_permanent(void)
{
	static const int permanent[] = { ENOENT, EACCES, EISDIR, ENOTDIR, EIO, EROFS, EINVAL };
	struct err e = { 0 };
	for (size_t i = 0; i < sizeof permanent / sizeof permanent[0]; i++) {
		err_sys(&e, permanent[i], "op");
		CHECK_MSG(!err_transient(&e) && !err_nospace(&e), "%s", e.msg);
	}
	err_set(&e, ERR_FORMAT, "not a safetensors file");
	CHECK(!err_transient(&e));
	err_set(&e, ERR_NOTFOUND, "no dataset");
	CHECK(!err_transient(&e));
	err_set(&e, ERR_IO, "an I/O error nobody explained");
	CHECK(!err_transient(&e)); /* retrying blind is how the storm started */
	CHECK(!err_transient(NULL) && !err_nospace(NULL));
}

static void test_err__busy_full_and_lost_connections_are_transient(void)
{
	static const int transient[] = { EAGAIN, EINTR, EBUSY, ETIMEDOUT, ECONNRESET,
		ECONNREFUSED, EPIPE, ENOTCONN, ENOMEM };
	struct err e = { 0 };
	for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++) {
		err_sys(&e, transient[i], "op");
		CHECK_MSG(err_transient(&e) && !err_nospace(&e), "%s", e.msg);
	}
	static const int full[] = { ENOSPC, EDQUOT, EFBIG };
	for (size_t i = 0; i < sizeof full / sizeof full[0]; i++) {
		err_sys(&e, full[i], "cannot write 'f'");
		CHECK_MSG(err_transient(&e) && err_nospace(&e), "%s", e.msg);
	}
	err_set(&e, ERR_NOMEM, "out of memory");
	CHECK(err_transient(&e));
}

/* A file operation says why it failed: a missing file is permanent. */
static void test_err__file_read_of_a_missing_file_is_permanent(void)
{
	char *data;
	size_t size;
	struct err e = { 0 };
	CHECK(file_read("/nonexistent/r1flow-err", 10, &data, &size, &e) < 0);
	CHECK_MSG(e.errnum == ENOENT && !err_transient(&e), "%s", e.msg);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_err__sys_keeps_the_errno_and_names_it),
		TEST(test_err__missing_or_malformed_input_is_permanent),
		TEST(test_err__busy_full_and_lost_connections_are_transient),
		TEST(test_err__file_read_of_a_missing_file_is_permanent),
		{ 0 } });
}
