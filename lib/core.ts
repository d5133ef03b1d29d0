/**
 * Finds the torch core built for the libtorch that discovery found, refuses one built for another
 * version (before dlopen could fail with an undefined-symbol message), and loads both through the
 * addon. Cores live in cores/<platform>-<arch>-torch-<major.minor>/ with a core.json beside them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { TceError } from './errors';
import { findLibtorch, minorVersion, type FindLibtorchOptions, type LibtorchLocation } from './libtorch';
import { native, packageRoot } from './native';

export interface CoreManifest {
  torchVersion: string;
  cxx11Abi: number;
  cudaHeaders: boolean;
  abi: number;
}

export interface LoadedRuntime {
  libtorch: LibtorchLocation;
  corePath: string;
  core: CoreManifest;
}

export const CORE_FILE = 'libtce_torch.so';

export function coreTag(torchVersion: string): string {
  return `${process.platform}-${process.arch}-torch-${minorVersion(torchVersion)}`;
}

/** Where cores for this platform may be: the package's own builds, then shipped prebuilds. */
export function coreSearchDirs(): string[] {
  return [path.join(packageRoot, 'cores'), path.join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'cores')];
}

function readManifest(corePath: string): CoreManifest | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(path.dirname(corePath), 'core.json'), 'utf8')) as CoreManifest;
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

function buildCommand(libtorch: LibtorchLocation): string {
  return `TCE_LIBTORCH=${libtorch.libDir} npm run build:core (in ${packageRoot})`;
}

/** Picks the core for `libtorch`, or explains which exist and how to build the right one. */
export function resolveCore(libtorch: LibtorchLocation, env: NodeJS.ProcessEnv = process.env): { corePath: string; core: CoreManifest } {
  const where = `libtorch ${libtorch.version ?? '(unknown version)'} at ${libtorch.libDir} (found through ${libtorch.source})`;
  const explicit = env.TCE_CORE;
  const candidates = explicit
    ? [path.resolve(explicit)]
    : libtorch.version
      ? coreSearchDirs().map((dir) => path.join(dir, coreTag(libtorch.version as string), CORE_FILE))
      : availableCores();
  const corePath = candidates.find((c) => fs.existsSync(c));
  if (!corePath) {
    const others = availableCores()
      .map((c) => `${c} (libtorch ${readManifest(c)?.torchVersion ?? '?'})`)
      .join(', ');
    throw new TceError(
      'TCE_CORE_NOT_FOUND',
      `No torch core is built for ${where}.` +
        (explicit ? ` TCE_CORE=${explicit} does not exist.` : '') +
        (others ? ` Cores present: ${others}.` : ' No core is built yet.') +
        ` Build one for this libtorch (needs cmake and a C++ compiler): ${buildCommand(libtorch)}`,
    );
  }
  const core = readManifest(corePath);
  if (!core) {
    throw new TceError('TCE_CORE_NOT_FOUND', `The torch core ${corePath} has no readable core.json beside it. Rebuild it: ${buildCommand(libtorch)}`);
  }
  if (libtorch.version && minorVersion(core.torchVersion) !== minorVersion(libtorch.version)) {
    throw new TceError(
      'TCE_CORE_VERSION_MISMATCH',
      `The torch core ${corePath} was built for libtorch ${core.torchVersion}, but the libtorch found is ${where}. ` +
        `libtorch's C++ ABI changes between minor versions, so the core must be built for ${minorVersion(libtorch.version)}: ` +
        buildCommand(libtorch),
    );
  }
  return { corePath, core };
}

let runtime: LoadedRuntime | undefined;

/** Finds libtorch and its core and loads them into this process (once). */
export function loadRuntime(options: FindLibtorchOptions = {}): LoadedRuntime {
  if (runtime) {
    if (options.libtorch && path.resolve(options.libtorch) !== runtime.libtorch.libDir &&
        path.resolve(options.libtorch, 'lib') !== runtime.libtorch.libDir) {
      throw new TceError(
        'TCE_CORE_LOAD_FAILED',
        `libtorch is already loaded from ${runtime.libtorch.libDir}; one process can hold only one libtorch, so { libtorch: '${options.libtorch}' } cannot be used as well.`,
      );
    }
    return runtime;
  }
  const libtorch = findLibtorch(options);
  const { corePath, core } = resolveCore(libtorch, options.env);
  try {
    native().loadCore(libtorch.libraries, corePath);
  } catch (error) {
    throw new TceError(
      'TCE_CORE_LOAD_FAILED',
      `${(error as Error).message}\n(libtorch ${libtorch.version ?? '?'} from ${libtorch.source}: ${libtorch.libDir}; ` +
        `if the libraries themselves fail to load, point TCE_LIBTORCH at a complete libtorch or reinstall it.)`,
      { cause: error },
    );
  }
  runtime = { libtorch, corePath, core };
  if (isMainThread) {
    // process.exit() (or the end of the script) runs libtorch's static destructors while model
    // threads may be inside a forward; 'exit' fires first, so park them there.
    process.once('exit', () => native().quiesce());
  }
  return runtime;
}

export function loadedRuntime(): LoadedRuntime | undefined {
  return runtime;
}
