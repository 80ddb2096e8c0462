#!/usr/bin/env bash
# Install exactly the Debian packages r1flow needs to build, test and benchmark.
# Idempotent: runs `apt-get update` only when a package is missing and installs only
# what is missing. Needs root (or sudo) on Debian 12.
set -euo pipefail

packages=(
  build-essential      # gcc, make
  meson ninja-build pkg-config
  libopenblas-dev      # core: sgemm
  libzmq3-dev          # protocol
  libsqlite3-dev       # daemon store
  libyaml-dev          # pipeline specs
  libjansson-dev       # JSON everywhere
  libpcre2-dev         # core/hftok: the regexes of tokenizer.json
  libutf8proc-dev      # core/hftok: Unicode normalization (NFC, NFKC)
  python3 python3-torch python3-numpy   # reference tests and benchmarks only
  iproute2 procps      # multi-host tests (ip netns), ps/pkill in tests
  sqlite3              # integration tests read the daemon's database
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps: missing ${missing[*]} and not root (no sudo)" >&2; exit 1; }
  sudo=(sudo)
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
