/*
 * settings — r1flow-worker's options: one table (settings.c, read by base/opts.h)
 * drives parsing, --help and the defaults.
 *
 *   r1flow-worker [--data DIR | --connect ENDPOINT [--server-key FILE --key FILE]]
 *                 [--name NAME] [--slots N] [--chunk-size BYTES]
 *                 [--cache DIR] [--kinds LIST] [--heartbeat-ms MS] [--liveness N]
 *                 [--reconnect-ms MS] [--reconnect-max-ms MS] [--log-level LEVEL]
 *
 * Values go in the next argument or after '=' (--name=w1). Defaults are text in
 * the table, parsed like user input. Empty defaults are derived after parsing:
 * the endpoint from --data (ipc://DIR/workers.sock), the name from the host name
 * and pid (unique per process, so a restarted worker never collides with its
 * predecessor's registration), the cache from $XDG_CACHE_HOME or $HOME.
 *
 * --server-key and --key (curve.h key files: the daemon's server.pub, this worker's
 * PREFIX.key) go together and only with a tcp:// --connect; the runtime reads them.
 */
#ifndef R1_SETTINGS_H
#define R1_SETTINGS_H

#include <stdio.h>

#include "err.h"
#include "log.h"

struct worker_settings {
	const char *data;           /* daemon data directory (for the default endpoint) */
	const char *connect;        /* daemon worker endpoint */
	const char *server_key;     /* the daemon's public key file; "": no CURVE */
	const char *key;            /* this worker's secret key file; "": no CURVE */
	const char *name;           /* worker name, the registry key */
	int slots;                  /* jobs held at once */
	int threads;                /* compute threads; 0: the pool's default */
	int chunk_size;             /* bytes per PUT of a result blob (upload.h) */
	const char *cache;          /* blob cache directory */
	const char *kinds;          /* comma-separated kinds to announce; "": all */
	const char *peer_listen;    /* serve blobs to other workers here; "": no (peer.h) */
	int heartbeat_ms;
	int liveness;               /* daemon silent this many heartbeats: reconnect */
	int reconnect_ms;           /* first back-off ... */
	int reconnect_max_ms;       /* ... doubling up to this */
	enum log_level log_level;
	char derived_connect[4200]; /* storage for derived values */
	char derived_name[300];
	char derived_cache[4096];
};

/* 0: run; 1: --help/--version printed (exit 0); -1: usage error in err (exit 2). */
int settings_parse(struct worker_settings *s, int argc, char **argv, struct err *err);

#endif
