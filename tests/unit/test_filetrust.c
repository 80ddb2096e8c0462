#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "filetrust.h"
#include "test.h"
#include "testdir.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0);
}

/* A file's times move at the kernel's clock tick (a few ms): a write within the tick
 * of the note keeps them (the limit filetrust.h states). Tests wait it out. */
static void next_tick(void)
{
	struct timespec ts = { 0, 30 * 1000000L };
	nanosleep(&ts, NULL);
}

static void test_filetrust__noted_file_is_trusted_under_its_name_only(void)
{
	char path[1200];
	snprintf(path, sizeof path, "%s/blob", testdir_new("filetrust"));
	write_file(path, "weights");
	CHECK(!filetrust_check(path, SHA_A)); /* never noted */
	filetrust_note(path, SHA_A);
	CHECK(filetrust_check(path, SHA_A));
	CHECK(!filetrust_check(path, SHA_B));
	filetrust_forget(path);
	CHECK(!filetrust_check(path, SHA_A));
	testdir_done();
}

static void test_filetrust__a_write_in_place_ends_the_trust(void)
{
	char path[1200];
	snprintf(path, sizeof path, "%s/blob", testdir_new("filetrust"));
	write_file(path, "weights");
	filetrust_note(path, SHA_A);
	next_tick();
	FILE *f = fopen(path, "r+b");
	CHECK(f && fseek(f, 2, SEEK_SET) == 0 && fputc('X', f) != EOF && fclose(f) == 0);
	CHECK(!filetrust_check(path, SHA_A)); /* same size, other bytes */
	testdir_done();
}

static void test_filetrust__a_replaced_or_removed_file_is_not_trusted(void)
{
	char path[1200], other[1200];
	const char *dir = testdir_new("filetrust");
	snprintf(path, sizeof path, "%s/blob", dir);
	snprintf(other, sizeof other, "%s/other", dir);
	write_file(path, "weights");
	filetrust_note(path, SHA_A);
	write_file(other, "weightz");
	CHECK(rename(other, path) == 0); /* another inode under the name */
	CHECK(!filetrust_check(path, SHA_A));
	filetrust_note(path, SHA_A);
	CHECK(unlink(path) == 0);
	CHECK(!filetrust_check(path, SHA_A));
	testdir_done();
}

static void test_filetrust__the_oldest_note_makes_room(void)
{
	char path[FILETRUST_SLOTS + 1][1200];
	const char *dir = testdir_new("filetrust");
	for (int i = 0; i <= FILETRUST_SLOTS; i++) {
		snprintf(path[i], sizeof path[i], "%s/b%d", dir, i);
		write_file(path[i], "x");
		filetrust_note(path[i], SHA_A);
	}
	CHECK(!filetrust_check(path[0], SHA_A));
	for (int i = 1; i <= FILETRUST_SLOTS; i++)
		CHECK_MSG(filetrust_check(path[i], SHA_A), "file %d", i);
	testdir_done();
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_filetrust__noted_file_is_trusted_under_its_name_only),
		TEST(test_filetrust__a_write_in_place_ends_the_trust),
		TEST(test_filetrust__a_replaced_or_removed_file_is_not_trusted),
		TEST(test_filetrust__the_oldest_note_makes_room),
		{ 0 },
	});
}
