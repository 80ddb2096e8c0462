#include "filters.h"

#include <string.h>

#include "rewards.h"

static int filters_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int filters_mixed_language(const char *completion, size_t len, const char *alphabet)
{
	struct rewards_parts parts;
	rewards_parse(completion, len, &parts);
	return rewards_alphabet_share(parts.reasoning, parts.reasoning_len, alphabet) < 1.0;
}

int filters_overlong_line(const char *completion, size_t len, size_t max_bytes)
{
	struct rewards_parts parts;
	rewards_parse(completion, len, &parts);
	const char *s = parts.reasoning, *end = s + parts.reasoning_len;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl : end;
		if ((size_t)(e - s) > max_bytes)
			return 1;
		s = nl ? nl + 1 : end;
	}
	return 0;
}

int filters_code_block(const char *completion, size_t len)
{
	for (const char *p = completion; (p = memchr(p, '`', len - (size_t)(p - completion))); p++)
		if ((size_t)(completion + len - p) >= 3 && p[1] == '`' && p[2] == '`')
			return 1;
	return 0;
}

static size_t filters_strip_suffix(const char *s, size_t len, const char *suffix)
{
	size_t k = strlen(suffix);
	return len >= k && memcmp(s + len - k, suffix, k) == 0 ? len - k : len;
}

uint64_t filters_hash(const char *s, size_t len)
{
	for (size_t before = len + 1; before != len;) {
		before = len;
		while (len && filters_is_space(s[len - 1]))
			len--;
		len = filters_strip_suffix(s, len, "<|eos|>");
		len = filters_strip_suffix(s, len, "<|pad|>");
	}
	size_t i = 0;
	while (i < len && filters_is_space(s[i]))
		i++;
	uint64_t h = 0xCBF29CE484222325ull;
	int in_space = 0;
	for (; i < len; i++) {
		if (filters_is_space(s[i])) {
			in_space = 1;
			continue;
		}
		if (in_space)
			h = (h ^ (unsigned char)' ') * 0x100000001B3ull;
		in_space = 0;
		h = (h ^ (unsigned char)s[i]) * 0x100000001B3ull;
	}
	return h;
}
