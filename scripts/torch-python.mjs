// The Pythons that tests and scripts use, found in one place:
//   torchPython()       any python with torch: builds the plain-torch fixture models
//                       (scripts/make-fixture-model.py). Debian's python3-torch (1.13) comes before
//                       the project environments, so that its traces load in every libtorch tested.
//   projectPython(env)  a project environment made by scripts/setup.sh, with transformers and
//                       sentence-transformers: 'st6' (.venv) or 'st41' (.venv-st41).
//   projectTorchDir(env) the torch package folder of a project environment ('st6' or 'cuda'),
//                       to point TCE_LIBTORCH at its libtorch.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ENVIRONMENTS = { st6: '.venv', st41: '.venv-st41', cuda: '.venv-cuda' };

let cached;

/** A python with torch: TCE_PYTHON, python3 on PATH, or Debian's /usr/bin/python3; null if none. */
export function torchPython() {
  if (cached !== undefined) return cached;
  cached = [process.env.TCE_PYTHON, 'python3', '/usr/bin/python3']
    .filter(Boolean)
    .find((p) => spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) ?? null;
  return cached;
}

/** The python of project environment `env` ('st6', 'st41', 'cuda'), or null if setup.sh did not make it. */
export function projectPython(env) {
  const python = path.join(root, ENVIRONMENTS[env], 'bin', 'python');
  return fs.existsSync(python) ? python : null;
}

/** The torch package folder (holding lib/libc10.so) of project environment `env`, or null. */
export function projectTorchDir(env) {
  const lib = path.join(root, ENVIRONMENTS[env], 'lib');
  let versions = [];
  try {
    versions = fs.readdirSync(lib).filter((name) => name.startsWith('python3'));
  } catch {
    return null;
  }
  for (const version of versions) {
    const torch = path.join(lib, version, 'site-packages', 'torch');
    if (fs.existsSync(path.join(torch, 'lib'))) return torch;
  }
  return null;
}
