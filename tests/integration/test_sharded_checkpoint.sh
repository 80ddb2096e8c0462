#!/usr/bin/env bash
# A sharded BF16 checkpoint, as Hugging Face writes one, end to end: a small model
# (made by `r1flow train`, F32) is rewritten by PyTorch — an independent writer of
# the format — as BF16 (torch's rounding) in three shards named by
# model.safetensors.index.json, with torch_dtype bfloat16 in config.json. validate
# accepts it; a 1-step pretrain trains from it (fp32 compute); export with a small
# --max-shard-size writes BF16 shards in save_pretrained's layout whose values are
# torch's bf16 rounding of the stage's fp32 weights, bit for bit; and that exported
# directory, read by a second pipeline (an eval stage, which records the weights it
# used) and exported again, comes back byte for byte. A shard missing is refused
# at validate and submit, naming the user's file.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
export TMPDIR=$T/tmp R1FLOW_DATA=$DATA
mkdir -p "$TMPDIR"
expect_rc() { [[ $RC == "$1" ]] || fail "r1flow $2 exited $RC, expected $1: $(cat "$T/err") $(tail -n 20 "$T/out")"; }

r1rc train --out "$T/base" --steps 1 --batch 2 --dim 32 --layers 2 --heads 2 --ffn 64 \
	--max-seq 48 --workers 1 --threads 1; expect_rc 0 "train (the base model)"

# safetensors by hand (no safetensors package): 8-byte length, JSON header, data
cat >"$T/st.py" <<'PY'
import json, struct, torch
DT = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}
def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    meta = h.pop("__metadata__", None)
    out = {}
    for k, v in h.items():
        s, e = v["data_offsets"]
        raw = bytearray(b[8 + n + s:8 + n + e])
        t = torch.frombuffer(raw, dtype=DT[v["dtype"]]) if e > s else torch.zeros(0, dtype=DT[v["dtype"]])
        out[k] = (v["dtype"], t.reshape(v["shape"]).clone())
    return out, meta, [k for k, _ in sorted(h.items(), key=lambda kv: kv[1]["data_offsets"][0])]
def write(path, tensors):
    hdr, off, data = {"__metadata__": {"format": "pt"}}, 0, []
    for k, t in tensors:
        b = t.contiguous().view(torch.uint8).numpy().tobytes() if t.numel() else b""
        hdr[k] = {"dtype": {v: k for k, v in DT.items()}[t.dtype], "shape": list(t.shape),
                  "data_offsets": [off, off + len(b)]}
        off += len(b)
        data.append(b)
    j = json.dumps(hdr).encode()
    j += b" " * (-len(j) % 8)
    open(path, "wb").write(struct.pack("<Q", len(j)) + j + b"".join(data))
PY

# base -> bf: BF16 (torch's round to nearest even), three shards, an index
/usr/bin/python3 - "$T" <<'PY'
import json, os, shutil, sys, torch
sys.path.insert(0, sys.argv[1]); from st import read, write
T = sys.argv[1]
tensors, _, order = read(f"{T}/base/model.safetensors")
os.mkdir(f"{T}/bf")
for f in os.listdir(f"{T}/base"):
    if f != "model.safetensors":
        shutil.copy(f"{T}/base/{f}", f"{T}/bf/{f}")
cfg = json.load(open(f"{T}/bf/config.json"))
cfg["torch_dtype"] = "bfloat16"
json.dump(cfg, open(f"{T}/bf/config.json", "w"), indent=2)
parts = [order[i::3] for i in range(3)]   # interleaved: a shard is not a contiguous run
wm = {}
for i, names in enumerate(parts):
    fn = f"model-{i + 1:05d}-of-00003.safetensors"
    write(f"{T}/bf/{fn}", [(k, tensors[k][1].to(torch.bfloat16)) for k in names])
    wm.update({k: fn for k in names})
json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, open(f"{T}/bf/model.safetensors.index.json", "w"))
PY
[[ ! -e $T/bf/model.safetensors ]] || fail "the sharded copy has a model.safetensors"

cat >"$T/tune.yaml" <<SPEC
version: 1
name: tune
seed: 3
model: {checkpoint: $T/bf}
datasets:
  corpus: {generate: arithmetic, style: corpus, count: 16, seed: 1}
stages:
  - {name: tune, kind: pretrain, dataset: corpus, steps: 1, batch: 2, lr: 1e-3}
SPEC
r1rc validate "$T/tune.yaml"; expect_rc 0 "validate (sharded BF16 checkpoint)"
r1rc run "$T/tune.yaml" --data "$DATA" --workers 1 --plain; expect_rc 0 "run (sharded BF16 checkpoint)"
log "a 1-step pretrain trains from a BF16 checkpoint in 3 shards"

start_daemon
# the stage's fp32 weights: the blob of its last checkpoint
sha=$(sql "SELECT c.sha256 FROM checkpoints c JOIN stages s ON s.id = c.stage WHERE s.name = 'tune' ORDER BY c.step DESC LIMIT 1")
[[ -f $DATA/blobs/$sha ]] || fail "no blob for the tune stage's checkpoint ($sha)"
r1rc export --max-shard-size 20000 1 tune "$T/exp"; expect_rc 0 "export --max-shard-size 20000"
/usr/bin/python3 - "$T" "$DATA/blobs/$sha" <<'PY'
import json, os, sys, torch
sys.path.insert(0, sys.argv[1]); from st import read
T, blob = sys.argv[1], sys.argv[2]
fp32, _, order = read(blob)
assert all(d == "F32" for d, _ in fp32.values()), "the learner's weights are not fp32"
assert not os.path.exists(f"{T}/exp/model.safetensors"), "one file beside the shards"
idx = json.load(open(f"{T}/exp/model.safetensors.index.json"))
assert sorted(idx) == ["metadata", "weight_map"], idx.keys()
wm = idx["weight_map"]
assert sorted(wm) == sorted(fp32), "the index maps other tensors than the model's"
files = sorted(set(wm.values()))
n = len(files)
assert n >= 2 and files == [f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)], files
got, total = {}, 0
for f in files:
    t, meta, _ = read(f"{T}/exp/{f}")
    assert meta == {"format": "pt"}, meta
    for k, (d, x) in t.items():
        assert wm[k] == f, (k, f)
        assert d == "BF16", (k, d)
        total += x.numel() * 2
        got[k] = x
assert idx["metadata"]["total_size"] == total, (idx["metadata"], total)
# save_pretrained's split, in the model's order, of at most 20000 bytes per shard
shard, cur, want = 0, 0, {}
for k in order:
    size = fp32[k][1].numel() * 2
    if size > 20000:
        raise SystemExit(f"{k} is bigger than a shard: pick a bigger --max-shard-size")
    if cur + size > 20000 or shard == 0:
        shard, cur = shard + 1, 0
    want[k] = f"model-{shard:05d}-of-{n:05d}.safetensors"
    cur += size
assert want == wm, "not save_pretrained's split"
for k, (_, x) in fp32.items():
    r = x.to(torch.bfloat16)
    assert torch.equal(got[k].view(torch.int16), r.view(torch.int16)), f"{k}: not torch's bf16 rounding"
cfg = json.load(open(f"{T}/exp/config.json"))
assert cfg["torch_dtype"] == "bfloat16", cfg
print(f"{n} shards, {total} bytes")
PY
log "export: BF16 shards in save_pretrained's layout, torch's rounding of the fp32 weights bit for bit"

# the exported directory read back by a second pipeline and exported again: the same bytes
cat >"$T/again.yaml" <<SPEC
version: 1
name: again
seed: 3
model: {checkpoint: $T/exp}
datasets:
  test: {generate: arithmetic, digits: 1, operators: "+", style: problem, count: 2, seed: 2}
stages:
  - {name: ev, kind: eval, dataset: test, samples: 1, max_new_tokens: 2}
SPEC
start_worker w1 --name w1
r1rc submit "$T/again.yaml"; expect_rc 0 "submit (the exported directory)"
ID=$(grep -o '[0-9]*' "$T/out" | head -n 1)
r1rc watch "$ID" --plain; expect_rc 0 "watch $ID"
r1rc export --max-shard-size 20000 "$ID" ev "$T/exp2"; expect_rc 0 "export of the eval stage"
for f in "$T"/exp/*; do
	cmp "$f" "$T/exp2/$(basename "$f")" || fail "$(basename "$f") differs after a reload"
done
[[ $(ls "$T/exp" | wc -l) == $(ls "$T/exp2" | wc -l) ]] || fail "the re-export has other files: $(ls "$T/exp2")"
log "the exported shards reload and export again byte for byte"

# refusals name the user's file
rm "$T/bf/model-00002-of-00003.safetensors"
r1rc validate "$T/tune.yaml"; expect_rc 1 "validate (a shard missing)"
grep -q "$T/bf/model-00002-of-00003.safetensors': No such file or directory" "$T/err" ||
	fail "validate of a missing shard said: $(cat "$T/err")"
r1rc submit "$T/tune.yaml"; expect_rc 1 "submit (a shard missing)"
grep -q "$T/bf/model-00002-of-00003.safetensors" "$T/err" || fail "submit said: $(cat "$T/err")"
log "a missing shard is refused at validate and submit, naming it"
