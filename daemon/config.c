#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#ifndef R1FLOW_VERSION
#define R1FLOW_VERSION "unknown"
#endif

enum config_type { CONFIG_STRING, CONFIG_INT, CONFIG_LEVEL, CONFIG_FLAG };

struct config_option {
	const char *name;        /* --name */
	const char *metavar;     /* its value in --help; "" for a flag */
	enum config_type type;
	size_t offset;           /* field of struct daemon_config */
	const char *dflt;        /* default, as text; "": none, or derived (help says) */
	long long min, max;      /* CONFIG_INT range */
	const char *help;
};

#define F(field) offsetof(struct daemon_config, field)

static const struct config_option options[] = {
	{ "data", "DIR", CONFIG_STRING, F(data), "./r1flow-data", 0, 0,
	  "data directory: r1flow.db, blobs/, logs/ and the ipc sockets (made mode 0700)" },
	{ "heartbeat-ms", "MS", CONFIG_INT, F(heartbeat_ms), "1000", 10, 600000,
	  "heartbeat interval: a side sends HEARTBEAT after MS without other traffic; "
	  "workers must use the same value" },
	{ "liveness", "N", CONFIG_INT, F(liveness), "3", 1, 1000,
	  "a worker silent for N heartbeat intervals is dead; its jobs are requeued" },
	{ "max-attempts", "N", CONFIG_INT, F(max_attempts), "3", 1, 1000,
	  "leases a job gets before it fails (for jobs enqueued without their own cap)" },
	{ "batch", "N", CONFIG_INT, F(batch), "512", 1, 100000,
	  "messages read per socket per loop turn; a turn is one transaction" },
	{ "stats-ms", "MS", CONFIG_INT, F(stats_ms), "10000", 0, 86400000,
	  "log a status line every MS (0: never)" },
	{ "log-level", "LEVEL", CONFIG_LEVEL, F(log_level), "info", 0, 0,
	  "debug, info, warn or error" },
	{ "listen", "ENDPOINT", CONFIG_STRING, F(listen), "", 0, 0,
	  "also serve workers on ENDPOINT (tcp://ADDR:PORT; PORT * picks a free one), with "
	  "CURVE: only keys in the allowlist get in" },
	{ "listen-control", "ENDPOINT", CONFIG_STRING, F(listen_control), "", 0, 0,
	  "also serve control clients (r1flow --endpoint) on ENDPOINT, with CURVE" },
	{ "keys", "DIR", CONFIG_STRING, F(keys), "", 0, 0,
	  "the daemon's keypair, server.key and server.pub, made on first start "
	  "(default DATA/keys)" },
	{ "allowlist", "FILE", CONFIG_STRING, F(allowlist), "", 0, 0,
	  "client keys let in, one 'ROLE NAME KEY' line each, ROLE worker or control; "
	  "reread on SIGHUP (default KEYS/allowlist)" },
	{ "no-curve", "", CONFIG_FLAG, F(no_curve), "", 0, 0,
	  "serve the tcp endpoints without CURVE: anyone who can connect gets in; loopback "
	  "addresses only, unless --insecure" },
	{ "insecure", "", CONFIG_FLAG, F(insecure), "", 0, 0,
	  "allow --no-curve on a non-loopback address" },
};

#define NOPTIONS (sizeof options / sizeof options[0])

static int set(struct daemon_config *cfg, const struct config_option *o, const char *value,
	struct err *err)
{
	void *field = (char *)cfg + o->offset;
	switch (o->type) {
	case CONFIG_FLAG:
		*(int *)field = 1;
		return 0;
	case CONFIG_STRING:
		if (!*value)
			return err_set(err, ERR_INVALID, "option '--%s' needs a non-empty value", o->name);
		*(const char **)field = value;
		return 0;
	case CONFIG_INT: {
		char *end;
		errno = 0;
		long long v = strtoll(value, &end, 10);
		if (errno || end == value || *end || v < o->min || v > o->max)
			return err_set(err, ERR_INVALID, "option '--%s' must be an integer from %lld to "
				"%lld, not '%s'", o->name, o->min, o->max, value);
		*(int *)field = (int)v;
		return 0;
	}
	case CONFIG_LEVEL:
		if (log_level_parse(value, (enum log_level *)field) == 0)
			return 0;
		return err_set(err, ERR_INVALID, "option '--%s' must be debug, info, warn or error, "
			"not '%s'", o->name, value);
	}
	return -1;
}

void config_usage(FILE *out)
{
	fprintf(out, "usage: r1flowd [options]\n\n"
		"The r1flow coordinator: keeps jobs in DIR/r1flow.db and leases them to workers\n"
		"(r1flow-worker) connected to ipc://DIR/workers.sock, and on other machines to\n"
		"--listen tcp://ADDR:PORT (CURVE keys: see 'r1flow keygen'). SIGHUP rereads the\n"
		"allowlist.\n\n");
	for (size_t i = 0; i < NOPTIONS; i++) {
		char left[64];
		snprintf(left, sizeof left, "--%s %s", options[i].name, options[i].metavar);
		fprintf(out, "  %-22s %s", left, options[i].help);
		if (*options[i].dflt)
			fprintf(out, " (default %s)", options[i].dflt);
		fputc('\n', out);
	}
	fprintf(out, "  %-22s %s\n  %-22s %s\n", "--help", "show this help", "--version",
		"show the version");
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

int config_parse(struct daemon_config *cfg, int argc, char **argv, struct err *err)
{
	memset(cfg, 0, sizeof *cfg);
	for (size_t i = 0; i < NOPTIONS; i++) {
		if (!*options[i].dflt) { /* none, or derived below */
			if (options[i].type == CONFIG_STRING)
				*(const char **)((char *)cfg + options[i].offset) = "";
			continue;
		}
		if (set(cfg, &options[i], options[i].dflt, err) < 0)
			return -1; /* a bad default is a bug, but say so rather than abort */
	}
	for (int a = 1; a < argc; a++) {
		const char *arg = argv[a];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			config_usage(stdout);
			return 1;
		}
		if (strcmp(arg, "--version") == 0) {
			printf("r1flowd %s\n", R1FLOW_VERSION);
			return 1;
		}
		if (strncmp(arg, "--", 2) != 0)
			return err_set(err, ERR_INVALID, "unexpected argument '%s'", arg);
		const char *name = arg + 2, *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		const struct config_option *o = NULL;
		for (size_t i = 0; i < NOPTIONS && !o; i++)
			if (strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0)
				o = &options[i];
		if (!o)
			return err_set(err, ERR_INVALID, "unknown option '%.*s'", (int)(len + 2), arg);
		const char *value = eq ? eq + 1 : NULL;
		if (o->type == CONFIG_FLAG && value)
			return err_set(err, ERR_INVALID, "option '--%s' takes no value", o->name);
		if (!value && o->type != CONFIG_FLAG) {
			if (a + 1 >= argc)
				return err_set(err, ERR_INVALID, "option '--%s' needs a value", o->name);
			value = argv[++a];
		}
		if (set(cfg, o, value, err) < 0)
			return -1;
	}
	return derive(cfg, err);
}
