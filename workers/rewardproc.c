/* rewardproc — a long-lived reward program spoken to in JSON lines; see rewardproc.h. */
#define _GNU_SOURCE
#include "rewardproc.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define REWARDPROC_MAX_ARGS 64

struct rewardproc {
	char *name;
	char **argv;             /* NULL-terminated, copied */
	char *dir;
	struct sandbox_limits limits;
	struct sandbox_child child; /* pid -1: not running */
	struct sandbox_ring tail;   /* stderr of the current run */
	char *line;                 /* the reply being read: REWARDPROC_LINE_MAX + 1 */
	size_t line_len;
	int line_cut;               /* the current line went past the cap */
	int starts;
	int start_ms;               /* more time for the first reply after a start */
};

struct rewardproc *rewardproc_new(const char *name, const char *const *argv, const char *dir,
	const struct sandbox_limits *l, int start_ms)
{
	struct rewardproc *p = calloc(1, sizeof *p);
	size_t n = 0;
	while (argv[n])
		n++;
	if (!p || !(p->argv = calloc(n + 1, sizeof *p->argv)) || !(p->name = strdup(name)) ||
		!(p->dir = strdup(dir))) {
		rewardproc_free(p);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (!(p->argv[i] = strdup(argv[i]))) {
			rewardproc_free(p);
			return NULL;
		}
	p->limits = *l;
	p->start_ms = start_ms;
	p->child = (struct sandbox_child){ -1, -1, -1, -1 };
	return p;
}

void rewardproc_free(struct rewardproc *p)
{
	if (!p)
		return;
	sandbox_kill(&p->child, NULL);
	for (size_t i = 0; p->argv && p->argv[i]; i++)
		free(p->argv[i]);
	free(p->argv);
	free(p->name);
	free(p->dir);
	free(p->line);
	free(p);
}

int rewardproc_starts(const struct rewardproc *p)
{
	return p->starts;
}

int rewardproc_pid(const struct rewardproc *p)
{
	return (int)p->child.pid;
}

static int rewardproc_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
			(s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

int rewardproc_parse_reply(const char *line, size_t len, double *reward, json_t **components,
	struct err *err)
{
	json_error_t je;
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je), *c, *v;
	const char *k;
	*components = NULL;
	if (!o)
		return err_set(err, ERR_FORMAT, "the reply is not JSON: %s (got '%.*s%s')", je.text,
			(int)(len < 60 ? len : 60), line, len > 60 ? "..." : "");
	if (!json_is_object(o)) {
		json_decref(o);
		return err_set(err, ERR_FORMAT, "the reply is not a JSON object (got '%.*s%s')",
			(int)(len < 60 ? len : 60), line, len > 60 ? "..." : "");
	}
	v = json_object_get(o, "reward");
	if (!json_is_number(v) || !isfinite(json_number_value(v))) {
		const char *what = !v ? "missing" : json_is_number(v) ? "not finite" : "not a number";
		json_decref(o);
		return err_set(err, ERR_FORMAT, "the reply's \"reward\" is %s, expected a finite number",
			what);
	}
	*reward = json_number_value(v);
	c = json_object_get(o, "components");
	if (c && !json_is_object(c) && !json_is_null(c)) {
		json_decref(o);
		return err_set(err, ERR_FORMAT, "the reply's \"components\" is not an object");
	}
	if (json_object_size(c) > REWARDPROC_MAX_COMPONENTS) {
		json_decref(o);
		return err_set(err, ERR_FORMAT, "the reply has %zu components: at most %d",
			json_object_size(c), REWARDPROC_MAX_COMPONENTS);
	}
	json_t *out = json_object();
	if (!out) {
		json_decref(o);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	json_object_foreach(c, k, v) {
		if (!rewardproc_name_ok(k)) { /* the message first: k is o's */
			err_set(err, ERR_FORMAT, "the reply's component name '%.40s' is not "
				"[A-Za-z0-9_-]{1,32}", k);
			json_decref(out);
			json_decref(o);
			return -1;
		}
		if (!json_is_number(v) || !isfinite(json_number_value(v))) {
			err_set(err, ERR_FORMAT, "the reply's component '%s' is not a finite number", k);
			json_decref(out);
			json_decref(o);
			return -1;
		}
		if (json_object_set_new(out, k, json_real(json_number_value(v))) < 0) {
			json_decref(out);
			json_decref(o);
			return err_set(err, ERR_NOMEM, "out of memory");
		}
	}
	json_decref(o);
	*components = out;
	return 0;
}

static void rewardproc_drain_err(struct rewardproc *p)
{
	char buf[4096];
	ssize_t n;
	while (p->child.err >= 0 && (n = read(p->child.err, buf, sizeof buf)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				close(p->child.err);
				p->child.err = -1;
			}
			return;
		}
		sandbox_ring_add(&p->tail, buf, (size_t)n);
	}
	if (p->child.err >= 0 && n == 0) {
		close(p->child.err);
		p->child.err = -1;
	}
}

static int rewardproc_start(struct rewardproc *p, struct err *err)
{
	memset(&p->tail, 0, sizeof p->tail);
	p->line_len = 0;
	p->line_cut = 0;
	if (!p->line && !(p->line = malloc(REWARDPROC_LINE_MAX + 1)))
		return err_set(err, ERR_NOMEM, "reward '%s': out of memory", p->name);
	if (sandbox_spawn((const char *const *)p->argv, p->dir, &p->limits, &p->child, err) < 0)
		return err_wrap(err, "reward '%s'", p->name);
	p->starts++;
	return 0;
}

/* The error of a failed call: what went wrong, then how the program ended and its
 * stderr's tail; the program is stopped. */
static int rewardproc_error(struct rewardproc *p, struct err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int rewardproc_error(struct rewardproc *p, struct err *err, const char *fmt, ...)
{
	char what[320], how[96] = "", tail[SANDBOX_TAIL + 1], st[64];
	va_list ap;
	int status = 0, exited;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	/* a program that crashed may still be writing its last words */
	for (int64_t until = clock_mono_ms() + 200; p->child.err >= 0 && clock_mono_ms() < until;) {
		struct pollfd pf = { p->child.err, POLLIN, 0 };
		if (poll(&pf, 1, 20) > 0)
			rewardproc_drain_err(p);
	}
	exited = 0;
	for (int64_t until = clock_mono_ms() + 200; p->child.pid > 0 && clock_mono_ms() < until;
		usleep(2000))
		if ((exited = sandbox_exited(&p->child, &status)))
			break;
	if (exited)
		snprintf(how, sizeof how, " (the program %s)", sandbox_status_text(status, st, sizeof st));
	sandbox_kill(&p->child, NULL);
	rewardproc_drain_err(p);
	sandbox_ring_line(&p->tail, tail, sizeof tail);
	if (*tail)
		log_warn("reward '%s': %s%s; its stderr ends: %s", p->name, what, how, tail);
	/* the message ends with as much of the tail as fits: its last bytes matter most */
	char head[sizeof err->msg];
	int n = snprintf(head, sizeof head, "reward '%s': %s%s", p->name, what, how);
	size_t room = n > 0 && (size_t)n + 24 < sizeof head ? sizeof head - (size_t)n - 24 : 0;
	const char *t = tail;
	size_t tl = strlen(tail);
	if (tl > room) {
		t = tail + (tl - room);
		while (*t && ((unsigned char)*t & 0xc0) == 0x80)
			t++;
	}
	return err_set(err, ERR_INVALID, "%s%s%s%s", head,
		*t ? "; stderr: " : "", t != tail ? "..." : "", t);
}

static int rewardproc_send(struct rewardproc *p, const char *req, size_t len, int64_t deadline,
	struct err *err)
{
	size_t sent = 0;
	while (sent < len) {
		struct pollfd pf[2] = { { p->child.in, POLLOUT, 0 }, { p->child.err, POLLIN, 0 } };
		int left = (int)(deadline - clock_mono_ms());
		if (left <= 0)
			return 1;
		if (poll(pf, p->child.err >= 0 ? 2 : 1, left) < 0 && errno != EINTR)
			return rewardproc_error(p, err, "poll: %s", strerror(errno));
		if (pf[1].revents)
			rewardproc_drain_err(p);
		if (!pf[0].revents)
			continue;
		ssize_t w = write(p->child.in, req + sent, len - sent);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w < 0)
			return rewardproc_error(p, err, "the program stopped reading its input (%s)",
				strerror(errno));
		sent += (size_t)w;
	}
	return 0;
}

int rewardproc_call(struct rewardproc *p, const json_t *request, int timeout_ms, double *reward,
	json_t **components, struct err *err)
{
	char buf[65536];
	int status;
	*components = NULL;
	if (p->child.pid > 0 && sandbox_exited(&p->child, &status)) {
		char st[64];
		log_warn("reward '%s': the program %s between two requests: starting it again", p->name,
			sandbox_status_text(status, st, sizeof st));
		sandbox_kill(&p->child, NULL);
	}
	int started = p->child.pid < 0;
	if (started && rewardproc_start(p, err) < 0)
		return -1;
	char *req = json_dumps(request, JSON_COMPACT);
	if (!req)
		return err_set(err, ERR_NOMEM, "reward '%s': out of memory", p->name);
	size_t len = strlen(req);
	req[len] = '\n'; /* json_dumps's NUL becomes the line's end: the JSON has no raw newline */
	int64_t deadline = clock_mono_ms() + timeout_ms + (started ? p->start_ms : 0);
	int rc = rewardproc_send(p, req, len + 1, deadline, err);
	free(req);
	if (rc < 0)
		return -1;
	p->line_len = 0;
	p->line_cut = 0;
	while (rc == 0) {
		struct pollfd pf[2] = { { p->child.out, POLLIN, 0 }, { p->child.err, POLLIN, 0 } };
		int left = (int)(deadline - clock_mono_ms());
		if (left <= 0)
			break;
		if (poll(pf, p->child.err >= 0 ? 2 : 1, left) < 0 && errno != EINTR)
			return rewardproc_error(p, err, "poll: %s", strerror(errno));
		if (pf[1].revents)
			rewardproc_drain_err(p);
		if (!pf[0].revents)
			continue;
		ssize_t got = read(p->child.out, buf, sizeof buf);
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (got <= 0)
			return rewardproc_error(p, err, "the program ended before it replied");
		const char *s = buf, *end = buf + got;
		while (s < end) {
			const char *nl = memchr(s, '\n', (size_t)(end - s));
			size_t n = (size_t)((nl ? nl : end) - s);
			if (!p->line_cut && p->line_len + n <= REWARDPROC_LINE_MAX) {
				memcpy(p->line + p->line_len, s, n);
				p->line_len += n;
			} else {
				p->line_cut = 1; /* keep reading to the newline, keep nothing */
			}
			s += n;
			if (!nl)
				break;
			s++;
			if (p->line_cut)
				return rewardproc_error(p, err, "its reply is longer than %u bytes",
					REWARDPROC_LINE_MAX);
			if (s != end)
				return rewardproc_error(p, err, "it wrote more than one line for one request");
			struct err e = { 0 };
			if (rewardproc_parse_reply(p->line, p->line_len, reward, components, &e) < 0)
				return rewardproc_error(p, err, "%s", e.msg);
			return 0;
		}
		if (p->line_cut)
			return rewardproc_error(p, err, "its reply is longer than %u bytes",
				REWARDPROC_LINE_MAX);
	}
	if (started)
		return rewardproc_error(p, err, "no reply within timeout_ms %d (and start_timeout_ms "
			"%d for its first reply)", timeout_ms, p->start_ms);
	return rewardproc_error(p, err, "no reply within timeout_ms %d", timeout_ms);
}
