/*
 * r1flow submit — load and validate a pipeline spec here, then hand the normalised
 * spec (and the YAML text, kept with the pipeline) to the daemon, which queues it.
 */
#include <stdio.h>

#include "cli.h"
#include "client.h"

int cmd_submit(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	struct opt_list sets = { .n = 0 };
	bool json = false;
	const struct opt opts[] = {
		CLIENT_SET_OPT(&sets),
		CLIENT_OPTS(&addr),
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print {\"id\": N, \"name\": \"...\", \"existing\": false} instead of the id", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "submit", .args = "FILE", .min_args = 1, .max_args = 1, .opts = opts,
		.about = "Validate the pipeline in FILE (YAML), apply the --set overrides and submit\n"
			 "it to the daemon, which runs its stages as workers take the jobs. Prints the\n"
			 "new pipeline's id; follow it with 'r1flow watch ID'.\n\n"
			 "When the daemon does not answer in time (R1FLOW_TIMEOUT_MS, default 10000), the\n"
			 "request is sent again, up to 3 times in all: it carries a token that makes the\n"
			 "daemon run it once, whatever the number of tries.\n\n"
			 "example: r1flow submit pipelines/probe.yaml --set stages.a.jobs=50\n\n"
			 "exit status: 0 submitted, 1 invalid spec or the daemon refused (or is not\n"
			 "running), 2 usage error",
	};
	int first;
	int rc = cli_parse(&verb, argc, argv, &first);
	if (rc != CLI_CONTINUE)
		return rc;
	const char *file = argv[first];
	struct err e = { 0 };
	json_t *req = client_submit_request(file, &sets, &e);
	if (!req) {
		cli_error("submit", "%s", e.msg);
		return CLI_EXIT_FAIL;
	}
	json_t *r = client_submit("submit", &addr, req);
	if (!r)
		return CLI_EXIT_FAIL;
	rc = CLI_EXIT_OK;
	if (json) {
		rc = client_print_json("submit", r);
	} else {
		printf("%lld\n", (long long)json_integer_value(json_object_get(r, "id")));
	}
	json_decref(r);
	return rc;
}
