/*
 * r1flow-worker — runs jobs for r1flowd (docs/architecture.md). Options in settings.c; the
 * runtime (runtime.h) does the rest.
 *
 * Exit status: 0 after a drain (SIGTERM or SIGINT: finish the jobs in hand, then
 * DISCONNECT), 1 on a runtime or startup failure (also a second signal, or a daemon
 * speaking another protocol version), 2 on a usage error.
 */
#include <signal.h>
#include <stdio.h>

#include "pool.h"
#include "rewardext.h"
#include "runtime.h"
#include "selfpipe.h"
#include "settings.h"

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

	int signal_fd = selfpipe_open((const int[]){ SIGTERM, SIGINT, 0 }, &err);
	if (signal_fd < 0) {
		fprintf(stderr, "r1flow-worker: %s\n", err.msg);
		return 1;
	}

	rc = runtime_run(&s, signal_fd, &err);
	rewardext_clear(); /* the reward programs and their directories (the compute thread is over) */
	if (rc < 0) {
		log_error("%s", err.msg);
		return 1;
	}
	return 0;
}
