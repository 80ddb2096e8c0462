/*
 * rewardproc — one long-lived reward program (docs/rewards.md, "Reward programs")
 * spoken to in JSON lines on its stdin and stdout.
 *
 * Protocol. For each completion the worker writes one line, a JSON object
 *     {"prompt": str, "completion": str, "answer": str|null, "record": object|null}
 * and the program answers with one line
 *     {"reward": number, "components": {"NAME": number, ...}}
 * "components" is optional; its names are [A-Za-z0-9_-]{1,32}, at most
 * REWARDPROC_MAX_COMPONENTS; every number finite; other keys of the reply are
 * ignored. Requests go one at a time: the next one only after the reply.
 *
 * Failures, each an error naming the reward and ending with the program's stderr
 * tail: no reply within timeout_ms (plus start_ms for the first request after a
 * start: an interpreter and its imports take time; the process group is killed), the program exited
 * or closed its stdout, a reply that is not such an object, a line longer than
 * REWARDPROC_LINE_MAX (read and dropped as it comes: a flood never grows memory).
 * After any failure the process is gone; the next call starts it again, as it does
 * when the program exited between two calls. stderr is drained whenever the
 * worker reads and only its last SANDBOX_TAIL bytes are kept.
 *
 *   rewardproc_new         a handle (the program is started by the first call);
 *                          argv, dir and limits are copied
 *   rewardproc_call        one request → reward and components (a new object, the
 *                          program's names as given)
 *   rewardproc_free        kill the program, free the handle
 *   rewardproc_parse_reply check one reply line (the part tests can reach alone)
 *
 * One thread per handle.
 */
#ifndef R1_REWARDPROC_H
#define R1_REWARDPROC_H

#include <stddef.h>

#include <jansson.h>

#include "err.h"
#include "sandbox.h"

#define REWARDPROC_LINE_MAX (1u << 20)   /* bytes of one reply line, newline excluded */
#define REWARDPROC_MAX_COMPONENTS 64

struct rewardproc;

struct rewardproc *rewardproc_new(const char *name, const char *const *argv, const char *dir,
	const struct sandbox_limits *l, int start_ms);
int rewardproc_call(struct rewardproc *p, const json_t *request, int timeout_ms, double *reward,
	json_t **components, struct err *err);
void rewardproc_free(struct rewardproc *p);

/* 0 with *reward and *components (a new object, empty when the reply has none), or
 * -1 with err saying what is wrong with the line (not naming the reward). */
int rewardproc_parse_reply(const char *line, size_t len, double *reward, json_t **components,
	struct err *err);

/* How many times the program was started (tests: a restart after a crash). */
int rewardproc_starts(const struct rewardproc *p);

/* The running program's pid (its process group), or -1 (tests). */
int rewardproc_pid(const struct rewardproc *p);

#endif
