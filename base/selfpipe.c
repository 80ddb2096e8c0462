#include "selfpipe.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int selfpipe[2] = { -1, -1 };

/* Async-signal-safe: one byte per signal; a full pipe drops it (the loop will wake for
 * the ones already in it). */
static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	ssize_t n = write(selfpipe[1], &b, 1);
	(void)n;
	errno = saved;
}

int selfpipe_open(const int *signals, struct err *err)
{
	assert(selfpipe[0] < 0);
	if (pipe(selfpipe) < 0)
		return err_set(err, ERR_IO, "cannot create signal pipe: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		fcntl(selfpipe[i], F_SETFL, fcntl(selfpipe[i], F_GETFL) | O_NONBLOCK);
		fcntl(selfpipe[i], F_SETFD, FD_CLOEXEC);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (const int *s = signals; *s; s++)
		if (sigaction(*s, &sa, NULL) < 0)
			return err_set(err, ERR_IO, "cannot install signal handlers: %s",
				strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	/* a file-size limit (ulimit -f) makes write fail with EFBIG, handled like a full
	 * disk (err.h), instead of killing the process */
	signal(SIGXFSZ, SIG_IGN);
	return selfpipe[0];
}
