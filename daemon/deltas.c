#include "deltas.h"

#include <stdlib.h>
#include <string.h>

#include "blobs.h"
#include "daemon.h"
#include "file.h"
#include "store.h"
#include "wdelta.h"

static struct delta **find_stage(struct daemon *d, int64_t stage)
{
	struct delta **p = &d->deltas;
	while (*p && (*p)->stage != stage)
		p = &(*p)->next;
	return p;
}

void deltas_note(struct daemon *d, int64_t stage, const char *base, const char *target,
	const void *target_bytes, size_t size)
{
	char path[DATADIR_PATH_MAX], hex[SHA256_HEX_SIZE];
	char *bytes = NULL;
	void *delta = NULL;
	size_t n = 0, delta_size = 0;
	struct err err = { 0 };
	if (!sha256_hex_valid(base) || strcmp(base, target) == 0)
		return;
	/* the base was stored (and hashed) by this learner a step ago: trusted, not
	 * hashed again (blobs.h) */
	if (blobs_path(d, base, path, sizeof path, &err) < 0 ||
		file_read(path, FILE_READ_ANY, &bytes, &n, &err) < 0)
		goto out;
	if (n != size) /* another layout (a resumed checkpoint of another dtype): none */
		goto out;
	if (wdelta_encode(bytes, target_bytes, size, base, target, &delta, &delta_size, &err) < 0)
		goto out;
	if (delta_size >= size) /* nothing gained: workers fetch the whole blob */
		goto out;
	if (blobs_put_scratch(d, delta, delta_size, hex, &err) < 0)
		goto out;
	struct delta **at = find_stage(d, stage), *e = *at;
	if (!e && !(e = *at = calloc(1, sizeof *e))) {
		err_set(&err, ERR_NOMEM, "out of memory");
		goto out;
	}
	char old[SHA256_HEX_SIZE];
	memcpy(old, e->blob, SHA256_HEX_SIZE);
	e->stage = stage;
	memcpy(e->base, base, SHA256_HEX_SIZE);
	memcpy(e->target, target, SHA256_HEX_SIZE);
	memcpy(e->blob, hex, SHA256_HEX_SIZE);
	e->size = delta_size;
	e->full = size;
	if (old[0] && strcmp(old, hex) != 0)
		blobs_drop(d, old);
	log_debug("stage %lld: weights delta %.12s -> %.12s, %zu of %zu bytes (%.3f)",
		(long long)stage, base, target, delta_size, size, (double)delta_size / (double)size);
out:
	if (err.msg[0])
		log_warn("stage %lld: no weights delta to %.12s (workers fetch it whole): %s",
			(long long)stage, target, err.msg);
	free(bytes);
	free(delta);
}

static int have_base(const json_t *have, const char *base)
{
	size_t i;
	const json_t *v;
	json_array_foreach(have, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), base) == 0)
			return 1;
	return 0;
}

int deltas_chunk(struct daemon *d, const char *target, const json_t *have, int64_t want,
	struct msg *out)
{
	if (!json_is_array(have))
		return 0;
	for (const struct delta *e = d->deltas; e; e = e->next) {
		if (strcmp(e->target, target) != 0 || !have_base(have, e->base))
			continue;
		blobs_chunk(d, e->blob, 0, want, out);
		if (json_object_get(out->header, "error")) { /* gone: serve the whole blob */
			msg_release(out);
			return 0;
		}
		json_object_set_new(out->header, "sha256", json_string(target));
		json_object_set_new(out->header, "delta", json_string(e->blob));
		json_object_set_new(out->header, "base", json_string(e->base));
		return 1;
	}
	return 0;
}

int deltas_holds(struct daemon *d, const char *sha256)
{
	for (const struct delta *e = d->deltas; e; e = e->next)
		if (strcmp(e->blob, sha256) == 0)
			return 1;
	return 0;
}

void deltas_forget(struct daemon *d, int64_t stage)
{
	struct delta **at = find_stage(d, stage), *e = *at;
	if (!e)
		return;
	*at = e->next;
	/* inside a turn the blob goes too (nothing names it); outside one it waits for
	 * `r1flow gc`, the store taking no writes there */
	if (store_in_transaction(d->store))
		blobs_drop(d, e->blob);
	free(e);
}

void deltas_free(struct daemon *d)
{
	/* their blobs go in one last transaction: nothing names them after a restart */
	struct err err = { 0 };
	int txn = d->store && !store_in_transaction(d->store) && store_begin(d->store, &err) == 0;
	while (d->deltas) {
		struct delta *e = d->deltas;
		d->deltas = e->next;
		if (txn)
			blobs_drop(d, e->blob);
		free(e);
	}
	if (txn && store_commit(d->store, &err) < 0)
		log_warn("cannot drop the weights deltas' blobs: %s", err.msg);
	else if (!txn && err.msg[0])
		log_warn("cannot drop the weights deltas' blobs: %s", err.msg);
}
