#!/usr/bin/env bash
# The GPU checks of docs/GPU-CHECKS.md on the GPU machine, from the repository root, after
# scripts/device/pack.sh on the development machine. Each step logs to $OUT/<step>.log and the run
# goes on past a failed step where later ones do not depend on it; results land in $OUT.
#
#   bash scripts/device/gpu-checks.sh [checks] [bench]     (default: both, in one device call)
#
# checks: runtime-info, the demo on cuda, a real out-of-memory split, the two batches in flight;
# bench: bench:gpu (with TF32 against fp32), then the CUDA fp16 AOTInductor package (model.pt2)
# against TorchScript and sentence-transformers fp16 (scripts/device/pt2-check.mjs). The core is
# built first (a minute or two); the package is exported and compiled meanwhile. The whole
# run stays within GPU_CHECKS_BUDGET_S seconds (default 540, under the tool's 600 s a call): each
# step gets at most what is left, and a step that would start with less than a minute left is
# skipped and says so.
set -uo pipefail
OUT=${OUT:-$PWD/.device/out}
mkdir -p "$OUT" .device/bin
groups=" ${*:-checks bench} "
budget=${GPU_CHECKS_BUDGET_S:-540}
failed=0

step() {  # step NAME COMMAND...: runs it within the time left, logs it, says ok or shows the log's tail
  local name=$1; shift
  local started=$SECONDS left=$((budget - SECONDS))
  if [ "$left" -lt 60 ]; then
    failed=1
    echo "SKIPPED $name: ${left} s left of ${budget} s"
    return 1
  fi
  if timeout --kill-after=10 "$left" "$@" >"$OUT/$name.log" 2>&1; then
    echo "ok      $name ($((SECONDS - started)) s)"
  else
    local rc=$?
    failed=1
    [ "$rc" -eq 124 ] && echo "        $name ran out of time (${left} s left when it started)"
    echo "FAILED  $name (exit $rc, $((SECONDS - started)) s):"
    tail -n 40 "$OUT/$name.log" | sed 's/^/    /'
    return $rc
  fi
}

# Node (xz, or Python's lzma where xz is missing) and the one runtime dependency of the package.
if command -v xz >/dev/null; then
  xz -dc .device/node.xz > .device/bin/node
else
  python3 -c "import lzma, shutil; shutil.copyfileobj(lzma.open('.device/node.xz'), open('.device/bin/node', 'wb'))"
fi
chmod +x .device/bin/node
export PATH="$PWD/.device/bin:$PATH"
mkdir -p node_modules && cp -r .device/node_modules/. node_modules/
[ -d .device/data ] && export TCE_BENCH_DATA="$PWD/.device/data"

step machine bash -c 'node --version; for t in cmake ninja nvcc gcc; do echo "$t: $(command -v $t || echo MISSING)"; done; nvidia-smi; python3 -c "import torch, transformers, sentence_transformers as st; print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, \"transformers\", transformers.__version__, \"sentence-transformers\", st.__version__)"'

# The torch core against PyTorch's libtorch, built as on any machine (npm run build:core: the
# toolkit from nvcc, CUDA libraries and headers the toolkit lacks from pip's nvidia wheels).
TCE_LIBTORCH=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__))')
export TCE_LIBTORCH
# The benchmark model (scripts/bench/st-model.py: Hugging Face save and model.pt, then for bench
# the CUDA fp16 model.pt2), built in the background while the core compiles: AOTInductor's compile
# takes minutes of CPU, which the core build leaves mostly idle. The steps that use model.pt
# (oom, pipeline, bench-gpu) wait for it; bench-pt2 waits for the package.
models_log="$OUT/models.log"
models_pid=""
rm -f "$OUT/.torchscript-ready"
if [[ $groups == *" checks "* || $groups == *" bench "* ]]; then
  (
    # Never past the run's budget (less the minute the last steps need to report).
    limit=$((budget - 60))
    timeout "$limit" python3 scripts/bench/st-model.py bench/models/biomedbert-st --formats torchscript &&
      touch "$OUT/.torchscript-ready" &&
      if [[ $groups == *" bench "* ]] && [ $((limit - SECONDS)) -gt 30 ]; then
        timeout "$((limit - SECONDS))" python3 scripts/bench/st-model.py bench/models/biomedbert-st --formats torchscript,pt2-cuda-fp16
      fi
  ) >"$models_log" 2>&1 &
  models_pid=$!
fi
torchscript_ready() {  # returns once model.pt is there (or its build failed, which it reports)
  while [ ! -f "$OUT/.torchscript-ready" ] && [ -n "$models_pid" ] && kill -0 "$models_pid" 2>/dev/null; do sleep 1; done
  [ -f "$OUT/.torchscript-ready" ] && return 0
  echo "FAILED  models (model.pt):"; tail -n 40 "$models_log" | sed 's/^/    /'; failed=1; return 1
}
package_ready() {  # waits for the whole background build (model.pt2 included)
  [ -n "$models_pid" ] || return 0
  local started=$SECONDS rc=0
  wait "$models_pid" || rc=$?
  models_pid=""
  if [ "$rc" -eq 0 ]; then
    echo "ok      models (waited $((SECONDS - started)) s): $(tail -n 1 "$models_log" | cut -c1-400)"
    return 0
  fi
  echo "FAILED  models (exit $rc):"; tail -n 40 "$models_log" | sed 's/^/    /'; failed=1; return 1
}

step core bash -c 'node scripts/build-core.mjs && ls -l cores/*/' || { echo "no core, nothing else can run"; exit 1; }

if [[ $groups == *" checks "* ]]; then
  step runtime-info node -e "console.log(JSON.stringify(require('./dist/index.js').runtimeInfo(), null, 2))" &&
    cp "$OUT/runtime-info.log" "$OUT/runtime-info.json"
  step demo node scripts/demo.mjs --device cuda
  torchscript_ready && step oom node scripts/device/oom-check.mjs
  # Two batches in flight give the scores of one at a time; the executor's busy shares.
  torchscript_ready && step pipeline node scripts/device/pipeline-check.mjs
fi

if [[ $groups == *" bench "* ]]; then
  # Writes bench/results/gpu-<date>.json; it fails when parity or TF32 misses its bounds. Sized
  # to leave the rest of the run its time: 4,096 pairs, two rounds, three peer batch sizes.
  torchscript_ready && step bench-gpu node scripts/bench/gpu.mjs --rounds 2 --pairs 4096 --peer-batch-sizes 32,128,512
  # The package: 2,048 pairs, two interleaved rounds, parity against sentence-transformers fp16.
  package_ready && step bench-pt2 node scripts/device/pt2-check.mjs --rounds 2 --pairs 2048
  cp bench/results/gpu-*.json "$OUT/" 2>/dev/null
fi
exit $failed
