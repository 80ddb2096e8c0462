#include "filetrust.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "sha256.h"

#define FILETRUST_PATH 512 /* longer paths are never noted: they are hashed every time */

struct entry {
	char path[FILETRUST_PATH];
	char sha256[SHA256_HEX_SIZE];
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	uint64_t age;                  /* when noted; 0: free */
};

static struct {
	pthread_mutex_t lock;
	struct entry e[FILETRUST_SLOTS];
	uint64_t clock;
} ft = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int same_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static struct entry *find(const char *path)
{
	for (size_t i = 0; i < FILETRUST_SLOTS; i++)
		if (ft.e[i].age && strcmp(ft.e[i].path, path) == 0)
			return &ft.e[i];
	return NULL;
}

void filetrust_note(const char *path, const char *sha256)
{
	struct stat st;
	if (strlen(path) >= FILETRUST_PATH || strlen(sha256) >= SHA256_HEX_SIZE ||
		stat(path, &st) < 0)
		return;
	pthread_mutex_lock(&ft.lock);
	struct entry *e = find(path);
	if (!e) { /* a free slot (age 0) or the oldest */
		e = &ft.e[0];
		for (size_t i = 1; i < FILETRUST_SLOTS; i++)
			if (ft.e[i].age < e->age)
				e = &ft.e[i];
	}
	snprintf(e->path, sizeof e->path, "%s", path);
	snprintf(e->sha256, sizeof e->sha256, "%s", sha256);
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	e->size = st.st_size;
	e->mtime = st.st_mtim;
	e->ctime = st.st_ctim;
	e->age = ++ft.clock;
	pthread_mutex_unlock(&ft.lock);
}

int filetrust_check(const char *path, const char *sha256)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return 0;
	pthread_mutex_lock(&ft.lock);
	const struct entry *e = find(path);
	int ok = e && strcmp(e->sha256, sha256) == 0 && e->dev == st.st_dev &&
		e->ino == st.st_ino && e->size == st.st_size && same_time(e->mtime, st.st_mtim) &&
		same_time(e->ctime, st.st_ctim);
	pthread_mutex_unlock(&ft.lock);
	return ok;
}

void filetrust_forget(const char *path)
{
	pthread_mutex_lock(&ft.lock);
	struct entry *e = find(path);
	if (e)
		e->age = 0;
	pthread_mutex_unlock(&ft.lock);
}
