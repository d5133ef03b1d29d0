/** Fake libtorch folders and python3 executables for discovery tests. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tce-${prefix}-`));
}

/** A folder laid out like an unpacked libtorch zip: lib/*.so and build-version. */
export function fakeLibtorch(version: string, options: { cuda?: boolean } = {}): string {
  const root = tempDir('libtorch');
  fs.mkdirSync(path.join(root, 'lib'));
  const names = ['libc10.so', 'libtorch_cpu.so', 'libtorch.so'];
  if (options.cuda) names.push('libc10_cuda.so', 'libtorch_cuda.so');
  for (const name of names) fs.writeFileSync(path.join(root, 'lib', name), 'not an ELF file');
  fs.writeFileSync(path.join(root, 'build-version'), `${version}\n`);
  return root;
}

/** A pip-style torch package folder: torch/lib/*.so and torch/version.py. */
export function fakeTorchPackage(version: string): string {
  const root = tempDir('site');
  const torch = path.join(root, 'torch');
  fs.mkdirSync(path.join(torch, 'lib'), { recursive: true });
  for (const name of ['libc10.so', 'libtorch_cpu.so', 'libtorch.so', 'libtorch_cuda.so']) {
    fs.writeFileSync(path.join(torch, 'lib', name), 'not an ELF file');
  }
  fs.writeFileSync(path.join(torch, 'version.py'), `__version__ = '${version}'\ncuda = '13.0'\n`);
  return torch;
}

/** A bin folder whose python3 prints `torchDir` as the torch package location ('' for none). */
export function fakePython(torchDir: string): string {
  const bin = tempDir('bin');
  const script = path.join(bin, 'python3');
  fs.writeFileSync(script, `#!/bin/sh\necho '${torchDir}'\n`);
  fs.chmodSync(script, 0o755);
  return bin;
}

/** PATH with only the system folders (for sh, readelf) after the given ones. */
export function pathWith(...dirs: string[]): string {
  return [...dirs, '/usr/bin', '/bin'].join(':');
}
