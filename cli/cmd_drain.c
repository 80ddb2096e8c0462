/*
 * r1flow drain — ask the daemon to stop giving a worker jobs; the worker finishes
 * the jobs it holds and leaves (its process exits).
 */
#include <stdio.h>

#include "cli.h"
#include "client.h"
#include "utf8.h"

int cmd_drain(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	bool json = false;
	const struct opt opts[] = {
		CLIENT_OPTS(&addr),
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print the daemon's {\"worker\": \"...\", \"state\": \"...\"} as JSON", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "drain", .args = "WORKER", .min_args = 1, .max_args = 1, .opts = opts,
		.about = "Drain the worker named WORKER (see 'r1flow workers'): it gets no new jobs,\n"
			 "finishes the ones it holds, then disconnects. Use it before taking a machine\n"
			 "away; nothing is lost or run twice.\n\n"
			 "example: r1flow drain gpu-node-3\n\n"
			 "exit status: 0 draining, 1 no such live worker or no daemon, 2 usage error",
	};
	int first;
	int rc = cli_parse(&verb, argc, argv, &first);
	if (rc != CLI_CONTINUE)
		return rc;
	const char *name = argv[first];
	if (!name[0])
		return cli_usage_error("drain", "WORKER is empty");
	json_t *r = client_ask("drain", &addr, json_pack("{ss so}", "op", "drain", "worker",
		utf8_jstring(name)));
	if (!r)
		return CLI_EXIT_FAIL;
	rc = CLI_EXIT_OK;
	if (json) {
		rc = client_print_json("drain", r);
	} else {
		const char *state = json_string_value(json_object_get(r, "state"));
		printf("worker %s: %s\n", name, state ? state : "?");
	}
	json_decref(r);
	return rc;
}
