/*
 * r1flow validate — load a pipeline spec the way submit does, without a daemon:
 * say it is fine (and which stages it has), or print the loader's error line. A
 * model.checkpoint directory is checked as submit checks it (checkpoint_check:
 * config.json, and model.safetensors' header and tensors, without loading them).
 */
#include <stdio.h>

#include "checkpoint.h"
#include "cli.h"
#include "client.h"
#include "spec.h"

int cmd_validate(int argc, char **argv)
{
	struct cli_list sets = { .n = 0 };
	bool json = false;
	const struct cli_opt opts[] = {
		CLIENT_SET_OPT(&sets),
		{ "json", CLI_OPT_FLAG, &json, NULL, 0, 0, false,
		  "print the normalised spec (defaults filled in) as JSON", NULL },
		{ NULL, 0, NULL, NULL, 0, 0, false, NULL, NULL },
	};
	const struct cli_verb verb = {
		.name = "validate", .args = "FILE", .min_args = 1, .max_args = 1, .opts = opts,
		.about = "Check the pipeline spec in FILE (YAML) with the --set overrides applied,\n"
			 "exactly as 'r1flow submit' would, without a daemon: a model.checkpoint\n"
			 "directory must hold a supported config.json and a model.safetensors with\n"
			 "its tensors (a model from another pipeline is checked at submit). Prints\n"
			 "'FILE: ok (N stages: a, b)' or the first error as FILE:LINE:COL: ....\n\n"
			 "example: r1flow validate pipelines/probe.yaml --set stages.b.jobs=10\n\n"
			 "exit status: 0 valid, 1 invalid (or unreadable), 2 usage error",
	};
	int first;
	int rc = cli_parse(&verb, argc, argv, &first);
	if (rc != CLI_CONTINUE)
		return rc;
	const char *file = argv[first];
	json_t *spec = NULL;
	struct err e = { 0 };
	if (spec_load_file(file, sets.v, (size_t)sets.n, &spec, &e) < 0) {
		cli_error("validate", "%s", e.msg);
		return CLI_EXIT_FAIL;
	}
	const char *dir = json_string_value(json_object_get(json_object_get(spec, "model"),
		"checkpoint"));
	if (dir && checkpoint_check(dir, NULL, &e) < 0) {
		cli_error("validate", "%s: model.checkpoint: %s", file, e.msg);
		json_decref(spec);
		return CLI_EXIT_FAIL;
	}
	rc = CLI_EXIT_OK;
	if (json) {
		rc = client_print_json("validate", spec);
	} else {
		json_t *stages = json_object_get(spec, "stages");
		printf("%s: ok (%zu stage%s", file, json_array_size(stages),
			json_array_size(stages) == 1 ? "" : "s");
		size_t i;
		json_t *st;
		json_array_foreach(stages, i, st)
			{
			const char *name = json_string_value(json_object_get(st, "name"));
			printf("%s%s", i ? ", " : ": ", name ? name : "?");
		}
		printf(")\n");
	}
	json_decref(spec);
	return rc;
}
