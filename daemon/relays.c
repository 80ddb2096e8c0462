#include "relays.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct relay_worker {
	int64_t id;
	char name[RELAYS_NAME];
	unsigned char ident[RELAYS_IDENT];
	size_t ident_size;
	char endpoint[RELAYS_ENDPOINT];   /* "" : fetches from peers, serves none */
	char key[RELAYS_KEY];             /* its peer server's key; "" on ipc */
	char user[RELAYS_KEY];            /* its client key; "" unknown (ipc) */
};

struct relay_node {
	int64_t worker;
	int depth;          /* 0: served by the daemon */
	int children;       /* fetchers sent to it */
	int failed;         /* a fetcher said it failed: not planned again */
};

struct relay_stream {
	char sha[SHA256_HEX_SIZE];        /* "" : unused slot */
	uint64_t used;                    /* route clock of the last use */
	int direct;                       /* fetchers the daemon served itself */
	struct relay_node *nodes;
	size_t n, cap;
};

struct relays {
	struct relay_worker *w;
	size_t nw, capw;
	struct relay_stream streams[RELAYS_STREAMS];
	uint64_t clock;
};

struct relays *relays_new(void)
{
	return calloc(1, sizeof(struct relays));
}

void relays_free(struct relays *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < RELAYS_STREAMS; i++)
		free(r->streams[i].nodes);
	free(r->w);
	free(r);
}

static struct relay_worker *find_worker(struct relays *r, int64_t id)
{
	for (size_t i = 0; i < r->nw; i++)
		if (r->w[i].id == id)
			return &r->w[i];
	return NULL;
}

static void drop_nodes_of(struct relays *r, int64_t worker)
{
	for (size_t s = 0; s < RELAYS_STREAMS; s++) {
		struct relay_stream *st = &r->streams[s];
		for (size_t i = 0; i < st->n; )
			if (st->nodes[i].worker == worker)
				st->nodes[i] = st->nodes[--st->n];
			else
				i++;
	}
}

void relays_ready(struct relays *r, int64_t worker, const char *name, const void *ident,
	size_t ident_size, const char *endpoint, const char *key, const char *user)
{
	struct relay_worker *w = find_worker(r, worker);
	if (w) {
		drop_nodes_of(r, worker); /* a new session: what it held is not known */
	} else {
		if (r->nw == r->capw) {
			size_t cap = r->capw ? 2 * r->capw : 16;
			struct relay_worker *grown = realloc(r->w, cap * sizeof *grown);
			if (!grown)
				return; /* unplanned: the daemon serves it, as without peers */
			r->w = grown;
			r->capw = cap;
		}
		w = &r->w[r->nw++];
	}
	memset(w, 0, sizeof *w);
	w->id = worker;
	snprintf(w->name, sizeof w->name, "%s", name ? name : "");
	w->ident_size = ident_size < sizeof w->ident ? ident_size : sizeof w->ident;
	memcpy(w->ident, ident, w->ident_size);
	snprintf(w->endpoint, sizeof w->endpoint, "%s", endpoint ? endpoint : "");
	snprintf(w->key, sizeof w->key, "%s", key ? key : "");
	snprintf(w->user, sizeof w->user, "%s", user ? user : "");
}

void relays_gone(struct relays *r, int64_t worker)
{
	if (!r)
		return;
	drop_nodes_of(r, worker);
	for (size_t i = 0; i < r->nw; i++)
		if (r->w[i].id == worker) {
			r->w[i] = r->w[--r->nw];
			return;
		}
}

static struct relay_stream *find_stream(const struct relays *r, const char *sha)
{
	for (size_t i = 0; i < RELAYS_STREAMS; i++)
		if (strcmp(r->streams[i].sha, sha) == 0)
			return (struct relay_stream *)&r->streams[i];
	return NULL;
}

/* The stream's slot: found, else a free one or the least recently used, reset. */
static struct relay_stream *stream_slot(struct relays *r, const char *sha)
{
	struct relay_stream *st = find_stream(r, sha), *old = &r->streams[0];
	if (st)
		return st;
	for (size_t i = 0; i < RELAYS_STREAMS; i++) {
		if (!*r->streams[i].sha) {
			old = &r->streams[i];
			break;
		}
		if (r->streams[i].used < old->used)
			old = &r->streams[i];
	}
	snprintf(old->sha, sizeof old->sha, "%s", sha);
	old->n = 0;
	old->direct = 0;
	return old;
}

static struct relay_node *find_node(struct relay_stream *st, int64_t worker)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->nodes[i].worker == worker)
			return &st->nodes[i];
	return NULL;
}

static void add_node(struct relay_stream *st, int64_t worker, int depth)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? 2 * st->cap : 16;
		struct relay_node *grown = realloc(st->nodes, cap * sizeof *grown);
		if (!grown)
			return; /* not a server of this stream: nothing worse */
		st->nodes = grown;
		st->cap = cap;
	}
	st->nodes[st->n++] = (struct relay_node){ .worker = worker, .depth = depth };
}

int relays_route(struct relays *r, const char *sha, int64_t worker, struct relay_plan *out)
{
	struct relay_worker *me = find_worker(r, worker);
	struct relay_stream *st = stream_slot(r, sha);
	st->used = ++r->clock;
	if (!me || !*me->endpoint || find_node(st, worker)) {
		/* a worker that announced no peer endpoint may not follow redirects (another
		 * implementation); one fetching again is never sent under its own subtree */
		st->direct++;
		return 0;
	}
	struct relay_node *best = NULL;
	struct relay_worker *server = NULL;
	if (st->direct >= RELAYS_DIRECT)
		for (size_t i = 0; i < st->n; i++) {
			struct relay_node *nd = &st->nodes[i];
			struct relay_worker *w;
			if (nd->failed || nd->children >= RELAYS_FANOUT || (best && nd->depth >= best->depth) ||
				!(w = find_worker(r, nd->worker)) || !*w->endpoint)
				continue;
			if (*w->key && !*me->user)
				continue; /* a tcp server admits only keys the daemon knows */
			best = nd;
			server = w;
		}
	int depth = best ? best->depth + 1 : 0;
	add_node(st, worker, depth); /* may move st->nodes: best is not used after */
	if (!server) {
		st->direct++;
		return 0;
	}
	find_node(st, server->id)->children++;
	memset(out, 0, sizeof *out);
	out->server = server->id;
	memcpy(out->name, server->name, sizeof out->name);
	memcpy(out->endpoint, server->endpoint, sizeof out->endpoint);
	memcpy(out->key, server->key, sizeof out->key);
	memcpy(out->ident, server->ident, server->ident_size);
	out->ident_size = server->ident_size;
	if (*server->key)
		memcpy(out->admit, me->user, sizeof out->admit);
	return 1;
}

void relays_failed(struct relays *r, const char *sha, int64_t worker, const char *server)
{
	struct relay_stream *st = find_stream(r, sha);
	(void)worker;
	if (!st)
		return;
	for (size_t i = 0; i < r->nw; i++)
		if (strcmp(r->w[i].name, server) == 0) {
			struct relay_node *nd = find_node(st, r->w[i].id);
			if (nd)
				nd->failed = 1;
		}
}

void relays_stat(const struct relays *r, const char *sha, size_t *nodes, int *direct)
{
	const struct relay_stream *st = find_stream(r, sha);
	*nodes = st ? st->n : 0;
	*direct = st ? st->direct : 0;
}
