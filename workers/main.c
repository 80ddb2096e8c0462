/*
 * r1flow-worker — runs jobs for r1flowd (docs/architecture.md). Options in settings.c; the
 * runtime (runtime.h) does the rest.
 *
 * Exit status: 0 after a drain (SIGTERM or SIGINT: finish the jobs in hand, then
 * DISCONNECT), 1 on a runtime or startup failure (also a second signal, or a daemon
 * speaking another protocol version), 2 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pool.h"
#include "runtime.h"
#include "settings.h"

static int signal_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	ssize_t n = write(signal_pipe[1], &b, 1);
	(void)n;
	errno = saved;
}

int main(int argc, char **argv)
{
	struct worker_settings s;
	struct err err = { 0 };
	int rc = settings_parse(&s, argc, argv, &err);
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "r1flow-worker: %s (see --help)\n", err.msg);
		return rc < 0 ? 2 : 0;
	}
	log_init("r1flow-worker", s.log_level);
	if (s.threads > 0)
		pool_set_threads(s.threads);

	if (pipe(signal_pipe) < 0) {
		fprintf(stderr, "r1flow-worker: cannot create signal pipe: %s\n", strerror(errno));
		return 1;
	}
	for (int i = 0; i < 2; i++) {
		fcntl(signal_pipe[i], F_SETFL, fcntl(signal_pipe[i], F_GETFL) | O_NONBLOCK);
		fcntl(signal_pipe[i], F_SETFD, FD_CLOEXEC);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN); /* a file-size limit is EFBIG, a full disk, not a crash */

	if (runtime_run(&s, signal_pipe[0], &err) < 0) {
		log_error("%s", err.msg);
		return 1;
	}
	return 0;
}
