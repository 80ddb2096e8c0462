/*
 * safetensors — read and write the Hugging Face safetensors format.
 *
 * File: 8-byte little-endian header length N, N bytes of JSON
 *   {"name": {"dtype": "F32", "shape": [r, c], "data_offsets": [begin, end]}, ...,
 *    "__metadata__": {"key": "string value", ...}}
 * then the data section; offsets are relative to its start.
 *
 * Reading: st_open parses and checks the whole header against the file size (every
 * tensor's offsets inside the data, sizes equal to dtype size × shape, no overlap),
 * so a later st_read cannot run off the file. Tensors are converted to fp32 from F32,
 * F16 and BF16 (and I32/I64 for integer side data). Errors name the file and tensor.
 *
 * Writing: st_write lays out the given tensors in order, each in its dtype (F32,
 * F16, BF16, I32), and writes to a temporary file then renames, so a crash never
 * leaves a half-written file under the real name; st_write_mem builds the same bytes
 * in memory. Float tensors given as fp32 are rounded to F16/BF16 to nearest, ties to
 * even (as torch's .to() does). A tensor may also be taken from an open file (`from`):
 * its bytes are copied as they are when the dtypes agree, else converted through fp32
 * a chunk at a time, so a copy never holds a whole tensor in memory.
 */
#ifndef R1_SAFETENSORS_H
#define R1_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

enum st_dtype { ST_F32, ST_F16, ST_BF16, ST_I32, ST_I64 };

struct st_tensor_info {
	char *name;
	enum st_dtype dtype;
	int ndim;
	int64_t shape[8];
	int64_t numel;
	uint64_t begin, end; /* byte offsets into the data section */
};

struct st_file {
	char *path;
	FILE *fp;
	uint64_t data_start;  /* file offset of the data section */
	int n;
	struct st_tensor_info *tensors;
	void *metadata;       /* json_t * object of "__metadata__" (may be NULL) */
};

int st_open(struct st_file *f, const char *path, struct err *e);

/* st_open on `size` bytes in memory (borrowed until st_close), called `name` in errors. */
int st_open_mem(struct st_file *f, const char *name, const void *data, size_t size, struct err *e);
void st_close(struct st_file *f);

const struct st_tensor_info *st_find(const struct st_file *f, const char *name);

/* Metadata string value, or NULL. Borrowed from f. */
const char *st_metadata(const struct st_file *f, const char *key);

/*
 * Read tensor `name` into out (as fp32), checking its shape equals shape[0..ndim-1].
 * Errors: missing tensor, shape mismatch, short read — each naming file and tensor.
 */
int st_read_f32(struct st_file *f, const char *name, int ndim, const int64_t *shape,
	float *out, struct err *e);

/* The checks of st_read_f32 without reading: tensor `name` is there with that shape
 * and a float dtype. Its bytes lie inside the file already (st_open checked). */
int st_check_f32(const struct st_file *f, const char *name, int ndim, const int64_t *shape,
	struct err *e);

/* Read an integer tensor (I32 or I64) of any shape with `numel` elements into out. */
int st_read_i32(struct st_file *f, const char *name, int64_t numel, int32_t *out, struct err *e);

struct st_write_tensor {
	const char *name;
	enum st_dtype dtype;  /* in the file: ST_F32, ST_F16, ST_BF16 or ST_I32 */
	int ndim;
	int64_t shape[8];
	const void *data;     /* fp32 for a float dtype, int32 for I32; or NULL with: */
	struct st_file *from; /* tensor `name` of this file (same element count, a float
	                       * dtype unless it is copied as it is) */
};

/* metadata: NULL or a NULL-terminated list of key, value string pairs. */
int st_write(const char *path, const struct st_write_tensor *t, int n,
	const char *const *metadata, struct err *e);

/* The bytes st_write would write, in *data (malloc'd, *size bytes; `name` for errors). */
int st_write_mem(const char *name, const struct st_write_tensor *t, int n,
	const char *const *metadata, void **data, size_t *size, struct err *e);

/* Bytes per element of dtype. */
unsigned st_dtype_size(enum st_dtype dtype);

/* "F32", "BF16", ... */
const char *st_dtype_name(enum st_dtype dtype);

#endif
