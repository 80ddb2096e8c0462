#include "auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "clock.h"
#include "curve.h"
#include "daemon.h"

#define ZAP_ENDPOINT     "inproc://zeromq.zap.01"   /* RFC 27: fixed by libzmq */
#define ZAP_MAX_FRAMES   8
#define SELFTEST_MONITOR "inproc://r1flowd.monitor.selftest"
#define AUTH_LINE_MAX    1024                       /* bytes of an allowlist line */

/* The ZAP domain of each role's endpoint is the role's name. */
static const char *const role_names[AUTH_ROLES] = { "worker", "control" };
static const char *const monitor_endpoints[AUTH_ROLES] = {
	"inproc://r1flowd.monitor.worker", "inproc://r1flowd.monitor.control" };
static const char *const listen_options[AUTH_ROLES] = { "--listen", "--listen-control" };

struct auth {
	pthread_mutex_t lock;           /* guards list and selftest against the thread */
	struct auth_allowlist list;     /* replaced only by the loop thread, under lock */
	const char *path;               /* the allowlist file (cfg.allowlist) */
	struct curve_key secret;        /* the server's; wiped once auth_listen has bound */
	struct curve_key pub;           /* the server's public key */
	void *zap;                      /* REP on ZAP_ENDPOINT; the thread's once it runs */
	void *monitor[AUTH_ROLES];      /* PAIRs: handshake failures on the tcp endpoints */
	pthread_t thread;
	int running;                    /* the handler thread was started */
	int selftest;                   /* the self-test runs: its refusal is expected */
	int64_t denied_logged;          /* d->now of the last per-message refusal logged */
};

static const char *endpoint_of(const struct daemon *d, enum auth_role role)
{
	return role == AUTH_WORKER ? d->cfg.listen : d->cfg.listen_control;
}

/* ---- the allowlist ---- */

static int entry_cmp(const void *x, const void *y)
{
	const struct auth_entry *a = x, *b = y;
	int c = memcmp(a->key.z85, b->key.z85, CURVE_KEY_LEN);
	return c ? c : (int)a->role - (int)b->role;
}

static int name_cmp(const void *x, const void *y)
{
	const struct auth_entry *a = *(const struct auth_entry *const *)x;
	const struct auth_entry *b = *(const struct auth_entry *const *)y;
	int c = (int)a->role - (int)b->role;
	return c ? c : strcmp(a->name, b->name);
}

/* The entry for `key` in `role`, or with role -1 the first entry for `key`. */
static const struct auth_entry *allowlist_find(const struct auth_allowlist *l, const char *key,
	int role)
{
	size_t lo = 0, hi = l->n;
	if (strlen(key) != CURVE_KEY_LEN)
		return NULL;
	while (lo < hi) { /* first entry whose key is >= key */
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(l->v[mid].key.z85, key, CURVE_KEY_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < l->n && memcmp(l->v[lo].key.z85, key, CURVE_KEY_LEN) == 0; lo++)
		if (role < 0 || (int)l->v[lo].role == role)
			return &l->v[lo];
	return NULL;
}

void auth_allowlist_release(struct auth_allowlist *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static size_t allowlist_count(const struct auth_allowlist *l, enum auth_role role)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += l->v[i].role == role;
	return n;
}

static int name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > AUTH_NAME_MAX)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			(*s >= '0' && *s <= '9') || strchr("._@-", *s)))
			return 0;
	return 1;
}

/* One line into `e`: 0 entry, 1 blank or comment, -1 err. Z85 keys may hold '#', so
 * a comment is a line whose first word starts with '#', or words after the key
 * starting with '#'. */
static int parse_line(char *line, struct auth_entry *e, struct err *err)
{
	char *save = NULL, *tok[3];
	int n = 0;
	for (char *t = strtok_r(line, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
		if ((n == 0 || n == 3) && *t == '#')
			break;
		if (n == 3) {
			n++;
			break;
		}
		tok[n++] = t;
	}
	if (n == 0)
		return 1;
	if (n != 3)
		return err_set(err, ERR_FORMAT, "expected 'ROLE NAME KEY', got %s",
			n > 3 ? "more words" : n == 1 ? "1 word" : "2 words");
	if (strcmp(tok[0], "worker") == 0)
		e->role = AUTH_WORKER;
	else if (strcmp(tok[0], "control") == 0)
		e->role = AUTH_CONTROL;
	else
		return err_set(err, ERR_FORMAT, "role '%.32s' is neither worker nor control", tok[0]);
	if (!name_valid(tok[1]))
		return err_set(err, ERR_FORMAT, "name '%.80s' is not 1 to %d of [A-Za-z0-9._@-]",
			tok[1], AUTH_NAME_MAX);
	if (!curve_key_valid(tok[2]))
		return err_set(err, ERR_FORMAT, "'%.48s' is not a %d-character Z85 public key (a "
			"PREFIX.pub of 'r1flow keygen')", tok[2], CURVE_KEY_LEN);
	snprintf(e->name, sizeof e->name, "%s", tok[1]);
	memcpy(e->key.z85, tok[2], CURVE_KEY_LEN + 1);
	return 0;
}

int auth_allowlist_parse(FILE *f, const char *path, struct auth_allowlist *out,
	struct err *err)
{
	struct auth_allowlist l = { NULL, 0 };
	size_t cap = 0, lineno = 0;
	char line[AUTH_LINE_MAX + 2];
	const struct auth_entry **byname = NULL;
	int rc = -1;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		size_t len = strlen(line);
		if (len > AUTH_LINE_MAX && line[len - 1] != '\n') {
			err_set(err, ERR_FORMAT, "allowlist '%s' line %zu: longer than %d bytes", path,
				lineno, AUTH_LINE_MAX);
			goto out;
		}
		struct auth_entry e;
		memset(&e, 0, sizeof e);
		struct err le = { 0 };
		int r = parse_line(line, &e, &le);
		if (r < 0) {
			err_set(err, ERR_FORMAT, "allowlist '%s' line %zu: %s", path, lineno, le.msg);
			goto out;
		}
		if (r > 0)
			continue;
		if (l.n == AUTH_MAX_KEYS) {
			err_set(err, ERR_INVALID, "allowlist '%s': more than %d keys", path, AUTH_MAX_KEYS);
			goto out;
		}
		if (l.n == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct auth_entry *v = realloc(l.v, ncap * sizeof *v);
			if (!v) {
				err_set(err, ERR_NOMEM, "cannot read allowlist '%s': out of memory", path);
				goto out;
			}
			l.v = v;
			cap = ncap;
		}
		l.v[l.n++] = e;
	}
	if (ferror(f)) {
		err_set(err, ERR_IO, "cannot read allowlist '%s': %s", path, strerror(errno));
		goto out;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof *l.v, entry_cmp);
	for (size_t i = 1; i < l.n; i++)
		if (entry_cmp(&l.v[i - 1], &l.v[i]) == 0) {
			err_set(err, ERR_FORMAT, "allowlist '%s': %s key of '%s' is listed twice (also as "
				"'%s')", path, role_names[l.v[i].role], l.v[i].name, l.v[i - 1].name);
			goto out;
		}
	if (l.n && !(byname = malloc(l.n * sizeof *byname))) {
		err_set(err, ERR_NOMEM, "cannot read allowlist '%s': out of memory", path);
		goto out;
	}
	for (size_t i = 0; i < l.n; i++)
		byname[i] = &l.v[i];
	if (l.n)
		qsort(byname, l.n, sizeof *byname, name_cmp);
	for (size_t i = 1; i < l.n; i++)
		if (name_cmp(&byname[i - 1], &byname[i]) == 0) {
			err_set(err, ERR_FORMAT, "allowlist '%s': two %s keys are named '%s'", path,
				role_names[byname[i]->role], byname[i]->name);
			goto out;
		}
	*out = l;
	l.v = NULL;
	rc = 0;
out:
	free(byname);
	free(l.v);
	return rc;
}

static int allowlist_read(const char *path, struct auth_allowlist *out, struct err *err)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return err_set(err, ERR_IO, "cannot open allowlist '%s': %s", path, strerror(errno));
	int rc = auth_allowlist_parse(f, path, out, err);
	fclose(f);
	return rc;
}

static const char allowlist_help[] =
	"# r1flowd allowlist: the clients let in on the daemon's tcp endpoints (CURVE).\n"
	"# One client per line:  ROLE NAME KEY\n"
	"#   ROLE  worker (--listen endpoint) or control (--listen-control endpoint);\n"
	"#         a key is let in only under its own role\n"
	"#   NAME  a label for the logs: 1-64 of A-Z a-z 0-9 . _ @ -, unique per role\n"
	"#   KEY   the client's public key: the PREFIX.pub 'r1flow keygen --out PREFIX' wrote\n"
	"# e.g.   worker gpu-node-1 <40 characters of Z85>\n"
	"# After an edit: kill -HUP <r1flowd's pid>. A removed key is cut off at its next\n"
	"# message, and its reconnects are refused.\n";

/* Create an allowlist holding only the help, if there is none. */
static int allowlist_ensure(const char *path, struct err *err)
{
	FILE *f;
	if (access(path, F_OK) == 0)
		return 0;
	mode_t old = umask(077);
	f = fopen(path, "wx");
	umask(old);
	if (!f) {
		if (errno == EEXIST)
			return 0;
		return err_set(err, ERR_IO, "cannot create allowlist '%s': %s", path, strerror(errno));
	}
	int bad = fputs(allowlist_help, f) < 0;
	if (fclose(f) != 0 || bad)
		return err_set(err, ERR_IO, "cannot write allowlist '%s': %s", path, strerror(errno));
	log_info("made an empty allowlist '%s': no client gets in until its key is added "
		"(then SIGHUP)", path);
	return 0;
}

/* ---- the server's keypair ---- */

static int keys_load(struct daemon *d, struct err *err)
{
	struct auth *a = d->auth;
	const char *dir = d->cfg.keys;
	char prefix[DATADIR_PATH_MAX], key_path[DATADIR_PATH_MAX + 8],
		pub_path[DATADIR_PATH_MAX + 8];
	if (snprintf(prefix, sizeof prefix, "%s/server", dir) >= (int)sizeof prefix)
		return err_set(err, ERR_INVALID, "keys directory path too long: '%.64s...'", dir);
	snprintf(key_path, sizeof key_path, "%s.key", prefix);
	snprintf(pub_path, sizeof pub_path, "%s.pub", prefix);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return err_set(err, ERR_IO, "cannot create keys directory '%s': %s", dir,
			strerror(errno));
	int has_key = access(key_path, F_OK) == 0, has_pub = access(pub_path, F_OK) == 0;
	if (!has_key && has_pub)
		return err_set(err, ERR_NOTFOUND, "found '%s' but not its secret key '%s': restore "
			"it, or remove both for a new keypair (every client then needs the new "
			"server.pub)", pub_path, key_path);
	if (!has_key) {
		if (curve_keypair_save(prefix, 0, &a->pub, err) < 0)
			return err_wrap(err, "cannot make the server keypair");
		log_info("made the server keypair '%s' (secret, mode 0600) and '%s': give the "
			".pub to every client (--server-key)", key_path, pub_path);
	}
	if (curve_key_load(key_path, 1, &a->secret, err) < 0 ||
		curve_public_of(&a->secret, &a->pub, err) < 0)
		return -1;
	struct curve_key on_disk;
	if (curve_key_load(pub_path, 0, &on_disk, err) < 0)
		return err_wrap(err, "the server's public key");
	if (strcmp(on_disk.z85, a->pub.z85) != 0)
		return err_set(err, ERR_INVALID, "'%s' is not the public key of '%s' (its public key "
			"is %s)", pub_path, key_path, a->pub.z85);
	return 0;
}

/* ---- the ZAP handler thread ---- */

/* A frame as a bounded C string (for logs and comparisons). */
static void frame_text(const zmq_msg_t *m, char *out, size_t size)
{
	size_t n = zmq_msg_size((zmq_msg_t *)m);
	if (n >= size)
		n = size - 1;
	memcpy(out, zmq_msg_data((zmq_msg_t *)m), n);
	out[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
			out[i] = '?';
}

static int send_frame(void *s, const void *data, size_t size, int more)
{
	return zmq_send(s, data, size, more ? ZMQ_SNDMORE : 0) < 0 ? -1 : 0;
}

/*
 * Answer one ZAP request (RFC 27): [version "1.0"][request id][domain][address]
 * [identity][mechanism][credentials...]. For CURVE the one credential is the
 * client's 32-byte public key. -1 only when the socket is gone (ETERM).
 */
static int zap_answer(struct auth *a)
{
	zmq_msg_t f[ZAP_MAX_FRAMES];
	size_t n = 0;
	int more = 1;
	while (more) {
		zmq_msg_t extra, *p = n < ZAP_MAX_FRAMES ? &f[n] : &extra;
		zmq_msg_init(p);
		if (zmq_msg_recv(p, a->zap, 0) < 0) {
			zmq_msg_close(p);
			for (size_t i = 0; i < n; i++)
				zmq_msg_close(&f[i]);
			return errno == ETERM ? -1 : 0;
		}
		more = zmq_msg_more(p);
		if (p == &extra)
			zmq_msg_close(p);
		else
			n++;
	}
	char version[8] = "", domain[32] = "", address[64] = "?", mechanism[16] = "";
	char user[CURVE_KEY_LEN + 1] = "";
	const char *status = "400", *text = "refused";
	if (n > 0)
		frame_text(&f[0], version, sizeof version);
	if (n >= 6) {
		frame_text(&f[2], domain, sizeof domain);
		frame_text(&f[3], address, sizeof address);
		frame_text(&f[5], mechanism, sizeof mechanism);
	}
	int role = strcmp(domain, "worker") == 0 ? AUTH_WORKER :
		strcmp(domain, "control") == 0 ? AUTH_CONTROL : -1;
	if (n < 6 || strcmp(version, "1.0") != 0) {
		status = "500";
		text = "malformed ZAP request";
		log_error("ZAP: malformed request (%zu frames, version '%s')", n, version);
	} else if (role < 0) {
		text = "unknown domain";
		log_warn("refused a client from %s: unknown ZAP domain '%s'", address, domain);
	} else if (strcmp(mechanism, "CURVE") != 0 || n != 7 || zmq_msg_size(&f[6]) != 32) {
		text = "CURVE only";
		log_warn("refused a %s client from %s on the %s endpoint: CURVE only", mechanism,
			address, domain);
	} else {
		char key[CURVE_KEY_LEN + 1], name[AUTH_NAME_MAX + 1] = "";
		int other = -1, selftest;
		zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);
		pthread_mutex_lock(&a->lock);
		const struct auth_entry *e = allowlist_find(&a->list, key, role);
		if (!e && (e = allowlist_find(&a->list, key, -1)))
			other = (int)e->role;
		if (e)
			snprintf(name, sizeof name, "%s", e->name);
		selftest = a->selftest;
		pthread_mutex_unlock(&a->lock);
		if (!e) {
			text = "key not allowed";
			if (selftest)
				log_debug("self-test: refused a random key, as it should");
			else
				log_warn("refused the CURVE handshake of key %s from %s on the %s endpoint: "
					"not in the allowlist", key, address, domain);
		} else if (other >= 0) {
			text = "key not allowed in this domain";
			log_warn("refused %s key '%s' from %s on the %s endpoint: a %s key speaks only "
				"the %s protocol", role_names[other], name, address, domain,
				role_names[other], role_names[other]);
		} else {
			status = "200";
			text = "OK";
			memcpy(user, key, sizeof user);
			log_info("let in %s key '%s' from %s", domain, name, address);
		}
	}
	int rc = 0;
	if (send_frame(a->zap, "1.0", 3, 1) < 0 ||
		send_frame(a->zap, n > 1 ? zmq_msg_data(&f[1]) : "", n > 1 ? zmq_msg_size(&f[1]) : 0,
			1) < 0 ||
		send_frame(a->zap, status, 3, 1) < 0 ||
		send_frame(a->zap, text, strlen(text), 1) < 0 ||
		send_frame(a->zap, user, strlen(user), 1) < 0 ||
		send_frame(a->zap, "", 0, 0) < 0)
		rc = errno == ETERM ? -1 : 0;
	for (size_t i = 0; i < n; i++)
		zmq_msg_close(&f[i]);
	return rc;
}

/* A socket monitor event: [uint16 event, uint32 value][endpoint]. */
static int monitor_read(void *mon, uint16_t *event, uint32_t *value, char *endpoint,
	size_t size)
{
	zmq_msg_t m;
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, mon, 0) < 0) {
		zmq_msg_close(&m);
		return -1;
	}
	int ok = zmq_msg_size(&m) == 6 && zmq_msg_more(&m);
	if (ok) {
		const uint8_t *p = zmq_msg_data(&m);
		memcpy(event, p, 2);
		memcpy(value, p + 2, 4);
	}
	int more = zmq_msg_more(&m);
	zmq_msg_close(&m);
	*endpoint = '\0';
	while (more) {
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, mon, 0) < 0) {
			zmq_msg_close(&m);
			return -1;
		}
		frame_text(&m, endpoint, size);
		more = zmq_msg_more(&m);
		zmq_msg_close(&m);
	}
	return ok ? 0 : 1;
}

static const char *protocol_error(uint32_t value)
{
	switch (value) {
	case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
		return "the client does not speak CURVE (no --key? a NULL-mechanism client)";
	case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
	case ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE:
		return "the CURVE handshake does not decrypt (the client has another server key?)";
	default:
		return "protocol error";
	}
}

/* Handshakes the ZAP handler never saw: a client without CURVE, a wrong server key. */
static void monitor_event(void *mon, enum auth_role role)
{
	uint16_t event = 0;
	uint32_t value = 0;
	char endpoint[128];
	if (monitor_read(mon, &event, &value, endpoint, sizeof endpoint) != 0)
		return;
	if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
		log_warn("refused a handshake on the %s endpoint '%s': %s (0x%08x)", role_names[role],
			endpoint, protocol_error(value), (unsigned)value);
	else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
		log_warn("refused a handshake on the %s endpoint '%s': %s", role_names[role], endpoint,
			zmq_strerror((int)value));
}

static void *zap_main(void *arg)
{
	struct auth *a = arg;
	for (;;) {
		zmq_pollitem_t items[1 + AUTH_ROLES];
		enum auth_role roles[1 + AUTH_ROLES];
		int n = 0;
		items[n++] = (zmq_pollitem_t){ a->zap, 0, ZMQ_POLLIN, 0 };
		for (int r = 0; r < AUTH_ROLES; r++)
			if (a->monitor[r]) {
				roles[n] = (enum auth_role)r;
				items[n++] = (zmq_pollitem_t){ a->monitor[r], 0, ZMQ_POLLIN, 0 };
			}
		if (zmq_poll(items, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break; /* ETERM: the daemon is stopping */
		}
		if ((items[0].revents & ZMQ_POLLIN) && zap_answer(a) < 0)
			break;
		for (int i = 1; i < n; i++)
			if (items[i].revents & ZMQ_POLLIN)
				monitor_event(items[i].socket, roles[i]);
	}
	zmq_close(a->zap);
	a->zap = NULL;
	for (int r = 0; r < AUTH_ROLES; r++)
		if (a->monitor[r]) {
			zmq_close(a->monitor[r]);
			a->monitor[r] = NULL;
		}
	return NULL;
}

static void *open_plain(void *zctx, int type)
{
	void *s = zmq_socket(zctx, type);
	int zero = 0;
	if (s)
		zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	return s;
}

static void close_handler_sockets(struct auth *a)
{
	sock_close(&a->zap);
	for (int r = 0; r < AUTH_ROLES; r++)
		sock_close(&a->monitor[r]);
}

static int handler_start(struct daemon *d, struct err *err)
{
	struct auth *a = d->auth;
	const char *skip = getenv("R1FLOW_TEST_NO_ZAP");
	if (skip && strcmp(skip, "1") == 0) {
		log_warn("R1FLOW_TEST_NO_ZAP=1: not starting the ZAP handler (for tests only)");
		return 0;
	}
	if (!(a->zap = open_plain(d->zctx, ZMQ_REP)) || zmq_bind(a->zap, ZAP_ENDPOINT) < 0) {
		err_set(err, ERR_IO, "cannot bind the ZAP handler to '%s': %s", ZAP_ENDPOINT,
			zmq_strerror(errno));
		close_handler_sockets(a);
		return -1;
	}
	/* inproc allows connecting before the bind: auth_listen starts the monitors */
	for (int r = 0; r < AUTH_ROLES; r++)
		if (*endpoint_of(d, (enum auth_role)r) &&
			(!(a->monitor[r] = open_plain(d->zctx, ZMQ_PAIR)) ||
			zmq_connect(a->monitor[r], monitor_endpoints[r]) < 0)) {
			err_set(err, ERR_IO, "cannot connect the %s socket monitor: %s", role_names[r],
				zmq_strerror(errno));
			close_handler_sockets(a);
			return -1;
		}
	if (pthread_create(&a->thread, NULL, zap_main, a) != 0) {
		close_handler_sockets(a);
		return err_set(err, ERR_IO, "cannot start the ZAP handler thread");
	}
	a->running = 1;
	return 0;
}

/* ---- the self-test ---- */

static void set_selftest(struct auth *a, int on)
{
	pthread_mutex_lock(&a->lock);
	a->selftest = on;
	pthread_mutex_unlock(&a->lock);
}

/* A client with a fresh random key must be refused by a CURVE server in the worker
 * domain. 0 if it was; -1 and err otherwise. */
static int selftest(struct daemon *d, struct err *err)
{
	struct auth *a = d->auth;
	char endpoint[DATADIR_PATH_MAX + 16];
	void *server = NULL, *client = NULL, *mon = NULL;
	struct curve_key cpub, csecret;
	int verdict = 0, rc = -1; /* 1 refused, -1 let in */
	char detail[160] = "";
	if (datadir_endpoint(&d->dir, "zaptest.sock", endpoint, sizeof endpoint, err) < 0)
		return -1;
	set_selftest(a, 1);
	if (!(server = open_plain(d->zctx, ZMQ_ROUTER)) || !(client = open_plain(d->zctx,
		ZMQ_DEALER)) || !(mon = open_plain(d->zctx, ZMQ_PAIR))) {
		err_set(err, ERR_IO, "self-test: cannot create sockets: %s", zmq_strerror(errno));
		goto out;
	}
	if (curve_server_setup(server, &a->secret, role_names[AUTH_WORKER], err) < 0)
		goto out;
	if (zmq_socket_monitor(server, SELFTEST_MONITOR, ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
		ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
		ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) < 0 ||
		zmq_connect(mon, SELFTEST_MONITOR) < 0 || zmq_bind(server, endpoint) < 0) {
		err_set(err, ERR_IO, "self-test: cannot set up a CURVE server on '%s': %s", endpoint,
			zmq_strerror(errno));
		goto out;
	}
	int ok = curve_keypair_new(&cpub, &csecret, err) == 0 &&
		curve_client_setup(client, &a->pub, &csecret, err) == 0;
	curve_key_wipe(&csecret);
	if (!ok)
		goto out;
	if (zmq_connect(client, endpoint) < 0 ||
		zmq_send(client, PROTO_WORKER, strlen(PROTO_WORKER), ZMQ_DONTWAIT) < 0) {
		err_set(err, ERR_IO, "self-test: cannot connect a client to '%s': %s", endpoint,
			zmq_strerror(errno));
		goto out;
	}
	int64_t deadline = clock_mono_ms() + AUTH_SELFTEST_MS;
	while (!verdict) {
		int64_t left = deadline - clock_mono_ms();
		if (left <= 0)
			break;
		zmq_pollitem_t items[2] = { { mon, 0, ZMQ_POLLIN, 0 }, { server, 0, ZMQ_POLLIN, 0 } };
		if (zmq_poll(items, 2, (long)left) < 0) {
			if (errno == EINTR)
				continue;
			err_set(err, ERR_IO, "self-test: cannot poll: %s", zmq_strerror(errno));
			goto out;
		}
		if (items[1].revents & ZMQ_POLLIN) {
			verdict = -1;
			snprintf(detail, sizeof detail, "its message was delivered");
		} else if (items[0].revents & ZMQ_POLLIN) {
			uint16_t event = 0;
			uint32_t value = 0;
			char ep[128];
			if (monitor_read(mon, &event, &value, ep, sizeof ep) != 0)
				continue;
			if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
				verdict = 1;
			} else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
				verdict = -1;
				snprintf(detail, sizeof detail, "its handshake succeeded");
			} else {
				snprintf(detail, sizeof detail, "the handshake failed for another reason "
					"(event 0x%04x, 0x%08x)", (unsigned)event, (unsigned)value);
				verdict = -1;
			}
		}
	}
	if (verdict == 1) {
		log_info("self-test passed: a client with a random key was refused");
		rc = 0;
	} else if (verdict < 0) {
		err_set(err, ERR_INVALID, "self-test failed: a CURVE client with a random key was not "
			"refused by the ZAP handler (%s): refusing to serve tcp endpoints", detail);
	} else {
		err_set(err, ERR_INVALID, "self-test failed: no verdict on a CURVE client with a "
			"random key within %d ms: refusing to serve tcp endpoints", AUTH_SELFTEST_MS);
	}
out:
	if (server)
		zmq_socket_monitor(server, NULL, 0);
	sock_close(&client);
	sock_close(&server);
	sock_close(&mon);
	unlink(endpoint + strlen("ipc://")); /* libzmq leaves the socket file behind */
	set_selftest(a, 0);
	return rc;
}

/* ---- the daemon's side ---- */

int auth_start(struct daemon *d, struct err *err)
{
	const struct daemon_config *c = &d->cfg;
	int any = 0;
	for (int r = 0; r < AUTH_ROLES; r++) {
		const char *ep = endpoint_of(d, (enum auth_role)r);
		if (!*ep)
			continue;
		any = 1;
		if (strncmp(ep, "tcp://", 6) != 0)
			return err_set(err, ERR_INVALID, "option '%s' takes a tcp:// endpoint, not '%s' "
				"(the ipc endpoints are in the data directory)", listen_options[r], ep);
		if (c->no_curve && !c->insecure && !curve_endpoint_loopback(ep))
			return err_set(err, ERR_INVALID, "refusing to serve '%s' without CURVE: it is not a "
				"loopback address, so anyone who reaches it could %s; drop --no-curve, or "
				"add --insecure", ep, r == AUTH_WORKER ? "take jobs and send results" :
				"control the daemon");
	}
	if (!any)
		return 0;
	if (c->no_curve) {
		log_warn("serving tcp endpoints without CURVE (--no-curve%s): no encryption, and "
			"anyone who can connect gets in", c->insecure ? " --insecure" : "");
		return 0;
	}
	if (!curve_available())
		return err_set(err, ERR_INVALID, "this libzmq was built without CURVE "
			"(zmq_has(\"curve\") is 0), which --listen needs; use --no-curve on a loopback "
			"address");
	struct auth *a = calloc(1, sizeof *a);
	if (!a)
		return err_set(err, ERR_NOMEM, "cannot start: out of memory");
	pthread_mutex_init(&a->lock, NULL);
	a->path = c->allowlist;
	d->auth = a;
	if (keys_load(d, err) < 0 || allowlist_ensure(a->path, err) < 0 ||
		allowlist_read(a->path, &a->list, err) < 0)
		return -1;
	log_info("CURVE: server public key %s; allowlist '%s': %zu worker and %zu control "
		"key(s)", a->pub.z85, a->path, allowlist_count(&a->list, AUTH_WORKER),
		allowlist_count(&a->list, AUTH_CONTROL));
	if (handler_start(d, err) < 0)
		return -1;
	return selftest(d, err);
}

int auth_listen(struct daemon *d, struct err *err)
{
	struct auth *a = d->auth;
	int rc = 0;
	for (int r = 0; r < AUTH_ROLES && rc == 0; r++) {
		const char *ep = endpoint_of(d, (enum auth_role)r);
		void *s = r == AUTH_WORKER ? d->workers : d->control;
		if (!*ep)
			continue;
		if (a && (curve_server_setup(s, &a->secret, role_names[r], err) < 0 ||
			(a->monitor[r] && zmq_socket_monitor(s, monitor_endpoints[r],
				ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
				ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) < 0))) {
			if (err->code == ERR_NONE)
				err_set(err, ERR_IO, "cannot monitor the %s socket: %s", role_names[r],
					zmq_strerror(errno));
			rc = -1;
			break;
		}
		if (sock_bind(s, ep, err) < 0) {
			rc = -1;
			break;
		}
		char bound[256] = "";
		size_t len = sizeof bound;
		if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, bound, &len) != 0)
			snprintf(bound, sizeof bound, "%s", ep);
		log_info("listening for %s clients on '%s' (%s)", role_names[r], bound,
			a ? "CURVE" : "no CURVE");
	}
	if (a)
		curve_key_wipe(&a->secret);
	return rc;
}

int auth_admit(struct daemon *d, void *sock, const struct sock_msg *in)
{
	struct auth *a = d->auth;
	if (!a || !in->nparts)
		return 1;
	/* on a ROUTER the identity frame carries no metadata: ask the first frame read */
	const char *user = zmq_msg_gets(&in->parts[in->nparts > 1 ? 1 : 0], "User-Id");
	if (!user || !*user)
		return 1; /* ipc: the directory's mode is the check */
	enum auth_role role = sock == d->workers ? AUTH_WORKER : AUTH_CONTROL;
	/* the loop thread is the only writer of the list: no lock to read it here */
	if (allowlist_find(&a->list, user, (int)role))
		return 1;
	if (d->now - a->denied_logged >= 1000) {
		log_warn("cut off %s key %s: no longer in the allowlist", role_names[role], user);
		a->denied_logged = d->now;
	}
	if (role == AUTH_WORKER) {
		broker_revoke(d, in->envelope.data, in->envelope.size, "key revoked");
	} else {
		struct msg m;
		msg_init(&m, PROTO_REPLY);
		m.header = json_pack("{sb s{ss ss}}", "ok", 0, "error", "code", "denied", "message",
			"this client's key is no longer in the daemon's allowlist");
		outbox_push(&d->out, d->control, in->envelope.data, in->envelope.size, &m);
	}
	return 0;
}

void auth_reload(struct daemon *d)
{
	struct auth *a = d->auth;
	struct auth_allowlist fresh = { NULL, 0 };
	struct err err = { 0 };
	size_t added = 0, removed = 0;
	if (!a) {
		log_info("SIGHUP: no CURVE endpoint, no allowlist to reread");
		return;
	}
	if (allowlist_read(a->path, &fresh, &err) < 0) {
		log_error("%s; keeping the previous allowlist (%zu key(s))", err.msg, a->list.n);
		return;
	}
	for (size_t i = 0; i < a->list.n; i++)
		if (!allowlist_find(&fresh, a->list.v[i].key.z85, (int)a->list.v[i].role)) {
			removed++;
			log_info("allowlist: %s key '%s' revoked", role_names[a->list.v[i].role],
				a->list.v[i].name);
		}
	for (size_t i = 0; i < fresh.n; i++)
		added += !allowlist_find(&a->list, fresh.v[i].key.z85, (int)fresh.v[i].role);
	pthread_mutex_lock(&a->lock);
	struct auth_allowlist old = a->list;
	a->list = fresh;
	pthread_mutex_unlock(&a->lock);
	auth_allowlist_release(&old);
	log_info("reread allowlist '%s': %zu worker and %zu control key(s); %zu added, %zu "
		"revoked", a->path, allowlist_count(&a->list, AUTH_WORKER),
		allowlist_count(&a->list, AUTH_CONTROL), added, removed);
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	if (a->running)
		pthread_join(a->thread, NULL);
	close_handler_sockets(a);
	curve_key_wipe(&a->secret);
	auth_allowlist_release(&a->list);
	pthread_mutex_destroy(&a->lock);
	free(a);
}
