// The package loads without libtorch, runtimeInfo() on the system libtorch, the error texts of a
// missing or mismatched core, and the addon's RPATH. Each case runs in its own Node process.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { coreTag } from '../lib/core';
import { findLibtorch } from '../lib/libtorch';
import { projectTorchDir } from '../scripts/torch-python.mjs';
import { fixtureModel } from './helpers/fixture-model';
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
    // Debian's 1.13 has no AOTInductor: its core runs TorchScript only (docs/EXPORT.md).
    expect(info.core.modelFormats).toEqual(['torchscript']);
    expect(info.cuda).toEqual({ available: false, devices: [] });
    expect(info.autoDevice.device).toBe('cpu');
    expect(info.autoDevice.note).toMatch(/CPU build/);
    expect(info.cpuThreads).toBeGreaterThan(0);
    expect(info.cpu.affinity).toBeGreaterThanOrEqual(info.cpuThreads);
    expect(Object.keys(info.cpu.bf16).sort()).toEqual(['amx', 'avx512Bf16', 'fast']);
    expect(info.warnings).toEqual([]); // setup.sh installs OpenBLAS
  });

  test("cpuThreads follows the process's CPU affinity, and a CPU model uses that count", (ctx) => {
    if (spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status !== 0) ctx.skip(); // util-linux's taskset is missing
    const dir = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
    const program = `const pkg = require(${JSON.stringify(path.join(repoRoot, 'dist', 'index.js'))});
      (async () => {
        const model = await pkg.CrossEncoder.load(${JSON.stringify(dir)}, { device: 'cpu' });
        console.log(JSON.stringify({ info: pkg.runtimeInfo().cpuThreads, affinity: pkg.runtimeInfo().cpu.affinity, model: model.cpuThreads }));
        await model.dispose();
      })();`;
    const r = spawnSync('taskset', ['-c', '0', process.execPath, '-e', program], { env: { HOME: process.env.HOME, PATH: noTorchPath }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ info: 1, affinity: 1, model: 1 });
  });

  test("libtorch's OpenMP workers sleep when idle (OMP_WAIT_POLICY=PASSIVE before libtorch loads) unless the user chose", () => {
    const program = 'const before = process.env.OMP_WAIT_POLICY ?? null; pkg.runtimeInfo(); report({ before, after: process.env.OMP_WAIT_POLICY ?? null });';
    expect(runChild(program, { PATH: noTorchPath }).report).toEqual({ before: null, after: 'PASSIVE' });
    expect(runChild(program, { PATH: noTorchPath, OMP_WAIT_POLICY: 'ACTIVE' }).report).toEqual({ before: 'ACTIVE', after: 'ACTIVE' });
    // libgomp's own spin count is a choice too: the policy is left alone.
    expect(runChild(program, { PATH: noTorchPath, GOMP_SPINCOUNT: '1000' }).report).toEqual({ before: null, after: null });
  });
});

const torch2 = projectTorchDir('st6');

describe.skipIf(!torch2)("on PyTorch 2.13's libtorch (.venv)", () => {
  test('its core runs both model formats, TorchScript and AOTInductor packages', () => {
    const r = runChild('report(pkg.runtimeInfo());', { PATH: noTorchPath, TCE_LIBTORCH: torch2! });
    expect(r.report?.thrown).toBeUndefined();
    expect(r.report.libtorch.version).toMatch(/^2\.13\./);
    expect(r.report.core.modelFormats).toEqual(['torchscript', 'pt2']);
  });
});

describe.skipIf(!systemMinor)('CrossEncoder.load() and the event loop', () => {
  test('the first load finds libtorch without a synchronous python3 and loads it off the JS thread', () => {
    const dir = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
    const r = runChild(`
      const cp = require('node:child_process');
      let syncSpawns = 0;
      const spawnSync = cp.spawnSync;
      cp.spawnSync = (...args) => { syncSpawns++; return spawnSync(...args); };
      const addon = require(${JSON.stringify(path.join(repoRoot, 'dist', 'native.js'))}).native();
      addon.loadCore = () => { throw new Error('the synchronous loadCore was called'); };
      let turns = 0, loading = true;
      (function spin() { if (loading) { turns++; setImmediate(spin); } })();
      const model = await pkg.CrossEncoder.load(${JSON.stringify(dir)}, { device: 'cpu' });
      loading = false;
      report({ syncSpawns, turns, device: model.device, libtorch: pkg.runtimeInfo().libtorch.source });
      await model.dispose();`, { PATH: process.env.PATH });
    expect(r.report?.thrown).toBeUndefined();
    expect(r.report).toMatchObject({ syncSpawns: 0, device: 'cpu', libtorch: 'system' });
    expect(r.report.turns).toBeGreaterThan(10);
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
    expect(r.report.thrown.message).toContain(`built for libtorch ${core.torchVersion.split('.').slice(0, 2).join('.')}, this libtorch is 2.99`);
    expect(r.report.thrown.message).toContain('libtorch 2.99.1');
    expect(r.report.thrown.message).toContain('npm run build:core');
  });

  test.skipIf(!builtCore())('a CPU core is refused for a CUDA libtorch of the same version, saying which flavour each is', () => {
    const core = JSON.parse(fs.readFileSync(path.join(path.dirname(builtCore()!), 'core.json'), 'utf8'));
    expect(core.flavour).toBe('cpu');
    const fake = fakeLibtorch(`${core.torchVersion}+cu130`, { cuda: true });
    const r = runChild('pkg.runtimeInfo();', { PATH: noTorchPath, TCE_LIBTORCH: fake, TCE_CORE: builtCore()! });
    expect(r.report?.thrown?.code).toBe('TCE_CORE_VERSION_MISMATCH');
    expect(r.report.thrown.message).toContain('built for a CPU libtorch, this one is a CUDA 13.0 build');
    expect(r.report.thrown.message).not.toContain('built for libtorch');
  });

  test.skipIf(!builtCore())("a core is refused for a libtorch of libstdc++'s other string ABI", () => {
    const core = JSON.parse(fs.readFileSync(path.join(path.dirname(builtCore()!), 'core.json'), 'utf8'));
    const fake = fakeLibtorch(core.torchVersion);
    const config = path.join(fake, 'share', 'cmake', 'Torch');
    fs.mkdirSync(config, { recursive: true });
    fs.writeFileSync(path.join(config, 'TorchConfig.cmake'), `set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=${1 - core.cxx11Abi}")\n`);
    const r = runChild('pkg.runtimeInfo();', { PATH: noTorchPath, TCE_LIBTORCH: fake, TCE_CORE: builtCore()! });
    expect(r.report?.thrown?.code).toBe('TCE_CORE_VERSION_MISMATCH');
    expect(r.report.thrown.message).toContain(`built with _GLIBCXX_USE_CXX11_ABI=${core.cxx11Abi}, this libtorch with ${1 - core.cxx11Abi}`);
  });

  test.skipIf(!builtCore() || !systemMinor)('a core of another C API version is refused before dlopen, naming both versions', () => {
    const copy = tempDir('core-abi');
    fs.copyFileSync(builtCore()!, path.join(copy, 'libtce_torch.so'));
    const manifest = JSON.parse(fs.readFileSync(path.join(path.dirname(builtCore()!), 'core.json'), 'utf8'));
    fs.writeFileSync(path.join(copy, 'core.json'), JSON.stringify({ ...manifest, abi: 999 }));
    const r = runChild('pkg.runtimeInfo();', { PATH: noTorchPath, TCE_CORE: path.join(copy, 'libtce_torch.so') });
    expect(r.report?.thrown?.code).toBe('TCE_CORE_VERSION_MISMATCH');
    expect(r.report.thrown.message).toMatch(/implements core API 999, this package's addon speaks \d+/);
  });

  test('without TCE_CORE, a CUDA libtorch looks for its own core tag, never a CPU core of its version', () => {
    const fake = fakeLibtorch('1.13.1+cu130', { cuda: true });
    const r = runChild('pkg.runtimeInfo();', { PATH: noTorchPath, TCE_LIBTORCH: fake });
    expect(r.report?.thrown?.code).toBe('TCE_CORE_NOT_FOUND');
    expect(r.report.thrown.message).toContain(`looked for ${process.platform}-${process.arch}-torch-1.13-cu13-`);
    expect(r.report.thrown.message).toContain('and the CUDA toolkit');
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
  // The binary the package loads: the local build, or the prebuild when there is none.
  const addon: string = createRequire(import.meta.url)('node-gyp-build').path(repoRoot);

  function dynamicSection(file: string): string {
    return execFileSync('readelf', ['-d', file], { encoding: 'utf8' });
  }

  test('the addon carries no absolute RPATH/RUNPATH and does not link libtorch', () => {
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

/** The torch-family libraries a binary needs (libc10*, libtorch*, ...), by file name. */
function torchNeeded(file: string): string[] {
  const dynamic = execFileSync('readelf', ['-d', file], { encoding: 'utf8' });
  return [...dynamic.matchAll(/\(NEEDED\).*\[(.*)\]/g)].map((m) => m[1]).filter((name) => /^lib(c10|torch|caffe2|shm)/.test(name));
}

/** NEEDED torch libraries of `core` that `libDir` does not hold: they would load from elsewhere. */
function neededOutside(core: string, libDir: string): string[] {
  return torchNeeded(core).filter((name) => !fs.existsSync(path.join(libDir, name)));
}

function undefinedSymbols(file: string): string {
  return execFileSync('nm', ['-D', '--undefined-only', '--demangle', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
}

const nvcc = ['/usr/local/cuda/bin/nvcc', ...(process.env.PATH ?? '').split(':').map((d) => path.join(d, 'nvcc'))].some((f) => fs.existsSync(f));
const libtorches: Array<{ name: string; dir: string | null; cuda: boolean }> = [
  { name: "Debian's libtorch 1.13", dir: systemMinor ? '/usr/lib/x86_64-linux-gnu' : null, cuda: false },
  { name: "PyTorch 2.13 CPU (.venv)", dir: projectTorchDir('st6'), cuda: false },
  { name: "PyTorch 2.14 CUDA 13 (.venv-cuda)", dir: projectTorchDir('cuda'), cuda: true },
];

describe('the torch cores that setup.sh builds', () => {
  for (const { name, dir, cuda } of libtorches) {
    const reason = !dir ? 'not installed (scripts/setup.sh)' : cuda && !nvcc ? 'no nvcc: the CUDA core is not built' : null;
    if (reason) console.warn(`core checks for ${name} skipped: ${reason}`);
    test.skipIf(reason)(`${name}: built, links only its own libtorch, no RPATH, right flavour and autocast API`, () => {
      const libtorch = findLibtorch({ libtorch: dir!, env: {} });
      const core = path.join(repoRoot, 'cores', coreTag(libtorch), 'libtce_torch.so');
      expect(fs.existsSync(core)).toBe(true);
      expect(dynamicSectionOf(core)).not.toMatch(/\((?:RPATH|RUNPATH)\)/);
      expect(torchNeeded(core).length).toBeGreaterThan(1);
      expect(neededOutside(core, libtorch.libDir)).toEqual([]);
      const manifest = JSON.parse(fs.readFileSync(path.join(path.dirname(core), 'core.json'), 'utf8'));
      expect(manifest.flavour).toBe(cuda ? 'cu13' : 'cpu');
      expect(manifest.cxx11Abi).toBe(libtorch.cxx11Abi);
      const symbols = undefinedSymbols(core);
      const modern = !(libtorch.version ?? '').startsWith('1.');
      // libtorch 2.4 renamed autocast's API; the core must use the one its libtorch has.
      expect(symbols.includes('at::autocast::set_autocast_enabled(c10::DeviceType, bool)')).toBe(modern);
      if (cuda) {
        expect(symbols).toMatch(/c10::cuda::/);
        // Device facts without a CUDA context: properties from the runtime, free memory from NVML.
        expect(symbols).toMatch(/\bcudaGetDeviceProperties\b/);
        expect(symbols).not.toMatch(/\bcudaMemGetInfo\b/);
        // Two batches in flight: an event per slot marks the end of its read-back.
        expect(symbols).toMatch(/\bcudaEventRecord\b/);
        expect(symbols).toMatch(/\bcudaEventSynchronize\b/);
        expect(torchNeeded(core)).toEqual(expect.arrayContaining(['libc10_cuda.so', 'libtorch_cuda.so']));
      } else {
        expect(symbols).not.toMatch(/c10::cuda::/);
      }
    });
  }

  test.skipIf(!systemMinor || !projectTorchDir('st6'))('the check catches a core whose torch libraries resolve outside its libtorch', () => {
    const debian = findLibtorch({ libtorch: '/usr/lib/x86_64-linux-gnu', env: {} });
    const core = path.join(repoRoot, 'cores', coreTag(debian), 'libtce_torch.so');
    // Debian's core names libc10.so.1.13, which pip's torch/lib does not hold.
    expect(neededOutside(core, findLibtorch({ libtorch: projectTorchDir('st6')!, env: {} }).libDir)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^libc10\.so\.1\.13/)]),
    );
  });
});

function dynamicSectionOf(file: string): string {
  return execFileSync('readelf', ['-d', file], { encoding: 'utf8' });
}

const cudaTorch = projectTorchDir('cuda');
const cudaCore = cudaTorch && nvcc ? 'ok' : null;

describe.skipIf(!cudaCore)('on PyTorch 2.14 with CUDA 13 and no GPU', () => {
  const env = () => ({ PATH: noTorchPath, TCE_LIBTORCH: cudaTorch! });
  let modelDir: string;
  beforeAll(() => {
    modelDir = fixtureModel('tiny-1', { numLabels: 1, vocab: 'biomedbert' });
  });

  test('runtimeInfo() reports the CUDA build and no device', () => {
    const r = runChild('report(pkg.runtimeInfo());', env());
    expect(r.report?.thrown).toBeUndefined();
    expect(r.report.libtorch).toMatchObject({ cudaBuild: true, cudaVersion: '13.0', source: 'env' });
    expect(r.report.libtorch.version).toMatch(/^2\.14\./);
    expect(r.report.core.flavour).toBe('cu13');
    expect(r.report.cuda).toEqual({ available: false, devices: [] });
    expect(r.report.autoDevice.device).toBe('cpu');
    expect(r.report.autoDevice.note).toMatch(/CUDA kernels but sees no CUDA device/);
  });

  test("device 'auto' runs on the CPU and warns once; 'cuda' is TCE_CUDA_UNAVAILABLE; scores match Debian's libtorch", () => {
    const code = `
      const warnings = [];
      process.on('warning', (w) => warnings.push(w.code));
      const pairs = [['caffeine metabolism', 'CYP1A2 metabolizes caffeine.'], ['q', 'an unrelated document about kidneys']];
      const a = await pkg.CrossEncoder.load(${JSON.stringify('MODEL')}, { device: 'auto' });
      // tf32 only concerns CUDA fp32 models: on the CPU that 'auto' falls back to, it does nothing.
      const b = await pkg.CrossEncoder.load(${JSON.stringify('MODEL')}, { device: 'auto', tf32: true });
      const scores = Array.from(await a.predict(pairs));
      const tf32Scores = Array.from(await b.predict(pairs));
      let cuda = null;
      try { await pkg.CrossEncoder.load(${JSON.stringify('MODEL')}, { device: 'cuda' }); } catch (e) { cuda = { code: e.code, message: e.message }; }
      await new Promise((resolve) => setImmediate(resolve));
      report({ devices: [a.device, b.device], warnings, cuda, scores, tf32Scores });
      await a.dispose(); await b.dispose();`.replaceAll('"MODEL"', JSON.stringify(modelDir));
    const r = runChild(code, env());
    expect(r.report?.thrown).toBeUndefined();
    expect(r.report.devices).toEqual(['cpu', 'cpu']);
    expect(r.report.tf32Scores).toEqual(r.report.scores);
    expect(r.report.warnings.filter((c: string) => c === 'TCE_AUTO_DEVICE_CPU')).toHaveLength(1);
    expect(r.report.cuda.code).toBe('TCE_CUDA_UNAVAILABLE');
    expect(r.report.cuda.message).toMatch(/CUDA is not available/);
    const debian = runChild(code, { PATH: noTorchPath });
    expect(debian.report?.thrown).toBeUndefined();
    expect(debian.report.warnings).not.toContain('TCE_AUTO_DEVICE_CPU');
    r.report.scores.forEach((score: number, i: number) => expect(Math.abs(score - debian.report.scores[i])).toBeLessThanOrEqual(1e-5));
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
