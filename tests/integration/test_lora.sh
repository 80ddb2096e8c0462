#!/usr/bin/env bash
# LoRA stages (core/lora.h, `lora:` in docs/pipelines.md): a tiny pretrain, then an
# sft stage with adapters on all seven projections and a grpo stage from it with
# adapters on two, run with 1 worker and again with 2 on fresh data directories.
# Asserts:
#   - every checkpoint (stage, step, weights sha256, state sha256) is the same with
#     1 and 2 workers and across a daemon kill -9 inside sft (the learner resumes
#     its adapters from the saved state) — the determinism contract;
#   - the adapter stages never change the weights workers fetch: every grad and
#     rollout job of sft and grpo runs the weights of the stage it starts from, with
#     a "lora" adapter blob that changes each step; the gradient blobs the workers
#     send are the adapters' size (4 bytes a parameter), far below the model's;
#   - the adapters train: sft's checkpoints after step 0 are other weights;
#   - `r1flow export` writes the merged weights (a directory `r1flow score` loads)
#     and `--adapter` a PEFT directory: adapter_config.json (peft_type LORA, r,
#     lora_alpha, target_modules, lora_dropout 0) and adapter_model.safetensors with
#     PEFT's tensor names and shapes for every layer and target;
#   - validate refuses an unknown target and a dropout other than 0 by name.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"

cat >"$T/lora.yaml" <<'EOF'
version: 1
name: lora
seed: 7
model:
  config: {dim: 32, layers: 2, heads: 2, kv_heads: 1, ffn: 64, max_seq: 48}
datasets:
  corpus:  {generate: arithmetic, digits: 2, style: corpus, count: 300}
  cold:    {generate: arithmetic, digits: 2, style: worked, count: 100, seed: 1}
  prompts: {generate: arithmetic, digits: 2, style: problem, count: 50, seed: 3}
rewards:
  acc: {fn: accuracy}
  len: {fn: length, max_tokens: 16, buffer: 16}
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 6, batch: 16}
  - {name: sft, kind: sft, from: base, dataset: cold, steps: 8, batch: 16, shard: 4, save_every: 2,
     keep_checkpoints: 100, lr: 1e-2, lora: {rank: 4, alpha: 8}}
  - {name: rl, kind: grpo, from: sft, prompts: prompts, rewards: [acc, len], group: 4,
     prompts_per_step: 2, steps: 2, max_new_tokens: 12, shard: 4, beta: 0.02, save_every: 1,
     keep_checkpoints: 100, lora: {rank: 2, alpha: 4, targets: [q_proj, down_proj]}}
EOF

r1() { "$R1FLOW_CLI" "$@" --data "$DATA"; }
checkpoints() {
	sql "SELECT s.name, c.step, c.sha256, coalesce(c.optimizer, '-') FROM checkpoints c
		JOIN stages s ON s.id = c.stage ORDER BY s.id, c.step"
}
sha_at() {   # STAGE STEP: the weights of that checkpoint
	sql "SELECT c.sha256 FROM checkpoints c JOIN stages s ON s.id = c.stage
		WHERE s.name = '$1' AND c.step = $2"
}
final_sha() {
	sql "SELECT c.sha256 FROM checkpoints c JOIN stages s ON s.id = c.stage
		WHERE s.name = '$1' ORDER BY c.step DESC LIMIT 1"
}

# run NAME WORKERS: the pipeline on $T/NAME; its checkpoints in $T/NAME.ck
run() {
	local name=$1 nw=$2 i
	WPIDS=()
	DATA=$T/$name
	rm -rf "$T/cache"
	start_daemon
	for (( i = 1; i <= nw; i++ )); do start_worker "$name-w$i"; WPIDS+=("$LAST_PID"); done
	wait_for 10 has_workers "$nw"
	ID=$(r1 submit "$T/lora.yaml") || fail "$name: submit refused"
	local rc=0
	timeout 100 "$R1FLOW_CLI" watch "$ID" --data "$DATA" --plain >"$T/$name-watch.log" 2>&1 || rc=$?
	[[ $rc == 0 ]] || fail "$name: watch exited $rc: $(tail -n 5 "$T/$name-watch.log"); $(r1 status "$ID")"
	[[ $(count failed) == 0 ]] || fail "$name: jobs failed: $(sql "SELECT id, error FROM jobs WHERE state = 'failed'")"
	checkpoints >"$T/$name.ck"
	log "$name: $nw worker(s): $(wc -l <"$T/$name.ck") checkpoints, sft $(final_sha sft | cut -c1-12), rl $(final_sha rl | cut -c1-12)"
}

stop_all() {
	local name=$1 pid
	for pid in "${WPIDS[@]}"; do
		stop "$pid"; [[ $STOPPED_RC == 0 ]] || fail "$name: worker $pid exited $STOPPED_RC after SIGTERM"
	done
	stop "$DAEMON"; [[ $STOPPED_RC == 0 ]] || fail "$name: r1flowd exited $STOPPED_RC after SIGTERM"
	mv "$T/daemon.log" "$T/$name-daemon.log"
}

# ---- validate refuses what the adapters do not implement, by name
sed 's/lora: {rank: 4, alpha: 8}/lora: {rank: 4, targets: [q_proj, qkv_proj]}/' "$T/lora.yaml" >"$T/bad1.yaml"
out=$("$R1FLOW_CLI" validate "$T/bad1.yaml" 2>&1) && fail "validate took an unknown target"
[[ $out == *"lora.targets[1]"*"unknown target 'qkv_proj'"* ]] || fail "unknown target: $out"
sed 's/lora: {rank: 4, alpha: 8}/lora: {rank: 4, dropout: 0.05}/' "$T/lora.yaml" >"$T/bad2.yaml"
out=$("$R1FLOW_CLI" validate "$T/bad2.yaml" 2>&1) && fail "validate took dropout 0.05"
[[ $out == *"lora.dropout"*"not supported"* ]] || fail "dropout: $out"
"$R1FLOW_CLI" validate "$T/lora.yaml" >/dev/null || fail "validate refused lora.yaml"

# ---- 1 worker
run one 1
(( $(wc -l <"$T/one.ck") == 2 + 5 + 3 )) || fail "expected 10 checkpoints (base 0 6, sft 0 2 .. 8, rl 0 1 2): $(cat "$T/one.ck")"
BASE=$(final_sha base)
[[ $(sha_at sft 0) == "$BASE" ]] || fail "sft's step 0 is not base's final weights"
[[ $(sha_at sft 2) != "$BASE" && $(sha_at sft 8) != "$(sha_at sft 2)" ]] || fail "the adapters did not train: $(cat "$T/one.ck")"
SFT=$(final_sha sft)
[[ $(sha_at rl 0) == "$SFT" ]] || fail "rl's step 0 is not sft's merged weights"

# the weights workers fetch stay the base; only the adapter blob moves
for st in sft:$BASE rl:$SFT; do
	stage=${st%%:*} want=${st#*:}
	got=$(sql "SELECT DISTINCT json_extract(j.params, '\$.weights') FROM jobs j JOIN stages s ON s.id = j.stage
		WHERE s.name = '$stage' AND j.kind IN ('grad', 'rollout')")
	[[ $got == "$want" ]] || fail "$stage: jobs ran weights $got, expected the frozen $want"
	n=$(sql "SELECT count(DISTINCT json_extract(j.params, '\$.lora.adapter')) FROM jobs j JOIN stages s ON s.id = j.stage
		WHERE s.name = '$stage' AND j.kind = 'grad'")
	steps=$(sql "SELECT count(DISTINCT j.step) FROM jobs j JOIN stages s ON s.id = j.stage
		WHERE s.name = '$stage' AND j.kind = 'grad'")
	(( n == steps && n >= 2 )) || fail "$stage: $n adapter blobs over $steps steps"
done
# sft: 2 layers x 7 targets x rank 4 x (in + out); rl: 2 x rank 2 x ((32 + 32) + (64 + 32))
sft_params=$(( 2 * 4 * ((32 + 32) + (32 + 16) + (32 + 16) + (32 + 32) + (32 + 64) * 2 + (64 + 32)) ))
rl_params=$(( 2 * 2 * ((32 + 32) + (64 + 32)) ))
# what a worker fetched: the base once, then one adapter blob a step, each the
# adapters' size (results.c refuses a gradient that is not 4 bytes an adapter parameter)
fetched() { sed -n "s/.*blob $1 fetched and verified (\([0-9]*\) bytes).*/\1/p" "$T"/one-w1.log | head -n 1; }
base_bytes=$(fetched "$BASE")
last=$(sql "SELECT json_extract(j.params, '\$.lora.adapter') FROM jobs j JOIN stages s ON s.id = j.stage
	WHERE s.name = 'sft' AND j.kind = 'grad' ORDER BY j.step DESC LIMIT 1")
ad_bytes=$(fetched "$last")
[[ -n $base_bytes && -n $ad_bytes ]] || fail "the worker log does not show the base ($BASE) and adapter ($last) fetches"
(( ad_bytes > 4 * sft_params && ad_bytes < 4 * sft_params + 16384 )) ||
	fail "the adapter blob has $ad_bytes bytes for $sft_params parameters"
n=$(grep -c "blob $BASE fetched" "$T"/one-w1.log)
(( n == 1 )) || fail "the worker fetched the base weights $n times"
log "per-step blob: $ad_bytes bytes of adapters (sft: $sft_params parameters) vs $base_bytes bytes of weights, fetched once"

# ---- 2 workers: the same checkpoints
stop_all one
run two 2
diff "$T/one.ck" "$T/two.ck" >"$T/two.diff" || fail "checkpoints differ with 2 workers: $(cat "$T/two.diff")"
log "every checkpoint identical with 1 and 2 workers"

# ---- the daemon killed -9 inside sft (after its step-2 save) and restarted: the
# learner resumes its adapters from the saved state and ends on the same checkpoints
stop_all two
DATA=$T/restart
rm -rf "$T/cache"
start_daemon
start_worker restart-w1; W1=$LAST_PID; WPIDS=("$W1")
wait_for 10 has_workers 1
ID=$(r1 submit "$T/lora.yaml") || fail "restart: submit refused"
sft_step() { sql "SELECT step FROM stages WHERE name = 'sft'"; }
deadline=$(( $(now_ms) + 60000 ))
while :; do
	(( $(now_ms) < deadline )) || fail "restart: never saw sft past step 2"
	s=$(sft_step)
	(( ${s:-0} >= 3 )) && break
	sleep 0.02
done
(( s < 8 )) || fail "restart: sft finished (step $s) before the daemon could be killed"
kill -KILL "$DAEMON"; wait "$DAEMON" 2>/dev/null || true
saved=$(sql "SELECT max(c.step) FROM checkpoints c JOIN stages s ON s.id = c.stage
	WHERE s.name = 'sft' AND c.optimizer IS NOT NULL")
log "restart: daemon killed -9 at sft step $s, last saved step $saved"
from=$(( $(wc -l <"$T/daemon.log") + 1 ))
sleep 0.5
start_daemon
rc=0
timeout 100 "$R1FLOW_CLI" watch "$ID" --data "$DATA" --plain >"$T/restart-watch.log" 2>&1 || rc=$?
[[ $rc == 0 ]] || fail "restart: watch exited $rc: $(tail -n 5 "$T/restart-watch.log")"
tail -n "+$from" "$T/daemon.log" | grep -q "learner resumed at saved step $saved\$" ||
	fail "restart: no 'learner resumed at saved step $saved' after the restart"
checkpoints >"$T/restart.ck"
diff "$T/one.ck" "$T/restart.ck" >"$T/restart.diff" || fail "checkpoints differ after a daemon restart: $(cat "$T/restart.diff")"
log "every checkpoint identical across a daemon kill -9 inside the lora stage (resumed at step $saved)"

# ---- export: merged weights, and the adapters as PEFT writes them
r1 export "$ID" sft "$T/merged" >/dev/null || fail "export of sft failed"
r1 export "$ID" base "$T/base" >/dev/null || fail "export of base failed"
for m in base merged; do
	"$R1FLOW_CLI" score --model "$T/$m" --text "12+34=46" --json >"$T/$m.score" ||
		fail "r1flow score cannot load the exported $m model: $(cat "$T/$m.score")"
done
cmp -s "$T/base.score" "$T/merged.score" && fail "the merged export scores like the base: adapters lost"
out=$(r1 export "$ID" base "$T/none" --adapter 2>&1) && fail "export --adapter of a stage without lora succeeded"
[[ $out == *"trained no adapters"* ]] || fail "export --adapter of base: $out"
r1 export "$ID" sft "$T/adapter" --adapter >"$T/export.log" 2>&1 || fail "export --adapter failed: $(cat "$T/export.log")"
/usr/bin/python3 - "$T/merged" "$T/adapter" "$T/base" <<'EOF' || fail "the exported directories are not what PEFT and transformers read"
import json, struct, sys
import numpy as np
merged, adapter, base = sys.argv[1], sys.argv[2], sys.argv[3]
def header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))
def tensor(path, name):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        a, b = h[name]["data_offsets"]
        assert h[name]["dtype"] == "F32"
        f.seek(8 + n + a)
        return np.frombuffer(f.read(b - a), dtype="<f4").reshape(h[name]["shape"]).astype(np.float64)
cfg = json.load(open(adapter + "/adapter_config.json"))
want = dict(peft_type="LORA", r=4, lora_alpha=8, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM")
for k, v in want.items():
    assert cfg.get(k) == v, (k, cfg.get(k), v)
targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
assert sorted(cfg["target_modules"]) == sorted(targets), cfg["target_modules"]
h = header(adapter + "/adapter_model.safetensors")
h.pop("__metadata__", None)
mh = header(merged + "/model.safetensors")
mods = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
        "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}
names = set()
for l in range(2):
    for t in targets:
        p = "base_model.model.model.layers.%d.%s.%s" % (l, mods[t], t)
        out, inp = mh["model.layers.%d.%s.%s.weight" % (l, mods[t], t)]["shape"]
        assert h[p + ".lora_A.weight"]["shape"] == [4, inp], (p, h[p + ".lora_A.weight"])
        assert h[p + ".lora_B.weight"]["shape"] == [out, 4], (p, h[p + ".lora_B.weight"])
        names |= {p + ".lora_A.weight", p + ".lora_B.weight"}
assert set(h) == names, sorted(set(h) ^ names)
# merged = base + (alpha / r) B A for every target; untouched tensors equal the base
worst = 0.0
for name in mh:
    if name == "__metadata__":
        continue
    W = tensor(base + "/model.safetensors", name)
    M = tensor(merged + "/model.safetensors", name)
    parts = name.split(".")
    if len(parts) == 6 and parts[4] in mods:
        p = "base_model.model.model.layers.%s.%s.%s" % (parts[2], parts[3], parts[4])
        A = tensor(adapter + "/adapter_model.safetensors", p + ".lora_A.weight")
        B = tensor(adapter + "/adapter_model.safetensors", p + ".lora_B.weight")
        assert np.abs(B).max() > 0, "%s: lora_B is still zero" % p
        W = W + 2.0 * B @ A
    else:
        assert np.array_equal(W, M), "%s changed without an adapter" % name
    worst = max(worst, float(np.abs(W - M).max() / (np.abs(W).max() + 1e-30)))
assert worst < 1e-6, worst
print("peft directory ok: %d tensors; merged == base + (alpha/r) B A (max rel diff %.1e)" % (len(h), worst))
EOF
stop_all restart
log "ok"
