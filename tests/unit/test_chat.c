/* chat: conversations rendered as the models' own chat templates render them, the loss
 * on the assistant turns and their end-of-turn token only. The expected texts are what
 * Jinja2 made of the models' tokenizer_config.json chat_template for the same messages
 * (Qwen3, Llama-3.1, DeepSeek-V3; bos_token ""), copied here as facts. */
#include "chat.h"
#include "jsonl.h"
#include "packing.h"
#include "test.h"
#include "testdir.h"
#include "tokenizer.h"

#define T "<think>\\nadd the units first\\n</think>\\n\\n"
#define DS_A "<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>"
#define DS_U "<\xEF\xBD\x9CUser\xEF\xBD\x9C>"
#define DS_EOS "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"

/* Two system messages (one in the middle), two rounds, reasoning in the last answer. */
static const char *const two_systems = "["
	"{\"role\":\"system\",\"content\":\"Be brief.\"},"
	"{\"role\":\"user\",\"content\":\"Name a colour.\"},"
	"{\"role\":\"assistant\",\"content\":\"Blue.\"},"
	"{\"role\":\"system\",\"content\":\"Answer in French.\"},"
	"{\"role\":\"user\",\"content\":\"Another?\"},"
	"{\"role\":\"assistant\",\"content\":\"" T "Rouge.\"}]";

/* White space around every content (Llama-3's template trims it; U+3000 and U+00A0
 * are white space to Python's str.strip too). */
static const char *const spaced = "["
	"{\"role\":\"system\",\"content\":\"  \\n sys \\t\"},"
	"{\"role\":\"user\",\"content\":\"\\u3000 question \\u00a0\\n\"},"
	"{\"role\":\"assistant\",\"content\":\"" T "answer\"}]";

/* The rendering of `messages` (SFT, or the generation prompt): the whole text and the
 * trained segments joined by '|'. Every segment is checked non-empty and the count
 * within chat_max_segs. */
struct rendered {
	char text[1024], trained[512];
};

static void render(const struct chat_format *f, const char *messages, int prompt,
	struct rendered *r)
{
	json_error_t je;
	json_t *j = json_loads(messages, 0, &je);
	CHECK_MSG(j, "%s", je.text);
	struct chat c;
	struct err e = { 0 };
	CHECK_MSG(chat_parse(j, !prompt, &c, &e) == 0, "%s", e.msg);
	struct chat_seg seg[64];
	size_t n = prompt ? chat_render_prompt(f, &c, seg, 64) : chat_render(f, &c, seg, 64);
	CHECK(n <= 64 && n <= chat_max_segs(&c));
	char *s = chat_join(seg, n, NULL);
	CHECK(s && strlen(s) < sizeof r->text);
	strcpy(r->text, s);
	free(s);
	r->trained[0] = 0;
	for (size_t i = 0; i < n; i++) {
		CHECK(seg[i].len > 0 && (seg[i].loss == 0 || seg[i].loss == 1));
		if (!seg[i].loss)
			continue;
		if (r->trained[0])
			strcat(r->trained, "|");
		CHECK(strlen(r->trained) + seg[i].len < sizeof r->trained);
		strncat(r->trained, seg[i].text, seg[i].len);
	}
	chat_release(&c);
	json_decref(j);
}

static struct chat_format named(const char *name)
{
	struct chat_format f;
	struct err e = { 0 };
	CHECK_MSG(chat_format_named(name, &f, &e) == 0, "%s", e.msg);
	return f;
}

#define CHECK_STR(got, want) CHECK_MSG(!strcmp((got), (want)), "got\n%s\nwant\n%s", (got), (want))

#define THINK "<think>\nadd the units first\n</think>\n\n"

static void test_chat__chatml_is_qwens_layout_with_assistant_turns_trained(void)
{
	struct chat_format f = named("chatml");
	struct rendered r;
	render(&f, two_systems, 0, &r);
	CHECK_STR(r.text, "<|im_start|>system\nBe brief.<|im_end|>\n"
		"<|im_start|>user\nName a colour.<|im_end|>\n"
		"<|im_start|>assistant\nBlue.<|im_end|>\n"
		"<|im_start|>system\nAnswer in French.<|im_end|>\n"
		"<|im_start|>user\nAnother?<|im_end|>\n"
		"<|im_start|>assistant\n" THINK "Rouge.<|im_end|>\n");
	/* the header and the newline after <|im_end|> are not trained, <|im_end|> is */
	CHECK_STR(r.trained, "Blue.|<|im_end|>|" THINK "Rouge.|<|im_end|>");
	render(&f, spaced, 0, &r); /* chatml keeps white space as it is */
	CHECK_STR(r.text, "<|im_start|>system\n  \n sys \t<|im_end|>\n"
		"<|im_start|>user\n\xE3\x80\x80 question \xC2\xA0\n<|im_end|>\n"
		"<|im_start|>assistant\n" THINK "answer<|im_end|>\n");
}

static void test_chat__llama3_trims_contents_and_trains_eot(void)
{
	struct chat_format f = named("llama3");
	struct rendered r;
	render(&f, two_systems, 0, &r);
	CHECK_STR(r.text, "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
		"<|start_header_id|>user<|end_header_id|>\n\nName a colour.<|eot_id|>"
		"<|start_header_id|>assistant<|end_header_id|>\n\nBlue.<|eot_id|>"
		"<|start_header_id|>system<|end_header_id|>\n\nAnswer in French.<|eot_id|>"
		"<|start_header_id|>user<|end_header_id|>\n\nAnother?<|eot_id|>"
		"<|start_header_id|>assistant<|end_header_id|>\n\n" THINK "Rouge.<|eot_id|>");
	CHECK_STR(r.trained, "Blue.|<|eot_id|>|" THINK "Rouge.|<|eot_id|>");
	render(&f, spaced, 0, &r);
	CHECK_STR(r.text, "<|start_header_id|>system<|end_header_id|>\n\nsys<|eot_id|>"
		"<|start_header_id|>user<|end_header_id|>\n\nquestion<|eot_id|>"
		"<|start_header_id|>assistant<|end_header_id|>\n\n" THINK "answer<|eot_id|>");
	/* Python's white space: U+001C..U+001F and U+0085 too, and all of it trims away */
	render(&f, "[{\"role\":\"user\",\"content\":\"\\u001f\\u0085x y\\u2028\\u205f\"},"
		"{\"role\":\"assistant\",\"content\":\" \\n\\t \"}]", 0, &r);
	CHECK_STR(r.text, "<|start_header_id|>user<|end_header_id|>\n\nx y<|eot_id|>"
		"<|start_header_id|>assistant<|end_header_id|>\n\n<|eot_id|>");
	CHECK_STR(r.trained, "<|eot_id|>");
}

static void test_chat__deepseek_puts_the_system_prompt_first(void)
{
	struct chat_format f = named("deepseek");
	struct rendered r;
	render(&f, two_systems, 0, &r);
	CHECK_STR(r.text, "Be brief.\n\nAnswer in French." DS_U "Name a colour." DS_A "Blue." DS_EOS
		DS_U "Another?" DS_A THINK "Rouge." DS_EOS);
	CHECK_STR(r.trained, "Blue.|" DS_EOS "|" THINK "Rouge.|" DS_EOS);
	/* the spellings, byte by byte: U+FF5C bars, U+2581 between words */
	CHECK(!strcmp(DS_EOS, "<｜end▁of▁sentence｜>") && !strcmp(DS_A, "<｜Assistant｜>") &&
		!strcmp(DS_U, "<｜User｜>"));
	render(&f, spaced, 0, &r);
	CHECK_STR(r.text, "  \n sys \t" DS_U "\xE3\x80\x80 question \xC2\xA0\n" DS_A THINK "answer"
		DS_EOS);
}

/* An empty answer still teaches the model to stop. */
static void test_chat__empty_assistant_turn_trains_its_end_token(void)
{
	const char *m = "[{\"role\":\"user\",\"content\":\"Say nothing.\"},"
		"{\"role\":\"assistant\",\"content\":\"\"}]";
	struct rendered r;
	struct chat_format f = named("chatml");
	render(&f, m, 0, &r);
	CHECK_STR(r.text, "<|im_start|>user\nSay nothing.<|im_end|>\n<|im_start|>assistant\n"
		"<|im_end|>\n");
	CHECK_STR(r.trained, "<|im_end|>");
	f = named("deepseek");
	render(&f, m, 0, &r);
	CHECK_STR(r.trained, DS_EOS);
}

static void test_chat__prompt_drops_a_final_answer_and_ends_with_the_header(void)
{
	const char *m = "[{\"role\":\"system\",\"content\":\"A\"},"
		"{\"role\":\"user\",\"content\":\"B\"},{\"role\":\"system\",\"content\":\"C\"},"
		"{\"role\":\"user\",\"content\":\"D\"}]";
	const char *answered = "[{\"role\":\"system\",\"content\":\"A\"},"
		"{\"role\":\"user\",\"content\":\"B\"},{\"role\":\"system\",\"content\":\"C\"},"
		"{\"role\":\"user\",\"content\":\"D\"},{\"role\":\"assistant\",\"content\":\"E\"}]";
	static const struct { const char *name, *want; } cases[] = {
		{ "chatml", "<|im_start|>system\nA<|im_end|>\n<|im_start|>user\nB<|im_end|>\n"
			"<|im_start|>system\nC<|im_end|>\n<|im_start|>user\nD<|im_end|>\n"
			"<|im_start|>assistant\n" },
		{ "llama3", "<|start_header_id|>system<|end_header_id|>\n\nA<|eot_id|>"
			"<|start_header_id|>user<|end_header_id|>\n\nB<|eot_id|>"
			"<|start_header_id|>system<|end_header_id|>\n\nC<|eot_id|>"
			"<|start_header_id|>user<|end_header_id|>\n\nD<|eot_id|>"
			"<|start_header_id|>assistant<|end_header_id|>\n\n" },
		{ "deepseek", "A\n\nC" DS_U "B" DS_U "D" DS_A },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct chat_format f = named(cases[i].name);
		struct rendered r;
		render(&f, m, 1, &r);
		CHECK_STR(r.text, cases[i].want);
		CHECK_STR(r.trained, ""); /* a prompt trains nothing */
		render(&f, answered, 1, &r);
		CHECK_STR(r.text, cases[i].want);
	}
	/* an earlier answer stays, only a final one goes */
	struct chat_format f = named("chatml");
	struct rendered r;
	render(&f, "[{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"assistant\",\"content\":"
		"\"Hello!\"},{\"role\":\"user\",\"content\":\"7*6?\"}]", 1, &r);
	CHECK_STR(r.text, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"
		"<|im_start|>user\n7*6?<|im_end|>\n<|im_start|>assistant\n");
}

static int roles(const char *spec, struct chat_format *f, json_t **j, struct err *e)
{
	json_error_t je;
	*j = json_loads(spec, 0, &je);
	CHECK_MSG(*j, "%s", je.text);
	return chat_format_roles(*j, f, e);
}

static void test_chat__role_templates_train_content_and_what_follows(void)
{
	struct chat_format f;
	struct err e = { 0 };
	json_t *j;
	CHECK_MSG(roles("{\"prefix\":\"A chat.\\n\",\"system\":\"[sys] {content}\\n\","
		"\"user\":\"User: {content}\\n\",\"assistant\":\"Bot: <think>{content}</s>\\n\"}",
		&f, &j, &e) == 0, "%s", e.msg);
	struct rendered r;
	/* a literal {content} in a message is not expanded again */
	render(&f, "[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\",\"content\":"
		"\"say {content}\"},{\"role\":\"assistant\",\"content\":\"ok\"},{\"role\":\"user\","
		"\"content\":\"again\"},{\"role\":\"assistant\",\"content\":\"fine\"}]", 0, &r);
	CHECK_STR(r.text, "A chat.\n[sys] S\nUser: say {content}\nBot: <think>ok</s>\n"
		"User: again\nBot: <think>fine</s>\n");
	CHECK_STR(r.trained, "ok|</s>\n|fine|</s>\n");
	render(&f, "[{\"role\":\"user\",\"content\":\"q\"}]", 1, &r);
	CHECK_STR(r.text, "A chat.\nUser: q\nBot: <think>");
	CHECK_STR(r.trained, "");
	json_decref(j);
	/* without a prefix; {content} at the very start and end of templates */
	CHECK_MSG(roles("{\"system\":\"{content}\",\"user\":\"{content}=\",\"assistant\":"
		"\"{content}\"}", &f, &j, &e) == 0, "%s", e.msg);
	render(&f, "[{\"role\":\"user\",\"content\":\"1+1\"},{\"role\":\"assistant\",\"content\":"
		"\"2\"}]", 0, &r);
	CHECK_STR(r.text, "1+1=2");
	CHECK_STR(r.trained, "2");
	json_decref(j);
}

static void test_chat__role_templates_are_checked(void)
{
	static const struct { const char *spec, *msg; } bad[] = {
		{ "{\"system\":\"{content}\",\"user\":\"{content}\"}",
			"chat template: no 'assistant' template" },
		{ "{\"system\":\"{content}\",\"user\":\"U:\",\"assistant\":\"{content}\"}",
			"chat template: 'user' must contain {content} exactly once, it has it nowhere" },
		{ "{\"system\":\"{content}\",\"user\":\"{content}{content}\",\"assistant\":\"{content}\"}",
			"chat template: 'user' must contain {content} exactly once, it has it more than "
			"once" },
		{ "{\"system\":\"{content}\",\"user\":\"{content}\",\"assistant\":\"{content}\","
			"\"tool\":\"{content}\"}",
			"chat template: unknown key 'tool' (system, user, assistant, prefix)" },
		{ "{\"system\":\"{content}\",\"user\":\"{content}\",\"assistant\":\"{content}\","
			"\"prefix\":1}", "chat template: 'prefix' is not a string" },
		{ "[\"{content}\"]", "chat template: not an object of role templates" },
		{ "{\"system\":\"{Content}\",\"user\":\"{content}\",\"assistant\":\"{content}\"}",
			"chat template: 'system' must contain {content} exactly once, it has it nowhere" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct chat_format f;
		struct err e = { 0 };
		json_t *j;
		CHECK_MSG(roles(bad[i].spec, &f, &j, &e) == -1, "%s accepted", bad[i].spec);
		CHECK_STR(e.msg, bad[i].msg);
		CHECK(e.code == ERR_INVALID);
		json_decref(j);
	}
}

static void test_chat__unknown_format_names_the_known_ones(void)
{
	struct chat_format f;
	struct err e = { 0 };
	CHECK(chat_format_named("qwen", &f, &e) == -1);
	CHECK_STR(e.msg, "unknown chat format 'qwen' (chatml, llama3, deepseek)");
	CHECK(chat_format_named(NULL, &f, &e) == -1);
}

static void test_chat__bad_messages_are_refused_naming_the_element(void)
{
	static const struct { const char *messages, *msg; int need; } bad[] = {
		{ "[]", "messages: empty", 1 },
		{ "[]", "messages: empty", 0 },
		{ "{\"role\":\"user\"}", "messages: not an array", 1 },
		{ "[{\"role\":\"user\",\"content\":\"a\"}]", "messages: no assistant turn to train on", 1 },
		{ "[{\"role\":\"user\",\"content\":\"a\"},{\"content\":\"b\"}]",
			"messages[1]: no 'role'", 1 },
		{ "[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"tool\",\"content\":\"b\"}]",
			"messages[1]: role 'tool' is not one of system, user, assistant", 0 },
		{ "[{\"role\":\"User\",\"content\":\"a\"}]",
			"messages[0]: role 'User' is not one of system, user, assistant", 0 },
		{ "[{\"role\":1,\"content\":\"a\"}]", "messages[0]: 'role' is not a string", 0 },
		{ "[{\"role\":\"user\"}]", "messages[0]: no 'content'", 0 },
		{ "[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":null}]",
			"messages[1]: 'content' is not a string", 1 },
		{ "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"}]}]",
			"messages[0]: 'content' is not a string", 0 },
		{ "[\"hi\"]", "messages[0]: not an object", 0 },
		{ "[{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":[]}]",
			"messages[0]: 'tool_calls' cannot be rendered: only text turns are", 1 },
		{ "[{\"role\":\"assistant\",\"content\":\"a\",\"reasoning_content\":\"r\"}]",
			"messages[0]: 'reasoning_content' is not read: put the reasoning in 'content' as "
			"<think>...</think>", 1 },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_error_t je;
		json_t *j = json_loads(bad[i].messages, 0, &je);
		CHECK_MSG(j, "%s", je.text);
		struct chat c;
		struct err e = { 0 };
		CHECK_MSG(chat_parse(j, bad[i].need, &c, &e) == -1, "%s accepted", bad[i].messages);
		CHECK_STR(e.msg, bad[i].msg);
		CHECK(e.code == ERR_FORMAT);
		chat_release(&c);
		json_decref(j);
	}
	/* other keys are ignored; a prompt needs no assistant turn */
	json_t *j = json_loads("[{\"role\":\"user\",\"content\":\"a\",\"name\":\"x\"}]", 0, NULL);
	struct chat c;
	struct err e = { 0 };
	CHECK_MSG(chat_parse(j, 0, &c, &e) == 0, "%s", e.msg);
	CHECK(c.n == 1 && c.msg[0].role == CHAT_USER && c.msg[0].len == 1);
	chat_release(&c);
	json_decref(j);
}

/* Rendering counts every segment but writes only the first cap. */
static void test_chat__render_never_writes_past_cap(void)
{
	json_t *j = json_loads(two_systems, 0, NULL);
	struct chat c;
	struct err e = { 0 };
	CHECK(j && chat_parse(j, 1, &c, &e) == 0);
	const char *names[] = { "chatml", "llama3", "deepseek" };
	for (size_t k = 0; k < 3; k++) {
		struct chat_format f = named(names[k]);
		size_t all = chat_render(&f, &c, NULL, 0), pall = chat_render_prompt(&f, &c, NULL, 0);
		CHECK(all > 0 && all <= chat_max_segs(&c) && pall <= chat_max_segs(&c));
		for (size_t cap = 0; cap <= all; cap++) {
			struct chat_seg seg[64];
			memset(seg, 0xa5, sizeof seg);
			CHECK(chat_render(&f, &c, seg, cap) == all);
			unsigned char *p = (unsigned char *)(seg + cap);
			for (size_t b = 0; b < sizeof seg - cap * sizeof *seg; b++)
				CHECK(p[b] == 0xa5);
		}
	}
	chat_release(&c);
	json_decref(j);
}

/* A JSONL chat line keeps its messages for a chat format and its flattened form for
 * the stages that read a prompt; a bad message fails the line naming FILE:LINE. */
static void test_chat__jsonl_keeps_messages_and_flattens(void)
{
	const char *line = "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, "
		"{\"role\": \"user\", \"content\": \"Q1\"}, {\"role\": \"assistant\", "
		"\"content\": \"A1\"}, {\"role\": \"user\", \"content\": \"Q2\"}, "
		"{\"role\": \"assistant\", \"content\": \"A2\"}], \"answer\": \"2\"}";
	struct jsonl_record r;
	struct err e = { 0 };
	CHECK_MSG(jsonl_parse(line, strlen(line), "c.jsonl", 3, NULL, &r, &e) == 0, "%s", e.msg);
	CHECK_STR(r.prompt, "S\nQ1\nQ2");
	CHECK_STR(r.response, "A2");
	CHECK_STR(r.answer, "2");
	CHECK_STR(r.messages, "[{\"role\":\"system\",\"content\":\"S\"},{\"role\":\"user\","
		"\"content\":\"Q1\"},{\"role\":\"assistant\",\"content\":\"A1\"},{\"role\":"
		"\"user\",\"content\":\"Q2\"},{\"role\":\"assistant\",\"content\":\"A2\"}]");
	jsonl_record_release(&r);
	const char *plain = "{\"prompt\": \"p\", \"response\": \"r\"}";
	CHECK(jsonl_parse(plain, strlen(plain), "c.jsonl", 4, NULL, &r, &e) == 0 && !r.messages);
	jsonl_record_release(&r);
	const char *bad = "{\"messages\": [{\"role\": \"user\", \"content\": \"Q\"}, "
		"{\"role\": \"tool\", \"content\": \"x\"}]}";
	CHECK(jsonl_parse(bad, strlen(bad), "c.jsonl", 5, NULL, &r, &e) == -1);
	CHECK_STR(e.msg, "c.jsonl:5: messages[1]: role 'tool' is not one of system, user, assistant");
	const char *only_answer = "{\"messages\": [{\"role\": \"assistant\", \"content\": \"A\"}]}";
	CHECK(jsonl_parse(only_answer, strlen(only_answer), "c.jsonl", 6, NULL, &r, &e) == -1);
	CHECK_STR(e.msg, "c.jsonl:6: 'messages' needs a user or system turn");
}

static struct chat parse_ok(const char *messages, json_t **j)
{
	json_error_t je;
	*j = json_loads(messages, 0, &je);
	CHECK_MSG(*j, "%s", je.text);
	struct chat c;
	struct err e = { 0 };
	CHECK_MSG(chat_parse(*j, 1, &c, &e) == 0, "%s", e.msg);
	return c;
}

/* The text of the ids whose mask flag is `flag` (malloc'd). */
static char *decode_masked(struct tokenizer *t, const int *ids, const unsigned char *mask,
	size_t n, int flag)
{
	int *pick = malloc((n + 1) * sizeof *pick);
	size_t k = 0, len;
	for (size_t i = 0; i < n; i++)
		if (mask[i] == flag)
			pick[k++] = ids[i];
	char *s = tokenizer_decode(t, pick, k, &len, NULL);
	CHECK(s);
	free(pick);
	return s;
}

static const char *const two_rounds = "["
	"{\"role\":\"system\",\"content\":\"S\"},"
	"{\"role\":\"user\",\"content\":\"Q1\"},"
	"{\"role\":\"assistant\",\"content\":\"A1\"},"
	"{\"role\":\"user\",\"content\":\"Q2\"},"
	"{\"role\":\"assistant\",\"content\":\"A2\"}]";

/* With the byte tokenizer: <|bos|>, then the rendering; the mask covers the answers
 * and their end-of-turn text, nothing else, and the first trained id is *start. */
static void test_chat__pack_masks_the_assistant_turns(void)
{
	struct model_config cfg;
	struct tokenizer t;
	config_defaults(&cfg);
	tokenizer_bytes(&t, &cfg);
	json_t *j;
	struct chat c = parse_ok(two_rounds, &j);
	struct chat_format f = named("chatml");
	int ids[256];
	unsigned char mask[256];
	size_t start;
	struct err e = { 0 };
	int64_t n = pack_chat(&t, &f, &c, ids, mask, 256, &start, &e);
	const char *text = "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n"
		"<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n"
		"<|im_start|>assistant\nA2<|im_end|>\n";
	CHECK(n == 1 + (int64_t)strlen(text) && ids[0] == TOK_BOS && mask[0] == 0);
	CHECK(start == 1 + (size_t)(strstr(text, "A1") - text) && mask[start] && !mask[start - 1]);
	char *trained = decode_masked(&t, ids, mask, (size_t)n, 1);
	char *rest = decode_masked(&t, ids, mask, (size_t)n, 0);
	CHECK_STR(trained, "A1<|im_end|>A2<|im_end|>");
	CHECK_STR(rest, "<|bos|><|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n"
		"<|im_start|>assistant\n\n<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n\n");
	free(trained);
	free(rest);
	/* a short buffer: the same length, nothing written past it */
	for (size_t cap = 0; cap < 12; cap++) {
		int small[12 + 4];
		unsigned char smask[12 + 4];
		memset(small, 0x7f, sizeof small);
		memset(smask, 0x7f, sizeof smask);
		size_t s2;
		CHECK(pack_chat(&t, &f, &c, small, smask, cap, &s2, &e) == n && s2 == start);
		for (size_t i = cap; i < 12 + 4; i++)
			CHECK(small[i] == 0x7f7f7f7f && smask[i] == 0x7f);
	}
	CHECK(pack_chat(&t, &f, &c, NULL, NULL, 0, &start, &e) == n);
	/* role templates with the byte tokenizer's own end token: one trained id each */
	json_t *rj;
	CHECK_MSG(roles("{\"system\":\"{content}\\n\",\"user\":\"Q: {content}\\n\","
		"\"assistant\":\"A: {content}<|eos|>\"}", &f, &rj, &e) == 0, "%s", e.msg);
	n = pack_chat(&t, &f, &c, ids, mask, 256, &start, &e);
	trained = decode_masked(&t, ids, mask, (size_t)n, 1);
	CHECK_STR(trained, "A1<|eos|>A2<|eos|>");
	int eos_trained = 0;
	for (int64_t i = 0; i < n; i++)
		eos_trained += ids[i] == TOK_EOS && mask[i];
	CHECK(eos_trained == 2 && ids[n - 1] == TOK_EOS && n == 1 + 2 + 6 + 6 + 6 + 6);
	free(trained);
	json_decref(rj);
	chat_release(&c);
	json_decref(j);
}

/* A byte-level BPE tokenizer.json (GPT-2's byte-to-character map, one id per byte, no
 * merges) with <|im_start|> and <|im_end|> as added special tokens 256 and 257, and a
 * tokenizer_config.json like Qwen's: no BOS, <|im_end|> the EOS. */
static void write_chatml_tokenizer(char *json, char *config, size_t cap)
{
	char *v = malloc(256 * 16 + 1024), *p = v;
	int n = 0;
	for (int b = 0; b < 256; b++) {
		int visible = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
		int cp = visible ? b : 256 + n++;
		p += sprintf(p, "%s\"\\u%04x\": %d", b ? ", " : "", cp, b);
	}
	char *doc = malloc(256 * 16 + 2048);
	sprintf(doc, "{\"model\": {\"type\": \"BPE\", \"vocab\": {%s}, \"merges\": []}, "
		"\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, "
		"\"use_regex\": true}, \"decoder\": {\"type\": \"ByteLevel\"}, "
		"\"added_tokens\": [{\"id\": 256, \"content\": \"<|im_start|>\", \"special\": true}, "
		"{\"id\": 257, \"content\": \"<|im_end|>\", \"special\": true}]}", v);
	testdir_new("chattok");
	snprintf(json, cap, "%s/" TOKENIZER_JSON, testdir);
	testdir_write(json, doc, strlen(doc));
	const char *cfg = "{\"bos_token\": null, \"eos_token\": \"<|im_end|>\", "
		"\"add_bos_token\": false}";
	snprintf(config, cap, "%s/" TOKENIZER_CONFIG, testdir);
	testdir_write(config, cfg, strlen(cfg));
	free(v);
	free(doc);
}

/* Through a Hugging Face tokenizer: the format's special-token text is matched as the
 * added tokens, so each <|im_end|> is one id — trained after an answer, not after a
 * question — and the trained ids are exactly the answers' and their <|im_end|>. */
static void test_chat__pack_on_a_hugging_face_tokenizer(void)
{
	char json[1200], config[1200];
	write_chatml_tokenizer(json, config, sizeof json);
	struct model_config cfg;
	config_defaults(&cfg);
	cfg.vocab = cfg.bos_id = cfg.eos_id = cfg.pad_id = -1;
	struct tokenizer t;
	struct err e = { 0 };
	CHECK_MSG(tokenizer_load(&t, json, config, NULL, &cfg, &e) == 0, "%s", e.msg);
	CHECK(!t.add_bos && t.eos_id == 257);
	json_t *j;
	struct chat c = parse_ok(two_rounds, &j);
	struct chat_format f = named("chatml");
	int ids[256];
	unsigned char mask[256];
	size_t start;
	int64_t n = pack_chat(&t, &f, &c, ids, mask, 256, &start, &e);
	CHECK_MSG(n > 0, "%s", e.msg);
	int starts = 0, ends = 0, ends_trained = 0;
	for (int64_t i = 0; i < n; i++) {
		starts += ids[i] == 256;
		ends += ids[i] == 257;
		ends_trained += ids[i] == 257 && mask[i];
		CHECK(ids[i] != 256 || !mask[i]);
	}
	CHECK(ids[0] == 256 && starts == 5 && ends == 5 && ends_trained == 2);
	int want[] = { 'A', '1', 257, 'A', '2', 257 }, got[8];
	size_t k = 0;
	for (int64_t i = 0; i < n; i++)
		if (mask[i]) {
			CHECK(k < 8);
			got[k++] = ids[i];
		}
	CHECK(k == 6 && memcmp(got, want, sizeof want) == 0);
	CHECK(ids[start] == 'A' && ids[start - 1] == '\n');
	/* everything else is not trained: the headers, the questions and their ends */
	char *text = decode_masked(&t, ids, mask, (size_t)n, 0);
	CHECK_STR(text, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n"
		"<|im_start|>assistant\n\n<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n\n");
	free(text);
	chat_release(&c);
	json_decref(j);
	tokenizer_release(&t);
	testdir_done();
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_chat__chatml_is_qwens_layout_with_assistant_turns_trained),
		TEST(test_chat__llama3_trims_contents_and_trains_eot),
		TEST(test_chat__deepseek_puts_the_system_prompt_first),
		TEST(test_chat__empty_assistant_turn_trains_its_end_token),
		TEST(test_chat__prompt_drops_a_final_answer_and_ends_with_the_header),
		TEST(test_chat__role_templates_train_content_and_what_follows),
		TEST(test_chat__role_templates_are_checked),
		TEST(test_chat__unknown_format_names_the_known_ones),
		TEST(test_chat__bad_messages_are_refused_naming_the_element),
		TEST(test_chat__render_never_writes_past_cap),
		TEST(test_chat__jsonl_keeps_messages_and_flattens),
		TEST(test_chat__pack_masks_the_assistant_turns),
		TEST(test_chat__pack_on_a_hugging_face_tokenizer),
		{ 0 } });
}
