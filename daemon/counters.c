#include "counters.h"

#include <string.h>

#include "store.h"

static const char *const names[C_COUNT] = {
	[C_RESULTS_COMMITTED] = "results_committed",
	[C_RESULTS_STALE] = "results_stale",
	[C_JOBS_ENQUEUED] = "jobs_enqueued",
	[C_JOBS_REQUEUED] = "jobs_requeued",
	[C_JOBS_RETRIED] = "jobs_retried",
	[C_JOBS_FAILED] = "jobs_failed",
	[C_JOBS_CANCELLED] = "jobs_cancelled",
	[C_WORKERS_JOINED] = "workers_joined",
	[C_WORKERS_LOST] = "workers_lost",
	[C_WORKERS_REFUSED] = "workers_refused",
	[C_MSGS_UNKNOWN_PEER] = "msgs_unknown_peer",
	[C_RESULTS_REFUSED] = "results_refused",
	[C_WORKERS_QUARANTINED] = "workers_quarantined",
	[C_MSGS_FAULT + MSG_FAULT_PROTOCOL] = "msgs_protocol",
	[C_MSGS_FAULT + MSG_FAULT_VERSION] = "msgs_version",
	[C_MSGS_FAULT + MSG_FAULT_FRAMES] = "msgs_frames",
	[C_MSGS_FAULT + MSG_FAULT_COMMAND] = "msgs_command",
	[C_MSGS_FAULT + MSG_FAULT_SIZE] = "msgs_size",
	[C_MSGS_FAULT + MSG_FAULT_DEPTH] = "msgs_depth",
	[C_MSGS_FAULT + MSG_FAULT_JSON] = "msgs_json",
	[C_MSGS_FAULT + MSG_FAULT_HEADER] = "msgs_header",
	[C_MSGS_FAULT + MSG_FAULT_FIELD] = "msgs_field",
	[C_SENDS_FAILED] = "sends_failed",
	[C_UPLOAD_PIECES] = "upload_pieces",
	[C_UPLOADS_DROPPED] = "uploads_dropped",
	[C_BLOB_BYTES_SENT] = "blob_bytes_sent",
	[C_BLOB_BYTES_RECEIVED] = "blob_bytes_received",
	[C_PEER_REDIRECTS] = "peer_redirects",
	[C_PEER_FAILURES] = "peer_failures",
};

/* The fault names above must be msg.h's; a new fault needs a row here. */
_Static_assert(MSG_FAULT_COUNT == 10, "counters.c lists every msg_fault");

const char *counters_name(enum counter c)
{
	return (unsigned)c < C_COUNT ? names[c] : NULL;
}

int counters_load(struct counters *c, struct store *s, struct err *err)
{
	memset(c, 0, sizeof *c);
	for (int i = 0; i < C_COUNT; i++)
		if (names[i] && store_counter_get(s, names[i], &c->total[i], err) < 0)
			return -1;
	return 0;
}

int counters_flush(struct counters *c, struct store *s, struct err *err)
{
	for (int i = 0; i < C_COUNT; i++) {
		if (!c->delta[i] || !names[i])
			continue;
		if (store_counter_add(s, names[i], c->delta[i], err) < 0)
			return -1;
		c->delta[i] = 0;
	}
	return 0;
}

void counters_discard(struct counters *c)
{
	for (int i = 0; i < C_COUNT; i++) {
		c->total[i] -= c->delta[i];
		c->delta[i] = 0;
	}
}
