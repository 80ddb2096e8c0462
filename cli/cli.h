/*
 * cli — the `r1flow` command's verbs and the helpers they share.
 *
 * r1flow.c holds the one command table ({ "score", cmd_score, ... }, git's git.c
 * commands[] style) and dispatches `r1flow VERB ARGS...` to cmd_VERB(argc, argv)
 * with argv[0] == "VERB". A verb returns the process exit status:
 *
 *   0  success
 *   1  failure (the error was printed: one line on stderr, what failed first)
 *   2  usage error (bad or missing option; the line points at --help)
 *
 * Each verb describes its options once, in a `struct cli_opt` table that drives
 * parsing (getopt_long), range checks, the defaults shown and `VERB --help`
 * (Redis static_configs[] style). The defaults are the values the `dst` variables
 * hold before cli_parse runs.
 */
#ifndef R1_CLI_H
#define R1_CLI_H

#include <stdbool.h>

enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

/* cli_parse's result when the verb should go on and run. */
#define CLI_CONTINUE (-1)

int cmd_sample(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_train(int argc, char **argv);

/* Pipelines and the daemon (cmd_<verb>.c; cmd_control.c holds cancel, pause, resume
 * and retry). All but validate talk to a daemon through client.h. */
int cmd_run(int argc, char **argv);
int cmd_daemon(int argc, char **argv);
int cmd_submit(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_retry(int argc, char **argv);
int cmd_workers(int argc, char **argv);
int cmd_drain(int argc, char **argv);
int cmd_keygen(int argc, char **argv);   /* cmd_keygen.c: CURVE keys for tcp clients */

/* What pipelines produced (cmd_metrics.c, cmd_samples.c, cmd_report.c, cmd_export.c;
 * cmd_datasets.c holds datasets and dataset import|export|show). */
int cmd_metrics(int argc, char **argv);
int cmd_samples(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_datasets(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
/* Disk space (cmd_gc.c: gc, and the `dataset delete` subcommand). */
int cmd_gc(int argc, char **argv);
int cmd_dataset_delete(int argc, char **argv);

enum cli_opt_type {
	CLI_OPT_FLAG,   /* bool *: set when present; takes no value */
	CLI_OPT_INT,    /* int *, checked against [min, max] */
	CLI_OPT_FLOAT,  /* float *, finite, checked against [min, max] */
	CLI_OPT_U64,    /* uint64_t *, any 64-bit unsigned value */
	CLI_OPT_STRING, /* const char **: points into argv */
	CLI_OPT_LIST,   /* struct cli_list *: every occurrence, in order (--set K=V ...) */
};

/* The values of a repeatable option; they point into argv. */
#define CLI_LIST_MAX 64
struct cli_list {
	const char *v[CLI_LIST_MAX]; /* values in the order given */
	int n;                        /* how many; more than CLI_LIST_MAX is a usage error */
};

struct cli_opt {
	const char *name;       /* long name without "--"; NULL ends a table; a one-letter
	                           name is a short option instead ("f" is -f) */
	enum cli_opt_type type;
	void *dst;              /* where the value goes; its prior value is the default */
	const char *metavar;    /* "N", "DIR" in usage and help (unused for flags) */
	double min, max;        /* accepted range (CLI_OPT_INT, CLI_OPT_FLOAT) */
	bool required;          /* a usage error when absent */
	const char *help;       /* one line */
	const char *dflt;       /* default shown in help instead of *dst's value, or NULL */
};

struct cli_verb {
	const char *name;          /* "score" */
	const char *args;          /* positional arguments for the usage line ("FILE"), or NULL */
	int min_args, max_args;    /* how many positional arguments are accepted */
	const char *about;         /* paragraph(s) printed by --help under the usage line */
	const struct cli_opt *opts;
};

/*
 * Parse argv[1..argc-1] against v->opts (-h and --help are built in). Returns
 * CLI_CONTINUE with *first_arg set to the index of the first positional argument
 * (NULL: none expected), or an exit status to return at once: CLI_EXIT_OK after
 * printing the help, CLI_EXIT_USAGE after printing a one-line usage error.
 */
int cli_parse(const struct cli_verb *v, int argc, char **argv, int *first_arg);

/* Print "r1flow VERB: <message>" (or "r1flow: ..." when verb is NULL) on stderr. */
void cli_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A usage error: cli_error plus "; see 'r1flow VERB --help'"; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Seconds on the monotonic clock. */
double cli_now(void);

#endif
