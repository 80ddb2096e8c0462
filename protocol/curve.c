#include "curve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define CURVE_FILE_MAX 4096   /* bytes read of a key file: a key plus white space */

int curve_available(void)
{
	return zmq_has("curve") ? 1 : 0;
}

int curve_key_valid(const char *text)
{
	uint8_t raw[32];
	if (!text || strlen(text) != CURVE_KEY_LEN)
		return 0;
	int ok = zmq_z85_decode(raw, text) != NULL;
	explicit_bzero(raw, sizeof raw);
	return ok;
}

void curve_key_wipe(struct curve_key *key)
{
	if (key)
		explicit_bzero(key, sizeof *key);
}

int curve_keypair_new(struct curve_key *pub, struct curve_key *secret, struct err *err)
{
	if (zmq_curve_keypair(pub->z85, secret->z85) != 0)
		return err_set(err, ERR_INVALID, "cannot make a CURVE keypair: %s",
			errno == ENOTSUP ? "this libzmq was built without CURVE" : zmq_strerror(errno));
	return 0;
}

int curve_public_of(const struct curve_key *secret, struct curve_key *pub, struct err *err)
{
	if (zmq_curve_public(pub->z85, secret->z85) != 0)
		return err_set(err, ERR_INVALID, "cannot derive a CURVE public key: %s",
			errno == ENOTSUP ? "this libzmq was built without CURVE" : zmq_strerror(errno));
	return 0;
}

int curve_key_load(const char *path, int secret, struct curve_key *key, struct err *err)
{
	char buf[CURVE_FILE_MAX];
	const char *what = secret ? "secret key" : "public key";
	struct stat st;
	ssize_t n = 0;
	int rc = -1;
	memset(key, 0, sizeof *key);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errno == ENOENT ? ERR_NOTFOUND : ERR_IO, "cannot open %s file "
			"'%s': %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		err_set(err, ERR_IO, "cannot stat %s file '%s': %s", what, path, strerror(errno));
		goto out;
	}
	if (secret && (st.st_mode & 0007)) {
		err_set(err, ERR_INVALID, "secret key file '%s' is accessible to others (mode %04o): "
			"chmod 600 it", path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, sizeof buf - 1 - (size_t)n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_set(err, ERR_IO, "cannot read %s file '%s': %s", what, path, strerror(errno));
			goto out;
		}
		if (r == 0 || (size_t)(n += r) == sizeof buf - 1)
			break;
	}
	buf[n] = '\0';
	const char *start = buf + strspn(buf, " \t\r\n");
	size_t len = strcspn(start, " \t\r\n");
	if (start[len + strspn(start + len, " \t\r\n")] != '\0' || len != CURVE_KEY_LEN) {
		err_set(err, ERR_FORMAT, "%s file '%s' does not hold one %d-character Z85 key "
			"(make keys with 'r1flow keygen')", what, path, CURVE_KEY_LEN);
		goto out;
	}
	memcpy(key->z85, start, CURVE_KEY_LEN);
	key->z85[CURVE_KEY_LEN] = '\0';
	if (!curve_key_valid(key->z85)) {
		err_set(err, ERR_FORMAT, "%s file '%s' is not valid Z85", what, path);
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(buf, sizeof buf);
	if (rc < 0)
		curve_key_wipe(key);
	close(fd);
	return rc;
}

/* Write `text` and a newline to a new file `path` with `mode` (exact, umask
 * aside for 0644: the caller's umask still narrows a public file). */
static int write_new(const char *path, const char *text, mode_t mode, struct err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return err_set(err, ERR_IO, "cannot create '%s': %s", path, strerror(errno));
	char line[CURVE_KEY_LEN + 2];
	int len = snprintf(line, sizeof line, "%s\n", text);
	ssize_t w = write(fd, line, (size_t)len);
	int saved = errno;
	explicit_bzero(line, sizeof line);
	if (w != len || (mode == 0600 && fchmod(fd, 0600) < 0) || fsync(fd) < 0) {
		if (w == len)
			saved = errno;
		close(fd);
		unlink(path);
		return err_set(err, ERR_IO, "cannot write '%s': %s", path,
			w >= 0 && w != len ? "short write" : strerror(saved));
	}
	if (close(fd) < 0) {
		saved = errno;
		unlink(path);
		return err_set(err, ERR_IO, "cannot write '%s': %s", path, strerror(saved));
	}
	return 0;
}

/* Move the temporary file into place: rename (replaces) or link (refuses to). */
static int place(const char *tmp, const char *path, int overwrite, struct err *err)
{
	int rc = overwrite ? rename(tmp, path) : link(tmp, path);
	int saved = errno;
	if (!overwrite || rc < 0)
		unlink(tmp);
	if (rc == 0)
		return 0;
	if (saved == EEXIST)
		return err_set(err, ERR_INVALID, "'%s' exists: not replacing a key (remove it first, "
			"or --force)", path);
	return err_set(err, ERR_IO, "cannot create '%s': %s", path, strerror(saved));
}

int curve_keypair_save(const char *prefix, int overwrite, struct curve_key *pub_out,
	struct err *err)
{
	struct curve_key pub, secret;
	char key_path[4200], pub_path[4200], key_tmp[4300], pub_tmp[4300];
	int rc = -1;
	if (snprintf(key_path, sizeof key_path, "%s.key", prefix) >= (int)sizeof key_path ||
		snprintf(pub_path, sizeof pub_path, "%s.pub", prefix) >= (int)sizeof pub_path)
		return err_set(err, ERR_INVALID, "key path prefix too long: '%.64s...'", prefix);
	snprintf(key_tmp, sizeof key_tmp, "%s.tmp%d", key_path, (int)getpid());
	snprintf(pub_tmp, sizeof pub_tmp, "%s.tmp%d", pub_path, (int)getpid());
	if (curve_keypair_new(&pub, &secret, err) < 0)
		return -1;
	if (write_new(key_tmp, secret.z85, 0600, err) < 0)
		goto out;
	if (write_new(pub_tmp, pub.z85, 0644, err) < 0) {
		unlink(key_tmp);
		goto out;
	}
	if (place(key_tmp, key_path, overwrite, err) < 0) {
		unlink(pub_tmp);
		goto out;
	}
	if (place(pub_tmp, pub_path, overwrite, err) < 0) {
		if (!overwrite)
			unlink(key_path);
		goto out;
	}
	if (pub_out)
		*pub_out = pub;
	rc = 0;
out:
	curve_key_wipe(&secret);
	return rc;
}

static int set_key(void *sock, int option, const char *name, const struct curve_key *key,
	struct err *err)
{
	if (zmq_setsockopt(sock, option, key->z85, CURVE_KEY_LEN) == 0)
		return 0;
	return err_set(err, ERR_INVALID, "cannot set %s: %s", name,
		errno == EINVAL && !curve_available() ? "this libzmq was built without CURVE" :
		zmq_strerror(errno));
}

int curve_server_setup(void *sock, const struct curve_key *secret, const char *domain,
	struct err *err)
{
	int one = 1;
	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0)
		return err_set(err, ERR_INVALID, "cannot make a CURVE server: %s",
			curve_available() ? zmq_strerror(errno) : "this libzmq was built without CURVE");
	if (set_key(sock, ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", secret, err) < 0)
		return -1;
	if (zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) != 0)
		return err_set(err, ERR_INVALID, "cannot set ZAP domain '%s': %s", domain,
			zmq_strerror(errno));
	return 0;
}

int curve_client_setup(void *sock, const struct curve_key *server,
	const struct curve_key *secret, struct err *err)
{
	struct curve_key pub;
	if (curve_public_of(secret, &pub, err) < 0 ||
		set_key(sock, ZMQ_CURVE_SERVERKEY, "ZMQ_CURVE_SERVERKEY", server, err) < 0 ||
		set_key(sock, ZMQ_CURVE_PUBLICKEY, "ZMQ_CURVE_PUBLICKEY", &pub, err) < 0 ||
		set_key(sock, ZMQ_CURVE_SECRETKEY, "ZMQ_CURVE_SECRETKEY", secret, err) < 0)
		return -1;
	return 0;
}

int curve_endpoint_loopback(const char *endpoint)
{
	if (strncmp(endpoint, "tcp://", 6) != 0)
		return 0;
	const char *host = endpoint + 6, *colon = strrchr(host, ':');
	if (!colon)
		return 0;
	char addr[256];
	size_t len = (size_t)(colon - host);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof addr)
		return 0;
	memcpy(addr, host, len);
	addr[len] = '\0';
	if (strcmp(addr, "localhost") == 0 || strcmp(addr, "lo") == 0)
		return 1;
	struct in_addr v4;
	struct in6_addr v6;
	if (inet_pton(AF_INET, addr, &v4) == 1)
		return (ntohl(v4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, addr, &v6) == 1)
		return memcmp(&v6, &in6addr_loopback, sizeof v6) == 0;
	return 0;
}
