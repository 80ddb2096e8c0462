/* rewardfiles — pin a spec's reward program files; see rewardfiles.h. */
#define _GNU_SOURCE
#include "rewardfiles.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "file.h"
#include "names.h"

struct rewardfiles_walk {
	const char *reward;
	json_t *blobs;
	rewardfiles_put_fn put;
	void *ctx;
	size_t bytes;
	struct err *err;
};

static int rewardfiles_one(struct rewardfiles_walk *w, const char *path, const char *rel)
{
	char *bytes, hex[SHA256_HEX_SIZE];
	size_t size;
	if (json_object_get(w->blobs, rel))
		return err_set(w->err, ERR_INVALID, "reward '%s': files: two files are named '%s'",
			w->reward, rel);
	if (json_object_size(w->blobs) >= REWARDFILES_MAX)
		return err_set(w->err, ERR_INVALID, "reward '%s': files: more than %d files",
			w->reward, REWARDFILES_MAX);
	if (file_read(path, REWARDFILES_MAX_BYTES, &bytes, &size, w->err) < 0)
		return err_wrap(w->err, "reward '%s': files", w->reward);
	w->bytes += size;
	int rc = w->bytes > REWARDFILES_MAX_BYTES ? err_set(w->err, ERR_INVALID,
		"reward '%s': files: more than %zu MiB in all", w->reward, REWARDFILES_MAX_BYTES >> 20) :
		w->put(w->ctx, bytes, size, hex, w->err);
	free(bytes);
	if (rc < 0)
		return -1;
	if (json_object_set_new(w->blobs, rel, json_string(hex)) < 0)
		return err_set(w->err, ERR_NOMEM, "reward '%s': out of memory", w->reward);
	return 0;
}

static int rewardfiles_entry(struct rewardfiles_walk *w, const char *path, const char *rel,
	int depth)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return err_sys(w->err, errno, "reward '%s': files: cannot open '%s'", w->reward, path);
	if (S_ISREG(st.st_mode))
		return rewardfiles_one(w, path, rel);
	if (!S_ISDIR(st.st_mode))
		return 0;
	if (depth > 16)
		return err_set(w->err, ERR_INVALID, "reward '%s': files: '%s' is more than 16 "
			"directories deep", w->reward, path);
	struct dirent **names;
	int n = scandir(path, &names, NULL, alphasort), rc = 0;
	if (n < 0)
		return err_sys(w->err, errno, "reward '%s': files: cannot list '%s'", w->reward, path);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		if (rc == 0 && strcmp(name, ".") && strcmp(name, "..")) {
			char *p, *r;
			if (asprintf(&p, "%s/%s", path, name) < 0)
				p = NULL;
			if (!p || asprintf(&r, "%s/%s", rel, name) < 0)
				r = NULL;
			rc = p && r ? rewardfiles_entry(w, p, r, depth + 1) :
				err_set(w->err, ERR_NOMEM, "reward '%s': out of memory", w->reward);
			free(p);
			free(r);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int rewardfiles_pin(json_t *spec, rewardfiles_put_fn put, void *ctx, struct err *err)
{
	const char *name;
	json_t *r;
	json_object_foreach(json_object_get(spec, "rewards"), name, r) {
		const char *fn = json_string_value(json_object_get(r, "fn"));
		if (!fn || strcmp(fn, NAME_REWARD_PROGRAM))
			continue;
		struct rewardfiles_walk w = { name, json_object(), put, ctx, 0, err };
		if (!w.blobs)
			return err_set(err, ERR_NOMEM, "reward '%s': out of memory", name);
		const json_t *f;
		size_t i;
		json_array_foreach(json_object_get(r, "files"), i, f) {
			const char *path = json_string_value(f), *base;
			if (!path || path[0] != '/') {
				json_decref(w.blobs);
				return err_set(err, ERR_INVALID, "reward '%s': files[%zu]: expected an "
					"absolute path", name, i);
			}
			base = strrchr(path, '/') + 1;
			if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
				json_decref(w.blobs);
				return err_set(err, ERR_INVALID, "reward '%s': files[%zu]: '%s' has no name "
					"to give its copy", name, i, path);
			}
			if (rewardfiles_entry(&w, path, base, 0) < 0) {
				json_decref(w.blobs);
				return -1;
			}
		}
		if (json_object_set_new(r, REWARDFILES_KEY, w.blobs) < 0)
			return err_set(err, ERR_NOMEM, "reward '%s': out of memory", name);
	}
	return 0;
}
