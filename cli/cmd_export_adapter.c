/*
 * r1flow export --adapter — a lora stage's adapters as a PEFT adapter directory:
 *
 *   DIR/adapter_config.json        PEFT's LoraConfig: peft_type LORA, task_type
 *                                  CAUSAL_LM, r, lora_alpha, target_modules,
 *                                  lora_dropout 0, bias none, base_model_name_or_path
 *                                  (--base-model, else null)
 *   DIR/adapter_model.safetensors  lora_A / lora_B of every layer and target under
 *                                  PEFT's names (base_model.model.model.layers.N.
 *                                  self_attn.q_proj.lora_A.weight, ...), F32
 *
 * The adapters come from the stage's last checkpoint: its second blob is the
 * adapters' state (core/lora.h, lora_state_write_mem), fetched with blob_read and
 * checked against its sha256 like the weights. A stage without `lora:` has none and
 * is refused. The base the adapters apply to is the weights the stage started from
 * (its `from` stage's export, or the pipeline's model); `r1flow export` without
 * --adapter writes the merged weights instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "checkpoint.h"
#include "client.h"
#include "file.h"
#include "lora.h"
#include "run.h"
#include "sha256.h"
#include "utf8.h"

static int adapter_config(const char *dir, const struct lora_config *c, const char *base,
	struct err *err)
{
	json_t *targets = json_array();
	for (int t = 0; t < LORA_NTARGETS; t++)
		if (c->targets & (1u << t))
			json_array_append_new(targets, json_string(lora_target_name(t)));
	/* an integral alpha as PEFT writes it (an int) */
	json_t *alpha = c->alpha == (float)(json_int_t)c->alpha ?
		json_integer((json_int_t)c->alpha) : json_real(c->alpha);
	json_t *o = json_pack("{so ss sb sb sb so sf so ss si so ss sb sb}",
		"base_model_name_or_path", base ? json_string(base) : json_null(),
		"bias", "none", "fan_in_fan_out", 0, "inference_mode", 1, "init_lora_weights", 1,
		"lora_alpha", alpha, "lora_dropout", 0.0, "modules_to_save", json_null(),
		"peft_type", "LORA", "r", c->rank, "target_modules", targets,
		"task_type", "CAUSAL_LM", "use_rslora", 0, "use_dora", 0);
	char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (!text)
		return err_set(err, ERR_NOMEM, "cannot write adapter_config.json: out of memory");
	size_t len = strlen(text);
	char *nl = realloc(text, len + 2);
	if (!nl) {
		free(text);
		return err_set(err, ERR_NOMEM, "cannot write adapter_config.json: out of memory");
	}
	memcpy(nl + len, "\n", 2);
	int rc = export_write(dir, "adapter_config.json", nl, len + 1, err);
	free(nl);
	return rc;
}

int export_adapter(struct client *c, int64_t id, const char *stage, const char *dir,
	const char *base, int64_t page, struct export_info *out, struct err *err)
{
	struct file_atomic blob = { .fd = -1 };
	struct lora lo = { 0 };
	char path[4096], *config = NULL, *state = NULL;
	void *bytes = NULL;
	size_t size = 0, nbytes;
	int rc = -1;
	json_t *r = client_call(c, json_pack("{ss sI so}", "op", "checkpoint", "id", (json_int_t)id,
		"stage", utf8_jstring(stage)), err);
	if (!r)
		goto out;
	const json_t *opt = json_object_get(r, "optimizer");
	const char *sha = json_string_value(json_object_get(opt, "sha256"));
	int64_t osize = json_integer_value(json_object_get(opt, "size"));
	json_t *cfg = json_object_get(r, "config");
	struct model_config mc;
	config = json_is_object(cfg) ? json_dumps(cfg, JSON_COMPACT) : NULL;
	if (!config || hfconfig_parse(config, strlen(config), "config", &mc, err) < 0) {
		if (!config)
			err_set(err, ERR_FORMAT, "the daemon sent no model config for stage '%s'", stage);
		err_wrap(err, "stage '%s' has an unusable config", stage);
		goto out;
	}
	if (!sha || !sha256_hex_valid(sha) || osize <= 0) {
		err_set(err, ERR_INVALID, "stage '%s' of pipeline %lld trained no adapters (its spec "
			"has no 'lora'): export its weights without --adapter", stage, (long long)id);
		goto out;
	}
	if (snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir) >= (int)sizeof path) {
		err_set(err, ERR_INVALID, "path too long: '%.64s...'", dir);
		goto out;
	}
	/* the state goes through a temporary file in DIR (never renamed into place) */
	if (export_mkdirs(dir, err) < 0 || file_atomic_open(&blob, path, NULL, 0666, err) < 0 ||
		export_fetch_blob(c, stage, sha, osize, page, &blob, err) < 0 ||
		file_read(blob.tmp, FILE_READ_ANY, &state, &size, err) < 0)
		goto out;
	struct lora_config lc;
	if (lora_state_config(state, size, "the adapters' state", &lc, err) < 0) {
		err_wrap(err, "stage '%s' of pipeline %lld trained no adapters", stage, (long long)id);
		goto out;
	}
	if (lora_init(&lo, &mc, &lc, err) < 0 ||
		lora_state_read(&lo, state, size, "the adapters' state", NULL, err) < 0 ||
		lora_write_mem(&lo, &bytes, &nbytes, err) < 0)
		goto out;
	if (export_write(dir, "adapter_model.safetensors", bytes, nbytes, err) < 0 ||
		adapter_config(dir, &lc, base, err) < 0 || file_sync_dir(dir, err) < 0)
		goto out;
	memset(out, 0, sizeof *out);
	out->step = json_integer_value(json_object_get(r, "step"));
	snprintf(out->sha256, sizeof out->sha256, "%s", sha);
	out->bytes = nbytes;
	rc = 0;
out:
	if (blob.fd >= 0)
		file_atomic_abort(&blob);
	lora_release(&lo);
	free(bytes);
	free(state);
	free(config);
	json_decref(r);
	return rc;
}
