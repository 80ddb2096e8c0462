-- 0003_samples: what the model wrote during RL (docs/architecture.md), for `r1flow samples`.
--
-- One row per sampled completion of a GRPO step: the prompt record it answers,
-- its index in the group, the text and token count, each reward component and the
-- total, the advantage it was trained with and why it stopped.
CREATE TABLE samples (
	stage     INTEGER NOT NULL REFERENCES stages(id) ON DELETE CASCADE,
	step      INTEGER NOT NULL,
	idx       INTEGER NOT NULL,                 -- position in the step: prompt·G + sample
	record    INTEGER NOT NULL,                 -- records.idx of the prompt
	text      TEXT NOT NULL,
	tokens    INTEGER NOT NULL,                 -- generated tokens
	rewards   TEXT NOT NULL CHECK (json_valid(rewards)), -- {component: value, total}
	advantage REAL NOT NULL,
	finish    TEXT NOT NULL CHECK (finish = 'stop' OR finish = 'length'),
	PRIMARY KEY (stage, step, idx)
) WITHOUT ROWID;
