/*
 * imports — a pipeline's `model.checkpoint` directory stored as a blob, off the event
 * loop.
 *
 * A stage that starts from a model directory needs its weights as one blob (shards
 * merged, each tensor in its dtype: core/shards.h), which means reading and hashing
 * the whole model: seconds for a 0.5B model, long enough that the loop would miss
 * heartbeats. So the reading, hashing and writing run on a thread of their own, one
 * directory at a time, and the loop only indexes the finished file:
 *
 *   import_blob    1 and *sha256 when the directory's blob is ready (indexed in this
 *                  turn's transaction); -1 with err->errnum EINPROGRESS while it is
 *                  being made (the thread wakes the loop when done: learner_wake);
 *                  -1 with the thread's error when it failed (the next call starts
 *                  over). Another directory asked for while one is in progress also
 *                  gets EINPROGRESS.
 *   import_holds   1 from the thread's start until import_blob collects it: its file
 *                  may be in blobs/ before its name is indexed, so nothing may be
 *                  collected (blobs_held)
 *   import_working 1 while the thread works (the scheduler keeps the stages that
 *                  wait for it pending until then)
 *   import_shutdown  waits for the thread (daemon exit)
 *
 * A directory stored once is not read again while its files stay the same (names,
 * sizes, mtimes, inodes: a stage asks before and after its learner is prepared, and
 * every stage starting from the model asks): the last one is remembered with its
 * files' signature. The blob's bytes are a function of the files alone, so a restart
 * that imports again stores the same blob.
 *
 * Test knob: with R1FLOW_TEST_IMPORT_HOLD=PATH in the daemon's environment, the thread
 * waits before any work while the file PATH exists, and shows that it waits by making
 * PATH.held (removed when it goes on); tests/integration/test_learner_thread.sh acts
 * while an import is in progress with it. It changes no result.
 */
#ifndef R1_IMPORTS_H
#define R1_IMPORTS_H

#include "err.h"
#include "sha256.h"

struct daemon;

int import_blob(struct daemon *d, const char *dir, char sha256[SHA256_HEX_SIZE],
	struct err *err);
int import_holds(struct daemon *d);
int import_working(struct daemon *d);
void import_shutdown(struct daemon *d);

#endif
