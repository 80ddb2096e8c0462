/*
 * chat_cli — a driver for bench/chat_template_parity.sh: reads JSON lines on stdin,
 * each {"messages": [...], "prompt": true|false}, and prints for each one a JSON line
 * {"text": the rendering} by the named format (tasks/chat.h): the SFT rendering, or
 * with "prompt": true the generation prompt. A line chat_parse refuses prints
 * {"error": message}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chat.h"

int main(int argc, char **argv)
{
	struct chat_format f;
	struct err e = { 0 };
	if (argc != 2) {
		fprintf(stderr, "usage: chat_cli chatml|llama3|deepseek < lines.jsonl\n");
		return 2;
	}
	if (chat_format_named(argv[1], &f, &e) < 0) {
		fprintf(stderr, "chat_cli: %s\n", e.msg);
		return 2;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, stdin)) > 0) {
		json_error_t je;
		json_t *in = json_loadb(line, (size_t)len, 0, &je), *out;
		if (!in) {
			fprintf(stderr, "chat_cli: not JSON: %s\n", je.text);
			return 1;
		}
		int prompt = json_is_true(json_object_get(in, "prompt"));
		struct chat c;
		if (chat_parse(json_object_get(in, "messages"), !prompt, &c, &e) < 0) {
			out = json_pack("{ss}", "error", e.msg);
		} else {
			size_t n = chat_max_segs(&c), tlen;
			struct chat_seg *seg = malloc(n * sizeof *seg);
			if (!seg)
				return 1;
			n = prompt ? chat_render_prompt(&f, &c, seg, n) : chat_render(&f, &c, seg, n);
			char *text = chat_join(seg, n, &tlen);
			if (!text)
				return 1;
			out = json_pack("{ss%}", "text", text, tlen);
			free(text);
			free(seg);
		}
		chat_release(&c);
		char *s = json_dumps(out, JSON_COMPACT);
		if (!s)
			return 1;
		puts(s);
		free(s);
		json_decref(out);
		json_decref(in);
	}
	free(line);
	return 0;
}
