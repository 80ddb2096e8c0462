/*
 * opts.c — parsing, defaults and --help lines from an option table. See opts.h.
 */
#include "opts.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define OPTS_MAX 64 /* entries in one table: a bigger table is a bug */

void opts_spell(const struct opt *o, char *buf, size_t cap)
{
	const char *dashes = o->name[1] ? "--" : "-";
	if (o->kind == OPT_FLAG)
		snprintf(buf, cap, "%s%s", dashes, o->name);
	else
		snprintf(buf, cap, "%s%s %s", dashes, o->name, o->metavar ? o->metavar : "VALUE");
}

/* "'--name'" or "'-n'" for messages. */
static const char *quoted(const struct opt *o, char *buf, size_t cap)
{
	snprintf(buf, cap, "'%s%s'", o->name[1] ? "--" : "-", o->name);
	return buf;
}

/* "a, b or c" */
static void choices_text(const struct opt *o, char *buf, size_t cap)
{
	size_t n = 0, len = 0;
	while (o->choices[n])
		n++;
	buf[0] = '\0';
	for (size_t i = 0; i < n && len < cap; i++) {
		const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
		int w = snprintf(buf + len, cap - len, "%s%s", sep, o->choices[i]);
		if (w < 0)
			break;
		len += (size_t)w;
	}
}

/* Store `value` (text from argv, a default or the environment) into o->target. */
static int set(const struct opt *o, const char *value, struct err *err)
{
	char q[80], *end;
	switch (o->kind) {
	case OPT_FLAG:
		*(bool *)o->target = true;
		return 0;
	case OPT_STRING:
		if ((o->flags & OPT_NONEMPTY) && !*value)
			return err_set(err, ERR_INVALID, "option %s needs a non-empty value",
				quoted(o, q, sizeof q));
		*(const char **)o->target = value;
		return 0;
	case OPT_LIST: {
		struct opt_list *l = o->target;
		if (l->n == OPT_LIST_MAX)
			return err_set(err, ERR_INVALID, "option %s given more than %d times",
				quoted(o, q, sizeof q), OPT_LIST_MAX);
		l->v[l->n++] = value;
		return 0;
	}
	case OPT_INT: {
		errno = 0;
		long long x = strtoll(value, &end, 10);
		if (errno || end == value || *end || x < o->min || x > o->max)
			return err_set(err, ERR_INVALID, "option %s must be an integer from %.0f to "
				"%.0f, not '%s'", quoted(o, q, sizeof q), o->min, o->max, value);
		*(int *)o->target = (int)x;
		return 0;
	}
	case OPT_DOUBLE:
	case OPT_FLOAT: {
		errno = 0;
		double x = o->kind == OPT_FLOAT ? (double)strtof(value, &end) : strtod(value, &end);
		if (errno || end == value || *end || !isfinite(x) || x < o->min || x > o->max)
			return err_set(err, ERR_INVALID, "option %s must be a number from %g to %g, "
				"not '%s'", quoted(o, q, sizeof q), o->min, o->max, value);
		if (o->kind == OPT_FLOAT)
			*(float *)o->target = (float)x;
		else
			*(double *)o->target = x;
		return 0;
	}
	case OPT_U64: {
		errno = 0;
		unsigned long long x = strtoull(value, &end, 10);
		if (errno || end == value || *end || value[0] == '-')
			return err_set(err, ERR_INVALID, "option %s must be an unsigned integer, "
				"not '%s'", quoted(o, q, sizeof q), value);
		*(uint64_t *)o->target = (uint64_t)x;
		return 0;
	}
	case OPT_ENUM:
		for (int i = 0; o->choices[i]; i++) {
			if (strcmp(o->choices[i], value) == 0) {
				*(int *)o->target = i;
				return 0;
			}
		}
		char list[256];
		choices_text(o, list, sizeof list);
		return err_set(err, ERR_INVALID, "option %s must be %s, not '%s'",
			quoted(o, q, sizeof q), list, value);
	}
	return err_set(err, ERR_INVALID, "option %s has an unknown kind", quoted(o, q, sizeof q));
}

int opts_defaults(const struct opt *opts, struct err *err)
{
	for (const struct opt *o = opts; o->name; o++) {
		const char *env = o->env ? getenv(o->env) : NULL;
		if (env && *env) {
			if (set(o, env, err) < 0)
				return err_wrap(err, "environment variable '%s'", o->env);
			continue;
		}
		if (o->dflt && *o->dflt) {
			if (set(o, o->dflt, err) < 0)
				return -1; /* a bad default is a bug, but say so rather than abort */
			continue;
		}
		switch (o->kind) {
		case OPT_FLAG: *(bool *)o->target = false; break;
		case OPT_INT: case OPT_ENUM: *(int *)o->target = 0; break;
		case OPT_DOUBLE: *(double *)o->target = 0; break;
		case OPT_FLOAT: *(float *)o->target = 0; break;
		case OPT_U64: *(uint64_t *)o->target = 0; break;
		case OPT_STRING: *(const char **)o->target = ""; break;
		case OPT_LIST: ((struct opt_list *)o->target)->n = 0; break;
		}
	}
	return 0;
}

/* The entry named by name[0..len): an exact match. */
static const struct opt *find(const struct opt *opts, const char *name, size_t len)
{
	for (const struct opt *o = opts; o->name; o++)
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

/* The long option that name[0..len) names: its full name, with *o its entry (NULL for
 * the built-in help and version); "" when it abbreviates several; NULL when none. */
static const char *resolve(const struct opts_spec *spec, const char *name, size_t len,
	const struct opt **o)
{
	static const char *const builtins[] = { "help", "version" };
	const char *full = NULL;
	int matches = 0;
	*o = NULL;
	if (len == 0)
		return NULL;
	if ((*o = find(spec->opts, name, len)))
		return (*o)->name;
	for (int i = 0; i < (spec->version ? 2 : 1); i++)
		if (strlen(builtins[i]) == len && strncmp(builtins[i], name, len) == 0)
			return builtins[i];
	if (!spec->abbrev)
		return NULL;
	for (const struct opt *e = spec->opts; e->name; e++) {
		if (strncmp(e->name, name, len) == 0) {
			full = e->name;
			*o = e;
			matches++;
		}
	}
	for (int i = 0; i < (spec->version ? 2 : 1); i++) {
		if (strncmp(builtins[i], name, len) == 0) {
			full = builtins[i];
			*o = NULL;
			matches++;
		}
	}
	if (matches > 1) {
		*o = NULL;
		return "";
	}
	return full;
}

int opts_parse(const struct opts_spec *spec, int argc, char **argv, int *first_arg,
	struct err *err)
{
	bool seen[OPTS_MAX] = { false };
	char *pos[argc > 0 ? argc : 1];
	int npos = 0, nopt = 1, a, n = 0;
	while (spec->opts[n].name)
		n++;
	if (n > OPTS_MAX)
		return err_set(err, ERR_INVALID, "too many options in the table");

	for (a = 1; a < argc; a++) {
		char *arg = argv[a], q[80];
		if (strcmp(arg, "--") == 0) {
			a++;
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0') {
			pos[npos++] = arg;
			continue;
		}
		argv[nopt++] = arg;
		const struct opt *o;
		const char *value = NULL;
		if (arg[1] == '-') {
			const char *name = arg + 2, *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			const char *full = resolve(spec, name, len, &o);
			if (!full)
				return err_set(err, ERR_INVALID, "unknown option '%.*s'", (int)(len + 2), arg);
			if (!*full)
				return err_set(err, ERR_INVALID, "ambiguous option '%.*s'", (int)(len + 2),
					arg);
			if (strcmp(full, "help") == 0) {
				if (eq)
					return err_set(err, ERR_INVALID, "option '--help' takes no value");
				return OPTS_HELP;
			}
			if (strcmp(full, "version") == 0 && !eq)
				return OPTS_VERSION;
			if (!o)
				return err_set(err, ERR_INVALID, "option '--version' takes no value");
			if (eq) {
				if (o->kind == OPT_FLAG)
					return err_set(err, ERR_INVALID, "option %s takes no value",
						quoted(o, q, sizeof q));
				value = eq + 1;
			}
		} else {
			if (arg[1] == 'h')
				return OPTS_HELP;
			o = find(spec->opts, arg + 1, 1);
			if (!o)
				return err_set(err, ERR_INVALID, "unknown option '-%c'", arg[1]);
			if (arg[2]) {
				if (o->kind == OPT_FLAG)
					return err_set(err, ERR_INVALID, "option %s takes no value",
						quoted(o, q, sizeof q));
				value = arg + 2;
			}
		}
		if (!value && o->kind != OPT_FLAG) {
			if (a + 1 >= argc)
				return err_set(err, ERR_INVALID, "option %s needs a value (%s)",
					quoted(o, q, sizeof q), o->metavar ? o->metavar : "VALUE");
			value = argv[++a];
			argv[nopt++] = argv[a];
		}
		if (set(o, value, err) < 0)
			return -1;
		seen[o - spec->opts] = true;
	}
	while (a < argc)
		pos[npos++] = argv[a++];
	for (int i = 0; i < npos; i++)
		argv[nopt + i] = pos[i];

	if (npos > spec->max_args) {
		if (spec->max_args == 0)
			return err_set(err, ERR_INVALID, "unexpected argument '%s'", pos[0]);
		return err_set(err, ERR_INVALID, "too many arguments (at most %d)", spec->max_args);
	}
	if (npos < spec->min_args)
		return err_set(err, ERR_INVALID, "missing %s", spec->args ? spec->args : "arguments");
	for (int i = 0; i < n; i++) {
		if ((spec->opts[i].flags & OPT_REQUIRED) && !seen[i]) {
			char spell[128];
			opts_spell(&spec->opts[i], spell, sizeof spell);
			return err_set(err, ERR_INVALID, "missing %s", spell);
		}
	}
	if (first_arg)
		*first_arg = nopt;
	return OPTS_RUN;
}

/* The default --help shows, or "" for none. */
static void shown_default(const struct opt *o, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (o->dflt) {
		snprintf(buf, cap, "%s", o->dflt);
		return;
	}
	switch (o->kind) {
	case OPT_INT:
		snprintf(buf, cap, "%d", *(int *)o->target);
		break;
	case OPT_DOUBLE:
		snprintf(buf, cap, "%g", *(double *)o->target);
		break;
	case OPT_FLOAT:
		snprintf(buf, cap, "%g", (double)*(float *)o->target);
		break;
	case OPT_U64:
		snprintf(buf, cap, "%" PRIu64, *(uint64_t *)o->target);
		break;
	case OPT_STRING:
		if (*(const char **)o->target)
			snprintf(buf, cap, "%s", *(const char **)o->target);
		break;
	case OPT_ENUM:
		snprintf(buf, cap, "%s", o->choices[*(int *)o->target]);
		break;
	case OPT_FLAG:
	case OPT_LIST:
		break;
	}
}

int opts_help(FILE *out, const struct opt *opts, int width, int min_width)
{
	char spell[128], value[128];
	if (width == 0) {
		width = min_width;
		for (const struct opt *o = opts; o->name; o++) {
			opts_spell(o, spell, sizeof spell);
			if ((int)strlen(spell) > width)
				width = (int)strlen(spell);
		}
		width++;
	}
	for (const struct opt *o = opts; o->name; o++) {
		opts_spell(o, spell, sizeof spell);
		shown_default(o, value, sizeof value);
		fprintf(out, "  %-*s %s", width, spell, o->help);
		if (o->flags & OPT_REQUIRED)
			fprintf(out, " (required)");
		else if (value[0])
			fprintf(out, " (default %s)", value);
		fputc('\n', out);
	}
	return width;
}

int opts_program(const struct opt *opts, const char *prog, const char *version,
	const char *about, int width, int argc, char **argv, struct err *err)
{
	const struct opts_spec spec = { opts, 0, 0, NULL, true, false };
	if (opts_defaults(opts, err) < 0)
		return -1;
	int rc = opts_parse(&spec, argc, argv, NULL, err);
	if (rc == OPTS_HELP) {
		printf("usage: %s [options]\n\n%s", prog, about);
		int w = opts_help(stdout, opts, width, 0);
		printf("  %-*s %s\n  %-*s %s\n", w, "--help", "show this help", w, "--version",
			"show the version");
		return 1;
	}
	if (rc == OPTS_VERSION) {
		printf("%s %s\n", prog, version);
		return 1;
	}
	return rc;
}
