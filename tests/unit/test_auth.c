/*
 * The CURVE allowlist parser (auth_allowlist_parse): what a file of
 * `ROLE NAME KEY` lines becomes, and which lines it refuses with which message.
 * Texts go in through fmemopen, so no daemon, socket nor file is involved; the
 * handshake and SIGHUP paths are integration/test_curve.sh.
 */
#include "auth.h"
#include "test.h"

/* Three valid Z85 public keys; KEY3 holds a '#', which is no comment inside a key. */
#define KEY1 "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
#define KEY2 "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
#define KEY3 "0#:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
#define FILE_NAME "keys/allowlist"

/* Parse `text` as the file FILE_NAME; the return code of auth_allowlist_parse. */
static int parse(const char *text, struct auth_allowlist *l, struct err *e)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	CHECK(f);
	int rc = auth_allowlist_parse(f, FILE_NAME, l, e);
	fclose(f);
	return rc;
}

static void parse_ok(const char *text, struct auth_allowlist *l)
{
	struct err e = { 0 };
	int rc = parse(text, l, &e);
	CHECK_MSG(rc == 0, "%s", e.msg);
}

/* `text` must be refused with exactly `code` and `msg`, leaving the list untouched. */
static void parse_fails(const char *text, enum err_code code, const char *msg)
{
	struct auth_allowlist l = { NULL, 7 };
	struct err e = { 0 };
	CHECK(parse(text, &l, &e) == -1);
	CHECK_MSG(e.code == code, "code %s, expected %s (%s)", err_code_name(e.code),
		err_code_name(code), e.msg);
	CHECK_MSG(strcmp(e.msg, msg) == 0, "got      '%s'\nexpected '%s'", e.msg, msg);
	CHECK(l.v == NULL && l.n == 7);
}

/* The entry for (key, role), or NULL. */
static const struct auth_entry *entry(const struct auth_allowlist *l, const char *key,
	enum auth_role role)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].key.z85, key) == 0 && l->v[i].role == role)
			return &l->v[i];
	return NULL;
}

static void test_auth__keys_are_valid(void)
{
	/* the fixtures themselves: a typo here would make every test below moot */
	CHECK(curve_key_valid(KEY1));
	CHECK(curve_key_valid(KEY2));
	CHECK(curve_key_valid(KEY3));
}

static void test_auth__both_roles(void)
{
	struct auth_allowlist l;
	parse_ok("worker gpu-node-1 " KEY1 "\n"
		"control ops@host.example_2 " KEY2 "\n"
		"worker\tw3 \t" KEY3 "\n", &l);
	CHECK(l.n == 3);
	const struct auth_entry *a = entry(&l, KEY1, AUTH_WORKER);
	const struct auth_entry *b = entry(&l, KEY2, AUTH_CONTROL);
	const struct auth_entry *c = entry(&l, KEY3, AUTH_WORKER);
	CHECK(a && strcmp(a->name, "gpu-node-1") == 0);
	CHECK(b && strcmp(b->name, "ops@host.example_2") == 0);
	CHECK(c && strcmp(c->name, "w3") == 0);
	CHECK(!entry(&l, KEY1, AUTH_CONTROL) && !entry(&l, KEY2, AUTH_WORKER));
	/* sorted by (key, role): lookups are binary searches on this order */
	for (size_t i = 1; i < l.n; i++)
		CHECK(strcmp(l.v[i - 1].key.z85, l.v[i].key.z85) < 0);
	auth_allowlist_release(&l);
	CHECK(l.v == NULL && l.n == 0);
}

static void test_auth__same_key_and_name_in_both_roles(void)
{
	/* uniqueness is per role: one client may be a worker and a control client */
	struct auth_allowlist l;
	parse_ok("control node " KEY1 "\nworker node " KEY1 "\n", &l);
	CHECK(l.n == 2);
	CHECK(l.v[0].role == AUTH_WORKER && l.v[1].role == AUTH_CONTROL);
	CHECK(strcmp(l.v[0].name, "node") == 0 && strcmp(l.v[1].name, "node") == 0);
	auth_allowlist_release(&l);
}

static void test_auth__comments_and_blank_lines(void)
{
	struct auth_allowlist l;
	parse_ok("", &l);
	CHECK(l.n == 0);
	auth_allowlist_release(&l);

	parse_ok("# r1flowd allowlist\n"
		"\n"
		"   \t \n"
		"\t# indented comment: worker x " KEY2 "\n"
		"#worker y " KEY2 "\n"
		"worker a " KEY1 "   # trailing words starting with '#'\n"
		"worker b " KEY3 " #\n"
		"\n", &l);
	CHECK(l.n == 2);
	CHECK(entry(&l, KEY1, AUTH_WORKER) && entry(&l, KEY3, AUTH_WORKER));
	CHECK(!entry(&l, KEY2, AUTH_WORKER));
	auth_allowlist_release(&l);

	/* the last line needs no newline */
	parse_ok("# x\ncontrol c " KEY2, &l);
	CHECK(l.n == 1 && entry(&l, KEY2, AUTH_CONTROL));
	auth_allowlist_release(&l);
}

static void test_auth__crlf(void)
{
	struct auth_allowlist l;
	parse_ok("# made on windows\r\n\r\nworker a " KEY1 "\r\ncontrol b " KEY2 "\r\n", &l);
	CHECK(l.n == 2);
	const struct auth_entry *a = entry(&l, KEY1, AUTH_WORKER);
	const struct auth_entry *b = entry(&l, KEY2, AUTH_CONTROL);
	/* no '\r' left on the key (entry compared it whole) nor on a name */
	CHECK(a && strcmp(a->name, "a") == 0);
	CHECK(b && strcmp(b->name, "b") == 0);
	auth_allowlist_release(&l);
	/* line numbers count CRLF lines too */
	parse_fails("worker a " KEY1 "\r\nworker b nokey\r\n", ERR_FORMAT,
		"allowlist '" FILE_NAME "' line 2: 'nokey' is not a 40-character Z85 public key "
		"(a PREFIX.pub of 'r1flow keygen')");
}

static void test_auth__malformed_key(void)
{
	/* 39 characters */
	parse_fails("worker a " KEY1 "\nworker b " "ne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID" "\n",
		ERR_FORMAT, "allowlist '" FILE_NAME "' line 2: 'ne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID' "
		"is not a 40-character Z85 public key (a PREFIX.pub of 'r1flow keygen')");
	/* 41 characters */
	parse_fails("worker b " KEY1 "x\n", ERR_FORMAT,
		"allowlist '" FILE_NAME "' line 1: '" KEY1 "x' is not a 40-character Z85 public "
		"key (a PREFIX.pub of 'r1flow keygen')");
	/* 40 characters, one (',') outside the Z85 alphabet */
	parse_fails("\n\ncontrol c Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hI,\n", ERR_FORMAT,
		"allowlist '" FILE_NAME "' line 3: 'Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hI,' is "
		"not a 40-character Z85 public key (a PREFIX.pub of 'r1flow keygen')");
}

static void test_auth__word_count(void)
{
	parse_fails("worker a\n", ERR_FORMAT,
		"allowlist '" FILE_NAME "' line 1: expected 'ROLE NAME KEY', got 2 words");
	parse_fails("# c\nworker\n", ERR_FORMAT,
		"allowlist '" FILE_NAME "' line 2: expected 'ROLE NAME KEY', got 1 word");
	/* a fourth word is a comment only if it starts with '#' */
	parse_fails("worker a " KEY1 " extra # c\n", ERR_FORMAT,
		"allowlist '" FILE_NAME "' line 1: expected 'ROLE NAME KEY', got more words");
}

static void test_auth__unknown_role(void)
{
	parse_fails("worker a " KEY1 "\nadmin b " KEY2 "\n", ERR_FORMAT,
		"allowlist '" FILE_NAME "' line 2: role 'admin' is neither worker nor control");
	/* roles are lower case */
	parse_fails("Worker a " KEY1 "\n", ERR_FORMAT,
		"allowlist '" FILE_NAME "' line 1: role 'Worker' is neither worker nor control");
}

static void test_auth__names(void)
{
	char name64[AUTH_NAME_MAX + 1], text[256], msg[512];
	memset(name64, 'n', AUTH_NAME_MAX);
	name64[AUTH_NAME_MAX] = '\0';
	struct auth_allowlist l;
	snprintf(text, sizeof text, "worker %s %s\n", name64, KEY1);
	parse_ok(text, &l);
	CHECK(l.n == 1 && strcmp(l.v[0].name, name64) == 0);
	auth_allowlist_release(&l);

	/* one byte more than AUTH_NAME_MAX */
	snprintf(text, sizeof text, "# x\nworker %sn %s\n", name64, KEY1);
	snprintf(msg, sizeof msg, "allowlist '" FILE_NAME "' line 2: name '%sn' is not 1 to 64 of "
		"[A-Za-z0-9._@-]", name64);
	parse_fails(text, ERR_FORMAT, msg);
	/* a byte outside the set */
	parse_fails("control a/b " KEY1 "\n", ERR_FORMAT,
		"allowlist '" FILE_NAME "' line 1: name 'a/b' is not 1 to 64 of [A-Za-z0-9._@-]");
}

static void test_auth__duplicate_key(void)
{
	/* the two entries compare equal, so either may be named first */
	struct auth_allowlist l = { NULL, 7 };
	struct err e = { 0 };
	CHECK(parse("worker a " KEY1 "\nworker b " KEY2 "\nworker c " KEY1 "\n", &l, &e) == -1);
	CHECK(e.code == ERR_FORMAT);
	CHECK_MSG(strcmp(e.msg, "allowlist '" FILE_NAME "': worker key of 'c' is listed twice "
		"(also as 'a')") == 0 || strcmp(e.msg, "allowlist '" FILE_NAME "': worker key of "
		"'a' is listed twice (also as 'c')") == 0, "%s", e.msg);
	CHECK(l.v == NULL && l.n == 7);
}

static void test_auth__duplicate_name(void)
{
	parse_fails("control ops " KEY1 "\nworker ops " KEY2 "\ncontrol ops " KEY3 "\n",
		ERR_FORMAT, "allowlist '" FILE_NAME "': two control keys are named 'ops'");
}

static void test_auth__line_too_long(void)
{
	/* AUTH_LINE_MAX (1024) bytes before the newline still parse: pad with a comment */
	char text[3000];
	struct auth_allowlist l;
	int n = snprintf(text, sizeof text, "worker a %s #", KEY1);
	memset(text + n, 'x', 1024 - (size_t)n);
	strcpy(text + 1024, "\n");
	parse_ok(text, &l);
	CHECK(l.n == 1);
	auth_allowlist_release(&l);

	/* one more byte on line 2 is refused */
	n = snprintf(text, sizeof text, "# x\nworker a %s #", KEY1);
	memset(text + n, 'x', 4 + 1025 - (size_t)n);
	strcpy(text + 4 + 1025, "\n");
	parse_fails(text, ERR_FORMAT, "allowlist '" FILE_NAME "' line 2: longer than 1024 bytes");
}

/* `n` copies of one line. */
static char *repeat(const char *line, size_t n)
{
	size_t len = strlen(line);
	char *s = malloc(len * n + 1);
	CHECK(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * len, line, len);
	s[len * n] = '\0';
	return s;
}

static void test_auth__max_keys(void)
{
	/* AUTH_MAX_KEYS lines are read (then refused as duplicates); one more is too many */
	char *text = repeat("worker a " KEY1 "\n", AUTH_MAX_KEYS);
	struct auth_allowlist l = { NULL, 7 };
	struct err e = { 0 };
	CHECK(parse(text, &l, &e) == -1);
	CHECK_MSG(strstr(e.msg, "is listed twice"), "%s", e.msg);
	free(text);

	text = repeat("worker a " KEY1 "\n", AUTH_MAX_KEYS + 1);
	parse_fails(text, ERR_INVALID, "allowlist '" FILE_NAME "': more than 100000 keys");
	free(text);
}

int main(int argc, char **argv)
{
	return test_main(argc, argv, (struct test_case[]){
		TEST(test_auth__keys_are_valid),
		TEST(test_auth__both_roles),
		TEST(test_auth__same_key_and_name_in_both_roles),
		TEST(test_auth__comments_and_blank_lines),
		TEST(test_auth__crlf),
		TEST(test_auth__malformed_key),
		TEST(test_auth__word_count),
		TEST(test_auth__unknown_role),
		TEST(test_auth__names),
		TEST(test_auth__duplicate_key),
		TEST(test_auth__duplicate_name),
		TEST(test_auth__line_too_long),
		TEST(test_auth__max_keys),
		{0} });
}
