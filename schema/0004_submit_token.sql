-- 0004_submit_token: `submit` is idempotent. The CLI sends a token it made up for
-- the invocation, and sends the same one again when it asks again after a timeout;
-- the daemon answers a token it has seen with the pipeline it already made instead
-- of making a second one.
ALTER TABLE pipelines ADD COLUMN token TEXT;  -- NULL: submitted without one
CREATE UNIQUE INDEX pipelines_token ON pipelines (token) WHERE token IS NOT NULL;
