#!/usr/bin/env node
// Builds the torch core (libtce_torch.so) for the libtorch that discovery finds (or TCE_LIBTORCH)
// with cmake-js, into cores/<tag>/, where the tag names the platform, the libtorch's major.minor,
// its flavour (cpu, or cu13 for a CUDA 13 build) and its C++ ABI (lib/core.ts: coreTag).
//
//   npm run build:core                 build for the libtorch found, fail loudly if none
//   node scripts/build-core.mjs --if-missing
//                                      build only if that libtorch has no core yet
//   node scripts/build-core.mjs --optional
//                                      used at install: like --if-missing, and skip quietly when
//                                      there is no libtorch, no cmake or no cmake-js, never fail the install
//
// cmake-js is a development dependency: in an installed package a build asks for it, with the
// npm command that adds it (findCmakeJs).
//
// A CUDA build of libtorch needs the CUDA toolkit's nvcc (PATH, CUDA_HOME or /usr/local/cuda);
// pip's nvidia-* wheels beside a pip torch fill in the CUDA libraries and headers the toolkit
// lacks. The build folder is wiped when the libtorch or the options change, so that a second
// build never reuses a stale CMake cache.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const optional = process.argv.includes('--optional');
const ifMissing = optional || process.argv.includes('--if-missing');
const require = createRequire(import.meta.url);

function skip(message) {
  console.log(`torch-cross-encoder: ${message}`);
  process.exit(0);
}

function fail(message) {
  if (optional) skip(`${message}\n  (the core is needed only to run models; build it later with \`npx torch-cross-encoder build-core\`, in a clone \`npm run build:core\`)`);
  console.error(`torch-cross-encoder: ${message}`);
  process.exit(1);
}

if (!fs.existsSync(path.join(root, 'dist', 'libtorch.js'))) {
  skip('dist/ is not built yet; the core is built after `tsc` (npm run build:ts).');
}
const { findLibtorch, torchConfigFiles } = require(path.join(root, 'dist', 'libtorch.js'));
const { coreTag, CORE_FILE } = require(path.join(root, 'dist', 'core.js'));

let libtorch;
try {
  libtorch = findLibtorch({});
} catch (error) {
  fail(error.message);
}
if (!libtorch.version) fail(`cannot tell the version of the libtorch at ${libtorch.libDir}.`);

// find_package(Torch) needs the folder holding TorchConfig.cmake.
const config = torchConfigFiles(libtorch.libDir).find((file) => fs.existsSync(file));
if (!config) {
  fail(`the libtorch at ${libtorch.libDir} has no CMake config (Torch/TorchConfig.cmake); on Debian/Ubuntu install libtorch-dev.`);
}
const cmakePrefix = path.resolve(path.dirname(config), '..');

const tag = coreTag(libtorch);
const outDir = path.join(root, 'cores', tag);
const existing = path.join(outDir, CORE_FILE);
/** A core built from this package's C API (core.json's abi equals tce_core.h's TCE_CORE_ABI). */
function current(corePath) {
  try {
    const header = fs.readFileSync(path.join(root, 'native', 'core', 'tce_core.h'), 'utf8').match(/#define TCE_CORE_ABI (\d+)/);
    const manifest = JSON.parse(fs.readFileSync(path.join(path.dirname(corePath), 'core.json'), 'utf8'));
    return header !== null && manifest.abi === Number(header[1]);
  } catch {
    return false;
  }
}
if (ifMissing && fs.existsSync(existing) && current(existing)) skip(`core for this libtorch already built: ${existing}`);

/**
 * nvcc of the CUDA toolkit (PATH, then CUDA_HOME, then the usual install folder), as the path
 * inside the toolkit: an nvcc on PATH may be a wrapper script, so nvcc is asked where it lives.
 */
function findNvcc() {
  const onPath = (process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'nvcc'));
  const candidates = [...onPath, process.env.CUDA_HOME && path.join(process.env.CUDA_HOME, 'bin', 'nvcc'), '/usr/local/cuda/bin/nvcc'];
  const nvcc = candidates.find((file) => file && fs.existsSync(file));
  if (!nvcc) return null;
  const dryRun = spawnSync(nvcc, ['-dryrun', '-c', '-x', 'cu', '/dev/null', '-o', '/dev/null'], { encoding: 'utf8' });
  const here = `${dryRun.stdout}${dryRun.stderr}`.match(/^#\$ _HERE_=(.+)$/m);
  const real = here ? path.join(here[1].trim(), 'nvcc') : nvcc;
  return fs.existsSync(real) ? real : nvcc;
}

/**
 * cmake-js drives the build. It is a development dependency (an install runs from prebuilt cores
 * and needs none of its 46 packages), so an installed package may lack it: say which command adds
 * it, with the version range package.json declares.
 */
function findCmakeJs() {
  try {
    return path.join(path.dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  } catch {
    // The range the package is developed with (devDependencies stay in the published package.json).
    const range = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).devDependencies?.['cmake-js'] ?? 'latest';
    // Installed as <project>/node_modules/torch-cross-encoder: cmake-js goes into that project.
    const parent = path.dirname(root);
    const project = path.basename(parent) === 'node_modules' ? path.dirname(parent) : root;
    return fail(
      'building a torch core needs cmake-js (and cmake and a C++ compiler), and cmake-js is not installed. Add it with\n' +
        `  cd ${project} && npm install --save-dev cmake-js@${range}\n` +
        'then run the build again (npx torch-cross-encoder build-core).',
    );
  }
}

// Library look-ups search CMAKE_LIBRARY_PATH before the system folders: the chosen libtorch's
// libraries win over a system libtorch installed beside it (CMakeLists.txt checks the result).
const defines = {
  CMAKE_PREFIX_PATH: cmakePrefix,
  CMAKE_LIBRARY_PATH: libtorch.libDir,
  TCE_LIBTORCH_LIB_DIR: libtorch.libDir,
  TCE_CORE_OUTPUT_DIR: outDir,
};
if (libtorch.cudaBuild) {
  const nvcc = findNvcc();
  if (!nvcc) {
    fail(
      `the libtorch at ${libtorch.libDir} is a CUDA ${libtorch.cudaVersion ?? ''} build; its core is compiled with the CUDA toolkit, ` +
        'and no nvcc was found on PATH, in $CUDA_HOME/bin or in /usr/local/cuda/bin. Install the CUDA toolkit ' +
        `(${libtorch.cudaVersion ? `major version ${libtorch.cudaVersion.split('.')[0]}` : 'the version of the libtorch'}), or build for a CPU libtorch.`,
    );
  }
  defines.CMAKE_CUDA_COMPILER = nvcc;
  if (libtorch.cudaVersion) defines.TCE_TORCH_CUDA_VERSION = libtorch.cudaVersion;
  const wheels = path.join(libtorch.libDir, '..', '..', 'nvidia');
  if (fs.existsSync(wheels)) defines.TCE_NVIDIA_WHEELS_DIR = path.resolve(wheels);
}
const buildDir = path.join(root, 'build-core', tag);
const stampFile = path.join(buildDir, 'tce-build-options.json');
const stamp = JSON.stringify({ defines, debug: Boolean(process.env.TCE_CORE_DEBUG) });
let previous = null;
try {
  previous = fs.readFileSync(stampFile, 'utf8');
} catch {
  // first build in this folder
}
if (previous !== stamp) fs.rmSync(buildDir, { recursive: true, force: true });

const cmakeJs = findCmakeJs();
const args = [cmakeJs, 'compile', '--directory', root, '--out', buildDir];
for (const [name, value] of Object.entries(defines)) args.push(`--CD${name}=${value}`);
if (process.env.TCE_CORE_DEBUG) args.push('--debug');
const flavour = libtorch.cudaBuild ? `CUDA ${libtorch.cudaVersion ?? '?'}` : 'CPU';
console.log(`torch-cross-encoder: building the torch core for libtorch ${libtorch.version} (${flavour}, ${libtorch.source}: ${libtorch.libDir})`);
const result = spawnSync(process.execPath, args, { stdio: optional ? 'pipe' : 'inherit', encoding: 'utf8' });
if (result.status !== 0) {
  const log = optional ? `\n${(result.stdout ?? '').slice(-3000)}${(result.stderr ?? '').slice(-3000)}` : '';
  fail(`building the torch core failed (cmake-js exited with ${result.status}).${log}`);
}
fs.mkdirSync(buildDir, { recursive: true });
fs.writeFileSync(stampFile, stamp);
console.log(`torch-cross-encoder: torch core built: ${existing}`);
