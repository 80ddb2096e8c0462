/*
 * r1flow status — one pipeline: its state, times, error, and a table of its stages
 * (name, kind, state, done/total unit, error).
 */
#include <stdio.h>

#include "cli.h"
#include "client.h"
#include "clock.h"
#include "view.h"

int cmd_status(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	bool json = false;
	const struct opt opts[] = {
		CLIENT_OPTS(&addr),
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print the daemon's {\"pipeline\", \"stages\", \"workers\"} as JSON (with the "
		  "normalised spec)", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "status", .args = "ID", .min_args = 1, .max_args = 1, .opts = opts,
		.about = "Show pipeline ID: its state, creation time, elapsed time, seed, live\n"
			 "workers and error, then one row per stage: name, kind, state, progress\n"
			 "(done/total jobs, steps or records) and the stage's error.\n\n"
			 "example: r1flow status 3\n\n"
			 "exit status: 0 shown (whatever the pipeline's state), 1 no such pipeline or\n"
			 "no daemon, 2 usage error",
	};
	int first;
	int64_t id;
	int rc = client_parse_verb_id(&verb, argc, argv, &first, &id);
	if (rc != CLI_CONTINUE)
		return rc;
	json_t *r = client_ask("status", &addr, json_pack("{ss sI}", "op", "pipeline", "id",
		(json_int_t)id));
	if (!r)
		return CLI_EXIT_FAIL;
	rc = CLI_EXIT_OK;
	if (json)
		rc = client_print_json("status", r);
	else
		view_status(stdout, r, clock_wall_ms());
	json_decref(r);
	return rc;
}
