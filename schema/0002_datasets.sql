-- 0002_datasets: datasets and their records, model checkpoints (docs/architecture.md).
--
-- A dataset is a named list of records: generated from a task, imported from JSONL,
-- or written by a stage (rejection sampling, merge). A pipeline's datasets belong
-- to it; `r1flow dataset import` makes shared ones (pipeline NULL).

CREATE TABLE datasets (
	id         INTEGER PRIMARY KEY,
	pipeline   INTEGER REFERENCES pipelines(id) ON DELETE CASCADE, -- NULL: shared
	name       TEXT NOT NULL CHECK (name <> '' AND name NOT GLOB '*[^a-z0-9_]*'),
	source     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(source)), -- how it was made
	count      INTEGER NOT NULL DEFAULT 0,      -- records
	created_at INTEGER NOT NULL,
	UNIQUE (pipeline, name)
);
-- UNIQUE treats NULLs as distinct: shared names need their own index.
CREATE UNIQUE INDEX datasets_shared ON datasets(name) WHERE pipeline IS NULL;

-- One record: a problem (prompt, answer), an SFT example (prompt, response) or a
-- pretraining document (text). `idx` is its position, 0-based, dense.
CREATE TABLE records (
	dataset  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
	idx      INTEGER NOT NULL,
	prompt   TEXT,
	answer   TEXT,
	response TEXT,
	text     TEXT,
	meta     TEXT CHECK (meta IS NULL OR json_valid(meta)),
	PRIMARY KEY (dataset, idx)
) WITHOUT ROWID;

-- A stage's weights after `step` learner steps: a content-addressed blob of
-- model.safetensors bytes; `optimizer` the AdamW moments when saved at this step.
CREATE TABLE checkpoints (
	id         INTEGER PRIMARY KEY,
	stage      INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
	step       INTEGER NOT NULL,
	sha256     TEXT NOT NULL REFERENCES blobs(sha256),
	optimizer  TEXT REFERENCES blobs(sha256),
	config     TEXT NOT NULL CHECK (json_valid(config)), -- HF config.json
	created_at INTEGER NOT NULL,
	UNIQUE (stage, step)
);
