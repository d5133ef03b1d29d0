#!/usr/bin/env bash
# The GPU checks of docs/GPU-CHECKS.md in one run on the GPU machine, from the repository root,
# after scripts/device/pack.sh on the development machine. Each step logs to $OUT/<step>.log and
# the run goes on past a failed step where later ones do not depend on it; results land in $OUT.
set -uo pipefail
OUT=${OUT:-$PWD/.device/out}
mkdir -p "$OUT" .device/bin
failed=0

step() {  # step NAME COMMAND...: runs it, logs it, says ok or shows the log's tail
  local name=$1; shift
  local started=$SECONDS
  if "$@" >"$OUT/$name.log" 2>&1; then
    echo "ok      $name ($((SECONDS - started)) s)"
  else
    local rc=$?
    failed=1
    echo "FAILED  $name (exit $rc, $((SECONDS - started)) s):"
    tail -n 40 "$OUT/$name.log" | sed 's/^/    /'
    return $rc
  fi
}

# Node and the one runtime dependency the package needs.
xz -dc .device/node.xz > .device/bin/node && chmod +x .device/bin/node
export PATH="$PWD/.device/bin:$PATH"
mkdir -p node_modules && cp -r .device/node_modules/. node_modules/
[ -d .device/data ] && export TCE_BENCH_DATA="$PWD/.device/data"

step machine bash -c 'node --version; nvidia-smi; python3 -c "import torch, transformers, sentence_transformers as st; print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, \"transformers\", transformers.__version__, \"sentence-transformers\", st.__version__)"'

# 1. The torch core against PyTorch's libtorch (first compile of the 2.4+ autocast and CUDA code).
TCE_LIBTORCH=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')
export TCE_LIBTORCH
build_core() {
  local prefix tag
  prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
  tag=$(node -e "const {coreTag}=require('./dist/core.js'); const {findLibtorch}=require('./dist/libtorch.js'); console.log(coreTag(findLibtorch({}).version))")
  local generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S . -B "build-core/$tag" "${generator[@]}" -DCMAKE_PREFIX_PATH="$prefix" -DTCE_CORE_OUTPUT_DIR="$PWD/cores/$tag" &&
    cmake --build "build-core/$tag" -j "$(nproc)" && ls -l "cores/$tag"
}
step core build_core || { echo "no core, nothing else can run"; exit 1; }

# 2. What the package sees.
step runtime-info node -e "console.log(JSON.stringify(require('./dist/index.js').runtimeInfo(), null, 2))"
cp "$OUT/runtime-info.log" "$OUT/runtime-info.json"

# 3. The demo on the GPU (a fixture model built in plain torch), and a real out-of-memory split.
step demo node scripts/demo.mjs --device cuda
step oom node scripts/device/oom-check.mjs

# 4. Throughput and parity against sentence-transformers (bench/results/gpu-<date>.json).
step bench-gpu node scripts/bench/gpu.mjs && cp bench/results/gpu-*.json "$OUT/"
exit $failed
