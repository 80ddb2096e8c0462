#!/usr/bin/env bash
# The r1flow demo, end to end on one machine: install the build dependencies, build,
# train a small model on 3-digit additions (about 1-2 minutes on 2 cores), then
# score a right and a wrong answer with it.
#
#   scripts/demo.sh                      # model goes to /tmp/r1flow-demo/model
#   R1FLOW_DEMO_DIR=~/demo scripts/demo.sh
#   R1FLOW_THREADS=4 scripts/demo.sh     # compute threads (default: all CPUs)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
demo_dir=${R1FLOW_DEMO_DIR:-/tmp/r1flow-demo}
model=$demo_dir/model
r1flow=build/cli/r1flow

section() { printf '\n==== %s ====\n' "$*"; }

section "1/4 dependencies"
scripts/deps.sh

section "2/4 build"
if [[ ! -f build/build.ninja ]]; then
  meson setup build
fi
ninja -C build

section "3/4 train (r1flow train --out $model)"
start=$SECONDS
"$r1flow" train --out "$model" --seed 1
echo "train took $((SECONDS - start)) s"

section "4/4 score (r1flow score --model $model)"
echo "-- a right answer:"
"$r1flow" score --model "$model" --text "123+456=579"
echo "-- a wrong answer, for contrast:"
"$r1flow" score --model "$model" --text "123+456=578"
echo "-- the same right answer as JSON:"
"$r1flow" score --model "$model" --text "123+456=579" --json

section "done"
echo "model saved in $model (config.json, model.safetensors, optimizer.safetensors)"
