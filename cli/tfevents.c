/*
 * tfevents — TensorBoard event records (tfevents.h has the format and the field
 * numbers). The protocol buffer encoding is the few pieces these messages need: a
 * key is (field << 3 | wire type) as a varint; wire type 0 a varint (int64 as its
 * two's complement, 10 bytes when negative), 1 eight little-endian bytes (double),
 * 2 a varint length and that many bytes (string, embedded message), 5 four
 * little-endian bytes (float).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "tfevents.h"

enum { WIRE_VARINT = 0, WIRE_64 = 1, WIRE_LEN = 2, WIRE_32 = 5 };

/* Event, Summary and Value field numbers (event.proto, summary.proto) */
enum {
	EVENT_WALL_TIME = 1, EVENT_STEP = 2, EVENT_FILE_VERSION = 3, EVENT_SUMMARY = 5,
	SUMMARY_VALUE = 1,
	VALUE_TAG = 1, VALUE_SIMPLE_VALUE = 2,
};

/* The byte-at-a-time table of the reflected Castagnoli polynomial, made on first use. */
static uint32_t crc_table[256];
static int crc_table_made;

static void crc_make_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_table[i] = c;
	}
	crc_table_made = 1;
}

uint32_t tfevents_crc32c(uint32_t crc, const void *data, size_t n)
{
	const uint8_t *p = data;
	if (!crc_table_made)
		crc_make_table();
	crc = ~crc;
	for (size_t i = 0; i < n; i++)
		crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

uint32_t tfevents_mask(uint32_t crc)
{
	return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

/* A message being encoded into a fixed buffer; `over` once it did not fit. */
struct pb {
	uint8_t *p;
	size_t len, cap;
	int over;
};

static void pb_bytes(struct pb *m, const void *data, size_t n)
{
	if (m->over || n > m->cap - m->len) {
		m->over = 1;
		return;
	}
	memcpy(m->p + m->len, data, n);
	m->len += n;
}

static void pb_varint(struct pb *m, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;
	do {
		b[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	pb_bytes(m, b, n);
}

static void pb_key(struct pb *m, unsigned field, unsigned wire)
{
	pb_varint(m, (uint64_t)field << 3 | wire);
}

static void le(uint8_t *out, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

static void pb_double(struct pb *m, unsigned field, double v)
{
	uint64_t bits;
	uint8_t b[8];
	memcpy(&bits, &v, sizeof bits);
	le(b, bits, 8);
	pb_key(m, field, WIRE_64);
	pb_bytes(m, b, 8);
}

static void pb_float(struct pb *m, unsigned field, float v)
{
	uint32_t bits;
	uint8_t b[4];
	memcpy(&bits, &v, sizeof bits);
	le(b, bits, 4);
	pb_key(m, field, WIRE_32);
	pb_bytes(m, b, 4);
}

static void pb_int64(struct pb *m, unsigned field, int64_t v)
{
	pb_key(m, field, WIRE_VARINT);
	pb_varint(m, (uint64_t)v);
}

static void pb_len(struct pb *m, unsigned field, const void *data, size_t n)
{
	pb_key(m, field, WIRE_LEN);
	pb_varint(m, n);
	pb_bytes(m, data, n);
}

static int buf_append(struct tfevents_buf *b, const void *data, size_t n, struct err *err)
{
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2)
				return err_set(err, ERR_NOMEM, "cannot grow an event file past %zu bytes: "
					"out of memory", b->len);
			cap *= 2;
		}
		uint8_t *p = realloc(b->data, cap);
		if (!p)
			return err_set(err, ERR_NOMEM, "cannot grow an event file to %zu bytes: out "
				"of memory", cap);
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	return 0;
}

int tfevents_record(struct tfevents_buf *b, const void *data, size_t n, struct err *err)
{
	uint8_t head[12], tail[4];
	le(head, n, 8);
	le(head + 8, tfevents_mask(tfevents_crc32c(0, head, 8)), 4);
	le(tail, tfevents_mask(tfevents_crc32c(0, data, n)), 4);
	size_t before = b->len;
	if (buf_append(b, head, sizeof head, err) < 0 || buf_append(b, data, n, err) < 0 ||
		buf_append(b, tail, sizeof tail, err) < 0) {
		b->len = before; /* no half record */
		return -1;
	}
	return 0;
}

int tfevents_file_version(struct tfevents_buf *b, double wall_time, struct err *err)
{
	uint8_t bytes[64];
	struct pb ev = { bytes, 0, sizeof bytes, 0 };
	pb_double(&ev, EVENT_WALL_TIME, wall_time);
	pb_len(&ev, EVENT_FILE_VERSION, TFEVENTS_FILE_VERSION, strlen(TFEVENTS_FILE_VERSION));
	assert(!ev.over); /* the buffer is sized for it */
	return tfevents_record(b, ev.p, ev.len, err);
}

int tfevents_scalar(struct tfevents_buf *b, double wall_time, int64_t step, const char *tag,
	float value, struct err *err)
{
	/* each length prefix takes at most 3 bytes for a tag of TFEVENTS_TAG_MAX */
	uint8_t vbytes[TFEVENTS_TAG_MAX + 16], sbytes[TFEVENTS_TAG_MAX + 32];
	uint8_t ebytes[TFEVENTS_TAG_MAX + 64];
	size_t tlen = strlen(tag);
	if (tlen > TFEVENTS_TAG_MAX)
		return err_set(err, ERR_INVALID, "cannot write scalar '%.64s...': its tag is "
			"longer than %d bytes", tag, TFEVENTS_TAG_MAX);
	struct pb val = { vbytes, 0, sizeof vbytes, 0 };
	pb_len(&val, VALUE_TAG, tag, tlen);
	pb_float(&val, VALUE_SIMPLE_VALUE, value);
	struct pb sum = { sbytes, 0, sizeof sbytes, 0 };
	pb_len(&sum, SUMMARY_VALUE, val.p, val.len);
	struct pb ev = { ebytes, 0, sizeof ebytes, 0 };
	pb_double(&ev, EVENT_WALL_TIME, wall_time);
	pb_int64(&ev, EVENT_STEP, step);
	pb_len(&ev, EVENT_SUMMARY, sum.p, sum.len);
	assert(!val.over && !sum.over && !ev.over); /* sized for the longest tag */
	return tfevents_record(b, ev.p, ev.len, err);
}

void tfevents_buf_release(struct tfevents_buf *b)
{
	free(b->data);
	*b = (struct tfevents_buf){ 0 };
}
