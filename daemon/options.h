/*
 * options — r1flowd's options: one table (options.c, read by base/opts.h) drives
 * parsing, --help and the defaults, so an option cannot be documented and parsed
 * differently.
 *
 *   r1flowd [--data DIR] [--heartbeat-ms MS] [--liveness N] [--max-attempts N]
 *           [--batch N] [--stats-ms MS] [--log-level LEVEL]
 *           [--listen tcp://ADDR:PORT] [--listen-control tcp://ADDR:PORT] [--keys DIR]
 *           [--allowlist FILE] [--no-curve] [--insecure]
 *           [--http ADDR:PORT [--http-token-file FILE]] [--help] [--version]
 *
 * Options take their value as the next argument or after '=' (--data=DIR). Every
 * default is written as text in the table and goes through the same parser as user
 * input, so defaults obey the same ranges; an empty default is either none (--listen)
 * or derived from another option after parsing (--keys from --data, --allowlist from
 * --keys). Flags (--no-curve, --insecure) take no value.
 */
#ifndef R1_DAEMON_OPTIONS_H
#define R1_DAEMON_OPTIONS_H

#include "daemon.h"
#include "err.h"

/* Fill `cfg` from the defaults, then argv. 0: run; 1: --help or --version was printed
 * to stdout (exit 0); -1: usage error in err (exit 2). */
int options_parse(struct daemon_config *cfg, int argc, char **argv, struct err *err);

#endif
