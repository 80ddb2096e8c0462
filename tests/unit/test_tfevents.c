#include <stdint.h>
#include <stdlib.h>

#include "test.h"
#include "tfevents.h"

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The check value of the CRC-32C catalogue entry ("123456789"), and the iSCSI test
 * vectors of RFC 3720 appendix B.4 (32 bytes each). */
static void test_tfevents__crc32c_known_vectors(void)
{
	uint8_t zeros[32] = { 0 }, ones[32], up[32], down[32];
	for (int i = 0; i < 32; i++) {
		ones[i] = 0xff;
		up[i] = (uint8_t)i;
		down[i] = (uint8_t)(31 - i);
	}
	CHECK_MSG(tfevents_crc32c(0, "123456789", 9) == 0xE3069283u, "got %08x",
		tfevents_crc32c(0, "123456789", 9));
	CHECK(tfevents_crc32c(0, "", 0) == 0);
	CHECK(tfevents_crc32c(0, zeros, 32) == 0x8A9136AAu);
	CHECK(tfevents_crc32c(0, ones, 32) == 0x62A8AB43u);
	CHECK(tfevents_crc32c(0, up, 32) == 0x46DD794Eu);
	CHECK(tfevents_crc32c(0, down, 32) == 0x113FDB5Cu);
	/* in pieces: the same CRC */
	CHECK(tfevents_crc32c(tfevents_crc32c(0, "1234", 4), "56789", 5) == 0xE3069283u);
}

/* ((crc >> 15) | (crc << 17)) + 0xa282ead8, worked out by hand for two values */
static void test_tfevents__mask(void)
{
	CHECK(tfevents_mask(0) == 0xa282ead8u);
	CHECK_MSG(tfevents_mask(0xE3069283u) == 0xC78AB0E5u, "got %08x",
		tfevents_mask(0xE3069283u));
}

/* length (8 bytes LE), its masked CRC, the data, the data's masked CRC */
static void test_tfevents__record_framing(void)
{
	struct tfevents_buf b = { 0 };
	struct err e = { 0 };
	CHECK(tfevents_record(&b, "abc", 3, &e) == 0);
	CHECK(tfevents_record(&b, "", 0, &e) == 0);
	CHECK(b.len == (8 + 4 + 3 + 4) + (8 + 4 + 0 + 4));
	static const uint8_t len3[8] = { 3, 0, 0, 0, 0, 0, 0, 0 };
	CHECK(memcmp(b.data, len3, 8) == 0);
	CHECK(le32(b.data + 8) == tfevents_mask(tfevents_crc32c(0, len3, 8)));
	CHECK(memcmp(b.data + 12, "abc", 3) == 0);
	CHECK(le32(b.data + 15) == tfevents_mask(tfevents_crc32c(0, "abc", 3)));
	const uint8_t *r2 = b.data + 19;
	static const uint8_t len0[8] = { 0 };
	CHECK(memcmp(r2, len0, 8) == 0);
	CHECK(le32(r2 + 8) == tfevents_mask(tfevents_crc32c(0, len0, 8)));
	CHECK(le32(r2 + 12) == tfevents_mask(0)); /* the CRC of no bytes is 0 */
	tfevents_buf_release(&b);
	CHECK(b.data == NULL && b.len == 0);
}

/* The Events byte by byte, encoded by hand from event.proto and summary.proto. */
static void test_tfevents__event_bytes(void)
{
	struct tfevents_buf b = { 0 };
	struct err e = { 0 };
	CHECK(tfevents_file_version(&b, 1.5, &e) == 0);
	static const uint8_t version[] = {
		0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f,          /* wall_time = 1.5 (double) */
		0x1a, 13, 'b', 'r', 'a', 'i', 'n', '.', 'E', 'v', 'e', 'n', 't', ':', '2',
	};
	CHECK(b.len == 12 + sizeof version + 4);
	CHECK(b.data[0] == sizeof version);
	CHECK(memcmp(b.data + 12, version, sizeof version) == 0);
	tfevents_buf_release(&b);

	CHECK(tfevents_scalar(&b, 1.5, 3, "a/b", 0.25f, &e) == 0);
	static const uint8_t scalar[] = {
		0x09, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f,          /* wall_time = 1.5 */
		0x10, 3,                                     /* step = 3 */
		0x2a, 12,                                    /* summary: 12 bytes */
		0x0a, 10,                                    /*   value: 10 bytes */
		0x0a, 3, 'a', '/', 'b',                      /*     tag */
		0x15, 0, 0, 0x80, 0x3e,                      /*     simple_value = 0.25f */
	};
	CHECK(b.len == 12 + sizeof scalar + 4);
	CHECK(memcmp(b.data + 12, scalar, sizeof scalar) == 0);
	CHECK(le32(b.data + 12 + sizeof scalar) ==
		tfevents_mask(tfevents_crc32c(0, scalar, sizeof scalar)));
	tfevents_buf_release(&b);

	/* a negative step is its 64-bit two's complement: ten varint bytes */
	CHECK(tfevents_scalar(&b, 0, -1, "t", 1.0f, &e) == 0);
	static const uint8_t minus1[] = { 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0x01 };
	CHECK(memcmp(b.data + 12 + 9, minus1, sizeof minus1) == 0);
	tfevents_buf_release(&b);
}

/* A tag of 200 bytes: the lengths take two varint bytes each (a message within a
 * message), and a tag past the limit is refused without touching the buffer. */
static void test_tfevents__long_tags(void)
{
	struct tfevents_buf b = { 0 };
	struct err e = { 0 };
	char tag[TFEVENTS_TAG_MAX + 2];
	memset(tag, 'x', 200);
	tag[200] = '\0';
	CHECK(tfevents_scalar(&b, 0, 1, tag, 2.0f, &e) == 0);
	const uint8_t *ev = b.data + 12;
	/* wall_time 9 bytes, step 2; Value = tag key, 2 length bytes, 200, float key, 4
	 * = 208 bytes; Summary = key, 2 length bytes, 208 = 211 */
	CHECK(ev[11] == 0x2a && ev[12] == ((211 & 0x7f) | 0x80) && ev[13] == 211 >> 7);
	CHECK(ev[14] == 0x0a && ev[15] == ((208 & 0x7f) | 0x80) && ev[16] == 208 >> 7);
	CHECK(ev[17] == 0x0a && ev[18] == ((200 & 0x7f) | 0x80) && ev[19] == 200 >> 7);
	CHECK(b.len == 12 + 14 + 211 + 4);
	size_t len = b.len;
	memset(tag, 'y', TFEVENTS_TAG_MAX + 1);
	tag[TFEVENTS_TAG_MAX + 1] = '\0';
	CHECK(tfevents_scalar(&b, 0, 1, tag, 2.0f, &e) == -1);
	CHECK(e.code == ERR_INVALID && strstr(e.msg, "longer than"));
	CHECK(b.len == len);
	tfevents_buf_release(&b);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_tfevents__crc32c_known_vectors),
		TEST(test_tfevents__mask),
		TEST(test_tfevents__record_framing),
		TEST(test_tfevents__event_bytes),
		TEST(test_tfevents__long_tags),
		{ 0 } });
}
