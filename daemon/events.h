/*
 * events — what happened, for people and tools watching the daemon.
 *
 * An event is a type ("worker_joined", "job_failed", ...) and a JSON object of
 * details. `events_emit` appends it to the store's events table in the current
 * turn's transaction and queues an EVENT for the PUB socket (events.sock), so
 * subscribers hear of it only once it is committed. The topic (the PUB envelope) is
 * the pipeline id in decimal, or "" for daemon-wide events.
 *
 * EVENT header: {type, pipeline?, ...details}; the details are merged into the
 * header (unlisted fields are allowed by proto.h).
 *
 * Daemon-wide types: daemon_started {pid}, daemon_stopping {}, daemon_resumed {after}
 * (space is back after a full disk stalled it), worker_joined {worker,
 * name}, worker_left {worker, name, requeued}, worker_lost {worker, name, reason,
 * requeued, failed}, jobs_enqueued {kind, n, first, last}, job_failed {job, error}.
 * Pipeline types (scheduler.c; header also carries `pipeline`, the row its `stage`):
 * pipeline_submitted {name}, pipeline_started, pipeline_paused {error?: set when a
 * full disk paused it}, pipeline_resumed,
 * pipeline_retried, pipeline_succeeded, pipeline_failed {error}, pipeline_cancelled,
 * stage_started {stage, kind, total}, stage_succeeded {stage}, stage_failed {stage,
 * error}, stage_cancelled {stage}, stage_paused {stage}.
 */
#ifndef R1_EVENTS_H
#define R1_EVENTS_H

#include <jansson.h>
#include <stdint.h>

struct daemon;

/* Record and queue an event. Takes the reference to `details` (NULL: {}). A store
 * failure is logged, not returned: an event is never worth failing the turn. */
void events_emit(struct daemon *d, const char *type, json_t *details);

/* The same for a pipeline (and one of its stages, or 0): topic = the pipeline id. */
void events_emit_for(struct daemon *d, int64_t pipeline, int64_t stage, const char *type,
	json_t *details);

#endif
