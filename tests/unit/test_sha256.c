#include <stdint.h>
#include <stdlib.h>

#include "sha256.h"
#include "test.h"
#include "testdir.h"

/* NIST FIPS 180-4 examples (csrc.nist.gov "SHA256.pdf", "SHA2_Additional.pdf") and
 * SHAVS SHA256ShortMsg vectors. */
struct vector {
	const char *msg;
	size_t len;
	const char *hex;
};

static const struct vector vectors[] = {
	{ "", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
	{ "abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	/* 448 bits: the padding no longer fits, a second block is needed */
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	/* 896 bits */
	{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
	  "klmnopqrlmnopqrsmnopqrstnopqrstu", 112,
	  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
	{ "\xbd", 1, "68325720aabd7c82f30f554b313d0570c95accbb7dc4b5aae11204c08ffe732b" },
	{ "\xc9\x8c\x8e\x55", 4, "7abc22c0ae5af26ce93dbb94433a0e0b2e119d014f8e7f65bd56c61ccccd9504" },
};

static void test_sha256__nist_vectors(void)
{
	char hex[SHA256_HEX_SIZE];
	for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
		sha256_buffer(vectors[i].msg, vectors[i].len, hex);
		CHECK_MSG(strcmp(hex, vectors[i].hex) == 0, "vector %zu: got %s", i, hex);
	}
}

static void test_sha256__one_million_a(void)
{
	/* FIPS 180-4 example: 10^6 repetitions of 'a', fed in uneven pieces */
	char chunk[997], hex[SHA256_HEX_SIZE];
	uint8_t digest[SHA256_DIGEST_SIZE];
	memset(chunk, 'a', sizeof chunk);
	struct sha256 h;
	sha256_init(&h);
	size_t left = 1000000;
	while (left) {
		size_t n = left < sizeof chunk ? left : sizeof chunk;
		sha256_update(&h, chunk, n);
		left -= n;
	}
	sha256_final(&h, digest);
	sha256_hex(digest, hex);
	CHECK_MSG(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
		== 0, "got %s", hex);
}

/* 1,000,003 bytes of (31 i + 7) mod 251; digest from Python's hashlib. */
static void check_pattern_digest(void)
{
	static const char want[] = "a79aaccf39831e39ad9382f03c515510dcde695830c65a91620160cbe434b410";
	size_t n = 1000003;
	uint8_t *d = malloc(n);
	CHECK(d);
	for (size_t i = 0; i < n; i++)
		d[i] = (uint8_t)((i * 31 + 7) % 251);
	char hex[SHA256_HEX_SIZE];
	sha256_buffer(d, n, hex);
	free(d);
	CHECK_MSG(strcmp(hex, want) == 0, "got %s", hex);
}

/* Both compressions (SHA extensions where the CPU has them, and the portable one)
 * give the reference digest; each test runs in its own process, so the choice made
 * at the first call follows the environment set here. */
static void test_sha256__accelerated_compression_matches_reference(void)
{
	unsetenv("R1FLOW_SHA256_PORTABLE");
	check_pattern_digest();
}

static void test_sha256__portable_compression_matches_reference(void)
{
	setenv("R1FLOW_SHA256_PORTABLE", "1", 1);
	check_pattern_digest();
}

static void test_sha256__any_split_gives_the_same_digest(void)
{
	/* every length around the block and padding boundaries, split at every point */
	uint8_t data[200];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 131 + 7);
	for (size_t len = 0; len <= 130; len++) {
		char whole[SHA256_HEX_SIZE];
		sha256_buffer(data, len, whole);
		for (size_t cut = 0; cut <= len; cut++) {
			struct sha256 h;
			uint8_t digest[SHA256_DIGEST_SIZE];
			char parts[SHA256_HEX_SIZE];
			sha256_init(&h);
			sha256_update(&h, data, cut);
			sha256_update(&h, data + cut, 0);
			sha256_update(&h, data + cut, len - cut);
			sha256_final(&h, digest);
			sha256_hex(digest, parts);
			CHECK_MSG(strcmp(whole, parts) == 0, "len %zu cut %zu", len, cut);
		}
	}
}

static void test_sha256__state_copies_hash_a_shared_prefix(void)
{
	struct sha256 a, b;
	uint8_t da[SHA256_DIGEST_SIZE], db[SHA256_DIGEST_SIZE];
	char ha[SHA256_HEX_SIZE], hb[SHA256_HEX_SIZE];
	sha256_init(&a);
	sha256_update(&a, "ab", 2);
	b = a;
	sha256_update(&a, "c", 1);
	sha256_update(&b, "c", 1);
	sha256_final(&a, da);
	sha256_final(&b, db);
	sha256_hex(da, ha);
	sha256_hex(db, hb);
	CHECK(strcmp(ha, vectors[1].hex) == 0);
	CHECK(strcmp(hb, vectors[1].hex) == 0);
}

static void test_sha256__file_matches_buffer(void)
{
	char path[1100], hex[SHA256_HEX_SIZE];
	snprintf(path, sizeof path, "%s/v.bin", testdir_new("sha256"));
	testdir_write(path, vectors[3].msg, vectors[3].len);
	int64_t size = -1;
	struct err e = { 0 };
	CHECK_MSG(sha256_file(path, hex, &size, &e) == 0, "%s", e.msg);
	CHECK(size == 112);
	CHECK(strcmp(hex, vectors[3].hex) == 0);
	unlink(path);
	CHECK(sha256_file(path, hex, NULL, &e) == -1);
	CHECK_MSG(strstr(e.msg, "cannot read '") == e.msg && strstr(e.msg, "No such file"),
		"%s", e.msg);
	testdir_done();
}

static void test_sha256__hex_validation(void)
{
	CHECK(sha256_hex_valid(vectors[0].hex));
	CHECK(!sha256_hex_valid(NULL));
	CHECK(!sha256_hex_valid(""));
	CHECK(!sha256_hex_valid("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
	char longer[80];
	snprintf(longer, sizeof longer, "%s0", vectors[0].hex);
	CHECK(!sha256_hex_valid(longer));
	CHECK(!sha256_hex_valid("e3b0c442"));
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_sha256__nist_vectors),
		TEST(test_sha256__one_million_a),
		TEST(test_sha256__any_split_gives_the_same_digest),
		TEST(test_sha256__state_copies_hash_a_shared_prefix),
		TEST(test_sha256__file_matches_buffer),
		TEST(test_sha256__hex_validation),
		TEST(test_sha256__accelerated_compression_matches_reference),
		TEST(test_sha256__portable_compression_matches_reference),
		{ 0 },
	});
}
