/*
 * selfpipe — signals turned into bytes on a pipe, for a poll loop (the self-pipe
 * trick): the handler only write()s the signal number, which is async-signal-safe,
 * and the loop polls the read end and acts on what it reads, outside the handler.
 *
 *   int fd = selfpipe_open((const int[]){ SIGTERM, SIGINT, 0 }, err);
 *   poll fd for input, then read(fd, buf, sizeof buf): one byte per signal
 *
 * Both ends are non-blocking and close-on-exec; SIGPIPE and SIGXFSZ are ignored as
 * well (a write to a closed socket or pipe, or past a file-size limit, is an error
 * return, not a death). One pipe per
 * process: a second open is a bug. Handlers use SA_RESTART.
 */
#ifndef R1_SELFPIPE_H
#define R1_SELFPIPE_H

#include "err.h"

/* Install the handler for each signal of the 0-terminated list: the pipe's read end,
 * or -1 with err filled. */
int selfpipe_open(const int *signals, struct err *err);

#endif
