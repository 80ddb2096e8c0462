/*
 * settings.c — r1flow-worker's option table and the defaults derived after parsing.
 * See settings.h.
 */
#include "settings.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opts.h"
#include "proto.h"

#ifndef R1FLOW_VERSION
#define R1FLOW_VERSION "unknown"
#endif

#define STR(x) #x
#define XSTR(x) STR(x)

/* Fill the empty defaults that depend on the environment. */
static int derive(struct worker_settings *s, struct err *err)
{
	if (!*s->connect) {
		int n = snprintf(s->derived_connect, sizeof s->derived_connect,
			"ipc://%s/workers.sock", s->data);
		if (n < 0 || (size_t)n >= sizeof s->derived_connect)
			return err_set(err, ERR_INVALID, "option '--data' is too long");
		s->connect = s->derived_connect;
	}
	if (!*s->name) {
		char host[256] = "worker";
		if (gethostname(host, sizeof host) < 0)
			snprintf(host, sizeof host, "worker");
		host[sizeof host - 1] = '\0';
		snprintf(s->derived_name, sizeof s->derived_name, "%s-%d", host, (int)getpid());
		s->name = s->derived_name;
	}
	if (!*s->cache) {
		const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
		int n;
		if (xdg && *xdg)
			n = snprintf(s->derived_cache, sizeof s->derived_cache, "%s/r1flow/blobs", xdg);
		else if (home && *home)
			n = snprintf(s->derived_cache, sizeof s->derived_cache, "%s/.cache/r1flow/blobs",
				home);
		else
			n = snprintf(s->derived_cache, sizeof s->derived_cache, "./r1flow-cache");
		if (n < 0 || (size_t)n >= sizeof s->derived_cache)
			return err_set(err, ERR_INVALID, "cache directory path is too long");
		s->cache = s->derived_cache;
	}
	if (!*s->server_key != !*s->key)
		return err_set(err, ERR_INVALID, "options '--server-key' and '--key' go together");
	if (*s->key && strncmp(s->connect, "tcp://", 6) != 0)
		return err_set(err, ERR_INVALID, "options '--server-key' and '--key' need a tcp:// "
			"'--connect' (ipc endpoints use no keys)");
	if (s->reconnect_max_ms < s->reconnect_ms)
		return err_set(err, ERR_INVALID, "option '--reconnect-max-ms' (%d) is below "
			"'--reconnect-ms' (%d)", s->reconnect_max_ms, s->reconnect_ms);
	return 0;
}

int settings_parse(struct worker_settings *s, int argc, char **argv, struct err *err)
{
	const struct opt settings[] = {
		{ "data", OPT_STRING, &s->data, "DIR", 0, 0, .dflt = "./r1flow-data",
		  .help = "the daemon's data directory: connect to ipc://DIR/workers.sock" },
		{ "connect", OPT_STRING, &s->connect, "ENDPOINT", 0, 0, .dflt = "",
		  .help = "the daemon's worker endpoint, overriding --data (tcp://HOST:PORT: its "
		  "--listen)" },
		{ "server-key", OPT_STRING, &s->server_key, "FILE", 0, 0, .dflt = "",
		  .help = "the daemon's public key (its keys/server.pub): CURVE on a tcp endpoint" },
		{ "key", OPT_STRING, &s->key, "FILE", 0, 0, .dflt = "",
		  .help = "this worker's secret key (PREFIX.key of 'r1flow keygen'; its .pub in the "
		  "daemon's allowlist as a worker key)" },
		{ "name", OPT_STRING, &s->name, "NAME", 0, 0, .dflt = "",
		  .help = "worker name, unique among live workers (default HOST-PID)" },
		{ "slots", OPT_INT, &s->slots, "N", 1, 64, .dflt = "2",
		  .help = "jobs held at once: one runs, the others wait (hides the round trip)" },
		{ "threads", OPT_INT, &s->threads, "N", 0, 256, .dflt = "0",
		  .help = "compute threads per job (0: $R1FLOW_THREADS, else one per online CPU); "
		  "with W workers on one machine, give each CPUs/W" },
		{ "chunk-size", OPT_INT, &s->chunk_size, "BYTES", 4096, 64 << 20,
		  .dflt = XSTR(PROTO_CHUNK_SIZE_DEFAULT),
		  .help = "result blobs (gradients) go to the daemon in pieces of BYTES, at most "
		  "4 unanswered (below the daemon's --max-frame-size)" },
		{ "cache", OPT_STRING, &s->cache, "DIR", 0, 0, .dflt = "",
		  .help = "blob cache (default $XDG_CACHE_HOME/r1flow/blobs or "
		  "~/.cache/r1flow/blobs)" },
		{ "kinds", OPT_STRING, &s->kinds, "LIST", 0, 0, .dflt = "",
		  .help = "comma-separated job kinds to run (default all this build has)" },
		{ "peer-listen", OPT_STRING, &s->peer_listen, "ENDPOINT", 0, 0, .dflt = "",
		  .help = "serve the blobs this worker holds to other workers the daemon sends "
		  "here (tcp://ADDR:PORT, port 0 or * for any: CURVE with a fresh key; or "
		  "ipc://PATH in a private directory)" },
		{ "heartbeat-ms", OPT_INT, &s->heartbeat_ms, "MS", 10, 600000,
		  .dflt = XSTR(PROTO_HEARTBEAT_MS),
		  .help = "send a heartbeat after MS without other traffic (use the daemon's value)" },
		{ "liveness", OPT_INT, &s->liveness, "N", 1, 1000, .dflt = XSTR(PROTO_LIVENESS),
		  .help = "reconnect when the daemon is silent for N heartbeat intervals (use the "
		  "daemon's value)" },
		{ "reconnect-ms", OPT_INT, &s->reconnect_ms, "MS", 10, 600000,
		  .dflt = XSTR(PROTO_RECONNECT_MS),
		  .help = "first reconnect back-off; doubles after each failed attempt" },
		{ "reconnect-max-ms", OPT_INT, &s->reconnect_max_ms, "MS", 10,
		  3600000, .dflt = XSTR(PROTO_RECONNECT_MAX_MS),
		  .help = "reconnect back-off cap" },
		{ "log-level", OPT_ENUM, (int *)&s->log_level, "LEVEL", 0, 0, .dflt = "info",
		  .choices = log_level_names, .help = "debug, info, warn or error" },
		{ NULL },
	};

	memset(s, 0, sizeof *s);
	int rc = opts_program(settings, "r1flow-worker", R1FLOW_VERSION,
		"An r1flow worker: connects to r1flowd, runs the jobs it leases, reconnects when\n"
		"the daemon goes away. SIGTERM drains: finish the jobs in hand, then leave.\n\n",
		24, argc, argv, err);
	return rc != 0 ? rc : derive(s, err);
}
