// The package loads without libtorch, runtimeInfo() on the system libtorch, the error texts of a
// missing or mismatched core, and the addon's RPATH. Each case runs in its own Node process.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { runChild, repoRoot } from './helpers/child';
import { fakeLibtorch, fakePython, pathWith, tempDir } from './helpers/fake-libtorch';

const noTorchPath = pathWith(fakePython(''));
const nothing = { PATH: noTorchPath, TCE_SYSTEM_LIB_DIRS: tempDir('no-system') };

/** The Debian libtorch version, from dpkg rather than from our own detection. */
function debianLibtorchMinor(): string | null {
  const result = spawnSync('dpkg-query', ['-W', '-f=${Version}', 'libtorch-dev'], { encoding: 'utf8' });
  const match = result.stdout?.match(/^(\d+\.\d+)/);
  return result.status === 0 && match ? match[1] : null;
}

const systemMinor = debianLibtorchMinor();

function builtCore(): string | null {
  const cores = path.join(repoRoot, 'cores');
  if (!fs.existsSync(cores)) return null;
  for (const entry of fs.readdirSync(cores)) {
    const file = path.join(cores, entry, 'libtce_torch.so');
    if (fs.existsSync(file)) return file;
  }
  return null;
}

describe('without libtorch', () => {
  test('require() succeeds and exports the API', () => {
    const r = runChild('report({ keys: Object.keys(pkg).sort() });', nothing);
    expect(r.report?.keys).toEqual(expect.arrayContaining(['runtimeInfo', 'TceError', 'findLibtorch']));
  });

  test('import() succeeds with named exports', () => {
    const names = ['CrossEncoder', 'Tokenizer', 'runtimeInfo', 'TceError', 'LibtorchNotFoundError', 'findLibtorch'];
    const program = `import(${JSON.stringify(path.join(repoRoot, 'dist', 'index.js'))}).then((m) => console.log(${JSON.stringify(names)}.map((n) => typeof m[n]).join(',')))`;
    const out = execFileSync(process.execPath, ['-e', program], { env: nothing, encoding: 'utf8' });
    expect(out.trim()).toBe(names.map(() => 'function').join(','));
  });

  test('runtimeInfo() throws an error that lists where it looked and how to fix it', () => {
    const r = runChild('pkg.runtimeInfo(); report({ ok: true });', nothing);
    expect(r.report?.thrown?.code).toBe('TCE_LIBTORCH_NOT_FOUND');
    expect(r.report.thrown.message).toMatch(/option: \{ libtorch \}: not given/);
    expect(r.report.thrown.message).toMatch(/env: TCE_LIBTORCH \/ LIBTORCH: not set/);
    expect(r.report.thrown.message).toMatch(/apt-get install libtorch-dev/);
  });
});

describe.skipIf(!systemMinor)('on the system libtorch (Debian libtorch-dev)', () => {
  test('runtimeInfo() reports the version, where it was found, the core, and no CUDA', () => {
    const r = runChild('report(pkg.runtimeInfo());', { PATH: noTorchPath });
    expect(r.report?.thrown).toBeUndefined();
    const info = r.report;
    expect(info.libtorch.source).toBe('system');
    expect(info.libtorch.version).toMatch(new RegExp(`^${systemMinor!.replace('.', '\\.')}\\.`));
    expect(fs.existsSync(path.join(info.libtorch.path, fs.readdirSync(info.libtorch.path).find((f: string) => f.startsWith('libtorch_cpu.so'))!))).toBe(true);
    expect(info.core.path).toMatch(/libtce_torch\.so$/);
    expect(info.core.torchVersion.startsWith(systemMinor!)).toBe(true);
    expect(info.cuda).toEqual({ available: false, devices: [] });
    expect(info.autoDevice.device).toBe('cpu');
    expect(info.autoDevice.note).toMatch(/CPU build/);
    expect(info.cpuThreads).toBeGreaterThan(0);
    expect(info.warnings).toEqual([]); // setup.sh installs OpenBLAS
  });
});

describe('core errors', () => {
  test('a libtorch with no core built for its version names both and the build command', () => {
    const fake = fakeLibtorch('2.99.1+cu999');
    const r = runChild('pkg.runtimeInfo();', { PATH: noTorchPath, TCE_LIBTORCH: fake });
    expect(r.report?.thrown?.code).toBe('TCE_CORE_NOT_FOUND');
    expect(r.report.thrown.message).toContain('libtorch 2.99.1+cu999');
    expect(r.report.thrown.message).toContain(`TCE_LIBTORCH=${path.join(fake, 'lib')} npm run build:core`);
    if (builtCore()) expect(r.report.thrown.message).toMatch(/Cores present: .*libtorch \d+\.\d+/);
  });

  test.skipIf(!builtCore())('a core built for another libtorch version is refused before dlopen', () => {
    const fake = fakeLibtorch('2.99.1');
    const r = runChild('pkg.runtimeInfo();', { PATH: noTorchPath, TCE_LIBTORCH: fake, TCE_CORE: builtCore()! });
    expect(r.report?.thrown?.code).toBe('TCE_CORE_VERSION_MISMATCH');
    const core = JSON.parse(fs.readFileSync(path.join(path.dirname(builtCore()!), 'core.json'), 'utf8'));
    expect(r.report.thrown.message).toContain(`built for libtorch ${core.torchVersion}`);
    expect(r.report.thrown.message).toContain('libtorch 2.99.1');
    expect(r.report.thrown.message).toContain('npm run build:core');
  });

  test.skipIf(!builtCore())('libraries that fail to load come back as an Error with the dlerror() text', () => {
    const core = JSON.parse(fs.readFileSync(path.join(path.dirname(builtCore()!), 'core.json'), 'utf8'));
    const fake = fakeLibtorch(core.torchVersion);
    const r = runChild('pkg.runtimeInfo();', { PATH: noTorchPath, TCE_LIBTORCH: fake, TCE_CORE: builtCore()! });
    expect(r.report?.thrown?.code).toBe('TCE_CORE_LOAD_FAILED');
    expect(r.report.thrown.message).toContain(path.join(fake, 'lib', 'libc10.so'));
    expect(r.report.thrown.message).toMatch(/invalid ELF header|file too short/);
    expect(r.status).toBe(0); // an error, not a crash
  });
});

describe('binaries', () => {
  const addon = path.join(repoRoot, 'build', 'Release', 'tce.node');

  function dynamicSection(file: string): string {
    return execFileSync('readelf', ['-d', file], { encoding: 'utf8' });
  }

  test.skipIf(!fs.existsSync(addon))('the addon carries no absolute RPATH/RUNPATH and does not link libtorch', () => {
    const dynamic = dynamicSection(addon);
    const paths = [...dynamic.matchAll(/\((?:RPATH|RUNPATH)\).*\[(.*)\]/g)].flatMap((m) => m[1].split(':'));
    expect(paths.filter((p) => !p.startsWith('$ORIGIN'))).toEqual([]);
    expect(dynamic).not.toMatch(/NEEDED.*(torch|c10|utf8proc)/);
  });

  test.skipIf(!builtCore())('the core carries no RPATH of the build machine', () => {
    const dynamic = dynamicSection(builtCore()!);
    expect(dynamic).not.toMatch(/\((?:RPATH|RUNPATH)\)/);
    expect(dynamic).toMatch(/NEEDED.*libtorch/);
  });
});

describe('slow BLAS warning', () => {
  test('names the reference BLAS and the package that replaces it', async () => {
    const { blasWarning } = await import('../lib/runtime-info');
    const dir = tempDir('blas');
    fs.mkdirSync(path.join(dir, 'blas'));
    fs.mkdirSync(path.join(dir, 'openblas-openmp'));
    fs.writeFileSync(path.join(dir, 'blas', 'libblas.so.3'), '');
    fs.writeFileSync(path.join(dir, 'openblas-openmp', 'libblas.so.3'), '');
    fs.symlinkSync(path.join(dir, 'blas', 'libblas.so.3'), path.join(dir, 'libblas.so.3'));
    expect(blasWarning(dir)).toMatch(/reference BLAS .*apt-get install libopenblas0-openmp/);
    fs.rmSync(path.join(dir, 'libblas.so.3'));
    fs.symlinkSync(path.join(dir, 'openblas-openmp', 'libblas.so.3'), path.join(dir, 'libblas.so.3'));
    expect(blasWarning(dir)).toBeNull();
    expect(blasWarning(tempDir('no-blas'))).toBeNull();
  });
});
