/*
 * opts — command-line options from one table: parsing, the --help lines and the
 * defaults come from the same entries, so an option cannot be documented one way and
 * parsed another (Redis static_configs[] style). r1flowd, r1flow-worker and every
 * `r1flow VERB` use it; each keeps its table next to the code that reads the values.
 *
 *   const struct opt table[] = {
 *       { "data", OPT_STRING, &cfg.data, "DIR", .dflt = "./r1flow-data",
 *         .help = "data directory" },
 *       { "n", OPT_INT, &n, "N", 1, 100000, 0, "number of samples", NULL },
 *       { NULL },
 *   };
 *
 * Syntax: --name VALUE, --name=VALUE, -x VALUE, -xVALUE (a one-letter name is a short
 * option), flags take no value; -h and --help are built in, --version when the spec
 * asks for it, and unique prefixes of long names (--verb) when it allows them. Positional arguments may come anywhere; "--" ends the options. After
 * opts_parse, argv holds the options first and the positional arguments last, in
 * their order (getopt's permutation).
 *
 * Defaults: an entry's `dflt` is text parsed like user input by opts_defaults, so a
 * default obeys the same range (an empty dflt leaves a string "" and a number 0: none,
 * or derived by the caller afterwards). `env` names a variable that, when set and not
 * empty, replaces the default. Tables whose defaults are the targets' prior values
 * (the CLI's) skip opts_defaults and set dflt only to show something else in --help.
 *
 * Errors are usage errors: -1 with err filled (ERR_INVALID), one line, no program
 * name; the caller prefixes it and points at --help.
 */
#ifndef R1_OPTS_H
#define R1_OPTS_H

#include <stdbool.h>
#include <stdio.h>

#include "err.h"

enum opt_kind {
	OPT_FLAG,    /* bool *: set when present; takes no value */
	OPT_INT,     /* int *, in [min, max] */
	OPT_DOUBLE,  /* double *, finite, in [min, max] */
	OPT_FLOAT,   /* float *, finite, in [min, max] */
	OPT_U64,     /* uint64_t *, any 64-bit unsigned value */
	OPT_STRING,  /* const char **: points into argv (or at dflt, or the environment) */
	OPT_ENUM,    /* int *: the index of the value in `choices` */
	OPT_LIST,    /* struct opt_list *: every occurrence, in order (--set K=V ...) */
};

enum {
	OPT_REQUIRED = 1 << 0,  /* a usage error when absent; --help says "(required)" */
	OPT_NONEMPTY = 1 << 1,  /* OPT_STRING: "" is a usage error */
};

/* The values of a repeatable option, in the order given; they point into argv. */
#define OPT_LIST_MAX 64
struct opt_list {
	const char *v[OPT_LIST_MAX];
	int n;                  /* more than OPT_LIST_MAX is a usage error */
};

struct opt {
	const char *name;       /* without dashes; one letter: short option; NULL ends a table */
	enum opt_kind kind;
	void *target;           /* where the value goes */
	const char *metavar;    /* the value in --help ("N", "DIR"); NULL: "VALUE" */
	double min, max;        /* accepted range (OPT_INT, OPT_DOUBLE, OPT_FLOAT) */
	unsigned flags;         /* OPT_REQUIRED, OPT_NONEMPTY */
	const char *help;       /* one line */
	const char *dflt;       /* the default as text (see above); NULL: --help shows the
	                           target's current value instead */
	const char *env;        /* environment variable overriding dflt, or NULL */
	const char *const *choices; /* OPT_ENUM: the accepted values, NULL-terminated */
};

struct opts_spec {
	const struct opt *opts; /* the table, ended by a NULL name */
	int min_args, max_args; /* positional arguments accepted */
	const char *args;       /* their name for "missing ARGS" ("FILE"), or NULL */
	bool version;           /* --version is an option (OPTS_VERSION) */
	bool abbrev;            /* a long option may be abbreviated to a prefix that no
	                           other option shares (--verb for --verbose; getopt_long's
	                           rule, which the CLI has always had) */
};

enum { OPTS_RUN = 0, OPTS_HELP = 1, OPTS_VERSION = 2 };

/* Fill every target from its env variable or dflt; -1 (a bad default or environment
 * value) with err filled. */
int opts_defaults(const struct opt *opts, struct err *err);

/* Parse argv[1..argc-1]: OPTS_RUN with *first_arg (may be NULL) the index of the first
 * positional argument; OPTS_HELP or OPTS_VERSION when asked (nothing printed); -1 on a
 * usage error. */
int opts_parse(const struct opts_spec *spec, int argc, char **argv, int *first_arg,
	struct err *err);

/* "--name METAVAR", "--flag" or "-n N", into buf. */
void opts_spell(const struct opt *o, char *buf, size_t cap);

/* One help line per option, "  SPELLING HELP (default X)", the spellings padded to
 * `width` (0: the longest spelling plus one, but at least `min_width`). Returns the
 * width used, for lines the caller adds ("--help"). */
int opts_help(FILE *out, const struct opt *opts, int width, int min_width);

/* A daemon-style program's whole command line (r1flowd, r1flow-worker): fill the
 * defaults, parse argv (no positional arguments), and answer --help and --version on
 * stdout. The help is "usage: PROG [options]", a blank line, `about` (ending in a
 * blank line), the options padded to `width`, then --help and --version; the version
 * line is "PROG VERSION". 0: run; 1: help or version printed (exit 0); -1: usage
 * error in err (exit 2). */
int opts_program(const struct opt *opts, const char *prog, const char *version,
	const char *about, int width, int argc, char **argv, struct err *err);

#endif
