#!/usr/bin/env node
// npm's prepack step: refuses to pack (npm pack, npm publish) a package that has no prebuilt addon
// for linux-x64, or one older than the native sources, so that a release never ships without the
// binary that lets users install with no compiler. `npm run build:prebuilds` makes it;
// `npm run pack:release` makes it and packs. (npm pack --ignore-scripts skips every script, this one too.)
import fs from 'node:fs';
import path from 'node:path';

const root = process.cwd();
const platform = 'linux-x64';
const dir = path.join(root, 'prebuilds', platform);
const fix = 'run `npm run build:prebuilds` first (or `npm run pack:release`, which builds it and packs)';

function fail(message) {
  console.error(`torch-cross-encoder: refusing to pack: ${message}; ${fix}.`);
  process.exit(1);
}

const binaries = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
if (binaries.length === 0) fail(`there is no prebuilt addon in prebuilds/${platform}/ (users without a compiler could not install it)`);

/** The newest modification time of binding.gyp and native/ (0 when they are not here). */
function newestSource() {
  let newest = 0;
  const visit = (file) => {
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    if (!stat) return;
    if (stat.isDirectory()) for (const entry of fs.readdirSync(file)) visit(path.join(file, entry));
    else newest = Math.max(newest, stat.mtimeMs);
  };
  visit(path.join(root, 'binding.gyp'));
  visit(path.join(root, 'native'));
  return newest;
}

const built = Math.min(...binaries.map((f) => fs.statSync(path.join(dir, f)).mtimeMs));
if (built < newestSource()) fail(`prebuilds/${platform}/${binaries.join(', ')} is older than the native sources (binding.gyp, native/)`);
