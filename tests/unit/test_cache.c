#include <time.h>
#include <unistd.h>
#include <stdint.h>
#include <sys/stat.h>

#include "cache.h"
#include "wdelta.h"
#include "test.h"
#include "testdir.h"

static int tmp_files(const struct cache *c)
{
	char cmd[CACHE_PATH_MAX + 64];
	snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s/tmp')\"", c->dir);
	return system(cmd) != 0;
}

static void test_cache__fill_in_pieces_verifies_and_publishes(void)
{
	struct cache c;
	struct cache_fill f;
	struct err e = { 0 };
	char dir[1100], sha[SHA256_HEX_SIZE], path[CACHE_PATH_MAX];
	snprintf(dir, sizeof dir, "%s/a/b", testdir_new("cache"));
	CHECK_MSG(cache_open(&c, dir, &e) == 0, "%s", e.msg);
	const char data[] = "the bytes of a checkpoint";
	sha256_buffer(data, sizeof data, sha);
	CHECK(!cache_lookup(&c, sha, path, sizeof path));
	CHECK_MSG(cache_fill_begin(&c, &f, sha, &e) == 0, "%s", e.msg);
	CHECK(!cache_lookup(&c, sha, path, sizeof path)); /* not before it is verified */
	CHECK(cache_fill_write(&f, data, 10, &e) == 0);
	CHECK(cache_fill_write(&f, data + 10, sizeof data - 10, &e) == 0);
	CHECK_MSG(cache_fill_commit(&c, &f, path, sizeof path, &e) == 0, "%s", e.msg);
	CHECK(cache_lookup(&c, sha, path, sizeof path));
	char hex[SHA256_HEX_SIZE];
	CHECK(sha256_file(path, hex, NULL, &e) == 0 && strcmp(hex, sha) == 0);
	CHECK(!tmp_files(&c));
	struct stat st;
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
	cache_fill_abort(&f); /* harmless once over */
	testdir_done();
}

static void test_cache__corrupt_bytes_never_enter_the_cache(void)
{
	struct cache c;
	struct cache_fill f;
	struct err e = { 0 };
	char sha[SHA256_HEX_SIZE], path[CACHE_PATH_MAX];
	CHECK(cache_open(&c, testdir_new("cache"), &e) == 0);
	sha256_buffer("right", 5, sha);
	CHECK(cache_fill_begin(&c, &f, sha, &e) == 0);
	CHECK(cache_fill_write(&f, "wrong", 5, &e) == 0);
	CHECK(cache_fill_commit(&c, &f, path, sizeof path, &e) == -1);
	CHECK_MSG(strstr(e.msg, "failed verification") && strstr(e.msg, sha), "%s", e.msg);
	CHECK(!cache_lookup(&c, sha, path, sizeof path));
	CHECK(!tmp_files(&c));
	testdir_done();
}

static void test_cache__abort_leaves_nothing(void)
{
	struct cache c;
	struct cache_fill f;
	struct err e = { 0 };
	char sha[SHA256_HEX_SIZE], path[CACHE_PATH_MAX];
	CHECK(cache_open(&c, testdir_new("cache"), &e) == 0);
	sha256_buffer("x", 1, sha);
	CHECK(cache_fill_begin(&c, &f, sha, &e) == 0);
	CHECK(cache_fill_write(&f, "x", 1, &e) == 0);
	cache_fill_abort(&f);
	cache_fill_abort(&f);
	CHECK(!cache_lookup(&c, sha, path, sizeof path));
	CHECK(!tmp_files(&c));
	testdir_done();
}

static void test_cache__names_must_be_sha256s(void)
{
	struct cache c;
	struct cache_fill f;
	struct err e = { 0 };
	char path[CACHE_PATH_MAX];
	CHECK(cache_open(&c, testdir_new("cache"), &e) == 0);
	CHECK(cache_fill_begin(&c, &f, "../../etc/passwd", &e) == -1);
	CHECK(strstr(e.msg, "not a sha256"));
	CHECK(!cache_lookup(&c, "tmp", path, sizeof path));
	testdir_done();
}

/* A cached file damaged after it was committed is found by cache_verify, named,
 * and removed, so the next lookup misses and the blob is fetched again. */
static void test_cache__damaged_file_is_named_and_dropped(void)
{
	struct cache c;
	struct cache_fill f;
	struct err e = { 0 };
	char sha[SHA256_HEX_SIZE], path[CACHE_PATH_MAX];
	CHECK(cache_open(&c, testdir_new("cache"), &e) == 0);
	const char data[] = "weights that will rot on disk";
	sha256_buffer(data, sizeof data, sha);
	CHECK(cache_fill_begin(&c, &f, sha, &e) == 0);
	CHECK(cache_fill_write(&f, data, sizeof data, &e) == 0);
	CHECK_MSG(cache_fill_commit(&c, &f, path, sizeof path, &e) == 0, "%s", e.msg);
	CHECK_MSG(cache_verify(&c, sha, path, &e) == 0, "%s", e.msg);
	/* past the clock tick of the fill: a write within it keeps the file's times, and
	 * the file is trusted as filled (base/filetrust.h) */
	struct timespec ts = { 0, 30 * 1000000L };
	nanosleep(&ts, NULL);
	FILE *fp = fopen(path, "r+b");
	CHECK(fp && fseek(fp, 3, SEEK_SET) == 0 && fputc('X', fp) != EOF && fclose(fp) == 0);
	CHECK(cache_lookup(&c, sha, path, sizeof path)); /* a stat sees nothing wrong */
	CHECK(cache_verify(&c, sha, path, &e) == -1 && e.code == ERR_FORMAT);
	CHECK_MSG(strstr(e.msg, path) && strstr(e.msg, "damaged"), "%s", e.msg);
	CHECK(!cache_lookup(&c, sha, path, sizeof path));
	testdir_done();
}

/* Put `data` in the cache as a blob; its sha256 in sha. */
static void put(struct cache *c, const void *data, size_t n, char sha[SHA256_HEX_SIZE])
{
	struct cache_fill f;
	struct err e = { 0 };
	char path[CACHE_PATH_MAX];
	sha256_buffer(data, n, sha);
	CHECK(cache_fill_begin(c, &f, sha, &e) == 0 && cache_fill_write(&f, data, n, &e) == 0);
	CHECK_MSG(cache_fill_commit(c, &f, path, sizeof path, &e) == 0, "%s", e.msg);
}

/* A blob rebuilt from a cached base and a delta enters the cache only when it hashes
 * to its name: from the right base it does; from a damaged base, or once the base
 * is gone, it does not and nothing enters. cache_list offers the newest first. */
static void test_cache__delta_rebuilds_only_the_named_blob(void)
{
	struct cache c;
	struct err e = { 0 };
	char bs[SHA256_HEX_SIZE], ts[SHA256_HEX_SIZE], path[CACHE_PATH_MAX];
	char names[4][SHA256_HEX_SIZE];
	CHECK(cache_open(&c, testdir_new("cache"), &e) == 0);
	char base[4096], target[4096];
	for (size_t i = 0; i < sizeof base; i++) {
		base[i] = (char)(i * 7);
		target[i] = (char)(i * 7 + (i % 13 == 0));
	}
	put(&c, base, sizeof base, bs);
	sha256_buffer(target, sizeof target, ts);
	void *delta;
	size_t n;
	CHECK(wdelta_encode(base, target, sizeof base, bs, ts, &delta, &n, &e) == 0);
	CHECK(cache_list(&c, names, 4) == 1 && strcmp(names[0], bs) == 0);

	/* the base damaged in place: the rebuilt bytes are not the target's */
	struct timespec ts30 = { 0, 30 * 1000000L };
	nanosleep(&ts30, NULL);
	CHECK(cache_lookup(&c, bs, path, sizeof path));
	FILE *fp = fopen(path, "r+b");
	CHECK(fp && fseek(fp, 100, SEEK_SET) == 0 && fputc('!', fp) != EOF && fclose(fp) == 0);
	CHECK(cache_apply_delta(&c, ts, bs, delta, n, path, sizeof path, &e) == -1);
	CHECK_MSG(strstr(e.msg, "failed verification") && strstr(e.msg, ts), "%s", e.msg);
	CHECK(!cache_lookup(&c, ts, path, sizeof path));

	/* the right base */
	put(&c, base, sizeof base, bs);
	nanosleep(&ts30, NULL); /* so the rebuilt file is the newer by its time (cache_list) */
	e = (struct err){ 0 };
	CHECK_MSG(cache_apply_delta(&c, ts, bs, delta, n, path, sizeof path, &e) == 0, "%s", e.msg);
	char hex[SHA256_HEX_SIZE];
	CHECK(sha256_file(path, hex, NULL, &e) == 0 && strcmp(hex, ts) == 0);
	CHECK(cache_list(&c, names, 4) == 2 && strcmp(names[0], ts) == 0);

	/* a delta that names other blobs, and a base no longer cached */
	e = (struct err){ 0 };
	CHECK(cache_apply_delta(&c, bs, ts, delta, n, path, sizeof path, &e) == -1);
	CHECK(cache_lookup(&c, bs, path, sizeof path) && unlink(path) == 0); /* the rebuilt target too, so it must come from the base again */
	CHECK(cache_lookup(&c, ts, path, sizeof path) && unlink(path) == 0);
	e = (struct err){ 0 };
	CHECK(cache_apply_delta(&c, ts, bs, delta, n, path, sizeof path, &e) == -1);
	CHECK_MSG(strstr(e.msg, "left the cache"), "%s", e.msg);
	CHECK(!cache_lookup(&c, ts, path, sizeof path));
	free(delta);
	testdir_done();
}

/* A blob a job just looked up (touched) survives the trim of the job's next fill, even
 * when it was the oldest file in the cache. */
static void test_cache__a_touched_blob_survives_the_next_trim(void)
{
	struct cache c;
	struct err e = { 0 };
	char first[SHA256_HEX_SIZE], sha[SHA256_HEX_SIZE], path[CACHE_PATH_MAX];
	CHECK(cache_open(&c, testdir_new("cache"), &e) == 0);
	struct timespec tick = { 0, 20 * 1000000L };
	put(&c, "blob 0", 6, first);
	for (int i = 1; i < CACHE_KEEP; i++) {
		char text[16];
		snprintf(text, sizeof text, "blob %d", i);
		nanosleep(&tick, NULL);
		put(&c, text, strlen(text), sha);
	}
	nanosleep(&tick, NULL);
	CHECK(cache_lookup(&c, first, path, sizeof path));
	cache_touch(&c, first, path);
	nanosleep(&tick, NULL);
	put(&c, "one more", 8, sha); /* trims to CACHE_KEEP: the oldest goes */
	CHECK_MSG(cache_lookup(&c, first, path, sizeof path), "the touched blob was trimmed");
	CHECK_MSG(cache_verify(&c, first, path, &e) == 0, "%s", e.msg);
	testdir_done();
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_cache__fill_in_pieces_verifies_and_publishes),
		TEST(test_cache__corrupt_bytes_never_enter_the_cache),
		TEST(test_cache__abort_leaves_nothing),
		TEST(test_cache__names_must_be_sha256s),
		TEST(test_cache__damaged_file_is_named_and_dropped),
		TEST(test_cache__delta_rebuilds_only_the_named_blob),
		TEST(test_cache__a_touched_blob_survives_the_next_trim),
		{ 0 },
	});
}
