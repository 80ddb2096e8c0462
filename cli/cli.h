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
 * Each verb describes its options once, in a `struct opt` table (base/opts.h) that
 * drives parsing, range checks, the defaults shown and `VERB --help`. The defaults
 * are the values the targets hold before cli_parse runs.
 */
#ifndef R1_CLI_H
#define R1_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "opts.h"

enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

/* cli_parse's result when the verb should go on and run. */
#define CLI_CONTINUE (-1)

int cmd_sample(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
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
int cmd_compare(int argc, char **argv);   /* cmd_compare.c: runs side by side */
struct client_addr;
/* metrics --tensorboard DIR (metrics_tensorboard.c): pipeline `id`'s metrics (only
 * `stage`'s when not NULL) as a TensorBoard event file under DIR; an exit status. */
int metrics_tensorboard(const struct client_addr *addr, int64_t id, const char *stage,
	const char *dir, bool force);
int cmd_samples(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_datasets(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
int cmd_dataset_show(int argc, char **argv); /* cmd_dataset_show.c */
int cmd_dataset_import(int argc, char **argv); /* cmd_dataset_import.c */
/* Records offset.. (at most limit) of dataset NAME as stage `stage` (NULL: the first
 * reading NAME) of the spec in spec_file gives them to the model (tasks/templated.h):
 * printed, as one JSON object, or as JSONL lines (to `path` when not NULL, replaced
 * once complete); dataset show and dataset export --templated. An exit status. */
enum dataset_templated_mode {
	DATASET_TEMPLATED_HUMAN, DATASET_TEMPLATED_JSON, DATASET_TEMPLATED_JSONL
};
struct client_addr;
int dataset_templated(const char *verb, const struct client_addr *addr, const char *name,
	const char *spec_file, const char *stage, int64_t pipeline, int64_t offset,
	int64_t limit, enum dataset_templated_mode mode, const char *path);
/* Disk space (cmd_gc.c: gc, and the `dataset delete` subcommand). */
int cmd_gc(int argc, char **argv);
int cmd_dataset_delete(int argc, char **argv);
/* Rewards (cmd_reward.c: `reward test`, the worker's reward job run here). */
int cmd_reward(int argc, char **argv);

/* cmd_train.c's names for base/opts.h's table (struct opt): the same type, kept until
 * that file is reworked. */
#define cli_opt opt
#define cli_list opt_list
#define cli_now clock_mono_s
#define CLI_OPT_FLAG OPT_FLAG
#define CLI_OPT_INT OPT_INT
#define CLI_OPT_FLOAT OPT_FLOAT
#define CLI_OPT_U64 OPT_U64
#define CLI_OPT_STRING OPT_STRING
#define CLI_OPT_LIST OPT_LIST

struct cli_verb {
	const char *name;          /* "score" */
	const char *args;          /* positional arguments for the usage line ("FILE"), or NULL */
	int min_args, max_args;    /* how many positional arguments are accepted */
	const char *about;         /* paragraph(s) printed by --help under the usage line */
	const struct opt *opts;    /* ended by a NULL name; the targets' values before
	                              cli_parse are the defaults --help shows */
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

#endif
