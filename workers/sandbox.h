/*
 * sandbox — run a reward program (docs/rewards.md, "Reward programs") as a child
 * process the worker can always stop: its own process group, resource limits, no
 * new privileges and, where the machine allows, Linux namespaces through
 * bubblewrap (`bwrap`).
 *
 * What a child gets, always:
 *   - its own process group (setpgid), so sandbox_kill's SIGKILL reaches everything
 *     it started; SIGKILL too when the thread that started it exits
 *     (PR_SET_PDEATHSIG), so a worker that dies leaves no reward program behind;
 *   - RLIMIT_CPU (cpu_s), RLIMIT_AS (memory_mb), RLIMIT_NOFILE (nofile), RLIMIT_FSIZE
 *     (fsize_mb) and PR_SET_NO_NEW_PRIVS (setuid binaries do not raise privileges);
 *   - stdin, stdout and stderr as pipes (the parent's ends nonblocking and
 *     close-on-exec), no other descriptor of the worker, SIGPIPE at its default,
 *     the worker's environment, `dir` as its working directory.
 * And when bwrap can create namespaces (sandbox_isolated: probed once, with one
 * warning when it cannot), the program runs under
 *     bwrap --unshare-all --die-with-parent --ro-bind / / --dev /dev --proc /proc
 *           --tmpfs /tmp --ro-bind DIR DIR --chdir DIR -- ARGV...
 * that is: no network (only a loopback of its own), no view of the worker's
 * processes, every file read-only but a private empty /tmp, and its own files
 * (DIR) read-only at the same path. R1FLOW_SANDBOX=rlimits in the worker's
 * environment skips bwrap (limits only).
 *
 * A program that cannot be started (no such command) exits with status 127 and
 * SANDBOX_EXEC_FAILED at the start of its stderr.
 *
 * sandbox_run runs one program to completion with an input and a time limit and
 * keeps at most out_cap bytes of its stdout and the last SANDBOX_TAIL bytes of its
 * stderr (the `code` reward). The long-lived JSON-lines programs are rewardproc.h.
 *
 * The first spawn sets SIGPIPE to ignored in the worker if it was at its default, so
 * a write to a program that died fails with EPIPE instead of ending the worker.
 *
 * Any thread; sandbox_isolated's probe is made once (the first call) and is not
 * locked: workers call it from their compute thread only.
 */
#ifndef R1_SANDBOX_H
#define R1_SANDBOX_H

#include <stddef.h>
#include <sys/types.h>

#include "err.h"

#define SANDBOX_TAIL 2048                 /* bytes of stderr kept */
#define SANDBOX_EXEC_FAILED "sandbox: cannot run "

struct sandbox_limits {
	int cpu_s;          /* RLIMIT_CPU, seconds */
	int memory_mb;      /* RLIMIT_AS */
	int nofile;         /* RLIMIT_NOFILE */
	int fsize_mb;       /* RLIMIT_FSIZE */
};

struct sandbox_child {
	pid_t pid;          /* -1: none */
	int in, out, err;   /* the parent's ends, nonblocking; -1 when closed */
};

/* The last SANDBOX_TAIL bytes written to it. */
struct sandbox_ring {
	char buf[SANDBOX_TAIL];
	size_t total;       /* bytes ever added */
};

struct sandbox_result {
	char *out;          /* stdout, malloc'd, NUL-terminated, at most out_cap bytes */
	size_t out_len;
	int out_cut;        /* stdout was longer than out_cap (the rest was read and dropped) */
	int timed_out;      /* killed at the time limit */
	int status;         /* waitpid status */
	struct sandbox_ring tail; /* stderr */
};

void sandbox_limits_default(struct sandbox_limits *l);

/* 1 if programs run under bwrap's namespaces, 0 if under limits alone. */
int sandbox_isolated(void);

/* Start argv[0] (looked up in PATH) in dir. */
int sandbox_spawn(const char *const *argv, const char *dir, const struct sandbox_limits *l,
	struct sandbox_child *c, struct err *err);

/* SIGKILL the child's process group, reap the child, close the pipes; *status (may
 * be NULL) gets its waitpid status. A child that already exited keeps its status. */
void sandbox_kill(struct sandbox_child *c, int *status);

/* Reap a child that has exited: 1 and *status if it has, 0 if it still runs. */
int sandbox_exited(struct sandbox_child *c, int *status);

/* Run argv in dir with input on stdin for at most timeout_ms. -1 only when it could
 * not be started (pipes, fork); a timeout or a failure of the program is a result. */
int sandbox_run(const char *const *argv, const char *dir, const struct sandbox_limits *l,
	const char *input, size_t input_len, int timeout_ms, size_t out_cap,
	struct sandbox_result *r, struct err *err);
void sandbox_result_free(struct sandbox_result *r);

void sandbox_ring_add(struct sandbox_ring *r, const char *p, size_t n);
/* The kept bytes, oldest first, as one line: line breaks become " | ", other control
 * bytes '?', leading and trailing space trimmed; at most the last `cap` - 1 bytes. */
const char *sandbox_ring_line(const struct sandbox_ring *r, char *buf, size_t cap);

/* "exited with status 3", "killed by signal 9 (Killed)" of a waitpid status. */
const char *sandbox_status_text(int status, char *buf, size_t cap);

/* Remove dir and everything under it (best effort). */
void sandbox_rmtree(const char *dir);

#endif
