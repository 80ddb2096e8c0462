/* sandbox — run a reward program with limits and namespaces; see sandbox.h. */
#define _GNU_SOURCE
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define SANDBOX_MAX_ARGS 64

void sandbox_limits_default(struct sandbox_limits *l)
{
	l->cpu_s = 600;
	l->memory_mb = 1024;
	l->nofile = 64;
	l->fsize_mb = 16;
}

void sandbox_ring_add(struct sandbox_ring *r, const char *p, size_t n)
{
	if (n > SANDBOX_TAIL) {
		r->total += n - SANDBOX_TAIL;
		p += n - SANDBOX_TAIL;
		n = SANDBOX_TAIL;
	}
	for (size_t i = 0; i < n; i++)
		r->buf[(r->total + i) % SANDBOX_TAIL] = p[i];
	r->total += n;
}

const char *sandbox_ring_line(const struct sandbox_ring *r, char *buf, size_t cap)
{
	size_t kept = r->total < SANDBOX_TAIL ? r->total : SANDBOX_TAIL, o = 0;
	size_t start = r->total - kept;
	if (cap == 0)
		return buf;
	/* the line form of every kept byte, then its last cap - 1 bytes */
	char *tmp = malloc(kept * 3 + 1);
	if (!tmp) {
		buf[0] = '\0';
		return buf;
	}
	for (size_t i = 0; i < kept; i++) {
		unsigned char c = (unsigned char)r->buf[(start + i) % SANDBOX_TAIL];
		if (c == '\n') {
			if (o > 0 && tmp[o - 1] != ' ')
				tmp[o++] = ' ';
			if (o > 0) {
				tmp[o++] = '|';
				tmp[o++] = ' ';
			}
		} else {
			tmp[o++] = c < 0x20 || c == 0x7f ? (c == '\t' || c == '\r' ? ' ' : '?') : (char)c;
		}
	}
	while (o > 0 && (tmp[o - 1] == ' ' || tmp[o - 1] == '|'))
		o--;
	size_t from = o + 1 > cap ? o + 1 - cap : 0;
	while (from < o && ((unsigned char)tmp[from] & 0xc0) == 0x80) /* not mid-character */
		from++;
	while (from < o && tmp[from] == ' ')
		from++;
	memcpy(buf, tmp + from, o - from);
	buf[o - from] = '\0';
	free(tmp);
	return buf;
}

const char *sandbox_status_text(int status, char *buf, size_t cap)
{
	if (WIFEXITED(status))
		snprintf(buf, cap, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, cap, "killed by signal %d (%s)", WTERMSIG(status),
			strsignal(WTERMSIG(status)));
	else
		snprintf(buf, cap, "ended with wait status %d", status);
	return buf;
}

static int sandbox_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
		fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ? -1 : 0;
}

static void sandbox_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void sandbox_child(const char *const *argv, const char *dir, const struct sandbox_limits *l,
	int in, int out, int errfd)
{
	sigset_t none;
	struct rlimit r;
	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
		_exit(127);
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3u, ~0u, 0u) < 0)
#endif
		for (int fd = 3; fd < 65536; fd++)
			close(fd);
	if (chdir(dir) < 0) {
		static const char m[] = SANDBOX_EXEC_FAILED "the program: cannot enter its directory\n";
		if (write(2, m, sizeof m - 1) < 0)
			_exit(127);
		_exit(127);
	}
	r.rlim_cur = r.rlim_max = (rlim_t)l->cpu_s;
	setrlimit(RLIMIT_CPU, &r);
	r.rlim_cur = r.rlim_max = (rlim_t)l->memory_mb << 20;
	setrlimit(RLIMIT_AS, &r);
	r.rlim_cur = r.rlim_max = (rlim_t)l->nofile;
	setrlimit(RLIMIT_NOFILE, &r);
	r.rlim_cur = r.rlim_max = (rlim_t)l->fsize_mb << 20;
	setrlimit(RLIMIT_FSIZE, &r);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	execvp(argv[0], (char *const *)argv);
	{
		static const char m[] = SANDBOX_EXEC_FAILED "the program: ";
		const char *why = strerror(errno);
		if (write(2, m, sizeof m - 1) < 0 || write(2, argv[0], strlen(argv[0])) < 0 ||
			write(2, ": ", 2) < 0 || write(2, why, strlen(why)) < 0 || write(2, "\n", 1) < 0)
			_exit(127);
	}
	_exit(127);
}

static int sandbox_spawn_as(const char *const *argv, const char *dir,
	const struct sandbox_limits *l, int isolate, struct sandbox_child *c, struct err *err)
{
	const char *full[SANDBOX_MAX_ARGS + 24];
	int p[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
	size_t n = 0, k;
	c->pid = -1;
	c->in = c->out = c->err = -1;
	for (k = 0; argv[k]; k++)
		;
	if (k == 0 || k > SANDBOX_MAX_ARGS)
		return err_set(err, ERR_INVALID, "cannot start a program of %zu arguments: 1 to %d",
			k, SANDBOX_MAX_ARGS);
	if (isolate) {
		static const char *const pre[] = { "bwrap", "--unshare-all", "--die-with-parent",
			"--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp" };
		for (size_t i = 0; i < sizeof pre / sizeof *pre; i++)
			full[n++] = pre[i];
		if (strcmp(dir, "/")) { /* binding / again would hide /dev, /proc and /tmp */
			full[n++] = "--ro-bind";
			full[n++] = dir;
			full[n++] = dir;
		}
		full[n++] = "--chdir";
		full[n++] = dir;
		full[n++] = "--";
	}
	for (size_t i = 0; i < k; i++)
		full[n++] = argv[i];
	full[n] = NULL;
	/* a write to a program that died must fail with EPIPE, not end the worker */
	struct sigaction old;
	if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < 3; i++)
		if (pipe2(p[i], O_CLOEXEC) < 0) {
			err_sys(err, errno, "cannot start '%s': pipe", argv[0]);
			goto fail;
		}
	pid_t pid = fork();
	if (pid < 0) {
		err_sys(err, errno, "cannot start '%s': fork", argv[0]);
		goto fail;
	}
	if (pid == 0)
		sandbox_child(full, dir, l, p[0][0], p[1][1], p[2][1]);
	setpgid(pid, pid); /* also here: sandbox_kill may come before the child ran */
	close(p[0][0]);
	close(p[1][1]);
	close(p[2][1]);
	c->pid = pid;
	c->in = p[0][1];
	c->out = p[1][0];
	c->err = p[2][0];
	if (sandbox_nonblock(c->in) < 0 || sandbox_nonblock(c->out) < 0 ||
		sandbox_nonblock(c->err) < 0) {
		int e = errno;
		sandbox_kill(c, NULL);
		return err_sys(err, e, "cannot start '%s': fcntl", argv[0]);
	}
	return 0;
fail:
	for (int i = 0; i < 3; i++) {
		sandbox_close(&p[i][0]);
		sandbox_close(&p[i][1]);
	}
	return -1;
}

int sandbox_exited(struct sandbox_child *c, int *status)
{
	int st;
	if (c->pid < 0)
		return 1;
	pid_t w = waitpid(c->pid, &st, WNOHANG);
	if (w == 0)
		return 0;
	if (status)
		*status = w == c->pid ? st : 0;
	kill(-c->pid, SIGKILL); /* whatever it left in its group */
	c->pid = -1;
	return 1;
}

void sandbox_kill(struct sandbox_child *c, int *status)
{
	int st = 0;
	if (c->pid > 0) {
		kill(-c->pid, SIGKILL);
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
			;
		c->pid = -1;
		if (status)
			*status = st;
	}
	sandbox_close(&c->in);
	sandbox_close(&c->out);
	sandbox_close(&c->err);
}

static int sandbox_run_as(const char *const *argv, const char *dir,
	const struct sandbox_limits *l, int isolate, const char *input, size_t input_len,
	int timeout_ms, size_t out_cap, struct sandbox_result *r, struct err *err);

static int isolated = -1;

int sandbox_isolated(void)
{
	if (isolated >= 0)
		return isolated;
	const char *env = getenv("R1FLOW_SANDBOX");
	if (env && !strcmp(env, "rlimits")) {
		log_warn("R1FLOW_SANDBOX=rlimits: reward programs run with resource limits only "
			"(no bwrap namespaces)");
		return isolated = 0;
	}
	/* Probe: the same bwrap flags on /bin/true. */
	static const char *const argv[] = { "true", NULL };
	struct sandbox_limits l;
	struct sandbox_result r;
	struct err e = { 0 };
	sandbox_limits_default(&l);
	int rc = sandbox_run_as(argv, "/", &l, 1, "", 0, 10000, 0, &r, &e);
	char why[sizeof e.msg + 256], st[64];
	if (rc < 0)
		snprintf(why, sizeof why, "%s", e.msg);
	else if (r.timed_out)
		snprintf(why, sizeof why, "bwrap did not finish in 10 s");
	else if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
		snprintf(why, sizeof why, "bwrap %s: %s", sandbox_status_text(r.status, st, sizeof st),
			sandbox_ring_line(&r.tail, (char[200]){ 0 }, 200));
	else
		why[0] = '\0';
	if (rc == 0)
		sandbox_result_free(&r);
	isolated = why[0] == '\0';
	if (!isolated)
		log_warn("reward programs run with resource limits only, not in bwrap's namespaces "
			"(network and file writes are not blocked): %s", why);
	return isolated;
}

int sandbox_spawn(const char *const *argv, const char *dir, const struct sandbox_limits *l,
	struct sandbox_child *c, struct err *err)
{
	return sandbox_spawn_as(argv, dir, l, sandbox_isolated(), c, err);
}

void sandbox_result_free(struct sandbox_result *r)
{
	free(r->out);
	r->out = NULL;
}

static int sandbox_run_as(const char *const *argv, const char *dir,
	const struct sandbox_limits *l, int isolate, const char *input, size_t input_len,
	int timeout_ms, size_t out_cap, struct sandbox_result *r, struct err *err)
{
	struct sandbox_child c;
	char buf[65536];
	size_t sent = 0;
	memset(r, 0, sizeof *r);
	if (!(r->out = malloc(out_cap + 1)))
		return err_set(err, ERR_NOMEM, "cannot run '%s': out of memory", argv[0]);
	r->out[0] = '\0';
	if (sandbox_spawn_as(argv, dir, l, isolate, &c, err) < 0) {
		sandbox_result_free(r);
		return -1;
	}
	if (input_len == 0)
		sandbox_close(&c.in);
	int64_t deadline = clock_mono_ms() + timeout_ms;
	while (c.out >= 0 || c.err >= 0) {
		struct pollfd pf[3];
		int n = 0, left = (int)(deadline - clock_mono_ms());
		if (left <= 0) {
			r->timed_out = 1;
			break;
		}
		if (c.in >= 0)
			pf[n++] = (struct pollfd){ c.in, POLLOUT, 0 };
		if (c.out >= 0)
			pf[n++] = (struct pollfd){ c.out, POLLIN, 0 };
		if (c.err >= 0)
			pf[n++] = (struct pollfd){ c.err, POLLIN, 0 };
		if (poll(pf, (nfds_t)n, left) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			if (!pf[i].revents)
				continue;
			if (pf[i].fd == c.in) {
				ssize_t w = write(c.in, input + sent, input_len - sent);
				if (w > 0)
					sent += (size_t)w;
				if ((w < 0 && errno != EAGAIN && errno != EINTR) || sent == input_len)
					sandbox_close(&c.in); /* EPIPE: it stopped reading */
				continue;
			}
			ssize_t got = read(pf[i].fd, buf, sizeof buf);
			if (got < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (got <= 0) {
				sandbox_close(pf[i].fd == c.out ? &c.out : &c.err);
				continue;
			}
			if (pf[i].fd == c.err) {
				sandbox_ring_add(&r->tail, buf, (size_t)got);
			} else {
				size_t room = out_cap - r->out_len;
				size_t keep = room < (size_t)got ? room : (size_t)got;
				memcpy(r->out + r->out_len, buf, keep);
				r->out_len += keep;
				r->out[r->out_len] = '\0';
				r->out_cut |= keep < (size_t)got;
			}
		}
	}
	/* Both pipes closed: the program is ending; give it until the deadline. */
	while (!r->timed_out && !sandbox_exited(&c, &r->status)) {
		if (clock_mono_ms() >= deadline) {
			r->timed_out = 1;
			break;
		}
		usleep(1000);
	}
	sandbox_kill(&c, r->timed_out ? &r->status : NULL);
	return 0;
}

int sandbox_run(const char *const *argv, const char *dir, const struct sandbox_limits *l,
	const char *input, size_t input_len, int timeout_ms, size_t out_cap,
	struct sandbox_result *r, struct err *err)
{
	return sandbox_run_as(argv, dir, l, sandbox_isolated(), input, input_len, timeout_ms,
		out_cap, r, err);
}

void sandbox_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	while (d && (e = readdir(d))) {
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
			continue;
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			sandbox_rmtree(path);
		else
			unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}
