#!/usr/bin/env bash
# `r1flow validate` prints the memory the daemon and a worker need for a spec, and
# refuses, with the figures, a spec that cannot fit this machine (MemTotal) unless
# --force. The estimate allocates nothing: a model needing ~14 TiB is checked under
# a 2 GB address-space limit.
. "$(dirname "$0")/lib.sh"
: "${R1FLOW_CLI:?set R1FLOW_CLI to the r1flow binary}"

spec() { # NAME MODEL_CONFIG
	cat >"$T/$1.yaml" <<EOF
version: 1
name: $1
model:
  config: $2
datasets:
  corpus: {generate: arithmetic, digits: 2, style: corpus, count: 10, seed: 0}
stages:
  - {name: base, kind: pretrain, dataset: corpus, steps: 1, batch: 4, shard: 4}
EOF
}

# P = 2·264·16384 (embedding, untied head) + 150 layers × (2·16384 + 4·16384² +
# 3·16384·65536) + 16384 = 644258676736 parameters. The daemon: 16 bytes a parameter
# for the learner, 8 more to read back the optimizer file: 24 P = 14.06 TiB. A
# worker's grad job: weights and gradients, 8 P = 4.69 TiB, and one row of
# activations.
spec huge '{dim: 16384, layers: 150, heads: 128, ffn: 65536, max_seq: 64}'
r1rc validate "$T/huge.yaml"; expect_rc 1 "validate (a 644G-parameter model)"
grep -q "^r1flow validate: $T/huge.yaml: the spec needs more memory than this machine has (MemTotal [0-9.]* [GT]iB): daemon 14.1 TiB, worker 4.70 TiB; --force to accept it for bigger machines$" "$T/err" ||
	fail "validate of a too large spec said: $(cat "$T/err")"
grep -q "^memory (estimate; 644258676736 parameters, fp32):$" "$T/out" ||
	fail "no parameter count before the refusal: $(cat "$T/out")"
grep -q "^  daemon  14.1 TiB: 1 learner at once .* of 9.38 TiB (weights, gradients, 2 AdamW moments: 16 bytes a parameter), and 4.69 TiB to read back" "$T/out" ||
	fail "no daemon figures before the refusal: $(cat "$T/out")"
grep -q "^  worker  4.70 TiB: its largest job, grad of stage 'base': weights and gradients 4.69 TiB, LM head chunk [0-9.]* MiB, 1 row x " "$T/out" ||
	fail "no worker figures before the refusal: $(cat "$T/out")"
grep -q ": ok (" "$T/out" && fail "a refused spec was called ok: $(cat "$T/out")"
r1rc validate --json "$T/huge.yaml"; expect_rc 1 "validate --json (a 644G-parameter model)"
grep -q "daemon 14.1 TiB, worker 4.70 TiB" "$T/err" || fail "validate --json said: $(cat "$T/err")"
log "refused: $(cat "$T/err")"

# --force accepts it, with the same figures, and allocates nothing for it (the limit
# is skipped under AddressSanitizer, which reserves terabytes of address space)
# (ldd's output is read whole: `ldd | grep -q` under pipefail fails when grep's early
# exit makes ldd die of SIGPIPE, and the limit then hit the sanitizer build)
limit=unlimited
[[ $(ldd "$R1FLOW_CLI") == *libasan* ]] || limit=2000000
RC=0
(ulimit -v "$limit"; exec "$R1FLOW_CLI" validate --force "$T/huge.yaml") >"$T/out" 2>"$T/err" || RC=$?
expect_rc 0 "validate --force (a 644G-parameter model, ulimit -v $limit)"
[[ $(head -n 1 "$T/out") == "$T/huge.yaml: ok (1 stage: base)" ]] || fail "validate --force said: $(cat "$T/out")"
grep -q "^  daemon  14.1 TiB: " "$T/out" || fail "validate --force printed no figures: $(cat "$T/out")"
r1rc validate --json --force "$T/huge.yaml"; expect_rc 0 "validate --json --force"
grep -q '"dim": 16384' "$T/out" || fail "validate --json --force printed: $(head -c 300 "$T/out")"

# a small model passes without --force and prints its figures after the ok line
spec small '{dim: 64, layers: 2, heads: 4, ffn: 128, max_seq: 64}'
r1rc validate "$T/small.yaml"; expect_rc 0 "validate (a small model)"
[[ $(head -n 1 "$T/out") == "$T/small.yaml: ok (1 stage: base)" ]] || fail "validate said: $(cat "$T/out")"
grep -q "^  daemon  [0-9.]* MiB: 1 learner at once" "$T/out" || fail "no daemon figure: $(cat "$T/out")"
grep -q "^  machine [0-9.]* [GT]iB (MemTotal)$" "$T/out" || fail "no machine figure: $(cat "$T/out")"
log "accepted: $(tr '\n' ' ' <"$T/out")"
