#include "shards.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

/* An index maps each tensor name to a file name: a few MB even for huge models. */
#define SHARDS_INDEX_MAX (64u << 20)

static int shards_path(char *buf, const char *dir, const char *name, struct err *e)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", dir, name);
	if (n < 0 || n >= PATH_MAX)
		return err_set(e, ERR_INVALID, "path too long: '%s/%s'", dir, name);
	return 0;
}

static int shards_cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct shards_tensor *)a)->name, ((const struct shards_tensor *)b)->name);
}

static int shards_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void shards_close(struct shards *s)
{
	for (int i = 0; i < s->n_files; i++)
		st_close(&s->files[i]);
	free(s->files);
	free(s->tensors);
	free(s->index);
	*s = (struct shards){ 0 };
}

/* s->tensors: every tensor of every file, sorted by name (the caller checked that no
 * name is in two files). */
static int shards_table(struct shards *s, struct err *e)
{
	int n = 0;
	for (int i = 0; i < s->n_files; i++)
		n += s->files[i].n;
	if (!(s->tensors = calloc((size_t)(n ? n : 1), sizeof *s->tensors)))
		return err_set(e, ERR_NOMEM, "cannot read '%s': out of memory",
			s->index ? s->index : s->files[0].path);
	for (int i = 0; i < s->n_files; i++)
		for (int k = 0; k < s->files[i].n; k++)
			s->tensors[s->n++] = (struct shards_tensor){ s->files[i].tensors[k].name,
				&s->files[i], &s->files[i].tensors[k] };
	qsort(s->tensors, (size_t)s->n, sizeof *s->tensors, shards_cmp_name);
	return 0;
}

int shards_adopt(struct shards *s, struct st_file *f, struct err *e)
{
	*s = (struct shards){ 0 };
	if (!(s->files = malloc(sizeof *s->files))) {
		err_set(e, ERR_NOMEM, "cannot read '%s': out of memory", f->path);
		st_close(f);
		return -1;
	}
	s->files[0] = *f;
	s->n_files = 1;
	*f = (struct st_file){ 0 };
	if (shards_table(s, e) == 0)
		return 0;
	shards_close(s);
	return -1;
}

int shards_open_file(struct shards *s, const char *path, struct err *e)
{
	struct st_file f;
	*s = (struct shards){ 0 };
	if (st_open(&f, path, e))
		return -1;
	return shards_adopt(s, &f, e);
}

/* A shard name from an index: a plain file name in the index's directory. */
static bool shards_plain_name(const char *name)
{
	return name[0] && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* The weight_map of the index at `path`, checked for shape: an object of at least one
 * tensor, each mapped to a plain file name. */
static json_t *shards_read_index(const char *path, struct err *e)
{
	char *text = NULL;
	size_t len;
	if (file_read(path, SHARDS_INDEX_MAX, &text, &len, e) < 0)
		return NULL;
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr), *map = NULL;
	free(text);
	if (!root) {
		err_set(e, ERR_FORMAT, "malformed checkpoint index '%s': %s (line %d, column %d)", path,
			jerr.text, jerr.line, jerr.column);
		return NULL;
	}
	map = json_object_get(root, "weight_map");
	const char *key;
	json_t *v;
	if (!json_is_object(root) || !json_is_object(map)) {
		err_set(e, ERR_FORMAT, "malformed checkpoint index '%s': expected an object with a "
			"\"weight_map\" object of tensor names to shard file names", path);
		goto fail;
	}
	if (!json_object_size(map)) {
		err_set(e, ERR_FORMAT, "malformed checkpoint index '%s': \"weight_map\" maps no tensors", path);
		goto fail;
	}
	json_object_foreach(map, key, v) {
		if (!json_is_string(v) || !shards_plain_name(json_string_value(v))) {
			err_set(e, ERR_FORMAT, "malformed checkpoint index '%s': tensor '%s' is not mapped "
				"to a file name in the index's directory", path, key);
			goto fail;
		}
	}
	json_incref(map);
	json_decref(root);
	return map;
fail:
	json_decref(root);
	return NULL;
}

static int shards_open_index(struct shards *s, const char *dir, const char *index, struct err *e)
{
	char path[PATH_MAX];
	const char **names = NULL;
	int rc = -1;
	json_t *map = shards_read_index(index, e);
	if (!map)
		return -1;
	if (!(s->index = strdup(index))) {
		err_set(e, ERR_NOMEM, "cannot read '%s': out of memory", index);
		goto out;
	}
	/* the distinct file names, sorted: shard 1 of N first */
	size_t nmap = json_object_size(map), nf = 0;
	if (!(names = malloc(nmap * sizeof *names))) {
		err_set(e, ERR_NOMEM, "cannot read '%s': out of memory", index);
		goto out;
	}
	const char *key;
	json_t *v;
	json_object_foreach(map, key, v)
		names[nf++] = json_string_value(v);
	qsort(names, nf, sizeof *names, shards_cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < nf; i++)
		if (!u || strcmp(names[u - 1], names[i]) != 0)
			names[u++] = names[i];
	if (!(s->files = calloc(u, sizeof *s->files))) {
		err_set(e, ERR_NOMEM, "cannot read '%s': out of memory", index);
		goto out;
	}
	for (size_t i = 0; i < u; i++) {
		if (shards_path(path, dir, names[i], e) < 0)
			goto out;
		if (st_open(&s->files[i], path, e) < 0) {
			err_wrap(e, "cannot read the shards of '%s'", index);
			goto out;
		}
		s->n_files++;
	}
	/* every tensor of a shard is mapped to that shard */
	for (int i = 0; i < s->n_files; i++) {
		const struct st_file *f = &s->files[i];
		const char *base = f->path + strlen(dir) + 1;
		for (int k = 0; k < f->n; k++) {
			const char *name = f->tensors[k].name;
			const char *to = json_string_value(json_object_get(map, name));
			if (to && strcmp(to, base) == 0)
				continue;
			const struct st_file *other = NULL;
			for (int j = 0; to && j < s->n_files && !other; j++)
				if (j != i && strcmp(s->files[j].path + strlen(dir) + 1, to) == 0 &&
					st_find(&s->files[j], name))
					other = &s->files[j];
			if (other)
				err_set(e, ERR_FORMAT, "cannot read checkpoint '%s': tensor '%s' is in two "
					"shards, '%s' and '%s'", index, name, f->path, other->path);
			else if (to)
				err_set(e, ERR_FORMAT, "cannot read checkpoint '%s': it maps tensor '%s' to "
					"'%s', but the tensor is in '%s'", index, name, to, f->path);
			else
				err_set(e, ERR_FORMAT, "cannot read checkpoint '%s': shard '%s' holds tensor "
					"'%s', which the index does not map", index, f->path, name);
			goto out;
		}
	}
	/* every tensor mapped is in its shard */
	json_object_foreach(map, key, v) {
		const char *to = json_string_value(v);
		const struct st_file *f = NULL;
		for (int j = 0; j < s->n_files && !f; j++)
			if (strcmp(s->files[j].path + strlen(dir) + 1, to) == 0)
				f = &s->files[j];
		assert(f);
		if (!st_find(f, key)) {
			err_set(e, ERR_FORMAT, "cannot read checkpoint '%s': it maps tensor '%s' to '%s', "
				"which has no such tensor", index, key, f->path);
			goto out;
		}
	}
	rc = shards_table(s, e);
out:
	free(names);
	json_decref(map);
	return rc;
}

int shards_open(struct shards *s, const char *dir, struct err *e)
{
	char single[PATH_MAX], index[PATH_MAX];
	struct stat st;
	*s = (struct shards){ 0 };
	if (shards_path(single, dir, SHARDS_SINGLE, e) < 0 || shards_path(index, dir, SHARDS_INDEX, e) < 0)
		return -1;
	/* transformers looks for the single file first too */
	if (stat(single, &st) != 0 && errno == ENOENT && stat(index, &st) == 0) {
		if (shards_open_index(s, dir, index, e) == 0)
			return 0;
		shards_close(s);
		return -1;
	}
	if (shards_open_file(s, single, e) == 0)
		return 0;
	if (e && e->code == ERR_NOTFOUND && stat(single, &st) != 0) {
		size_t len = strlen(e->msg);
		snprintf(e->msg + len, sizeof e->msg - len, " (nor is there a %s)", SHARDS_INDEX);
	}
	return -1;
}

const struct shards_tensor *shards_find(const struct shards *s, const char *name)
{
	if (!s->n)
		return NULL;
	struct shards_tensor key = { .name = name };
	return bsearch(&key, s->tensors, (size_t)s->n, sizeof *s->tensors, shards_cmp_name);
}

/* The index if there is one, else the single file: what a missing tensor is missing from. */
static const char *shards_what(const struct shards *s)
{
	return s->index ? s->index : s->n_files ? s->files[0].path : "checkpoint";
}

int shards_check_f32(const struct shards *s, const char *name, int ndim, const int64_t *shape,
	struct err *e)
{
	const struct shards_tensor *t = shards_find(s, name);
	if (!t)
		return err_set(e, ERR_NOTFOUND, "cannot read '%s': no tensor '%s'", shards_what(s), name);
	return st_check_f32(t->file, name, ndim, shape, e);
}

int shards_read_f32(struct shards *s, const char *name, int ndim, const int64_t *shape,
	float *out, struct err *e)
{
	const struct shards_tensor *t = shards_find(s, name);
	if (!t)
		return err_set(e, ERR_NOTFOUND, "cannot read '%s': no tensor '%s'", shards_what(s), name);
	return st_read_f32(t->file, name, ndim, shape, out, e);
}

static int shards_cmp_order(const void *a, const void *b)
{
	const struct shards_tensor *x = a, *y = b;
	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->info->begin != y->info->begin)
		return x->info->begin < y->info->begin ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Sources for every tensor in file order; dtype -1 keeps each tensor's own. */
static int shards_sources_as(struct shards *s, int dtype, struct st_write_tensor **out,
	struct err *e)
{
	struct shards_tensor *order = malloc((size_t)(s->n ? s->n : 1) * sizeof *order);
	struct st_write_tensor *t = calloc((size_t)(s->n ? s->n : 1), sizeof *t);
	if (!order || !t) {
		free(order);
		free(t);
		return err_set(e, ERR_NOMEM, "cannot read '%s': out of memory", shards_what(s));
	}
	memcpy(order, s->tensors, (size_t)s->n * sizeof *order);
	qsort(order, (size_t)s->n, sizeof *order, shards_cmp_order);
	for (int i = 0; i < s->n; i++) {
		const struct st_tensor_info *in = order[i].info;
		t[i] = (struct st_write_tensor){ .name = order[i].name, .ndim = in->ndim,
			.dtype = dtype < 0 ? in->dtype : (enum st_dtype)dtype, .from = order[i].file };
		memcpy(t[i].shape, in->shape, sizeof t[i].shape);
	}
	free(order);
	*out = t;
	return 0;
}

int shards_sources(struct shards *s, enum st_dtype dtype, struct st_write_tensor **t,
	struct err *e)
{
	return shards_sources_as(s, (int)dtype, t, e);
}

int shards_merge(struct shards *s, const char *const *metadata, void **data, size_t *size,
	struct err *e)
{
	struct st_write_tensor *t;
	if (shards_sources_as(s, -1, &t, e) < 0)
		return -1;
	int rc = st_write_mem(shards_what(s), t, s->n, metadata, data, size, e);
	free(t);
	return rc;
}

/* Remove the shard files an old index in DIR names (other than those in `keep`, a
 * JSON object of new names, may be NULL) and the index itself. A malformed old index
 * is only removed. */
static int shards_remove_old(const char *dir, const json_t *keep, struct err *e)
{
	char index[PATH_MAX], path[PATH_MAX];
	struct stat st;
	if (shards_path(index, dir, SHARDS_INDEX, e) < 0)
		return -1;
	if (stat(index, &st) != 0)
		return 0;
	struct err ignore = { 0 };
	json_t *map = shards_read_index(index, &ignore);
	const char *key;
	json_t *v;
	json_object_foreach(map, key, v) {
		const char *name = json_string_value(v);
		if ((keep && json_object_get(keep, name)) || shards_path(path, dir, name, e) < 0)
			continue;
		if (unlink(path) != 0 && errno != ENOENT) {
			json_decref(map);
			return err_sys(e, errno, "cannot remove the old shard '%s'", path);
		}
	}
	json_decref(map);
	if (!keep && unlink(index) != 0 && errno != ENOENT)
		return err_sys(e, errno, "cannot remove the old index '%s'", index);
	return 0;
}

int shards_write(const char *dir, const struct st_write_tensor *t, int n, enum st_dtype dtype,
	uint64_t max_shard, const char *const *metadata, struct err *e)
{
	char path[PATH_MAX], name[64];
	struct st_write_tensor *w = calloc((size_t)(n ? n : 1), sizeof *w);
	int *shard = calloc((size_t)(n ? n : 1), sizeof *shard);
	json_t *map = json_object(), *files = json_object();
	char *text = NULL;
	int rc = -1;
	if (!w || !shard || !map || !files) {
		err_set(e, ERR_NOMEM, "cannot write '%s': out of memory", dir);
		goto out;
	}
	/* huggingface_hub's split_state_dict_into_shards_factory, which save_pretrained
	 * uses: in order, a tensor bigger than the limit is a shard of its own, numbered
	 * when it is met; one that would tip the current shard over the limit closes it
	 * (the current shard is numbered when closed, or at the end) */
	uint64_t cur = 0, total = 0;
	int n_shards = 0, first = 0; /* the current shard: t[first..i) less the big ones */
	for (int i = 0; i <= n; i++) {
		uint64_t size = 0;
		if (i < n) {
			w[i] = t[i];
			w[i].dtype = dtype;
			size = st_dtype_size(dtype);
			for (int d = 0; d < t[i].ndim; d++)
				size *= (uint64_t)t[i].shape[d];
			total += size;
			if (size > max_shard) {
				shard[i] = -1 - n_shards++;
				continue;
			}
		}
		if (i == n || cur + size > max_shard) {
			bool any = false;
			for (int k = first; k < i; k++)
				if (shard[k] >= 0) {
					shard[k] = n_shards;
					any = true;
				}
			n_shards += any;
			first = i;
			cur = 0;
		}
		cur += size;
	}
	for (int i = 0; i < n; i++) /* the big ones' numbers were kept apart */
		if (shard[i] < 0)
			shard[i] = -1 - shard[i];
	if (n_shards <= 1) {
		if (shards_path(path, dir, SHARDS_SINGLE, e) < 0 || st_write(path, w, n, metadata, e) < 0 ||
			shards_remove_old(dir, NULL, e) < 0)
			goto out;
		rc = 0;
		goto out;
	}
	if (n_shards > 99999) {
		err_set(e, ERR_INVALID, "cannot write '%s': %d shards of at most %" PRIu64 " bytes are "
			"more than the file names allow", dir, n_shards, max_shard);
		goto out;
	}
	/* tensors of one shard may be apart in t when a big one got its own */
	struct st_write_tensor *part = calloc((size_t)n, sizeof *part);
	if (!part) {
		err_set(e, ERR_NOMEM, "cannot write '%s': out of memory", dir);
		goto out;
	}
	for (int k = 0; k < n_shards; k++) {
		snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", k + 1, n_shards);
		int m = 0;
		for (int i = 0; i < n; i++)
			if (shard[i] == k) {
				part[m++] = w[i];
				if (json_object_set_new(map, w[i].name, json_string(name)) < 0) {
					err_set(e, ERR_NOMEM, "cannot write '%s': out of memory", dir);
					free(part);
					goto out;
				}
			}
		if (json_object_set_new(files, name, json_true()) < 0 ||
			shards_path(path, dir, name, e) < 0 || st_write(path, part, m, metadata, e) < 0) {
			free(part);
			goto out;
		}
	}
	free(part);
	/* transformers writes json.dumps(index, indent=2, sort_keys=True) + "\n" */
	json_t *index = json_pack("{s{sI}sO}", "metadata", "total_size", (json_int_t)total,
		"weight_map", map);
	if (!index || !(text = json_dumps(index, JSON_INDENT(2) | JSON_SORT_KEYS))) {
		json_decref(index);
		err_set(e, ERR_NOMEM, "cannot write '%s': out of memory", dir);
		goto out;
	}
	json_decref(index);
	size_t len = strlen(text);
	char *nl = realloc(text, len + 2);
	if (!nl) {
		err_set(e, ERR_NOMEM, "cannot write '%s': out of memory", dir);
		goto out;
	}
	text = nl;
	memcpy(text + len, "\n", 2);
	/* old shards this set does not overwrite go before the index naming the new */
	if (shards_remove_old(dir, files, e) < 0 || shards_path(path, dir, SHARDS_INDEX, e) < 0 ||
		file_write_atomic(path, text, len + 1, 0644, e) < 0 ||
		shards_path(path, dir, SHARDS_SINGLE, e) < 0)
		goto out;
	if (unlink(path) != 0 && errno != ENOENT) {
		err_sys(e, errno, "cannot remove the old '%s'", path);
		goto out;
	}
	rc = 0;
out:
	free(text);
	json_decref(files);
	json_decref(map);
	free(shard);
	free(w);
	return rc;
}

int shards_dtype_of_torch(const char *torch_dtype, const char *what, enum st_dtype *dtype,
	struct err *e)
{
	static const struct { const char *name; enum st_dtype dtype; } known[] = {
		{ "float32", ST_F32 }, { "bfloat16", ST_BF16 }, { "float16", ST_F16 },
	};
	if (!torch_dtype) {
		*dtype = ST_F32;
		return 0;
	}
	for (unsigned i = 0; i < sizeof known / sizeof known[0]; i++)
		if (strcmp(torch_dtype, known[i].name) == 0) {
			*dtype = known[i].dtype;
			return 0;
		}
	return err_set(e, ERR_INVALID, "cannot read '%s': torch_dtype '%.32s' is not supported "
		"(float32, bfloat16 or float16)", what, torch_dtype);
}

const char *shards_torch_dtype(enum st_dtype dtype)
{
	return dtype == ST_BF16 ? "bfloat16" : dtype == ST_F16 ? "float16" : "float32";
}

int shards_read_single(const char *dir, char **data, size_t *size, struct err *e)
{
	char single[PATH_MAX];
	struct stat st;
	if (shards_path(single, dir, SHARDS_SINGLE, e) < 0)
		return -1;
	if (stat(single, &st) == 0 || errno != ENOENT)
		return file_read(single, FILE_READ_ANY, data, size, e);
	struct shards s;
	if (shards_open(&s, dir, e) < 0)
		return -1;
	const char *const md[] = { "format", "pt", NULL };
	void *bytes;
	int rc = shards_merge(&s, md, &bytes, size, e);
	shards_close(&s);
	if (rc == 0)
		*data = bytes;
	return rc;
}
