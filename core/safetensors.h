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
 * Writing: st_write lays out the given tensors in order, F32 (or I32), and writes to
 * "<path>.tmp" then renames, so a crash never leaves a half-written file under the
 * real name.
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
	enum st_dtype dtype;  /* ST_F32 or ST_I32 */
	int ndim;
	int64_t shape[8];
	const void *data;
};

/* metadata: NULL or a NULL-terminated list of key, value string pairs. */
int st_write(const char *path, const struct st_write_tensor *t, int n,
	const char *const *metadata, struct err *e);

#endif
