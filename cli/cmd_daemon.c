/*
 * r1flow daemon — run the coordinator in the foreground: exec r1flowd with the same
 * arguments (procs.h says where r1flowd is looked for). --data defaults to
 * $R1FLOW_DATA, so `R1FLOW_DATA=DIR r1flow daemon` and `r1flow ls` agree on DIR.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "procs.h"

int cmd_daemon(int argc, char **argv)
{
	const char *data = NULL;
	const struct opt opts[] = {
		{ "data", OPT_STRING, &data, "DIR", 0, 0, 0,
		  "data directory: r1flow.db, blobs/, logs/ and the ipc sockets",
		  "$R1FLOW_DATA or " CLIENT_DEFAULT_DATA },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "daemon", .args = "[R1FLOWD-OPTIONS]", .max_args = 64, .opts = opts,
		.about = "Run the r1flow coordinator (r1flowd) in the foreground on the data directory\n"
			 "DIR, until SIGTERM, Ctrl-C or the shutdown op. Every other option is passed\n"
			 "to r1flowd as it is: 'r1flowd --help' lists them (--heartbeat-ms,\n"
			 "--log-level, --http ADDR:PORT for the dashboard and /metrics, ...). r1flowd\n"
			 "is $R1FLOWD, or next to r1flow, or on PATH.\n\n"
			 "example: r1flow daemon --data /srv/r1flow --http 127.0.0.1:7480\n\n"
			 "exit status: r1flowd's: 0 after a clean stop, 1 on a startup failure, 2 on a\n"
			 "usage error; 1 if r1flowd cannot be found or started",
	};
	bool has_data = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return cli_parse(&verb, 2, (char *[]){ argv[0], "--help", NULL }, NULL);
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--data") == 0 || strncmp(argv[i], "--data=", 7) == 0)
			has_data = true;
	}
	char path[4200];
	struct err e = { 0 };
	if (procs_find("r1flowd", "R1FLOWD", "../daemon/r1flowd", path, sizeof path, &e) < 0) {
		cli_error("daemon", "%s", e.msg);
		return CLI_EXIT_FAIL;
	}
	char **args = calloc((size_t)argc + 3, sizeof *args);
	if (!args) {
		cli_error("daemon", "out of memory");
		return CLI_EXIT_FAIL;
	}
	int n = 0;
	args[n++] = path;
	if (!has_data) {
		args[n++] = "--data";
		args[n++] = (char *)client_data_dir(NULL);
	}
	for (int i = 1; i < argc; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	fflush(NULL);
	execv(path, args);
	cli_error("daemon", "cannot run '%s': %s", path, strerror(errno));
	free(args);
	return CLI_EXIT_FAIL;
}
