#!/usr/bin/env bash
# The run exports and the comparison against a real daemon and 1 worker: two small
# R1-shaped pipelines (a pretrain, a GRPO, an eval over two datasets; the second with
# another seed) and a third with the pretrain only.
#   metrics --wide --csv    one row per step (per stage and step without --stage), the
#                           columns step (stage first without --stage) then the metric
#                           names sorted, and exactly the narrow CSV's points and text
#   metrics [--wide] --jsonl  every line parses; the same points as the narrow CSV
#   metrics --tensorboard   one file per pipeline in DIR/ID-NAME/, named
#                           events.out.tfevents.CREATED.HOST.r1flow-ID, read back by
#                           tests/ref/tb_read.py (python3-protobuf, its own CRC32C):
#                           both CRCs of every record, file_version brain.Event:2, the
#                           tags STAGE/METRIC, steps and values the metrics op's (values
#                           as float32), wall times the database's; a damaged byte is
#                           caught; a second export is refused (the file unchanged)
#                           until --force, which leaves one file
#   compare                 both pipelines' eval rows (pooled and per dataset) with the
#                           report's values, the training stages' last step and final
#                           values; stages matched by name ('-' where the third lacks
#                           them); --markdown is a well-formed table of the same cells
#   during a run            a pipeline paused mid-pretrain: wide CSV with a row per step
#                           so far, the event file with those steps, compare saying paused
#   errors                  unknown ids (metrics, --tensorboard, compare) and stages,
#                           usage errors, no daemon (nothing written)
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"
export R1FLOW_DATA=$DATA
PY=/usr/bin/python3
TB_READ=$(cd "$(dirname "$0")/../ref" && pwd)/tb_read.py
"$PY" -c 'import google.protobuf' 2>/dev/null ||
	fail "python3-protobuf is not installed for /usr/bin/python3 (scripts/deps.sh)"

cat >"$T/a.yaml" <<'EOF'
version: 1
name: exp-a
seed: 5
model:
  config: {dim: 32, layers: 1, heads: 2, ffn: 64, max_seq: 48}
datasets:
  corpus:  {generate: arithmetic, digits: 2, style: corpus, count: 200}
  prompts: {generate: arithmetic, digits: 2, style: problem, count: 40, seed: 3}
  test:    {generate: arithmetic, digits: 2, style: problem, count: 8, seed: 2}
  more:    {generate: arithmetic, digits: 2, style: problem, count: 4, seed: 4}
rewards:
  acc: {fn: accuracy}
  len: {fn: length, max_tokens: 8, buffer: 8}
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 4, batch: 8}
  - {name: zero, kind: grpo, from: base, prompts: prompts, rewards: [acc, len], group: 4,
     prompts_per_step: 2, steps: 2, max_new_tokens: 8, shard: 8}
  - {name: ev, kind: eval, from: zero, datasets: [test, more], samples: 2, max_new_tokens: 8}
EOF
cat >"$T/c.yaml" <<'EOF'
version: 1
name: exp-c
seed: 1
model:
  config: {dim: 32, layers: 1, heads: 2, ffn: 64, max_seq: 48}
datasets:
  corpus: {generate: arithmetic, digits: 2, style: corpus, count: 100}
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 2, batch: 8}
EOF

# --- help and usage errors need no daemon
r1rc metrics --help; expect_rc 0 "metrics --help"
for w in --wide --jsonl --tensorboard --force "tensorboard --logdir" "exit status"; do
	grep -q -- "$w" "$T/out" || fail "metrics --help does not mention $w: $(cat "$T/out")"
done
r1rc compare --help; expect_rc 0 "compare --help"
grep -q "r1flow compare" "$T/out" && grep -q -- "--markdown" "$T/out" && grep -q "example:" "$T/out" &&
	grep -q "exit status" "$T/out" || fail "compare --help: $(cat "$T/out")"
r1rc --help; grep -q "^  compare " "$T/out" || fail "r1flow --help does not list compare: $(cat "$T/out")"
for args in "metrics 1 --wide" "metrics 1 --csv --jsonl" "metrics 1 --csv --tensorboard x" \
	"metrics 1 --json --jsonl" "metrics 1 --force" "metrics 1 --tensorboard=" "compare 1" "compare 1 x" \
	"compare 0 1" "compare 1 2 --nope"; do
	r1rc $args; expect_rc 2 "$args"
	grep -q "see 'r1flow ${args%% *} --help'" "$T/err" || fail "$args: usage error without a pointer: $(cat "$T/err")"
done
for args in "compare 1 2" "metrics 1 --tensorboard $T/tb0" "metrics 1 --wide --jsonl"; do
	r1rc $args; expect_rc 1 "$args (no daemon)"
	grep -q "no daemon at 'ipc://$DATA/control.sock'" "$T/err" || fail "$args without a daemon said: $(cat "$T/err")"
done
[[ ! -e $T/tb0 ]] || fail "metrics --tensorboard without a daemon made its directory"
log "help, usage errors, no daemon"

start_daemon
start_worker w1 --name w1 --threads 1
wait_for 10 has_workers 1
# one after the other: r1flowd aborts in pool_for when two pipelines' learners overlap
# (seen while writing this test; not what it is about)
submit_and_watch() {
	r1rc submit "$@"; expect_rc 0 "submit $*"
	local id; id=$(cat "$T/out")
	r1rc watch "$id" --plain; expect_rc 0 "watch $id"
	[[ $(tail -n 1 "$T/out") == *succeeded* ]] || fail "pipeline $id did not succeed: $(tail -n 3 "$T/out")"
	ID=$id
}
submit_and_watch "$T/a.yaml"; A=$ID
submit_and_watch "$T/a.yaml" --set seed=6 --set name=exp-b; B=$ID
submit_and_watch "$T/c.yaml"; C=$ID
log "pipelines $A, $B (another seed) and $C (pretrain only) succeeded"

# --- wide CSV and JSONL against the narrow CSV
r1rc metrics "$A" --csv; expect_rc 0 "metrics --csv"; cp "$T/out" "$T/narrow.csv"
r1rc metrics "$A" --stage zero --csv; expect_rc 0 "metrics --stage zero --csv"; cp "$T/out" "$T/narrow-zero.csv"
r1rc metrics "$A" --wide --csv; expect_rc 0 "metrics --wide --csv"; cp "$T/out" "$T/wide.csv"
r1rc metrics "$A" --stage zero --wide --csv; expect_rc 0 "metrics --stage zero --wide --csv"; cp "$T/out" "$T/wide-zero.csv"
r1rc metrics "$A" --jsonl; expect_rc 0 "metrics --jsonl"; cp "$T/out" "$T/narrow.jsonl"
r1rc metrics "$A" --wide --jsonl; expect_rc 0 "metrics --wide --jsonl"; cp "$T/out" "$T/wide.jsonl"
r1rc metrics "$A" --stage zero --wide --jsonl; expect_rc 0 "metrics --stage zero --wide --jsonl"; cp "$T/out" "$T/wide-zero.jsonl"
"$PY" - "$T" <<'EOF' || fail "wide exports: see above"
import csv, json, sys
T = sys.argv[1]
def bad(msg):
    print("FAIL: " + msg); sys.exit(1)
def narrow(path):
    rows = list(csv.reader(open(path)))
    if rows[0] != ["stage", "step", "name", "value"]:
        bad("narrow header %r" % rows[0])
    pts = {(r[0], int(r[1]), r[2]): r[3] for r in rows[1:]}
    if len(pts) != len(rows) - 1:
        bad("narrow CSV repeats a point")
    return pts
def wide(path, one_stage):
    rows = list(csv.reader(open(path)))
    head = rows[0]
    lead = ["step"] if one_stage else ["stage", "step"]
    if head[:len(lead)] != lead:
        bad("%s: header starts %r, expected %r" % (path, head[:2], lead))
    names = head[len(lead):]
    if names != sorted(names) or len(set(names)) != len(names):
        bad("%s: metric columns not sorted or repeated: %r" % (path, names))
    pts, keys = {}, []
    for r in rows[1:]:
        if len(r) != len(head):
            bad("%s: a row of %d cells under %d columns" % (path, len(r), len(head)))
        stage = "zero" if one_stage else r[0]
        step = int(r[len(lead) - 1])
        keys.append((stage, step))
        for n, v in zip(names, r[len(lead):]):
            if v != "":
                pts[(stage, step, n)] = v
    if len(set(keys)) != len(keys):
        bad("%s: a step has more than one row" % path)
    return pts, keys
full = narrow(T + "/narrow.csv")
zero = narrow(T + "/narrow-zero.csv")
w, keys = wide(T + "/wide.csv", False)
wz, zkeys = wide(T + "/wide-zero.csv", True)
if w != full:
    bad("wide CSV points differ from the narrow CSV's: %r" % (set(w.items()) ^ set(full.items())))
if wz != zero:
    bad("wide --stage zero points differ from the narrow CSV's")
if sorted(set((s, st) for s, st, _ in full)) != sorted(keys) or [k[0] for k in keys] != ["base"] * 4 + ["zero"] * 2 + ["ev"]:
    bad("wide CSV rows are not one per stage and step in spec order: %r" % keys)
if zkeys != [("zero", 1), ("zero", 2)]:
    bad("wide --stage zero rows: %r" % zkeys)
for path in ("narrow.jsonl", "wide.jsonl", "wide-zero.jsonl"):
    got = {}
    for line in open(T + "/" + path):
        o = json.loads(line)
        if path == "narrow.jsonl":
            got[(o["stage"], o["step"], o["name"])] = o["value"]
            continue
        stage, step = o.pop("stage"), o.pop("step")
        for k, v in o.items():
            got[(stage, step, k)] = v
    want = zero if path == "wide-zero.jsonl" else full
    if got != {k: float(v) for k, v in want.items()}:
        bad("%s: not the narrow CSV's points" % path)
print("# wide CSV: %d rows, %d columns; %d points as in the narrow CSV; JSONL the same" %
      (len(keys), len(open(T + "/wide.csv").readline().split(",")), len(full)))
EOF
log "$(grep -c . "$T/wide-zero.csv") lines of zero's wide CSV: $(head -c 120 "$T/wide-zero.csv" | head -n 1)..."

# --- TensorBoard: written, read back, refused twice, replaced with --force
# the op's reply itself: its numbers at full precision (the CLI's --json prints 9
# digits, whose float32 can be the neighbour of the exact value's)
ctl "{\"op\":\"metrics\",\"id\":$A}" >"$T/a.json" || fail "the metrics op failed: $(cat "$T/a.json")"
sql "SELECT s.name || '/' || m.name, m.step, m.ts FROM metrics m JOIN stages s ON s.id = m.stage
	WHERE s.pipeline = $A" >"$T/a.ts"
created=$(sql "SELECT created_at FROM pipelines WHERE id = $A")
r1rc metrics "$A" --tensorboard "$T/tb"; expect_rc 0 "metrics --tensorboard"
EV="$T/tb/$A-exp-a/events.out.tfevents.$(( created / 1000 )).$(hostname).r1flow-$A"
[[ -f $EV ]] || fail "no event file at $EV: $(cat "$T/out"); $(find "$T/tb")"
[[ $(cat "$T/out") == "wrote $(( $(wc -l <"$T/narrow.csv") - 1 )) scalars of 3 stages to $EV" ]] ||
	fail "metrics --tensorboard said: $(cat "$T/out")"
"$PY" "$TB_READ" "$EV" >"$T/tb.json" || fail "tb_read could not read $EV"
"$PY" - "$T/tb.json" "$T/a.json" "$T/a.ts" "$(( created / 1000 ))" <<'EOF' || fail "event file contents: see above"
import json, struct, sys
tb = json.load(open(sys.argv[1]))
m = json.load(open(sys.argv[2]))
ts = {(l.split("|")[0], int(l.split("|")[1])): int(l.split("|")[2]) for l in open(sys.argv[3]) if l.strip()}
def bad(msg):
    print("FAIL: " + msg); sys.exit(1)
f32 = lambda x: struct.unpack("<f", struct.pack("<f", x))[0]
if tb["file_version"] != "brain.Event:2" or tb["version_wall_time"] != float(sys.argv[4]):
    bad("first event: %r %r" % (tb["file_version"], tb["version_wall_time"]))
want = {}
for st in m["stages"]:
    for name, series in st["metrics"].items():
        for step, v in series:
            want[(st["name"] + "/" + name, step)] = v
got = {}
for tag, step, v, wall in tb["scalars"]:
    if (tag, step) in got:
        bad("%s at step %d twice" % (tag, step))
    got[(tag, step)] = v
    if abs(wall - ts[(tag, step)] / 1000.0) > 1e-6:
        bad("%s at step %d: wall time %r, the database says %d ms" % (tag, step, wall, ts[(tag, step)]))
if set(got) != set(want):
    bad("tags and steps differ from the metrics op's: %r" % (set(got) ^ set(want)))
for k, v in want.items():
    if got[k] != f32(v):
        bad("%s at step %d: %r, the metrics op says %r (float32 %r)" % (k[0], k[1], got[k], v, f32(v)))
tags = sorted({t for t, _ in got})
if "zero/reward_mean" not in tags or "base/loss" not in tags or "ev/pass1/test" not in tags:
    bad("tags: %r" % tags)
print("# event file: %d scalars, %d tags, every value the metrics op's as float32" % (len(got), len(tags)))
EOF
# the reader catches a damaged byte (a CRC that can fail)
cp "$EV" "$T/damaged"
printf '\x7f' | dd of="$T/damaged" bs=1 seek=$(( $(stat -c %s "$EV") / 2 )) conv=notrunc status=none
cmp -s "$EV" "$T/damaged" && printf '\x00' | dd of="$T/damaged" bs=1 seek=$(( $(stat -c %s "$EV") / 2 )) conv=notrunc status=none
RC=0; "$PY" "$TB_READ" "$T/damaged" >/dev/null 2>"$T/err" || RC=$?
[[ $RC == 1 ]] && grep -q "CRC" "$T/err" || fail "tb_read accepted a damaged file (exit $RC): $(cat "$T/err")"
# a second export is refused and leaves the file alone; --force replaces it
sum=$(sha256sum <"$EV")
r1rc metrics "$A" --tensorboard "$T/tb"; expect_rc 1 "metrics --tensorboard again"
grep -q "^r1flow metrics: event file '$EV' exists (pipeline $A exported before): remove it or pass --force$" "$T/err" ||
	fail "a second export said: $(cat "$T/err")"
[[ $(sha256sum <"$EV") == "$sum" ]] || fail "a refused export changed $EV"
touch "$T/tb/$A-exp-a/events.out.tfevents.1.otherhost.r1flow-$A"   # an export from elsewhere
r1rc metrics "$A" --tensorboard "$T/tb" --force; expect_rc 0 "metrics --tensorboard --force"
[[ $(ls "$T/tb/$A-exp-a") == "${EV##*/}" ]] || fail "after --force: $(ls "$T/tb/$A-exp-a")"
"$PY" "$TB_READ" "$EV" | cmp -s - "$T/tb.json" || fail "the --force export differs from the first"
r1rc metrics "$B" --tensorboard "$T/tb" --stage zero; expect_rc 0 "metrics $B --tensorboard --stage zero"
"$PY" "$TB_READ" "$T/tb/$B-exp-b"/events.out.tfevents.* >"$T/tbb.json" || fail "tb_read of $B's file"
r1rc metrics "$B" --stage zero --json; expect_rc 0 "metrics $B --stage zero --json"
[[ $(jq_ 'sorted("zero/" + k for k in d["stages"][0]["metrics"])' <"$T/out") == \
	"$(jq_ 'sorted({s[0] for s in d["scalars"]})' <"$T/tbb.json")" ]] ||
	fail "$B --stage zero: not zero's tags: $(cat "$T/tbb.json")"
log "tensorboard: $EV read back (CRCs, version, tags, steps, values, wall times); refused twice, --force replaced it"

# --- compare
r1rc compare "$A" "$B" "$C"; expect_rc 0 "compare"; cp "$T/out" "$T/cmp.txt"
r1rc compare "$A" "$B" "$C" --markdown; expect_rc 0 "compare --markdown"; cp "$T/out" "$T/cmp.md"
for id in "$A" "$B" "$C"; do
	r1rc report "$id" --json; expect_rc 0 "report $id --json"; cp "$T/out" "$T/report$id.json"
	r1rc metrics "$id" --json; expect_rc 0 "metrics $id --json"; cp "$T/out" "$T/metrics$id.json"
done
"$PY" - "$T" "$A" "$B" "$C" <<'EOF' || { sed 's/^/#   /' "$T/cmp.txt"; fail "compare: see above"; }
import json, sys
T, ids = sys.argv[1], sys.argv[2:]
def bad(msg):
    print("FAIL: " + msg); sys.exit(1)
md = open(T + "/cmp.md").read().split("\n")
text = open(T + "/cmp.txt").read().split("\n")
# the markdown: two tables, each a header, a separator and rows of as many cells
tables, cur = [], None
for line in md:
    if line.startswith("|"):
        if not line.endswith("|"):
            bad("markdown row not closed: %r" % line)
        cells = [c.strip() for c in line[1:-1].split("|")]
        if cur is None:
            cur = []
            tables.append(cur)
        cur.append(cells)
    else:
        cur = None
if len(tables) != 2:
    bad("%d markdown tables, expected 2 (eval, training)" % len(tables))
for t in tables:
    head, sep = t[0], t[1]
    if head[:2] != ["stage", "metric"] or head[2:] != ["#%s exp-%s" % (i, x) for i, x in zip(ids, "abc")]:
        bad("markdown header %r" % head)
    if sep != [":---", ":---"] + ["---:"] * len(ids):
        bad("markdown separator %r" % sep)
    if any(len(r) != len(head) for r in t) or len(t) < 3:
        bad("markdown rows with another number of cells than the header")
ev, train = tables[0][2:], tables[1][2:]
cells = {(r[0], r[1]): r[2:] for r in ev + train}
if len(cells) != len(ev) + len(train):
    bad("a (stage, metric) row twice")
report = {i: json.load(open("%s/report%s.json" % (T, i))) for i in ids}
metrics = {i: json.load(open("%s/metrics%s.json" % (T, i))) for i in ids}
n = 0
for label, sfx in (("ev", ""), ("ev/test", "/test"), ("ev/more", "/more")):
    for key, title, pct in (("pass1", "greedy pass@1", True), ("pass1_sampled", "sampled pass@1", True),
                            ("majk", "maj@k", True), ("format", "format", True),
                            ("reasoning", "reasoning", True), ("length", "length", False)):
        want = []
        for i in ids:
            rows = [r for r in report[i]["rows"] if r["stage"] == "ev"]
            v = rows[0]["metrics"].get(key + sfx) if rows else None
            want.append("-" if v is None else "%.1f%%" % (100 * v) if pct else "%.1f" % v)
        if cells.get((label, title)) != want:
            bad("eval %s %s: %r, the reports say %r" % (label, title, cells.get((label, title)), want))
        n += 1
if [r[:2] for r in ev][:2] != [["ev", "greedy pass@1"], ["ev", "sampled pass@1"]] or len(ev) != n:
    bad("eval rows: %r" % [r[:2] for r in ev])
if all(cells[("ev", "greedy pass@1")][k] == "-" for k in (0, 1)) or cells[("ev", "greedy pass@1")][2] != "-":
    bad("eval: %r" % cells[("ev", "greedy pass@1")])
def last(i, stage, name):
    for st in metrics[i]["stages"]:
        if st["name"] == stage and name in st["metrics"]:
            return st["metrics"][name][-1]
    return None
for stage, names in (("base", ["loss"]), ("zero", ["reward_mean", "accuracy", "format", "kl", "entropy",
                                                   "clip_frac", "length_mean"])):
    steps = [str(last(i, stage, names[0])[0]) if last(i, stage, names[0]) else "-" for i in ids]
    if cells.get((stage, "step")) != steps:
        bad("%s step: %r, expected %r" % (stage, cells.get((stage, "step")), steps))
    for name in names:
        want = ["%.6g" % last(i, stage, name)[1] if last(i, stage, name) else "-" for i in ids]
        if cells.get((stage, name)) != want:
            bad("%s %s: %r, the metrics op's last values are %r" % (stage, name, cells.get((stage, name)), want))
if cells[("base", "step")] != ["4", "4", "2"] or cells[("zero", "step")] != ["2", "2", "-"]:
    bad("steps: base %r zero %r" % (cells[("base", "step")], cells[("zero", "step")]))
if [r[:2] for r in train] != [["base", "step"], ["base", "loss"], ["zero", "step"]] + [["zero", x] for x in
        ("reward_mean", "accuracy", "format", "kl", "entropy", "clip_frac", "length_mean")]:
    bad("training rows: %r" % [r[:2] for r in train])
# the text form: both pipelines' states, then the same cells, aligned, the stage once
for i, x in zip(ids, "abc"):
    if "#%s exp-%s: succeeded" % (i, x) not in text:
        bad("text: no line for pipeline %s" % i)
for (stage, metric), vals in cells.items():
    if not any(metric in l and l.split()[-len(ids):] == vals for l in text):
        bad("text: no row %s %s with %r" % (stage, metric, vals))
if sum(1 for l in text if l.startswith("ev ")) != 1 or sum(1 for l in text if l.startswith("zero ")) != 1:
    bad("text: a stage's name is not on its first row only")
if len({l.index("greedy") for l in text if "greedy pass@1" in l}) != 1:
    bad("text: the metric column is not aligned")
print("# compare: %d eval rows, %d training rows; markdown and text hold the reports' and metrics' values" % (len(ev), len(train)))
EOF
sed -n '1,12p' "$T/cmp.txt" | sed 's/^/#   /'

# --- during a run: a pipeline paused mid-pretrain exports and compares what it has
cat >"$T/d.yaml" <<'EOF2'
version: 1
name: exp-d
seed: 2
model:
  config: {dim: 32, layers: 1, heads: 2, ffn: 64, max_seq: 48}
datasets:
  corpus: {generate: arithmetic, digits: 2, style: corpus, count: 100}
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 5000, batch: 8}
EOF2
r1rc submit "$T/d.yaml"; expect_rc 0 "submit d"; D=$(cat "$T/out")
base_steps() { sql "SELECT count(*) FROM metrics m JOIN stages s ON s.id = m.stage
	WHERE s.pipeline = $D AND m.name = 'loss'"; }
has_steps() { (( $(base_steps) >= $1 )); }
# paused: no job is left, but a step whose gradients were all in may still commit
settled() { local a; a=$(base_steps); sleep 0.3; [[ $(base_steps) == "$a" ]]; }
wait_for 60 has_steps 3
r1rc pause "$D"; expect_rc 0 "pause $D"
wait_for 10 settled
r1rc metrics "$D" --wide --csv; expect_rc 0 "metrics --wide --csv of a paused pipeline"
rows=$(( $(wc -l <"$T/out") - 1 ))
(( rows >= 3 && rows < 5000 )) || fail "metrics --wide --csv mid-run: $rows rows"
[[ $rows == $(base_steps) ]] || fail "metrics --wide --csv mid-run: $rows rows for $(base_steps) steps"
r1rc metrics "$D" --tensorboard "$T/tb"; expect_rc 0 "metrics --tensorboard mid-run"
"$PY" "$TB_READ" "$T/tb/$D-exp-d"/events.out.tfevents.* >"$T/tbd.json" || fail "tb_read of $D's file"
[[ $(jq_ 'sorted(s[1] for s in d["scalars"] if s[0] == "base/loss")' <"$T/tbd.json") == \
	"$(/usr/bin/python3 -c "print(list(range(1, $rows + 1)))")" ]] || fail "mid-run event file: $(cat "$T/tbd.json")"
r1rc compare "$A" "$D"; expect_rc 0 "compare with a paused pipeline"
grep -qx "#$D exp-d: paused" "$T/out" && grep -Eq "^base +step +4 +$rows$" "$T/out" ||
	fail "compare mid-run: $(cat "$T/out")"
r1rc cancel "$D"; expect_rc 0 "cancel $D"
log "mid-run (paused at step $rows): wide CSV, event file and compare show what there is"

# --- unknown ids
r1rc compare "$A" 999999; expect_rc 1 "compare with an unknown id"
[[ $(cat "$T/err") == "r1flow compare: no pipeline 999999" ]] || fail "compare with an unknown id said: $(cat "$T/err")"
r1rc metrics 999999 --wide --csv; expect_rc 1 "metrics --wide of an unknown id"
grep -q "no pipeline 999999" "$T/err" || fail "metrics --wide of an unknown id said: $(cat "$T/err")"
r1rc metrics 999999 --tensorboard "$T/tb"; expect_rc 1 "metrics --tensorboard of an unknown id"
[[ $(cat "$T/err") == "r1flow metrics: no pipeline 999999" ]] || fail "--tensorboard of an unknown id said: $(cat "$T/err")"
[[ ! -e $T/tb/999999 ]] || fail "--tensorboard of an unknown id made a directory"
r1rc metrics "$A" --stage nosuch --tensorboard "$T/tb2"; expect_rc 1 "--tensorboard of an unknown stage"
grep -q "has no stage 'nosuch'" "$T/err" || fail "--tensorboard of an unknown stage said: $(cat "$T/err")"
log "unknown ids and stages: errors, nothing written"
