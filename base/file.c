#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_read(const char *path, size_t max, char **data, size_t *size, struct err *err)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *buf = NULL;
	if (!f)
		return err_sys(err, errno, "cannot open '%s'", path);
	if (fstat(fileno(f), &st) < 0) {
		int e = errno;
		fclose(f);
		return err_sys(err, e, "cannot read '%s'", path);
	}
	if ((size_t)st.st_size > max) {
		fclose(f);
		return err_set(err, ERR_INVALID, "cannot read '%s': %lld bytes, more than %zu",
			path, (long long)st.st_size, max);
	}
	size_t n = (size_t)st.st_size;
	if (!(buf = malloc(n + 1))) {
		fclose(f);
		return err_set(err, ERR_NOMEM, "cannot read '%s': out of memory", path);
	}
	size_t got = fread(buf, 1, n, f);
	int failed = ferror(f) || got != n;
	fclose(f);
	if (failed) {
		free(buf);
		return err_set(err, ERR_IO, "cannot read '%s': short read (%zu of %zu bytes)", path,
			got, n);
	}
	buf[n] = '\0';
	*data = buf;
	*size = n;
	return 0;
}

int file_write_all(int fd, const void *data, size_t size)
{
	const char *p = data;
	while (size) {
		ssize_t n = write(fd, p, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		size -= (size_t)n;
	}
	return 0;
}

int file_sync_dir(const char *dir, struct err *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		err_sys(err, errno, "cannot sync directory '%s'", dir);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* The directory part of path ("." for a bare name), into buf. */
static void dir_of(const char *path, char *buf, size_t cap)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(buf, cap, ".");
	else if (slash == path)
		snprintf(buf, cap, "/");
	else
		snprintf(buf, cap, "%.*s", (int)(slash - path), path);
}

int file_atomic_open(struct file_atomic *f, const char *path, const char *tmp_dir,
	mode_t mode, struct err *err)
{
	static unsigned counter; /* names are unique per process; O_EXCL catches the rest */
	char dir[FILE_PATH_MAX];
	const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
	f->fd = -1;
	f->tmp[0] = '\0';
	if (snprintf(f->path, sizeof f->path, "%s", path) >= (int)sizeof f->path)
		return err_set(err, ERR_INVALID, "path too long: '%.64s...'", path);
	if (tmp_dir)
		snprintf(dir, sizeof dir, "%s", tmp_dir);
	else
		dir_of(path, dir, sizeof dir);
	for (int tries = 0; tries < 100; tries++) {
		unsigned n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
		if (snprintf(f->tmp, sizeof f->tmp, "%s/%s.tmp.%d.%u", dir, name, (int)getpid(), n) >=
			(int)sizeof f->tmp) {
			f->tmp[0] = '\0';
			return err_set(err, ERR_INVALID, "path too long: '%.64s...'", path);
		}
		f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (f->fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	err_sys(err, errno, "cannot create '%s'", f->tmp);
	f->tmp[0] = '\0';
	return -1;
}

int file_atomic_write(struct file_atomic *f, const void *data, size_t size, struct err *err)
{
	if (file_write_all(f->fd, data, size) < 0) {
		err_sys(err, errno, "cannot write '%s'", f->tmp);
		file_atomic_abort(f);
		return -1;
	}
	return 0;
}

int file_atomic_commit(struct file_atomic *f, bool sync, struct err *err)
{
	if (sync && fsync(f->fd) < 0) {
		err_sys(err, errno, "cannot write '%s'", f->tmp);
		goto fail;
	}
	int fd = f->fd;
	f->fd = -1;
	if (close(fd) < 0) {
		err_sys(err, errno, "cannot write '%s'", f->tmp);
		goto fail;
	}
	if (rename(f->tmp, f->path) < 0) {
		err_sys(err, errno, "cannot rename '%s' to '%s'", f->tmp, f->path);
		goto fail;
	}
	f->tmp[0] = '\0';
	if (sync) {
		char dir[FILE_PATH_MAX];
		dir_of(f->path, dir, sizeof dir);
		return file_sync_dir(dir, err);
	}
	return 0;
fail:
	file_atomic_abort(f);
	return -1;
}

void file_atomic_abort(struct file_atomic *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (f->tmp[0])
		unlink(f->tmp);
	f->tmp[0] = '\0';
}

int file_write_atomic(const char *path, const void *data, size_t size, mode_t mode,
	struct err *err)
{
	struct file_atomic f;
	if (file_atomic_open(&f, path, NULL, mode, err) < 0 ||
		file_atomic_write(&f, data, size, err) < 0)
		return -1;
	return file_atomic_commit(&f, true, err);
}
