/*
 * r1flow logs — a pipeline's events (stage started, step done, metrics, errors, ...),
 * oldest first, one line each: TIME STAGE TYPE details. -f keeps polling for new
 * events every 0.5 s until the pipeline is over.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "view.h"

#define LOGS_BATCH 1000

/* One data value as text: strings bare unless they need quotes, the rest as JSON. */
static void logs_value(const json_t *v)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		if (s[0] && !strpbrk(s, " \t\n\"=")) {
			fputs(s, stdout);
			return;
		}
	}
	if (json_is_real(v)) {
		printf("%.6g", json_real_value(v));
		return;
	}
	char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	fputs(t ? t : "?", stdout);
	free(t);
}

/* "2026-11-29T22:41:03.120Z a stage_started kind=probe total=200" */
static void logs_print(const json_t *ev)
{
	char t[64];
	view_time(t, sizeof t, json_integer_value(json_object_get(ev, "ts")), true);
	const char *stage = json_string_value(json_object_get(ev, "stage"));
	const char *type = json_string_value(json_object_get(ev, "type"));
	printf("%s %s %s", t, stage ? stage : "-", type ? type : "?");
	const char *key;
	json_t *v;
	json_t *data = json_object_get(ev, "data");
	json_object_foreach(data, key, v) {
		/* nulls say nothing; the stage is already in its column */
		if (json_is_null(v) || (stage && strcmp(key, "stage") == 0 && json_is_string(v) &&
			strcmp(json_string_value(v), stage) == 0))
			continue;
		printf(" %s=", key);
		logs_value(v);
	}
	putchar('\n');
}

static void nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int cmd_logs(int argc, char **argv)
{
	struct client_addr addr = { 0 };
	bool json = false, follow = false;
	const struct opt opts[] = {
		{ "f", OPT_FLAG, &follow, NULL, 0, 0, 0,
		  "follow: print new events as they come until the pipeline ends", NULL },
		{ "follow", OPT_FLAG, &follow, NULL, 0, 0, 0, "the same as -f", NULL },
		CLIENT_OPTS(&addr),
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print {\"events\": [...], \"last\": N} as JSON (with -f: once, at the end)",
		  NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "logs", .args = "ID", .min_args = 1, .max_args = 1, .opts = opts,
		.about = "Print the events of pipeline ID, oldest first, one per line:\n"
			 "TIME (UTC) STAGE (- for the pipeline) TYPE and the event's data as key=value.\n"
			 "With -f, poll for new events every 0.5 s until the pipeline succeeds, fails\n"
			 "or is cancelled.\n\n"
			 "example: r1flow logs -f 3\n\n"
			 "exit status: 0 printed (whatever the pipeline's state), 1 no such pipeline or\n"
			 "no daemon, 2 usage error",
	};
	int first;
	int64_t id;
	int rc = client_parse_verb_id(&verb, argc, argv, &first, &id);
	if (rc != CLI_CONTINUE)
		return rc;

	struct client c;
	struct err e = { 0 };
	json_t *all = json_array(), *r = NULL;
	int64_t after = 0;
	bool ended = !follow;
	rc = CLI_EXIT_FAIL;
	if (client_open(&c, &addr, &e) < 0)
		goto fail;
	for (;;) {
		r = client_call(&c, json_pack("{ss sI sI sI}", "op", "logs", "id", (json_int_t)id,
			"after", (json_int_t)after, "limit", (json_int_t)LOGS_BATCH), &e);
		if (!r)
			goto fail;
		json_t *events = json_object_get(r, "events");
		size_t i, n = json_array_size(events);
		json_t *ev;
		json_array_foreach(events, i, ev) {
			if (json)
				json_array_append(all, ev);
			else
				logs_print(ev);
		}
		json_t *last = json_object_get(r, "last");
		if (json_is_integer(last) && json_integer_value(last) > after)
			after = json_integer_value(last);
		/* the pipeline's state as of this read, when the daemon says it */
		json_t *state = json_object_get(r, "state");
		bool told = json_is_string(state);
		bool over = told && view_state_final(json_string_value(state));
		json_decref(r);
		r = NULL;
		if (!json)
			fflush(stdout);
		if (n >= LOGS_BATCH)
			continue;           /* more are waiting */
		if (ended)
			break;              /* and this last read came after the end */
		if (!told) {
			json_t *p = client_call(&c, json_pack("{ss sI}", "op", "pipeline", "id",
				(json_int_t)id), &e);
			if (!p)
				goto fail;
			over = view_state_final(json_string_value(json_object_get(
				json_object_get(p, "pipeline"), "state")));
			json_decref(p);
		}
		/* one more read after the end: events written just before it */
		ended = over;
		if (!ended)
			nap_ms(VIEW_POLL_MS);
	}
	rc = CLI_EXIT_OK;
	if (json) {
		json_t *doc = json_pack("{sO sI}", "events", all, "last", (json_int_t)after);
		rc = doc ? client_print_json("logs", doc) : CLI_EXIT_FAIL;
		json_decref(doc);
	}
	goto out;
fail:
	cli_error("logs", "%s", e.msg);
out:
	json_decref(r);
	json_decref(all);
	client_close(&c);
	return rc;
}
