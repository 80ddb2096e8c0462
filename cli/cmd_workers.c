/*
 * r1flow workers — the live workers: name, host, pid, state, slots, jobs in hand,
 * job kinds, how long silent, how long connected.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "view.h"

static void workers_print(const json_t *list)
{
	if (json_array_size(list) == 0) {
		printf("no live workers: start one with 'r1flow-worker --data DIR'\n");
		return;
	}
	int wn = 4, wh = 4, ws = 5;
	size_t i, j;
	json_t *w, *k;
	char kinds[512];
	json_array_foreach(list, i, w) {
		const char *name = json_string_value(json_object_get(w, "name"));
		const char *host = json_string_value(json_object_get(w, "host"));
		const char *state = json_string_value(json_object_get(w, "state"));
		wn = name && (int)strlen(name) > wn ? (int)strlen(name) : wn;
		wh = host && (int)strlen(host) > wh ? (int)strlen(host) : wh;
		ws = state && (int)strlen(state) > ws ? (int)strlen(state) : ws;
	}
	printf("%-*s  %-*s  %-7s  %-*s  %5s  %4s  %-8s  %-9s  %s\n", wn, "NAME", wh, "HOST",
		"PID", ws, "STATE", "SLOTS", "JOBS", "SILENT", "CONNECTED", "KINDS");
	json_array_foreach(list, i, w) {
		const char *name = json_string_value(json_object_get(w, "name"));
		const char *host = json_string_value(json_object_get(w, "host"));
		const char *state = json_string_value(json_object_get(w, "state"));
		size_t used = 0;
		kinds[0] = '\0';
		json_array_foreach(json_object_get(w, "kinds"), j, k) {
			const char *s = json_string_value(k);
			if (s && used + strlen(s) + 2 < sizeof kinds)
				used += (size_t)snprintf(kinds + used, sizeof kinds - used, "%s%s",
					used ? "," : "", s);
		}
		char silent[32], connected[32];
		view_duration(silent, sizeof silent,
			(double)json_integer_value(json_object_get(w, "silent_ms")) / 1000.0);
		view_duration(connected, sizeof connected,
			(double)json_integer_value(json_object_get(w, "connected_ms")) / 1000.0);
		printf("%-*s  %-*s  %-7lld  %-*s  %5lld  %4zu  %-8s  %-9s  %s\n", wn,
			name ? name : "?", wh, host ? host : "?",
			(long long)json_integer_value(json_object_get(w, "pid")), ws,
			state ? state : "?", (long long)json_integer_value(json_object_get(w, "slots")),
			json_array_size(json_object_get(w, "jobs")), silent, connected, kinds);
	}
}

int cmd_workers(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	bool json = false;
	const struct cli_opt opts[] = {
		CLIENT_OPTS(&addr),
		{ "json", CLI_OPT_FLAG, &json, NULL, 0, 0, false,
		  "print the daemon's {\"workers\": [...]} as JSON", NULL },
		{ NULL, 0, NULL, NULL, 0, 0, false, NULL, NULL },
	};
	const struct cli_verb verb = {
		.name = "workers", .opts = opts,
		.about = "List the workers connected to the daemon: name, host, pid, state (ready or\n"
			 "draining), job slots, jobs in hand, time since it was last heard, time\n"
			 "connected and the job kinds it runs.\n\n"
			 "example: r1flow workers --data /srv/r1flow\n\n"
			 "exit status: 0 listed, 1 no daemon, 2 usage error",
	};
	int rc = cli_parse(&verb, argc, argv, NULL);
	if (rc != CLI_CONTINUE)
		return rc;
	json_t *r = client_ask("workers", &addr, json_pack("{ss}", "op", "workers"));
	if (!r)
		return CLI_EXIT_FAIL;
	rc = CLI_EXIT_OK;
	if (json)
		rc = client_print_json("workers", r);
	else
		workers_print(json_object_get(r, "workers"));
	json_decref(r);
	return rc;
}
