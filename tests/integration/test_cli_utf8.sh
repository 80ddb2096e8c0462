#!/usr/bin/env bash
# Text that is not UTF-8 through the CLI: what an untrained model writes (byte tokens),
# a file name or an argument in another encoding. Every --json output parses (such
# bytes show as U+FFFD), and every error is the real one, never "out of memory".
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
PROBE=$SRC/pipelines/probe.yaml
export R1FLOW_DATA=$DATA

no_oom() { ! grep -q "out of memory" "$T/err" || fail "$1 said: $(cat "$T/err")"; }

# --- sample --json on an untrained model: its bytes are noise, often not UTF-8
r1rc train --out "$T/model" --steps 1 --dim 16 --layers 1 --heads 2 --ffn 32 \
	--threads 1 --workers 1
expect_rc 0 "train (a fresh tiny model)"
r1rc sample --model "$T/model" --prompt '12+34=' --json -n 8 --temperature 2 \
	--max-new-tokens 32 --threads 1
no_oom "sample --json"
expect_rc 0 "sample --json"
/usr/bin/python3 - "$T/out" <<'PY' || fail "sample --json: $(head -c 600 "$T/out")"
import json, sys
lines = open(sys.argv[1], encoding="ascii").read().splitlines()
assert len(lines) == 8, len(lines)
bad = 0
for line in lines:
    d = json.loads(line)
    assert len(d["tokens"]) == len(d["logprobs"]) > 0
    assert d["finish"] in ("stop", "length")
    bad += "\ufffd" in d["text"]
print("# samples whose text was not UTF-8:", bad, "of 8")
assert bad > 0
PY
r1rc sample --model "$T/model" --prompt '12+34=' -n 8 --temperature 2 --max-new-tokens 32 \
	--threads 1
expect_rc 0 "sample"
[[ $(grep -c '^--- sample [0-7]: ' "$T/out") == 8 ]] || fail "sample: not 8 samples"
log "sample --json: 8 lines parse, untrained bytes as U+FFFD"

# --- --set with a value that is not UTF-8: refused as such
r1rc validate "$PROBE" --set $'stages.a.payload=caf\xe9'
expect_rc 1 "validate --set (Latin-1)"
grep -q "stages.a.payload.*not UTF-8" "$T/err" || fail "validate --set: $(cat "$T/err")"
# a spec in a directory whose name is not UTF-8: its relative dataset path cannot be
mkdir "$T/"$'caf\xe9'
printf '{"prompt": "1+1=", "answer": "2"}\n' >"$T/"$'caf\xe9/d.jsonl'
cat >"$T/"$'caf\xe9/s.yaml' <<'SPEC'
version: 1
name: latin
model:
  config: {dim: 16, layers: 1, heads: 2, ffn: 32, max_seq: 48}
datasets:
  test: {file: d.jsonl}
stages:
  - {name: eval_base, kind: eval, dataset: test, samples: 2, max_new_tokens: 8}
SPEC
r1rc validate "$T/"$'caf\xe9/s.yaml'
no_oom "validate (a spec in a Latin-1 directory)"
expect_rc 1 "validate (a spec in a Latin-1 directory)"
grep -q "s.yaml:6:.*dataset.*the path '.*caf"$'\xef\xbf\xbd'"/d.jsonl' is not UTF-8" "$T/err" ||
	fail "validate (a spec in a Latin-1 directory): $(cat "$T/err")"

# --- against a daemon: arguments and file names in another encoding
start_daemon
r1rc drain $'caf\xe9'
expect_rc 1 "drain (Latin-1 name)"
grep -q "no live worker named 'caf"$'\xef\xbf\xbd'"'" "$T/err" || fail "drain: $(cat "$T/err")"
r1rc submit "$PROBE" --set stages.a.jobs=2
expect_rc 0 submit
no_stage() {
	local what=$1; shift
	r1rc "$@"
	expect_rc 1 "$what (a stage name that is not UTF-8)"
	grep -q "pipeline 1 has no stage 'z"$'\xef\xbf\xbd'"'" "$T/err" || fail "$what: $(cat "$T/err")"
}
no_stage metrics metrics 1 --stage $'z\xff'
no_stage samples samples 1 $'z\xff'
no_stage export export 1 $'z\xff' "$T/exported" --json
printf '{"prompt": "1+1=", "answer": "2"}\n' >"$T/"$'caf\xe9.jsonl'
r1rc dataset import "$T/"$'caf\xe9.jsonl' --name latin --json
no_oom "dataset import (a Latin-1 file name)"
expect_rc 0 "dataset import (a Latin-1 file name)"
r1rc datasets --json
expect_rc 0 "datasets --json"
/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
src = [x["source"] for x in d["datasets"] if x["name"] == "latin"]
assert src and "caf\ufffd.jsonl" in json.dumps(src[0], ensure_ascii=False), src
' "$T/out" || fail "datasets --json: $(cat "$T/out")"
log "non-UTF-8 arguments and file names: the real errors, JSON that parses"
log "ok"
