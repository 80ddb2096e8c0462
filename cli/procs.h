/*
 * procs — the processes `r1flow daemon` and `r1flow run` start: finding the r1flowd
 * and r1flow-worker binaries, starting children that cannot outlive us, stopping
 * and reaping them.
 *
 * Finding a program NAME (procs_find), first hit wins:
 *   1. the environment variable given (R1FLOWD, R1FLOW_WORKER), used as is
 *   2. NAME next to this executable (/proc/self/exe): an installed tree
 *   3. BUILD_REL relative to this executable's directory ("../daemon/r1flowd"): the
 *      meson build tree, where cli/r1flow sits next to daemon/ and workers/
 *   4. NAME on $PATH
 *
 * Children (procs_spawn): stdin from /dev/null, stdout and stderr appended to a
 * log file, all in one new process group (the first child leads it), so a Ctrl-C
 * at the terminal reaches only r1flow, which decides the order things stop in. Each
 * child asks the kernel for SIGKILL when r1flow dies (PR_SET_PDEATHSIG), so not even
 * `kill -9` of r1flow leaves one behind.
 *
 * Threads: the child of a multi-threaded fork may only make async-signal-safe
 * calls before exec, and the child does only those, so spawning while a ZeroMQ
 * context runs is fine. But PR_SET_PDEATHSIG fires when the *thread* that forked
 * exits: spawn from the main thread.
 */
#ifndef R1_PROCS_H
#define R1_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "err.h"

#define PROCS_MAX 256
#define PROCS_GRACE_MS 5000  /* SIGTERM, then SIGKILL after this long */

struct proc {
	pid_t pid;
	char name[64];     /* "r1flowd", "local-1": for messages */
	char log[4200];    /* where its output goes */
	bool running;      /* not reaped yet */
	int status;        /* waitpid status once reaped */
};

struct procs {
	pid_t pgid;               /* the group's leader; 0 before the first spawn */
	size_t n;
	struct proc list[PROCS_MAX];
};

/* The path of program `name` into out (see above); -1 and err if nowhere. */
int procs_find(const char *name, const char *env, const char *build_rel, char *out,
	size_t size, struct err *err);

/* Start argv[0] (a path) with output to `log`, named `name`; -1 and err. */
int procs_spawn(struct procs *p, const char *name, char *const argv[], const char *log,
	struct err *err);

/* Reap whatever exited, without waiting. The first child found gone since the last
 * call (or NULL) — one that exits while we rely on it is an error to report. */
struct proc *procs_reap(struct procs *p);

/* SIGTERM to children [from, to) still running, wait up to grace_ms for them, SIGKILL
 * the rest and reap them all. */
void procs_stop(struct procs *p, size_t from, size_t to, int grace_ms);

/* "exited with status 3", "was killed by signal 9" for a reaped child. */
void procs_describe(const struct proc *c, char *buf, size_t size);

#endif
