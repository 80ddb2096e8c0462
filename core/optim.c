#include "optim.h"

#include <assert.h>
#include <math.h>

#include "pool.h"

void adamw_defaults(struct adamw_params *p)
{
	*p = (struct adamw_params){ .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
		.weight_decay = 0.1f };
}

struct adamw_ctx {
	struct model *m;
	const struct adamw_params *p;
	float bc1, bc2_sqrt;
};

/* One unit per tensor: the decay depends on the tensor, and units are ~equal work
 * only roughly, which is fine for a memory-bound loop. */
static void adamw_part(void *arg, int begin, int end)
{
	const struct adamw_ctx *c = arg;
	struct model *m = c->m;
	float lr = c->p->lr, b1 = c->p->beta1, b2 = c->p->beta2, eps = c->p->eps;
	float step_size = lr / c->bc1;
	for (int i = begin; i < end; i++) {
		const struct model_tensor *t = &m->tensors[i];
		float decay = t->ndim == 2 ? 1.0f - lr * c->p->weight_decay : 1.0f;
		float *p = m->params_mem + t->offset, *g = m->grads_mem + t->offset;
		float *mm = m->m_mem + t->offset, *vv = m->v_mem + t->offset;
		for (size_t j = 0; j < t->numel; j++) {
			float gj = g[j];
			mm[j] = b1 * mm[j] + (1.0f - b1) * gj;
			vv[j] = b2 * vv[j] + (1.0f - b2) * gj * gj;
			float denom = sqrtf(vv[j]) / c->bc2_sqrt + eps;
			p[j] = p[j] * decay - step_size * mm[j] / denom;
		}
	}
}

void adamw_step(struct model *m, const struct adamw_params *p, long step)
{
	assert(m->m_mem && m->v_mem && step >= 1);
	struct adamw_ctx c = {
		.m = m, .p = p,
		.bc1 = 1.0f - powf(p->beta1, (float)step),
		.bc2_sqrt = sqrtf(1.0f - powf(p->beta2, (float)step)),
	};
	pool_for(m->n_tensors, (long)m->num_params * 10, adamw_part, &c);
}

double grad_global_norm(const struct model *m)
{
	/* sequential and in double: the norm must not depend on the thread count */
	double ss = 0.0;
	for (size_t i = 0; i < m->num_params; i++)
		ss += (double)m->grads_mem[i] * m->grads_mem[i];
	return sqrt(ss);
}

double grad_clip(struct model *m, double max_norm)
{
	double norm = grad_global_norm(m);
	if (max_norm > 0 && norm > max_norm) {
		float k = (float)(max_norm / (norm + 1e-6));
		for (size_t i = 0; i < m->num_params; i++)
			m->grads_mem[i] *= k;
	}
	return norm;
}

float lr_at(const struct lr_schedule *s, long step)
{
	if (step < s->warmup)
		return s->lr * (float)(step + 1) / (float)s->warmup;
	long span = s->total_steps - 1 - s->warmup;
	double progress = span > 0 ? (double)(step - s->warmup) / (double)span : 1.0;
	if (progress > 1.0)
		progress = 1.0;
	double min = s->lr * s->min_ratio;
	return (float)(min + 0.5 * (s->lr - min) * (1.0 + cos(M_PI * progress)));
}
