/*
 * rewardfiles — the files of a spec's program rewards (`files:`, docs/rewards.md):
 * what travels with the pipeline so a worker on any machine can run the program.
 *
 * A reward's `files` is a list of absolute paths (the loader made them so). A file
 * is stored under its base name; a directory under its base name and the paths
 * below it ("helpers/" holding a.py and lib/b.py gives "helpers/a.py" and
 * "helpers/lib/b.py"), walked in name order, symbolic links followed, anything that
 * is neither a file nor a directory skipped. Two entries giving one name, more than
 * REWARDFILES_MAX files, more than REWARDFILES_MAX_BYTES in all, a directory deeper
 * than 16 levels or a file that cannot be read are errors naming the reward.
 *
 * At submit the daemon (and `r1flow reward test` on its own) calls rewardfiles_pin:
 * each file goes through `put` (which stores the bytes as a blob and gives their
 * sha256) and the reward gets REWARDFILES_KEY = {"NAME": sha256, ...}; one it
 * carried is replaced first. Workers copy those blobs into the program's directory
 * (workers/rewardext.h); gc keeps them while the pipeline's spec names them.
 */
#ifndef R1_REWARDFILES_H
#define R1_REWARDFILES_H

#include <stddef.h>

#include <jansson.h>

#include "err.h"
#include "sha256.h"

#define REWARDFILES_KEY "file_blobs"
#define REWARDFILES_MAX 4096
#define REWARDFILES_MAX_BYTES ((size_t)64 << 20)

typedef int (*rewardfiles_put_fn)(void *ctx, const void *data, size_t size,
	char hex[SHA256_HEX_SIZE], struct err *err);

/* Pin the files of every program reward of a normalised spec (spec->rewards). */
int rewardfiles_pin(json_t *spec, rewardfiles_put_fn put, void *ctx, struct err *err);

#endif
