#!/usr/bin/env bash
# Install what is missing, build, and run every test suite; non-zero on any failure.
#   1. release build with -Werror: suites unit, core, ref (PyTorch reference),
#      integration and fault (real daemon and workers on ipc:// in temp dirs),
#      parity (core/hftok against the npm tokenizer references in .ref/npm)
#      and browser (the dashboard in headless Chromium during a live pipeline)
#   2. debug build with address + undefined-behaviour sanitizers: suites unit, core,
#      integration, parity and browser (the daemon, workers, CLI and hftok_cli exit non-zero
#      on a leak or UB)
# Build directories: build-test/ and build-asan/ (override with R1FLOW_BUILD_PREFIX).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh

prefix=${R1FLOW_BUILD_PREFIX:-build}
jobs=$(nproc)

configure() { # dir, meson options...
  local dir=$1; shift
  if [[ -f $dir/build.ninja ]]; then
    meson configure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

echo "== release build (werror)"
configure "$prefix-test" -Dbuildtype=release -Dwerror=true
ninja -C "$prefix-test"
meson test -C "$prefix-test" --num-processes "$jobs" --print-errorlogs \
  --suite unit --suite core --suite ref --suite integration --suite fault --suite parity \
  --suite browser

echo "== sanitizer build (address, undefined)"
configure "$prefix-asan" -Dbuildtype=debug -Db_sanitize=address,undefined -Dwerror=true
ninja -C "$prefix-asan"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
  meson test -C "$prefix-asan" --num-processes "$jobs" --print-errorlogs \
  --suite unit --suite core --suite integration --suite parity --suite browser \
  --timeout-multiplier 4

echo "== all suites passed"
