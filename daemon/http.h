/*
 * http — r1flowd's read-only web side (--http ADDR:PORT): the dashboard's pages, a
 * JSON API that is the control ops seen through HTTP, server-sent events and
 * Prometheus metrics (docs/dashboard.md is the reference).
 *
 *   GET /                  index.html (embedded: http_assets.h)
 *   GET /static/NAME       the other embedded files
 *   GET /api/OP?F=V&...    REQUEST {op: OP, F: V, ...} on the control socket; the
 *                          REPLY as it is, status 200 when ok, else by error code
 *   GET /api/events        text/event-stream: one `data: {event}` per EVENT published
 *                          (?pipeline=ID: that pipeline's only), keep-alive comments
 *   GET /metrics           Prometheus text format (http_prom.c)
 *   anything else          404; a method other than GET and HEAD: 405
 *
 * Threads. libmicrohttpd runs the server on threads of its own, one per connection
 * (so an event stream never holds up another request). They never touch the loop's
 * state nor its store: each request is a control REQUEST sent over a DEALER of its
 * own to the control ROUTER's second endpoint, inproc://r1flow-control, and the loop
 * answers it in a turn like any client's; event streams SUB to the events PUB's
 * inproc://r1flow-events. So the pages read exactly what the CLI reads, and only
 * the ops listed in http_api.c (the read-only ones) are reachable.
 *
 * Who may ask. A loopback address (127.0.0.0/8, ::1, localhost) is served to
 * whoever can connect, like the other local endpoints; and, so that a web page
 * from elsewhere cannot read it by rebinding its own name to 127.0.0.1, only
 * requests whose Host is a loopback name are answered (403 otherwise). Any other
 * address needs --http-token-file FILE (options.c refuses it without one): FILE's
 * first line, at least HTTP_TOKEN_MIN characters, must then come with every
 * request as `Authorization: Bearer TOKEN`, a `?token=TOKEN` query (the answer then
 * sets the cookie, so a browser opened on /?token=TOKEN keeps working) or the
 * cookie r1flow_token=TOKEN; else 401. A token file given for a loopback address is
 * enforced the same way.
 *
 * Order (main.c): http_bind with the ipc binds (the inproc endpoints, before the
 * tcp endpoints get CURVE), http_start before the loop runs (requests wait for the
 * loop's turns to be answered), http_stop before the sockets close: it
 * refuses new connections, ends event streams and waits for the connection
 * threads, each of which closes its own sockets. http_start writes the bound
 * address ("127.0.0.1:PORT", port 0 picks a free one) to DIR/http.addr; http_stop
 * removes it.
 */
#ifndef R1_HTTP_H
#define R1_HTTP_H

#include <stdbool.h>
#include <sys/socket.h>

#include "err.h"

#define HTTP_TOKEN_MIN 16          /* characters of a token file's token */
#define HTTP_TOKEN_MAX 256
#define HTTP_CONTROL_ENDPOINT "inproc://r1flow-control"
#define HTTP_EVENTS_ENDPOINT "inproc://r1flow-events"

struct daemon;

/* A parsed --http value. */
struct http_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	bool loopback;
};

/* "ADDR:PORT" (IPv4, [IPv6] or localhost; PORT 0 to 65535) into *out; -1 and err
 * (a usage error naming --http). */
int http_parse_addr(const char *text, struct http_addr *out, struct err *err);

/* Bind the control ROUTER and the events PUB to their inproc endpoints. */
int http_bind(struct daemon *d, struct err *err);

/* Read the token file, start the server, write DIR/http.addr and log the URL. */
int http_start(struct daemon *d, struct err *err);

/* Stop serving (see Order above). A daemon without --http: nothing. */
void http_stop(struct daemon *d);

#endif
