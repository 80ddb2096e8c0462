#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

/* Keep the message valid UTF-8 (utf8_clean): it goes into JSON (replies, events, a
 * job's error), where a path or a quoted byte that is not UTF-8, or a character the
 * length limit cut in two, would make the whole document fail to build. */
static void err_clean(struct err *e)
{
	size_t n = strlen(e->msg);
	if (utf8_clean_size(e->msg, n) == n)
		return;
	char raw[sizeof e->msg];
	memcpy(raw, e->msg, n + 1);
	utf8_clean(e->msg, sizeof e->msg, raw, n);
}

int err_set(struct err *e, enum err_code code, const char *fmt, ...)
{
	if (!e)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	err_clean(e);
	e->code = code;
	e->errnum = 0;
	return -1;
}

int err_sys(struct err *e, int errnum, const char *fmt, ...)
{
	if (!e)
		return -1;
	char what[sizeof e->msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	err_set(e, errnum == ENOMEM ? ERR_NOMEM : ERR_IO, "%.400s: %s", what, strerror(errnum));
	e->errnum = errnum;
	return -1;
}

int err_errno_transient(int errnum)
{
	switch (errnum) {
	case ENOSPC: case EDQUOT: case EFBIG:
	case EAGAIN: case EINTR: case EBUSY: case ENOMEM: case ENOBUFS:
	case ETIMEDOUT: case ECONNRESET: case ECONNREFUSED: case ECONNABORTED: case EPIPE:
	case ENOTCONN: case EHOSTUNREACH: case ENETDOWN: case ENETUNREACH:
		return 1;
	default:
		return 0;
	}
}

int err_transient(const struct err *e)
{
	if (!e)
		return 0;
	if (e->errnum)
		return err_errno_transient(e->errnum);
	return e->code == ERR_NOMEM;
}

int err_nospace(const struct err *e)
{
	return e && (e->errnum == ENOSPC || e->errnum == EDQUOT || e->errnum == EFBIG);
}

int err_wrap(struct err *e, const char *fmt, ...)
{
	if (!e)
		return -1;
	char old[sizeof e->msg];
	memcpy(old, e->msg, sizeof old);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	/* append ": <old>" as far as it fits; truncation keeps the message one line */
	size_t at = n < 0 ? 0 : (size_t)n < sizeof e->msg ? (size_t)n : sizeof e->msg - 1;
	const char *parts[2] = { ": ", old };
	for (int i = 0; i < 2; i++)
		for (const char *s = parts[i]; *s && at + 1 < sizeof e->msg; s++)
			e->msg[at++] = *s;
	e->msg[at] = '\0';
	err_clean(e);
	return -1;
}

const char *err_code_name(enum err_code code)
{
	static const char *const names[] = {
		[ERR_NONE] = "none", [ERR_IO] = "io", [ERR_FORMAT] = "format",
		[ERR_INVALID] = "invalid", [ERR_NOMEM] = "nomem", [ERR_NOTFOUND] = "notfound",
	};
	if ((unsigned)code < sizeof names / sizeof names[0] && names[code])
		return names[code];
	return "unknown";
}
