/*
 * hftok_json — the two big members of a tokenizer.json read without a JSON tree.
 *
 * model.vocab (150k string keys) and model.merges (as many strings or pairs) are 90%
 * of the file; building jansson objects for them takes most of a second. So the file
 * is scanned once here (a validating skip over every value), those two members are
 * cut out — replaced by {} and [] with their newlines kept between the brackets, so
 * jansson's line numbers in errors still point at the file — and decoded straight
 * into flat arrays; jansson then reads the small rest.
 *
 *   hft_json_split(doc, n, &restn, &vocab, &nv, &merges, &nm)
 *                                            finds model.vocab and model.merges in
 *                                            doc (n bytes, NUL-terminated): their
 *                                            spans in doc (NULL when absent), and a
 *                                            new copy of doc without them (restn
 *                                            bytes, caller frees; a copy of all of
 *                                            doc if it is not JSON, for jansson to
 *                                            say where). NULL when out of memory.
 *   hft_json_string(&p, end, out)            decodes the JSON string at *p (at its
 *                                            opening quote) into out; *p moves past it
 *   hft_json_ws(p, end)                      p past whitespace
 */
#include "hftok_impl.h"

#include <stdlib.h>
#include <string.h>

const char *hft_json_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

static int hexval(const char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

int hft_json_string(const char **pp, const char *end, struct hft_buf *out)
{
	const char *p = *pp;
	if (p >= end || *p != '"')
		return -1;
	p++;
	for (;;) {
		const char *q = p;
		while (q < end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
			q++;
		if (out && hft_buf_add(out, p, (size_t)(q - p)) < 0)
			return -1;
		if (q >= end || (unsigned char)*q < 0x20)
			return -1;
		if (*q == '"') {
			*pp = q + 1;
			return 0;
		}
		/* an escape */
		if (q + 1 >= end)
			return -1;
		char c = q[1], lit;
		p = q + 2;
		switch (c) {
		case '"': lit = '"'; break;
		case '\\': lit = '\\'; break;
		case '/': lit = '/'; break;
		case 'b': lit = '\b'; break;
		case 'f': lit = '\f'; break;
		case 'n': lit = '\n'; break;
		case 'r': lit = '\r'; break;
		case 't': lit = '\t'; break;
		case 'u': {
			if (end - p < 4)
				return -1;
			int32_t cp = hexval(p);
			p += 4;
			if (cp < 0)
				return -1;
			if (cp >= 0xD800 && cp <= 0xDBFF) { /* a surrogate pair */
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
					return -1;
				int lo = hexval(p + 2);
				if (lo < 0xDC00 || lo > 0xDFFF)
					return -1;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				p += 6;
			} else if (cp >= 0xDC00 && cp <= 0xDFFF)
				return -1;
			char u[5];
			if (out && hft_buf_add(out, u, hft_utf8_put(u, cp)) < 0)
				return -1;
			continue;
		}
		default:
			return -1;
		}
		if (out && hft_buf_add(out, &lit, 1) < 0)
			return -1;
	}
}

/* p past the JSON value at p (after whitespace), or NULL; depth-limited */
static const char *skip(const char *p, const char *end, int depth)
{
	p = hft_json_ws(p, end);
	if (p >= end || depth > 512)
		return NULL;
	char c = *p;
	if (c == '"')
		return hft_json_string(&p, end, NULL) < 0 ? NULL : p;
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		p = hft_json_ws(p + 1, end);
		if (p < end && *p == close)
			return p + 1;
		for (;;) {
			if (c == '{') {
				if (hft_json_string(&p, end, NULL) < 0)
					return NULL;
				p = hft_json_ws(p, end);
				if (p >= end || *p++ != ':')
					return NULL;
			}
			if (!(p = skip(p, end, depth + 1)))
				return NULL;
			p = hft_json_ws(p, end);
			if (p < end && *p == ',') {
				p = hft_json_ws(p + 1, end);
				continue;
			}
			return p < end && *p == close ? p + 1 : NULL;
		}
	}
	const char *q = p; /* a number or a literal: checked by jansson later */
	while (q < end && (strchr("+-.eE", *q) || (*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z')))
		q++;
	return q > p ? q : NULL;
}

/* a new copy of doc with each span replaced by its first byte, its closing byte and
 * its newlines (so jansson's line numbers stay right); NULL when out of memory */
static char *compact(const char *doc, size_t n, const char *span[2][2], size_t *outn)
{
	size_t cap = n, w = 0;
	for (int j = 0; j < 2; j++)
		if (span[j][0])
			cap -= (size_t)(span[j][1] - span[j][0]);
	for (int j = 0; j < 2; j++)
		for (const char *p = span[j][0]; p && p < span[j][1]; p++)
			cap += *p == '\n';
	char *out = malloc(cap + 8);
	if (!out)
		return NULL;
	for (size_t r = 0; r < n;) {
		int k = -1;
		for (int j = 0; j < 2; j++)
			if (span[j][0] == doc + r)
				k = j;
		if (k < 0) {
			out[w++] = doc[r++];
			continue;
		}
		size_t end = (size_t)(span[k][1] - doc);
		char close = doc[end - 1];
		out[w++] = doc[r];
		for (; r < end; r++)
			if (doc[r] == '\n')
				out[w++] = '\n';
		out[w++] = close;
	}
	out[w] = 0;
	*outn = w;
	return out;
}

char *hft_json_split(const char *doc, size_t n, size_t *restn, const char **vocab, size_t *nv,
		     const char **merges, size_t *nm)
{
	const char *end = doc + n;
	const char *span[2][2] = { { NULL, NULL }, { NULL, NULL } };
	*vocab = *merges = NULL;
	const char *p = hft_json_ws(doc, end);
	if (!skip(p, end, 0) || *p != '{') { /* not JSON: jansson says where */
		char *copy = malloc(n + 1);
		if (copy)
			memcpy(copy, doc, n + 1);
		*restn = n;
		return copy;
	}
	p = hft_json_ws(p + 1, end);
	while (p < end && *p == '"') {
		struct hft_buf key = { 0 };
		if (hft_json_string(&p, end, &key) < 0) {
			free(key.p);
			return NULL;
		}
		p = hft_json_ws(p, end);
		p = hft_json_ws(p + 1, end); /* the ':' (the skip above checked it) */
		int model = key.p && !strcmp(key.p, "model");
		free(key.p);
		if (model && *p == '{') {
			const char *q = hft_json_ws(p + 1, end);
			while (q < end && *q == '"') {
				struct hft_buf k = { 0 };
				if (hft_json_string(&q, end, &k) < 0) {
					free(k.p);
					return NULL;
				}
				q = hft_json_ws(q, end);
				q = hft_json_ws(q + 1, end);
				const char *v = q;
				q = skip(q, end, 1);
				if (k.p && !strcmp(k.p, "vocab") && *v == '{' && !*vocab) {
					*vocab = span[0][0] = v;
					*nv = (size_t)(q - v);
					span[0][1] = q;
				} else if (k.p && !strcmp(k.p, "merges") && *v == '[' && !*merges) {
					*merges = span[1][0] = v;
					*nm = (size_t)(q - v);
					span[1][1] = q;
				}
				free(k.p);
				q = hft_json_ws(q, end);
				if (*q == ',')
					q = hft_json_ws(q + 1, end);
			}
		}
		p = skip(p, end, 1);
		p = hft_json_ws(p, end);
		if (p < end && *p == ',')
			p = hft_json_ws(p + 1, end);
	}
	return compact(doc, n, span, restn);
}
