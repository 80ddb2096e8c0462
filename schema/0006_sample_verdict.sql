-- 0006_sample_verdict: eval stages keep their answers in samples too (step 0 greedy,
-- step 1 sampled), and a sample says which dataset its prompt record is in (its name
-- in the spec, so `r1flow samples` shows the prompt and the reference answer) and
-- whether the stage counted it right. Both are NULL in rows written before.
ALTER TABLE samples ADD COLUMN dataset TEXT;
ALTER TABLE samples ADD COLUMN correct INTEGER CHECK (correct IS NULL OR correct IN (0, 1));
