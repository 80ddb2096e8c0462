#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>

#include "safetensors.h"
#include "test.h"
#include "testdir.h"

/* ---- helpers ---- */

static char *path_in(const char *name)
{
	static char buf[4][4096];
	static int k;
	char *p = buf[k++ % 4];
	snprintf(p, sizeof buf[0], "%s/%s", testdir, name);
	return p;
}

/* A file laid out by hand: 8-byte length given explicitly, header text, data. */
static void write_raw_len(const char *path, uint64_t hlen, const char *header, const void *data, size_t dlen)
{
	size_t n = strlen(header);
	unsigned char *buf = malloc(8 + n + dlen + 1);
	CHECK(buf);
	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)(hlen >> (8 * i));
	memcpy(buf + 8, header, n);
	if (dlen)
		memcpy(buf + 8 + n, data, dlen);
	testdir_write(path, buf, 8 + n + dlen);
	free(buf);
}

static void write_raw(const char *path, const char *header, const void *data, size_t dlen)
{
	write_raw_len(path, strlen(header), header, data, dlen);
}

static float f32_of(uint32_t bits)
{
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

static uint32_t bits_of(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

#define CHECK_ERR(rc, e, ...) do { \
	CHECK_MSG((rc) == -1, "expected an error"); \
	const char *subs_[] = { __VA_ARGS__, NULL }; \
	for (int s_ = 0; subs_[s_]; s_++) \
		CHECK_MSG(strstr((e).msg, subs_[s_]), "message '%s' lacks '%s'", (e).msg, subs_[s_]); \
} while (0)

/* A small valid file: "a" F32 (2, 3) and "b" I32 (4). */
static void write_small(const char *path)
{
	static const float a[6] = { 1, -2, 3.5f, 0, 1e-20f, 6 };
	static const int32_t b[4] = { 7, -8, 2147483647, 0 };
	struct st_write_tensor t[] = {
		{ .name = "a", .dtype = ST_F32, .ndim = 2, .shape = { 2, 3 }, .data = a },
		{ .name = "b", .dtype = ST_I32, .ndim = 1, .shape = { 4 }, .data = b },
	};
	struct err e = { 0 };
	CHECK_MSG(st_write(path, t, 2, (const char *const[]){ "format", "pt", NULL }, &e) == 0, "%s", e.msg);
}

/* ---- round trip ---- */

static void test_safetensors__round_trip_is_bit_exact(void)
{
	testdir_new("st");
	const char *path = path_in("rt.safetensors");
	float a[6] = { 1.0f, -0.0f, f32_of(0x7f800000), f32_of(0x7fc01234), f32_of(0x00000001), -3.25e30f };
	int32_t b[5] = { 0, -1, INT32_MIN, INT32_MAX, 42 };
	float scalar = 0.5f;
	struct st_write_tensor t[] = {
		{ .name = "model.layers.0.w", .dtype = ST_F32, .ndim = 2, .shape = { 3, 2 }, .data = a },
		{ .name = "ids", .dtype = ST_I32, .ndim = 1, .shape = { 5 }, .data = b },
		{ .name = "scalar", .dtype = ST_F32, .ndim = 0, .data = &scalar },
		{ .name = "empty", .dtype = ST_F32, .ndim = 2, .shape = { 0, 5 }, .data = NULL },
	};
	struct err e = { 0 };
	CHECK_MSG(st_write(path, t, 4, (const char *const[]){ "format", "pt", "step", "3", NULL }, &e) == 0,
		"%s", e.msg);
	CHECK(access(path_in("rt.safetensors.tmp"), F_OK) != 0);

	struct st_file f;
	CHECK_MSG(st_open(&f, path, &e) == 0, "%s", e.msg);
	CHECK(f.n == 4);
	const struct st_tensor_info *ti = st_find(&f, "model.layers.0.w");
	CHECK(ti && ti->dtype == ST_F32 && ti->ndim == 2 && ti->shape[0] == 3 && ti->shape[1] == 2 && ti->numel == 6);
	CHECK(ti->begin == 0 && ti->end == 24);
	CHECK(st_find(&f, "nope") == NULL);
	CHECK(strcmp(st_metadata(&f, "format"), "pt") == 0);
	CHECK(strcmp(st_metadata(&f, "step"), "3") == 0);
	CHECK(st_metadata(&f, "missing") == NULL);

	float a2[6];
	int32_t b2[5];
	float s2 = 0, none = 123;
	CHECK_MSG(st_read_f32(&f, "model.layers.0.w", 2, (int64_t[]){ 3, 2 }, a2, &e) == 0, "%s", e.msg);
	CHECK(memcmp(a, a2, sizeof a) == 0);
	CHECK_MSG(st_read_i32(&f, "ids", 5, b2, &e) == 0, "%s", e.msg);
	CHECK(memcmp(b, b2, sizeof b) == 0);
	CHECK_MSG(st_read_f32(&f, "scalar", 0, NULL, &s2, &e) == 0, "%s", e.msg);
	CHECK(s2 == 0.5f);
	CHECK_MSG(st_read_f32(&f, "empty", 2, (int64_t[]){ 0, 5 }, &none, &e) == 0, "%s", e.msg);
	CHECK(none == 123);
	st_close(&f);
	testdir_done();
}

static void test_safetensors__header_is_ordered_and_padded(void)
{
	testdir_new("st");
	const char *path = path_in("h.safetensors");
	write_small(path);
	size_t len;
	unsigned char *buf = testdir_read(path, &len);
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | buf[i];
	CHECK(n % 8 == 0);
	CHECK(len == 8 + n + 6 * 4 + 4 * 4);
	char *h = calloc(1, n + 1);
	memcpy(h, buf + 8, n);
	CHECK(h[0] == '{');
	char *md = strstr(h, "\"__metadata__\""), *a = strstr(h, "\"a\":"), *b = strstr(h, "\"b\":");
	CHECK(md && a && b && md < a && a < b);
	CHECK(strstr(h, "\"b\":{\"dtype\":\"I32\",\"shape\":[4],\"data_offsets\":[24,40]}"));
	size_t end = strlen(h);
	while (end && h[end - 1] == ' ')
		end--;
	CHECK(h[end - 1] == '}');
	CHECK(n - end < 8);
	free(h);
	free(buf);
	testdir_done();
}

/* ---- 16-bit floats ---- */

static void test_safetensors__reads_f16(void)
{
	testdir_new("st");
	const char *path = path_in("f16.safetensors");
	static const uint16_t h[] = {
		0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x3555, 0x8001,
	};
	const float want[] = {
		1.0f, -2.0f, 65504.0f, 0x1p-24f, 0x3ffp-24f, 0x1p-14f, -0.0f, INFINITY, -INFINITY, NAN,
		0x1.554p-2f, -0x1p-24f,
	};
	enum { N = sizeof h / sizeof h[0] };
	unsigned char data[2 * N];
	for (int i = 0; i < N; i++) {
		data[2 * i] = (unsigned char)(h[i] & 0xff);
		data[2 * i + 1] = (unsigned char)(h[i] >> 8);
	}
	char hdr[128];
	snprintf(hdr, sizeof hdr, "{\"x\":{\"dtype\":\"F16\",\"shape\":[%d],\"data_offsets\":[0,%d]}}", N, 2 * N);
	write_raw(path, hdr, data, sizeof data);

	struct st_file f;
	struct err e = { 0 };
	float out[N];
	CHECK_MSG(st_open(&f, path, &e) == 0, "%s", e.msg);
	CHECK(st_find(&f, "x")->dtype == ST_F16);
	CHECK_MSG(st_read_f32(&f, "x", 1, (int64_t[]){ N }, out, &e) == 0, "%s", e.msg);
	for (int i = 0; i < N; i++) {
		if (isnan(want[i]))
			CHECK_MSG(isnan(out[i]), "element %d", i);
		else
			CHECK_MSG(bits_of(out[i]) == bits_of(want[i]), "element %d: %a, want %a", i, (double)out[i],
				(double)want[i]);
	}
	CHECK(out[3] == 5.9604644775390625e-08f); /* the smallest subnormal, 2^-24 */
	st_close(&f);
	testdir_done();
}

static void test_safetensors__reads_bf16(void)
{
	testdir_new("st");
	const char *path = path_in("bf16.safetensors");
	static const uint16_t h[] = { 0x3f80, 0xc040, 0x4049, 0x7f80, 0xff80, 0x7fc0, 0x0001, 0x8000, 0x3c23 };
	enum { N = sizeof h / sizeof h[0] };
	unsigned char data[2 * N];
	for (int i = 0; i < N; i++) {
		data[2 * i] = (unsigned char)(h[i] & 0xff);
		data[2 * i + 1] = (unsigned char)(h[i] >> 8);
	}
	char hdr[128];
	snprintf(hdr, sizeof hdr, "{\"y\":{\"dtype\":\"BF16\",\"shape\":[1,%d],\"data_offsets\":[0,%d]}}", N, 2 * N);
	write_raw(path, hdr, data, sizeof data);

	struct st_file f;
	struct err e = { 0 };
	float out[N];
	CHECK_MSG(st_open(&f, path, &e) == 0, "%s", e.msg);
	CHECK_MSG(st_read_f32(&f, "y", 2, (int64_t[]){ 1, N }, out, &e) == 0, "%s", e.msg);
	CHECK(out[0] == 1.0f);
	CHECK(out[1] == -3.0f);
	CHECK(out[2] == 3.140625f);
	CHECK(isinf(out[3]) && out[3] > 0);
	CHECK(isinf(out[4]) && out[4] < 0);
	CHECK(isnan(out[5]));
	CHECK(out[6] == 0x1p-133f);
	CHECK(bits_of(out[7]) == 0x80000000u);
	CHECK(out[8] == 0x1.46p-7f);
	for (int i = 0; i < N; i++)
		CHECK(bits_of(out[i]) == (uint32_t)h[i] << 16);
	st_close(&f);
	testdir_done();
}

/* Every F16 bit pattern against an independent conversion; crosses the read chunk too. */
static void test_safetensors__reads_every_f16_value(void)
{
	testdir_new("st");
	const char *path = path_in("all.safetensors");
	enum { N = 65536 };
	unsigned char *data = malloc(2 * N);
	for (int i = 0; i < N; i++) {
		data[2 * i] = (unsigned char)(i & 0xff);
		data[2 * i + 1] = (unsigned char)(i >> 8);
	}
	char hdr[128];
	snprintf(hdr, sizeof hdr, "{\"z\":{\"dtype\":\"F16\",\"shape\":[256,256],\"data_offsets\":[0,%d]}}", 2 * N);
	write_raw(path, hdr, data, 2 * N);
	struct st_file f;
	struct err e = { 0 };
	float *out = malloc(N * sizeof *out);
	CHECK_MSG(st_open(&f, path, &e) == 0, "%s", e.msg);
	CHECK_MSG(st_read_f32(&f, "z", 2, (int64_t[]){ 256, 256 }, out, &e) == 0, "%s", e.msg);
	for (int i = 0; i < N; i++) {
		int exp = (i >> 10) & 0x1f, mant = i & 0x3ff;
		double sign = (i & 0x8000) ? -1 : 1, want;
		if (exp == 0x1f) {
			if (mant) {
				CHECK_MSG(isnan(out[i]), "0x%04x", i);
				continue;
			}
			want = sign * INFINITY;
		} else if (exp == 0) {
			want = sign * ldexp(mant, -24);
		} else {
			want = sign * ldexp(1024 + mant, exp - 25);
		}
		CHECK_MSG(bits_of(out[i]) == bits_of((float)want), "0x%04x: %a, want %a", i, (double)out[i], want);
	}
	st_close(&f);
	free(out);
	free(data);
	testdir_done();
}

/* ---- integers ---- */

static void test_safetensors__reads_i64_as_i32(void)
{
	testdir_new("st");
	const char *path = path_in("i64.safetensors");
	int64_t all[4] = { -5, 2147483647, 12, 4294967296 };
	write_raw(path, "{\"n\":{\"dtype\":\"I64\",\"shape\":[3],\"data_offsets\":[0,24]},"
		"\"big\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[24,32]}}", all, sizeof all);
	struct st_file f;
	struct err e = { 0 };
	int32_t out[3], one;
	CHECK_MSG(st_open(&f, path, &e) == 0, "%s", e.msg);
	CHECK_MSG(st_read_i32(&f, "n", 3, out, &e) == 0, "%s", e.msg);
	CHECK(out[0] == -5 && out[1] == 2147483647 && out[2] == 12);
	CHECK_ERR(st_read_i32(&f, "big", 1, &one, &e), e, "i64.safetensors", "'big'", "32 bits");
	CHECK_ERR(st_read_i32(&f, "n", 4, out, &e), e, "i64.safetensors", "'n'", "3 elements");
	float fl[3];
	CHECK_ERR(st_read_f32(&f, "n", 1, (int64_t[]){ 3 }, fl, &e), e, "i64.safetensors", "'n'", "I64");
	st_close(&f);
	testdir_done();
}

/* ---- reading errors ---- */

static void test_safetensors__missing_tensor_names_file_and_tensor(void)
{
	testdir_new("st");
	const char *path = path_in("m.safetensors");
	write_small(path);
	struct st_file f;
	struct err e = { 0 };
	float out[6];
	int32_t iout[4];
	CHECK_MSG(st_open(&f, path, &e) == 0, "%s", e.msg);
	CHECK_ERR(st_read_f32(&f, "model.norm.weight", 1, (int64_t[]){ 6 }, out, &e), e,
		"cannot read '", "m.safetensors'", "'model.norm.weight'");
	CHECK(e.code == ERR_NOTFOUND);
	CHECK_ERR(st_read_i32(&f, "c", 4, iout, &e), e, "m.safetensors", "'c'");
	st_close(&f);
	testdir_done();
}

static void test_safetensors__wrong_shape_names_file_and_tensor(void)
{
	testdir_new("st");
	const char *path = path_in("s.safetensors");
	write_small(path);
	struct st_file f;
	struct err e = { 0 };
	float out[6];
	CHECK_MSG(st_open(&f, path, &e) == 0, "%s", e.msg);
	CHECK_ERR(st_read_f32(&f, "a", 2, (int64_t[]){ 3, 2 }, out, &e), e,
		"s.safetensors': tensor 'a' has shape [2, 3], expected [3, 2]");
	CHECK_ERR(st_read_f32(&f, "a", 1, (int64_t[]){ 6 }, out, &e), e,
		"tensor 'a' has shape [2, 3], expected [6]");
	CHECK_ERR(st_read_f32(&f, "b", 1, (int64_t[]){ 4 }, out, &e), e, "s.safetensors", "'b'", "I32");
	st_close(&f);
	testdir_done();
}

static void test_safetensors__open_missing_file(void)
{
	testdir_new("st");
	struct st_file f;
	struct err e = { 0 };
	CHECK_ERR(st_open(&f, path_in("nope.safetensors"), &e), e, "cannot open '", "nope.safetensors'");
	CHECK(e.code == ERR_NOTFOUND);
	CHECK(f.fp == NULL && f.tensors == NULL);
	st_close(&f); /* harmless after a failed open */
	CHECK_ERR(st_open(&f, testdir, &e), e, "not a regular file");
	testdir_done();
}

static void test_safetensors__truncated_file(void)
{
	testdir_new("st");
	const char *path = path_in("t.safetensors"), *cut = path_in("cut.safetensors");
	write_small(path);
	size_t len;
	unsigned char *buf = testdir_read(path, &len);
	size_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | buf[i];
	size_t at[] = { 0, 1, 3, 7, 8, 9, 8 + n / 2, 8 + n - 1, 8 + n, 8 + n + 1, 8 + n + 23, 8 + n + 24, len - 1 };
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		testdir_write(cut, buf, at[i]);
		struct st_file f;
		struct err e = { 0 };
		CHECK_ERR(st_open(&f, cut, &e), e, "'", "cut.safetensors' is truncated");
		if (at[i] >= 8 + n) /* inside the data: the tensor that runs off the end is named */
			CHECK_MSG(strstr(e.msg, "tensor 'b'") || strstr(e.msg, "tensor 'a'"), "%s", e.msg);
		if (at[i] > 8 && at[i] < 8 + n)
			CHECK_MSG(strstr(e.msg, "header says"), "%s", e.msg);
	}
	free(buf);
	testdir_done();
}

static void test_safetensors__malformed_headers(void)
{
	testdir_new("st");
	static const struct {
		const char *header;
		size_t dlen;
		const char *want1, *want2;
	} cases[] = {
		{ "hello", 0, "malformed safetensors header", "" },
		{ "", 0, "malformed safetensors header", "" },
		{ "[1, 2]", 0, "not a JSON object", "" },
		{ "\"str\"", 0, "malformed safetensors header", "" },
		{ "{\"w\": 3}", 0, "'w'", "not an object" },
		{ "{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4, "'w'", "dtype" },
		{ "{\"w\": {\"dtype\": \"F99\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4, "'w'", "F99" },
		{ "{\"w\": {\"dtype\": \"F64\", \"shape\": [1], \"data_offsets\": [0, 8]}}", 8, "'w'", "F64" },
		{ "{\"w\": {\"dtype\": 32, \"shape\": [1], \"data_offsets\": [0, 4]}}", 4, "'w'", "dtype" },
		{ "{\"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", 4, "'w'", "shape" },
		{ "{\"w\": {\"dtype\": \"F32\", \"shape\": [1.0], \"data_offsets\": [0, 4]}}", 4, "'w'", "shape" },
		{ "{\"w\": {\"dtype\": \"F32\", \"shape\": \"1\", \"data_offsets\": [0, 4]}}", 4, "'w'", "shape" },
		{ "{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", 4, "'w'", "shape" },
		{ "{\"w\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 4]}}", 4, "'w'", "shape" },
		{ "{\"w\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 4294967296], \"data_offsets\": [0, 4]}}", 4,
			"'w'", "too many elements" },
		{ "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", 4, "'w'", "data_offsets" },
		{ "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4, 8]}}", 8, "'w'", "data_offsets" },
		{ "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [\"0\", \"4\"]}}", 4, "'w'", "data_offsets" },
		{ "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [-4, 0]}}", 4, "'w'", "data_offsets" },
		{ "{\"w\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [8, 0]}}", 8, "'w'", "data_offsets" },
		{ "{\"w\": {\"dtype\": \"F32\", \"shape\": [3], \"data_offsets\": [0, 8]}}", 12, "'w'", "need 12" },
		{ "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]}}", 12, "'w'", "truncated" },
		{ "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 4, "'w'", "truncated" },
		{ "{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 18446744073709551615]}}", 4,
			"malformed safetensors header", "" },
		{ "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
		  " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12, "'a' and 'b' overlap", "" },
		{ "{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
		  " \"c\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [4, 4]},"
		  " \"b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 12]}}", 16, "'a' and 'b' overlap", "" },
		{ "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]},"
		  " \"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [4, 8]}}", 8, "duplicate", "" },
		{ "{\"__metadata__\": [1]}", 0, "'__metadata__' is not an object", "" },
		{ "{\"__metadata__\": {\"step\": 3}}", 0, "metadata 'step' is not a string", "" },
		{ "{\"a\\u0000b\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]}}", 4,
			"malformed safetensors header", "" },
	};
	const char *path = path_in("bad.safetensors");
	static const unsigned char zeros[64];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		write_raw(path, cases[i].header, zeros, cases[i].dlen);
		struct st_file f;
		struct err e = { 0 };
		int rc = st_open(&f, path, &e);
		CHECK_MSG(rc == -1, "case %zu (%s) was accepted", i, cases[i].header);
		CHECK_MSG(strstr(e.msg, "bad.safetensors'") && strstr(e.msg, cases[i].want1)
			&& strstr(e.msg, cases[i].want2), "case %zu: message '%s'", i, e.msg);
		CHECK(e.code == ERR_FORMAT);
	}

	/* header lengths far beyond the file, and beyond any sane header */
	static const uint64_t lens[] = { UINT64_MAX, (uint64_t)1 << 62, 100u * 1024 * 1024 + 1, 1000 };
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		write_raw_len(path, lens[i], "{}", NULL, 0);
		struct st_file f;
		struct err e = { 0 };
		CHECK_ERR(st_open(&f, path, &e), e, "bad.safetensors'");
		CHECK_MSG(strstr(e.msg, i < 3 ? "over the limit" : "header says 1000 bytes, file has 10"), "%s", e.msg);
	}

	/* a valid empty file and a zero-size tensor are fine */
	write_raw(path, "{}      ", NULL, 0);
	struct st_file f;
	struct err e = { 0 };
	CHECK_MSG(st_open(&f, path, &e) == 0, "%s", e.msg);
	CHECK(f.n == 0 && st_find(&f, "x") == NULL && st_metadata(&f, "x") == NULL);
	st_close(&f);
	testdir_done();
}

/* ---- writing ---- */

static void test_safetensors__write_errors(void)
{
	testdir_new("st");
	float x[2] = { 1, 2 };
	struct err e = { 0 };
	struct st_write_tensor dup[] = {
		{ .name = "x", .dtype = ST_F32, .ndim = 1, .shape = { 2 }, .data = x },
		{ .name = "x", .dtype = ST_F32, .ndim = 1, .shape = { 2 }, .data = x },
	};
	CHECK_ERR(st_write(path_in("d.safetensors"), dup, 2, NULL, &e), e, "d.safetensors'", "'x'");
	struct st_write_tensor f16[] = { { .name = "h", .dtype = ST_I64, .ndim = 1, .shape = { 1 }, .data = x } };
	CHECK_ERR(st_write(path_in("d.safetensors"), f16, 1, NULL, &e), e, "d.safetensors'", "'h'");
	struct st_write_tensor res[] = { { .name = "__metadata__", .dtype = ST_F32, .ndim = 1, .shape = { 1 }, .data = x } };
	CHECK_ERR(st_write(path_in("d.safetensors"), res, 1, NULL, &e), e, "'__metadata__'");
	struct st_write_tensor neg[] = { { .name = "n", .dtype = ST_F32, .ndim = 1, .shape = { -1 }, .data = x } };
	CHECK_ERR(st_write(path_in("d.safetensors"), neg, 1, NULL, &e), e, "'n'");
	CHECK(access(path_in("d.safetensors"), F_OK) != 0);
	CHECK(access(path_in("d.safetensors.tmp"), F_OK) != 0);
	CHECK_ERR(st_write(path_in("no/such/dir/x.safetensors"), dup, 1, NULL, &e), e,
		"no/such/dir/x.safetensors.tmp.", "No such file or directory");
	CHECK(e.code == ERR_IO);
	/* no tensors and no metadata: a valid, empty file */
	CHECK_MSG(st_write(path_in("empty.safetensors"), NULL, 0, NULL, &e) == 0, "%s", e.msg);
	struct st_file f;
	CHECK_MSG(st_open(&f, path_in("empty.safetensors"), &e) == 0, "%s", e.msg);
	CHECK(f.n == 0);
	st_close(&f);
	testdir_done();
}

static void test_safetensors__write_replaces_atomically(void)
{
	testdir_new("st");
	const char *path = path_in("r.safetensors");
	write_small(path);
	float y = 9;
	struct st_write_tensor t[] = { { .name = "y", .dtype = ST_F32, .ndim = 1, .shape = { 1 }, .data = &y } };
	struct err e = { 0 };
	struct st_file old;
	CHECK_MSG(st_open(&old, path, &e) == 0, "%s", e.msg); /* an open reader keeps the old file */
	CHECK_MSG(st_write(path, t, 1, NULL, &e) == 0, "%s", e.msg);
	float a[6];
	CHECK_MSG(st_read_f32(&old, "a", 2, (int64_t[]){ 2, 3 }, a, &e) == 0, "%s", e.msg);
	CHECK(a[0] == 1 && a[2] == 3.5f);
	st_close(&old);
	struct st_file f;
	CHECK_MSG(st_open(&f, path, &e) == 0, "%s", e.msg);
	CHECK(f.n == 1 && st_find(&f, "y") && !st_find(&f, "a") && st_metadata(&f, "format") == NULL);
	st_close(&f);
	testdir_done();
}

/* ---- never crash on damaged files ---- */

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Open and read every tensor; -1 or 0 are both fine, crashing is not. */
static void open_and_read_all(const char *path)
{
	struct st_file f;
	struct err e = { 0 };
	if (st_open(&f, path, &e))
		return;
	for (int i = 0; i < f.n; i++) {
		const struct st_tensor_info *t = &f.tensors[i];
		size_t n = (size_t)t->numel;
		void *out = malloc(n * 4 + 4);
		CHECK(out);
		if (t->dtype == ST_I32 || t->dtype == ST_I64)
			st_read_i32(&f, t->name, t->numel, out, &e);
		else
			st_read_f32(&f, t->name, t->ndim, t->shape, out, &e);
		free(out);
	}
	st_close(&f);
}

static void test_safetensors__damaged_files_never_crash(void)
{
	testdir_new("st");
	const char *path = path_in("ok.safetensors"), *bad = path_in("bad.safetensors");
	write_small(path);
	size_t len;
	unsigned char *buf = testdir_read(path, &len);
	size_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | buf[i];
	for (size_t cut = 0; cut < len; cut++) {
		testdir_write(bad, buf, cut);
		open_and_read_all(bad);
	}
	unsigned char *copy = malloc(len);
	uint64_t seed = 0x5eed5afe7e115ULL;
	for (int iter = 0; iter < 3000; iter++) {
		memcpy(copy, buf, len);
		int flips = 1 + (int)(xorshift(&seed) % 4);
		for (int k = 0; k < flips; k++) {
			size_t at = (size_t)(xorshift(&seed) % (8 + n));
			if (xorshift(&seed) % 2)
				copy[at] ^= (unsigned char)(1u << (xorshift(&seed) % 8));
			else
				copy[at] = (unsigned char)xorshift(&seed);
		}
		testdir_write(bad, copy, len);
		open_and_read_all(bad);
	}
	free(copy);
	free(buf);
	testdir_done();
}

/* ---- writing 16-bit floats ---- */

/* The data section of a written file of one tensor: its 16-bit values. */
static uint16_t *written_u16(const char *path, size_t *n)
{
	size_t len;
	unsigned char *b = testdir_read(path, &len);
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | b[i];
	CHECK(8 + hlen <= len && (len - 8 - hlen) % 2 == 0);
	*n = (len - 8 - hlen) / 2;
	uint16_t *v = malloc(*n * 2 + 1);
	CHECK(v);
	for (size_t i = 0; i < *n; i++)
		v[i] = (uint16_t)(b[8 + hlen + 2 * i] | b[8 + hlen + 2 * i + 1] << 8);
	free(b);
	return v;
}

/* Write x[0..n) as one tensor of dtype d and return what landed in the file. */
static uint16_t *write_as(enum st_dtype d, const float *x, size_t n)
{
	struct err e = { 0 };
	struct st_write_tensor t = { .name = "x", .dtype = d, .ndim = 1, .shape = { (int64_t)n },
		.data = x };
	CHECK_MSG(st_write(path_in("w.safetensors"), &t, 1, NULL, &e) == 0, "%s", e.msg);
	size_t got;
	uint16_t *v = written_u16(path_in("w.safetensors"), &got);
	CHECK(got == n);
	return v;
}

static void test_safetensors__writes_bf16_rounded_to_nearest_even(void)
{
	testdir_new("st");
	static const struct { uint32_t in; uint16_t out; } c[] = {
		{ 0x3f800000, 0x3f80 }, /* 1 */
		{ 0x3f808000, 0x3f80 }, /* 1 + 2^-8: a tie, down to the even 1 */
		{ 0x3f818000, 0x3f82 }, /* 1 + 3·2^-8: a tie, up to the even 1 + 2^-6 */
		{ 0x3f808001, 0x3f81 }, /* just above a tie: up */
		{ 0x3f807fff, 0x3f80 }, /* just below: down */
		{ 0xbf808000, 0xbf80 }, /* signs round the same way */
		{ 0x7f7fffff, 0x7f80 }, /* the largest float rounds to infinity */
		{ 0x7f7f7fff, 0x7f7f },
		{ 0x7f800000, 0x7f80 }, { 0xff800000, 0xff80 },
		{ 0x00008000, 0x0000 }, /* subnormal tie, to even zero */
		{ 0x00018000, 0x0002 }, /* subnormal tie, to even 2 */
		{ 0x80000000, 0x8000 },
	};
	enum { N = sizeof c / sizeof c[0] };
	float x[N + 2];
	for (int i = 0; i < N; i++)
		x[i] = f32_of(c[i].in);
	x[N] = f32_of(0x7fc00000);     /* a quiet NaN */
	x[N + 1] = f32_of(0x7f800001); /* a signalling NaN whose payload lies below bit 16 */
	uint16_t *v = write_as(ST_BF16, x, N + 2);
	for (int i = 0; i < N; i++)
		CHECK_MSG(v[i] == c[i].out, "%08x -> %04x, want %04x", c[i].in, v[i], c[i].out);
	CHECK((v[N] & 0x7fff) > 0x7f80 && (v[N + 1] & 0x7fff) > 0x7f80); /* NaN stays NaN */
	free(v);

	/* every bfloat16 value that is not a NaN comes back as it was */
	enum { ALL = 65536 };
	float *all = malloc(ALL * sizeof *all);
	CHECK(all);
	for (uint32_t h = 0; h < ALL; h++)
		all[h] = f32_of(h << 16);
	v = write_as(ST_BF16, all, ALL);
	for (uint32_t h = 0; h < ALL; h++)
		if ((h & 0x7fff) <= 0x7f80)
			CHECK_MSG(v[h] == h, "bf16 %04x came back as %04x", h, v[h]);
	free(v);
	free(all);
	testdir_done();
}

static void test_safetensors__writes_f16_rounded_to_nearest_even(void)
{
	testdir_new("st");
	static const struct { float in; uint16_t out; } c[] = {
		{ 1.0f, 0x3c00 },
		{ 1.0f + 0x1p-11f, 0x3c00 },      /* a tie, down to the even 1 */
		{ 1.0f + 0x3p-11f, 0x3c02 },      /* a tie, up to the even */
		{ 65504.0f, 0x7bff },             /* the largest */
		{ 65519.996f, 0x7bff },           /* below the tie with infinity */
		{ 65520.0f, 0x7c00 },             /* the tie: to the even infinity */
		{ 0x1p-24f, 0x0001 },             /* the smallest subnormal */
		{ 0x1p-25f, 0x0000 },             /* a tie, to even zero */
		{ 0x3p-25f, 0x0002 },             /* a tie, to even 2 */
		{ 0x7ffp-25f, 0x0400 },           /* the tie of the largest subnormal and 2^-14 */
		{ 0x1p-30f, 0x0000 },             /* underflow */
		{ -2.0f, 0xc000 },
		{ 1e10f, 0x7c00 }, { -INFINITY, 0xfc00 },
	};
	enum { N = sizeof c / sizeof c[0] };
	float x[N + 1];
	for (int i = 0; i < N; i++)
		x[i] = c[i].in;
	x[N] = NAN;
	uint16_t *v = write_as(ST_F16, x, N + 1);
	for (int i = 0; i < N; i++)
		CHECK_MSG(v[i] == c[i].out, "%a -> %04x, want %04x", (double)c[i].in, v[i], c[i].out);
	CHECK((v[N] & 0x7fff) > 0x7c00);
	free(v);

	/* every binary16 value that is not a NaN, read (test above) and written back */
	enum { ALL = 65536 };
	unsigned char *raw = malloc(2 * ALL);
	float *all = malloc(ALL * sizeof *all);
	CHECK(raw && all);
	for (int h = 0; h < ALL; h++)
		raw[2 * h] = (unsigned char)(h & 0xff), raw[2 * h + 1] = (unsigned char)(h >> 8);
	char hdr[128];
	snprintf(hdr, sizeof hdr, "{\"x\":{\"dtype\":\"F16\",\"shape\":[%d],\"data_offsets\":[0,%d]}}", ALL, 2 * ALL);
	write_raw(path_in("all.safetensors"), hdr, raw, 2 * ALL);
	struct st_file f;
	struct err e = { 0 };
	CHECK_MSG(st_open(&f, path_in("all.safetensors"), &e) == 0, "%s", e.msg);
	CHECK_MSG(st_read_f32(&f, "x", 1, (int64_t[]){ ALL }, all, &e) == 0, "%s", e.msg);
	st_close(&f);
	v = write_as(ST_F16, all, ALL);
	for (uint32_t h = 0; h < ALL; h++)
		if ((h & 0x7fff) <= 0x7c00)
			CHECK_MSG(v[h] == h, "f16 %04x came back as %04x", h, v[h]);
	free(v);
	free(all);
	free(raw);
	testdir_done();
}

/* A tensor taken from an open file: copied byte for byte in its own dtype, converted
 * otherwise; st_write_mem gives st_write's bytes. */
static void test_safetensors__writes_from_a_file(void)
{
	testdir_new("st");
	enum { N = 9000 }; /* more than one conversion chunk */
	float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
	CHECK(x && y);
	for (int i = 0; i < N; i++)
		x[i] = (float)i * 0.37f - 1000.0f;
	struct err e = { 0 };
	struct st_write_tensor t[] = {
		{ .name = "a", .dtype = ST_BF16, .ndim = 2, .shape = { 9, 1000 }, .data = x },
		{ .name = "b", .dtype = ST_F32, .ndim = 1, .shape = { N }, .data = x },
	};
	CHECK_MSG(st_write(path_in("src.safetensors"), t, 2, NULL, &e) == 0, "%s", e.msg);
	struct st_file src;
	CHECK_MSG(st_open(&src, path_in("src.safetensors"), &e) == 0, "%s", e.msg);
	/* same dtypes: the same file */
	struct st_write_tensor same[] = {
		{ .name = "a", .dtype = ST_BF16, .ndim = 2, .shape = { 9, 1000 }, .from = &src },
		{ .name = "b", .dtype = ST_F32, .ndim = 1, .shape = { N }, .from = &src },
	};
	CHECK_MSG(st_write(path_in("copy.safetensors"), same, 2, NULL, &e) == 0, "%s", e.msg);
	size_t la, lb, lm;
	unsigned char *a = testdir_read(path_in("src.safetensors"), &la);
	unsigned char *b = testdir_read(path_in("copy.safetensors"), &lb);
	CHECK(la == lb && memcmp(a, b, la) == 0);
	void *mem;
	CHECK_MSG(st_write_mem("mem", t, 2, NULL, &mem, &lm, &e) == 0, "%s", e.msg);
	CHECK(lm == la && memcmp(mem, a, la) == 0);
	free(mem);
	free(a);
	free(b);
	/* converted: "b" (F32) as BF16 equals "a", which was rounded from the same floats */
	struct st_write_tensor conv[] = {
		{ .name = "b", .dtype = ST_BF16, .ndim = 1, .shape = { N }, .from = &src },
	};
	CHECK_MSG(st_write(path_in("conv.safetensors"), conv, 1, NULL, &e) == 0, "%s", e.msg);
	struct st_file g;
	CHECK_MSG(st_open(&g, path_in("conv.safetensors"), &e) == 0, "%s", e.msg);
	CHECK(st_find(&g, "b")->dtype == ST_BF16);
	CHECK_MSG(st_read_f32(&g, "b", 1, (int64_t[]){ N }, y, &e) == 0, "%s", e.msg);
	CHECK_MSG(st_read_f32(&src, "a", 2, (int64_t[]){ 9, 1000 }, x, &e) == 0, "%s", e.msg);
	CHECK(memcmp(x, y, N * sizeof *x) == 0);
	st_close(&g);
	/* a tensor the file lacks, or with another element count */
	struct st_write_tensor bad[] = {
		{ .name = "zz", .dtype = ST_F32, .ndim = 1, .shape = { N }, .from = &src },
	};
	CHECK_ERR(st_write(path_in("bad.safetensors"), bad, 1, NULL, &e), e, "bad.safetensors'",
		"'zz'", "src.safetensors'");
	bad[0].name = "b";
	bad[0].shape[0] = 3;
	CHECK_ERR(st_write(path_in("bad.safetensors"), bad, 1, NULL, &e), e, "'b'");
	CHECK(access(path_in("bad.safetensors"), F_OK) != 0);
	st_close(&src);
	free(x);
	free(y);
	testdir_done();
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_safetensors__round_trip_is_bit_exact),
		TEST(test_safetensors__header_is_ordered_and_padded),
		TEST(test_safetensors__reads_f16),
		TEST(test_safetensors__reads_bf16),
		TEST(test_safetensors__reads_every_f16_value),
		TEST(test_safetensors__reads_i64_as_i32),
		TEST(test_safetensors__missing_tensor_names_file_and_tensor),
		TEST(test_safetensors__wrong_shape_names_file_and_tensor),
		TEST(test_safetensors__open_missing_file),
		TEST(test_safetensors__truncated_file),
		TEST(test_safetensors__malformed_headers),
		TEST(test_safetensors__write_errors),
		TEST(test_safetensors__write_replaces_atomically),
		TEST(test_safetensors__damaged_files_never_crash),
		TEST(test_safetensors__writes_bf16_rounded_to_nearest_even),
		TEST(test_safetensors__writes_f16_rounded_to_nearest_even),
		TEST(test_safetensors__writes_from_a_file),
		{ 0 },
	});
}
