/*
 * proto — the r1flow wire protocol: versions, commands, frame layout, limits.
 *
 * Shaped after ZeroMQ's Majordomo (RFC 7/18) and Paranoid Pirate (RFC 6). Two
 * protocols share one frame layout:
 *
 *   R1FW1  worker <-> daemon    (worker DEALER -> daemon ROUTER)
 *   R1FC1  control              (CLI DEALER -> daemon ROUTER; daemon PUB -> CLI SUB)
 *
 * Every message is a multipart ZeroMQ message:
 *
 *   [envelope][version]["CMD"][header: JSON object][blob frames...]
 *
 *   envelope  one frame, present only on ROUTER (the peer identity) and PUB/SUB (the
 *             topic: the pipeline id in decimal, "" for daemon-wide events); DEALER
 *             sockets have none. msg.c never sees it; sock.c strips and adds it.
 *   version   the exact bytes "R1FW1" or "R1FC1", no terminating NUL.
 *   CMD       the command name in upper case, exact bytes ("READY", "JOB", ...).
 *   header    one JSON object (compact UTF-8). Fields listed below must have the
 *             type given; unlisted fields are ignored, so a version can grow fields
 *             without a bump. Removing or retyping a field needs a new version.
 *   blobs     zero or more opaque byte frames (result payloads, gradient buffers,
 *             checkpoint chunks); how many each command allows is in the table.
 *
 * Worker -> daemon (R1FW1)                       header fields (? = optional)
 *   READY       announces the worker, first     name:str kinds:[str] host?:str pid?:uint
 *               message after every (re)connect threads?:uint memory?:uint build?:str
 *                                                slots?:uint (jobs it may hold at once,
 *                                                running or waiting; default 1)
 *                                                token?:str (a secret the process draws
 *                                                once and sends in every READY: a second
 *                                                connection with the name of a live one
 *                                                takes its place only with its token)
 *                                                (kinds: [a-z0-9_]+ names, e.g. "probe")
 *   HEARTBEAT   liveness, when idle              jobs?:[uint] (job ids in hand)
 *                                                draining?:bool (true: send no more
 *                                                JOBs; DISCONNECT follows the last)
 *   RESULT      a job's output; blobs 0..N      job:uint epoch:uint result?:obj stats?:obj
 *                                                uploads?:[hex64] (its blobs, uploaded
 *                                                with PUT beforehand, in order; then
 *                                                no blob frames)
 *   FAIL        a job could not be done          job:uint epoch:uint error:str retryable?:bool
 *                                                nospace?:str (the worker's full
 *                                                directory: the daemon pauses the
 *                                                pipeline instead of counting an attempt)
 *   FETCH       ask for part of a blob           sha256:hex64 offset:uint size?:uint
 *   PUT         a piece of a result blob;        job:uint epoch:uint index:uint (the
 *               blobs 1                          blob's place in the RESULT) offset:uint
 *                                                size:uint (the whole blob's bytes)
 *                                                sha256:hex64 (the whole blob's)
 *                                                check:hex64 (this piece's sha256)
 *   DISCONNECT  leaving (drain done, or bye)     reason?:str
 *
 * Daemon -> worker (R1FW1)
 *   JOB         a leased job; blobs 0..N        job:uint epoch:uint kind:str params:obj
 *                                                deadline_ms?:uint
 *   CHUNK       answer to FETCH; blobs 0..1     sha256:hex64 offset:uint size?:uint (total
 *                                                blob size) error?:str (then no blob)
 *   HEARTBEAT   liveness, when idle              drain?:bool (true: finish the jobs in
 *                                                hand, then leave, as on SIGTERM)
 *   ACK         answer to PUT: bytes held        job:uint epoch:uint index:uint
 *                                                offset:uint (bytes of the blob the
 *                                                daemon now holds) error?:str (the
 *                                                upload is dropped; retry the job)
 *   CANCEL      drop this job, send nothing     job:uint epoch?:uint
 *   DISCONNECT  session over (shutdown, unknown  reason:str
 *               peer, protocol error)
 *
 * Control (R1FC1)
 *   REQUEST     client -> daemon; blobs 0..N    op:str, then the op's own fields
 *   REPLY       daemon -> client; blobs 0..N    ok:bool error?:obj {code:str, message:str}
 *   EVENT       daemon PUB -> client SUB        type:str pipeline?:uint stage?:str
 *
 * Rules of the conversation (the daemon and worker runtime implement them):
 *   - Any message counts as a heartbeat. A side sends HEARTBEAT only when it has sent
 *     nothing else for PROTO_HEARTBEAT_MS. A peer silent for PROTO_LIVENESS intervals
 *     is dead: the daemon requeues its leased jobs; the worker reconnects.
 *   - A lease is (job, epoch). RESULT and FAIL echo both; the daemon commits only the
 *     current lease's, once, and drops and counts the rest.
 *   - A worker's first message on a connection is READY; the daemon answers anything
 *     else from an unknown peer with DISCONNECT (reason "send READY first"), and the
 *     worker then reconnects and announces itself again.
 *   - On DISCONNECT a worker forgets the session (abandons jobs in hand: their
 *     leases are gone), reconnects with back-off and sends READY again.
 *   - A message that does not decode (msg.h) is counted. On the worker socket it is
 *     dropped, except that a peer whose first frame names another R1F version gets
 *     DISCONNECT with the reason. On the control socket every message is answered:
 *     one that does not decode gets REPLY {ok:false, error:{code: "version" or
 *     "malformed", message: what was wrong}}, so a client can tell a bad request
 *     from a dead daemon. Replies are in the receiver's own version.
 *     A worker that receives another version from the daemon logs it and exits:
 *     retrying does not fix a version mismatch.
 *   - Blobs travel by content: FETCH asks for PROTO_CHUNK_SIZE bytes at an offset;
 *     the worker verifies the sha256 of the whole blob before using it.
 *   - Result blobs travel up the same way, never as one frame: the worker sends PUTs
 *     in order of offset, at most PROTO_UPLOAD_WINDOW unanswered; each ACK lets the
 *     next one go, so the daemon never holds more than a window of pieces per worker
 *     (it writes each to DIR/blobs/tmp as it arrives). The daemon checks each
 *     piece's sha256 and, at the end, the whole blob's; then the RESULT names the
 *     blobs in `uploads`. PUTs for a lease that is not current get an ACK with
 *     `error`, and their partial file is removed.
 *
 * Nothing read from the wire is ever asserted: every check here is a runtime error.
 */
#ifndef R1_PROTO_H
#define R1_PROTO_H

#include <stddef.h>

#define PROTO_WORKER  "R1FW1"          /* worker <-> daemon */
#define PROTO_CONTROL "R1FC1"          /* control client <-> daemon, events */
#define PROTO_FAMILY  "R1F"            /* prefix every version shares */

/* Limits. A frame larger than PROTO_MAX_FRAME_SIZE is refused by libzmq itself
 * (ZMQ_MAXMSGSIZE, which applies per frame): the peer is disconnected. */
#define PROTO_MAX_FRAMES      32                   /* after the envelope */
#define PROTO_MAX_BLOBS       (PROTO_MAX_FRAMES - 3)
#define PROTO_MAX_FRAME_SIZE  (256LL << 20)        /* bytes per frame, any frame */
#define PROTO_MAX_HEADER_SIZE (4 << 20)            /* bytes of header JSON */
#define PROTO_MAX_DEPTH       32                   /* JSON nesting; {} is depth 1 */
#define PROTO_MAX_IMPORT_SIZE (4LL << 30)          /* bytes of a dataset_import's file */
#define PROTO_MAX_ENVELOPE    255                  /* identity / topic bytes */
#define PROTO_CHUNK_SIZE      (1 << 20)            /* FETCH/CHUNK default piece */
#define PROTO_UPLOAD_WINDOW   4                    /* PUTs a worker may have unanswered */
#define PROTO_CHUNK_SIZE_DEFAULT 1048576           /* PUT piece (the worker's --chunk-size) */

/* Timing defaults (both sides configurable). */
#define PROTO_HEARTBEAT_MS     1000
#define PROTO_LIVENESS         3
#define PROTO_RECONNECT_MS     1000                /* first reconnect back-off ... */
#define PROTO_RECONNECT_MAX_MS 32000               /* ... doubling up to this */

enum proto_cmd {
	PROTO_NONE = 0,   /* not a command: decode never yields it */
	PROTO_READY,
	PROTO_HEARTBEAT,
	PROTO_RESULT,
	PROTO_FAIL,
	PROTO_FETCH,
	PROTO_DISCONNECT,
	PROTO_JOB,
	PROTO_CHUNK,
	PROTO_CANCEL,
	PROTO_REQUEST,
	PROTO_REPLY,
	PROTO_EVENT,
	PROTO_PUT,
	PROTO_ACK,
	PROTO_ADMIT,      /* daemon -> worker: a key its peer server may let in */
	PROTO_CMD_COUNT,
};

/* Who sends to whom; each command is legal in some directions only. */
enum proto_dir {
	PROTO_W2D,        /* R1FW1, worker -> daemon */
	PROTO_D2W,        /* R1FW1, daemon -> worker */
	PROTO_C2D,        /* R1FC1, control client -> daemon */
	PROTO_D2C,        /* R1FC1, daemon -> control client (replies, events) */
	PROTO_DIR_COUNT,
};

enum proto_type {
	PROTO_T_UINT = 1, /* JSON integer >= 0 */
	PROTO_T_STR,      /* JSON string */
	PROTO_T_BOOL,     /* true or false */
	PROTO_T_OBJ,      /* JSON object */
	PROTO_T_STRS,     /* JSON array of strings */
	PROTO_T_UINTS,    /* JSON array of integers >= 0 */
	PROTO_T_HEX64,    /* string of 64 lowercase hex digits (a sha256) */
};

struct proto_field {
	const char *name;       /* key in the header object; NULL ends a list */
	enum proto_type type;   /* required JSON type when present */
	int required;           /* 1: decode refuses a header without it */
};

/* One row per command: the machine-readable form of the table above (proto.c). */
struct proto_cmd_info {
	const char *name;                /* wire bytes and log name: "READY" */
	unsigned dirs;                   /* bit (1u << enum proto_dir) per legal direction */
	int min_blobs, max_blobs;        /* blob frames allowed after the header */
	const struct proto_field *fields; /* known header fields, NULL-terminated */
};

/* The row for `cmd`; NULL for PROTO_NONE or out of range. */
const struct proto_cmd_info *proto_cmd_info(enum proto_cmd cmd);

/* "READY", ...; "?" for anything that is not a command. Safe on any value. */
const char *proto_cmd_name(enum proto_cmd cmd);

/* The command whose wire name is exactly `len` bytes at `name`; PROTO_NONE if none. */
enum proto_cmd proto_cmd_parse(const void *name, size_t len);

/* The version string a direction speaks: PROTO_WORKER or PROTO_CONTROL. */
const char *proto_dir_version(enum proto_dir dir);

/* "worker", "daemon", "client": who sends in this direction, for messages. */
const char *proto_dir_sender(enum proto_dir dir);

/* Whether `cmd` may travel in `dir`. */
int proto_cmd_allowed(enum proto_cmd cmd, enum proto_dir dir);

#endif
