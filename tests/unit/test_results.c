/* results_check: each job kind's good result passes; each malformed one is refused
 * with a reason that names what is wrong. */
#include <stdint.h>

#include "checkpoint.h"
#include "config.h"
#include "results.h"
#include "test.h"

/* vocab 16, max_seq 8: small enough to hit every bound */
#define CONFIG "{\"vocab_size\":16,\"hidden_size\":8,\"intermediate_size\":16," \
	"\"num_hidden_layers\":1,\"num_attention_heads\":2,\"max_position_embeddings\":8," \
	"\"bos_token_id\":1,\"eos_token_id\":2,\"pad_token_id\":3}"

static json_t *js(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, 0, &jerr);
	CHECK_MSG(v != NULL, "%s: %s", text, jerr.text);
	return v;
}

/* The uploads' verdict check() passes (results.h): NULL, blobs that came as frames. */
static const int64_t *verdict;

/* results_check on JSON texts; returns its rc and leaves the reason in *e. */
static int check(const char *kind, const char *params, const char *result,
	const struct msg_frame *blobs, size_t nblobs, struct err *e)
{
	json_t *p = js(params), *r = result ? js(result) : NULL;
	*e = (struct err){ 0 };
	int rc = results_check(kind, 7, p, r, blobs, nblobs, verdict, e);
	json_decref(p);
	json_decref(r);
	return rc;
}

#define REFUSED(kind, params, result, blobs, nblobs, reason) do { struct err e_; \
	CHECK_MSG(check(kind, params, result, blobs, nblobs, &e_) < 0, "accepted at line %d", __LINE__); \
	CHECK_MSG(e_.code == ERR_INVALID && strstr(e_.msg, reason), "%s", e_.msg); } while (0)
#define ACCEPTED(kind, params, result, blobs, nblobs) do { struct err e_; \
	CHECK_MSG(check(kind, params, result, blobs, nblobs, &e_) == 0, "%s", e_.msg); } while (0)

static void test_results__probe(void)
{
	const char *p = "{\"payload\":\"hi\"}";
	ACCEPTED("probe", p, "{\"echo\":\"hi\",\"job\":7,\"pid\":42}", NULL, 0);
	REFUSED("probe", p, NULL, NULL, 0, "probe result: missing");
	REFUSED("probe", p, "{\"echo\":\"ho\",\"job\":7,\"pid\":42}", NULL, 0, "echo: not the job's");
	REFUSED("probe", p, "{\"echo\":\"hi\",\"job\":8,\"pid\":42}", NULL, 0, "job: expected 7");
	REFUSED("probe", "{\"blob\":\"" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}",
		"{\"echo\":\"\",\"job\":7,\"pid\":42}", NULL, 0, "blob_size");
	struct msg_frame f = { "x", 1 };
	REFUSED("probe", p, "{\"echo\":\"hi\",\"job\":7,\"pid\":42}", &f, 1, "unexpected blob");
}

/* 2 prompts of 3 and 5 tokens, 2 samples each, at most 3 new tokens */
#define ROLLOUT_PARAMS "{\"config\":" CONFIG ",\"samples\":2,\"max_new_tokens\":3," \
	"\"prompts\":[{\"index\":4,\"tokens\":[1,2,3]},{\"index\":9,\"tokens\":[1,2,3,4,5]}]}"
#define S(prompt, j, toks, lps) "{\"prompt\":" #prompt ",\"sample\":" #j ",\"tokens\":" toks \
	",\"text\":\"ab\",\"logprobs\":" lps ",\"finish\":\"stop\"}"
#define GOOD_TAIL S(4, 1, "[5]", "[-0.5]") "," S(9, 0, "[6,7,8]", "[-1,-2,-3]") "," \
	S(9, 1, "[]", "[]")

static void test_results__rollout(void)
{
	ACCEPTED("rollout", ROLLOUT_PARAMS, "{\"samples\":[" S(4, 0, "[1,2]", "[-1,-0.25]") ","
		GOOD_TAIL "]}", NULL, 0);
	REFUSED("rollout", ROLLOUT_PARAMS, "{\"samples\":[]}", NULL, 0,
		"0 samples for 2 prompt(s) × 2");
	REFUSED("rollout", ROLLOUT_PARAMS, "{\"samples\":[" S(5, 0, "[1,2]", "[-1,-0.25]") ","
		GOOD_TAIL "]}", NULL, 0, "samples[0].prompt: expected 4");
	REFUSED("rollout", ROLLOUT_PARAMS, "{\"samples\":[" S(4, 1, "[1,2]", "[-1,-0.25]") ","
		GOOD_TAIL "]}", NULL, 0, "samples[0].sample: expected 0");
	REFUSED("rollout", ROLLOUT_PARAMS, "{\"samples\":[" S(4, 0, "[1,16]", "[-1,-0.25]") ","
		GOOD_TAIL "]}", NULL, 0, "samples[0].tokens[1]: id 16 is not below the vocabulary size 16");
	REFUSED("rollout", ROLLOUT_PARAMS, "{\"samples\":[" S(4, 0, "[1,-2]", "[-1,-0.25]") ","
		GOOD_TAIL "]}", NULL, 0, "samples[0].tokens[1]: expected a token id");
	REFUSED("rollout", ROLLOUT_PARAMS, "{\"samples\":[" S(4, 0, "[1,2,3,4]", "[-1,-1,-1,-1]")
		"," GOOD_TAIL "]}", NULL, 0, "more than max_new_tokens 3");
	/* the second prompt has 5 tokens: 5 + 3 fits max_new_tokens but not max_seq 8... */
	ACCEPTED("rollout", ROLLOUT_PARAMS, "{\"samples\":[" S(4, 0, "[1]", "[-1]") ","
		GOOD_TAIL "]}", NULL, 0);
	REFUSED("rollout", "{\"config\":" CONFIG ",\"samples\":1,\"max_new_tokens\":7,"
		"\"prompts\":[{\"index\":0,\"tokens\":[1,2,3,4,5]}]}",
		"{\"samples\":[" S(0, 0, "[1,2,3,4]", "[-1,-1,-1,-1]") "]}", NULL, 0,
		"5 prompt and 4 generated tokens exceed max_seq 8");
	REFUSED("rollout", ROLLOUT_PARAMS, "{\"samples\":[" S(4, 0, "[1,2]", "[-1]") ","
		GOOD_TAIL "]}", NULL, 0, "samples[0].logprobs: expected 2 numbers");
	REFUSED("rollout", ROLLOUT_PARAMS, "{\"samples\":[" S(4, 0, "[1,2]", "[-1,\"nan\"]") ","
		GOOD_TAIL "]}", NULL, 0, "samples[0].logprobs[1]: expected a finite number");
	/* jansson has no NaN or infinity (JSON has none): a worker's NaN arrives as null */
	REFUSED("rollout", ROLLOUT_PARAMS, "{\"samples\":[" S(4, 0, "[1,2]", "[-1,null]") ","
		GOOD_TAIL "]}", NULL, 0, "samples[0].logprobs[1]: expected a finite number");
	REFUSED("rollout", ROLLOUT_PARAMS, "{\"samples\":[{\"prompt\":4,\"sample\":0,\"tokens\":[1],"
		"\"text\":\"a\",\"logprobs\":[-1],\"finish\":\"eos\"}," GOOD_TAIL "]}", NULL, 0,
		"samples[0].finish");
	REFUSED("rollout", ROLLOUT_PARAMS, "{\"samples\":[{\"prompt\":4,\"sample\":0,\"tokens\":[1],"
		"\"logprobs\":[-1],\"finish\":\"stop\"}," GOOD_TAIL "]}", NULL, 0, "samples[0].text");
}

#define REWARD_PARAMS "{\"rewards\":[{\"name\":\"fmt\",\"fn\":\"think_answer_format\"}," \
	"{\"name\":\"eval_correct\",\"fn\":\"accuracy\"}],\"items\":[{\"prompt\":\"a\"," \
	"\"completion\":\"b\",\"tokens\":1},{\"prompt\":\"c\",\"completion\":\"d\",\"tokens\":1}]}"
#define ITEM(fmt, total) "{\"components\":{\"fmt\":" #fmt ",\"eval_correct\":0},\"total\":" #total "}"

static void test_results__reward(void)
{
	ACCEPTED("reward", REWARD_PARAMS, "{\"items\":[" ITEM(1, 1) "," ITEM(0, 0.5) "]}", NULL, 0);
	/* the case that made an eval "succeed" with 0% format */
	REFUSED("reward", REWARD_PARAMS, "{\"items\":[]}", NULL, 0,
		"reward result: items: 0 scores for 2 completions");
	REFUSED("reward", REWARD_PARAMS, "{\"items\":[" ITEM(1, 1) "," ITEM(0, 0.5) "," ITEM(0, 0)
		"]}", NULL, 0, "items: 3 scores for 2 completions");
	REFUSED("reward", REWARD_PARAMS, "{\"scores\":[]}", NULL, 0, "items: expected an array");
	REFUSED("reward", REWARD_PARAMS, "{\"items\":[" ITEM(1, 1) ",{\"components\":{\"fmt\":1},"
		"\"total\":1}]}", NULL, 0, "items[1].components.eval_correct: expected a finite number");
	REFUSED("reward", REWARD_PARAMS, "{\"items\":[" ITEM(1, 1) "," ITEM("1", 1) "]}", NULL, 0,
		"items[1].components.fmt");
	REFUSED("reward", REWARD_PARAMS, "{\"items\":[" ITEM(1, 1) "," ITEM(1, null) "]}", NULL, 0,
		"items[1].total: expected a finite number");
}

#define REJECT_PARAMS "{\"filters\":{},\"items\":[{},{},{},{}]}"
#define DROPPED(c) "{\"correct\":" #c ",\"mixed_language\":0,\"max_paragraph\":1," \
	"\"code_blocks\":0,\"duplicates\":0,\"max_per_prompt\":0}"

static void test_results__reject(void)
{
	ACCEPTED("reject", REJECT_PARAMS, "{\"kept\":[0,3],\"dropped\":" DROPPED(1) "}", NULL, 0);
	REFUSED("reject", REJECT_PARAMS, "{\"kept\":[0,3],\"dropped\":" DROPPED(2) "}", NULL, 0,
		"kept and dropped count 5 items, the job has 4");
	REFUSED("reject", REJECT_PARAMS, "{\"kept\":[3,0],\"dropped\":" DROPPED(1) "}", NULL, 0,
		"kept[1]: expected an index above 3");
	REFUSED("reject", REJECT_PARAMS, "{\"kept\":[0,4],\"dropped\":" DROPPED(1) "}", NULL, 0,
		"kept[1]: index 4 is not below the 4 items");
	REFUSED("reject", REJECT_PARAMS, "{\"kept\":[0,1,3],\"dropped\":{\"correct\":1}}", NULL, 0,
		"dropped.mixed_language: expected a count");
	REFUSED("reject", REJECT_PARAMS, "{\"kept\":[0,3]}", NULL, 0, "dropped: expected an object");
}

#define GRAD_PARAMS "{\"config\":" CONFIG ",\"loss\":\"grpo\",\"seqs\":[{\"tokens\":[1,2,3,4]," \
	"\"start\":1},{\"tokens\":[1,2,3],\"start\":2}]}"
#define GRAD_RESULT(tokens, kl) "{\"loss\":0.5,\"tokens\":" #tokens ",\"nll_sum\":1," \
	"\"entropy_sum\":2,\"kl_sum\":" #kl ",\"clip_count\":0}"

static void test_results__grad(void)
{
	struct model_config cfg;
	struct err e = { 0 };
	CHECK_MSG(hfconfig_parse(CONFIG, strlen(CONFIG), "config", &cfg, &e) == 0, "%s",
		e.msg);
	size_t n = (size_t)config_num_params(&cfg);
	float *g = calloc(n + 1, sizeof *g);
	CHECK(g && n > 0);
	struct msg_frame right = { g, 4 * n }, short_by_one = { g, 4 * (n - 1) }, two[2];
	two[0] = two[1] = right;
	ACCEPTED("grad", GRAD_PARAMS, GRAD_RESULT(4, 0.1), &right, 1);
	REFUSED("grad", GRAD_PARAMS, GRAD_RESULT(4, 0.1), &short_by_one, 1, "the gradient has");
	REFUSED("grad", GRAD_PARAMS, GRAD_RESULT(4, 0.1), NULL, 0, "0 blob frames, expected 1");
	REFUSED("grad", GRAD_PARAMS, GRAD_RESULT(4, 0.1), two, 2, "2 blob frames, expected 1");
	REFUSED("grad", GRAD_PARAMS, GRAD_RESULT(5, 0.1), &right, 1,
		"tokens: 5, more than the 4 positions");
	REFUSED("grad", GRAD_PARAMS, GRAD_RESULT(-1, 0.1), &right, 1, "tokens: expected an integer");
	REFUSED("grad", GRAD_PARAMS, GRAD_RESULT(4, null), &right, 1, "kl_sum: expected a finite");
	ACCEPTED("grad", "{\"config\":" CONFIG ",\"loss\":\"ce\",\"seqs\":[]}",
		"{\"loss\":0,\"tokens\":0,\"nll_sum\":0,\"entropy_sum\":0}", &right, 1);
	REFUSED("grad", GRAD_PARAMS, "{\"tokens\":4,\"nll_sum\":1,\"entropy_sum\":2}", &right, 1,
		"loss: expected a finite number");
	g[n / 2] = NAN;
	REFUSED("grad", GRAD_PARAMS, GRAD_RESULT(4, 0.1), &right, 1, "is not finite");
	g[n / 2] = INFINITY;
	REFUSED("grad", GRAD_PARAMS, GRAD_RESULT(4, 0.1), &right, 1, "is not finite");
	/* an uploaded gradient: the uploads' verdict decides, the bytes are not read (here
	 * they hold an inf the verdict does not name: what it says goes) */
	int64_t none = -1, at5 = 5;
	verdict = &none;
	ACCEPTED("grad", GRAD_PARAMS, GRAD_RESULT(4, 0.1), &right, 1);
	g[n / 2] = 0;
	verdict = &at5;
	REFUSED("grad", GRAD_PARAMS, GRAD_RESULT(4, 0.1), &right, 1, "gradient value 5 is not finite");
	/* the size is still checked against the model's */
	verdict = &none;
	REFUSED("grad", GRAD_PARAMS, GRAD_RESULT(4, 0.1), &short_by_one, 1, "the gradient has");
	verdict = NULL;
	free(g);
}

static void test_results__other_kinds_need_an_object(void)
{
	ACCEPTED("future_kind", "{}", "{\"anything\":1}", NULL, 0);
	REFUSED("future_kind", "{}", NULL, NULL, 0, "missing");
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_results__probe),
		TEST(test_results__rollout),
		TEST(test_results__reward),
		TEST(test_results__reject),
		TEST(test_results__grad),
		TEST(test_results__other_kinds_need_an_object),
		{ 0 } });
}
