/*
 * r1flow ls — the daemon's pipelines, newest first: id, name, state, stages done,
 * when created, how long they ran, the error of a failed one.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "clock.h"
#include "view.h"

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : dflt;
}

static void ls_print(const json_t *list, int64_t now)
{
	if (json_array_size(list) == 0) {
		printf("no pipelines: submit one with 'r1flow submit FILE'\n");
		return;
	}
	int wi = 2, wn = 4, ws = 5;
	size_t i;
	json_t *p;
	char id[32];
	json_array_foreach(list, i, p) {
		int a = snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(p, "id")));
		int b = (int)strlen(str_or(p, "name", "?")), c = (int)strlen(str_or(p, "state", "?"));
		wi = a > wi ? a : wi;
		wn = b > wn ? b : wn;
		ws = c > ws ? c : ws;
	}
	printf("%-*s  %-*s  %-*s  %-6s  %-20s  %-7s  %s\n", wi, "ID", wn, "NAME", ws, "STATE",
		"STAGES", "CREATED", "ELAPSED", "ERROR");
	json_array_foreach(list, i, p) {
		char stages[32], created[64], elapsed[32];
		snprintf(stages, sizeof stages, "%lld/%lld",
			(long long)json_integer_value(json_object_get(p, "stages_succeeded")),
			(long long)json_integer_value(json_object_get(p, "stages")));
		view_time(created, sizeof created, json_integer_value(json_object_get(p, "created_at")),
			false);
		view_duration(elapsed, sizeof elapsed, view_elapsed(p, now));
		const char *error = str_or(p, "error", "");
		printf("%-*lld  %-*s  %-*s  %-6s  %-20s  %-*s%s%s\n", wi,
			(long long)json_integer_value(json_object_get(p, "id")), wn, str_or(p, "name", "?"),
			ws, str_or(p, "state", "?"), stages, created, error[0] ? 7 : 0, elapsed,
			error[0] ? "  " : "", error);
	}
}

int cmd_ls(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	bool json = false;
	const struct opt opts[] = {
		CLIENT_OPTS(&addr),
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print the daemon's {\"pipelines\": [...]} as JSON", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "ls", .opts = opts,
		.about = "List the daemon's pipelines, newest first: id, name, state, stages\n"
			 "succeeded of all, creation time (UTC), how long it ran, and the error of a\n"
			 "failed one.\n\n"
			 "example: r1flow ls --data /srv/r1flow\n\n"
			 "exit status: 0 listed, 1 no daemon or it refused, 2 usage error",
	};
	int rc = cli_parse(&verb, argc, argv, NULL);
	if (rc != CLI_CONTINUE)
		return rc;
	json_t *r = client_ask("ls", &addr, json_pack("{ss}", "op", "pipelines"));
	if (!r)
		return CLI_EXIT_FAIL;
	rc = CLI_EXIT_OK;
	if (json)
		rc = client_print_json("ls", r);
	else
		ls_print(json_object_get(r, "pipelines"), clock_wall_ms());
	json_decref(r);
	return rc;
}
