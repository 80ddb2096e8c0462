/*
 * datadir — the daemon's data directory (docs/architecture.md) and its lock.
 *
 *   DIR/                 mode 0700: the ipc sockets inside are reachable only by
 *                        the owner (ipc:// has no other access control)
 *     r1flow.db          the SQLite database (+ -wal, -shm)
 *     blobs/<sha256>     content-addressed files; blobs/tmp/ holds partial writes
 *     control.sock       ipc endpoint: control ROUTER (R1FC1)
 *     workers.sock       ipc endpoint: worker ROUTER (R1FW1)
 *     events.sock        ipc endpoint: event PUB (R1FC1 EVENT)
 *     logs/              log files of processes started by `r1flow run`
 *     r1flowd.lock       holds the pid of the daemon owning DIR (flock'd)
 *
 * `datadir_open` creates what is missing, tightens the mode of DIR to 0700 and takes
 * an exclusive flock on r1flowd.lock, so a second daemon on the same directory
 * refuses to start instead of stealing the sockets (binding an ipc path unlinks the
 * old socket file). The kernel drops the lock when the process dies, kill -9
 * included, so a restart after a crash needs no cleanup.
 *
 * An ipc path must fit in sun_path (107 bytes): datadir_endpoint fails with a
 * message that says so rather than letting zmq_bind truncate it.
 */
#ifndef R1_DATADIR_H
#define R1_DATADIR_H

#include <stddef.h>

#include "err.h"

#define DATADIR_PATH_MAX 4096
#define DATADIR_IPC_PATH_MAX 107   /* sizeof(sockaddr_un.sun_path) - 1 on Linux */

struct datadir {
	char root[DATADIR_PATH_MAX];  /* DIR as given, without a trailing '/' */
	int lock_fd;                  /* r1flowd.lock, flock'd; -1 when closed */
};

/* Create and lock DIR. On failure nothing is held. */
int datadir_open(struct datadir *d, const char *root, struct err *err);

/* Release the lock (the directory stays). Safe twice, and after a failed open. */
void datadir_close(struct datadir *d);

/* "DIR/name" into out; -1 if it does not fit. */
int datadir_path(const struct datadir *d, const char *name, char *out, size_t size,
	struct err *err);

/* "ipc://DIR/name" into out; -1 if the path is too long for a unix socket. */
int datadir_endpoint(const struct datadir *d, const char *name, char *out, size_t size,
	struct err *err);

#endif
