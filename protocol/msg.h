/*
 * msg — encode and decode r1flow messages as pure functions over frames.
 *
 * A `struct msg` is one message without its envelope: a command, a JSON object
 * header and up to PROTO_MAX_BLOBS blob frames (proto.h has the layout). msg.c
 * touches no socket: `msg_encode` turns a msg into a frame list, `msg_decode` turns a
 * frame list into a msg after checking everything proto.h promises. sock.h moves
 * the frames through ZeroMQ; tests and fuzzers call these directly.
 *
 * Primitives
 *   msg_init / msg_release          a msg's lifecycle (caller-owned struct)
 *   msg_add_blob                    append a blob frame
 *   msg_encode / msg_wire_release   msg -> frames (version, command, header, blobs)
 *   msg_decode                      frames -> msg, or a precise fault
 *   msg_uint, msg_str, msg_bool, msg_obj    typed reads of header fields
 *
 * Ownership
 *   - `header` belongs to the msg: msg_release decrefs it. Build it with jansson and
 *     assign it (`m.header = json_pack("{sI}", "job", id)`); NULL encodes as {}.
 *   - Blobs are borrowed by default: the caller keeps the bytes alive while the msg
 *     uses them. A decoded msg's blobs point into the frames given to msg_decode, so
 *     they live as long as those frames (for sock_recv: until sock_msg_release).
 *   - If `blob_free` is set, the msg owns its blobs instead: msg_release calls
 *     blob_free(data, blob_hint) once per blob, and sock_send hands them to libzmq
 *     without a copy (libzmq calls blob_free from its I/O thread once sent).
 *   - A `struct msg_wire` owns the header text its frames[2] points to; its other
 *     frames borrow from static strings and from the msg it was encoded from.
 *
 * Decoding never asserts and never trusts a length: anything the wire can hold
 * yields either a valid msg or -1 with `fault` set and `err` saying exactly what
 * was wrong ("malformed RESULT from worker: field 'epoch' is missing"). A fault of
 * MSG_FAULT_VERSION means the peer speaks another r1flow version: err.msg is then
 * written to be sent back as the DISCONNECT reason. Every other fault is counted and
 * the message dropped.
 *
 * Encoding applies the same checks, so a message that encodes also decodes; it
 * fails (-1) rather than emit something the other side would drop.
 */
#ifndef R1_MSG_H
#define R1_MSG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "proto.h"

struct msg_frame {
	const void *data;    /* borrowed bytes; may be NULL when size is 0 */
	size_t size;
};

enum msg_fault {
	MSG_OK = 0,
	MSG_FAULT_PROTOCOL,  /* first frame is no r1flow version at all: not our protocol */
	MSG_FAULT_VERSION,   /* another r1flow version: answer with err.msg as the reason */
	MSG_FAULT_FRAMES,    /* too few or too many frames, or blobs, for the command */
	MSG_FAULT_COMMAND,   /* unknown command, or one not legal in this direction */
	MSG_FAULT_SIZE,      /* header, blob or envelope over its limit */
	MSG_FAULT_DEPTH,     /* header nested deeper than PROTO_MAX_DEPTH */
	MSG_FAULT_JSON,      /* header is not valid JSON (or not UTF-8) */
	MSG_FAULT_HEADER,    /* header is JSON but not an object */
	MSG_FAULT_FIELD,     /* a header field is missing or of the wrong type */
	MSG_FAULT_COUNT,
};

struct msg {
	enum proto_cmd cmd;                       /* PROTO_NONE until init or decode */
	json_t *header;                           /* owned; a JSON object (NULL: {}) */
	size_t nblobs;                            /* blob frames in use */
	struct msg_frame blobs[PROTO_MAX_BLOBS];  /* borrowed unless blob_free is set */
	void (*blob_free)(void *data, void *hint); /* NULL: blobs borrowed; else owned */
	void *blob_hint;                          /* second argument of blob_free */
	enum msg_fault fault;                     /* after a failed decode: why */
};

/* The encoded form: frames ready to send, in order. */
struct msg_wire {
	size_t nframes;                           /* 3 + blobs */
	struct msg_frame frames[PROTO_MAX_FRAMES]; /* version, command, header, blobs */
	char *text;                               /* owned header JSON (frames[2]) */
};

/* Zero `m` and set its command. Never fails. */
void msg_init(struct msg *m, enum proto_cmd cmd);

/* Drop the header reference and, if blob_free is set, free the blobs; leaves `m`
 * zeroed (so releasing twice is harmless). */
void msg_release(struct msg *m);

/* Append a blob frame. -1 if the msg already holds PROTO_MAX_BLOBS blobs; the blob
 * is then not the msg's (the caller frees it even if blob_free is set). */
int msg_add_blob(struct msg *m, const void *data, size_t size, struct err *err);

/* Encode `m` into `w` (whatever `w` held is overwritten, not freed). Checks the
 * command, blob count, header type, header fields, depth and size. On failure `w`
 * holds nothing to release. `w` borrows m's blobs: keep `m` until `w` is sent. */
int msg_encode(struct msg_wire *w, const struct msg *m, struct err *err);

/* Free the header text; leaves `w` zeroed. */
void msg_wire_release(struct msg_wire *w);

/*
 * Decode `n` frames (the envelope already removed) travelling in direction `dir`.
 * On success returns 0 and `m` holds the command, a new header reference and blobs
 * pointing into `frames`; m->fault is MSG_OK. On failure returns -1, `m` holds no
 * header and m->fault says which check failed; err says how. `m` need not be
 * initialised and is overwritten without being released.
 */
int msg_decode(struct msg *m, const struct msg_frame *frames, size_t n, enum proto_dir dir,
	struct err *err);

/* "ok", "protocol", "version", "frames", ...: a short stable name for counters. */
const char *msg_fault_name(enum msg_fault fault);

/* Typed reads of header fields (borrowed; valid while the msg is). For fields
 * proto.h lists, decode has checked the type, so a present field reads as itself.
 * Absent or mistyped fields read as: -1, NULL, `dflt`, NULL. */
int64_t msg_uint(const struct msg *m, const char *key);
const char *msg_str(const struct msg *m, const char *key);
int msg_bool(const struct msg *m, const char *key, int dflt);
json_t *msg_obj(const struct msg *m, const char *key);

#endif
