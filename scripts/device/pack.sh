#!/usr/bin/env bash
# Packs what the GPU machine (the `device` tool: no Node, no network) needs besides the git tree,
# into .device/ (git-ignored). Then, from the tool:
#   run(command="bash scripts/device/gpu-checks.sh",
#       carry=[".device", "dist", "build/Release/tce.node"])
# Node travels as an xz archive of this machine's binary; the addon is built here (it never links
# libtorch, so it does not care which libtorch the GPU machine has); only the torch core is built
# there, against PyTorch's own libtorch.
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${TCE_SHARED_DATA:-../shared/data}

# Always rebuilt: a stale addon or dist/ would be measured in place of the commit.
npm run --silent build:addon >/dev/null
npm run --silent build:ts
rm -rf .device && mkdir -p .device/data .device/node_modules
xz -T0 -c "$(command -v node)" > .device/node.xz
# The package's runtime dependency and cmake-js (the core is built there with npm run build:core,
# as anywhere else), each with the packages it depends on.
node -e '
  const fs = require("fs"), path = require("path");
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name)) return;
    seen.add(name);
    const manifest = JSON.parse(fs.readFileSync(path.join("node_modules", name, "package.json"), "utf8"));
    Object.keys(manifest.dependencies ?? {}).forEach(visit);
  };
  ["node-gyp-build", "cmake-js"].forEach(visit);
  console.log([...seen].join("\n"));' | while read -r name; do
  mkdir -p ".device/node_modules/$(dirname "$name")"
  cp -r "node_modules/$name" ".device/node_modules/$name"
done
for f in bioasq_pairs.jsonl pubmed_abstracts.jsonl; do
  if [ -f "$data/$f" ]; then cp "$data/$f" .device/data/; fi
done
du -sh .device dist build/Release/tce.node | sed 's/^/packed: /'
