/*
 * client — the CLI's end of the control protocol (R1FC1, proto.h): find the daemon,
 * send one REQUEST, wait for its REPLY.
 *
 * Where the daemon is:
 *   --endpoint URL         used as given (ipc://..., tcp://...)
 *   --data DIR             ipc://DIR/control.sock
 *   neither                DIR from $R1FLOW_DATA, else CLIENT_DEFAULT_DATA
 *
 * A tcp:// endpoint (the daemon's --listen-control) takes CURVE keys from the
 * environment: $R1FLOW_SERVER_KEY (the daemon's keys/server.pub) and $R1FLOW_KEY
 * (this client's PREFIX.key of 'r1flow keygen', allowed as a control key). Without
 * them the client speaks plain ZMTP, which only a --no-curve daemon accepts.
 *
 *   struct client c;
 *   struct err e = { 0 };
 *   if (client_open(&c, &addr, &e) < 0) ...               // "no daemon at ..."
 *   json_t *r = client_call(&c, json_pack("{ss}", "op", "ls"), &e);
 *   ...
 *   json_decref(r);
 *   client_close(&c);
 *
 * Most verbs do exactly that once: client_ask() opens, calls, closes and prints the
 * error line ("r1flow VERB: ...") itself.
 *
 * No daemon: for an ipc:// endpoint client_open fails at once when the socket file
 * is missing or nobody accepts on it (a daemon killed with -9 leaves the file), with
 * the actionable line "no daemon at 'ipc://DIR/control.sock': start one with 'r1flow
 * daemon --data DIR' (or use 'r1flow run FILE')". Elsewhere (tcp://) the same line
 * comes when the connection is not up within the timeout.
 *
 * Replies: {ok:true, ...} comes back without "ok"; {ok:false, error:{code, message}}
 * is an error whose message is the daemon's (code in client.last_code). A request
 * waits at most the timeout (CLIENT_TIMEOUT_MS, or $R1FLOW_TIMEOUT_MS). A request
 * that timed out leaves the connection unusable: a late reply would answer the next
 * one, so client_call refuses to go on (close and open again).
 *
 * A daemon that closes the connection while a request waits for its reply (it
 * died, or was stopped) ends the wait at once with "the daemon at '...' closed the
 * connection while answering", which is not the timeout's "no reply ... within".
 *
 * Signals: a signal that interrupts the wait makes client_call fail with
 * "interrupted"; the verb decides (r1flow run cancels its pipeline). `check` lets a
 * caller end a wait on something else (r1flow run: its daemon child died).
 */
#ifndef R1_CLIENT_H
#define R1_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cli.h"
#include "err.h"

#define CLIENT_DEFAULT_DATA "./r1flow-data"
#define CLIENT_TIMEOUT_MS   10000
#define CLIENT_PATH_MAX     4096
#define CLIENT_CHECK_MS     100

/* Where to find the daemon: option values (borrowed from argv), NULL when not given. */
struct client_addr {
	const char *data;      /* --data DIR */
	const char *endpoint;  /* --endpoint URL */
};

/* The --data and --endpoint rows of a verb's option table. */
#define CLIENT_OPTS(addr) \
	{ "data", OPT_STRING, &(addr)->data, "DIR", 0, 0, 0, \
	  "the daemon's data directory: talk to ipc://DIR/control.sock", \
	  "$R1FLOW_DATA or " CLIENT_DEFAULT_DATA }, \
	{ "endpoint", OPT_STRING, &(addr)->endpoint, "URL", 0, 0, 0, \
	  "the daemon's control endpoint, instead of --data's", NULL }

/* The --set row of a verb's option table. */
#define CLIENT_SET_OPT(list) \
	{ "set", OPT_LIST, (list), "KEY=VALUE", 0, 0, 0, \
	  "override a spec value, e.g. stages.a.jobs=50 (repeatable)", NULL }

struct client {
	char endpoint[CLIENT_PATH_MAX + 32]; /* ipc://DIR/control.sock or --endpoint */
	char data[CLIENT_PATH_MAX];          /* DIR, or "" when --endpoint named the daemon */
	char last_code[32];                  /* error.code of the last ok:false reply */
	int timeout_ms;                      /* per request */
	bool broken;                         /* a request timed out: no more requests */
	int (*check)(void *arg, struct err *err); /* optional: called every CLIENT_CHECK_MS
	                                      while waiting; -1 ends the wait with its err */
	void *check_arg;
	void *zctx, *sock;                   /* libzmq context and DEALER */
	void *monitor;                       /* PAIR receiving the DEALER's disconnects */
};

/* The data directory `a` means: --data, $R1FLOW_DATA or the default. Borrowed. */
const char *client_data_dir(const struct client_addr *a);

/* Resolve the endpoint and connect; fails at once when an ipc daemon is absent. */
int client_open(struct client *c, const struct client_addr *a, struct err *err);

/* Send `req` (consumed: the reference is the client's) and wait for the reply. The
 * reply without "ok" (the caller's), or NULL and err. */
json_t *client_call(struct client *c, json_t *req, struct err *err);

/* A blob frame of a reply: malloc'd bytes, the caller's (free). */
struct client_blob {
	void *data;   /* NULL when the reply carried no blob */
	size_t size;
};

/*
 * client_call with data frames: `out` (size bytes, borrowed; NULL: none) goes with
 * the request as its one blob frame, and when `blob` is not NULL the reply's first
 * blob frame is copied into it (zeroed when there was none, or on failure). Ops that
 * move data use it: dataset_import (out), checkpoint (blob).
 */
json_t *client_call_blob(struct client *c, json_t *req, const void *out, size_t size,
	struct client_blob *blob, struct err *err);

/* Close the socket and the context. Safe after a failed open and twice. */
void client_close(struct client *c);

/* Open, call, close; on failure print "r1flow VERB: <message>" and return NULL. */
json_t *client_ask(const char *verb, const struct client_addr *a, json_t *req);

/*
 * The submit request for the spec at `file` with `sets` overrides applied:
 * {op:"submit", spec, source (the file's text), file (as given), token (random, new
 * for every request built)}. NULL and err (the loader's FILE:LINE:COL line) when
 * the spec does not load.
 */
json_t *client_submit_request(const char *file, const struct opt_list *sets, struct err *err);

/* client_ask for a submit request: when no reply comes within the timeout, ask
 * again (CLIENT_SUBMIT_TRIES in all, saying so on stderr) with the same request. Its
 * token makes that safe: the daemon answers a token it has seen with the pipeline it
 * made, never a second one. */
#define CLIENT_SUBMIT_TRIES 3
json_t *client_submit(const char *verb, const struct client_addr *a, json_t *req);

/* Print `doc` on stdout as one JSON document (2-space indent, newline). The exit
 * status: CLI_EXIT_OK, or CLI_EXIT_FAIL after printing "r1flow VERB: ...". */
int client_print_json(const char *verb, const json_t *doc);

/* A pipeline id argument: a positive integer. -1 when it is not one. */
int64_t client_parse_id(const char *arg);

/* cli_parse for a verb whose first argument is a pipeline ID: CLI_CONTINUE with *first
 * and *id set, or the exit status (help printed, or a usage error). */
int client_parse_verb_id(const struct cli_verb *v, int argc, char **argv, int *first,
	int64_t *id);

#endif
