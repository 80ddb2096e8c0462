#include <stdint.h>

#include "msg.h"
#include "proto.h"
#include "test.h"

/* ---- helpers ---- */

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* A header carrying every required field of `cmd`, plus some optional ones. */
static json_t *sample_header(enum proto_cmd cmd)
{
	switch (cmd) {
	case PROTO_READY:
		return json_pack("{ss s[ss] ss sI sI}", "name", "w1", "kinds", "probe", "rollout",
			"host", "h", "pid", (json_int_t)42, "threads", (json_int_t)4);
	case PROTO_HEARTBEAT: return json_pack("{s[II]}", "jobs", (json_int_t)1, (json_int_t)2);
	case PROTO_RESULT:
		return json_pack("{sI sI s{ss} s{sf}}", "job", (json_int_t)7, "epoch", (json_int_t)2,
			"result", "echo", "hi", "stats", "ms", 1.5);
	case PROTO_FAIL:
		return json_pack("{sI sI ss sb}", "job", (json_int_t)7, "epoch", (json_int_t)2,
			"error", "boom", "retryable", 1);
	case PROTO_FETCH: return json_pack("{ss sI}", "sha256", SHA, "offset", (json_int_t)0);
	case PROTO_DISCONNECT: return json_pack("{ss}", "reason", "bye");
	case PROTO_JOB:
		return json_pack("{sI sI ss s{si}}", "job", (json_int_t)7, "epoch", (json_int_t)3,
			"kind", "probe", "params", "sleep_ms", 0);
	case PROTO_CHUNK:
		return json_pack("{ss sI sI}", "sha256", SHA, "offset", (json_int_t)1048576,
			"size", (json_int_t)2000000);
	case PROTO_CANCEL: return json_pack("{sI}", "job", (json_int_t)7);
	case PROTO_REQUEST: return json_pack("{ss sI}", "op", "status", "id", (json_int_t)1);
	case PROTO_REPLY: return json_pack("{sb s{ss ss}}", "ok", 0, "error", "code", "notfound",
		"message", "no pipeline 1");
	case PROTO_EVENT: return json_pack("{ss sI}", "type", "step_done", "pipeline", (json_int_t)1);
	case PROTO_PUT:
		return json_pack("{sI sI sI sI sI ss ss}", "job", (json_int_t)7, "epoch", (json_int_t)2,
			"index", (json_int_t)0, "offset", (json_int_t)65536, "size", (json_int_t)200000,
			"sha256", SHA, "check", SHA);
	case PROTO_ACK:
		return json_pack("{sI sI sI sI}", "job", (json_int_t)7, "epoch", (json_int_t)2,
			"index", (json_int_t)0, "offset", (json_int_t)131072);
	case PROTO_ADMIT:
		return json_pack("{ss ss}", "key", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", "name", "w1");
	default: return NULL;
	}
}

/* The first direction `cmd` may travel in. */
static enum proto_dir dir_of(enum proto_cmd cmd)
{
	for (int d = 0; d < PROTO_DIR_COUNT; d++)
		if (proto_cmd_allowed(cmd, (enum proto_dir)d))
			return (enum proto_dir)d;
	return PROTO_DIR_COUNT;
}

/* Frames of a hand-made message: version, command, header text, blobs. */
struct raw {
	size_t n;
	struct msg_frame f[PROTO_MAX_FRAMES + 4];
};

static struct raw raw3(const char *version, const char *cmd, const char *header)
{
	struct raw r = { 3, { { version, strlen(version) }, { cmd, strlen(cmd) },
		{ header, strlen(header) } } };
	return r;
}

/* Decode `r` in `dir` and return the fault; the error message goes to *msg_out. */
static enum msg_fault decode_fault(const struct raw *r, enum proto_dir dir, struct err *e)
{
	struct msg m;
	memset(e, 0, sizeof *e);
	int rc = msg_decode(&m, r->f, r->n, dir, e);
	enum msg_fault f = m.fault;
	if (rc == 0) {
		CHECK(f == MSG_OK);
		msg_release(&m);
	} else {
		CHECK(f != MSG_OK && m.header == NULL && e->msg[0]);
	}
	return f;
}

#define EXPECT_FAULT(r, dir, fault, needle) do { struct err e_; \
	enum msg_fault got_ = decode_fault(&(r), (dir), &e_); \
	CHECK_MSG(got_ == (fault), "fault %s (%s), expected %s", msg_fault_name(got_), e_.msg, \
		msg_fault_name(fault)); \
	CHECK_MSG(strstr(e_.msg, (needle)) != NULL, "'%s' lacks '%s'", e_.msg, (needle)); \
} while (0)

/* ---- tests ---- */

static void test_proto__name_table_round_trips(void)
{
	for (int c = 1; c < PROTO_CMD_COUNT; c++) {
		const char *name = proto_cmd_name((enum proto_cmd)c);
		CHECK(strcmp(name, "?") != 0);
		CHECK(proto_cmd_parse(name, strlen(name)) == (enum proto_cmd)c);
		CHECK(dir_of((enum proto_cmd)c) != PROTO_DIR_COUNT);
		CHECK(proto_cmd_info((enum proto_cmd)c)->fields != NULL);
	}
	CHECK(strcmp(proto_cmd_name(PROTO_NONE), "?") == 0);
	CHECK(strcmp(proto_cmd_name((enum proto_cmd)999), "?") == 0);
	CHECK(proto_cmd_parse("READ", 4) == PROTO_NONE);
	CHECK(proto_cmd_parse("READYX", 6) == PROTO_NONE);
	CHECK(proto_cmd_parse("ready", 5) == PROTO_NONE);
	CHECK(strcmp(proto_dir_version(PROTO_W2D), PROTO_WORKER) == 0);
	CHECK(strcmp(proto_dir_version(PROTO_D2W), PROTO_WORKER) == 0);
	CHECK(strcmp(proto_dir_version(PROTO_C2D), PROTO_CONTROL) == 0);
	CHECK(strcmp(proto_dir_version(PROTO_D2C), PROTO_CONTROL) == 0);
	CHECK(proto_cmd_allowed(PROTO_HEARTBEAT, PROTO_W2D) && proto_cmd_allowed(PROTO_HEARTBEAT, PROTO_D2W));
	CHECK(!proto_cmd_allowed(PROTO_JOB, PROTO_W2D) && !proto_cmd_allowed(PROTO_RESULT, PROTO_D2W));
	for (int f = 0; f < MSG_FAULT_COUNT; f++)
		CHECK(strcmp(msg_fault_name((enum msg_fault)f), "unknown") != 0);
}

static void test_proto__every_command_round_trips(void)
{
	static const char big[] = "a blob of bytes\0with a NUL inside";
	for (int c = 1; c < PROTO_CMD_COUNT; c++) {
		const struct proto_cmd_info *info = proto_cmd_info((enum proto_cmd)c);
		struct msg m;
		struct err e = { 0 };
		msg_init(&m, (enum proto_cmd)c);
		m.header = sample_header((enum proto_cmd)c);
		CHECK(m.header);
		int blobs = info->max_blobs > 2 ? 2 : info->max_blobs;
		for (int b = 0; b < blobs; b++)
			CHECK(msg_add_blob(&m, big, sizeof big - (size_t)b, &e) == 0);
		if (blobs < info->max_blobs) /* an empty blob frame is a valid blob */
			CHECK(msg_add_blob(&m, NULL, 0, &e) == 0);

		struct msg_wire w;
		CHECK_MSG(msg_encode(&w, &m, &e) == 0, "%s: %s", info->name, e.msg);
		CHECK(w.nframes == 3 + m.nblobs);
		CHECK(w.frames[1].size == strlen(info->name));

		struct msg d;
		CHECK_MSG(msg_decode(&d, w.frames, w.nframes, dir_of((enum proto_cmd)c), &e) == 0,
			"%s: %s", info->name, e.msg);
		CHECK(d.cmd == (enum proto_cmd)c && d.fault == MSG_OK);
		CHECK(json_equal(d.header, m.header));
		CHECK(d.nblobs == m.nblobs);
		for (size_t b = 0; b < d.nblobs; b++) {
			CHECK(d.blobs[b].size == m.blobs[b].size);
			CHECK(d.blobs[b].size == 0 || memcmp(d.blobs[b].data, m.blobs[b].data,
				d.blobs[b].size) == 0);
		}
		msg_release(&d);
		msg_wire_release(&w);
		msg_release(&m);
	}
}

static void test_proto__typed_reads(void)
{
	struct msg m;
	struct err e;
	msg_init(&m, PROTO_FAIL);
	m.header = sample_header(PROTO_FAIL);
	struct msg_wire w;
	CHECK(msg_encode(&w, &m, &e) == 0);
	struct msg d;
	CHECK(msg_decode(&d, w.frames, w.nframes, PROTO_W2D, &e) == 0);
	CHECK(msg_uint(&d, "job") == 7 && msg_uint(&d, "epoch") == 2);
	CHECK(strcmp(msg_str(&d, "error"), "boom") == 0);
	CHECK(msg_bool(&d, "retryable", 0) == 1);
	CHECK(msg_uint(&d, "absent") == -1 && msg_str(&d, "job") == NULL);
	CHECK(msg_bool(&d, "absent", 1) == 1 && msg_obj(&d, "error") == NULL);
	msg_release(&d);
	msg_wire_release(&w);
	msg_release(&m);
}

static void test_proto__empty_header_is_an_empty_object(void)
{
	struct msg m;
	struct err e;
	msg_init(&m, PROTO_HEARTBEAT); /* header NULL encodes as {} */
	struct msg_wire w;
	CHECK(msg_encode(&w, &m, &e) == 0);
	CHECK(w.frames[2].size == 2 && memcmp(w.frames[2].data, "{}", 2) == 0);
	struct msg d;
	CHECK(msg_decode(&d, w.frames, w.nframes, PROTO_D2W, &e) == 0);
	CHECK(json_is_object(d.header) && json_object_size(d.header) == 0);
	msg_release(&d);
	msg_wire_release(&w);
}

static void test_proto__wrong_version_is_distinguishable(void)
{
	struct raw r = raw3("R1FW2", "HEARTBEAT", "{}");
	EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_VERSION, "unsupported protocol version 'R1FW2'");
	EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_VERSION, "expected 'R1FW1'");
	r = raw3(PROTO_CONTROL, "HEARTBEAT", "{}"); /* a CLI on the worker socket */
	EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_VERSION, "'R1FC1'");
	r = raw3(PROTO_WORKER, "REQUEST", "{\"op\":\"ls\"}"); /* a worker on the control socket */
	EXPECT_FAULT(r, PROTO_C2D, MSG_FAULT_VERSION, "expected 'R1FC1'");
	r = raw3("R1FW1\n", "HEARTBEAT", "{}");
	EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_VERSION, "'R1FW1?'");
	/* not our protocol at all: dropped, no DISCONNECT */
	r = raw3("hello", "HEARTBEAT", "{}");
	EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_PROTOCOL, "first frame 'hello'");
	r = raw3("", "HEARTBEAT", "{}");
	EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_PROTOCOL, "not an r1flow version");
	r.n = 0;
	EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_PROTOCOL, "no frames");
}

static void test_proto__unknown_or_misdirected_command(void)
{
	struct raw r = raw3(PROTO_WORKER, "NOPE", "{}");
	EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_COMMAND, "unknown command 'NOPE'");
	r = raw3(PROTO_WORKER, "heartbeat", "{}");
	EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_COMMAND, "unknown command");
	r = raw3(PROTO_WORKER, "JOB", "{\"job\":1,\"epoch\":1,\"kind\":\"p\",\"params\":{}}");
	EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_COMMAND, "'JOB' is not valid from a worker");
	r = raw3(PROTO_WORKER, "READY", "{\"name\":\"w\",\"kinds\":[]}");
	EXPECT_FAULT(r, PROTO_D2W, MSG_FAULT_COMMAND, "not valid from a daemon");
	r = raw3(PROTO_CONTROL, "EVENT", "{\"type\":\"x\"}");
	EXPECT_FAULT(r, PROTO_C2D, MSG_FAULT_COMMAND, "not valid from a client");
}

static void test_proto__frame_counts_are_checked(void)
{
	struct raw r = raw3(PROTO_WORKER, "HEARTBEAT", "{}");
	r.n = 1;
	EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_FRAMES, "1 frames (need at least 3)");
	r.n = 2;
	EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_FRAMES, "2 frames");
	r.n = 4; /* HEARTBEAT takes no blob */
	r.f[3] = (struct msg_frame){ "x", 1 };
	EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_FRAMES, "malformed HEARTBEAT from worker: 1 blob");
	r = raw3(PROTO_WORKER, "CHUNK", "{\"sha256\":\"" SHA "\",\"offset\":0}");
	r.n = 5;
	r.f[3] = r.f[4] = (struct msg_frame){ "x", 1 };
	EXPECT_FAULT(r, PROTO_D2W, MSG_FAULT_FRAMES, "2 blob frames (allowed 0 to 1)");
	r = raw3(PROTO_WORKER, "RESULT", "{\"job\":1,\"epoch\":1}");
	for (r.n = 3; r.n < PROTO_MAX_FRAMES + 1; r.n++)
		r.f[r.n] = (struct msg_frame){ "b", 1 };
	EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_FRAMES, "allowed 0 to 29");
	r.n = PROTO_MAX_FRAMES; /* exactly the limit is fine */
	EXPECT_FAULT(r, PROTO_W2D, MSG_OK, "");
}

static void test_proto__header_must_be_a_json_object(void)
{
	static const char *not_json[] = { "", "{", "{\"a\":}", "{} x", "{\"a\":1,\"a\":2}",
		"{\"s\":\"\xff\xfe\"}", "{\"s\":\"a\\u0000b\"}", "nul", "{'a':1}" };
	for (size_t i = 0; i < sizeof not_json / sizeof *not_json; i++) {
		struct raw r = raw3(PROTO_WORKER, "HEARTBEAT", not_json[i]);
		EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_JSON, "header is not JSON");
	}
	static const char *not_object[] = { "[]", "42", "\"s\"", "null", "true", "[{}]" };
	for (size_t i = 0; i < sizeof not_object / sizeof *not_object; i++) {
		struct raw r = raw3(PROTO_WORKER, "HEARTBEAT", not_object[i]);
		EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_HEADER, "header is not a JSON object");
	}
	/* a header with an embedded NUL byte is not JSON either */
	struct raw r = raw3(PROTO_WORKER, "HEARTBEAT", "{}");
	r.f[2] = (struct msg_frame){ "{}\0", 3 };
	EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_JSON, "not JSON");
}

static char *nested(int depth, const char *open, const char *close, const char *inner)
{
	size_t lo = strlen(open), lc = strlen(close), li = strlen(inner);
	char *s = malloc((size_t)depth * (lo + lc) + li + 1), *p = s;
	CHECK(s);
	for (int i = 0; i < depth; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, inner, li);
	p += li;
	for (int i = 0; i < depth; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

static void test_proto__depth_is_capped(void)
{
	/* {"a":{"a":...{}...}}: PROTO_MAX_DEPTH objects pass, one more does not */
	char *ok = nested(PROTO_MAX_DEPTH - 1, "{\"a\":", "}", "{}");
	struct raw r = raw3(PROTO_WORKER, "HEARTBEAT", ok);
	EXPECT_FAULT(r, PROTO_W2D, MSG_OK, "");
	char *deep = nested(PROTO_MAX_DEPTH, "{\"a\":", "}", "{}");
	r = raw3(PROTO_WORKER, "HEARTBEAT", deep);
	EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_DEPTH, "deeper than 32");
	/* brackets inside strings do not count, escaped quotes do not end strings */
	char *inner = nested(100, "[", "]", "");
	char *quoted = malloc(strlen(inner) + 64);
	sprintf(quoted, "{\"s\":\"\\\"%s\"}", inner);
	r = raw3(PROTO_WORKER, "HEARTBEAT", quoted);
	EXPECT_FAULT(r, PROTO_W2D, MSG_OK, "");
	/* a hostile nesting far past jansson's own limit is refused before parsing */
	char *hostile = nested(100000, "[", "]", "");
	r = raw3(PROTO_WORKER, "HEARTBEAT", hostile);
	EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_DEPTH, "deeper");

	/* the encoder refuses what the decoder would */
	struct msg m;
	struct err e;
	json_error_t je;
	msg_init(&m, PROTO_HEARTBEAT);
	m.header = json_loads(deep, 0, &je);
	CHECK(m.header);
	struct msg_wire w;
	CHECK(msg_encode(&w, &m, &e) == -1 && strstr(e.msg, "deeper than 32"));
	msg_release(&m);
	free(ok);
	free(deep);
	free(inner);
	free(quoted);
	free(hostile);
}

static void test_proto__sizes_are_capped(void)
{
	size_t n = PROTO_MAX_HEADER_SIZE + 1;
	char *big = malloc(n + 1);
	CHECK(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	big[n] = '\0';
	struct raw r = raw3(PROTO_WORKER, "HEARTBEAT", big);
	EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_SIZE, "header is 4194305 bytes (limit 4194304)");
	big[n - 2] = '}'; /* one byte less: at the limit, accepted */
	r.f[2].size = n - 1;
	EXPECT_FAULT(r, PROTO_W2D, MSG_OK, "");
	/* decode looks only at a blob's size, so a huge one can be faked */
	r = raw3(PROTO_WORKER, "RESULT", "{\"job\":1,\"epoch\":1}");
	r.n = 4;
	r.f[3] = (struct msg_frame){ big, (size_t)PROTO_MAX_FRAME_SIZE + 1 };
	EXPECT_FAULT(r, PROTO_W2D, MSG_FAULT_SIZE, "blob 0 is 268435457 bytes");
	free(big);
}

static void test_proto__header_fields_are_typed(void)
{
	static const struct { const char *cmd, *header, *needle; enum proto_dir dir; } cases[] = {
		{ "RESULT", "{\"job\":1}", "field 'epoch' is missing", PROTO_W2D },
		{ "RESULT", "{\"job\":1,\"epoch\":-1}", "field 'epoch' must be an unsigned integer", PROTO_W2D },
		{ "RESULT", "{\"job\":1,\"epoch\":\"2\"}", "'epoch' must be an unsigned", PROTO_W2D },
		{ "RESULT", "{\"job\":1,\"epoch\":1.5}", "'epoch' must be an unsigned", PROTO_W2D },
		{ "RESULT", "{\"job\":1,\"epoch\":1,\"result\":[]}", "'result' must be an object", PROTO_W2D },
		{ "RESULT", "{\"job\":99999999999999999999,\"epoch\":1}", "not JSON", PROTO_W2D },
		{ "FAIL", "{\"job\":1,\"epoch\":1,\"error\":\"x\",\"retryable\":1}", "a boolean", PROTO_W2D },
		{ "READY", "{\"name\":\"w\",\"kinds\":[\"a\",2]}", "an array of strings", PROTO_W2D },
		{ "READY", "{\"kinds\":[]}", "'name' is missing", PROTO_W2D },
		{ "HEARTBEAT", "{\"jobs\":[1,-2]}", "array of unsigned integers", PROTO_W2D },
		{ "FETCH", "{\"sha256\":\"" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"
			"\",\"offset\":0}", "64 lowercase hex digits", PROTO_W2D },
		{ "FETCH", "{\"sha256\":\"../../etc/passwd\",\"offset\":0}", "hex digits", PROTO_W2D },
		{ "JOB", "{\"job\":1,\"epoch\":1,\"kind\":\"p\"}", "'params' is missing", PROTO_D2W },
		{ "DISCONNECT", "{\"reason\":7}", "'reason' must be a string", PROTO_D2W },
		{ "REPLY", "{\"ok\":\"yes\"}", "'ok' must be a boolean", PROTO_D2C },
		{ "REQUEST", "{}", "'op' is missing", PROTO_C2D },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const char *version = proto_dir_version(cases[i].dir);
		struct raw r = raw3(version, cases[i].cmd, cases[i].header);
		struct err e;
		enum msg_fault f = decode_fault(&r, cases[i].dir, &e);
		CHECK_MSG(f == MSG_FAULT_FIELD || f == MSG_FAULT_JSON, "case %zu: %s", i,
			msg_fault_name(f));
		CHECK_MSG(strstr(e.msg, cases[i].needle), "case %zu: '%s' lacks '%s'", i, e.msg,
			cases[i].needle);
	}
	/* unknown fields are allowed: a version can grow */
	struct raw r = raw3(PROTO_WORKER, "HEARTBEAT", "{\"future\":[1,{\"x\":null}]}");
	EXPECT_FAULT(r, PROTO_W2D, MSG_OK, "");
}

static void test_proto__encode_refuses_what_decode_would(void)
{
	struct msg m;
	struct msg_wire w;
	struct err e;
	msg_init(&m, PROTO_RESULT);
	m.header = json_pack("{sI}", "job", (json_int_t)1);
	CHECK(msg_encode(&w, &m, &e) == -1 && strstr(e.msg, "field 'epoch' is missing"));
	msg_release(&m);

	msg_init(&m, PROTO_HEARTBEAT);
	CHECK(msg_add_blob(&m, "x", 1, &e) == 0);
	CHECK(msg_encode(&w, &m, &e) == -1 && strstr(e.msg, "1 blobs (allowed 0 to 0)"));
	msg_release(&m);

	msg_init(&m, PROTO_HEARTBEAT);
	m.header = json_array();
	CHECK(msg_encode(&w, &m, &e) == -1 && strstr(e.msg, "not an object"));
	msg_release(&m);

	msg_init(&m, PROTO_NONE);
	CHECK(msg_encode(&w, &m, &e) == -1 && strstr(e.msg, "unknown command"));

	msg_init(&m, PROTO_RESULT);
	m.header = json_pack("{sIsI}", "job", (json_int_t)1, "epoch", (json_int_t)1);
	for (int i = 0; i < PROTO_MAX_BLOBS; i++)
		CHECK(msg_add_blob(&m, "x", 1, &e) == 0);
	CHECK(msg_add_blob(&m, "x", 1, &e) == -1 && strstr(e.msg, "more than 29 blobs"));
	CHECK(msg_encode(&w, &m, &e) == 0 && w.nframes == PROTO_MAX_FRAMES);
	msg_wire_release(&w);
	msg_release(&m);
}

static int blob_frees;

static void count_free(void *data, void *hint)
{
	CHECK(hint == &blob_frees);
	blob_frees++;
	free(data);
}

static void test_proto__owned_blobs_are_freed_once(void)
{
	struct msg m;
	struct err e;
	msg_init(&m, PROTO_RESULT);
	m.blob_free = count_free;
	m.blob_hint = &blob_frees;
	for (int i = 0; i < 3; i++)
		CHECK(msg_add_blob(&m, malloc(10), 10, &e) == 0);
	msg_release(&m);
	CHECK(blob_frees == 3);
	msg_release(&m); /* released twice: nothing left to free */
	CHECK(blob_frees == 3);
}

/* xorshift64*: the fuzz loop's only randomness, seeded so a failure replays. */
static uint64_t fuzz_state = 0x9e3779b97f4a7c15ull;

static uint32_t fuzz_next(void)
{
	fuzz_state ^= fuzz_state >> 12;
	fuzz_state ^= fuzz_state << 25;
	fuzz_state ^= fuzz_state >> 27;
	return (uint32_t)((fuzz_state * 0x2545f4914f6cdd1dull) >> 32);
}

static void test_proto__fuzzed_frames_never_crash(void)
{
	enum { ROUNDS = 30000, BUF = 512 };
	static const char *const tokens[] = { "{", "}", "[", "]", "\"", "\\", ":", ",", "0",
		"-1", "1e999", "null", "\"job\"", "\"epoch\"", "\xc3", "\xff", "\\u0000", "\\ud800",
		"R1FW1", "R1FC1", "HEARTBEAT", "RESULT", "JOB", "READY" };
	/* seeds: every command, properly encoded */
	struct msg_wire seeds[PROTO_CMD_COUNT];
	struct msg seed_msgs[PROTO_CMD_COUNT];
	struct err e;
	for (int c = 1; c < PROTO_CMD_COUNT; c++) {
		msg_init(&seed_msgs[c], (enum proto_cmd)c);
		seed_msgs[c].header = sample_header((enum proto_cmd)c);
		if (proto_cmd_info((enum proto_cmd)c)->max_blobs > 0)
			CHECK(msg_add_blob(&seed_msgs[c], "blob", 4, &e) == 0);
		CHECK(msg_encode(&seeds[c], &seed_msgs[c], &e) == 0);
	}
	static char bufs[PROTO_MAX_FRAMES + 4][BUF];
	int decoded = 0, faults[MSG_FAULT_COUNT] = { 0 };
	for (int round = 0; round < ROUNDS; round++) {
		const struct msg_wire *s = &seeds[1 + fuzz_next() % (PROTO_CMD_COUNT - 1)];
		struct msg_frame f[PROTO_MAX_FRAMES + 4];
		size_t n = s->nframes;
		for (size_t i = 0; i < n; i++) {
			size_t len = s->frames[i].size < BUF ? s->frames[i].size : BUF;
			memcpy(bufs[i], s->frames[i].data, len);
			f[i] = (struct msg_frame){ bufs[i], len };
		}
		int mutations = 1 + (int)(fuzz_next() % 4);
		for (int k = 0; k < mutations; k++) {
			size_t i = n ? fuzz_next() % n : 0;
			switch (fuzz_next() % 9) {
			case 0: /* flip a byte */
				if (n && f[i].size)
					bufs[i][fuzz_next() % f[i].size] ^= (char)(1u << (fuzz_next() % 8));
				break;
			case 1: /* truncate a frame */
				if (n)
					f[i].size = f[i].size ? fuzz_next() % f[i].size : 0;
				break;
			case 2: /* drop the last frames */
				n = n ? fuzz_next() % (n + 1) : 0;
				break;
			case 3: /* append a frame */
				if (n < PROTO_MAX_FRAMES + 3) {
					f[n] = (struct msg_frame){ bufs[n], fuzz_next() % 16 };
					memset(bufs[n], (int)fuzz_next(), f[n].size);
					n++;
				}
				break;
			case 4: /* random bytes over a frame */
				if (n) {
					f[i].size = fuzz_next() % 64;
					for (size_t b = 0; b < f[i].size; b++)
						bufs[i][b] = (char)fuzz_next();
				}
				break;
			case 5: /* splice a JSON-ish token into a frame */
				if (n) {
					const char *t = tokens[fuzz_next() % (sizeof tokens / sizeof *tokens)];
					size_t tl = strlen(t), at = f[i].size ? fuzz_next() % f[i].size : 0;
					if (at + tl < BUF) {
						memcpy(bufs[i] + at, t, tl);
						if (at + tl > f[i].size)
							f[i].size = at + tl;
					}
				}
				break;
			case 6: /* swap two frames */
				if (n > 1) {
					size_t j = fuzz_next() % n;
					struct msg_frame t = f[i];
					f[i] = f[j];
					f[j] = t;
				}
				break;
			case 7: /* an empty frame */
				if (n)
					f[i].size = 0;
				break;
			case 8: /* deep nesting in the header */
				if (n > 2) {
					size_t depth = 1 + fuzz_next() % 64;
					memset(bufs[2], fuzz_next() % 2 ? '[' : '{', depth);
					f[2].size = depth + fuzz_next() % 8;
				}
				break;
			}
		}
		for (int d = 0; d < PROTO_DIR_COUNT; d++) {
			struct msg m;
			struct err de;
			if (msg_decode(&m, f, n, (enum proto_dir)d, &de) == 0) {
				/* whatever decodes must re-encode to something that decodes the same */
				struct msg_wire w;
				struct msg again;
				CHECK_MSG(msg_encode(&w, &m, &de) == 0, "round %d: %s", round, de.msg);
				CHECK(msg_decode(&again, w.frames, w.nframes, (enum proto_dir)d, &de) == 0);
				CHECK(again.cmd == m.cmd && json_equal(again.header, m.header));
				msg_release(&again);
				msg_wire_release(&w);
				msg_release(&m);
				decoded++;
			} else {
				CHECK(m.fault > MSG_OK && m.fault < MSG_FAULT_COUNT && m.header == NULL);
				CHECK(de.msg[0] != '\0' && strchr(de.msg, '\n') == NULL);
				faults[m.fault]++;
			}
		}
	}
	for (int c = 1; c < PROTO_CMD_COUNT; c++) {
		msg_wire_release(&seeds[c]);
		msg_release(&seed_msgs[c]);
	}
	printf("fuzz: %d rounds x %d directions: %d decoded", ROUNDS, PROTO_DIR_COUNT, decoded);
	for (int k = 1; k < MSG_FAULT_COUNT; k++)
		printf(", %s %d", msg_fault_name((enum msg_fault)k), faults[k]);
	printf("\n");
	CHECK(decoded > 0);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_proto__name_table_round_trips),
		TEST(test_proto__every_command_round_trips),
		TEST(test_proto__typed_reads),
		TEST(test_proto__empty_header_is_an_empty_object),
		TEST(test_proto__wrong_version_is_distinguishable),
		TEST(test_proto__unknown_or_misdirected_command),
		TEST(test_proto__frame_counts_are_checked),
		TEST(test_proto__header_must_be_a_json_object),
		TEST(test_proto__depth_is_capped),
		TEST(test_proto__sizes_are_capped),
		TEST(test_proto__header_fields_are_typed),
		TEST(test_proto__encode_refuses_what_decode_would),
		TEST(test_proto__owned_blobs_are_freed_once),
		TEST(test_proto__fuzzed_frames_never_crash),
		{ 0 } });
}
