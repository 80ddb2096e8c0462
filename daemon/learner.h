/*
 * learner — the parameter server of a training stage (docs/architecture.md, "The life
 * of a job"): the stage's weights and AdamW moments in memory, stepped with the
 * gradients its shards sent.
 *
 *   learner_open    weights from a blob (a model.safetensors) or fresh (seeded)
 *   learner_resume  weights and moments of a saved checkpoint
 *   learner_start   on the learner's own thread: one optimizer step from the shard
 *                   gradients summed IN SHARD ORDER (never arrival order), clipped to
 *                   the global norm, AdamW at the scheduled LR, the new weights'
 *                   file hashed and the exact delta from the last ones encoded
 *                   (LEARNER_STEP); and/or the weights and AdamW moments written as
 *                   the stage's checkpoint files (LEARNER_SAVE)
 *   learner_finish  back in the loop, once the thread is done: the new weights become
 *                   a blob (learner->sha256) and the thread's delta the one workers
 *                   may fetch instead (deltas.h), both renamed, not read; the step
 *                   counter moves on,
 *                   a save is recorded as checkpoint (stage, step). With LoRA
 *                   adapters (learner_lora) the thread steps the adapters only, and
 *                   their blob and a save's merged weights are made here, in the loop
 *
 * Every output is a function of the inputs alone: the same gradients in the same
 * order give the same bytes, whatever worker computed them.
 *
 * The work that scales with the model runs off the event loop, so that heartbeats,
 * control replies and other stages' jobs go on meanwhile (a step of a 135M-parameter
 * model reads, adds and writes gigabytes: seconds): learner_open prepares a learner
 * on a thread, and learner_start runs a step or a save on one. The thread touches the
 * learner's model (weights, gradients, moments) and files in its scratch directory
 * DIR/blobs/tmp/learner-<stage>/ only, and reads the blob of the learner's current
 * weights (the delta's base; blobs_held keeps it): no store, no blob index, no
 * daemon state. The
 * loop owns everything else, and learner->step, sha256 and config keep describing
 * the last committed step while a step runs, so a driver may read them. What the
 * thread produced becomes visible in one place, learner_finish, inside a turn: the
 * files are renamed into DIR/blobs/ and indexed, and the checkpoint row written, in
 * that turn's transaction, so the database gets the rows it got when the step ran
 * inside the turn that committed its last gradient (only later: the rows' times,
 * and the step-time metrics, include the thread's run). One piece of work per
 * learner at a time (a driver starts the next only after learner_finish); learners of different stages run at once, each on its
 * own thread. A daemon killed while a step runs loses only that thread's scratch
 * files: the step was never committed, and a restart rebuilds the learner from the
 * stage's last checkpoint with moments (learner_resume) and recomputes the steps
 * after it. Learners live in the daemon's memory, one per running training stage.
 *
 * Test knob: with R1FLOW_TEST_LEARNER_HOLD=PATH in the daemon's environment, the
 * thread of learner_start for step s waits, before any work, while the file PATH
 * exists and does not hold a number >= s (an empty file holds every step; "2" lets
 * steps 1 and 2 go and holds step 3), and shows that it waits by writing "STAGE s" to
 * PATH.held (removed when it goes on); "3 7" holds only stage 7, at step 4 (the other
 * stages' learners go on). Tests use it to act while a step is in
 * progress (tests/integration/test_learner_thread.sh); it changes no result.
 */
#ifndef R1_LEARNER_H
#define R1_LEARNER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "lora.h"
#include "model.h"
#include "optim.h"
#include "sha256.h"

struct daemon;

/* What learner_start does (flags). */
#define LEARNER_STEP 1   /* an optimizer step from gradient files */
#define LEARNER_SAVE 2   /* then a checkpoint with moments at the (new) step */

/* The work of learner_start: the thread's inputs and outputs. */
struct learner_work {
	int flags;
	char **paths;                  /* gradient files, shard order (owned) */
	size_t n;
	pthread_t thread;
	atomic_int done;               /* the thread finished: err says how */
	atomic_int cancel;             /* the learner was closed: stop early */
	struct err err;
	double norm, lr;               /* of the step: norm before clipping */
	char sha256[SHA256_HEX_SIZE];  /* the weights' file in the scratch directory */
	char opt[SHA256_HEX_SIZE];     /* the moments' file (LEARNER_SAVE) */
	int64_t size, opt_size;
	char delta[SHA256_HEX_SIZE];   /* the file `delta` from the last weights to these
	                                  (core/wdelta.h), "" if none was made */
	int64_t delta_size;
	struct err delta_err;          /* why none was made, if it failed */
};

struct learner {
	int64_t stage;                 /* stages.id */
	struct model m;                /* params, grads, moments; activations for 1x1 */
	struct adamw_params adamw;     /* lr set per step from `schedule` */
	struct lr_schedule schedule;
	double grad_clip;              /* max global norm; <= 0: no clipping */
	long step;                     /* steps applied */
	char sha256[SHA256_HEX_SIZE];  /* blob of the current weights */
	char *config;                  /* HF config.json text of the model */
	double last_norm, last_lr;     /* of the last step, before clipping */
	int64_t step_started;          /* wall ms the current step's jobs went out */
	int64_t *order;                /* the driver's record order for `order_epoch` */
	int64_t order_epoch, order_n;
	int64_t *units;                /* pretrain: record i's first window, nrec+1 entries;
	                                  NULL: one unit per record (stage_train.c) */
	int units_ready;               /* `units` was computed for this learner */
	struct learner *next;          /* the daemon's list (or its list of preparations) */
	/* learner_open's preparation on a thread of its own */
	struct daemon *d;
	pthread_t thread;
	int joined;                    /* the thread was joined already */
	atomic_int prep_done;          /* the thread finished: prep_err says how */
	struct err prep_err;
	struct model_config prep_cfg;
	uint64_t prep_seed;
	char prep_sha[SHA256_HEX_SIZE]; /* weights to read, "" for fresh ones */
	size_t prep_size;              /* bytes of the weights' blob */
	int live;                      /* m was initialised */
	struct lora *lora;             /* adapters trained instead of m's weights, or NULL */
	char base_sha[SHA256_HEX_SIZE]; /* with lora: blob of the frozen weights */
	int busy;                      /* learner_start's work is not finished yet */
	struct learner_work work;
};

/* The learner of `stage`, or NULL. */
struct learner *learner_find(struct daemon *d, int64_t stage);

/*
 * A learner for `stage` (replacing any) with weights from blob `sha256` (NULL:
 * fresh weights from `seed`). Making one takes seconds for a large model (memory,
 * drawing or reading ~100M weights, writing and hashing their blob), too long for
 * the event loop (heartbeats, replies), so it is done on a thread: the first call
 * starts it and fails with errnum EINPROGRESS, as do later calls until it is done;
 * the call after that returns the learner (or the preparation's error). Callers
 * call again later (the scheduler runs the stage's driver again). learner_open_wait
 * waits instead (for learners opened only to write fresh weights once).
 */
struct learner *learner_open(struct daemon *d, int64_t stage, const struct model_config *cfg,
	const char *sha256, uint64_t seed, struct err *err);
struct learner *learner_open_wait(struct daemon *d, int64_t stage,
	const struct model_config *cfg, const char *sha256, uint64_t seed, struct err *err);

/* 1 while a learner_open of `stage` runs on its thread, or the thread of a closed
 * learner of `stage` has not ended yet (it writes to the stage's scratch directory). */
int learner_preparing(struct daemon *d, int64_t stage);

/* Load the weights and moments of checkpoint (sha256, opt) at `step`. */
int learner_resume(struct daemon *d, struct learner *l, const char *sha256, const char *opt,
	long step, struct err *err);

/*
 * Start `flags` (LEARNER_STEP, LEARNER_SAVE or both) on the learner's thread; for a
 * step, the gradient files paths[0..n) (shard order; copied), each the model's
 * parameter count of fp32 values; n = 0: no update (a GRPO round whose groups were
 * all dropped), the step counter moves on with the weights as they are. The learner
 * must not be busy. Until
 * learner_finish returns 1 the thread owns the model: the loop reads only step,
 * sha256, config, the model's cfg and the driver's fields (order, units).
 */
int learner_start(struct daemon *d, struct learner *l, const char *const *paths, size_t n,
	int flags, struct err *err);

/*
 * The learner's work, if done, committed in this turn: the weights' file becomes
 * blob learner->sha256 (durable for a save, scratch otherwise: blobs.h), the step's
 * norm and LR go to last_norm and last_lr and step moves on; a save is recorded as
 * checkpoint (stage, step) with the moments. 1 done (*prev: the weights before, for
 * the caller to drop), 0 still running, -1 the work failed (err; the model is then
 * half-stepped: close the learner, it is rebuilt from its checkpoint).
 */
int learner_finish(struct daemon *d, struct learner *l, char prev[SHA256_HEX_SIZE],
	struct err *err);

/*
 * Train LoRA adapters of `c` (core/lora.h) instead of the weights: the weights stay
 * those the learner was opened with (base_sha, frozen), A is drawn from `seed`, B is
 * zero, and sha256 becomes the blob of the adapters (lora_write_mem), the per-step
 * blob workers fetch. A learner with adapters already keeps them. Steps then read
 * gradient files of the adapters' parameter count and step the adapters alone; a
 * checkpoint is the merged weights W + s·B·A (what later stages, eval and export
 * read) with the adapters' state (lora_state_write_mem) as its optimizer blob.
 */
int learner_lora(struct daemon *d, struct learner *l, const struct lora_config *c,
	uint64_t seed, struct err *err);

/* The model a job of l's runs: "weights" (and with adapters "lora": {rank, alpha,
 * targets, adapter}) set in params. */
int learner_job_weights(const struct learner *l, json_t *params);

/* Close the learner of `stage`. One whose work is running is told to stop and left
 * to its thread; an idle one gets a thread that gives its model's memory back (2 GB
 * for a 135M model: seconds of unmapping, not for the loop). It is freed when the
 * thread ends (learner_reap), and until then no learner of that stage opens
 * (learner_open fails with EINPROGRESS). */
void learner_close(struct daemon *d, int64_t stage);
void learner_close_all(struct daemon *d);

/* Free the closed learners whose threads have ended (the loop calls it when a thread
 * wakes it: learner_wake_fd). learner_shutdown closes every learner and waits for
 * every thread: at exit. */
void learner_reap(struct daemon *d);
void learner_shutdown(struct daemon *d);

/* The read end of the pipe a learner's thread writes a byte to when it ends (the loop
 * polls it, reaps and runs the scheduler); -1 if it could not be made (the scheduler's
 * period then notices). */
int learner_wake_fd(struct daemon *d);
/* Wake the loop from another thread when its work is done (imports.h uses it too);
 * learner_wake_fd must have been called first. */
void learner_wake(struct daemon *d);

/* The calling thread (a learner's, an import's) at nice LEARNER_NICE: on a machine
 * whose cores its work keeps busy, the event loop still gets the CPU at once when a
 * heartbeat or a request arrives (bench/heartbeat.sh's p99 was 17-190 ms from run to
 * run without it, with the learner's pool and a worker on 2 cores). */
#define LEARNER_NICE 5
void learner_thread_priority(void);

#endif
