#include "deltas.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blobs.h"
#include "daemon.h"
#include "store.h"

static struct delta **find_stage(struct daemon *d, int64_t stage)
{
	struct delta **p = &d->deltas;
	while (*p && (*p)->stage != stage)
		p = &(*p)->next;
	return p;
}

void deltas_note(struct daemon *d, int64_t stage, const char *base, const char *target,
	size_t full, const char *path, const char *blob, size_t size)
{
	struct err err = { 0 };
	if (!sha256_hex_valid(base) || strcmp(base, target) == 0 || !sha256_hex_valid(blob)) {
		unlink(path);
		return;
	}
	if (blobs_adopt(d, path, blob, (int64_t)size, 0, &err) < 0) {
		unlink(path);
		log_warn("stage %lld: no weights delta to %.12s (workers fetch it whole): %s",
			(long long)stage, target, err.msg);
		return;
	}
	struct delta **at = find_stage(d, stage), *e = *at;
	if (!e && !(e = *at = calloc(1, sizeof *e))) {
		log_warn("stage %lld: no weights delta to %.12s (workers fetch it whole): out of "
			"memory", (long long)stage, target);
		blobs_drop(d, blob);
		return;
	}
	char old[SHA256_HEX_SIZE];
	memcpy(old, e->blob, SHA256_HEX_SIZE);
	e->stage = stage;
	memcpy(e->base, base, SHA256_HEX_SIZE);
	memcpy(e->target, target, SHA256_HEX_SIZE);
	memcpy(e->blob, blob, SHA256_HEX_SIZE);
	e->size = size;
	e->full = full;
	if (old[0] && strcmp(old, blob) != 0)
		blobs_drop(d, old);
	log_debug("stage %lld: weights delta %.12s -> %.12s, %zu of %zu bytes (%.3f)",
		(long long)stage, base, target, size, full, (double)size / (double)full);
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
