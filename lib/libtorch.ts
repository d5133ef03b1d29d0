/**
 * Finds a libtorch to run on, in this order (README: How it is built):
 *   1. the `libtorch` load option,
 *   2. env TCE_LIBTORCH (or LIBTORCH),
 *   3. the `torch` package of `python3` on PATH (torch/lib; brings CUDA through pip wheels),
 *   4. the system's libtorch (Debian/Ubuntu `libtorch-dev`, /usr/local/libtorch, /opt/libtorch).
 * Each place that was looked at and rejected is remembered, so that a failure can say where it
 * looked and how to fix each.
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TceError } from './errors';

export type LibtorchSource = 'option' | 'env' | 'python' | 'system';

export interface LibtorchLocation {
  source: LibtorchSource;
  /** The folder holding libtorch_cpu.so and friends. */
  libDir: string;
  /** "2.11.0+cu130", "1.13.0"; null when no version file was found. */
  version: string | null;
  /** The libraries to load by absolute path, in dependency order. */
  libraries: string[];
  /** Whether this libtorch ships CUDA kernels (libtorch_cuda). */
  cudaBuild: boolean;
  /** The CUDA version a CUDA build was made with ("13.0"); null for a CPU build or if unknown. */
  cudaVersion: string | null;
  /** libstdc++'s _GLIBCXX_USE_CXX11_ABI libtorch was built with; null if it cannot be told. */
  cxx11Abi: 0 | 1 | null;
}

export interface LibtorchAttempt {
  source: LibtorchSource;
  where: string;
  problem: string;
}

export interface FindLibtorchOptions {
  /** The `libtorch` load option: a libtorch folder, its lib/ folder, or a torch package folder. */
  libtorch?: string;
  env?: NodeJS.ProcessEnv;
}

/** In load order: each one's dependencies come before it. */
const LIBRARY_NAMES = ['libc10', 'libc10_cuda', 'libtorch_cpu', 'libtorch_cuda', 'libtorch'];
const REQUIRED = new Set(['libc10', 'libtorch_cpu']);

function multiarchDir(): string | null {
  if (process.platform !== 'linux') return null;
  const triplet = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch as string];
  return triplet ? `/usr/lib/${triplet}` : null;
}

/** Where a system libtorch may be; TCE_SYSTEM_LIB_DIRS (colon-separated) replaces the list. */
export function systemLibDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.TCE_SYSTEM_LIB_DIRS !== undefined) {
    return env.TCE_SYSTEM_LIB_DIRS.split(':').filter(Boolean);
  }
  const dirs = [multiarchDir(), '/usr/local/libtorch/lib', '/opt/libtorch/lib', '/usr/local/lib', '/usr/lib'];
  return dirs.filter((d): d is string => d !== null);
}

/** `name.so`, else the shortest `name.so.*` (Debian ships only versioned names without -dev). */
function findLibrary(dir: string, name: string, entries: string[]): string | null {
  if (entries.includes(`${name}.so`)) return path.join(dir, `${name}.so`);
  const versioned = entries.filter((e) => e.startsWith(`${name}.so.`)).sort((a, b) => a.length - b.length);
  return versioned.length > 0 ? path.join(dir, versioned[0]) : null;
}

function readDir(dir: string): string[] | null {
  try {
    return fs.readdirSync(dir);
  } catch {
    return null;
  }
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** A binary's bytes as latin1 text, to search its string tables. */
function readBinary(file: string): string | null {
  try {
    return fs.readFileSync(file).toString('latin1');
  } catch {
    return null;
  }
}

/** The libtorch version of a lib folder, from the files each kind of distribution ships. */
export function detectVersion(libDir: string, entries: string[] = readDir(libDir) ?? []): string | null {
  const buildVersion = readText(path.join(libDir, '..', 'build-version'));
  if (buildVersion?.trim()) return buildVersion.trim();
  const versionPy = readText(path.join(libDir, '..', 'version.py'));
  const fromPy = versionPy?.match(/^__version__\s*=\s*['"]([^'"]+)['"]/m);
  if (fromPy) return fromPy[1];
  for (const cmake of torchConfigFiles(libDir).map((file) => file.replace(/TorchConfig\.cmake$/, 'TorchConfigVersion.cmake'))) {
    const match = readText(cmake)?.match(/set\(PACKAGE_VERSION\s+"([^"]+)"\)/);
    if (match) return match[1];
  }
  const soname = entries.find((e) => /^libtorch_cpu\.so\.\d+\.\d+/.test(e));
  const fromSoname = soname?.match(/^libtorch_cpu\.so\.(\d+\.\d+(?:\.\d+)?)/);
  return fromSoname ? fromSoname[1] : null;
}

/**
 * The CUDA version of a CUDA build: torch/version.py's `cuda`, the "+cu130" of its version, or
 * the libcudart major that libc10_cuda links.
 */
export function detectCudaVersion(libDir: string, version: string | null, libraries: string[]): string | null {
  const versionPy = readText(path.join(libDir, '..', 'version.py'));
  const fromPy = versionPy?.match(/^cuda\s*(?::[^=]*)?=\s*['"]([\d.]+)['"]/m);
  if (fromPy) return fromPy[1];
  const suffix = version?.match(/\+cu(\d+)(\d)$/);
  if (suffix) return `${suffix[1]}.${suffix[2]}`;
  const c10Cuda = libraries.find((file) => path.basename(file).startsWith('libc10_cuda.so'));
  const cudart = c10Cuda ? readBinary(c10Cuda)?.match(/libcudart\.so\.(\d+)/) : null;
  return cudart ? `${cudart[1]}.0` : null;
}

/**
 * The C++ ABI of libtorch: TorchConfig.cmake's TORCH_CXX_FLAGS, else whether libc10 (whose API
 * takes std::string) names libstdc++'s C++11 string, std::__cxx11; null if neither can be read.
 */
export function detectCxx11Abi(libDir: string, libraries: string[]): 0 | 1 | null {
  for (const cmake of torchConfigFiles(libDir)) {
    const flag = readText(cmake)?.match(/_GLIBCXX_USE_CXX11_ABI=([01])/);
    if (flag) return flag[1] === '1' ? 1 : 0;
  }
  const c10 = libraries.find((file) => /^libc10\.so/.test(path.basename(file)));
  const text = c10 ? readBinary(c10) : null;
  if (text === null || !text.startsWith('\x7fELF')) return null;
  return text.includes('St7__cxx11') ? 1 : 0;
}

/** Where a libtorch keeps TorchConfig.cmake: zip and pip layouts, and Debian's. */
export function torchConfigFiles(libDir: string): string[] {
  return [
    path.join(libDir, '..', 'share', 'cmake', 'Torch', 'TorchConfig.cmake'),
    path.join(libDir, 'cmake', 'Torch', 'TorchConfig.cmake'),
  ];
}

/** "2.11.0+cu130" -> "2.11"; the core is built per major.minor. */
export function minorVersion(version: string): string {
  const match = version.match(/^(\d+)\.(\d+)/);
  return match ? `${match[1]}.${match[2]}` : version;
}

/** Accepts a libtorch folder, its lib/ folder, or a torch python package folder. */
function inspect(source: LibtorchSource, given: string): LibtorchLocation | string {
  const candidates = [path.join(given, 'lib'), given];
  for (const dir of candidates) {
    const entries = readDir(dir);
    if (!entries) continue;
    const found = LIBRARY_NAMES.map((name) => [name, findLibrary(dir, name, entries)] as const);
    const missing = found.filter(([name, file]) => REQUIRED.has(name) && !file).map(([name]) => `${name}.so`);
    if (missing.length > 0) continue;
    const version = detectVersion(dir, entries);
    const libraries = found.map(([, file]) => file).filter((f): f is string => f !== null);
    const cudaBuild = found.some(([name, file]) => name === 'libtorch_cuda' && file !== null);
    return {
      source,
      libDir: dir,
      version,
      libraries,
      cudaBuild,
      cudaVersion: cudaBuild ? detectCudaVersion(dir, version, libraries) : null,
      cxx11Abi: detectCxx11Abi(dir, libraries),
    };
  }
  if (!fs.existsSync(given)) return 'does not exist';
  return 'has no libc10.so and libtorch_cpu.so (in it or in its lib/ folder)';
}

type PythonProbe = { dir?: string; problem?: string };

// The torch package folder, found without importing torch (which is slow).
const PYTHON_CODE =
  'import importlib.util\n' +
  's = importlib.util.find_spec("torch")\n' +
  'print(s.submodule_search_locations[0] if s and s.submodule_search_locations else "")';
const PYTHON_TIMEOUT_MS = 15000;

function interpretPython(error: NodeJS.ErrnoException | null | undefined, status: number | null, stdout: string, stderr: string): PythonProbe {
  if (error && typeof error.code === 'string') {
    return { problem: error.code === 'ENOENT' ? 'no python3 on PATH' : `python3 failed: ${error.message}` };
  }
  if (status !== 0) return { problem: `python3 exited with ${status ?? 'a signal'}: ${stderr.trim().split('\n').pop()}` };
  const dir = stdout.trim();
  if (!dir) return { problem: 'python3 on PATH has no torch package' };
  return { dir };
}

/** The torch package folder of `python3` on PATH. */
function pythonTorchDir(env: NodeJS.ProcessEnv): PythonProbe {
  const result = spawnSync('python3', ['-c', PYTHON_CODE], { env, encoding: 'utf8', timeout: PYTHON_TIMEOUT_MS });
  return interpretPython(result.error as NodeJS.ErrnoException | undefined, result.status, result.stdout ?? '', result.stderr ?? '');
}

/** The same without blocking the event loop. */
function pythonTorchDirAsync(env: NodeJS.ProcessEnv): Promise<PythonProbe> {
  return new Promise((resolve) => {
    execFile('python3', ['-c', PYTHON_CODE], { env, encoding: 'utf8', timeout: PYTHON_TIMEOUT_MS }, (error, stdout, stderr) => {
      const failure = error as (NodeJS.ErrnoException & { code?: string | number }) | null;
      // execFile reports a non-zero exit as an error whose code is the exit status.
      const status = failure ? (typeof failure.code === 'number' ? failure.code : null) : 0;
      resolve(interpretPython(failure && typeof failure.code === 'string' ? failure : null, status, stdout, stderr));
    });
  });
}

export class LibtorchNotFoundError extends TceError {
  readonly attempts: LibtorchAttempt[];
  constructor(attempts: LibtorchAttempt[]) {
    const lines = attempts.map((a) => `  - ${a.source}: ${a.where}: ${a.problem}`);
    super(
      'TCE_LIBTORCH_NOT_FOUND',
      'torch-cross-encoder could not find libtorch. Looked in:\n' +
        lines.join('\n') +
        '\nFix one of these:\n' +
        '  - point at a libtorch: set TCE_LIBTORCH=/path/to/libtorch (or pass { libtorch } to CrossEncoder.load)\n' +
        '  - GPU: `pip install torch` so that python3 on PATH has the torch package (it brings CUDA)\n' +
        '  - CPU on Debian/Ubuntu: `apt-get install libtorch-dev`',
    );
    this.name = 'LibtorchNotFoundError';
    this.attempts = attempts;
  }
}

/**
 * Discovery, in the order of the file comment. It pauses (yields) where it needs to ask python3,
 * so that findLibtorch can ask synchronously and findLibtorchAsync without blocking.
 */
function* discovery(options: FindLibtorchOptions): Generator<'python', LibtorchLocation, PythonProbe> {
  const env = options.env ?? process.env;
  const attempts: LibtorchAttempt[] = [];
  const tryPath = (source: LibtorchSource, where: string): LibtorchLocation | null => {
    const result = inspect(source, where);
    if (typeof result !== 'string') return result;
    attempts.push({ source, where, problem: result });
    return null;
  };

  // An explicit choice that is wrong is an error, not a reason to silently run on another one.
  const explicit = options.libtorch
    ? { source: 'option' as const, where: options.libtorch }
    : env.TCE_LIBTORCH || env.LIBTORCH
      ? { source: 'env' as const, where: (env.TCE_LIBTORCH || env.LIBTORCH) as string }
      : null;
  if (explicit) {
    const found = tryPath(explicit.source, path.resolve(explicit.where));
    if (found) return found;
    throw new LibtorchNotFoundError(attempts);
  }
  attempts.push({ source: 'option', where: '{ libtorch }', problem: 'not given' });
  attempts.push({ source: 'env', where: 'TCE_LIBTORCH / LIBTORCH', problem: 'not set' });

  const python = yield 'python';
  if (python.dir) {
    const found = tryPath('python', python.dir);
    if (found) return found;
  } else {
    attempts.push({ source: 'python', where: 'python3 on PATH', problem: python.problem ?? 'unknown' });
  }

  for (const dir of systemLibDirs(env)) {
    const found = tryPath('system', dir);
    if (found) return found;
  }
  throw new LibtorchNotFoundError(attempts);
}

/** Finds libtorch or throws LibtorchNotFoundError listing every place looked at. */
export function findLibtorch(options: FindLibtorchOptions = {}): LibtorchLocation {
  const steps = discovery(options);
  let step = steps.next();
  while (!step.done) step = steps.next(pythonTorchDir(options.env ?? process.env));
  return step.value;
}

/** As findLibtorch, asking python3 without blocking the event loop. */
export async function findLibtorchAsync(options: FindLibtorchOptions = {}): Promise<LibtorchLocation> {
  const steps = discovery(options);
  let step = steps.next();
  while (!step.done) step = steps.next(await pythonTorchDirAsync(options.env ?? process.env));
  return step.value;
}
