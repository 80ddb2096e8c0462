#include "gc.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blobs.h"
#include "control.h"
#include "daemon.h"

json_t *control_op_gc(struct daemon *d, const struct msg *req, struct err *err)
{
	char dir[DATADIR_PATH_MAX], path[DATADIR_PATH_MAX + 256];
	int64_t files = 0, bytes = 0, kept = 0, kept_bytes = 0;
	(void)req;
	if (datadir_path(&d->dir, "blobs", dir, sizeof dir, err) < 0)
		return NULL;
	DIR *dh = opendir(dir);
	if (!dh) {
		err_sys(err, errno, "gc: cannot read '%s'", dir);
		return NULL;
	}
	struct dirent *e;
	json_t *out = NULL;
	while ((e = readdir(dh))) {
		struct stat st;
		if (!sha256_hex_valid(e->d_name))
			continue; /* tmp/, and nothing blobs_put would have written */
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		int used = blobs_held(d, e->d_name) ? 1 :
			store_blob_referenced(d->store, e->d_name, err);
		if (used < 0)
			goto out;
		if (used) {
			kept++;
			kept_bytes += (int64_t)st.st_size;
			continue;
		}
		if (store_blob_delete(d->store, e->d_name, err) < 0)
			goto out;
		if (unlink(path) < 0 && errno != ENOENT) {
			log_warn("gc: cannot remove '%s': %s", path, strerror(errno));
			continue;
		}
		files++;
		bytes += (int64_t)st.st_size;
	}
	log_info("gc: removed %lld unreferenced blob file(s), %lld bytes; %lld file(s), %lld "
		"bytes still in use", (long long)files, (long long)bytes, (long long)kept,
		(long long)kept_bytes);
	out = json_pack("{sI sI sI sI}", "files", (json_int_t)files, "bytes", (json_int_t)bytes,
		"kept", (json_int_t)kept, "kept_bytes", (json_int_t)kept_bytes);
out:
	closedir(dh);
	return out;
}

json_t *control_op_dataset_delete(struct daemon *d, const struct msg *req, struct err *err)
{
	const char *name = NULL;
	char *user_name = NULL;
	int64_t pipeline, id = 0, shared = 0, count = 0, user = 0;
	json_t *out = NULL;
	if (control_get_str(req, "dataset_delete", "name", &name, err) < 0 ||
		control_get_int(req, "dataset_delete", "id", 0, 0, INT64_MAX, &pipeline, err) < 0)
		return NULL;
	if (!name) {
		err_set(err, ERR_INVALID, "dataset_delete: 'name' is required");
		return NULL;
	}
	int rc = store_dataset_find(d->store, pipeline, name, &id, &count, err);
	int rs = rc < 0 ? -1 : store_dataset_find(d->store, 0, name, &shared, NULL, err);
	if (rc < 0 || rs < 0)
		return NULL;
	if (rc == 0 || (pipeline && rs == 1 && shared == id)) {
		if (pipeline)
			err_set(err, ERR_NOTFOUND, "cannot delete dataset '%s': pipeline %lld has no "
				"dataset of that name", name, (long long)pipeline);
		else
			err_set(err, ERR_NOTFOUND, "cannot delete dataset '%s': there is no shared "
				"dataset of that name ('r1flow datasets' lists them; a pipeline's own "
				"needs --pipeline ID)", name);
		return NULL;
	}
	rc = store_dataset_user(d->store, name, pipeline, &user, &user_name, err);
	if (rc < 0)
		return NULL;
	if (rc == 1) {
		err_set(err, ERR_INVALID, "cannot delete dataset '%s': pipeline %lld ('%s') has not "
			"finished and reads it; cancel it or wait until it ends", name, (long long)user,
			user_name);
		free(user_name);
		return NULL;
	}
	if (store_dataset_delete(d->store, id, err) < 0)
		return NULL;
	log_info("deleted dataset '%s'%s (%lld record(s))", name, pipeline ? " of a pipeline" :
		" (shared)", (long long)count);
	out = json_pack("{ss sI}", "name", name, "count", (json_int_t)count);
	if (out)
		json_object_set_new(out, "pipeline", pipeline ? json_integer(pipeline) : json_null());
	return out;
}
