/*
 * view — how the CLI shows pipelines: the status table (`status`, the end of `run`),
 * the live view of `watch` and `run`, and the time and size formats they share.
 *
 * The input is always a reply of the daemon's `pipeline` op (client.h):
 *   {pipeline: {id, name, state, error, seed, created_at, started_at, finished_at,
 *    spec}, stages: [{name, kind, state, step, total, unit, progress, rate, eta_s,
 *    metric, error, ...}], workers: N}
 * Missing or mistyped fields show as "-" rather than failing: the view must not die
 * on a daemon one version apart.
 *
 * Live view (struct view), two forms:
 *   tty    every update redraws the frame in place: cursor up over the previous
 *          frame (ESC[nA), each line cleared (ESC[2K) and rewritten, cut to the
 *          terminal's width so no line wraps (a wrapped line would break the count).
 *          No curses: the terminal keeps its scrollback.
 *   plain  one timestamped line per change: the pipeline's state, or a stage's state,
 *          step, total or metric (rate and ETA alone are not a change):
 *            2026-11-29T22:41:03Z stage a running 120/200 jobs 350/s eta 0.2s
 *
 * view_follow() is the loop of `watch` and `run`: ask `pipeline` every
 * VIEW_POLL_MS, update the view, stop when the pipeline is over.
 */
#ifndef R1_VIEW_H
#define R1_VIEW_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "client.h"

#define VIEW_POLL_MS 500
#define VIEW_BAR     20     /* bar cells between the brackets */

struct view {
	FILE *out;
	bool tty;        /* redraw in place; else plain lines */
	int lines;       /* tty: lines of the frame on screen */
	json_t *seen;    /* plain: last line printed per stage name, "" for the pipeline */
};

/* "succeeded", "failed", "cancelled": the pipeline will not change any more. */
bool view_state_final(const char *state);

/* ms since the epoch as "2026-11-29T22:41:03Z" (".123" before the Z if with_ms). */
void view_time(char *buf, size_t size, int64_t ms, bool with_ms);

/* A duration in seconds as "0.2s", "41s", "3m12s", "2h05m"; "-" if negative. */
void view_duration(char *buf, size_t size, double s);

/* How long the pipeline in `p` (the reply's "pipeline" object) has been running. */
double view_elapsed(const json_t *p, int64_t now_ms);

/* The status table of a `pipeline` reply. */
void view_status(FILE *out, const json_t *reply, int64_t now_ms);

/* The eval table of a `report` reply, as `r1flow report` prints it (cmd_report.c; `run`
 * prints it at its end too). */
void report_table(const json_t *reply);

void view_init(struct view *v, FILE *out, bool tty);
void view_release(struct view *v);

/* Show the state in `reply`: redraw (tty) or print what changed (plain). */
void view_update(struct view *v, const json_t *reply, int64_t now_ms);

/* The closing line: "pipeline 3 'probe' succeeded in 2.1s", and the error if any. */
void view_finish(struct view *v, const json_t *reply, int64_t now_ms);

/* What view_follow looks at besides the pipeline; a zeroed struct (or NULL): nothing. */
struct view_hooks {
	volatile sig_atomic_t *stop;            /* set by a signal handler: give up */
	int (*check)(void *arg, struct err *err); /* each round; -1 and err: give up */
	void *arg;
	int reconnect_s;                        /* > 0: reconnect to a lost daemon (below) */
};

/*
 * Poll pipeline `id` through `c` until it is over, showing it in `v` (NULL: show
 * nothing). 0 with *last the final reply (the caller's); -1 with err on a request
 * failure, when hooks->check fails, or "interrupted" once *hooks->stop is set.
 *
 * With hooks->reconnect_s, a request that gets no answer at all (the daemon died,
 * restarts, or hangs past the timeout) is not the end: a line says the daemon was
 * lost, the connection is made again with the workers' back-off (PROTO_RECONNECT_MS
 * doubling up to PROTO_RECONNECT_MAX_MS) until the daemon answers — a line says it
 * was regained, and following goes on — or reconnect_s seconds have passed, when
 * err says so. An answer with an error (no such pipeline) ends it at once.
 */
int view_follow(struct client *c, int64_t id, struct view *v, const struct view_hooks *hooks,
	json_t **last, struct err *err);

#endif
