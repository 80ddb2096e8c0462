-- 0001_init: the coordinator's first schema (docs/architecture.md).
--
-- Times are integer milliseconds since the Unix epoch. JSON columns hold compact
-- JSON text (checked with json_valid). Migrations are append-only: never edit this
-- file once shipped (the first release; until then it was edited in place, for
-- example to name the final state of stages 'succeeded'); add NNNN_<what>.sql instead. store.c runs each migration in one
-- transaction together with PRAGMA user_version, so a migration holds no BEGIN or
-- COMMIT of its own.
--
-- State checks are written as OR chains, not `state IN (...)`: SQLite builds a
-- temporary b-tree for every evaluation of an IN list of three or more values,
-- which doubled the cost of a job claim.
--
-- Datasets, records, samples and checkpoints come with the stages that fill them.

CREATE TABLE pipelines (
	id          INTEGER PRIMARY KEY,
	name        TEXT NOT NULL,
	source      TEXT NOT NULL,                  -- the spec as submitted (YAML text)
	spec        TEXT NOT NULL CHECK (json_valid(spec)), -- validated, overrides applied
	seed        INTEGER NOT NULL,
	state       TEXT NOT NULL DEFAULT 'queued'
	            CHECK (state = 'queued' OR state = 'running' OR state = 'paused' OR
	                   state = 'succeeded' OR state = 'failed' OR state = 'cancelled'),
	error       TEXT,                           -- why it failed, last error wins
	created_at  INTEGER NOT NULL,
	started_at  INTEGER,
	finished_at INTEGER
);

CREATE TABLE stages (
	id          INTEGER PRIMARY KEY,
	pipeline    INTEGER NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
	name        TEXT NOT NULL,                  -- unique within the pipeline
	kind        TEXT NOT NULL,                  -- pretrain, sft, grpo, eval, probe, ...
	spec        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(spec)),
	state       TEXT NOT NULL DEFAULT 'pending'
	            CHECK (state = 'pending' OR state = 'running' OR state = 'paused' OR
	                   state = 'succeeded' OR state = 'failed' OR state = 'cancelled'),
	step        INTEGER NOT NULL DEFAULT 0,     -- units completed (steps, jobs, records)
	total       INTEGER NOT NULL DEFAULT 0,     -- units planned
	progress    REAL NOT NULL DEFAULT 0,        -- 0..1 within the stage
	error       TEXT,
	created_at  INTEGER NOT NULL,
	started_at  INTEGER,
	finished_at INTEGER,
	UNIQUE (pipeline, name)
);

CREATE TABLE workers (
	id           INTEGER PRIMARY KEY,
	name         TEXT NOT NULL UNIQUE,          -- from READY; a reconnect reuses the row
	host         TEXT,
	pid          INTEGER,
	threads      INTEGER,
	memory       INTEGER,                       -- bytes
	kinds        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(kinds)), -- job kinds it runs
	build        TEXT,
	state        TEXT NOT NULL DEFAULT 'ready'
	             CHECK (state = 'ready' OR state = 'draining' OR state = 'gone'),
	first_seen   INTEGER NOT NULL,
	connected_at INTEGER NOT NULL,              -- last READY
	last_seen    INTEGER NOT NULL               -- last message
);

-- One row per unit of work. A lease is (id, epoch): every claim bumps epoch, and a
-- RESULT or FAIL is accepted only for the current epoch of a leased job, so a late
-- answer from an expired lease never lands. `attempt` counts leases towards
-- max_attempts and may be reset by a manual retry; `epoch` never goes back.
CREATE TABLE jobs (
	id             INTEGER PRIMARY KEY,
	stage          INTEGER REFERENCES stages(id) ON DELETE CASCADE, -- NULL: diagnostic
	kind           TEXT NOT NULL                -- rollout, reward, reject, grad, probe
	               CHECK (kind <> '' AND kind NOT GLOB '*[^a-z0-9_]*'),
	step           INTEGER NOT NULL DEFAULT 0,
	shard          INTEGER NOT NULL DEFAULT 0,
	state          TEXT NOT NULL DEFAULT 'queued'
	               CHECK (state = 'queued' OR state = 'leased' OR state = 'done' OR
	                      state = 'failed' OR state = 'cancelled'),
	attempt        INTEGER NOT NULL DEFAULT 0,  -- leases handed out
	max_attempts   INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
	epoch          INTEGER NOT NULL DEFAULT 0,  -- the current (or last) lease
	worker         INTEGER REFERENCES workers(id), -- holder while leased, last holder after
	lease_deadline INTEGER,                     -- set exactly while leased
	params         TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params)),
	result         TEXT CHECK (result IS NULL OR json_valid(result)),
	error          TEXT,                        -- last failure
	created_at     INTEGER NOT NULL,
	leased_at      INTEGER,
	finished_at    INTEGER,
	CHECK ((state = 'leased') = (lease_deadline IS NOT NULL)),
	CHECK (state <> 'leased' OR worker IS NOT NULL),
	CHECK (state <> 'done' OR result IS NOT NULL),
	UNIQUE (stage, step, kind, shard)           -- one job, hence one result, per slot
);
-- Few indexes on purpose: every state change rewrites each index that mentions
-- `state`, and claims and commits are the daemon's hot path. Leased jobs are few
-- (about one per worker thread), so one partial index serves every lease query;
-- per-stage queries use the UNIQUE index's (stage, ...) prefix.
CREATE INDEX jobs_queue ON jobs(id) WHERE state = 'queued';
CREATE INDEX jobs_leased ON jobs(worker) WHERE state = 'leased';

-- Content-addressed files under the data directory (checkpoints, gradients).
CREATE TABLE blobs (
	sha256     TEXT PRIMARY KEY
	           CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
	size       INTEGER NOT NULL CHECK (size >= 0),
	path       TEXT NOT NULL,                   -- relative to the data directory
	created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE events (
	id       INTEGER PRIMARY KEY,
	ts       INTEGER NOT NULL,
	pipeline INTEGER REFERENCES pipelines(id) ON DELETE CASCADE, -- NULL: daemon-wide
	stage    INTEGER REFERENCES stages(id) ON DELETE CASCADE,
	type     TEXT NOT NULL,                     -- stage_started, step_done, ...
	data     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(data))
);
CREATE INDEX events_by_pipeline ON events(pipeline, id);
CREATE INDEX events_by_stage ON events(stage);

CREATE TABLE metrics (
	stage INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
	step  INTEGER NOT NULL,
	name  TEXT NOT NULL,                        -- reward_mean, kl, tokens_per_s, ...
	value REAL NOT NULL,
	ts    INTEGER NOT NULL,
	PRIMARY KEY (stage, step, name)             -- a step's metric is written once
) WITHOUT ROWID;

-- Daemon-wide monotonic counters that must survive restarts: stale results
-- dropped, malformed messages, requeues.
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
