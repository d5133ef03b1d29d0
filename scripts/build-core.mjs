#!/usr/bin/env node
// Builds the torch core (libtce_torch.so) for the libtorch that discovery finds (or TCE_LIBTORCH)
// with cmake-js, into cores/<platform>-<arch>-torch-<major.minor>/.
//
//   npm run build:core                 build for the libtorch found, fail loudly if none
//   node scripts/build-core.mjs --optional
//                                      used at install: skip quietly when there is no libtorch
//                                      or no cmake, never fail the install
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const optional = process.argv.includes('--optional');
const require = createRequire(import.meta.url);

function skip(message) {
  console.log(`torch-cross-encoder: ${message}`);
  process.exit(0);
}

function fail(message) {
  if (optional) skip(`${message}\n  (the core is needed only to run models; build it later with \`npm run build:core\`)`);
  console.error(`torch-cross-encoder: ${message}`);
  process.exit(1);
}

if (!fs.existsSync(path.join(root, 'dist', 'libtorch.js'))) {
  skip('dist/ is not built yet; the core is built after `tsc` (npm run build:ts).');
}
const { findLibtorch, minorVersion } = require(path.join(root, 'dist', 'libtorch.js'));
const { coreTag, CORE_FILE } = require(path.join(root, 'dist', 'core.js'));

let libtorch;
try {
  libtorch = findLibtorch({});
} catch (error) {
  fail(error.message);
}
if (!libtorch.version) fail(`cannot tell the version of the libtorch at ${libtorch.libDir}.`);

// find_package(Torch) needs the folder holding TorchConfig.cmake.
const cmakeDirs = [
  path.join(libtorch.libDir, 'cmake'),
  path.join(libtorch.libDir, '..', 'share', 'cmake'),
];
const prefix = cmakeDirs.find((d) => fs.existsSync(path.join(d, 'Torch', 'TorchConfig.cmake')));
if (!prefix) {
  fail(`the libtorch at ${libtorch.libDir} has no CMake config (Torch/TorchConfig.cmake); on Debian/Ubuntu install libtorch-dev.`);
}

const tag = coreTag(libtorch.version);
const outDir = path.join(root, 'cores', tag);
const existing = path.join(outDir, CORE_FILE);
if (optional && fs.existsSync(existing)) skip(`core for libtorch ${minorVersion(libtorch.version)} already built: ${existing}`);

const cmakeJs = path.join(path.dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
const args = [
  cmakeJs, 'compile', '--directory', root, '--out', path.join(root, 'build-core', tag),
  `--CDCMAKE_PREFIX_PATH=${path.resolve(prefix)}`,
  `--CDTCE_CORE_OUTPUT_DIR=${outDir}`,
];
if (process.env.TCE_CORE_DEBUG) args.push('--debug');
console.log(`torch-cross-encoder: building the torch core for libtorch ${libtorch.version} (${libtorch.source}: ${libtorch.libDir})`);
const result = spawnSync(process.execPath, args, { stdio: optional ? 'pipe' : 'inherit', encoding: 'utf8' });
if (result.status !== 0) {
  const log = optional ? `\n${(result.stdout ?? '').slice(-3000)}${(result.stderr ?? '').slice(-3000)}` : '';
  fail(`building the torch core failed (cmake-js exited with ${result.status}).${log}`);
}
console.log(`torch-cross-encoder: torch core built: ${existing}`);
