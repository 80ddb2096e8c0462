/*
 * stage_merge — the `merge` stage: a union of datasets into dataset `output`.
 * From each input it takes `cap` records, or `ratio` of them (rounded), or all:
 * the first ones of a shuffle keyed by (seed, stage, input index); the union is
 * shuffled again (key (seed, stage)) and written in one unit. No jobs: it runs in
 * the daemon when its inputs exist. Metrics (step 0): taken_<dataset>, count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "names.h"
#include "rng.h"
#include "stage.h"
#include "stage_settings.h"

struct pick { int64_t dataset, idx; };

static void shuffle(struct pick *p, int64_t n, uint64_t key)
{
	struct rng r;
	rng_init(&r, key);
	for (int64_t i = n - 1; i > 0; i--) {
		uint64_t hi = rng_u32(&r), lo = rng_u32(&r);
		int64_t j = (int64_t)(((hi << 32) | lo) % (uint64_t)(i + 1));
		struct pick t = p[i];
		p[i] = p[j];
		p[j] = t;
	}
}

static int merge_start(struct stage_ctx *c, struct err *err)
{
	(void)c;
	(void)err;
	return 0; /* the work happens in advance, in one go */
}

static int merge(struct stage_ctx *c, const struct merge_settings *set,
	enum stage_state *state, struct err *err)
{
	uint64_t key = rng_key_str(rng_key_u64((uint64_t)set->seed, 0), c->stage->name);
	struct pick *all = NULL;
	int64_t total = 0;
	size_t i;
	int rc = 0;
	for (i = 0; i < set->ninputs; i++) {
		const struct merge_input *in = &set->inputs[i];
		const char *name = in->dataset;
		int64_t id, n;
		int found = store_dataset_find(c->d->store, c->pipeline->id, name, &id, &n, err);
		if (found <= 0) {
			rc = found < 0 ? -1 : err_set(err, ERR_NOTFOUND, "dataset '%s' does not exist",
				name);
			break;
		}
		int64_t take = in->cap > 0 ? in->cap : (int64_t)(in->ratio * (double)n + 0.5);
		take = take > n ? n : take;
		struct pick *p = malloc((size_t)(n ? n : 1) * sizeof *p);
		struct pick *g = realloc(all, (size_t)(total + take + 1) * sizeof *all);
		if (!p || !g) {
			free(p);
			free(g ? g : all);
			return err_set(err, ERR_NOMEM, "out of memory");
		}
		all = g;
		for (int64_t k = 0; k < n; k++)
			p[k] = (struct pick){ id, k };
		shuffle(p, n, rng_key_u64(key, i + 1));
		memcpy(all + total, p, (size_t)take * sizeof *p);
		total += take;
		free(p);
		char metric[STAGE_METRIC_NAME];
		snprintf(metric, sizeof metric, "taken_%s", name);
		if ((rc = store_metric_add(c->d->store, c->stage->id, 0, metric, (double)take,
			c->d->wall, err)) < 0)
			break;
	}
	if (rc < 0) {
		free(all);
		return -1;
	}
	shuffle(all, total, key);
	const char *out = set->output;
	json_t *src = json_pack("{ss ss}", "stage", c->stage->name, "kind", NAME_STAGE_MERGE);
	char *stext = json_dumps(src, JSON_COMPACT);
	json_decref(src);
	int64_t id;
	rc = store_dataset_add(c->d->store, c->pipeline->id, out, stext, c->d->wall, &id, err);
	free(stext);
	for (int64_t k = 0; rc == 0 && k < total; k++) {
		struct store_record r;
		if (store_record_get(c->d->store, all[k].dataset, all[k].idx, &r, err) != 1) {
			rc = -1;
			break;
		}
		rc = store_record_add(c->d->store, id, k, &r, err);
		store_record_release(&r);
	}
	free(all);
	if (rc == 0)
		rc = store_dataset_set_count(c->d->store, id, total, err);
	if (rc == 0)
		rc = store_metric_add(c->d->store, c->stage->id, 0, "count", (double)total,
			c->d->wall, err);
	if (rc == 0)
		rc = store_stage_set_progress(c->d->store, c->stage->id, total, total, err);
	if (rc == 0) {
		log_info("stage %lld '%s': dataset '%s' of %lld records", (long long)c->stage->id,
			c->stage->name, out, (long long)total);
		*state = STAGE_SUCCEEDED;
	}
	return rc;
}

static int merge_advance(struct stage_ctx *c, enum stage_state *state, struct err *err)
{
	struct merge_settings set;
	int rc = merge_settings_decode(c->spec, &set, err);
	if (rc == 0)
		rc = merge(c, &set, state, err);
	merge_settings_release(&set);
	return rc;
}

const struct stage_driver stage_merge = {
	.kind = NAME_STAGE_MERGE, .unit = "records", .start = merge_start, .advance = merge_advance,
};
