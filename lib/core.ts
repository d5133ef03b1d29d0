/**
 * Finds the torch core built for the libtorch that discovery found, refuses one built for another
 * version (before dlopen could fail with an undefined-symbol message), and loads both through the
 * addon. Cores live in cores/<platform>-<arch>-torch-<major.minor>/ with a core.json beside them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { TceError } from './errors';
import { findLibtorch, findLibtorchAsync, minorVersion, type FindLibtorchOptions, type LibtorchLocation } from './libtorch';
import { native, packageRoot } from './native';

/** core.json, written beside each core by its build (native/core/cmake/torch_checks.cmake). */
export interface CoreManifest {
  torchVersion: string;
  /** 'cpu', or 'cu13' for a core built against a CUDA 13 libtorch. */
  flavour: string;
  cxx11Abi: number;
  /** TCE_CORE_ABI of the C API the core implements. */
  abi: number;
}

export interface LoadedRuntime {
  libtorch: LibtorchLocation;
  corePath: string;
  core: CoreManifest;
}

export const CORE_FILE = 'libtce_torch.so';

/** 'cpu' or 'cu<CUDA major>': what a core must be built for besides the libtorch version. */
export function libtorchFlavour(libtorch: Pick<LibtorchLocation, 'cudaBuild' | 'cudaVersion'>): string {
  if (!libtorch.cudaBuild) return 'cpu';
  return `cu${libtorch.cudaVersion?.split('.')[0] ?? ''}`;
}

/**
 * The folder name of the core for a libtorch: platform, libtorch major.minor, flavour and C++ ABI,
 * e.g. linux-x64-torch-2.14-cu13-cxx11. Cores of one torch minor for CPU and CUDA never collide.
 */
export function coreTag(libtorch: Pick<LibtorchLocation, 'version' | 'cudaBuild' | 'cudaVersion' | 'cxx11Abi'>): string {
  const abi = libtorch.cxx11Abi === 0 ? 'cxx03' : 'cxx11';
  return `${process.platform}-${process.arch}-torch-${minorVersion(libtorch.version ?? '?')}-${libtorchFlavour(libtorch)}-${abi}`;
}

/** Where cores for this platform may be: the package's own builds, then shipped prebuilds. */
export function coreSearchDirs(): string[] {
  return [path.join(packageRoot, 'cores'), path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'cores')];
}

function readManifest(corePath: string): CoreManifest | null {
  try {
    const value = JSON.parse(fs.readFileSync(path.join(path.dirname(corePath), 'core.json'), 'utf8')) as Partial<CoreManifest>;
    const complete = typeof value.torchVersion === 'string' && typeof value.flavour === 'string' &&
      typeof value.cxx11Abi === 'number' && typeof value.abi === 'number';
    return complete ? (value as CoreManifest) : null;
  } catch {
    return null;
  }
}

function availableCores(): string[] {
  const found: string[] = [];
  for (const dir of coreSearchDirs()) {
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (fs.existsSync(path.join(dir, entry, CORE_FILE))) found.push(path.join(dir, entry, CORE_FILE));
    }
  }
  return found;
}

/** The one command that builds the missing core, from a project that installed the package. */
function buildCommand(libtorch: LibtorchLocation): string {
  return `npx torch-cross-encoder build-core --libtorch ${libtorch.libDir} ` +
    `(or, in ${packageRoot}: TCE_LIBTORCH=${libtorch.libDir} npm run build:core)`;
}

function describeCore(core: CoreManifest): string {
  return `libtorch ${core.torchVersion} ${core.flavour}, ${core.cxx11Abi ? 'C++11' : 'pre-C++11'} ABI`;
}

/**
 * What keeps `core` from running on `libtorch`, one item each, or an empty list. The libtorch's
 * C++ ABI changes between minor versions; a CUDA core needs a CUDA libtorch of its major version
 * (and a CPU core would not use the GPU); libstdc++'s two string ABIs do not link; and the
 * core's C API (TCE_CORE_ABI) must be the one the addon speaks.
 */
export function coreMismatches(core: CoreManifest, libtorch: LibtorchLocation, addonAbi: number): string[] {
  const problems: string[] = [];
  if (libtorch.version && minorVersion(core.torchVersion) !== minorVersion(libtorch.version)) {
    problems.push(`it was built for libtorch ${minorVersion(core.torchVersion)}, this libtorch is ${minorVersion(libtorch.version)}`);
  }
  const flavour = libtorchFlavour(libtorch);
  // A CUDA libtorch of unknown CUDA version ('cu') accepts any CUDA core.
  if (core.flavour !== flavour && !(flavour === 'cu' && core.flavour.startsWith('cu'))) {
    problems.push(`it was built for a ${core.flavour === 'cpu' ? 'CPU' : `CUDA ${core.flavour.slice(2)}`} libtorch, this one is ` +
      (flavour === 'cpu' ? 'a CPU build' : `a CUDA ${libtorch.cudaVersion ?? ''} build`));
  }
  if (libtorch.cxx11Abi !== null && core.cxx11Abi !== libtorch.cxx11Abi) {
    problems.push(`it was built with _GLIBCXX_USE_CXX11_ABI=${core.cxx11Abi}, this libtorch with ${libtorch.cxx11Abi}`);
  }
  if (core.abi !== addonAbi) {
    problems.push(`it implements core API ${core.abi}, this package's addon speaks ${addonAbi} (the core comes from another version of torch-cross-encoder)`);
  }
  return problems;
}

/** Picks the core for `libtorch`, or explains which exist and how to build the right one. */
export function resolveCore(libtorch: LibtorchLocation, env: NodeJS.ProcessEnv = process.env): { corePath: string; core: CoreManifest } {
  const flavour = libtorch.cudaBuild ? `CUDA ${libtorch.cudaVersion ?? '(unknown version)'}` : 'CPU';
  const where = `libtorch ${libtorch.version ?? '(unknown version)'} (${flavour}) at ${libtorch.libDir} (found through ${libtorch.source})`;
  const explicit = env.TCE_CORE;
  const candidates = explicit
    ? [path.resolve(explicit)]
    : libtorch.version
      ? coreSearchDirs().map((dir) => path.join(dir, coreTag(libtorch), CORE_FILE))
      : availableCores();
  const corePath = candidates.find((c) => fs.existsSync(c));
  if (!corePath) {
    const others = availableCores()
      .map((c) => {
        const manifest = readManifest(c);
        return `${c} (${manifest ? describeCore(manifest) : 'no readable core.json'})`;
      })
      .join(', ');
    throw new TceError(
      'TCE_CORE_NOT_FOUND',
      `No torch core is built for ${where}: looked for ${coreTag(libtorch)}.` +
        (explicit ? ` TCE_CORE=${explicit} does not exist.` : '') +
        (others ? ` Cores present: ${others}.` : ' No core is built yet.') +
        ` Build one for this libtorch (needs cmake and a C++ compiler${libtorch.cudaBuild ? ', and the CUDA toolkit' : ''}): ${buildCommand(libtorch)}`,
    );
  }
  const core = readManifest(corePath);
  if (!core) {
    throw new TceError('TCE_CORE_NOT_FOUND', `The torch core ${corePath} has no readable core.json beside it. Rebuild it: ${buildCommand(libtorch)}`);
  }
  const problems = coreMismatches(core, libtorch, native().coreAbi);
  if (problems.length > 0) {
    throw new TceError(
      'TCE_CORE_VERSION_MISMATCH',
      `The torch core ${corePath} (${describeCore(core)}) cannot run on ${where}:\n  - ${problems.join('\n  - ')}\n` +
        `Build a core for this libtorch: ${buildCommand(libtorch)}`,
    );
  }
  return { corePath, core };
}

let runtime: LoadedRuntime | undefined;
let loading: Promise<LoadedRuntime> | undefined;

/** The loaded runtime, after checking that `options` does not ask for another libtorch. */
function alreadyLoaded(options: FindLibtorchOptions): LoadedRuntime | undefined {
  if (!runtime) return undefined;
  if (options.libtorch && path.resolve(options.libtorch) !== runtime.libtorch.libDir &&
      path.resolve(options.libtorch, 'lib') !== runtime.libtorch.libDir) {
    throw new TceError(
      'TCE_CORE_LOAD_FAILED',
      `libtorch is already loaded from ${runtime.libtorch.libDir}; one process can hold only one libtorch, so { libtorch: '${options.libtorch}' } cannot be used as well.`,
    );
  }
  return runtime;
}

function loadFailure(libtorch: LibtorchLocation, error: unknown): TceError {
  return new TceError(
    'TCE_CORE_LOAD_FAILED',
    `${(error as Error).message}\n(libtorch ${libtorch.version ?? '?'} from ${libtorch.source}: ${libtorch.libDir}; ` +
      `if the libraries themselves fail to load, point TCE_LIBTORCH at a complete libtorch or reinstall it.)`,
    { cause: error },
  );
}

function loaded(libtorch: LibtorchLocation, corePath: string, core: CoreManifest): LoadedRuntime {
  // A synchronous load (runtimeInfo()) may have finished while an asynchronous one was running:
  // the native loader took the same libraries once; keep the first record and its exit hook.
  if (runtime) return runtime;
  runtime = { libtorch, corePath, core };
  if (isMainThread) {
    // process.exit() (or the end of the script) runs libtorch's static destructors while model
    // threads may be inside a forward; 'exit' fires first, so park them there.
    process.once('exit', () => native().quiesce());
  }
  return runtime;
}

/** The runtime this process loaded (loadRuntime / loadRuntimeAsync), or undefined before. */
export function loadedRuntime(): LoadedRuntime | undefined {
  return runtime;
}

/**
 * The first libtorch whose cores run AOTInductor packages (model.pt2): its
 * torch::inductor::AOTIModelPackageLoader. Older cores are built without it and refuse a package
 * (native/core/aoti_runner.cc says the same).
 */
export const PT2_MIN_LIBTORCH = '2.6';

/** Whether a core built for libtorch `torchVersion` runs model.pt2 packages. */
export function coreRunsPt2(torchVersion: string): boolean {
  const [major, minor] = torchVersion.split('.').map(Number);
  const [wantMajor, wantMinor] = PT2_MIN_LIBTORCH.split('.').map(Number);
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}

/** Finds libtorch and its core and loads them into this process (once), on this thread. */
export function loadRuntime(options: FindLibtorchOptions = {}): LoadedRuntime {
  const existing = alreadyLoaded(options);
  if (existing) return existing;
  const libtorch = findLibtorch(options);
  const { corePath, core } = resolveCore(libtorch, options.env);
  try {
    native().loadCore(libtorch.libraries, corePath);
  } catch (error) {
    throw loadFailure(libtorch, error);
  }
  return loaded(libtorch, corePath, core);
}

/**
 * As loadRuntime, without holding the event loop: discovery asks python3 asynchronously and the
 * libraries are loaded on a worker thread. Concurrent callers share one load.
 */
export async function loadRuntimeAsync(options: FindLibtorchOptions = {}): Promise<LoadedRuntime> {
  const existing = alreadyLoaded(options);
  if (existing) return existing;
  if (!loading) {
    loading = (async () => {
      const libtorch = await findLibtorchAsync(options);
      const { corePath, core } = resolveCore(libtorch, options.env);
      try {
        await native().loadCoreAsync(libtorch.libraries, corePath);
      } catch (error) {
        throw loadFailure(libtorch, error);
      }
      return loaded(libtorch, corePath, core);
    })().finally(() => {
      loading = undefined;
    });
  }
  await loading;
  // A concurrent caller may have asked for another libtorch than the one that was loaded.
  return alreadyLoaded(options) as LoadedRuntime;
}
