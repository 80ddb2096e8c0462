#include "jobparams.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sha256.h"

void jobparams_init(struct jobparams *p, const char *kind, struct err *err)
{
	p->kind = kind;
	p->where[0] = '\0';
	p->err = err;
}

void jobparams_at(struct jobparams *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->where, sizeof p->where, fmt, ap);
	va_end(ap);
}

int jobparams_fail(struct jobparams *p, const char *key, const char *fmt, ...)
{
	char msg[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return err_set(p->err, ERR_INVALID, "%s: %s%s: %s", p->kind, p->where, key, msg);
}

/* The value at key, NULL when absent or null; -1 (error) when required and so. */
static int jobparams_value(struct jobparams *p, const json_t *obj, const char *key,
	int required, const json_t **v)
{
	*v = json_object_get(obj, key);
	if (*v && json_is_null(*v))
		*v = NULL;
	if (!*v && required)
		return jobparams_fail(p, key, "missing");
	return 0;
}

int jobparams_int(struct jobparams *p, const json_t *obj, const char *key, int required,
	long long def, long long lo, long long hi, long long *out)
{
	const json_t *v;
	if (jobparams_value(p, obj, key, required, &v) < 0)
		return -1;
	if (!v) {
		*out = def;
		return 0;
	}
	if (!json_is_integer(v))
		return jobparams_fail(p, key, "expected an integer");
	long long x = json_integer_value(v);
	if (x < lo || x > hi)
		return jobparams_fail(p, key, "%lld is out of range (%lld..%lld)", x, lo, hi);
	*out = x;
	return 0;
}

int jobparams_num(struct jobparams *p, const json_t *obj, const char *key, int required,
	double def, double lo, double hi, double *out)
{
	const json_t *v;
	if (jobparams_value(p, obj, key, required, &v) < 0)
		return -1;
	if (!v) {
		*out = def;
		return 0;
	}
	if (!json_is_number(v))
		return jobparams_fail(p, key, "expected a number");
	double x = json_number_value(v);
	if (!isfinite(x) || x < lo || x > hi)
		return jobparams_fail(p, key, "%g is out of range (%g..%g)", x, lo, hi);
	*out = x;
	return 0;
}

int jobparams_bool(struct jobparams *p, const json_t *obj, const char *key, int required,
	int def, int *out)
{
	const json_t *v;
	if (jobparams_value(p, obj, key, required, &v) < 0)
		return -1;
	if (!v) {
		*out = def;
		return 0;
	}
	if (!json_is_boolean(v))
		return jobparams_fail(p, key, "expected a boolean");
	*out = json_is_true(v);
	return 0;
}

int jobparams_str(struct jobparams *p, const json_t *obj, const char *key, int required,
	const char **out, size_t *len)
{
	const json_t *v;
	*out = NULL;
	if (len)
		*len = 0;
	if (jobparams_value(p, obj, key, required, &v) < 0)
		return -1;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return jobparams_fail(p, key, "expected a string");
	*out = json_string_value(v);
	if (len)
		*len = json_string_length(v);
	return 0;
}

int jobparams_sha(struct jobparams *p, const json_t *obj, const char *key, int nullable,
	const char **out)
{
	if (jobparams_str(p, obj, key, !nullable, out, NULL) < 0)
		return -1;
	if (*out && !sha256_hex_valid(*out))
		return jobparams_fail(p, key, "expected a sha256 (64 hex digits)");
	return 0;
}

int jobparams_array(struct jobparams *p, const json_t *obj, const char *key,
	const char *what, const json_t **out)
{
	const json_t *v;
	if (jobparams_value(p, obj, key, 1, &v) < 0)
		return -1;
	if (!json_is_array(v))
		return jobparams_fail(p, key, "expected %s", what);
	*out = v;
	return 0;
}

int jobparams_object(struct jobparams *p, const json_t *obj, const char *key, int required,
	const json_t **out)
{
	const json_t *v;
	*out = NULL;
	if (jobparams_value(p, obj, key, required, &v) < 0)
		return -1;
	if (v && !json_is_object(v))
		return jobparams_fail(p, key, "expected an object");
	*out = v;
	return 0;
}

int jobparams_tokens(struct jobparams *p, const json_t *obj, const char *key, int vocab,
	int max_len, const char *max_what, int **ids, int *n)
{
	const json_t *a;
	*ids = NULL;
	*n = 0;
	if (jobparams_array(p, obj, key, "an array of token ids", &a) < 0)
		return -1;
	size_t len = json_array_size(a);
	if (max_len > 0 && len > (size_t)max_len)
		return jobparams_fail(p, key, "%zu tokens, more than %s", len, max_what);
	if (len > INT_MAX)
		return jobparams_fail(p, key, "%zu tokens, too many", len);
	if (len == 0)
		return 0;
	int *out = malloc(len * sizeof *out);
	if (!out)
		return err_set(p->err, ERR_NOMEM, "%s: %s%s: out of memory", p->kind, p->where, key);
	for (size_t i = 0; i < len; i++) {
		const json_t *v = json_array_get(a, i);
		if (!json_is_integer(v)) {
			free(out);
			return jobparams_fail(p, key, "expected an array of token ids");
		}
		json_int_t id = json_integer_value(v);
		if (id < 0 || id >= vocab) {
			free(out);
			return jobparams_fail(p, key, "token %lld at %zu is outside the vocabulary (0..%d)",
				(long long)id, i, vocab - 1);
		}
		out[i] = (int)id;
	}
	*ids = out;
	*n = (int)len;
	return 0;
}
