/*
 * r1flow watch — follow one pipeline until it ends (view.h draws it): a live view
 * redrawn in place on a terminal, plain timestamped lines elsewhere. A daemon that
 * goes away (killed, restarted) is reconnected to for up to --reconnect-timeout
 * seconds, as the workers do (view_follow).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "view.h"

#define WATCH_RECONNECT_S 60 /* a restart, even of a daemon recovering a large store */

int cmd_watch(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	bool json = false, plain = false;
	int reconnect_s = WATCH_RECONNECT_S;
	const struct opt opts[] = {
		CLIENT_OPTS(&addr),
		{ "plain", OPT_FLAG, &plain, NULL, 0, 0, 0,
		  "timestamped lines even on a terminal", NULL },
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "show nothing while waiting; at the end print the final status as JSON", NULL },
		{ "reconnect-timeout", OPT_INT, &reconnect_s, "S", 0, 86400, 0,
		  "when the daemon goes away, try to reach it again for S seconds; 0: give up at once",
		  NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "watch", .args = "ID", .min_args = 1, .max_args = 1, .opts = opts,
		.about = "Follow pipeline ID until it succeeds, fails or is cancelled. On a terminal\n"
			 "the view is redrawn in place every 0.5 s: the pipeline's state, elapsed time\n"
			 "and live workers, and per stage a progress bar, done/total, rate, ETA, the\n"
			 "headline metric and the state. Otherwise it prints a timestamped line when\n"
			 "something changes, e.g.\n"
			 "  2026-11-29T22:41:03Z stage a running 120/200 jobs 350/s eta 0.2s\n"
			 "When the daemon stops answering (killed, restarted), a line says so and watch\n"
			 "connects again with a growing back-off, says when it has, and goes on; after\n"
			 "--reconnect-timeout seconds without a daemon it gives up (exit status 1).\n\n"
			 "example: r1flow watch $(r1flow submit pipelines/probe.yaml)\n\n"
			 "exit status: 0 the pipeline succeeded, 1 it failed or was cancelled (or no\n"
			 "such pipeline, or no daemon, or the daemon was lost for good), 2 usage error",
	};
	int first;
	int64_t id;
	int rc = client_parse_verb_id(&verb, argc, argv, &first, &id);
	if (rc != CLI_CONTINUE)
		return rc;

	struct client c;
	struct err e = { 0 };
	struct view v;
	json_t *last = NULL;
	view_init(&v, stdout, !plain && isatty(STDOUT_FILENO));
	rc = CLI_EXIT_FAIL;
	const struct view_hooks hooks = { .reconnect_s = reconnect_s };
	if (client_open(&c, &addr, &e) < 0 || view_follow(&c, id, json ? NULL : &v, &hooks, &last,
		&e) < 0) {
		cli_error("watch", "%s", e.msg);
		goto out;
	}
	const json_t *p = json_object_get(last, "pipeline");
	const char *state = json_string_value(json_object_get(p, "state"));
	if (json) {
		if (client_print_json("watch", last) != CLI_EXIT_OK)
			goto out;
	}
	rc = state && strcmp(state, "succeeded") == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	if (rc != CLI_EXIT_OK) {
		const char *error = json_string_value(json_object_get(p, "error"));
		cli_error("watch", "pipeline %lld %s%s%s", (long long)id, state ? state : "ended",
			error ? ": " : "", error ? error : "");
	}
out:
	json_decref(last);
	view_release(&v);
	client_close(&c);
	return rc;
}
