#!/usr/bin/env bash
# `r1flow train` is a thin front over run and export: the spec it prints validates,
# and the model it saves (weights, config, tokenizer files) is byte for byte what
# `r1flow run` of that spec followed by `r1flow export` of its stage makes (so its
# options mean what the spec keys mean).
# It leaves no data directory behind after a success, refuses a --out that is a file
# before training, and needs --out.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
export TMPDIR=$T/tmp R1FLOW_DATA=$DATA
mkdir -p "$TMPDIR"

OPTS=(--steps 3 --batch 4 --dim 16 --layers 1 --heads 2 --ffn 32 --max-seq 48 --seed 7
	--lr 0.002 --min-lr-ratio 0.5)

r1rc train "${OPTS[@]}" --print-spec; expect_rc 0 "train --print-spec"
cp "$T/out" "$T/train.yaml"
grep -q 'kind: pretrain' "$T/train.yaml" || fail "the printed spec has no pretrain stage: $(cat "$T/train.yaml")"
r1rc validate "$T/train.yaml"; expect_rc 0 "validate (train's spec)"

r1rc train "${OPTS[@]}" --out "$T/model" --workers 1 --threads 1; expect_rc 0 train
grep -q "^model saved to $T/model (step 3, sha256 " "$T/out" || fail "train said: $(cat "$T/out")"
[[ -s $T/model/model.safetensors && -s $T/model/config.json ]] || fail "train wrote no model"
[[ -z $(ls -A "$TMPDIR") ]] || fail "train left behind: $(ls -A "$TMPDIR")"

# the same spec through run, then export from its kept data directory
r1rc run "$T/train.yaml" --data "$DATA" --workers 1 --plain; expect_rc 0 "run (train's spec)"
start_daemon
r1rc export 1 pretrain "$T/exported"; expect_rc 0 export
cmp "$T/model/model.safetensors" "$T/exported/model.safetensors" ||
	fail "train's weights differ from run + export of the spec it prints"
cmp "$T/model/config.json" "$T/exported/config.json" || fail "train's config.json differs from export's"
for f in tokenizer.json tokenizer_config.json generation_config.json; do
	cmp "$T/model/$f" "$T/exported/$f" || fail "train's $f differs from export's"
done
log "train = run + export of its --print-spec ($(stat -c %s "$T/model/model.safetensors") bytes)"

# errors: before any training
: >"$T/afile"
r1rc train --out "$T/afile" --steps 1; expect_rc 1 "train --out FILE"
grep -q "'$T/afile' exists and is not a directory" "$T/err" || fail "train --out FILE said: $(cat "$T/err")"
[[ -z $(ls -A "$TMPDIR") ]] || fail "train --out FILE started a run: $(ls -A "$TMPDIR")"
r1rc train --steps 1; expect_rc 2 "train without --out"
grep -q -- "--out DIR is required" "$T/err" || fail "train without --out said: $(cat "$T/err")"
log "train refuses a file as --out and a missing --out before training"
