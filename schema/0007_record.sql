-- 0007_record: a record keeps the keys its file gave it. A JSONL line or CSV row with
-- keys beyond the standard ones, or read through a field mapping (tasks/fields.h),
-- keeps all its keys (mapped ones renamed to their fields) as a JSON object, which
-- reward jobs pass to the rewards as `record`. NULL for generated records and
-- plain lines.
ALTER TABLE records ADD COLUMN record TEXT CHECK (record IS NULL OR json_valid(record));
