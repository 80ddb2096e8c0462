/*
 * options.c — r1flowd's option table and the defaults derived from other options.
 * See options.h.
 */
#include "options.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "http.h"
#include "opts.h"

#ifndef R1FLOW_VERSION
#define R1FLOW_VERSION "unknown"
#endif

/* --http: an address that parses; a token file for one that is not loopback. */
static int http_check(const struct daemon_config *cfg, struct err *err)
{
	struct http_addr addr;
	if (!*cfg->http) {
		if (*cfg->http_token_file)
			return err_set(err, ERR_INVALID, "option '--http-token-file' goes with '--http'");
		return 0;
	}
	if (http_parse_addr(cfg->http, &addr, err) < 0)
		return -1;
	if (!addr.loopback && !*cfg->http_token_file)
		return err_set(err, ERR_INVALID, "option '--http': '%s' is not a loopback address: "
			"anyone who can reach it would read the daemon; give --http-token-file FILE "
			"(a secret every request must carry), or serve 127.0.0.1", cfg->http);
	return 0;
}

/* The defaults that depend on other options: KEYS from DATA, the allowlist from KEYS. */
static int derive(struct daemon_config *cfg, struct err *err)
{
	size_t len = strlen(cfg->data);
	while (len > 1 && cfg->data[len - 1] == '/')
		len--;
	if (!*cfg->keys) {
		if (snprintf(cfg->derived_keys, sizeof cfg->derived_keys, "%.*s/keys", (int)len,
			cfg->data) >= (int)sizeof cfg->derived_keys)
			return err_set(err, ERR_INVALID, "option '--data' is too long");
		cfg->keys = cfg->derived_keys;
	}
	if (!*cfg->allowlist) {
		if (snprintf(cfg->derived_allowlist, sizeof cfg->derived_allowlist, "%s/allowlist",
			cfg->keys) >= (int)sizeof cfg->derived_allowlist)
			return err_set(err, ERR_INVALID, "option '--keys' is too long");
		cfg->allowlist = cfg->derived_allowlist;
	}
	return 0;
}

int options_parse(struct daemon_config *cfg, int argc, char **argv, struct err *err)
{
	const struct opt options[] = {
		{ "data", OPT_STRING, &cfg->data, "DIR", 0, 0, .dflt = "./r1flow-data",
		  .flags = OPT_NONEMPTY,
		  .help = "data directory: r1flow.db, blobs/, logs/ and the ipc sockets (made mode "
		  "0700)" },
		{ "heartbeat-ms", OPT_INT, &cfg->heartbeat_ms, "MS", 10, 600000, .dflt = "1000",
		  .help = "heartbeat interval: a side sends HEARTBEAT after MS without other traffic; "
		  "workers must use the same value" },
		{ "liveness", OPT_INT, &cfg->liveness, "N", 1, 1000, .dflt = "3",
		  .help = "a worker silent for N heartbeat intervals is dead; its jobs are requeued" },
		{ "max-attempts", OPT_INT, &cfg->max_attempts, "N", 1, 1000, .dflt = "3",
		  .help = "leases a job gets before it fails (for jobs enqueued without their own cap)" },
		{ "max-frame-size", OPT_INT, &cfg->max_frame_size, "BYTES", 65536, INT32_MAX,
		  .dflt = "268435456",
		  .help = "largest message frame a worker may send; bigger ones drop its connection "
		  "(result blobs travel in pieces of the worker's --chunk-size, which must be "
		  "smaller)" },
		{ "max-control-frame-size", OPT_INT, &cfg->max_control_frame_size, "BYTES", 65536,
		  INT32_MAX, .dflt = "268435456",
		  .help = "largest message frame a control client may send; bigger ones drop its "
		  "connection (r1flow dataset import sends files in pieces of its --piece-size, "
		  "which must be smaller)" },
		{ "batch", OPT_INT, &cfg->batch, "N", 1, 100000, .dflt = "512",
		  .help = "messages read per socket per loop turn; a turn is one transaction" },
		{ "stats-ms", OPT_INT, &cfg->stats_ms, "MS", 0, 86400000, .dflt = "10000",
		  .help = "log a status line every MS (0: never)" },
		{ "log-level", OPT_ENUM, (int *)&cfg->log_level, "LEVEL", 0, 0, .dflt = "info",
		  .choices = log_level_names, .help = "debug, info, warn or error" },
		{ "listen", OPT_STRING, &cfg->listen, "ENDPOINT", 0, 0, .dflt = "",
		  .flags = OPT_NONEMPTY,
		  .help = "also serve workers on ENDPOINT (tcp://ADDR:PORT; PORT * picks a free one), "
		  "with CURVE: only keys in the allowlist get in" },
		{ "listen-control", OPT_STRING, &cfg->listen_control, "ENDPOINT", 0, 0, .dflt = "",
		  .flags = OPT_NONEMPTY,
		  .help = "also serve control clients (r1flow --endpoint) on ENDPOINT, with CURVE" },
		{ "keys", OPT_STRING, &cfg->keys, "DIR", 0, 0, .dflt = "",
		  .flags = OPT_NONEMPTY,
		  .help = "the daemon's keypair, server.key and server.pub, made on first start "
		  "(default DATA/keys)" },
		{ "allowlist", OPT_STRING, &cfg->allowlist, "FILE", 0, 0, .dflt = "",
		  .flags = OPT_NONEMPTY,
		  .help = "client keys let in, one 'ROLE NAME KEY' line each, ROLE worker or control; "
		  "reread on SIGHUP (default KEYS/allowlist)" },
		{ "no-curve", OPT_FLAG, &cfg->no_curve, NULL, 0, 0,
		  .help = "serve the tcp endpoints without CURVE: anyone who can connect gets in; "
		  "loopback addresses only, unless --insecure" },
		{ "insecure", OPT_FLAG, &cfg->insecure, NULL, 0, 0,
		  .help = "allow --no-curve on a non-loopback address" },
		{ "http", OPT_STRING, &cfg->http, "ADDR:PORT", 0, 0, .dflt = "",
		  .flags = OPT_NONEMPTY,
		  .help = "serve the dashboard, its JSON API and /metrics on ADDR:PORT (PORT 0 picks "
		  "a free one, written to DATA/http.addr); loopback only, unless --http-token-file" },
		{ "http-token-file", OPT_STRING, &cfg->http_token_file, "FILE", 0, 0, .dflt = "",
		  .flags = OPT_NONEMPTY,
		  .help = "every http request must carry the token on FILE's first line (Authorization: "
		  "Bearer, ?token= or its cookie); needed for a non-loopback --http" },
		{ NULL },
	};

	memset(cfg, 0, sizeof *cfg);
	int rc = opts_program(options, "r1flowd", R1FLOW_VERSION,
		"The r1flow coordinator: keeps jobs in DIR/r1flow.db and leases them to workers\n"
		"(r1flow-worker) connected to ipc://DIR/workers.sock, and on other machines to\n"
		"--listen tcp://ADDR:PORT (CURVE keys: see 'r1flow keygen'). SIGHUP rereads the\n"
		"allowlist.\n\n", 22, argc, argv, err);
	if (rc != 0 || derive(cfg, err) < 0)
		return rc != 0 ? rc : -1;
	return http_check(cfg, err);
}
