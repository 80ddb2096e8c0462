#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "filetrust.h"
#include "wdelta.h"

static int mkdir_p(const char *path, struct err *err)
{
	char buf[CACHE_PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, 0700) < 0 && errno != EEXIST)
				return err_sys(err, errno, "cannot create cache directory '%s'", buf);
			*p = c;
			if (!c)
				return 0;
		}
	}
}

static int join(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int cache_open(struct cache *c, const char *dir, struct err *err)
{
	char tmp[CACHE_PATH_MAX];
	size_t len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (len == 0 || len + 80 >= sizeof c->dir)
		return err_set(err, ERR_INVALID, "cannot use cache directory '%s': bad path", dir);
	memcpy(c->dir, dir, len);
	c->dir[len] = '\0';
	if (join(tmp, sizeof tmp, c->dir, "tmp") < 0)
		return err_set(err, ERR_INVALID, "cache directory '%s' is too long", dir);
	return mkdir_p(c->dir, err) < 0 || mkdir_p(tmp, err) < 0 ? -1 : 0;
}

int cache_lookup(const struct cache *c, const char *sha256, char *path, size_t size)
{
	struct stat st;
	if (!sha256_hex_valid(sha256) || join(path, size, c->dir, sha256) < 0)
		return 0;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int cache_verify(const struct cache *c, const char *sha256, const char *path,
	struct err *err)
{
	char got[SHA256_HEX_SIZE];
	int64_t size = 0;
	(void)c;
	if (filetrust_check(path, sha256))
		return 0;
	if (sha256_file(path, got, &size, err) < 0)
		return err_wrap(err, "cannot check cached blob %s", sha256);
	if (strcmp(got, sha256) == 0) {
		filetrust_note(path, sha256);
		return 0;
	}
	filetrust_forget(path);
	if (unlink(path) < 0 && errno != ENOENT)
		return err_set(err, ERR_FORMAT, "cached blob file '%s' is damaged: its %lld bytes "
			"hash to %s; cannot remove it: %s", path, (long long)size, got, strerror(errno));
	return err_set(err, ERR_FORMAT, "cached blob file '%s' is damaged: its %lld bytes hash "
		"to %s; removed it", path, (long long)size, got);
}

int cache_fill_begin(const struct cache *c, struct cache_fill *f, const char *sha256,
	struct err *err)
{
	char path[CACHE_PATH_MAX], tmp_dir[CACHE_PATH_MAX];
	f->file.fd = -1;
	if (!sha256_hex_valid(sha256))
		return err_set(err, ERR_INVALID, "cannot cache blob '%.70s': not a sha256", sha256);
	if (join(path, sizeof path, c->dir, sha256) < 0 ||
		join(tmp_dir, sizeof tmp_dir, c->dir, "tmp") < 0)
		return err_set(err, ERR_INVALID, "cache directory '%s' is too long", c->dir);
	if (file_atomic_open(&f->file, path, tmp_dir, 0600, err) < 0)
		return -1;
	memcpy(f->sha256, sha256, SHA256_HEX_SIZE);
	sha256_init(&f->hash);
	f->size = 0;
	return 0;
}

int cache_fill_write(struct cache_fill *f, const void *data, size_t size, struct err *err)
{
	sha256_update(&f->hash, data, size);
	f->size += (int64_t)size;
	return file_atomic_write(&f->file, data, size, err);
}

void cache_fill_abort(struct cache_fill *f)
{
	file_atomic_abort(&f->file);
}

int cache_fill_commit(const struct cache *c, struct cache_fill *f, char *path, size_t size,
	struct err *err)
{
	uint8_t digest[SHA256_DIGEST_SIZE];
	char got[SHA256_HEX_SIZE];
	sha256_final(&f->hash, digest);
	sha256_hex(digest, got);
	if (strcmp(got, f->sha256) != 0) {
		cache_fill_abort(f);
		return err_set(err, ERR_FORMAT, "blob %s failed verification: its %lld bytes hash "
			"to %s", f->sha256, (long long)f->size, got);
	}
	if (snprintf(path, size, "%s", f->file.path) >= (int)size) {
		cache_fill_abort(f);
		return err_set(err, ERR_INVALID, "cannot cache blob %s: path too long", f->sha256);
	}
	if (file_atomic_commit(&f->file, false, err) < 0)
		return err_wrap(err, "cannot cache blob %s in '%s'", f->sha256, c->dir);
	filetrust_note(path, f->sha256); /* streamed and verified: no need to hash it again */
	cache_trim(c, CACHE_KEEP, f->sha256);
	return 0;
}

void cache_trim(const struct cache *c, int keep, const char *spare)
{
	struct entry { char name[SHA256_HEX_SIZE]; struct timespec t; } *e = NULL;
	size_t n = 0, cap = 0;
	DIR *dir = opendir(c->dir);
	struct dirent *de;
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		char path[CACHE_PATH_MAX];
		struct stat st;
		if (!sha256_hex_valid(de->d_name) || (spare && !strcmp(de->d_name, spare)) ||
			join(path, sizeof path, c->dir, de->d_name) < 0 || stat(path, &st) < 0)
			continue;
		if (n == cap) {
			struct entry *g = realloc(e, (cap = cap ? 2 * cap : 16) * sizeof *e);
			if (!g)
				break;
			e = g;
		}
		memcpy(e[n].name, de->d_name, SHA256_HEX_SIZE);
		e[n++].t = st.st_mtim;
	}
	closedir(dir);
	/* the spared blob counts as one kept; drop the oldest of the rest */
	while (n + 1 > (size_t)keep && n > 0) {
		size_t old = 0;
		for (size_t i = 1; i < n; i++)
			if (e[i].t.tv_sec < e[old].t.tv_sec || (e[i].t.tv_sec == e[old].t.tv_sec &&
				e[i].t.tv_nsec < e[old].t.tv_nsec))
				old = i;
		char path[CACHE_PATH_MAX];
		if (join(path, sizeof path, c->dir, e[old].name) == 0) {
			filetrust_forget(path);
			unlink(path);
		}
		e[old] = e[--n];
	}
	free(e);
}

struct listed {
	char name[SHA256_HEX_SIZE];
	struct timespec t;
};

static int newer_first(const void *a, const void *b)
{
	const struct listed *x = a, *y = b;
	if (x->t.tv_sec != y->t.tv_sec)
		return x->t.tv_sec < y->t.tv_sec ? 1 : -1;
	return x->t.tv_nsec < y->t.tv_nsec ? 1 : x->t.tv_nsec > y->t.tv_nsec ? -1 : 0;
}

void cache_touch(const struct cache *c, const char *sha256, const char *path)
{
	(void)c;
	int trusted = filetrust_check(path, sha256);
	if (utimensat(AT_FDCWD, path, NULL, 0) == 0 && trusted)
		filetrust_note(path, sha256); /* the bytes are those just trusted; only times moved */
}

size_t cache_list(const struct cache *c, char (*names)[SHA256_HEX_SIZE], size_t max)
{
	struct listed e[4 * CACHE_KEEP];
	size_t n = 0;
	DIR *dir = opendir(c->dir);
	struct dirent *de;
	if (!dir)
		return 0;
	while ((de = readdir(dir)) && n < sizeof e / sizeof e[0]) {
		char path[CACHE_PATH_MAX];
		struct stat st;
		if (!sha256_hex_valid(de->d_name) || join(path, sizeof path, c->dir, de->d_name) < 0 ||
			stat(path, &st) < 0)
			continue;
		memcpy(e[n].name, de->d_name, SHA256_HEX_SIZE);
		e[n++].t = st.st_mtim;
	}
	closedir(dir);
	qsort(e, n, sizeof e[0], newer_first);
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		memcpy(names[i], e[i].name, SHA256_HEX_SIZE);
	return n;
}

int cache_apply_delta(const struct cache *c, const char *target, const char *base,
	const void *delta, size_t n, char *path, size_t size, struct err *err)
{
	char base_path[CACHE_PATH_MAX];
	char *bytes = NULL;
	void *out = NULL;
	size_t base_size = 0;
	struct wdelta_info info;
	struct cache_fill f = { .file.fd = -1 };
	int rc = -1;
	if (wdelta_read(delta, n, &info, err) < 0)
		goto out;
	if (strcmp(info.base, base) != 0 || strcmp(info.target, target) != 0) {
		err_set(err, ERR_FORMAT, "weights delta to blob %s is from %.12s to %.12s", target,
			info.base, info.target);
		goto out;
	}
	if (!cache_lookup(c, base, base_path, sizeof base_path)) {
		err_set(err, ERR_NOTFOUND, "cannot rebuild blob %s: its base %s left the cache",
			target, base);
		goto out;
	}
	if (file_read(base_path, FILE_READ_ANY, &bytes, &base_size, err) < 0 ||
		wdelta_apply(delta, n, bytes, base_size, &out, err) < 0 ||
		cache_fill_begin(c, &f, target, err) < 0 ||
		cache_fill_write(&f, out, base_size, err) < 0)
		goto out;
	/* the fill hashes what it wrote: a wrong base (damaged in the cache) or delta ends
	 * here as "failed verification", never as other weights */
	rc = cache_fill_commit(c, &f, path, size, err);
out:
	if (rc < 0) {
		cache_fill_abort(&f);
		err_wrap(err, "cannot rebuild blob %s from %.12s and a delta", target, base);
	}
	free(bytes);
	free(out);
	return rc;
}
