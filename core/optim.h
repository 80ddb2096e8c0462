/*
 * optim — AdamW, global-norm gradient clipping and the warmup + cosine schedule.
 *
 * AdamW follows torch.optim.AdamW exactly (decoupled decay, bias correction):
 *   p ← p − lr·wd·p;  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²
 *   p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps)
 * Weight decay applies to 2-D tensors (matrices, embeddings) only, never to norm
 * gains — the usual split into two parameter groups.
 *
 * Clipping follows torch.nn.utils.clip_grad_norm_: total = ‖g‖₂ over all
 * parameters; if total > max_norm, g ← g · max_norm / (total + 1e-6).
 *
 * Schedule: lr·(s+1)/warmup for s < warmup, then cosine from lr down to
 * lr·min_ratio at s = total_steps−1 (and flat after).
 */
#ifndef R1_OPTIM_H
#define R1_OPTIM_H

#include "model.h"

struct adamw_params {
	float lr;
	float beta1, beta2;
	float eps;
	float weight_decay;
};

struct lr_schedule {
	float lr;         /* peak */
	int warmup;       /* steps of linear warmup */
	int total_steps;  /* cosine ends here */
	float min_ratio;  /* final lr = lr * min_ratio */
};

void adamw_defaults(struct adamw_params *p);

/* One AdamW step over every parameter; `step` counts from 1. Needs model_alloc_optimizer. */
void adamw_step(struct model *m, const struct adamw_params *p, long step);

/* ‖grads‖₂ over every parameter. */
double grad_global_norm(const struct model *m);

/* Clip to max_norm (<= 0: no clipping); returns the norm before clipping. */
double grad_clip(struct model *m, double max_norm);

float lr_at(const struct lr_schedule *s, long step);

#endif
