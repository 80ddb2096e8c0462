/*
 * r1flow keygen — make a CURVE keypair for a worker or a control client on another
 * machine (protocol/curve.h): PREFIX.key (secret, mode 0600) and PREFIX.pub. The
 * public key also goes to stdout, ready for a line of the daemon's allowlist.
 */
#include <stdio.h>

#include "cli.h"
#include "curve.h"

int cmd_keygen(int argc, char **argv)
{
	const char *prefix = "r1flow";
	bool force = false;
	const struct opt opts[] = {
		{ "out", OPT_STRING, &prefix, "PREFIX", 0, 0, 0,
		  "write PREFIX.key (secret, mode 0600) and PREFIX.pub", NULL },
		{ "force", OPT_FLAG, &force, NULL, 0, 0, 0,
		  "replace existing files (the old key stops working where it was allowed)", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "keygen", .opts = opts,
		.about = "Make a CURVE keypair for a client of a daemon's tcp endpoint: a worker on\n"
			 "another machine (r1flow-worker --key PREFIX.key) or a control client\n"
			 "(R1FLOW_KEY=PREFIX.key r1flow --endpoint tcp://...). Prints the public key;\n"
			 "add it to the daemon's allowlist (DATA/keys/allowlist) as\n"
			 "'worker NAME KEY' or 'control NAME KEY', then send the daemon SIGHUP. The\n"
			 "secret key never leaves PREFIX.key: copy only the .pub around.\n\n"
			 "example: r1flow keygen --out node7\n"
			 "         echo \"worker node7 $(cat node7.pub)\" >> /srv/r1flow/keys/allowlist\n"
			 "         kill -HUP $(cat /srv/r1flow/r1flowd.lock)\n\n"
			 "exit status: 0 written, 1 a file exists (see --force) or cannot be written,\n"
			 "2 usage error",
	};
	int rc = cli_parse(&verb, argc, argv, NULL);
	if (rc != CLI_CONTINUE)
		return rc;
	if (!prefix[0])
		return cli_usage_error("keygen", "--out is empty");
	if (!curve_available()) {
		cli_error("keygen", "this libzmq was built without CURVE (zmq_has(\"curve\") is 0)");
		return CLI_EXIT_FAIL;
	}
	struct curve_key pub;
	struct err err = { 0 };
	if (curve_keypair_save(prefix, force, &pub, &err) < 0) {
		cli_error("keygen", "%s", err.msg);
		return CLI_EXIT_FAIL;
	}
	fprintf(stderr, "wrote %s.key (secret, mode 0600) and %s.pub\n", prefix, prefix);
	printf("%s\n", pub.z85);
	return CLI_EXIT_OK;
}
