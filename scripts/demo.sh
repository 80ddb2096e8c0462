#!/usr/bin/env bash
# The r1flow demo, end to end on one machine: install the build dependencies, build,
# run the R1-Zero and R1 recipe (pipelines/r1.yaml: a tiny base model pretrained on
# 3-digit additions, GRPO on it, and the multi-stage R1 branch beside it) with a
# local daemon and worker (run prints the eval report at its end), then show a few of
# the samples GRPO drew and its curves.
#
#   scripts/demo.sh                      # data directory /tmp/r1flow-demo
#   R1FLOW_DEMO_DIR=~/demo scripts/demo.sh
#   R1FLOW_DEMO_WORKERS=2 scripts/demo.sh   # local workers (default 1: one worker
#                                           # with every core is fastest for a model
#                                           # this small)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
demo_dir=${R1FLOW_DEMO_DIR:-/tmp/r1flow-demo}
workers=${R1FLOW_DEMO_WORKERS:-1}
r1flow=build/cli/r1flow

section() { printf '\n==== %s ====\n' "$*"; }

section "1/4 dependencies"
scripts/deps.sh

section "2/4 build"
if [[ ! -f build/build.ninja ]]; then
  meson setup build
fi
ninja -C build

section "3/4 the pipeline (r1flow run pipelines/r1.yaml --data $demo_dir)"
if [[ -e $demo_dir ]]; then
  echo "removing the previous demo's $demo_dir"
  rm -rf "$demo_dir"
fi
start=$SECONDS
"$r1flow" run pipelines/r1.yaml --workers "$workers" --data "$demo_dir"
echo "the pipeline took $((SECONDS - start)) s"

section "4/4 what GRPO did"
# r1flow run printed the report and stopped its daemon; start one on the same directory
# to read the samples and metrics
build/daemon/r1flowd --data "$demo_dir" 2>>"$demo_dir/logs/demo-report.log" &
daemon=$!
trap 'kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true' EXIT
for _ in $(seq 50); do "$r1flow" ls --data "$demo_dir" >/dev/null 2>&1 && break; sleep 0.1; done
echo "-- what R1-Zero wrote at its last step (r1flow samples 1 zero):"
"$r1flow" samples 1 zero --data "$demo_dir" --limit 4 || true
echo
echo "-- GRPO's reward and response length over the steps (r1flow metrics 1 --stage zero):"
"$r1flow" metrics 1 --stage zero --data "$demo_dir" || true

section "done"
echo "everything is in $demo_dir: r1flow.db (pipelines, datasets, metrics, samples),"
echo "blobs/ (checkpoints), logs/; export a model with"
echo "  $r1flow daemon --data $demo_dir &  $r1flow export 1 r1_final ./r1-model --data $demo_dir"
