#include "settings.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

#ifndef R1FLOW_VERSION
#define R1FLOW_VERSION "unknown"
#endif

enum settings_type { SETTING_STRING, SETTING_INT, SETTING_LEVEL };

struct setting {
	const char *name;
	const char *metavar;
	enum settings_type type;
	size_t offset;               /* field of struct worker_settings */
	const char *dflt;
	long long min, max;          /* SETTING_INT range */
	const char *help;
};

#define F(field) offsetof(struct worker_settings, field)
#define STR(x) #x
#define XSTR(x) STR(x)

static const struct setting settings[] = {
	{ "data", "DIR", SETTING_STRING, F(data), "./r1flow-data", 0, 0,
	  "the daemon's data directory: connect to ipc://DIR/workers.sock" },
	{ "connect", "ENDPOINT", SETTING_STRING, F(connect), "", 0, 0,
	  "the daemon's worker endpoint, overriding --data (tcp://HOST:PORT: its --listen)" },
	{ "server-key", "FILE", SETTING_STRING, F(server_key), "", 0, 0,
	  "the daemon's public key (its keys/server.pub): CURVE on a tcp endpoint" },
	{ "key", "FILE", SETTING_STRING, F(key), "", 0, 0,
	  "this worker's secret key (PREFIX.key of 'r1flow keygen'; its .pub in the "
	  "daemon's allowlist as a worker key)" },
	{ "name", "NAME", SETTING_STRING, F(name), "", 0, 0,
	  "worker name, unique among live workers (default HOST-PID)" },
	{ "slots", "N", SETTING_INT, F(slots), "2", 1, 64,
	  "jobs held at once: one runs, the others wait (hides the round trip)" },
	{ "threads", "N", SETTING_INT, F(threads), "0", 0, 256,
	  "compute threads per job (0: $R1FLOW_THREADS, else one per online CPU); with W "
	  "workers on one machine, give each CPUs/W" },
	{ "cache", "DIR", SETTING_STRING, F(cache), "", 0, 0,
	  "blob cache (default $XDG_CACHE_HOME/r1flow/blobs or ~/.cache/r1flow/blobs)" },
	{ "kinds", "LIST", SETTING_STRING, F(kinds), "", 0, 0,
	  "comma-separated job kinds to run (default all this build has)" },
	{ "heartbeat-ms", "MS", SETTING_INT, F(heartbeat_ms), XSTR(PROTO_HEARTBEAT_MS), 10, 600000,
	  "send a heartbeat after MS without other traffic (use the daemon's value)" },
	{ "liveness", "N", SETTING_INT, F(liveness), XSTR(PROTO_LIVENESS), 1, 1000,
	  "reconnect when the daemon is silent for N heartbeat intervals (use the daemon's "
	  "value)" },
	{ "reconnect-ms", "MS", SETTING_INT, F(reconnect_ms), XSTR(PROTO_RECONNECT_MS), 10, 600000,
	  "first reconnect back-off; doubles after each failed attempt" },
	{ "reconnect-max-ms", "MS", SETTING_INT, F(reconnect_max_ms), XSTR(PROTO_RECONNECT_MAX_MS),
	  10, 3600000, "reconnect back-off cap" },
	{ "log-level", "LEVEL", SETTING_LEVEL, F(log_level), "info", 0, 0,
	  "debug, info, warn or error" },
};

#define NSETTINGS (sizeof settings / sizeof settings[0])

static int set(struct worker_settings *s, const struct setting *o, const char *value,
	struct err *err)
{
	void *field = (char *)s + o->offset;
	switch (o->type) {
	case SETTING_STRING:
		*(const char **)field = value;
		return 0;
	case SETTING_INT: {
		char *end;
		errno = 0;
		long long v = strtoll(value, &end, 10);
		if (errno || end == value || *end || v < o->min || v > o->max)
			return err_set(err, ERR_INVALID, "option '--%s' must be an integer from %lld to "
				"%lld, not '%s'", o->name, o->min, o->max, value);
		*(int *)field = (int)v;
		return 0;
	}
	case SETTING_LEVEL:
		if (log_level_parse(value, (enum log_level *)field) == 0)
			return 0;
		return err_set(err, ERR_INVALID, "option '--%s' must be debug, info, warn or error, "
			"not '%s'", o->name, value);
	}
	return -1;
}

void settings_usage(FILE *out)
{
	fprintf(out, "usage: r1flow-worker [options]\n\n"
		"An r1flow worker: connects to r1flowd, runs the jobs it leases, reconnects when\n"
		"the daemon goes away. SIGTERM drains: finish the jobs in hand, then leave.\n\n");
	for (size_t i = 0; i < NSETTINGS; i++) {
		char left[64];
		snprintf(left, sizeof left, "--%s %s", settings[i].name, settings[i].metavar);
		fprintf(out, "  %-24s %s", left, settings[i].help);
		if (*settings[i].dflt)
			fprintf(out, " (default %s)", settings[i].dflt);
		fputc('\n', out);
	}
	fprintf(out, "  %-24s %s\n  %-24s %s\n", "--help", "show this help", "--version",
		"show the version");
}

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
	memset(s, 0, sizeof *s);
	for (size_t i = 0; i < NSETTINGS; i++)
		if (set(s, &settings[i], settings[i].dflt, err) < 0)
			return -1;
	for (int a = 1; a < argc; a++) {
		const char *arg = argv[a];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			settings_usage(stdout);
			return 1;
		}
		if (strcmp(arg, "--version") == 0) {
			printf("r1flow-worker %s\n", R1FLOW_VERSION);
			return 1;
		}
		if (strncmp(arg, "--", 2) != 0)
			return err_set(err, ERR_INVALID, "unexpected argument '%s'", arg);
		const char *name = arg + 2, *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		const struct setting *o = NULL;
		for (size_t i = 0; i < NSETTINGS && !o; i++)
			if (strlen(settings[i].name) == len && strncmp(settings[i].name, name, len) == 0)
				o = &settings[i];
		if (!o)
			return err_set(err, ERR_INVALID, "unknown option '%.*s'", (int)(len + 2), arg);
		const char *value = eq ? eq + 1 : NULL;
		if (!value) {
			if (a + 1 >= argc)
				return err_set(err, ERR_INVALID, "option '--%s' needs a value", o->name);
			value = argv[++a];
		}
		if (set(s, o, value, err) < 0)
			return -1;
	}
	return derive(s, err);
}
