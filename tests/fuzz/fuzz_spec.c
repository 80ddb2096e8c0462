/*
 * fuzz_spec — the pipeline spec loader as a fuzz target (libFuzzer entry point).
 *
 * Properties checked on every input: loading never crashes, leaks or hangs; a
 * failure leaves *out NULL and a one-line message; a success yields a spec that
 * spec_check_json accepts as it is and after a trip through JSON text.
 *
 * gcc builds run the corpus through replay.c (suite unit). With clang:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ipipelines -Ibase \
 *     tests/fuzz/fuzz_spec.c pipelines/spec*.c base/err.c -lyaml -ljansson -lm -o fuzz_spec
 *   ./fuzz_spec -max_len=4096 tests/fuzz/corpus/spec
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *spec = (json_t *)&spec;
	struct err e = { 0 };
	static const char *const sets[] = { "seed=3" };
	/* odd sizes also run with an override, so --set meets odd trees too */
	int rc = spec_load_string((const char *)data, size, "fuzz.yaml", sets, size & 1, &spec, &e);
	if (rc < 0) {
		if (spec != NULL || e.code == ERR_NONE || strchr(e.msg, '\n') || !e.msg[0])
			abort();
		return 0;
	}
	if (rc != 0 || !spec || spec_check_json(spec, &e) != 0)
		abort();
	char *text = json_dumps(spec, JSON_COMPACT);
	json_t *back = text ? json_loads(text, 0, NULL) : NULL;
	if (!back || spec_check_json(back, &e) != 0)
		abort();
	free(text);
	json_decref(back);
	json_decref(spec);
	return 0;
}
