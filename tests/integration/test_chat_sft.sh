#!/usr/bin/env bash
# SFT on chat records (tasks/chat.h) with the byte tokenizer, end to end: JSONL lines
# {"messages": [...]} with a system prompt and two rounds, trained by one sft stage
# with role templates (chat_template) and one with chat_format: chatml. Every grad
# job's loss positions (start and mask) decode to exactly the assistant turns and
# their end-of-turn text, never a system or user turn; `r1flow validate` refuses a
# chat that does not fit max_seq, naming FILE:LINE.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
export TMPDIR=$T/tmp R1FLOW_DATA=$DATA
mkdir -p "$TMPDIR"
expect_rc() { [[ $RC == "$1" ]] || fail "r1flow $2 exited $RC, expected $1: $(cat "$T/err") $(tail -n 20 "$T/out")"; }

/usr/bin/python3 - "$T/chat.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for a in range(6):
        f.write(json.dumps({"messages": [
            {"role": "system", "content": "add"},
            {"role": "user", "content": f"{a}+1"},
            {"role": "assistant", "content": f"{a + 1}"},
            {"role": "user", "content": f"{a}+2"},
            {"role": "assistant", "content": f"{a + 2}"}]}) + "\n")
PY
cat >"$T/chat.yaml" <<SPEC
version: 1
name: chat
seed: 3
model:
  config: {dim: 32, layers: 1, heads: 2, ffn: 64, max_seq: 192}
datasets:
  chats: {file: $T/chat.jsonl}
stages:
  - {name: roles, kind: sft, dataset: chats, steps: 2, batch: 3, shard: 2,
     chat_template: {system: "[S]{content}\n", user: "[U]{content}\n",
                     assistant: "[A]{content}<|eos|>\n", prefix: "chat:\n"}}
  - {name: qwen, kind: sft, from: roles, dataset: chats, steps: 1, batch: 2,
     chat_format: chatml}
SPEC
r1rc validate "$T/chat.yaml"; expect_rc 0 "validate"
r1rc run "$T/chat.yaml" --data "$DATA" --workers 1 --plain; expect_rc 0 "run"

# every grad job's sequences: the trained positions decode to the answers only
sql "SELECT s.name, j.params FROM jobs j JOIN stages s ON s.id = j.stage WHERE j.kind = 'grad' ORDER BY j.id" >"$T/grads"
/usr/bin/python3 - "$T/grads" <<'PY' || fail "loss positions: see above"
import json, sys
SPECIALS = ["<|bos|>", "<|eos|>", "<|pad|>", "<think>", "</think>", "<answer>", "</answer>"]
def text(ids):
    return b"".join(bytes([i]) if i < 256 else SPECIALS[i - 256].encode() for i in ids).decode()
want = {"roles": {f"{a + 1}<|eos|>\n{a + 2}<|eos|>\n" for a in range(6)},
        "qwen": {f"{a + 1}<|im_end|>{a + 2}<|im_end|>" for a in range(6)}}
seen = {"roles": 0, "qwen": 0}
for line in open(sys.argv[1]):
    stage, params = line.rstrip("\n").split("|", 1)
    for s in json.loads(params)["seqs"]:
        toks, start, mask = s["tokens"], s["start"], s["mask"]
        assert len(mask) == len(toks) - start, (stage, len(mask), len(toks), start)
        trained = [t for t, m in zip(toks[start:], mask) if m]
        rest = toks[:start] + [t for t, m in zip(toks[start:], mask) if not m]
        got = text(trained)
        if got not in want[stage]:
            sys.exit(f"{stage}: trained text {got!r}, expected the answers of one chat")
        # the user turn between the answers is in the sequence but not trained
        runs = sum(1 for i in range(1, len(mask)) if mask[i] and not mask[i - 1]) + mask[0]
        if runs != 2:
            sys.exit(f"{stage}: {runs} trained runs in {mask}, expected 2 (one per answer)")
        untrained = text(rest)
        for part in ("add", "+1", "+2"):
            if part not in untrained:
                sys.exit(f"{stage}: {part!r} is not among the untrained ids: {untrained!r}")
        seen[stage] += 1
if seen != {"roles": 6, "qwen": 2}:
    sys.exit(f"sequences seen per stage: {seen}")
print("# grad jobs: " + ", ".join(f"{k} {v} sequences" for k, v in seen.items()) +
      ", each trained on its two answers only")
PY

# a chat too long for max_seq is refused before anything runs, naming its line
sed -e 's/max_seq: 192/max_seq: 32/' "$T/chat.yaml" >"$T/short.yaml"
r1rc validate "$T/short.yaml"; expect_rc 1 "validate (max_seq 32)"
grep -q "stage 'roles': dataset 'chats' record [0-5] ($T/chat.jsonl:[1-6]): the SFT chat is [0-9]* tokens ([0-9]* before the first answer), more than max_seq 32" "$T/err" ||
	fail "validate of a chat that does not fit said: $(cat "$T/err")"
log "two sft stages (role templates, chatml) trained on the assistant turns only; a chat over max_seq is refused"
