#include "safetensors.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "file.h"

/*
 * The data section is copied straight into fp32 / int arrays, so the host must be
 * little-endian like the format.
 */
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors.c assumes a little-endian host");
#else
#error "cannot tell the byte order of this host; safetensors.c assumes little-endian"
#endif
static_assert(sizeof(float) == 4, "safetensors.c assumes 32-bit floats");

/* A header is JSON text; HF's own reader refuses more than 100 MB of it too. */
#define ST_HEADER_MAX (100u * 1024 * 1024)
#define ST_MAX_DIMS 8

static const struct {
	const char *name;
	unsigned size;
} st_dtypes[] = {
	[ST_F32] = { "F32", 4 }, [ST_F16] = { "F16", 2 }, [ST_BF16] = { "BF16", 2 },
	[ST_I32] = { "I32", 4 }, [ST_I64] = { "I64", 8 },
};

static uint64_t st_le64(const unsigned char *b)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

static void st_put_le64(unsigned char *b, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		b[i] = (unsigned char)(v & 0xff);
}

static float st_bits_to_f32(uint32_t bits)
{
	float f;
	memcpy(&f, &bits, sizeof f);
	return f;
}

/* IEEE binary16 to binary32: exact for every value, subnormals included. */
static float st_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f;
	uint32_t mant = h & 0x3ff;
	if (exp == 0x1f) /* inf, or nan keeping its payload */
		return st_bits_to_f32(sign | 0x7f800000u | mant << 13);
	if (exp != 0) /* normal: rebias 15 -> 127 */
		return st_bits_to_f32(sign | (exp + 112) << 23 | mant << 13);
	if (mant == 0)
		return st_bits_to_f32(sign);
	/* subnormal mant * 2^-24: shift the leading one up to bit 10, it becomes implicit */
	uint32_t e = 113;
	while (!(mant & 0x400)) {
		mant <<= 1;
		e--;
	}
	return st_bits_to_f32(sign | e << 23 | (mant & 0x3ff) << 13);
}

static float st_bf16_to_f32(uint16_t h)
{
	return st_bits_to_f32((uint32_t)h << 16);
}

static uint32_t st_f32_bits(float f)
{
	uint32_t b;
	memcpy(&b, &f, sizeof b);
	return b;
}

/* binary32 to bfloat16, rounded to nearest, ties to even (what torch's .to(bfloat16)
 * does); a NaN stays a NaN (quiet), an overflow becomes infinity through the carry. */
static uint16_t st_f32_to_bf16(float f)
{
	uint32_t b = st_f32_bits(f);
	if ((b & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)(b >> 16 | 0x40);
	b += 0x7fffu + (b >> 16 & 1);
	return (uint16_t)(b >> 16);
}

/* binary32 to binary16, rounded to nearest, ties to even; subnormals included. */
static uint16_t st_f32_to_f16(float f)
{
	uint32_t b = st_f32_bits(f), sign = b >> 16 & 0x8000u, x = b & 0x7fffffffu;
	if (x > 0x7f800000u) /* nan: quiet, keeping what fits of the payload */
		return (uint16_t)(sign | 0x7e00u | (x >> 13 & 0x3ffu));
	if (x >= 0x477ff000u) /* 65520 and up round to infinity (65504 is the largest) */
		return (uint16_t)(sign | 0x7c00u);
	if (x >= 0x38800000u) { /* normal in binary16 (>= 2^-14): rebias 127 -> 15 */
		x -= 112u << 23;
		x += 0xfffu + (x >> 13 & 1);
		return (uint16_t)(sign | x >> 13);
	}
	/* subnormal: the multiple of 2^-24, scaled exactly, rounded in the default mode
	 * (to nearest even); 1024 is the smallest normal's bit pattern */
	float v = st_bits_to_f32(x) * 16777216.0f;
	return (uint16_t)(sign | (uint32_t)nearbyintf(v));
}

/* "[2, 3]" */
static void st_format_shape(char *buf, size_t cap, int ndim, const int64_t *shape)
{
	size_t n = (size_t)snprintf(buf, cap, "[");
	for (int i = 0; i < ndim && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%" PRId64, i ? ", " : "", shape[i]);
	if (n < cap)
		snprintf(buf + n, cap - n, "]");
}

static int st_cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct st_tensor_info *)a)->name, ((const struct st_tensor_info *)b)->name);
}

static int st_cmp_begin(const void *a, const void *b)
{
	const struct st_tensor_info *x = *(const struct st_tensor_info *const *)a;
	const struct st_tensor_info *y = *(const struct st_tensor_info *const *)b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* A JSON integer in [0, INT64_MAX]. */
static bool st_json_u63(const json_t *v, int64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (int64_t)json_integer_value(v);
	return true;
}

/* Check one header entry and fill t (t->name is already set). */
static int st_parse_tensor(const struct st_file *f, const json_t *v, uint64_t data_size,
	struct st_tensor_info *t, struct err *e)
{
	const char *p = f->path, *name = t->name;
	if (!json_is_object(v))
		return err_set(e, ERR_FORMAT, "malformed safetensors header in '%s': entry '%s' is not an object",
			p, name);

	const char *dtype = json_string_value(json_object_get(v, "dtype"));
	if (!dtype)
		return err_set(e, ERR_FORMAT, "malformed safetensors header in '%s': tensor '%s' has no string 'dtype'",
			p, name);
	unsigned k;
	for (k = 0; k < sizeof st_dtypes / sizeof st_dtypes[0]; k++)
		if (strcmp(dtype, st_dtypes[k].name) == 0)
			break;
	if (k == sizeof st_dtypes / sizeof st_dtypes[0])
		return err_set(e, ERR_FORMAT, "malformed safetensors header in '%s': tensor '%s' has unsupported dtype '%.16s'",
			p, name, dtype);
	t->dtype = (enum st_dtype)k;

	const json_t *shape = json_object_get(v, "shape");
	if (!json_is_array(shape) || json_array_size(shape) > ST_MAX_DIMS)
		return err_set(e, ERR_FORMAT, "malformed safetensors header in '%s': tensor '%s' has a bad shape: expected an array of at most %d non-negative integers",
			p, name, ST_MAX_DIMS);
	t->ndim = (int)json_array_size(shape);
	t->numel = 1;
	for (int i = 0; i < t->ndim; i++) {
		if (!st_json_u63(json_array_get(shape, (size_t)i), &t->shape[i]))
			return err_set(e, ERR_FORMAT, "malformed safetensors header in '%s': tensor '%s' has a bad shape: expected an array of at most %d non-negative integers",
				p, name, ST_MAX_DIMS);
		if (t->shape[i] && t->numel > INT64_MAX / t->shape[i])
			return err_set(e, ERR_FORMAT, "malformed safetensors header in '%s': tensor '%s' has too many elements",
				p, name);
		t->numel *= t->shape[i];
	}
	if (t->numel > INT64_MAX / 8)
		return err_set(e, ERR_FORMAT, "malformed safetensors header in '%s': tensor '%s' has too many elements",
			p, name);

	const json_t *off = json_object_get(v, "data_offsets");
	int64_t begin, end;
	if (!json_is_array(off) || json_array_size(off) != 2 || !st_json_u63(json_array_get(off, 0), &begin)
		|| !st_json_u63(json_array_get(off, 1), &end) || begin > end)
		return err_set(e, ERR_FORMAT, "malformed safetensors header in '%s': tensor '%s' has bad data_offsets: expected [begin, end] with 0 <= begin <= end",
			p, name);
	t->begin = (uint64_t)begin;
	t->end = (uint64_t)end;
	uint64_t need = (uint64_t)t->numel * st_dtypes[t->dtype].size;
	if (t->end - t->begin != need)
		return err_set(e, ERR_FORMAT, "malformed safetensors header in '%s': tensor '%s' has data_offsets [%" PRIu64 ", %" PRIu64 "] (%" PRIu64 " bytes) but dtype %s and shape need %" PRIu64,
			p, name, t->begin, t->end, t->end - t->begin, dtype, need);
	if (t->end > data_size)
		return err_set(e, ERR_FORMAT, "'%s' is truncated: tensor '%s' ends at data byte %" PRIu64 ", the data section has %" PRIu64,
			p, name, t->end, data_size);
	return 0;
}

static int st_parse_metadata(struct st_file *f, json_t *md, struct err *e)
{
	const char *key;
	json_t *v;
	if (!json_is_object(md))
		return err_set(e, ERR_FORMAT, "malformed safetensors header in '%s': '__metadata__' is not an object",
			f->path);
	json_object_foreach(md, key, v)
		if (!json_is_string(v))
			return err_set(e, ERR_FORMAT, "malformed safetensors header in '%s': metadata '%s' is not a string",
				f->path, key);
	f->metadata = json_incref(md);
	return 0;
}

/* Sorted by begin, every non-empty tensor must start at or after the end of all before it. */
static int st_check_overlap(const struct st_file *f, struct err *e)
{
	if (f->n < 2)
		return 0;
	const struct st_tensor_info **by = malloc((size_t)f->n * sizeof *by);
	if (!by)
		return err_set(e, ERR_NOMEM, "cannot read '%s': out of memory", f->path);
	for (int i = 0; i < f->n; i++)
		by[i] = &f->tensors[i];
	qsort(by, (size_t)f->n, sizeof *by, st_cmp_begin);
	const struct st_tensor_info *last = NULL; /* the non-empty tensor reaching furthest so far */
	int rc = 0;
	for (int i = 0; i < f->n; i++) {
		if (by[i]->begin == by[i]->end)
			continue;
		if (last && by[i]->begin < last->end) {
			rc = err_set(e, ERR_FORMAT, "malformed safetensors header in '%s': tensors '%s' and '%s' overlap",
				f->path, last->name, by[i]->name);
			break;
		}
		if (!last || by[i]->end > last->end)
			last = by[i];
	}
	free(by);
	return rc;
}

/* Parse the header of f->fp, a stream of `size` bytes named f->path. */
static int st_parse(struct st_file *f, uint64_t size, struct err *e)
{
	const char *path = f->path;
	char *hdr = NULL;
	json_t *root = NULL;
	int rc = -1;
	unsigned char lenb[8];
	if (size < sizeof lenb) {
		err_set(e, ERR_FORMAT, "'%s' is truncated: file has %" PRIu64 " bytes, the header length alone needs 8",
			path, size);
		goto out;
	}
	if (fread(lenb, 1, sizeof lenb, f->fp) != sizeof lenb) {
		err_set(e, ERR_IO, "cannot read '%s': %s", path, ferror(f->fp) ? strerror(errno) : "unexpected end of file");
		goto out;
	}
	uint64_t n = st_le64(lenb);
	if (n > ST_HEADER_MAX) {
		err_set(e, ERR_FORMAT, "malformed safetensors header in '%s': header length %" PRIu64 " is over the limit of %u bytes",
			path, n, ST_HEADER_MAX);
		goto out;
	}
	if (n > size - 8) {
		err_set(e, ERR_FORMAT, "'%s' is truncated: header says %" PRIu64 " bytes, file has %" PRIu64,
			path, n, size);
		goto out;
	}
	if (!(hdr = malloc(n ? n : 1))) {
		err_set(e, ERR_NOMEM, "cannot read '%s': out of memory for a %" PRIu64 "-byte header", path, n);
		goto out;
	}
	if (fread(hdr, 1, n, f->fp) != n) {
		err_set(e, ERR_IO, "cannot read '%s': %s", path, ferror(f->fp) ? strerror(errno) : "unexpected end of file");
		goto out;
	}
	json_error_t jerr;
	if (!(root = json_loadb(hdr, n, JSON_REJECT_DUPLICATES, &jerr))) {
		err_set(e, ERR_FORMAT, "malformed safetensors header in '%s': %s (at byte %d)", path, jerr.text, jerr.position);
		goto out;
	}
	if (!json_is_object(root)) {
		err_set(e, ERR_FORMAT, "malformed safetensors header in '%s': not a JSON object", path);
		goto out;
	}

	f->data_start = 8 + n;
	uint64_t data_size = size - 8 - n;
	size_t count = json_object_size(root);
	if (!(f->tensors = calloc(count ? count : 1, sizeof *f->tensors))) {
		err_set(e, ERR_NOMEM, "cannot read '%s': out of memory", path);
		goto out;
	}
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "__metadata__") == 0) {
			if (st_parse_metadata(f, v, e))
				goto out;
			continue;
		}
		struct st_tensor_info *t = &f->tensors[f->n];
		if (!(t->name = strdup(key))) {
			err_set(e, ERR_NOMEM, "cannot read '%s': out of memory", path);
			goto out;
		}
		f->n++;
		if (st_parse_tensor(f, v, data_size, t, e))
			goto out;
	}
	if (st_check_overlap(f, e))
		goto out;
	qsort(f->tensors, (size_t)f->n, sizeof *f->tensors, st_cmp_name);
	rc = 0;
out:
	json_decref(root);
	free(hdr);
	return rc;
}

int st_open(struct st_file *f, const char *path, struct err *e)
{
	*f = (struct st_file){ 0 };
	if (!(f->path = strdup(path)))
		return err_set(e, ERR_NOMEM, "cannot open '%s': out of memory", path);
	if (!(f->fp = fopen(path, "rb"))) {
		if (err_sys(e, errno, "cannot open '%s'", path) && e && e->errnum == ENOENT)
			e->code = ERR_NOTFOUND; /* a missing file, not a failing disk */
		goto fail;
	}
	struct stat st;
	if (fstat(fileno(f->fp), &st) != 0) {
		err_sys(e, errno, "cannot stat '%s'", path);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(e, ERR_IO, "cannot open '%s': not a regular file", path);
		goto fail;
	}
	if (st_parse(f, (uint64_t)st.st_size, e) == 0)
		return 0;
fail:
	st_close(f);
	return -1;
}

int st_open_mem(struct st_file *f, const char *name, const void *data, size_t size, struct err *e)
{
	*f = (struct st_file){ 0 };
	if (!(f->path = strdup(name)))
		return err_set(e, ERR_NOMEM, "cannot open '%s': out of memory", name);
	/* fmemopen refuses an empty buffer; an empty file is refused as truncated anyway */
	if (!(f->fp = fmemopen((void *)data, size ? size : 1, "rb"))) {
		err_sys(e, errno, "cannot open '%s'", name);
		goto fail;
	}
	if (st_parse(f, (uint64_t)size, e) == 0)
		return 0;
fail:
	st_close(f);
	return -1;
}

void st_close(struct st_file *f)
{
	if (f->fp)
		fclose(f->fp);
	for (int i = 0; i < f->n; i++)
		free(f->tensors[i].name);
	free(f->tensors);
	json_decref(f->metadata);
	free(f->path);
	*f = (struct st_file){ 0 };
}

const struct st_tensor_info *st_find(const struct st_file *f, const char *name)
{
	if (!f->n)
		return NULL;
	struct st_tensor_info key = { .name = (char *)name };
	return bsearch(&key, f->tensors, (size_t)f->n, sizeof *f->tensors, st_cmp_name);
}

const char *st_metadata(const struct st_file *f, const char *key)
{
	return json_string_value(json_object_get(f->metadata, key));
}

/* Read `len` bytes at data offset `at`; the header check made them lie inside the file. */
static int st_read_at(struct st_file *f, const char *name, uint64_t at, void *dst, size_t len, struct err *e)
{
	assert(f->fp);
	if (fseeko(f->fp, (off_t)(f->data_start + at), SEEK_SET) != 0)
		return err_sys(e, errno, "cannot read '%s': tensor '%s'", f->path, name);
	if (len && fread(dst, 1, len, f->fp) != len)
		return err_set(e, ERR_IO, "cannot read '%s': tensor '%s': %s", f->path, name,
			ferror(f->fp) ? strerror(errno) : "unexpected end of file");
	return 0;
}

/* 16-bit floats are converted through a small buffer, chunk by chunk. */
#define ST_CHUNK 4096

int st_check_f32(const struct st_file *f, const char *name, int ndim, const int64_t *shape,
	struct err *e)
{
	assert(ndim >= 0 && ndim <= ST_MAX_DIMS);
	const struct st_tensor_info *t = st_find(f, name);
	if (!t)
		return err_set(e, ERR_NOTFOUND, "cannot read '%s': no tensor '%s'", f->path, name);
	bool same = t->ndim == ndim;
	for (int i = 0; same && i < ndim; i++)
		same = t->shape[i] == shape[i];
	if (!same) {
		char have[160], want[160];
		st_format_shape(have, sizeof have, t->ndim, t->shape);
		st_format_shape(want, sizeof want, ndim, shape);
		return err_set(e, ERR_INVALID, "cannot read '%s': tensor '%s' has shape %s, expected %s",
			f->path, name, have, want);
	}
	if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
		return err_set(e, ERR_INVALID, "cannot read '%s': tensor '%s' has dtype %s, expected F32, F16 or BF16",
			f->path, name, st_dtypes[t->dtype].name);
	return 0;
}

/* Elements [first, first + count) of float tensor t, as fp32. */
static int st_read_part(struct st_file *f, const struct st_tensor_info *t, int64_t first,
	size_t count, float *out, struct err *e)
{
	unsigned size = st_dtypes[t->dtype].size;
	uint64_t at = t->begin + (uint64_t)first * size;
	if (t->dtype == ST_F32)
		return st_read_at(f, t->name, at, out, count * 4, e);
	assert(t->dtype == ST_F16 || t->dtype == ST_BF16);
	float (*conv)(uint16_t) = t->dtype == ST_F16 ? st_f16_to_f32 : st_bf16_to_f32;
	unsigned char buf[ST_CHUNK * 2];
	for (size_t i = 0; i < count; i += ST_CHUNK) {
		size_t k = count - i < ST_CHUNK ? count - i : ST_CHUNK;
		if (st_read_at(f, t->name, at + i * 2, buf, k * 2, e))
			return -1;
		for (size_t j = 0; j < k; j++)
			out[i + j] = conv((uint16_t)(buf[2 * j] | buf[2 * j + 1] << 8));
	}
	return 0;
}

int st_read_f32(struct st_file *f, const char *name, int ndim, const int64_t *shape,
	float *out, struct err *e)
{
	if (st_check_f32(f, name, ndim, shape, e))
		return -1;
	const struct st_tensor_info *t = st_find(f, name);
	return st_read_part(f, t, 0, (size_t)t->numel, out, e);
}

int st_read_i32(struct st_file *f, const char *name, int64_t numel, int32_t *out, struct err *e)
{
	const struct st_tensor_info *t = st_find(f, name);
	if (!t)
		return err_set(e, ERR_NOTFOUND, "cannot read '%s': no tensor '%s'", f->path, name);
	if (t->numel != numel)
		return err_set(e, ERR_INVALID, "cannot read '%s': tensor '%s' has %" PRId64 " elements, expected %" PRId64,
			f->path, name, t->numel, numel);
	if (t->dtype == ST_I32)
		return st_read_at(f, name, t->begin, out, (size_t)(t->end - t->begin), e);
	if (t->dtype != ST_I64)
		return err_set(e, ERR_INVALID, "cannot read '%s': tensor '%s' has dtype %s, expected I32 or I64",
			f->path, name, st_dtypes[t->dtype].name);
	int64_t buf[ST_CHUNK];
	for (int64_t i = 0; i < numel; i += ST_CHUNK) {
		size_t k = (size_t)(numel - i < ST_CHUNK ? numel - i : ST_CHUNK);
		if (st_read_at(f, name, t->begin + (uint64_t)i * 8, buf, k * 8, e))
			return -1;
		for (size_t j = 0; j < k; j++) {
			if (buf[j] < INT32_MIN || buf[j] > INT32_MAX)
				return err_set(e, ERR_INVALID, "cannot read '%s': tensor '%s' holds %" PRId64 " at index %" PRId64 ", which does not fit in 32 bits",
					f->path, name, buf[j], i + (int64_t)j);
			out[(size_t)i + j] = (int32_t)buf[j];
		}
	}
	return 0;
}

/* The header: {"__metadata__": {...}, "name": {"dtype", "shape", "data_offsets"}, ...}. */
static json_t *st_build_header(const char *path, const struct st_write_tensor *t, int n,
	const char *const *metadata, struct err *e)
{
	json_t *root = json_object();
	if (!root)
		goto nomem;
	if (metadata) {
		json_t *md = json_object();
		if (!md || json_object_set_new(root, "__metadata__", md))
			goto nomem;
		for (int i = 0; metadata[i]; i += 2) {
			assert(metadata[i + 1]); /* pairs */
			if (json_object_set_new(md, metadata[i], json_string(metadata[i + 1]))) {
				err_set(e, ERR_INVALID, "cannot write '%s': metadata '%s' is not valid UTF-8", path, metadata[i]);
				goto fail;
			}
		}
	}
	uint64_t off = 0;
	for (int i = 0; i < n; i++) {
		const char *name = t[i].name;
		if (t[i].dtype == ST_I64 || (t[i].from && t[i].dtype == ST_I32)) {
			err_set(e, ERR_INVALID, "cannot write '%s': tensor '%s': only F32, F16, BF16 and I32 from memory are written", path, name);
			goto fail;
		}
		if (strcmp(name, "__metadata__") == 0 || json_object_get(root, name)) {
			err_set(e, ERR_INVALID, "cannot write '%s': duplicate or reserved tensor name '%s'", path, name);
			goto fail;
		}
		if (t[i].ndim < 0 || t[i].ndim > ST_MAX_DIMS) {
			err_set(e, ERR_INVALID, "cannot write '%s': tensor '%s' has %d dimensions, at most %d allowed",
				path, name, t[i].ndim, ST_MAX_DIMS);
			goto fail;
		}
		json_t *shape = json_array(), *ent = json_object();
		if (!shape || !ent || json_object_set_new(ent, "dtype", json_string(st_dtypes[t[i].dtype].name))
			|| json_object_set_new(ent, "shape", shape)) {
			json_decref(shape);
			json_decref(ent);
			goto nomem;
		}
		uint64_t numel = 1;
		for (int d = 0; d < t[i].ndim; d++) {
			int64_t s = t[i].shape[d];
			if (s < 0 || (s && numel > (uint64_t)(INT64_MAX / 8) / (uint64_t)s)) {
				json_decref(ent);
				err_set(e, ERR_INVALID, "cannot write '%s': tensor '%s' has a bad shape", path, name);
				goto fail;
			}
			numel *= (uint64_t)s;
			if (json_array_append_new(shape, json_integer(s))) {
				json_decref(ent);
				goto nomem;
			}
		}
		uint64_t end = off + numel * st_dtypes[t[i].dtype].size;
		if (end > (uint64_t)INT64_MAX) {
			json_decref(ent);
			err_set(e, ERR_INVALID, "cannot write '%s': tensors too large", path);
			goto fail;
		}
		if (json_object_set_new(ent, "data_offsets", json_pack("[II]", (json_int_t)off, (json_int_t)end))) {
			json_decref(ent);
			goto nomem;
		}
		if (json_object_set_new(root, name, ent)) {
			err_set(e, ERR_INVALID, "cannot write '%s': tensor name '%s' is not valid UTF-8", path, name);
			goto fail;
		}
		off = end;
	}
	return root;
nomem:
	err_set(e, ERR_NOMEM, "cannot write '%s': out of memory", path);
fail:
	json_decref(root);
	return NULL;
}

/* Where st_emit sends bytes: an atomic file, or a growing memory buffer. */
struct st_sink {
	struct file_atomic *file;
	unsigned char *buf;
	size_t len, cap;
	const char *path;
};

static int st_put(struct st_sink *k, const void *p, size_t n, struct err *e)
{
	if (k->file)
		return file_atomic_write(k->file, p, n, e);
	if (n > k->cap - k->len) {
		size_t cap = k->cap ? k->cap : 1 << 16;
		while (cap - k->len < n)
			cap *= 2;
		unsigned char *b = realloc(k->buf, cap);
		if (!b)
			return err_set(e, ERR_NOMEM, "cannot write '%s': out of memory for %zu bytes", k->path, cap);
		k->buf = b;
		k->cap = cap;
	}
	memcpy(k->buf + k->len, p, n);
	k->len += n;
	return 0;
}

/* Tensor t's bytes in dtype t->dtype, converted chunk by chunk where needed. */
static int st_put_tensor(struct st_sink *k, const struct st_write_tensor *t, size_t numel,
	struct err *e)
{
	const struct st_tensor_info *src = NULL;
	if (t->from) {
		src = st_find(t->from, t->name);
		if (!src || src->numel != (int64_t)numel)
			return err_set(e, ERR_INVALID, "cannot write '%s': tensor '%s' is not in '%s' with that shape",
				k->path, t->name, t->from->path);
		if (src->dtype == t->dtype) { /* the bytes as they are */
			unsigned char buf[ST_CHUNK * 4];
			uint64_t len = src->end - src->begin;
			for (uint64_t at = 0; at < len; at += sizeof buf) {
				size_t n = (size_t)(len - at < sizeof buf ? len - at : sizeof buf);
				if (st_read_at(t->from, t->name, src->begin + at, buf, n, e) ||
					st_put(k, buf, n, e))
					return -1;
			}
			return 0;
		}
		if (src->dtype != ST_F32 && src->dtype != ST_F16 && src->dtype != ST_BF16)
			return err_set(e, ERR_INVALID, "cannot write '%s': tensor '%s' of '%s' has dtype %s, which converts to no float",
				k->path, t->name, t->from->path, st_dtypes[src->dtype].name);
	} else if (t->dtype == ST_F32 || t->dtype == ST_I32) {
		return numel ? st_put(k, t->data, numel * 4, e) : 0;
	}
	float in[ST_CHUNK];
	unsigned char out[ST_CHUNK * 4];
	for (size_t i = 0; i < numel; i += ST_CHUNK) {
		size_t n = numel - i < ST_CHUNK ? numel - i : ST_CHUNK;
		const float *x = src ? in : (const float *)t->data + i;
		if (src && st_read_part(t->from, src, (int64_t)i, n, in, e))
			return -1;
		if (t->dtype == ST_F32) {
			memcpy(out, x, n * 4);
		} else {
			uint16_t (*conv)(float) = t->dtype == ST_BF16 ? st_f32_to_bf16 : st_f32_to_f16;
			for (size_t j = 0; j < n; j++) {
				uint16_t h = conv(x[j]);
				out[2 * j] = (unsigned char)(h & 0xff);
				out[2 * j + 1] = (unsigned char)(h >> 8);
			}
		}
		if (st_put(k, out, n * st_dtypes[t->dtype].size, e))
			return -1;
	}
	return 0;
}

/* Header, then every tensor's bytes, into k. */
static int st_emit(struct st_sink *k, const char *path, const struct st_write_tensor *t, int n,
	const char *const *metadata, struct err *e)
{
	json_t *root = NULL;
	char *json = NULL;
	unsigned char *hdr = NULL;
	int rc = -1;

	if (!(root = st_build_header(path, t, n, metadata, e)))
		goto out;
	if (!(json = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		err_set(e, ERR_NOMEM, "cannot write '%s': out of memory", path);
		goto out;
	}

	/* Pad with spaces so the data section starts 8-byte aligned, as HF does. */
	size_t jlen = strlen(json), hlen = (jlen + 7) & ~(size_t)7;
	if (!(hdr = malloc(8 + hlen))) {
		err_set(e, ERR_NOMEM, "cannot write '%s': out of memory", path);
		goto out;
	}
	st_put_le64(hdr, hlen);
	memcpy(hdr + 8, json, jlen);
	memset(hdr + 8 + jlen, ' ', hlen - jlen);
	if (!k->file) { /* in memory: one buffer of the final size, not doublings of it */
		uint64_t total = 8 + hlen;
		for (int i = 0; i < n; i++) {
			uint64_t numel = 1;
			for (int d = 0; d < t[i].ndim; d++)
				numel *= (uint64_t)t[i].shape[d];
			total += numel * st_dtypes[t[i].dtype].size;
		}
		if (total > SIZE_MAX || !(k->buf = malloc((size_t)total ? (size_t)total : 1))) {
			err_set(e, ERR_NOMEM, "cannot write '%s': out of memory for %" PRIu64 " bytes", path, total);
			goto out;
		}
		k->cap = (size_t)total;
	}
	if (st_put(k, hdr, 8 + hlen, e) < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		size_t numel = 1;
		for (int d = 0; d < t[i].ndim; d++)
			numel *= (size_t)t[i].shape[d];
		if (st_put_tensor(k, &t[i], numel, e) < 0)
			goto out;
	}
	rc = 0;
out:
	free(hdr);
	free(json);
	json_decref(root);
	return rc;
}

int st_write(const char *path, const struct st_write_tensor *t, int n,
	const char *const *metadata, struct err *e)
{
	/* write, fsync, rename, fsync the directory; a failure removes the temp file */
	struct file_atomic f;
	struct st_sink k = { .file = &f, .path = path };
	if (file_atomic_open(&f, path, NULL, 0644, e) < 0)
		return -1;
	if (st_emit(&k, path, t, n, metadata, e) < 0) {
		file_atomic_abort(&f);
		return -1;
	}
	return file_atomic_commit(&f, true, e);
}

int st_write_mem(const char *name, const struct st_write_tensor *t, int n,
	const char *const *metadata, void **data, size_t *size, struct err *e)
{
	struct st_sink k = { .path = name };
	if (st_emit(&k, name, t, n, metadata, e) < 0) {
		free(k.buf);
		return -1;
	}
	*data = k.buf;
	*size = k.len;
	return 0;
}

unsigned st_dtype_size(enum st_dtype dtype)
{
	return st_dtypes[dtype].size;
}

const char *st_dtype_name(enum st_dtype dtype)
{
	return st_dtypes[dtype].name;
}
