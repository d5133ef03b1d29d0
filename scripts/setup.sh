#!/usr/bin/env bash
# Installs what this project needs on a fresh Debian 12 / Ubuntu machine, then the npm packages
# (which builds the addon, the TypeScript and the torch core). Idempotent and quiet on success.
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
run_quiet() {
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup: '$*' failed" >&2
    exit 1
  fi
}

# System packages: libtorch (CPU) and its CMake config, torch for python3 (test fixtures),
# utf8proc (linked statically into the addon), OpenBLAS (Debian's libtorch otherwise runs its
# matmuls on the reference BLAS, about 20x slower), a C++ toolchain and cmake.
packages=(libtorch-dev python3-torch libutf8proc-dev libopenblas0-openmp build-essential cmake python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  run_quiet $sudo apt-get update -qq
  run_quiet env DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# node-gyp builds against the headers of the running Node, installed with it; never download them.
node_headers="$(dirname "$(dirname "$(command -v node)")")"
if [ -f "$node_headers/include/node/node_api.h" ]; then
  export npm_config_nodedir="$node_headers"
fi

# npm ci builds the addon (install), compiles lib/ and builds the torch core (prepare).
# onnxruntime-node (benchmark peer) ships its CPU binaries; never let it download CUDA ones.
export ONNXRUNTIME_NODE_INSTALL=skip
run_quiet npm ci --no-audit --no-fund
