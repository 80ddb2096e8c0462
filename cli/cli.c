/*
 * cli.c — a verb's --help and usage errors from its option table (base/opts.h),
 * and the error lines every verb prints. See cli.h.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

static void cli_print_usage_line(const struct cli_verb *v, FILE *f)
{
	fprintf(f, "usage: r1flow %s", v->name);
	bool optional = false;
	char spell[128];
	for (const struct opt *o = v->opts; o->name; o++) {
		if (o->flags & OPT_REQUIRED) {
			opts_spell(o, spell, sizeof spell);
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
	int width = opts_help(stdout, v->opts, 0, (int)strlen("-h, --help"));
	printf("  %-*s show this help\n", width, "-h, --help");
}

int cli_parse(const struct cli_verb *v, int argc, char **argv, int *first_arg)
{
	const struct opts_spec spec = { v->opts, v->min_args, v->max_args, v->args, false,
		true };
	struct err err = { 0 };
	int rc = opts_parse(&spec, argc, argv, first_arg, &err);
	if (rc < 0)
		return cli_usage_error(v->name, "%s", err.msg);
	if (rc == OPTS_HELP) {
		cli_print_help(v);
		return CLI_EXIT_OK;
	}
	return CLI_CONTINUE;
}
