/*
 * http_int — what http.c shares with http_api.c and http_prom.c, and nothing else
 * includes: the server's state and the helpers every answer goes through.
 */
#ifndef R1_HTTP_INT_H
#define R1_HTTP_INT_H

#include <stdatomic.h>
#include <stddef.h>

#include <jansson.h>
#include <microhttpd.h>

#include "datadir.h"
#include "http.h"

#define HTTP_CALL_TIMEOUT_MS 10000   /* a control reply, as the CLI waits for one */
#define HTTP_SLICE_MS 200            /* waits are cut in slices to notice a stop */
#define HTTP_KEEPALIVE_MS 15000      /* an event stream's comment when nothing happened */
#define HTTP_MAX_CONNECTIONS 64      /* at once: one thread each */
#define HTTP_IDLE_S 120              /* a connection silent this long is closed */
#define HTTP_STOP_WAIT_MS 2000       /* at a stop, for event streams to send their last */

struct http {
	struct MHD_Daemon *mhd;
	void *zctx;                  /* the daemon's ZeroMQ context (thread-safe) */
	char token[HTTP_TOKEN_MAX + 1]; /* "" when no token file was given */
	size_t token_len;
	bool loopback;               /* bound to a loopback address */
	atomic_int stopping;         /* http_stop began: waits end, streams close */
	atomic_int streams;          /* event streams not yet freed */
	char addr_file[DATADIR_PATH_MAX]; /* DIR/http.addr, "" until written */
};

/* The headers every answer carries: CSP, nosniff, no framing, no referrer, and the
 * token's cookie for a request that came with ?token=. */
void http_headers(struct MHD_Response *r, struct MHD_Connection *c);

/* Queue `body` (taken over, malloc'd; NULL with len 0 for none) with status and
 * Content-Type, plus the headers every answer carries. */
enum MHD_Result http_respond(struct MHD_Connection *c, unsigned status, const char *type,
	char *body, size_t len);

/* A JSON answer: `v` (consumed) as compact text. */
enum MHD_Result http_respond_json(struct MHD_Connection *c, unsigned status, json_t *v);

/* {ok:false, error:{code, message}} with `status`. */
enum MHD_Result http_respond_error(struct MHD_Connection *c, unsigned status,
	const char *code, const char *message);

/* Send `request` (consumed) to the control socket and wait for the REPLY header:
 * the reply, or NULL with *status (503 stopping or unreachable, 504 no reply in
 * time) and err. */
json_t *http_call(struct http *h, json_t *request, unsigned *status, struct err *err);

/* The HTTP status of a REPLY: 200 when ok, else by its error code. */
unsigned http_reply_status(const json_t *reply);

/* GET /api/OP and GET /api/events (http_api.c). */
enum MHD_Result http_api(struct http *h, struct MHD_Connection *c, const char *op);

/* GET /metrics (http_prom.c). */
enum MHD_Result http_prom(struct http *h, struct MHD_Connection *c);

#endif
