/*
 * filetrust — the files this process has already hashed, so it does not hash them
 * again on every read.
 *
 * A content-addressed file (DIR/blobs/<sha256> of the daemon, a worker's cache)
 * is checked against its name before it is used: a flipped byte keeps a file's size
 * and modification time, so nothing cheaper than hashing notices damage done while
 * the program was down. Within one process, though, a file this process wrote from
 * bytes it hashed, or hashed once since it started, needs no second hash as long
 * as it is the same file: same device and inode, size, modification and change
 * times (a write through any descriptor moves the last two). So:
 *
 *   filetrust_note    after the bytes of `path` were hashed to `sha256` (written from
 *                     a hashed buffer, hashed as read, or streamed and verified)
 *   filetrust_check   1 if `path` was noted under `sha256` and still is that file
 *   filetrust_forget  drop what was noted for `path` (before removing or replacing it)
 *
 * Damage done while the process was down is seen as before (the first read of each
 * file in a process hashes it); damage done under it is seen when it moves the
 * file's times, which the kernel keeps at its clock tick (a few ms): a write in the
 * same tick as the note, or one that restores both times, is not. The table is small (FILETRUST_SLOTS,
 * the oldest noted entry makes room) and shared by the threads of the process
 * (a mutex).
 */
#ifndef R1_FILETRUST_H
#define R1_FILETRUST_H

#define FILETRUST_SLOTS 64

void filetrust_note(const char *path, const char *sha256);
int filetrust_check(const char *path, const char *sha256);
void filetrust_forget(const char *path);

#endif
