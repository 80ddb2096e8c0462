#include "blobs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "curve.h"
#include "daemon.h"
#include "imports.h"
#include "deltas.h"
#include "file.h"
#include "filetrust.h"
#include "learner.h"
#include "relays.h"

/* Whether the file at `path` holds exactly data[0..size); with `sync`, one that does
 * is fsynced (blobs_put_scratch may have written it without). */
static int same_bytes(const char *path, const void *data, size_t size, int sync)
{
	char buf[1 << 16];
	const char *p = data;
	size_t off = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), same = fd >= 0;
	while (same) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			same = n == 0 && off == size;
			break;
		}
		same = (size_t)n <= size - off && memcmp(buf, p + off, (size_t)n) == 0;
		off += (size_t)n;
	}
	if (same && sync && fsync(fd) < 0)
		same = 0;
	if (fd >= 0)
		close(fd);
	return same;
}

/* Hash the file at `path`, the blob `sha256`: ERR_FORMAT naming the file if its bytes
 * are not those the name says; such a file is removed, so that the next blobs_put
 * of the right bytes writes it again and a FETCH finds nothing rather than
 * damaged bytes. */
static int verify(const char *sha256, const char *path, struct err *err)
{
	struct err local = { 0 };
	char got[SHA256_HEX_SIZE];
	if (!err)
		err = &local;
	if (filetrust_check(path, sha256))
		return 0;
	int64_t size = 0;
	if (sha256_file(path, got, &size, err) < 0)
		return err_wrap(err, "cannot check blob %s", sha256);
	if (strcmp(got, sha256) == 0) {
		filetrust_note(path, sha256);
		return 0;
	}
	filetrust_forget(path);
	err_set(err, ERR_FORMAT, "blob file '%s' is damaged: its %lld bytes hash to %s; "
		"removed it", path, (long long)size, got);
	if (unlink(path) < 0 && errno != ENOENT)
		err_set(err, ERR_FORMAT, "blob file '%s' is damaged: its %lld bytes hash to %s; "
			"cannot remove it: %s", path, (long long)size, got, strerror(errno));
	log_error("%s", err->msg);
	return -1;
}

/* The file half of put: hash, write DIR/blobs/<sha256>. No store access: safe on
 * another thread (datadir is read-only once open). */
static int put_file(struct daemon *d, const void *data, size_t size,
	char hex[SHA256_HEX_SIZE], int sync, struct err *err)
{
	char rel[80], path[DATADIR_PATH_MAX], tmp_dir[DATADIR_PATH_MAX];
	sha256_buffer(data, size, hex);
	snprintf(rel, sizeof rel, "blobs/%s", hex);
	if (datadir_path(&d->dir, rel, path, sizeof path, err) < 0 ||
		datadir_path(&d->dir, "blobs/tmp", tmp_dir, sizeof tmp_dir, err) < 0)
		return -1;

	struct stat st;
	if (stat(path, &st) == 0 && st.st_size == (off_t)size) {
		/* same name, same size: the same bytes unless the file was damaged since it
		 * was written; comparing costs one read, and a damaged copy gets replaced */
		if (same_bytes(path, data, size, sync)) {
			filetrust_note(path, hex);
			return 0;
		}
		filetrust_forget(path);
		log_warn("blob file '%s' does not hold the bytes of its name: writing it again",
			path);
	}
	struct file_atomic f;
	if (file_atomic_open(&f, path, tmp_dir, 0600, err) < 0 ||
		file_atomic_write(&f, data, size, err) < 0 ||
		file_atomic_commit(&f, sync, err) < 0)
		return err_wrap(err, "cannot store blob %s", hex);
	filetrust_note(path, hex); /* written from bytes just hashed: no need to hash it again */
	return 0;
}

int blobs_index(struct daemon *d, const char hex[SHA256_HEX_SIZE], size_t size,
	struct err *err)
{
	char rel[80];
	snprintf(rel, sizeof rel, "blobs/%s", hex);
	if (store_blob_put(d->store, hex, (int64_t)size, rel, d->wall, err) < 0)
		return err_wrap(err, "cannot store blob %s", hex);
	return 0;
}

int blobs_adopt(struct daemon *d, const char *path, const char hex[SHA256_HEX_SIZE],
	int64_t size, int sync, struct err *err)
{
	char rel[80], to[DATADIR_PATH_MAX], dir[DATADIR_PATH_MAX];
	snprintf(rel, sizeof rel, "blobs/%s", hex);
	if (datadir_path(&d->dir, rel, to, sizeof to, err) < 0 ||
		datadir_path(&d->dir, "blobs", dir, sizeof dir, err) < 0)
		return -1;
	filetrust_forget(to);
	if (rename(path, to) < 0)
		return err_sys(err, errno, "cannot store blob %s: cannot rename '%s'", hex, path);
	/* hashed by the thread that wrote it: a worker's first fetch needs no second hash
	 * here, in the loop (noted after the rename, which moves the file's change time) */
	filetrust_note(to, hex);
	if (sync && file_sync_dir(dir, err) < 0)
		return err_wrap(err, "cannot store blob %s", hex);
	return blobs_index(d, hex, (size_t)size, err);
}

int blobs_put_file(struct daemon *d, const void *data, size_t size,
	char hex[SHA256_HEX_SIZE], struct err *err)
{
	return put_file(d, data, size, hex, 1, err);
}

static int put(struct daemon *d, const void *data, size_t size, char hex[SHA256_HEX_SIZE],
	int sync, struct err *err)
{
	if (put_file(d, data, size, hex, sync, err) < 0)
		return -1;
	return blobs_index(d, hex, size, err);
}

int blobs_put(struct daemon *d, const void *data, size_t size, char hex[SHA256_HEX_SIZE],
	struct err *err)
{
	return put(d, data, size, hex, 1, err);
}

int blobs_put_scratch(struct daemon *d, const void *data, size_t size,
	char hex[SHA256_HEX_SIZE], struct err *err)
{
	return put(d, data, size, hex, 0, err);
}

int blobs_held(struct daemon *d, const char *sha256)
{
	if (import_holds(d)) /* its file may be written before its name is indexed */
		return 1;
	for (const struct learner *l = d->learners; l; l = l->next) /* with lora: its base too */
		if (strcmp(l->sha256, sha256) == 0 || (l->lora && strcmp(l->base_sha, sha256) == 0))
			return 1;
	if (deltas_holds(d, sha256))
		return 1;
	/* a learner prepared on its thread writes its weights' file before the loop indexes
	 * it: until the thread is done its sha256 is unknown here, so hold every file */
	for (struct learner *l = d->opening; l; l = l->next)
		if (!atomic_load(&l->prep_done) || strcmp(l->sha256, sha256) == 0)
			return 1;
	return 0;
}

void blobs_drop(struct daemon *d, const char *sha256)
{
	char rel[80], path[DATADIR_PATH_MAX] = "";
	struct err err = { 0 };
	if (blobs_held(d, sha256))
		return;
	int rc = store_blob_delete(d->store, sha256, &err);
	if (rc < 0)
		log_warn("%s", err.msg);
	snprintf(rel, sizeof rel, "blobs/%s", sha256);
	if (rc == 1 && datadir_path(&d->dir, rel, path, sizeof path, &err) == 0)
		filetrust_forget(path);
	if (rc == 1 && *path && unlink(path) < 0 && errno != ENOENT)
		log_warn("cannot remove blob '%s': %s", path, strerror(errno));
}

void blobs_result_name(int64_t job, int64_t epoch, size_t i, char name[BLOBS_RESULT_NAME])
{
	snprintf(name, BLOBS_RESULT_NAME, "result-%lld-%lld-%zu", (long long)job,
		(long long)epoch, i);
}

int blobs_put_result(struct daemon *d, int64_t job, int64_t epoch, size_t i,
	const void *data, size_t size, char name[BLOBS_RESULT_NAME], struct err *err)
{
	char rel[BLOBS_RESULT_NAME + 16], path[DATADIR_PATH_MAX];
	blobs_result_name(job, epoch, i, name);
	snprintf(rel, sizeof rel, "blobs/tmp/%s", name);
	if (datadir_path(&d->dir, rel, path, sizeof path, err) < 0)
		return -1;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_sys(err, errno, "cannot create '%s'", path);
	if (file_write_all(fd, data, size) < 0) {
		int saved = errno;
		close(fd);
		unlink(path);
		return err_sys(err, saved, "cannot write '%s'", path);
	}
	close(fd);
	return 0;
}

int blobs_result_path(struct daemon *d, const char *name, char *path, size_t size,
	struct err *err)
{
	char rel[BLOBS_RESULT_NAME + 16];
	if (strncmp(name, "result-", 7) != 0 || strlen(name) >= BLOBS_RESULT_NAME ||
		strspn(name + 7, "0123456789-") != strlen(name + 7))
		return err_set(err, ERR_INVALID, "'%.40s' is not a result file name", name);
	snprintf(rel, sizeof rel, "blobs/tmp/%s", name);
	return datadir_path(&d->dir, rel, path, size, err);
}

void blobs_result_drop(struct daemon *d, const char *name)
{
	char path[DATADIR_PATH_MAX];
	struct err err = { 0 };
	if (blobs_result_path(d, name, path, sizeof path, &err) == 0 && unlink(path) < 0 &&
		errno != ENOENT)
		log_warn("cannot remove '%s': %s", path, strerror(errno));
}

int blobs_path(struct daemon *d, const char *sha256, char *path, size_t size, struct err *err)
{
	char rel[80];
	if (!sha256_hex_valid(sha256))
		return err_set(err, ERR_INVALID, "'%.70s' is not a sha256", sha256);
	snprintf(rel, sizeof rel, "blobs/%s", sha256);
	if (datadir_path(&d->dir, rel, path, size, err) < 0)
		return -1;
	if (access(path, R_OK) < 0)
		return err_set(err, ERR_NOTFOUND, "blob %s: cannot read '%s': %s", sha256, path,
			strerror(errno));
	return verify(sha256, path, err);
}

int blobs_read(struct daemon *d, const char *sha256, int64_t offset, int64_t want,
	int64_t max, void **data, size_t *n, int64_t *total, struct err *err)
{
	int64_t size = 0;
	char *rel = NULL, path[DATADIR_PATH_MAX];
	struct err local = { 0 };
	*data = NULL;
	*n = 0;
	int found = store_blob_get(d->store, sha256, &size, &rel, &local);
	if (found <= 0)
		return found < 0 ? err_set(err, local.code, "cannot look up blob %s: %s", sha256,
			local.msg) : err_set(err, ERR_NOTFOUND, "no blob %s", sha256);
	int rc = datadir_path(&d->dir, rel, path, sizeof path, &local);
	free(rel);
	if (rc < 0)
		return err_set(err, local.code, "cannot read blob %s: %s", sha256, local.msg);
	if (offset == 0 && verify(sha256, path, err) < 0)
		return -1;
	if (offset > size)
		return err_set(err, ERR_INVALID, "offset %lld is past the end of blob %s (%lld bytes)",
			(long long)offset, sha256, (long long)size);
	if (want <= 0 || want > max)
		want = max;
	size_t len = (size_t)(size - offset < want ? size - offset : want);
	void *buf = malloc(len ? len : 1);
	int fd = buf ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	ssize_t got = 0;
	while (fd >= 0 && (size_t)got < len) {
		ssize_t r = pread(fd, (char *)buf + got, len - (size_t)got, offset + got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += r;
	}
	int saved = errno;
	if (fd >= 0)
		close(fd);
	if (!buf || fd < 0 || (size_t)got != len) {
		free(buf);
		return err_set(err, !buf ? ERR_NOMEM : ERR_IO, "cannot read blob file '%s': %s", path,
			!buf ? "out of memory" : (size_t)got != len && fd >= 0 ? "file is shorter than "
			"indexed" : strerror(saved));
	}
	*data = buf;
	*n = len;
	*total = size;
	return 0;
}

static void free_blob(void *data, void *hint)
{
	(void)hint;
	free(data);
}

void blobs_chunk(struct daemon *d, const char *sha256, int64_t offset, int64_t want,
	struct msg *out)
{
	void *buf;
	size_t n;
	int64_t size = 0;
	struct err err = { 0 };
	msg_init(out, PROTO_CHUNK);
	if (blobs_read(d, sha256, offset, want, PROTO_CHUNK_SIZE, &buf, &n, &size, &err) < 0) {
		out->header = json_pack("{ss sI ss}", "sha256", sha256, "offset", (json_int_t)offset,
			"error", err.msg);
		return;
	}
	out->header = json_pack("{ss sI sI}", "sha256", sha256, "offset", (json_int_t)offset,
		"size", (json_int_t)size);
	out->blob_free = free_blob;
	msg_add_blob(out, buf, n, NULL);
}

void blobs_distrust(struct daemon *d, const char *sha256)
{
	char rel[80], path[DATADIR_PATH_MAX];
	if (!sha256_hex_valid(sha256))
		return;
	snprintf(rel, sizeof rel, "blobs/%s", sha256);
	if (datadir_path(&d->dir, rel, path, sizeof path, NULL) == 0)
		filetrust_forget(path);
}

void blobs_clean(struct daemon *d)
{
	char path[DATADIR_PATH_MAX], file[DATADIR_PATH_MAX + 256];
	if (datadir_path(&d->dir, "blobs/tmp", path, sizeof path, NULL) < 0)
		return;
	DIR *dir = opendir(path);
	if (!dir)
		return;
	struct dirent *e;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.') {
			snprintf(file, sizeof file, "%s/%s", path, e->d_name);
			if (unlink(file) == 0)
				log_info("removed partial blob '%s'", file);
		}
	closedir(dir);
}

/* ---- peer fetch (relays.h): the daemon's half ---- */

/* READY's `peer`: {endpoint, key}, tcp with a CURVE key or ipc without one. A worker
 * that announces a bad one still works; it only serves no peers. */
static const char *peer_problem(const json_t *peer, const char **endpoint, const char **key)
{
	*endpoint = json_string_value(json_object_get(peer, "endpoint"));
	*key = json_string_value(json_object_get(peer, "key"));
	if (!*endpoint || strlen(*endpoint) >= RELAYS_ENDPOINT)
		return "its endpoint is not a string of at most 255 bytes";
	for (const char *c = *endpoint; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return "its endpoint has control characters";
	if (strncmp(*endpoint, "tcp://", 6) == 0)
		return *key && curve_key_valid(*key) ? NULL : "a tcp endpoint needs its CURVE key";
	if (strncmp(*endpoint, "ipc://", 6) == 0) {
		*key = "";
		return NULL;
	}
	return "its endpoint is neither tcp:// nor ipc://";
}

void blobs_peer_ready(struct daemon *d, int64_t worker, const char *name, const void *ident,
	size_t ident_size, const struct msg *ready, const char *user)
{
	const json_t *peer = json_object_get(ready->header, "peer");
	const char *endpoint = "", *key = "", *problem = NULL;
	if (!d->relays && !(d->relays = relays_new())) {
		log_warn("cannot plan peer fetches: out of memory");
		return;
	}
	if (peer && (problem = peer_problem(peer, &endpoint, &key))) {
		log_warn("worker '%s' serves no peers: its peer endpoint is unusable: %s", name,
			problem);
		endpoint = key = "";
	} else if (peer) {
		log_info("worker '%s' serves peers on '%s'%s", name, endpoint, *key ? " (CURVE)" : "");
	}
	relays_ready(d->relays, worker, name, ident, ident_size, endpoint, key,
		user && curve_key_valid(user) ? user : "");
}

void blobs_peer_gone(struct daemon *d, int64_t worker)
{
	relays_gone(d->relays, worker);
}

void blobs_fetch(struct daemon *d, int64_t worker, const char *name, const struct msg *m,
	struct msg *out)
{
	const char *sha = msg_str(m, "sha256"), *failed = msg_str(m, "failed_peer");
	int64_t offset = msg_uint(m, "offset"), want = msg_uint(m, "size");
	int check = msg_bool(m, "check", 0);
	struct relay_plan plan;
	if (want < 0)
		want = 0;
	if (check)
		blobs_distrust(d, sha);
	if (failed) {
		if (d->relays)
			relays_failed(d->relays, sha, worker, failed);
		counters_add(&d->counters, C_PEER_FAILURES, 1);
		log_info("worker '%s': peer '%.128s' failed to serve blob %s (at offset %lld): "
			"serving it from here", name, failed, sha, (long long)offset);
	}
	/* a worker that names the blobs it holds may get the weights as a delta */
	if (offset != 0 || !deltas_chunk(d, sha, json_object_get(m->header, "have"), want, out))
		blobs_chunk(d, sha, offset, want, out);
	const char *stream = json_string_value(json_object_get(out->header, "delta"));
	if (offset == 0 && !check && !failed && d->relays && out->nblobs &&
		relays_route(d->relays, stream ? stream : sha, worker, &plan)) {
		/* a redirect: the same header (size, delta, base), no bytes, and the peer */
		json_t *h = json_incref(out->header);
		msg_release(out);
		msg_init(out, PROTO_CHUNK);
		out->header = h;
		json_t *peer = json_pack("{ss ss}", "name", plan.name, "endpoint", plan.endpoint);
		if (peer && *plan.key)
			json_object_set_new(peer, "key", json_string(plan.key));
		json_object_set_new(h, "peer", peer);
		if (*plan.admit) { /* before the redirect goes out: the server's ZAP checks it */
			struct msg admit;
			msg_init(&admit, PROTO_ADMIT);
			admit.header = json_pack("{ss ss}", "key", plan.admit, "name", name);
			outbox_push(&d->out, d->workers, plan.ident, plan.ident_size, &admit);
		}
		counters_add(&d->counters, C_PEER_REDIRECTS, 1);
		log_debug("worker '%s' fetches blob %s from peer '%s'", name, stream ? stream : sha,
			plan.name);
		return;
	}
	counters_add(&d->counters, C_BLOB_BYTES_SENT, out->nblobs ? (int64_t)out->blobs[0].size : 0);
	d->turn_bytes += out->nblobs ? (int64_t)out->blobs[0].size : 0;
}
