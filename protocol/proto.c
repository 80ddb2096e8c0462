#include "proto.h"

#include <string.h>

#define W2D (1u << PROTO_W2D)
#define D2W (1u << PROTO_D2W)
#define C2D (1u << PROTO_C2D)
#define D2C (1u << PROTO_D2C)

static const struct proto_field f_ready[] = {
	{ "name", PROTO_T_STR, 1 }, { "kinds", PROTO_T_STRS, 1 }, { "host", PROTO_T_STR, 0 },
	{ "pid", PROTO_T_UINT, 0 }, { "threads", PROTO_T_UINT, 0 },
	{ "memory", PROTO_T_UINT, 0 }, { "build", PROTO_T_STR, 0 }, { "slots", PROTO_T_UINT, 0 },
	{ "token", PROTO_T_STR, 0 }, { "peer", PROTO_T_OBJ, 0 },
	{ 0 },
};
static const struct proto_field f_heartbeat[] = {
	{ "jobs", PROTO_T_UINTS, 0 }, { "draining", PROTO_T_BOOL, 0 }, { 0 },
};
static const struct proto_field f_result[] = {
	{ "job", PROTO_T_UINT, 1 }, { "epoch", PROTO_T_UINT, 1 },
	{ "result", PROTO_T_OBJ, 0 }, { "stats", PROTO_T_OBJ, 0 },
	{ "uploads", PROTO_T_STRS, 0 }, { 0 },
};
static const struct proto_field f_put[] = {
	{ "job", PROTO_T_UINT, 1 }, { "epoch", PROTO_T_UINT, 1 }, { "index", PROTO_T_UINT, 1 },
	{ "offset", PROTO_T_UINT, 1 }, { "size", PROTO_T_UINT, 1 },
	{ "sha256", PROTO_T_HEX64, 1 }, { "check", PROTO_T_HEX64, 1 }, { 0 },
};
static const struct proto_field f_ack[] = {
	{ "job", PROTO_T_UINT, 1 }, { "epoch", PROTO_T_UINT, 1 }, { "index", PROTO_T_UINT, 1 },
	{ "offset", PROTO_T_UINT, 1 }, { "error", PROTO_T_STR, 0 }, { 0 },
};
static const struct proto_field f_fail[] = {
	{ "job", PROTO_T_UINT, 1 }, { "epoch", PROTO_T_UINT, 1 },
	{ "error", PROTO_T_STR, 1 }, { "retryable", PROTO_T_BOOL, 0 },
	{ "nospace", PROTO_T_STR, 0 }, { 0 },
};
static const struct proto_field f_fetch[] = {
	{ "sha256", PROTO_T_HEX64, 1 }, { "offset", PROTO_T_UINT, 1 },
	{ "size", PROTO_T_UINT, 0 }, { "check", PROTO_T_BOOL, 0 }, { "have", PROTO_T_STRS, 0 },
	{ "failed_peer", PROTO_T_STR, 0 }, { 0 },
};
static const struct proto_field f_disconnect[] = { { "reason", PROTO_T_STR, 0 }, { 0 } };
static const struct proto_field f_job[] = {
	{ "job", PROTO_T_UINT, 1 }, { "epoch", PROTO_T_UINT, 1 }, { "kind", PROTO_T_STR, 1 },
	{ "params", PROTO_T_OBJ, 1 }, { "deadline_ms", PROTO_T_UINT, 0 }, { 0 },
};
static const struct proto_field f_chunk[] = {
	{ "sha256", PROTO_T_HEX64, 1 }, { "offset", PROTO_T_UINT, 1 },
	{ "size", PROTO_T_UINT, 0 }, { "error", PROTO_T_STR, 0 },
	{ "delta", PROTO_T_HEX64, 0 }, { "base", PROTO_T_HEX64, 0 }, { "peer", PROTO_T_OBJ, 0 },
	{ 0 },
};
static const struct proto_field f_admit[] = {
	{ "key", PROTO_T_STR, 1 }, { "name", PROTO_T_STR, 0 }, { 0 },
};
static const struct proto_field f_cancel[] = {
	{ "job", PROTO_T_UINT, 1 }, { "epoch", PROTO_T_UINT, 0 }, { 0 },
};
static const struct proto_field f_request[] = { { "op", PROTO_T_STR, 1 }, { 0 } };
static const struct proto_field f_reply[] = {
	{ "ok", PROTO_T_BOOL, 1 }, { "error", PROTO_T_OBJ, 0 }, { 0 },
};
static const struct proto_field f_event[] = {
	{ "type", PROTO_T_STR, 1 }, { "pipeline", PROTO_T_UINT, 0 },
	{ "stage", PROTO_T_STR, 0 }, { 0 },
};

/* DISCONNECT's reason is optional from a worker but the daemon always sends one;
 * the table keeps one row per command, so it is optional here. */
static const struct proto_cmd_info cmds[PROTO_CMD_COUNT] = {
	[PROTO_READY]      = { "READY",      W2D,       0, 0,               f_ready },
	[PROTO_HEARTBEAT]  = { "HEARTBEAT",  W2D | D2W, 0, 0,               f_heartbeat },
	[PROTO_RESULT]     = { "RESULT",     W2D,       0, PROTO_MAX_BLOBS, f_result },
	[PROTO_FAIL]       = { "FAIL",       W2D,       0, 0,               f_fail },
	[PROTO_FETCH]      = { "FETCH",      W2D,       0, 0,               f_fetch },
	[PROTO_DISCONNECT] = { "DISCONNECT", W2D | D2W, 0, 0,               f_disconnect },
	[PROTO_JOB]        = { "JOB",        D2W,       0, PROTO_MAX_BLOBS, f_job },
	[PROTO_CHUNK]      = { "CHUNK",      D2W,       0, 1,               f_chunk },
	[PROTO_CANCEL]     = { "CANCEL",     D2W,       0, 0,               f_cancel },
	[PROTO_REQUEST]    = { "REQUEST",    C2D,       0, PROTO_MAX_BLOBS, f_request },
	[PROTO_REPLY]      = { "REPLY",      D2C,       0, PROTO_MAX_BLOBS, f_reply },
	[PROTO_EVENT]      = { "EVENT",      D2C,       0, 0,               f_event },
	[PROTO_PUT]        = { "PUT",        W2D,       1, 1,               f_put },
	[PROTO_ACK]        = { "ACK",        D2W,       0, 0,               f_ack },
	[PROTO_ADMIT]      = { "ADMIT",      D2W,       0, 0,               f_admit },
};

const struct proto_cmd_info *proto_cmd_info(enum proto_cmd cmd)
{
	if ((unsigned)cmd >= PROTO_CMD_COUNT || !cmds[cmd].name)
		return NULL;
	return &cmds[cmd];
}

const char *proto_cmd_name(enum proto_cmd cmd)
{
	const struct proto_cmd_info *info = proto_cmd_info(cmd);
	return info ? info->name : "?";
}

enum proto_cmd proto_cmd_parse(const void *name, size_t len)
{
	for (int c = 1; c < PROTO_CMD_COUNT; c++)
		if (strlen(cmds[c].name) == len && memcmp(cmds[c].name, name, len) == 0)
			return (enum proto_cmd)c;
	return PROTO_NONE;
}

const char *proto_dir_version(enum proto_dir dir)
{
	return dir == PROTO_C2D || dir == PROTO_D2C ? PROTO_CONTROL : PROTO_WORKER;
}

const char *proto_dir_sender(enum proto_dir dir)
{
	switch (dir) {
	case PROTO_W2D: return "worker";
	case PROTO_C2D: return "client";
	default: return "daemon";
	}
}

int proto_cmd_allowed(enum proto_cmd cmd, enum proto_dir dir)
{
	const struct proto_cmd_info *info = proto_cmd_info(cmd);
	return info && (unsigned)dir < PROTO_DIR_COUNT && (info->dirs & (1u << dir));
}
