/*
 * r1flow reward test — score one completion with one of a spec's rewards, here,
 * without a daemon, so a user can check a reward (above all a reward program) before
 * a run.
 *
 * It runs what a worker runs: the spec is loaded as submit loads it, a program
 * reward's `files` are pinned as submit pins them (rewardfiles.h) but into a
 * temporary blob directory, and one reward job ({rewards: [the reward], items: [the
 * completion]}) goes through the worker's job_reward_run, sandbox and all. So a file
 * missing from `files`, a program that hangs or a reply that is not JSON fail here
 * the way they would fail the pipeline's jobs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "client.h"
#include "file.h"
#include "job.h"
#include "kinds.h"
#include "rewardext.h"
#include "rewardfiles.h"
#include "sandbox.h"
#include "spec.h"

/* rewardfiles.h's put: blob_dir/<sha256>, as a worker's test blob directory. */
static int reward_put(void *ctx, const void *data, size_t size, char hex[SHA256_HEX_SIZE],
	struct err *err)
{
	char path[4096];
	sha256_buffer(data, size, hex);
	snprintf(path, sizeof path, "%s/%s", (const char *)ctx, hex);
	return file_write_atomic(path, data, size, 0644, err);
}

static void reward_print(const char *name, double weight, const json_t *item)
{
	const json_t *comp = json_object_get(item, "components"), *v;
	const char *k;
	printf("%s: %.6g\n", name, json_number_value(json_object_get(comp, name)));
	json_object_foreach((json_t *)comp, k, v)
		if (strcmp(k, name))
			printf("  %s: %.6g\n", k, json_number_value(v));
	printf("weighted (weight %.6g): %.6g\n", weight,
		json_number_value(json_object_get(item, "total")));
}

static int reward_test(int argc, char **argv)
{
	const char *spec_path = NULL, *name = NULL, *completion = NULL, *answer = NULL;
	const char *prompt = "", *record_text = NULL;
	bool json = false;
	int tokens = -1;
	const struct opt opts[] = {
		{ "spec", OPT_STRING, &spec_path, "FILE", 0, 0, OPT_REQUIRED | OPT_NONEMPTY,
		  "the pipeline spec that defines the reward", NULL },
		{ "reward", OPT_STRING, &name, "NAME", 0, 0, OPT_REQUIRED | OPT_NONEMPTY,
		  "the reward: a key of the spec's rewards", NULL },
		{ "completion", OPT_STRING, &completion, "TEXT", 0, 0, OPT_REQUIRED,
		  "what the model wrote (after the template's \"<think>\")", NULL },
		{ "answer", OPT_STRING, &answer, "A", 0, 0, 0,
		  "the record's reference answer", "none" },
		{ "prompt", OPT_STRING, &prompt, "P", 0, 0, 0, "the record's prompt", "\"\"" },
		{ "record", OPT_STRING, &record_text, "JSON", 0, 0, 0,
		  "the record's other fields, a JSON object (what program and code rewards read)",
		  "null" },
		{ "tokens", OPT_INT, &tokens, "N", 0, 1e9, 0,
		  "the completion's token count (the length reward)", "its length in bytes" },
		{ "json", OPT_FLAG, &json, NULL, 0, 0, 0,
		  "print {\"components\": {...}, \"total\": T} as JSON", NULL },
		{ NULL },
	};
	const struct cli_verb verb = {
		.name = "reward test", .opts = opts,
		.about = "Score one completion with reward NAME of the spec and print its value, its\n"
			 "components and the weighted total, running what a worker runs: the\n"
			 "built-in functions, and reward programs and the code reward in the same\n"
			 "sandbox (docs/rewards.md). A program's `files` are copied as submit would\n"
			 "store them, so a file missing from the list shows here. No daemon needed.\n"
			 "\n"
			 "example: r1flow reward test --spec my.yaml --reward mine --answer 42 \\\n"
			 "             --completion '12+30=42</think><answer>42</answer>'\n"
			 "\n"
			 "exit status: 0 scored; 1 the reward cannot score the completion (a\n"
			 "program that times out, crashes or replies with something that is not a\n"
			 "reward: the error the pipeline's job would fail with), or the spec or its\n"
			 "files cannot be read; 2 usage error.",
	};
	int rc = cli_parse(&verb, argc, argv, NULL);
	if (rc != CLI_CONTINUE)
		return rc;
	struct err e = { 0 };
	json_t *spec = NULL, *record = NULL, *params = NULL, *one = NULL;
	struct job_output out = { 0 };
	char dir[4096] = "";
	rc = CLI_EXIT_FAIL;
	if (record_text) {
		json_error_t je;
		record = json_loads(record_text, JSON_DECODE_ANY, &je);
		if (!json_is_object(record) && !json_is_null(record)) {
			json_decref(record);
			return cli_usage_error("reward test", "--record: expected a JSON object%s%s",
				record ? "" : ": ", record ? "" : je.text);
		}
	}
	if (spec_load_file(spec_path, NULL, 0, &spec, &e) < 0) {
		cli_error("reward test", "%s", e.msg);
		goto out;
	}
	json_t *r = json_object_get(json_object_get(spec, "rewards"), name);
	if (!r) {
		const char *k;
		json_t *v;
		char names[512] = "";
		size_t used = 0;
		json_object_foreach(json_object_get(spec, "rewards"), k, v)
			used += (size_t)snprintf(names + used, used < sizeof names ? sizeof names - used : 0,
				"%s'%s'", used ? ", " : "", k);
		cli_error("reward test", "%s: no reward named '%s' (%s%s)", spec_path, name,
			used ? "the spec has " : "the spec has no rewards", names);
		goto out;
	}
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/r1flow-reward-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		cli_error("reward test", "cannot create a directory in '%s': %s",
			tmp && *tmp ? tmp : "/tmp", strerror(errno));
		dir[0] = '\0';
		goto out;
	}
	one = json_pack("{s{sO}}", "rewards", name, r);
	if (!one || rewardfiles_pin(one, reward_put, dir, &e) < 0) {
		cli_error("reward test", "%s: %s", spec_path, one ? e.msg : "out of memory");
		goto out;
	}
	r = json_object_get(json_object_get(one, "rewards"), name);
	json_object_set_new(r, "name", json_string(name));
	params = json_pack("{s[O] s[{ss ss# ss* sI sO?}]}", "rewards", r, "items", "prompt", prompt,
		"completion", completion, (int)strlen(completion), "answer", answer,
		"tokens", (json_int_t)(tokens >= 0 ? tokens : (int)strlen(completion)), "record", record);
	if (!params) {
		cli_error("reward test", "cannot build the reward job: --prompt, --completion and "
			"--answer must be UTF-8 text");
		goto out;
	}
	struct job job = { .kind = "reward", .params = params, .blob_dir = dir };
	if (job_reward_run(&job, &out, &e) < 0) {
		cli_error("reward test", "%s", e.msg);
		goto out;
	}
	const json_t *item = json_array_get(json_object_get(out.result, "items"), 0);
	if (json)
		rc = client_print_json("reward test", item);
	else {
		reward_print(name, json_number_value(json_object_get(r, "weight")), item);
		rc = CLI_EXIT_OK;
	}
out:
	rewardext_clear();
	if (dir[0])
		sandbox_rmtree(dir);
	json_decref(out.result);
	json_decref(out.stats);
	json_decref(params);
	json_decref(one);
	json_decref(record);
	json_decref(spec);
	return rc;
}

int cmd_reward(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("reward", "missing a subcommand: test");
	const char *sub = argv[1];
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
		printf("usage: r1flow reward test --spec FILE --reward NAME --completion TEXT "
		       "[options]\n\n"
		       "subcommands:\n"
		       "  test  score one completion with one of a spec's rewards, here, as a worker "
		       "would\n\n"
		       "See 'r1flow reward test --help'.\n");
		return CLI_EXIT_OK;
	}
	if (!strcmp(sub, "test"))
		return reward_test(argc - 1, argv + 1);
	if (sub[0] == '-')
		return cli_usage_error("reward", "unknown option '%s' (give a subcommand first: test)",
			sub);
	return cli_usage_error("reward", "'%s' is not a subcommand: test", sub);
}
