/*
 * r1flow run — the embedded default: a daemon and N local workers as child
 * processes on a private data directory, one pipeline submitted, watched to its
 * end, the final status and the eval report printed, everything stopped.
 *
 * Order: validate the spec (nothing starts for a bad file) → the data directory
 * (--data DIR, or a fresh mkdtemp one) → r1flowd, waited for until its `status`
 * answers with its own pid (so a daemon already serving DIR is never mistaken for
 * ours) → N r1flow-worker named local-1..N, waited for until the daemon counts them
 * → submit → watch (view.h) → status table and report (cmd_report.c) → stop
 * workers (they drain), then the daemon: SIGTERM, SIGKILL after 5 s, reaped.
 *
 * The data directory holds what the run made (database, weights, logs): it is kept
 * and named at the start and at the end. --rm removes a fresh one at the end, except
 * after an error or a failed pipeline, when its logs are the evidence; a --data DIR
 * is never removed.
 *
 * SIGINT, SIGTERM, SIGHUP: cancel the pipeline (pipeline_cancel, so workers drop
 * its jobs and stop at once), stop the children the same way, exit 130. The
 * children sit in their own process group, so a Ctrl-C at the terminal reaches only
 * us and nothing stops before the cancel is sent; they also die with us if we are
 * killed outright (procs.h).
 *
 * A child that exits early is an error: the daemon at any time; a worker only if it
 * was the last.
 *
 * run_pipeline (run.h) is all of this after the option parsing; `r1flow train` runs
 * its own spec through it and exports the result before everything stops.
 */
#define _XOPEN_SOURCE 700 /* nftw */

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "clock.h"
#include "procs.h"
#include "run.h"
#include "view.h"

#define RUN_START_TIMEOUT_MS 20000  /* daemon answering, workers registered */
#define RUN_CANCEL_TIMEOUT_MS 3000

static volatile sig_atomic_t run_signal; /* the signal that asked us to stop */

static void run_on_signal(int sig)
{
	run_signal = sig;
}

/* No SA_RESTART: a signal cuts waits short (zmq_poll, nanosleep) so we act on it. */
static void run_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = run_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

struct run {
	const char *verb;          /* whose errors these are: "run", "train" */
	const char *dir;           /* the data directory */
	char tmpl[CLIENT_PATH_MAX]; /* the mkdtemp one, when we made it */
	bool tmp;                  /* dir is the mkdtemp one: --rm may remove it */
	int workers;
	int threads;               /* per worker; 0: the CPUs shared out */
	struct procs procs;        /* [0] r1flowd, [1..workers] r1flow-worker */
	size_t workers_alive;
	int64_t id;                /* the pipeline, once submitted; 0 before */
	const char *http;          /* r1flowd's --http, or NULL */
	const char *http_token_file;
	bool json;                 /* --json: stdout is the final document only */
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* The last non-empty line of a child's log, for the error that reports its death. */
static void log_tail(const char *path, char *out, size_t size)
{
	out[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[1024];
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0])
			snprintf(out, size, "%s", line);
	}
	fclose(f);
}

/* A child that should be running has exited: -1 and err (the daemon, the last
 * worker), or a warning and 0 (a worker whose jobs the others take over). */
static int run_check(void *arg, struct err *err)
{
	struct run *r = arg;
	struct proc *dead;
	while ((dead = procs_reap(&r->procs))) {
		char how[64], tail[1024];
		procs_describe(dead, how, sizeof how);
		log_tail(dead->log, tail, sizeof tail);
		if (dead == &r->procs.list[0])
			return err_set(err, ERR_IO, "r1flowd %s (log %s%s%s)", how, dead->log,
				tail[0] ? ": " : "", tail);
		if (--r->workers_alive == 0)
			return err_set(err, ERR_IO, "every worker exited; the last, %s, %s (log %s%s%s)",
				dead->name, how, dead->log, tail[0] ? ": " : "", tail);
		cli_error(r->verb, "worker %s %s (log %s); %zu left", dead->name, how, dead->log,
			r->workers_alive);
	}
	return 0;
}

/* Wait until the daemon answers `status` as our child and counts `want` workers. */
static int run_wait_ready(struct run *r, struct client *c, size_t want, struct err *err)
{
	double deadline = clock_mono_s() + RUN_START_TIMEOUT_MS / 1000.0;
	const struct client_addr addr = { .data = r->dir };
	pid_t daemon_pid = r->procs.list[0].pid;
	for (;;) {
		if (run_signal)
			return err_set(err, ERR_IO, "interrupted");
		if (run_check(r, err) < 0)
			return -1;
		struct err e = { 0 };
		if (!c->sock && client_open(c, &addr, &e) == 0) {
			c->timeout_ms = 2000;
			c->check = run_check;
			c->check_arg = r;
		}
		if (c->sock) {
			json_t *st = client_call(c, json_pack("{ss}", "op", "status"), &e);
			if (st) {
				int64_t pid = json_integer_value(json_object_get(st, "pid"));
				int64_t live = json_integer_value(json_object_get(st, "workers"));
				json_decref(st);
				if (pid != daemon_pid)
					return err_set(err, ERR_INVALID, "another daemon (pid %lld) answers "
						"on '%s'", (long long)pid, c->endpoint);
				if (live >= (int64_t)want) {
					c->timeout_ms = CLIENT_TIMEOUT_MS;
					return 0;
				}
			} else if (c->broken) {
				client_close(c);
			}
		}
		if (clock_mono_s() > deadline) {
			if (want == 0)
				return err_set(err, ERR_IO, "r1flowd did not answer within %d s (log %s)",
					RUN_START_TIMEOUT_MS / 1000, r->procs.list[0].log);
			return err_set(err, ERR_IO, "fewer than %zu workers registered within %d s "
				"(logs in %s/logs)", want, RUN_START_TIMEOUT_MS / 1000, r->dir);
		}
		sleep_ms(50);
	}
}

/* The dashboard's address, from DIR/http.addr (written before the daemon answers). */
static void run_say_http(const struct run *r)
{
	char path[CLIENT_PATH_MAX + 16], addr[128] = "";
	snprintf(path, sizeof path, "%s/http.addr", r->dir);
	FILE *f = fopen(path, "r");
	if (f) {
		if (!fgets(addr, sizeof addr, f))
			addr[0] = '\0';
		fclose(f);
	}
	addr[strcspn(addr, "\n")] = '\0';
	if (addr[0])
		fprintf(r->json ? stderr : stdout, "dashboard at http://%s/ (metrics: /metrics)\n",
			addr);
	else
		cli_error(r->verb, "r1flowd wrote no '%s'", path);
	fflush(NULL);
}

static int run_start(struct run *r, struct client *c, struct err *err)
{
	char daemon_path[4200], worker_path[4200], log[4200], name[32];
	if (procs_find("r1flowd", "R1FLOWD", "../daemon/r1flowd", daemon_path,
		sizeof daemon_path, err) < 0 ||
		procs_find("r1flow-worker", "R1FLOW_WORKER", "../workers/r1flow-worker", worker_path,
		sizeof worker_path, err) < 0)
		return -1;
	snprintf(log, sizeof log, "%s/logs", r->dir);
	if (mkdir(log, 0700) < 0 && errno != EEXIST)
		return err_set(err, ERR_IO, "cannot create '%s': %s", log, strerror(errno));

	snprintf(log, sizeof log, "%s/logs/r1flowd.log", r->dir);
	char *dargv[8] = { daemon_path, "--data", (char *)r->dir, NULL };
	int na = 3;
	if (r->http) {
		dargv[na++] = "--http";
		dargv[na++] = (char *)r->http;
	}
	if (r->http_token_file) {
		dargv[na++] = "--http-token-file";
		dargv[na++] = (char *)r->http_token_file;
	}
	dargv[na] = NULL;
	if (procs_spawn(&r->procs, "r1flowd", dargv, log, err) < 0 ||
		run_wait_ready(r, c, 0, err) < 0)
		return -1;
	if (r->http)
		run_say_http(r);
	for (int k = 1; k <= r->workers; k++) {
		snprintf(name, sizeof name, "local-%d", k);
		snprintf(log, sizeof log, "%s/logs/%s.log", r->dir, name);
		/* the machine's CPUs shared out: threads of several workers must not fight */
		char threads[24];
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		snprintf(threads, sizeof threads, "%ld", r->threads > 0 ? (long)r->threads :
			cpus > r->workers ? cpus / r->workers : 1);
		char *wargv[] = { worker_path, "--data", (char *)r->dir, "--name", name,
			"--threads", threads, NULL };
		if (procs_spawn(&r->procs, name, wargv, log, err) < 0)
			return -1;
		r->workers_alive++;
	}
	return run_wait_ready(r, c, (size_t)r->workers, err);
}

/* The `report` reply of our pipeline (the caller's), or NULL after saying why. */
static json_t *run_report(struct run *r, struct client *c)
{
	struct err e = { 0 };
	json_t *rep = client_call(c, json_pack("{ss sI}", "op", "report", "id", (json_int_t)r->id),
		&e);
	if (!rep)
		cli_error(r->verb, "cannot get the report of pipeline %lld: %s", (long long)r->id,
			e.msg);
	return rep;
}

/* Where the data is, and how to look at it again. */
static void run_kept(const struct run *r, FILE *out)
{
	fprintf(out, "data kept in %s (database, weights, logs); 'r1flow daemon --data %s' "
		"serves it again\n", r->dir, r->dir);
	fflush(out);
}

/* Ask the daemon to cancel our pipeline, on a fresh connection (a signal may have
 * cut the old one's request short). */
static void run_cancel(struct run *r)
{
	struct client c;
	struct err e = { 0 };
	const struct client_addr addr = { .data = r->dir };
	if (client_open(&c, &addr, &e) == 0) {
		c.timeout_ms = RUN_CANCEL_TIMEOUT_MS;
		json_t *reply = client_call(&c, json_pack("{ss sI}", "op", "pipeline_cancel", "id",
			(json_int_t)r->id), &e);
		json_decref(reply);
	}
	client_close(&c);
	if (e.msg[0])
		cli_error(r->verb, "cannot cancel pipeline %lld: %s", (long long)r->id, e.msg);
}

int cmd_run(int argc, char **argv)
{
	struct opt_list sets = { .n = 0 };
	const char *data = NULL, *http = NULL, *http_token_file = NULL;
	int workers = 0, threads = 0;
	bool rm = false, json = false, plain = false;
	const struct opt opts[] = {
		{ "workers", OPT_INT, &workers, "N", 1, PROCS_MAX - 1, 0,
		  "local worker processes", "by the model's size, see above" },
		{ "threads", OPT_INT, &threads, "N", 1, 1024, 0,
		  "compute threads per worker", "the CPUs shared out among the workers" },
		{ "data", OPT_STRING, &data, "DIR", 0, 0, 0,
		  "data directory to run in (created if missing, kept afterwards)",
		  "a fresh $TMPDIR/r1flow-run.XXXXXX (/tmp without TMPDIR)" },
		{ "rm", OPT_FLAG, &rm, NULL, 0, 0, 0,
		  "remove the fresh data directory at the end (not after a failure); not with --data",
		  NULL },
		CLIENT_SET_OPT(&sets),
		{ "http", OPT_STRING, &http, "ADDR:PORT", 0, 0, 0,
		  "the daemon also serves the dashboard and /metrics there (r1flowd --http; port 0: "
		  "a free one, printed)", NULL },
		{ "http-token-file", OPT_STRING, &http_token_file, "FILE", 0, 0, 0,
		  "the token its http requests need (r1flowd --http-token-file)", NULL },
		{ "plain", OPT_FLAG, &plain, NULL, 0, 0, 0,
		  "timestamped progress lines even on a terminal", NULL },
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "no progress display; at the end print the final status as JSON, the report's "
		  "rows as \"report\"", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "run", .args = "FILE", .min_args = 1, .max_args = 1, .opts = opts,
		.about = "Run the pipeline in FILE on this machine, start to finish: validate it,\n"
			 "start a daemon and N workers as child processes (their logs in DIR/logs),\n"
			 "submit, show progress as 'r1flow watch' does, print the final status and the\n"
			 "eval report (as 'r1flow report' does), and stop them all. Ctrl-C cancels the\n"
			 "pipeline and stops everything. The data directory (database, weights, logs)\n"
			 "is kept and named at the start and the end: 'r1flow daemon --data DIR' serves\n"
			 "it again (report, samples, export ...); --rm removes it instead. With --http\n"
			 "the daemon also serves the dashboard and /metrics (docs/dashboard.md).\n\n"
			 "Without --workers, run picks the split of the CPUs by the model's size and\n"
			 "says it on stderr: below 20M parameters one worker per CPU with one thread\n"
			 "each (small jobs run faster side by side), else one worker with every CPU\n"
			 "(also when the size is not known before the run: a model from another\n"
			 "pipeline). --workers and --threads override either part.\n\n"
			 "example: r1flow run pipelines/probe.yaml --workers 2\n\n"
			 "exit status: 0 the pipeline succeeded, 1 it failed or was cancelled or\n"
			 "could not be run, 2 usage error, 130 interrupted",
	};
	int first;
	int rc = cli_parse(&verb, argc, argv, &first);
	if (rc != CLI_CONTINUE)
		return rc;
	if (rm && data)
		return cli_usage_error("run", "--rm removes only the fresh directory run makes; a "
			"--data DIR is always kept");
	const struct run_args a = { .verb = "run", .file = argv[first], .sets = &sets,
		.data = data, .workers = workers, .threads = threads, .rm = rm, .json = json, .plain = plain,
		.http = http, .http_token_file = http_token_file };
	return run_pipeline(&a);
}

int run_pipeline(const struct run_args *a)
{
	const char *file = a->file, *data = a->data, *vname = a->verb;
	int workers = a->workers, rc;
	bool rm = a->rm, json = a->json, plain = a->plain;
	struct err e = { 0 };
	json_t *req = client_submit_request(file, a->sets, &e);
	if (!req) {
		cli_error(vname, "%s", e.msg);
		return CLI_EXIT_FAIL;
	}

	struct run *r = calloc(1, sizeof *r);
	struct client c;
	struct view v;
	json_t *last = NULL;
	bool keep_dir = !rm, tty = !plain && !json && isatty(STDOUT_FILENO);
	memset(&c, 0, sizeof c);
	view_init(&v, stdout, tty);
	rc = CLI_EXIT_FAIL;
	if (!r) {
		cli_error(vname, "out of memory");
		goto out;
	}
	int threads = a->threads;
	if (workers <= 0) {
		char why[200];
		int t = 0;
		run_split(json_object_get(req, "spec"), sysconf(_SC_NPROCESSORS_ONLN), &workers, &t,
			why, sizeof why);
		if (threads <= 0)
			threads = t;
		else
			snprintf(why + strlen(why), sizeof why - strlen(why), " (%d thread%s: --threads)",
				threads, threads == 1 ? "" : "s");
		/* said on stderr, so a --json run's stdout stays one document */
		fprintf(stderr, "%s: picked %s; --workers and --threads override\n", vname, why);
	}
	r->verb = vname;
	r->http = a->http;
	r->http_token_file = a->http_token_file;
	r->json = json;
	r->workers = workers;
	r->threads = threads;
	if (data) {
		struct client_addr addr = { .data = data };
		struct client probe;
		if (client_open(&probe, &addr, &e) == 0) {
			client_close(&probe);
			cli_error(vname, "a daemon already serves '%s': submit to it with 'r1flow "
				"submit --data %s %s', or run elsewhere", data, data, file);
			goto out;
		}
		client_close(&probe);
		if (mkdir(data, 0700) < 0 && errno != EEXIST) {
			cli_error(vname, "cannot create '%s': %s", data, strerror(errno));
			goto out;
		}
		r->dir = data;
	} else {
		const char *tmp = getenv("TMPDIR");
		if (!tmp || !tmp[0])
			tmp = "/tmp";
		if (snprintf(r->tmpl, sizeof r->tmpl, "%s/r1flow-run.XXXXXX", tmp) >=
			(int)sizeof r->tmpl || !mkdtemp(r->tmpl)) {
			cli_error(vname, "cannot create a directory in '%s': %s", tmp,
				strlen(tmp) + 20 >= sizeof r->tmpl ? "path too long" : strerror(errno));
			goto out;
		}
		r->dir = r->tmpl;
		r->tmp = true;
	}

	run_signals();
	e.msg[0] = '\0';
	if (run_start(r, &c, &e) < 0)
		goto failed;

	json_t *sub = client_call(&c, req, &e);
	req = NULL;
	if (!sub)
		goto failed;
	r->id = json_integer_value(json_object_get(sub, "id"));
	if (!json)
		printf("pipeline %lld '%s' submitted to %d local worker%s (data %s)\n",
			(long long)r->id, json_string_value(json_object_get(sub, "name")) ?
			json_string_value(json_object_get(sub, "name")) : "?", workers,
			workers == 1 ? "" : "s", r->dir);
	json_decref(sub);
	fflush(stdout);

	const struct view_hooks hooks = { .stop = &run_signal, .check = run_check, .arg = r };
	if (view_follow(&c, r->id, json ? NULL : &v, &hooks, &last, &e) < 0)
		goto failed;
	const char *state = json_string_value(json_object_get(json_object_get(last, "pipeline"),
		"state"));
	rc = state && strcmp(state, "succeeded") == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	if (rc != CLI_EXIT_OK)
		keep_dir = true;  /* what failed is in the database and the logs */
	json_t *report = run_report(r, &c);
	if (json) {
		if (report)
			json_object_set(last, "report", json_object_get(report, "rows"));
		if (client_print_json(vname, last) != CLI_EXIT_OK)
			rc = CLI_EXIT_FAIL;
	} else {
		printf("\n");
		view_status(stdout, last, clock_wall_ms());
		if (report && json_array_size(json_object_get(report, "rows")) > 0) {
			printf("\n");
			report_table(report);
		}
	}
	json_decref(report);
	if (rc == CLI_EXIT_OK && a->done && a->done(&c, r->id, a->arg, &e) < 0) {
		cli_error(vname, "%s", e.msg);
		rc = CLI_EXIT_FAIL;
		keep_dir = true;
	}
	goto out;

failed:
	if (run_signal) {
		if (tty)
			printf("\n");
		if (r->id) {
			cli_error(vname, "interrupted: cancelling pipeline %lld and stopping the "
				"daemon and workers", (long long)r->id);
			run_cancel(r);
		} else {
			cli_error(vname, "interrupted: stopping the daemon and workers");
		}
		rc = 130;
	} else {
		cli_error(vname, "%s", e.msg);
		keep_dir = true;  /* the logs say what went wrong */
	}
out:
	fflush(stdout);
	client_close(&c);
	json_decref(req);
	json_decref(last);
	view_release(&v);
	if (r) {
		/* workers first, so they drain against a live daemon; then the daemon */
		if (r->procs.n > 1)
			procs_stop(&r->procs, 1, r->procs.n, PROCS_GRACE_MS);
		if (r->procs.n > 0)
			procs_stop(&r->procs, 0, 1, PROCS_GRACE_MS);
		if (r->tmp && !keep_dir)
			nftw(r->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		else if (r->dir)
			run_kept(r, rc == CLI_EXIT_OK && !json ? stdout : stderr);
	}
	free(r);
	return rc;
}
