-- 0005_chat: a chat record keeps its conversation. A JSONL line {"messages": [...]}
-- is stored with its messages as compact JSON (tasks/chat.h checked them), so an sft
-- stage with a chat format renders every turn; prompt and response keep the
-- flattened form (user and system turns, the last answer) the other stages read.
ALTER TABLE records ADD COLUMN messages TEXT CHECK (messages IS NULL OR json_valid(messages));
