/*
 * embed — the build's generator of the daemon's static files: reads each FILE given
 * and writes OUT, a C source defining `http_assets` (daemon/http_assets.h): one
 * entry per file, named by its base name, with its Content-Type (from the extension;
 * an unknown extension fails the build rather than serve a file with a guessed
 * type), its bytes and an ETag (FNV-1a 64 of the bytes). web/meson.build runs it.
 *
 *   embed OUT.c FILE...
 *
 * Exit status: 0 written, 1 on an error (said on stderr; OUT is then incomplete,
 * and ninja removes it).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *ext, *type; } types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".json", "application/json; charset=utf-8" },
	{ ".txt", "text/plain; charset=utf-8" },
	{ ".ico", "image/x-icon" },
	{ ".woff2", "font/woff2" },
};

static const char *type_of(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		size_t e = strlen(types[i].ext);
		if (n > e && strcmp(name + n - e, types[i].ext) == 0)
			return types[i].type;
	}
	return NULL;
}

/* The file's bytes (malloc'd) and size, or NULL after saying why. */
static unsigned char *slurp(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t cap = 0, n = 0;
	if (!f) {
		fprintf(stderr, "embed: cannot open '%s': %s\n", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (n == cap) {
			unsigned char *bigger = realloc(buf, cap = cap ? 2 * cap : 65536);
			if (!bigger) {
				fprintf(stderr, "embed: cannot read '%s': out of memory\n", path);
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = bigger;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "embed: cannot read '%s': %s\n", path, strerror(errno));
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*size = n;
	return buf;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: embed OUT.c FILE...\n");
		return 1;
	}
	FILE *out = fopen(argv[1], "w");
	if (!out) {
		fprintf(stderr, "embed: cannot create '%s': %s\n", argv[1], strerror(errno));
		return 1;
	}
	fprintf(out, "/* made by web/embed.c from web/meson.build's files: do not edit */\n"
		"#include \"http_assets.h\"\n\n");
	for (int i = 2; i < argc; i++) {
		size_t size = 0;
		unsigned char *data = slurp(argv[i], &size);
		if (!data)
			return 1;
		fprintf(out, "static const unsigned char asset%d[%zu] = {", i - 2, size + 1);
		for (size_t k = 0; k < size; k++)
			fprintf(out, "%s%u,", k % 20 ? "" : "\n\t", data[k]);
		fprintf(out, "\n\t0\n};\n"); /* a NUL after the bytes: never served, never empty */
		free(data);
	}
	fprintf(out, "\nconst struct http_asset http_assets[] = {\n");
	for (int i = 2; i < argc; i++) {
		const char *name = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
		const char *type = type_of(name);
		size_t size = 0;
		unsigned char *data = slurp(argv[i], &size);
		if (!data)
			return 1;
		if (!type || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			"0123456789._-") != strlen(name)) {
			fprintf(stderr, "embed: '%s': no Content-Type for this name (html, js, css, svg, "
				"png, json, txt, ico, woff2; letters, digits, '.', '_', '-')\n", argv[i]);
			return 1;
		}
		uint64_t h = 14695981039346656037ull;
		for (size_t k = 0; k < size; k++)
			h = (h ^ data[k]) * 1099511628211ull;
		free(data);
		fprintf(out, "\t{ \"%s\", \"%s\", asset%d, %zu, \"\\\"%016llx\\\"\" },\n", name, type,
			i - 2, size, (unsigned long long)h);
	}
	fprintf(out, "};\n\nconst size_t http_nassets = %d;\n", argc - 2);
	if (fclose(out) != 0) {
		fprintf(stderr, "embed: cannot write '%s': %s\n", argv[1], strerror(errno));
		return 1;
	}
	return 0;
}
