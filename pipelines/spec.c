/*
 * spec — the loader's entry points (spec.h): read the file, parse (spec_yaml.c),
 * apply `--set` overrides to the tree, validate (spec_check.c and friends).
 */
#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spec_tree.h"
#include "utf8.h"

/* ---- --set PATH=VALUE ---- */

static struct snode *label_node(struct stree *t, enum snode_type type, const char *label)
{
	struct snode *n = stree_alloc(t, sizeof *n);
	if (n) {
		n->type = type;
		n->pos.label = label;
		n->size = 1;
	}
	return n;
}

/* Append the pair (key, value) to mapping m. */
static int map_append(struct stree *t, struct snode *m, struct snode *k, struct snode *v)
{
	struct snode **items = stree_alloc(t, (2 * m->n + 2) * sizeof *items);
	if (!items)
		return -1;
	if (m->n)
		memcpy(items, m->items, 2 * m->n * sizeof *items);
	items[2 * m->n] = k;
	items[2 * m->n + 1] = v;
	m->items = items;
	m->n++;
	return 0;
}

static struct snode **map_slot(struct snode *m, const char *key, size_t len)
{
	struct snode **found = NULL;
	for (size_t k = 0; k < m->n; k++) {
		const struct snode *kn = m->items[2 * k];
		if (kn->type != SNODE_SEQ && kn->type != SNODE_MAP && kn->len == len &&
		    memcmp(kn->text, key, len) == 0)
			found = &m->items[2 * k + 1];
	}
	return found;
}

/* The stage named `name` (or, failing that, at a decimal index) in the stages list. */
static struct snode **stage_slot(struct snode *seq, const char *name, size_t len)
{
	for (size_t i = 0; i < seq->n; i++) {
		const struct snode *nm = snode_get(seq->items[i], "name");
		if (nm && nm->type != SNODE_SEQ && nm->type != SNODE_MAP && nm->len == len &&
		    memcmp(nm->text, name, len) == 0)
			return &seq->items[i];
	}
	if (spec_all_digits(name, len) && len < 10 && strtoul(name, NULL, 10) < seq->n)
		return &seq->items[strtoul(name, NULL, 10)];
	return NULL;
}

static int set_missing(struct err *err, const char *arg, const char *what,
	const struct snode *coll, const char *name, size_t len)
{
	struct suggest s;
	char q[80], hint[120] = "";
	suggest_init(&s, name, len);
	if (coll && coll->type == SNODE_SEQ) {
		for (size_t i = 0; i < coll->n; i++) {
			const struct snode *nm = snode_get(coll->items[i], "name");
			if (nm && nm->type != SNODE_SEQ && nm->type != SNODE_MAP)
				suggest_add(&s, nm->text);
		}
	} else if (coll && coll->type == SNODE_MAP) {
		for (size_t k = 0; k < coll->n; k++)
			if (coll->items[2 * k]->type != SNODE_SEQ && coll->items[2 * k]->type != SNODE_MAP)
				suggest_add(&s, coll->items[2 * k]->text);
	}
	if (s.best)
		snprintf(hint, sizeof hint, " (did you mean '%.40s'?)", s.best);
	spec_quote(q, sizeof q, name, len);
	return err_set(err, ERR_NOTFOUND, "--set %s: no %s named %s%s", arg, what, q, hint);
}

static int apply_set(struct stree *t, const char *arg_raw, struct err *err)
{
	char argq[160], path[160];
	spec_clean(argq, sizeof argq, arg_raw, strlen(arg_raw));
	const char *eq = strchr(arg_raw, '=');
	if (!eq || eq == arg_raw)
		return err_set(err, ERR_INVALID, "--set %s: expected PATH=VALUE", argq);
	/* a spec file is UTF-8 (the YAML reader checks); a command line need not be */
	if (utf8_clean_size(arg_raw, strlen(arg_raw)) != strlen(arg_raw))
		return err_set(err, ERR_INVALID, "--set %s: not UTF-8 text", argq);
	spec_clean(path, sizeof path, arg_raw, (size_t)(eq - arg_raw));
	char *label = stree_alloc(t, strlen(path) + 7);
	if (!label)
		return err_set(err, ERR_NOMEM, "out of memory");
	snprintf(label, strlen(path) + 7, "--set %s", path);

	struct snode *val = label_node(t, SNODE_STR, label);
	if (!val || !(val->text = stree_strndup(t, eq + 1, strlen(eq + 1))))
		return err_set(err, ERR_NOMEM, "out of memory");
	val->len = strlen(eq + 1);
	snode_resolve_plain(val);

	if (!t->root || t->root->type != SNODE_MAP)
		return err_set(err, ERR_INVALID, "--set %s: the spec is not a mapping", argq);
	struct snode **slot = &t->root;
	const char *comp = arg_raw, *first = arg_raw;
	size_t first_len = 0;
	for (int depth = 0;; depth++) {
		const char *dot = memchr(comp, '.', (size_t)(eq - comp));
		size_t len = dot ? (size_t)(dot - comp) : (size_t)(eq - comp);
		if (len == 0)
			return err_set(err, ERR_INVALID, "--set %s: empty key in the path", argq);
		if (depth == 0)
			first_len = len;
		bool last = !dot;
		struct snode *cur = *slot;
		bool named = depth == 1 && (spec_text_is(first, first_len, "stages") ||
			spec_text_is(first, first_len, "datasets") || spec_text_is(first, first_len, "rewards"));
		struct snode **next = NULL;
		if (named && spec_text_is(first, first_len, "stages")) {
			if (cur->type == SNODE_SEQ)
				next = stage_slot(cur, comp, len);
			if (!next)
				return set_missing(err, argq, "stage", cur, comp, len);
		} else if (cur->type == SNODE_MAP) {
			next = map_slot(cur, comp, len);
			if (!next && named)
				return set_missing(err, argq, spec_text_is(first, first_len, "datasets") ?
					"dataset" : "reward", cur, comp, len);
			if (!next) {
				struct snode *k = label_node(t, SNODE_STR, label);
				struct snode *v = last ? val : label_node(t, SNODE_MAP, label);
				if (!k || !v || !(k->text = stree_strndup(t, comp, len)) ||
				    map_append(t, cur, k, v) < 0)
					return err_set(err, ERR_NOMEM, "out of memory");
				k->len = len;
				next = &cur->items[2 * cur->n - 1];
			}
		} else if (cur->type == SNODE_SEQ && spec_all_digits(comp, len) && len < 10 &&
			   strtoul(comp, NULL, 10) < cur->n) {
			next = &cur->items[strtoul(comp, NULL, 10)];
		} else {
			char at[160];
			spec_quote(at, sizeof at, arg_raw, (size_t)(comp - arg_raw - 1));
			return err_set(err, ERR_INVALID, "--set %s: %s is not a mapping", argq, at);
		}
		if (last) {
			*next = val;
			return 0;
		}
		slot = next;
		comp = dot + 1;
	}
}

/* ---- entry points ---- */

static int load(const char *text, size_t len, const char *name, const char *basedir,
	const char *const *sets, size_t n_sets, json_t **out, struct err *err)
{
	struct stree t = { 0 };
	int rc = -1;
	if (len > SPEC_MAX_BYTES) {
		err_set(err, ERR_INVALID, "%s: file too large (more than %u bytes)", name, SPEC_MAX_BYTES);
		goto out;
	}
	if (stree_parse_yaml(&t, text, len, name, err) < 0)
		goto out;
	for (size_t i = 0; i < n_sets; i++)
		if (apply_set(&t, sets[i], err) < 0)
			goto out;
	struct spec_check c = { .file = name, .basedir = basedir, .json_mode = false };
	rc = spec_check_tree(&t, &c, out, err);
out:
	stree_release(&t);
	return rc;
}

int spec_load_string(const char *text, size_t len, const char *name, const char *const *sets,
	size_t n_sets, json_t **out, struct err *err)
{
	*out = NULL;
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd))
		return err_set(err, ERR_IO, "%s: cannot get the working directory: %s", name,
			strerror(errno));
	return load(text, len, name, cwd, sets, n_sets, out, err);
}

int spec_load_file(const char *path, const char *const *sets, size_t n_sets, json_t **out,
	struct err *err)
{
	*out = NULL;
	char *buf = NULL, dir[PATH_MAX], real[PATH_MAX];
	size_t len = 0;
	int rc = -1, fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err_set(err, errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "cannot open '%s': %s", path,
			strerror(errno));
		goto out;
	}
	if (!(buf = malloc(SPEC_MAX_BYTES + 1))) {
		err_set(err, ERR_NOMEM, "%s: out of memory", path);
		goto out;
	}
	while (len <= SPEC_MAX_BYTES) {
		ssize_t r = read(fd, buf + len, SPEC_MAX_BYTES + 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_set(err, ERR_IO, "cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	/* relative paths in the spec are relative to its directory */
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (!realpath(dir, real)) {
		err_set(err, ERR_IO, "cannot resolve '%s': %s", dir, strerror(errno));
		goto out;
	}
	rc = load(buf, len, path, real, sets, n_sets, out, err);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

int spec_check_json(json_t *spec, struct err *err)
{
	struct stree t = { 0 };
	json_t *out = NULL;
	struct spec_check c = { .file = "", .basedir = NULL, .json_mode = true };
	int rc = stree_from_json(&t, spec, err);
	if (rc == 0)
		rc = spec_check_tree(&t, &c, &out, err);
	json_decref(out);
	stree_release(&t);
	return rc;
}

