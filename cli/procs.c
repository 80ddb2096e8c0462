/*
 * procs.c — find, start, stop and reap the daemon and worker children. See procs.h.
 */
#include "procs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

static bool executable_file(const char *path)
{
	return access(path, X_OK) == 0;
}

int procs_find(const char *name, const char *env, const char *build_rel, char *out,
	size_t size, struct err *err)
{
	const char *e = env ? getenv(env) : NULL;
	if (e && e[0]) {
		if (!executable_file(e))
			return err_set(err, ERR_NOTFOUND, "$%s is '%s', which is not an executable "
				"file", env, e);
		snprintf(out, size, "%s", e);
		return 0;
	}
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if ((size_t)snprintf(out, size, "%s/%s", self, name) < size && executable_file(out))
				return 0;
			if (build_rel && (size_t)snprintf(out, size, "%s/%s", self, build_rel) < size &&
				executable_file(out))
				return 0;
		}
	}
	const char *path = getenv("PATH");
	while (path && *path) {
		const char *colon = strchr(path, ':');
		size_t len = colon ? (size_t)(colon - path) : strlen(path);
		if (len > 0 && (size_t)snprintf(out, size, "%.*s/%s", (int)len, path, name) < size &&
			executable_file(out))
			return 0;
		path = colon ? colon + 1 : NULL;
	}
	return err_set(err, ERR_NOTFOUND, "cannot find '%s': not next to r1flow, not in the "
		"build tree and not on PATH (set $%s to its path)", name, env ? env : "PATH");
}

/* In the child, after fork: set up and exec, or write why not to the log and exit.
 * Only async-signal-safe calls: the parent may have threads (a ZeroMQ context). */
static void child_exec(pid_t pgid, pid_t parent, char *const argv[], const char *log)
{
	setpgid(0, pgid);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);  /* r1flow already died between fork and prctl */
	/* exec keeps ignored signals ignored and the mask as it is */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT };
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		signal(sigs[i], SIG_DFL);
	int in = open("/dev/null", O_RDONLY);
	int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (in < 0 || out < 0)
		_exit(126);
	dup2(in, 0);
	dup2(out, 1);
	dup2(out, 2);
	if (in > 2)
		close(in);
	if (out > 2)
		close(out);
	execv(argv[0], argv);
	/* only async-signal-safe calls between fork and exec (see procs.h) */
	const char *parts[] = { "r1flow: cannot execute '", argv[0], "'\n" };
	for (size_t i = 0; i < 3; i++) {
		ssize_t w = write(2, parts[i], strlen(parts[i]));
		(void)w;
	}
	_exit(127);
}

int procs_spawn(struct procs *p, const char *name, char *const argv[], const char *log,
	struct err *err)
{
	if (p->n == PROCS_MAX)
		return err_set(err, ERR_INVALID, "cannot start '%s': at most %d processes", name,
			PROCS_MAX);
	fflush(NULL);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		return err_set(err, ERR_IO, "cannot start '%s': fork: %s", name, strerror(errno));
	if (pid == 0)
		child_exec(p->pgid, parent, argv, log);
	/* both sides set the group, so it is right whichever runs first */
	setpgid(pid, p->pgid ? p->pgid : pid);
	if (!p->pgid)
		p->pgid = pid;
	struct proc *c = &p->list[p->n++];
	memset(c, 0, sizeof *c);
	c->pid = pid;
	c->running = true;
	snprintf(c->name, sizeof c->name, "%s", name);
	snprintf(c->log, sizeof c->log, "%s", log);
	return 0;
}

struct proc *procs_reap(struct procs *p)
{
	struct proc *first = NULL;
	for (size_t i = 0; i < p->n; i++) {
		struct proc *c = &p->list[i];
		if (!c->running)
			continue;
		pid_t r = waitpid(c->pid, &c->status, WNOHANG);
		if (r == c->pid || (r < 0 && errno == ECHILD)) {
			c->running = false;
			if (!first)
				first = c;
		}
	}
	return first;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

void procs_stop(struct procs *p, size_t from, size_t to, int grace_ms)
{
	if (to > p->n)
		to = p->n;
	for (size_t i = from; i < to; i++)
		if (p->list[i].running)
			kill(p->list[i].pid, SIGTERM);
	int64_t t0 = clock_mono_ms();
	for (;;) {
		bool any = false;
		for (size_t i = from; i < to; i++) {
			struct proc *c = &p->list[i];
			if (!c->running)
				continue;
			pid_t r = waitpid(c->pid, &c->status, WNOHANG);
			if (r == c->pid || (r < 0 && errno == ECHILD))
				c->running = false;
			else
				any = true;
		}
		if (!any)
			return;
		if (clock_mono_ms() - t0 >= grace_ms)
			break;
		sleep_ms(20);
	}
	for (size_t i = from; i < to; i++) {
		struct proc *c = &p->list[i];
		if (!c->running)
			continue;
		kill(c->pid, SIGKILL);
		pid_t r;
		do
			r = waitpid(c->pid, &c->status, 0);
		while (r < 0 && errno == EINTR);
		c->running = false;
	}
}

void procs_describe(const struct proc *c, char *buf, size_t size)
{
	if (WIFEXITED(c->status))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(c->status));
	else if (WIFSIGNALED(c->status))
		snprintf(buf, size, "was killed by signal %d", WTERMSIG(c->status));
	else
		snprintf(buf, size, "stopped");
}
