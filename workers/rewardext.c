/* rewardext — program and code rewards for reward jobs; see rewardext.h. */
#define _GNU_SOURCE
#include "rewardext.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "rewardcode.h"
#include "rewardproc.h"
#include "sha256.h"

#define REWARDEXT_MAX_ARGS 64
#define REWARDEXT_MAX_FILES 4096
#define REWARDEXT_PATH_MAX 4096

static struct rewardext_slot {
	char *key;               /* NULL: empty */
	char *name;
	char dir[REWARDEXT_PATH_MAX];
	struct rewardproc *proc;
	uint64_t used;
} slots[REWARDEXT_PROCS];
static uint64_t slot_clock;

int rewardext_is(enum rewards_kind kind)
{
	return kind == REWARDS_PROGRAM || kind == REWARDS_CODE;
}

/* A relative path of plain components: no "", ".", ".." or leading '/'. */
static int rewardext_rel_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 1024 || s[0] == '/')
		return 0;
	for (const char *p = s; *p;) {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += len + (e ? 1 : 0);
		if (e && !*p)
			return 0;
	}
	return 1;
}

static int rewardext_int(const json_t *o, const char *key, long long def, long long lo,
	long long hi, long long *out, struct err *err)
{
	const json_t *v = json_object_get(o, key);
	*out = def;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return err_set(err, ERR_INVALID, "%s: expected an integer in %lld..%lld", key, lo, hi);
	*out = json_integer_value(v);
	return 0;
}

struct rewardext_params {
	const char *argv[REWARDEXT_MAX_ARGS + 1];
	const json_t *files;
	int timeout_ms, start_ms, all;
	struct sandbox_limits limits;
};

static int rewardext_parse(const json_t *c, struct rewardext_params *x, struct err *err)
{
	enum rewards_kind kind;
	long long timeout, start, mem, cpu;
	const char *mode = json_string_value(json_object_get(c, "mode"));
	memset(x, 0, sizeof *x);
	sandbox_limits_default(&x->limits);
	if (rewards_kind_parse(json_string_value(json_object_get(c, "fn")), &kind, err) < 0)
		return -1;
	if (rewardext_int(c, "timeout_ms", 2000, 1, 600000, &timeout, err) < 0 ||
		rewardext_int(c, "start_timeout_ms", 10000, 0, 600000, &start, err) < 0 ||
		rewardext_int(c, "memory_mb", 1024, 16, 1048576, &mem, err) < 0 ||
		rewardext_int(c, "cpu_s", 600, 1, 86400, &cpu, err) < 0)
		return -1;
	x->timeout_ms = (int)timeout;
	x->start_ms = (int)start;
	x->limits.memory_mb = (int)mem;
	x->limits.cpu_s = (int)cpu;
	if (kind == REWARDS_CODE) {
		if (mode && strcmp(mode, "fraction") && strcmp(mode, "all"))
			return err_set(err, ERR_INVALID, "mode: expected fraction or all, got '%.40s'", mode);
		if (json_object_get(c, "mode") && !mode)
			return err_set(err, ERR_INVALID, "mode: expected fraction or all");
		x->all = mode && !strcmp(mode, "all");
		return 0;
	}
	const json_t *argv = json_object_get(c, "program"), *v;
	size_t i;
	if (!json_is_array(argv) || json_array_size(argv) == 0 ||
		json_array_size(argv) > REWARDEXT_MAX_ARGS)
		return err_set(err, ERR_INVALID, "program: expected a list of 1 to %d texts (the "
			"command and its arguments)", REWARDEXT_MAX_ARGS);
	json_array_foreach(argv, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
			strlen(json_string_value(v)) != json_string_length(v))
			return err_set(err, ERR_INVALID, "program[%zu]: expected a non-empty text", i);
		x->argv[i] = json_string_value(v);
	}
	x->files = json_object_get(c, "file_blobs");
	if (x->files && !json_is_object(x->files))
		return err_set(err, ERR_INVALID, "file_blobs: expected an object of file names");
	if (json_object_size(x->files) > REWARDEXT_MAX_FILES)
		return err_set(err, ERR_INVALID, "file_blobs: %zu files: at most %d",
			json_object_size(x->files), REWARDEXT_MAX_FILES);
	const char *rel;
	json_object_foreach((json_t *)x->files, rel, v) {
		if (!rewardext_rel_ok(rel))
			return err_set(err, ERR_INVALID, "file_blobs: '%.80s' is not a relative path", rel);
		if (!json_is_string(v) || !sha256_hex_valid(json_string_value(v)))
			return err_set(err, ERR_INVALID, "file_blobs.%.80s: expected a sha256", rel);
	}
	return 0;
}

int rewardext_check(const json_t *component, struct err *err)
{
	struct rewardext_params x;
	return rewardext_parse(component, &x, err);
}

static void rewardext_slot_clear(struct rewardext_slot *s)
{
	rewardproc_free(s->proc);
	if (s->dir[0])
		sandbox_rmtree(s->dir);
	free(s->key);
	free(s->name);
	memset(s, 0, sizeof *s);
}

void rewardext_clear(void)
{
	for (size_t i = 0; i < REWARDEXT_PROCS; i++)
		rewardext_slot_clear(&slots[i]);
}

int rewardext_starts(const char *name)
{
	for (size_t i = 0; i < REWARDEXT_PROCS; i++)
		if (slots[i].key && !strcmp(slots[i].name, name))
			return rewardproc_starts(slots[i].proc);
	return 0;
}

/* Copy blob `from` to dir/rel, making rel's directories. */
static int rewardext_copy(const char *from, const char *dir, const char *rel, struct err *err)
{
	char path[REWARDEXT_PATH_MAX], *bytes;
	size_t size;
	if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path)
		return err_set(err, ERR_INVALID, "file '%.80s': path too long", rel);
	for (char *p = path + strlen(dir) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		int rc = mkdir(path, 0755);
		*p = '/';
		if (rc < 0 && errno != EEXIST)
			return err_sys(err, errno, "cannot create the directory of '%s'", rel);
	}
	if (file_read(from, FILE_READ_ANY, &bytes, &size, err) < 0)
		return err_wrap(err, "file '%s'", rel);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755), e = 0;
	if (fd < 0 || file_write_all(fd, bytes, size) < 0)
		e = errno;
	if (fd >= 0 && close(fd) < 0 && !e)
		e = errno;
	free(bytes);
	if (e)
		return err_sys(err, e, "cannot write '%s'", path);
	return 0;
}

/* The process of this component: kept, or made (its files copied in). */
static struct rewardproc *rewardext_proc(const struct job *job, const char *name,
	const json_t *c, const struct rewardext_params *x, struct err *err)
{
	json_t *k = json_pack("{sO sO* sO* so so so}", "program", json_object_get(c, "program"),
		"file_blobs", json_object_get(c, "file_blobs"), "name", json_object_get(c, "name"),
		"memory_mb", json_integer(x->limits.memory_mb), "cpu_s", json_integer(x->limits.cpu_s),
		"nofile", json_integer(x->limits.nofile));
	char *key = k ? json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	struct rewardext_slot *s = &slots[0];
	json_decref(k);
	if (!key) {
		err_set(err, ERR_NOMEM, "reward '%s': out of memory", name);
		return NULL;
	}
	for (size_t i = 0; i < REWARDEXT_PROCS; i++) {
		if (slots[i].key && !strcmp(slots[i].key, key)) {
			free(key);
			slots[i].used = ++slot_clock;
			return slots[i].proc;
		}
		if (!slots[i].key ? s->key != NULL : s->key && slots[i].used < s->used)
			s = &slots[i];
	}
	rewardext_slot_clear(s);
	s->key = key;
	s->used = ++slot_clock;
	const char *tmp = getenv("TMPDIR");
	snprintf(s->dir, sizeof s->dir, "%s/r1flow-reward-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!(s->name = strdup(name)) || !mkdtemp(s->dir)) {
		err_sys(err, s->name ? errno : ENOMEM, "reward '%s': cannot create a directory in '%s'",
			name, tmp && *tmp ? tmp : "/tmp");
		s->dir[0] = '\0';
		goto fail;
	}
	const char *rel;
	const json_t *v;
	json_object_foreach((json_t *)x->files, rel, v) {
		char from[REWARDEXT_PATH_MAX];
		if (job_blob_path(job, json_string_value(v), from, sizeof from, err) < 0 ||
			rewardext_copy(from, s->dir, rel, err) < 0) {
			err_wrap(err, "reward '%s'", name);
			goto fail;
		}
	}
	if (!(s->proc = rewardproc_new(name, x->argv, s->dir, &x->limits, x->start_ms))) {
		err_set(err, ERR_NOMEM, "reward '%s': out of memory", name);
		goto fail;
	}
	return s->proc;
fail:
	rewardext_slot_clear(s);
	return NULL;
}

int rewardext_score(const struct job *job, const json_t *component,
	const struct rewards_input *in, const json_t *record, double *value, json_t *components,
	struct err *err)
{
	struct rewardext_params x;
	const char *name = json_string_value(json_object_get(component, "name"));
	const char *fn = json_string_value(json_object_get(component, "fn"));
	char key[96];
	if (!name)
		name = "?";
	if (rewardext_parse(component, &x, err) < 0)
		return err_wrap(err, "reward '%s'", name);
	if (fn && !strcmp(fn, NAME_REWARD_CODE)) {
		struct rewardcode_params cp = { x.all, x.timeout_ms, x.limits };
		int passed, tests;
		if (rewardcode_score(in->completion, in->completion_len, record, &cp, value, &passed,
			&tests, err) < 0)
			return err_wrap(err, "reward '%s'", name);
		snprintf(key, sizeof key, "%s.passed", name);
		json_object_set_new(components, key, json_integer(passed));
		snprintf(key, sizeof key, "%s.tests", name);
		json_object_set_new(components, key, json_integer(tests));
		return 0;
	}
	struct rewardproc *p = rewardext_proc(job, name, component, &x, err);
	if (!p)
		return -1;
	json_t *req = json_object(), *got = NULL;
	if (!req || json_object_set_new(req, "prompt", json_string(in->prompt ? in->prompt : "")) ||
		json_object_set_new(req, "completion", json_stringn(in->completion, in->completion_len)) ||
		json_object_set_new(req, "answer", in->answer ? json_string(in->answer) : json_null()) ||
		json_object_set_new(req, "record", record ? json_deep_copy(record) : json_null())) {
		json_decref(req);
		return err_set(err, ERR_NOMEM, "reward '%s': cannot build the request (out of memory "
			"or not UTF-8)", name);
	}
	int rc = rewardproc_call(p, req, x.timeout_ms, value, &got, err);
	json_decref(req);
	if (rc < 0)
		return -1;
	const char *k;
	json_t *v;
	json_object_foreach(got, k, v) {
		snprintf(key, sizeof key, "%s.%s", name, k);
		json_object_set(components, key, v);
	}
	json_decref(got);
	return 0;
}
