/* imports — see imports.h. */
#include "imports.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "blobs.h"
#include "daemon.h"
#include "learner.h"
#include "shards.h"

struct import {
	char dir[DATADIR_PATH_MAX];
	uint64_t sig;              /* the files' signature when the import started */
	struct daemon *d;
	pthread_t thread;
	int running;               /* started, not joined */
	atomic_int done;
	struct err err;            /* the thread's outcome */
	char sha256[SHA256_HEX_SIZE];
	size_t size;
	int stored;                /* the result is valid: the last directory stored */
};

/* A signature of the regular files of `dir` (name, size, mtime, inode, device): what
 * tells that a directory is the one stored before. 0 if it cannot be read. */
static uint64_t dir_signature(const char *dir)
{
	DIR *dp = opendir(dir);
	if (!dp)
		return 0;
	uint64_t sig = 0; /* each file's FNV-1a hash added: the order of readdir is free */
	struct dirent *de;
	char path[PATH_MAX];
	while ((de = readdir(dp))) {
		struct stat st;
		if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path ||
			stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		uint64_t h = 1469598103934665603ull;
		int64_t f[] = { st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (int64_t)st.st_ino,
			(int64_t)st.st_dev };
		for (const char *c = de->d_name; *c; c++)
			h = (h ^ (uint8_t)*c) * 1099511628211ull;
		for (size_t i = 0; i < sizeof f / sizeof *f; i++)
			for (int b = 0; b < 8; b++)
				h = (h ^ (uint8_t)((uint64_t)f[i] >> (8 * b))) * 1099511628211ull;
		sig += h;
	}
	closedir(dp);
	return sig ? sig : 1;
}

/* The test knob (imports.h): wait while `path` exists, saying so in PATH.held. */
static void hold(const char *path)
{
	char held[PATH_MAX];
	if (!path || !*path || access(path, F_OK) != 0 ||
		snprintf(held, sizeof held, "%s.held", path) >= (int)sizeof held)
		return;
	FILE *f = fopen(held, "w");
	if (f)
		fclose(f);
	while (access(path, F_OK) == 0)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	unlink(held);
}

/* The thread: the directory's one blob file, durable and hashed; nothing indexed. */
static void *run(void *arg)
{
	struct import *im = arg;
	char *bytes = NULL;
	learner_thread_priority();
	hold(getenv("R1FLOW_TEST_IMPORT_HOLD"));
	if (shards_read_single(im->dir, &bytes, &im->size, &im->err) == 0)
		blobs_put_file(im->d, bytes, im->size, im->sha256, &im->err);
	free(bytes);
	atomic_store(&im->done, 1);
	learner_wake(im->d);
	return NULL;
}

static int in_progress(const char *dir, struct err *err)
{
	err_set(err, ERR_IO, "model.checkpoint '%s' is being stored as a blob", dir);
	if (err)
		err->errnum = EINPROGRESS;
	return -1;
}

/* Join a finished thread: 0, or -1 with its error. */
static int collect(struct import *im, struct err *err)
{
	pthread_join(im->thread, NULL);
	im->running = 0;
	if (im->err.code) {
		if (err)
			*err = im->err;
		im->stored = 0;
		return -1;
	}
	log_info("model.checkpoint '%s' stored as blob %.12s (%zu bytes)", im->dir, im->sha256,
		im->size);
	im->stored = 1;
	return 0;
}

int import_blob(struct daemon *d, const char *dir, char sha256[SHA256_HEX_SIZE],
	struct err *err)
{
	struct import *im = d->import;
	if (strlen(dir) >= sizeof im->dir)
		return err_set(err, ERR_INVALID, "model.checkpoint '%s': path too long", dir);
	if (im && im->running) {
		if (!atomic_load(&im->done))
			return in_progress(im->dir, err);
		int same = strcmp(im->dir, dir) == 0;
		if (collect(im, err) < 0 && same)
			return -1; /* the next call starts over */
	}
	uint64_t sig = dir_signature(dir);
	if (im && im->stored && sig && im->sig == sig && strcmp(im->dir, dir) == 0) {
		char path[DATADIR_PATH_MAX], rel[80];
		snprintf(rel, sizeof rel, "blobs/%s", im->sha256);
		/* the file may have been collected since (gc, a failed stage's cleanup) */
		if (datadir_path(&d->dir, rel, path, sizeof path, NULL) == 0 &&
			access(path, R_OK) == 0) {
			memcpy(sha256, im->sha256, SHA256_HEX_SIZE);
			/* indexed in this turn: the turn that first asked may have rolled back */
			return blobs_index(d, sha256, im->size, err) < 0 ? -1 : 1;
		}
	}
	if (!im && !(im = d->import = calloc(1, sizeof *im)))
		return err_set(err, ERR_NOMEM, "cannot store model.checkpoint '%s': out of memory",
			dir);
	memset(im, 0, sizeof *im);
	snprintf(im->dir, sizeof im->dir, "%s", dir);
	im->sig = sig;
	im->d = d;
	learner_wake_fd(d); /* made before the thread can write to it */
	int rc = pthread_create(&im->thread, NULL, run, im);
	if (rc != 0)
		return err_sys(err, rc, "cannot store model.checkpoint '%s': cannot create a thread",
			dir);
	im->running = 1;
	return in_progress(dir, err);
}

int import_holds(struct daemon *d)
{
	return d->import && d->import->running;
}

int import_working(struct daemon *d)
{
	return import_holds(d) && !atomic_load(&d->import->done);
}

void import_shutdown(struct daemon *d)
{
	if (d->import && d->import->running) {
		pthread_join(d->import->thread, NULL);
		d->import->running = 0;
	}
	free(d->import);
	d->import = NULL;
}
