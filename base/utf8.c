#include "utf8.h"

#include <stdlib.h>
#include <string.h>

int32_t utf8_decode(const char *str, size_t n, size_t *len)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c = s[0];
	size_t k;
	int32_t cp, min;
	*len = 1;
	if (c < 0x80)
		return c;
	if (c >= 0xC2 && c <= 0xDF) {
		k = 2, cp = c & 0x1F, min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		k = 3, cp = c & 0x0F, min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		k = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return -1;
	}
	if (n < k)
		return -1;
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	*len = k;
	return cp;
}

/* The length of the character at s as utf8_clean keeps it (0: replaced). */
static size_t utf8_kept(const char *s, size_t n)
{
	size_t len;
	return utf8_decode(s, n, &len) > 0 ? len : 0; /* NUL (0) is replaced too */
}

size_t utf8_clean(char *dst, size_t cap, const char *s, size_t n)
{
	size_t o = 0;
	if (cap == 0)
		return 0;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_kept(s + i, n - i);
		size_t w = k ? k : sizeof UTF8_REPLACEMENT - 1;
		if (o + w > cap - 1)
			break;
		memcpy(dst + o, k ? s + i : UTF8_REPLACEMENT, w);
		o += w;
		i += k ? k : 1;
	}
	dst[o] = '\0';
	return o;
}

size_t utf8_clean_size(const char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		size_t k = utf8_kept(s + i, n - i);
		o += k ? k : sizeof UTF8_REPLACEMENT - 1;
		i += k ? k : 1;
	}
	return o;
}

json_t *utf8_json(const char *s, size_t n)
{
	size_t need = utf8_clean_size(s, n);
	if (need == n) /* the common case: already clean */
		return json_stringn_nocheck(s, n);
	char *buf = malloc(need + 1);
	if (!buf)
		return NULL;
	utf8_clean(buf, need + 1, s, n);
	json_t *j = json_stringn_nocheck(buf, need);
	free(buf);
	return j;
}

json_t *utf8_jstring(const char *s)
{
	return utf8_json(s, strlen(s));
}
