/*
 * r1flow workers — the live workers: name, host, pid, state, slots, jobs in hand,
 * job kinds, how long silent, how long connected, and why any is quarantined;
 * --release NAME ends a worker's quarantine.
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
	json_array_foreach(list, i, w) {
		const char *why = json_string_value(json_object_get(w, "quarantined"));
		if (why)
			printf("%s is quarantined: %s\n  (release it with 'r1flow workers --release %s')\n",
				json_string_value(json_object_get(w, "name")), why,
				json_string_value(json_object_get(w, "name")));
	}
}

int cmd_workers(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	bool json = false;
	const char *release = NULL;
	const struct opt opts[] = {
		CLIENT_OPTS(&addr),
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print the daemon's {\"workers\": [...]} as JSON", NULL },
		{ "release", OPT_STRING, &release, "NAME", 0, 0, 0,
		  "end the quarantine of worker NAME (it gets jobs again) instead of listing", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "workers", .opts = opts,
		.about = "List the workers connected to the daemon: name, host, pid, state (ready,\n"
			 "draining or quarantined), job slots, jobs in hand, time since it was last\n"
			 "heard, time connected and the job kinds it runs.\n\n"
			 "A worker is quarantined (it gets no more jobs) after 3 strikes: results the\n"
			 "daemon refused as not answering their job, or jobs it lost. The list says\n"
			 "why. --release NAME, or restarting the worker, lets it work again.\n\n"
			 "example: r1flow workers --data /srv/r1flow\n"
			 "         r1flow workers --release gpu-node-3\n\n"
			 "exit status: 0 listed or released, 1 no daemon or no such worker,\n"
			 "2 usage error",
	};
	int rc = cli_parse(&verb, argc, argv, NULL);
	if (rc != CLI_CONTINUE)
		return rc;
	if (release && !*release)
		return cli_usage_error("workers", "--release NAME is empty");
	json_t *r = release ? client_ask("workers", &addr, json_pack("{ss ss}", "op", "release",
		"worker", release)) : client_ask("workers", &addr, json_pack("{ss}", "op", "workers"));
	if (!r)
		return CLI_EXIT_FAIL;
	rc = CLI_EXIT_OK;
	if (release && json)
		rc = client_print_json("workers", r);
	else if (release)
		printf("worker %s: released\n", release);
	else if (json)
		rc = client_print_json("workers", r);
	else
		workers_print(json_object_get(r, "workers"));
	json_decref(r);
	return rc;
}
