#!/usr/bin/env bash
# A checkpoint whose config.json does not say its torch_dtype exports in the dtype its
# weights came in, after training too: a tiny Llama stored as BF16, its config.json
# without torch_dtype, trains one pretrain step (the learner's checkpoint is fp32)
# and is exported: every tensor of the export is BF16 and its config.json says
# torch_dtype bfloat16 (before, it was F32, as a config without torch_dtype means).
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
export TMPDIR=$T/tmp R1FLOW_DATA=$DATA
mkdir -p "$TMPDIR"

# DTYPE (a torch dtype tests/ref's writer has): a checkpoint in $T/DTYPE, trained a step, exported to
# $T/DTYPE.out and checked
one() {
	local dtype=$1
	mkdir -p "$T/$dtype"
	/usr/bin/python3 - "$SRC/tests/ref" "$T/$dtype" "$dtype" <<'PY' || fail "cannot write the $dtype checkpoint"
import json, os, sys
sys.path.insert(0, sys.argv[1])
import torch
from llama_ref import init_params, param_specs, write_config, write_safetensors
out, dtype = sys.argv[2], getattr(torch, sys.argv[3])
cfg = dict(vocab=264, dim=32, n_layers=1, n_heads=2, n_kv_heads=2, ffn=64, max_seq=48,
           rope_theta=10000.0, norm_eps=1e-5)
P = init_params(cfg, torch.Generator().manual_seed(4))
write_config(os.path.join(out, "config.json"), cfg)
c = json.load(open(os.path.join(out, "config.json")))
del c["torch_dtype"]
json.dump(c, open(os.path.join(out, "config.json"), "w"), indent=2)
write_safetensors(os.path.join(out, "model.safetensors"),
                  [(n, P[n].to(dtype)) for n, _ in param_specs(cfg)], {"format": "pt"})
PY
	cat >"$T/$dtype.yaml" <<SPEC
version: 1
name: $dtype
seed: 3
model:
  checkpoint: $T/$dtype
datasets:
  train: {generate: arithmetic, digits: 1, operators: "+", style: corpus, count: 16, seed: 1}
stages:
  - {name: pre, kind: pretrain, dataset: train, steps: 1, batch: 2, lr: 1e-3}
SPEC
	r1rc run "$T/$dtype.yaml" --data "$T/d-$dtype" --workers 1 --plain; expect_rc 0 "run ($dtype checkpoint)"
	DATA=$T/d-$dtype start_daemon
	R1FLOW_DATA=$T/d-$dtype r1rc export 1 pre "$T/$dtype.out"; expect_rc 0 "export ($dtype)"
	stop "$DAEMON"
	/usr/bin/python3 - "$T/$dtype.out" "$dtype" <<'PY' || fail "the $dtype model exported in another dtype"
import json, struct, sys
out, dtype = sys.argv[1], sys.argv[2]
c = json.load(open(out + "/config.json"))
assert c.get("torch_dtype") == dtype, c
raw = open(out + "/model.safetensors", "rb").read()
h = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
h.pop("__metadata__", None)
want = {"bfloat16": "BF16", "float16": "F16"}[dtype]
assert h and {v["dtype"] for v in h.values()} == {want}, {k: v["dtype"] for k, v in h.items()}
PY
	log "a $dtype checkpoint without torch_dtype trained a step and exported as $dtype"
}

one bfloat16
log "ok"
