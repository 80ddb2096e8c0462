#include "retain.h"

#include <stdlib.h>
#include <string.h>

#include "blobs.h"
#include "daemon.h"
#include "stage.h"

void retain_choose(const struct store_checkpoint *ck, size_t n, int64_t last,
	const int64_t *pinned, size_t npinned, int *keep)
{
	int moments_seen = 0;
	for (size_t k = n; k-- > 0;) {
		size_t from_end = n - 1 - k;
		keep[k] = last <= 0 || from_end < (size_t)last;
		if (ck[k].optimizer[0] && !moments_seen) {
			keep[k] = 1;
			moments_seen = 1;
		}
		for (size_t p = 0; p < npinned; p++)
			if (ck[k].step == pinned[p])
				keep[k] = 1;
	}
}

int retain_stage(struct stage_ctx *c, int64_t last, const int64_t *pinned, size_t npinned,
	struct err *err)
{
	struct store_checkpoint *ck = NULL;
	size_t n = 0;
	int *keep = NULL, rc = -1;
	if (last <= 0)
		return 0;
	if (store_checkpoint_list(c->d->store, c->stage->id, &ck, &n, err) < 0)
		return -1;
	if (n <= (size_t)last) {
		free(ck);
		return 0;
	}
	if (!(keep = calloc(n, sizeof *keep))) {
		err_set(err, ERR_NOMEM, "cannot choose the checkpoints of stage %lld to keep: out "
			"of memory", (long long)c->stage->id);
		goto out;
	}
	retain_choose(ck, n, last, pinned, npinned, keep);
	for (size_t k = 0; k < n; k++) {
		if (keep[k])
			continue;
		if (store_checkpoint_delete(c->d->store, c->stage->id, ck[k].step, err) < 0)
			goto out;
		blobs_drop(c->d, ck[k].sha256);
		if (ck[k].optimizer[0])
			blobs_drop(c->d, ck[k].optimizer);
		log_debug("stage %lld: dropped the checkpoint of step %lld (keep_checkpoints %lld)",
			(long long)c->stage->id, (long long)ck[k].step, (long long)last);
	}
	rc = 0;
out:
	free(keep);
	free(ck);
	return rc;
}
