/*
 * view.c — the status table, the live view and the follow loop. See view.h.
 */
#include "view.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "proto.h"

#define VIEW_LINE_MAX 1024

/* One output line being built; silently cut at VIEW_LINE_MAX. */
struct line {
	char buf[VIEW_LINE_MAX];
	size_t n;
};

static void line_add(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void line_add(struct line *l, const char *fmt, ...)
{
	if (l->n >= sizeof l->buf - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(l->buf + l->n, sizeof l->buf - l->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		l->n = l->n + (size_t)k < sizeof l->buf ? l->n + (size_t)k : sizeof l->buf - 1;
}

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : dflt;
}

static int64_t int_or(const json_t *o, const char *key, int64_t dflt)
{
	json_t *v = json_object_get(o, key);
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
	return dflt;
}

static double num_or(const json_t *o, const char *key, double dflt)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : dflt;
}

bool view_state_final(const char *state)
{
	return state && (strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
		strcmp(state, "cancelled") == 0);
}

void view_time(char *buf, size_t size, int64_t ms, bool with_ms)
{
	if (ms <= 0) {
		snprintf(buf, size, "-");
		return;
	}
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	char s[32];
	strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (with_ms)
		snprintf(buf, size, "%s.%03dZ", s, (int)(ms % 1000));
	else
		snprintf(buf, size, "%sZ", s);
}

void view_duration(char *buf, size_t size, double s)
{
	if (!(s >= 0) || !isfinite(s))
		snprintf(buf, size, "-");
	else if (s < 10)
		snprintf(buf, size, "%.1fs", s);
	else if (s < 60)
		snprintf(buf, size, "%.0fs", s);
	else if (s < 3600)
		snprintf(buf, size, "%dm%02ds", (int)s / 60, (int)s % 60);
	else
		snprintf(buf, size, "%dh%02dm", (int)(s / 3600), ((int)s % 3600) / 60);
}

double view_elapsed(const json_t *p, int64_t now_ms)
{
	int64_t start = int_or(p, "started_at", 0);
	int64_t end = int_or(p, "finished_at", 0);
	if (start <= 0)
		return -1;
	if (end <= 0)
		end = now_ms;
	return end >= start ? (double)(end - start) / 1000.0 : 0;
}

/* "120/200 jobs"; with `pad`, the step is as wide as the total (" 20/200 jobs") so the
 * column keeps its width as the stage advances. */
static void stage_counts(char *buf, size_t size, const json_t *st, bool pad)
{
	char total[32];
	int w = snprintf(total, sizeof total, "%lld", (long long)int_or(st, "total", 0));
	snprintf(buf, size, "%*lld/%s %s", pad ? w : 0, (long long)int_or(st, "step", 0), total,
		str_or(st, "unit", ""));
}

static double stage_progress(const json_t *st)
{
	double p = num_or(st, "progress", -1);
	if (p < 0) {
		int64_t total = int_or(st, "total", 0);
		p = total > 0 ? (double)int_or(st, "step", 0) / (double)total : 0;
	}
	return p < 0 ? 0 : p > 1 ? 1 : p;
}

/* "350/s", "2.5/s", "-" when unknown */
static void stage_rate(char *buf, size_t size, const json_t *st)
{
	double r = num_or(st, "rate", 0);
	if (!(r > 0))
		snprintf(buf, size, "-");
	else if (r >= 100)
		snprintf(buf, size, "%.0f/s", r);
	else if (r >= 10)
		snprintf(buf, size, "%.1f/s", r);
	else
		snprintf(buf, size, "%.2f/s", r);
}

/* "eta 0.2s", "eta -" */
static void stage_eta(char *buf, size_t size, const json_t *st)
{
	json_t *e = json_object_get(st, "eta_s");
	char d[32] = "-";
	if (json_is_number(e))
		view_duration(d, sizeof d, json_number_value(e));
	snprintf(buf, size, "eta %s", d);
}

/* "reward=0.5312", "" when the stage has no headline metric yet */
static void stage_metric(char *buf, size_t size, const json_t *st)
{
	json_t *m = json_object_get(st, "metric");
	const char *name = json_string_value(json_object_get(m, "name"));
	json_t *val = json_object_get(m, "value");
	if (name && json_is_number(val))
		snprintf(buf, size, "%s=%.4g", name, json_number_value(val));
	else
		buf[0] = '\0';
}

static void pipeline_title(struct line *l, const json_t *p)
{
	line_add(l, "pipeline %lld '%s'", (long long)int_or(p, "id", 0), str_or(p, "name", "?"));
}

void view_status(FILE *out, const json_t *reply, int64_t now_ms)
{
	const json_t *p = json_object_get(reply, "pipeline");
	json_t *stages = json_object_get(reply, "stages");
	char t[64], d[32];
	struct line l = { .n = 0 };
	pipeline_title(&l, p);
	fprintf(out, "%s\n", l.buf);
	fprintf(out, "state     %s\n", str_or(p, "state", "?"));
	view_time(t, sizeof t, int_or(p, "created_at", 0), false);
	fprintf(out, "created   %s\n", t);
	view_duration(d, sizeof d, view_elapsed(p, now_ms));
	fprintf(out, "elapsed   %s\n", d);
	if (json_is_integer(json_object_get(p, "seed")))
		fprintf(out, "seed      %lld\n", (long long)int_or(p, "seed", 0));
	if (json_is_integer(json_object_get(reply, "workers")))
		fprintf(out, "workers   %lld live\n", (long long)int_or(reply, "workers", 0));
	if (json_string_value(json_object_get(p, "error")))
		fprintf(out, "error     %s\n", str_or(p, "error", ""));

	int wn = (int)strlen("STAGE"), wk = (int)strlen("KIND"), ws = (int)strlen("STATE");
	int wp = (int)strlen("PROGRESS");
	size_t i;
	json_t *st;
	char counts[96];
	json_array_foreach(stages, i, st) {
		stage_counts(counts, sizeof counts, st, false);
		int a = (int)strlen(str_or(st, "name", "?")), b = (int)strlen(str_or(st, "kind", "?"));
		int c = (int)strlen(str_or(st, "state", "?")), e = (int)strlen(counts);
		wn = a > wn ? a : wn;
		wk = b > wk ? b : wk;
		ws = c > ws ? c : ws;
		wp = e > wp ? e : wp;
	}
	fprintf(out, "\n%-*s  %-*s  %-*s  %-*s  %s\n", wn, "STAGE", wk, "KIND", ws, "STATE", wp,
		"PROGRESS", "ERROR");
	json_array_foreach(stages, i, st) {
		stage_counts(counts, sizeof counts, st, false);
		l.n = 0;
		l.buf[0] = '\0';
		line_add(&l, "%-*s  %-*s  %-*s  %-*s  %s", wn, str_or(st, "name", "?"), wk,
			str_or(st, "kind", "?"), ws, str_or(st, "state", "?"), wp, counts,
			str_or(st, "error", ""));
		while (l.n > 0 && l.buf[l.n - 1] == ' ')
			l.buf[--l.n] = '\0';
		fprintf(out, "%s\n", l.buf);
	}
}

void view_init(struct view *v, FILE *out, bool tty)
{
	memset(v, 0, sizeof *v);
	v->out = out;
	v->tty = tty;
	v->seen = json_object();
}

void view_release(struct view *v)
{
	json_decref(v->seen);
	v->seen = NULL;
}

static int term_width(FILE *out)
{
	struct winsize ws;
	if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

static void view_draw(struct view *v, const json_t *reply, int64_t now_ms)
{
	const json_t *p = json_object_get(reply, "pipeline");
	json_t *stages = json_object_get(reply, "stages");
	int width = term_width(v->out) - 1;
	char d[32];
	struct line l = { .n = 0 };

	/* column widths over this frame */
	int wn = 0, wk = 0, wc = 0, wr = 7, we = 9, wm = 0; /* "1234/s", "eta 12m30s" */
	size_t i;
	json_t *st;
	char counts[96], rate[32], eta[48], metric[96];
	json_array_foreach(stages, i, st) {
		stage_counts(counts, sizeof counts, st, true);
		stage_rate(rate, sizeof rate, st);
		stage_eta(eta, sizeof eta, st);
		stage_metric(metric, sizeof metric, st);
		int a = (int)strlen(str_or(st, "name", "?")), b = (int)strlen(str_or(st, "kind", "?"));
		wn = a > wn ? a : wn;
		wk = b > wk ? b : wk;
		wc = (int)strlen(counts) > wc ? (int)strlen(counts) : wc;
		wr = (int)strlen(rate) > wr ? (int)strlen(rate) : wr;
		we = (int)strlen(eta) > we ? (int)strlen(eta) : we;
		wm = (int)strlen(metric) > wm ? (int)strlen(metric) : wm;
	}

	if (v->lines > 0)
		fprintf(v->out, "\033[%dA", v->lines);
	int drawn = 0;
	pipeline_title(&l, p);
	view_duration(d, sizeof d, view_elapsed(p, now_ms));
	line_add(&l, "  %s  elapsed %s  workers %lld", str_or(p, "state", "?"), d,
		(long long)int_or(reply, "workers", 0));
	fprintf(v->out, "\r\033[2K%.*s\n", width, l.buf);
	drawn++;
	json_array_foreach(stages, i, st) {
		stage_counts(counts, sizeof counts, st, true);
		stage_rate(rate, sizeof rate, st);
		stage_eta(eta, sizeof eta, st);
		stage_metric(metric, sizeof metric, st);
		char bar[VIEW_BAR + 1];
		int fill = (int)lround(stage_progress(st) * VIEW_BAR);
		for (int k = 0; k < VIEW_BAR; k++)
			bar[k] = k < fill ? '#' : '.';
		bar[VIEW_BAR] = '\0';
		l.n = 0;
		l.buf[0] = '\0';
		line_add(&l, "  %-*s  %-*s  [%s]  %*s  %*s  %-*s", wn, str_or(st, "name", "?"), wk,
			str_or(st, "kind", "?"), bar, wc, counts, wr, rate, we, eta);
		if (wm > 0)
			line_add(&l, "  %-*s", wm, metric);
		line_add(&l, "  %s", str_or(st, "state", "?"));
		fprintf(v->out, "\r\033[2K%.*s\n", width, l.buf);
		drawn++;
	}
	/* a shorter frame than the last: clear what is left below */
	if (drawn < v->lines)
		fprintf(v->out, "\033[J");
	v->lines = drawn;
	fflush(v->out);
}

/* Print `text` after a timestamp if it differs from what was last printed for `key`. */
static void plain_line(struct view *v, const char *key, const char *text, int64_t now_ms)
{
	const char *last = json_string_value(json_object_get(v->seen, key));
	if (last && strcmp(last, text) == 0)
		return;
	/* a memo never written out: bytes as they are (a cut line may end mid-character) */
	json_object_set_new(v->seen, key, json_string_nocheck(text));
	char t[64];
	view_time(t, sizeof t, now_ms, false);
	fprintf(v->out, "%s %s\n", t, text);
	fflush(v->out);
}

static void view_plain(struct view *v, const json_t *reply, int64_t now_ms)
{
	const json_t *p = json_object_get(reply, "pipeline");
	json_t *stages = json_object_get(reply, "stages");
	struct line l = { .n = 0 };
	const char *state = str_or(p, "state", "?");
	if (!view_state_final(state)) {  /* view_finish says the last state */
		pipeline_title(&l, p);
		line_add(&l, " %s", state);
		plain_line(v, "", l.buf, now_ms);
	}
	size_t i;
	json_t *st;
	char counts[96], rate[32], eta[48], metric[96];
	json_array_foreach(stages, i, st) {
		const char *name = str_or(st, "name", "?");
		/* what counts as a change: no rate or ETA in the key */
		stage_counts(counts, sizeof counts, st, false);
		stage_metric(metric, sizeof metric, st);
		char key[VIEW_LINE_MAX], change[VIEW_LINE_MAX];
		snprintf(key, sizeof key, "stage %s", name);
		snprintf(change, sizeof change, "%s %s %s", str_or(st, "state", "?"), counts, metric);
		const char *last = json_string_value(json_object_get(v->seen, key));
		if (last && strcmp(last, change) == 0)
			continue;
		json_object_set_new(v->seen, key, json_string_nocheck(change));
		stage_rate(rate, sizeof rate, st);
		stage_eta(eta, sizeof eta, st);
		l.n = 0;
		l.buf[0] = '\0';
		line_add(&l, "stage %s %s %s", name, str_or(st, "state", "?"), counts);
		if (strcmp(str_or(st, "state", ""), "running") == 0)
			line_add(&l, " %s %s", rate, eta);
		if (metric[0])
			line_add(&l, " %s", metric);
		if (json_string_value(json_object_get(st, "error")))
			line_add(&l, " error: %s", str_or(st, "error", ""));
		char t[64];
		view_time(t, sizeof t, now_ms, false);
		fprintf(v->out, "%s %s\n", t, l.buf);
	}
	fflush(v->out);
}

void view_update(struct view *v, const json_t *reply, int64_t now_ms)
{
	if (v->tty)
		view_draw(v, reply, now_ms);
	else
		view_plain(v, reply, now_ms);
}

void view_finish(struct view *v, const json_t *reply, int64_t now_ms)
{
	const json_t *p = json_object_get(reply, "pipeline");
	struct line l = { .n = 0 };
	char d[32];
	pipeline_title(&l, p);
	view_duration(d, sizeof d, view_elapsed(p, now_ms));
	line_add(&l, " %s in %s", str_or(p, "state", "?"), d);
	if (json_string_value(json_object_get(p, "error")))
		line_add(&l, ": %s", str_or(p, "error", ""));
	if (v->tty) {
		fprintf(v->out, "%s\n", l.buf);
	} else {
		char t[64];
		view_time(t, sizeof t, now_ms, false);
		fprintf(v->out, "%s %s\n", t, l.buf);
	}
	fflush(v->out);
}

/* Sleep `ms` unless *stop gets set (a signal cuts nanosleep short). */
static void nap(int ms, volatile sig_atomic_t *stop)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (!(stop && *stop) && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A line between updates: in the view's stream (plain: timestamped; tty: below the
 * frame, which is then drawn afresh under it), or on stderr when nothing is shown. */
static void view_note(struct view *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void view_note(struct view *v, const char *fmt, ...)
{
	char text[VIEW_LINE_MAX], t[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (!v) {
		cli_error("watch", "%s", text);
		return;
	}
	if (v->tty) {
		fprintf(v->out, "\r\033[2K%s\n", text);
		v->lines = 0;
	} else {
		view_time(t, sizeof t, clock_wall_ms(), false);
		fprintf(v->out, "%s %s\n", t, text);
	}
	fflush(v->out);
}

/*
 * The daemon stopped answering (err says how): connect again, with the workers'
 * back-off (PROTO_RECONNECT_MS doubling up to PROTO_RECONNECT_MAX_MS), until a
 * `status` request is answered or `limit_s` seconds have passed. 0 reconnected (c
 * is a new connection), -1 with err after giving up or on *stop.
 */
static int view_reconnect(struct client *c, struct view *v, int limit_s,
	volatile sig_atomic_t *stop, struct err *err)
{
	char endpoint[sizeof c->endpoint], data[sizeof c->data], why[sizeof err->msg];
	memcpy(endpoint, c->endpoint, sizeof endpoint);
	memcpy(data, c->data, sizeof data);
	snprintf(why, sizeof why, "%s", err->msg);
	const struct client_addr addr = { .data = data[0] ? data : NULL,
		.endpoint = data[0] ? NULL : endpoint };
	int timeout_ms = c->timeout_ms;
	client_close(c);
	view_note(v, "lost the daemon: %s; reconnecting for up to %d s", why, limit_s);
	double t0 = cli_now(), deadline = t0 + limit_s;
	int backoff = PROTO_RECONNECT_MS;
	for (;;) {
		double left = deadline - cli_now();
		if (left <= 0)
			return err_set(err, ERR_IO, "gave up reconnecting after %d s: %s (the pipeline "
				"may still be running)", limit_s, why);
		nap(backoff < left * 1000 ? backoff : (int)(left * 1000) + 1, stop);
		if (stop && *stop)
			return err_set(err, ERR_IO, "interrupted");
		backoff = backoff * 2 < PROTO_RECONNECT_MAX_MS ? backoff * 2 : PROTO_RECONNECT_MAX_MS;
		struct err e = { 0 };
		if (client_open(c, &addr, &e) < 0) {
			snprintf(why, sizeof why, "%s", e.msg);
			client_close(c);
			continue;
		}
		c->timeout_ms = timeout_ms;
		json_t *r = client_call(c, json_pack("{ss}", "op", "status"), &e);
		if (r || c->last_code[0]) { /* answered, even if with an error */
			json_decref(r);
			char d[32];
			view_duration(d, sizeof d, cli_now() - t0);
			view_note(v, "regained the daemon at '%s' after %s", endpoint, d);
			return 0;
		}
		snprintf(why, sizeof why, "%s", e.msg);
		client_close(c);
	}
}

int view_follow(struct client *c, int64_t id, struct view *v, const struct view_hooks *hooks,
	json_t **last, struct err *err)
{
	volatile sig_atomic_t *stop = hooks ? hooks->stop : NULL;
	*last = NULL;
	for (;;) {
		if (stop && *stop)
			return err_set(err, ERR_IO, "interrupted");
		if (hooks && hooks->check && hooks->check(hooks->arg, err) < 0)
			return -1;
		double t0 = cli_now();
		json_t *r = client_call(c, json_pack("{ss sI}", "op", "pipeline", "id",
			(json_int_t)id), err);
		if (!r && hooks && hooks->reconnect_s > 0 && !c->last_code[0] && !(stop && *stop)) {
			/* no answer at all (an answer with an error is the daemon's word) */
			if (view_reconnect(c, v, hooks->reconnect_s, stop, err) < 0)
				return -1;
			continue;
		}
		if (!r)
			return -1;
		int64_t now = clock_wall_ms();
		const char *state = str_or(json_object_get(r, "pipeline"), "state", NULL);
		if (v)
			view_update(v, r, now);
		if (view_state_final(state)) {
			if (v)
				view_finish(v, r, now);
			*last = r;
			return 0;
		}
		json_decref(r);
		int spent = (int)((cli_now() - t0) * 1000);
		nap(spent < VIEW_POLL_MS ? VIEW_POLL_MS - spent : 0, stop);
	}
}
