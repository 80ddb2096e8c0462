/*
 * utf8 — bytes that should be UTF-8 text but may not be: what a model writes (byte
 * tokens, so any byte sequence), a user's file or path, a message cut short.
 *
 *   utf8_decode(s, n, &len)    the code point at s (n > 0 bytes left) and its length,
 *                              or -1 with len 1 for a byte that starts no valid
 *                              sequence. Strict: no overlongs, no surrogates, nothing
 *                              above U+10FFFF, nothing cut short.
 *   utf8_clean(dst, cap, s, n) s[0..n) copied with each byte of invalid UTF-8, and
 *                              each NUL, written as U+FFFD (EF BF BD); as many
 *                              characters as fit in cap - 1 bytes (never part of one),
 *                              NUL-terminated. Returns the bytes written.
 *   utf8_clean_size(s, n)      the bytes utf8_clean needs for all of s (without NUL)
 *   utf8_json(s, n)            a new JSON string of utf8_clean(s): NULL only when out
 *                              of memory. For every JSON value whose text comes from
 *                              outside (a model, a file, a command line): jansson
 *                              refuses invalid UTF-8 (json_string returns NULL, and
 *                              json_dumps fails on a nocheck string), which callers
 *                              would otherwise report as "out of memory".
 *   utf8_jstring(s)            utf8_json(s, strlen(s)) for a C string
 *
 * Why U+FFFD and NUL too: JSON strings are UTF-8, and a JSON reader (jansson without
 * JSON_ALLOW_NUL, as the daemon's) refuses \u0000. The rewards count an invalid byte
 * as one code point outside any alphabet, as they do U+FFFD, so a cleaned text
 * scores as its raw bytes do.
 */
#ifndef R1_UTF8_H
#define R1_UTF8_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define UTF8_REPLACEMENT "\xEF\xBF\xBD" /* U+FFFD */

int32_t utf8_decode(const char *s, size_t n, size_t *len);
size_t utf8_clean(char *dst, size_t cap, const char *s, size_t n);
size_t utf8_clean_size(const char *s, size_t n);
json_t *utf8_json(const char *s, size_t n);
json_t *utf8_jstring(const char *s);

#endif
