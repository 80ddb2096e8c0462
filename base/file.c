#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
