#!/usr/bin/env bash
# A `config` model of each Hugging Face family other than Llama, made fresh: a Qwen3
# (per-head q/k norms, head_dim 24 with 2 heads over a width of 32, tied head) and a
# Qwen2 (q/k/v biases) each train one pretrain step and are exported. The export's
# config.json names the class (Qwen3ForCausalLM, Qwen2ForCausalLM) with its keys, and
# its tensors are exactly that family's (names and shapes of tests/ref's reference
# model). The Qwen3 export then loads as a checkpoint (validate checks it as any
# Hugging Face directory). validate refuses an odd head_dim and an unknown
# architecture, naming the key.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export TMPDIR=$T/tmp R1FLOW_DATA=$DATA
mkdir -p "$TMPDIR"

spec() { # NAME CONFIG
	cat <<SPEC
version: 1
name: $1
seed: 3
model:
  config: $2
datasets:
  train: {generate: arithmetic, digits: 1, operators: "+", style: corpus, count: 16, seed: 1}
stages:
  - {name: pre, kind: pretrain, dataset: train, steps: 1, batch: 2, lr: 1e-3}
SPEC
}

# ARCH CONFIG HEAD_DIM: run the pipeline (data directory $T/ARCH), export its stage to
# $T/ARCH.out and check the directory against the reference model's tensors
fresh() {
	local arch=$1 config=$2 hd=$3
	spec "$arch" "$config" >"$T/$arch.yaml"
	r1rc validate "$T/$arch.yaml"; expect_rc 0 "validate ($arch config)"
	r1rc run "$T/$arch.yaml" --data "$T/$arch" --workers 1 --plain; expect_rc 0 "run ($arch config)"
	DATA=$T/$arch start_daemon
	R1FLOW_DATA=$T/$arch r1rc export 1 pre "$T/$arch.out"; expect_rc 0 "export ($arch)"
	stop "$DAEMON"
	/usr/bin/python3 - "$SRC/tests/ref" "$T/$arch.out" "$arch" "$hd" <<'PY' ||
import json, struct, sys
sys.path.insert(0, sys.argv[1])
from llama_ref import ARCH_CLASS, param_specs
out, arch, hd = sys.argv[2], sys.argv[3], int(sys.argv[4])
c = json.load(open(out + "/config.json"))
assert (c["model_type"], c["architectures"]) == (arch, [ARCH_CLASS[arch]]), c
c.setdefault("head_dim", c["hidden_size"] // c["num_attention_heads"])
assert c["head_dim"] == hd and c["torch_dtype"] == "float32", c
assert c["attention_bias"] is False if arch == "qwen3" else "attention_bias" not in c, c
cfg = dict(vocab=c["vocab_size"], dim=c["hidden_size"], n_layers=c["num_hidden_layers"],
           n_heads=c["num_attention_heads"], n_kv_heads=c["num_key_value_heads"],
           head_dim=c["head_dim"], ffn=c["intermediate_size"], arch=arch,
           tied=c["tie_word_embeddings"])
raw = open(out + "/model.safetensors", "rb").read()
h = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
h.pop("__metadata__", None)
got = {k: v["shape"] for k, v in h.items()}
want = {n: list(s) for n, s in param_specs(cfg)}
assert got == want, (sorted(set(got) ^ set(want)), got)
PY
		fail "the $arch export is not a $arch directory"
}

fresh qwen3 "{architecture: qwen3, dim: 32, layers: 2, heads: 2, kv_heads: 1, head_dim: 24, ffn: 64, max_seq: 48, tied: true}" 24
log "a fresh Qwen3 config (head_dim 24 x 2 heads over dim 32, tied) trained a step; its export is a Qwen3ForCausalLM directory"
fresh qwen2 "{architecture: qwen2, dim: 32, layers: 1, heads: 4, kv_heads: 2, ffn: 64, max_seq: 48}" 8
log "a fresh Qwen2 config trained a step; its export is a Qwen2ForCausalLM directory with q/k/v biases"

# the Qwen3 export is a checkpoint like any other
cat >"$T/again.yaml" <<SPEC
version: 1
name: again
model:
  checkpoint: $T/qwen3.out
datasets:
  test: {generate: arithmetic, digits: 1, operators: "+", style: problem, count: 2, seed: 2}
stages:
  - {name: ev, kind: eval, dataset: test, samples: 1, max_new_tokens: 4}
SPEC
r1rc validate "$T/again.yaml"; expect_rc 0 "validate (the Qwen3 export as a checkpoint)"

# refusals, by key
spec bad "{architecture: qwen3, dim: 32, heads: 2, head_dim: 15}" >"$T/bad.yaml"
r1rc validate "$T/bad.yaml"; expect_rc 1 "validate (odd head_dim)"
grep -q "key 'model.config.head_dim': expected an even number (rope), got 15" "$T/err" ||
	fail "an odd head_dim: $(cat "$T/err")"
spec bad "{architecture: gpt2, dim: 32, heads: 2}" >"$T/bad.yaml"
r1rc validate "$T/bad.yaml"; expect_rc 1 "validate (unknown architecture)"
grep -q "key 'model.config.architecture'.*'gpt2'" "$T/err" || fail "architecture gpt2: $(cat "$T/err")"
log "validate refuses an odd head_dim and architecture gpt2"
log "ok"
