// libtorch discovery: each source, their order, and what a failure tells the user.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { findLibtorch, LibtorchNotFoundError } from '../lib/libtorch';
import { fakeLibtorch, fakePython, fakeTorchPackage, pathWith, tempDir } from './helpers/fake-libtorch';

const noSystem = tempDir('empty-system');
const noTorchPython = fakePython('');

describe('findLibtorch order', () => {
  const optionDir = fakeLibtorch('2.5.1+cpu');
  const envDir = fakeLibtorch('2.6.0+cu124', { cuda: true });
  const legacyEnvDir = fakeLibtorch('2.7.0');
  const pythonTorch = fakeTorchPackage('2.11.0+cu130');
  const systemDir = path.join(fakeLibtorch('1.13.0'), 'lib');
  const everything = {
    TCE_LIBTORCH: envDir,
    LIBTORCH: legacyEnvDir,
    PATH: pathWith(fakePython(pythonTorch)),
    TCE_SYSTEM_LIB_DIRS: systemDir,
  };

  test('the libtorch option comes first', () => {
    const found = findLibtorch({ libtorch: optionDir, env: everything });
    expect(found).toMatchObject({ source: 'option', libDir: path.join(optionDir, 'lib'), version: '2.5.1+cpu' });
  });

  test('then TCE_LIBTORCH, ahead of LIBTORCH', () => {
    const found = findLibtorch({ env: everything });
    expect(found).toMatchObject({ source: 'env', libDir: path.join(envDir, 'lib'), version: '2.6.0+cu124', cudaBuild: true });
    expect(found.libraries.map((l) => path.basename(l))).toEqual([
      'libc10.so', 'libc10_cuda.so', 'libtorch_cpu.so', 'libtorch_cuda.so', 'libtorch.so',
    ]);
  });

  test('LIBTORCH when TCE_LIBTORCH is unset', () => {
    const { TCE_LIBTORCH: _, ...env } = everything;
    expect(findLibtorch({ env })).toMatchObject({ source: 'env', version: '2.7.0' });
  });

  test('then the torch package of python3 on PATH', () => {
    const { TCE_LIBTORCH: _a, LIBTORCH: _b, ...env } = everything;
    const found = findLibtorch({ env });
    expect(found).toMatchObject({ source: 'python', libDir: path.join(pythonTorch, 'lib'), version: '2.11.0+cu130', cudaBuild: true });
  });

  test('then the system libtorch', () => {
    const env = { PATH: pathWith(noTorchPython), TCE_SYSTEM_LIB_DIRS: systemDir };
    expect(findLibtorch({ env })).toMatchObject({ source: 'system', libDir: systemDir, version: '1.13.0' });
  });

  test('a python torch without libtorch inside (Debian python3-torch) falls through to the system', () => {
    const bare = tempDir('bare-torch');
    const env = { PATH: pathWith(fakePython(bare)), TCE_SYSTEM_LIB_DIRS: systemDir };
    expect(findLibtorch({ env })).toMatchObject({ source: 'system' });
  });

  test('a wrong explicit path is an error, not a silent fallback', () => {
    const env = { ...everything, TCE_LIBTORCH: '/nonexistent/libtorch' };
    expect(() => findLibtorch({ env })).toThrowError(/env: \/nonexistent\/libtorch: does not exist/);
  });
});

describe('findLibtorch failure', () => {
  test('lists every place looked at and the fix for each', () => {
    const env = { PATH: pathWith(noTorchPython), TCE_SYSTEM_LIB_DIRS: noSystem };
    let error: unknown;
    try {
      findLibtorch({ env });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LibtorchNotFoundError);
    const e = error as LibtorchNotFoundError;
    expect(e.code).toBe('TCE_LIBTORCH_NOT_FOUND');
    expect(e.attempts.map((a) => a.source)).toEqual(['option', 'env', 'python', 'system']);
    expect(e.message).toContain('python3 on PATH has no torch package');
    expect(e.message).toContain(noSystem);
    expect(e.message).toContain('TCE_LIBTORCH=');
    expect(e.message).toContain('pip install torch');
    expect(e.message).toContain('apt-get install libtorch-dev');
  });

  test('says when there is no python3 at all', () => {
    const env = { PATH: tempDir('no-python'), TCE_SYSTEM_LIB_DIRS: noSystem };
    expect(() => findLibtorch({ env })).toThrowError(/python: python3 on PATH: no python3 on PATH/);
  });

  test('a folder without libtorch_cpu is rejected with the reason', () => {
    const dir = tempDir('partial');
    fs.writeFileSync(path.join(dir, 'libc10.so'), '');
    expect(() => findLibtorch({ libtorch: dir, env: {} })).toThrowError(/has no libc10.so and libtorch_cpu.so/);
  });
});
