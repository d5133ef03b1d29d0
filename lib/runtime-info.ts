/** runtimeInfo(): what this process would run on, for logs and bug reports. */
import fs from 'node:fs';
import path from 'node:path';
import { coreRunsPt2, loadRuntime, type LoadedRuntime } from './core';
import { cpuBf16, type CpuBf16 } from './cpu/features';
import { cpuBudget, defaultCpuThreads } from './cpu/threads';
import type { ModelFormat } from './model-dir';
import type { FindLibtorchOptions, LibtorchSource } from './libtorch';
import { native } from './native';

export interface CudaDeviceInfo {
  index: number;
  name: string;
  /** Bytes (0 when the core was built without CUDA headers). */
  totalMemory?: number;
  /**
   * Bytes free now, from NVML (no CUDA context is created to read it); undefined when NVML is not
   * there to ask or the core was built without CUDA headers.
   */
  freeMemory?: number;
}

export interface RuntimeInfo {
  libtorch: {
    version: string | null;
    path: string;
    source: LibtorchSource;
    cudaBuild: boolean;
    /** The CUDA version of a CUDA build ("13.0"), else null. */
    cudaVersion: string | null;
  };
  /**
   * The torch core loaded for it; flavour 'cpu' or 'cu<CUDA major>'; modelFormats: the model
   * files it runs ('pt2' from libtorch 2.6: docs/EXPORT.md).
   */
  core: { path: string; torchVersion: string; flavour: string; modelFormats: ModelFormat[] };
  cuda: { available: boolean; devices: CudaDeviceInfo[] };
  /** Which device `device: 'auto'` picks, and why. */
  autoDevice: { device: string; note: string };
  /**
   * The libtorch threads a CPU model's forwards use by default (LoadOptions.cpuThreads when not
   * given): the cores of this process's CPU affinity, capped by its cgroup's CPU quota.
   */
  cpuThreads: number;
  /**
   * Where cpuThreads comes from (affinity: CPUs in the affinity mask; cgroupQuota: the cgroup's
   * CPU quota in CPUs, null when none) and the CPU's bf16 matmul support (precision 'auto').
   */
  cpu: { affinity: number; cgroupQuota: number | null; bf16: CpuBf16 };
  /** Problems worth fixing, each with its fix (e.g. a slow BLAS under the system libtorch). */
  warnings: string[];
}

/**
 * Debian's libtorch links libblas.so.3, which the alternatives system points at the reference
 * BLAS unless an optimized one is installed: CPU matmuls then run about 20x slower.
 */
export function blasWarning(libDir: string): string | null {
  let target: string;
  try {
    target = fs.realpathSync(path.join(libDir, 'libblas.so.3'));
  } catch {
    return null; // this libtorch does not use the system BLAS (pip and zip builds bring MKL)
  }
  if (!/\/blas\/libblas\.so/.test(target)) return null;
  return `libtorch's CPU matmuls run on the reference BLAS (${target}), about 20x slower than OpenBLAS: ` +
    'install an optimized one (Debian/Ubuntu: `apt-get install libopenblas0-openmp`).';
}

export function describeRuntime(runtime: LoadedRuntime): RuntimeInfo {
  const devices = native().cudaDevices();
  const budget = cpuBudget();
  const available = devices.length > 0;
  return {
    libtorch: {
      version: runtime.libtorch.version,
      path: runtime.libtorch.libDir,
      source: runtime.libtorch.source,
      cudaBuild: runtime.libtorch.cudaBuild,
      cudaVersion: runtime.libtorch.cudaVersion,
    },
    core: {
      path: runtime.corePath,
      torchVersion: runtime.core.torchVersion,
      flavour: runtime.core.flavour,
      modelFormats: coreRunsPt2(runtime.core.torchVersion) ? ['torchscript', 'pt2'] : ['torchscript'],
    },
    cuda: { available, devices },
    autoDevice: available
      ? { device: 'cuda:0', note: `CUDA is available: ${devices[0].name}` }
      : {
          device: 'cpu',
          note: runtime.libtorch.cudaBuild
            ? 'this libtorch has CUDA kernels but sees no CUDA device (driver missing or CUDA_VISIBLE_DEVICES empty): running on CPU'
            : 'this libtorch is a CPU build: running on CPU (for the GPU, `pip install torch` with CUDA and use its libtorch)',
        },
    cpuThreads: defaultCpuThreads(budget),
    cpu: { affinity: budget.affinity, cgroupQuota: budget.cgroupQuota, bf16: cpuBf16() },
    warnings: [blasWarning(runtime.libtorch.libDir)].filter((w): w is string => w !== null),
  };
}

/**
 * Finds and loads libtorch and the torch core (once per process) and reports what was found.
 * Throws the discovery error, with every place looked at, when there is no usable libtorch.
 */
export function runtimeInfo(options: FindLibtorchOptions = {}): RuntimeInfo {
  return describeRuntime(loadRuntime(options));
}
