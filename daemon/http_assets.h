/*
 * http_assets — the dashboard's files, embedded at build time: web/meson.build runs
 * web/embed.c over its list of files and compiles the table it writes into the
 * daemon. http.c serves them (/ is index.html, /static/NAME the others).
 */
#ifndef R1_HTTP_ASSETS_H
#define R1_HTTP_ASSETS_H

#include <stddef.h>

struct http_asset {
	const char *name;          /* the file's base name ("app.js") */
	const char *type;          /* its Content-Type, from the extension */
	const unsigned char *data; /* its bytes */
	size_t size;
	const char *etag;          /* quoted FNV-1a 64 of the bytes */
};

extern const struct http_asset http_assets[];
extern const size_t http_nassets;

#endif
