#include "datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p with `mode` for the directories it creates. */
static int make_dirs(const char *path, mode_t mode, struct err *err)
{
	char buf[DATADIR_PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return err_sys(err, errno, "cannot create directory '%s'", buf);
			*p = c;
			if (!c)
				break;
		}
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return err_sys(err, errno, "cannot create directory '%s'", path);
	if (!S_ISDIR(st.st_mode))
		return err_set(err, ERR_IO, "cannot use '%s' as a directory: not a directory", path);
	return 0;
}

int datadir_path(const struct datadir *d, const char *name, char *out, size_t size,
	struct err *err)
{
	int n = snprintf(out, size, "%s/%s", d->root, name);
	if (n < 0 || (size_t)n >= size)
		return err_set(err, ERR_INVALID, "path '%s/%s' is too long", d->root, name);
	return 0;
}

int datadir_endpoint(const struct datadir *d, const char *name, char *out, size_t size,
	struct err *err)
{
	char path[DATADIR_PATH_MAX];
	if (datadir_path(d, name, path, sizeof path, err) < 0)
		return -1;
	if (strlen(path) > DATADIR_IPC_PATH_MAX)
		return err_set(err, ERR_INVALID, "cannot use socket path '%s': %zu bytes, more than "
			"a unix socket holds (%d); use a shorter --data", path, strlen(path),
			DATADIR_IPC_PATH_MAX);
	int n = snprintf(out, size, "ipc://%s", path);
	if (n < 0 || (size_t)n >= size)
		return err_set(err, ERR_INVALID, "endpoint for '%s' is too long", path);
	return 0;
}

int datadir_open(struct datadir *d, const char *root, struct err *err)
{
	char path[DATADIR_PATH_MAX];
	d->lock_fd = -1;
	size_t len = strlen(root);
	while (len > 1 && root[len - 1] == '/')
		len--;
	if (len == 0 || len >= sizeof d->root)
		return err_set(err, ERR_INVALID, "cannot use data directory '%s': bad path", root);
	memcpy(d->root, root, len);
	d->root[len] = '\0';

	if (make_dirs(d->root, 0700, err) < 0)
		return -1;
	struct stat st;
	if (stat(d->root, &st) < 0)
		return err_sys(err, errno, "cannot stat '%s'", d->root);
	if ((st.st_mode & 077) && chmod(d->root, 0700) < 0)
		return err_set(err, ERR_IO, "cannot make data directory '%s' private (mode 0700): "
			"%s", d->root, strerror(errno));
	static const char *const subdirs[] = { "blobs", "blobs/tmp", "logs" };
	for (size_t i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++)
		if (datadir_path(d, subdirs[i], path, sizeof path, err) < 0 ||
			make_dirs(path, 0700, err) < 0)
			return -1;

	if (datadir_path(d, "r1flowd.lock", path, sizeof path, err) < 0)
		return -1;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_sys(err, errno, "cannot open lock file '%s'", path);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int saved = errno;
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
		close(fd);
		if (n > 0) {
			pid[n] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
		}
		if (saved == EWOULDBLOCK)
			return err_set(err, ERR_INVALID, "cannot use data directory '%s': another "
				"r1flowd (pid %s) is running on it", d->root, *pid ? pid : "unknown");
		return err_sys(err, saved, "cannot lock '%s'", path);
	}
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		int saved = errno;
		close(fd);
		return err_sys(err, saved, "cannot write lock file '%s'", path);
	}
	d->lock_fd = fd;
	return 0;
}

void datadir_close(struct datadir *d)
{
	if (d->lock_fd >= 0) {
		close(d->lock_fd); /* drops the flock; the file stays, a stale pid is harmless */
		d->lock_fd = -1;
	}
}
