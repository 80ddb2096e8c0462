/*
 * file — reading a whole file into memory.
 *
 *   file_read(path, max, &data, &size, err)
 *
 * On success *data is a malloc'd buffer of *size bytes plus a NUL after them (so a
 * text file is also a C string; the caller frees it). A file larger than `max` bytes
 * is refused without being read. Errors name the file and the cause.
 */
#ifndef R1_FILE_H
#define R1_FILE_H

#include <stddef.h>

#include "err.h"

#define FILE_READ_ANY ((size_t)-1 / 2) /* no limit worth naming */

int file_read(const char *path, size_t max, char **data, size_t *size, struct err *err);

#endif
