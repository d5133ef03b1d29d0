// The python that builds fixture and benchmark models, shared by the tests and the scripts.
import { spawnSync } from 'node:child_process';

let cached;

/** A python with torch: TCE_PYTHON, python3 on PATH, or Debian's /usr/bin/python3; null if none. */
export function torchPython() {
  if (cached !== undefined) return cached;
  cached = [process.env.TCE_PYTHON, 'python3', '/usr/bin/python3']
    .filter(Boolean)
    .find((p) => spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) ?? null;
  return cached;
}
