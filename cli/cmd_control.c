/*
 * r1flow cancel | pause | resume | retry — change one pipeline's course. Each is one
 * op of the daemon (pipeline_cancel, ...) that answers {id, state}; they share
 * everything but their words, so they share this file.
 */
#include <stdio.h>

#include "cli.h"
#include "client.h"

struct control_verb {
	const char *name;     /* "cancel" */
	const char *op;       /* "pipeline_cancel" */
	const char *about;    /* --help paragraph, example and exit statuses included */
};

static const struct control_verb control_verbs[] = {
	{ "cancel", "pipeline_cancel",
	  "Cancel pipeline ID: its queued and running jobs are dropped (workers are told to\n"
	  "stop them) and every stage not yet over ends as cancelled. A cancelled pipeline\n"
	  "can be started again from where it stopped with 'r1flow retry ID'.\n\n"
	  "example: r1flow cancel 3\n\n"
	  "exit status: 0 cancelled, 1 no such pipeline, already over, or no daemon,\n"
	  "2 usage error" },
	{ "pause", "pipeline_pause",
	  "Pause pipeline ID: no new jobs of it are handed out; jobs already running finish.\n"
	  "Resume it with 'r1flow resume ID'.\n\n"
	  "example: r1flow pause 3\n\n"
	  "exit status: 0 paused, 1 no such pipeline, not running, or no daemon, 2 usage\n"
	  "error" },
	{ "resume", "pipeline_resume",
	  "Resume paused pipeline ID: its stages go on from where they were.\n\n"
	  "example: r1flow resume 3\n\n"
	  "exit status: 0 resumed, 1 no such pipeline, not paused, or no daemon, 2 usage\n"
	  "error" },
	{ "retry", "pipeline_retry",
	  "Run failed (or cancelled) pipeline ID again from its failed stages, keeping the\n"
	  "stages that succeeded and their outputs.\n\n"
	  "example: r1flow retry 3\n\n"
	  "exit status: 0 restarted, 1 no such pipeline, nothing to retry, or no daemon,\n"
	  "2 usage error" },
};

static int control_run(const struct control_verb *cv, int argc, char **argv)
{
	struct client_addr addr = { 0 };
	bool json = false;
	const struct opt opts[] = {
		CLIENT_OPTS(&addr),
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print the daemon's {\"id\": N, \"state\": \"...\"} as JSON", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = cv->name, .args = "ID", .min_args = 1, .max_args = 1, .opts = opts,
		.about = cv->about,
	};
	int first;
	int64_t id;
	int rc = client_parse_verb_id(&verb, argc, argv, &first, &id);
	if (rc != CLI_CONTINUE)
		return rc;
	json_t *r = client_ask(cv->name, &addr, json_pack("{ss sI}", "op", cv->op, "id",
		(json_int_t)id));
	if (!r)
		return CLI_EXIT_FAIL;
	rc = CLI_EXIT_OK;
	if (json) {
		rc = client_print_json(cv->name, r);
	} else {
		const char *state = json_string_value(json_object_get(r, "state"));
		printf("pipeline %lld: %s\n", (long long)id, state ? state : "?");
	}
	json_decref(r);
	return rc;
}

int cmd_cancel(int argc, char **argv)
{
	return control_run(&control_verbs[0], argc, argv);
}

int cmd_pause(int argc, char **argv)
{
	return control_run(&control_verbs[1], argc, argv);
}

int cmd_resume(int argc, char **argv)
{
	return control_run(&control_verbs[2], argc, argv);
}

int cmd_retry(int argc, char **argv)
{
	return control_run(&control_verbs[3], argc, argv);
}
