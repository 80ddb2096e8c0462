/*
 * cli.c — option parsing from a verb's option table, and the error lines every
 * verb prints. See cli.h.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLI_MAX_OPTS 64
#define CLI_OPT_VAL_BASE 256 /* getopt_long val of opts[i] is base + i: no clash with 'h' */

static void cli_verror(const char *verb, const char *fmt, va_list ap, const char *suffix)
{
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (verb)
		fprintf(stderr, "r1flow %s: %s%s\n", verb, msg, suffix);
	else
		fprintf(stderr, "r1flow: %s%s\n", msg, suffix);
}

void cli_error(const char *verb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cli_verror(verb, fmt, ap, "");
	va_end(ap);
}

int cli_usage_error(const char *verb, const char *fmt, ...)
{
	char suffix[128];
	snprintf(suffix, sizeof suffix, "; see 'r1flow%s%s --help'", verb ? " " : "", verb ? verb : "");
	va_list ap;
	va_start(ap, fmt);
	cli_verror(verb, fmt, ap, suffix);
	va_end(ap);
	return CLI_EXIT_USAGE;
}

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* "--steps N", "--json" or "-f", into buf. */
static void cli_opt_spell(const struct cli_opt *o, char *buf, size_t cap)
{
	const char *dashes = o->name[1] ? "--" : "-";
	if (o->type == CLI_OPT_FLAG)
		snprintf(buf, cap, "%s%s", dashes, o->name);
	else
		snprintf(buf, cap, "%s%s %s", dashes, o->name, o->metavar ? o->metavar : "VALUE");
}

/* The current value of *o->dst as text, or "" when there is nothing to show. */
static void cli_opt_value(const struct cli_opt *o, char *buf, size_t cap)
{
	buf[0] = '\0';
	if (o->dflt) {
		snprintf(buf, cap, "%s", o->dflt);
		return;
	}
	switch (o->type) {
	case CLI_OPT_FLAG:
		break;
	case CLI_OPT_INT:
		snprintf(buf, cap, "%d", *(int *)o->dst);
		break;
	case CLI_OPT_FLOAT:
		snprintf(buf, cap, "%g", (double)*(float *)o->dst);
		break;
	case CLI_OPT_U64:
		snprintf(buf, cap, "%" PRIu64, *(uint64_t *)o->dst);
		break;
	case CLI_OPT_STRING:
		if (*(const char **)o->dst)
			snprintf(buf, cap, "%s", *(const char **)o->dst);
		break;
	case CLI_OPT_LIST:
		break;
	}
}

static void cli_print_usage_line(const struct cli_verb *v, FILE *f)
{
	fprintf(f, "usage: r1flow %s", v->name);
	bool optional = false;
	char spell[128];
	for (const struct cli_opt *o = v->opts; o->name; o++) {
		if (o->required) {
			cli_opt_spell(o, spell, sizeof spell);
			fprintf(f, " %s", spell);
		} else {
			optional = true;
		}
	}
	if (optional)
		fprintf(f, " [options]");
	if (v->args)
		fprintf(f, " %s", v->args);
	fputc('\n', f);
}

static void cli_print_help(const struct cli_verb *v)
{
	cli_print_usage_line(v, stdout);
	if (v->about)
		printf("\n%s\n", v->about);
	printf("\noptions:\n");
	int width = (int)strlen("-h, --help");
	char spell[128], value[128];
	for (const struct cli_opt *o = v->opts; o->name; o++) {
		cli_opt_spell(o, spell, sizeof spell);
		if ((int)strlen(spell) > width)
			width = (int)strlen(spell);
	}
	for (const struct cli_opt *o = v->opts; o->name; o++) {
		cli_opt_spell(o, spell, sizeof spell);
		cli_opt_value(o, value, sizeof value);
		printf("  %-*s  %s", width, spell, o->help);
		if (o->required)
			printf(" (required)");
		else if (value[0])
			printf(" (default %s)", value);
		putchar('\n');
	}
	printf("  %-*s  show this help\n", width, "-h, --help");
}

/* Store arg into *o->dst; a usage error (already printed) returns CLI_EXIT_USAGE. */
static int cli_opt_set(const struct cli_verb *v, const struct cli_opt *o, const char *arg)
{
	char *end;
	switch (o->type) {
	case CLI_OPT_FLAG:
		*(bool *)o->dst = true;
		return CLI_CONTINUE;
	case CLI_OPT_STRING:
		*(const char **)o->dst = arg;
		return CLI_CONTINUE;
	case CLI_OPT_LIST: {
		struct cli_list *l = o->dst;
		if (l->n == CLI_LIST_MAX)
			return cli_usage_error(v->name, "--%s given more than %d times", o->name,
				CLI_LIST_MAX);
		l->v[l->n++] = arg;
		return CLI_CONTINUE;
	}
	case CLI_OPT_INT: {
		errno = 0;
		long x = strtol(arg, &end, 10);
		if (errno || end == arg || *end || x < o->min || x > o->max)
			return cli_usage_error(v->name, "--%s must be an integer in %.0f..%.0f, got '%s'",
				o->name, o->min, o->max, arg);
		*(int *)o->dst = (int)x;
		return CLI_CONTINUE;
	}
	case CLI_OPT_FLOAT: {
		errno = 0;
		float x = strtof(arg, &end);
		if (errno || end == arg || *end || !isfinite(x) || x < o->min || x > o->max)
			return cli_usage_error(v->name, "--%s must be a number in %g..%g, got '%s'",
				o->name, o->min, o->max, arg);
		*(float *)o->dst = x;
		return CLI_CONTINUE;
	}
	case CLI_OPT_U64: {
		errno = 0;
		unsigned long long x = strtoull(arg, &end, 10);
		if (errno || end == arg || *end || arg[0] == '-')
			return cli_usage_error(v->name, "--%s must be an unsigned integer, got '%s'",
				o->name, arg);
		*(uint64_t *)o->dst = (uint64_t)x;
		return CLI_CONTINUE;
	}
	}
	return CLI_CONTINUE;
}

int cli_parse(const struct cli_verb *v, int argc, char **argv, int *first_arg)
{
	struct option longopts[CLI_MAX_OPTS + 2];
	bool seen[CLI_MAX_OPTS] = { false };
	char shortopts[2 * CLI_MAX_OPTS + 3] = ":h";
	size_t ns = strlen(shortopts);
	int n = 0;
	for (const struct cli_opt *o = v->opts; o->name; o++, n++) {
		if (n == CLI_MAX_OPTS) {
			fprintf(stderr, "r1flow %s: too many options in the table\n", v->name);
			abort();
		}
		longopts[n] = (struct option){ o->name,
			o->type == CLI_OPT_FLAG ? no_argument : required_argument, NULL,
			CLI_OPT_VAL_BASE + n };
		if (!o->name[1]) {
			shortopts[ns++] = o->name[0];
			if (o->type != CLI_OPT_FLAG)
				shortopts[ns++] = ':';
			shortopts[ns] = '\0';
		}
	}
	longopts[n] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[n + 1] = (struct option){ NULL, 0, NULL, 0 };

	opterr = 0;  /* we print our own messages */
	optind = 0;  /* glibc: 0 re-initialises getopt, so a verb can be parsed twice */
	int c;
	/* The leading ':' makes a missing value return ':' rather than '?'. */
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == 'h') {
			cli_print_help(v);
			return CLI_EXIT_OK;
		}
		if (c > 0 && c < CLI_OPT_VAL_BASE && c != ':' && c != '?') {
			/* a short option: the one-letter entry of the table */
			for (int i = 0; i < n; i++)
				if (!v->opts[i].name[1] && v->opts[i].name[0] == c)
					c = CLI_OPT_VAL_BASE + i;
		}
		if (c == ':') {
			if (optopt > 0 && optopt < CLI_OPT_VAL_BASE)
				return cli_usage_error(v->name, "option '-%c' needs a value", optopt);
			const char *name = optopt >= CLI_OPT_VAL_BASE ? v->opts[optopt - CLI_OPT_VAL_BASE].name : "?";
			const char *meta = optopt >= CLI_OPT_VAL_BASE ? v->opts[optopt - CLI_OPT_VAL_BASE].metavar : NULL;
			return cli_usage_error(v->name, "option '--%s' needs a value (%s)", name, meta ? meta : "VALUE");
		}
		if (c == '?') {
			if (optopt >= CLI_OPT_VAL_BASE)
				return cli_usage_error(v->name, "option '--%s' takes no value",
					v->opts[optopt - CLI_OPT_VAL_BASE].name);
			if (optopt == 'h')
				return cli_usage_error(v->name, "option '--help' takes no value");
			if (optopt)
				return cli_usage_error(v->name, "unknown option '-%c'", optopt);
			return cli_usage_error(v->name, "unknown option '%s'", argv[optind - 1]);
		}
		int i = c - CLI_OPT_VAL_BASE;
		int rc = cli_opt_set(v, &v->opts[i], optarg);
		if (rc != CLI_CONTINUE)
			return rc;
		seen[i] = true;
	}

	int nargs = argc - optind;
	if (nargs > v->max_args) {
		if (v->max_args == 0)
			return cli_usage_error(v->name, "unexpected argument '%s'", argv[optind]);
		return cli_usage_error(v->name, "too many arguments (at most %d)", v->max_args);
	}
	if (nargs < v->min_args)
		return cli_usage_error(v->name, "missing %s", v->args ? v->args : "arguments");
	for (int i = 0; i < n; i++) {
		if (v->opts[i].required && !seen[i]) {
			char spell[128];
			cli_opt_spell(&v->opts[i], spell, sizeof spell);
			return cli_usage_error(v->name, "missing %s", spell);
		}
	}
	if (first_arg)
		*first_arg = optind;
	return CLI_CONTINUE;
}
