/*
 * rewardext — the rewards that run outside the worker's own code: `program` (a
 * user's reward program, rewardproc.h) and `code` (rewardcode.h), for reward jobs
 * (job_reward.c) and `r1flow reward test`.
 *
 * A component's params (beside name, fn, weight; docs/protocol.md "reward"):
 *   program     program: ["CMD", "ARG", ...] (1..64 non-empty texts),
 *               file_blobs: {"REL/PATH": sha256, ...} (optional: the files pinned at
 *               submit), timeout_ms (1..600000, default 2000: per reply),
 *               start_timeout_ms (0..600000, default 10000: added for the first reply
 *               after a start), memory_mb (16..1048576, default 1024), cpu_s
 *               (1..86400, default 600: CPU seconds over the process's whole life)
 *   code        mode: "fraction" | "all" (default fraction), timeout_ms (per test,
 *               default 2000), memory_mb
 * Other keys (the spec's `files`, local paths) are ignored.
 *
 * Programs. The worker keeps one process per distinct (name, program, file_blobs,
 * limits), at most REWARDEXT_PROCS (the least recently used one goes). Its files are
 * copied from the blob cache (job_blob_path) into a fresh directory
 * $TMPDIR/r1flow-reward-XXXXXX (mode 0755, subdirectories as the names say), its
 * working directory, removed with the process. A program's item components are
 * reported as "NAME.COMPONENT" (reward 'mine' replying {"components": {"len": 1}}
 * gives "mine.len"), weight 0: they explain, the reward counts.
 *
 *   rewardext_is          1 if fn is one of these kinds
 *   rewardext_check       the params above, at job start: errors "<key>: ..."
 *   rewardext_score       one item: *value and, into `components`, the extra ones
 *   rewardext_clear       stop every program and remove its directory (exit, tests)
 *
 * Compute thread only (the table has no lock).
 */
#ifndef R1_REWARDEXT_H
#define R1_REWARDEXT_H

#include <jansson.h>

#include "err.h"
#include "job.h"
#include "rewards.h"

#define REWARDEXT_PROCS 8

int rewardext_is(enum rewards_kind kind);
int rewardext_check(const json_t *component, struct err *err);

/* record: the item's record object or NULL. Errors name the reward, not the item. */
int rewardext_score(const struct job *job, const json_t *component,
	const struct rewards_input *in, const json_t *record, double *value, json_t *components,
	struct err *err);

void rewardext_clear(void);

/* Starts of the program of reward `name` (tests: restarts after a crash); 0 if none. */
int rewardext_starts(const char *name);

#endif
