/*
 * http.c — the server: start and stop, who may ask, the routes, the embedded files
 * and the headers of every answer. See http.h.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "file.h"
#include "http_assets.h"
#include "http_int.h"

/* One server per process: the answer helpers find it here (the cookie rule). */
static struct http *server;

/* ---- the address ---- */

int http_parse_addr(const char *text, struct http_addr *out, struct err *err)
{
	char host[128];
	const char *colon = strrchr(text, ':');
	memset(out, 0, sizeof *out);
	if (!colon || colon == text || (size_t)(colon - text) >= sizeof host)
		return err_set(err, ERR_INVALID, "option '--http': '%s' is not ADDR:PORT", text);
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	char *end;
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 0 || port > 65535)
		return err_set(err, ERR_INVALID, "option '--http': '%s' has no port from 0 to "
			"65535 after ':'", text);
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof host, "127.0.0.1");
	struct sockaddr_in *v4 = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->ss;
	size_t n = strlen(host);
	if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
		host[n - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &v6->sin6_addr) != 1)
			return err_set(err, ERR_INVALID, "option '--http': '%s' is not an IPv6 address",
				host + 1);
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		out->len = sizeof *v6;
		out->loopback = IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
		return 0;
	}
	if (inet_pton(AF_INET, host, &v4->sin_addr) != 1)
		return err_set(err, ERR_INVALID, "option '--http': '%s' is not an IPv4 address, "
			"[IPv6] or localhost", host);
	v4->sin_family = AF_INET;
	v4->sin_port = htons((uint16_t)port);
	out->len = sizeof *v4;
	out->loopback = (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
	return 0;
}

int http_bind(struct daemon *d, struct err *err)
{
	if (!*d->cfg.http)
		return 0;
	if (sock_bind(d->control, HTTP_CONTROL_ENDPOINT, err) < 0 ||
		sock_bind(d->events, HTTP_EVENTS_ENDPOINT, err) < 0)
		return -1;
	return 0;
}

/* ---- the token ---- */

static int read_token(struct http *h, const char *path, struct err *err)
{
	char *text = NULL;
	size_t size = 0;
	if (file_read(path, 64 * 1024, &text, &size, err) < 0)
		return -1;
	size_t n = strcspn(text, "\r\n");
	while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t'))
		n--;
	int rc = 0;
	if (n < HTTP_TOKEN_MIN || n > HTTP_TOKEN_MAX)
		rc = err_set(err, ERR_INVALID, "token file '%s': its first line must hold %d to %d "
			"characters (it has %zu): e.g. 'openssl rand -hex 32 > %s'", path,
			HTTP_TOKEN_MIN, HTTP_TOKEN_MAX, n, path);
	else if (strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
		"._~+/=-_") < n)
		rc = err_set(err, ERR_INVALID, "token file '%s': the token may hold letters, digits "
			"and ._~+/=-_ only (it travels in a header, a query and a cookie)", path);
	else {
		memcpy(h->token, text, n);
		h->token[n] = '\0';
		h->token_len = n;
	}
	free(text);
	return rc;
}

/* Compare in time independent of where they differ. */
static bool token_equal(const struct http *h, const char *given)
{
	size_t n = given ? strlen(given) : 0;
	unsigned char diff = n != h->token_len;
	for (size_t i = 0; i < h->token_len; i++)
		diff |= (unsigned char)(h->token[i] ^ (i < n ? given[i] : 0));
	return given && !diff;
}

/* Whether a request carries the token: in the header, the query or the cookie. */
static bool token_given(const struct http *h, struct MHD_Connection *c)
{
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (auth && strncasecmp(auth, "Bearer ", 7) == 0 && token_equal(h, auth + 7))
		return true;
	return token_equal(h, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token")) ||
		token_equal(h, MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "r1flow_token"));
}

/* A Host naming the loopback interface ("localhost:7480", "127.0.0.1", "[::1]:80"),
 * or none (HTTP/1.0). */
static bool host_loopback(const char *host)
{
	if (!host)
		return true;
	char name[128];
	size_t n = strlen(host);
	if (n >= sizeof name)
		return false;
	memcpy(name, host, n + 1);
	char *colon = strrchr(name, ':');
	if (name[0] == '[') {
		char *close = strchr(name, ']');
		if (!close || (close[1] && close[1] != ':'))
			return false;
		*close = '\0';
		struct in6_addr a6;
		return inet_pton(AF_INET6, name + 1, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
	}
	if (colon)
		*colon = '\0';
	struct in_addr a4;
	if (strcasecmp(name, "localhost") == 0)
		return true;
	return inet_pton(AF_INET, name, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* ---- answers ---- */

static void free_body(void *body)
{
	free(body);
}

void http_headers(struct MHD_Response *r, struct MHD_Connection *c)
{
	/* nothing but our own files runs in a page, and no other site may frame it */
	MHD_add_response_header(r, "Content-Security-Policy",
		"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	/* a browser opened on /?token=T keeps it for the page's own requests */
	if (server && server->token_len &&
		token_equal(server, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token"))) {
		char cookie[HTTP_TOKEN_MAX + 80];
		snprintf(cookie, sizeof cookie, "r1flow_token=%s; Path=/; HttpOnly; SameSite=Strict",
			server->token);
		MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, cookie);
	}
}

enum MHD_Result http_respond(struct MHD_Connection *c, unsigned status, const char *type,
	char *body, size_t len)
{
	if (!body)
		len = 0;
	struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len,
		body ? body : "", body ? free_body : NULL);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	if (type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"r1flow\"");
	http_headers(r, c);
	enum MHD_Result rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

enum MHD_Result http_respond_json(struct MHD_Connection *c, unsigned status, json_t *v)
{
	char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
	json_decref(v);
	if (!text)
		return http_respond(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8",
			strdup("cannot encode the answer: out of memory\n"), 40);
	size_t n = strlen(text);
	return http_respond(c, status, "application/json; charset=utf-8", text, n);
}

enum MHD_Result http_respond_error(struct MHD_Connection *c, unsigned status,
	const char *code, const char *message)
{
	return http_respond_json(c, status, json_pack("{sb s{ss ss}}", "ok", 0, "error", "code",
		code, "message", message));
}

/* An embedded file, or 304 when the client has this version. */
static enum MHD_Result asset(struct MHD_Connection *c, const char *name)
{
	for (size_t i = 0; i < http_nassets; i++) {
		const struct http_asset *a = &http_assets[i];
		if (strcmp(a->name, name) != 0)
			continue;
		const char *match = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
			MHD_HTTP_HEADER_IF_NONE_MATCH);
		bool same = match && strcmp(match, a->etag) == 0;
		struct MHD_Response *r = MHD_create_response_from_buffer(same ? 0 : a->size,
			(void *)a->data, MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->type);
		MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, a->etag);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
		http_headers(r, c);
		enum MHD_Result rc = MHD_queue_response(c, same ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK,
			r);
		MHD_destroy_response(r);
		return rc;
	}
	char message[300];
	snprintf(message, sizeof message, "no file '%.200s' (the dashboard's files: /static/...)",
		name);
	return http_respond_error(c, MHD_HTTP_NOT_FOUND, "notfound", message);
}

/* ---- requests ---- */

static enum MHD_Result route(struct http *h, struct MHD_Connection *c, const char *url,
	const char *method)
{
	if (h->token_len && !token_given(h, c))
		return http_respond_error(c, MHD_HTTP_UNAUTHORIZED, "denied", "this daemon's pages "
			"need its token (--http-token-file): 'Authorization: Bearer TOKEN', ?token=TOKEN "
			"or the r1flow_token cookie");
	if (!h->token_len && !host_loopback(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		MHD_HTTP_HEADER_HOST)))
		return http_respond_error(c, MHD_HTTP_FORBIDDEN, "denied", "the Host of a request "
			"to a loopback address must be a loopback name (localhost, 127.0.0.1, [::1])");
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		char message[200];
		snprintf(message, sizeof message, "method '%.64s' not allowed: the pages are "
			"read-only (GET, HEAD)", method);
		return http_respond_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "invalid", message);
	}
	if (strcmp(url, "/") == 0)
		return asset(c, "index.html");
	if (strncmp(url, "/static/", 8) == 0)
		return asset(c, url + 8);
	if (strncmp(url, "/api/", 5) == 0)
		return http_api(h, c, url + 5);
	if (strcmp(url, "/metrics") == 0)
		return http_prom(h, c);
	char message[300];
	snprintf(message, sizeof message, "no page '%.200s' (/, /static/NAME, /api/OP, "
		"/api/events, /metrics)", url);
	return http_respond_error(c, MHD_HTTP_NOT_FOUND, "notfound", message);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
	const char *method, const char *version, const char *upload_data,
	size_t *upload_data_size, void **con_cls)
{
	(void)version;
	(void)upload_data;
	if (!*con_cls && *upload_data_size == 0) {
		*con_cls = c; /* answered at once: a read-only request has no body to wait for */
		log_debug("http: %s %s", method, url);
		return route(cls, c, url, method);
	}
	*upload_data_size = 0; /* a body, after the answer (405) was queued: dropped */
	return MHD_YES;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char line[512];
	vsnprintf(line, sizeof line, fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_warn("http: %s", line);
}

int http_start(struct daemon *d, struct err *err)
{
	if (!*d->cfg.http)
		return 0;
	struct http_addr addr;
	if (http_parse_addr(d->cfg.http, &addr, err) < 0)
		return -1;
	struct http *h = calloc(1, sizeof *h);
	if (!h)
		return err_set(err, ERR_NOMEM, "cannot start the http server: out of memory");
	d->http = h;
	server = h;
	h->zctx = d->zctx;
	h->loopback = addr.loopback;
	if (*d->cfg.http_token_file && read_token(h, d->cfg.http_token_file, err) < 0)
		return -1;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
		MHD_USE_POLL | MHD_USE_ERROR_LOG | (addr.ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
	h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, /* first: MHD wants it so */
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr.ss,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_S,
		MHD_OPTION_END);
	if (!h->mhd)
		return err_set(err, ERR_IO, "cannot serve http on '%s': %s", d->cfg.http,
			strerror(errno ? errno : EADDRINUSE));
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
	unsigned port = info ? info->port : 0;
	char host[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 16];
	if (addr.ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&addr.ss)->sin6_addr, host, sizeof host);
		snprintf(text, sizeof text, "[%s]:%u\n", host, port);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&addr.ss)->sin_addr, host, sizeof host);
		snprintf(text, sizeof text, "%s:%u\n", host, port);
	}
	if (datadir_path(&d->dir, "http.addr", h->addr_file, sizeof h->addr_file, err) < 0 ||
		file_write_atomic(h->addr_file, text, strlen(text), 0600, err) < 0) {
		h->addr_file[0] = '\0';
		return -1;
	}
	text[strcspn(text, "\n")] = '\0';
	log_info("serving the dashboard on http://%s/ (API /api/, events /api/events, metrics "
		"/metrics%s)", text, h->token_len ? "; token required" : "");
	return 0;
}

void http_stop(struct daemon *d)
{
	struct http *h = d->http;
	if (!h)
		return;
	atomic_store(&h->stopping, 1);
	/* streams end by themselves once they sent what was queued (daemon_stopping);
	 * MHD_stop_daemon would cut them mid-write */
	int64_t until = clock_mono_ms() + HTTP_STOP_WAIT_MS;
	while (atomic_load(&h->streams) > 0 && clock_mono_ms() < until)
		usleep(10 * 1000);
	if (h->mhd)
		MHD_stop_daemon(h->mhd); /* joins every connection's thread */
	if (h->addr_file[0])
		unlink(h->addr_file);
	server = NULL;
	d->http = NULL;
	free(h);
}
