#include "events.h"

#include <stdlib.h>

#include "daemon.h"

void events_emit(struct daemon *d, const char *type, json_t *details)
{
	json_t *header = details ? details : json_object();
	struct err err = { 0 };
	if (!header)
		return;
	char *text = json_dumps(header, JSON_COMPACT);
	if (!text || store_event_add(d->store, 0, 0, type, text, d->wall, NULL, &err) < 0)
		log_warn("cannot record event '%s': %s", type, text ? err.msg : "out of memory");
	free(text);
	if (json_object_set_new(header, "type", json_string(type)) < 0) {
		json_decref(header);
		return;
	}
	struct msg m;
	msg_init(&m, PROTO_EVENT);
	m.header = header;
	outbox_push(&d->out, d->events, "", 0, &m);
}
