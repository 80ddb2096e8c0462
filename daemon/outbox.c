#include "outbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sock.h"

void outbox_init(struct outbox *o)
{
	memset(o, 0, sizeof *o);
}

void outbox_clear(struct outbox *o)
{
	for (size_t i = 0; i < o->n; i++)
		msg_release(&o->entries[i].msg);
	o->n = 0;
}

void outbox_release(struct outbox *o)
{
	outbox_clear(o);
	free(o->entries);
	memset(o, 0, sizeof *o);
}

int outbox_push(struct outbox *o, void *sock, const void *envelope, size_t envelope_size,
	struct msg *m)
{
	if (envelope_size > PROTO_MAX_ENVELOPE)
		envelope_size = PROTO_MAX_ENVELOPE; /* never: envelopes come from the wire, checked */
	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 64;
		struct outbox_entry *e = realloc(o->entries, cap * sizeof *e);
		if (!e) {
			msg_release(m);
			return -1;
		}
		o->entries = e;
		o->cap = cap;
	}
	struct outbox_entry *e = &o->entries[o->n++];
	e->sock = sock;
	e->has_envelope = envelope != NULL;
	e->envelope_size = envelope ? envelope_size : 0;
	if (envelope_size)
		memcpy(e->envelope, envelope, envelope_size);
	e->msg = *m;
	memset(m, 0, sizeof *m);
	return 0;
}

void outbox_flush(struct outbox *o, outbox_fail_fn fail, void *arg)
{
	for (size_t i = 0; i < o->n; i++) {
		struct outbox_entry *e = &o->entries[i];
		struct msg_frame env = { e->envelope, e->envelope_size };
		struct err err = { 0 };
		if (sock_send(e->sock, e->has_envelope ? &env : NULL, &e->msg, ZMQ_DONTWAIT,
			&err) < 0 && fail)
			fail(arg, e->sock, e->envelope, e->envelope_size, errno, err.msg);
		msg_release(&e->msg);
	}
	o->n = 0;
}
