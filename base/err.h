/*
 * err — runtime errors passed up to the caller.
 *
 * A library function that can fail on outside input (a bad file, a bad frame, a
 * missing tensor) returns -1 (or NULL) and fills the caller's `struct err`. Messages
 * follow git's style: lowercase, no full stop, what failed first, the subject
 * quoted, the cause after ": " — "cannot open checkpoint 'x/model.safetensors': no
 * such file". Bugs assert; startup failures are printed by main; nothing else logs.
 *
 * `err` may be NULL: the error is then dropped (for probes whose failure is fine).
 * The message is always valid UTF-8: bytes that are not (a path, a quoted value, a
 * character cut at the length limit) show as U+FFFD, so it can go into JSON as is.
 *
 * Whether trying again can help: an error the OS (or SQLite) caused carries the
 * errno behind it (err_sys sets it, err_set clears it), and err_transient() says
 * whether the same operation could succeed later without anyone changing the input:
 *   transient  ENOSPC, EDQUOT, EFBIG (disk or file-size limit full: space can be
 *              freed), EAGAIN, EINTR, EBUSY (SQLite's BUSY/LOCKED map here),
 *              ETIMEDOUT, ECONNRESET, ECONNREFUSED, EPIPE, ENOTCONN, ENOBUFS,
 *              EHOSTUNREACH, ENETDOWN, ENETUNREACH (a lost connection), ENOMEM and
 *              an ERR_NOMEM error (memory may come back)
 *   permanent  everything else: ENOENT, EACCES, EISDIR, malformed bytes, bad values
 *              (ERR_FORMAT, ERR_INVALID, ERR_NOTFOUND), and an ERR_IO with no errno
 * err_nospace() singles out the disk-full ones: they need someone to free space, so
 * a caller waits for that (a paused pipeline) instead of counting attempts.
 */
#ifndef R1_ERR_H
#define R1_ERR_H

enum err_code {
	ERR_NONE = 0,
	ERR_IO,        /* the OS said no: open, read, write, rename */
	ERR_FORMAT,    /* the bytes are not what they claim to be */
	ERR_INVALID,   /* well-formed but not acceptable: a bad argument or value */
	ERR_NOMEM,     /* allocation failed */
	ERR_NOTFOUND,  /* a named thing is absent */
};

struct err {
	enum err_code code; /* ERR_NONE until set */
	int errnum;         /* the errno behind it (err_sys), 0 when none */
	char msg[512];      /* one line, no trailing newline */
};

/* Set the error, replacing any earlier one. Returns -1. */
int err_set(struct err *e, enum err_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* err_set(e, ERR_IO, "<fmt>: <strerror(errnum)>") remembering errnum (ERR_NOMEM
 * for ENOMEM). Returns -1. */
int err_sys(struct err *e, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* 1 if trying the same thing again later can succeed (the table above). */
int err_transient(const struct err *e);
int err_errno_transient(int errnum);

/* 1 if the error is a full disk, quota or file-size limit (ENOSPC, EDQUOT, EFBIG). */
int err_nospace(const struct err *e);

/* Prefix an existing message: "<prefix>: <old message>". Returns -1. */
int err_wrap(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

const char *err_code_name(enum err_code code);

#endif
