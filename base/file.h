/*
 * file — whole files: reading one into memory, and writing one atomically.
 *
 *   file_read(path, max, &data, &size, err)
 *
 * On success *data is a malloc'd buffer of *size bytes plus a NUL after them (so a
 * text file is also a C string; the caller frees it). A file larger than `max` bytes
 * is refused without being read. Errors name the file and the cause.
 *
 * Atomic replacement: readers see the old file or the whole new one, never a part,
 * and after a crash the file is one or the other (with sync). The bytes go to a
 * temporary file next to the target (or in `tmp_dir`, on the same file system), which
 * is renamed over it:
 *
 *   struct file_atomic f;
 *   file_atomic_open(&f, path, NULL, 0644, err);      created with mode & ~umask
 *   file_atomic_write(&f, data, size, err);           as often as needed
 *   file_atomic_commit(&f, true, err);                fsync, rename, fsync the dir
 *   file_atomic_abort(&f);                            on any failure: removes the temp
 *
 * or file_write_atomic(path, data, size, mode, err) for one buffer. Commit and write
 * abort on failure themselves; abort is idempotent. The temporary file is named
 * NAME.tmp.PID.N (not hidden: directory sweepers that skip dot files still find a
 * stray one after a crash).
 */
#ifndef R1_FILE_H
#define R1_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

#define FILE_READ_ANY ((size_t)-1 / 2) /* no limit worth naming */
#define FILE_PATH_MAX 4352             /* PATH_MAX plus the temporary suffix */

int file_read(const char *path, size_t max, char **data, size_t *size, struct err *err);

/* write(2) all of data[0..size), retrying on EINTR and short writes; -1 with errno. */
int file_write_all(int fd, const void *data, size_t size);

/* fsync a directory, so that a rename or create in it survives a crash. */
int file_sync_dir(const char *dir, struct err *err);

struct file_atomic {
	int fd;                      /* the temporary file; -1 when closed */
	char tmp[FILE_PATH_MAX];
	char path[FILE_PATH_MAX];    /* the target */
};

int file_atomic_open(struct file_atomic *f, const char *path, const char *tmp_dir,
	mode_t mode, struct err *err);
int file_atomic_write(struct file_atomic *f, const void *data, size_t size, struct err *err);
/* Without `sync` nothing is fsynced: the rename is still atomic for readers, but a
 * crash may leave an empty or partial file (scratch data only). */
int file_atomic_commit(struct file_atomic *f, bool sync, struct err *err);
void file_atomic_abort(struct file_atomic *f);

int file_write_atomic(const char *path, const void *data, size_t size, mode_t mode,
	struct err *err);

#endif
