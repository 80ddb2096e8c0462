/* stage_settings — stage kinds' settings decoded from a normalised spec (stage_settings.h). */
#include "stage_settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

/* A decoding: the first problem is kept, later reads return zeros. */
struct reader {
	const json_t *spec;         /* the object read */
	const json_t *stage;        /* the stage's spec, for its name */
	const char *kind;
	char prefix[32];            /* of the keys named in errors: "" or "inputs[i]." */
	struct err *err;
	int failed;
};

static void reader_init(struct reader *r, const json_t *spec, const char *kind,
	struct err *err)
{
	*r = (struct reader){ .spec = spec, .stage = spec, .kind = kind, .err = err };
}

static const char *stage_name(const struct reader *r)
{
	const char *name = json_string_value(json_object_get(r->stage, "name"));
	return name ? name : "?";
}

/* The value of `key`, or NULL (the decoding failed) if it is missing or fails `ok`. */
static const json_t *value(struct reader *r, const char *key, int (*ok)(const json_t *),
	const char *what)
{
	if (r->failed)
		return NULL;
	const json_t *v = json_object_get(r->spec, key);
	if (v && ok(v))
		return v;
	r->failed = 1;
	err_set(r->err, ERR_INVALID, "cannot read the settings of %s stage '%s': key '%s%s' is "
		"%s", r->kind, stage_name(r), r->prefix, key, v ? what : "missing");
	return NULL;
}

static int is_int(const json_t *v) { return json_is_integer(v); }
static int is_num(const json_t *v) { return json_is_number(v); }
static int is_bool(const json_t *v) { return json_is_boolean(v); }
static int is_str(const json_t *v) { return json_is_string(v); }
static int is_str_or_null(const json_t *v) { return json_is_string(v) || json_is_null(v); }
static int is_array(const json_t *v) { return json_is_array(v); }
static int is_object(const json_t *v) { return json_is_object(v); }

static int64_t get_int(struct reader *r, const char *key)
{
	return json_integer_value(value(r, key, is_int, "not an integer"));
}

static double get_num(struct reader *r, const char *key)
{
	return json_number_value(value(r, key, is_num, "not a number"));
}

static int get_bool(struct reader *r, const char *key)
{
	return json_is_true(value(r, key, is_bool, "not true or false"));
}

static const char *get_str(struct reader *r, const char *key)
{
	return json_string_value(value(r, key, is_str, "not a string"));
}

/* A string that may be null: NULL then. */
static const char *get_str_or_null(struct reader *r, const char *key)
{
	return json_string_value(value(r, key, is_str_or_null, "neither a string nor null"));
}

static const json_t *get_array(struct reader *r, const char *key)
{
	return value(r, key, is_array, "not a list");
}

static const json_t *get_object(struct reader *r, const char *key)
{
	return value(r, key, is_object, "not a mapping");
}

/* A string or null a normalised spec may lack (specs from before the key): NULL then. */
static const char *get_str_or_null_opt(struct reader *r, const char *key)
{
	return json_object_get(r->spec, key) ? get_str_or_null(r, key) : NULL;
}

/* A list a normalised spec may lack: NULL then. */
static const json_t *get_array_opt(struct reader *r, const char *key)
{
	return json_object_get(r->spec, key) ? get_array(r, key) : NULL;
}

/* An integer a normalised spec may lack (K_OPT keys): `absent` then. */
static int64_t get_int_opt(struct reader *r, const char *key, int64_t absent)
{
	return json_object_get(r->spec, key) ? get_int(r, key) : absent;
}

static int done(struct reader *r)
{
	return r->failed ? -1 : 0;
}

static void learner_settings(struct reader *r, struct learner_settings *s)
{
	s->from = get_str_or_null(r, "from");
	s->lr = get_num(r, "lr");
	s->warmup = get_int(r, "warmup");
	s->min_lr = get_num(r, "min_lr");
	s->weight_decay = get_num(r, "weight_decay");
	s->beta1 = get_num(r, "beta1");
	s->beta2 = get_num(r, "beta2");
	s->grad_clip = get_num(r, "grad_clip");
	s->save_every = get_int(r, "save_every");
	/* specs submitted before the key existed keep every checkpoint (retain.h) */
	s->keep_checkpoints = get_int_opt(r, "keep_checkpoints", 0);
}

int probe_settings_decode(const json_t *spec, struct probe_settings *s, struct err *err)
{
	struct reader r;
	reader_init(&r, spec, "probe", err);
	memset(s, 0, sizeof *s);
	s->jobs = get_int(&r, "jobs");
	s->fail = get_int(&r, "fail");
	s->sleep_ms = get_int(&r, "sleep_ms");
	s->payload = get_str(&r, "payload");
	return done(&r);
}

int train_settings_decode(const json_t *spec, struct train_settings *s, struct err *err)
{
	struct reader r;
	const char *kind = json_string_value(json_object_get(spec, "kind"));
	int sft = kind && !strcmp(kind, NAME_STAGE_SFT);
	reader_init(&r, spec, sft ? NAME_STAGE_SFT : NAME_STAGE_PRETRAIN, err);
	memset(s, 0, sizeof *s);
	learner_settings(&r, &s->learner);
	s->dataset = get_str(&r, "dataset");
	/* steps or epochs: the spec loader lets exactly one through */
	s->steps = get_int_opt(&r, "steps", 0);
	s->epochs = get_int_opt(&r, "epochs", 0);
	s->batch = get_int(&r, "batch");
	s->shard = get_int(&r, "shard");
	if (sft) {
		s->template = get_str(&r, "template");
		/* optional keys: a chat format, role templates, or neither */
		if (json_object_get(spec, "chat_format"))
			s->chat_format = get_str(&r, "chat_format");
		if (json_object_get(spec, "chat_template"))
			s->chat_template = get_object(&r, "chat_template");
	}
	if (!r.failed && s->steps <= 0 && s->epochs <= 0) {
		r.failed = 1;
		err_set(err, ERR_INVALID, "cannot read the settings of %s stage '%s': key 'steps' "
			"or 'epochs' is missing", r.kind, stage_name(&r));
	}
	return done(&r);
}

int grpo_settings_decode(const json_t *spec, struct grpo_settings *s, struct err *err)
{
	static const char *const aggs[] = {
		[LOSS_AGG_SEQ_MEAN] = "seq_mean", [LOSS_AGG_TOKEN_MEAN] = "token_mean",
		[LOSS_AGG_CONSTANT] = "constant",
	};
	struct reader r;
	reader_init(&r, spec, NAME_STAGE_GRPO, err);
	memset(s, 0, sizeof *s);
	learner_settings(&r, &s->learner);
	s->prompts = get_str(&r, "prompts");
	s->rewards = get_array(&r, "rewards");
	s->correct = get_str_or_null_opt(&r, "correct");
	s->steps = get_int(&r, "steps");
	s->shard = get_int(&r, "shard");
	s->group = get_int(&r, "group");
	s->prompts_per_step = get_int(&r, "prompts_per_step");
	s->beta = get_num(&r, "beta");
	s->clip = get_num(&r, "clip");
	s->clip_high = get_num(&r, "clip_high");
	const char *agg = get_str(&r, "loss_agg");
	size_t i = 0;
	while (agg && i < sizeof aggs / sizeof aggs[0] && strcmp(agg, aggs[i]))
		i++;
	if (agg && i == sizeof aggs / sizeof aggs[0]) {
		r.failed = 1;
		err_set(err, ERR_INVALID, "cannot read the settings of grpo stage '%s': key "
			"'loss_agg' is '%s', not seq_mean, token_mean or constant", stage_name(&r), agg);
	}
	s->loss_agg = (enum loss_agg)i;
	s->scale_rewards = get_bool(&r, "scale_rewards");
	s->mu = get_int(&r, "mu");
	s->ref_refresh = get_int(&r, "ref_refresh");
	s->dynamic_sampling = get_bool(&r, "dynamic_sampling");
	s->mask_truncated = get_bool(&r, "mask_truncated");
	/* specs submitted before the key existed: exact steps */
	s->max_staleness = get_int_opt(&r, "max_staleness", 0);
	s->learner.per_job_step = s->mu;
	s->learner.keep_next_samples = s->max_staleness > 0;
	s->temperature = get_num(&r, "temperature");
	s->top_p = get_num(&r, "top_p");
	s->top_k = get_int(&r, "top_k");
	s->max_new_tokens = get_int(&r, "max_new_tokens");
	return done(&r);
}

int reject_settings_decode(const json_t *spec, struct reject_settings *s, struct err *err)
{
	struct reader r;
	reader_init(&r, spec, NAME_STAGE_REJECT, err);
	memset(s, 0, sizeof *s);
	s->from = get_str(&r, "from");
	s->prompts = get_str(&r, "prompts");
	s->output = get_str(&r, "output");
	s->rewards = get_array(&r, "rewards");
	s->correct = get_str_or_null_opt(&r, "correct");
	s->samples = get_int(&r, "samples");
	s->temperature = get_num(&r, "temperature");
	s->top_p = get_num(&r, "top_p");
	s->top_k = get_int(&r, "top_k");
	s->max_new_tokens = get_int(&r, "max_new_tokens");
	s->filters = get_object(&r, "filters");
	return done(&r);
}

int eval_settings_decode(const json_t *spec, struct eval_settings *s, struct err *err)
{
	struct reader r;
	reader_init(&r, spec, NAME_STAGE_EVAL, err);
	memset(s, 0, sizeof *s);
	s->from = get_str_or_null(&r, "from");
	s->datasets = get_array_opt(&r, "datasets");
	if (!s->datasets)
		s->dataset = get_str(&r, "dataset");
	s->rewards = get_array(&r, "rewards");
	s->correct = get_str_or_null_opt(&r, "correct");
	s->pass_at = get_array_opt(&r, "pass_at");
	s->samples = get_int(&r, "samples");
	s->temperature = get_num(&r, "temperature");
	s->max_new_tokens = get_int(&r, "max_new_tokens");
	s->limit = get_int(&r, "limit");
	return done(&r);
}

int merge_settings_decode(const json_t *spec, struct merge_settings *s, struct err *err)
{
	struct reader r;
	reader_init(&r, spec, NAME_STAGE_MERGE, err);
	memset(s, 0, sizeof *s);
	const json_t *inputs = get_array(&r, "inputs");
	s->output = get_str(&r, "output");
	s->seed = get_int(&r, "seed");
	if (r.failed)
		return -1;
	size_t n = json_array_size(inputs);
	if (!(s->inputs = calloc(n ? n : 1, sizeof *s->inputs)))
		return err_set(err, ERR_NOMEM, "cannot read the settings of merge stage '%s': out "
			"of memory", stage_name(&r));
	s->ninputs = n;
	for (size_t i = 0; i < n && !r.failed; i++) {
		struct reader in; /* an input's keys; errors name the stage's */
		reader_init(&in, json_array_get(inputs, i), "merge", err);
		in.stage = spec;
		snprintf(in.prefix, sizeof in.prefix, "inputs[%zu].", i);
		s->inputs[i].dataset = get_str(&in, "dataset");
		/* a normalised input has cap or ratio */
		if (json_object_get(in.spec, "cap"))
			s->inputs[i].cap = get_int(&in, "cap");
		else
			s->inputs[i].ratio = get_num(&in, "ratio");
		r.failed = in.failed;
	}
	return done(&r);
}

void merge_settings_release(struct merge_settings *s)
{
	free(s->inputs);
	s->inputs = NULL;
	s->ninputs = 0;
}
