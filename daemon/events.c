#include "events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

void events_emit(struct daemon *d, const char *type, json_t *details)
{
	events_emit_for(d, 0, 0, type, details);
}

void events_emit_for(struct daemon *d, int64_t pipeline, int64_t stage, const char *type,
	json_t *details)
{
	json_t *header = details ? details : json_object();
	struct err err = { 0 };
	char topic[24] = "";
	if (!header)
		return;
	char *text = json_dumps(header, JSON_COMPACT);
	if (!text || store_event_add(d->store, pipeline, stage, type, text, d->wall, NULL,
		&err) < 0)
		log_warn("cannot record event '%s': %s", type, text ? err.msg : "out of memory");
	free(text);
	if (json_object_set_new(header, "type", json_string(type)) < 0 || (pipeline &&
		json_object_set_new(header, "pipeline", json_integer(pipeline)) < 0)) {
		json_decref(header);
		return;
	}
	if (pipeline)
		snprintf(topic, sizeof topic, "%lld", (long long)pipeline);
	struct msg m;
	msg_init(&m, PROTO_EVENT);
	m.header = header;
	outbox_push(&d->out, d->events, topic, strlen(topic), &m);
}
