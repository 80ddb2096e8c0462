/*
 * r1flow — the command-line front end: `r1flow VERB [options]`.
 *
 * One table names every verb (git's git.c commands[]); `r1flow --help` lists it and
 * `r1flow VERB --help` (or `r1flow help VERB`) prints the verb's own help, generated
 * from its option table (cli.h). Exit status: 0 success, 1 failure, 2 usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#ifndef R1FLOW_VERSION
#define R1FLOW_VERSION "unknown"
#endif

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help; /* one line for `r1flow --help` */
};

static const struct cmd commands[] = {
	{ "run", cmd_run, "run a pipeline here: daemon and workers started, watched, stopped" },
	{ "daemon", cmd_daemon, "run the coordinator (r1flowd) in the foreground" },
	{ "submit", cmd_submit, "submit a pipeline spec to the daemon; prints its id" },
	{ "validate", cmd_validate, "check a pipeline spec without submitting it" },
	{ "ls", cmd_ls, "list pipelines, newest first" },
	{ "status", cmd_status, "show a pipeline and its stages" },
	{ "watch", cmd_watch, "follow a pipeline's progress until it ends" },
	{ "logs", cmd_logs, "print a pipeline's events (-f: follow)" },
	{ "cancel", cmd_cancel, "cancel a pipeline" },
	{ "pause", cmd_pause, "pause a pipeline: no new jobs until resumed" },
	{ "resume", cmd_resume, "resume a paused pipeline" },
	{ "retry", cmd_retry, "rerun a failed pipeline from its failed stages" },
	{ "workers", cmd_workers, "list the live workers (--release NAME ends a quarantine)" },
	{ "drain", cmd_drain, "let a worker finish its jobs and leave" },
	{ "keygen", cmd_keygen, "make a CURVE keypair for a worker or client on another machine" },
	{ "metrics", cmd_metrics, "show a pipeline's metrics (--csv/--jsonl [--wide], --tensorboard DIR)" },
	{ "samples", cmd_samples, "show what the model wrote at a step of an RL stage" },
	{ "report", cmd_report, "print a pipeline's eval table (--markdown for a README)" },
	{ "compare", cmd_compare, "compare pipelines: eval tables and final metrics side by side" },
	{ "export", cmd_export, "write a stage's weights as a Hugging Face model directory" },
	{ "datasets", cmd_datasets, "list the datasets: shared and each pipeline's own" },
	{ "dataset", cmd_dataset, "import, export, show or delete a dataset (JSONL)" },
	{ "gc", cmd_gc, "remove the blob files (weights, moments) nothing uses any more" },
	{ "sample", cmd_sample, "generate continuations of a prompt with a model" },
	{ "score", cmd_score, "print a text's log-probability under a model" },
	{ "tokenize", cmd_tokenize, "print a text's token ids under a model's tokenizer (--decode: ids to text)" },
	{ "reward", cmd_reward, "score a completion with one of a spec's rewards, here (reward test)" },
	{ "train", cmd_train, "pretrain a model here on the generated corpus, into a model directory" },
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const struct cmd *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void print_help(void)
{
	printf("usage: r1flow <command> [options]\n"
	       "       r1flow <command> --help\n\n"
	       "commands:\n");
	int width = 0;
	for (size_t i = 0; i < N_COMMANDS; i++)
		if ((int)strlen(commands[i].name) > width)
			width = (int)strlen(commands[i].name);
	for (size_t i = 0; i < N_COMMANDS; i++)
		printf("  %-*s  %s\n", width, commands[i].name, commands[i].help);
	printf("\nexit status: 0 success, 1 failure, 2 usage error\n");
}

/* Like git: a command whose output could not be written has failed. */
static int finish(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error(NULL, "cannot write output: %s", strerror(errno));
		return status ? status : CLI_EXIT_FAIL;
	}
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error(NULL, "no command given");
	const char *verb = argv[1];
	if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0 || strcmp(verb, "help") == 0) {
		if (strcmp(verb, "help") == 0 && argc > 2) {
			const struct cmd *c = find_command(argv[2]);
			if (!c)
				return cli_usage_error(NULL, "'%s' is not a command", argv[2]);
			char *help_argv[] = { (char *)c->name, "--help", NULL };
			return finish(c->fn(2, help_argv));
		}
		print_help();
		return finish(CLI_EXIT_OK);
	}
	if (strcmp(verb, "--version") == 0) {
		printf("r1flow %s\n", R1FLOW_VERSION);
		return finish(CLI_EXIT_OK);
	}
	if (verb[0] == '-')
		return cli_usage_error(NULL, "unknown option '%s'", verb);
	const struct cmd *c = find_command(verb);
	if (!c)
		return cli_usage_error(NULL, "'%s' is not a command", verb);
	return finish(c->fn(argc - 1, argv + 1));
}
