/*
 * spec_graph — the stage graph of a spec: `from`, `needs` and dataset references
 * resolved to stages, each stage's deps, and the refusal of cycles.
 *
 * Runs after every stage passed spec_check.c, so names are valid and unique and
 * every producer of a dataset is known: a stage may read a dataset a later stage
 * writes (that is a dependency like any other; a cycle if it closes one). Edges
 * point from a stage to what it waits for, in the order the stage names them (from,
 * needs, then the producers of what it reads); the cycle reported is the first a
 * depth-first walk in stage-list order meets, printed from the stage it re-enters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec_check.h"

static int edge_add(struct v *v, struct stage_info *s, size_t to, const struct snode *at)
{
	if (s->n_edges == s->cap_edges) {
		size_t cap = s->cap_edges ? 2 * s->cap_edges : 4;
		struct edge *e = realloc(s->edges, cap * sizeof *e);
		if (!e)
			return err_set(v->err, ERR_NOMEM, "out of memory");
		s->edges = e;
		s->cap_edges = cap;
	}
	s->edges[s->n_edges++] = (struct edge){ to, at };
	return 0;
}

static const char *scope_of(const struct v *v, size_t i, char *buf, size_t cap)
{
	snprintf(buf, cap, "stage '%s'", v->st[i].name);
	return buf;
}

/* from / needs[k]: an existing stage other than this one (from: one that trains). */
static int stage_ref(struct v *v, size_t i, const struct snode *n, const char *kp, bool from)
{
	char scope[80], q[80], hint[80];
	scope_of(v, i, scope, sizeof scope);
	json_t *x = json_object_getn(v->stage_index, n->text, n->len);
	if (!x) {
		struct suggest s;
		suggest_init(&s, n->text, n->len);
		for (size_t k = 0; k < v->n_st; k++)
			suggest_add(&s, v->st[k].name);
		return spec_fail(v, n, scope, NULL, "%s: no stage named %s%s", kp,
			spec_quote(q, sizeof q, n->text, n->len), suggest_hint(&s, hint, sizeof hint));
	}
	size_t j = (size_t)json_integer_value(x);
	if (j == i)
		return spec_fail(v, n, scope, NULL, "%s: a stage cannot depend on itself", kp);
	if (from && !(v->st[j].kind & SK_TRAIN))
		return spec_fail(v, n, scope, NULL, "from: stage '%s' trains no weights (kind %s)",
			v->st[j].name, spec_stage_kind_name(v->st[j].kind));
	return edge_add(v, &v->st[i], j, n);
}

/* A dataset read by stage i: defined in datasets, or some other stage's output. */
static int dataset_ref(struct v *v, size_t i, const struct snode *n, const char *kp)
{
	char scope[80], q[80], hint[80];
	json_t *defined = json_object_get(v->top, "datasets");
	scope_of(v, i, scope, sizeof scope);
	json_t *p = json_object_getn(v->producers, n->text, n->len);
	if (p) {
		size_t j = (size_t)json_integer_value(p);
		if (j == i)
			return spec_fail(v, n, scope, NULL, "%s: a stage cannot read its own output", kp);
		return edge_add(v, &v->st[i], j, n);
	}
	if (json_object_getn(defined, n->text, n->len))
		return 0;
	struct suggest s;
	const char *name;
	json_t *val;
	suggest_init(&s, n->text, n->len);
	json_object_foreach(defined, name, val)
		suggest_add(&s, name);
	json_object_foreach(v->producers, name, val)
		suggest_add(&s, name);
	return spec_fail(v, n, scope, NULL, "%s: no dataset named %s%s", kp,
		spec_quote(q, sizeof q, n->text, n->len), suggest_hint(&s, hint, sizeof hint));
}

static int size_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

/* deps: the edge targets, unique, in stage-list order. JSON mode: must equal the input's. */
static int stage_deps(struct v *v, size_t i)
{
	struct stage_info *s = &v->st[i];
	size_t *to = malloc((s->n_edges ? s->n_edges : 1) * sizeof *to), n = 0;
	json_t *deps = json_array();
	int rc = -1;
	if (!to || !deps) {
		err_set(v->err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t e = 0; e < s->n_edges; e++)
		to[e] = s->edges[e].to;
	qsort(to, s->n_edges, sizeof *to, size_cmp);
	for (size_t e = 0; e < s->n_edges; e++)
		if (e == 0 || to[e] != to[e - 1])
			to[n++] = to[e];
	for (size_t k = 0; k < n; k++)
		json_array_append_new(deps, json_string(v->st[to[k]].name));
	if (v->c->json_mode) {
		const struct snode *dn = snode_get(s->map, "deps");
		bool same = dn->type == SNODE_SEQ && dn->n == n;
		for (size_t k = 0; same && k < n; k++)
			same = dn->items[k]->type == SNODE_STR &&
				strcmp(dn->items[k]->text, v->st[to[k]].name) == 0 &&
				dn->items[k]->len == strlen(v->st[to[k]].name);
		if (!same) {
			char list[300] = "", scope[80];
			size_t o = 0;
			for (size_t k = 0; k < n && o < sizeof list; k++)
				o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", k ? ", " : "",
					v->st[to[k]].name);
			spec_fail(v, dn, scope_of(v, i, scope, sizeof scope), "deps",
				"expected [%s] (from, needs and the producers of its datasets)", list);
			goto out;
		}
	}
	if (json_object_set(s->out, "deps", deps) < 0) {
		err_set(v->err, ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = 0;
out:
	free(to);
	json_decref(deps);
	return rc;
}

struct dfs_frame {
	size_t node, next; /* the stage, and the index of its next edge to follow */
};

/* Depth-first in stage-list order; a gray stage met again closes a cycle. */
static int find_cycle(struct v *v)
{
	unsigned char *color = calloc(v->n_st, 1); /* 0 white, 1 on the stack, 2 done */
	struct dfs_frame *stack = malloc(v->n_st * sizeof *stack);
	int rc = -1;
	if (!color || !stack) {
		err_set(v->err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t root = 0; root < v->n_st; root++) {
		if (color[root])
			continue;
		size_t sp = 0;
		stack[sp++] = (struct dfs_frame){ root, 0 };
		color[root] = 1;
		while (sp > 0) {
			struct dfs_frame *top = &stack[sp - 1];
			const struct stage_info *s = &v->st[top->node];
			if (top->next == s->n_edges) {
				color[top->node] = 2;
				sp--;
				continue;
			}
			size_t to = s->edges[top->next++].to;
			if (color[to] == 0) {
				color[to] = 1;
				stack[sp++] = (struct dfs_frame){ to, 0 };
			} else if (color[to] == 1) {
				size_t k = 0;
				while (stack[k].node != to)
					k++;
				char path[400];
				size_t o = 0;
				for (size_t f = k; f < sp && o < sizeof path; f++)
					o += (size_t)snprintf(path + o, sizeof path - o, "%s -> ",
						v->st[stack[f].node].name);
				if (o < sizeof path)
					o += (size_t)snprintf(path + o, sizeof path - o, "%s", v->st[to].name);
				if (o >= sizeof path) /* cut: say so */
					memcpy(path + sizeof path - 4, "...", 4);
				const struct stage_info *first = &v->st[stack[k].node];
				spec_fail(v, first->edges[stack[k].next - 1].at, "stages", NULL, "cycle: %s", path);
				goto out;
			}
		}
	}
	rc = 0;
out:
	free(color);
	free(stack);
	return rc;
}

int spec_check_graph(struct v *v)
{
	char kp[48];
	for (size_t i = 0; i < v->n_st; i++) {
		const struct snode *map = v->st[i].map, *n;
		json_t *o = v->st[i].out;
		if (json_is_string(json_object_get(o, "from")) &&
		    stage_ref(v, i, snode_get(map, "from"), "from", true) < 0)
			return -1;
		if ((n = snode_get(map, "needs")))
			for (size_t k = 0; k < n->n; k++) {
				snprintf(kp, sizeof kp, "needs[%zu]", k);
				if (stage_ref(v, i, n->items[k], kp, false) < 0)
					return -1;
			}
		if (json_object_get(o, "dataset") &&
		    dataset_ref(v, i, snode_get(map, "dataset"), "dataset") < 0)
			return -1;
		if (json_object_get(o, "prompts") &&
		    dataset_ref(v, i, snode_get(map, "prompts"), "prompts") < 0)
			return -1;
		if (json_object_get(o, "datasets") && (n = snode_get(map, "datasets")))
			for (size_t k = 0; k < n->n; k++) {
				snprintf(kp, sizeof kp, "datasets[%zu]", k);
				if (dataset_ref(v, i, n->items[k], kp) < 0)
					return -1;
			}
		if (json_object_get(o, "inputs") && (n = snode_get(map, "inputs")))
			for (size_t k = 0; k < n->n; k++) {
				snprintf(kp, sizeof kp, "inputs[%zu].dataset", k);
				if (dataset_ref(v, i, snode_get(n->items[k], "dataset"), kp) < 0)
					return -1;
			}
		if (stage_deps(v, i) < 0)
			return -1;
	}
	return find_cycle(v);
}
