/*
 * metrics_tensorboard — `r1flow metrics ID --tensorboard DIR`: a pipeline's metrics
 * as a TensorBoard event file (tfevents.h has the format).
 *
 * Where: DIR/ID-NAME/events.out.tfevents.CREATED.HOST.r1flow-ID. TensorBoard calls
 * each directory under --logdir a run and merges the event files inside one, so
 * every pipeline gets its own directory (two exports into one DIR are two runs to
 * overlay, not one mixed curve); NAME is left out of it if the daemon ever sends one
 * that is not a plain file name. CREATED is the pipeline's creation time in seconds
 * and HOST this machine's name (TensorBoard's own writers name files so), which
 * makes the name the same at every export of the pipeline from here.
 *
 * What: one Event per point, tag STAGE/METRIC, step the point's step, wall time the
 * point's time from the daemon (`metrics` with times: true; a daemon without them
 * gives the time of the export), value as float32 (TensorBoard's simple_value). The
 * first Event carries the file version and the pipeline's creation time.
 *
 * Overwriting: an earlier export of the pipeline in that directory (any file
 * events.out.tfevents.*.r1flow-ID, from any host) is an error naming it, unless
 * --force: then the new file replaces it atomically and the others are removed. A
 * new file is created exclusively (O_EXCL), so a file that appears meanwhile is not
 * overwritten either; a failed write removes what it created.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "file.h"
#include "run.h"
#include "tfevents.h"
#include "utf8.h"

#define TB_PREFIX "events.out.tfevents."

/* Whether the pipeline's name can be part of a directory name as it is. */
static bool tb_plain_name(const char *s)
{
	if (!s || !*s || strlen(s) > 64 || s[0] == '.')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			(*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

/* This machine's name as part of a file name ("localhost" when it has none). */
static void tb_host(char *buf, size_t cap)
{
	if (gethostname(buf, cap) < 0 || !buf[0])
		snprintf(buf, cap, "localhost");
	buf[cap - 1] = '\0';
	for (char *p = buf; *p; p++)
		if (*p == '/')
			*p = '_';
}

/* Whether `name` is an event file of pipeline `id` (r1flow's naming). */
static bool tb_ours(const char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);
	return !strncmp(name, TB_PREFIX, strlen(TB_PREFIX)) && n > k &&
		!strcmp(name + n - k, suffix);
}

/*
 * The first event file of the pipeline in `dir` other than `keep` into found (""
 * when none), or with `unlink_them` remove every such file. 0, or -1 and err.
 */
static int tb_others(const char *dir, const char *suffix, const char *keep, bool unlink_them,
	char *found, size_t cap, struct err *err)
{
	found[0] = '\0';
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : err_sys(err, errno, "cannot read directory '%s'", dir);
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d))) {
		if (!tb_ours(e->d_name, suffix) || !strcmp(e->d_name, keep))
			continue;
		snprintf(found, cap, "%s/%s", dir, e->d_name);
		if (!unlink_them)
			break;
		if (unlink(found) < 0 && errno != ENOENT)
			rc = err_sys(err, errno, "cannot remove the earlier event file '%s'", found);
	}
	closedir(d);
	return rc;
}

/* Write b to path, which must not exist. 0, or -1 and err. */
static int tb_write_new(const char *path, const struct tfevents_buf *b, struct err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		return errno == EEXIST ?
			err_set(err, ERR_INVALID, "event file '%s' exists: remove it or pass --force",
				path) :
			err_sys(err, errno, "cannot create event file '%s'", path);
	if (file_write_all(fd, b->data, b->len) < 0 || fsync(fd) < 0) {
		err_sys(err, errno, "cannot write event file '%s'", path);
		close(fd);
		unlink(path);
		return -1;
	}
	if (close(fd) < 0) {
		err_sys(err, errno, "cannot write event file '%s'", path);
		unlink(path);
		return -1;
	}
	return 0;
}

/* The scalars of the `metrics` reply's stages into b; their count in *n. */
static int tb_scalars(struct tfevents_buf *b, const json_t *stages, double fallback_s,
	size_t *n, struct err *err)
{
	size_t i, j;
	json_t *st, *series, *pt;
	const char *name;
	*n = 0;
	json_array_foreach(stages, i, st) {
		const char *stage = json_string_value(json_object_get(st, "name"));
		json_object_foreach(json_object_get(st, "metrics"), name, series) {
			char tag[TFEVENTS_TAG_MAX + 1];
			if (snprintf(tag, sizeof tag, "%s/%s", stage ? stage : "", name) >=
				(int)sizeof tag)
				return err_set(err, ERR_INVALID, "metric '%.64s...' of stage '%.64s': "
					"its tag is longer than %d bytes", name, stage ? stage : "",
					TFEVENTS_TAG_MAX);
			json_array_foreach(series, j, pt) {
				json_t *v = json_array_get(pt, 1), *ts = json_array_get(pt, 2);
				if (!json_is_number(v)) /* a NaN has no point to draw */
					continue;
				double wall = json_is_integer(ts) ?
					(double)json_integer_value(ts) / 1000.0 : fallback_s;
				if (tfevents_scalar(b, wall, json_integer_value(json_array_get(pt, 0)), tag,
					(float)json_number_value(v), err) < 0)
					return -1;
				(*n)++;
			}
		}
	}
	return 0;
}

int metrics_tensorboard(const struct client_addr *addr, int64_t id, const char *stage,
	const char *dir, bool force)
{
	struct client c;
	struct err err = { 0 };
	struct tfevents_buf b = { 0 };
	json_t *pl = NULL, *m = NULL;
	int rc = CLI_EXIT_FAIL;
	char run[FILE_PATH_MAX], path[FILE_PATH_MAX], suffix[64], host[256], other[FILE_PATH_MAX];
	if (client_open(&c, addr, &err) < 0)
		goto out;
	pl = client_call(&c, json_pack("{ss sI}", "op", "pipeline", "id", (json_int_t)id), &err);
	if (!pl)
		goto out;
	json_t *req = json_pack("{ss sI sb}", "op", "metrics", "id", (json_int_t)id, "times", 1);
	if (req && stage && json_object_set_new(req, "stage", utf8_jstring(stage)) < 0) {
		json_decref(req);
		req = NULL; /* client_call says: out of memory */
	}
	if (!(m = client_call(&c, req, &err)))
		goto out;
	const json_t *p = json_object_get(pl, "pipeline");
	const char *pname = json_string_value(json_object_get(p, "name"));
	json_t *created = json_object_get(p, "created_at");
	double now = (double)time(NULL);
	double created_s = json_is_integer(created) ? (double)(json_integer_value(created) / 1000)
		: now;
	json_t *stages = json_object_get(m, "stages");
	size_t nstages = json_array_size(stages), n = 0;
	if (tfevents_file_version(&b, created_s, &err) < 0 ||
		tb_scalars(&b, stages, now, &n, &err) < 0)
		goto out;
	if (n == 0) {
		if (stage)
			printf("stage '%s' of pipeline %lld has no metrics yet: nothing written\n",
				stage, (long long)id);
		else
			printf("pipeline %lld has no metrics yet: nothing written\n", (long long)id);
		rc = CLI_EXIT_OK;
		goto out;
	}
	tb_host(host, sizeof host);
	snprintf(suffix, sizeof suffix, ".r1flow-%lld", (long long)id);
	int w = tb_plain_name(pname) ?
		snprintf(run, sizeof run, "%s/%lld-%s", dir, (long long)id, pname) :
		snprintf(run, sizeof run, "%s/%lld", dir, (long long)id);
	if (w >= (int)sizeof run || snprintf(path, sizeof path, "%s/" TB_PREFIX "%lld.%s%s", run,
		(long long)created_s, host, suffix) >= (int)sizeof path) {
		err_set(&err, ERR_INVALID, "directory path too long: '%.64s...'",
			dir);
		goto out;
	}
	if (export_mkdirs(run, &err) < 0)
		goto out;
	const char *base = path + strlen(run) + 1;
	if (!force) {
		if (tb_others(run, suffix, "", false, other, sizeof other, &err) < 0)
			goto out;
		if (other[0]) {
			err_set(&err, ERR_INVALID, "event file '%s' exists (pipeline %lld exported "
				"before): remove it or pass --force", other, (long long)id);
			goto out;
		}
		if (tb_write_new(path, &b, &err) < 0)
			goto out;
	} else if (file_write_atomic(path, b.data, b.len, 0666, &err) < 0 ||
		tb_others(run, suffix, base, true, other, sizeof other, &err) < 0) {
		goto out;
	}
	printf("wrote %zu scalar%s of %zu stage%s to %s\n", n, n == 1 ? "" : "s", nstages,
		nstages == 1 ? "" : "s", path);
	rc = CLI_EXIT_OK;
out:
	if (rc != CLI_EXIT_OK)
		cli_error("metrics", "%s", err.msg);
	client_close(&c);
	json_decref(pl);
	json_decref(m);
	tfevents_buf_release(&b);
	return rc;
}
