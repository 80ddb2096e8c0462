/*
 * shards — a checkpoint's safetensors files as one tensor map.
 *
 * Hugging Face stores a model's weights in DIR/model.safetensors, or, above a size,
 * in shard files named by DIR/model.safetensors.index.json:
 *
 *   {"metadata": {"total_size": BYTES}, "weight_map": {"tensor": "model-00001-of-00002.safetensors", ...}}
 *
 * shards_open reads either layout (the single file first, as transformers does when
 * both are there) and checks it whole before anything is read: every shard named
 * exists and parses (st_open's checks), every tensor the index maps is in the shard
 * it names, no tensor is in two shards and none is in a shard the index does not map
 * it to. Shard names are plain file names in DIR (no '/'). Errors name the user's
 * index or shard file.
 *
 * shards_write writes tensors (fp32 in memory, or taken from open files) as DIR's
 * model files in one dtype, split the way transformers' save_pretrained splits (see
 * shards.c), with an index when there is more than one shard; it removes the other
 * layout's files left in DIR, so a reader never finds stale weights.
 *
 * shards_merge writes every tensor of a set, in its own dtype and byte for byte, as
 * one safetensors file in memory: the single blob the daemon and workers use.
 */
#ifndef R1_SHARDS_H
#define R1_SHARDS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "safetensors.h"

#define SHARDS_SINGLE "model.safetensors"
#define SHARDS_INDEX "model.safetensors.index.json"

/* max_shard_size="5GB" (5 * 10^9 bytes): the default of transformers' save_pretrained
 * from 4.35 (huggingface/transformers#26942) through 4.x, and the Hub's recommended
 * shard size; transformers 5 raised its default to "50GB" (#42734). */
#define SHARDS_MAX_SIZE 5000000000ULL

struct shards_tensor {
	const char *name;                 /* borrowed from the file's header */
	struct st_file *file;             /* the shard holding it */
	const struct st_tensor_info *info;
};

struct shards {
	char *index;                 /* the index's path, or NULL for a single file */
	int n_files;
	struct st_file *files;
	int n;                       /* tensors across all files, sorted by name */
	struct shards_tensor *tensors;
};

/* Open DIR's model files, either layout. */
int shards_open(struct shards *s, const char *dir, struct err *e);

/* One safetensors file as a set (the daemon's blobs). */
int shards_open_file(struct shards *s, const char *path, struct err *e);

/* An open file (st_open_mem's, say) as a set: s owns it from here, even on error. */
int shards_adopt(struct shards *s, struct st_file *f, struct err *e);

void shards_close(struct shards *s);

const struct shards_tensor *shards_find(const struct shards *s, const char *name);

/* st_check_f32 / st_read_f32 on the shard holding `name` (errors name that shard). */
int shards_check_f32(const struct shards *s, const char *name, int ndim, const int64_t *shape,
	struct err *e);
int shards_read_f32(struct shards *s, const char *name, int ndim, const int64_t *shape,
	float *out, struct err *e);

/*
 * Write t[0..n) as DIR/model.safetensors, or as DIR/model-0000K-of-0000N.safetensors
 * with DIR/model.safetensors.index.json when they do not fit in one file of
 * max_shard bytes of tensor data. Every tensor's dtype is `dtype`: t[i].data (fp32)
 * or t[i].from is converted (st_write). metadata goes into every file. DIR exists.
 */
int shards_write(const char *dir, const struct st_write_tensor *t, int n, enum st_dtype dtype,
	uint64_t max_shard, const char *const *metadata, struct err *e);

/* Every tensor of s in its own dtype, in one safetensors file in memory (*data
 * malloc'd). Files are taken in order, a file's tensors in the order of its data. */
int shards_merge(struct shards *s, const char *const *metadata, void **data, size_t *size,
	struct err *e);

/* DIR's weights as the bytes of one safetensors file (*data malloc'd): its
 * model.safetensors as it is, or its shards merged (shards_merge). */
int shards_read_single(const char *dir, char **data, size_t *size, struct err *e);

/* The tensors of s as st_write_tensor sources (from = their file), in shards_merge's
 * order, each of dtype `dtype`; *t is malloc'd with s->n entries. */
int shards_sources(struct shards *s, enum st_dtype dtype, struct st_write_tensor **t,
	struct err *e);

/* HF config.json's "torch_dtype" ("float32", "bfloat16", "float16"; NULL: float32)
 * as a dtype; -1 with e set naming `what` for any other. */
int shards_dtype_of_torch(const char *torch_dtype, const char *what, enum st_dtype *dtype,
	struct err *e);

/* The torch_dtype string of a float dtype. */
const char *shards_torch_dtype(enum st_dtype dtype);

#endif
